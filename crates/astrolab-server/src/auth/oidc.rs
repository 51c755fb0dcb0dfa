//! OpenID Connect login (authorization-code flow with PKCE) for Entra ID,
//! Google Workspace or any provider with discovery, done by the
//! `openidconnect` crate; its HTTP goes through our `ureq` agent.
//!
//! What is checked, and why:
//! - **Settings**: the issuer and the redirect URL must be `https` (plain
//!   `http` only on loopback: 127.0.0.0/8, `::1`, `localhost`), because the
//!   code, the client secret and the ID token cross them. The endpoints
//!   that discovery announces follow the same rule.
//! - **Discovery**: `ISSUER/.well-known/openid-configuration` must name the
//!   configured issuer (a trailing `/` aside); its `jwks_uri` gives the
//!   provider's signing keys. Both are cached per issuer for an hour.
//! - **ID token**: its signature (RS256, the OpenID default; other
//!   algorithms, `none` and HMAC included, are refused) against the
//!   provider's JWKS. We do not lean on TLS alone (OpenID Connect Core
//!   §3.1.3.7 (6) would allow it): a forged or mis-routed token is refused
//!   even if something between us and the provider misbehaves. A token whose
//!   `kid` is not in the cached key set makes us fetch the set once more
//!   (the provider rotated its keys) before refusing it. Then `iss` must
//!   equal the discovered issuer exactly, `aud` must contain our client id
//!   and nothing else we do not know, `exp` must be in the future and
//!   `nonce` must be the one this browser's login sent.
//! - **PKCE (S256)** binds the code to the browser that started the login:
//!   a code stolen on its way back (a log, a referrer, a hostile redirect)
//!   cannot be redeemed from another browser, whose cookie holds another
//!   verifier.
//!
//! `state`, `nonce`, the PKCE verifier and the page to return to travel in
//! a 10-minute HttpOnly cookie ([`OIDC_COOKIE`]), so any server behind the
//! balancer can finish the login without shared storage. The cookie is
//! deliberately neither signed nor encrypted. Integrity would buy nothing:
//! every value in it is a fresh random value of this one browser, not a
//! server secret, and anyone can get a well-formed cookie by starting a
//! login of their own, which is no use against someone else's code (its
//! PKCE challenge and nonce came from the victim's cookie). Its secrecy is
//! that of the session cookie that replaces it (both HttpOnly, `Secure`
//! outside development): whoever can read one can read the other. The
//! callback clears it whatever the outcome, and the provider redeems a
//! code once, so a login cannot be replayed.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClientAuthMethod,
    CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::url::Url;
use openidconnect::{
    AdditionalClaims, AuthType, AuthorizationCode, ClaimsVerificationError, Client, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, IdTokenClaims, JsonWebKeySet, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, SignatureVerificationError,
    StandardErrorResponse, StandardTokenResponse, SyncHttpClient, TokenResponse as _,
};
use serde::{Deserialize, Serialize};

use crate::auth::secrets;
use crate::config::{check_oidc_url, OidcConfig};
use crate::error::{ApiError, ApiResult};

/// Cookie holding the pending login (`state.nonce.verifier.next`).
pub const OIDC_COOKIE: &str = "astrolab_oidc";

/// How long the pending-login cookie lives, seconds.
pub const OIDC_COOKIE_MAX_AGE_S: i64 = 600;

/// How long discovery and the key set are trusted before being fetched
/// again (a token with an unknown `kid` refetches the keys sooner).
const PROVIDER_TTL: Duration = Duration::from_secs(3600);

/// Largest discovery, JWKS or token response read, bytes.
const MAX_RESPONSE_BYTES: u64 = 1 << 20;

/// Claims beyond the standard ones (`groups`, `roles`, `hd`, ...), kept for
/// role mapping.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    /// Every non-standard claim, as sent.
    #[serde(flatten)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}
impl AdditionalClaims for OtherClaims {}

/// The ID token's claims with [`OtherClaims`].
pub type LabIdTokenClaims = IdTokenClaims<OtherClaims, CoreGenderClaim>;

