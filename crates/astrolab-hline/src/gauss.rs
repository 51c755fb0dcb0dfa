//! Gaussian decomposition of HI profiles: Levenberg-Marquardt least squares,
//! the number of components chosen by an information criterion (BIC or AIC),
//! uncertainties from the covariance matrix scaled by the residual variance.

// `!(x > 0.0)` is meant: it also rejects NaN, which `x <= 0.0` would let through.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

/// Errors of the Gaussian fit.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum GaussError {
    /// Velocity and temperature arrays of different lengths.
    #[error("velocity axis has {velocities} channels but the spectrum has {values}")]
    LengthMismatch { velocities: usize, values: usize },
    /// Too few finite channels to fit anything.
    #[error(
        "only {finite} finite channels (of {total}): nothing to fit (is the spectrum all NaN?)"
    )]
    TooFewChannels { finite: usize, total: usize },
    /// The fit did not produce finite parameters.
    #[error("the fit with {components} components diverged")]
    Diverged { components: usize },
}

/// One Gaussian component: T(v) = amp exp(-(v - centre)^2 / (2 sigma^2)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Component {
    pub amp_k: f64,
    pub center_km_s: f64,
    pub sigma_km_s: f64,
    /// 1-sigma uncertainties from the covariance (NaN when unavailable).
    pub amp_err_k: f64,
    pub center_err_km_s: f64,
    pub sigma_err_km_s: f64,
}

impl Component {
    /// A component without uncertainties (an initial guess).
    pub fn new(amp_k: f64, center_km_s: f64, sigma_km_s: f64) -> Component {
        Component {
            amp_k,
            center_km_s,
            sigma_km_s,
            amp_err_k: f64::NAN,
            center_err_km_s: f64::NAN,
            sigma_err_km_s: f64::NAN,
        }
    }
    /// Full width at half maximum, km/s.
    pub fn fwhm_km_s(&self) -> f64 {
        self.sigma_km_s * (8.0 * std::f64::consts::LN_2).sqrt()
    }
    /// Integral of T dv, K km/s.
    pub fn integral_k_km_s(&self) -> f64 {
        self.amp_k * self.sigma_km_s * (2.0 * std::f64::consts::PI).sqrt()
    }
    /// Value at `v`.
    pub fn eval(&self, v: f64) -> f64 {
        let z = (v - self.center_km_s) / self.sigma_km_s;
        self.amp_k * (-0.5 * z * z).exp()
    }
}

/// Information criterion for the number of components.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Criterion {
    /// Bayesian (Schwarz): n ln(RSS/n) + k ln n.
    #[default]
    Bic,
    /// Akaike: n ln(RSS/n) + 2k.
    Aic,
}

/// Options of [`decompose`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussOptions {
    pub max_components: usize,
    pub criterion: Criterion,
    /// Narrowest allowed sigma (km/s); default about one channel.
    pub min_sigma_km_s: f64,
    pub max_sigma_km_s: f64,
    /// A new component must peak above this many times the noise rms.
    pub min_snr: f64,
}

impl Default for GaussOptions {
    fn default() -> Self {
        GaussOptions {
            max_components: 6,
            criterion: Criterion::Bic,
            min_sigma_km_s: 1.0,
            max_sigma_km_s: 60.0,
            min_snr: 3.0,
        }
    }
}

/// The result of a decomposition.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussFit {
    /// Components, strongest (largest amplitude) first.
    pub components: Vec<Component>,
    /// Residual sum of squares, K^2.
    pub rss: f64,
    /// Residual rms, K.
    pub residual_rms_k: f64,
    pub bic: f64,
    pub aic: f64,
    /// Finite channels used.
    pub n_channels: usize,
}

impl GaussFit {
    /// The model at `v`.
    pub fn eval(&self, v: f64) -> f64 {
        self.components.iter().map(|c| c.eval(v)).sum()
    }
    /// The strongest component, if any.
    pub fn strongest(&self) -> Option<&Component> {
        self.components.first()
    }
}

