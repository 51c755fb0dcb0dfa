//! The pipelines a run can name, and how a run's JSON parameters become
//! the argument list of an `astrolab` child process.
//!
//! # Design
//!
//! A run is a pipeline name and JSON parameters, queued in the store
//! (`astrolab_store::runs`). Pipelines are the CLI's own commands: a
//! worker ([`crate::worker`]) runs the `astrolab` executable as a child
//! process (no shell) with the arguments [`build_args`] makes from the
//! parameters, so the server runs exactly the code a researcher runs on
//! the command line, and a pipeline that crashes takes only its child down.
//!
//! What a client sends is only ever a *value*:
//!
//! * flag names come from the [`catalog`], never from the request; every
//!   value is passed as one `--flag=value` argument, so a value that starts
//!   with `-` cannot become a flag of its own;
//! * unknown pipelines and unknown or mistyped parameters are refused
//!   with 400 naming the field (`params.NAME`);
//! * every path is canonicalized (symlinks resolved) and must lie inside
//!   the data home or a configured data root (`server.data_roots`):
//!   `../../etc/passwd`, absolute paths elsewhere, symlinks pointing out
//!   and NUL bytes are refused;
//! * outputs always go under the run's own directory
//!   `HOME/runs/<run_id>/`; no parameter names an output path.
//!
//! `quickstart` is not offered: it writes demo data into the data home
//! itself and ingests a synthetic sky into the lab's store, which is a
//! first-day tutorial, not something to queue on a shared server.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// Type of a pipeline parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    /// A JSON integer.
    Int,
    /// A JSON number.
    Float,
    /// A JSON string (no control characters).
    Str,
    /// An existing file or directory inside the data home or a data root.
    Path,
    /// A JSON array of such paths.
    #[serde(rename = "path_list")]
    PathList,
    /// true or false.
    Bool,
}

impl ParamKind {
    fn describe(self) -> &'static str {
        match self {
            ParamKind::Int => "an integer",
            ParamKind::Float => "a number",
            ParamKind::Str => "a string",
            ParamKind::Path => "a path (string)",
            ParamKind::PathList => "an array of paths",
            ParamKind::Bool => "true or false",
        }
    }
}

/// One parameter of a pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct ParamSpec {
    /// Name in the run's `params` object.
    pub name: &'static str,
    /// Its type.
    pub kind: ParamKind,
    /// Must be given.
    pub required: bool,
    /// What it means.
    pub doc: &'static str,
}

/// A pipeline that can be submitted as a run.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineSpec {
    /// Name to submit (`query-cone`, `voids-find`, ...).
    pub name: &'static str,
    /// One line.
    pub summary: &'static str,
    /// The CLI command it runs (`astrolab query cone`).
    pub command: String,
    /// Its parameters.
    pub params: Vec<ParamSpec>,
}

/// Where a parameter's value goes on the command line.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// `--flag=value` (for a path list: once per path).
    Flag(&'static str),
    /// Bare arguments after the options (paths only).
    Positional,
    /// `--flag` when true, nothing when false.
    Switch(&'static str),
}

struct ParamDef {
    spec: ParamSpec,
    place: Place,
}

/// A pipeline: its CLI words, parameters and the fixed arguments that send
/// its outputs into the run directory.
struct Def {
    name: &'static str,
    summary: &'static str,
    words: &'static [&'static str],
    params: Vec<ParamDef>,
    outputs: fn(&Path) -> Vec<String>,
}

fn flag(
    name: &'static str,
    kind: ParamKind,
    required: bool,
    flag: &'static str,
    doc: &'static str,
) -> ParamDef {
    ParamDef {
        spec: ParamSpec {
            name,
            kind,
            required,
            doc,
        },
        place: if kind == ParamKind::Bool {
            Place::Switch(flag)
        } else {
            Place::Flag(flag)
        },
    }
}

fn positional(name: &'static str, kind: ParamKind, required: bool, doc: &'static str) -> ParamDef {
    ParamDef {
        spec: ParamSpec {
            name,
            kind,
            required,
            doc,
        },
        place: Place::Positional,
    }
}

