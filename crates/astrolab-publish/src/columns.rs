//! The column dictionary: name -> unit (a CDS unit string) and description.
//!
//! Units follow the CDS standard for units ("Standards for Astronomical
//! Catalogues", Sect. 3.2, <https://vizier.cds.unistra.fr/vizier/doc/catstd-3.2.htx>):
//! symbols such as `deg`, `km/s`, `Msun/yr`, a multiplier prefix (`mJy`),
//! exponents (`m2`, `s-1`), products with `.` and one `/`, a logarithm in
//! brackets (`[Msun]` is log10 of a mass in solar masses) and `---` for a
//! dimensionless value. astropy's `cds` unit parser reads exactly this form.
//!
//! Lookup is case-insensitive: first `EXTNAME.COLUMN` (a column whose
//! meaning depends on its table, e.g. `HOLES.Z`, a comoving coordinate,
//! against `Z`, a redshift), then `COLUMN`, then prefix entries written
//! `PREFIX*` (e.g. `VFLAG_*`). A `--columns FILE.toml` holds more entries:
//!
//! ```toml
//! [columns.MY_FLUX]
//! unit = "mW/m2"
//! description = "Integrated flux of the line"
//! ```
//!
//! Entries from files replace built-in ones of the same key.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{PublishError, Result};

/// The documentation of one column.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDoc {
    /// CDS unit (`---` for none).
    pub unit: String,
    /// One-line description (the CDS ReadMe's Explanations, FITS TCOMMn).
    pub description: String,
}

/// Name -> documentation.
#[derive(Debug, Clone, Default)]
pub struct Dictionary {
    /// Upper-case keys: `COLUMN`, `EXTNAME.COLUMN` or `PREFIX*`.
    entries: BTreeMap<String, (ColumnDoc, String)>,
}

