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

/// The properties `voids compare` compares, in this order: (name, axis
/// label). `LOG_SSFR` is derived ([`log_ssfr`]).
pub const PROPERTIES: [(&str, &str); 6] = [
    ("LOGMSTAR", "log10 M* [M_sun]"),
    ("SFR", "SFR [M_sun/yr]"),
    ("LOG_SSFR", "log10 sSFR [1/yr]"),
    ("DN4000", "Dn4000"),
    ("AGE", "age [Gyr]"),
    ("ZZSUN", "Z/Z_sun"),
];

/// One classified galaxy with its FastSpecFit values (NaN where unknown).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GalaxyProperties {
    /// TARGETID.
    pub target_id: i64,
    /// vflag (0 wall, 1 void, 2 edge, 9 outside; -1 unknown).
    pub vflag: i64,
    /// Redshift.
    pub z: f64,
    /// log10 stellar mass, M_sun.
    pub logmstar: f64,
    /// Star formation rate, M_sun/yr.
    pub sfr: f64,
    /// Dn4000.
    pub dn4000: f64,
    /// Age, Gyr.
    pub age: f64,
    /// Metallicity Z/Z_sun.
    pub zzsun: f64,
}

/// One algorithm's galaxies with FastSpecFit values, split into void, wall
/// and (after [`AlgorithmSample::match_control`]) control rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlgorithmSample {
    /// TARGETID per row.
    pub target_id: Vec<i64>,
    /// vflag per row.
    pub vflag: Vec<i64>,
    /// Redshift per row.
    pub z: Vec<f64>,
    /// Values of [`PROPERTIES`], per property then row.
    pub props: Vec<Vec<f64>>,
    /// Rows of the void galaxies (vflag 1).
    pub void_rows: Vec<usize>,
    /// Rows of the wall galaxies (vflag 0).
    pub wall_rows: Vec<usize>,
    /// Rows of the control sample (wall galaxies matched to void ones).
    pub control_rows: Vec<usize>,
}

impl AlgorithmSample {
    /// The galaxies that have FastSpecFit values (a finite LOGMSTAR; the
    /// others have nothing to compare), in the given order; log sSFR of
    /// `SFR <= 0` (-inf) is NaN here, left out of the distributions.
    pub fn from_galaxies(galaxies: &[GalaxyProperties]) -> AlgorithmSample {
        let mut s = AlgorithmSample {
            props: vec![Vec::new(); PROPERTIES.len()],
            ..AlgorithmSample::default()
        };
        for g in galaxies {
            if !g.logmstar.is_finite() {
                continue;
            }
            s.target_id.push(g.target_id);
            s.vflag.push(g.vflag);
            s.z.push(g.z);
            let ls = log_ssfr(g.sfr, g.logmstar);
            let vals = [
                g.logmstar,
                g.sfr,
                if ls.is_finite() { ls } else { f64::NAN },
                g.dn4000,
                g.age,
                g.zzsun,
            ];
            for (k, v) in vals.iter().enumerate() {
                s.props[k].push(*v);
            }
        }
        for (i, &v) in s.vflag.iter().enumerate() {
            match v {
                1 => s.void_rows.push(i),
                0 => s.wall_rows.push(i),
                _ => {}
            }
        }
        s
    }

    /// Matches the control sample: wall galaxies close to void ones in
    /// stellar mass and redshift, without replacement
    /// ([`crate::stats::match_control`] with its defaults); rows ascending.
    pub fn match_control(&mut self) {
        use crate::stats::{match_control, ControlMatch};
        let pick = |rows: &[usize], col: &[f64]| rows.iter().map(|&i| col[i]).collect::<Vec<f64>>();
        let matched = match_control(
            &pick(&self.void_rows, &self.props[0]),
            &pick(&self.void_rows, &self.z),
            &pick(&self.wall_rows, &self.props[0]),
            &pick(&self.wall_rows, &self.z),
            &ControlMatch::default(),
        );
        self.control_rows = matched
            .iter()
            .flatten()
            .map(|&k| self.wall_rows[k])
            .collect();
        self.control_rows.sort_unstable();
    }

