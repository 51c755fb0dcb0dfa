//! Small CSV tables read whole, column by column (the `csv` crate does the
//! parsing). The first non-comment line is the header; lines starting with
//! `#` are comments; fields are trimmed.

use std::path::{Path, PathBuf};

/// Errors naming the file, and where relevant the column and 1-based line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// The file could not be read.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Malformed CSV (e.g. a row with a different number of fields).
    #[error("{}: {message}", .path.display())]
    Parse { path: PathBuf, message: String },
    /// No column of that name.
    #[error("{}: no column '{column}'; the columns are: {}", .path.display(), .available.join(", "))]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: Vec<String>,
    },
    /// A value that is not a number.
    #[error("{}: line {line}, column '{column}': '{value}' is not a number", .path.display())]
    BadNumber {
        path: PathBuf,
        column: String,
        line: u64,
        value: String,
    },
}

/// A CSV file's columns as strings, in header order.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvColumns {
    /// Header names, trimmed.
    pub names: Vec<String>,
    /// `columns[i][row]` is the value of `names[i]` in data row `row`.
    pub columns: Vec<Vec<String>>,
    /// 1-based file line of each data row, for error messages.
    lines: Vec<u64>,
    path: PathBuf,
}

/// Reads a whole CSV file. Every row must have as many fields as the header.
pub fn read_csv_columns(path: &Path) -> Result<CsvColumns, CsvError> {
    let err = |e: csv::Error| {
        let message = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(source) => CsvError::Io {
                path: path.to_path_buf(),
                source,
            },
            _ => CsvError::Parse {
                path: path.to_path_buf(),
                message,
            },
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(err)?;
    let names: Vec<String> = reader
        .headers()
        .map_err(err)?
        .iter()
        .map(str::to_string)
        .collect();
    let mut columns = vec![Vec::new(); names.len()];
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(err)?;
        lines.push(record.position().map_or(0, |p| p.line()));
        for (col, field) in columns.iter_mut().zip(record.iter()) {
            col.push(field.to_string());
        }
    }
    Ok(CsvColumns {
        names,
        columns,
        lines,
        path: path.to_path_buf(),
    })
}

impl CsvColumns {
    /// Number of data rows.
    pub fn nrows(&self) -> usize {
        self.lines.len()
    }
    /// Whether a column of that name exists (case-insensitive).
    pub fn has_column(&self, name: &str) -> bool {
        self.index(name).is_some()
    }
    /// A column's raw strings (case-insensitive name).
    pub fn column(&self, name: &str) -> Result<&[String], CsvError> {
        let i = self.index(name).ok_or_else(|| CsvError::MissingColumn {
            path: self.path.clone(),
            column: name.to_string(),
            available: self.names.clone(),
        })?;
        Ok(&self.columns[i])
    }
    /// A column parsed as numbers. Empty fields are NaN (a missing value);
    /// anything else that does not parse is [`CsvError::BadNumber`] with its line.
    pub fn column_f64(&self, name: &str) -> Result<Vec<f64>, CsvError> {
        let values = self.column(name)?;
        values
            .iter()
            .zip(&self.lines)
            .map(|(v, &line)| {
                if v.is_empty() {
                    return Ok(f64::NAN);
                }
                v.parse().map_err(|_| CsvError::BadNumber {
                    path: self.path.clone(),
                    column: name.to_string(),
                    line,
                    value: v.clone(),
                })
            })
            .collect()
    }

    /// A column as 64-bit integers, parsed exactly (identifiers such as DESI
    /// TARGETIDs exceed 2^53 and would lose digits through f64); empty
    /// fields are `None`.
    pub fn column_i64_opt(&self, name: &str) -> Result<Vec<Option<i64>>, CsvError> {
        let values = self.column(name)?;
        values
            .iter()
            .zip(&self.lines)
            .map(|(v, &line)| {
                let t = v.trim();
                if t.is_empty() {
                    return Ok(None);
                }
                t.parse().map(Some).map_err(|_| CsvError::BadNumber {
                    path: self.path.clone(),
                    column: name.to_string(),
                    line,
                    value: v.clone(),
                })
            })
            .collect()
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn reads_columns_skipping_comments() {
        let (_d, p) =
            write("# written by hand\nra, dec,name\n10.5,-3,a\n# mid comment\n11,4e2,b\n12,,c\n");
        let t = read_csv_columns(&p).unwrap();
        assert_eq!(t.names, ["ra", "dec", "name"]);
        assert_eq!(t.nrows(), 3);
        assert_eq!(t.column_f64("RA").unwrap(), [10.5, 11.0, 12.0]);
        let dec = t.column_f64("dec").unwrap();
        assert_eq!(dec[..2], [-3.0, 400.0]);
        assert!(dec[2].is_nan());
        assert_eq!(t.column("name").unwrap(), ["a", "b", "c"]);
        assert!(t.has_column("Name") && !t.has_column("z"));
    }

    #[test]
    fn bad_number_names_file_column_and_line() {
        let (_d, p) = write("# c\nz\n0.1\nabc\n");
        let t = read_csv_columns(&p).unwrap();
        let e = t.column_f64("z").unwrap_err();
        assert!(
            matches!(&e, CsvError::BadNumber { line: 4, value, .. } if value == "abc"),
            "{e}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("t.csv") && msg.contains("line 4") && msg.contains("'z'"),
            "{msg}"
        );
        let e = t.column_f64("w").unwrap_err();
        assert!(matches!(&e, CsvError::MissingColumn { available, .. } if available == &["z"]));
    }

    #[test]
    fn ragged_rows_and_missing_files_fail() {
        let (_d, p) = write("a,b\n1,2\n3\n");
        assert!(matches!(read_csv_columns(&p), Err(CsvError::Parse { .. })));
        let missing = read_csv_columns(Path::new("/nonexistent/x.csv"));
        assert!(matches!(missing, Err(CsvError::Io { .. })));
    }
}
