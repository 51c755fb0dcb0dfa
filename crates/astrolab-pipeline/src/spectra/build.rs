//! `spectra-build`: DESI coadds (with their redrock files) into indexed
//! columnar spectra files, one Parquet file per (survey, program, HEALPix
//! pixel).
//!
//! Build order for each coadd: checksum it; skip it when the store already
//! indexes a spectra file built from those bytes; otherwise merge the arms,
//! write the Parquet file (temporary name, fsync, rename), and only then
//! index its rows in one transaction. A build killed at any point leaves
//! either no file, or a file that is not indexed yet (rebuilt on the next
//! run), never an index entry pointing into a half file.
//!
//! The coadds are the shards; their counts add up in the reduce. They run
//! one at a time: two coadds of the same (survey, program, pixel) in
//! different directories write the same spectra file, and the last in
//! path order must win, as it always has.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use astrolab_spectra::{convert_coadd_with, write_spectra_file, ConvertOptions, SpectraFile};
use astrolab_store::{select_redrock, SpectraFileRecord, Store};
use serde::{Deserialize, Serialize};

use crate::context::Ctx;
use crate::error::{PipelineError, UsageError};
use crate::params::defs::SpectraBuildArgs;
use crate::pipeline::Pipeline;

/// The `spectra-build` pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct Build;

/// One coadd to convert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coadd {
    /// The coadd file.
    pub coadd: PathBuf,
    /// Its redrock file (same directory, same suffix), when there is one.
    pub redrock: Option<PathBuf>,
}

/// Where the spectra files go: `--out`, else HOME/spectra.
pub fn out_dir(ctx: &Ctx, a: &SpectraBuildArgs) -> PathBuf {
    a.out.clone().unwrap_or_else(|| ctx.home().join("spectra"))
}

impl Pipeline for Build {
    type Params = SpectraBuildArgs;
    type Shard = Coadd;
    type Partial = BuildReport;
    type Output = BuildReport;

    fn plan(&self, _: &Ctx, a: &SpectraBuildArgs) -> Result<Vec<Coadd>, PipelineError> {
        let mut coadds = Vec::new();
        find_coadds(&a.from, &mut coadds)?;
        coadds.sort();
        if coadds.is_empty() {
            return Err(anyhow::anyhow!("no coadd-*.fits files under {}", a.from.display()).into());
        }
        if let Some(sel) = &a.select {
            // Validate the expression once, before any work.
            select_redrock(&Default::default(), sel)
                .map_err(|e| anyhow::Error::from(UsageError(format!("--select: {e}"))))?;
        }
        Ok(coadds
            .into_iter()
            .map(|coadd| Coadd {
                redrock: redrock_for(&coadd),
                coadd,
            })
            .collect())
    }

    fn run_shard(
        &self,
        ctx: &Ctx,
        a: &SpectraBuildArgs,
        c: &Coadd,
    ) -> Result<BuildReport, PipelineError> {
        let mut store = ctx.open_store()?;
        let mut report = BuildReport::default();
        build_one(
            ctx,
            &mut store,
            &c.coadd,
            c.redrock.as_deref(),
            a,
            &out_dir(ctx, a),
            &mut report,
        )?;
        Ok(report)
    }

    fn reduce(
        &self,
        ctx: &Ctx,
        _: &SpectraBuildArgs,
        partials: Vec<BuildReport>,
    ) -> Result<BuildReport, PipelineError> {
        let mut report = BuildReport {
            coadds: partials.len(),
            ..Default::default()
        };
        for p in &partials {
            report.add(p);
        }
        ctx.info(report.summary());
        Ok(report)
    }

    /// Coadds of the same pixel write the same file (see the module doc).
    fn max_parallel_shards(&self) -> Option<usize> {
        Some(1)
    }
}

/// What a build did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

impl BuildReport {
    /// Adds the counts of one coadd (every field but `coadds`, which the
    /// reduce sets from the number of shards).
    fn add(&mut self, o: &BuildReport) {
        self.built += o.built;
        self.unchanged += o.unchanged;
        self.filtered += o.filtered;
        self.spectra += o.spectra;
        self.without_redshift += o.without_redshift;
        self.no_redrock_file += o.no_redrock_file;
        self.no_redshift += o.no_redshift;
        self.rejected += o.rejected;
        self.not_targets += o.not_targets;
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

/// Converts one coadd (with its redrock file when given) into its spectra
/// file and indexes it, unless the store already holds it from the same
/// coadd bytes. Counts go into `report`.
pub fn build_one(
    ctx: &Ctx,
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
            ctx.warn(format!(
                "{}: no redrock file next to this coadd: --select cannot apply, skipped",
                coadd.display()
            ));
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
            built_at: super::now_rfc3339(),
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
