//! `voids find`: VoidFinder (Hoyle & Vogeley 2002, as in VAST) on a galaxy
//! catalog, written in VAST's VoidFinder FITS layout.
//!
//! Inputs: a FITS or CSV table with `ra`, `dec` and `z` or `redshift`
//! (case-insensitive), a store table (`--table`), or, with `--box-size`, a
//! whitespace `x y z` text file of a periodic simulation box (Mpc/h).
//!
//! Choices, each as VAST makes it unless said otherwise:
//! - Omega_m: `--omega-m`, else the catalog's `OMEGAM` keyword, else 0.26
//!   (the SDSS DR7 VoidFinder value), announced.
//! - Radial limits: `--min-dist`/`--max-dist`, else the comoving distances
//!   of the lowest and highest redshift; galaxies outside are dropped
//!   (VAST's `filter_galaxies`, [`astrolab_voids::survey::radial_cut`]),
//!   and counted.
//! - Footprint: `--mask FILE` (the MASK HDU of a VoidFinder file), else
//!   VAST's RA/Dec grid of the galaxies (smoothed), or HEALPix cells with
//!   `--mask-healpix-depth`. Galaxies outside the footprint are kept: they
//!   still bound holes (VAST does not cut them either); they are counted.
//! - A NaN redshift is an error naming the row (a galaxy without a distance
//!   cannot be placed; dropping it would change the wall/field split).
//!
//! The file does not depend on the thread count: VAST's NCPU keyword (the
//! cores a run used) is left out, so the same inputs and parameters give
//! the same bytes on any machine (VAST's readers do not use it).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

use astrolab_formats::galaxy_table::{catalog_omega_m, read_xyz_text};
use astrolab_formats::vast::{
    read_vast_voidfinder, write_vast_voidfinder, VastHeader, VastHole, VastMask, VastMaximal,
    VastVoidFinder,
};
use astrolab_voids::finder::{
    find_voids, void_volume_fraction, with_threads, VoidFinderConfig, VoidFinderOutput,
};
use astrolab_voids::geometry::{radec_z_to_comoving_xyz, xyz_to_radec_r};
use astrolab_voids::mask::{RaDecGrid, SurveyMask};
use astrolab_voids::survey::{choose_footprint, count_outside, radial_cut, FootprintChoice};

use super::galaxies::{read_galaxy_file, read_store_galaxies};
use crate::context::Ctx;
use crate::error::PipelineError;
use crate::params::defs::FindArgs;
use crate::pipeline::SinglePipeline;

/// Omega_m used when neither the flag nor the catalog gives one: the
/// SDSS DR7 VoidFinder run's (Pan et al. 2012).
pub const DEFAULT_OMEGA_M: f64 = 0.26;
/// Grid spacing of the void volume measurement, Mpc/h.
const VOLUME_GRID_MPC_H: f64 = 2.0;

/// The VoidFinder pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct Find;

/// What a VoidFinder run found and where it wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindOutput {
    /// The VoidFinder FITS file written.
    pub output: PathBuf,
    /// Galaxies VoidFinder was given (after the radial cut).
    pub galaxies: usize,
    /// Wall galaxies.
    pub wall: usize,
    /// Field galaxies.
    pub field: usize,
    /// Duplicate galaxies removed.
    pub duplicates: usize,
    /// Galaxies dropped by the radial cut.
    pub dropped_radial: usize,
    /// Galaxies outside the footprint (kept as hole boundaries).
    pub outside_footprint: usize,
    /// Voids (maximal spheres).
    pub voids: usize,
    /// Holes in voids (maximals included).
    pub holes: usize,
    /// Void volume, (Mpc/h)^3.
    pub void_volume_mpc3_h3: f64,
    /// Void volume over the survey volume.
    pub void_fraction: f64,
    /// Survey volume, (Mpc/h)^3.
    pub survey_volume_mpc3_h3: f64,
}

/// Galaxies ready for VoidFinder.
struct Prepared {
    xyz: Vec<[f64; 3]>,
    mask: SurveyMask,
    header: VastHeader,
    radec_mask: Option<(RaDecGrid, bool)>,
    stem: String,
    dropped: usize,
    outside: usize,
}

impl SinglePipeline for Find {
    type Params = FindArgs;
    type Output = FindOutput;

