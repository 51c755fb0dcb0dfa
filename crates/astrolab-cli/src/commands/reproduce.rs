//! `astrolab reproduce MANIFEST` and `astrolab runs show ID`: a run's
//! provenance manifest read back, and the run re-executed and compared
//! byte for byte (volatile fields excluded).
//!
//! Decisions:
//! * A run is reproduced against the configured store, as it ran. A
//!   pipeline that loads into the store (ingest, voids classify, hline
//!   process) loads again: reproduce it with `--home` on a fresh data home
//!   (the same inputs are then loaded from scratch), or the store's
//!   duplicate checks will answer differently from the first time.
//! * The re-run goes to `--out-dir` (default: a new directory beside the
//!   system's temporary files, removed when the outputs match and kept,
//!   and named, when they differ).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use astrolab_pipeline::catalog::find;
use astrolab_pipeline::executor::submitted_part;
use astrolab_pipeline::manifest::{read_manifest, to_ro_crate, RunManifest, METADATA_FILE};
use astrolab_pipeline::reproduce::{check_inputs, compare_outputs, ReproduceError};
use clap::{Args, Subcommand};

use super::run::ExecutorKind;
use crate::config::Config;
use crate::UsageError;

/// Arguments of `astrolab reproduce`.
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// The run's manifest (`ro-crate-metadata.json`) or the directory
    /// holding it.
    pub manifest: PathBuf,
    /// Worker threads for the re-run (the outputs must not depend on it).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where the re-run writes (new or empty); kept.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Executor of the re-run.
    #[arg(long, value_enum, default_value_t = ExecutorKind::InProcess)]
    pub executor: ExecutorKind,
}

/// `astrolab runs ...`.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// A run's provenance: pipeline, parameters, inputs and outputs with
    /// SHA-256, software, host, times. ID is a queued run's number (its
    /// directory is HOME/runs/ID) or a run directory or manifest path.
    Show {
        /// Run number, run directory or manifest file.
        id: String,
        /// Print the RO-Crate JSON-LD itself.
        #[arg(long)]
        json: bool,
    },
}

/// The manifest file for `p` (a file, or a directory holding one).
fn manifest_file(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join(METADATA_FILE)
    } else {
        p.to_path_buf()
    }
}

fn load(p: &Path) -> Result<RunManifest> {
    let file = manifest_file(p);
    if !file.exists() {
        bail!(UsageError(format!(
            "{}: no run manifest here (runs write {METADATA_FILE} beside their outputs)",
            file.display()
        )));
    }
    read_manifest(&file).with_context(|| format!("reading {}", file.display()))
}

/// `astrolab runs show`.
pub fn runs(cfg: &Config, cmd: &RunsCommand) -> Result<()> {
    let RunsCommand::Show { id, json } = cmd;
    let path = match id.parse::<i64>() {
        Ok(n) => cfg.home.join("runs").join(n.to_string()),
        Err(_) => PathBuf::from(id),
    };
    let m = load(&path)?;
    if *json {
        println!("{}", serde_json::to_string_pretty(&to_ro_crate(&m)?)?);
        return Ok(());
    }
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    println!("pipeline    {}", m.pipeline);
    if let Some(r) = m.run_id {
        println!("run         {r}");
    }
    println!(
        "software    {} {} ({}, {}, commit {})",
        m.software.name,
        m.software.version,
        m.software.profile,
        m.software.target,
        m.software.git_commit.as_deref().unwrap_or("unknown")
    );
    println!(
        "executor    {}{}",
        m.executor,
        m.threads
            .map(|t| format!(", {t} threads"))
            .unwrap_or_default()
    );
    println!("host        {}", m.host);
    println!("started     {}", fmt(m.start_time));
    println!(
        "ended       {} ({:.3} s)",
        fmt(m.end_time),
        (m.end_time - m.start_time).as_seconds_f64()
    );
    println!(
        "parameters  {}",
        serde_json::to_string(&m.parameters).unwrap_or_default()
    );
    println!("inputs      {}", m.inputs.len());
    for f in &m.inputs {
        println!("  {}  {:>12}  {}", f.sha256, f.size_bytes, f.path.display());
    }
    println!("outputs     {}", m.outputs.len());
    for f in &m.outputs {
        let v = if f.volatile.is_empty() {
            String::new()
        } else {
            format!("  (volatile: {})", serde_json::to_string(&f.volatile)?)
        };
        println!(
            "  {}  {:>12}  {}{v}",
            f.sha256,
            f.size_bytes,
            f.path.display()
        );
    }
    Ok(())
}

/// `astrolab reproduce`.
pub fn reproduce(cfg: &Config, a: &ReproduceArgs) -> Result<()> {
    let file = manifest_file(&a.manifest);
    let m = load(&a.manifest)?;
    let run_dir = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let Some(def) = find(&m.pipeline) else {
        bail!(UsageError(format!(
            "{}: pipeline {:?} is not one this build knows",
            file.display(),
            m.pipeline
        )));
    };
    match check_inputs(&m) {
        Ok(()) => {}
        Err(e @ ReproduceError::InputChanged { .. })
        | Err(e @ ReproduceError::InputUnreadable { .. }) => {
            bail!("refused: {e}; the run cannot be reproduced from these inputs")
        }
        Err(e) => return Err(e.into()),
    }
    let (new_dir, temporary) = match &a.out_dir {
        Some(d) => (d.clone(), false),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let d = std::env::temp_dir().join(format!(
                "astrolab-reproduce-{}-{}-{nanos}",
                m.pipeline,
                std::process::id()
            ));
            (d, true)
        }
    };
    let params = submitted_part(&def, &m.parameters);
    let mut ctx = crate::progress::ctx_with(cfg, Arc::new(astrolab_pipeline::context::Discard))?;
    ctx.threads = a.threads;
    let outcome = super::run::execute(a.executor, &def, &params, &new_dir, &ctx)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("re-running {} into {}", m.pipeline, new_dir.display()))?;
    match compare_outputs(&m, &run_dir, &new_dir) {
        Ok(()) => {
            println!(
                "reproduced: {} outputs of {} identical{} ({} threads, {})",
                m.outputs.len(),
                m.pipeline,
                if m.outputs.iter().any(|o| !o.volatile.is_empty()) {
                    " (volatile fields excluded)"
                } else {
                    ""
                },
                a.threads
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "all".into()),
                outcome.manifest.executor
            );
            if temporary {
                let _ = std::fs::remove_dir_all(&new_dir);
            }
            Ok(())
        }
        Err(e) => bail!(
            "not reproduced: {e} (the re-run's outputs are kept in {})",
            new_dir.display()
        ),
    }
}
