//! `astrolab._astrolab`: the Rust half of the astrolab Python package.
//!
//! The Python package (`python/astrolab`) is the public face: it turns the
//! column dictionaries returned here into Arrow tables and documents every
//! call. Everything goes through the same library calls as the CLI and the
//! server: queries through `astrolab_pipeline::query`, spectra through
//! `astrolab_pipeline::spectra::read`, runs through the pipeline catalog and
//! its in-process executor, shards through `astrolab_pipeline::shard`; the
//! store applies the same access rules (a Ray task of a queued run acts for
//! its submitter through `ASTROLAB_RUN_ID`, as the CLI does). Every call
//! that reads or computes releases the GIL.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use astrolab_pipeline::catalog::{find, pipelines, PipelineDef};
use astrolab_pipeline::context::Discard;
use astrolab_pipeline::executor::{Executor, InProcess};
use astrolab_pipeline::{Ctx, PipelineError};
use astrolab_store::{ResultTable, StoreConfig, Value};
use numpy::IntoPyArray;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Raised for errors in what was asked (bad parameters, unknown names).
fn usage(msg: String) -> PyErr {
    PyValueError::new_err(msg)
}

/// A pipeline error as a Python exception: ValueError for a usage error,
/// RuntimeError otherwise, with the whole chain (file, HDU, column, row).
fn pipeline_err(e: PipelineError) -> PyErr {
    let msg = match &e {
        PipelineError::Failed(a) => format!("{a:#}"),
        other => other.to_string(),
    };
    if e.is_usage() {
        PyValueError::new_err(msg)
    } else {
        PyRuntimeError::new_err(msg)
    }
}

fn store_config(home: Option<PathBuf>, database_url: Option<String>) -> StoreConfig {
    let home = home
        .or_else(|| {
            std::env::var_os("ASTROLAB_HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("astrolab-data"));
    let mut c = StoreConfig::sqlite(home);
    c.database_url = database_url
        .or_else(|| std::env::var("ASTROLAB_DATABASE_URL").ok())
        .filter(|u| !u.is_empty());
    c
}

/// A context like the CLI's: the store, no terminal events, acting for a
/// queued run's submitter when `ASTROLAB_RUN_ID` says so.
fn ctx(cfg: StoreConfig, threads: Option<usize>) -> PyResult<Ctx> {
    let mut c = Ctx::new(cfg, Arc::new(Discard));
    c.threads = threads;
    if let Ok(raw) = std::env::var("ASTROLAB_RUN_ID") {
        let run: i64 = raw
            .trim()
            .parse()
            .map_err(|_| usage(format!("ASTROLAB_RUN_ID={raw:?} is not a run id")))?;
        c.acting_for_run = Some(run);
    }
    Ok(c)
}

fn pipeline(name: &str) -> PyResult<PipelineDef> {
    find(name).ok_or_else(|| {
        let names: Vec<&str> = pipelines().iter().map(|p| p.name).collect();
        usage(format!(
            "unknown pipeline {name:?}; choose one of {}",
            names.join(", ")
        ))
    })
}

fn json_arg(what: &str, text: &str) -> PyResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| usage(format!("{what}: not JSON: {e}")))
}

/// One column of a result table, typed by its values: `("int64" |
/// "float64" | "bool" | "string" | "null", values, valid)`. Numbers come as
/// NumPy arrays (nulls as 0 / NaN, flagged in `valid`), text and booleans
/// as lists with None.
fn column<'py>(py: Python<'py>, t: &ResultTable, j: usize) -> PyResult<Bound<'py, PyAny>> {
    let vals = t.rows.iter().map(|r| &r[j]);
    let (mut ints, mut floats, mut texts, mut bools) = (false, false, false, false);
    for v in vals.clone() {
        match v {
            Value::Int(_) => ints = true,
            Value::Float(_) => floats = true,
            Value::Text(_) => texts = true,
            Value::Bool(_) => bools = true,
            Value::Null => {}
        }
    }
    let valid: Vec<bool> = vals.clone().map(|v| !matches!(v, Value::Null)).collect();
    let valid = valid.into_pyarray(py).into_any();
    let out = if texts || (bools && (ints || floats)) {
        let l: Vec<Option<String>> = vals
            .map(|v| match v {
                Value::Null => None,
                Value::Text(s) => Some(s.clone()),
                Value::Int(i) => Some(i.to_string()),
                Value::Float(f) => Some(f.to_string()),
                Value::Bool(b) => Some(b.to_string()),
            })
            .collect();
        ("string", PyList::new(py, l)?.into_any(), valid)
    } else if bools {
        let l: Vec<Option<bool>> = vals
            .map(|v| match v {
                Value::Bool(b) => Some(*b),
                _ => None,
            })
            .collect();
        ("bool", PyList::new(py, l)?.into_any(), valid)
    } else if floats {
        let a: Vec<f64> = vals.map(|v| v.as_f64().unwrap_or(f64::NAN)).collect();
        ("float64", a.into_pyarray(py).into_any(), valid)
    } else if ints {
        let a: Vec<i64> = vals
            .map(|v| match v {
                Value::Int(i) => *i,
                _ => 0,
            })
            .collect();
        ("int64", a.into_pyarray(py).into_any(), valid)
    } else {
        let l: Vec<Option<bool>> = vals.map(|_| None).collect();
        ("null", PyList::new(py, l)?.into_any(), valid)
    };
    Ok(out.into_pyobject(py)?.into_any())
}

