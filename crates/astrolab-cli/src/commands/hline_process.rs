//! `astrolab hline process`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::config::Config;

/// Arguments of `hline process`.
#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// Recordings (.sigmf-meta/.sigmf-data or raw rtl_sdr I/Q).
    pub recordings: Vec<PathBuf>,
}

pub fn run(_cfg: &Config, _args: &ProcessArgs) -> Result<()> {
    anyhow::bail!("hline process: being built")
}
