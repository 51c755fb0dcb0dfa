//! Bulk loads: when a file brings at least as many rows as its table holds
//! (the first load of a big catalog), the table's secondary indexes are
//! dropped, the rows loaded, and the indexes rebuilt, all inside the file's
//! transaction. Building an index once over sorted data is several times
//! faster than maintaining it row by row; if anything fails, the rollback
//! restores the indexes with everything else. Small files into big tables
//! keep the indexes (rebuilding them would cost more than it saves).
//! Rows arrive sorted by `hpx`, so rebuilding the HEALPix index is a
//! sort of sorted data (measured: rebuilding beats maintaining it).

use crate::batch::Batch;

/// Below this many rows the indexes are always kept.
const MIN_ROWS: usize = 50_000;

pub(crate) fn worth_it_sqlite(tx: &rusqlite::Transaction<'_>, b: &Batch) -> rusqlite::Result<bool> {
    if b.nrows < MIN_ROWS {
        return Ok(false);
    }
    let existing: i64 =
        tx.query_row(&format!("SELECT COUNT(*) FROM {}", b.table.name), [], |r| {
            r.get(0)
        })?;
    Ok(b.nrows as i64 >= existing)
}

/// Drops the table's indexes and returns the SQL that recreates them.
pub(crate) fn drop_indexes_sqlite(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = tx.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL ORDER BY name")?;
    let found: Vec<(String, String)> = stmt
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, _) in &found {
        tx.execute_batch(&format!("DROP INDEX \"{name}\""))?;
    }
    Ok(found.into_iter().map(|(_, sql)| sql).collect())
}

pub(crate) fn worth_it_postgres(
    tx: &mut postgres::Transaction<'_>,
    b: &Batch,
) -> Result<bool, postgres::Error> {
    if b.nrows < MIN_ROWS {
        return Ok(false);
    }
    // The planner's estimate: COUNT(*) on a big table is a full scan.
    let row = tx.query_one(
        "SELECT GREATEST(c.reltuples, 0)::float8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = $1 AND n.nspname = current_schema()",
        &[&b.table.name],
    )?;
    let existing: f64 = row.get(0);
    Ok(b.nrows as f64 >= existing)
}

/// Drops the table's indexes and returns their definitions.
pub(crate) fn drop_indexes_postgres(
    tx: &mut postgres::Transaction<'_>,
    table: &str,
) -> Result<Vec<String>, postgres::Error> {
    let rows = tx.query(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1 AND schemaname = current_schema() ORDER BY indexname",
        &[&table],
    )?;
    let mut defs = Vec::new();
    for r in rows {
        let name: String = r.get(0);
        tx.batch_execute(&format!("DROP INDEX \"{name}\""))?;
        defs.push(r.get(1));
    }
    // Index builds sort in memory when they can.
    tx.batch_execute("SET LOCAL maintenance_work_mem = '512MB'")?;
    Ok(defs)
}
