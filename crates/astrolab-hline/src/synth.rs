//! Synthetic SDR recordings of the 21 cm line with a truth table, for tests,
//! demos and benchmarks.
//!
//! The signal is complex Gaussian noise whose power spectrum is
//! `S(f) = G(f) (Tsys + T_HI(f))`: system temperature, the HI profile (a sum
//! of Gaussians in radio velocity) and a multiplicative bandpass ripple
//! `G(f) = 1 + r sin(2 pi (f - f_c) / P)` (a standing wave). It is drawn
//! block by block in the frequency domain (independent complex Gaussian
//! amplitudes `sqrt(S)` per bin, inverse FFT), so the spectrum is exact
//! while memory stays one block. On top, in the time domain: a DC offset
//! (the spike every direct-conversion SDR shows at its centre), narrow-band
//! carriers (continuous-wave RFI, switched on for a time range), broadband
//! bursts (impulsive RFI), and the ADC's quantisation (8-bit as an RTL-SDR,
//! 12-bit as an Airspy) with clipping at full scale.
//!
//! Realistic profiles: [`LabMap`] reads the gridded LAB survey HI map as
//! shipped by astro-virgo (`lab_map.txt`: 400 rows by 800 columns, no
//! header). The file does not say its grid; we read it as an equatorial
//! map, rows of declination from +90 (first row, constant: the pole) to
//! -90 deg, columns of right ascension from 0 to 360 deg, because in that
//! reading both Galactic poles fall on the map's minimum (0.09) and the
//! Galactic plane on its bright band (0.7 to 2.7 at l = 0, 30, 80, 180).
//! We take the values as N_HI in 1e21 cm^-2 (an assumption: it puts the
//! poles near 1e20, as LAB measures) and [`lab_components`] turns a column
//! into a local component at v = 0 and a Galactic-disc component at the
//! velocity of a flat rotation curve 3 kpc away (Burton 1988 geometry),
//! with N_HI = 1.823e18 cm^-2 per K km/s (optically thin).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rustfft::num_complex::Complex32;
use rustfft::FftPlanner;

use crate::linefind::{freq_for_radio_velocity_hz, radio_velocity_km_s};

/// One Gaussian HI component.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HiComponent {
    /// Centre, topocentric radio velocity.
    pub v_radio_km_s: f64,
    /// Peak brightness temperature.
    pub peak_k: f64,
    /// Full width at half maximum.
    pub fwhm_km_s: f64,
}

impl HiComponent {
    /// Brightness at radio velocity `v`.
    pub fn temperature_k(&self, v_km_s: f64) -> f64 {
        let sigma = self.fwhm_km_s / (8.0 * 2f64.ln()).sqrt();
        self.peak_k * (-0.5 * ((v_km_s - self.v_radio_km_s) / sigma).powi(2)).exp()
    }
}

/// ADC resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantisation {
    /// 8-bit (RTL-SDR, HackRF): 256 levels.
    Bits8,
    /// 12-bit (Airspy), stored in 16-bit words.
    Bits12,
    /// No quantisation (float recording).
    Float,
}

/// A carrier: continuous-wave RFI.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Carrier {
    /// Offset from the tuned centre.
    pub offset_hz: f64,
    /// Power relative to the total noise power.
    pub power_frac: f64,
    /// On from.
    pub start_s: f64,
    /// Off at.
    pub end_s: f64,
}

/// A broadband burst: impulsive RFI.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burst {
    /// Start.
    pub start_s: f64,
    /// Length.
    pub duration_s: f64,
    /// Burst power relative to the noise power.
    pub power_ratio: f64,
}

