//! Positional crossmatch between two tables or files, on a k-d tree of unit
//! vectors (astrolab_sky::SkyTree).

use std::path::{Path, PathBuf};

use astrolab_formats::fits::FitsFile;
use astrolab_formats::table_csv::read_csv_columns;
use rayon::prelude::*;

use super::{sky_table, ResultTable};
use crate::error::{Result, StoreError};
use crate::store::Store;
use crate::value::Value;

/// One side of a crossmatch.
#[derive(Debug, Clone)]
pub enum XmatchSide {
    /// A sky table of the store.
    Table(String),
    /// A FITS (first binary table) or CSV file with RA/Dec columns.
    File(PathBuf),
}

impl XmatchSide {
    /// A path that exists is a file; anything else names a table.
    pub fn parse(s: &str) -> XmatchSide {
        let p = Path::new(s);
        if p.exists() {
            XmatchSide::File(p.to_path_buf())
        } else {
            XmatchSide::Table(s.to_string())
        }
    }
}

/// Which side looks for its nearest partner on the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Each row of A gets its nearest B.
    AToB,
    /// Each row of B gets its nearest A.
    BToA,
}

/// Nearest partner only, or every pair within the radius (as q3c_join).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmatchMode {
    /// Nearest within the radius.
    Nearest,
    /// All pairs within the radius.
    All,
}

/// A crossmatch request.
#[derive(Debug, Clone)]
pub struct XmatchQuery {
    /// First side.
    pub a: XmatchSide,
    /// Second side.
    pub b: XmatchSide,
    /// Match radius, degrees.
    pub radius_deg: f64,
    /// Direction of the nearest-match search.
    pub direction: Direction,
    /// Nearest or all pairs.
    pub mode: XmatchMode,
}

/// Positions of one side, with an identifier per row.
#[derive(Debug, Clone)]
pub struct Positions {
    /// Identifier of each row (TARGETID when there is one, else the row
    /// number).
    pub ids: Vec<Option<i64>>,
    /// RA, degrees.
    pub ra: Vec<f64>,
    /// Dec, degrees.
    pub dec: Vec<f64>,
}

