//! `astrolab fetch desi`: resumable, verified downloads of DESI healpix
//! files (`astrolab_pipeline::fetch`).

use anyhow::Result;

use crate::cli::FetchCommand;
use crate::config::Config;

pub fn run(cfg: &Config, cmd: &FetchCommand) -> Result<()> {
    let ctx = crate::progress::ctx(cfg)?;
    match cmd {
        FetchCommand::Desi(a) => {
            astrolab_pipeline::run_in_process(&astrolab_pipeline::fetch::FetchDesi, &ctx, a)?;
        }
    }
    Ok(())
}
