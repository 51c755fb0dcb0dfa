//! A uniform cell grid over the wall galaxies for ball queries, the
//! search structure of hole growing (VAST's `GalaxyMap`, with the periodic
//! images of `SpatialMap.add_cell_periodic` generated on the fly).
//!
//! Galaxies are stored sorted by cell (compressed rows), so the cells of
//! one `(i, j)` column that a ball crosses are one contiguous slice.

/// Galaxies binned in cubic cells.
#[derive(Debug, Clone)]
pub(crate) struct GalaxyGrid {
    origin: [f64; 3],
    /// Cell edge per axis (equal unless periodic with unequal sides).
    cell: [f64; 3],
    inv_cell: [f64; 3],
    dims: [i64; 3],
    /// Periodic box sides, when distances wrap.
    period: Option<[f64; 3]>,
    /// `starts[c]..starts[c + 1]` are the galaxies of cell `c`.
    starts: Vec<u32>,
    pts: Vec<[f64; 3]>,
    ids: Vec<u32>,
}

/// Most cells per axis: bounds memory for sparse or huge inputs.
const MAX_CELLS_PER_AXIS: f64 = 1024.0;

impl GalaxyGrid {
    /// A grid over `points` with cells of about `cell_mpc_h`; periodic
    /// when `period = Some((lo, sides))` (points are wrapped into the box).
    pub fn build(
        points: &[[f64; 3]],
        cell_mpc_h: f64,
        period: Option<([f64; 3], [f64; 3])>,
    ) -> GalaxyGrid {
        let (origin, cell, dims, wrapped): ([f64; 3], [f64; 3], [i64; 3], Vec<[f64; 3]>) =
            match period {
                Some((lo, side)) => {
                    let mut cell = [0.0; 3];
                    let mut dims = [1; 3];
                    for a in 0..3 {
                        // An integer number of cells per period, so that
                        // images of a cell are cells.
                        let n = (side[a] / cell_mpc_h)
                            .floor()
                            .clamp(1.0, MAX_CELLS_PER_AXIS);
                        dims[a] = n as i64;
                        cell[a] = side[a] / n;
                    }
                    let wrapped = points
                        .iter()
                        .map(|p| {
                            let mut q = *p;
                            for a in 0..3 {
                                q[a] = lo[a] + (p[a] - lo[a]).rem_euclid(side[a]);
                            }
                            q
                        })
                        .collect();
                    (lo, cell, dims, wrapped)
                }
                None => {
                    let mut lo = [f64::INFINITY; 3];
                    let mut hi = [f64::NEG_INFINITY; 3];
                    for p in points {
                        for a in 0..3 {
                            lo[a] = lo[a].min(p[a]);
                            hi[a] = hi[a].max(p[a]);
                        }
                    }
                    if points.is_empty() {
                        lo = [0.0; 3];
                        hi = [0.0; 3];
                    }
                    let mut cell = [cell_mpc_h; 3];
                    let mut dims = [1; 3];
                    for a in 0..3 {
                        let n = ((hi[a] - lo[a]) / cell_mpc_h).floor() + 1.0;
                        if n > MAX_CELLS_PER_AXIS {
                            cell[a] = (hi[a] - lo[a]) / (MAX_CELLS_PER_AXIS - 1.0);
                            dims[a] = MAX_CELLS_PER_AXIS as i64;
                        } else {
                            dims[a] = n as i64;
                        }
                    }
                    (lo, cell, dims, points.to_vec())
                }
            };
        let inv_cell = [1.0 / cell[0], 1.0 / cell[1], 1.0 / cell[2]];
        let n_cells = (dims[0] * dims[1] * dims[2]) as usize;
        let cell_of = |p: &[f64; 3]| -> usize {
            let mut c = [0i64; 3];
            for a in 0..3 {
                c[a] = floor_i64((p[a] - origin[a]) * inv_cell[a]).clamp(0, dims[a] - 1);
            }
            ((c[0] * dims[1] + c[1]) * dims[2] + c[2]) as usize
        };
        let mut counts = vec![0u32; n_cells + 1];
        let keys: Vec<usize> = wrapped.iter().map(cell_of).collect();
        for &k in &keys {
            counts[k + 1] += 1;
        }
        for c in 0..n_cells {
            counts[c + 1] += counts[c];
        }
        let starts = counts.clone();
        let mut fill = counts;
        let mut pts = vec![[0.0; 3]; wrapped.len()];
        let mut ids = vec![0u32; wrapped.len()];
        for (i, (&k, p)) in keys.iter().zip(&wrapped).enumerate() {
            let at = fill[k] as usize;
            pts[at] = *p;
            ids[at] = i as u32;
            fill[k] += 1;
        }
        GalaxyGrid {
            origin,
            cell,
            inv_cell,
            dims,
            period: period.map(|(_, s)| s),
            starts,
            pts,
            ids,
        }
    }

