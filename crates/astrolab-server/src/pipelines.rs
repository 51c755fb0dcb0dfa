//! The pipelines a run can name, and how a run's JSON parameters become
//! the argument list of an `astrolab` child process.
//!
//! # Design
//!
//! A run is a pipeline name and JSON parameters, queued in the store
//! (`astrolab_store::runs`). The pipelines and their typed parameters are
//! declared once in `astrolab_pipeline` (the same structs the CLI parses):
//! the JSON is checked through that declaration (types, ranges, required
//! and conflicting options, defaults), and a worker ([`crate::worker`])
//! runs the `astrolab` executable as a child process (no shell) with the
//! argument list the checked struct gives back, so the server runs exactly
//! the code a researcher runs on the command line, and a pipeline that
//! crashes takes only its child down.
//!
//! What a client sends is only ever a *value*:
//!
//! * flag names come from the declaration, never from the request; every
//!   value is passed as one `--flag=value` argument and positionals after
//!   `--`, so a value that starts with `-` cannot become a flag of its own;
//! * unknown pipelines and unknown or mistyped parameters are refused
//!   with 400 naming the field (`params.NAME`);
//! * every path is canonicalized (symlinks resolved) and must lie inside
//!   the data home or a configured data root (`server.data_roots`):
//!   `../../etc/passwd`, absolute paths elsewhere, symlinks pointing out
//!   and NUL bytes are refused;
//! * outputs always go under the run's own directory
//!   `HOME/runs/<run_id>/`: the output parameters are set by the server
//!   (`PipelineDef::fixed`) and refused from a request.
//!
//! `quickstart` is not offered: it writes demo data into the data home
//! itself and ingests a synthetic sky into the lab's store, which is a
//! first-day tutorial, not something to queue on a shared server.

use std::path::{Component, Path, PathBuf};

use astrolab_pipeline::catalog::{find, pipelines};
use astrolab_pipeline::params::{ParamKind, ParamSpec};
use serde::Serialize;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

pub use astrolab_pipeline::catalog::canonical_name;

/// A pipeline that can be submitted as a run.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineSpec {
    /// Name to submit (`query-cone`, `voids-find`, ...).
    pub name: &'static str,
    /// One line.
    pub summary: &'static str,
    /// The CLI command it runs (`astrolab query cone`).
    pub command: String,
    /// The parameters a request may set.
    pub params: Vec<ParamSpec>,
}

/// Every pipeline a run can name, with its parameters.
pub fn catalog() -> Vec<PipelineSpec> {
    pipelines()
        .into_iter()
        .map(|d| PipelineSpec {
            name: d.name,
            summary: d.summary,
            command: d.command(),
            params: d.public_specs(),
        })
        .collect()
}

/// Longest string parameter accepted, bytes.
const MAX_STR: usize = 4096;
/// Most paths in one path list.
const MAX_PATHS: usize = 10_000;

fn field(name: &str) -> String {
    format!("params.{name}")
}

/// Checks a path against the roots: no NUL, exists, and its canonical
/// form (symlinks resolved) lies under one of the canonical roots.
fn confined(name: &str, raw: &str, roots: &[PathBuf]) -> ApiResult<PathBuf> {
    let f = field(name);
    if raw.is_empty() {
        return Err(ApiError::bad_request(&f, "empty path"));
    }
    if raw.contains('\0') {
        return Err(ApiError::bad_request(&f, "path contains a NUL byte"));
    }
    if raw.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            &f,
            "path contains control characters",
        ));
    }
    let p = Path::new(raw);
    // Relative paths are relative to the data home (the first root), never
    // to the server's working directory.
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        match roots.first() {
            Some(home) => home.join(p),
            None => return Err(ApiError::bad_request(&f, "no data root is configured")),
        }
    };
    let canon = std::fs::canonicalize(&joined).map_err(|_| {
        ApiError::bad_request(
            &f,
            format!("{raw}: no such file or directory inside the data home or a data root"),
        )
    })?;
    let inside = roots
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .any(|r| canon.starts_with(&r));
    if !inside {
        return Err(ApiError::bad_request(
            &f,
            format!("{raw}: outside the data home and the configured data roots"),
        ));
    }
    // canonicalize leaves no `..`; checked anyway so a future change to
    // the resolution cannot reopen traversal.
    if canon
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(ApiError::bad_request(&f, "path escapes its root"));
    }
    Ok(canon)
}

