//! DESI coadd (+ redrock) -> spectra rows on the merged grid.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use astrolab_formats::spectra::{
    read_desi_coadd, read_redrock, MERGED_DWAVE, MERGED_NPIX, MERGED_WAVE_MIN,
};
use sha2::{Digest, Sha256};

use crate::{FileMeta, SpectraRow, SpectraStoreError};

type Result<T> = std::result::Result<T, SpectraStoreError>;

/// The software version recorded in files this crate converts.
pub const SOFTWARE_VERSION: &str = concat!("astrolab-spectra ", env!("CARGO_PKG_VERSION"));

/// Redrock's best fit for one target, as offered to a selection.
#[derive(Debug, Clone, PartialEq)]
pub struct RedrockRow {
    pub target_id: i64,
    pub z: f64,
    pub zerr: f64,
    /// 0 is a confident fit.
    pub zwarn: i64,
    /// `GALAXY`, `QSO` or `STAR`.
    pub spectype: String,
    pub subtype: String,
    pub deltachi2: f64,
}

/// How many of a coadd's spectra a conversion kept, and why not the others
/// (`kept + not_targets + no_redshift + rejected = n_spectra`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConvertCounts {
    /// FIBERMAP rows in the coadd.
    pub n_spectra: usize,
    /// Rows kept.
    pub kept: usize,
    /// Of the rows kept, those without a redshift (`z` NaN): every row
    /// when the coadd has no redrock file.
    pub kept_without_redshift: usize,
    /// Rows skipped because their TARGETID is negative: DESI gives negative
    /// TARGETIDs to fibres that observed no target (unassigned or stuck
    /// fibres, sky positions without a target entry). See
    /// [`ConvertOptions::keep_negative_targetids`].
    pub not_targets: usize,
    /// Rows whose TARGETID has no redrock entry (skipped).
    pub no_redshift: usize,
    /// Rows the selection refused.
    pub rejected: usize,
}

/// Choices of a conversion beyond the selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConvertOptions {
    /// Keep the spectra of negative TARGETIDs (fibres on no target: sky
    /// and unassigned fibres). They are not astronomical targets, and
    /// several coadds can hold the same negative id, so by default they
    /// are skipped and counted in [`ConvertCounts::not_targets`]; keep them
    /// to study the sky spectra themselves.
    pub keep_negative_targetids: bool,
}

/// Converts one coadd: its arms merged onto the 0.8 A grid
/// (`astrolab_formats::spectra`, [`MERGED_NPIX`] pixels from 3600 A), `ra`,
/// `dec` from FIBERMAP `TARGET_RA`, `TARGET_DEC`, and `z` from redrock
/// joined on TARGETID (the first REDSHIFTS row of each target).
///
/// Spectra with a negative TARGETID (fibres on no target) are skipped
/// (counted in [`ConvertCounts::not_targets`]; [`convert_coadd_with`] can
/// keep them). With a redrock file, a spectrum whose TARGETID has no
/// redrock entry is skipped (counted in [`ConvertCounts::no_redshift`]) and
/// `select` decides
/// on the others (e.g. `|r| r.spectype == "QSO" && r.zwarn == 0`). Without
/// one, every spectrum is kept with `z = NaN` and `select` is not called:
/// it has nothing to look at, and the spectra stay useful (the lab can join
/// redshifts later from a zcatalog).
///
/// Rows come back sorted by `target_id`, as [`crate::write_spectra_file`]
/// stores them. `source_files` records the coadd (and redrock) file name and
/// sha256.
pub fn convert_coadd(
    coadd: &Path,
    redrock: Option<&Path>,
    select: impl Fn(&RedrockRow) -> bool,
) -> Result<(FileMeta, Vec<SpectraRow>)> {
    convert_coadd_counted(coadd, redrock, select).map(|(meta, rows, _)| (meta, rows))
}

