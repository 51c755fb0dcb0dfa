//! `astrolab serve`: the web server (API, pages, metrics), and the
//! account commands `astrolab user` and `astrolab token`.

use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use crate::config::Config;

/// Flags of `astrolab serve` (over the `[server]` table of astrolab.toml).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080). Put TLS in a reverse
    /// proxy in front (docs/deploy.md).
    #[arg(long, env = "ASTROLAB_BIND")]
    pub bind: Option<SocketAddr>,
    /// Let visitors without an account read public data as viewers.
    #[arg(long)]
    pub public_read: bool,
    /// Plain-HTTP development on loopback: cookies without `Secure`.
    #[arg(long)]
    pub insecure_cookies: bool,
    /// Do not run jobs inside the server even with SQLite (run `astrolab
    /// worker` processes instead).
    #[arg(long)]
    pub no_worker: bool,
}

/// Resolves the server settings from the file, environment and flags.
pub fn server_config(cfg: &Config, a: &ServeArgs) -> Result<astrolab_server::ServerConfig> {
    let exe = std::env::current_exe().context("locating the astrolab executable")?;
    let mut sc = astrolab_server::ServerConfig::defaults(cfg.home.clone(), exe);
    sc.apply_file(&cfg.server, cfg.database_url.is_some());
    if let Some(b) = a.bind {
        sc.bind = b;
    }
    if a.public_read {
        sc.public_read = true;
    }
    if a.insecure_cookies {
        if !sc.bind.ip().is_loopback() {
            bail!("--insecure-cookies is for loopback development only; serve {} behind an HTTPS proxy", sc.bind);
        }
        sc.secure_cookies = false;
    }
    if a.no_worker {
        sc.in_process_worker = false;
    }
    sc.oidc = astrolab_server::OidcConfig::from_env().map_err(|e| anyhow::anyhow!(e))?;
    Ok(sc)
}

/// Runs the server until SIGINT/SIGTERM.
pub fn run(cfg: &Config, a: &ServeArgs) -> Result<()> {
    let sc = server_config(cfg, a)?;
    let started = std::time::Instant::now();
    let store = cfg.store();
    let described = store.describe();
    let state = astrolab_server::build_state(sc, store)
        .with_context(|| format!("opening the store at {described}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(astrolab_server::serve(state, |addr| {
        tracing::info!(%addr, store = %described, ms = started.elapsed().as_millis() as u64, "listening");
        eprintln!("astrolab serve: listening on http://{addr} (store: {described}); Ctrl-C stops");
    }))
    .context("serving")?;
    Ok(())
}

/// `astrolab user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password comes from ASTROLAB_NEW_PASSWORD or
    /// is asked on the terminal; there is no default password anywhere.
    Add {
        /// Username.
        name: String,
        /// Role: viewer, researcher or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Shorthand for --role admin (the first admin is made this way).
        #[arg(long)]
        admin: bool,
        /// Projects whose restricted datasets the user may read
        /// (comma-separated).
        #[arg(long, value_delimiter = ',')]
        projects: Vec<String>,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// No password: the account logs in through OpenID Connect only.
        #[arg(long)]
        no_password: bool,
    },
    /// List accounts.
    List,
    /// Disable an account (its sessions end at once; its tokens stop working).
    Disable {
        /// Username.
        name: String,
    },
    /// Enable a disabled account.
    Enable {
        /// Username.
        name: String,
    },
    /// Reset an account's password (from ASTROLAB_NEW_PASSWORD, stdin or
    /// the terminal); every session of the account ends at once.
    Password {
        /// Username.
        name: String,
    },
    /// Change an account's role (viewer, researcher or admin); every
    /// session of the account ends at once.
    Role {
        /// Username.
        name: String,
        /// New role.
        role: String,
    },
}

