//! Writing FITS files: an empty primary HDU, IMAGE and BINTABLE extensions.
//!
//! Everything is validated before the first byte is written, and the file is
//! written under a temporary name in the target directory and renamed into
//! place when complete, so the target path never holds a half-written file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::error::{hdu_label, FitsError, Result};
use super::header::{format_card, record, Card};
use super::{BLOCK, CARD};

/// The values of one table column, one variant per stored type.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// TFORM `L`.
    Bool(Vec<bool>),
    /// TFORM `B`.
    U8(Vec<u8>),
    /// TFORM `I`.
    I16(Vec<i16>),
    /// TFORM `J`.
    I32(Vec<i32>),
    /// TFORM `K`.
    I64(Vec<i64>),
    /// TFORM `J` with TZERO = 2147483648 (Sect. 7.3.2 unsigned convention).
    U32(Vec<u32>),
    /// TFORM `K` with TZERO = 9223372036854775808.
    U64(Vec<u64>),
    /// TFORM `E`.
    F32(Vec<f32>),
    /// TFORM `D`.
    F64(Vec<f64>),
    /// TFORM `{width}A`: ASCII, space padded; longer values are an error.
    Str { width: usize, values: Vec<String> },
    /// TFORM `{repeat}E`, values row-major (`repeat` per row).
    F32Vector { repeat: usize, values: Vec<f32> },
    /// TFORM `{repeat}D`, values row-major.
    F64Vector { repeat: usize, values: Vec<f64> },
    /// TFORM `{repeat}K`, values row-major.
    I64Vector { repeat: usize, values: Vec<i64> },
}

impl ColumnData {
    /// (TFORM, bytes per row, TZERO text for unsigned types).
    fn layout(&self) -> (String, usize, Option<&'static str>) {
        use ColumnData::*;
        match self {
            Bool(_) => ("L".into(), 1, None),
            U8(_) => ("B".into(), 1, None),
            I16(_) => ("I".into(), 2, None),
            I32(_) => ("J".into(), 4, None),
            I64(_) => ("K".into(), 8, None),
            U32(_) => ("J".into(), 4, Some("2147483648")),
            U64(_) => ("K".into(), 8, Some("9223372036854775808")),
            F32(_) => ("E".into(), 4, None),
            F64(_) => ("D".into(), 8, None),
            Str { width, .. } => (format!("{width}A"), *width, None),
            F32Vector { repeat, .. } => (format!("{repeat}E"), 4 * repeat, None),
            F64Vector { repeat, .. } => (format!("{repeat}D"), 8 * repeat, None),
            I64Vector { repeat, .. } => (format!("{repeat}K"), 8 * repeat, None),
        }
    }

    /// (number of values, values per row).
    fn counts(&self) -> (usize, usize) {
        use ColumnData::*;
        match self {
            Bool(v) => (v.len(), 1),
            U8(v) => (v.len(), 1),
            I16(v) => (v.len(), 1),
            I32(v) => (v.len(), 1),
            I64(v) => (v.len(), 1),
            U32(v) => (v.len(), 1),
            U64(v) => (v.len(), 1),
            F32(v) => (v.len(), 1),
            F64(v) => (v.len(), 1),
            Str { values, .. } => (values.len(), 1),
            F32Vector { repeat, values } => (values.len(), *repeat),
            F64Vector { repeat, values } => (values.len(), *repeat),
            I64Vector { repeat, values } => (values.len(), *repeat),
        }
    }

    fn is_integer(&self) -> bool {
        use ColumnData::*;
        matches!(
            self,
            U8(_) | I16(_) | I32(_) | I64(_) | U32(_) | U64(_) | I64Vector { .. }
        )
    }

