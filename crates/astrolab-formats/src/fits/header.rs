//! Header keyword records (Sect. 4.1-4.2): parsing and formatting.

use super::{BLOCK, CARD};

/// The value of a header keyword (Sect. 4.2).
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderValue {
    /// A character string: `''` unescaped, trailing spaces dropped, `CONTINUE`
    /// records joined.
    Str(String),
    /// An integer that fits in `i64`. Larger integers (e.g. `TZERO =
    /// 9223372036854775808`) are read as [`HeaderValue::Float`], which holds
    /// 2^63 exactly.
    Int(i64),
    /// A real value (`D` exponents accepted).
    Float(f64),
    /// A logical `T` or `F`.
    Bool(bool),
    /// No value: `COMMENT`, `HISTORY`, blank keys, or an undefined value.
    None,
}

/// One keyword record: key, value and optional comment.
///
/// For `COMMENT` and `HISTORY` records the text is the `comment`, and the
/// value is [`HeaderValue::None`].
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub key: String,
    pub value: HeaderValue,
    pub comment: Option<String>,
}

impl Card {
    /// A card; the key is upper-cased (FITS keys are upper case, Sect. 4.1.2.1).
    pub fn new(key: &str, value: HeaderValue, comment: Option<&str>) -> Card {
        Card {
            key: key.to_ascii_uppercase(),
            value,
            comment: comment.map(str::to_string),
        }
    }
    /// A string-valued card without comment.
    pub fn str(key: &str, value: &str) -> Card {
        Card::new(key, HeaderValue::Str(value.to_string()), None)
    }
    /// An integer-valued card without comment.
    pub fn int(key: &str, value: i64) -> Card {
        Card::new(key, HeaderValue::Int(value), None)
    }
    /// A real-valued card without comment (must be finite to be written).
    pub fn float(key: &str, value: f64) -> Card {
        Card::new(key, HeaderValue::Float(value), None)
    }
    /// A logical card without comment.
    pub fn bool(key: &str, value: bool) -> Card {
        Card::new(key, HeaderValue::Bool(value), None)
    }
    /// A `COMMENT` record (long text is split over several records on write).
    pub fn comment(text: &str) -> Card {
        Card::new("COMMENT", HeaderValue::None, Some(text))
    }
    /// A `HISTORY` record.
    pub fn history(text: &str) -> Card {
        Card::new("HISTORY", HeaderValue::None, Some(text))
    }
    /// The same card with a comment.
    pub fn with_comment(mut self, comment: &str) -> Card {
        self.comment = Some(comment.to_string());
        self
    }
}

/// An HDU header: its cards in file order, without the `END` card.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    cards: Vec<Card>,
}

impl Header {
    /// All cards in file order (`CONTINUE` records already joined).
    pub fn cards(&self) -> &[Card] {
        &self.cards
    }
    /// The value of the first card with this key (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&HeaderValue> {
        self.cards
            .iter()
            .find(|c| c.key.eq_ignore_ascii_case(key))
            .map(|c| &c.value)
    }
    /// A string value; `None` if missing or not a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            HeaderValue::Str(s) => Some(s),
            _ => None,
        }
    }
    /// An integer value; `None` if missing or not an integer.
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            HeaderValue::Int(i) => Some(*i),
            _ => None,
        }
    }
    /// A real value; integers convert. `None` if missing or not a number.
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            HeaderValue::Int(i) => Some(*i as f64),
            HeaderValue::Float(f) => Some(*f),
            _ => None,
        }
    }
    /// A logical value; `None` if missing or not logical.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            HeaderValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// Parses a header starting at `data[0]`.
