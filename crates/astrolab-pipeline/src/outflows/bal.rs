//! `outflows bal`: BAL troughs and indices of quasars as DESI's BAL catalog
//! measures them ([`astrolab_qso::bal`]), with the apparent columns of the
//! strongest C IV trough ([`astrolab_qso::aod::trough_columns`]).
//!
//! Two inputs, one catalog layout:
//! * **The store** (no paths): the quasars that pass `--select`, in shards
//!   of `--shard-size` TARGETIDs (one index query and one batched read per
//!   spectra file each, so memory follows the shard), at the store's
//!   redshifts; the rows go into the store's `quasar_bal` under the
//!   catalog id (unless `--no-store`) and into the catalog file.
//! * **Files**: SDSS/BOSS `spec-*.fits` (at the file's pipeline redshift,
//!   or `--z`) and DESI `coadd-*.fits` (arms merged onto DESI's 0.8 A grid;
//!   redshift by TARGETID from `--redshifts` tables, or `--z`), in shards of
//!   [`FILES_PER_SHARD`] files; only the catalog file is written (file
//!   spectra have no place in the store).
//!
//! The catalog: one row per spectrum, measured or not, in selection order
//! (TARGETID) or file order. Columns: NAME, TARGETID, Z, SKIP_REASON
//! (empty when measured), CONT_FIT (`iterative`, or `red_side` when the
//! fallback continuum of [`astrolab_qso::bal::ContinuumMethod::RedSide`]
//! was needed), DESI's BAL catalog columns with their names, types and
//! shapes ([`BalRow::columns`]), then [`AOD_COLUMNS`]. A skipped spectrum
//! keeps the catalog's defaults (indices 0, trough slots -1) and its
//! BALMASK; its reason is in SKIP_REASON, never a number. `.fits` writes a
//! binary table (`BALCAT`), anything else CSV with vector columns flattened
//! as `NAME_0`, `NAME_1`, ...
//!
//! Pixels: a pixel counts only with a finite positive inverse variance and
//! no bad mask bit (DESI: any `MASK` bit, desispec's rule; SDSS/BOSS: the
//! `and_mask` bits of [`SDSS_BAD_PIXEL_BITS`]); the others get `ivar = 0`.
//!
//! The catalog id (`bal-` and 16 hex digits) is the SHA-256 of the
//! continuum basis file and the measurement settings: rows under one id
//! are comparable, and a run replaces its id's rows whole.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use astrolab_anomaly::preprocess::SDSS_BAD_PIXEL_BITS;
use astrolab_formats::fits::{write_fits, ColumnData, ColumnOut, HduOut};
use astrolab_formats::FitsFile;
use astrolab_qso::aod::{trough_columns, DoubletColumns, TroughColumns};
use astrolab_qso::bal::{measure, BalConfig, BalRow, BalSkip, ColumnValue, Spectrum};
use astrolab_qso::continuum::Basis;
use astrolab_store::bal::MEASURED;
use astrolab_store::{BalRecord, Progress};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::anomalies::files::{read_redshift_tables, visit_file_spectra, FileSource};
use crate::anomalies::read::read_observed;
use crate::context::Ctx;
use crate::error::{PipelineError, UsageError};
use crate::params::defs::OutflowsBalArgs;
use crate::pipeline::Pipeline;

use crate::quasar_shards::{plan_quasar_inputs, QuasarChunks, QuasarInputs};
pub use crate::quasar_shards::{DEFAULT_SELECT, FILES_PER_SHARD};

/// Ions whose apparent columns are measured over the strongest C IV
/// trough, with their catalog suffixes.
const AOD_IONS: [&str; 3] = ["CIV", "SIIV", "ALIII"];

