//! Wall/field separation (Hoyle & Vogeley 2002, Sect. 3; VAST's
//! `voidfinder.py::wall_field_separation` and `avsepcalc.py`).
//!
//! A galaxy is a *field* galaxy when the distance to its `n`-th nearest
//! neighbour (n = 3) is at least `mean + 1.5 sigma` of that distance over
//! the sample (population sigma, numpy's default); the others are *wall*
//! galaxies, which alone bound the holes.
//!
//! Duplicates (a galaxy at exactly the position of another) are removed
//! first. VAST drops every member of a duplicate pair (both have a
//! zero-distance neighbour); here the first occurrence is kept, which is
//! the evident intent, and the copies are counted.

use rayon::prelude::*;

use super::grid::{dist2, GalaxyGrid};

/// The split and its statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct WallFieldSplit {
    /// Input rows of the wall galaxies, ascending.
    pub wall_rows: Vec<usize>,
    /// Input rows of the field galaxies, ascending.
    pub field_rows: Vec<usize>,
    /// Input rows dropped as exact duplicates of an earlier row.
    pub duplicate_rows: Vec<usize>,
    /// Neighbour rank used (3).
    pub sep_neighbor: usize,
    /// Mean distance to that neighbour (Mpc/h).
    pub nn_mean_mpc_h: f64,
    /// Its standard deviation (Mpc/h).
    pub nn_std_mpc_h: f64,
    /// `mean + 1.5 sigma`: galaxies at or beyond it are field galaxies.
    pub threshold_mpc_h: f64,
}

/// Splits `xyz` into wall and field galaxies by the distance to the
/// `sep_neighbor`-th nearest neighbour. With fewer than `sep_neighbor + 1`
/// distinct galaxies every galaxy is a wall galaxy (no statistics exist).
pub fn separate_wall_field(xyz: &[[f64; 3]], sep_neighbor: usize) -> WallFieldSplit {
    let (lo, hi) = bbox(xyz);
    // Cells of half the mean separation in the bounding box: a survey
    // fills only part of its box (DR7: a fifth), so this is about the
    // separation where the galaxies are. The first query ball has the
    // separation measured in the occupied cells, and usually holds the few
    // neighbours needed (larger cells and balls scan many more galaxies;
    // the result does not depend on either).
    let volume: f64 = (0..3).map(|a| (hi[a] - lo[a]).max(1e-9)).product();
    let cell = (0.5 * (volume / xyz.len().max(1) as f64).cbrt()).max(1e-6);
    let grid = GalaxyGrid::build(xyz, cell, None);
    let occupied = grid.occupied_cells().max(1) as f64;
    let r0 = ((occupied / xyz.len().max(1) as f64).cbrt() * cell).max(1e-6);
    // Duplicates: a galaxy at exactly the position of a lower row is a copy.
    let dup: Vec<bool> = xyz
        .par_iter()
        .enumerate()
        .map(|(i, &p)| {
            let mut d = false;
            grid.for_each_in_ball(p, 0.0, |j, _| d |= (j as usize) < i);
            d
        })
        .collect();
    let kept: Vec<usize> = (0..xyz.len()).filter(|&i| !dup[i]).collect();
    let duplicate_rows: Vec<usize> = (0..xyz.len()).filter(|&i| dup[i]).collect();
    if kept.len() <= sep_neighbor {
        return WallFieldSplit {
            wall_rows: kept,
            field_rows: Vec::new(),
            duplicate_rows,
            sep_neighbor,
            nn_mean_mpc_h: f64::NAN,
            nn_std_mpc_h: f64::NAN,
            threshold_mpc_h: f64::INFINITY,
        };
    }
    let pts: Vec<[f64; 3]> = kept.iter().map(|&i| xyz[i]).collect();
    let grid = if duplicate_rows.is_empty() {
        grid
    } else {
        GalaxyGrid::build(&pts, cell, None)
    };
    let dists: Vec<f64> = pts
        .par_iter()
        .map(|&p| kth_neighbor_distance(&grid, p, sep_neighbor, r0))
        .collect();
    // Sequential sums: the same bits whatever the thread count.
    let n = dists.len() as f64;
    let mean = dists.iter().sum::<f64>() / n;
    let var = dists.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / n;
    let sd = var.sqrt();
    let threshold = mean + 1.5 * sd;
    let mut wall_rows = Vec::new();
    let mut field_rows = Vec::new();
    for (k, &d) in dists.iter().enumerate() {
        if d < threshold {
            wall_rows.push(kept[k]);
        } else {
            field_rows.push(kept[k]);
        }
    }
    WallFieldSplit {
        wall_rows,
        field_rows,
        duplicate_rows,
        sep_neighbor,
        nn_mean_mpc_h: mean,
        nn_std_mpc_h: sd,
        threshold_mpc_h: threshold,
    }
}

/// Distance from `p` (one of the gridded points) to its `k`-th nearest
/// other point: the `k + 1` smallest distances within a ball (itself at 0
/// included) are exact once the ball holds `k + 1` points.
fn kth_neighbor_distance(grid: &GalaxyGrid, p: [f64; 3], k: usize, r0: f64) -> f64 {
    let mut r = r0;
    let mut best: Vec<f64> = Vec::with_capacity(k + 2);
    for _ in 0..64 {
        best.clear();
        grid.for_each_in_ball(p, r, |_, q| {
            let d2 = dist2(p, q);
            if best.len() <= k || d2 < best[k] {
                let at = best.partition_point(|&b| b <= d2);
                best.insert(at, d2);
                best.truncate(k + 1);
            }
        });
        if best.len() > k {
            return best[k].sqrt();
        }
        r *= 2.0;
    }
    f64::INFINITY
}

fn bbox(p: &[[f64; 3]]) -> ([f64; 3], [f64; 3]) {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for q in p {
        for a in 0..3 {
            lo[a] = lo[a].min(q[a]);
            hi[a] = hi[a].max(q[a]);
        }
    }
    if p.is_empty() {
        return ([0.0; 3], [1.0; 3]);
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolated_galaxy_is_field_and_duplicates_go() {
        let mut pts = Vec::new();
        for i in 0..6 {
            for j in 0..6 {
                for k in 0..6 {
                    pts.push([i as f64, j as f64, k as f64]);
                }
            }
        }
        pts.push([30.0, 30.0, 30.0]);
        pts.push([0.0, 0.0, 0.0]);
        let s = separate_wall_field(&pts, 3);
        assert_eq!(s.duplicate_rows, vec![pts.len() - 1]);
        assert_eq!(s.field_rows, vec![pts.len() - 2]);
        assert_eq!(s.wall_rows.len(), 216);
        assert!(s.threshold_mpc_h > 1.0 && s.threshold_mpc_h < 30.0);
        // Lattice: 3rd neighbour at 1 for every node (corners included).
        assert!((s.nn_mean_mpc_h - 1.0).abs() < 0.2, "{}", s.nn_mean_mpc_h);
    }
}
