//! The Ray executor: one Ray job per run on the lab's existing cluster,
//! submitted through Ray's Job Submission REST API (`POST /api/jobs/`,
//! `submission_id` = the run), not a scheduler of our own.
//!
//! The job's driver (`ray_driver.py`, written beside the run on shared
//! storage) plans with `astrolab shard plan`, starts one Ray task per shard
//! (`astrolab shard run`, with its CPU and GPU needs; a failed task or a
//! dead worker is retried by Ray), and reduces with `astrolab shard
//! reduce`, which writes the outputs and the manifest ([`crate::shard`]).
//! This executor follows the job: its log lines `ASTROLAB_EVENT {...}`
//! become the run's typed events, `ASTROLAB_ERROR ...` its error; a
//! cancelled run stops the job (`POST /api/jobs/{id}/stop`).
//!
//! Shared storage: the run's output directory (and the staging directory
//! beside it) must be the same path on the submitting machine, the head
//! and every worker (a shared file system or a PVC mounted everywhere),
//! and the `astrolab` binary must be at [`Ray::program`] on each of them.
//! A failed, stopped or unreachable job leaves the output directory empty:
//! nothing partial is published.
//!
//! The store: `ASTROLAB_HOME` travels in the job's environment; a
//! PostgreSQL URL travels only when it holds no password (a URL with one
//! would be shown by Ray's dashboard): otherwise the cluster's machines
//! must have `ASTROLAB_DATABASE_URL` themselves (a Kubernetes Secret).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::catalog::PipelineDef;
use crate::context::{Ctx, Event, Level};
use crate::error::PipelineError;
use crate::executor::{fresh_dir, prepare, Executor, RunOutcome};
use crate::manifest::read_manifest;

/// The driver script the job runs.
pub const DRIVER: &str = include_str!("ray_driver.py");

/// Runs pipelines as Ray jobs.
#[derive(Debug, Clone)]
pub struct Ray {
    /// The Ray dashboard (Job Submission API), e.g. `http://HEAD:8265`.
    pub address: String,
    /// The `astrolab` binary, at this path on the head and every worker.
    pub program: PathBuf,
    /// The Python with `ray` on the head (runs the driver).
    pub python: String,
    /// CPUs each shard task asks Ray for (and threads it runs on).
    pub cpus_per_shard: u32,
    /// GPUs each shard task asks for (0: none).
    pub gpus_per_shard: f64,
    /// Retries of a failed shard task.
    pub max_retries: u32,
    /// How often the job's status and log are read.
    pub poll: Duration,
}

impl Ray {
    /// The executor for the cluster whose dashboard is at `address`.
    pub fn new(address: impl Into<String>, program: impl Into<PathBuf>) -> Ray {
        Ray {
            address: address.into().trim_end_matches('/').to_string(),
            program: program.into(),
            python: "python3".into(),
            cpus_per_shard: 1,
            gpus_per_shard: 0.0,
            max_retries: 3,
            poll: Duration::from_millis(250),
        }
    }

    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .into()
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> PipelineError {
        PipelineError::Executor(format!(
            "cannot reach the Ray dashboard at {} ({e}); is the head running (`ray start --head --dashboard-host 0.0.0.0 --dashboard-port 8265`) and is --ray-address its dashboard URL?",
            self.address
        ))
    }

    /// Sends a request to the Job API; gives the JSON body of a 2xx answer.
    fn call(
        &self,
        agent: &ureq::Agent,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, PipelineError> {
        let url = format!("{}{}", self.address, path);
        let resp = match (method, body) {
            ("POST", Some(b)) => agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(b.to_string().as_bytes()),
            ("POST", None) => agent.post(&url).send_empty(),
            _ => agent.get(&url).call(),
        };
        let mut resp = resp.map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| self.unreachable(e))?;
        if !(200..300).contains(&status) {
            return Err(PipelineError::Executor(format!(
                "the Ray Job API answered {status} to {method} {url}: {}",
                text.trim()
            )));
        }
        serde_json::from_str(&text).map_err(|e| {
            PipelineError::Executor(format!(
                "{url} did not answer JSON ({e}); is {} a Ray dashboard?",
                self.address
            ))
        })
    }

    /// The job's environment: where the store is.
    fn env_vars(&self, ctx: &Ctx) -> Value {
        let mut env = serde_json::Map::new();
        // Absolute: the job's processes run in Ray's own working directory,
        // where a relative home would be a new, empty store.
        let home = std::path::absolute(&ctx.store.home).unwrap_or(ctx.store.home.clone());
        env.insert(
            "ASTROLAB_HOME".into(),
            Value::String(home.display().to_string()),
        );
        if let Some(url) = &ctx.store.database_url {
            if !url_has_password(url) {
                env.insert("ASTROLAB_DATABASE_URL".into(), Value::String(url.clone()));
            }
        }
        // Tasks of a queued run read with its submitter's rights, as the
        // run itself does (astrolab_store::acting).
        if let Some(run) = ctx.acting_for_run {
            env.insert("ASTROLAB_RUN_ID".into(), Value::String(run.to_string()));
        }
        Value::Object(env)
    }
}

