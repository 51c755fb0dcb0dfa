//! From holes to voids (VAST's `hole_combine.py::combine_holes_2` and
//! `_hole_combine_cython.pyx`), on holes sorted by decreasing radius:
//! 1. duplicates (`remove_duplicates_2`): a hole is dropped when its centre
//!    is within 0.1 Mpc/h of the last kept hole and its radius within
//!    0.1 Mpc/h of it;
//! 2. maximal spheres (`find_maximals_3`): in order, a hole of radius
//!    above 10 Mpc/h is a maximal unless it lies inside an accepted maximal or
//!    overlaps one by more than 10 % of its own volume;
//! 3. joining (`join_holes_to_maximals`): every other hole joins the void
//!    of a maximal when it overlaps exactly one maximal by more than 50 %
//!    of its own volume; holes that join none are dropped. VAST visits the
//!    maximals by cells of a grid of edge twice the largest radius and,
//!    when the hole lies inside a maximal, skips the rest of that cell:
//!    reproduced, so the same holes join;
//! 4. edge flags of the voids: 1 when one of its holes crossed the mask
//!    (needed the volume count), else 2 when a point 10 Mpc/h (the
//!    minimum maximal radius) from one of its hole centres along an axis
//!    is outside the mask, else 0.
//!
//! Overlap volume of two spheres at distance `d`: the two caps, heights
//! `h = (r - R + d)(r + R - d) / (2 d)`, volumes `pi h^2 (3 R - h) / 3`.

use std::f64::consts::PI;

use rayon::prelude::*;

use super::grid::dist2;
use crate::mask::SurveyMask;

/// A sphere: centre and radius (Mpc/h).
pub(crate) type Sphere = ([f64; 3], f64);

fn cap_height(r_big: f64, r: f64, d: f64) -> f64 {
    (r - r_big + d) * (r + r_big - d) / (2.0 * d)
}

fn cap_volume(radius: f64, height: f64) -> f64 {
    PI * height * height * (3.0 * radius - height) / 3.0
}

/// Overlap test of VAST: `Contained` when `R_max - r >= d`, the lens
/// volume when the spheres touch, `None` when apart.
enum Overlap {
    Contained,
    Volume(f64),
    Apart,
}

fn overlap(hole: Sphere, maximal: Sphere) -> Overlap {
    let d = dist2(hole.0, maximal.0).sqrt();
    let (r, rm) = (hole.1, maximal.1);
    if rm - r >= d {
        Overlap::Contained
    } else if rm + r >= d {
        let v = cap_volume(r, cap_height(r, rm, d)) + cap_volume(rm, cap_height(rm, r, d));
        Overlap::Volume(v)
    } else {
        Overlap::Apart
    }
}

/// Indices of the holes kept by `remove_duplicates_2` (input sorted by
/// decreasing radius).
pub(crate) fn remove_duplicates(holes: &[Sphere], tol: f64) -> Vec<usize> {
    let mut keep = Vec::with_capacity(holes.len());
    let Some(first) = holes.first() else {
        return keep;
    };
    keep.push(0);
    let mut last = *first;
    for (i, &h) in holes.iter().enumerate().skip(1) {
        let sep = dist2(h.0, last.0).sqrt();
        if sep > tol || last.1 - h.1 > tol {
            keep.push(i);
            last = h;
        }
    }
    keep
}

/// The grid of `find_maximals_3`: cells of edge twice the largest hole
/// radius from the candidates' bounding box widened by that radius, and
/// cell coordinates truncated toward zero (Cython's `<CELL_ID_t>` cast).
struct MaximalGrid {
    min: [f64; 3],
    edge: f64,
    /// Cells per axis, covering every cell index a hole can have plus a
    /// margin of one for the neighbour cubes (indices are offset by one).
    dims: [i64; 3],
    offset: [i64; 3],
    /// Maximal indices (into the hole list) per cell, in acceptance order.
    cells: Vec<Vec<usize>>,
}

