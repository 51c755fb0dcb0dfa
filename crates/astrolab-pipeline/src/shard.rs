//! A run cut into steps that other machines can execute: plan, one shard,
//! reduce (`astrolab shard plan|run|reduce`), what a cluster executor's
//! driver and tasks call ([`crate::ray`]).
//!
//! * **plan** checks the parameters through the declaration, hashes the
//!   inputs and writes the shards to a plan file.
//! * **run** executes one shard of a plan and writes its partial result
//!   under a temporary name, then renames it (`shard-000007.json`), so a
//!   task killed half way leaves nothing that looks finished and a retry
//!   writes the same bytes to the same name; it gives back only a receipt
//!   (path, bytes, SHA-256).
//! * **discard**, after a failed run, gives the finished shards' results
//!   to the pipeline to undo what they left outside the output directory.
//! * **reduce** reads every shard's result in shard order, each checked
//!   against its receipt (a vanished or changed file is refused, naming
//!   the shard), then writes the outputs, `result.json` and the manifest
//!   exactly as the in-process executor does: the same bytes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::PipelineDef;
use crate::context::Ctx;
use crate::error::PipelineError;
use crate::executor::{finish_run, fresh_dir, input_entries, Finish, RunOutcome};
use crate::manifest::FileEntry;

/// A planned run: what every shard task and the reduce step read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// The pipeline.
    pub pipeline: String,
    /// The build that planned it ([`build_id`]); tasks of another build
    /// refuse the plan.
    pub build: String,
    /// Resolved parameters (fixed ones included).
    pub parameters: Value,
    /// The run's output directory.
    pub out_dir: PathBuf,
    /// Inputs, hashed when planning.
    pub inputs: Vec<FileEntry>,
    /// When planning started (RFC 3339).
    pub start_time: String,
    /// How many shards may run at once (None: no limit).
    pub max_parallel: Option<usize>,
    /// The shards, in order.
    pub shards: Vec<Value>,
}

/// What a shard task gives back: where its result is and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The shard's index in the plan.
    pub index: usize,
    /// Its partial result (JSON).
    pub path: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
    /// Lower-case hexadecimal SHA-256.
    pub sha256: String,
}

/// This build: version, commit (when built from git) and profile. A plan,
/// its tasks and its reduce step must all come from one build, or the
/// shards' JSON might not mean the same thing on both sides.
pub fn build_id() -> String {
    let s = crate::executor::software();
    format!(
        "astrolab {} ({}, {})",
        env!("CARGO_PKG_VERSION"),
        option_env!("ASTROLAB_GIT_COMMIT").unwrap_or("no commit recorded"),
        s.profile
    )
}

fn failed(msg: String) -> PipelineError {
    PipelineError::Executor(msg)
}

fn write_json<T: Serialize>(path: &Path, t: &T) -> Result<(u64, String), PipelineError> {
    let bytes =
        serde_json::to_vec(t).map_err(|e| failed(format!("{} as JSON: {e}", path.display())))?;
    crate::output::write_file(path, &bytes).map_err(PipelineError::Failed)?;
    Ok((bytes.len() as u64, crate::hash::sha256_bytes(&bytes)))
}

/// Reads a plan written by [`plan`] for `def`.
pub fn read_plan(def: &PipelineDef, path: &Path) -> Result<Plan, PipelineError> {
    let text = std::fs::read(path)
        .map_err(|e| failed(format!("reading the plan {}: {e}", path.display())))?;
    let plan: Plan = serde_json::from_slice(&text).map_err(|e| {
        failed(format!(
            "{}: not a plan of this build of astrolab ({e})",
            path.display()
        ))
    })?;
    if plan.pipeline != def.name {
        return Err(failed(format!(
            "{}: a plan of {}, not of {}",
            path.display(),
            plan.pipeline,
            def.name
        )));
    }
    if plan.build != build_id() {
        return Err(failed(format!(
            "version mismatch: {} was planned by {}, this is {}; install the same astrolab on the driver and every worker",
            path.display(),
            plan.build,
            build_id()
        )));
    }
    Ok(plan)
}

/// Plans the run of `def` with `params` (the submitter's parameters plus
/// the fixed ones for `out_dir`) into `plan_path`.
pub fn plan(
    def: &PipelineDef,
    ctx: &Ctx,
    params: &Value,
    out_dir: &Path,
    plan_path: &Path,
) -> Result<Plan, PipelineError> {
    let start = time::OffsetDateTime::now_utc();
    // The run starts here: its output directory must be new or empty (the
    // shards of a single-shard pipeline write their outputs into it).
    let out_dir = &fresh_dir(out_dir)?;
    let resolved = (def.check)(params)?.resolved;
    let inputs = input_entries(def, &resolved, out_dir)?;
    let shards = (def.shards.plan)(ctx, &resolved)?;
    let plan = Plan {
        pipeline: def.name.to_string(),
        build: build_id(),
        parameters: resolved,
        out_dir: out_dir.to_path_buf(),
        inputs,
        start_time: start
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| failed(format!("the start time: {e}")))?,
        max_parallel: (def.shards.max_parallel)(),
        shards,
    };
    write_json(plan_path, &plan)?;
    Ok(plan)
}

