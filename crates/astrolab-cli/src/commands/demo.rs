//! `astrolab demo-data DIR`: the `demo-data` pipeline.

use anyhow::Result;

use crate::cli::DemoDataArgs;
use crate::config::Config;

pub fn run(cfg: &Config, args: &DemoDataArgs) -> Result<()> {
    let ctx = crate::progress::ctx(cfg)?;
    astrolab_pipeline::run_in_process(&astrolab_pipeline::demo::DemoData, &ctx, args)?;
    Ok(())
}
