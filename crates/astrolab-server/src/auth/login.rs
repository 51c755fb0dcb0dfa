//! Logging in and out: password checks with throttling, OIDC accounts,
//! sessions. Every attempt, failed or not, goes to the audit trail.

use astrolab_store::{NewSession, NewUser, User};
use serde_json::json;

use crate::audit::Event;
use crate::auth::oidc::{role_from_claims, Identity};
use crate::auth::secrets;
use crate::auth::{set_cookie, SESSION_COOKIE};
use crate::clock::now_unix;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A new session: the `Set-Cookie` value and the account.
pub struct LoggedIn {
    /// Value for the `Set-Cookie` header.
    pub set_cookie: String,
    /// Who logged in.
    pub user: User,
}

async fn audit_login(
    state: &AppState,
    actor: &str,
    source: &str,
    method: &str,
    outcome: &'static str,
    why: &str,
) {
    state
        .audit
        .record(
            &state.pool,
            Event {
                actor: actor.to_string(),
                source: source.to_string(),
                action: "login",
                target: actor.to_string(),
                outcome,
                details: json!({ "method": method, "reason": why }),
            },
        )
        .await;
}

/// Opens a session for a user (after a successful check).
pub async fn open_session(state: &AppState, user: User, source: &str) -> ApiResult<LoggedIn> {
    let sid = secrets::random_hex(32);
    let now = now_unix();
    let session = NewSession {
        session_hash: secrets::sha256_hex(&sid),
        user_id: user.user_id,
        csrf_token: secrets::random_hex(32),
        created_at_unix: now,
        expires_at_unix: now + state.config.session_s,
        source: source.to_string(),
    };
    state
        .pool
        .run(move |s| {
            s.delete_expired_sessions(now)?;
            Ok(s.create_session(&session)?)
        })
        .await?;
    Ok(LoggedIn {
        set_cookie: set_cookie(
            SESSION_COOKIE,
            &sid,
            state.config.session_s,
            state.config.secure_cookies,
        ),
        user,
    })
}

/// Checks a username and password; throttled per address and per user.
pub async fn password_login(
    state: &AppState,
    username: &str,
    password: &str,
    source: &str,
) -> ApiResult<LoggedIn> {
    if !state.limiter.allowed(source, username) {
        audit_login(
            state,
            username,
            source,
            "password",
            "denied",
            "rate limited",
        )
        .await;
        return Err(ApiError::too_many(
            "too many failed logins; wait 15 minutes",
        ));
    }
    let name = username.to_string();
    let pw = password.to_string();
    // argon2 is deliberately slow: run it off the async threads.
    let checked = state
        .pool
        .run(move |s| {
            let found = s.user_by_name(&name)?;
            Ok(match found {
                Some((user, Some(hash))) if !user.disabled => {
                    if secrets::verify_password(&pw, &hash) {
                        Ok(user)
                    } else {
                        Err("wrong password")
                    }
                }
                Some((user, _)) if user.disabled => {
                    secrets::burn_password_check(&pw);
                    Err("account disabled")
                }
                Some(_) => {
                    secrets::burn_password_check(&pw);
                    Err("account has no password (OIDC only)")
                }
                None => {
                    secrets::burn_password_check(&pw);
                    Err("no such user")
                }
            })
        })
        .await?;
    match checked {
        Ok(user) => {
            state.limiter.succeeded(username);
            audit_login(state, username, source, "password", "ok", "").await;
            open_session(state, user, source).await
        }
        Err(why) => {
            state.limiter.failed(source, username);
            audit_login(state, username, source, "password", "failed", why).await;
            // One message for every failure: no account enumeration.
            Err(ApiError::unauthorized("wrong username or password"))
        }
    }
}

/// Finds or creates the account of an OIDC identity, then opens a
/// session. New accounts get the role their claims map to.
pub async fn oidc_login(state: &AppState, id: Identity, source: &str) -> ApiResult<LoggedIn> {
    let role = role_from_claims(&id.claims, &state.config.oidc_role_claims);
    let ident = id.clone();
    let user = state
        .pool
        .run(move |s| {
            if let Some(u) = s.user_by_oidc_subject(&ident.subject)? {
                return Ok(u);
            }
            // A local account may already hold the name: suffix, never merge.
            let mut name = ident.username.clone();
            let mut n = 1;
            while s.user_by_name(&name)?.is_some() {
                n += 1;
                name = format!("{}-{n}", ident.username);
            }
            Ok(s.create_user(&NewUser {
                username: name,
                role,
                password_hash: None,
                oidc_subject: Some(ident.subject.clone()),
                email: ident.email.clone(),
                projects: Vec::new(),
            })?)
        })
        .await?;
    if user.disabled {
        audit_login(
            state,
            &user.username,
            source,
            "oidc",
            "denied",
            "account disabled",
        )
        .await;
        return Err(ApiError::forbidden("this account is disabled"));
    }
    audit_login(state, &user.username, source, "oidc", "ok", "").await;
    open_session(state, user, source).await
}

/// Audits a refused OpenID Connect login (wrong state, a code the
/// provider refused, an ID token that failed verification). The account is
/// unknown: nothing from an unverified token is believed.
pub async fn oidc_failed(state: &AppState, source: &str, why: &str) {
    audit_login(state, "anonymous", source, "oidc", "failed", why).await;
}

/// Ends a session; returns the `Set-Cookie` that clears the cookie.
pub async fn logout(
    state: &AppState,
    session_hash: String,
    actor: String,
    source: String,
) -> ApiResult<String> {
    state
        .pool
        .run(move |s| Ok(s.delete_session(&session_hash)?))
        .await?;
    state
        .audit
        .record(
            &state.pool,
            Event {
                actor: actor.clone(),
                source,
                action: "logout",
                target: actor,
                outcome: "ok",
                details: json!({}),
            },
        )
        .await;
    Ok(set_cookie(
        SESSION_COOKIE,
        "",
        0,
        state.config.secure_cookies,
    ))
}
