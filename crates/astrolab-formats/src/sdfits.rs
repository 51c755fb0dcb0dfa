//! GBT SDFITS: the `SINGLE DISH` binary table of raw or calibrated spectra.
//!
//! One row is one integration of one spectral window (IFNUM), polarisation
//! (PLNUM) and feed (FDNUM) in one noise-diode (CAL) and switching (SIG)
//! state, with its own frequency axis (CRVAL1/CDELT1/CRPIX1). The reader keeps
//! what calibration (GBTIDL `getps`, `getfs`, `gettp`) needs; the writer
//! produces SDFITS-style results with TSYS and DATA columns, like a GBTIDL
//! `keep`, plus the velocity-frame keywords of a reduction.

use std::path::{Path, PathBuf};

use crate::fits::{BinTable, Card, ColumnData, ColumnOut, FitsError, FitsFile, HduOut};

/// Errors reading or writing SDFITS; every one names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SdfitsError {
    /// The FITS layer failed (I/O, missing column, bad value...).
    #[error(transparent)]
    Fits(#[from] FitsError),
    /// The file has no SDFITS table.
    #[error("{}: no 'SINGLE DISH' binary table: not an SDFITS file", .path.display())]
    NoTable { path: PathBuf },
    /// A value is present but unusable.
    #[error("{}: 'SINGLE DISH' table, column '{column}', row {row} (0-based): {message}", .path.display())]
    BadValue {
        path: PathBuf,
        column: String,
        row: usize,
        message: String,
    },
}

/// Result with an [`SdfitsError`].
pub type Result<T> = std::result::Result<T, SdfitsError>;

/// The metadata of one SDFITS row (its spectrum is read separately).
#[derive(Debug, Clone, PartialEq)]
pub struct SdfitsRow {
    /// 0-based row in the table.
    pub row: usize,
    pub scan: i64,
    pub ifnum: i64,
    pub plnum: i64,
    pub fdnum: i64,
    /// Integration number within the scan (column INT or INTNUM; when absent,
    /// the order of the row among rows of the same scan, IF, PL, FD, CAL and
    /// SIG, which is how GBTIDL numbers them).
    pub intnum: i64,
    /// Noise diode on (`CAL = 'T'`).
    pub cal_on: bool,
    /// Signal phase (`SIG = 'T'`); `F` is the reference phase of frequency switching.
    pub sig: bool,
    /// Position of this scan in its procedure (1 = ON, 2 = OFF for OnOff).
    pub procseqn: i64,
    pub procsize: i64,
    /// OBSMODE, e.g. `OnOff:PSWITCHON:TPWCAL`.
    pub obsmode: String,
    pub object: String,
    /// `DATE-OBS` (UTC, ISO 8601).
    pub date_obs: String,
    pub exposure_s: f64,
    /// TSYS stored in the row (raw files: the online estimate; reductions: the result).
    pub tsys_k: f64,
    /// Noise-diode temperature.
    pub tcal_k: f64,
    pub crval1_hz: f64,
    pub cdelt1_hz: f64,
    /// 1-based reference pixel, FITS convention.
    pub crpix1: f64,
    pub restfreq_hz: f64,
    /// Pointing: CRVAL2/CRVAL3 (RA, Dec for the GBT; degrees).
    pub crval2_deg: f64,
    pub crval3_deg: f64,
    pub ctype2: String,
    pub ctype3: String,
    /// Site geodetic longitude (east positive), latitude and height; NaN when absent.
    pub site_lon_deg: f64,
    pub site_lat_deg: f64,
    pub site_height_m: f64,
}

impl SdfitsRow {
    /// Sky frequency of channel `i` (0-based) in Hz.
    pub fn freq_hz(&self, channel: usize) -> f64 {
        self.crval1_hz + (channel as f64 + 1.0 - self.crpix1) * self.cdelt1_hz
    }
}

/// An opened SDFITS file: row metadata, spectra read on demand.
pub struct Sdfits {
    file: FitsFile,
    hdu_index: usize,
    /// One entry per table row.
    pub rows: Vec<SdfitsRow>,
    /// Channels per spectrum (DATA repeat).
    pub nchan: usize,
}

impl std::fmt::Debug for Sdfits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sdfits")
            .field("path", &self.file.path())
            .field("rows", &self.rows.len())
            .field("nchan", &self.nchan)
            .finish()
    }
}

