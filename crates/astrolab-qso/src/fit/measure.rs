//! What a quasar fit measures: line properties (FWHM, sigma, EW, peak,
//! flux), continuum luminosities, non-parametric [O III] kinematics,
//! single-epoch black-hole masses and [O III] outflow energetics.
//!
//! * **Line properties** as PyQSOFit's `line_prop` (Shen et al. 2019, sect.
//!   3.3) on the sum of a line's Gaussians: FWHM between the outermost
//!   half-maximum points over the rest wavelength, sigma the second moment,
//!   EW against the power law and Balmer continuum (Fe II excluded), peak
//!   the wavelength of the maximum. Flux is the exact integral of the
//!   Gaussians ([`crate::fit::gauss::line_flux`]) where PyQSOFit integrates
//!   by the trapezoid rule over +-3 sigma (0.27 % less).
//! * **Luminosities** `lambda L_lambda` at 1350, 3000 and 5100 A from the
//!   power law (PyQSOFit's), in a flat LambdaCDM with `H0 = 70`, `Omega_m =
//!   0.3` (no radiation, astropy's `FlatLambdaCDM(70, 0.3)`), fluxes in
//!   `1e-17 erg s^-1 cm^-2 A^-1` (SDSS, BOSS and DESI units).
//! * **[O III] 5007 kinematics**, non-parametric (Zakamska & Greene 2014,
//!   MNRAS 442, 784; Harrison et al. 2014, MNRAS 441, 3306): `v10, v50,
//!   v90` the velocities (relative to the systemic redshift, from 5008.24
//!   A) below which 10, 50 and 90 % of the line's flux lies, `W80 = v90 -
//!   v10`. Instrumental resolution is removed exactly for a sum of
//!   Gaussians: each Gaussian's sigma is replaced by
//!   `sqrt(sigma^2 - sigma_inst^2)` before the percentiles are taken (a
//!   Gaussian line convolved with a Gaussian line-spread function is a
//!   Gaussian whose variances add).
//! * **Black-hole masses** (single epoch, virial):
//!   H-beta, `log M = 6.91 + 2 log(FWHM / 1000 km/s) + 0.50 log(L5100 /
//!   1e44)` (Vestergaard & Peterson 2006, ApJ 641, 689, eq. 5);
//!   C IV, `6.66 + 2 log(FWHM / 1000) + 0.53 log(L1350 / 1e44)` (ibid., eq.
//!   7); Mg II, `6.86 + 2 log(FWHM / 1000) + 0.50 log(L3000 / 1e44)`
//!   (Vestergaard & Osmer 2009, ApJ 699, 800, eq. 1). Quoted scatter 0.43,
//!   0.36 and 0.55 dex is not in the Monte-Carlo errors.
//! * **[O III] outflow** from the wing (the outflowing gas): ionised gas
//!   mass `M = K C 10^-[O/H] (L_wing / 1e44 erg/s) (n_e / n_0)^-1 M_sun`
//!   with `(K, n_0) = (0.8e8, 500 cm^-3)` (Carniani et al. 2015, A&A 580,
//!   A102, eq. 5, the default) or `(5.33e7, 1000 cm^-3)` (Cano-Diaz et al.
//!   2012, A&A 537, L8, eq. 1); rate `Mdot = 3 M v / R` (both papers: a
//!   uniformly filled spherical or biconical volume); kinetic power `E_k =
//!   Mdot v^2 / 2`; `v = |v_wing| + 2 sigma_wing` (the maximum velocity of
//!   Rupke & Veilleux 2013, ApJ 768, 75, as Carniani et al. 2015 use it).
//!   Every one of `n_e, R, C, [O/H]`, the form and the velocity definition
//!   is in [`OutflowAssumptions`], and no extinction correction is made to
//!   `L_wing`.

// `!(x > 0.0)` is meant: it is also true for NaN, which must count as bad.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use serde::Serialize;

