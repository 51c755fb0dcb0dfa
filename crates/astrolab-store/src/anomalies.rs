//! Anomalous quasars (migration 9): the model registry, one score row per
//! quasar and model, the spectra a model could not score, and the labels
//! people give on the validation page.
//!
//! Scores of a model are written in one transaction that replaces the
//! model's earlier scores and skips (a re-score is all or nothing), through
//! the bulk paths of the ingest (binary COPY on PostgreSQL, prepared
//! multi-row INSERTs on SQLite); big loads drop and rebuild the indexes.
//!
//! Access: a score row derives from one spectrum, whose raw file is
//! `file_id`; every read leaves out the rows of files the caller may not
//! read (the caller's [`crate::ReadRules`], and those of the principal a
//! store acts for). Writing scores or registering a model changes what the
//! whole lab sees, so a run does it only when an admin submitted it.

use std::collections::BTreeMap;

use crate::batch::{Batch, Values};
use crate::error::{Result, StoreError};
use crate::ingest::Progress;
use crate::query::not_in_ids;
use crate::schema::{ColType, TableSpec};
use crate::store::{Conn, Store};
use crate::tx::{int, opt_int, text};
use crate::value::Value;

use crate::schema::computed as col;

/// The `quasar_anomalies` table.
pub static QUASAR_ANOMALIES: TableSpec = TableSpec {
    name: "quasar_anomalies",
    sky: false,
    columns: &[
        col("model_id", ColType::Text),
        col("target_id", ColType::I64),
        col("file_id", ColType::I64),
        col("z", ColType::F64),
        col("latent_vec", ColType::Text),
        col("recon_chi2", ColType::F64),
        col("iso_score", ColType::F64),
        col("anomaly_score", ColType::F64),
        col("rank", ColType::I64),
    ],
};

static ANOMALY_SKIPS: TableSpec = TableSpec {
    name: "anomaly_skips",
    sky: false,
    columns: &[
        col("model_id", ColType::Text),
        col("target_id", ColType::I64),
        col("file_id", ColType::I64),
        col("reason", ColType::Text),
    ],
};

const INDEXES: [&str; 2] = [
    "CREATE UNIQUE INDEX quasar_anomalies_key ON quasar_anomalies (model_id, target_id)",
    "CREATE INDEX quasar_anomalies_rank ON quasar_anomalies (model_id, rank)",
];

/// Raises a model's score generation (in the transaction that writes its
/// scores).
const GENERATION_BUMP: &str =
    "UPDATE anomaly_models SET scores_generation = scores_generation + 1 WHERE model_id = {p}1";

/// Below this many rows the indexes are kept during a load.
const BULK_MIN_ROWS: usize = 50_000;

/// A registered anomaly model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnomalyModel {
    /// `vae-` and 16 hex digits naming the weights, the forest and the
    /// calibration (astrolab-pipeline's `anomalies train`).
    pub model_id: String,
    /// When it was registered (UTC, RFC 3339).
    pub created_at: String,
    /// Size of the latent space.
    pub latent_dim: i64,
    /// SHA-256 of the weights file.
    pub weights_sha256: String,
    /// Architecture, rest-frame grid and training parameters (JSON).
    pub config: serde_json::Value,
    /// Score normalisation, threshold and false-positive rates (JSON).
    pub calibration: serde_json::Value,
    /// The training run's RO-Crate manifest, when it ran as a pipeline.
    pub manifest: Option<serde_json::Value>,
    /// Raw files whose spectra trained the model.
    pub training_file_ids: Vec<i64>,
}

/// One quasar's scores under one model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnomalyScore {
    /// TARGETID.
    pub target_id: i64,
    /// Raw file of the spectrum (access follows it).
    pub file_id: Option<i64>,
    /// Redshift used to bring the spectrum to the rest frame.
    pub z: f64,
    /// Latent mean.
    pub latent: Vec<f32>,
    /// Reduced chi-square of the reconstruction (observed pixels only).
    pub recon_chi2: f64,
    /// Isolation Forest score of the latent vector (0-1, 1 = isolated).
    pub iso_score: f64,
    /// The combined score ranked on.
    pub anomaly_score: f64,
    /// 1 = most anomalous of the model's scored spectra.
    pub rank: i64,
}