/// What to synthesise.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// RNG seed: the same seed gives the same samples.
    pub seed: u64,
    /// Complex samples per second.
    pub sample_rate_hz: f64,
    /// Tuned frequency.
    pub center_freq_hz: f64,
    /// Length of the recording.
    pub duration_s: f64,
    /// System temperature.
    pub tsys_k: f64,
    /// HI profile.
    pub components: Vec<HiComponent>,
    /// Bandpass ripple amplitude (fraction).
    pub ripple_frac: f64,
    /// Ripple period in frequency.
    pub ripple_period_hz: f64,
    /// DC offset, in units of the noise rms.
    pub dc_offset_rel: f64,
    /// Narrow-band RFI.
    pub carriers: Vec<Carrier>,
    /// Impulsive RFI.
    pub bursts: Vec<Burst>,
    /// ADC.
    pub quantisation: Quantisation,
    /// Noise rms as a fraction of full scale (0.1: a well-set gain).
    pub rms_full_scale: f64,
    /// Fixed receiver gain: `rms_full_scale` is the rms of a band-mean
    /// system temperature of this many kelvin, so recordings of a hot load,
    /// a cold load and the sky differ in power as they do at the ADC (what
    /// Y-factor calibration needs). None: every recording is normalised to
    /// `rms_full_scale` (an automatic gain control).
    pub level_reference_k: Option<f64>,
}

impl SynthConfig {
    /// A lab-like scenario: one HI line, Tsys 120 K, 2 % ripple, a DC
    /// spike, two carriers (one steady, one switching on half-way) and a
    /// burst every 0.7 s; 8-bit quantisation.
    pub fn lab_scenario(seed: u64, sample_rate_hz: f64, duration_s: f64) -> SynthConfig {
        let bw = sample_rate_hz;
        let mut bursts = Vec::new();
        let mut t = 0.35;
        while t + 0.002 < duration_s {
            bursts.push(Burst {
                start_s: t,
                duration_s: 0.002,
                power_ratio: 30.0,
            });
            t += 1.3;
        }
        SynthConfig {
            seed,
            sample_rate_hz,
            center_freq_hz: 1_420.4e6,
            duration_s,
            tsys_k: 120.0,
            components: vec![HiComponent {
                v_radio_km_s: 12.3,
                peak_k: 40.0,
                fwhm_km_s: 25.0,
            }],
            ripple_frac: 0.02,
            ripple_period_hz: bw / 1.3,
            dc_offset_rel: 0.05,
            carriers: vec![
                Carrier {
                    offset_hz: -0.3127 * bw,
                    power_frac: 0.01,
                    start_s: 0.0,
                    end_s: duration_s,
                },
                Carrier {
                    offset_hz: 0.2219 * bw,
                    power_frac: 0.02,
                    start_s: duration_s * 0.5,
                    end_s: duration_s,
                },
            ],
            bursts,
            quantisation: Quantisation::Bits8,
            rms_full_scale: 0.1,
            level_reference_k: None,
        }
    }

    /// Complex samples in the recording.
    pub fn n_samples(&self) -> u64 {
        (self.duration_s * self.sample_rate_hz).round() as u64
    }

    /// Relative power density `S(f)` (Tsys units) at offset `df` from centre.
    fn shape(&self, df_hz: f64) -> f64 {
        let f = self.center_freq_hz + df_hz;
        let v = radio_velocity_km_s(f);
        let line: f64 = self.components.iter().map(|c| c.temperature_k(v)).sum();
        let ripple = 1.0
            + self.ripple_frac * (2.0 * std::f64::consts::PI * df_hz / self.ripple_period_hz).sin();
        (self.tsys_k + line) * ripple
    }
}

/// What went into a synthetic recording.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthTruth {
    /// The settings.
    pub config: SynthConfig,
    /// Samples written.
    pub n_samples: u64,
    /// Peak of the summed HI profile (0 when there is none).
    pub line_peak_k: f64,
    /// Radio velocity of that peak.
    pub line_center_v_radio_km_s: f64,
    /// Its sky frequency.
    pub line_center_freq_hz: f64,
    /// Samples clipped by the ADC.
    pub n_clipped: u64,
}

