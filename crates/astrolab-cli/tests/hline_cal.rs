//! `astrolab hline calibrate` against GBTIDL: the TGBT21A_501_11 position-
//! switched observation (scan 152/153, noise diode) reduced by getps, with
//! and without `smthoff`, compared channel by channel with GBTIDL's files.

use std::path::{Path, PathBuf};
use std::process::Output;

use astrolab_formats::sdfits::Sdfits;
use astrolab_formats::testdata::require_shared_data;

mod common;
use common::text;

fn run(args: &[&str]) -> Output {
    common::bin().args(args).output().expect("run astrolab")
}

fn gbt(data: &Path) -> PathBuf {
    data.join("hline/gbt")
}

/// Calibrates with `extra` arguments and compares with `reference`:
/// returns (|dTsys|, max |dTa| over channels finite in both).
fn compare(data: &Path, extra: &[&str], reference: &str) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.fits");
    let raw = gbt(data).join("TGBT21A_501_11.raw.vegas.fits");
    let mut args = vec![
        "hline",
        "calibrate",
        raw.to_str().unwrap(),
        "--ifnum",
        "0",
        "--plnum",
        "0",
    ];
    args.extend_from_slice(extra);
    args.extend(["--output", out.to_str().unwrap()]);
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    let ours = Sdfits::open(&out).unwrap();
    let theirs = Sdfits::open(&gbt(data).join(reference)).unwrap();
    assert_eq!(ours.rows.len(), 1);
    assert_eq!(ours.nchan, theirs.nchan);
    let a = &ours.spectra(&[0]).unwrap()[0];
    let b = &theirs.spectra(&[0]).unwrap()[0];
    let mut max = 0.0f64;
    let mut n = 0;
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.is_finite(), y.is_finite(), "NaN channels must agree");
        if x.is_finite() {
            max = max.max((x - y).abs());
            n += 1;
        }
    }
    assert!(n > 32_000, "{n} finite channels");
    // Same frequency axis and exposure as GBTIDL's result.
    assert_eq!(ours.rows[0].crval1_hz, theirs.rows[0].crval1_hz);
    assert!((ours.rows[0].exposure_s - theirs.rows[0].exposure_s).abs() < 1e-6);
    ((ours.rows[0].tsys_k - theirs.rows[0].tsys_k).abs(), max)
}

#[test]
fn getps_scan_152_matches_gbtidl() {
    let Some(data) = require_shared_data("getps_scan_152_matches_gbtidl") else {
        return;
    };
    let reference = "TGBT21A_501_11_getps_scan_152_intnum_0_ifnum_0_plnum_0.fits";
    for extra in [
        &["--scan", "152"][..],
        &["--scan", "152", "--intnum", "0"],
        &["--scan", "153"],
    ] {
        let (dtsys, dta) = compare(&data, extra, reference);
        eprintln!("{extra:?}: |dTsys| = {dtsys:.2e} K, max |dTa| = {dta:.2e} K");
        assert!(dtsys < 0.01, "{extra:?}: Tsys off by {dtsys} K");
        assert!(dta < 1e-3, "{extra:?}: Ta off by {dta} K");
    }
}

#[test]
fn getps_smthoff_15_matches_gbtidl() {
    let Some(data) = require_shared_data("getps_smthoff_15_matches_gbtidl") else {
        return;
    };
    let (dtsys, dta) = compare(
        &data,
        &["--scan", "152", "--smthoff", "15"],
        "TGBT21A_501_11_getps_scan_152_ifnum_0_plnum_0_smthoff_15.fits",
    );
    eprintln!("smthoff 15: |dTsys| = {dtsys:.2e} K, max |dTa| = {dta:.2e} K");
    assert!(dtsys < 0.01 && dta < 1e-3, "{dtsys} {dta}");
}

#[test]
fn calibrate_output_carries_the_lsr_correction() {
    let Some(data) = require_shared_data("calibrate_output_carries_the_lsr_correction") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.fits");
    let raw = gbt(&data).join("TGBT21A_501_11.raw.vegas.fits");
    let o = run(&[
        "hline",
        "calibrate",
        raw.to_str().unwrap(),
        "--scan",
        "152",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let f = astrolab_formats::FitsFile::open(&out).unwrap();
    let h = &f.hdu("SINGLE DISH").unwrap().header;
    assert_eq!(h.get_str("SPECSYS").map(str::trim), Some("TOPOCENT"));
    let v = h.get_f64("VELO-LSR").expect("VELO-LSR written");
    // astropy (radial_velocity_correction + LSRK) for the GBT site, DATE-OBS
    // 2021-02-10T07:38:37.50 and the ON pointing: -22.48729 km/s; its
    // barycentric part, -15.26499 km/s, is minus the file's VFRAME column.
    assert!((v + 22.48729).abs() < 0.01, "VELO-LSR {v}");
}

#[test]
fn bad_selections_are_clear_errors() {
    let Some(data) = require_shared_data("bad_selections_are_clear_errors") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.fits");
    let raw = gbt(&data).join("TGBT21A_501_11.raw.vegas.fits");
    let raw = raw.to_str().unwrap();
    let o = run(&[
        "hline",
        "calibrate",
        raw,
        "--scan",
        "999",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("scan 999 is not in the file") && t.contains("152"),
        "{t}"
    );
    let o = run(&[
        "hline",
        "calibrate",
        raw,
        "--scan",
        "152",
        "--ifnum",
        "3",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("IFNUM 3"), "{}", text(&o));
    let o = run(&[
        "hline",
        "calibrate",
        raw,
        "--scan",
        "152",
        "--intnum",
        "7",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("integration 7"), "{}", text(&o));
    assert!(!out.exists(), "no output after an error");
    // A calibrated file is not a position-switched observation.
    let reduced = gbt(&data).join("TGBT21A_501_11_gettp_scan_152_ifnum_0_plnum_0.fits");
    let o = run(&[
        "hline",
        "calibrate",
        reduced.to_str().unwrap(),
        "--scan",
        "152",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("needs its partner scan 153") || t.contains("not position-switched"),
        "{t}"
    );
}