/// A result table as `{"columns": [names], "data": {name: column}}`.
fn columns<'py>(py: Python<'py>, t: &ResultTable) -> PyResult<Bound<'py, PyDict>> {
    let data = PyDict::new(py);
    for (j, name) in t.columns.iter().enumerate() {
        data.set_item(name, column(py, t, j)?)?;
    }
    let d = PyDict::new(py);
    d.set_item("columns", PyList::new(py, &t.columns)?)?;
    d.set_item("data", data)?;
    Ok(d)
}

/// An open store: the lab's SQLite file in a data home, or PostgreSQL.
#[pyclass(module = "astrolab._astrolab")]
struct Store {
    store: Mutex<astrolab_store::Store>,
    description: String,
}

impl Store {
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut astrolab_store::Store) -> Result<T, PipelineError> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let mut s = self
                .store
                .lock()
                .map_err(|_| PipelineError::Executor("the store's lock is poisoned".into()))?;
            f(&mut s)
        })
        .map_err(pipeline_err)
    }
}

#[pymethods]
impl Store {
    /// Opens (and migrates on first use) the store of `home`, or the
    /// PostgreSQL database at `database_url`.
    #[new]
    #[pyo3(signature = (home=None, database_url=None))]
    fn new(py: Python<'_>, home: Option<PathBuf>, database_url: Option<String>) -> PyResult<Self> {
        let cfg = store_config(home, database_url);
        let description = cfg.describe();
        let c = ctx(cfg, None)?;
        let store = py.detach(|| c.open_store()).map_err(pipeline_err)?;
        Ok(Store {
            store: Mutex::new(store),
            description,
        })
    }

    fn __repr__(&self) -> String {
        format!("Store({})", self.description)
    }

