//! Galaxy void membership (migration 4): per galaxy and void catalog the
//! vflag (0 wall, 1 void, 2 edge, 9 outside), void id, R_VOID_NORM and the
//! void's edge class, as computed by `astrolab_voids::membership`.
//!
//! A catalog's membership is written in one transaction that first removes
//! any earlier membership of the same (catalog, algorithm, cap), loads the
//! rows by the ingest's bulk paths (binary COPY on PostgreSQL, multi-row
//! prepared INSERTs on SQLite; big loads drop and rebuild the indexes), and
//! writes the per-vflag counts into `void_membership_summary`, so a summary
//! never scans the rows. Selections ("void vs wall") read the covering index
//! `(algorithm, vflag, target_id)`.
//!
//! Access (migration 7): a membership row derives from two files, the void
//! catalog (`file_id`) and the galaxies it classified (`galaxy_file_id`,
//! per row: a galaxy table holds rows of many files). A caller reads a row
//! only when both files are readable (see `datasets`), so galaxies of a
//! restricted table stay restricted once classified. The summary counts
//! per galaxy source as well, so a caller's counts are a filter over it.
//! Rows classified before migration 7 have an unknown galaxy source
//! ([`UNKNOWN_GALAXY_SOURCE`]); failing closed, only admins read them
//! while any raw file is restricted (they may come from a restricted
//! table), everyone otherwise; classifying again records the source.

use crate::batch::{Batch, Values};
use crate::error::{Result, StoreError};
use crate::ingest::Progress;
use crate::membership_cache;
use crate::query::{filter, not_in_ids, ResultTable};
use crate::schema::{ColType, TableSpec};
use crate::store::{Conn, Store};
use crate::value::Value;

/// One void's galaxies ([`Store::void_properties`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VoidProperties {
    /// Void-finding algorithm.
    pub algorithm: String,
    /// NGC, SGC or ALL.
    pub cap: String,
    /// The void's id in its catalog.
    pub void_id: i64,
    /// Void galaxies (vflag 1) in it.
    pub n_galaxies: i64,
    /// Their mean R_VOID_NORM (None when none is known).
    pub r_void_norm_mean: Option<f64>,
}

/// Where a galaxy is ([`Store::target_positions`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetPosition {
    /// TARGETID.
    pub target_id: i64,
    /// RA, degrees.
    pub ra: Option<f64>,
    /// Dec, degrees.
    pub dec: Option<f64>,
    /// Redshift.
    pub z: Option<f64>,
    /// The raw file of the row.
    pub file_id: Option<i64>,
}

use crate::schema::computed as col;

/// The `void_membership` table (also the column list `--where` accepts).
pub static VOID_MEMBERSHIP: TableSpec = TableSpec {
    name: "void_membership",
    sky: false,
    columns: &[
        col("file_id", ColType::I64),
        col("catalog", ColType::Text),
        col("algorithm", ColType::Text),
        col("cap", ColType::Text),
        col("target_id", ColType::I64),
        col("vflag", ColType::I64),
        col("void_id", ColType::I64),
        col("r_void_norm", ColType::F64),
        col("void_edge", ColType::I64),
        col("galaxy_file_id", ColType::I64),
    ],
};

/// `galaxy_file_id` of rows classified before migration 7: where their
/// galaxies came from is unknown (no raw file has a negative id).
pub const UNKNOWN_GALAXY_SOURCE: i64 = -1;

const INDEXES: [&str; 2] = [
    "CREATE INDEX void_membership_select ON void_membership (algorithm, vflag, target_id)",
    "CREATE INDEX void_membership_target ON void_membership (target_id)",
];

/// Below this many rows the indexes are kept during a load.
const BULK_MIN_ROWS: usize = 50_000;

/// Which catalog a membership belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MembershipKey {
    /// The void catalog's file name.
    pub catalog: String,
    /// Its raw-file registry id, when it was ingested.
    pub file_id: Option<i64>,
    /// VoidFinder, REVOLVER, VIDE or ZOBOV.
    pub algorithm: String,
    /// NGC, SGC or ALL.
    pub cap: String,
}

