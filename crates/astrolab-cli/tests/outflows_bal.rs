//! `astrolab outflows bal` (issue 19): BAL troughs as DESI's BAL catalog
//! measures them, on real BOSS and DESI spectrum files (the values pinned
//! here agree with DESI's baltools run on the same files, see
//! bench/RESULTS.md) and over a store's quasars (sharded, rows into the
//! store), with the catalog as CSV and as FITS with DESI's column shapes.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use astrolab_formats::testdata::require_shared_data;
use astrolab_formats::FitsFile;
use common::{bin, text};

/// The CSV as rows of name -> value.
fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let t = std::fs::read_to_string(path).unwrap();
    let mut lines = t.lines();
    let head: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            let v: Vec<&str> = l.split(',').collect();
            assert_eq!(v.len(), head.len(), "{l}");
            head.iter()
                .cloned()
                .zip(v.into_iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn by_name<'a>(rows: &'a [BTreeMap<String, String>], name: &str) -> &'a BTreeMap<String, String> {
    rows.iter().find(|r| r["NAME"] == name).unwrap()
}

#[test]
fn real_boss_and_desi_files() {
    let Some(data) = require_shared_data("real_boss_and_desi_files") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = bin()
            .env("ASTROLAB_HOME", tmp.path().join("home"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "astrolab {args:?}: {}", text(&o));
        text(&o)
    };
    let qso = data.join("qso");
    let s = |p: &Path| p.display().to_string();

    // The 69 BOSS spectra at their pipeline redshifts.
    let boss = tmp.path().join("boss.csv");
    let log = run(&[
        "outflows",
        "bal",
        &s(&qso.join("boss")),
        "--output",
        &s(&boss),
    ]);
    assert!(
        log.contains("69 spectra, 44 measured (0 with BI_CIV > 0, 12 with AI_CIV > 0), 25 skipped (25 redshift_out_of_range); 69 files"),
        "{log}"
    );
    let r = rows(&boss);
    assert_eq!(r.len(), 69);
    // baltools: AI_CIV 1736.2 +- 3.8 (its error has dv, ours dv^2: 3.8 x
    // sqrt(69 km/s) = 31.6), one trough.
    let q = by_name(&r, "spec-3655-55240-0030");
    assert_eq!(
        (
            q["AI_CIV"].as_str(),
            q["ERR_AI_CIV"].as_str(),
            q["NCIV_450"].as_str()
        ),
        ("1736.2048", "31.723219", "1")
    );
    assert_eq!(
        (q["VMIN_CIV_450_0"].as_str(), q["VMAX_CIV_450_0"].as_str()),
        ("2455.154", "4977.5903")
    );
    assert_eq!(q["CONT_FIT"], "iterative");
    // Its C IV trough's apparent column (blended doublet, saturated: a
    // lower limit) and Si IV's over the same velocities.
    assert_eq!(
        (
            q["LOGN_CIV"].as_str(),
            q["SAT_CIV"].as_str(),
            q["LOGN_SIIV"].as_str()
        ),
        ("16.03089053009222", "1", "14.342166780352246")
    );
    let q = by_name(&r, "spec-3655-55240-0388");
    assert_eq!(
        (
            q["AI_CIV"].as_str(),
            q["BI_SIIV"].as_str(),
            q["AI_SIIV"].as_str()
        ),
        ("331.60135", "315.59033", "604.9031")
    );
    // A low-redshift quasar: a counted skip with DESI's BALMASK, no numbers.
    let skipped: Vec<_> = r.iter().filter(|r| !r["SKIP_REASON"].is_empty()).collect();
    assert_eq!(skipped.len(), 25);
    for q in skipped {
        assert_eq!(q["SKIP_REASON"], "redshift_out_of_range");
        assert_eq!(
            (
                q["BALMASK"].as_str(),
                q["BI_CIV"].as_str(),
                q["AI_CIV"].as_str()
            ),
            ("3", "0", "0")
        );
        assert_eq!(q["CONT_FIT"], "");
    }

    // The BAL quasar at its catalog redshift, as a FITS catalog.
    let fits = tmp.path().join("bal0110.fits");
    let log = run(&[
        "outflows",
        "bal",
        &s(&qso.join("boss/spec-3655-55240-0110.fits")),
        "--z",
        "2.394",
        "--output",
        &s(&fits),
    ]);
    assert!(
        log.contains("1 measured (0 with BI_CIV > 0, 1 with AI_CIV > 0)"),
        "{log}"
    );
    let f = FitsFile::open(&fits).unwrap();
    let t = f.table("BALCAT").unwrap();
    assert_eq!(t.nrows(), 1);
    assert_eq!(t.read_str("NAME").unwrap(), ["spec-3655-55240-0110"]);
    assert_eq!(t.read_str("CONT_FIT").unwrap(), ["red_side"]);
    assert_eq!(t.read_f64("Z").unwrap(), [2.394]);
    assert_eq!(t.read_f32("AI_CIV").unwrap(), [2890.9546]);
    assert_eq!(t.read_f32("BI_CIV").unwrap(), [0.0]);
    assert_eq!(t.read_i64("NCIV_450").unwrap(), [2]);
    // DESI's shapes: 5 BI slots, 17 AI slots, one coefficient per component.
    let (vmin, n) = t.read_f32_vector("VMIN_CIV_450").unwrap();
    assert_eq!(n, 17);
    assert_eq!(vmin[..3], [5379.195, 43.64447, -1.0]);
    assert_eq!(t.read_f32_vector("VMAX_CIV_2000").unwrap().1, 5);
    assert_eq!(t.read_f32_vector("PCA_COEFFS").unwrap().1, 5);
    assert_eq!(t.read_i64("BALMASK").unwrap(), [0]);
    // The column order of DESI's catalog, from PCA_COEFFS to BALMASK.
    let names: Vec<&str> = t.columns().iter().map(|c| c.name.as_str()).collect();
    let at = |n: &str| names.iter().position(|&c| c == n).unwrap();
    assert!(at("PCA_COEFFS") < at("BI_CIV") && at("BI_CIV") < at("AI_CIV"));
    assert!(at("FMIN_SIIV_450") < at("BALMASK"));

    // Redrock's quasar templates as the continuum basis (4 components on
    // a log10 grid), over the same fit window: another catalog id.
    let rr = tmp.path().join("rr.csv");
    let log = run(&[
        "outflows",
        "bal",
        &s(&qso.join("boss/spec-3655-55240-0002.fits")),
        &s(&qso.join("boss/spec-3655-55240-0030.fits")),
        "--pca",
        &s(&data.join("templates/rrtemplate-QSO-HIZ-v1.1.fits")),
        "--output",
        &s(&rr),
    ]);
    assert!(
        log.contains("BAL catalog bal-0db4c4a0058dc474: 2 spectra, 2 measured"),
        "{log}"
    );
    let r = rows(&rr);
    assert!(!r[0].contains_key("PCA_COEFFS_4"));
    assert_eq!(
        (r[0]["PCA_CHI2"].as_str(), r[1]["PCA_CHI2"].as_str()),
        ("1.3351219", "2.1256719")
    );
    // Its 4 templates fit 0030's absorbed C IV region less closely (a
    // reduced chi-square of 2.13 against the PCA fit's 1.99): BI 383,
    // AI 1903 where the PCA continuum gives AI 1736 and no BI.
    assert_eq!(
        (r[1]["BI_CIV"].as_str(), r[1]["AI_CIV"].as_str()),
        ("383.37885", "1902.999")
    );

    // DESI coadds (arms merged), redshifts from the Fuji quasar catalog.
    let desi = tmp.path().join("desi.csv");
    let log = run(&[
        "outflows",
        "bal",
        &s(&qso.join("desi")),
        "--redshifts",
        &s(&qso.join("desi/QSO_cat_fuji_dark_healpix.fits.gz")),
        "--output",
        &s(&desi),
    ]);
    assert!(
        log.contains(
            "14 spectra, 14 measured (1 with BI_CIV > 0, 4 with AI_CIV > 0), 0 skipped; 4 files"
        ),
        "{log}"
    );
    let r = rows(&desi);
    // baltools: BI_CIV 479.97, AI_CIV 1749.99.
    let q = by_name(&r, "coadd-2-80693-thru20210204:39633562000951961");
    assert_eq!(
        (
            q["BI_CIV"].as_str(),
            q["NCIV_2000"].as_str(),
            q["AI_CIV"].as_str(),
            q["NCIV_450"].as_str()
        ),
        ("479.96494", "1", "1749.9585", "3")
    );
    assert_eq!(q["TARGETID"], "39633562000951961");
    // The same quasar in the main and sv3 coadds: the same numbers.
    let a = by_name(&r, "coadd-main-dark-9144:39632936152073654");
    let b = by_name(&r, "coadd-sv3-dark-9144:39632936152073654");
    assert_eq!(a["AI_CIV"], "1268.153");
    assert_eq!(a["AI_CIV"], b["AI_CIV"]);
}

