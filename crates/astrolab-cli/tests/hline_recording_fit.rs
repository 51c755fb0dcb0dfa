//! The hydrogen-line page's fit of a recording (its API route,
//! `GET /api/v1/hline/recordings/{id}/fit`) and `astrolab hline fit
//! --recording ID` give identical components for the same recording: both
//! call `astrolab_pipeline::hline::recording::analyse_recording` with the
//! CLI's default options.
//!
//! The shared data holds no SDR recording (only SALSA's calibrated
//! spectra, which are no `hline process` input), so the recording is the
//! synthetic lab scenario the `hline process` tests use: one HI line,
//! carriers, bursts and a DC spike, at Onsala towards l = 30, b = 0.

mod common;

use std::path::Path;

use astrolab_formats::iq::IqDatatype;
use astrolab_hline::synth::SynthConfig;
use common::{bin, start_server, text};

fn astrolab(home: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = bin();
    c.env("ASTROLAB_HOME", home).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn last_line(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn page_route_and_cli_fit_give_identical_components() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let synth = SynthConfig::lab_scenario(11, 2.4e6, 3.0);
    let (meta, truth) = common::write_recording(dir.path(), "obs1", &synth, IqDatatype::Cu8);
    let id = process(&home, &[meta.to_str().unwrap(), "--integration-s", "0.25"]);
    let cli = cli_fit(&home, dir.path(), &["--recording", &id.to_string()]);
    let cli = &cli;
    let (_server, addr, token) = serve(&home);
    let web = web_fit(&addr, &token, id);
    let wc = same_components(&web, cli);
    // Uncalibrated: amplitudes relative to Tsys, and the line where the
    // synthetic one was put (40 K on 120 K, in the kinematic LSR frame).
    assert_eq!(web["unit"], "Tsys");
    assert_eq!(web["calibrated"], false);
    let i = web["strongest_resolved"].as_u64().unwrap() as usize;
    let best = &wc[i];
    let v_topo = best["v_radio_topo_km_s"].as_f64().unwrap();
    assert!(
        (v_topo - truth.line_center_v_radio_km_s).abs() < 0.5,
        "{v_topo} vs {}",
        truth.line_center_v_radio_km_s
    );
    let amp = best["amp_rel"].as_f64().unwrap();
    assert!((amp - 40.0 / 120.0).abs() < 0.05, "{amp}");

    // A recording that is not there (or not the caller's to read) is 404.
    let (status, _) = common::http(
        &addr,
        "GET",
        &format!("/api/v1/hline/recordings/{}/fit", id + 1000),
        Some(&token),
        "application/json",
        b"",
    );
    assert_eq!(status, 404);
}

/// Asserts that the server's fit `web` and the CLI's table entry `cli`
/// hold identical components (to the last bit), resolution and RFI flags;
/// returns the server's components.
fn same_components<'a>(
    web: &'a serde_json::Value,
    cli: &serde_json::Value,
) -> &'a Vec<serde_json::Value> {
    let (wc, cc) = (
        web["components"].as_array().unwrap(),
        cli["components"].as_array().unwrap(),
    );
    assert!(!wc.is_empty(), "{web}");
    assert_eq!(wc.len(), cc.len(), "web {web}\ncli {cli}");
    for (w, c) in wc.iter().zip(cc) {
        for (wk, ck) in [
            ("amp_rel", "amp_k"),
            ("amp_err_rel", "amp_err_k"),
            ("v_km_s", "v_lsr_km_s"),
            ("v_err_km_s", "v_lsr_err_km_s"),
            ("sigma_km_s", "sigma_km_s"),
            ("sigma_err_km_s", "sigma_err_km_s"),
            ("fwhm_km_s", "fwhm_km_s"),
            ("unresolved", "unresolved"),
            ("hvc_candidate", "hvc_candidate"),
            ("deviation_km_s", "deviation_km_s"),
        ] {
            assert_eq!(w[wk], c[ck], "{wk} / {ck}: web {w}\ncli {c}");
        }
    }
    for k in ["channel_width_km_s", "min_sigma_km_s", "min_fwhm_km_s"] {
        assert_eq!(web[k], cli[k], "{k}");
    }
    assert_eq!(web["strongest_resolved"], cli["strongest_resolved"]);
    assert_eq!(web["baseline_order"], cli["baseline_order"]);
    assert_eq!(web["residual_rms_rel"], cli["residual_rms_k"]);
    let channels = |v: &serde_json::Value, key: &str| -> Vec<(u64, u64)> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["first_channel"].as_u64().unwrap(),
                    f["width_channels"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        channels(web, "narrowband_rfi"),
        channels(cli, "flagged_channels")
    );
    wc
}