/// A spectrum a model could not score, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnomalySkip {
    /// TARGETID.
    pub target_id: i64,
    /// Raw file of the spectrum.
    pub file_id: Option<i64>,
    /// Why (a short stable phrase, counted per reason).
    pub reason: String,
}

/// What people say a ranked spectrum is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnomalyLabel {
    /// A real astrophysical rarity.
    Anomaly,
    /// An instrument or reduction artefact.
    Artefact,
    /// An ordinary quasar.
    Normal,
    /// Not sure.
    Unsure,
}

impl AnomalyLabel {
    /// Every label, in the page's order.
    pub const ALL: [AnomalyLabel; 4] = [
        AnomalyLabel::Anomaly,
        AnomalyLabel::Artefact,
        AnomalyLabel::Normal,
        AnomalyLabel::Unsure,
    ];

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyLabel::Anomaly => "anomaly",
            AnomalyLabel::Artefact => "artefact",
            AnomalyLabel::Normal => "normal",
            AnomalyLabel::Unsure => "unsure",
        }
    }
}

impl std::str::FromStr for AnomalyLabel {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        AnomalyLabel::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                StoreError::bad_request(
                    "label",
                    format!("{s:?} is not a label: use anomaly, artefact, normal or unsure"),
                )
            })
    }
}

/// One user's label of one spectrum.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AnomalyLabelRow {
    /// TARGETID.
    pub target_id: i64,
    /// Who labelled it.
    pub username: String,
    /// What they said.
    pub label: AnomalyLabel,
    /// When (UTC, RFC 3339).
    pub labelled_at: String,
}

/// Which ranked rows to read ([`Store::anomaly_scores`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnomalyFilter {
    /// Only rows with at least this ANOMALY_SCORE.
    pub min_score: Option<f64>,
    /// Redshift range (inclusive).
    pub z_min: Option<f64>,
    /// Redshift range (inclusive).
    pub z_max: Option<f64>,
    /// Only spectra some user gave this label.
    pub label: Option<AnomalyLabel>,
    /// Only these TARGETIDs.
    pub target_ids: Option<Vec<i64>>,
    /// At most this many rows (by rank).
    pub limit: Option<usize>,
    /// Skip this many rows first.
    pub offset: usize,
}

/// The latent vector as stored: a JSON array, shortest round-trip digits.
pub fn latent_text(v: &[f32]) -> String {
    let mut s = String::with_capacity(v.len() * 12 + 2);
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        // `{}` of an f32 prints the shortest digits that read back to the
        // same f32, so the text round-trips exactly.
        s.push_str(&format!("{x}"));
    }
    s.push(']');
    s
}

/// Parses [`latent_text`] back, naming the row on error.
fn parse_latent(s: &str, target_id: i64) -> Result<Vec<f32>> {
    let inner = s
        .trim()
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| {
            StoreError::BadInput(format!(
                "quasar_anomalies row of TARGETID {target_id}: latent_vec {s:?} is not a [..] list"
            ))
        })?;
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    inner
        .split(',')
        .map(|t| {
            t.trim().parse::<f32>().map_err(|_| {
                StoreError::BadInput(format!(
                    "quasar_anomalies row of TARGETID {target_id}: {t:?} in latent_vec is not a number"
                ))
            })
        })
        .collect()
}

impl Store {
    /// The files a read must leave out: the caller's `forbidden` and those
    /// of the principal this store acts for, sorted, each once.
    pub(crate) fn excluded_files(&self, forbidden: &[i64]) -> Vec<i64> {
        let mut excluded: Vec<i64> = forbidden.to_vec();
        excluded.extend(self.acting_forbidden());
        excluded.sort_unstable();
        excluded.dedup();
        excluded
    }

    /// The condition leaving out score rows of `excluded` files, bound as
    /// parameter `next`; None when nothing is excluded. A row without a
    /// file (a spectrum from no registered file) is public, as such files
    /// are everywhere else.
    pub(crate) fn score_row_filter(
        &self,
        excluded: &[i64],
        next: usize,
    ) -> Option<(String, Value)> {
        if excluded.is_empty() {
            return None;
        }
        let pg = ph(self) == '$';
        let (cond, ids) = not_in_ids("a.file_id", excluded, pg, next);
        Some((format!("(a.file_id IS NULL OR {cond})"), ids))
    }
}

pub(crate) fn ph(store: &Store) -> char {
    match store.backend() {
        crate::Backend::Sqlite => '?',
        crate::Backend::Postgres => '$',
    }
}

