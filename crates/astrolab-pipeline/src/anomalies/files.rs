//! Quasar spectra from files outside the spectral store, onto the model's
//! rest-frame grid: SDSS/BOSS `spec-PLATE-MJD-FIBER.fits` (one spectrum,
//! its pipeline redshift, class and warning flags from the file's SPECOBJ
//! HDU) and DESI `coadd-*.fits` (every row; its redshift joined by
//! TARGETID from redshift tables the caller names, such as DESI's quasar
//! catalogs `QSO_cat_*.fits.gz` or redrock files).
//!
//! This is how a lab scores and trains on spectra it has on disk but not
//! in a DESI-shaped store: the SDSS archive's quasars, a colleague's
//! reduction. The store's access rules cover the store's spectra; a file
//! named here is read because the caller could name it (the server
//! confines such paths to its data roots).
//!
//! Decisions, so that a run says what it did:
//! * A directory stands for its `spec-*.fits` and `coadd-*.fits` files,
//!   recursively, in path order; other files in it are ignored. A file
//!   named directly must be one of the two kinds.
//! * A redshift table is the first binary table of the file with `TARGETID`
//!   and `Z` columns; `SPECTYPE`, when present, is the class; a table
//!   without it is a quasar catalog and every row's class is `QSO`. The
//!   first table naming a TARGETID wins when several do.
//! * A DESI row without a redshift is skipped (`no_redshift`), as is a
//!   spectrum whose redshift is outside the model's range
//!   (`redshift_out_of_range`: the three SDSS spectra with wrong pipeline
//!   redshifts of 5.5-6.6 in the lab's test set are reported this way).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use astrolab_anomaly::dataset::Dataset;
use astrolab_anomaly::preprocess::{Preprocessor, Segment, REST_NPIX};
use astrolab_formats::spectra::{read_desi_coadd, read_sdss_spec};
use astrolab_formats::FitsFile;

use crate::error::{PipelineError, UsageError};

/// Where a file spectrum came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileSurvey {
    /// An SDSS/BOSS `spec-*.fits` file.
    Sdss,
    /// A row of a DESI `coadd-*.fits` file.
    Desi,
}

impl FileSurvey {
    /// `sdss` or `desi`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileSurvey::Sdss => "sdss",
            FileSurvey::Desi => "desi",
        }
    }
}

/// One spectrum of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSpectrum {
    /// `spec-3655-55240-0110` (SDSS), `coadd-main-dark-9144:39633...`
    /// (DESI: file stem and TARGETID).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The kind of file.
    pub survey: FileSurvey,
    /// DESI TARGETID; none for SDSS.
    pub target_id: Option<i64>,
    /// Redshift used for the rest frame; none when no table gave one.
    pub z: Option<f64>,
    /// Spectral class (SDSS CLASS, DESI SPECTYPE), when known.
    pub class: Option<String>,
    /// SDSS ZWARNING / DESI ZWARN, when known.
    pub zwarning: Option<i64>,
}

/// Spectra of files on the model's grid.
#[derive(Debug, Clone, Default)]
pub struct FileSet {
    /// Every spectrum read, in file then row order.
    pub spectra: Vec<FileSpectrum>,
    /// The ones on the grid; a row's id is its index in `spectra`.
    pub dataset: Dataset,
    /// The others: index in `spectra` and the reason (a
    /// `PreprocessError::reason`, or `no_redshift`).
    pub skipped: Vec<(usize, String)>,
}

fn usage(msg: String) -> PipelineError {
    PipelineError::Failed(anyhow::Error::new(UsageError(msg)))
}

fn is_spectrum_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".fits") && (name.starts_with("spec-") || name.starts_with("coadd-"))
}

