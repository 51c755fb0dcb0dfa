//! `astrolab spectra build|get|files`: the spectral store (issue 3).
//!
//! Build order for each coadd: checksum it; skip it when the store already
//! indexes a spectra file built from those bytes; otherwise merge the arms,
//! write the Parquet file (temporary name, fsync, rename), and only then
//! index its rows in one transaction. A build killed at any point leaves
//! either no file, or a file that is not indexed yet (rebuilt on the next
//! run), never an index entry pointing into a half file.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use astrolab_spectra::{convert_coadd_with, write_spectra_file, ConvertOptions, SpectraFile};
use astrolab_store::{select_redrock, ResultTable, SpectraFileRecord, Store, Value};

use crate::cli::{SpectraBuildArgs, SpectraCommand, SpectraGetArgs};
use crate::config::Config;
use crate::UsageError;

pub fn run(cfg: &Config, cmd: &SpectraCommand) -> Result<()> {
    let mut store = super::open_store(cfg)?;
    match cmd {
        SpectraCommand::Build(a) => {
            let report = build(&mut store, cfg, a)?;
            println!("{}", report.summary());
            Ok(())
        }
        SpectraCommand::Get(a) => get(&mut store, a),
        SpectraCommand::IndexLab { dir } => {
            let (indexed, unchanged, spectra) = index_lab(&mut store, dir)?;
            println!("spectra index-lab: {indexed} files indexed ({spectra} spectra), {unchanged} already indexed");
            Ok(())
        }
        SpectraCommand::Hot => {
            let (mut written, mut fresh, mut lab) = (0usize, 0usize, 0usize);
            for f in store.spectra_files()? {
                let path = Path::new(&f.path);
                if is_lab_file(&mut store, &f.path)? {
                    lab += 1;
                } else if astrolab_spectra::HotCopy::open_fresh(path)
                    .with_context(|| format!("checking the hot copy of {}", f.path))?
                    .is_some()
                {
                    fresh += 1;
                } else {
                    astrolab_spectra::write_hot_copy(path)
                        .with_context(|| format!("writing the hot copy of {}", f.path))?;
                    written += 1;
                }
            }
            println!("spectra hot: {written} hot copies written, {fresh} already fresh, {lab} lab-layout files left as they are");
            Ok(())
        }
        SpectraCommand::Files { out } => {
            let files = store.spectra_files()?;
            let table = ResultTable {
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
            };
            crate::output::emit(&table, out, "SPECTRA_FILES")
        }
    }
}

/// What a build did.
#[derive(Debug, Default, serde::Serialize)]
pub struct BuildReport {
    /// Coadd files found.
    pub coadds: usize,
    /// Spectra files written and indexed.
    pub built: usize,
    /// Coadds whose spectra file was already built from the same bytes.
    pub unchanged: usize,
    /// Coadds left out by --survey/--program.
    pub filtered: usize,
    /// Spectra written.
    pub spectra: usize,
    /// Of the spectra written, those without a redshift (z NaN).
    pub without_redshift: usize,
    /// Coadds built without a redrock file beside them.
    pub no_redrock_file: usize,
    /// Spectra without a redrock entry (left out).
    pub no_redshift: usize,
    /// Spectra the selection refused.
    pub rejected: usize,
    /// Spectra of fibres on no target (negative TARGETID: sky and
    /// unassigned fibres), left out unless --keep-negative-targetids.
    pub not_targets: usize,
}

impl BuildReport {
    /// The one-line summary `spectra build` prints.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "spectra build: {} coadds: {} built, {} already built, {} skipped by survey/program; \
             {} spectra written ({} without redshift",
            self.coadds,
            self.built,
            self.unchanged,
            self.filtered,
            self.spectra,
            self.without_redshift
        );
        if self.no_redrock_file > 0 {
            s += &format!(
                ": {} coadd{} had no redrock file beside {}",
                self.no_redrock_file,
                if self.no_redrock_file == 1 { "" } else { "s" },
                if self.no_redrock_file == 1 {
                    "it"
                } else {
                    "them"
                }
            );
        }
        s += &format!(
            "); left out: {} without a redrock entry, {} not selected, \
             {} sky or unassigned fibres (negative TARGETID",
            self.no_redshift, self.rejected, self.not_targets
        );
        if self.not_targets > 0 {
            s += "; --keep-negative-targetids keeps them";
        }
        s + ")"
    }
}

fn find_coadds(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            find_coadds(&path, out)?;
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("coadd-") && n.ends_with(".fits"))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// The redrock file that belongs to a coadd (same directory, same suffix).
fn redrock_for(coadd: &Path) -> Option<PathBuf> {
    let name = coadd.file_name()?.to_str()?;
    let p = coadd.with_file_name(name.replacen("coadd-", "redrock-", 1));
    p.exists().then_some(p)
}

