//! Integrated 21 cm spectra (migration 5): a recording's spectra and its
//! raw-file registration are written in one transaction, so a recording is
//! either fully in the store or not at all, and registered once by its
//! SHA-256 (processing the same bytes again is a no-op for the caller to
//! detect with [`Store::raw_file_by_sha256`]). On PostgreSQL the table is
//! partitioned by month; the month's partition is created here when the
//! first spectrum of that month arrives.

use crate::error::{Result, StoreError};
use crate::registry::now_rfc3339;
use crate::store::{Conn, Store};

/// Registry formats of hydrogen-line recordings (`hline process`): SigMF
/// and raw `rtl_sdr` captures.
pub const HLINE_FORMATS: [&str; 2] = ["sigmf", "rtl_iq"];

/// A raw SDR recording to register.
#[derive(Debug, Clone)]
pub struct HlineRecording {
    /// Registry name (the recording's file name).
    pub name: String,
    /// Absolute path it was read from.
    pub source: String,
    /// Size of the sample data in bytes.
    pub size_bytes: i64,
    /// SHA-256 of the sample data.
    pub sha256: String,
    /// `sigmf` or `rtl_iq`.
    pub format: String,
    /// Description (JSON): samples, rate, datatype ...
    pub details: String,
}

/// One integrated spectrum as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct HlineSpectrumRow {
    /// Index within the recording.
    pub integration: i64,
    /// Start, seconds since 1970 UTC.
    pub start_unix_s: f64,
    /// Frames averaged.
    pub n_frames: i64,
    /// Integration time.
    pub integration_s: f64,
    /// Tuned centre frequency.
    pub center_freq_hz: f64,
    /// Frequency of channel 0.
    pub first_channel_freq_hz: f64,
    /// Channel spacing.
    pub channel_width_hz: f64,
    /// ICRS pointing, when known.
    pub ra_deg: Option<f64>,
    /// ICRS pointing, when known.
    pub dec_deg: Option<f64>,
    /// Horizontal pointing, when known.
    pub az_deg: Option<f64>,
    /// Horizontal pointing, when known.
    pub el_deg: Option<f64>,
    /// Mean power per channel.
    pub spectrum: Vec<f32>,
    /// RFI flag bits per channel.
    pub flags: Vec<u8>,
}

fn f32_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn blob_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// First day of the month holding `unix_s` and of the next month, as
/// `(name suffix, from, to)` for a partition.
fn month_bounds(unix_s: f64) -> Result<(String, String, String)> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_s.floor() as i64)
        .map_err(|e| StoreError::Migration(format!("spectrum time {unix_s} s: {e}")))?;
    let (y, m) = (t.year(), t.month() as i32);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    Ok((
        format!("y{y:04}m{m:02}"),
        format!("{y:04}-{m:02}-01 00:00:00+00"),
        format!("{ny:04}-{nm:02}-01 00:00:00+00"),
    ))
}

const SELECT_COLS_SQLITE: &str = "integration, start_unix_s, n_frames, integration_s, center_freq_hz, first_channel_freq_hz, channel_width_hz, ra_deg, dec_deg, az_deg, el_deg, spectrum, flags";
const SELECT_COLS_PG: &str = "integration, EXTRACT(EPOCH FROM start_time)::float8, n_frames, integration_s, center_freq_hz, first_channel_freq_hz, channel_width_hz, ra_deg, dec_deg, az_deg, el_deg, spectrum, flags";

