//! `astrolab publish RUN --to DIR`: a run's table results as a release
//! folder (VAC FITS, Parquet, HATS, CDS ReadMe + ASCII, Zenodo metadata,
//! figures, provenance, SHA256SUMS); see `astrolab_publish`.
//!
//! RUN is found as `astrolab runs show` finds it: a number is a queued
//! run's directory `HOME/runs/ID`; otherwise a run directory (the
//! `--out-dir` of `astrolab run`) or its `ro-crate-metadata.json`.
//!
//! The author, affiliation, ORCID iD and licence may come from the
//! `[publish]` table of astrolab.toml (flags win), so a lab sets them once:
//!
//! ```toml
//! [publish]
//! author = "Doe, Jane"
//! affiliation = "Astrolab"
//! orcid = "0000-0002-1825-0097"
//! license = "cc-by-4.0"
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use astrolab_pipeline::manifest::{read_manifest, METADATA_FILE};
use astrolab_publish::{publish, ReleaseOptions, RunFile, RunInfo};
use clap::Args;

use crate::config::Config;
use crate::UsageError;

/// The `[publish]` table of astrolab.toml.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishFileConfig {
    /// Default `--author`.
    pub author: Option<String>,
    /// Default `--affiliation`.
    pub affiliation: Option<String>,
    /// Default `--orcid`.
    pub orcid: Option<String>,
    /// Default `--license`.
    pub license: Option<String>,
}

/// Arguments of `astrolab publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The run: a run directory or its manifest, or a queued run's number.
    pub run: String,
    /// The release folder to write (must be new or empty).
    #[arg(long)]
    pub to: PathBuf,
    /// Title of the release (FITS TITLE, ReadMe, Zenodo).
    #[arg(long)]
    pub title: String,
    /// Author, "Family, Given" (FITS AUTHOR, Zenodo creator); default:
    /// `[publish] author` of astrolab.toml.
    #[arg(long)]
    pub author: Option<String>,
    /// The author's affiliation (Zenodo).
    #[arg(long)]
    pub affiliation: Option<String>,
    /// The author's ORCID iD, e.g. 0000-0002-1825-0097 (Zenodo).
    #[arg(long)]
    pub orcid: Option<String>,
    /// Catalog version (FITS VAC_VERS, Zenodo version).
    #[arg(long, default_value = "1.0")]
    pub vac_version: String,
    /// Licence, as a Zenodo licence id (default: `[publish] license` of
    /// astrolab.toml, else cc-by-4.0).
    #[arg(long)]
    pub license: Option<String>,
    /// Description (abstract); default: one made from the run.
    #[arg(long)]
    pub description: Option<String>,
    /// A keyword (repeatable).
    #[arg(long = "keyword")]
    pub keywords: Vec<String>,
    /// Release date, YYYY-MM-DD (default: today, UTC).
    #[arg(long)]
    pub date: Option<String>,
    /// HEALPix order of the HATS partitions (0-29).
    #[arg(long, default_value_t = astrolab_publish::hats::DEFAULT_ORDER)]
    pub hats_order: u8,
    /// Documentation of extra columns: a TOML file of [columns.NAME]
    /// tables with `unit` (CDS) and `description` (repeatable).
    #[arg(long = "columns")]
    pub columns: Vec<PathBuf>,
    /// Publish only the binary table with this EXTNAME (repeatable;
    /// default: every binary table of the run's FITS outputs).
    #[arg(long = "table")]
    pub tables: Vec<String>,
    /// Print what was written as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The run directory and manifest file of RUN.
fn locate(cfg: &Config, run: &str) -> Result<(PathBuf, PathBuf)> {
    let p = match run.parse::<i64>() {
        Ok(n) => cfg.home.join("runs").join(n.to_string()),
        Err(_) => PathBuf::from(run),
    };
    let (dir, file) = if p.is_dir() {
        (p.clone(), p.join(METADATA_FILE))
    } else {
        (
            p.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
            p.clone(),
        )
    };
    if !file.is_file() {
        bail!(UsageError(format!(
            "{}: no run manifest here; RUN is a run directory (astrolab run --out-dir), its {METADATA_FILE}, or a queued run's number (HOME/runs/ID)",
            file.display()
        )));
    }
    Ok((dir, file))
}

/// Runs `astrolab publish`.
pub fn run(cfg: &Config, a: &PublishArgs) -> Result<()> {
    let (dir, file) = locate(cfg, &a.run)?;
    let m = read_manifest(&file).with_context(|| format!("reading {}", file.display()))?;
    let files = |v: &[astrolab_pipeline::manifest::FileEntry]| {
        v.iter()
            .map(|f| RunFile {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
            })
            .collect::<Vec<_>>()
    };
    let info = RunInfo {
        dir,
        manifest_file: file,
        pipeline: m.pipeline.clone(),
        run_id: m.run_id,
        software_version: m.software.version.clone(),
        git_commit: m.software.git_commit.clone(),
        inputs: files(&m.inputs),
        outputs: files(&m.outputs),
    };
    let conf = &cfg.publish;
    let Some(author) = a.author.clone().or_else(|| conf.author.clone()) else {
        bail!(UsageError(
            "give --author \"Family, Given\" (or author in the [publish] table of astrolab.toml)"
                .into()
        ));
    };
    let mut opts = ReleaseOptions::new(&a.title, &author);
    opts.affiliation = a.affiliation.clone().or_else(|| conf.affiliation.clone());
    opts.orcid = a.orcid.clone().or_else(|| conf.orcid.clone());
    opts.vac_version = a.vac_version.clone();
    opts.license = a
        .license
        .clone()
        .or_else(|| conf.license.clone())
        .unwrap_or_else(|| "cc-by-4.0".into());
    opts.description = a.description.clone();
    opts.keywords = a.keywords.clone();
    opts.date = a.date.clone();
    opts.hats_order = a.hats_order;
    opts.columns_files = a.columns.clone();
    opts.tables = a.tables.clone();
    let report = match publish(&info, &a.to, &opts) {
        Ok(r) => r,
        Err(e) if e.is_usage() => bail!(UsageError(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    if a.json {
        let tables: Vec<serde_json::Value> = report
            .tables
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.name, "source": t.source, "rows": t.rows,
                    "hats_partitions": t.hats.as_ref().ok().map(|h| h.partitions.len()),
                    "hats_order": t.hats.as_ref().ok().map(|h| h.order),
                    "hats_skipped": t.hats.as_ref().err(),
                })
            })
            .collect();
        let files: Vec<serde_json::Value> = report
            .files
            .iter()
            .map(|(p, s)| serde_json::json!({"path": p, "sha256": s}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "dir": report.dir, "tables": tables, "files": files,
            }))?
        );
    } else {
        for t in &report.tables {
            let hats = match &t.hats {
                Ok(h) => format!("HATS order {}, {} partitions", h.order, h.partitions.len()),
                Err(why) => format!("no HATS: {why}"),
            };
            println!(
                "{:<20} {:>9} rows  {}  ({})",
                t.name, t.rows, hats, t.source
            );
        }
        println!(
            "{} files in {} (SHA256SUMS)",
            report.files.len() + 1,
            report.dir.display()
        );
    }
    Ok(())
}
