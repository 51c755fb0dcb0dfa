//! `demo-data`: a synthetic DESI sky (catalogs, void catalogs, spectra,
//! truth tables) in the genuine file formats, written by `astrolab-demo`.

use std::path::PathBuf;

use anyhow::Context;
use astrolab_demo::{generate_sky, DemoConfig, SpectraConfig};
use serde::{Deserialize, Serialize};

use crate::context::Ctx;
use crate::error::PipelineError;
use crate::params::defs::DemoDataArgs;
use crate::pipeline::SinglePipeline;

/// The `demo-data` pipeline (one shard: the sky is drawn as a whole).
#[derive(Debug, Default, Clone, Copy)]
pub struct DemoData;

/// One file the demo sky wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemoFileOut {
    /// Where it is.
    pub path: PathBuf,
    /// What it holds (`zcatalog`, `coadd`, `truth-json`, ...).
    pub kind: String,
    /// Rows of its main table.
    pub rows: usize,
}

/// What `demo-data` wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemoDataOutput {
    /// Every file, in the order written.
    pub files: Vec<DemoFileOut>,
    /// Galaxies drawn.
    pub n_galaxies: usize,
    /// Voids planted.
    pub n_planted_voids: usize,
    /// The truth table.
    pub truth_path: PathBuf,
}

impl SinglePipeline for DemoData {
    type Params = DemoDataArgs;
    type Output = DemoDataOutput;

    fn run(&self, ctx: &Ctx, args: &DemoDataArgs) -> Result<DemoDataOutput, PipelineError> {
        let rarity_fraction = args.rarity_fraction.unwrap_or(0.015);
        let cfg = match args.anomaly_benchmark {
            Some(_) if args.no_spectra => {
                return Err(PipelineError::Failed(anyhow::Error::new(
                    crate::error::UsageError(
                        "--anomaly-benchmark writes spectra: drop --no-spectra".into(),
                    ),
                )))
            }
            Some(_) if !(rarity_fraction > 0.0 && rarity_fraction <= 0.5) => {
                return Err(PipelineError::Failed(anyhow::Error::new(
                    crate::error::UsageError(format!(
                        "--rarity-fraction {rarity_fraction} is outside (0, 0.5]: rarities are rare"
                    )),
                )))
            }
            Some(n) => {
                let mut cfg = DemoConfig::anomaly_benchmark(n, rarity_fraction, args.seed);
                cfg.spectra.templates_dir = templates_dir(args.templates.clone());
                if cfg.spectra.templates_dir.is_none() {
                    ctx.warn("no redrock QSO templates found (--templates DIR): the benchmark quasars fall back to a power-law model");
                }
                cfg
            }
            None => DemoConfig {
                seed: args.seed,
                n_galaxies: args.galaxies,
                spectra: spectra_config(!args.no_spectra, args.templates.clone()),
                ..DemoConfig::default()
            },
        };
        let summary = generate_sky(&args.dir, &cfg)
            .with_context(|| format!("writing demo data to {}", args.dir.display()))?;
        for f in &summary.files {
            ctx.info(format!(
                "wrote {} ({}, {} rows)",
                f.path.display(),
                f.kind,
                f.rows
            ));
        }
        ctx.info(format!(
            "{} galaxies around {} planted voids; truth table: {}",
            summary.n_galaxies,
            summary.n_planted_voids,
            summary.truth_path.display()
        ));
        Ok(DemoDataOutput {
            files: summary
                .files
                .iter()
                .map(|f| DemoFileOut {
                    path: f.path.clone(),
                    kind: f.kind.to_string(),
                    rows: f.rows,
                })
                .collect(),
            n_galaxies: summary.n_galaxies,
            n_planted_voids: summary.n_planted_voids,
            truth_path: summary.truth_path,
        })
    }
}

/// The QSO templates directory: the flag, else the shared data's
/// `templates/` when it exists.
pub fn templates_dir(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| {
        let shared = std::env::var_os("ASTROLAB_SHARED_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("../shared/data"));
        let t = shared.join("templates");
        t.join("rrtemplate-QSO-LOZ-v1.1.fits").exists().then_some(t)
    })
}

/// Spectra settings for the demo sky.
pub fn spectra_config(enabled: bool, templates: Option<PathBuf>) -> SpectraConfig {
    SpectraConfig {
        enabled,
        templates_dir: templates_dir(templates),
        ..SpectraConfig::default()
    }
}
