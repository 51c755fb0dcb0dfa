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

use astrolab_sky::kdtree::KdTree3;
use rayon::prelude::*;

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
    let tree = KdTree3::build(xyz);
    // Duplicates: a galaxy whose nearest other galaxy is at distance 0 and
    // has a lower row is a copy.
    let dup: Vec<bool> = xyz
        .par_iter()
        .enumerate()
        .map(|(i, &p)| tree.within_radius(p, 0.0).iter().any(|&(j, _)| j < i))
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
    let tree = if duplicate_rows.is_empty() {
        tree
    } else {
        KdTree3::build(&pts)
    };
    let dists: Vec<f64> = pts
        .par_iter()
        .map(|&p| {
            let nn = tree.k_nearest(p, sep_neighbor + 1);
            nn.last().map(|&(_, d)| d).unwrap_or(f64::INFINITY)
        })
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
    }
}
