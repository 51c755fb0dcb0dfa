//! A local OpenID provider on loopback for tests (cargo feature
//! `test-issuer`; never in the binary). It signs real RS256 ID tokens with
//! keys it generates, so the client's signature checks run for real, and
//! it can be told to misbehave the ways an attacker or a key rotation
//! would (see [`Tamper`], [`TestIssuer::rotate_key`]).
//!
//! Discovery at `/.well-known/openid-configuration`, keys at `/jwks`,
//! `/authorize` approves the configured [`TestUser`] at once (no login
//! form) and redirects back with a code, `/token` redeems the code once,
//! checking the client's credentials, the redirect URI and the PKCE
//! verifier like a real provider.
//!
//! Shared by astrolab-server's `tests/oidc.rs` and astrolab-cli's browser
//! test, hence a module here rather than a test file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use openidconnect::core::{CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::url::{form_urlencoded, Url};
use openidconnect::{AccessToken, JsonWebKeyId, PrivateSigningKey};
use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::auth::oidc::{LabIdToken, LabIdTokenClaims};
use crate::auth::secrets::random_hex;
use crate::config::{OidcConfig, ServerConfig};

/// Who the issuer logs in.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// `sub`.
    pub sub: String,
    /// `preferred_username`.
    pub username: String,
    /// `email`.
    pub email: String,
    /// `groups` (what `server.oidc_role_claims` maps).
    pub groups: Vec<String>,
}

impl TestUser {
    /// Grace, a researcher by her `lab-researchers` group (see
    /// [`TestIssuer::configure`]).
    pub fn grace() -> TestUser {
        TestUser {
            sub: "00u-42".into(),
            username: "grace".into(),
            email: "grace@lab.example.org".into(),
            groups: vec!["lab-researchers".into(), "everyone".into()],
        }
    }
}

/// How the next ID tokens go wrong (each is an attack the client must
/// refuse).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Tamper {
    /// Honest tokens.
    #[default]
    None,
    /// Signed with a key the issuer never published, under the published
    /// key's `kid` (a forged token).
    ForeignKey,
    /// Signed with an unpublished key under a `kid` nobody knows.
    UnknownKid,
    /// `aud` is another client.
    Audience(String),
    /// `exp` an hour ago.
    Expired,
    /// The previous login's ID token again (its nonce is not this login's).
    Replay,
}

struct Key {
    kid: String,
    key: Arc<CoreRsaPrivateSigningKey>,
}

/// A 2048-bit RSA key (the size providers use).
fn new_key(kid: &str) -> Key {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| e.to_string())
        .and_then(|k| {
            k.to_pkcs1_pem(LineEnding::LF)
                .map(|p| p.to_string())
                .map_err(|e| e.to_string())
        })
        .and_then(|p| {
            CoreRsaPrivateSigningKey::from_pem(&p, Some(JsonWebKeyId::new(kid.to_string())))
        })
        .unwrap_or_else(|e| panic!("test issuer: RSA key generation failed: {e}"));
    Key {
        kid: kid.to_string(),
        key: Arc::new(key),
    }
}

struct Grant {
    redirect_uri: String,
    nonce: Option<String>,
    challenge: String,
}

struct Inner {
    url: String,
    client: OidcConfig,
    user: TestUser,
    /// Published; the last one signs.
    keys: Vec<Key>,
    /// Never published: what a forger signs with.
    foreign: Option<Key>,
    codes: HashMap<String, Grant>,
    tamper: Tamper,
    last_id_token: Option<String>,
    jwks_fetches: usize,
    tokens_issued: usize,
}

