//! Plain galaxy tables: any FITS binary table or CSV with RA/Dec columns
//! (and a redshift column named z, redshift or Z), such as the VoidFinder
//! input `vollim_dr7_cbp_102709.fits` (columns z, ra, dec, weight).

use std::path::Path;

use astrolab_formats::fits::FitsFile;
use astrolab_formats::table_csv::read_csv_columns;

use super::columns::set_sky;
use super::{Format, Prepared};
use crate::batch::{Batch, Values};
use crate::error::{Result, StoreError};
use crate::schema::GALAXIES;

const RA: [&str; 3] = ["ra", "target_ra", "ra_deg"];
const DEC: [&str; 3] = ["dec", "target_dec", "dec_deg"];
const Z: [&str; 3] = ["z", "redshift", "zspec"];
const ID: [&str; 2] = ["targetid", "id"];

fn pick<'a>(names: &[&'a str], has: impl Fn(&str) -> bool) -> Option<&'a str> {
    names.iter().copied().find(|n| has(n))
}

fn batch(
    n: usize,
    z: Option<Vec<f64>>,
    weight: Option<Vec<f64>>,
    id: Option<Vec<Option<i64>>>,
) -> Batch {
    let mut b = Batch::new(&GALAXIES, n);
    b.set("row_index", Values::I64((0..n as i64).map(Some).collect()));
    if let Some(z) = z {
        b.set("z", Values::F64(z));
    }
    if let Some(w) = weight {
        b.set("weight", Values::F64(w));
    }
    if let Some(id) = id {
        b.set("targetid", Values::I64(id));
    }
    b
}

/// The first binary table of a FITS file.
pub(crate) fn read_fits(path: &Path, fits: &FitsFile) -> Result<Batch> {
    let t = fits.first_table()?;
    let has = |n: &str| t.has_column(n);
    let missing = |what: &str, names: &[&str]| {
        StoreError::BadInput(format!(
            "{}: HDU {}: no {what} column (looked for {}); columns are {}",
            path.display(),
            t.hdu().name(),
            names.join(", "),
            t.columns()
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    };
    let ra_col = pick(&RA, has).ok_or_else(|| missing("RA", &RA))?;
    let dec_col = pick(&DEC, has).ok_or_else(|| missing("Dec", &DEC))?;
    let z = pick(&Z, has).map(|c| t.read_f64(c)).transpose()?;
    let w = has("weight").then(|| t.read_f64("weight")).transpose()?;
    let id = pick(&ID, has).map(|c| t.read_i64_opt(c)).transpose()?;
    let (ra, dec) = (t.read_f64(ra_col)?, t.read_f64(dec_col)?);
    let mut b = batch(ra.len(), z, w, id);
    set_sky(&mut b, path, &t.hdu().name(), (ra_col, dec_col), ra, dec)?;
    Ok(b)
}

/// A CSV file with a header line.
pub(crate) fn read_csv(path: &Path) -> Result<Prepared> {
    let csv = read_csv_columns(path).map_err(|e| StoreError::BadInput(e.to_string()))?;
    let has = |n: &str| csv.has_column(n);
    let missing = |what: &str, names: &[&str]| StoreError::UnknownFormat {
        path: path.to_path_buf(),
        reason: format!(
            "a CSV table without a {what} column (looked for {}); header is {}",
            names.join(", "),
            csv.names.join(",")
        ),
    };
    let ra_col = pick(&RA, has).ok_or_else(|| missing("RA", &RA))?;
    let dec_col = pick(&DEC, has).ok_or_else(|| missing("Dec", &DEC))?;
    let f = |c: &str| {
        csv.column_f64(c)
            .map_err(|e| StoreError::BadInput(e.to_string()))
    };
    let z = pick(&Z, has).map(f).transpose()?;
    let w = has("weight").then(|| f("weight")).transpose()?;
    let id = pick(&ID, has)
        .map(|c| {
            csv.column_i64_opt(c)
                .map_err(|e| StoreError::BadInput(e.to_string()))
        })
        .transpose()?;
    let (ra, dec) = (f(ra_col)?, f(dec_col)?);
    let mut b = batch(ra.len(), z, w, id);
    set_sky(&mut b, path, "CSV", (ra_col, dec_col), ra, dec)?;
    let hdus_json =
        serde_json::json!([{ "index": 0, "extname": "CSV", "kind": "Csv", "rows": b.nrows }])
            .to_string();
    Ok(Prepared {
        format: Format::Galaxies,
        hdus_json,
        batches: vec![b],
    })
}
