//! Survey geometry in comoving space: the footprint (an RA/Dec box times a
//! redshift shell), uniform sampling of its volume, the distance from a point
//! to its boundary, and a uniform grid for finding spheres near a point.
//!
//! Coordinates follow `astrolab_sky`: `x = r cos(dec) cos(ra)`,
//! `y = r cos(dec) sin(ra)`, `z = r sin(dec)`, `r` the comoving distance in
//! Mpc/h (h = 1), the convention of VAST/DESIVAST (`ra_dec_to_xyz`).

use rand::Rng;

use crate::cosmo::Cosmo;
use crate::{DemoError, Footprint};

/// Right ascension (deg, in [0, 360)), declination (deg) and distance of a
/// comoving position.
pub(crate) use astrolab_sky::xyz_to_radec_r;

pub(crate) fn radec_r_to_xyz(ra_deg: f64, dec_deg: f64, r_mpc_h: f64) -> [f64; 3] {
    astrolab_sky::radec_z_to_xyz(ra_deg, dec_deg, r_mpc_h)
}

pub(crate) fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
}

/// The footprint with its comoving distance limits.
#[derive(Debug, Clone)]
pub(crate) struct Geometry {
    pub ra_min_deg: f64,
    pub ra_max_deg: f64,
    pub dec_min_deg: f64,
    pub dec_max_deg: f64,
    pub r_min_mpc_h: f64,
    pub r_max_mpc_h: f64,
    sin_dec_min: f64,
    sin_dec_max: f64,
}

impl Geometry {
    pub fn new(f: &Footprint, cosmo: &Cosmo) -> Result<Self, DemoError> {
        Ok(Geometry {
            ra_min_deg: f.ra_min_deg,
            ra_max_deg: f.ra_max_deg,
            dec_min_deg: f.dec_min_deg,
            dec_max_deg: f.dec_max_deg,
            r_min_mpc_h: cosmo.distance_mpc_h(f.z_min)?,
            r_max_mpc_h: cosmo.distance_mpc_h(f.z_max)?,
            sin_dec_min: f.dec_min_deg.to_radians().sin(),
            sin_dec_max: f.dec_max_deg.to_radians().sin(),
        })
    }

    /// Solid angle of the RA/Dec box (sr).
    pub fn solid_angle_sr(&self) -> f64 {
        (self.ra_max_deg - self.ra_min_deg).to_radians() * (self.sin_dec_max - self.sin_dec_min)
    }

    /// Comoving volume of the footprint ((Mpc/h)^3).
    pub fn volume_mpc3_h3(&self) -> f64 {
        self.solid_angle_sr() / 3.0 * (self.r_max_mpc_h.powi(3) - self.r_min_mpc_h.powi(3))
    }

    /// A point drawn uniformly in comoving volume: RA uniform, sin(Dec)
    /// uniform, r^3 uniform.
    pub fn sample_point<R: Rng>(&self, rng: &mut R) -> [f64; 3] {
        let ra = rng.gen_range(self.ra_min_deg..self.ra_max_deg);
        let sin_dec = rng.gen_range(self.sin_dec_min..self.sin_dec_max);
        let dec = sin_dec.clamp(-1.0, 1.0).asin().to_degrees();
        let (a, b) = (self.r_min_mpc_h.powi(3), self.r_max_mpc_h.powi(3));
        let r = rng.gen_range(a..b).cbrt();
        radec_r_to_xyz(ra, dec, r)
    }

    /// An (RA, Dec) drawn uniformly on the sky inside the footprint.
    pub fn sample_radec<R: Rng>(&self, rng: &mut R) -> (f64, f64) {
        let ra = rng.gen_range(self.ra_min_deg..self.ra_max_deg);
        let sin_dec = rng.gen_range(self.sin_dec_min..self.sin_dec_max);
        (ra, sin_dec.clamp(-1.0, 1.0).asin().to_degrees())
    }

    pub fn contains(&self, p: [f64; 3]) -> bool {
        let (ra, dec, r) = xyz_to_radec_r(p);
        (self.ra_min_deg..=self.ra_max_deg).contains(&ra)
            && (self.dec_min_deg..=self.dec_max_deg).contains(&dec)
            && (self.r_min_mpc_h..=self.r_max_mpc_h).contains(&r)
    }