fn from_file(path: &Path, field: &str) -> Result<Positions> {
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let (ra, dec, ids) = if is_csv {
        let c =
            read_csv_columns(path).map_err(|e| StoreError::bad_request(field, e.to_string()))?;
        let pick = |names: &[&'static str]| names.iter().copied().find(|n| c.has_column(n));
        let ra_c = pick(&["ra", "target_ra"]).ok_or_else(|| {
            StoreError::bad_request(field, format!("{}: no ra column", path.display()))
        })?;
        let dec_c = pick(&["dec", "target_dec"]).ok_or_else(|| {
            StoreError::bad_request(field, format!("{}: no dec column", path.display()))
        })?;
        let f = |n: &str| {
            c.column_f64(n)
                .map_err(|e| StoreError::bad_request(field, e.to_string()))
        };
        let (ra, dec) = (f(ra_c)?, f(dec_c)?);
        let ids = match pick(&["targetid", "id"]) {
            Some(n) => c
                .column_i64_opt(n)
                .map_err(|e| StoreError::bad_request(field, e.to_string()))?,
            None => (0..ra.len() as i64).map(Some).collect(),
        };
        (ra, dec, ids)
    } else {
        let fits = FitsFile::open(path)?;
        let t = fits.first_table()?;
        let pick = |names: &[&'static str]| names.iter().copied().find(|n| t.has_column(n));
        let ra_c = pick(&["ra", "target_ra"]).ok_or_else(|| {
            StoreError::bad_request(
                field,
                format!("{}: HDU {}: no RA column", path.display(), t.hdu().name()),
            )
        })?;
        let dec_c = pick(&["dec", "target_dec"]).ok_or_else(|| {
            StoreError::bad_request(
                field,
                format!("{}: HDU {}: no Dec column", path.display(), t.hdu().name()),
            )
        })?;
        let (ra, dec) = (t.read_f64(ra_c)?, t.read_f64(dec_c)?);
        let ids = match pick(&["targetid", "id"]) {
            Some(n) => t.read_i64_opt(n)?,
            None => (0..ra.len() as i64).map(Some).collect(),
        };
        (ra, dec, ids)
    };
    for (i, (&r, &d)) in ra.iter().zip(&dec).enumerate() {
        if astrolab_sky::validate_radec(r, d).is_err() {
            return Err(StoreError::bad_request(
                field,
                format!(
                    "{}: row {i} has RA = {r}, Dec = {d}, not a sky position",
                    path.display()
                ),
            ));
        }
    }
    Ok(Positions { ids, ra, dec })
}

/// Loads the positions of one side.
pub fn load_positions(store: &mut Store, side: &XmatchSide, field: &str) -> Result<Positions> {
    match side {
        XmatchSide::File(p) => from_file(p, field),
        XmatchSide::Table(name) => {
            let t = sky_table(name, field)?;
            store.positions(t)
        }
    }
}

impl Store {
    /// Crossmatches two sides; one row per match with `sep_arcsec`.
    pub fn xmatch(&mut self, q: &XmatchQuery) -> Result<ResultTable> {
        if !(q.radius_deg.is_finite() && q.radius_deg > 0.0 && q.radius_deg <= 10.0) {
            return Err(StoreError::bad_request(
                "--radius",
                format!(
                    "{} degrees: a crossmatch radius must be in (0, 10] degrees",
                    q.radius_deg
                ),
            ));
        }
        let t = std::time::Instant::now();
        let a = load_positions(self, &q.a, "A")?;
        let b = load_positions(self, &q.b, "B")?;
        tracing::debug!(
            seconds = t.elapsed().as_secs_f64(),
            a = a.ra.len(),
            b = b.ra.len(),
            "positions loaded"
        );
        let out = crossmatch(&a, &b, q.radius_deg, q.direction, q.mode);
        tracing::debug!(
            seconds = t.elapsed().as_secs_f64(),
            pairs = out.rows.len(),
            "matched"
        );
        Ok(out)
    }
}

/// Crossmatches loaded positions (also used by benchmarks).
pub fn crossmatch(
    a: &Positions,
    b: &Positions,
    radius_deg: f64,
    direction: Direction,
    mode: XmatchMode,
) -> ResultTable {
    let (query, target) = match direction {
        Direction::AToB => (a, b),
        Direction::BToA => (b, a),
    };
    let tree = astrolab_sky::SkyTree::build(&target.ra, &target.dec);
    let pairs: Vec<(usize, usize, f64)> = match mode {
        XmatchMode::Nearest => {
            astrolab_sky::crossmatch_nearest(&query.ra, &query.dec, &tree, radius_deg)
                .into_iter()
                .enumerate()
                .filter_map(|(i, m)| m.map(|(j, sep)| (i, j, sep)))
                .collect()
        }
        XmatchMode::All => (0..query.ra.len())
            .into_par_iter()
            .map(|i| {
                tree.within(query.ra[i], query.dec[i], radius_deg)
                    .into_iter()
                    .map(|(j, sep)| (i, j, sep))
                    .collect::<Vec<_>>()
            })
            .flatten()
            .collect(),
    };
    let rows = pairs
        .into_iter()
        .map(|(i, j, sep)| {
            let (ai, bi) = match direction {
                Direction::AToB => (i, j),
                Direction::BToA => (j, i),
            };
            vec![
                a.ids[ai].map_or(Value::Null, Value::Int),
                Value::Float(a.ra[ai]),
                Value::Float(a.dec[ai]),
                b.ids[bi].map_or(Value::Null, Value::Int),
                Value::Float(b.ra[bi]),
                Value::Float(b.dec[bi]),
                Value::Float(sep * 3600.0),
            ]
        })
        .collect();
    ResultTable {
        columns: [
            "a_id",
            "a_ra",
            "a_dec",
            "b_id",
            "b_ra",
            "b_dec",
            "sep_arcsec",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows,
    }
}