impl SynthTruth {
    /// RFI truth for a spectrometer of `n_channels` channels and
    /// integrations of `samples_per_integration` samples:
    /// `(rfi, near)` per integration x channel (integration-major):
    /// `rfi` where RFI is (the carrier's or DC's channel while it is on;
    /// every channel of an integration that holds a burst), `near` for
    /// what may or may not be seen and is neither RFI nor clean when
    /// scoring: the two channels either side of a carrier or DC (window
    /// leakage), a carrier on for less than 10 % of an integration, and an
    /// integration that holds less than one frame (`n_channels` samples)
    /// of a burst, which the frame's window edge attenuates.
    pub fn rfi_mask(
        &self,
        n_channels: usize,
        samples_per_integration: u64,
        n_integrations: usize,
    ) -> (Vec<bool>, Vec<bool>) {
        let c = &self.config;
        let n = n_channels;
        let mut rfi = vec![false; n * n_integrations];
        let mut near = vec![false; n * n_integrations];
        let ch_of = |df: f64| {
            ((df * n as f64 / c.sample_rate_hz).round() as i64 + (n / 2) as i64)
                .clamp(0, n as i64 - 1) as usize
        };
        for k in 0..n_integrations {
            let t0 = (k as u64 * samples_per_integration) as f64 / c.sample_rate_hz;
            let t1 = ((k as u64 + 1) * samples_per_integration) as f64 / c.sample_rate_hz;
            let row = k * n;
            let mut mark = |ch: usize, sure: bool| {
                if sure {
                    rfi[row + ch] = true;
                } else {
                    near[row + ch] = true;
                }
                for d in 1..=2usize {
                    if ch >= d {
                        near[row + ch - d] = true;
                    }
                    if ch + d < n {
                        near[row + ch + d] = true;
                    }
                }
            };
            let overlap = |a: f64, b: f64| (b.min(t1) - a.max(t0)).max(0.0);
            if c.dc_offset_rel > 0.0 {
                mark(n / 2, true);
            }
            for cw in &c.carriers {
                let o = overlap(cw.start_s, cw.end_s);
                if o > 0.0 {
                    mark(ch_of(cw.offset_hz), o >= 0.1 * (t1 - t0));
                }
            }
            let frame_s = n as f64 / c.sample_rate_hz;
            let burst = c
                .bursts
                .iter()
                .map(|b| overlap(b.start_s, b.start_s + b.duration_s))
                .fold(0.0, f64::max);
            if burst >= frame_s {
                rfi[row..row + n].iter_mut().for_each(|v| *v = true);
            } else if burst > 0.0 {
                near[row..row + n].iter_mut().for_each(|v| *v = true);
            }
        }
        for i in 0..rfi.len() {
            if rfi[i] {
                near[i] = false;
            }
        }
        (rfi, near)
    }
}

/// Samples per synthesis block.
const BLOCK: usize = 1 << 16;

