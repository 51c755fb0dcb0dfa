//! Apparent optical depth (AOD) column densities (Savage & Sembach 1991,
//! ApJ 379, 245): `tau_a(v) = -ln F(v)` on the continuum-normalised flux,
//! `N_a(v) = (m_e c / pi e^2) tau_a(v) / (f lambda)` (their eq. 8,
//! `3.768e14 tau / (f lambda[A])` cm^-2 (km/s)^-1) and `N = int N_a dv`.
//!
//! Doublets give two measurements of one column. Unresolved saturation
//! shows as the stronger line giving the smaller column (Savage & Sembach
//! 1991, section 4); a saturated trough that does not go black is partly
//! covered, and for a 2:1 doublet the covering fraction at each velocity is
//! `C = (I_w^2 - 2 I_w + 1) / (I_s - 2 I_w + 1)` from the residual
//! intensities `I_s`, `I_w` of the strong and weak lines (Hamann et al.
//! 1997, ApJ 478, 80, eq. 3; Barlow & Sargent 1997, AJ 113, 136).
//!
//! Wavelengths and oscillator strengths: Morton (2003, ApJS 149, 205).
//! Velocities are non-relativistic, `v = c (lambda - lambda_0) / lambda_0`,
//! negative = blueshift, as in [`crate::bal`]. Doublet analysis assumes the
//! two lines' troughs do not overlap: true for absorbers narrower than the
//! doublet separation (C IV 499 km/s, Si IV 1933 km/s, N V 964 km/s,
//! Al III 1300 km/s, Mg II 769 km/s), not for broad BAL troughs, where the
//! blended column from the strong line alone is a lower limit.

// `!(x > 0.0)` is meant: it is also true for NaN, which must count as bad.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use serde::Serialize;
use thiserror::Error;

use crate::bal::C_KM_S;

/// `m_e c / (pi e^2)` in cm^-2 (km/s)^-1 A (Savage & Sembach 1991, eq. 8).
pub const AOD_CONSTANT: f64 = 3.768e14;

/// A pixel's normalised flux below this many errors (or below
/// [`SATURATION_FLOOR`]) cannot give its optical depth: the column becomes
/// a lower limit.
pub const SATURATION_SIGMAS: f64 = 3.0;
/// See [`SATURATION_SIGMAS`].
pub const SATURATION_FLOOR: f64 = 0.05;

/// One absorption line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Transition {
    /// Vacuum rest wavelength, Angstrom.
    pub wavelength_a: f64,
    /// Oscillator strength.
    pub f: f64,
}

/// A resonance doublet: the stronger (bluer) and weaker line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Doublet {
    pub ion: &'static str,
    pub strong: Transition,
    pub weak: Transition,
}

/// C IV 1548, 1550 (Morton 2003).
pub const CIV: Doublet = Doublet {
    ion: "C IV",
    strong: Transition {
        wavelength_a: 1548.204,
        f: 0.1899,
    },
    weak: Transition {
        wavelength_a: 1550.781,
        f: 0.09475,
    },
};
/// Si IV 1393, 1402 (Morton 2003).
pub const SIIV: Doublet = Doublet {
    ion: "Si IV",
    strong: Transition {
        wavelength_a: 1393.760,
        f: 0.513,
    },
    weak: Transition {
        wavelength_a: 1402.773,
        f: 0.254,
    },
};
/// N V 1238, 1242 (Morton 2003).
pub const NV: Doublet = Doublet {
    ion: "N V",
    strong: Transition {
        wavelength_a: 1238.821,
        f: 0.156,
    },
    weak: Transition {
        wavelength_a: 1242.804,
        f: 0.0777,
    },
};
/// Al III 1854, 1862 (Morton 2003).
pub const ALIII: Doublet = Doublet {
    ion: "Al III",
    strong: Transition {
        wavelength_a: 1854.718,
        f: 0.559,
    },
    weak: Transition {
        wavelength_a: 1862.791,
        f: 0.278,
    },
};
/// Mg II 2796, 2803 (Morton 2003).
pub const MGII: Doublet = Doublet {
    ion: "Mg II",
    strong: Transition {
        wavelength_a: 2796.354,
        f: 0.6155,
    },
    weak: Transition {
        wavelength_a: 2803.531,
        f: 0.3058,
    },
};

