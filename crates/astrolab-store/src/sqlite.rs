//! SQLite loading: one prepared INSERT, bound column by column, inside the
//! caller's transaction (batched inserts in one transaction are the fast
//! path for SQLite; there is no COPY).

use crate::batch::{Batch, Values};
use crate::ingest::Progress;
use crate::error::{Result, StoreError};
use std::path::Path;

/// Rows between progress reports.
pub(crate) const PROGRESS_EVERY: usize = 65_536;

/// Inserts every row of `batch` through `tx`.
pub(crate) fn load_batch(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    batch: &Batch,
    progress: &mut Progress<'_>,
) -> Result<u64> {
    let names = batch.table.column_names();
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        batch.table.name,
        names.join(", "),
        placeholders.join(", ")
    );
    let mut stmt = tx.prepare_cached(&sql).map_err(StoreError::sqlite(path))?;
    for row in 0..batch.nrows {
        for (c, values) in batch.columns.iter().enumerate() {
            let idx = c + 1;
            let r = match values {
                Values::I64(v) => stmt.raw_bind_parameter(idx, v[row]),
                Values::F64(v) => {
                    let x = v[row];
                    stmt.raw_bind_parameter(idx, if x.is_nan() { None } else { Some(x) })
                }
                Values::Text(v) => stmt.raw_bind_parameter(idx, v[row].as_deref()),
                Values::TextDict { dict, codes } => stmt.raw_bind_parameter(idx, dict[codes[row] as usize].as_str()),
                Values::Bool(v) => stmt.raw_bind_parameter(idx, v[row].map(i64::from)),
                Values::ConstI64(x) => stmt.raw_bind_parameter(idx, *x),
                Values::ConstText(s) => stmt.raw_bind_parameter(idx, s.as_str()),
                Values::Null => stmt.raw_bind_parameter(idx, rusqlite::types::Null),
            };
            r.map_err(StoreError::sqlite(path))?;
        }
        stmt.raw_execute().map_err(StoreError::sqlite(path))?;
        if (row + 1) % PROGRESS_EVERY == 0 {
            progress.rows(PROGRESS_EVERY as u64)?;
        }
    }
    progress.rows((batch.nrows % PROGRESS_EVERY) as u64)?;
    Ok(batch.nrows as u64)
}
