//! Single-dish calibration: position switching with a noise diode exactly as
//! GBTIDL's `getps` (and dysh) does it, frequency switching, and Y-factor
//! (hot/cold load) system temperatures.
//!
//! Conventions follow GBTIDL:
//! - `dcmeantsys`: Tsys = Tcal <off> / <on - off> + Tcal / 2, means over the
//!   channels `nedge ..= nchan - nedge` (inclusive, IDL style) with
//!   `nedge = floor(0.1 nchan)`, NaN channels skipped.
//! - `dototalpower`: a phase's total power is (cal on + cal off) / 2, its
//!   exposure the sum of both.
//! - `dosigref`: Ta = Tsys_ref (sig - ref) / ref; exposure
//!   `t_sig t_ref / (t_sig + t_ref)` (`t_ref` times the smoothing width when
//!   the reference is smoothed).
//! - `dcaccum`: integrations averaged with weights exposure |dnu| / Tsys^2;
//!   Tsys averaged as sqrt(sum w Tsys^2 / sum w); exposures summed.

// `!(x > 0.0)` is meant: it also rejects NaN, which `x <= 0.0` would let through.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

/// Calibration errors. They say which quantity failed and why.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum CalError {
    /// The phases have different numbers of channels.
    #[error("{what}: spectra of different lengths ({a} and {b} channels)")]
    LengthMismatch { what: String, a: usize, b: usize },
    /// No finite channel in the range used for Tsys.
    #[error("{what}: no finite channel between {first} and {last}: cannot compute Tsys")]
    NoValidChannels {
        what: String,
        first: usize,
        last: usize,
    },
    /// The noise diode did not raise the power (cal on <= cal off) or Tcal is bad.
    #[error(
        "{what}: <cal on - cal off> = {diff} with Tcal = {tcal_k} K: the noise diode \
             signal is not positive, Tsys would be meaningless"
    )]
    BadDiode {
        what: String,
        diff: f64,
        tcal_k: f64,
    },
    /// Nothing to average.
    #[error("no integrations to average")]
    Empty,
    /// An argument out of range.
    #[error("{0}")]
    Invalid(String),
}

/// GBTIDL's default fraction of channels dropped at each edge for Tsys.
pub const TSYS_EDGE_FRACTION: f64 = 0.1;

/// System temperature from the noise diode (GBTIDL `dcmeantsys`, dysh
/// `mean_tsys` mode 0): the central 80 % of the channels.
pub fn mean_tsys(calon: &[f64], caloff: &[f64], tcal_k: f64, what: &str) -> Result<f64, CalError> {
    if calon.len() != caloff.len() {
        return Err(CalError::LengthMismatch {
            what: what.into(),
            a: calon.len(),
            b: caloff.len(),
        });
    }
    let n = calon.len();
    let nedge = (n as f64 * TSYS_EDGE_FRACTION) as usize;
    // IDL ranges are inclusive: [nedge, n - nedge].
    let last = n.saturating_sub(nedge).min(n.saturating_sub(1));
    let (mut s_off, mut s_diff, mut count) = (0.0, 0.0, 0usize);
    for i in nedge..=last {
        if i >= n {
            break;
        }
        let (on, off) = (calon[i], caloff[i]);
        if on.is_finite() && off.is_finite() {
            s_off += off;
            s_diff += on - off;
            count += 1;
        }
    }
    if count == 0 {
        return Err(CalError::NoValidChannels {
            what: what.into(),
            first: nedge,
            last,
        });
    }
    let (mean_off, mean_diff) = (s_off / count as f64, s_diff / count as f64);
    if !(mean_diff > 0.0) || !(tcal_k > 0.0) || !tcal_k.is_finite() {
        return Err(CalError::BadDiode {
            what: what.into(),
            diff: mean_diff,
            tcal_k,
        });
    }
    Ok(tcal_k * mean_off / mean_diff + tcal_k / 2.0)
}

