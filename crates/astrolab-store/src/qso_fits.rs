//! Quasar spectral fits (migration 12): one row per quasar and fit catalog
//! (astrolab-pipeline's `qso fit` over the store's spectra), and the fit
//! settings of each catalog.
//!
//! The catalog id is `qsofit-` and 16 hex digits of the SHA-256 of the
//! settings' JSON ([`fit_catalog_id`]), checked on every write, so rows of
//! one id were fitted alike and the settings beside them are the ones
//! used. The settings carry the Fe II templates' text, so a reader (the
//! server's spectrum page) redraws a fit's model and components without
//! the files.
//!
//! A run writes its catalog id's rows and settings in one transaction that
//! replaces the id's earlier rows (all or nothing). Quasars that got no
//! numbers are rows too, with the reason in `outcome` and every number
//! NULL: counted, never given a number.
//!
//! Access: a row derives from one spectrum, whose raw file is `file_id`;
//! every read leaves out the rows of files the caller may not read. Writing
//! changes what the whole lab sees, so a run does it only when an admin
//! submitted it (as for BAL measurements and anomaly scores).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::batch::{Batch, Values};
use crate::catalog_rows::{check_unique_targets, dict, texts, AfterLoad};
use crate::error::{Result, StoreError};
use crate::ingest::Progress;
use crate::schema::computed as col;
use crate::schema::{ColType, TableSpec};
use crate::store::Store;
use crate::tx::{int, opt_float, opt_int, text};
use crate::value::Value;

/// `outcome` of a fitted quasar.
pub const FITTED: &str = "fitted";

/// The measurements kept as table columns (lower case there), in the
/// table's order; every one is in `row_json` too.
pub const FIT_SCALARS: [&str; 10] = [
    "LOG_L1350",
    "LOG_L3000",
    "LOG_L5100",
    "OIII_V50",
    "OIII_W80",
    "OIII_DV",
    "LOG_MBH_HB",
    "LOG_MBH_MGII",
    "LOG_MBH_CIV",
    "OUTFLOW_MDOT",
];

/// The `quasar_fits` table.
pub static QUASAR_FITS: TableSpec = TableSpec {
    name: "quasar_fits",
    sky: false,
    columns: &[
        col("catalog_id", ColType::Text),
        col("target_id", ColType::I64),
        col("file_id", ColType::I64),
        col("z", ColType::F64),
        col("outcome", ColType::Text),
        col("sigma_inst", ColType::F64),
        col("oiii_wing", ColType::I64),
        col("oiii_wing_snr", ColType::F64),
        col("cont_rchi2", ColType::F64),
        col("mc_samples", ColType::I64),
        col("log_l1350", ColType::F64),
        col("log_l3000", ColType::F64),
        col("log_l5100", ColType::F64),
        col("oiii_v50", ColType::F64),
        col("oiii_w80", ColType::F64),
        col("oiii_dv", ColType::F64),
        col("log_mbh_hb", ColType::F64),
        col("log_mbh_mgii", ColType::F64),
        col("log_mbh_civ", ColType::F64),
        col("outflow_mdot", ColType::F64),
        col("row_json", ColType::Text),
    ],
};

/// The catalog id of fit settings: `qsofit-` and the first 16 hex digits
/// of the SHA-256 of their JSON.
pub fn fit_catalog_id(config_json: &str) -> String {
    let sha = Sha256::digest(config_json.as_bytes());
    let hex: String = sha[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("qsofit-{hex}")
}

/// One quasar's fit row.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QsoFitRecord {
    /// TARGETID.
    pub target_id: i64,
    /// Raw file of the spectrum (access follows it).
    pub file_id: Option<i64>,
    /// Redshift the quasar was fitted at.
    pub z: f64,
    /// [`FITTED`], or the skip reason.
    pub outcome: String,
    /// Instrumental sigma used for the [O III] widths (km/s).
    pub sigma_inst: f64,
    /// Whether an [O III] wing is claimed (none for a skip or a fit
    /// without [O III]).
    pub oiii_wing: Option<bool>,
    /// The wing's flux S/N in the fit with it.
    pub oiii_wing_snr: Option<f64>,
    /// Reduced chi-square of the continuum fit.
    pub cont_rchi2: Option<f64>,
    /// Monte-Carlo samples that converged (0 without Monte Carlo).
    pub mc_samples: Option<i64>,
    /// Every measurement and its `_ERR` as a JSON object (null where the
    /// fit gave no number); for a skip `{}`.
    pub row_json: String,
}

