//! A static 3-D k-d tree for nearest-neighbour and fixed-radius searches in
//! Euclidean space (comoving positions in Mpc/h, or unit vectors on the sky
//! through [`crate::SkyTree`]).
//!
//! References:
//! - k-d tree: J. L. Bentley 1975, CACM 18, 509. Splitting at the median of
//!   the coordinate with the largest spread, and the branch-and-bound
//!   nearest-neighbour search with leaf buckets: J. H. Friedman, J. L.
//!   Bentley & R. A. Finkel 1977, ACM TOMS 3, 209. The largest-spread rule
//!   adapts to points that lie on a sphere (it never wastes splits across
//!   the thin radial direction of a small patch of sky). For large nodes the
//!   spread is estimated from an evenly strided sample of the points.
//!
//! Layout: the points are reordered in place so that every node owns a
//! contiguous slice, split at its median (`select_nth_unstable`, O(n) per
//! level, O(n log n) in all); leaves hold at most [`LEAF_SIZE`] points, all
//! at the same depth. Split planes are stored in in-order layout, so the two
//! subtrees of a node own disjoint halves of the array and are built in
//! parallel with `rayon::join`. Results do not depend on the number of
//! threads: the median selection is deterministic and every query breaks
//! exact distance ties by the lower input index.
//!
//! Distances are compared as squared Euclidean distances computed the same
//! way for every point, and the pruning test `(q_k - split)^2 <= best` is
//! exact under rounding (each term of a computed squared distance is at
//! least the computed squared plane distance), so every query returns
//! exactly what a brute-force scan with the same arithmetic returns.

use rayon::prelude::*;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Largest number of points in a leaf. Measured with
/// `examples/xmatch_speed.rs` (5 M points, 2 threads): 32 builds about a
/// quarter faster than 8 (two fewer levels of median selection) with query
/// times unchanged within the noise, since a leaf is a contiguous 1 KiB
/// scan.
pub const LEAF_SIZE: usize = 32;
/// Below this many points a subtree is built on the current thread.
const PARALLEL_BUILD_MIN: usize = 1 << 15;

#[derive(Debug, Clone, Copy)]
struct Entry {
    point: [f64; 3],
    index: usize,
}

#[derive(Debug, Clone, Copy)]
struct Split {
    value: f64,
    dim: u8,
}

/// A point found by a query, before conversion for the public API.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub(crate) dist2: f64,
    pub(crate) index: usize,
    pub(crate) point: [f64; 3],
}

impl Hit {
    /// Orders by squared distance, then by input index.
    fn key_cmp(&self, other: &Hit) -> Ordering {
        self.dist2
            .total_cmp(&other.dist2)
            .then(self.index.cmp(&other.index))
    }
}

/// Max-heap entry for k-nearest searches.
struct HeapHit(Hit);

impl PartialEq for HeapHit {
    fn eq(&self, other: &Self) -> bool {
        self.0.key_cmp(&other.0) == Ordering::Equal
    }
}
impl Eq for HeapHit {}
impl PartialOrd for HeapHit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapHit {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.key_cmp(&other.0)
    }
}

/// Static k-d tree over 3-D points.
///
/// Queries return indices into the slice given to [`KdTree3::build`] and
/// Euclidean distances in the units of the points. Points with a non-finite
/// coordinate are left out of the tree (they are never returned).
#[derive(Debug, Clone)]
pub struct KdTree3 {
    entries: Vec<Entry>,
    /// Split planes in in-order layout, `2^levels - 1` of them.
    splits: Vec<Split>,
    levels: u32,
    n_input: usize,
}

#[inline]
fn dist2(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    let dz = a[2] - b[2];
    dx * dx + dy * dy + dz * dz
}

fn is_finite_point(p: &[f64; 3]) -> bool {
    p.iter().all(|c| c.is_finite())
}

impl KdTree3 {
    /// Builds the tree over `points` in O(n log n), in parallel.
    pub fn build(points: &[[f64; 3]]) -> KdTree3 {
        Self::build_with(points.len(), |i| points[i])
    }

    /// Builds the tree over the `n` points `point_at(0..n)`, computed in
    /// parallel straight into the tree's storage.
    pub(crate) fn build_with(n: usize, point_at: impl Fn(usize) -> [f64; 3] + Sync) -> KdTree3 {
        let mut entries: Vec<Entry> = (0..n)
            .into_par_iter()
            .map(|index| Entry {
                point: point_at(index),
                index,
            })
            .collect();
        if !entries.par_iter().all(|e| is_finite_point(&e.point)) {
            entries.retain(|e| is_finite_point(&e.point));
        }
        Self::from_entries(entries, n)
    }

