//! VoidFinder (Hoyle & Vogeley 2002, ApJ 566, 641; El-Ad & Piran 1997,
//! ApJ 491, 421), as implemented in VAST (Douglass et al. 2023, JOSS 8,
//! 4812; github.com/DESI-UR/VAST, `python/vast/voidfinder/`), the code that
//! made the DESIVAST catalogues.
//!
//! Steps, each in its module with the VAST function it follows:
//! 1. [`wall_field`]: wall/field split by the 3rd-nearest-neighbour
//!    distance (`> mean + 1.5 sigma`: field).
//! 2. A grid of cubic cells (5 Mpc/h) over the wall galaxies; the centre of
//!    every cell without a wall galaxy seeds a hole (`_hole_finder`).
//! 3. `hole`: each hole grows until four wall galaxies lie on its
//!    surface (without VAST's uninitialised-variable bug, see there).
//! 4. `volume_cut`: holes with 10 % or more of their volume outside the
//!    mask are dropped (`check_hole_bounds`).
//! 5. `combine`: duplicates removed, maximal spheres (radius > 10 Mpc/h,
//!    overlapping accepted maximals by at most 10 % of their volume),
//!    holes joined to the one maximal they overlap by more than 50 % of
//!    their volume, edge flags (`combine_holes_2`).
//!
//! Deterministic: holes are grown in parallel (rayon) but collected in
//! cell order, exact duplicates (same four galaxies) are resolved by cell
//! order and the radius sort breaks ties by position, so the output does
//! not depend on the number of threads.
//!
//! ```
//! use astrolab_voids::finder::{find_voids, VoidFinderConfig};
//! use astrolab_voids::mask::SurveyMask;
//! // A lattice with a cavity: one void in the middle.
//! let mut gal = Vec::new();
//! for i in 0..20 { for j in 0..20 { for k in 0..20 {
//!     let p = [i as f64 * 4.0 + 0.01 * (j as f64), j as f64 * 4.0 + 0.013 * (k as f64),
//!              k as f64 * 4.0 + 0.007 * (i as f64)];
//!     let d2: f64 = p.iter().map(|x| (x - 40.0) * (x - 40.0)).sum();
//!     if d2 > 15.0 * 15.0 { gal.push(p); }
//! }}}
//! let mask = SurveyMask::Box { lo: [0.0; 3], hi: [76.0; 3] };
//! let cfg = VoidFinderConfig { remove_isolated: false, ..VoidFinderConfig::default() };
//! let out = find_voids(&gal, &mask, &cfg).unwrap();
//! assert!(out.maximals.iter().any(|m| m.radius_mpc_h > 14.0));
//! ```

mod combine;
mod grid;
mod hole;
mod volume;
mod volume_cut;
pub mod wall_field;

use rayon::prelude::*;

use crate::mask::SurveyMask;
use grid::GalaxyGrid;
pub use volume::void_volume_fraction;
pub use wall_field::{separate_wall_field, WallFieldSplit};

/// Parameters of a run; the defaults are VAST's (`find_voids`,
/// `combine_holes_2`, `wall_field_separation`).
#[derive(Debug, Clone, PartialEq)]
pub struct VoidFinderConfig {
    /// Edge of the hole-seeding grid cells (`hole_grid_edge_length`), Mpc/h.
    pub hole_grid_edge_mpc_h: f64,
    /// Smallest maximal-sphere radius (`min_maximal_radius`), Mpc/h.
    pub min_maximal_radius_mpc_h: f64,
    /// A hole is dropped when this fraction of its volume or more is
    /// outside the mask (`max_hole_mask_overlap`).
    pub max_hole_mask_overlap: f64,
    /// Mesh density of the volume count (`pts_per_unit_volume`), per (Mpc/h)^3.
    pub pts_per_unit_volume: f64,
    /// Surface points of the first mask test (`num_surf_pts`).
    pub num_surface_points: usize,
    /// Duplicate-hole tolerance (`dup_tol`), Mpc/h.
    pub duplicate_tolerance_mpc_h: f64,
    /// Most overlap of a maximal with an accepted one, as a fraction of its
    /// volume (`maximal_overlap_frac`).
    pub maximal_overlap_frac: f64,
    /// Least overlap of a hole with its maximal, as a fraction of the
    /// hole's volume (`hole_join_frac`).
    pub hole_join_frac: f64,
    /// Neighbour rank of the wall/field split (`sep_neighbor`).
    pub sep_neighbor: usize,
    /// Split wall and field galaxies (`rm_isolated`); off: all are wall.
    pub remove_isolated: bool,
    /// Origin of the hole grid; default: the lowest coordinates of all
    /// galaxies (VAST's DR7 script) for a sky mask, the box corner for a
    /// box.
    pub grid_origin: Option<[f64; 3]>,
    /// Edge of the galaxy search cells, Mpc/h (a speed knob only).
    pub search_cell_mpc_h: f64,
}

