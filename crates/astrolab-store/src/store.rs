//! The [`Store`]: one interface over the embedded SQLite file and PostgreSQL.

use std::path::PathBuf;

use crate::error::{Result, StoreError};
use crate::migrate;
use crate::value::Value;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The embedded SQLite file (default).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// Where the store lives.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Data home (`$ASTROLAB_HOME`, default `./astrolab-data`); the SQLite
    /// file is `astrolab.db` inside it.
    pub home: PathBuf,
    /// `postgres://...` to use PostgreSQL instead of SQLite.
    pub database_url: Option<String>,
    /// PostgreSQL schema to work in (created when missing); tests use one
    /// schema each. Default: `public`.
    pub pg_schema: Option<String>,
}

impl StoreConfig {
    /// A store in `home` with the embedded database.
    pub fn sqlite(home: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            home: home.into(),
            database_url: None,
            pg_schema: None,
        }
    }

    /// Path of the embedded SQLite file.
    pub fn sqlite_path(&self) -> PathBuf {
        self.home.join("astrolab.db")
    }

    /// A description safe to print or log: the URL without its password.
    pub fn describe(&self) -> String {
        match &self.database_url {
            Some(url) => redact_url(url),
            None => self.sqlite_path().display().to_string(),
        }
    }
}

/// Removes the password from a `postgres://user:pass@host/db` URL so it can
/// be logged.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((auth, host)) = rest.split_once('@') {
            if let Some((user, _)) = auth.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

pub(crate) enum Conn {
    Sqlite {
        conn: rusqlite::Connection,
        path: PathBuf,
    },
    Postgres(Box<postgres::Client>),
}

/// The catalog store.
pub struct Store {
    pub(crate) conn: Conn,
    pub(crate) config: StoreConfig,
    pub(crate) q3c: bool,
    /// For whom reads are done (a run's submitter), see [`crate::acting`].
    pub(crate) acting: Option<crate::acting::Acting>,
}

impl Store {
    /// Opens the store and applies pending migrations (first use creates
    /// the schema).
    pub fn open(config: &StoreConfig) -> Result<Store> {
        let mut store = Store::open_unmigrated(config)?;
        migrate::apply_pending(&mut store)?;
        store.q3c = store.detect_q3c()?;
        Ok(store)
    }