/// A fit catalog in the store: its id, settings and rows by outcome.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QsoFitCatalogSummary {
    /// The catalog id.
    pub catalog_id: String,
    /// When its rows were written (UTC, RFC 3339).
    pub written_at: String,
    /// Rows by outcome (`fitted` and each skip reason).
    pub outcomes: BTreeMap<String, i64>,
}

fn bad(target: i64, msg: String) -> StoreError {
    StoreError::BadInput(format!("fit row of TARGETID {target}: {msg}"))
}

impl Store {
    /// Replaces the rows of the catalog of `config_json` with `records`
    /// and records the settings (one transaction); returns the catalog id.
    pub fn write_qso_fits(
        &mut self,
        config_json: &str,
        records: &[QsoFitRecord],
        progress: &mut Progress<'_>,
    ) -> Result<String> {
        self.acting_require_admin("quasar spectral fits")?;
        serde_json::from_str::<serde_json::Value>(config_json)
            .map_err(|e| StoreError::BadInput(format!("quasar fit settings are not JSON: {e}")))?;
        let catalog_id = fit_catalog_id(config_json);
        check_unique_targets(
            "quasar fit rows",
            &catalog_id,
            records.iter().map(|r| r.target_id),
        )?;
        let n = records.len();
        let mut scalars: Vec<Vec<f64>> = vec![Vec::with_capacity(n); FIT_SCALARS.len()];
        for r in records {
            let row: serde_json::Value = serde_json::from_str(&r.row_json)
                .map_err(|e| bad(r.target_id, format!("row_json is not JSON: {e}")))?;
            if !row.is_object() {
                return Err(bad(r.target_id, "row_json is not a JSON object".into()));
            }
            let fitted = r.outcome == FITTED;
            for (k, name) in FIT_SCALARS.iter().enumerate() {
                let v = row.get(name).and_then(serde_json::Value::as_f64);
                if v.is_some() && !fitted {
                    return Err(bad(
                        r.target_id,
                        format!(
                            "{name} given for a skip ({}); a skip has no numbers",
                            r.outcome
                        ),
                    ));
                }
                scalars[k].push(v.unwrap_or(f64::NAN));
            }
            if !r.z.is_finite() {
                return Err(bad(r.target_id, format!("redshift {} is not finite", r.z)));
            }
        }
        let mut batch = Batch::new(&QUASAR_FITS, n);
        batch.set("catalog_id", Values::ConstText(catalog_id.clone()));
        batch.set(
            "target_id",
            Values::I64(records.iter().map(|r| Some(r.target_id)).collect()),
        );
        batch.set(
            "file_id",
            Values::I64(records.iter().map(|r| r.file_id).collect()),
        );
        batch.set("z", Values::F64(records.iter().map(|r| r.z).collect()));
        batch.set("outcome", dict(records.iter().map(|r| r.outcome.clone())));
        let floats = |f: &dyn Fn(&QsoFitRecord) -> Option<f64>| {
            Values::F64(records.iter().map(|r| f(r).unwrap_or(f64::NAN)).collect())
        };
        batch.set("sigma_inst", floats(&|r| Some(r.sigma_inst)));
        batch.set(
            "oiii_wing",
            Values::I64(records.iter().map(|r| r.oiii_wing.map(i64::from)).collect()),
        );
        batch.set("oiii_wing_snr", floats(&|r| r.oiii_wing_snr));
        batch.set("cont_rchi2", floats(&|r| r.cont_rchi2));
        batch.set(
            "mc_samples",
            Values::I64(records.iter().map(|r| r.mc_samples).collect()),
        );
        for (name, values) in FIT_SCALARS.iter().zip(scalars) {
            batch.set(&name.to_ascii_lowercase(), Values::F64(values));
        }
        batch.set(
            "row_json",
            texts(records.iter().map(|r| r.row_json.clone()).collect()),
        );
        batch.sort_by("target_id");
        let params = vec![
            Value::Text(catalog_id.clone()),
            Value::Text(config_json.to_string()),
            Value::Text(crate::registry::now_rfc3339()),
        ];
        let settings = AfterLoad {
            sqlite: "INSERT INTO quasar_fit_catalogs (catalog_id, config_json, written_at) VALUES (?1, ?2, ?3) ON CONFLICT (catalog_id) DO UPDATE SET written_at = excluded.written_at".into(),
            postgres: "INSERT INTO quasar_fit_catalogs (catalog_id, config_json, written_at) VALUES ($1, $2, $3) ON CONFLICT (catalog_id) DO UPDATE SET written_at = excluded.written_at".into(),
            params,
        };
        self.replace_catalog_rows("quasar_fits", &catalog_id, &batch, progress, &[settings])?;
        Ok(catalog_id)
    }

