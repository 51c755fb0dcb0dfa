//! The web pages of `astrolab serve`: server-rendered HTML, no front-end
//! framework and nothing from other sites. One stylesheet and one small
//! script (`/static/app.css`, `/static/app.js`) are compiled into the
//! binary; the content policy (`default-src 'self'`) forbids inline
//! scripts and styles, so the pages carry neither.
//!
//! * Every page needs a logged-in session (or `server.public_read`, which
//!   makes anonymous visitors viewers); otherwise it redirects to
//!   `/login?next=PATH`.
//! * Pages read data through the same functions as the JSON API
//!   (`api::catalog::run_cone`, the science and admin handlers), so a
//!   viewer sees exactly what the API would give them: restricted
//!   datasets never reach a page either.
//! * Every state-changing form carries the session's CSRF token in a
//!   hidden `csrf` field, checked with [`Principal::verify_form_csrf`]
//!   (403 without or with a wrong one). The login form, which has no
//!   session yet, uses a double-submit cookie instead.
//! * Every value that reaches HTML goes through [`escape`].

// Page handlers answer `Result<Response, Response>`: the error side is the
// error page itself, built once and returned as is, so boxing it would
// only add an allocation to every refusal.
#![allow(clippy::result_large_err)]

mod account;
mod anomalies;
mod data;
mod login;
mod runs;
mod science;
mod svg;

use astrolab_store::Role;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::auth::{self, Principal, Via};
use crate::error::ApiError;
use crate::state::AppState;

pub use login::{safe_next, LOGIN_CSRF_COOKIE};

/// The page routes (merged into the application by `lib.rs`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(static_css))
        .route("/static/app.js", get(static_js))
        .route("/login", get(login::login_form).post(login::login_submit))
        .route("/logout", post(login::logout))
        .route("/auth/oidc/login", get(login::oidc_start))
        .route("/auth/oidc/callback", get(login::oidc_callback))
        .route("/", get(data::dashboard))
        .route("/catalog", get(data::catalog))
        .route("/spectra", get(science::spectra_form))
        .route("/spectra/{targetid}", get(science::spectrum))
        .route("/voids", get(science::voids))
        .route("/anomalies", get(anomalies::list))
        .route("/anomalies/{targetid}", get(anomalies::one))
        .route("/anomalies/{targetid}/label", post(anomalies::label))
        .route("/hline", get(science::hline))
        .route("/runs", get(runs::list).post(runs::submit))
        .route("/runs/{id}", get(runs::one))
        .route("/runs/{id}/cancel", post(runs::cancel))
        .route("/account", get(account::account))
        .route("/account/tokens", post(account::create_token))
        .route(
            "/account/tokens/{prefix}/revoke",
            post(account::revoke_token),
        )
        .route("/admin", get(account::admin))
        .route("/admin/users", post(account::add_user))
        .route("/admin/users/{name}", post(account::change_user))
}

/// Escapes text for HTML element content and attribute values (always
/// quote attributes with `"`). Every value a page shows goes through here.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query-string value.
pub fn url_encode(s: &str) -> String {
    auth::oidc::percent_encode(s)
}

const APP_CSS: &str = include_str!("../../static/app.css");
const APP_JS: &str = include_str!("../../static/app.js");

async fn static_css() -> Response {
    static_file(APP_CSS, "text/css; charset=utf-8")
}

async fn static_js() -> Response {
    static_file(APP_JS, "text/javascript; charset=utf-8")
}

fn static_file(body: &'static str, ctype: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ctype),
            // The files change only with the binary; an hour keeps a
            // deployment's new version visible the same day.
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// The caller of a page: a session, or an anonymous viewer where
/// `server.public_read` allows. Without either the page answers a
/// redirect to the login page that comes back here afterwards.
pub struct PageUser(pub Principal);

impl FromRequestParts<AppState> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // An expired or invalid session is "not logged in" for a page.
        match auth::resolve(parts, state).await.unwrap_or(None) {
            Some(p) => Ok(PageUser(p)),
            None if state.config.public_read => Ok(PageUser(Principal {
                user: None,
                role: Role::Viewer,
                projects: Vec::new(),
                via: Via::Anonymous,
                source: auth::source_addr(parts, &state.config.trusted_proxies),
            })),
            None => {
                let here = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                Err(redirect(&format!("/login?next={}", url_encode(here))))
            }
        }
    }
}

/// The client's address (the socket peer or, behind a trusted proxy, the
/// forwarded one), for the audit trail.
pub struct Source(pub String);

impl FromRequestParts<AppState> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Source(auth::source_addr(
            parts,
            &state.config.trusted_proxies,
        )))
    }
}

/// `303 See Other` to a local path (after a form post, so a reload does
/// not post again).
pub fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// What a page handler answers: the page, or an error page.
pub type PageResult = Result<Response, Response>;

/// The caller must have at least `role` (403 page otherwise).
pub fn need(p: &Principal, role: Role) -> Result<(), Response> {
    if p.role >= role {
        Ok(())
    } else {
        Err(error_page(
            p,
            &ApiError::forbidden(format!(
                "this page needs the {} role; yours is {}",
                role.as_str(),
                p.role.as_str()
            )),
        ))
    }
}

