//! The quasar's BAL measurement on the server (issue 19): `GET
//! /api/v1/spectra/{id}/bal` answers the rows `astrolab outflows bal`
//! wrote (the same numbers as its CSV catalog), `bal.svg` draws the flux,
//! the PCA continuum of the row's PCA_COEFFS, 0.9 x the continuum and the
//! troughs at their rest wavelengths, the spectrum page shows the table
//! and the figure (and no section before the quasars were measured), a
//! row of another continuum basis is shown with its numbers only, and a
//! quasar of a restricted dataset loses rows, figure and page for
//! outsiders while its project's reads are audited.
//!
//! The store is built by the pipelines themselves: 600 benchmark quasars
//! from the redrock templates in ../shared/data (`demo-data
//! --anomaly-benchmark 600 --rarity-fraction 0.05 --seed 17`), ingested,
//! spectra built, BAL troughs measured.

use std::collections::HashMap;
use std::path::PathBuf;

use astrolab_formats::testdata::require_shared_data;
use astrolab_server::{app, build_state, ServerConfig};
use astrolab_store::{Progress, Role, Store, StoreConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

mod common;

const C_KM_S: f64 = 299_792.458;

struct Env {
    home: PathBuf,
    app: Router,
}

impl Env {
    fn store(&self) -> Store {
        Store::open(&StoreConfig::sqlite(&self.home)).unwrap()
    }

    async fn get(&self, uri: &str, token: &str) -> (StatusCode, String, String) {
        let req = Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
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
        (status, ct, String::from_utf8(body.to_vec()).unwrap())
    }

    async fn json(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        let (st, _, body) = self.get(uri, token).await;
        (st, serde_json::from_str(&body).unwrap_or(Value::Null))
    }
}

fn num(row: &HashMap<String, String>, k: &str) -> f64 {
    row[k]
        .parse()
        .unwrap_or_else(|_| panic!("{k} = {:?}", row[k]))
}

/// The API row's value of a CSV column: a scalar, or `NAME_k` of a vector.
fn api_value<'a>(row: &'a Value, column: &str) -> Option<&'a Value> {
    if let Some(v) = row.get(column) {
        return Some(v);
    }
    let (name, k) = column.rsplit_once('_')?;
    row.get(name)?.get(k.parse::<usize>().ok()?)
}