/// Why a column could not be measured.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AodError {
    #[error("arrays differ in length: wavelength {wavelength}, flux {flux}, sigma {sigma}")]
    LengthMismatch {
        wavelength: usize,
        flux: usize,
        sigma: usize,
    },
    #[error("velocity range {v_lo_km_s} to {v_hi_km_s} km/s is empty or reversed")]
    EmptyRange { v_lo_km_s: f64, v_hi_km_s: f64 },
    #[error(
        "no usable pixel (finite flux, finite positive error) between {v_lo_km_s} and \
         {v_hi_km_s} km/s of {wavelength_a} A"
    )]
    NoPixels {
        wavelength_a: f64,
        v_lo_km_s: f64,
        v_hi_km_s: f64,
    },
}

/// An integrated apparent column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Column {
    /// Column density, cm^-2 (a lower limit when `saturated`).
    pub n_cm2: f64,
    /// Its error from the flux errors, cm^-2.
    pub err_n_cm2: f64,
    /// `log10 N`, or `-inf` for a column of zero or less.
    pub log_n: f64,
    /// Some pixel too deep to measure its optical depth.
    pub saturated: bool,
    /// Pixels integrated.
    pub n_pixels: usize,
}

/// Apparent column density per unit velocity of optical depth `tau`,
/// cm^-2 (km/s)^-1.
pub fn column_per_velocity(tau: f64, line: &Transition) -> f64 {
    AOD_CONSTANT * tau / (line.f * line.wavelength_a)
}

/// Integrates the apparent column of `line` between `v_lo_km_s` and
/// `v_hi_km_s` (relative to the line) on normalised flux `norm_flux` with
/// errors `norm_sigma` at rest wavelengths `rest_a` (increasing). Pixels
/// without a finite positive error are left out.
pub fn column(
    line: &Transition,
    rest_a: &[f64],
    norm_flux: &[f64],
    norm_sigma: &[f64],
    v_lo_km_s: f64,
    v_hi_km_s: f64,
) -> Result<Column, AodError> {
    let per_pixel = optical_depths(line, rest_a, norm_flux, norm_sigma, v_lo_km_s, v_hi_km_s)?;
    let (mut tau_dv, mut var, mut saturated) = (0.0, 0.0, false);
    for p in &per_pixel {
        tau_dv += p.tau * p.dv;
        var += (p.err_tau * p.dv).powi(2);
        saturated |= p.saturated;
    }
    let scale = AOD_CONSTANT / (line.f * line.wavelength_a);
    let n_cm2 = scale * tau_dv;
    Ok(Column {
        n_cm2,
        err_n_cm2: scale * var.sqrt(),
        log_n: if n_cm2 > 0.0 {
            n_cm2.log10()
        } else {
            f64::NEG_INFINITY
        },
        saturated,
        n_pixels: per_pixel.len(),
    })
}

struct PixelTau {
    tau: f64,
    err_tau: f64,
    dv: f64,
    saturated: bool,
    flux: f64,
    sigma: f64,
}

fn optical_depths(
    line: &Transition,
    rest_a: &[f64],
    norm_flux: &[f64],
    norm_sigma: &[f64],
    v_lo_km_s: f64,
    v_hi_km_s: f64,
) -> Result<Vec<PixelTau>, AodError> {
    let n = rest_a.len();
    if norm_flux.len() != n || norm_sigma.len() != n {
        return Err(AodError::LengthMismatch {
            wavelength: n,
            flux: norm_flux.len(),
            sigma: norm_sigma.len(),
        });
    }
    if !(v_hi_km_s > v_lo_km_s) {
        return Err(AodError::EmptyRange {
            v_lo_km_s,
            v_hi_km_s,
        });
    }
    let vel = |i: usize| C_KM_S * (rest_a[i] - line.wavelength_a) / line.wavelength_a;
    let mut out = Vec::new();
    for i in 0..n {
        let v = vel(i);
        if v < v_lo_km_s || v > v_hi_km_s {
            continue;
        }
        let (f, s) = (norm_flux[i], norm_sigma[i]);
        if !f.is_finite() || !(s > 0.0) || !s.is_finite() {
            continue;
        }
        // Pixel width: half the distance to each neighbour (the end pixels
        // of the spectrum use their one neighbour).
        let dv = match (i > 0, i + 1 < n) {
            (true, true) => 0.5 * (vel(i + 1) - vel(i - 1)),
            (false, true) => vel(i + 1) - v,
            (true, false) => v - vel(i - 1),
            (false, false) => 0.0,
        };
        let floor = (SATURATION_SIGMAS * s).max(SATURATION_FLOOR);
        let saturated = f < floor;
        // Emission above the continuum counts as negative optical depth,
        // so noise averages out instead of biasing the column up.
        let fc = f.max(floor);
        out.push(PixelTau {
            tau: -fc.ln(),
            err_tau: s / fc,
            dv,
            saturated,
            flux: f,
            sigma: s,
        });
    }
    if out.is_empty() {
        return Err(AodError::NoPixels {
            wavelength_a: line.wavelength_a,
            v_lo_km_s,
            v_hi_km_s,
        });
    }
    Ok(out)
}

