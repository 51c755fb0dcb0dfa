//! `astrolab quickstart`: the tutorial chain (`astrolab_pipeline::quickstart`).

use anyhow::Result;

pub use astrolab_pipeline::params::defs::QuickstartArgs;

use crate::config::Config;

pub fn run(cfg: &Config, args: &QuickstartArgs) -> Result<()> {
    let ctx = crate::progress::ctx(cfg)?;
    astrolab_pipeline::quickstart::run(&ctx, args)?;
    Ok(())
}
