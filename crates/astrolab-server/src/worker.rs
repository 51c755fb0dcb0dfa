//! The run queue's worker: claims queued runs from the store and executes
//! them as `astrolab` child processes.
//!
//! # Design
//!
//! Any number of workers (`astrolab worker` processes on any machines, or
//! one inside `astrolab serve` with SQLite) share one store. Each loops:
//!
//! 1. **Reap** runs whose lease expired (their worker died): the store
//!    requeues them, or fails them after `max_attempts` attempts.
//! 2. **Claim** the oldest queued run with a lease of 30 s
//!    ([`astrolab_store::Store::claim_run`]: `FOR UPDATE SKIP LOCKED` on
//!    PostgreSQL, so claimers never get the same run).
//! 3. **Run** the pipeline through the subprocess executor
//!    ([`astrolab_pipeline::Subprocess`]: `astrolab run PIPELINE --params -
//!    --out-dir RUN_DIR --events json`), after the parameters are checked
//!    again ([`crate::pipelines::build_args_and_inputs`]: files may have
//!    moved since submission, and inputs the submitter may not read refuse
//!    the run; the child gets the checked, canonical paths), no shell, the worker's `ASTROLAB_HOME` and
//!    `ASTROLAB_DATABASE_URL`, outputs and the run's provenance manifest in
//!    `HOME/runs/<run_id>/` (emptied at the start of each attempt, so a
//!    retry never sees a lost attempt's partial files). The child's typed
//!    events come back on a channel: log events go to `run_logs` (batched,
//!    flushed at least every second), progress events set the run's
//!    progress, the result event becomes the run's typed result.
//! 4. **Heartbeat** every 5 s, renewing the lease and reporting progress.
//!    The heartbeat is fenced by (worker, attempt): when it answers false
//!    the run was taken back (reaped after a stall, say) and the child is
//!    killed at once, so a run never executes twice at the same time. When
//!    the database cannot be reached the child is killed before the lease
//!    could have expired, for the same reason.
//! 5. **Finish**: success is `succeeded` with the result `{run_dir,
//!    files: [{path, bytes}], seconds, output, manifest}` (`output`: the
//!    pipeline's typed result); a failure is `failed` with the error.
//!
//! Children get `PR_SET_PDEATHSIG` (SIGKILL) on Linux: a worker killed
//! with SIGKILL takes its child with it, and the run is retried by another
//! worker once the lease expires.
//!
//! On stop the worker claims nothing more, lets the current child finish
//! for a grace period, then kills it and leaves the lease to expire, so
//! the run is retried elsewhere rather than reported as failed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use astrolab_store::{RunRecord, StoreConfig};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use crate::clock::now_ms;
use crate::error::ApiResult;
use crate::metrics::Metrics;
use crate::pool::StorePool;
use crate::state::AppState;

/// Lease of a claimed run, ms.
pub const LEASE_MS: i64 = 30_000;
/// Longest log line kept, bytes (longer lines are cut).
const MAX_LINE: usize = 8192;
/// Most log lines stored per attempt (the rest is counted, not kept).
const MAX_LOG_LINES: u64 = 200_000;
/// stderr lines quoted in a failed run's message.
const TAIL_LINES: usize = 20;

/// How a worker runs.
#[derive(Clone)]
pub struct WorkerConfig {
    /// Unique name of this worker (`host-pid` by default).
    pub worker_id: String,
    /// Data home: run directories go under `HOME/runs`.
    pub home: PathBuf,
    /// Directories run parameters may name besides the home.
    pub data_roots: Vec<PathBuf>,
    /// The `astrolab` executable pipelines run with.
    pub executable: PathBuf,
    /// `ASTROLAB_DATABASE_URL` for the children (None: SQLite in `home`).
    pub database_url: Option<String>,
    /// PostgreSQL schema of the store (tests); passed to the children as
    /// the connection's `search_path`.
    pub pg_schema: Option<String>,
    /// Lease of a claimed run, ms.
    pub lease_ms: i64,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// Pause between claims while the queue is empty.
    pub poll: Duration,
    /// How long a running child may finish after stop is asked.
    pub grace: Duration,
    /// Server metrics to feed (pipeline durations, ingested rows), when
    /// the worker runs inside the server.
    pub metrics: Option<Metrics>,
    /// A Ray cluster's dashboard (`ASTROLAB_RAY_ADDRESS`): runs go there
    /// as Ray jobs (astrolab_pipeline::ray) instead of child processes;
    /// the run directories must be on storage the cluster shares.
    pub ray_address: Option<String>,
}