use crate::bal::C_KM_S;
use crate::energetics::{PC_CM, YEAR_S};
use crate::fit::gauss::line_flux;

/// Rest vacuum wavelength of [O III] 5007 (A).
pub const OIII_5007_A: f64 = 5008.24;

/// Hubble constant of the luminosities (km/s/Mpc).
pub const H0: f64 = 70.0;

/// Matter density of the luminosities.
pub const OMEGA_M: f64 = 0.3;

/// Flux unit of the spectra (erg s^-1 cm^-2 A^-1).
pub const FLUX_UNIT: f64 = 1e-17;

/// Solar luminosity-free constants: seconds per year and grams per solar
/// mass come from [`crate::energetics`].
const M_SUN_G: f64 = 1.988_409_87e33;

/// Properties of one line (or one part of it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LineProps {
    /// FWHM (km/s).
    pub fwhm_kms: f64,
    /// Second-moment width (km/s).
    pub sigma_kms: f64,
    /// Rest equivalent width (A).
    pub ew_a: f64,
    /// Rest wavelength of the peak (A).
    pub peak_a: f64,
    /// Velocity of the peak from the line's rest wavelength (km/s).
    pub peak_v_kms: f64,
    /// Flux (flux units times A; `1e-17 erg s^-1 cm^-2` for SDSS/DESI).
    pub flux: f64,
}

impl LineProps {
    /// All NaN (a line not measured).
    pub fn nan() -> Self {
        Self {
            fwhm_kms: f64::NAN,
            sigma_kms: f64::NAN,
            ew_a: f64::NAN,
            peak_a: f64::NAN,
            peak_v_kms: f64::NAN,
            flux: f64::NAN,
        }
    }
}

/// Properties of the sum of Gaussians `gauss` (`[A, mu, s]` each) of a
/// line of rest wavelength `rest`, with `continuum(lambda)` for the EW.
pub fn line_props(gauss: &[f64], rest: f64, continuum: &dyn Fn(f64) -> f64) -> LineProps {
    let lines: Vec<&[f64]> = gauss
        .chunks_exact(3)
        .filter(|g| g[0] > 0.0 && g[2] > 0.0)
        .collect();
    if lines.is_empty() {
        return LineProps {
            fwhm_kms: 0.0,
            sigma_kms: 0.0,
            ew_a: 0.0,
            peak_a: f64::NAN,
            peak_v_kms: f64::NAN,
            flux: 0.0,
        };
    }
    let left = lines
        .iter()
        .map(|g| g[1] - 5.0 * g[2])
        .fold(f64::INFINITY, f64::min);
    let right = lines
        .iter()
        .map(|g| g[1] + 5.0 * g[2])
        .fold(f64::NEG_INFINITY, f64::max);
    let smin = lines.iter().map(|g| g[2]).fold(f64::INFINITY, f64::min);
    let step = (smin / 20.0).min((right - left) / 200.0);
    let n = ((right - left) / step).ceil() as usize + 1;
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let xi = left + step * i as f64;
        let yi: f64 = lines
            .iter()
            .map(|g| g[0] * (-0.5 * ((xi - g[1]) / g[2]).powi(2)).exp())
            .sum();
        x.push(xi);
        y.push(yi);
    }
    let (imax, &ymax) = y
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .expect("non-empty grid");
    let half = 0.5 * ymax;
    // Outermost half-maximum crossings, interpolated.
    let cross = |i: usize, j: usize| {
        let t = (half - y[i]) / (y[j] - y[i]);
        (x[i] + t * (x[j] - x[i])).exp()
    };
    let lo = (0..n - 1)
        .find(|&i| y[i] < half && y[i + 1] >= half)
        .map(|i| cross(i, i + 1));
    let hi = (0..n - 1)
        .rev()
        .find(|&i| y[i] >= half && y[i + 1] < half)
        .map(|i| cross(i, i + 1));
    let fwhm = match (lo, hi) {
        (Some(l), Some(h)) => (h - l) / rest * C_KM_S,
        _ => f64::NAN,
    };
    // Moments and EW over wavelength (trapezoid on the fine grid).
    let (mut m0, mut m1, mut m2, mut ew) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..n - 1 {
        let (l0, l1) = (x[i].exp(), x[i + 1].exp());
        let dl = l1 - l0;
        let f = 0.5 * (y[i] + y[i + 1]);
        let l = 0.5 * (l0 + l1);
        m0 += f * dl;
        m1 += f * l * dl;
        m2 += f * l * l * dl;
        let c = continuum(l);
        if c > 0.0 {
            ew += f / c * dl;
        }
    }
    let sigma = (m2 / m0 - (m1 / m0).powi(2)).max(0.0).sqrt() / rest * C_KM_S;
    let flux = lines.iter().map(|g| line_flux(g[0], g[1], g[2])).sum();
    let peak_a = x[imax].exp();
    LineProps {
        fwhm_kms: fwhm,
        sigma_kms: sigma,
        ew_a: ew,
        peak_a,
        peak_v_kms: (x[imax] - rest.ln()) * C_KM_S,
        flux,
    }
}

