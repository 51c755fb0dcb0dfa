//! Galaxy lists for the void pipelines, from a file
//! ([`astrolab_formats::galaxy_table`]) or a store table
//! ([`astrolab_store::Store::galaxy_rows`]).

use std::path::Path;

use anyhow::{bail, Result};

/// A galaxy list: ids, positions and redshifts.
#[derive(Debug, Default, Clone)]
pub struct Galaxies {
    /// TARGETID (row number when the source has none).
    pub target_id: Vec<i64>,
    /// RA, degrees.
    pub ra_deg: Vec<f64>,
    /// Dec, degrees.
    pub dec_deg: Vec<f64>,
    /// Redshift (NaN when unknown).
    pub z: Vec<f64>,
    /// Raw-file registry id of each galaxy's file (None: not registered);
    /// the membership rows carry it, and access to them follows it.
    pub file_id: Vec<Option<i64>>,
    /// Where they came from.
    pub source: String,
}

/// Reads a FITS or CSV galaxy table: ra, dec, z or redshift, optional
/// targetid (case-insensitive names; TARGET_RA/TARGET_DEC accepted).
/// `file_id`: the file's registry id, when the store registered its bytes.
pub fn read_galaxy_file(path: &Path, file_id: Option<i64>) -> Result<Galaxies> {
    let t = astrolab_formats::galaxy_table::read_galaxy_table(path)?;
    let n = t.ra_deg.len();
    Ok(Galaxies {
        target_id: t.target_id.unwrap_or_else(|| (0..n as i64).collect()),
        ra_deg: t.ra_deg,
        dec_deg: t.dec_deg,
        z: t.z,
        file_id: vec![file_id; n],
        source: path.display().to_string(),
    })
}

/// Galaxies from a store table: `fastspec`, `zcatalog` (SPECTYPE GALAXY) or
/// `galaxies` (row number when TARGETID is NULL); a NULL value reads as
/// NaN (a NULL redshift is then refused with its row, or classified as
/// outside).
pub fn read_store_galaxies(store: &mut astrolab_store::Store, table: &str) -> Result<Galaxies> {
    let t = store.galaxy_rows(table)?;
    // Columns file_id, id, ra, dec, z.
    let mut g = Galaxies {
        source: format!("store table {table}"),
        ..Default::default()
    };
    for r in &t.rows {
        g.file_id.push(r[0].as_i64());
        g.target_id.push(r[1].as_i64().unwrap_or(-1));
        g.ra_deg.push(r[2].as_f64().unwrap_or(f64::NAN));
        g.dec_deg.push(r[3].as_f64().unwrap_or(f64::NAN));
        g.z.push(r[4].as_f64().unwrap_or(f64::NAN));
    }
    Ok(g)
}

/// [`read_store_galaxies`] of a table named by `--galaxies-table`.
pub fn read_galaxy_table(store: &mut astrolab_store::Store, table: &str) -> Result<Galaxies> {
    if !["fastspec", "zcatalog", "galaxies"].contains(&table) {
        bail!("--galaxies-table {table}: choose fastspec, zcatalog or galaxies");
    }
    read_store_galaxies(store, table)
}
