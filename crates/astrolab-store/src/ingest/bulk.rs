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

/// SQLite page cache (KiB) while a bulk load inserts rows and rebuilds
/// indexes. Measured on the 5 M-row bench file (`bench/ingest.sh`): with
/// the connection's 400 MB cache the TARGETID index took 5.6 s and the
/// insert 4.9 s; with 8 MiB, 1.8 s and 3.8 s. SQLite's sorter sizes its
/// in-memory runs from the cache size: 8 MiB runs sort inside the CPU
/// cache and are sorted by the sorter's worker threads (`PRAGMA threads`)
/// while the next run fills, then merged; one 400 MB run sorts in one
/// thread with a cache miss per comparison of random keys. For the insert,
/// a small cache streams the appended pages to the OS as they fill instead
/// of holding 400 MB of fresh memory dirty until the commit.
pub(crate) const BULK_CACHE_KIB: i64 = 8 * 1024;

/// Holds a connection's page cache at a given size and puts the previous
/// `cache_size` back when dropped, on success and on every error path (the
/// pragma belongs to the connection, so a rollback does not undo it).
pub(crate) struct CacheSize<'c> {
    conn: &'c rusqlite::Connection,
    before: i64,
}

impl<'c> CacheSize<'c> {
    pub(crate) fn set(conn: &'c rusqlite::Connection, kib: i64) -> rusqlite::Result<Self> {
        let before: i64 = conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
        conn.execute_batch(&format!("PRAGMA cache_size=-{kib}"))?;
        Ok(CacheSize { conn, before })
    }
}

impl Drop for CacheSize<'_> {
    fn drop(&mut self) {
        if let Err(err) = self
            .conn
            .execute_batch(&format!("PRAGMA cache_size={}", self.before))
        {
            tracing::warn!(error = %err, "could not restore the SQLite cache size");
        }
    }
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