fn opt_f64(t: &BinTable<'_>, name: &str, n: usize) -> Result<Vec<f64>> {
    if t.has_column(name) {
        Ok(t.read_f64(name)?)
    } else {
        Ok(vec![f64::NAN; n])
    }
}

fn opt_str(t: &BinTable<'_>, name: &str, n: usize) -> Result<Vec<String>> {
    if t.has_column(name) {
        Ok(t.read_str(name)?)
    } else {
        Ok(vec![String::new(); n])
    }
}

fn opt_i64(t: &BinTable<'_>, name: &str, n: usize, default: i64) -> Result<Vec<i64>> {
    if t.has_column(name) {
        Ok(t.read_i64(name)?)
    } else {
        Ok(vec![default; n])
    }
}

/// A T/F flag stored as a one-character string (GBT) or a logical.
fn flags(t: &BinTable<'_>, path: &Path, name: &str, n: usize, default: bool) -> Result<Vec<bool>> {
    if !t.has_column(name) {
        return Ok(vec![default; n]);
    }
    if let Ok(b) = t.read_bool(name) {
        return b
            .into_iter()
            .enumerate()
            .map(|(row, v)| {
                v.ok_or_else(|| SdfitsError::BadValue {
                    path: path.to_path_buf(),
                    column: name.to_string(),
                    row,
                    message: "is null, expected T or F".into(),
                })
            })
            .collect();
    }
    t.read_str(name)?
        .into_iter()
        .enumerate()
        .map(|(row, s)| match s.trim() {
            "T" => Ok(true),
            "F" => Ok(false),
            other => Err(SdfitsError::BadValue {
                path: path.to_path_buf(),
                column: name.to_string(),
                row,
                message: format!("'{other}' is not T or F"),
            }),
        })
        .collect()
}