    /// Fit rows of `catalog_id` (every catalog when none), of `target_ids`
    /// when given, in TARGETID order, leaving out the files in `forbidden`
    /// and those the principal a store acts for may not read.
    pub fn qso_fit_records(
        &mut self,
        catalog_id: Option<&str>,
        target_ids: Option<&[i64]>,
        forbidden: &[i64],
    ) -> Result<Vec<(String, QsoFitRecord)>> {
        let rows = self.catalog_rows(
            "quasar spectral fits",
            "quasar_fits",
            &[
                "catalog_id",
                "target_id",
                "file_id",
                "z",
                "outcome",
                "sigma_inst",
                "oiii_wing",
                "oiii_wing_snr",
                "cont_rchi2",
                "mc_samples",
                "row_json",
            ],
            2,
            catalog_id,
            target_ids,
            forbidden,
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    text(&r[0]),
                    QsoFitRecord {
                        target_id: int(&r[1]),
                        file_id: opt_int(&r[2]),
                        z: r[3].as_f64().unwrap_or(f64::NAN),
                        outcome: text(&r[4]),
                        sigma_inst: r[5].as_f64().unwrap_or(f64::NAN),
                        oiii_wing: opt_int(&r[6]).map(|v| v != 0),
                        oiii_wing_snr: opt_float(&r[7]),
                        cont_rchi2: opt_float(&r[8]),
                        mc_samples: opt_int(&r[9]),
                        row_json: text(&r[10]),
                    },
                )
            })
            .collect())
    }

    /// The settings (JSON) of a fit catalog; none when the id is unknown.
    pub fn qso_fit_config(&mut self, catalog_id: &str) -> Result<Option<String>> {
        let rows = self.query_rows(
            "SELECT config_json FROM quasar_fit_catalogs WHERE catalog_id = ?1",
            "SELECT config_json FROM quasar_fit_catalogs WHERE catalog_id = $1",
            &[Value::Text(catalog_id.to_string())],
        )?;
        Ok(rows.first().map(|r| text(&r[0])))
    }

    /// Every fit catalog in the store with its rows by outcome (counts
    /// only; no row is read).
    pub fn qso_fit_catalogs(&mut self) -> Result<Vec<QsoFitCatalogSummary>> {
        let written: BTreeMap<String, String> = {
            let sql = "SELECT catalog_id, written_at FROM quasar_fit_catalogs";
            self.query_rows(sql, sql, &[])?
                .iter()
                .map(|r| (text(&r[0]), text(&r[1])))
                .collect()
        };
        Ok(self
            .catalog_outcomes("quasar_fits")?
            .into_iter()
            .map(|(catalog_id, outcomes)| QsoFitCatalogSummary {
                written_at: written.get(&catalog_id).cloned().unwrap_or_default(),
                catalog_id,
                outcomes,
            })
            .collect())
    }
}
