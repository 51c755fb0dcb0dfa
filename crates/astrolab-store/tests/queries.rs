//! Cone search, crossmatch and read-only SQL on both backends, checked
//! against brute force over the same points.

mod common;

use astrolab_store::query::{Direction, XmatchMode, XmatchQuery, XmatchSide};
use astrolab_store::{ConeQuery, IngestOptions, Progress, Store, StoreError, Value};
use common::*;

fn sep(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> f64 {
    // Independent route: haversine in f64.
    let (p1, p2) = (dec1.to_radians(), dec2.to_radians());
    let dl = (ra2 - ra1).to_radians();
    let a = ((p2 - p1) / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * a.sqrt().min(1.0).asin().to_degrees()
}

/// Points uniform on the sphere plus clusters at the poles and across
/// RA = 0/360, where spatial indexes usually go wrong.
fn points() -> (Vec<f64>, Vec<f64>) {
    let (mut ra, mut dec) = sky_points(30_000, 11);
    let mut rng = Rng::new(5);
    for _ in 0..3_000 {
        ra.push(rng.uniform() * 360.0);
        dec.push(89.0 + rng.uniform());
        ra.push(rng.uniform() * 360.0);
        dec.push(-89.0 - rng.uniform());
        let r = rng.uniform() * 2.0 - 1.0;
        ra.push(if r < 0.0 { 360.0 + r } else { r });
        dec.push(rng.uniform() * 2.0 - 1.0);
    }
    (ra, dec)
}

fn loaded(cfg: &astrolab_store::StoreConfig, path: &std::path::Path) -> Store {
    let mut store = Store::open(cfg).unwrap();
    store
        .ingest_file(path, &IngestOptions::default(), &mut Progress::none())
        .unwrap();
    store
}

#[test]
fn cone_matches_brute_force_at_poles_and_ra_wrap() {
    let (dir, cfgs) = backends("cone");
    let (ra, dec) = points();
    let path = dir.path().join("zpix-test.fits");
    write_zcatalog(&path, &ra, &dec, 11);
    let centres = [
        (0.2, 0.0, 1.0),
        (359.9, 0.5, 0.7),
        (10.0, 90.0, 1.5),
        (200.0, -89.5, 1.0),
        (123.4, 45.6, 3.0),
        (50.0, -30.0, 0.01),
    ];
    for cfg in cfgs {
        let mut store = loaded(&cfg, &path);
        for &(cra, cdec, r) in &centres {
            let got = store
                .cone(&ConeQuery {
                    table: "zcatalog".into(),
                    ra_deg: cra,
                    dec_deg: cdec,
                    radius_deg: r,
                    filter: None,
                    limit: None,
                    exclude_file_ids: Vec::new(),
                })
                .unwrap();
            let mut want: Vec<i64> = (0..ra.len())
                .filter(|&i| sep(cra, cdec, ra[i], dec[i]) <= r)
                .map(|i| 39627000000000000 + i as i64)
                .collect();
            let ti = got.column_index("targetid").unwrap();
            let mut ids: Vec<i64> = got.rows.iter().map(|r| r[ti].as_i64().unwrap()).collect();
            // Nearest first.
            let si = got.column_index("sep_arcsec").unwrap();
            let seps: Vec<f64> = got.rows.iter().map(|r| r[si].as_f64().unwrap()).collect();
            assert!(seps.windows(2).all(|w| w[0] <= w[1]));
            ids.sort();
            want.sort();
            assert!(
                !want.is_empty() || r < 0.1,
                "test cone at ({cra},{cdec}) should not be empty"
            );
            assert_eq!(
                ids,
                want,
                "cone ({cra}, {cdec}, {r}) on {} (q3c: {})",
                store.backend(),
                store.has_q3c()
            );
        }
        // Filters apply on top, with bound parameters.
        let all = store
            .cone(&ConeQuery {
                table: "zcatalog".into(),
                ra_deg: 123.4,
                dec_deg: 45.6,
                radius_deg: 3.0,
                filter: None,
                limit: None,
                exclude_file_ids: Vec::new(),
            })
            .unwrap();
        let f = store
            .cone(&ConeQuery {
                table: "zcatalog".into(),
                ra_deg: 123.4,
                dec_deg: 45.6,
                radius_deg: 3.0,
                filter: Some("zwarn = 0 AND spectype = 'QSO' AND bgs_target & 2".into()),
                limit: None,
                exclude_file_ids: Vec::new(),
            })
            .unwrap();
        let (zi, si, bi) = (
            all.column_index("zwarn").unwrap(),
            all.column_index("spectype").unwrap(),
            all.column_index("bgs_target").unwrap(),
        );
        let expect = all
            .rows
            .iter()
            .filter(|r| {
                r[zi] == Value::Int(0)
                    && r[si] == Value::Text("QSO".into())
                    && r[bi].as_i64().unwrap() & 2 != 0
            })
            .count();
        assert!(expect > 0);
        assert_eq!(f.rows.len(), expect);
        let lim = store
            .cone(&ConeQuery {
                table: "zcatalog".into(),
                ra_deg: 123.4,
                dec_deg: 45.6,
                radius_deg: 3.0,
                filter: None,
                limit: Some(5),
                exclude_file_ids: Vec::new(),
            })
            .unwrap();
        assert_eq!(lim.rows, all.rows[..5].to_vec());
    }
}

#[test]
fn postgres_q3c_and_healpix_paths_agree() {
    let Some(cfg) = pg_config("q3c_agree") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ra, dec) = points();
    let path = dir.path().join("zpix-q3c.fits");
    write_zcatalog(&path, &ra, &dec, 3);
    let mut store = loaded(&cfg, &path);
    if !store.has_q3c() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "q3c is not installed on the test server; scripts/test installs postgresql-NN-q3c"
            );
        }
        eprintln!("skipping: q3c not installed");
        return;
    }
    let q = |s: &mut Store, cra: f64, cdec: f64| {
        let t = s
            .cone(&ConeQuery {
                table: "zcatalog".into(),
                ra_deg: cra,
                dec_deg: cdec,
                radius_deg: 1.0,
                filter: None,
                limit: None,
                exclude_file_ids: Vec::new(),
            })
            .unwrap();
        t.rows
    };
    let mut hpx_store = Store::open(&cfg).unwrap();
    // Same database, q3c switched off for this handle: the HEALPix path.
    hpx_store.set_q3c(false).unwrap();
    assert!(!hpx_store.has_q3c());
    for (cra, cdec) in [(0.1, 0.0), (10.0, 89.7), (250.0, -20.0)] {
        assert_eq!(q(&mut store, cra, cdec), q(&mut hpx_store, cra, cdec));
    }
}