/// Generates the recording, handing interleaved `[re, im, ...]` samples
/// (full scale 1, already quantised) to `sink` block by block.
pub fn generate<E>(
    cfg: &SynthConfig,
    mut sink: impl FnMut(&[f32]) -> Result<(), E>,
) -> Result<SynthTruth, E> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let fs = cfg.sample_rate_hz;
    // Amplitude per FFT bin (natural FFT order), normalised to unit
    // variance per complex sample.
    let amp: Vec<f32> = {
        let s: Vec<f64> = (0..BLOCK)
            .map(|k| {
                let kk = if k < BLOCK / 2 {
                    k as f64
                } else {
                    k as f64 - BLOCK as f64
                };
                cfg.shape(kk * fs / BLOCK as f64)
            })
            .collect();
        let mean = cfg
            .level_reference_k
            .unwrap_or_else(|| s.iter().sum::<f64>() / BLOCK as f64);
        s.iter()
            .map(|v| ((v / mean).max(0.0) / (2.0 * BLOCK as f64)).sqrt() as f32)
            .collect()
    };
    let ifft = FftPlanner::<f32>::new().plan_fft_inverse(BLOCK);
    let mut buf = vec![Complex32::default(); BLOCK];
    let mut scratch = vec![Complex32::default(); ifft.get_inplace_scratch_len()];
    let mut out = Vec::with_capacity(2 * BLOCK);
    let rms = cfg.rms_full_scale as f32;
    let dc = (cfg.dc_offset_rel * cfg.rms_full_scale / 2f64.sqrt()) as f32;
    let total = cfg.n_samples();
    let mut done = 0u64;
    let mut n_clipped = 0u64;
    let (q, lim) = match cfg.quantisation {
        Quantisation::Bits8 => (128.0f32, 127.0f32 / 128.0),
        Quantisation::Bits12 => (2048.0, 2047.0 / 2048.0),
        Quantisation::Float => (0.0, f32::INFINITY),
    };
    while done < total {
        let len = ((total - done) as usize).min(BLOCK);
        for (b, &a) in buf.iter_mut().zip(&amp) {
            let re: f32 = StandardNormal.sample(&mut rng);
            let im: f32 = StandardNormal.sample(&mut rng);
            *b = Complex32::new(re * a, im * a);
        }
        ifft.process_with_scratch(&mut buf, &mut scratch);
        out.clear();
        for (i, b) in buf.iter().enumerate().take(len) {
            let t = (done + i as u64) as f64 / fs;
            let mut re = b.re * rms + dc;
            let mut im = b.im * rms + dc;
            for cw in &cfg.carriers {
                if t >= cw.start_s && t < cw.end_s {
                    let a = (cw.power_frac.sqrt() * cfg.rms_full_scale) as f32;
                    let ph = 2.0 * std::f64::consts::PI * (cw.offset_hz * t).fract();
                    re += a * ph.cos() as f32;
                    im += a * ph.sin() as f32;
                }
            }
            for bu in &cfg.bursts {
                if t >= bu.start_s && t < bu.start_s + bu.duration_s {
                    let a = (bu.power_ratio / 2.0).sqrt() as f32 * rms;
                    let g1: f32 = StandardNormal.sample(&mut rng);
                    let g2: f32 = StandardNormal.sample(&mut rng);
                    re += a * g1;
                    im += a * g2;
                }
            }
            if q > 0.0 {
                for v in [&mut re, &mut im] {
                    if v.abs() > lim {
                        n_clipped += 1;
                    }
                    *v = ((*v * q).round() / q).clamp(-1.0, lim);
                }
            }
            out.push(re);
            out.push(im);
        }
        sink(&out)?;
        done += len as u64;
    }
    // The profile's peak on a fine velocity grid.
    let (mut vbest, mut tbest) = (0.0, 0.0);
    if !cfg.components.is_empty() {
        let mut v = -400.0;
        while v <= 400.0 {
            let t: f64 = cfg.components.iter().map(|c| c.temperature_k(v)).sum();
            if t > tbest {
                tbest = t;
                vbest = v;
            }
            v += 0.001;
        }
    }
    Ok(SynthTruth {
        config: cfg.clone(),
        n_samples: total,
        line_peak_k: tbest,
        line_center_v_radio_km_s: vbest,
        line_center_freq_hz: freq_for_radio_velocity_hz(vbest),
        n_clipped,
    })
}

/// The LAB survey HI map as shipped by astro-virgo.
#[derive(Debug, Clone)]
pub struct LabMap {
    n_b: usize,
    n_l: usize,
    values: Vec<f32>,
}

impl LabMap {
    /// Parses the whitespace-separated grid (rows of latitude).
    pub fn parse(text: &str) -> Result<LabMap, String> {
        let mut values = Vec::new();
        let mut n_l = 0;
        let mut n_b = 0;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let row: Result<Vec<f32>, _> = line.split_whitespace().map(str::parse::<f32>).collect();
            let row = row.map_err(|e| format!("line {}: {e}", i + 1))?;
            if n_l == 0 {
                n_l = row.len();
            } else if row.len() != n_l {
                return Err(format!(
                    "line {}: {} values, the first line has {n_l}",
                    i + 1,
                    row.len()
                ));
            }
            values.extend(row);
            n_b += 1;
        }
        if n_b < 2 || n_l < 2 {
            return Err("empty map".into());
        }
        Ok(LabMap { n_b, n_l, values })
    }

    /// N_HI (1e21 cm^-2) at Galactic longitude and latitude (nearest cell
    /// of the equatorial grid).
    pub fn column_1e21(&self, l_deg: f64, b_deg: f64) -> f64 {
        let (ra, dec) = astrolab_sky::galactic::galactic_to_icrs(l_deg, b_deg);
        let col = ((ra.rem_euclid(360.0) / 360.0 * self.n_l as f64) as usize).min(self.n_l - 1);
        let row = (((90.0 - dec.clamp(-90.0, 90.0)) / 180.0 * self.n_b as f64) as usize)
            .min(self.n_b - 1);
        self.values[row * self.n_l + col] as f64
    }
}