/// Both lines of a doublet over one velocity range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DoubletColumns {
    pub strong: Column,
    pub weak: Column,
    /// `log N(weak) - log N(strong)`, dex: 0 for resolved, unsaturated,
    /// fully covered absorption; positive under unresolved saturation.
    pub weak_minus_strong_dex: f64,
    /// Saturation holds: a line has pixels too deep to measure, or the weak
    /// line gives a column larger than the strong one by more than
    /// [`SATURATION_EXCESS_DEX`] and two errors.
    pub saturated: bool,
    /// Saturated but not black: the absorber covers only part of the source.
    pub partial_covering: bool,
    /// When saturated: the median covering fraction over the pixels where
    /// the strong line absorbs at least 10 % and the doublet formula is
    /// defined. `None` when not saturated (the formula is ill-conditioned
    /// for optically thin lines: any noise gives a spurious fraction) or no
    /// pixel qualifies.
    pub covering_fraction: Option<f64>,
    /// The best column: the weak line's when saturated (still a lower
    /// limit), else the error-weighted mean of both, cm^-2.
    pub best_n_cm2: f64,
}

/// The weak line's column may exceed the strong line's by this much (dex)
/// before the pair counts as saturated.
pub const SATURATION_EXCESS_DEX: f64 = 0.05;

/// Columns of both lines of `doublet` between `v_lo_km_s` and `v_hi_km_s`
/// (each relative to its own line), with saturation and partial-covering
/// flags.
pub fn doublet_columns(
    doublet: &Doublet,
    rest_a: &[f64],
    norm_flux: &[f64],
    norm_sigma: &[f64],
    v_lo_km_s: f64,
    v_hi_km_s: f64,
) -> Result<DoubletColumns, AodError> {
    let strong = column(
        &doublet.strong,
        rest_a,
        norm_flux,
        norm_sigma,
        v_lo_km_s,
        v_hi_km_s,
    )?;
    let weak = column(
        &doublet.weak,
        rest_a,
        norm_flux,
        norm_sigma,
        v_lo_km_s,
        v_hi_km_s,
    )?;
    let excess = weak.log_n - strong.log_n;
    // Error of the log difference from the two columns' errors.
    let err_dex = std::f64::consts::LOG10_E
        * ((strong.err_n_cm2 / strong.n_cm2).powi(2) + (weak.err_n_cm2 / weak.n_cm2).powi(2))
            .sqrt();
    let ratio_saturated =
        strong.n_cm2 > 0.0 && weak.n_cm2 > 0.0 && excess > SATURATION_EXCESS_DEX.max(2.0 * err_dex);
    let saturated = strong.saturated || weak.saturated || ratio_saturated;

    // Residual intensities of both lines at the same velocities: the weak
    // line's flux interpolated onto the strong line's pixels.
    let ps = optical_depths(
        &doublet.strong,
        rest_a,
        norm_flux,
        norm_sigma,
        v_lo_km_s,
        v_hi_km_s,
    )?;
    let mut cover = Vec::new();
    let mut min_strong = f64::INFINITY;
    let mut sigma_at_min = 0.0;
    for p in &ps {
        if p.flux < min_strong {
            min_strong = p.flux;
            sigma_at_min = p.sigma;
        }
    }
    for i in 0..rest_a.len() {
        let v = C_KM_S * (rest_a[i] - doublet.strong.wavelength_a) / doublet.strong.wavelength_a;
        if v < v_lo_km_s || v > v_hi_km_s || !norm_flux[i].is_finite() {
            continue;
        }
        let i_s = norm_flux[i];
        let w_weak = doublet.weak.wavelength_a * (1.0 + v / C_KM_S);
        let Some(i_w) = interpolate(rest_a, norm_flux, w_weak) else {
            continue;
        };
        if 1.0 - i_s < 0.1 {
            continue;
        }
        let denom = i_s - 2.0 * i_w + 1.0;
        if denom > 0.0 {
            let c = (i_w * i_w - 2.0 * i_w + 1.0) / denom;
            if c.is_finite() && c > 0.0 {
                cover.push(c.min(1.0));
            }
        }
    }
    let covering_fraction = if cover.is_empty() || !saturated {
        None
    } else {
        cover.sort_by(f64::total_cmp);
        Some(cover[cover.len() / 2])
    };
    // Black at the bottom within the errors means full covering.
    let black = min_strong < (SATURATION_SIGMAS * sigma_at_min).max(SATURATION_FLOOR);
    let partial_covering = saturated && !black;
    let best_n_cm2 = if saturated {
        weak.n_cm2
    } else {
        let (ws, ww) = (strong.err_n_cm2.powi(-2), weak.err_n_cm2.powi(-2));
        if ws.is_finite() && ww.is_finite() && ws + ww > 0.0 {
            (ws * strong.n_cm2 + ww * weak.n_cm2) / (ws + ww)
        } else {
            0.5 * (strong.n_cm2 + weak.n_cm2)
        }
    };
    Ok(DoubletColumns {
        strong,
        weak,
        weak_minus_strong_dex: excess,
        saturated,
        partial_covering,
        covering_fraction,
        best_n_cm2,
    })
}