#[test]
fn xmatch_finds_the_nearest_within_radius_both_ways() {
    let (dir, cfgs) = backends("xmatch");
    let (ra, dec) = sky_points(20_000, 21);
    let path = dir.path().join("zpix-x.fits");
    write_zcatalog(&path, &ra, &dec, 21);
    // B: every 3rd point moved by 0.5 arcsec, every 7th by 3 arcsec, plus
    // a decoy 0.8 arcsec from every 11th.
    let mut rows = String::from("id,ra,dec\n");
    let mut rng = Rng::new(9);
    let mut expected = Vec::new();
    for i in (0..ra.len()).step_by(3) {
        let off = if i % 7 == 0 { 3.0 } else { 0.5 } / 3600.0;
        let ang = rng.uniform() * std::f64::consts::TAU;
        let d = (dec[i] + off * ang.sin()).clamp(-90.0, 90.0);
        let r = (ra[i] + off * ang.cos() / dec[i].to_radians().cos().max(1e-3)).rem_euclid(360.0);
        rows.push_str(&format!("{},{r:.12},{d:.12}\n", i));
        if sep(ra[i], dec[i], r, d) <= 1.0 / 3600.0 {
            expected.push(i as i64);
        }
    }
    let csv = dir.path().join("b.csv");
    std::fs::write(&csv, rows).unwrap();
    assert!(expected.len() > 4000);
    for cfg in cfgs {
        let mut store = loaded(&cfg, &path);
        let t = store
            .xmatch(&XmatchQuery {
                a: XmatchSide::File(csv.clone()),
                b: XmatchSide::Table("zcatalog".into()),
                radius_deg: 1.0 / 3600.0,
                direction: Direction::AToB,
                mode: XmatchMode::Nearest,
            })
            .unwrap();
        let mut got: Vec<i64> = t.rows.iter().map(|r| r[0].as_i64().unwrap()).collect();
        got.sort();
        assert_eq!(got, expected);
        for r in &t.rows {
            // The partner is the point it was made from.
            assert_eq!(
                r[3].as_i64().unwrap() - 39627000000000000,
                r[0].as_i64().unwrap()
            );
            assert!(r[6].as_f64().unwrap() <= 1.0 + 1e-9);
        }
        let back = store
            .xmatch(&XmatchQuery {
                a: XmatchSide::File(csv.clone()),
                b: XmatchSide::Table("zcatalog".into()),
                radius_deg: 1.0 / 3600.0,
                direction: Direction::BToA,
                mode: XmatchMode::Nearest,
            })
            .unwrap();
        assert_eq!(back.rows.len(), expected.len());
    }
}