impl WorkerConfig {
    /// Defaults for a worker over `store`: lease 30 s, heartbeat 5 s, poll
    /// 1 s, grace 30 s.
    pub fn new(worker_id: String, store: &StoreConfig, executable: PathBuf) -> WorkerConfig {
        WorkerConfig {
            worker_id,
            home: store.home.clone(),
            data_roots: Vec::new(),
            executable,
            database_url: store.database_url.clone(),
            pg_schema: store.pg_schema.clone(),
            lease_ms: LEASE_MS,
            heartbeat: Duration::from_secs(5),
            poll: Duration::from_secs(1),
            grace: Duration::from_secs(30),
            metrics: None,
            ray_address: std::env::var("ASTROLAB_RAY_ADDRESS")
                .ok()
                .filter(|a| !a.is_empty()),
        }
    }

    /// Directories paths may name: the home first.
    fn roots(&self) -> Vec<PathBuf> {
        let mut v = vec![self.home.clone()];
        v.extend(self.data_roots.iter().cloned());
        v
    }

    /// The database URL the children get.
    fn child_database_url(&self) -> Option<String> {
        let url = self.database_url.clone()?;
        Some(match &self.pg_schema {
            Some(schema) => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}options=-csearch_path%3D{schema}%2Cpublic")
            }
            None => url,
        })
    }
}

/// `host-pid`, unique among the workers of one lab.
pub fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_string());
    format!("{host}-{}", std::process::id())
}

/// Runs the worker loop until `stop` turns true (or its sender is
/// dropped). Store errors are logged and retried; they never end the loop.
pub async fn run_worker(pool: StorePool, cfg: WorkerConfig, mut stop: watch::Receiver<bool>) {
    tracing::info!(worker = %cfg.worker_id, home = %cfg.home.display(), "worker started");
    let mut last_reap: Option<Instant> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        if last_reap.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            last_reap = Some(Instant::now());
            if let Err(e) = pool.run(|s| Ok(s.reap_expired_runs(now_ms())?)).await {
                tracing::warn!(error = %e, "reaping expired runs");
            }
        }
        let (id, lease) = (cfg.worker_id.clone(), cfg.lease_ms);
        let claimed = pool
            .run(move |s| Ok(s.claim_run(&id, now_ms(), lease)?))
            .await;
        match claimed {
            Ok(Some(run)) => execute(&pool, &cfg, run, &mut stop).await,
            Ok(None) => idle(cfg.poll, &mut stop).await,
            Err(e) => {
                tracing::warn!(error = %e, "claiming a run");
                idle(cfg.poll, &mut stop).await;
            }
        }
    }
    tracing::info!(worker = %cfg.worker_id, "worker stopped");
}

/// Sleeps `d`, or less when stop is asked.
async fn idle(d: Duration, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}

/// A worker running inside the server process.
pub struct InProcessWorker {
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

/// Starts a worker inside the server (the SQLite setup): same loop as
/// `astrolab worker`, feeding the server's metrics.
pub fn spawn_in_process(state: AppState) -> InProcessWorker {
    let mut cfg = WorkerConfig::new(
        format!("server-{}", default_worker_id()),
        state.pool.config(),
        state.config.executable.clone(),
    );
    cfg.home = state.config.home.clone();
    cfg.data_roots = state.config.data_roots.clone();
    cfg.metrics = Some(state.metrics.clone());
    let (tx, rx) = watch::channel(false);
    let handle = tokio::spawn(run_worker(state.pool.clone(), cfg, rx));
    InProcessWorker { stop: tx, handle }
}

impl InProcessWorker {
    /// Stops claiming, lets the current run finish within the grace
    /// period, and returns when the worker loop has ended.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.handle.await {
            tracing::error!(error = %e, "in-process worker ended abnormally");
        }
    }
}

/// How an attempt ended, from the worker's side.
enum End {
    /// The executor finished: the run's outcome or why it failed.
    Done(Box<Result<astrolab_pipeline::RunOutcome, astrolab_pipeline::PipelineError>>),
    /// The lease was lost (or could not be renewed): child killed, nothing
    /// reported.
    Lost,
    /// Stop asked and the grace period ran out: child killed, lease left
    /// to expire so the run is retried.
    Abandoned,
    /// The child could not start or be waited for.
    Error(String),
}