/// Boxcar smoothing as IDL `smooth(x, width, /edge_truncate, /nan)`, which
/// GBTIDL uses for `smthoff`: an even width becomes width + 1, edges repeat
/// the end values, NaN samples are left out of each mean.
pub fn boxcar_smooth(x: &[f64], width: usize) -> Vec<f64> {
    if width <= 1 || x.is_empty() {
        return x.to_vec();
    }
    let half = (width | 1) / 2;
    let n = x.len() as isize;
    (0..n)
        .map(|i| {
            let (mut s, mut c) = (0.0, 0usize);
            for j in i - half as isize..=i + half as isize {
                let v = x[j.clamp(0, n - 1) as usize];
                if v.is_finite() {
                    s += v;
                    c += 1;
                }
            }
            if c == 0 {
                f64::NAN
            } else {
                s / c as f64
            }
        })
        .collect()
}

/// A calibrated spectrum with its system temperature and effective exposure.
#[derive(Debug, Clone, PartialEq)]
pub struct CalSpectrum {
    /// Antenna temperature per channel (K).
    pub ta_k: Vec<f64>,
    pub tsys_k: f64,
    pub exposure_s: f64,
}

/// The four phases of one position-switched integration.
#[derive(Debug, Clone, Copy)]
pub struct PsIntegration<'a> {
    pub sig_calon: &'a [f64],
    pub sig_caloff: &'a [f64],
    pub ref_calon: &'a [f64],
    pub ref_caloff: &'a [f64],
    /// Noise-diode temperature of the reference phase (GBTIDL uses the ref's).
    pub tcal_k: f64,
    /// Exposure of each cal-on and cal-off row of the signal and reference
    /// phases (seconds): `[sig_on, sig_off, ref_on, ref_off]`.
    pub exposures_s: [f64; 4],
}

/// Options of [`getps`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PsOptions {
    /// Boxcar width applied to the reference before the division (GBTIDL
    /// `smthoff`); 0 or 1 = none.
    pub smooth_ref: usize,
}

/// One integration of a position-switched observation (GBTIDL `getps` for
/// one integration): Tsys from the reference's noise diode, then
/// Ta = Tsys (sig - ref) / ref with sig, ref the cal-on/off averages.
pub fn getps_integration(p: &PsIntegration<'_>, opts: PsOptions) -> Result<CalSpectrum, CalError> {
    let n = p.sig_calon.len();
    for (what, v) in [
        ("signal, cal off", p.sig_caloff),
        ("reference, cal on", p.ref_calon),
        ("reference, cal off", p.ref_caloff),
    ] {
        if v.len() != n {
            return Err(CalError::LengthMismatch {
                what: what.into(),
                a: n,
                b: v.len(),
            });
        }
    }
    let tsys_k = mean_tsys(p.ref_calon, p.ref_caloff, p.tcal_k, "reference (off) phase")?;
    let sig: Vec<f64> = p
        .sig_calon
        .iter()
        .zip(p.sig_caloff)
        .map(|(a, b)| 0.5 * (a + b))
        .collect();
    let mut reference: Vec<f64> = p
        .ref_calon
        .iter()
        .zip(p.ref_caloff)
        .map(|(a, b)| 0.5 * (a + b))
        .collect();
    let mut t_ref = p.exposures_s[2] + p.exposures_s[3];
    if opts.smooth_ref > 1 {
        reference = boxcar_smooth(&reference, opts.smooth_ref);
        t_ref *= (opts.smooth_ref | 1) as f64;
    }
    let t_sig = p.exposures_s[0] + p.exposures_s[1];
    let ta_k = sig
        .iter()
        .zip(&reference)
        .map(|(s, r)| tsys_k * (s - r) / r)
        .collect();
    Ok(CalSpectrum {
        ta_k,
        tsys_k,
        exposure_s: t_sig * t_ref / (t_sig + t_ref),
    })
}

