//! `astrolab shard plan|run|reduce|discard|build-id`: one run as steps that the
//! machines of a cluster execute (astrolab_pipeline::shard). The Ray
//! executor's driver and tasks call these; a person rarely does.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use astrolab_pipeline::catalog::{find, PipelineDef};
use astrolab_pipeline::shard::{self, Receipt};
use astrolab_pipeline::EventSink;
use clap::{Args, Subcommand};

use crate::commands::run::EventsFormat;
use crate::config::Config;
use crate::UsageError;

/// `astrolab shard ...`.
#[derive(Debug, Subcommand)]
pub enum ShardCommand {
    /// Print this build's identity (version, commit, profile): a plan's
    /// tasks must run the build that planned it.
    BuildId,
    /// Check parameters, hash the inputs and write the shards to a plan.
    Plan(PlanArgs),
    /// Run one shard of a plan; its result goes to PARTS_DIR under a
    /// temporary name, then renamed; prints the receipt (JSON).
    Run(ShardRunArgs),
    /// Check every shard's result against its receipt, reduce, write the
    /// outputs and the manifest into the plan's output directory.
    Reduce(ReduceArgs),
    /// After a failed run: undo what the finished shards (their receipts)
    /// left outside the output directory, e.g. rows staged in the store.
    Discard(DiscardArgs),
}

/// `astrolab shard discard`.
#[derive(Debug, Args)]
pub struct DiscardArgs {
    /// Pipeline name.
    pub pipeline: String,
    /// The plan.
    #[arg(long)]
    pub plan: PathBuf,
    /// The finished shards' receipts (a JSON list).
    #[arg(long)]
    pub receipts: PathBuf,
}

/// `astrolab shard plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Pipeline name.
    pub pipeline: String,
    /// Resolved parameters (JSON; fixed ones included).
    #[arg(long)]
    pub params: PathBuf,
    /// The run's output directory.
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Where the plan goes.
    #[arg(long)]
    pub plan: PathBuf,
    /// Events as human lines or JSON lines.
    #[arg(long, value_enum, default_value_t = EventsFormat::Human)]
    pub events: EventsFormat,
}

/// `astrolab shard run`.
#[derive(Debug, Args)]
pub struct ShardRunArgs {
    /// Pipeline name.
    pub pipeline: String,
    /// The plan.
    #[arg(long)]
    pub plan: PathBuf,
    /// Which shard (0-based).
    #[arg(long)]
    pub index: usize,
    /// Directory of the shards' results.
    #[arg(long)]
    pub parts_dir: PathBuf,
    /// Threads for the shard.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `astrolab shard reduce`.
#[derive(Debug, Args)]
pub struct ReduceArgs {
    /// Pipeline name.
    pub pipeline: String,
    /// The plan.
    #[arg(long)]
    pub plan: PathBuf,
    /// The shards' receipts (a JSON list).
    #[arg(long)]
    pub receipts: PathBuf,
    /// The executor recorded in the manifest.
    #[arg(long, default_value = "ray")]
    pub executor: String,
    /// Events as human lines or JSON lines.
    #[arg(long, value_enum, default_value_t = EventsFormat::Human)]
    pub events: EventsFormat,
}

fn def(name: &str) -> Result<PipelineDef> {
    match find(name) {
        Some(d) => Ok(d),
        None => bail!(UsageError(format!("unknown pipeline {name:?}"))),
    }
}

fn sink(f: EventsFormat) -> Arc<dyn EventSink> {
    match f {
        EventsFormat::Human => Arc::new(crate::progress::Terminal::default()),
        EventsFormat::Json => Arc::new(crate::progress::JsonLines),
    }
}

fn read_receipts(path: &std::path::Path) -> Result<Vec<Receipt>> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text)
        .with_context(|| format!("{}: not a list of receipts", path.display()))
}

/// Runs `astrolab shard ...`.
pub fn run(cfg: &Config, c: &ShardCommand) -> Result<()> {
    match c {
        ShardCommand::BuildId => println!("{}", shard::build_id()),
        ShardCommand::Plan(a) => {
            let d = def(&a.pipeline)?;
            let text = std::fs::read_to_string(&a.params)
                .with_context(|| format!("reading {}", a.params.display()))?;
            let params = serde_json::from_str(&text)
                .map_err(|e| UsageError(format!("{}: not JSON: {e}", a.params.display())))?;
            let ctx = crate::progress::ctx_with(cfg, sink(a.events))?;
            let plan = shard::plan(&d, &ctx, &params, &a.out_dir, &a.plan)?;
            ctx.info(format!(
                "{}: {} shards planned in {}",
                d.name,
                plan.shards.len(),
                a.plan.display()
            ));
        }
        ShardCommand::Run(a) => {
            let d = def(&a.pipeline)?;
            // The shard's own log goes to stderr; stdout carries the receipt.
            let mut ctx = crate::progress::ctx_with(cfg, Arc::new(crate::progress::Stderr))?;
            ctx.threads = a.threads;
            let r = shard::run_shard(&d, &ctx, &a.plan, a.index, &a.parts_dir)?;
            println!("{}", serde_json::to_string(&r)?);
        }
        ShardCommand::Discard(a) => {
            let d = def(&a.pipeline)?;
            let receipts = read_receipts(&a.receipts)?;
            let ctx = crate::progress::ctx_with(cfg, Arc::new(crate::progress::Stderr))?;
            let n = shard::discard(&d, &ctx, &a.plan, &receipts)?;
            ctx.info(format!(
                "{}: discarded what {n} finished shards left",
                d.name
            ));
        }
        ShardCommand::Reduce(a) => {
            let d = def(&a.pipeline)?;
            let receipts = read_receipts(&a.receipts)?;
            let ctx = crate::progress::ctx_with(cfg, sink(a.events))?;
            let out = shard::reduce(&d, &ctx, &a.plan, &receipts, &a.executor)?;
            if a.events == EventsFormat::Human {
                eprintln!("manifest: {}", out.manifest_path.display());
            }
        }
    }
    Ok(())
}
