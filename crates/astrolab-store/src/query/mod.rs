//! Sky queries: cone search, crossmatch and read-only SQL.

pub mod filter;
mod sql;
mod xmatch;

pub use xmatch::{load_positions, Direction, Positions, XmatchMode, XmatchQuery, XmatchSide};

use crate::error::{Result, StoreError};
use crate::schema::{self, TableSpec};
use crate::store::Store;
use crate::value::Value;

/// A query result: named columns and rows of values.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ResultTable {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<Value>>,
}

impl ResultTable {
    /// Index of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    }

    /// All values of a column.
    pub fn column(&self, name: &str) -> Option<Vec<&Value>> {
        let i = self.column_index(name)?;
        Some(self.rows.iter().map(|r| &r[i]).collect())
    }
}

/// A cone search request. `..Default::default()` fills the optional
/// fields (the default radius is 0, which is invalid: set it).
#[derive(Debug, Clone, Default)]
pub struct ConeQuery {
    /// Table to search (a sky table of the store).
    pub table: String,
    /// Centre RA, degrees.
    pub ra_deg: f64,
    /// Centre Dec, degrees.
    pub dec_deg: f64,
    /// Radius, degrees (0 < r <= 180).
    pub radius_deg: f64,
    /// Optional `--where` filter (see [`filter`]).
    pub filter: Option<String>,
    /// Keep at most this many rows (nearest first).
    pub limit: Option<usize>,
    /// Leave out rows loaded from these raw files (the caller's
    /// [`Store::forbidden_file_ids`]: restricted datasets).
    pub exclude_file_ids: Vec<i64>,
}

