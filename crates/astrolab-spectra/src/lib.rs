//! Columnar spectra files (issue 3, item 2): DESI coadds turned into one
//! Parquet file each, on one shared wavelength grid, and a reader for the
//! lab's older per-tile Parquet files.
//!
//! # The file (`astrolab-spectra/1`)
//! One Parquet file, one row per spectrum, sorted by `target_id`, in row
//! groups of [`ROW_GROUP_SPECTRA`] (1000) so that one spectrum is read
//! without decoding the whole file:
//!
//! | column | Arrow type | Parquet |
//! |---|---|---|
//! | `target_id` | Int64 | INT64 |
//! | `ra`, `dec` (deg), `z` | Float64 | DOUBLE |
//! | `flux`, `ivar` | FixedSizeList<Float32, npix> | LIST of FLOAT, byte-stream split |
//! | `mask` | FixedSizeList<UInt32, npix> | LIST of INT32 (UINT_32) |
//!
//! The wavelength grid is stored once, as file key-value metadata
//! (`wave_min_a`, `dwave_a`, `npix`: pixel `k` is at `wave_min_a + dwave_a * k`
//! Angstrom), next to `survey`, `program`, `healpix`, `source_files` (a JSON
//! array of `"NAME sha256:HEX"`), `software_version` and `astrolab_format`.
//! Compression is zstd level 3. pyarrow reads it as is:
//! `pq.read_table(p)["flux"].combine_chunks().flatten().to_numpy().reshape(-1, npix)`.
//!
//! Files are written to `NAME.tmp`, fsynced and renamed, so a killed writer
//! never leaves a partial file under the final name.
//!
//! # Reading many spectra
//! [`read_many`] returns owned rows; [`read_many_into`] copies a batch into
//! the flat arrays of a [`SpectraBatch`] a pipeline reuses; [`map_many`]
//! copies nothing and returns views into the memory-mapped hot copies
//! (the fastest first batch of a process; see what a map assumes there).
//!
//! # Example
//! ```no_run
//! use std::path::Path;
//! use astrolab_spectra::{convert_coadd, write_spectra_file, SpectraFile};
//!
//! let (meta, rows) = convert_coadd(
//!     Path::new("coadd-sv3-dark-26065.fits"),
//!     Some(Path::new("redrock-sv3-dark-26065.fits")),
//!     |r| r.spectype == "QSO" && r.zwarn == 0,
//! )?;
//! write_spectra_file(Path::new("sv3-dark-26065.parquet"), &meta, &rows)?;
//! let f = SpectraFile::open(Path::new("sv3-dark-26065.parquet"))?;
//! let first = f.read_rows(&[0])?;
//! assert_eq!(first[0].flux.len(), f.wavelength().len());
//! # Ok::<(), astrolab_spectra::SpectraStoreError>(())
//! ```

mod batch;
mod convert;
mod error;
mod file;
mod hot;
mod lab;
mod mapped;
pub mod plot;
mod read;

pub use batch::{read_batch, read_many_into, SpectraBatch, SpectrumView};
pub use convert::{
    convert_coadd, convert_coadd_counted, convert_coadd_with, ConvertCounts, ConvertOptions,
    RedrockRow, SOFTWARE_VERSION,
};
pub use error::SpectraStoreError;
pub use file::{
    arrow_schema, columns, keys, tmp_path, write_spectra_file, FileMeta, SpectraFile, SpectraRow,
    FORMAT_VERSION, ROW_GROUP_SPECTRA,
};
pub use hot::{hot_path, read_many, write_hot_copy, HotCopy};
pub use lab::{lab_columns, read_lab_layout, LabSpectrum};
pub use mapped::{map_many, MappedSpectra};
pub use read::{read_indexed, IndexedSpectrum};
