//! `astrolab hline process` and `hline watch` on synthetic SigMF recordings
//! with a known truth, and on bad input (each must fail naming the file
//! and the field, never print a velocity).

use std::path::{Path, PathBuf};
use std::process::Output;

use astrolab_formats::iq::{encode_into, IqDatatype};
use astrolab_formats::sigmf::read_spectra_archive;
use astrolab_hline::synth::{generate, SynthConfig};

mod common;
use common::text;

fn run(home: &Path, args: &[&str]) -> Output {
    common::bin()
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .expect("run astrolab")
}

use common::write_recording;

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn synthetic_recording_gives_the_true_line_and_is_processed_once() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let synth = SynthConfig::lab_scenario(11, 2.4e6, 6.0);
    let (meta, truth) = write_recording(dir.path(), "obs1", &synth, IqDatatype::Cu8);
    let o = run(
        &home,
        &[
            "hline",
            "process",
            meta.to_str().unwrap(),
            "--integration-s",
            "0.25",
            "--tsys-k",
            "120",
            "--waterfall",
            "svg",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let s = &json_lines(&o)[0];
    assert_eq!(s["status"], "processed");
    let line = &s["line"];
    let v = line["v_radio_topo_km_s"].as_f64().unwrap();
    let peak = line["peak_k"].as_f64().unwrap();
    assert!(
        (v - truth.line_center_v_radio_km_s).abs() < 0.5,
        "{v} vs {}",
        truth.line_center_v_radio_km_s
    );
    assert!(
        (peak / truth.line_peak_k - 1.0).abs() < 0.05,
        "{peak} vs {}",
        truth.line_peak_k
    );
    // Site, time and pointing known: an LSR velocity, differing from the
    // topocentric one by the (bounded) LSR correction.
    let v_lsr = line["v_lsr_km_s"].as_f64().expect("v_LSR");
    assert!(
        (v_lsr - v).abs() > 0.01 && (v_lsr - v).abs() < 50.0,
        "{v_lsr} {v}"
    );
    // RFI was flagged: carriers, DC and bursts are a few % of the cells.
    let ff = s["flagged_fraction"].as_f64().unwrap();
    assert!(ff > 0.01 && ff < 0.5, "{ff}");
    // The archive holds every integration with its flags.
    let a = read_spectra_archive(Path::new(s["archive"].as_str().unwrap())).unwrap();
    assert_eq!(
        a.n_integrations() as u64,
        s["n_integrations"].as_u64().unwrap()
    );
    assert_eq!(a.header.n_channels, 1024);
    assert!(a.flags.iter().any(|&f| f != 0));
    assert!((a.starts_unix_s[0] - 1_795_377_600.0).abs() < 1e-3);
    // Each spectrum carries its LSR correction (its v_LSR axis), close to
    // the line's (which is taken at mid-recording).
    let corr = a.v_lsr_corrections_km_s[0].expect("v_LSR correction");
    assert!((corr - (v_lsr - v)).abs() < 0.01, "{corr} {}", v_lsr - v);
    let w = std::fs::read_to_string(s["waterfall"].as_str().unwrap()).unwrap();
    assert!(w.starts_with("<svg") && w.contains("#d62728"));
    // Same bytes again: skipped through the registry.
    let o = run(
        &home,
        &[
            "hline",
            "process",
            meta.to_str().unwrap(),
            "--integration-s",
            "0.25",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(json_lines(&o)[0]["status"], "skipped");
}

#[test]
fn a_recording_without_a_line_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut synth = SynthConfig::lab_scenario(12, 2.4e6, 3.0);
    synth.components.clear();
    let (meta, _) = write_recording(dir.path(), "empty", &synth, IqDatatype::Ci8);
    let args = [
        "hline",
        "process",
        meta.to_str().unwrap(),
        "--integration-s",
        "0.25",
        "--no-store",
    ];
    let o = run(&home, &args);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("no HI line detected") && !t.contains("v_radio"),
        "{t}"
    );
    let mut strict = args.to_vec();
    strict.push("--require-line");
    let o = run(&home, &strict);
    assert!(!o.status.success());
    assert!(text(&o).contains("no HI line detected"));
}

fn meta_text(datatype: &str, rate: Option<f64>, count: u64) -> String {
    let rate = rate.map_or(String::new(), |r| format!("\"core:sample_rate\": {r},"));
    format!(
        r#"{{"global": {{"core:datatype": "{datatype}", {rate} "astrolab:sample_count": {count}}},
            "captures": [{{"core:sample_start": 0, "core:frequency": 1420.4e6}}]}}"#
    )
}

