//! Accounts for `astrolab serve` (migration 6): users with a role and
//! projects, API tokens and browser sessions.
//!
//! The store keeps strings only: password hashes (argon2id, computed by
//! the server), token and session hashes. Secrets themselves never reach
//! the database. Lookups return disabled users, revoked and expired tokens
//! as they are, so the server can refuse them *and* audit the attempt; use
//! [`ApiTokenInfo::usable`] and [`ApiTokenInfo::effective_role`] to decide.
//! Sessions are the exception: [`Store::session_by_hash`] answers None for
//! an expired session or a disabled user.

use std::str::FromStr;

use crate::error::{Result, StoreError};
use crate::registry::now_rfc3339;
use crate::store::Store;
use crate::tx::{boolean, int, is_unique_violation, opt_str, opt_text, text, txt};
use crate::value::Value;

/// What a user may do. Ordered: `Viewer < Researcher < Admin`.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads public data (the default).
    #[default]
    Viewer,
    /// Reads the data of their projects and submits runs.
    Researcher,
    /// Manages users, roles, tokens and datasets; reads everything.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Researcher, Role::Admin];

    /// `viewer`, `researcher` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Researcher => "researcher",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = StoreError;

    /// Parses `viewer`, `researcher` or `admin` (any case).
    fn from_str(s: &str) -> Result<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "researcher" => Ok(Role::Researcher),
            "admin" => Ok(Role::Admin),
            _ => Err(StoreError::bad_request(
                "role",
                format!("{s:?} is not a role; choose viewer, researcher or admin"),
            )),
        }
    }
}

fn role_of(v: &Value) -> Result<Role> {
    Role::from_str(&v.to_string()).map_err(|_| {
        StoreError::BadInput(format!(
            "users/api_tokens: unknown role {v:?} in the database"
        ))
    })
}

/// A user account (without its password hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    /// Database id.
    pub user_id: i64,
    /// Login name (unique).
    pub username: String,
    /// Role.
    pub role: Role,
    /// Contact address, when known.
    pub email: Option<String>,
    /// A disabled user can neither log in nor use tokens.
    pub disabled: bool,
    /// When the account was created (UTC, RFC 3339).
    pub created_at: String,
    /// Projects the user belongs to (sorted), for restricted datasets.
    pub projects: Vec<String>,
    /// `issuer|sub` of an OpenID Connect identity, when linked.
    pub oidc_subject: Option<String>,
}

/// A user to create.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Login name: 1 to 128 characters, letters, digits and `._-@+`.
    pub username: String,
    /// Role.
    pub role: Role,
    /// argon2id PHC string; None for OIDC-only accounts.
    pub password_hash: Option<String>,
    /// `issuer|sub` for an OpenID Connect identity.
    pub oidc_subject: Option<String>,
    /// Contact address.
    pub email: Option<String>,
    /// Projects.
    pub projects: Vec<String>,
}

/// An API token as stored (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiTokenInfo {
    /// Database id.
    pub token_id: i64,
    /// Owner.
    pub user_id: i64,
    /// Owner's login name.
    pub username: String,
    /// Label given at creation.
    pub name: String,
    /// Public, displayable start of the token (unique).
    pub prefix: String,
    /// Role the token is scoped to (never more than its owner's; see
    /// [`ApiTokenInfo::effective_role`]).
    pub role: Role,
    /// Created (UTC, RFC 3339).
    pub created_at: String,
    /// Expiry, seconds since 1970 UTC.
    pub expires_at_unix: i64,
    /// Revoked (UTC, RFC 3339), if so.
    pub revoked_at: Option<String>,
    /// Last use (UTC, RFC 3339), if ever used.
    pub last_used_at: Option<String>,
}

impl ApiTokenInfo {
    /// Not revoked and not expired at `now_unix`.
    pub fn usable(&self, now_unix: i64) -> bool {
        self.revoked_at.is_none() && now_unix < self.expires_at_unix
    }

    /// The role a request with this token gets: the lower of the token's
    /// scope and its owner's current role (a demoted user's old tokens
    /// lose the rights too).
    pub fn effective_role(&self, owner: &User) -> Role {
        self.role.min(owner.role)
    }
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    /// Owner.
    pub user_id: i64,
    /// Label.
    pub name: String,
    /// Public start of the token (unique).
    pub prefix: String,
    /// Hash of the whole token (unique).
    pub token_hash: String,
    /// Scope.
    pub role: Role,
    /// Expiry, seconds since 1970 UTC.
    pub expires_at_unix: i64,
}