    /// Writes rows `rows` of this column into `buf` (rows of `row_len` bytes)
    /// at byte `off` of each row.
    fn encode(&self, rows: std::ops::Range<usize>, buf: &mut [u8], row_len: usize, off: usize) {
        use ColumnData::*;
        let (a, b) = (rows.start, rows.end);
        match self {
            Bool(v) => put(buf, row_len, off, 1, &v[a..b], |x| {
                [if x { b'T' } else { b'F' }]
            }),
            U8(v) => put(buf, row_len, off, 1, &v[a..b], |x| [x]),
            I16(v) => put(buf, row_len, off, 1, &v[a..b], i16::to_be_bytes),
            I32(v) => put(buf, row_len, off, 1, &v[a..b], i32::to_be_bytes),
            I64(v) => put(buf, row_len, off, 1, &v[a..b], i64::to_be_bytes),
            // stored = value - TZERO, i.e. the top bit flipped.
            U32(v) => put(buf, row_len, off, 1, &v[a..b], |x| {
                (x ^ (1 << 31)).to_be_bytes()
            }),
            U64(v) => put(buf, row_len, off, 1, &v[a..b], |x| {
                (x ^ (1 << 63)).to_be_bytes()
            }),
            F32(v) => put(buf, row_len, off, 1, &v[a..b], f32::to_be_bytes),
            F64(v) => put(buf, row_len, off, 1, &v[a..b], f64::to_be_bytes),
            Str { width, values } => {
                for (row, s) in buf.chunks_exact_mut(row_len).zip(&values[a..b]) {
                    let cell = &mut row[off..off + width];
                    cell.fill(b' ');
                    cell[..s.len()].copy_from_slice(s.as_bytes());
                }
            }
            F32Vector { repeat: r, values } => put(
                buf,
                row_len,
                off,
                *r,
                &values[a * r..b * r],
                f32::to_be_bytes,
            ),
            F64Vector { repeat: r, values } => put(
                buf,
                row_len,
                off,
                *r,
                &values[a * r..b * r],
                f64::to_be_bytes,
            ),
            I64Vector { repeat: r, values } => put(
                buf,
                row_len,
                off,
                *r,
                &values[a * r..b * r],
                i64::to_be_bytes,
            ),
        }
    }
}

/// Strided big-endian store of `repeat` values per row.
fn put<T: Copy, const N: usize>(
    buf: &mut [u8],
    row_len: usize,
    off: usize,
    repeat: usize,
    values: &[T],
    enc: impl Fn(T) -> [u8; N],
) {
    if repeat == 0 || row_len == 0 {
        return;
    }
    for (row, vals) in buf
        .chunks_exact_mut(row_len)
        .zip(values.chunks_exact(repeat))
    {
        let cell = &mut row[off..off + N * repeat];
        for (dst, &v) in cell.chunks_exact_mut(N).zip(vals) {
            dst.copy_from_slice(&enc(v));
        }
    }
}

/// A table column to write: name (TTYPE), unit (TUNIT) and values.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnOut {
    pub name: String,
    pub unit: Option<String>,
    pub data: ColumnData,
}

impl ColumnOut {
    /// A column without unit.
    pub fn new(name: impl Into<String>, data: ColumnData) -> Self {
        ColumnOut {
            name: name.into(),
            unit: None,
            data,
        }
    }
    /// The same column with a unit (TUNITn), e.g. `"deg"`.
    pub fn with_unit(mut self, unit: &str) -> Self {
        self.unit = Some(unit.to_string());
        self
    }
}

/// Pixel values of an image, in C order (last axis fastest).
#[derive(Debug, Clone, PartialEq)]
pub enum ImageData {
    /// BITPIX 8.
    U8(Vec<u8>),
    /// BITPIX 16.
    I16(Vec<i16>),
    /// BITPIX 32.
    I32(Vec<i32>),
    /// BITPIX 32 with BZERO = 2147483648.
    U32(Vec<u32>),
    /// BITPIX 64.
    I64(Vec<i64>),
    /// BITPIX -32.
    F32(Vec<f32>),
    /// BITPIX -64.
    F64(Vec<f64>),
}

impl ImageData {
    fn len(&self) -> usize {
        use ImageData::*;
        match self {
            U8(v) => v.len(),
            I16(v) => v.len(),
            I32(v) => v.len(),
            U32(v) => v.len(),
            I64(v) => v.len(),
            F32(v) => v.len(),
            F64(v) => v.len(),
        }
    }
    fn bitpix(&self) -> i64 {
        use ImageData::*;
        match self {
            U8(_) => 8,
            I16(_) => 16,
            I32(_) | U32(_) => 32,
            I64(_) => 64,
            F32(_) => -32,
            F64(_) => -64,
        }
    }
    /// Big-endian bytes of values `range`, appended to `out`.
    fn encode(&self, range: std::ops::Range<usize>, out: &mut Vec<u8>) {
        use ImageData::*;
        fn be<T: Copy, const N: usize>(v: &[T], out: &mut Vec<u8>, enc: impl Fn(T) -> [u8; N]) {
            out.extend(v.iter().flat_map(|&x| enc(x)));
        }
        match self {
            U8(v) => out.extend_from_slice(&v[range]),
            I16(v) => be(&v[range], out, i16::to_be_bytes),
            I32(v) => be(&v[range], out, i32::to_be_bytes),
            U32(v) => be(&v[range], out, |x| (x ^ (1 << 31)).to_be_bytes()),
            I64(v) => be(&v[range], out, i64::to_be_bytes),
            F32(v) => be(&v[range], out, f32::to_be_bytes),
            F64(v) => be(&v[range], out, f64::to_be_bytes),
        }
    }
}

