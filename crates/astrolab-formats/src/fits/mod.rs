//! FITS reading and writing in pure Rust: primary arrays, IMAGE and BINTABLE
//! extensions.
//!
//! # Why not cfitsio
//! The field's reference library is cfitsio (through the `fitsio` crate), and
//! the architecture prefers the field's own libraries. We still read FITS by
//! hand because:
//! - we need column-by-name access whose errors name the file, HDU (index and
//!   EXTNAME), column and row, which cfitsio's numeric status codes do not give;
//! - TNULL must be handled exactly (`read_i64` refuses a null instead of
//!   handing back 999999; `read_i64_opt` gives `None`), and unsigned columns
//!   (TZERO 2^31, 2^63) must come back as exact integers, not through `f64`;
//! - a newcomer's laptop should build the project with no C library or
//!   compiler setup;
//! - the part of FITS we use, binary tables and images, is small and stable.
//!
//! # What is implemented, by section of the standard
//! Section numbers are those of FITS 3.0 (Pence et al. 2010, A&A 524, A42),
//! which the current FITS 4.0 (IAU FITS Working Group 2018) keeps for these
//! parts:
//! - Sect. 3.1-3.4: 2880-byte blocks, HDU sequence, primary HDU, extensions.
//! - Sect. 4.1-4.2: 80-byte keyword records; string (with `''` escapes),
//!   logical, integer and real values; comments. The long-string `CONTINUE`
//!   convention, standard since FITS 4.0 (its Sect. 4.2.1.2), is read and
//!   written. `HIERARCH` keys are read.
//! - Sect. 4.4.1: mandatory keywords, which give each HDU's data size.
//! - Sect. 4.4.2.5 and 5.2-5.3: BITPIX 8/16/32/64/-32/-64 arrays, big-endian
//!   two's complement and IEEE-754; BSCALE, BZERO (unsigned integers as BZERO
//!   2^15, 2^31, 2^63) and BLANK.
//! - Sect. 7.1: IMAGE extensions.
//! - Sect. 7.3.1-7.3.3: BINTABLE extensions: TFORMn codes L X B I J K A E D C
//!   M P Q (all are laid out so that other columns can be read; L B I J K A E
//!   D are decoded), TTYPEn, TUNITn, TSCALn, TZEROn (unsigned columns), TNULLn
//!   and TDIMn.
//!
//! Not implemented: ASCII TABLE extensions (Sect. 7.2, listed but not read),
//! variable-length array contents (Sect. 7.3.5; such columns are skipped over),
//! random groups (Sect. 6), tile compression, checksums (not verified, not
//! written).
//!
//! # Conventions
//! - Reads memory-map the file and never modify it; every HDU's data must be
//!   present when a file is opened, so a truncated download fails at `open`
//!   with the HDU named rather than halfway through a load.
//! - Shapes are in C order like numpy: an image with NAXIS1 = 2751 and
//!   NAXIS2 = 5 has shape `[5, 2751]` and is returned row-major.
//! - Rows in error messages are 0-based, as in numpy and astropy.
//! - Writes go to a temporary file in the destination directory that is
//!   renamed over the target only when complete.

mod decode;
mod error;
mod file;
mod header;
mod table;
mod write;

pub use error::{FitsError, Result};
pub use file::{FitsFile, Hdu, HduKind};
pub use header::{Card, Header, HeaderValue};
pub use table::{BinTable, ColumnInfo};
pub use write::{write_fits, ColumnData, ColumnOut, HduOut, ImageData};

/// FITS files are sequences of 2880-byte blocks (Sect. 3.1).
pub const BLOCK: usize = 2880;
/// Every header keyword record is 80 bytes (Sect. 4.1).
pub const CARD: usize = 80;