/// (key, CDS unit, description) of the columns the lab's FITS table outputs
/// have: `voids publish` (GALAXY_DATA, VOID_PROPERTIES), `voids find` (VAST
/// VoidFinder layout: WALL, FIELD, MAXIMALS, HOLES) and store query
/// results (cone searches of the DESI redshift catalogs, FITS or CSV).
const BUILTIN: &[(&str, &str, &str)] = &[
    ("TARGETID", "---", "DESI unique target identifier"),
    ("ID", "---", "Object identifier in its source catalog"),
    ("FILE_ID", "---", "astrolab raw-file registry id of the source catalog file"),
    ("RA", "deg", "Right ascension (ICRS)"),
    ("DEC", "deg", "Declination (ICRS)"),
    ("Z", "---", "Redshift"),
    ("ZERR", "---", "Redshift uncertainty"),
    ("ZWARN", "---", "Redshift warning bitmask (0: no known problem)"),
    ("SPECTYPE", "---", "Spectral type from redrock (GALAXY, QSO, STAR)"),
    ("SURVEY", "---", "DESI survey (sv1, sv3, main, ...)"),
    ("PROGRAM", "---", "DESI program (dark, bright, ...)"),
    ("HEALPIX", "---", "Nested HEALPix pixel of the source file (nside 64)"),
    ("SEP_ARCSEC", "arcsec", "Angular separation from the search position"),
    // DESI redshift catalogs (zpix/zall, DESI DR1 data model), as the
    // store's cone and SQL queries return them (CSV outputs of query-cone).
    ("CHI2", "---", "Best-fit chi-squared of the redrock fit"),
    ("DELTACHI2", "---", "Chi-squared difference between the best and the second-best redrock fits"),
    ("SUBTYPE", "---", "Spectral subtype from redrock"),
    ("COADD_FIBERSTATUS", "---", "Bitwise OR of the fiber status bits of the coadded exposures"),
    ("DESI_TARGET", "---", "DESI dark-time targeting bitmask"),
    ("BGS_TARGET", "---", "Bright Galaxy Survey targeting bitmask"),
    ("MWS_TARGET", "---", "Milky Way Survey targeting bitmask"),
    ("SCND_TARGET", "---", "Secondary-program targeting bitmask"),
    ("ZCAT_PRIMARY", "---", "1 for the primary (best) spectrum of the target in the redshift catalog, else 0"),
    ("ZCAT_NSPEC", "---", "Number of spectra of the target in the redshift catalog"),
    ("TSNR2_*", "---", "Template signal-to-noise squared for the tracer named in the column"),
    ("HPX", "---", "Nested HEALPix index at order 29 of the position (astrolab's spatial index)"),
    ("LOGMSTAR", "[Msun]", "log10 of the stellar mass (FastSpecFit)"),
    ("SFR", "Msun/yr", "Star-formation rate (FastSpecFit)"),
    ("IS_VOID", "---", "1 if the galaxy is in a void under the catalog's algorithm (VOIDALG), else 0"),
    ("IS_CONTROL", "---", "1 if the galaxy is in the mass- and redshift-matched wall control sample, else 0"),
    ("VFLAG_*", "---", "Void membership under the algorithm named in the column: 0 wall, 1 void, 2 edge, 9 outside the survey, -1 not classified"),
    ("ALGORITHM", "---", "Void-finding algorithm"),
    ("CAP", "---", "Galactic cap of the void catalog (NGC or SGC)"),
    ("VOID", "---", "Void identifier within its catalog"),
    ("N_GALAXIES", "---", "Number of galaxies classified in the void"),
    ("R_VOID_NORM_MEAN", "---", "Mean distance of the void's galaxies from its centre, in units of its effective radius"),
    ("X", "Mpc", "Cartesian x coordinate, comoving, in h^-1 Mpc (h=1)"),
    ("Y", "Mpc", "Cartesian y coordinate, comoving, in h^-1 Mpc (h=1)"),
    ("WALL.Z", "Mpc", "Cartesian z coordinate, comoving, in h^-1 Mpc (h=1)"),
    ("FIELD.Z", "Mpc", "Cartesian z coordinate, comoving, in h^-1 Mpc (h=1)"),
    ("MAXIMALS.Z", "Mpc", "Cartesian z coordinate, comoving, in h^-1 Mpc (h=1)"),
    ("HOLES.Z", "Mpc", "Cartesian z coordinate, comoving, in h^-1 Mpc (h=1)"),
    ("RADIUS", "Mpc", "Sphere radius, comoving, in h^-1 Mpc (h=1)"),
    ("MAXIMALS.R", "Mpc", "Comoving distance of the void centre, in h^-1 Mpc (h=1)"),
    ("MAXIMALS.RA", "deg", "Right ascension of the void centre (ICRS)"),
    ("MAXIMALS.DEC", "deg", "Declination of the void centre (ICRS)"),
    ("MAXIMALS.VOID", "---", "Void identifier (VoidFinder)"),
    ("HOLES.VOID", "---", "Void the hole belongs to (VoidFinder's void identifier)"),
    ("EDGE", "---", "Edge flag: 0 interior, 1 a hole of the void crosses the survey mask, 2 near the mask edge"),
    ("FLAG", "---", "Void of the sphere (VoidFinder's void identifier, older VAST files)"),
];

impl Dictionary {
    /// The built-in dictionary (see [`BUILTIN`]'s list in the source).
    pub fn builtin() -> Self {
        let mut d = Dictionary::default();
        for (k, unit, desc) in BUILTIN {
            d.entries.insert(
                k.to_ascii_uppercase(),
                (
                    ColumnDoc {
                        unit: (*unit).to_string(),
                        description: (*desc).to_string(),
                    },
                    "the built-in column dictionary".to_string(),
                ),
            );
        }
        d
    }

