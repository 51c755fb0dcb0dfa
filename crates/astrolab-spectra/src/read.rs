//! Reading indexed spectra back: the one implementation behind
//! `astrolab spectra get`, the pipelines' batched reads and the server's
//! `/api/v1/spectra/{targetid}`. The store's index says which file and row;
//! this reads them, from the hot copy when it is fresh (no decompression),
//! else from the Parquet file, and from the lab's per-tile files (indexed
//! in place, each row with its own wavelength array) when the index marks
//! the file as lab layout.

use std::path::Path;

use crate::{read_lab_layout, HotCopy, SpectraFile, SpectraRow, SpectraStoreError};

/// One spectrum with its wavelength grid.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedSpectrum {
    /// Observed wavelength per pixel, Angstrom.
    pub wavelength: Vec<f64>,
    /// The spectrum.
    pub row: SpectraRow,
}

/// Reads `rows` (0-based) of one indexed file, in the order given. `lab`
/// says the index registered the file as the lab's per-tile layout; such a
/// file is read whole (it has no row groups to seek) when it does not open
/// as an astrolab spectra file.
pub fn read_indexed(
    path: &Path,
    rows: &[usize],
    lab: bool,
) -> Result<Vec<IndexedSpectrum>, SpectraStoreError> {
    match SpectraFile::open(path) {
        Ok(file) => {
            let wavelength = file.wavelength();
            let read = match HotCopy::open_fresh(path)? {
                Some(hot) => hot.read_rows(rows)?,
                None => file.read_rows(rows)?,
            };
            Ok(read
                .into_iter()
                .map(|row| IndexedSpectrum {
                    wavelength: wavelength.clone(),
                    row,
                })
                .collect())
        }
        Err(_) if lab => {
            let mut all = read_lab_layout(path)?;
            let len = all.len();
            rows.iter()
                .map(|&r| {
                    let s = all
                        .get_mut(r)
                        .ok_or_else(|| SpectraStoreError::RowOutOfRange {
                            path: path.to_path_buf(),
                            row: r,
                            len,
                        })?;
                    Ok(IndexedSpectrum {
                        wavelength: std::mem::take(&mut s.wavelength),
                        row: SpectraRow {
                            target_id: s.target_id,
                            ra: s.ra,
                            dec: s.dec,
                            z: s.z,
                            flux: std::mem::take(&mut s.flux),
                            ivar: std::mem::take(&mut s.ivar),
                            mask: std::mem::take(&mut s.mask),
                        },
                    })
                })
                .collect()
        }
        Err(e) => Err(e),
    }
}