/// The file of shard `index`'s result in `parts_dir`.
pub fn part_path(parts_dir: &Path, index: usize) -> PathBuf {
    parts_dir.join(format!("shard-{index:06}.json"))
}

/// Runs shard `index` of the plan at `plan_path`, its result into
/// `parts_dir`.
pub fn run_shard(
    def: &PipelineDef,
    ctx: &Ctx,
    plan_path: &Path,
    index: usize,
    parts_dir: &Path,
) -> Result<Receipt, PipelineError> {
    let plan = read_plan(def, plan_path)?;
    let Some(shard) = plan.shards.get(index) else {
        return Err(failed(format!(
            "shard {index}: the plan {} has {} shards",
            plan_path.display(),
            plan.shards.len()
        )));
    };
    let partial = (def.shards.run_shard)(ctx, &plan.parameters, shard)?;
    std::fs::create_dir_all(parts_dir)
        .map_err(|e| failed(format!("creating {}: {e}", parts_dir.display())))?;
    let path = part_path(parts_dir, index);
    crate::output::write_file(&path, &partial).map_err(PipelineError::Failed)?;
    let (bytes, sha256) = (partial.len() as u64, crate::hash::sha256_bytes(&partial));
    Ok(Receipt {
        index,
        path,
        bytes,
        sha256,
    })
}

/// After a failed run: gives the results of the shards that finished
/// (those whose receipts are given and whose files are intact) to the
/// pipeline's discard step ([`crate::Pipeline::discard`]), which undoes
/// what they left outside the output directory. Best effort; returns how
/// many results it read.
pub fn discard(
    def: &PipelineDef,
    ctx: &Ctx,
    plan_path: &Path,
    receipts: &[Receipt],
) -> Result<usize, PipelineError> {
    let plan = read_plan(def, plan_path)?;
    let partials: Vec<Vec<u8>> = receipts
        .iter()
        .filter_map(|r| std::fs::read(&r.path).ok())
        .filter(|b| {
            receipts
                .iter()
                .any(|r| r.sha256 == crate::hash::sha256_bytes(b))
        })
        .collect();
    let n = partials.len();
    (def.shards.discard)(ctx, &plan.parameters, partials);
    Ok(n)
}

/// Reads every shard's result in shard order, each checked against its
/// receipt, reduces, and writes the outputs, `result.json` and the
/// manifest into the plan's output directory (made by [`plan`]; the shards
/// of a single-shard pipeline have written their outputs there already).
pub fn reduce(
    def: &PipelineDef,
    ctx: &Ctx,
    plan_path: &Path,
    receipts: &[Receipt],
    executor: &str,
) -> Result<RunOutcome, PipelineError> {
    let plan = read_plan(def, plan_path)?;
    let mut partials = Vec::with_capacity(plan.shards.len());
    for i in 0..plan.shards.len() {
        let Some(r) = receipts.iter().find(|r| r.index == i) else {
            return Err(failed(format!(
                "shard {i} of {}: no result was reported; run the whole run again",
                plan.shards.len()
            )));
        };
        let bytes = std::fs::read(&r.path).map_err(|e| {
            failed(format!(
                "shard {i}: its result {} vanished or cannot be read ({e}); is the path shared by every machine? run the whole run again",
                r.path.display()
            ))
        })?;
        let sha = crate::hash::sha256_bytes(&bytes);
        if sha != r.sha256 || bytes.len() as u64 != r.bytes {
            return Err(failed(format!(
                "shard {i}: its result {} changed after the task wrote it ({} bytes, sha256 {sha}; the task reported {} bytes, {}); run the whole run again",
                r.path.display(),
                bytes.len(),
                r.bytes,
                r.sha256
            )));
        }
        partials.push(bytes);
    }
    let start = time::OffsetDateTime::parse(
        &plan.start_time,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| failed(format!("{}: start_time: {e}", plan_path.display())))?;
    let out_dir = std::fs::canonicalize(&plan.out_dir).map_err(|e| {
        failed(format!(
            "the run's output directory {}: {e}; is it shared by every machine?",
            plan.out_dir.display()
        ))
    })?;
    let result = (def.shards.reduce)(ctx, &plan.parameters, partials)?;
    finish_run(
        def,
        plan.parameters,
        plan.inputs,
        &out_dir,
        result,
        Finish {
            executor: executor.to_string(),
            threads: None,
            start,
        },
        ctx,
    )
}
