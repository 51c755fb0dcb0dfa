//! Void membership in the store (migrations 4 and 7), on both backends.

mod common;

use astrolab_store::{
    IngestOptions, IngestOutcome, MembershipKey, MembershipRows, Progress, Store, Visibility,
    UNKNOWN_GALAXY_SOURCE,
};
use common::{backends, raw_sql, sky_points, write_zcatalog};

fn key(alg: &str, cap: &str) -> MembershipKey {
    MembershipKey {
        catalog: format!("DESIVAST_BGS_VOLLIM_{alg}_{cap}.fits"),
        file_id: Some(7),
        algorithm: alg.into(),
        cap: cap.into(),
    }
}

fn rows(n: usize, shift: i64) -> MembershipRows {
    let mut r = MembershipRows::default();
    for i in 0..n {
        let vflag = [0u8, 1, 1, 2, 9][i % 5];
        r.target_id.push(1000 + shift + i as i64);
        r.vflag.push(vflag);
        r.void_id.push((vflag == 1).then_some((i / 10) as i64));
        r.r_void_norm.push(if vflag == 1 {
            (i % 7) as f64 / 7.0
        } else {
            f64::NAN
        });
        r.void_edge.push((vflag == 1).then_some(0));
        r.galaxy_file_id.push(Some(11));
    }
    r
}

#[test]
fn membership_round_trip_summary_selection_and_replace() {
    let (_dir, cfgs) = backends("void_membership_round_trip");
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        let b = store.backend();
        let r = rows(103, 0);
        let n = store
            .write_void_membership(&key("VoidFinder", "NGC"), &r, &mut Progress::none())
            .unwrap();
        assert_eq!(n, 103, "{b}");
        store
            .write_void_membership(&key("VIDE", "NGC"), &rows(20, 5000), &mut Progress::none())
            .unwrap();

        // Selection: exactly the void galaxies of that algorithm, ascending.
        let want: Vec<i64> = (0..103)
            .filter(|i| [0u8, 1, 1, 2, 9][i % 5] == 1)
            .map(|i| 1000 + i as i64)
            .collect();
        assert_eq!(
            store.void_membership_targets("VoidFinder", 1).unwrap(),
            want,
            "{b}"
        );
        assert_eq!(
            store.void_membership_targets("VIDE", 1).unwrap().len(),
            8,
            "{b}"
        );

        // Summary counts per vflag and the mean normalised distance.
        let s = store.void_membership_summary().unwrap();
        let vf: Vec<(i64, i64)> = s
            .iter()
            .filter(|x| x.algorithm == "VoidFinder")
            .map(|x| (x.vflag, x.n_galaxies))
            .collect();
        let want_counts: Vec<(i64, i64)> = [0u8, 1, 2, 9]
            .iter()
            .map(|&f| {
                (
                    i64::from(f),
                    r.vflag.iter().filter(|&&v| v == f).count() as i64,
                )
            })
            .collect();
        assert_eq!(vf, want_counts, "{b}");
        assert_eq!(vf[1], (1, 42), "{b}");
        let void_row = s
            .iter()
            .find(|x| x.algorithm == "VoidFinder" && x.vflag == 1)
            .unwrap();
        let mean: f64 = (0..103)
            .filter(|i| i % 5 == 1 || i % 5 == 2)
            .map(|i| (i % 7) as f64 / 7.0)
            .sum::<f64>()
            / 42.0;
        assert!(
            (void_row.r_void_norm_mean.unwrap() - mean).abs() < 1e-12,
            "{b}"
        );
        assert_eq!(void_row.file_id, Some(7));

        // --where over the membership columns; bad columns are refused.
        let t = store
            .void_membership_select(
                Some("vflag = 1 AND algorithm = 'VIDE' AND target_id < 6010"),
                None,
            )
            .unwrap();
        assert_eq!(t.rows.len(), 4, "{b}");
        let vi = t.column_index("void_id").unwrap();
        assert!(t.rows.iter().all(|r| r[vi].as_i64().is_some()));
        assert!(store
            .void_membership_select(Some("logmstar > 10"), None)
            .is_err());

        // Rewriting a catalog replaces its rows and summary, nothing else.
        store
            .write_void_membership(
                &key("VoidFinder", "NGC"),
                &rows(10, 0),
                &mut Progress::none(),
            )
            .unwrap();
        let all = store
            .void_membership_select(Some("algorithm = 'VoidFinder'"), None)
            .unwrap();
        assert_eq!(all.rows.len(), 10, "{b}");
        let s = store.void_membership_summary().unwrap();
        let total: i64 = s
            .iter()
            .filter(|x| x.algorithm == "VoidFinder")
            .map(|x| x.n_galaxies)
            .sum();
        assert_eq!(total, 10, "{b}");
        assert_eq!(
            store.void_membership_targets("VIDE", 1).unwrap().len(),
            8,
            "{b}"
        );
        assert_eq!(
            store.void_membership_algorithms().unwrap(),
            vec!["VIDE", "VoidFinder"]
        );
    }
}

