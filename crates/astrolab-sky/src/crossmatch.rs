//! Positional crossmatch on the sky with a k-d tree over unit vectors.
//!
//! References:
//! - Method: nearest-neighbour search among unit vectors with the chord
//!   length `2 sin(theta / 2)` as the metric, which is monotonic in the
//!   angular separation `theta`, so the Euclidean k-d tree ([`KdTree3`])
//!   answers angular queries exactly. This is what astropy's
//!   `match_coordinates_sky` and `search_around_sky` do with scipy's
//!   cKDTree (astropy `coordinates/matching.py`).
//! - Reported separations are `atan2(|a x b|, a . b)` of the two unit
//!   vectors (Vincenty, see [`crate::angles`]), accurate at every angle.
//!
//! Determinism: queries are independent, run in parallel with rayon and
//! collected in input order; ties in distance go to the lower catalogue
//! index. The result never depends on the number of threads.

use crate::angles::{angle_between_vectors_deg, chord_for_angle_deg, unit_vector};
use crate::kdtree::{Hit, KdTree3};
use crate::SkyError;
use rayon::prelude::*;

/// Static k-d tree over sky positions for cone searches and crossmatches.
///
/// Indices returned are positions in the slices given to
/// [`SkyTree::build`]; separations are in degrees. Positions with a
/// non-finite coordinate are left out (never returned).
#[derive(Debug, Clone)]
pub struct SkyTree {
    tree: KdTree3,
}

/// Squared chord for a search radius in degrees; `None` when the radius is
/// negative or NaN. A radius of 180 deg or more matches everything.
fn max_chord2(radius_deg: f64) -> Option<f64> {
    if radius_deg.is_nan() || radius_deg < 0.0 {
        None
    } else if radius_deg >= 180.0 {
        Some(f64::INFINITY)
    } else {
        let c = chord_for_angle_deg(radius_deg);
        Some(c * c)
    }
}

impl SkyTree {
    /// Builds the tree in O(n log n), in parallel.
    ///
    /// If the two slices differ in length only the common prefix is used;
    /// [`try_build`](Self::try_build) reports the mismatch instead.
    pub fn build(ra_deg: &[f64], dec_deg: &[f64]) -> SkyTree {
        let n = ra_deg.len().min(dec_deg.len());
        let points: Vec<([f64; 3], usize)> = ra_deg[..n]
            .par_iter()
            .zip(dec_deg[..n].par_iter())
            .enumerate()
            .map(|(i, (&ra, &dec))| (unit_vector(ra, dec), i))
            .collect();
        SkyTree {
            tree: KdTree3::from_indexed_points(points, n),
        }
    }

    /// Like [`build`](Self::build) but fails when the slices differ in
    /// length.
    pub fn try_build(ra_deg: &[f64], dec_deg: &[f64]) -> Result<SkyTree, SkyError> {
        if ra_deg.len() != dec_deg.len() {
            return Err(SkyError::LengthMismatch {
                what: "SkyTree::try_build",
                left_name: "ra_deg",
                left_len: ra_deg.len(),
                right_name: "dec_deg",
                right_len: dec_deg.len(),
            });
        }
        Ok(Self::build(ra_deg, dec_deg))
    }

    /// Number of positions the tree was built from (including any left out
    /// for non-finite coordinates).
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// True when built from no positions.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Number of positions actually searchable (finite coordinates).
    pub fn n_indexed(&self) -> usize {
        self.tree.n_indexed()
    }

    fn to_result(q: &[f64; 3], hit: Hit) -> (usize, f64) {
        (hit.index, angle_between_vectors_deg(*q, hit.point))
    }

    /// The nearest position within `radius_deg` (inclusive) of (RA, Dec):
    /// `(index, separation_deg)`. Exact ties go to the lower index. `None`
    /// when there is none, for a negative or NaN radius, or a non-finite
    /// query.
    pub fn nearest_within(&self, ra_deg: f64, dec_deg: f64, radius_deg: f64) -> Option<(usize, f64)> {
        let max2 = max_chord2(radius_deg)?;
        let q = unit_vector(ra_deg, dec_deg);
        self.tree
            .nearest_hit(q, max2)
            .map(|h| Self::to_result(&q, h))
    }

    /// The nearest position at any separation.
    pub fn nearest(&self, ra_deg: f64, dec_deg: f64) -> Option<(usize, f64)> {
        self.nearest_within(ra_deg, dec_deg, 180.0)
    }

    /// The `k` nearest positions, sorted by separation then index.
    pub fn k_nearest(&self, ra_deg: f64, dec_deg: f64, k: usize) -> Vec<(usize, f64)> {
        let q = unit_vector(ra_deg, dec_deg);
        self.tree
            .k_nearest_hits(q, k, f64::INFINITY)
            .into_iter()
            .map(|h| Self::to_result(&q, h))
            .collect()
    }

    /// All positions within `radius_deg` (inclusive) of (RA, Dec), sorted by
    /// separation then index. Empty for a negative or NaN radius or a
    /// non-finite query.
    pub fn within(&self, ra_deg: f64, dec_deg: f64, radius_deg: f64) -> Vec<(usize, f64)> {
        let Some(max2) = max_chord2(radius_deg) else {
            return Vec::new();
        };
        let q = unit_vector(ra_deg, dec_deg);
        let mut out: Vec<(usize, f64)> = self
            .tree
            .within_hits(q, max2)
            .into_iter()
            .map(|h| Self::to_result(&q, h))
            .collect();
        // Already in chord order; this only settles last-ulp disagreements
        // between the chord and the reported angle.
        out.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        out
    }

    /// The underlying Euclidean tree over unit vectors.
    pub fn kd_tree(&self) -> &KdTree3 {
        &self.tree
    }
}

/// For each position of catalogue A, the nearest position of `tree` within
/// `radius_deg`: `Some((index_in_tree_input, separation_deg))` or `None`.
///
/// Runs in parallel; the result is in A's order and independent of the
/// number of threads. The output has `a_ra_deg.len()` entries; entries
/// beyond `a_dec_deg.len()` are `None` (see [`try_crossmatch_nearest`] to
/// reject mismatched columns instead).
pub fn crossmatch_nearest(
    a_ra_deg: &[f64],
    a_dec_deg: &[f64],
    tree: &SkyTree,
    radius_deg: f64,
) -> Vec<Option<(usize, f64)>> {
    a_ra_deg
        .par_iter()
        .enumerate()
        .with_min_len(1024)
        .map(|(i, &ra)| {
            let dec = *a_dec_deg.get(i)?;
            tree.nearest_within(ra, dec, radius_deg)
        })
        .collect()
}

/// Like [`crossmatch_nearest`] but fails when A's columns differ in length.
pub fn try_crossmatch_nearest(
    a_ra_deg: &[f64],
    a_dec_deg: &[f64],
    tree: &SkyTree,
    radius_deg: f64,
) -> Result<Vec<Option<(usize, f64)>>, SkyError> {
    if a_ra_deg.len() != a_dec_deg.len() {
        return Err(SkyError::LengthMismatch {
            what: "crossmatch_nearest",
            left_name: "a_ra_deg",
            left_len: a_ra_deg.len(),
            right_name: "a_dec_deg",
            right_len: a_dec_deg.len(),
        });
    }
    Ok(crossmatch_nearest(a_ra_deg, a_dec_deg, tree, radius_deg))
}
