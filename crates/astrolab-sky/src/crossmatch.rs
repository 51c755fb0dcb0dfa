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
        SkyTree {
            tree: KdTree3::build_with(n, |i| unit_vector(ra_deg[i], dec_deg[i])),
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
    pub fn nearest_within(
        &self,
        ra_deg: f64,
        dec_deg: f64,
        radius_deg: f64,
    ) -> Option<(usize, f64)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::angles::angular_separation_deg;
    use crate::test_util::{offset_by, XorShift};

    fn d2(a: &[f64; 3], b: &[f64; 3]) -> f64 {
        let dx = a[0] - b[0];
        let dy = a[1] - b[1];
        let dz = a[2] - b[2];
        dx * dx + dy * dy + dz * dz
    }

    /// Brute force with the tree's own arithmetic: all within, sorted by
    /// (squared chord, index), reported with the vector angle.
    fn brute_within(vecs: &[[f64; 3]], qra: f64, qdec: f64, radius_deg: f64) -> Vec<(usize, f64)> {
        let q = unit_vector(qra, qdec);
        let c = chord_for_angle_deg(radius_deg);
        let mut v: Vec<(f64, usize)> = vecs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.iter().all(|x| x.is_finite()))
            .map(|(i, p)| (d2(&q, p), i))
            .filter(|&(dd, _)| dd <= c * c)
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        v.into_iter()
            .map(|(_, i)| (i, angle_between_vectors_deg(q, vecs[i])))
            .collect()
    }

    /// A catalogue with clusters, duplicates, both poles and RA = 0/360.
    fn catalogue(rng: &mut XorShift, n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut ra = Vec::with_capacity(n);
        let mut dec = Vec::with_capacity(n);
        for i in 0..n {
            let (r, d) = match i % 10 {
                0 => (rng.uniform() * 360.0, 90.0 - rng.uniform() * 0.01),
                1 => (rng.uniform() * 360.0, -90.0 + rng.uniform() * 0.01),
                2 => (
                    if i % 20 == 2 { 0.0 } else { 359.9999 },
                    rng.uniform() * 2.0 - 1.0,
                ),
                3 if i > 10 => (ra[i - 10], dec[i - 10]),
                4 => offset_by(10.0, 10.0, rng.uniform() * 0.01, rng.uniform() * 360.0),
                _ => rng.sky(),
            };
            ra.push(r);
            dec.push(d);
        }
        (ra, dec)
    }

    #[test]
    fn sky_queries_match_brute_force() {
        let mut rng = XorShift::new(31);
        let (ra, dec) = catalogue(&mut rng, 20_000);
        let tree = SkyTree::build(&ra, &dec);
        assert_eq!(tree.len(), 20_000);
        let vecs: Vec<[f64; 3]> = ra
            .iter()
            .zip(&dec)
            .map(|(&r, &d)| unit_vector(r, d))
            .collect();
        for k in 0..400 {
            let (qra, qdec) = match k % 5 {
                // exactly on catalogue positions (duplicates: tie-breaking)
                0 => (ra[k * 7 % ra.len()], dec[k * 7 % ra.len()]),
                1 => (rng.uniform() * 360.0, 90.0),
                2 => (0.0, rng.uniform() * 2.0 - 1.0),
                3 => offset_by(10.0, 10.0, rng.uniform() * 0.02, rng.uniform() * 360.0),
                _ => rng.sky(),
            };
            for radius in [1.0 / 3600.0, 30.0 / 3600.0, 0.3, 2.0] {
                let want = brute_within(&vecs, qra, qdec, radius);
                let got = tree.within(qra, qdec, radius);
                assert_eq!(got, want, "within ({qra}, {qdec}, {radius})");
                assert_eq!(
                    tree.nearest_within(qra, qdec, radius),
                    want.first().copied(),
                    "nearest_within ({qra}, {qdec}, {radius})"
                );
            }
            let all = brute_within(&vecs, qra, qdec, 180.0);
            assert_eq!(tree.nearest(qra, qdec), all.first().copied());
            assert_eq!(tree.k_nearest(qra, qdec, 5), all[..5].to_vec());
        }
    }

    #[test]
    fn separations_agree_with_vincenty() {
        let mut rng = XorShift::new(8);
        let (ra, dec) = catalogue(&mut rng, 5000);
        let tree = SkyTree::build(&ra, &dec);
        for _ in 0..200 {
            let (qra, qdec) = rng.sky();
            for (i, sep) in tree.within(qra, qdec, 5.0) {
                let v = angular_separation_deg(qra, qdec, ra[i], dec[i]);
                assert!((sep - v).abs() < 1e-12, "{sep} vs {v}");
                assert!(v <= 5.0 + 1e-12);
            }
        }
        // 1 arcsec pair across RA = 0/360 at the equator.
        let tree = SkyTree::build(&[360.0 - 0.5 / 3600.0], &[0.0]);
        let (i, sep) = tree
            .nearest_within(0.5 / 3600.0, 0.0, 2.0 / 3600.0)
            .unwrap();
        assert_eq!(i, 0);
        assert!((sep * 3600.0 - 1.0).abs() < 1e-9, "{}", sep * 3600.0);
    }

    #[test]
    fn crossmatch_is_deterministic_and_matches_single_queries() {
        let mut rng = XorShift::new(99);
        let (ra, dec) = catalogue(&mut rng, 50_000);
        let tree = SkyTree::build(&ra, &dec);
        let mut a_ra = Vec::new();
        let mut a_dec = Vec::new();
        for i in 0..20_000 {
            // Half near catalogue positions (within ~2 arcsec), half random.
            let (r, d) = if i % 2 == 0 {
                let j = (rng.uniform() * ra.len() as f64) as usize;
                offset_by(
                    ra[j],
                    dec[j],
                    rng.uniform() * 2.0 / 3600.0,
                    rng.uniform() * 360.0,
                )
            } else {
                rng.sky()
            };
            a_ra.push(r);
            a_dec.push(d);
        }
        let radius = 1.0 / 3600.0;
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map(|p| p.install(|| crossmatch_nearest(&a_ra, &a_dec, &tree, radius)))
        };
        let (Ok(one), Ok(three)) = (run(1), run(3)) else {
            panic!("thread pool");
        };
        assert_eq!(one, three);
        assert_eq!(one.len(), a_ra.len());
        let n_matched = one.iter().filter(|m| m.is_some()).count();
        assert!(n_matched > 5000, "{n_matched} matches");
        for (i, m) in one.iter().enumerate().step_by(7) {
            assert_eq!(*m, tree.nearest_within(a_ra[i], a_dec[i], radius));
        }
        // A tree built on one thread answers the same.
        let tree1 = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .map(|p| p.install(|| SkyTree::build(&ra, &dec)));
        let Ok(tree1) = tree1 else {
            panic!("thread pool")
        };
        assert_eq!(crossmatch_nearest(&a_ra, &a_dec, &tree1, radius), one);
    }

    #[test]
    fn bad_input_never_panics() {
        let ra = [10.0, f64::NAN, 20.0, 30.0];
        let dec = [0.0, 0.0, f64::INFINITY, 95.0];
        let tree = SkyTree::build(&ra, &dec);
        assert_eq!(tree.len(), 4);
        assert_eq!(tree.n_indexed(), 2);
        assert_eq!(tree.nearest_within(10.0, 0.0, 0.0), Some((0, 0.0)));
        assert_eq!(tree.nearest_within(10.0, 0.0, -1.0), None);
        assert_eq!(tree.nearest_within(10.0, 0.0, f64::NAN), None);
        assert_eq!(tree.nearest_within(f64::NAN, 0.0, 1.0), None);
        assert!(tree.within(10.0, 0.0, f64::NAN).is_empty());
        assert_eq!(tree.within(10.0, 0.0, 1000.0).len(), 2);
        // Mismatched columns.
        let short = SkyTree::build(&[1.0, 2.0, 3.0], &[0.0]);
        assert_eq!(short.len(), 1);
        let e = SkyTree::try_build(&[1.0, 2.0], &[0.0]).unwrap_err();
        assert!(
            e.to_string()
                .contains("ra_deg has 2 values but dec_deg has 1"),
            "{e}"
        );
        let m = crossmatch_nearest(&[10.0, 10.0], &[0.0], &tree, 1.0);
        assert_eq!(m, vec![Some((0, 0.0)), None]);
        assert!(try_crossmatch_nearest(&[10.0, 10.0], &[0.0], &tree, 1.0).is_err());
        assert_eq!(
            try_crossmatch_nearest(&[10.0], &[0.0], &tree, 1.0),
            Ok(vec![Some((0, 0.0))])
        );
        let empty = SkyTree::build(&[], &[]);
        assert!(empty.is_empty());
        assert_eq!(crossmatch_nearest(&[1.0], &[1.0], &empty, 1.0), vec![None]);
    }
}