/// The apparent-column columns after DESI's: the trough's velocities
/// (km/s of outflow), then per ion in [`AOD_IONS`] `LOGN` (log10 cm^-2 of
/// the strong line's blended column; the weak line's when saturated, a
/// lower limit), `ERR_LOGN` (dex), `SAT` (1 saturated), `PC` (1 partial
/// covering) and `COVER` (the covering fraction when saturated). Empty
/// (CSV) or NaN (FITS) where not measured.
pub fn aod_column_names() -> Vec<String> {
    let mut names = vec!["AOD_VMIN".to_string(), "AOD_VMAX".to_string()];
    for ion in AOD_IONS {
        for what in ["LOGN", "ERR_LOGN", "SAT", "PC", "COVER"] {
            names.push(format!("{what}_{ion}"));
        }
    }
    names
}

/// The `outflows-bal` pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct OutflowsBal;

/// One shard: store TARGETIDs or spectrum files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BalShard {
    /// TARGETIDs of the store, in selection order.
    Store {
        /// The catalog id (fixed when planning).
        catalog_id: String,
        /// The targets.
        target_ids: Vec<i64>,
    },
    /// Spectrum files, in path order.
    Files {
        /// The catalog id.
        catalog_id: String,
        /// The files.
        files: Vec<PathBuf>,
    },
}

/// One spectrum's catalog row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalEntry {
    /// NAME: the TARGETID (store), the file stem (SDSS) or
    /// `STEM:TARGETID` (DESI coadd rows).
    pub name: String,
    /// TARGETID, when the spectrum has one.
    pub target_id: Option<i64>,
    /// Raw file of a store spectrum (access follows it).
    pub file_id: Option<i64>,
    /// The redshift measured at; none when no table gave one.
    pub z: Option<f64>,
    /// Why it got no numbers; none when measured.
    pub skip: Option<String>,
    /// How the continuum was fitted, when measured.
    pub cont_fit: Option<String>,
    /// DESI's catalog row (defaults and BALMASK for a skip).
    pub row: BalRow,
    /// [`aod_column_names`] values; none where not measured.
    pub aod: Vec<Option<f64>>,
}

/// What one shard gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalPartial {
    /// The catalog id.
    pub catalog_id: String,
    /// Its rows, in order.
    pub entries: Vec<BalEntry>,
    /// Store targets without a spectrum.
    pub missing: usize,
    /// Files read.
    pub files: usize,
}

/// What a BAL run made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalOutput {
    /// The catalog id.
    pub catalog_id: String,
    /// Spectra in the catalog (measured or not).
    pub spectra: usize,
    /// Spectra measured.
    pub measured: usize,
    /// Of them with BI_CIV > 0 (classical BALs).
    pub bi_civ_positive: usize,
    /// Of them with AI_CIV > 0.
    pub ai_civ_positive: usize,
    /// Spectra not measured, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Selected store targets without a spectrum.
    pub without_spectrum: usize,
    /// Spectrum files read (files mode).
    pub files: usize,
    /// The catalog.
    pub output: PathBuf,
    /// Whether the rows went into the store.
    pub stored: bool,
}

fn usage(msg: String) -> PipelineError {
    PipelineError::Failed(anyhow::Error::new(UsageError(msg)))
}

/// The settings every measurement uses (DESI's catalog, with the red-side
/// fallback continuum).
pub fn bal_config() -> BalConfig {
    BalConfig::default()
}