/// Solves the symmetric positive definite system `a x = b` (Cholesky);
/// `None` when `a` is not positive definite.
pub(crate) fn solve_spd(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if !(s > 0.0) {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    Some(x)
}

/// The inverse of a symmetric positive definite matrix.
pub(crate) fn invert_spd(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut inv = vec![vec![0.0; n]; n];
    for j in 0..n {
        let mut e = vec![0.0; n];
        e[j] = 1.0;
        let col = solve_spd(a, &e)?;
        for i in 0..n {
            inv[i][j] = col[i];
        }
    }
    Some(inv)
}

fn model(params: &[f64], v: f64) -> f64 {
    params
        .chunks_exact(3)
        .map(|p| {
            let z = (v - p[1]) / p[2];
            p[0] * (-0.5 * z * z).exp()
        })
        .sum()
}

fn rss_of(params: &[f64], v: &[f64], t: &[f64]) -> f64 {
    v.iter()
        .zip(t)
        .map(|(&x, &y)| {
            let r = y - model(params, x);
            r * r
        })
        .sum()
}

/// Levenberg-Marquardt on `n` Gaussians (params: amp, centre, sigma per
/// component). Sigma is kept within `[min_sigma, max_sigma]`, centres within
/// the velocity range, and amplitudes non-negative when `emission` is set.
/// Returns the parameters and the normal matrix J^T J.
fn levenberg_marquardt(
    v: &[f64],
    t: &[f64],
    mut p: Vec<f64>,
    opts: &GaussOptions,
    emission: bool,
) -> (Vec<f64>, Vec<Vec<f64>>) {
    let (vmin, vmax) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let clamp = |p: &mut [f64]| {
        for c in p.chunks_exact_mut(3) {
            if emission {
                c[0] = c[0].max(0.0);
            }
            c[1] = c[1].clamp(vmin, vmax);
            c[2] = c[2].clamp(opts.min_sigma_km_s, opts.max_sigma_km_s);
        }
    };
    clamp(&mut p);
    let k = p.len();
    let mut lambda = 1e-3;
    let mut rss = rss_of(&p, v, t);
    let normal = |p: &[f64]| {
        let mut jtj = vec![vec![0.0; k]; k];
        let mut jtr = vec![0.0; k];
        let mut row = vec![0.0; k];
        for (&x, &y) in v.iter().zip(t) {
            let mut m = 0.0;
            for (c, d) in p.chunks_exact(3).zip(row.chunks_exact_mut(3)) {
                let z = (x - c[1]) / c[2];
                let e = (-0.5 * z * z).exp();
                m += c[0] * e;
                d[0] = e;
                d[1] = c[0] * e * z / c[2];
                d[2] = c[0] * e * z * z / c[2];
            }
            let r = y - m;
            for i in 0..k {
                jtr[i] += row[i] * r;
                for j in 0..=i {
                    jtj[i][j] += row[i] * row[j];
                }
            }
        }
        // Mirror the lower triangle.
        for i in 1..k {
            let (upper, lower) = jtj.split_at_mut(i);
            for (j, row) in upper.iter_mut().enumerate() {
                row[i] = lower[0][j];
            }
        }
        (jtj, jtr)
    };
    for _ in 0..200 {
        let (jtj, jtr) = normal(&p);
        let mut improved = false;
        for _ in 0..12 {
            let mut a = jtj.clone();
            for (i, row) in a.iter_mut().enumerate() {
                row[i] += lambda * jtj[i][i].max(1e-12);
            }
            let Some(step) = solve_spd(&a, &jtr) else {
                lambda *= 10.0;
                continue;
            };
            let mut trial: Vec<f64> = p.iter().zip(&step).map(|(a, b)| a + b).collect();
            clamp(&mut trial);
            let r = rss_of(&trial, v, t);
            if r.is_finite() && r < rss {
                let rel = (rss - r) / rss.max(1e-300);
                p = trial;
                rss = r;
                lambda = (lambda / 10.0).max(1e-12);
                improved = true;
                if rel < 1e-10 {
                    return (p.clone(), normal(&p).0);
                }
                break;
            }
            lambda *= 10.0;
        }
        if !improved {
            break;
        }
    }
    let jtj = normal(&p).0;
    (p, jtj)
}

fn finite_pairs(v: &[f64], t: &[f64]) -> Result<(Vec<f64>, Vec<f64>), GaussError> {
    if v.len() != t.len() {
        return Err(GaussError::LengthMismatch {
            velocities: v.len(),
            values: t.len(),
        });
    }
    let (fv, ft): (Vec<f64>, Vec<f64>) = v
        .iter()
        .zip(t)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .unzip();
    if fv.len() < 8 {
        return Err(GaussError::TooFewChannels {
            finite: fv.len(),
            total: v.len(),
        });
    }
    Ok((fv, ft))
}

fn finish(p: &[f64], jtj: &[Vec<f64>], v: &[f64], t: &[f64]) -> Result<GaussFit, GaussError> {
    let n = v.len();
    let k = p.len();
    if p.iter().any(|x| !x.is_finite()) {
        return Err(GaussError::Diverged { components: k / 3 });
    }
    let rss = rss_of(p, v, t).max(1e-300);
    let dof = n.saturating_sub(k).max(1) as f64;
    let cov = invert_spd(jtj);
    let mut components: Vec<Component> = p
        .chunks_exact(3)
        .enumerate()
        .map(|(i, c)| {
            let err = |j: usize| {
                cov.as_ref()
                    .map_or(f64::NAN, |m| (m[3 * i + j][3 * i + j] * rss / dof).sqrt())
            };
            Component {
                amp_k: c[0],
                center_km_s: c[1],
                sigma_km_s: c[2],
                amp_err_k: err(0),
                center_err_km_s: err(1),
                sigma_err_km_s: err(2),
            }
        })
        .collect();
    components.sort_by(|a, b| b.amp_k.total_cmp(&a.amp_k));
    let nf = n as f64;
    let base = nf * (rss / nf).ln();
    Ok(GaussFit {
        components,
        rss,
        residual_rms_k: (rss / nf).sqrt(),
        bic: base + k as f64 * nf.ln(),
        aic: base + 2.0 * k as f64,
        n_channels: n,
    })
}

/// Fits the given components (initial guesses) to the spectrum.
pub fn fit_components(
    v_km_s: &[f64],
    t_k: &[f64],
    initial: &[Component],
    opts: &GaussOptions,
) -> Result<GaussFit, GaussError> {
    let (v, t) = finite_pairs(v_km_s, t_k)?;
    let p0: Vec<f64> = initial
        .iter()
        .flat_map(|c| [c.amp_k, c.center_km_s, c.sigma_km_s])
        .collect();
    let (p, jtj) = levenberg_marquardt(&v, &t, p0, opts, false);
    finish(&p, &jtj, &v, &t)
}

/// Robust noise estimate: 1.4826 x the median absolute difference of
/// neighbouring channels / sqrt(2) (insensitive to broad lines).
pub fn noise_rms(t: &[f64]) -> f64 {
    let mut d: Vec<f64> = t
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .filter(|x| x.is_finite())
        .collect();
    if d.is_empty() {
        return f64::NAN;
    }
    d.sort_by(f64::total_cmp);
    1.4826 * d[d.len() / 2] / std::f64::consts::SQRT_2
}

/// Forward search from `start`: components are added at the highest peak of
/// the (3-channel smoothed) residual and all refitted, keeping the fit with
/// the lowest criterion.
fn forward(
    v: &[f64],
    t: &[f64],
    noise: f64,
    dv: f64,
    opts: &GaussOptions,
    score: &dyn Fn(&GaussFit) -> f64,
    start: Vec<f64>,
) -> Option<GaussFit> {
    let mut params: Vec<f64> = Vec::new();
    let mut best: Option<GaussFit> = None;
    if !start.is_empty() {
        let (p, jtj) = fit_emission(v, t, start, opts);
        if !p.is_empty() {
            if let Ok(fit) = finish(&p, &jtj, v, t) {
                params = p;
                best = Some(fit);
            }
        }
    }
    let mut worse_in_a_row = 0;
    for _ in params.len() / 3..opts.max_components {
        // Residual, lightly smoothed (3 channels) to find the next peak.
        let resid: Vec<f64> = v
            .iter()
            .zip(t)
            .map(|(&x, &y)| y - model(&params, x))
            .collect();
        let sm: Vec<f64> = (0..resid.len())
            .map(|i| {
                let lo = i.saturating_sub(1);
                let hi = (i + 1).min(resid.len() - 1);
                resid[lo..=hi].iter().sum::<f64>() / (hi - lo + 1) as f64
            })
            .collect();
        let Some((ipk, &peak)) = sm.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)) else {
            break;
        };
        if !(peak > opts.min_snr * noise) {
            break;
        }
        // Width from the half-maximum crossings of the smoothed residual.
        let half = peak / 2.0;
        let mut lo = ipk;
        while lo > 0 && sm[lo] > half {
            lo -= 1;
        }
        let mut hi = ipk;
        while hi + 1 < sm.len() && sm[hi] > half {
            hi += 1;
        }
        let fwhm = ((hi - lo) as f64 * dv).max(2.0 * dv);
        let sigma = (fwhm / 2.3548).clamp(opts.min_sigma_km_s, opts.max_sigma_km_s);
        let mut trial = params.clone();
        trial.extend([peak, v[ipk], sigma]);
        let (p, jtj) = fit_emission(v, t, trial, opts);
        if p.is_empty() {
            break;
        }
        let Ok(fit) = finish(&p, &jtj, v, t) else {
            break;
        };
        params = p;
        let better = best.as_ref().is_none_or(|b| score(&fit) < score(b));
        if better {
            best = Some(fit);
            worse_in_a_row = 0;
        } else {
            worse_in_a_row += 1;
            if worse_in_a_row >= 2 {
                break;
            }
        }
    }
    best
}

