//! `qso fit`: quasar spectral fits ([`astrolab_qso::fit`]): power law,
//! Fe II and Balmer continuum, the line complexes of a table, [O III]
//! kinematics, black-hole masses, [O III] outflow energetics, Monte-Carlo
//! errors.
//!
//! Inputs as `outflows bal`: the store's quasars (`--select`, shards of
//! `--shard-size` TARGETIDs, at the store's redshifts) or spectrum files
//! (SDSS/BOSS `spec-*.fits` at the file's redshift or `--z`, DESI coadds
//! with `--redshifts`), [`FILES_PER_SHARD`] files per shard. Pixels count
//! with a positive inverse variance and no bad mask bit (the BAL
//! pipeline's rule).
//!
//! Instrumental resolution for the [O III] widths: SDSS/BOSS files give it
//! per pixel (`wdisp`, in 1e-4 dex pixels, so sigma = wdisp x 69.03 km/s),
//! taken at the observed [O III] 5007; DESI spectra (store and coadds)
//! use [`DESI_SIGMA_INST_KMS`].
//!
//! The catalog (`.fits`: binary table `QSOFIT`; else CSV): one row per
//! spectrum, fitted or not, in selection or file order: NAME, TARGETID, Z,
//! SKIP_REASON (empty when fitted), OIII_WING (1 when a wing is claimed),
//! OIII_WING_SNR, CONT_RCHI2, MC_SAMPLES, SIGMA_INST, then every
//! measurement of [`astrolab_qso::fit::spectrum::Measurements::columns`] (units: km/s for velocities
//! and widths, A for EW and peaks, `1e-17 erg s^-1 cm^-2` for fluxes, dex
//! of erg/s for luminosities, dex of M_sun for masses, M_sun, M_sun/yr
//! and erg/s for the outflow) with `_ERR` beside each when `--mc` > 0. A
//! skipped spectrum's numbers are NaN (FITS) or empty (CSV).
//!
//! In store mode the rows also go into the store's `quasar_fits` (unless
//! `--no-store`; only when an admin runs it, as every lab-wide result),
//! under the catalog id of the fit settings ([`FitSettings`]: line table,
//! Fe II templates' text, Balmer, E(B-V), outflow assumptions, Monte
//! Carlo), which are stored beside them so that the server redraws a
//! fit's model and components from the spectrum without the files.

// `!(x > 0.0)` is meant: it is also true for NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use astrolab_formats::fits::{write_fits, ColumnData, ColumnOut, HduOut};
use astrolab_qso::fit::conti::{Component, ContiSetup};
use astrolab_qso::fit::lines::LineTable;
use astrolab_qso::fit::measure::OutflowAssumptions;
use astrolab_qso::fit::spectrum::{fit_spectrum, FitConfig, QsoFit, SpectrumIn};
use astrolab_qso::fit::template::BroadenedTemplate;
use astrolab_store::qso_fits::FITTED;
use astrolab_store::{Progress, QsoFitRecord};
use serde::{Deserialize, Serialize};

use crate::anomalies::files::read_redshift_tables;
use crate::anomalies::read::read_observed;
use crate::context::Ctx;
use crate::error::{PipelineError, UsageError};
use crate::outflows::bal::read_file_spectra;
use crate::params::defs::QsoFitArgs;
use crate::pipeline::Pipeline;

use crate::quasar_shards::{plan_quasar_inputs, QuasarChunks, QuasarInputs};
pub use crate::quasar_shards::{DEFAULT_SELECT, FILES_PER_SHARD};

/// SDSS/BOSS instrumental sigma (km/s) when a file has no `wdisp`: one
/// 1e-4 dex pixel (69.03 km/s), the typical `wdisp` of SDSS coadds.
pub const SDSS_SIGMA_INST_KMS: f64 = 69.03;

/// DESI instrumental sigma (km/s) near [O III] for z < 0.8 (R ~ 4000-5000
/// in the R and Z arms, DESI Collaboration 2022, AJ 164, 207): c / (2.355
/// R) at R = 4500.
pub const DESI_SIGMA_INST_KMS: f64 = 28.3;

/// The `qso-fit` pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct QsoFitPipeline;

/// One shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QsoFitShard {
    /// Store TARGETIDs.
    Store { target_ids: Vec<i64> },
    /// Spectrum files.
    Files { files: Vec<PathBuf> },
}