/// The continuum basis `--pca` names (default: the built-in DESI PCA
/// components) and the SHA-256 (hex) of its file.
pub fn load_basis(pca: Option<&Path>) -> Result<(Basis, String), PipelineError> {
    let (name, bytes) = match pca {
        Some(p) => (
            p.to_path_buf(),
            std::fs::read(p).map_err(|e| usage(format!("--pca {}: {e}", p.display())))?,
        ),
        None => (
            PathBuf::from("PCA_Eigenvectors.fits (built in)"),
            astrolab_qso::PCA_EIGENVECTORS_FITS.to_vec(),
        ),
    };
    let sha = hex(&Sha256::digest(&bytes));
    let fits = FitsFile::from_bytes(&name, bytes).map_err(|e| usage(format!("--pca: {e}")))?;
    let layout = "give DESI's PCA_Eigenvectors*.fits layout (a table with WAVE, PCA0, PCA1, ...) or a redrock template file (rrtemplate-QSO-*.fits: an image of components on a log10 grid, CRVAL1/CDELT1)";
    // A redrock template file: components as rows of the primary image on
    // a log10-wavelength grid (redrock's own layout).
    let primary = &fits
        .hdu_at(0)
        .map_err(|e| usage(format!("--pca {}: {e}", name.display())))?
        .header;
    if let (Some(loglam0), Some(dloglam)) = (primary.get_f64("CRVAL1"), primary.get_f64("CDELT1")) {
        let (data, shape) = fits
            .read_image_f64_at(0)
            .map_err(|e| usage(format!("--pca {}: {e} ({layout})", name.display())))?;
        if shape.len() != 2 || shape[1] == 0 {
            return Err(usage(format!(
                "--pca {}: the primary image has shape {shape:?}, not components x pixels ({layout})",
                name.display()
            )));
        }
        let comps = data.chunks(shape[1]).map(<[f64]>::to_vec).collect();
        let basis = Basis::from_log_grid(loglam0, dloglam, comps)
            .map_err(|e| usage(format!("--pca {}: {e}", name.display())))?;
        return Ok((basis, sha));
    }
    let table = fits
        .first_table()
        .map_err(|e| usage(format!("--pca {}: {e} ({layout})", name.display())))?;
    let wave = table
        .read_f64("WAVE")
        .map_err(|e| usage(format!("--pca {}: {e} ({layout})", name.display())))?;
    let mut comps = Vec::new();
    while table.has_column(&format!("PCA{}", comps.len())) {
        comps.push(
            table
                .read_f64(&format!("PCA{}", comps.len()))
                .map_err(|e| usage(format!("--pca: {e}")))?,
        );
    }
    if comps.is_empty() {
        return Err(usage(format!(
            "--pca {}: no PCA0 column ({layout})",
            name.display()
        )));
    }
    let basis =
        Basis::new(wave, comps).map_err(|e| usage(format!("--pca {}: {e}", name.display())))?;
    Ok((basis, sha))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `bal-` and 16 hex digits of the SHA-256 of the basis file's SHA-256 and
/// the settings.
pub fn catalog_id(basis_sha256: &str, config: &BalConfig) -> String {
    let settings = format!(
        "{basis_sha256}|fit {}-{} A|max_iter {}|mask {:?}|positive {}|red_side {}",
        config.fit_rest_min_a,
        config.fit_rest_max_a,
        config.max_iter,
        config.mask_from,
        config.require_positive_continuum,
        config.red_side_fallback
    );
    format!("bal-{}", &hex(&Sha256::digest(settings.as_bytes()))[..16])
}

/// Measures one spectrum (wavelengths increasing, bad pixels at ivar 0).
pub fn measure_entry(
    basis: &Basis,
    config: &BalConfig,
    name: String,
    target_id: Option<i64>,
    file_id: Option<i64>,
    z: Option<f64>,
    spec: &Spectrum<'_>,
) -> BalEntry {
    let naod = aod_column_names().len();
    let skipped = |reason: String, row: BalRow| BalEntry {
        name: name.clone(),
        target_id,
        file_id,
        z,
        skip: Some(reason),
        cont_fit: None,
        row,
        aod: vec![None; naod],
    };
    let Some(zz) = z.filter(|z| z.is_finite()) else {
        let mut row = BalRow::skipped(&BalSkip::AllMasked { window: "none" }, basis.n_components());
        row.balmask = 1;
        return skipped("no_redshift".into(), row);
    };
    match measure(spec, zz, basis, config) {
        Err(e) => skipped(
            e.reason().to_string(),
            BalRow::skipped(&e, basis.n_components()),
        ),
        Ok(r) => {
            let aod = aod_values(trough_columns(&r, spec).as_ref(), naod);
            BalEntry {
                name,
                target_id,
                file_id,
                z,
                skip: None,
                cont_fit: Some(r.continuum_method.as_str().to_string()),
                row: r.row,
                aod,
            }
        }
    }
}

fn aod_values(t: Option<&TroughColumns>, n: usize) -> Vec<Option<f64>> {
    let Some(t) = t else {
        return vec![None; n];
    };
    let mut out = vec![Some(t.vmin_km_s), Some(t.vmax_km_s)];
    for d in [&t.civ, &t.siiv, &t.aliii] {
        match d {
            None => out.extend([None; 5]),
            Some(d) => out.extend(doublet_values(d)),
        }
    }
    out
}

fn doublet_values(d: &DoubletColumns) -> [Option<f64>; 5] {
    // The best column: the weak line's when saturated (a lower limit).
    let (n, err) = if d.saturated {
        (d.weak.n_cm2, d.weak.err_n_cm2)
    } else {
        (d.best_n_cm2, d.strong.err_n_cm2.min(d.weak.err_n_cm2))
    };
    let finite = |x: f64| x.is_finite().then_some(x);
    let log_n = (n > 0.0).then(|| n.log10());
    let err_dex = (n > 0.0).then(|| std::f64::consts::LOG10_E * err / n);
    [
        log_n.and_then(finite),
        err_dex.and_then(finite),
        Some(f64::from(u8::from(d.saturated))),
        Some(f64::from(u8::from(d.partial_covering))),
        d.covering_fraction.and_then(finite),
    ]
}

/// Flux and inverse variance as f64, `ivar = 0` where `bad(mask)`.
pub fn weighted(flux: &[f32], ivar: &[f32], mask: &[u32], bad: u32) -> (Vec<f64>, Vec<f64>) {
    let f = flux.iter().map(|&x| f64::from(x)).collect();
    let iv = ivar
        .iter()
        .zip(mask)
        .zip(flux)
        .map(|((&v, &m), &x)| {
            let v = f64::from(v);
            if m & bad != 0 || v.is_nan() || v <= 0.0 || !v.is_finite() || !x.is_finite() {
                0.0
            } else {
                v
            }
        })
        .collect();
    (f, iv)
}

impl OutflowsBal {
    fn store_shard(
        &self,
        ctx: &Ctx,
        basis: &Basis,
        config: &BalConfig,
        target_ids: &[i64],
    ) -> Result<(Vec<BalEntry>, usize), PipelineError> {
        let mut store = ctx.open_store()?;
        let shard = read_observed(&mut store, target_ids)?;
        let entries = shard
            .spectra
            .iter()
            .map(|(tid, wave, row, file_id)| {
                let (flux, ivar) = weighted(&row.flux, &row.ivar, &row.mask, u32::MAX);
                let spec = Spectrum {
                    wavelength_a: wave,
                    flux: &flux,
                    ivar: &ivar,
                };
                measure_entry(
                    basis,
                    config,
                    tid.to_string(),
                    Some(*tid),
                    *file_id,
                    Some(row.z),
                    &spec,
                )
            })
            .collect();
        Ok((entries, shard.missing))
    }

    fn files_shard(
        &self,
        a: &OutflowsBalArgs,
        basis: &Basis,
        config: &BalConfig,
        files: &[PathBuf],
    ) -> Result<Vec<BalEntry>, PipelineError> {
        let redshifts = read_redshift_tables(&a.redshifts)?;
        Ok(read_file_spectra(files, &redshifts, a.z)?
            .iter()
            .map(|f| {
                measure_entry(
                    basis,
                    config,
                    f.name.clone(),
                    f.target_id,
                    None,
                    f.z,
                    &f.spectrum(),
                )
            })
            .collect())
    }
}

/// One spectrum of a file, ready to measure.
#[derive(Debug, Clone)]
pub struct FileSpectrum {
    /// NAME (module docs).
    pub name: String,
    /// DESI TARGETID.
    pub target_id: Option<i64>,
    /// The redshift to measure at: `--z`, the file's (SDSS) or the
    /// redshift tables' (DESI); none without one.
    pub z: Option<f64>,
    /// Observed wavelengths, A (shared by a coadd's rows).
    pub wave: std::sync::Arc<Vec<f64>>,
    /// Flux.
    pub flux: Vec<f64>,
    /// Inverse variance, 0 on bad pixels (module docs).
    pub ivar: Vec<f64>,
    /// Instrumental sigma (km/s) at the observed [O III] 5007, from an
    /// SDSS/BOSS file's `wdisp` (median of the 21 pixels around it); none
    /// for DESI coadds or without a redshift.
    pub sigma_inst_kms: Option<f64>,
}

impl FileSpectrum {
    /// The arrays as [`Spectrum`].
    pub fn spectrum(&self) -> Spectrum<'_> {
        Spectrum {
            wavelength_a: &self.wave,
            flux: &self.flux,
            ivar: &self.ivar,
        }
    }
}

