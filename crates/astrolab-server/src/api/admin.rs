//! Accounts, tokens and the audit log. Every change is audited.

use astrolab_store::{NewApiToken, NewUser, Role};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{secrets, Authed, Principal, ADMIN, VIEWER};
use crate::clock::now_unix;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

async fn record(s: &AppState, p: &Principal, action: &'static str, target: &str, details: Value) {
    s.audit
        .record_by(&s.pool, p, action, target, "ok", details)
        .await;
}

/// `GET /api/v1/me`.
pub async fn me(Authed(p): Authed<VIEWER>) -> Json<Value> {
    Json(json!({
        "username": p.user.as_ref().map(|u| u.username.clone()),
        "role": p.role.as_str(),
        "projects": p.projects,
        "via": match p.via {
            crate::auth::Via::Session { .. } => "session",
            crate::auth::Via::Token { .. } => "token",
            crate::auth::Via::Anonymous => "anonymous",
        },
    }))
}

/// Body of `POST /api/v1/me/password`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    current_password: String,
    new_password: String,
}

/// `POST /api/v1/me/password`: the caller changes their own password,
/// proving the current one. Every session of the account ends at once
/// (the caller's too: log in again with the new password); API tokens
/// stay, they are revoked one by one.
pub async fn change_password(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    Json(b): Json<ChangePassword>,
) -> ApiResult<Json<Value>> {
    let Some(user) = p.user.clone() else {
        return Err(ApiError::unauthorized("log in to change your password"));
    };
    let name = user.username.clone();
    let stored = s
        .pool
        .run(move |st| Ok(st.user_by_name(&name)?.and_then(|(_, h)| h)))
        .await?;
    let Some(stored) = stored else {
        return Err(ApiError::conflict(
            "this account signs in through OpenID Connect; change the password at your organisation",
        ));
    };
    if !secrets::verify_password(&b.current_password, &stored) {
        s.audit
            .record_by(
                &s.pool,
                &p,
                "user.password",
                &user.username,
                "denied",
                json!({ "reason": "wrong current password" }),
            )
            .await;
        return Err(ApiError::forbidden("current_password is wrong"));
    }
    let hash = secrets::hash_password(&b.new_password)
        .map_err(|m| ApiError::bad_request("new_password", m))?;
    let name = user.username.clone();
    s.pool
        .run(move |st| Ok(st.set_password_hash(&name, &hash)?))
        .await?;
    record(
        &s,
        &p,
        "user.password",
        &user.username,
        json!({ "sessions_ended": true }),
    )
    .await;
    Ok(Json(json!({
        "changed": true,
        "message": "password changed; every session of this account has ended: log in again",
    })))
}

/// `GET /api/v1/users` (admin).
pub async fn users(State(s): State<AppState>, Authed(_): Authed<ADMIN>) -> ApiResult<Json<Value>> {
    let users = s.pool.run(|st| Ok(st.list_users()?)).await?;
    Ok(Json(json!({ "items": users, "count": users.len() })))
}

/// Checks a username: what the CLI and the API accept.
pub fn check_username(name: &str) -> ApiResult<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        return Err(ApiError::bad_request(
            "username",
            "1-64 letters, digits, '-', '_', '.' or '@'",
        ));
    }
    Ok(())
}

/// Body of `POST /api/v1/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddUser {
    username: String,
    role: String,
    password: Option<String>,
    email: Option<String>,
    #[serde(default)]
    projects: Vec<String>,
}

fn parse_role(field: &str, r: &str) -> ApiResult<Role> {
    r.parse()
        .map_err(|_| ApiError::bad_request(field, "viewer, researcher or admin"))
}

/// `POST /api/v1/users` (admin).
pub async fn add_user(
    State(s): State<AppState>,
    Authed(p): Authed<ADMIN>,
    Json(b): Json<AddUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_username(&b.username)?;
    let role = parse_role("role", &b.role)?;
    let password_hash = match &b.password {
        Some(pw) => {
            Some(secrets::hash_password(pw).map_err(|m| ApiError::bad_request("password", m))?)
        }
        None => None,
    };
    let new = NewUser {
        username: b.username.clone(),
        role,
        password_hash,
        oidc_subject: None,
        email: b.email.clone(),
        projects: b.projects.clone(),
    };
    let user = s.pool.run(move |st| Ok(st.create_user(&new)?)).await?;
    record(
        &s,
        &p,
        "user.add",
        &b.username,
        json!({ "role": role.as_str(), "projects": b.projects }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(json!(user))))
}

/// Body of `PATCH /api/v1/users/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchUser {
    role: Option<String>,
    disabled: Option<bool>,
    projects: Option<Vec<String>>,
    password: Option<String>,
}

/// `PATCH /api/v1/users/{name}` (admin). The last active admin cannot be
/// demoted or disabled (nobody could administer the server after).
pub async fn patch_user(
    State(s): State<AppState>,
    Authed(p): Authed<ADMIN>,
    Path(name): Path<String>,
    Json(b): Json<PatchUser>,
) -> ApiResult<Json<Value>> {
    check_username(&name)?;
    let role = b
        .role
        .as_deref()
        .map(|r| parse_role("role", r))
        .transpose()?;
    let hash = match &b.password {
        Some(pw) => {
            Some(secrets::hash_password(pw).map_err(|m| ApiError::bad_request("password", m))?)
        }
        None => None,
    };
    let (n, disabled, projects) = (name.clone(), b.disabled, b.projects.clone());
    let user = s
        .pool
        .run(move |st| {
            let Some((user, _)) = st.user_by_name(&n)? else {
                return Err(ApiError::not_found(format!("no user {n:?}")));
            };
            let demotes = user.role == Role::Admin
                && (role.is_some_and(|r| r != Role::Admin) || disabled == Some(true));
            if demotes && !user.disabled && st.count_active_admins()? <= 1 {
                return Err(ApiError::conflict(
                    "this is the last active admin; add another admin first",
                ));
            }
            if let Some(r) = role {
                st.set_user_role(&n, r)?;
            }
            if let Some(d) = disabled {
                st.set_user_disabled(&n, d)?;
            }
            if let Some(pr) = &projects {
                st.set_user_projects(&n, pr)?;
            }
            if let Some(h) = &hash {
                st.set_password_hash(&n, h)?;
            }
            Ok(st.user_by_name(&n)?.map(|(u, _)| u))
        })
        .await?;
    record(
        &s,
        &p,
        "user.change",
        &name,
        json!({ "role": b.role, "disabled": b.disabled, "projects": b.projects, "password_changed": b.password.is_some() }),
    )
    .await;
    Ok(Json(json!(user)))
}

