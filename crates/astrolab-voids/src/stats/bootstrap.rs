//! Seeded percentile bootstrap confidence intervals (Efron & Tibshirani
//! 1993, "An Introduction to the Bootstrap", ch. 13).
//!
//! Replicate `r` draws from its own ChaCha8 stream (`seed`, stream `r`), so
//! the interval does not depend on the number of threads. Percentiles use
//! linear interpolation between order statistics (numpy's default).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};
use rayon::prelude::*;

use super::{check_finite, StatsError};

/// A point estimate with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapCi {
    /// The estimate on the full sample.
    pub estimate: f64,
    /// Lower end of the interval.
    pub lo: f64,
    /// Upper end of the interval.
    pub hi: f64,
    /// Confidence level (e.g. 0.95).
    pub level: f64,
    /// Number of bootstrap replicates.
    pub replicates: usize,
}

/// Median (mean of the two middle values for an even count); None when empty.
pub fn median(x: &[f64]) -> Option<f64> {
    if x.is_empty() {
        return None;
    }
    let mut v = x.to_vec();
    Some(median_in_place(&mut v))
}

fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    let mid = n / 2;
    let (_, &mut hi, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    if n % 2 == 1 {
        hi
    } else {
        let lo = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lo + hi)
    }
}

/// Percentile `q` in [0, 1] of sorted values, linear interpolation.
fn percentile_sorted(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let i = pos.floor() as usize;
    let f = pos - i as f64;
    if i + 1 < v.len() {
        v[i] + f * (v[i + 1] - v[i])
    } else {
        v[i]
    }
}

fn check_level(level: f64, replicates: usize) -> Result<(), StatsError> {
    if !(level > 0.0 && level < 1.0) || replicates < 2 {
        return Err(StatsError::Degenerate {
            test: "bootstrap",
            message: format!(
                "confidence level {level} must be in (0, 1) and replicates {replicates} >= 2"
            ),
        });
    }
    Ok(())
}

fn interval(mut reps: Vec<f64>, estimate: f64, level: f64) -> BootstrapCi {
    reps.sort_by(f64::total_cmp);
    let a = (1.0 - level) / 2.0;
    BootstrapCi {
        estimate,
        lo: percentile_sorted(&reps, a),
        hi: percentile_sorted(&reps, 1.0 - a),
        level,
        replicates: reps.len(),
    }
}

/// Bootstrap interval of the median of `x`.
pub fn bootstrap_median_ci(
    x: &[f64],
    level: f64,
    replicates: usize,
    seed: u64,
) -> Result<BootstrapCi, StatsError> {
    check_finite("bootstrap median", 0, x)?;
    check_level(level, replicates)?;
    let n = x.len();
    let estimate = median(x).unwrap_or(f64::NAN);
    let reps: Vec<f64> = (0..replicates)
        .into_par_iter()
        .map(|r| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(r as u64);
            let mut v: Vec<f64> = (0..n).map(|_| x[rng.gen_range(0..n)]).collect();
            median_in_place(&mut v)
        })
        .collect();
    Ok(interval(reps, estimate, level))
}

/// Bootstrap interval of the fraction `successes / n`. Resampling n
/// Bernoulli trials with replacement makes the replicate count
/// Binomial(n, successes / n), drawn directly.
pub fn bootstrap_fraction_ci(
    successes: usize,
    n: usize,
    level: f64,
    replicates: usize,
    seed: u64,
) -> Result<BootstrapCi, StatsError> {
    if n == 0 || successes > n {
        return Err(StatsError::Degenerate {
            test: "bootstrap fraction",
            message: format!("{successes} successes out of {n} trials"),
        });
    }
    check_level(level, replicates)?;
    let p = successes as f64 / n as f64;
    let binom = Binomial::new(n as u64, p).map_err(|e| StatsError::Degenerate {
        test: "bootstrap fraction",
        message: e.to_string(),
    })?;
    let reps: Vec<f64> = (0..replicates)
        .into_par_iter()
        .map(|r| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(r as u64);
            binom.sample(&mut rng) as f64 / n as f64
        })
        .collect();
    Ok(interval(reps, p, level))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_even_and_odd() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn median_interval_covers_and_is_deterministic() {
        let x: Vec<f64> = (0..1001)
            .map(|i| (i as f64 * 0.7).sin() * 10.0 + i as f64 / 100.0)
            .collect();
        let a = bootstrap_median_ci(&x, 0.95, 400, 7).unwrap();
        let b = bootstrap_median_ci(&x, 0.95, 400, 7).unwrap();
        assert_eq!(a, b);
        assert!(a.lo <= a.estimate && a.estimate <= a.hi, "{a:?}");
        assert!(a.hi - a.lo > 0.0);
        let c = bootstrap_median_ci(&x, 0.95, 400, 8).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn fraction_interval_matches_the_normal_width() {
        // p = 0.3, n = 10 000: 95 % half-width 1.96 sqrt(p(1-p)/n) = 0.00898.
        let ci = bootstrap_fraction_ci(3000, 10_000, 0.95, 4000, 1).unwrap();
        let half = (ci.hi - ci.lo) / 2.0;
        assert!((half - 0.00898).abs() < 0.0008, "{ci:?}");
        assert!(bootstrap_fraction_ci(1, 0, 0.95, 10, 1).is_err());
    }
}