    /// Number of cells holding at least one galaxy.
    pub fn occupied_cells(&self) -> usize {
        self.starts.windows(2).filter(|w| w[1] > w[0]).count()
    }

    /// Calls `f(id, position)` for every galaxy (or periodic image) within
    /// `radius` (inclusive) of `center`.
    #[inline]
    pub fn for_each_in_ball(
        &self,
        center: [f64; 3],
        radius: f64,
        mut f: impl FnMut(u32, [f64; 3]),
    ) {
        if radius.is_nan() || radius < 0.0 || !center.iter().all(|c| c.is_finite()) {
            return;
        }
        let r2 = radius * radius;
        let lo_i = |a: usize, v: f64| floor_i64((v - self.origin[a]) * self.inv_cell[a]);
        let (mut i0, mut i1) = (lo_i(0, center[0] - radius), lo_i(0, center[0] + radius));
        let (mut j0, mut j1) = (lo_i(1, center[1] - radius), lo_i(1, center[1] + radius));
        match self.period {
            None => {
                i0 = i0.max(0);
                i1 = i1.min(self.dims[0] - 1);
                j0 = j0.max(0);
                j1 = j1.min(self.dims[1] - 1);
            }
            Some(_) => {
                // A ball wider than the box sees each image once per period
                // crossed; more than three periods is never needed here.
                i1 = i1.min(i0 + 3 * self.dims[0]);
                j1 = j1.min(j0 + 3 * self.dims[1]);
            }
        }
        for i in i0..=i1 {
            let dx = axis_gap(
                center[0],
                self.origin[0] + i as f64 * self.cell[0],
                self.cell[0],
            );
            let rem_x = r2 - dx * dx;
            if rem_x < 0.0 {
                continue;
            }
            let (iw, sx) = self.wrap(0, i);
            for j in j0..=j1 {
                let dy = axis_gap(
                    center[1],
                    self.origin[1] + j as f64 * self.cell[1],
                    self.cell[1],
                );
                let rem = rem_x - dy * dy;
                if rem < 0.0 {
                    continue;
                }
                let (jw, sy) = self.wrap(1, j);
                let h = rem.sqrt();
                let mut k0 = lo_i(2, center[2] - h);
                let mut k1 = lo_i(2, center[2] + h);
                if self.period.is_none() {
                    k0 = k0.max(0);
                    k1 = k1.min(self.dims[2] - 1);
                    if k0 > k1 {
                        continue;
                    }
                    let row = (iw * self.dims[1] + jw) * self.dims[2];
                    self.scan(row + k0, row + k1, [0.0, sx, sy], center, r2, &mut f);
                } else {
                    k1 = k1.min(k0 + 3 * self.dims[2]);
                    let row = (iw * self.dims[1] + jw) * self.dims[2];
                    // Split [k0, k1] at period boundaries.
                    let mut k = k0;
                    while k <= k1 {
                        let (kw, sz) = self.wrap(2, k);
                        let end = (k + (self.dims[2] - 1 - kw)).min(k1);
                        let kw_end = kw + (end - k);
                        self.scan(row + kw, row + kw_end, [sz, sx, sy], center, r2, &mut f);
                        k = end + 1;
                    }
                }
            }
        }
    }

    /// Galaxies of cells `c0..=c1` (one column), shifted by
    /// `shift = [sz, sx, sy]`, tested against the ball.
    #[inline]
    fn scan(
        &self,
        c0: i64,
        c1: i64,
        shift: [f64; 3],
        center: [f64; 3],
        r2: f64,
        f: &mut impl FnMut(u32, [f64; 3]),
    ) {
        let a = self.starts[c0 as usize] as usize;
        let b = self.starts[c1 as usize + 1] as usize;
        let [sz, sx, sy] = shift;
        for (p, &id) in self.pts[a..b].iter().zip(&self.ids[a..b]) {
            let q = [p[0] + sx, p[1] + sy, p[2] + sz];
            let d = [q[0] - center[0], q[1] - center[1], q[2] - center[2]];
            if d[0] * d[0] + d[1] * d[1] + d[2] * d[2] <= r2 {
                f(id, q);
            }
        }
    }

    /// Cell index inside the box and the coordinate shift of its image.
    #[inline]
    fn wrap(&self, axis: usize, c: i64) -> (i64, f64) {
        match self.period {
            None => (c, 0.0),
            Some(side) => {
                let n = self.dims[axis];
                (c.rem_euclid(n), c.div_euclid(n) as f64 * side[axis])
            }
        }
    }

