//! Binary tables (Sect. 7.3): column layout from TFORMn and strided,
//! big-endian column reads straight from the memory map.

use std::path::Path;

use super::decode::{arr, exact_int, Real};
use super::error::{FitsError, Result};
use super::file::{Hdu, HduKind};

/// One column of a binary table, from its TTYPEn/TFORMn/... keywords.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    /// `TTYPEn`, trimmed (`COLn` when absent).
    pub name: String,
    /// `TFORMn` as written, trimmed.
    pub tform: String,
    /// Elements per row (the `r` of `rT`; characters for `A`, bits for `X`).
    pub repeat: usize,
    /// Data type code: `L X B I J K A E D C M P Q` (Sect. 7.3.1).
    pub code: char,
    /// `TUNITn`, trimmed; `None` when absent or blank.
    pub unit: Option<String>,
    /// `TNULLn`: the stored integer that marks a null.
    pub tnull: Option<i64>,
    /// `TSCALn` (default 1).
    pub tscal: f64,
    /// `TZEROn` (default 0); 2^15, 2^31, 2^63 mark unsigned integers.
    pub tzero: f64,
    /// `TDIMn` in C order like numpy (`'(2,5)'` gives `[5, 2]`); `None` when
    /// absent or unparsable.
    pub tdim: Option<Vec<usize>>,
    /// Byte offset within a row.
    offset: usize,
}

impl ColumnInfo {
    fn is_integer(&self) -> bool {
        matches!(self.code, 'B' | 'I' | 'J' | 'K')
    }
}

/// A binary table HDU ready for column reads. Borrowed from its [`FitsFile`](super::FitsFile).
#[derive(Debug)]
pub struct BinTable<'a> {
    path: &'a Path,
    hdu: &'a Hdu,
    columns: Vec<ColumnInfo>,
    nrows: usize,
    row_len: usize,
    /// The main table (`nrows * row_len` bytes), heap excluded.
    data: &'a [u8],
}

/// Bytes per element for a TFORM code (Sect. 7.3.1); `X` is handled apart.
fn element_size(code: char) -> Option<usize> {
    Some(match code {
        'L' | 'B' | 'A' => 1,
        'I' => 2,
        'J' | 'E' => 4,
        'K' | 'D' | 'C' | 'P' => 8,
        'M' | 'Q' => 16,
        _ => return None,
    })
}

/// `rTa` into (repeat, code); the `a` part (e.g. `PE(100)`) is ignored.
fn parse_tform(tform: &str) -> Option<(usize, char)> {
    let digits = tform.bytes().take_while(u8::is_ascii_digit).count();
    let repeat = if digits == 0 {
        1
    } else {
        tform[..digits].parse().ok()?
    };
    let code = tform[digits..].chars().next()?.to_ascii_uppercase();
    Some((repeat, code))
}

/// `'(a,b,c)'` into C order `[c, b, a]`.
fn parse_tdim(tdim: &str) -> Option<Vec<usize>> {
    let inner = tdim.trim().strip_prefix('(')?.strip_suffix(')')?;
    let mut dims = inner
        .split(',')
        .map(|d| d.trim().parse().ok())
        .collect::<Option<Vec<usize>>>()?;
    dims.reverse();
    Some(dims)
}

