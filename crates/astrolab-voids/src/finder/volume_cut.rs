//! Dropping holes with too much volume outside the survey (VAST's
//! `volume_cut.py::check_hole_bounds` and `_vol_cut_cython.pyx`).
//!
//! VAST's method, reproduced point for point: 20 points on the hole's
//! surface by the golden spiral; when all are inside the mask the hole is
//! kept. Otherwise the hole is filled with a fixed cubic mesh of spacing
//! `1 / pts_per_unit_volume^0.33` (0.01 per (Mpc/h)^3: 4.6 Mpc/h) built
//! once around the largest hole and sorted by radius; the hole is dropped
//! when at least `ceil(cut_pct * N)` of its `N` mesh points are outside.

use rayon::prelude::*;

use crate::mask::SurveyMask;

/// Golden-spiral points on the unit sphere (`build_unit_sphere_points`).
pub(crate) fn unit_sphere_points(n: usize) -> Vec<[f64; 3]> {
    (0..n)
        .map(|i| {
            let t = i as f64 + 0.5;
            let phi = (1.0 - 2.0 * t / n as f64).acos();
            let theta = std::f64::consts::PI * (1.0 + 5f64.sqrt()) * t;
            [theta.cos() * phi.sin(), theta.sin() * phi.sin(), phi.cos()]
        })
        .collect()
}

/// The mesh of `generate_mesh`: `numpy.arange(-1.05 R, 1.05 R, step)` on
/// each axis, points closer than `R` to the centre, sorted by radius.
pub(crate) fn mesh_points(radius_max: f64, pts_per_unit_volume: f64) -> (Vec<[f64; 3]>, Vec<f64>) {
    let gen = radius_max * 1.05;
    let step = 1.0 / pts_per_unit_volume.powf(0.33);
    if !(step > 0.0 && step.is_finite() && gen > 0.0) {
        return (Vec::new(), Vec::new());
    }
    let n = ((2.0 * gen) / step).ceil() as usize;
    let axis: Vec<f64> = (0..n).map(|i| -gen + i as f64 * step).collect();
    let mut pts: Vec<([f64; 3], f64)> = Vec::with_capacity(n * n * n / 2);
    for &x in &axis {
        for &y in &axis {
            for &z in &axis {
                let r = (x * x + y * y + z * z).sqrt();
                if r < radius_max {
                    pts.push(([x, y, z], r));
                }
            }
        }
    }
    pts.sort_by(|a, b| a.1.total_cmp(&b.1));
    pts.into_iter().unzip()
}

/// For each hole `(centre, radius)`: `(keep, boundary)`, where `boundary`
/// says the hole needed the volume count (a surface point fell outside).
pub(crate) fn check_holes(
    holes: &[([f64; 3], f64)],
    mask: &SurveyMask,
    cut_pct: f64,
    pts_per_unit_volume: f64,
    num_surface_points: usize,
) -> Vec<(bool, bool)> {
    if matches!(mask, SurveyMask::Periodic { .. }) {
        return vec![(true, false); holes.len()];
    }
    let surface = unit_sphere_points(num_surface_points);
    let r_max = holes.iter().map(|h| h.1).fold(0.0, f64::max);
    let (mesh, mesh_r) = mesh_points(r_max, pts_per_unit_volume);
    holes
        .par_iter()
        .map(|&(c, r)| {
            let on = |p: [f64; 3]| [c[0] + p[0], c[1] + p[1], c[2] + p[2]];
            let all_in = surface
                .iter()
                .all(|s| mask.contains(on([r * s[0], r * s[1], r * s[2]])));
            if all_in {
                return (true, false);
            }
            // Points with radius <= r (VAST's binary_searchsorted).
            let n_check = mesh_r.partition_point(|&m| m <= r);
            let thresh = (cut_pct * n_check as f64).ceil() as usize;
            let mut outside = 0usize;
            for p in &mesh[..n_check] {
                if !mask.contains(on(*p)) {
                    outside += 1;
                    if outside >= thresh {
                        return (false, true);
                    }
                }
            }
            (true, true)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::grid::dist2;
    use super::*;

    #[test]
    fn golden_spiral_points_are_unit() {
        let p = unit_sphere_points(20);
        assert_eq!(p.len(), 20);
        for q in &p {
            assert!((dist2(*q, [0.0; 3]) - 1.0).abs() < 1e-12);
        }
        // First point: phi = acos(1 - 1/20), theta = pi (1 + sqrt 5) / 2.
        assert!((p[0][2] - 0.95).abs() < 1e-12);
    }

    #[test]
    fn half_outside_hole_is_cut_and_inside_one_kept() {
        let mask = SurveyMask::Box {
            lo: [0.0; 3],
            hi: [100.0; 3],
        };
        let holes = [
            ([50.0, 50.0, 50.0], 20.0),
            ([50.0, 50.0, 0.0], 20.0),
            ([50.0, 50.0, 17.0], 20.0),
        ];
        let res = check_holes(&holes, &mask, 0.1, 0.01, 20);
        assert_eq!(res[0], (true, false));
        assert_eq!(res[1], (false, true));
        // Cap of height 3 of a radius-20 sphere: 2.2 % of the volume.
        assert_eq!(res[2], (true, true));
    }
}