/// Whether a PostgreSQL URL (or key-value string) carries a password.
fn url_has_password(url: &str) -> bool {
    if url.contains("password=") {
        return true;
    }
    match url.split_once("://") {
        Some((_, rest)) => {
            let auth = rest.split('@').next().unwrap_or("");
            rest.contains('@') && auth.contains(':')
        }
        None => false,
    }
}

/// The job's submission id: the run (`astrolab-run-ID-...` for a queued
/// run, the pipeline's name otherwise), then the submission time and this
/// process, because Ray refuses a submission id twice and one cluster
/// serves several stores (whose run ids overlap) and retried attempts.
fn submission_id(def: &PipelineDef, ctx: &Ctx) -> String {
    let t = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let pid = std::process::id();
    match ctx.acting_for_run {
        Some(id) => format!("astrolab-run-{id}-{t}-{pid}"),
        None => format!("astrolab-{}-{t}-{pid}", def.name),
    }
}

/// The staging directory beside `out_dir` (same file system, so shared
/// wherever the outputs are).
fn staging_dir(out_dir: &Path, id: &str) -> PathBuf {
    let name = out_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "run".into());
    out_dir
        .parent()
        .unwrap_or(Path::new("/"))
        .join(format!(".{name}.{id}.ray"))
}

/// Removes everything inside `dir` (a failed run publishes nothing).
fn empty_dir(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
}

/// What the job's log said so far.
#[derive(Default)]
struct Followed {
    seen: usize,
    result: Option<Value>,
    error: Option<String>,
    tail: std::collections::VecDeque<String>,
}

impl Followed {
    /// Takes the log's new lines (Ray gives the whole log each time).
    fn take(&mut self, logs: &str, ctx: &Ctx) {
        if logs.len() < self.seen {
            self.seen = 0;
        }
        let new = &logs[self.seen..];
        // Only whole lines; the rest waits for the next read.
        let Some(end) = new.rfind('\n') else { return };
        for line in new[..end].lines() {
            if let Some(ev) = line.strip_prefix("ASTROLAB_EVENT ") {
                match serde_json::from_str::<Event>(ev) {
                    Ok(Event::Result { value }) => self.result = Some(value),
                    Ok(ev) => ctx.events.emit(ev),
                    Err(_) => self.keep(line, ctx),
                }
            } else if let Some(msg) = line.strip_prefix("ASTROLAB_ERROR ") {
                self.error = Some(msg.to_string());
            } else {
                self.keep(line, ctx);
            }
        }
        self.seen += end + 1;
    }

    fn keep(&mut self, line: &str, ctx: &Ctx) {
        ctx.events.emit(Event::Log {
            level: Level::Detail,
            message: line.to_string(),
        });
        if self.tail.len() == 20 {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_string());
    }
}

impl Executor for Ray {
    fn name(&self) -> String {
        "ray".into()
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
        let agent = self.agent();
        // Reachable before anything is written.
        self.call(&agent, "GET", "/api/version", None)?;
        let id = submission_id(def, ctx);
        let staging = staging_dir(&out_dir, &id);
        let io = |what: &str, e: std::io::Error| {
            PipelineError::Executor(format!("{what} in {}: {e}", staging.display()))
        };
        std::fs::create_dir_all(&staging).map_err(|e| io("creating the staging directory", e))?;
        let result = self.follow(def, &checked.resolved, &out_dir, &staging, &id, ctx, &agent);
        let _ = std::fs::remove_dir_all(&staging);
        match result {
            Ok(r) => Ok(r),
            Err(e) => {
                empty_dir(&out_dir);
                Err(e)
            }
        }
    }
}

