//! From a recording's integrated spectra to "is there a line, where, how
//! strong": flag-aware averaging, a polynomial baseline fitted to the
//! line-free channels (found iteratively: channels that rise above the fit
//! are masked, with a margin, and the fit repeated), a detection test that
//! refuses to invent a line in noise, and the line's centre, peak and width
//! from Guo's iteratively weighted log-parabola fit of a Gaussian
//! (H. Guo, "A simple algorithm for fitting a Gaussian function", IEEE
//! Signal Processing Magazine 28(5), 134, 2011; eqs. 3-5 with the weights
//! of eq. 7).
//!
//! The spectra here are uncalibrated powers: the result is the line's
//! brightness relative to the continuum, `T_line / Tsys`, which a known
//! Tsys (or the calibration module) turns into kelvin.
//!
//! Velocities are topocentric radio velocities,
//! `v = c (1 - f / f0)` with f0 = 1420.405751768 MHz (Hellwig et al. 1970,
//! IEEE Trans. Instrum. Meas. 19, 200).

/// Rest frequency of the HI hyperfine line.
pub const HI_REST_FREQ_HZ: f64 = 1_420_405_751.768;
/// Speed of light.
pub const C_KM_S: f64 = 299_792.458;

/// Radio velocity (radio convention) of a frequency, relative to HI.
pub fn radio_velocity_km_s(freq_hz: f64) -> f64 {
    C_KM_S * (1.0 - freq_hz / HI_REST_FREQ_HZ)
}

/// Frequency of a radio velocity.
pub fn freq_for_radio_velocity_hz(v_km_s: f64) -> f64 {
    HI_REST_FREQ_HZ * (1.0 - v_km_s / C_KM_S)
}

/// Why no line analysis could be made.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// Every channel is flagged or not finite.
    #[error("no usable channel: {0}")]
    NoData(String),
}

/// Mean spectrum over integrations, each channel averaging only the
/// integrations where it is not flagged (weighted by their frame counts).
/// Channels flagged in every integration are NaN. Also returns the
/// fraction of integrations flagged per channel.
pub fn average_spectra(
    spectra: &[f32],
    flags: &[u8],
    n_frames: &[u64],
    n_channels: usize,
) -> (Vec<f64>, Vec<f64>) {
    let n_int = spectra.len() / n_channels.max(1);
    let mut sum = vec![0.0; n_channels];
    let mut w = vec![0.0; n_channels];
    let mut nflag = vec![0usize; n_channels];
    for k in 0..n_int {
        let wk = n_frames.get(k).copied().unwrap_or(1) as f64;
        for c in 0..n_channels {
            let i = k * n_channels + c;
            let v = spectra[i] as f64;
            if flags[i] == 0 && v.is_finite() {
                sum[c] += wk * v;
                w[c] += wk;
            } else {
                nflag[c] += 1;
            }
        }
    }
    let mean = sum
        .iter()
        .zip(&w)
        .map(|(s, w)| if *w > 0.0 { s / w } else { f64::NAN })
        .collect();
    let frac = nflag
        .iter()
        .map(|&f| f as f64 / n_int.max(1) as f64)
        .collect();
    (mean, frac)
}

/// Settings of the line search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineSearch {
    /// Order of the baseline polynomial.
    pub baseline_order: usize,
    /// Detection threshold (signal-to-noise of the 5-channel-smoothed peak).
    pub detect_sigma: f64,
    /// Fraction of channels ignored at each band edge (anti-alias roll-off).
    pub edge_frac: f64,
}

impl Default for LineSearch {
    fn default() -> LineSearch {
        LineSearch {
            baseline_order: 7,
            detect_sigma: 6.0,
            edge_frac: 0.05,
        }
    }
}

/// A detected line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineEstimate {
    /// Centre, sky frequency.
    pub center_freq_hz: f64,
    /// Centre, topocentric radio velocity.
    pub v_radio_km_s: f64,
    /// Peak relative to the continuum (T_line / Tsys).
    pub peak_rel: f64,
    /// Full width at half maximum.
    pub fwhm_km_s: f64,
    /// Signal-to-noise of the smoothed peak.
    pub snr: f64,
    /// Channels used by the fit.
    pub first_channel: usize,
    /// Last channel used by the fit.
    pub last_channel: usize,
}

/// The baseline-removed spectrum.
#[derive(Debug, Clone)]
pub struct LineProfile {
    /// `P / baseline - 1` per channel (NaN where unusable).
    pub ratio: Vec<f64>,
    /// The fitted baseline.
    pub baseline: Vec<f64>,
    /// Robust rms of `ratio` in line-free channels.
    pub noise_rel: f64,
    /// Channels left out of the baseline fit (line or edges).
    pub masked: Vec<bool>,
    /// Best signal-to-noise found (detected or not).
    pub max_snr: f64,
    /// The line, when one is detected.
    pub line: Option<LineEstimate>,
}

