//! The audit trail: every event goes to the store's append-only
//! `audit_log` table and, as one JSON line, to `HOME/audit/audit.jsonl`
//! (for Wazuh or Loki). The code has no path that edits or deletes either.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use astrolab_store::AuditEvent;
use serde_json::json;

use crate::pool::StorePool;

/// Where audit events go.
#[derive(Clone)]
pub struct AuditSink {
    path: PathBuf,
    file: Arc<Mutex<Option<std::fs::File>>>,
}

/// One event before it is written.
#[derive(Debug, Clone)]
pub struct Event {
    /// Who: a username, `token:PREFIX`, or `anonymous`.
    pub actor: String,
    /// Client address.
    pub source: String,
    /// What: `login`, `logout`, `token.use`, `dataset.read`, `run.submit`,
    /// `user.add`, ...
    pub action: &'static str,
    /// On what.
    pub target: String,
    /// `ok`, `denied`, `failed`.
    pub outcome: &'static str,
    /// Anything else worth keeping.
    pub details: serde_json::Value,
}

impl AuditSink {
    /// Audit lines go to `path` (created with its directory on first use).
    pub fn new(path: PathBuf) -> AuditSink {
        AuditSink {
            path,
            file: Arc::new(Mutex::new(None)),
        }
    }

    /// The JSON-lines file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn write_line(&self, line: &str) {
        let Ok(mut guard) = self.file.lock() else {
            return;
        };
        if guard.is_none() {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
            {
                Ok(f) => *guard = Some(f),
                Err(e) => {
                    tracing::error!(path = %self.path.display(), error = %e, "cannot open the audit file");
                    return;
                }
            }
        }
        if let Some(f) = guard.as_mut() {
            // One write call per line: O_APPEND keeps lines whole even with
            // several processes (server and CLI) appending.
            let mut buf = line.as_bytes().to_vec();
            buf.push(b'\n');
            if let Err(e) = f.write_all(&buf) {
                tracing::error!(path = %self.path.display(), error = %e, "writing the audit file");
            }
        }
    }

    /// Records an event in the file and the store (synchronously; call
    /// from blocking code). A store failure is logged, never silent.
    pub fn record_blocking(&self, store: &mut astrolab_store::Store, e: Event) {
        let at = crate::clock::now_rfc3339();
        let line = json!({
            "time": at, "actor": e.actor, "source": e.source, "action": e.action,
            "target": e.target, "outcome": e.outcome, "details": e.details,
        });
        self.write_line(&line.to_string());
        let row = AuditEvent {
            at,
            actor: e.actor,
            source: e.source,
            action: e.action.to_string(),
            target: e.target,
            outcome: e.outcome.to_string(),
            details: e.details,
        };
        if let Err(err) = store.append_audit(&row) {
            tracing::error!(error = %err, action = row.action, "audit event not stored in the database");
        }
    }

    /// Records an event done by an authenticated (or anonymous) caller.
    pub async fn record_by(
        &self,
        pool: &StorePool,
        p: &crate::auth::Principal,
        action: &'static str,
        target: impl Into<String>,
        outcome: &'static str,
        details: serde_json::Value,
    ) {
        let e = Event {
            actor: p.actor(),
            source: p.source.clone(),
            action,
            target: target.into(),
            outcome,
            details,
        };
        self.record(pool, e).await;
    }

    /// Records an event from async code.
    pub async fn record(&self, pool: &StorePool, e: Event) {
        let sink = self.clone();
        let _ = pool
            .run(move |store| {
                sink.record_blocking(store, e);
                Ok(())
            })
            .await;
    }
}

/// Records a caller's read of rows from restricted datasets (`dataset.read`,
/// naming the datasets, comma-separated, with the route or page); nothing
/// when `datasets` is empty. Every route that may return restricted rows
/// calls it, so the trail says who read what whichever way they read it.
pub async fn restricted_read(
    s: &crate::state::AppState,
    p: &crate::auth::Principal,
    route: &str,
    datasets: Vec<String>,
) {
    if datasets.is_empty() {
        return;
    }
    s.audit
        .record_by(
            &s.pool,
            p,
            "dataset.read",
            datasets.join(","),
            "ok",
            json!({ "route": route }),
        )
        .await;
}