///
/// Returns the header and the bytes it occupies (whole blocks, `END`
/// included), or, when `data` ends before the `END` card, `Err` with the
/// cards read so far (so a truncation error can still name the EXTNAME).
pub(crate) fn parse_header(data: &[u8]) -> std::result::Result<(Header, usize), Header> {
    let mut cards: Vec<Card> = Vec::new();
    for (i, raw) in data.chunks_exact(CARD).enumerate() {
        let key_field = String::from_utf8_lossy(&raw[..8]);
        let key = key_field.trim_end();
        if key == "END" {
            let used = (i + 1) * CARD;
            return Ok((Header { cards }, used.div_ceil(BLOCK) * BLOCK));
        }
        let text = String::from_utf8_lossy(&raw[8..]);
        if key == "CONTINUE" {
            if let Some(piece) = continued_piece(&text) {
                // Long-string convention: the previous string ends in '&'.
                if let Some(HeaderValue::Str(prev)) = cards.last_mut().map(|c| &mut c.value) {
                    if let Some(stem) = prev.strip_suffix('&') {
                        let stem_len = stem.len();
                        prev.truncate(stem_len);
                        prev.push_str(&piece);
                        continue;
                    }
                }
            }
        }
        cards.push(parse_card(key, &text));
    }
    Err(Header { cards })
}

/// The string in a `CONTINUE` record, if it holds one.
fn continued_piece(text: &str) -> Option<String> {
    // Bytes 9-10 are spaces; the quoted string follows.
    match parse_value(text.get(2..)?) {
        (HeaderValue::Str(s), _) => Some(s),
        _ => None,
    }
}

/// One record given its key (bytes 1-8, trimmed) and bytes 9-80.
fn parse_card(key: &str, text: &str) -> Card {
    let commentary = matches!(key, "COMMENT" | "HISTORY" | "");
    if key == "HIERARCH" {
        // ESO convention: `HIERARCH ESO DET CHIP = value / comment`.
        if let Some((name, rest)) = text.split_once('=') {
            let (value, comment) = parse_value(rest);
            return Card {
                key: name.trim().to_string(),
                value,
                comment,
            };
        }
    }
    // The value indicator is `= ` in bytes 9-10; some writers omit the space.
    if let Some(rest) = text.strip_prefix('=').filter(|_| !commentary) {
        let (value, comment) = parse_value(rest);
        return Card {
            key: key.to_string(),
            value,
            comment,
        };
    }
    // Commentary record: COMMENT, HISTORY, blank key, or no value indicator.
    let body = text.trim_end();
    Card {
        key: key.to_string(),
        value: HeaderValue::None,
        comment: (!body.is_empty()).then(|| body.to_string()),
    }
}

/// Parses the value field (after `=`) into a value and its comment.
///
/// Lenient: a value that is none of string, logical, integer or real (e.g. a
/// complex `(1.0, 2.0)`) is kept as a string of its raw text, so one odd
/// keyword does not make a whole file unreadable.
fn parse_value(field: &str) -> (HeaderValue, Option<String>) {
    let t = field.trim_start();
    if let Some(body) = t.strip_prefix('\'') {
        let mut s = String::new();
        let mut chars = body.char_indices().peekable();
        let mut after = body.len();
        while let Some((i, c)) = chars.next() {
            if c != '\'' {
                s.push(c);
            } else if matches!(chars.peek(), Some((_, '\''))) {
                chars.next();
                s.push('\'');
            } else {
                after = i + 1;
                break;
            }
        }
        // Leading spaces are significant, trailing ones are not (Sect. 4.2.1).
        let s = s.trim_end().to_string();
        return (HeaderValue::Str(s), comment_of(&body[after..]));
    }
    let (v, comment) = match t.split_once('/') {
        Some((v, c)) => (v.trim(), comment_text(c)),
        None => (t.trim(), None),
    };
    let value = if v.is_empty() {
        HeaderValue::None
    } else if v == "T" {
        HeaderValue::Bool(true)
    } else if v == "F" {
        HeaderValue::Bool(false)
    } else if let Ok(i) = v.parse::<i64>() {
        HeaderValue::Int(i)
    } else if let Ok(f) = v.replace(['D', 'd'], "E").parse::<f64>() {
        HeaderValue::Float(f)
    } else {
        HeaderValue::Str(v.to_string())
    };
    (value, comment)
}

/// The comment after a string value: `   / text`.
fn comment_of(rest: &str) -> Option<String> {
    rest.trim_start().strip_prefix('/').and_then(comment_text)
}

fn comment_text(c: &str) -> Option<String> {
    let c = c.trim();
    (!c.is_empty()).then(|| c.to_string())
}

// ---------------------------------------------------------------- writing