/// Resolves a sky table by name, with an error that lists the choices.
pub fn sky_table(name: &str, field: &str) -> Result<&'static TableSpec> {
    match schema::table(name) {
        Some(t) if t.sky => Ok(t),
        _ => Err(StoreError::bad_request(
            field,
            format!(
                "{name:?} is not a sky table; choose one of {}",
                schema::TABLES
                    .iter()
                    .filter(|t| t.sky)
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

fn check_cone(q: &ConeQuery) -> Result<()> {
    if !(q.ra_deg.is_finite() && (0.0..=360.0).contains(&q.ra_deg)) {
        return Err(StoreError::bad_request(
            "--ra",
            format!("{} is not in [0, 360] degrees", q.ra_deg),
        ));
    }
    if !(q.dec_deg.is_finite() && (-90.0..=90.0).contains(&q.dec_deg)) {
        return Err(StoreError::bad_request(
            "--dec",
            format!("{} is not in [-90, 90] degrees", q.dec_deg),
        ));
    }
    if !(q.radius_deg.is_finite() && q.radius_deg > 0.0 && q.radius_deg <= 180.0) {
        return Err(StoreError::bad_request(
            "--radius",
            format!("{} degrees is not in (0, 180]", q.radius_deg),
        ));
    }
    Ok(())
}

/// SQL saying that `column` is none of `ids`, with one parameter (number
/// `param`) whatever their number: a JSON array on SQLite, an array literal
/// on PostgreSQL, so a caller's list of forbidden files never changes the
/// statement's text. A NULL `column` (a row from no registered file)
/// passes. Returns the condition and its parameter.
pub(crate) fn not_in_ids(column: &str, ids: &[i64], pg: bool, param: usize) -> (String, Value) {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    if pg {
        (
            format!("({column} IS NULL OR {column} <> ALL(${param}::text::bigint[]))"),
            Value::Text(format!("{{{}}}", list.join(","))),
        )
    } else {
        (
            format!(
                "({column} IS NULL OR {column} NOT IN (SELECT value FROM json_each(?{param})))"
            ),
            Value::Text(format!("[{}]", list.join(","))),
        )
    }
}

impl Store {
    /// Every row of `q.table` within the cone, nearest first, with a
    /// `sep_arcsec` column. Uses q3c on PostgreSQL when installed, the
    /// HEALPix ranges of the cone otherwise; the exact angular distance
    /// (Vincenty formula) decides membership in both cases.
    pub fn cone(&mut self, q: &ConeQuery) -> Result<ResultTable> {
        check_cone(q)?;
        // A store acting for a run's submitter leaves out what they may
        // not read, whatever the caller asked (crate::acting).
        let forbidden = self.acting_forbidden();
        let q = &if forbidden.is_empty() {
            q.clone()
        } else {
            let mut q = q.clone();
            q.exclude_file_ids.extend(forbidden);
            q
        };
        let table = sky_table(&q.table, "--table")?;
        let cols = table.column_names();
        let (ph, pg) = match self.backend() {
            crate::Backend::Sqlite => ('?', false),
            crate::Backend::Postgres => ('$', true),
        };
        let mut params: Vec<Value> = Vec::new();
        let spatial = if pg && self.q3c {
            params.extend([
                Value::Float(q.ra_deg),
                Value::Float(q.dec_deg),
                Value::Float(q.radius_deg),
            ]);
            "q3c_radial_query(ra, dec, $1, $2, $3)".to_string()
        } else {
            let ranges = astrolab_sky::cone_ranges(q.ra_deg, q.dec_deg, q.radius_deg);
            let mut parts = Vec::with_capacity(ranges.len());
            for (lo, hi) in ranges {
                params.push(Value::Int(lo));
                params.push(Value::Int(hi));
                let n = params.len();
                parts.push(format!("hpx BETWEEN {ph}{} AND {ph}{}", n - 1, n));
            }
            // The ranges cover more sky than the cone; a Dec band (a
            // superset of the cone) lets the engine drop most of the extra
            // rows before they are decoded and sent to us.
            params.push(Value::Float((q.dec_deg - q.radius_deg).max(-90.0)));
            params.push(Value::Float((q.dec_deg + q.radius_deg).min(90.0)));
            let n = params.len();
            format!(
                "({}) AND dec BETWEEN {ph}{} AND {ph}{}",
                parts.join(" OR "),
                n - 1,
                n
            )
        };
        let mut sql = format!(
            "SELECT {} FROM {} WHERE {spatial}",
            cols.join(", "),
            table.name
        );
        if !q.exclude_file_ids.is_empty() {
            let (cond, ids) = not_in_ids("file_id", &q.exclude_file_ids, pg, params.len() + 1);
            params.push(ids);
            sql.push_str(&format!(" AND {cond}"));
        }
        if let Some(f) = &q.filter {
            let c = filter::compile(f, table, ph, params.len() + 1)?;
            sql.push_str(&format!(" AND {}", c.sql));
            params.extend(c.params);
        }
        let rows = self.query_rows(&sql, &sql, &params)?;
        let ra_i = cols.iter().position(|c| *c == "ra").unwrap_or(0);
        let dec_i = cols.iter().position(|c| *c == "dec").unwrap_or(0);
        let mut hits: Vec<(f64, Vec<Value>)> = rows
            .into_iter()
            .filter_map(|mut r| {
                let (ra, dec) = (r[ra_i].as_f64()?, r[dec_i].as_f64()?);
                let sep = astrolab_sky::angular_separation_deg(q.ra_deg, q.dec_deg, ra, dec);
                (sep <= q.radius_deg).then(|| {
                    r.push(Value::Float(sep * 3600.0));
                    (sep, r)
                })
            })
            .collect();
        // Nearest first; ties in a deterministic order (by the row values).
        let key = |r: &[Value]| (r[0].as_i64().unwrap_or(0), r[1].as_i64().unwrap_or(0));
        hits.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| key(&a.1).cmp(&key(&b.1))));
        if let Some(limit) = q.limit {
            hits.truncate(limit);
        }
        if let Some(fi) = cols.iter().position(|c| *c == "file_id") {
            let read: std::collections::BTreeSet<i64> =
                hits.iter().filter_map(|(_, r)| r[fi].as_i64()).collect();
            self.acting_note_read(&format!("cone search of {}", table.name), read)?;
        }
        let mut columns: Vec<String> = cols.iter().map(|c| c.to_string()).collect();
        columns.push("sep_arcsec".to_string());
        Ok(ResultTable {
            columns,
            rows: hits.into_iter().map(|(_, r)| r).collect(),
        })
    }

    /// Whether a catalog table holds any row: one probe (`LIMIT 1`), not a
    /// count, so it costs the same on an empty table and on 50 M rows.
    pub fn table_has_rows(&mut self, table: &str) -> Result<bool> {
        let t = schema::table(table)
            .ok_or_else(|| StoreError::bad_request("table", format!("no table {table}")))?;
        let sql = format!("SELECT 1 FROM {} LIMIT 1", t.name);
        Ok(!self.query_rows(&sql, &sql, &[])?.is_empty())
    }

    /// The sky tables (those a cone search can search) that hold rows, in
    /// schema order.
    pub fn sky_tables_with_rows(&mut self) -> Result<Vec<&'static str>> {
        let mut out = Vec::new();
        for t in schema::TABLES.iter().filter(|t| t.sky) {
            if self.table_has_rows(t.name)? {
                out.push(t.name);
            }
        }
        Ok(out)
    }

    /// Number of rows of a catalog table.
    pub fn count_rows(&mut self, table: &str) -> Result<i64> {
        let t = schema::table(table)
            .ok_or_else(|| StoreError::bad_request("table", format!("no table {table}")))?;
        let sql = format!("SELECT COUNT(*) FROM {}", t.name);
        let rows = self.query_rows(&sql, &sql, &[])?;
        Ok(rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0))
    }
}

