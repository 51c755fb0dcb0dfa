//! Reconstruction scores of a trained VAE ([`crate::model`]).
//!
//! Per spectrum: the latent posterior mean `mu` (Kingma & Welling 2014,
//! the input of the Isolation Forest, [`crate::iforest`]) and the reduced
//! chi-square of the reconstruction of that mean,
//! `chi2_red = sum_j ivar_j (f_j - r_j)^2 / n_obs` over the observed pixels
//! only ([`crate::model::observed`]). A spectrum without any observed pixel
//! is *unscorable*: it gets no chi-square and no latent vector, never a
//! made-up score.

//!
//! **Noise model.** The inverse variance of a spectrum says how noisy its
//! pixels are, not how well any model of 16 numbers can reproduce a quasar:
//! a bright normal quasar is reproduced to a few per cent, which its
//! inverse variance calls hundreds of sigma, so a plain chi-square ranks
//! bright normals above faint rarities. [`NoiseModel`] adds the model's own
//! fractional error in quadrature, `1/ivar_eff = 1/ivar + (eps * r)^2`
//! (the "error floor" of template fitting: e.g. Bolton et al. 2012, AJ
//! 144, 144, for the SDSS pipeline's; measured here on the labelled
//! benchmark: `examples/anomaly_variants.rs` in astrolab-pipeline, AUC
//! 0.73 without, 0.83 with eps = 0.07 on one model).
//!
//! **Local statistic.** A rarity confined to a few pixels (a narrow
//! absorber, a shifted line peak, a cosmic ray) hardly moves a chi-square
//! over two thousand pixels. [`Scores::local`] is the largest standardised
//! chi-square excess in any window of `window` consecutive grid pixels,
//! `max_w (sum_w z^2 - m) / sqrt(2 m)` over windows with at least half
//! their `m` pixels observed: a scan statistic (Glaz, Naus & Wallenstein
//! 2001, *Scan Statistics*), with the noise model's per-pixel error
//! ([`NoiseModel::pixel_error`], estimated on the training spectra so that
//! their standardised residuals have the median of normal ones), or the
//! uniform `model_error` when [`NoiseModel::local_floor`] is set.
//!
//! **Broad statistic.** A rarity spread over the whole spectrum at a
//! small fractional level (an arm-junction step of the spectrograph, a
//! dust-reddened continuum the network half reproduces) adds its signal
//! to two thousand pixels of noise in the chi-square, where it drowns.
//! [`Scores::broad`] projects the fractional residual `(f - r) / r` onto a
//! few smooth modes instead, Legendre polynomials of order 0 to
//! [`NoiseModel::broad_order`] in the position along the observed
//! pixels, and reports the chi-square the fit explains,
//! `b' A^-1 b` with `A_kl = sum_j w_j r_j^2 P_k P_l` and
//! `b_k = sum_j w_j r_j (f_j - r_j) P_k`, `w` the inverse variance with the
//! per-pixel model error: a matched filter of a handful of degrees of
//! freedom for broad-band mismatch (the likelihood-ratio test of a
//! polynomial distortion, as a template fit's multiplicative polynomial
//! in e.g. pPXF, Cappellari 2017, MNRAS 466, 798). On the labelled
//! benchmark it lifts arm steps from an AUC of 0.79 to 0.90 and reddened
//! continua from 0.77 to 0.82 in the combined score
//! (bench/RESULTS.md, 2026-12-06).

use crate::ops::VaeBackend;

use crate::dataset::Dataset;
use crate::model::{observed, Batch, Vae};

/// The scores of a data set, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// Dimension of the latent vectors.
    pub latent_dim: usize,
    /// Reduced chi-square per input row; `None` for an unscorable row.
    pub chi2_red: Vec<Option<f64>>,
    /// Observed pixels per input row.
    pub n_obs: Vec<usize>,
    /// Input row of each scorable spectrum, ascending.
    pub scorable: Vec<usize>,
    /// Local scan statistic per input row (see the module docs); `None`
    /// for an unscorable row.
    pub local: Vec<Option<f64>>,
    /// Broad statistic per input row (module docs); `None` for an
    /// unscorable row, and for every row under a noise model without
    /// [`NoiseModel::broad_order`].
    pub broad: Vec<Option<f64>>,
    /// Latent means of the scorable spectra, row-major:
    /// `latent_mean[k * latent_dim..(k + 1) * latent_dim]` is row `scorable[k]`'s.
    pub latent_mean: Vec<f32>,
}