/// One 80-byte record from already formatted parts.
///
/// `value` goes in bytes 11-80 (after `= `); `None` makes a commentary record
/// whose text starts in byte 9. Text past byte 80 is cut (comments only: the
/// callers keep values within the record).
pub(crate) fn record(key: &str, value: Option<&str>, comment: Option<&str>) -> [u8; CARD] {
    let mut line = format!("{key:<8}");
    match value {
        Some(v) => {
            line.push_str("= ");
            line.push_str(v);
            if let Some(c) = comment {
                line.push_str(" / ");
                line.push_str(c);
            }
        }
        None => line.push_str(comment.unwrap_or("")),
    }
    let mut rec = [b' '; CARD];
    for (dst, src) in rec.iter_mut().zip(line.bytes()) {
        *dst = src;
    }
    rec
}

/// Formats a real value so that it reads back as the same `f64`.
pub(crate) fn format_float(x: f64) -> Option<String> {
    if !x.is_finite() {
        return None;
    }
    // `{:?}` is the shortest representation that round-trips ("1e-7",
    // "0.1"); FITS wants an upper-case exponent and a decimal point.
    let s = format!("{x:?}").replace('e', "E");
    Some(match s.find('E') {
        Some(i) if !s[..i].contains('.') => format!("{}.0{}", &s[..i], &s[i..]),
        _ => s,
    })
}

/// Formats one card into one or more records.
///
/// Errors (as a message) on keys that are not 1-8 characters of `A-Z 0-9 - _`,
/// text outside printable ASCII, and non-finite reals.
pub(crate) fn format_card(card: &Card) -> std::result::Result<Vec<[u8; CARD]>, String> {
    let key = card.key.to_ascii_uppercase();
    let key_ok = key.len() <= 8
        && key
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !key_ok {
        return Err(format!(
            "key '{}' is not 1-8 characters of A-Z, 0-9, '-', '_'",
            card.key
        ));
    }
    let printable = |s: &str| s.bytes().all(|b| (32..=126).contains(&b));
    let comment = card.comment.as_deref();
    if let Some(c) = comment {
        if !printable(c) {
            return Err(format!("comment of {key} is not printable ASCII"));
        }
    }
    let commentary = matches!(key.as_str(), "COMMENT" | "HISTORY" | "");
    let value = match &card.value {
        HeaderValue::None if commentary => {
            // 72 characters of text per record; long text continues on the next.
            let text = comment.unwrap_or("");
            let chars: Vec<char> = text.chars().collect();
            let pieces: Vec<String> = if chars.is_empty() {
                vec![String::new()]
            } else {
                chars.chunks(72).map(|c| c.iter().collect()).collect()
            };
            return Ok(pieces.iter().map(|p| record(&key, None, Some(p))).collect());
        }
        HeaderValue::None => String::new(),
        HeaderValue::Int(i) => format!("{i:>20}"),
        HeaderValue::Bool(b) => format!("{:>20}", if *b { "T" } else { "F" }),
        HeaderValue::Float(f) => {
            let s = format_float(*f).ok_or_else(|| format!("{key} = {f} is not finite"))?;
            format!("{s:>20}")
        }
        HeaderValue::Str(s) => {
            if !printable(s) {
                return Err(format!("value of {key} is not printable ASCII"));
            }
            return Ok(string_records(&key, s, comment));
        }
    };
    Ok(vec![record(&key, Some(&value), comment)])
}

