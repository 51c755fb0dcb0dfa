//! `voids compare`: void vs wall and vs a matched control sample, per
//! algorithm and across algorithms, from the store's membership joined
//! with FastSpecFit (the statistics are `astrolab_voids::compare`): a text
//! summary, the same as JSON, and CDF and histogram figures.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use astrolab_voids::compare::{
    compare_fraction, compare_property, CompareConfig, FractionComparison, PropertyComparison,
    PROPERTIES,
};
use astrolab_voids::stats::anderson_ksamp;
use serde::{Deserialize, Serialize};

use super::plots::{cdf_svg, hist_svg};
use super::sample::load_sample;
use crate::context::Ctx;
use crate::error::PipelineError;
use crate::params::defs::CompareArgs;
use crate::pipeline::SinglePipeline;
use crate::render::write_plot;

/// The comparison pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct Compare;

/// One property of one algorithm, void against wall or control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub algorithm: String,
    pub property: String,
    pub versus: String,
    pub n_void: usize,
    pub n_other: usize,
    pub median_void: [f64; 3],
    pub median_other: [f64; 3],
    pub ks_d: f64,
    pub ks_p: f64,
    pub ks_method: String,
    pub ad_t: Option<f64>,
    pub ad_p: Option<f64>,
}

fn row(alg: &str, versus: &str, c: &PropertyComparison) -> Row {
    Row {
        algorithm: alg.into(),
        property: c.property.clone(),
        versus: versus.into(),
        n_void: c.n_a,
        n_other: c.n_b,
        median_void: [c.median_a.estimate, c.median_a.lo, c.median_a.hi],
        median_other: [c.median_b.estimate, c.median_b.lo, c.median_b.hi],
        ks_d: c.ks.statistic,
        ks_p: c.ks.pvalue,
        ks_method: format!("{:?}", c.ks.method).to_lowercase(),
        ad_t: c.ad.as_ref().map(|a| a.statistic),
        ad_p: c.ad.as_ref().map(|a| a.pvalue),
    }
}

/// Quenched fractions of one algorithm, void against wall or control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FracRow {
    pub algorithm: String,
    pub versus: String,
    pub n_void: usize,
    pub n_other: usize,
    pub quenched_void: [f64; 3],
    pub quenched_other: [f64; 3],
}

fn frac_row(alg: &str, versus: &str, f: &FractionComparison) -> FracRow {
    FracRow {
        algorithm: alg.into(),
        versus: versus.into(),
        n_void: f.n_a,
        n_other: f.n_b,
        quenched_void: [f.a.estimate, f.a.lo, f.a.hi],
        quenched_other: [f.b.estimate, f.b.lo, f.b.hi],
    }
}

/// What a comparison gave and where it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareOutput {
    /// The directory of summary.txt, summary.json and the figures.
    pub out: PathBuf,
    /// Algorithms compared.
    pub algorithms: Vec<String>,
    /// Per algorithm and property.
    pub properties: Vec<Row>,
    /// Quenched fractions.
    pub quenched: Vec<FracRow>,
    /// Figures written.
    pub figures: usize,
}

impl SinglePipeline for Compare {
    type Params = CompareArgs;
    type Output = CompareOutput;

    fn run(&self, ctx: &Ctx, args: &CompareArgs) -> Result<CompareOutput, PipelineError> {
        Ok(run(ctx, args)?)
    }
}

