//! The web pages through the real router: anonymous visitors are sent to
//! log in, the login form (double-submit CSRF, wrong and right password,
//! the cookie's flags), CSRF on every form, logout, escaping of every
//! parameter, and the pages' contents for each role.

use std::path::PathBuf;

use astrolab_server::auth::secrets;
use astrolab_server::{app, build_state, AppState, ServerConfig};
use astrolab_store::{IngestOptions, NewUser, Progress, Role, Store, StoreConfig};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use tower::ServiceExt;

const PASSWORD: &str = "a long test password";

struct World {
    _dir: tempfile::TempDir,
    state: AppState,
    store_cfg: StoreConfig,
}

fn world(with_catalog: bool) -> Option<World> {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let store_cfg = StoreConfig::sqlite(&home);
    let mut store = Store::open(&store_cfg).unwrap();
    if with_catalog {
        let data = astrolab_formats::testdata::require_shared_data("pages")?;
        store
            .ingest_file(
                &data.join("desi/redrock-4-80613-thru20210324.fits"),
                &IngestOptions::default(),
                &mut Progress::none(),
            )
            .unwrap();
    }
    for (name, role) in [
        ("ada", Role::Admin),
        ("rosa", Role::Researcher),
        ("vic", Role::Viewer),
    ] {
        store
            .create_user(&NewUser {
                username: name.into(),
                role,
                password_hash: Some(secrets::hash_password(PASSWORD).unwrap()),
                oidc_subject: None,
                email: None,
                projects: Vec::new(),
            })
            .unwrap();
    }
    let mut cfg = ServerConfig::defaults(home, PathBuf::from("/nonexistent/astrolab"));
    cfg.in_process_worker = false;
    let state = build_state(cfg, store_cfg.clone()).unwrap();
    Some(World {
        _dir: dir,
        state,
        store_cfg,
    })
}

struct Resp {
    status: StatusCode,
    location: String,
    cookies: Vec<String>,
    body: String,
}

async fn send(
    w: &World,
    method: Method,
    uri: &str,
    cookie: &str,
    form: Option<&[(&str, &str)]>,
) -> Resp {
    let mut req = Request::builder().method(method).uri(uri);
    if !cookie.is_empty() {
        req = req.header(header::COOKIE, cookie);
    }
    let body = match form {
        Some(pairs) => {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            let enc: Vec<String> = pairs
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        astrolab_server::pages::url_encode(k),
                        astrolab_server::pages::url_encode(v)
                    )
                })
                .collect();
            Body::from(enc.join("&"))
        }
        None => Body::empty(),
    };
    let resp = app(w.state.clone())
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let location = resp
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let cookies = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap();
    Resp {
        status,
        location,
        cookies,
        body: String::from_utf8_lossy(&bytes).to_string(),
    }
}

async fn get(w: &World, uri: &str, cookie: &str) -> Resp {
    send(w, Method::GET, uri, cookie, None).await
}

/// The `value` of the first hidden field named `name`.
fn hidden(html: &str, name: &str) -> String {
    let key = format!(r#"name="{name}" value=""#);
    let at = html
        .find(&key)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        + key.len();
    html[at..].split('"').next().unwrap().to_string()
}

/// `name=value` of a Set-Cookie.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

fn find_cookie<'a>(r: &'a Resp, name: &str) -> Option<&'a String> {
    r.cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// Logs in through the form; returns the session cookie and its CSRF token.