impl Scores {
    /// The chi-squares of the scorable rows, in the order of [`Self::scorable`].
    pub fn scorable_chi2(&self) -> Vec<f64> {
        self.scorable
            .iter()
            .map(|&i| self.chi2_red[i].expect("scorable rows have a chi-square"))
            .collect()
    }

    /// The local statistics of the scorable rows, in the order of
    /// [`Self::scorable`].
    pub fn scorable_local(&self) -> Vec<f64> {
        self.scorable
            .iter()
            .map(|&i| self.local[i].expect("scorable rows have a local statistic"))
            .collect()
    }

    /// The broad statistics of the scorable rows, in the order of
    /// [`Self::scorable`]; `None` when the noise model has none.
    pub fn scorable_broad(&self) -> Option<Vec<f64>> {
        self.scorable.iter().map(|&i| self.broad[i]).collect()
    }
}

/// How far a reconstruction may stray from a normal spectrum beyond its
/// noise (module docs): a fractional error for the chi-square, and one per
/// grid pixel for the local statistic.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NoiseModel {
    /// Fractional model error of the reduced chi-square (0 = ivar alone).
    pub model_error: f64,
    /// Fractional model error per grid pixel for the local statistic;
    /// empty: `model_error` everywhere.
    pub pixel_error: Vec<f32>,
    /// Window of the local statistic, grid pixels.
    pub window: usize,
    /// The local statistic under the uniform `model_error` rather than the
    /// per-pixel error. `anomalies train` leaves it off: the uniform floor
    /// separated the 20k benchmark's rarities slightly better in Fisher's
    /// combination (AUC 0.941 against 0.933) and a small, briefly trained
    /// model's far worse (0.79 against 0.87).
    #[serde(default)]
    pub local_floor: bool,
    /// Highest Legendre order of the broad statistic (module docs); `None`:
    /// no broad statistic (models fitted before it existed).
    #[serde(default)]
    pub broad_order: Option<usize>,
}

impl Default for NoiseModel {
    /// The pure noise model: the inverse variance alone, a 5-pixel window.
    fn default() -> Self {
        NoiseModel {
            model_error: 0.0,
            pixel_error: Vec::new(),
            window: 5,
            local_floor: false,
            broad_order: None,
        }
    }
}

/// Spectra at most used by [`NoiseModel::estimate`].
const ESTIMATE_MAX_SPECTRA: usize = 5000;
/// Fewer observed samples of a pixel than this: the global `model_error`
/// stands there.
const ESTIMATE_MIN_SAMPLES: usize = 20;
/// The median of the chi-square distribution with one degree of freedom,
/// `2 (erf^-1(1/2))^2`: the median of `z^2` for a standard normal `z`.
const CHI2_1_MEDIAN: f64 = 0.454_936_423_119_572_7;
/// Bisection steps of [`NoiseModel::estimate`] on `eps^2` in `[0, 1]`:
/// 2^-40, far below an f32's resolution of the result.
const ESTIMATE_BISECTIONS: usize = 40;

impl NoiseModel {
    /// The inverse variance with the model error of `eps` added.
    #[inline]
    pub fn effective_ivar(ivar: f32, recon: f32, eps: f64) -> f64 {
        let iv = f64::from(ivar);
        let m = eps * f64::from(recon);
        iv / (1.0 + iv * m * m)
    }