/// One HDU to write.
#[derive(Debug, Clone, PartialEq)]
pub enum HduOut {
    /// An empty primary HDU (`NAXIS = 0`, `EXTEND = T`) with extra cards.
    /// Must come first; when the list does not start with one, an empty
    /// primary is written anyway.
    Primary { header: Vec<Card> },
    /// An IMAGE extension; `shape` in C order (`[rows, columns]`).
    Image {
        extname: String,
        header: Vec<Card>,
        shape: Vec<usize>,
        data: ImageData,
    },
    /// A BINTABLE extension. Extra cards may add `TNULLn` (integer columns,
    /// the stored value that means null), `TDISPn`, `TCOMMn`, and any
    /// non-structural keyword; structural keywords are written from the
    /// columns and refused in `header`.
    Table {
        extname: Option<String>,
        header: Vec<Card>,
        columns: Vec<ColumnOut>,
    },
}

/// Rows (or pixels) encoded per write: bounds memory for large tables while
/// keeping the writes large.
const CHUNK_BYTES: usize = 1 << 22;

/// Writes `hdus` to `path` atomically (temporary file, then rename).
///
/// Validates first: equal column lengths (the error names the column),
/// strings that fit their width, image shapes that match their data, no
/// structural keywords in extra cards. No CHECKSUM is written.
pub fn write_fits(path: &Path, hdus: &[HduOut]) -> Result<()> {
    let mut plan: Vec<(Vec<[u8; CARD]>, Body)> = Vec::with_capacity(hdus.len() + 1);
    if !matches!(hdus.first(), Some(HduOut::Primary { .. })) {
        plan.push((primary_header(path, &[])?, Body::None));
    }
    for hdu in hdus {
        let index = plan.len();
        plan.push(match hdu {
            HduOut::Primary { header } if index == 0 => (primary_header(path, header)?, Body::None),
            HduOut::Primary { .. } => {
                return Err(invalid(
                    path,
                    index,
                    None,
                    "a Primary HDU must come first".into(),
                ))
            }
            HduOut::Image {
                extname,
                header,
                shape,
                data,
            } => (
                image_header(path, index, extname, header, shape, data)?,
                Body::Image(data),
            ),
            HduOut::Table {
                extname,
                header,
                columns,
            } => {
                let (cards, layout) =
                    table_header(path, index, extname.as_deref(), header, columns)?;
                (cards, Body::Table(columns, layout))
            }
        });
    }
    write_atomically(path, |out| {
        for (cards, body) in &plan {
            write_header(out, cards)?;
            match body {
                Body::None => {}
                Body::Image(data) => write_image(out, data)?,
                Body::Table(columns, layout) => write_table(out, columns, layout)?,
            }
        }
        Ok(())
    })
}

