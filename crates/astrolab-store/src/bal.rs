//! Quasar BAL measurements (migration 11): one row of DESI's BAL catalog
//! per quasar and BAL catalog id (astrolab-pipeline's `outflows bal`).
//!
//! A run writes its catalog id's rows in one transaction that replaces the
//! id's earlier rows (all or nothing), through the ingest's bulk paths.
//! Quasars that got no numbers are rows too, with the reason in `outcome`
//! and every index NULL: counted, never given a number.
//!
//! Access: a row derives from one spectrum, whose raw file is `file_id`;
//! every read leaves out the rows of files the caller may not read. Writing
//! changes what the whole lab sees, so a run does it only when an admin
//! submitted it (as for anomaly scores).

use std::collections::BTreeMap;

use crate::batch::{Batch, Values};
use crate::catalog_rows::{check_unique_targets, dict, texts, AfterLoad};
use crate::error::{Result, StoreError};
use crate::ingest::Progress;
use crate::schema::computed as col;
use crate::schema::{ColType, TableSpec};
use crate::store::Store;
use crate::tx::{int, opt_int, opt_text, text};
use crate::value::Value;

/// `outcome` of a quasar with BAL numbers.
pub const MEASURED: &str = "measured";

/// The catalog's scalar columns kept as table columns (lower case there),
/// in the table's order: floats, except the trough counts `N*`.
pub const BAL_SCALARS: [&str; 14] = [
    "BI_CIV",
    "ERR_BI_CIV",
    "NCIV_2000",
    "AI_CIV",
    "ERR_AI_CIV",
    "NCIV_450",
    "BI_SIIV",
    "ERR_BI_SIIV",
    "NSIIV_2000",
    "AI_SIIV",
    "ERR_AI_SIIV",
    "NSIIV_450",
    "SNR_CIV",
    "PCA_CHI2",
];

fn is_count(name: &str) -> bool {
    name.starts_with('N')
}

/// The `quasar_bal` table.
pub static QUASAR_BAL: TableSpec = TableSpec {
    name: "quasar_bal",
    sky: false,
    columns: &[
        col("catalog_id", ColType::Text),
        col("target_id", ColType::I64),
        col("file_id", ColType::I64),
        col("z", ColType::F64),
        col("outcome", ColType::Text),
        col("balmask", ColType::I64),
        col("cont_fit", ColType::Text),
        col("bi_civ", ColType::F64),
        col("err_bi_civ", ColType::F64),
        col("nciv_2000", ColType::I64),
        col("ai_civ", ColType::F64),
        col("err_ai_civ", ColType::F64),
        col("nciv_450", ColType::I64),
        col("bi_siiv", ColType::F64),
        col("err_bi_siiv", ColType::F64),
        col("nsiiv_2000", ColType::I64),
        col("ai_siiv", ColType::F64),
        col("err_ai_siiv", ColType::F64),
        col("nsiiv_450", ColType::I64),
        col("snr_civ", ColType::F64),
        col("pca_chi2", ColType::F64),
        col("row_json", ColType::Text),
    ],
};

/// One quasar's BAL row.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BalRecord {
    /// TARGETID.
    pub target_id: i64,
    /// Raw file of the spectrum (access follows it).
    pub file_id: Option<i64>,
    /// Redshift the quasar was measured at.
    pub z: f64,
    /// [`MEASURED`], or the skip reason.
    pub outcome: String,
    /// DESI's BALMASK (0 measured; bit 0 not measured, bit 1 redshift out
    /// of range).
    pub balmask: i64,
    /// How the continuum was fitted (`iterative`, `red_side`); none for a
    /// skip.
    pub cont_fit: Option<String>,
    /// The whole catalog row as a JSON object (DESI's column names); for a
    /// skip, at least `{"SKIP_REASON": ...}`.
    pub row_json: String,
}

impl BalRecord {
    /// The scalar `name` (one of [`BAL_SCALARS`]) of a measured row.
    fn scalar(&self, row: &serde_json::Value, name: &str) -> Result<Option<f64>> {
        if self.outcome != MEASURED {
            return Ok(None);
        }
        row.get(name)
            .and_then(serde_json::Value::as_f64)
            .map(Some)
            .ok_or_else(|| {
                StoreError::BadInput(format!(
                    "BAL row of TARGETID {}: row_json has no number {name}",
                    self.target_id
                ))
            })
    }
}