    /// Estimates [`Self::pixel_error`] on (at most the first 5,000 of) the
    /// training spectra: per grid pixel, the `eps` at which the residuals
    /// standardised by the noise and the model error,
    /// `z^2 = (f - r)^2 / (1/ivar + eps^2 r^2)`, have the median a normal
    /// residual has, that of chi-square with one degree of freedom
    /// (0.455); 0 where the noise alone already leaves the median below it.
    /// Found by bisection on `eps^2` in `[0, 1]` (the median of `z^2`
    /// decreases with `eps`). The median, not the mean, so the few rarities
    /// of a training set do not set it.
    ///
    /// Why not the median of the excess `(f - r)^2 - 1/ivar` (the first
    /// version): `(f - r)^2` scatters as the noise times chi-square, whose
    /// median is below its mean, so that median is negative, clipped to 0,
    /// at most pixels (on the 5,000-quasar benchmark, every pixel's median
    /// was 0 but a few), and the local statistic stood on the inverse
    /// variance alone. This one measured 2.5 % at the median pixel, 7 % at
    /// the 90th percentile, and raised the benchmark AUC of the combined
    /// score by 0.006 to 0.009 on two models (bench/RESULTS.md).
    pub fn estimate<B: VaeBackend>(
        model: &Vae<B>,
        data: &Dataset,
        batch_size: usize,
        device: &B::Device,
        model_error: f64,
        window: usize,
    ) -> NoiseModel {
        let len = data.len;
        let rows: Vec<usize> = (0..data.n().min(ESTIMATE_MAX_SPECTRA)).collect();
        let mut recon: Vec<f32> = Vec::with_capacity(rows.len() * len);
        for chunk in rows.chunks(batch_size.max(1)) {
            recon.extend(encode_decode(model, data, chunk, device).1);
        }
        // Per pixel: (residual^2, noise variance, model^2) of each spectrum
        // observed there.
        let mut samples: Vec<(f64, f64, f64)> = Vec::with_capacity(rows.len());
        let mut z2: Vec<f64> = Vec::with_capacity(rows.len());
        let pixel_error = (0..len)
            .map(|j| {
                samples.clear();
                for &row in &rows {
                    let (f, v) = data.row(row);
                    if observed(f[j], v[j]) {
                        let r = f64::from(recon[row * len + j]);
                        let d = f64::from(f[j]) - r;
                        samples.push((d * d, 1.0 / f64::from(v[j]), r * r));
                    }
                }
                if samples.len() < ESTIMATE_MIN_SAMPLES {
                    return model_error as f32;
                }
                model_error_of(&samples, &mut z2) as f32
            })
            .collect();
        NoiseModel {
            model_error,
            pixel_error,
            window,
            local_floor: false,
            broad_order: None,
        }
    }

    fn pixel_eps(&self, j: usize) -> f64 {
        self.pixel_error
            .get(j)
            .map_or(self.model_error, |&e| f64::from(e))
    }

    /// The error of pixel `j` in the local statistic.
    fn local_eps(&self, j: usize) -> f64 {
        if self.local_floor {
            self.model_error
        } else {
            self.pixel_eps(j)
        }
    }
}

/// Highest Legendre order the broad statistic supports.
pub const BROAD_MAX_ORDER: usize = 6;

/// The broad statistic of one spectrum (module docs): the chi-square that
/// Legendre polynomials of order `0..=order` (at most
/// [`BROAD_MAX_ORDER`]) in the position along the observed pixels explain
/// in the fractional residual, weighted by `w` (effective inverse
/// variances, 0 at unobserved pixels). 0 when fewer than two pixels are
/// observed or the system is singular.
pub fn broad_statistic(flux: &[f32], recon: &[f32], w: &[f64], order: usize) -> f64 {
    let k = order.min(BROAD_MAX_ORDER) + 1;
    let first = w.iter().position(|&x| x > 0.0);
    let last = w.iter().rposition(|&x| x > 0.0);
    let (Some(a), Some(b)) = (first, last) else {
        return 0.0;
    };
    if b <= a {
        return 0.0;
    }
    let mut m = [[0.0f64; BROAD_MAX_ORDER + 1]; BROAD_MAX_ORDER + 1];
    let mut rhs = [0.0f64; BROAD_MAX_ORDER + 1];
    let mut p = [0.0f64; BROAD_MAX_ORDER + 1];
    for j in a..=b {
        if w[j] <= 0.0 {
            continue;
        }
        let t = 2.0 * (j - a) as f64 / (b - a) as f64 - 1.0;
        // Legendre polynomials by Bonnet's recursion.
        p[0] = 1.0;
        if k > 1 {
            p[1] = t;
        }
        for n in 2..k {
            p[n] = ((2 * n - 1) as f64 * t * p[n - 1] - (n - 1) as f64 * p[n - 2]) / n as f64;
        }
        let r = f64::from(recon[j]);
        let d = f64::from(flux[j]) - r;
        for u in 0..k {
            let x = w[j] * r * p[u];
            rhs[u] += x * d;
            for v in 0..=u {
                m[u][v] += x * r * p[v];
            }
        }
    }
    // Cholesky of the normal matrix, then b' A^-1 b = |L^-1 b|^2.
    let mut l = [[0.0f64; BROAD_MAX_ORDER + 1]; BROAD_MAX_ORDER + 1];
    let scale = (0..k).map(|u| m[u][u]).fold(0.0f64, f64::max);
    for u in 0..k {
        for v in 0..=u {
            let s: f64 = m[u][v] - (0..v).map(|q| l[u][q] * l[v][q]).sum::<f64>();
            if u == v {
                if s <= 1e-12 * scale || s <= 0.0 {
                    return 0.0;
                }
                l[u][u] = s.sqrt();
            } else {
                l[u][v] = s / l[v][v];
            }
        }
    }
    let mut y = [0.0f64; BROAD_MAX_ORDER + 1];
    let mut explained = 0.0;
    for u in 0..k {
        y[u] = (rhs[u] - (0..u).map(|q| l[u][q] * y[q]).sum::<f64>()) / l[u][u];
        explained += y[u] * y[u];
    }
    explained
}