fn out(flag: &str, dir: &Path, name: &str) -> String {
    format!("{flag}={}", dir.join(name).display())
}

use ParamKind::{Bool, Float, Int, PathList, Str};

fn defs() -> Vec<Def> {
    let path = ParamKind::Path;
    vec![
        Def {
            name: "demo-data",
            summary: "Write a synthetic DESI sky (catalogs, void catalogs, spectra, truth tables) into the run directory",
            words: &["demo-data"],
            params: vec![
                flag("seed", Int, false, "--seed", "random seed (same seed, same bytes; default 42)"),
                flag("galaxies", Int, false, "--galaxies", "number of galaxies (default 20000)"),
                flag("no_spectra", Bool, false, "--no-spectra", "do not write coadd and redrock spectra files"),
                flag("templates", path, false, "--templates", "directory with the redrock QSO templates"),
            ],
            outputs: |d| vec![d.join("demo").display().to_string()],
        },
        Def {
            name: "ingest",
            summary: "Ingest catalog files or directories into the store (one transaction per file)",
            words: &["ingest", "--json"],
            params: vec![
                positional("paths", PathList, true, "files or directories (searched for .fits and .csv)"),
                flag("new_version", Bool, false, "--new-version", "register changed bytes under a known name as a new version"),
            ],
            outputs: |_| Vec::new(),
        },
        Def {
            name: "voids-find",
            summary: "Find voids with VoidFinder; writes the VAST VoidFinder FITS file",
            words: &["voids", "find"],
            params: vec![
                positional("catalog", path, false, "galaxy catalog (FITS or CSV with ra, dec, z); or give table"),
                flag("table", Str, false, "--table", "read the galaxies from this store table (fastspec, zcatalog, galaxies)"),
                flag("omega_m", Float, false, "--omega-m", "matter density of the flat LCDM cosmology"),
                flag("threads", Int, false, "--threads", "worker threads (the result does not depend on it)"),
                flag("min_dist", Float, false, "--min-dist", "lower comoving distance limit, Mpc/h"),
                flag("max_dist", Float, false, "--max-dist", "upper comoving distance limit, Mpc/h"),
                flag("box_size", Float, false, "--box-size", "periodic box side, Mpc/h (catalog is an x y z text file)"),
                flag("box_origin", Float, false, "--box-origin", "lower corner of the periodic box, Mpc/h"),
                flag("mask", path, false, "--mask", "take the footprint from the MASK HDU of this VoidFinder file"),
                flag("mask_healpix_depth", Int, false, "--mask-healpix-depth", "footprint from HEALPix cells of this depth"),
                flag("no_smooth_mask", Bool, false, "--no-smooth-mask", "do not fill one-cell gaps of the footprint"),
            ],
            outputs: |d| vec![out("--output", d, "VoidFinder_Output.fits")],
        },
        Def {
            name: "voids-classify",
            summary: "Classify galaxies against void catalogs (void, wall, edge, outside) into the store",
            words: &["voids", "classify", "--json"],
            params: vec![
                flag("catalogs", PathList, true, "--catalog", "void catalog files (VoidFinder or V2 FITS)"),
                flag("galaxies", path, false, "--galaxies", "galaxies from this FITS or CSV file instead of the store"),
                flag("galaxies_table", Str, false, "--galaxies-table", "store table with the galaxies"),
                flag("omega_m", Float, false, "--omega-m", "Omega_m for distances"),
                flag("mask_depth", Int, false, "--mask-depth", "HEALPix depth of a footprint built from the galaxies"),
                flag("edge_buffer", Float, false, "--edge-buffer", "edge buffer, Mpc/h"),
            ],
            outputs: |_| Vec::new(),
        },
        Def {
            name: "voids-compare",
            summary: "Void vs wall galaxies: medians with bootstrap intervals, KS and AD tests, figures",
            words: &["voids", "compare"],
            params: vec![
                flag("algorithm", Str, false, "--algorithm", "algorithm to compare (default: all with membership rows)"),
                flag("replicates", Int, false, "--replicates", "bootstrap replicates (default 1000)"),
                flag("seed", Int, false, "--seed", "bootstrap seed"),
                flag("level", Float, false, "--level", "confidence level of the intervals"),
                flag("no_plots", Bool, false, "--no-plots", "skip the figures"),
            ],
            outputs: |d| vec![out("--out", d, "compare")],
        },
        Def {
            name: "hline-process",
            summary: "Turn SDR recordings into integrated, RFI-flagged hydrogen-line spectra",
            words: &["hline", "process", "--json"],
            params: vec![
                positional("recordings", PathList, true, "SigMF recordings or raw rtl_sdr captures"),
                flag("channels", Int, false, "--channels", "frequency channels per spectrum"),
                flag("integration_s", Float, false, "--integration-s", "integration time per spectrum, s"),
                flag("channeliser", Str, false, "--channeliser", "fft or pfb"),
                flag("taps", Int, false, "--taps", "taps of the polyphase filterbank"),
                flag("window", Str, false, "--window", "window of the frames"),
                flag("sk_sigma", Float, false, "--sk-sigma", "spectral-kurtosis bounds, sigma"),
                flag("spike_sigma", Float, false, "--spike-sigma", "spike threshold, robust sigma"),
                flag("sample_rate_hz", Float, false, "--sample-rate-hz", "raw captures: sample rate, Hz"),
                flag("center_freq_hz", Float, false, "--center-freq-hz", "raw captures: tuned frequency, Hz"),
                flag("start", Str, false, "--start", "raw captures: start time, ISO 8601 UTC"),
                flag("datatype", Str, false, "--datatype", "raw captures: sample encoding"),
                flag("ra_deg", Float, false, "--ra-deg", "pointing, ICRS right ascension"),
                flag("dec_deg", Float, false, "--dec-deg", "pointing, ICRS declination"),
                flag("lat_deg", Float, false, "--lat-deg", "site latitude"),
                flag("lon_deg", Float, false, "--lon-deg", "site longitude, east positive"),
                flag("height_m", Float, false, "--height-m", "site height, m"),
                flag("tsys_k", Float, false, "--tsys-k", "system temperature, K"),
                flag("no_store", Bool, false, "--no-store", "do not register the recording nor store its spectra"),
                flag("force", Bool, false, "--force", "process again a recording already in the store"),
                flag("waterfall", Str, false, "--waterfall", "waterfall figure: svg or png"),
                flag("require_line", Bool, false, "--require-line", "fail when no HI line is detected"),
            ],
            outputs: |d| vec![out("--out-dir", d, "hline")],
        },
        Def {
            name: "hline-rotation-curve",
            summary: "Tangent-point rotation curve and l-v diagram from calibrated spectra",
            words: &["hline", "rotation-curve"],
            params: vec![
                positional("spectra", PathList, true, "calibrated spectra (SALSA FITS, SDFITS-style FITS, CSV)"),
                flag("vmax", Str, false, "--vmax", "component or threshold"),
                flag("min_amp_k", Float, false, "--min-amp-k", "smallest component peak, K"),
                flag("threshold_k", Float, false, "--threshold-k", "threshold brightness, K"),
                flag("lv_step_km_s", Float, false, "--lv-step-km-s", "velocity step of the l-v grid, km/s"),
                flag("max_components", Int, false, "--max-components", "most Gaussian components"),
                flag("lsr", Str, false, "--lsr", "LSR definition"),
                flag("r0_kpc", Float, false, "--r0-kpc", "Sun-Galactic centre distance, kpc"),
                flag("v0_km_s", Float, false, "--v0-km-s", "Sun's circular velocity, km/s"),
            ],
            outputs: |d| {
                vec![
                    out("--output", d, "tangent_points.csv"),
                    out("--plot", d, "rotation_curve.svg"),
                    out("--lv-output", d, "lv.csv"),
                    out("--lv-plot", d, "lv.svg"),
                ]
            },
        },
        Def {
            name: "spectra-build",
            summary: "Convert DESI coadds (with redrock) into indexed columnar spectra files",
            words: &["spectra", "build"],
            params: vec![
                flag("from", path, true, "--from", "directory searched for coadd-*.fits"),
                flag("select", Str, false, "--select", "which spectra to keep, e.g. spectype = 'QSO' AND zwarn = 0"),
                flag("survey", Str, false, "--survey", "only coadds of this survey"),
                flag("program", Str, false, "--program", "only coadds of this program"),
            ],
            outputs: |d| vec![out("--out", d, "spectra")],
        },
        Def {
            name: "query-cone",
            summary: "Cone search on a sky table; the result is a CSV file in the run directory",
            words: &["query", "cone", "--format=csv"],
            params: vec![
                flag("ra", Float, true, "--ra", "centre right ascension, degrees"),
                flag("dec", Float, true, "--dec", "centre declination, degrees"),
                flag("radius", Str, true, "--radius", "radius with unit: 1deg, 30arcmin, 5arcsec"),
                flag("table", Str, false, "--table", "table to search (default zcatalog)"),
                flag("where", Str, false, "--where", "filter, e.g. zwarn = 0 AND spectype = 'QSO'"),
                flag("limit", Int, false, "--limit", "at most this many rows"),
            ],
            outputs: |d| vec![out("--output", d, "cone.csv")],
        },
    ]
}