/// A string card, over `CONTINUE` records when longer than one record holds.
fn string_records(key: &str, s: &str, comment: Option<&str>) -> Vec<[u8; CARD]> {
    let escaped = s.replace('\'', "''");
    if escaped.len() <= 68 {
        // Pad to 8 characters inside the quotes, as older readers expect.
        return vec![record(key, Some(&format!("'{escaped:<8}'")), comment)];
    }
    // Split the unescaped text so no `''` pair is cut, each piece plus its
    // '&' within the 67 characters a record holds between quotes.
    let mut pieces: Vec<String> = vec![String::new()];
    for ch in s.chars() {
        let add = if ch == '\'' { 2 } else { 1 };
        let last = pieces.last().map_or(0, |p| p.len());
        if last + add > 67 {
            pieces.push(String::new());
        }
        if let Some(p) = pieces.last_mut() {
            if ch == '\'' {
                p.push_str("''");
            } else {
                p.push(ch);
            }
        }
    }
    let n = pieces.len();
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let amp = if i + 1 < n { "&" } else { "" };
            let quoted = format!("'{p}{amp}'");
            if i == 0 {
                record(key, Some(&quoted), None)
            } else {
                let c = if i + 1 == n { comment } else { None };
                // CONTINUE has no value indicator: the string starts in byte 11.
                let mut text = format!("  {quoted}");
                if let Some(c) = c {
                    text.push_str(" / ");
                    text.push_str(c);
                }
                record("CONTINUE", None, Some(&text))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(cards: &[&str]) -> Header {
        let mut bytes = Vec::new();
        for c in cards.iter().chain(std::iter::once(&"END")) {
            bytes.extend_from_slice(format!("{c:<80}").as_bytes());
        }
        bytes.resize(BLOCK, b' ');
        let (h, used) = parse_header(&bytes).expect("END present");
        assert_eq!(used, BLOCK);
        h
    }

    #[test]
    fn parses_values_and_comments() {
        let h = header_of(&[
            "SIMPLE  =                    T / conforms",
            "NAXIS   =                    0",
            "BZERO   =           2147483648",
            "TZERO1  =  9223372036854775808",
            "EXPTIME =              1.5D+02 / seconds",
            "OBSERVER= 'O''Hara  '           / who",
            "EMPTY   = ''",
            "UNDEF   =                      / no value",
            "COMMENT   some words",
            "HISTORY written by hand",
        ]);
        assert_eq!(h.get_bool("simple"), Some(true));
        assert_eq!(h.get_i64("NAXIS"), Some(0));
        assert_eq!(h.get_i64("BZERO"), Some(2147483648));
        assert_eq!(h.get_f64("TZERO1"), Some(9223372036854775808.0));
        assert_eq!(h.get_f64("EXPTIME"), Some(150.0));
        assert_eq!(h.get_str("OBSERVER"), Some("O'Hara"));
        assert_eq!(h.cards()[5].comment.as_deref(), Some("who"));
        assert_eq!(h.get_str("EMPTY"), Some(""));
        assert_eq!(h.get("UNDEF"), Some(&HeaderValue::None));
        assert_eq!(h.cards()[8].key, "COMMENT");
        assert_eq!(h.cards()[8].comment.as_deref(), Some("  some words"));
        assert_eq!(h.get("MISSING"), None);
    }

    #[test]
    fn joins_continue_strings() {
        let h = header_of(&[
            "LONG    = 'abc&'  / first",
            "CONTINUE  'def&'",
            "CONTINUE  'gh'",
            "NEXT    = 'x&'",
            "COMMENT not a continuation",
        ]);
        assert_eq!(h.get_str("LONG"), Some("abcdefgh"));
        assert_eq!(h.get_str("NEXT"), Some("x&"));
        assert_eq!(h.cards().len(), 3);
    }

    #[test]
    fn missing_end_is_none() {
        assert!(parse_header(&[b' '; BLOCK]).is_err());
    }

    #[test]
    fn long_strings_round_trip() {
        let long: String = (0..200)
            .map(|i| if i % 37 == 0 { '\'' } else { 'a' })
            .collect();
        let recs = format_card(&Card::str("LONGSTR", &long).with_comment("c")).unwrap();
        assert!(recs.len() > 2);
        let cards: Vec<String> = recs
            .iter()
            .map(|r| String::from_utf8(r.to_vec()).unwrap())
            .collect();
        let refs: Vec<&str> = cards.iter().map(|s| s.as_str()).collect();
        let h = header_of(&refs);
        assert_eq!(h.get_str("LONGSTR"), Some(long.as_str()));
    }

    #[test]
    fn floats_round_trip_and_reject_nan() {
        for x in [
            0.1,
            -1e-7,
            1e300,
            2.5,
            9223372036854775808.0,
            f64::MIN_POSITIVE,
        ] {
            let s = format_float(x).unwrap();
            assert!(s.contains('.'), "{s}");
            assert_eq!(s.parse::<f64>().unwrap(), x);
        }
        assert!(format_card(&Card::float("X", f64::NAN)).is_err());
        assert!(format_card(&Card::int("TOOLONGKEY", 1)).is_err());
    }
}
