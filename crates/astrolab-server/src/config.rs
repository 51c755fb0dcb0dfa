//! Server settings: the `[server]` table of astrolab.toml, then
//! `ASTROLAB_*` environment variables, then `astrolab serve` flags.
//! Secrets (the OIDC client secret) come only from the environment.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;

/// The `[server]` table of astrolab.toml (every key optional).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFileConfig {
    /// Address to listen on.
    pub bind: Option<SocketAddr>,
    /// Let visitors without an account read public data (API and pages)
    /// as viewers. Default false: every data route needs credentials.
    pub public_read: Option<bool>,
    /// Serve `/metrics` without credentials (default true: Prometheus
    /// scrapes without a token; put the server behind the proxy's ACL).
    pub metrics_public: Option<bool>,
    /// Largest request body accepted, bytes (413 beyond).
    pub max_body_bytes: Option<usize>,
    /// Most rows one API request returns (pages of results beyond).
    pub max_rows: Option<usize>,
    /// Mark cookies `Secure` (default true; false only for plain-HTTP
    /// development on loopback).
    pub secure_cookies: Option<bool>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Option<Vec<IpAddr>>,
    /// Session lifetime, hours.
    pub session_hours: Option<u64>,
    /// Store connections in the pool.
    pub pool_size: Option<usize>,
    /// Run the job queue inside the server (default: yes with SQLite, no
    /// with PostgreSQL where `astrolab worker` processes do it).
    pub in_process_worker: Option<bool>,
    /// Directories that run parameters may name files in (besides the
    /// data home).
    pub data_roots: Option<Vec<PathBuf>>,
    /// OpenID Connect: which ID-token claim values map to which role
    /// (e.g. `{ "groups" = { "lab-admins" = "admin" } }`).
    pub oidc_role_claims:
        Option<std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>>,
}

/// OpenID Connect provider settings (all from the environment).
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Issuer URL (`https://login.microsoftonline.com/TENANT/v2.0`,
    /// `https://accounts.google.com`).
    pub issuer: String,
    /// Client id registered with the provider.
    pub client_id: String,
    /// Client secret (environment only; never logged).
    pub client_secret: String,
    /// Redirect URL registered with the provider
    /// (`https://HOST/auth/oidc/callback`).
    pub redirect_url: String,
}

impl OidcConfig {
    /// Reads `ASTROLAB_OIDC_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET` and
    /// `_REDIRECT_URL`; None when the issuer is unset, an error naming the
    /// missing variable when only some are set, or saying what to change
    /// when a URL is not https (see [`OidcConfig::validate`]).
    pub fn from_env() -> Result<Option<OidcConfig>, String> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let Some(issuer) = get("ASTROLAB_OIDC_ISSUER") else {
            return Ok(None);
        };
        let need =
            |k: &str| get(k).ok_or_else(|| format!("{k} must be set when ASTROLAB_OIDC_ISSUER is"));
        let cfg = OidcConfig {
            issuer: issuer.trim_end_matches('/').to_string(),
            client_id: need("ASTROLAB_OIDC_CLIENT_ID")?,
            client_secret: need("ASTROLAB_OIDC_CLIENT_SECRET")?,
            redirect_url: need("ASTROLAB_OIDC_REDIRECT_URL")?,
        };
        cfg.validate()?;
        Ok(Some(cfg))
    }

    /// Every field set; issuer and redirect URL `https`, or `http` on
    /// loopback only (development, tests): login codes, the client secret
    /// and ID tokens cross them. The login routes check this too, so a
    /// configuration built in code cannot skip it.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("ASTROLAB_OIDC_ISSUER", &self.issuer),
            ("ASTROLAB_OIDC_CLIENT_ID", &self.client_id),
            ("ASTROLAB_OIDC_CLIENT_SECRET", &self.client_secret),
            ("ASTROLAB_OIDC_REDIRECT_URL", &self.redirect_url),
        ] {
            if v.trim().is_empty() {
                return Err(format!("{name} must not be empty"));
            }
        }
        check_oidc_url("ASTROLAB_OIDC_ISSUER", &self.issuer)?;
        check_oidc_url("ASTROLAB_OIDC_REDIRECT_URL", &self.redirect_url)
    }
}