impl Default for VoidFinderConfig {
    fn default() -> Self {
        VoidFinderConfig {
            hole_grid_edge_mpc_h: 5.0,
            min_maximal_radius_mpc_h: 10.0,
            max_hole_mask_overlap: 0.1,
            pts_per_unit_volume: 0.01,
            num_surface_points: 20,
            duplicate_tolerance_mpc_h: 0.1,
            maximal_overlap_frac: 0.1,
            hole_join_frac: 0.5,
            sep_neighbor: 3,
            remove_isolated: true,
            grid_origin: None,
            search_cell_mpc_h: 10.0,
        }
    }
}

/// Why VoidFinder cannot run.
#[derive(Debug, thiserror::Error)]
pub enum FinderError {
    /// No galaxies.
    #[error("the galaxy catalog is empty")]
    Empty,
    /// A position that is NaN or infinite.
    #[error("galaxy row {row}: position {xyz:?} is not finite")]
    NonFinite { row: usize, xyz: [f64; 3] },
    /// Too few wall galaxies to bound a hole.
    #[error("only {0} wall galaxies: at least 4 are needed to bound a hole")]
    TooFewWall(usize),
    /// Inconsistent parameters.
    #[error("invalid VoidFinder parameter {name} = {value}")]
    Parameter { name: &'static str, value: f64 },
    /// The worker threads could not be started.
    #[error("cannot start {threads} worker threads: {message}")]
    Threads { threads: usize, message: String },
    /// The hole grid would be absurdly large.
    #[error("hole grid of {0:?} cells is too large: raise the cell edge or check the coordinates")]
    GridTooLarge([i64; 3]),
}

/// One hole of a void (a row of HOLES).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hole {
    pub center_mpc_h: [f64; 3],
    pub radius_mpc_h: f64,
    /// Row of its void in [`VoidFinderOutput::maximals`].
    pub void_id: usize,
    /// Indices into [`VoidFinderOutput::wall_xyz`] of the four galaxies on
    /// its surface.
    pub bounding_wall: [usize; 4],
    /// The hole crosses the mask boundary (it needed the volume count).
    pub boundary: bool,
}

/// One void's maximal sphere (a row of MAXIMALS).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Maximal {
    pub center_mpc_h: [f64; 3],
    pub radius_mpc_h: f64,
    /// Void id = row.
    pub void_id: usize,
    /// 0 interior, 1 a hole of the void crosses the mask, 2 a hole centre
    /// is within the minimum maximal radius of the mask along an axis.
    pub edge: i64,
}

/// Counts along the way, for logs and the output header.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FinderCounts {
    /// Cells of the hole grid.
    pub grid_cells: usize,
    /// Cells without a wall galaxy (hole seeds).
    pub empty_cells: usize,
    /// Seeds that grew a hole inside the mask.
    pub grown: usize,
    /// Distinct holes (distinct sets of four galaxies).
    pub distinct: usize,
    /// Holes dropped by the volume cut.
    pub cut_by_mask: usize,
    /// Holes left after duplicate removal.
    pub unique: usize,
}

/// The hole-seeding grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridInfo {
    pub origin_mpc_h: [f64; 3],
    pub shape: [i64; 3],
    pub edge_mpc_h: f64,
}