/// Reads every spectrum of `files` (SDSS/BOSS `spec-*.fits`; DESI coadds
/// with their arms merged) in file then row order, bad pixels at `ivar =
/// 0`, at redshift `z` when given.
pub fn read_file_spectra(
    files: &[PathBuf],
    redshifts: &std::collections::HashMap<i64, (f64, String)>,
    z: Option<f64>,
) -> Result<Vec<FileSpectrum>, PipelineError> {
    let mut out = Vec::new();
    let merged = std::sync::Arc::new(astrolab_formats::spectra::merged_wavelength());
    visit_file_spectra(files, redshifts, |s, source| {
        let zz = z.or(s.z);
        let mut sigma_inst_kms = None;
        let (wave, (flux, ivar)) = match source {
            FileSource::Desi { coadd, row } => {
                let m = coadd.merged(row).map_err(|e| usage(e.to_string()))?;
                (
                    merged.clone(),
                    weighted(&m.flux, &m.ivar, &m.mask, u32::MAX),
                )
            }
            FileSource::Sdss(sp) => {
                if let (Some(wd), Some(zz)) = (&sp.wdisp, zz) {
                    sigma_inst_kms = sdss_sigma_inst(&sp.wavelength, wd, 5008.24 * (1.0 + zz));
                }
                (
                    std::sync::Arc::new(sp.wavelength.clone()),
                    weighted(&sp.flux, &sp.ivar, &sp.and_mask, SDSS_BAD_PIXEL_BITS),
                )
            }
        };
        out.push(FileSpectrum {
            name: s.name,
            target_id: s.target_id,
            z: z.or(s.z),
            wave,
            flux,
            ivar,
            sigma_inst_kms,
        });
        Ok(())
    })?;
    Ok(out)
}

