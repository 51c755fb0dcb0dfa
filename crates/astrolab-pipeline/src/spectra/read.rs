//! Spectra read back from the store by TARGETID (`spectra get`, and
//! pipelines that need many spectra at once), and the store's list of
//! spectra files as a table.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{bail, Context, Result};
use astrolab_spectra::plot::{spectrum_svg, SpectrumPlot};
use astrolab_store::{ResultTable, SpectraFileRecord, Store, Value};

/// One spectrum read back from the store.
pub struct Fetched {
    /// TARGETID.
    pub target_id: i64,
    /// Redshift.
    pub z: f64,
    /// Shared wavelength grid, Angstrom.
    pub wavelength: Vec<f64>,
    /// The spectrum.
    pub row: astrolab_spectra::SpectraRow,
}

/// Many spectra at once for pipelines: one index query, then one open and
/// one batched read per file (no per-spectrum file opens).
pub fn fetch_spectra(store: &mut Store, target_ids: &[i64]) -> Result<Vec<Fetched>> {
    let located = store.locate_spectra(target_ids)?;
    let mut out = Vec::with_capacity(located.len());
    let mut i = 0;
    while i < located.len() {
        let path = located[i].path.clone();
        let j = located[i..]
            .iter()
            .position(|l| l.path != path)
            .map_or(located.len(), |k| i + k);
        let rows: Vec<usize> = located[i..j].iter().map(|l| l.row).collect();
        // The hot copy when fresh; the lab's per-tile files row by row.
        let lab = super::is_lab_file(store, &path)?;
        let read = astrolab_spectra::read_indexed(Path::new(&path), &rows, lab)
            .with_context(|| format!("reading {path}"))?;
        for (l, s) in located[i..j].iter().zip(read) {
            out.push(Fetched {
                target_id: l.target_id,
                z: s.row.z,
                wavelength: s.wavelength,
                row: s.row,
            });
        }
        i = j;
    }
    Ok(out)
}

/// Many spectra in the flat arrays of the pipelines' batch reader
/// ([`astrolab_spectra::read_many_into`]: files in parallel, hot copies
/// when fresh), with each spectrum's wavelength grid as an index into
/// `grids` (one per file: its spectra share it).
pub struct FetchedBatch {
    /// The spectra, in the index's order (by file, then row).
    pub batch: astrolab_spectra::SpectraBatch,
    /// Per spectrum, which of `grids` is its wavelength.
    pub grid_of: Vec<usize>,
    /// Wavelength grids, Angstrom.
    pub grids: Vec<Vec<f64>>,
}

/// [`fetch_spectra`] through the batch reader. When a spectrum is in one
/// of the lab's per-tile files (read row by row, each row with its own
/// grid), the row reader fills the same layout. Targets without a spectrum
/// are absent.
pub fn fetch_batch(store: &mut Store, target_ids: &[i64]) -> Result<FetchedBatch> {
    match fetch_batch_parquet(store, target_ids)? {
        Some(b) => Ok(b),
        None => {
            let rows = fetch_spectra(store, target_ids)?;
            let mut batch = astrolab_spectra::SpectraBatch::new();
            let mut grids = Vec::with_capacity(rows.len());
            for f in rows {
                batch.push(&f.row);
                grids.push(f.wavelength);
            }
            Ok(FetchedBatch {
                batch,
                grid_of: (0..grids.len()).collect(),
                grids,
            })
        }
    }
}

fn fetch_batch_parquet(store: &mut Store, target_ids: &[i64]) -> Result<Option<FetchedBatch>> {
    let located = store.locate_spectra(target_ids)?;
    let mut grids: Vec<Vec<f64>> = Vec::new();
    let mut grid_of = Vec::with_capacity(located.len());
    let mut last: Option<&str> = None;
    for l in &located {
        if last != Some(l.path.as_str()) {
            if super::is_lab_file(store, &l.path)? {
                return Ok(None);
            }
            let f = astrolab_spectra::SpectraFile::open(Path::new(&l.path))
                .with_context(|| format!("reading {}", l.path))?;
            grids.push(f.wavelength());
            last = Some(l.path.as_str());
        }
        grid_of.push(grids.len() - 1);
    }
    let wanted: Vec<(&Path, usize)> = located
        .iter()
        .map(|l| (Path::new(&l.path), l.row))
        .collect();
    let batch = astrolab_spectra::read_batch(&wanted)?;
    Ok(Some(FetchedBatch {
        batch,
        grid_of,
        grids,
    }))
}

/// The spectra of `target_ids` (`spectra get`); every one must be in the
/// store.
pub fn get(store: &mut Store, target_ids: &[i64]) -> Result<Vec<Fetched>> {
    let fetched = fetch_spectra(store, target_ids)?;
    let found: HashSet<i64> = fetched.iter().map(|f| f.target_id).collect();
    let missing: Vec<String> = target_ids
        .iter()
        .filter(|t| !found.contains(t))
        .map(|t| t.to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "no spectrum in the store for TARGETID {} (astrolab spectra build adds them)",
            missing.join(", ")
        );
    }
    Ok(fetched)
}

/// The plot of one spectrum (SVG), against rest-frame wavelength when
/// asked and the redshift is known.
pub fn spectrum_plot(f: &Fetched, rest_frame: bool) -> String {
    spectrum_svg(&SpectrumPlot {
        title: format!("TARGETID {}  z = {:.4}", f.target_id, f.z),
        wavelength: &f.wavelength,
        flux: &f.row.flux,
        ivar: &f.row.ivar,
        mask: &f.row.mask,
        z: f.z.is_finite().then_some(f.z),
        rest_frame,
    })
}

/// Spectra as a table: one row per pixel (target_id, wavelength, flux,
/// ivar, mask).
pub fn spectra_table(fetched: &[Fetched]) -> ResultTable {
    let mut table = ResultTable {
        columns: ["target_id", "wavelength", "flux", "ivar", "mask"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows: Vec::new(),
    };
    for f in fetched {
        for p in 0..f.wavelength.len() {
            table.rows.push(vec![
                Value::Int(f.target_id),
                Value::Float(f.wavelength[p]),
                Value::Float(f.row.flux[p] as f64),
                Value::Float(f.row.ivar[p] as f64),
                Value::Int(f.row.mask[p] as i64),
            ]);
        }
    }
    table
}

/// The store's spectra files as a table (`spectra files`).
pub fn spectra_files_table(files: Vec<SpectraFileRecord>) -> ResultTable {
    ResultTable {
        columns: [
            "spectra_file_id",
            "path",
            "survey",
            "program",
            "healpix",
            "n_spectra",
            "size_bytes",
            "built_at",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: files
            .into_iter()
            .map(|f| {
                vec![
                    Value::Int(f.spectra_file_id),
                    Value::Text(f.path),
                    Value::Text(f.survey),
                    Value::Text(f.program),
                    Value::Int(f.healpix),
                    Value::Int(f.n_spectra),
                    Value::Int(f.size_bytes),
                    Value::Text(f.built_at),
                ]
            })
            .collect(),
    }
}