/// `astrolab token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token; printed once, alone on the last line of stdout.
    Create {
        /// Owner's username.
        #[arg(long)]
        user: String,
        /// Role of the token (at most the owner's; default the owner's).
        #[arg(long)]
        role: Option<String>,
        /// Lifetime in days.
        #[arg(long, default_value_t = 90)]
        expires_days: i64,
        /// A name to recognise it by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// Revoke a token by its prefix (the 8 hex digits after `alab_`).
    Revoke {
        /// Token prefix.
        prefix: String,
    },
    /// List tokens (prefix, owner, role, expiry; never the secret).
    List,
}

fn audit_cli(
    cfg: &Config,
    store: &mut astrolab_store::Store,
    action: &'static str,
    target: &str,
    details: serde_json::Value,
) {
    let sink = astrolab_server::audit::AuditSink::new(cfg.home.join("audit").join("audit.jsonl"));
    let actor = std::env::var("USER")
        .map(|u| format!("cli:{u}"))
        .unwrap_or_else(|_| "cli".to_string());
    sink.record_blocking(
        store,
        astrolab_server::audit::Event {
            actor,
            source: "local".to_string(),
            action,
            target: target.to_string(),
            outcome: "ok",
            details,
        },
    );
}

fn read_new_password(name: &str) -> Result<String> {
    if let Ok(pw) = std::env::var("ASTROLAB_NEW_PASSWORD") {
        return Ok(pw);
    }
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        // A script pipes the password on stdin (never on the command line,
        // where `ps` would show it).
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    eprint!(
        "password for {name} (at least {} characters; input is shown): ",
        astrolab_server::auth::secrets::MIN_PASSWORD_LEN
    );
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Runs `astrolab user`.
pub fn run_user(cfg: &Config, c: &UserCommand) -> Result<()> {
    use astrolab_server::auth::secrets;
    let mut store = super::open_store(cfg)?;
    match c {
        UserCommand::Add {
            name,
            role,
            admin,
            projects,
            email,
            no_password,
        } => {
            astrolab_server::api::admin::check_username(name)
                .map_err(|e| crate::UsageError(e.to_string()))?;
            let role: astrolab_store::Role = if *admin {
                astrolab_store::Role::Admin
            } else {
                role.parse().map_err(|_| {
                    crate::UsageError(format!("--role {role}: viewer, researcher or admin"))
                })?
            };
            let password_hash = if *no_password {
                None
            } else {
                let pw = read_new_password(name)?;
                Some(secrets::hash_password(&pw).map_err(crate::UsageError)?)
            };
            let user = store.create_user(&astrolab_store::NewUser {
                username: name.clone(),
                role,
                password_hash,
                oidc_subject: None,
                email: email.clone(),
                projects: projects.clone(),
            })?;
            audit_cli(
                cfg,
                &mut store,
                "user.add",
                name,
                serde_json::json!({ "role": role.as_str(), "projects": projects }),
            );
            println!("created user {} ({})", user.username, role.as_str());
        }
        UserCommand::List => {
            println!(
                "{:<24} {:<11} {:<8} {:<25} projects",
                "username", "role", "state", "created"
            );
            for u in store.list_users()? {
                println!(
                    "{:<24} {:<11} {:<8} {:<25} {}",
                    u.username,
                    u.role.as_str(),
                    if u.disabled { "disabled" } else { "active" },
                    u.created_at,
                    u.projects.join(",")
                );
            }
        }
        UserCommand::Disable { name } | UserCommand::Enable { name } => {
            let disable = matches!(c, UserCommand::Disable { .. });
            if !store.set_user_disabled(name, disable)? {
                bail!(crate::UsageError(format!("no user {name:?}")));
            }
            audit_cli(
                cfg,
                &mut store,
                if disable {
                    "user.disable"
                } else {
                    "user.enable"
                },
                name,
                serde_json::json!({}),
            );
            println!("{} {name}", if disable { "disabled" } else { "enabled" });
        }
        UserCommand::Password { name } => {
            if store.user_by_name(name)?.is_none() {
                bail!(crate::UsageError(format!("no user {name:?}")));
            }
            let pw = read_new_password(name)?;
            let hash = secrets::hash_password(&pw).map_err(crate::UsageError)?;
            store.set_password_hash(name, &hash)?;
            audit_cli(
                cfg,
                &mut store,
                "user.password",
                name,
                serde_json::json!({ "reset": true, "sessions_ended": true }),
            );
            println!("password of {name} reset; its sessions have ended");
        }
        UserCommand::Role { name, role } => {
            let role: astrolab_store::Role = role.parse().map_err(|_| {
                crate::UsageError(format!("role {role}: viewer, researcher or admin"))
            })?;
            let Some((user, _)) = store.user_by_name(name)? else {
                bail!(crate::UsageError(format!("no user {name:?}")));
            };
            if user.role == astrolab_store::Role::Admin
                && role != astrolab_store::Role::Admin
                && !user.disabled
                && store.count_active_admins()? <= 1
            {
                bail!("{name} is the last active admin; add another admin first");
            }
            store.set_user_role(name, role)?;
            audit_cli(
                cfg,
                &mut store,
                "user.role",
                name,
                serde_json::json!({ "role": role.as_str(), "sessions_ended": true }),
            );
            println!("{name} is now {}; its sessions have ended", role.as_str());
        }
    }
    Ok(())
}

/// Runs `astrolab token`.
pub fn run_token(cfg: &Config, c: &TokenCommand) -> Result<()> {
    use astrolab_server::auth::secrets;
    let mut store = super::open_store(cfg)?;
    match c {
        TokenCommand::Create {
            user,
            role,
            expires_days,
            name,
        } => {
            let Some((owner, _)) = store.user_by_name(user)? else {
                bail!(crate::UsageError(format!("--user {user}: no such user")));
            };
            if owner.disabled {
                bail!("{user} is disabled");
            }
            let role = match role {
                Some(r) => r.parse().map_err(|_| {
                    crate::UsageError(format!("--role {r}: viewer, researcher or admin"))
                })?,
                None => owner.role,
            };
            if role > owner.role {
                bail!(crate::UsageError(format!(
                    "--role {}: above {user}'s role ({})",
                    role.as_str(),
                    owner.role.as_str()
                )));
            }
            if !(1..=astrolab_server::api::admin::MAX_TOKEN_DAYS).contains(expires_days) {
                bail!(crate::UsageError(format!(
                    "--expires-days: 1 to {}",
                    astrolab_server::api::admin::MAX_TOKEN_DAYS
                )));
            }
            let t = secrets::new_token();
            let info = store.create_api_token(&astrolab_store::NewApiToken {
                user_id: owner.user_id,
                name: name.clone(),
                prefix: t.prefix.clone(),
                token_hash: t.hash,
                role,
                expires_at_unix: astrolab_server::clock::now_unix() + expires_days * 86_400,
            })?;
            audit_cli(
                cfg,
                &mut store,
                "token.create",
                &t.prefix,
                serde_json::json!({ "owner": user, "role": role.as_str(), "days": expires_days }),
            );
            eprintln!(
                "token {} for {user} ({}), expires in {expires_days} days; shown once, store it now:",
                info.prefix,
                role.as_str()
            );
            println!("{}", t.token);
        }
        TokenCommand::Revoke { prefix } => {
            if !store.revoke_api_token(prefix)? {
                bail!(crate::UsageError(format!("no token {prefix}")));
            }
            audit_cli(
                cfg,
                &mut store,
                "token.revoke",
                prefix,
                serde_json::json!({}),
            );
            println!("revoked {prefix}");
        }
        TokenCommand::List => {
            println!(
                "{:<10} {:<20} {:<11} {:<12} state",
                "prefix", "owner", "role", "expires"
            );
            let now = astrolab_server::clock::now_unix();
            for t in store.list_api_tokens(None)? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.expires_at_unix <= now {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{:<10} {:<20} {:<11} {:<12} {state}",
                    t.prefix,
                    t.username,
                    t.role.as_str(),
                    astrolab_server::clock::ms_to_rfc3339(t.expires_at_unix * 1000)
                        .get(..10)
                        .unwrap_or("")
                );
            }
        }
    }
    Ok(())
}