/// Averages calibrated integrations as GBTIDL's `dcaccum`/`ave` do: weights
/// `exposure |dnu| / Tsys^2` per integration; NaN channels are skipped.
pub fn average(spectra: &[CalSpectrum], channel_width_hz: f64) -> Result<CalSpectrum, CalError> {
    let first = spectra.first().ok_or(CalError::Empty)?;
    let n = first.ta_k.len();
    let mut num = vec![0.0; n];
    let mut den = vec![0.0; n];
    let (mut wsum, mut tsys2, mut exposure) = (0.0, 0.0, 0.0);
    for s in spectra {
        if s.ta_k.len() != n {
            return Err(CalError::LengthMismatch {
                what: "integrations to average".into(),
                a: n,
                b: s.ta_k.len(),
            });
        }
        let w = s.exposure_s * channel_width_hz.abs() / (s.tsys_k * s.tsys_k);
        if !(w.is_finite() && w > 0.0) {
            return Err(CalError::Invalid(format!(
                "integration with exposure {} s and Tsys {} K has no usable weight",
                s.exposure_s, s.tsys_k
            )));
        }
        for ((a, d), &v) in num.iter_mut().zip(den.iter_mut()).zip(&s.ta_k) {
            if v.is_finite() {
                *a += w * v;
                *d += w;
            }
        }
        wsum += w;
        tsys2 += w * s.tsys_k * s.tsys_k;
        exposure += s.exposure_s;
    }
    Ok(CalSpectrum {
        ta_k: num
            .iter()
            .zip(&den)
            .map(|(a, d)| if *d > 0.0 { a / d } else { f64::NAN })
            .collect(),
        tsys_k: (tsys2 / wsum).sqrt(),
        exposure_s: exposure,
    })
}

/// Frequency switching (GBTIDL `getfs` without folding): the signal phase
/// calibrated against the frequency-switched reference phase,
/// T = Tsys_ref (sig - ref) / ref, with both phases' noise diodes.
pub fn frequency_switched(
    sig_calon: &[f64],
    sig_caloff: &[f64],
    ref_calon: &[f64],
    ref_caloff: &[f64],
    tcal_k: f64,
    exposures_s: [f64; 4],
) -> Result<CalSpectrum, CalError> {
    getps_integration(
        &PsIntegration {
            sig_calon,
            sig_caloff,
            ref_calon,
            ref_caloff,
            tcal_k,
            exposures_s,
        },
        PsOptions::default(),
    )
}

/// Frequency switching without a noise diode (an SDR tuned alternately on
/// and off the line), with the system temperature known from elsewhere (a
/// Y-factor, or the receiver's specification): T = Tsys (sig - ref) / ref
/// per channel. With `fold_shift` (the reference tuned that many channels
/// higher) the two phases are folded as GBTIDL's `getfs` does: each phase
/// calibrated against the other, T1 = Tsys (sig - ref) / ref at channel c
/// and T2 = Tsys (ref - sig) / sig at c - shift, where the reference saw the
/// same sky frequency, averaged; channels whose image falls outside the
/// band are NaN. As in any folded spectrum, each line leaves negative
/// ghosts of half its height (times Tsys / (Tsys + T_line)) `shift`
/// channels either side. NaN where a denominator is not positive.
pub fn switched_sdr_k(
    sig: &[f64],
    reference: &[f64],
    tsys_k: f64,
    fold_shift: Option<i64>,
) -> Result<Vec<f64>, CalError> {
    if sig.len() != reference.len() {
        return Err(CalError::LengthMismatch {
            what: "signal and reference spectra".into(),
            a: sig.len(),
            b: reference.len(),
        });
    }
    if !(tsys_k > 0.0) || !tsys_k.is_finite() {
        return Err(CalError::Invalid(format!(
            "system temperature {tsys_k} K: must be positive"
        )));
    }
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            tsys_k * (a - b) / b
        } else {
            f64::NAN
        }
    };
    let n = sig.len() as i64;
    Ok((0..n)
        .map(|c| {
            let t1 = ratio(sig[c as usize], reference[c as usize]);
            match fold_shift {
                None => t1,
                Some(s) => {
                    let j = c - s;
                    if s != 0 && (0..n).contains(&j) {
                        0.5 * (t1 + ratio(reference[j as usize], sig[j as usize]))
                    } else {
                        f64::NAN
                    }
                }
            }
        })
        .collect())
}