/// The ID token with [`OtherClaims`] (what the test issuer signs too).
pub type LabIdToken = openidconnect::IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type LabTokenResponse = StandardTokenResponse<
    openidconnect::IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

/// `CoreClient` with [`OtherClaims`], as built from discovery.
type LabClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    LabTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What we keep of a verified ID token.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `issuer|sub`: stable account key.
    pub subject: String,
    /// A username suggestion (preferred_username, email, or sub).
    pub username: String,
    /// E-mail when given.
    pub email: Option<String>,
    /// Every claim, for role mapping.
    pub claims: serde_json::Value,
}

fn misconfigured(why: String) -> ApiError {
    ApiError::unavailable(format!(
        "OpenID Connect is misconfigured on this server: {why}"
    ))
}

// ----------------------------------------------------------------- HTTP

/// The provider's HTTP, over a `ureq` agent: no redirects followed (the
/// OAuth 2.0 security advice: a redirect could send the client secret or
/// the code elsewhere), HTTP error statuses handed back as responses (the
/// token endpoint explains a refusal in a 400's body), bounded time and
/// size.
pub struct HttpClient(ureq::Agent);

impl HttpClient {
    /// A client with a 15 s limit per request.
    pub fn new() -> HttpClient {
        HttpClient(
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(15)))
                .max_redirects(0)
                .http_status_as_error(false)
                .build()
                .into(),
        )
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new()
    }
}

/// A failed request to the provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

impl SyncHttpClient for HttpClient {
    type Error = HttpError;

    fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let url = request.uri().to_string();
        let resp = self
            .0
            .run(request)
            .map_err(|e| HttpError(format!("{url}: {e}")))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .into_with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| HttpError(format!("{url}: {e}")))?;
        Ok(HttpResponse::from_parts(parts, body))
    }
}

// ---------------------------------------------------- discovery and keys

/// A provider's discovery document and key set, with when they came.
struct Provider {
    metadata: CoreProviderMetadata,
    fetched: Instant,
}

/// Per issuer: the process's cache of [`Provider`]s.
static PROVIDERS: LazyLock<Mutex<HashMap<String, Arc<Provider>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn cached(issuer: &str) -> Option<Arc<Provider>> {
    let map = PROVIDERS.lock().unwrap_or_else(|e| e.into_inner());
    map.get(issuer)
        .filter(|p| p.fetched.elapsed() < PROVIDER_TTL)
        .cloned()
}

fn remember(issuer: &str, metadata: CoreProviderMetadata) -> Arc<Provider> {
    let p = Arc::new(Provider {
        metadata,
        fetched: Instant::now(),
    });
    PROVIDERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(issuer.to_string(), p.clone());
    p
}

fn get_json(http: &HttpClient, what: &str, url: &Url) -> ApiResult<Vec<u8>> {
    let req = openidconnect::http::Request::get(url.as_str())
        .header("Accept", "application/json")
        .body(Vec::new())
        .map_err(|e| ApiError::unavailable(format!("OIDC {what} at {url}: {e}")))?;
    let resp = http.call(req).map_err(|e| {
        ApiError::unavailable(format!(
            "OIDC {what} failed ({e}); check that the provider is reachable from this server"
        ))
    })?;
    if !resp.status().is_success() {
        return Err(ApiError::unavailable(format!(
            "OIDC {what} at {url} answered HTTP {}; check ASTROLAB_OIDC_ISSUER",
            resp.status()
        )));
    }
    Ok(resp.into_body())
}

fn fetch_keys(
    http: &HttpClient,
    metadata: &CoreProviderMetadata,
) -> ApiResult<JsonWebKeySet<CoreJsonWebKey>> {
    let uri = metadata.jwks_uri().url();
    let body = get_json(http, "key set (JWKS)", uri)?;
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::unavailable(format!("OIDC key set at {uri} is not a JWK set: {e}")))
}

