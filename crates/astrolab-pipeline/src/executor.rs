//! Executors: where a pipeline of the catalog runs.
//!
//! * [`InProcess`] (the default): this process, shards on threads.
//! * [`Subprocess`]: `astrolab run PIPELINE --params - --out-dir DIR
//!   --events json` in a child process, for isolation (a crash or a leak of
//!   one run cannot take the server down); the server's workers use it.
//!   The child's typed events come back as JSON lines; nothing is scraped.
//! * A cluster executor (Ray) comes through the same trait.
//!
//! Every executor runs into an empty output directory and leaves there,
//! beside the outputs, the run's provenance manifest
//! (`ro-crate-metadata.json`, [`crate::manifest`]).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::catalog::{Checked, PipelineDef};
use crate::context::{Ctx, Event, Level};
use crate::error::{PipelineError, UsageError};
use crate::manifest::{
    host_name, read_manifest, write_manifest, FileEntry, RunManifest, Software, METADATA_FILE,
};
use crate::params::ParamKind;

/// What a finished run gives back.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The pipeline's typed output, as JSON.
    pub result: Value,
    /// The provenance manifest written beside the outputs.
    pub manifest: RunManifest,
    /// Where it was written.
    pub manifest_path: PathBuf,
}

/// Runs pipelines of the catalog.
pub trait Executor: Send + Sync {
    /// Recorded in the manifest (`in-process`, `subprocess`).
    fn name(&self) -> String;
    /// Runs `def` with the submitter's `params` (a JSON object without the
    /// fixed, executor-set ones) into `out_dir` (created; must be new or
    /// empty), writing the manifest there.
    fn execute(
        &self,
        def: &PipelineDef,
        params: &Value,
        out_dir: &Path,
        ctx: &Ctx,
    ) -> Result<RunOutcome, PipelineError>;
}

/// The submitter's parameters with the executor's fixed ones for
/// `out_dir`, checked through the declaration. A fixed parameter given by
/// the submitter is refused (outputs go to the run directory).
pub fn prepare(
    def: &PipelineDef,
    params: &Value,
    out_dir: &Path,
) -> Result<Checked, PipelineError> {
    let Some(obj) = params.as_object() else {
        return Err(usage("params: the parameters must be a JSON object"));
    };
    let fixed = (def.fixed)(out_dir);
    let mut all: Map<String, Value> = obj.clone();
    for (k, v) in fixed {
        if obj.contains_key(&k) {
            return Err(usage(&format!(
                "params.{k}: set by the executor (outputs go to the run directory)"
            )));
        }
        all.insert(k, v);
    }
    Ok((def.check)(&Value::Object(all))?)
}

