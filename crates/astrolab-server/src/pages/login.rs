//! Logging in and out from a browser: the password form, OpenID Connect,
//! the logout button.
//!
//! The login form has no session to carry a CSRF token, so it uses a
//! double-submit cookie: `GET /login` sets a random value in an HttpOnly
//! cookie and in a hidden field; the post must bring both, equal. A site
//! that cannot read our cookies cannot forge the field (login CSRF: being
//! logged in as the attacker).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;

use super::{error_page, escape, layout, redirect, url_encode, PageUser, Source};
use crate::auth::oidc::{self, PendingLogin, OIDC_COOKIE, OIDC_COOKIE_MAX_AGE_S};
use crate::auth::{cookie, login as authlogin, secrets, set_cookie, MaybeAuthed, Via};
use crate::error::ApiError;
use crate::state::AppState;

/// Cookie holding the login form's double-submit token.
pub const LOGIN_CSRF_COOKIE: &str = "astrolab_login_csrf";

/// Where to go after logging in: a local path starting with a single `/`
/// (no `//host` or `/\host`, which browsers treat as other sites, and no
/// control characters); `/` otherwise.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 2000
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

fn add_cookie(r: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The login page with a fresh double-submit token (set in a cookie on
/// the response), an optional message and status.
fn login_page(
    s: &AppState,
    next: &str,
    username: &str,
    message: Option<&str>,
    status: StatusCode,
) -> Response {
    let token = secrets::random_hex(32);
    let msg = message
        .map(|m| {
            format!(
                r#"<p class="error" role="alert" id="login-error">{}</p>"#,
                escape(m)
            )
        })
        .unwrap_or_default();
    let described = if message.is_some() {
        r#" aria-describedby="login-error""#
    } else {
        ""
    };
    let oidc = if s.config.oidc.is_some() {
        format!(
            r#"<p class="or">or</p><p><a class="button" href="/auth/oidc/login?next={}">Log in with your organisation</a></p>"#,
            escape(&url_encode(next))
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<section class="card narrow">{msg}
<form method="post" action="/login" class="stack"{described}>
<input type="hidden" name="csrf" value="{token}">
<input type="hidden" name="next" value="{next}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required value="{username}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Log in</button>
</form>{oidc}</section>"#,
        next = escape(next),
        username = escape(username),
    );
    let mut r = layout("Log in", None, "", &body);
    *r.status_mut() = status;
    // SameSite=Strict: the token is only ever needed by our own form.
    let c = set_cookie(LOGIN_CSRF_COOKIE, &token, 3600, s.config.secure_cookies)
        .replace("SameSite=Lax", "SameSite=Strict");
    add_cookie(&mut r, &c);
    r
}

/// `GET /login?next=`: the form (or straight on when already logged in).
pub async fn login_form(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let next = safe_next(q.get("next").map(String::as_str));
    if who.is_some_and(|p| matches!(p.via, Via::Session { .. })) {
        return redirect(&next);
    }
    login_page(&s, &next, "", None, StatusCode::OK)
}

/// `POST /login`: checks the double-submit token, then the password
/// (throttled and audited by `auth::login::password_login`); on success
/// sets the session cookie and goes to `next`.
pub async fn login_submit(
    State(s): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let next = safe_next(f.get("next").map(String::as_str));
    let username = f.get("username").map(|u| u.trim()).unwrap_or("");
    let sent = f.get("csrf").map(String::as_str).unwrap_or("");
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !secrets::constant_time_eq(&expected, sent) {
        return login_page(
            &s,
            &next,
            username,
            Some("The form expired or came from another site; please log in again."),
            StatusCode::FORBIDDEN,
        );
    }
    let password = f.get("password").map(String::as_str).unwrap_or("");
    if username.is_empty() || password.is_empty() {
        return login_page(
            &s,
            &next,
            username,
            Some("Enter your username and password."),
            StatusCode::BAD_REQUEST,
        );
    }
    match authlogin::password_login(&s, username, password, &source).await {
        Ok(done) => {
            let mut r = redirect(&next);
            add_cookie(&mut r, &done.set_cookie);
            add_cookie(
                &mut r,
                &set_cookie(LOGIN_CSRF_COOKIE, "", 0, s.config.secure_cookies),
            );
            r
        }
        Err(e) => login_page(&s, &next, username, Some(&e.message), e.status),
    }
}

/// `POST /logout`: ends the session (CSRF field checked: a third-party
/// page must not log people out).
pub async fn logout(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = super::check_csrf(&p, &f) {
        return r;
    }
    let Via::Session { hash, .. } = &p.via else {
        return redirect("/login");
    };
    match authlogin::logout(&s, hash.clone(), p.actor(), p.source.clone()).await {
        Ok(clear) => {
            let mut r = redirect("/login");
            add_cookie(&mut r, &clear);
            r
        }
        Err(e) => error_page(&p, &e),
    }
}

fn oidc_error(e: &ApiError) -> Response {
    let body = format!(
        r#"<p class="error" role="alert">{}</p><p><a href="/login">Back to the login page</a></p>"#,
        escape(&e.message)
    );
    let mut r = layout("Login failed", None, "", &body);
    *r.status_mut() = e.status;
    r
}

/// `GET /auth/oidc/login?next=`: sends the browser to the provider, with
/// `state`, `nonce` and the PKCE verifier remembered in a short-lived
/// cookie (why that is safe: `auth::oidc`).
pub async fn oidc_start(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(cfg) = s.config.oidc.clone() else {
        return oidc_error(&ApiError::not_found(
            "OpenID Connect is not configured on this server",
        ));
    };
    let pending = PendingLogin::new(&safe_next(q.get("next").map(String::as_str)));
    let p = pending.clone();
    let url = match tokio::task::spawn_blocking(move || oidc::authorize_url(&cfg, &p)).await {
        Ok(Ok(u)) => u,
        Ok(Err(e)) => return oidc_error(&e),
        Err(e) => return oidc_error(&ApiError::internal(e)),
    };
    let mut r = StatusCode::SEE_OTHER.into_response();
    match HeaderValue::from_str(&url) {
        Ok(v) => {
            r.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => {
            return oidc_error(&ApiError::unavailable(
                "the provider's authorization URL is not a valid header",
            ))
        }
    }
    add_cookie(
        &mut r,
        &set_cookie(
            OIDC_COOKIE,
            &pending.cookie_value(),
            OIDC_COOKIE_MAX_AGE_S,
            s.config.secure_cookies,
        ),
    );
    r
}

/// `GET /auth/oidc/callback?code=&state=`: checks `state`, redeems the
/// code with the PKCE verifier, verifies the ID token (signature against
/// the provider's keys, issuer, audience, expiry, nonce), then logs the
/// account in (creating it with the role its claims map to). The pending
/// login's cookie is cleared whatever the outcome: one try per login.
pub async fn oidc_callback(
    State(s): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut r = oidc_finish(&s, &source, &headers, &q).await;
    add_cookie(
        &mut r,
        &set_cookie(OIDC_COOKIE, "", 0, s.config.secure_cookies),
    );
    r
}

async fn oidc_finish(
    s: &AppState,
    source: &str,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
) -> Response {
    let Some(cfg) = s.config.oidc.clone() else {
        return oidc_error(&ApiError::not_found(
            "OpenID Connect is not configured on this server",
        ));
    };
    if let Some(err) = q.get("error") {
        let why = q.get("error_description").unwrap_or(err);
        return oidc_error(&ApiError::unauthorized(format!(
            "the provider refused the login: {why}"
        )));
    }
    let Some(pending) = cookie(headers, OIDC_COOKIE)
        .as_deref()
        .and_then(PendingLogin::from_cookie)
    else {
        return oidc_error(&ApiError::unauthorized(
            "the login took too long or cookies are blocked; try again",
        ));
    };
    let sent_state = q.get("state").map(String::as_str).unwrap_or("");
    if !secrets::constant_time_eq(&pending.state, sent_state) {
        authlogin::oidc_failed(s, source, "state mismatch").await;
        return oidc_error(&ApiError::unauthorized("login state mismatch; try again"));
    }
    let Some(code) = q.get("code").cloned().filter(|c| !c.is_empty()) else {
        return oidc_error(&ApiError::bad_request("code", "the provider sent no code"));
    };
    let p = pending.clone();
    let id = tokio::task::spawn_blocking(move || oidc::exchange(&cfg, &p, &code)).await;
    let id = match id {
        Ok(Ok(id)) => id,
        Ok(Err(e)) => {
            authlogin::oidc_failed(s, source, &e.message).await;
            return oidc_error(&e);
        }
        Err(e) => return oidc_error(&ApiError::internal(e)),
    };
    match authlogin::oidc_login(s, id, source).await {
        Ok(done) => {
            let mut r = redirect(&safe_next(Some(&pending.next)));
            add_cookie(&mut r, &done.set_cookie);
            r
        }
        Err(e) => oidc_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_must_be_a_local_path() {
        assert_eq!(safe_next(Some("/catalog?ra=1")), "/catalog?ra=1");
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "",
            "/a\r\nSet-Cookie: x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
