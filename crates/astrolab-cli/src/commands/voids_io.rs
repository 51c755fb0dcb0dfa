//! Reading void catalogs (DESIVAST/VAST VoidFinder and V2 FITS layouts) and
//! galaxy lists for `astrolab voids classify`.
//!
//! Cosmology: comoving distances use flat LCDM with h = 1 and the
//! catalog's `OMEGAM` primary keyword (VAST writes it). A catalog without
//! it is refused unless `--omega-m` is given: guessing would silently move
//! every galaxy (DESIVAST DR1 used 0.315, the SDSS DR7 VoidFinder run
//! 0.26), so there is no default.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use astrolab_formats::fits::FitsFile;
use astrolab_voids::mask::{RaDecGrid, SurveyMask};
use astrolab_voids::membership::{RadiusKind, Sphere, V2Voids, VoidFinderVoids};

/// The algorithms DESIVAST publishes.
pub const ALGORITHMS: [&str; 4] = ["VoidFinder", "REVOLVER", "VIDE", "ZOBOV"];

/// What a void catalog holds.
pub enum CatalogKind {
    /// MAXIMALS + HOLES.
    VoidFinder(VoidFinderVoids),
    /// VOIDS + ZONEVOID + GALZONE.
    V2(V2Voids),
}

/// A void catalog read from a file.
pub struct VoidCatalog {
    /// VoidFinder, REVOLVER, VIDE or ZOBOV.
    pub algorithm: String,
    /// NGC, SGC or ALL.
    pub cap: String,
    /// OMEGAM from the primary header.
    pub omega_m: Option<f64>,
    /// DLIML/DLIMU from the primary header, Mpc/h.
    pub dist_limits_mpc_h: Option<(f64, f64)>,
    /// The MASK HDU (VAST layout), when present.
    pub mask: Option<RaDecGrid>,
    /// The voids.
    pub kind: CatalogKind,
}

fn from_name(path: &Path, choices: &[&str]) -> Option<String> {
    let name = path.file_name()?.to_str()?.to_ascii_uppercase();
    choices
        .iter()
        .find(|a| name.contains(&a.to_ascii_uppercase()))
        .map(|a| a.to_string())
}

fn f64_col(
    t: &astrolab_formats::fits::BinTable<'_>,
    path: &Path,
    hdu: &str,
    name: &str,
) -> Result<Vec<f64>> {
    t.read_f64(name)
        .with_context(|| format!("{}: HDU {hdu}: column {name}", path.display()))
}

fn i64_col(
    t: &astrolab_formats::fits::BinTable<'_>,
    path: &Path,
    hdu: &str,
    name: &str,
) -> Result<Vec<i64>> {
    t.read_i64(name)
        .with_context(|| format!("{}: HDU {hdu}: column {name}", path.display()))
}

fn spheres(
    t: &astrolab_formats::fits::BinTable<'_>,
    path: &Path,
    hdu: &str,
) -> Result<Vec<Sphere>> {
    let x = f64_col(t, path, hdu, "X")?;
    let y = f64_col(t, path, hdu, "Y")?;
    let z = f64_col(t, path, hdu, "Z")?;
    let r = f64_col(t, path, hdu, "RADIUS")?;
    Ok((0..x.len())
        .map(|i| Sphere {
            center_mpc_h: [x[i], y[i], z[i]],
            radius_mpc_h: r[i],
        })
        .collect())
}

