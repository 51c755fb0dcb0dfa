//! Galaxy lists for the void pipelines: RA, Dec and redshift (and TARGETID
//! when present) from a FITS table or a CSV file, and the `x y z` text
//! files of periodic simulation boxes.
//!
//! Column names are matched case-insensitively, first match wins: RA from
//! `ra` or `target_ra`, Dec from `dec` or `target_dec`, redshift from `z` or
//! `redshift`, the id from `targetid` or `target_id`. A FITS file is read
//! from its first table HDU; a file is CSV when its name ends in `.csv`.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::fits::{FitsError, FitsFile};
use crate::table_csv::{read_csv_columns, CsvError};

/// Column names accepted for RA.
pub const RA_NAMES: [&str; 2] = ["ra", "target_ra"];
/// Column names accepted for Dec.
pub const DEC_NAMES: [&str; 2] = ["dec", "target_dec"];
/// Column names accepted for the redshift.
pub const Z_NAMES: [&str; 2] = ["z", "redshift"];
/// Column names accepted for the galaxy id.
pub const ID_NAMES: [&str; 2] = ["targetid", "target_id"];

/// Why a galaxy list cannot be read (every variant names the file).
#[derive(Debug, thiserror::Error)]
pub enum GalaxyTableError {
    /// The CSV file cannot be read or parsed.
    #[error("reading {}", .path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: CsvError,
    },
    /// The FITS file cannot be opened or has no table HDU.
    #[error("opening {}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: Box<FitsError>,
    },
    /// A column cannot be read (the FITS error names HDU and column).
    #[error(transparent)]
    Fits(Box<FitsError>),
    /// A CSV column holds something that is not a number.
    #[error(transparent)]
    Value(#[from] CsvError),
    /// None of the accepted names of a column is there.
    #[error("{}: {}no {what} column (looked for {})", .path.display(), .hdu.as_ref().map(|h| format!("HDU {h}: ")).unwrap_or_default(), .names.join(", "))]
    MissingColumn {
        path: PathBuf,
        /// The table HDU searched (FITS only).
        hdu: Option<String>,
        /// RA, Dec or redshift.
        what: &'static str,
        names: Vec<&'static str>,
    },
    /// A line of an `x y z` file that is not three finite numbers.
    #[error("{}: line {line}: {message}: {text:?}", .path.display())]
    BadLine {
        path: PathBuf,
        line: usize,
        message: String,
        text: String,
    },
    /// The text file cannot be read.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A galaxy list as read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GalaxyTable {
    /// RA, degrees.
    pub ra_deg: Vec<f64>,
    /// Dec, degrees.
    pub dec_deg: Vec<f64>,
    /// Redshift (NaN where a CSV field is empty).
    pub z: Vec<f64>,
    /// TARGETID, when the table has the column (an empty CSV field: -1).
    pub target_id: Option<Vec<i64>>,
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Reads a FITS (first table HDU) or CSV galaxy table.
pub fn read_galaxy_table(path: &Path) -> Result<GalaxyTable, GalaxyTableError> {
    let missing = |hdu: Option<String>, what: &'static str, names: &'static [&'static str]| {
        move || GalaxyTableError::MissingColumn {
            path: path.to_path_buf(),
            hdu,
            what,
            names: names.to_vec(),
        }
    };
    if is_csv(path) {
        let t = read_csv_columns(path).map_err(|source| GalaxyTableError::Csv {
            path: path.to_path_buf(),
            source,
        })?;
        let pick = |names: &'static [&'static str]| names.iter().find(|n| t.has_column(n)).copied();
        let rc = pick(&RA_NAMES).ok_or_else(missing(None, "RA", &RA_NAMES))?;
        let dc = pick(&DEC_NAMES).ok_or_else(missing(None, "Dec", &DEC_NAMES))?;
        let zc = pick(&Z_NAMES).ok_or_else(missing(None, "redshift", &Z_NAMES))?;
        let target_id = match pick(&ID_NAMES) {
            Some(c) => Some(
                t.column_i64_opt(c)?
                    .into_iter()
                    .map(|v| v.unwrap_or(-1))
                    .collect(),
            ),
            None => None,
        };
        Ok(GalaxyTable {
            ra_deg: t.column_f64(rc)?,
            dec_deg: t.column_f64(dc)?,
            z: t.column_f64(zc)?,
            target_id,
        })
    } else {
        let open = |source| GalaxyTableError::Open {
            path: path.to_path_buf(),
            source: Box::new(source),
        };
        let fits = FitsFile::open(path).map_err(open)?;
        let t = fits.first_table().map_err(open)?;
        let hdu = t.hdu().name();
        let pick = |names: &'static [&'static str]| names.iter().find(|n| t.has_column(n)).copied();
        let rc = pick(&RA_NAMES).ok_or_else(missing(Some(hdu.clone()), "RA", &RA_NAMES))?;
        let dc = pick(&DEC_NAMES).ok_or_else(missing(Some(hdu.clone()), "Dec", &DEC_NAMES))?;
        let zc = pick(&Z_NAMES).ok_or_else(missing(Some(hdu), "redshift", &Z_NAMES))?;
        let target_id = match pick(&ID_NAMES) {
            Some(c) => Some(t.read_i64(c)?),
            None => None,
        };
        Ok(GalaxyTable {
            ra_deg: t.read_f64(rc)?,
            dec_deg: t.read_f64(dc)?,
            z: t.read_f64(zc)?,
            target_id,
        })
    }
}