fn chebyshev_row(x: f64, order: usize, row: &mut Vec<f64>) {
    row.clear();
    row.push(1.0);
    if order >= 1 {
        row.push(x);
    }
    for k in 2..=order {
        let v = 2.0 * x * row[k - 1] - row[k - 2];
        row.push(v);
    }
}

/// Least-squares solve by normal equations with Gaussian elimination
/// (partial pivoting); Chebyshev columns keep it well conditioned.
fn polyfit(xs: &[f64], ys: &[f64], order: usize) -> Option<Vec<f64>> {
    let m = order + 1;
    if xs.len() < m {
        return None;
    }
    let mut a = vec![0.0; m * m];
    let mut b = vec![0.0; m];
    let mut row = Vec::with_capacity(m);
    for (&x, &y) in xs.iter().zip(ys) {
        chebyshev_row(x, order, &mut row);
        for i in 0..m {
            b[i] += row[i] * y;
            for j in 0..m {
                a[i * m + j] += row[i] * row[j];
            }
        }
    }
    for col in 0..m {
        let piv =
            (col..m).max_by(|&p, &q| a[p * m + col].abs().total_cmp(&a[q * m + col].abs()))?;
        if a[piv * m + col].abs() < 1e-300 {
            return None;
        }
        if piv != col {
            for j in 0..m {
                a.swap(piv * m + j, col * m + j);
            }
            b.swap(piv, col);
        }
        for r in col + 1..m {
            let f = a[r * m + col] / a[col * m + col];
            for j in col..m {
                a[r * m + j] -= f * a[col * m + j];
            }
            b[r] -= f * b[col];
        }
    }
    let mut c = vec![0.0; m];
    for i in (0..m).rev() {
        let s: f64 = (i + 1..m).map(|j| a[i * m + j] * c[j]).sum();
        c[i] = (b[i] - s) / a[i * m + i];
    }
    Some(c)
}

fn robust_sigma(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.len() < 3 {
        return f64::NAN;
    }
    v.sort_unstable_by(|a, b| a.total_cmp(b));
    let med = v[v.len() / 2];
    let mut d: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
    d.sort_unstable_by(|a, b| a.total_cmp(b));
    1.4826 * d[d.len() / 2]
}