/// A running test issuer (serves until the process or its runtime ends).
#[derive(Clone)]
pub struct TestIssuer {
    /// `http://127.0.0.1:PORT`: issuer, and base of every endpoint.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl TestIssuer {
    /// Starts the issuer on a free loopback port, in the current tokio
    /// runtime. `client` is the registration the server will use (its
    /// issuer field is ignored): [`TestIssuer::config`] gives it back with
    /// the issuer's URL.
    pub async fn start(client: OidcConfig, user: TestUser) -> TestIssuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("test issuer: cannot listen on loopback: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("test issuer: {e}"));
        let url = format!("http://{addr}");
        let issuer = TestIssuer {
            url: url.clone(),
            inner: Arc::new(Mutex::new(Inner {
                url,
                client,
                user,
                keys: vec![new_key("key-1")],
                foreign: None,
                codes: HashMap::new(),
                tamper: Tamper::None,
                last_id_token: None,
                jwks_fetches: 0,
                tokens_issued: 0,
            })),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(issuer.inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        issuer
    }

    /// [`TestIssuer::start`] on a thread of its own (for tests without a
    /// tokio runtime); serves until the process ends.
    pub fn spawn(client: OidcConfig, user: TestUser) -> TestIssuer {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("test issuer: no tokio runtime: {e}"));
            rt.block_on(async move {
                let _ = tx.send(TestIssuer::start(client, user).await);
                std::future::pending::<()>().await
            });
        });
        rx.recv()
            .unwrap_or_else(|e| panic!("test issuer did not start: {e}"))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The server's OIDC settings for this issuer.
    pub fn config(&self) -> OidcConfig {
        let g = self.lock();
        OidcConfig {
            issuer: self.url.clone(),
            ..g.client.clone()
        }
    }

    /// Points a server at this issuer: `cfg.oidc`, and the role mapping
    /// `groups`: `lab-researchers` -> researcher.
    pub fn configure(&self, cfg: &mut ServerConfig) {
        cfg.oidc = Some(self.config());
        cfg.oidc_role_claims.insert(
            "groups".into(),
            [("lab-researchers".to_string(), "researcher".to_string())]
                .into_iter()
                .collect(),
        );
    }

    /// How the next tokens are made.
    pub fn tamper(&self, t: Tamper) {
        self.lock().tamper = t;
    }

    /// Switches to a new signing key with a new `kid`; the old one is no
    /// longer published (a provider's key rotation).
    pub fn rotate_key(&self) {
        let mut g = self.lock();
        let kid = format!("key-{}", g.keys.len() + 1);
        g.keys = vec![new_key(&kid)];
    }

    /// How many times `/jwks` was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.lock().jwks_fetches
    }

    /// How many ID tokens `/token` handed out.
    pub fn tokens_issued(&self) -> usize {
        self.lock().tokens_issued
    }
}

type Shared = State<Arc<Mutex<Inner>>>;

fn lock(s: &Arc<Mutex<Inner>>) -> MutexGuard<'_, Inner> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn discovery(State(s): Shared) -> Json<Value> {
    let url = lock(&s).url.clone();
    Json(json!({
        "issuer": url,
        "authorization_endpoint": format!("{url}/authorize"),
        "token_endpoint": format!("{url}/token"),
        "jwks_uri": format!("{url}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "preferred_username", "groups"],
    }))
}

async fn jwks(State(s): Shared) -> Json<Value> {
    let mut g = lock(&s);
    g.jwks_fetches += 1;
    let keys: Vec<Value> = g
        .keys
        .iter()
        .map(|k| serde_json::to_value(k.key.as_verification_key()).unwrap_or(Value::Null))
        .collect();
    Json(json!({ "keys": keys }))
}

