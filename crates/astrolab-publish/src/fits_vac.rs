//! The lab's value-added-catalog (VAC) FITS form: a PRIMARY header with
//! AUTHOR, DATE, VAC_VERS and the versions of the inputs, then one BINTABLE
//! per table whose columns carry TUNITn (FITS 4.0 Sect. 4.3 units) and
//! TCOMMn (the column's description; HEASARC's TCOMMn convention, as in
//! DESI's VACs). `voids publish` builds its header with [`vac_primary_cards`]
//! too, so every catalog the lab publishes starts the same way.

use std::path::Path;

use astrolab_formats::fits::{write_fits, Card, ColumnData, ColumnOut, HduOut};

use crate::columns::{fits_unit, ColumnDoc};
use crate::error::{PublishError, Result};
use crate::table::{IntKind, Table, Values};

/// What every VAC's primary header says.
#[derive(Debug, Clone, PartialEq)]
pub struct VacHeader {
    /// AUTHOR.
    pub author: String,
    /// DATE of the catalog (YYYY-MM-DD, UTC).
    pub date: String,
    /// VAC_VERS.
    pub vac_version: String,
    /// Versions of the inputs as (keyword, value, comment), e.g.
    /// `("FSF_VERS", "v3.0", "FastSpecFit version")`.
    pub input_versions: Vec<(String, String, String)>,
    /// Further cards, after the versions (e.g. VOIDALG).
    pub extra: Vec<Card>,
}

/// The primary header's cards: AUTHOR, DATE, VAC_VERS, the input versions,
/// the extra cards and ORIGIN (`astrolab VERSION`), in that order.
pub fn vac_primary_cards(h: &VacHeader) -> Vec<Card> {
    let mut cards = vec![
        Card::str("AUTHOR", &h.author).with_comment("Author of the catalog"),
        Card::str("DATE", &h.date).with_comment("Date of the catalog (UTC)"),
        Card::str("VAC_VERS", &h.vac_version).with_comment("Catalog version"),
    ];
    for (k, v, c) in &h.input_versions {
        cards.push(Card::str(k, v).with_comment(c));
    }
    cards.extend(h.extra.iter().cloned());
    cards.push(Card::str(
        "ORIGIN",
        &format!("astrolab {}", env!("CARGO_PKG_VERSION")),
    ));
    cards
}

/// A table's columns as FITS columns with the dictionary's units, and the
/// TCOMMn/TNULLn cards that go with them.
pub fn table_hdu(table: &Table, docs: &[ColumnDoc]) -> Result<HduOut> {
    let mut columns = Vec::with_capacity(table.columns.len());
    let mut header = Vec::new();
    for (i, (c, doc)) in table.columns.iter().zip(docs).enumerate() {
        let n = i + 1;
        let (data, tnull) = column_data(table, &c.name, &c.values)?;
        let mut col = ColumnOut::new(c.name.clone(), data);
        if let Some(u) = fits_unit(&doc.unit) {
            col = col.with_unit(&u);
        }
        columns.push(col);
        header.push(Card::str(&format!("TCOMM{n}"), &doc.description));
        if let Some(t) = tnull {
            header.push(Card::int(&format!("TNULL{n}"), t));
        }
    }
    Ok(HduOut::Table {
        extname: Some(table.name.to_ascii_uppercase()),
        header,
        columns,
    })
}

fn column_data(table: &Table, name: &str, v: &Values) -> Result<(ColumnData, Option<i64>)> {
    Ok(match v {
        Values::Bool(b) => {
            if let Some(row) = b.iter().position(Option::is_none) {
                return Err(PublishError::Unsupported {
                    file: table.file.clone(),
                    hdu: table.hdu.clone(),
                    column: name.to_string(),
                    reason: format!(
                        "row {row} is a null logical; publish 0/1 integers with a TNULL instead"
                    ),
                });
            }
            (
                ColumnData::Bool(b.iter().map(|b| b.unwrap_or(false)).collect()),
                None,
            )
        }
        Values::Int { kind, values } => {
            let has_null = values.iter().any(Option::is_none);
            // The sentinel for nulls: the type's most negative value (255 for bytes).
            let (sentinel, data): (i64, ColumnData) = match kind {
                IntKind::U8 => (
                    255,
                    ColumnData::U8(values.iter().map(|v| v.unwrap_or(255) as u8).collect()),
                ),
                IntKind::I16 => (
                    i64::from(i16::MIN),
                    ColumnData::I16(
                        values
                            .iter()
                            .map(|v| v.unwrap_or(i64::from(i16::MIN)) as i16)
                            .collect(),
                    ),
                ),
                IntKind::I32 => (
                    i64::from(i32::MIN),
                    ColumnData::I32(
                        values
                            .iter()
                            .map(|v| v.unwrap_or(i64::from(i32::MIN)) as i32)
                            .collect(),
                    ),
                ),
                IntKind::U32 => (
                    i64::from(u32::MAX),
                    ColumnData::U32(
                        values
                            .iter()
                            .map(|v| v.unwrap_or(i64::from(u32::MAX)) as u32)
                            .collect(),
                    ),
                ),
                IntKind::I64 => (
                    i64::MIN,
                    ColumnData::I64(values.iter().map(|v| v.unwrap_or(i64::MIN)).collect()),
                ),
            };
            // TNULL is the stored value: unsigned columns store v - TZERO.
            let stored = match kind {
                IntKind::U32 => sentinel - 2_147_483_648,
                _ => sentinel,
            };
            (data, has_null.then_some(stored))
        }
        Values::U64(v) => (ColumnData::U64(v.clone()), None),
        Values::F32(v) => (ColumnData::F32(v.clone()), None),
        Values::F64(v) => (ColumnData::F64(v.clone()), None),
        Values::Str { width, values } => (
            ColumnData::Str {
                width: *width,
                values: values.clone(),
            },
            None,
        ),
    })
}

/// Writes the VAC catalog: `primary` cards, then one BINTABLE per table
/// (EXTNAME = the table's name in upper case). Atomic (temporary name,
/// then rename).
pub fn write_catalog(
    path: &Path,
    primary: Vec<Card>,
    tables: &[(Table, Vec<ColumnDoc>)],
) -> Result<()> {
    let mut hdus = vec![HduOut::Primary { header: primary }];
    for (t, docs) in tables {
        hdus.push(table_hdu(t, docs)?);
    }
    write_fits(path, &hdus).map_err(|e| PublishError::Fits {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_cards_in_order() {
        let cards = vac_primary_cards(&VacHeader {
            author: "Lab".into(),
            date: "2026-11-22".into(),
            vac_version: "1.0".into(),
            input_versions: vec![(
                "FSF_VERS".into(),
                "v3.0".into(),
                "FastSpecFit version".into(),
            )],
            extra: vec![Card::str("VOIDALG", "VoidFinder")],
        });
        let keys: Vec<&str> = cards.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            ["AUTHOR", "DATE", "VAC_VERS", "FSF_VERS", "VOIDALG", "ORIGIN"]
        );
    }
}