/// The caller must be logged in (anonymous viewers are sent to log in).
pub fn need_login(p: &Principal, here: &str) -> Result<(), Response> {
    if p.user.is_some() {
        Ok(())
    } else {
        Err(redirect(&format!("/login?next={}", url_encode(here))))
    }
}

/// Checks a form's CSRF field (403 page when missing or wrong).
pub fn check_csrf(
    p: &Principal,
    form: &std::collections::HashMap<String, String>,
) -> Result<(), Response> {
    p.verify_form_csrf(form.get("csrf").map(String::as_str).unwrap_or(""))
        .map_err(|e| error_page(p, &e))
}

/// The hidden field every form of a session carries.
pub fn csrf_field(p: &Principal) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        escape(p.csrf())
    )
}

/// An error as a page with the error's status.
pub fn error_page(p: &Principal, e: &ApiError) -> Response {
    let title = match e.status.as_u16() {
        400 => "Bad request",
        401 => "Log in required",
        403 => "Not allowed",
        404 => "Not found",
        413 => "Too large",
        429 => "Too many attempts",
        503 => "Unavailable",
        _ => "Error",
    };
    let mut body = format!(
        r#"<p class="error" role="alert">{}</p>"#,
        escape(&e.message)
    );
    if let Some(f) = &e.field {
        body += &format!(r#"<p>Field: <code>{}</code></p>"#, escape(f));
    }
    body += r#"<p><a href="/">Back to the dashboard</a></p>"#;
    let mut r = layout(title, Some(p), "", &body);
    *r.status_mut() = e.status;
    r
}

/// Maps an API error to its page.
pub fn or_page<T>(p: &Principal, r: Result<T, ApiError>) -> Result<T, Response> {
    r.map_err(|e| error_page(p, &e))
}

const NAV: &[(&str, &str, Role)] = &[
    ("/", "Dashboard", Role::Viewer),
    ("/catalog", "Catalog", Role::Viewer),
    ("/spectra", "Spectra", Role::Viewer),
    ("/voids", "Voids", Role::Viewer),
    ("/anomalies", "Anomalies", Role::Viewer),
    ("/hline", "Hydrogen line", Role::Viewer),
    ("/runs", "Runs", Role::Viewer),
    ("/account", "Account", Role::Viewer),
    ("/admin", "Admin", Role::Admin),
];

/// The page around a body: head, skip link, navigation, the caller and
/// the logout button. `active` is the navigation entry of this page.
pub fn layout(title: &str, p: Option<&Principal>, active: &str, body: &str) -> Response {
    let mut nav = String::new();
    if let Some(p) = p {
        nav += r#"<nav aria-label="Main"><ul>"#;
        for (href, label, role) in NAV {
            if p.role < *role || (*href == "/account" && p.user.is_none()) {
                continue;
            }
            let current = if *href == active {
                r#" aria-current="page""#
            } else {
                ""
            };
            nav += &format!(r#"<li><a href="{href}"{current}>{label}</a></li>"#);
        }
        nav += "</ul></nav>";
        match &p.user {
            Some(u) => {
                nav += &format!(
                    r#"<div class="who"><span>{} <span class="role">({})</span></span><form method="post" action="/logout">{}<button type="submit" class="link">Log out</button></form></div>"#,
                    escape(&u.username),
                    escape(p.role.as_str()),
                    csrf_field(p)
                );
            }
            None => nav += r#"<div class="who"><a href="/login">Log in</a></div>"#,
        }
    }
    let html = format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · astrolab</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="/">astrolab</a>{nav}</header>
<main id="main" tabindex="-1">
<h1>{title}</h1>
{body}
</main>
<footer><p>astrolab {version}</p></footer>
</body>
</html>
"##,
        title = escape(title),
        version = crate::VERSION,
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Pages show account data: never from a shared cache.
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// Bytes for people (binary units).
pub fn human_bytes(n: i64) -> String {
    const U: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut x = n.max(0) as f64;
    let mut i = 0;
    while x >= 1024.0 && i + 1 < U.len() {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", U[i])
    }
}

/// A number with thousands separators.
pub fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A float for a table cell: enough digits, no noise.
pub fn fmt_f64(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e7).contains(&a) {
        format!("{x:.4e}")
    } else {
        let s = format!("{x:.6}");
        let s = s.trim_end_matches('0');
        s.trim_end_matches('.').to_string()
    }
}

/// A store value for a table cell (escaped).
pub fn cell(v: &astrolab_store::Value) -> String {
    match v {
        astrolab_store::Value::Null => String::new(),
        astrolab_store::Value::Float(x) => fmt_f64(*x),
        other => escape(&other.to_string()),
    }
}

/// Milliseconds since 1970 as a short UTC time.
pub fn when_ms(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => crate::clock::ms_to_rfc3339(ms).replace('T', " "),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_html_and_attributes() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("Lyα ok"), "Lyα ok");
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-1000), "-1,000");
        assert_eq!(thousands(12), "12");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(fmt_f64(0.5), "0.5");
        assert_eq!(fmt_f64(150.123456789), "150.123457");
        assert_eq!(fmt_f64(2.0), "2");
        assert_eq!(fmt_f64(1.5e-5), "1.5000e-5");
    }
}
