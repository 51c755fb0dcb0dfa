//! Opening a FITS file: the HDU sequence (Sect. 3) and image arrays
//! (Sect. 4.4.2.5, 5, 7.1).

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::decode::{be_map, exact_int, Real};
use super::error::{hdu_label, FitsError, Result};
use super::header::{parse_header, Header};
use super::table::BinTable;
use super::{BLOCK, CARD};

/// What an HDU holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HduKind {
    /// The first HDU (an image array, often empty).
    Primary,
    /// `XTENSION = 'IMAGE'` (Sect. 7.1).
    Image,
    /// `XTENSION = 'BINTABLE'` (Sect. 7.3).
    BinTable,
    /// `XTENSION = 'TABLE'` (Sect. 7.2): listed, not read.
    AsciiTable,
    /// Any other extension, or random groups.
    Other,
}

/// One header-data unit: its header and where its data lies in the file.
#[derive(Debug, Clone)]
pub struct Hdu {
    /// Position in the file, 0 for the primary HDU.
    pub index: usize,
    /// `EXTNAME`, trimmed; `None` when absent or blank.
    pub extname: Option<String>,
    pub kind: HduKind,
    pub header: Header,
    /// `NAXIS1..NAXISn` in FITS order (fastest-varying first).
    axes: Vec<usize>,
    /// Byte offset of the header in the file.
    header_offset: usize,
    /// Byte offset of the data unit in the file.
    data_offset: usize,
    /// Data bytes without the block padding (for tables, heap included).
    data_len: usize,
    /// Binary tables: bytes after the data unit, up to the last non-zero
    /// one before the next HDU (or the end of the file), that the header
    /// does not account for. See [`Hdu::extra_bytes`].
    extra_bytes: usize,
}

impl Hdu {
    /// The number of rows (`NAXIS2`) for tables; `None` for other HDUs.
    pub fn nrows(&self) -> Option<usize> {
        matches!(self.kind, HduKind::BinTable | HduKind::AsciiTable)
            .then(|| self.axes.get(1).copied().unwrap_or(0))
    }
    /// Binary tables: bytes after the table's data unit (`NAXIS1 x NAXIS2`
    /// row bytes plus the heap) that are not zero padding, counted up to the
    /// last non-zero byte before the next HDU or the end of the file. Zero
    /// for a well-formed file; more usually means the table holds more rows
    /// than its `NAXIS2` says (a writer that did not update the header).
    /// Only `NAXIS2` rows are ever read; opening the file logs a warning.
    pub fn extra_bytes(&self) -> usize {
        self.extra_bytes
    }
    /// `NAXISn` in C order like numpy: `[NAXIS2, NAXIS1]` for a 2-d array (for
    /// a table, `[rows, bytes per row]`). Empty when `NAXIS = 0`.
    pub fn shape(&self) -> Vec<usize> {
        self.axes.iter().rev().copied().collect()
    }
    /// `EXTNAME`, or `HDU <index>` when it has none.
    pub fn name(&self) -> String {
        match &self.extname {
            Some(n) => n.clone(),
            None => format!("HDU {}", self.index),
        }
    }
    /// The label used in error messages (index and EXTNAME).
    pub(crate) fn label(&self) -> String {
        hdu_label(self.index, self.extname.as_deref())
    }
    /// The data unit (without padding) within the file's bytes.
    pub(crate) fn data<'a>(&self, file: &'a [u8]) -> &'a [u8] {
        &file[self.data_offset..self.data_offset + self.data_len]
    }
}

/// An open, memory-mapped FITS file with all headers parsed.
///
/// Opening checks that every HDU's data is present, so later reads cannot
/// run past the end of the file.
pub struct FitsFile {
    path: PathBuf,
    map: Bytes,
    hdus: Vec<Hdu>,
}

/// A file's bytes: mapped, or decompressed into memory for a gzip file.
enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// The two bytes every gzip member starts with (RFC 1952, Sect. 2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl std::fmt::Debug for FitsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitsFile")
            .field("path", &self.path)
            .field("hdus", &self.hdus.iter().map(Hdu::name).collect::<Vec<_>>())
            .finish()
    }
}