/// Membership rows, column by column (equal lengths). Serde for a cluster
/// executor's shard results (JSON: a NaN `r_void_norm` travels as null).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MembershipRows {
    /// TARGETID (or row number for galaxy lists without one).
    pub target_id: Vec<i64>,
    /// 0 wall, 1 void, 2 edge, 9 outside.
    pub vflag: Vec<u8>,
    /// Void id for void galaxies.
    pub void_id: Vec<Option<i64>>,
    /// Distance to the void centre over its radius; NaN when none.
    #[serde(with = "nan_as_null")]
    pub r_void_norm: Vec<f64>,
    /// The void's DESIVAST edge class, when known.
    pub void_edge: Vec<Option<i64>>,
    /// Raw-file registry id of the file each galaxy was read from; None
    /// for a file the store has never registered. Access follows it.
    pub galaxy_file_id: Vec<Option<i64>>,
}

/// `Vec<f64>` with NaN as JSON null (JSON has no NaN).
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let o: Vec<Option<f64>> = v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect();
        o.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let o: Vec<Option<f64>> = Vec::deserialize(d)?;
        Ok(o.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }
}

impl MembershipRows {
    fn check(&self) -> Result<usize> {
        let n = self.target_id.len();
        if [
            self.vflag.len(),
            self.void_id.len(),
            self.r_void_norm.len(),
            self.void_edge.len(),
            self.galaxy_file_id.len(),
        ]
        .iter()
        .any(|&l| l != n)
        {
            return Err(StoreError::BadInput(
                "void membership: columns have different lengths".into(),
            ));
        }
        if let Some(i) = self.vflag.iter().position(|v| !matches!(v, 0 | 1 | 2 | 9)) {
            return Err(StoreError::BadInput(format!(
                "void membership row {i}: vflag {} is not 0, 1, 2 or 9",
                self.vflag[i]
            )));
        }
        Ok(n)
    }
}

/// Counts of one vflag in one catalog, from one galaxy source.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MembershipSummary {
    /// Void catalog file name.
    pub catalog: String,
    /// Its registry id.
    pub file_id: Option<i64>,
    /// Algorithm.
    pub algorithm: String,
    /// Galactic cap.
    pub cap: String,
    /// vflag.
    pub vflag: i64,
    /// Registry id of the file the galaxies came from (None: a file the
    /// store never registered; [`UNKNOWN_GALAXY_SOURCE`]: not recorded).
    pub galaxy_file_id: Option<i64>,
    /// Galaxies with this vflag.
    pub n_galaxies: i64,
    /// Of them, those with a finite R_VOID_NORM: the weight of the mean
    /// when sources are added up.
    pub n_r_void_norm: i64,
    /// Mean R_VOID_NORM (void galaxies).
    pub r_void_norm_mean: Option<f64>,
    /// When the membership was written (UTC, RFC 3339).
    pub classified_at: String,
}

