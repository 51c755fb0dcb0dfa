//! Quasar fit rows (migration 12) on both backends: a catalog's rows and
//! settings written together and replaced whole, the catalog id named by
//! the settings, skips kept with their reason and no numbers, scalar
//! columns queryable, reads leaving out files the caller may not read, and
//! bad rows refused before anything is written.

mod common;

use astrolab_store::qso_fits::{fit_catalog_id, FITTED};
use astrolab_store::{Progress, QsoFitRecord, Store, Value};
use common::backends;

fn fitted(target_id: i64, file_id: i64, w80: f64, wing: bool) -> QsoFitRecord {
    let row = serde_json::json!({
        "LOG_L5100": 44.25, "LOG_L5100_ERR": 0.01,
        "HB_BR_FWHM": 4210.5, "OIII_W80": w80, "OIII_V50": -35.5,
        "OIII_DV": if wing { serde_json::json!(-210.5) } else { serde_json::Value::Null },
        "LOG_MBH_HB": 8.125, "LOG_MBH_CIV": null,
    });
    QsoFitRecord {
        target_id,
        file_id: Some(file_id),
        z: 0.25,
        outcome: FITTED.into(),
        sigma_inst: 28.3,
        oiii_wing: Some(wing),
        oiii_wing_snr: Some(if wing { 12.5 } else { 1.5 }),
        cont_rchi2: Some(1.125),
        mc_samples: Some(50),
        row_json: row.to_string(),
    }
}

fn skipped(target_id: i64, reason: &str) -> QsoFitRecord {
    QsoFitRecord {
        target_id,
        file_id: None,
        z: 5.5,
        outcome: reason.into(),
        sigma_inst: 28.3,
        oiii_wing: None,
        oiii_wing_snr: None,
        cont_rchi2: None,
        mc_samples: None,
        row_json: "{}".into(),
    }
}

#[test]
fn fit_rows_round_trip_replace_and_rules() {
    let (_dir, cfgs) = backends("qso_fits");
    let config = r#"{"lines":"[[complex]]","balmer":true,"mc":50}"#;
    let other = r#"{"lines":"[[complex]]","balmer":false,"mc":50}"#;
    let id = fit_catalog_id(config);
    assert_eq!(id.len(), "qsofit-".len() + 16);
    assert_ne!(id, fit_catalog_id(other));
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        let b = store.backend();
        let rows = vec![
            fitted(11, 1, 612.5, true),
            fitted(12, 2, 455.0, false),
            skipped(13, "redshift 5.5 outside the table's lines"),
        ];
        let got_id = store
            .write_qso_fits(config, &rows, &mut Progress::none())
            .unwrap();
        assert_eq!(got_id, id, "{b}");
        assert_eq!(store.qso_fit_config(&id).unwrap().as_deref(), Some(config));
        assert_eq!(store.qso_fit_config("qsofit-none").unwrap(), None);
        let got = store.qso_fit_records(Some(&id), None, &[]).unwrap();
        assert_eq!(got.len(), 3, "{b}");
        for ((gid, r), want) in got.iter().zip(&rows) {
            assert_eq!(gid, &id);
            assert_eq!(r, want, "{b}: a row reads back exactly");
        }
        // Scalars are columns (NULL where the fit gave none); a skip's are
        // all NULL.
        let t = store
            .sql_readonly(
                "SELECT target_id, oiii_w80, oiii_dv, log_mbh_hb, log_mbh_civ, oiii_wing FROM quasar_fits ORDER BY target_id",
            )
            .unwrap();
        assert_eq!(t.rows[0][1], Value::Float(612.5), "{b}");
        assert_eq!(t.rows[0][2], Value::Float(-210.5), "{b}");
        assert_eq!(t.rows[0][3], Value::Float(8.125), "{b}");
        assert_eq!(t.rows[0][4], Value::Null, "{b}");
        assert_eq!(t.rows[1][2], Value::Null, "{b}");
        assert_eq!(
            t.rows[2][1..],
            [
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null
            ],
            "{b}"
        );
        // Only the requested targets; only files the caller may read (a
        // row from no registered file is public).
        let some = store
            .qso_fit_records(None, Some(&[12, 13, 99]), &[2])
            .unwrap();
        let ids: Vec<i64> = some.iter().map(|(_, r)| r.target_id).collect();
        assert_eq!(ids, [13], "{b}");

        // A second run of the same settings replaces its rows whole;
        // other settings keep their own.
        let other_id = store
            .write_qso_fits(other, &[fitted(11, 1, 500.0, false)], &mut Progress::none())
            .unwrap();
        store
            .write_qso_fits(config, &[fitted(14, 1, 700.0, true)], &mut Progress::none())
            .unwrap();
        let cats = store.qso_fit_catalogs().unwrap();
        assert_eq!(cats.len(), 2, "{b}");
        let mine = cats.iter().find(|c| c.catalog_id == id).unwrap();
        assert_eq!(mine.outcomes.get(FITTED), Some(&1), "{b}");
        assert_eq!(mine.outcomes.len(), 1, "{b}");
        assert!(mine.written_at.ends_with('Z'), "{b}: {}", mine.written_at);
        let theirs = cats.iter().find(|c| c.catalog_id == other_id).unwrap();
        assert_eq!(theirs.outcomes.get(FITTED), Some(&1), "{b}");

        // Bad rows are refused and nothing is written: a TARGETID twice, a
        // skip with numbers, a non-JSON row, settings that are not JSON.
        let bad = [
            (
                config,
                vec![fitted(20, 1, 1.0, true), fitted(20, 1, 1.0, true)],
                "TARGETID 20 twice",
            ),
            (
                config,
                vec![QsoFitRecord {
                    row_json: "{\"OIII_W80\": 1.0}".into(),
                    ..skipped(21, "no redshift")
                }],
                "OIII_W80 given for a skip",
            ),
            (
                config,
                vec![QsoFitRecord {
                    row_json: "not json".into(),
                    ..fitted(22, 1, 1.0, true)
                }],
                "row_json is not JSON",
            ),
            (
                "not json",
                vec![fitted(23, 1, 1.0, true)],
                "settings are not JSON",
            ),
        ];
        for (settings, rows, want) in bad {
            let e = store
                .write_qso_fits(settings, &rows, &mut Progress::none())
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{b}: {e}");
        }
        let still = store.qso_fit_records(Some(&id), None, &[]).unwrap();
        assert_eq!(still.len(), 1, "{b}");
        assert_eq!(still[0].1.target_id, 14, "{b}");
    }
}