/// Baseline, detection and Gaussian estimate of the strongest line in a
/// mean spectrum; `freq_hz(c)` gives channel c's sky frequency.
pub fn find_line(
    power: &[f64],
    freq_hz: impl Fn(usize) -> f64,
    p: &LineSearch,
) -> Result<LineProfile, LineError> {
    let n = power.len();
    let edge = ((n as f64 * p.edge_frac) as usize).min(n / 4);
    let usable: Vec<bool> = (0..n)
        .map(|i| i >= edge && i < n - edge && power[i].is_finite() && power[i] > 0.0)
        .collect();
    let n_usable = usable.iter().filter(|&&u| u).count();
    if n_usable < 4 * (p.baseline_order + 1) {
        return Err(LineError::NoData(format!(
            "{n_usable} of {n} channels are unflagged and finite, too few for a baseline of order {}",
            p.baseline_order
        )));
    }
    let x_of = |i: usize| 2.0 * i as f64 / (n - 1).max(1) as f64 - 1.0;
    let mut masked = vec![false; n];
    let mut baseline = vec![f64::NAN; n];
    let mut ratio = vec![f64::NAN; n];
    let mut sigma = f64::NAN;
    let mut row = Vec::new();
    for _iter in 0..8 {
        let (xs, ys): (Vec<f64>, Vec<f64>) = (0..n)
            .filter(|&i| usable[i] && !masked[i])
            .map(|i| (x_of(i), power[i]))
            .unzip();
        let Some(coef) = polyfit(&xs, &ys, p.baseline_order) else {
            return Err(LineError::NoData("baseline fit is singular".into()));
        };
        for i in 0..n {
            chebyshev_row(x_of(i), p.baseline_order, &mut row);
            baseline[i] = row.iter().zip(&coef).map(|(a, b)| a * b).sum();
            ratio[i] = if usable[i] && baseline[i] > 0.0 {
                power[i] / baseline[i] - 1.0
            } else {
                f64::NAN
            };
        }
        sigma = robust_sigma(
            (0..n)
                .filter(|&i| usable[i] && !masked[i])
                .map(|i| ratio[i]),
        );
        // New mask: runs above 3 sigma, widened by half their length (at
        // least 3 channels) so the line's wings stay out of the fit too.
        let mut new_mask = vec![false; n];
        let mut i = 0;
        while i < n {
            if usable[i] && ratio[i] > 3.0 * sigma {
                let start = i;
                while i < n && (!usable[i] || ratio[i] > 1.5 * sigma) {
                    i += 1;
                }
                let len = i - start;
                if len >= 3 {
                    let pad = (len / 2).max(3);
                    for m in new_mask
                        .iter_mut()
                        .take((i + pad).min(n))
                        .skip(start.saturating_sub(pad))
                    {
                        *m = true;
                    }
                } else {
                    for m in new_mask.iter_mut().take(i).skip(start) {
                        *m = true;
                    }
                }
            } else {
                i += 1;
            }
        }
        if new_mask == masked {
            break;
        }
        masked = new_mask;
    }
    // Detection on the 5-channel boxcar.
    let w = 2usize;
    let smooth: Vec<f64> = (0..n)
        .map(|i| {
            if i < w || i + w >= n || !(i - w..=i + w).all(|j| usable[j]) {
                return f64::NAN;
            }
            (i - w..=i + w).map(|j| ratio[j]).sum::<f64>() / (2 * w + 1) as f64
        })
        .collect();
    let sigma_s = robust_sigma((0..n).filter(|&i| !masked[i]).map(|i| smooth[i]));
    let ipk = (0..n)
        .filter(|&i| smooth[i].is_finite())
        .max_by(|&a, &b| smooth[a].total_cmp(&smooth[b]));
    let mut out = LineProfile {
        ratio,
        baseline,
        noise_rel: sigma,
        masked: masked.iter().zip(&usable).map(|(m, u)| *m || !u).collect(),
        max_snr: 0.0,
        line: None,
    };
    let Some(ipk) = ipk else { return Ok(out) };
    let snr = smooth[ipk] / sigma_s;
    out.max_snr = snr;
    // A line is broad: at least 9 channels of the smoothed spectrum above
    // 2 sigma around the peak (a lone spike, RFI the flagger missed, spans
    // 5 after the boxcar), and at least 3 unsmoothed channels above 3 sigma.
    let mut lo = ipk;
    while lo > 0 && smooth[lo - 1] > 2.0 * sigma_s {
        lo -= 1;
    }
    let mut hi = ipk;
    while hi + 1 < n && smooth[hi + 1] > 2.0 * sigma_s {
        hi += 1;
    }
    let n_raw = (lo..=hi).filter(|&i| out.ratio[i] > 3.0 * sigma).count();
    if !(snr >= p.detect_sigma && hi - lo + 1 >= 9 && n_raw >= 3) {
        return Ok(out);
    }
    // Fit region: channels around the peak above 20 % of it, stepping over
    // gaps of up to 4 flagged channels (the DC spike, a carrier) so that a
    // gap does not cut the profile on one side only.
    let r = &out.ratio;
    let peak0 = smooth[ipk];
    let inside = |i: usize| usable[i] && r[i] > 0.2 * peak0;
    let extend = |start: usize, step: isize| -> usize {
        let mut last = start;
        let mut i = start as isize;
        let mut gap = 0;
        loop {
            i += step;
            if i < 0 || i >= n as isize {
                return last;
            }
            let j = i as usize;
            if !usable[j] {
                gap += 1;
                if gap > 4 {
                    return last;
                }
                continue;
            }
            if !inside(j) {
                return last;
            }
            gap = 0;
            last = j;
        }
    };
    let a = extend(ipk, -1);
    let b = extend(ipk, 1);
    let v0 = radio_velocity_km_s(freq_hz(ipk));
    let pts: Vec<(f64, f64)> = (a..=b)
        .filter(|&i| usable[i] && r[i] > 0.0)
        .map(|i| (radio_velocity_km_s(freq_hz(i)) - v0, r[i]))
        .collect();
    let est = guo_gaussian(&pts).or_else(|| moments(&pts));
    if let Some((c, peak, sig)) = est {
        let v = v0 + c;
        out.line = Some(LineEstimate {
            center_freq_hz: freq_for_radio_velocity_hz(v),
            v_radio_km_s: v,
            peak_rel: peak,
            fwhm_km_s: sig * (8.0 * 2f64.ln()).sqrt(),
            snr,
            first_channel: a,
            last_channel: b,
        });
    }
    Ok(out)
}

