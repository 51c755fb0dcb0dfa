//! Release folders for a run's table results (`astrolab publish RUN --to
//! DIR`, issue 21 point 5).
//!
//! Every FITS binary table among a run's outputs becomes one published
//! table, written as:
//!
//! | file | module | reference |
//! |---|---|---|
//! | `catalog.fits` (one BINTABLE per table, VAC header) | [`fits_vac`] | FITS 4.0; the lab's VAC form |
//! | `parquet/TABLE.parquet` | [`parquet_out`] | Apache Parquet with the Arrow schema |
//! | `hats/TABLE/` (tables with RA/DEC only) | [`hats`] | HATS (Caplar et al.; hats 0.11 docs) |
//! | `cds/ReadMe`, `cds/TABLE.dat` | [`cds`] | CDS standard for ReadMe files |
//! | `zenodo.json` | [`zenodo`] | Zenodo REST API, legacy deposit metadata |
//! | `figures/`, `provenance/ro-crate-metadata.json` | [`release`] | the run's own files |
//! | `SHA256SUMS` | [`sums`] | GNU coreutils `sha256sum` format |
//!
//! Every column must be documented (unit, description): the built-in
//! dictionary ([`columns`]) covers the columns the lab's table outputs have;
//! `--columns FILE.toml` adds others. The folder is written into a
//! temporary sibling and renamed into place at the end, so it is either
//! complete or absent.
//!
//! ```no_run
//! use astrolab_publish::{publish, ReleaseOptions, RunInfo};
//! # fn run_info() -> RunInfo { unimplemented!() }
//! let opts = ReleaseOptions::new("Void galaxies of DESI DR1", "Doe, Jane");
//! let report = publish(&run_info(), std::path::Path::new("release"), &opts).unwrap();
//! println!("{} tables, {} files", report.tables.len(), report.files.len());
//! ```

#![warn(missing_docs)]

pub mod cds;
pub mod columns;
mod error;
pub mod fits_vac;
pub mod hats;
pub mod parquet_out;
pub mod release;
pub mod sums;
pub mod table;
pub mod zenodo;

pub use columns::{ColumnDoc, Dictionary};
pub use error::PublishError;
pub use release::{publish, ReleaseOptions, ReleaseReport, RunFile, RunInfo};
pub use table::{Column, Table, Values};
