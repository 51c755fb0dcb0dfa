//! Security acceptance of issue 6, through the real router: credentials
//! on every route, roles, restricted datasets, token revocation,
//! injection and traversal attempts in every parameter, body limits,
//! CSRF, and the OpenAPI document against the router. Issue 14: void
//! results and the dashboard's counts follow the datasets, on both
//! backends.

use std::path::PathBuf;

use astrolab_server::auth::secrets;
use astrolab_server::{api, app, build_state, AppState, ServerConfig};
use astrolab_store::{
    IngestOptions, IngestOutcome, NewApiToken, NewSession, NewUser, Progress, Role, Store,
    StoreConfig, Visibility,
};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

mod common;

struct World {
    _dir: tempfile::TempDir,
    state: AppState,
    store_cfg: StoreConfig,
    admin: String,
    researcher: String,
    viewer: String,
    /// Researcher of project p1 with a browser session: (cookie, csrf).
    session: (String, String),
    secret_file: i64,
}

impl Drop for World {
    /// A PostgreSQL world's schema goes with it.
    fn drop(&mut self) {
        if let (Some(url), Some(schema)) = (&self.store_cfg.database_url, &self.store_cfg.pg_schema)
        {
            // Off the async runtime: the blocking client may not block a
            // thread that drives it.
            off_runtime(|| {
                if let Ok(mut c) = postgres::Client::connect(url, postgres::NoTls) {
                    let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
                }
            });
        }
    }
}

fn shared(rel: &str) -> Option<PathBuf> {
    astrolab_formats::testdata::require_shared_data("security").map(|d| d.join(rel))
}

fn token_for(store: &mut Store, user: &str, role: Role) -> String {
    let (u, _) = store.user_by_name(user).unwrap().unwrap();
    let t = secrets::new_token();
    store
        .create_api_token(&NewApiToken {
            user_id: u.user_id,
            name: "test".into(),
            prefix: t.prefix.clone(),
            token_hash: t.hash.clone(),
            role,
            expires_at_unix: astrolab_server::clock::now_unix() + 3600,
        })
        .unwrap();
    t.token
}

/// A fresh browser session of `user`: (cookie header value, CSRF token).
fn new_session(store: &mut Store, user: &str) -> (String, String) {
    let sid = secrets::random_hex(32);
    let csrf = secrets::random_hex(32);
    let u = store.user_by_name(user).unwrap().unwrap().0;
    let now = astrolab_server::clock::now_unix();
    store
        .create_session(&NewSession {
            session_hash: secrets::sha256_hex(&sid),
            user_id: u.user_id,
            csrf_token: csrf.clone(),
            created_at_unix: now,
            expires_at_unix: now + 3600,
            source: "test".into(),
        })
        .unwrap();
    (
        format!("{}={sid}", astrolab_server::auth::SESSION_COOKIE),
        csrf,
    )
}

/// A `#[tokio::test]` named `$test` that runs `$body(world)` on every
/// backend's world.
macro_rules! on_every_backend {
    ($test:ident, $body:ident) => {
        #[tokio::test]
        async fn $test() {
            for w in worlds(stringify!($test)) {
                $body(w).await;
            }
        }
    };
}

/// The same world on every backend: SQLite always, PostgreSQL when
/// configured (with `CI` set a missing database fails).
fn worlds(test: &str) -> Vec<World> {
    let mut out = Vec::new();
    let Some(sqlite) = off_runtime(|| world(test, false)) else {
        return out;
    };
    out.push(sqlite);
    out.extend(off_runtime(|| world(test, true)));
    out
}

/// Runs blocking store work on a thread of its own: the synchronous
/// PostgreSQL client may not block a thread that drives the test's async
/// runtime.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

/// `f` on a store of `cfg`, off the async runtime.
fn with_store<T: Send>(cfg: &StoreConfig, f: impl FnOnce(&mut Store) -> T + Send) -> T {
    off_runtime(|| f(&mut Store::open(cfg).unwrap()))
}

/// The world on SQLite or (`postgres`) on the test PostgreSQL database.
fn world_on(postgres: bool) -> Option<World> {
    off_runtime(|| world("security", postgres))
}

