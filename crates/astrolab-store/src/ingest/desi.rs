//! DESI catalogs: zcatalog v1, redrock, FastSpecFit v3.0.
//!
//! Data models: DESI DR1 documentation (zcatalog v1 `zpix-*`/`zall-pix-*`,
//! HDU ZCATALOG; redrock `REDSHIFTS`/`FIBERMAP`; FastSpecFit v3.0 HDUs
//! METADATA, SPECPHOT, FASTSPEC, one row per target in each).

use std::collections::HashMap;
use std::path::Path;

use astrolab_formats::fits::{BinTable, FitsFile};

use super::columns::{f64_of, fill_from, read_as, set_sky};
use crate::batch::{Batch, Values};
use crate::error::{Result, StoreError};
use crate::schema::{Source, FASTSPEC, REDSHIFTS, ZCATALOG};

/// ZCATALOG -> `zcatalog`.
pub(crate) fn read_zcatalog(path: &Path, fits: &FitsFile) -> Result<Batch> {
    let t = fits.table("ZCATALOG")?;
    let mut b = Batch::new(&ZCATALOG, t.nrows());
    fill_from(&mut b, &ZCATALOG, &t, None)?;
    let (ra, dec) = (f64_of(&b, "ra"), f64_of(&b, "dec"));
    set_sky(
        &mut b,
        path,
        "ZCATALOG",
        ("TARGET_RA", "TARGET_DEC"),
        ra,
        dec,
    )?;
    Ok(b)
}

/// Row of `other` holding each TARGETID of `base`, or an error naming the
/// first TARGETID that `other` lacks.
fn align(
    path: &Path,
    base: &[i64],
    base_hdu: &str,
    other: &BinTable<'_>,
) -> Result<Option<Vec<usize>>> {
    let ids = other.read_i64("TARGETID")?;
    if ids == base {
        return Ok(None);
    }
    let index: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, &t)| (t, i)).collect();
    base.iter()
        .enumerate()
        .map(|(row, t)| {
            index.get(t).copied().ok_or_else(|| {
                StoreError::BadInput(format!(
                    "{}: HDU {base_hdu} row {row} has TARGETID {t}, which HDU {} does not contain; the HDUs cannot be joined",
                    path.display(),
                    other.hdu().name()
                ))
            })
        })
        .collect::<Result<Vec<usize>>>()
        .map(Some)
}

fn permute(v: Values, perm: &Option<Vec<usize>>) -> Values {
    let Some(p) = perm else { return v };
    match v {
        Values::I64(x) => Values::I64(p.iter().map(|&i| x[i]).collect()),
        Values::F64(x) => Values::F64(p.iter().map(|&i| x[i]).collect()),
        Values::TextDict { dict, codes } => Values::TextDict {
            dict,
            codes: p.iter().map(|&i| codes[i]).collect(),
        },
        Values::Bool(x) => Values::Bool(p.iter().map(|&i| x[i]).collect()),
        other => other,
    }
}

/// REDSHIFTS joined with FIBERMAP on TARGETID -> `redshifts`.
pub(crate) fn read_redrock(path: &Path, fits: &FitsFile) -> Result<Batch> {
    let z = fits.table("REDSHIFTS")?;
    let fm = fits.table("FIBERMAP")?;
    let mut b = Batch::new(&REDSHIFTS, z.nrows());
    fill_from(&mut b, &REDSHIFTS, &z, None)?;
    let ids = z.read_i64("TARGETID")?;
    let perm = align(path, &ids, "REDSHIFTS", &fm)?;
    let take = |col: &str| -> Result<Vec<f64>> {
        match permute(Values::F64(fm.read_f64(col)?), &perm) {
            Values::F64(v) => Ok(v),
            _ => unreachable!("permute keeps the variant"),
        }
    };
    let (ra, dec) = (take("TARGET_RA")?, take("TARGET_DEC")?);
    if fm.has_column("COADD_FIBERSTATUS") {
        let v = read_as(&fm, "COADD_FIBERSTATUS", crate::schema::ColType::I64)?;
        b.set("coadd_fiberstatus", permute(v, &perm));
    }
    set_sky(
        &mut b,
        path,
        "FIBERMAP",
        ("TARGET_RA", "TARGET_DEC"),
        ra,
        dec,
    )?;
    Ok(b)
}

/// METADATA + SPECPHOT + FASTSPEC joined on TARGETID -> `fastspec`. Each
/// column is taken from the first of these HDUs that has it, so small
/// differences between FastSpecFit versions do not matter.
pub(crate) fn read_fastspec(path: &Path, fits: &FitsFile) -> Result<Batch> {
    let meta = fits.table("METADATA")?;
    let ids = meta.read_i64("TARGETID")?;
    let mut hdus: Vec<(BinTable<'_>, Option<Vec<usize>>)> = vec![(meta, None)];
    for name in ["SPECPHOT", "FASTSPEC"] {
        if fits.has_hdu(name) {
            let t = fits.table(name)?;
            if t.nrows() != ids.len() {
                return Err(StoreError::BadInput(format!(
                    "{}: HDU {name} has {} rows but METADATA has {}; FastSpecFit HDUs must describe the same targets",
                    path.display(),
                    t.nrows(),
                    ids.len()
                )));
            }
            let perm = align(path, &ids, "METADATA", &t)?;
            hdus.push((t, perm));
        }
    }
    let mut b = Batch::new(&FASTSPEC, ids.len());
    for col in FASTSPEC.columns {
        let Source::Fits { column, required } = col.source else {
            continue;
        };
        match hdus.iter().find(|(t, _)| t.has_column(column)) {
            Some((t, perm)) => b.set(col.name, permute(read_as(t, column, col.ty)?, perm)),
            None if required => {
                let searched: Vec<String> = hdus.iter().map(|(t, _)| t.hdu().name()).collect();
                return Err(StoreError::BadInput(format!(
                    "{}: required column {column} is in none of the HDUs {}; is this a FastSpecFit v3.0 file?",
                    path.display(),
                    searched.join(", ")
                )));
            }
            None => {}
        }
    }
    let (ra, dec) = (f64_of(&b, "ra"), f64_of(&b, "dec"));
    set_sky(&mut b, path, "METADATA", ("RA", "DEC"), ra, dec)?;
    Ok(b)
}