#[test]
fn bad_membership_leaves_nothing_behind() {
    let (_dir, cfgs) = backends("void_membership_bad");
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        let mut r = rows(10, 0);
        r.vflag[3] = 5;
        let e = store
            .write_void_membership(&key("ZOBOV", "SGC"), &r, &mut Progress::none())
            .unwrap_err();
        assert!(e.to_string().contains("row 3"), "{e}");
        let mut r = rows(10, 0);
        r.void_id.pop();
        assert!(store
            .write_void_membership(&key("ZOBOV", "SGC"), &r, &mut Progress::none())
            .is_err());
        assert!(store.void_membership_summary().unwrap().is_empty());
        assert!(store
            .void_membership_select(None, None)
            .unwrap()
            .rows
            .is_empty());
    }
}

#[test]
fn bulk_membership_rebuilds_indexes() {
    // Above the bulk threshold the indexes are dropped and rebuilt inside
    // the transaction: the selection must still use them and be right.
    let (_dir, cfgs) = backends("void_membership_bulk");
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        let r = rows(60_000, 0);
        store
            .write_void_membership(&key("REVOLVER", "NGC"), &r, &mut Progress::none())
            .unwrap();
        assert_eq!(
            store.void_membership_targets("REVOLVER", 2).unwrap().len(),
            12_000
        );
        let idx = store
            .sql_readonly(match store.backend() {
                astrolab_store::Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'void_membership' ORDER BY name",
                astrolab_store::Backend::Postgres => "SELECT indexname FROM pg_indexes WHERE tablename = 'void_membership' AND schemaname = current_schema() ORDER BY indexname",
            })
            .unwrap();
        let names: Vec<String> = idx.rows.iter().map(|r| r[0].to_string()).collect();
        assert_eq!(
            names,
            vec!["void_membership_select", "void_membership_target"]
        );
    }
}