fn expect_failure(home: &Path, meta: &Path, needles: &[&str]) {
    let o = run(
        home,
        &[
            "hline",
            "process",
            meta.to_str().unwrap(),
            "--no-store",
            "--integration-s",
            "0.01",
        ],
    );
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    for n in needles {
        assert!(t.contains(n), "missing {n:?} in: {t}");
    }
    assert!(!t.contains("HI line:"), "{t}");
}

#[test]
fn bad_recordings_fail_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let home = d.join("home");
    let write = |name: &str, meta: &str, data: &[u8]| -> PathBuf {
        std::fs::write(d.join(format!("{name}.sigmf-data")), data).unwrap();
        let m = d.join(format!("{name}.sigmf-meta"));
        std::fs::write(&m, meta).unwrap();
        m
    };
    let ok = vec![128u8; 2 * 100_000];
    let m = write("wrongtype", &meta_text("ri16_le", Some(2.4e6), 0), &ok);
    expect_failure(
        &home,
        &m,
        &["wrongtype.sigmf-meta", "global.core:datatype", "ri16_le"],
    );
    let m = write("norate", &meta_text("cu8", None, 0), &ok);
    expect_failure(
        &home,
        &m,
        &["norate.sigmf-meta", "global.core:sample_rate", "missing"],
    );
    // A rate no SDR has: refused with the accepted range, not processed
    // into nonsense.
    let m = write("tinyrate", &meta_text("cu8", Some(1e-300), 0), &ok);
    expect_failure(
        &home,
        &m,
        &[
            "tinyrate.sigmf-meta",
            "global.core:sample_rate: 1e-300 Hz is outside the accepted range, 1 kHz to 100 GHz",
        ],
    );
    let m = write(
        "halfsample",
        &meta_text("ci16_le", Some(2.4e6), 0),
        &ok[..4 * 1000 + 2],
    );
    expect_failure(
        &home,
        &m,
        &["halfsample.sigmf-data", "truncated", "not a whole number"],
    );
    let m = write("short", &meta_text("cu8", Some(2.4e6), 200_000), &ok);
    expect_failure(
        &home,
        &m,
        &["short.sigmf-data", "truncated", "100000", "200000"],
    );
    let mut nan = Vec::new();
    let mut v = vec![0.01f32; 2 * 50_000];
    v.iter_mut().skip(2 * 30_000).for_each(|x| *x = f32::NAN);
    encode_into(IqDatatype::Cf32Le, &v, &mut nan);
    let m = write("nan", &meta_text("cf32_le", Some(2.4e6), 0), &nan);
    expect_failure(&home, &m, &["nan.sigmf-data", "sample 30000", "not finite"]);
    // Raw capture without its settings.
    let raw = d.join("capture.bin");
    std::fs::write(&raw, &ok).unwrap();
    let o = run(
        &home,
        &["hline", "process", raw.to_str().unwrap(), "--no-store"],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("capture.bin") && text(&o).contains("--sample-rate-hz"),
        "{}",
        text(&o)
    );
    // Settings outside their physical range: usage errors naming the flag
    // and the accepted range.
    for (flag, value, want) in [
        (
            "--sample-rate-hz",
            "1e-300",
            "1e-300 Hz is outside the accepted range, 1 kHz to 100 GHz",
        ),
        (
            "--center-freq-hz",
            "-1420e6",
            "-1.42e9 Hz is outside the accepted range, 1 kHz to 1 THz",
        ),
        (
            "--integration-s",
            "0",
            "0 s is outside the accepted range, 1 microsecond to 1 day (86400 s)",
        ),
    ] {
        let mut args = vec![
            "hline".to_string(),
            "process".to_string(),
            raw.to_str().unwrap().to_string(),
            "--no-store".to_string(),
        ];
        for (f, ok_value) in [
            ("--sample-rate-hz", "2.4e6"),
            ("--center-freq-hz", "1420.4e6"),
        ] {
            if f != flag {
                args.extend([f.to_string(), ok_value.to_string()]);
            }
        }
        args.push(format!("{flag}={value}"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&home, &args);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            text(&o).contains(flag) && text(&o).contains(want),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn raw_rtl_capture_with_flags_is_processed() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let synth = SynthConfig::lab_scenario(13, 2.4e6, 4.0);
    let raw = dir.path().join("rtl.bin");
    let mut bytes = Vec::new();
    let truth = generate(&synth, |x| {
        encode_into(IqDatatype::Cu8, x, &mut bytes);
        Ok::<_, ()>(())
    })
    .unwrap();
    std::fs::write(&raw, &bytes).unwrap();
    let o = run(
        &home,
        &[
            "hline",
            "process",
            raw.to_str().unwrap(),
            "--sample-rate-hz",
            "2400000",
            "--center-freq-hz",
            "1420400000",
            "--start",
            "2026-11-22T20:00:00Z",
            "--integration-s",
            "0.25",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let s = &json_lines(&o)[0];
    let v = s["line"]["v_radio_topo_km_s"].as_f64().unwrap();
    assert!((v - truth.line_center_v_radio_km_s).abs() < 0.5, "{v}");
    // No site or pointing for a raw capture: topocentric, and said so.
    assert!(s["line"]["v_lsr_km_s"].is_null());
    assert!(s["note"].as_str().unwrap().contains("topocentric"));
}

#[test]
fn watch_once_processes_complete_recordings_only_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let land = dir.path().join("landing");
    std::fs::create_dir_all(&land).unwrap();
    let synth = SynthConfig::lab_scenario(14, 2.4e6, 1.0);
    write_recording(&land, "done", &synth, IqDatatype::Cu8);
    // A recording still being copied: the meta promises more samples.
    let other = SynthConfig::lab_scenario(15, 2.4e6, 1.0);
    let (meta, _) = write_recording(&land, "copying", &other, IqDatatype::Cu8);
    let data = meta.with_extension("sigmf-data");
    let full = std::fs::read(&data).unwrap();
    std::fs::write(&data, &full[..full.len() / 2]).unwrap();
    let args = [
        "hline",
        "watch",
        land.to_str().unwrap(),
        "--once",
        "--integration-s",
        "0.1",
        "--json",
    ];
    let o = run(&home, &args);
    assert!(o.status.success(), "{}", text(&o));
    let got = json_lines(&o);
    assert_eq!(got.len(), 1, "{}", text(&o));
    assert!(got[0]["recording"]
        .as_str()
        .unwrap()
        .ends_with("done.sigmf-data"));
    assert_eq!(got[0]["status"], "processed");
    assert!(
        text(&o).contains("copying.sigmf-data") && text(&o).contains("incomplete"),
        "{}",
        text(&o)
    );
    // The copy completes; the next pass takes it and skips the first.
    std::fs::write(&data, &full).unwrap();
    let o = run(&home, &args);
    assert!(o.status.success(), "{}", text(&o));
    let got = json_lines(&o);
    let status: Vec<(bool, String)> = got
        .iter()
        .map(|s| {
            (
                s["recording"]
                    .as_str()
                    .unwrap()
                    .ends_with("copying.sigmf-data"),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        status,
        vec![
            (true, "processed".to_string()),
            (false, "skipped".to_string())
        ]
    );
}
