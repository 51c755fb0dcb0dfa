//! The account page (who am I, my API tokens) and the admin page (users,
//! roles, the audit log). Every form goes through the JSON API's own
//! handlers, so the checks (a token never above its owner's role, the
//! last admin cannot be demoted) and the audit events are the API's.

use std::collections::HashMap;

use astrolab_store::Role;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Form, Json};
use serde_json::{json, Value};

use super::{
    check_csrf, csrf_field, error_page, escape, layout, need, need_login, or_page, redirect,
    PageResult, PageUser,
};
use crate::api::admin;
use crate::auth::{Authed, Principal, ADMIN, VIEWER};
use crate::clock::now_unix;
use crate::error::ApiError;
use crate::state::AppState;

fn role_options(max: Role, selected: Role) -> String {
    Role::ALL
        .iter()
        .filter(|r| **r <= max)
        .map(|r| {
            let sel = if *r == selected { " selected" } else { "" };
            format!(r#"<option value="{0}"{sel}>{0}</option>"#, r.as_str())
        })
        .collect()
}

fn unix_date(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map(|s| s.replace('T', " "))
        .unwrap_or_default()
}

async fn account_page(
    s: &AppState,
    p: &Principal,
    new_token: Option<&Value>,
    error: Option<&ApiError>,
) -> PageResult {
    let Some(user) = p.user.clone() else {
        return Err(redirect("/login?next=/account"));
    };
    let uid = user.user_id;
    let tokens = or_page(
        p,
        s.pool
            .run(move |st| Ok(st.list_api_tokens(Some(uid))?))
            .await,
    )?;
    let projects = if p.projects.is_empty() {
        "none".to_string()
    } else {
        escape(&p.projects.join(", "))
    };
    let mut body = format!(
        r#"<section aria-labelledby="me"><h2 id="me">You</h2><dl class="facts">
<div><dt>Username</dt><dd id="me-username">{}</dd></div>
<div><dt>Role</dt><dd id="me-role">{}</dd></div>
<div><dt>Projects</dt><dd>{projects}</dd></div>
<div><dt>E-mail</dt><dd>{}</dd></div>
<div><dt>Sign-in</dt><dd>{}</dd></div>
</dl></section>"#,
        escape(&user.username),
        escape(p.role.as_str()),
        escape(user.email.as_deref().unwrap_or("")),
        if user.oidc_subject.is_some() {
            "organisation (OpenID Connect)"
        } else {
            "password"
        },
    );
    if let Some(t) = new_token {
        body += &format!(
            r#"<section class="notice" role="status" aria-labelledby="newtok"><h2 id="newtok">New token</h2><p>Copy it now: it is shown only this once and stored only as a hash.</p><p><code id="new-token" class="secret">{}</code></p></section>"#,
            escape(t["token"].as_str().unwrap_or(""))
        );
    }
    if let Some(e) = error {
        body += &format!(
            r#"<p class="error" role="alert">{}</p>"#,
            escape(&e.to_string())
        );
    }
    body += r#"<section aria-labelledby="toks"><h2 id="toks">API tokens</h2>"#;
    let now = now_unix();
    if tokens.is_empty() {
        body += "<p>No tokens.</p>";
    } else {
        body += r#"<div class="scroll"><table id="tokens"><thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Role</th><th scope="col">Expires (UTC)</th><th scope="col">Last used</th><th scope="col">Status</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead><tbody>"#;
        for t in &tokens {
            let status = if t.revoked_at.is_some() {
                "revoked"
            } else if t.expires_at_unix <= now {
                "expired"
            } else {
                "active"
            };
            let action = if status == "active" {
                format!(
                    r#"<form method="post" action="/account/tokens/{0}/revoke">{1}<button type="submit" aria-label="Revoke token {0}">Revoke</button></form>"#,
                    escape(&t.prefix),
                    csrf_field(p)
                )
            } else {
                String::new()
            };
            body += &format!(
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{status}</td><td>{action}</td></tr>",
                escape(&t.name),
                escape(&t.prefix),
                escape(t.role.as_str()),
                escape(&unix_date(t.expires_at_unix)),
                escape(t.last_used_at.as_deref().unwrap_or("never")),
            );
        }
        body += "</tbody></table></div>";
    }
    body += &format!(
        r#"<h3>Create a token</h3><form method="post" action="/account/tokens" class="grid-form">{}
<div><label for="tok-name">Name</label><input id="tok-name" name="name" required maxlength="100"></div>
<div><label for="tok-role">Role</label><select id="tok-role" name="role">{}</select></div>
<div><label for="tok-days">Expires in (days)</label><input id="tok-days" name="expires_days" type="number" min="1" max="{}" value="90" required></div>
<div><button type="submit">Create token</button></div></form></section>"#,
        csrf_field(p),
        role_options(p.role, p.role),
        admin::MAX_TOKEN_DAYS,
    );
    let mut r = layout("Account", Some(p), "/account", &body);
    if let Some(e) = error {
        *r.status_mut() = e.status;
    }
    Ok(r)
}

/// `GET /account`: who am I, my role and projects, my tokens.
pub async fn account(State(s): State<AppState>, PageUser(p): PageUser) -> PageResult {
    need_login(&p, "/account")?;
    account_page(&s, &p, None, None).await
}

/// `POST /account/tokens` (CSRF): creates a token through the API's
/// handler and shows it once, on this response only (never in a URL).
pub async fn create_token(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    need_login(&p, "/account")?;
    check_csrf(&p, &f)?;
    let days = match f
        .get("expires_days")
        .map(|d| d.trim())
        .filter(|d| !d.is_empty())
    {
        Some(d) => match d.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return account_page(
                    &s,
                    &p,
                    None,
                    Some(&ApiError::bad_request(
                        "expires_days",
                        "a whole number of days",
                    )),
                )
                .await
            }
        },
        None => None,
    };
    let body: Result<admin::CreateToken, _> = serde_json::from_value(json!({
        "name": f.get("name").cloned().unwrap_or_default(),
        "role": f.get("role").filter(|r| !r.is_empty()),
        "expires_days": days,
    }));
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            return account_page(
                &s,
                &p,
                None,
                Some(&ApiError::bad_request("form", e.to_string())),
            )
            .await
        }
    };
    match admin::create_token(State(s.clone()), Authed::<VIEWER>(p.clone()), Json(body)).await {
        Ok((_, Json(v))) => account_page(&s, &p, Some(&v), None).await,
        Err(e) => account_page(&s, &p, None, Some(&e)).await,
    }
}