/// Instrumental sigma (km/s) at observed `lambda` from SDSS's `wdisp`
/// (sigma in 1e-4 dex pixels: one pixel is `1e-4 ln(10) c` = 69.03 km/s),
/// the median of the positive values of the 21 pixels around it.
fn sdss_sigma_inst(wave: &[f64], wdisp: &[f32], lambda: f64) -> Option<f64> {
    let i = wave.partition_point(|&w| w < lambda);
    if i == 0 || i >= wave.len() || wdisp.len() != wave.len() {
        return None;
    }
    let mut v: Vec<f64> = wdisp[i.saturating_sub(10)..(i + 11).min(wdisp.len())]
        .iter()
        .map(|&x| f64::from(x))
        .filter(|x| *x > 0.0 && x.is_finite())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2] * 1e-4 * std::f64::consts::LN_10 * 299_792.458)
}

impl Pipeline for OutflowsBal {
    type Params = OutflowsBalArgs;
    type Shard = BalShard;
    type Partial = BalPartial;
    type Output = BalOutput;

    /// Checks the basis and the mode's options, fixes the catalog id, and
    /// cuts the selection (or the files) into shards.
    fn plan(&self, ctx: &Ctx, a: &OutflowsBalArgs) -> Result<Vec<BalShard>, PipelineError> {
        let (_, sha) = load_basis(a.pca.as_deref())?;
        let catalog_id = catalog_id(&sha, &bal_config());
        let inputs = QuasarInputs {
            paths: &a.paths,
            select: a.select.as_deref(),
            z: a.z,
            redshifts: &a.redshifts,
            shard_size: a.shard_size,
        };
        Ok(
            match plan_quasar_inputs(ctx, inputs, "measured", Some(0.0))? {
                QuasarChunks::Store(chunks) => chunks
                    .into_iter()
                    .map(|target_ids| BalShard::Store {
                        catalog_id: catalog_id.clone(),
                        target_ids,
                    })
                    .collect(),
                QuasarChunks::Files(chunks) => chunks
                    .into_iter()
                    .map(|files| BalShard::Files {
                        catalog_id: catalog_id.clone(),
                        files,
                    })
                    .collect(),
            },
        )
    }

