//! OpenID Connect login (authorization-code flow), for Entra ID, Google
//! Workspace or any provider with discovery.
//!
//! The ID token comes straight from the provider's token endpoint over
//! TLS, so, as OpenID Connect Core 1.0 §3.1.3.7 (6) allows, the TLS server
//! validation stands in for checking its signature; we still check
//! issuer, audience, expiry and nonce. `state` and `nonce` travel in a
//! short-lived HttpOnly cookie, so any server behind the balancer can
//! finish the login.

use base64::Engine;
use serde::Deserialize;

use crate::config::OidcConfig;
use crate::error::{ApiError, ApiResult};

/// Cookie holding `state.nonce` during a login.
pub const OIDC_COOKIE: &str = "astrolab_oidc";

/// The provider's endpoints (from `/.well-known/openid-configuration`).
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    /// Must equal the configured issuer.
    pub issuer: String,
    /// Where the browser is sent.
    pub authorization_endpoint: String,
    /// Where the code is exchanged.
    pub token_endpoint: String,
}

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

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(15)))
        .build()
        .into()
}

/// Fetches the discovery document (blocking).
pub fn discover(cfg: &OidcConfig) -> ApiResult<Discovery> {
    let url = format!("{}/.well-known/openid-configuration", cfg.issuer);
    let d: Discovery = agent()
        .get(&url)
        .call()
        .map_err(|e| ApiError::unavailable(format!("OIDC discovery at {url} failed: {e}")))?
        .body_mut()
        .read_to_string()
        .map_err(|e| ApiError::unavailable(format!("OIDC discovery at {url}: {e}")))
        .and_then(|t| {
            serde_json::from_str(&t)
                .map_err(|e| ApiError::unavailable(format!("OIDC discovery at {url}: {e}")))
        })?;
    if d.issuer.trim_end_matches('/') != cfg.issuer {
        return Err(ApiError::unavailable(format!(
            "OIDC discovery: issuer {:?} differs from the configured {:?}",
            d.issuer, cfg.issuer
        )));
    }
    Ok(d)
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", k, percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL the browser is sent to.
pub fn authorize_url(d: &Discovery, cfg: &OidcConfig, state: &str, nonce: &str) -> String {
    let sep = if d.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    format!(
        "{}{sep}{}",
        d.authorization_endpoint,
        form_encode(&[
            ("response_type", "code"),
            ("client_id", &cfg.client_id),
            ("redirect_uri", &cfg.redirect_url),
            ("scope", "openid email profile"),
            ("state", state),
            ("nonce", nonce),
        ])
    )
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: String,
}

/// Exchanges the code and checks the ID token (blocking).
pub fn exchange(
    d: &Discovery,
    cfg: &OidcConfig,
    code: &str,
    nonce: &str,
    now_unix: i64,
) -> ApiResult<Identity> {
    let body = form_encode(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &cfg.redirect_url),
        ("client_id", &cfg.client_id),
        ("client_secret", &cfg.client_secret),
    ]);
    let resp: TokenResponse = agent()
        .post(&d.token_endpoint)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(body.as_bytes())
        .map_err(|e| ApiError::unauthorized(format!("OIDC token exchange failed: {e}")))?
        .body_mut()
        .read_to_string()
        .map_err(|e| ApiError::unauthorized(format!("OIDC token response: {e}")))
        .and_then(|t| {
            serde_json::from_str(&t)
                .map_err(|e| ApiError::unauthorized(format!("OIDC token response: {e}")))
        })?;
    verify_id_token(&resp.id_token, cfg, nonce, now_unix)
}