impl Store {
    /// Replaces the membership of `key` by `rows`, in one transaction.
    /// Returns the number of rows written.
    pub fn write_void_membership(
        &mut self,
        key: &MembershipKey,
        rows: &MembershipRows,
        progress: &mut Progress<'_>,
    ) -> Result<u64> {
        self.acting_require_admin("void membership")?;
        let n = rows.check()?;
        let mut batch = Batch::new(&VOID_MEMBERSHIP, n);
        batch.set(
            "file_id",
            key.file_id.map_or(Values::Null, Values::ConstI64),
        );
        batch.set("catalog", Values::ConstText(key.catalog.clone()));
        batch.set("algorithm", Values::ConstText(key.algorithm.clone()));
        batch.set("cap", Values::ConstText(key.cap.clone()));
        batch.set(
            "target_id",
            Values::I64(rows.target_id.iter().map(|&t| Some(t)).collect()),
        );
        batch.set(
            "vflag",
            Values::I64(rows.vflag.iter().map(|&v| Some(i64::from(v))).collect()),
        );
        batch.set("void_id", Values::I64(rows.void_id.clone()));
        batch.set("r_void_norm", Values::F64(rows.r_void_norm.clone()));
        batch.set("void_edge", Values::I64(rows.void_edge.clone()));
        batch.set("galaxy_file_id", Values::I64(rows.galaxy_file_id.clone()));
        // Rows in target order: selections by (algorithm, vflag) then read
        // ids in index order, and joins by TARGETID touch pages in order.
        batch.sort_by("target_id");

        // Per vflag and galaxy source: the summary's rows.
        type Counts = std::collections::BTreeMap<(u8, Option<i64>), (i64, f64, i64)>;
        let mut counts: Counts = Default::default();
        for i in 0..n {
            let e = counts
                .entry((rows.vflag[i], rows.galaxy_file_id[i]))
                .or_default();
            e.0 += 1;
            if rows.r_void_norm[i].is_finite() {
                e.1 += rows.r_void_norm[i];
                e.2 += 1;
            }
        }
        let now = crate::registry::now_rfc3339();
        let key_params = [
            Value::Text(key.catalog.clone()),
            Value::Text(key.algorithm.clone()),
            Value::Text(key.cap.clone()),
        ];
        let del_rows =
            "DELETE FROM void_membership WHERE catalog = {p}1 AND algorithm = {p}2 AND cap = {p}3";
        let del_sum = "DELETE FROM void_membership_summary WHERE catalog = {p}1 AND algorithm = {p}2 AND cap = {p}3";
        let ins_sum = "INSERT INTO void_membership_summary (file_id, catalog, algorithm, cap, vflag, galaxy_file_id, n_galaxies, n_r_void_norm, r_void_norm_mean, classified_at) VALUES ({p}1, {p}2, {p}3, {p}4, {p}5, {p}6, {p}7, {p}8, {p}9, {p}10)";
        let sum_params = |(vflag, source): &(u8, Option<i64>), c: &(i64, f64, i64)| -> Vec<Value> {
            vec![
                key.file_id.map_or(Value::Null, Value::Int),
                Value::Text(key.catalog.clone()),
                Value::Text(key.algorithm.clone()),
                Value::Text(key.cap.clone()),
                Value::Int(i64::from(*vflag)),
                source.map_or(Value::Null, Value::Int),
                Value::Int(c.0),
                Value::Int(c.2),
                if c.2 > 0 {
                    Value::Float(c.1 / c.2 as f64)
                } else {
                    Value::Null
                },
                Value::Text(now.clone()),
            ]
        };
        match &mut self.conn {
            Conn::Sqlite { conn, path } => {
                let path = path.clone();
                let e = StoreError::sqlite;
                let sq = |s: &str| s.replace("{p}", "?");
                let tx = conn.transaction().map_err(e(&path))?;
                tx.execute(&sq(del_rows), rusqlite::params_from_iter(key_params.iter()))
                    .map_err(e(&path))?;
                tx.execute(&sq(del_sum), rusqlite::params_from_iter(key_params.iter()))
                    .map_err(e(&path))?;
                let existing: i64 = tx
                    .query_row("SELECT COUNT(*) FROM void_membership", [], |r| r.get(0))
                    .map_err(e(&path))?;
                let bulk = n >= BULK_MIN_ROWS && n as i64 >= existing;
                if bulk {
                    tx.execute_batch(
                        "DROP INDEX IF EXISTS void_membership_select; DROP INDEX IF EXISTS void_membership_target;",
                    )
                    .map_err(e(&path))?;
                }
                crate::sqlite::load_batch(&tx, &path, &batch, progress)?;
                if bulk {
                    for sql in INDEXES {
                        tx.execute_batch(sql).map_err(e(&path))?;
                    }
                }
                for (k, c) in &counts {
                    tx.execute(
                        &sq(ins_sum),
                        rusqlite::params_from_iter(sum_params(k, c).iter()),
                    )
                    .map_err(e(&path))?;
                }
                tx.commit().map_err(e(&path))?;
            }
            Conn::Postgres(client) => {
                let pg = |s: &str| s.replace("{p}", "$");
                let mut tx = client.transaction()?;
                let refs = |v: &[Value]| -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
                    v.iter()
                        .map(|x| Box::new(x.clone()) as Box<dyn postgres::types::ToSql + Sync>)
                        .collect()
                };
                let kp = refs(&key_params);
                let kpr: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    kp.iter().map(|b| b.as_ref()).collect();
                tx.execute(&pg(del_rows), &kpr)?;
                tx.execute(&pg(del_sum), &kpr)?;
                let row = tx.query_one(
                    "SELECT GREATEST(c.reltuples, 0)::float8 FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE c.relname = 'void_membership' AND s.nspname = current_schema()",
                    &[],
                )?;
                let existing: f64 = row.get(0);
                let bulk = n >= BULK_MIN_ROWS && n as f64 >= existing;
                if bulk {
                    tx.batch_execute(
                        "DROP INDEX IF EXISTS void_membership_select; DROP INDEX IF EXISTS void_membership_target; SET LOCAL maintenance_work_mem = '512MB';",
                    )?;
                }
                crate::postgres::load_batch(&mut tx, &batch, progress)?;
                if bulk {
                    for sql in INDEXES {
                        tx.batch_execute(sql)?;
                    }
                }
                for (k, c) in &counts {
                    let p = refs(&sum_params(k, c));
                    let pr: Vec<&(dyn postgres::types::ToSql + Sync)> =
                        p.iter().map(|b| b.as_ref()).collect();
                    tx.execute(&pg(ins_sum), &pr)?;
                }
                if n >= 10_000 {
                    tx.batch_execute("ANALYZE void_membership")?;
                }
                tx.commit()?;
            }
        }
        self.cache_selections_after_write(key, rows);
        Ok(n as u64)
    }

    /// After a committed write, when `key` is the algorithm's only catalog,
    /// writes the selection cache of every vflag from the rows in hand, so
    /// the first selection is already fast. Failures only cost speed.
    fn cache_selections_after_write(&mut self, key: &MembershipKey, rows: &MembershipRows) {
        let summary = match self.void_membership_summary() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the membership summary back");
                return;
            }
        };
        let only_this = summary
            .iter()
            .filter(|r| r.algorithm == key.algorithm)
            .all(|r| r.catalog == key.catalog && r.cap == key.cap);
        if !only_this {
            return;
        }
        let home = self.config.home.clone();
        let scope = self.cache_scope();
        for vflag in [0u8, 1, 2, 9] {
            let Some(stamp) = membership_cache::stamp(&summary, &key.algorithm, vflag) else {
                return;
            };
            let mut ids: Vec<i64> = rows
                .target_id
                .iter()
                .zip(&rows.vflag)
                .filter(|(_, v)| **v == vflag)
                .map(|(t, _)| *t)
                .collect();
            ids.sort_unstable();
            let sel = membership_cache::Selection {
                scope: &scope,
                algorithm: &key.algorithm,
                vflag,
            };
            if let Err(e) = membership_cache::write(&home, sel, &stamp, &ids) {
                tracing::warn!(error = %e, "could not write the selection cache (selections still work, more slowly)");
                return;
            }
        }
    }

    /// Counts per catalog, algorithm, cap, vflag and galaxy source (from
    /// the summary table), every row: filter with
    /// [`Store::forbidden_membership_sources`] for a caller.
    pub fn void_membership_summary(&mut self) -> Result<Vec<MembershipSummary>> {
        let sql = "SELECT catalog, file_id, algorithm, cap, vflag, galaxy_file_id, n_galaxies, n_r_void_norm, r_void_norm_mean, classified_at FROM void_membership_summary ORDER BY algorithm, cap, catalog, vflag, galaxy_file_id";
        let rows = self.query_rows(sql, sql, &[])?;
        Ok(rows
            .into_iter()
            .map(|r| MembershipSummary {
                catalog: r[0].to_string(),
                file_id: r[1].as_i64(),
                algorithm: r[2].to_string(),
                cap: r[3].to_string(),
                vflag: r[4].as_i64().unwrap_or(-1),
                galaxy_file_id: r[5].as_i64(),
                n_galaxies: r[6].as_i64().unwrap_or(0),
                n_r_void_norm: r[7].as_i64().unwrap_or(0),
                r_void_norm_mean: r[8].as_f64(),
                classified_at: r[9].to_string(),
            })
            .collect())
    }

    /// The files whose membership rows a caller may not read, as either
    /// the void catalog or the galaxies' source:
    /// [`Store::forbidden_file_ids`], and for non-admins
    /// [`UNKNOWN_GALAXY_SOURCE`] while any raw file is restricted (fail
    /// closed: an unrecorded source may be a restricted table).
    pub fn forbidden_membership_sources(
        &mut self,
        projects: &[String],
        is_admin: bool,
    ) -> Result<Vec<i64>> {
        if is_admin {
            return Ok(Vec::new());
        }
        let mut ids = self.forbidden_file_ids(projects, is_admin)?;
        // A member of every restricted dataset is forbidden nothing, yet
        // the unknown sources stay hidden while restrictions exist.
        if !ids.is_empty() || !self.forbidden_file_ids(&[], false)?.is_empty() {
            ids.push(UNKNOWN_GALAXY_SOURCE);
        }
        Ok(ids)
    }

    /// Restricted datasets disclosed by a read of membership rows whose
    /// catalog and galaxy files are `sources` (for the audit trail): those
    /// holding any of the files, and every restricted dataset when a
    /// source is [`UNKNOWN_GALAXY_SOURCE`] (it may be any of them).
    pub fn membership_restricted_datasets(
        &mut self,
        sources: &std::collections::BTreeSet<i64>,
    ) -> Result<Vec<String>> {
        let files: Vec<i64> = sources.iter().copied().filter(|&f| f >= 0).collect();
        let mut names = self.restricted_datasets_of(&files)?;
        if sources.contains(&UNKNOWN_GALAXY_SOURCE)
            && !self.forbidden_file_ids(&[], false)?.is_empty()
        {
            names = self
                .list_datasets()?
                .into_iter()
                .filter(|d| d.visibility == crate::Visibility::Restricted)
                .map(|d| d.name)
                .collect();
        }
        Ok(names)
    }

    /// TARGETIDs of one algorithm's galaxies with one vflag (all caps and
    /// catalogs), ascending: the void-vs-wall selection. Served from the
    /// selection cache when it matches the summary (see
    /// `membership_cache`), else read from the covering index and cached.
    pub fn void_membership_targets(&mut self, algorithm: &str, vflag: u8) -> Result<Vec<i64>> {
        let summary = self.void_membership_summary()?;
        let Some(stamp) = membership_cache::stamp(&summary, algorithm, vflag) else {
            return Ok(Vec::new());
        };
        let home = self.config.home.clone();
        let scope = self.cache_scope();
        let sel = membership_cache::Selection {
            scope: &scope,
            algorithm,
            vflag,
        };
        if let Some(ids) = membership_cache::read(&home, sel, &stamp) {
            return Ok(ids);
        }
        let ids = self.void_membership_targets_from_db(algorithm, vflag)?;
        if ids.len() as u64 == stamp.count {
            if let Err(e) = membership_cache::write(&home, sel, &stamp, &ids) {
                tracing::warn!(error = %e, "could not write the selection cache (selections still work, more slowly)");
            }
        }
        Ok(ids)
    }

    /// [`Store::void_membership_targets`] from the database itself.
    pub fn void_membership_targets_from_db(
        &mut self,
        algorithm: &str,
        vflag: u8,
    ) -> Result<Vec<i64>> {
        self.void_membership_targets_excluding(algorithm, vflag, &[])
    }

    /// [`Store::void_membership_targets`] from the database, without the
    /// rows whose catalog or galaxies come from `exclude_file_ids` (a
    /// caller's [`Store::forbidden_membership_sources`]): no cache, whose
    /// files hold every row.
    pub fn void_membership_targets_excluding(
        &mut self,
        algorithm: &str,
        vflag: u8,
        exclude_file_ids: &[i64],
    ) -> Result<Vec<i64>> {
        let mut params = vec![
            Value::Text(algorithm.to_string()),
            Value::Int(i64::from(vflag)),
        ];
        let exclude = self.membership_exclusion("", exclude_file_ids, &mut params);
        let body = format!("SELECT target_id FROM void_membership WHERE algorithm = {{p}}1 AND vflag = {{p}}2{exclude} ORDER BY target_id");
        let (s, p) = (body.replace("{p}", "?"), body.replace("{p}", "$"));
        match &mut self.conn {
            Conn::Sqlite { conn, path } => {
                let e = StoreError::sqlite;
                let mut stmt = conn.prepare_cached(&s).map_err(e(path))?;
                let ids = stmt
                    .query_map(rusqlite::params_from_iter(params.iter()), |r| r.get(0))
                    .map_err(e(path))?
                    .collect::<rusqlite::Result<Vec<i64>>>()
                    .map_err(e(path))?;
                Ok(ids)
            }
            Conn::Postgres(c) => {
                // One array instead of one message per row.
                let sql = format!("SELECT COALESCE(array_agg(target_id), '{{}}') FROM ({p}) t");
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|v| v as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                let row = c.query_one(&sql, &refs)?;
                Ok(row.try_get(0)?)
            }
        }
    }

    /// Membership rows matching a `--where` filter over the columns of
    /// [`VOID_MEMBERSHIP`] (e.g. `vflag = 1 AND algorithm = 'VIDE'`),
    /// ordered by algorithm, cap and target id; at most `limit` rows.
    pub fn void_membership_select(
        &mut self,
        filter_expr: Option<&str>,
        limit: Option<usize>,
    ) -> Result<ResultTable> {
        self.void_membership_rows(None, filter_expr, limit)
    }

    /// [`Store::void_membership_select`] of one algorithm only (bound as a
    /// parameter), when `algorithm` is given.
    pub fn void_membership_rows(
        &mut self,
        algorithm: Option<&str>,
        filter_expr: Option<&str>,
        limit: Option<usize>,
    ) -> Result<ResultTable> {
        let cols = VOID_MEMBERSHIP.column_names();
        let ph = match self.backend() {
            crate::Backend::Sqlite => '?',
            crate::Backend::Postgres => '$',
        };
        let mut sql = format!("SELECT {} FROM void_membership", cols.join(", "));
        let mut params = Vec::new();
        let mut conds = Vec::new();
        if let Some(a) = algorithm {
            params.push(Value::Text(a.to_string()));
            conds.push(format!("algorithm = {ph}1"));
        }
        if let Some(f) = filter_expr {
            let c = filter::compile(f, &VOID_MEMBERSHIP, ph, params.len() + 1)?;
            conds.push(format!("({})", c.sql));
            params.extend(c.params);
        }
        if !conds.is_empty() {
            sql.push_str(&format!(" WHERE {}", conds.join(" AND ")));
        }
        sql.push_str(" ORDER BY algorithm, cap, target_id");
        if let Some(l) = limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let rows = self.query_rows(&sql, &sql, &params)?;
        Ok(ResultTable {
            columns: cols.iter().map(|c| c.to_string()).collect(),
            rows,
        })
    }

    /// (target id, vflag) of every membership row of `algorithm`, ordered
    /// by cap and target id (a galaxy classified in two caps appears twice,
    /// the SGC row last).
    pub fn void_membership_vflags(&mut self, algorithm: &str) -> Result<Vec<(i64, i64)>> {
        let body = "SELECT target_id, vflag FROM void_membership WHERE algorithm = {p}1 ORDER BY cap, target_id";
        let (s, p) = (body.replace("{p}", "?"), body.replace("{p}", "$"));
        let rows = self.query_rows(&s, &p, &[Value::Text(algorithm.to_string())])?;
        Ok(rows
            .into_iter()
            .filter_map(|r| Some((r[0].as_i64()?, r[1].as_i64()?)))
            .collect())
    }

    /// Per algorithm, cap and void: the void galaxies (vflag 1) and their
    /// mean R_VOID_NORM, ordered by algorithm, cap and void id.
    pub fn void_properties(&mut self) -> Result<Vec<VoidProperties>> {
        let sql = "SELECT algorithm, cap, void_id, COUNT(*), AVG(r_void_norm) FROM void_membership WHERE vflag = 1 AND void_id IS NOT NULL GROUP BY algorithm, cap, void_id ORDER BY algorithm, cap, void_id";
        Ok(self
            .query_rows(sql, sql, &[])?
            .into_iter()
            .map(|r| VoidProperties {
                algorithm: r[0].to_string(),
                cap: r[1].to_string(),
                void_id: r[2].as_i64().unwrap_or(-1),
                n_galaxies: r[3].as_i64().unwrap_or(0),
                r_void_norm_mean: r[4].as_f64(),
            })
            .collect())
    }

    /// RA, Dec and redshift of `target_ids` from the galaxy lists and then
    /// FastSpecFit (so a caller folding them in order keeps FastSpecFit's
    /// values), with the file each row came from; rows of
    /// `exclude_file_ids` are left out. The ids are bound as one parameter.
    pub fn target_positions(
        &mut self,
        target_ids: &[i64],
        exclude_file_ids: &[i64],
    ) -> Result<Vec<TargetPosition>> {
        if target_ids.is_empty() {
            return Ok(Vec::new());
        }
        let pg = self.backend() == crate::Backend::Postgres;
        let list: Vec<String> = target_ids.iter().map(i64::to_string).collect();
        let (ids_cond, ids) = if pg {
            (
                "targetid = ANY($1::text::bigint[])".to_string(),
                Value::Text(format!("{{{}}}", list.join(","))),
            )
        } else {
            (
                "targetid IN (SELECT value FROM json_each(?1))".to_string(),
                Value::Text(format!("[{}]", list.join(","))),
            )
        };
        let mut params = vec![ids];
        let exclude = if exclude_file_ids.is_empty() {
            String::new()
        } else {
            let (cond, v) = not_in_ids("file_id", exclude_file_ids, pg, 2);
            params.push(v);
            format!(" AND {cond}")
        };
        let mut out = Vec::new();
        for table in ["galaxies", "fastspec"] {
            // Fixed table names; the ids and exclusions are parameters.
            let sql = format!(
                "SELECT targetid, ra, dec, z, file_id FROM {table} WHERE {ids_cond}{exclude}"
            );
            for r in self.query_rows(&sql, &sql, &params)? {
                if let Some(t) = r[0].as_i64() {
                    out.push(TargetPosition {
                        target_id: t,
                        ra: r[1].as_f64(),
                        dec: r[2].as_f64(),
                        z: r[3].as_f64(),
                        file_id: r[4].as_i64(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Membership of one algorithm joined with FastSpecFit properties by
    /// TARGETID: columns `target_id, cap, vflag, z, logmstar, sfr, dn4000,
    /// age, zzsun, fastspec_file_id` (NULL where a galaxy has no
    /// FastSpecFit row). Membership rows whose catalog or galaxies come
    /// from `exclude_file_ids`, and FastSpecFit rows of those files, are
    /// left out (a caller's [`Store::forbidden_membership_sources`]).
    pub fn void_membership_with_fastspec(
        &mut self,
        algorithm: &str,
        exclude_file_ids: &[i64],
    ) -> Result<ResultTable> {
        let mut params = vec![Value::Text(algorithm.to_string())];
        let exclude = self.membership_exclusion("m.", exclude_file_ids, &mut params);
        let fastspec_exclude = if exclude.is_empty() {
            String::new()
        } else {
            // The membership's exclusion parameter (the last one) again.
            let pg = self.backend() == crate::Backend::Postgres;
            let (cond, _) = not_in_ids("f.file_id", exclude_file_ids, pg, params.len());
            format!(" AND {cond}")
        };
        let body = format!("SELECT m.target_id, m.cap, m.vflag, f.z, f.logmstar, f.sfr, f.dn4000, f.age, f.zzsun, f.file_id FROM void_membership m LEFT JOIN fastspec f ON f.targetid = m.target_id{fastspec_exclude} WHERE m.algorithm = {{p}}1{exclude} ORDER BY m.target_id");
        let s = body.replace("{p}", "?");
        let p = body.replace("{p}", "$");
        let rows = self.query_rows(&s, &p, &params)?;
        Ok(ResultTable {
            columns: [
                "target_id",
                "cap",
                "vflag",
                "z",
                "logmstar",
                "sfr",
                "dn4000",
                "age",
                "zzsun",
                "fastspec_file_id",
            ]
            .iter()
            .map(|c| c.to_string())
            .collect(),
            rows,
        })
    }

    /// ` AND` conditions leaving out membership rows (columns prefixed
    /// with `prefix`) whose catalog or galaxies come from `exclude_file_ids`;
    /// empty when nothing is excluded. Appends the one parameter both
    /// conditions use to `params`.
    fn membership_exclusion(
        &self,
        prefix: &str,
        exclude_file_ids: &[i64],
        params: &mut Vec<Value>,
    ) -> String {
        if exclude_file_ids.is_empty() {
            return String::new();
        }
        let pg = self.backend() == crate::Backend::Postgres;
        let n = params.len() + 1;
        let (catalog, ids) = not_in_ids(&format!("{prefix}file_id"), exclude_file_ids, pg, n);
        let (galaxies, _) = not_in_ids(&format!("{prefix}galaxy_file_id"), exclude_file_ids, pg, n);
        params.push(ids);
        format!(" AND {catalog} AND {galaxies}")
    }

    /// The database that derived caches under the home belong to.
    fn cache_scope(&self) -> String {
        let db = match &self.conn {
            Conn::Sqlite { path, .. } => format!("sqlite:{}", path.display()),
            Conn::Postgres(_) => format!(
                "{}#{}",
                self.config.database_url.as_deref().unwrap_or(""),
                self.config.pg_schema.as_deref().unwrap_or("public")
            ),
        };
        membership_cache::scope(&db)
    }

    /// Algorithms that have membership rows.
    pub fn void_membership_algorithms(&mut self) -> Result<Vec<String>> {
        let sql = "SELECT DISTINCT algorithm FROM void_membership_summary ORDER BY algorithm";
        Ok(self
            .query_rows(sql, sql, &[])?
            .into_iter()
            .map(|r| r[0].to_string())
            .collect())
    }
}
