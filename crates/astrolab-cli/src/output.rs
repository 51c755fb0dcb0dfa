//! Writing query results as an aligned table, CSV, JSON or FITS.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use astrolab_formats::fits::{write_fits, Card, ColumnData, ColumnOut, HduOut};
use astrolab_store::{ResultTable, Value};

use crate::cli::{OutputArgs, OutputFormat};

/// Writes `table` as the user asked.
pub fn emit(table: &ResultTable, out: &OutputArgs, extname: &str) -> Result<()> {
    match (out.format, &out.output) {
        (OutputFormat::Fits, None) => bail!("--format fits needs --output FILE.fits"),
        (OutputFormat::Fits, Some(p)) => write_fits_table(table, p, extname),
        (fmt, Some(p)) => {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
            );
            write_text(table, fmt, &mut f)?;
            f.flush()?;
            Ok(())
        }
        (fmt, None) => {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            write_text(table, fmt, &mut lock)?;
            lock.flush()?;
            Ok(())
        }
    }
}

/// Writes a JSON document (pretty, with a final newline) where `out` says:
/// the --output file, or stdout.
pub fn emit_json(value: &serde_json::Value, out: &OutputArgs) -> Result<()> {
    let write = |w: &mut dyn Write| -> Result<()> {
        serde_json::to_writer_pretty(&mut *w, value)?;
        writeln!(w)?;
        w.flush()?;
        Ok(())
    };
    match &out.output {
        Some(p) => write(&mut std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => write(&mut std::io::BufWriter::new(std::io::stdout().lock())),
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Float(x) => format_float(*x),
        other => other.to_string(),
    }
}

/// Floats with 10 significant digits in tables (full precision in CSV/JSON).
fn format_float(x: f64) -> String {
    if x == 0.0 || (1e-4..1e10).contains(&x.abs()) {
        let digits = (9 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
        let s = format!("{x:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{x:.9e}")
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes a text format.
pub fn write_text(table: &ResultTable, fmt: OutputFormat, w: &mut dyn Write) -> Result<()> {
    match fmt {
        OutputFormat::Table => {
            let cells: Vec<Vec<String>> = table
                .rows
                .iter()
                .map(|r| r.iter().map(cell).collect())
                .collect();
            let mut widths: Vec<usize> = table.columns.iter().map(|c| c.len()).collect();
            for r in &cells {
                for (i, c) in r.iter().enumerate() {
                    widths[i] = widths[i].max(c.len());
                }
            }
            let numeric: Vec<bool> = (0..table.columns.len())
                .map(|i| {
                    table
                        .rows
                        .iter()
                        .all(|r| matches!(r[i], Value::Int(_) | Value::Float(_) | Value::Null))
                })
                .collect();
            let line = |vals: &[String], w: &mut dyn Write| -> std::io::Result<()> {
                let parts: Vec<String> = vals
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        if numeric[i] {
                            format!("{v:>width$}", width = widths[i])
                        } else {
                            format!("{v:<width$}", width = widths[i])
                        }
                    })
                    .collect();
                writeln!(w, "{}", parts.join("  ").trim_end())
            };
            line(&table.columns, w)?;
            let rule: Vec<String> = widths.iter().map(|n| "-".repeat(*n)).collect();
            writeln!(w, "{}", rule.join("  "))?;
            for r in &cells {
                line(r, w)?;
            }
            writeln!(
                w,
                "({} row{})",
                table.rows.len(),
                if table.rows.len() == 1 { "" } else { "s" }
            )?;
        }
        OutputFormat::Csv => {
            writeln!(
                w,
                "{}",
                table
                    .columns
                    .iter()
                    .map(|c| csv_field(c))
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
            for r in &table.rows {
                let fields: Vec<String> = r.iter().map(|v| csv_field(&v.to_string())).collect();
                writeln!(w, "{}", fields.join(","))?;
            }
        }
        OutputFormat::Json => {
            let rows: Vec<serde_json::Map<String, serde_json::Value>> = table
                .rows
                .iter()
                .map(|r| {
                    table
                        .columns
                        .iter()
                        .zip(r)
                        .map(|(c, v)| {
                            let j = match v {
                                Value::Float(x) if !x.is_finite() => serde_json::Value::Null,
                                other => {
                                    serde_json::to_value(other).unwrap_or(serde_json::Value::Null)
                                }
                            };
                            (c.clone(), j)
                        })
                        .collect()
                })
                .collect();
            serde_json::to_writer_pretty(&mut *w, &rows)?;
            writeln!(w)?;
        }
        OutputFormat::Fits => bail!("FITS output goes to a file: use --output"),
    }
    Ok(())
}

/// Writes a FITS binary table; column types follow the values (integers,
/// floats with NaN for NULL, strings, booleans).
pub fn write_fits_table(table: &ResultTable, path: &Path, extname: &str) -> Result<()> {
    let mut columns = Vec::new();
    for (i, name) in table.columns.iter().enumerate() {
        let vals: Vec<&Value> = table.rows.iter().map(|r| &r[i]).collect();
        let all = |f: fn(&Value) -> bool| vals.iter().all(|v| matches!(v, Value::Null) || f(v));
        let data = if all(|v| matches!(v, Value::Int(_)))
            && vals.iter().all(|v| !matches!(v, Value::Null))
        {
            ColumnData::I64(vals.iter().map(|v| v.as_i64().unwrap_or(0)).collect())
        } else if all(|v| matches!(v, Value::Int(_) | Value::Float(_))) {
            ColumnData::F64(
                vals.iter()
                    .map(|v| v.as_f64().unwrap_or(f64::NAN))
                    .collect(),
            )
        } else if all(|v| matches!(v, Value::Bool(_)))
            && vals.iter().all(|v| !matches!(v, Value::Null))
        {
            ColumnData::Bool(
                vals.iter()
                    .map(|v| matches!(v, Value::Bool(true)))
                    .collect(),
            )
        } else {
            let values: Vec<String> = vals.iter().map(|v| v.to_string()).collect();
            let width = values.iter().map(|s| s.len()).max().unwrap_or(1).max(1);
            ColumnData::Str { width, values }
        };
        columns.push(ColumnOut::new(name.to_ascii_uppercase(), data));
    }
    let hdus = [
        HduOut::Primary {
            header: vec![
                Card::str("ORIGIN", "astrolab"),
                Card::str("ASTROVER", env!("CARGO_PKG_VERSION")),
            ],
        },
        HduOut::Table {
            extname: Some(extname.to_string()),
            header: vec![],
            columns,
        },
    ];
    write_fits(path, &hdus).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
