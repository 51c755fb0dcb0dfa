//! The spectral store (issue 3): building it from DESI coadds
//! ([`build`], the `spectra-build` pipeline), indexing the lab's Parquet
//! files in place ([`index_lab`]), hot copies ([`hot`]), and reading
//! spectra back by TARGETID ([`read`]).

pub mod build;
pub mod hot;
pub mod index_lab;
pub mod read;

pub use build::{build_one, Build, BuildReport};
pub use hot::{write_hot_copies, HotReport};
pub use index_lab::{index_lab, IndexLabReport};
pub use read::{fetch_spectra, get, spectra_files_table, spectrum_plot, Fetched};

/// Now, UTC, RFC 3339 (when a spectra file was built or indexed).
fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Whether the store indexes `path` as one of the lab's per-tile files
/// (read row by row, in place).
fn is_lab_file(store: &mut astrolab_store::Store, path: &str) -> anyhow::Result<bool> {
    Ok(store
        .spectra_file_by_path(path)?
        .is_some_and(|r| r.survey == "lab"))
}