fn world(test: &str, postgres: bool) -> Option<World> {
    let public = shared("desi/redrock-4-80613-thru20210324.fits")?;
    let secret = shared("desi/redrock-special-dark-27247.fits")?;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let store_cfg = if postgres {
        std::fs::create_dir_all(&home).unwrap();
        astrolab_store::testing::pg_config_in(test, &home)?
    } else {
        StoreConfig::sqlite(&home)
    };
    let mut store = Store::open(&store_cfg).unwrap();
    for p in [&public, &secret] {
        store
            .ingest_file(p, &IngestOptions::default(), &mut Progress::none())
            .unwrap();
    }
    let secret_file = match store
        .ingest_file(&secret, &IngestOptions::default(), &mut Progress::none())
        .unwrap()
    {
        IngestOutcome::AlreadyIngested { file } | IngestOutcome::Loaded { file, .. } => {
            file.file_id
        }
    };
    store
        .upsert_dataset(
            "secret",
            "a project's own targets",
            Visibility::Restricted,
            &["p1".to_string()],
        )
        .unwrap();
    store.add_file_to_dataset("secret", secret_file).unwrap();
    for (name, role, projects) in [
        ("ada", Role::Admin, vec![]),
        ("rosa", Role::Researcher, vec!["p1".to_string()]),
        ("vic", Role::Viewer, vec![]),
    ] {
        store
            .create_user(&NewUser {
                username: name.into(),
                role,
                password_hash: Some(secrets::hash_password("a long test password").unwrap()),
                oidc_subject: None,
                email: None,
                projects,
            })
            .unwrap();
    }
    let admin = token_for(&mut store, "ada", Role::Admin);
    let researcher = token_for(&mut store, "rosa", Role::Researcher);
    let viewer = token_for(&mut store, "vic", Role::Viewer);
    let session = new_session(&mut store, "rosa");
    let mut cfg = ServerConfig::defaults(home.clone(), PathBuf::from("/nonexistent/astrolab"));
    cfg.max_body_bytes = 64 * 1024;
    cfg.in_process_worker = false;
    let state = build_state(cfg, store_cfg.clone()).unwrap();
    Some(World {
        _dir: dir,
        state,
        store_cfg,
        admin,
        researcher,
        viewer,
        session,
        secret_file,
    })
}

