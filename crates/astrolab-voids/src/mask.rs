//! Survey footprint masks and radial limits: where a void may be.
//!
//! Three geometries, those of VAST's `MaskChecker`
//! (`vast/voidfinder/_voidfinder_cython_find_next.pyx`):
//! - [`SurveyMask::Sky`]: an angular footprint and comoving distance limits
//!   `[r_min, r_max]` (VAST `mask_type='ra_dec_z'`). The footprint is either
//!   VAST's boolean RA/Dec grid ([`RaDecGrid`], `multizmask.generate_mask`,
//!   as written in the MASK HDU of a VoidFinder file) or a set of HEALPix
//!   cells occupied by galaxies ([`HealpixFootprint`]).
//! - [`SurveyMask::Box`]: a Cartesian box (VAST `mask_type='xyz'`).
//! - [`SurveyMask::Periodic`]: a periodic box; every point is inside
//!   (VAST `mask_type='periodic'`).

use std::f64::consts::PI;

use astrolab_sky::healpix::hpx_index_at;

/// Why a mask cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum MaskError {
    /// The grid given does not have VAST's shape `(360 n, 180 n)`.
    #[error("mask grid has {got} cells; resolution {resolution} needs 360*{resolution} x 180*{resolution} = {expected}")]
    GridShape {
        resolution: usize,
        got: usize,
        expected: usize,
    },
    /// Resolution 0, or absurdly large.
    #[error("mask resolution {0} must be between 1 and 100")]
    Resolution(usize),
    /// Empty footprint: no galaxy to build it from.
    #[error("cannot build a footprint from an empty catalog")]
    Empty,
    /// Radial limits not finite or not increasing.
    #[error("radial limits [{r_min}, {r_max}] Mpc/h are not finite and increasing")]
    RadialLimits { r_min: f64, r_max: f64 },
    /// A box with non-positive extent.
    #[error("box limits {lo:?}..{hi:?} have a non-positive extent")]
    BoxLimits { lo: [f64; 3], hi: [f64; 3] },
    /// HEALPix depth outside 0..=13.
    #[error("HEALPix depth {0} must be between 0 and 13")]
    Depth(u8),
}

/// VAST's angular mask: a boolean grid over RA in `[0, 360)` and Dec in
/// `[-90, 90)` in steps of `1 / resolution` degrees.
///
/// Cell indices follow VAST exactly: `i = trunc(n * ra)`,
/// `j = trunc(n * dec) + 90 n` (truncation toward zero, as numpy's
/// `astype(int)` and Cython's `<int>` casts do).
#[derive(Debug, Clone, PartialEq)]
pub struct RaDecGrid {
    resolution: usize,
    /// Row-major `[i_ra][j_dec]`, `360 n x 180 n` cells.
    cells: Vec<bool>,
}

impl RaDecGrid {
    /// VAST's resolution rule (`generate_mask`): `1 + int(r_max * pi / 180
    /// / min_maximal_radius)`, one cell no wider than the smallest maximal
    /// sphere at the far edge of the survey.
    pub fn resolution_for(r_max_mpc_h: f64, min_maximal_radius_mpc_h: f64) -> usize {
        let n = r_max_mpc_h.to_radians() / min_maximal_radius_mpc_h;
        if n.is_finite() && n > 0.0 {
            1 + n.min(99.0) as usize
        } else {
            1
        }
    }

    /// The footprint of a galaxy list as VAST builds it: every cell holding
    /// a galaxy is in; with `smooth`, an empty cell with at least three of
    /// its four edge neighbours in is filled too (one pass, on the unsmoothed
    /// grid; border cells untouched).
    pub fn from_galaxies(
        ra_deg: &[f64],
        dec_deg: &[f64],
        resolution: usize,
        smooth: bool,
    ) -> Result<RaDecGrid, MaskError> {
        if !(1..=100).contains(&resolution) {
            return Err(MaskError::Resolution(resolution));
        }
        if ra_deg.is_empty() {
            return Err(MaskError::Empty);
        }
        let mut grid = RaDecGrid {
            resolution,
            cells: vec![false; 360 * 180 * resolution * resolution],
        };
        for (&ra, &dec) in ra_deg.iter().zip(dec_deg) {
            if let Some(k) = grid.cell_of(ra.rem_euclid(360.0), dec) {
                grid.cells[k] = true;
            }
        }
        if smooth {
            let (ni, nj) = grid.shape();
            let mut fill = Vec::new();
            for i in 1..ni - 1 {
                for j in 1..nj - 1 {
                    let at = |i: usize, j: usize| usize::from(grid.cells[i * nj + j]);
                    if !grid.cells[i * nj + j]
                        && at(i - 1, j) + at(i + 1, j) + at(i, j - 1) + at(i, j + 1) >= 3
                    {
                        fill.push(i * nj + j);
                    }
                }
            }
            for k in fill {
                grid.cells[k] = true;
            }
        }
        Ok(grid)
    }

