//! `astrolab voids compare`: void vs wall and vs a matched control sample,
//! per algorithm and across algorithms, from the store's membership joined
//! with FastSpecFit (the statistics are `astrolab_voids::compare`).

pub use astrolab_pipeline::params::defs::CompareArgs;
use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use astrolab_voids::compare::{
    compare_fraction, compare_property, is_quenched, log_ssfr, CompareConfig, FractionComparison,
    PropertyComparison,
};
use astrolab_voids::stats::{anderson_ksamp, match_control, ControlMatch};

use crate::config::Config;

/// The properties compared: (name, axis label).
pub const PROPERTIES: [(&str, &str); 6] = [
    ("LOGMSTAR", "log10 M* [M_sun]"),
    ("SFR", "SFR [M_sun/yr]"),
    ("LOG_SSFR", "log10 sSFR [1/yr]"),
    ("DN4000", "Dn4000"),
    ("AGE", "age [Gyr]"),
    ("ZZSUN", "Z/Z_sun"),
];

/// One algorithm's galaxies with FastSpecFit values.
pub struct AlgorithmSample {
    /// TARGETID per row.
    pub target_id: Vec<i64>,
    /// vflag per row.
    pub vflag: Vec<i64>,
    /// Redshift per row.
    pub z: Vec<f64>,
    /// Values of [`PROPERTIES`], per property then row.
    pub props: Vec<Vec<f64>>,
    /// Rows of the void galaxies.
    pub void_rows: Vec<usize>,
    /// Rows of the wall galaxies.
    pub wall_rows: Vec<usize>,
    /// Rows of the control sample (wall galaxies matched to void ones).
    pub control_rows: Vec<usize>,
}

/// Reads one algorithm's membership joined with FastSpecFit and matches
/// the control sample (mass and redshift, without replacement).
pub fn load_sample(store: &mut astrolab_store::Store, algorithm: &str) -> Result<AlgorithmSample> {
    // The CLI reads the whole store (no caller to restrict).
    let t = store.void_membership_with_fastspec(algorithm, &[])?;
    let f = |r: &[astrolab_store::Value], i: usize| r[i].as_f64().unwrap_or(f64::NAN);
    let mut s = AlgorithmSample {
        target_id: Vec::new(),
        vflag: Vec::new(),
        z: Vec::new(),
        props: vec![Vec::new(); PROPERTIES.len()],
        void_rows: Vec::new(),
        wall_rows: Vec::new(),
        control_rows: Vec::new(),
    };
    for r in &t.rows {
        let logm = f(r, 4);
        if !logm.is_finite() {
            // No FastSpecFit row: nothing to compare.
            continue;
        }
        let sfr = f(r, 5);
        s.target_id.push(r[0].as_i64().unwrap_or(-1));
        s.vflag.push(r[2].as_i64().unwrap_or(-1));
        s.z.push(f(r, 3));
        let ls = log_ssfr(sfr, logm);
        let vals = [
            logm,
            sfr,
            if ls.is_finite() { ls } else { f64::NAN },
            f(r, 6),
            f(r, 7),
            f(r, 8),
        ];
        for (k, v) in vals.iter().enumerate() {
            s.props[k].push(*v);
        }
    }
    for (i, &v) in s.vflag.iter().enumerate() {
        match v {
            1 => s.void_rows.push(i),
            0 => s.wall_rows.push(i),
            _ => {}
        }
    }
    let pick = |rows: &[usize], col: &[f64]| rows.iter().map(|&i| col[i]).collect::<Vec<f64>>();
    let matched = match_control(
        &pick(&s.void_rows, &s.props[0]),
        &pick(&s.void_rows, &s.z),
        &pick(&s.wall_rows, &s.props[0]),
        &pick(&s.wall_rows, &s.z),
        &ControlMatch::default(),
    );
    s.control_rows = matched.iter().flatten().map(|&k| s.wall_rows[k]).collect();
    s.control_rows.sort_unstable();
    Ok(s)
}