impl<'a> BinTable<'a> {
    pub(crate) fn new(path: &'a Path, hdu: &'a Hdu, file: &'a [u8]) -> Result<BinTable<'a>> {
        if hdu.kind != HduKind::BinTable {
            return Err(FitsError::Unsupported {
                path: path.to_path_buf(),
                hdu: hdu.label(),
                message: format!(
                    "is a {:?} HDU, not a BINTABLE; images are read with read_image_f64",
                    hdu.kind
                ),
            });
        }
        let h = &hdu.header;
        let bad = |key: String, message: String| FitsError::BadHeader {
            path: path.to_path_buf(),
            hdu: hdu.label(),
            key,
            message,
        };
        let shape = hdu.shape();
        let (nrows, row_len) = match shape[..] {
            [nrows, row_len] => (nrows, row_len),
            _ => return Err(bad("NAXIS".into(), "a BINTABLE must have NAXIS = 2".into())),
        };
        let tfields = h.get_i64("TFIELDS").unwrap_or(0).max(0) as usize;
        let mut columns = Vec::with_capacity(tfields);
        let mut offset = 0usize;
        for n in 1..=tfields {
            let key = format!("TFORM{n}");
            let tform = h
                .get_str(&key)
                .ok_or_else(|| bad(key.clone(), "missing or not a string".into()))?
                .trim()
                .to_string();
            let (repeat, code) = parse_tform(&tform)
                .filter(|&(_, c)| c == 'X' || element_size(c).is_some())
                .ok_or_else(|| bad(key.clone(), format!("'{tform}' is not a valid TFORM")))?;
            let nbytes = if code == 'X' {
                repeat.div_ceil(8)
            } else {
                repeat * element_size(code).unwrap_or(1)
            };
            let text = |k: String| {
                h.get_str(&k)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            columns.push(ColumnInfo {
                name: text(format!("TTYPE{n}")).unwrap_or_else(|| format!("COL{n}")),
                tform,
                repeat,
                code,
                unit: text(format!("TUNIT{n}")),
                tnull: h.get_i64(&format!("TNULL{n}")),
                tscal: h.get_f64(&format!("TSCAL{n}")).unwrap_or(1.0),
                tzero: h.get_f64(&format!("TZERO{n}")).unwrap_or(0.0),
                tdim: h.get_str(&format!("TDIM{n}")).and_then(parse_tdim),
                offset,
            });
            offset += nbytes;
        }
        if offset != row_len {
            return Err(bad(
                "NAXIS1".into(),
                format!("is {row_len} but the TFORMs add up to {offset} bytes per row"),
            ));
        }
        // The data unit also holds the heap (PCOUNT); the rows come first.
        let data = hdu
            .data(file)
            .get(..nrows * row_len)
            .ok_or_else(|| bad("GCOUNT".into(), "must be 1 for a BINTABLE".into()))?;
        Ok(BinTable {
            path,
            hdu,
            columns,
            nrows,
            row_len,
            data,
        })
    }

    /// The HDU this table lives in.
    pub fn hdu(&self) -> &Hdu {
        self.hdu
    }
    /// Number of rows (`NAXIS2`).
    pub fn nrows(&self) -> usize {
        self.nrows
    }
    /// All columns in order.
    pub fn columns(&self) -> &[ColumnInfo] {
        &self.columns
    }
    /// The first column with this name (case-insensitive).
    pub fn column(&self, name: &str) -> Result<&ColumnInfo> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| FitsError::MissingColumn {
                path: self.path.to_path_buf(),
                hdu: self.hdu.label(),
                column: name.to_string(),
                available: self.columns.iter().map(|c| c.name.clone()).collect(),
            })
    }
    /// Whether a column with this name exists (case-insensitive).
    pub fn has_column(&self, name: &str) -> bool {
        self.column(name).is_ok()
    }

    /// A scalar numeric column (B I J K E D) as `f64`: TSCAL/TZERO applied,
    /// integer TNULL becomes NaN, stored NaN stays NaN.
    pub fn read_f64(&self, name: &str) -> Result<Vec<f64>> {
        self.reals(self.scalar(name, "f64", "read_f64_vector")?, "f64")
    }
    /// As [`read_f64`](Self::read_f64), as `f32`.
    pub fn read_f32(&self, name: &str) -> Result<Vec<f32>> {
        self.reals(self.scalar(name, "f32", "read_f32_vector")?, "f32")
    }
    /// A fixed-repeat numeric column, flattened row-major, and its repeat.
    pub fn read_f64_vector(&self, name: &str) -> Result<(Vec<f64>, usize)> {
        let col = self.column(name)?;
        Ok((self.reals(col, "f64")?, col.repeat))
    }
    /// As [`read_f64_vector`](Self::read_f64_vector), as `f32`.
    pub fn read_f32_vector(&self, name: &str) -> Result<(Vec<f32>, usize)> {
        let col = self.column(name)?;
        Ok((self.reals(col, "f32")?, col.repeat))
    }

    /// A scalar integer column (B I J K) as exact `i64`, TZERO applied in
    /// integer arithmetic. Errors ([`FitsError::BadValue`], naming the row) on
    /// a TNULL value or a value outside `i64`; real columns are
    /// [`FitsError::WrongType`].
    pub fn read_i64(&self, name: &str) -> Result<Vec<i64>> {
        let col = self.scalar(name, "i64", "read_i64_vector")?;
        self.exact_ints(col, "i64", |v, _| {
            v.ok_or("is null (TNULL); use read_i64_opt for None or read_f64 for NaN")?
                .try_into()
                .map_err(|_| "does not fit in i64; use read_u64")
        })
    }
    /// As [`read_i64`](Self::read_i64), with TNULL values as `None`.
    pub fn read_i64_opt(&self, name: &str) -> Result<Vec<Option<i64>>> {
        let col = self.scalar(name, "i64", "read_i64_vector")?;
        self.exact_ints(col, "i64", |v, _| match v {
            None => Ok(None),
            Some(v) => v
                .try_into()
                .map(Some)
                .map_err(|_| "does not fit in i64; use read_u64"),
        })
    }
    /// A scalar integer column as exact `u64`: K with TZERO 2^63 (uint64) or
    /// any integer column whose values are non-negative.
    pub fn read_u64(&self, name: &str) -> Result<Vec<u64>> {
        let col = self.scalar(name, "u64", "read_i64_vector")?;
        self.exact_ints(col, "u64", |v, _| {
            v.ok_or("is null (TNULL); use read_i64_opt or read_f64")?
                .try_into()
                .map_err(|_| "is negative or too large for u64")
        })
    }
    /// A fixed-repeat integer column as exact `i64`, flattened row-major, and
    /// its repeat. Errors like [`read_i64`](Self::read_i64).
    pub fn read_i64_vector(&self, name: &str) -> Result<(Vec<i64>, usize)> {
        let col = self.column(name)?;
        let values = self.exact_ints(col, "i64", |v, _| {
            v.ok_or("is null (TNULL); read it with read_f64_vector for NaN")?
                .try_into()
                .map_err(|_| "does not fit in i64")
        })?;
        Ok((values, col.repeat))
    }