/// Every pipeline a run can name, with its parameters.
pub fn catalog() -> Vec<PipelineSpec> {
    defs()
        .into_iter()
        .map(|d| PipelineSpec {
            name: d.name,
            summary: d.summary,
            command: format!(
                "astrolab {}",
                d.words
                    .iter()
                    .filter(|w| !w.starts_with('-'))
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            params: d.params.into_iter().map(|p| p.spec).collect(),
        })
        .collect()
}

/// The catalog name of `name`, accepting the CLI spelling too
/// (`voids find`, `voids_find`).
pub fn canonical_name(name: &str) -> String {
    name.trim().replace([' ', '_'], "-").to_ascii_lowercase()
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

fn path_text(name: &str, v: &Value) -> ApiResult<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad_request(&field(name), "must be a path (string)"))
}

/// One checked value, as command-line text (paths canonical).
enum Checked {
    One(String),
    Many(Vec<String>),
    Switch(bool),
}

fn check_value(spec: &ParamSpec, v: &Value, roots: &[PathBuf]) -> ApiResult<Checked> {
    let f = field(spec.name);
    let wrong = || ApiError::bad_request(&f, format!("must be {}", spec.kind.describe()));
    Ok(match spec.kind {
        ParamKind::Int => Checked::One(v.as_i64().ok_or_else(wrong)?.to_string()),
        ParamKind::Float => {
            let x = v.as_f64().ok_or_else(wrong)?;
            if !x.is_finite() {
                return Err(wrong());
            }
            Checked::One(x.to_string())
        }
        ParamKind::Bool => Checked::Switch(v.as_bool().ok_or_else(wrong)?),
        ParamKind::Str => {
            let s = v.as_str().ok_or_else(wrong)?;
            if s.len() > MAX_STR {
                return Err(ApiError::bad_request(
                    &f,
                    format!("longer than {MAX_STR} bytes"),
                ));
            }
            if s.chars().any(char::is_control) {
                return Err(ApiError::bad_request(&f, "contains control characters"));
            }
            Checked::One(s.to_string())
        }
        ParamKind::Path => {
            let raw = path_text(spec.name, v)?;
            Checked::One(confined(spec.name, &raw, roots)?.display().to_string())
        }
        ParamKind::PathList => {
            let items = v.as_array().ok_or_else(wrong)?;
            if items.is_empty() {
                return Err(ApiError::bad_request(&f, "give at least one path"));
            }
            if items.len() > MAX_PATHS {
                return Err(ApiError::bad_request(
                    &f,
                    format!("at most {MAX_PATHS} paths"),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let raw = path_text(spec.name, item)?;
                out.push(confined(spec.name, &raw, roots)?.display().to_string());
            }
            Checked::Many(out)
        }
    })
}

/// Checks a run's parameters and builds the child's arguments (after the
/// executable): the pipeline's CLI words, then `--flag=value` options, the
/// fixed output options pointing into `run_dir`, then positional paths.
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

/// The argument list and the input paths (canonical files or
/// directories) of a run: what the worker checks against the submitter's
/// dataset rules before the run starts
/// ([`astrolab_store::Store::check_run_inputs`]).
pub fn build_args_and_inputs(
    name: &str,
    params: &Value,
    roots: &[PathBuf],
    run_dir: &Path,
) -> ApiResult<(Vec<String>, Vec<PathBuf>)> {
    build(name, params, roots, run_dir)
}

fn build(
    name: &str,
    params: &Value,
    roots: &[PathBuf],
    run_dir: &Path,
) -> ApiResult<(Vec<String>, Vec<PathBuf>)> {
    let canonical = canonical_name(name);
    let Some(def) = defs().into_iter().find(|d| d.name == canonical) else {
        let names: Vec<&str> = defs().iter().map(|d| d.name).collect();
        return Err(ApiError::bad_request(
            "pipeline",
            format!(
                "unknown pipeline {name:?}; choose one of {}",
                names.join(", ")
            ),
        ));
    };
    let empty = serde_json::Map::new();
    let obj = match params {
        Value::Null => &empty,
        Value::Object(m) => m,
        _ => return Err(ApiError::bad_request("params", "must be a JSON object")),
    };
    for key in obj.keys() {
        if !def.params.iter().any(|p| p.spec.name == key) {
            let known: Vec<&str> = def.params.iter().map(|p| p.spec.name).collect();
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
    let mut args: Vec<String> = def.words.iter().map(|w| w.to_string()).collect();
    let mut positionals = Vec::new();
    let mut inputs = Vec::new();
    for p in &def.params {
        let v = match obj.get(p.spec.name) {
            None | Some(Value::Null) if p.spec.required => {
                return Err(ApiError::bad_request(&field(p.spec.name), "required"))
            }
            None | Some(Value::Null) => continue,
            Some(v) => v,
        };
        let checked = check_value(&p.spec, v, roots)?;
        match (&checked, p.spec.kind) {
            (Checked::One(s), ParamKind::Path) => inputs.push(PathBuf::from(s)),
            (Checked::Many(list), ParamKind::PathList) => {
                inputs.extend(list.iter().map(PathBuf::from))
            }
            _ => {}
        }
        match (checked, p.place) {
            (Checked::Switch(true), Place::Switch(flag)) => args.push(flag.to_string()),
            (Checked::Switch(false), _) => {}
            (Checked::One(s), Place::Flag(flag)) => args.push(format!("{flag}={s}")),
            (Checked::Many(list), Place::Flag(flag)) => {
                args.extend(list.into_iter().map(|s| format!("{flag}={s}")))
            }
            (Checked::One(s), Place::Positional) => positionals.push(s),
            (Checked::Many(list), Place::Positional) => positionals.extend(list),
            (_, place) => {
                // A mismatch between a kind and its place is a bug in the
                // table above, which the unit tests exercise.
                return Err(ApiError::internal(format!(
                    "pipeline {} parameter {}: kind {:?} cannot go to {place:?}",
                    def.name, p.spec.name, p.spec.kind
                )));
            }
        }
    }
    args.extend((def.outputs)(run_dir));
    if !positionals.is_empty() {
        // Positional values are canonical absolute paths (never starting
        // with '-'); `--` makes that structural rather than incidental.
        args.push("--".to_string());
        args.extend(positionals);
    }
    Ok((args, inputs))
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
                    ParamKind::Path => json!("cats"),
                    ParamKind::PathList => json!(["cats/zcat.fits"]),
                    ParamKind::Bool => json!(true),
                };
                params.insert(q.name.to_string(), v);
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
                "--format=csv".into(),
                "--ra=150.5".into(),
                "--dec=-2".into(),
                "--radius=30arcmin".into(),
                // A value that looks like a flag stays the value of --where.
                "--where=--output=/etc/passwd".into(),
                "--limit=10".into(),
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
            vec!["ingest", "--json", "--new-version", "--", &zcat, &cats]
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
                "--galaxies=100".into(),
                run.join("demo").display().to_string()
            ]
        );
    }
}
