//! Errors that say which file, HDU, column and row went wrong, and what to do.

use std::path::PathBuf;

/// Everything that can go wrong reading or writing FITS.
///
/// `hdu` fields hold a label such as `HDU 4 'B_FLUX'` or `HDU 1 (no EXTNAME)`;
/// `row` fields are 0-based (pixel indices, C order, for images).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FitsError {
    /// The operating system refused a read or write.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The first card is not `SIMPLE = T`.
    #[error(
        "{}: not a FITS file (it does not start with `SIMPLE  =                    T`); \
         if it is tile-compressed (.fz), decompress it first (funpack)",
        .path.display()
    )]
    NotFits { path: PathBuf },

    /// The file ends before the named HDU's header or data does.
    #[error(
        "{}: {hdu} is truncated: the file must be at least {expected_bytes} bytes long \
         but has {actual_bytes}; the download or copy is incomplete, fetch the file again",
        .path.display()
    )]
    Truncated {
        path: PathBuf,
        hdu: String,
        expected_bytes: u64,
        actual_bytes: u64,
    },

    /// No HDU has the requested EXTNAME.
    #[error(
        "{}: no HDU named '{extname}'; the file has: {}",
        .path.display(),
        .available.join(", ")
    )]
    MissingHdu {
        path: PathBuf,
        extname: String,
        available: Vec<String>,
    },

    /// The table has no column of that name.
    #[error(
        "{}: {hdu} has no column '{column}'; its columns are: {}",
        .path.display(),
        .available.join(", ")
    )]
    MissingColumn {
        path: PathBuf,
        hdu: String,
        column: String,
        available: Vec<String>,
    },

    /// A header keyword is missing, malformed or inconsistent.
    #[error("{}: {hdu}: keyword {key}: {message}", .path.display())]
    BadHeader {
        path: PathBuf,
        hdu: String,
        key: String,
        message: String,
    },

    /// A stored value cannot be returned as asked (null, out of range, ...).
    #[error("{}: {hdu}: column '{column}', row {row} (0-based): {message}", .path.display())]
    BadValue {
        path: PathBuf,
        hdu: String,
        column: String,
        row: usize,
        message: String,
    },

    /// The column's TFORM cannot be read as the requested Rust type.
    #[error(
        "{}: {hdu}: column '{column}' has TFORM '{tform}' and cannot be read as {wanted}",
        .path.display()
    )]
    WrongType {
        path: PathBuf,
        hdu: String,
        column: String,
        tform: String,
        wanted: String,
    },

    /// Valid FITS that this reader does not handle.
    #[error("{}: {hdu}: {message}", .path.display())]
    Unsupported {
        path: PathBuf,
        hdu: String,
        message: String,
    },

    /// [`write_fits`](super::write_fits) was given data it cannot write
    /// (columns of unequal length, a reserved keyword, a shape that does not
    /// match the data, ...). Nothing was written to the target path.
    #[error("{}: {hdu}: not written: {message}", .path.display())]
    InvalidOutput {
        path: PathBuf,
        hdu: String,
        message: String,
    },
}

/// Result with a [`FitsError`].
pub type Result<T> = std::result::Result<T, FitsError>;

/// The label used for an HDU in error messages.
pub(crate) fn hdu_label(index: usize, extname: Option<&str>) -> String {
    match extname {
        Some(name) => format!("HDU {index} '{name}'"),
        None if index == 0 => "HDU 0 (primary)".to_string(),
        None => format!("HDU {index} (no EXTNAME)"),
    }
}
