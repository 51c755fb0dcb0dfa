//! A real Prometheus (Debian package `prometheus`, found through
//! ASTROLAB_PROMETHEUS or PATH) scrapes a running server's `/metrics`, and
//! a PromQL query returns the request count we made.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use astrolab_server::{build_state, serve, ServerConfig};
use astrolab_store::StoreConfig;

fn prometheus_binary() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("ASTROLAB_PROMETHEUS").map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/prometheus")),
    ];
    if let Some(p) = candidates.into_iter().flatten().find(|p| p.is_file()) {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!("prometheus not found (scripts/test installs the Debian package; or set ASTROLAB_PROMETHEUS)");
    }
    eprintln!("skipping: prometheus not installed (run ./scripts/test as root, or set ASTROLAB_PROMETHEUS)");
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the child on every exit path of the test.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(url: &str) -> Option<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent.get(url).call().ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.body_mut().read_to_string().ok()?))
}

#[test]
fn prometheus_scrapes_the_request_count() {
    let Some(prom) = prometheus_binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut cfg = ServerConfig::defaults(home.clone(), PathBuf::from("/nonexistent"));
    cfg.bind = "127.0.0.1:0".parse().unwrap();
    cfg.in_process_worker = false;
    let state = build_state(cfg, StoreConfig::sqlite(&home)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(serve(state, move |addr| tx.send(addr).unwrap()))
            .unwrap();
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).unwrap();

    // Requests Prometheus should count: 7 health checks and 3 refused API calls.
    for _ in 0..7 {
        assert_eq!(get(&format!("http://{addr}/healthz")).unwrap().0, 200);
    }
    for _ in 0..3 {
        assert_eq!(get(&format!("http://{addr}/api/v1/me")).unwrap().0, 401);
    }

    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: astrolab\n    static_configs:\n      - targets: ['{addr}']\n"
        ),
    )
    .unwrap();
    let _prom = Child(
        Command::new(&prom)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );

    let query = "sum(astrolab_http_requests_total{route=\"/healthz\",status=\"200\"})";
    let url = format!(
        "http://127.0.0.1:{port}/api/v1/query?query={}",
        astrolab_server::auth::oidc::percent_encode(query)
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Some((200, body)) = get(&url) {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            if let Some(sample) = v["data"]["result"][0]["value"][1].as_str() {
                let n: f64 = sample.parse().unwrap();
                // The scrapes themselves are /metrics, not /healthz: the
                // count is exactly what we sent.
                assert_eq!(n, 7.0, "{body}");
                let refused = format!(
                    "http://127.0.0.1:{port}/api/v1/query?query={}",
                    astrolab_server::auth::oidc::percent_encode(
                        "sum(astrolab_http_requests_total{route=\"/api/v1/me\",status=\"401\"})"
                    )
                );
                let (_, body) = get(&refused).unwrap();
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["data"]["result"][0]["value"][1], "3", "{body}");
                let up = format!("http://127.0.0.1:{port}/api/v1/query?query=up");
                let (_, body) = get(&up).unwrap();
                assert!(body.contains("\"astrolab\""), "{body}");
                return;
            }
            last = body;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("Prometheus never returned the request count; last answer: {last}");
}
