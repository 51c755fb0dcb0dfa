//! `astrolab voids publish`: the void-galaxy value-added catalog.
//!
//! FITS with PRIMARY (AUTHOR, DATE, VAC_VERS, FSF_VERS, the algorithm that
//! defines IS_VOID), GALAXY_DATA (TARGETID, RA, DEC, Z, LOGMSTAR, SFR,
//! IS_VOID, IS_CONTROL, VFLAG_<ALGORITHM> for every classified algorithm;
//! -1 where a galaxy was not classified) and VOID_PROPERTIES (per
//! algorithm, cap and void: member count and mean R_VOID_NORM). Written
//! to a temporary name and renamed; a `SHA256SUMS` file (sha256sum format)
//! is written beside it the same way.
//!
//! Validation: with `--input` (the FastSpecFit files the catalog derives
//! from), LOGMSTAR and log10(SFR) of every published galaxy are compared
//! with the input by TARGETID; more than 1 % of objects differing by more
//! than 0.1 dex prints a warning (and fails with `--strict`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use astrolab_formats::fits::{write_fits, Card, ColumnData, ColumnOut, FitsFile, HduOut};
use clap::Args;

use crate::config::Config;

/// Arguments of `voids publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Output FITS file.
    #[arg(long, short)]
    pub output: PathBuf,
    /// The algorithm whose vflag = 1 defines IS_VOID (and the control sample).
    #[arg(long, default_value = "VoidFinder")]
    pub algorithm: String,
    /// AUTHOR keyword.
    #[arg(long)]
    pub author: String,
    /// VAC_VERS keyword.
    #[arg(long, default_value = "1.0")]
    pub vac_version: String,
    /// FSF_VERS keyword (FastSpecFit version of the properties).
    #[arg(long, default_value = "v3.0")]
    pub fsf_version: String,
    /// DATE keyword (default: today, UTC, YYYY-MM-DD).
    #[arg(long)]
    pub date: Option<String>,
    /// FastSpecFit files to validate LOGMSTAR and SFR against.
    #[arg(long = "input")]
    pub inputs: Vec<PathBuf>,
    /// Fail (instead of warning) when the validation finds > 1 % of
    /// objects off by > 0.1 dex.
    #[arg(long)]
    pub strict: bool,
}

/// Outcome of the validation against the input catalog.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Validation {
    /// Galaxies found in the input.
    pub compared: usize,
    /// Galaxies with LOGMSTAR or log10 SFR off by more than 0.1 dex.
    pub differing: usize,
}

impl Validation {
    /// Fraction differing.
    pub fn fraction(&self) -> f64 {
        if self.compared == 0 {
            0.0
        } else {
            self.differing as f64 / self.compared as f64
        }
    }
}

