//! Streaming spectrometer: complex baseband samples in, integrated power
//! spectra with per-channel RFI flags out.
//!
//! Channeliser: a windowed FFT (Hann or Blackman, non-overlapping frames)
//! or a polyphase filterbank ([`crate::pfb`], 4 taps by default). Each
//! frame's power `|X_k|^2` is accumulated with its square per channel over
//! M frames (one integration); the mean is the spectrum, the two sums give
//! the spectral kurtosis ([`crate::rfi`]), then spikes are clipped.
//! Channels are ordered by increasing frequency (FFT output shifted so the
//! tuned centre is channel N/2); powers are normalised by the window's
//! energy so white noise of variance s^2 per complex sample gives s^2 in
//! every channel, whichever channeliser.
//!
//! Memory is fixed: the spectrometer holds one frame's history and the
//! accumulators, never the recording.

use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

use crate::rfi;

/// Window of the FFT frames (or of the PFB prototype filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Hann (raised cosine).
    Hann,
    /// Blackman (a0 = 0.42, a1 = 0.5, a2 = 0.08).
    Blackman,
}

impl Window {
    /// Value at point `i` of an `n`-point (periodic) window.
    pub fn value(self, i: usize, n: usize) -> f64 {
        let x = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
        match self {
            Window::Hann => 0.5 - 0.5 * x.cos(),
            Window::Blackman => 0.42 - 0.5 * x.cos() + 0.08 * (2.0 * x).cos(),
        }
    }

    /// Name as written in metadata and accepted on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Window::Hann => "hann",
            Window::Blackman => "blackman",
        }
    }
}

/// How samples become channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channeliser {
    /// Windowed FFT of non-overlapping frames.
    Fft,
    /// Polyphase filterbank with this many taps.
    Pfb {
        /// Taps (frames of history per output frame); 4 is customary.
        taps: usize,
    },
}

/// Spectrometer settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrometerConfig {
    /// Channels (FFT length); a power of two is fastest.
    pub n_channels: usize,
    /// Frame or prototype window.
    pub window: Window,
    /// FFT or PFB.
    pub channeliser: Channeliser,
    /// Frames (of `n_channels` samples each) per integration: M.
    pub frames_per_integration: usize,
    /// SK bounds at this many standard deviations.
    pub sk_sigma: f64,
    /// Running-median window for spike clipping, in channels.
    pub spike_window: usize,
    /// Spike threshold in robust sigmas.
    pub spike_sigma: f64,
}

impl SpectrometerConfig {
    /// Settings for an integration time at a sample rate (M rounded to
    /// whole frames), Hann-windowed FFT, SK at 3 sigma, spikes at 6 sigma
    /// over 15 channels.
    pub fn new(n_channels: usize, sample_rate_hz: f64, integration_s: f64) -> SpectrometerConfig {
        let m = (integration_s * sample_rate_hz / n_channels as f64)
            .round()
            .max(2.0) as usize;
        SpectrometerConfig {
            n_channels,
            window: Window::Hann,
            channeliser: Channeliser::Fft,
            frames_per_integration: m,
            sk_sigma: 3.0,
            spike_window: 15,
            spike_sigma: 6.0,
        }
    }

    /// Samples per integration.
    pub fn samples_per_integration(&self) -> u64 {
        (self.frames_per_integration * self.n_channels) as u64
    }
}

/// Invalid spectrometer settings.
#[derive(Debug, thiserror::Error)]
pub enum SpectrometerError {
    /// A setting out of range.
    #[error("spectrometer setting {setting}: {message}")]
    Setting {
        /// Which one.
        setting: &'static str,
        /// Why.
        message: String,
    },
}

/// One integrated spectrum.
#[derive(Debug, Clone)]
pub struct Integration {
    /// 0, 1, 2, ... within the recording.
    pub index: u64,
    /// First sample of its first frame.
    pub start_sample: u64,
    /// Frames averaged (M; the last integration may have fewer).
    pub n_frames: usize,
    /// Mean power per channel (input units squared), increasing frequency.
    pub power: Vec<f32>,
    /// Spectral kurtosis per channel.
    pub sk: Vec<f32>,
    /// RFI flag bits per channel ([`rfi::FLAG_SK_LOW`] ...); 0 = clean.
    pub flags: Vec<u8>,
}

