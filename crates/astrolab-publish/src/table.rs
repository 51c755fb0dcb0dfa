//! A run's table in memory, column by column: a FITS binary table typed as
//! the file stores it (FITS 4.0 Sect. 7.3), or a CSV table (RFC 4180, a
//! header line of column names) typed by its values. What every output
//! format is written from.

use std::path::{Path, PathBuf};

use astrolab_formats::fits::{BinTable, FitsFile};

use crate::error::{PublishError, Result};

/// Integer storage of a column, kept through every format (TFORM B, I, J,
/// J with TZERO 2^31, K).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntKind {
    /// TFORM `B`: unsigned byte.
    U8,
    /// TFORM `I`.
    I16,
    /// TFORM `J`.
    I32,
    /// TFORM `J` with TZERO = 2^31.
    U32,
    /// TFORM `K`.
    I64,
}

/// The values of one scalar column.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// TFORM `L`; `None` for a null (byte 0).
    Bool(Vec<Option<bool>>),
    /// Integer columns; `None` where TNULL marks a null.
    Int {
        /// Storage type.
        kind: IntKind,
        /// Values.
        values: Vec<Option<i64>>,
    },
    /// TFORM `K` with TZERO = 2^63 (uint64).
    U64(Vec<u64>),
    /// TFORM `E`; NaN is a null.
    F32(Vec<f32>),
    /// TFORM `D`; NaN is a null.
    F64(Vec<f64>),
    /// TFORM `wA`: text, trailing spaces removed.
    Str {
        /// The FITS width in characters.
        width: usize,
        /// Values.
        values: Vec<String>,
    },
}

impl Values {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Values::Bool(v) => v.len(),
            Values::Int { values, .. } => values.len(),
            Values::U64(v) => v.len(),
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Str { values, .. } => values.len(),
        }
    }
    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The values as `f64` (NaN for nulls and non-numeric columns).
    pub fn as_f64(&self) -> Vec<f64> {
        match self {
            Values::Bool(v) => v
                .iter()
                .map(|b| b.map_or(f64::NAN, |b| f64::from(u8::from(b))))
                .collect(),
            Values::Int { values, .. } => values
                .iter()
                .map(|v| v.map_or(f64::NAN, |v| v as f64))
                .collect(),
            Values::U64(v) => v.iter().map(|&v| v as f64).collect(),
            Values::F32(v) => v.iter().map(|&v| f64::from(v)).collect(),
            Values::F64(v) => v.clone(),
            Values::Str { values, .. } => vec![f64::NAN; values.len()],
        }
    }
    /// Rows `order` of the column, in that order.
    pub fn take(&self, order: &[usize]) -> Values {
        fn pick<T: Clone>(v: &[T], order: &[usize]) -> Vec<T> {
            order.iter().map(|&i| v[i].clone()).collect()
        }
        match self {
            Values::Bool(v) => Values::Bool(pick(v, order)),
            Values::Int { kind, values } => Values::Int {
                kind: *kind,
                values: pick(values, order),
            },
            Values::U64(v) => Values::U64(pick(v, order)),
            Values::F32(v) => Values::F32(pick(v, order)),
            Values::F64(v) => Values::F64(pick(v, order)),
            Values::Str { width, values } => Values::Str {
                width: *width,
                values: pick(values, order),
            },
        }
    }
}

/// One column: name (TTYPE), unit as the run wrote it (TUNIT) and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// `TTYPEn`.
    pub name: String,
    /// `TUNITn` in the run's file, if any (the release uses the dictionary's).
    pub source_unit: Option<String>,
    /// Values.
    pub values: Values,
}

/// One binary table of a run's output.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Name in the release (file names, EXTNAME, CDS file name): lower
    /// case letters, digits and `_`.
    pub name: String,
    /// The run's FITS file, relative to the run directory.
    pub file: PathBuf,
    /// The HDU's EXTNAME, or `HDU n` when it has none.
    pub hdu: String,
    /// Rows.
    pub nrows: usize,
    /// Columns in file order.
    pub columns: Vec<Column>,
}

impl Table {
    /// The column called `name` (exact match).
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    /// The (RA, Dec) columns, when the table has sky positions: columns
    /// named `RA` and `DEC` (any case), numeric.
    pub fn radec(&self) -> Option<(&Column, &Column)> {
        let find = |n: &str| {
            self.columns.iter().find(|c| {
                c.name.eq_ignore_ascii_case(n)
                    && matches!(c.values, Values::F64(_) | Values::F32(_))
            })
        };
        Some((find("RA")?, find("DEC")?))
    }
}