/// One catalog row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QsoFitEntry {
    /// TARGETID (store), file stem (SDSS) or `STEM:TARGETID` (DESI).
    pub name: String,
    pub target_id: Option<i64>,
    /// The store's raw file of the spectrum (store mode).
    #[serde(default)]
    pub file_id: Option<i64>,
    pub z: Option<f64>,
    /// Why it was not fitted.
    pub skip: Option<String>,
    /// Whether an [O III] wing is claimed, and its S/N in the fit with it.
    pub oiii_wing: bool,
    pub oiii_wing_snr: f64,
    /// Continuum reduced chi-square.
    pub cont_rchi2: f64,
    /// Monte-Carlo samples that converged.
    pub mc_samples: usize,
    /// Instrumental sigma used (km/s).
    pub sigma_inst: f64,
    /// `(name, value)` of [`astrolab_qso::fit::spectrum::Measurements::columns`] (empty for a skip).
    pub values: Vec<(String, f64)>,
    /// The lines measured (the fitted complexes'), which name some of the
    /// columns.
    #[serde(default)]
    pub lines: Vec<String>,
    /// Their Monte-Carlo errors (empty without `--mc`).
    pub errors: Vec<(String, f64)>,
}

/// What a shard gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QsoFitPartial {
    pub entries: Vec<QsoFitEntry>,
    pub missing: usize,
    pub files: usize,
}

/// What a run made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QsoFitOutput {
    pub spectra: usize,
    pub fitted: usize,
    /// Of them with an [O III] wing claimed.
    pub with_oiii_wing: usize,
    /// Skips by reason (the reason's kind, before any detail).
    pub skipped: BTreeMap<String, usize>,
    pub without_spectrum: usize,
    pub files: usize,
    pub output: PathBuf,
    /// The fit catalog id of the settings.
    pub catalog_id: String,
    /// Whether the rows went into the store.
    pub stored: bool,
}

/// Everything a fit depends on besides the spectrum, as stored beside a
/// fit catalog (its SHA-256 names the catalog): the line table's TOML, the
/// Fe II templates' text, and the options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitSettings {
    /// The line table (TOML).
    pub lines_toml: String,
    /// The optical Fe II template's text, when one is fitted.
    pub fe_optical: Option<String>,
    /// The UV Fe II template's text, when one is fitted.
    pub fe_uv: Option<String>,
    /// Whether a Balmer continuum is fitted.
    pub balmer: bool,
    /// Galactic E(B-V) every spectrum was dereddened with.
    pub ebv: Option<f64>,
    /// Monte-Carlo samples and seed.
    pub mc: usize,
    pub seed: u64,
    /// The [O III] outflow assumptions.
    pub outflow: OutflowAssumptions,
    /// The instrumental sigma of the store's (DESI) spectra, km/s.
    pub sigma_inst_kms: f64,
}

impl FitSettings {
    /// The settings of the arguments (the named files read).
    pub fn from_args(a: &QsoFitArgs) -> Result<FitSettings, PipelineError> {
        let read = |p: &Option<PathBuf>, flag: &str| -> Result<Option<String>, PipelineError> {
            p.as_ref()
                .map(|p| {
                    std::fs::read_to_string(p)
                        .map_err(|e| usage(format!("{flag} {}: {e}", p.display())))
                })
                .transpose()
        };
        let lines_toml = match &a.lines {
            Some(_) => read(&a.lines, "--lines")?.expect("given"),
            None => astrolab_qso::fit::lines::DEFAULT_LINES_TOML.to_string(),
        };
        if !(a.n_e > 0.0 && a.outflow_radius_kpc > 0.0) {
            return Err(usage(format!(
                "--n-e {} and --outflow-radius-kpc {} must be positive",
                a.n_e, a.outflow_radius_kpc
            )));
        }
        Ok(FitSettings {
            lines_toml,
            fe_optical: read(&a.fe_optical, "--fe-optical")?,
            fe_uv: read(&a.fe_uv, "--fe-uv")?,
            balmer: !a.no_balmer,
            ebv: a.ebv,
            mc: a.mc,
            seed: a.seed,
            outflow: OutflowAssumptions {
                n_e_cm3: a.n_e,
                radius_kpc: a.outflow_radius_kpc,
                ..OutflowAssumptions::default()
            },
            sigma_inst_kms: DESI_SIGMA_INST_KMS,
        })
    }