/// The streaming spectrometer.
pub struct Spectrometer {
    cfg: SpectrometerConfig,
    fft: Arc<dyn Fft<f32>>,
    coeffs: Vec<f32>,
    norm: f64,
    taps: usize,
    pending: Vec<f32>,
    frame_buf: Vec<f32>,
    buf: Vec<Complex32>,
    scratch: Vec<Complex32>,
    s1: Vec<f64>,
    s2: Vec<f64>,
    frames_in_integration: usize,
    frames_done: u64,
    integrations_done: u64,
}

impl Spectrometer {
    /// A spectrometer with these settings.
    pub fn new(cfg: SpectrometerConfig) -> Result<Spectrometer, SpectrometerError> {
        let n = cfg.n_channels;
        if !(8..=1 << 22).contains(&n) {
            return Err(SpectrometerError::Setting {
                setting: "n_channels",
                message: format!("{n}: use 8 to 4194304 channels"),
            });
        }
        if cfg.frames_per_integration < 2 {
            return Err(SpectrometerError::Setting {
                setting: "integration",
                message: "at least 2 frames per integration are needed for spectral kurtosis; lengthen the integration".into(),
            });
        }
        let taps = match cfg.channeliser {
            Channeliser::Fft => 1,
            Channeliser::Pfb { taps } if (2..=16).contains(&taps) => taps,
            Channeliser::Pfb { taps } => {
                return Err(SpectrometerError::Setting {
                    setting: "pfb taps",
                    message: format!("{taps}: use 2 to 16"),
                })
            }
        };
        let coeffs: Vec<f32> = match cfg.channeliser {
            Channeliser::Fft => (0..n).map(|i| cfg.window.value(i, n) as f32).collect(),
            Channeliser::Pfb { .. } => crate::pfb::prototype(n, taps, cfg.window),
        };
        let norm = coeffs.iter().map(|&c| (c as f64) * (c as f64)).sum::<f64>();
        let fft = FftPlanner::<f32>::new().plan_fft_forward(n);
        let scratch = vec![Complex32::default(); fft.get_inplace_scratch_len()];
        Ok(Spectrometer {
            fft,
            coeffs,
            norm,
            taps,
            pending: Vec::with_capacity(2 * n * taps),
            frame_buf: Vec::with_capacity(2 * n * taps),
            buf: vec![Complex32::default(); n],
            scratch,
            s1: vec![0.0; n],
            s2: vec![0.0; n],
            frames_in_integration: 0,
            frames_done: 0,
            integrations_done: 0,
            cfg,
        })
    }

    /// The settings.
    pub fn config(&self) -> &SpectrometerConfig {
        &self.cfg
    }

    /// Bytes of sample history held between calls (bounded by one frame
    /// of `taps x n_channels` samples: the memory-flat guarantee).
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Feeds interleaved `[re, im, ...]` samples; completed integrations
    /// are appended to `out`.
    pub fn push(&mut self, iq: &[f32], out: &mut Vec<Integration>) {
        let n = self.cfg.n_channels;
        let frame = 2 * n * self.taps;
        let hop = 2 * n;
        let plen = self.pending.len();
        let total = plen + iq.len();
        // Frames that begin in the history kept from earlier calls: built
        // in a frame-sized buffer.
        let mut s = 0;
        let mut tmp = std::mem::take(&mut self.frame_buf);
        while s < plen && s + frame <= total {
            tmp.clear();
            tmp.extend_from_slice(&self.pending[s..]);
            tmp.extend_from_slice(&iq[..frame - (plen - s)]);
            self.frame(&tmp, out);
            s += hop;
        }
        self.frame_buf = tmp;
        if s < plen {
            self.pending.drain(..s);
            self.pending.extend_from_slice(iq);
            return;
        }
        // Frames entirely within this chunk: no copy.
        let mut pos = s - plen;
        while pos + frame <= iq.len() {
            self.frame(&iq[pos..pos + frame], out);
            pos += hop;
        }
        self.pending.clear();
        self.pending.extend_from_slice(&iq[pos..]);
    }