/// A browser session as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionInfo {
    /// Hash of the cookie value.
    pub session_hash: String,
    /// Who is logged in.
    pub user_id: i64,
    /// CSRF token that forms of this session must carry.
    pub csrf_token: String,
    /// Created, seconds since 1970 UTC.
    pub created_at_unix: i64,
    /// Expires, seconds since 1970 UTC.
    pub expires_at_unix: i64,
    /// How it was created (`password`, `oidc`) or the client address; free text.
    pub source: String,
}

/// A session to store.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Hash of the cookie value.
    pub session_hash: String,
    /// Who logs in.
    pub user_id: i64,
    /// CSRF token.
    pub csrf_token: String,
    /// Created, seconds since 1970 UTC.
    pub created_at_unix: i64,
    /// Expires, seconds since 1970 UTC.
    pub expires_at_unix: i64,
    /// Free text (login method, client address).
    pub source: String,
}

const USER_COLS: &str =
    "u.user_id, u.username, u.role, u.email, u.disabled, u.created_at, u.oidc_subject, u.password_hash";
const TOKEN_COLS: &str = "t.token_id, t.user_id, u.username, t.name, t.prefix, t.role, t.created_at, t.expires_at_unix, t.revoked_at, t.last_used_at";

/// Checks a user or project name: 1 to 128 characters from letters, digits
/// and `._-@+`.
pub(crate) fn check_name(field: &str, name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 128
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'))
    {
        return Err(StoreError::bad_request(
            field,
            format!("{name:?} is not a valid name: use 1 to 128 letters, digits and . _ - @ +"),
        ));
    }
    Ok(())
}

/// Checked, sorted, deduplicated project names.
pub(crate) fn clean_projects(projects: &[String]) -> Result<Vec<String>> {
    let mut v: Vec<String> = projects.iter().map(|p| p.trim().to_string()).collect();
    for p in &v {
        check_name("projects", p)?;
    }
    v.sort();
    v.dedup();
    Ok(v)
}

fn unix_to_rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(now_rfc3339)
}

impl Store {
    fn user_rows(
        &mut self,
        where_s: &str,
        where_p: &str,
        params: &[Value],
    ) -> Result<Vec<(User, Option<String>)>> {
        let rows = self.query_rows(
            &format!("SELECT {USER_COLS} FROM users u {where_s} ORDER BY u.user_id"),
            &format!("SELECT {USER_COLS} FROM users u {where_p} ORDER BY u.user_id"),
            params,
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let user_id = int(&r[0]);
            let projects = self
                .query_rows(
                    "SELECT project FROM user_projects WHERE user_id = ?1 ORDER BY project",
                    "SELECT project FROM user_projects WHERE user_id = $1 ORDER BY project",
                    &[Value::Int(user_id)],
                )?
                .iter()
                .map(|p| text(&p[0]))
                .collect();
            out.push((
                User {
                    user_id,
                    username: text(&r[1]),
                    role: role_of(&r[2])?,
                    email: opt_text(&r[3]),
                    disabled: boolean(&r[4]),
                    created_at: text(&r[5]),
                    projects,
                    oidc_subject: opt_text(&r[6]),
                },
                opt_text(&r[7]),
            ));
        }
        Ok(out)
    }

    /// Creates a user. A taken username is a `BadRequest` on field
    /// `username` (a taken OIDC subject on `oidc_subject`).
    pub fn create_user(&mut self, new: &NewUser) -> Result<User> {
        check_name("username", &new.username)?;
        let projects = clean_projects(&new.projects)?;
        let now = now_rfc3339();
        let mut tx = self.begin()?;
        let inserted = tx.query(
            "INSERT INTO users (username, role, password_hash, oidc_subject, email, disabled, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6) RETURNING user_id",
            "INSERT INTO users (username, role, password_hash, oidc_subject, email, disabled, created_at) VALUES ($1, $2, $3, $4, $5, FALSE, $6) RETURNING user_id",
            &[
                txt(&new.username),
                txt(new.role.as_str()),
                opt_str(new.password_hash.as_deref()),
                opt_str(new.oidc_subject.as_deref()),
                opt_str(new.email.as_deref()),
                txt(&now),
            ],
        );
        let user_id = match inserted {
            Ok(rows) => rows.first().map(|r| int(&r[0])).unwrap_or(0),
            Err(e) if is_unique_violation(&e) => {
                drop(tx);
                return Err(if self.user_by_name(&new.username)?.is_some() {
                    StoreError::bad_request(
                        "username",
                        format!("a user named {:?} already exists", new.username),
                    )
                } else {
                    StoreError::bad_request(
                        "oidc_subject",
                        "this OpenID Connect identity is already linked to another user",
                    )
                });
            }
            Err(e) => return Err(e),
        };
        for p in &projects {
            tx.execute(
                "INSERT INTO user_projects (user_id, project) VALUES (?1, ?2)",
                "INSERT INTO user_projects (user_id, project) VALUES ($1, $2)",
                &[Value::Int(user_id), txt(p)],
            )?;
        }
        tx.commit()?;
        self.user_by_id(user_id)?
            .ok_or_else(|| StoreError::BadInput(format!("user {user_id} vanished after creation")))
    }