/// Non-parametric kinematics of a line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Kinematics {
    /// Velocities at 10, 50, 90 % of the cumulative flux (km/s, from the
    /// systemic rest wavelength; negative = blue).
    pub v10: f64,
    pub v50: f64,
    pub v90: f64,
    /// `v90 - v10` (km/s).
    pub w80: f64,
    /// Whether some Gaussian was narrower than the instrument (its
    /// intrinsic width then taken as zero).
    pub unresolved: bool,
}

impl Kinematics {
    /// All NaN.
    pub fn nan() -> Self {
        Self {
            v10: f64::NAN,
            v50: f64::NAN,
            v90: f64::NAN,
            w80: f64::NAN,
            unresolved: false,
        }
    }
}

/// v10/v50/v90/W80 of the Gaussians `gauss` (`[A, mu, s]`) of a line of
/// rest wavelength `rest`, each Gaussian's sigma reduced in quadrature by
/// the instrumental `sigma_inst_kms`.
pub fn kinematics(gauss: &[f64], rest: f64, sigma_inst_kms: f64) -> Kinematics {
    let s_inst = (sigma_inst_kms / C_KM_S).max(0.0);
    let mut unresolved = false;
    // (flux weight, centre km/s, sigma km/s) per Gaussian, intrinsic.
    let comps: Vec<(f64, f64, f64)> = gauss
        .chunks_exact(3)
        .filter(|g| g[0] > 0.0 && g[2] > 0.0)
        .map(|g| {
            let s2 = g[2] * g[2] - s_inst * s_inst;
            if s2 <= 0.0 {
                unresolved = true;
            }
            let s = s2.max(0.0).sqrt();
            (
                line_flux(g[0], g[1], g[2]),
                (g[1] - rest.ln()) * C_KM_S,
                s * C_KM_S,
            )
        })
        .collect();
    let total: f64 = comps.iter().map(|c| c.0).sum();
    if comps.is_empty() || !(total > 0.0) {
        return Kinematics::nan();
    }
    let cdf = |v: f64| -> f64 {
        comps
            .iter()
            .map(|&(w, c, s)| {
                w * if s > 0.0 {
                    0.5 * (1.0 + erf((v - c) / (s * std::f64::consts::SQRT_2)))
                } else if v >= c {
                    1.0
                } else {
                    0.0
                }
            })
            .sum::<f64>()
            / total
    };
    let lo = comps
        .iter()
        .map(|c| c.1 - 10.0 * c.2 - 1.0)
        .fold(f64::INFINITY, f64::min);
    let hi = comps
        .iter()
        .map(|c| c.1 + 10.0 * c.2 + 1.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let quantile = |q: f64| {
        let (mut a, mut b) = (lo, hi);
        for _ in 0..100 {
            let m = 0.5 * (a + b);
            if cdf(m) < q {
                a = m;
            } else {
                b = m;
            }
            if b - a < 1e-6 {
                break;
            }
        }
        0.5 * (a + b)
    };
    let (v10, v50, v90) = (quantile(0.1), quantile(0.5), quantile(0.9));
    Kinematics {
        v10,
        v50,
        v90,
        w80: v90 - v10,
        unresolved,
    }
}

/// The error function (Abramowitz & Stegun 7.1.26 is too coarse for
/// percentiles of narrow lines; this is W. J. Cody's rational Chebyshev
/// form via `erfc` of Numerical Recipes 3rd ed. sect. 6.2.2, relative
/// error below 1.2e-7).
pub fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let ans = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        1.0 - ans
    } else {
        ans - 1.0
    }
}

