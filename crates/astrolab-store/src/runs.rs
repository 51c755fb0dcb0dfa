//! The run queue (migration 6): pipeline runs submitted through the server
//! and executed by `astrolab worker` processes, any number of them, on any
//! machines, against one database.
//!
//! Life of a run: `queued` → (claim) `running` → `succeeded` | `failed`;
//! a queued run may be `cancelled`. Guarantees:
//!
//! * **Claimed once.** [`Store::claim_run`] takes the oldest queued run in
//!   one transaction that also opens its `run_attempts` row: on PostgreSQL
//!   with `FOR UPDATE SKIP LOCKED` (claimers never wait on each other and
//!   never get the same run), on SQLite under `BEGIN IMMEDIATE` (one
//!   writer at a time; busy_timeout queues the others).
//! * **Leases and fencing.** A running run has a lease
//!   (`lease_expires_ms`) its worker renews with [`Store::heartbeat_run`].
//!   Every worker call names `(run_id, worker_id, attempt)` and only
//!   changes the run while it is still running under exactly that worker
//!   and attempt; `false` means the lease was lost and the worker must
//!   stop. So a run never runs "twice at once" as far as the store is
//!   concerned: a presumed-dead worker that wakes up cannot report.
//! * **Never lost.** [`Store::reap_expired_runs`] (safe to call from every
//!   worker and server concurrently) marks the attempt of an expired lease
//!   `lost` and requeues the run, or fails it once `max_attempts` attempts
//!   were made.
//!
//! Times are milliseconds since 1970 UTC passed by the caller, so tests
//! and the server control the clock.

use std::str::FromStr;

use crate::error::{Result, StoreError};
use crate::store::Store;
use crate::tx::{int, opt_float, opt_int, opt_str, opt_text, text, txt, Tx};
use crate::value::Value;

/// State of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Waiting for a worker.
    Queued,
    /// Claimed by a worker that holds a lease.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished with an error, or lost more often than allowed.
    Failed,
    /// Cancelled while queued.
    Cancelled,
}

impl RunState {
    /// Every state, in life order.
    pub const ALL: [RunState; 5] = [
        RunState::Queued,
        RunState::Running,
        RunState::Succeeded,
        RunState::Failed,
        RunState::Cancelled,
    ];

    /// The lowercase name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }

    /// Succeeded, failed or cancelled: the run will not change again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunState::Succeeded | RunState::Failed | RunState::Cancelled
        )
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunState {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<RunState> {
        RunState::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                StoreError::bad_request(
                    "state",
                    format!("{s:?} is not a run state; choose queued, running, succeeded, failed or cancelled"),
                )
            })
    }
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunRecord {
    /// Id, increasing in submission order.
    pub run_id: i64,
    /// Pipeline name (a CLI pipeline).
    pub pipeline: String,
    /// Its parameters.
    pub params: serde_json::Value,
    /// Username of the submitter.
    pub submitted_by: String,
    /// Submitted, ms since 1970 UTC.
    pub submitted_at_ms: i64,
    /// State.
    pub state: RunState,
    /// Attempts started so far (the current one while running).
    pub attempts: i64,
    /// Attempts allowed before a lost run fails.
    pub max_attempts: i64,
    /// Worker of the current (or last, when failed by loss) attempt.
    pub worker_id: Option<String>,
    /// Lease end of the running attempt, ms.
    pub lease_expires_ms: Option<i64>,
    /// Start of the latest attempt, ms.
    pub started_at_ms: Option<i64>,
    /// End, ms.
    pub finished_at_ms: Option<i64>,
    /// Fraction done, 0 to 1, as reported by the worker.
    pub progress: Option<f64>,
    /// Latest status message.
    pub message: Option<String>,
    /// Exit code of the pipeline, when finished.
    pub exit_code: Option<i32>,
    /// Result summary (JSON), when finished.
    pub result: Option<serde_json::Value>,
    /// None when the run read nothing restricted; else the projects whose
    /// members may see the run, its logs and outputs (empty: admins only).
    pub restricted_projects: Option<Vec<String>>,
}

