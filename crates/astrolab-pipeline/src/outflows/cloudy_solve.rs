//! `outflows cloudy-solve`: each outflow's (N_H, U) from its measured ionic
//! columns on a grid of Cloudy runs ([`astrolab_qso::cloudy::solve`]), and
//! its energetics ([`astrolab_qso::energetics`]) when its speed and the
//! quasar's luminosity are given. The CSV inputs are small hand-made tables
//! (a few rows per outflow): read here with a plain header-and-comma
//! reader, every error naming the file, line and column.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use astrolab_qso::cloudy::deck::parse_deck;
use astrolab_qso::cloudy::grid::{ColumnGrid, GridModel};
use astrolab_qso::cloudy::parse::parse_col;
use astrolab_qso::cloudy::solve::{solve, ColumnMeasurement, Constraint, Solution, SolveOptions};
use astrolab_qso::energetics::{energetics, OutflowEnergetics, OutflowInput, ReferenceContinuum};
use serde::{Deserialize, Serialize};

use crate::context::Ctx;
use crate::error::{PipelineError, UsageError};
use crate::params::defs::CloudySolveArgs;
use crate::pipeline::SinglePipeline;

/// The `outflows-cloudy-solve` pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct CloudySolve;

/// What the solve made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudySolveOutput {
    /// Models in the grid.
    pub models: usize,
    /// The grid's n_H (log10 cm^-3).
    pub log_hden_cm3: f64,
    /// Outflows solved.
    pub outflows: usize,
    /// Of them, with energetics.
    pub with_energetics: usize,
    /// Solutions at the grid's edge (extend the grid).
    pub at_edge: usize,
    /// The table.
    pub output: PathBuf,
    /// The JSON record.
    pub json: PathBuf,
}

/// One outflow's result (the JSON record).
#[derive(Debug, Clone, PartialEq, Serialize)]
struct OutflowResult {
    outflow: String,
    measured: Vec<ColumnMeasurement>,
    solution: Solution,
    energetics: Option<OutflowEnergetics>,
}

fn usage(msg: String) -> PipelineError {
    PipelineError::Failed(anyhow::Error::new(UsageError(msg)))
}

/// Rows of a small CSV as (line number, column -> value), column names
/// upper-cased.
fn read_csv(path: &Path) -> anyhow::Result<Vec<(usize, BTreeMap<String, String>)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((_, header)) = lines.next() else {
        bail!("{}: empty (expected a header line)", path.display());
    };
    let names: Vec<String> = header.split(',').map(|h| h.trim().to_uppercase()).collect();
    let mut rows = Vec::new();
    for (i, l) in lines {
        let vals: Vec<&str> = l.split(',').map(str::trim).collect();
        if vals.len() != names.len() {
            bail!(
                "{} line {}: {} values for {} columns ({})",
                path.display(),
                i + 1,
                vals.len(),
                names.len(),
                names.join(",")
            );
        }
        rows.push((
            i + 1,
            names
                .iter()
                .cloned()
                .zip(vals.into_iter().map(String::from))
                .collect(),
        ));
    }
    Ok(rows)
}

fn field<'a>(
    path: &Path,
    line: usize,
    row: &'a BTreeMap<String, String>,
    name: &str,
) -> anyhow::Result<&'a str> {
    row.get(name).map(String::as_str).ok_or_else(|| {
        anyhow!(
            "{} line {line}: no column {name} (columns: {})",
            path.display(),
            row.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })
}

fn number(
    path: &Path,
    line: usize,
    row: &BTreeMap<String, String>,
    name: &str,
) -> anyhow::Result<f64> {
    let v = field(path, line, row, name)?;
    v.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| {
            anyhow!(
                "{} line {line}, column {name}: {v:?} is not a finite number",
                path.display()
            )
        })
}