/// `POST /account/tokens/{prefix}/revoke` (CSRF): revokes at once.
pub async fn revoke_token(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Path(prefix): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    need_login(&p, "/account")?;
    check_csrf(&p, &f)?;
    match admin::revoke_token(State(s.clone()), Authed::<VIEWER>(p.clone()), Path(prefix)).await {
        Ok(_) => Ok(redirect("/account")),
        Err(e) => account_page(&s, &p, None, Some(&e)).await,
    }
}

async fn admin_page(
    s: &AppState,
    p: &Principal,
    notice: Option<&str>,
    error: Option<&ApiError>,
) -> PageResult {
    let (users, events) = or_page(
        p,
        s.pool
            .run(|st| Ok((st.list_users()?, st.list_audit(50, None)?)))
            .await,
    )?;
    let mut body = String::new();
    if let Some(n) = notice {
        body += &format!(r#"<p class="notice" role="status">{}</p>"#, escape(n));
    }
    if let Some(e) = error {
        body += &format!(
            r#"<p class="error" role="alert">{}</p>"#,
            escape(&e.to_string())
        );
    }
    body += r#"<section aria-labelledby="users-h"><h2 id="users-h">Users</h2><div class="scroll"><table id="users"><thead><tr><th scope="col">Username</th><th scope="col">Role</th><th scope="col">Projects</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">Change</th></tr></thead><tbody>"#;
    for u in &users {
        let id = escape(&u.username);
        body += &format!(
            r#"<tr><td>{id}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><form method="post" action="/admin/users/{id}" class="inline">{csrf}<label for="role-{id}" class="sr-only">Role of {id}</label><select id="role-{id}" name="role">{opts}</select><button type="submit" name="action" value="role">Set role</button><button type="submit" name="action" value="{toggle}">{toggle_label}</button></form></td></tr>"#,
            escape(u.role.as_str()),
            escape(&u.projects.join(", ")),
            if u.disabled { "disabled" } else { "active" },
            escape(&u.created_at.replace('T', " ")),
            csrf = csrf_field(p),
            opts = role_options(Role::Admin, u.role),
            toggle = if u.disabled { "enable" } else { "disable" },
            toggle_label = if u.disabled { "Enable" } else { "Disable" },
        );
    }
    body += "</tbody></table></div>";
    body += &format!(
        r#"<h3>Add a user</h3><form method="post" action="/admin/users" class="grid-form">{}
<div><label for="nu-name">Username</label><input id="nu-name" name="username" required maxlength="64" autocomplete="off"></div>
<div><label for="nu-role">Role</label><select id="nu-role" name="role">{}</select></div>
<div><label for="nu-pw">Password (at least {} characters; empty for OpenID Connect only)</label><input id="nu-pw" name="password" type="password" autocomplete="new-password"></div>
<div><label for="nu-email">E-mail</label><input id="nu-email" name="email" type="email"></div>
<div><label for="nu-projects">Projects (comma-separated)</label><input id="nu-projects" name="projects"></div>
<div><button type="submit">Add user</button></div></form></section>"#,
        csrf_field(p),
        role_options(Role::Admin, Role::Viewer),
        crate::auth::secrets::MIN_PASSWORD_LEN,
    );
    body += r#"<section aria-labelledby="audit-h"><h2 id="audit-h">Audit log (latest 50)</h2><div class="scroll"><table id="audit"><thead><tr><th scope="col">Time (UTC)</th><th scope="col">Actor</th><th scope="col">Source</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Outcome</th></tr></thead><tbody>"#;
    for e in &events {
        let ev = &e.event;
        body += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&ev.at.replace('T', " ")),
            escape(&ev.actor),
            escape(&ev.source),
            escape(&ev.action),
            escape(&ev.target),
            escape(&ev.outcome)
        );
    }
    body += "</tbody></table></div></section>";
    let mut r: Response = layout("Administration", Some(p), "/admin", &body);
    if let Some(e) = error {
        *r.status_mut() = e.status;
    }
    Ok(r)
}

