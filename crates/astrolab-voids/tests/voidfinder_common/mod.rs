//! Shared checks of the VoidFinder tests.

#![allow(dead_code)]

use astrolab_sky::kdtree::KdTree3;
use astrolab_voids::finder::VoidFinderOutput;

/// Relative tolerance of "on the surface" asked by the issue.
pub const SURFACE_REL_TOL: f64 = 1e-6;
/// Tolerance of the exactness check: our centres are exact to ~1e-15
/// relative, so four and only four galaxies lie within 1e-9 of the surface.
pub const EXACT_REL_TOL: f64 = 1e-9;

/// Result of the brute-force hole check.
#[derive(Debug, Clone, Copy)]
pub struct SurfaceCheck {
    pub holes: usize,
    /// Holes with a fifth galaxy within `SURFACE_REL_TOL` (but outside the
    /// sphere): chance coincidences in a random catalog.
    pub fifth_within_1e6: usize,
    /// Expected number of such coincidences: density x shell volume.
    pub fifth_expected: f64,
}

/// Checks, by brute force over the wall galaxies independently of the
/// finder's own bookkeeping, that every hole has exactly four wall
/// galaxies on its surface (within `EXACT_REL_TOL`), that they are its
/// four bounding galaxies, and that no wall galaxy is inside (closer than
/// `R (1 - EXACT_REL_TOL)`; a fortiori none closer than `R (1 - 1e-6)`).
/// `period`: distances wrap in a periodic box of that side.
pub fn assert_four_on_surface_none_inside(
    out: &VoidFinderOutput,
    period: Option<f64>,
    density_per_mpc3_h3: f64,
) -> SurfaceCheck {
    let wall = &out.wall_xyz;
    // Periodic: index the 27 images so that a plain ball query sees them.
    let (pts, owner): (Vec<[f64; 3]>, Vec<usize>) = match period {
        None => (wall.clone(), (0..wall.len()).collect()),
        Some(l) => {
            let mut p = Vec::with_capacity(wall.len() * 27);
            let mut o = Vec::with_capacity(wall.len() * 27);
            for (i, w) in wall.iter().enumerate() {
                for sx in [-l, 0.0, l] {
                    for sy in [-l, 0.0, l] {
                        for sz in [-l, 0.0, l] {
                            p.push([w[0] + sx, w[1] + sy, w[2] + sz]);
                            o.push(i);
                        }
                    }
                }
            }
            (p, o)
        }
    };
    let tree = KdTree3::build(&pts);
    let mut fifth = 0;
    let mut expected = 0.0;
    for (n, h) in out.holes.iter().enumerate() {
        let r = h.radius_mpc_h;
        assert!(r > 0.0 && r.is_finite(), "hole {n}: radius {r}");
        let inside = tree.within_radius(h.center_mpc_h, r * (1.0 - EXACT_REL_TOL));
        assert!(
            inside.is_empty(),
            "hole {n} (centre {:?}, R = {r}): {} wall galaxies inside, nearest at {}",
            h.center_mpc_h,
            inside.len(),
            inside[0].1
        );
        let shell = tree.within_radius(h.center_mpc_h, r * (1.0 + EXACT_REL_TOL));
        assert_eq!(
            shell.len(),
            4,
            "hole {n} (centre {:?}, R = {r}): {} wall galaxies on the surface",
            h.center_mpc_h,
            shell.len()
        );
        let mut on: Vec<usize> = shell.iter().map(|&(i, _)| owner[i]).collect();
        on.sort_unstable();
        let mut b = h.bounding_wall;
        b.sort_unstable();
        assert_eq!(
            on,
            b.to_vec(),
            "hole {n}: bounding galaxies differ from those found"
        );
        let wide = tree.count_within_radius(h.center_mpc_h, r * (1.0 + SURFACE_REL_TOL));
        if wide > 4 {
            fifth += 1;
        }
        expected += density_per_mpc3_h3 * 4.0 * std::f64::consts::PI * r.powi(3) * SURFACE_REL_TOL;
    }
    SurfaceCheck {
        holes: out.holes.len(),
        fifth_within_1e6: fifth,
        fifth_expected: expected,
    }
}

/// (min, median, max) of the maximal radii.
pub fn radius_summary(out: &VoidFinderOutput) -> (f64, f64, f64) {
    let mut r: Vec<f64> = out.maximals.iter().map(|m| m.radius_mpc_h).collect();
    r.sort_by(f64::total_cmp);
    if r.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    (r[0], r[r.len() / 2], r[r.len() - 1])
}
