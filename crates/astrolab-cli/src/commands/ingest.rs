//! `astrolab ingest PATH...`: the `ingest` pipeline (one transaction per
//! file; exit code 1 when any file failed).

use anyhow::Result;

use crate::cli::IngestArgs;
use crate::config::Config;

pub fn run(cfg: &Config, args: &IngestArgs) -> Result<()> {
    let ctx = crate::progress::ctx(cfg)?;
    astrolab_pipeline::run_in_process(&astrolab_pipeline::ingest::Ingest, &ctx, args)?;
    Ok(())
}
