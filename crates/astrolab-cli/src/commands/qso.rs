//! `astrolab qso ...`: quasar spectral fitting (issue 20), through its
//! pipeline (`astrolab_pipeline::qso`).

use anyhow::Result;
use astrolab_pipeline::params::defs::QsoFitArgs;
use astrolab_pipeline::{qso, run_in_process};
use clap::Subcommand;

use crate::config::Config;

/// Quasar spectral-fit commands.
#[derive(Debug, Subcommand)]
pub enum QsoCommand {
    /// Fit quasar spectra as PyQSOFit does (power law, Fe II templates,
    /// Balmer continuum, Gaussian line complexes from a table) with
    /// physical constraints ([O III] wing broader than its core, behind an
    /// S/N gate), and measure line widths, luminosities, [O III] v10/v50/
    /// v90/W80, black-hole masses and [O III] outflow energetics, with
    /// Monte-Carlo errors (--mc). Without files: the store's quasars
    /// (--select); with files (spec-*.fits, coadd-*.fits, directories): the
    /// same catalog. --output .fits or .csv; --qa DIR for figures.
    Fit(Box<QsoFitArgs>),
    /// Print the built-in emission-line table (TOML, documented), the
    /// starting point of a table of your own for `qso fit --lines`.
    Lines,
}

/// Runs `astrolab qso ...`.
pub fn run(cfg: &Config, cmd: &QsoCommand) -> Result<()> {
    match cmd {
        QsoCommand::Fit(a) => {
            run_in_process(&qso::QsoFitPipeline, &crate::progress::ctx(cfg)?, a)?;
        }
        QsoCommand::Lines => print!("{}", qso::DEFAULT_LINES_TOML),
    }
    Ok(())
}