#[test]
fn store_quasars_sharded_into_the_store() {
    let Some(data) = require_shared_data("store_quasars_sharded_into_the_store") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let demo = tmp.path().join("demo");
    let run = |args: &[&str]| {
        let o = bin()
            .env("ASTROLAB_HOME", &home)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "astrolab {args:?}: {}", text(&o));
        text(&o)
    };
    let s = |p: &Path| p.display().to_string();
    // 600 DESI-like quasars, a fifth with a rarity (20 with BAL troughs of
    // known depth and velocities).
    run(&[
        "demo-data",
        &s(&demo),
        "--anomaly-benchmark",
        "600",
        "--rarity-fraction",
        "0.2",
        "--seed",
        "7",
        "--templates",
        &s(&data.join("templates")),
    ]);
    run(&["ingest", &s(&demo)]);
    run(&["spectra", "build", "--from", &s(&demo)]);
    let one = tmp.path().join("bal.csv");
    let log = run(&[
        "outflows",
        "bal",
        "--shard-size",
        "64",
        "--output",
        &s(&one),
    ]);
    assert!(
        log.contains("600 spectra, 371 measured (5 with BI_CIV > 0, 15 with AI_CIV > 0), 229 skipped (1 continuum_not_positive, 228 redshift_out_of_range); 0 selected without a spectrum"),
        "{log}"
    );
    assert!(log.contains("rows in the store"), "{log}");
    // Shards do not change a byte.
    let two = tmp.path().join("bal2.csv");
    run(&[
        "outflows",
        "bal",
        "--shard-size",
        "1000",
        "--no-store",
        "--output",
        &s(&two),
    ]);
    assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap());

    // An injected BAL (C IV trough 13,269-19,609 km/s, depth 0.668, S/N
    // 5.5 per pixel): BI within 10 % of the flat trough's 2739 km/s (the
    // demo's 500 km/s tapers add to it) and its velocities.
    let r = rows(&one);
    let q = r
        .iter()
        .find(|r| r["TARGETID"] == "39632337536813694")
        .unwrap();
    assert_eq!(
        (
            q["BI_CIV"].as_str(),
            q["VMIN_CIV_2000_0"].as_str(),
            q["VMAX_CIV_2000_0"].as_str()
        ),
        ("2979.2134", "12690.149", "19516.998")
    );
    assert!((2979.2134f64 / 2739.457 - 1.0).abs() < 0.1);

    // The store holds the same rows, queryable by index.
    let out = run(&[
        "query",
        "sql",
        "--format",
        "csv",
        "SELECT outcome, COUNT(*) AS n, SUM(bi_civ > 0) AS bi, SUM(ai_civ > 0) AS ai FROM quasar_bal GROUP BY outcome ORDER BY outcome",
    ]);
    assert!(
        out.contains("continuum_not_positive,1,,\nmeasured,371,5,15\nredshift_out_of_range,228,,"),
        "{out}"
    );
    let out = run(&[
        "query",
        "sql",
        "--format",
        "csv",
        "SELECT bi_civ, cont_fit, row_json FROM quasar_bal WHERE target_id = 39632337536813694",
    ]);
    assert!(out.contains("2979.21"), "{out}");
    assert!(out.contains("\"\"VMIN_CIV_450\"\":["), "{out}");
}