/// Processes `args` into the store of `home` and gives the file id.
fn process(home: &Path, args: &[&str]) -> i64 {
    let mut all = vec!["hline", "process"];
    all.extend(args);
    all.push("--json");
    let o = astrolab(home, &all, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_str(&last_line(&o)).unwrap();
    summary["file_id"].as_i64().expect("registered")
}

/// `hline fit ARGS --output fit.json` in `dir`: the table's first entry.
fn cli_fit(home: &Path, dir: &Path, args: &[&str]) -> serde_json::Value {
    let table = dir.join("fit.json");
    let mut all = vec!["hline", "fit"];
    all.extend(args);
    all.extend(["--output", table.to_str().unwrap()]);
    let o = astrolab(home, &all, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&table).unwrap()).unwrap();
    v[0].clone()
}

/// A viewer's token, and the server on `home`.
fn serve(home: &Path) -> (common::Server, String, String) {
    let o = astrolab(
        home,
        &["user", "add", "ada", "--admin"],
        &[("ASTROLAB_NEW_PASSWORD", "a long enough password")],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = astrolab(
        home,
        &["token", "create", "--user", "ada", "--role", "viewer"],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let token = last_line(&o);
    let mut c = bin();
    c.env("ASTROLAB_HOME", home)
        .args(["serve", "--bind", "127.0.0.1:0", "--insecure-cookies"]);
    let (server, addr) = start_server(c);
    (server, addr, token)
}

/// The server's fit of recording `id`.
fn web_fit(addr: &str, token: &str, id: i64) -> serde_json::Value {
    let (status, body) = common::http(
        addr,
        "GET",
        &format!("/api/v1/hline/recordings/{id}/fit"),
        Some(token),
        "application/json",
        b"",
    );
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// A calibrated recording (Y-factor against hot and cold loads, as the
/// `hline_sdr_cal` tests make them): both analyse its calibrated spectrum
/// in kelvin, which is also what `hline fit FILE.cal.fits` gives.
#[test]
fn a_calibrated_recording_is_fitted_in_kelvin_by_both() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let receiver = |seed: u64, scene_k: f64, sky: bool| {
        let mut s = SynthConfig::lab_scenario(seed, 2.4e6, 4.0);
        s.tsys_k = 100.0 + scene_k;
        s.level_reference_k = Some(300.0);
        s.quantisation = astrolab_hline::synth::Quantisation::Bits12;
        if !sky {
            s.components.clear();
            s.carriers.clear();
            s.bursts.clear();
        }
        s
    };
    let w = |name: &str, s: &SynthConfig| {
        common::write_recording(dir.path(), name, s, IqDatatype::Ci16Le)
    };
    let (sky, truth) = w("sky", &receiver(31, 20.0, true));
    let (hot, _) = w("hot", &receiver(32, 290.0, false));
    let (cold, _) = w("cold", &receiver(33, 10.0, false));
    let out = dir.path().join("out");
    let id = process(
        &home,
        &[
            sky.to_str().unwrap(),
            "--integration-s",
            "0.5",
            "--out-dir",
            out.to_str().unwrap(),
            "--yfactor-hot",
            hot.to_str().unwrap(),
            "--yfactor-cold",
            cold.to_str().unwrap(),
        ],
    );
    let cli = cli_fit(&home, dir.path(), &["--recording", &id.to_string()]);
    let file = cli_fit(
        &home,
        dir.path(),
        &[out.join("sky.cal.fits").to_str().unwrap()],
    );
    let (_server, addr, token) = serve(&home);
    let web = web_fit(&addr, &token, id);
    assert_eq!(web["unit"], "K", "{web}");
    assert_eq!(web["calibrated"], true);
    same_components(&web, &cli);
    same_components(&web, &file);
    assert_eq!(web["n_hi_cm2"], cli["n_hi_cm2"]);
    // The line of the sky recording, in kelvin.
    let i = web["strongest_resolved"].as_u64().unwrap() as usize;
    let amp = web["components"][i]["amp_rel"].as_f64().unwrap();
    assert!(
        (amp / truth.line_peak_k - 1.0).abs() < 0.10,
        "{amp} K vs {}: {web}",
        truth.line_peak_k
    );
}