    /// Ends the stream: an integration with at least half its frames is
    /// returned; fewer frames are dropped (too little for a spectrum of
    /// the promised integration time).
    pub fn finish(&mut self) -> Option<Integration> {
        if self.frames_in_integration >= self.cfg.frames_per_integration.div_ceil(2)
            && self.frames_in_integration >= 2
        {
            Some(self.close_integration())
        } else {
            None
        }
    }

    fn frame(&mut self, x: &[f32], out: &mut Vec<Integration>) {
        let n = self.cfg.n_channels;
        let c = &self.coeffs;
        if self.taps == 1 {
            for ((b, xs), &w) in self.buf.iter_mut().zip(x.chunks_exact(2)).zip(c) {
                *b = Complex32::new(xs[0] * w, xs[1] * w);
            }
        } else {
            for (i, b) in self.buf.iter_mut().enumerate() {
                let (mut re, mut im) = (0.0f32, 0.0f32);
                for t in 0..self.taps {
                    let j = t * n + i;
                    re += x[2 * j] * c[j];
                    im += x[2 * j + 1] * c[j];
                }
                *b = Complex32::new(re, im);
            }
        }
        self.fft
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        for ((s1, s2), b) in self.s1.iter_mut().zip(self.s2.iter_mut()).zip(&self.buf) {
            let p = b.norm_sqr() as f64;
            *s1 += p;
            *s2 += p * p;
        }
        self.frames_in_integration += 1;
        self.frames_done += 1;
        if self.frames_in_integration == self.cfg.frames_per_integration {
            let i = self.close_integration();
            out.push(i);
        }
    }

    fn close_integration(&mut self) -> Integration {
        let n = self.cfg.n_channels;
        let m = self.frames_in_integration;
        let mf = m as f64;
        let (lo, hi) = rfi::sk_bounds(mf, 1.0, 1.0, self.cfg.sk_sigma);
        let mut power = vec![0f32; n];
        let mut sk = vec![0f32; n];
        let mut flags = vec![0u8; n];
        for k in 0..n {
            // FFT bin k holds frequency k (k < N/2) or k - N: shift so
            // channel c = k + N/2 (mod N) increases with frequency.
            let c = (k + n / 2) % n;
            let s1 = self.s1[k];
            let s2 = self.s2[k];
            power[c] = (s1 / mf / self.norm) as f32;
            let v = rfi::sk_estimator(s1, s2, mf, 1.0, 1.0);
            sk[c] = v as f32;
            if v < lo {
                flags[c] |= rfi::FLAG_SK_LOW;
            } else if v > hi {
                flags[c] |= rfi::FLAG_SK_HIGH;
            }
        }
        // Broadband rule: impulsive RFI raises SK in every channel, but
        // with a burst of a few frames some channels' SK stays inside the
        // bounds by chance. When more than a fifth of the band is SK-high
        // (Gaussian noise: 0.13 %), the whole integration is.
        let n_high = flags
            .iter()
            .filter(|&&f| f & rfi::FLAG_SK_HIGH != 0)
            .count();
        if n_high * 5 > n {
            flags.iter_mut().for_each(|f| *f |= rfi::FLAG_SK_HIGH);
        }
        rfi::flag_spikes(
            &power,
            &mut flags,
            self.cfg.spike_window,
            self.cfg.spike_sigma,
        );
        let start_frame = self.frames_done - m as u64;
        let integ = Integration {
            index: self.integrations_done,
            start_sample: start_frame * n as u64,
            n_frames: m,
            power,
            sk,
            flags,
        };
        self.integrations_done += 1;
        self.frames_in_integration = 0;
        self.s1.iter_mut().for_each(|v| *v = 0.0);
        self.s2.iter_mut().for_each(|v| *v = 0.0);
        integ
    }
}

