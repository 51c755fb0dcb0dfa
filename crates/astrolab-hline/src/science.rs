//! HI science from calibrated spectra: column density, high-velocity-cloud
//! candidates (deviation velocity, Wakker 1991), the inner-Galaxy rotation
//! curve by the tangent-point method, and longitude-velocity diagrams.

// `!(x > 0.0)` is meant: it also rejects NaN, which `x <= 0.0` would let through.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::gauss::Component;

/// Column density per K km/s for optically thin HI, cm^-2.
pub const HI_COLUMN_PER_K_KM_S: f64 = 1.823e18;

/// Optically thin HI column density (cm^-2) of a spectrum: 1.823e18 times
/// the integral of T dv (trapezoids over finite channels, both arrays in
/// channel order, velocities in km/s, temperatures in K), optionally
/// restricted to `[v_lo, v_hi]`.
pub fn column_density_cm2(v_km_s: &[f64], t_k: &[f64], range: Option<(f64, f64)>) -> f64 {
    let inside = |v: f64| range.is_none_or(|(a, b)| v >= a.min(b) && v <= a.max(b));
    let mut integral = 0.0;
    for i in 1..v_km_s.len().min(t_k.len()) {
        let (v0, v1, t0, t1) = (v_km_s[i - 1], v_km_s[i], t_k[i - 1], t_k[i]);
        if [v0, v1, t0, t1].iter().all(|x| x.is_finite()) && inside(v0) && inside(v1) {
            integral += 0.5 * (t0 + t1) * (v1 - v0).abs();
        }
    }
    HI_COLUMN_PER_K_KM_S * integral
}

/// Column density (cm^-2) of Gaussian components.
pub fn column_density_of_components_cm2(components: &[Component]) -> f64 {
    HI_COLUMN_PER_K_KM_S * components.iter().map(|c| c.integral_k_km_s()).sum::<f64>()
}

/// A flat rotation curve Galaxy (Wakker 1991's deviation velocity model).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GalaxyModel {
    /// Sun - Galactic centre distance, kpc (IAU 8.5).
    pub r0_kpc: f64,
    /// Circular velocity, km/s (IAU 220), the same at every radius.
    pub v0_km_s: f64,
    /// Edge of the gas disk, kpc.
    pub r_max_kpc: f64,
    /// Half thickness of the gas layer, kpc.
    pub z_max_kpc: f64,
}

impl Default for GalaxyModel {
    fn default() -> Self {
        GalaxyModel {
            r0_kpc: 8.5,
            v0_km_s: 220.0,
            r_max_kpc: 26.0,
            z_max_kpc: 3.0,
        }
    }
}

impl GalaxyModel {
    /// v_LSR of gas in circular rotation at distance `d_kpc` toward (l, b).
    pub fn v_lsr_at(&self, l_deg: f64, b_deg: f64, d_kpc: f64) -> f64 {
        let (l, b) = (l_deg.to_radians(), b_deg.to_radians());
        let dp = d_kpc * b.cos();
        let r = (self.r0_kpc * self.r0_kpc + dp * dp - 2.0 * self.r0_kpc * dp * l.cos()).sqrt();
        if r <= 0.0 {
            return 0.0;
        }
        self.v0_km_s * (self.r0_kpc / r - 1.0) * l.sin() * b.cos()
    }

