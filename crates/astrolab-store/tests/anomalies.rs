//! Anomaly model registry, scores, skips and labels (migration 9), on both
//! backends.

mod common;

use astrolab_store::{
    AnomalyFilter, AnomalyLabel, AnomalyModel, AnomalyScore, AnomalySkip, Progress, Store,
};
use common::backends;

fn model(id: &str) -> AnomalyModel {
    AnomalyModel {
        model_id: id.into(),
        created_at: "2026-12-05T12:00:00Z".into(),
        latent_dim: 3,
        weights_sha256: "ab".repeat(32),
        config: serde_json::json!({"latent": 3, "grid": {"n": 1500}}),
        calibration: serde_json::json!({"threshold": 0.9, "target_fpr": 0.01}),
        manifest: None,
        training_file_ids: vec![1, 2],
    }
}

/// `n` rows; TARGETID 100 + i, file 1 for even i and 2 for odd i; rank by
/// descending score (score = i / n), so TARGETID 100 + n - 1 ranks first.
fn scores(n: usize) -> Vec<AnomalyScore> {
    (0..n)
        .map(|i| AnomalyScore {
            target_id: 100 + i as i64,
            file_id: Some(1 + (i % 2) as i64),
            z: 0.5 + i as f64 / 100.0,
            latent: vec![i as f32 * 0.1, -1.0 / (1.0 + i as f32), 3.0],
            recon_chi2: 1.0 + i as f64,
            iso_score: 0.4 + i as f64 / (10.0 * n as f64),
            anomaly_score: i as f64 / n as f64,
            rank: (n - i) as i64,
        })
        .collect()
}

