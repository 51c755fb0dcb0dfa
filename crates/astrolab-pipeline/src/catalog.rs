//! The pipelines a run can name: each one's typed parameters
//! ([`crate::params::defs`]), the CLI words that run it, and where its
//! outputs go in a run directory. The server's queue, `astrolab run` and
//! the API's parameter schema all read this one table.

use std::path::Path;

use clap::{Args, FromArgMatches};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::context::Ctx;
use crate::error::PipelineError;
use crate::params::defs::{
    AnomaliesScoreArgs, AnomaliesScoreFilesArgs, AnomaliesTrainArgs, ClassifyArgs, CloudyGridArgs,
    CloudySolveArgs, CompareArgs, ConeArgs, DemoDataArgs, FindArgs, IngestArgs, OutflowsBalArgs,
    ProcessArgs, PublishArgs, QsoFitArgs, RotationArgs, SpectraBuildArgs,
};
use crate::params::{parse_json, resolved, specs, to_args, ParamError, ParamSpec};
use crate::pipeline::ShardOps;

/// Parameters checked through a pipeline's declaration: the argument list
/// (after the CLI words) and the resolved parameters, defaults included.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// Arguments that parse back into the same struct.
    pub args: Vec<String>,
    /// The struct as JSON (what a run records).
    pub resolved: Value,
}

/// A catalog entry's in-process run: resolved JSON parameters in, the
/// typed output as JSON out.
pub type RunFn = fn(&Ctx, &Value) -> Result<Value, PipelineError>;

/// One pipeline.
#[derive(Debug, Clone, Copy)]
pub struct PipelineDef {
    /// Name to submit (`voids-find`).
    pub name: &'static str,
    /// One line.
    pub summary: &'static str,
    /// CLI words that run it (`["voids", "find"]`).
    pub words: &'static [&'static str],
    /// Parameters the executor sets, never the submitter: where outputs go
    /// in the run directory, and machine-readable output switches.
    pub fixed: fn(&Path) -> Map<String, Value>,
    /// Every parameter of the declaration.
    pub specs: fn() -> Vec<ParamSpec>,
    /// JSON parameters through the declaration.
    pub check: fn(&Value) -> Result<Checked, ParamError>,
    /// Runs it in this process on resolved JSON parameters (fixed ones
    /// included), giving its typed output as JSON: [`erased`] of its
    /// [`crate::Pipeline`].
    pub run: RunFn,
    /// Its plan, shards and reduce over JSON (the cluster executor's
    /// steps): [`ShardOps::of`] its [`crate::Pipeline`].
    pub shards: ShardOps,
}

impl PipelineDef {
    /// The parameters a submitter may set (the declaration's, less the
    /// fixed ones).
    pub fn public_specs(&self) -> Vec<ParamSpec> {
        let fixed = (self.fixed)(Path::new("RUN_DIR"));
        (self.specs)()
            .into_iter()
            .filter(|s| !fixed.contains_key(&s.name))
            .collect()
    }
    /// `astrolab voids find`.
    pub fn command(&self) -> String {
        format!("astrolab {}", self.words.join(" "))
    }
}

fn check<T: Args + FromArgMatches + Serialize>(v: &Value) -> Result<Checked, ParamError> {
    let t: T = parse_json(v)?;
    Ok(Checked {
        args: to_args(&t)?,
        resolved: resolved(&t)?,
    })
}

