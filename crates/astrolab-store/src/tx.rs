//! A transaction over either backend, with the same two-spelling
//! `execute`/`query` as [`Store`], for the small multi-statement updates of
//! accounts, datasets and the run queue.
//!
//! SQLite transactions start with `BEGIN IMMEDIATE`: the write lock is
//! taken up front (waiting up to the store's busy_timeout), so two
//! processes never both read and then fail to upgrade to a write.
//! PostgreSQL transactions run at READ COMMITTED; the statements that need
//! row locks say so (`FOR UPDATE`, `SKIP LOCKED`).

use std::path::Path;

use crate::error::{Result, StoreError};
use crate::store::{Conn, Store};
use crate::value::Value;

pub(crate) enum Tx<'a> {
    Sqlite {
        tx: rusqlite::Transaction<'a>,
        path: &'a Path,
    },
    Postgres(postgres::Transaction<'a>),
}

impl Store {
    /// Starts a write transaction.
    pub(crate) fn begin(&mut self) -> Result<Tx<'_>> {
        match &mut self.conn {
            Conn::Sqlite { conn, path } => {
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(StoreError::sqlite(path))?;
                Ok(Tx::Sqlite { tx, path })
            }
            Conn::Postgres(c) => Ok(Tx::Postgres(c.transaction()?)),
        }
    }
}

impl Tx<'_> {
    /// Runs a statement (`?n` placeholders for SQLite, `$n` for PostgreSQL).
    pub(crate) fn execute(
        &mut self,
        sqlite: &str,
        postgres: &str,
        params: &[Value],
    ) -> Result<u64> {
        match self {
            Tx::Sqlite { tx, path } => crate::store::sqlite_execute(tx, path, sqlite, params),
            Tx::Postgres(tx) => crate::store::pg_execute(tx, postgres, params),
        }
    }

    /// Runs a query (or a statement with RETURNING) and returns its rows.
    pub(crate) fn query(
        &mut self,
        sqlite: &str,
        postgres: &str,
        params: &[Value],
    ) -> Result<Vec<Vec<Value>>> {
        match self {
            Tx::Sqlite { tx, path } => crate::store::sqlite_rows(tx, path, sqlite, params),
            Tx::Postgres(tx) => crate::store::pg_rows(tx, postgres, params),
        }
    }

    /// Commits; dropping a `Tx` without committing rolls it back.
    pub(crate) fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite { tx, path } => tx.commit().map_err(StoreError::sqlite(path)),
            Tx::Postgres(tx) => Ok(tx.commit()?),
        }
    }
}

/// True when the error is a UNIQUE (or PRIMARY KEY) constraint violation.
pub(crate) fn is_unique_violation(e: &StoreError) -> bool {
    match e {
        StoreError::Sqlite {
            source: rusqlite::Error::SqliteFailure(f, _),
            ..
        } => {
            f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        }
        StoreError::Postgres(p) => p.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
        _ => false,
    }
}

/// Helpers to read typed cells from [`Value`] rows.
pub(crate) fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

pub(crate) fn opt_int(v: &Value) -> Option<i64> {
    match v {
        Value::Null => None,
        other => other.as_i64(),
    }
}

pub(crate) fn opt_float(v: &Value) -> Option<f64> {
    match v {
        Value::Null => None,
        other => other.as_f64(),
    }
}

pub(crate) fn text(v: &Value) -> String {
    v.to_string()
}

pub(crate) fn opt_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

pub(crate) fn boolean(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        other => other.as_i64().unwrap_or(0) != 0,
    }
}

pub(crate) fn opt_str(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::Text(s.to_string()))
}

pub(crate) fn txt(s: &str) -> Value {
    Value::Text(s.to_string())
}
