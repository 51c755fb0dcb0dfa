//! Errors of the store. Messages say what failed, on which file, table,
//! column or row, and what to do next.

use std::path::PathBuf;

/// Result alias of the store.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything the store can report.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("SQLite database {path}: {source}")]
    Sqlite {
        /// Database file.
        path: PathBuf,
        /// Driver error.
        #[source]
        source: rusqlite::Error,
    },
    /// PostgreSQL failed (connection lost, constraint, ...).
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
    /// A FITS file could not be read.
    #[error(transparent)]
    Fits(#[from] astrolab_formats::fits::FitsError),
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// The input's contents are wrong (names the file, HDU, column and row).
    #[error("{0}")]
    BadInput(String),
    /// The file's format is not one we ingest.
    #[error("{path}: unrecognised format ({reason}). Supported: DESI zcatalog (HDU ZCATALOG), redrock (REDSHIFTS + FIBERMAP), FastSpecFit v3 (METADATA + SPECPHOT + FASTSPEC), DESIVAST VoidFinder (MAXIMALS + HOLES) and V2 (VOIDS, ZONEVOID, GALZONE), and galaxy tables with ra/dec columns (FITS or CSV)")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// A different file is already registered under this name.
    #[error("{name}: a different file with this name is already registered (file_id {file_id}, sha256 {registered_sha256}); new sha256 {new_sha256}. Pass --new-version to register it as version {next_version} and replace the old rows")]
    NameConflict {
        /// Registered name.
        name: String,
        /// Id of the registered file.
        file_id: i64,
        /// Checksum of the registered bytes.
        registered_sha256: String,
        /// Checksum of the new bytes.
        new_sha256: String,
        /// Version the new file would get.
        next_version: i64,
    },
    /// A query request is invalid (names the field).
    #[error("{field}: {message}")]
    BadRequest {
        /// Request field (flag or parameter).
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The database schema is newer than this program or inconsistent.
    #[error("migrations: {0}")]
    Migration(String),
    /// The principal the store acts for may not do this (dataset rules).
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// The operation was interrupted (by the caller's progress callback).
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl StoreError {
    pub(crate) fn sqlite(
        path: &std::path::Path,
    ) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn bad_request(field: &str, message: impl Into<String>) -> StoreError {
        StoreError::BadRequest {
            field: field.to_string(),
            message: message.into(),
        }
    }
}
