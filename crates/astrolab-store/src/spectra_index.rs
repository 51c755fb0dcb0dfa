//! The spectral store's index: which columnar file and row hold the
//! spectrum of a TARGETID (issue 3). Files are registered with all their
//! rows in one transaction, after the file itself was written and renamed,
//! so the index never points into a half-written file.

use std::collections::HashSet;

use crate::error::{Result, StoreError};
use crate::store::{Conn, Store};
use crate::value::Value;

/// One columnar spectra file as the index knows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpectraFileRecord {
    /// Row id.
    pub spectra_file_id: i64,
    /// Path of the Parquet file.
    pub path: String,
    /// DESI survey.
    pub survey: String,
    /// DESI program.
    pub program: String,
    /// HEALPix pixel (nside 64, nested).
    pub healpix: i64,
    /// Spectra in the file.
    pub n_spectra: i64,
    /// File size.
    pub size_bytes: i64,
    /// Source files with their checksums (JSON).
    pub sources: String,
    /// When it was built (UTC, RFC 3339).
    pub built_at: String,
    /// astrolab version that built it.
    pub software_version: String,
}

/// Where one spectrum lives.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumLocation {
    /// TARGETID.
    pub target_id: i64,
    /// Path of the Parquet file.
    pub path: String,
    /// Row in that file.
    pub row: usize,
    /// Redshift stored with the spectrum.
    pub z: Option<f64>,
}

const FILE_COLUMNS: &str = "spectra_file_id, path, survey, program, healpix, n_spectra, size_bytes, sources, built_at, software_version";

fn record(r: &[Value]) -> SpectraFileRecord {
    SpectraFileRecord {
        spectra_file_id: r[0].as_i64().unwrap_or(0),
        path: r[1].to_string(),
        survey: r[2].to_string(),
        program: r[3].to_string(),
        healpix: r[4].as_i64().unwrap_or(0),
        n_spectra: r[5].as_i64().unwrap_or(0),
        size_bytes: r[6].as_i64().unwrap_or(0),
        sources: r[7].to_string(),
        built_at: r[8].to_string(),
        software_version: r[9].to_string(),
    }
}

impl Store {
    /// Registers a spectra file and its rows (target id, row, z), replacing
    /// any earlier registration of the same path, in one transaction.
    pub fn register_spectra_file(
        &mut self,
        rec: &SpectraFileRecord,
        rows: &[(i64, usize, f64)],
    ) -> Result<i64> {
        self.acting_require_admin("the spectra index")?;
        match &mut self.conn {
            Conn::Sqlite { conn, path } => {
                let e = StoreError::sqlite;
                let path = path.clone();
                let tx = conn.transaction().map_err(e(&path))?;
                tx.execute("DELETE FROM spectra_index WHERE spectra_file_id IN (SELECT spectra_file_id FROM spectra_files WHERE path = ?1)", [&rec.path])
                    .map_err(e(&path))?;
                tx.execute("DELETE FROM spectra_files WHERE path = ?1", [&rec.path])
                    .map_err(e(&path))?;
                tx.execute(
                    "INSERT INTO spectra_files (path, survey, program, healpix, n_spectra, size_bytes, sources, built_at, software_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    rusqlite::params![rec.path, rec.survey, rec.program, rec.healpix, rec.n_spectra, rec.size_bytes, rec.sources, rec.built_at, rec.software_version],
                )
                .map_err(e(&path))?;
                let id = tx.last_insert_rowid();
                {
                    let mut stmt = tx
                        .prepare("INSERT INTO spectra_index (target_id, spectra_file_id, row_index, z) VALUES (?1, ?2, ?3, ?4)")
                        .map_err(e(&path))?;
                    for &(t, row, z) in rows {
                        stmt.execute(rusqlite::params![
                            t,
                            id,
                            row as i64,
                            z.is_finite().then_some(z)
                        ])
                        .map_err(e(&path))?;
                    }
                }
                tx.commit().map_err(e(&path))?;
                Ok(id)
            }
            Conn::Postgres(c) => {
                let mut tx = c.transaction()?;
                tx.execute("DELETE FROM spectra_index WHERE spectra_file_id IN (SELECT spectra_file_id FROM spectra_files WHERE path = $1)", &[&rec.path])?;
                tx.execute("DELETE FROM spectra_files WHERE path = $1", &[&rec.path])?;
                let id: i64 = tx
                    .query_one(
                        "INSERT INTO spectra_files (path, survey, program, healpix, n_spectra, size_bytes, sources, built_at, software_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING spectra_file_id",
                        &[&rec.path, &rec.survey, &rec.program, &rec.healpix, &rec.n_spectra, &rec.size_bytes, &rec.sources, &rec.built_at, &rec.software_version],
                    )?
                    .get(0);
                let stmt = tx.prepare("INSERT INTO spectra_index (target_id, spectra_file_id, row_index, z) VALUES ($1, $2, $3, $4)")?;
                for &(t, row, z) in rows {
                    let z = z.is_finite().then_some(z);
                    tx.execute(&stmt, &[&t, &id, &(row as i64), &z])?;
                }
                tx.commit()?;
                Ok(id)
            }
        }
    }

