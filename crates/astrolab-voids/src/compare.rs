//! Void galaxies against wall galaxies and against a matched control
//! sample: per property, medians with bootstrap intervals, the two-sample
//! KS test and the k-sample Anderson-Darling test; per population, the
//! quenched fraction with its bootstrap interval.
//!
//! Derived quantities (FastSpecFit v3.0 units: `SFR` in M_sun/yr, linear;
//! `LOGMSTAR` in log10 M_sun): `log sSFR = log10(SFR) - LOGMSTAR` (yr^-1);
//! quenched means `log sSFR < -11` (a common cut, e.g. Wetzel et al.
//! 2013). A galaxy with `SFR <= 0` has `log sSFR = -inf`: it counts as
//! quenched and is left out of the sSFR distributions (which need finite
//! values). Missing values (NaN) are dropped per property, so each row of
//! the summary reports its own sample sizes.

use crate::stats::{
    anderson_ksamp, bootstrap_fraction_ci, bootstrap_median_ci, ks_2samp, AndersonKSample,
    BootstrapCi, KsMethod, KsTwoSample, StatsError,
};

/// The quenched cut on log sSFR (yr^-1).
pub const QUENCHED_LOG_SSFR: f64 = -11.0;

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareConfig {
    /// Confidence level of the intervals (default 0.95).
    pub level: f64,
    /// Bootstrap replicates (default 1000).
    pub replicates: usize,
    /// RNG seed (default 42).
    pub seed: u64,
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            level: 0.95,
            replicates: 1000,
            seed: 42,
        }
    }
}

/// One property compared between two populations.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyComparison {
    /// Property name (LOGMSTAR, SFR, ...).
    pub property: String,
    /// Finite values in the first (void) population.
    pub n_a: usize,
    /// Finite values in the second population.
    pub n_b: usize,
    /// Median of the first population with its interval.
    pub median_a: BootstrapCi,
    /// Median of the second population with its interval.
    pub median_b: BootstrapCi,
    /// Two-sample KS test.
    pub ks: KsTwoSample,
    /// Anderson-Darling test (None with fewer than 4 values or one distinct value).
    pub ad: Option<AndersonKSample>,
}

/// A fraction compared between two populations.
#[derive(Debug, Clone, PartialEq)]
pub struct FractionComparison {
    /// What is counted (e.g. "quenched").
    pub name: String,
    /// Fraction in the first population.
    pub a: BootstrapCi,
    /// Fraction in the second population.
    pub b: BootstrapCi,
    /// Trials in each population.
    pub n_a: usize,
    /// Trials in the second population.
    pub n_b: usize,
}

fn finite(x: &[f64]) -> Vec<f64> {
    x.iter().copied().filter(|v| v.is_finite()).collect()
}

/// Compares one property; non-finite values are dropped first. Seeds of
/// the two bootstraps differ so that the intervals are independent.
pub fn compare_property(
    property: &str,
    a: &[f64],
    b: &[f64],
    cfg: &CompareConfig,
) -> Result<PropertyComparison, StatsError> {
    let (fa, fb) = (finite(a), finite(b));
    let ks = ks_2samp(&fa, &fb, KsMethod::Auto)?;
    let ad = anderson_ksamp(&[&fa, &fb]).ok();
    Ok(PropertyComparison {
        property: property.to_string(),
        n_a: fa.len(),
        n_b: fb.len(),
        median_a: bootstrap_median_ci(&fa, cfg.level, cfg.replicates, cfg.seed)?,
        median_b: bootstrap_median_ci(&fb, cfg.level, cfg.replicates, cfg.seed ^ 0x9e37_79b9)?,
        ks,
        ad,
    })
}

/// Compares a yes/no property; `None` entries (unknown) are dropped.
pub fn compare_fraction(
    name: &str,
    a: &[Option<bool>],
    b: &[Option<bool>],
    cfg: &CompareConfig,
) -> Result<FractionComparison, StatsError> {
    let count = |x: &[Option<bool>]| {
        let known: Vec<bool> = x.iter().flatten().copied().collect();
        (known.iter().filter(|&&v| v).count(), known.len())
    };
    let (ka, na) = count(a);
    let (kb, nb) = count(b);
    Ok(FractionComparison {
        name: name.to_string(),
        a: bootstrap_fraction_ci(ka, na, cfg.level, cfg.replicates, cfg.seed)?,
        b: bootstrap_fraction_ci(kb, nb, cfg.level, cfg.replicates, cfg.seed ^ 0x9e37_79b9)?,
        n_a: na,
        n_b: nb,
    })
}

/// `log10(SFR) - LOGMSTAR`; `-inf` for `SFR <= 0`, NaN when unknown.
pub fn log_ssfr(sfr_msun_yr: f64, logmstar: f64) -> f64 {
    if !(sfr_msun_yr.is_finite() && logmstar.is_finite()) {
        return f64::NAN;
    }
    if sfr_msun_yr <= 0.0 {
        return f64::NEG_INFINITY;
    }
    sfr_msun_yr.log10() - logmstar
}

/// Whether a galaxy is quenched (`log sSFR < -11`); None when unknown.
pub fn is_quenched(log_ssfr: f64) -> Option<bool> {
    (!log_ssfr.is_nan()).then_some(log_ssfr < QUENCHED_LOG_SSFR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssfr_and_quenching() {
        assert!((log_ssfr(1.0, 10.0) + 10.0).abs() < 1e-15);
        assert_eq!(log_ssfr(0.0, 10.0), f64::NEG_INFINITY);
        assert_eq!(is_quenched(log_ssfr(0.0, 10.0)), Some(true));
        assert_eq!(is_quenched(log_ssfr(1.0, 10.0)), Some(false));
        assert_eq!(is_quenched(log_ssfr(f64::NAN, 10.0)), None);
    }

    #[test]
    fn a_shift_is_detected_and_nan_dropped() {
        let a: Vec<f64> = (0..300)
            .map(|i| (i as f64 * 0.37).sin() + 0.5)
            .chain([f64::NAN])
            .collect();
        let b: Vec<f64> = (0..400).map(|i| (i as f64 * 0.53).sin()).collect();
        let cfg = CompareConfig {
            replicates: 200,
            ..Default::default()
        };
        let r = compare_property("X", &a, &b, &cfg).unwrap();
        assert_eq!(r.n_a, 300);
        assert!(r.ks.pvalue < 1e-6, "{:?}", r.ks);
        assert!(r.median_a.estimate > r.median_b.estimate);
        let f = compare_fraction(
            "q",
            &[Some(true), Some(false), None],
            &[Some(false); 4],
            &cfg,
        )
        .unwrap();
        assert_eq!((f.n_a, f.n_b), (2, 4));
        assert_eq!(f.a.estimate, 0.5);
    }
}
