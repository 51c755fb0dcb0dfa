//! `astrolab query cone|xmatch|sql`: the query pipelines; a cone search's
//! notes (which table it searched, why nothing was found) on stderr.

use anyhow::Result;
use astrolab_pipeline::{query, run_in_process};

use crate::cli::QueryCommand;
use crate::config::Config;

pub fn run(cfg: &Config, cmd: &QueryCommand) -> Result<()> {
    let ctx = crate::progress::ctx(cfg)?;
    match cmd {
        QueryCommand::Cone(a) => {
            let out = run_in_process(&query::Cone, &ctx, a)?;
            for note in &out.notes {
                eprintln!("note: {note}");
            }
        }
        QueryCommand::Xmatch(a) => {
            run_in_process(&query::Xmatch, &ctx, a)?;
        }
        QueryCommand::Sql(a) => {
            run_in_process(&query::Sql, &ctx, a)?;
        }
    }
    Ok(())
}