    /// The JSON the store keeps (and hashes into the catalog id).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("settings serialise")
    }

    /// The fit configuration (templates parsed, table checked); `names`
    /// are what errors call the table and templates.
    pub fn config(&self, names: [&str; 3]) -> Result<FitConfig, PipelineError> {
        let template = |t: &Option<String>,
                        name: &str|
         -> Result<Option<Arc<BroadenedTemplate>>, PipelineError> {
            t.as_ref()
                .map(|t| {
                    BroadenedTemplate::parse(t, name, 1e15)
                        .map(Arc::new)
                        .map_err(|e| usage(format!("{e}")))
                })
                .transpose()
        };
        let lines =
            LineTable::parse(&self.lines_toml, names[0]).map_err(|e| usage(format!("{e}")))?;
        Ok(FitConfig {
            conti: ContiSetup {
                fe_op: template(&self.fe_optical, names[1])?,
                fe_uv: template(&self.fe_uv, names[2])?,
                balmer: self.balmer,
                host: None,
                windows: Vec::new(),
            },
            lines,
            mc: self.mc,
            seed: self.seed,
            outflow: self.outflow,
            oiii_line: "OIII5007".into(),
        })
    }
}

fn usage(msg: String) -> PipelineError {
    PipelineError::Failed(anyhow::Error::new(UsageError(msg)))
}

/// The fit's configuration from the arguments (templates read once).
pub fn fit_config(a: &QsoFitArgs) -> Result<FitConfig, PipelineError> {
    let name = |p: &Option<PathBuf>, flag: &str, none: &str| {
        p.as_ref()
            .map_or(none.to_string(), |p| format!("{flag} {}", p.display()))
    };
    FitSettings::from_args(a)?.config([
        &name(&a.lines, "--lines", "built-in lines.toml"),
        &name(&a.fe_optical, "--fe-optical", ""),
        &name(&a.fe_uv, "--fe-uv", ""),
    ])
}

/// Fits one spectrum into its catalog row (and the fit, for figures).
#[allow(clippy::too_many_arguments)]
pub fn fit_entry(
    config: &FitConfig,
    name: String,
    target_id: Option<i64>,
    z: Option<f64>,
    wave: &[f64],
    flux: &[f64],
    ivar: &[f64],
    sigma_inst: f64,
    ebv: Option<f64>,
) -> (QsoFitEntry, Option<QsoFit>) {
    let mut e = QsoFitEntry {
        name,
        target_id,
        file_id: None,
        z,
        skip: None,
        oiii_wing: false,
        oiii_wing_snr: f64::NAN,
        cont_rchi2: f64::NAN,
        mc_samples: 0,
        sigma_inst,
        values: Vec::new(),
        errors: Vec::new(),
        lines: Vec::new(),
    };
    let Some(zv) = z else {
        e.skip = Some("no redshift".into());
        return (e, None);
    };
    let id = target_id.map_or_else(
        || {
            e.name
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        },
        |t| t as u64,
    );
    let input = SpectrumIn {
        wave,
        flux,
        ivar,
        z: zv,
        sigma_inst_kms: Some(sigma_inst),
        ebv,
        id,
    };
    match fit_spectrum(&input, config) {
        Ok(f) => {
            if let Some(c) = f.complexes.iter().find(|c| c.layout.wing_line.is_some()) {
                e.oiii_wing = c.wings;
                e.oiii_wing_snr = c.wing_snr;
            }
            e.cont_rchi2 = f.conti.reduced_chi2;
            e.mc_samples = f.mc_done;
            e.values = f.values.columns();
            e.lines = f.values.lines.keys().cloned().collect();
            if let Some(err) = &f.errors {
                e.errors = err.columns();
            }
            (e, Some(f))
        }
        Err(s) => {
            e.skip = Some(s.to_string());
            (e, None)
        }
    }
}

/// The kind of a skip reason (its text before the first colon or number),
/// for the run's counts.
fn reason_kind(r: &str) -> String {
    let cut = r
        .find(|c: char| c == ':' || c.is_ascii_digit())
        .unwrap_or(r.len());
    r[..cut].trim().trim_end_matches(',').to_string()
}

/// One spectrum to fit: name, TARGETID, the store's raw file, redshift,
/// wavelengths, flux, inverse variance, instrumental sigma (km/s).
type ToFit = (
    String,
    Option<i64>,
    Option<i64>,
    Option<f64>,
    Arc<Vec<f64>>,
    Vec<f64>,
    Vec<f64>,
    f64,
);

