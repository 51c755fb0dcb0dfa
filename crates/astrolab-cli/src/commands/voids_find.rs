//! `astrolab voids find`: VoidFinder (Hoyle & Vogeley 2002, as in VAST) on a
//! galaxy catalog, written in VAST's VoidFinder FITS layout.
//!
//! Inputs: a FITS or CSV table with `ra`, `dec` and `z` or `redshift`
//! (case-insensitive), a store table (`--table`), or, with `--box-size`, a
//! whitespace `x y z` text file of a periodic simulation box (Mpc/h).
//!
//! Choices, each as VAST makes it unless said otherwise:
//! - Omega_m: `--omega-m`, else the catalog's `OMEGAM` keyword, else 0.26
//!   (the SDSS DR7 VoidFinder value), announced on the terminal.
//! - Radial limits: `--min-dist`/`--max-dist`, else the comoving distances
//!   of the lowest and highest redshift; galaxies outside are dropped
//!   (VAST's `filter_galaxies`), and counted.
//! - Footprint: `--mask FILE` (the MASK HDU of a VoidFinder file), else
//!   VAST's RA/Dec grid of the galaxies (smoothed), or HEALPix cells with
//!   `--mask-healpix-depth`. Galaxies outside the footprint are kept: they
//!   still bound holes (VAST does not cut them either); they are counted.
//! - A NaN redshift is an error naming the row (a galaxy without a distance
//!   cannot be placed; dropping it would change the wall/field split).

pub use astrolab_pipeline::params::defs::FindArgs;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};

use astrolab_formats::vast::{
    write_vast_voidfinder, VastHeader, VastHole, VastMask, VastMaximal, VastVoidFinder,
};
use astrolab_formats::FitsFile;
use astrolab_voids::finder::{
    find_voids, void_volume_fraction, with_threads, VoidFinderConfig, VoidFinderOutput,
};
use astrolab_voids::geometry::{comoving_distances_mpc_h, radec_z_to_comoving_xyz, xyz_to_radec_r};
use astrolab_voids::mask::{Footprint, HealpixFootprint, RaDecGrid, SurveyMask};

use crate::config::Config;

/// Omega_m used when neither the flag nor the catalog gives one: the
/// SDSS DR7 VoidFinder run's (Pan et al. 2012).
const DEFAULT_OMEGA_M: f64 = 0.26;
/// Grid spacing of the void volume measurement, Mpc/h.
const VOLUME_GRID_MPC_H: f64 = 2.0;

/// Galaxies ready for VoidFinder.
struct Prepared {
    xyz: Vec<[f64; 3]>,
    mask: SurveyMask,
    header: VastHeader,
    radec_mask: Option<(RaDecGrid, bool)>,
    stem: String,
}

pub fn run(cfg: &Config, args: &FindArgs) -> Result<()> {
    let prepared = match args.box_size {
        Some(side) => prepare_box(args, side)?,
        None => prepare_sky(cfg, args)?,
    };
    let vf_cfg = VoidFinderConfig::default();
    let t0 = Instant::now();
    let mask = &prepared.mask;
    let xyz = &prepared.xyz;
    let out = with_threads(args.threads, || find_voids(xyz, mask, &vf_cfg))??;
    let (void_volume, void_fraction) = with_threads(args.threads, || {
        void_volume_fraction(&out.holes, mask, VOLUME_GRID_MPC_H)
    })?;
    let secs = t0.elapsed().as_secs_f64();

    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}_VoidFinder_Output.fits", prepared.stem)));
    let file = vast_file(&prepared, &out, &vf_cfg, args.threads);
    write_vast_voidfinder(&output, &file)
        .with_context(|| format!("writing {}", output.display()))?;
    print_summary(&out, void_volume, void_fraction, mask, secs);
    println!("wrote {}", output.display());
    Ok(())
}

