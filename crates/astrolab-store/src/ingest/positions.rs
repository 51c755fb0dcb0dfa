//! The crossmatch position caches of an ingest, written while the rows load.
//!
//! Encoding and fsyncing 120 MB of positions for a 5 M-row file took about
//! half a second after the commit, on the critical path of every big
//! ingest. The load itself keeps one core busy (SQLite inserts and index
//! builds, or the PostgreSQL server), so the cache is written by a second
//! thread during the load to a pending name, and only renamed to its final
//! name (which carries the `file_id`) once the rows are committed. If the
//! load fails the pending file is deleted, so no cache ever describes rows
//! that are not in the store. A cache that could not be written only costs
//! speed: the crossmatch rebuilds it from the database. A process killed
//! mid-load leaves its `*-pending-*.pos.tmp` file behind (readers never
//! open that name); the next ingest deletes it once its owner process is
//! gone ([`poscache::sweep_stale`]).

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crate::batch::{Batch, Values};
use crate::poscache::{self, Cached};
use crate::registry::RawFile;
use crate::store::Store;

use super::columns;

type Written = Vec<(&'static str, std::io::Result<PathBuf>)>;

/// Position caches being written for a load in progress.
pub(crate) struct PendingPositions {
    handle: Option<JoinHandle<Written>>,
}

/// Starts writing the position cache of every sky table in `batches` to
/// pending files under `home` (named by the file's checksum and this
/// process, so concurrent ingests never share one).
pub(crate) fn start(home: &Path, sha256: &str, batches: &[Batch]) -> PendingPositions {
    poscache::sweep_stale(home);
    let jobs: Vec<(&'static str, PathBuf, Cached)> = batches
        .iter()
        .filter(|b| b.table.sky)
        .map(|b| {
            let name = b.table.name;
            (
                name,
                poscache::pending_path(home, name, sha256),
                cached_of(b),
            )
        })
        .collect();
    if jobs.is_empty() {
        return PendingPositions { handle: None };
    }
    let spawned = std::thread::Builder::new()
        .name("position-cache".to_string())
        .spawn(move || {
            jobs.into_iter()
                .map(|(table, tmp, c)| {
                    let written = poscache::write_file(&tmp, &c).map(|()| tmp.clone());
                    if written.is_err() {
                        let _ = std::fs::remove_file(&tmp);
                    }
                    (table, written)
                })
                .collect()
        });
    match spawned {
        Ok(handle) => PendingPositions {
            handle: Some(handle),
        },
        Err(e) => {
            tracing::warn!(error = %e, "could not start writing the positions cache");
            PendingPositions { handle: None }
        }
    }
}

impl PendingPositions {
    fn join(self) -> Written {
        match self.handle.map(|h| h.join()) {
            Some(Ok(written)) => written,
            Some(Err(_)) => {
                tracing::warn!("the positions cache writer panicked");
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    /// After the commit: gives each cache its final name for `file`.
    pub(crate) fn publish(self, home: &Path, file: &RawFile) {
        for (table, written) in self.join() {
            let done = written.and_then(|tmp| {
                let path = poscache::path(home, table, file);
                astrolab_formats::atomic::commit(&tmp, &path).inspect_err(|_| {
                    let _ = std::fs::remove_file(&tmp);
                })
            });
            if let Err(e) = done {
                tracing::warn!(error = %e, table, "could not write the positions cache");
            }
        }
    }

    /// After a failed load: deletes what was written.
    pub(crate) fn discard(self) {
        for (_, written) in self.join() {
            if let Ok(tmp) = written {
                let _ = std::fs::remove_file(tmp);
            }
        }
    }
}

/// Identifiers and positions of a sky batch, in its (HEALPix) row order.
fn cached_of(b: &Batch) -> Cached {
    let id = Store::position_id_column(b.table);
    let ids = match b.table.columns.iter().position(|c| c.name == id) {
        Some(i) => match &b.columns[i] {
            Values::I64(v) => v.clone(),
            _ => vec![None; b.nrows],
        },
        None => vec![None; b.nrows],
    };
    Cached {
        ids,
        ra: columns::f64_of(b, "ra"),
        dec: columns::f64_of(b, "dec"),
    }
}