impl QsoFitPipeline {
    fn fit_all(
        &self,
        a: &QsoFitArgs,
        config: &FitConfig,
        spectra: Vec<ToFit>,
    ) -> Result<Vec<QsoFitEntry>, PipelineError> {
        let mut out = Vec::with_capacity(spectra.len());
        if let Some(dir) = &a.qa {
            std::fs::create_dir_all(dir)
                .map_err(|e| usage(format!("--qa {}: {e}", dir.display())))?;
        }
        for (name, tid, file_id, z, wave, flux, ivar, sigma) in spectra {
            let (mut entry, fit) =
                fit_entry(config, name, tid, z, &wave, &flux, &ivar, sigma, a.ebv);
            entry.file_id = file_id;
            if let (Some(dir), Some(f)) = (&a.qa, &fit) {
                let safe: String = entry
                    .name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                crate::render::write_plot(
                    &qa_svg(&entry.name, f),
                    &dir.join(format!("{safe}.svg")),
                )
                .map_err(PipelineError::Failed)?;
            }
            out.push(entry);
        }
        Ok(out)
    }
}

impl Pipeline for QsoFitPipeline {
    type Params = QsoFitArgs;
    type Shard = QsoFitShard;
    type Partial = QsoFitPartial;
    type Output = QsoFitOutput;

    fn plan(&self, ctx: &Ctx, a: &QsoFitArgs) -> Result<Vec<QsoFitShard>, PipelineError> {
        // Templates and the line table are checked before any shard runs.
        fit_config(a)?;
        let inputs = QuasarInputs {
            paths: &a.paths,
            select: a.select.as_deref(),
            z: a.z,
            redshifts: &a.redshifts,
            shard_size: a.shard_size,
        };
        Ok(match plan_quasar_inputs(ctx, inputs, "fitted", None)? {
            QuasarChunks::Store(chunks) => chunks
                .into_iter()
                .map(|target_ids| QsoFitShard::Store { target_ids })
                .collect(),
            QuasarChunks::Files(chunks) => chunks
                .into_iter()
                .map(|files| QsoFitShard::Files { files })
                .collect(),
        })
    }

    fn run_shard(
        &self,
        ctx: &Ctx,
        a: &QsoFitArgs,
        shard: &QsoFitShard,
    ) -> Result<QsoFitPartial, PipelineError> {
        let config = fit_config(a)?;
        match shard {
            QsoFitShard::Store { target_ids } => {
                let mut store = ctx.open_store()?;
                let shard = read_observed(&mut store, target_ids)?;
                let spectra = shard
                    .spectra
                    .iter()
                    .map(|(tid, wave, row, file_id)| {
                        let (flux, ivar) = crate::outflows::bal::weighted(
                            &row.flux,
                            &row.ivar,
                            &row.mask,
                            u32::MAX,
                        );
                        (
                            tid.to_string(),
                            Some(*tid),
                            *file_id,
                            Some(row.z),
                            Arc::new(wave.to_vec()),
                            flux,
                            ivar,
                            DESI_SIGMA_INST_KMS,
                        )
                    })
                    .collect();
                Ok(QsoFitPartial {
                    entries: self.fit_all(a, &config, spectra)?,
                    missing: shard.missing,
                    files: 0,
                })
            }
            QsoFitShard::Files { files } => {
                let redshifts = read_redshift_tables(&a.redshifts)?;
                let spectra = read_file_spectra(files, &redshifts, a.z)?
                    .into_iter()
                    .map(|f| {
                        let sigma = if f.target_id.is_some() {
                            DESI_SIGMA_INST_KMS
                        } else {
                            f.sigma_inst_kms.unwrap_or(SDSS_SIGMA_INST_KMS)
                        };
                        (
                            f.name,
                            f.target_id,
                            None,
                            f.z,
                            f.wave,
                            f.flux,
                            f.ivar,
                            sigma,
                        )
                    })
                    .collect();
                Ok(QsoFitPartial {
                    entries: self.fit_all(a, &config, spectra)?,
                    missing: 0,
                    files: files.len(),
                })
            }
        }
    }