impl RunRecord {
    /// Who may see the run, its parameters, logs and outputs: its
    /// submitter, members of the projects whose restricted data it read,
    /// and admins; nobody else.
    pub fn visible_to(&self, username: &str, projects: &[String], is_admin: bool) -> bool {
        is_admin
            || (!username.is_empty() && username == self.submitted_by)
            || self
                .restricted_projects
                .as_ref()
                .is_some_and(|rp| rp.iter().any(|p| projects.contains(p)))
    }
}

/// A run to submit.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// Pipeline name.
    pub pipeline: String,
    /// Parameters (JSON).
    pub params: serde_json::Value,
    /// Username of the submitter.
    pub submitted_by: String,
    /// Attempts allowed (at least 1) before a run whose worker keeps dying
    /// is failed.
    pub max_attempts: i64,
}

/// One attempt at a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunAttempt {
    /// The run.
    pub run_id: i64,
    /// 1, 2, ...
    pub attempt: i64,
    /// Worker that claimed it.
    pub worker_id: String,
    /// Claimed, ms.
    pub started_ms: i64,
    /// Ended, ms (None while running).
    pub finished_ms: Option<i64>,
    /// `succeeded`, `failed` or `lost` (None while running).
    pub outcome: Option<String>,
}

/// A line of a run's log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunLogLine {
    /// 1, 2, ... per run.
    pub seq: i64,
    /// Written, ms.
    pub at_ms: i64,
    /// `stdout`, `stderr`, `progress` ...
    pub stream: String,
    /// The text.
    pub line: String,
}

/// Counts by state and the age of the oldest queued run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct QueueStats {
    /// Waiting.
    pub queued: i64,
    /// Running.
    pub running: i64,
    /// Succeeded.
    pub succeeded: i64,
    /// Failed.
    pub failed: i64,
    /// Cancelled.
    pub cancelled: i64,
    /// Seconds since the oldest queued run was submitted.
    pub oldest_queued_age_s: Option<f64>,
}

const RUN_COLS: &str = "run_id, pipeline, params, submitted_by, submitted_at_ms, state, attempts, max_attempts, worker_id, lease_expires_ms, started_at_ms, finished_at_ms, progress, message, exit_code, result, restricted_projects";

fn json_of(v: &Value, what: &str) -> Result<serde_json::Value> {
    serde_json::from_str(&text(v))
        .map_err(|e| StoreError::BadInput(format!("runs.{what}: stored JSON does not parse: {e}")))
}

fn run_of(r: &[Value]) -> Result<RunRecord> {
    Ok(RunRecord {
        run_id: int(&r[0]),
        pipeline: text(&r[1]),
        params: json_of(&r[2], "params")?,
        submitted_by: text(&r[3]),
        submitted_at_ms: int(&r[4]),
        state: RunState::from_str(&text(&r[5]))
            .map_err(|_| StoreError::BadInput(format!("runs: unknown state {:?}", r[5])))?,
        attempts: int(&r[6]),
        max_attempts: int(&r[7]),
        worker_id: opt_text(&r[8]),
        lease_expires_ms: opt_int(&r[9]),
        started_at_ms: opt_int(&r[10]),
        finished_at_ms: opt_int(&r[11]),
        progress: opt_float(&r[12]),
        message: opt_text(&r[13]),
        exit_code: opt_int(&r[14]).map(|x| x as i32),
        result: match &r[15] {
            Value::Null => None,
            v => Some(json_of(v, "result")?),
        },
        restricted_projects: match &r[16] {
            Value::Null => None,
            // Fail closed: a list that does not parse leaves the run to
            // admins rather than to everyone.
            v => {
                Some(serde_json::from_value(json_of(v, "restricted_projects")?).unwrap_or_default())
            }
        },
    })
}

fn runs_of(rows: Vec<Vec<Value>>) -> Result<Vec<RunRecord>> {
    rows.iter().map(|r| run_of(r)).collect()
}

