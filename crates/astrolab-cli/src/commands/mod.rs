//! One module per command.

pub mod anomalies;
pub mod backup;
pub mod db;
pub mod demo;
pub mod docs_reference;
pub mod fetch;
pub mod files;
pub mod hline;
pub mod ingest;
pub mod outflows;
pub mod publish;
pub mod qso;
pub mod query;
pub mod quickstart;
pub mod reproduce;
pub mod run;
pub mod serve;
pub mod shard;
pub mod spectra;
pub mod voids;
pub mod worker;

use anyhow::{Context, Result};

use crate::config::Config;

/// Opens the configured store (migrating on first use).
pub fn open_store(cfg: &Config) -> Result<astrolab_store::Store> {
    let sc = cfg.store();
    let mut store = astrolab_store::Store::open(&sc)
        .with_context(|| format!("opening the store at {}", sc.describe()))?;
    // A pipeline started by a worker for a queued run reads with its
    // submitter's rights (astrolab_store::acting); the worker sets this.
    if let Ok(raw) = std::env::var("ASTROLAB_RUN_ID") {
        let run: i64 = raw
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("ASTROLAB_RUN_ID={raw:?} is not a run id"))?;
        store
            .act_for_run(run)
            .with_context(|| format!("acting for the submitter of run {run}"))?;
    }
    Ok(store)
}
