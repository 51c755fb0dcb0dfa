//! Every table's row count and content hash in a PostgreSQL database, and
//! the consistent point a backup's manifest is taken at.
//!
//! Rows are read with `COPY (SELECT * ... ORDER BY key) TO STDOUT` (text
//! format: every value written exactly, floats in their shortest exact
//! form) in primary-key order, or in physical order (`ctid`) for a table
//! without one; a physical restore keeps both, so a restored table hashes
//! alike exactly when it holds the same values in the same rows.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::manifest::TableDigest;

/// `name` as an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The user tables holding rows (plain tables and partitions, not
/// partitioned parents), as (schema, name), in name order.
fn tables(c: &mut impl postgres::GenericClient) -> Result<Vec<(String, String)>> {
    Ok(c.query(
        "SELECT n.nspname::text, r.relname::text FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace
         WHERE r.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
         ORDER BY 1, 2",
        &[],
    )?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

/// The digests of every user table, read in `c`'s current transaction.
pub fn pg_digests(c: &mut impl postgres::GenericClient) -> Result<BTreeMap<String, TableDigest>> {
    let mut out = BTreeMap::new();
    for (schema, name) in tables(c)? {
        let q = format!("{}.{}", ident(&schema), ident(&name));
        let pk: Vec<String> = c
            .query(
                "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                 WHERE i.indrelid = $1::text::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)",
                &[&q],
            )?
            .iter()
            .map(|r| ident(&r.get::<_, String>(0)))
            .collect();
        let order = if pk.is_empty() {
            "ctid".to_string()
        } else {
            pk.join(", ")
        };
        let mut reader = c
            .copy_out(&format!(
                "COPY (SELECT * FROM {q} ORDER BY {order}) TO STDOUT"
            ))
            .with_context(|| format!("reading table {schema}.{name}"))?;
        let mut h = Sha256::new();
        let mut rows = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader
                .read(&mut buf)
                .with_context(|| format!("reading table {schema}.{name}"))?;
            if n == 0 {
                break;
            }
            rows += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            h.update(&buf[..n]);
        }
        drop(reader);
        out.insert(
            format!("{schema}.{name}"),
            TableDigest {
                rows,
                sha256: hex::encode(h.finalize()),
            },
        );
    }
    Ok(out)
}

/// The highest migration applied to the store (0 without the table).
pub fn schema_version(c: &mut impl postgres::GenericClient) -> Result<i64> {
    let has: bool = c
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])?
        .get(0);
    if !has {
        return Ok(0);
    }
    Ok(c.query_one(
        "SELECT COALESCE(MAX(version), 0)::bigint FROM schema_migrations",
        &[],
    )?
    .get(0))
}

/// What a consistent point recorded.
#[derive(Debug, Clone)]
pub struct Point {
    /// When (the server's clock, RFC 3339 UTC).
    pub created: String,
    /// The restore point's position in the WAL.
    pub lsn: String,
    /// Every table, as of the restore point.
    pub tables: BTreeMap<String, TableDigest>,
    /// The store's schema version.
    pub schema_version: i64,
}

/// Writes the restore point `name` into the WAL of the database at `url`
/// and hashes every table exactly as of that point.
///
/// Writers are held off only for an instant: one transaction locks every
/// table (SHARE: reads go on, writes wait), creates the restore point and
/// exports its snapshot; a second transaction adopts that snapshot; the
/// first commits and writers resume while the second hashes. Since no
/// write to a table can commit between the snapshot and the restore point,
/// recovery to the restore point gives exactly the snapshot's rows.
pub fn consistent_point(url: &str, name: &str) -> Result<Point> {
    let mut a = super::ops::connect(url)?;
    let mut b = super::ops::connect(url)?;
    let mut ta = a
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .start()?;
    let all: Vec<String> = ta
        .query(
            "SELECT format('%I.%I', n.nspname, r.relname) FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace
             WHERE r.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !all.is_empty() {
        // LOCK takes no snapshot: the snapshot is the next query's.
        ta.batch_execute(&format!("LOCK TABLE {} IN SHARE MODE", all.join(", ")))
            .context("locking the store's tables for the backup's consistent point")?;
    }
    let r = ta
        .query_one(
            "SELECT pg_create_restore_point($1)::text, pg_export_snapshot(),
                    to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            &[&name],
        )
        .context("creating the backup's restore point (needs a superuser, or EXECUTE on pg_create_restore_point)")?;
    let (lsn, snapshot, created): (String, String, String) = (r.get(0), r.get(1), r.get(2));
    let mut tb = b
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    if snapshot.contains('\'') {
        bail!("unexpected snapshot id {snapshot:?}");
    }
    tb.batch_execute(&format!("SET TRANSACTION SNAPSHOT '{snapshot}'"))?;
    ta.commit()?;
    let tables = pg_digests(&mut tb)?;
    let schema_version = schema_version(&mut tb)?;
    tb.commit()?;
    Ok(Point {
        created,
        lsn,
        tables,
        schema_version,
    })
}