/// Fetches discovery and the key set (blocking), checks them, caches them.
fn discover(cfg: &OidcConfig, http: &HttpClient) -> ApiResult<Arc<Provider>> {
    let base = format!(
        "{}/.well-known/openid-configuration",
        cfg.issuer.trim_end_matches('/')
    );
    let url = Url::parse(&base).map_err(|e| misconfigured(format!("issuer URL: {e}")))?;
    let body = get_json(http, "discovery", &url)?;
    let metadata: CoreProviderMetadata = serde_json::from_slice(&body).map_err(|e| {
        ApiError::unavailable(format!(
            "OIDC discovery at {url} is not an OpenID provider configuration: {e}"
        ))
    })?;
    let issuer = metadata.issuer().as_str();
    if issuer.trim_end_matches('/') != cfg.issuer.trim_end_matches('/') {
        return Err(misconfigured(format!(
            "discovery names the issuer {issuer:?}, not the configured {:?}; \
             set ASTROLAB_OIDC_ISSUER to the provider's issuer",
            cfg.issuer
        )));
    }
    // A loopback issuer may announce loopback http endpoints; anything
    // else must be https.
    check_oidc_url("the provider's jwks_uri", metadata.jwks_uri().as_str())
        .map_err(misconfigured)?;
    check_oidc_url(
        "the provider's authorization_endpoint",
        metadata.authorization_endpoint().as_str(),
    )
    .map_err(misconfigured)?;
    if let Some(t) = metadata.token_endpoint() {
        check_oidc_url("the provider's token_endpoint", t.as_str()).map_err(misconfigured)?;
    }
    let keys = fetch_keys(http, &metadata)?;
    Ok(remember(&cfg.issuer, metadata.set_jwks(keys)))
}

/// The provider, from the cache when fresh.
fn provider(cfg: &OidcConfig, http: &HttpClient) -> ApiResult<Arc<Provider>> {
    cfg.validate().map_err(misconfigured)?;
    match cached(&cfg.issuer) {
        Some(p) => Ok(p),
        None => discover(cfg, http),
    }
}

/// The same provider with its key set fetched again (key rotation).
fn refresh_keys(cfg: &OidcConfig, http: &HttpClient, old: &Provider) -> ApiResult<Arc<Provider>> {
    let keys = fetch_keys(http, &old.metadata)?;
    Ok(remember(&cfg.issuer, old.metadata.clone().set_jwks(keys)))
}

fn client(cfg: &OidcConfig, p: &Provider) -> ApiResult<LabClient> {
    let redirect = RedirectUrl::new(cfg.redirect_url.clone())
        .map_err(|e| misconfigured(format!("ASTROLAB_OIDC_REDIRECT_URL: {e}")))?;
    // client_secret_basic is the default every provider supports unless
    // it announces only client_secret_post.
    let post_only = p
        .metadata
        .token_endpoint_auth_methods_supported()
        .is_some_and(|m| {
            m.contains(&CoreClientAuthMethod::ClientSecretPost)
                && !m.contains(&CoreClientAuthMethod::ClientSecretBasic)
        });
    Ok(LabClient::from_provider_metadata(
        p.metadata.clone(),
        ClientId::new(cfg.client_id.clone()),
        Some(ClientSecret::new(cfg.client_secret.clone())),
    )
    .set_redirect_uri(redirect)
    .set_auth_type(if post_only {
        AuthType::RequestBody
    } else {
        AuthType::BasicAuth
    }))
}

// ---------------------------------------------------------- the login

/// A login under way: what the callback needs, kept in [`OIDC_COOKIE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    /// Sent as `state`, must come back unchanged (login CSRF).
    pub state: String,
    /// Sent as `nonce`, must be in the ID token (token replay).
    pub nonce: String,
    /// PKCE code verifier (its S256 hash went to the provider).
    pub pkce_verifier: String,
    /// Local path to go to afterwards.
    pub next: String,
}

impl PendingLogin {
    /// Fresh random state, nonce and verifier (256 bits each, hex: the
    /// verifier's 64 characters are within RFC 7636's alphabet and length).
    /// A `next` longer than 1500 bytes becomes `/`: hex-encoded it would
    /// push the cookie past the 4 KiB browsers keep.
    pub fn new(next: &str) -> PendingLogin {
        PendingLogin {
            state: secrets::random_hex(32),
            nonce: secrets::random_hex(32),
            pkce_verifier: secrets::random_hex(32),
            next: if next.len() > 1500 { "/" } else { next }.to_string(),
        }
    }