#[test]
fn scores_round_trip_rank_filter_skip_and_label() {
    let (_dir, cfgs) = backends("anomalies_round_trip");
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        let b = store.backend();
        store
            .register_anomaly_model(&model("vae-00112233"))
            .unwrap();
        // The same id again is refused: an id names its weights.
        let e = store
            .register_anomaly_model(&model("vae-00112233"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("already registered"), "{b}: {e}");
        assert_eq!(
            store.anomaly_model("vae-0011").unwrap(),
            model("vae-00112233")
        );
        let e = store.anomaly_model("vae-99").unwrap_err().to_string();
        assert!(e.contains("no anomaly model"), "{b}: {e}");

        let s = scores(10);
        let skips = vec![
            AnomalySkip {
                target_id: 900,
                file_id: Some(1),
                reason: "all pixels masked".into(),
            },
            AnomalySkip {
                target_id: 901,
                file_id: Some(2),
                reason: "redshift 5.1 outside 0.1-4.5".into(),
            },
            AnomalySkip {
                target_id: 902,
                file_id: Some(2),
                reason: "all pixels masked".into(),
            },
        ];
        assert_eq!(store.anomaly_scores_generation("vae-00112233").unwrap(), 0);
        let n = store
            .write_anomaly_scores("vae-00112233", &s, &skips, &mut Progress::none())
            .unwrap();
        assert_eq!(n, 10, "{b}");
        assert_eq!(store.anomaly_scores_generation("vae-00112233").unwrap(), 1);
        let all = store
            .anomaly_scores("vae-00112233", &AnomalyFilter::default(), &[])
            .unwrap();
        assert_eq!(all.len(), 10, "{b}");
        assert_eq!(all[0].target_id, 109, "{b}");
        assert_eq!(
            all[0], s[9],
            "{b}: the row reads back exactly, latent included"
        );
        assert_eq!(
            all.iter().map(|r| r.rank).collect::<Vec<_>>(),
            (1..=10).collect::<Vec<_>>()
        );

        // Filters: score, redshift, paging; files the caller may not read.
        let f = AnomalyFilter {
            min_score: Some(0.5),
            z_max: Some(0.575),
            ..Default::default()
        };
        let got: Vec<i64> = store
            .anomaly_scores("vae-00112233", &f, &[])
            .unwrap()
            .iter()
            .map(|r| r.target_id)
            .collect();
        assert_eq!(got, vec![107, 106, 105], "{b}");
        let f = AnomalyFilter {
            limit: Some(2),
            offset: 3,
            ..Default::default()
        };
        let got: Vec<i64> = store
            .anomaly_scores("vae-00112233", &f, &[])
            .unwrap()
            .iter()
            .map(|r| r.target_id)
            .collect();
        assert_eq!(got, vec![106, 105], "{b}");
        let got: Vec<i64> = store
            .anomaly_scores("vae-00112233", &AnomalyFilter::default(), &[2])
            .unwrap()
            .iter()
            .map(|r| r.target_id)
            .collect();
        assert_eq!(
            got,
            vec![108, 106, 104, 102, 100],
            "{b}: file 2's rows are left out"
        );
        assert_eq!(
            store.anomaly_score_count("vae-00112233", &[2]).unwrap(),
            5,
            "{b}"
        );

        let counts = store.anomaly_skip_counts("vae-00112233").unwrap();
        assert_eq!(counts.get("all pixels masked"), Some(&2), "{b}");
        assert_eq!(counts.get("redshift 5.1 outside 0.1-4.5"), Some(&1), "{b}");

        // Labels: one per user and spectrum, the latest wins, audited;
        // a spectrum of a file the caller may not read cannot be labelled.
        store
            .set_anomaly_label("vae-00112233", 109, AnomalyLabel::Unsure, "ada", &[])
            .unwrap();
        store
            .set_anomaly_label("vae-00112233", 109, AnomalyLabel::Anomaly, "ada", &[])
            .unwrap();
        store
            .set_anomaly_label("vae-00112233", 108, AnomalyLabel::Artefact, "bob", &[])
            .unwrap();
        let e = store
            .set_anomaly_label("vae-00112233", 109, AnomalyLabel::Normal, "bob", &[2])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no score under model"), "{b}: {e}");
        let labels = store.anomaly_labels("vae-00112233", &[]).unwrap();
        let got: Vec<(i64, &str, AnomalyLabel)> = labels
            .iter()
            .map(|l| (l.target_id, l.username.as_str(), l.label))
            .collect();
        assert_eq!(
            got,
            vec![
                (108, "bob", AnomalyLabel::Artefact),
                (109, "ada", AnomalyLabel::Anomaly)
            ],
            "{b}"
        );
        assert_eq!(
            store.anomaly_labels("vae-00112233", &[2]).unwrap().len(),
            1,
            "{b}"
        );
        let f = AnomalyFilter {
            label: Some(AnomalyLabel::Anomaly),
            ..Default::default()
        };
        let got: Vec<i64> = store
            .anomaly_scores("vae-00112233", &f, &[])
            .unwrap()
            .iter()
            .map(|r| r.target_id)
            .collect();
        assert_eq!(got, vec![109], "{b}");

        // A re-score replaces the model's rows and skips in one go; a bad
        // ranking is refused and leaves the old rows.
        let mut bad = scores(4);
        bad[0].rank = 2;
        let e = store
            .write_anomaly_scores("vae-00112233", &bad, &[], &mut Progress::none())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a unique rank"), "{b}: {e}");
        // A refused write leaves the generation too.
        assert_eq!(store.anomaly_scores_generation("vae-00112233").unwrap(), 1);
        assert_eq!(
            store.anomaly_score_count("vae-00112233", &[]).unwrap(),
            10,
            "{b}"
        );
        store
            .write_anomaly_scores("vae-00112233", &scores(4), &[], &mut Progress::none())
            .unwrap();
        assert_eq!(store.anomaly_scores_generation("vae-00112233").unwrap(), 2);
        assert_eq!(
            store.anomaly_score_count("vae-00112233", &[]).unwrap(),
            4,
            "{b}"
        );
        assert!(
            store
                .anomaly_skip_counts("vae-00112233")
                .unwrap()
                .is_empty(),
            "{b}"
        );
        // Scores of an unregistered model are refused.
        let e = store
            .write_anomaly_scores("vae-ffff", &scores(1), &[], &mut Progress::none())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no anomaly model"), "{b}: {e}");
    }
}

/// `--select` over the redshift catalogs: exactly the QSO rows with ZWARN
/// 0 of an ingested zcatalog, and none of a file the caller may not read.
#[test]
fn select_target_ids_applies_the_filter_and_the_rules() {
    let (dir, cfgs) = backends("anomalies_select");
    let (ra, dec) = common::sky_points(60, 3);
    let f = dir.path().join("zcat.fits");
    common::write_zcatalog(&f, &ra, &dec, 3);
    // The writer's rows: SPECTYPE cycles GALAXY, QSO, STAR; every tenth row
    // has ZWARN 4. QSO rows are i % 3 == 1; those with i % 10 == 0 drop out.
    let want: Vec<i64> = (0..60i64)
        .filter(|i| i % 3 == 1 && i % 10 != 0)
        .map(|i| 39627000000000000 + i)
        .collect();
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        let b = store.backend();
        let out = store
            .ingest_file(
                &f,
                &astrolab_store::IngestOptions::default(),
                &mut Progress::none(),
            )
            .unwrap();
        let file_id = match out {
            astrolab_store::IngestOutcome::Loaded { file, .. }
            | astrolab_store::IngestOutcome::AlreadyIngested { file } => file.file_id,
        };
        let got = store
            .select_target_ids("spectype = 'QSO' AND zwarn = 0", &[])
            .unwrap();
        assert_eq!(got, want, "{b}");
        assert_eq!(got.len(), 18, "{b}");
        assert!(
            store
                .select_target_ids("spectype = 'QSO'", &[file_id])
                .unwrap()
                .is_empty(),
            "{b}"
        );
        let e = store
            .select_target_ids("nonsense_column = 1", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("nonsense_column"), "{b}: {e}");
    }
}