/// The (x, y) points of the path of `class` in an SVG.
fn path_points(svg: &str, class: &str) -> Vec<(f64, f64)> {
    let key = format!(r#"<path class="{class}" d=""#);
    let at = svg.find(&key).unwrap_or_else(|| panic!("no {class} path")) + key.len();
    svg[at..]
        .split('"')
        .next()
        .unwrap()
        .split_whitespace()
        .map(|p| {
            let (x, y) = p[1..].split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

/// Checks that `ys` are `a + b * vs` for one a and b (to the SVG's 0.1
/// rounding) and returns (a, b).
fn affine(vs: &[f64], ys: &[f64], what: &str) -> (f64, f64) {
    assert_eq!(vs.len(), ys.len(), "{what}: points");
    let (i, j) = (
        0,
        (0..vs.len())
            .max_by(|&a, &b| (vs[a] - vs[0]).abs().total_cmp(&(vs[b] - vs[0]).abs()))
            .unwrap(),
    );
    let b = (ys[j] - ys[i]) / (vs[j] - vs[i]);
    let a = ys[i] - b * vs[i];
    for (v, y) in vs.iter().zip(ys) {
        assert!(
            (a + b * v - y).abs() < 0.15,
            "{what}: {y} is not {}",
            a + b * v
        );
    }
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bal_rows_figure_and_page_follow_the_catalog_and_the_datasets() {
    let Some(data) = require_shared_data("BAL routes") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let home = tokio::task::spawn_blocking(move || {
        common::quasar_home(
            &d,
            &data,
            json!({"anomaly_benchmark": 600, "rarity_fraction": 0.05, "seed": 17}),
        )
    })
    .await
    .unwrap();
    let state = build_state(
        ServerConfig::defaults(home.clone(), PathBuf::from("astrolab")),
        StoreConfig::sqlite(&home),
    )
    .unwrap();
    let e = Env {
        home: home.clone(),
        app: app(state),
    };
    let viewer = common::api_token(&mut e.store(), "viewer", Role::Viewer, &[]);
    let member = common::api_token(&mut e.store(), "member", Role::Researcher, &["quasars"]);

    // The quasar with the largest BI_CIV of this seed: one C IV and one
    // Si IV trough, both BI and AI.
    let target: i64 = 39632391416842084;

    // Before `outflows bal`: no rows, no section, 404 naming the TARGETID.
    let (st, _, page) = e.get(&format!("/spectra/{target}"), &viewer).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("id=\"spectrum-figure\"") && !page.contains("BAL troughs"));
    let (st, v) = e
        .json(&format!("/api/v1/spectra/{target}/bal"), &viewer)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&format!("TARGETID {target}")));

    let csv_path = dir.path().join("bal.csv");
    let h = home.clone();
    let c = csv_path.clone();
    let out = tokio::task::spawn_blocking(move || {
        common::run_pipeline(
            &common::sqlite_ctx(&h),
            "outflows-bal",
            json!({ "output": c }),
        )
    })
    .await
    .unwrap();
    let catalog_id = out["catalog_id"].as_str().unwrap().to_string();
    // The built-in basis and default settings give this id.
    let (basis, sha) = astrolab_pipeline::outflows::bal::load_basis(None).unwrap();
    assert_eq!(
        catalog_id,
        astrolab_pipeline::outflows::bal::catalog_id(
            &sha,
            &astrolab_pipeline::outflows::bal::bal_config()
        )
    );
    let catalog = common::read_csv_rows(&csv_path);
    assert_eq!(catalog.len(), 600);
    let measured: Vec<&HashMap<String, String>> = catalog
        .iter()
        .filter(|r| r["SKIP_REASON"].is_empty())
        .collect();
    assert_eq!(measured.len(), 377);
    assert_eq!(
        measured.iter().filter(|r| num(r, "BI_CIV") > 0.0).count(),
        5
    );
    assert_eq!(
        measured.iter().filter(|r| num(r, "AI_CIV") > 0.0).count(),
        10
    );
    let top = measured
        .iter()
        .max_by(|a, b| num(a, "BI_CIV").total_cmp(&num(b, "BI_CIV")))
        .unwrap();
    assert_eq!(top["TARGETID"], target.to_string());
    let csv = *top;
    // The numbers this seed gives (km/s).
    for (k, want) in [
        ("BI_CIV", 3179.66),
        ("ERR_BI_CIV", 96.92),
        ("AI_CIV", 4354.40),
        ("ERR_AI_CIV", 113.07),
        ("BI_SIIV", 2976.57),
        ("AI_SIIV", 4164.75),
        ("VMIN_CIV_450_0", 12517.35),
        ("VMAX_CIV_450_0", 18505.34),
    ] {
        assert!((num(csv, k) - want).abs() < 0.01, "{k} = {}", num(csv, k));
    }
    for k in ["NCIV_2000", "NCIV_450", "NSIIV_2000", "NSIIV_450"] {
        assert_eq!(csv[k], "1", "{k}");
    }

    // The API row is the CSV row: every column, same numbers.
    let (st, v) = e
        .json(&format!("/api/v1/spectra/{target}/bal"), &viewer)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["targetid"], target);
    assert_eq!(v["builtin_catalog_id"], catalog_id.as_str());
    assert_eq!(v["count"], 1);
    let item = &v["items"][0];
    assert_eq!(item["catalog_id"], catalog_id.as_str());
    assert_eq!(item["outcome"], "measured");
    assert_eq!(item["cont_fit"], csv["CONT_FIT"].as_str());
    assert_eq!(item["cont_fit"], "iterative");
    assert_eq!(item["figure"], true);
    assert_eq!(item["balmask"], 0);
    assert_eq!(item["z"].as_f64().unwrap(), num(csv, "Z"));
    let file_id = item["file_id"].as_i64().unwrap();
    let row = &item["row"];
    let mut compared = 0;
    for (column, text) in csv.iter() {
        if ["NAME", "TARGETID", "Z", "SKIP_REASON", "CONT_FIT"].contains(&column.as_str()) {
            continue;
        }
        let got = api_value(row, column).unwrap_or_else(|| panic!("API row has no {column}"));
        if text.is_empty() {
            assert!(got.is_null(), "{column}: {got}");
            continue;
        }
        let want: f64 = text.parse().unwrap();
        let got = got
            .as_f64()
            .unwrap_or_else(|| panic!("{column}: {got} is not a number"));
        assert!(
            (got - want).abs() <= 1e-6 * want.abs().max(1.0),
            "{column}: API {got}, CSV {want}"
        );
        compared += 1;
    }
    assert!(compared > 150, "{compared} columns compared");

    // The figure: troughs at their rest wavelengths, the PCA continuum.
    let (st, ct, svg) = e
        .get(&format!("/api/v1/spectra/{target}/bal.svg"), &viewer)
        .await;
    assert_eq!(st, StatusCode::OK, "{svg}");
    assert!(ct.starts_with("image/svg+xml"), "{ct}");
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    assert!(svg.contains(&format!(
        "BI_CIV = {:.1} ± {:.1} km/s",
        num(csv, "BI_CIV"),
        num(csv, "ERR_BI_CIV")
    )));
    assert!(svg.contains("BI_CIV = 3179.7 ± 96.9 km/s"));
    assert!(svg.contains("AI_CIV = 4354.4 ± 113.1 km/s"));
    assert!(svg.contains(">C IV</text>") && svg.contains(">Si IV</text>"));
    for (key, label, line) in [("CIV", "C IV", 1549.0), ("SIIV", "Si IV", 1398.0)] {
        for (width, kind) in [("450", "AI"), ("2000", "BI")] {
            let n = num(csv, &format!("N{key}_{width}")) as usize;
            let class = format!(
                r#"class="trough {} {}""#,
                kind.to_ascii_lowercase(),
                key.to_ascii_lowercase()
            );
            assert_eq!(svg.matches(&class).count(), n, "{class}");
            for k in 0..n {
                let vmin = num(csv, &format!("VMIN_{key}_{width}_{k}"));
                let vmax = num(csv, &format!("VMAX_{key}_{width}_{k}"));
                let (a, b) = (line * (1.0 - vmax / C_KM_S), line * (1.0 - vmin / C_KM_S));
                let title = format!(
                    "{label} {kind} trough {}: {vmin:.0} to {vmax:.0} km/s, rest {a:.1} to {b:.1} Å",
                    k + 1
                );
                assert!(svg.contains(&title), "{title}");
            }
        }
    }
    // C IV's AI trough: 12517-18505 km/s is rest 1453.4-1484.3 A.
    assert!(svg.contains("C IV AI trough 1: 12517 to 18505 km/s, rest 1453.4 to 1484.3 Å"));
    // The continuum path is sum_k PCA_COEFFS[k] * PCA_k at the spectrum's
    // pixels in 1261-1700 A rest (x affine in the rest wavelength, y in
    // the continuum), and the dashed line is 0.9 times it.
    let (st, spec) = e.json(&format!("/api/v1/spectra/{target}"), &viewer).await;
    assert_eq!(st, StatusCode::OK);
    let z = num(csv, "Z");
    let rest: Vec<f64> = spec["wavelength_a"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_f64().unwrap() / (1.0 + z))
        .filter(|w| (1261.0..=1700.0).contains(w))
        .collect();
    assert!(rest.len() > 500, "{} pixels", rest.len());
    let coeffs: Vec<f64> = (0..5)
        .map(|k| num(csv, &format!("PCA_COEFFS_{k}")))
        .collect();
    let interp = basis.interpolate(&rest);
    let n = rest.len();
    let cont: Vec<f64> = (0..n)
        .map(|i| (0..5).map(|k| coeffs[k] * interp[k * n + i]).sum())
        .collect();
    assert!(cont.iter().all(|c| *c > 0.0));
    let drawn = path_points(&svg, "continuum");
    let xs: Vec<f64> = drawn.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = drawn.iter().map(|p| p.1).collect();
    let (x0, xb) = affine(&rest, &xs, "continuum x");
    // The x axis runs from 1261 A (left edge 70) to 1700 A (right 980).
    assert!((x0 + xb * 1261.0 - 70.0).abs() < 0.2 && (x0 + xb * 1700.0 - 980.0).abs() < 0.2);
    let (a, b) = affine(&cont, &ys, "continuum y");
    assert!(b < 0.0, "flux grows upward");
    let dashed = path_points(&svg, "continuum-90");
    assert_eq!(dashed.len(), n);
    for (p, c) in dashed.iter().zip(&cont) {
        assert!((a + b * 0.9 * c - p.1).abs() < 0.15, "0.9 x continuum");
    }
    let flux = path_points(&svg, "flux");
    assert!(flux.len() > 400, "{} flux points", flux.len());

    // The page: the table and the figure.
    let (st, _, page) = e.get(&format!("/spectra/{target}"), &viewer).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains(r#"<h2 id="bal-h">BAL troughs</h2>"#));
    assert!(page.contains(r#"<table id="bal-rows">"#));
    for h in [
        "CONT_FIT",
        "BI_CIV",
        "AI_CIV",
        "NCIV_2000",
        "NCIV_450",
        "BI_SIIV",
        "AI_SIIV",
        "SNR_CIV",
    ] {
        assert!(
            page.contains(&format!(r#"<th scope="col" class="num">{h}</th>"#))
                || page.contains(&format!(r#"<th scope="col">{h}</th>"#)),
            "{h}"
        );
    }
    let table_row = format!(
        r#"<tr><th scope="row"><code>{catalog_id}</code></th><td>measured</td><td>iterative</td><td class="num">3179.7 ± 96.9</td><td class="num">4354.4 ± 113.1</td><td class="num">1</td><td class="num">1</td><td class="num">{:.1}</td><td class="num">{:.1}</td><td class="num">{:.2}</td><td>12517–18505</td></tr>"#,
        num(csv, "BI_SIIV"),
        num(csv, "AI_SIIV"),
        num(csv, "SNR_CIV"),
    );
    assert!(page.contains(&table_row), "{table_row} not in the page");
    assert!(page.contains(&format!(
        r#"<img id="bal-img" src="/api/v1/spectra/{target}/bal.svg" alt="BAL troughs of TARGETID {target}: "#
    )));
    assert!(page.contains("<figcaption>Flux against rest-frame wavelength"));

    // A quasar outside the redshift range: its skip, no figure.
    let skipped = catalog
        .iter()
        .find(|r| r["SKIP_REASON"] == "redshift_out_of_range")
        .unwrap();
    let sid: i64 = skipped["TARGETID"].parse().unwrap();
    let (st, v) = e.json(&format!("/api/v1/spectra/{sid}/bal"), &viewer).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["items"][0]["outcome"], "redshift_out_of_range");
    assert_eq!(v["items"][0]["row"]["SKIP_REASON"], "redshift_out_of_range");
    assert_eq!(v["items"][0]["figure"], false);
    let (st, v) = e
        .json(&format!("/api/v1/spectra/{sid}/bal.svg"), &viewer)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not measured (redshift_out_of_range)"));
    let (_, _, page) = e.get(&format!("/spectra/{sid}"), &viewer).await;
    assert!(page.contains("<td>skipped: redshift_out_of_range</td>"));
    assert!(
        page.contains(&format!(
            r#"<p id="bal-no-figure">No BAL figure: <code>{catalog_id}</code>: not measured (redshift_out_of_range).</p>"#
        )) && !page.contains("bal-img")
    );

    // A row measured with another continuum basis: numbers, no continuum.
    let other_id = "bal-0000000000000000";
    let mut store = e.store();
    let rec = store
        .bal_records(Some(&catalog_id), Some(&[target][..]), &[])
        .unwrap()
        .remove(0)
        .1;
    store
        .write_bal(other_id, std::slice::from_ref(&rec), &mut Progress::none())
        .unwrap();
    drop(store);
    let (_, v) = e
        .json(&format!("/api/v1/spectra/{target}/bal"), &viewer)
        .await;
    assert_eq!(v["count"], 2);
    // Rows by catalog id.
    assert_eq!(v["items"][0]["catalog_id"], other_id);
    assert_eq!(v["items"][1]["catalog_id"], catalog_id.as_str());
    let other = &v["items"][0];
    assert_eq!(other["figure"], false);
    assert!(other["no_figure"]
        .as_str()
        .unwrap()
        .contains("another continuum basis"));
    assert_eq!(other["row"]["BI_CIV"], v["items"][1]["row"]["BI_CIV"]);
    let (_, _, page) = e.get(&format!("/spectra/{target}"), &viewer).await;
    assert!(page.contains(&format!(
        r#"<tr><th scope="row"><code>{other_id}</code></th><td>measured</td>"#
    )));
    assert!(page.contains(&format!(
        r#"<p id="bal-no-figure">Numbers only, no continuum drawn: <code>{other_id}</code>: measured with another continuum basis"#
    )));
    assert!(page.contains(r#"<img id="bal-img""#));
    // The figure still draws the built-in basis's row.
    let (st, _, again) = e
        .get(&format!("/api/v1/spectra/{target}/bal.svg"), &viewer)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(again, svg);

    // The quasar's coadd becomes a restricted dataset of project
    // "quasars": outsiders get neither rows, nor figure, nor page.
    let mut store = e.store();
    common::restrict_to_quasars(&mut store, file_id);
    drop(store);
    for uri in [
        format!("/api/v1/spectra/{target}/bal"),
        format!("/api/v1/spectra/{target}/bal.svg"),
        format!("/api/v1/spectra/{target}"),
        format!("/spectra/{target}"),
    ] {
        let (st, _, body) = e.get(&uri, &viewer).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            !body.contains("3179.") && !body.contains("bal-rows"),
            "{uri}"
        );
    }
    let (_, v) = e
        .json(&format!("/api/v1/spectra/{target}/bal"), &viewer)
        .await;
    assert!(v["error"]["message"].as_str().unwrap().contains(&format!(
        "no BAL measurement in the store for TARGETID {target}"
    )));
    // The project's member reads them, audited.
    let (st, v) = e
        .json(&format!("/api/v1/spectra/{target}/bal"), &member)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["count"], 2);
    let (st, _, _) = e
        .get(&format!("/api/v1/spectra/{target}/bal.svg"), &member)
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, _, page) = e.get(&format!("/spectra/{target}"), &member).await;
    assert!(page.contains(&table_row));
    let reads: Vec<String> = e
        .store()
        .list_audit(1000, None)
        .unwrap()
        .into_iter()
        .filter(|r| r.event.action == "dataset.read" && r.event.target == "qso-private")
        .map(|r| r.event.details["route"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        reads
            .iter()
            .filter(|r| *r == &format!("BAL rows of {target}"))
            .count()
            >= 3,
        "{reads:?}"
    );
}