/// Y-factor calibration from hot and cold loads of known temperature:
/// per channel, Y = P_hot / P_cold, Trx = (T_hot - Y T_cold) / (Y - 1), and
/// the gain g = (P_hot - P_cold) / (T_hot - T_cold) in power per kelvin.
/// Returns (receiver temperature K, gain) per channel.
pub fn y_factor(
    p_hot: &[f64],
    p_cold: &[f64],
    t_hot_k: f64,
    t_cold_k: f64,
) -> Result<(Vec<f64>, Vec<f64>), CalError> {
    if p_hot.len() != p_cold.len() {
        return Err(CalError::LengthMismatch {
            what: "hot and cold loads".into(),
            a: p_hot.len(),
            b: p_cold.len(),
        });
    }
    if !(t_hot_k > t_cold_k) {
        return Err(CalError::Invalid(format!(
            "hot load ({t_hot_k} K) must be hotter than the cold load ({t_cold_k} K)"
        )));
    }
    let mut trx = Vec::with_capacity(p_hot.len());
    let mut gain = Vec::with_capacity(p_hot.len());
    for (&h, &c) in p_hot.iter().zip(p_cold) {
        let y = h / c;
        trx.push(if y > 1.0 {
            (t_hot_k - y * t_cold_k) / (y - 1.0)
        } else {
            f64::NAN
        });
        gain.push((h - c) / (t_hot_k - t_cold_k));
    }
    Ok((trx, gain))
}

/// Calibrates raw power to temperature with a Y-factor result:
/// T = P / g - Trx per channel.
pub fn apply_y_factor(power: &[f64], trx_k: &[f64], gain: &[f64]) -> Vec<f64> {
    power
        .iter()
        .zip(trx_k.iter().zip(gain))
        .map(|(p, (t, g))| p / g - t)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequency_switching_recovers_a_line_folded_or_not() {
        // Tsys 100 K, bandpass g(c); a 10 K line at channel 40 in the
        // signal, seen at channel 40 - 16 when tuned 16 channels higher.
        let n = 128;
        let g = |c: usize| 1.0 + 0.1 * (c as f64 / 9.0).sin();
        let line = |c: i64| 10.0 * (-0.5 * ((c - 40) as f64 / 3.0).powi(2)).exp();
        let sig: Vec<f64> = (0..n).map(|c| g(c) * (100.0 + line(c as i64))).collect();
        let reference: Vec<f64> = (0..n)
            .map(|c| g(c) * (100.0 + line(c as i64 + 16)))
            .collect();
        let t = switched_sdr_k(&sig, &reference, 100.0, None).unwrap();
        assert!((t[40] - 10.0).abs() < 1e-3);
        // The unfolded spectrum carries the negative image.
        assert!(t[24] < -9.0);
        let f = switched_sdr_k(&sig, &reference, 100.0, Some(16)).unwrap();
        assert!(f[..16].iter().all(|x| x.is_nan()));
        // Both phases' lines averaged at the line; half-height negative
        // ghosts one throw either side; nothing elsewhere.
        let ghost = -0.5 * 10.0 * 100.0 / 110.0;
        for c in (16..n).filter(|c| !(8..=72).contains(c)) {
            assert!(f[c].abs() < 1e-6, "channel {c}: {}", f[c]);
        }
        assert!((f[40] - 10.0).abs() < 1e-3);
        assert!((f[56] - ghost).abs() < 1e-3 && (f[24] - ghost).abs() < 1e-3);
        assert!(switched_sdr_k(&sig, &reference[1..], 100.0, None).is_err());
        assert!(switched_sdr_k(&sig, &reference, f64::NAN, None).is_err());
    }

    #[test]
    fn tsys_recovers_a_known_diode() {
        // Tsys 20 K, Tcal 2 K, gain 3: off = 3*(20 - 1) (the diode-off power
        // of GBTIDL's convention where Tsys is the mean of on and off), on = off + 3*2.
        let off = vec![57.0; 100];
        let on = vec![63.0; 100];
        let t = mean_tsys(&on, &off, 2.0, "test").unwrap();
        assert!((t - 20.0).abs() < 1e-12, "{t}");
    }

    #[test]
    fn tsys_refuses_a_dead_diode() {
        let off = vec![57.0; 100];
        assert!(matches!(
            mean_tsys(&off, &off, 2.0, "x"),
            Err(CalError::BadDiode { .. })
        ));
        let nan = vec![f64::NAN; 100];
        assert!(matches!(
            mean_tsys(&nan, &nan, 2.0, "x"),
            Err(CalError::NoValidChannels { .. })
        ));
    }

    #[test]
    fn y_factor_round_trip() {
        let (trx, g, th, tc) = (50.0, 2.5, 290.0, 10.0);
        let hot: Vec<f64> = (0..8).map(|_| g * (th + trx)).collect();
        let cold: Vec<f64> = (0..8).map(|_| g * (tc + trx)).collect();
        let (t, gain) = y_factor(&hot, &cold, th, tc).unwrap();
        assert!((t[3] - trx).abs() < 1e-9 && (gain[3] - g).abs() < 1e-12);
        let sky = apply_y_factor(&[g * (100.0 + trx)], &t[..1], &gain[..1]);
        assert!((sky[0] - 100.0).abs() < 1e-9);
    }

    #[test]
    fn average_weights_by_tsys() {
        let a = CalSpectrum {
            ta_k: vec![1.0],
            tsys_k: 10.0,
            exposure_s: 1.0,
        };
        let b = CalSpectrum {
            ta_k: vec![4.0],
            tsys_k: 20.0,
            exposure_s: 1.0,
        };
        let m = average(&[a, b], 1.0).unwrap();
        // weights 1/100 and 1/400: (1*4 + 4*1)/5 = 1.6
        assert!((m.ta_k[0] - 1.6).abs() < 1e-12);
        assert_eq!(m.exposure_s, 2.0);
    }
}