    fn run_shard(
        &self,
        ctx: &Ctx,
        a: &OutflowsBalArgs,
        shard: &BalShard,
    ) -> Result<BalPartial, PipelineError> {
        let (basis, _) = load_basis(a.pca.as_deref())?;
        let config = bal_config();
        match shard {
            BalShard::Store {
                catalog_id,
                target_ids,
            } => {
                let (entries, missing) = self.store_shard(ctx, &basis, &config, target_ids)?;
                Ok(BalPartial {
                    catalog_id: catalog_id.clone(),
                    entries,
                    missing,
                    files: 0,
                })
            }
            BalShard::Files { catalog_id, files } => Ok(BalPartial {
                catalog_id: catalog_id.clone(),
                entries: self.files_shard(a, &basis, &config, files)?,
                missing: 0,
                files: files.len(),
            }),
        }
    }

    /// Writes the catalog (and the store's rows) from every shard's rows.
    fn reduce(
        &self,
        ctx: &Ctx,
        a: &OutflowsBalArgs,
        partials: Vec<BalPartial>,
    ) -> Result<BalOutput, PipelineError> {
        let catalog_id = match partials.first() {
            Some(p) => {
                if let Some(q) = partials.iter().find(|q| q.catalog_id != p.catalog_id) {
                    return Err(PipelineError::Executor(format!(
                        "shards were measured with two catalog ids ({} and {})",
                        p.catalog_id, q.catalog_id
                    )));
                }
                p.catalog_id.clone()
            }
            None => catalog_id(&load_basis(a.pca.as_deref())?.1, &bal_config()),
        };
        let (basis, _) = load_basis(a.pca.as_deref())?;
        let mut entries = Vec::new();
        let (mut missing, mut files) = (0, 0);
        for p in partials {
            entries.extend(p.entries);
            missing += p.missing;
            files += p.files;
        }
        write_catalog(&a.output, &entries, basis.n_components())?;
        let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
        for e in &entries {
            if let Some(r) = &e.skip {
                *skipped.entry(r.clone()).or_default() += 1;
            }
        }
        let measured: Vec<&BalEntry> = entries.iter().filter(|e| e.skip.is_none()).collect();
        let store_mode = a.paths.is_empty();
        let stored = store_mode && !a.no_store;
        if stored {
            let records = entries
                .iter()
                .map(record_of)
                .collect::<Result<Vec<_>, _>>()?;
            let mut store = ctx.open_store()?;
            store
                .write_bal(&catalog_id, &records, &mut Progress::none())
                .map_err(|e| PipelineError::Store("writing the BAL rows".into(), Box::new(e)))?;
        }
        let out = BalOutput {
            catalog_id,
            spectra: entries.len(),
            measured: measured.len(),
            bi_civ_positive: measured.iter().filter(|e| e.row.bi_civ > 0.0).count(),
            ai_civ_positive: measured.iter().filter(|e| e.row.ai_civ > 0.0).count(),
            skipped,
            without_spectrum: missing,
            files,
            output: a.output.clone(),
            stored,
        };
        let skips: Vec<String> = out
            .skipped
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        ctx.info(format!(
            "BAL catalog {}: {} spectra, {} measured ({} with BI_CIV > 0, {} with AI_CIV > 0), {} skipped{}{}; catalog {}{}",
            out.catalog_id,
            out.spectra,
            out.measured,
            out.bi_civ_positive,
            out.ai_civ_positive,
            out.spectra - out.measured,
            if skips.is_empty() { String::new() } else { format!(" ({})", skips.join(", ")) },
            if store_mode { format!("; {} selected without a spectrum", out.without_spectrum) } else { format!("; {} files", out.files) },
            out.output.display(),
            if stored { ", rows in the store" } else { "" },
        ));
        Ok(out)
    }
}