impl FitsFile {
    /// Opens and memory-maps `path`, parsing every header. A gzip-compressed
    /// file (`.fits.gz`) is decompressed into memory instead.
    ///
    /// Errors: [`FitsError::Io`], [`FitsError::NotFits`], [`FitsError::Truncated`]
    /// (naming the HDU), [`FitsError::BadHeader`] for missing or inconsistent
    /// mandatory keywords.
    pub fn open(path: &Path) -> Result<FitsFile> {
        let io = |source| FitsError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        if file.metadata().map_err(io)?.len() < GZIP_MAGIC.len() as u64 {
            return Err(FitsError::NotFits {
                path: path.to_path_buf(),
            });
        }
        // SAFETY: the map is read-only. Undefined behaviour would need another
        // process to modify or truncate the file while it is mapped; raw
        // inputs are never modified (ARCHITECTURE.md), and our writer replaces
        // files by rename, which leaves existing maps on the old inode.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        // A gzip-compressed file (DESI's `.fits.gz` catalogs) is read whole
        // into memory: gzip has no random access, and catalogs are small
        // next to spectra, which are never compressed this way.
        let map = if map.starts_with(&GZIP_MAGIC) {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&map[..]), &mut out)
                .map_err(io)?;
            Bytes::Owned(out)
        } else {
            Bytes::Mapped(map)
        };
        if map.len() < CARD {
            return Err(FitsError::NotFits {
                path: path.to_path_buf(),
            });
        }
        let hdus = scan(path, &map)?;
        Ok(FitsFile {
            path: path.to_path_buf(),
            map,
            hdus,
        })
    }

    /// A FITS file held in memory (an asset built into a binary); `name`
    /// stands for its path in error messages. Gzip-compressed bytes are
    /// decompressed.
    pub fn from_bytes(name: &Path, bytes: Vec<u8>) -> Result<FitsFile> {
        let bytes = if bytes.starts_with(&GZIP_MAGIC) {
            let mut out = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::MultiGzDecoder::new(&bytes[..]),
                &mut out,
            )
            .map_err(|source| FitsError::Io {
                path: name.to_path_buf(),
                source,
            })?;
            out
        } else {
            bytes
        };
        if bytes.len() < CARD {
            return Err(FitsError::NotFits {
                path: name.to_path_buf(),
            });
        }
        let hdus = scan(name, &bytes)?;
        Ok(FitsFile {
            path: name.to_path_buf(),
            map: Bytes::Owned(bytes),
            hdus,
        })
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All HDUs in file order.
    pub fn hdus(&self) -> &[Hdu] {
        &self.hdus
    }

    /// The first HDU whose `EXTNAME` matches (case-insensitive). `PRIMARY`
    /// also finds HDU 0 when it has no EXTNAME, as in astropy.
    pub fn hdu(&self, extname: &str) -> Result<&Hdu> {
        self.hdus
            .iter()
            .find(|h| match &h.extname {
                Some(n) => n.eq_ignore_ascii_case(extname),
                None => h.index == 0 && extname.eq_ignore_ascii_case("PRIMARY"),
            })
            .ok_or_else(|| self.missing(extname))
    }

    /// Whether an HDU with this `EXTNAME` exists (case-insensitive).
    pub fn has_hdu(&self, extname: &str) -> bool {
        self.hdu(extname).is_ok()
    }

    /// The HDU at `index` (0 = primary).
    pub fn hdu_at(&self, index: usize) -> Result<&Hdu> {
        self.hdus
            .get(index)
            .ok_or_else(|| self.missing(&format!("HDU {index}")))
    }

    /// The binary table with this `EXTNAME`.
    pub fn table(&self, extname: &str) -> Result<BinTable<'_>> {
        BinTable::new(&self.path, self.hdu(extname)?, &self.map)
    }

    /// The binary table at `index`, for tables without EXTNAME.
    pub fn table_at(&self, index: usize) -> Result<BinTable<'_>> {
        BinTable::new(&self.path, self.hdu_at(index)?, &self.map)
    }

    /// The first binary table in the file.
    pub fn first_table(&self) -> Result<BinTable<'_>> {
        let hdu = self
            .hdus
            .iter()
            .find(|h| h.kind == HduKind::BinTable)
            .ok_or_else(|| self.missing("(any BINTABLE)"))?;
        BinTable::new(&self.path, hdu, &self.map)
    }

    /// An image (primary array or IMAGE extension) as `f64`, with its shape
    /// in C order. `physical = BZERO + BSCALE * stored`; `BLANK` becomes NaN.
    pub fn read_image_f64(&self, extname: &str) -> Result<(Vec<f64>, Vec<usize>)> {
        self.image_real(self.hdu(extname)?)
    }

    /// As [`read_image_f64`](Self::read_image_f64), as `f32` (exact for
    /// BITPIX -32 data).
    pub fn read_image_f32(&self, extname: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        self.image_real(self.hdu(extname)?)
    }

    /// An integer image as exact `u32`, e.g. DESI `*_MASK` (BITPIX 32 with
    /// BZERO 2^31). Errors on BLANK pixels and values outside `u32`.
    pub fn read_image_u32(&self, extname: &str) -> Result<(Vec<u32>, Vec<usize>)> {
        self.image_u32(self.hdu(extname)?)
    }

    /// [`read_image_f64`](Self::read_image_f64) by HDU index.
    pub fn read_image_f64_at(&self, index: usize) -> Result<(Vec<f64>, Vec<usize>)> {
        self.image_real(self.hdu_at(index)?)
    }

    /// [`read_image_f32`](Self::read_image_f32) by HDU index.
    pub fn read_image_f32_at(&self, index: usize) -> Result<(Vec<f32>, Vec<usize>)> {
        self.image_real(self.hdu_at(index)?)
    }

    /// [`read_image_u32`](Self::read_image_u32) by HDU index.
    pub fn read_image_u32_at(&self, index: usize) -> Result<(Vec<u32>, Vec<usize>)> {
        self.image_u32(self.hdu_at(index)?)
    }

    fn missing(&self, extname: &str) -> FitsError {
        let available = self
            .hdus
            .iter()
            .map(|h| match &h.extname {
                Some(n) => n.clone(),
                None if h.index == 0 => "PRIMARY".to_string(),
                None => format!("HDU {0} (no EXTNAME: use table_at({0}))", h.index),
            })
            .collect();
        FitsError::MissingHdu {
            path: self.path.clone(),
            extname: extname.to_string(),
            available,
        }
    }

    /// The image's data, BITPIX, BSCALE, BZERO and BLANK, after checking
    /// that the HDU is an image with data.
    fn image<'a>(&'a self, hdu: &'a Hdu) -> Result<Image<'a>> {
        let unsupported = |message: String| FitsError::Unsupported {
            path: self.path.clone(),
            hdu: hdu.label(),
            message,
        };
        if !matches!(hdu.kind, HduKind::Primary | HduKind::Image) {
            return Err(unsupported(format!(
                "is a {:?} HDU, not an image; read it with table()",
                hdu.kind
            )));
        }
        if hdu.axes.is_empty() {
            return Err(unsupported("has no data array (NAXIS = 0)".to_string()));
        }
        let h = &hdu.header;
        let bitpix = h.get_i64("BITPIX").unwrap_or(0);
        // Sizes were checked for overflow when the file was opened.
        let nbytes = hdu.axes.iter().product::<usize>() * (bitpix.unsigned_abs() as usize / 8);
        let data = hdu.data(&self.map).get(..nbytes).ok_or_else(|| {
            unsupported("holds random groups or GCOUNT != 1, not a plain image".to_string())
        })?;
        Ok(Image {
            data,
            bitpix,
            bscale: h.get_f64("BSCALE").unwrap_or(1.0),
            bzero: h.get_f64("BZERO").unwrap_or(0.0),
            blank: h.get_i64("BLANK"),
            shape: hdu.shape(),
        })
    }

    fn image_real<T: Real>(&self, hdu: &Hdu) -> Result<(Vec<T>, Vec<usize>)> {
        let im = self.image(hdu)?;
        let (s, z, blank) = (im.bscale, im.bzero, im.blank);
        let scaled = s != 1.0 || z != 0.0;
        // BLANK applies to the stored integer, before scaling (Sect. 4.4.2.5).
        let int = move |raw: i64| {
            if Some(raw) == blank {
                T::NAN
            } else {
                T::of_f64(z + s * raw as f64)
            }
        };
        let values = match im.bitpix {
            8 => be_map(im.data, |b: [u8; 1]| int(b[0] as i64)),
            16 => be_map(im.data, |b| int(i16::from_be_bytes(b) as i64)),
            32 => be_map(im.data, |b| int(i32::from_be_bytes(b) as i64)),
            64 => be_map(im.data, |b| int(i64::from_be_bytes(b))),
            -32 if !scaled => be_map(im.data, |b| T::of_f32(f32::from_be_bytes(b))),
            -32 => be_map(im.data, |b| T::of_f64(z + s * f32::from_be_bytes(b) as f64)),
            -64 => be_map(im.data, |b| T::of_f64(z + s * f64::from_be_bytes(b))),
            _ => return Err(self.bad_bitpix(hdu, im.bitpix)),
        };
        Ok((values, im.shape))
    }

    fn image_u32(&self, hdu: &Hdu) -> Result<(Vec<u32>, Vec<usize>)> {
        let im = self.image(hdu)?;
        let wrong = |why: &str| FitsError::WrongType {
            path: self.path.clone(),
            hdu: hdu.label(),
            column: "(image)".to_string(),
            tform: format!(
                "BITPIX = {}, BSCALE = {}, BZERO = {}",
                im.bitpix, im.bscale, im.bzero
            ),
            wanted: format!("u32 ({why}; use read_image_f64)"),
        };
        if im.bscale != 1.0 {
            return Err(wrong("BSCALE is not 1"));
        }
        let zero = exact_int(im.bzero).ok_or_else(|| wrong("BZERO is not an integer"))?;
        let raw: Vec<i64> = match im.bitpix {
            8 => be_map(im.data, |b: [u8; 1]| b[0] as i64),
            16 => be_map(im.data, |b| i16::from_be_bytes(b) as i64),
            32 => be_map(im.data, |b| i32::from_be_bytes(b) as i64),
            64 => be_map(im.data, i64::from_be_bytes),
            -32 | -64 => return Err(wrong("the pixels are floating point")),
            _ => return Err(self.bad_bitpix(hdu, im.bitpix)),
        };
        let bad = |pixel: usize, message: String| FitsError::BadValue {
            path: self.path.clone(),
            hdu: hdu.label(),
            column: "(image pixel, C-order index)".to_string(),
            row: pixel,
            message,
        };
        let mut out = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            if Some(r) == im.blank {
                return Err(bad(
                    i,
                    "pixel is BLANK (undefined); use read_image_f64 for NaN".into(),
                ));
            }
            let v = r as i128 + zero;
            out.push(
                u32::try_from(v).map_err(|_| bad(i, format!("value {v} does not fit in u32")))?,
            );
        }
        Ok((out, im.shape))
    }

    fn bad_bitpix(&self, hdu: &Hdu, bitpix: i64) -> FitsError {
        FitsError::BadHeader {
            path: self.path.clone(),
            hdu: hdu.label(),
            key: "BITPIX".to_string(),
            message: format!("{bitpix} is not one of 8, 16, 32, 64, -32, -64"),
        }
    }
}