impl Store {
    /// Registers a recording and stores its spectra in one transaction;
    /// returns the new `file_id`. A different recording under the same
    /// name supersedes the old one (whose spectra are removed).
    pub fn store_hline_recording(
        &mut self,
        rec: &HlineRecording,
        rows: &[HlineSpectrumRow],
    ) -> Result<i64> {
        let previous = self.raw_file_by_name(&rec.name)?;
        if previous.is_some() {
            self.acting_require_admin(&format!("the stored recording {}", rec.name))?;
        }
        let version = previous.as_ref().map_or(1, |p| p.version + 1);
        let old_id = previous.map(|p| p.file_id);
        let now = now_rfc3339();
        let sw = env!("CARGO_PKG_VERSION");
        let n_rows = rows.len() as i64;
        match &mut self.conn {
            Conn::Sqlite { conn, path } => {
                let path = path.clone();
                let e = StoreError::sqlite;
                let tx = conn.transaction().map_err(e(&path))?;
                if let Some(old) = old_id {
                    tx.execute("DELETE FROM hline_spectra WHERE file_id = ?1", [old])
                        .map_err(e(&path))?;
                    tx.execute(
                        "UPDATE raw_files SET superseded = 1 WHERE file_id = ?1",
                        [old],
                    )
                    .map_err(e(&path))?;
                }
                tx.execute(
                    "INSERT INTO raw_files (name, version, source, size_bytes, sha256, format, hdus, rows_loaded, ingested_at, software_version, superseded) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)",
                    rusqlite::params![rec.name, version, rec.source, rec.size_bytes, rec.sha256, rec.format, rec.details, n_rows, now, sw],
                )
                .map_err(e(&path))?;
                let file_id = tx.last_insert_rowid();
                {
                    let mut st = tx
                        .prepare("INSERT INTO hline_spectra (file_id, integration, start_time, start_unix_s, n_frames, integration_s, n_channels, center_freq_hz, first_channel_freq_hz, channel_width_hz, ra_deg, dec_deg, az_deg, el_deg, n_flagged, spectrum, flags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)")
                        .map_err(e(&path))?;
                    for r in rows {
                        let when = time::OffsetDateTime::from_unix_timestamp_nanos(
                            (r.start_unix_s * 1e9) as i128,
                        )
                        .ok()
                        .and_then(|t| {
                            t.format(&time::format_description::well_known::Rfc3339)
                                .ok()
                        })
                        .unwrap_or_default();
                        let n_flagged = r.flags.iter().filter(|&&f| f != 0).count() as i64;
                        st.execute(rusqlite::params![
                            file_id,
                            r.integration,
                            when,
                            r.start_unix_s,
                            r.n_frames,
                            r.integration_s,
                            r.spectrum.len() as i64,
                            r.center_freq_hz,
                            r.first_channel_freq_hz,
                            r.channel_width_hz,
                            r.ra_deg,
                            r.dec_deg,
                            r.az_deg,
                            r.el_deg,
                            n_flagged,
                            f32_blob(&r.spectrum),
                            r.flags
                        ])
                        .map_err(e(&path))?;
                    }
                }
                tx.commit().map_err(e(&path))?;
                Ok(file_id)
            }
            Conn::Postgres(c) => {
                let mut tx = c.transaction()?;
                if let Some(old) = old_id {
                    tx.execute("DELETE FROM hline_spectra WHERE file_id = $1", &[&old])?;
                    tx.execute(
                        "UPDATE raw_files SET superseded = TRUE WHERE file_id = $1",
                        &[&old],
                    )?;
                }
                let file_id: i64 = tx
                    .query_one(
                        "INSERT INTO raw_files (name, version, source, size_bytes, sha256, format, hdus, rows_loaded, ingested_at, software_version, superseded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, FALSE) RETURNING file_id",
                        &[&rec.name, &version, &rec.source, &rec.size_bytes, &rec.sha256, &rec.format, &rec.details, &n_rows, &now, &sw],
                    )?
                    .get(0);
                let mut months = std::collections::BTreeSet::new();
                for r in rows {
                    months.insert(month_bounds(r.start_unix_s)?);
                }
                for (suffix, from, to) in months {
                    // Names and bounds are built from integers, not input.
                    tx.batch_execute(&format!(
                        "CREATE TABLE IF NOT EXISTS hline_spectra_{suffix} PARTITION OF hline_spectra FOR VALUES FROM ('{from}') TO ('{to}')"
                    ))?;
                }
                let st = tx.prepare("INSERT INTO hline_spectra (file_id, integration, start_time, n_frames, integration_s, n_channels, center_freq_hz, first_channel_freq_hz, channel_width_hz, ra_deg, dec_deg, az_deg, el_deg, n_flagged, spectrum, flags) VALUES ($1, $2, to_timestamp($3), $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")?;
                for r in rows {
                    let n_flagged = r.flags.iter().filter(|&&f| f != 0).count() as i64;
                    let nch = r.spectrum.len() as i64;
                    tx.execute(
                        &st,
                        &[
                            &file_id,
                            &r.integration,
                            &r.start_unix_s,
                            &r.n_frames,
                            &r.integration_s,
                            &nch,
                            &r.center_freq_hz,
                            &r.first_channel_freq_hz,
                            &r.channel_width_hz,
                            &r.ra_deg,
                            &r.dec_deg,
                            &r.az_deg,
                            &r.el_deg,
                            &n_flagged,
                            &r.spectrum,
                            &r.flags,
                        ],
                    )?;
                }
                tx.commit()?;
                Ok(file_id)
            }
        }
    }

    /// Every registered hydrogen-line recording (formats
    /// [`HLINE_FORMATS`], every version), oldest first.
    pub fn hline_recordings(&mut self) -> Result<Vec<crate::RawFile>> {
        self.raw_files_of_format(&HLINE_FORMATS)
    }