    fn from_entries(mut entries: Vec<Entry>, n_input: usize) -> KdTree3 {
        let mut levels = 0u32;
        while levels < 63 && entries.len().div_ceil(1usize << levels) > LEAF_SIZE {
            levels += 1;
        }
        let n_splits = (1usize << levels) - 1;
        let mut splits = vec![Split { value: 0.0, dim: 0 }; n_splits];
        build_rec(&mut entries, &mut splits);
        KdTree3 {
            entries,
            splits,
            levels,
            n_input,
        }
    }

    /// Number of points given to [`build`](Self::build), including any left
    /// out for non-finite coordinates.
    pub fn len(&self) -> usize {
        self.n_input
    }

    /// True when built from no points.
    pub fn is_empty(&self) -> bool {
        self.n_input == 0
    }

    /// Number of points actually in the tree (finite coordinates).
    pub fn n_indexed(&self) -> usize {
        self.entries.len()
    }

    /// Depth of the leaves (number of split levels).
    pub fn levels(&self) -> u32 {
        self.levels
    }

    /// The nearest point to `point`: `(index, distance)`, ties broken by the
    /// lower index. `None` for an empty tree or a non-finite query.
    pub fn nearest(&self, point: [f64; 3]) -> Option<(usize, f64)> {
        self.nearest_hit(point, f64::INFINITY)
            .map(|h| (h.index, h.dist2.sqrt()))
    }

    /// The nearest point within `radius` (inclusive) of `point`, ties broken
    /// by the lower index. `None` if there is none, or for a negative or NaN
    /// radius or a non-finite query.
    pub fn nearest_within(&self, point: [f64; 3], radius: f64) -> Option<(usize, f64)> {
        if radius.is_nan() || radius < 0.0 {
            return None;
        }
        self.nearest_hit(point, radius * radius)
            .map(|h| (h.index, h.dist2.sqrt()))
    }

    /// The `k` nearest points to `point`, sorted by distance then index.
    /// Fewer when the tree holds fewer than `k` points; empty for a
    /// non-finite query.
    pub fn k_nearest(&self, point: [f64; 3], k: usize) -> Vec<(usize, f64)> {
        self.k_nearest_hits(point, k, f64::INFINITY)
            .into_iter()
            .map(|h| (h.index, h.dist2.sqrt()))
            .collect()
    }

    /// Like [`k_nearest`](Self::k_nearest) but only points within `radius`
    /// (inclusive).
    pub fn k_nearest_within(&self, point: [f64; 3], k: usize, radius: f64) -> Vec<(usize, f64)> {
        if radius.is_nan() || radius < 0.0 {
            return Vec::new();
        }
        self.k_nearest_hits(point, k, radius * radius)
            .into_iter()
            .map(|h| (h.index, h.dist2.sqrt()))
            .collect()
    }

    /// All points within `radius` (inclusive) of `point`, sorted by distance
    /// then index. Empty for a negative or NaN radius or a non-finite query.
    pub fn within_radius(&self, point: [f64; 3], radius: f64) -> Vec<(usize, f64)> {
        if radius.is_nan() || radius < 0.0 {
            return Vec::new();
        }
        self.within_hits(point, radius * radius)
            .into_iter()
            .map(|h| (h.index, h.dist2.sqrt()))
            .collect()
    }

    /// Number of points within `radius` (inclusive) of `point`.
    pub fn count_within_radius(&self, point: [f64; 3], radius: f64) -> usize {
        if radius.is_nan() || radius < 0.0 || !is_finite_point(&point) {
            return 0;
        }
        let mut count = 0usize;
        self.visit_within(point, radius * radius, &mut |_| count += 1);
        count
    }

    /// Nearest hit with squared distance `<= max_dist2`.
    pub(crate) fn nearest_hit(&self, q: [f64; 3], max_dist2: f64) -> Option<Hit> {
        if !is_finite_point(&q) || self.entries.is_empty() {
            return None;
        }
        let mut best = Hit {
            dist2: max_dist2,
            index: usize::MAX,
            point: [f64::NAN; 3],
        };
        self.nearest_rec(&q, 0, self.entries.len(), 0, self.splits.len(), &mut best);
        (best.index != usize::MAX).then_some(best)
    }