#[test]
fn bad_input_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let fail = |args: &[&str]| {
        let o = bin()
            .env("ASTROLAB_HOME", tmp.path().join("home"))
            .args(args)
            .output()
            .unwrap();
        assert!(!o.status.success(), "astrolab {args:?} succeeded");
        text(&o)
    };
    let out = tmp.path().join("x.csv");
    let out = out.to_str().unwrap();
    let e = fail(&["outflows", "bal", "--z", "2.4", "--output", out]);
    assert!(
        e.contains("--z and --redshifts are for spectrum files"),
        "{e}"
    );
    let e = fail(&[
        "outflows",
        "bal",
        "/no/such/spec-1-2-3.fits",
        "--output",
        out,
    ]);
    assert!(e.contains("/no/such/spec-1-2-3.fits"), "{e}");
    let e = fail(&[
        "outflows",
        "bal",
        "--pca",
        "/no/such/pca.fits",
        "--output",
        out,
    ]);
    assert!(e.contains("--pca /no/such/pca.fits"), "{e}");
    let e = fail(&["outflows", "bal", "--pca", "/tmp", "--output", out]);
    assert!(e.contains("--pca /tmp"), "{e}");
    let e = fail(&[
        "outflows", "bal", "/tmp", "--select", "z > 2", "--output", out,
    ]);
    assert!(e.contains("--select is for the store's spectra"), "{e}");
    let e = fail(&["outflows", "bal", "/tmp", "--z=-1", "--output", out]);
    assert!(e.contains("--z -1: give a redshift >= 0"), "{e}");
    assert!(!Path::new(out).exists());
}