/// What follows a header.
enum Body<'a> {
    None,
    Image(&'a ImageData),
    Table(&'a [ColumnOut], TableLayout),
}

/// Row length, row count and each column's byte offset.
struct TableLayout {
    row_len: usize,
    nrows: usize,
    offsets: Vec<usize>,
}

fn invalid(path: &Path, index: usize, extname: Option<&str>, message: String) -> FitsError {
    FitsError::InvalidOutput {
        path: path.to_path_buf(),
        hdu: hdu_label(index, extname),
        message,
    }
}

/// Keywords written from the data itself and so refused in extra cards.
fn is_structural(key: &str) -> bool {
    const EXACT: &[&str] = &[
        "SIMPLE", "BITPIX", "NAXIS", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT", "TFIELDS",
        "EXTNAME", "BZERO", "BSCALE", "END", "CONTINUE", "THEAP", "GROUPS",
    ];
    const INDEXED: &[&str] = &[
        "NAXIS", "TTYPE", "TFORM", "TUNIT", "TZERO", "TSCAL", "TDIM", "TBCOL",
    ];
    let key = key.to_ascii_uppercase();
    EXACT.contains(&key.as_str())
        || INDEXED.iter().any(|p| {
            key.strip_prefix(p)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Formats structural cards then the user's extra cards.
fn finish_header(
    path: &Path,
    index: usize,
    extname: Option<&str>,
    mut recs: Vec<[u8; CARD]>,
    structural: Vec<Card>,
    extra: &[Card],
) -> Result<Vec<[u8; CARD]>> {
    for card in extra {
        if is_structural(&card.key) {
            return Err(invalid(
                path,
                index,
                extname,
                format!(
                    "keyword {} is written from the data; remove it from the extra cards",
                    card.key
                ),
            ));
        }
    }
    for card in structural.iter().chain(extra) {
        recs.extend(format_card(card).map_err(|m| invalid(path, index, extname, m))?);
    }
    Ok(recs)
}

fn primary_header(path: &Path, extra: &[Card]) -> Result<Vec<[u8; CARD]>> {
    let cards = vec![
        Card::bool("SIMPLE", true).with_comment("conforms to FITS standard"),
        Card::int("BITPIX", 8),
        Card::int("NAXIS", 0),
        Card::bool("EXTEND", true),
    ];
    finish_header(path, 0, None, Vec::new(), cards, extra)
}

fn image_header(
    path: &Path,
    index: usize,
    extname: &str,
    extra: &[Card],
    shape: &[usize],
    data: &ImageData,
) -> Result<Vec<[u8; CARD]>> {
    let n: usize = shape.iter().product();
    if n != data.len() || (shape.is_empty() && data.len() > 0) {
        return Err(invalid(
            path,
            index,
            Some(extname),
            format!(
                "shape {shape:?} holds {n} pixels but {} values were given",
                data.len()
            ),
        ));
    }
    let mut cards = vec![
        Card::str("XTENSION", "IMAGE").with_comment("image extension"),
        Card::int("BITPIX", data.bitpix()),
        Card::int("NAXIS", shape.len() as i64),
    ];
    // FITS lists axes fastest-varying first: the reverse of C order.
    for (i, &len) in shape.iter().rev().enumerate() {
        cards.push(Card::int(&format!("NAXIS{}", i + 1), len as i64));
    }
    cards.push(Card::int("PCOUNT", 0));
    cards.push(Card::int("GCOUNT", 1));
    let mut unsigned = Vec::new();
    if matches!(data, ImageData::U32(_)) {
        cards.push(Card::int("BSCALE", 1));
        unsigned.push(record(
            "BZERO",
            Some(&format!("{:>20}", "2147483648")),
            Some("uint32 data"),
        ));
    }
    let tail = vec![Card::str("EXTNAME", extname)];
    let mut recs = finish_header(path, index, Some(extname), Vec::new(), cards, &[])?;
    recs.extend(unsigned);
    finish_header(path, index, Some(extname), recs, tail, extra)
}

fn table_header(
    path: &Path,
    index: usize,
    extname: Option<&str>,
    extra: &[Card],
    columns: &[ColumnOut],
) -> Result<(Vec<[u8; CARD]>, TableLayout)> {
    let bad = |m: String| invalid(path, index, extname, m);
    let mut nrows: Option<(usize, &str)> = None;
    let mut offsets = Vec::with_capacity(columns.len());
    let mut row_len = 0usize;
    for (i, col) in columns.iter().enumerate() {
        let name = col.name.as_str();
        if name.trim().is_empty() || !name.bytes().all(|b| (32..=126).contains(&b)) {
            return Err(bad(format!(
                "column {} name '{name}' must be non-empty printable ASCII",
                i + 1
            )));
        }
        if columns[..i]
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(name))
        {
            return Err(bad(format!("column name '{name}' is used twice")));
        }
        let (len, repeat) = col.data.counts();
        if repeat == 0 {
            return Err(bad(format!("column '{name}': repeat must be at least 1")));
        }
        if len % repeat != 0 {
            return Err(bad(format!(
                "column '{name}' has {len} values, not a multiple of its repeat {repeat}"
            )));
        }
        let rows = len / repeat;
        match nrows {
            None => nrows = Some((rows, name)),
            Some((n, first)) if n != rows => {
                return Err(bad(format!(
                    "column '{name}' has {rows} rows but column '{first}' has {n}; \
                     all columns of a table must have the same length"
                )))
            }
            Some(_) => {}
        }
        if let ColumnData::Str { width, values } = &col.data {
            if *width == 0 {
                return Err(bad(format!(
                    "column '{name}': string width must be at least 1"
                )));
            }
            for (row, s) in values.iter().enumerate() {
                if s.len() > *width || !s.is_ascii() {
                    return Err(bad(format!(
                        "column '{name}', row {row}: '{s}' is not ASCII of at most {width} bytes"
                    )));
                }
            }
        }
        offsets.push(row_len);
        row_len += col.data.layout().1;
    }
    let nrows = nrows.map_or(0, |(n, _)| n);
    // Extra TNULLn cards must point at an integer column.
    for card in extra {
        if let Some(n) = card.key.to_ascii_uppercase().strip_prefix("TNULL") {
            let col = n
                .parse::<usize>()
                .ok()
                .and_then(|n| columns.get(n.wrapping_sub(1)));
            if !col.is_some_and(|c| c.data.is_integer()) {
                return Err(bad(format!("{} does not name an integer column", card.key)));
            }
        }
    }
    let mut cards = vec![
        Card::str("XTENSION", "BINTABLE").with_comment("binary table extension"),
        Card::int("BITPIX", 8),
        Card::int("NAXIS", 2),
        Card::int("NAXIS1", row_len as i64).with_comment("bytes per row"),
        Card::int("NAXIS2", nrows as i64).with_comment("rows"),
        Card::int("PCOUNT", 0),
        Card::int("GCOUNT", 1),
        Card::int("TFIELDS", columns.len() as i64),
    ];
    let mut recs = Vec::new();
    for (i, col) in columns.iter().enumerate() {
        let n = i + 1;
        let (tform, _, tzero) = col.data.layout();
        cards.push(Card::str(&format!("TTYPE{n}"), &col.name));
        cards.push(Card::str(&format!("TFORM{n}"), &tform));
        if let Some(unit) = &col.unit {
            cards.push(Card::str(&format!("TUNIT{n}"), unit));
        }
        if let Some(z) = tzero {
            // 2^63 does not fit HeaderValue::Int: write the exact integer text.
            recs = finish_header(path, index, extname, recs, std::mem::take(&mut cards), &[])?;
            recs.push(record(
                &format!("TZERO{n}"),
                Some(&format!("{z:>20}")),
                Some("unsigned"),
            ));
        }
    }
    if let Some(name) = extname {
        cards.push(Card::str("EXTNAME", name));
    }
    let recs = finish_header(path, index, extname, recs, cards, extra)?;
    Ok((
        recs,
        TableLayout {
            row_len,
            nrows,
            offsets,
        },
    ))
}

fn write_header(out: &mut impl Write, recs: &[[u8; CARD]]) -> std::io::Result<()> {
    for r in recs {
        out.write_all(r)?;
    }
    out.write_all(&record("END", None, None))?;
    pad(out, (recs.len() + 1) * CARD, b' ')
}

/// Fills the last block: spaces after headers, zeros after data (Sect. 3.3).
fn pad(out: &mut impl Write, written: usize, fill: u8) -> std::io::Result<()> {
    let rem = written % BLOCK;
    if rem != 0 {
        out.write_all(&vec![fill; BLOCK - rem])?;
    }
    Ok(())
}

fn write_image(out: &mut impl Write, data: &ImageData) -> std::io::Result<()> {
    let n = data.len();
    let per_chunk = CHUNK_BYTES / 8;
    let mut buf = Vec::with_capacity(CHUNK_BYTES);
    let mut written = 0;
    for start in (0..n).step_by(per_chunk) {
        buf.clear();
        data.encode(start..(start + per_chunk).min(n), &mut buf);
        out.write_all(&buf)?;
        written += buf.len();
    }
    pad(out, written, 0)
}

fn write_table(
    out: &mut impl Write,
    columns: &[ColumnOut],
    t: &TableLayout,
) -> std::io::Result<()> {
    if t.row_len == 0 {
        return Ok(());
    }
    let rows_per_chunk = (CHUNK_BYTES / t.row_len).max(1);
    let mut buf = Vec::new();
    for start in (0..t.nrows).step_by(rows_per_chunk) {
        let end = (start + rows_per_chunk).min(t.nrows);
        buf.clear();
        buf.resize((end - start) * t.row_len, 0);
        // Column by column: each pass is a tight strided store.
        for (col, &off) in columns.iter().zip(&t.offsets) {
            col.data.encode(start..end, &mut buf, t.row_len, off);
        }
        out.write_all(&buf)?;
    }
    pad(out, t.nrows * t.row_len, 0)
}

/// Runs `fill` on a temporary file beside `path`, then renames it into place
/// ([`crate::atomic`]); on any error the temporary file is removed and `path`
/// is left untouched.
fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    crate::atomic::write_with(path, fill).map_err(|source| FitsError::Io {
        path: path.to_path_buf(),
        source,
    })
}
