//! Ingestion: detect a file's format, read its HDUs by name into batches,
//! and load them with its registry entry in one transaction, so a failure
//! at any point leaves nothing of that file behind.

mod bulk;
mod columns;
mod desi;
mod galaxies;
mod positions;
mod voids;

use std::path::{Path, PathBuf};

use astrolab_formats::fits::FitsFile;

use crate::batch::{Batch, Values};
use crate::error::{Result, StoreError};
use crate::registry::{file_digest, now_rfc3339, RawFile};
use crate::store::{Conn, Store};

/// A format the store can ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// DESI zcatalog v1 (HDU ZCATALOG).
    Zcatalog,
    /// Redrock output (REDSHIFTS + FIBERMAP).
    Redrock,
    /// FastSpecFit v3.0 (METADATA + SPECPHOT + FASTSPEC).
    Fastspecfit,
    /// DESIVAST VoidFinder (MAXIMALS + HOLES).
    VoidFinder,
    /// DESIVAST V2: REVOLVER, VIDE or ZOBOV (VOIDS, ZONEVOID, GALZONE).
    V2,
    /// A galaxy table with ra, dec (and z/redshift) columns, FITS or CSV.
    Galaxies,
}

impl Format {
    /// Name as stored in the registry.
    pub fn as_str(&self) -> &'static str {
        match self {
            Format::Zcatalog => "desi-zcatalog",
            Format::Redrock => "desi-redrock",
            Format::Fastspecfit => "fastspecfit-v3",
            Format::VoidFinder => "desivast-voidfinder",
            Format::V2 => "desivast-v2",
            Format::Galaxies => "galaxy-table",
        }
    }
}

/// Options of an ingest.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Register a different file under an already registered name as a new
    /// version, replacing the old version's rows.
    pub new_version: bool,
}

/// What an ingest did.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum IngestOutcome {
    /// The file was loaded.
    Loaded {
        /// Its registry entry.
        file: RawFile,
        /// Rows per table.
        tables: Vec<(String, u64)>,
    },
    /// The same bytes were already ingested: nothing was done.
    AlreadyIngested {
        /// The existing registry entry.
        file: RawFile,
    },
}

/// Progress reporting for long loads; the callback may stop the load by
/// returning an error message (the transaction is then rolled back).
pub struct Progress<'a> {
    callback: Option<&'a mut dyn FnMut(u64) -> std::result::Result<(), String>>,
}

impl<'a> Progress<'a> {
    /// No reporting.
    pub fn none() -> Progress<'static> {
        Progress { callback: None }
    }

    /// Reports rows loaded (increments) to `callback`.
    pub fn new(
        callback: &'a mut dyn FnMut(u64) -> std::result::Result<(), String>,
    ) -> Progress<'a> {
        Progress {
            callback: Some(callback),
        }
    }

    pub(crate) fn rows(&mut self, n: u64) -> Result<()> {
        if let Some(cb) = self.callback.as_mut() {
            cb(n).map_err(StoreError::Interrupted)?;
        }
        Ok(())
    }
}

/// A file read into batches, ready to load.
pub(crate) struct Prepared {
    pub format: Format,
    pub hdus_json: String,
    pub batches: Vec<Batch>,
}

impl Prepared {
    fn rows(&self) -> u64 {
        self.batches.iter().map(|b| b.nrows as u64).sum()
    }
}

/// Expands files and directories (recursively, sorted) into the files to
/// ingest: `*.fits`, `*.fit`, `*.fits.fz` is not supported yet; `*.csv`.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| StoreError::Io {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found)?;
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in rd {
        let entry = entry.map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            if name.ends_with(".fits") || name.ends_with(".fit") || name.ends_with(".csv") {
                out.push(path);
            }
        }
    }
    Ok(())
}