/// Approves at once: back to the redirect URI with a code and the state.
async fn authorize(State(s): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    let p = |k: &str| q.get(k).cloned().unwrap_or_default();
    let mut g = lock(&s);
    let why = if p("response_type") != "code" {
        "response_type must be code"
    } else if p("client_id") != g.client.client_id {
        "unknown client_id"
    } else if p("redirect_uri") != g.client.redirect_url {
        "redirect_uri is not the registered one"
    } else if !p("scope").split(' ').any(|s| s == "openid") {
        "scope must include openid"
    } else if p("code_challenge_method") != "S256" || p("code_challenge").is_empty() {
        "PKCE with S256 is required"
    } else {
        ""
    };
    if !why.is_empty() {
        return (StatusCode::BAD_REQUEST, format!("test issuer: {why}")).into_response();
    }
    let code = random_hex(16);
    g.codes.insert(
        code.clone(),
        Grant {
            redirect_uri: p("redirect_uri"),
            nonce: q.get("nonce").cloned(),
            challenge: p("code_challenge"),
        },
    );
    let Ok(mut back) = Url::parse(&p("redirect_uri")) else {
        return (StatusCode::BAD_REQUEST, "test issuer: bad redirect_uri").into_response();
    };
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &p("state"));
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, back.to_string())],
    )
        .into_response()
}

/// `client_id`/`client_secret` from HTTP Basic (form-urlencoded inside, RFC
/// 6749 §2.3.1) or from the form.
fn client_credentials(
    headers: &HeaderMap,
    f: &HashMap<String, String>,
) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(basic)
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (id, secret) = raw.split_once(':')?;
        let dec = |s: &str| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return Some((dec(id)?, dec(secret)?));
    }
    Some((f.get("client_id")?.clone(), f.get("client_secret")?.clone()))
}

async fn token(
    State(s): Shared,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let mut g = lock(&s);
    match client_credentials(&headers, &f) {
        Some((id, secret)) if id == g.client.client_id && secret == g.client.client_secret => {}
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "bad credentials",
            )
        }
    }
    if f.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "");
    }
    // A code is redeemed once.
    let Some(grant) = f.get("code").and_then(|c| g.codes.remove(c)) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown code");
    };
    if f.get("redirect_uri") != Some(&grant.redirect_uri) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "redirect_uri");
    }
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    let hashed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    if hashed != grant.challenge {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "PKCE verifier");
    }
    let access = AccessToken::new(random_hex(16));
    let id_token = match (&g.tamper, g.last_id_token.clone()) {
        (Tamper::Replay, Some(old)) => old,
        _ => match mint(&mut g, grant.nonce.as_deref(), &access) {
            Ok(t) => t,
            Err(e) => return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
        },
    };
    g.last_id_token = Some(id_token.clone());
    g.tokens_issued += 1;
    Json(json!({
        "access_token": access.secret(),
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": id_token,
    }))
    .into_response()
}

/// A signed ID token for the user, as [`Tamper`] says.
fn mint(g: &mut Inner, nonce: Option<&str>, access: &AccessToken) -> Result<String, String> {
    let now = crate::clock::now_unix();
    let aud = match &g.tamper {
        Tamper::Audience(a) => a.clone(),
        _ => g.client.client_id.clone(),
    };
    let exp = if g.tamper == Tamper::Expired {
        now - 3600
    } else {
        now + 3600
    };
    let mut claims = json!({
        "iss": g.url, "aud": aud, "sub": g.user.sub, "iat": now, "exp": exp,
        "email": g.user.email, "preferred_username": g.user.username,
        "groups": g.user.groups,
    });
    if let Some(n) = nonce {
        claims["nonce"] = json!(n);
    }
    let claims: LabIdTokenClaims = serde_json::from_value(claims).map_err(|e| e.to_string())?;
    let published = g.keys.last().map(|k| k.kid.clone()).unwrap_or_default();
    let key = match g.tamper {
        Tamper::ForeignKey | Tamper::UnknownKid => {
            let kid = if g.tamper == Tamper::ForeignKey {
                published
            } else {
                "nobody-knows-this-kid".to_string()
            };
            if g.foreign.as_ref().is_none_or(|k| k.kid != kid) {
                g.foreign = Some(new_key(&kid));
            }
            g.foreign.as_ref().map(|k| k.key.clone())
        }
        _ => g.keys.last().map(|k| k.key.clone()),
    }
    .ok_or("no signing key")?;
    LabIdToken::new(
        claims,
        key.as_ref(),
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(access),
        None,
    )
    .map(|t| t.to_string())
    .map_err(|e| e.to_string())
}
