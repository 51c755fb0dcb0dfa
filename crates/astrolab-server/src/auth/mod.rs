//! Who is asking, and may they: API tokens (`Authorization: Bearer`),
//! session cookies (browser), and, where configured, anonymous viewers.
//!
//! Handlers state the least role they need in their signature
//! (`Authed<VIEWER>`, `Authed<RESEARCHER>`, `Authed<ADMIN>`); the
//! extractor answers 401 without valid credentials and 403 with too small
//! a role, before the handler runs.

pub mod limiter;
pub mod login;
pub mod oidc;
pub mod secrets;
#[cfg(feature = "test-issuer")]
pub mod test_issuer;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use astrolab_store::{Role, User};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use serde_json::json;

use crate::audit::Event;
use crate::clock::now_unix;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Session cookie name.
pub const SESSION_COOKIE: &str = "astrolab_session";
/// Header carrying the session's CSRF token on API calls from pages.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Role levels for [`Authed`].
pub const VIEWER: u8 = 0;
/// Researcher level.
pub const RESEARCHER: u8 = 1;
/// Admin level.
pub const ADMIN: u8 = 2;

fn level(role: Role) -> u8 {
    match role {
        Role::Viewer => VIEWER,
        Role::Researcher => RESEARCHER,
        Role::Admin => ADMIN,
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    /// A browser session (hash of the cookie, the session's CSRF token).
    Session {
        /// SHA-256 of the session id.
        hash: String,
        /// The session's CSRF token.
        csrf: String,
    },
    /// An API token.
    Token {
        /// The token's public prefix.
        prefix: String,
    },
    /// Nobody (public reading enabled).
    Anonymous,
}

/// An authenticated (or anonymous, where allowed) caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account, absent for anonymous visitors.
    pub user: Option<User>,
    /// Effective role (a token's role can be below its owner's).
    pub role: Role,
    /// Projects whose restricted datasets the caller may read.
    pub projects: Vec<String>,
    /// How they authenticated.
    pub via: Via,
    /// Client address.
    pub source: String,
}

impl Principal {
    /// Name for logs and the audit trail.
    pub fn actor(&self) -> String {
        match (&self.user, &self.via) {
            (Some(u), Via::Token { prefix }) => format!("{} (token {prefix})", u.username),
            (Some(u), _) => u.username.clone(),
            (None, _) => "anonymous".to_string(),
        }
    }

    /// Username, or empty for anonymous.
    pub fn username(&self) -> &str {
        self.user
            .as_ref()
            .map(|u| u.username.as_str())
            .unwrap_or("")
    }

    /// Admins see every dataset.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Checks a form's CSRF field against the session (forms only come
    /// from sessions; tokens and anonymous callers cannot post forms).
    pub fn verify_form_csrf(&self, field: &str) -> ApiResult<()> {
        match &self.via {
            Via::Session { csrf, .. } if secrets::constant_time_eq(csrf, field) => Ok(()),
            _ => Err(ApiError::forbidden(
                "missing or wrong CSRF token; reload the page",
            )),
        }
    }

    /// The session's CSRF token, for forms rendered to this caller.
    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf, .. } => csrf,
            _ => "",
        }
    }
}

/// The client's address: the socket peer, or the last `X-Forwarded-For`
/// hop when the peer is a trusted proxy.
pub fn source_addr(parts: &Parts, trusted: &[IpAddr]) -> String {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    match peer {
        Some(ip) if trusted.contains(&ip) => parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
            .unwrap_or(ip)
            .to_string(),
        Some(ip) => ip.to_string(),
        None => "unknown".to_string(),
    }
}

/// A cookie's value from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure when configured.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{}",
        if secure { "; Secure" } else { "" }
    )
}

// Token use is audited on first use and then at most hourly per token,
// and always when it fails: every request of a scripted client would
// drown the trail (and the database) otherwise.
static TOKEN_AUDITED: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);

fn should_audit_token(prefix: &str) -> bool {
    let Ok(mut guard) = TOKEN_AUDITED.lock() else {
        return true;
    };
    let map = guard.get_or_insert_with(HashMap::new);
    let now = Instant::now();
    match map.get(prefix) {
        Some(t) if now.duration_since(*t) < Duration::from_secs(3600) => false,
        _ => {
            map.insert(prefix.to_string(), now);
            true
        }
    }
}

