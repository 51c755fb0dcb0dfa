//! Helpers shared by the server's integration tests.
// Each test file uses the helpers it needs.
#![allow(dead_code)]

use std::path::Path;

use astrolab_store::{MembershipKey, MembershipRows, NewApiToken, NewUser, Progress, Role, Store};

/// A new account `name` with `role` and `projects`, and an API token of
/// it valid for an hour; returns the token.
pub fn api_token(store: &mut Store, name: &str, role: Role, projects: &[&str]) -> String {
    let u = store
        .create_user(&NewUser {
            username: name.into(),
            role,
            projects: projects.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        })
        .unwrap();
    let t = astrolab_server::auth::secrets::new_token();
    store
        .create_api_token(&NewApiToken {
            user_id: u.user_id,
            name: "test".into(),
            prefix: t.prefix.clone(),
            token_hash: t.hash.clone(),
            role,
            expires_at_unix: time::OffsetDateTime::now_utc().unix_timestamp() + 3600,
        })
        .unwrap();
    t.token
}

/// Writes the membership of a public VoidFinder NGC catalog: per galaxy
/// its TARGETID, vflag and galaxy source file; void galaxies are in void
/// 3 at R_VOID_NORM 0.5.
pub fn write_voidfinder_membership(store: &mut Store, galaxies: &[(i64, u8, Option<i64>)]) {
    let mut m = MembershipRows::default();
    for &(t, f, source) in galaxies {
        m.target_id.push(t);
        m.vflag.push(f);
        m.void_id.push((f == 1).then_some(3));
        m.r_void_norm.push(if f == 1 { 0.5 } else { f64::NAN });
        m.void_edge.push(None);
        m.galaxy_file_id.push(source);
    }
    let key = MembershipKey {
        catalog: "DESIVAST_BGS_VOLLIM_VoidFinder_NGC.fits".into(),
        file_id: None,
        algorithm: "VoidFinder".into(),
        cap: "NGC".into(),
    };
    store
        .write_void_membership(&key, &m, &mut Progress::none())
        .unwrap();
}

/// A FastSpecFit v3.0 file (METADATA + SPECPHOT) for `ids`.
pub fn write_fastspec(
    path: &Path,
    ids: &[i64],
    ra: &[f64],
    dec: &[f64],
    z: &[f64],
    logm: &[f64],
    sfr: &[f64],
) {
    use astrolab_formats::fits::{write_fits, ColumnData, ColumnOut, HduOut};
    let n = ids.len();
    let meta = vec![
        ColumnOut::new("TARGETID", ColumnData::I64(ids.to_vec())),
        ColumnOut::new("RA", ColumnData::F64(ra.to_vec())),
        ColumnOut::new("DEC", ColumnData::F64(dec.to_vec())),
        ColumnOut::new("Z", ColumnData::F64(z.to_vec())),
    ];
    let phot = vec![
        ColumnOut::new("TARGETID", ColumnData::I64(ids.to_vec())),
        ColumnOut::new("LOGMSTAR", ColumnData::F64(logm.to_vec())),
        ColumnOut::new("SFR", ColumnData::F64(sfr.to_vec())),
        ColumnOut::new(
            "DN4000",
            ColumnData::F64((0..n).map(|i| 1.2 + 0.001 * i as f64).collect()),
        ),
        ColumnOut::new(
            "AGE",
            ColumnData::F64((0..n).map(|i| 1.0 + (i % 13) as f64).collect()),
        ),
        ColumnOut::new("ZZSUN", ColumnData::F64(vec![1.0; n])),
    ];
    write_fits(
        path,
        &[
            HduOut::Primary { header: vec![] },
            HduOut::Table {
                extname: Some("METADATA".into()),
                header: vec![],
                columns: meta,
            },
            HduOut::Table {
                extname: Some("SPECPHOT".into()),
                header: vec![],
                columns: phot,
            },
        ],
    )
    .unwrap();
}

/// Runs pipeline `name` of the catalog with `params` in process.
pub fn run_pipeline(
    ctx: &astrolab_pipeline::Ctx,
    name: &str,
    params: serde_json::Value,
) -> serde_json::Value {
    let def = astrolab_pipeline::catalog::find(name).unwrap();
    let checked = (def.check)(&params).unwrap();
    (def.run)(ctx, &checked.resolved).unwrap_or_else(|e| panic!("{name}: {e:#}"))
}

/// A pipeline context over the SQLite store of `home`.
pub fn sqlite_ctx(home: &Path) -> astrolab_pipeline::Ctx {
    astrolab_pipeline::Ctx::new(
        astrolab_store::StoreConfig::sqlite(home),
        std::sync::Arc::new(astrolab_pipeline::context::Collect::default()),
    )
}

/// A home with benchmark quasars (`demo-data` with `demo`, e.g.
/// `{"anomaly_benchmark": 200, "seed": 17}`, from the redrock templates of
/// the shared data) ingested and their spectra built.
pub fn quasar_home(dir: &Path, data: &Path, demo: serde_json::Value) -> std::path::PathBuf {
    let home = dir.join("home");
    let qso = dir.join("qso");
    let ctx = sqlite_ctx(&home);
    let mut params = serde_json::json!({"dir": qso, "templates": data.join("templates")});
    for (k, v) in demo.as_object().expect("demo-data parameters") {
        params[k] = v.clone();
    }
    run_pipeline(&ctx, "demo-data", params);
    let mut redrock: Vec<std::path::PathBuf> = std::fs::read_dir(&qso)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("redrock-")
        })
        .collect();
    redrock.sort();
    run_pipeline(&ctx, "ingest", serde_json::json!({ "paths": redrock }));
    run_pipeline(&ctx, "spectra-build", serde_json::json!({ "from": qso }));
    home
}

/// Puts raw file `file_id` into the restricted dataset `qso-private` of
/// project "quasars" (created when missing).
pub fn restrict_to_quasars(store: &mut Store, file_id: i64) {
    store
        .upsert_dataset(
            "qso-private",
            "restricted quasars",
            astrolab_store::Visibility::Restricted,
            &["quasars".to_string()],
        )
        .unwrap();
    store.add_file_to_dataset("qso-private", file_id).unwrap();
}

/// A CSV file as one map per row (column name to text).
pub fn read_csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}