    fn reduce(
        &self,
        ctx: &Ctx,
        a: &QsoFitArgs,
        partials: Vec<QsoFitPartial>,
    ) -> Result<QsoFitOutput, PipelineError> {
        let mut entries = Vec::new();
        let (mut missing, mut files) = (0, 0);
        for p in partials {
            entries.extend(p.entries);
            missing += p.missing;
            files += p.files;
        }
        write_catalog(&a.output, &entries, a.mc > 0)?;
        let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
        for e in &entries {
            if let Some(r) = &e.skip {
                *skipped.entry(reason_kind(r)).or_default() += 1;
            }
        }
        let fitted = entries.iter().filter(|e| e.skip.is_none()).count();
        let settings = FitSettings::from_args(a)?.to_json();
        let catalog_id = astrolab_store::qso_fits::fit_catalog_id(&settings);
        let stored = a.paths.is_empty() && !a.no_store;
        if stored {
            let records = entries
                .iter()
                .map(|e| record_of(e, a.mc > 0))
                .collect::<Result<Vec<_>, _>>()?;
            let mut store = ctx.open_store()?;
            store
                .write_qso_fits(&settings, &records, &mut Progress::none())
                .map_err(|e| PipelineError::Store("writing the quasar fits".into(), Box::new(e)))?;
        }
        let out = QsoFitOutput {
            spectra: entries.len(),
            fitted,
            with_oiii_wing: entries.iter().filter(|e| e.oiii_wing).count(),
            skipped,
            without_spectrum: missing,
            files,
            output: a.output.clone(),
            catalog_id,
            stored,
        };
        let skips: Vec<String> = out
            .skipped
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        ctx.info(format!(
            "quasar fits {}: {} spectra, {} fitted ({} with an [O III] wing), {} skipped{}; catalog {}{}",
            out.catalog_id,
            out.spectra,
            out.fitted,
            out.with_oiii_wing,
            out.spectra - out.fitted,
            if skips.is_empty() { String::new() } else { format!(" ({})", skips.join("; ")) },
            out.output.display(),
            if stored { ", rows in the store" } else { "" }
        ));
        Ok(out)
    }
}

/// A catalog row as the store's row: every measurement (and `_ERR` with
/// Monte Carlo) in `row_json`, null where the fit gave no number; a
/// spectrum without TARGETID or redshift cannot be a store row.
fn record_of(e: &QsoFitEntry, errors: bool) -> Result<QsoFitRecord, PipelineError> {
    let (Some(target_id), Some(z)) = (e.target_id, e.z) else {
        return Err(PipelineError::Failed(anyhow::anyhow!(
            "quasar fit row {} has no TARGETID or redshift: it cannot go into the store",
            e.name
        )));
    };
    let mut row = serde_json::Map::new();
    let num = |v: f64| {
        if v.is_finite() {
            serde_json::json!(v)
        } else {
            serde_json::Value::Null
        }
    };
    for (n, v) in &e.values {
        row.insert(n.clone(), num(*v));
    }
    if errors {
        for (n, v) in &e.errors {
            row.insert(format!("{n}_ERR"), num(*v));
        }
    }
    let fitted = e.skip.is_none();
    let opt = |v: f64| Some(v).filter(|v| fitted && v.is_finite());
    Ok(QsoFitRecord {
        target_id,
        file_id: e.file_id,
        z,
        outcome: e.skip.clone().unwrap_or_else(|| FITTED.to_string()),
        sigma_inst: e.sigma_inst,
        oiii_wing: Some(e.oiii_wing).filter(|_| fitted && e.oiii_wing_snr.is_finite()),
        oiii_wing_snr: opt(e.oiii_wing_snr),
        cont_rchi2: opt(e.cont_rchi2),
        mc_samples: Some(e.mc_samples as i64).filter(|_| fitted),
        row_json: serde_json::Value::Object(row).to_string(),
    })
}

/// The column names of a catalog: the union of every fitted row's (rows
/// at different redshifts fit different complexes), in the order of
/// [`astrolab_qso::fit::spectrum::Measurements::columns`], with `_ERR`
/// columns when `errors`; none when nothing was fitted.
fn value_names(entries: &[QsoFitEntry], errors: bool) -> Vec<String> {
    if entries.iter().all(|e| e.values.is_empty()) {
        return Vec::new();
    }
    let lines: std::collections::BTreeSet<&String> =
        entries.iter().flat_map(|e| e.lines.iter()).collect();
    let mut names = astrolab_qso::fit::spectrum::catalog_columns(lines);
    if errors {
        names = names
            .into_iter()
            .flat_map(|n| [n.clone(), format!("{n}_ERR")])
            .collect();
    }
    names
}