/// Frequency of channel `c` of `n` for a recording tuned to `center_hz` at
/// `sample_rate_hz`.
pub fn channel_freq_hz(c: usize, n: usize, center_hz: f64, sample_rate_hz: f64) -> f64 {
    center_hz + (c as f64 - (n / 2) as f64) * sample_rate_hz / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n_samples: usize, freq_cycles_per_sample: f64, amp: f32) -> Vec<f32> {
        let mut v = Vec::with_capacity(2 * n_samples);
        for i in 0..n_samples {
            let ph = 2.0 * std::f64::consts::PI * freq_cycles_per_sample * i as f64;
            v.push(amp * ph.cos() as f32);
            v.push(amp * ph.sin() as f32);
        }
        v
    }

    fn run(cfg: SpectrometerConfig, x: &[f32], chunk: usize) -> Vec<Integration> {
        let mut s = Spectrometer::new(cfg).unwrap();
        let mut out = Vec::new();
        for c in x.chunks(chunk) {
            s.push(c, &mut out);
            assert!(s.pending_len() < 2 * s.config().n_channels * 4 + 2 * chunk);
        }
        out.extend(s.finish());
        out
    }

    #[test]
    fn a_tone_lands_in_its_channel_with_its_power() {
        let n = 64;
        // Channel 40 of 64 = FFT bin 8: frequency 8/64 cycles per sample.
        let x = tone(n * 60, 8.0 / 64.0, 0.5);
        for ch in [Channeliser::Fft, Channeliser::Pfb { taps: 4 }] {
            let mut cfg = SpectrometerConfig::new(n, 1.0, 50.0 * n as f64);
            cfg.channeliser = ch;
            let out = run(cfg, &x, 100);
            assert!(!out.is_empty(), "{ch:?}");
            let p = &out[0].power;
            let imax = (0..n).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            assert_eq!(imax, 40, "{ch:?}");
            // Tone of amplitude a: a^2 (sum w)^2 / sum w^2 in its channel.
            let w: Vec<f64> = match ch {
                Channeliser::Fft => (0..n).map(|i| Window::Hann.value(i, n)).collect(),
                Channeliser::Pfb { taps } => crate::pfb::prototype(n, taps, Window::Hann)
                    .iter()
                    .map(|&v| v as f64)
                    .collect(),
            };
            let expect =
                0.25 * w.iter().sum::<f64>().powi(2) / w.iter().map(|v| v * v).sum::<f64>();
            assert!(
                (p[40] as f64 / expect - 1.0).abs() < 1e-3,
                "{ch:?}: {} vs {expect}",
                p[40]
            );
            // A steady tone: SK far below 1, flagged.
            assert!(out[0].sk[40] < 0.1);
            assert!(out[0].flags[40] & rfi::FLAG_SK_LOW != 0);
        }
    }

    #[test]
    fn chunking_does_not_change_the_result() {
        let n = 32;
        let x: Vec<f32> = (0..2 * n * 50)
            .map(|i| (i as f32 * 0.37).sin() * 0.3 + ((i * 7) % 11) as f32 * 0.01)
            .collect();
        for ch in [Channeliser::Fft, Channeliser::Pfb { taps: 4 }] {
            let mut cfg = SpectrometerConfig::new(n, 1.0, 8.0 * n as f64);
            cfg.channeliser = ch;
            let a = run(cfg.clone(), &x, 7);
            let b = run(cfg, &x, 10_000);
            assert_eq!(a.len(), b.len());
            for (ia, ib) in a.iter().zip(&b) {
                assert_eq!(ia.start_sample, ib.start_sample);
                assert_eq!(ia.power, ib.power);
            }
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let mut cfg = SpectrometerConfig::new(1024, 2.4e6, 1.0);
        cfg.frames_per_integration = 1;
        assert!(Spectrometer::new(cfg)
            .err()
            .unwrap()
            .to_string()
            .contains("integration"));
        let cfg = SpectrometerConfig::new(4, 2.4e6, 1.0);
        assert!(Spectrometer::new(cfg).is_err());
    }
}