    /// Every registered spectra file.
    pub fn spectra_files(&mut self) -> Result<Vec<SpectraFileRecord>> {
        let sql = format!("SELECT {FILE_COLUMNS} FROM spectra_files ORDER BY spectra_file_id");
        Ok(self
            .query_rows(&sql, &sql, &[])?
            .iter()
            .map(|r| record(r))
            .collect())
    }

    /// The registered file at `path`, if any.
    pub fn spectra_file_by_path(&mut self, path: &str) -> Result<Option<SpectraFileRecord>> {
        let s = format!("SELECT {FILE_COLUMNS} FROM spectra_files WHERE path = ?1");
        let p = format!("SELECT {FILE_COLUMNS} FROM spectra_files WHERE path = $1");
        Ok(self
            .query_rows(&s, &p, &[Value::Text(path.to_string())])?
            .first()
            .map(|r| record(r)))
    }

    /// The registered file built from a source with this SHA-256 (the
    /// sources list names each input with its checksum), if any.
    pub fn spectra_file_from_source(&mut self, sha256: &str) -> Result<Option<SpectraFileRecord>> {
        let pattern = format!("%sha256:{sha256}%");
        let s = format!("SELECT {FILE_COLUMNS} FROM spectra_files WHERE sources LIKE ?1 ORDER BY spectra_file_id LIMIT 1");
        let p = format!("SELECT {FILE_COLUMNS} FROM spectra_files WHERE sources LIKE $1 ORDER BY spectra_file_id LIMIT 1");
        Ok(self
            .query_rows(&s, &p, &[Value::Text(pattern)])?
            .first()
            .map(|r| record(r)))
    }

    /// The raw files a spectra file was built from: its `sources` list
    /// names each input as `NAME sha256:HEX`, matched against the registry
    /// by checksum and by name (a restricted file's other versions are
    /// restricted too). None when the list cannot be read: nothing then
    /// says which files it came from, and callers must fail closed.
    pub fn spectra_source_file_ids(&mut self, rec: &SpectraFileRecord) -> Result<Option<Vec<i64>>> {
        let Ok(list) = serde_json::from_str::<Vec<String>>(&rec.sources) else {
            return Ok(None);
        };
        let mut shas = HashSet::new();
        let mut names = HashSet::new();
        for entry in &list {
            match entry.split_once(" sha256:") {
                Some((name, sha)) => {
                    names.insert(name.trim().to_string());
                    shas.insert(sha.trim().to_ascii_lowercase());
                }
                None => {
                    names.insert(entry.trim().to_string());
                }
            }
        }
        Ok(Some(
            self.raw_files()?
                .iter()
                .filter(|f| shas.contains(&f.sha256) || names.contains(&f.name))
                .map(|f| f.file_id)
                .collect(),
        ))
    }

