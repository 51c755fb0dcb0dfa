//! The audit log (migration 6): append-only. There is no update or delete
//! method here, and the database refuses both: on PostgreSQL a trigger
//! raises `audit_log is append-only` on UPDATE, DELETE and TRUNCATE, on
//! SQLite BEFORE UPDATE/DELETE triggers abort. The server also writes each
//! event as a JSON line to a file (for Wazuh or Loki).

use crate::error::{Result, StoreError};
use crate::registry::now_rfc3339;
use crate::store::Store;
use crate::tx::{int, text, txt};
use crate::value::Value;

/// One event to record.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditEvent {
    /// When (UTC, RFC 3339).
    pub at: String,
    /// Who: a username, `token:<prefix>`, or `anonymous`.
    pub actor: String,
    /// Client address.
    pub source: String,
    /// What: `login`, `token.use`, `dataset.read`, `run.submit`, `user.add` ...
    pub action: String,
    /// On what (user, dataset, run id ...).
    pub target: String,
    /// `success`, `failure`, `denied` ...
    pub outcome: String,
    /// Anything else, as JSON.
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// An event stamped now, with empty details.
    pub fn new(
        actor: impl Into<String>,
        source: impl Into<String>,
        action: impl Into<String>,
        target: impl Into<String>,
        outcome: impl Into<String>,
    ) -> AuditEvent {
        AuditEvent {
            at: now_rfc3339(),
            actor: actor.into(),
            source: source.into(),
            action: action.into(),
            target: target.into(),
            outcome: outcome.into(),
            details: serde_json::Value::Object(Default::default()),
        }
    }
}

/// A recorded event with its id.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditRecord {
    /// Increasing id.
    pub event_id: i64,
    /// The event.
    #[serde(flatten)]
    pub event: AuditEvent,
}

impl Store {
    /// Appends an event; returns its id.
    pub fn append_audit(&mut self, e: &AuditEvent) -> Result<i64> {
        let details = serde_json::to_string(&e.details)
            .map_err(|err| StoreError::BadInput(format!("audit details: {err}")))?;
        let rows = self.query_rows(
            "INSERT INTO audit_log (at, actor, source, action, target, outcome, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING event_id",
            "INSERT INTO audit_log (at, actor, source, action, target, outcome, details) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING event_id",
            &[
                txt(&e.at),
                txt(&e.actor),
                txt(&e.source),
                txt(&e.action),
                txt(&e.target),
                txt(&e.outcome),
                Value::Text(details),
            ],
        )?;
        Ok(rows.first().map_or(0, |r| int(&r[0])))
    }

    /// The newest events first: at most `limit`, with ids below
    /// `before_id` when given (for paging back).
    pub fn list_audit(&mut self, limit: i64, before_id: Option<i64>) -> Result<Vec<AuditRecord>> {
        let cols = "event_id, at, actor, source, action, target, outcome, details";
        let rows = self.query_rows(
            &format!(
                "SELECT {cols} FROM audit_log WHERE event_id < ?1 ORDER BY event_id DESC LIMIT ?2"
            ),
            &format!(
                "SELECT {cols} FROM audit_log WHERE event_id < $1 ORDER BY event_id DESC LIMIT $2"
            ),
            &[
                Value::Int(before_id.unwrap_or(i64::MAX)),
                Value::Int(limit.max(0)),
            ],
        )?;
        Ok(rows
            .iter()
            .map(|r| AuditRecord {
                event_id: int(&r[0]),
                event: AuditEvent {
                    at: text(&r[1]),
                    actor: text(&r[2]),
                    source: text(&r[3]),
                    action: text(&r[4]),
                    target: text(&r[5]),
                    outcome: text(&r[6]),
                    details: serde_json::from_str(&text(&r[7]))
                        .unwrap_or_else(|_| serde_json::Value::String(text(&r[7]))),
                },
            })
            .collect())
    }
}
