//! Where DESI healpix files live, relative to a release root (the mirror).
//!
//! Data shapes in one place: the release table, the directory templates and
//! the per-kind file templates below are the only statement of the layout
//! (DESI data model, `spectro/redux/SPECPROD/healpix/`); the fetcher, the
//! listings and the tests all go through them.

use std::fmt;
use std::str::FromStr;

use crate::FetchError;

/// Public data releases and their spectroscopic production (`specprod`).
pub const RELEASES: &[(&str, &str)] = &[("edr", "fuji"), ("dr1", "iron")];

/// Directory holding every pixel group of one survey and program.
const HEALPIX_DIR: &str = "spectro/redux/{specprod}/healpix/{survey}/{program}";
/// One pixel's directory under [`HEALPIX_DIR`]; `{group}` is `pix / 100`.
const PIXEL_DIR: &str = "{group}/{pix}";
/// The checksum file DESI publishes in each pixel directory
/// (`sha256sum` format: `HEX  FILENAME` lines).
const CHECKSUM_FILE: &str = "{survey}-{program}-{pix}.sha256sum";
/// The files of each kind in a pixel directory.
const KIND_FILES: &[(Kind, &str, &str)] = &[
    (Kind::Coadd, "coadd", "coadd-{survey}-{program}-{pix}.fits"),
    (
        Kind::Redrock,
        "redrock",
        "redrock-{survey}-{program}-{pix}.fits",
    ),
];

/// A kind of per-pixel file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Coadded spectra (`coadd-*.fits`).
    Coadd,
    /// Redrock redshift fits (`redrock-*.fits`).
    Redrock,
}

impl Kind {
    /// Every kind, in table order.
    pub fn all() -> Vec<Kind> {
        KIND_FILES.iter().map(|(k, _, _)| *k).collect()
    }

    /// The name used on the command line (`coadd`, `redrock`).
    pub fn name(self) -> &'static str {
        KIND_FILES
            .iter()
            .find(|(k, _, _)| *k == self)
            .map(|(_, n, _)| *n)
            .unwrap_or("?")
    }

    fn template(self) -> &'static str {
        KIND_FILES
            .iter()
            .find(|(k, _, _)| *k == self)
            .map(|(_, _, t)| *t)
            .unwrap_or("")
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = FetchError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KIND_FILES
            .iter()
            .find(|(_, n, _)| *n == s)
            .map(|(k, _, _)| *k)
            .ok_or_else(|| {
                let names: Vec<&str> = KIND_FILES.iter().map(|(_, n, _)| *n).collect();
                FetchError::Plan(format!(
                    "unknown file kind '{s}' (known: {})",
                    names.join(", ")
                ))
            })
    }
}

/// A DESI data release, e.g. `dr1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    name: &'static str,
    specprod: &'static str,
}

impl Release {
    /// The release name (`dr1`).
    pub fn name(&self) -> &'static str {
        self.name
    }
    /// Its spectroscopic production (`iron` for dr1).
    pub fn specprod(&self) -> &'static str {
        self.specprod
    }
}

impl FromStr for Release {
    type Err = FetchError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        RELEASES
            .iter()
            .find(|(n, _)| *n == lower)
            .map(|(name, specprod)| Release { name, specprod })
            .ok_or_else(|| {
                let names: Vec<&str> = RELEASES.iter().map(|(n, _)| *n).collect();
                FetchError::Plan(format!(
                    "unknown release '{s}' (known: {})",
                    names.join(", ")
                ))
            })
    }
}

/// The layout of one release, survey and program.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    specprod: &'static str,
    survey: String,
    program: String,
}

fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// Survey and program names go into paths: keep them to plain words.
fn check_word(what: &str, s: &str) -> Result<(), FetchError> {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err(FetchError::Plan(format!(
            "{what} '{s}' must be a lowercase word such as 'main' or 'dark'"
        )))
    }
}

impl Layout {
    pub(crate) fn new(release: &Release, survey: &str, program: &str) -> Result<Self, FetchError> {
        check_word("survey", survey)?;
        check_word("program", program)?;
        Ok(Layout {
            specprod: release.specprod,
            survey: survey.to_string(),
            program: program.to_string(),
        })
    }

    fn vars<'a>(&'a self, group: &'a str, pix: &'a str) -> [(&'a str, &'a str); 5] {
        [
            ("specprod", self.specprod),
            ("survey", &self.survey),
            ("program", &self.program),
            ("group", group),
            ("pix", pix),
        ]
    }

    /// `spectro/redux/iron/healpix/main/dark` (no trailing slash).
    pub(crate) fn healpix_dir(&self) -> String {
        fill(HEALPIX_DIR, &self.vars("", ""))
    }

    /// `spectro/redux/iron/healpix/main/dark/260/26065`.
    pub(crate) fn pixel_dir(&self, pix: u32) -> String {
        let (g, p) = ((pix / 100).to_string(), pix.to_string());
        format!(
            "{}/{}",
            self.healpix_dir(),
            fill(PIXEL_DIR, &self.vars(&g, &p))
        )
    }

    /// Release-relative path of the pixel's checksum file.
    pub(crate) fn checksum_path(&self, pix: u32) -> String {
        let (g, p) = ((pix / 100).to_string(), pix.to_string());
        format!(
            "{}/{}",
            self.pixel_dir(pix),
            fill(CHECKSUM_FILE, &self.vars(&g, &p))
        )
    }

    /// File name (no directory) of a kind's file for a pixel.
    pub(crate) fn file_name(&self, kind: Kind, pix: u32) -> String {
        let (g, p) = ((pix / 100).to_string(), pix.to_string());
        fill(kind.template(), &self.vars(&g, &p))
    }

    /// Release-relative path of a kind's file for a pixel.
    pub(crate) fn file_path(&self, kind: Kind, pix: u32) -> String {
        format!("{}/{}", self.pixel_dir(pix), self.file_name(kind, pix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dr1_paths_follow_the_desi_layout() {
        let rel: Release = "dr1".parse().unwrap();
        assert_eq!(rel.specprod(), "iron");
        let l = Layout::new(&rel, "main", "dark").unwrap();
        assert_eq!(
            l.file_path(Kind::Coadd, 26065),
            "spectro/redux/iron/healpix/main/dark/260/26065/coadd-main-dark-26065.fits"
        );
        assert_eq!(
            l.file_path(Kind::Redrock, 9),
            "spectro/redux/iron/healpix/main/dark/0/9/redrock-main-dark-9.fits"
        );
        assert_eq!(
            l.checksum_path(26065),
            "spectro/redux/iron/healpix/main/dark/260/26065/main-dark-26065.sha256sum"
        );
        let edr: Release = "edr".parse().unwrap();
        assert_eq!(edr.specprod(), "fuji");
    }

    #[test]
    fn rejects_unknown_names_and_path_tricks() {
        assert!("dr9".parse::<Release>().is_err());
        assert!("spectra".parse::<Kind>().is_err());
        let rel: Release = "dr1".parse().unwrap();
        assert!(Layout::new(&rel, "../etc", "dark").is_err());
        assert!(Layout::new(&rel, "main", "").is_err());
    }
}
