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
    let o = astrolab(
        &home,
        &[
            "hline",
            "process",
            meta.to_str().unwrap(),
            "--integration-s",
            "0.25",
            "--json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_str(&last_line(&o)).unwrap();
    let id = summary["file_id"].as_i64().expect("registered");

    // The CLI: the table as JSON keeps every digit.
    let table = dir.path().join("fit.json");
    let o = astrolab(
        &home,
        &[
            "hline",
            "fit",
            "--recording",
            &id.to_string(),
            "--output",
            table.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("components") && text(&o).contains("obs1.sigmf-data"),
        "{}",
        text(&o)
    );
    let cli: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&table).unwrap()).unwrap();
    let cli = &cli[0];

    // The server, as a viewer.
    let o = astrolab(
        &home,
        &["user", "add", "ada", "--admin"],
        &[("ASTROLAB_NEW_PASSWORD", "a long enough password")],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = astrolab(
        &home,
        &["token", "create", "--user", "ada", "--role", "viewer"],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let token = last_line(&o);
    let mut c = bin();
    c.env("ASTROLAB_HOME", &home)
        .args(["serve", "--bind", "127.0.0.1:0", "--insecure-cookies"]);
    let (_server, addr) = start_server(c);
    let (status, body) = common::http(
        &addr,
        "GET",
        &format!("/api/v1/hline/recordings/{id}/fit"),
        Some(&token),
        "application/json",
        b"",
    );
    assert_eq!(status, 200, "{body}");
    let web: serde_json::Value = serde_json::from_str(&body).unwrap();

    // Identical components, to the last bit.
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
        channels(&web, "narrowband_rfi"),
        channels(cli, "flagged_channels")
    );
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
