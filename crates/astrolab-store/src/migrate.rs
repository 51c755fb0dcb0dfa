//! Versioned schema migrations, embedded in the binary.
//!
//! Each migration is applied once, in its own transaction, and recorded in
//! `schema_migrations` with the SHA-256 of its SQL, so an edited migration
//! is detected instead of silently diverging. Migration 2 (q3c indexes) only
//! applies on PostgreSQL servers that have the q3c extension; elsewhere it
//! stays pending and the HEALPix index serves spatial queries.

use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};
use crate::store::{Conn, Store};
use crate::value::Value;

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: Option<&'static str>,
    postgres: Option<&'static str>,
    needs_q3c: bool,
}

static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "catalogs and raw-file registry",
        sqlite: Some(include_str!("../migrations/sqlite/0001_catalogs.sql")),
        postgres: Some(include_str!("../migrations/postgres/0001_catalogs.sql")),
        needs_q3c: false,
    },
    Migration {
        version: 2,
        name: "q3c spatial indexes",
        sqlite: None,
        postgres: Some(include_str!("../migrations/postgres/0002_q3c.sql")),
        needs_q3c: true,
    },
    Migration {
        version: 3,
        name: "spectral store index",
        sqlite: Some(include_str!("../migrations/sqlite/0003_spectra_index.sql")),
        postgres: Some(include_str!(
            "../migrations/postgres/0003_spectra_index.sql"
        )),
        needs_q3c: false,
    },
    Migration {
        version: 4,
        name: "galaxy void membership",
        sqlite: Some(include_str!(
            "../migrations/sqlite/0004_void_membership.sql"
        )),
        postgres: Some(include_str!(
            "../migrations/postgres/0004_void_membership.sql"
        )),
        needs_q3c: false,
    },
    Migration {
        version: 5,
        name: "hydrogen-line integrated spectra",
        sqlite: Some(include_str!("../migrations/sqlite/0005_hline_spectra.sql")),
        postgres: Some(include_str!(
            "../migrations/postgres/0005_hline_spectra.sql"
        )),
        needs_q3c: false,
    },
    Migration {
        version: 6,
        name: "accounts, audit log, datasets and run queue",
        sqlite: Some(include_str!(
            "../migrations/sqlite/0006_accounts_audit_runs.sql"
        )),
        postgres: Some(include_str!(
            "../migrations/postgres/0006_accounts_audit_runs.sql"
        )),
        needs_q3c: false,
    },
    Migration {
        version: 7,
        name: "galaxy sources of void membership",
        sqlite: Some(include_str!(
            "../migrations/sqlite/0007_void_membership_sources.sql"
        )),
        postgres: Some(include_str!(
            "../migrations/postgres/0007_void_membership_sources.sql"
        )),
        needs_q3c: false,
    },
    Migration {
        version: 8,
        name: "run restrictions and outputs (provenance of derived data)",
        sqlite: Some(include_str!("../migrations/sqlite/0008_run_provenance.sql")),
        postgres: Some(include_str!(
            "../migrations/postgres/0008_run_provenance.sql"
        )),
        needs_q3c: false,
    },
    Migration {
        version: 9,
        name: "anomalous quasars: model registry, scores, skips, labels",
        sqlite: Some(include_str!(
            "../migrations/sqlite/0009_quasar_anomalies.sql"
        )),
        postgres: Some(include_str!(
            "../migrations/postgres/0009_quasar_anomalies.sql"
        )),
        needs_q3c: false,
    },
    Migration {
        version: 10,
        name: "anomaly models: a generation counter of their scores",
        sqlite: Some(include_str!(
            "../migrations/sqlite/0010_anomaly_score_generation.sql"
        )),
        postgres: Some(include_str!(
            "../migrations/postgres/0010_anomaly_score_generation.sql"
        )),
        needs_q3c: false,
    },
    Migration {
        version: 11,
        name: "quasar BAL measurements (DESI BAL catalog rows)",
        sqlite: Some(include_str!("../migrations/sqlite/0011_quasar_bal.sql")),
        postgres: Some(include_str!("../migrations/postgres/0011_quasar_bal.sql")),
        needs_q3c: false,
    },
    Migration {
        version: 12,
        name: "quasar spectral fits (qso fit) and their fit settings",
        sqlite: Some(include_str!("../migrations/sqlite/0012_quasar_fits.sql")),
        postgres: Some(include_str!("../migrations/postgres/0012_quasar_fits.sql")),
        needs_q3c: false,
    },
    Migration {
        version: 13,
        name: "void membership partitioned by catalog (PostgreSQL: parallel writers)",
        sqlite: None,
        postgres: Some(include_str!(
            "../migrations/postgres/0013_void_membership_partitions.sql"
        )),
        needs_q3c: false,
    },
];