fn json_text(v: &serde_json::Value, field: &str) -> Result<Value> {
    serde_json::to_string(v)
        .map(Value::Text)
        .map_err(|e| StoreError::bad_request(field, e.to_string()))
}

fn now_ms_system() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Closes the attempt row of a run.
fn close_attempt(
    tx: &mut Tx<'_>,
    run_id: i64,
    attempt: i64,
    outcome: &str,
    now_ms: i64,
) -> Result<()> {
    tx.execute(
        "UPDATE run_attempts SET finished_ms = ?1, outcome = ?2 WHERE run_id = ?3 AND attempt = ?4 AND outcome IS NULL",
        "UPDATE run_attempts SET finished_ms = $1, outcome = $2 WHERE run_id = $3 AND attempt = $4 AND outcome IS NULL",
        &[Value::Int(now_ms), txt(outcome), Value::Int(run_id), Value::Int(attempt)],
    )?;
    Ok(())
}

impl Store {
    /// Records that run `run_id` read restricted data readable by members
    /// of `projects`: the run's restriction becomes the intersection with
    /// what it already had (see [`crate::ReadRules::restriction_projects`]).
    /// Written as soon as the read happens, so a run killed afterwards is
    /// restricted all the same.
    pub fn note_run_restriction(&mut self, run_id: i64, projects: &[String]) -> Result<()> {
        let mut tx = self.begin()?;
        let rows = tx.query(
            "SELECT restricted_projects FROM runs WHERE run_id = ?1",
            "SELECT restricted_projects FROM runs WHERE run_id = $1 FOR UPDATE",
            &[Value::Int(run_id)],
        )?;
        let Some(row) = rows.first() else {
            return Err(StoreError::bad_request(
                "run_id",
                format!("no run {run_id}"),
            ));
        };
        let mut new: Vec<String> = projects.to_vec();
        if let Value::Text(old) = &row[0] {
            let old: Vec<String> = serde_json::from_str(old).unwrap_or_default();
            new.retain(|p| old.contains(p));
        }
        new.sort();
        new.dedup();
        tx.execute(
            "UPDATE runs SET restricted_projects = ?1 WHERE run_id = ?2",
            "UPDATE runs SET restricted_projects = $1 WHERE run_id = $2",
            &[
                json_text(&serde_json::json!(new), "restricted_projects")?,
                Value::Int(run_id),
            ],
        )?;
        tx.commit()
    }

    /// Records the output files of a run (path relative to the run
    /// directory, SHA-256, size), replacing what an earlier attempt
    /// recorded.
    pub fn record_run_outputs(
        &mut self,
        run_id: i64,
        files: &[(String, String, i64)],
    ) -> Result<()> {
        let mut tx = self.begin()?;
        tx.execute(
            "DELETE FROM run_outputs WHERE run_id = ?1",
            "DELETE FROM run_outputs WHERE run_id = $1",
            &[Value::Int(run_id)],
        )?;
        for (path, sha, size) in files {
            tx.execute(
                "INSERT INTO run_outputs (run_id, path, sha256, size_bytes) VALUES (?1, ?2, ?3, ?4)",
                "INSERT INTO run_outputs (run_id, path, sha256, size_bytes) VALUES ($1, $2, $3, $4)",
                &[Value::Int(run_id), txt(path), txt(sha), Value::Int(*size)],
            )?;
        }
        tx.commit()
    }

    /// The restriction bytes with this SHA-256 inherit from the runs that
    /// wrote them: None when no run wrote them or when any run that wrote
    /// them read nothing restricted (the bytes then hold nothing
    /// restricted); else the projects of those runs (any of them may read
    /// the bytes).
    pub fn derived_restriction(&mut self, sha256: &str) -> Result<Option<Vec<String>>> {
        let rows = self.query_rows(
            "SELECT r.restricted_projects FROM run_outputs o JOIN runs r ON r.run_id = o.run_id WHERE o.sha256 = ?1",
            "SELECT r.restricted_projects FROM run_outputs o JOIN runs r ON r.run_id = o.run_id WHERE o.sha256 = $1",
            &[txt(sha256)],
        )?;
        let mut out: Option<std::collections::BTreeSet<String>> = None;
        for r in &rows {
            let Value::Text(t) = &r[0] else {
                return Ok(None);
            };
            let projects: Vec<String> = serde_json::from_str(t).unwrap_or_default();
            out.get_or_insert_with(Default::default).extend(projects);
        }
        Ok(out.map(|s| s.into_iter().collect()))
    }

