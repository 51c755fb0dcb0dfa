//! `astrolab hline process` with calibration: Y-factor from hot and cold
//! load recordings, and frequency switching against a reference recording,
//! on synthetic recordings with a fixed receiver gain (so power follows
//! temperature at the ADC) and a known truth; and the errors when the
//! references do not fit.

use std::path::{Path, PathBuf};
use std::process::Output;

use astrolab_formats::iq::IqDatatype;
use astrolab_formats::sdfits::Sdfits;
use astrolab_hline::synth::{SynthConfig, SynthTruth};

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

fn write_recording(dir: &Path, name: &str, synth: &SynthConfig) -> (PathBuf, SynthTruth) {
    common::write_recording(dir, name, synth, IqDatatype::Ci16Le)
}

/// A receiver of fixed gain (100 K receiver, 12-bit ADC) looking at a scene
/// of `scene_k` kelvin, with the lab scenario's line, ripple and RFI when
/// `sky`.
fn receiver(seed: u64, scene_k: f64, sky: bool) -> SynthConfig {
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
}

fn json(o: &Output) -> serde_json::Value {
    let line = String::from_utf8_lossy(&o.stdout)
        .lines()
        .find(|l| l.starts_with('{'))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no JSON: {}", text(o)));
    serde_json::from_str(&line).unwrap()
}