/// The submitter's part of resolved parameters: the fixed ones removed
/// (what a reproduction submits again, into its own directory).
pub fn submitted_part(def: &PipelineDef, resolved: &Value) -> Value {
    let fixed = (def.fixed)(Path::new("RUN_DIR"));
    match resolved {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !fixed.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn usage(message: &str) -> PipelineError {
    PipelineError::Failed(anyhow::Error::new(UsageError(message.to_string())))
}

/// Creates `out_dir` (new or empty) and gives its canonical path.
pub(crate) fn fresh_dir(out_dir: &Path) -> Result<PathBuf, PipelineError> {
    let io = |e: std::io::Error| {
        PipelineError::Failed(anyhow::anyhow!(
            "output directory {}: {e}",
            out_dir.display()
        ))
    };
    if out_dir.exists() && std::fs::read_dir(out_dir).map_err(io)?.next().is_some() {
        return Err(usage(&format!(
            "output directory {}: not empty; give a new or empty directory",
            out_dir.display()
        )));
    }
    std::fs::create_dir_all(out_dir).map_err(io)?;
    std::fs::canonicalize(out_dir).map_err(io)
}

/// Every file under `p` (itself when a file), sorted.
fn files_under(p: &Path) -> Result<Vec<PathBuf>, PipelineError> {
    let io = |d: &Path, e: std::io::Error| {
        PipelineError::Failed(anyhow::anyhow!("reading {}: {e}", d.display()))
    };
    if p.is_file() {
        return Ok(vec![p.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| io(&d, e))? {
            let e = e.map_err(|e| io(&d, e))?;
            let path = e.path();
            if e.file_type().map_err(|e| io(&path, e))?.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The input files a run reads: every file under each path parameter
/// that is not an output (fixed) one, with size and SHA-256.
pub fn input_entries(
    def: &PipelineDef,
    resolved: &Value,
    out_dir: &Path,
) -> Result<Vec<FileEntry>, PipelineError> {
    let fixed = (def.fixed)(out_dir);
    let mut inputs = Vec::new();
    for spec in (def.specs)() {
        if spec.kind != ParamKind::Path || fixed.contains_key(&spec.name) {
            continue;
        }
        let vals: Vec<String> = match &resolved[&spec.name] {
            Value::String(s) => vec![s.clone()],
            Value::Array(v) => v
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        };
        for v in vals {
            if !Path::new(&v).exists() {
                // The pipeline itself names a missing input with context.
                continue;
            }
            for f in files_under(Path::new(&v))? {
                let e = FileEntry::input(&f, None).map_err(|e| {
                    PipelineError::Failed(anyhow::anyhow!("hashing input {}: {e}", f.display()))
                })?;
                inputs.push(e);
            }
        }
    }
    Ok(inputs)
}

/// The outputs under `out_dir` (the manifest aside) with their SHA-256
/// and the pipeline's volatile fields.
pub fn output_entries(def: &PipelineDef, out_dir: &Path) -> Result<Vec<FileEntry>, PipelineError> {
    let mut outputs = Vec::new();
    for f in files_under(out_dir)? {
        let rel = f.strip_prefix(out_dir).unwrap_or(&f).to_path_buf();
        if rel == Path::new(METADATA_FILE) {
            continue;
        }
        let volatile = crate::volatile::fields(def.name, &rel);
        let e = FileEntry::output(out_dir, &rel, volatile).map_err(|e| {
            PipelineError::Failed(anyhow::anyhow!("hashing output {}: {e}", f.display()))
        })?;
        outputs.push(e);
    }
    Ok(outputs)
}

/// The file beside the outputs holding the run's typed result (paths
/// inside the run directory written relative to it), so that the result
/// is an output like any other: checksummed in the manifest and compared
/// by `astrolab reproduce`.
pub const RESULT_FILE: &str = "result.json";

/// `v` with every string naming a path inside `dir` made relative to it.
fn relative_paths(v: &Value, dir: &str) -> Value {
    match v {
        Value::String(s) => match s.strip_prefix(dir) {
            Some("") => Value::String(".".into()),
            Some(rest) if rest.starts_with('/') => Value::String(rest[1..].to_string()),
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| relative_paths(x, dir)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), relative_paths(x, dir)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Writes [`RESULT_FILE`] (atomically: a temporary name, then renamed).
fn write_result(out_dir: &Path, result: &Value) -> Result<(), PipelineError> {
    let rel = relative_paths(result, &out_dir.display().to_string());
    let mut text = serde_json::to_vec_pretty(&rel)
        .map_err(|e| PipelineError::Failed(anyhow::anyhow!("the result as JSON: {e}")))?;
    text.push(b'\n');
    crate::output::write_file(&out_dir.join(RESULT_FILE), &text).map_err(PipelineError::Failed)
}

/// This build's software facts.
pub fn software() -> Software {
    Software::current(
        env!("CARGO_PKG_VERSION"),
        option_env!("ASTROLAB_GIT_COMMIT"),
        None,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        &format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
    )
}

/// Runs in this process: shards on `ctx.threads` threads.
#[derive(Default)]
pub struct InProcess {
    /// Recorded as the executor (`in-process`; a subprocess child records
    /// `subprocess`, as that is how the run was isolated).
    pub label: Option<String>,
}

impl Executor for InProcess {
    fn name(&self) -> String {
        self.label.clone().unwrap_or_else(|| "in-process".into())
    }

    fn execute(
        &self,
        def: &PipelineDef,
        params: &Value,
        out_dir: &Path,
        ctx: &Ctx,
    ) -> Result<RunOutcome, PipelineError> {
        let out_dir = fresh_dir(out_dir)?;
        let checked = prepare(def, params, &out_dir)?;
        let inputs = input_entries(def, &checked.resolved, &out_dir)?;
        let start = time::OffsetDateTime::now_utc();
        let result = (def.run)(ctx, &checked.resolved)?;
        finish_run(
            def,
            checked.resolved,
            inputs,
            &out_dir,
            result,
            Finish {
                executor: self.name(),
                threads: ctx.threads.map(|t| t as u32),
                start,
            },
            ctx,
        )
    }
}

/// How a run was executed, for its manifest.
pub struct Finish {
    /// The executor's name.
    pub executor: String,
    /// Threads, when fixed.
    pub threads: Option<u32>,
    /// When the run started.
    pub start: time::OffsetDateTime,
}

/// The end of every executor's run: the result beside the outputs, the
/// manifest over them (written last: a directory without it is not a
/// finished run), the result event.
pub fn finish_run(
    def: &PipelineDef,
    resolved: Value,
    inputs: Vec<FileEntry>,
    out_dir: &Path,
    result: Value,
    how: Finish,
    ctx: &Ctx,
) -> Result<RunOutcome, PipelineError> {
    let end = time::OffsetDateTime::now_utc();
    write_result(out_dir, &result)?;
    let m = RunManifest {
        pipeline: def.name.to_string(),
        parameters: resolved,
        inputs,
        outputs: output_entries(def, out_dir)?,
        software: software(),
        executor: how.executor,
        threads: how.threads,
        host: host_name(),
        start_time: how.start,
        end_time: end,
        run_id: ctx.acting_for_run,
        submitter: None,
        license: None,
    };
    let manifest_path = write_manifest(out_dir, &m).map_err(|e| {
        PipelineError::Failed(anyhow::anyhow!(
            "writing the manifest in {}: {e}",
            out_dir.display()
        ))
    })?;
    ctx.events.emit(Event::Result {
        value: result.clone(),
    });
    Ok(RunOutcome {
        result,
        manifest: m,
        manifest_path,
    })
}

/// Runs `astrolab run` in a child process and follows its typed events.
#[derive(Debug, Clone)]
pub struct Subprocess {
    /// The `astrolab` binary.
    pub program: PathBuf,
    /// Extra environment for the child.
    pub env: Vec<(String, String)>,
    /// Linux: the child is killed (SIGKILL) when the thread that started
    /// it ends, so a worker killed with SIGKILL leaves no orphan run.
    pub kill_with_parent: bool,
}

impl Subprocess {
    /// The executor running `program`.
    pub fn new(program: impl Into<PathBuf>) -> Subprocess {
        Subprocess {
            program: program.into(),
            env: Vec::new(),
            kill_with_parent: false,
        }
    }
}

/// The last `n` bytes of `s` on a line boundary (error messages).
fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut i = s.len() - n;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    match s[i..].find('\n') {
        Some(j) => &s[i + j + 1..],
        None => &s[i..],
    }
}

impl Executor for Subprocess {
    fn name(&self) -> String {
        "subprocess".into()
    }

    fn execute(
        &self,
        def: &PipelineDef,
        params: &Value,
        out_dir: &Path,
        ctx: &Ctx,
    ) -> Result<RunOutcome, PipelineError> {
        // Checked here too, so a bad parameter fails before a process starts.
        let dir = fresh_dir(out_dir)?;
        prepare(def, params, &dir)?;
        let mut cmd = Command::new(&self.program);
        cmd.arg("run")
            .arg(def.name)
            .arg("--params")
            .arg("-")
            .arg("--out-dir")
            .arg(&dir)
            .arg("--events")
            .arg("json")
            .env("ASTROLAB_EXECUTOR", "subprocess")
            .env("ASTROLAB_HOME", &ctx.store.home)
            .env_remove("ASTROLAB_PROGRESS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(t) = ctx.threads {
            cmd.arg("--threads").arg(t.to_string());
        }
        match &ctx.store.database_url {
            Some(url) => cmd.env("ASTROLAB_DATABASE_URL", url),
            None => cmd.env_remove("ASTROLAB_DATABASE_URL"),
        };
        match ctx.acting_for_run {
            Some(id) => cmd.env("ASTROLAB_RUN_ID", id.to_string()),
            None => cmd.env_remove("ASTROLAB_RUN_ID"),
        };
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        #[cfg(target_os = "linux")]
        if self.kill_with_parent {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and
            // touches no memory of the parent.
            unsafe {
                cmd.pre_exec(|| {
                    rustix::process::set_parent_process_death_signal(Some(
                        rustix::process::Signal::KILL,
                    ))
                    .map_err(std::io::Error::from)
                });
            }
        }
        let mut child = cmd.spawn().map_err(|e| {
            PipelineError::Executor(format!("starting {}: {e}", self.program.display()))
        })?;
        let text = serde_json::to_vec(params)
            .map_err(|e| PipelineError::Executor(format!("parameters as JSON: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(&text)
                .map_err(|e| PipelineError::Executor(format!("sending the parameters: {e}")))?;
        }
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        // stderr (the child's tracing log) goes to the run's log as
        // detail lines; its tail explains a failure.
        let sink = ctx.events.clone();
        let err_reader = std::thread::spawn(move || {
            let mut tail = std::collections::VecDeque::new();
            if let Some(e) = stderr {
                for line in BufReader::new(e).lines() {
                    let Ok(line) = line else { break };
                    sink.emit(Event::Log {
                        level: Level::Detail,
                        message: line.clone(),
                    });
                    if tail.len() == 20 {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            }
            Vec::from(tail).join("\n")
        });
        let child = std::sync::Arc::new(std::sync::Mutex::new(child));
        // Cancellation kills the child; the watcher stops with the run.
        let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let child = child.clone();
            let finished = finished.clone();
            let cancel = ctx.cancel.clone();
            std::thread::spawn(move || {
                while !finished.load(std::sync::atomic::Ordering::SeqCst) {
                    if cancel.is_cancelled() {
                        if let Ok(mut c) = child.lock() {
                            let _ = c.kill();
                        }
                        return;
                    }
                    // Parked, not slept: the run's end unparks it at once,
                    // so a finished run never waits out the poll interval.
                    std::thread::park_timeout(Duration::from_millis(50));
                }
            })
        };
        let mut result = None;
        let mut stray = Vec::new();
        if let Some(out) = stdout {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Event>(&line) {
                    Ok(Event::Result { value }) => result = Some(value),
                    Ok(ev) => ctx.events.emit(ev),
                    // Not an event: something printed around the protocol;
                    // kept for the error message, never parsed.
                    Err(_) => stray.push(line),
                }
            }
        }
        let status = loop {
            let st = child
                .lock()
                .map_err(|_| PipelineError::Executor("child lock poisoned".into()))?
                .try_wait();
            match st {
                Ok(Some(s)) => break s,
                // Its stdout is closed, so the child is exiting: poll finely.
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => return Err(PipelineError::Executor(format!("waiting for the run: {e}"))),
            }
        };
        finished.store(true, std::sync::atomic::Ordering::SeqCst);
        watcher.thread().unpark();
        let _ = watcher.join();
        let err_text = err_reader.join().unwrap_or_default();
        if ctx.cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        if !status.success() {
            let msg = err_text
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("error: "))
                .map(String::from)
                .unwrap_or_else(|| tail(err_text.trim(), 4000).to_string());
            let msg = if msg.is_empty() {
                format!("{} exited with {status}", def.name)
            } else {
                msg
            };
            return Err(if status.code() == Some(2) {
                usage(&msg)
            } else {
                PipelineError::Failed(anyhow::anyhow!(msg))
            });
        }
        let Some(result) = result else {
            return Err(PipelineError::Executor(format!(
                "{} finished without a result event{}",
                def.name,
                if stray.is_empty() {
                    String::new()
                } else {
                    format!(" (it printed: {})", stray.join(" | "))
                }
            )));
        };
        let manifest_path = dir.join(METADATA_FILE);
        let manifest = read_manifest(&manifest_path).map_err(|e| {
            PipelineError::Executor(format!("reading {}: {e}", manifest_path.display()))
        })?;
        ctx.events.emit(Event::Result {
            value: result.clone(),
        });
        Ok(RunOutcome {
            result,
            manifest,
            manifest_path,
        })
    }
}