    /// Sizes of every output of a restricted run: a file of another size
    /// cannot carry a restriction, so only files of these sizes need a
    /// checksum when a run's inputs are checked.
    pub fn restricted_output_sizes(&mut self) -> Result<std::collections::BTreeSet<i64>> {
        let rows = self.query_rows(
            "SELECT DISTINCT o.size_bytes FROM run_outputs o JOIN runs r ON r.run_id = o.run_id WHERE r.restricted_projects IS NOT NULL",
            "SELECT DISTINCT o.size_bytes FROM run_outputs o JOIN runs r ON r.run_id = o.run_id WHERE r.restricted_projects IS NOT NULL",
            &[],
        )?;
        Ok(rows.iter().map(|r| int(&r[0])).collect())
    }

    /// Queues a run.
    pub fn submit_run(&mut self, new: &NewRun, now_ms: i64) -> Result<RunRecord> {
        if new.pipeline.trim().is_empty() {
            return Err(StoreError::bad_request("pipeline", "name a pipeline"));
        }
        if !(1..=100).contains(&new.max_attempts) {
            return Err(StoreError::bad_request(
                "max_attempts",
                format!("{} is not in 1..=100", new.max_attempts),
            ));
        }
        let rows = self.query_rows(
            &format!("INSERT INTO runs (pipeline, params, submitted_by, submitted_at_ms, state, attempts, max_attempts) VALUES (?1, ?2, ?3, ?4, 'queued', 0, ?5) RETURNING {RUN_COLS}"),
            &format!("INSERT INTO runs (pipeline, params, submitted_by, submitted_at_ms, state, attempts, max_attempts) VALUES ($1, $2, $3, $4, 'queued', 0, $5) RETURNING {RUN_COLS}"),
            &[
                txt(&new.pipeline),
                json_text(&new.params, "params")?,
                txt(&new.submitted_by),
                Value::Int(now_ms),
                Value::Int(new.max_attempts),
            ],
        )?;
        runs_of(rows)?
            .pop()
            .ok_or_else(|| StoreError::BadInput("submitting a run returned no row".into()))
    }

