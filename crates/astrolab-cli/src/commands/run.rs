//! `astrolab run PIPELINE --params FILE.json --out-dir DIR`: a pipeline of
//! the catalog (`astrolab_pipeline::catalog`) from JSON parameters, checked
//! through the same typed declaration as the CLI flags and the server's
//! queue, its outputs in DIR, and a provenance manifest
//! (`DIR/ro-crate-metadata.json`, RO-Crate Process Run Crate) listing the
//! resolved parameters, every input and output with its SHA-256, the
//! software and the host.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use astrolab_pipeline::catalog::{find, pipelines};
use astrolab_pipeline::manifest::{host_name, write_manifest, FileEntry, RunManifest, Software};
use astrolab_pipeline::params::ParamKind;
use clap::{Args, Parser};
use serde_json::Value;

use crate::config::Config;
use crate::UsageError;

/// Arguments of `astrolab run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Pipeline name (`astrolab run --list` names them): query-cone,
    /// voids-find, hline-process, ...
    #[arg(required_unless_present = "list")]
    pub pipeline: Option<String>,
    /// JSON file with the parameters (an object; the names of the
    /// pipeline's flags with `_` for `-`), or `-` for standard input.
    #[arg(long, required_unless_present = "list")]
    pub params: Option<PathBuf>,
    /// Directory for the outputs and the manifest (created; must be empty
    /// or new).
    #[arg(long, required_unless_present = "list")]
    pub out_dir: Option<PathBuf>,
    /// List the pipelines and their parameters as JSON.
    #[arg(long)]
    pub list: bool,
}

/// Every file under `p` (itself when a file), sorted.
fn files_under(p: &Path) -> Result<Vec<PathBuf>> {
    if p.is_file() {
        return Ok(vec![p.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let e = e?;
            let path = e.path();
            if e.file_type()?.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

pub fn run(
    cfg: &Config,
    a: &RunArgs,
    dispatch: fn(&Config, crate::cli::Command) -> Result<()>,
) -> Result<()> {
    if a.list {
        let list: Vec<Value> = pipelines()
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name, "summary": p.summary, "command": p.command(),
                    "params": p.public_specs(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let (Some(name), Some(params_path), Some(out_dir)) = (&a.pipeline, &a.params, &a.out_dir)
    else {
        bail!(UsageError("give PIPELINE, --params and --out-dir".into()));
    };
    let Some(def) = find(name) else {
        let names: Vec<&str> = pipelines().iter().map(|p| p.name).collect();
        bail!(UsageError(format!(
            "unknown pipeline {name:?}; choose one of {}",
            names.join(", ")
        )));
    };
    let text = if params_path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(params_path)
            .with_context(|| format!("reading {}", params_path.display()))?
    };
    let mut params: Value = serde_json::from_str(&text)
        .map_err(|e| UsageError(format!("{}: not JSON: {e}", params_path.display())))?;
    let Some(obj) = params.as_object_mut() else {
        bail!(UsageError(format!(
            "{}: the parameters must be a JSON object",
            params_path.display()
        )));
    };
    if out_dir.exists() && std::fs::read_dir(out_dir)?.next().is_some() {
        bail!(UsageError(format!(
            "--out-dir {}: not empty; give a new or empty directory",
            out_dir.display()
        )));
    }
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let out_dir = std::fs::canonicalize(out_dir)?;
    let fixed = (def.fixed)(&out_dir);
    for k in fixed.keys() {
        if obj.contains_key(k) {
            bail!(UsageError(format!(
                "params.{k}: set by `astrolab run` (outputs go to --out-dir)"
            )));
        }
    }
    obj.extend(fixed);
    let checked = (def.check)(&params).map_err(|e| UsageError(e.to_string()))?;
    // The command the declaration stands for, parsed by the CLI itself.
    let argv = std::iter::once("astrolab".to_string())
        .chain(def.words.iter().map(|w| w.to_string()))
        .chain(checked.args.iter().cloned());
    let cli = crate::cli::Cli::try_parse_from(argv)
        .map_err(|e| UsageError(format!("{}: {e}", def.name)))?;
    let mut inputs = Vec::new();
    for spec in (def.specs)() {
        if spec.kind != ParamKind::Path || (def.fixed)(&out_dir).contains_key(&spec.name) {
            continue;
        }
        let vals: Vec<String> = match &checked.resolved[&spec.name] {
            Value::String(s) => vec![s.clone()],
            Value::Array(v) => v
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        };
        for v in vals {
            for f in files_under(Path::new(&v))? {
                inputs.push(FileEntry::input(&f, None)?);
            }
        }
    }
    let start = time::OffsetDateTime::now_utc();
    dispatch(cfg, cli.command)?;
    let end = time::OffsetDateTime::now_utc();
    let mut outputs = Vec::new();
    for f in files_under(&out_dir)? {
        let rel = f.strip_prefix(&out_dir).unwrap_or(&f).to_path_buf();
        if rel == Path::new(astrolab_pipeline::manifest::METADATA_FILE) {
            continue;
        }
        outputs.push(FileEntry::output(&out_dir, &rel, Vec::new())?);
    }
    let m = RunManifest {
        pipeline: def.name.to_string(),
        parameters: checked.resolved,
        inputs,
        outputs,
        software: Software::current(
            env!("CARGO_PKG_VERSION"),
            option_env!("ASTROLAB_GIT_COMMIT"),
            None,
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            &format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        ),
        executor: "in-process".into(),
        threads: None,
        host: host_name(),
        start_time: start,
        end_time: end,
        run_id: None,
        submitter: None,
        license: None,
    };
    let path = write_manifest(&out_dir, &m)?;
    eprintln!("manifest: {}", path.display());
    Ok(())
}
