//! Galaxy void membership (migration 4): per galaxy and void catalog the
//! vflag (0 wall, 1 void, 2 edge, 9 outside), void id, R_VOID_NORM and the
//! void's edge class, as computed by `astrolab_voids::membership`.
//!
//! A write replaces the membership of one or more (catalog, algorithm, cap)
//! keys, all or none, and writes the per-vflag counts into
//! `void_membership_summary` in the same transaction, so a summary never
//! scans the rows. On SQLite it is one transaction that removes the keys'
//! earlier rows and loads the new ones by multi-row prepared INSERTs (big
//! loads drop and rebuild the indexes). On PostgreSQL (migration 13) the
//! table is partitioned by key: each key's rows are first *staged*, loaded
//! by binary COPY into a table of their own with their indexes and the
//! partition constraint built, which writers of different catalogs do in
//! parallel (a cluster task per catalog); publishing then swaps the staged
//! tables in for the keys' earlier partitions in one short transaction
//! (ATTACH PARTITION: no copy, no scan). Selections ("void vs wall") read the covering index
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

/// What one vflag from one galaxy source adds to the summary
/// (`void_membership_summary`'s row before its mean is taken).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceCount {
    /// 0 wall, 1 void, 2 edge, 9 outside.
    pub vflag: u8,
    /// The galaxies' raw file (None: a file the store never registered).
    pub galaxy_file_id: Option<i64>,
    /// Galaxies.
    pub n_galaxies: i64,
    /// Sum of their finite R_VOID_NORM.
    pub r_void_norm_sum: f64,
    /// How many had one.
    pub n_r_void_norm: i64,
}

/// Per vflag and galaxy source, in (vflag, source) order.
fn source_counts(rows: &MembershipRows) -> Vec<SourceCount> {
    type Counts = std::collections::BTreeMap<(u8, Option<i64>), (i64, f64, i64)>;
    let mut counts: Counts = Default::default();
    for i in 0..rows.target_id.len() {
        let e = counts
            .entry((rows.vflag[i], rows.galaxy_file_id[i]))
            .or_default();
        e.0 += 1;
        if rows.r_void_norm[i].is_finite() {
            e.1 += rows.r_void_norm[i];
            e.2 += 1;
        }
    }
    counts
        .into_iter()
        .map(|((vflag, galaxy_file_id), (n, sum, nr))| SourceCount {
            vflag,
            galaxy_file_id,
            n_galaxies: n,
            r_void_norm_sum: sum,
            n_r_void_norm: nr,
        })
        .collect()
}

/// A catalog's membership loaded and indexed beside the table by
/// [`Store::stage_void_membership`] (PostgreSQL), read by no one until
/// [`Store::publish_void_memberships`] makes it the catalog's membership.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StagedMembership {
    /// Which catalog.
    pub key: MembershipKey,
    /// The staging table (`void_membership_stage_...`).
    pub table: String,
    /// Rows in it.
    pub rows: u64,
    /// Its summary rows.
    pub counts: Vec<SourceCount>,
}

/// Every staging table's name starts with this.
pub const STAGE_PREFIX: &str = "void_membership_stage_";

/// `stage` as a staging table name: lower-case letters, digits and `_`
/// only (it is formatted into DDL), short enough for an identifier.
fn stage_table(stage: &str) -> Result<String> {
    let ok = !stage.is_empty()
        && stage.len() <= 40
        && stage
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(StoreError::BadInput(format!(
            "void membership stage {stage:?}: use 1-40 lower-case letters, digits or '_'"
        )));
    }
    Ok(format!("{STAGE_PREFIX}{stage}"))
}

/// A staged table name read back from a partial result: it must be one of
/// ours (it is formatted into DDL).
fn check_staged_name(table: &str) -> Result<()> {
    match table.strip_prefix(STAGE_PREFIX) {
        Some(s) => stage_table(s).map(|_| ()),
        None => Err(StoreError::BadInput(format!(
            "{table:?} is not a staged void membership table"
        ))),
    }
}

/// A fresh stage name: time, process and a counter, hashed (unique among
/// concurrent writers, never derived from user input).
pub fn fresh_stage() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!(
        "{nanos} {} {}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    hex::encode(&Sha256::digest(seed.as_bytes())[..8])
}

/// The partition key of `key`: the SQL `catalog || '|' || algorithm || '|' || cap`.
fn partition_key(key: &MembershipKey) -> String {
    format!("{}|{}|{}", key.catalog, key.algorithm, key.cap)
}

