//! Ingestion on both backends: real DESI and VAST files, the registry's
//! rules, and bad input that must leave the store exactly as before.

mod common;

use astrolab_store::{IngestOptions, IngestOutcome, Progress, Store, StoreError, Value};
use common::*;

fn ingest(store: &mut Store, path: &std::path::Path) -> Result<IngestOutcome, StoreError> {
    store.ingest_file(path, &IngestOptions::default(), &mut Progress::none())
}

#[test]
fn migrations_create_exactly_the_declared_columns() {
    let (_d, cfgs) = backends("migrations_columns");
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        for t in astrolab_store::schema::TABLES {
            let r = store
                .sql_readonly(&format!("SELECT * FROM {} LIMIT 0", t.name))
                .unwrap();
            assert_eq!(
                r.columns,
                t.column_names(),
                "{} on {}",
                t.name,
                store.backend()
            );
        }
        let status = astrolab_store::migrate::status(&mut store).unwrap();
        assert_eq!(status[0].state, "applied");
        // Only q3c's indexes (migration 2) are optional: `/readyz` does not
        // wait for them on a server without the extension.
        let optional: Vec<i64> = status
            .iter()
            .filter(|m| m.optional)
            .map(|m| m.version)
            .collect();
        assert_eq!(optional, vec![2], "{}", store.backend());
        // The schema as the database reports it (the guide's data model):
        // every declared catalog table with exactly its declared columns.
        let schema = astrolab_store::migrate::schema_columns(&mut store).unwrap();
        for t in astrolab_store::schema::TABLES {
            let cols: Vec<String> = schema
                .iter()
                .filter(|c| c.table == t.name)
                .map(|c| c.column.clone())
                .collect();
            assert_eq!(cols, t.column_names(), "{} on {}", t.name, store.backend());
        }
        assert!(
            schema
                .iter()
                .any(|c| c.table == "schema_migrations" && c.column == "version" && c.key),
            "{}",
            store.backend()
        );
        // Opening again applies nothing new.
        drop(store);
        let mut again = Store::open(&cfg).unwrap();
        assert!(astrolab_store::migrate::apply_pending(&mut again)
            .unwrap()
            .is_empty());
    }
}

#[test]
fn real_redrock_files_join_redshifts_and_fibermap() {
    let Some(dir) = require_shared_data("real_redrock") else {
        return;
    };
    let (_d, cfgs) = backends("real_redrock");
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        for f in [
            "redrock-test.fits",
            "redrock-special-dark-27247.fits",
            "redrock-4-80613-thru20210324.fits",
        ] {
            let out = ingest(&mut store, &dir.join("desi").join(f)).unwrap();
            assert!(matches!(out, IngestOutcome::Loaded { .. }), "{f}");
        }
        assert_eq!(store.count_rows("redshifts").unwrap(), 5);
        // Expected values read with astropy: fits.getdata(f, 'REDSHIFTS') / 'FIBERMAP'.
        let r = store
            .sql_readonly(
                "SELECT targetid, z, spectype, zwarn, ra, dec FROM redshifts ORDER BY targetid",
            )
            .unwrap();
        let expect: [(i64, f64, &str, i64, f64, f64); 5] = [
            (
                39089837499744649,
                0.007269671851219614,
                "GALAXY",
                0,
                149.465404248889,
                1.7936467486355945,
            ),
            (
                39633345008634465,
                0.36874355163716493,
                "GALAXY",
                0,
                105.48977452498902,
                56.669300058331935,
            ),
            (
                39633393167631849,
                0.1571380861486737,
                "GALAXY",
                0,
                189.3192436303275,
                60.59263617228962,
            ),
            (
                39633393167633604,
                -0.0001116825862439458,
                "GALAXY",
                0,
                189.5705252532345,
                60.60111193031285,
            ),
            (
                616094145466860255,
                1.3282815521302358,
                "GALAXY",
                1,
                189.09940400098614,
                60.52672849901842,
            ),
        ];
        for (row, e) in r.rows.iter().zip(expect) {
            assert_eq!(row[0], Value::Int(e.0));
            assert_eq!(row[1], Value::Float(e.1), "z of {}", e.0);
            assert_eq!(row[2], Value::Text(e.2.into()));
            assert_eq!(row[3], Value::Int(e.3));
            assert_eq!(row[4], Value::Float(e.4));
            assert_eq!(row[5], Value::Float(e.5));
        }
    }
}