async fn call(
    w: &World,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> (StatusCode, Value) {
    let (status, bytes) = call_raw(w, method, uri, token, body).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A page as text.
async fn page(w: &World, uri: &str, token: &str) -> (StatusCode, String) {
    let (status, bytes) = call_raw(w, Method::GET, uri, Some(token), None).await;
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn call_raw(
    w: &World,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let body = match body {
        Some((ctype, bytes)) => {
            req = req.header("content-type", ctype);
            Body::from(bytes)
        }
        None => Body::empty(),
    };
    let resp = app(w.state.clone())
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap();
    (status, bytes.to_vec())
}

/// A concrete URI for a documented route (path parameters filled in).
fn concrete(path: &str) -> String {
    path.replace("{name}", "secret")
        .replace("{targetid}", "39627646380970001")
        .replace("{file_id}", "1")
        .replace("{id}", "1")
        .replace("{prefix}", "0123abcd")
}

fn sample_body(doc: &api::RouteDoc) -> Option<(&'static str, Vec<u8>)> {
    doc.body.map(|(media, _)| {
        if media == "application/json" {
            ("application/json", b"{}".to_vec())
        } else {
            ("text/csv", b"ra,dec\n10,10\n".to_vec())
        }
    })
}

fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).unwrap()
}

on_every_backend!(
    every_route_needs_credentials_except_the_public_ones,
    every_route_needs_credentials_except_the_public_ones_on
);

async fn every_route_needs_credentials_except_the_public_ones_on(w: World) {
    for (doc, _) in api::routes() {
        let (status, body) = call(
            &w,
            method(doc.method),
            &concrete(doc.path),
            None,
            sample_body(&doc),
        )
        .await;
        match doc.role {
            None => assert_eq!(
                status,
                StatusCode::OK,
                "{} {} is public",
                doc.method,
                doc.path
            ),
            Some(_) => {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{} {} without credentials",
                    doc.method,
                    doc.path
                );
                assert_eq!(body["error"]["code"], "unauthorized");
            }
        }
    }
    for open in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            call(&w, Method::GET, open, None, None).await.0,
            StatusCode::OK,
            "{open}"
        );
    }
    // A wrong or malformed token is refused, never treated as anonymous.
    for bad in [
        "alab_00000000_0000000000000000000000000000000000000000000000000000000000000000",
        "nonsense",
        "' OR 1=1 --",
    ] {
        assert_eq!(
            call(&w, Method::GET, "/api/v1/me", Some(bad), None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
}

on_every_backend!(
    roles_and_restricted_datasets_are_enforced,
    roles_and_restricted_datasets_are_enforced_on
);

async fn roles_and_restricted_datasets_are_enforced_on(w: World) {
    // Where are the secret file's targets? Read them as the admin.
    let sql = |q: String| with_store(&w.store_cfg, |s| s.sql_readonly(&q).unwrap());
    let rows = sql(format!(
        "SELECT ra, dec FROM redshifts WHERE file_id = {} LIMIT 1",
        w.secret_file
    ));
    let (ra, dec) = (
        rows.rows[0][0].as_f64().unwrap(),
        rows.rows[0][1].as_f64().unwrap(),
    );
    let uri = format!("/api/v1/cone?table=redshifts&ra={ra}&dec={dec}&radius=2&limit=5000");
    let count = |v: &Value| v["count"].as_u64().unwrap();
    let (s_admin, v_admin) = call(&w, Method::GET, &uri, Some(&w.admin), None).await;
    let (s_res, v_res) = call(&w, Method::GET, &uri, Some(&w.researcher), None).await;
    let (s_view, v_view) = call(&w, Method::GET, &uri, Some(&w.viewer), None).await;
    assert_eq!(
        (s_admin, s_res, s_view),
        (StatusCode::OK, StatusCode::OK, StatusCode::OK)
    );
    let secret_rows = sql(format!(
        "SELECT count(*) FROM redshifts WHERE file_id = {}",
        w.secret_file
    ))
    .rows[0][0]
        .as_i64()
        .unwrap() as u64;
    assert!(secret_rows > 0 && count(&v_admin) >= secret_rows);
    assert_eq!(
        count(&v_res),
        count(&v_admin),
        "project member sees the restricted rows"
    );
    assert_eq!(
        count(&v_view) + secret_rows,
        count(&v_admin),
        "viewer sees none of them"
    );
    // The read of the restricted dataset is in the audit log.
    let audit = with_store(&w.store_cfg, |s| s.list_audit(100, None).unwrap());
    assert!(
        audit
            .iter()
            .any(|e| e.event.action == "dataset.read" && e.event.actor.starts_with("rosa")),
        "{audit:?}"
    );
    // Files of the restricted dataset are hidden from the viewer.
    let (_, files) = call(&w, Method::GET, "/api/v1/files", Some(&w.viewer), None).await;
    assert!(files["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["file_id"] != w.secret_file));
    // Viewers submit no runs and reach no admin route.
    let run = br#"{"pipeline":"demo-data","params":{"galaxies":100}}"#.to_vec();
    assert_eq!(
        call(
            &w,
            Method::POST,
            "/api/v1/runs",
            Some(&w.viewer),
            Some(("application/json", run))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    for (doc, _) in api::routes() {
        if doc.role == Some(astrolab_server::auth::ADMIN) {
            let (s, _) = call(
                &w,
                method(doc.method),
                &concrete(doc.path),
                Some(&w.viewer),
                sample_body(&doc),
            )
            .await;
            assert_eq!(
                s,
                StatusCode::FORBIDDEN,
                "viewer on {} {}",
                doc.method,
                doc.path
            );
            let (s, _) = call(
                &w,
                method(doc.method),
                &concrete(doc.path),
                Some(&w.researcher),
                sample_body(&doc),
            )
            .await;
            assert_eq!(
                s,
                StatusCode::FORBIDDEN,
                "researcher on {} {}",
                doc.method,
                doc.path
            );
        }
    }
}

on_every_backend!(
    a_revoked_token_fails_on_its_next_request,
    a_revoked_token_fails_on_its_next_request_on
);

async fn a_revoked_token_fails_on_its_next_request_on(w: World) {
    let body = br#"{"name":"laptop","expires_days":7}"#.to_vec();
    let (s, created) = call(
        &w,
        Method::POST,
        "/api/v1/tokens",
        Some(&w.researcher),
        Some(("application/json", body)),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().unwrap().to_string();
    let prefix = created["prefix"].as_str().unwrap().to_string();
    assert_eq!(
        call(&w, Method::GET, "/api/v1/me", Some(&token), None)
            .await
            .0,
        StatusCode::OK
    );
    let (s, _) = call(
        &w,
        Method::DELETE,
        &format!("/api/v1/tokens/{prefix}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = call(&w, Method::GET, "/api/v1/me", Some(&token), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    // A viewer cannot revoke someone else's token.
    let admin_prefix = &w.admin[5..13];
    let (s, _) = call(
        &w,
        Method::DELETE,
        &format!("/api/v1/tokens/{admin_prefix}"),
        Some(&w.viewer),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        call(&w, Method::GET, "/api/v1/me", Some(&w.admin), None)
            .await
            .0,
        StatusCode::OK
    );
}

/// Row counts of the tables an injection would touch.
fn fingerprint(cfg: &StoreConfig) -> Vec<i64> {
    let mut s = Store::open(cfg).unwrap();
    let n = |sql: &str, s: &mut Store| s.sql_readonly(sql).unwrap().rows[0][0].as_i64().unwrap();
    [
        "SELECT count(*) FROM users",
        "SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL",
        "SELECT count(*) FROM redshifts",
        "SELECT count(*) FROM raw_files",
        "SELECT count(*) FROM runs",
        "SELECT count(*) FROM datasets",
    ]
    .iter()
    .map(|q| n(q, &mut s))
    .collect()
}

on_every_backend!(
    injection_and_traversal_in_every_parameter_are_refused_without_effect,
    injection_and_traversal_in_every_parameter_are_refused_without_effect_on
);

async fn injection_and_traversal_in_every_parameter_are_refused_without_effect_on(w: World) {
    let before = off_runtime(|| fingerprint(&w.store_cfg));
    let payloads = [
        "' OR '1'='1",
        "1; DROP TABLE users; --",
        "1) OR (1=1",
        "zcatalog; DELETE FROM raw_files",
        "../../../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%00",
        "<script>alert(1)</script>",
    ];
    for (doc, _) in api::routes() {
        for param in doc.params {
            for payload in payloads {
                let enc = astrolab_server::auth::oidc::percent_encode(payload);
                let uri = match param.place {
                    api::In::Path => {
                        concrete(&doc.path.replace(&format!("{{{}}}", param.name), &enc))
                    }
                    api::In::Query => {
                        // The other required parameters get valid values, so
                        // the payload is what the route has to refuse.
                        let mut q = vec![format!("{}={enc}", param.name)];
                        for other in doc.params.iter().filter(|o| {
                            o.place == api::In::Query && o.required && o.name != param.name
                        }) {
                            q.push(format!(
                                "{}={}",
                                other.name,
                                if other.ty == "number" {
                                    "10"
                                } else {
                                    "VoidFinder"
                                }
                            ));
                        }
                        format!("{}?{}", concrete(doc.path), q.join("&"))
                    }
                };
                let (s, body) = call(
                    &w,
                    method(doc.method),
                    &uri,
                    Some(&w.admin),
                    sample_body(&doc),
                )
                .await;
                assert!(s.is_client_error(), "{} {uri}: {s} {body}", doc.method);
                if s.is_client_error()
                    && s != StatusCode::NOT_FOUND
                    && s != StatusCode::METHOD_NOT_ALLOWED
                {
                    assert!(
                        body["error"]["message"].is_string(),
                        "{uri}: consistent error body: {body}"
                    );
                }
            }
        }
    }
    // A crossmatch upload whose content is an injection or a path is data, not code.
    for payload in [
        "ra,dec\n'; DROP TABLE users; --,1\n",
        "/etc/passwd",
        "ra,dec\n../../etc/passwd,2\n",
    ] {
        let (s, _) = call(
            &w,
            Method::POST,
            "/api/v1/xmatch",
            Some(&w.admin),
            Some(("text/csv", payload.as_bytes().to_vec())),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{payload:?}");
    }
    let traversal =
        br#"{"pipeline":"ingest","params":{"paths":["../../../../etc/passwd"]}}"#.to_vec();
    let (s, body) = call(
        &w,
        Method::POST,
        "/api/v1/runs",
        Some(&w.researcher),
        Some(("application/json", traversal)),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        off_runtime(|| fingerprint(&w.store_cfg)),
        before,
        "no attempt changed the store"
    );
}

on_every_backend!(oversized_bodies_get_413, oversized_bodies_get_413_on);

async fn oversized_bodies_get_413_on(w: World) {
    let big = format!("ra,dec\n{}", "10.0,10.0\n".repeat(10_000)).into_bytes();
    assert!(big.len() > 64 * 1024);
    let (s, _) = call(
        &w,
        Method::POST,
        "/api/v1/xmatch",
        Some(&w.admin),
        Some(("text/csv", big)),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let big_json = format!(
        r#"{{"pipeline":"demo-data","params":{{"x":"{}"}}}}"#,
        "a".repeat(100_000)
    )
    .into_bytes();
    let (s, _) = call(
        &w,
        Method::POST,
        "/api/v1/runs",
        Some(&w.researcher),
        Some(("application/json", big_json)),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // Results beyond the row limit are refused up front, naming the field.
    let (s, body) = call(
        &w,
        Method::GET,
        "/api/v1/cone?ra=10&dec=10&radius=1&limit=1000000",
        Some(&w.admin),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["field"], "limit");
}

on_every_backend!(
    session_calls_without_csrf_are_refused,
    session_calls_without_csrf_are_refused_on
);

async fn session_calls_without_csrf_are_refused_on(w: World) {
    let (cookie, csrf) = &w.session;
    let post = |with_csrf: bool| {
        let mut r = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/tokens")
            .header("cookie", cookie)
            .header("content-type", "application/json");
        if with_csrf {
            r = r.header("x-csrf-token", csrf);
        }
        r.body(Body::from(r#"{"name":"from the page"}"#)).unwrap()
    };
    let resp = app(w.state.clone()).oneshot(post(false)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = app(w.state.clone()).oneshot(post(true)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    // The content type proves nothing: a cross-site form posts
    // application/x-www-form-urlencoded (or text/plain) with the cookie.
    // Cancelling one's own queued run that way is refused, and the run
    // stays queued; with the header it is cancelled.
    let run = with_store(&w.store_cfg, |s| {
        s.submit_run(
            &astrolab_store::NewRun {
                pipeline: "query-cone".into(),
                params: serde_json::json!({"ra": 1.0, "dec": 2.0, "radius": "1deg"}),
                submitted_by: "rosa".into(),
                max_attempts: 1,
            },
            astrolab_server::clock::now_ms(),
        )
        .unwrap()
    });
    for ctype in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
    ] {
        let forged = Request::builder()
            .method(Method::POST)
            .uri(format!("/api/v1/runs/{}/cancel", run.run_id))
            .header("cookie", cookie)
            .header("content-type", ctype)
            .body(Body::from("a=b"))
            .unwrap();
        let resp = app(w.state.clone()).oneshot(forged).await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::FORBIDDEN,
            "{ctype} without X-CSRF-Token"
        );
    }
    let state = |w: &World| {
        with_store(&w.store_cfg, |s| {
            s.get_run(run.run_id).unwrap().unwrap().state
        })
    };
    assert_eq!(state(&w), astrolab_store::RunState::Queued);
    let with_header = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/runs/{}/cancel", run.run_id))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-csrf-token", csrf)
        .body(Body::from("a=b"))
        .unwrap();
    let resp = app(w.state.clone()).oneshot(with_header).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(state(&w), astrolab_store::RunState::Cancelled);
    // GETs need no token; a forged cookie gets nothing.
    let get = |c: &str| {
        Request::builder()
            .uri("/api/v1/me")
            .header("cookie", c)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        app(w.state.clone())
            .oneshot(get(cookie))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let forged = format!(
        "{}={}",
        astrolab_server::auth::SESSION_COOKIE,
        "f".repeat(64)
    );
    assert_eq!(
        app(w.state.clone())
            .oneshot(get(&forged))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

on_every_backend!(
    the_openapi_document_matches_the_router,
    the_openapi_document_matches_the_router_on
);

async fn the_openapi_document_matches_the_router_on(w: World) {
    let (s, doc) = call(&w, Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = 0;
    for (path, ops) in paths {
        for (m, op) in ops.as_object().unwrap() {
            documented += 1;
            // Every documented operation is routed: with an admin token it
            // never answers 404-for-no-route or 405.
            let route = api::routes()
                .into_iter()
                .find(|(d, _)| d.path == path && d.method.eq_ignore_ascii_case(m))
                .map(|(d, _)| d);
            let body = route.as_ref().and_then(sample_body);
            let (s, body) = call(
                &w,
                method(&m.to_uppercase()),
                &concrete(path),
                Some(&w.admin),
                body,
            )
            .await;
            assert_ne!(s, StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
            assert!(
                !(s == StatusCode::NOT_FOUND
                    && body["error"]["message"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("no such route")),
                "{m} {path} is documented but not routed"
            );
            for p in op["parameters"].as_array().unwrap() {
                if p["in"] == "path" {
                    assert!(
                        path.contains(&format!("{{{}}}", p["name"].as_str().unwrap())),
                        "{path}: path parameter {}",
                        p["name"]
                    );
                }
            }
        }
    }
    assert_eq!(documented, api::routes().len());
    // And nothing undocumented answers under /api/v1.
    let (s, _) = call(&w, Method::GET, "/api/v1/not-a-route", Some(&w.admin), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Status of `GET /api/v1/me` with a session cookie.
async fn me_with(w: &World, cookie: &str) -> StatusCode {
    let req = Request::builder()
        .uri("/api/v1/me")
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    app(w.state.clone()).oneshot(req).await.unwrap().status()
}

on_every_backend!(
    sessions_end_when_credentials_change,
    sessions_end_when_credentials_change_on
);

async fn sessions_end_when_credentials_change_on(w: World) {
    let session = |w: &World| with_store(&w.store_cfg, |s| new_session(s, "rosa"));
    let json = |v: &str| Some(("application/json", v.as_bytes().to_vec()));
    // An admin resets the password: the session opened before ends.
    let (cookie, _) = w.session.clone();
    assert_eq!(me_with(&w, &cookie).await, StatusCode::OK);
    let (st, _) = call(
        &w,
        Method::PATCH,
        "/api/v1/users/rosa",
        Some(&w.admin),
        json(r#"{"password": "a new long test password"}"#),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me_with(&w, &cookie).await, StatusCode::UNAUTHORIZED);
    // A role change.
    let (cookie, _) = session(&w);
    assert_eq!(me_with(&w, &cookie).await, StatusCode::OK);
    let (st, _) = call(
        &w,
        Method::PATCH,
        "/api/v1/users/rosa",
        Some(&w.admin),
        json(r#"{"role": "viewer"}"#),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me_with(&w, &cookie).await, StatusCode::UNAUTHORIZED);
    // The user changes their own password: a wrong current password
    // changes nothing; the right one ends every session, this one too.
    let (cookie, csrf) = session(&w);
    let (other, _) = session(&w);
    let change = |current: &str| {
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/me/password")
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .header("content-type", "application/json")
            .body(Body::from(format!(r#"{{"current_password": "{current}", "new_password": "yet another long password"}}"#)))
            .unwrap()
    };
    let resp = app(w.state.clone())
        .oneshot(change("not my password"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(me_with(&w, &other).await, StatusCode::OK);
    let resp = app(w.state.clone())
        .oneshot(change("a new long test password"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(me_with(&w, &cookie).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_with(&w, &other).await, StatusCode::UNAUTHORIZED);
    // Disabling.
    let (cookie, _) = session(&w);
    let (st, _) = call(
        &w,
        Method::PATCH,
        "/api/v1/users/rosa",
        Some(&w.admin),
        json(r#"{"disabled": true}"#),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me_with(&w, &cookie).await, StatusCode::UNAUTHORIZED);
    // The CLI's path (the store call an admin's `astrolab user password`
    // and `user role` make) ends sessions as well.
    let cookie = with_store(&w.store_cfg, |s| {
        s.set_user_disabled("rosa", false).unwrap();
        let (cookie, _) = new_session(s, "rosa");
        assert!(s
            .set_password_hash("rosa", "$argon2id$v=19$m=19456,t=2,p=1$x$y")
            .unwrap());
        cookie
    });
    assert_eq!(me_with(&w, &cookie).await, StatusCode::UNAUTHORIZED);
    let cookie = with_store(&w.store_cfg, |s| {
        let (cookie, _) = new_session(s, "rosa");
        assert!(s.set_user_role("rosa", Role::Researcher).unwrap());
        cookie
    });
    assert_eq!(me_with(&w, &cookie).await, StatusCode::UNAUTHORIZED);
}

/// `dataset.read` events of the secret dataset, per actor prefix and route.
fn secret_reads(w: &World, actor: &str, route: &str) -> usize {
    with_store(&w.store_cfg, |s| s.list_audit(1000, None).unwrap())
        .iter()
        .filter(|e| {
            e.event.action == "dataset.read"
                && e.event.target == "secret"
                && e.event.actor.starts_with(actor)
                && e.event.details["route"] == route
        })
        .count()
}

on_every_backend!(
    every_restricted_read_is_audited,
    every_restricted_read_is_audited_on
);

async fn every_restricted_read_is_audited_on(w: World) {
    let (ra, dec) = with_store(&w.store_cfg, |s| {
        let t = s
            .sql_readonly(&format!(
                "SELECT ra, dec FROM redshifts WHERE file_id = {} ORDER BY targetid LIMIT 1",
                w.secret_file
            ))
            .unwrap();
        (
            t.rows[0][0].as_f64().unwrap(),
            t.rows[0][1].as_f64().unwrap(),
        )
    });
    // The registry listing names the member's restricted file: one event;
    // the viewer sees no restricted file and leaves none.
    for token in [&w.researcher, &w.viewer] {
        let (st, _) = call(&w, Method::GET, "/api/v1/files", Some(token), None).await;
        assert_eq!(st, StatusCode::OK);
    }
    assert_eq!(secret_reads(&w, "rosa", "/api/v1/files"), 1);
    assert_eq!(secret_reads(&w, "vic", "/api/v1/files"), 0);
    // A crossmatch that matches a restricted row: one event for the member.
    let csv = format!("ra,dec\n{ra},{dec}\n").into_bytes();
    let uri = "/api/v1/xmatch?table=redshifts&radius_arcsec=1";
    let (st, v) = call(
        &w,
        Method::POST,
        uri,
        Some(&w.researcher),
        Some(("text/csv", csv.clone())),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
    let (st, v) = call(
        &w,
        Method::POST,
        uri,
        Some(&w.viewer),
        Some(("text/csv", csv)),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(secret_reads(&w, "rosa", "/api/v1/xmatch"), 1);
    assert_eq!(secret_reads(&w, "vic", "/api/v1/xmatch"), 0);
}

/// Sums of `n_galaxies` per vflag (wall, void) of a summary answer.
fn summary_counts(v: &Value) -> (i64, i64) {
    let items = v["items"].as_array().unwrap();
    let sum = |f: i64| {
        items
            .iter()
            .filter(|r| r["vflag"] == f)
            .map(|r| r["n_galaxies"].as_i64().unwrap())
            .sum()
    };
    (sum(0), sum(1))
}

/// The number in an element of a page, by id (`<dd id="total-rows">1,234</dd>`).
fn number_at(html: &str, id: &str) -> i64 {
    let at = html
        .find(&format!(r#"id="{id}">"#))
        .unwrap_or_else(|| panic!("no #{id}"));
    let rest = &html[at + id.len() + 6..];
    rest[..rest.find('<').unwrap()]
        .replace(',', "")
        .parse()
        .unwrap()
}

/// The dashboard's "Rows per table" as (table, rows).
fn table_counts(html: &str) -> Vec<(String, i64)> {
    let at = html.find("<caption>Rows per table</caption>").unwrap();
    let body = &html[at..html[at..].find("</tbody>").unwrap() + at];
    body.split("<tr><td>")
        .skip(1)
        .map(|row| {
            let name = row[..row.find('<').unwrap()].to_string();
            let num = &row[row.find(r#"class="num">"#).unwrap() + 12..];
            (
                name,
                num[..num.find('<').unwrap()]
                    .replace(',', "")
                    .parse()
                    .unwrap(),
            )
        })
        .collect()
}

/// Issue 14: galaxies classified from a restricted dataset's file stay
/// restricted in every void result and in the dashboard's counts; reads
/// of them are audited.
fn void_results_and_counts_follow_the_datasets(w: &World) {
    let mut store = Store::open(&w.store_cfg).unwrap();
    let b = store.backend();
    let public_file = store
        .raw_files()
        .unwrap()
        .iter()
        .find(|f| f.name.starts_with("redrock-4-"))
        .unwrap()
        .file_id;
    // A public FastSpecFit file with the properties of all 60 galaxies.
    let n = 60;
    let ids: Vec<i64> = (0..n as i64).map(|i| 39_627_100_000_000 + i).collect();
    let fsf = w.state.config.home.join("fastspec-voids.fits");
    common::write_fastspec(
        &fsf,
        &ids,
        &vec![150.0; n],
        &(0..n).map(|i| 2.0 + 0.01 * i as f64).collect::<Vec<_>>(),
        &vec![0.1; n],
        &(0..n)
            .map(|i| 10.0 + 0.1 * (i % 7) as f64)
            .collect::<Vec<_>>(),
        &vec![1.0; n],
    );
    store
        .ingest_file(&fsf, &IngestOptions::default(), &mut Progress::none())
        .unwrap();
    // Galaxies 0..36 were classified from the public file (12 void, 24
    // wall), 36..60 from the secret one (12 void, 12 wall); the void
    // catalog itself is public.
    let galaxies: Vec<(i64, u8, Option<i64>)> = ids
        .iter()
        .enumerate()
        .map(|(i, &t)| match i >= 36 {
            true => (t, [1u8, 0][i % 2], Some(w.secret_file)),
            false => (t, [1u8, 0, 0][i % 3], Some(public_file)),
        })
        .collect();
    common::write_voidfinder_membership(&mut store, &galaxies);

    // The dashboard counts only the rows the caller may read: the secret
    // file's redshifts (exactly as many as the file holds) are the only
    // difference.
    let count = |store: &mut Store, sql: &str| {
        store.sql_readonly(sql).unwrap().rows[0][0]
            .as_i64()
            .unwrap()
    };
    let secret_rows = count(
        &mut store,
        &format!(
            "SELECT count(*) FROM redshifts WHERE file_id = {}",
            w.secret_file
        ),
    );
    let all_redshifts = count(&mut store, "SELECT count(*) FROM redshifts");
    assert_eq!(
        (all_redshifts, secret_rows),
        (2, 1),
        "{b}: the shared files' rows"
    );
    // The routes run on a runtime of their own: the test's store calls
    // block (the PostgreSQL client cannot run inside a runtime).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // (token, who, wall, void) as each caller must see them.
        for (token, who, wall, void) in
            [(&w.viewer, "vic", 24, 12), (&w.researcher, "rosa", 36, 24)]
        {
            let (s, v) = call(w, Method::GET, "/api/v1/voids/summary", Some(token), None).await;
            assert_eq!(s, StatusCode::OK, "{b} {who}: {v}");
            assert_eq!(summary_counts(&v), (wall, void), "{b} {who}: {v}");
            let (s, v) = call(
                w,
                Method::GET,
                "/api/v1/voids/members?algorithm=VoidFinder&class=void&limit=100",
                Some(token),
                None,
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{b} {who}: {v}");
            assert_eq!(v["total"].as_i64(), Some(void), "{b} {who}: {v}");
            let listed: Vec<i64> = v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|it| it["targetid"].as_i64().unwrap())
                .collect();
            let want: Vec<i64> = (0..n)
                .filter(|&i| galaxies[i].1 == 1 && (who == "rosa" || i < 36))
                .map(|i| ids[i])
                .collect();
            assert_eq!(listed, want, "{b} {who}");
            let (s, v) = call(
                w,
                Method::GET,
                "/api/v1/voids/stats?algorithm=VoidFinder&property=logmstar",
                Some(token),
                None,
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{b} {who}: {v}");
            assert_eq!(
                (v["n_wall"].as_i64(), v["n_void"].as_i64()),
                (Some(wall), Some(void)),
                "{b} {who}: {v}"
            );
            let (s, html) = page(w, "/voids?algorithm=VoidFinder&property=logmstar", token).await;
            assert_eq!(s, StatusCode::OK, "{b} {who}");
            assert_eq!(
                (number_at(&html, "n-wall"), number_at(&html, "n-void")),
                (wall, void),
                "{b} {who}"
            );
        }

        for (token, who, redshifts) in [
            (&w.viewer, "vic", 1),
            (&w.researcher, "rosa", 2),
            (&w.admin, "ada", 2),
        ] {
            let (s, html) = page(w, "/", token).await;
            assert_eq!(s, StatusCode::OK, "{b} {who}");
            let tables = table_counts(&html);
            let of = |t: &str| tables.iter().find(|(n, _)| n == t).unwrap().1;
            assert_eq!(
                (of("redshifts"), of("fastspec")),
                (redshifts, 60),
                "{b} {who}: {tables:?}"
            );
            assert_eq!(
                tables.iter().map(|t| t.1).sum::<i64>(),
                redshifts + 60,
                "{b} {who}"
            );
            assert_eq!(number_at(&html, "total-rows"), redshifts + 60, "{b} {who}");
        }
    });

    // The member's reads of the secret galaxies are on the audit trail,
    // one per route; the viewer read nothing restricted.
    let audit = store.list_audit(500, None).unwrap();
    let reads = |actor: &str| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = audit
            .iter()
            .map(|r| &r.event)
            .filter(|e| e.action == "dataset.read" && e.actor.starts_with(actor))
            .map(|e| {
                (
                    e.details["route"].as_str().unwrap_or("").to_string(),
                    e.target.clone(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        reads("rosa"),
        [
            "/api/v1/voids/members",
            "/api/v1/voids/stats",
            "/api/v1/voids/summary",
            "/voids"
        ]
        .map(|r| (r.to_string(), "secret".to_string())),
        "{b}"
    );
    assert!(reads("vic").is_empty(), "{b}");
}

#[test]
fn void_results_and_dashboard_counts_follow_the_datasets_on_both_backends() {
    for postgres in [false, true] {
        if let Some(w) = world_on(postgres) {
            void_results_and_counts_follow_the_datasets(&w);
        }
    }
}