/// Linear interpolation of `y(x)` at `x0` inside increasing `x`.
fn interpolate(x: &[f64], y: &[f64], x0: f64) -> Option<f64> {
    let j = x.partition_point(|&v| v < x0);
    if j == 0 || j >= x.len() {
        return None;
    }
    let t = (x0 - x[j - 1]) / (x[j] - x[j - 1]);
    let v = y[j - 1] + t * (y[j] - y[j - 1]);
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rest grid of 20 km/s pixels around a doublet and the normalised flux
    /// of a Gaussian absorber in `N(v)` (total column `n_cm2`, velocity
    /// dispersion `sigma_v`) at `v0`, covering fraction `c`.
    fn absorber(d: &Doublet, n_cm2: f64, v0: f64, sigma_v: f64, c: f64) -> (Vec<f64>, Vec<f64>) {
        let lo = d.strong.wavelength_a * (1.0 - 3000.0 / C_KM_S);
        let step = 1.0 + 20.0 / C_KM_S;
        let wave: Vec<f64> = (0..600).map(|i| lo * step.powi(i)).collect();
        let flux = wave
            .iter()
            .map(|&w| {
                let mut tau = 0.0;
                for line in [d.strong, d.weak] {
                    let v = C_KM_S * (w - line.wavelength_a) / line.wavelength_a;
                    let nv = n_cm2 / ((2.0 * std::f64::consts::PI).sqrt() * sigma_v)
                        * (-0.5 * ((v - v0) / sigma_v).powi(2)).exp();
                    tau += nv * line.f * line.wavelength_a / AOD_CONSTANT;
                }
                1.0 - c + c * (-tau).exp()
            })
            .collect();
        (wave, flux)
    }

    #[test]
    fn unsaturated_civ_column_is_recovered() {
        let (w, f) = absorber(&CIV, 1e14, -100.0, 40.0, 1.0);
        let s = vec![0.001; w.len()];
        let d = doublet_columns(&CIV, &w, &f, &s, -300.0, 100.0).unwrap();
        assert!((d.strong.log_n - 14.0).abs() < 0.01, "{}", d.strong.log_n);
        assert!((d.weak.log_n - 14.0).abs() < 0.01, "{}", d.weak.log_n);
        assert!(!d.saturated);
        assert!(!d.partial_covering);
    }

    #[test]
    fn unsaturated_columns_of_every_ion() {
        // Peak optical depth of the strong line about 0.3 for each ion.
        for (d, log_n) in [
            (CIV, 14.0),
            (SIIV, 13.6),
            (NV, 14.2),
            (ALIII, 13.5),
            (MGII, 13.3),
        ] {
            let (w, f) = absorber(&d, 10f64.powf(log_n), -100.0, 40.0, 1.0);
            let s = vec![0.001; w.len()];
            let c = doublet_columns(&d, &w, &f, &s, -300.0, 100.0).unwrap();
            assert!((c.best_n_cm2.log10() - log_n).abs() < 0.01, "{}", d.ion);
            assert!(!c.saturated && c.covering_fraction.is_none(), "{}", d.ion);
        }
        // The constant: N(v) for tau = 1 of C IV 1548.
        let nv = column_per_velocity(1.0, &CIV.strong);
        assert!((nv - 3.768e14 / (0.1899 * 1548.204)).abs() < 1.0);
    }

    #[test]
    fn saturated_and_partly_covered_doublet_is_flagged() {
        let (w, f) = absorber(&SIIV, 1e16, -200.0, 60.0, 0.6);
        let s = vec![0.005; w.len()];
        let d = doublet_columns(&SIIV, &w, &f, &s, -500.0, 100.0).unwrap();
        assert!(d.saturated);
        assert!(d.partial_covering);
        let c = d.covering_fraction.unwrap();
        assert!((c - 0.6).abs() < 0.05, "{c}");
        // Black and saturated: full covering.
        let (w, f) = absorber(&SIIV, 1e16, -200.0, 60.0, 1.0);
        let d = doublet_columns(&SIIV, &w, &f, &s, -500.0, 100.0).unwrap();
        assert!(d.saturated);
        assert!(!d.partial_covering);
    }

    #[test]
    fn bad_ranges_are_errors() {
        let w = vec![1540.0, 1541.0];
        let e = column(&CIV.strong, &w, &[1.0, 1.0], &[0.1, 0.1], 10.0, -10.0).unwrap_err();
        assert!(matches!(e, AodError::EmptyRange { .. }));
        let e = column(&CIV.strong, &w, &[1.0, 1.0], &[0.0, 0.0], -5000.0, 0.0).unwrap_err();
        assert!(matches!(e, AodError::NoPixels { .. }));
    }
}

