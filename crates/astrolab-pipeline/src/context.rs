//! What a pipeline run is given besides its parameters: where the store
//! and the data home are, how many threads it may use, whom it acts for,
//! where its typed events go, and a cancellation flag.
//!
//! Pipelines never print: every line a user should see is an
//! [`Event::Log`], every count of work done an [`Event::Progress`], and the
//! answer an [`Event::Result`]. The CLI's sink prints log lines on stdout
//! (so a terminal reads as before) and draws progress bars; `astrolab run
//! --events json` writes each event as one JSON line, which the
//! subprocess executor (and so the server's worker) reads back typed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::PipelineError;

/// How important a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// What the user asked for: a summary line, a table row, a path written.
    Info,
    /// Something the user should know about (a fallback taken, data dropped).
    Warn,
    /// Diagnostics (a child process's stderr: its tracing log), kept in a
    /// run's log but not part of what the pipeline says.
    Detail,
}

/// One typed event of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    /// `done` of `total` units of `stage` are finished (`total` 0: unknown).
    Progress {
        /// What is being counted ("recordings", "rows", "shards").
        stage: String,
        /// Finished so far.
        done: u64,
        /// All there are, or 0 when not known in advance.
        total: u64,
    },
    /// A line for the user.
    Log {
        /// Importance.
        level: Level,
        /// The line, without a trailing newline.
        message: String,
    },
    /// The run's typed result (its `Output` as JSON); the last event of a
    /// successful run.
    Result {
        /// The pipeline's output.
        value: Value,
    },
}

impl Event {
    /// The fraction of work done, when the event says.
    pub fn fraction(&self) -> Option<f64> {
        match self {
            Event::Progress { done, total, .. } if *total > 0 => {
                Some((*done as f64 / *total as f64).clamp(0.0, 1.0))
            }
            _ => None,
        }
    }
}

/// Where a run's events go. Implementations must be cheap: pipelines call
/// them from worker threads.
pub trait EventSink: Send + Sync {
    /// Receives one event.
    fn emit(&self, event: Event);
}

/// A sink that keeps every event (tests, the in-process executor's record).
#[derive(Debug, Default)]
pub struct Collect(pub Mutex<Vec<Event>>);

impl Collect {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
    /// The log lines so far, joined by newlines.
    pub fn text(&self) -> String {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Log { message, .. } => Some(message),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl EventSink for Collect {
    fn emit(&self, event: Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(event);
        }
    }
}

/// A sink that drops everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Discard;

impl EventSink for Discard {
    fn emit(&self, _: Event) {}
}

/// A shared flag a run checks between units of work; set it to stop the
/// run at the next check (the run then fails with
/// [`PipelineError::Cancelled`] and writes no further outputs).
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }
    /// Asks the run to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether stopping was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Everything a run needs besides its parameters.
#[derive(Clone)]
pub struct Ctx {
    /// The store to read and write (data home and database).
    pub store: astrolab_store::StoreConfig,
    /// Worker threads for shards and for the science's own parallel loops;
    /// `None`: every core. Outputs never depend on it.
    pub threads: Option<usize>,
    /// A queued run this process executes: the store then reads with the
    /// submitter's rights (`astrolab_store::acting`).
    pub acting_for_run: Option<i64>,
    /// Where events go.
    pub events: Arc<dyn EventSink>,
    /// Checked between units of work.
    pub cancel: CancelToken,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("store", &self.store.describe())
            .field("threads", &self.threads)
            .field("acting_for_run", &self.acting_for_run)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    /// A context on `store` whose events go to `events`.
    pub fn new(store: astrolab_store::StoreConfig, events: Arc<dyn EventSink>) -> Ctx {
        Ctx {
            store,
            threads: None,
            acting_for_run: None,
            events,
            cancel: CancelToken::new(),
        }
    }
    /// The data home.
    pub fn home(&self) -> PathBuf {
        self.store.home.clone()
    }
    /// A line for the user.
    pub fn info(&self, message: impl Into<String>) {
        self.events.emit(Event::Log {
            level: Level::Info,
            message: message.into(),
        });
    }
    /// A warning for the user.
    pub fn warn(&self, message: impl Into<String>) {
        self.events.emit(Event::Log {
            level: Level::Warn,
            message: message.into(),
        });
    }
    /// `done` of `total` units of `stage` finished.
    pub fn progress(&self, stage: &str, done: u64, total: u64) {
        self.events.emit(Event::Progress {
            stage: stage.to_string(),
            done,
            total,
        });
    }
    /// Fails with [`PipelineError::Cancelled`] once cancellation was asked.
    pub fn check_cancelled(&self) -> Result<(), PipelineError> {
        if self.cancel.is_cancelled() {
            Err(PipelineError::Cancelled)
        } else {
            Ok(())
        }
    }
    /// Opens the store (migrating on first use), acting for the submitter
    /// of the queued run when there is one.
    pub fn open_store(&self) -> Result<astrolab_store::Store, PipelineError> {
        let mut store = astrolab_store::Store::open(&self.store).map_err(|e| {
            PipelineError::Store(
                format!("opening the store at {}", self.store.describe()),
                Box::new(e),
            )
        })?;
        if let Some(run) = self.acting_for_run {
            store.act_for_run(run).map_err(|e| {
                PipelineError::Store(
                    format!("acting for the submitter of run {run}"),
                    Box::new(e),
                )
            })?;
        }
        Ok(store)
    }
    /// Runs `f` on a rayon pool of [`Ctx::threads`] threads (the global
    /// pool when unset), so the science's parallel loops honour the
    /// thread count.
    pub fn with_threads<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, PipelineError> {
        match self.threads {
            None => Ok(f()),
            Some(n) => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(n.max(1))
                    .build()
                    .map_err(|e| PipelineError::Failed(anyhow::anyhow!("thread pool: {e}")))?;
                Ok(pool.install(f))
            }
        }
    }
}