#[test]
fn y_factor_gives_receiver_and_system_temperatures_and_the_line_in_kelvin() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    // Sky 20 K (continuum) + the 40 K line; hot load 290 K; cold sky 10 K.
    let (sky, truth) = write_recording(dir.path(), "sky", &receiver(31, 20.0, true));
    let (hot, _) = write_recording(dir.path(), "hot", &receiver(32, 290.0, false));
    let (cold, _) = write_recording(dir.path(), "cold", &receiver(33, 10.0, false));
    let out = dir.path().join("out");
    let o = run(
        &home,
        &[
            "hline",
            "process",
            sky.to_str().unwrap(),
            "--integration-s",
            "0.5",
            "--no-store",
            "--json",
            "--out-dir",
            out.to_str().unwrap(),
            "--yfactor-hot",
            hot.to_str().unwrap(),
            "--yfactor-cold",
            cold.to_str().unwrap(),
            "--t-hot-k",
            "290",
            "--t-cold-k",
            "10",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let s = json(&o);
    let cal = &s["calibration"];
    let trx = cal["trx_k"].as_f64().unwrap();
    let tsys = cal["tsys_k"].as_f64().unwrap();
    assert!((trx / 100.0 - 1.0).abs() < 0.03, "Trx {trx}");
    assert!((tsys / 120.0 - 1.0).abs() < 0.03, "Tsys {tsys}");
    assert_eq!(cal["hot_sha256"].as_str().unwrap().len(), 64);
    let line = &s["line"];
    let peak = line["peak_k"].as_f64().unwrap();
    let v = line["v_radio_topo_km_s"].as_f64().unwrap();
    assert!(
        (peak / truth.line_peak_k - 1.0).abs() < 0.05,
        "peak {peak} K vs {}",
        truth.line_peak_k
    );
    assert!((v - truth.line_center_v_radio_km_s).abs() < 0.5, "{v}");
    // The calibrated spectrum: T_A = sky continuum (20 K) off the line,
    // about 60 K on it; readable by `hline fit`.
    let spec = PathBuf::from(cal["spectrum"].as_str().unwrap());
    let sd = Sdfits::open(&spec).unwrap();
    let t = sd.spectra(&[0]).unwrap().remove(0);
    let mut off: Vec<f64> = t[100..300]
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    off.sort_by(f64::total_cmp);
    let med = off[off.len() / 2];
    assert!((med - 20.0).abs() < 1.5, "continuum {med} K");
    let max = t[400..560]
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f64::MIN, f64::max);
    assert!(max > 55.0 && max < 68.0, "line top {max} K");
    assert!((sd.rows[0].tsys_k - tsys).abs() < 1e-6);
    let o = run(&home, &["hline", "fit", spec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    // Swapped loads: the hot one is not hotter.
    let o = run(
        &home,
        &[
            "hline",
            "process",
            sky.to_str().unwrap(),
            "--no-store",
            "--integration-s",
            "0.5",
            "--yfactor-hot",
            cold.to_str().unwrap(),
            "--yfactor-cold",
            hot.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("not above 1") && t.contains("cold.sigmf-data"),
        "{t}"
    );
}

#[test]
fn frequency_switching_folds_the_two_phases_into_the_true_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let sig_cfg = receiver(41, 20.0, true);
    let (sig, truth) = write_recording(dir.path(), "sig", &sig_cfg);
    // Reference tuned 128 channels (300 kHz) higher: the line moves 128
    // channels down in its band.
    let mut ref_cfg = receiver(42, 20.0, true);
    ref_cfg.center_freq_hz += 128.0 * 2.4e6 / 1024.0;
    let (reference, _) = write_recording(dir.path(), "ref", &ref_cfg);
    let args = |tsys: bool| {
        let mut a = vec![
            "hline".to_string(),
            "process".into(),
            sig.display().to_string(),
            "--integration-s".into(),
            "0.5".into(),
            "--no-store".into(),
            "--json".into(),
            "--out-dir".into(),
            dir.path().join("out").display().to_string(),
            "--fsw-ref".into(),
            reference.display().to_string(),
        ];
        if tsys {
            a.extend(["--tsys-k".into(), "120".into()]);
        }
        a
    };
    let a = args(true);
    let o = run(&home, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", text(&o));
    let s = json(&o);
    let cal = &s["calibration"];
    assert_eq!(cal["fold_shift_channels"], 128);
    let line = &s["line"];
    let peak = line["peak_k"].as_f64().unwrap();
    let v = line["v_radio_topo_km_s"].as_f64().unwrap();
    // 10 %, not 5 %: the half-height ghosts one throw either side still
    // pull the line search's order-7 baseline down a little (37.7 K of 40).
    assert!(
        (peak / truth.line_peak_k - 1.0).abs() < 0.10,
        "peak {peak} K vs {}",
        truth.line_peak_k
    );
    assert!((v - truth.line_center_v_radio_km_s).abs() < 0.5, "{v}");
    assert!(line["v_lsr_km_s"].as_f64().is_some());
    // Folded spectrum: flat at 0 K away from the line and its ghosts, the
    // line at its height, half-height ghosts one throw away, NaN where the
    // image left the band.
    let sd = Sdfits::open(Path::new(cal["spectrum"].as_str().unwrap())).unwrap();
    let t = sd.spectra(&[0]).unwrap().remove(0);
    assert!(t[..128].iter().all(|x| x.is_nan()));
    let mut flat: Vec<f64> = t[700..900]
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    flat.sort_by(f64::total_cmp);
    assert!(flat[flat.len() / 2].abs() < 0.5, "{}", flat[flat.len() / 2]);
    let peak_ch = (0..1024)
        .filter(|&c| t[c].is_finite())
        .max_by(|&a, &b| t[a].total_cmp(&t[b]))
        .unwrap();
    let ghost = t[peak_ch + 128 - 3..peak_ch + 128 + 4]
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f64::MAX, f64::min);
    assert!(ghost < -0.3 * truth.line_peak_k, "ghost {ghost}");
    // Without a system temperature there is no kelvin scale.
    let a = args(false);
    let o = run(&home, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!o.status.success());
    assert!(text(&o).contains("--tsys-k"), "{}", text(&o));
    // A reference at another sample rate is refused, naming it.
    let mut other = receiver(43, 20.0, true);
    other.sample_rate_hz = 2.048e6;
    other.duration_s = 1.0;
    let (bad, _) = write_recording(dir.path(), "ref2048", &other);
    let mut a = args(true);
    let k = a.iter().position(|x| x == "--fsw-ref").unwrap();
    a[k + 1] = bad.display().to_string();
    let o = run(&home, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("ref2048.sigmf-data") && t.contains("sample rate"),
        "{t}"
    );
}
