//! The anomaly routes (issue 17) through the router, on a model trained
//! here by the pipelines themselves (benchmark quasars from the redrock
//! templates in ../shared/data, ingested, spectra built, trained, scored):
//! the ranked list equals the score catalog, one quasar's reconstruction
//! re-derives its stored chi-square exactly, neighbours equal the CLI's
//! function, labels are stored and exported as CSV and FITS, bad requests
//! name their field, and a quasar of a restricted dataset disappears for
//! outsiders from every route while its project's reads are audited.

use std::path::{Path, PathBuf};

use astrolab_formats::testdata::require_shared_data;
use astrolab_server::{app, build_state, ServerConfig};
use astrolab_store::{Role, Store, StoreConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

mod common;

/// A home with 160 benchmark quasars scored by a 2-epoch model.
fn scored_home(dir: &Path, data: &Path) -> PathBuf {
    let home = common::quasar_home(dir, data, json!({"anomaly_benchmark": 160, "seed": 9}));
    let ctx = common::sqlite_ctx(&home);
    common::run_pipeline(
        &ctx,
        "anomalies-train",
        json!({"output": dir.join("model"), "max_epochs": 2, "batch_size": 32,
               "calibration_fraction": 0.5, "seed": 4}),
    );
    common::run_pipeline(
        &ctx,
        "anomalies-score",
        json!({"output": dir.join("scores.csv"), "shard_size": 50}),
    );
    home
}

struct Env {
    home: PathBuf,
    app: Router,
}

impl Env {
    fn store(&self) -> Store {
        Store::open(&StoreConfig::sqlite(&self.home)).unwrap()
    }

    fn token(&self, name: &str, role: Role, projects: &[&str]) -> String {
        common::api_token(&mut self.store(), name, role, projects)
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, String, Vec<u8>) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(match body {
                Some(b) => Body::from(b.to_string()),
                None => Body::empty(),
            })
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, ct, body.to_vec())
    }

    async fn json(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        let (st, _, body) = self.call("GET", uri, token, None).await;
        (st, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn put(&self, uri: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let (st, _, body) = self.call("PUT", uri, token, Some(body)).await;
        (st, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

fn ids(v: &Value) -> Vec<i64> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["target_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anomaly_routes_rank_reconstruct_label_export_and_respect_datasets() {
    let Some(data) = require_shared_data("anomaly routes") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let home = tokio::task::spawn_blocking(move || scored_home(&d, &data))
        .await
        .unwrap();
    let state = build_state(
        ServerConfig::defaults(home.clone(), PathBuf::from("astrolab")),
        StoreConfig::sqlite(&home),
    )
    .unwrap();
    let e = Env {
        home,
        app: app(state),
    };
    let viewer = e.token("viewer", Role::Viewer, &[]);
    let rosa = e.token("rosa", Role::Researcher, &[]);
    let member = e.token("member", Role::Researcher, &["quasars"]);

    // The catalog the score run wrote, rank order.
    let csv = std::fs::read_to_string(dir.path().join("scores.csv")).unwrap();
    let catalog: Vec<Vec<String>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(catalog.len(), 160);

    // The model and its counts.
    let (st, v) = e.json("/api/v1/anomalies/models", &viewer).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["count"], 1);
    let model = v["items"][0]["model_id"].as_str().unwrap().to_string();
    assert_eq!(v["items"][0]["scored"], 160);
    let threshold = v["items"][0]["threshold"].as_f64().unwrap();

    // The ranked list is the catalog: same order, same scores.
    let (st, v) = e.json("/api/v1/anomalies?limit=5", &viewer).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        (v["model_id"].as_str(), v["scored"].as_i64()),
        (Some(model.as_str()), Some(160))
    );
    for (k, row) in v["items"].as_array().unwrap().iter().enumerate() {
        assert_eq!(row["rank"], k as i64 + 1);
        assert_eq!(row["target_id"].to_string(), catalog[k][0]);
        assert_eq!(
            row["anomaly_score"].as_f64().unwrap(),
            catalog[k][4].parse::<f64>().unwrap()
        );
        assert_eq!(
            row["anomalous"].as_bool().unwrap(),
            row["anomaly_score"].as_f64().unwrap() > threshold
        );
    }
    let top: i64 = catalog[0][0].parse().unwrap();
    let second: i64 = catalog[1][0].parse().unwrap();
    let (_, v) = e.json("/api/v1/anomalies?offset=1&limit=1", &viewer).await;
    assert_eq!(ids(&v), vec![second]);

    // One quasar: the reconstruction re-derives the stored chi-square.
    let (st, v) = e.json(&format!("/api/v1/anomalies/{top}"), &viewer).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let r = &v["reconstruction"];
    let n = r["rest_wavelength_a"].as_array().unwrap().len();
    assert!(n > 100, "{n} pixels");
    for k in ["flux", "ivar", "reconstruction", "residual"] {
        assert_eq!(r[k].as_array().unwrap().len(), n, "{k}");
    }
    assert_eq!(
        r["recon_chi2"].as_f64().unwrap(),
        catalog[0][2].parse::<f64>().unwrap(),
        "the page's reconstruction is the scored one"
    );
    // Residuals are (flux - reconstruction) * sqrt(ivar_eff) where
    // observed, ivar_eff the inverse variance with the default 7 %
    // fractional model error added (astrolab_anomaly::score::NoiseModel).
    let j = (0..n).find(|&j| !r["flux"][j].is_null()).unwrap();
    let (f, iv, rc) = (
        r["flux"][j].as_f64().unwrap(),
        r["ivar"][j].as_f64().unwrap(),
        r["reconstruction"][j].as_f64().unwrap(),
    );
    let iv = f64::from(iv as f32);
    let ivar_eff = iv / (1.0 + iv * (0.07 * rc).powi(2));
    let expect = ((f - rc) * ivar_eff.sqrt()) as f32;
    assert_eq!(r["residual"][j].as_f64().unwrap() as f32, expect);

    // Neighbours: the CLI's function, nearest first, not itself.
    let (st, v) = e
        .json(&format!("/api/v1/anomalies/{top}/similar?k=5"), &viewer)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let mut store = e.store();
    let (_, direct) =
        astrolab_pipeline::anomalies::similar(&mut store, None, top, 5, &[], 1).unwrap();
    drop(store);
    assert_eq!(
        ids(&v),
        direct.iter().map(|r| r.target_id).collect::<Vec<_>>()
    );
    assert!(!ids(&v).contains(&top));
    let dist: Vec<f64> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["distance"].as_f64().unwrap())
        .collect();
    assert!(dist.windows(2).all(|w| w[0] <= w[1]), "{dist:?}");

    // Labels: researchers only, a known word, a scored quasar.
    let url = format!("/api/v1/anomalies/{top}/label");
    let (st, _) = e.put(&url, &viewer, json!({"label": "anomaly"})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = e.put(&url, &rosa, json!({"label": "weird"})).await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("label")),
        "{v}"
    );
    let (st, _) = e
        .put(
            "/api/v1/anomalies/12345/label",
            &rosa,
            json!({"label": "normal"}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, v) = e.put(&url, &rosa, json!({"label": "artefact"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // A second label replaces rosa's first.
    let (st, v) = e.put(&url, &rosa, json!({"label": "anomaly"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        (v["username"].as_str(), v["label"].as_str()),
        (Some("rosa"), Some("anomaly"))
    );
    let (_, v) = e.json("/api/v1/anomalies?label=anomaly", &viewer).await;
    assert_eq!(ids(&v), vec![top]);
    assert_eq!(v["items"][0]["labels"][0]["username"], "rosa");
    let (_, v) = e.json("/api/v1/anomalies?label=artefact", &viewer).await;
    assert!(ids(&v).is_empty());
    let audited = e
        .store()
        .list_audit(100, None)
        .unwrap()
        .into_iter()
        .filter(|r| r.event.action == "anomaly.label")
        .count();
    assert_eq!(audited, 2);

    // Export: the labelled catalog, CSV and FITS.
    let (st, ct, body) = e
        .call("GET", "/api/v1/anomalies/export?format=csv", &viewer, None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    let text = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "target_id,z,rank,anomaly_score,recon_chi2,iso_score,anomalous,label,labelled_by,labelled_at,n_labels,model_id"
    );
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].starts_with(&format!("{top},")), "{text}");
    assert!(lines[1].contains(",anomaly,rosa,"), "{text}");
    assert!(lines[1].ends_with(&format!(",1,{model}")), "{text}");
    let (st, ct, body) = e
        .call("GET", "/api/v1/anomalies/export?format=fits", &viewer, None)
        .await;
    assert_eq!((st, ct.as_str()), (StatusCode::OK, "application/fits"));
    let fits = dir.path().join("export.fits");
    std::fs::write(&fits, &body).unwrap();
    let f = astrolab_formats::FitsFile::open(&fits).unwrap();
    let t = f.table("ANOMALIES").unwrap();
    assert_eq!(t.read_i64("TARGET_ID").unwrap(), vec![top]);
    assert_eq!(t.read_str("LABEL").unwrap(), vec!["anomaly".to_string()]);
    let (_, _, body) = e
        .call("GET", "/api/v1/anomalies/export?all=true", &viewer, None)
        .await;
    assert_eq!(String::from_utf8(body).unwrap().lines().count(), 161);

    // Bad requests name their field.
    for (uri, field) in [
        ("/api/v1/anomalies?min_score=abc", "min_score"),
        ("/api/v1/anomalies?z_max=inf", "z_max"),
        ("/api/v1/anomalies?label=odd", "label"),
        ("/api/v1/anomalies?model=vae-none", "model"),
        ("/api/v1/anomalies/export?format=xml", "format"),
        ("/api/v1/anomalies/x", "targetid"),
    ] {
        let (st, v) = e.json(uri, &viewer).await;
        assert_eq!(
            (st, v["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{uri}: {v}"
        );
    }
    let (st, v) = e
        .json(&format!("/api/v1/anomalies/{top}/similar?k=0"), &viewer)
        .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("k"))
    );
    let (st, _) = e.json("/api/v1/anomalies/12345", &viewer).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // The top quasar's coadd becomes a restricted dataset of project
    // "quasars": outsiders lose it everywhere, as if it were not scored.
    let (_, v) = e.json("/api/v1/anomalies?limit=1", &member).await;
    let file_id = v["items"][0]["file_id"].as_i64().unwrap();
    let mut store = e.store();
    common::restrict_to_quasars(&mut store, file_id);
    let same_file: Vec<i64> = store
        .anomaly_scores(&model, &Default::default(), &[])
        .unwrap()
        .iter()
        .filter(|s| s.file_id == Some(file_id))
        .map(|s| s.target_id)
        .collect();
    drop(store);
    assert!(same_file.contains(&top));
    let (_, v) = e.json("/api/v1/anomalies/models", &viewer).await;
    assert_eq!(v["items"][0]["scored"], 160 - same_file.len() as i64);
    let (_, v) = e.json("/api/v1/anomalies?limit=500", &viewer).await;
    assert_eq!(v["scored"], 160 - same_file.len() as i64);
    assert!(ids(&v).iter().all(|t| !same_file.contains(t)));
    let (st, _) = e.json(&format!("/api/v1/anomalies/{top}"), &viewer).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = e
        .json(&format!("/api/v1/anomalies/{top}/similar"), &viewer)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = e.put(&url, &rosa, json!({"label": "normal"})).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let other: i64 = catalog
        .iter()
        .map(|r| r[0].parse::<i64>().unwrap())
        .find(|t| !same_file.contains(t))
        .unwrap();
    let (_, v) = e
        .json(&format!("/api/v1/anomalies/{other}/similar?k=200"), &viewer)
        .await;
    assert!(
        ids(&v).iter().all(|t| !same_file.contains(t)),
        "no restricted neighbour"
    );
    let (_, _, body) = e
        .call("GET", "/api/v1/anomalies/export", &viewer, None)
        .await;
    assert_eq!(
        String::from_utf8(body).unwrap().lines().count(),
        1,
        "only the header"
    );
    // The project's member reads it, and each read is audited.
    let (st, _) = e.json(&format!("/api/v1/anomalies/{top}"), &member).await;
    assert_eq!(st, StatusCode::OK);
    let (_, _, body) = e
        .call("GET", "/api/v1/anomalies/export", &member, None)
        .await;
    assert_eq!(String::from_utf8(body).unwrap().lines().count(), 2);
    let reads: Vec<String> = e
        .store()
        .list_audit(1000, None)
        .unwrap()
        .into_iter()
        .filter(|r| r.event.action == "dataset.read" && r.event.target == "qso-private")
        .map(|r| {
            let who = r
                .event
                .actor
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            format!("{who} {}", r.event.details["route"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(
        reads,
        vec![
            "member /api/v1/anomalies/export".to_string(),
            format!("member anomaly {top}"),
        ],
        "newest first"
    );
}