impl MaximalGrid {
    fn new(min: [f64; 3], edge: f64, holes: &[Sphere]) -> MaximalGrid {
        let mut g = MaximalGrid {
            min,
            edge,
            dims: [0; 3],
            offset: [0; 3],
            cells: Vec::new(),
        };
        let mut lo = [i64::MAX; 3];
        let mut hi = [i64::MIN; 3];
        for h in holes {
            let c = g.raw_cell(h.0);
            for a in 0..3 {
                lo[a] = lo[a].min(c[a]);
                hi[a] = hi[a].max(c[a]);
            }
        }
        // Neighbour cubes reach one cell beyond the holes' cells.
        for a in 0..3 {
            g.dims[a] = hi[a] - lo[a] + 3;
            g.offset[a] = 1 - lo[a];
        }
        let n = (g.dims[0] * g.dims[1] * g.dims[2]).max(0) as usize;
        g.cells = vec![Vec::new(); n];
        g
    }

    fn raw_cell(&self, c: [f64; 3]) -> [i64; 3] {
        [
            ((c[0] - self.min[0]) / self.edge) as i64,
            ((c[1] - self.min[1]) / self.edge) as i64,
            ((c[2] - self.min[2]) / self.edge) as i64,
        ]
    }

    fn cell(&self, c: [f64; 3]) -> [i64; 3] {
        self.raw_cell(c)
    }

    fn slot(&self, c: [i64; 3]) -> Option<usize> {
        let mut k = 0i64;
        for ((&ca, &off), &dim) in c.iter().zip(&self.offset).zip(&self.dims) {
            let v = ca + off;
            if v < 0 || v >= dim {
                return None;
            }
            k = k * dim + v;
        }
        Some(k as usize)
    }

    fn get(&self, c: [i64; 3]) -> Option<&Vec<usize>> {
        self.slot(c).map(|k| &self.cells[k])
    }

    fn push(&mut self, c: [i64; 3], i: usize) {
        if let Some(k) = self.slot(c) {
            self.cells[k].push(i);
        }
    }
}

/// Maximal spheres and void membership of holes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Combined {
    /// Indices (into the sorted, de-duplicated holes) of the maximals, in
    /// void order.
    pub maximals: Vec<usize>,
    /// `(hole index, void id)` of every hole in a void, in hole order.
    pub void_holes: Vec<(usize, usize)>,
}

/// Steps 2 and 3 on de-duplicated holes sorted by decreasing radius.
pub(crate) fn find_voids_from_holes(
    holes: &[Sphere],
    min_maximal_radius: f64,
    maximal_overlap_frac: f64,
    hole_join_frac: f64,
) -> Combined {
    let Some(&(_, largest)) = holes.first() else {
        return Combined {
            maximals: Vec::new(),
            void_holes: Vec::new(),
        };
    };
    let candidates: Vec<usize> = (0..holes.len())
        .filter(|&i| holes[i].1 > min_maximal_radius)
        .collect();
    let mut min = holes[0].0;
    for &i in &candidates {
        for (m, &v) in min.iter_mut().zip(&holes[i].0) {
            *m = m.min(v);
        }
    }
    let mut grid = MaximalGrid::new(
        [min[0] - largest, min[1] - largest, min[2] - largest],
        2.0 * largest,
        holes,
    );
    let mut maximals: Vec<usize> = Vec::new();
    for &i in &candidates {
        let h = holes[i];
        let thresh = maximal_overlap_frac * 4.0 / 3.0 * PI * h.1.powi(3);
        let cell = grid.cell(h.0);
        let mut is_maximal = true;
        'cells: for n in neighbours(cell) {
            if let Some(list) = grid.get(n) {
                for &m in list {
                    match overlap(h, holes[m]) {
                        Overlap::Contained => {
                            is_maximal = false;
                            break 'cells;
                        }
                        Overlap::Volume(v) if v > thresh => {
                            is_maximal = false;
                            break 'cells;
                        }
                        _ => {}
                    }
                }
            }
        }
        if is_maximal {
            grid.push(cell, i);
            maximals.push(i);
        }
    }
    let mut void_of = vec![usize::MAX; holes.len()];
    for (v, &m) in maximals.iter().enumerate() {
        void_of[m] = v;
    }
    // Each hole independently (in parallel, collected in hole order).
    let void_holes: Vec<(usize, usize)> = holes
        .par_iter()
        .enumerate()
        .with_min_len(512)
        .filter_map(|(i, &h)| {
            if void_of[i] != usize::MAX {
                return Some((i, void_of[i]));
            }
            let thresh = hole_join_frac * 4.0 / 3.0 * PI * h.1.powi(3);
            let mut matches = 0usize;
            let mut last = usize::MAX;
            for n in neighbours(grid.cell(h.0)) {
                if let Some(list) = grid.get(n) {
                    for &m in list {
                        // Apart for certain (a margin over the rounding of
                        // `overlap`): skip its square root.
                        let reach = h.1 + holes[m].1;
                        if dist2(h.0, holes[m].0) > reach * reach * (1.0 + 1e-9) {
                            continue;
                        }
                        match overlap(h, holes[m]) {
                            // VAST breaks out of this cell only.
                            Overlap::Contained => break,
                            Overlap::Volume(v) if v > thresh => {
                                matches += 1;
                                last = m;
                            }
                            _ => {}
                        }
                    }
                }
            }
            (matches == 1).then(|| (i, void_of[last]))
        })
        .collect();
    Combined {
        maximals,
        void_holes,
    }
}