impl Store {
    /// The galaxies of a catalog table, for pipelines: columns `file_id`,
    /// `id` (TARGETID; the row number for galaxy lists without one), `ra`,
    /// `dec`, `z`. `fastspec` by TARGETID, `zcatalog` (SPECTYPE GALAXY
    /// only) by TARGETID, `galaxies` by file and row. Rows of files the
    /// principal the store acts for may not read are left out, and reads of
    /// restricted datasets are noted (crate::acting).
    pub fn galaxy_rows(&mut self, table: &str) -> Result<ResultTable> {
        // Fixed statements: no caller text reaches the SQL.
        let (select, filter, order) = match table {
            "fastspec" => ("file_id, targetid, ra, dec, z", "", "targetid"),
            "zcatalog" => (
                "file_id, targetid, ra, dec, z",
                "spectype = 'GALAXY'",
                "targetid",
            ),
            "galaxies" => (
                "file_id, COALESCE(targetid, row_index), ra, dec, z",
                "",
                "file_id, row_index",
            ),
            other => {
                return Err(StoreError::bad_request(
                    "table",
                    format!("{other}: choose fastspec, zcatalog or galaxies"),
                ))
            }
        };
        let mut conds: Vec<String> = Vec::new();
        if !filter.is_empty() {
            conds.push(filter.to_string());
        }
        let forbidden = self.acting_forbidden();
        if !forbidden.is_empty() {
            // Integers only: nothing a caller sent reaches the statement.
            let ids: Vec<String> = forbidden.iter().map(i64::to_string).collect();
            conds.push(format!("file_id NOT IN ({})", ids.join(", ")));
        }
        let where_sql = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let sql = format!("SELECT {select} FROM {table}{where_sql} ORDER BY {order}");
        let rows = self.query_rows(&sql, &sql, &[])?;
        let read: std::collections::BTreeSet<i64> =
            rows.iter().filter_map(|r| r[0].as_i64()).collect();
        self.acting_note_read(&format!("galaxies of {table}"), read)?;
        Ok(ResultTable {
            columns: ["file_id", "id", "ra", "dec", "z"]
                .iter()
                .map(|c| c.to_string())
                .collect(),
            rows,
        })
    }
}
