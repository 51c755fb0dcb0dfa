//! One module per command.

pub mod db;
pub mod demo;
pub mod fetch;
pub mod files;
pub mod hline;
pub mod hline_calibrate;
pub mod hline_fit;
pub mod hline_plots;
pub mod hline_process;
pub mod hline_rotation;
pub mod hline_sdr_cal;
pub mod hline_waterfall;
pub mod ingest;
pub mod query;
pub mod quickstart;
pub mod serve;
pub mod spectra;
pub mod voids;
pub mod voids_find;
pub mod worker;

use anyhow::{Context, Result};

use crate::config::Config;

/// Opens the configured store (migrating on first use).
pub fn open_store(cfg: &Config) -> Result<astrolab_store::Store> {
    let sc = cfg.store();
    astrolab_store::Store::open(&sc)
        .with_context(|| format!("opening the store at {}", sc.describe()))
}