/// Builds the spectral store from every coadd under `a.from`.
pub fn build(store: &mut Store, cfg: &Config, a: &SpectraBuildArgs) -> Result<BuildReport> {
    let out_dir = a.out.clone().unwrap_or_else(|| cfg.home.join("spectra"));
    let mut coadds = Vec::new();
    find_coadds(&a.from, &mut coadds)?;
    coadds.sort();
    if coadds.is_empty() {
        bail!("no coadd-*.fits files under {}", a.from.display());
    }
    if let Some(sel) = &a.select {
        // Validate the expression once, before any work.
        select_redrock(&Default::default(), sel)
            .map_err(|e| UsageError(format!("--select: {e}")))?;
    }
    let mut report = BuildReport {
        coadds: coadds.len(),
        ..Default::default()
    };
    let pb = crate::progress::rows("spectra build".into());
    for coadd in &coadds {
        build_one(
            store,
            coadd,
            redrock_for(coadd).as_deref(),
            a,
            &out_dir,
            &mut report,
        )?;
        pb.set_position(report.spectra as u64);
    }
    pb.finish_and_clear();
    Ok(report)
}

/// Converts one coadd (with its redrock file when given) into its spectra
/// file and indexes it, unless the store already holds it from the same
/// coadd bytes. Counts go into `report`.
pub fn build_one(
    store: &mut Store,
    coadd: &Path,
    redrock: Option<&Path>,
    a: &SpectraBuildArgs,
    out_dir: &Path,
    report: &mut BuildReport,
) -> Result<()> {
    // Already built from these exact bytes (and the file is still there):
    // nothing to do. This is what makes an interrupted build resumable.
    let (_, sha) = astrolab_store::file_digest(coadd)?;
    // (A build into another --out directory builds again.)
    if let Some(existing) = store.spectra_file_from_source(&sha)? {
        if Path::new(&existing.path).starts_with(out_dir) && Path::new(&existing.path).exists() {
            report.unchanged += 1;
            return Ok(());
        }
    }
    let selected: Option<HashSet<i64>> = match (&a.select, redrock) {
        (Some(sel), Some(rr)) => Some(select_redrock(
            &astrolab_formats::spectra::read_redrock(rr)?,
            sel,
        )?),
        (Some(_), None) => {
            tracing::warn!(coadd = %coadd.display(), "no redrock file next to this coadd: --select cannot apply, skipped");
            report.filtered += 1;
            return Ok(());
        }
        (None, _) => None,
    };
    let options = ConvertOptions {
        keep_negative_targetids: a.keep_negative_targetids,
    };
    let (meta, rows, counts) = convert_coadd_with(coadd, redrock, &options, |r| {
        selected.as_ref().is_none_or(|s| s.contains(&r.target_id))
    })
    .with_context(|| format!("converting {}", coadd.display()))?;
    if a.survey.as_ref().is_some_and(|s| *s != meta.survey)
        || a.program.as_ref().is_some_and(|p| *p != meta.program)
    {
        report.filtered += 1;
        return Ok(());
    }
    let leaf = match meta.healpix {
        Some(h) => format!("{h}.parquet"),
        None => format!(
            "{}.parquet",
            coadd
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("coadd")
        ),
    };
    let survey = if meta.survey.is_empty() {
        "unknown"
    } else {
        meta.survey.as_str()
    };
    let program = if meta.program.is_empty() {
        "unknown"
    } else {
        meta.program.as_str()
    };
    let path = out_dir.join(survey).join(program).join(leaf);
    std::fs::create_dir_all(path.parent().unwrap_or(out_dir))
        .with_context(|| format!("creating {}", out_dir.display()))?;
    let key = path.display().to_string();
    let size = write_spectra_file(&path, &meta, &rows)
        .with_context(|| format!("writing {}", path.display()))?;
    // Index from what the file holds, in its row order.
    let file = SpectraFile::open(&path)?;
    let ids = file.target_ids()?;
    let z: BTreeMap<i64, f64> = rows.iter().map(|r| (r.target_id, r.z)).collect();
    let index: Vec<(i64, usize, f64)> = ids
        .iter()
        .enumerate()
        .map(|(row, t)| (*t, row, z.get(t).copied().unwrap_or(f64::NAN)))
        .collect();
    store.register_spectra_file(
        &SpectraFileRecord {
            spectra_file_id: 0,
            path: key,
            survey: meta.survey.clone(),
            program: meta.program.clone(),
            healpix: meta.healpix.unwrap_or(-1),
            n_spectra: index.len() as i64,
            size_bytes: size as i64,
            sources: serde_json::to_string(&meta.source_files)?,
            built_at: now_rfc3339(),
            software_version: env!("CARGO_PKG_VERSION").to_string(),
        },
        &index,
    )?;
    report.built += 1;
    report.spectra += index.len();
    report.without_redshift += counts.kept_without_redshift;
    report.no_redrock_file += usize::from(redrock.is_none());
    report.no_redshift += counts.no_redshift;
    report.rejected += counts.rejected;
    report.not_targets += counts.not_targets;
    Ok(())
}