/// The fold rule of SDR frequency switching: with the reference tuned
/// `shift_channels` channels above the signal, the two phases are folded
/// (as GBTIDL `getfs`) only when the throw is a whole number of channels
/// (within 0.01 channel), not zero, and less than half the band of
/// `n_channels`; `None` otherwise (the negative image then stays).
pub fn fold_shift(shift_channels: f64, n_channels: usize) -> Option<i64> {
    let whole = shift_channels.round();
    ((shift_channels - whole).abs() < 0.01 && whole != 0.0 && whole.abs() < n_channels as f64 / 2.0)
        .then_some(whole as i64)
}

/// `spectrum` with the ghost images of a folded frequency-switched line
/// set to NaN: the line spans channels `first..=last`; its negative ghosts
/// lie `shift` channels either side, and each is masked with half the
/// line's width of margin on both sides, so a second line search does not
/// take a ghost's edge for a line.
pub fn mask_fold_ghosts(spectrum: &[f64], first: usize, last: usize, shift: i64) -> Vec<f64> {
    let n = spectrum.len() as i64;
    let mut masked = spectrum.to_vec();
    let width = last.saturating_sub(first) + 1;
    for s in [shift, -shift] {
        let lo = first as i64 + s - width as i64 / 2;
        let hi = last as i64 + s + width as i64 / 2;
        for ch in lo.max(0)..=hi.min(n - 1) {
            masked[ch as usize] = f64::NAN;
        }
    }
    masked
}

#[cfg(test)]
mod fold_tests {
    use super::*;

    #[test]
    fn fold_rule_needs_a_whole_throw_inside_half_the_band() {
        assert_eq!(fold_shift(128.0, 1024), Some(128));
        assert_eq!(fold_shift(-128.004, 1024), Some(-128));
        assert_eq!(fold_shift(128.3, 1024), None);
        assert_eq!(fold_shift(0.0, 1024), None);
        assert_eq!(fold_shift(512.0, 1024), None);
    }

    #[test]
    fn ghosts_either_side_are_masked() {
        let s = vec![1.0; 100];
        let m = mask_fold_ghosts(&s, 40, 43, 20);
        // Line 40..=43 (width 4, margin 2): ghosts 58..=65 and 18..=25.
        let nan: Vec<usize> = (0..100).filter(|&c| m[c].is_nan()).collect();
        let want: Vec<usize> = (18..=25).chain(58..=65).collect();
        assert_eq!(nan, want);
        // Near the band edge the mask is clipped, never out of range.
        let m = mask_fold_ghosts(&s, 2, 5, 95);
        assert!(m[99].is_nan() && m[0].is_finite());
    }
}
