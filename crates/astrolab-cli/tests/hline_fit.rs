//! `astrolab hline fit` and `hline rotation-curve` end to end: SALSA spectra
//! to component tables (CSV, JSON, FITS), figures (SVG, PNG), tangent points
//! and the l-v diagram; bad input gives errors naming the file and field.

use astrolab_formats::sdfits::{write_sdfits, SdfitsOutRow};
use astrolab_formats::testdata::require_shared_data;

mod common;
use common::{run, text};

#[test]
fn salsa_fit_writes_tables_and_figures() {
    let Some(data) = require_shared_data("salsa_fit_writes_tables_and_figures") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    // Observe-1/spectrum_11007: l = 191.9, one bright line; the observer
    // (Analysis-1/spectrum_11007.m) put it at 5.7 km/s.
    let spec = data.join("hline/salsa/Observe-1/spectrum_11007.fits");
    let spec = spec.to_str().unwrap();
    for out in ["c.csv", "c.json", "c.fits"] {
        let o = run(
            d.path(),
            &["hline", "fit", spec, "--output", out, "--plot-dir", "figs"],
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    let csv = std::fs::read_to_string(d.path().join("c.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let iv = header.iter().position(|h| *h == "v_lsr_km_s").unwrap();
    let ia = header.iter().position(|h| *h == "amp_k").unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // The line is a blend of two nearly equal components here: compare the
    // amplitude-weighted centroid of the bright (> 10 K) components.
    let (mut sw, mut swv) = (0.0, 0.0);
    for r in &rows {
        let (a, v): (f64, f64) = (r[ia].parse().unwrap(), r[iv].parse().unwrap());
        if a > 10.0 {
            sw += a;
            swv += a * v;
        }
    }
    let v = swv / sw;
    assert!((v - 5.7).abs() < 5.0, "bright emission centred at {v}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("c.json")).unwrap()).unwrap();
    assert_eq!(json[0]["components"].as_array().unwrap().len(), rows.len());
    assert!(json[0]["n_hi_cm2"].as_f64().unwrap() > 1e20);
    let f = astrolab_formats::FitsFile::open(&d.path().join("c.fits")).unwrap();
    assert_eq!(f.table("HI_COMPONENTS").unwrap().nrows(), rows.len());
    let svg = std::fs::read_to_string(d.path().join("figs/spectrum_11007.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("polyline"));
    let o = run(
        d.path(),
        &[
            "hline",
            "fit",
            spec,
            "--plot-dir",
            "png",
            "--plot-format",
            "png",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let png = std::fs::read(d.path().join("png/spectrum_11007.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

#[test]
fn rotation_curve_from_salsa_first_quadrant() {
    let Some(data) = require_shared_data("rotation_curve_from_salsa_first_quadrant") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let dir = data.join("hline/salsa/Observe-1");
    let mut args: Vec<String> = [
        "hline",
        "rotation-curve",
        "--output",
        "rot.csv",
        "--plot",
        "rot.svg",
        "--lv-output",
        "lv.csv",
        "--lv-plot",
        "lv.svg",
        "--baseline-windows=-230:-180,60:220",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    args.extend(files.iter().map(|p| p.to_str().unwrap().to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(d.path(), &refs);
    assert!(o.status.success(), "{}", text(&o));
    let rot = std::fs::read_to_string(d.path().join("rot.csv")).unwrap();
    let pts: Vec<(f64, f64, f64)> = rot
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<f64> = l.split(',').skip(1).map(|x| x.parse().unwrap()).collect();
            (f[0], f[3], f[4])
        })
        .collect();
    assert!(pts.len() >= 15, "{} tangent points", pts.len());
    let mut outer = 0;
    let mut plausible = 0;
    for (l, r, v) in &pts {
        assert!(*l > 0.0 && *l < 90.0);
        assert!((r - 8.5 * l.to_radians().sin()).abs() < 1e-3);
        // Outside the central 3.5 kpc the Milky Way rotates at 150-260 km/s.
        if *r > 3.5 {
            outer += 1;
            if *v > 150.0 && *v < 260.0 {
                plausible += 1;
            }
        }
    }
    assert!(
        outer >= 15 && plausible as f64 >= 0.85 * outer as f64,
        "{plausible}/{outer}: {rot}"
    );
    assert!(
        std::fs::read_to_string(d.path().join("lv.csv"))
            .unwrap()
            .lines()
            .count()
            > 1000
    );
    assert!(std::fs::read_to_string(d.path().join("lv.svg"))
        .unwrap()
        .contains("<rect"));
}

#[test]
fn bad_spectra_are_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    // All NaN.
    let mut csv = String::from("v_lsr_km_s,t_k\n");
    for i in 0..100 {
        csv += &format!("{},NaN\n", i as f64 - 50.0);
    }
    std::fs::write(d.path().join("nan.csv"), csv).unwrap();
    let o = run(d.path(), &["hline", "fit", "nan.csv"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("nan.csv") && text(&o).contains("NaN"),
        "{}",
        text(&o)
    );
    // Missing column.
    std::fs::write(d.path().join("nocol.csv"), "velocity,power\n1,2\n").unwrap();
    let o = run(d.path(), &["hline", "fit", "nocol.csv"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("v_lsr_km_s"), "{}", text(&o));
    // An SDFITS spectrum with neither VELO-LSR nor site: no velocity is guessed.
    let row = SdfitsOutRow {
        object: "X".into(),
        date_obs: "2021-02-10T07:38:37.50".into(),
        scan: 1,
        ifnum: 0,
        plnum: 0,
        exposure_s: 1.0,
        tsys_k: 20.0,
        tcal_k: 1.5,
        crval1_hz: 1.4204e9,
        cdelt1_hz: -1e4,
        crpix1: 50.0,
        restfreq_hz: 1.420405751768e9,
        crval2_deg: 10.0,
        crval3_deg: 20.0,
        ctype2: "RA".into(),
        ctype3: "DEC".into(),
        data_k: (0..100)
            .map(|i| (-(((i as f64) - 50.0) / 5.0).powi(2)).exp())
            .collect(),
    };
    write_sdfits(&d.path().join("nolsr.fits"), &[row], Vec::new()).unwrap();
    let o = run(d.path(), &["hline", "fit", "nolsr.fits"]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("nolsr.fits") && t.contains("VELO-LSR"), "{t}");
}

#[test]
fn narrowband_rfi_is_flagged_listed_and_masked() {
    let Some(data) = require_shared_data("narrowband_rfi_is_flagged_listed_and_masked") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    // Observe-2/spectrum_11464: the 1420.0094 MHz spike stands 6.2 K above
    // both neighbours (channel 88, +90 km/s).
    let spec = data.join("hline/salsa/Observe-2/spectrum_11464.fits");
    let spec = spec.to_str().unwrap();
    let o = run(
        d.path(),
        &[
            "hline",
            "fit",
            spec,
            "--output",
            "c.json",
            "--mask-vel=-50",
            "--plot-dir",
            "figs",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("1420.0094 MHz"), "{out}");
    assert!(out.contains("narrowest Gaussian sigma 2.06"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("c.json")).unwrap()).unwrap();
    let flagged = json[0]["flagged_channels"].as_array().unwrap();
    let spike = flagged
        .iter()
        .find(|f| f["source"] == "spike")
        .expect("a spike flagged");
    assert!((spike["freq_hz"].as_f64().unwrap() - 1_420_009_375.0).abs() < 1.0);
    assert!(spike["amp_k"].as_f64().unwrap() > 5.0);
    assert_eq!(spike["width_channels"], 1);
    let user = flagged.iter().find(|f| f["source"] == "user").unwrap();
    assert!((user["v_lsr_km_s"].as_f64().unwrap() + 50.0).abs() < 1.1);
    assert!((json[0]["min_sigma_km_s"].as_f64().unwrap() - 2.061).abs() < 0.01);
    // The strongest resolved component is on the HI line, not at +90 km/s.
    let i = json[0]["strongest_resolved"].as_u64().unwrap() as usize;
    let v = json[0]["components"][i]["v_lsr_km_s"].as_f64().unwrap();
    let vs = spike["v_lsr_km_s"].as_f64().unwrap();
    assert!((v - vs).abs() > 20.0, "strongest at {v}, spike at {vs}");
    let svg = std::fs::read_to_string(d.path().join("figs/spectrum_11464.svg")).unwrap();
    assert!(svg.contains("class=\"rfi\""));
    // CSV: the flags beside the table.
    let o = run(d.path(), &["hline", "fit", spec, "--output", "c.csv"]);
    assert!(o.status.success(), "{}", text(&o));
    let rfi = std::fs::read_to_string(d.path().join("c_rfi.csv")).unwrap();
    assert!(rfi.lines().nth(1).unwrap().contains(",spike"), "{rfi}");
    let o = run(d.path(), &["hline", "fit", spec, "--mask-freq", "abc"]);
    assert!(!o.status.success());
}
