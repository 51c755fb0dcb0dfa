//! SQLite loading: prepared multi-row INSERTs, bound value by value, inside
//! the caller's transaction (batched inserts in one transaction are the
//! fast path for SQLite, which has no COPY; several rows per statement
//! spread the per-statement cost).

use std::path::Path;

use crate::batch::{Batch, Values};
use crate::error::{Result, StoreError};
use crate::ingest::Progress;

/// Rows between progress reports.
pub(crate) const PROGRESS_EVERY: usize = 65_536;

/// Rows per INSERT statement, at most (SQLite allows 32766 parameters).
const ROWS_PER_STATEMENT: usize = 256;
const MAX_PARAMETERS: usize = 32_766;

fn insert_sql(batch: &Batch, rows: usize) -> String {
    let names = batch.table.column_names();
    let n = names.len();
    let tuples: Vec<String> = (0..rows)
        .map(|r| {
            let ps: Vec<String> = (1..=n).map(|c| format!("?{}", r * n + c)).collect();
            format!("({})", ps.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        batch.table.name,
        names.join(", "),
        tuples.join(", ")
    )
}

fn bind_row(
    stmt: &mut rusqlite::Statement<'_>,
    batch: &Batch,
    row: usize,
    first: usize,
) -> rusqlite::Result<()> {
    for (c, values) in batch.columns.iter().enumerate() {
        let idx = first + c;
        match values {
            Values::I64(v) => stmt.raw_bind_parameter(idx, v[row]),
            Values::F64(v) => {
                let x = v[row];
                stmt.raw_bind_parameter(idx, if x.is_nan() { None } else { Some(x) })
            }
            Values::TextDict { dict, codes } => {
                stmt.raw_bind_parameter(idx, dict[codes[row] as usize].as_str())
            }
            Values::Bool(v) => stmt.raw_bind_parameter(idx, v[row].map(i64::from)),
            Values::ConstI64(x) => stmt.raw_bind_parameter(idx, *x),
            Values::ConstText(s) => stmt.raw_bind_parameter(idx, s.as_str()),
            Values::Null => stmt.raw_bind_parameter(idx, rusqlite::types::Null),
        }?;
    }
    Ok(())
}

/// Inserts every row of `batch` through `tx`.
pub(crate) fn load_batch(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    batch: &Batch,
    progress: &mut Progress<'_>,
) -> Result<u64> {
    let e = StoreError::sqlite;
    let ncol = batch.columns.len();
    let per_statement = ROWS_PER_STATEMENT.min(MAX_PARAMETERS / ncol.max(1)).max(1);
    let mut multi = tx
        .prepare_cached(&insert_sql(batch, per_statement))
        .map_err(e(path))?;
    let mut single = tx.prepare_cached(&insert_sql(batch, 1)).map_err(e(path))?;
    let mut row = 0;
    let mut since_report = 0;
    while row < batch.nrows {
        if batch.nrows - row >= per_statement {
            for r in 0..per_statement {
                bind_row(&mut multi, batch, row + r, 1 + r * ncol).map_err(e(path))?;
            }
            multi.raw_execute().map_err(e(path))?;
            row += per_statement;
            since_report += per_statement;
        } else {
            bind_row(&mut single, batch, row, 1).map_err(e(path))?;
            single.raw_execute().map_err(e(path))?;
            row += 1;
            since_report += 1;
        }
        if since_report >= PROGRESS_EVERY {
            progress.rows(since_report as u64)?;
            since_report = 0;
        }
    }
    progress.rows(since_report as u64)?;
    Ok(batch.nrows as u64)
}
