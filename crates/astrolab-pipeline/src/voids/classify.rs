//! `voids classify`: galaxies against void catalogs (VoidFinder holes, V2
//! zones): vflag 0 wall, 1 void, 2 edge, 9 outside, the void id and
//! R_VOID_NORM per galaxy and algorithm, written to the store
//! ([`astrolab_voids::membership`] decides; this module reads and writes).
//!
//! One shard per catalog: each reads the galaxy list and classifies it
//! against its catalog (so catalogs run on threads here, or as tasks of a
//! cluster executor). Writing the rows depends on the store:
//!
//! * PostgreSQL: each shard stages its catalog's rows itself (loads and
//!   indexes them in a table of their own, [`Store::stage_void_membership`]),
//!   so the costliest part of the write runs in parallel too, and the
//!   reduce step publishes every staged catalog in one short transaction.
//!   A run that fails drops what its finished shards staged
//!   ([`Pipeline::discard`]); staging tables of runs killed outright are
//!   dropped by a later run's plan once a day old.
//! * SQLite (one writer at a time whatever we do): the shards give their
//!   rows to the reduce step, which writes every catalog in one
//!   transaction.
//!
//! Either way the run publishes all its catalogs or none of them.
//!
//! [`Store::stage_void_membership`]: astrolab_store::Store::stage_void_membership

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use astrolab_store::{MembershipKey, MembershipRows, Progress, StagedMembership};
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
    /// The stage the shard writes its rows to (PostgreSQL stores; None:
    /// the rows go to the reduce step).
    #[serde(default)]
    pub stage: Option<String>,
}

/// Staged tables older than this many hours that no run published are
/// dropped when a run is planned (younger ones may be a running run's).
const STALE_STAGE_HOURS: f64 = 24.0;

/// What classifying against one catalog gives: the rows for the store (or
/// where the shard staged them) and the counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogPartial {
    /// Which catalog.
    pub key: MembershipKey,
    /// One row per galaxy (empty when staged).
    pub rows: MembershipRows,
    /// The staged rows (PostgreSQL).
    #[serde(default)]
    pub staged: Option<StagedMembership>,
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
        let tag = store.stages_void_membership().then(|| {
            if let Err(e) = store.drop_stale_staged_memberships(STALE_STAGE_HOURS) {
                ctx.warn(format!(
                    "could not drop the stale staged memberships of earlier runs: {e}"
                ));
            }
            astrolab_store::fresh_stage()
        });
        Ok(catalog_paths(&files, args)?
            .into_iter()
            .enumerate()
            .map(|(i, (path, file_id))| CatalogShard {
                path,
                file_id,
                stage: tag.as_ref().map(|t| format!("{t}_{i}")),
            })
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
        let (mut key, rows, mut counts, _) = classify_file(&shard.path, &g, args)?;
        key.file_id = shard.file_id;
        let (rows, staged) = match &shard.stage {
            Some(stage) => {
                let t0 = std::time::Instant::now();
                let s = store
                    .stage_void_membership(stage, &key, &rows)
                    .map_err(anyhow::Error::from)?;
                counts.seconds_store = t0.elapsed().as_secs_f64();
                (MembershipRows::default(), Some(s))
            }
            None => (rows, None),
        };
        Ok(CatalogPartial {
            key,
            rows,
            staged,
            counts,
            galaxies: g.target_id.len(),
            source: g.source,
        })
    }

    /// Publishes every catalog's membership, all or none: the staged
    /// tables in one transaction (PostgreSQL), or the rows in one
    /// transaction (SQLite). The time is shared among the catalogs by rows.
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
        let staged: Vec<StagedMembership> =
            partials.iter().filter_map(|p| p.staged.clone()).collect();
        let t0 = std::time::Instant::now();
        let written = if let Err(e) = ctx.check_cancelled() {
            Err(e)
        } else if staged.is_empty() {
            let items: Vec<(&MembershipKey, &MembershipRows)> =
                partials.iter().map(|p| (&p.key, &p.rows)).collect();
            store
                .write_void_memberships(&items, &mut Progress::none())
                .map(|_| ())
                .map_err(|e| anyhow::Error::from(e).into())
        } else if staged.len() != partials.len() {
            Err(anyhow::anyhow!(
                "{} of {} catalogs were staged: shards of one run must all stage or none; run again",
                staged.len(),
                partials.len()
            )
            .into())
        } else {
            store
                .publish_void_memberships(&staged)
                .map_err(|e| anyhow::Error::from(e).into())
        };
        if let Err(e) = written {
            store.drop_staged_memberships(&staged);
            return Err(e);
        }
        let seconds = t0.elapsed().as_secs_f64();
        let total_rows: usize = partials.iter().map(|p| p.counts.galaxies).sum();
        let mut all = Vec::new();
        for p in partials {
            let mut counts = p.counts;
            counts.seconds_store += seconds * counts.galaxies as f64 / total_rows.max(1) as f64;
            all.push(counts);
        }
        ctx.progress("catalogs", all.len() as u64, all.len() as u64);
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

    /// Drops the catalogs the finished shards staged (a failed run
    /// publishes nothing and leaves nothing behind).
    fn discard(&self, ctx: &Ctx, _args: &ClassifyArgs, partials: Vec<CatalogPartial>) {
        let staged: Vec<StagedMembership> = partials.into_iter().filter_map(|p| p.staged).collect();
        if staged.is_empty() {
            return;
        }
        match ctx.open_store() {
            Ok(mut store) => store.drop_staged_memberships(&staged),
            Err(e) => ctx.warn(format!(
                "could not drop the {} staged catalogs of this failed run ({e}); the next run drops them after {STALE_STAGE_HOURS} h",
                staged.len()
            )),
        }
    }

    /// Every shard reads the galaxies; two at a time keeps memory at two
    /// copies of the galaxy list on a laptop (a cluster runs one per
    /// task anyway).
    fn max_parallel_shards(&self) -> Option<usize> {
        Some(2)
    }
}
