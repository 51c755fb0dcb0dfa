//! The quasar's spectral fit on the server (issue 20): `GET
//! /api/v1/spectra/{id}/qsofit` answers the rows `astrolab qso fit` wrote
//! into the store (the same numbers as its CSV catalog), `qsofit.svg`
//! redraws the fit (data, model, components, residuals) by refitting with
//! the catalog's stored settings and says that the refit equals the
//! stored row, the spectrum page shows the table and the figure (and no
//! section before the quasars were fitted), a skipped quasar shows its
//! reason and no figure, and a quasar of a restricted dataset loses rows,
//! figure and page for outsiders while its project's reads are audited.
//!
//! The store is built by the pipelines themselves: 200 benchmark quasars
//! from the redrock templates in ../shared/data (`demo-data
//! --anomaly-benchmark 200 --rarity-fraction 0.05 --seed 17`), ingested,
//! spectra built, fitted with the real Fe II templates of ../shared/data.

use std::collections::HashMap;
use std::path::PathBuf;

use astrolab_formats::testdata::require_shared_data;
use astrolab_server::{app, build_state, ServerConfig};
use astrolab_store::{Role, Store, StoreConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

mod common;

struct Env {
    home: PathBuf,
    app: Router,
}

impl Env {
    fn store(&self) -> Store {
        Store::open(&StoreConfig::sqlite(&self.home)).unwrap()
    }

    async fn get(&self, uri: &str, token: &str) -> (StatusCode, HashMap<String, String>, String) {
        let req = Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    async fn json(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        let (st, _, body) = self.get(uri, token).await;
        (st, serde_json::from_str(&body).unwrap_or(Value::Null))
    }
}

fn num(row: &HashMap<String, String>, k: &str) -> f64 {
    row[k].parse().unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fit_rows_figure_and_page_follow_the_store_and_the_datasets() {
    let Some(data) = require_shared_data("quasar fit routes") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let data2 = data.clone();
    let home = tokio::task::spawn_blocking(move || {
        common::quasar_home(
            &d,
            &data2,
            json!({"anomaly_benchmark": 200, "rarity_fraction": 0.05, "seed": 17}),
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

    let csv_path = dir.path().join("fits.csv");
    let h = home.clone();
    let c = csv_path.clone();
    let t = data.join("templates");
    let out = tokio::task::spawn_blocking(move || {
        common::run_pipeline(&common::sqlite_ctx(&h),
            "qso-fit",
            json!({ "output": c, "fe_optical": t.join("fe_optical.txt"), "fe_uv": t.join("fe_uv.txt"),
                    "mc": 10, "shard_size": 64 }),
        )
    })
    .await
    .unwrap();
    let catalog_id = out["catalog_id"].as_str().unwrap().to_string();
    assert_eq!(out["stored"], true);
    // Every benchmark quasar is fitted (z 0.1-4: some complex is always
    // covered); 6 have an [O III] wing.
    assert_eq!(
        (out["spectra"].as_u64(), out["fitted"].as_u64()),
        (Some(200), Some(200))
    );
    assert_eq!(out["with_oiii_wing"], 6);
    let catalog = common::read_csv_rows(&csv_path);
    let fitted: Vec<&HashMap<String, String>> = catalog
        .iter()
        .filter(|r| r["SKIP_REASON"].is_empty())
        .collect();
    let skips: Vec<&HashMap<String, String>> = catalog
        .iter()
        .filter(|r| !r["SKIP_REASON"].is_empty())
        .collect();
    assert_eq!((catalog.len(), fitted.len(), skips.len()), (200, 200, 0));
    // The store's counts are the catalog's.
    let cats = e.store().qso_fit_catalogs().unwrap();
    assert_eq!(cats.len(), 1);
    assert_eq!(cats[0].catalog_id, catalog_id);
    assert_eq!(
        cats[0].outcomes.get("fitted").copied(),
        Some(fitted.len() as i64)
    );
    assert_eq!(cats[0].outcomes.values().sum::<i64>(), catalog.len() as i64);
    // The stored settings name the catalog and hold the templates' text.
    let settings = e.store().qso_fit_config(&catalog_id).unwrap().unwrap();
    assert_eq!(
        astrolab_store::qso_fits::fit_catalog_id(&settings),
        catalog_id
    );
    let fe = std::fs::read_to_string(data.join("templates/fe_optical.txt")).unwrap();
    let parsed: astrolab_pipeline::qso::fit::FitSettings = serde_json::from_str(&settings).unwrap();
    assert_eq!(parsed.fe_optical.as_deref(), Some(fe.as_str()));
    assert_eq!(parsed.mc, 10);

    // The quasar with an H-beta mass and the widest [O III]: a low-z one.
    let top = fitted
        .iter()
        .filter(|r| num(r, "LOG_MBH_HB").is_finite())
        .max_by(|a, b| num(a, "OIII_W80").total_cmp(&num(b, "OIII_W80")))
        .unwrap();
    let target: i64 = top["TARGETID"].parse().unwrap();
    assert_eq!(target, 39632307505596876);
    // Its numbers (km/s, log erg/s, log M_sun) and a claimed wing.
    for (k, want) in [
        ("Z", "0.5756"),
        ("OIII_W80", "1950.66"),
        ("HB_BR_FWHM", "1957.54"),
        ("LOG_L5100", "43.91"),
        ("LOG_MBH_HB", "7.45"),
    ] {
        let digits = want.split('.').nth(1).unwrap().len();
        assert_eq!(format!("{:.digits$}", num(top, k)), want, "{k}");
    }
    assert_eq!(top["OIII_WING"], "1");

    // The API row is the CSV row: every column, same numbers.
    let (st, v) = e
        .json(&format!("/api/v1/spectra/{target}/qsofit"), &viewer)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["targetid"], target);
    assert_eq!(v["count"], 1);
    let item = &v["items"][0];
    assert_eq!(item["catalog_id"], catalog_id.as_str());
    assert_eq!(item["outcome"], "fitted");
    assert_eq!(
        item["mc_samples"].as_i64().unwrap(),
        num(top, "MC_SAMPLES") as i64
    );
    assert_eq!(item["z"].as_f64().unwrap(), num(top, "Z"));
    let file_id = item["file_id"].as_i64().unwrap();
    let row = &item["row"];
    let mut compared = 0;
    for (column, text) in top.iter() {
        if [
            "NAME",
            "TARGETID",
            "Z",
            "SKIP_REASON",
            "OIII_WING",
            "OIII_WING_SNR",
            "CONT_RCHI2",
            "MC_SAMPLES",
            "SIGMA_INST",
        ]
        .contains(&column.as_str())
        {
            continue;
        }
        // A column of lines this quasar's fit did not cover is empty in
        // the CSV and absent from the row.
        if text.is_empty() {
            assert!(row.get(column).is_none_or(Value::is_null), "{column}");
            continue;
        }
        let got = row
            .get(column)
            .unwrap_or_else(|| panic!("API row has no {column}"));
        let want: f64 = text.parse().unwrap();
        assert_eq!(got.as_f64(), Some(want), "{column}");
        compared += 1;
    }
    assert_eq!(compared, 170, "columns compared");

    // The figure: the refit equals the stored row.
    let (st, headers, svg) = e
        .get(&format!("/api/v1/spectra/{target}/qsofit.svg"), &viewer)
        .await;
    assert_eq!(st, StatusCode::OK, "{svg}");
    assert!(headers["content-type"].starts_with("image/svg+xml"));
    assert_eq!(headers["x-astrolab-refit"], "matches");
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    let title = format!(
        "{target}  z = {:.4}  [O III] W80 = {:.0} km/s, log M(Hβ) = {:.2}",
        num(top, "Z"),
        num(top, "OIII_W80"),
        num(top, "LOG_MBH_HB")
    );
    assert!(svg.contains(&title), "{title}");
    for colour in ["#999", "#d62728", "#1f77b4", "#2ca02c", "#9467bd"] {
        assert!(svg.contains(&format!("stroke=\"{colour}\"")), "{colour}");
    }

    // The page: the table and the figure.
    let (st, _, page) = e.get(&format!("/spectra/{target}"), &viewer).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains(r#"<h2 id="qsofit-h">Spectral fit</h2>"#));
    assert!(page.contains(r#"<table id="qsofit-rows">"#));
    let cell = |k: &str, d: usize| {
        let v = num(top, k);
        let e = num(top, &format!("{k}_ERR"));
        if e.is_finite() {
            format!("{v:.d$} ± {e:.d$}")
        } else {
            format!("{v:.d$}")
        }
    };
    let row_start = format!(
        r#"<tr><th scope="row"><code>{catalog_id}</code></th><td>fitted</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>"#,
        cell("LOG_L5100", 3),
        cell("HB_BR_FWHM", 0),
        cell("OIII_W80", 0)
    );
    assert!(page.contains(&row_start), "{row_start} not in the page");
    assert!(page.contains(&format!(
        r#"<img id="qsofit-img" src="/api/v1/spectra/{target}/qsofit.svg?catalog={catalog_id}""#
    )));

    // A skipped quasar: its reason, no figure. (Every benchmark quasar
    // was fitted, so the skip is a row of another catalog, written as a
    // run writes one.)
    let sid: i64 = fitted[0]["TARGETID"].parse().unwrap();
    assert_ne!(sid, target);
    let skip_settings = r#"{"test":"a skip"}"#;
    let skip_id = e
        .store()
        .write_qso_fits(
            skip_settings,
            &[astrolab_store::QsoFitRecord {
                target_id: sid,
                file_id: None,
                z: 7.5,
                outcome: "redshift 7.5 outside 0 < z < 6".into(),
                sigma_inst: 28.3,
                oiii_wing: None,
                oiii_wing_snr: None,
                cont_rchi2: None,
                mc_samples: None,
                row_json: "{}".into(),
            }],
            &mut astrolab_store::Progress::none(),
        )
        .unwrap();
    {
        let (st, v) = e
            .json(&format!("/api/v1/spectra/{sid}/qsofit"), &viewer)
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v["count"], 2);
        let skip = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["catalog_id"] == skip_id.as_str())
            .unwrap();
        assert_eq!(skip["outcome"], "redshift 7.5 outside 0 < z < 6");
        assert_eq!(skip["row"], json!({}));
        let (st, v) = e
            .json(
                &format!("/api/v1/spectra/{sid}/qsofit.svg?catalog={skip_id}"),
                &viewer,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not fitted (redshift 7.5 outside 0 < z < 6)"));
        // Without a catalog the figure is the fitted row's.
        let (st, h, _) = e
            .get(&format!("/api/v1/spectra/{sid}/qsofit.svg"), &viewer)
            .await;
        assert_eq!(
            (st, h["x-astrolab-refit"].as_str()),
            (StatusCode::OK, "matches")
        );
        let (_, _, page) = e.get(&format!("/spectra/{sid}"), &viewer).await;
        assert!(page.contains("<td>skipped: redshift 7.5 outside 0 &lt; z &lt; 6</td>"));
        assert!(page.contains("qsofit-img"));
    }
    // An unknown catalog: 404 naming the catalogs it has.
    let (st, v) = e
        .json(
            &format!("/api/v1/spectra/{target}/qsofit.svg?catalog=qsofit-nope"),
            &viewer,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&catalog_id));

    // The quasar's coadd becomes a restricted dataset of project
    // "quasars": outsiders get neither rows, nor figure, nor page.
    let mut store = e.store();
    common::restrict_to_quasars(&mut store, file_id);
    drop(store);
    for uri in [
        format!("/api/v1/spectra/{target}/qsofit"),
        format!("/api/v1/spectra/{target}/qsofit.svg"),
        format!("/spectra/{target}"),
    ] {
        let (st, _, body) = e.get(&uri, &viewer).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            !body.contains("qsofit-rows") && !body.contains(&catalog_id),
            "{uri}"
        );
    }
    // The project's member reads them, audited.
    let (st, v) = e
        .json(&format!("/api/v1/spectra/{target}/qsofit"), &member)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["count"], 1);
    let (st, h, _) = e
        .get(&format!("/api/v1/spectra/{target}/qsofit.svg"), &member)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h["x-astrolab-refit"], "matches");
    let (_, _, page) = e.get(&format!("/spectra/{target}"), &member).await;
    assert!(page.contains(&row_start));
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
            .filter(|r| *r == &format!("quasar fits of {target}"))
            .count()
            >= 3,
        "{reads:?}"
    );
}
