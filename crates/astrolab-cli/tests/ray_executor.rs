//! The Ray executor on a real Ray cluster (issue 18): `scripts/test`
//! installs Ray from PyPI and starts a head (no CPUs: only drivers run
//! there) and two one-CPU worker nodes on 127.0.0.1, exporting
//! `ASTROLAB_TEST_RAY_ADDRESS` (the dashboard) and `ASTROLAB_TEST_RAY_GCS` (to add a
//! worker node back). With `CI` set and no cluster, the Ray tests fail.
//!
//! Shown here: anomaly scoring and void membership sharded over Ray give
//! the local executor's bytes (outputs and store rows); a worker node
//! killed mid-run costs retries, not the run; a worker with another build,
//! a shard that fails, an unreachable cluster and a shard result that
//! vanished each give a clear error and publish nothing.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{bin, text};

/// The cluster's dashboard, or None outside CI without one.
fn ray_address() -> Option<String> {
    match std::env::var("ASTROLAB_TEST_RAY_ADDRESS") {
        Ok(a) if !a.is_empty() => Some(a),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but ASTROLAB_TEST_RAY_ADDRESS is not: scripts/test starts the Ray cluster"
            );
            eprintln!("skipping: no Ray cluster (ASTROLAB_TEST_RAY_ADDRESS); run ./scripts/test");
            None
        }
    }
}

fn astrolab(home: &Path, args: &[&str]) -> std::process::Output {
    bin()
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .expect("run astrolab")
}

fn ok(o: &std::process::Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn write_params(dir: &Path, name: &str, v: serde_json::Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

fn run_local(home: &Path, pipeline: &str, params: &Path, out: &Path) {
    let o = astrolab(
        home,
        &[
            "run",
            pipeline,
            "--params",
            params.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
            "--threads",
            "1",
        ],
    );
    ok(&o);
}

fn run_ray(
    home: &Path,
    addr: &str,
    pipeline: &str,
    params: &Path,
    out: &Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "run",
        pipeline,
        "--params",
        params.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
        "--executor",
        "ray",
        "--ray-address",
        addr,
    ];
    args.extend_from_slice(extra);
    astrolab(home, &args)
}

/// A voids-classify run's counts (result.json) without its timings, which
/// differ from run to run.
fn classify_counts(out: &Path) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("result.json")).unwrap()).unwrap();
    for c in v["catalogs"].as_array_mut().unwrap() {
        let c = c.as_object_mut().unwrap();
        c.remove("seconds_membership");
        c.remove("seconds_store");
    }
    v
}

fn same_file(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert!(x == y, "{} and {} differ", a.display(), b.display());
}

/// The executor a run's manifest records (the RO-Crate's `#run` action
/// carries astrolab's own manifest).
fn manifest_executor(dir: &Path) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ro-crate-metadata.json")).unwrap())
            .unwrap();
    let run = v["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["@type"] == "CreateAction")
        .unwrap_or_else(|| panic!("no CreateAction in {}: {v}", dir.display()));
    let m: serde_json::Value =
        serde_json::from_str(run["astrolabManifest"].as_str().unwrap()).unwrap();
    m["executor"].as_str().unwrap().to_string()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A quickstart home: demo sky, spectral store, a trained anomaly model,
/// the DESIVAST demo catalogs.
fn quickstart_home(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    let o = astrolab(&home, &["quickstart", "--galaxies", "4000"]);
    ok(&o);
    home
}

/// Kills one Ray worker node (its raylet and so its worker processes):
/// the newest one, whose socket name has the highest suffix.
fn kill_a_worker_node() -> u32 {
    let out = std::process::Command::new("ps")
        .args(["-eo", "pid=,args="])
        .output()
        .unwrap();
    let mut best: Option<(u32, u32)> = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let line = line.trim();
        let Some((pid, args)) = line.split_once(' ') else {
            continue;
        };
        if !args.contains("/raylet/raylet ") {
            continue;
        }
        // Worker nodes started after the head: sockets/raylet.N.
        let Some(rest) = args.split("sockets/raylet.").nth(1) else {
            continue;
        };
        let n: u32 = rest
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap_or("")
            .parse()
            .unwrap_or(0);
        let pid: u32 = pid.parse().unwrap();
        if best.is_none_or(|(bn, _)| n > bn) {
            best = Some((n, pid));
        }
    }
    let (_, pid) = best.expect("no Ray worker node is running");
    let st = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    pid
}