/// The grid of a directory of separate Cloudy runs: every deck (`.in`)
/// that sets one U and one stop column density and has its `.col`.
pub fn read_grid(dir: &Path) -> anyhow::Result<ColumnGrid> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("--grid {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "in"))
        .collect();
    entries.sort();
    let mut models = Vec::new();
    let mut hden: Option<f64> = None;
    for deck_path in entries {
        let name = deck_path.display().to_string();
        let deck = parse_deck(
            &std::fs::read_to_string(&deck_path).with_context(|| format!("reading {name}"))?,
            &name,
        )?;
        // A `vary` deck runs the whole grid in one file: its models are the
        // separate runs beside it.
        let (Some((log_u, None)), Some((log_nh, None))) = (deck.log_u, deck.log_nh_cm2) else {
            continue;
        };
        let col_path = deck_path.with_extension("col");
        if !col_path.exists() {
            bail!(
                "{name}: its column densities {} are missing (run the deck with Cloudy, or remove it from the grid)",
                col_path.display()
            );
        }
        let d = deck
            .log_hden_cm3
            .ok_or_else(|| anyhow!("{name}: no hden command"))?;
        match hden {
            Some(h) if (h - d).abs() > 1e-9 => bail!(
                "{name}: log n_H {d}, but the grid's other models have {h}: a grid is at one density"
            ),
            _ => hden = Some(d),
        }
        let col_name = col_path.display().to_string();
        let columns = parse_col(
            &std::fs::read_to_string(&col_path).with_context(|| format!("reading {col_name}"))?,
            &col_name,
        )?;
        models.push(GridModel {
            log_u,
            log_nh_cm2: log_nh,
            columns,
        });
    }
    let Some(h) = hden else {
        bail!(
            "--grid {}: no Cloudy runs (a deck STEM.in with its STEM.col per model)",
            dir.display()
        );
    };
    Ok(ColumnGrid::from_models(h, &models)?)
}

impl SinglePipeline for CloudySolve {
    type Params = CloudySolveArgs;
    type Output = CloudySolveOutput;