#[derive(serde::Serialize)]
struct Row {
    algorithm: String,
    property: String,
    versus: String,
    n_void: usize,
    n_other: usize,
    median_void: [f64; 3],
    median_other: [f64; 3],
    ks_d: f64,
    ks_p: f64,
    ks_method: String,
    ad_t: Option<f64>,
    ad_p: Option<f64>,
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

#[derive(serde::Serialize)]
struct FracRow {
    algorithm: String,
    versus: String,
    n_void: usize,
    n_other: usize,
    quenched_void: [f64; 3],
    quenched_other: [f64; 3],
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

pub fn run(cfg: &Config, args: &CompareArgs) -> Result<()> {
    let mut store = crate::commands::open_store(cfg)?;
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
        .unwrap_or_else(|| cfg.store().home.join("voids").join("compare"));
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
    for alg in &algorithms {
        let s = load_sample(&mut store, alg)?;
        if s.void_rows.is_empty() || s.wall_rows.is_empty() {
            bail!(
                "{alg}: {} void and {} wall galaxies with FastSpecFit values; need both (ingest the fastspec catalog and classify)",
                s.void_rows.len(),
                s.wall_rows.len()
            );
        }
        for (k, (name, label)) in PROPERTIES.iter().enumerate() {
            let col = &s.props[k];
            let pick = |rows: &[usize]| rows.iter().map(|&i| col[i]).collect::<Vec<f64>>();
            let (v, w, c) = (
                pick(&s.void_rows),
                pick(&s.wall_rows),
                pick(&s.control_rows),
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
                if let Some(svg) = super::voids_plots::cdf_svg(
                    &format!("{name}: {alg} void vs wall"),
                    label,
                    &series,
                ) {
                    for ext in ["svg", "png"] {
                        crate::plot::write_plot(&svg, &out.join(format!("cdf_{stem}.{ext}")))?;
                        figures += 1;
                    }
                }
                if let Some(svg) = super::voids_plots::hist_svg(
                    &format!("{name}: {alg} void vs wall"),
                    label,
                    &series,
                    30,
                ) {
                    for ext in ["svg", "png"] {
                        crate::plot::write_plot(&svg, &out.join(format!("hist_{stem}.{ext}")))?;
                        figures += 1;
                    }
                }
            }
        }
        let q = |rows: &[usize]| {
            rows.iter()
                .map(|&i| is_quenched(log_ssfr(s.props[1][i], s.props[0][i])))
                .collect::<Vec<_>>()
        };
        let qv = q(&s.void_rows);
        fracs.push(frac_row(
            alg,
            "wall",
            &compare_fraction("quenched", &qv, &q(&s.wall_rows), &cc)?,
        ));
        if !s.control_rows.is_empty() {
            fracs.push(frac_row(
                alg,
                "control",
                &compare_fraction("quenched", &qv, &q(&s.control_rows), &cc)?,
            ));
        }
        samples.push(s);
    }
    // Across algorithms: do the void galaxies of the algorithms differ?
    let mut across = Vec::new();
    if samples.len() >= 2 {
        for (k, (name, _)) in PROPERTIES.iter().enumerate() {
            let sets: Vec<Vec<f64>> = samples
                .iter()
                .map(|s| {
                    s.void_rows
                        .iter()
                        .map(|&i| s.props[k][i])
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
    // The plain-text table.
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
    for r in &rows {
        let ci = |m: [f64; 3]| format!("{:.4} [{:.4}, {:.4}]", m[0], m[1], m[2]);
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
    for f in &fracs {
        let ci = |m: [f64; 3]| format!("{:.4} [{:.4}, {:.4}]", m[0], m[1], m[2]);
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
        for a in &across {
            let _ = writeln!(
                txt,
                "{:<9} T = {:.3}  p = {:.4}",
                a["property"].as_str().unwrap_or(""),
                a["ad_t"].as_f64().unwrap_or(f64::NAN),
                a["ad_p"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    std::fs::write(out.join("summary.txt"), &txt)
        .with_context(|| format!("writing {}", out.join("summary.txt").display()))?;
    let json = serde_json::json!({"properties": rows, "quenched": fracs, "across_algorithms": across,
        "level": args.level, "replicates": args.replicates, "seed": args.seed});
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&json)?,
    )
    .with_context(|| format!("writing {}", out.join("summary.json").display()))?;
    print!("{txt}");
    println!(
        "\nwrote {} (summary.txt, summary.json, {figures} figures)",
        out.display()
    );
    Ok(())
}