/// Guo (2011): fit `ln y = a + b x + c x^2` with weights `y^2`, then
/// iterate with the fitted `y`. Returns (centre, peak, sigma).
fn guo_gaussian(pts: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    if pts.len() < 5 {
        return None;
    }
    let mut wts: Vec<f64> = pts.iter().map(|&(_, y)| y).collect();
    let mut res = None;
    for _ in 0..5 {
        let mut m = [[0.0f64; 3]; 3];
        let mut v = [0.0f64; 3];
        for (&(x, y), &wy) in pts.iter().zip(&wts) {
            let w2 = wy * wy;
            let l = y.ln();
            let xs = [1.0, x, x * x];
            for i in 0..3 {
                v[i] += w2 * xs[i] * l;
                for j in 0..3 {
                    m[i][j] += w2 * xs[i] * xs[j];
                }
            }
        }
        let sol = solve3(m, v)?;
        let (a, b, c) = (sol[0], sol[1], sol[2]);
        if c >= 0.0 {
            return None;
        }
        let mu = -b / (2.0 * c);
        let sigma = (-1.0 / (2.0 * c)).sqrt();
        let peak = (a - b * b / (4.0 * c)).exp();
        wts = pts
            .iter()
            .map(|&(x, _)| (a + b * x + c * x * x).exp())
            .collect();
        res = Some((mu, peak, sigma));
    }
    res.filter(|(mu, p, s)| mu.is_finite() && p.is_finite() && s.is_finite())
}

fn solve3(m: [[f64; 3]; 3], v: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&m);
    if d.abs() < 1e-300 || !d.is_finite() {
        return None;
    }
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut mk = m;
        for i in 0..3 {
            mk[i][k] = v[i];
        }
        *o = det(&mk) / d;
    }
    Some(out)
}

/// Fallback: intensity-weighted moments. Returns (centre, peak, sigma).
fn moments(pts: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let s0: f64 = pts.iter().map(|p| p.1).sum();
    if s0.is_nan() || s0 <= 0.0 {
        return None;
    }
    let mu = pts.iter().map(|p| p.0 * p.1).sum::<f64>() / s0;
    let var = pts.iter().map(|p| (p.0 - mu).powi(2) * p.1).sum::<f64>() / s0;
    let peak = pts.iter().map(|p| p.1).fold(0.0, f64::max);
    Some((mu, peak, var.sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn velocity_round_trip_and_sign() {
        assert!((radio_velocity_km_s(HI_REST_FREQ_HZ)).abs() < 1e-9);
        // Lower frequency = receding = positive velocity.
        assert!(radio_velocity_km_s(1420.0e6) > 0.0);
        let f = freq_for_radio_velocity_hz(-55.5);
        assert!((radio_velocity_km_s(f) + 55.5).abs() < 1e-9);
    }

    fn spectrum(
        n: usize,
        line: Option<(f64, f64, f64)>,
        noise: f64,
    ) -> (Vec<f64>, impl Fn(usize) -> f64) {
        let df = 2.4e6 / n as f64;
        let f0 = 1420.4e6;
        let freq = move |i: usize| f0 + (i as f64 - (n / 2) as f64) * df;
        let mut s = 17u64;
        let p = (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = ((s >> 11) as f64) / (1u64 << 53) as f64 - 0.5;
                let x = i as f64 / n as f64;
                let bp = 1.0 + 0.3 * x - 0.2 * x * x + 0.02 * (9.0 * x).sin();
                let v = radio_velocity_km_s(freq(i));
                let l = line.map_or(0.0, |(c, pk, fw)| {
                    pk * (-0.5 * ((v - c) / (fw / 2.3548)).powi(2)).exp()
                });
                bp * (1.0 + l) * (1.0 + noise * u * 12f64.sqrt())
            })
            .collect();
        (p, freq)
    }

    #[test]
    fn a_line_on_a_curved_bandpass_is_recovered() {
        let (p, f) = spectrum(1024, Some((-20.0, 0.3, 25.0)), 0.01);
        let prof = find_line(&p, f, &LineSearch::default()).unwrap();
        let l = prof.line.expect("line");
        assert!((l.v_radio_km_s + 20.0).abs() < 0.3, "{l:?}");
        assert!((l.peak_rel / 0.3 - 1.0).abs() < 0.05, "{l:?}");
        assert!((l.fwhm_km_s / 25.0 - 1.0).abs() < 0.1, "{l:?}");
        // Uniform noise of rms 0.01: 1.4826 MAD = 1.4826 x 0.866 x 0.01.
        assert!(
            (prof.noise_rel / 0.01284 - 1.0).abs() < 0.1,
            "{}",
            prof.noise_rel
        );
    }

    #[test]
    fn noise_alone_gives_no_line() {
        let (p, f) = spectrum(1024, None, 0.01);
        let prof = find_line(&p, f, &LineSearch::default()).unwrap();
        assert!(prof.line.is_none(), "{:?}", prof.line);
        assert!(prof.max_snr < 6.0);
    }

    #[test]
    fn all_nan_is_an_error() {
        let p = vec![f64::NAN; 256];
        let e = find_line(&p, |i| i as f64, &LineSearch::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("0 of 256"), "{e}");
    }
}
