//! Synthetic truth: recordings with a known HI line and known RFI, through
//! the spectrometer, flagger and line finder; scored against the truth.

use astrolab_hline::linefind::{average_spectra, find_line, LineSearch};
use astrolab_hline::spectrometer::{
    channel_freq_hz, Channeliser, Integration, Spectrometer, SpectrometerConfig, Window,
};
use astrolab_hline::synth::{generate, Quantisation, SynthConfig, SynthTruth};

struct Run {
    truth: SynthTruth,
    ints: Vec<Integration>,
    cfg: SpectrometerConfig,
}

fn run(
    synth: &SynthConfig,
    n_channels: usize,
    integration_s: f64,
    ch: Channeliser,
    window: Window,
) -> Run {
    let mut cfg = SpectrometerConfig::new(n_channels, synth.sample_rate_hz, integration_s);
    cfg.channeliser = ch;
    cfg.window = window;
    let mut s = Spectrometer::new(cfg.clone()).unwrap();
    let mut ints = Vec::new();
    let truth = generate(synth, |x| {
        s.push(x, &mut ints);
        Ok::<_, ()>(())
    })
    .unwrap();
    // Only whole integrations are scored against the truth table.
    Run { truth, ints, cfg }
}

/// (recall, false-positive rate on clean channels).
fn score(r: &Run) -> (f64, f64) {
    let n = r.cfg.n_channels;
    let (rfi, near) = r
        .truth
        .rfi_mask(n, r.cfg.samples_per_integration(), r.ints.len());
    let (mut tp, mut fneg, mut fp, mut clean) = (0usize, 0usize, 0usize, 0usize);
    for (k, int) in r.ints.iter().enumerate() {
        for c in 0..n {
            let i = k * n + c;
            let flagged = int.flags[c] != 0;
            if rfi[i] {
                if flagged {
                    tp += 1
                } else {
                    fneg += 1
                }
            } else if !near[i] {
                clean += 1;
                if flagged {
                    fp += 1;
                }
            }
        }
    }
    (tp as f64 / (tp + fneg) as f64, fp as f64 / clean as f64)
}

fn line_of(r: &Run) -> Option<astrolab_hline::linefind::LineEstimate> {
    let n = r.cfg.n_channels;
    let spectra: Vec<f32> = r
        .ints
        .iter()
        .flat_map(|i| i.power.iter().copied())
        .collect();
    let flags: Vec<u8> = r
        .ints
        .iter()
        .flat_map(|i| i.flags.iter().copied())
        .collect();
    let frames: Vec<u64> = r.ints.iter().map(|i| i.n_frames as u64).collect();
    let (mean, _) = average_spectra(&spectra, &flags, &frames, n);
    let c = &r.truth.config;
    let prof = find_line(
        &mean,
        |i| channel_freq_hz(i, n, c.center_freq_hz, c.sample_rate_hz),
        &LineSearch::default(),
    )
    .unwrap();
    prof.line
}

fn check(label: &str, r: &Run) {
    let (recall, fpr) = score(r);
    eprintln!("{label}: recall {recall:.4}, clean channels flagged {fpr:.4}");
    assert!(recall >= 0.95, "{label}: RFI recall {recall}");
    assert!(fpr <= 0.02, "{label}: {fpr} of clean channels flagged");
    let l = line_of(r).unwrap_or_else(|| panic!("{label}: no line found"));
    let t = &r.truth;
    let peak_k = l.peak_rel * t.config.tsys_k;
    eprintln!(
        "{label}: v {:.3} (truth {:.3}) km/s, peak {:.2} (truth {:.2}) K, FWHM {:.2}",
        l.v_radio_km_s, t.line_center_v_radio_km_s, peak_k, t.line_peak_k, l.fwhm_km_s
    );
    assert!(
        (l.v_radio_km_s - t.line_center_v_radio_km_s).abs() < 0.5,
        "{label}: {l:?}"
    );
    assert!(
        (peak_k / t.line_peak_k - 1.0).abs() < 0.05,
        "{label}: {l:?}"
    );
}

#[test]
fn rtl_like_8bit_fft_hann_meets_the_truth() {
    let synth = SynthConfig::lab_scenario(1, 2.4e6, 6.0);
    let r = run(&synth, 1024, 0.25, Channeliser::Fft, Window::Hann);
    assert_eq!(
        r.ints.len() as u64,
        r.truth.n_samples / r.cfg.samples_per_integration()
    );
    check("8-bit FFT/Hann", &r);
}

#[test]
fn airspy_like_12bit_pfb_meets_the_truth() {
    let mut synth = SynthConfig::lab_scenario(2, 2.5e6, 6.0);
    synth.quantisation = Quantisation::Bits12;
    synth.components[0].v_radio_km_s = -43.7;
    synth.components[0].peak_k = 25.0;
    let r = run(
        &synth,
        1024,
        0.25,
        Channeliser::Pfb { taps: 4 },
        Window::Blackman,
    );
    check("12-bit PFB/Blackman", &r);
}

#[test]
fn no_astronomical_signal_gives_no_line() {
    let mut synth = SynthConfig::lab_scenario(3, 2.4e6, 2.0);
    synth.components.clear();
    let r = run(&synth, 1024, 0.25, Channeliser::Fft, Window::Hann);
    let (recall, fpr) = score(&r);
    assert!(recall >= 0.95 && fpr <= 0.02, "{recall} {fpr}");
    assert!(line_of(&r).is_none(), "a line was invented in noise");
}