    /// A user and their password hash, by login name.
    pub fn user_by_name(&mut self, username: &str) -> Result<Option<(User, Option<String>)>> {
        Ok(self
            .user_rows(
                "WHERE u.username = ?1",
                "WHERE u.username = $1",
                &[txt(username)],
            )?
            .into_iter()
            .next())
    }

    /// A user by id.
    pub fn user_by_id(&mut self, user_id: i64) -> Result<Option<User>> {
        Ok(self
            .user_rows(
                "WHERE u.user_id = ?1",
                "WHERE u.user_id = $1",
                &[Value::Int(user_id)],
            )?
            .into_iter()
            .next()
            .map(|(u, _)| u))
    }

    /// The user linked to an OpenID Connect identity (`issuer|sub`).
    pub fn user_by_oidc_subject(&mut self, subject: &str) -> Result<Option<User>> {
        Ok(self
            .user_rows(
                "WHERE u.oidc_subject = ?1",
                "WHERE u.oidc_subject = $1",
                &[txt(subject)],
            )?
            .into_iter()
            .next()
            .map(|(u, _)| u))
    }

    /// Every user, oldest first.
    pub fn list_users(&mut self) -> Result<Vec<User>> {
        Ok(self
            .user_rows("", "", &[])?
            .into_iter()
            .map(|(u, _)| u)
            .collect())
    }

    /// Disables or re-enables a user; disabling also ends every session of
    /// the user (same transaction). False when there is no such user.
    /// Tokens stay stored: lookups report the user as disabled.
    pub fn set_user_disabled(&mut self, username: &str, disabled: bool) -> Result<bool> {
        if disabled {
            return self.update_user_ending_sessions(
                "UPDATE users SET disabled = ?1 WHERE username = ?2 RETURNING user_id",
                "UPDATE users SET disabled = $1 WHERE username = $2 RETURNING user_id",
                &[Value::Bool(true), txt(username)],
            );
        }
        Ok(self.execute(
            "UPDATE users SET disabled = ?1 WHERE username = ?2",
            "UPDATE users SET disabled = $1 WHERE username = $2",
            &[Value::Bool(false), txt(username)],
        )? > 0)
    }

    /// Changes a user's role and ends every session of the user (same
    /// transaction), so rights granted or taken take effect on a fresh
    /// login, never inside a session opened under the old role. False when
    /// there is no such user.
    pub fn set_user_role(&mut self, username: &str, role: Role) -> Result<bool> {
        self.update_user_ending_sessions(
            "UPDATE users SET role = ?1 WHERE username = ?2 RETURNING user_id",
            "UPDATE users SET role = $1 WHERE username = $2 RETURNING user_id",
            &[txt(role.as_str()), txt(username)],
        )
    }