/// Apparent columns of one BAL outflow: C IV, Si IV and Al III over the
/// velocity range of the quasar's strongest C IV AI trough (the one that
/// adds most to AI_CIV), each line's range taken from its own rest
/// wavelength, on the BAL fit's continuum.
///
/// Broad troughs blend the doublets' lines (module docs), so a column here
/// is the blended apparent column: with `saturated` a lower limit. An ion
/// whose range is not inside the fit window (or has no usable pixel) is
/// `None`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TroughColumns {
    /// Outflow velocities of the trough, km/s (positive): red end.
    pub vmin_km_s: f64,
    /// Blue end.
    pub vmax_km_s: f64,
    pub civ: Option<DoubletColumns>,
    pub siiv: Option<DoubletColumns>,
    pub aliii: Option<DoubletColumns>,
}

/// [`TroughColumns`] of a BAL measurement of `spec` (the spectrum given to
/// [`crate::bal::measure`]); `None` without a C IV AI trough.
pub fn trough_columns(
    bal: &crate::bal::BalResult,
    spec: &crate::bal::Spectrum<'_>,
) -> Option<TroughColumns> {
    let t = bal
        .civ
        .ai_troughs
        .iter()
        .max_by(|a, b| a.index_km_s.total_cmp(&b.index_km_s))?;
    let k0 = bal.first_pixel;
    let model = &bal.continuum.model;
    let n = bal.rest_wave_a.len();
    let norm_flux: Vec<f64> = (0..n).map(|i| spec.flux[k0 + i] / model[i]).collect();
    let norm_sigma: Vec<f64> = (0..n)
        .map(|i| {
            let iv = spec.ivar[k0 + i];
            if iv > 0.0 {
                1.0 / (iv.sqrt() * model[i])
            } else {
                f64::INFINITY
            }
        })
        .collect();
    let (lo, hi) = (
        bal.rest_wave_a.first().copied()?,
        bal.rest_wave_a.last().copied()?,
    );
    let (v_lo, v_hi) = (-t.vmax_km_s, -t.vmin_km_s);
    let of = |d: &Doublet| {
        // Both lines' ranges must lie in the fit window.
        let blue = d.strong.wavelength_a * (1.0 + v_lo / C_KM_S);
        let red = d.weak.wavelength_a * (1.0 + v_hi / C_KM_S);
        if blue < lo || red > hi {
            return None;
        }
        doublet_columns(d, &bal.rest_wave_a, &norm_flux, &norm_sigma, v_lo, v_hi).ok()
    };
    Some(TroughColumns {
        vmin_km_s: t.vmin_km_s,
        vmax_km_s: t.vmax_km_s,
        civ: of(&CIV),
        siiv: of(&SIIV),
        aliii: of(&ALIII),
    })
}