/// A pipeline as a catalog entry's `run`: JSON parameters through its
/// declaration, run in process, output as JSON.
pub fn erased<P: crate::Pipeline + Default>(
    ctx: &Ctx,
    params: &Value,
) -> Result<Value, PipelineError> {
    crate::pipeline::run_json(&P::default(), ctx, params)
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn at(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// Every pipeline a run can name. `quickstart` is not one: it writes demo
/// data into the data home itself and ingests a synthetic sky into the
/// lab's store, a first-day tutorial rather than a run.
pub fn pipelines() -> Vec<PipelineDef> {
    vec![
        PipelineDef {
            name: "demo-data",
            summary: "Write a synthetic DESI sky (catalogs, void catalogs, spectra, truth tables) into the run directory",
            words: &["demo-data"],
            fixed: |d| obj(json!({ "dir": at(d, "demo") })),
            specs: specs::<DemoDataArgs>,
            run: erased::<crate::demo::DemoData>,
            shards: ShardOps::of::<crate::demo::DemoData>(),
            check: check::<DemoDataArgs>,
        },
        PipelineDef {
            name: "ingest",
            summary: "Ingest catalog files or directories into the store (one transaction per file)",
            words: &["ingest"],
            fixed: |_| obj(json!({ "json": true })),
            specs: specs::<IngestArgs>,
            run: erased::<crate::ingest::Ingest>,
            shards: ShardOps::of::<crate::ingest::Ingest>(),
            check: check::<IngestArgs>,
        },
        PipelineDef {
            name: "voids-find",
            summary: "Find voids with VoidFinder; writes the VAST VoidFinder FITS file",
            words: &["voids", "find"],
            fixed: |d| obj(json!({ "output": at(d, "VoidFinder_Output.fits") })),
            specs: specs::<FindArgs>,
            run: erased::<crate::voids::Find>,
            shards: ShardOps::of::<crate::voids::Find>(),
            check: check::<FindArgs>,
        },
        PipelineDef {
            name: "voids-classify",
            summary: "Classify galaxies against void catalogs (void, wall, edge, outside) into the store",
            words: &["voids", "classify"],
            fixed: |_| obj(json!({ "json": true })),
            specs: specs::<ClassifyArgs>,
            run: erased::<crate::voids::Classify>,
            shards: ShardOps::of::<crate::voids::Classify>(),
            check: check::<ClassifyArgs>,
        },
        PipelineDef {
            name: "voids-compare",
            summary: "Void vs wall galaxies: medians with bootstrap intervals, KS and AD tests, figures",
            words: &["voids", "compare"],
            fixed: |d| obj(json!({ "out": at(d, "compare") })),
            specs: specs::<CompareArgs>,
            run: erased::<crate::voids::Compare>,
            shards: ShardOps::of::<crate::voids::Compare>(),
            check: check::<CompareArgs>,
        },
        PipelineDef {
            name: "voids-publish",
            summary: "The void-galaxy value-added catalog (FITS: GALAXY_DATA, VOID_PROPERTIES) with its SHA256SUMS; `astrolab publish` turns the run into a release folder",
            words: &["voids", "publish"],
            fixed: |d| obj(json!({ "output": at(d, "void_galaxies.fits") })),
            specs: specs::<PublishArgs>,
            run: erased::<crate::voids::Publish>,
            shards: ShardOps::of::<crate::voids::Publish>(),
            check: check::<PublishArgs>,
        },
        PipelineDef {
            name: "hline-process",
            summary: "Turn SDR recordings into integrated, RFI-flagged hydrogen-line spectra",
            words: &["hline", "process"],
            fixed: |d| obj(json!({ "out_dir": at(d, "hline"), "json": true })),
            specs: specs::<ProcessArgs>,
            run: erased::<crate::hline::Process>,
            shards: ShardOps::of::<crate::hline::Process>(),
            check: check::<ProcessArgs>,
        },
        PipelineDef {
            name: "hline-rotation-curve",
            summary: "Tangent-point rotation curve and l-v diagram from calibrated spectra",
            words: &["hline", "rotation-curve"],
            fixed: |d| {
                obj(json!({
                    "output": at(d, "tangent_points.csv"),
                    "plot": at(d, "rotation_curve.svg"),
                    "lv_output": at(d, "lv.csv"),
                    "lv_plot": at(d, "lv.svg"),
                }))
            },
            specs: specs::<RotationArgs>,
            run: erased::<crate::hline::RotationCurve>,
            shards: ShardOps::of::<crate::hline::RotationCurve>(),
            check: check::<RotationArgs>,
        },
        PipelineDef {
            name: "spectra-build",
            summary: "Convert DESI coadds (with redrock) into indexed columnar spectra files",
            words: &["spectra", "build"],
            fixed: |d| obj(json!({ "out": at(d, "spectra") })),
            specs: specs::<SpectraBuildArgs>,
            run: erased::<crate::spectra::Build>,
            shards: ShardOps::of::<crate::spectra::Build>(),
            check: check::<SpectraBuildArgs>,
        },
        PipelineDef {
            name: "query-cone",
            summary: "Cone search on a sky table; the result is a CSV file in the run directory",
            words: &["query", "cone"],
            fixed: |d| obj(json!({ "format": "csv", "output": at(d, "cone.csv") })),
            specs: specs::<ConeArgs>,
            run: erased::<crate::query::Cone>,
            shards: ShardOps::of::<crate::query::Cone>(),
            check: check::<ConeArgs>,
        },
        PipelineDef {
            name: "anomalies-train",
            summary: "Train the anomalous-quasar VAE, its Isolation Forest and calibration on the store's quasar spectra; the model directory is in the run directory and the model is registered",
            words: &["anomalies", "train"],
            fixed: |d| obj(json!({ "output": at(d, "model") })),
            specs: specs::<AnomaliesTrainArgs>,
            run: erased::<crate::anomalies::AnomaliesTrain>,
            shards: ShardOps::of::<crate::anomalies::AnomaliesTrain>(),
            check: check::<AnomaliesTrainArgs>,
        },
        PipelineDef {
            name: "anomalies-score",
            summary: "Score and rank the store's quasars with a registered anomaly model: the catalog (CSV) in the run directory, the scores into the store",
            words: &["anomalies", "score"],
            fixed: |d| obj(json!({ "output": at(d, "anomalies.csv") })),
            specs: specs::<AnomaliesScoreArgs>,
            run: erased::<crate::anomalies::AnomaliesScore>,
            shards: ShardOps::of::<crate::anomalies::AnomaliesScore>(),
            check: check::<AnomaliesScoreArgs>,
        },
        PipelineDef {
            name: "anomalies-score-files",
            summary: "Score spectrum files outside the store (SDSS/BOSS spec-*.fits, DESI coadds with a redshift table) with a registered anomaly model: the ranked catalog (CSV) and figures in the run directory",
            words: &["anomalies", "score-files"],
            fixed: |d| obj(json!({ "output": at(d, "anomalies_files.csv"), "figures": at(d, "figures") })),
            specs: specs::<AnomaliesScoreFilesArgs>,
            run: erased::<crate::anomalies::AnomaliesScoreFiles>,
            shards: ShardOps::of::<crate::anomalies::AnomaliesScoreFiles>(),
            check: check::<AnomaliesScoreFilesArgs>,
        },
        PipelineDef {
            name: "outflows-bal",
            summary: "BAL troughs and indices of quasars as DESI's BAL catalog measures them (BI, AI, troughs, PCA continuum) with apparent columns, over the store's quasars or spectrum files: the catalog (CSV) in the run directory, the rows into the store",
            words: &["outflows", "bal"],
            fixed: |d| obj(json!({ "output": at(d, "bal.csv") })),
            specs: specs::<OutflowsBalArgs>,
            run: erased::<crate::outflows::OutflowsBal>,
            shards: ShardOps::of::<crate::outflows::OutflowsBal>(),
            check: check::<OutflowsBalArgs>,
        },
        PipelineDef {
            name: "qso-fit",
            summary: "Quasar spectral fits (power law, Fe II, Balmer continuum, emission-line complexes with [O III] wings), [O III] kinematics, black-hole masses and outflow energetics, over the store's quasars or spectrum files: the catalog (CSV) in the run directory",
            words: &["qso", "fit"],
            fixed: |d| obj(json!({ "output": at(d, "qso_fit.csv") })),
            specs: specs::<QsoFitArgs>,
            run: erased::<crate::qso::QsoFitPipeline>,
            shards: ShardOps::of::<crate::qso::QsoFitPipeline>(),
            check: check::<QsoFitArgs>,
        },
        PipelineDef {
            name: "outflows-cloudy-grid",
            summary: "Cloudy input decks for a photoionization grid over (log U, log N_H); each model run when a Cloudy binary is given",
            words: &["outflows", "cloudy-grid"],
            fixed: |d| obj(json!({ "out": at(d, "grid") })),
            specs: specs::<CloudyGridArgs>,
            run: erased::<crate::outflows::CloudyGrid>,
            shards: ShardOps::of::<crate::outflows::CloudyGrid>(),
            check: check::<CloudyGridArgs>,
        },
        PipelineDef {
            name: "outflows-cloudy-solve",
            summary: "Each outflow's (N_H, U) from its measured ionic columns on a grid of Cloudy runs, and its energetics",
            words: &["outflows", "cloudy-solve"],
            fixed: |d| obj(json!({ "output": at(d, "outflows.csv"), "json": at(d, "outflows.json") })),
            specs: specs::<CloudySolveArgs>,
            run: erased::<crate::outflows::CloudySolve>,
            shards: ShardOps::of::<crate::outflows::CloudySolve>(),
            check: check::<CloudySolveArgs>,
        },
    ]
}

/// The catalog name of `name`, accepting the CLI spelling too
/// (`voids find`, `voids_find`).
pub fn canonical_name(name: &str) -> String {
    name.trim().replace([' ', '_'], "-").to_ascii_lowercase()
}

/// The pipeline called `name` (any spelling [`canonical_name`] accepts).
pub fn find(name: &str) -> Option<PipelineDef> {
    let c = canonical_name(name);
    pipelines().into_iter().find(|p| p.name == c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value of `spec`'s type: the last choice, or a typical number,
    /// path or string; `alt` picks a second, large number (for parameters
    /// with a physical range such as sample rates).
    fn sample(spec: &ParamSpec, i: usize, alt: bool) -> Value {
        use crate::params::ParamKind::*;
        let one = match spec.kind {
            _ if !spec.choices.is_empty() => json!(spec.choices[spec.choices.len() - 1]),
            Int => json!(3 + i),
            Float if alt => json!(1.42e9 + i as f64),
            Float => json!(0.25 + i as f64),
            Str => json!(format!("-text {i}")),
            Path => json!(format!("/data/in put-{i}.fits")),
            Bool => json!(true),
        };
        if spec.list {
            json!([one.clone(), one])
        } else {
            one
        }
    }

    /// Every pipeline's parameters survive JSON -> struct -> arguments ->
    /// struct: each parameter given alone, with what the declaration
    /// requires beside it (a required argument clap names is added and
    /// the parse retried; a value out of its physical range is retried
    /// with a large one).
    #[test]
    fn every_pipeline_round_trips_json_struct_args_struct() {
        let mut n = 0;
        let mut failed = Vec::new();
        for p in pipelines() {
            let specs = (p.specs)();
            let base: Map<String, Value> = specs
                .iter()
                .enumerate()
                .filter(|(_, s)| s.required)
                .map(|(i, s)| (s.name.clone(), sample(s, i, false)))
                .collect();
            for (i, s) in specs.iter().enumerate() {
                let mut m = base.clone();
                m.insert(s.name.clone(), sample(s, i, false));
                let mut result = (p.check)(&Value::Object(m.clone()));
                for _ in 0..3 {
                    let Err(e) = &result else { break };
                    let name = e.field.trim_start_matches("params.").to_string();
                    let Some((j, other)) = specs.iter().enumerate().find(|(_, o)| o.name == name)
                    else {
                        break;
                    };
                    let alt = e.message.contains("outside the accepted range");
                    if !alt && m.contains_key(&name) {
                        break;
                    }
                    m.insert(name, sample(other, j, alt));
                    result = (p.check)(&Value::Object(m.clone()));
                }
                let c = match result {
                    Ok(c) => c,
                    Err(e) => {
                        failed.push(format!("{} {}: {e}", p.name, s.name));
                        continue;
                    }
                };
                // The resolved parameters hold what was given.
                for (k, x) in &m {
                    assert_eq!(&c.resolved[k], x, "{} {k}", p.name);
                }
                // Arguments -> struct -> the same resolved parameters.
                let again = (p.check)(&c.resolved).unwrap();
                assert_eq!(again, c, "{} {}", p.name, s.name);
                n += 1;
            }
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
        assert_eq!(n, 179);
    }

    #[test]
    fn unknown_and_mistyped_parameters_name_their_field() {
        let p = find("voids find").unwrap();
        let e = (p.check)(&json!({"omega_m": "a lot", "table": "galaxies"})).unwrap_err();
        assert_eq!(e.field, "params.omega_m");
        let e = (p.check)(&json!({"omega": 0.3})).unwrap_err();
        assert_eq!(e.field, "params.omega");
        let e = (find("query-cone").unwrap().check)(&json!({"ra": 10.0, "dec": 5.0})).unwrap_err();
        assert!(e.message.contains("radius"), "{e}");
    }
}