/// Checks an ID token's claims: issuer, audience, expiry, nonce.
pub fn verify_id_token(
    jwt: &str,
    cfg: &OidcConfig,
    nonce: &str,
    now_unix: i64,
) -> ApiResult<Identity> {
    let bad = |why: &str| ApiError::unauthorized(format!("OIDC ID token rejected: {why}"));
    let payload = jwt.split('.').nth(1).ok_or_else(|| bad("not a JWT"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| bad("payload is not base64url"))?;
    let claims: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| bad("payload is not JSON"))?;
    let s = |k: &str| claims.get(k).and_then(|v| v.as_str()).map(str::to_string);
    if s("iss").as_deref().map(|i| i.trim_end_matches('/')) != Some(cfg.issuer.as_str()) {
        return Err(bad("wrong issuer"));
    }
    let aud_ok = match claims.get("aud") {
        Some(serde_json::Value::String(a)) => *a == cfg.client_id,
        Some(serde_json::Value::Array(v)) => v.iter().any(|a| a.as_str() == Some(&cfg.client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err(bad("wrong audience"));
    }
    let exp = claims
        .get("exp")
        .and_then(|v| v.as_i64())
        .ok_or_else(|| bad("no exp"))?;
    if exp + 60 < now_unix {
        return Err(bad("expired"));
    }
    if s("nonce").as_deref() != Some(nonce) {
        return Err(bad("nonce mismatch"));
    }
    let sub = s("sub").ok_or_else(|| bad("no sub"))?;
    let email = s("email");
    let username = s("preferred_username")
        .or_else(|| email.clone())
        .unwrap_or_else(|| sub.clone());
    Ok(Identity {
        subject: format!("{}|{}", cfg.issuer, sub),
        username,
        email,
        claims,
    })
}

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

    fn cfg() -> OidcConfig {
        OidcConfig {
            issuer: "https://login.example.org/tenant/v2.0".into(),
            client_id: "astrolab".into(),
            client_secret: "s".into(),
            redirect_url: "https://lab.example.org/auth/oidc/callback".into(),
        }
    }

    fn jwt(claims: serde_json::Value) -> String {
        let e = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        format!(
            "{}.{}.sig",
            e(br#"{"alg":"RS256"}"#),
            e(claims.to_string().as_bytes())
        )
    }

    #[test]
    fn id_token_claims_are_checked() {
        let c = cfg();
        let good = serde_json::json!({"iss": c.issuer, "aud": "astrolab", "exp": 2000, "nonce": "n1", "sub": "abc", "email": "a@x.org", "groups": ["lab-admins"]});
        let id = verify_id_token(&jwt(good.clone()), &c, "n1", 1000).unwrap();
        assert_eq!(id.subject, format!("{}|abc", c.issuer));
        assert_eq!(id.username, "a@x.org");
        for (k, v) in [
            ("iss", serde_json::json!("https://evil")),
            ("aud", serde_json::json!("other")),
            ("exp", serde_json::json!(10)),
            ("nonce", serde_json::json!("n2")),
        ] {
            let mut bad = good.clone();
            bad[k] = v;
            assert!(verify_id_token(&jwt(bad), &c, "n1", 1000).is_err(), "{k}");
        }
        let mut map = std::collections::BTreeMap::new();
        map.insert(
            "groups".to_string(),
            [("lab-admins".to_string(), "admin".to_string())]
                .into_iter()
                .collect(),
        );
        assert_eq!(role_from_claims(&good, &map), astrolab_store::Role::Admin);
        assert_eq!(
            role_from_claims(&serde_json::json!({}), &map),
            astrolab_store::Role::Viewer
        );
    }

    #[test]
    fn authorize_url_encodes_parameters() {
        let d = Discovery {
            issuer: cfg().issuer,
            authorization_endpoint: "https://login.example.org/authorize".into(),
            token_endpoint: "https://login.example.org/token".into(),
        };
        let u = authorize_url(&d, &cfg(), "st", "no");
        assert!(u.starts_with("https://login.example.org/authorize?response_type=code&client_id=astrolab&redirect_uri=https%3A%2F%2Flab.example.org%2Fauth%2Foidc%2Fcallback&scope=openid%20email%20profile&state=st&nonce=no"), "{u}");
    }
}
