//! Zenodo deposit metadata (`zenodo.json`), in the legacy REST API's form
//! (Zenodo developers' documentation, "Deposit metadata",
//! <https://developers.zenodo.org/#representation>): `{"metadata": {...}}`
//! with upload_type, title, creators, description, access_right, license,
//! version, publication_date, keywords and related_identifiers, ready to
//! `PUT /api/deposit/depositions/:id`.
//!
//! `version` is a field of the API's metadata loader
//! (`CommonMetadataSchemaV1.version` in zenodo/zenodo) that the legacy
//! JSON schema (`legacyrecord.json`) does not list; the test validates
//! against that schema with this one field added, and says so.

use serde_json::{json, Value};

/// One creator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creator {
    /// "Family, Given".
    pub name: String,
    /// Affiliation, if known.
    pub affiliation: Option<String>,
    /// ORCID iD (`0000-0002-1825-0097`), if known.
    pub orcid: Option<String>,
}

/// What goes into the deposit.
#[derive(Debug, Clone)]
pub struct Deposit<'a> {
    /// Title.
    pub title: &'a str,
    /// Creators, in order.
    pub creators: &'a [Creator],
    /// Description (HTML allowed by Zenodo; we write plain text).
    pub description: &'a str,
    /// Licence id (Zenodo's vocabulary, e.g. `cc-by-4.0`).
    pub license: &'a str,
    /// Release version.
    pub version: &'a str,
    /// Publication date, YYYY-MM-DD.
    pub date: &'a str,
    /// Keywords.
    pub keywords: &'a [String],
    /// URLs the release is derived from (the run's inputs when they are
    /// URLs) or documented by.
    pub related_urls: &'a [(String, &'a str)],
}

/// The deposit metadata document.
pub fn deposit_json(d: &Deposit<'_>) -> Value {
    let creators: Vec<Value> = d
        .creators
        .iter()
        .map(|c| {
            let mut o = serde_json::Map::new();
            o.insert("name".into(), json!(c.name));
            if let Some(a) = &c.affiliation {
                o.insert("affiliation".into(), json!(a));
            }
            if let Some(id) = &c.orcid {
                o.insert("orcid".into(), json!(id));
            }
            Value::Object(o)
        })
        .collect();
    let mut m = json!({
        "upload_type": "dataset",
        "title": d.title,
        "creators": creators,
        "description": d.description,
        "access_right": "open",
        "license": d.license,
        "version": d.version,
        "publication_date": d.date,
        "keywords": d.keywords,
    });
    if !d.related_urls.is_empty() {
        m["related_identifiers"] = Value::Array(
            d.related_urls
                .iter()
                .map(|(u, rel)| json!({"identifier": u, "relation": rel, "scheme": "url"}))
                .collect(),
        );
    }
    json!({ "metadata": m })
}

/// Checks an ORCID iD's form and ISO 7064 11,2 check digit (ORCID's
/// "Structure of the ORCID Identifier").
pub fn check_orcid(id: &str) -> Result<(), String> {
    let digits: Vec<char> = id.chars().filter(|&c| c != '-').collect();
    if id.len() != 19 || digits.len() != 16 || id.split('-').count() != 4 {
        return Err(format!("{id:?} is not of the form 0000-0002-1825-0097"));
    }
    let mut total = 0u32;
    for c in &digits[..15] {
        let d = c
            .to_digit(10)
            .ok_or_else(|| format!("{id:?}: {c:?} is not a digit"))?;
        total = (total + d) * 2;
    }
    let check = (12 - total % 11) % 11;
    let want = if check == 10 {
        'X'
    } else {
        char::from_digit(check, 10).unwrap_or('?')
    };
    if digits[15] != want {
        return Err(format!("{id:?}: check digit should be {want}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orcid_check_digit() {
        assert_eq!(check_orcid("0000-0002-1825-0097"), Ok(()));
        assert_eq!(check_orcid("0000-0001-5109-3700"), Ok(()));
        assert!(check_orcid("0000-0002-1825-0098").is_err());
        assert!(check_orcid("12345").is_err());
    }
}
