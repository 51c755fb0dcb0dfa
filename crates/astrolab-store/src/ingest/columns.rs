//! Reading FITS columns through the table specs, and the checks every sky
//! table gets (coordinates finite and in range).

use std::path::Path;

use astrolab_formats::fits::{BinTable, FitsError};

use crate::batch::{Batch, Values};
use crate::error::{Result, StoreError};
use crate::schema::{ColType, Source, TableSpec};

/// Reads one FITS column as the store type `ty`.
pub(crate) fn read_as(table: &BinTable<'_>, column: &str, ty: ColType) -> Result<Values> {
    Ok(match ty {
        ColType::I64 => Values::I64(table.read_i64_opt(column)?),
        ColType::F64 => Values::F64(table.read_f64(column)?),
        ColType::Text => {
            let (dict, codes) = table.read_str_dict(column)?;
            Values::TextDict { dict, codes }
        }
        ColType::Bool => match table.read_bool(column) {
            Ok(v) => Values::Bool(v),
            // Some writers store flags as integers.
            Err(FitsError::WrongType { .. }) => Values::Bool(
                table
                    .read_i64_opt(column)?
                    .into_iter()
                    .map(|v| v.map(|x| x != 0))
                    .collect(),
            ),
            Err(e) => return Err(e.into()),
        },
    })
}

/// Fills every FITS-sourced column of `batch` that `table` holds: required
/// columns must exist (the error names file, HDU and column and lists what
/// is there); optional ones absent from the file stay NULL. `only` limits
/// the columns read (for specs spread over several HDUs).
pub(crate) fn fill_from(
    batch: &mut Batch,
    spec: &'static TableSpec,
    table: &BinTable<'_>,
    only: Option<&[&str]>,
) -> Result<()> {
    use rayon::prelude::*;
    let mut wanted = Vec::new();
    for col in spec.columns {
        let Source::Fits { column, required } = col.source else {
            continue;
        };
        if let Some(only) = only {
            if !only.iter().any(|c| c.eq_ignore_ascii_case(column)) {
                continue;
            }
        }
        if !table.has_column(column) {
            if required {
                // Let the FITS layer produce its message with the column list.
                table.column(column)?;
            }
            continue;
        }
        wanted.push(col);
    }
    // Columns decode independently: read them on all cores.
    let read: Vec<Values> = wanted
        .par_iter()
        .map(|col| match col.source {
            Source::Fits { column, .. } => read_as(table, column, col.ty),
            Source::Computed => Ok(Values::Null),
        })
        .collect::<Result<_>>()?;
    for (col, values) in wanted.into_iter().zip(read) {
        batch.set(col.name, values);
    }
    Ok(())
}

/// Checks coordinates and returns the HEALPix indices. The error names the
/// file, HDU, columns and the first bad row (0-based, as FITS readers in
/// Python count) and how many rows are bad.
pub(crate) fn check_radec(
    path: &Path,
    hdu: &str,
    columns: (&str, &str),
    ra: &[f64],
    dec: &[f64],
) -> Result<Vec<i64>> {
    let mut bad = 0usize;
    let mut first: Option<(usize, f64, f64)> = None;
    for (i, (&r, &d)) in ra.iter().zip(dec).enumerate() {
        if !(r.is_finite()
            && d.is_finite()
            && (0.0..=360.0).contains(&r)
            && (-90.0..=90.0).contains(&d))
        {
            bad += 1;
            first.get_or_insert((i, r, d));
        }
    }
    if let Some((row, r, d)) = first {
        return Err(StoreError::BadInput(format!(
            "{}: HDU {hdu}, columns {}/{}: row {row} has RA = {r}, Dec = {d} (need finite RA in [0, 360] and Dec in [-90, 90]); {bad} bad row(s) in all. Nothing was loaded from this file",
            path.display(),
            columns.0,
            columns.1
        )));
    }
    use rayon::prelude::*;
    Ok(ra
        .par_iter()
        .zip(dec.par_iter())
        .map(|(&r, &d)| astrolab_sky::hpx_index(r, d))
        .collect())
}

/// Sets `ra`, `dec` and `hpx` of a sky batch after checking them.
pub(crate) fn set_sky(
    batch: &mut Batch,
    path: &Path,
    hdu: &str,
    columns: (&str, &str),
    ra: Vec<f64>,
    dec: Vec<f64>,
) -> Result<()> {
    let hpx = check_radec(path, hdu, columns, &ra, &dec)?;
    batch.set("ra", Values::F64(ra));
    batch.set("dec", Values::F64(dec));
    batch.set("hpx", Values::I64(hpx.into_iter().map(Some).collect()));
    Ok(())
}

/// The F64 values of a filled column (for reuse in computed columns).
pub(crate) fn f64_of(batch: &Batch, name: &str) -> Vec<f64> {
    let idx = batch
        .table
        .columns
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    match &batch.columns[idx] {
        Values::F64(v) => v.clone(),
        _ => vec![f64::NAN; batch.nrows],
    }
}
