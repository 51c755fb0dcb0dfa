//! Physical properties of the synthetic galaxies, drawn from simple
//! published scaling relations so that distributions look like DESI BGS
//! seen through FastSpecFit.
//!
//! - Stellar mass function: the double Schechter fit of Baldry et al. 2012
//!   (MNRAS 421, 621, Table 1: log M* = 10.66, phi1 = 3.96e-3, alpha1 = -0.35,
//!   phi2 = 0.79e-3, alpha2 = -1.47), truncated to 8.5 < log M < 11.8.
//! - Flux limit: r < 20.175 (the BGS faint limit, Hahn et al. 2023, AJ 165,
//!   253) with a mass-to-light relation `M_r - 5 log h = -20.8 - 2.3 (log M -
//!   10.5)` (M/L_r of about 2) for star-forming galaxies, 0.45 mag fainter when quenched, 0.15
//!   mag scatter, and K-corrections of 0.4 z (blue) / 0.9 z (red) mag. The
//!   flux limit is what makes the mass limit rise with redshift.
//! - Quenched fraction: a logistic in mass, 5 % at low mass rising to 90 %,
//!   50 % near log M = 10.5 (cf. Peng et al. 2010, ApJ 721, 193, Fig. 6).
//! - Star-forming main sequence: `log SFR = 0.76 (log M - 10) - 0.05 +
//!   2.8 log10(1 + z)`, 0.3 dex scatter (slope of Renzini & Peng 2015, ApJL
//!   801, L29; evolution (1 + z)^2.8 from Speagle et al. 2014), kept above
//!   log sSFR = -10.95; quenched galaxies at log sSFR ~ N(-12.0, 0.4) below
//!   -11.05, so the lab's cut log sSFR < -11 separates the two populations.
//! - Dn4000 = 1.30 - 0.25 (log sSFR + 10) with 0.05 scatter: about 1.2 on
//!   the main sequence and 1.8 for quenched galaxies (Kauffmann et al. 2003,
//!   MNRAS 341, 33; Brinchmann et al. 2004).
//! - Light-weighted age from Dn4000 (1-3 Gyr star-forming, 7-11 Gyr
//!   quenched), metallicity from a mass-metallicity slope of 0.2 dex/dex,
//!   velocity dispersion from the Faber-Jackson-like `log sigma = 2.05 +
//!   0.28 (log M - 10.5)`.

use rand::Rng;

use crate::VoidEffects;

/// Faint flux limit of the synthetic BGS (r-band AB magnitude).
pub(crate) const R_MAG_LIMIT: f64 = 20.175;
/// BGS_BRIGHT limit (r < 19.5).
pub(crate) const R_MAG_BRIGHT: f64 = 19.5;
pub(crate) const LOGM_MIN: f64 = 8.5;
pub(crate) const LOGM_MAX: f64 = 11.8;
/// Baldry et al. 2012 double Schechter knee (log10 Msun).
pub(crate) const LOGM_KNEE: f64 = 10.66;
const PHI1: f64 = 3.96e-3;
const ALPHA1: f64 = -0.35;
const PHI2: f64 = 0.79e-3;
const ALPHA2: f64 = -1.47;

/// Physical and photometric properties of one galaxy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Physical {
    pub logmstar: f64,
    pub quenched: bool,
    pub log_ssfr: f64,
    pub sfr_msun_yr: f64,
    pub dn4000: f64,
    pub age_gyr: f64,
    pub zzsun: f64,
    pub vdisp_km_s: f64,
    /// Rest-frame SDSS r, band-shifted to z = 0.1, h = 1 (ABSMAG01_SDSS_R).
    pub absmag_r: f64,
    /// Apparent r (AB).
    pub mag_r: f64,
    pub g_minus_r: f64,
    pub r_minus_z: f64,
}

/// Shape of the double Schechter mass function per dex (unnormalised).
fn schechter_per_dex(logm: f64, knee: f64) -> f64 {
    let x = 10f64.powf(logm - knee);
    (-x).exp() * x * (PHI1 * x.powf(ALPHA1) + PHI2 * x.powf(ALPHA2))
}

/// Draw log M from the mass function on `[lo, hi]` by rejection (the
/// function decreases with mass over this range, so its value at `lo` bounds
/// it).
fn sample_logm<R: Rng>(rng: &mut R, knee: f64, lo: f64, hi: f64) -> f64 {
    let fmax = schechter_per_dex(lo, knee);
    for _ in 0..10_000 {
        let m = rng.gen_range(lo..=hi);
        if rng.gen::<f64>() * fmax <= schechter_per_dex(m, knee) {
            return m;
        }
    }
    lo
}

/// Fraction of quenched galaxies at a stellar mass (wall galaxies).
pub(crate) fn quenched_fraction(logm: f64) -> f64 {
    0.05 + 0.85 / (1.0 + (-(logm - 10.5) / 0.25).exp())
}

/// Absolute r magnitude (h = 1) from mass, before scatter.
fn absmag_r_mean(logm: f64, quenched: bool) -> f64 {
    -20.8 - 2.3 * (logm - 10.5) + if quenched { 0.45 } else { 0.0 }
}

fn k_correction(z: f64, quenched: bool) -> f64 {
    if quenched {
        0.9 * z
    } else {
        0.4 * z
    }
}