/// `GET /api/v1/tokens`: the caller's tokens (admins: everyone's).
pub async fn tokens(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
) -> ApiResult<Json<Value>> {
    let Some(user) = p.user.clone() else {
        return Err(ApiError::unauthorized("log in to manage tokens"));
    };
    let all = p.is_admin();
    let list = s
        .pool
        .run(move |st| Ok(st.list_api_tokens(if all { None } else { Some(user.user_id) })?))
        .await?;
    Ok(Json(json!({ "items": list, "count": list.len() })))
}

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    role: Option<String>,
    expires_days: Option<i64>,
    /// Admins may create a token for another account.
    user: Option<String>,
}

/// Longest token lifetime, days.
pub const MAX_TOKEN_DAYS: i64 = 366;

/// `POST /api/v1/tokens`: a token for the caller (or, for admins, for
/// `user`), with at most the owner's role. The token is in this response
/// only.
pub async fn create_token(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    Json(b): Json<CreateToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let Some(caller) = p.user.clone() else {
        return Err(ApiError::unauthorized("log in to create tokens"));
    };
    if b.name.trim().is_empty() || b.name.len() > 100 {
        return Err(ApiError::bad_request("name", "1-100 characters"));
    }
    let days = b.expires_days.unwrap_or(90);
    if !(1..=MAX_TOKEN_DAYS).contains(&days) {
        return Err(ApiError::bad_request(
            "expires_days",
            format!("1 to {MAX_TOKEN_DAYS}"),
        ));
    }
    if b.user.as_ref().is_some_and(|u| *u != caller.username) && !p.is_admin() {
        return Err(ApiError::forbidden(
            "only admins create tokens for other accounts",
        ));
    }
    let owner_name = b.user.clone().unwrap_or(caller.username.clone());
    let owner = s
        .pool
        .run(move |st| {
            st.user_by_name(&owner_name)?
                .map(|(u, _)| u)
                .ok_or_else(|| ApiError::bad_request("user", "no such user"))
        })
        .await?;
    let role = match &b.role {
        Some(r) => parse_role("role", r)?,
        None => owner.role,
    };
    if role > owner.role {
        return Err(ApiError::bad_request(
            "role",
            format!("above the owner's role ({})", owner.role.as_str()),
        ));
    }
    // A session's role can be lower than the account's only through a
    // token, so the caller's own effective role also caps.
    if role > p.role && !p.is_admin() {
        return Err(ApiError::forbidden(
            "a token cannot exceed your current role",
        ));
    }
    let t = secrets::new_token();
    let new = NewApiToken {
        user_id: owner.user_id,
        name: b.name.clone(),
        prefix: t.prefix.clone(),
        token_hash: t.hash.clone(),
        role,
        expires_at_unix: now_unix() + days * 86_400,
    };
    let info = s.pool.run(move |st| Ok(st.create_api_token(&new)?)).await?;
    record(
        &s,
        &p,
        "token.create",
        &t.prefix,
        json!({ "owner": owner.username, "role": role.as_str(), "days": days }),
    )
    .await;
    let mut v = json!(info);
    v["token"] = json!(t.token);
    Ok((StatusCode::CREATED, Json(v)))
}

/// `DELETE /api/v1/tokens/{prefix}`: revokes at once (the next request
/// with it fails: tokens are checked against the store on every request).
pub async fn revoke_token(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    Path(prefix): Path<String>,
) -> ApiResult<Json<Value>> {
    if prefix.len() != 8 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request("prefix", "8 hex digits"));
    }
    let Some(caller) = p.user.clone() else {
        return Err(ApiError::unauthorized("log in to revoke tokens"));
    };
    let admin = p.is_admin();
    let pfx = prefix.clone();
    s.pool
        .run(move |st| {
            let mine = st.list_api_tokens(if admin { None } else { Some(caller.user_id) })?;
            if !mine.iter().any(|t| t.prefix == pfx) {
                return Err(ApiError::not_found(format!("no token {pfx} of yours")));
            }
            st.revoke_api_token(&pfx)?;
            Ok(())
        })
        .await?;
    record(&s, &p, "token.revoke", &prefix, json!({})).await;
    Ok(Json(json!({ "revoked": prefix })))
}

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Deserialize)]
pub struct AuditParams {
    limit: Option<i64>,
    before: Option<i64>,
}

/// `GET /api/v1/audit` (admin).
pub async fn audit(
    State(s): State<AppState>,
    Authed(_): Authed<ADMIN>,
    Query(q): Query<AuditParams>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit", "1 to 1000"));
    }
    let events = s
        .pool
        .run(move |st| Ok(st.list_audit(limit, q.before)?))
        .await?;
    Ok(Json(json!({ "items": events, "count": events.len() })))
}
