//! Planting spherical voids: radii, non-overlapping placement inside the
//! footprint, and the density profile the galaxy sampler follows.
//!
//! Profile (a top-hat with a compensating wall, the simplest shape that
//! void finders recover; cf. the universal profile of Hamaus, Sutter &
//! Wandelt 2014, PRL 112, 251302, which is a smoothed version of it):
//! `n(r) / n_field = void_density_contrast` for `r < R`,
//! `wall_density_contrast` for `R <= r < R (1 + wall_thickness_frac)` and 1
//! beyond. Where walls and voids overlap, the void with the smallest
//! `r / R` decides.

use rand::Rng;
use serde::Serialize;

use crate::geometry::{dist, xyz_to_radec_r, Geometry, SphereGrid};
use crate::{cosmo::Cosmo, DemoConfig, DemoError};

/// A planted void: the truth the synthetic catalogs are built from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlantedVoid {
    /// 0-based, the row of this void in every void catalog written.
    pub id: i64,
    pub ra_deg: f64,
    pub dec_deg: f64,
    /// Redshift of the centre.
    pub redshift: f64,
    /// Centre in comoving Cartesian coordinates (Mpc/h).
    pub center_mpc_h: [f64; 3],
    /// Comoving distance of the centre (Mpc/h).
    pub distance_mpc_h: f64,
    pub radius_mpc_h: f64,
}

/// Minimum centre separation in units of the sum of the radii: leaves a
/// wall between neighbouring voids at least 10 % of their radii thick.
const SEPARATION_FACTOR: f64 = 1.1;
/// Placement attempts per void before it is given up.
const ATTEMPTS_PER_VOID: usize = 400;

/// Draw radii from `p(R) ∝ R^-2` on `[r_min, r_max]` (more small voids than
/// large ones, like the void size function) until their volume reaches the
/// target, then place them largest first at random positions, fully inside
/// the footprint and not overlapping (random sequential addition).
pub(crate) fn plant_voids<R: Rng>(
    rng: &mut R,
    cfg: &DemoConfig,
    geom: &Geometry,
    cosmo: &Cosmo,
) -> Result<Vec<PlantedVoid>, DemoError> {
    let target = cfg.void_volume_fraction * geom.volume_mpc3_h3();
    let (rmin, rmax) = (cfg.void_radius_min_mpc_h, cfg.void_radius_max_mpc_h);
    let mut radii = Vec::new();
    let mut vol = 0.0;
    while vol < target {
        // Inverse CDF of R^-2: 1/R uniform between 1/rmax and 1/rmin.
        let inv = rng.gen_range((1.0 / rmax)..=(1.0 / rmin));
        let r = (1.0 / inv).clamp(rmin, rmax);
        vol += 4.0 / 3.0 * std::f64::consts::PI * r.powi(3);
        radii.push(r);
    }
    radii.sort_by(|a, b| b.total_cmp(a));

    let (lo, hi) = geom.bounding_box();
    // Each placed void is registered out to the largest distance at which
    // a new centre could conflict with it.
    let mut grid = SphereGrid::new(lo, hi, (2.0 * SEPARATION_FACTOR * rmax).max(20.0));
    let mut placed: Vec<([f64; 3], f64)> = Vec::new();
    for r in radii {
        for _ in 0..ATTEMPTS_PER_VOID {
            let c = geom.sample_point(rng);
            if geom.boundary_distance(c) < r {
                continue;
            }
            let clash = grid.candidates(c).iter().any(|&j| {
                let (cj, rj) = placed[j as usize];
                dist(c, cj) < SEPARATION_FACTOR * (r + rj)
            });
            if clash {
                continue;
            }
            grid.insert(placed.len() as u32, c, SEPARATION_FACTOR * (r + rmax));
            placed.push((c, r));
            break;
        }
    }

    placed
        .into_iter()
        .enumerate()
        .map(|(i, (c, r))| {
            let (ra, dec, d) = xyz_to_radec_r(c);
            Ok(PlantedVoid {
                id: i as i64,
                ra_deg: ra,
                dec_deg: dec,
                redshift: cosmo.redshift_at(d)?,
                center_mpc_h: c,
                distance_mpc_h: d,
                radius_mpc_h: r,
            })
        })
        .collect()
}

/// Where a point sits relative to the planted voids.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Environment {
    /// The void with the smallest distance-to-centre over radius, when one
    /// is within the lookup reach.
    pub nearest: Option<(usize, f64)>,
}

impl Environment {
    pub fn in_void(&self) -> bool {
        matches!(self.nearest, Some((_, x)) if x < 1.0)
    }
}

/// Fast lookup of the void nearest (in `r / R`) to a point.
#[derive(Debug, Clone)]
pub(crate) struct VoidLookup {
    grid: SphereGrid,
    centers: Vec<[f64; 3]>,
    radii: Vec<f64>,
    /// Voids are registered out to `reach_factor * R`.
    reach_factor: f64,
}

impl VoidLookup {
    pub fn new(voids: &[PlantedVoid], geom: &Geometry, reach_factor: f64) -> Self {
        let (lo, hi) = geom.bounding_box();
        let rmax = voids.iter().map(|v| v.radius_mpc_h).fold(10.0, f64::max);
        let mut grid = SphereGrid::new(lo, hi, (reach_factor * rmax).max(10.0));
        for v in voids {
            grid.insert(v.id as u32, v.center_mpc_h, reach_factor * v.radius_mpc_h);
        }
        VoidLookup {
            grid,
            centers: voids.iter().map(|v| v.center_mpc_h).collect(),
            radii: voids.iter().map(|v| v.radius_mpc_h).collect(),
            reach_factor,
        }
    }

    /// The void minimising `|p - c| / R` among those within reach.
    pub fn environment(&self, p: [f64; 3]) -> Environment {
        let mut best: Option<(usize, f64)> = None;
        for &j in self.grid.candidates(p) {
            let j = j as usize;
            let x = dist(p, self.centers[j]) / self.radii[j];
            if x < self.reach_factor && best.is_none_or(|(_, b)| x < b) {
                best = Some((j, x));
            }
        }
        Environment { nearest: best }
    }

    /// Like [`Self::environment`] but searching every void when none is
    /// within reach, so that every point gets its nearest void.
    pub fn nearest_anywhere(&self, p: [f64; 3]) -> Option<(usize, f64)> {
        if let Some(hit) = self.environment(p).nearest {
            return Some(hit);
        }
        let mut best: Option<(usize, f64)> = None;
        for j in 0..self.centers.len() {
            let x = dist(p, self.centers[j]) / self.radii[j];
            if best.is_none_or(|(_, b)| x < b) {
                best = Some((j, x));
            }
        }
        best
    }
}

/// Relative galaxy density at a point (1 in the field).
pub(crate) fn density_weight(env: &Environment, cfg: &DemoConfig) -> f64 {
    match env.nearest {
        Some((_, x)) if x < 1.0 => cfg.void_density_contrast,
        Some((_, x)) if x < 1.0 + cfg.wall_thickness_frac => cfg.wall_density_contrast,
        _ => 1.0,
    }
}