    /// A scalar logical column (L): `T` and `F`, with 0 (null) as `None`.
    pub fn read_bool(&self, name: &str) -> Result<Vec<Option<bool>>> {
        let col = self.scalar(name, "bool", "a vector reader")?;
        if col.code != 'L' {
            return Err(self.wrong(col, "bool (only TFORM L is logical)"));
        }
        let off = col.offset;
        let mut out = Vec::with_capacity(self.nrows);
        for (row, bytes) in self.rows().enumerate() {
            out.push(match bytes[off] {
                b'T' => Some(true),
                b'F' => Some(false),
                0 => None,
                b => {
                    return Err(self.bad_value(
                        col,
                        row,
                        format!("byte 0x{b:02x} is not T, F or 0"),
                    ))
                }
            });
        }
        Ok(out)
    }

    /// A character column (A) as strings, cut at the first NUL, trailing
    /// spaces removed. A multi-string column (TDIM) comes back as one string
    /// per row.
    pub fn read_str(&self, name: &str) -> Result<Vec<String>> {
        let col = self.column(name)?;
        if col.code != 'A' {
            return Err(self.wrong(col, "a string (only TFORM A is text)"));
        }
        let (off, n) = (col.offset, col.repeat);
        Ok(self
            .rows()
            .map(|row| {
                let cell = &row[off..off + n];
                let cell = cell.split(|&b| b == 0).next().unwrap_or(cell);
                let end = cell.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
                String::from_utf8_lossy(&cell[..end]).into_owned()
            })
            .collect())
    }

    /// A character column (A) dictionary-encoded: the distinct strings in
    /// order of first appearance and one code per row. Catalog string
    /// columns (SPECTYPE, SURVEY, PROGRAM) hold a handful of values over
    /// millions of rows; this reads them without a String per cell.
    pub fn read_str_dict(&self, name: &str) -> Result<(Vec<String>, Vec<u32>)> {
        let col = self.column(name)?;
        if col.code != 'A' {
            return Err(self.wrong(col, "a string (only TFORM A is text)"));
        }
        let (off, n) = (col.offset, col.repeat);
        let mut index: std::collections::HashMap<&'a [u8], u32> = std::collections::HashMap::new();
        let mut dict = Vec::new();
        let mut codes = Vec::with_capacity(self.nrows);
        for row in self.rows() {
            let cell = &row[off..off + n];
            let cell = cell.split(|&b| b == 0).next().unwrap_or(cell);
            let end = cell.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
            let key = &cell[..end];
            let code = *index.entry(key).or_insert_with(|| {
                dict.push(String::from_utf8_lossy(key).into_owned());
                (dict.len() - 1) as u32
            });
            codes.push(code);
        }
        Ok((dict, codes))
    }

    // ------------------------------------------------------------ internals

    /// Each row's bytes (none for zero-width rows).
    fn rows(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        let data: &'a [u8] = if self.row_len == 0 { &[] } else { self.data };
        data.chunks_exact(self.row_len.max(1))
    }

    /// All elements of a column, row-major, decoded by `f` from `N` bytes.
    ///
    /// This is the hot loop: one pass over the map with a fixed stride, one
    /// allocation, no per-cell branching beyond `f`.
    fn gather<T, const N: usize>(&self, col: &ColumnInfo, f: impl Fn([u8; N]) -> T) -> Vec<T> {
        let off = col.offset;
        if col.repeat == 1 {
            return self.rows().map(|row| f(arr(&row[off..]))).collect();
        }
        let mut out = Vec::with_capacity(self.nrows * col.repeat);
        for row in self.rows() {
            let cell = &row[off..off + N * col.repeat];
            out.extend(cell.chunks_exact(N).map(|c| f(arr(c))));
        }
        out
    }

    /// Stored integers (B I J K) widened to i64, before TZERO and TNULL.
    fn raw_ints(&self, col: &ColumnInfo) -> Vec<i64> {
        match col.code {
            'B' => self.gather(col, |b: [u8; 1]| b[0] as i64),
            'I' => self.gather(col, |b| i16::from_be_bytes(b) as i64),
            'J' => self.gather(col, |b| i32::from_be_bytes(b) as i64),
            _ => self.gather(col, i64::from_be_bytes),
        }
    }

