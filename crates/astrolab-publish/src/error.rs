//! The crate's one error type: every variant names the file (and HDU,
//! column or row where there is one) and says what to do next.

use std::path::PathBuf;

/// Why a release could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A run output no longer matches the SHA-256 its manifest recorded.
    #[error("refused: run output {path} changed since the run (manifest sha256 {expected}, file now {actual}); publish only what the run wrote: re-run the pipeline (astrolab reproduce) or restore the file")]
    Tampered {
        /// The output file.
        path: PathBuf,
        /// SHA-256 in the manifest.
        expected: String,
        /// SHA-256 of the file now.
        actual: String,
    },
    /// A run output listed in the manifest is missing.
    #[error("refused: run output {path} is listed in the run's manifest but missing; restore it or re-run the pipeline")]
    MissingOutput {
        /// The output file.
        path: PathBuf,
    },
    /// The destination exists and is not empty.
    #[error("{dir} exists and is not empty; give --to a new or empty directory (a release is never written over other files)")]
    NotEmpty {
        /// The destination.
        dir: PathBuf,
    },
    /// A column has no documentation.
    #[error("column {column} of {file} (HDU {hdu}) is not documented: add it to a columns file and pass --columns FILE.toml, e.g.\n[columns.{column}]\nunit = \"---\"        # CDS unit: deg, km/s, [Msun], Msun/yr, --- for none\ndescription = \"what the column holds\"")]
    UndocumentedColumn {
        /// The column name.
        column: String,
        /// The FITS file of the run holding the table.
        file: PathBuf,
        /// EXTNAME (or index) of the table.
        hdu: String,
    },
    /// A documented unit is not a valid CDS unit.
    #[error("{origin}: column {column}: unit {unit:?} is not a CDS unit ({reason}); write it as the CDS standard does (deg, km/s, Msun/yr, [Msun] for log10 of Msun, --- for none)")]
    BadUnit {
        /// Where the documentation came from (built-in dictionary or file).
        origin: String,
        /// The column.
        column: String,
        /// The unit as written.
        unit: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The columns file cannot be read.
    #[error(
        "{path}: {reason}; the file holds [columns.NAME] tables with unit and description strings"
    )]
    ColumnsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A FITS file of the run cannot be read.
    #[error("{path}: {reason}")]
    Fits {
        /// The file.
        path: PathBuf,
        /// The reader's error (names the HDU and column).
        reason: String,
    },
    /// A CSV table of the run cannot be read.
    #[error("{path}: not a CSV table with a header line: {reason}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// What is wrong (names the row).
        reason: String,
    },
    /// A column cannot be published in these formats.
    #[error("{file} HDU {hdu} column {column}: {reason}")]
    Unsupported {
        /// The FITS file.
        file: PathBuf,
        /// EXTNAME or index.
        hdu: String,
        /// The column.
        column: String,
        /// Why, and what to do.
        reason: String,
    },
    /// The run has no table to publish.
    #[error("{run}: none of the run's outputs is a table (a FITS binary table or a CSV file); publish works on runs that write tables")]
    NoTables {
        /// The run directory.
        run: PathBuf,
    },
    /// Writing Parquet failed.
    #[error("{path}: writing Parquet: {reason}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The writer's error.
        reason: String,
    },
    /// A release option is invalid.
    #[error("{0}")]
    Options(String),
}

impl PublishError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PublishError {
        let path = path.into();
        move |source| PublishError::Io { path, source }
    }
    /// True for errors in what the user asked for (exit code 2 in the CLI).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            PublishError::NotEmpty { .. }
                | PublishError::UndocumentedColumn { .. }
                | PublishError::BadUnit { .. }
                | PublishError::ColumnsFile { .. }
                | PublishError::NoTables { .. }
                | PublishError::Options(_)
        )
    }
}

/// The crate's result type.
pub type Result<T, E = PublishError> = std::result::Result<T, E>;