/// State of one migration in a database.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationStatus {
    /// Version number.
    pub version: i64,
    /// What it does.
    pub name: &'static str,
    /// `applied`, `pending` or `not applicable`.
    pub state: String,
    /// When it was applied (UTC, RFC 3339).
    pub applied_at: Option<String>,
    /// Why it is pending or not applicable.
    pub note: Option<String>,
    /// True for a migration the store works without (q3c's indexes: the
    /// HEALPix index answers the same queries), so a server whose database
    /// lacks the extension, or may not create it, is still ready.
    pub optional: bool,
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL, applied_at TEXT NOT NULL)";

fn sql_for(store: &Store, m: &Migration) -> Option<&'static str> {
    match store.conn {
        Conn::Sqlite { .. } => m.sqlite,
        Conn::Postgres(_) => m.postgres,
    }
}

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

fn applied(store: &mut Store) -> Result<Vec<(i64, String, String)>> {
    store.execute(CREATE_TABLE, CREATE_TABLE, &[])?;
    let rows = store.query_rows(
        "SELECT version, sha256, applied_at FROM schema_migrations ORDER BY version",
        "SELECT version, sha256, applied_at FROM schema_migrations ORDER BY version",
        &[],
    )?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r[0].as_i64().unwrap_or(-1),
                r[1].to_string(),
                r[2].to_string(),
            )
        })
        .collect())
}

fn q3c_available(store: &mut Store) -> Result<bool> {
    match &mut store.conn {
        Conn::Sqlite { .. } => Ok(false),
        Conn::Postgres(c) => Ok(c
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'q3c')",
                &[],
            )?
            .get(0)),
    }
}

/// Applies every pending migration that applies to this database; returns
/// the versions applied.
pub fn apply_pending(store: &mut Store) -> Result<Vec<i64>> {
    apply_until(store, i64::MAX)
}

/// Applies the pending migrations up to version `last` (tests build a
/// database of an older schema with it, to check a migration of its data).
pub fn apply_until(store: &mut Store, last: i64) -> Result<Vec<i64>> {
    let done = applied(store)?;
    let newest_known = MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some((v, _, _)) = done.iter().find(|(v, _, _)| *v > newest_known) {
        return Err(StoreError::Migration(format!(
            "the database has schema version {v}, newer than this astrolab knows ({newest_known}); upgrade astrolab"
        )));
    }
    let mut newly = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version <= last) {
        let Some(sql) = sql_for(store, m) else {
            continue;
        };
        if let Some((_, sum, _)) = done.iter().find(|(v, _, _)| *v == m.version) {
            if *sum != checksum(sql) {
                return Err(StoreError::Migration(format!(
                    "migration {} ({}) was applied with different SQL than this astrolab embeds; the schema was changed by hand or by another version",
                    m.version, m.name
                )));
            }
            continue;
        }
        if m.needs_q3c && !q3c_available(store)? {
            tracing::info!(
                migration = m.version,
                "q3c extension not installed on the server; spatial queries use the HEALPix index"
            );
            continue;
        }
        apply_one(store, m, sql)?;
        newly.push(m.version);
    }
    Ok(newly)
}