    /// Opens the store without touching its schema (for `db status`).
    pub fn open_unmigrated(config: &StoreConfig) -> Result<Store> {
        let conn = match &config.database_url {
            None => {
                let path = config.sqlite_path();
                std::fs::create_dir_all(&config.home).map_err(|source| StoreError::Io {
                    path: config.home.clone(),
                    source,
                })?;
                let conn = rusqlite::Connection::open(&path).map_err(StoreError::sqlite(&path))?;
                // WAL: readers do not block the writer, and a killed process
                // loses nothing committed. synchronous=NORMAL is durable in
                // WAL mode except for the last transactions on power loss.
                conn.execute_batch(
                    "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; PRAGMA cache_size=-400000; PRAGMA threads=2;",
                )
                .map_err(StoreError::sqlite(&path))?;
                Conn::Sqlite { conn, path }
            }
            Some(url) => {
                let mut client = crate::pgpass::pg_config(url)?.connect(postgres::NoTls)?;
                if let Some(schema) = &config.pg_schema {
                    let ident = quote_ident(schema)?;
                    client.batch_execute(&format!(
                        "CREATE SCHEMA IF NOT EXISTS {ident}; SET search_path TO {ident}, public;"
                    ))?;
                }
                Conn::Postgres(Box::new(client))
            }
        };
        Ok(Store {
            conn,
            config: config.clone(),
            q3c: false,
            acting: None,
        })
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        match self.conn {
            Conn::Sqlite { .. } => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// Whether q3c indexes are present and used for cone searches.
    pub fn has_q3c(&self) -> bool {
        self.q3c
    }

    /// Turns the use of q3c for cone searches off (or back on where it is
    /// installed): benchmarks and tests compare both paths on one database.
    pub fn set_q3c(&mut self, on: bool) -> Result<()> {
        self.q3c = on && self.detect_q3c()?;
        Ok(())
    }

    /// Caps SQLite's page cache of this connection (the default suits one
    /// bulk-loading connection; a server holding many connections wants a
    /// smaller cache each and leaves the rest to the OS page cache). No-op
    /// on PostgreSQL.
    pub fn set_cache_mib(&mut self, mib: u32) -> Result<()> {
        if let Conn::Sqlite { conn, path } = &self.conn {
            conn.execute_batch(&format!("PRAGMA cache_size=-{}", u64::from(mib) * 1024))
                .map_err(StoreError::sqlite(path))?;
        }
        Ok(())
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Server process id of the PostgreSQL connection (tests use it to
    /// cut the connection mid-ingest).
    pub fn postgres_backend_pid(&mut self) -> Result<Option<i32>> {
        match &mut self.conn {
            Conn::Sqlite { .. } => Ok(None),
            Conn::Postgres(c) => Ok(Some(c.query_one("SELECT pg_backend_pid()", &[])?.get(0))),
        }
    }

    fn detect_q3c(&mut self) -> Result<bool> {
        match &mut self.conn {
            Conn::Sqlite { .. } => Ok(false),
            Conn::Postgres(c) => {
                let row = c.query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'q3c') AND EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'zcatalog_q3c' AND schemaname = current_schema())",
                    &[],
                )?;
                Ok(row.get(0))
            }
        }
    }

    /// Runs a statement with parameters; `sqlite` and `postgres` are the
    /// two spellings (placeholders `?1` and `$1`).
    pub(crate) fn execute(
        &mut self,
        sqlite: &str,
        postgres: &str,
        params: &[Value],
    ) -> Result<u64> {
        match &mut self.conn {
            Conn::Sqlite { conn, path } => sqlite_execute(conn, path, sqlite, params),
            Conn::Postgres(c) => pg_execute(c.as_mut(), postgres, params),
        }
    }

    /// Runs a query and returns rows of values; column types are taken from
    /// the result (SQLite) or from `types` (PostgreSQL, in column order).
    pub(crate) fn query_rows(
        &mut self,
        sqlite: &str,
        postgres: &str,
        params: &[Value],
    ) -> Result<Vec<Vec<Value>>> {
        match &mut self.conn {
            Conn::Sqlite { conn, path } => sqlite_rows(conn, path, sqlite, params),
            Conn::Postgres(c) => pg_rows(c.as_mut(), postgres, params),
        }
    }
}

/// One SQLite statement with parameters (a connection or a transaction,
/// which derefs to one); the statement is cached.
pub(crate) fn sqlite_execute(
    conn: &rusqlite::Connection,
    path: &std::path::Path,
    sql: &str,
    params: &[Value],
) -> Result<u64> {
    let mut st = conn.prepare_cached(sql).map_err(StoreError::sqlite(path))?;
    let n = st
        .execute(rusqlite::params_from_iter(params.iter()))
        .map_err(StoreError::sqlite(path))?;
    Ok(n as u64)
}

/// Rows of an SQLite query as values.
pub(crate) fn sqlite_rows(
    conn: &rusqlite::Connection,
    path: &std::path::Path,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Vec<Value>>> {
    let mut stmt = conn.prepare_cached(sql).map_err(StoreError::sqlite(path))?;
    let ncol = stmt.column_count();
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |row| {
            (0..ncol)
                .map(|i| row.get_ref(i).map(Value::from))
                .collect::<rusqlite::Result<Vec<Value>>>()
        })
        .map_err(StoreError::sqlite(path))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(StoreError::sqlite(path))?;
    Ok(rows)
}

/// One PostgreSQL statement (a client or a transaction).
pub(crate) fn pg_execute<C: postgres::GenericClient>(
    c: &mut C,
    sql: &str,
    params: &[Value],
) -> Result<u64> {
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params.iter().map(|v| v as _).collect();
    Ok(c.execute(sql, &refs)?)
}

/// Rows of a PostgreSQL query as values.
pub(crate) fn pg_rows<C: postgres::GenericClient>(
    c: &mut C,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Vec<Value>>> {
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params.iter().map(|v| v as _).collect();
    c.query(sql, &refs)?
        .iter()
        .map(crate::postgres::row_values)
        .collect()
}

/// Quotes a PostgreSQL identifier, refusing anything but plain names.
pub(crate) fn quote_ident(name: &str) -> Result<String> {
    if name.is_empty()
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(StoreError::bad_request(
            "schema",
            format!("{name:?} is not a plain identifier (letters, digits, underscore)"),
        ));
    }
    Ok(format!("\"{name}\""))
}

impl Store {
    /// Identifier, RA and Dec of every row of a sky table, read with typed
    /// column access (COPY on PostgreSQL) for crossmatches over millions of
    /// rows. The identifier is TARGETID where the table has one, the row
    /// number for galaxy lists, the void id for void tables. Rows come in
    /// storage order (HEALPix order for bulk-loaded files).
    pub(crate) fn positions(
        &mut self,
        t: &crate::schema::TableSpec,
    ) -> Result<crate::query::Positions> {
        use crate::poscache;
        let files: Vec<crate::RawFile> = self
            .raw_files()?
            .into_iter()
            .filter(|f| !f.superseded && self.acting_may_read(f.file_id))
            .collect();
        let home = self.config.home.clone();
        let mut cached: Vec<Option<poscache::Cached>> = files
            .iter()
            .map(|f| poscache::read(&poscache::path(&home, t.name, f)))
            .collect();
        if cached.iter().any(|c| c.is_none()) {
            // One scan rebuilds every missing file's cache.
            let mut by_file = self.positions_from_db(t)?;
            for (f, c) in files.iter().zip(cached.iter_mut()) {
                if c.is_none() {
                    let fresh = by_file.remove(&f.file_id).unwrap_or_default();
                    if let Err(e) = poscache::write(&poscache::path(&home, t.name, f), &fresh) {
                        tracing::warn!(error = %e, "could not write the positions cache (crossmatches still work, more slowly)");
                    }
                    *c = Some(fresh);
                }
            }
        }
        let mut out = crate::query::Positions {
            ids: Vec::new(),
            ra: Vec::new(),
            dec: Vec::new(),
        };
        let mut read = Vec::new();
        for (f, c) in files.iter().zip(cached) {
            let Some(c) = c else { continue };
            if !c.ra.is_empty() {
                read.push(f.file_id);
            }
            out.ids.extend(c.ids);
            out.ra.extend(c.ra);
            out.dec.extend(c.dec);
        }
        self.acting_note_read(&format!("positions of {}", t.name), read)?;
        Ok(out)
    }