fn prepare_sky(cfg: &Config, args: &FindArgs) -> Result<Prepared> {
    let (g, header_omega, stem, infile) = match (&args.catalog, &args.table) {
        (_, Some(table)) => {
            let mut store = super::open_store(cfg)?;
            let g = read_store_table(&mut store, table)?;
            (g, None, table.clone(), format!("store:{table}"))
        }
        (Some(path), None) => {
            let g = read_catalog_file(path)?;
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
            println!("Omega_m = {o} (from the catalog's OMEGAM keyword)");
            o
        }
        (None, None) => {
            println!(
                "Omega_m = {DEFAULT_OMEGA_M}: the catalog has no OMEGAM keyword and no --omega-m was given"
            );
            DEFAULT_OMEGA_M
        }
    };
    let xyz_all = radec_z_to_comoving_xyz(&g.ra_deg, &g.dec_deg, &g.z, omega_m)
        .with_context(|| format!("{}: placing the galaxies", g.source))?;
    let r_all = comoving_distances_mpc_h(&g.z, omega_m)?;
    let z_min = g.z.iter().copied().fold(f64::INFINITY, f64::min);
    let z_max = g.z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lim = comoving_distances_mpc_h(&[z_min, z_max], omega_m)?;
    let r_min = args.min_dist.unwrap_or(lim[0]);
    let r_max = args.max_dist.unwrap_or(lim[1]);
    if !(r_min.is_finite() && r_max.is_finite() && r_min < r_max) {
        bail!("distance limits [{r_min}, {r_max}] Mpc/h are not increasing");
    }
    let keep: Vec<usize> = (0..r_all.len())
        .filter(|&i| r_all[i] >= r_min && r_all[i] <= r_max)
        .collect();
    let dropped = r_all.len() - keep.len();
    if dropped > 0 {
        println!("{dropped} galaxies outside [{r_min:.2}, {r_max:.2}] Mpc/h dropped");
    }
    if keep.is_empty() {
        bail!(
            "{}: no galaxy between {r_min:.2} and {r_max:.2} Mpc/h",
            g.source
        );
    }
    let ra: Vec<f64> = keep.iter().map(|&i| g.ra_deg[i]).collect();
    let dec: Vec<f64> = keep.iter().map(|&i| g.dec_deg[i]).collect();
    let xyz: Vec<[f64; 3]> = keep.iter().map(|&i| xyz_all[i]).collect();

    let smooth = !args.no_smooth_mask;
    let (footprint, radec_mask) = if let Some(mask_file) = &args.mask {
        let grid = read_mask(mask_file)?;
        (Footprint::RaDec(grid.clone()), Some((grid, false)))
    } else if let Some(depth) = args.mask_healpix_depth {
        let h = HealpixFootprint::from_galaxies(&ra, &dec, depth)?;
        let res = RaDecGrid::resolution_for(r_max, 10.0);
        let grid = h.to_radec_grid(res)?;
        (Footprint::Healpix(h), Some((grid, false)))
    } else {
        let res = RaDecGrid::resolution_for(r_max, 10.0);
        let grid = RaDecGrid::from_galaxies(&ra, &dec, res, smooth)?;
        (Footprint::RaDec(grid.clone()), Some((grid, smooth)))
    };
    let outside = ra
        .iter()
        .zip(&dec)
        .filter(|(&a, &d)| !footprint.contains_radec(a, d))
        .count();
    if outside > 0 {
        println!(
            "{outside} galaxies lie outside the footprint: kept as hole boundaries (as VAST does)"
        );
    }
    let coverage = footprint.coverage_sr();
    let mask = SurveyMask::sky(footprint, r_min, r_max)?;
    let header = VastHeader {
        infile: Some(infile),
        metric: Some("comoving".into()),
        dist_limits_mpc_h: Some((r_min, r_max)),
        z_limits: Some((z_min, z_max)),
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
        radec_mask,
        stem,
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
    })
}

/// RA, Dec, redshift of a galaxy list and where it came from.
struct RaDecZ {
    ra_deg: Vec<f64>,
    dec_deg: Vec<f64>,
    z: Vec<f64>,
    source: String,
}

/// Column names accepted, first match wins (case-insensitive).
const RA_NAMES: [&str; 2] = ["ra", "target_ra"];
const DEC_NAMES: [&str; 2] = ["dec", "target_dec"];
const Z_NAMES: [&str; 2] = ["z", "redshift"];

/// A FITS (first table HDU) or CSV galaxy table.
fn read_catalog_file(path: &Path) -> Result<RaDecZ> {
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let source = path.display().to_string();
    if is_csv {
        let t = astrolab_formats::read_csv_columns(path)
            .with_context(|| format!("reading {source}"))?;
        let find = |names: &[&str], what: &str| -> Result<String> {
            t.names
                .iter()
                .find(|n| names.iter().any(|c| n.eq_ignore_ascii_case(c)))
                .cloned()
                .ok_or_else(|| {
                    anyhow!(
                        "{source}: no {what} column (looked for {})",
                        names.join(", ")
                    )
                })
        };
        let (rc, dc, zc) = (
            find(&RA_NAMES, "RA")?,
            find(&DEC_NAMES, "Dec")?,
            find(&Z_NAMES, "redshift")?,
        );
        Ok(RaDecZ {
            ra_deg: t.column_f64(&rc)?,
            dec_deg: t.column_f64(&dc)?,
            z: t.column_f64(&zc)?,
            source,
        })
    } else {
        let fits = FitsFile::open(path).with_context(|| format!("opening {source}"))?;
        let t = fits
            .first_table()
            .with_context(|| format!("{source}: no table HDU"))?;
        let hdu = t.hdu().name();
        let find = |names: &[&str], what: &str| -> Result<String> {
            t.columns()
                .iter()
                .find(|c| names.iter().any(|n| c.name.eq_ignore_ascii_case(n)))
                .map(|c| c.name.clone())
                .ok_or_else(|| {
                    anyhow!(
                        "{source}: HDU {hdu}: no {what} column (looked for {})",
                        names.join(", ")
                    )
                })
        };
        let (rc, dc, zc) = (
            find(&RA_NAMES, "RA")?,
            find(&DEC_NAMES, "Dec")?,
            find(&Z_NAMES, "redshift")?,
        );
        Ok(RaDecZ {
            ra_deg: t.read_f64(&rc)?,
            dec_deg: t.read_f64(&dc)?,
            z: t.read_f64(&zc)?,
            source,
        })
    }
}