    /// Claims the oldest queued run for `worker_id` with a lease of
    /// `lease_ms`: state running, attempts + 1, a new `run_attempts` row,
    /// all in one transaction. None when the queue is empty.
    pub fn claim_run(
        &mut self,
        worker_id: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Option<RunRecord>> {
        if worker_id.is_empty() {
            return Err(StoreError::bad_request("worker_id", "a worker needs an id"));
        }
        let lease = Value::Int(now_ms.saturating_add(lease_ms.max(0)));
        let mut tx = self.begin()?;
        let rows = tx.query(
            &format!("UPDATE runs SET state = 'running', worker_id = ?1, attempts = attempts + 1, lease_expires_ms = ?2, started_at_ms = ?3, progress = NULL, message = NULL WHERE run_id = (SELECT run_id FROM runs WHERE state = 'queued' ORDER BY run_id LIMIT 1) AND state = 'queued' RETURNING {RUN_COLS}"),
            &format!("UPDATE runs SET state = 'running', worker_id = $1, attempts = attempts + 1, lease_expires_ms = $2, started_at_ms = $3, progress = NULL, message = NULL WHERE run_id = (SELECT run_id FROM runs WHERE state = 'queued' ORDER BY run_id LIMIT 1 FOR UPDATE SKIP LOCKED) AND state = 'queued' RETURNING {RUN_COLS}"),
            &[txt(worker_id), lease, Value::Int(now_ms)],
        )?;
        let Some(run) = runs_of(rows)?.pop() else {
            return Ok(None);
        };
        tx.execute(
            "INSERT INTO run_attempts (run_id, attempt, worker_id, started_ms) VALUES (?1, ?2, ?3, ?4)",
            "INSERT INTO run_attempts (run_id, attempt, worker_id, started_ms) VALUES ($1, $2, $3, $4)",
            &[Value::Int(run.run_id), Value::Int(run.attempts), txt(worker_id), Value::Int(now_ms)],
        )?;
        tx.commit()?;
        Ok(Some(run))
    }

    /// Renews the lease of a running run (and records progress and a
    /// message when given), only while it still runs under this worker and
    /// attempt. False: the lease was lost (reaped, finished or cancelled);
    /// the worker must stop working on the run.
    #[allow(clippy::too_many_arguments)]
    pub fn heartbeat_run(
        &mut self,
        run_id: i64,
        worker_id: &str,
        attempt: i64,
        now_ms: i64,
        lease_ms: i64,
        progress: Option<f64>,
        message: Option<&str>,
    ) -> Result<bool> {
        let progress = progress
            .filter(|p| p.is_finite())
            .map(|p| p.clamp(0.0, 1.0));
        Ok(self.execute(
            "UPDATE runs SET lease_expires_ms = ?1, progress = COALESCE(?2, progress), message = COALESCE(?3, message) WHERE run_id = ?4 AND state = 'running' AND worker_id = ?5 AND attempts = ?6",
            "UPDATE runs SET lease_expires_ms = $1, progress = COALESCE($2, progress), message = COALESCE($3, message) WHERE run_id = $4 AND state = 'running' AND worker_id = $5 AND attempts = $6",
            &[
                Value::Int(now_ms.saturating_add(lease_ms.max(0))),
                progress.map_or(Value::Null, Value::Float),
                opt_str(message),
                Value::Int(run_id),
                txt(worker_id),
                Value::Int(attempt),
            ],
        )? == 1)
    }

    /// Ends a running run as succeeded or failed, fenced like
    /// [`Store::heartbeat_run`], and closes its attempt. False when the
    /// worker no longer holds the run (its result is discarded).
    #[allow(clippy::too_many_arguments)]
    pub fn finish_run(
        &mut self,
        run_id: i64,
        worker_id: &str,
        attempt: i64,
        succeeded: bool,
        exit_code: Option<i32>,
        message: Option<&str>,
        result: Option<serde_json::Value>,
        now_ms: i64,
    ) -> Result<bool> {
        let (state, outcome) = if succeeded {
            ("succeeded", "succeeded")
        } else {
            ("failed", "failed")
        };
        let result = match &result {
            Some(v) => json_text(v, "result")?,
            None => Value::Null,
        };
        let mut tx = self.begin()?;
        let n = tx.execute(
            "UPDATE runs SET state = ?1, finished_at_ms = ?2, exit_code = ?3, message = COALESCE(?4, message), result = ?5, lease_expires_ms = NULL, progress = CASE WHEN ?1 = 'succeeded' THEN 1.0 ELSE progress END WHERE run_id = ?6 AND state = 'running' AND worker_id = ?7 AND attempts = ?8",
            "UPDATE runs SET state = $1, finished_at_ms = $2, exit_code = $3, message = COALESCE($4, message), result = $5, lease_expires_ms = NULL, progress = CASE WHEN $1 = 'succeeded' THEN 1.0 ELSE progress END WHERE run_id = $6 AND state = 'running' AND worker_id = $7 AND attempts = $8",
            &[
                txt(state),
                Value::Int(now_ms),
                exit_code.map_or(Value::Null, |c| Value::Int(c.into())),
                opt_str(message),
                result,
                Value::Int(run_id),
                txt(worker_id),
                Value::Int(attempt),
            ],
        )?;
        if n != 1 {
            return Ok(false);
        }
        close_attempt(&mut tx, run_id, attempt, outcome, now_ms)?;
        tx.commit()?;
        Ok(true)
    }

    /// Takes back runs whose lease expired before `now_ms`: the attempt
    /// becomes `lost`; the run is queued again (worker cleared) while
    /// attempts < max_attempts, else failed with "worker <id> stopped
    /// heartbeating (attempt n of m)". Returns the runs changed, as they
    /// are now. Safe to call from many processes at once: on PostgreSQL
    /// rows another reaper (or a heartbeat) holds are skipped, not waited
    /// for, and each expired lease is reaped exactly once.
    pub fn reap_expired_runs(&mut self, now_ms: i64) -> Result<Vec<RunRecord>> {
        let msg = "'worker ' || COALESCE(worker_id, '?') || ' stopped heartbeating (attempt ' || attempts || ' of ' || max_attempts || ')'";
        let set = format!(
            "state = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END, \
             worker_id = CASE WHEN attempts < max_attempts THEN NULL ELSE worker_id END, \
             finished_at_ms = CASE WHEN attempts < max_attempts THEN NULL ELSE {{now}} END, \
             lease_expires_ms = NULL, \
             message = CASE WHEN attempts < max_attempts THEN {msg} || '; queued again' ELSE {msg} END"
        );
        let mut tx = self.begin()?;
        let rows = tx.query(
            &format!(
                "UPDATE runs SET {} WHERE state = 'running' AND lease_expires_ms < ?1 RETURNING {RUN_COLS}",
                set.replace("{now}", "?1")
            ),
            &format!(
                "UPDATE runs SET {} WHERE run_id IN (SELECT run_id FROM runs WHERE state = 'running' AND lease_expires_ms < $1 ORDER BY run_id FOR UPDATE SKIP LOCKED) AND state = 'running' AND lease_expires_ms < $1 RETURNING {RUN_COLS}",
                set.replace("{now}", "$1::bigint")
            ),
            &[Value::Int(now_ms)],
        )?;
        let runs = runs_of(rows)?;
        for r in &runs {
            close_attempt(&mut tx, r.run_id, r.attempts, "lost", now_ms)?;
        }
        tx.commit()?;
        for r in &runs {
            tracing::warn!(run_id = r.run_id, state = %r.state, message = r.message.as_deref().unwrap_or(""), "reaped a run whose worker stopped heartbeating");
        }
        Ok(runs)
    }

    /// Cancels a queued run; false when it is not queued (running runs are
    /// not interrupted here).
    pub fn cancel_run(&mut self, run_id: i64) -> Result<bool> {
        Ok(self.execute(
            "UPDATE runs SET state = 'cancelled', finished_at_ms = ?1, message = 'cancelled' WHERE run_id = ?2 AND state = 'queued'",
            "UPDATE runs SET state = 'cancelled', finished_at_ms = $1, message = 'cancelled' WHERE run_id = $2 AND state = 'queued'",
            &[Value::Int(now_ms_system()), Value::Int(run_id)],
        )? == 1)
    }

    /// One run.
    pub fn get_run(&mut self, run_id: i64) -> Result<Option<RunRecord>> {
        let rows = self.query_rows(
            &format!("SELECT {RUN_COLS} FROM runs WHERE run_id = ?1"),
            &format!("SELECT {RUN_COLS} FROM runs WHERE run_id = $1"),
            &[Value::Int(run_id)],
        )?;
        Ok(runs_of(rows)?.pop())
    }

    /// The runs a caller may see ([`RunRecord::visible_to`]) newest first,
    /// optionally of one state, with the total number visible.
    pub fn list_runs_visible(
        &mut self,
        state: Option<RunState>,
        username: &str,
        projects: &[String],
        is_admin: bool,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<RunRecord>, i64)> {
        if is_admin {
            return self.list_runs(state, None, limit, offset);
        }
        // Candidates are the caller's own runs and runs that read
        // restricted data; whether a project matches is decided here.
        let mut params = vec![txt(username)];
        let (mut ws, mut wp) = (
            "(submitted_by = ?1 OR restricted_projects IS NOT NULL)".to_string(),
            "(submitted_by = $1 OR restricted_projects IS NOT NULL)".to_string(),
        );
        if let Some(st) = state {
            params.push(txt(st.as_str()));
            ws.push_str(" AND state = ?2");
            wp.push_str(" AND state = $2");
        }
        let rows = self.query_rows(
            &format!("SELECT {RUN_COLS} FROM runs WHERE {ws} ORDER BY run_id DESC"),
            &format!("SELECT {RUN_COLS} FROM runs WHERE {wp} ORDER BY run_id DESC"),
            &params,
        )?;
        let visible: Vec<RunRecord> = runs_of(rows)?
            .into_iter()
            .filter(|r| r.visible_to(username, projects, false))
            .collect();
        let total = visible.len() as i64;
        Ok((
            visible
                .into_iter()
                .skip(offset.max(0) as usize)
                .take(limit.max(0) as usize)
                .collect(),
            total,
        ))
    }

    /// Runs newest first, optionally of one state and one submitter, with
    /// the total number matching (for pagination).
    pub fn list_runs(
        &mut self,
        state: Option<RunState>,
        submitted_by: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<RunRecord>, i64)> {
        let mut conds_s = Vec::new();
        let mut conds_p = Vec::new();
        let mut params = Vec::new();
        if let Some(st) = state {
            params.push(txt(st.as_str()));
            conds_s.push(format!("state = ?{}", params.len()));
            conds_p.push(format!("state = ${}", params.len()));
        }
        if let Some(who) = submitted_by {
            params.push(txt(who));
            conds_s.push(format!("submitted_by = ?{}", params.len()));
            conds_p.push(format!("submitted_by = ${}", params.len()));
        }
        let where_of = |c: &[String]| {
            if c.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", c.join(" AND "))
            }
        };
        let (ws, wp) = (where_of(&conds_s), where_of(&conds_p));
        let total = self
            .query_rows(
                &format!("SELECT COUNT(*) FROM runs {ws}"),
                &format!("SELECT COUNT(*) FROM runs {wp}"),
                &params,
            )?
            .first()
            .map_or(0, |r| int(&r[0]));
        let n = params.len();
        params.push(Value::Int(limit.max(0)));
        params.push(Value::Int(offset.max(0)));
        let rows = self.query_rows(
            &format!(
                "SELECT {RUN_COLS} FROM runs {ws} ORDER BY run_id DESC LIMIT ?{} OFFSET ?{}",
                n + 1,
                n + 2
            ),
            &format!(
                "SELECT {RUN_COLS} FROM runs {wp} ORDER BY run_id DESC LIMIT ${} OFFSET ${}",
                n + 1,
                n + 2
            ),
            &params,
        )?;
        Ok((runs_of(rows)?, total))
    }