fn find_parquet(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            find_parquet(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    Ok(())
}

/// Indexes the lab's per-tile Parquet files in place (survey `lab`,
/// program `tile`). Returns (files indexed, files already indexed from the
/// same bytes, spectra indexed).
pub fn index_lab(store: &mut Store, dir: &Path) -> Result<(usize, usize, usize)> {
    let mut files = Vec::new();
    find_parquet(dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        bail!("no .parquet files under {}", dir.display());
    }
    let (mut indexed, mut unchanged, mut spectra) = (0, 0, 0);
    for path in files {
        let key = path
            .canonicalize()
            .unwrap_or(path.clone())
            .display()
            .to_string();
        let (size, sha) = astrolab_store::file_digest(&path)?;
        if store
            .spectra_file_by_path(&key)?
            .is_some_and(|r| r.sources.contains(&sha))
        {
            unchanged += 1;
            continue;
        }
        let rows = astrolab_spectra::read_lab_layout(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let index: Vec<(i64, usize, f64)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.target_id, i, r.z))
            .collect();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        store.register_spectra_file(
            &SpectraFileRecord {
                spectra_file_id: 0,
                path: key,
                survey: "lab".into(),
                program: "tile".into(),
                healpix: -1,
                n_spectra: index.len() as i64,
                size_bytes: size as i64,
                sources: serde_json::to_string(&[format!("{name} sha256:{sha}")])?,
                built_at: now_rfc3339(),
                software_version: env!("CARGO_PKG_VERSION").to_string(),
            },
            &index,
        )?;
        indexed += 1;
        spectra += index.len();
    }
    Ok((indexed, unchanged, spectra))
}

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
        let lab = is_lab_file(store, &path)?;
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

fn is_lab_file(store: &mut Store, path: &str) -> Result<bool> {
    Ok(store
        .spectra_file_by_path(path)?
        .is_some_and(|r| r.survey == "lab"))
}

fn get(store: &mut Store, a: &SpectraGetArgs) -> Result<()> {
    let fetched = fetch_spectra(store, &a.target_ids)?;
    let found: HashSet<i64> = fetched.iter().map(|f| f.target_id).collect();
    let missing: Vec<String> = a
        .target_ids
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
    if let Some(plot) = &a.plot {
        let f = &fetched[0];
        let svg = astrolab_spectra::plot::spectrum_svg(&astrolab_spectra::plot::SpectrumPlot {
            title: format!("TARGETID {}  z = {:.4}", f.target_id, f.z),
            wavelength: &f.wavelength,
            flux: &f.row.flux,
            ivar: &f.row.ivar,
            mask: &f.row.mask,
            z: f.z.is_finite().then_some(f.z),
            rest_frame: a.rest_frame,
        });
        crate::plot::write_plot(&svg, plot)?;
        eprintln!("plot written to {}", plot.display());
    }
    let mut table = ResultTable {
        columns: ["target_id", "wavelength", "flux", "ivar", "mask"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows: Vec::new(),
    };
    for f in &fetched {
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
    crate::output::emit(&table, &a.out, "SPECTRUM")
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_spectra_without_redshift_and_fibres_on_no_target() {
        let r = BuildReport {
            coadds: 3,
            built: 3,
            spectra: 7,
            without_redshift: 5,
            no_redrock_file: 1,
            not_targets: 2,
            ..Default::default()
        };
        assert_eq!(
            r.summary(),
            "spectra build: 3 coadds: 3 built, 0 already built, 0 skipped by survey/program; \
             7 spectra written (5 without redshift: 1 coadd had no redrock file beside it); \
             left out: 0 without a redrock entry, 0 not selected, 2 sky or unassigned fibres \
             (negative TARGETID; --keep-negative-targetids keeps them)"
        );
        let r = BuildReport {
            coadds: 2,
            unchanged: 2,
            ..Default::default()
        };
        assert_eq!(
            r.summary(),
            "spectra build: 2 coadds: 0 built, 2 already built, 0 skipped by survey/program; \
             0 spectra written (0 without redshift); left out: 0 without a redrock entry, \
             0 not selected, 0 sky or unassigned fibres (negative TARGETID)"
        );
    }
}
