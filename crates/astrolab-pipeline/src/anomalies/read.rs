//! Quasar spectra from the spectral store onto the model's rest-frame
//! grid, one shard (a list of TARGETIDs) at a time: one index query, one
//! batched read per spectra file, then preprocessing; the observed-frame
//! pixels are dropped as soon as a spectrum is on the grid, so memory
//! follows the shard, not the catalog.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use astrolab_anomaly::dataset::Dataset;
use astrolab_anomaly::preprocess::{Observed, Preprocessor, Segment, REST_NPIX};
use astrolab_store::Store;

/// One spectrum as read: its wavelength grid (shared by the file's rows),
/// the row, and its raw file.
type Read = (
    std::rc::Rc<Vec<f64>>,
    astrolab_spectra::SpectraRow,
    Option<i64>,
);

/// A shard on the rest-frame grid.
#[derive(Debug, Clone, Default)]
pub struct RestShard {
    /// The kept spectra (ids are TARGETIDs), in the order asked.
    pub dataset: Dataset,
    /// Redshift of each kept spectrum.
    pub z: Vec<f64>,
    /// Raw file (coadd) of each kept spectrum, for access rules.
    pub file_ids: Vec<Option<i64>>,
    /// Spectra read but not usable: (TARGETID, raw file, reason).
    pub skipped: Vec<(i64, Option<i64>, String)>,
    /// TARGETIDs asked for that have no spectrum in the store.
    pub missing: usize,
}

/// One stored spectrum: TARGETID, the wavelength grid (shared by a file's
/// rows), the row, and its raw file.
pub type StoredSpectrum = (
    i64,
    std::rc::Rc<Vec<f64>>,
    astrolab_spectra::SpectraRow,
    Option<i64>,
);

/// A shard's spectra as stored (observed frame), in the order asked.
#[derive(Debug, Default)]
pub struct ObservedShard {
    /// (TARGETID, wavelength grid shared by a file's rows, the row, its
    /// raw file) of each target found.
    pub spectra: Vec<StoredSpectrum>,
    /// TARGETIDs asked for that have no spectrum in the store.
    pub missing: usize,
}

/// Reads `target_ids` (sorted or not) from the store's spectra files: one
/// index query, one batched read per spectra file. The output keeps the
/// order of `target_ids`, so a shard's result does not depend on the
/// files' layout.
pub fn read_observed(store: &mut Store, target_ids: &[i64]) -> Result<ObservedShard> {
    let located = store.locate_spectra(target_ids)?;
    // A target indexed in two files (rebuilt coadds) is read once: the
    // first location in (path, row) order.
    let mut first: HashMap<i64, usize> = HashMap::with_capacity(located.len());
    for (i, l) in located.iter().enumerate() {
        first.entry(l.target_id).or_insert(i);
    }
    let mut by_file: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, l) in located.iter().enumerate() {
        if first[&l.target_id] != i {
            continue;
        }
        match by_file.last_mut() {
            Some((p, v)) if *p == l.path => v.push(i),
            _ => by_file.push((l.path.clone(), vec![i])),
        }
    }
    // Per TARGETID: its spectrum (wavelength, row) and raw file.
    let mut read: HashMap<i64, Read> = HashMap::with_capacity(first.len());
    for (path, idx) in &by_file {
        let rec = store.spectra_file_by_path(path)?;
        let lab = rec.as_ref().is_some_and(|r| r.survey == "lab");
        // The raw file the spectra came from (a spectra file is built from
        // one coadd; with several sources the first stands for the file).
        let file_id = match &rec {
            Some(r) => store
                .spectra_source_file_ids(r)?
                .and_then(|ids| ids.into_iter().min()),
            None => None,
        };
        let rows: Vec<usize> = idx.iter().map(|&i| located[i].row).collect();
        let spectra = astrolab_spectra::read_indexed(Path::new(path), &rows, lab)
            .with_context(|| format!("reading spectra from {path}"))?;
        let mut grid: Option<std::rc::Rc<Vec<f64>>> = None;
        for (&i, s) in idx.iter().zip(spectra) {
            let w = match &grid {
                Some(g) if **g == s.wavelength => g.clone(),
                _ => {
                    let g = std::rc::Rc::new(s.wavelength);
                    grid = Some(g.clone());
                    g
                }
            };
            read.insert(located[i].target_id, (w, s.row, file_id));
        }
    }
    let mut out = ObservedShard::default();
    for &t in target_ids {
        match read.remove(&t) {
            Some((w, row, file_id)) => out.spectra.push((t, w, row, file_id)),
            None => out.missing += 1,
        }
    }
    Ok(out)
}

/// Reads `target_ids` (sorted or not) from the store's spectra files and
/// preprocesses them with `pre`. The output keeps the order of
/// `target_ids`, so a shard's result does not depend on the files' layout.
pub fn read_rest_frame(
    store: &mut Store,
    target_ids: &[i64],
    pre: &Preprocessor,
) -> Result<RestShard> {
    read_rest_frame_threads(store, target_ids, pre, 1)
}

/// [`read_rest_frame`] with the preprocessing on `threads` threads (the
/// same shard for any count).
pub fn read_rest_frame_threads(
    store: &mut Store,
    target_ids: &[i64],
    pre: &Preprocessor,
    threads: usize,
) -> Result<RestShard> {
    let observed_shard = read_observed(store, target_ids)?;
    let read: HashMap<i64, (&astrolab_spectra::SpectraRow, Option<i64>)> = observed_shard
        .spectra
        .iter()
        .map(|(t, _, row, f)| (*t, (row, *f)))
        .collect();
    let mut out = RestShard {
        dataset: Dataset::new(REST_NPIX),
        missing: observed_shard.missing,
        ..RestShard::default()
    };
    let observed: Vec<Observed<'_>> = observed_shard
        .spectra
        .iter()
        .map(|(t, w, row, _)| Observed {
            id: *t,
            z: row.z,
            segments: vec![Segment {
                wavelength_a: w,
                flux: &row.flux,
                ivar: &row.ivar,
                mask: &row.mask,
            }],
        })
        .collect();
    let batch = pre.dataset_threads(&observed, threads);
    for s in &batch.skipped {
        out.skipped
            .push((s.id, read[&s.id].1, s.error.reason().to_string()));
    }
    out.z = batch.dataset.ids.iter().map(|t| read[t].0.z).collect();
    out.file_ids = batch.dataset.ids.iter().map(|t| read[t].1).collect();
    out.dataset = batch.dataset;
    Ok(out)
}