/// Whether `url` may carry OpenID Connect traffic: `https`, or `http` to a
/// loopback host (127.0.0.0/8, `::1`, `localhost`). The error names `what`
/// and says what to change.
pub fn check_oidc_url(what: &str, url: &str) -> Result<(), String> {
    use openidconnect::url::{Host, Url};
    let u = Url::parse(url).map_err(|e| {
        format!("{what} {url:?} is not a URL ({e}); give the full https://... address")
    })?;
    let loopback = match u.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "{what} {url:?} must use https (plain http is accepted only on loopback: \
             127.0.0.1, ::1, localhost), since login codes, the client secret and ID tokens \
             cross it"
        )),
    }
}

/// The resolved server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listen address.
    pub bind: SocketAddr,
    /// Anonymous visitors read public data as viewers.
    pub public_read: bool,
    /// `/metrics` without credentials.
    pub metrics_public: bool,
    /// Request body limit, bytes.
    pub max_body_bytes: usize,
    /// Result rows per request.
    pub max_rows: usize,
    /// `Secure` cookies.
    pub secure_cookies: bool,
    /// Proxies trusted for `X-Forwarded-For`.
    pub trusted_proxies: Vec<IpAddr>,
    /// Session lifetime, seconds.
    pub session_s: i64,
    /// Pool size.
    pub pool_size: usize,
    /// Run jobs in the server process.
    pub in_process_worker: bool,
    /// Data home (runs write under `HOME/runs`).
    pub home: PathBuf,
    /// Directories run parameters may name.
    pub data_roots: Vec<PathBuf>,
    /// Where the audit JSON lines go.
    pub audit_path: PathBuf,
    /// The `astrolab` executable workers run pipelines with.
    pub executable: PathBuf,
    /// OpenID Connect, when configured.
    pub oidc: Option<OidcConfig>,
    /// Claim value -> role mapping for OIDC logins.
    pub oidc_role_claims:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
}

impl ServerConfig {
    /// Settings for a data home with every default (tests start here).
    pub fn defaults(home: PathBuf, executable: PathBuf) -> ServerConfig {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_read: false,
            metrics_public: true,
            max_body_bytes: 8 << 20,
            max_rows: 10_000,
            secure_cookies: true,
            trusted_proxies: Vec::new(),
            session_s: 12 * 3600,
            pool_size: 8,
            in_process_worker: true,
            audit_path: home.join("audit").join("audit.jsonl"),
            data_roots: Vec::new(),
            home,
            executable,
            oidc: None,
            oidc_role_claims: Default::default(),
        }
    }

    /// Applies the file's `[server]` table over the defaults.
    pub fn apply_file(&mut self, f: &ServerFileConfig, postgres: bool) {
        if let Some(v) = f.bind {
            self.bind = v;
        }
        if let Some(v) = f.public_read {
            self.public_read = v;
        }
        if let Some(v) = f.metrics_public {
            self.metrics_public = v;
        }
        if let Some(v) = f.max_body_bytes {
            self.max_body_bytes = v;
        }
        if let Some(v) = f.max_rows {
            self.max_rows = v.max(1);
        }
        if let Some(v) = f.secure_cookies {
            self.secure_cookies = v;
        }
        if let Some(v) = &f.trusted_proxies {
            self.trusted_proxies = v.clone();
        }
        if let Some(v) = f.session_hours {
            self.session_s = (v.max(1) * 3600) as i64;
        }
        if let Some(v) = f.pool_size {
            self.pool_size = v.max(1);
        }
        self.in_process_worker = f.in_process_worker.unwrap_or(!postgres);
        if let Some(v) = &f.data_roots {
            self.data_roots = v.clone();
        }
        if let Some(v) = &f.oidc_role_claims {
            self.oidc_role_claims = v.clone();
        }
    }
}