/// Levenberg-Marquardt with non-negative amplitudes; a component driven to
/// zero carries nothing and is dropped, the rest refitted.
fn fit_emission(
    v: &[f64],
    t: &[f64],
    p0: Vec<f64>,
    opts: &GaussOptions,
) -> (Vec<f64>, Vec<Vec<f64>>) {
    let (p, jtj) = levenberg_marquardt(v, t, p0, opts, true);
    if p.chunks_exact(3).all(|c| c[0] > 0.0) {
        return (p, jtj);
    }
    let kept: Vec<f64> = p
        .chunks_exact(3)
        .filter(|c| c[0] > 0.0)
        .flatten()
        .copied()
        .collect();
    if kept.is_empty() {
        return (kept, Vec::new());
    }
    levenberg_marquardt(v, t, kept, opts, true)
}

/// One initial component on each significant peak of the spectrum (3-channel
/// smoothed): local maxima whose prominence exceeds `min_snr` times the
/// noise, the highest `max_components` of them; width from the half-maximum
/// crossings, at most the distance to the next peak.
fn peak_seeds(v: &[f64], t: &[f64], noise: f64, dv: f64, opts: &GaussOptions) -> Vec<f64> {
    let n = t.len();
    let sm: Vec<f64> = (0..n)
        .map(|i| {
            let lo = i.saturating_sub(1);
            let hi = (i + 1).min(n - 1);
            t[lo..=hi].iter().sum::<f64>() / (hi - lo + 1) as f64
        })
        .collect();
    let mut peaks: Vec<usize> = Vec::new();
    for i in 1..n.saturating_sub(1) {
        if !(sm[i] > sm[i - 1] && sm[i] >= sm[i + 1]) {
            continue;
        }
        // Prominence: the height above the higher of the two lowest points
        // reached before the spectrum rises above this peak on either side.
        let mut left = sm[i];
        for j in (0..i).rev() {
            if sm[j] > sm[i] {
                break;
            }
            left = left.min(sm[j]);
        }
        let mut right = sm[i];
        for &y in &sm[i + 1..] {
            if y > sm[i] {
                break;
            }
            right = right.min(y);
        }
        if sm[i] - left.max(right) > opts.min_snr * noise {
            peaks.push(i);
        }
    }
    peaks.sort_by(|&a, &b| sm[b].total_cmp(&sm[a]));
    peaks.truncate(opts.max_components);
    let mut p = Vec::new();
    for &i in &peaks {
        let half = sm[i] / 2.0;
        let (mut lo, mut hi) = (i, i);
        while lo > 0 && sm[lo] > half {
            lo -= 1;
        }
        while hi + 1 < n && sm[hi] > half {
            hi += 1;
        }
        let nearest = peaks
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| (v[j] - v[i]).abs())
            .fold(f64::INFINITY, f64::min);
        let fwhm = ((hi - lo) as f64 * dv).min(nearest).max(2.0 * dv);
        let sigma = (fwhm / 2.3548).clamp(opts.min_sigma_km_s, opts.max_sigma_km_s);
        p.extend([sm[i], v[i], sigma]);
    }
    p
}

