//! A derived cache of positions for crossmatches: per raw file and sky
//! table, the row identifiers, RA and Dec as flat little-endian arrays in
//! `$ASTROLAB_HOME/cache/positions/`.
//!
//! Reading five million positions back out of a database costs seconds
//! (row decoding on SQLite, per-row protocol messages on PostgreSQL); the
//! same arrays from a flat file cost a tenth of that. The cache is only an
//! accelerator: each file belongs to one committed, immutable `file_id` (a
//! new version of a file gets a new id), it is written after the commit,
//! named with the file's checksum, written to a temporary name and renamed,
//! and anything missing or unreadable is rebuilt from the database.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::registry::RawFile;

const MAGIC: &[u8; 8] = b"ALPOS1\0\0";

/// Positions of one table's rows from one file.
#[derive(Debug, Default, Clone)]
pub(crate) struct Cached {
    pub ids: Vec<Option<i64>>,
    pub ra: Vec<f64>,
    pub dec: Vec<f64>,
}

pub(crate) fn path(home: &Path, table: &str, file: &RawFile) -> PathBuf {
    home.join("cache")
        .join("positions")
        .join(env!("CARGO_PKG_VERSION"))
        .join(format!(
            "{table}-{}-{}.pos",
            file.file_id,
            &file.sha256[..16.min(file.sha256.len())]
        ))
}

/// Writes a cache file atomically; errors are only logged by callers.
pub(crate) fn write(path: &Path, c: &Cached) -> std::io::Result<()> {
    let tmp = path.with_extension("pos.tmp");
    write_file(&tmp, c)?;
    std::fs::rename(&tmp, path)
}

/// Where an ingest writes a table's cache before its rows are committed
/// (renamed to [`path`] after the commit): the file's checksum and this
/// process's id, so concurrent ingests never write the same file.
pub(crate) fn pending_path(home: &Path, table: &str, sha256: &str) -> PathBuf {
    home.join("cache")
        .join("positions")
        .join(env!("CARGO_PKG_VERSION"))
        .join(format!(
            "{table}-pending-{}-{}.pos.tmp",
            &sha256[..16.min(sha256.len())],
            std::process::id()
        ))
}

/// Writes and fsyncs the cache file `path` (creating its directory).
pub(crate) fn write_file(path: &Path, c: &Cached) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut buf = Vec::with_capacity(16 + c.ra.len() * 24);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&(c.ra.len() as u64).to_le_bytes());
    for id in &c.ids {
        buf.extend_from_slice(&id.unwrap_or(i64::MIN).to_le_bytes());
    }
    for x in c.ra.iter().chain(&c.dec) {
        buf.extend_from_slice(&x.to_le_bytes());
    }
    let mut f = std::fs::File::create(path)?;
    f.write_all(&buf)?;
    f.sync_all()
}

/// Reads a cache file; None when missing or malformed.
pub(crate) fn read(path: &Path) -> Option<Cached> {
    let buf = std::fs::read(path).ok()?;
    if buf.len() < 16 || &buf[..8] != MAGIC {
        return None;
    }
    let n = u64::from_le_bytes(buf[8..16].try_into().ok()?) as usize;
    if buf.len() != 16 + n.checked_mul(24)? {
        return None;
    }
    let words = |k: usize| {
        buf[16 + k * n * 8..16 + (k + 1) * n * 8]
            .chunks_exact(8)
            .map(|c| <[u8; 8]>::try_from(c).unwrap_or([0; 8]))
    };
    Some(Cached {
        ids: words(0)
            .map(i64::from_le_bytes)
            .map(|v| (v != i64::MIN).then_some(v))
            .collect(),
        ra: words(1).map(f64::from_le_bytes).collect(),
        dec: words(2).map(f64::from_le_bytes).collect(),
    })
}
