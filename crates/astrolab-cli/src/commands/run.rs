//! `astrolab run PIPELINE --params FILE.json --out-dir DIR`: a pipeline of
//! the catalog (`astrolab_pipeline::catalog`) from JSON parameters, checked
//! through the same typed declaration as the CLI flags and the server's
//! queue, its outputs in DIR, and a provenance manifest
//! (`DIR/ro-crate-metadata.json`, RO-Crate Process Run Crate) listing the
//! resolved parameters, every input and output with its SHA-256, the
//! software and the host.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use astrolab_pipeline::catalog::{find, pipelines, PipelineDef};
use astrolab_pipeline::executor::{Executor, InProcess, Subprocess};
use astrolab_pipeline::{Ctx, EventSink, PipelineError};
use clap::Args;
use serde_json::Value;

use crate::config::Config;
use crate::UsageError;

/// Arguments of `astrolab run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Pipeline name (`astrolab run --list` names them): query-cone,
    /// voids-find, hline-process, ...
    #[arg(required_unless_present = "list")]
    pub pipeline: Option<String>,
    /// JSON file with the parameters (an object; the names of the
    /// pipeline's flags with `_` for `-`), or `-` for standard input.
    #[arg(long, required_unless_present = "list")]
    pub params: Option<PathBuf>,
    /// Directory for the outputs and the manifest (created; must be empty
    /// or new).
    #[arg(long, required_unless_present = "list")]
    pub out_dir: Option<PathBuf>,
    /// List the pipelines and their parameters as JSON.
    #[arg(long)]
    pub list: bool,
    /// Where the run's events go: `human` (log lines on stdout, progress
    /// bars on a terminal) or `json` (one typed event per line on stdout:
    /// progress, log, and the result last; what the subprocess executor
    /// and the server's workers read).
    #[arg(long, value_enum, default_value_t = EventsFormat::Human)]
    pub events: EventsFormat,
    /// Worker threads (default: every core). Outputs are the same bytes
    /// whatever the count.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where the run executes: in this process (default) or in a child
    /// `astrolab run` process.
    #[arg(long, value_enum, default_value_t = ExecutorKind::InProcess)]
    pub executor: ExecutorKind,
    /// The Ray cluster for `--executor ray`.
    #[command(flatten)]
    pub ray: RayArgs,
}

/// Where and how `--executor ray` runs (astrolab_pipeline::ray).
#[derive(Debug, Clone, Args)]
pub struct RayArgs {
    /// The Ray head's dashboard (Job Submission API), e.g.
    /// http://HEAD:8265.
    #[arg(long, env = "ASTROLAB_RAY_ADDRESS")]
    pub ray_address: Option<String>,
    /// The astrolab binary on the cluster's machines (default: this one's
    /// path, which must then exist on every machine).
    #[arg(long, env = "ASTROLAB_RAY_PROGRAM")]
    pub ray_program: Option<PathBuf>,
    /// The Python with `ray` on the head (runs the job's driver).
    #[arg(long, env = "ASTROLAB_RAY_PYTHON", default_value = "python3")]
    pub ray_python: String,
    /// CPUs each shard task asks for.
    #[arg(long, default_value_t = 1)]
    pub ray_cpus_per_shard: u32,
    /// GPUs each shard task asks for.
    #[arg(long, default_value_t = 0.0)]
    pub ray_gpus_per_shard: f64,
    /// Retries of a failed shard task.
    #[arg(long, default_value_t = 3)]
    pub ray_max_retries: u32,
}

impl RayArgs {
    /// The Ray executor these flags describe.
    pub fn executor(&self) -> std::result::Result<astrolab_pipeline::ray::Ray, PipelineError> {
        let Some(addr) = &self.ray_address else {
            return Err(PipelineError::Failed(anyhow::Error::new(UsageError(
                "--executor ray needs --ray-address http://HEAD:8265 (or ASTROLAB_RAY_ADDRESS)"
                    .into(),
            ))));
        };
        let program = match &self.ray_program {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .map_err(|e| PipelineError::Executor(format!("finding astrolab: {e}")))?,
        };
        let mut r = astrolab_pipeline::ray::Ray::new(addr.clone(), program);
        r.python = self.ray_python.clone();
        r.cpus_per_shard = self.ray_cpus_per_shard.max(1);
        r.gpus_per_shard = self.ray_gpus_per_shard;
        r.max_retries = self.ray_max_retries;
        Ok(r)
    }
}

/// `--events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventsFormat {
    /// For a person at a terminal.
    Human,
    /// JSON lines for a program.
    Json,
}

/// `--executor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorKind {
    /// Threads of this process.
    InProcess,
    /// A child `astrolab run` process.
    Subprocess,
    /// A Ray job on a cluster (--ray-address): one task per shard.
    Ray,
}

/// Runs `astrolab run`.
pub fn run(cfg: &Config, a: &RunArgs) -> Result<()> {
    if a.list {
        let list: Vec<Value> = pipelines()
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name, "summary": p.summary, "command": p.command(),
                    "params": p.public_specs(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let (Some(name), Some(params_path), Some(out_dir)) = (&a.pipeline, &a.params, &a.out_dir)
    else {
        bail!(UsageError("give PIPELINE, --params and --out-dir".into()));
    };
    let Some(def) = find(name) else {
        let names: Vec<&str> = pipelines().iter().map(|p| p.name).collect();
        bail!(UsageError(format!(
            "unknown pipeline {name:?}; choose one of {}",
            names.join(", ")
        )));
    };
    let text = if params_path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(params_path)
            .with_context(|| format!("reading {}", params_path.display()))?
    };
    let params: Value = serde_json::from_str(&text)
        .map_err(|e| UsageError(format!("{}: not JSON: {e}", params_path.display())))?;
    let sink: Arc<dyn EventSink> = match a.events {
        EventsFormat::Human => Arc::new(crate::progress::Terminal::default()),
        EventsFormat::Json => Arc::new(crate::progress::JsonLines),
    };
    let mut ctx = crate::progress::ctx_with(cfg, sink)?;
    ctx.threads = a.threads;
    let outcome = match a.executor {
        ExecutorKind::Ray => a
            .ray
            .executor()
            .and_then(|r| r.execute(&def, &params, out_dir, &ctx)),
        k => execute(k, &def, &params, out_dir, &ctx),
    }
    .map_err(anyhow::Error::from)?;
    if a.events == EventsFormat::Human {
        eprintln!("manifest: {}", outcome.manifest_path.display());
    }
    Ok(())
}

/// Runs `def` through the chosen executor (shared with `astrolab
/// reproduce`).
pub fn execute(
    kind: ExecutorKind,
    def: &PipelineDef,
    params: &Value,
    out_dir: &std::path::Path,
    ctx: &Ctx,
) -> std::result::Result<astrolab_pipeline::RunOutcome, PipelineError> {
    match kind {
        ExecutorKind::Subprocess => {
            let exe = std::env::current_exe()
                .map_err(|e| PipelineError::Executor(format!("finding astrolab: {e}")))?;
            Subprocess::new(exe).execute(def, params, out_dir, ctx)
        }
        ExecutorKind::Ray => Err(PipelineError::Failed(anyhow::Error::new(UsageError(
            "reproduce a run with the in-process or subprocess executor (the outputs are the same bytes)"
                .into(),
        )))),
        ExecutorKind::InProcess => {
            let label = std::env::var("ASTROLAB_EXECUTOR")
                .ok()
                .filter(|v| v == "subprocess");
            InProcess { label }.execute(def, params, out_dir, ctx)
        }
    }
}