fn find_column(fits: &FitsFile, name: &str) -> Result<Option<Vec<f64>>> {
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
) -> Result<Validation> {
    let mut truth: HashMap<i64, (f64, f64)> = HashMap::new();
    for p in inputs {
        let fits = FitsFile::open(p).with_context(|| format!("opening {}", p.display()))?;
        let (Some(id), Some(m), Some(s)) = (
            find_i64(&fits, "TARGETID")?,
            find_column(&fits, "LOGMSTAR")?,
            find_column(&fits, "SFR")?,
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
    let mut v = Validation {
        compared: 0,
        differing: 0,
    };
    let dex = |a: f64| if a > 0.0 { a.log10() } else { f64::NAN };
    for i in 0..target.len() {
        let Some(&(m, s)) = truth.get(&target[i]) else {
            continue;
        };
        v.compared += 1;
        let dm = (logm[i] - m).abs();
        let ds = (dex(sfr[i]) - dex(s)).abs();
        // NaN on one side only (a value lost or invented) counts as a difference.
        let off =
            |d: f64, a: f64, b: f64| d > 0.1 || (d.is_nan() && a.is_finite() != b.is_finite());
        if off(dm, logm[i], m) || off(ds, dex(sfr[i]), dex(s)) {
            v.differing += 1;
        }
    }
    Ok(v)
}

fn sha256_hex(path: &Path) -> Result<String> {
    Ok(astrolab_store::file_digest(path)?.1)
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

pub fn run(cfg: &Config, args: &PublishArgs) -> Result<()> {
    let mut store = crate::commands::open_store(cfg)?;
    let algorithms = store.void_membership_algorithms()?;
    if !algorithms.iter().any(|a| a == &args.algorithm) {
        bail!(
            "--algorithm {}: no membership in the store (classified: {}); run astrolab voids classify",
            args.algorithm,
            if algorithms.is_empty() { "none".to_string() } else { algorithms.join(", ") }
        );
    }
    let s = super::voids_compare::load_sample(&mut store, &args.algorithm)?;
    let pos = store.sql_readonly("SELECT targetid, ra, dec FROM fastspec")?;
    let radec: HashMap<i64, (f64, f64)> = pos
        .rows
        .iter()
        .filter_map(|r| Some((r[0].as_i64()?, (r[1].as_f64()?, r[2].as_f64()?))))
        .collect();
    let n = s.target_id.len();
    let mut is_control = vec![false; n];
    for &i in &s.control_rows {
        is_control[i] = true;
    }
    let mut cols = vec![
        ColumnOut::new("TARGETID", ColumnData::I64(s.target_id.clone())),
        ColumnOut::new(
            "RA",
            ColumnData::F64(
                s.target_id
                    .iter()
                    .map(|t| radec.get(t).map_or(f64::NAN, |p| p.0))
                    .collect(),
            ),
        )
        .with_unit("deg"),
        ColumnOut::new(
            "DEC",
            ColumnData::F64(
                s.target_id
                    .iter()
                    .map(|t| radec.get(t).map_or(f64::NAN, |p| p.1))
                    .collect(),
            ),
        )
        .with_unit("deg"),
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
        let rows = store.void_membership_select(
            Some(&format!("algorithm = '{}'", alg.replace('\'', "''"))),
            None,
        )?;
        let (ti, vi) = (rows.column_index("target_id"), rows.column_index("vflag"));
        let (Some(ti), Some(vi)) = (ti, vi) else {
            continue;
        };
        let flags: HashMap<i64, i64> = rows
            .rows
            .iter()
            .filter_map(|r| Some((r[ti].as_i64()?, r[vi].as_i64()?)))
            .collect();
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
    let vp = store.sql_readonly(
        "SELECT algorithm, cap, void_id, COUNT(*), AVG(r_void_norm) FROM void_membership WHERE vflag = 1 AND void_id IS NOT NULL GROUP BY algorithm, cap, void_id ORDER BY algorithm, cap, void_id",
    )?;
    let text = |i: usize| {
        vp.rows
            .iter()
            .map(|r| r[i].to_string())
            .collect::<Vec<String>>()
    };
    let width = |v: &[String]| v.iter().map(|s| s.len()).max().unwrap_or(1).max(1);
    let (algs, caps) = (text(0), text(1));
    let void_cols = vec![
        ColumnOut::new(
            "ALGORITHM",
            ColumnData::Str {
                width: width(&algs),
                values: algs.clone(),
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
            ColumnData::I64(
                vp.rows
                    .iter()
                    .map(|r| r[2].as_i64().unwrap_or(-1))
                    .collect(),
            ),
        ),
        ColumnOut::new(
            "N_GALAXIES",
            ColumnData::I64(vp.rows.iter().map(|r| r[3].as_i64().unwrap_or(0)).collect()),
        ),
        ColumnOut::new(
            "R_VOID_NORM_MEAN",
            ColumnData::F64(
                vp.rows
                    .iter()
                    .map(|r| r[4].as_f64().unwrap_or(f64::NAN))
                    .collect(),
            ),
        ),
    ];

    // Validation before anything is written.
    if !args.inputs.is_empty() {
        let v = validate(&args.inputs, &s.target_id, &s.props[0], &s.props[1])?;
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
            eprintln!("warning: {msg} (more than 1 %)");
        } else {
            println!("{msg}");
        }
    }
    let date = args.date.clone().unwrap_or_else(today);
    let hdus = [
        HduOut::Primary {
            header: vec![
                Card::str("AUTHOR", &args.author).with_comment("Author of the catalog"),
                Card::str("DATE", &date).with_comment("Date of the catalog (UTC)"),
                Card::str("VAC_VERS", &args.vac_version).with_comment("Catalog version"),
                Card::str("FSF_VERS", &args.fsf_version).with_comment("FastSpecFit version"),
                Card::str("VOIDALG", &args.algorithm).with_comment("Algorithm defining IS_VOID"),
                Card::str("ORIGIN", &format!("astrolab {}", env!("CARGO_PKG_VERSION"))),
            ],
        },
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
    let sum = sha256_hex(&args.output)?;
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
    let tmp = dir.join(format!(".SHA256SUMS.tmp-{}", std::process::id()));
    std::fs::write(&tmp, format!("{sum}  {name}\n"))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &sums).with_context(|| format!("renaming to {}", sums.display()))?;
    println!(
        "wrote {} ({} galaxies, {} void, {} control; {} voids) and {}",
        args.output.display(),
        n,
        s.void_rows.len(),
        s.control_rows.len(),
        vp.rows.len(),
        sums.display()
    );
    Ok(())
}