/// An image data unit and the keywords that give its physical values.
struct Image<'a> {
    data: &'a [u8],
    bitpix: i64,
    bscale: f64,
    bzero: f64,
    blank: Option<i64>,
    shape: Vec<usize>,
}

/// Walks the HDU sequence (Sect. 3.1-3.4), checking every data unit is present.
fn scan(path: &Path, bytes: &[u8]) -> Result<Vec<Hdu>> {
    let not_fits = || FitsError::NotFits {
        path: path.to_path_buf(),
    };
    if !bytes.starts_with(b"SIMPLE  =") {
        return Err(not_fits());
    }
    let len = bytes.len();
    let mut hdus = Vec::new();
    let mut offset = 0usize;
    // A block that does not start with XTENSION after the last HDU is
    // tolerated trailing data (Sect. 3.5 special records), not an error.
    while offset == 0 || (offset + CARD <= len && bytes[offset..].starts_with(b"XTENSION")) {
        let index = hdus.len();
        let (header, header_len) = match parse_header(&bytes[offset..]) {
            Ok(parsed) => parsed,
            Err(partial) => {
                return Err(FitsError::Truncated {
                    path: path.to_path_buf(),
                    hdu: match extname_of(&partial) {
                        Some(name) => hdu_label(index, Some(&name)),
                        None => format!("HDU {index} (header cut before its EXTNAME)"),
                    },
                    // At least one more block, holding the END card.
                    expected_bytes: ((len / BLOCK + 1) * BLOCK) as u64,
                    actual_bytes: len as u64,
                });
            }
        };
        if index == 0 && header.get_bool("SIMPLE") != Some(true) {
            return Err(not_fits());
        }
        let extname = extname_of(&header);
        let label = hdu_label(index, extname.as_deref());
        let bad = |key: &str, message: String| FitsError::BadHeader {
            path: path.to_path_buf(),
            hdu: label.clone(),
            key: key.to_string(),
            message,
        };
        let (kind, axes, data_len) = layout(&header, index).map_err(|(k, m)| bad(&k, m))?;
        let data_offset = offset + header_len;
        let end = data_offset
            .checked_add(data_len)
            .ok_or_else(|| bad("NAXIS", "data size overflows".into()))?;
        if end > len {
            return Err(FitsError::Truncated {
                path: path.to_path_buf(),
                hdu: label,
                expected_bytes: end as u64,
                actual_bytes: len as u64,
            });
        }
        hdus.push(Hdu {
            index,
            extname,
            kind,
            header,
            axes,
            header_offset: offset,
            data_offset,
            data_len,
            extra_bytes: 0,
        });
        offset = data_offset + data_len.div_ceil(BLOCK) * BLOCK;
    }
    // What follows each binary table up to the next HDU (the last one: up
    // to the end of the file) must be zero padding (Sect. 7.3.5). Rows a
    // writer appended without raising NAXIS2 land there, and would be
    // dropped without a word.
    let starts: Vec<usize> = hdus
        .iter()
        .skip(1)
        .map(|h| h.header_offset)
        .chain([len])
        .collect();
    for (hdu, next) in hdus.iter_mut().zip(starts) {
        if hdu.kind != HduKind::BinTable {
            continue;
        }
        let end = hdu.data_offset + hdu.data_len;
        let tail = bytes.get(end..next.max(end)).unwrap_or(&[]);
        hdu.extra_bytes = tail.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        if hdu.extra_bytes > 0 {
            let row_bytes = hdu.axes.first().copied().unwrap_or(0);
            let rows = hdu.axes.get(1).copied().unwrap_or(0);
            tracing::warn!(
                file = %path.display(),
                hdu = %hdu.label(),
                extra_bytes = hdu.extra_bytes,
                "{}: {}: {} bytes after its NAXIS2 = {rows} rows{} are not zero padding: \
                 the table may hold more rows than its header says. Only {rows} rows are read; \
                 check the file against the program that wrote it",
                path.display(),
                hdu.label(),
                hdu.extra_bytes,
                if row_bytes > 0 {
                    format!(
                        " ({row_bytes} bytes each: room for {} more)",
                        hdu.extra_bytes.div_ceil(row_bytes)
                    )
                } else {
                    String::new()
                },
            );
        }
    }
    Ok(hdus)
}

