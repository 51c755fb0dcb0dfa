//! Query results on stdout or in the `--output` file (the writers live in
//! `astrolab_pipeline::output`).

use anyhow::Result;
use astrolab_store::ResultTable;

use crate::cli::OutputArgs;

/// Writes `table` as the user asked: the `--output` file, else stdout.
pub fn emit(table: &ResultTable, out: &OutputArgs, extname: &str) -> Result<()> {
    astrolab_pipeline::output::write_to(table, out, extname, &mut std::io::stdout().lock())
}