#[test]
fn vollim_dr7_ingests_as_a_galaxy_catalog() {
    let Some(path) = real("vollim", "voids/vollim_dr7_cbp_102709.fits") else {
        return;
    };
    let (_d, cfgs) = backends("vollim");
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        match ingest(&mut store, &path).unwrap() {
            IngestOutcome::Loaded { file, tables } => {
                assert_eq!(file.format, "galaxy-table");
                assert_eq!(tables, vec![("galaxies".to_string(), 120_606)]);
                assert_eq!(file.rows_loaded, 120_606);
                assert_eq!(file.sha256.len(), 64);
                assert!(file.hdus.contains("120606"), "{}", file.hdus);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(store.count_rows("galaxies").unwrap(), 120_606);
        // First and last rows as astropy reads them (float32 in the file).
        let r = store
            .sql_readonly("SELECT row_index, ra, dec, z, weight FROM galaxies WHERE row_index IN (0, 120605) ORDER BY row_index")
            .unwrap();
        let f = |v: &Value| v.as_f64().unwrap();
        assert!(
            (f(&r.rows[0][1]) - 171.59215).abs() < 1e-4
                && (f(&r.rows[0][2]) + 1.054439).abs() < 1e-5
        );
        assert!((f(&r.rows[0][3]) - 0.077352).abs() < 1e-6 && f(&r.rows[0][4]) == 1.0);
        assert!(
            (f(&r.rows[1][1]) - 241.19502).abs() < 1e-4
                && (f(&r.rows[1][2]) - 24.278889).abs() < 1e-5
        );
    }
}

#[test]
fn registry_same_bytes_is_a_noop_and_names_are_versioned() {
    let (dir, cfgs) = backends("registry");
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let (ra, dec) = sky_points(500, 1);
    write_zcatalog(&a.join("zpix-main-dark.fits"), &ra, &dec, 1);
    let (ra2, dec2) = sky_points(300, 2);
    write_zcatalog(&b.join("zpix-main-dark.fits"), &ra2, &dec2, 2);
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        let first = ingest(&mut store, &a.join("zpix-main-dark.fits")).unwrap();
        let IngestOutcome::Loaded { file: f1, .. } = first else {
            panic!()
        };
        // Same bytes again: nothing happens.
        let again = ingest(&mut store, &a.join("zpix-main-dark.fits")).unwrap();
        assert!(
            matches!(again, IngestOutcome::AlreadyIngested { ref file } if file.file_id == f1.file_id)
        );
        assert_eq!(store.count_rows("zcatalog").unwrap(), 500);
        // Different bytes under the same name: refused, store unchanged.
        let before = snapshot(&mut store);
        let err = ingest(&mut store, &b.join("zpix-main-dark.fits")).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::NameConflict {
                    next_version: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("--new-version"));
        assert_eq!(snapshot(&mut store), before);
        // With --new-version: version 2 replaces the rows of version 1.
        let out = store
            .ingest_file(
                &b.join("zpix-main-dark.fits"),
                &IngestOptions { new_version: true },
                &mut Progress::none(),
            )
            .unwrap();
        let IngestOutcome::Loaded { file: f2, .. } = out else {
            panic!()
        };
        assert_eq!(f2.version, 2);
        assert_eq!(store.count_rows("zcatalog").unwrap(), 300);
        let files = store.raw_files().unwrap();
        assert_eq!(files.len(), 2);
        assert!(files[0].superseded && !files[1].superseded);
    }
}

fn assert_refused_and_unchanged(store: &mut Store, path: &std::path::Path, needles: &[&str]) {
    let before = snapshot(store);
    let err = ingest(store, path)
        .expect_err("bad input must fail")
        .to_string();
    for n in needles {
        assert!(err.contains(n), "error {err:?} should mention {n:?}");
    }
    assert_eq!(
        snapshot(store),
        before,
        "store changed after failed ingest of {}",
        path.display()
    );
}

