//! A CDS/VizieR ReadMe with the byte-by-byte description of fixed-width
//! ASCII tables, following the CDS "Standards for Astronomical Catalogues,
//! Version 2.0" (Ochsenbein et al., <https://cds.unistra.fr/doc/catstd.htx>):
//! the File Summary (FileName, Lrecl, Records, Explanations) and, per
//! table, the Byte-by-byte Description (Bytes, Format, Units, Label,
//! Explanations). astropy's `ascii.read(table, format="cds", readme=...)`
//! reads it back with units; `cdspyreadme` is the field's peer writer.
//!
//! Formats are chosen per column from the values so that every value reads
//! back exactly: integers `Iw`; logicals `I1` (1 true, 0 false); reals
//! `Fw.d` with the fewest decimals that give back each value's shortest
//! round-trip form (Rust's `Display`: a correctly rounded decimal with at
//! least that many digits parses to the same binary value), or `Ew.d` with
//! 17 (binary64) or 9 (binary32) significant digits when a fixed form would
//! be wider than 24 characters; text `Aw`, left-aligned. Columns are
//! separated by one blank. A null (NaN, TNULL, empty text) is a blank
//! field and the column's explanation starts with `?` (the standard's mark
//! of a column that may be blank).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use crate::columns::ColumnDoc;
use crate::error::{PublishError, Result};
use crate::table::{Table, Values};

/// ReadMe lines are at most this long (the standard's 80 characters).
const WIDTH: usize = 80;

/// What the ReadMe says about the release.
#[derive(Debug, Clone)]
pub struct CdsMeta<'a> {
    /// Catalogue title.
    pub title: &'a str,
    /// Author(s).
    pub author: &'a str,
    /// Description (abstract).
    pub description: &'a str,
    /// Keywords.
    pub keywords: &'a [String],
    /// Release date, YYYY-MM-DD.
    pub date: &'a str,
}

/// One column's CDS format and its formatted cells (`None`: blank).
struct Formatted {
    format: String,
    width: usize,
    right: bool,
    cells: Vec<Option<String>>,
}

fn shortest_f64(v: f64) -> String {
    format!("{v}")
}

fn real_cells(
    vals: &[f64],
    shortest: &dyn Fn(f64) -> String,
    sig: usize,
) -> (String, usize, Vec<Option<String>>) {
    let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
    let mut decimals = 1usize;
    let mut int_w = 1usize;
    for &v in &finite {
        let s = shortest(v);
        let (i, f) = s.split_once('.').unwrap_or((&s, ""));
        decimals = decimals.max(f.len());
        int_w = int_w.max(i.len());
    }
    let fixed_w = int_w + 1 + decimals;
    if fixed_w <= 24 {
        let cells = vals
            .iter()
            .map(|v| v.is_finite().then(|| format!("{v:.decimals$}")))
            .collect();
        return (format!("F{fixed_w}.{decimals}"), fixed_w, cells);
    }
    let d = sig - 1;
    let cells: Vec<Option<String>> = vals
        .iter()
        .map(|v| v.is_finite().then(|| format!("{v:.d$e}")))
        .collect();
    let w = cells.iter().flatten().map(String::len).max().unwrap_or(1);
    (format!("E{w}.{d}"), w, cells)
}

fn format_column(v: &Values) -> Formatted {
    let ints = |cells: Vec<Option<String>>| {
        let w = cells
            .iter()
            .flatten()
            .map(String::len)
            .max()
            .unwrap_or(1)
            .max(1);
        Formatted {
            format: format!("I{w}"),
            width: w,
            right: true,
            cells,
        }
    };
    match v {
        Values::Bool(b) => ints(
            b.iter()
                .map(|b| b.map(|b| u8::from(b).to_string()))
                .collect(),
        ),
        Values::Int { values, .. } => {
            ints(values.iter().map(|v| v.map(|v| v.to_string())).collect())
        }
        Values::U64(v) => ints(v.iter().map(|v| Some(v.to_string())).collect()),
        Values::F64(v) => {
            let (format, width, cells) = real_cells(v, &shortest_f64, 17);
            Formatted {
                format,
                width,
                right: true,
                cells,
            }
        }
        Values::F32(v) => {
            // Shortest forms of the binary32 values; cells printed from f32.
            let wide: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
            let (format, width, _) = real_cells(&wide, &|x| format!("{}", x as f32), 9);
            let decimals: Option<usize> = format
                .strip_prefix('F')
                .and_then(|f| f.split('.').nth(1))
                .and_then(|d| d.parse().ok());
            match decimals {
                Some(d) => Formatted {
                    format,
                    width,
                    right: true,
                    cells: v
                        .iter()
                        .map(|x| x.is_finite().then(|| format!("{x:.d$}")))
                        .collect(),
                },
                None => {
                    let cells: Vec<Option<String>> = v
                        .iter()
                        .map(|x| x.is_finite().then(|| format!("{x:.8e}")))
                        .collect();
                    let w = cells.iter().flatten().map(String::len).max().unwrap_or(1);
                    Formatted {
                        format: format!("E{w}.8"),
                        width: w,
                        right: true,
                        cells,
                    }
                }
            }
        }
        Values::Str { values, .. } => {
            let w = values.iter().map(|s| s.len()).max().unwrap_or(1).max(1);
            Formatted {
                format: format!("A{w}"),
                width: w,
                right: false,
                cells: values
                    .iter()
                    .map(|s| (!s.is_empty()).then(|| s.clone()))
                    .collect(),
            }
        }
    }
}

