//! Growing one hole from an empty grid cell until four wall galaxies lie on
//! its surface (Hoyle & Vogeley 2002, ApJ 566, 641, Sect. 3; VAST's
//! `_voidfinder_cython.pyx::grow_spheres` and `SphereGrower`).
//!
//! Each step moves the centre `c` along a unit vector `u` by the smallest
//! `x >= 0` at which a new galaxy `g` reaches the sphere through the first
//! bounding galaxy `A`: `|c + x u - g| = |c + x u - A|`, i.e.
//! `x = (|g - c|^2 - |A - c|^2) / (2 u . (g - A))` (VAST's
//! `calculate_x_val`), over the galaxies with `u . (g - A) > 0`:
//! 1. `A` = nearest galaxy to the cell centre; `u` = from `A` through `c`.
//! 2. `B` found; `u` = from the midpoint of `A B` through `c` (in the
//!    bisecting plane, keeping `A` and `B` on the surface).
//! 3. `C` found; `u` = normal of the plane `A B C`, oriented towards `c`;
//!    if `c` lies in that plane both orientations are tried and the smaller
//!    valid sphere kept (VAST's coplanar branch).
//! 4. `D` found: the hole is the sphere through `A B C D`.
//!
//! VAST 1.x reads `min_x` of the fourth step from an uninitialised
//! `result` variable, so its holes mostly stop at three galaxies. Here the
//! fourth step uses the value it found: every hole has four galaxies on
//! its surface and none inside.
//!
//! Search: every galaxy with `x_g <= x` lies in the closed ball of the
//! sphere at step `x` (the spheres through `A` grow monotonically on the
//! side `u . (g - A) > 0`), so a ball query of a probe sphere finds the
//! minimum exactly; the probe step doubles until it holds a candidate.
//! A hole fails (VAST's NaN) when its centre leaves the mask, or when the
//! probe leaves the mask without meeting a galaxy.

use super::grid::{dist2, GalaxyGrid};
use crate::mask::SurveyMask;

/// A bounding galaxy: wall index and the position of the image used.
pub(crate) type Bound = (u32, [f64; 3]);

/// A hole grown from one cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GrownHole {
    pub center: [f64; 3],
    pub radius: f64,
    /// Wall-galaxy indices of the four bounding galaxies, in the order found.
    pub bounding: [u32; 4],
}

/// Probe steps give up beyond this many doublings (a probe this far has
/// long left any survey; in a periodic box galaxies are always met first).
const MAX_DOUBLINGS: u32 = 40;

/// First probe step as a fraction of the current radius: most next
/// galaxies are met within a third of a radius (measured on SDSS DR7; a
/// speed knob only, the result is the same for any value).
const FIRST_STEP: f64 = 0.3;

/// Grows the hole seeded at `start` (an empty cell's centre).
pub(crate) fn grow_hole(
    grid: &GalaxyGrid,
    mask: &SurveyMask,
    start: [f64; 3],
) -> Option<GrownHole> {
    if !mask.contains(start) {
        return None;
    }
    let mut c = start;
    let (a_id, a, _) = grid.nearest(c)?;
    let mut bounds: [Bound; 3] = [(a_id, a); 3];

    // Step 1 -> 2: away from A.
    let mut u = sub(c, a);
    let n = norm(u);
    u = if n > 0.0 {
        scale(u, 1.0 / n)
    } else {
        [1.0, 0.0, 0.0]
    };
    let (b_id, b, x) = find_next(grid, mask, c, u, &bounds[..1])?;
    c = add(c, scale(u, x));
    if !mask.contains(c) {
        return None;
    }
    bounds[1] = (b_id, b);

    // Step 2 -> 3: in the bisecting plane of A and B.
    let mid = scale(add(a, b), 0.5);
    u = sub(c, mid);
    let n = norm(u);
    if n == 0.0 {
        // c on the segment AB: any direction perpendicular to AB (VAST's
        // cross product with a permuted copy).
        let ab = sub(a, b);
        let mut t = [ab[2], ab[0], ab[1]];
        if t[0] == t[1] && t[1] == t[2] {
            t[2] += 1.0;
        }
        u = cross(ab, t);
    }
    let n = norm(u);
    if n.is_nan() || n <= 0.0 {
        return None;
    }
    u = scale(u, 1.0 / n);
    let (c_id, cg, x) = find_next(grid, mask, c, u, &bounds[..2])?;
    c = add(c, scale(u, x));
    if !mask.contains(c) {
        return None;
    }
    bounds[2] = (c_id, cg);

    // Step 3 -> 4: along the normal of the plane of A, B, C.
    let normal = cross(sub(a, b), sub(cg, b));
    let n = norm(normal);
    if n.is_nan() || n <= 0.0 {
        // Collinear bounding galaxies: no plane, no fourth step.
        return None;
    }
    u = scale(normal, 1.0 / n);
    let side = dot(sub(c, a), u);
    let (d_id, x, u) = if side == 0.0 {
        // Coplanar: try both sides, keep the valid one with smaller x.
        let try_dir = |u: [f64; 3]| {
            find_next(grid, mask, c, u, &bounds)
                .filter(|&(_, _, x)| mask.contains(add(c, scale(u, x))))
                .map(|(id, _, x)| (id, x, u))
        };
        match (try_dir(u), try_dir(scale(u, -1.0))) {
            (Some(p), Some(q)) => {
                if p.1 <= q.1 {
                    p
                } else {
                    q
                }
            }
            (Some(p), None) | (None, Some(p)) => p,
            (None, None) => return None,
        }
    } else {
        if side < 0.0 {
            u = scale(u, -1.0);
        }
        let (id, _, x) = find_next(grid, mask, c, u, &bounds)?;
        (id, x, u)
    };
    c = add(c, scale(u, x));
    if !mask.contains(c) {
        return None;
    }
    Some(GrownHole {
        center: c,
        radius: dist2(c, a).sqrt(),
        bounding: [a_id, b_id, c_id, d_id],
    })
}