    fn run(&self, ctx: &Ctx, args: &FindArgs) -> Result<FindOutput, PipelineError> {
        let prepared = match args.box_size {
            Some(side) => prepare_box(args, side)?,
            None => prepare_sky(ctx, args)?,
        };
        ctx.check_cancelled()?;
        let vf_cfg = VoidFinderConfig::default();
        let t0 = Instant::now();
        let mask = &prepared.mask;
        let xyz = &prepared.xyz;
        let out = with_threads(args.threads, || find_voids(xyz, mask, &vf_cfg))
            .map_err(anyhow::Error::from)?
            .map_err(anyhow::Error::from)?;
        let (void_volume, void_fraction) = with_threads(args.threads, || {
            void_volume_fraction(&out.holes, mask, VOLUME_GRID_MPC_H)
        })
        .map_err(anyhow::Error::from)?;
        let secs = t0.elapsed().as_secs_f64();
        ctx.check_cancelled()?;

        let output = args
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}_VoidFinder_Output.fits", prepared.stem)));
        let file = vast_file(&prepared, &out, &vf_cfg);
        write_vast_voidfinder(&output, &file)
            .with_context(|| format!("writing {}", output.display()))?;
        summary(ctx, &out, void_volume, void_fraction, mask, secs);
        ctx.info(format!("wrote {}", output.display()));
        Ok(FindOutput {
            output,
            galaxies: out.wall_xyz.len() + out.field_xyz.len(),
            wall: out.wall_xyz.len(),
            field: out.field_xyz.len(),
            duplicates: out.split.duplicate_rows.len(),
            dropped_radial: prepared.dropped,
            outside_footprint: prepared.outside,
            voids: out.maximals.len(),
            holes: out.holes.len(),
            void_volume_mpc3_h3: void_volume,
            void_fraction,
            survey_volume_mpc3_h3: mask.volume_mpc3_h3(),
        })
    }
}

fn prepare_sky(ctx: &Ctx, args: &FindArgs) -> Result<Prepared> {
    let (g, header_omega, stem, infile) = match (&args.catalog, &args.table) {
        (_, Some(table)) => {
            if !["galaxies", "fastspec", "zcatalog"].contains(&table.as_str()) {
                bail!("--table {table}: choose galaxies, fastspec or zcatalog");
            }
            let mut store = ctx.open_store()?;
            let g = read_store_galaxies(&mut store, table)?;
            (g, None, table.clone(), format!("store:{table}"))
        }
        (Some(path), None) => {
            let g = read_galaxy_file(path, None)?;
            let omega = catalog_omega_m(path);
            (g, omega, stem_of(path), file_name(path))
        }
        (None, None) => bail!("give a CATALOG file or --table NAME"),
    };
    if g.ra_deg.is_empty() {
        bail!("{}: the catalog has no galaxies", g.source);
    }
    let omega_m = match (args.omega_m, header_omega) {
        (Some(o), _) => o,
        (None, Some(o)) => {
            ctx.info(format!("Omega_m = {o} (from the catalog's OMEGAM keyword)"));
            o
        }
        (None, None) => {
            ctx.info(format!(
                "Omega_m = {DEFAULT_OMEGA_M}: the catalog has no OMEGAM keyword and no --omega-m was given"
            ));
            DEFAULT_OMEGA_M
        }
    };
    let xyz_all = radec_z_to_comoving_xyz(&g.ra_deg, &g.dec_deg, &g.z, omega_m)
        .with_context(|| format!("{}: placing the galaxies", g.source))?;
    let cut = radial_cut(&g.z, omega_m, args.min_dist, args.max_dist)
        .with_context(|| g.source.clone())?;
    let (r_min, r_max) = (cut.r_min, cut.r_max);
    let dropped = cut.dropped(g.z.len());
    if dropped > 0 {
        ctx.info(format!(
            "{dropped} galaxies outside [{r_min:.2}, {r_max:.2}] Mpc/h dropped"
        ));
    }
    let ra: Vec<f64> = cut.keep.iter().map(|&i| g.ra_deg[i]).collect();
    let dec: Vec<f64> = cut.keep.iter().map(|&i| g.dec_deg[i]).collect();
    let xyz: Vec<[f64; 3]> = cut.keep.iter().map(|&i| xyz_all[i]).collect();

    let choice = if let Some(mask_file) = &args.mask {
        FootprintChoice::Grid(read_mask(mask_file)?)
    } else if let Some(depth) = args.mask_healpix_depth {
        FootprintChoice::Healpix(depth)
    } else {
        FootprintChoice::Galaxies {
            smooth: !args.no_smooth_mask,
        }
    };
    let chosen = choose_footprint(choice, &ra, &dec, r_max)?;
    let outside = count_outside(&chosen.footprint, &ra, &dec);
    if outside > 0 {
        ctx.info(format!(
            "{outside} galaxies lie outside the footprint: kept as hole boundaries (as VAST does)"
        ));
    }
    let coverage = chosen.footprint.coverage_sr();
    let mask = SurveyMask::sky(chosen.footprint, r_min, r_max)?;
    let header = VastHeader {
        infile: Some(infile),
        metric: Some("comoving".into()),
        dist_limits_mpc_h: Some((r_min, r_max)),
        z_limits: Some((cut.z_min, cut.z_max)),
        omega_m: Some(omega_m),
        h: Some(1.0),
        mag_cut: Some(false),
        coverage_sr: Some(coverage),
        coverage_deg2: Some(coverage * (180.0 / std::f64::consts::PI).powi(2)),
        ..VastHeader::default()
    };
    Ok(Prepared {
        xyz,
        mask,
        header,
        radec_mask: Some((chosen.grid, chosen.smoothed)),
        stem,
        dropped,
        outside,
    })
}