    fn run(&self, ctx: &Ctx, a: &CloudySolveArgs) -> Result<CloudySolveOutput, PipelineError> {
        let grid = read_grid(&a.grid)?;
        let models = grid.log_u_nodes().len() * grid.log_nh_nodes().len();
        // Measurements, grouped by outflow in file order.
        let mut order: Vec<String> = Vec::new();
        let mut measured: BTreeMap<String, Vec<ColumnMeasurement>> = BTreeMap::new();
        for (line, row) in read_csv(&a.columns)? {
            let outflow = field(&a.columns, line, &row, "OUTFLOW")?.to_string();
            let constraint = match row.get("CONSTRAINT").map(|c| c.to_lowercase()).as_deref() {
                None | Some("") | Some("measured") => Constraint::Measured,
                Some("lower") => Constraint::LowerLimit,
                Some("upper") => Constraint::UpperLimit,
                Some(other) => {
                    return Err(usage(format!(
                    "{} line {line}, column CONSTRAINT: {other:?}; use measured, lower or upper",
                    a.columns.display()
                )))
                }
            };
            let m = ColumnMeasurement {
                species: field(&a.columns, line, &row, "SPECIES")?.to_string(),
                log_cm2: number(&a.columns, line, &row, "LOG_N")?,
                sigma_dex: number(&a.columns, line, &row, "SIGMA_DEX")?,
                constraint,
            };
            if !measured.contains_key(&outflow) {
                order.push(outflow.clone());
            }
            measured.entry(outflow).or_default().push(m);
        }
        if order.is_empty() {
            return Err(usage(format!(
                "{}: no measured columns",
                a.columns.display()
            )));
        }
        // Speeds and luminosities.
        let mut kin: BTreeMap<String, (f64, ReferenceContinuum, f64, Option<f64>)> =
            BTreeMap::new();
        if let Some(p) = &a.outflows {
            for (line, row) in read_csv(p)? {
                let reference = match field(p, line, &row, "REFERENCE")? {
                    "1350" => ReferenceContinuum::A1350,
                    "3000" => ReferenceContinuum::A3000,
                    other => {
                        return Err(usage(format!(
                        "{} line {line}, column REFERENCE: {other:?}; use 1350 or 3000 (Angstrom)",
                        p.display()
                    )))
                    }
                };
                let omega = match row.get("OMEGA") {
                    Some(_) => Some(number(p, line, &row, "OMEGA")?),
                    None => None,
                };
                kin.insert(
                    field(p, line, &row, "OUTFLOW")?.to_string(),
                    (
                        number(p, line, &row, "V_KM_S")?,
                        reference,
                        number(p, line, &row, "LAMBDA_L_LAMBDA_ERG_S")?,
                        omega,
                    ),
                );
            }
        }
        let mut results = Vec::new();
        for name in &order {
            let m = &measured[name];
            let solution = solve(&grid, m, &SolveOptions::default())
                .map_err(|e| usage(format!("{}: outflow {name}: {e}", a.columns.display())))?;
            let energetics = match kin.get(name) {
                Some(&(v, reference, l, omega)) => {
                    let mut input = OutflowInput::new(
                        name.clone(),
                        (solution.log_nh_cm2, solution.log_u, grid.log_hden_cm3()),
                        v,
                        reference,
                        l,
                    );
                    if let Some(o) = omega {
                        input.omega = o;
                    }
                    Some(energetics(&input).map_err(|e| usage(e.to_string()))?)
                }
                None => None,
            };
            results.push(OutflowResult {
                outflow: name.clone(),
                measured: m.clone(),
                solution,
                energetics,
            });
        }
        let mut csv = String::from(
            "OUTFLOW,N_COLUMNS,LOG_U,LOG_U_LO,LOG_U_HI,LOG_NH,LOG_NH_LO,LOG_NH_HI,CHI2,DOF,AT_EDGE,LOG_HDEN,R_PC,MDOT_MSUN_YR,EDOT_ERG_S,EDOT_OVER_LBOL\n",
        );
        for r in &results {
            let s = &r.solution;
            let _ = write!(
                csv,
                "{},{},{},{},{},{},{},{},{},{},{},{}",
                r.outflow,
                r.measured.len(),
                s.log_u,
                s.log_u_range.0,
                s.log_u_range.1,
                s.log_nh_cm2,
                s.log_nh_range.0,
                s.log_nh_range.1,
                s.chi2_min,
                s.dof,
                s.at_edge || s.region_at_edge,
                grid.log_hden_cm3()
            );
            match &r.energetics {
                Some(e) => {
                    let _ = writeln!(
                        csv,
                        ",{},{},{:e},{}",
                        e.r_pc, e.mdot_msun_yr, e.edot_erg_s, e.edot_over_lbol
                    );
                }
                None => csv.push_str(",,,,\n"),
            }
        }
        crate::output::write_file(&a.output, csv.as_bytes())?;
        let record = serde_json::json!({
            "grid": a.grid.display().to_string(),
            "log_hden_cm3": grid.log_hden_cm3(),
            "log_u_nodes": grid.log_u_nodes(),
            "log_nh_nodes": grid.log_nh_nodes(),
            "outflows": results,
        });
        let mut text = serde_json::to_vec_pretty(&record)
            .map_err(|e| PipelineError::Failed(anyhow!("the record as JSON: {e}")))?;
        text.push(b'\n');
        crate::output::write_file(&a.json, &text)?;
        let at_edge = results
            .iter()
            .filter(|r| r.solution.at_edge || r.solution.region_at_edge)
            .count();
        let with_energetics = results.iter().filter(|r| r.energetics.is_some()).count();
        for r in &results {
            ctx.info(format!(
                "{}: log U {:.3} [{:.3}, {:.3}], log N_H {:.3} [{:.3}, {:.3}], chi2 {:.2} for {} dof{}",
                r.outflow,
                r.solution.log_u,
                r.solution.log_u_range.0,
                r.solution.log_u_range.1,
                r.solution.log_nh_cm2,
                r.solution.log_nh_range.0,
                r.solution.log_nh_range.1,
                r.solution.chi2_min,
                r.solution.dof,
                if r.solution.at_edge || r.solution.region_at_edge {
                    " (at the grid's edge: extend the grid)"
                } else {
                    ""
                }
            ));
        }
        Ok(CloudySolveOutput {
            models,
            log_hden_cm3: grid.log_hden_cm3(),
            outflows: results.len(),
            with_energetics,
            at_edge,
            output: a.output.clone(),
            json: a.json.clone(),
        })
    }
}
