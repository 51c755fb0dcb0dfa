//! The job queue end to end on PostgreSQL (issue 6 acceptance): three real
//! `astrolab worker` processes against one schema execute 200 runs of a
//! real pipeline (`query cone` on an ingested demo catalog), each exactly
//! once; the `astrolab serve` they were submitted to is killed and
//! restarted mid-queue and nothing is lost; a worker killed with SIGKILL mid-run has its run retried by
//! another worker, and it succeeds.
//!
//! Needs ASTROLAB_TEST_DATABASE_URL; with CI set, its absence fails.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use astrolab_store::{RunState, Store, StoreConfig};
use serde_json::json;

fn pg_url() -> Option<String> {
    match std::env::var("ASTROLAB_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "worker_queue: ASTROLAB_TEST_DATABASE_URL is not set (scripts/test sets it up)"
                );
            }
            eprintln!(
                "skipping worker_queue: ASTROLAB_TEST_DATABASE_URL not set (run ./scripts/test)"
            );
            None
        }
    }
}

/// The same database seen by the CLI (no schema setting of its own): the
/// schema goes into the URL as the connection's search_path.
fn schema_url(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{schema}%2Cpublic")
}

struct Lab {
    _dir: tempfile::TempDir,
    home: PathBuf,
    url: String,
    store: StoreConfig,
}

impl Lab {
    fn cli(&self) -> Command {
        let mut c = common::bin();
        c.env("ASTROLAB_HOME", &self.home)
            .env("ASTROLAB_DATABASE_URL", &self.url)
            .current_dir(&self.home);
        c
    }

