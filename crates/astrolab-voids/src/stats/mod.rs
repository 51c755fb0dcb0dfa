//! Two-sample statistics for void-versus-wall comparisons.
//!
//! | module | what | reference |
//! |---|---|---|
//! | [`ks`] | two-sample Kolmogorov-Smirnov statistic and p-value | Hodges 1958; Simard & L'Ecuyer 2011; as `scipy.stats.ks_2samp(method="auto")` |
//! | [`ad`] | k-sample Anderson-Darling statistic and interpolated p-value | Scholz & Stephens 1987, JASA 82, 918; as `scipy.stats.anderson_ksamp(midrank=True)` |
//! | [`bootstrap`] | seeded percentile bootstrap intervals for medians and fractions | Efron & Tibshirani 1993, ch. 13 |
//! | [`control`] | a control sample matched in stellar mass and redshift | nearest-neighbour matching without replacement |
//!
//! Every function is deterministic: the same input gives the same bytes,
//! independent of the number of threads.

pub mod ad;
pub mod bootstrap;
pub mod control;
pub mod ks;

pub use ad::{anderson_ksamp, AndersonKSample, AD_PVALUE_CEILING, AD_PVALUE_FLOOR};
pub use bootstrap::{bootstrap_fraction_ci, bootstrap_median_ci, median, BootstrapCi};
pub use control::{match_control, ControlMatch};
pub use ks::{ks_2samp, KsMethod, KsTwoSample};

/// Errors of the statistics: which input was unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// A sample is empty (after dropping non-finite values).
    #[error("{test}: sample {index} has no finite values")]
    EmptySample {
        /// The test or estimator.
        test: &'static str,
        /// Which sample (0-based).
        index: usize,
    },
    /// A sample holds NaN or infinity.
    #[error("{test}: sample {index} holds a non-finite value at position {position}; drop NaN rows first")]
    NonFinite {
        /// The test.
        test: &'static str,
        /// Which sample (0-based).
        index: usize,
        /// Position of the first bad value.
        position: usize,
    },
    /// Fewer samples, or distinct values, than the test needs.
    #[error("{test}: {message}")]
    Degenerate {
        /// The test.
        test: &'static str,
        /// What is missing.
        message: String,
    },
}

pub(crate) fn check_finite(test: &'static str, index: usize, x: &[f64]) -> Result<(), StatsError> {
    if x.is_empty() {
        return Err(StatsError::EmptySample { test, index });
    }
    if let Some(position) = x.iter().position(|v| !v.is_finite()) {
        return Err(StatsError::NonFinite {
            test,
            index,
            position,
        });
    }
    Ok(())
}

pub(crate) fn sorted(x: &[f64]) -> Vec<f64> {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    v
}
