//! Issue 16 acceptance: every pipeline of the catalog, on real inputs, run
//! three ways gives the same bytes:
//!
//! 1. submitted through the server's queue (`astrolab serve`, its worker
//!    runs each through the subprocess executor);
//! 2. `astrolab run` in process, one thread;
//! 3. `astrolab reproduce` of run 2 with two threads, which compares every
//!    output byte for byte (volatile fields excluded) and exits non-zero
//!    on the first difference.
//!
//! Runs 1 and 2 go to two data homes fed the same inputs in the same
//! order, so the pipelines that load into the store see the same store.
//! Pipelines that load (ingest, hline process) are reproduced in a third,
//! fresh home (the documented way: the store's duplicate checks would
//! otherwise answer "already loaded"). A manifest whose input has one
//! flipped byte is refused, naming the file.
//!
//! Real inputs: the DESI coadds and redrock files, SALSA spectra and the
//! VAST VoidFinder test catalog of ../shared/data; a seeded synthetic demo
//! sky and SigMF recording where no real file exists (a store to load, a
//! radio recording).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use astrolab_formats::testdata::require_shared_data;
use astrolab_pipeline::manifest::read_manifest;
use astrolab_store::{RunState, Store, StoreConfig};
use serde_json::{json, Value};

struct Home {
    path: PathBuf,
    config: PathBuf,
}

impl Home {
    fn new(root: &Path, name: &str, data_roots: &[&Path]) -> Home {
        let path = root.join(name);
        std::fs::create_dir_all(&path).unwrap();
        let config = root.join(format!("{name}.toml"));
        let roots: Vec<String> = data_roots
            .iter()
            .map(|p| format!("{:?}", p.display().to_string()))
            .collect();
        std::fs::write(
            &config,
            format!("[server]\ndata_roots = [{}]\n", roots.join(", ")),
        )
        .unwrap();
        Home { path, config }
    }