/// Reads a file's HDU list for the registry.
fn hdus_json(fits: &FitsFile) -> String {
    let list: Vec<serde_json::Value> = fits
        .hdus()
        .iter()
        .map(|h| {
            serde_json::json!({
                "index": h.index,
                "extname": h.extname,
                "kind": format!("{:?}", h.kind),
                "rows": h.nrows(),
            })
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// Detects the format from the HDU names (and, for plain tables, columns).
pub fn detect_format(path: &Path) -> Result<Format> {
    if is_csv(path) {
        return Ok(Format::Galaxies);
    }
    let fits = FitsFile::open(path)?;
    detect_fits(path, &fits)
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

fn detect_fits(path: &Path, fits: &FitsFile) -> Result<Format> {
    let has = |n: &str| fits.has_hdu(n);
    if has("ZCATALOG") {
        return Ok(Format::Zcatalog);
    }
    if has("REDSHIFTS") && has("FIBERMAP") {
        return Ok(Format::Redrock);
    }
    if has("METADATA") && has("SPECPHOT") {
        return Ok(Format::Fastspecfit);
    }
    if has("MAXIMALS") && has("HOLES") {
        return Ok(Format::VoidFinder);
    }
    if has("VOIDS") || has("ZONEVOID") || has("GALZONE") {
        return Ok(Format::V2);
    }
    if has("FIBERMAP") && (has("B_FLUX") || has("BRZ_FLUX")) {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.display().to_string(),
            _ => ".".to_string(),
        };
        return Err(StoreError::UnknownFormat {
            path: path.to_path_buf(),
            reason: format!(
                "this is a DESI coadd (spectra), not a catalog: `astrolab ingest` loads catalogs; \
                 to add its spectra to the spectral store run `astrolab spectra build --from {dir}` \
                 (it takes every coadd-*.fits under the directory, with the redrock-*.fits beside each)"
            ),
        });
    }
    if let Ok(t) = fits.first_table() {
        if t.has_column("ra") && t.has_column("dec") {
            return Ok(Format::Galaxies);
        }
    }
    let names: Vec<String> = fits.hdus().iter().map(|h| h.name()).collect();
    Err(StoreError::UnknownFormat {
        path: path.to_path_buf(),
        reason: format!("HDUs found: {}", names.join(", ")),
    })
}

fn prepare(path: &Path) -> Result<Prepared> {
    if is_csv(path) {
        let mut p = galaxies::read_csv(path)?;
        for b in p.batches.iter_mut() {
            b.sort_by("hpx");
        }
        return Ok(p);
    }
    let fits = FitsFile::open(path)?;
    let format = detect_fits(path, &fits)?;
    let hdus_json = hdus_json(&fits);
    let t = std::time::Instant::now();
    let mut batches = match format {
        Format::Zcatalog => vec![desi::read_zcatalog(path, &fits)?],
        Format::Redrock => vec![desi::read_redrock(path, &fits)?],
        Format::Fastspecfit => vec![desi::read_fastspec(path, &fits)?],
        Format::VoidFinder => voids::read_voidfinder(path, &fits)?,
        Format::V2 => voids::read_v2(path, &fits)?,
        Format::Galaxies => vec![galaxies::read_fits(path, &fits)?],
    };
    tracing::debug!(
        seconds = t.elapsed().as_secs_f64(),
        "columns read and checked"
    );
    let t = std::time::Instant::now();
    for b in batches.iter_mut().filter(|b| b.table.sky) {
        b.sort_by("hpx");
    }
    tracing::debug!(
        seconds = t.elapsed().as_secs_f64(),
        "rows sorted by HEALPix index"
    );
    Ok(Prepared {
        format,
        hdus_json,
        batches,
    })
}

impl Store {
    /// Ingests one file: registers it and loads its rows in one transaction.
    pub fn ingest_file(
        &mut self,
        path: &Path,
        options: &IngestOptions,
        progress: &mut Progress<'_>,
    ) -> Result<IngestOutcome> {
        let t0 = std::time::Instant::now();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                StoreError::BadInput(format!("{}: file name is not UTF-8", path.display()))
            })?
            .to_string();
        let previous = self.raw_file_by_name(&name)?;
        let size_now = std::fs::metadata(path).map(|m| m.len()).ok();
        // A file registered under this name with this size is most likely
        // a re-ingest: checksum first and stop early. Otherwise checksum and
        // read the file at the same time.
        let likely_same = previous
            .as_ref()
            .is_some_and(|p| Some(p.size_bytes as u64) == size_now);
        let (digest, early) = if likely_same {
            (file_digest(path), None)
        } else {
            let (d, p) = rayon::join(|| file_digest(path), || prepare(path));
            (d, Some(p))
        };
        let (size, sha256) = digest?;
        tracing::debug!(seconds = t0.elapsed().as_secs_f64(), "sha256");
        if let Some(file) = self.raw_file_by_sha256(&sha256)? {
            return Ok(IngestOutcome::AlreadyIngested { file });
        }
        if let Some(prev) = &previous {
            if !options.new_version {
                return Err(StoreError::NameConflict {
                    name,
                    file_id: prev.file_id,
                    registered_sha256: prev.sha256.clone(),
                    new_sha256: sha256,
                    next_version: prev.version + 1,
                });
            }
        }
        let t1 = std::time::Instant::now();
        let mut prepared = match early {
            Some(p) => p?,
            None => prepare(path)?,
        };
        tracing::debug!(
            seconds = t1.elapsed().as_secs_f64(),
            rows = prepared.rows(),
            "read and checked"
        );
        let source = std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string();
        let mut file = RawFile {
            file_id: 0,
            name,
            version: previous.as_ref().map_or(1, |p| p.version + 1),
            source,
            size_bytes: size as i64,
            sha256,
            format: prepared.format.as_str().to_string(),
            hdus: prepared.hdus_json.clone(),
            rows_loaded: prepared.rows() as i64,
            ingested_at: now_rfc3339(),
            software_version: env!("CARGO_PKG_VERSION").to_string(),
            superseded: false,
        };
        if previous.is_some() {
            self.acting_require_admin(&format!("the catalog rows of {}", file.name))?;
        }
        let replaced = previous.map(|p| p.file_id);
        // Bytes a restricted run wrote stay restricted when ingested,
        // wherever they were copied to: the file joins the run's derived
        // dataset in the load's own transaction.
        let derived = match self.derived_restriction(&file.sha256)? {
            Some(projects) => Some(self.derived_dataset(&projects)?),
            None => None,
        };
        let t2 = std::time::Instant::now();
        let home = self.config.home.clone();
        let pending = positions::start(&home, &file.sha256, &prepared.batches);
        match self.load_prepared(&file, replaced, derived.as_deref(), &mut prepared, progress) {
            Ok(id) => file.file_id = id,
            Err(e) => {
                pending.discard();
                return Err(e);
            }
        }
        tracing::debug!(seconds = t2.elapsed().as_secs_f64(), "loaded and committed");
        pending.publish(&home, &file);
        let tables = prepared
            .batches
            .iter()
            .map(|b| (b.table.name.to_string(), b.nrows as u64))
            .collect();
        Ok(IngestOutcome::Loaded { file, tables })
    }

    fn load_prepared(
        &mut self,
        file: &RawFile,
        replaced: Option<i64>,
        dataset: Option<&str>,
        prepared: &mut Prepared,
        progress: &mut Progress<'_>,
    ) -> Result<i64> {
        match &mut self.conn {
            Conn::Sqlite { conn, path } => {
                let path = path.clone();
                // A big load into a (nearly) empty database: a rollback
                // journal writes the new pages once, where WAL writes them
                // twice (log, then checkpoint). Only possible when no other
                // connection has the database open; otherwise stay in WAL.
                let big = prepared.rows() >= 1_000_000;
                let switched = big
                    && conn
                        .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get::<_, String>(0))
                        .map(|m| m.eq_ignore_ascii_case("delete"))
                        .unwrap_or(false);
                let result =
                    Self::load_sqlite(conn, &path, file, replaced, dataset, prepared, progress);
                if switched {
                    if let Err(err) =
                        conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
                    {
                        tracing::warn!(error = %err, "could not switch the database back to WAL mode");
                    }
                }
                result
            }
            Conn::Postgres(client) => {
                Self::load_postgres(client, file, replaced, dataset, prepared, progress)
            }
        }
    }

    fn load_sqlite(
        conn: &mut rusqlite::Connection,
        path: &std::path::Path,
        file: &RawFile,
        replaced: Option<i64>,
        dataset: Option<&str>,
        prepared: &mut Prepared,
        progress: &mut Progress<'_>,
    ) -> Result<i64> {
        let path = path.to_path_buf();
        let e = StoreError::sqlite;
        let tx = conn.transaction().map_err(e(&path))?;
        if let Some(old) = replaced {
            for t in crate::schema::TABLES {
                tx.execute(&format!("DELETE FROM {} WHERE file_id = ?1", t.name), [old])
                    .map_err(e(&path))?;
            }
            tx.execute(
                "UPDATE raw_files SET superseded = 1 WHERE file_id = ?1",
                [old],
            )
            .map_err(e(&path))?;
        }
        tx.execute(
            "INSERT INTO raw_files (name, version, source, size_bytes, sha256, format, hdus, rows_loaded, ingested_at, software_version, superseded) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)",
            rusqlite::params![file.name, file.version, file.source, file.size_bytes, file.sha256, file.format, file.hdus, file.rows_loaded, file.ingested_at, file.software_version],
        )
        .map_err(e(&path))?;
        let file_id = tx.last_insert_rowid();
        if let Some(d) = dataset {
            tx.execute(
                "INSERT INTO dataset_files (dataset, file_id) VALUES (?1, ?2)",
                rusqlite::params![d, file_id],
            )
            .map_err(e(&path))?;
        }
        for b in prepared.batches.iter_mut() {
            b.set("file_id", Values::ConstI64(file_id));
            let (saved, _cache) = if bulk::worth_it_sqlite(&tx, b).map_err(e(&path))? {
                (
                    bulk::drop_indexes_sqlite(&tx, b.table.name).map_err(e(&path))?,
                    Some(bulk::CacheSize::set(&tx, bulk::BULK_CACHE_KIB).map_err(e(&path))?),
                )
            } else {
                (Vec::new(), None)
            };
            let t = std::time::Instant::now();
            crate::sqlite::load_batch(&tx, &path, b, progress)?;
            tracing::debug!(
                table = b.table.name,
                rows = b.nrows,
                seconds = t.elapsed().as_secs_f64(),
                "inserted"
            );
            for sql in saved {
                let t = std::time::Instant::now();
                tx.execute_batch(&sql).map_err(e(&path))?;
                tracing::debug!(sql = %sql, seconds = t.elapsed().as_secs_f64(), "index rebuilt");
            }
        }
        let t = std::time::Instant::now();
        tx.commit().map_err(e(&path))?;
        tracing::debug!(seconds = t.elapsed().as_secs_f64(), "committed");
        Ok(file_id)
    }

    fn load_postgres(
        client: &mut postgres::Client,
        file: &RawFile,
        replaced: Option<i64>,
        dataset: Option<&str>,
        prepared: &mut Prepared,
        progress: &mut Progress<'_>,
    ) -> Result<i64> {
        let mut tx = client.transaction()?;
        if let Some(old) = replaced {
            for t in crate::schema::TABLES {
                tx.execute(
                    &format!("DELETE FROM {} WHERE file_id = $1", t.name),
                    &[&old],
                )?;
            }
            tx.execute(
                "UPDATE raw_files SET superseded = TRUE WHERE file_id = $1",
                &[&old],
            )?;
        }
        let row = tx.query_one(
            "INSERT INTO raw_files (name, version, source, size_bytes, sha256, format, hdus, rows_loaded, ingested_at, software_version, superseded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, FALSE) RETURNING file_id",
            &[&file.name, &file.version, &file.source, &file.size_bytes, &file.sha256, &file.format, &file.hdus, &file.rows_loaded, &file.ingested_at, &file.software_version],
        )?;
        let file_id: i64 = row.get(0);
        if let Some(d) = dataset {
            tx.execute(
                "INSERT INTO dataset_files (dataset, file_id) VALUES ($1, $2)",
                &[&d, &file_id],
            )?;
        }
        for b in prepared.batches.iter_mut() {
            b.set("file_id", Values::ConstI64(file_id));
            let saved = if bulk::worth_it_postgres(&mut tx, b)? {
                bulk::drop_indexes_postgres(&mut tx, b.table.name)?
            } else {
                Vec::new()
            };
            let t = std::time::Instant::now();
            crate::postgres::load_batch(&mut tx, b, progress)?;
            tracing::debug!(
                seconds = t.elapsed().as_secs_f64(),
                table = b.table.name,
                "COPY"
            );
            for sql in saved {
                let t = std::time::Instant::now();
                tx.batch_execute(&sql)?;
                tracing::debug!(seconds = t.elapsed().as_secs_f64(), sql, "index rebuilt");
            }
            if b.nrows >= 10_000 {
                // Fresh statistics, or the planner ignores the q3c
                // index after a bulk load (seen: 640 ms cones).
                tx.batch_execute(&format!("ANALYZE {}", b.table.name))?;
            }
        }
        tx.commit()?;
        Ok(file_id)
    }
}