    /// The range of v_LSR allowed by Galactic rotation toward (l, b): the
    /// velocities of gas within R < r_max and |z| < z_max along the line of sight.
    pub fn allowed_range_km_s(&self, l_deg: f64, b_deg: f64) -> (f64, f64) {
        let b = b_deg.to_radians();
        // Farthest distance inside the disk: |z| = d sin|b| <= z_max and R <= r_max.
        let d_z = if b.sin().abs() > 1e-9 {
            self.z_max_kpc / b.sin().abs()
        } else {
            f64::INFINITY
        };
        let l = l_deg.to_radians();
        let c = b.cos().max(1e-9);
        // R(d) = r_max: d' = r0 cos l + sqrt(r_max^2 - r0^2 sin^2 l).
        let d_r = (self.r0_kpc * l.cos()
            + (self.r_max_kpc.powi(2) - (self.r0_kpc * l.sin()).powi(2))
                .max(0.0)
                .sqrt())
            / c;
        let d_max = d_z.min(d_r).max(0.0);
        let steps = 2000;
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for i in 0..=steps {
            let v = self.v_lsr_at(l_deg, b_deg, d_max * i as f64 / steps as f64);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        (lo, hi)
    }

    /// Deviation velocity (Wakker 1991): how far v_LSR lies outside the
    /// allowed range (0 inside), signed.
    pub fn deviation_velocity_km_s(&self, l_deg: f64, b_deg: f64, v_lsr_km_s: f64) -> f64 {
        let (lo, hi) = self.allowed_range_km_s(l_deg, b_deg);
        if v_lsr_km_s < lo {
            v_lsr_km_s - lo
        } else if v_lsr_km_s > hi {
            v_lsr_km_s - hi
        } else {
            0.0
        }
    }
}

/// The conventional HVC threshold on |deviation velocity|, km/s.
pub const HVC_DEVIATION_KM_S: f64 = 50.0;

/// A component flagged as a high-velocity-cloud candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HvcCandidate {
    pub component: Component,
    pub deviation_km_s: f64,
}

/// Components whose |deviation velocity| exceeds `threshold_km_s`.
pub fn hvc_candidates(
    model: &GalaxyModel,
    l_deg: f64,
    b_deg: f64,
    components: &[Component],
    threshold_km_s: f64,
) -> Vec<HvcCandidate> {
    components
        .iter()
        .filter_map(|c| {
            let dev = model.deviation_velocity_km_s(l_deg, b_deg, c.center_km_s);
            (dev.abs() > threshold_km_s).then_some(HvcCandidate {
                component: *c,
                deviation_km_s: dev,
            })
        })
        .collect()
}

/// How the terminal (most positive) velocity of a first-quadrant spectrum is found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VmaxMethod {
    /// The centre of the most positive Gaussian component whose peak exceeds
    /// `min_amp_k` (what the SALSA observers did by hand).
    Component { min_amp_k: f64 },
    /// The most positive velocity where the spectrum exceeds `threshold_k`
    /// (contiguous with the emission: the last channel above it).
    Threshold { threshold_k: f64 },
}

/// The terminal velocity of a spectrum, or `None` when nothing qualifies.
pub fn terminal_velocity_km_s(
    v_km_s: &[f64],
    t_k: &[f64],
    components: &[Component],
    method: VmaxMethod,
) -> Option<f64> {
    match method {
        VmaxMethod::Component { min_amp_k } => components
            .iter()
            .filter(|c| c.amp_k > min_amp_k)
            .map(|c| c.center_km_s)
            .max_by(f64::total_cmp),
        VmaxMethod::Threshold { threshold_k } => v_km_s
            .iter()
            .zip(t_k)
            .filter(|(v, t)| v.is_finite() && t.is_finite() && **t > threshold_k)
            .map(|(v, _)| *v)
            .max_by(f64::total_cmp),
    }
}

/// One tangent point of the rotation curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TangentPoint {
    pub l_deg: f64,
    pub b_deg: f64,
    pub v_max_km_s: f64,
    /// R = R0 sin l, kpc.
    pub r_kpc: f64,
    /// V = v_max + V0 sin l, km/s.
    pub v_rot_km_s: f64,
}

/// The tangent point toward longitude `l_deg` (0 < l < 90 only; `None`
/// elsewhere): R = R0 sin l, V = v_max + V0 sin l.
pub fn tangent_point(
    l_deg: f64,
    b_deg: f64,
    v_max_km_s: f64,
    r0_kpc: f64,
    v0_km_s: f64,
) -> Option<TangentPoint> {
    if !(l_deg > 0.0 && l_deg < 90.0 && v_max_km_s.is_finite()) {
        return None;
    }
    let s = l_deg.to_radians().sin();
    Some(TangentPoint {
        l_deg,
        b_deg,
        v_max_km_s,
        r_kpc: r0_kpc * s,
        v_rot_km_s: v_max_km_s + v0_km_s * s,
    })
}