/// Every `.ids` file of the selection cache under `home`.
fn cache_files(home: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![home.join("cache").join("membership")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "ids") {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn selection_cache_follows_every_write_and_survives_damage() {
    let (dir, cfgs) = backends("void_membership_cache");
    for mut cfg in cfgs {
        // PostgreSQL test configs share the temp dir as home; count files
        // in a home of this test's own.
        if cfg.database_url.is_some() {
            cfg.home = dir.path().join("pg-home");
        }
        let home = cfg.home.clone();
        let mut store = Store::open(&cfg).unwrap();
        let b = store.backend();
        let check = |store: &mut Store, what: &str| {
            for vflag in [0u8, 1, 2, 9] {
                let db = store
                    .void_membership_targets_from_db("VoidFinder", vflag)
                    .unwrap();
                assert!(db.windows(2).all(|w| w[0] < w[1]), "{b} {what}");
                assert_eq!(
                    store.void_membership_targets("VoidFinder", vflag).unwrap(),
                    db,
                    "{b} {what}: vflag {vflag}"
                );
            }
        };
        // Writes one cap, checks every vflag against the database and
        // returns how many void galaxies the selection gives.
        let step = |store: &mut Store, cap: &str, r: MembershipRows, what: &str| {
            store
                .write_void_membership(&key("VoidFinder", cap), &r, &mut Progress::none())
                .unwrap();
            check(store, what);
            store
                .void_membership_targets("VoidFinder", 1)
                .unwrap()
                .len()
        };
        // One catalog: the write itself leaves the cache (4 vflags), before
        // any selection could have built it.
        store
            .write_void_membership(
                &key("VoidFinder", "NGC"),
                &rows(103, 0),
                &mut Progress::none(),
            )
            .unwrap();
        assert_eq!(cache_files(&home).len(), 4, "{b}");
        check(&mut store, "one cap");
        assert_eq!(
            store
                .void_membership_targets("VoidFinder", 1)
                .unwrap()
                .len(),
            42
        );
        // A second cap changes the stamp: rebuilt from the database.
        assert_eq!(
            step(&mut store, "SGC", rows(50, 20_000), "two caps"),
            42 + 20
        );
        // Rewriting one cap with other rows is never answered from the old file.
        assert_eq!(step(&mut store, "NGC", rows(10, 0), "rewrite"), 4 + 20);
        assert_eq!(cache_files(&home).len(), 4, "{b}: old files removed");

        // Damaged files (truncated, emptied) are rebuilt, never half read.
        for (i, p) in cache_files(&home).iter().enumerate() {
            let bytes = std::fs::read(p).unwrap();
            std::fs::write(p, &bytes[..if i % 2 == 0 { bytes.len() - 8 } else { 0 }]).unwrap();
        }
        check(&mut store, "damaged");
        // A selection of an algorithm with no membership is empty.
        assert!(store
            .void_membership_targets("ZOBOV", 1)
            .unwrap()
            .is_empty());
    }
}

#[test]
fn membership_rows_and_counts_follow_the_galaxies_source() {
    let (_dir, cfgs) = backends("void_membership_sources");
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        let b = store.backend();
        // Galaxies from raw files 11 and 12 and from an unregistered file,
        // in turn; the catalog is raw file 7.
        let mut r = rows(30, 0);
        r.galaxy_file_id = (0..30).map(|i| [Some(11), Some(12), None][i % 3]).collect();
        store
            .write_void_membership(&key("VoidFinder", "NGC"), &r, &mut Progress::none())
            .unwrap();
        // One summary row per vflag and source, adding up to the rows.
        let s = store.void_membership_summary().unwrap();
        assert_eq!(s.len(), 12, "{b}: {s:?}");
        for src in [Some(11), Some(12), None] {
            for f in [0u8, 1, 2, 9] {
                let of = |i: &usize| r.galaxy_file_id[*i] == src && r.vflag[*i] == f;
                let row = s
                    .iter()
                    .find(|x| x.galaxy_file_id == src && x.vflag == i64::from(f))
                    .unwrap();
                assert_eq!(row.n_galaxies, (0..30).filter(of).count() as i64, "{b}");
                let finite = (0..30)
                    .filter(of)
                    .filter(|&i| r.r_void_norm[i].is_finite())
                    .count();
                assert_eq!(row.n_r_void_norm, finite as i64, "{b}");
            }
        }
        // Leaving files out: a galaxy source, the catalog; NULL passes.
        let void_where = |keep: &dyn Fn(usize) -> bool| -> Vec<i64> {
            (0..30)
                .filter(|&i| r.vflag[i] == 1 && keep(i))
                .map(|i| 1000 + i as i64)
                .collect()
        };
        let sel = |store: &mut Store, ex: &[i64]| {
            store
                .void_membership_targets_excluding("VoidFinder", 1, ex)
                .unwrap()
        };
        assert_eq!(sel(&mut store, &[]), void_where(&|_| true), "{b}");
        assert_eq!(
            sel(&mut store, &[12, 99]),
            void_where(&|i| i % 3 != 1),
            "{b}"
        );
        assert_eq!(
            sel(&mut store, &[11, 12]),
            void_where(&|i| i % 3 == 2),
            "{b}"
        );
        assert!(sel(&mut store, &[7]).is_empty(), "{b}");
        // --where knows the column.
        let t = store
            .void_membership_select(Some("galaxy_file_id = 12"), None)
            .unwrap();
        assert_eq!(t.rows.len(), 10, "{b}");
    }
}

#[test]
fn membership_of_schema_6_has_an_unknown_source_that_fails_closed() {
    let (dir, cfgs) = backends("void_membership_v6");
    for cfg in cfgs {
        // A store of schema 6 with a membership, migrated by opening it.
        let mut old = Store::open_unmigrated(&cfg).unwrap();
        astrolab_store::migrate::apply_until(&mut old, 6).unwrap();
        drop(old);
        raw_sql(
            &cfg,
            "INSERT INTO void_membership (file_id, catalog, algorithm, cap, target_id, vflag, void_id, r_void_norm, void_edge) VALUES (NULL, 'old.fits', 'VIDE', 'NGC', 5, 1, 2, 0.5, 0), (NULL, 'old.fits', 'VIDE', 'NGC', 6, 0, NULL, NULL, NULL);
             INSERT INTO void_membership_summary (file_id, catalog, algorithm, cap, vflag, n_galaxies, r_void_norm_mean, classified_at) VALUES (NULL, 'old.fits', 'VIDE', 'NGC', 1, 1, 0.5, 't'), (NULL, 'old.fits', 'VIDE', 'NGC', 0, 1, NULL, 't');",
        )
        .unwrap();
        let mut store = Store::open(&cfg).unwrap();
        let b = store.backend();
        let unknown = Some(UNKNOWN_GALAXY_SOURCE);
        let s: Vec<_> = store
            .void_membership_summary()
            .unwrap()
            .into_iter()
            .map(|x| (x.vflag, x.galaxy_file_id, x.n_galaxies, x.n_r_void_norm))
            .collect();
        assert_eq!(s, vec![(0, unknown, 1, 0), (1, unknown, 1, 1)], "{b}");
        let t = store
            .void_membership_select(Some("galaxy_file_id = -1"), None)
            .unwrap();
        assert_eq!(t.rows.len(), 2, "{b}");

        // No restricted file: everyone reads the old rows.
        assert!(store
            .forbidden_membership_sources(&[], false)
            .unwrap()
            .is_empty());
        // A restricted file: only admins do, project members included.
        let f = dir.path().join(format!("z-{b}.fits"));
        let (ra, dec) = sky_points(20, 3);
        write_zcatalog(&f, &ra, &dec, 3);
        let fid = match store
            .ingest_file(&f, &IngestOptions::default(), &mut Progress::none())
            .unwrap()
        {
            IngestOutcome::Loaded { file, .. } | IngestOutcome::AlreadyIngested { file } => {
                file.file_id
            }
        };
        store
            .upsert_dataset("secret", "", Visibility::Restricted, &["p1".into()])
            .unwrap();
        store.add_file_to_dataset("secret", fid).unwrap();
        let viewer = store.forbidden_membership_sources(&[], false).unwrap();
        assert_eq!(viewer, vec![fid, UNKNOWN_GALAXY_SOURCE], "{b}");
        assert_eq!(
            store
                .forbidden_membership_sources(&["p1".into()], false)
                .unwrap(),
            vec![UNKNOWN_GALAXY_SOURCE],
            "{b}"
        );
        assert!(store
            .forbidden_membership_sources(&[], true)
            .unwrap()
            .is_empty());
        assert!(store
            .void_membership_targets_excluding("VIDE", 1, &viewer)
            .unwrap()
            .is_empty());
        // What a read discloses, for the audit trail.
        let named = |store: &mut Store, ids: &[i64]| {
            store
                .membership_restricted_datasets(&ids.iter().copied().collect())
                .unwrap()
        };
        assert_eq!(named(&mut store, &[UNKNOWN_GALAXY_SOURCE]), vec!["secret"]);
        assert_eq!(named(&mut store, &[fid, 4242]), vec!["secret"]);
        assert!(named(&mut store, &[4242]).is_empty());

        // Classifying again records the source and drops the unknown rows.
        let mut r = rows(5, 0);
        r.galaxy_file_id = vec![Some(fid); 5];
        let key = MembershipKey {
            catalog: "old.fits".into(),
            file_id: None,
            algorithm: "VIDE".into(),
            cap: "NGC".into(),
        };
        store
            .write_void_membership(&key, &r, &mut Progress::none())
            .unwrap();
        let s = store.void_membership_summary().unwrap();
        assert!(
            s.iter().all(|x| x.galaxy_file_id == Some(fid)),
            "{b}: {s:?}"
        );
        assert_eq!(
            store
                .void_membership_targets_excluding("VIDE", 1, &[UNKNOWN_GALAXY_SOURCE])
                .unwrap(),
            vec![1001, 1002],
            "{b}"
        );
    }
}

/// The typed reads of `voids publish` and the voids API: rows of one
/// algorithm (bound, with a filter), vflags, per-void properties, and
/// galaxy positions by TARGETID with files left out.
#[test]
fn typed_membership_reads_for_publication_and_the_api() {
    let (dir, cfgs) = backends("void_membership_typed_reads");
    let gal = dir.path().join("gal.csv");
    std::fs::write(
        &gal,
        "targetid,ra,dec,z\n1000,10.0,1.0,0.05\n1001,11.0,2.0,0.06\n1002,12.0,3.0,\n",
    )
    .unwrap();
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        let b = store.backend();
        store
            .write_void_membership(
                &key("VoidFinder", "NGC"),
                &rows(30, 0),
                &mut Progress::none(),
            )
            .unwrap();
        store
            .write_void_membership(&key("VIDE", "SGC"), &rows(10, 0), &mut Progress::none())
            .unwrap();
        // The algorithm is a parameter: a quote in it is a value, not SQL.
        let t = store
            .void_membership_rows(Some("VIDE"), Some("vflag = 1"), None)
            .unwrap();
        assert_eq!(t.rows.len(), 4, "{b}");
        let t = store
            .void_membership_rows(Some("x' OR '1' = '1"), None, None)
            .unwrap();
        assert!(t.rows.is_empty(), "{b}");
        let flags = store.void_membership_vflags("VIDE").unwrap();
        assert_eq!(
            flags,
            (0..10)
                .map(|i| (1000 + i as i64, i64::from([0u8, 1, 1, 2, 9][i % 5])))
                .collect::<Vec<_>>(),
            "{b}"
        );
        // rows(): void ids i / 10 for the vflag-1 rows, R_VOID_NORM (i % 7) / 7.
        let p = store.void_properties().unwrap();
        let vf: Vec<(i64, i64)> = p
            .iter()
            .filter(|v| v.algorithm == "VoidFinder")
            .map(|v| (v.void_id, v.n_galaxies))
            .collect();
        assert_eq!(vf, [(0, 4), (1, 4), (2, 4)], "{b}");
        let vide = p.iter().find(|v| v.algorithm == "VIDE").unwrap();
        assert_eq!((vide.cap.as_str(), vide.void_id), ("SGC", 0), "{b}");
        // Rows 1, 2, 6, 7: (1 + 2 + 6 + 0) / 7 / 4.
        let want = (1.0 + 2.0 + 6.0 + 0.0) / 7.0 / 4.0;
        assert!((vide.r_void_norm_mean.unwrap() - want).abs() < 1e-12, "{b}");

        let id = match store
            .ingest_file(&gal, &IngestOptions::default(), &mut Progress::none())
            .unwrap()
        {
            IngestOutcome::Loaded { file, .. } => file.file_id,
            o => panic!("{o:?}"),
        };
        let pos = store.target_positions(&[1001, 1002, 5], &[]).unwrap();
        assert_eq!(pos.len(), 2, "{b}");
        assert_eq!(
            (
                pos[0].target_id,
                pos[0].ra,
                pos[0].dec,
                pos[0].z,
                pos[0].file_id
            ),
            (1001, Some(11.0), Some(2.0), Some(0.06), Some(id)),
            "{b}"
        );
        assert_eq!((pos[1].target_id, pos[1].z), (1002, None), "{b}");
        assert!(
            store.target_positions(&[1001], &[id]).unwrap().is_empty(),
            "{b}"
        );
        assert!(store.target_positions(&[], &[]).unwrap().is_empty(), "{b}");
    }
}

