//! OpenID Connect login end to end against the test issuer on loopback
//! (`auth::test_issuer`: discovery, JWKS, authorization, token endpoint,
//! real RS256 signatures). A good login creates the account with the role
//! its group claim maps to; a forged signature, a wrong audience, an
//! expired token, a replayed token, a wrong state, or a code redeemed from
//! another browser get no session; a key rotation is followed; an http
//! issuer off loopback is refused.

use std::path::PathBuf;

use astrolab_server::auth::oidc::OIDC_COOKIE;
use astrolab_server::auth::test_issuer::{Tamper, TestIssuer, TestUser};
use astrolab_server::auth::SESSION_COOKIE;
use astrolab_server::state::AppState;
use astrolab_server::{app, build_state, OidcConfig, ServerConfig};
use astrolab_store::{Store, StoreConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use serde_json::Value;
use tower::ServiceExt;

struct Lab {
    issuer: TestIssuer,
    state: AppState,
    home: PathBuf,
    _dir: tempfile::TempDir,
}

fn client() -> OidcConfig {
    OidcConfig {
        issuer: String::new(),
        client_id: "astrolab".into(),
        client_secret: "s3cret/+&=".into(),
        redirect_url: "http://127.0.0.1/auth/oidc/callback".into(),
    }
}

async fn lab() -> Lab {
    let issuer = TestIssuer::start(client(), TestUser::grace()).await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut cfg = ServerConfig::defaults(home.clone(), PathBuf::from("/nonexistent"));
    cfg.in_process_worker = false;
    issuer.configure(&mut cfg);
    let state = build_state(cfg, StoreConfig::sqlite(&home)).unwrap();
    Lab {
        issuer,
        state,
        home,
        _dir: dir,
    }
}

fn set_cookie_value(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

fn query_param(url: &str, key: &str) -> String {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {url}"))
        .to_string()
}

/// What the browser holds after the provider sent it back: the pending
/// login's cookie, and the code and state from the redirect.
struct Returned {
    cookie: String,
    code: String,
    state: String,
}

impl Lab {
    async fn send(&self, req: Request<Body>) -> Response {
        app(self.state.clone()).oneshot(req).await.unwrap()
    }

    /// `/auth/oidc/login`, then the issuer's `/authorize` (which approves
    /// at once and redirects back to us with a code).
    async fn begin(&self) -> Returned {
        let resp = self
            .send(
                Request::get("/auth/oidc/login?next=/catalog")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let location = resp.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            location.starts_with(&format!("{}/authorize?", self.issuer.url)),
            "{location}"
        );
        for part in [
            "response_type=code",
            "client_id=astrolab",
            "code_challenge_method=S256",
        ] {
            assert!(location.contains(part), "{part} in {location}");
        }
        let cookie = set_cookie_value(&resp, OIDC_COOKIE).unwrap();
        let back = tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .max_redirects(0)
                .http_status_as_error(false)
                .build()
                .into();
            let r = agent.get(&location).call().unwrap();
            assert_eq!(r.status(), 303, "the issuer approves and redirects");
            r.headers()["location"].to_str().unwrap().to_string()
        })
        .await
        .unwrap();
        assert!(
            back.starts_with("http://127.0.0.1/auth/oidc/callback?"),
            "{back}"
        );
        Returned {
            cookie,
            code: query_param(&back, "code"),
            state: query_param(&back, "state"),
        }
    }

    async fn callback(&self, cookie: &str, code: &str, state: &str) -> Response {
        self.send(
            Request::get(format!("/auth/oidc/callback?code={code}&state={state}"))
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// A whole login; the callback's response.
    async fn login(&self) -> Response {
        let r = self.begin().await;
        self.callback(&r.cookie, &r.code, &r.state).await
    }

    async fn me(&self, session: &str) -> Value {
        let me = self
            .send(
                Request::get("/api/v1/me")
                    .header(header::COOKIE, session)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(me.status(), StatusCode::OK);
        serde_json::from_slice(&axum::body::to_bytes(me.into_body(), 1 << 20).await.unwrap())
            .unwrap()
    }

    fn store(&self) -> Store {
        Store::open(&StoreConfig::sqlite(&self.home)).unwrap()
    }

    /// Why the refused OIDC logins were refused (audit trail, oldest first).
    fn refusals(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .store()
            .list_audit(100, None)
            .unwrap()
            .iter()
            .filter(|e| {
                e.event.action == "login"
                    && e.event.outcome == "failed"
                    && e.event.details["method"] == "oidc"
            })
            .map(|e| e.event.details["reason"].as_str().unwrap_or("").to_string())
            .collect();
        v.reverse();
        v
    }

    /// The last refusal names `why`.
    fn assert_last_refusal(&self, why: &str) {
        let r = self.refusals();
        assert!(
            r.last().is_some_and(|l| l.contains(why)),
            "refused for {why:?}: {r:?}"
        );
    }

    /// Audited OIDC logins with this outcome.
    fn audited(&self, outcome: &str) -> usize {
        self.store()
            .list_audit(100, None)
            .unwrap()
            .iter()
            .filter(|e| {
                e.event.action == "login"
                    && e.event.outcome == outcome
                    && e.event.details["method"] == "oidc"
            })
            .count()
    }
}

/// A successful login: to `/catalog` with a session cookie.
fn session_of(resp: &Response) -> String {
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "login succeeds");
    assert_eq!(resp.headers()[header::LOCATION], "/catalog");
    set_cookie_value(resp, SESSION_COOKIE).expect("a session cookie")
}

/// A refused login: an error page, no session, the pending login cleared.
fn assert_refused(resp: &Response, what: &str) {
    assert!(resp.status().is_client_error(), "{what}: {}", resp.status());
    assert!(
        set_cookie_value(resp, SESSION_COOKIE).is_none_or(|c| c.ends_with('=')),
        "{what}: no session"
    );
    assert_eq!(
        set_cookie_value(resp, OIDC_COOKIE).as_deref(),
        Some(&*format!("{OIDC_COOKIE}=")),
        "{what}: the pending login is cleared"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_login_creates_the_account_with_its_mapped_role() {
    let lab = lab().await;
    let session = session_of(&lab.login().await);
    let me = lab.me(&session).await;
    assert_eq!(me["username"], "grace");
    assert_eq!(me["role"], "researcher", "groups claim mapped to the role");
    let user = lab
        .store()
        .user_by_oidc_subject(&format!("{}|00u-42", lab.issuer.url))
        .unwrap()
        .unwrap();
    assert_eq!(user.email.as_deref(), Some("grace@lab.example.org"));

    // A second login finds the same account; the keys came from the cache.
    session_of(&lab.login().await);
    assert_eq!(lab.store().list_users().unwrap().len(), 1);
    assert_eq!(lab.issuer.jwks_fetches(), 1, "JWKS cached");
    assert_eq!(lab.audited("ok"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_with_another_key_gets_no_session() {
    let lab = lab().await;
    // Forged: another key under the published key's kid.
    lab.issuer.tamper(Tamper::ForeignKey);
    let resp = lab.login().await;
    assert_refused(&resp, "forged signature");
    lab.assert_last_refusal("bad signature: Crypto error");
    // Another key under an unknown kid: the keys are fetched once more
    // (it could have been a rotation), then the token is refused.
    lab.issuer.tamper(Tamper::UnknownKid);
    let before = lab.issuer.jwks_fetches();
    assert_refused(&lab.login().await, "unknown kid");
    lab.assert_last_refusal("bad signature: No matching key");
    assert_eq!(lab.issuer.jwks_fetches(), before + 1, "one refetch");
    assert_eq!(lab.issuer.tokens_issued(), 2, "the tokens were handed out");
    assert!(lab.store().list_users().unwrap().is_empty());
    assert_eq!(lab.audited("failed"), 2);
    // Honest again: fine.
    lab.issuer.tamper(Tamper::None);
    session_of(&lab.login().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_audience_gets_no_session() {
    let lab = lab().await;
    lab.issuer.tamper(Tamper::Audience("some-other-app".into()));
    assert_refused(&lab.login().await, "wrong audience");
    lab.assert_last_refusal("Invalid audiences");
    assert!(lab.store().list_users().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_gets_no_session() {
    let lab = lab().await;
    lab.issuer.tamper(Tamper::Expired);
    assert_refused(&lab.login().await, "expired token");
    lab.assert_last_refusal("Expired");
    assert!(lab.store().list_users().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_token_gets_no_session() {
    let lab = lab().await;
    session_of(&lab.login().await);
    // The provider (or whoever stands in for it) hands back the previous
    // login's token: properly signed, unexpired, but its nonce is not
    // this login's.
    lab.issuer.tamper(Tamper::Replay);
    assert_refused(&lab.login().await, "replayed nonce");
    lab.assert_last_refusal("Invalid nonce");
    assert_eq!(lab.audited("ok"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_state_or_no_cookie_gets_no_session() {
    let lab = lab().await;
    let r = lab.begin().await;
    let forged = "0".repeat(64);
    assert_refused(
        &lab.callback(&r.cookie, &r.code, &forged).await,
        "forged state",
    );
    lab.assert_last_refusal("state mismatch");
    let r = lab.begin().await;
    let resp = lab
        .send(
            Request::get(format!(
                "/auth/oidc/callback?code={}&state={}",
                r.code, r.state
            ))
            .body(Body::empty())
            .unwrap(),
        )
        .await;
    assert_refused(&resp, "no pending-login cookie");
    assert_eq!(lab.issuer.tokens_issued(), 0, "no code was redeemed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_redeemed_from_another_browser_gets_no_session() {
    let lab = lab().await;
    // The victim's code, stolen on its way back, injected into the
    // attacker's own login (their cookie, their state): the provider
    // refuses it, since the attacker's PKCE verifier is not the victim's.
    let victim = lab.begin().await;
    let attacker = lab.begin().await;
    let resp = lab
        .callback(&attacker.cookie, &victim.code, &attacker.state)
        .await;
    assert_refused(&resp, "injected code");
    lab.assert_last_refusal("invalid_grant: PKCE verifier");
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&body).contains("invalid_grant"),
        "refused by the token endpoint"
    );
    assert_eq!(lab.issuer.tokens_issued(), 0);
    // A code nobody issued.
    let r = lab.begin().await;
    assert_refused(
        &lab.callback(&r.cookie, "bad-code", &r.state).await,
        "bad code",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_is_followed() {
    let lab = lab().await;
    session_of(&lab.login().await);
    assert_eq!(lab.issuer.jwks_fetches(), 1);
    // New key, new kid, the old one withdrawn: our cached keys no longer
    // match, the JWKS is fetched again, the login succeeds.
    lab.issuer.rotate_key();
    session_of(&lab.login().await);
    assert_eq!(lab.issuer.jwks_fetches(), 2, "refetched once");
    session_of(&lab.login().await);
    assert_eq!(lab.issuer.jwks_fetches(), 2, "and cached again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_issuer_off_loopback_is_refused() {
    let cfg = OidcConfig {
        issuer: "http://login.example.org/tenant/v2.0".into(),
        ..client()
    };
    let e = cfg.validate().unwrap_err();
    assert!(
        e.contains("ASTROLAB_OIDC_ISSUER") && e.contains("https"),
        "{e}"
    );
    let cfg = OidcConfig {
        issuer: "https://login.example.org".into(),
        redirect_url: "http://lab.example.org/auth/oidc/callback".into(),
        ..client()
    };
    assert!(cfg
        .validate()
        .unwrap_err()
        .contains("ASTROLAB_OIDC_REDIRECT_URL"));

    // Configured in code regardless: the login route refuses it before
    // any request leaves.
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut sc = ServerConfig::defaults(home.clone(), PathBuf::from("/nonexistent"));
    sc.in_process_worker = false;
    sc.oidc = Some(OidcConfig {
        issuer: "http://login.example.org".into(),
        ..client()
    });
    let state = build_state(sc, StoreConfig::sqlite(&home)).unwrap();
    let resp = app(state)
        .oneshot(
            Request::get("/auth/oidc/login")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&body).contains("must use https"));
}