/// Words of `text` on lines of at most `WIDTH` characters, the first
/// starting at column `first`, the others indented by `indent`. A
/// continuation line never starts with a digit (astropy would take it for
/// a column definition).
fn wrap(text: &str, first: usize, indent: usize) -> Vec<String> {
    let mut lines: Vec<Vec<&str>> = vec![Vec::new()];
    let width = |l: &[&str], start: usize| {
        start + l.iter().map(|w| w.len()).sum::<usize>() + l.len().saturating_sub(1)
    };
    for word in text.split_whitespace() {
        let start = if lines.len() == 1 { first } else { indent };
        let cur = lines.last_mut().expect("one line");
        cur.push(word);
        if cur.len() > 1 && width(cur, start) > WIDTH {
            let w = cur.pop().expect("just pushed");
            let mut next = vec![w];
            // Never start a continuation line with a number: take the
            // previous word along.
            if w.starts_with(|c: char| c.is_ascii_digit()) && cur.len() > 1 {
                next.insert(0, cur.pop().expect("len > 1"));
            }
            lines.push(next);
        }
    }
    lines.into_iter().map(|l| l.join(" ")).collect()
}

/// Writes `dir/ReadMe` and `dir/TABLE.dat` for every table; returns the
/// data files' names.
pub fn write_cds(
    dir: &Path,
    tables: &[(Table, Vec<ColumnDoc>)],
    meta: &CdsMeta<'_>,
) -> Result<Vec<String>> {
    fs::create_dir_all(dir).map_err(PublishError::io(dir))?;
    let rule = "-".repeat(WIDTH);
    let double = "=".repeat(WIDTH);
    let mut summary = Vec::new();
    let mut bbb = String::new();
    let mut names = Vec::new();
    let name_w = tables
        .iter()
        .map(|(t, _)| t.name.len() + 4)
        .max()
        .unwrap_or(6)
        .max(6);
    for (t, docs) in tables {
        let file = format!("{}.dat", t.name);
        let cols: Vec<Formatted> = t.columns.iter().map(|c| format_column(&c.values)).collect();
        // Data lines.
        let lrecl = cols.iter().map(|c| c.width).sum::<usize>() + cols.len().saturating_sub(1);
        let mut data = String::with_capacity((lrecl + 1) * t.nrows);
        for row in 0..t.nrows {
            for (j, c) in cols.iter().enumerate() {
                if j > 0 {
                    data.push(' ');
                }
                let cell = c.cells[row].as_deref().unwrap_or("");
                if c.right {
                    let _ = write!(data, "{cell:>w$}", w = c.width);
                } else {
                    let _ = write!(data, "{cell:<w$}", w = c.width);
                }
            }
            data.push('\n');
        }
        let path = dir.join(&file);
        fs::write(&path, data).map_err(PublishError::io(&path))?;
        // Byte-by-byte description.
        let _ = writeln!(bbb, "Byte-by-byte Description of file: {file}");
        let _ = writeln!(bbb, "{rule}");
        let fmt_w = cols
            .iter()
            .map(|c| c.format.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let unit_w = docs.iter().map(|d| d.unit.len()).max().unwrap_or(5).max(5);
        let label_w = t
            .columns
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let _ = writeln!(
            bbb,
            "   Bytes {:<fmt_w$} {:<unit_w$} {:<label_w$} Explanations",
            "Format", "Units", "Label"
        );
        let _ = writeln!(bbb, "{rule}");
        let mut start = 1usize;
        let expl_col = 9 + fmt_w + 1 + unit_w + 1 + label_w + 1;
        for ((c, f), doc) in t.columns.iter().zip(&cols).zip(docs) {
            let end = start + f.width - 1;
            let bytes = if f.width == 1 {
                format!("    {end:>3}")
            } else {
                format!("{start:>3}-{end:>3}")
            };
            let null = f.cells.iter().any(Option::is_none);
            let text = format!("{}{}", if null { "? " } else { "" }, doc.description);
            let lines = wrap(&text, expl_col, expl_col);
            let _ = writeln!(
                bbb,
                " {bytes} {:<fmt_w$} {:<unit_w$} {:<label_w$} {}",
                f.format, doc.unit, c.name, lines[0]
            );
            for l in &lines[1..] {
                let _ = writeln!(bbb, "{:expl_col$}{l}", "");
            }
            start = end + 2;
        }
        let _ = writeln!(bbb, "{rule}\n");
        summary.push((
            file.clone(),
            lrecl,
            t.nrows,
            format!("HDU {} of the run's {}", t.hdu, t.file.display()),
        ));
        names.push(file);
    }
    let mut out = String::new();
    // The catalogue designation: VizieR assigns the real one on acceptance.
    let head = "astrolab";
    let first = format!(
        "{head:<19} {} ({}, {})",
        meta.title,
        meta.author,
        &meta.date[..4.min(meta.date.len())]
    );
    for (i, l) in wrap(&first, 0, 4).iter().enumerate() {
        let _ = writeln!(out, "{}{l}", if i == 0 { "" } else { "    " });
    }
    let _ = writeln!(out, "{double}");
    for (i, l) in wrap(meta.title, 0, 4).iter().enumerate() {
        let _ = writeln!(out, "{}{l}", if i == 0 { "" } else { "    " });
    }
    let _ = writeln!(out, "    {}", meta.author);
    let _ = writeln!(out, "{double}");
    if !meta.keywords.is_empty() {
        for (i, l) in wrap(&meta.keywords.join(" ; "), 10, 4).iter().enumerate() {
            let _ = writeln!(out, "{}{l}", if i == 0 { "Keywords: " } else { "    " });
        }
        out.push('\n');
    }
    let _ = writeln!(out, "Abstract:");
    for l in wrap(meta.description, 4, 4) {
        let _ = writeln!(out, "    {l}");
    }
    out.push('\n');
    let _ = writeln!(out, "File Summary:");
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(
        out,
        " {:<name_w$} {:>5} {:>8}  Explanations",
        "FileName", "Lrecl", "Records"
    );
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(
        out,
        " {:<name_w$} {:>5} {:>8}  This file",
        "ReadMe", WIDTH, "."
    );
    let expl = 1 + name_w + 1 + 5 + 1 + 8 + 2;
    for (f, lrecl, n, what) in &summary {
        let lines = wrap(what, expl, expl);
        let _ = writeln!(out, " {f:<name_w$} {lrecl:>5} {n:>8}  {}", lines[0]);
        for l in &lines[1..] {
            let _ = writeln!(out, "{:expl$}{l}", "");
        }
    }
    let _ = writeln!(out, "{rule}\n");
    out.push_str(&bbb);
    let _ = writeln!(out, "{double}");
    let _ = writeln!(
        out,
        "(End) {:>74}",
        format!("{} {}", meta.author, meta.date)
    );
    let readme = dir.join("ReadMe");
    fs::write(&readme, out).map_err(PublishError::io(&readme))?;
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_formats_round_trip() {
        let v = [150.123456789012, -2.5, f64::NAN, 0.1];
        let (f, w, cells) = real_cells(&v, &shortest_f64, 17);
        assert_eq!(f, "F16.12");
        assert_eq!(w, 16);
        assert_eq!(cells[2], None);
        for (x, c) in v.iter().zip(&cells) {
            if let Some(c) = c {
                assert_eq!(c.trim().parse::<f64>().unwrap(), *x);
            }
        }
        let tiny = [1.234e-30, 5.0e20];
        let (f, _, cells) = real_cells(&tiny, &shortest_f64, 17);
        assert!(f.starts_with('E'), "{f}");
        for (x, c) in tiny.iter().zip(&cells) {
            assert_eq!(c.as_ref().unwrap().parse::<f64>().unwrap(), *x);
        }
    }

    #[test]
    fn continuation_never_starts_with_a_digit() {
        let lines = wrap("xxxxxxxx yy 1 zz", 68, 68);
        assert_eq!(lines, ["xxxxxxxx", "yy 1 zz"]);
        assert!(
            lines[1..]
                .iter()
                .all(|l| !l.starts_with(|c: char| c.is_ascii_digit())),
            "{lines:?}"
        );
    }
}