    /// The cookie value: four `.`-separated hex fields (`next`
    /// hex-encoded so the value stays one plain token).
    pub fn cookie_value(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.state,
            self.nonce,
            self.pkce_verifier,
            hex::encode(self.next.as_bytes())
        )
    }

    /// Reads [`PendingLogin::cookie_value`] back; None when malformed.
    pub fn from_cookie(value: &str) -> Option<PendingLogin> {
        let mut it = value.split('.');
        let (Some(state), Some(nonce), Some(verifier), Some(next), None) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            return None;
        };
        let hex_ok = |s: &str| s.len() >= 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !(hex_ok(state) && hex_ok(nonce) && hex_ok(verifier)) {
            return None;
        }
        let next = String::from_utf8(hex::decode(next).ok()?).ok()?;
        Some(PendingLogin {
            state: state.to_string(),
            nonce: nonce.to_string(),
            pkce_verifier: verifier.to_string(),
            next,
        })
    }
}

/// Starts a login (blocking: may fetch discovery): the provider's
/// authorization URL for `pending` (code flow, `openid email profile`,
/// state, nonce, PKCE S256 challenge).
pub fn authorize_url(cfg: &OidcConfig, pending: &PendingLogin) -> ApiResult<String> {
    let http = HttpClient::new();
    let p = provider(cfg, &http)?;
    let c = client(cfg, &p)?;
    let (state, nonce) = (pending.state.clone(), pending.nonce.clone());
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
        pending.pkce_verifier.clone(),
    ));
    let (url, _, _) = c
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            move || Nonce::new(nonce),
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    Ok(url.to_string())
}

/// Finishes a login (blocking): redeems `code` with the PKCE verifier,
/// verifies the ID token (signature against the JWKS, refetched once for
/// an unknown key; issuer, audience, expiry, nonce).
pub fn exchange(cfg: &OidcConfig, pending: &PendingLogin, code: &str) -> ApiResult<Identity> {
    let http = HttpClient::new();
    let mut p = provider(cfg, &http)?;
    let c = client(cfg, &p)?;
    let resp = c
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|_| misconfigured("the provider's discovery names no token_endpoint".into()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request(&http)
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => ApiError::unauthorized(format!(
                "the provider refused the login code ({}{}); log in again",
                r.error(),
                r.error_description()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            )),
            RequestTokenError::Request(e) => ApiError::unavailable(format!(
                "OIDC token exchange failed ({e}); check that the provider is reachable"
            )),
            RequestTokenError::Parse(e, _) => ApiError::unavailable(format!(
                "the provider's token response is not valid OAuth 2.0: {e}"
            )),
            RequestTokenError::Other(e) => {
                ApiError::unavailable(format!("OIDC token exchange failed: {e}"))
            }
        })?;
    let token = resp.id_token().ok_or_else(|| {
        ApiError::unauthorized("the provider's token response holds no ID token; log in again")
    })?;
    let nonce = Nonce::new(pending.nonce.clone());
    let mut verified = token.claims(&client(cfg, &p)?.id_token_verifier(), &nonce);
    if matches!(
        verified,
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey
        ))
    ) {
        // Signed with a key we have not seen: the provider may have
        // rotated its keys since we cached them. Once.
        p = refresh_keys(cfg, &http, &p)?;
        verified = token.claims(&client(cfg, &p)?.id_token_verifier(), &nonce);
    }
    let claims = verified.map_err(|e| {
        let why = match e {
            // Its Display leaves out which check failed.
            ClaimsVerificationError::SignatureVerification(s) => {
                format!("bad signature: {s}")
            }
            other => other.to_string(),
        };
        ApiError::unauthorized(format!("OIDC ID token rejected ({why}); log in again"))
    })?;
    identity(cfg, claims)
}

