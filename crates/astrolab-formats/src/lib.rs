//! File formats for astrolab: readers and writers that turn files into
//! arrays and tables with errors that name the file, HDU, column and row.
//!
//! - [`atomic`]: atomic file writes (temporary file, fsync, rename), used
//!   by every crate that writes outputs.
//! - [`fits`]: pure-Rust FITS (primary arrays, IMAGE and BINTABLE extensions),
//!   memory-mapped reads and atomic writes. Why not cfitsio: see the module docs.
//! - [`spectra`]: DESI coadds and redrock files, SDSS spec files, and the
//!   merge of DESI's B, R, Z arms onto one 0.8 A grid.
//! - [`table_csv`]: small CSV tables read column by column.
//! - [`galaxy_table`]: galaxy lists (RA, Dec, z) from FITS or CSV, and
//!   `x y z` box files, for the void pipelines.
//! - [`vast`]: VAST/DESIVAST void catalogs (VoidFinder and V2), read and
//!   written.
//! - [`testdata`]: where the lab's shared real data lives, for tests.
//!
//! ```no_run
//! use astrolab_formats::FitsFile;
//! # fn main() -> astrolab_formats::fits::Result<()> {
//! let fits = FitsFile::open("redrock-test.fits".as_ref())?;
//! let z = fits.table("REDSHIFTS")?.read_f64("Z")?;
//! let (flux, shape) = fits.read_image_f32("B_FLUX")?; // shape = [nspec, nwave]
//! # Ok(()) }
//! ```

pub mod atomic;
pub mod fits;
pub mod galaxy_table;
pub mod iq;
pub mod salsa;
pub mod sdfits;
pub mod sigmf;
pub mod spectra;
pub mod table_csv;
pub mod vast;

pub use fits::{
    write_fits, BinTable, Card, ColumnData, ColumnInfo, ColumnOut, FitsError, FitsFile, Hdu,
    HduKind, HduOut, Header, HeaderValue, ImageData,
};
pub use table_csv::{read_csv_columns, CsvColumns, CsvError};

/// Locating the lab's shared real data (`$ASTROLAB_SHARED_DATA`) for tests.
///
/// Public so that every crate's integration tests find the data the same way.
pub mod testdata {
    use std::path::{Path, PathBuf};

    /// The shared data directory, or `None` if it cannot be found.
    ///
    /// Looks at `$ASTROLAB_SHARED_DATA` first; when that is unset, walks up
    /// from this crate's directory looking for `shared/data` (the lab layout
    /// keeps it next to the workspace root: `../shared/data`).
    pub fn shared_data_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("ASTROLAB_SHARED_DATA") {
            let dir = PathBuf::from(dir);
            // An explicit setting that points nowhere is not silently replaced
            // by a guess: the caller reports it as missing.
            return dir.is_dir().then_some(dir);
        }
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|a| a.join("shared").join("data"))
            .find(|d| d.is_dir())
    }

    /// For tests: the shared data directory, or `None` after printing why the
    /// test is skipped.
    ///
    /// # Panics
    /// When the data is missing and the `CI` environment variable is set, so
    /// that CI fails instead of silently skipping real-data tests.
    pub fn require_shared_data(test: &str) -> Option<PathBuf> {
        let found = shared_data_dir();
        if found.is_none() {
            let why = "shared data not found: set ASTROLAB_SHARED_DATA to the directory \
                       holding desi/, voids/, ... (default ../shared/data next to the workspace)";
            if std::env::var_os("CI").is_some() {
                panic!("{test}: {why}");
            }
            eprintln!("skipping {test}: {why}");
        }
        found
    }
}