/// Resolves the caller's credentials; `Ok(None)` when there are none.
/// Bad credentials are an error (401), never a silent fall-back to
/// anonymous.
pub async fn resolve(parts: &Parts, state: &AppState) -> ApiResult<Option<Principal>> {
    let source = source_addr(parts, &state.config.trusted_proxies);
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let text = auth.to_str().unwrap_or("");
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .unwrap_or("")
            .trim()
            .to_string();
        return resolve_token(state, token, source).await.map(Some);
    }
    if let Some(sid) = cookie(&parts.headers, SESSION_COOKIE) {
        if sid.len() != 64 || !sid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::unauthorized("invalid session; log in again"));
        }
        let hash = secrets::sha256_hex(&sid);
        let found = state
            .pool
            .run({
                let hash = hash.clone();
                move |s| Ok(s.session_by_hash(&hash, now_unix())?)
            })
            .await?;
        return match found {
            Some((session, user)) if !user.disabled => Ok(Some(Principal {
                role: user.role,
                projects: user.projects.clone(),
                user: Some(user),
                via: Via::Session {
                    hash,
                    csrf: session.csrf_token,
                },
                source,
            })),
            _ => Err(ApiError::unauthorized("session expired; log in again")),
        };
    }
    Ok(None)
}

async fn resolve_token(state: &AppState, token: String, source: String) -> ApiResult<Principal> {
    let refused = |why: &'static str, prefix: String, state: AppState, source: String| async move {
        state
            .audit
            .record(
                &state.pool,
                Event {
                    actor: format!("token:{prefix}"),
                    source,
                    action: "token.use",
                    target: prefix,
                    outcome: "denied",
                    details: json!({ "reason": why }),
                },
            )
            .await;
        ApiError::unauthorized("invalid, expired or revoked token")
    };
    if !secrets::looks_like_token(&token) {
        return Err(refused("malformed", String::new(), state.clone(), source).await);
    }
    let prefix = token[5..13].to_string();
    let hash = secrets::sha256_hex(&token);
    let now = now_unix();
    let found = state
        .pool
        .run(move |s| Ok(s.api_token_by_hash(&hash)?))
        .await?;
    let Some((info, user)) = found else {
        return Err(refused("unknown", prefix, state.clone(), source).await);
    };
    if info.revoked_at.is_some() {
        return Err(refused("revoked", prefix, state.clone(), source).await);
    }
    if info.expires_at_unix <= now {
        return Err(refused("expired", prefix, state.clone(), source).await);
    }
    if user.disabled {
        return Err(refused("user disabled", prefix, state.clone(), source).await);
    }
    let role = info.role.min(user.role);
    if should_audit_token(&prefix) {
        let (st, pfx, src, name) = (
            state.clone(),
            prefix.clone(),
            source.clone(),
            user.username.clone(),
        );
        let token_id = info.token_id;
        st.pool
            .run(move |s| {
                s.touch_api_token(token_id, now)?;
                Ok(())
            })
            .await?;
        st.audit
            .record(
                &st.pool,
                Event {
                    actor: name,
                    source: src,
                    action: "token.use",
                    target: pfx,
                    outcome: "ok",
                    details: json!({ "role": role.as_str() }),
                },
            )
            .await;
    }
    Ok(Principal {
        role,
        projects: user.projects.clone(),
        user: Some(user),
        via: Via::Token { prefix },
        source,
    })
}

/// Extractor: the caller, with at least role level `MIN`.
pub struct Authed<const MIN: u8>(pub Principal);

impl<const MIN: u8> FromRequestParts<AppState> for Authed<MIN> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let p = match resolve(parts, state).await? {
            Some(p) => p,
            None if MIN == VIEWER && state.config.public_read => Principal {
                user: None,
                role: Role::Viewer,
                projects: Vec::new(),
                via: Via::Anonymous,
                source: source_addr(parts, &state.config.trusted_proxies),
            },
            None => {
                return Err(ApiError::unauthorized(
                    "credentials required: log in or send Authorization: Bearer TOKEN",
                ))
            }
        };
        if level(p.role) < MIN {
            return Err(ApiError::forbidden(format!(
                "your role ({}) does not allow this",
                p.role.as_str()
            )));
        }
        // Browser sessions must prove a state-changing API call came from
        // our own page with the X-CSRF-Token header, whatever the body's
        // content type: a cross-site form can send
        // `application/x-www-form-urlencoded` with the user's cookie, so
        // the content type proves nothing. (Pages' own forms post to page
        // routes, which check the hidden `csrf` field; they never reach
        // this extractor.) Bearer tokens are not sent by browsers on their
        // own, so they need no CSRF token.
        if let Via::Session { csrf, .. } = &p.via {
            let unsafe_method =
                !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            if unsafe_method {
                let sent = parts
                    .headers
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !secrets::constant_time_eq(csrf, sent) {
                    return Err(ApiError::forbidden("missing or wrong X-CSRF-Token header"));
                }
            }
        }
        Ok(Authed(p))
    }
}

/// Extractor: the caller when there is one (pages decide what to show).
pub struct MaybeAuthed(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeAuthed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        // An expired session is just "not logged in" for a page.
        Ok(MaybeAuthed(resolve(parts, state).await.unwrap_or(None)))
    }
}