/// The rows of `key` as a load batch, in TARGETID order: selections by
/// (algorithm, vflag) then read ids in index order, and joins by TARGETID
/// touch pages in order.
fn membership_batch(key: &MembershipKey, rows: &MembershipRows) -> Batch {
    let mut batch = Batch::new(&VOID_MEMBERSHIP, rows.target_id.len());
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
    batch.sort_by("target_id");
    batch
}

const DEL_SUM: &str =
    "DELETE FROM void_membership_summary WHERE catalog = {p}1 AND algorithm = {p}2 AND cap = {p}3";
const INS_SUM: &str = "INSERT INTO void_membership_summary (file_id, catalog, algorithm, cap, vflag, galaxy_file_id, n_galaxies, n_r_void_norm, r_void_norm_mean, classified_at) VALUES ({p}1, {p}2, {p}3, {p}4, {p}5, {p}6, {p}7, {p}8, {p}9, {p}10)";

fn key_params(key: &MembershipKey) -> [Value; 3] {
    [
        Value::Text(key.catalog.clone()),
        Value::Text(key.algorithm.clone()),
        Value::Text(key.cap.clone()),
    ]
}

fn summary_params(key: &MembershipKey, c: &SourceCount, now: &str) -> Vec<Value> {
    vec![
        key.file_id.map_or(Value::Null, Value::Int),
        Value::Text(key.catalog.clone()),
        Value::Text(key.algorithm.clone()),
        Value::Text(key.cap.clone()),
        Value::Int(i64::from(c.vflag)),
        c.galaxy_file_id.map_or(Value::Null, Value::Int),
        Value::Int(c.n_galaxies),
        Value::Int(c.n_r_void_norm),
        if c.n_r_void_norm > 0 {
            Value::Float(c.r_void_norm_sum / c.n_r_void_norm as f64)
        } else {
            Value::Null
        },
        Value::Text(now.to_string()),
    ]
}

