//! The one error type of this crate.

use std::path::PathBuf;

use astrolab_formats::spectra::SpectraError;

/// Everything that can go wrong writing, reading or converting spectra
/// files. Messages name the file and, where it applies, the column and row.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpectraStoreError {
    /// Opening, writing, syncing or renaming a file failed.
    #[error("{}: cannot {action}: {source}", .path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },

    /// The Parquet layer failed (a truncated or corrupt file, a bad footer).
    #[error("{}: not a readable Parquet file ({source}); is it complete? a file cut short \
             by a killed writer or a partial download looks like this", .path.display())]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },

    /// The Arrow layer failed while building or decoding record batches.
    #[error("{}: {source}", .path.display())]
    Arrow {
        path: PathBuf,
        source: arrow_schema::ArrowError,
    },

    /// A column is missing or has a type this reader does not accept.
    #[error("{}: column '{column}': {message}", .path.display())]
    Schema {
        path: PathBuf,
        column: String,
        message: String,
    },

    /// A file key-value metadata entry is missing or malformed.
    #[error("{}: metadata key '{key}': {message}", .path.display())]
    Metadata {
        path: PathBuf,
        key: String,
        message: String,
    },

    /// One value of one row cannot be used (a null, a wrong length, ...).
    #[error("{}: column '{column}', row {row} (0-based): {message}", .path.display())]
    BadValue {
        path: PathBuf,
        column: String,
        row: usize,
        message: String,
    },

    /// A row index past the end of the file.
    #[error("{}: row {row} (0-based) does not exist; the file has {len} rows", .path.display())]
    RowOutOfRange {
        path: PathBuf,
        row: usize,
        len: usize,
    },

    /// Reading the source coadd or redrock file failed.
    #[error(transparent)]
    Source(#[from] SpectraError),
}

impl SpectraStoreError {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            path: path.into(),
            action,
            source,
        }
    }

    pub(crate) fn parquet(path: impl Into<PathBuf>, source: parquet::errors::ParquetError) -> Self {
        Self::Parquet {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn schema(
        path: impl Into<PathBuf>,
        column: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::Schema {
            path: path.into(),
            column: column.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn bad_value(
        path: impl Into<PathBuf>,
        column: &str,
        row: usize,
        message: impl Into<String>,
    ) -> Self {
        Self::BadValue {
            path: path.into(),
            column: column.to_string(),
            row,
            message: message.into(),
        }
    }
}
