//! `outflows cloudy-grid`: the decks of a Cloudy grid, and the models run
//! when a Cloudy binary is given (one shard per model).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use astrolab_qso::cloudy::deck::{GridAxis, GridSpec, ModelDeck};
use serde::{Deserialize, Serialize};

use crate::context::Ctx;
use crate::error::{PipelineError, UsageError};
use crate::params::defs::CloudyGridArgs;
use crate::pipeline::Pipeline;

/// The `outflows-cloudy-grid` pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct CloudyGrid;

/// One model of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelShard {
    /// log10 U.
    pub log_u: f64,
    /// log10 N_H (cm^-2).
    pub log_nh_cm2: f64,
}

/// What one model gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelOutcome {
    /// The file stem (`STEM.in`, and Cloudy's `STEM.out`).
    pub stem: String,
    /// Whether Cloudy ran it (a binary was given).
    pub ran: bool,
}

/// What the grid run made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudyGridOutput {
    /// Decks written (one per model).
    pub decks: usize,
    /// Models Cloudy ran (0 without a binary).
    pub ran: usize,
    /// The `vary`/`grid` deck's stem, when written.
    pub vary_deck: Option<String>,
    /// The directory.
    pub out: PathBuf,
}

fn usage(msg: String) -> PipelineError {
    PipelineError::Failed(anyhow::Error::new(UsageError(msg)))
}

fn spec(a: &CloudyGridArgs) -> Result<GridSpec, PipelineError> {
    if !(a.step.is_finite() && a.step > 0.0) {
        return Err(usage(format!("--step {}: must be > 0 dex", a.step)));
    }
    if a.log_u_max < a.log_u_min || a.log_nh_max < a.log_nh_min {
        return Err(usage(format!(
            "the grid's ranges are empty: log U {}..{}, log N_H {}..{}",
            a.log_u_min, a.log_u_max, a.log_nh_min, a.log_nh_max
        )));
    }
    let mut g = GridSpec::issue19(a.log_hden, a.step);
    g.log_u = GridAxis {
        lo: a.log_u_min,
        hi: a.log_u_max,
        step: a.step,
    };
    g.log_nh_cm2 = GridAxis {
        lo: a.log_nh_min,
        hi: a.log_nh_max,
        step: a.step,
    };
    Ok(g)
}

/// Runs Cloudy on `STEM.in` in `dir` and checks its `.out`.
fn run_cloudy(exe: &Path, dir: &Path, args: &[String; 2], stem: &str) -> anyhow::Result<()> {
    let out = std::process::Command::new(exe)
        .args(args)
        .current_dir(dir)
        .output()
        .with_context(|| format!("starting Cloudy ({})", exe.display()))?;
    let out_file = dir.join(format!("{stem}.out"));
    if !out.status.success() {
        return Err(anyhow!(
            "Cloudy exited with {} on {stem}.in; see {}",
            out.status,
            out_file.display()
        ));
    }
    let text = std::fs::read_to_string(&out_file)
        .with_context(|| format!("Cloudy wrote no {}", out_file.display()))?;
    let parsed = astrolab_qso::cloudy::parse::parse_out(&text, &out_file.display().to_string())?;
    if !parsed.ended_normally() {
        return Err(anyhow!(
            "{}: Cloudy did not end normally (see its last lines)",
            out_file.display()
        ));
    }
    Ok(())
}

impl Pipeline for CloudyGrid {
    type Params = CloudyGridArgs;
    type Shard = ModelShard;
    type Partial = ModelOutcome;
    type Output = CloudyGridOutput;

    fn plan(&self, _: &Ctx, a: &CloudyGridArgs) -> Result<Vec<ModelShard>, PipelineError> {
        let g = spec(a)?;
        std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
        // log U varying slowest: the order of Cloudy's own grid.
        let mut shards = Vec::new();
        for log_u in g.log_u.values() {
            for log_nh_cm2 in g.log_nh_cm2.values() {
                shards.push(ModelShard { log_u, log_nh_cm2 });
            }
        }
        Ok(shards)
    }

    fn run_shard(
        &self,
        _: &Ctx,
        a: &CloudyGridArgs,
        s: &ModelShard,
    ) -> Result<ModelOutcome, PipelineError> {
        let deck = ModelDeck::new(a.log_hden, s.log_u, s.log_nh_cm2).named();
        let path = a.out.join(format!("{}.in", deck.stem));
        crate::output::write_file(&path, deck.text.as_bytes())?;
        let ran = match &a.cloudy_exe {
            Some(exe) => {
                run_cloudy(exe, &a.out, &deck.cloudy_args(), &deck.stem)?;
                true
            }
            None => false,
        };
        Ok(ModelOutcome {
            stem: deck.stem,
            ran,
        })
    }

    fn reduce(
        &self,
        ctx: &Ctx,
        a: &CloudyGridArgs,
        partials: Vec<ModelOutcome>,
    ) -> Result<CloudyGridOutput, PipelineError> {
        let vary_deck = if a.vary {
            let d = spec(a)?.vary_deck();
            crate::output::write_file(&a.out.join(format!("{}.in", d.stem)), d.text.as_bytes())?;
            Some(d.stem)
        } else {
            None
        };
        let ran = partials.iter().filter(|p| p.ran).count();
        ctx.info(format!(
            "{} Cloudy decks in {} (log n_H {}, log U {}..{}, log N_H {}..{}, step {} dex){}{}",
            partials.len(),
            a.out.display(),
            a.log_hden,
            a.log_u_min,
            a.log_u_max,
            a.log_nh_min,
            a.log_nh_max,
            a.step,
            match &vary_deck {
                Some(s) => format!("; the vary/grid deck {s}.in"),
                None => String::new(),
            },
            if ran > 0 {
                format!("; {ran} models run with Cloudy")
            } else {
                "; no Cloudy binary given (--cloudy-exe or CLOUDY_EXE): run them elsewhere, then `astrolab outflows cloudy-solve --grid DIR`".to_string()
            }
        ));
        Ok(CloudyGridOutput {
            decks: partials.len(),
            ran,
            vary_deck,
            out: a.out.clone(),
        })
    }
}