    /// Identifier column used by crossmatches for a table.
    pub(crate) fn position_id_column(t: &crate::schema::TableSpec) -> &'static str {
        match t.name {
            "galaxies" => "row_index",
            _ if t.column("targetid").is_some() => "targetid",
            _ if t.column("void_id").is_some() => "void_id",
            _ => "hpx",
        }
    }

    fn positions_from_db(
        &mut self,
        t: &crate::schema::TableSpec,
    ) -> Result<std::collections::HashMap<i64, crate::poscache::Cached>> {
        let id = Self::position_id_column(t);
        let mut out: std::collections::HashMap<i64, crate::poscache::Cached> =
            std::collections::HashMap::new();
        let mut push = |file: i64, idv: Option<i64>, ra: f64, dec: f64| {
            let c = out.entry(file).or_default();
            c.ids.push(idv);
            c.ra.push(ra);
            c.dec.push(dec);
        };
        match &mut self.conn {
            Conn::Sqlite { conn, path } => {
                let e = StoreError::sqlite;
                let mut stmt = conn
                    .prepare(&format!("SELECT file_id, {id}, ra, dec FROM {}", t.name))
                    .map_err(e(path))?;
                let mut rows = stmt.query([]).map_err(e(path))?;
                while let Some(r) = rows.next().map_err(e(path))? {
                    push(
                        r.get(0).map_err(e(path))?,
                        r.get(1).map_err(e(path))?,
                        r.get(2).map_err(e(path))?,
                        r.get(3).map_err(e(path))?,
                    );
                }
            }
            Conn::Postgres(c) => {
                // Arrays per file and HEALPix region: a few hundred rows of
                // packed binary arrays instead of one message per row.
                let packed = format!(
                    "SELECT file_id, array_agg({id}), array_agg(ra), array_agg(dec) FROM {} GROUP BY file_id, hpx >> 52 ORDER BY file_id, hpx >> 52",
                    t.name
                );
                for r in c.query(&packed, &[])? {
                    let file: i64 = r.try_get(0)?;
                    let ids: Vec<Option<i64>> = r.try_get(1)?;
                    let ra: Vec<f64> = r.try_get(2)?;
                    let dec: Vec<f64> = r.try_get(3)?;
                    for i in 0..ids.len() {
                        push(file, ids[i], ra[i], dec[i]);
                    }
                }
            }
        }
        Ok(out)
    }
}
