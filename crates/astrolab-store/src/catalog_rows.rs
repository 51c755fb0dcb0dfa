//! Per-quasar result catalogs (`quasar_bal`, `quasar_fits`): tables of one
//! row per quasar and catalog id, where the id names the settings the rows
//! were measured with (so rows of one id are comparable).
//!
//! What they share lives here: a run replaces its catalog id's rows whole
//! in one transaction (all or nothing, through the ingest's bulk paths),
//! with any bookkeeping statements of the same write inside it; and a read
//! leaves out the rows of files the caller may not read (`file_id`, the
//! raw file of the spectrum a row derives from), as every read does.

use crate::batch::{Batch, Values};
use crate::error::{Result, StoreError};
use crate::ingest::Progress;
use crate::store::{Conn, Store};
use crate::value::Value;

/// A statement run in the same transaction after the rows are loaded:
/// its SQLite and PostgreSQL spellings (`?n` / `$n`) and parameters.
pub(crate) struct AfterLoad {
    pub sqlite: String,
    pub postgres: String,
    pub params: Vec<Value>,
}

/// Refuses a catalog with a TARGETID twice (`what` names the rows).
pub(crate) fn check_unique_targets(
    what: &str,
    catalog_id: &str,
    target_ids: impl Iterator<Item = i64>,
) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for t in target_ids {
        if !seen.insert(t) {
            return Err(StoreError::BadInput(format!(
                "{what} of {catalog_id}: TARGETID {t} twice"
            )));
        }
    }
    Ok(())
}

/// A text column with few distinct values.
pub(crate) fn dict(values: impl Iterator<Item = String>) -> Values {
    let values: Vec<String> = values.collect();
    let mut distinct = values.clone();
    distinct.sort();
    distinct.dedup();
    Values::TextDict {
        codes: values
            .iter()
            .map(|v| distinct.binary_search(v).expect("listed") as u32)
            .collect(),
        dict: distinct,
    }
}

/// A text column of distinct values (one per row).
pub(crate) fn texts(values: Vec<String>) -> Values {
    let n = values.len() as u32;
    Values::TextDict {
        dict: values,
        codes: (0..n).collect(),
    }
}

impl Store {
    /// Replaces the rows of `catalog_id` in `table` with `batch`, then runs
    /// `after`, in one transaction.
    pub(crate) fn replace_catalog_rows(
        &mut self,
        table: &str,
        catalog_id: &str,
        batch: &Batch,
        progress: &mut Progress<'_>,
        after: &[AfterLoad],
    ) -> Result<()> {
        // `table` is one of this crate's constants, never a caller's text.
        let del = format!("DELETE FROM {table} WHERE catalog_id = {{p}}1");
        let id = Value::Text(catalog_id.to_string());
        match &mut self.conn {
            Conn::Sqlite { conn, path } => {
                let path = path.clone();
                let tx = conn.transaction().map_err(StoreError::sqlite(&path))?;
                crate::store::sqlite_execute(
                    &tx,
                    &path,
                    &del.replace("{p}", "?"),
                    std::slice::from_ref(&id),
                )?;
                crate::sqlite::load_batch(&tx, &path, batch, progress)?;
                for a in after {
                    crate::store::sqlite_execute(&tx, &path, &a.sqlite, &a.params)?;
                }
                tx.commit().map_err(StoreError::sqlite(&path))?;
            }
            Conn::Postgres(client) => {
                let mut tx = client.transaction()?;
                crate::store::pg_execute(&mut tx, &del.replace("{p}", "$"), &[id])?;
                crate::postgres::load_batch(&mut tx, batch, progress)?;
                for a in after {
                    crate::store::pg_execute(&mut tx, &a.postgres, &a.params)?;
                }
                if batch.nrows >= 10_000 {
                    tx.batch_execute(&format!("ANALYZE {table}"))?;
                }
                tx.commit()?;
            }
        }
        Ok(())
    }

    /// Rows of `table` (`columns`, each prefixed `a.`; `file_id` must be
    /// among them at `file_col`) of `catalog_id` (every catalog when
    /// none), of `target_ids` when given, in TARGETID and catalog order,
    /// leaving out the files in `forbidden` and those the principal a
    /// store acts for may not read; the read is noted for the audit as
    /// `what`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn catalog_rows(
        &mut self,
        what: &str,
        table: &str,
        columns: &[&str],
        file_col: usize,
        catalog_id: Option<&str>,
        target_ids: Option<&[i64]>,
        forbidden: &[i64],
    ) -> Result<Vec<Vec<Value>>> {
        let p = crate::anomalies::ph(self);
        let mut params = Vec::new();
        let mut conds = vec!["1 = 1".to_string()];
        if let Some(c) = catalog_id {
            params.push(Value::Text(c.to_string()));
            conds.push(format!("a.catalog_id = {p}{}", params.len()));
        }
        let excluded = self.excluded_files(forbidden);
        if let Some((cond, ids)) = self.score_row_filter(&excluded, params.len() + 1) {
            params.push(ids);
            conds.push(cond);
        }
        let cols: Vec<String> = columns.iter().map(|c| format!("a.{c}")).collect();
        let mut sql = format!(
            "SELECT {} FROM {table} a WHERE {}",
            cols.join(", "),
            conds.join(" AND ")
        );
        if let Some(ids) = target_ids {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
            // Integers formatted by us, never text from a caller.
            sql.push_str(&format!(" AND a.target_id IN ({})", list.join(",")));
        }
        sql.push_str(" ORDER BY a.target_id, a.catalog_id");
        let rows = self.query_rows(&sql, &sql, &params)?;
        self.acting_note_read(
            what,
            rows.iter()
                .filter_map(|r| crate::tx::opt_int(&r[file_col]))
                .collect::<Vec<_>>(),
        )?;
        Ok(rows)
    }

    /// Rows of `table` by catalog id and outcome (counts only).
    pub(crate) fn catalog_outcomes(
        &mut self,
        table: &str,
    ) -> Result<Vec<(String, std::collections::BTreeMap<String, i64>)>> {
        let sql = format!(
            "SELECT catalog_id, outcome, COUNT(*) FROM {table} GROUP BY catalog_id, outcome ORDER BY catalog_id, outcome"
        );
        let rows = self.query_rows(&sql, &sql, &[])?;
        let mut out: Vec<(String, std::collections::BTreeMap<String, i64>)> = Vec::new();
        for r in rows {
            let id = crate::tx::text(&r[0]);
            if out.last().is_none_or(|c| c.0 != id) {
                out.push((id, Default::default()));
            }
            let last = out.last_mut().expect("pushed above");
            last.1.insert(crate::tx::text(&r[1]), crate::tx::int(&r[2]));
        }
        Ok(out)
    }
}