impl Sdfits {
    /// Opens `path` and reads the metadata of every row of its first
    /// `SINGLE DISH` table. Required columns: DATA, SCAN, CRVAL1, CDELT1,
    /// CRPIX1 (the error names the missing one); IFNUM, PLNUM, FDNUM, CAL,
    /// SIG and the procedure columns default when absent.
    pub fn open(path: &Path) -> Result<Sdfits> {
        let file = FitsFile::open(path)?;
        let hdu_index = file
            .hdus()
            .iter()
            .find(|h| h.extname.as_deref() == Some("SINGLE DISH"))
            .map(|h| h.index)
            .ok_or_else(|| SdfitsError::NoTable {
                path: path.to_path_buf(),
            })?;
        let t = file.table_at(hdu_index)?;
        let n = t.nrows();
        let nchan = t.column("DATA")?.repeat;
        let scan = t.read_i64("SCAN")?;
        let crval1 = t.read_f64("CRVAL1")?;
        let cdelt1 = t.read_f64("CDELT1")?;
        let crpix1 = t.read_f64("CRPIX1")?;
        let ifnum = opt_i64(&t, "IFNUM", n, 0)?;
        let plnum = opt_i64(&t, "PLNUM", n, 0)?;
        let fdnum = opt_i64(&t, "FDNUM", n, 0)?;
        let procseqn = opt_i64(&t, "PROCSEQN", n, 1)?;
        let procsize = opt_i64(&t, "PROCSIZE", n, 1)?;
        let cal = flags(&t, path, "CAL", n, false)?;
        let sig = flags(&t, path, "SIG", n, true)?;
        let obsmode = opt_str(&t, "OBSMODE", n)?;
        let object = opt_str(&t, "OBJECT", n)?;
        let date_obs = opt_str(&t, "DATE-OBS", n)?;
        let ctype2 = opt_str(&t, "CTYPE2", n)?;
        let ctype3 = opt_str(&t, "CTYPE3", n)?;
        let exposure = opt_f64(&t, "EXPOSURE", n)?;
        let tsys = opt_f64(&t, "TSYS", n)?;
        let tcal = opt_f64(&t, "TCAL", n)?;
        let restfreq = opt_f64(&t, "RESTFREQ", n)?;
        let crval2 = opt_f64(&t, "CRVAL2", n)?;
        let crval3 = opt_f64(&t, "CRVAL3", n)?;
        let site_lon = opt_f64(&t, "SITELONG", n)?;
        let site_lat = opt_f64(&t, "SITELAT", n)?;
        let site_h = opt_f64(&t, "SITEELEV", n)?;
        let intcol = ["INTNUM", "INT"].into_iter().find(|c| t.has_column(c));
        let intnum = match intcol {
            Some(c) => t.read_i64(c)?,
            None => {
                // GBTIDL numbers integrations by their order within a scan for
                // one IF, polarisation, feed and switching state.
                let mut seen: std::collections::HashMap<(i64, i64, i64, i64, bool, bool), i64> =
                    Default::default();
                (0..n)
                    .map(|i| {
                        let k = (scan[i], ifnum[i], plnum[i], fdnum[i], cal[i], sig[i]);
                        let c = seen.entry(k).or_insert(0);
                        *c += 1;
                        *c - 1
                    })
                    .collect()
            }
        };
        let rows = (0..n)
            .map(|i| SdfitsRow {
                row: i,
                scan: scan[i],
                ifnum: ifnum[i],
                plnum: plnum[i],
                fdnum: fdnum[i],
                intnum: intnum[i],
                cal_on: cal[i],
                sig: sig[i],
                procseqn: procseqn[i],
                procsize: procsize[i],
                obsmode: obsmode[i].clone(),
                object: object[i].clone(),
                date_obs: date_obs[i].clone(),
                exposure_s: exposure[i],
                tsys_k: tsys[i],
                tcal_k: tcal[i],
                crval1_hz: crval1[i],
                cdelt1_hz: cdelt1[i],
                crpix1: crpix1[i],
                restfreq_hz: restfreq[i],
                crval2_deg: crval2[i],
                crval3_deg: crval3[i],
                ctype2: ctype2[i].clone(),
                ctype3: ctype3[i].clone(),
                site_lon_deg: site_lon[i],
                site_lat_deg: site_lat[i],
                site_height_m: site_h[i],
            })
            .collect();
        Ok(Sdfits {
            file,
            hdu_index,
            rows,
            nchan,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The spectra of `rows` (0-based table rows), as `f64`, in the order given.
    pub fn spectra(&self, rows: &[usize]) -> Result<Vec<Vec<f64>>> {
        let t = self.file.table_at(self.hdu_index)?;
        let (data, repeat) = t.read_f32_vector("DATA")?;
        rows.iter()
            .map(|&r| {
                data.get(r * repeat..(r + 1) * repeat)
                    .map(|s| s.iter().map(|&v| v as f64).collect())
                    .ok_or_else(|| SdfitsError::BadValue {
                        path: self.path().to_path_buf(),
                        column: "DATA".into(),
                        row: r,
                        message: format!(
                            "row out of range (the table has {} rows)",
                            self.rows.len()
                        ),
                    })
            })
            .collect()
    }
}

/// One calibrated spectrum to write as an SDFITS-style row.
#[derive(Debug, Clone, PartialEq)]
pub struct SdfitsOutRow {
    pub object: String,
    pub date_obs: String,
    pub scan: i64,
    pub ifnum: i64,
    pub plnum: i64,
    pub exposure_s: f64,
    pub tsys_k: f64,
    pub tcal_k: f64,
    pub crval1_hz: f64,
    pub cdelt1_hz: f64,
    pub crpix1: f64,
    pub restfreq_hz: f64,
    pub crval2_deg: f64,
    pub crval3_deg: f64,
    pub ctype2: String,
    pub ctype3: String,
    /// Calibrated spectrum (antenna temperature, K).
    pub data_k: Vec<f64>,
}

/// Writes `rows` as a `SINGLE DISH` table (columns OBJECT, DATE-OBS, SCAN,
/// IFNUM, PLNUM, EXPOSURE, TSYS, TCAL, DATA, CTYPE1, CRVAL1, CDELT1, CRPIX1,
/// RESTFREQ, CTYPE2, CRVAL2, CTYPE3, CRVAL3) with `extra` header cards (for
/// instance VELO-LSR and SPECSYS). Atomic, like every FITS write here.
pub fn write_sdfits(path: &Path, rows: &[SdfitsOutRow], extra: Vec<Card>) -> Result<()> {
    let nchan = rows.first().map_or(0, |r| r.data_k.len());
    if let Some((i, r)) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| r.data_k.len() != nchan)
    {
        return Err(SdfitsError::BadValue {
            path: path.to_path_buf(),
            column: "DATA".into(),
            row: i,
            message: format!("has {} channels, row 0 has {nchan}", r.data_k.len()),
        });
    }
    let strs = |f: &dyn Fn(&SdfitsOutRow) -> String, width: usize| ColumnData::Str {
        width,
        values: rows.iter().map(f).collect(),
    };
    let f64s = |f: &dyn Fn(&SdfitsOutRow) -> f64| ColumnData::F64(rows.iter().map(f).collect());
    let i32s = |f: &dyn Fn(&SdfitsOutRow) -> i64| {
        ColumnData::I32(rows.iter().map(|r| f(r) as i32).collect())
    };
    let columns = vec![
        ColumnOut::new("OBJECT", strs(&|r| r.object.clone(), 32)),
        ColumnOut::new("DATE-OBS", strs(&|r| r.date_obs.clone(), 22)),
        ColumnOut::new("SCAN", i32s(&|r| r.scan)),
        ColumnOut::new("IFNUM", i32s(&|r| r.ifnum)),
        ColumnOut::new("PLNUM", i32s(&|r| r.plnum)),
        ColumnOut::new("EXPOSURE", f64s(&|r| r.exposure_s)).with_unit("s"),
        ColumnOut::new("TSYS", f64s(&|r| r.tsys_k)).with_unit("K"),
        ColumnOut::new("TCAL", f64s(&|r| r.tcal_k)).with_unit("K"),
        ColumnOut::new(
            "DATA",
            ColumnData::F32Vector {
                repeat: nchan,
                values: rows
                    .iter()
                    .flat_map(|r| r.data_k.iter().map(|&v| v as f32))
                    .collect(),
            },
        )
        .with_unit("K"),
        ColumnOut::new("CTYPE1", strs(&|_| "FREQ-OBS".into(), 8)),
        ColumnOut::new("CRVAL1", f64s(&|r| r.crval1_hz)).with_unit("Hz"),
        ColumnOut::new("CDELT1", f64s(&|r| r.cdelt1_hz)).with_unit("Hz"),
        ColumnOut::new("CRPIX1", f64s(&|r| r.crpix1)),
        ColumnOut::new("RESTFREQ", f64s(&|r| r.restfreq_hz)).with_unit("Hz"),
        ColumnOut::new("CTYPE2", strs(&|r| r.ctype2.clone(), 8)),
        ColumnOut::new("CRVAL2", f64s(&|r| r.crval2_deg)).with_unit("deg"),
        ColumnOut::new("CTYPE3", strs(&|r| r.ctype3.clone(), 8)),
        ColumnOut::new("CRVAL3", f64s(&|r| r.crval3_deg)).with_unit("deg"),
    ];
    crate::fits::write_fits(
        path,
        &[
            HduOut::Primary {
                header: vec![Card::str("ORIGIN", "astrolab")],
            },
            HduOut::Table {
                extname: Some("SINGLE DISH".into()),
                header: extra,
                columns,
            },
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_rows_read_back() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.fits");
        let row = SdfitsOutRow {
            object: "NGC2415".into(),
            date_obs: "2021-02-10T07:38:37.50".into(),
            scan: 152,
            ifnum: 1,
            plnum: 0,
            exposure_s: 0.97,
            tsys_k: 17.24,
            tcal_k: 1.455,
            crval1_hz: 1.4025e9,
            cdelt1_hz: -715.0,
            crpix1: 3.0,
            restfreq_hz: 1.420405751768e9,
            crval2_deg: 114.2,
            crval3_deg: 35.2,
            ctype2: "RA".into(),
            ctype3: "DEC".into(),
            data_k: vec![0.5, f64::NAN, -0.25, 4.0],
        };
        write_sdfits(
            &p,
            std::slice::from_ref(&row),
            vec![Card::float("VELO-LSR", -22.5)],
        )
        .unwrap();
        let s = Sdfits::open(&p).unwrap();
        assert_eq!((s.rows.len(), s.nchan), (1, 4));
        let r = &s.rows[0];
        assert_eq!((r.scan, r.ifnum, r.intnum), (152, 1, 0));
        assert_eq!(r.tsys_k, 17.24);
        assert_eq!(r.freq_hz(2), 1.4025e9);
        let d = &s.spectra(&[0]).unwrap()[0];
        assert!(d[1].is_nan() && d[3] == 4.0);
        assert!(matches!(
            s.spectra(&[5]),
            Err(SdfitsError::BadValue { row: 5, .. })
        ));
        // Rows of different lengths are refused before anything is written.
        let mut short = row.clone();
        short.data_k.pop();
        let q = d_path(&p);
        assert!(write_sdfits(&q, &[row, short], Vec::new()).is_err());
        assert!(!q.exists());
    }

    fn d_path(p: &Path) -> PathBuf {
        p.with_file_name("bad.fits")
    }
}
