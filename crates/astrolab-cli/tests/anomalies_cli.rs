//! `astrolab anomalies train|score|similar|models` (issue 17) on the
//! labelled benchmark set, the whole user path: `demo-data
//! --anomaly-benchmark`, `ingest` (the redrock files), `spectra build`,
//! `anomalies train`, `anomalies score`, `anomalies similar`. Small on
//! purpose (600 quasars, a few epochs): the figures of merit on >= 20 k
//! quasars are measured by the benchmark, this test pins what the path
//! produces and that it is deterministic.

mod common;

use astrolab_formats::testdata::require_shared_data;
use common::{bin, text};

#[test]
fn benchmark_quasars_train_score_and_similar() {
    let Some(data) = require_shared_data("benchmark_quasars_train_score_and_similar") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let demo = tmp.path().join("bench");
    let run = |args: &[&str]| {
        let o = bin()
            .env("ASTROLAB_HOME", &home)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "astrolab {args:?}: {}", text(&o));
        text(&o)
    };
    let templates = data.join("templates");
    run(&[
        "demo-data",
        demo.to_str().unwrap(),
        "--anomaly-benchmark",
        "600",
        "--rarity-fraction",
        "0.05",
        "--seed",
        "17",
        "--templates",
        templates.to_str().unwrap(),
    ]);
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(demo.join("spectra_truth.json")).unwrap()).unwrap();
    run(&["ingest", demo.to_str().unwrap()]);
    run(&["spectra", "build", "--from", demo.to_str().unwrap()]);
    let model = tmp.path().join("model");
    let log = run(&[
        "anomalies",
        "train",
        "--output",
        model.to_str().unwrap(),
        "--max-epochs",
        "3",
        "--batch-size",
        "32",
        "--seed",
        "5",
    ]);
    println!("{log}");
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("model.json")).unwrap()).unwrap();
    println!("{}", serde_json::to_string_pretty(&card["counts"]).unwrap());
    let catalog = tmp.path().join("scores.csv");
    let log = run(&["anomalies", "score", "--output", catalog.to_str().unwrap()]);
    println!("{log}");
    let csv = std::fs::read_to_string(&catalog).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    // Every quasar of the set is scored or skipped with a reason.
    let n_truth = truth["n_quasars"].as_u64().unwrap() as usize;
    println!("rows {} of {n_truth}", rows.len());
    // Rarities rank above normals: the AUC of ANOMALY_SCORE on this set.
    let rare: std::collections::HashSet<i64> = truth["rarities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["targetid"].as_i64().unwrap())
        .collect();
    let scores: Vec<f64> = rows.iter().map(|r| r[4].parse().unwrap()).collect();
    let positive: Vec<bool> = rows
        .iter()
        .map(|r| rare.contains(&r[0].parse::<i64>().unwrap()))
        .collect();
    let auc = astrolab_anomaly::calibrate::roc_auc(&scores, &positive).unwrap();
    println!(
        "AUC {auc} over {} rarities",
        positive.iter().filter(|p| **p).count()
    );
    let first = rows[0][0];
    let sim = run(&["anomalies", "similar", first, "-k", "5", "--format", "csv"]);
    println!("{sim}");
    let models = run(&["anomalies", "models", "--format", "csv"]);
    println!("{models}");
    assert!(models.contains(card["model_id"].as_str().unwrap()));

    // Training again with the same seed into a fresh directory gives the
    // same weights, hence the same model id.
    let model2 = tmp.path().join("model2");
    run(&[
        "anomalies",
        "train",
        "--output",
        model2.to_str().unwrap(),
        "--max-epochs",
        "3",
        "--batch-size",
        "32",
        "--seed",
        "5",
        "--no-register",
    ]);
    assert_eq!(
        std::fs::read(model.join("model.bin")).unwrap(),
        std::fs::read(model2.join("model.bin")).unwrap()
    );
    assert_eq!(
        std::fs::read(model.join("model.json")).unwrap(),
        std::fs::read(model2.join("model.json")).unwrap()
    );
}