/// Everything VoidFinder produced.
#[derive(Debug, Clone, PartialEq)]
pub struct VoidFinderOutput {
    /// The wall/field split (rows refer to the input).
    pub split: WallFieldSplit,
    /// Wall galaxy positions, in `split.wall_rows` order.
    pub wall_xyz: Vec<[f64; 3]>,
    /// Field galaxy positions, in `split.field_rows` order.
    pub field_xyz: Vec<[f64; 3]>,
    /// Voids by decreasing maximal radius.
    pub maximals: Vec<Maximal>,
    /// Holes in voids by decreasing radius (maximals included).
    pub holes: Vec<Hole>,
    pub grid: GridInfo,
    pub counts: FinderCounts,
}

/// Runs `f` on a pool of `threads` worker threads (all cores when `None`):
/// how the command line's `--threads` reaches [`find_voids`]. The output
/// does not depend on the number of threads.
pub fn with_threads<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> Result<T, FinderError> {
    match threads {
        None => Ok(f()),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map(|pool| pool.install(f))
            .map_err(|e| FinderError::Threads {
                threads: n,
                message: e.to_string(),
            }),
    }
}

/// Most hole-grid cells (about 2 GB of flags beyond it).
const MAX_GRID_CELLS: i64 = 1 << 31;

/// Runs VoidFinder on galaxies at comoving positions `xyz` (Mpc/h) in the
/// survey `mask`.
///
/// Galaxies outside the mask are not removed here: they still bound holes
/// (VAST filters by distance limits only, before this step).
pub fn find_voids(
    xyz: &[[f64; 3]],
    mask: &SurveyMask,
    cfg: &VoidFinderConfig,
) -> Result<VoidFinderOutput, FinderError> {
    find_voids_timed(xyz, mask, cfg, &mut StageTimes::default())
}

/// Wall-clock seconds of each step of [`find_voids`], in order (for
/// profiling: `examples/voidfinder_stages.rs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageTimes {
    pub stages: Vec<(&'static str, f64)>,
}

impl StageTimes {
    fn lap(&mut self, name: &'static str, since: &mut std::time::Instant) {
        let now = std::time::Instant::now();
        self.stages
            .push((name, now.duration_since(*since).as_secs_f64()));
        *since = now;
    }
}

