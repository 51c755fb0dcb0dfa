//! One module per command.

pub mod db;
pub mod demo;
pub mod fetch;
pub mod files;
pub mod ingest;
pub mod query;
pub mod quickstart;
pub mod spectra;

use anyhow::{Context, Result};

use crate::config::Config;

/// Opens the configured store (migrating on first use).
pub fn open_store(cfg: &Config) -> Result<astrolab_store::Store> {
    let sc = cfg.store();
    astrolab_store::Store::open(&sc)
        .with_context(|| format!("opening the store at {}", sc.describe()))
}
