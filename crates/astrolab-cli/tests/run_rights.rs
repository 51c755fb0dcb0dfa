//! Runs carry their submitter's rights (issue 14), end to end: a real
//! `astrolab serve` (and, on PostgreSQL, an `astrolab worker`) executes
//! queued pipelines, on both backends.
//!
//! The attack it closes: a researcher outside a project ran `query-cone`
//! over the project's restricted rows (the pipeline applied no dataset
//! rules), then `ingest` of the run's own `cone.csv`, which landed in no
//! dataset, so every viewer could read it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use astrolab_store::{ConeQuery, IngestOptions, Progress, Store, StoreConfig};
use serde_json::{json, Value};

const PASSWORD: &str = "a long test password";

struct Lab {
    _dir: tempfile::TempDir,
    home: PathBuf,
    store: StoreConfig,
    url: Option<String>,
}

impl Lab {
    fn cli(&self) -> Command {
        let mut c = common::bin();
        c.env("ASTROLAB_HOME", &self.home).current_dir(&self.home);
        if let Some(u) = &self.url {
            c.env("ASTROLAB_DATABASE_URL", u);
        }
        c
    }

    fn run_ok(&self, args: &[&str]) -> String {
        let o = self
            .cli()
            .env("ASTROLAB_NEW_PASSWORD", PASSWORD)
            .args(args)
            .output()
            .expect("run astrolab");
        assert!(
            o.status.success(),
            "astrolab {args:?}:\n{}",
            common::text(&o)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn token(&self, user: &str, role: &str) -> String {
        let out = self.run_ok(&["token", "create", "--user", user, "--role", role]);
        out.lines().last().unwrap().trim().to_string()
    }

    /// The server (with its own worker on SQLite) and, on PostgreSQL, a
    /// worker process.
    fn start(&self) -> (common::Server, Option<Worker>, String) {
        let mut c = self.cli();
        c.args(["serve", "--bind", "127.0.0.1:0", "--insecure-cookies"]);
        if self.url.is_some() {
            c.arg("--no-worker");
        }
        let (server, addr) = common::start_server(c);
        let worker = self.url.as_ref().map(|_| {
            Worker(
                self.cli()
                    .args(["worker", "--id", "w1", "--poll-s", "0.1"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start astrolab worker"),
            )
        });
        (server, worker, addr)
    }
}

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn labs() -> Vec<Lab> {
    let mut out = Vec::new();
    for pg in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(dir.path()).unwrap().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let store = if pg {
            match astrolab_store::testing::pg_config_in("run_rights", &home) {
                Some(c) => c,
                None => continue,
            }
        } else {
            StoreConfig::sqlite(&home)
        };
        Store::open(&store).expect("open the test store");
        out.push(Lab {
            url: astrolab_store::testing::child_database_url(&store),
            _dir: dir,
            home,
            store,
        });
    }
    out
}

fn api(addr: &str, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let (status, text) = common::http(
        addr,
        method,
        path,
        Some(token),
        "application/json",
        body.as_bytes(),
    );
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn submit(addr: &str, token: &str, pipeline: &str, params: Value) -> (u16, Value) {
    api(
        addr,
        "POST",
        "/api/v1/runs",
        token,
        Some(json!({ "pipeline": pipeline, "params": params })),
    )
}

/// Waits for run `id` to end; returns it as its submitter sees it.
fn finished(addr: &str, token: &str, id: i64) -> Value {
    let t0 = Instant::now();
    loop {
        let (status, v) = api(addr, "GET", &format!("/api/v1/runs/{id}"), token, None);
        assert_eq!(status, 200, "run {id}: {v}");
        if ["succeeded", "failed", "cancelled"].contains(&v["state"].as_str().unwrap_or("")) {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "run {id} did not end: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn csv_rows(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().count() - 1
}

#[test]
fn a_run_reads_with_its_submitters_rights_and_what_it_makes_stays_restricted() {
    let Some(data) = astrolab_formats::testdata::require_shared_data("run_rights") else {
        return;
    };
    for lab in labs() {
        check(&lab, &data);
    }
}

fn check(lab: &Lab, data: &Path) {
    let public = data.join("desi/redrock-4-80613-thru20210324.fits");
    let secret = data.join("desi/redrock-special-dark-27247.fits");
    let (secret_id, ra, dec, expected_public, expected_all) = {
        let mut s = Store::open(&lab.store).unwrap();
        s.ingest_file(&public, &IngestOptions::default(), &mut Progress::none())
            .unwrap();
        let id = match s
            .ingest_file(&secret, &IngestOptions::default(), &mut Progress::none())
            .unwrap()
        {
            astrolab_store::IngestOutcome::Loaded { file, .. }
            | astrolab_store::IngestOutcome::AlreadyIngested { file } => file.file_id,
        };
        let t = s
            .sql_readonly(&format!(
                "SELECT ra, dec FROM redshifts WHERE file_id = {id} ORDER BY targetid LIMIT 1"
            ))
            .unwrap();
        let (ra, dec) = (
            t.rows[0][0].as_f64().unwrap(),
            t.rows[0][1].as_f64().unwrap(),
        );
        let mut q = ConeQuery {
            table: "redshifts".into(),
            ra_deg: ra,
            dec_deg: dec,
            radius_deg: 2.0,
            ..Default::default()
        };
        let all = s.cone(&q).unwrap().rows.len();
        q.exclude_file_ids = vec![id];
        let public_only = s.cone(&q).unwrap().rows.len();
        (id, ra, dec, public_only, all)
    };
    assert!(expected_all > expected_public);
    lab.run_ok(&["user", "add", "ada", "--admin"]);
    lab.run_ok(&[
        "user",
        "add",
        "rosa",
        "--role",
        "researcher",
        "--projects",
        "p1",
    ]);
    lab.run_ok(&["user", "add", "bob", "--role", "researcher"]);
    let (ada, rosa, bob) = (
        lab.token("ada", "admin"),
        lab.token("rosa", "researcher"),
        lab.token("bob", "researcher"),
    );
    let (_server, _worker, addr) = lab.start();
    let (st, v) = api(
        &addr,
        "PUT",
        "/api/v1/datasets/secret",
        &ada,
        Some(json!({"visibility": "restricted", "projects": ["p1"]})),
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = api(
        &addr,
        "POST",
        "/api/v1/datasets/secret/files",
        &ada,
        Some(json!({ "file_ids": [secret_id] })),
    );
    assert!(st == 200 || st == 201, "{v}");

    // 1. The same cone run as bob (outside p1) and as rosa (in p1).
    let cone =
        json!({"ra": ra, "dec": dec, "radius": "2deg", "table": "redshifts", "limit": 100000});
    let run_of = |token: &str| {
        let (st, v) = submit(&addr, token, "query-cone", cone.clone());
        assert_eq!(st, 201, "{v}");
        let run = finished(&addr, token, v["run_id"].as_i64().unwrap());
        assert_eq!(run["state"], "succeeded", "{run}");
        run
    };
    let bobs = run_of(&bob);
    let rosas = run_of(&rosa);
    let out =
        |run: &Value| PathBuf::from(run["result"]["run_dir"].as_str().unwrap()).join("cone.csv");
    assert_eq!(
        csv_rows(&out(&bobs)),
        expected_public,
        "bob's run leaves out p1's rows"
    );
    assert_eq!(bobs["restricted_projects"], Value::Null);
    assert_eq!(
        csv_rows(&out(&rosas)),
        expected_all,
        "rosa's run reads p1's rows"
    );
    assert_eq!(rosas["restricted_projects"], json!(["p1"]));
    let rosa_run = rosas["run_id"].as_i64().unwrap();
    // The read is audited, naming the run.
    let audit = Store::open(&lab.store)
        .unwrap()
        .list_audit(200, None)
        .unwrap();
    assert!(
        audit.iter().any(|e| e.event.action == "dataset.read"
            && e.event.target == "secret"
            && e.event.actor == format!("rosa (run {rosa_run})")),
        "{audit:?}"
    );

    // 2. Rosa's run is hers, p1's and the admins'; not bob's.
    let (st, _) = api(
        &addr,
        "GET",
        &format!("/api/v1/runs/{rosa_run}"),
        &bob,
        None,
    );
    assert_eq!(st, 404);
    let (st, _) = api(
        &addr,
        "GET",
        &format!("/api/v1/runs/{rosa_run}/logs"),
        &bob,
        None,
    );
    assert_eq!(st, 404);
    let (_, list) = api(&addr, "GET", "/api/v1/runs", &bob, None);
    let ids: Vec<i64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![bobs["run_id"].as_i64().unwrap()]);
    let (st, _) = api(
        &addr,
        "GET",
        &format!("/api/v1/runs/{rosa_run}"),
        &ada,
        None,
    );
    assert_eq!(st, 200);
    // Seeing a run that read restricted data is a restricted read too.
    let (st, _) = api(
        &addr,
        "GET",
        &format!("/api/v1/runs/{rosa_run}/logs"),
        &rosa,
        None,
    );
    assert_eq!(st, 200);
    let run_reads: Vec<(String, String)> = Store::open(&lab.store)
        .unwrap()
        .list_audit(500, None)
        .unwrap()
        .into_iter()
        .filter(|e| e.event.action == "dataset.read" && e.event.target == format!("run {rosa_run}"))
        .map(|e| {
            (
                e.event.actor.split(' ').next().unwrap_or("").to_string(),
                e.event.details["read"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        run_reads.contains(&("ada".to_string(), "the run".to_string())),
        "{run_reads:?}"
    );
    assert!(
        run_reads.contains(&("rosa".to_string(), "the run's log".to_string())),
        "{run_reads:?}"
    );
    assert!(
        run_reads.iter().all(|(who, _)| who != "bob"),
        "{run_reads:?}"
    );

    // 3. Bob cannot launder rosa's output through an ingest run.
    let rosa_csv = out(&rosas).display().to_string();
    let (st, v) = submit(&addr, &bob, "ingest", json!({ "paths": [rosa_csv] }));
    assert_eq!(st, 201, "{v}");
    let run = finished(&addr, &bob, v["run_id"].as_i64().unwrap());
    assert_eq!(run["state"], "failed", "{run}");
    assert!(
        run["message"]
            .as_str()
            .unwrap()
            .contains("written by a run that read restricted data"),
        "{run}"
    );

    // 4. Rosa's ingest of it is restricted to p1, like its source.
    let (st, v) = submit(&addr, &rosa, "ingest", json!({ "paths": [rosa_csv] }));
    assert_eq!(st, 201, "{v}");
    let run = finished(&addr, &rosa, v["run_id"].as_i64().unwrap());
    assert_eq!(run["state"], "succeeded", "{run}");
    let derived = Store::open(&lab.store)
        .unwrap()
        .dataset("derived-p1")
        .unwrap()
        .unwrap();
    assert_eq!(derived.files, 1);
    assert_eq!(derived.rows, expected_all as i64);
    let galaxies = format!("/api/v1/cone?table=galaxies&ra={ra}&dec={dec}&radius=3&limit=10000");
    let (_, as_bob) = api(&addr, "GET", &galaxies, &bob, None);
    let (_, as_rosa) = api(&addr, "GET", &galaxies, &rosa, None);
    assert_eq!(as_bob["count"], 0, "{as_bob}");
    assert_eq!(as_rosa["count"], expected_all, "{as_rosa}");

    // 5. Pipelines that change the lab's shared state need an admin.
    for (pipeline, params) in [
        (
            "spectra-build",
            json!({ "from": lab.home.display().to_string() }),
        ),
        (
            "voids-classify",
            json!({ "catalogs": [public.display().to_string()] }),
        ),
    ] {
        let (st, v) = submit(&addr, &rosa, pipeline, params);
        assert_eq!(st, 403, "{pipeline}: {v}");
    }
}