/// Distance modulus for a luminosity distance in Mpc/h (absolute magnitudes
/// carry the usual `- 5 log h`).
pub(crate) fn distance_modulus(d_l_mpc_h: f64) -> f64 {
    5.0 * (d_l_mpc_h * 1e5).log10()
}

/// A draw from a normal truncated to `[lo, hi]` by rejection, falling back
/// to clamping after many misses (never happens for the ranges used here).
pub(crate) fn truncated_normal<R: Rng>(rng: &mut R, mean: f64, sd: f64, lo: f64, hi: f64) -> f64 {
    for _ in 0..1000 {
        let v = mean + gauss(rng, sd);
        if (lo..=hi).contains(&v) {
            return v;
        }
    }
    mean.clamp(lo, hi)
}

pub(crate) fn gauss<R: Rng>(rng: &mut R, sd: f64) -> f64 {
    let u: f64 = rng.sample(rand_distr::StandardNormal);
    u * sd
}

/// Draw one galaxy at redshift `z` that passes the flux limit.
pub(crate) fn draw_physical<R: Rng>(
    rng: &mut R,
    z: f64,
    d_l_mpc_h: f64,
    in_void: bool,
    effects: &VoidEffects,
) -> Physical {
    let knee = LOGM_KNEE
        + if in_void {
            effects.logmstar_knee_shift_dex
        } else {
            0.0
        };
    let q_ratio = if in_void {
        effects.quenched_fraction_ratio
    } else {
        1.0
    };
    let dm = distance_modulus(d_l_mpc_h);
    // The faintest absolute magnitude that can pass, and the smallest mass
    // that can reach it (star-forming, 2.5 sigma bright scatter).
    let abs_lim = R_MAG_LIMIT - dm - k_correction(z, false);
    let lo = (10.5 + (-20.8 - 2.5 * 0.15 - abs_lim) / 2.3).clamp(LOGM_MIN, LOGM_MAX - 0.3);

    let mut last = None;
    for _ in 0..200 {
        let logm = sample_logm(rng, knee, lo, LOGM_MAX);
        let quenched = rng.gen::<f64>() < (quenched_fraction(logm) * q_ratio).min(1.0);
        let absmag_r = absmag_r_mean(logm, quenched) + gauss(rng, 0.15);
        let mag_r = absmag_r + dm + k_correction(z, quenched);
        let pass = mag_r <= R_MAG_LIMIT;
        last = Some((logm, quenched, absmag_r, mag_r));
        if pass {
            break;
        }
    }
    let (logmstar, quenched, absmag_r, mag_r) = last.unwrap_or((LOGM_MAX, false, -23.0, 16.0));

    let log_ssfr = if quenched {
        truncated_normal(rng, -12.0, 0.4, -13.5, -11.05)
    } else {
        let ms = 0.76 * (logmstar - 10.0) - 0.05 + 2.8 * (1.0 + z).log10() - logmstar;
        let offset = if in_void {
            effects.sf_ssfr_offset_dex
        } else {
            0.0
        };
        truncated_normal(rng, ms + offset, 0.3, -10.95, -8.0)
    };
    let sfr_msun_yr = 10f64.powf(logmstar + log_ssfr);
    let dn4000 = (1.30 - 0.25 * (log_ssfr + 10.0) + gauss(rng, 0.05)).clamp(1.0, 2.3);
    let age_gyr = (1.0 + 10.0 * (dn4000 - 1.15) / 0.75 + gauss(rng, 0.6)).clamp(0.3, 12.5);
    let zzsun = (-0.15 + 0.2 * (logmstar - 10.5) + gauss(rng, 0.1)).clamp(-1.0, 0.3);
    let vdisp_km_s = 10f64.powf(
        2.05 + 0.28 * (logmstar - 10.5) + if quenched { 0.05 } else { 0.0 } + gauss(rng, 0.05),
    );
    let g_minus_r =
        if quenched { 0.78 } else { 0.45 } + 0.05 * (logmstar - 10.5) + gauss(rng, 0.06);
    let r_minus_z = if quenched { 0.45 } else { 0.30 } + gauss(rng, 0.05);
    Physical {
        logmstar,
        quenched,
        log_ssfr,
        sfr_msun_yr,
        dn4000,
        age_gyr,
        zzsun,
        vdisp_km_s,
        absmag_r,
        mag_r,
        g_minus_r,
        r_minus_z,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn mass_function_decreases_over_the_sampled_range() {
        let mut prev = f64::INFINITY;
        let mut m = LOGM_MIN;
        while m <= LOGM_MAX {
            let f = schechter_per_dex(m, LOGM_KNEE - 0.3);
            assert!(f < prev, "not decreasing at {m}");
            prev = f;
            m += 0.05;
        }
    }

    #[test]
    fn populations_are_separated_by_the_ssfr_cut_and_pass_the_flux_limit() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let e = VoidEffects::default();
        for i in 0..2000 {
            let z = 0.02 + 0.18 * (i as f64 / 2000.0);
            let d_l = (1.0 + z) * 2997.92458 * z; // rough, fine for this test
            let g = draw_physical(&mut rng, z, d_l, i % 2 == 0, &e);
            assert_eq!(g.quenched, g.log_ssfr < -11.0, "{g:?}");
            assert!((LOGM_MIN..=LOGM_MAX).contains(&g.logmstar));
            assert!(g.mag_r <= R_MAG_LIMIT + 1e-9, "{g:?}");
            assert!((1.0..=2.3).contains(&g.dn4000));
        }
    }
}
