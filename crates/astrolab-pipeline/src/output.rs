//! Writing query results as an aligned table, CSV, JSON or FITS: to the
//! file `--output` names, or as the run's log lines (the CLI prints them
//! on stdout, so a terminal reads exactly as a `println!` would).

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use astrolab_formats::fits::{write_fits, Card, ColumnData, ColumnOut, HduOut};
use astrolab_store::{ResultTable, Value};

use crate::context::Ctx;
use crate::params::defs::{OutputArgs, OutputFormat};

/// Writes `bytes` to `path` atomically ([`astrolab_formats::atomic`]: a
/// reader or a kill never sees a partial file), naming the file in the
/// error. Every output file of a pipeline is written through here.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    astrolab_formats::atomic::write(path, bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes `table` as `out` asks: to its `--output` file, else into
/// `stdout` (the CLI passes its standard output).
pub fn write_to(
    table: &ResultTable,
    out: &OutputArgs,
    extname: &str,
    stdout: &mut dyn Write,
) -> Result<()> {
    match (out.format, &out.output) {
        (OutputFormat::Fits, None) => bail!("--format fits needs --output FILE.fits"),
        (OutputFormat::Fits, Some(p)) => write_fits_table(table, p, extname),
        (fmt, Some(p)) => {
            let mut text = Vec::new();
            write_text(table, fmt, &mut text)?;
            write_file(p, &text)
        }
        (fmt, None) => {
            let mut w = std::io::BufWriter::new(stdout);
            write_text(table, fmt, &mut w)?;
            w.flush()?;
            Ok(())
        }
    }
}

/// Writes `table` as `out` asks: to its `--output` file, else as one log
/// line of the run (the text without its final newline, which the CLI's
/// sink prints back).
pub fn emit(ctx: &Ctx, table: &ResultTable, out: &OutputArgs, extname: &str) -> Result<()> {
    let mut text = Vec::new();
    write_to(table, out, extname, &mut text)?;
    info_text(ctx, text);
    Ok(())
}

/// Writes a JSON document (pretty, with a final newline) to `out`'s
/// `--output` file, else into `stdout`.
pub fn write_json_to(
    value: &serde_json::Value,
    out: &OutputArgs,
    stdout: &mut dyn Write,
) -> Result<()> {
    let write = |w: &mut dyn Write| -> Result<()> {
        serde_json::to_writer_pretty(&mut *w, value)?;
        writeln!(w)?;
        w.flush()?;
        Ok(())
    };
    match &out.output {
        Some(p) => {
            let mut text = Vec::new();
            write(&mut text)?;
            write_file(p, &text)
        }
        None => write(&mut std::io::BufWriter::new(stdout)),
    }
}

/// [`write_json_to`] with the run's log as standard output (see [`emit`]).
pub fn emit_json(ctx: &Ctx, value: &serde_json::Value, out: &OutputArgs) -> Result<()> {
    let mut text = Vec::new();
    write_json_to(value, out, &mut text)?;
    info_text(ctx, text);
    Ok(())
}

/// Text meant for standard output as one log line: nothing when empty
/// (the output went to a file); the final newline dropped, since the sink
/// prints each line with one.
fn info_text(ctx: &Ctx, text: Vec<u8>) {
    if text.is_empty() {
        return;
    }
    let mut s = String::from_utf8_lossy(&text).into_owned();
    if s.ends_with('\n') {
        s.pop();
    }
    ctx.info(s);
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
    if x == 0.0 {
        // log10(0) is -inf: no digits to count (and -0.0 prints as 0).
        return "0".to_string();
    }
    if (1e-4..1e10).contains(&x.abs()) {
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

#[cfg(test)]
mod tests {
    use super::format_float;

    #[test]
    fn table_floats_keep_ten_significant_digits_and_zero_is_zero() {
        assert_eq!(format_float(0.0), "0");
        assert_eq!(format_float(-0.0), "0");
        assert_eq!(format_float(149.50412345678), "149.5041235");
        assert_eq!(format_float(-0.00012), "-0.00012");
        assert_eq!(format_float(1.5e12), "1.500000000e12");
    }
}