/// The 27 cells around `c` (itself included).
fn neighbours(c: [i64; 3]) -> impl Iterator<Item = [i64; 3]> {
    (-1..=1).flat_map(move |i| {
        (-1..=1).flat_map(move |j| (-1..=1).map(move |k| [c[0] + i, c[1] + j, c[2] + k]))
    })
}

/// Step 4: the edge flag of each void.
pub(crate) fn edge_flags(
    holes: &[Sphere],
    boundary: &[bool],
    combined: &Combined,
    mask: &SurveyMask,
    min_maximal_radius: f64,
) -> Vec<i64> {
    let mut flags = vec![0i64; combined.maximals.len()];
    let mut by_void: Vec<Vec<usize>> = vec![Vec::new(); combined.maximals.len()];
    for &(h, v) in &combined.void_holes {
        by_void[v].push(h);
    }
    for (v, members) in by_void.iter().enumerate() {
        if members.iter().any(|&h| boundary[h]) {
            flags[v] = 1;
            continue;
        }
        let d = min_maximal_radius;
        let near_edge = members.iter().any(|&h| {
            let c = holes[h].0;
            [
                [c[0] - d, c[1], c[2]],
                [c[0] + d, c[1], c[2]],
                [c[0], c[1] - d, c[2]],
                [c[0], c[1] + d, c[2]],
                [c[0], c[1], c[2] - d],
                [c[0], c[1], c[2] + d],
            ]
            .iter()
            .any(|&p| !mask.contains(p))
        });
        if near_edge {
            flags[v] = 2;
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lens_volume_of_half_overlapping_equal_spheres() {
        // Two unit spheres at distance 1: lens volume 5 pi / 12.
        match overlap(([0.0; 3], 1.0), ([1.0, 0.0, 0.0], 1.0)) {
            Overlap::Volume(v) => assert!((v - 5.0 * PI / 12.0).abs() < 1e-12, "{v}"),
            _ => panic!("expected an overlap"),
        }
    }

    #[test]
    fn maximals_and_joining() {
        let holes = vec![
            ([0.0, 0.0, 0.0], 20.0),   // maximal 0
            ([100.0, 0.0, 0.0], 15.0), // maximal 1
            ([15.0, 0.0, 0.0], 12.0),  // big overlap with 0 (not maximal), joins 0
            ([0.0, 30.0, 0.0], 11.0),  // touches 0 a little: maximal 2
            ([200.0, 0.0, 0.0], 5.0),  // alone: dropped
            ([100.0, 12.0, 0.0], 6.0), // joins 1
        ];
        let c = find_voids_from_holes(&holes, 10.0, 0.1, 0.5);
        assert_eq!(c.maximals, vec![0, 1, 3]);
        assert_eq!(c.void_holes, vec![(0, 0), (1, 1), (2, 0), (3, 2), (5, 1)]);
    }

    #[test]
    fn duplicates_compare_with_last_kept() {
        let holes = vec![
            ([0.0; 3], 10.0),
            ([0.05, 0.0, 0.0], 9.95),
            ([0.0, 0.0, 0.0], 9.8),
            ([5.0, 0.0, 0.0], 9.7),
        ];
        assert_eq!(remove_duplicates(&holes, 0.1), vec![0, 2, 3]);
    }
}