/// Galaxies of a store table: `galaxies`, `fastspec`, or `zcatalog`
/// (SPECTYPE GALAXY). A NULL redshift reads as NaN (and is then refused
/// with its row).
fn read_store_table(store: &mut astrolab_store::Store, table: &str) -> Result<RaDecZ> {
    if !["galaxies", "fastspec", "zcatalog"].contains(&table) {
        bail!("--table {table}: choose galaxies, fastspec or zcatalog");
    }
    let mut t = store.galaxy_rows(table)?;
    // Columns file_id, id, ra, dec, z: keep ra, dec, z.
    for r in t.rows.iter_mut() {
        r.drain(0..2);
    }
    let col = |i: usize| -> Vec<f64> {
        t.rows
            .iter()
            .map(|r| r[i].as_f64().unwrap_or(f64::NAN))
            .collect()
    };
    Ok(RaDecZ {
        ra_deg: col(0),
        dec_deg: col(1),
        z: col(2),
        source: format!("store table {table}"),
    })
}

/// `x y z` rows; `#` comments and blank lines skipped.
fn read_xyz_text(path: &Path) -> Result<Vec<[f64; 3]>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("{}: line {}", path.display(), n + 1))?;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let v: Vec<f64> = t
            .split_whitespace()
            .take(3)
            .map(|s| s.parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow!("{}: line {}: {e}: {t:?}", path.display(), n + 1))?;
        if v.len() < 3 || !v.iter().all(|c| c.is_finite()) {
            bail!(
                "{}: line {}: need three finite numbers x y z: {t:?}",
                path.display(),
                n + 1
            );
        }
        out.push([v[0], v[1], v[2]]);
    }
    Ok(out)
}

/// OMEGAM from the primary header or the first table's header.
fn catalog_omega_m(path: &Path) -> Option<f64> {
    let is_fits = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["fits", "fit", "fz"].contains(&e.to_ascii_lowercase().as_str()));
    if !is_fits {
        return None;
    }
    let fits = FitsFile::open(path).ok()?;
    fits.hdus().iter().find_map(|h| {
        h.header
            .get_f64("OMEGAM")
            .or_else(|| h.header.get_f64("OMEGA_M"))
    })
}

fn read_mask(path: &Path) -> Result<RaDecGrid> {
    let file = astrolab_formats::vast::read_vast_voidfinder(path)
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

fn vast_file(
    p: &Prepared,
    out: &VoidFinderOutput,
    cfg: &VoidFinderConfig,
    threads: Option<usize>,
) -> VastVoidFinder {
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
    header.cpus = Some(threads.unwrap_or_else(rayon_threads) as i64);
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

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn print_summary(
    out: &VoidFinderOutput,
    void_volume: f64,
    void_fraction: f64,
    mask: &SurveyMask,
    secs: f64,
) {
    let n = out.wall_xyz.len() + out.field_xyz.len();
    println!(
        "galaxies: {n} ({} wall, {} field; 3rd-neighbour separation {:.2} +- {:.2} Mpc/h, field beyond {:.2}; {} duplicates removed)",
        out.wall_xyz.len(),
        out.field_xyz.len(),
        out.split.nn_mean_mpc_h,
        out.split.nn_std_mpc_h,
        out.split.threshold_mpc_h,
        out.split.duplicate_rows.len()
    );
    let c = &out.counts;
    println!(
        "holes: {} grown from {} empty cells of {}; {} distinct, {} cut by the mask, {} after duplicates, {} in voids",
        c.grown,
        c.empty_cells,
        c.grid_cells,
        c.distinct,
        c.cut_by_mask,
        c.unique,
        out.holes.len()
    );
    let mut r: Vec<f64> = out.maximals.iter().map(|m| m.radius_mpc_h).collect();
    r.sort_by(f64::total_cmp);
    let edge = out.maximals.iter().filter(|m| m.edge != 0).count();
    if r.is_empty() {
        println!("voids: 0 (no hole larger than the minimum maximal radius)");
    } else {
        println!(
            "voids: {} ({edge} at the survey edge); maximal-sphere radius min {:.2}, median {:.2}, max {:.2} Mpc/h",
            r.len(),
            r[0],
            r[r.len() / 2],
            r[r.len() - 1]
        );
    }
    println!(
        "void volume: {void_volume:.4e} (Mpc/h)^3 = {:.1} % of the survey volume {:.4e} (Mpc/h)^3",
        100.0 * void_fraction,
        mask.volume_mpc3_h3()
    );
    println!("void finding took {secs:.3} s");
}