/// Adds a one-CPU worker node back (the cluster the other tests expect).
fn add_worker_node() {
    let gcs = std::env::var("ASTROLAB_TEST_RAY_GCS").expect("ASTROLAB_TEST_RAY_GCS");
    let o = std::process::Command::new("ray")
        .args([
            "start",
            "--address",
            &gcs,
            "--num-cpus",
            "1",
            "--disable-usage-stats",
        ])
        .output()
        .expect("ray start");
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn ray_runs_give_the_local_bytes_and_survive_a_lost_worker() {
    let Some(addr) = ray_address() else { return };
    let d = tempfile::tempdir().unwrap();
    let home = quickstart_home(d.path());

    // Anomaly scoring: shards of 20 TARGETIDs, locally on one thread and
    // as a Ray job; the catalog and the result are the same bytes, and so
    // are the rows the reduce step writes into the store.
    let p = write_params(
        d.path(),
        "score.json",
        serde_json::json!({ "shard_size": 20 }),
    );
    let (local, ray) = (d.path().join("score-local"), d.path().join("score-ray"));
    run_local(&home, "anomalies-score", &p, &local);
    let export = |name: &str| {
        let f = d.path().join(name);
        ok(&astrolab(
            &home,
            &[
                "anomalies",
                "export",
                "--all",
                "--format",
                "csv",
                "--output",
                f.to_str().unwrap(),
            ],
        ));
        std::fs::read(f).unwrap()
    };
    let stored_local = export("stored-local.csv");
    let o = run_ray(&home, &addr, "anomalies-score", &p, &ray, &[]);
    ok(&o);
    for f in ["anomalies.csv", "result.json"] {
        same_file(&local.join(f), &ray.join(f));
    }
    assert_eq!(
        entries(&ray),
        ["anomalies.csv", "result.json", "ro-crate-metadata.json"]
    );
    assert_eq!(manifest_executor(&ray), "ray");
    assert_eq!(manifest_executor(&local), "in-process");
    assert_eq!(stored_local, export("stored-ray.csv"));
    let csv = std::fs::read_to_string(ray.join("anomalies.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 439);
    // No staging directory is left beside the run.
    assert!(
        entries(d.path()).iter().all(|n| !n.ends_with(".ray")),
        "{:?}",
        entries(d.path())
    );

    // Through the server: with ASTROLAB_RAY_ADDRESS set, its worker sends
    // a queued run to Ray as a job, whose tasks act for the submitter.
    ok(&astrolab(
        &home,
        &["user", "add", "rita", "--role", "admin", "--no-password"],
    ));
    let token = ok(&astrolab(&home, &["token", "create", "--user", "rita"]))
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    let mut cmd = bin();
    cmd.env("ASTROLAB_RAY_ADDRESS", &addr)
        .arg("--home")
        .arg(&home)
        .args(["serve", "--bind", "127.0.0.1:0", "--insecure-cookies"]);
    let (server, http_addr) = common::start_server(cmd);
    let body = serde_json::json!({ "pipeline": "anomalies-score", "params": { "shard_size": 20 } });
    let (status, answer) = common::http(
        &http_addr,
        "POST",
        "/api/v1/runs",
        Some(&token),
        "application/json",
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 201, "{answer}");
    let id = serde_json::from_str::<serde_json::Value>(&answer).unwrap()["run_id"]
        .as_i64()
        .unwrap();
    let t0 = std::time::Instant::now();
    let run = loop {
        let (_, r) = common::http(
            &http_addr,
            "GET",
            &format!("/api/v1/runs/{id}"),
            Some(&token),
            "application/json",
            b"",
        );
        let v: serde_json::Value = serde_json::from_str(&r).unwrap();
        if ["succeeded", "failed", "cancelled"].contains(&v["state"].as_str().unwrap_or("")) {
            break v;
        }
        assert!(t0.elapsed().as_secs() < 300, "run {id} did not finish: {v}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(run["state"], "succeeded", "{run}");
    let queue_dir = PathBuf::from(run["result"]["run_dir"].as_str().unwrap());
    same_file(
        &local.join("anomalies.csv"),
        &queue_dir.join("anomalies.csv"),
    );
    assert_eq!(manifest_executor(&queue_dir), "ray");
    // The job's log came back into the run's log.
    let (_, logs) = common::http(
        &http_addr,
        "GET",
        &format!("/api/v1/runs/{id}/logs"),
        Some(&token),
        "application/json",
        b"",
    );
    assert!(logs.contains("submitted Ray job astrolab-run-"), "{logs}");
    assert!(logs.contains("spectra scored with"), "{logs}");
    drop(server);

    // Void membership: one shard per DESIVAST catalog; the store's rows
    // after the Ray run are the local run's rows.
    let cats: Vec<String> = entries(&home.join("demo"))
        .into_iter()
        .filter(|n| n.starts_with("DESIVAST_"))
        .map(|n| home.join("demo").join(n).display().to_string())
        .collect();
    assert_eq!(cats.len(), 4);
    let p = write_params(
        d.path(),
        "classify.json",
        serde_json::json!({ "catalogs": cats }),
    );
    let rows = || {
        ok(&astrolab(
            &home,
            &[
                "query",
                "sql",
                "SELECT catalog, target_id, vflag, void_id, r_void_norm, void_edge FROM void_membership ORDER BY catalog, target_id",
                "--format",
                "csv",
            ],
        ))
    };
    run_local(
        &home,
        "voids-classify",
        &p,
        &d.path().join("classify-local"),
    );
    let local_rows = rows();
    assert_eq!(local_rows.lines().count(), 1 + 16_000);
    let o = run_ray(
        &home,
        &addr,
        "voids-classify",
        &p,
        &d.path().join("classify-ray"),
        &[],
    );
    ok(&o);
    assert_eq!(local_rows, rows());
    let counts = |out: &str| classify_counts(&d.path().join(out));
    assert_eq!(counts("classify-local"), counts("classify-ray"));

    // A worker node killed mid-run: its shards are retried elsewhere and
    // the run ends with the same bytes.
    let p = write_params(
        d.path(),
        "score5.json",
        serde_json::json!({ "shard_size": 5, "no_store": true }),
    );
    let (local, ray) = (d.path().join("kill-local"), d.path().join("kill-ray"));
    run_local(&home, "anomalies-score", &p, &local);
    let mut child = bin()
        .arg("--home")
        .arg(&home)
        .args([
            "run",
            "anomalies-score",
            "--params",
            p.to_str().unwrap(),
            "--out-dir",
        ])
        .arg(&ray)
        .args([
            "--executor",
            "ray",
            "--ray-address",
            &addr,
            "--events",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut killed = None;
    let mut total = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let Ok(ev) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if ev["event"] == "progress" && ev["stage"] == "shards" {
            total = ev["total"].as_u64().unwrap();
            if killed.is_none() && ev["done"].as_u64().unwrap() >= 3 {
                killed = Some(kill_a_worker_node());
            }
        }
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        killed.is_some(),
        "the run ended before a worker could be killed"
    );
    assert_eq!(total, 88);
    for f in ["anomalies.csv", "result.json"] {
        same_file(&local.join(f), &ray.join(f));
    }
    add_worker_node();
}

#[test]
fn ray_failures_are_clear_and_publish_nothing() {
    let Some(addr) = ray_address() else { return };
    let d = tempfile::tempdir().unwrap();
    let home = quickstart_home(d.path());
    let p = write_params(
        d.path(),
        "score.json",
        serde_json::json!({ "shard_size": 100, "no_store": true }),
    );

    // A worker whose astrolab is another build: refused, not retried.
    let real = env!("CARGO_BIN_EXE_astrolab");
    let wrapper = d.path().join("astrolab-other");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$1 $2\" = \"shard build-id\" ]; then echo 'astrolab 9.9.9 (other, release)'; exit 0; fi\nexec {real} \"$@\"\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = d.path().join("mismatch");
    let o = run_ray(
        &home,
        &addr,
        "anomalies-score",
        &p,
        &out,
        &["--ray-program", wrapper.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("version mismatch: the worker"), "{t}");
    assert!(t.contains("astrolab 9.9.9 (other, release)"), "{t}");
    assert!(entries(&out).is_empty(), "{:?}", entries(&out));

    // Cancelling a run stops its Ray job, and the run publishes nothing
    // (the executor as the server's worker drives it, with a cancel token).
    {
        use astrolab_pipeline::{Event, Executor};
        let sink = std::sync::Arc::new(astrolab_pipeline::context::Collect::default());
        let ctx =
            astrolab_pipeline::Ctx::new(astrolab_store::StoreConfig::sqlite(&home), sink.clone());
        let exec = astrolab_pipeline::ray::Ray::new(addr.clone(), real);
        let def = astrolab_pipeline::catalog::find("anomalies-score").unwrap();
        let out = d.path().join("cancelled");
        let cancel = ctx.cancel.clone();
        let watcher = {
            let sink = sink.clone();
            std::thread::spawn(move || {
                let t0 = std::time::Instant::now();
                while t0.elapsed().as_secs() < 300 {
                    let started = sink.events().iter().any(|e| {
                        matches!(e, Event::Progress { stage, done, .. } if stage == "shards" && *done >= 2)
                    });
                    if started {
                        cancel.cancel();
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            })
        };
        let r = exec.execute(
            &def,
            &serde_json::json!({ "shard_size": 5, "no_store": true }),
            &out,
            &ctx,
        );
        watcher.join().unwrap();
        assert!(
            matches!(r, Err(astrolab_pipeline::PipelineError::Cancelled)),
            "{r:?}"
        );
        assert!(entries(&out).is_empty(), "{:?}", entries(&out));
        // Ray reports the job stopped.
        let host = addr.trim_start_matches("http://");
        let t0 = std::time::Instant::now();
        loop {
            let (_, body) = common::http(host, "GET", "/api/jobs/", None, "application/json", b"");
            let jobs: serde_json::Value = serde_json::from_str(&body).unwrap();
            let job = jobs
                .as_array()
                .unwrap()
                .iter()
                .find(|j| j["metadata"]["astrolab_out_dir"] == out.display().to_string())
                .cloned()
                .expect("the cancelled run's job");
            if job["status"] == "STOPPED" {
                break;
            }
            assert!(t0.elapsed().as_secs() < 60, "job not stopped: {job}");
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }

    // A shard that fails (a file that is not a void catalog): retried,
    // then the run fails naming the file; nothing is published.
    let bogus = home.join("quickstart/spectypes.csv");
    let p = write_params(
        d.path(),
        "bad.json",
        serde_json::json!({ "catalogs": [bogus], "omega_m": 0.315 }),
    );
    let out = d.path().join("failed");
    let o = run_ray(
        &home,
        &addr,
        "voids-classify",
        &p,
        &out,
        &["--ray-max-retries", "1"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("failed: shard 0: shard 0 on "), "{t}");
    assert!(t.contains("spectypes.csv"), "{t}");
    assert!(entries(&out).is_empty(), "{:?}", entries(&out));
    assert!(entries(d.path()).iter().all(|n| !n.ends_with(".ray")));
}

#[test]
fn an_unreachable_cluster_is_named() {
    let d = tempfile::tempdir().unwrap();
    let p = write_params(d.path(), "p.json", serde_json::json!({ "shard_size": 10 }));
    let out = d.path().join("out");
    let o = run_ray(
        &d.path().join("home"),
        "http://127.0.0.1:9",
        "anomalies-score",
        &p,
        &out,
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("cannot reach the Ray dashboard at http://127.0.0.1:9"),
        "{t}"
    );
    assert!(entries(&out).is_empty());
    // No address at all: a usage error naming the flag.
    let o = bin()
        .env_remove("ASTROLAB_RAY_ADDRESS")
        .arg("--home")
        .arg(d.path().join("home"))
        .args([
            "run",
            "anomalies-score",
            "--params",
            p.to_str().unwrap(),
            "--out-dir",
            d.path().join("o2").to_str().unwrap(),
            "--executor",
            "ray",
        ])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("--executor ray needs --ray-address"), "{t}");
}

/// The shard steps without a cluster: a shard result that vanished before
/// the reduce step is refused naming the shard, and nothing is published.
#[test]
fn a_vanished_shard_result_is_refused() {
    let data =
        std::env::var("ASTROLAB_SHARED_DATA").unwrap_or_else(|_| "../../../shared/data".into());
    let salsa = Path::new(&data).join("hline/salsa");
    if !salsa.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {} is missing",
            salsa.display()
        );
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let out = d.path().join("out");
    // Ingest of two real catalog files: one shard per file.
    let files: Vec<String> = [
        "desi/redrock-test.fits",
        "desi/redrock-special-dark-27247.fits",
    ]
    .iter()
    .map(|f| Path::new(&data).join(f).display().to_string())
    .collect();
    let params = write_params(
        d.path(),
        "p.json",
        serde_json::json!({ "paths": files, "json": true }),
    );
    let plan = d.path().join("plan.json");
    let parts = d.path().join("parts");
    ok(&astrolab(
        &home,
        &[
            "shard",
            "plan",
            "ingest",
            "--params",
            params.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
            "--plan",
            plan.to_str().unwrap(),
        ],
    ));
    let mut receipts = Vec::new();
    for i in ["0", "1"] {
        let o = ok(&astrolab(
            &home,
            &[
                "shard",
                "run",
                "ingest",
                "--plan",
                plan.to_str().unwrap(),
                "--index",
                i,
                "--parts-dir",
                parts.to_str().unwrap(),
            ],
        ));
        receipts.push(serde_json::from_str::<serde_json::Value>(o.trim()).unwrap());
    }
    let rp = d.path().join("receipts.json");
    std::fs::write(&rp, serde_json::Value::Array(receipts.clone()).to_string()).unwrap();
    std::fs::remove_file(receipts[1]["path"].as_str().unwrap()).unwrap();
    let o = astrolab(
        &home,
        &[
            "shard",
            "reduce",
            "ingest",
            "--plan",
            plan.to_str().unwrap(),
            "--receipts",
            rp.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("shard 1: its result"), "{t}");
    assert!(t.contains("shard-000001.json vanished"), "{t}");
    assert!(entries(&out).is_empty());
    // A shard index the plan does not have.
    let o = astrolab(
        &home,
        &[
            "shard",
            "run",
            "ingest",
            "--plan",
            plan.to_str().unwrap(),
            "--index",
            "2",
            "--parts-dir",
            parts.to_str().unwrap(),
        ],
    );
    assert!(text(&o).contains("shard 2: the plan"), "{}", text(&o));
    // Shard 1 again: ingest reports the file as already loaded, so its
    // result differs from the receipt, and the reduce step says so.
    let again = ok(&astrolab(
        &home,
        &[
            "shard",
            "run",
            "ingest",
            "--plan",
            plan.to_str().unwrap(),
            "--index",
            "1",
            "--parts-dir",
            parts.to_str().unwrap(),
        ],
    ));
    let o = astrolab(
        &home,
        &[
            "shard",
            "reduce",
            "ingest",
            "--plan",
            plan.to_str().unwrap(),
            "--receipts",
            rp.to_str().unwrap(),
        ],
    );
    assert!(
        text(&o).contains("changed after the task wrote it"),
        "{}",
        text(&o)
    );
    assert!(entries(&out).is_empty());
    // With the new receipt, the reduce step publishes the run.
    receipts[1] = serde_json::from_str(again.trim()).unwrap();
    std::fs::write(&rp, serde_json::Value::Array(receipts).to_string()).unwrap();
    ok(&astrolab(
        &home,
        &[
            "shard",
            "reduce",
            "ingest",
            "--plan",
            plan.to_str().unwrap(),
            "--receipts",
            rp.to_str().unwrap(),
            "--executor",
            "test",
        ],
    ));
    assert_eq!(entries(&out), ["result.json", "ro-crate-metadata.json"]);
}

/// Void membership with a PostgreSQL store, as on the lab's cluster: each
/// shard stages its catalog's rows itself (loaded and indexed in a table
/// of their own) and the reduce step only publishes them. The rows are the
/// local run's; a run with a failing shard publishes nothing.
#[test]
fn ray_void_membership_on_postgres_is_staged_by_the_shards() {
    let Some(addr) = ray_address() else { return };
    let d = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(d.path()).unwrap();
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let Some(cfg) = astrolab_store::testing::pg_config_in("ray_voids_pg", &home) else {
        return;
    };
    astrolab_store::Store::open(&cfg).unwrap();
    let url = astrolab_store::testing::child_database_url(&cfg).unwrap();
    let pg = |args: &[&str]| {
        bin()
            .env("ASTROLAB_DATABASE_URL", &url)
            .arg("--home")
            .arg(&home)
            .args(args)
            .output()
            .expect("run astrolab")
    };
    let demo = dir.join("demo");
    let demo_s = demo.to_str().unwrap();
    ok(&pg(&[
        "demo-data",
        demo_s,
        "--galaxies",
        "4000",
        "--no-spectra",
        "--seed",
        "3",
    ]));
    ok(&pg(&["ingest", demo_s]));
    let cats: Vec<String> = entries(&demo)
        .into_iter()
        .filter(|n| n.starts_with("DESIVAST_"))
        .map(|n| demo.join(n).display().to_string())
        .collect();
    assert_eq!(cats.len(), 4);
    let p = write_params(
        &dir,
        "classify.json",
        serde_json::json!({ "catalogs": cats }),
    );
    let sql = |q: &str| ok(&pg(&["query", "sql", q, "--format", "csv"]));
    let rows = || {
        sql("SELECT catalog, target_id, vflag, void_id, r_void_norm, void_edge FROM void_membership ORDER BY catalog, target_id")
    };
    // Published partitions and staging tables left over.
    let tables = || {
        sql("SELECT (SELECT count(*) FROM pg_inherits WHERE inhparent = 'void_membership'::regclass) AS partitions, (SELECT count(*) FROM pg_class c WHERE c.relname LIKE 'void\\_membership\\_stage\\_%' AND c.relkind = 'r' AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)) AS unpublished")
    };
    let run = |executor: &str, out: &Path, extra: &[&str]| {
        let mut a = vec![
            "run",
            "voids-classify",
            "--params",
            p.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ];
        if executor == "ray" {
            a.extend(["--executor", "ray", "--ray-address", &addr]);
        } else {
            a.extend(["--threads", "2"]);
        }
        a.extend_from_slice(extra);
        pg(&a)
    };
    ok(&run("local", &dir.join("local"), &[]));
    let local_rows = rows();
    assert_eq!(local_rows.lines().count(), 1 + 16_000);
    assert_eq!(tables(), "partitions,unpublished\n4,0\n");
    ok(&run("ray", &dir.join("ray"), &[]));
    assert_eq!(rows(), local_rows);
    // The Ray run's four staged tables replaced the local run's partitions.
    assert_eq!(tables(), "partitions,unpublished\n4,0\n");
    let counts = |out: &str| classify_counts(&dir.join(out));
    assert_eq!(counts("local"), counts("ray"));
    let sqlite_counts = {
        // The same classification in a SQLite store gives the same counts.
        let h2 = dir.join("sqlite-home");
        ok(&astrolab(&h2, &["ingest", demo_s]));
        ok(&astrolab(
            &h2,
            &[
                "run",
                "voids-classify",
                "--params",
                p.to_str().unwrap(),
                "--out-dir",
                dir.join("sqlite").to_str().unwrap(),
            ],
        ));
        counts("sqlite")
    };
    assert_eq!(counts("local"), sqlite_counts);

    // A run whose third catalog fails after the first two were staged:
    // nothing is published; the membership is the earlier run's.
    let bogus = demo.join("zpix-main-bright.fits");
    assert!(bogus.exists(), "{:?}", entries(&demo));
    let bad = write_params(
        &dir,
        "bad.json",
        serde_json::json!({ "catalogs": [cats[0], cats[1], bogus], "omega_m": 0.315 }),
    );
    let o = pg(&[
        "run",
        "voids-classify",
        "--params",
        bad.to_str().unwrap(),
        "--out-dir",
        dir.join("bad-ray").to_str().unwrap(),
        "--executor",
        "ray",
        "--ray-address",
        &addr,
        "--ray-max-retries",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("zpix-main-bright.fits"), "{}", text(&o));
    assert_eq!(rows(), local_rows);
    // The same with the local executor, one shard after the other: the two
    // catalogs staged before the failure are dropped (Pipeline::discard).
    // (On Ray a shard still running when another fails is killed, and one
    // killed between its commit and its receipt leaves its stage to the
    // sweep by age; so the sweep runs first, here at age 0, to make this
    // count exact.)
    astrolab_store::Store::open(&cfg)
        .unwrap()
        .drop_stale_staged_memberships(0.0)
        .unwrap();
    assert_eq!(tables(), "partitions,unpublished\n4,0\n");
    let o = pg(&[
        "run",
        "voids-classify",
        "--params",
        bad.to_str().unwrap(),
        "--out-dir",
        dir.join("bad-local").to_str().unwrap(),
        "--threads",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("zpix-main-bright.fits"), "{}", text(&o));
    assert_eq!(rows(), local_rows);
    assert_eq!(tables(), "partitions,unpublished\n4,0\n");
}