impl Store {
    /// Registers a model (refused when its id exists: a model id names its
    /// weights, so the same id with other content is an error).
    pub fn register_anomaly_model(&mut self, m: &AnomalyModel) -> Result<()> {
        self.acting_require_admin("the anomaly model registry")?;
        if m.model_id.is_empty() || m.weights_sha256.len() != 64 {
            return Err(StoreError::BadInput(format!(
                "anomaly model {:?}: needs an id and a 64-digit weights SHA-256",
                m.model_id
            )));
        }
        let body = "INSERT INTO anomaly_models (model_id, created_at, latent_dim, weights_sha256, config, calibration, manifest, training_file_ids) VALUES ({p}1, {p}2, {p}3, {p}4, {p}5, {p}6, {p}7, {p}8)";
        let params = [
            Value::Text(m.model_id.clone()),
            Value::Text(m.created_at.clone()),
            Value::Int(m.latent_dim),
            Value::Text(m.weights_sha256.clone()),
            Value::Text(m.config.to_string()),
            Value::Text(m.calibration.to_string()),
            m.manifest
                .as_ref()
                .map_or(Value::Null, |v| Value::Text(v.to_string())),
            Value::Text(serde_json::to_string(&m.training_file_ids).unwrap_or_default()),
        ];
        let mut tx = self.begin()?;
        let r = tx.execute(
            &body.replace("{p}", "?"),
            &body.replace("{p}", "$"),
            &params,
        );
        match r {
            Err(e) if crate::tx::is_unique_violation(&e) => Err(StoreError::BadInput(format!(
                "anomaly model {} is already registered; a model id names its weights and calibration, so train again (another model gets another id) or use the registered model",
                m.model_id
            ))),
            Err(e) => Err(e),
            Ok(_) => tx.commit(),
        }
    }

    /// Every registered model, newest first.
    pub fn anomaly_models(&mut self) -> Result<Vec<AnomalyModel>> {
        let sql = "SELECT model_id, created_at, latent_dim, weights_sha256, config, calibration, manifest, training_file_ids FROM anomaly_models ORDER BY created_at DESC, model_id";
        self.query_rows(sql, sql, &[])?
            .iter()
            .map(|r| model_of_row(r))
            .collect()
    }

    /// One model by id (or by a unique prefix of it).
    pub fn anomaly_model(&mut self, id: &str) -> Result<AnomalyModel> {
        let models: Vec<AnomalyModel> = self
            .anomaly_models()?
            .into_iter()
            .filter(|m| m.model_id.starts_with(id))
            .collect();
        match models.len() {
            1 => Ok(models.into_iter().next().expect("one model")),
            0 => Err(StoreError::bad_request(
                "model",
                format!("no anomaly model {id:?}: `astrolab anomalies models` lists them; train one with `astrolab anomalies train`"),
            )),
            n => Err(StoreError::bad_request(
                "model",
                format!("{id:?} matches {n} models: give more of the id"),
            )),
        }
    }

    /// The newest model, if any.
    pub fn latest_anomaly_model(&mut self) -> Result<Option<AnomalyModel>> {
        Ok(self.anomaly_models()?.into_iter().next())
    }