fn prepare_box(args: &FindArgs, side: f64) -> Result<Prepared> {
    let Some(path) = &args.catalog else {
        bail!("--box-size needs a CATALOG text file of x y z positions");
    };
    if !(side.is_finite() && side > 0.0) {
        bail!("--box-size {side}: must be a positive length in Mpc/h");
    }
    let xyz = read_xyz_text(path)?;
    if xyz.is_empty() {
        bail!("{}: the catalog has no galaxies", path.display());
    }
    let any_negative = xyz.iter().any(|p| p.iter().any(|&c| c < 0.0));
    let lo = args
        .box_origin
        .unwrap_or(if any_negative { -side / 2.0 } else { 0.0 });
    if let Some((row, p)) = xyz
        .iter()
        .enumerate()
        .find(|(_, p)| p.iter().any(|&c| c < lo || c > lo + side))
    {
        bail!(
            "{}: galaxy {row} at {p:?} lies outside the box [{lo}, {}] (set --box-origin)",
            path.display(),
            lo + side
        );
    }
    let mask = SurveyMask::periodic_cube(lo, side)?;
    let header = VastHeader {
        infile: Some(file_name(path)),
        metric: Some("comoving".into()),
        ..VastHeader::default()
    };
    Ok(Prepared {
        xyz,
        mask,
        header,
        radec_mask: None,
        stem: stem_of(path),
        dropped: 0,
        outside: 0,
    })
}

/// The footprint of `--mask FILE`: the MASK HDU of a VoidFinder file.
fn read_mask(path: &Path) -> Result<RaDecGrid> {
    let file = read_vast_voidfinder(path)
        .with_context(|| format!("reading the mask from {}", path.display()))?;
    let m = file
        .mask
        .ok_or_else(|| anyhow!("{}: no MASK HDU", path.display()))?;
    let res = usize::try_from(m.resolution)
        .map_err(|_| anyhow!("{}: MASK: MSKRES = {}", path.display(), m.resolution))?;
    Ok(RaDecGrid::from_cells(res, m.cells)?)
}

fn stem_of(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("catalog")
        .to_string()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("catalog")
        .to_string()
}