    /// Cone search: (table searched, notes, columns).
    #[pyo3(signature = (ra, dec, radius, table=None, filter=None, limit=None))]
    #[allow(clippy::too_many_arguments)]
    fn cone<'py>(
        &self,
        py: Python<'py>,
        ra: f64,
        dec: f64,
        radius: String,
        table: Option<String>,
        filter: Option<String>,
        limit: Option<usize>,
    ) -> PyResult<(String, Vec<String>, Bound<'py, PyDict>)> {
        let params = serde_json::json!({
            "ra": ra, "dec": dec, "radius": radius, "table": table, "where": filter, "limit": limit,
        });
        let args: astrolab_pipeline::params::defs::ConeArgs =
            astrolab_pipeline::params::parse_json(&params).map_err(|e| pipeline_err(e.into()))?;
        let (name, notes, t) = self.with(py, move |s| {
            let mut notes = Vec::new();
            let (name, t) = astrolab_pipeline::query::cone::cone_table(s, &args, &mut notes)?;
            Ok((name, notes, t))
        })?;
        Ok((name, notes, columns(py, &t)?))
    }

    /// Crossmatch of two tables or files: columns.
    #[pyo3(signature = (a, b, radius="1arcsec".to_string(), direction="a-to-b".to_string(), all_pairs=false))]
    fn xmatch<'py>(
        &self,
        py: Python<'py>,
        a: String,
        b: String,
        radius: String,
        direction: String,
        all_pairs: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let params = serde_json::json!({
            "a": a, "b": b, "radius": radius, "direction": direction, "all_pairs": all_pairs,
        });
        let args: astrolab_pipeline::query::XmatchArgs =
            astrolab_pipeline::params::parse_json(&params).map_err(|e| pipeline_err(e.into()))?;
        let t = self.with(py, move |s| {
            astrolab_pipeline::query::xmatch::xmatch_table(s, &args)
        })?;
        columns(py, &t)
    }

    /// One read-only SQL statement: columns.
    fn sql<'py>(&self, py: Python<'py>, query: String) -> PyResult<Bound<'py, PyDict>> {
        let t = self.with(py, move |s| {
            s.sql_readonly(&query)
                .map_err(|e| PipelineError::Failed(anyhow::Error::from(e)))
        })?;
        columns(py, &t)
    }

    /// Spectra by TARGETID in the flat arrays of the pipelines' batch
    /// reader, each array taking over the reader's buffer (no copy):
    /// `targetid`, `ra`, `dec`, `z` (one per spectrum, in the index's
    /// order: by file, then row), `offsets` (spectrum i is
    /// `offsets[i]:offsets[i+1]` of `flux`, `ivar` (float32) and `mask`
    /// (uint32)), `grid_of` and `grids` (spectrum i's wavelength,
    /// Angstrom, is `grids[grid_of[i]]`). Spectra in the lab's per-tile
    /// files come through the row reader into the same layout. A TARGETID
    /// without a spectrum, or asked for twice, raises ValueError naming it.
    fn spectra_batch<'py>(
        &self,
        py: Python<'py>,
        target_ids: Vec<i64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut seen = std::collections::HashSet::new();
        if let Some(t) = target_ids.iter().find(|t| !seen.insert(**t)) {
            return Err(usage(format!("TARGETID {t} is asked for twice")));
        }
        let wanted = target_ids.clone();
        let fetched = self.with(py, move |s| {
            astrolab_pipeline::spectra::read::fetch_batch(s, &wanted).map_err(PipelineError::Failed)
        })?;
        let (ids, ra, dec, z, offsets, flux, ivar, mask) = fetched.batch.into_parts();
        let found: std::collections::HashSet<i64> = ids.iter().copied().collect();
        let missing: Vec<String> = target_ids
            .iter()
            .filter(|t| !found.contains(t))
            .map(|t| t.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(usage(format!(
                "no spectrum in the store for TARGETID {} (astrolab spectra build adds them)",
                missing.join(", ")
            )));
        }
        let d = PyDict::new(py);
        d.set_item("targetid", ids.into_pyarray(py))?;
        d.set_item("ra", ra.into_pyarray(py))?;
        d.set_item("dec", dec.into_pyarray(py))?;
        d.set_item("z", z.into_pyarray(py))?;
        let offsets: Vec<i64> = offsets.into_iter().map(|o| o as i64).collect();
        d.set_item("offsets", offsets.into_pyarray(py))?;
        d.set_item("flux", flux.into_pyarray(py))?;
        d.set_item("ivar", ivar.into_pyarray(py))?;
        d.set_item("mask", mask.into_pyarray(py))?;
        let grid_of: Vec<i64> = fetched.grid_of.into_iter().map(|g| g as i64).collect();
        d.set_item("grid_of", grid_of.into_pyarray(py))?;
        let grids = PyList::empty(py);
        for g in fetched.grids {
            grids.append(g.into_pyarray(py))?;
        }
        d.set_item("grids", grids)?;
        Ok(d)
    }
}