/// [`convert_coadd`], also returning what was kept and skipped.
pub fn convert_coadd_counted(
    coadd: &Path,
    redrock: Option<&Path>,
    select: impl Fn(&RedrockRow) -> bool,
) -> Result<(FileMeta, Vec<SpectraRow>, ConvertCounts)> {
    convert_coadd_with(coadd, redrock, &ConvertOptions::default(), select)
}

/// [`convert_coadd_counted`] with [`ConvertOptions`].
pub fn convert_coadd_with(
    coadd: &Path,
    redrock: Option<&Path>,
    options: &ConvertOptions,
    select: impl Fn(&RedrockRow) -> bool,
) -> Result<(FileMeta, Vec<SpectraRow>, ConvertCounts)> {
    let c = read_desi_coadd(coadd)?;
    let merged = c.merged_all()?;
    let mut source_files = vec![source_entry(coadd)?];
    let redshifts: Option<HashMap<i64, RedrockRow>> = match redrock {
        None => None,
        Some(path) => {
            let rr = read_redrock(path)?;
            source_files.push(source_entry(path)?);
            let mut by_id = HashMap::with_capacity(rr.targetid.len());
            for i in 0..rr.targetid.len() {
                by_id.entry(rr.targetid[i]).or_insert_with(|| RedrockRow {
                    target_id: rr.targetid[i],
                    z: rr.z[i],
                    zerr: rr.zerr[i],
                    zwarn: rr.zwarn[i],
                    spectype: rr.spectype[i].clone(),
                    subtype: rr.subtype[i].clone(),
                    deltachi2: rr.deltachi2[i],
                });
            }
            Some(by_id)
        }
    };
    let mut counts = ConvertCounts {
        n_spectra: c.n_spectra(),
        ..ConvertCounts::default()
    };
    let fm = &c.fibermap;
    let mut rows = Vec::new();
    for (i, m) in merged.into_iter().enumerate() {
        let target_id = fm.targetid[i];
        if target_id < 0 && !options.keep_negative_targetids {
            counts.not_targets += 1;
            continue;
        }
        let z = match &redshifts {
            None => f64::NAN,
            Some(by_id) => match by_id.get(&target_id) {
                None => {
                    counts.no_redshift += 1;
                    continue;
                }
                Some(r) if !select(r) => {
                    counts.rejected += 1;
                    continue;
                }
                Some(r) => r.z,
            },
        };
        // The store indexes spectra by position too: a file without one
        // (a trimmed FIBERMAP) cannot be built, only scored as a file.
        if !(fm.target_ra[i].is_finite() && fm.target_dec[i].is_finite()) {
            return Err(SpectraStoreError::BadValue {
                path: coadd.to_path_buf(),
                column: "FIBERMAP TARGET_RA/TARGET_DEC".into(),
                row: i,
                message: "no sky position (the column is missing or not finite); the spectral store needs one: use the full coadd from the DESI archive (a trimmed file can still be scored with `astrolab anomalies score-files`)".into(),
            });
        }
        rows.push(SpectraRow {
            target_id,
            ra: fm.target_ra[i],
            dec: fm.target_dec[i],
            z,
            flux: m.flux,
            ivar: m.ivar,
            mask: m.mask,
        });
    }
    rows.sort_by_key(|r| r.target_id);
    counts.kept = rows.len();
    counts.kept_without_redshift = rows.iter().filter(|r| r.z.is_nan()).count();
    let meta = FileMeta {
        survey: c.survey.clone().unwrap_or_default(),
        program: c.program.clone().unwrap_or_default(),
        healpix: c.healpix,
        wave_min_a: MERGED_WAVE_MIN,
        dwave_a: MERGED_DWAVE,
        npix: MERGED_NPIX,
        source_files,
        software_version: SOFTWARE_VERSION.to_string(),
    };
    Ok((meta, rows, counts))
}

/// `"NAME sha256:HEX"` of a source file.
fn source_entry(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| SpectraStoreError::io(path, "open", e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| SpectraStoreError::io(path, "read", e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok(format!("{name} sha256:{}", hex::encode(hasher.finalize())))
}