/// [`find_voids`], recording the time of each step in `times`.
pub fn find_voids_timed(
    xyz: &[[f64; 3]],
    mask: &SurveyMask,
    cfg: &VoidFinderConfig,
    times: &mut StageTimes,
) -> Result<VoidFinderOutput, FinderError> {
    let mut t = std::time::Instant::now();
    check_config(cfg)?;
    if xyz.is_empty() {
        return Err(FinderError::Empty);
    }
    if let Some(row) = xyz.iter().position(|p| !p.iter().all(|c| c.is_finite())) {
        return Err(FinderError::NonFinite { row, xyz: xyz[row] });
    }
    let split = if cfg.remove_isolated {
        separate_wall_field(xyz, cfg.sep_neighbor)
    } else {
        WallFieldSplit {
            wall_rows: (0..xyz.len()).collect(),
            field_rows: Vec::new(),
            duplicate_rows: Vec::new(),
            sep_neighbor: cfg.sep_neighbor,
            nn_mean_mpc_h: f64::NAN,
            nn_std_mpc_h: f64::NAN,
            threshold_mpc_h: f64::INFINITY,
        }
    };
    let wall: Vec<[f64; 3]> = split.wall_rows.iter().map(|&i| xyz[i]).collect();
    let field: Vec<[f64; 3]> = split.field_rows.iter().map(|&i| xyz[i]).collect();
    if wall.len() < 4 {
        return Err(FinderError::TooFewWall(wall.len()));
    }
    times.lap("wall/field split", &mut t);

    // Hole grid (VAST `_hole_finder`): origin, shape, empty cells.
    let edge = cfg.hole_grid_edge_mpc_h;
    let (origin, extent_hi) = match mask {
        SurveyMask::Box { lo, hi } | SurveyMask::Periodic { lo, hi } => {
            (cfg.grid_origin.unwrap_or(*lo), *hi)
        }
        SurveyMask::Sky { .. } => {
            let lo = cfg.grid_origin.unwrap_or_else(|| bbox(xyz).0);
            (lo, bbox(&wall).1)
        }
    };
    let mut shape = [0i64; 3];
    for a in 0..3 {
        shape[a] = ((extent_hi[a] - origin[a]) / edge).ceil().max(1.0) as i64;
    }
    let n_cells = shape[0]
        .checked_mul(shape[1])
        .and_then(|v| v.checked_mul(shape[2]))
        .filter(|&v| v <= MAX_GRID_CELLS)
        .ok_or(FinderError::GridTooLarge(shape))?;
    let mut occupied = vec![false; n_cells as usize];
    let period = mask.period();
    for p in &wall {
        let mut c = [0i64; 3];
        for a in 0..3 {
            let mut v = (p[a] - origin[a]) / edge;
            if let Some(side) = period {
                v = (p[a] - origin[a]).rem_euclid(side[a]) / edge;
            }
            // Far-edge galaxies are demoted into the last cell, as VAST does.
            c[a] = (v as i64).clamp(0, shape[a] - 1);
        }
        occupied[((c[0] * shape[1] + c[1]) * shape[2] + c[2]) as usize] = true;
    }
    let empty: Vec<u32> = (0..n_cells as u32)
        .filter(|&k| !occupied[k as usize])
        .collect();
    drop(occupied);
    times.lap("hole grid (empty cells)", &mut t);

    // Grow holes in parallel; results come back in cell order.
    let lo_side = period.map(|side| (origin_of(mask), side));
    let search = GalaxyGrid::build(&wall, cfg.search_cell_mpc_h, lo_side);
    let (sy, sz) = (shape[1], shape[2]);
    let grown: Vec<hole::GrownHole> = empty
        .par_iter()
        .with_min_len(256)
        .filter_map(|&k| {
            let k = i64::from(k);
            let ijk = [k / (sy * sz), (k / sz) % sy, k % sz];
            let start = [
                origin[0] + (ijk[0] as f64 + 0.5) * edge,
                origin[1] + (ijk[1] as f64 + 0.5) * edge,
                origin[2] + (ijk[2] as f64 + 0.5) * edge,
            ];
            hole::grow_hole(&search, mask, start)
        })
        .collect();
    let n_grown = grown.len();
    times.lap("hole growth", &mut t);

    // Exact duplicates: many seeds grow the same hole (the same four
    // galaxies); keep the first seed's. VAST removes them later with the
    // 0.1 Mpc/h tolerance, which these always meet.
    let mut keyed: Vec<([u32; 4], usize)> = grown
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut key = h.bounding;
            key.sort_unstable();
            (key, i)
        })
        .collect();
    keyed.par_sort_unstable();
    keyed.dedup_by(|b, a| a.0 == b.0);
    let mut distinct: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
    distinct.sort_unstable();
    let holes: Vec<hole::GrownHole> = distinct.iter().map(|&i| grown[i]).collect();
    let n_distinct = holes.len();
    times.lap("exact duplicates", &mut t);

    // Volume cut.
    let spheres: Vec<([f64; 3], f64)> = holes.iter().map(|h| (h.center, h.radius)).collect();
    let verdict = volume_cut::check_holes(
        &spheres,
        mask,
        cfg.max_hole_mask_overlap,
        cfg.pts_per_unit_volume,
        cfg.num_surface_points,
    );
    let mut kept: Vec<(hole::GrownHole, bool)> = holes
        .into_iter()
        .zip(&verdict)
        .filter(|(_, v)| v.0)
        .map(|(h, v)| (h, v.1))
        .collect();
    let n_cut = n_distinct - kept.len();
    times.lap("volume cut (mask)", &mut t);

    // Sort by decreasing radius; ties by position then galaxies.
    kept.par_sort_by(|(a, _), (b, _)| {
        b.radius
            .total_cmp(&a.radius)
            .then(a.center[0].total_cmp(&b.center[0]))
            .then(a.center[1].total_cmp(&b.center[1]))
            .then(a.center[2].total_cmp(&b.center[2]))
            .then(a.bounding.cmp(&b.bounding))
    });
    let spheres: Vec<([f64; 3], f64)> = kept.iter().map(|(h, _)| (h.center, h.radius)).collect();
    let unique_idx = combine::remove_duplicates(&spheres, cfg.duplicate_tolerance_mpc_h);
    let unique: Vec<(hole::GrownHole, bool)> = unique_idx.iter().map(|&i| kept[i]).collect();
    let spheres: Vec<([f64; 3], f64)> = unique.iter().map(|(h, _)| (h.center, h.radius)).collect();
    let boundary: Vec<bool> = unique.iter().map(|u| u.1).collect();
    times.lap("sort, duplicates", &mut t);

    let combined = combine::find_voids_from_holes(
        &spheres,
        cfg.min_maximal_radius_mpc_h,
        cfg.maximal_overlap_frac,
        cfg.hole_join_frac,
    );
    times.lap("maximals, joining", &mut t);
    let edges = combine::edge_flags(
        &spheres,
        &boundary,
        &combined,
        mask,
        cfg.min_maximal_radius_mpc_h,
    );
    let maximals = combined
        .maximals
        .iter()
        .enumerate()
        .map(|(v, &i)| Maximal {
            center_mpc_h: spheres[i].0,
            radius_mpc_h: spheres[i].1,
            void_id: v,
            edge: edges[v],
        })
        .collect();
    let holes = combined
        .void_holes
        .iter()
        .map(|&(i, v)| {
            let (h, b) = unique[i];
            Hole {
                center_mpc_h: h.center,
                radius_mpc_h: h.radius,
                void_id: v,
                bounding_wall: h.bounding.map(|g| g as usize),
                boundary: b,
            }
        })
        .collect();
    times.lap("edge flags, output", &mut t);
    Ok(VoidFinderOutput {
        split,
        wall_xyz: wall,
        field_xyz: field,
        maximals,
        holes,
        grid: GridInfo {
            origin_mpc_h: origin,
            shape,
            edge_mpc_h: edge,
        },
        counts: FinderCounts {
            grid_cells: n_cells as usize,
            empty_cells: empty.len(),
            grown: n_grown,
            distinct: n_distinct,
            cut_by_mask: n_cut,
            unique: unique.len(),
        },
    })
}