    /// Values of property `k` ([`PROPERTIES`]) at `rows`.
    pub fn values(&self, k: usize, rows: &[usize]) -> Vec<f64> {
        rows.iter().map(|&i| self.props[k][i]).collect()
    }

    /// Whether each of `rows` is quenched ([`is_quenched`]).
    pub fn quenched(&self, rows: &[usize]) -> Vec<Option<bool>> {
        rows.iter()
            .map(|&i| is_quenched(log_ssfr(self.props[1][i], self.props[0][i])))
            .collect()
    }
}

/// How published stellar masses and star formation rates agree with the
/// catalog they were taken from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// Galaxies found in the input.
    pub compared: usize,
    /// Galaxies with LOGMSTAR or log10 SFR off by more than 0.1 dex.
    pub differing: usize,
}

impl Agreement {
    /// Fraction differing.
    pub fn fraction(&self) -> f64 {
        if self.compared == 0 {
            0.0
        } else {
            self.differing as f64 / self.compared as f64
        }
    }
}

/// Compares published (LOGMSTAR, SFR) per TARGETID with `truth` (the input
/// catalog's values by TARGETID): a galaxy differs when either is off by
/// more than 0.1 dex, or known on one side only. Galaxies not in `truth`
/// are not compared.
pub fn agreement(
    truth: &std::collections::HashMap<i64, (f64, f64)>,
    target: &[i64],
    logm: &[f64],
    sfr: &[f64],
) -> Agreement {
    let mut v = Agreement {
        compared: 0,
        differing: 0,
    };
    let dex = |a: f64| if a > 0.0 { a.log10() } else { f64::NAN };
    for i in 0..target.len() {
        let Some(&(m, s)) = truth.get(&target[i]) else {
            continue;
        };
        v.compared += 1;
        let dm = (logm[i] - m).abs();
        let ds = (dex(sfr[i]) - dex(s)).abs();
        // NaN on one side only (a value lost or invented) counts as a difference.
        let off =
            |d: f64, a: f64, b: f64| d > 0.1 || (d.is_nan() && a.is_finite() != b.is_finite());
        if off(dm, logm[i], m) || off(ds, dex(sfr[i]), dex(s)) {
            v.differing += 1;
        }
    }
    v
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

    #[test]
    fn samples_keep_galaxies_with_a_mass_and_agreement_counts_dex() {
        let g = |t, v, m, sfr| GalaxyProperties {
            target_id: t,
            vflag: v,
            z: 0.1,
            logmstar: m,
            sfr,
            dn4000: 1.5,
            age: 3.0,
            zzsun: 1.0,
        };
        let s = AlgorithmSample::from_galaxies(&[
            g(1, 1, 10.0, 1.0),
            g(2, 0, f64::NAN, 1.0),
            g(3, 0, 10.05, 0.0),
            g(4, 2, 9.0, 1.0),
        ]);
        assert_eq!(s.target_id, [1, 3, 4]);
        assert_eq!(
            (s.void_rows.clone(), s.wall_rows.clone()),
            (vec![0], vec![1])
        );
        assert!(s.props[2][1].is_nan());
        assert_eq!(s.quenched(&[0, 1]), [Some(false), Some(true)]);
        let mut c = s.clone();
        c.match_control();
        assert_eq!(c.control_rows, [1]);
        let truth = std::collections::HashMap::from([(1, (10.0, 1.0)), (3, (10.2, 0.0))]);
        let a = agreement(&truth, &s.target_id, &s.props[0], &s.props[1]);
        assert_eq!((a.compared, a.differing), (2, 1));
        assert_eq!(a.fraction(), 0.5);
    }
}
