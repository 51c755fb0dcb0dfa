//! Real quasar spectra through the anomaly model (issue 17): the SDSS,
//! BOSS and DESI spectra of `$ASTROLAB_SHARED_DATA/qso`, none of which is
//! in a DESI-shaped store, trained on beside 2,000 synthetic benchmark
//! quasars (`anomalies train --with-files`) and scored as files
//! (`anomalies score-files`). The same commands, run by
//! `scripts/anomalies-real-spectra.sh`, make the figures and the table of
//! `docs/anomalies-real-spectra.md`; the values pinned here are theirs.

mod common;

use std::path::Path;

use astrolab_formats::testdata::require_shared_data;
use common::{bin, text};

/// The catalog's rows by NAME: (CLASS, Z, ANOMALY_SCORE, RANK, ANOMALOUS,
/// SKIPPED), as text.
fn rows(csv: &str) -> Vec<Vec<String>> {
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn real_quasars_are_trained_on_scored_and_drawn() {
    let Some(data) = require_shared_data("real_quasars_are_trained_on_scored_and_drawn") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let run_with = |args: &[&str]| {
        let o = bin()
            .env("ASTROLAB_HOME", &home)
            .args(args)
            .output()
            .unwrap();
        (o.status.success(), text(&o))
    };
    let run = |args: &[&str]| {
        let (ok, out) = run_with(args);
        assert!(ok, "astrolab {args:?}: {out}");
        out
    };
    let s = |p: &Path| p.display().to_string();
    let qso = data.join("qso");
    let cats = [
        s(&qso.join("desi/QSO_cat_fuji_dark_healpix.fits.gz")),
        s(&qso.join("desi/QSO_cat_fuji_dark_tile.fits.gz")),
    ];
    let bench = tmp.path().join("bench");
    run(&[
        "demo-data",
        &s(&bench),
        "--anomaly-benchmark",
        "2000",
        "--seed",
        "3",
        "--templates",
        &s(&data.join("templates")),
    ]);
    let redrock = common::redrock_files(&bench);
    let mut ingest = vec!["ingest"];
    ingest.extend(redrock.iter().map(String::as_str));
    run(&ingest);
    run(&["spectra", "build", "--from", &s(&bench)]);

    // Train on the synthetic quasars and the real ones.
    let model = tmp.path().join("model");
    let log = run(&[
        "anomalies",
        "train",
        "--output",
        &s(&model),
        "--max-epochs",
        "12",
        "--seed",
        "1",
        "--with-files",
        &s(&qso.join("sdss-lowz/spectra")),
        &s(&qso.join("boss")),
        &s(&qso.join("desi")),
        "--redshifts",
        &cats[0],
        &cats[1],
    ]);
    println!("{log}");
    // 119 + 70 SDSS/BOSS files and 4 DESI coadds (14 rows); 6 spectra off
    // the model's redshift range (3 wrong pipeline redshifts of 5.5-6.6,
    // 3 below z 0.1) and 2 classed GALAXY left out.
    assert!(
        log.contains("194 quasar spectra from 192 files beside the store's (2 not classed QSO left out, 6 not on the grid: {\"redshift_out_of_range\": 6})"),
        "{log}"
    );
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("model.json")).unwrap()).unwrap();
    assert_eq!(card["counts"]["files_spectra"], 202);
    assert_eq!(card["counts"]["files_quasars"], 194);
    assert_eq!(card["counts"]["trained"], 1579);
    assert_eq!(card["training_files"].as_array().unwrap().len(), 192);
    assert_eq!(card["model_id"], "vae-18872ef340fba767");

    // Score every spectrum file of qso/ (directories searched; the
    // catalogs and spAll files there are not spectra and are passed over).
    let catalog = tmp.path().join("files.csv");
    let figures = tmp.path().join("figures");
    let log = run(&[
        "anomalies",
        "score-files",
        &s(&qso),
        "--redshifts",
        &cats[0],
        &cats[1],
        "--output",
        &s(&catalog),
        "--figures",
        &s(&figures),
        "--figure",
        "spec-3655-55240-0110",
    ]);
    println!("{log}");
    assert!(
        log.contains("196 spectra of 192 files scored with vae-18872ef340fba767: 137 above the threshold 0.994670; 6 not scored {\"redshift_out_of_range\": 6}"),
        "{log}"
    );
    let csv = std::fs::read_to_string(&catalog).unwrap();
    let rows = rows(&csv);
    assert_eq!(rows.len(), 202);
    let by_name = |n: &str| rows.iter().find(|r| r[0] == n).unwrap().clone();
    // The BAL quasar (deep N V, Si IV, C IV troughs; pipeline z 3.388).
    let bal = by_name("spec-3655-55240-0110");
    assert_eq!((bal[11].as_str(), bal[12].as_str()), ("4", "1"), "{bal:?}");
    // The spectra classed GALAXY by their pipelines, scored as given.
    assert_eq!(by_name("spec-8398-57870-0908")[11], "2");
    assert_eq!(by_name("spec-0266-51602-0107")[11], "13");
    // Wrong pipeline redshifts: outside the model's range, listed with
    // their redshift and the reason, never ranked.
    for (n, z) in [
        ("spec-0772-52375-0216", "6.639936447143555"),
        ("spec-10742-58198-0490", "5.966165065765381"),
        ("spec-9581-57783-0437", "5.487307548522949"),
    ] {
        let r = by_name(n);
        assert_eq!(
            (r[6].as_str(), r[11].as_str(), r[13].as_str()),
            (z, "", "redshift_out_of_range")
        );
    }
    // A DESI coadd row: named by file and TARGETID.
    let d = by_name("coadd-2-80693-thru20210204:39633561174674576");
    assert_eq!(
        (d[1].as_str(), d[3].as_str(), d[11].as_str()),
        ("desi", "39633561174674576", "15")
    );
    // Figures: the three most anomalous, three around the median rank,
    // and the BAL quasar (asked with --figure).
    let mut names: Vec<String> = std::fs::read_dir(&figures)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "rank-001-spec-10731-58247-0959.svg",
            "rank-002-spec-8398-57870-0908.svg",
            "rank-003-spec-8378-57785-0916.svg",
            "rank-004-spec-3655-55240-0110.svg",
            "rank-098-spec-3657-55244-0552.svg",
            "rank-099-spec-3655-55240-0990.svg",
            "rank-100-spec-1941-53386-0553.svg",
        ]
    );
    let svg = std::fs::read_to_string(figures.join("rank-004-spec-3655-55240-0110.svg")).unwrap();
    assert!(
        svg.contains("spec-3655-55240-0110, z = 3.3877: rank 4"),
        "{svg:.300}"
    );

    // The catalog pipeline on one thread (the CLI used every core): the
    // same catalog and figures, byte for byte.
    let params = tmp.path().join("params.json");
    std::fs::write(
        &params,
        serde_json::json!({"paths": [s(&qso)], "redshifts": cats, "figure": ["spec-3655-55240-0110"]})
            .to_string(),
    )
    .unwrap();
    let rundir = tmp.path().join("run");
    run(&[
        "run",
        "anomalies-score-files",
        "--params",
        &s(&params),
        "--out-dir",
        &s(&rundir),
        "--threads",
        "1",
    ]);
    assert_eq!(
        std::fs::read(rundir.join("anomalies_files.csv")).unwrap(),
        csv.as_bytes()
    );
    for n in &names {
        assert_eq!(
            std::fs::read(rundir.join("figures").join(n)).unwrap(),
            std::fs::read(figures.join(n)).unwrap(),
            "{n}"
        );
    }

    // Bad input: a file that is not a spectrum, a figure of an unscored one.
    let (ok, out) = run_with(&[
        "anomalies",
        "score-files",
        &s(&qso.join("boss/spAll-plate3655.fits")),
        "--output",
        &s(&tmp.path().join("x.csv")),
    ]);
    assert!(!ok);
    assert!(out.contains("spAll-plate3655.fits"), "{out}");
    let (ok, out) = run_with(&[
        "anomalies",
        "score-files",
        &s(&qso.join("sdss-lowz/spectra")),
        "--output",
        &s(&tmp.path().join("y.csv")),
        "--figures",
        &s(&tmp.path().join("f")),
        "--figure",
        "spec-0772-52375-0216",
    ]);
    assert!(!ok);
    assert!(
        out.contains("--figure spec-0772-52375-0216: it was not scored (redshift_out_of_range)"),
        "{out}"
    );
    assert!(!tmp.path().join("y.csv").exists(), "nothing is written");
}