/// The store's row of an entry.
fn record_of(e: &BalEntry) -> Result<BalRecord, PipelineError> {
    let target_id = e.target_id.ok_or_else(|| {
        PipelineError::Executor(format!("{}: a store row without a TARGETID", e.name))
    })?;
    let mut row = serde_json::Map::new();
    for (name, v) in e.row.columns() {
        row.insert(name.to_string(), json_of(&v));
    }
    for (name, v) in aod_column_names().into_iter().zip(&e.aod) {
        row.insert(
            name,
            v.map_or(serde_json::Value::Null, serde_json::Value::from),
        );
    }
    if let Some(r) = &e.skip {
        row.insert("SKIP_REASON".into(), r.clone().into());
    }
    Ok(BalRecord {
        target_id,
        file_id: e.file_id,
        z: e.z.unwrap_or(f64::NAN),
        outcome: e.skip.clone().unwrap_or_else(|| MEASURED.to_string()),
        balmask: i64::from(e.row.balmask),
        cont_fit: e.cont_fit.clone(),
        row_json: serde_json::Value::Object(row).to_string(),
    })
}

fn json_of(v: &ColumnValue<'_>) -> serde_json::Value {
    match v {
        ColumnValue::F32(x) => serde_json::Value::from(f64::from(*x)),
        ColumnValue::I32(x) => serde_json::Value::from(*x),
        ColumnValue::U8(x) => serde_json::Value::from(*x),
        ColumnValue::F32s(xs) => xs.iter().map(|&x| f64::from(x)).collect(),
    }
}

/// Writes the catalog: FITS for `.fits`, else CSV (module docs).
pub fn write_catalog(
    path: &Path,
    entries: &[BalEntry],
    pca_components: usize,
) -> Result<(), PipelineError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| usage(format!("--output {}: {e}", path.display())))?;
    }
    let is_fits = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("fits"));
    if is_fits {
        write_catalog_fits(path, entries, pca_components)
    } else {
        crate::output::write_file(path, catalog_csv(entries).as_bytes())?;
        Ok(())
    }
}

/// The CSV catalog.
pub fn catalog_csv(entries: &[BalEntry]) -> String {
    let mut s = String::from("NAME,TARGETID,Z,SKIP_REASON,CONT_FIT");
    let aod_names = aod_column_names();
    if let Some(e) = entries.first() {
        for (name, v) in e.row.columns() {
            match v {
                ColumnValue::F32s(xs) => {
                    for k in 0..xs.len() {
                        let _ = write!(s, ",{name}_{k}");
                    }
                }
                _ => {
                    let _ = write!(s, ",{name}");
                }
            }
        }
    }
    for n in &aod_names {
        let _ = write!(s, ",{n}");
    }
    s.push('\n');
    let opt = |v: Option<f64>| v.map_or(String::new(), |x| x.to_string());
    for e in entries {
        let _ = write!(
            s,
            "{},{},{},{},{}",
            e.name,
            e.target_id.map_or(String::new(), |t| t.to_string()),
            opt(e.z),
            e.skip.as_deref().unwrap_or(""),
            e.cont_fit.as_deref().unwrap_or("")
        );
        for (_, v) in e.row.columns() {
            match v {
                ColumnValue::F32(x) => {
                    let _ = write!(s, ",{x}");
                }
                ColumnValue::I32(x) => {
                    let _ = write!(s, ",{x}");
                }
                ColumnValue::U8(x) => {
                    let _ = write!(s, ",{x}");
                }
                ColumnValue::F32s(xs) => {
                    for x in xs {
                        let _ = write!(s, ",{x}");
                    }
                }
            }
        }
        for v in &e.aod {
            let _ = write!(s, ",{}", opt(*v));
        }
        s.push('\n');
    }
    s
}