impl Ray {
    #[allow(clippy::too_many_arguments)]
    fn follow(
        &self,
        def: &PipelineDef,
        resolved: &Value,
        out_dir: &Path,
        staging: &Path,
        id: &str,
        ctx: &Ctx,
        agent: &ureq::Agent,
    ) -> Result<RunOutcome, PipelineError> {
        let write = |name: &str, bytes: &[u8]| {
            crate::output::write_file(&staging.join(name), bytes).map_err(PipelineError::Failed)
        };
        write(
            "params.json",
            &serde_json::to_vec(resolved)
                .map_err(|e| PipelineError::Executor(format!("parameters as JSON: {e}")))?,
        )?;
        write("driver.py", DRIVER.as_bytes())?;
        let q = |p: &Path| shell_quote(&p.display().to_string());
        let entrypoint = format!(
            "{} {} --astrolab {} --build {} --pipeline {} --staging {} --out-dir {} --cpus-per-shard {} --gpus-per-shard {} --max-retries {}",
            shell_quote(&self.python),
            q(&staging.join("driver.py")),
            q(&self.program),
            shell_quote(&crate::shard::build_id()),
            def.name,
            q(staging),
            q(out_dir),
            self.cpus_per_shard,
            self.gpus_per_shard,
            self.max_retries
        );
        let body = json!({
            "entrypoint": entrypoint,
            "submission_id": id,
            "runtime_env": { "env_vars": self.env_vars(ctx) },
            "metadata": { "astrolab_pipeline": def.name, "astrolab_out_dir": out_dir.display().to_string() },
        });
        self.call(agent, "POST", "/api/jobs/", Some(&body))?;
        ctx.events.emit(Event::Log {
            level: Level::Detail,
            message: format!("submitted Ray job {id} to {}", self.address),
        });
        let mut followed = Followed::default();
        let status = loop {
            std::thread::sleep(self.poll);
            if ctx.cancel.is_cancelled() {
                self.stop(agent, id);
                return Err(PipelineError::Cancelled);
            }
            let job = self.call(agent, "GET", &format!("/api/jobs/{id}"), None)?;
            let status = job["status"].as_str().unwrap_or("").to_string();
            let logs = self.call(agent, "GET", &format!("/api/jobs/{id}/logs"), None)?;
            followed.take(logs["logs"].as_str().unwrap_or(""), ctx);
            if matches!(status.as_str(), "SUCCEEDED" | "FAILED" | "STOPPED") {
                // The log of a finished job is complete: read it once more.
                let logs = self.call(agent, "GET", &format!("/api/jobs/{id}/logs"), None)?;
                followed.take(&format!("{}\n", logs["logs"].as_str().unwrap_or("")), ctx);
                break (status, job["message"].as_str().unwrap_or("").to_string());
            }
        };
        match status.0.as_str() {
            "SUCCEEDED" => {
                let manifest_path = out_dir.join(crate::manifest::METADATA_FILE);
                let manifest = read_manifest(&manifest_path).map_err(|e| {
                    PipelineError::Executor(format!(
                        "Ray job {id} succeeded but its manifest cannot be read ({e}); is {} shared with the cluster?",
                        out_dir.display()
                    ))
                })?;
                let result = match followed.result {
                    Some(v) => v,
                    None => {
                        return Err(PipelineError::Executor(format!(
                            "Ray job {id} succeeded without reporting its result"
                        )))
                    }
                };
                ctx.events.emit(Event::Result {
                    value: result.clone(),
                });
                Ok(RunOutcome {
                    result,
                    manifest,
                    manifest_path,
                })
            }
            "STOPPED" => Err(PipelineError::Executor(format!(
                "Ray job {id} was stopped on the cluster"
            ))),
            _ => Err(PipelineError::Failed(anyhow::anyhow!(
                "Ray job {id} failed: {}",
                followed.error.unwrap_or_else(|| {
                    let t: Vec<String> = followed.tail.into_iter().collect();
                    format!("{} {}", status.1, t.join(" | "))
                })
            ))),
        }
    }
}

impl Ray {
    /// Stops the job and waits (up to a minute) until Ray says it ended, so
    /// that its tasks no longer write when the run's directories are
    /// cleaned up.
    fn stop(&self, agent: &ureq::Agent, id: &str) {
        let _ = self.call(agent, "POST", &format!("/api/jobs/{id}/stop"), None);
        let t0 = std::time::Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            match self.call(agent, "GET", &format!("/api/jobs/{id}"), None) {
                Ok(job)
                    if matches!(
                        job["status"].as_str(),
                        Some("STOPPED" | "FAILED" | "SUCCEEDED")
                    ) =>
                {
                    return
                }
                Ok(_) => std::thread::sleep(self.poll),
                Err(_) => return,
            }
        }
    }
}

/// `s` quoted for a POSIX shell (the job's entrypoint is a shell line).
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_travel_in_the_job() {
        assert!(url_has_password("postgres://lab:secret@db:5432/astrolab"));
        assert!(url_has_password("host=db user=lab password=secret"));
        assert!(!url_has_password(
            "postgres://postgres@127.0.0.1:5432/astrolab"
        ));
        assert!(!url_has_password("postgres://127.0.0.1:5432/astrolab"));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("/usr/bin/astrolab"), "/usr/bin/astrolab");
        assert_eq!(
            shell_quote("astrolab 0.1.0 (x, release)"),
            "'astrolab 0.1.0 (x, release)'"
        );
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn log_lines_become_events_and_errors() {
        let sink = std::sync::Arc::new(crate::context::Collect::default());
        let ctx = Ctx::new(
            astrolab_store::StoreConfig::sqlite("/nonexistent"),
            sink.clone(),
        );
        let mut f = Followed::default();
        let log = "hello\nASTROLAB_EVENT {\"event\":\"progress\",\"stage\":\"shards\",\"done\":1,\"total\":2}\nASTROLAB_ERROR shard 1: boom\npart";
        f.take(log, &ctx);
        assert_eq!(f.error.as_deref(), Some("shard 1: boom"));
        let ev = sink.events();
        assert_eq!(ev.len(), 2);
        assert_eq!(
            ev[1],
            Event::Progress {
                stage: "shards".into(),
                done: 1,
                total: 2
            }
        );
        // The unfinished line waits for the rest.
        f.take(&format!("{log}ial line\n"), &ctx);
        assert_eq!(f.tail.back().map(String::as_str), Some("partial line"));
    }
}
