//! What a backup holds, written into the backup itself (so it is as
//! encrypted as the rest) before the engine stores it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The manifest's format; readers refuse others.
pub const FORMAT: &str = "astrolab-backup 1";
/// Its name inside a backup.
pub const FILE: &str = "backup-manifest.json";

/// A table's row count and content hash ([`crate::digest`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDigest {
    /// Rows.
    pub rows: u64,
    /// SHA-256 of the rows' values, lower-case hexadecimal.
    pub sha256: String,
}

/// What one backup holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The backup's id (UTC time and a random suffix), also a restic tag.
    pub id: String,
    /// When the database copy was taken (UTC, RFC 3339): the point in time
    /// a restore returns to.
    pub created: String,
    /// The astrolab that made it.
    pub astrolab: String,
    /// The machine.
    pub host: String,
    /// `sqlite` or `postgresql`.
    pub backend: String,
    /// The database copy's name inside the backup.
    pub database: String,
    /// Its size in bytes.
    pub database_bytes: u64,
    /// The highest schema migration applied.
    pub schema_version: i64,
    /// Every table: rows and content hash.
    pub tables: BTreeMap<String, TableDigest>,
    /// The data home's files backed up beside the database (count, bytes).
    pub files: u64,
    /// Their bytes.
    pub file_bytes: u64,
    /// The PostgreSQL part, for a store in PostgreSQL (None for SQLite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PgPart>,
}

/// Where a PostgreSQL store's backup is: pgBackRest's backup set and the
/// restore point the manifest's digests describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgPart {
    /// pgBackRest's stanza.
    pub stanza: String,
    /// The backup set's label.
    pub label: String,
    /// `full`, `diff` or `incr`.
    pub kind: String,
    /// The restore point's name (the backup id) and position in the WAL.
    pub restore_point: String,
    /// Its LSN.
    pub lsn: String,
    /// The database's size, and this set's size in the repository.
    pub database_bytes: u64,
    /// Bytes this set added to the repository.
    pub repository_bytes: u64,
    /// The store's database name (what the tables were read from).
    pub dbname: String,
}

impl Manifest {
    /// Every table's rows, added up.
    pub fn rows(&self) -> u64 {
        self.tables.values().map(|t| t.rows).sum()
    }
}