    /// Replaces `model_id`'s scores and skips by these, in one transaction.
    /// Ranks must be 1..=n, each once.
    pub fn write_anomaly_scores(
        &mut self,
        model_id: &str,
        scores: &[AnomalyScore],
        skips: &[AnomalySkip],
        progress: &mut Progress<'_>,
    ) -> Result<u64> {
        self.acting_require_admin("anomaly scores")?;
        self.anomaly_model(model_id)?;
        let n = scores.len();
        let mut seen = vec![false; n];
        for s in scores {
            let r = s.rank;
            if r < 1 || r as usize > n || std::mem::replace(&mut seen[r as usize - 1], true) {
                return Err(StoreError::BadInput(format!(
                    "anomaly scores of {model_id}: TARGETID {} has rank {r}, not a unique rank in 1..={n}",
                    s.target_id
                )));
            }
            if !(s.anomaly_score.is_finite() && s.recon_chi2.is_finite() && s.iso_score.is_finite())
            {
                return Err(StoreError::BadInput(format!(
                    "anomaly scores of {model_id}: TARGETID {} has a non-finite score; an unscorable spectrum is a skip",
                    s.target_id
                )));
            }
        }
        let mut batch = Batch::new(&QUASAR_ANOMALIES, n);
        batch.set("model_id", Values::ConstText(model_id.to_string()));
        batch.set(
            "target_id",
            Values::I64(scores.iter().map(|s| Some(s.target_id)).collect()),
        );
        batch.set(
            "file_id",
            Values::I64(scores.iter().map(|s| s.file_id).collect()),
        );
        batch.set("z", Values::F64(scores.iter().map(|s| s.z).collect()));
        batch.set(
            "latent_vec",
            Values::TextDict {
                dict: scores.iter().map(|s| latent_text(&s.latent)).collect(),
                codes: (0..n as u32).collect(),
            },
        );
        batch.set(
            "recon_chi2",
            Values::F64(scores.iter().map(|s| s.recon_chi2).collect()),
        );
        batch.set(
            "iso_score",
            Values::F64(scores.iter().map(|s| s.iso_score).collect()),
        );
        batch.set(
            "anomaly_score",
            Values::F64(scores.iter().map(|s| s.anomaly_score).collect()),
        );
        batch.set(
            "rank",
            Values::I64(scores.iter().map(|s| Some(s.rank)).collect()),
        );
        // Rows in rank order: the page reads the top of the ranking.
        batch.sort_by("rank");
        let mut skip_batch = Batch::new(&ANOMALY_SKIPS, skips.len());
        skip_batch.set("model_id", Values::ConstText(model_id.to_string()));
        skip_batch.set(
            "target_id",
            Values::I64(skips.iter().map(|s| Some(s.target_id)).collect()),
        );
        skip_batch.set(
            "file_id",
            Values::I64(skips.iter().map(|s| s.file_id).collect()),
        );
        let mut reasons: Vec<String> = skips.iter().map(|s| s.reason.clone()).collect();
        reasons.sort();
        reasons.dedup();
        skip_batch.set(
            "reason",
            Values::TextDict {
                codes: skips
                    .iter()
                    .map(|s| reasons.binary_search(&s.reason).expect("reason listed") as u32)
                    .collect(),
                dict: reasons,
            },
        );
        let del = [
            "DELETE FROM quasar_anomalies WHERE model_id = {p}1",
            "DELETE FROM anomaly_skips WHERE model_id = {p}1",
        ];
        let key = [Value::Text(model_id.to_string())];
        match &mut self.conn {
            Conn::Sqlite { conn, path } => {
                let path = path.clone();
                let e = StoreError::sqlite;
                let tx = conn.transaction().map_err(e(&path))?;
                for d in del {
                    tx.execute(
                        &d.replace("{p}", "?"),
                        rusqlite::params_from_iter(key.iter()),
                    )
                    .map_err(e(&path))?;
                }
                let existing: i64 = tx
                    .query_row("SELECT COUNT(*) FROM quasar_anomalies", [], |r| r.get(0))
                    .map_err(e(&path))?;
                let bulk = n >= BULK_MIN_ROWS && n as i64 >= existing;
                if bulk {
                    tx.execute_batch(
                        "DROP INDEX IF EXISTS quasar_anomalies_key; DROP INDEX IF EXISTS quasar_anomalies_rank;",
                    )
                    .map_err(e(&path))?;
                }
                crate::sqlite::load_batch(&tx, &path, &batch, progress)?;
                if bulk {
                    for sql in INDEXES {
                        tx.execute_batch(sql).map_err(e(&path))?;
                    }
                }
                crate::sqlite::load_batch(&tx, &path, &skip_batch, &mut Progress::none())?;
                tx.execute(
                    &GENERATION_BUMP.replace("{p}", "?"),
                    rusqlite::params_from_iter(key.iter()),
                )
                .map_err(e(&path))?;
                tx.commit().map_err(e(&path))?;
            }
            Conn::Postgres(client) => {
                let mut tx = client.transaction()?;
                for d in del {
                    tx.execute(&d.replace("{p}", "$"), &[&model_id])?;
                }
                let row = tx.query_one(
                    "SELECT GREATEST(c.reltuples, 0)::float8 FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE c.relname = 'quasar_anomalies' AND s.nspname = current_schema()",
                    &[],
                )?;
                let existing: f64 = row.get(0);
                let bulk = n >= BULK_MIN_ROWS && n as f64 >= existing;
                if bulk {
                    tx.batch_execute(
                        "DROP INDEX IF EXISTS quasar_anomalies_key; DROP INDEX IF EXISTS quasar_anomalies_rank; SET LOCAL maintenance_work_mem = '512MB';",
                    )?;
                }
                crate::postgres::load_batch(&mut tx, &batch, progress)?;
                if bulk {
                    for sql in INDEXES {
                        tx.batch_execute(sql)?;
                    }
                }
                crate::postgres::load_batch(&mut tx, &skip_batch, &mut Progress::none())?;
                tx.execute(&GENERATION_BUMP.replace("{p}", "$"), &[&model_id])?;
                if n >= 10_000 {
                    tx.batch_execute("ANALYZE quasar_anomalies")?;
                }
                tx.commit()?;
            }
        }
        Ok(n as u64)
    }

