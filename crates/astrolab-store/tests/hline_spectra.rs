//! Integrated 21 cm spectra in the store (migration 5) on both backends:
//! one transaction per recording with its registry entry, time-indexed
//! reads, monthly partitions on PostgreSQL.

mod common;

use astrolab_store::{HlineRecording, HlineSpectrumRow, Store};
use common::*;

fn rec(name: &str, sha: &str) -> HlineRecording {
    HlineRecording {
        name: name.into(),
        source: format!("/data/{name}"),
        size_bytes: 4_800_000,
        sha256: sha.into(),
        format: "sigmf".into(),
        details: r#"{"datatype": "cu8"}"#.into(),
    }
}

fn row(i: i64, t: f64, nch: usize) -> HlineSpectrumRow {
    HlineSpectrumRow {
        integration: i,
        start_unix_s: t,
        n_frames: 586,
        integration_s: 0.25,
        center_freq_hz: 1420.4e6,
        first_channel_freq_hz: 1419.2e6,
        channel_width_hz: 2343.75,
        ra_deg: Some(83.5 + i as f64),
        dec_deg: Some(22.0),
        az_deg: None,
        el_deg: None,
        spectrum: (0..nch).map(|c| 1.0 + c as f32 * 0.5 + i as f32).collect(),
        flags: (0..nch).map(|c| if c == 3 { 1 } else { 0 }).collect(),
    }
}

#[test]
fn spectra_round_trip_with_registry_and_time_index() {
    let (_d, cfgs) = backends("hline_spectra");
    // 2026-10-31 23:59:59.5 and 2026-11-01 00:00:00.25: two months.
    let t0 = 1_793_491_199.5;
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        let rows: Vec<HlineSpectrumRow> = (0..3)
            .map(|i| row(i, t0 + 0.25 * i as f64 * 3.0, 8))
            .collect();
        let id = store
            .store_hline_recording(&rec("a.sigmf-data", "aa11"), &rows)
            .unwrap();
        let back = store.hline_spectra(id).unwrap();
        assert_eq!(back.len(), 3);
        for (a, b) in rows.iter().zip(&back) {
            assert_eq!(a.spectrum, b.spectrum);
            assert_eq!(a.flags, b.flags);
            assert_eq!(a.integration, b.integration);
            assert_eq!(a.ra_deg, b.ra_deg);
            assert_eq!(b.az_deg, None);
            assert!(
                (a.start_unix_s - b.start_unix_s).abs() < 1e-5,
                "{} {}",
                a.start_unix_s,
                b.start_unix_s
            );
        }
        let f = store.raw_file_by_sha256("aa11").unwrap().unwrap();
        assert_eq!(
            (f.file_id, f.format.as_str(), f.rows_loaded),
            (id, "sigmf", 3)
        );
        // Time index: only the November spectra.
        let nov = store
            .hline_spectra_between(1_793_491_200.0, 1_793_491_300.0)
            .unwrap();
        assert_eq!(
            nov.iter().map(|r| r.integration).collect::<Vec<_>>(),
            vec![1, 2]
        );
        if store.backend() == astrolab_store::Backend::Postgres {
            let parts = store.hline_partitions().unwrap();
            assert_eq!(
                parts,
                vec![
                    "hline_spectra_y2026m10".to_string(),
                    "hline_spectra_y2026m11".to_string()
                ]
            );
        }
        // A new version under the same name replaces the old spectra.
        let id2 = store
            .store_hline_recording(&rec("a.sigmf-data", "bb22"), &rows[..1])
            .unwrap();
        assert_ne!(id, id2);
        assert!(store.hline_spectra(id).unwrap().is_empty());
        assert_eq!(store.hline_spectra(id2).unwrap().len(), 1);
        assert!(store.raw_file_by_sha256("aa11").unwrap().is_none());
        assert_eq!(
            store
                .raw_file_by_name("a.sigmf-data")
                .unwrap()
                .unwrap()
                .version,
            2
        );
    }
}