/// Runs a pipeline of the catalog in this process (the in-process
/// executor): outputs, `result.json` and the provenance manifest in
/// `out_dir`. Returns the typed result as JSON text.
#[pyfunction]
#[pyo3(signature = (pipeline_name, params_json, out_dir, home=None, database_url=None, threads=None))]
fn run(
    py: Python<'_>,
    pipeline_name: &str,
    params_json: &str,
    out_dir: PathBuf,
    home: Option<PathBuf>,
    database_url: Option<String>,
    threads: Option<usize>,
) -> PyResult<String> {
    let def = pipeline(pipeline_name)?;
    let params = json_arg("params", params_json)?;
    let c = ctx(store_config(home, database_url), threads)?;
    let outcome = py
        .detach(|| InProcess::default().execute(&def, &params, &out_dir, &c))
        .map_err(pipeline_err)?;
    Ok(outcome.result.to_string())
}

/// Plans a run for a cluster: the shards go to `plan_path`; returns how
/// many.
#[pyfunction]
#[pyo3(signature = (pipeline_name, params_json, out_dir, plan_path, home=None, database_url=None))]
fn plan(
    py: Python<'_>,
    pipeline_name: &str,
    params_json: &str,
    out_dir: PathBuf,
    plan_path: PathBuf,
    home: Option<PathBuf>,
    database_url: Option<String>,
) -> PyResult<usize> {
    let def = pipeline(pipeline_name)?;
    let params = json_arg("params", params_json)?;
    let c = ctx(store_config(home, database_url), None)?;
    let p = py
        .detach(|| astrolab_pipeline::shard::plan(&def, &c, &params, &out_dir, &plan_path))
        .map_err(pipeline_err)?;
    Ok(p.shards.len())
}

/// Runs shard `index` of a plan, its result into `parts_dir`; returns the
/// receipt (path, bytes, SHA-256) as JSON text.
#[pyfunction]
#[pyo3(signature = (pipeline_name, plan_path, index, parts_dir, home=None, database_url=None, threads=None))]
#[allow(clippy::too_many_arguments)]
fn run_shard(
    py: Python<'_>,
    pipeline_name: &str,
    plan_path: PathBuf,
    index: usize,
    parts_dir: PathBuf,
    home: Option<PathBuf>,
    database_url: Option<String>,
    threads: Option<usize>,
) -> PyResult<String> {
    let def = pipeline(pipeline_name)?;
    let c = ctx(store_config(home, database_url), threads)?;
    let r = py
        .detach(|| astrolab_pipeline::shard::run_shard(&def, &c, &plan_path, index, &parts_dir))
        .map_err(pipeline_err)?;
    serde_json::to_string(&r).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Reduces a plan's shard results (receipts as JSON text) into the run's
/// outputs and manifest; returns the typed result as JSON text.
#[pyfunction]
#[pyo3(signature = (pipeline_name, plan_path, receipts_json, home=None, database_url=None, executor="python".to_string()))]
fn reduce(
    py: Python<'_>,
    pipeline_name: &str,
    plan_path: PathBuf,
    receipts_json: &str,
    home: Option<PathBuf>,
    database_url: Option<String>,
    executor: String,
) -> PyResult<String> {
    let def = pipeline(pipeline_name)?;
    let receipts: Vec<astrolab_pipeline::shard::Receipt> = serde_json::from_str(receipts_json)
        .map_err(|e| usage(format!("receipts: not a list of receipts: {e}")))?;
    let c = ctx(store_config(home, database_url), None)?;
    let out = py
        .detach(|| astrolab_pipeline::shard::reduce(&def, &c, &plan_path, &receipts, &executor))
        .map_err(pipeline_err)?;
    Ok(out.result.to_string())
}

/// The pipelines a run can name, with their parameters, as JSON text.
#[pyfunction]
fn pipelines_json() -> PyResult<String> {
    let list: Vec<serde_json::Value> = pipelines()
        .iter()
        .map(|p| {
            serde_json::json!({
                "name": p.name, "summary": p.summary, "command": p.command(),
                "params": p.public_specs(),
            })
        })
        .collect();
    serde_json::to_string(&list).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// This build's identity (what `astrolab shard build-id` prints).
#[pyfunction]
fn build_id() -> String {
    astrolab_pipeline::shard::build_id()
}

#[pymodule]
fn _astrolab(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Store>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add_function(wrap_pyfunction!(run_shard, m)?)?;
    m.add_function(wrap_pyfunction!(reduce, m)?)?;
    m.add_function(wrap_pyfunction!(pipelines_json, m)?)?;
    m.add_function(wrap_pyfunction!(build_id, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