#[test]
fn bad_input_is_refused_with_a_clear_error_and_leaves_nothing() {
    let (dir, cfgs) = backends("bad_input");
    let d = dir.path();
    let (ra, dec) = sky_points(200, 7);
    write_zcatalog(&d.join("good.fits"), &ra, &dec, 7);
    // Truncated: the last block cut off.
    let bytes = std::fs::read(d.join("good.fits")).unwrap();
    std::fs::write(d.join("zpix-truncated.fits"), &bytes[..bytes.len() - 2880]).unwrap();
    // Not FITS at all.
    std::fs::write(d.join("notes.fits"), "this is a text file\n").unwrap();
    // NaN and out-of-range coordinates.
    let mut bad_ra = ra.clone();
    bad_ra[17] = f64::NAN;
    write_zcatalog(&d.join("zpix-nan.fits"), &bad_ra, &dec, 7);
    let mut bad_dec = dec.clone();
    bad_dec[42] = 91.5;
    write_zcatalog(&d.join("zpix-dec.fits"), &ra, &bad_dec, 7);
    // Missing required column (Z) in a ZCATALOG HDU.
    use astrolab_formats::fits::*;
    write_fits(
        &d.join("zpix-noz.fits"),
        &[
            HduOut::Primary { header: vec![] },
            HduOut::Table {
                extname: Some("ZCATALOG".into()),
                header: vec![],
                columns: vec![
                    ColumnOut::new("TARGETID", ColumnData::I64(vec![1, 2])),
                    ColumnOut::new("TARGET_RA", ColumnData::F64(vec![1.0, 2.0])),
                    ColumnOut::new("TARGET_DEC", ColumnData::F64(vec![1.0, 2.0])),
                ],
            },
        ],
    )
    .unwrap();
    // A FITS file whose HDUs are none of ours.
    write_fits(
        &d.join("mystery.fits"),
        &[
            HduOut::Primary { header: vec![] },
            HduOut::Table {
                extname: Some("STUFF".into()),
                header: vec![],
                columns: vec![ColumnOut::new("A", ColumnData::F64(vec![1.0]))],
            },
        ],
    )
    .unwrap();
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        // A committed file first: it must survive every failure below.
        ingest(&mut store, &d.join("good.fits")).unwrap();
        assert_refused_and_unchanged(
            &mut store,
            &d.join("zpix-truncated.fits"),
            &["zpix-truncated.fits", "ZCATALOG"],
        );
        assert_refused_and_unchanged(&mut store, &d.join("notes.fits"), &["notes.fits"]);
        assert_refused_and_unchanged(
            &mut store,
            &d.join("zpix-nan.fits"),
            &["zpix-nan.fits", "ZCATALOG", "TARGET_RA", "row 17"],
        );
        assert_refused_and_unchanged(
            &mut store,
            &d.join("zpix-dec.fits"),
            &["zpix-dec.fits", "row 42", "91.5"],
        );
        assert_refused_and_unchanged(
            &mut store,
            &d.join("zpix-noz.fits"),
            &["zpix-noz.fits", "ZCATALOG", "Z"],
        );
        assert_refused_and_unchanged(
            &mut store,
            &d.join("mystery.fits"),
            &["mystery.fits", "STUFF"],
        );
        assert_eq!(store.count_rows("zcatalog").unwrap(), 200);
    }
}

