//! `voids publish`: the void-galaxy value-added catalog.
//!
//! FITS with PRIMARY (the lab's VAC header from
//! `astrolab_publish::fits_vac`: AUTHOR, DATE, VAC_VERS, FSF_VERS, the
//! algorithm that defines IS_VOID, ORIGIN), GALAXY_DATA (TARGETID, RA, DEC, Z, LOGMSTAR, SFR,
//! IS_VOID, IS_CONTROL, VFLAG_<ALGORITHM> for every classified algorithm;
//! -1 where a galaxy was not classified) and VOID_PROPERTIES (per
//! algorithm, cap and void: member count and mean R_VOID_NORM). Written
//! to a temporary name and renamed; a `SHA256SUMS` file (sha256sum format)
//! is written beside it the same way.
//!
//! Validation: with `--input` (the FastSpecFit files the catalog derives
//! from), LOGMSTAR and log10(SFR) of every published galaxy are compared
//! with the input by TARGETID ([`astrolab_voids::compare::agreement`]);
//! more than 1 % of objects differing by more than 0.1 dex is a warning
//! (and fails with `--strict`).
//!
//! Run through `astrolab run voids-publish`, the catalog is a run output
//! with a manifest, and `astrolab publish RUN --to DIR` makes the full
//! release of it (Parquet, HATS, CDS ReadMe, Zenodo metadata).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use astrolab_formats::fits::{write_fits, Card, ColumnData, ColumnOut, FitsFile, HduOut};
use astrolab_publish::fits_vac::{vac_primary_cards, VacHeader};
use astrolab_voids::compare::{agreement, Agreement};
use serde::{Deserialize, Serialize};

use super::sample::load_sample;
use crate::context::Ctx;
use crate::error::PipelineError;
use crate::params::defs::PublishArgs;
use crate::pipeline::SinglePipeline;

/// The publication pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct Publish;

/// What was published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishOutput {
    /// The catalog written.
    pub output: PathBuf,
    /// The SHA256SUMS file beside it.
    pub sums: PathBuf,
    /// Galaxies in GALAXY_DATA.
    pub galaxies: usize,
    /// Void galaxies (IS_VOID).
    pub void: usize,
    /// Control galaxies (IS_CONTROL).
    pub control: usize,
    /// Rows of VOID_PROPERTIES.
    pub voids: usize,
    /// Galaxies compared with `--input`, and how many differ.
    pub validation: Option<(usize, usize)>,
}

/// The first table column called `name` in any HDU of `fits`.
fn find_f64(fits: &FitsFile, name: &str) -> Result<Option<Vec<f64>>> {
    for (i, h) in fits.hdus().iter().enumerate() {
        if h.nrows().is_none() {
            continue;
        }
        let t = fits.table_at(i)?;
        if t.has_column(name) {
            return Ok(Some(t.read_f64(name)?));
        }
    }
    Ok(None)
}

fn find_i64(fits: &FitsFile, name: &str) -> Result<Option<Vec<i64>>> {
    for (i, h) in fits.hdus().iter().enumerate() {
        if h.nrows().is_none() {
            continue;
        }
        let t = fits.table_at(i)?;
        if t.has_column(name) {
            return Ok(Some(t.read_i64(name)?));
        }
    }
    Ok(None)
}

/// Compares published (LOGMSTAR, SFR) with the input files by TARGETID.
pub fn validate(
    inputs: &[PathBuf],
    target: &[i64],
    logm: &[f64],
    sfr: &[f64],
) -> Result<Agreement> {
    let mut truth: HashMap<i64, (f64, f64)> = HashMap::new();
    for p in inputs {
        let fits = FitsFile::open(p).with_context(|| format!("opening {}", p.display()))?;
        let (Some(id), Some(m), Some(s)) = (
            find_i64(&fits, "TARGETID")?,
            find_f64(&fits, "LOGMSTAR")?,
            find_f64(&fits, "SFR")?,
        ) else {
            bail!(
                "{}: --input needs TARGETID, LOGMSTAR and SFR columns",
                p.display()
            );
        };
        if id.len() != m.len() || id.len() != s.len() {
            bail!(
                "{}: TARGETID, LOGMSTAR and SFR have different lengths",
                p.display()
            );
        }
        for i in 0..id.len() {
            truth.insert(id[i], (m[i], s[i]));
        }
    }
    Ok(agreement(&truth, target, logm, sfr))
}

fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    )
}

impl SinglePipeline for Publish {
    type Params = PublishArgs;
    type Output = PublishOutput;

    fn run(&self, ctx: &Ctx, args: &PublishArgs) -> Result<PublishOutput, PipelineError> {
        Ok(run(ctx, args)?)
    }
}