/// Decomposes a (baseline-subtracted) spectrum into Gaussians: components
/// are added one at a time at the highest residual peak and all refitted;
/// the number kept minimises the chosen information criterion. A second
/// search starts from one component on each significant peak; both are
/// refined by merge and removal moves ([`refine`]) and the one with the
/// lower criterion is returned. The
/// components are emission lines: amplitudes are kept non-negative (free
/// signs let a pair of large components of opposite sign cancel, e.g.
/// +113 K and -111 K at the same centre under a 15 K line), and a component
/// driven to zero is dropped. [`fit_components`] leaves signs free.
pub fn decompose(v_km_s: &[f64], t_k: &[f64], opts: &GaussOptions) -> Result<GaussFit, GaussError> {
    let (v, t) = finite_pairs(v_km_s, t_k)?;
    let noise = noise_rms(&t);
    let dv = if v.len() > 1 {
        ((v[v.len() - 1] - v[0]) / (v.len() - 1) as f64).abs()
    } else {
        1.0
    };
    let score = |f: &GaussFit| match opts.criterion {
        Criterion::Bic => f.bic,
        Criterion::Aic => f.aic,
    };
    // Two starts: nothing (components added one at a time at the residual's
    // highest peak), and one component on every significant peak of the
    // spectrum at once (the one-at-a-time path can put a broad component
    // across two peaks first and never recover); each refined, the better
    // criterion kept.
    let mut best: Option<GaussFit> = None;
    let mut starts = vec![Vec::new()];
    let seeds = peak_seeds(&v, &t, noise, dv, opts);
    if !seeds.is_empty() {
        starts.push(seeds);
    }
    for start in starts {
        if let Some(mut f) = forward(&v, &t, noise, dv, opts, &score, start) {
            refine(&mut f, &v, &t, opts, &score);
            if best.as_ref().is_none_or(|b| score(&f) < score(b)) {
                best = Some(f);
            }
        }
    }
    match best {
        Some(b) => Ok(b),
        // No significant emission: an empty decomposition.
        None => {
            let rss: f64 = t.iter().map(|y| y * y).sum::<f64>().max(1e-300);
            let nf = v.len() as f64;
            Ok(GaussFit {
                components: Vec::new(),
                rss,
                residual_rms_k: (rss / nf).sqrt(),
                bic: nf * (rss / nf).ln(),
                aic: nf * (rss / nf).ln(),
                n_channels: v.len(),
            })
        }
    }
}