    fn cli(&self) -> Command {
        let mut c = common::bin();
        c.arg("--home")
            .arg(&self.path)
            .arg("--config")
            .arg(&self.config)
            .current_dir(&self.path);
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.cli().args(args).output().unwrap();
        assert!(
            o.status.success(),
            "astrolab {args:?}:\n{}",
            common::text(&o)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

/// `astrolab run NAME --params - --out-dir DIR --events json --threads 1`:
/// the typed result event's value.
fn run_in_process(home: &Home, name: &str, params: &Value, out: &Path) -> Value {
    use std::io::Write;
    let mut child = home
        .cli()
        .args([
            "run",
            name,
            "--params",
            "-",
            "--events",
            "json",
            "--threads",
            "1",
        ])
        .arg("--out-dir")
        .arg(out)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(params.to_string().as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "run {name}:\n{}", common::text(&o));
    let mut result = None;
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let ev: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("run {name}: stdout line not an event ({e}): {line}"));
        if ev["event"] == "result" {
            result = Some(ev["value"].clone());
        }
    }
    result.unwrap_or_else(|| panic!("run {name}: no result event"))
}

/// Outputs of a run directory's manifest: path -> SHA-256.
fn output_hashes(dir: &Path) -> BTreeMap<String, String> {
    read_manifest(dir)
        .unwrap()
        .outputs
        .iter()
        .map(|o| (o.path.display().to_string(), o.sha256.clone()))
        .collect()
}

fn submit(addr: &str, token: &str, pipeline: &str, params: &Value) -> i64 {
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
    let v: Value = serde_json::from_str(&answer).unwrap();
    v["run_id"].as_i64().unwrap()
}

#[test]
fn every_pipeline_same_bytes_queue_in_process_and_reproduce() {
    let Some(data) = require_shared_data("pipelines_everywhere") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let inputs = root.join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    let data = std::fs::canonicalize(&data).unwrap();
    let queue = Home::new(&root, "queue", &[&inputs, &data]);
    let local = Home::new(&root, "local", &[&inputs, &data]);

    // Inputs no real file can stand for: a store to load, a recording.
    let demo = inputs.join("demo");
    local.ok(&[
        "demo-data",
        demo.to_str().unwrap(),
        "--galaxies",
        "3000",
        "--no-spectra",
        "--seed",
        "5",
    ]);
    let synth = astrolab_hline::synth::SynthConfig::lab_scenario(11, 2.4e6, 4.0);
    let (meta, _) = common::write_recording(
        &inputs,
        "obs1",
        &synth,
        astrolab_formats::iq::IqDatatype::Cu8,
    );
    let vf = demo.join("DESIVAST_BGS_VOLLIM_VoidFinder_NGC.fits");
    let vide = demo.join("DESIVAST_BGS_VOLLIM_V2_VIDE_NGC.fits");
    let mut salsa: Vec<String> = std::fs::read_dir(data.join("hline/salsa/Observe-1"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    salsa.sort();

    // Quasars for the anomaly pipelines: a small labelled benchmark set,
    // its redshift catalogs and spectra loaded into both homes alike.
    let qso = inputs.join("qso");
    local.ok(&[
        "demo-data",
        qso.to_str().unwrap(),
        "--anomaly-benchmark",
        "160",
        "--seed",
        "9",
        "--templates",
        data.join("templates").to_str().unwrap(),
    ]);
    // Only its redrock files: its catalogs share the demo sky's file names.
    let redrock = common::redrock_files(&qso);
    for h in [&queue, &local] {
        let mut args = vec!["ingest"];
        args.extend(redrock.iter().map(String::as_str));
        h.ok(&args);
        h.ok(&["spectra", "build", "--from", qso.to_str().unwrap()]);
    }

    // Measured columns of two outflows for the Cloudy solve (one is the
    // (log U, log N_H) = (-2, 21) model's own columns), and the speed and
    // luminosity of one of them.
    let columns = inputs.join("columns.csv");
    std::fs::write(
        &columns,
        "OUTFLOW,SPECIES,LOG_N,SIGMA_DEX,CONSTRAINT\n\
         A,C+3,16.88424407739286,0.05,measured\n\
         A,Si+3,16.116780364976098,0.05,measured\n\
         A,H,18.752995943391955,0.05,measured\n\
         B,C+3,15.9,0.1,lower\n\
         B,Al+2,13.8,0.1,measured\n\
         B,Mg+,14.2,0.1,measured\n",
    )
    .unwrap();
    let kinematics = inputs.join("outflows.csv");
    std::fs::write(
        &kinematics,
        "OUTFLOW,V_KM_S,REFERENCE,LAMBDA_L_LAMBDA_ERG_S\nA,5000,1350,1e46\n",
    )
    .unwrap();

    // In order: later pipelines read what earlier ones loaded.
    let plan: Vec<(&str, Value)> = vec![
        (
            "demo-data",
            json!({"galaxies": 400, "seed": 3, "no_spectra": true}),
        ),
        ("ingest", json!({"paths": [demo.display().to_string()]})),
        (
            "query-cone",
            json!({"ra": 150.0, "dec": 2.0, "radius": "3deg", "table": "zcatalog"}),
        ),
        (
            "voids-classify",
            json!({"catalogs": [vf.display().to_string(), vide.display().to_string()]}),
        ),
        ("voids-compare", json!({"replicates": 50, "seed": 9})),
        (
            "voids-publish",
            json!({"author": "Lab", "date": "2026-11-22"}),
        ),
        (
            "voids-find",
            json!({"catalog": data.join("voids/test_data.fits").display().to_string()}),
        ),
        (
            "spectra-build",
            json!({"from": data.join("desi").display().to_string()}),
        ),
        (
            "hline-process",
            json!({"recordings": [meta.display().to_string()], "integration_s": 0.25, "tsys_k": 120.0}),
        ),
        (
            "hline-rotation-curve",
            json!({"spectra": salsa, "baseline_windows": "-230:-180,60:220"}),
        ),
        (
            "anomalies-train",
            json!({"max_epochs": 2, "batch_size": 32, "calibration_fraction": 0.5, "seed": 4}),
        ),
        ("anomalies-score", json!({"shard_size": 50})),
        ("outflows-bal", json!({"shard_size": 5})),
        ("qso-fit", json!({"shard_size": 5})),
        (
            "anomalies-score-files",
            json!({"paths": [data.join("qso/boss").display().to_string()]}),
        ),
        (
            "outflows-cloudy-grid",
            json!({"log_u_min": -3.0, "step": 1.0, "log_nh_min": 20.0, "log_nh_max": 22.0, "vary": true}),
        ),
        (
            "outflows-cloudy-solve",
            json!({
                "grid": data.join("cloudy/grid-agn-logn4").display().to_string(),
                "columns": columns.display().to_string(),
                "outflows": kinematics.display().to_string(),
            }),
        ),
    ];
    let catalog: Vec<String> = astrolab_pipeline::catalog::pipelines()
        .iter()
        .map(|p| p.name.to_string())
        .collect();
    let mut planned: Vec<String> = plan.iter().map(|(n, _)| n.to_string()).collect();
    planned.sort();
    let mut all = catalog.clone();
    all.sort();
    assert_eq!(
        planned, all,
        "the test covers every pipeline of the catalog"
    );

    // The queue: an admin's token (voids-classify replaces the lab's
    // membership, which only an admin may change), the server's worker.
    queue.ok(&["user", "add", "rita", "--role", "admin", "--no-password"]);
    let token = queue
        .ok(&["token", "create", "--user", "rita"])
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    let mut cmd = queue.cli();
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--insecure-cookies"]);
    let (server, addr) = common::start_server(cmd);
    let mut store = Store::open(&StoreConfig::sqlite(&queue.path)).unwrap();

    let local_runs = root.join("local-runs");
    for (name, params) in &plan {
        // 1. Through the queue.
        let id = submit(&addr, &token, name, params);
        let t0 = Instant::now();
        let rec = loop {
            let r = store.get_run(id).unwrap().unwrap();
            if r.state.is_terminal() {
                break r;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(300),
                "{name}: run {id} did not finish"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(rec.state, RunState::Succeeded, "{name}: {:?}", rec.message);
        let result = rec.result.unwrap();
        let queue_dir = PathBuf::from(result["run_dir"].as_str().unwrap());
        let qm = read_manifest(&queue_dir).unwrap();
        assert_eq!(qm.executor, "subprocess", "{name}");
        assert_eq!(qm.run_id, Some(id), "{name}");

        // 2. In process, one thread.
        let out = local_runs.join(name);
        let value = run_in_process(&local, name, params, &out);
        let lm = read_manifest(&out).unwrap();
        assert_eq!(lm.executor, "in-process", "{name}");
        assert_eq!(lm.threads, Some(1), "{name}");
        let q = output_hashes(&queue_dir);
        let l = output_hashes(&out);
        assert!(l.contains_key("result.json"), "{name}: {l:?}");
        assert_eq!(
            q.keys().collect::<Vec<_>>(),
            l.keys().collect::<Vec<_>>(),
            "{name}: the queue's outputs are not the CLI's"
        );
        // Byte for byte; fields the pipeline declares volatile (a load
        // time) excluded, and only those.
        astrolab_pipeline::reproduce::compare_outputs(&lm, &out, &queue_dir).unwrap_or_else(|e| {
            panic!(
                "{name}: the queue's outputs differ from the CLI's: {e}\nqueue: {}\nlocal: {}",
                std::fs::read_to_string(queue_dir.join("result.json")).unwrap_or_default(),
                std::fs::read_to_string(out.join("result.json")).unwrap_or_default()
            )
        });
        for o in lm.outputs.iter().filter(|o| o.volatile.is_empty()) {
            let p = o.path.display().to_string();
            assert_eq!(q[&p], l[&p], "{name}: {p}");
        }
        // The run record holds the typed result: result.json's, whose
        // paths inside the run directory are relative to it.
        let rel = |v: &Value, dir: &Path| -> Value {
            let d = dir.display().to_string();
            let text = serde_json::to_string(v)
                .unwrap()
                .replace(&format!("{d}/"), "")
                .replace(&format!("\"{d}\""), "\".\"");
            serde_json::from_str(&text).unwrap()
        };
        let file = |dir: &Path| -> Value {
            serde_json::from_slice(&std::fs::read(dir.join("result.json")).unwrap()).unwrap()
        };
        assert_eq!(
            rel(&result["output"], &queue_dir),
            file(&queue_dir),
            "{name}"
        );
        assert_eq!(rel(&value, &out), file(&out), "{name}");
        assert_eq!(qm.inputs.len(), lm.inputs.len(), "{name}");
        assert_eq!(
            qm.parameters.as_object().map(|m| m.len()),
            lm.parameters.as_object().map(|m| m.len())
        );
    }
    drop(server);

    // 3. Every in-process run reproduced with two threads.
    let fresh = Home::new(&root, "fresh", &[&inputs, &data]);
    // The files the local home held before the plan, so raw-file ids match.
    {
        let mut args = vec!["ingest"];
        args.extend(redrock.iter().map(String::as_str));
        fresh.ok(&args);
    }
    for (name, _) in &plan {
        let dir = local_runs.join(name);
        let home = if matches!(*name, "ingest" | "hline-process") {
            &fresh
        } else {
            &local
        };
        let o = home
            .cli()
            .args(["reproduce", "--threads", "2"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "reproduce {name}:\n{}",
            common::text(&o)
        );
        let said = String::from_utf8_lossy(&o.stdout);
        let n = read_manifest(&dir).unwrap().outputs.len();
        assert!(
            said.starts_with(&format!("reproduced: {n} outputs of {name} identical")),
            "{said}"
        );
    }

    // `runs show` prints the provenance of a run directory.
    let shown = local.ok(&[
        "runs",
        "show",
        local_runs.join("voids-find").to_str().unwrap(),
    ]);
    assert!(shown.contains("pipeline    voids-find"), "{shown}");
    assert!(shown.contains("test_data.fits"), "{shown}");

    // One flipped byte in an input: refused, naming the file.
    let copy = inputs.join("desi-copy");
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(data.join("desi")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, copy.join(p.file_name().unwrap())).unwrap();
    }
    let flipped_run = root.join("flipped");
    run_in_process(
        &local,
        "spectra-build",
        &json!({"from": copy.display().to_string()}),
        &flipped_run,
    );
    let victim = copy.join("coadd-4-80613-thru20210324.fits");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[100_000] ^= 0x01;
    std::fs::write(&victim, &bytes).unwrap();
    let o = local
        .cli()
        .arg("reproduce")
        .arg(&flipped_run)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", common::text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("refused") && err.contains(&victim.display().to_string()),
        "{err}"
    );
}