/// The VoidFinder file of a run. NCPU is not written: the bytes must not
/// depend on the machine (see the module docs).
fn vast_file(p: &Prepared, out: &VoidFinderOutput, cfg: &VoidFinderConfig) -> VastVoidFinder {
    let n_gal = out.wall_xyz.len() + out.field_xyz.len();
    let volume = p.mask.volume_mpc3_h3();
    let mut header = p.header.clone();
    header.isolated_removed = Some(cfg.remove_isolated);
    header.nth_neighbor = Some(cfg.sep_neighbor as i64);
    header.nn_mean_mpc_h = Some(out.split.nn_mean_mpc_h).filter(|v| v.is_finite());
    header.nn_std_mpc_h = Some(out.split.nn_std_mpc_h).filter(|v| v.is_finite());
    header.duplicates = Some(out.split.duplicate_rows.len() as i64);
    header.mask_resolution = p.radec_mask.as_ref().map(|(g, _)| g.resolution() as i64);
    header.volume_mpc3_h3 = Some(volume);
    header.galaxies = Some(n_gal as i64);
    header.wall = Some(out.wall_xyz.len() as i64);
    header.field = Some(out.field_xyz.len() as i64);
    header.density_mpc3_h3 = Some(n_gal as f64 / volume);
    header.avg_separation_mpc_h = Some((volume / n_gal as f64).cbrt());
    header.voids = Some(out.maximals.len() as i64);
    header.check_only_empty = Some(true);
    header.max_hole_mask_overlap = Some(cfg.max_hole_mask_overlap);
    header.hole_grid_edge_mpc_h = Some(out.grid.edge_mpc_h);
    header.grid_origin_mpc_h = Some(out.grid.origin_mpc_h);
    header.min_maximal_radius_mpc_h = Some(cfg.min_maximal_radius_mpc_h);
    header.galaxy_map_edge_mpc_h = Some(cfg.search_cell_mpc_h);
    header.pts_per_unit_volume = Some(cfg.pts_per_unit_volume);
    header.cpus = None;
    let mask = p.radec_mask.as_ref().map(|(g, smooth)| VastMask {
        resolution: g.resolution() as i64,
        cells: g.cells().to_vec(),
        smoothed: Some(*smooth),
        coverage_sr: g.coverage_sr(),
    });
    VastVoidFinder {
        header,
        mask,
        wall_xyz: out.wall_xyz.clone(),
        field_xyz: out.field_xyz.clone(),
        maximals: out
            .maximals
            .iter()
            .map(|m| {
                let (ra, dec, r) = xyz_to_radec_r(m.center_mpc_h);
                VastMaximal {
                    center_mpc_h: m.center_mpc_h,
                    radius_mpc_h: m.radius_mpc_h,
                    void: m.void_id as i64,
                    edge: m.edge,
                    r_mpc_h: r,
                    ra_deg: ra,
                    dec_deg: dec,
                }
            })
            .collect(),
        holes: out
            .holes
            .iter()
            .map(|h| VastHole {
                center_mpc_h: h.center_mpc_h,
                radius_mpc_h: h.radius_mpc_h,
                void: h.void_id as i64,
            })
            .collect(),
    }
}

fn summary(
    ctx: &Ctx,
    out: &VoidFinderOutput,
    void_volume: f64,
    void_fraction: f64,
    mask: &SurveyMask,
    secs: f64,
) {
    let n = out.wall_xyz.len() + out.field_xyz.len();
    ctx.info(format!(
        "galaxies: {n} ({} wall, {} field; 3rd-neighbour separation {:.2} +- {:.2} Mpc/h, field beyond {:.2}; {} duplicates removed)",
        out.wall_xyz.len(),
        out.field_xyz.len(),
        out.split.nn_mean_mpc_h,
        out.split.nn_std_mpc_h,
        out.split.threshold_mpc_h,
        out.split.duplicate_rows.len()
    ));
    let c = &out.counts;
    ctx.info(format!(
        "holes: {} grown from {} empty cells of {}; {} distinct, {} cut by the mask, {} after duplicates, {} in voids",
        c.grown,
        c.empty_cells,
        c.grid_cells,
        c.distinct,
        c.cut_by_mask,
        c.unique,
        out.holes.len()
    ));
    let mut r: Vec<f64> = out.maximals.iter().map(|m| m.radius_mpc_h).collect();
    r.sort_by(f64::total_cmp);
    let edge = out.maximals.iter().filter(|m| m.edge != 0).count();
    if r.is_empty() {
        ctx.info("voids: 0 (no hole larger than the minimum maximal radius)");
    } else {
        ctx.info(format!(
            "voids: {} ({edge} at the survey edge); maximal-sphere radius min {:.2}, median {:.2}, max {:.2} Mpc/h",
            r.len(),
            r[0],
            r[r.len() / 2],
            r[r.len() - 1]
        ));
    }
    ctx.info(format!(
        "void volume: {void_volume:.4e} (Mpc/h)^3 = {:.1} % of the survey volume {:.4e} (Mpc/h)^3",
        100.0 * void_fraction,
        mask.volume_mpc3_h3()
    ));
    ctx.info(format!("void finding took {secs:.3} s"));
}
