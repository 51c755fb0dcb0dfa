//! Read-only SQL for users (`astrolab query sql`).
//!
//! SQLite: a separate connection opened read-only, `PRAGMA query_only`, one
//! statement, which SQLite must report as read-only. PostgreSQL: the single
//! statement runs as a subquery inside a READ ONLY transaction with a
//! statement timeout, so it can neither write nor escape with a second
//! statement.

use super::ResultTable;
use crate::error::{Result, StoreError};
use crate::store::{Conn, Store};
use crate::value::Value;

impl Store {
    /// Runs one read-only SQL statement.
    pub fn sql_readonly(&mut self, sql: &str) -> Result<ResultTable> {
        self.acting_refuse_unchecked("arbitrary SQL")?;
        let sql = sql.trim().trim_end_matches(';').trim();
        if sql.is_empty() {
            return Err(StoreError::bad_request("SQL", "empty statement"));
        }
        if has_statement_separator(sql) {
            return Err(StoreError::bad_request(
                "SQL",
                "one statement at a time: remove the ';' between statements",
            ));
        }
        match &mut self.conn {
            Conn::Sqlite { path, .. } => {
                let path = path.clone();
                let e = StoreError::sqlite(&path);
                let conn = rusqlite::Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(e)?;
                conn.execute_batch("PRAGMA query_only = 1")
                    .map_err(StoreError::sqlite(&path))?;
                let mut stmt = conn
                    .prepare(sql)
                    .map_err(|err| StoreError::bad_request("SQL", err.to_string()))?;
                if !stmt.readonly() {
                    return Err(StoreError::bad_request(
                        "SQL",
                        "only read-only statements (SELECT, WITH ... SELECT) are allowed",
                    ));
                }
                let columns: Vec<String> =
                    stmt.column_names().iter().map(|s| s.to_string()).collect();
                let n = columns.len();
                let rows = stmt
                    .query_map([], |row| {
                        (0..n)
                            .map(|i| row.get_ref(i).map(Value::from))
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(|err| StoreError::bad_request("SQL", err.to_string()))?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(|err| StoreError::bad_request("SQL", err.to_string()))?;
                Ok(ResultTable { columns, rows })
            }
            Conn::Postgres(client) => {
                let mut tx = client.build_transaction().read_only(true).start()?;
                tx.batch_execute("SET LOCAL statement_timeout = '300s'")?;
                let stmt = tx
                    .prepare(sql)
                    .map_err(|err| StoreError::bad_request("SQL", err.to_string()))?;
                let columns: Vec<String> = stmt
                    .columns()
                    .iter()
                    .map(|c| c.name().to_string())
                    .collect();
                // row_to_json decodes every type the server has (numeric,
                // timestamps, arrays) without a client-side decoder for each.
                let wrapped = format!("SELECT row_to_json(q)::text FROM ({sql}) AS q");
                let rows = tx
                    .query(&wrapped, &[])
                    .map_err(|err| StoreError::bad_request("SQL", err.to_string()))?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let text: String = r.get(0);
                    let obj: serde_json::Map<String, serde_json::Value> =
                        serde_json::from_str(&text).map_err(|err| {
                            StoreError::BadInput(format!("decoding a result row: {err}"))
                        })?;
                    out.push(
                        columns
                            .iter()
                            .map(|c| match obj.get(c) {
                                None | Some(serde_json::Value::Null) => Value::Null,
                                Some(serde_json::Value::Bool(b)) => Value::Bool(*b),
                                Some(serde_json::Value::Number(n)) => {
                                    n.as_i64().map(Value::Int).unwrap_or_else(|| {
                                        Value::Float(n.as_f64().unwrap_or(f64::NAN))
                                    })
                                }
                                Some(serde_json::Value::String(s)) => Value::Text(s.clone()),
                                Some(other) => Value::Text(other.to_string()),
                            })
                            .collect(),
                    );
                }
                tx.rollback()?;
                Ok(ResultTable { columns, rows: out })
            }
        }
    }
}

/// True when `sql` has a `;` outside string literals, quoted identifiers and
/// comments, i.e. more than one statement.
fn has_statement_separator(sql: &str) -> bool {
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b';' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::has_statement_separator;

    #[test]
    fn finds_separators_outside_literals_and_comments() {
        assert!(has_statement_separator("SELECT 1; DELETE FROM t"));
        assert!(!has_statement_separator("SELECT ';' AS x"));
        assert!(!has_statement_separator("SELECT 1 -- ; not here"));
        assert!(!has_statement_separator("SELECT /* ; */ \"a;b\" FROM t"));
    }
}