    /// A grid read back from a MASK HDU: `values` row-major over
    /// `(360 n, 180 n)`.
    pub fn from_cells(resolution: usize, values: Vec<bool>) -> Result<RaDecGrid, MaskError> {
        if !(1..=100).contains(&resolution) {
            return Err(MaskError::Resolution(resolution));
        }
        let expected = 360 * 180 * resolution * resolution;
        if values.len() != expected {
            return Err(MaskError::GridShape {
                resolution,
                got: values.len(),
                expected,
            });
        }
        Ok(RaDecGrid {
            resolution,
            cells: values,
        })
    }

    /// Cells per degree.
    pub fn resolution(&self) -> usize {
        self.resolution
    }

    /// `(360 n, 180 n)`: RA cells, Dec cells.
    pub fn shape(&self) -> (usize, usize) {
        (360 * self.resolution, 180 * self.resolution)
    }

    /// The cells, row-major over [`Self::shape`].
    pub fn cells(&self) -> &[bool] {
        &self.cells
    }

    /// Index of the cell of `ra_deg` in `[0, 360)` and `dec_deg`.
    fn cell_of(&self, ra_deg: f64, dec_deg: f64) -> Option<usize> {
        let n = self.resolution as f64;
        let (ni, nj) = self.shape();
        if !(ra_deg.is_finite() && dec_deg.is_finite()) {
            return None;
        }
        // `as i64` truncates toward zero, like VAST's casts.
        let i = ((n * ra_deg) as i64).clamp(0, ni as i64 - 1) as usize;
        let j = ((n * dec_deg) as i64 + 90 * self.resolution as i64).clamp(0, nj as i64 - 1);
        Some(i * nj + j as usize)
    }

    /// Whether the direction `(ra_deg, dec_deg)` is in the footprint.
    pub fn contains_radec(&self, ra_deg: f64, dec_deg: f64) -> bool {
        self.cell_of(ra_deg.rem_euclid(360.0), dec_deg)
            .is_some_and(|k| self.cells[k])
    }

    /// Whether the direction of `p` (at distance `r > 0` from the origin)
    /// is in: the answer of [`Self::contains_radec`] for
    /// `ra = atan2(y, x)` and `dec = asin(z / r)` in degrees, the hot test
    /// of VoidFinder.
    ///
    /// The cell comes from a polynomial arctangent (error under 1.4e-8 rad);
    /// only when `n ra` or `n dec` lies within [`CELL_EDGE_MARGIN_RAD`] of a
    /// cell edge, where the approximation could pick the neighbour, are the
    /// exact `atan2` and `asin` evaluated. The result is therefore that of
    /// the exact formula, bit for bit, at a fraction of its cost.
    fn contains_direction(&self, p: [f64; 3], r: f64) -> bool {
        let n = self.resolution as f64;
        let rho = (p[0] * p[0] + p[1] * p[1]).sqrt();
        let margin = n * CELL_EDGE_MARGIN_RAD.to_degrees();
        let mut u = n * atan2_approx(p[1], p[0]).to_degrees();
        if u < 0.0 {
            u += 360.0 * n;
        }
        let v = n * atan2_approx(p[2], rho).to_degrees();
        // Distances past the integer below (toward zero for v < 0: |fv|);
        // casts rather than `floor`, a libm call on baseline x86-64.
        let fu = u - (u as i64) as f64;
        let fv = (v - (v as i64) as f64).abs();
        // Written so that NaN also takes the exact path.
        if !(fu > margin && fu < 1.0 - margin && fv > margin && fv < 1.0 - margin) {
            return self.contains_radec(
                p[1].atan2(p[0]).to_degrees().rem_euclid(360.0),
                (p[2] / r).clamp(-1.0, 1.0).asin().to_degrees(),
            );
        }
        // Away from an edge, truncation (toward zero, as in `cell_of`) of
        // the approximate and the exact angles agree.
        let (ni, nj) = self.shape();
        let i = (u as i64).clamp(0, ni as i64 - 1) as usize;
        let j = (v as i64 + 90 * self.resolution as i64).clamp(0, nj as i64 - 1) as usize;
        self.cells[i * nj + j]
    }

