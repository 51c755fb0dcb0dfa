//! `voids classify`: galaxies against void catalogs (VoidFinder holes, V2
//! zones): vflag 0 wall, 1 void, 2 edge, 9 outside, the void id and
//! R_VOID_NORM per galaxy and algorithm, written to the store
//! ([`astrolab_voids::membership`] decides; this module reads and writes).
//!
//! One shard per catalog: each reads the galaxy list and classifies it
//! against its catalog (so catalogs run on threads here, or as tasks of a
//! cluster executor); the reduce step writes the rows to the store, one
//! catalog after another in the order given (the store's writes are
//! serial).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use astrolab_store::{MembershipKey, MembershipRows, Progress};
use astrolab_voids::membership::{
    classify_v2, classify_voidfinder, voidfinder_edge_classes, Member, VFLAG_EDGE, VFLAG_OUTSIDE,
    VFLAG_VOID, VFLAG_WALL,
};
use astrolab_voids::survey::{in_cap, membership_positions, membership_survey};
use serde::{Deserialize, Serialize};

use super::catalog::{read_void_catalog, CatalogKind};
use super::galaxies::{read_galaxy_file, read_galaxy_table, Galaxies};
use crate::context::Ctx;
use crate::error::{PipelineError, UsageError};
use crate::params::defs::ClassifyArgs;
use crate::pipeline::Pipeline;

/// The membership pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct Classify;

/// Counts of one classified catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogCounts {
    pub catalog: String,
    pub algorithm: String,
    pub cap: String,
    pub galaxies: usize,
    pub wall: usize,
    pub void: usize,
    pub edge: usize,
    pub outside: usize,
    pub omega_m: f64,
    pub footprint: String,
    /// Seconds spent in the membership rule itself (all galaxies).
    pub seconds_membership: f64,
    /// Seconds spent writing the rows to the store.
    pub seconds_store: f64,
}

/// What a classification did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifyOutput {
    /// Galaxies classified against each catalog (before the cap split).
    pub galaxies: usize,
    /// Where they came from.
    pub source: String,
    /// Per catalog, in the order given.
    pub catalogs: Vec<CatalogCounts>,
}

/// Classifies `g` against one catalog file; returns the rows and counts.
pub fn classify_file(
    path: &Path,
    g: &Galaxies,
    args: &ClassifyArgs,
) -> Result<(MembershipKey, MembershipRows, CatalogCounts, Vec<Member>)> {
    let cat = read_void_catalog(path)?;
    let omega_m = match (args.omega_m, cat.omega_m) {
        (Some(o), _) => o,
        (None, Some(o)) => o,
        (None, None) => bail!(
            "{}: the primary header has no OMEGAM keyword, so the distances of the galaxies are unknown; pass --omega-m (DESIVAST DR1: 0.315, SDSS DR7 VoidFinder: 0.26)",
            path.display()
        ),
    };
    let rows: Vec<usize> = (0..g.ra_deg.len())
        .filter(|&i| in_cap(&cat.cap, g.ra_deg[i], g.dec_deg[i]))
        .collect();
    let ra: Vec<f64> = rows.iter().map(|&i| g.ra_deg[i]).collect();
    let dec: Vec<f64> = rows.iter().map(|&i| g.dec_deg[i]).collect();
    let z: Vec<f64> = rows.iter().map(|&i| g.z[i]).collect();
    let (dist, points) = membership_positions(&ra, &dec, &z, omega_m)
        .with_context(|| format!("--omega-m / OMEGAM = {omega_m}"))?;
    let fp_name = if cat.mask.is_some() {
        "MASK HDU".to_string()
    } else {
        format!("HEALPix depth {} from the galaxies", args.mask_depth)
    };
    let footprint = membership_survey(
        cat.mask,
        cat.dist_limits_mpc_h,
        &ra,
        &dec,
        &dist,
        args.mask_depth,
    )
    .context("building the footprint from the galaxies")?;
    let ids: Vec<i64> = rows.iter().map(|&i| g.target_id[i]).collect();
    let galaxy_file_id = rows.iter().map(|&i| g.file_id[i]).collect();
    let t0 = std::time::Instant::now();
    let members = match &cat.kind {
        CatalogKind::VoidFinder(v) if v.edge.is_none() => {
            // No EDGE column (VAST's own output): DESIVAST's edge classes
            // from the holes and the footprint.
            let mut v = v.clone();
            v.edge = Some(voidfinder_edge_classes(&v, &footprint, args.edge_buffer));
            classify_voidfinder(&points, &v, &footprint, args.edge_buffer)
                .with_context(|| format!("{}", path.display()))?
        }
        CatalogKind::VoidFinder(v) => classify_voidfinder(&points, v, &footprint, args.edge_buffer)
            .with_context(|| format!("{}", path.display()))?,
        CatalogKind::V2(v) => classify_v2(&points, Some(&ids), v, &footprint, args.edge_buffer)
            .with_context(|| format!("{}", path.display()))?,
    };
    let seconds_membership = t0.elapsed().as_secs_f64();
    let count = |f: u8| members.iter().filter(|m| m.vflag == f).count();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("catalog")
        .to_string();
    let counts = CatalogCounts {
        catalog: name.clone(),
        algorithm: cat.algorithm.clone(),
        cap: cat.cap.clone(),
        galaxies: members.len(),
        wall: count(VFLAG_WALL),
        void: count(VFLAG_VOID),
        edge: count(VFLAG_EDGE),
        outside: count(VFLAG_OUTSIDE),
        omega_m,
        footprint: fp_name,
        seconds_membership,
        seconds_store: 0.0,
    };
    let out = MembershipRows {
        target_id: ids,
        vflag: members.iter().map(|m| m.vflag).collect(),
        void_id: members.iter().map(|m| m.void_id).collect(),
        r_void_norm: members
            .iter()
            .map(|m| m.r_void_norm.unwrap_or(f64::NAN))
            .collect(),
        void_edge: members.iter().map(|m| m.void_edge).collect(),
        galaxy_file_id,
    };
    let key = MembershipKey {
        catalog: name,
        file_id: None,
        algorithm: cat.algorithm,
        cap: cat.cap,
    };
    Ok((key, out, counts, members))
}