fn origin_of(mask: &SurveyMask) -> [f64; 3] {
    match mask {
        SurveyMask::Box { lo, .. } | SurveyMask::Periodic { lo, .. } => *lo,
        SurveyMask::Sky { .. } => [0.0; 3],
    }
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
    (lo, hi)
}

fn check_config(cfg: &VoidFinderConfig) -> Result<(), FinderError> {
    let positive = [
        ("hole_grid_edge_mpc_h", cfg.hole_grid_edge_mpc_h),
        ("min_maximal_radius_mpc_h", cfg.min_maximal_radius_mpc_h),
        ("pts_per_unit_volume", cfg.pts_per_unit_volume),
        ("search_cell_mpc_h", cfg.search_cell_mpc_h),
    ];
    for (name, value) in positive {
        if !(value > 0.0 && value.is_finite()) {
            return Err(FinderError::Parameter { name, value });
        }
    }
    let fractions = [
        ("max_hole_mask_overlap", cfg.max_hole_mask_overlap),
        ("maximal_overlap_frac", cfg.maximal_overlap_frac),
        ("hole_join_frac", cfg.hole_join_frac),
    ];
    for (name, value) in fractions {
        if !(0.0..=1.0).contains(&value) {
            return Err(FinderError::Parameter { name, value });
        }
    }
    if cfg.sep_neighbor == 0 {
        return Err(FinderError::Parameter {
            name: "sep_neighbor",
            value: 0.0,
        });
    }
    if cfg.duplicate_tolerance_mpc_h.is_nan() || cfg.duplicate_tolerance_mpc_h < 0.0 {
        return Err(FinderError::Parameter {
            name: "duplicate_tolerance_mpc_h",
            value: cfg.duplicate_tolerance_mpc_h,
        });
    }
    Ok(())
}