/// A longitude-velocity diagram on a regular grid: `t_k[iv * nl + il]`,
/// NaN where no spectrum covers the cell.
#[derive(Debug, Clone, PartialEq)]
pub struct LvDiagram {
    pub l_deg: Vec<f64>,
    pub v_km_s: Vec<f64>,
    pub t_k: Vec<f64>,
}

/// Builds an l-v diagram from spectra `(l, v axis, T)`: each spectrum is
/// linearly interpolated onto `v_grid` and placed at its longitude column
/// (sorted, one column per spectrum; duplicates at the same l are averaged).
pub fn lv_diagram(spectra: &[(f64, Vec<f64>, Vec<f64>)], v_grid: &[f64]) -> LvDiagram {
    let mut ls: Vec<f64> = spectra.iter().map(|s| s.0).collect();
    ls.sort_by(f64::total_cmp);
    ls.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
    let (nl, nv) = (ls.len(), v_grid.len());
    let mut sum = vec![0.0; nl * nv];
    let mut cnt = vec![0u32; nl * nv];
    for (l, v, t) in spectra {
        let il = ls
            .partition_point(|x| *x < *l - 1e-6)
            .min(nl.saturating_sub(1));
        // Sort the spectrum by velocity for interpolation.
        let mut pairs: Vec<(f64, f64)> = v
            .iter()
            .zip(t)
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .map(|(a, b)| (*a, *b))
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        if pairs.len() < 2 {
            continue;
        }
        for (iv, &vg) in v_grid.iter().enumerate() {
            let k = pairs.partition_point(|p| p.0 < vg);
            if k == 0 || k == pairs.len() {
                continue;
            }
            let (a, b) = (pairs[k - 1], pairs[k]);
            let w = (vg - a.0) / (b.0 - a.0);
            sum[iv * nl + il] += a.1 + w * (b.1 - a.1);
            cnt[iv * nl + il] += 1;
        }
    }
    LvDiagram {
        l_deg: ls,
        v_km_s: v_grid.to_vec(),
        t_k: sum
            .iter()
            .zip(&cnt)
            .map(|(s, &c)| if c > 0 { s / c as f64 } else { f64::NAN })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_density_of_a_gaussian() {
        let c = Component::new(10.0, 0.0, 5.0);
        let v: Vec<f64> = (0..401).map(|i| -100.0 + 0.5 * i as f64).collect();
        let t: Vec<f64> = v.iter().map(|&x| c.eval(x)).collect();
        let n1 = column_density_cm2(&v, &t, None);
        let n2 = column_density_of_components_cm2(&[c]);
        assert!((n1 / n2 - 1.0).abs() < 1e-6);
        assert!((n2 - 1.823e18 * 10.0 * 5.0 * (2.0 * std::f64::consts::PI).sqrt()).abs() < 1e12);
    }

    #[test]
    fn tangent_point_and_terminal_velocity() {
        let p = tangent_point(30.0, 0.0, 100.0, 8.5, 220.0).unwrap();
        assert!((p.r_kpc - 4.25).abs() < 1e-12 && (p.v_rot_km_s - 210.0).abs() < 1e-9);
        assert!(tangent_point(120.0, 0.0, 10.0, 8.5, 220.0).is_none());
        // Flat rotation: the model's terminal velocity toward l is V0 (1 - sin l).
        let m = GalaxyModel::default();
        let (_, hi) = m.allowed_range_km_s(30.0, 0.0);
        assert!((hi - 220.0 * (1.0 - 0.5)).abs() < 0.5, "{hi}");
    }

    #[test]
    fn deviation_velocity_flags_hvcs() {
        let m = GalaxyModel::default();
        // Toward the anticentre, rotation allows only ~0 km/s.
        assert!(m.deviation_velocity_km_s(180.0, 0.0, -150.0) < -140.0);
        assert_eq!(m.deviation_velocity_km_s(30.0, 0.0, 50.0), 0.0);
        let comps = [
            Component::new(1.0, -180.0, 10.0),
            Component::new(5.0, 0.0, 10.0),
        ];
        let h = hvc_candidates(&m, 120.0, 40.0, &comps, HVC_DEVIATION_KM_S);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].component.center_km_s, -180.0);
    }
}