/// The registry id of the file with the bytes of `path`, if any (any
/// version: access follows the file's name, so a superseded version's id
/// is as good as the live one's).
fn registered_id(files: &[astrolab_store::RawFile], path: &Path) -> Result<Option<i64>> {
    let (_, sha) =
        astrolab_store::file_digest(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(files.iter().find(|f| f.sha256 == sha).map(|f| f.file_id))
}

fn load_galaxies(
    store: &mut astrolab_store::Store,
    files: &[astrolab_store::RawFile],
    args: &ClassifyArgs,
) -> Result<Galaxies> {
    if let Some(p) = &args.galaxies {
        return read_galaxy_file(p, registered_id(files, p)?);
    }
    if let Some(t) = &args.galaxies_table {
        return read_galaxy_table(store, t);
    }
    for t in ["fastspec", "zcatalog", "galaxies"] {
        if store.count_rows(t)? > 0 {
            return read_galaxy_table(store, t);
        }
    }
    bail!("no galaxies: the store's fastspec, zcatalog and galaxies tables are empty; ingest a catalog or pass --galaxies FILE")
}

/// The catalog files to classify against, with their registry ids: the
/// `--catalog` files, and the `--run` ids read again from their source
/// (which must still hold the registered bytes).
fn catalog_paths(
    files: &[astrolab_store::RawFile],
    args: &ClassifyArgs,
) -> Result<Vec<(PathBuf, Option<i64>)>> {
    let mut paths: Vec<(PathBuf, Option<i64>)> = Vec::new();
    for p in &args.catalogs {
        paths.push((p.clone(), registered_id(files, p)?));
    }
    for &id in &args.runs {
        let Some(f) = files.iter().find(|f| f.file_id == id) else {
            bail!("--run {id}: no file with this id in the registry (see astrolab files list)");
        };
        if !f.format.starts_with("desivast") {
            bail!(
                "--run {id}: {} is a {} file, not a void catalog",
                f.name,
                f.format
            );
        }
        let p = PathBuf::from(&f.source);
        let (_, sha) = astrolab_store::file_digest(&p).with_context(|| {
            format!(
                "--run {id}: the registered source {} cannot be read; pass --catalog with the file",
                p.display()
            )
        })?;
        if sha != f.sha256 {
            bail!("--run {id}: {} has changed since it was ingested (sha256 {sha}, registered {}); pass --catalog", p.display(), f.sha256);
        }
        paths.push((p, Some(id)));
    }
    Ok(paths)
}

/// One shard of `voids classify`: one void catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogShard {
    /// The catalog file.
    pub path: PathBuf,
    /// Its registry id, when it was ingested.
    pub file_id: Option<i64>,
}

