//! `query-cone`: rows of a sky table within a radius of a position,
//! nearest first.

use std::path::PathBuf;

use astrolab_store::{ConeQuery, Store};
use serde::{Deserialize, Serialize};

use crate::context::Ctx;
use crate::error::PipelineError;
use crate::output::{emit, emit_json};
use crate::params::defs::{ConeArgs, OutputFormat};
use crate::pipeline::SinglePipeline;

/// The `query-cone` pipeline (one shard: one indexed query).
#[derive(Debug, Default, Clone, Copy)]
pub struct Cone;

/// What a cone search gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConeOutput {
    /// The table searched.
    pub table: String,
    /// Rows found.
    pub rows: usize,
    /// The file written, when `--output` named one.
    pub output: Option<PathBuf>,
    /// Nothing was ever loaded into the table searched.
    pub table_empty: bool,
    /// Remarks for the user (which table was searched without `--table`,
    /// why nothing was found); the CLI prints each as `note: ...` on
    /// stderr.
    pub notes: Vec<String>,
}

impl SinglePipeline for Cone {
    type Params = ConeArgs;
    type Output = ConeOutput;

    fn run(&self, ctx: &Ctx, a: &ConeArgs) -> Result<ConeOutput, PipelineError> {
        let mut store = ctx.open_store()?;
        let mut notes = Vec::new();
        let (table, t) = cone_table(&mut store, a, &mut notes)?;
        let mut out = ConeOutput {
            table: table.clone(),
            rows: t.rows.len(),
            output: a.out.output.clone(),
            table_empty: false,
            notes,
        };
        if t.rows.is_empty() && !store.table_has_rows(&table).map_err(anyhow::Error::from)? {
            // Zero rows because nothing was ever loaded here, not because
            // nothing is near: say so, and where the rows are.
            let with_rows = store.sky_tables_with_rows().map_err(anyhow::Error::from)?;
            let note = empty_table_note(&table, &with_rows);
            out.table_empty = true;
            out.notes.push(note.clone());
            if a.out.format == OutputFormat::Json {
                let v = serde_json::json!({
                    "rows": [],
                    "table": table,
                    "table_empty": true,
                    "tables_with_rows": with_rows,
                    "note": note,
                });
                emit_json(ctx, &v, &a.out)?;
                return Ok(out);
            }
        }
        emit(ctx, &t, &a.out, "CONE")?;
        Ok(out)
    }
}

/// The rows of a cone search (what `query cone` prints and the Python
/// package returns): the table searched (`--table`, else
/// [`default_cone_table`], noted in `notes`) and its rows, nearest first.
pub fn cone_table(
    store: &mut Store,
    a: &ConeArgs,
    notes: &mut Vec<String>,
) -> Result<(String, astrolab_store::ResultTable), PipelineError> {
    let table = match &a.table {
        Some(t) => t.clone(),
        None => default_cone_table(store, notes)?,
    };
    let q = ConeQuery {
        table: table.clone(),
        ra_deg: a.ra,
        dec_deg: a.dec,
        radius_deg: super::angle(&a.radius, "--radius")?,
        filter: a.filter.clone(),
        limit: a.limit,
        exclude_file_ids: Vec::new(),
    };
    let t = store.cone(&q).map_err(anyhow::Error::from)?;
    Ok((table, t))
}

/// The table a cone search without --table searches: zcatalog, unless it
/// is empty and exactly one other sky table holds rows (a newcomer who
/// ingested a galaxy list into `galaxies` and searches without --table).
/// The switch is noted in `notes`.
fn default_cone_table(store: &mut Store, notes: &mut Vec<String>) -> anyhow::Result<String> {
    const DEFAULT: &str = "zcatalog";
    if store.table_has_rows(DEFAULT)? {
        return Ok(DEFAULT.to_string());
    }
    match store.sky_tables_with_rows()?.as_slice() {
        [only] => {
            notes.push(format!(
                "{DEFAULT} (the default table) is empty; searching {only}, the only sky \
                 table with rows (give --table to choose)"
            ));
            Ok(only.to_string())
        }
        _ => Ok(DEFAULT.to_string()),
    }
}

/// What to tell someone whose cone search found nothing in an empty table.
fn empty_table_note(table: &str, with_rows: &[&str]) -> String {
    if with_rows.is_empty() {
        format!(
            "table {table} is empty, as is every sky table: load a catalog first \
             (astrolab ingest FILE, or astrolab quickstart for demo data)"
        )
    } else {
        format!(
            "table {table} is empty (nothing was ingested into it); sky tables with rows: {}; \
             search one with --table NAME",
            with_rows.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_table_note_names_the_tables_that_hold_rows() {
        assert_eq!(
            empty_table_note("zcatalog", &["galaxies", "fastspec"]),
            "table zcatalog is empty (nothing was ingested into it); sky tables with rows: \
             galaxies, fastspec; search one with --table NAME"
        );
        assert_eq!(
            empty_table_note("galaxies", &[]),
            "table galaxies is empty, as is every sky table: load a catalog first \
             (astrolab ingest FILE, or astrolab quickstart for demo data)"
        );
    }
}