/// Luminosity distance (cm) at `z` for `H0 = 70`, `Omega_m = 0.3`.
pub fn luminosity_distance_cm(z: f64) -> f64 {
    let cosmo = astrolab_sky::FlatLcdm::new(OMEGA_M).expect("0.3 is a valid Omega_m");
    let dc_mpc = cosmo.comoving_distance_mpc_h(z) / (H0 / 100.0);
    (1.0 + z) * dc_mpc * 1e6 * PC_CM
}

/// `log10(lambda L_lambda / erg s^-1)` at rest `lambda` of a rest-frame
/// flux density `f_rest` (flux units, already multiplied by `1 + z`).
pub fn log_lambda_l(lambda: f64, f_rest: f64, z: f64) -> f64 {
    let d = luminosity_distance_cm(z);
    let l = lambda * f_rest * FLUX_UNIT * 4.0 * std::f64::consts::PI * d * d;
    if l > 0.0 {
        l.log10()
    } else {
        f64::NAN
    }
}

/// `log10(L / erg s^-1)` of a line flux (flux units times A).
pub fn log_line_l(flux: f64, z: f64) -> f64 {
    let d = luminosity_distance_cm(z);
    let l = flux * FLUX_UNIT * 4.0 * std::f64::consts::PI * d * d;
    if l > 0.0 {
        l.log10()
    } else {
        f64::NAN
    }
}

/// A single-epoch virial calibration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VirialCalibration {
    /// Line it uses.
    pub line: &'static str,
    /// Continuum wavelength of its luminosity (A).
    pub lambda_a: f64,
    /// Zero point `a` of `a + 2 log(FWHM/1000) + b log(L/1e44)`.
    pub a: f64,
    /// Luminosity slope `b`.
    pub b: f64,
    /// Reference.
    pub reference: &'static str,
}

/// H-beta with L5100, Vestergaard & Peterson 2006 eq. 5.
pub const MBH_HBETA: VirialCalibration = VirialCalibration {
    line: "Hb_br",
    lambda_a: 5100.0,
    a: 6.91,
    b: 0.50,
    reference: "Vestergaard & Peterson 2006, ApJ 641, 689, eq. 5",
};

/// Mg II with L3000, Vestergaard & Osmer 2009 eq. 1.
pub const MBH_MGII: VirialCalibration = VirialCalibration {
    line: "MgII_br",
    lambda_a: 3000.0,
    a: 6.86,
    b: 0.50,
    reference: "Vestergaard & Osmer 2009, ApJ 699, 800, eq. 1",
};

/// C IV with L1350, Vestergaard & Peterson 2006 eq. 7.
pub const MBH_CIV: VirialCalibration = VirialCalibration {
    line: "CIV_br",
    lambda_a: 1350.0,
    a: 6.66,
    b: 0.53,
    reference: "Vestergaard & Peterson 2006, ApJ 641, 689, eq. 7",
};