    /// Appends lines to a run's log; sequence numbers continue from the
    /// highest stored (appends to one run are serialised).
    pub fn append_run_log(
        &mut self,
        run_id: i64,
        stream: &str,
        lines: &[String],
        now_ms: i64,
    ) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin()?;
        let found = tx.query(
            "SELECT run_id FROM runs WHERE run_id = ?1",
            "SELECT run_id FROM runs WHERE run_id = $1 FOR UPDATE",
            &[Value::Int(run_id)],
        )?;
        if found.is_empty() {
            return Err(StoreError::bad_request(
                "run_id",
                format!("no run {run_id}"),
            ));
        }
        let next = tx
            .query(
                "SELECT COALESCE(MAX(seq), 0) FROM run_logs WHERE run_id = ?1",
                "SELECT COALESCE(MAX(seq), 0)::bigint FROM run_logs WHERE run_id = $1",
                &[Value::Int(run_id)],
            )?
            .first()
            .map_or(0, |r| int(&r[0]));
        const CHUNK: usize = 100;
        for (c, chunk) in lines.chunks(CHUNK).enumerate() {
            let mut params = Vec::with_capacity(chunk.len() * 5);
            let mut tuples_s = Vec::with_capacity(chunk.len());
            let mut tuples_p = Vec::with_capacity(chunk.len());
            for (i, line) in chunk.iter().enumerate() {
                let b = params.len();
                params.extend([
                    Value::Int(run_id),
                    Value::Int(next + (c * CHUNK + i) as i64 + 1),
                    Value::Int(now_ms),
                    txt(stream),
                    txt(line),
                ]);
                tuples_s.push(format!(
                    "(?{}, ?{}, ?{}, ?{}, ?{})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5
                ));
                tuples_p.push(format!(
                    "(${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5
                ));
            }
            tx.execute(
                &format!(
                    "INSERT INTO run_logs (run_id, seq, at_ms, stream, line) VALUES {}",
                    tuples_s.join(", ")
                ),
                &format!(
                    "INSERT INTO run_logs (run_id, seq, at_ms, stream, line) VALUES {}",
                    tuples_p.join(", ")
                ),
                &params,
            )?;
        }
        tx.commit()
    }

    /// Log lines with `seq > after_seq`, oldest first, at most `limit`.
    pub fn run_logs(&mut self, run_id: i64, after_seq: i64, limit: i64) -> Result<Vec<RunLogLine>> {
        let rows = self.query_rows(
            "SELECT seq, at_ms, stream, line FROM run_logs WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            "SELECT seq, at_ms, stream, line FROM run_logs WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[Value::Int(run_id), Value::Int(after_seq), Value::Int(limit.max(0))],
        )?;
        Ok(rows
            .iter()
            .map(|r| RunLogLine {
                seq: int(&r[0]),
                at_ms: int(&r[1]),
                stream: text(&r[2]),
                line: text(&r[3]),
            })
            .collect())
    }

    /// Every attempt at a run, in order.
    pub fn run_attempts(&mut self, run_id: i64) -> Result<Vec<RunAttempt>> {
        let rows = self.query_rows(
            "SELECT run_id, attempt, worker_id, started_ms, finished_ms, outcome FROM run_attempts WHERE run_id = ?1 ORDER BY attempt",
            "SELECT run_id, attempt, worker_id, started_ms, finished_ms, outcome FROM run_attempts WHERE run_id = $1 ORDER BY attempt",
            &[Value::Int(run_id)],
        )?;
        Ok(rows
            .iter()
            .map(|r| RunAttempt {
                run_id: int(&r[0]),
                attempt: int(&r[1]),
                worker_id: text(&r[2]),
                started_ms: int(&r[3]),
                finished_ms: opt_int(&r[4]),
                outcome: opt_text(&r[5]),
            })
            .collect())
    }

    /// Runs by state and the age of the oldest queued one at `now_ms`.
    pub fn queue_stats(&mut self, now_ms: i64) -> Result<QueueStats> {
        let mut s = QueueStats::default();
        let rows = self.query_rows(
            "SELECT state, COUNT(*) FROM runs GROUP BY state",
            "SELECT state, COUNT(*) FROM runs GROUP BY state",
            &[],
        )?;
        for r in rows {
            let n = int(&r[1]);
            match RunState::from_str(&text(&r[0])) {
                Ok(RunState::Queued) => s.queued = n,
                Ok(RunState::Running) => s.running = n,
                Ok(RunState::Succeeded) => s.succeeded = n,
                Ok(RunState::Failed) => s.failed = n,
                Ok(RunState::Cancelled) => s.cancelled = n,
                Err(_) => {}
            }
        }
        let oldest = self.query_rows(
            "SELECT MIN(submitted_at_ms) FROM runs WHERE state = 'queued'",
            "SELECT MIN(submitted_at_ms) FROM runs WHERE state = 'queued'",
            &[],
        )?;
        s.oldest_queued_age_s = oldest
            .first()
            .and_then(|r| opt_int(&r[0]))
            .map(|t| (now_ms - t).max(0) as f64 / 1000.0);
        Ok(s)
    }
}