/// The fractional model error of one pixel from its `(residual^2, noise
/// variance, model^2)` samples ([`NoiseModel::estimate`]); `z2` is scratch.
fn model_error_of(samples: &[(f64, f64, f64)], z2: &mut Vec<f64>) -> f64 {
    let mut median_z2 = |eps2: f64| {
        z2.clear();
        z2.extend(samples.iter().map(|&(d2, n, r2)| d2 / (n + eps2 * r2)));
        let k = z2.len() / 2;
        *z2.select_nth_unstable_by(k, f64::total_cmp).1
    };
    if median_z2(0.0) <= CHI2_1_MEDIAN {
        return 0.0;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..ESTIMATE_BISECTIONS {
        let mid = 0.5 * (lo + hi);
        if median_z2(mid) > CHI2_1_MEDIAN {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (0.5 * (lo + hi)).sqrt()
}

/// The largest standardised chi-square excess over `window` consecutive
/// pixels with at least half of them observed (0, no excess, when no
/// window qualifies).
fn scan_statistic(z2: &[f64], seen: &[bool], window: usize) -> f64 {
    let n = z2.len();
    let w = window.clamp(1, n.max(1));
    let (mut s, mut c) = (vec![0.0f64; n + 1], vec![0usize; n + 1]);
    for j in 0..n {
        s[j + 1] = s[j] + if seen[j] { z2[j] } else { 0.0 };
        c[j + 1] = c[j] + usize::from(seen[j]);
    }
    let mut best = f64::NEG_INFINITY;
    for a in 0..=n.saturating_sub(w) {
        let m = c[a + w] - c[a];
        if m == 0 || 2 * m < w {
            continue;
        }
        best = best.max((s[a + w] - s[a] - m as f64) / (2.0 * m as f64).sqrt());
    }
    if best.is_finite() {
        best
    } else {
        0.0
    }
}

/// Scoring was asked of data the model cannot take.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot score: {0}")]
pub struct ScoreError(pub String);

/// Scores `data` with `model`, `batch_size` spectra at a time, under the
/// pure noise model (the inverse variance alone).
pub fn score<B: VaeBackend>(
    model: &Vae<B>,
    data: &Dataset,
    batch_size: usize,
    device: &B::Device,
) -> Result<Scores, ScoreError> {
    score_with(model, data, batch_size, device, &NoiseModel::default())
}

/// [`score_with`] on `threads` threads (each with its own copy of the
/// model), each scoring a contiguous share of
/// the rows: a row's scores do not depend on the rows batched with it, so
/// the result is the same for any thread count (a test checks it).
pub fn score_threads<B: VaeBackend>(
    model: &Vae<B>,
    data: &Dataset,
    batch_size: usize,
    device: &B::Device,
    noise: &NoiseModel,
    threads: usize,
) -> Result<Scores, ScoreError>
where
    Vae<B>: Clone + Send,
{
    let threads = threads.clamp(1, data.n().max(1));
    if threads == 1 {
        return score_with(model, data, batch_size, device, noise);
    }
    let per = data.n().div_ceil(threads);
    let parts: Vec<Result<Scores, ScoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let rows: Vec<usize> = (t * per..((t + 1) * per).min(data.n())).collect();
                // Each thread its own copy: burn's modules cache lazily and
                // are not shared between threads.
                let (m, dev) = (model.clone(), device.clone());
                s.spawn(move || score_with(&m, &data.subset(&rows), batch_size, &dev, noise))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a scoring thread panicked"))
            .collect()
    });
    let mut out = Scores {
        latent_dim: model.config().latent_dim,
        chi2_red: Vec::with_capacity(data.n()),
        local: Vec::with_capacity(data.n()),
        broad: Vec::with_capacity(data.n()),
        n_obs: Vec::with_capacity(data.n()),
        scorable: Vec::new(),
        latent_mean: Vec::new(),
    };
    for (t, part) in parts.into_iter().enumerate() {
        let p = part?;
        let offset = t * per;
        out.chi2_red.extend(p.chi2_red);
        out.local.extend(p.local);
        out.broad.extend(p.broad);
        out.n_obs.extend(p.n_obs);
        out.scorable.extend(p.scorable.iter().map(|r| r + offset));
        out.latent_mean.extend(p.latent_mean);
    }
    Ok(out)
}

/// Scores `data` with `model` under `noise`, `batch_size` spectra at a time.
pub fn score_with<B: VaeBackend>(
    model: &Vae<B>,
    data: &Dataset,
    batch_size: usize,
    device: &B::Device,
    noise: &NoiseModel,
) -> Result<Scores, ScoreError> {
    let len = model.config().len;
    if data.len != len {
        return Err(ScoreError(format!(
            "the spectra have {} pixels but the model expects {len}",
            data.len
        )));
    }
    if batch_size == 0 {
        return Err(ScoreError("batch_size must be at least 1".into()));
    }
    let latent_dim = model.config().latent_dim;
    let n_obs: Vec<usize> = (0..data.n())
        .map(|i| {
            let (f, v) = data.row(i);
            f.iter().zip(v).filter(|(&f, &v)| observed(f, v)).count()
        })
        .collect();
    let scorable: Vec<usize> = (0..data.n()).filter(|&i| n_obs[i] > 0).collect();
    let mut chi2_red = vec![None; data.n()];
    let mut local = vec![None; data.n()];
    let mut broad = vec![None; data.n()];
    let mut z2 = vec![0.0f64; len];
    let mut w_broad = vec![0.0f64; len];
    let mut seen = vec![false; len];
    let mut latent_mean = Vec::with_capacity(scorable.len() * latent_dim);
    for rows in scorable.chunks(batch_size) {
        let (mu, recon) = encode_decode(model, data, rows, device);
        latent_mean.extend(mu);
        for (b, &row) in rows.iter().enumerate() {
            let (f, v) = data.row(row);
            let r = &recon[b * len..(b + 1) * len];
            let mut chi2 = 0.0f64;
            for j in 0..len {
                seen[j] = observed(f[j], v[j]);
                if !seen[j] {
                    z2[j] = 0.0;
                    w_broad[j] = 0.0;
                    continue;
                }
                let d2 = (f64::from(f[j]) - f64::from(r[j])).powi(2);
                chi2 += NoiseModel::effective_ivar(v[j], r[j], noise.model_error) * d2;
                z2[j] = NoiseModel::effective_ivar(v[j], r[j], noise.local_eps(j)) * d2;
                w_broad[j] = NoiseModel::effective_ivar(v[j], r[j], noise.pixel_eps(j));
            }
            chi2_red[row] = Some(chi2 / n_obs[row] as f64);
            local[row] = Some(scan_statistic(&z2, &seen, noise.window));
            broad[row] = noise
                .broad_order
                .map(|order| broad_statistic(f, r, &w_broad, order));
        }
    }
    Ok(Scores {
        latent_dim,
        chi2_red,
        local,
        broad,
        n_obs,
        scorable,
        latent_mean,
    })
}

/// The latent means of `rows` of `data` and the decoded spectra of those
/// means, row-major (`rows.len() * latent_dim` and `rows.len() * len`
/// values): what [`score`] measures, and what a page draws beside the
/// spectrum.
pub fn encode_decode<B: VaeBackend>(
    model: &Vae<B>,
    data: &Dataset,
    rows: &[usize],
    device: &B::Device,
) -> (Vec<f32>, Vec<f32>) {
    let batch = Batch::<B>::from_rows(data, rows, device);
    let (mu, _) = model.encode(batch.flux, batch.mask);
    let recon: Vec<f32> = model
        .decode(mu.clone())
        .into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32 data");
    let mu: Vec<f32> = mu.into_data().convert::<f32>().iter::<f32>().collect();
    (mu, recon)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    #[test]
    fn the_model_error_is_recovered_from_residuals_beside_noise() {
        // 4,000 spectra of model flux 2 and noise sigma 0.1 at one pixel,
        // with a 5 % model error, then none; 2 % of gross outliers
        // (rarities) in both.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut g = || -> f64 { StandardNormal.sample(&mut rng) };
        let samples = |eps: f64, g: &mut dyn FnMut() -> f64| -> Vec<(f64, f64, f64)> {
            (0..4000)
                .map(|i| {
                    let outlier = if i % 50 == 0 { 3.0 } else { 0.0 };
                    let d = eps * 2.0 * g() + 0.1 * g() + outlier;
                    (d * d, 0.01, 4.0)
                })
                .collect()
        };
        let mut z2 = Vec::new();
        let with = model_error_of(&samples(0.05, &mut g), &mut z2);
        assert!((with - 0.05).abs() < 0.004, "{with}");
        // Noise alone: about 0.01, what the outliers' 2 % shift of the
        // median is worth (the chi-square quantile 0.51 instead of 0.50).
        let without = model_error_of(&samples(0.0, &mut g), &mut z2);
        assert!(without < 0.02, "{without}");
    }
    use crate::model::VaeConfig;
    use crate::CpuBackend;

    #[test]
    fn chi_square_counts_observed_pixels_only() {
        let device = Default::default();
        let cfg = VaeConfig {
            len: 8,
            latent_dim: 2,
            conv_channels: vec![2],
            kernel_size: 3,
            enc_hidden: 4,
            dec_hidden: vec![4],
        };
        let m = Vae::<CpuBackend>::new(&cfg, 5, &device).unwrap();
        let mut d = Dataset::new(8);
        let f = [1.0, 2.0, 0.5, 0.0, 1.0, 3.0, 1.0, 1.0];
        d.push(10, &f, &[1.0, 4.0, 0.0, 0.0, 2.0, 1.0, 1.0, 1.0]);
        d.push(11, &[0.0; 8], &[0.0; 8]); // nothing observed
        d.push(12, &[f32::NAN; 8], &[1.0; 8]); // NaN flux counts as missing
        d.push(13, &f, &[1.0; 8]);
        let s = score(&m, &d, 3, &device).unwrap();
        assert_eq!(s.n_obs, vec![6, 0, 0, 8]);
        assert_eq!(s.scorable, vec![0, 3]);
        assert_eq!(s.chi2_red[1], None);
        assert_eq!(s.chi2_red[2], None);
        assert_eq!(s.latent_mean.len(), 4);
        // Recompute row 0 by hand from the decoded mean.
        let batch = Batch::<CpuBackend>::from_rows(&d, &[0], &device);
        let (mu, _) = m.encode(batch.flux, batch.mask);
        assert_eq!(
            mu.clone().into_data().to_vec::<f32>().unwrap(),
            s.latent_mean[..2]
        );
        let r: Vec<f32> = m.decode(mu).into_data().to_vec().unwrap();
        let v = [1.0, 4.0, 0.0, 0.0, 2.0, 1.0, 1.0, 1.0];
        let chi2: f64 = (0..8)
            .filter(|&j| v[j] > 0.0)
            .map(|j| v[j] * (f64::from(f[j]) - f64::from(r[j])).powi(2))
            .sum();
        assert_eq!(s.chi2_red[0], Some(chi2 / 6.0));
        assert_eq!(s.scorable_chi2(), vec![chi2 / 6.0, s.chi2_red[3].unwrap()]);
        // Batch size does not change the scores, nor does the thread count.
        assert_eq!(score(&m, &d, 1, &device).unwrap(), s);
        let noise = NoiseModel::default();
        for t in [2, 3, 4, 9] {
            assert_eq!(
                score_threads(&m, &d, 3, &device, &noise, t).unwrap(),
                s,
                "{t} threads"
            );
        }
        assert_eq!(
            score(&m, &Dataset::new(9), 3, &device)
                .unwrap_err()
                .to_string(),
            "cannot score: the spectra have 9 pixels but the model expects 8"
        );
    }

    #[test]
    fn the_noise_model_and_the_scan_statistic() {
        // No model error: the inverse variance itself, to the bit.
        assert_eq!(NoiseModel::effective_ivar(4.0, 2.0, 0.0), 4.0);
        // 1/ivar_eff = 1/4 + (0.1 * 2)^2 = 0.29.
        let e = NoiseModel::effective_ivar(4.0, 2.0, 0.1);
        assert!((1.0 / e - 0.29).abs() < 1e-12, "{e}");
        // A window of 5 pixels each 9 sigma^2 off among ordinary ones:
        // (45 - 5) / sqrt(10).
        let mut z2 = vec![1.0; 100];
        for z in &mut z2[40..45] {
            *z = 9.0;
        }
        let seen = vec![true; 100];
        assert_eq!(scan_statistic(&z2, &seen, 5), 40.0 / 10f64.sqrt());
        // Windows with fewer than half their pixels observed do not count;
        // none left: no excess.
        let few = vec![false; 100];
        assert_eq!(scan_statistic(&z2, &few, 5), 0.0);
    }

    #[test]
    fn the_broad_statistic_explains_a_polynomial_residual_whole() {
        // A model of 2 with a residual that is a cubic in the pixel
        // position: a fit of order 3 or more explains all of its
        // chi-square; unobserved pixels (weight 0) do not count, however
        // far off they are.
        let n = 500;
        let recon = vec![2.0f32; n];
        let t = |j: usize| 2.0 * j as f64 / (n - 1) as f64 - 1.0;
        let flux: Vec<f32> = (0..n)
            .map(|j| (2.0 * (1.02 + 0.05 * (2.5 * t(j).powi(3) - 1.5 * t(j)))) as f32)
            .collect();
        let w: Vec<f64> = (0..n).map(|j| 1.0 + (j % 7) as f64).collect();
        let total: f64 = (0..n)
            .map(|j| w[j] * (f64::from(flux[j]) - 2.0).powi(2))
            .sum();
        for order in [3, 4, 6] {
            let b = broad_statistic(&flux, &recon, &w, order);
            assert!(
                (b - total).abs() <= 1e-9 * total,
                "order {order}: {b} vs {total}"
            );
        }
        // The residual is a constant plus 0.05 P3: a straight line explains
        // the constant's share (0.02^2 of 0.02^2 + 0.05^2 / 7, 53 %) and
        // little of P3, which is orthogonal to it.
        let b1 = broad_statistic(&flux, &recon, &w, 1);
        assert!(b1 < 0.6 * total, "{b1} vs {total}");
        // An unobserved pixel with a wild value changes nothing but the
        // span the polynomials are defined on, which is unchanged here.
        let (mut f2, mut w2) = (flux.clone(), w.clone());
        f2[250] = 1e6;
        w2[250] = 0.0;
        let b = broad_statistic(&f2, &recon, &w2, 4);
        let total2 = total - w[250] * (f64::from(flux[250]) - 2.0).powi(2);
        assert!((b - total2).abs() <= 1e-9 * total2, "{b} vs {total2}");
        // Nothing observed, or one pixel: no statistic.
        assert_eq!(broad_statistic(&flux, &recon, &vec![0.0; n], 4), 0.0);
        let mut one = vec![0.0; n];
        one[3] = 1.0;
        assert_eq!(broad_statistic(&flux, &recon, &one, 4), 0.0);
    }
}