    /// The hydrogen-line recording with this file id, if there is one.
    pub fn hline_recording(&mut self, file_id: i64) -> Result<Option<crate::RawFile>> {
        Ok(self
            .raw_file(file_id)?
            .filter(|f| HLINE_FORMATS.contains(&f.format.as_str())))
    }

    /// The spectra of one recording, in integration order.
    pub fn hline_spectra(&mut self, file_id: i64) -> Result<Vec<HlineSpectrumRow>> {
        self.hline_query(
            &format!("SELECT {SELECT_COLS_SQLITE} FROM hline_spectra WHERE file_id = ?1 ORDER BY integration"),
            &format!("SELECT {SELECT_COLS_PG} FROM hline_spectra WHERE file_id = $1 ORDER BY integration"),
            Some(file_id),
            None,
        )
    }

    /// Spectra that start in `[from_unix_s, to_unix_s)`, in time order
    /// (the time index; on PostgreSQL only the months concerned are read).
    pub fn hline_spectra_between(
        &mut self,
        from_unix_s: f64,
        to_unix_s: f64,
    ) -> Result<Vec<HlineSpectrumRow>> {
        self.hline_query(
            &format!("SELECT {SELECT_COLS_SQLITE} FROM hline_spectra WHERE start_unix_s >= ?1 AND start_unix_s < ?2 ORDER BY start_unix_s, file_id, integration"),
            &format!("SELECT {SELECT_COLS_PG} FROM hline_spectra WHERE start_time >= to_timestamp($1) AND start_time < to_timestamp($2) ORDER BY start_time, file_id, integration"),
            None,
            Some((from_unix_s, to_unix_s)),
        )
    }

    /// Names of the PostgreSQL partitions of the spectra table (empty on
    /// SQLite).
    pub fn hline_partitions(&mut self) -> Result<Vec<String>> {
        match &mut self.conn {
            Conn::Sqlite { .. } => Ok(Vec::new()),
            Conn::Postgres(c) => Ok(c
                .query(
                    "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'hline_spectra' AND p.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) ORDER BY 1",
                    &[],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect()),
        }
    }

    fn hline_query(
        &mut self,
        s_sql: &str,
        p_sql: &str,
        id: Option<i64>,
        range: Option<(f64, f64)>,
    ) -> Result<Vec<HlineSpectrumRow>> {
        match &mut self.conn {
            Conn::Sqlite { conn, path } => {
                let p = path.clone();
                let e = |source| StoreError::Sqlite {
                    path: p.clone(),
                    source,
                };
                let mut st = conn.prepare(s_sql).map_err(e)?;
                let map = |r: &rusqlite::Row<'_>| -> rusqlite::Result<HlineSpectrumRow> {
                    let spec: Vec<u8> = r.get(11)?;
                    Ok(HlineSpectrumRow {
                        integration: r.get(0)?,
                        start_unix_s: r.get(1)?,
                        n_frames: r.get(2)?,
                        integration_s: r.get(3)?,
                        center_freq_hz: r.get(4)?,
                        first_channel_freq_hz: r.get(5)?,
                        channel_width_hz: r.get(6)?,
                        ra_deg: r.get(7)?,
                        dec_deg: r.get(8)?,
                        az_deg: r.get(9)?,
                        el_deg: r.get(10)?,
                        spectrum: blob_f32(&spec),
                        flags: r.get(12)?,
                    })
                };
                let rows = match (id, range) {
                    (Some(id), _) => st.query_map([id], map),
                    (None, Some((a, b))) => st.query_map([a, b], map),
                    (None, None) => st.query_map([], map),
                }
                .map_err(e)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(e)
            }
            Conn::Postgres(c) => {
                let rows = match (id, range) {
                    (Some(id), _) => c.query(p_sql, &[&id])?,
                    (None, Some((a, b))) => c.query(p_sql, &[&a, &b])?,
                    (None, None) => c.query(p_sql, &[])?,
                };
                Ok(rows
                    .iter()
                    .map(|r| HlineSpectrumRow {
                        integration: r.get(0),
                        start_unix_s: r.get(1),
                        n_frames: r.get(2),
                        integration_s: r.get(3),
                        center_freq_hz: r.get(4),
                        first_channel_freq_hz: r.get(5),
                        channel_width_hz: r.get(6),
                        ra_deg: r.get(7),
                        dec_deg: r.get(8),
                        az_deg: r.get(9),
                        el_deg: r.get(10),
                        spectrum: r.get(11),
                        flags: r.get(12),
                    })
                    .collect())
            }
        }
    }
}