/// What classifying against one catalog gives: the rows for the store and
/// the counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogPartial {
    /// Which catalog.
    pub key: MembershipKey,
    /// One row per galaxy.
    pub rows: MembershipRows,
    /// Counts.
    pub counts: CatalogCounts,
    /// Galaxies read, and from where.
    pub galaxies: usize,
    /// Where they came from.
    pub source: String,
}

impl Pipeline for Classify {
    type Params = ClassifyArgs;
    type Shard = CatalogShard;
    type Partial = CatalogPartial;
    type Output = ClassifyOutput;

    /// One shard per catalog, in the order given (`--catalog`s, then
    /// `--run`s).
    fn plan(&self, ctx: &Ctx, args: &ClassifyArgs) -> Result<Vec<CatalogShard>, PipelineError> {
        if args.catalogs.is_empty() && args.runs.is_empty() {
            return Err(anyhow::Error::from(UsageError(
                "voids classify: give --catalog FILE or --run FILE_ID".into(),
            ))
            .into());
        }
        let mut store = ctx.open_store()?;
        let files = store.raw_files().map_err(anyhow::Error::from)?;
        Ok(catalog_paths(&files, args)?
            .into_iter()
            .map(|(path, file_id)| CatalogShard { path, file_id })
            .collect())
    }

    /// Reads the galaxies and classifies them against the shard's catalog.
    fn run_shard(
        &self,
        ctx: &Ctx,
        args: &ClassifyArgs,
        shard: &CatalogShard,
    ) -> Result<CatalogPartial, PipelineError> {
        let mut store = ctx.open_store()?;
        let files = store.raw_files().map_err(anyhow::Error::from)?;
        let g = load_galaxies(&mut store, &files, args)?;
        if g.target_id.is_empty() {
            return Err(
                anyhow::anyhow!("{}: no galaxies to classify (empty catalog)", g.source).into(),
            );
        }
        let (mut key, rows, counts, _) = classify_file(&shard.path, &g, args)?;
        key.file_id = shard.file_id;
        Ok(CatalogPartial {
            key,
            rows,
            counts,
            galaxies: g.target_id.len(),
            source: g.source,
        })
    }

    /// Writes each catalog's rows to the store, in the order given (the
    /// store's membership writes are serial).
    fn reduce(
        &self,
        ctx: &Ctx,
        args: &ClassifyArgs,
        partials: Vec<CatalogPartial>,
    ) -> Result<ClassifyOutput, PipelineError> {
        let mut store = ctx.open_store()?;
        let (galaxies, source) = partials
            .first()
            .map(|p| (p.galaxies, p.source.clone()))
            .unwrap_or_default();
        let n = partials.len();
        let mut all = Vec::new();
        for (i, p) in partials.into_iter().enumerate() {
            ctx.check_cancelled()?;
            let mut counts = p.counts;
            let t0 = std::time::Instant::now();
            store
                .write_void_membership(&p.key, &p.rows, &mut Progress::none())
                .map_err(anyhow::Error::from)?;
            counts.seconds_store = t0.elapsed().as_secs_f64();
            all.push(counts);
            ctx.progress("catalogs", i as u64 + 1, n as u64);
        }
        if args.json {
            ctx.info(serde_json::to_string_pretty(&all).map_err(anyhow::Error::from)?);
        } else {
            ctx.info(format!("galaxies: {galaxies} ({source})"));
            ctx.info(format!(
                "{:<11} {:<4} {:>9} {:>9} {:>9} {:>9} {:>9}  catalog",
                "algorithm", "cap", "galaxies", "wall(0)", "void(1)", "edge(2)", "out(9)"
            ));
            for c in &all {
                ctx.info(format!(
                    "{:<11} {:<4} {:>9} {:>9} {:>9} {:>9} {:>9}  {} (Omega_m {}, footprint: {})",
                    c.algorithm,
                    c.cap,
                    c.galaxies,
                    c.wall,
                    c.void,
                    c.edge,
                    c.outside,
                    c.catalog,
                    c.omega_m,
                    c.footprint
                ));
            }
        }
        Ok(ClassifyOutput {
            galaxies,
            source,
            catalogs: all,
        })
    }

    /// Every shard reads the galaxies; two at a time keeps memory at two
    /// copies of the galaxy list on a laptop (a cluster runs one per
    /// task anyway).
    fn max_parallel_shards(&self) -> Option<usize> {
        Some(2)
    }
}