/// The next bounding galaxy moving from `c` along `u`: `(id, position, x)`.
fn find_next(
    grid: &GalaxyGrid,
    mask: &SurveyMask,
    c: [f64; 3],
    u: [f64; 3],
    bounds: &[Bound],
) -> Option<(u32, [f64; 3], f64)> {
    let a = bounds[0].1;
    let r0_sq = dist2(a, c);
    let mut step = (FIRST_STEP * r0_sq.sqrt()).max(1e-3);
    for _ in 0..MAX_DOUBLINGS {
        let probe = add(c, scale(u, step));
        let probe_r = dist2(a, probe).sqrt();
        let mut best: Option<(u32, [f64; 3], f64)> = None;
        grid.for_each_in_ball(probe, probe_r * (1.0 + 1e-12), |id, g| {
            if bounds.iter().any(|&(bid, bp)| bid == id && bp == g) {
                return;
            }
            let bot = 2.0 * dot(sub(g, a), u);
            if bot.is_nan() || bot <= 0.0 {
                return;
            }
            // A galaxy numerically on the current sphere gives top ~ -0:
            // it is on the surface already (x = 0).
            let top = (dist2(g, c) - r0_sq).max(0.0);
            let x = top / bot;
            if best.is_none_or(|(bid, _, bx)| x < bx || (x == bx && id < bid)) {
                best = Some((id, g, x));
            }
        });
        if best.is_some() {
            return best;
        }
        if !mask.contains(probe) {
            return None;
        }
        step *= 2.0;
    }
    None
}

#[inline]
fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
#[inline]
fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
#[inline]
fn scale(a: [f64; 3], s: f64) -> [f64; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}
#[inline]
fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
#[inline]
fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}
#[inline]
fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_galaxies_on_the_surface_of_a_tetrahedron_hole() {
        // A regular-ish tetrahedron around the origin plus far galaxies.
        let pts = vec![
            [3.0, 0.2, 0.1],
            [-2.9, 2.5, 0.3],
            [-2.7, -2.6, 0.2],
            [0.1, 0.3, 3.6],
            [0.2, -0.1, -3.8],
            [40.0, 40.0, 40.0],
        ];
        let grid = GalaxyGrid::build(&pts, 2.0, None);
        let mask = SurveyMask::Box {
            lo: [-50.0; 3],
            hi: [50.0; 3],
        };
        let h = grow_hole(&grid, &mask, [0.0, 0.0, 0.5]).unwrap();
        let mut on = 0;
        for p in &pts {
            let d = dist2(*p, h.center).sqrt();
            assert!(d >= h.radius * (1.0 - 1e-9), "galaxy inside the hole");
            if (d - h.radius).abs() <= 1e-9 * h.radius {
                on += 1;
            }
        }
        assert_eq!(on, 4);
        let mut b = h.bounding;
        b.sort_unstable();
        assert!(b.windows(2).all(|w| w[0] != w[1]));
    }
}