/// Checks a run's parameters and builds the child's arguments (after the
/// executable): the pipeline's CLI words, then the arguments of the
/// checked parameter struct, outputs pointing into `run_dir`.
///
/// `roots` are the directories paths may name, the data home first
/// (relative paths are taken relative to it). Errors are 400 naming the
/// field: `pipeline`, `params`, or `params.NAME`.
pub fn build_args(
    name: &str,
    params: &Value,
    roots: &[PathBuf],
    run_dir: &Path,
) -> ApiResult<Vec<String>> {
    Ok(build(name, params, roots, run_dir)?.0)
}

/// A run's parameters as checked: the argument list, the input paths
/// (canonical files or directories) the worker checks against the
/// submitter's dataset rules before the run starts
/// ([`astrolab_store::Store::check_run_inputs`]), and the parameters with
/// every path replaced by that canonical path, which the worker hands the
/// pipeline: a relative path is resolved once, against the data roots, so
/// the file checked is the file opened (the child's working directory is
/// not the data home).
pub struct CheckedRun {
    /// `astrolab` arguments (for the run's log).
    pub args: Vec<String>,
    /// Canonical input paths.
    pub inputs: Vec<PathBuf>,
    /// The parameters with canonical paths.
    pub params: Value,
}

/// Checks a run's parameters (see [`CheckedRun`]).
pub fn build_args_and_inputs(
    name: &str,
    params: &Value,
    roots: &[PathBuf],
    run_dir: &Path,
) -> ApiResult<CheckedRun> {
    let (args, inputs, params) = build(name, params, roots, run_dir)?;
    Ok(CheckedRun {
        args,
        inputs,
        params,
    })
}

/// Confines one path parameter's value (a string, or an array of them for
/// a list), giving the canonical paths back.
fn confine_value(spec: &ParamSpec, v: &Value, roots: &[PathBuf]) -> ApiResult<Vec<String>> {
    let f = field(&spec.name);
    let items: Vec<&Value> = match (spec.list, v) {
        (true, Value::Array(a)) => a.iter().collect(),
        (true, _) => return Err(ApiError::bad_request(&f, "must be an array of paths")),
        (false, v) => vec![v],
    };
    if spec.list && items.is_empty() {
        return Err(ApiError::bad_request(&f, "give at least one path"));
    }
    if items.len() > MAX_PATHS {
        return Err(ApiError::bad_request(
            &f,
            format!("at most {MAX_PATHS} paths"),
        ));
    }
    items
        .into_iter()
        .map(|x| {
            let raw = x
                .as_str()
                .ok_or_else(|| ApiError::bad_request(&f, "must be a path (string)"))?;
            Ok(confined(&spec.name, raw, roots)?.display().to_string())
        })
        .collect()
}

