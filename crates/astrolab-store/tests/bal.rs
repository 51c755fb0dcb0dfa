//! Quasar BAL rows (migration 11) on both backends: a catalog id's rows
//! replaced whole, skips kept with their reason and no numbers, scalar
//! columns queryable, reads leaving out files the caller may not read,
//! and bad rows refused before anything is written.

mod common;

use astrolab_store::bal::MEASURED;
use astrolab_store::{BalRecord, Progress, Store};
use common::backends;

fn measured(target_id: i64, file_id: i64, bi: f64, ai: f64) -> BalRecord {
    let row = serde_json::json!({
        "PCA_COEFFS": [1.0, 0.5, 0.25, 0.0, -0.5],
        "PCA_CHI2": 1.25,
        "BI_CIV": bi, "ERR_BI_CIV": 12.5, "NCIV_2000": i32::from(bi > 0.0),
        "VMIN_CIV_2000": [6000.0, -1.0, -1.0, -1.0, -1.0],
        "AI_CIV": ai, "ERR_AI_CIV": 20.0, "NCIV_450": i32::from(ai > 0.0),
        "BI_SIIV": 0.0, "ERR_BI_SIIV": 0.0, "NSIIV_2000": 0,
        "AI_SIIV": 0.0, "ERR_AI_SIIV": 0.0, "NSIIV_450": 0,
        "SNR_CIV": 7.5, "BALMASK": 0,
    });
    BalRecord {
        target_id,
        file_id: Some(file_id),
        z: 2.5,
        outcome: MEASURED.into(),
        balmask: 0,
        cont_fit: Some("iterative".into()),
        row_json: row.to_string(),
    }
}

fn skipped(target_id: i64, reason: &str) -> BalRecord {
    BalRecord {
        target_id,
        file_id: None,
        z: 1.2,
        outcome: reason.into(),
        balmask: 3,
        cont_fit: None,
        row_json: serde_json::json!({ "SKIP_REASON": reason, "BALMASK": 3 }).to_string(),
    }
}

#[test]
fn bal_rows_round_trip_replace_and_rules() {
    let (_dir, cfgs) = backends("bal_rows");
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        let b = store.backend();
        let rows = vec![
            measured(11, 1, 2500.0, 3600.0),
            measured(12, 2, 0.0, 150.0),
            skipped(13, "redshift_out_of_range"),
        ];
        let n = store
            .write_bal("bal-0123456789abcdef", &rows, &mut Progress::none())
            .unwrap();
        assert_eq!(n, 3, "{b}");
        let got = store
            .bal_records(Some("bal-0123456789abcdef"), None, &[])
            .unwrap();
        assert_eq!(got.len(), 3, "{b}");
        for ((id, r), want) in got.iter().zip(&rows) {
            assert_eq!(id, "bal-0123456789abcdef");
            assert_eq!(r, want, "{b}: a row reads back exactly");
        }
        // Scalars are columns; a skip has none (NULL), and its cont_fit too.
        let t = store
            .sql_readonly(
                "SELECT target_id, bi_civ, ai_civ, nciv_450, cont_fit FROM quasar_bal ORDER BY target_id",
            )
            .unwrap();
        let cells: Vec<String> = t.rows.iter().map(|r| format!("{:?}", r)).collect();
        assert!(cells[0].contains("2500"), "{b}: {cells:?}");
        assert!(cells[1].contains("150"), "{b}: {cells:?}");
        assert_eq!(
            t.rows[2][1..],
            [
                astrolab_store::Value::Null,
                astrolab_store::Value::Null,
                astrolab_store::Value::Null,
                astrolab_store::Value::Null
            ],
            "{b}"
        );
        // Only the requested targets; only files the caller may read (a
        // row from no registered file is public).
        let some = store.bal_records(None, Some(&[12, 13, 99]), &[2]).unwrap();
        let ids: Vec<i64> = some.iter().map(|(_, r)| r.target_id).collect();
        assert_eq!(ids, [13], "{b}");

        // A second run of the same id replaces its rows whole; another id
        // keeps its own.
        store
            .write_bal(
                "bal-ffffffffffffffff",
                &[measured(11, 1, 0.0, 0.0)],
                &mut Progress::none(),
            )
            .unwrap();
        store
            .write_bal(
                "bal-0123456789abcdef",
                &[measured(14, 1, 100.0, 200.0)],
                &mut Progress::none(),
            )
            .unwrap();
        let cats = store.bal_catalogs().unwrap();
        assert_eq!(cats.len(), 2, "{b}");
        assert_eq!(cats[0].catalog_id, "bal-0123456789abcdef");
        assert_eq!(cats[0].outcomes.get(MEASURED), Some(&1), "{b}");
        assert_eq!(cats[0].outcomes.len(), 1, "{b}");
        assert_eq!(cats[1].outcomes.get(MEASURED), Some(&1), "{b}");

        // Bad rows are refused and nothing is written: a TARGETID twice, a
        // measured row without its numbers, a non-JSON row.
        let bad = [
            (
                vec![measured(20, 1, 1.0, 1.0), measured(20, 1, 1.0, 1.0)],
                "TARGETID 20 twice",
            ),
            (
                vec![BalRecord {
                    row_json: "{\"BI_CIV\": 1.0}".into(),
                    ..measured(21, 1, 1.0, 1.0)
                }],
                "row_json has no number ERR_BI_CIV",
            ),
            (
                vec![BalRecord {
                    row_json: "not json".into(),
                    ..measured(22, 1, 1.0, 1.0)
                }],
                "row_json is not JSON",
            ),
        ];
        for (rows, want) in bad {
            let e = store
                .write_bal("bal-0123456789abcdef", &rows, &mut Progress::none())
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{b}: {e}");
        }
        let still = store
            .bal_records(Some("bal-0123456789abcdef"), None, &[])
            .unwrap();
        assert_eq!(still.len(), 1, "{b}");
        assert_eq!(still[0].1.target_id, 14, "{b}");
    }
}