#[test]
fn postgres_connection_lost_mid_ingest_leaves_nothing() {
    let Some(cfg) = pg_config("conn_lost") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ra, dec) = sky_points(200_000, 3);
    let path = dir.path().join("zpix-big.fits");
    write_zcatalog(&path, &ra, &dec, 3);
    let mut store = Store::open(&cfg).unwrap();
    let pid = store.postgres_backend_pid().unwrap().unwrap();
    let url = cfg.database_url.clone().unwrap();
    let mut killed = false;
    let mut cb = |_n: u64| -> Result<(), String> {
        if !killed {
            killed = true;
            let mut admin =
                postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
            admin
                .execute("SELECT pg_terminate_backend($1)", &[&pid])
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    let err = store
        .ingest_file(
            &path,
            &IngestOptions::default(),
            &mut Progress::new(&mut cb),
        )
        .expect_err("ingest must fail when the server goes away");
    assert!(killed);
    assert!(err.to_string().contains("PostgreSQL"), "{err}");
    // A new connection sees nothing of the file.
    let mut fresh = Store::open(&cfg).unwrap();
    assert_eq!(fresh.count_rows("zcatalog").unwrap(), 0);
    assert!(fresh.raw_files().unwrap().is_empty());
}

#[test]
fn an_interrupted_bulk_load_rolls_back_and_keeps_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (ra, dec) = sky_points(1_100_000, 8);
    let path = dir.path().join("zpix-bulk.fits");
    write_zcatalog(&path, &ra, &dec, 8);
    let (small_ra, small_dec) = sky_points(1000, 9);
    write_zcatalog(
        &dir.path().join("zpix-small.fits"),
        &small_ra,
        &small_dec,
        9,
    );
    let cfg = astrolab_store::StoreConfig::sqlite(dir.path().join("home"));
    let mut store = Store::open(&cfg).unwrap();
    ingest(&mut store, &dir.path().join("zpix-small.fits")).unwrap();
    let before = snapshot(&mut store);
    let mut seen = 0u64;
    let mut cb = |n: u64| -> Result<(), String> {
        seen += n;
        if seen > 500_000 {
            Err("stopped by the test".into())
        } else {
            Ok(())
        }
    };
    let err = store
        .ingest_file(
            &path,
            &IngestOptions::default(),
            &mut Progress::new(&mut cb),
        )
        .unwrap_err();
    assert!(err.to_string().contains("stopped by the test"), "{err}");
    assert_eq!(snapshot(&mut store), before);
    // The position cache written during the load was deleted with it: only
    // the small file's cache is there, and nothing pending.
    let caches = || -> Vec<String> {
        let dir = cfg
            .home
            .join("cache")
            .join("positions")
            .join(env!("CARGO_PKG_VERSION"));
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let after_failure = caches();
    assert_eq!(after_failure.len(), 1, "{after_failure:?}");
    assert!(
        after_failure[0].starts_with("zcatalog-1-"),
        "{after_failure:?}"
    );
    let conn = rusqlite::Connection::open(cfg.sqlite_path()).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // The indexes dropped for the bulk load are back.
    let idx = store
        .sql_readonly("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'zcatalog' ORDER BY name")
        .unwrap();
    assert_eq!(idx.rows.len(), 2, "{:?}", idx.rows);
    // And the full load then works.
    ingest(&mut store, &path).unwrap();
    assert_eq!(store.count_rows("zcatalog").unwrap(), 1_101_000);
    // Its cache now has its final name (file_id 2: the failed load's id was
    // rolled back), is complete, and nothing is left pending.
    let after_load = caches();
    assert_eq!(after_load.len(), 2, "{after_load:?}");
    assert!(
        after_load[1].starts_with("zcatalog-2-") && after_load[1].ends_with(".pos"),
        "{after_load:?}"
    );
    let size = std::fs::metadata(
        cfg.home
            .join("cache")
            .join("positions")
            .join(env!("CARGO_PKG_VERSION"))
            .join(&after_load[1]),
    )
    .unwrap()
    .len();
    assert_eq!(size, 16 + 1_100_000 * 24);
}

/// Issue 14 (8b): `kill -9` during an ingest leaves its position-cache
/// temporary behind (48 MB for a 2 M-row file). The next ingest deletes
/// it, and leaves alone the temporary of a load that still runs.
#[test]
#[cfg(unix)]
fn temporaries_left_by_a_killed_ingest_are_swept_by_the_next_one() {
    let (dir, cfgs) = backends("sweep_temporaries");
    let (ra, dec) = sky_points(500, 3);
    let path = dir.path().join("zpix-main-dark.fits");
    write_zcatalog(&path, &ra, &dec, 3);
    // The name the store gives its temporaries: `-{pid}@{host}.pos.tmp`.
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let dead = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    // A load that still runs: a process alive as long as the test, the
    // one that started it.
    let live = std::os::unix::process::parent_id();
    for (k, mut cfg) in cfgs.into_iter().enumerate() {
        cfg.home = dir.path().join(format!("home-{k}"));
        let cache = cfg
            .home
            .join("cache")
            .join("positions")
            .join(env!("CARGO_PKG_VERSION"));
        std::fs::create_dir_all(&cache).unwrap();
        let killed = format!("zcatalog-pending-0123456789abcdef-{dead}@{host}.pos.tmp");
        let running = format!("zcatalog-pending-fedcba9876543210-{live}@{host}.pos.tmp");
        std::fs::write(cache.join(&killed), [1u8; 48]).unwrap();
        std::fs::write(cache.join(&running), [1u8; 48]).unwrap();
        let mut store = Store::open(&cfg).unwrap();
        let IngestOutcome::Loaded { file, .. } = ingest(&mut store, &path).unwrap() else {
            panic!("not loaded")
        };
        let mut left: Vec<String> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                format!("zcatalog-{}-{}.pos", file.file_id, &file.sha256[..16]),
                running.clone(),
            ]
        );
    }
}

/// Issue 14 (9b): a coadd given to `ingest` is refused with the command
/// that does take it.
#[test]
fn a_coadd_is_refused_with_the_command_that_takes_it() {
    let Some(coadd) = real("coadd_refused", "desi/coadd-sv3-dark-26065.fits") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&astrolab_store::StoreConfig::sqlite(
        dir.path().join("home"),
    ))
    .unwrap();
    let err = ingest(&mut store, &coadd).unwrap_err();
    assert!(matches!(err, StoreError::UnknownFormat { .. }), "{err}");
    let want = format!(
        "{}: unrecognised format (this is a DESI coadd (spectra), not a catalog: `astrolab ingest` \
         loads catalogs; to add its spectra to the spectral store run `astrolab spectra build --from {}` \
         (it takes every coadd-*.fits under the directory, with the redrock-*.fits beside each)).",
        coadd.display(),
        coadd.parent().unwrap().display()
    );
    assert!(err.to_string().starts_with(&want), "{err}");
    assert!(store.raw_files().unwrap().is_empty());
}
