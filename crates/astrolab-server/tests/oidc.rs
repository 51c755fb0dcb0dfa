//! OpenID Connect login end to end against a mock provider on loopback
//! (discovery, authorization redirect, code exchange): the account is
//! created with the role its group claim maps to, and a wrong state, a
//! replayed nonce or a wrong client secret get no session.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use astrolab_server::{app, build_state, OidcConfig, ServerConfig};
use astrolab_store::{Store, StoreConfig};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Request, StatusCode};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use serde_json::{json, Value};
use tower::ServiceExt;

#[derive(Clone, Default)]
struct Provider {
    issuer: String,
    /// The nonce the server put in the authorization URL.
    nonce: Arc<Mutex<String>>,
    /// Answer with another nonce (a replayed token).
    wrong_nonce: Arc<Mutex<bool>>,
}

async fn discovery(State(p): State<Provider>) -> Json<Value> {
    Json(json!({
        "issuer": p.issuer,
        "authorization_endpoint": format!("{}/authorize", p.issuer),
        "token_endpoint": format!("{}/token", p.issuer),
    }))
}

async fn token(
    State(p): State<Provider>,
    Form(f): Form<std::collections::HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    if f.get("client_secret").map(String::as_str) != Some("s3cret")
        || f.get("code").map(String::as_str) != Some("good-code")
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_grant" })),
        );
    }
    let nonce = if *p.wrong_nonce.lock().unwrap() {
        "replayed".to_string()
    } else {
        p.nonce.lock().unwrap().clone()
    };
    let claims = json!({
        "iss": p.issuer, "aud": "astrolab", "sub": "00u-42", "nonce": nonce,
        "exp": astrolab_server::clock::now_unix() + 300,
        "email": "grace@lab.example.org", "preferred_username": "grace",
        "groups": ["lab-researchers", "everyone"],
    });
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwt = format!(
        "{}.{}.signature",
        b64(br#"{"alg":"RS256","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    );
    (
        StatusCode::OK,
        Json(json!({ "id_token": jwt, "access_token": "x", "token_type": "Bearer" })),
    )
}

fn set_cookie_value(resp: &axum::response::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
}

fn query_param(url: &str, key: &str) -> String {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_login_creates_the_account_with_its_mapped_role() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let provider = Provider {
        issuer: issuer.clone(),
        ..Default::default()
    };
    let mock = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/token", post(token))
        .with_state(provider.clone());
    tokio::spawn(async move { axum::serve(listener, mock).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut cfg = ServerConfig::defaults(home.clone(), PathBuf::from("/nonexistent"));
    cfg.in_process_worker = false;
    cfg.oidc = Some(OidcConfig {
        issuer: issuer.clone(),
        client_id: "astrolab".into(),
        client_secret: "s3cret".into(),
        redirect_url: "http://127.0.0.1/auth/oidc/callback".into(),
    });
    cfg.oidc_role_claims.insert(
        "groups".into(),
        [("lab-researchers".to_string(), "researcher".to_string())]
            .into_iter()
            .collect(),
    );
    let state = build_state(cfg, StoreConfig::sqlite(&home)).unwrap();
    let send = |req: Request<Body>| app(state.clone()).oneshot(req);

    // 1. The server sends the browser to the provider with state and nonce.
    let start = |wrong_state: bool| {
        let send = &send;
        let provider = provider.clone();
        let issuer = issuer.clone();
        async move {
            let resp = send(
                Request::get("/auth/oidc/login?next=/catalog")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
            assert!(resp.status().is_redirection(), "{}", resp.status());
            let location = resp.headers()[header::LOCATION]
                .to_str()
                .unwrap()
                .to_string();
            assert!(
                location.starts_with(&format!("{issuer}/authorize?")),
                "{location}"
            );
            assert!(
                location.contains("client_id=astrolab") && location.contains("scope=openid"),
                "{location}"
            );
            *provider.nonce.lock().unwrap() = query_param(&location, "nonce");
            let cookie = set_cookie_value(&resp, astrolab_server::auth::oidc::OIDC_COOKIE).unwrap();
            let st = if wrong_state {
                "forged".to_string()
            } else {
                query_param(&location, "state")
            };
            (cookie, st)
        }
    };
    let callback = |cookie: String, st: String, code: &'static str| {
        let send = &send;
        async move {
            send(
                Request::get(format!("/auth/oidc/callback?code={code}&state={st}"))
                    .header(header::COOKIE, cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap()
        }
    };

    // 2. The provider redirects back with a code: a session for a new account.
    let (cookie, st) = start(false).await;
    let resp = callback(cookie, st, "good-code").await;
    assert!(resp.status().is_redirection(), "{}", resp.status());
    assert_eq!(resp.headers()[header::LOCATION], "/catalog");
    let session = set_cookie_value(&resp, astrolab_server::auth::SESSION_COOKIE).unwrap();
    let me = send(
        Request::get("/api/v1/me")
            .header(header::COOKIE, &session)
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value =
        serde_json::from_slice(&axum::body::to_bytes(me.into_body(), 1 << 20).await.unwrap())
            .unwrap();
    assert_eq!(me["username"], "grace");
    assert_eq!(me["role"], "researcher", "groups claim mapped to the role");
    let mut store = Store::open(&StoreConfig::sqlite(&home)).unwrap();
    let user = store
        .user_by_oidc_subject(&format!("{issuer}|00u-42"))
        .unwrap()
        .unwrap();
    assert_eq!(user.email.as_deref(), Some("grace@lab.example.org"));

    // 3. A second login finds the same account.
    let (cookie, st) = start(false).await;
    assert!(callback(cookie, st, "good-code")
        .await
        .status()
        .is_redirection());
    assert_eq!(store.list_users().unwrap().len(), 1);

    // 4. Refusals: forged state, a wrong code, a token with another nonce.
    let (cookie, st) = start(true).await;
    let resp = callback(cookie, st, "good-code").await;
    assert!(
        set_cookie_value(&resp, astrolab_server::auth::SESSION_COOKIE)
            .is_none_or(|c| c.ends_with('='))
    );
    assert!(
        resp.status().is_client_error(),
        "forged state: {}",
        resp.status()
    );
    let (cookie, st) = start(false).await;
    let resp = callback(cookie, st, "bad-code").await;
    assert!(
        resp.status().is_client_error(),
        "bad code: {}",
        resp.status()
    );
    *provider.wrong_nonce.lock().unwrap() = true;
    let (cookie, st) = start(false).await;
    let resp = callback(cookie, st, "good-code").await;
    assert!(
        resp.status().is_client_error(),
        "replayed nonce: {}",
        resp.status()
    );

    let audit = store.list_audit(100, None).unwrap();
    let oidc_ok = audit
        .iter()
        .filter(|e| {
            e.event.action == "login"
                && e.event.outcome == "ok"
                && e.event.details["method"] == "oidc"
        })
        .count();
    assert_eq!(oidc_ok, 2, "{audit:?}");
}
