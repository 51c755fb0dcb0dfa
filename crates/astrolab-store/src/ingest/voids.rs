//! DESIVAST void catalogs (Douglass et al. 2023, the DESI DR1 void VAC;
//! VAST: Douglass et al. 2022, JOSS 7, 4033).
//!
//! VoidFinder files hold MAXIMALS (one maximal sphere per void) and HOLES
//! (every hole, with the void it belongs to); V2 files (REVOLVER, VIDE,
//! ZOBOV) hold VOIDS, ZONEVOID (zone -> void0, void1) and GALZONE (galaxy ->
//! zone). Positions are comoving x, y, z in Mpc/h; RA/Dec are derived from
//! the direction of (x, y, z) for sky queries.

use std::path::Path;

use astrolab_formats::fits::FitsFile;
use astrolab_formats::vast::{catalog_algorithm, catalog_cap};

use super::columns::{f64_of, fill_from, set_sky};
use crate::batch::{Batch, Values};
use crate::error::{Result, StoreError};
use crate::schema::{
    TableSpec, V2_GALZONE, V2_VOIDS, V2_ZONEVOID, VOIDFINDER_HOLES, VOIDFINDER_MAXIMALS,
};

/// The void-finding algorithm, from the primary header or the file name
/// (`astrolab_formats::vast::catalog_algorithm`, the rule every reader of
/// these files uses); `default` when neither says.
fn algorithm(path: &Path, fits: &FitsFile, default: &str) -> String {
    catalog_algorithm(path, &fits.hdus()[0].header).unwrap_or_else(|| default.to_string())
}

/// The galactic cap (`astrolab_formats::vast::catalog_cap`).
fn cap(path: &Path, fits: &FitsFile) -> String {
    catalog_cap(path, &fits.hdus()[0].header)
}

fn spheres(
    path: &Path,
    fits: &FitsFile,
    hdu: &str,
    spec: &'static TableSpec,
    alg: &str,
    cap: &str,
) -> Result<Batch> {
    let t = fits.table(hdu)?;
    let mut b = Batch::new(spec, t.nrows());
    fill_from(&mut b, spec, &t, None)?;
    b.set("algorithm", Values::ConstText(alg.to_string()));
    b.set("cap", Values::ConstText(cap.to_string()));
    if spec.name == "v2_voids" {
        // V2 VOIDS tables may number voids implicitly by row.
        let ids = if t.has_column("VOID") {
            t.read_i64_opt("VOID")?
        } else {
            (0..t.nrows() as i64).map(Some).collect()
        };
        b.set("void_id", Values::I64(ids));
    }
    let (x, y, z) = (f64_of(&b, "x"), f64_of(&b, "y"), f64_of(&b, "z"));
    let mut ra = Vec::with_capacity(x.len());
    let mut dec = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        let (r, d, dist) = astrolab_sky::xyz_to_radec_r([x[i], y[i], z[i]]);
        if !(dist.is_finite() && dist > 0.0) {
            return Err(StoreError::BadInput(format!(
                "{}: HDU {hdu}, columns X/Y/Z: row {i} is ({}, {}, {}), not a position away from the observer",
                path.display(),
                x[i],
                y[i],
                z[i]
            )));
        }
        ra.push(r);
        dec.push(d);
    }
    set_sky(&mut b, path, hdu, ("X", "Y/Z"), ra, dec)?;
    Ok(b)
}

/// MAXIMALS + HOLES.
pub(crate) fn read_voidfinder(path: &Path, fits: &FitsFile) -> Result<Vec<Batch>> {
    let alg = algorithm(path, fits, "VoidFinder");
    let cap = cap(path, fits);
    Ok(vec![
        spheres(path, fits, "MAXIMALS", &VOIDFINDER_MAXIMALS, &alg, &cap)?,
        spheres(path, fits, "HOLES", &VOIDFINDER_HOLES, &alg, &cap)?,
    ])
}

/// VOIDS, ZONEVOID and GALZONE (whichever the file has).
pub(crate) fn read_v2(path: &Path, fits: &FitsFile) -> Result<Vec<Batch>> {
    let alg = algorithm(path, fits, "V2");
    let cap = cap(path, fits);
    let mut out = Vec::new();
    if fits.has_hdu("VOIDS") {
        out.push(spheres(path, fits, "VOIDS", &V2_VOIDS, &alg, &cap)?);
    }
    for (hdu, spec) in [("ZONEVOID", &V2_ZONEVOID), ("GALZONE", &V2_GALZONE)] {
        if !fits.has_hdu(hdu) {
            continue;
        }
        let t = fits.table(hdu)?;
        let mut b = Batch::new(spec, t.nrows());
        fill_from(&mut b, spec, &t, None)?;
        b.set("algorithm", Values::ConstText(alg.clone()));
        b.set("cap", Values::ConstText(cap.clone()));
        if hdu == "GALZONE" {
            let gal = if t.has_column("GAL") {
                Values::I64(t.read_i64_opt("GAL")?)
            } else {
                Values::I64((0..t.nrows() as i64).map(Some).collect())
            };
            b.set("gal", gal);
        }
        out.push(b);
    }
    Ok(out)
}