/// `log10(M_BH / M_sun)` from a broad FWHM (km/s) and `log10(lambda
/// L_lambda)`; NaN when either is not positive and finite.
pub fn log_mbh(cal: &VirialCalibration, fwhm_kms: f64, log_l: f64) -> f64 {
    if !(fwhm_kms > 0.0) || !log_l.is_finite() {
        return f64::NAN;
    }
    cal.a + 2.0 * (fwhm_kms / 1000.0).log10() + cal.b * (log_l - 44.0)
}

/// Which mass formula of the ionised gas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum OutflowForm {
    /// Carniani et al. 2015, eq. 5: `0.8e8 M_sun (n_e / 500)^-1`.
    Carniani2015,
    /// Cano-Diaz et al. 2012, eq. 1: `5.33e7 M_sun (n_e / 1000)^-1`.
    CanoDiaz2012,
}

impl OutflowForm {
    fn constants(self) -> (f64, f64) {
        match self {
            Self::Carniani2015 => (0.8e8, 500.0),
            Self::CanoDiaz2012 => (5.33e7, 1000.0),
        }
    }
    /// Name in records.
    pub fn reference(self) -> &'static str {
        match self {
            Self::Carniani2015 => "Carniani et al. 2015, A&A 580, A102, eq. 5",
            Self::CanoDiaz2012 => "Cano-Diaz et al. 2012, A&A 537, L8, eq. 1",
        }
    }
}

/// Every assumption of the [O III] outflow energetics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct OutflowAssumptions {
    /// Electron density (cm^-3).
    pub n_e_cm3: f64,
    /// Outflow radius (kpc).
    pub radius_kpc: f64,
    /// Condensation factor `<n_e>^2 / <n_e^2>`.
    pub condensation: f64,
    /// Oxygen abundance relative to solar, `[O/H]` (dex).
    pub o_h: f64,
    /// Mass formula.
    pub form: OutflowForm,
}

impl Default for OutflowAssumptions {
    fn default() -> Self {
        Self {
            n_e_cm3: 500.0,
            radius_kpc: 1.0,
            condensation: 1.0,
            o_h: 0.0,
            form: OutflowForm::Carniani2015,
        }
    }
}

/// [O III] outflow energetics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OiiiOutflow {
    /// `log10(L_wing / erg s^-1)` of the [O III] 5007 wing.
    pub log_l_wing: f64,
    /// Outflow velocity `|v_wing| + 2 sigma_wing` (km/s).
    pub v_out_kms: f64,
    /// Ionised gas mass (M_sun).
    pub mass_msun: f64,
    /// Mass outflow rate (M_sun/yr).
    pub mdot_msun_yr: f64,
    /// Kinetic power (erg/s).
    pub e_kin_erg_s: f64,
}

impl OiiiOutflow {
    /// All NaN (no wing).
    pub fn nan() -> Self {
        Self {
            log_l_wing: f64::NAN,
            v_out_kms: f64::NAN,
            mass_msun: f64::NAN,
            mdot_msun_yr: f64::NAN,
            e_kin_erg_s: f64::NAN,
        }
    }
}