    /// Runs an `UPDATE users ... RETURNING user_id` and deletes the
    /// sessions of the user it changed, in one transaction. False when it
    /// changed no user.
    fn update_user_ending_sessions(
        &mut self,
        sqlite: &str,
        postgres: &str,
        params: &[Value],
    ) -> Result<bool> {
        let mut tx = self.begin()?;
        let rows = tx.query(sqlite, postgres, params)?;
        let Some(id) = rows.first().map(|r| int(&r[0])) else {
            return Ok(false);
        };
        tx.execute(
            "DELETE FROM sessions WHERE user_id = ?1",
            "DELETE FROM sessions WHERE user_id = $1",
            &[Value::Int(id)],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Replaces a user's projects. False when there is no such user.
    pub fn set_user_projects(&mut self, username: &str, projects: &[String]) -> Result<bool> {
        let projects = clean_projects(projects)?;
        let mut tx = self.begin()?;
        let rows = tx.query(
            "SELECT user_id FROM users WHERE username = ?1",
            "SELECT user_id FROM users WHERE username = $1 FOR UPDATE",
            &[txt(username)],
        )?;
        let Some(id) = rows.first().map(|r| int(&r[0])) else {
            return Ok(false);
        };
        tx.execute(
            "DELETE FROM user_projects WHERE user_id = ?1",
            "DELETE FROM user_projects WHERE user_id = $1",
            &[Value::Int(id)],
        )?;
        for p in &projects {
            tx.execute(
                "INSERT INTO user_projects (user_id, project) VALUES (?1, ?2)",
                "INSERT INTO user_projects (user_id, project) VALUES ($1, $2)",
                &[Value::Int(id), txt(p)],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// Sets a user's password hash (a change by the user or a reset by an
    /// admin) and ends every session of the user in the same transaction:
    /// whoever held the old password loses the sessions it opened. False
    /// when there is no such user.
    pub fn set_password_hash(&mut self, username: &str, password_hash: &str) -> Result<bool> {
        self.update_user_ending_sessions(
            "UPDATE users SET password_hash = ?1 WHERE username = ?2 RETURNING user_id",
            "UPDATE users SET password_hash = $1 WHERE username = $2 RETURNING user_id",
            &[txt(password_hash), txt(username)],
        )
    }

    /// Number of admins that are not disabled (the last one must not be
    /// demoted or disabled).
    pub fn count_active_admins(&mut self) -> Result<i64> {
        let rows = self.query_rows(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0",
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled",
            &[],
        )?;
        Ok(rows.first().map_or(0, |r| int(&r[0])))
    }

    // ---- API tokens ----

    fn token_rows(
        &mut self,
        where_s: &str,
        where_p: &str,
        params: &[Value],
    ) -> Result<Vec<ApiTokenInfo>> {
        let rows = self.query_rows(
            &format!("SELECT {TOKEN_COLS} FROM api_tokens t JOIN users u ON u.user_id = t.user_id {where_s} ORDER BY t.token_id"),
            &format!("SELECT {TOKEN_COLS} FROM api_tokens t JOIN users u ON u.user_id = t.user_id {where_p} ORDER BY t.token_id"),
            params,
        )?;
        rows.iter()
            .map(|r| {
                Ok(ApiTokenInfo {
                    token_id: int(&r[0]),
                    user_id: int(&r[1]),
                    username: text(&r[2]),
                    name: text(&r[3]),
                    prefix: text(&r[4]),
                    role: role_of(&r[5])?,
                    created_at: text(&r[6]),
                    expires_at_unix: int(&r[7]),
                    revoked_at: opt_text(&r[8]),
                    last_used_at: opt_text(&r[9]),
                })
            })
            .collect()
    }

    /// Stores a new token. A taken prefix or hash is a `BadRequest` on
    /// `prefix`; an unknown user on `user_id`.
    pub fn create_api_token(&mut self, new: &NewApiToken) -> Result<ApiTokenInfo> {
        if new.prefix.is_empty() || new.token_hash.is_empty() {
            return Err(StoreError::bad_request(
                "prefix",
                "token prefix and hash must not be empty",
            ));
        }
        if self.user_by_id(new.user_id)?.is_none() {
            return Err(StoreError::bad_request(
                "user_id",
                format!("no user with id {}", new.user_id),
            ));
        }
        let now = now_rfc3339();
        let r = self.query_rows(
            "INSERT INTO api_tokens (user_id, name, prefix, token_hash, role, created_at, expires_at_unix) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING token_id",
            "INSERT INTO api_tokens (user_id, name, prefix, token_hash, role, created_at, expires_at_unix) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING token_id",
            &[
                Value::Int(new.user_id),
                txt(&new.name),
                txt(&new.prefix),
                txt(&new.token_hash),
                txt(new.role.as_str()),
                txt(&now),
                Value::Int(new.expires_at_unix),
            ],
        );
        let id = match r {
            Ok(rows) => rows.first().map_or(0, |r| int(&r[0])),
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::bad_request(
                    "prefix",
                    "a token with this prefix or hash already exists; generate a new token",
                ))
            }
            Err(e) => return Err(e),
        };
        self.token_rows(
            "WHERE t.token_id = ?1",
            "WHERE t.token_id = $1",
            &[Value::Int(id)],
        )?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::BadInput(format!("token {id} vanished after creation")))
    }

    /// The token with this hash and its owner, revoked, expired or not
    /// (check [`ApiTokenInfo::usable`] and [`User::disabled`]).
    pub fn api_token_by_hash(&mut self, token_hash: &str) -> Result<Option<(ApiTokenInfo, User)>> {
        let Some(t) = self
            .token_rows(
                "WHERE t.token_hash = ?1",
                "WHERE t.token_hash = $1",
                &[txt(token_hash)],
            )?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        Ok(self.user_by_id(t.user_id)?.map(|u| (t, u)))
    }

    /// Revokes a token named by its prefix or its numeric id, with
    /// immediate effect. False when no live token matched.
    pub fn revoke_api_token(&mut self, prefix_or_id: &str) -> Result<bool> {
        let id = prefix_or_id.trim().parse::<i64>().unwrap_or(-1);
        Ok(self.execute(
            "UPDATE api_tokens SET revoked_at = ?1 WHERE (prefix = ?2 OR token_id = ?3) AND revoked_at IS NULL",
            "UPDATE api_tokens SET revoked_at = $1 WHERE (prefix = $2 OR token_id = $3) AND revoked_at IS NULL",
            &[txt(&now_rfc3339()), txt(prefix_or_id), Value::Int(id)],
        )? > 0)
    }

    /// Every token (of one user, or of everyone), oldest first.
    pub fn list_api_tokens(&mut self, user_id: Option<i64>) -> Result<Vec<ApiTokenInfo>> {
        match user_id {
            Some(id) => self.token_rows(
                "WHERE t.user_id = ?1",
                "WHERE t.user_id = $1",
                &[Value::Int(id)],
            ),
            None => self.token_rows("", "", &[]),
        }
    }

    /// Records a use of a token.
    pub fn touch_api_token(&mut self, token_id: i64, now_unix: i64) -> Result<()> {
        self.execute(
            "UPDATE api_tokens SET last_used_at = ?1 WHERE token_id = ?2",
            "UPDATE api_tokens SET last_used_at = $1 WHERE token_id = $2",
            &[txt(&unix_to_rfc3339(now_unix)), Value::Int(token_id)],
        )?;
        Ok(())
    }

    // ---- sessions ----

    /// Stores a new session.
    pub fn create_session(&mut self, new: &NewSession) -> Result<()> {
        self.execute(
            "INSERT INTO sessions (session_hash, user_id, csrf_token, created_at_unix, expires_at_unix, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            "INSERT INTO sessions (session_hash, user_id, csrf_token, created_at_unix, expires_at_unix, source) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                txt(&new.session_hash),
                Value::Int(new.user_id),
                txt(&new.csrf_token),
                Value::Int(new.created_at_unix),
                Value::Int(new.expires_at_unix),
                txt(&new.source),
            ],
        )?;
        Ok(())
    }

    /// The live session with this hash and its user; None when unknown,
    /// expired at `now_unix`, or the user is disabled.
    pub fn session_by_hash(
        &mut self,
        session_hash: &str,
        now_unix: i64,
    ) -> Result<Option<(SessionInfo, User)>> {
        let rows = self.query_rows(
            "SELECT session_hash, user_id, csrf_token, created_at_unix, expires_at_unix, source FROM sessions WHERE session_hash = ?1 AND expires_at_unix > ?2",
            "SELECT session_hash, user_id, csrf_token, created_at_unix, expires_at_unix, source FROM sessions WHERE session_hash = $1 AND expires_at_unix > $2",
            &[txt(session_hash), Value::Int(now_unix)],
        )?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let s = SessionInfo {
            session_hash: text(&r[0]),
            user_id: int(&r[1]),
            csrf_token: text(&r[2]),
            created_at_unix: int(&r[3]),
            expires_at_unix: int(&r[4]),
            source: text(&r[5]),
        };
        Ok(self
            .user_by_id(s.user_id)?
            .filter(|u| !u.disabled)
            .map(|u| (s, u)))
    }

    /// Ends a session (logout). False when there was none.
    pub fn delete_session(&mut self, session_hash: &str) -> Result<bool> {
        Ok(self.execute(
            "DELETE FROM sessions WHERE session_hash = ?1",
            "DELETE FROM sessions WHERE session_hash = $1",
            &[txt(session_hash)],
        )? > 0)
    }

    /// Removes sessions expired at `now_unix`; returns how many.
    pub fn delete_expired_sessions(&mut self, now_unix: i64) -> Result<u64> {
        self.execute(
            "DELETE FROM sessions WHERE expires_at_unix <= ?1",
            "DELETE FROM sessions WHERE expires_at_unix <= $1",
            &[Value::Int(now_unix)],
        )
    }
}
