//! Store configurations for tests on both backends, shared by every
//! crate's tests (store, server, CLI): SQLite in a temporary directory
//! always, PostgreSQL in a fresh schema when `ASTROLAB_TEST_DATABASE_URL`
//! is set (`./scripts/test` sets it). With `CI` set a missing database is
//! a failure, never a skip.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::StoreConfig;

/// The PostgreSQL URL for tests, or None (skip); panics under `CI` when it
/// is not set.
pub fn pg_url(test: &str) -> Option<String> {
    match std::env::var("ASTROLAB_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("{test}: ASTROLAB_TEST_DATABASE_URL is not set (scripts/test sets it up)");
            }
            eprintln!("skipping the PostgreSQL part of {test}: ASTROLAB_TEST_DATABASE_URL not set (run ./scripts/test)");
            None
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh PostgreSQL store configuration in its own (emptied) schema,
/// named after the test, the process and a counter; `home` is where its
/// files (spectra, caches) go.
pub fn pg_config_in(test: &str, home: &std::path::Path) -> Option<StoreConfig> {
    let url = pg_url(test)?;
    let schema = format!(
        "t_{}_{}_{}",
        test.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let mut client =
        postgres::Client::connect(&url, postgres::NoTls).expect("connect to test PostgreSQL");
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .expect("drop schema");
    Some(StoreConfig {
        home: home.to_path_buf(),
        database_url: Some(url),
        pg_schema: Some(schema),
    })
}

/// [`pg_config_in`] with the system's temporary directory as home.
pub fn pg_config(test: &str) -> Option<StoreConfig> {
    pg_config_in(test, &std::env::temp_dir())
}

/// Store configurations for every backend available: SQLite always,
/// PostgreSQL when configured. The TempDir keeps the SQLite file alive.
pub fn backends(test: &str) -> (tempfile::TempDir, Vec<StoreConfig>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vec![StoreConfig::sqlite(dir.path().join("home"))];
    if let Some(pg) = pg_config(test) {
        v.push(pg);
    }
    (dir, v)
}

/// The URL a child process (`astrolab serve`, `worker`, a pipeline) opens
/// the same store with: the schema goes into the URL as the connection's
/// `search_path`. None for SQLite (the child finds `astrolab.db` in the
/// home).
pub fn child_database_url(cfg: &StoreConfig) -> Option<String> {
    let url = cfg.database_url.clone()?;
    Some(match &cfg.pg_schema {
        Some(schema) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}options=-csearch_path%3D{schema}%2Cpublic")
        }
        None => url,
    })
}