/// `GET /admin` (admins): users, add/change forms, the audit log tail.
pub async fn admin(State(s): State<AppState>, PageUser(p): PageUser) -> PageResult {
    need_login(&p, "/admin")?;
    need(&p, Role::Admin)?;
    admin_page(&s, &p, None, None).await
}

/// `POST /admin/users` (admins; CSRF): adds an account.
pub async fn add_user(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    need_login(&p, "/admin")?;
    check_csrf(&p, &f)?;
    need(&p, Role::Admin)?;
    let get = |k: &str| {
        f.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let projects: Vec<String> = get("projects")
        .map(|v| {
            v.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let body: Result<admin::AddUser, _> = serde_json::from_value(json!({
        "username": get("username").unwrap_or_default(),
        "role": get("role").unwrap_or_else(|| "viewer".into()),
        // Passwords are not trimmed: spaces may be part of them.
        "password": f.get("password").filter(|v| !v.is_empty()),
        "email": get("email"),
        "projects": projects,
    }));
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            return admin_page(
                &s,
                &p,
                None,
                Some(&ApiError::bad_request("form", e.to_string())),
            )
            .await
        }
    };
    let name = get("username").unwrap_or_default();
    match admin::add_user(State(s.clone()), Authed::<ADMIN>(p.clone()), Json(body)).await {
        Ok(_) => admin_page(&s, &p, Some(&format!("User {name} added.")), None).await,
        Err(e) => admin_page(&s, &p, None, Some(&e)).await,
    }
}

/// `POST /admin/users/{name}` (admins; CSRF): `action=role` with `role`,
/// or `action=disable` / `enable`.
pub async fn change_user(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Path(name): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    need_login(&p, "/admin")?;
    check_csrf(&p, &f)?;
    need(&p, Role::Admin)?;
    let patch = match f.get("action").map(String::as_str) {
        Some("role") => json!({ "role": f.get("role").cloned().unwrap_or_default() }),
        Some("disable") => json!({ "disabled": true }),
        Some("enable") => json!({ "disabled": false }),
        _ => {
            return Err(error_page(
                &p,
                &ApiError::bad_request("action", "role, disable or enable"),
            ))
        }
    };
    let body: admin::PatchUser = match serde_json::from_value(patch) {
        Ok(b) => b,
        Err(e) => {
            return Err(error_page(
                &p,
                &ApiError::bad_request("form", e.to_string()),
            ))
        }
    };
    match admin::patch_user(
        State(s.clone()),
        Authed::<ADMIN>(p.clone()),
        Path(name.clone()),
        Json(body),
    )
    .await
    {
        Ok(_) => admin_page(&s, &p, Some(&format!("User {name} changed.")), None).await,
        Err(e) => admin_page(&s, &p, None, Some(&e)).await,
    }
}