fn value_of(e: &QsoFitEntry, name: &str) -> f64 {
    let (list, key) = match name.strip_suffix("_ERR") {
        Some(base)
            if e.values.iter().any(|(n, _)| n == base)
                && !e.values.iter().any(|(n, _)| n == name) =>
        {
            (&e.errors, base)
        }
        _ => (&e.values, name),
    };
    list.iter()
        .find(|(n, _)| n == key)
        .map_or(f64::NAN, |(_, v)| *v)
}

/// Writes the catalog: FITS for `.fits`, else CSV.
pub fn write_catalog(
    path: &Path,
    entries: &[QsoFitEntry],
    errors: bool,
) -> Result<(), PipelineError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| usage(format!("--output {}: {e}", path.display())))?;
    }
    let names = value_names(entries, errors);
    let is_fits = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("fits"));
    if is_fits {
        let strings = |f: &dyn Fn(&QsoFitEntry) -> String| {
            let values: Vec<String> = entries.iter().map(f).collect();
            let width = values.iter().map(String::len).max().unwrap_or(1).max(1);
            ColumnData::Str { width, values }
        };
        let f64s =
            |f: &dyn Fn(&QsoFitEntry) -> f64| ColumnData::F64(entries.iter().map(f).collect());
        let mut columns = vec![
            ColumnOut::new("NAME", strings(&|e| e.name.clone())),
            ColumnOut::new(
                "TARGETID",
                ColumnData::I64(entries.iter().map(|e| e.target_id.unwrap_or(-1)).collect()),
            ),
            ColumnOut::new("Z", f64s(&|e| e.z.unwrap_or(f64::NAN))),
            ColumnOut::new(
                "SKIP_REASON",
                strings(&|e| e.skip.clone().unwrap_or_default()),
            ),
            ColumnOut::new(
                "OIII_WING",
                ColumnData::U8(entries.iter().map(|e| u8::from(e.oiii_wing)).collect()),
            ),
            ColumnOut::new("OIII_WING_SNR", f64s(&|e| e.oiii_wing_snr)),
            ColumnOut::new("CONT_RCHI2", f64s(&|e| e.cont_rchi2)),
            ColumnOut::new(
                "MC_SAMPLES",
                ColumnData::I64(entries.iter().map(|e| e.mc_samples as i64).collect()),
            ),
            ColumnOut::new("SIGMA_INST", f64s(&|e| e.sigma_inst)),
        ];
        for n in &names {
            columns.push(ColumnOut::new(n, f64s(&|e| value_of(e, n))));
        }
        write_fits(
            path,
            &[HduOut::Table {
                extname: Some("QSOFIT".into()),
                header: Vec::new(),
                columns,
            }],
        )
        .map_err(|e| PipelineError::Failed(anyhow::anyhow!("writing {}: {e}", path.display())))
    } else {
        let mut s = String::from(
            "NAME,TARGETID,Z,SKIP_REASON,OIII_WING,OIII_WING_SNR,CONT_RCHI2,MC_SAMPLES,SIGMA_INST",
        );
        for n in &names {
            let _ = write!(s, ",{n}");
        }
        s.push('\n');
        let num = |v: f64| {
            if v.is_finite() {
                v.to_string()
            } else {
                String::new()
            }
        };
        for e in entries {
            let _ = write!(
                s,
                "{},{},{},\"{}\",{},{},{},{},{}",
                e.name,
                e.target_id.map_or(String::new(), |t| t.to_string()),
                e.z.map_or(String::new(), |z| z.to_string()),
                e.skip.as_deref().unwrap_or("").replace('"', "'"),
                u8::from(e.oiii_wing),
                num(e.oiii_wing_snr),
                num(e.cont_rchi2),
                e.mc_samples,
                num(e.sigma_inst)
            );
            for n in &names {
                let _ = write!(s, ",{}", num(value_of(e, n)));
            }
            s.push('\n');
        }
        crate::output::write_file(path, s.as_bytes())?;
        Ok(())
    }
}