/// The partitions of `void_membership` (PostgreSQL), by name.
fn partitions(store: &mut Store) -> Vec<String> {
    store
        .sql_readonly("SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'void_membership'::regclass ORDER BY 1")
        .unwrap()
        .rows
        .iter()
        .map(|r| r[0].to_string())
        .collect()
}

#[test]
fn staged_memberships_are_invisible_until_published_all_or_none() {
    let (_dir, cfgs) = backends("void_membership_staged");
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        if !store.stages_void_membership() {
            // SQLite: one writer; staging is refused with the way to write.
            let e = store
                .stage_void_membership("a_0", &key("VIDE", "NGC"), &rows(5, 0))
                .unwrap_err();
            assert!(e.to_string().contains("write_void_memberships"), "{e}");
            // Several catalogs in one call: all or none.
            let (k1, k2) = (key("VIDE", "NGC"), key("VIDE", "SGC"));
            let (r1, mut r2) = (rows(30, 0), rows(20, 100));
            r2.vflag[4] = 7;
            assert!(store
                .write_void_memberships(&[(&k1, &r1), (&k2, &r2)], &mut Progress::none())
                .is_err());
            assert!(store.void_membership_summary().unwrap().is_empty());
            let e = store
                .write_void_memberships(&[(&k1, &r1), (&k1, &r1)], &mut Progress::none())
                .unwrap_err();
            assert!(e.to_string().contains("given twice"), "{e}");
            continue;
        }
        // An earlier membership of one catalog, written the usual way.
        store
            .write_void_membership(&key("VIDE", "NGC"), &rows(50, 0), &mut Progress::none())
            .unwrap();
        assert_eq!(partitions(&mut store).len(), 1);

        // Two writers stage two catalogs (one replacing the earlier one).
        let mut other = Store::open(&cfg).unwrap();
        let a = store
            .stage_void_membership("t1_0", &key("VIDE", "NGC"), &rows(30, 7))
            .unwrap();
        let b = other
            .stage_void_membership("t1_1", &key("VIDE", "SGC"), &rows(20, 900))
            .unwrap();
        assert_eq!(
            (a.table.as_str(), a.rows),
            ("void_membership_stage_t1_0", 30)
        );
        // Nobody reads them yet: the old membership is still the one read.
        assert_eq!(store.void_membership_targets("VIDE", 1).unwrap().len(), 20);
        let sum: i64 = store
            .void_membership_summary()
            .unwrap()
            .iter()
            .map(|s| s.n_galaxies)
            .sum();
        assert_eq!(sum, 50);
        // Retrying a stage replaces it.
        let a = store
            .stage_void_membership("t1_0", &key("VIDE", "NGC"), &rows(30, 7))
            .unwrap();

        // A vanished staged table: the publication names it and changes
        // nothing.
        let mut gone = b.clone();
        gone.table = "void_membership_stage_t9_9".into();
        let e = store
            .publish_void_memberships(&[a.clone(), gone])
            .unwrap_err();
        assert!(e.to_string().contains("void_membership_stage_t9_9"), "{e}");
        assert!(e.to_string().contains("VIDE, SGC"), "{e}");
        assert_eq!(store.void_membership_targets("VIDE", 1).unwrap().len(), 20);
        // Not a staging table: refused before any SQL.
        let mut evil = b.clone();
        evil.table = "void_membership_summary; DROP TABLE runs".into();
        assert!(store.publish_void_memberships(&[evil]).is_err());

        store.publish_void_memberships(&[a, b]).unwrap();
        assert_eq!(
            partitions(&mut store),
            vec!["void_membership_stage_t1_0", "void_membership_stage_t1_1"]
        );
        // The new rows, and only them: 30 of NGC (12 voids), 20 of SGC (8).
        let ids = store.void_membership_targets("VIDE", 1).unwrap();
        assert_eq!(ids.len(), 12 + 8);
        assert_eq!(ids[0], 1008);
        assert_eq!(*ids.last().unwrap(), 900 + 1000 + 17);
        let s = store.void_membership_summary().unwrap();
        let ngc: i64 = s
            .iter()
            .filter(|r| r.cap == "NGC")
            .map(|r| r.n_galaxies)
            .sum();
        let sgc: i64 = s
            .iter()
            .filter(|r| r.cap == "SGC")
            .map(|r| r.n_galaxies)
            .sum();
        assert_eq!((ngc, sgc), (30, 20));
        let void_mean = s
            .iter()
            .find(|r| r.cap == "NGC" && r.vflag == 1)
            .unwrap()
            .r_void_norm_mean
            .unwrap();
        // vflag 1 at i % 5 in {1, 2}: i = 1, 2, 6, 7, 11, 12, ... 27; r = (i % 7) / 7.
        let want: f64 = [1, 2, 6, 7, 11, 12, 16, 17, 21, 22, 26, 27]
            .iter()
            .map(|i| (i % 7) as f64 / 7.0)
            .sum::<f64>()
            / 12.0;
        assert!((void_mean - want).abs() < 1e-12, "{void_mean} {want}");
        // The staged indexes became the partitions of the table's indexes
        // (so selections use them, and nothing was rebuilt).
        for idx in ["void_membership_select", "void_membership_target"] {
            let n = store
                .sql_readonly(&format!(
                    "SELECT count(*) FROM pg_inherits WHERE inhparent = '{idx}'::regclass"
                ))
                .unwrap();
            assert_eq!(n.rows[0][0].as_i64(), Some(2), "{idx}");
        }

        // A failed run's stage: dropped on request, and by age.
        let c = store
            .stage_void_membership("t2_0", &key("ZOBOV", "NGC"), &rows(10, 0))
            .unwrap();
        store.drop_staged_memberships(&[c]);
        store
            .stage_void_membership("t3_0", &key("ZOBOV", "NGC"), &rows(10, 0))
            .unwrap();
        assert_eq!(store.drop_stale_staged_memberships(24.0).unwrap(), 0);
        assert_eq!(store.drop_stale_staged_memberships(0.0).unwrap(), 1);
        let left = store
            .sql_readonly("SELECT count(*) FROM pg_class WHERE relname LIKE 'void_membership_stage_t2%' OR relname LIKE 'void_membership_stage_t3%'")
            .unwrap();
        assert_eq!(left.rows[0][0].as_i64(), Some(0));
        // Published partitions are never stale.
        assert_eq!(partitions(&mut store).len(), 2);

        // Bad stage names never reach SQL.
        let e = store
            .stage_void_membership("x; DROP TABLE runs", &key("VIDE", "NGC"), &rows(3, 0))
            .unwrap_err();
        assert!(e.to_string().contains("lower-case"), "{e}");
    }
}

