//! `ingest`: catalog files into the store, one transaction per file; a
//! failed file leaves nothing behind and the others still load. The files
//! are the shards; they run one at a time, since every file loads into the
//! same store (each shard opens its own connection, so a cluster could
//! share a PostgreSQL store, but SQLite allows a single writer).

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use astrolab_store::{expand_paths, IngestOptions, IngestOutcome, Progress, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::context::Ctx;
use crate::error::PipelineError;
use crate::params::defs::IngestArgs;
use crate::pipeline::Pipeline;

/// The `ingest` pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ingest;

/// One file to ingest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestFile {
    /// The file.
    pub path: PathBuf,
    /// Named on the command line (it must ingest or fail), rather than met
    /// while walking a directory (a file that is not a catalog, such as a
    /// README table or a truth file, is then skipped with a note).
    pub named: bool,
}

/// What became of one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum FileResult {
    /// Loaded, or already loaded from the same bytes.
    Done {
        /// The store's outcome.
        outcome: IngestOutcome,
    },
    /// Met in a directory and not a catalog: left alone.
    Skipped {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Failed; nothing of it was loaded.
    Failed {
        /// The file.
        path: PathBuf,
        /// Why.
        error: String,
    },
}

/// What an ingest did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IngestReport {
    /// Outcomes of the files that did not fail, in file order.
    pub outcomes: Vec<IngestOutcome>,
    /// Files skipped as not catalogs.
    pub skipped: Vec<PathBuf>,
    /// Files that failed, with why.
    pub failed: Vec<(PathBuf, String)>,
}

impl IngestReport {
    fn add(&mut self, r: FileResult) {
        match r {
            FileResult::Done { outcome } => self.outcomes.push(outcome),
            FileResult::Skipped { path, .. } => self.skipped.push(path),
            FileResult::Failed { path, error } => self.failed.push((path, error)),
        }
    }
}

/// The files `args` names, directories walked (sorted).
pub fn plan_files(args: &IngestArgs) -> anyhow::Result<Vec<IngestFile>> {
    let files = expand_paths(&args.paths)?;
    if files.is_empty() {
        bail!("no .fits or .csv files found in {:?}", args.paths);
    }
    let named: Vec<&PathBuf> = args.paths.iter().filter(|p| p.is_file()).collect();
    Ok(files
        .into_iter()
        .map(|path| IngestFile {
            named: named.contains(&&path),
            path,
        })
        .collect())
}

/// Ingests one file into `store`, reporting one line (unless `quiet`; with
/// `args.json` a JSON line), rows loaded as progress, and a failure as a
/// warning. Cancellation stops the load and rolls the file back.
pub fn ingest_one(
    ctx: &Ctx,
    store: &mut Store,
    file: &IngestFile,
    args: &IngestArgs,
    quiet: bool,
) -> anyhow::Result<FileResult> {
    let path = &file.path;
    let opts = IngestOptions {
        new_version: args.new_version,
    };
    let stage = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut loaded = 0u64;
    let mut cb = |n: u64| -> Result<(), String> {
        if ctx.cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        loaded += n;
        ctx.progress(&stage, loaded, 0);
        Ok(())
    };
    let result = store.ingest_file(path, &opts, &mut Progress::new(&mut cb));
    if loaded > 0 {
        // Finishes the file's row counter.
        ctx.progress(&stage, loaded, loaded);
    }
    ctx.check_cancelled()?;
    Ok(match result {
        Ok(outcome) => {
            if args.json {
                ctx.info(serde_json::to_string(&outcome)?);
            } else if !quiet {
                ctx.info(match &outcome {
                    IngestOutcome::Loaded { file, tables } => {
                        let t: Vec<String> = tables
                            .iter()
                            .map(|(t, n)| format!("{n} rows -> {t}"))
                            .collect();
                        format!(
                            "loaded    {} [{}] v{} file_id {}: {}",
                            path.display(),
                            file.format,
                            file.version,
                            file.file_id,
                            t.join(", ")
                        )
                    }
                    IngestOutcome::AlreadyIngested { file } => format!(
                        "unchanged {}: these bytes are already ingested as {} (file_id {}, sha256 {}); nothing to do",
                        path.display(),
                        file.name,
                        file.file_id,
                        file.sha256.get(..16).unwrap_or(&file.sha256)
                    ),
                });
            }
            FileResult::Done { outcome }
        }
        Err(e @ StoreError::UnknownFormat { .. }) if !file.named => {
            ctx.warn(format!("skipped   {}: {e}", path.display()));
            FileResult::Skipped {
                path: path.clone(),
                reason: e.to_string(),
            }
        }
        Err(e) => {
            if args.json {
                ctx.info(
                    serde_json::json!({"outcome": "failed", "path": path, "error": e.to_string()})
                        .to_string(),
                );
            }
            ctx.warn(format!("failed    {}: {e}", path.display()));
            FileResult::Failed {
                path: path.clone(),
                error: e.to_string(),
            }
        }
    })
}

/// Ingests every file of `args` into an open store, one after the other
/// (what `quickstart` uses with its own store).
pub fn ingest_all(
    ctx: &Ctx,
    store: &mut Store,
    args: &IngestArgs,
    quiet: bool,
) -> anyhow::Result<IngestReport> {
    let files = plan_files(args)?;
    let mut report = IngestReport::default();
    for (i, f) in files.iter().enumerate() {
        ctx.check_cancelled()?;
        report.add(ingest_one(ctx, store, f, args, quiet)?);
        ctx.progress("files", i as u64 + 1, files.len() as u64);
    }
    Ok(report)
}

impl Pipeline for Ingest {
    type Params = IngestArgs;
    type Shard = IngestFile;
    type Partial = FileResult;
    type Output = IngestReport;

    fn plan(&self, _: &Ctx, args: &IngestArgs) -> Result<Vec<IngestFile>, PipelineError> {
        Ok(plan_files(args)?)
    }

    fn run_shard(
        &self,
        ctx: &Ctx,
        args: &IngestArgs,
        file: &IngestFile,
    ) -> Result<FileResult, PipelineError> {
        let mut store = ctx.open_store()?;
        Ok(ingest_one(ctx, &mut store, file, args, false)?)
    }

    fn reduce(
        &self,
        _: &Ctx,
        _: &IngestArgs,
        partials: Vec<FileResult>,
    ) -> Result<IngestReport, PipelineError> {
        let mut report = IngestReport::default();
        for p in partials {
            report.add(p);
        }
        if !report.failed.is_empty() {
            return Err(anyhow!(
                "{} file(s) failed to ingest; nothing of those files was loaded",
                report.failed.len()
            )
            .into());
        }
        Ok(report)
    }

    /// Every file loads into the same store.
    fn max_parallel_shards(&self) -> Option<usize> {
        Some(1)
    }
}