/// The QA figure of a fit: the rest-frame data (grey), the whole model
/// (red), the power law + Balmer continuum (blue), the Fe II (green), the
/// lines (purple, above the continuum), and the residuals in a lower
/// panel, over each fitted complex's window joined into one range.
pub fn qa_svg(name: &str, f: &QsoFit) -> String {
    let (w, h, left, right, top, mid, bottom) = (1000.0, 560.0, 70.0, 20.0, 40.0, 400.0, 40.0);
    let n = f.wave.len();
    let (x0, x1) = (f.wave[0], f.wave[n - 1]);
    let model: Vec<f64> = f.wave.iter().map(|&l| f.model(l)).collect();
    let smooth: Vec<f64> = f.wave.iter().map(|&l| f.conti.model.smooth(l)).collect();
    let fe: Vec<f64> = f
        .wave
        .iter()
        .map(|&l| {
            f.conti.model.component(Component::FeUv, l)
                + f.conti.model.component(Component::FeOptical, l)
        })
        .collect();
    let lines: Vec<f64> = f.wave.iter().map(|&l| f.lines_at(l)).collect();
    let mut good: Vec<f64> = (0..n)
        .filter(|&i| f.ivar[i] > 0.0)
        .map(|i| f.flux[i])
        .collect();
    good.sort_by(f64::total_cmp);
    let (ylo, yhi) = if good.is_empty() {
        (0.0, 1.0)
    } else {
        (
            good[good.len() / 200].min(0.0),
            good[good.len() - 1 - good.len() / 200].max(model.iter().cloned().fold(0.0, f64::max))
                * 1.05,
        )
    };
    let px = |x: f64| left + (x - x0) / (x1 - x0) * (w - left - right);
    let py = |y: f64| top + (1.0 - (y - ylo) / (yhi - ylo)) * (mid - top);
    let resid: Vec<f64> = (0..n)
        .map(|i| {
            if f.ivar[i] > 0.0 {
                (f.flux[i] - model[i]) * f.ivar[i].sqrt()
            } else {
                f64::NAN
            }
        })
        .collect();
    let ry =
        |r: f64| mid + 30.0 + (1.0 - (r.clamp(-5.0, 5.0) + 5.0) / 10.0) * (h - bottom - mid - 30.0);
    let poly = |ys: &[f64], map: &dyn Fn(f64) -> f64, style: &str| -> String {
        let mut d = String::new();
        let mut pen = false;
        for (i, &y) in ys.iter().enumerate() {
            if !y.is_finite() || f.ivar[i] <= 0.0 && style.contains("data") {
                pen = false;
                continue;
            }
            let _ = write!(
                d,
                "{}{:.1} {:.1} ",
                if pen { "L" } else { "M" },
                px(f.wave[i]),
                map(y)
            );
            pen = true;
        }
        format!(
            "<path d=\"{d}\" fill=\"none\" {}/>\n",
            style.replace("data", "")
        )
    };
    let title = format!(
        "{}  z = {:.4}  [O III] W80 = {:.0} km/s, log M(Hβ) = {:.2}",
        crate::render::escape(name),
        f.z,
        f.values.oiii.w80,
        f.values.log_mbh_hb
    );
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\" aria-label=\"{title}\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n<text x=\"{left}\" y=\"24\" font-size=\"14\">{title}</text>\n"
    );
    let line_plus_conti: Vec<f64> = lines.iter().zip(&smooth).map(|(a, b)| a + b).collect();
    s += &poly(&f.flux, &py, "data stroke=\"#999\" stroke-width=\"0.8\"");
    s += &poly(&smooth, &py, "stroke=\"#1f77b4\" stroke-width=\"1.2\"");
    s += &poly(&fe, &py, "stroke=\"#2ca02c\" stroke-width=\"1.2\"");
    s += &poly(
        &line_plus_conti,
        &py,
        "stroke=\"#9467bd\" stroke-width=\"1\"",
    );
    s += &poly(&model, &py, "stroke=\"#d62728\" stroke-width=\"1.4\"");
    s += &poly(&resid, &ry, "data stroke=\"#555\" stroke-width=\"0.6\"");
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#d62728\" stroke-dasharray=\"4 3\"/>",
        w - right,
        ry(0.0),
        ry(0.0)
    );
    for t in crate::render::nice_ticks(x0, x1, 10).values {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{t:.0}</text>",
            px(t),
            h - bottom + 16.0
        );
    }
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">rest wavelength (Å); lower panel: (data − model)/σ, ±5</text>\n<text x=\"{left}\" y=\"{:.1}\">grey data · red model · blue power law + Balmer · green Fe II · purple lines</text>\n</svg>\n",
        0.5 * (left + w - right),
        h - 8.0,
        top + 14.0
    );
    s
}