/// What [`read_tables`] found in one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileTables {
    /// The tables read, each with its EXTNAME (empty when it has none).
    pub tables: Vec<(String, Table)>,
    /// The names ([`astrolab_formats::fits::Hdu::name`]) of every binary
    /// table of the file, read or not.
    pub all: Vec<String>,
}

/// The binary tables of the FITS file `path` (`rel`: its path relative to
/// the run directory, used in names and messages) whose EXTNAME `want`
/// accepts.
pub fn read_tables(path: &Path, rel: &Path, want: &dyn Fn(&str) -> bool) -> Result<FileTables> {
    let fits_err = |e: astrolab_formats::fits::FitsError| PublishError::Fits {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let fits = FitsFile::open(path).map_err(fits_err)?;
    let mut out = Vec::new();
    let mut all = Vec::new();
    for (i, hdu) in fits.hdus().iter().enumerate() {
        if hdu.kind != astrolab_formats::fits::HduKind::BinTable {
            continue;
        }
        let extname = hdu.extname.clone().unwrap_or_default();
        all.push(hdu.name());
        if !want(&extname) {
            continue;
        }
        let t = fits.table_at(i).map_err(fits_err)?;
        let label = hdu.name();
        let mut columns = Vec::with_capacity(t.columns().len());
        for c in t.columns() {
            columns.push(read_column(&t, c, rel, &label).map_err(|e| match e {
                ReadErr::Fits(e) => fits_err(e),
                ReadErr::Publish(e) => e,
            })?);
        }
        out.push((
            hdu.extname.clone().unwrap_or_default(),
            Table {
                name: String::new(),
                file: rel.to_path_buf(),
                hdu: label,
                nrows: t.nrows(),
                columns,
            },
        ));
    }
    Ok(FileTables { tables: out, all })
}

enum ReadErr {
    Fits(astrolab_formats::fits::FitsError),
    Publish(PublishError),
}

impl From<astrolab_formats::fits::FitsError> for ReadErr {
    fn from(e: astrolab_formats::fits::FitsError) -> Self {
        ReadErr::Fits(e)
    }
}

fn read_column(
    t: &BinTable<'_>,
    c: &astrolab_formats::fits::ColumnInfo,
    rel: &Path,
    hdu: &str,
) -> std::result::Result<Column, ReadErr> {
    let unsupported = |reason: String| {
        ReadErr::Publish(PublishError::Unsupported {
            file: rel.to_path_buf(),
            hdu: hdu.to_string(),
            column: c.name.clone(),
            reason,
        })
    };
    if c.code != 'A' && c.repeat != 1 {
        return Err(unsupported(format!(
            "a vector column (TFORM {}) cannot go into the CDS ASCII table or a flat catalog; publish a table of scalar columns (one column per element)",
            c.tform
        )));
    }
    let scaled = c.tscal != 1.0 || (c.tzero != 0.0 && !is_unsigned_zero(c));
    if scaled && matches!(c.code, 'B' | 'I' | 'J' | 'K') {
        return Err(unsupported(format!(
            "a scaled integer column (TSCAL {}, TZERO {}) is not supported; write it as a real column",
            c.tscal, c.tzero
        )));
    }
    let values = match c.code {
        'L' => Values::Bool(t.read_bool(&c.name)?),
        'B' => int(t, c, IntKind::U8)?,
        'I' => int(t, c, IntKind::I16)?,
        'J' if c.tzero == 2_147_483_648.0 => int(t, c, IntKind::U32)?,
        'J' => int(t, c, IntKind::I32)?,
        'K' if c.tzero == 9_223_372_036_854_775_808.0 => Values::U64(t.read_u64(&c.name)?),
        'K' => int(t, c, IntKind::I64)?,
        'E' => Values::F32(t.read_f32(&c.name)?),
        'D' => Values::F64(t.read_f64(&c.name)?),
        'A' => Values::Str {
            width: c.repeat.max(1),
            values: t.read_str(&c.name)?,
        },
        other => {
            return Err(unsupported(format!(
                "TFORM {} (code {other}) is not a scalar number, logical or string column",
                c.tform
            )))
        }
    };
    Ok(Column {
        name: c.name.clone(),
        source_unit: c.unit.clone(),
        values,
    })
}

fn is_unsigned_zero(c: &astrolab_formats::fits::ColumnInfo) -> bool {
    (c.code == 'J' && c.tzero == 2_147_483_648.0)
        || (c.code == 'K' && c.tzero == 9_223_372_036_854_775_808.0)
        || (c.code == 'I' && c.tzero == 32768.0)
}

fn int(
    t: &BinTable<'_>,
    c: &astrolab_formats::fits::ColumnInfo,
    kind: IntKind,
) -> std::result::Result<Values, ReadErr> {
    // TFORM I with TZERO 32768 (uint16) fits in I32 storage.
    let kind = if c.code == 'I' && c.tzero == 32768.0 {
        IntKind::I32
    } else {
        kind
    };
    Ok(Values::Int {
        kind,
        values: t.read_i64_opt(&c.name)?,
    })
}

/// The type a CSV column's values all fit, narrowest first: integers,
/// then reals, then logicals (`true`/`false`), else text. An empty cell is
/// a null (NaN for reals, blank text).
fn csv_values(cells: Vec<String>) -> Values {
    let present = || cells.iter().filter(|c| !c.is_empty());
    let any = present().next().is_some();
    if any && present().all(|c| c.parse::<i64>().is_ok()) {
        return Values::Int {
            kind: IntKind::I64,
            values: cells.iter().map(|c| c.parse().ok()).collect(),
        };
    }
    if any && present().all(|c| c.parse::<f64>().is_ok()) {
        return Values::F64(
            cells
                .iter()
                .map(|c| c.parse().unwrap_or(f64::NAN))
                .collect(),
        );
    }
    if any && present().all(|c| c == "true" || c == "false") {
        return Values::Bool(
            cells
                .iter()
                .map(|c| (!c.is_empty()).then_some(c == "true"))
                .collect(),
        );
    }
    Values::Str {
        width: cells
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(1)
            .max(1),
        values: cells,
    }
}

/// The CSV table at `path` (`rel`: its path relative to the run
/// directory): a header line of column names, then one line a row.
pub fn read_csv_table(path: &Path, rel: &Path) -> Result<Table> {
    let bad = |reason: String| PublishError::Csv {
        path: path.to_path_buf(),
        reason,
    };
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| bad(e.to_string()))?;
    let names: Vec<String> = r
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if names.is_empty() || names.iter().any(String::is_empty) {
        return Err(bad("the header line needs a name for every column".into()));
    }
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        if rec.len() != names.len() {
            return Err(bad(format!(
                "row {} has {} fields, the header {}",
                i + 1,
                rec.len(),
                names.len()
            )));
        }
        for (c, v) in cells.iter_mut().zip(rec.iter()) {
            c.push(v.trim().to_string());
        }
    }
    let nrows = cells.first().map_or(0, Vec::len);
    Ok(Table {
        name: String::new(),
        file: rel.to_path_buf(),
        hdu: "CSV".into(),
        nrows,
        columns: names
            .into_iter()
            .zip(cells)
            .map(|(name, c)| Column {
                name,
                source_unit: None,
                values: csv_values(c),
            })
            .collect(),
    })
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    #[test]
    fn csv_columns_take_the_narrowest_type_their_values_fit() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("cone.csv");
        std::fs::write(
            &p,
            "targetid,ra,dec,subtype,flag,name\n39632889037455465,178.66,30.85,,true,\"a, b\"\n7,180.1,,QSO,false,c\n",
        )
        .unwrap();
        let t = read_csv_table(&p, Path::new("cone.csv")).unwrap();
        assert_eq!((t.nrows, t.hdu.as_str()), (2, "CSV"));
        assert_eq!(
            t.columns[0].values,
            Values::Int {
                kind: IntKind::I64,
                values: vec![Some(39632889037455465), Some(7)]
            }
        );
        assert_eq!(t.columns[1].values, Values::F64(vec![178.66, 180.1]));
        let Values::F64(dec) = &t.columns[2].values else {
            panic!("{:?}", t.columns[2].values)
        };
        assert!(dec[0] == 30.85 && dec[1].is_nan());
        assert_eq!(
            t.columns[3].values,
            Values::Str {
                width: 3,
                values: vec!["".into(), "QSO".into()]
            }
        );
        assert_eq!(
            t.columns[4].values,
            Values::Bool(vec![Some(true), Some(false)])
        );
        assert_eq!(
            t.columns[5].values,
            Values::Str {
                width: 4,
                values: vec!["a, b".into(), "c".into()]
            }
        );
        assert!(t.radec().is_some());
        std::fs::write(&p, "a,b\n1,2\n3\n").unwrap();
        let e = read_csv_table(&p, Path::new("cone.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cone.csv") && e.contains("fields"), "{e}");
    }
}