/// Spectra read for a run follow the submitter's dataset rules: a spectra
/// file built from a restricted raw file is left out for a non-member, and
/// a member's read of it restricts the run (the anomaly pipelines and
/// `spectra get` read through `locate_spectra`).
#[test]
fn spectra_read_for_a_run_follow_the_submitters_rules() {
    use astrolab_store::{SpectraFileRecord, Visibility};
    let (dir, cfgs) = backends("anomalies_spectra_rules");
    let (ra, dec) = common::sky_points(10, 5);
    let f = dir.path().join("zsecret.fits");
    common::write_zcatalog(&f, &ra, &dec, 5);
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        let b = store.backend();
        let file = match store
            .ingest_file(
                &f,
                &astrolab_store::IngestOptions::default(),
                &mut Progress::none(),
            )
            .unwrap()
        {
            astrolab_store::IngestOutcome::Loaded { file, .. }
            | astrolab_store::IngestOutcome::AlreadyIngested { file } => file,
        };
        store
            .upsert_dataset("secret", "", Visibility::Restricted, &["p1".to_string()])
            .unwrap();
        store.add_file_to_dataset("secret", file.file_id).unwrap();
        let rec = |path: &str, sources: serde_json::Value| SpectraFileRecord {
            spectra_file_id: 0,
            path: path.into(),
            survey: "main".into(),
            program: "dark".into(),
            healpix: 1,
            n_spectra: 1,
            size_bytes: 1,
            sources: sources.to_string(),
            built_at: "2026-12-05T00:00:00Z".into(),
            software_version: "test".into(),
        };
        let secret_src = serde_json::json!([format!("{} sha256:{}", file.name, file.sha256)]);
        store
            .register_spectra_file(&rec("/s/secret.parquet", secret_src), &[(1, 0, 1.0)])
            .unwrap();
        store
            .register_spectra_file(
                &rec(
                    "/s/public.parquet",
                    serde_json::json!(["coadd-other.fits sha256:00"]),
                ),
                &[(2, 0, 1.0)],
            )
            .unwrap();
        store
            .register_spectra_file(
                &rec("/s/unknown.parquet", serde_json::json!("not a list")),
                &[(3, 0, 1.0)],
            )
            .unwrap();
        let mut run_of = |name: &str, projects: &[&str]| {
            common::researcher_run(&mut store, name, projects, "anomalies-score")
        };
        let bob_run = run_of("bob", &[]);
        let rosa_run = run_of("rosa", &["p1"]);
        let located = |store: &mut Store| -> Vec<i64> {
            store
                .locate_spectra(&[1, 2, 3])
                .unwrap()
                .iter()
                .map(|l| l.target_id)
                .collect()
        };
        // Acting for nobody (the operator's CLI): everything.
        assert_eq!(located(&mut store), vec![2, 1, 3], "{b}");
        let mut bob = Store::open(&cfg).unwrap();
        bob.act_for_run(bob_run).unwrap();
        assert_eq!(
            located(&mut bob),
            vec![2],
            "{b}: bob reads only the public file; unknown sources fail closed"
        );
        let mut rosa = Store::open(&cfg).unwrap();
        rosa.act_for_run(rosa_run).unwrap();
        assert_eq!(
            located(&mut rosa),
            vec![2, 1],
            "{b}: rosa reads the secret file too"
        );
        let run = store.get_run(rosa_run).unwrap().unwrap();
        assert_eq!(run.restricted_projects, Some(vec!["p1".to_string()]), "{b}");
        assert_eq!(
            store.get_run(bob_run).unwrap().unwrap().restricted_projects,
            None,
            "{b}"
        );
    }
}