/// Log lines waiting to be written.
struct LogBuffer {
    pending: Vec<(&'static str, String)>,
    stored: u64,
    dropped: u64,
    stderr_tail: std::collections::VecDeque<String>,
    stdout: Vec<String>,
}

impl LogBuffer {
    fn push(&mut self, stream: &'static str, mut line: String) {
        if line.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
        }
        if stream == "stderr" {
            if self.stderr_tail.len() == TAIL_LINES {
                self.stderr_tail.pop_front();
            }
            self.stderr_tail.push_back(line.clone());
        } else if self.stdout.len() < 10_000 {
            self.stdout.push(line.clone());
        }
        if self.stored + self.pending.len() as u64 >= MAX_LOG_LINES {
            self.dropped += 1;
            return;
        }
        self.pending.push((stream, line));
    }

    /// Writes pending lines, one store call per run of lines of the same
    /// stream (order kept). A failed write is logged and the lines kept
    /// for the next flush.
    async fn flush(&mut self, pool: &StorePool, run_id: i64) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        let n = batch.len() as u64;
        let copy = batch.clone();
        let res = pool
            .run(move |s| {
                let mut i = 0;
                while i < batch.len() {
                    let stream = batch[i].0;
                    let j = batch[i..]
                        .iter()
                        .position(|(st, _)| *st != stream)
                        .map_or(batch.len(), |k| i + k);
                    let lines: Vec<String> = batch[i..j].iter().map(|(_, l)| l.clone()).collect();
                    s.append_run_log(run_id, stream, &lines, now_ms())?;
                    i = j;
                }
                Ok(())
            })
            .await;
        match res {
            Ok(()) => self.stored += n,
            Err(e) => {
                tracing::warn!(run_id, error = %e, "writing run log lines; will retry");
                let mut again = copy;
                again.append(&mut self.pending);
                self.pending = again;
            }
        }
    }
}

/// Every file under `dir`: relative path and size, sorted.
fn walk_files(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let p = e.path();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                let bytes = e.metadata().map(|m| m.len()).unwrap_or(0);
                let rel = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
                out.push((rel, bytes));
            }
        }
    }
    out.sort();
    out
}

/// Files under `dir`, relative paths and sizes, sorted (at most 1000).
fn list_files(dir: &Path) -> Vec<Value> {
    let mut out = walk_files(dir);
    out.truncate(1000);
    out.into_iter()
        .map(|(path, bytes)| json!({"path": path, "bytes": bytes}))
        .collect()
}

/// Hashes every file under the run directory and records them on the run
/// (`run_outputs`).
async fn record_outputs(pool: &StorePool, run_id: i64, run_dir: &Path) -> ApiResult<()> {
    let dir = run_dir.to_path_buf();
    let files = tokio::task::spawn_blocking(move || -> ApiResult<Vec<(String, String, i64)>> {
        let mut out = Vec::new();
        for (rel, _) in walk_files(&dir) {
            let (size, sha) = astrolab_store::file_digest(&dir.join(&rel))
                .map_err(crate::error::ApiError::from)?;
            out.push((rel, sha, size as i64));
        }
        Ok(out)
    })
    .await
    .map_err(crate::error::ApiError::internal)??;
    pool.run(move |s| Ok(s.record_run_outputs(run_id, &files)?))
        .await
}