    /// Solid angle of the cells that are in, in steradians (exact cell
    /// areas; VAST's `COVSTR` samples the grid at HEALPix centres instead,
    /// which agrees to a fraction of a percent for survey-sized masks).
    pub fn coverage_sr(&self) -> f64 {
        let (ni, nj) = self.shape();
        let n = self.resolution as f64;
        let dra = (1.0 / n).to_radians();
        let mut total = 0.0;
        for j in 0..nj {
            // Cell j holds the directions whose truncated n*dec is
            // m = j - 90 n: ((m - 1)/n, m/n] south of the equator, [m/n,
            // (m + 1)/n) north of it, and (-1/n, 1/n) for m = 0 (truncation
            // toward zero doubles that row and leaves row 0 the pole only).
            let m = j as f64 - 90.0 * n;
            let (lo, hi) = if m < 0.0 {
                (((m - 1.0) / n).max(-90.0), m / n)
            } else if m == 0.0 {
                (-1.0 / n, 1.0 / n)
            } else {
                (m / n, ((m + 1.0) / n).min(90.0))
            };
            let band = (hi.to_radians().sin() - lo.to_radians().sin()) * dra;
            let count = (0..ni).filter(|&i| self.cells[i * nj + j]).count();
            total += band * count as f64;
        }
        total
    }
}

/// How close (radians) an approximate angle may come to a cell edge before
/// [`RaDecGrid::contains_direction`] asks the exact functions: 70 times the
/// error bound of [`atan2_approx`].
const CELL_EDGE_MARGIN_RAD: f64 = 1e-6;

/// `atan2(y, x)` in radians to within 1.4e-8 (Abramowitz & Stegun 1964,
/// eq. 4.4.49, on the octant `|t| <= 1`); NaN when `x = y = 0`.
#[inline]
fn atan2_approx(y: f64, x: f64) -> f64 {
    const A: [f64; 8] = [
        -0.333_331_452_8,
        0.199_935_508_5,
        -0.142_088_994_4,
        0.106_562_639_3,
        -0.075_289_640_0,
        0.042_909_613_8,
        -0.016_165_736_7,
        0.002_866_225_7,
    ];
    let (ax, ay) = (x.abs(), y.abs());
    let swap = ay > ax;
    let (num, den) = if swap { (ax, ay) } else { (ay, ax) };
    if den == 0.0 {
        return f64::NAN;
    }
    let t = num / den;
    let t2 = t * t;
    let mut poly = A[7];
    for &c in A[..7].iter().rev() {
        poly = poly * t2 + c;
    }
    let mut a = t * (1.0 + t2 * poly);
    if swap {
        a = std::f64::consts::FRAC_PI_2 - a;
    }
    if x < 0.0 {
        a = PI - a;
    }
    if y < 0.0 {
        -a
    } else {
        a
    }
}

/// A footprint made of the HEALPix cells (nested, at `depth`) that hold at
/// least one galaxy.
#[derive(Debug, Clone, PartialEq)]
pub struct HealpixFootprint {
    depth: u8,
    /// Sorted, unique nested indices.
    cells: Vec<u64>,
}