async fn login(w: &World, user: &str) -> (String, String) {
    let form = get(w, "/login?next=/account", "").await;
    assert_eq!(form.status, StatusCode::OK);
    let pre = cookie_pair(find_cookie(&form, "astrolab_login_csrf").expect("login CSRF cookie"));
    let token = hidden(&form.body, "csrf");
    let r = send(
        w,
        Method::POST,
        "/login",
        &pre,
        Some(&[
            ("csrf", &token),
            ("next", "/account"),
            ("username", user),
            ("password", PASSWORD),
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location, "/account");
    let session = cookie_pair(find_cookie(&r, "astrolab_session").expect("session cookie"));
    let page = get(w, "/account", &session).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = hidden(&page.body, "csrf");
    (session, csrf)
}

const PAGES: &[&str] = &[
    "/",
    "/catalog",
    "/catalog?ra=10&dec=20&radius=1",
    "/spectra",
    "/spectra/39627646380970001",
    "/voids",
    "/hline",
    "/runs",
    "/runs/1",
    "/account",
    "/admin",
];

#[tokio::test]
async fn pages_send_anonymous_visitors_to_log_in() {
    let w = world(false).unwrap();
    for page in PAGES {
        let r = get(&w, page, "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(
            r.location,
            format!("/login?next={}", astrolab_server::pages::url_encode(page)),
            "{page}"
        );
    }
    // A stale or forged session cookie is "not logged in" too.
    let r = get(&w, "/", &format!("astrolab_session={}", "ab".repeat(32))).await;
    assert_eq!(
        (r.status, r.location.as_str()),
        (StatusCode::SEE_OTHER, "/login?next=%2F")
    );
    // The login page and the static files are open.
    let login = get(&w, "/login", "").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(
        login.body.contains(r#"<html lang="en">"#)
            && login.body.contains(r#"<label for="password">"#)
    );
    assert!(
        !login.body.contains("/auth/oidc/login"),
        "no OIDC button when it is not configured"
    );
    for (path, ctype) in [
        ("/static/app.css", "text/css"),
        ("/static/app.js", "text/javascript"),
    ] {
        let r = app(w.state.clone())
            .oneshot(Request::builder().uri(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with(ctype));
    }
    // Public reading turns anonymous visitors into viewers of the data
    // pages; the account pages still need a login.
    let mut cfg = (*w.state.config).clone();
    cfg.public_read = true;
    let open = World {
        _dir: tempfile::tempdir().unwrap(),
        state: build_state(cfg, w.store_cfg.clone()).unwrap(),
        store_cfg: w.store_cfg.clone(),
    };
    assert_eq!(get(&open, "/", "").await.status, StatusCode::OK);
    assert_eq!(
        get(&open, "/account", "").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(get(&open, "/admin", "").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn login_checks_the_form_token_and_the_password() {
    let w = world(false).unwrap();
    let form = get(&w, "/login?next=/runs", "").await;
    let pre_set = find_cookie(&form, "astrolab_login_csrf").unwrap().clone();
    assert!(
        pre_set.contains("HttpOnly") && pre_set.contains("SameSite=Strict"),
        "{pre_set}"
    );
    let pre = cookie_pair(&pre_set);
    let token = hidden(&form.body, "csrf");
    assert_eq!(hidden(&form.body, "next"), "/runs");
    let post = |cookie: String, fields: Vec<(&'static str, String)>| {
        let w = &w;
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            send(w, Method::POST, "/login", &cookie, Some(&pairs)).await
        }
    };
    let fields = |csrf: &str, pw: &str, next: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("next", next.to_string()),
            ("username", "rosa".to_string()),
            ("password", pw.to_string()),
        ]
    };
    // Without the cookie, or with a field that differs: refused before any password check.
    let r = post(String::new(), fields(&token, PASSWORD, "/runs")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(find_cookie(&r, "astrolab_session").is_none());
    let r = post(pre.clone(), fields(&"0".repeat(64), PASSWORD, "/runs")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A wrong password: 401, the same message as for an unknown user, no session.
    let r = post(pre.clone(), fields(&token, "not the password", "/runs")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("wrong username or password"));
    assert!(find_cookie(&r, "astrolab_session").is_none());
    // The right one: a Secure, HttpOnly session cookie and back to `next`.
    let r = post(pre.clone(), fields(&token, PASSWORD, "/runs")).await;
    assert_eq!(
        (r.status, r.location.as_str()),
        (StatusCode::SEE_OTHER, "/runs")
    );
    let set = find_cookie(&r, "astrolab_session").unwrap();
    for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(flag), "{flag} missing from {set}");
    }
    let session = cookie_pair(set);
    assert_eq!(session.len(), "astrolab_session=".len() + 64);
    let page = get(&w, "/runs", &session).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("rosa") && page.body.contains("Submit a run"));
    // `next` must be a local path: other sites fall back to the dashboard.
    for evil in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let r = post(pre.clone(), fields(&token, PASSWORD, evil)).await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (StatusCode::SEE_OTHER, "/"),
            "{evil}"
        );
    }
    // Failed logins are in the audit log.
    let mut store = Store::open(&w.store_cfg).unwrap();
    let failed = store
        .list_audit(100, None)
        .unwrap()
        .into_iter()
        .filter(|e| e.event.action == "login" && e.event.outcome == "failed")
        .count();
    assert_eq!(failed, 1);
}

/// A form post: path, session cookie, fields.
type Post<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);

#[tokio::test]
async fn form_posts_need_the_sessions_csrf_token() {
    let w = world(false).unwrap();
    let (rosa, csrf) = login(&w, "rosa").await;
    let (ada, ada_csrf) = login(&w, "ada").await;
    let posts: &[Post<'_>] = &[
        (
            "/account/tokens",
            &rosa,
            vec![("name", "ci"), ("expires_days", "5")],
        ),
        (
            "/runs",
            &rosa,
            vec![
                ("pipeline", "query-cone"),
                ("params", r#"{"ra": 1, "dec": 2, "radius": "1deg"}"#),
            ],
        ),
        ("/runs/1/cancel", &rosa, vec![]),
        ("/account/tokens/0123abcd/revoke", &rosa, vec![]),
        (
            "/admin/users",
            &ada,
            vec![
                ("username", "mallory"),
                ("role", "admin"),
                ("password", PASSWORD),
            ],
        ),
        ("/admin/users/rosa", &ada, vec![("action", "disable")]),
        ("/logout", &rosa, vec![]),
    ];
    for (uri, cookie, fields) in posts {
        let r = send(&w, Method::POST, uri, cookie, Some(fields)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri} without a token");
        assert!(r.body.contains("CSRF"), "{uri}: {}", r.body);
        let mut wrong = fields.clone();
        wrong.push(("csrf", "f00d"));
        let r = send(&w, Method::POST, uri, cookie, Some(&wrong)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri} with a wrong token");
        // One session's token is no good for another session.
        let mut other = fields.clone();
        other.push(("csrf", if *cookie == rosa { &ada_csrf } else { &csrf }));
        let r = send(&w, Method::POST, uri, cookie, Some(&other)).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{uri} with another session's token"
        );
    }
    // Nothing happened: no token, no run, no user, rosa still enabled.
    let mut store = Store::open(&w.store_cfg).unwrap();
    assert!(store.list_api_tokens(None).unwrap().is_empty());
    assert_eq!(store.list_runs(None, None, 10, 0).unwrap().1, 0);
    assert!(store.user_by_name("mallory").unwrap().is_none());
    assert!(!store.user_by_name("rosa").unwrap().unwrap().0.disabled);
    assert_eq!(get(&w, "/account", &rosa).await.status, StatusCode::OK);

    // With the right token the same forms work.
    let r = send(
        &w,
        Method::POST,
        "/account/tokens",
        &rosa,
        Some(&[("name", "ci"), ("expires_days", "5"), ("csrf", &csrf)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let shown = r
        .body
        .split(r#"<code id="new-token" class="secret">"#)
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert!(secrets::looks_like_token(shown), "{shown}");
    let tokens = store.list_api_tokens(None).unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        (tokens[0].role, tokens[0].name.as_str()),
        (Role::Researcher, "ci")
    );
    assert_eq!(secrets::sha256_hex(shown).len(), 64);
    // Shown once: the account page lists the prefix, never the token.
    let page = get(&w, "/account", &rosa).await;
    assert!(page.body.contains(&tokens[0].prefix) && !page.body.contains(shown));
    // Revoked at once.
    let uri = format!("/account/tokens/{}/revoke", tokens[0].prefix);
    let r = send(&w, Method::POST, &uri, &rosa, Some(&[("csrf", &csrf)])).await;
    assert_eq!(
        (r.status, r.location.as_str()),
        (StatusCode::SEE_OTHER, "/account")
    );
    assert!(store.list_api_tokens(None).unwrap()[0].revoked_at.is_some());
    // A run through the page is queued and audited like one through the API.
    let r = send(
        &w,
        Method::POST,
        "/runs",
        &rosa,
        Some(&[
            ("pipeline", "query-cone"),
            ("params", r#"{"ra": 1, "dec": 2, "radius": "1deg"}"#),
            ("csrf", &csrf),
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (runs, _) = store.list_runs(None, None, 10, 0).unwrap();
    assert_eq!(r.location, format!("/runs/{}", runs[0].run_id));
    assert_eq!(
        (runs[0].pipeline.as_str(), runs[0].submitted_by.as_str()),
        ("query-cone", "rosa")
    );
    let audit = store.list_audit(100, None).unwrap();
    assert!(audit.iter().any(|e| e.event.action == "run.submit"
        && e.event.outcome == "ok"
        && e.event.actor == "rosa"));
    // A bad parameter is refused with the API's message, naming the field.
    let r = send(
        &w,
        Method::POST,
        "/runs",
        &rosa,
        Some(&[
            ("pipeline", "query-cone"),
            ("params", r#"{"ra": "x"}"#),
            ("csrf", &csrf),
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("params."), "{}", r.body);
    // Admin forms: add a user, change a role.
    let r = send(
        &w,
        Method::POST,
        "/admin/users",
        &ada,
        Some(&[
            ("username", "newbie"),
            ("role", "viewer"),
            ("password", PASSWORD),
            ("projects", "p1, p2"),
            ("csrf", &ada_csrf),
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (u, _) = store.user_by_name("newbie").unwrap().unwrap();
    assert_eq!(
        (u.role, u.projects.clone()),
        (Role::Viewer, vec!["p1".to_string(), "p2".to_string()])
    );
    let r = send(
        &w,
        Method::POST,
        "/admin/users/newbie",
        &ada,
        Some(&[
            ("action", "role"),
            ("role", "researcher"),
            ("csrf", &ada_csrf),
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        store.user_by_name("newbie").unwrap().unwrap().0.role,
        Role::Researcher
    );
    // The last admin cannot demote themselves (the API's rule).
    let r = send(
        &w,
        Method::POST,
        "/admin/users/ada",
        &ada,
        Some(&[("action", "role"), ("role", "viewer"), ("csrf", &ada_csrf)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // Researchers cannot use the admin forms even with their token.
    let r = send(
        &w,
        Method::POST,
        "/admin/users",
        &rosa,
        Some(&[("username", "x"), ("role", "admin"), ("csrf", &csrf)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let w = world(false).unwrap();
    let (session, csrf) = login(&w, "vic").await;
    assert_eq!(get(&w, "/", &session).await.status, StatusCode::OK);
    let r = send(
        &w,
        Method::POST,
        "/logout",
        &session,
        Some(&[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(
        (r.status, r.location.as_str()),
        (StatusCode::SEE_OTHER, "/login")
    );
    let cleared = find_cookie(&r, "astrolab_session").unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie is dead on the server, not just in the browser.
    let r = get(&w, "/", &session).await;
    assert_eq!(
        (r.status, r.location.as_str()),
        (StatusCode::SEE_OTHER, "/login?next=%2F")
    );
    let api = app(w.state.clone())
        .oneshot(
            Request::builder()
                .uri("/api/v1/me")
                .header(header::COOKIE, &session)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_parameter_comes_back_escaped() {
    let w = world(false).unwrap();
    let (session, csrf) = login(&w, "rosa").await;
    let x = r#"<script>alert("x")</script>"#;
    let xe = astrolab_server::pages::url_encode(x);
    let attr = r#""><img src=x onerror=alert(1)>"#;
    let ae = astrolab_server::pages::url_encode(attr);
    let uris = [
        format!("/catalog?ra={xe}&dec=1&radius=1"),
        format!("/catalog?ra=1&dec={ae}&radius={xe}&where={ae}"),
        format!("/catalog?ra=10&dec=10&radius=1&where={xe}"),
        format!("/catalog?table={xe}&ra=10&dec=10&radius=1"),
        format!("/spectra?targetid={xe}"),
        format!("/spectra/{xe}"),
        format!("/runs?state={xe}"),
        format!("/runs/{xe}"),
        format!("/voids?algorithm={xe}&property={ae}"),
        format!("/hline?file_id={xe}"),
        format!("/login?next={xe}"),
    ];
    for uri in &uris {
        let r = get(&w, uri, &session).await;
        assert!(!r.body.contains("<script>alert"), "{uri}: {}", r.body);
        assert!(!r.body.contains("<img src=x"), "{uri}: {}", r.body);
        assert!(
            r.body.contains("<!doctype html>") || r.status == StatusCode::SEE_OTHER,
            "{uri}: an HTML page ({})",
            r.status
        );
    }
    // The catalog form keeps what was typed, escaped.
    let r = get(
        &w,
        &format!("/catalog?ra=1&dec=1&radius=1&where={ae}"),
        &session,
    )
    .await;
    assert!(
        r.body
            .contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        r.body
    );
    // Posted values shown back: the run form and a token's name.
    let r = send(
        &w,
        Method::POST,
        "/runs",
        &session,
        Some(&[("pipeline", attr), ("params", x), ("csrf", &csrf)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        !r.body.contains("<script>alert") && !r.body.contains("<img src=x"),
        "{}",
        r.body
    );
    assert!(r
        .body
        .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    let r = send(
        &w,
        Method::POST,
        "/account/tokens",
        &session,
        Some(&[("name", x), ("expires_days", "1"), ("csrf", &csrf)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let page = get(&w, "/account", &session).await;
    assert!(!page.body.contains("<script>alert") && page.body.contains("&lt;script&gt;alert"));
    // Login form: the username typed is shown back escaped.
    let form = get(&w, "/login", "").await;
    let pre = cookie_pair(find_cookie(&form, "astrolab_login_csrf").unwrap());
    let r = send(
        &w,
        Method::POST,
        "/login",
        &pre,
        Some(&[
            ("csrf", &hidden(&form.body, "csrf")),
            ("username", attr),
            ("password", "x"),
        ]),
    )
    .await;
    assert!(
        !r.body.contains("<img src=x") && r.body.contains("&quot;&gt;&lt;img"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn pages_show_the_data_each_role_may_see() {
    let Some(w) = world(true) else { return };
    let (vic, _) = login(&w, "vic").await;
    let (rosa, _) = login(&w, "rosa").await;
    let (ada, _) = login(&w, "ada").await;
    let mut store = Store::open(&w.store_cfg).unwrap();
    let n_rows: i64 = store.table_row_counts().unwrap().iter().map(|t| t.1).sum();
    assert!(n_rows > 0);
    // Every page renders for every role, as a complete accessible page.
    for (who, cookie) in [("vic", &vic), ("rosa", &rosa), ("ada", &ada)] {
        for page in PAGES {
            let r = get(&w, page, cookie).await;
            let expect = match *page {
                "/admin" if who != "ada" => StatusCode::FORBIDDEN,
                "/spectra/39627646380970001" | "/runs/1" => StatusCode::NOT_FOUND,
                _ => StatusCode::OK,
            };
            assert_eq!(r.status, expect, "{who} {page}: {}", r.body);
            assert!(
                r.body.contains(r#"<html lang="en">"#)
                    && r.body.contains(r##"<a class="skip" href="#main">"##),
                "{page}"
            );
            assert!(r.body.contains(r#"name="viewport""#));
            assert!(
                !r.body.contains("<script>") && !r.body.contains("style="),
                "{page}: no inline script or style"
            );
        }
    }
    // The dashboard counts the ingested rows.
    let r = get(&w, "/", &vic).await;
    let shown = r
        .body
        .split(r#"<dd id="total-rows">"#)
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .replace(',', "");
    assert_eq!(shown.parse::<i64>().unwrap(), n_rows);
    // A cone search around a real target finds it, nearest first, with a
    // link to its spectrum and a point on the sky plot.
    let t = store
        .sql_readonly("SELECT targetid, ra, dec FROM redshifts ORDER BY targetid LIMIT 1")
        .unwrap();
    let (tid, ra, dec) = (
        t.rows[0][0].as_i64().unwrap(),
        t.rows[0][1].as_f64().unwrap(),
        t.rows[0][2].as_f64().unwrap(),
    );
    let within = store
        .cone(&astrolab_store::ConeQuery {
            table: "redshifts".into(),
            ra_deg: ra,
            dec_deg: dec,
            radius_deg: 0.5,
            ..Default::default()
        })
        .unwrap()
        .rows
        .len()
        .min(200);
    let r = get(
        &w,
        &format!("/catalog?table=redshifts&ra={ra}&dec={dec}&radius=0.5"),
        &vic,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body
            .contains(&format!(r#"<p id="result-count">{within} rows"#)),
        "{}",
        r.body
    );
    assert_eq!(
        r.body.matches("<tr>").count(),
        within + 1,
        "a header row and one row per hit"
    );
    assert!(r
        .body
        .contains(&format!(r#"<a href="/spectra/{tid}">{tid}</a>"#)));
    assert_eq!(
        r.body.matches(r##"r="2.5" fill="#ffd166""##).count(),
        within
    );
    // Bad input is the API's 400, naming the field, on the page.
    let r = get(&w, "/catalog?ra=400&dec=0&radius=1", &vic).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("field ra"));
    // Viewers get no submit form; researchers do, with every pipeline.
    assert!(!get(&w, "/runs", &vic).await.body.contains("Submit a run"));
    let runs = get(&w, "/runs", &rosa).await.body;
    for p in astrolab_server::pipelines::catalog() {
        assert!(
            runs.contains(&format!(r#"<option value="{0}""#, p.name)),
            "{}",
            p.name
        );
    }
    // The admin page lists the users and the audit trail.
    let admin = get(&w, "/admin", &ada).await.body;
    for u in ["ada", "rosa", "vic"] {
        assert!(admin.contains(&format!("<td>{u}</td>")), "{u}");
    }
    assert!(admin.contains("<td>login</td>"));
}

#[tokio::test]
async fn failed_logins_are_throttled_and_audited() {
    let w = world(false).unwrap();
    let form = get(&w, "/login", "").await;
    let pre = cookie_pair(find_cookie(&form, "astrolab_login_csrf").unwrap());
    let token = hidden(&form.body, "csrf");
    let attempt = |pw: &'static str| {
        let (w, pre, token) = (&w, pre.clone(), token.clone());
        async move {
            send(
                w,
                Method::POST,
                "/login",
                &pre,
                Some(&[
                    ("csrf", &token),
                    ("next", "/"),
                    ("username", "rosa"),
                    ("password", pw),
                ]),
            )
            .await
        }
    };
    let limit = astrolab_server::auth::limiter::MAX_FAILURES;
    for _ in 0..limit {
        assert_eq!(attempt("guess").await.status, StatusCode::UNAUTHORIZED);
    }
    // Now even the right password is refused until the window passes.
    let r = attempt(PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(find_cookie(&r, "astrolab_session").is_none());
    let mut store = astrolab_store::Store::open(&w.store_cfg).unwrap();
    let events = store.list_audit(100, None).unwrap();
    let count = |outcome: &str| {
        events
            .iter()
            .filter(|e| {
                e.event.action == "login" && e.event.actor == "rosa" && e.event.outcome == outcome
            })
            .count()
    };
    assert_eq!(count("failed"), limit, "every failure is audited");
    assert_eq!(count("denied"), 1, "the throttled attempt too");
}