fn apply_one(store: &mut Store, m: &Migration, sql: &str) -> Result<()> {
    let now = crate::registry::now_rfc3339();
    let sum = checksum(sql);
    match &mut store.conn {
        Conn::Sqlite { conn, path } => {
            let tx = conn.transaction().map_err(StoreError::sqlite(path))?;
            tx.execute_batch(sql).map_err(StoreError::sqlite(path))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, sha256, applied_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![m.version, m.name, sum, now],
            )
            .map_err(StoreError::sqlite(path))?;
            tx.commit().map_err(StoreError::sqlite(path))?;
        }
        Conn::Postgres(c) => {
            let mut tx = c.transaction()?;
            if let Err(e) = tx.batch_execute(sql) {
                if m.needs_q3c {
                    // Not being allowed to create the extension is not fatal:
                    // the HEALPix index still answers every query.
                    tracing::warn!(migration = m.version, error = %e, "could not apply q3c migration; using the HEALPix index");
                    return Ok(());
                }
                return Err(e.into());
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, name, sha256, applied_at) VALUES ($1, $2, $3, $4)",
                &[&m.version, &m.name, &sum, &now],
            )?;
            tx.commit()?;
        }
    }
    tracing::info!(migration = m.version, name = m.name, "applied migration");
    Ok(())
}

/// Reports every migration's state without changing anything.
pub fn status(store: &mut Store) -> Result<Vec<MigrationStatus>> {
    let done = applied(store)?;
    let q3c = q3c_available(store)?;
    let mut out = Vec::new();
    for m in MIGRATIONS {
        let found = done.iter().find(|(v, _, _)| *v == m.version);
        let (state, note) = match (found, sql_for(store, m)) {
            (Some(_), _) => ("applied", None),
            (None, None) => (
                "not applicable",
                Some(format!("only for {}", if m.sqlite.is_some() { "SQLite" } else { "PostgreSQL" })),
            ),
            (None, Some(_)) if m.needs_q3c && !q3c => (
                "pending",
                Some("the q3c extension is not installed on the server (apt-get install postgresql-15-q3c)".to_string()),
            ),
            (None, Some(_)) => ("pending", None),
        };
        out.push(MigrationStatus {
            version: m.version,
            name: m.name,
            state: state.to_string(),
            applied_at: found.map(|(_, _, at)| at.clone()),
            note,
            optional: m.needs_q3c,
        });
    }
    Ok(out)
}

/// One column of the schema as the database reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaColumn {
    /// Table name.
    pub table: String,
    /// Column name.
    pub column: String,
    /// Declared type (SQLite's words, PostgreSQL's `data_type`).
    pub ty: String,
    /// Part of the primary key.
    pub key: bool,
}

/// Every column of every table of the store's schema: tables in creation
/// order on SQLite (by name on PostgreSQL), columns in table order. The
/// guide's data-model page is made from this and the dictionary
/// (`crate::DICTIONARY`).
pub fn schema_columns(store: &mut Store) -> Result<Vec<SchemaColumn>> {
    let sqlite = "SELECT m.name, p.name, p.type, p.pk > 0 FROM sqlite_master m, pragma_table_info(m.name) p \
                  WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY m.rowid, p.cid";
    let postgres = "SELECT c.table_name::text, c.column_name::text, c.data_type::text, \
                    EXISTS (SELECT 1 FROM information_schema.key_column_usage k \
                            JOIN information_schema.table_constraints t ON t.constraint_name = k.constraint_name \
                            AND t.table_schema = k.table_schema AND t.constraint_type = 'PRIMARY KEY' \
                            WHERE k.table_schema = c.table_schema AND k.table_name = c.table_name AND k.column_name = c.column_name) \
                    FROM information_schema.columns c JOIN information_schema.tables tb \
                    ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name AND tb.table_type = 'BASE TABLE' \
                    WHERE c.table_schema = current_schema() ORDER BY c.table_name, c.ordinal_position";
    let rows = store.query_rows(sqlite, postgres, &[])?;
    Ok(rows
        .into_iter()
        .map(|r| SchemaColumn {
            table: r[0].to_string(),
            column: r[1].to_string(),
            ty: r[2].to_string(),
            key: matches!(r[3], Value::Bool(true) | Value::Int(1)),
        })
        .collect())
}
