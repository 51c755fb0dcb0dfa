//! A consistent copy of the embedded database while it is in use, by
//! SQLite's online backup API (<https://www.sqlite.org/backup.html>): pages
//! are copied in steps, and a write by another connection restarts the
//! copy, so the result is one committed state, never a torn file (copying
//! `astrolab.db` with `cp` while a run writes can be).

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rusqlite::{Connection, OpenFlags};

/// Copies the database at `src` to `dst` (a new file) and checks the copy
/// (`PRAGMA quick_check`). Returns the copy's highest applied migration.
pub fn snapshot(src: &Path, dst: &Path) -> Result<i64> {
    if !src.exists() {
        bail!(
            "{}: no database here; is --home the data home to back up?",
            src.display()
        );
    }
    let from = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", src.display()))?;
    let mut to = Connection::open(dst).with_context(|| format!("creating {}", dst.display()))?;
    {
        let b = rusqlite::backup::Backup::new(&from, &mut to)
            .with_context(|| format!("starting the online backup of {}", src.display()))?;
        // 4096 pages a step, no pause: writers wait at most one step.
        b.run_to_completion(4096, Duration::ZERO, None)
            .with_context(|| {
                format!(
                    "copying {} to {} (is the disk full?)",
                    src.display(),
                    dst.display()
                )
            })?;
    }
    let check: String = to.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        bail!(
            "the copy of {} fails SQLite's quick_check: {check}",
            src.display()
        );
    }
    schema_version(&to)
}

/// The highest migration recorded in `conn` (0 without the table).
pub fn schema_version(conn: &Connection) -> Result<i64> {
    let has: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations')",
        [],
        |r| r.get(0),
    )?;
    if !has {
        return Ok(0);
    }
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?)
}
