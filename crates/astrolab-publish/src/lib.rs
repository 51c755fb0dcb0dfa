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
//! use std::path::{Path, PathBuf};
//! use astrolab_publish::{publish, ReleaseOptions, RunFile, RunInfo};
//!
//! // What the run's manifest (ro-crate-metadata.json) says; the CLI reads it.
//! let run = RunInfo {
//!     dir: PathBuf::from("runs/vac"),
//!     manifest_file: PathBuf::from("runs/vac/ro-crate-metadata.json"),
//!     pipeline: "voids-publish".into(),
//!     run_id: None,
//!     software_version: "0.1.0".into(),
//!     git_commit: None,
//!     inputs: vec![],
//!     outputs: vec![RunFile {
//!         path: PathBuf::from("void_galaxies.fits"),
//!         sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
//!     }],
//! };
//! let opts = ReleaseOptions::new("Void galaxies of DESI DR1", "Doe, Jane");
//! let report = publish(&run, Path::new("release"), &opts)?;
//! println!("{} tables, {} files", report.tables.len(), report.files.len());
//! # Ok::<(), astrolab_publish::PublishError>(())
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