fn pg_params(v: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    v.iter()
        .map(|x| x as &(dyn postgres::types::ToSql + Sync))
        .collect()
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
        self.write_void_memberships(&[(key, rows)], progress)
    }

    /// Replaces the membership of every key by its rows, all of them or
    /// none: one transaction on SQLite (indexes dropped and rebuilt once
    /// when the new rows outnumber the old); on PostgreSQL each key's rows
    /// are staged ([`Store::stage_void_membership`]) and published in one
    /// transaction. Returns the number of rows written.
    pub fn write_void_memberships(
        &mut self,
        items: &[(&MembershipKey, &MembershipRows)],
        progress: &mut Progress<'_>,
    ) -> Result<u64> {
        self.acting_require_admin("void membership")?;
        let mut total = 0usize;
        for (i, (k, r)) in items.iter().enumerate() {
            total += r.check()?;
            if items[..i]
                .iter()
                .any(|(o, _)| partition_key(o) == partition_key(k))
            {
                return Err(StoreError::BadInput(format!(
                    "void membership: {} ({}, {}) is given twice",
                    k.catalog, k.algorithm, k.cap
                )));
            }
        }
        match &self.conn {
            Conn::Sqlite { .. } => self.write_memberships_sqlite(items, total, progress)?,
            Conn::Postgres(_) => {
                let tag = fresh_stage();
                let mut staged = Vec::with_capacity(items.len());
                for (i, (k, r)) in items.iter().enumerate() {
                    match self.stage_void_membership(&format!("{tag}_{i}"), k, r) {
                        Ok(s) => staged.push(s),
                        Err(e) => {
                            self.drop_staged_memberships(&staged);
                            return Err(e);
                        }
                    }
                    progress.rows(r.target_id.len() as u64)?;
                }
                if let Err(e) = self.publish_void_memberships(&staged) {
                    self.drop_staged_memberships(&staged);
                    return Err(e);
                }
            }
        }
        for (k, r) in items {
            self.cache_selections_after_write(k, r);
        }
        Ok(total as u64)
    }

    fn write_memberships_sqlite(
        &mut self,
        items: &[(&MembershipKey, &MembershipRows)],
        total: usize,
        progress: &mut Progress<'_>,
    ) -> Result<()> {
        let Conn::Sqlite { conn, path } = &mut self.conn else {
            unreachable!("called for SQLite stores only")
        };
        let path = path.clone();
        let e = StoreError::sqlite;
        let sq = |s: &str| s.replace("{p}", "?");
        let now = crate::registry::now_rfc3339();
        let tx = conn.transaction().map_err(e(&path))?;
        for (k, _) in items {
            let kp = key_params(k);
            tx.execute(
                "DELETE FROM void_membership WHERE catalog = ?1 AND algorithm = ?2 AND cap = ?3",
                rusqlite::params_from_iter(kp.iter()),
            )
            .map_err(e(&path))?;
            tx.execute(&sq(DEL_SUM), rusqlite::params_from_iter(kp.iter()))
                .map_err(e(&path))?;
        }
        let existing: i64 = tx
            .query_row("SELECT COUNT(*) FROM void_membership", [], |r| r.get(0))
            .map_err(e(&path))?;
        let bulk = total >= BULK_MIN_ROWS && total as i64 >= existing;
        if bulk {
            tx.execute_batch(
                "DROP INDEX IF EXISTS void_membership_select; DROP INDEX IF EXISTS void_membership_target;",
            )
            .map_err(e(&path))?;
        }
        for (k, r) in items {
            crate::sqlite::load_batch(&tx, &path, &membership_batch(k, r), progress)?;
        }
        if bulk {
            for sql in INDEXES {
                tx.execute_batch(sql).map_err(e(&path))?;
            }
        }
        for (k, r) in items {
            for c in source_counts(r) {
                tx.execute(
                    &sq(INS_SUM),
                    rusqlite::params_from_iter(summary_params(k, &c, &now).iter()),
                )
                .map_err(e(&path))?;
            }
        }
        tx.commit().map_err(e(&path))?;
        Ok(())
    }

    /// Whether this store takes memberships staged by parallel writers
    /// ([`Store::stage_void_membership`]): PostgreSQL, whose membership
    /// table is partitioned by catalog. SQLite's writes are serial: use
    /// [`Store::write_void_memberships`].
    pub fn stages_void_membership(&self) -> bool {
        matches!(self.conn, Conn::Postgres(_))
    }

    /// Loads `key`'s membership into its own table beside the membership
    /// table (`void_membership_stage_STAGE`), with the indexes and the
    /// partition constraint built, and analyses it: the whole cost of a
    /// write, which writers of different catalogs pay in parallel. No
    /// reader sees it until [`Store::publish_void_memberships`]. Writing
    /// the same stage again (a retried task) replaces it. PostgreSQL only.
    pub fn stage_void_membership(
        &mut self,
        stage: &str,
        key: &MembershipKey,
        rows: &MembershipRows,
    ) -> Result<StagedMembership> {
        self.acting_require_admin("void membership")?;
        let n = rows.check()?;
        let table = stage_table(stage)?;
        let batch = membership_batch(key, rows);
        let Conn::Postgres(client) = &mut self.conn else {
            return Err(StoreError::BadInput(
                "staging a void membership needs a PostgreSQL store; SQLite writes with one transaction (write_void_memberships)".into(),
            ));
        };
        let mut tx = client.transaction()?;
        let attached: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass($1))",
                &[&table],
            )?
            .get(0);
        if attached {
            return Err(StoreError::BadInput(format!(
                "{table} is a published void membership already; stage under a new name"
            )));
        }
        tx.batch_execute(&format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (LIKE void_membership INCLUDING DEFAULTS);"
        ))?;
        crate::postgres::load_batch_into(&mut tx, &batch, &table, &mut Progress::none())?;
        // The partition constraint as a CHECK, so ATTACH PARTITION need not
        // scan the rows; the literal is quoted by the server (format %L).
        let check: String = tx
            .query_one(
                "SELECT format('ALTER TABLE %I ADD CONSTRAINT %I CHECK ((catalog || ''|'' || algorithm || ''|'' || cap) = %L)', $1::text, $2::text, $3::text)",
                &[&table, &format!("{table}_key"), &partition_key(key)],
            )?
            .get(0);
        tx.batch_execute(&check)?;
        tx.batch_execute(&format!(
            "SET LOCAL maintenance_work_mem = '256MB'; \
             CREATE INDEX {table}_select ON {table} (algorithm, vflag, target_id); \
             CREATE INDEX {table}_target ON {table} (target_id); \
             ANALYZE {table};"
        ))?;
        let comment: String = tx
            .query_one(
                "SELECT format('COMMENT ON TABLE %I IS %L', $1::text, $2::text)",
                &[
                    &table,
                    &format!(
                        "astrolab staged void membership; created {}",
                        crate::registry::now_rfc3339()
                    ),
                ],
            )?
            .get(0);
        tx.batch_execute(&comment)?;
        tx.commit()?;
        Ok(StagedMembership {
            key: key.clone(),
            table,
            rows: n as u64,
            counts: source_counts(rows),
        })
    }

    /// Makes staged memberships the memberships of their catalogs, in one
    /// transaction: each catalog's earlier partition is dropped, the staged
    /// table attached in its place (no copy, no scan: it carries the
    /// partition constraint and the indexes) and the summary rewritten.
    /// A staged table that vanished is named. PostgreSQL only.
    pub fn publish_void_memberships(&mut self, staged: &[StagedMembership]) -> Result<()> {
        self.acting_require_admin("void membership")?;
        for s in staged {
            check_staged_name(&s.table)?;
        }
        let now = crate::registry::now_rfc3339();
        let Conn::Postgres(client) = &mut self.conn else {
            return Err(StoreError::BadInput(
                "publishing staged void memberships needs a PostgreSQL store".into(),
            ));
        };
        let mut tx = client.transaction()?;
        for s in staged {
            let found: Option<i64> = tx
                .query_opt(
                    "SELECT (SELECT count(*) FROM pg_inherits WHERE inhrelid = c.oid) FROM (SELECT to_regclass($1) AS oid) c WHERE c.oid IS NOT NULL",
                    &[&s.table],
                )?
                .map(|r| r.get(0));
            match found {
                None => {
                    return Err(StoreError::BadInput(format!(
                        "the staged membership of {} ({}, {}) is gone (table {} does not exist); classify again",
                        s.key.catalog, s.key.algorithm, s.key.cap, s.table
                    )))
                }
                Some(n) if n > 0 => {
                    return Err(StoreError::BadInput(format!(
                        "{} is published already; classify again",
                        s.table
                    )))
                }
                Some(_) => {}
            }
            let pkey = partition_key(&s.key);
            let old: Vec<String> = tx
                .query(
                    "SELECT format('DROP TABLE %I', c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                     WHERE i.inhparent = 'void_membership'::regclass \
                       AND pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES IN (%L)', $1::text)",
                    &[&pkey],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for sql in old {
                tx.batch_execute(&sql)?;
            }
            let attach: String = tx
                .query_one(
                    "SELECT format('ALTER TABLE void_membership ATTACH PARTITION %I FOR VALUES IN (%L); COMMENT ON TABLE %I IS NULL', $1::text, $2::text, $1::text)",
                    &[&s.table, &pkey],
                )?
                .get(0);
            tx.batch_execute(&attach)?;
            let pg = |q: &str| q.replace("{p}", "$");
            let kp = key_params(&s.key);
            tx.execute(&pg(DEL_SUM), &pg_params(&kp))?;
            for c in &s.counts {
                let p = summary_params(&s.key, c, &now);
                tx.execute(&pg(INS_SUM), &pg_params(&p))?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Drops staged memberships that were not published (a failed run's);
    /// failures are logged, not returned (this runs on an error path).
    pub fn drop_staged_memberships(&mut self, staged: &[StagedMembership]) {
        let Conn::Postgres(client) = &mut self.conn else {
            return;
        };
        for s in staged {
            if check_staged_name(&s.table).is_err() {
                continue;
            }
            let sql = format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass('{t}')) THEN DROP TABLE IF EXISTS {t}; END IF; END $$",
                t = s.table
            );
            if let Err(e) = client.batch_execute(&sql) {
                tracing::warn!(table = %s.table, error = %e, "could not drop a staged void membership");
            }
        }
    }

    /// Drops the staging tables that no run published and that are older
    /// than `hours` (those of runs that failed or were killed before their
    /// reduce step); younger ones may belong to a run still going. Returns
    /// how many were dropped. Nothing to do on SQLite.
    pub fn drop_stale_staged_memberships(&mut self, hours: f64) -> Result<usize> {
        let Conn::Postgres(client) = &mut self.conn else {
            return Ok(0);
        };
        let rows = client.query(
            "SELECT c.relname::text, obj_description(c.oid, 'pg_class') FROM pg_class c \
             WHERE c.relkind = 'r' AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) \
               AND starts_with(c.relname::text, $1) \
               AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)",
            &[&STAGE_PREFIX],
        )?;
        let cutoff = time::OffsetDateTime::now_utc() - time::Duration::seconds_f64(hours * 3600.0);
        let mut dropped = 0;
        for r in rows {
            let name: String = r.get(0);
            let comment: Option<String> = r.get(1);
            let created = comment
                .as_deref()
                .and_then(|c| c.rsplit("created ").next())
                .and_then(|t| {
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .ok()
                });
            // A staging table without a readable time is one whose
            // creating transaction never committed its comment: not ours
            // to judge; leave it.
            if created.is_some_and(|c| c < cutoff) && check_staged_name(&name).is_ok() {
                client.batch_execute(&format!("DROP TABLE IF EXISTS {name}"))?;
                dropped += 1;
            }
        }
        Ok(dropped)
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
    ///
    /// Inside a run, rows whose catalog or galaxies its submitter may not
    /// read are left out, and reads of restricted ones are noted.
    pub fn void_membership_vflags(&mut self, algorithm: &str) -> Result<Vec<(i64, i64)>> {
        let mut params = vec![Value::Text(algorithm.to_string())];
        let forbidden = self.acting_membership_forbidden()?;
        let exclude = self.membership_exclusion("", &forbidden, &mut params);
        let body = format!("SELECT target_id, vflag, file_id, galaxy_file_id FROM void_membership WHERE algorithm = {{p}}1{exclude} ORDER BY cap, target_id");
        let (s, p) = (body.replace("{p}", "?"), body.replace("{p}", "$"));
        let rows = self.query_rows(&s, &p, &params)?;
        self.note_membership_read(&format!("void membership ({algorithm})"), &rows, &[2, 3])?;
        Ok(rows
            .into_iter()
            .filter_map(|r| Some((r[0].as_i64()?, r[1].as_i64()?)))
            .collect())
    }

    /// Membership sources the principal a store acts for may not read
    /// (empty when it acts for nobody): as the API's callers are filtered.
    fn acting_membership_forbidden(&mut self) -> Result<Vec<i64>> {
        match self.acting.clone() {
            None => Ok(Vec::new()),
            Some(a) => self.forbidden_membership_sources(&a.projects, a.rules.is_admin()),
        }
    }

    /// Notes a read of rows whose source files are in `columns` (audit
    /// and the run's restriction, when a store acts for someone).
    fn note_membership_read(
        &mut self,
        what: &str,
        rows: &[Vec<Value>],
        columns: &[usize],
    ) -> Result<()> {
        if self.acting.is_none() {
            return Ok(());
        }
        let files: std::collections::BTreeSet<i64> = rows
            .iter()
            .flat_map(|r| columns.iter().filter_map(|&c| r[c].as_i64()))
            .filter(|&f| f >= 0)
            .collect();
        self.acting_note_read(what, files)
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
    /// age, zzsun, fastspec_file_id, catalog_file_id, galaxy_file_id` (NULL
    /// where a galaxy has no FastSpecFit row). Membership rows whose catalog
    /// or galaxies come from `exclude_file_ids`, and FastSpecFit rows of
    /// those files, are left out (a caller's
    /// [`Store::forbidden_membership_sources`]); inside a run, so are those
    /// its submitter may not read, and reads of restricted rows are noted.
    pub fn void_membership_with_fastspec(
        &mut self,
        algorithm: &str,
        exclude_file_ids: &[i64],
    ) -> Result<ResultTable> {
        // Inside a run, also what its submitter may not read.
        let mut exclude_file_ids = exclude_file_ids.to_vec();
        exclude_file_ids.extend(self.acting_membership_forbidden()?);
        exclude_file_ids.sort_unstable();
        exclude_file_ids.dedup();
        let exclude_file_ids = &exclude_file_ids[..];
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
        let body = format!("SELECT m.target_id, m.cap, m.vflag, f.z, f.logmstar, f.sfr, f.dn4000, f.age, f.zzsun, f.file_id, m.file_id, m.galaxy_file_id FROM void_membership m LEFT JOIN fastspec f ON f.targetid = m.target_id{fastspec_exclude} WHERE m.algorithm = {{p}}1{exclude} ORDER BY m.target_id");
        let s = body.replace("{p}", "?");
        let p = body.replace("{p}", "$");
        let rows = self.query_rows(&s, &p, &params)?;
        self.note_membership_read(
            &format!("void membership ({algorithm}) with FastSpecFit"),
            &rows,
            &[9, 10, 11],
        )?;
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
                "catalog_file_id",
                "galaxy_file_id",
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