    /// The spectral type the redshift catalogs (`redshifts`, then
    /// `zcatalog`) give a TARGETID, leaving out rows loaded from
    /// `exclude_file_ids` (the caller's forbidden raw files); None when no
    /// catalog has the target (or only an empty type).
    pub fn spectype_of(
        &mut self,
        target_id: i64,
        exclude_file_ids: &[i64],
    ) -> Result<Option<String>> {
        let mut params = vec![Value::Int(target_id)];
        params.extend(exclude_file_ids.iter().map(|&id| Value::Int(id)));
        let not_in = |mark: char| {
            if exclude_file_ids.is_empty() {
                String::new()
            } else {
                let marks: Vec<String> = (2..=params.len()).map(|i| format!("{mark}{i}")).collect();
                format!(" AND file_id NOT IN ({})", marks.join(", "))
            }
        };
        let (s_not_in, p_not_in) = (not_in('?'), not_in('$'));
        for table in ["redshifts", "zcatalog"] {
            let s = format!("SELECT spectype FROM {table} WHERE targetid = ?1{s_not_in} LIMIT 1");
            let p = format!("SELECT spectype FROM {table} WHERE targetid = $1{p_not_in} LIMIT 1");
            let found = self
                .query_rows(&s, &p, &params)?
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().next())
                .map(|v| v.to_string())
                .filter(|t| !t.is_empty());
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Where the spectra of these TARGETIDs are (targets without a spectrum
    /// are absent from the answer). Sorted by file then row, so callers
    /// read each file once.
    pub fn locate_spectra(&mut self, target_ids: &[i64]) -> Result<Vec<SpectrumLocation>> {
        let mut out = Vec::new();
        let wanted: HashSet<i64> = target_ids.iter().copied().collect();
        for chunk in target_ids.chunks(500) {
            let s_ph: Vec<String> = (1..=chunk.len()).map(|i| format!("?{i}")).collect();
            let p_ph: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let base = "SELECT i.target_id, f.path, i.row_index, i.z FROM spectra_index i JOIN spectra_files f ON f.spectra_file_id = i.spectra_file_id WHERE i.target_id IN";
            let params: Vec<Value> = chunk.iter().map(|&t| Value::Int(t)).collect();
            for r in self.query_rows(
                &format!("{base} ({})", s_ph.join(", ")),
                &format!("{base} ({})", p_ph.join(", ")),
                &params,
            )? {
                let t = r[0].as_i64().unwrap_or(0);
                if wanted.contains(&t) {
                    out.push(SpectrumLocation {
                        target_id: t,
                        path: r[1].to_string(),
                        row: r[2].as_i64().unwrap_or(0) as usize,
                        z: r[3].as_f64(),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path).then(a.row.cmp(&b.row)));
        out.dedup_by(|a, b| a.target_id == b.target_id && a.path == b.path && a.row == b.row);
        self.acting_filter_spectra(&mut out)?;
        Ok(out)
    }

    /// For a store acting for someone (a run): leaves out the spectra of
    /// files built from raw files the principal may not read, and of files
    /// whose sources cannot be told (fail closed, unless the principal is
    /// an admin), and records the reads of restricted files (audit event,
    /// the run's restriction). Nothing to do when nothing is restricted.
    fn acting_filter_spectra(&mut self, out: &mut Vec<SpectrumLocation>) -> Result<()> {
        let Some(a) = self.acting() else {
            return Ok(());
        };
        if a.rules.nothing_restricted() {
            return Ok(());
        }
        let admin = a.rules.is_admin();
        let paths: std::collections::BTreeSet<String> =
            out.iter().map(|l| l.path.clone()).collect();
        let mut allowed = std::collections::HashMap::new();
        let mut read = Vec::new();
        for p in paths {
            let sources = match self.spectra_file_by_path(&p)? {
                Some(rec) => self.spectra_source_file_ids(&rec)?,
                None => None,
            };
            let ok = match sources {
                Some(ids) => {
                    let ok = ids.iter().all(|&i| self.acting_may_read(i));
                    if ok {
                        read.extend(ids);
                    }
                    ok
                }
                None => admin,
            };
            allowed.insert(p, ok);
        }
        out.retain(|l| allowed.get(&l.path).copied().unwrap_or(false));
        self.acting_note_read("spectra", read)
    }
}

/// The TARGETIDs among `rows` that pass a `--select` filter written in the
/// `--where` language over redrock columns (targetid, z, zerr, zwarn, chi2,
/// spectype, subtype, deltachi2, ra, dec). Evaluated by an in-memory SQLite
/// so the language means exactly what it means in queries.
pub fn select_redrock(
    rows: &astrolab_formats::spectra::Redrock,
    filter: &str,
) -> Result<HashSet<i64>> {
    let spec = &crate::schema::REDSHIFTS;
    let compiled = crate::query::filter::compile(filter, spec, '?', 1)?;
    let mem = std::path::PathBuf::from(":memory:");
    let e = StoreError::sqlite;
    let conn = rusqlite::Connection::open_in_memory().map_err(e(&mem))?;
    conn.execute_batch("CREATE TABLE redshifts (file_id INTEGER, targetid INTEGER, ra REAL, dec REAL, z REAL, zerr REAL, zwarn INTEGER, chi2 REAL, spectype TEXT, subtype TEXT, deltachi2 REAL, coadd_fiberstatus INTEGER, hpx INTEGER)")
        .map_err(e(&mem))?;
    {
        let mut ins = conn
            .prepare("INSERT INTO redshifts (targetid, ra, dec, z, zerr, zwarn, spectype, subtype, deltachi2) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
            .map_err(e(&mem))?;
        for i in 0..rows.targetid.len() {
            ins.execute(rusqlite::params![
                rows.targetid[i],
                rows.target_ra[i],
                rows.target_dec[i],
                rows.z[i],
                rows.zerr[i],
                rows.zwarn[i],
                rows.spectype[i],
                rows.subtype[i],
                rows.deltachi2[i]
            ])
            .map_err(e(&mem))?;
        }
    }
    let mut stmt = conn
        .prepare(&format!(
            "SELECT targetid FROM redshifts WHERE {}",
            compiled.sql
        ))
        .map_err(e(&mem))?;
    let ids = stmt
        .query_map(rusqlite::params_from_iter(compiled.params.iter()), |r| {
            r.get::<_, i64>(0)
        })
        .map_err(e(&mem))?
        .collect::<rusqlite::Result<HashSet<i64>>>()
        .map_err(e(&mem))?;
    Ok(ids)
}