impl HealpixFootprint {
    /// Occupied cells at `depth` (0..=13; NSIDE = 2^depth).
    pub fn from_galaxies(
        ra_deg: &[f64],
        dec_deg: &[f64],
        depth: u8,
    ) -> Result<HealpixFootprint, MaskError> {
        if depth > 13 {
            return Err(MaskError::Depth(depth));
        }
        if ra_deg.is_empty() {
            return Err(MaskError::Empty);
        }
        let mut cells: Vec<u64> = ra_deg
            .iter()
            .zip(dec_deg)
            .filter(|(ra, dec)| ra.is_finite() && dec.is_finite() && dec.abs() <= 90.0)
            .map(|(&ra, &dec)| hpx_index_at(depth, ra.rem_euclid(360.0), dec))
            .collect();
        cells.sort_unstable();
        cells.dedup();
        Ok(HealpixFootprint { depth, cells })
    }

    /// HEALPix depth (NSIDE = 2^depth).
    pub fn depth(&self) -> u8 {
        self.depth
    }

    /// Whether the direction is in an occupied cell.
    pub fn contains_radec(&self, ra_deg: f64, dec_deg: f64) -> bool {
        if !(ra_deg.is_finite() && dec_deg.is_finite()) || dec_deg.abs() > 90.0 {
            return false;
        }
        let h = hpx_index_at(self.depth, ra_deg.rem_euclid(360.0), dec_deg);
        self.cells.binary_search(&h).is_ok()
    }

    /// Solid angle in steradians (equal-area cells).
    pub fn coverage_sr(&self) -> f64 {
        let n_all = 12.0 * 4f64.powi(i32::from(self.depth));
        self.cells.len() as f64 * 4.0 * PI / n_all
    }

    /// The same footprint sampled on VAST's RA/Dec grid (cell centres), for
    /// writing a MASK HDU that VAST's tools read.
    pub fn to_radec_grid(&self, resolution: usize) -> Result<RaDecGrid, MaskError> {
        if !(1..=100).contains(&resolution) {
            return Err(MaskError::Resolution(resolution));
        }
        let n = resolution as f64;
        let (ni, nj) = (360 * resolution, 180 * resolution);
        let mut cells = vec![false; ni * nj];
        for i in 0..ni {
            for j in 0..nj {
                let ra = (i as f64 + 0.5) / n;
                let dec = (j as f64 + 0.5) / n - 90.0;
                cells[i * nj + j] = self.contains_radec(ra, dec);
            }
        }
        RaDecGrid::from_cells(resolution, cells)
    }
}

/// An angular footprint.
#[derive(Debug, Clone, PartialEq)]
pub enum Footprint {
    /// VAST's RA/Dec grid.
    RaDec(RaDecGrid),
    /// Occupied HEALPix cells.
    Healpix(HealpixFootprint),
}

impl Footprint {
    /// Whether the direction is in the footprint.
    pub fn contains_radec(&self, ra_deg: f64, dec_deg: f64) -> bool {
        match self {
            Footprint::RaDec(g) => g.contains_radec(ra_deg, dec_deg),
            Footprint::Healpix(h) => h.contains_radec(ra_deg, dec_deg),
        }
    }

    /// Solid angle in steradians.
    pub fn coverage_sr(&self) -> f64 {
        match self {
            Footprint::RaDec(g) => g.coverage_sr(),
            Footprint::Healpix(h) => h.coverage_sr(),
        }
    }
}

/// Where voids may be: the volume VoidFinder's hole centres and the 90 %
/// of each hole's volume must lie in.
#[derive(Debug, Clone, PartialEq)]
pub enum SurveyMask {
    /// An angular footprint between two comoving distances (Mpc/h).
    Sky {
        footprint: Footprint,
        r_min_mpc_h: f64,
        r_max_mpc_h: f64,
    },
    /// A Cartesian box `[lo, hi]` (Mpc/h).
    Box { lo: [f64; 3], hi: [f64; 3] },
    /// A periodic box `[lo, hi)`: every point is inside, distances wrap.
    Periodic { lo: [f64; 3], hi: [f64; 3] },
}

impl SurveyMask {
    /// A sky mask, checking the radial limits.
    pub fn sky(
        footprint: Footprint,
        r_min_mpc_h: f64,
        r_max_mpc_h: f64,
    ) -> Result<SurveyMask, MaskError> {
        if !(r_min_mpc_h.is_finite() && r_max_mpc_h.is_finite() && r_min_mpc_h < r_max_mpc_h) {
            return Err(MaskError::RadialLimits {
                r_min: r_min_mpc_h,
                r_max: r_max_mpc_h,
            });
        }
        Ok(SurveyMask::Sky {
            footprint,
            r_min_mpc_h,
            r_max_mpc_h,
        })
    }