/// The matter density a FITS galaxy catalog records: OMEGAM (or OMEGA_M)
/// of the first HDU that has it. `None` for other files and unreadable
/// ones (the caller then falls back to a flag or a default it announces).
pub fn catalog_omega_m(path: &Path) -> Option<f64> {
    let is_fits = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["fits", "fit", "fz"].contains(&e.to_ascii_lowercase().as_str()));
    if !is_fits {
        return None;
    }
    let fits = FitsFile::open(path).ok()?;
    fits.hdus().iter().find_map(|h| {
        h.header
            .get_f64("OMEGAM")
            .or_else(|| h.header.get_f64("OMEGA_M"))
    })
}

/// `x y z` rows (Mpc/h) of a simulation box; `#` comments and blank lines
/// skipped, columns after the third ignored.
pub fn read_xyz_text(path: &Path) -> Result<Vec<[f64; 3]>, GalaxyTableError> {
    let io = |source| GalaxyTableError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(io)?;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let bad = |message: String| GalaxyTableError::BadLine {
            path: path.to_path_buf(),
            line: n + 1,
            message,
            text: t.to_string(),
        };
        let v: Vec<f64> = t
            .split_whitespace()
            .take(3)
            .map(|s| s.parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if v.len() < 3 || !v.iter().all(|c| c.is_finite()) {
            return Err(bad("need three finite numbers x y z".into()));
        }
        out.push([v[0], v[1], v[2]]);
    }
    Ok(out)
}

impl From<FitsError> for GalaxyTableError {
    fn from(e: FitsError) -> Self {
        GalaxyTableError::Fits(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_columns_by_any_accepted_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.csv");
        std::fs::write(
            &p,
            "TARGET_RA,Dec,Redshift,targetid\n1.5,2.5,0.1,7\n3,4,,\n",
        )
        .unwrap();
        let g = read_galaxy_table(&p).unwrap();
        assert_eq!(g.ra_deg, [1.5, 3.0]);
        assert_eq!(g.dec_deg, [2.5, 4.0]);
        assert_eq!(g.z[0], 0.1);
        assert!(g.z[1].is_nan());
        assert_eq!(g.target_id, Some(vec![7, -1]));
        std::fs::write(&p, "ra,z\n1,0.1\n").unwrap();
        let e = read_galaxy_table(&p).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}: no Dec column (looked for dec, target_dec)",
                p.display()
            )
        );
    }

    #[test]
    fn xyz_text_names_the_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("box.dat");
        std::fs::write(&p, "# x y z\n1 2 3 9\n\n4 5\n").unwrap();
        let e = read_xyz_text(&p).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}: line 4: need three finite numbers x y z: \"4 5\"",
                p.display()
            )
        );
        std::fs::write(&p, "1 2 3\n4 5 6\n").unwrap();
        assert_eq!(
            read_xyz_text(&p).unwrap(),
            [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
        );
    }
}