#[test]
fn sql_is_read_only_on_both_backends() {
    let (dir, cfgs) = backends("sql_ro");
    let (ra, dec) = sky_points(100, 4);
    let path = dir.path().join("zpix-sql.fits");
    write_zcatalog(&path, &ra, &dec, 4);
    for cfg in cfgs {
        let mut store = loaded(&cfg, &path);
        let r = store
            .sql_readonly(
                "SELECT spectype, COUNT(*) AS n FROM zcatalog GROUP BY spectype ORDER BY spectype",
            )
            .unwrap();
        assert_eq!(r.columns, vec!["spectype", "n"]);
        assert_eq!(
            r.rows[0],
            vec![Value::Text("GALAXY".into()), Value::Int(34)]
        );
        for bad in [
            "DELETE FROM zcatalog",
            "DROP TABLE zcatalog",
            "SELECT 1; DELETE FROM zcatalog",
            "INSERT INTO raw_files (name) VALUES ('x')",
            "UPDATE zcatalog SET z = 0",
        ] {
            let e = store.sql_readonly(bad).unwrap_err();
            assert!(
                matches!(e, StoreError::BadRequest { .. }) || e.to_string().contains("read-only"),
                "{bad}: {e}"
            );
        }
        assert_eq!(store.count_rows("zcatalog").unwrap(), 100);
    }
}

/// Issue 14 (9a): which tables hold rows, cheaply, for the CLI's
/// "this table is empty" note and its default-table rule.
#[test]
fn empty_tables_and_the_sky_tables_that_hold_rows() {
    let (dir, cfgs) = backends("tables_with_rows");
    let csv = dir.path().join("my-galaxies.csv");
    std::fs::write(&csv, "ra,dec,z\n10.0,1.0,0.1\n10.1,1.1,0.2\n").unwrap();
    for cfg in cfgs {
        let mut store = Store::open(&cfg).unwrap();
        assert!(store.sky_tables_with_rows().unwrap().is_empty());
        assert!(!store.table_has_rows("galaxies").unwrap());
        store
            .ingest_file(&csv, &IngestOptions::default(), &mut Progress::none())
            .unwrap();
        assert_eq!(store.sky_tables_with_rows().unwrap(), ["galaxies"]);
        assert!(store.table_has_rows("galaxies").unwrap());
        assert!(!store.table_has_rows("zcatalog").unwrap());
        let e = store.table_has_rows("no_such").unwrap_err().to_string();
        assert_eq!(e, "table: no table no_such");
    }
}