    fn run_ok(&self, args: &[&str]) -> String {
        let o = self.cli().args(args).output().expect("run astrolab");
        assert!(
            o.status.success(),
            "astrolab {args:?} failed:\n{}",
            common::text(&o)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn worker(&self, id: &str) -> Child {
        self.cli()
            .args([
                "worker",
                "--id",
                id,
                "--poll-s",
                "0.1",
                "--lease-s",
                "3",
                "--grace-s",
                "10",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start astrolab worker")
    }

    /// A real `astrolab serve` over the same store (no in-process worker:
    /// the queue belongs to the worker processes).
    fn server(&self) -> (common::Server, String) {
        let mut c = self.cli();
        c.args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--no-worker",
            "--insecure-cookies",
        ]);
        common::start_server(c)
    }
}

fn setup() -> Option<Lab> {
    let base = pg_url()?;
    let dir = tempfile::tempdir().unwrap();
    let home = std::fs::canonicalize(dir.path()).unwrap().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let schema = format!(
        "t_workerqueue_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let store = StoreConfig {
        home: home.clone(),
        database_url: Some(base.clone()),
        pg_schema: Some(schema.clone()),
    };
    // Creates the schema and migrates it, so the workers find it ready.
    Store::open(&store).expect("open the test schema");
    Some(Lab {
        url: schema_url(&base, &schema),
        home,
        store,
        _dir: dir,
    })
}

/// Submits a run through the HTTP API as the researcher; returns its id.
fn submit(addr: &str, token: &str, pipeline: &str, params: serde_json::Value) -> i64 {
    let body = json!({ "pipeline": pipeline, "params": params }).to_string();
    let (status, answer) = common::http(
        addr,
        "POST",
        "/api/v1/runs",
        Some(token),
        "application/json",
        body.as_bytes(),
    );
    assert_eq!(status, 201, "submit {pipeline}: {answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    v["run_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no run_id in {answer}"))
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(
            t0.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop(mut c: Child) {
    // SIGTERM: the worker finishes its run and exits.
    let _ = Command::new("kill")
        .args(["-TERM", &c.id().to_string()])
        .status();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(15) {
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = c.kill();
    let _ = c.wait();
}

fn csv_target_ids(path: &Path) -> BTreeSet<i64> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = header
        .iter()
        .position(|h| h.eq_ignore_ascii_case("targetid") || h.eq_ignore_ascii_case("target_id"))
        .unwrap_or_else(|| panic!("{}: no targetid column in {header:?}", path.display()));
    lines
        .filter_map(|l| l.split(',').nth(col)?.trim().parse().ok())
        .collect()
}

#[test]
fn worker_queue_three_workers_200_runs_restart_and_sigkill() {
    let Some(lab) = setup() else { return };

    // A small real catalog in the store.
    let demo = lab.home.join("demo");
    lab.run_ok(&[
        "demo-data",
        demo.to_str().unwrap(),
        "--galaxies",
        "1500",
        "--no-spectra",
        "--seed",
        "7",
    ]);
    lab.run_ok(&["ingest", demo.to_str().unwrap()]);
    let mut store = Store::open(&lab.store).unwrap();
    let t = store
        .sql_readonly("SELECT targetid, ra, dec FROM zcatalog ORDER BY targetid LIMIT 200")
        .unwrap();
    assert_eq!(
        t.rows.len(),
        200,
        "the demo catalog has at least 200 galaxies"
    );
    let targets: Vec<(i64, f64, f64)> = t
        .rows
        .iter()
        .map(|r| {
            (
                r[0].as_i64().unwrap(),
                r[1].as_f64().unwrap(),
                r[2].as_f64().unwrap(),
            )
        })
        .collect();
    lab.run_ok(&[
        "user",
        "add",
        "rita",
        "--role",
        "researcher",
        "--no-password",
    ]);
    let token = lab
        .run_ok(&["token", "create", "--user", "rita"])
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();

    let workers: Vec<(String, Child)> = (1..=3)
        .map(|i| (format!("w{i}"), lab.worker(&format!("w{i}"))))
        .collect();

    // 200 cone runs, submitted over HTTP to a real `astrolab serve` in two
    // halves; between them the server is killed (SIGKILL: no chance to
    // tidy up) and started again, while the workers keep draining the queue.
    let mut runs: BTreeMap<i64, i64> = BTreeMap::new(); // run_id -> targetid
    let (server, addr) = lab.server();
    for &(tid, ra, dec) in &targets[..100] {
        let id = submit(
            &addr,
            &token,
            "query-cone",
            json!({"ra": ra, "dec": dec, "radius": "20arcsec"}),
        );
        runs.insert(id, tid);
    }
    drop(server);
    let (server, addr) = lab.server();
    for &(tid, ra, dec) in &targets[100..] {
        let id = submit(
            &addr,
            &token,
            "query cone",
            json!({"ra": ra, "dec": dec, "radius": "20arcsec"}),
        );
        runs.insert(id, tid);
    }
    assert_eq!(runs.len(), 200);

    wait_until("200 runs to finish", Duration::from_secs(150), || {
        let s = store.queue_stats(0).unwrap();
        s.queued == 0 && s.running == 0
    });
    let mut by_worker: BTreeMap<String, usize> = BTreeMap::new();
    for (&id, &tid) in &runs {
        let r = store.get_run(id).unwrap().expect("run exists");
        assert_eq!(r.state, RunState::Succeeded, "run {id}: {:?}", r.message);
        assert_eq!(r.exit_code, Some(0));
        let attempts = store.run_attempts(id).unwrap();
        assert_eq!(attempts.len(), 1, "run {id} executed once: {attempts:?}");
        assert_eq!(attempts[0].outcome.as_deref(), Some("succeeded"));
        *by_worker.entry(attempts[0].worker_id.clone()).or_default() += 1;
        // The result names the CSV, which holds the galaxy at the centre.
        let result = r.result.expect("result");
        let run_dir = PathBuf::from(result["run_dir"].as_str().unwrap());
        assert_eq!(run_dir, lab.home.join("runs").join(id.to_string()));
        assert!(
            result["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["path"] == "cone.csv"),
            "{result}"
        );
        let ids = csv_target_ids(&run_dir.join("cone.csv"));
        assert!(
            ids.contains(&tid),
            "run {id}: cone around {tid} returned {ids:?}"
        );
        // The command line is the first log line.
        let logs = store.run_logs(id, 0, 10).unwrap();
        assert!(
            logs[0].line.starts_with("$ astrolab query cone --"),
            "{logs:?}"
        );
    }
    assert_eq!(by_worker.values().sum::<usize>(), 200);
    assert!(by_worker.len() >= 2, "the work was shared: {by_worker:?}");
    // Every attempt of every run, across all workers: 200, no run twice.
    let all = store
        .sql_readonly("SELECT COUNT(*), COUNT(DISTINCT run_id) FROM run_attempts")
        .unwrap();
    assert_eq!(all.rows[0][0].as_i64(), Some(200));
    assert_eq!(all.rows[0][1].as_i64(), Some(200));

    // A slow run; SIGKILL the worker running it.
    let slow = submit(
        &addr,
        &token,
        "demo-data",
        json!({"galaxies": 150000, "no_spectra": true, "seed": 3}),
    );
    let mut running_on = String::new();
    wait_until("the slow run to start", Duration::from_secs(30), || {
        let r = store.get_run(slow).unwrap().unwrap();
        if r.state == RunState::Running {
            running_on = r.worker_id.unwrap_or_default();
            true
        } else {
            false
        }
    });
    std::thread::sleep(Duration::from_millis(700));
    let mut rest = Vec::new();
    for (name, mut child) in workers {
        if name == running_on {
            child.kill().expect("SIGKILL the worker"); // Child::kill is SIGKILL
            child.wait().unwrap();
        } else {
            rest.push(child);
        }
    }
    assert_eq!(
        rest.len(),
        2,
        "the slow run ran on one of ours: {running_on}"
    );
    wait_until(
        "the slow run to be retried and finish",
        Duration::from_secs(120),
        || store.get_run(slow).unwrap().unwrap().state.is_terminal(),
    );
    let r = store.get_run(slow).unwrap().unwrap();
    assert_eq!(r.state, RunState::Succeeded, "{:?}", r.message);
    let attempts = store.run_attempts(slow).unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0].worker_id, running_on);
    assert_eq!(attempts[0].outcome.as_deref(), Some("lost"));
    assert_ne!(attempts[1].worker_id, running_on);
    assert_eq!(attempts[1].outcome.as_deref(), Some("succeeded"));
    // Never twice at once: the retry started after the lost attempt ended.
    assert!(
        attempts[1].started_ms >= attempts[0].finished_ms.unwrap(),
        "{attempts:?}"
    );
    let result = r.result.unwrap();
    assert!(
        result["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"].as_str().unwrap_or("").starts_with("demo/")),
        "{result}"
    );
    drop(server);
    for c in rest {
        stop(c);
    }
}
