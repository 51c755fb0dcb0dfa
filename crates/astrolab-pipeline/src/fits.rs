//! Just enough FITS structure to locate header cards and data: the HDUs'
//! byte ranges and their header keywords, found by walking 2880-byte blocks
//! and seeking over the data (so a multi-gigabyte file costs a few reads).
//!
//! Used by volatile-field normalisation (blank a card's value) and by output
//! comparison (say "HDU 1, header card 12 `DATE`" rather than a bare offset).

use std::io::{self, Read, Seek, SeekFrom};

/// FITS logical record length: headers and data are padded to it.
pub const BLOCK: u64 = 2880;
/// A header card's length.
pub const CARD: u64 = 80;

/// One header-data unit's layout.
#[derive(Debug, Clone)]
pub struct Hdu {
    /// Offset of the header's first byte.
    pub start: u64,
    /// Header length, padded to whole blocks.
    pub header_len: u64,
    /// Data length without padding (from BITPIX, NAXISn, PCOUNT, GCOUNT).
    pub data_len: u64,
    /// Keyword (columns 1-8, trailing blanks removed) of every card up to
    /// and including END, in order.
    pub keywords: Vec<String>,
}

impl Hdu {
    /// Offset of the first data byte.
    pub fn data_start(&self) -> u64 {
        self.start + self.header_len
    }

    /// Offset just past this HDU (data padded to whole blocks).
    pub fn end(&self) -> u64 {
        self.data_start() + self.data_len.div_ceil(BLOCK) * BLOCK
    }
}

/// Why a FITS structure could not be walked.
#[derive(Debug)]
pub enum FitsError {
    /// Reading failed.
    Io(io::Error),
    /// The bytes are not FITS as the standard lays it out.
    Invalid {
        /// HDU index (0 = primary).
        hdu: usize,
        /// What is wrong.
        reason: String,
    },
}

impl From<io::Error> for FitsError {
    fn from(e: io::Error) -> Self {
        FitsError::Io(e)
    }
}

/// Whether `first` (a file's first bytes) starts like a FITS file.
pub fn looks_like_fits(first: &[u8]) -> bool {
    first.starts_with(b"SIMPLE  =")
}

/// Walks every HDU of a FITS stream of `len` bytes. Bytes after the last
/// complete HDU that do not start an extension (`XTENSION`) are left alone:
/// FITS allows special records there.
pub fn scan<R: Read + Seek>(r: &mut R, len: u64) -> Result<Vec<Hdu>, FitsError> {
    let mut hdus = Vec::new();
    let mut pos = 0u64;
    let mut block = [0u8; BLOCK as usize];
    while pos + BLOCK <= len {
        let index = hdus.len();
        r.seek(SeekFrom::Start(pos))?;
        r.read_exact(&mut block)?;
        let magic: &[u8] = if index == 0 {
            b"SIMPLE  ="
        } else {
            b"XTENSION="
        };
        if !block.starts_with(magic) {
            if index == 0 {
                return Err(invalid(0, "the file does not start with a SIMPLE card"));
            }
            break;
        }
        let hdu = read_header(r, &mut block, pos, len, index)?;
        pos = hdu.end();
        hdus.push(hdu);
    }
    if hdus.is_empty() {
        return Err(invalid(
            0,
            "the file is shorter than one 2880-byte header block",
        ));
    }
    Ok(hdus)
}

fn invalid(hdu: usize, reason: impl Into<String>) -> FitsError {
    FitsError::Invalid {
        hdu,
        reason: reason.into(),
    }
}