/// Inside a run, the membership reads of `voids compare` and `voids
/// publish` (`void_membership_with_fastspec`, `void_membership_vflags`)
/// follow the submitter's dataset rules as the API does: rows whose
/// galaxies come from a restricted file are left out for a non-member,
/// and a member's read is audited and restricts the run.
#[test]
fn runs_read_membership_with_their_submitters_rights() {
    let (dir, cfgs) = backends("void_membership_acting");
    let (ra, dec) = sky_points(10, 5);
    let f = dir.path().join("zsecret.fits");
    write_zcatalog(&f, &ra, &dec, 5);
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        let b = store.backend();
        let secret = match store
            .ingest_file(&f, &IngestOptions::default(), &mut Progress::none())
            .unwrap()
        {
            IngestOutcome::Loaded { file, .. } | IngestOutcome::AlreadyIngested { file } => {
                file.file_id
            }
        };
        store
            .upsert_dataset("secret", "", Visibility::Restricted, &["p1".to_string()])
            .unwrap();
        store.add_file_to_dataset("secret", secret).unwrap();
        // 30 galaxies: every third from the restricted file, the rest from
        // an unregistered (public) file; the catalog is public.
        let mut r = rows(30, 0);
        r.galaxy_file_id = (0..30)
            .map(|i| if i % 3 == 0 { Some(secret) } else { None })
            .collect();
        let mut k = key("VoidFinder", "NGC");
        k.file_id = None;
        store
            .write_void_membership(&k, &r, &mut Progress::none())
            .unwrap();
        let mut run_of = |name: &str, projects: &[&str]| {
            common::researcher_run(&mut store, name, projects, "voids-compare")
        };
        let bob_run = run_of("bob", &[]);
        let rosa_run = run_of("rosa", &["p1"]);
        let read = |s: &mut Store| -> (Vec<i64>, Vec<i64>) {
            let flags: Vec<i64> = s
                .void_membership_vflags("VoidFinder")
                .unwrap()
                .into_iter()
                .map(|(t, _)| t)
                .collect();
            let t = s.void_membership_with_fastspec("VoidFinder", &[]).unwrap();
            let mut joined: Vec<i64> = t.rows.iter().map(|r| r[0].as_i64().unwrap()).collect();
            joined.sort_unstable();
            let mut flags = flags;
            flags.sort_unstable();
            (flags, joined)
        };
        let all: Vec<i64> = (0..30).map(|i| 1000 + i).collect();
        let public: Vec<i64> = (0..30).filter(|i| i % 3 != 0).map(|i| 1000 + i).collect();
        // Acting for nobody (the operator's CLI): everything.
        assert_eq!(read(&mut store), (all.clone(), all.clone()), "{b}");
        let mut bob = Store::open(&cfg).unwrap();
        bob.act_for_run(bob_run).unwrap();
        assert_eq!(
            read(&mut bob),
            (public.clone(), public.clone()),
            "{b}: bob's run reads only the galaxies of public files"
        );
        assert_eq!(
            store.get_run(bob_run).unwrap().unwrap().restricted_projects,
            None,
            "{b}: bob read nothing restricted"
        );
        let mut rosa = Store::open(&cfg).unwrap();
        rosa.act_for_run(rosa_run).unwrap();
        assert_eq!(read(&mut rosa), (all.clone(), all), "{b}");
        assert_eq!(
            store
                .get_run(rosa_run)
                .unwrap()
                .unwrap()
                .restricted_projects,
            Some(vec!["p1".to_string()]),
            "{b}: what rosa's run read restricts it to p1"
        );
    }
}