    /// A periodic cube `[lo, lo + size)` on each axis.
    pub fn periodic_cube(lo: f64, size_mpc_h: f64) -> Result<SurveyMask, MaskError> {
        let (lo3, hi3) = ([lo; 3], [lo + size_mpc_h; 3]);
        if !(size_mpc_h.is_finite() && size_mpc_h > 0.0 && lo.is_finite()) {
            return Err(MaskError::BoxLimits { lo: lo3, hi: hi3 });
        }
        Ok(SurveyMask::Periodic { lo: lo3, hi: hi3 })
    }

    /// Whether `p` (Mpc/h) is inside: VAST's `not_in_mask` negated, with
    /// `r_min <= r <= r_max` inclusive.
    pub fn contains(&self, p: [f64; 3]) -> bool {
        match self {
            SurveyMask::Sky {
                footprint,
                r_min_mpc_h,
                r_max_mpc_h,
            } => {
                let r2 = p[0] * p[0] + p[1] * p[1] + p[2] * p[2];
                if r2 < r_min_mpc_h * r_min_mpc_h || r2 > r_max_mpc_h * r_max_mpc_h {
                    return false;
                }
                let r = r2.sqrt();
                if r == 0.0 {
                    return footprint.contains_radec(0.0, 0.0);
                }
                if let Footprint::RaDec(grid) = footprint {
                    return grid.contains_direction(p, r);
                }
                let ra = p[1].atan2(p[0]).to_degrees().rem_euclid(360.0);
                let dec = (p[2] / r).clamp(-1.0, 1.0).asin().to_degrees();
                footprint.contains_radec(ra, dec)
            }
            SurveyMask::Box { lo, hi } => (0..3).all(|a| p[a] >= lo[a] && p[a] <= hi[a]),
            SurveyMask::Periodic { .. } => true,
        }
    }

