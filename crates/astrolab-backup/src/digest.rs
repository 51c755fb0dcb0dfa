//! Every table's row count and content hash, the manifest's check that a
//! restored database holds what was backed up.
//!
//! SQLite: rows in rowid order (primary-key order for WITHOUT ROWID
//! tables), each value written with its storage class, so two databases
//! hash alike exactly when every table holds the same values in the same
//! rows. A physical copy (the online backup) keeps rowids, so the order is
//! the same on both sides.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};

use crate::manifest::TableDigest;

/// `name` as an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Feeds one value to the hash: a storage-class tag, then its bytes.
fn feed(h: &mut Sha256, v: ValueRef<'_>) {
    match v {
        ValueRef::Null => h.update([0u8]),
        ValueRef::Integer(i) => {
            h.update([1u8]);
            h.update(i.to_le_bytes());
        }
        ValueRef::Real(f) => {
            h.update([2u8]);
            h.update(f.to_bits().to_le_bytes());
        }
        ValueRef::Text(t) => {
            h.update([3u8]);
            h.update((t.len() as u64).to_le_bytes());
            h.update(t);
        }
        ValueRef::Blob(b) => {
            h.update([4u8]);
            h.update((b.len() as u64).to_le_bytes());
            h.update(b);
        }
    }
}

/// The digests of every table of the SQLite database at `path` (opened
/// read-only; SQLite's own tables left out).
pub fn sqlite_digests(path: &Path) -> Result<BTreeMap<String, TableDigest>> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", path.display()))?;
    let tables: Vec<(String, bool)> = {
        let mut st = conn.prepare(
            "SELECT name, sql LIKE '%WITHOUT ROWID%' FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()
            .with_context(|| format!("{}: listing the tables", path.display()))?
    };
    let mut out = BTreeMap::new();
    for (t, without_rowid) in tables {
        let order = if without_rowid {
            // The primary key's columns, in key order.
            let mut st = conn.prepare(&format!(
                "SELECT name FROM pragma_table_info({}) WHERE pk > 0 ORDER BY pk",
                sql_text(&t)
            ))?;
            let cols: Vec<String> = st
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<_>>()?;
            cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
        } else {
            "rowid".to_string()
        };
        let mut st = conn.prepare(&format!("SELECT * FROM {} ORDER BY {order}", ident(&t)))?;
        let n = st.column_count();
        let mut h = Sha256::new();
        let mut rows = 0u64;
        let mut q = st.query([])?;
        while let Some(r) = q
            .next()
            .with_context(|| format!("{}: reading table {t}", path.display()))?
        {
            for i in 0..n {
                feed(&mut h, r.get_ref(i)?);
            }
            rows += 1;
        }
        out.insert(
            t,
            TableDigest {
                rows,
                sha256: hex::encode(h.finalize()),
            },
        );
    }
    Ok(out)
}

/// `s` as an SQL string literal.
fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The tables whose digests differ between `want` (the manifest) and
/// `got` (a restored copy), each with what differs, in name order.
pub fn differences(
    want: &BTreeMap<String, TableDigest>,
    got: &BTreeMap<String, TableDigest>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (t, w) in want {
        match got.get(t) {
            None => out.push(format!("table {t}: missing from the restored database")),
            Some(g) if g.rows != w.rows => out.push(format!(
                "table {t}: {} rows restored, {} backed up",
                g.rows, w.rows
            )),
            Some(g) if g.sha256 != w.sha256 => out.push(format!(
                "table {t}: content hash {} restored, {} backed up (same {} rows)",
                g.sha256, w.sha256, w.rows
            )),
            Some(_) => {}
        }
    }
    for t in got.keys().filter(|t| !want.contains_key(*t)) {
        out.push(format!(
            "table {t}: in the restored database, not in the manifest"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_follow_every_value_and_row() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.db");
        let c = Connection::open(&p).unwrap();
        c.execute_batch(
            "CREATE TABLE t (a INTEGER, b REAL, c TEXT, d BLOB);
             INSERT INTO t VALUES (1, 0.5, 'x', x'00ff'), (NULL, -0.0, '', NULL);
             CREATE TABLE k (id TEXT PRIMARY KEY, v) WITHOUT ROWID;
             INSERT INTO k VALUES ('b', 2), ('a', 1);",
        )
        .unwrap();
        let a = sqlite_digests(&p).unwrap();
        assert_eq!(a["t"].rows, 2);
        assert_eq!(a["k"].rows, 2);
        assert_eq!(a.len(), 2);
        // One value of one row changed.
        c.execute("UPDATE t SET b = 0.75 WHERE a = 1", []).unwrap();
        let b = sqlite_digests(&p).unwrap();
        assert_ne!(a["t"].sha256, b["t"].sha256);
        assert_eq!(a["k"], b["k"]);
        let diff = differences(&a, &b);
        assert_eq!(diff.len(), 1);
        assert!(diff[0].starts_with("table t: content hash "), "{diff:?}");
        c.execute("DELETE FROM k WHERE id = 'a'", []).unwrap();
        let e = differences(&a, &sqlite_digests(&p).unwrap());
        assert_eq!(e[0], "table k: 1 rows restored, 2 backed up");
        assert!(e[1].starts_with("table t: content hash "), "{e:?}");
    }
}