    /// Adds the `[columns.NAME]` entries of a TOML file; each unit is
    /// checked ([`check_cds_unit`]).
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            columns: BTreeMap<String, ColumnDoc>,
        }
        let text = std::fs::read_to_string(path).map_err(PublishError::io(path))?;
        let file: File = toml::from_str(&text).map_err(|e| PublishError::ColumnsFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        for (k, doc) in file.columns {
            if doc.description.trim().is_empty() {
                return Err(PublishError::ColumnsFile {
                    path: path.to_path_buf(),
                    reason: format!("[columns.{k}] has an empty description"),
                });
            }
            check_cds_unit(&doc.unit).map_err(|reason| PublishError::BadUnit {
                origin: path.display().to_string(),
                column: k.clone(),
                unit: doc.unit.clone(),
                reason,
            })?;
            self.entries
                .insert(k.to_ascii_uppercase(), (doc, path.display().to_string()));
        }
        Ok(())
    }

    /// The documentation of `column` in table `extname`, and where it came
    /// from, or `None` when undocumented.
    pub fn get(&self, extname: &str, column: &str) -> Option<(&ColumnDoc, &str)> {
        let col = column.to_ascii_uppercase();
        let scoped = format!("{}.{col}", extname.to_ascii_uppercase());
        let hit = self
            .entries
            .get(&scoped)
            .or_else(|| self.entries.get(&col))
            .or_else(|| {
                // The longest matching prefix entry.
                self.entries
                    .iter()
                    .filter_map(|(k, v)| {
                        let p = k.strip_suffix('*')?;
                        (col.starts_with(p) && !p.contains('.')).then_some((p.len(), v))
                    })
                    .max_by_key(|(n, _)| *n)
                    .map(|(_, v)| v)
            })?;
        Some((&hit.0, hit.1.as_str()))
    }
}

/// Unit symbols of the CDS standard (Sect. 3.2, table of basic and derived
/// units) that the lab's tables may use.
const CDS_SYMBOLS: &[&str] = &[
    "m", "g", "s", "K", "A", "mol", "cd", "rad", "sr", "Hz", "N", "Pa", "J", "W", "C", "V", "Ohm",
    "S", "F", "Wb", "T", "H", "lm", "lx", "Bq", "deg", "arcmin", "arcsec", "mas", "uas", "h",
    "min", "d", "yr", "a", "Angstrom", "AU", "au", "pc", "ct", "pix", "ph", "eV", "erg", "Jy",
    "mag", "Msun", "Rsun", "Lsun", "Mjup", "Rjup", "Mgeo", "Rgeo", "barn", "D", "G", "%", "bit",
    "byte", "lyr", "solMass", "solRad", "solLum",
];

/// SI prefixes allowed before a symbol.
const PREFIXES: &[&str] = &[
    "da", "d", "c", "m", "u", "n", "p", "f", "a", "z", "y", "k", "M", "G", "T", "P", "E", "Z", "Y",
    "h",
];

/// A CDS numeric factor: `10-7`, `10+3`, `1.5`, `1.5x10-3`.
fn is_cds_factor(f: &str) -> bool {
    let number = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_digit() || c == '.')
            && s.matches('.').count() <= 1
    };
    let power = |s: &str| {
        s.strip_prefix("10")
            .and_then(|e| e.strip_prefix(['+', '-']))
            .is_some_and(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_digit()))
    };
    match f.split_once('x') {
        Some((m, p)) => number(m) && power(p),
        None => number(f) || power(f),
    }
}

/// Checks `unit` against the CDS unit syntax: `---`, or an optional
/// numeric factor (`10-7`, `1.5x10+3`) then symbols (with prefix and
/// integer exponent) joined by `.` and `/`, optionally wrapped in `[ ]` for
/// a log10 quantity. What it accepts, astropy's `cds` unit parser reads.
pub fn check_cds_unit(unit: &str) -> std::result::Result<(), String> {
    if unit == "---" {
        return Ok(());
    }
    if unit.is_empty() {
        return Err("empty; use --- for a dimensionless column".into());
    }
    if unit.contains(char::is_whitespace) {
        return Err("contains spaces; join symbols with '.'".into());
    }
    let inner = match unit.strip_prefix('[') {
        Some(r) => r.strip_suffix(']').ok_or("'[' without ']'")?,
        None => unit,
    };
    if inner.is_empty() {
        return Err("nothing inside [ ]".into());
    }
    // Numeric factor: digits, '.', 'e', '+', '-' up to the first letter.
    let start = inner
        .find(|c: char| c.is_ascii_alphabetic() || c == '%')
        .unwrap_or(inner.len());
    let (factor, rest) = inner.split_at(start);
    if !factor.is_empty() && !is_cds_factor(factor) {
        return Err(format!(
            "bad numeric factor {factor:?} (the CDS form is 10-7, 10+3 or 1.5x10-3)"
        ));
    }
    if rest.is_empty() {
        return if factor.is_empty() {
            Err("no unit symbol".into())
        } else {
            Ok(())
        };
    }
    for term in rest.split(['.', '/']) {
        let sym = term.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
        if sym.is_empty() {
            return Err(format!("empty term in {rest:?}"));
        }
        let known = CDS_SYMBOLS.contains(&sym)
            || PREFIXES.iter().any(|p| {
                sym.strip_prefix(p)
                    .is_some_and(|s| !s.is_empty() && CDS_SYMBOLS.contains(&s))
            });
        if !known {
            return Err(format!("unknown symbol {sym:?}"));
        }
    }
    Ok(())
}

