//! `astrolab spectra build|get|index-lab|hot|files`: the spectral store
//! (issue 3), through `astrolab_pipeline::spectra`.

use anyhow::Result;
use astrolab_pipeline::spectra;

use crate::cli::{SpectraCommand, SpectraGetArgs};
use crate::config::Config;

pub fn run(cfg: &Config, cmd: &SpectraCommand) -> Result<()> {
    let ctx = crate::progress::ctx(cfg)?;
    match cmd {
        SpectraCommand::Build(a) => {
            astrolab_pipeline::run_in_process(&spectra::Build, &ctx, a)?;
        }
        SpectraCommand::Get(a) => get(&ctx, a)?,
        SpectraCommand::IndexLab { dir } => {
            spectra::index_lab(&ctx, &mut ctx.open_store()?, dir)?;
        }
        SpectraCommand::Hot => {
            spectra::write_hot_copies(&ctx, &mut ctx.open_store()?)?;
        }
        SpectraCommand::Files { out } => {
            let files = ctx.open_store()?.spectra_files()?;
            crate::output::emit(&spectra::spectra_files_table(files), out, "SPECTRA_FILES")?;
        }
    }
    Ok(())
}

fn get(ctx: &astrolab_pipeline::Ctx, a: &SpectraGetArgs) -> Result<()> {
    let fetched = spectra::get(&mut ctx.open_store()?, &a.target_ids)?;
    // The first TARGETID given (the table comes back in the index's order).
    let first = a
        .target_ids
        .first()
        .and_then(|t| fetched.iter().find(|f| f.target_id == *t))
        .or(fetched.first());
    if let (Some(plot), Some(first)) = (&a.plot, first) {
        if a.rest_frame && !first.z.is_finite() {
            eprintln!(
                "warning: TARGETID {} has no redshift in the store: plotted in the observed frame",
                first.target_id
            );
        }
        crate::plot::write_plot(&spectra::spectrum_plot(first, a.rest_frame), plot)?;
        eprintln!("plot written to {}", plot.display());
    }
    crate::output::emit(&spectra::read::spectra_table(&fetched), &a.out, "SPECTRUM")
}