fn extname_of(header: &Header) -> Option<String> {
    let name = header.get_str("EXTNAME")?.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// Kind, axes and data size from the mandatory keywords (Sect. 4.4.1):
/// `|BITPIX| / 8 * GCOUNT * (PCOUNT + NAXIS1 * ... * NAXISn)` bytes.
/// Errors as (keyword, message).
fn layout(
    h: &Header,
    index: usize,
) -> std::result::Result<(HduKind, Vec<usize>, usize), (String, String)> {
    let int = |key: &str| -> std::result::Result<i64, (String, String)> {
        h.get_i64(key)
            .ok_or_else(|| (key.to_string(), "missing or not an integer".to_string()))
    };
    let bitpix = int("BITPIX")?;
    if ![8, 16, 32, 64, -32, -64].contains(&bitpix) {
        return Err((
            "BITPIX".into(),
            format!("{bitpix} is not one of 8, 16, 32, 64, -32, -64"),
        ));
    }
    let naxis = int("NAXIS")?;
    if !(0..=999).contains(&naxis) {
        return Err(("NAXIS".into(), format!("{naxis} is not in 0..=999")));
    }
    let mut axes = Vec::with_capacity(naxis as usize);
    for n in 1..=naxis {
        let key = format!("NAXIS{n}");
        let v = int(&key)?;
        axes.push(usize::try_from(v).map_err(|_| (key, format!("{v} is negative")))?);
    }
    let (pcount, gcount) = if index == 0 {
        (0, 1)
    } else {
        (
            h.get_i64("PCOUNT").unwrap_or(0),
            h.get_i64("GCOUNT").unwrap_or(1),
        )
    };
    let kind = if index == 0 {
        HduKind::Primary
    } else {
        match h.get_str("XTENSION").map(str::trim) {
            Some("IMAGE") | Some("IUEIMAGE") => HduKind::Image,
            Some("BINTABLE") | Some("A3DTABLE") => HduKind::BinTable,
            Some("TABLE") => HduKind::AsciiTable,
            _ => HduKind::Other,
        }
    };
    // Random groups (Sect. 6): NAXIS1 = 0 is not a real axis.
    let random_groups =
        index == 0 && h.get_bool("GROUPS") == Some(true) && axes.first() == Some(&0);
    let counted = if random_groups { &axes[1..] } else { &axes[..] };
    let too_big = || ("NAXIS".to_string(), "data size overflows".to_string());
    if axes.is_empty() {
        return Ok((kind, axes, 0));
    }
    let elements = counted
        .iter()
        .try_fold(1usize, |a, &n| a.checked_mul(n))
        .ok_or_else(too_big)?;
    let pcount =
        usize::try_from(pcount).map_err(|_| ("PCOUNT".to_string(), "is negative".to_string()))?;
    let gcount =
        usize::try_from(gcount).map_err(|_| ("GCOUNT".to_string(), "is negative".to_string()))?;
    let bytes = elements
        .checked_add(pcount)
        .and_then(|e| e.checked_mul(gcount))
        .and_then(|e| e.checked_mul(bitpix.unsigned_abs() as usize / 8))
        .ok_or_else(too_big)?;
    let kind = if random_groups { HduKind::Other } else { kind };
    Ok((kind, axes, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fits::{write_fits, ColumnData, ColumnOut, HduOut};

    /// A file of one binary table of `n` rows of one i64 (values 1..=n),
    /// then `NAXIS2` rewritten to `naxis2`, and `then` appended HDUs.
    fn table_file(dir: &Path, n: usize, naxis2: usize, then: bool) -> PathBuf {
        let path = dir.join(format!("t{n}-{naxis2}-{then}.fits"));
        let mut hdus = vec![
            HduOut::Primary { header: vec![] },
            HduOut::Table {
                extname: Some("ROWS".into()),
                header: vec![],
                columns: vec![ColumnOut::new(
                    "V",
                    ColumnData::I64((1..=n as i64).collect()),
                )],
            },
        ];
        if then {
            hdus.push(HduOut::Table {
                extname: Some("AFTER".into()),
                header: vec![],
                columns: vec![ColumnOut::new("W", ColumnData::I64(vec![7; 3]))],
            });
        }
        write_fits(&path, &hdus).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let at = (0..bytes.len() / CARD)
            .map(|i| i * CARD)
            .find(|&o| bytes[o..].starts_with(b"NAXIS2  ="))
            .unwrap();
        let card = format!("{:<8}= {:>20}", "NAXIS2", naxis2);
        bytes[at..at + CARD].copy_from_slice(format!("{card:<80}").as_bytes());
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn rows_beyond_naxis2_are_counted_as_extra_bytes() {
        let dir = tempfile::tempdir().unwrap();
        // Well-formed: nothing extra.
        let f = FitsFile::open(&table_file(dir.path(), 5, 5, true)).unwrap();
        assert_eq!(f.hdu("ROWS").unwrap().extra_bytes(), 0);
        // Two rows past NAXIS2 inside the padding block, another HDU after.
        let f = FitsFile::open(&table_file(dir.path(), 5, 3, true)).unwrap();
        let h = f.hdu("ROWS").unwrap();
        assert_eq!((h.nrows(), h.extra_bytes()), (Some(3), 16));
        assert_eq!(f.table("ROWS").unwrap().read_i64("V").unwrap(), [1, 2, 3]);
        assert_eq!(f.hdu("AFTER").unwrap().extra_bytes(), 0);
        // 400 rows written, 10 declared: the rows run past the padding
        // block to the end of the file (no XTENSION there, so no HDU).
        let f = FitsFile::open(&table_file(dir.path(), 400, 10, false)).unwrap();
        let h = f.hdu("ROWS").unwrap();
        assert_eq!((h.nrows(), h.extra_bytes()), (Some(10), 390 * 8));
        assert_eq!(f.hdus().len(), 2);
    }
}