/// A realistic two-component profile for a pointing from the LAB map: 60 %
/// of the column in local gas at v = 0 (FWHM 20 km/s), 40 % in disc gas at
/// the radial velocity of a flat rotation curve (220 km/s, R0 = 8.5 kpc)
/// 3 kpc away along the line of sight (FWHM 30 km/s). Peaks follow from
/// N_HI = 1.823e18 x integral T dv and a Gaussian's integral 1.0645 x peak x FWHM.
pub fn lab_components(map: &LabMap, l_deg: f64, b_deg: f64) -> Vec<HiComponent> {
    let n = map.column_1e21(l_deg, b_deg).max(0.0) * 1e21;
    let w_kkms = n / 1.823e18;
    let (l, b) = (l_deg.to_radians(), b_deg.to_radians());
    let (r0, v0, d) = (8.5, 220.0, 3.0 * b.cos());
    let r = (r0 * r0 + d * d - 2.0 * r0 * d * l.cos()).sqrt();
    let v_disc = v0 * (r0 / r - 1.0) * l.sin() * b.cos();
    vec![
        HiComponent {
            v_radio_km_s: 0.0,
            peak_k: 0.6 * w_kkms / (1.0645 * 20.0),
            fwhm_km_s: 20.0,
        },
        HiComponent {
            v_radio_km_s: v_disc,
            peak_k: 0.4 * w_kkms / (1.0645 * 30.0),
            fwhm_km_s: 30.0,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_samples_and_the_noise_level_is_as_asked() {
        let mut cfg = SynthConfig::lab_scenario(7, 1.0e6, 0.1);
        cfg.carriers.clear();
        cfg.bursts.clear();
        cfg.dc_offset_rel = 0.0;
        let mut a = Vec::new();
        let t = generate(&cfg, |x| {
            a.extend_from_slice(x);
            Ok::<_, ()>(())
        })
        .unwrap();
        let mut b = Vec::new();
        generate(&cfg, |x| {
            b.extend_from_slice(x);
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len() as u64, 2 * t.n_samples);
        let p = a.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / t.n_samples as f64;
        assert!((p.sqrt() / 0.1 - 1.0).abs() < 0.01, "rms {}", p.sqrt());
        // 8-bit: every value on the 1/128 grid.
        assert!(a.iter().all(|v| (v * 128.0).fract() == 0.0));
        assert!((t.line_center_v_radio_km_s - 12.3).abs() < 0.002);
        assert!((t.line_peak_k - 40.0).abs() < 1e-6);
    }

    #[test]
    fn lab_map_profiles_are_brighter_in_the_plane() {
        // An equatorial grid, bright within 10 deg of the Galactic plane.
        let mut text = String::new();
        for row in 0..40 {
            let dec = 90.0 - (row as f64 + 0.5) * 4.5;
            let vals: Vec<String> = (0..80)
                .map(|col| {
                    let ra = (col as f64 + 0.5) * 4.5;
                    let (_, b) = astrolab_sky::galactic::icrs_to_galactic(ra, dec);
                    format!("{}", 0.1 + 8.0 * (-(b / 10.0).powi(2)).exp())
                })
                .collect();
            text.push_str(&vals.join(" "));
            text.push('\n');
        }
        let m = LabMap::parse(&text).unwrap();
        let plane = lab_components(&m, 30.0, 0.0);
        let pole = lab_components(&m, 30.0, 80.0);
        assert!(plane[0].peak_k > 10.0 * pole[0].peak_k);
        // Inner Galaxy, first quadrant: disc gas at positive velocity.
        assert!(plane[1].v_radio_km_s > 20.0, "{:?}", plane[1]);
        assert!(LabMap::parse("1 2\n3\n").is_err());
    }
}