    /// Distance (Mpc/h) from a point inside the footprint to its boundary,
    /// a lower bound: the minimum over the six bounding surfaces taken as
    /// whole planes, cones and spheres. Negative for points outside.
    ///
    /// - constant RA: a half-plane through the polar axis, at distance
    ///   `r cos(dec) sin(|ra - ra0|)` (for offsets below 90 deg);
    /// - constant Dec: a cone about the polar axis, at distance
    ///   `r sin(|dec - dec0|)`;
    /// - constant r: a sphere, at distance `|r - r0|`.
    pub fn boundary_distance(&self, p: [f64; 3]) -> f64 {
        if !self.contains(p) {
            return -1.0;
        }
        let (ra, dec, r) = xyz_to_radec_r(p);
        let rho = r * dec.to_radians().cos();
        let d_ra = (ra - self.ra_min_deg).min(self.ra_max_deg - ra);
        let to_ra = if d_ra >= 90.0 {
            rho
        } else {
            rho * d_ra.to_radians().sin()
        };
        let d_dec = (dec - self.dec_min_deg).min(self.dec_max_deg - dec);
        let to_dec = if d_dec >= 90.0 {
            r
        } else {
            r * d_dec.to_radians().sin()
        };
        let to_r = (r - self.r_min_mpc_h).min(self.r_max_mpc_h - r);
        to_ra.min(to_dec).min(to_r)
    }

    /// Axis-aligned box enclosing the footprint (lower, upper corners).
    pub fn bounding_box(&self) -> ([f64; 3], [f64; 3]) {
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        // Extremes lie on the corners, the edges or where an edge crosses
        // an axis direction: a dense grid over the boundary plus the axis
        // directions inside the box covers them to well under a cell.
        let n = 64;
        let mut visit = |p: [f64; 3]| {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        };
        for i in 0..=n {
            let ra = self.ra_min_deg + (self.ra_max_deg - self.ra_min_deg) * i as f64 / n as f64;
            for j in 0..=n {
                let dec =
                    self.dec_min_deg + (self.dec_max_deg - self.dec_min_deg) * j as f64 / n as f64;
                for r in [self.r_min_mpc_h, self.r_max_mpc_h] {
                    visit(radec_r_to_xyz(ra, dec, r));
                }
            }
        }
        for ra in [0.0, 90.0, 180.0, 270.0] {
            if (self.ra_min_deg..=self.ra_max_deg).contains(&ra) {
                for dec in [self.dec_min_deg, 0.0, self.dec_max_deg] {
                    if (self.dec_min_deg..=self.dec_max_deg).contains(&dec) {
                        visit(radec_r_to_xyz(ra, dec, self.r_max_mpc_h));
                    }
                }
            }
        }
        if self.dec_max_deg >= 90.0 {
            visit([0.0, 0.0, self.r_max_mpc_h]);
        }
        if self.dec_min_deg <= -90.0 {
            visit([0.0, 0.0, -self.r_max_mpc_h]);
        }
        // A margin for the grid discretisation above.
        let pad = 0.02 * self.r_max_mpc_h + 1.0;
        for k in 0..3 {
            lo[k] -= pad;
            hi[k] += pad;
        }
        (lo, hi)
    }
}

/// A uniform grid over a box; each cell lists the spheres whose reach
/// touches it, so that a point's candidates are one cell's list.
#[derive(Debug, Clone)]
pub(crate) struct SphereGrid {
    lo: [f64; 3],
    cell: f64,
    dims: [usize; 3],
    cells: Vec<Vec<u32>>,
}

impl SphereGrid {
    pub fn new(lo: [f64; 3], hi: [f64; 3], cell: f64) -> Self {
        let dims = [0, 1, 2].map(|k| (((hi[k] - lo[k]) / cell).ceil() as usize).max(1));
        SphereGrid {
            lo,
            cell,
            dims,
            cells: vec![Vec::new(); dims[0] * dims[1] * dims[2]],
        }
    }

    fn clamp_index(&self, k: usize, v: f64) -> usize {
        let i = ((v - self.lo[k]) / self.cell).floor();
        if i <= 0.0 {
            0
        } else {
            (i as usize).min(self.dims[k] - 1)
        }
    }

    /// Register sphere `id` in every cell within `reach` of `center`.
    pub fn insert(&mut self, id: u32, center: [f64; 3], reach: f64) {
        let lo = [0, 1, 2].map(|k| self.clamp_index(k, center[k] - reach));
        let hi = [0, 1, 2].map(|k| self.clamp_index(k, center[k] + reach));
        for i in lo[0]..=hi[0] {
            for j in lo[1]..=hi[1] {
                for k in lo[2]..=hi[2] {
                    let idx = (i * self.dims[1] + j) * self.dims[2] + k;
                    self.cells[idx].push(id);
                }
            }
        }
    }

    /// Spheres that may reach `p` (a superset; callers test the distance).
    pub fn candidates(&self, p: [f64; 3]) -> &[u32] {
        let i = [0, 1, 2].map(|k| self.clamp_index(k, p[k]));
        &self.cells[(i[0] * self.dims[1] + i[1]) * self.dims[2] + i[2]]
    }
}