/// Reads a VoidFinder or V2 catalog.
pub fn read_void_catalog(path: &Path) -> Result<VoidCatalog> {
    let fits = FitsFile::open(path).with_context(|| format!("opening {}", path.display()))?;
    let primary = &fits.hdus()[0].header;
    let header_str = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| primary.get_str(k).map(|s| s.trim().to_string()))
    };
    let algorithm = header_str(&["ALGORITHM", "ALGORTHM", "METHOD"])
        .and_then(|v| {
            ALGORITHMS
                .iter()
                .find(|a| a.eq_ignore_ascii_case(&v))
                .map(|a| a.to_string())
        })
        .or_else(|| from_name(path, &ALGORITHMS));
    let cap = header_str(&["CAP", "GALCAP", "REGION"])
        .map(|c| c.to_ascii_uppercase())
        .filter(|c| c == "NGC" || c == "SGC")
        .or_else(|| from_name(path, &["NGC", "SGC"]))
        .unwrap_or_else(|| "ALL".to_string());
    let omega_m = primary.get_f64("OMEGAM");
    let dist_limits_mpc_h = match (primary.get_f64("DLIML"), primary.get_f64("DLIMU")) {
        (Some(a), Some(b)) if a.is_finite() && b.is_finite() && a < b => Some((a, b)),
        _ => None,
    };
    let mask = if fits.has_hdu("MASK") {
        let hdu = fits.hdu("MASK")?;
        let res = hdu
            .header
            .get_i64("MSKRES")
            .or_else(|| primary.get_i64("MSKRES"))
            .ok_or_else(|| {
                anyhow!(
                    "{}: HDU MASK has no MSKRES keyword (cells per degree)",
                    path.display()
                )
            })?;
        let (values, _shape) = fits
            .read_image_f64("MASK")
            .with_context(|| format!("{}: HDU MASK", path.display()))?;
        let cells: Vec<bool> = values.iter().map(|v| *v != 0.0).collect();
        Some(
            RaDecGrid::from_cells(usize::try_from(res).unwrap_or(0), cells)
                .with_context(|| format!("{}: HDU MASK", path.display()))?,
        )
    } else {
        None
    };
    let kind = if fits.has_hdu("MAXIMALS") && fits.has_hdu("HOLES") {
        let m = fits.table("MAXIMALS")?;
        let h = fits.table("HOLES")?;
        let maximals = spheres(&m, path, "MAXIMALS")?;
        let maximal_void = if m.has_column("VOID") {
            i64_col(&m, path, "MAXIMALS", "VOID")?
        } else {
            (0..maximals.len() as i64).collect()
        };
        let holes = spheres(&h, path, "HOLES")?;
        // VAST calls the hole's void FLAG in older releases, VOID now.
        let hole_void = match ["VOID", "FLAG"].iter().find(|c| h.has_column(c)) {
            Some(c) => i64_col(&h, path, "HOLES", c)?,
            None => bail!(
                "{}: HDU HOLES: no VOID (or FLAG) column: which void does each hole belong to?",
                path.display()
            ),
        };
        let (norm, radius_kind) = if m.has_column("R_EFF") {
            let r = f64_col(&m, path, "MAXIMALS", "R_EFF")?;
            // Rows without a finite R_EFF fall back to the maximal radius.
            let v: Vec<f64> = r
                .iter()
                .zip(&maximals)
                .map(|(r, s)| {
                    if r.is_finite() && *r > 0.0 {
                        *r
                    } else {
                        s.radius_mpc_h
                    }
                })
                .collect();
            (v, RadiusKind::Effective)
        } else {
            (
                maximals.iter().map(|s| s.radius_mpc_h).collect(),
                RadiusKind::Maximal,
            )
        };
        let edge = if m.has_column("EDGE") {
            Some(i64_col(&m, path, "MAXIMALS", "EDGE")?)
        } else {
            None
        };
        CatalogKind::VoidFinder(VoidFinderVoids {
            holes,
            hole_void,
            maximal_void,
            maximals,
            norm_radius_mpc_h: norm,
            radius_kind,
            edge,
        })
    } else if fits.has_hdu("ZONEVOID") && fits.has_hdu("GALZONE") {
        let zv = fits.table("ZONEVOID")?;
        let zone = i64_col(&zv, path, "ZONEVOID", "ZONE")?;
        let v0 = i64_col(&zv, path, "ZONEVOID", "VOID0")?;
        let v1 = i64_col(&zv, path, "ZONEVOID", "VOID1")?;
        let gz = fits.table("GALZONE")?;
        let gal_zone = i64_col(&gz, path, "GALZONE", "ZONE")?;
        let gal_targetid = match ["TARGETID", "TARGET"].iter().find(|c| gz.has_column(c)) {
            Some(c) => Some(i64_col(&gz, path, "GALZONE", c)?),
            None => None,
        };
        let gal_xyz_mpc_h = if ["X", "Y", "Z"].iter().all(|c| gz.has_column(c)) {
            let x = f64_col(&gz, path, "GALZONE", "X")?;
            let y = f64_col(&gz, path, "GALZONE", "Y")?;
            let z = f64_col(&gz, path, "GALZONE", "Z")?;
            Some((0..x.len()).map(|i| [x[i], y[i], z[i]]).collect())
        } else {
            None
        };
        let opt = |c: &str| -> Result<Option<Vec<i64>>> {
            Ok(if gz.has_column(c) {
                Some(i64_col(&gz, path, "GALZONE", c)?)
            } else {
                None
            })
        };
        let voids = if fits.has_hdu("VOIDS") {
            let vt = fits.table("VOIDS")?;
            let s = spheres(&vt, path, "VOIDS")?;
            let ids = if vt.has_column("VOID") {
                i64_col(&vt, path, "VOIDS", "VOID")?
            } else {
                (0..s.len() as i64).collect()
            };
            ids.into_iter().zip(s).collect()
        } else {
            Vec::new()
        };
        CatalogKind::V2(V2Voids {
            zone_void: (0..zone.len()).map(|i| (zone[i], v0[i], v1[i])).collect(),
            gal_zone,
            gal_targetid,
            gal_xyz_mpc_h,
            gal_edge: opt("EDGE")?,
            gal_out: opt("OUT")?,
            voids,
        })
    } else {
        let names: Vec<String> = fits.hdus().iter().map(|h| h.name()).collect();
        bail!(
            "{}: not a void catalog (HDUs {}); expected MAXIMALS + HOLES (VoidFinder) or ZONEVOID + GALZONE (V2)",
            path.display(),
            names.join(", ")
        );
    };
    let algorithm = match (algorithm, &kind) {
        (Some(a), _) => a,
        (None, CatalogKind::VoidFinder(_)) => "VoidFinder".to_string(),
        (None, CatalogKind::V2(_)) => bail!(
            "{}: which V2 algorithm is this? Neither the header (ALGORITHM/METHOD) nor the file name names REVOLVER, VIDE or ZOBOV; rename the file (DESIVAST names contain it)",
            path.display()
        ),
    };
    Ok(VoidCatalog {
        algorithm,
        cap,
        omega_m,
        dist_limits_mpc_h,
        mask,
        kind,
    })
}

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
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let pick = |has: &dyn Fn(&str) -> bool, names: &[&str]| {
        names.iter().find(|n| has(n)).map(|n| n.to_string())
    };
    let (ra, dec, z, tid) = if is_csv {
        let t = astrolab_formats::read_csv_columns(path)
            .with_context(|| format!("reading {}", path.display()))?;
        let has = |n: &str| t.has_column(n);
        let need = |names: &[&str], what: &str| {
            pick(&has, names).ok_or_else(|| {
                anyhow!(
                    "{}: no {what} column (looked for {})",
                    path.display(),
                    names.join(", ")
                )
            })
        };
        let (rc, dc, zc) = (
            need(&["ra", "target_ra"], "RA")?,
            need(&["dec", "target_dec"], "Dec")?,
            need(&["z", "redshift"], "redshift")?,
        );
        let tid = match pick(&has, &["targetid", "target_id"]) {
            Some(c) => Some(
                t.column_i64_opt(&c)?
                    .into_iter()
                    .map(|v| v.unwrap_or(-1))
                    .collect::<Vec<i64>>(),
            ),
            None => None,
        };
        (
            t.column_f64(&rc)?,
            t.column_f64(&dc)?,
            t.column_f64(&zc)?,
            tid,
        )
    } else {
        let fits = FitsFile::open(path).with_context(|| format!("opening {}", path.display()))?;
        let t = fits
            .first_table()
            .with_context(|| format!("{}: no table HDU", path.display()))?;
        let has = |n: &str| t.has_column(n);
        let need = |names: &[&str], what: &str| {
            pick(&has, names).ok_or_else(|| {
                anyhow!(
                    "{}: HDU {}: no {what} column (looked for {})",
                    path.display(),
                    t.hdu().name(),
                    names.join(", ")
                )
            })
        };
        let (rc, dc, zc) = (
            need(&["ra", "target_ra"], "RA")?,
            need(&["dec", "target_dec"], "Dec")?,
            need(&["z", "redshift"], "redshift")?,
        );
        let tid = match pick(&has, &["targetid", "target_id"]) {
            Some(c) => Some(t.read_i64(&c)?),
            None => None,
        };
        (t.read_f64(&rc)?, t.read_f64(&dc)?, t.read_f64(&zc)?, tid)
    };
    let n = ra.len();
    Ok(Galaxies {
        target_id: tid.unwrap_or_else(|| (0..n as i64).collect()),
        ra_deg: ra,
        dec_deg: dec,
        z,
        file_id: vec![file_id; n],
        source: path.display().to_string(),
    })
}

