//! The spectral store's TARGETID index on both backends, and `--select`
//! over redrock rows.

mod common;

use astrolab_formats::spectra::Redrock;
use astrolab_store::{select_redrock, SpectraFileRecord, Store};
use common::*;

fn rec(path: &str, n: i64) -> SpectraFileRecord {
    SpectraFileRecord {
        spectra_file_id: 0,
        path: path.into(),
        survey: "main".into(),
        program: "dark".into(),
        healpix: 26065,
        n_spectra: n,
        size_bytes: 1000,
        sources: "[]".into(),
        built_at: "2026-11-22T00:00:00Z".into(),
        software_version: "test".into(),
    }
}

#[test]
fn index_locates_targets_and_replaces_a_rebuilt_file() {
    let (_d, cfgs) = backends("spectra_index");
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        store
            .register_spectra_file(
                &rec("/s/main/dark/26065.parquet", 3),
                &[(10, 0, 1.5), (11, 1, 2.5), (12, 2, f64::NAN)],
            )
            .unwrap();
        store
            .register_spectra_file(&rec("/s/main/dark/26066.parquet", 1), &[(20, 0, 0.7)])
            .unwrap();
        let loc = store.locate_spectra(&[12, 20, 10, 999]).unwrap();
        let got: Vec<(i64, &str, usize)> = loc
            .iter()
            .map(|l| (l.target_id, l.path.as_str(), l.row))
            .collect();
        assert_eq!(
            got,
            vec![
                (10, "/s/main/dark/26065.parquet", 0),
                (12, "/s/main/dark/26065.parquet", 2),
                (20, "/s/main/dark/26066.parquet", 0)
            ]
        );
        assert_eq!(loc[0].z, Some(1.5));
        assert_eq!(loc[1].z, None);
        // Rebuilding a file replaces its rows.
        store
            .register_spectra_file(&rec("/s/main/dark/26065.parquet", 1), &[(11, 0, 2.5)])
            .unwrap();
        let loc = store.locate_spectra(&[10, 11]).unwrap();
        assert_eq!(loc.len(), 1);
        assert_eq!((loc[0].target_id, loc[0].row), (11, 0));
        assert_eq!(store.spectra_files().unwrap().len(), 2);
        assert_eq!(
            store
                .spectra_file_by_path("/s/main/dark/26065.parquet")
                .unwrap()
                .unwrap()
                .n_spectra,
            1
        );
    }
}

#[test]
fn select_uses_the_where_language_on_redrock_columns() {
    let rows = Redrock {
        targetid: vec![1, 2, 3, 4],
        target_ra: vec![10.0; 4],
        target_dec: vec![0.0; 4],
        z: vec![2.1, 0.5, 1.2, 3.0],
        zerr: vec![1e-4; 4],
        zwarn: vec![0, 0, 4, 0],
        spectype: vec!["QSO".into(), "GALAXY".into(), "QSO".into(), "QSO".into()],
        subtype: vec![String::new(); 4],
        deltachi2: vec![100.0, 50.0, 30.0, 10.0],
    };
    let mut got: Vec<i64> = select_redrock(&rows, "spectype = 'QSO' AND zwarn = 0")
        .unwrap()
        .into_iter()
        .collect();
    got.sort();
    assert_eq!(got, vec![1, 4]);
    let got = select_redrock(&rows, "SPECTYPE='QSO' AND ZWARN=0 AND DELTACHI2 > 40").unwrap();
    assert_eq!(got.into_iter().collect::<Vec<_>>(), vec![1]);
    assert!(select_redrock(&rows, "nosuch = 1").is_err());
}

/// The spectrum page's spectral type comes from the redshift catalogs,
/// rows of forbidden raw files left out; a spectra file's sources name
/// its raw files by checksum or name.
#[test]
fn spectype_and_source_files_leave_out_what_they_must() {
    use astrolab_store::{IngestOptions, IngestOutcome, Progress};
    let (dir, cfgs) = backends("spectype_of");
    let path = dir.path().join("zpix-spectype.fits");
    let (ra, dec) = sky_points(6, 3);
    write_zcatalog(&path, &ra, &dec, 3);
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        let outcome = store
            .ingest_file(&path, &IngestOptions::default(), &mut Progress::none())
            .unwrap();
        let file = match outcome {
            IngestOutcome::Loaded { file, .. } | IngestOutcome::AlreadyIngested { file } => file,
        };
        // write_zcatalog: TARGETID 39627000000000000 + i, SPECTYPE cycling
        // GALAXY, QSO, STAR.
        let qso = 39627000000000001;
        assert_eq!(store.spectype_of(qso, &[]).unwrap().as_deref(), Some("QSO"));
        assert_eq!(
            store
                .spectype_of(qso, &[file.file_id + 1000])
                .unwrap()
                .as_deref(),
            Some("QSO")
        );
        assert_eq!(store.spectype_of(qso, &[file.file_id]).unwrap(), None);
        assert_eq!(store.spectype_of(-5, &[]).unwrap(), None);

        let mut r = rec("/s/main/dark/1.parquet", 1);
        r.sources =
            serde_json::to_string(&[format!("renamed.fits sha256:{}", file.sha256)]).unwrap();
        assert_eq!(
            store.spectra_source_file_ids(&r).unwrap(),
            Some(vec![file.file_id])
        );
        r.sources = serde_json::to_string(std::slice::from_ref(&file.name)).unwrap();
        assert_eq!(
            store.spectra_source_file_ids(&r).unwrap(),
            Some(vec![file.file_id])
        );
        r.sources = "[\"other.fits sha256:00\"]".into();
        assert_eq!(store.spectra_source_file_ids(&r).unwrap(), Some(vec![]));
        r.sources = "not json".into();
        assert_eq!(store.spectra_source_file_ids(&r).unwrap(), None);
    }
}