/// One Gaussian with the flux, mean and variance of two (moment matching).
fn merged(a: &Component, b: &Component) -> [f64; 3] {
    let (fa, fb) = (a.amp_k * a.sigma_km_s, b.amp_k * b.sigma_km_s);
    let f = fa + fb;
    let mean = (fa * a.center_km_s + fb * b.center_km_s) / f;
    let second = (fa * (a.sigma_km_s.powi(2) + a.center_km_s.powi(2))
        + fb * (b.sigma_km_s.powi(2) + b.center_km_s.powi(2)))
        / f;
    let sigma = (second - mean * mean).max(0.0).sqrt();
    [f / sigma, mean, sigma]
}

/// The forward search only ever adds components, each at the residual's
/// highest peak, so it can keep two components where a better optimum
/// needs one (a line split in two nearly equal halves, a broad component
/// that only took what a later narrow one explains better). Merge moves
/// (two components replaced by the one with their flux, mean and variance)
/// and removal moves are tried from the chosen fit, refitted, and kept while
/// they lower the information criterion.
fn refine(
    best: &mut GaussFit,
    v: &[f64],
    t: &[f64],
    opts: &GaussOptions,
    score: &dyn Fn(&GaussFit) -> f64,
) {
    loop {
        let c = &best.components;
        let n = c.len();
        if n < 2 {
            return;
        }
        let flat = |skip: &[usize]| -> Vec<f64> {
            c.iter()
                .enumerate()
                .filter(|(i, _)| !skip.contains(i))
                .flat_map(|(_, c)| [c.amp_k, c.center_km_s, c.sigma_km_s])
                .collect()
        };
        let mut starts: Vec<Vec<f64>> = Vec::new();
        for i in 0..n {
            starts.push(flat(&[i]));
            for j in i + 1..n {
                let mut p = flat(&[i, j]);
                p.extend(merged(&c[i], &c[j]));
                starts.push(p);
            }
        }
        let mut improved: Option<GaussFit> = None;
        for p0 in starts {
            let (p, jtj) = fit_emission(v, t, p0, opts);
            if p.is_empty() {
                continue;
            }
            let Ok(fit) = finish(&p, &jtj, v, t) else {
                continue;
            };
            let target = improved.as_ref().map_or(score(best), score);
            if score(&fit) < target {
                improved = Some(fit);
            }
        }
        match improved {
            Some(f) => *best = f,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_components_recovered_without_noise() {
        let v: Vec<f64> = (0..300).map(|i| -150.0 + i as f64).collect();
        let a = Component::new(10.0, -20.0, 5.0);
        let b = Component::new(4.0, 35.0, 12.0);
        let t: Vec<f64> = v
            .iter()
            .map(|&x| a.eval(x) + b.eval(x) + 1e-3 * (x * 7.3).sin())
            .collect();
        let f = decompose(&v, &t, &GaussOptions::default()).unwrap();
        assert!(f.components.len() >= 2);
        let s = f.components[0];
        assert!(
            (s.center_km_s + 20.0).abs() < 0.05 && (s.amp_k - 10.0).abs() < 0.05,
            "{s:?}"
        );
        let w = f.components[1];
        assert!(
            (w.center_km_s - 35.0).abs() < 0.1 && (w.sigma_km_s - 12.0).abs() < 0.1,
            "{w:?}"
        );
    }

    #[test]
    fn emission_components_stay_positive_and_moments_merge() {
        // An asymmetric line (narrow core, broad wing on one side) on noise:
        // the decomposition may use several components, none negative.
        let v: Vec<f64> = (0..300).map(|i| -150.0 + i as f64).collect();
        let core = Component::new(20.0, 0.0, 4.0);
        let wing = Component::new(8.0, 12.0, 15.0);
        let t: Vec<f64> = v
            .iter()
            .map(|&x| core.eval(x) + wing.eval(x) + 0.05 * (x * 12.9898).sin())
            .collect();
        let f = decompose(&v, &t, &GaussOptions::default()).unwrap();
        assert!(!f.components.is_empty());
        assert!(f.components.iter().all(|c| c.amp_k > 0.0), "{f:?}");
        // Merging keeps flux and mean: two halves of one line give it back.
        let m = merged(
            &Component::new(5.0, 10.0, 3.0),
            &Component::new(5.0, 10.0, 3.0),
        );
        assert!(
            (m[0] - 10.0).abs() < 1e-12
                && (m[1] - 10.0).abs() < 1e-12
                && (m[2] - 3.0).abs() < 1e-12
        );
    }

    #[test]
    fn all_nan_is_an_error() {
        let v: Vec<f64> = (0..50).map(|i| i as f64).collect();
        let t = vec![f64::NAN; 50];
        assert!(matches!(
            decompose(&v, &t, &GaussOptions::default()),
            Err(GaussError::TooFewChannels { finite: 0, .. })
        ));
    }
}
