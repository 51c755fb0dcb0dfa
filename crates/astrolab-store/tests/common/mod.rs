//! Test helpers: a store on each backend, synthetic catalogs, snapshots.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use astrolab_formats::fits::{write_fits, Card, ColumnData, ColumnOut, HduOut};
use astrolab_store::{schema, Store, StoreConfig};

pub use astrolab_formats::testdata::require_shared_data;

#[allow(unused_imports)]
pub use astrolab_store::testing::{backends, pg_config};

/// Runs SQL on a separate connection, outside the store's API.
pub fn raw_sql(cfg: &StoreConfig, sql: &str) -> Result<(), String> {
    match &cfg.database_url {
        None => {
            let c = rusqlite::Connection::open(cfg.sqlite_path()).map_err(|e| e.to_string())?;
            c.execute_batch(sql).map_err(|e| e.to_string())
        }
        Some(url) => {
            let mut c =
                postgres::Client::connect(url, postgres::NoTls).map_err(|e| e.to_string())?;
            let schema = cfg.pg_schema.clone().unwrap();
            c.batch_execute(&format!("SET search_path TO {schema}, public; {sql}"))
                .map_err(|e| match e.as_db_error() {
                    Some(db) => db.message().to_string(),
                    None => e.to_string(),
                })
        }
    }
}

/// Row counts of every table and of the registry: the store's state for
/// "left exactly as before" checks.
pub fn snapshot(store: &mut Store) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = schema::TABLES
        .iter()
        .map(|t| (t.name.to_string(), store.count_rows(t.name).unwrap()))
        .collect();
    let files = store.raw_files().unwrap();
    v.push(("raw_files".into(), files.len() as i64));
    v
}

/// Small deterministic generator (xorshift64*), enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Positions uniform on the sphere.
pub fn sky_points(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let mut ra = Vec::with_capacity(n);
    let mut dec = Vec::with_capacity(n);
    for _ in 0..n {
        ra.push(rng.uniform() * 360.0);
        dec.push((2.0 * rng.uniform() - 1.0).asin().to_degrees());
    }
    (ra, dec)
}

/// Writes a zcatalog-format file (HDU ZCATALOG) with the given positions.
pub fn write_zcatalog(path: &Path, ra: &[f64], dec: &[f64], seed: u64) {
    let n = ra.len();
    let mut rng = Rng::new(seed ^ 0xabc);
    let z: Vec<f64> = (0..n).map(|_| rng.uniform() * 3.0).collect();
    let spectype: Vec<String> = (0..n)
        .map(|i| ["GALAXY", "QSO", "STAR"][i % 3].to_string())
        .collect();
    let cols = vec![
        ColumnOut::new(
            "TARGETID",
            ColumnData::I64((0..n as i64).map(|i| 39627000000000000 + i).collect()),
        ),
        ColumnOut::new(
            "SURVEY",
            ColumnData::Str {
                width: 7,
                values: vec!["main".into(); n],
            },
        ),
        ColumnOut::new(
            "PROGRAM",
            ColumnData::Str {
                width: 6,
                values: vec!["dark".into(); n],
            },
        ),
        ColumnOut::new("TARGET_RA", ColumnData::F64(ra.to_vec())),
        ColumnOut::new("TARGET_DEC", ColumnData::F64(dec.to_vec())),
        ColumnOut::new("Z", ColumnData::F64(z)),
        ColumnOut::new("ZERR", ColumnData::F64(vec![1e-4; n])),
        ColumnOut::new(
            "ZWARN",
            ColumnData::I64(
                (0..n as i64)
                    .map(|i| if i % 10 == 0 { 4 } else { 0 })
                    .collect(),
            ),
        ),
        ColumnOut::new(
            "SPECTYPE",
            ColumnData::Str {
                width: 6,
                values: spectype,
            },
        ),
        ColumnOut::new(
            "DELTACHI2",
            ColumnData::F64((0..n).map(|i| i as f64).collect()),
        ),
        ColumnOut::new(
            "BGS_TARGET",
            ColumnData::I64((0..n as i64).map(|i| i % 4).collect()),
        ),
        ColumnOut::new(
            "ZCAT_PRIMARY",
            ColumnData::Bool((0..n).map(|i| i % 2 == 0).collect()),
        ),
        ColumnOut::new("EXTRA_COLUMN", ColumnData::F32(vec![1.5; n])),
    ];
    write_fits(
        path,
        &[
            HduOut::Primary { header: vec![] },
            HduOut::Table {
                extname: Some("ZCATALOG".into()),
                header: vec![Card::str("SPECPROD", "test")],
                columns: cols,
            },
        ],
    )
    .expect("write zcatalog");
}

/// Path of a real data file, or None when skipping.
pub fn real(test: &str, rel: &str) -> Option<PathBuf> {
    require_shared_data(test).map(|d| d.join(rel))
}

/// A researcher account in `projects` and a queued `pipeline` run of
/// theirs: the run id, for `Store::act_for_run`.
pub fn researcher_run(store: &mut Store, name: &str, projects: &[&str], pipeline: &str) -> i64 {
    use astrolab_store::{NewRun, NewUser, Role};
    store
        .create_user(&NewUser {
            username: name.into(),
            role: Role::Researcher,
            password_hash: None,
            oidc_subject: None,
            email: None,
            projects: projects.iter().map(|p| p.to_string()).collect(),
        })
        .unwrap();
    store
        .submit_run(
            &NewRun {
                pipeline: pipeline.into(),
                params: serde_json::json!({}),
                submitted_by: name.into(),
                max_attempts: 1,
            },
            0,
        )
        .unwrap()
        .run_id
}