fn run(ctx: &Ctx, args: &CompareArgs) -> Result<CompareOutput> {
    let mut store = ctx.open_store()?;
    let algorithms = if args.algorithms.is_empty() {
        store.void_membership_algorithms()?
    } else {
        args.algorithms.clone()
    };
    if algorithms.is_empty() {
        bail!("no void membership in the store: run astrolab voids classify first");
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| ctx.home().join("voids").join("compare"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let cc = CompareConfig {
        level: args.level,
        replicates: args.replicates,
        seed: args.seed,
    };
    let mut rows = Vec::new();
    let mut fracs = Vec::new();
    let mut samples = Vec::new();
    let mut figures = 0usize;
    for (n, alg) in algorithms.iter().enumerate() {
        ctx.check_cancelled()?;
        let s = load_sample(&mut store, alg)?;
        if s.void_rows.is_empty() || s.wall_rows.is_empty() {
            bail!(
                "{alg}: {} void and {} wall galaxies with FastSpecFit values; need both (ingest the fastspec catalog and classify)",
                s.void_rows.len(),
                s.wall_rows.len()
            );
        }
        for (k, (name, label)) in PROPERTIES.iter().enumerate() {
            let (v, w, c) = (
                s.values(k, &s.void_rows),
                s.values(k, &s.wall_rows),
                s.values(k, &s.control_rows),
            );
            if v.iter().all(|x| !x.is_finite()) || w.iter().all(|x| !x.is_finite()) {
                continue;
            }
            let vw = compare_property(name, &v, &w, &cc)
                .with_context(|| format!("{alg} {name}: void vs wall"))?;
            rows.push(row(alg, "wall", &vw));
            if c.iter().any(|x| x.is_finite()) {
                let vc = compare_property(name, &v, &c, &cc)
                    .with_context(|| format!("{alg} {name}: void vs control"))?;
                rows.push(row(alg, "control", &vc));
            }
            if !args.no_plots {
                let series = vec![
                    (format!("void ({alg})"), v),
                    ("wall".to_string(), w),
                    ("control (matched M*, z)".to_string(), c),
                ];
                let stem = format!("{}_{}", alg.to_lowercase(), name.to_lowercase());
                let title = format!("{name}: {alg} void vs wall");
                if let Some(svg) = cdf_svg(&title, label, &series) {
                    for ext in ["svg", "png"] {
                        write_plot(&svg, &out.join(format!("cdf_{stem}.{ext}")))?;
                        figures += 1;
                    }
                }
                if let Some(svg) = hist_svg(&title, label, &series, 30) {
                    for ext in ["svg", "png"] {
                        write_plot(&svg, &out.join(format!("hist_{stem}.{ext}")))?;
                        figures += 1;
                    }
                }
            }
        }
        let qv = s.quenched(&s.void_rows);
        fracs.push(frac_row(
            alg,
            "wall",
            &compare_fraction("quenched", &qv, &s.quenched(&s.wall_rows), &cc)?,
        ));
        if !s.control_rows.is_empty() {
            fracs.push(frac_row(
                alg,
                "control",
                &compare_fraction("quenched", &qv, &s.quenched(&s.control_rows), &cc)?,
            ));
        }
        samples.push(s);
        ctx.progress("algorithms", n as u64 + 1, algorithms.len() as u64);
    }
    // Across algorithms: do the void galaxies of the algorithms differ?
    let mut across = Vec::new();
    if samples.len() >= 2 {
        for (k, (name, _)) in PROPERTIES.iter().enumerate() {
            let sets: Vec<Vec<f64>> = samples
                .iter()
                .map(|s| {
                    s.values(k, &s.void_rows)
                        .into_iter()
                        .filter(|x| x.is_finite())
                        .collect()
                })
                .collect();
            if sets.iter().any(|v| v.is_empty()) {
                continue;
            }
            let refs: Vec<&[f64]> = sets.iter().map(|v| v.as_slice()).collect();
            if let Ok(ad) = anderson_ksamp(&refs) {
                across.push(
                    serde_json::json!({"property": name, "ad_t": ad.statistic, "ad_p": ad.pvalue,
                    "capped": format!("{:?}", ad.capped).to_lowercase(),
                    "n_void": sets.iter().map(|v| v.len()).collect::<Vec<_>>()}),
                );
            }
        }
    }
    let txt = summary_text(args, &algorithms, &rows, &fracs, &across);
    crate::output::write_file(&out.join("summary.txt"), txt.as_bytes())?;
    let json = serde_json::json!({"properties": rows, "quenched": fracs, "across_algorithms": across,
        "level": args.level, "replicates": args.replicates, "seed": args.seed});
    crate::output::write_file(
        &out.join("summary.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    // The text ends in a newline: one line each, as `print!` gave them.
    for line in txt.lines() {
        ctx.info(line);
    }
    ctx.info("");
    ctx.info(format!(
        "wrote {} (summary.txt, summary.json, {figures} figures)",
        out.display()
    ));
    Ok(CompareOutput {
        out,
        algorithms,
        properties: rows,
        quenched: fracs,
        figures,
    })
}

/// The plain-text table of summary.txt.
fn summary_text(
    args: &CompareArgs,
    algorithms: &[String],
    rows: &[Row],
    fracs: &[FracRow],
    across: &[serde_json::Value],
) -> String {
    let mut txt = String::new();
    let _ = writeln!(
        txt,
        "# astrolab voids compare: void (vflag 1) vs wall (vflag 0) and vs a control sample of wall galaxies matched in log M* (0.1 dex) and z (0.005)\n# medians with {:.0} % bootstrap intervals ({} replicates, seed {}); KS two-sample (exact for n <= 10000); Anderson-Darling k-sample (p capped to [0.001, 0.25])",
        100.0 * args.level, args.replicates, args.seed
    );
    let _ = writeln!(
        txt,
        "{:<11} {:<9} {:<8} {:>7} {:>7} {:>28} {:>28} {:>7} {:>9} {:>8} {:>7}",
        "algorithm",
        "property",
        "versus",
        "n_void",
        "n_other",
        "median void [lo, hi]",
        "median other [lo, hi]",
        "KS D",
        "KS p",
        "AD T",
        "AD p"
    );
    let ci = |m: [f64; 3]| format!("{:.4} [{:.4}, {:.4}]", m[0], m[1], m[2]);
    for r in rows {
        let _ = writeln!(
            txt,
            "{:<11} {:<9} {:<8} {:>7} {:>7} {:>28} {:>28} {:>7.4} {:>9.3e} {:>8} {:>7}",
            r.algorithm,
            r.property,
            r.versus,
            r.n_void,
            r.n_other,
            ci(r.median_void),
            ci(r.median_other),
            r.ks_d,
            r.ks_p,
            r.ad_t.map_or("-".into(), |t| format!("{t:.3}")),
            r.ad_p.map_or("-".into(), |p| format!("{p:.4}"))
        );
    }
    let _ = writeln!(
        txt,
        "\n{:<11} {:<8} {:>7} {:>7} {:>30} {:>30}",
        "algorithm",
        "versus",
        "n_void",
        "n_other",
        "quenched void [lo, hi]",
        "quenched other [lo, hi]"
    );
    for f in fracs {
        let _ = writeln!(
            txt,
            "{:<11} {:<8} {:>7} {:>7} {:>30} {:>30}",
            f.algorithm,
            f.versus,
            f.n_void,
            f.n_other,
            ci(f.quenched_void),
            ci(f.quenched_other)
        );
    }
    if !across.is_empty() {
        let _ = writeln!(
            txt,
            "\nvoid galaxies across algorithms ({}): Anderson-Darling k-sample",
            algorithms.join(", ")
        );
        for a in across {
            let _ = writeln!(
                txt,
                "{:<9} T = {:.3}  p = {:.4}",
                a["property"].as_str().unwrap_or(""),
                a["ad_t"].as_f64().unwrap_or(f64::NAN),
                a["ad_p"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    txt
}