/// Reads one header whose first block is already in `block`.
fn read_header<R: Read>(
    r: &mut R,
    block: &mut [u8; BLOCK as usize],
    start: u64,
    len: u64,
    index: usize,
) -> Result<Hdu, FitsError> {
    let mut keywords = Vec::new();
    let mut values: Vec<(String, i64)> = Vec::new();
    let mut header_len = 0u64;
    loop {
        header_len += BLOCK;
        let mut ended = false;
        for card in block.chunks_exact(CARD as usize) {
            let kw = String::from_utf8_lossy(&card[..8]).trim_end().to_string();
            if matches!(kw.as_str(), "BITPIX" | "PCOUNT" | "GCOUNT" | "GROUPS")
                || kw.starts_with("NAXIS")
            {
                if let Some(v) = integer_value(card) {
                    values.push((kw.clone(), v));
                }
            }
            let end = kw == "END";
            keywords.push(kw);
            if end {
                ended = true;
                break;
            }
        }
        if ended {
            break;
        }
        if start + header_len + BLOCK > len {
            return Err(invalid(
                index,
                "the header has no END card before the end of the file",
            ));
        }
        r.read_exact(block)?;
    }
    let get = |k: &str| values.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    let bitpix = get("BITPIX").ok_or_else(|| invalid(index, "no integer BITPIX card"))?;
    if !matches!(bitpix, 8 | 16 | 32 | 64 | -32 | -64) {
        return Err(invalid(
            index,
            format!("BITPIX = {bitpix} is not a FITS value"),
        ));
    }
    let naxis = get("NAXIS").ok_or_else(|| invalid(index, "no integer NAXIS card"))?;
    if !(0..=999).contains(&naxis) {
        return Err(invalid(index, format!("NAXIS = {naxis} is out of range")));
    }
    let mut axes = Vec::with_capacity(naxis as usize);
    for i in 1..=naxis {
        let n = get(&format!("NAXIS{i}"))
            .ok_or_else(|| invalid(index, format!("no integer NAXIS{i} card")))?;
        if n < 0 {
            return Err(invalid(index, format!("NAXIS{i} = {n} is negative")));
        }
        axes.push(n as u64);
    }
    let pcount = get("PCOUNT").unwrap_or(0);
    let gcount = get("GCOUNT").unwrap_or(1);
    if pcount < 0 || gcount < 0 {
        return Err(invalid(index, "PCOUNT or GCOUNT is negative"));
    }
    // Random groups (primary HDU with NAXIS1 = 0) leave the first axis out
    // of the product; an HDU with no axes has no data at all.
    let elements = if axes.is_empty() {
        None
    } else if index == 0 && axes[0] == 0 && naxis > 1 {
        axes[1..].iter().try_fold(1u64, |a, &n| a.checked_mul(n))
    } else {
        axes.iter().try_fold(1u64, |a, &n| a.checked_mul(n))
    };
    let data_len = match elements {
        None if axes.is_empty() => Some(0),
        None => None,
        Some(e) => e
            .checked_add(pcount as u64)
            .and_then(|v| v.checked_mul(gcount as u64))
            .and_then(|v| v.checked_mul(bitpix.unsigned_abs() / 8)),
    }
    .ok_or_else(|| invalid(index, "the data size overflows 64 bits"))?;
    let hdu = Hdu {
        start,
        header_len,
        data_len,
        keywords,
    };
    if hdu.data_start() + data_len > len {
        return Err(invalid(
            index,
            format!(
                "the header announces {data_len} data bytes but the file ends {} bytes after the header (truncated?)",
                len - hdu.data_start()
            ),
        ));
    }
    Ok(hdu)
}

/// The integer value of a fixed-format card, if it has one.
fn integer_value(card: &[u8]) -> Option<i64> {
    if &card[8..10] != b"= " {
        return None;
    }
    let text = std::str::from_utf8(&card[10..]).ok()?;
    let text = text.split('/').next()?.trim();
    text.parse().ok()
}

/// Byte ranges (start, end) of the value field (columns 11-80) of every card
/// named `keyword` in HDU `hdu`.
pub fn value_ranges(hdus: &[Hdu], hdu: usize, keyword: &str) -> Vec<(u64, u64)> {
    let Some(h) = hdus.get(hdu) else {
        return Vec::new();
    };
    let keyword = keyword.trim_end().to_ascii_uppercase();
    h.keywords
        .iter()
        .enumerate()
        .filter(|(_, k)| **k == keyword)
        .map(|(i, _)| {
            let card = h.start + i as u64 * CARD;
            (card + 10, card + CARD)
        })
        .collect()
}

/// Human description of where `offset` falls: HDU, header card or data byte.
pub fn locate(hdus: &[Hdu], offset: u64) -> String {
    for (i, h) in hdus.iter().enumerate() {
        if offset < h.start || offset >= h.end() {
            continue;
        }
        let name = if i == 0 { " (primary)" } else { "" };
        let rel = offset - h.start;
        if rel < h.header_len {
            let card = rel / CARD;
            let column = rel % CARD + 1;
            return match h.keywords.get(card as usize) {
                Some(k) => format!(
                    "HDU {i}{name}, header card {} `{k}`, column {column}",
                    card + 1
                ),
                None => format!("HDU {i}{name}, header padding after END"),
            };
        }
        let d = offset - h.data_start();
        return if d < h.data_len {
            format!("HDU {i}{name}, data byte {d}")
        } else {
            format!("HDU {i}{name}, padding after the data")
        };
    }
    "after the last HDU".to_string()
}