fn identity(cfg: &OidcConfig, claims: &LabIdTokenClaims) -> ApiResult<Identity> {
    let sub = claims.subject().to_string();
    let email = claims.email().map(|e| e.to_string());
    let username = claims
        .preferred_username()
        .map(|u| u.to_string())
        .or_else(|| email.clone())
        .unwrap_or_else(|| sub.clone());
    let all = serde_json::to_value(claims).map_err(ApiError::internal)?;
    Ok(Identity {
        // The configured issuer without its trailing `/`: the account key
        // accounts were created with.
        subject: format!("{}|{}", cfg.issuer.trim_end_matches('/'), sub),
        username,
        email,
        claims: all,
    })
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub use astrolab_pipeline::manifest::percent_encode;

/// The role the claims map to (`server.oidc_role_claims`: claim name ->
/// value -> role); the highest match wins, viewer when none.
pub fn role_from_claims(
    claims: &serde_json::Value,
    map: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
) -> astrolab_store::Role {
    let mut best = astrolab_store::Role::Viewer;
    for (claim, values) in map {
        let have: Vec<String> = match claims.get(claim) {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(v)) => v
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        for h in have {
            if let Some(role) = values
                .get(&h)
                .and_then(|r| r.parse::<astrolab_store::Role>().ok())
            {
                best = best.max(role);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_required_except_on_loopback() {
        for ok in [
            "https://login.example.org/tenant/v2.0",
            "http://127.0.0.1:8080",
            "http://127.0.0.2/x",
            "http://[::1]:9000/",
            "http://localhost:1234/realms/lab",
            "http://LOCALHOST",
        ] {
            assert!(check_oidc_url("issuer", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://login.example.org",
            "http://10.0.0.1",
            "http://localhost.example.org",
            "http://127.0.0.1.nip.io",
            "ftp://127.0.0.1",
            "login.example.org",
        ] {
            assert!(check_oidc_url("issuer", bad).is_err(), "{bad}");
        }
        let cfg = OidcConfig {
            issuer: "https://login.example.org/tenant/v2.0".into(),
            client_id: "astrolab".into(),
            client_secret: "s".into(),
            redirect_url: "http://lab.example.org/auth/oidc/callback".into(),
        };
        let e = cfg.validate().unwrap_err();
        assert!(
            e.contains("ASTROLAB_OIDC_REDIRECT_URL") && e.contains("https"),
            "{e}"
        );
    }

    #[test]
    fn the_pending_login_survives_its_cookie() {
        let p = PendingLogin::new("/catalog?ra=1&dec=2");
        assert_ne!(p.state, p.nonce);
        assert_eq!(p.pkce_verifier.len(), 64);
        let back = PendingLogin::from_cookie(&p.cookie_value()).unwrap();
        assert_eq!(back, p);
        let long = format!("/catalog?q={}", "x".repeat(1990));
        let p = PendingLogin::new(&long);
        assert_eq!(p.next, "/");
        assert!(p.cookie_value().len() + OIDC_COOKIE.len() < 4000);
        for bad in [
            "",
            "a.b.c",
            &format!("{}.{}.{}", p.state, p.nonce, p.pkce_verifier),
            &format!("{}.extra", p.cookie_value()),
            &format!("{}.{}.short.2f", p.state, p.nonce),
            &format!("{}.{}.{}.zz", p.state, p.nonce, p.pkce_verifier),
        ] {
            assert!(PendingLogin::from_cookie(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn group_claims_map_to_the_highest_role() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(
            "groups".to_string(),
            [
                ("lab-admins".to_string(), "admin".to_string()),
                ("lab-researchers".to_string(), "researcher".to_string()),
            ]
            .into_iter()
            .collect(),
        );
        let claims = serde_json::json!({"groups": ["lab-researchers", "lab-admins"]});
        assert_eq!(role_from_claims(&claims, &map), astrolab_store::Role::Admin);
        let claims = serde_json::json!({"groups": "lab-researchers"});
        assert_eq!(
            role_from_claims(&claims, &map),
            astrolab_store::Role::Researcher
        );
        assert_eq!(
            role_from_claims(&serde_json::json!({}), &map),
            astrolab_store::Role::Viewer
        );
    }
}