/// The spectrum files `paths` stand for: files as given, directories by
/// their `spec-*.fits` and `coadd-*.fits` (recursively), sorted and
/// without repeats.
pub fn list_spectrum_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, PipelineError> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PipelineError> {
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
        for e in entries {
            let p = e
                .with_context(|| format!("listing {}", dir.display()))?
                .path();
            if p.is_dir() {
                walk(&p, out)?;
            } else if is_spectrum_file(&p) {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(usage(format!(
                "{}: no such file or directory (give spec-*.fits, coadd-*.fits or a directory of them)",
                p.display()
            )));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Redshift (and class) per TARGETID from `tables` (module docs).
pub fn read_redshift_tables(
    tables: &[PathBuf],
) -> Result<HashMap<i64, (f64, String)>, PipelineError> {
    let mut out: HashMap<i64, (f64, String)> = HashMap::new();
    for path in tables {
        let fits = FitsFile::open(path).map_err(|e| usage(e.to_string()))?;
        let hdu = fits
            .hdus()
            .iter()
            .position(|h| {
                fits.table_at(h.index)
                    .is_ok_and(|t| t.has_column("TARGETID") && t.has_column("Z"))
            })
            .ok_or_else(|| {
                usage(format!(
                    "{}: no binary table with TARGETID and Z columns (give a redrock file or a quasar catalog such as QSO_cat_*.fits)",
                    path.display()
                ))
            })?;
        let t = fits.table_at(hdu).map_err(|e| usage(e.to_string()))?;
        let tid = t.read_i64("TARGETID").map_err(|e| usage(e.to_string()))?;
        let z = t.read_f64("Z").map_err(|e| usage(e.to_string()))?;
        let class = if t.has_column("SPECTYPE") {
            t.read_str("SPECTYPE")
                .map_err(|e| usage(e.to_string()))?
                .into_iter()
                .map(|s| s.trim().to_string())
                .collect()
        } else {
            vec!["QSO".to_string(); tid.len()]
        };
        for ((t, z), c) in tid.into_iter().zip(z).zip(class) {
            out.entry(t).or_insert((z, c));
        }
    }
    Ok(out)
}

/// Where a file spectrum's pixels are, for [`visit_file_spectra`].
pub enum FileSource<'a> {
    /// Row `row` of a DESI coadd (its arms separate).
    Desi {
        /// The coadd.
        coadd: &'a astrolab_formats::spectra::DesiCoadd,
        /// The FIBERMAP row.
        row: usize,
    },
    /// An SDSS/BOSS `spec-*.fits` spectrum.
    Sdss(&'a astrolab_formats::spectra::SdssSpectrum),
}

/// Calls `visit` with every spectrum of `files` (from
/// [`list_spectrum_files`]) in file then row order: what it is (a DESI
/// row's redshift and class joined from `redshifts` by TARGETID, an SDSS
/// file's its own) and where its pixels are.
pub fn visit_file_spectra(
    files: &[PathBuf],
    redshifts: &HashMap<i64, (f64, String)>,
    mut visit: impl FnMut(FileSpectrum, FileSource<'_>) -> Result<(), PipelineError>,
) -> Result<(), PipelineError> {
    for path in files {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        let fits = FitsFile::open(path).map_err(|e| usage(e.to_string()))?;
        if fits.has_hdu("FIBERMAP") {
            drop(fits);
            let c = read_desi_coadd(path).map_err(|e| usage(e.to_string()))?;
            for (row, &tid) in c.fibermap.targetid.iter().enumerate() {
                let found = redshifts.get(&tid);
                let s = FileSpectrum {
                    name: format!("{stem}:{tid}"),
                    path: path.clone(),
                    survey: FileSurvey::Desi,
                    target_id: Some(tid),
                    z: found.map(|f| f.0),
                    class: found.map(|f| f.1.clone()),
                    zwarning: None,
                };
                visit(s, FileSource::Desi { coadd: &c, row })?;
            }
        } else {
            drop(fits);
            let sp = read_sdss_spec(path).map_err(|e| usage(e.to_string()))?;
            let s = FileSpectrum {
                name: stem,
                path: path.clone(),
                survey: FileSurvey::Sdss,
                target_id: None,
                z: sp.z,
                class: sp.class.clone(),
                zwarning: sp.zwarning,
            };
            visit(s, FileSource::Sdss(&sp))?;
        }
    }
    Ok(())
}

/// Reads every spectrum of `files` (from [`list_spectrum_files`]) and
/// brings it onto the grid with the redshift range `z_range`: SDSS files
/// with [`Preprocessor::sdss`], DESI rows with the default preprocessor.
pub fn read_file_spectra(
    files: &[PathBuf],
    redshifts: &HashMap<i64, (f64, String)>,
    z_range: [f64; 2],
) -> Result<FileSet, PipelineError> {
    let with_range = |mut p: Preprocessor| {
        p.z_min = z_range[0];
        p.z_max = z_range[1];
        p
    };
    let (desi_pre, sdss_pre) = (
        with_range(Preprocessor::default()),
        with_range(Preprocessor::sdss()),
    );
    let mut out = FileSet {
        dataset: Dataset::new(REST_NPIX),
        ..FileSet::default()
    };
    visit_file_spectra(files, redshifts, |s, source| {
        let (pre, segments): (&Preprocessor, Vec<Segment<'_>>) = match source {
            FileSource::Desi { coadd, row } => (
                &desi_pre,
                coadd
                    .arms
                    .iter()
                    .map(|a| {
                        let r = row * a.npix..(row + 1) * a.npix;
                        Segment {
                            wavelength_a: &a.wavelength,
                            flux: &a.flux[r.clone()],
                            ivar: &a.ivar[r.clone()],
                            mask: &a.mask[r],
                        }
                    })
                    .collect(),
            ),
            FileSource::Sdss(sp) => (
                &sdss_pre,
                vec![Segment {
                    wavelength_a: &sp.wavelength,
                    flux: &sp.flux,
                    ivar: &sp.ivar,
                    mask: &sp.and_mask,
                }],
            ),
        };
        let i = out.spectra.len();
        match s.z {
            None => out.skipped.push((i, "no_redshift".to_string())),
            Some(z) => match pre.rest_frame(&segments, z) {
                Ok(r) => out.dataset.push(i as i64, &r.flux, &r.ivar),
                Err(e) => out.skipped.push((i, e.reason().to_string())),
            },
        }
        out.spectra.push(s);
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_path_is_named() {
        let e = list_spectrum_files(&[PathBuf::from("/no/such/spec-1-2-3.fits")]).unwrap_err();
        assert!(e.to_string().contains("/no/such/spec-1-2-3.fits"), "{e}");
    }

    #[test]
    fn directories_stand_for_their_spectrum_files() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            "b/spec-1-2-3.fits",
            "a/coadd-x.fits",
            "a/notes.txt",
            "zcat.fits",
        ] {
            let p = d.path().join(n);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "x").unwrap();
        }
        let got = list_spectrum_files(&[d.path().to_path_buf(), d.path().join("a/coadd-x.fits")])
            .unwrap();
        let rel: Vec<String> = got
            .iter()
            .map(|p| p.strip_prefix(d.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(rel, ["a/coadd-x.fits", "b/spec-1-2-3.fits"]);
    }
}