    /// Physical values as `f32`/`f64` (Sect. 7.3.2: TZERO + TSCAL * stored).
    fn reals<T: Real>(&self, col: &ColumnInfo, wanted: &str) -> Result<Vec<T>> {
        let (s, z, null) = (col.tscal, col.tzero, col.tnull);
        let scaled = s != 1.0 || z != 0.0;
        // TNULL compares with the stored integer, before scaling.
        let int = move |raw: i64| {
            if Some(raw) == null {
                T::NAN
            } else {
                T::of_f64(z + s * raw as f64)
            }
        };
        Ok(match col.code {
            'B' => self.gather(col, |b: [u8; 1]| int(b[0] as i64)),
            'I' => self.gather(col, |b| int(i16::from_be_bytes(b) as i64)),
            'J' => self.gather(col, |b| int(i32::from_be_bytes(b) as i64)),
            'K' => self.gather(col, |b| int(i64::from_be_bytes(b))),
            'E' if !scaled => self.gather(col, |b| T::of_f32(f32::from_be_bytes(b))),
            'E' => self.gather(col, |b| T::of_f64(z + s * f32::from_be_bytes(b) as f64)),
            'D' if !scaled => self.gather(col, |b| T::of_f64(f64::from_be_bytes(b))),
            'D' => self.gather(col, |b| T::of_f64(z + s * f64::from_be_bytes(b))),
            _ => return Err(self.wrong(col, &format!("{wanted} (not a numeric column)"))),
        })
    }

    /// Integer values with TZERO added exactly (as i128; `None` for TNULL),
    /// converted by `conv`, whose error message is reported with the row.
    fn exact_ints<T>(
        &self,
        col: &ColumnInfo,
        wanted: &str,
        conv: impl Fn(Option<i128>, usize) -> std::result::Result<T, &'static str>,
    ) -> Result<Vec<T>> {
        if !col.is_integer() {
            return Err(self.wrong(
                col,
                &format!("{wanted} (not an integer column; use read_f64)"),
            ));
        }
        if col.tscal != 1.0 {
            return Err(self.wrong(
                col,
                &format!(
                    "{wanted} (TSCAL = {} makes its values non-integer; use read_f64)",
                    col.tscal
                ),
            ));
        }
        let zero = exact_int(col.tzero).ok_or_else(|| {
            self.wrong(
                col,
                &format!(
                    "{wanted} (TZERO = {} is not an integer; use read_f64)",
                    col.tzero
                ),
            )
        })?;
        let repeat = col.repeat.max(1);
        let raw = self.raw_ints(col);
        let mut out = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            let v = (Some(r) != col.tnull).then_some(r as i128 + zero);
            match conv(v, i) {
                Ok(x) => out.push(x),
                Err(why) => {
                    let shown = v.map_or(format!("stored value {r}"), |v| format!("value {v}"));
                    return Err(self.bad_value(col, i / repeat, format!("{shown} {why}")));
                }
            }
        }
        Ok(out)
    }

    /// The named column, checked to hold one element per row.
    fn scalar(&self, name: &str, wanted: &str, vector_reader: &str) -> Result<&ColumnInfo> {
        let col = self.column(name)?;
        if col.repeat != 1 {
            return Err(self.wrong(
                col,
                &format!(
                    "a scalar {wanted} (it has {} elements per row; use {vector_reader})",
                    col.repeat
                ),
            ));
        }
        Ok(col)
    }

    fn wrong(&self, col: &ColumnInfo, wanted: &str) -> FitsError {
        FitsError::WrongType {
            path: self.path.to_path_buf(),
            hdu: self.hdu.label(),
            column: col.name.clone(),
            tform: col.tform.clone(),
            wanted: wanted.to_string(),
        }
    }

    fn bad_value(&self, col: &ColumnInfo, row: usize, message: String) -> FitsError {
        FitsError::BadValue {
            path: self.path.to_path_buf(),
            hdu: self.hdu.label(),
            column: col.name.clone(),
            row,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tforms_and_tdims() {
        assert_eq!(parse_tform("K"), Some((1, 'K')));
        assert_eq!(parse_tform("10D"), Some((10, 'D')));
        assert_eq!(parse_tform("1PE(340)"), Some((1, 'P')));
        assert_eq!(parse_tform("20A"), Some((20, 'A')));
        assert_eq!(parse_tform(""), None);
        assert_eq!(parse_tdim("(10)"), Some(vec![10]));
        assert_eq!(parse_tdim("(2, 5)"), Some(vec![5, 2]));
        assert_eq!(parse_tdim("10"), None);
    }
}