    /// The period of a periodic mask.
    pub fn period(&self) -> Option<[f64; 3]> {
        match self {
            SurveyMask::Periodic { lo, hi } => Some([hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]]),
            _ => None,
        }
    }

    /// Survey volume in (Mpc/h)^3: solid angle times the radial shell for
    /// a sky mask (VAST's `VOLUME` keyword), the box volume otherwise.
    pub fn volume_mpc3_h3(&self) -> f64 {
        match self {
            SurveyMask::Sky {
                footprint,
                r_min_mpc_h,
                r_max_mpc_h,
            } => footprint.coverage_sr() / 3.0 * (r_max_mpc_h.powi(3) - r_min_mpc_h.powi(3)),
            SurveyMask::Box { lo, hi } | SurveyMask::Periodic { lo, hi } => {
                (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radec_grid_follows_vast_indexing() {
        let g = RaDecGrid::from_galaxies(&[10.5, 370.2], &[-0.5, 45.9], 1, false).unwrap();
        // dec -0.5 truncates to 0 -> row 90, as in VAST.
        assert!(g.contains_radec(10.9, 0.7));
        assert!(g.contains_radec(10.1, -0.2));
        assert!(g.contains_radec(10.2, 45.1));
        assert!(!g.contains_radec(11.1, 0.5));
        assert!(!g.contains_radec(10.5, 46.5));
        let cells = g.cells().iter().filter(|&&c| c).count();
        assert_eq!(cells, 2);
    }

    #[test]
    fn smoothing_fills_cells_with_three_neighbours() {
        // A plus sign missing its centre.
        let ra = [20.5, 22.5, 21.5, 21.5];
        let dec = [30.5, 30.5, 29.5, 31.5];
        let g = RaDecGrid::from_galaxies(&ra, &dec, 1, true).unwrap();
        assert!(g.contains_radec(21.5, 30.5));
        let g = RaDecGrid::from_galaxies(&ra[..2], &dec[..2], 1, true).unwrap();
        assert!(!g.contains_radec(21.5, 30.5));
    }

    #[test]
    fn full_sky_coverage_is_four_pi() {
        let g = RaDecGrid::from_cells(2, vec![true; 360 * 180 * 4]).unwrap();
        assert!(
            (g.coverage_sr() - 4.0 * PI).abs() < 1e-9,
            "{}",
            g.coverage_sr()
        );
    }

    #[test]
    fn sky_mask_checks_radius_and_direction() {
        let g = RaDecGrid::from_galaxies(&[180.5], &[10.5], 1, false).unwrap();
        let m = SurveyMask::sky(Footprint::RaDec(g), 10.0, 100.0).unwrap();
        let p = astrolab_sky::cosmology::radec_z_to_xyz(180.5, 10.5, 50.0);
        assert!(m.contains(p));
        let far = astrolab_sky::cosmology::radec_z_to_xyz(180.5, 10.5, 150.0);
        assert!(!m.contains(far));
        let near = astrolab_sky::cosmology::radec_z_to_xyz(180.5, 10.5, 5.0);
        assert!(!m.contains(near));
        let off = astrolab_sky::cosmology::radec_z_to_xyz(182.5, 10.5, 50.0);
        assert!(!m.contains(off));
    }

    #[test]
    fn approximate_arctangent_is_within_its_bound() {
        let mut worst: f64 = 0.0;
        for k in 0..200_000 {
            let a = -PI + 2.0 * PI * (k as f64 + 0.37) / 200_000.0;
            let (y, x) = (3.7 * a.sin(), 3.7 * a.cos());
            let d = (atan2_approx(y, x) - y.atan2(x)).abs();
            worst = worst.max(d.min(2.0 * PI - d));
        }
        assert!(worst < 2e-8, "{worst}");
        assert!(atan2_approx(0.0, 0.0).is_nan());
    }

    #[test]
    fn fast_direction_test_equals_the_exact_formula() {
        // A random footprint at resolution 2, points on a spiral of
        // directions and on cell edges (where the exact path must decide).
        let mut s = 12345u64;
        let mut rnd = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let cells: Vec<bool> = (0..360 * 180 * 4).map(|_| rnd() < 0.5).collect();
        let g = RaDecGrid::from_cells(2, cells).unwrap();
        let m = SurveyMask::sky(Footprint::RaDec(g.clone()), 1.0, 500.0).unwrap();
        let exact = |p: [f64; 3]| {
            let r = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
            let ra = p[1].atan2(p[0]).to_degrees().rem_euclid(360.0);
            let dec = (p[2] / r).clamp(-1.0, 1.0).asin().to_degrees();
            g.contains_radec(ra, dec)
        };
        for k in 0..400_000 {
            let p = if k % 2 == 0 {
                [
                    rnd() * 800.0 - 400.0,
                    rnd() * 800.0 - 400.0,
                    rnd() * 800.0 - 400.0,
                ]
            } else {
                // On an RA or Dec edge (multiples of half a degree).
                let ra = (rnd() * 720.0).floor() / 2.0 + (rnd() - 0.5) * 1e-9;
                let dec = (rnd() * 360.0).floor() / 2.0 - 90.0 + (rnd() - 0.5) * 1e-9;
                astrolab_sky::cosmology::radec_z_to_xyz(ra, dec.clamp(-90.0, 90.0), 100.0)
            };
            let r2 = p[0] * p[0] + p[1] * p[1] + p[2] * p[2];
            if !(1.0..=250_000.0).contains(&r2) {
                continue;
            }
            assert_eq!(m.contains(p), exact(p), "{p:?}");
        }
        for p in [
            [0.0, 0.0, 50.0],
            [0.0, 0.0, -50.0],
            [-50.0, 0.0, 0.0],
            [-50.0, -0.0, 3.0],
        ] {
            assert_eq!(m.contains(p), exact(p), "{p:?}");
        }
    }

    #[test]
    fn healpix_footprint_contains_its_galaxies() {
        let h = HealpixFootprint::from_galaxies(&[150.0, 151.0], &[20.0, 21.0], 6).unwrap();
        assert!(h.contains_radec(150.0, 20.0));
        assert!(!h.contains_radec(10.0, -20.0));
        let grid = h.to_radec_grid(1).unwrap();
        assert!(grid.cells().iter().filter(|&&c| c).count() <= 4);
    }
}