/// Galaxies from a store table: `fastspec`, `zcatalog` (SPECTYPE GALAXY) or
/// `galaxies` (row number when TARGETID is NULL).
pub fn read_galaxy_table(store: &mut astrolab_store::Store, table: &str) -> Result<Galaxies> {
    if !["fastspec", "zcatalog", "galaxies"].contains(&table) {
        bail!("--galaxies-table {table}: choose fastspec, zcatalog or galaxies");
    }
    let mut t = store.galaxy_rows(table)?;
    // Columns file_id, id, ra, dec, z -> id, ra, dec, z, file_id.
    for r in t.rows.iter_mut() {
        r.rotate_left(1);
    }
    let mut g = Galaxies {
        source: format!("store table {table}"),
        ..Default::default()
    };
    for r in &t.rows {
        g.target_id.push(r[0].as_i64().unwrap_or(-1));
        g.ra_deg.push(r[1].as_f64().unwrap_or(f64::NAN));
        g.dec_deg.push(r[2].as_f64().unwrap_or(f64::NAN));
        g.z.push(r[3].as_f64().unwrap_or(f64::NAN));
        g.file_id.push(r[4].as_i64());
    }
    Ok(g)
}

/// The footprint for a catalog: its MASK HDU with its radial limits, else
/// the HEALPix cells (depth `depth`) occupied by `g` between the header's
/// (or the galaxies') distance limits.
pub fn footprint(
    cat: &VoidCatalog,
    g_ra: &[f64],
    g_dec: &[f64],
    g_dist: &[f64],
    depth: u8,
) -> Result<SurveyMask> {
    let limits = match cat.dist_limits_mpc_h {
        Some(l) => l,
        None => {
            let (lo, hi) = g_dist
                .iter()
                .filter(|d| d.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &d| {
                    (a.min(d), b.max(d))
                });
            if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
                bail!("no galaxy with a finite redshift to set the radial limits from");
            }
            (lo, hi)
        }
    };
    let fp = match &cat.mask {
        Some(grid) => astrolab_voids::mask::Footprint::RaDec(grid.clone()),
        None => astrolab_voids::mask::Footprint::Healpix(
            astrolab_voids::mask::HealpixFootprint::from_galaxies(g_ra, g_dec, depth)
                .context("building the footprint from the galaxies")?,
        ),
    };
    Ok(SurveyMask::sky(fp, limits.0, limits.1)?)
}