/// The outflow of a wing of flux `wing_flux` (flux units times A), centroid
/// `v_wing_kms` from systemic and sigma `sigma_wing_kms`, at redshift `z`.
pub fn oiii_outflow(
    wing_flux: f64,
    v_wing_kms: f64,
    sigma_wing_kms: f64,
    z: f64,
    a: &OutflowAssumptions,
) -> OiiiOutflow {
    let log_l = log_line_l(wing_flux, z);
    if !log_l.is_finite() || !(sigma_wing_kms > 0.0) || !(a.radius_kpc > 0.0) || !(a.n_e_cm3 > 0.0)
    {
        return OiiiOutflow::nan();
    }
    let (k, n0) = a.form.constants();
    let mass = k * a.condensation * 10f64.powf(-a.o_h) * 10f64.powf(log_l - 44.0) * n0 / a.n_e_cm3;
    let v = v_wing_kms.abs() + 2.0 * sigma_wing_kms;
    let r_cm = a.radius_kpc * 1e3 * PC_CM;
    let mdot_g_s = 3.0 * mass * M_SUN_G * v * 1e5 / r_cm;
    OiiiOutflow {
        log_l_wing: log_l,
        v_out_kms: v,
        mass_msun: mass,
        mdot_msun_yr: mdot_g_s * YEAR_S / M_SUN_G,
        e_kin_erg_s: 0.5 * mdot_g_s * (v * 1e5).powi(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::gauss;

    #[test]
    fn gaussian_line_properties_are_exact() {
        let rest = 5008.24;
        let g = [2.0, gauss::ln_centre(rest, 0.0), gauss::sigma_ln(500.0)];
        let p = line_props(&g, rest, &|_| 1.0);
        assert!((p.fwhm_kms - 500.0).abs() < 0.5, "{}", p.fwhm_kms);
        assert!(
            (p.sigma_kms - 500.0 / gauss::FWHM_PER_SIGMA).abs() < 0.5,
            "{}",
            p.sigma_kms
        );
        assert!((p.ew_a - p.flux).abs() / p.flux < 1e-3);
        let k = kinematics(&g, rest, 0.0);
        // W80 of a Gaussian: 2 x 1.28155 sigma.
        let s = 500.0 / gauss::FWHM_PER_SIGMA;
        assert!((k.w80 - 2.0 * 1.281_551_6 * s).abs() < 0.1, "{}", k.w80);
        assert!(k.v50.abs() < 0.1);
        // Instrumental correction: a 300 km/s sigma line seen through 100.
        let obs = (300.0f64.powi(2) + 100.0f64.powi(2)).sqrt();
        let g = [1.0, rest.ln(), obs / C_KM_S];
        let k = kinematics(&g, rest, 100.0);
        assert!((k.w80 - 2.0 * 1.281_551_6 * 300.0).abs() < 0.1, "{}", k.w80);
    }

    #[test]
    fn erf_matches_known_values() {
        for (x, e) in [
            (0.5, 0.520_499_877_8),
            (1.0, 0.842_700_792_9),
            (-2.0, -0.995_322_265),
        ] {
            assert!((erf(x) - e).abs() < 2e-7, "{x}");
        }
    }

    #[test]
    fn luminosity_distance_matches_astropy() {
        // astropy FlatLambdaCDM(H0=70, Om0=0.3).luminosity_distance(0.5)
        // = 2832.938 Mpc.
        let d = luminosity_distance_cm(0.5) / (1e6 * PC_CM);
        assert!((d - 2832.938).abs() < 0.01, "{d}");
    }

    #[test]
    fn masses_and_outflow_follow_their_formulae() {
        assert!(
            (log_mbh(&MBH_HBETA, 3000.0, 45.0) - (6.91 + 2.0 * 3f64.log10() + 0.5)).abs() < 1e-12
        );
        assert!(log_mbh(&MBH_CIV, 0.0, 45.0).is_nan());
        let a = OutflowAssumptions::default();
        // A wing of L = 1e42 erg/s: M = 0.8e8 * 0.01 M_sun at n_e = 500.
        let z = 0.1;
        let d = luminosity_distance_cm(z);
        let flux = 1e42 / (FLUX_UNIT * 4.0 * std::f64::consts::PI * d * d);
        let o = oiii_outflow(flux, -300.0, 400.0, z, &a);
        assert!((o.mass_msun - 0.8e6).abs() < 1.0, "{}", o.mass_msun);
        assert!((o.v_out_kms - 1100.0).abs() < 1e-9);
        let cano = oiii_outflow(
            flux,
            -300.0,
            400.0,
            z,
            &OutflowAssumptions {
                form: OutflowForm::CanoDiaz2012,
                ..a
            },
        );
        assert!(
            (cano.mass_msun - 5.33e7 * 0.01 * 2.0).abs() < 1.0,
            "{}",
            cano.mass_msun
        );
    }
}
