//! `astrolab voids find`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::config::Config;

/// Arguments of `voids find`.
#[derive(Debug, Args)]
pub struct FindArgs {
    /// Galaxy catalog (FITS or CSV with ra, dec, z or redshift columns).
    pub catalog: PathBuf,
}

pub fn run(_cfg: &Config, _args: &FindArgs) -> Result<()> {
    anyhow::bail!("voids find: being built")
}
