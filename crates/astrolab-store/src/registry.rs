//! The raw-file registry: every ingested file once, with its checksum.
//!
//! A file is identified by its bytes (SHA-256). Ingesting the same bytes
//! again is a no-op; a different file under a registered name is refused
//! unless the caller asks for a new version, which supersedes the old one
//! (its rows are replaced in the same transaction). Raw files are only ever
//! read.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};
use crate::store::Store;
use crate::value::Value;

/// What the registry keeps about one file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RawFile {
    /// Row id, referenced by every loaded row (`file_id`).
    pub file_id: i64,
    /// File name (the registry key together with `version`).
    pub name: String,
    /// Version under this name (1, 2, ...).
    pub version: i64,
    /// Absolute path or URL it was read from.
    pub source: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    /// Detected format.
    pub format: String,
    /// HDUs with their row counts, as JSON.
    pub hdus: String,
    /// Rows loaded into the store from this file.
    pub rows_loaded: i64,
    /// When it was ingested (UTC, RFC 3339).
    pub ingested_at: String,
    /// astrolab version that ingested it.
    pub software_version: String,
    /// True when a newer version replaced it.
    pub superseded: bool,
}

/// Size and SHA-256 of a file, read in 1 MiB blocks.
pub fn file_digest(path: &Path) -> Result<(u64, String)> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Current UTC time, RFC 3339.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".to_string())
}

const COLUMNS: &str = "file_id, name, version, source, size_bytes, sha256, format, hdus, rows_loaded, ingested_at, software_version, superseded";

fn from_row(r: &[Value]) -> RawFile {
    RawFile {
        file_id: r[0].as_i64().unwrap_or(0),
        name: r[1].to_string(),
        version: r[2].as_i64().unwrap_or(0),
        source: r[3].to_string(),
        size_bytes: r[4].as_i64().unwrap_or(0),
        sha256: r[5].to_string(),
        format: r[6].to_string(),
        hdus: r[7].to_string(),
        rows_loaded: r[8].as_i64().unwrap_or(0),
        ingested_at: r[9].to_string(),
        software_version: r[10].to_string(),
        superseded: r[11].as_i64().unwrap_or(0) != 0,
    }
}

impl Store {
    /// Every registered file, oldest first.
    pub fn raw_files(&mut self) -> Result<Vec<RawFile>> {
        let sql = format!("SELECT {COLUMNS} FROM raw_files ORDER BY file_id");
        Ok(self
            .query_rows(&sql, &sql, &[])?
            .iter()
            .map(|r| from_row(r))
            .collect())
    }

    /// The live (not superseded) file with these bytes, if any.
    pub fn raw_file_by_sha256(&mut self, sha256: &str) -> Result<Option<RawFile>> {
        let s = format!("SELECT {COLUMNS} FROM raw_files WHERE sha256 = ?1 AND superseded = 0 ORDER BY file_id LIMIT 1");
        let p = format!("SELECT {COLUMNS} FROM raw_files WHERE sha256 = $1 AND NOT superseded ORDER BY file_id LIMIT 1");
        Ok(self
            .query_rows(&s, &p, &[Value::Text(sha256.to_string())])?
            .first()
            .map(|r| from_row(r)))
    }

    /// The file with this id (any version), if any.
    pub fn raw_file(&mut self, file_id: i64) -> Result<Option<RawFile>> {
        let s = format!("SELECT {COLUMNS} FROM raw_files WHERE file_id = ?1");
        let p = format!("SELECT {COLUMNS} FROM raw_files WHERE file_id = $1");
        Ok(self
            .query_rows(&s, &p, &[Value::Int(file_id)])?
            .first()
            .map(|r| from_row(r)))
    }

    /// Every registered file (all versions) of one of `formats`, oldest
    /// first.
    pub fn raw_files_of_format(&mut self, formats: &[&str]) -> Result<Vec<RawFile>> {
        if formats.is_empty() {
            return Ok(Vec::new());
        }
        let list = |sigil: &str| {
            (1..=formats.len())
                .map(|i| format!("{sigil}{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let s = format!(
            "SELECT {COLUMNS} FROM raw_files WHERE format IN ({}) ORDER BY file_id",
            list("?")
        );
        let p = format!(
            "SELECT {COLUMNS} FROM raw_files WHERE format IN ({}) ORDER BY file_id",
            list("$")
        );
        let params: Vec<Value> = formats.iter().map(|f| Value::Text(f.to_string())).collect();
        Ok(self
            .query_rows(&s, &p, &params)?
            .iter()
            .map(|r| from_row(r))
            .collect())
    }

    /// The live file registered under `name`, if any.
    pub fn raw_file_by_name(&mut self, name: &str) -> Result<Option<RawFile>> {
        let s = format!("SELECT {COLUMNS} FROM raw_files WHERE name = ?1 AND superseded = 0 ORDER BY version DESC LIMIT 1");
        let p = format!("SELECT {COLUMNS} FROM raw_files WHERE name = $1 AND NOT superseded ORDER BY version DESC LIMIT 1");
        Ok(self
            .query_rows(&s, &p, &[Value::Text(name.to_string())])?
            .first()
            .map(|r| from_row(r)))
    }
}