fn build(
    name: &str,
    params: &Value,
    roots: &[PathBuf],
    run_dir: &Path,
) -> ApiResult<(Vec<String>, Vec<PathBuf>, Value)> {
    let Some(def) = find(name) else {
        let names: Vec<&str> = pipelines().iter().map(|d| d.name).collect();
        return Err(ApiError::bad_request(
            "pipeline",
            format!(
                "unknown pipeline {name:?}; choose one of {}",
                names.join(", ")
            ),
        ));
    };
    let mut obj = match params {
        Value::Null => serde_json::Map::new(),
        Value::Object(m) => m.clone(),
        _ => return Err(ApiError::bad_request("params", "must be a JSON object")),
    };
    let public = def.public_specs();
    let fixed = (def.fixed)(run_dir);
    for key in obj.keys() {
        if fixed.contains_key(key) {
            return Err(ApiError::bad_request(
                &field(key),
                "set by the server (outputs go to the run's own directory)",
            ));
        }
        if !public.iter().any(|p| &p.name == key) {
            let known: Vec<&str> = public.iter().map(|p| p.name.as_str()).collect();
            return Err(ApiError::bad_request(
                &field(key),
                format!(
                    "{} has no parameter {key:?}; it takes {}",
                    def.name,
                    known.join(", ")
                ),
            ));
        }
    }
    let mut inputs = Vec::new();
    for spec in &public {
        let v = match obj.get(&spec.name) {
            None | Some(Value::Null) if spec.required => {
                return Err(ApiError::bad_request(&field(&spec.name), "required"))
            }
            None | Some(Value::Null) => continue,
            Some(v) => v,
        };
        if let Some(s) = v.as_str() {
            if s.len() > MAX_STR {
                return Err(ApiError::bad_request(
                    &field(&spec.name),
                    format!("longer than {MAX_STR} bytes"),
                ));
            }
        }
        if spec.kind == ParamKind::Path {
            let canon = confine_value(spec, v, roots)?;
            inputs.extend(canon.iter().map(PathBuf::from));
            let replaced = if spec.list {
                Value::from(canon)
            } else {
                Value::from(canon.into_iter().next().unwrap_or_default())
            };
            obj.insert(spec.name.clone(), replaced);
        }
    }
    let resolved = Value::Object(obj.clone());
    obj.extend(fixed);
    let checked =
        (def.check)(&Value::Object(obj)).map_err(|e| ApiError::bad_request(&e.field, e.message))?;
    let mut args: Vec<String> = def.words.iter().map(|w| w.to_string()).collect();
    args.extend(checked.args);
    Ok((args, inputs, resolved))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fixture {
        _dir: tempfile::TempDir,
        home: PathBuf,
        outside: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(home.join("cats")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(home.join("cats/zcat.fits"), b"x").unwrap();
        std::fs::write(outside.join("secret.fits"), b"x").unwrap();
        Fixture {
            home: std::fs::canonicalize(&home).unwrap(),
            outside: std::fs::canonicalize(&outside).unwrap(),
            _dir: dir,
        }
    }

    fn err_field(r: ApiResult<Vec<String>>) -> String {
        let e = r.expect_err("must be refused");
        assert_eq!(e.status, 400, "{e}");
        e.field.unwrap_or_default()
    }

    #[test]
    fn pipelines_every_catalog_entry_builds() {
        let fx = fixture();
        let run = fx.home.join("runs/1");
        for p in catalog() {
            // Every required parameter given a value of its kind.
            let mut params = serde_json::Map::new();
            for q in &p.params {
                if !q.required {
                    continue;
                }
                let v = match q.kind {
                    ParamKind::Int => json!(3),
                    ParamKind::Float => json!(1.5),
                    ParamKind::Str => json!("1deg"),
                    ParamKind::Path if q.list => json!(["cats/zcat.fits"]),
                    ParamKind::Path => json!("cats"),
                    ParamKind::Bool => json!(true),
                };
                params.insert(q.name.to_string(), v);
            }
            // voids-find needs a catalog file or a store table.
            if p.name == "voids-find" {
                params.insert("table".into(), json!("galaxies"));
            }
            let args = build_args(
                p.name,
                &Value::Object(params),
                std::slice::from_ref(&fx.home),
                &run,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert!(
                p.command.ends_with(&args[0]) || p.command.contains(&args[0]),
                "{}",
                p.name
            );
        }
    }

    #[test]
    fn checked_params_carry_the_canonical_paths_that_were_checked() {
        let fx = fixture();
        let run = fx.home.join("runs/2");
        let c = build_args_and_inputs(
            "ingest",
            &json!({"paths": ["cats/zcat.fits"]}),
            std::slice::from_ref(&fx.home),
            &run,
        )
        .unwrap();
        let canon = fx.home.join("cats/zcat.fits");
        assert_eq!(c.inputs, vec![canon.clone()]);
        assert_eq!(
            c.params,
            json!({"paths": [canon.display().to_string()]}),
            "the child opens the file that was checked, wherever it runs"
        );
    }

    #[test]
    fn pipelines_cone_arguments() {
        let fx = fixture();
        let run = fx.home.join("runs/7");
        let args = build_args(
            "query cone",
            &json!({"ra": 150.5, "dec": -2, "radius": "30arcmin", "where": "--output=/etc/passwd", "limit": 10}),
            std::slice::from_ref(&fx.home),
            &run,
        )
        .unwrap();
        assert_eq!(
            args,
            vec![
                "query".to_string(),
                "cone".into(),
                "--ra=150.5".into(),
                "--dec=-2.0".into(),
                "--radius=30arcmin".into(),
                // A value that looks like a flag stays the value of --where.
                "--where=--output=/etc/passwd".into(),
                "--limit=10".into(),
                "--format=csv".into(),
                format!("--output={}", run.join("cone.csv").display()),
            ]
        );
    }

    #[test]
    fn pipelines_paths_are_canonical_and_positional_after_dashdash() {
        let fx = fixture();
        let args = build_args(
            "ingest",
            &json!({"paths": ["cats/zcat.fits", fx.home.join("cats").display().to_string()], "new_version": true}),
            std::slice::from_ref(&fx.home),
            &fx.home.join("runs/1"),
        )
        .unwrap();
        let zcat = fx.home.join("cats/zcat.fits").display().to_string();
        let cats = fx.home.join("cats").display().to_string();
        assert_eq!(
            args,
            vec!["ingest", "--new-version", "--json", "--", &zcat, &cats]
        );
    }

    #[test]
    fn pipelines_path_confinement() {
        let fx = fixture();
        let roots = [fx.home.clone()];
        let run = fx.home.join("runs/1");
        let ingest = |p: Value| build_args("ingest", &json!({ "paths": p }), &roots, &run);
        // Traversal out of the home.
        assert_eq!(
            err_field(ingest(json!(["../outside/secret.fits"]))),
            "params.paths"
        );
        assert_eq!(
            err_field(ingest(json!(["cats/../../outside/secret.fits"]))),
            "params.paths"
        );
        assert_eq!(
            err_field(ingest(json!(["../../../../../../etc/passwd"]))),
            "params.paths"
        );
        // Absolute paths elsewhere.
        assert_eq!(err_field(ingest(json!(["/etc/passwd"]))), "params.paths");
        let secret = fx.outside.join("secret.fits").display().to_string();
        assert_eq!(err_field(ingest(json!([secret.clone()]))), "params.paths");
        // A symlink inside the home pointing out.
        std::os::unix::fs::symlink(&fx.outside, fx.home.join("escape")).unwrap();
        assert_eq!(
            err_field(ingest(json!(["escape/secret.fits"]))),
            "params.paths"
        );
        assert_eq!(err_field(ingest(json!(["escape"]))), "params.paths");
        // NUL bytes and control characters.
        assert_eq!(
            err_field(ingest(json!(["cats/zcat.fits\u{0}.txt"]))),
            "params.paths"
        );
        assert_eq!(
            err_field(ingest(json!(["cats/\nzcat.fits"]))),
            "params.paths"
        );
        // Traversal that stays inside is fine; a data root widens the set.
        assert!(ingest(json!(["cats/../cats/zcat.fits"])).is_ok());
        let wider = [fx.home.clone(), fx.outside.clone()];
        assert!(build_args("ingest", &json!({ "paths": [secret] }), &wider, &run).is_ok());
        // A single Path parameter is confined the same way.
        let e = build_args("spectra-build", &json!({"from": "/"}), &roots, &run);
        assert_eq!(err_field(e), "params.from");
    }

    #[test]
    fn pipelines_types_and_names_are_checked() {
        let fx = fixture();
        let roots = [fx.home.clone()];
        let run = fx.home.join("runs/1");
        let cone = |p: Value| build_args("query-cone", &p, &roots, &run);
        assert_eq!(
            err_field(cone(json!({"ra": "10", "dec": 0, "radius": "1deg"}))),
            "params.ra"
        );
        assert_eq!(
            err_field(cone(json!({"ra": 10, "dec": 0}))),
            "params.radius"
        );
        assert_eq!(
            err_field(cone(json!({"ra": 10, "dec": 0, "radius": 1}))),
            "params.radius"
        );
        assert_eq!(
            err_field(cone(
                json!({"ra": 10, "dec": 0, "radius": "1deg", "limit": 2.5})
            )),
            "params.limit"
        );
        assert_eq!(
            err_field(cone(
                json!({"ra": 10, "dec": 0, "radius": "1deg", "output": "/tmp/x"})
            )),
            "params.output"
        );
        assert_eq!(
            err_field(cone(
                json!({"ra": 10, "dec": 0, "radius": "1deg", "--output": "x"})
            )),
            "params.--output"
        );
        assert_eq!(err_field(cone(json!([1, 2]))), "params");
        assert_eq!(
            err_field(cone(json!({"ra": 10, "dec": 0, "radius": "1\u{0}deg"}))),
            "params.radius"
        );
        let long = "x".repeat(MAX_STR + 1);
        assert_eq!(
            err_field(cone(json!({"ra": 10, "dec": 0, "radius": long}))),
            "params.radius"
        );
        assert_eq!(
            err_field(build_args(
                "demo-data",
                &json!({"no_spectra": "yes"}),
                &roots,
                &run
            )),
            "params.no_spectra"
        );
        assert_eq!(
            err_field(build_args("rm -rf", &json!({}), &roots, &run)),
            "pipeline"
        );
        assert_eq!(
            err_field(build_args("quickstart", &json!({}), &roots, &run)),
            "pipeline"
        );
        assert_eq!(
            err_field(build_args("ingest", &json!({"paths": []}), &roots, &run)),
            "params.paths"
        );
        assert_eq!(
            err_field(build_args(
                "ingest",
                &json!({"paths": "cats"}),
                &roots,
                &run
            )),
            "params.paths"
        );
        // Outputs land in the run directory whatever the parameters.
        let demo = build_args(
            "demo-data",
            &json!({"galaxies": 100, "no_spectra": false}),
            &roots,
            &run,
        )
        .unwrap();
        assert_eq!(
            demo,
            vec![
                "demo-data".to_string(),
                "--seed=42".into(),
                "--galaxies=100".into(),
                "--".into(),
                run.join("demo").display().to_string()
            ]
        );
    }
}