    /// The nearest galaxy (or image) to `p`: `(id, position, distance)`,
    /// ties broken by the lower id.
    pub fn nearest(&self, p: [f64; 3]) -> Option<(u32, [f64; 3], f64)> {
        if self.pts.is_empty() {
            return None;
        }
        // Half a cell first: most queries (centres of empty 5 Mpc/h cells,
        // whose nearest galaxy is at least 2.5 Mpc/h away, among galaxies
        // a few Mpc/h apart) end there, scanning few galaxies.
        let mut r = 0.5 * self.cell[0].min(self.cell[1]).min(self.cell[2]);
        let span = self.dims[0] as f64 * self.cell[0]
            + self.dims[1] as f64 * self.cell[1]
            + self.dims[2] as f64 * self.cell[2];
        let reach = span + (0..3).map(|a| (p[a] - self.origin[a]).abs()).sum::<f64>();
        loop {
            let mut best: Option<(u32, [f64; 3], f64)> = None;
            self.for_each_in_ball(p, r, |id, q| {
                let d2 = dist2(p, q);
                if best.is_none_or(|(bid, _, bd)| d2 < bd || (d2 == bd && id < bid)) {
                    best = Some((id, q, d2));
                }
            });
            if let Some((id, q, d2)) = best {
                return Some((id, q, d2.sqrt()));
            }
            if r > reach {
                return None;
            }
            r *= 2.0;
        }
    }
}

/// `v.floor() as i64`, bit for bit (NaN to 0, saturating beyond the i64
/// range), without the libm call that `floor` is on baseline x86-64 (no
/// SSE4.1 rounding instruction): a tenth of the instructions of hole
/// growing went there.
#[inline]
pub(crate) fn floor_i64(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) > v {
        t.saturating_sub(1)
    } else {
        t
    }
}

/// `v.ceil() as i64`, bit for bit (see [`floor_i64`]).
#[inline]
pub(crate) fn ceil_i64(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) < v {
        t.saturating_add(1)
    } else {
        t
    }
}

/// Distance from `x` to the interval `[lo, lo + w]` along one axis.
#[inline]
fn axis_gap(x: f64, lo: f64, w: f64) -> f64 {
    if x < lo {
        lo - x
    } else if x > lo + w {
        x - lo - w
    } else {
        0.0
    }
}

#[inline]
pub(crate) fn dist2(a: [f64; 3], b: [f64; 3]) -> f64 {
    let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg_points(n: usize, side: f64, seed: u64) -> Vec<[f64; 3]> {
        let mut s = seed;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 * side
        };
        (0..n).map(|_| [next(), next(), next()]).collect()
    }

    #[test]
    fn fast_floor_and_ceil_match_the_library() {
        let vals = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            2.999_999_999_999,
            -2.000_000_000_001,
            1e300,
            -1e300,
            9.3e18,
            -9.3e18,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            1e-320,
            -1e-320,
        ];
        for v in vals {
            assert_eq!(floor_i64(v), v.floor() as i64, "{v}");
            assert_eq!(ceil_i64(v), v.ceil() as i64, "{v}");
        }
        let pts = lcg_points(10_000, 200.0, 3);
        for p in pts {
            let v = p[0] - 100.0;
            assert_eq!(floor_i64(v), v.floor() as i64, "{v}");
            assert_eq!(ceil_i64(v), v.ceil() as i64, "{v}");
        }
    }

    #[test]
    fn ball_query_matches_brute_force() {
        let pts = lcg_points(2000, 50.0, 7);
        let g = GalaxyGrid::build(&pts, 4.0, None);
        for (c, r) in [
            ([25.0, 25.0, 25.0], 6.0),
            ([1.0, 49.0, 3.0], 11.0),
            ([-5.0, 20.0, 20.0], 9.0),
        ] {
            let mut got = Vec::new();
            g.for_each_in_ball(c, r, |id, _| got.push(id));
            got.sort_unstable();
            let want: Vec<u32> = (0..pts.len() as u32)
                .filter(|&i| dist2(pts[i as usize], c) <= r * r)
                .collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn periodic_ball_sees_images() {
        let pts = lcg_points(3000, 100.0, 9);
        let g = GalaxyGrid::build(&pts, 15.0, Some(([0.0; 3], [100.0; 3])));
        let c = [2.0, 97.0, 50.0];
        let r = 8.0;
        let mut got = Vec::new();
        g.for_each_in_ball(c, r, |id, q| {
            assert!(dist2(q, c) <= r * r);
            got.push(id)
        });
        got.sort_unstable();
        let want: Vec<u32> = (0..pts.len() as u32)
            .filter(|&i| {
                let p = pts[i as usize];
                let mut d2 = 0.0;
                for a in 0..3 {
                    let d = (p[a] - c[a]).rem_euclid(100.0);
                    let d = d.min(100.0 - d);
                    d2 += d * d;
                }
                d2 <= r * r
            })
            .collect();
        assert_eq!(got, want);
        let (id, _, d) = g.nearest(c).unwrap();
        assert!(want.contains(&id) || d > r);
    }
}