fn write_catalog_fits(
    path: &Path,
    entries: &[BalEntry],
    pca_components: usize,
) -> Result<(), PipelineError> {
    let strings = |f: &dyn Fn(&BalEntry) -> String| {
        let values: Vec<String> = entries.iter().map(f).collect();
        let width = values.iter().map(String::len).max().unwrap_or(1).max(1);
        ColumnData::Str { width, values }
    };
    let mut columns = vec![
        ColumnOut::new("NAME", strings(&|e| e.name.clone())),
        ColumnOut::new(
            "TARGETID",
            ColumnData::I64(entries.iter().map(|e| e.target_id.unwrap_or(-1)).collect()),
        ),
        ColumnOut::new(
            "Z",
            ColumnData::F64(entries.iter().map(|e| e.z.unwrap_or(f64::NAN)).collect()),
        ),
        ColumnOut::new(
            "SKIP_REASON",
            strings(&|e| e.skip.clone().unwrap_or_default()),
        ),
        ColumnOut::new(
            "CONT_FIT",
            strings(&|e| e.cont_fit.clone().unwrap_or_default()),
        ),
    ];
    // The column list of a row with the run's basis size (every row has
    // it, skipped ones too), so an empty catalog has its columns.
    let template = BalRow::skipped(&BalSkip::AllMasked { window: "" }, pca_components);
    for (k, (name, v)) in template.columns().into_iter().enumerate() {
        let data = match v {
            ColumnValue::F32(_) => ColumnData::F32(
                entries
                    .iter()
                    .map(|e| match e.row.columns()[k].1 {
                        ColumnValue::F32(x) => x,
                        _ => f32::NAN,
                    })
                    .collect(),
            ),
            ColumnValue::I32(_) => ColumnData::I32(
                entries
                    .iter()
                    .map(|e| match e.row.columns()[k].1 {
                        ColumnValue::I32(x) => x,
                        _ => -1,
                    })
                    .collect(),
            ),
            ColumnValue::U8(_) => ColumnData::U8(
                entries
                    .iter()
                    .map(|e| match e.row.columns()[k].1 {
                        ColumnValue::U8(x) => x,
                        _ => 1,
                    })
                    .collect(),
            ),
            ColumnValue::F32s(xs) => {
                let repeat = xs.len();
                let mut values = Vec::with_capacity(repeat * entries.len());
                for e in entries {
                    match e.row.columns()[k].1 {
                        ColumnValue::F32s(ys) if ys.len() == repeat => values.extend_from_slice(ys),
                        _ => {
                            return Err(PipelineError::Executor(format!(
                                "{}: {name} has not {repeat} values",
                                e.name
                            )))
                        }
                    }
                }
                ColumnData::F32Vector { repeat, values }
            }
        };
        columns.push(ColumnOut::new(name, data));
    }
    for (k, name) in aod_column_names().into_iter().enumerate() {
        columns.push(ColumnOut::new(
            name,
            ColumnData::F64(
                entries
                    .iter()
                    .map(|e| e.aod[k].unwrap_or(f64::NAN))
                    .collect(),
            ),
        ));
    }
    write_fits(
        path,
        &[HduOut::Table {
            extname: Some("BALCAT".into()),
            header: Vec::new(),
            columns,
        }],
    )
    .map_err(|e| PipelineError::Failed(anyhow::anyhow!("writing {}: {e}", path.display())))
}