    fn nearest_rec(
        &self,
        q: &[f64; 3],
        lo: usize,
        hi: usize,
        node_lo: usize,
        node_hi: usize,
        best: &mut Hit,
    ) {
        if node_lo == node_hi {
            for e in &self.entries[lo..hi] {
                let d2 = dist2(q, &e.point);
                if d2 < best.dist2 || (d2 == best.dist2 && e.index < best.index) {
                    *best = Hit {
                        dist2: d2,
                        index: e.index,
                        point: e.point,
                    };
                }
            }
            return;
        }
        let node = node_lo + (node_hi - node_lo) / 2;
        let split = self.splits[node];
        let mid = lo + (hi - lo) / 2;
        let diff = q[split.dim as usize] - split.value;
        if diff < 0.0 {
            self.nearest_rec(q, lo, mid, node_lo, node, best);
            if diff * diff <= best.dist2 {
                self.nearest_rec(q, mid, hi, node + 1, node_hi, best);
            }
        } else {
            self.nearest_rec(q, mid, hi, node + 1, node_hi, best);
            if diff * diff <= best.dist2 {
                self.nearest_rec(q, lo, mid, node_lo, node, best);
            }
        }
    }

    /// Up to `k` nearest hits with squared distance `<= max_dist2`, sorted.
    pub(crate) fn k_nearest_hits(&self, q: [f64; 3], k: usize, max_dist2: f64) -> Vec<Hit> {
        if k == 0 || !is_finite_point(&q) || self.entries.is_empty() {
            return Vec::new();
        }
        let mut heap = BinaryHeap::with_capacity(k.min(self.entries.len()) + 1);
        self.k_nearest_rec(
            &q,
            k,
            max_dist2,
            0,
            self.entries.len(),
            0,
            self.splits.len(),
            &mut heap,
        );
        let mut hits: Vec<Hit> = heap.into_iter().map(|h| h.0).collect();
        hits.sort_by(Hit::key_cmp);
        hits
    }

    #[allow(clippy::too_many_arguments)]
    fn k_nearest_rec(
        &self,
        q: &[f64; 3],
        k: usize,
        max_dist2: f64,
        lo: usize,
        hi: usize,
        node_lo: usize,
        node_hi: usize,
        heap: &mut BinaryHeap<HeapHit>,
    ) {
        if node_lo == node_hi {
            for e in &self.entries[lo..hi] {
                let d2 = dist2(q, &e.point);
                if d2 > max_dist2 {
                    continue;
                }
                let hit = Hit {
                    dist2: d2,
                    index: e.index,
                    point: e.point,
                };
                if heap.len() < k {
                    heap.push(HeapHit(hit));
                } else if let Some(mut top) = heap.peek_mut() {
                    if hit.key_cmp(&top.0) == Ordering::Less {
                        *top = HeapHit(hit);
                    }
                }
            }
            return;
        }
        let bound = |heap: &BinaryHeap<HeapHit>| {
            if heap.len() < k {
                max_dist2
            } else {
                heap.peek().map_or(max_dist2, |top| top.0.dist2)
            }
        };
        let node = node_lo + (node_hi - node_lo) / 2;
        let split = self.splits[node];
        let mid = lo + (hi - lo) / 2;
        let diff = q[split.dim as usize] - split.value;
        if diff < 0.0 {
            self.k_nearest_rec(q, k, max_dist2, lo, mid, node_lo, node, heap);
            if diff * diff <= bound(heap) {
                self.k_nearest_rec(q, k, max_dist2, mid, hi, node + 1, node_hi, heap);
            }
        } else {
            self.k_nearest_rec(q, k, max_dist2, mid, hi, node + 1, node_hi, heap);
            if diff * diff <= bound(heap) {
                self.k_nearest_rec(q, k, max_dist2, lo, mid, node_lo, node, heap);
            }
        }
    }

    /// All hits with squared distance `<= max_dist2`, sorted.
    pub(crate) fn within_hits(&self, q: [f64; 3], max_dist2: f64) -> Vec<Hit> {
        if !is_finite_point(&q) {
            return Vec::new();
        }
        let mut hits = Vec::new();
        self.visit_within(q, max_dist2, &mut |h| hits.push(h));
        hits.sort_by(Hit::key_cmp);
        hits
    }