/// A BAL catalog in the store: its id, rows and outcomes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BalCatalogSummary {
    /// The catalog id.
    pub catalog_id: String,
    /// Rows by outcome (`measured` and each skip reason).
    pub outcomes: BTreeMap<String, i64>,
}

impl Store {
    /// Replaces the rows of `catalog_id` with `records` (one transaction).
    pub fn write_bal(
        &mut self,
        catalog_id: &str,
        records: &[BalRecord],
        progress: &mut Progress<'_>,
    ) -> Result<u64> {
        self.acting_require_admin("BAL measurements")?;
        let n = records.len();
        check_unique_targets("BAL rows", catalog_id, records.iter().map(|r| r.target_id))?;
        let mut scalars: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(n); BAL_SCALARS.len()];
        for r in records {
            let row: serde_json::Value = serde_json::from_str(&r.row_json).map_err(|e| {
                StoreError::BadInput(format!(
                    "BAL row of TARGETID {}: row_json is not JSON: {e}",
                    r.target_id
                ))
            })?;
            for (k, name) in BAL_SCALARS.iter().enumerate() {
                let v = r.scalar(&row, name)?;
                if v.is_some_and(|v| !v.is_finite()) {
                    return Err(StoreError::BadInput(format!(
                        "BAL row of TARGETID {}: {name} is not finite; a quasar without numbers is a skip",
                        r.target_id
                    )));
                }
                scalars[k].push(v);
            }
        }
        let mut batch = Batch::new(&QUASAR_BAL, n);
        batch.set("catalog_id", Values::ConstText(catalog_id.to_string()));
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
        batch.set(
            "balmask",
            Values::I64(records.iter().map(|r| Some(r.balmask)).collect()),
        );
        let fits: Vec<String> = records
            .iter()
            .map(|r| r.cont_fit.clone().unwrap_or_default())
            .collect();
        batch.set("cont_fit", dict(fits.into_iter()));
        for (name, values) in BAL_SCALARS.iter().zip(scalars) {
            let column = name.to_ascii_lowercase();
            if is_count(name) {
                batch.set(
                    &column,
                    Values::I64(values.iter().map(|v| v.map(|v| v as i64)).collect()),
                );
            } else {
                batch.set(
                    &column,
                    Values::F64(values.iter().map(|v| v.unwrap_or(f64::NAN)).collect()),
                );
            }
        }
        batch.set(
            "row_json",
            texts(records.iter().map(|r| r.row_json.clone()).collect()),
        );
        batch.sort_by("target_id");
        // An empty cont_fit is a skip's: NULL, as the schema says.
        let id = Value::Text(catalog_id.to_string());
        let null_fit = AfterLoad {
            sqlite: "UPDATE quasar_bal SET cont_fit = NULL WHERE catalog_id = ?1 AND cont_fit = ''"
                .into(),
            postgres:
                "UPDATE quasar_bal SET cont_fit = NULL WHERE catalog_id = $1 AND cont_fit = ''"
                    .into(),
            params: vec![id],
        };
        self.replace_catalog_rows("quasar_bal", catalog_id, &batch, progress, &[null_fit])?;
        Ok(n as u64)
    }

    /// BAL rows of `catalog_id` (every catalog when none), of `target_ids`
    /// when given, in TARGETID order, leaving out the files in `forbidden`
    /// and those the principal a store acts for may not read.
    pub fn bal_records(
        &mut self,
        catalog_id: Option<&str>,
        target_ids: Option<&[i64]>,
        forbidden: &[i64],
    ) -> Result<Vec<(String, BalRecord)>> {
        let rows = self.catalog_rows(
            "BAL measurements",
            "quasar_bal",
            &[
                "catalog_id",
                "target_id",
                "file_id",
                "z",
                "outcome",
                "balmask",
                "cont_fit",
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
                    BalRecord {
                        target_id: int(&r[1]),
                        file_id: opt_int(&r[2]),
                        z: r[3].as_f64().unwrap_or(f64::NAN),
                        outcome: text(&r[4]),
                        balmask: int(&r[5]),
                        cont_fit: opt_text(&r[6]),
                        row_json: text(&r[7]),
                    },
                )
            })
            .collect())
    }

    /// Every BAL catalog in the store with its rows by outcome (counts
    /// only; no row is read).
    pub fn bal_catalogs(&mut self) -> Result<Vec<BalCatalogSummary>> {
        Ok(self
            .catalog_outcomes("quasar_bal")?
            .into_iter()
            .map(|(catalog_id, outcomes)| BalCatalogSummary {
                catalog_id,
                outcomes,
            })
            .collect())
    }
}