    /// TARGETIDs of the redshift catalogs (`redshifts`, the ingested
    /// redrock files, then `zcatalog`) that pass `select`, a `--where`
    /// expression over their columns (e.g. `spectype = 'QSO' AND zwarn =
    /// 0`), leaving out rows of files in `forbidden` and of files the
    /// principal a store acts for may not read. Sorted, each once.
    pub fn select_target_ids(&mut self, select: &str, forbidden: &[i64]) -> Result<Vec<i64>> {
        let p = ph(self);
        let excluded = self.excluded_files(forbidden);
        let mut out = Vec::new();
        for spec in [&crate::schema::REDSHIFTS, &crate::schema::ZCATALOG] {
            let c = crate::query::filter::compile(select, spec, p, 1)?;
            let mut params = c.params;
            let mut sql = format!(
                "SELECT DISTINCT targetid FROM {} WHERE ({})",
                spec.name, c.sql
            );
            if !excluded.is_empty() {
                let (cond, ids) = not_in_ids("file_id", &excluded, p == '$', params.len() + 1);
                params.push(ids);
                sql.push_str(&format!(" AND {cond}"));
            }
            out.extend(
                self.query_rows(&sql, &sql, &params)?
                    .iter()
                    .map(|r| int(&r[0])),
            );
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Ranked score rows of a model that pass `filter`, most anomalous
    /// first, leaving out the files in `forbidden` (the caller's
    /// [`crate::ReadRules::forbidden_ids`]) and those the principal a
    /// store acts for may not read.
    pub fn anomaly_scores(
        &mut self,
        model_id: &str,
        filter: &AnomalyFilter,
        forbidden: &[i64],
    ) -> Result<Vec<AnomalyScore>> {
        let p = ph(self);
        let pg = p == '$';
        let mut params = vec![Value::Text(model_id.to_string())];
        let mut conds = vec![format!("a.model_id = {p}1")];
        let bind = |v: Value, params: &mut Vec<Value>| {
            params.push(v);
            format!("{p}{}", params.len())
        };
        if let Some(s) = filter.min_score {
            conds.push(format!(
                "a.anomaly_score >= {}",
                bind(Value::Float(s), &mut params)
            ));
        }
        if let Some(z) = filter.z_min {
            conds.push(format!("a.z >= {}", bind(Value::Float(z), &mut params)));
        }
        if let Some(z) = filter.z_max {
            conds.push(format!("a.z <= {}", bind(Value::Float(z), &mut params)));
        }
        if let Some(l) = filter.label {
            let b = bind(Value::Text(l.as_str().into()), &mut params);
            conds.push(format!(
                "EXISTS (SELECT 1 FROM anomaly_labels l WHERE l.model_id = a.model_id AND l.target_id = a.target_id AND l.label = {b})"
            ));
        }
        let excluded = self.excluded_files(forbidden);
        if let Some((cond, ids)) = self.score_row_filter(&excluded, params.len() + 1) {
            params.push(ids);
            conds.push(cond);
        }
        let mut sql = format!(
            "SELECT a.target_id, a.file_id, a.z, a.latent_vec, a.recon_chi2, a.iso_score, a.anomaly_score, a.rank FROM quasar_anomalies a WHERE {}",
            conds.join(" AND ")
        );
        if let Some(ids) = &filter.target_ids {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
            // Integers formatted by us, never text from a caller.
            sql.push_str(&format!(" AND a.target_id IN ({})", list.join(",")));
        }
        sql.push_str(" ORDER BY a.rank");
        if let Some(l) = filter.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        if filter.offset > 0 {
            if filter.limit.is_none() && !pg {
                sql.push_str(" LIMIT -1");
            }
            sql.push_str(&format!(" OFFSET {}", filter.offset));
        }
        let rows = self.query_rows(&sql, &sql, &params)?;
        let out: Vec<AnomalyScore> = rows
            .iter()
            .map(|r| {
                let target_id = int(&r[0]);
                Ok(AnomalyScore {
                    target_id,
                    file_id: opt_int(&r[1]),
                    z: r[2].as_f64().unwrap_or(f64::NAN),
                    latent: parse_latent(&text(&r[3]), target_id)?,
                    recon_chi2: r[4].as_f64().unwrap_or(f64::NAN),
                    iso_score: r[5].as_f64().unwrap_or(f64::NAN),
                    anomaly_score: r[6].as_f64().unwrap_or(f64::NAN),
                    rank: int(&r[7]),
                })
            })
            .collect::<Result<_>>()?;
        self.acting_note_read(
            "anomaly scores",
            out.iter().filter_map(|s| s.file_id).collect::<Vec<_>>(),
        )?;
        Ok(out)
    }

    /// How many times the model's scores were written (0: never): a cache
    /// of its rows is current while this is unchanged. One primary-key read.
    pub fn anomaly_scores_generation(&mut self, model_id: &str) -> Result<i64> {
        let body = "SELECT scores_generation FROM anomaly_models WHERE model_id = {p}1";
        Ok(self
            .query_rows(
                &body.replace("{p}", "?"),
                &body.replace("{p}", "$"),
                &[Value::Text(model_id.to_string())],
            )?
            .first()
            .map_or(0, |r| int(&r[0])))
    }

    /// Number of scored rows of a model the caller may read.
    pub fn anomaly_score_count(&mut self, model_id: &str, forbidden: &[i64]) -> Result<i64> {
        let p = ph(self);
        let mut params = vec![Value::Text(model_id.to_string())];
        let mut sql = format!("SELECT COUNT(*) FROM quasar_anomalies a WHERE a.model_id = {p}1");
        let excluded = self.excluded_files(forbidden);
        if let Some((cond, ids)) = self.score_row_filter(&excluded, 2) {
            params.push(ids);
            sql.push_str(&format!(" AND {cond}"));
        }
        Ok(self
            .query_rows(&sql, &sql, &params)?
            .first()
            .map_or(0, |r| int(&r[0])))
    }

    /// Skipped spectra per reason (every file: counts reveal no rows).
    pub fn anomaly_skip_counts(&mut self, model_id: &str) -> Result<BTreeMap<String, i64>> {
        let body = "SELECT reason, COUNT(*) FROM anomaly_skips WHERE model_id = {p}1 GROUP BY reason ORDER BY reason";
        Ok(self
            .query_rows(
                &body.replace("{p}", "?"),
                &body.replace("{p}", "$"),
                &[Value::Text(model_id.to_string())],
            )?
            .iter()
            .map(|r| (text(&r[0]), int(&r[1])))
            .collect())
    }

    /// Sets `username`'s label of a scored spectrum (replacing theirs) and
    /// audits it. The spectrum must be one of the model's scored rows the
    /// caller may read (`forbidden` as in [`Store::anomaly_scores`]).
    pub fn set_anomaly_label(
        &mut self,
        model_id: &str,
        target_id: i64,
        label: AnomalyLabel,
        username: &str,
        forbidden: &[i64],
    ) -> Result<AnomalyLabelRow> {
        let hit = self.anomaly_scores(
            model_id,
            &AnomalyFilter {
                target_ids: Some(vec![target_id]),
                ..AnomalyFilter::default()
            },
            forbidden,
        )?;
        if hit.is_empty() {
            return Err(StoreError::bad_request(
                "target_id",
                format!(
                    "TARGETID {target_id} has no score under model {model_id} that you may read"
                ),
            ));
        }
        let now = crate::registry::now_rfc3339();
        let body_del = "DELETE FROM anomaly_labels WHERE model_id = {p}1 AND target_id = {p}2 AND username = {p}3";
        let body_ins = "INSERT INTO anomaly_labels (model_id, target_id, username, label, labelled_at) VALUES ({p}1, {p}2, {p}3, {p}4, {p}5)";
        let key = [
            Value::Text(model_id.to_string()),
            Value::Int(target_id),
            Value::Text(username.to_string()),
        ];
        let mut row = key.to_vec();
        row.push(Value::Text(label.as_str().into()));
        row.push(Value::Text(now.clone()));
        let mut tx = self.begin()?;
        tx.execute(
            &body_del.replace("{p}", "?"),
            &body_del.replace("{p}", "$"),
            &key,
        )?;
        tx.execute(
            &body_ins.replace("{p}", "?"),
            &body_ins.replace("{p}", "$"),
            &row,
        )?;
        tx.commit()?;
        let mut e = crate::AuditEvent::new(
            username.to_string(),
            String::new(),
            "anomaly.label",
            format!("{model_id}/{target_id}"),
            "ok",
        );
        e.details = serde_json::json!({ "label": label.as_str() });
        self.append_audit(&e)?;
        Ok(AnomalyLabelRow {
            target_id,
            username: username.to_string(),
            label,
            labelled_at: now,
        })
    }

    /// Every label of a model's spectra the caller may read, by TARGETID
    /// then user.
    pub fn anomaly_labels(
        &mut self,
        model_id: &str,
        forbidden: &[i64],
    ) -> Result<Vec<AnomalyLabelRow>> {
        let p = ph(self);
        let mut params = vec![Value::Text(model_id.to_string())];
        let mut sql = format!(
            "SELECT l.target_id, l.username, l.label, l.labelled_at, a.file_id FROM anomaly_labels l JOIN quasar_anomalies a ON a.model_id = l.model_id AND a.target_id = l.target_id WHERE l.model_id = {p}1"
        );
        let excluded = self.excluded_files(forbidden);
        if let Some((cond, ids)) = self.score_row_filter(&excluded, 2) {
            params.push(ids);
            sql.push_str(&format!(" AND {cond}"));
        }
        sql.push_str(" ORDER BY l.target_id, l.username");
        self.query_rows(&sql, &sql, &params)?
            .iter()
            .map(|r| {
                Ok(AnomalyLabelRow {
                    target_id: int(&r[0]),
                    username: text(&r[1]),
                    label: text(&r[2]).parse()?,
                    labelled_at: text(&r[3]),
                })
            })
            .collect()
    }
}

fn model_of_row(r: &[Value]) -> Result<AnomalyModel> {
    let id = text(&r[0]);
    let json = |v: &Value, what: &str| -> Result<serde_json::Value> {
        serde_json::from_str(&text(v)).map_err(|e| {
            StoreError::BadInput(format!("anomaly model {id}: {what} is not JSON: {e}"))
        })
    };
    Ok(AnomalyModel {
        created_at: text(&r[1]),
        latent_dim: int(&r[2]),
        weights_sha256: text(&r[3]),
        config: json(&r[4], "config")?,
        calibration: json(&r[5], "calibration")?,
        manifest: match &r[6] {
            Value::Null => None,
            v => Some(json(v, "manifest")?),
        },
        training_file_ids: serde_json::from_str(&text(&r[7])).map_err(|e| {
            StoreError::BadInput(format!(
                "anomaly model {id}: training_file_ids is not a JSON list: {e}"
            ))
        })?,
        model_id: id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latent_text_round_trips_exactly() {
        let v = [0.1f32, -1.5e-7, 3.4028235e38, 0.0, -0.0, 1.0 / 3.0];
        let s = latent_text(&v);
        assert_eq!(
            s,
            "[0.1,-0.00000015,340282350000000000000000000000000000000,0,-0,0.33333334]"
        );
        let back = parse_latent(&s, 1).unwrap();
        for (a, b) in v.iter().zip(&back) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        assert!(parse_latent("1,2", 7)
            .unwrap_err()
            .to_string()
            .contains("TARGETID 7"));
        assert_eq!(parse_latent("[]", 1).unwrap(), Vec::<f32>::new());
    }

    #[test]
    fn labels_parse_and_refuse_other_words() {
        for l in AnomalyLabel::ALL {
            assert_eq!(l.as_str().parse::<AnomalyLabel>().unwrap(), l);
        }
        let e = "weird".parse::<AnomalyLabel>().unwrap_err().to_string();
        assert!(e.contains("anomaly, artefact, normal or unsure"), "{e}");
    }
}