    fn visit_within(&self, q: [f64; 3], max_dist2: f64, f: &mut impl FnMut(Hit)) {
        if self.entries.is_empty() {
            return;
        }
        self.within_rec(
            &q,
            max_dist2,
            0,
            self.entries.len(),
            0,
            self.splits.len(),
            f,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn within_rec(
        &self,
        q: &[f64; 3],
        max_dist2: f64,
        lo: usize,
        hi: usize,
        node_lo: usize,
        node_hi: usize,
        f: &mut impl FnMut(Hit),
    ) {
        if node_lo == node_hi {
            for e in &self.entries[lo..hi] {
                let d2 = dist2(q, &e.point);
                if d2 <= max_dist2 {
                    f(Hit {
                        dist2: d2,
                        index: e.index,
                        point: e.point,
                    });
                }
            }
            return;
        }
        let node = node_lo + (node_hi - node_lo) / 2;
        let split = self.splits[node];
        let mid = lo + (hi - lo) / 2;
        let diff = q[split.dim as usize] - split.value;
        let visit_far = diff * diff <= max_dist2;
        if diff < 0.0 || visit_far {
            self.within_rec(q, max_dist2, lo, mid, node_lo, node, f);
        }
        if diff >= 0.0 || visit_far {
            self.within_rec(q, max_dist2, mid, hi, node + 1, node_hi, f);
        }
    }
}

/// Above this many points, [`widest_dim`] looks at an evenly strided
/// sample of this size instead of every point.
const SPREAD_SAMPLE: usize = 256;

/// Dimension along which the points spread the most, estimated from an
/// evenly strided sample for large nodes (deterministic; the choice only
/// affects speed, never results).
fn widest_dim(entries: &[Entry]) -> u8 {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    let stride = (entries.len() / SPREAD_SAMPLE).max(1);
    for e in entries.iter().step_by(stride) {
        for k in 0..3 {
            lo[k] = lo[k].min(e.point[k]);
            hi[k] = hi[k].max(e.point[k]);
        }
    }
    let spread = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
    if spread[0] >= spread[1] && spread[0] >= spread[2] {
        0
    } else if spread[1] >= spread[2] {
        1
    } else {
        2
    }
}

/// Splits `entries` at its median along its widest dimension, records the
/// plane in the middle of `splits` and recurses into both halves.
fn build_rec(entries: &mut [Entry], splits: &mut [Split]) {
    if splits.is_empty() {
        return;
    }
    let node = splits.len() / 2;
    let (left_splits, rest) = splits.split_at_mut(node);
    let Some((this, right_splits)) = rest.split_first_mut() else {
        return;
    };
    let mid = entries.len() / 2;
    if mid < entries.len() {
        let dim = widest_dim(entries);
        let d = dim as usize;
        entries.select_nth_unstable_by(mid, |a, b| a.point[d].total_cmp(&b.point[d]));
        *this = Split {
            value: entries[mid].point[d],
            dim,
        };
    }
    let (left, right) = entries.split_at_mut(mid);
    if left.len() + right.len() >= PARALLEL_BUILD_MIN {
        rayon::join(
            || build_rec(left, left_splits),
            || build_rec(right, right_splits),
        );
    } else {
        build_rec(left, left_splits);
        build_rec(right, right_splits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::XorShift;

    fn brute_sorted(points: &[[f64; 3]], q: [f64; 3], r2: f64) -> Vec<(usize, f64)> {
        let mut v: Vec<(usize, f64)> = points
            .iter()
            .enumerate()
            .filter(|(_, p)| is_finite_point(p))
            .map(|(i, p)| (i, dist2(&q, p)))
            .filter(|&(_, d2)| d2 <= r2)
            .collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        v.into_iter().map(|(i, d2)| (i, d2.sqrt())).collect()
    }

    fn random_points(rng: &mut XorShift, n: usize, box_mpc_h: f64) -> Vec<[f64; 3]> {
        (0..n)
            .map(|_| {
                [
                    rng.uniform() * box_mpc_h,
                    rng.uniform() * box_mpc_h,
                    rng.uniform() * box_mpc_h,
                ]
            })
            .collect()
    }

    #[test]
    fn empty_and_tiny_trees() {
        let t = KdTree3::build(&[]);
        assert!(t.is_empty());
        assert_eq!(t.nearest([0.0; 3]), None);
        assert!(t.k_nearest([0.0; 3], 3).is_empty());
        assert!(t.within_radius([0.0; 3], 1.0).is_empty());
        let t = KdTree3::build(&[[1.0, 2.0, 3.0]]);
        assert_eq!(t.nearest([1.0, 2.0, 4.0]), Some((0, 1.0)));
        assert_eq!(t.nearest_within([1.0, 2.0, 4.0], 0.5), None);
        assert_eq!(t.nearest_within([1.0, 2.0, 4.0], 1.0), Some((0, 1.0)));
    }

    #[test]
    fn non_finite_points_and_queries_are_ignored() {
        let pts = [
            [0.0, 0.0, 0.0],
            [f64::NAN, 0.0, 0.0],
            [1.0, f64::INFINITY, 0.0],
            [2.0, 0.0, 0.0],
        ];
        let t = KdTree3::build(&pts);
        assert_eq!(t.len(), 4);
        assert_eq!(t.n_indexed(), 2);
        assert_eq!(
            t.within_radius([1.0, 0.0, 0.0], 10.0),
            vec![(0, 1.0), (3, 1.0)]
        );
        assert_eq!(t.nearest([f64::NAN, 0.0, 0.0]), None);
        assert_eq!(t.nearest_within([0.0; 3], f64::NAN), None);
        assert_eq!(t.nearest_within([0.0; 3], -1.0), None);
        assert!(t.within_radius([0.0; 3], -1.0).is_empty());
        assert!(t.k_nearest([0.0, f64::INFINITY, 0.0], 2).is_empty());
    }

    #[test]
    fn ties_go_to_the_lower_index() {
        // Many duplicates of the same point, and points at equal distance.
        let mut pts = vec![[5.0, 5.0, 5.0]; 50];
        pts.push([1.0, 0.0, 0.0]);
        pts.push([-1.0, 0.0, 0.0]);
        pts.push([0.0, 1.0, 0.0]);
        let t = KdTree3::build(&pts);
        assert_eq!(t.nearest([5.0, 5.0, 5.0]), Some((0, 0.0)));
        assert_eq!(t.nearest([0.0, 0.0, 0.0]), Some((50, 1.0)));
        let k = t.k_nearest([5.0, 5.0, 5.0], 3);
        assert_eq!(k, vec![(0, 0.0), (1, 0.0), (2, 0.0)]);
        let k = t.k_nearest([0.0; 3], 2);
        assert_eq!(k, vec![(50, 1.0), (51, 1.0)]);
    }

    #[test]
    fn queries_match_brute_force_in_3d() {
        let mut rng = XorShift::new(42);
        for &n in &[1usize, 7, 8, 9, 100, 1000, 20_000] {
            let mut pts = random_points(&mut rng, n, 500.0);
            // Clustered duplicates exercise equal split values.
            for i in 0..n / 10 {
                pts[i] = pts[0];
            }
            let t = KdTree3::build(&pts);
            for _ in 0..200 {
                let q = [
                    rng.uniform() * 600.0 - 50.0,
                    rng.uniform() * 600.0 - 50.0,
                    rng.uniform() * 600.0 - 50.0,
                ];
                let all = brute_sorted(&pts, q, f64::INFINITY);
                assert_eq!(t.nearest(q), all.first().copied(), "n={n} q={q:?}");
                let k = 1 + (rng.uniform() * 10.0) as usize;
                let want: Vec<_> = all.iter().take(k).copied().collect();
                assert_eq!(t.k_nearest(q, k), want, "n={n} k={k}");
                let r = rng.uniform() * 80.0;
                let want = brute_sorted(&pts, q, r * r);
                assert_eq!(t.within_radius(q, r), want, "n={n} r={r}");
                assert_eq!(t.count_within_radius(q, r), want.len());
                assert_eq!(t.nearest_within(q, r), want.first().copied());
                let want_k: Vec<_> = want.iter().take(k).copied().collect();
                assert_eq!(t.k_nearest_within(q, k, r), want_k);
            }
        }
    }

    #[test]
    fn build_is_independent_of_thread_count() {
        let mut rng = XorShift::new(7);
        let pts = random_points(&mut rng, 100_000, 1.0);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .map(|p| p.install(|| KdTree3::build(&pts)));
        let many = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .map(|p| p.install(|| KdTree3::build(&pts)));
        let (Ok(one), Ok(many)) = (one, many) else {
            panic!("thread pool");
        };
        let idx = |t: &KdTree3| t.entries.iter().map(|e| e.index).collect::<Vec<_>>();
        assert_eq!(idx(&one), idx(&many));
    }
}