fn run(ctx: &Ctx, args: &PublishArgs) -> Result<PublishOutput> {
    let mut store = ctx.open_store()?;
    let algorithms = store.void_membership_algorithms()?;
    if !algorithms.iter().any(|a| a == &args.algorithm) {
        bail!(
            "--algorithm {}: no membership in the store (classified: {}); run astrolab voids classify",
            args.algorithm,
            if algorithms.is_empty() { "none".to_string() } else { algorithms.join(", ") }
        );
    }
    let s = load_sample(&mut store, &args.algorithm)?;
    // Columns file_id, id (TARGETID), ra, dec, z.
    let radec: HashMap<i64, (f64, f64)> = store
        .galaxy_rows("fastspec")?
        .rows
        .iter()
        .filter_map(|r| Some((r[1].as_i64()?, (r[2].as_f64()?, r[3].as_f64()?))))
        .collect();
    let n = s.target_id.len();
    let mut is_control = vec![false; n];
    for &i in &s.control_rows {
        is_control[i] = true;
    }
    let coord = |k: usize| -> Vec<f64> {
        s.target_id
            .iter()
            .map(|t| {
                radec
                    .get(t)
                    .map_or(f64::NAN, |p| if k == 0 { p.0 } else { p.1 })
            })
            .collect()
    };
    let mut cols = vec![
        ColumnOut::new("TARGETID", ColumnData::I64(s.target_id.clone())),
        ColumnOut::new("RA", ColumnData::F64(coord(0))).with_unit("deg"),
        ColumnOut::new("DEC", ColumnData::F64(coord(1))).with_unit("deg"),
        ColumnOut::new("Z", ColumnData::F64(s.z.clone())),
        ColumnOut::new("LOGMSTAR", ColumnData::F64(s.props[0].clone())).with_unit("dex(Msun)"),
        ColumnOut::new("SFR", ColumnData::F64(s.props[1].clone())).with_unit("Msun / yr"),
        ColumnOut::new(
            "IS_VOID",
            ColumnData::Bool(s.vflag.iter().map(|&v| v == 1).collect()),
        ),
        ColumnOut::new("IS_CONTROL", ColumnData::Bool(is_control)),
    ];
    for alg in &algorithms {
        let flags: HashMap<i64, i64> = store.void_membership_vflags(alg)?.into_iter().collect();
        cols.push(ColumnOut::new(
            format!("VFLAG_{}", alg.to_ascii_uppercase()),
            ColumnData::I64(
                s.target_id
                    .iter()
                    .map(|t| flags.get(t).copied().unwrap_or(-1))
                    .collect(),
            ),
        ));
    }
    let vp = store.void_properties()?;
    let width = |v: &[String]| v.iter().map(|s| s.len()).max().unwrap_or(1).max(1);
    let algs: Vec<String> = vp.iter().map(|v| v.algorithm.clone()).collect();
    let caps: Vec<String> = vp.iter().map(|v| v.cap.clone()).collect();
    let void_cols = vec![
        ColumnOut::new(
            "ALGORITHM",
            ColumnData::Str {
                width: width(&algs),
                values: algs,
            },
        ),
        ColumnOut::new(
            "CAP",
            ColumnData::Str {
                width: width(&caps),
                values: caps,
            },
        ),
        ColumnOut::new(
            "VOID",
            ColumnData::I64(vp.iter().map(|v| v.void_id).collect()),
        ),
        ColumnOut::new(
            "N_GALAXIES",
            ColumnData::I64(vp.iter().map(|v| v.n_galaxies).collect()),
        ),
        ColumnOut::new(
            "R_VOID_NORM_MEAN",
            ColumnData::F64(
                vp.iter()
                    .map(|v| v.r_void_norm_mean.unwrap_or(f64::NAN))
                    .collect(),
            ),
        ),
    ];

    // Validation before anything is written.
    let mut validation = None;
    if !args.inputs.is_empty() {
        let v = validate(&args.inputs, &s.target_id, &s.props[0], &s.props[1])?;
        validation = Some((v.compared, v.differing));
        let msg = format!(
            "validation: {} of {} galaxies ({:.2} %) differ from the input catalog by more than 0.1 dex in LOGMSTAR or SFR",
            v.differing,
            v.compared,
            100.0 * v.fraction()
        );
        if v.fraction() > 0.01 {
            if args.strict {
                bail!("{msg} (more than 1 %); nothing written");
            }
            ctx.warn(format!("{msg} (more than 1 %)"));
        } else {
            ctx.info(msg);
        }
    }
    let date = args.date.clone().unwrap_or_else(today);
    // The lab's VAC header (AUTHOR, DATE, VAC_VERS, input versions,
    // ORIGIN), shared with `astrolab publish`.
    let header = vac_primary_cards(&VacHeader {
        author: args.author.clone(),
        date: date.clone(),
        vac_version: args.vac_version.clone(),
        input_versions: vec![(
            "FSF_VERS".into(),
            args.fsf_version.clone(),
            "FastSpecFit version".into(),
        )],
        extra: vec![
            Card::str("VOIDALG", &args.algorithm).with_comment("Algorithm defining IS_VOID")
        ],
    });
    let hdus = [
        HduOut::Primary { header },
        HduOut::Table {
            extname: Some("GALAXY_DATA".into()),
            header: vec![],
            columns: cols,
        },
        HduOut::Table {
            extname: Some("VOID_PROPERTIES".into()),
            header: vec![],
            columns: void_cols,
        },
    ];
    if let Some(dir) = args.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // write_fits writes to a temporary name and renames.
    write_fits(&args.output, &hdus)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let sum = astrolab_store::file_digest(&args.output)
        .with_context(|| format!("reading {}", args.output.display()))?
        .1;
    let name = args
        .output
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("catalog.fits")
        .to_string();
    let dir = args
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let sums = dir.join("SHA256SUMS");
    astrolab_formats::atomic::write(&sums, format!("{sum}  {name}\n").as_bytes())
        .with_context(|| format!("writing {}", sums.display()))?;
    ctx.info(format!(
        "wrote {} ({} galaxies, {} void, {} control; {} voids) and {}",
        args.output.display(),
        n,
        s.void_rows.len(),
        s.control_rows.len(),
        vp.len(),
        sums.display()
    ));
    Ok(PublishOutput {
        output: args.output.clone(),
        sums,
        galaxies: n,
        void: s.void_rows.len(),
        control: s.control_rows.len(),
        voids: vp.len(),
        validation,
    })
}