/// The FITS form (TUNITn, FITS 4.0 Sect. 4.3) of a CDS unit: `None` for
/// `---`; solar units by their IAU names (`Msun` -> `solMass`); a log10
/// quantity `[X]` as `log(X)` (FITS 4.0 Table 6).
pub fn fits_unit(cds: &str) -> Option<String> {
    if cds == "---" {
        return None;
    }
    let map = |s: &str| {
        let mut out = String::new();
        let mut word = String::new();
        let flush = |w: &mut String, out: &mut String| {
            let core = w.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
            let exp = &w[core.len()..];
            let core = match core {
                "Msun" => "solMass",
                "Rsun" => "solRad",
                "Lsun" => "solLum",
                other => other,
            };
            out.push_str(core);
            out.push_str(exp);
            w.clear();
        };
        for c in s.chars() {
            if c == '.' || c == '/' {
                flush(&mut word, &mut out);
                out.push(c);
            } else {
                word.push(c);
            }
        }
        flush(&mut word, &mut out);
        out
    };
    Some(
        match cds.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            Some(inner) => format!("log({})", map(inner)),
            None => map(cds),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cds_units() {
        for ok in [
            "deg",
            "km/s",
            "[Msun]",
            "Msun/yr",
            "---",
            "Mpc",
            "mJy",
            "10-17W/m2/nm",
            "km/s/Mpc",
            "arcsec",
            "m.s-2",
            "[K]",
        ] {
            assert_eq!(check_cds_unit(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "km / s",
            "foo",
            "[Msun",
            "km/s/Mpc/x",
            "dex(Msun)",
            "1e-17W/m2",
        ] {
            assert!(check_cds_unit(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fits_forms() {
        assert_eq!(fits_unit("---"), None);
        assert_eq!(fits_unit("[Msun]").as_deref(), Some("log(solMass)"));
        assert_eq!(fits_unit("Msun/yr").as_deref(), Some("solMass/yr"));
        assert_eq!(fits_unit("km/s").as_deref(), Some("km/s"));
        assert_eq!(fits_unit("m.s-2").as_deref(), Some("m.s-2"));
    }

    #[test]
    fn builtin_units_are_cds_units_and_lookup_is_scoped() {
        for (k, unit, _) in BUILTIN {
            assert_eq!(check_cds_unit(unit), Ok(()), "{k}");
        }
        let d = Dictionary::builtin();
        assert_eq!(d.get("GALAXY_DATA", "z").unwrap().0.unit, "---");
        assert_eq!(d.get("HOLES", "Z").unwrap().0.unit, "Mpc");
        assert!(d
            .get("X", "VFLAG_VIDE")
            .unwrap()
            .0
            .description
            .contains("void"));
        assert!(d.get("X", "NOT_A_COLUMN").is_none());
    }

    #[test]
    fn columns_file_adds_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[columns.FOO]\nunit = \"km/s\"\ndescription = \"speed\"\n",
        )
        .unwrap();
        let mut d = Dictionary::builtin();
        d.add_file(&p).unwrap();
        assert_eq!(d.get("T", "foo").unwrap().0.unit, "km/s");
        std::fs::write(
            &p,
            "[columns.FOO]\nunit = \"furlongs\"\ndescription = \"x\"\n",
        )
        .unwrap();
        let e = Dictionary::builtin().add_file(&p).unwrap_err().to_string();
        assert!(e.contains("FOO") && e.contains("furlongs"), "{e}");
    }
}