/// Rows per table from `ingest --json` lines.
fn ingested_rows(stdout: &[String]) -> Vec<(String, u64)> {
    fn walk(v: &Value, out: &mut Vec<(String, u64)>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(tables)) = m.get("tables") {
                    for t in tables {
                        if let Some([Value::String(name), n]) = t.as_array().map(|a| a.as_slice()) {
                            if let Some(n) = n.as_u64() {
                                out.push((name.clone(), n));
                            }
                        }
                    }
                }
                for (k, x) in m {
                    if k != "tables" {
                        walk(x, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for line in stdout {
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            walk(&v, &mut out);
        }
    }
    out
}

async fn finish(
    pool: &StorePool,
    run: &RunRecord,
    worker: &str,
    succeeded: bool,
    exit_code: Option<i32>,
    message: Option<String>,
    result: Option<Value>,
) {
    let (id, attempt, w) = (run.run_id, run.attempts, worker.to_string());
    let res: ApiResult<bool> = pool
        .run(move |s| {
            Ok(s.finish_run(
                id,
                &w,
                attempt,
                succeeded,
                exit_code,
                message.as_deref(),
                result,
                now_ms(),
            )?)
        })
        .await;
    match res {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            run_id = id,
            attempt,
            "run was taken back before it finished; result discarded"
        ),
        Err(e) => {
            tracing::error!(run_id = id, attempt, error = %e, "recording the end of a run; its lease will expire and it will be retried")
        }
    }
}

/// Executes one claimed run to its end (or until the lease is lost).
async fn execute(
    pool: &StorePool,
    cfg: &WorkerConfig,
    run: RunRecord,
    stop: &mut watch::Receiver<bool>,
) {
    let t0 = Instant::now();
    let run_id = run.run_id;
    let attempt = run.attempts;
    tracing::info!(run_id, attempt, pipeline = %run.pipeline, worker = %cfg.worker_id, "run claimed");
    let run_dir = cfg.home.join("runs").join(run_id.to_string());
    // A retry starts from an empty directory: a lost attempt's partial
    // files must not be mistaken for this attempt's outputs.
    let prepared = match std::fs::remove_dir_all(&run_dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
    .and_then(|()| std::fs::create_dir_all(&run_dir));
    if let Err(e) = prepared {
        let msg = format!(
            "cannot prepare the run directory {}: {e}",
            run_dir.display()
        );
        finish(pool, &run, &cfg.worker_id, false, None, Some(msg), None).await;
        return;
    }
    let checked = match crate::pipelines::build_args_and_inputs(
        &run.pipeline,
        &run.params,
        &cfg.roots(),
        &run_dir,
    ) {
        Ok(a) => a,
        Err(e) => {
            let msg = format!("invalid parameters: {e}");
            finish(pool, &run, &cfg.worker_id, false, None, Some(msg), None).await;
            return;
        }
    };
    // The run reads with its submitter's rights: input files they may not
    // read refuse it before anything starts (the pipeline itself applies
    // the same rules to what it reads from the store).
    let inputs = checked.inputs.clone();
    if let Err(e) = pool
        .run(move |s| Ok(s.check_run_inputs(run_id, &inputs)?))
        .await
    {
        let msg = format!("refused: {}", e.message);
        finish(pool, &run, &cfg.worker_id, false, None, Some(msg), None).await;
        return;
    }
    let Some(def) = astrolab_pipeline::catalog::find(&run.pipeline) else {
        let msg = format!("unknown pipeline {:?}", run.pipeline);
        finish(pool, &run, &cfg.worker_id, false, None, Some(msg), None).await;
        return;
    };
    // The subprocess executor: `astrolab run PIPELINE --params -
    // --out-dir RUN_DIR --events json` in a child process; its typed
    // events come back on a channel, its manifest lands in the run
    // directory.
    // With a Ray address, a Ray job instead (same outputs, same manifest).
    use astrolab_pipeline::Executor;
    let exec: Box<dyn Executor> = match &cfg.ray_address {
        Some(addr) => Box::new(astrolab_pipeline::ray::Ray::new(
            addr.clone(),
            &cfg.executable,
        )),
        None => {
            let mut exec = astrolab_pipeline::Subprocess::new(&cfg.executable);
            exec.env = vec![("ASTROLAB_LOG_FORMAT".into(), "human".into())];
            exec.kill_with_parent = true;
            Box::new(exec)
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut store = StoreConfig::sqlite(&cfg.home);
    store.database_url = cfg.child_database_url();
    let mut ctx = astrolab_pipeline::Ctx::new(store, std::sync::Arc::new(ChannelSink(tx)));
    // The pipeline reads with the submitter's rights and records what
    // restricted data it read on the run (astrolab_store::acting).
    ctx.acting_for_run = Some(run_id);
    let cancel = ctx.cancel.clone();
    let mut logs = LogBuffer {
        pending: Vec::new(),
        stored: 0,
        dropped: 0,
        stderr_tail: Default::default(),
        stdout: Vec::new(),
    };
    // `args` begins with the pipeline's command words.
    logs.push("stdout", format!("$ astrolab {}", checked.args.join(" ")));
    // The parameters as checked: paths canonical, so the child opens the
    // very files `check_run_inputs` allowed, whatever its working directory.
    let params = checked.params;
    let dir = run_dir.clone();
    let handle = tokio::task::spawn_blocking(move || exec.execute(&def, &params, &dir, &ctx));
    let end = supervise(pool, cfg, &run, handle, &cancel, &mut rx, &mut logs, stop).await;
    if logs.dropped > 0 {
        let note = format!("[{} more log lines not stored]", logs.dropped);
        logs.dropped = 0;
        logs.pending.push(("stderr", note));
    }
    logs.flush(pool, run_id).await;
    let secs = t0.elapsed().as_secs_f64();
    let pipeline = crate::pipelines::canonical_name(&run.pipeline);
    match end {
        End::Done(done) => match *done {
            Ok(outcome) => {
                // Every output with its checksum: bytes a restricted run wrote
                // stay restricted wherever they are copied and ingested. A run
                // whose outputs cannot be recorded does not succeed.
                if let Err(e) = record_outputs(pool, run_id, &run_dir).await {
                    let msg = format!("recording the outputs of run {run_id}: {}", e.message);
                    finish(pool, &run, &cfg.worker_id, false, Some(0), Some(msg), None).await;
                    return;
                }
                let mut result = json!({
                    "run_dir": run_dir.display().to_string(),
                    "files": list_files(&run_dir),
                    "seconds": secs,
                    "output": outcome.result,
                    "manifest": outcome.manifest_path.display().to_string(),
                });
                if pipeline == "ingest" {
                    let rows = ingested_rows(&logs.stdout);
                    if let Some(m) = &cfg.metrics {
                        for (table, n) in &rows {
                            m.ingest_rows.with_label_values(&[table]).inc_by(*n);
                        }
                    }
                    result["ingested_rows"] = json!(rows
                        .iter()
                        .map(|(t, n)| json!({"table": t, "rows": n}))
                        .collect::<Vec<_>>());
                }
                if let Some(m) = &cfg.metrics {
                    m.pipeline_duration
                        .with_label_values(&[&pipeline])
                        .observe(secs);
                }
                tracing::info!(run_id, attempt, seconds = secs, "run succeeded");
                finish(
                    pool,
                    &run,
                    &cfg.worker_id,
                    true,
                    Some(0),
                    Some("succeeded".into()),
                    Some(result),
                )
                .await;
            }
            Err(e) => {
                if let Some(m) = &cfg.metrics {
                    m.pipeline_duration
                        .with_label_values(&[&pipeline])
                        .observe(secs);
                }
                let code = if e.is_usage() { 2 } else { 1 };
                tracing::info!(run_id, attempt, "run failed");
                finish(
                    pool,
                    &run,
                    &cfg.worker_id,
                    false,
                    Some(code),
                    Some(e.to_string()),
                    None,
                )
                .await;
            }
        },
        End::Error(msg) => {
            tracing::error!(run_id, attempt, error = %msg, "run could not execute");
            finish(pool, &run, &cfg.worker_id, false, None, Some(msg), None).await;
        }
        End::Lost => tracing::warn!(
            run_id,
            attempt,
            "lease lost: pipeline killed, the run belongs to another attempt now"
        ),
        End::Abandoned => tracing::warn!(
            run_id,
            attempt,
            "worker stopping: pipeline killed; the run will be retried when its lease expires"
        ),
    }
}

/// Typed events of the executor into the supervising task.
struct ChannelSink(mpsc::UnboundedSender<astrolab_pipeline::Event>);

impl astrolab_pipeline::EventSink for ChannelSink {
    fn emit(&self, event: astrolab_pipeline::Event) {
        // The supervisor is gone only once the run is over.
        let _ = self.0.send(event);
    }
}

type ExecHandle = tokio::task::JoinHandle<
    Result<astrolab_pipeline::RunOutcome, astrolab_pipeline::PipelineError>,
>;

/// Waits for the executor while heartbeating, storing its log events and
/// progress, and watching for stop. Losing the lease or running out of
/// grace cancels the run (the executor kills its child).
#[allow(clippy::too_many_arguments)]
async fn supervise(
    pool: &StorePool,
    cfg: &WorkerConfig,
    run: &RunRecord,
    mut handle: ExecHandle,
    cancel: &astrolab_pipeline::CancelToken,
    rx: &mut mpsc::UnboundedReceiver<astrolab_pipeline::Event>,
    logs: &mut LogBuffer,
    stop: &mut watch::Receiver<bool>,
) -> End {
    use astrolab_pipeline::{Event, Level};
    let (run_id, attempt) = (run.run_id, run.attempts);
    let mut heartbeat = tokio::time::interval(cfg.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut flush = tokio::time::interval(Duration::from_secs(1));
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_renewed = Instant::now();
    // Kill before the lease could expire when renewals keep failing: two
    // heartbeats of margin.
    let renew_deadline =
        Duration::from_millis(cfg.lease_ms.max(0) as u64).saturating_sub(cfg.heartbeat * 2);
    let mut progress: Option<f64> = None;
    let mut reported: Option<f64> = None;
    let mut give_up_at: Option<tokio::time::Instant> = if *stop.borrow() {
        Some(tokio::time::Instant::now() + cfg.grace)
    } else {
        None
    };
    // Cancels the run and waits for the executor to have killed its child.
    async fn stop_run(cancel: &astrolab_pipeline::CancelToken, handle: &mut ExecHandle) {
        cancel.cancel();
        let _ = handle.await;
    }
    let outcome = loop {
        tokio::select! {
            joined = &mut handle => break joined,
            ev = rx.recv() => match ev {
                Some(Event::Progress { .. }) => {
                    if let Some(ev) = ev {
                        if let Some(f) = ev.fraction() {
                            progress = Some(f);
                        }
                    }
                }
                Some(Event::Log { level, message }) => {
                    let stream = if level == Level::Info { "stdout" } else { "stderr" };
                    logs.push(stream, message);
                    if logs.pending.len() >= 1000 {
                        logs.flush(pool, run_id).await;
                    }
                }
                Some(Event::Result { .. }) | None => {}
            },
            _ = flush.tick() => logs.flush(pool, run_id).await,
            _ = heartbeat.tick() => {
                let (w, lease) = (cfg.worker_id.clone(), cfg.lease_ms);
                let p = if progress != reported { progress } else { None };
                let r = pool.run(move |s| Ok(s.heartbeat_run(run_id, &w, attempt, now_ms(), lease, p, None)?)).await;
                match r {
                    Ok(true) => {
                        last_renewed = Instant::now();
                        reported = progress;
                    }
                    Ok(false) => {
                        stop_run(cancel, &mut handle).await;
                        return End::Lost;
                    }
                    Err(e) => {
                        tracing::warn!(run_id, error = %e, "heartbeat failed");
                        if last_renewed.elapsed() >= renew_deadline {
                            stop_run(cancel, &mut handle).await;
                            return End::Lost;
                        }
                    }
                }
            },
            changed = stop.changed(), if give_up_at.is_none() => {
                // A dropped sender counts as stop too.
                if changed.is_err() || *stop.borrow() {
                    tracing::info!(run_id, grace_s = cfg.grace.as_secs_f64(), "stop asked: letting the current run finish");
                    give_up_at = Some(tokio::time::Instant::now() + cfg.grace);
                }
            },
            _ = async { tokio::time::sleep_until(give_up_at.unwrap_or_else(tokio::time::Instant::now)).await }, if give_up_at.is_some() => {
                stop_run(cancel, &mut handle).await;
                return End::Abandoned;
            },
        }
    };
    // Events sent before the executor returned are all in the channel.
    while let Ok(ev) = rx.try_recv() {
        if let Event::Log { level, message } = ev {
            logs.push(
                if level == Level::Info {
                    "stdout"
                } else {
                    "stderr"
                },
                message,
            );
        }
    }
    match outcome {
        Ok(r) => End::Done(Box::new(r)),
        Err(e) => End::Error(format!("the executor thread ended abnormally: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_ingest_rows_from_json_lines() {
        let lines = vec![
            r#"{"outcome":"loaded","file":{"name":"a.fits","rows_loaded":127},"tables":[["zcatalog",120],["fastspec",7]]}"#.to_string(),
            "not json".to_string(),
            r#"{"outcome":"failed","path":"b.fits","error":"x"}"#.to_string(),
        ];
        assert_eq!(
            ingested_rows(&lines),
            vec![("zcatalog".to_string(), 120), ("fastspec".to_string(), 7)]
        );
    }

    #[test]
    fn worker_child_url_carries_the_schema() {
        let mut sc = StoreConfig::sqlite("/tmp/h");
        sc.database_url = Some("postgres://u@h/db".into());
        sc.pg_schema = Some("t_1".into());
        let c = WorkerConfig::new("w".into(), &sc, "astrolab".into());
        assert_eq!(
            c.child_database_url().unwrap(),
            "postgres://u@h/db?options=-csearch_path%3Dt_1%2Cpublic"
        );
    }
}
