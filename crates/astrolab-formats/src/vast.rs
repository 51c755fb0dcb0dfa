//! VAST's VoidFinder output file (`*_VoidFinder_Output.fits`), written and
//! read back.
//!
//! Layout of VAST 1.x (`vast/voidfinder/postprocessing.py`:
//! `save_output_from_preprocessing`, `..._filter_galaxies`,
//! `..._wall_field_separation`, `append_mask`, `save_output_from_find_voids`),
//! which the DESIVAST VoidFinder catalogues also follow:
//!
//! | HDU | content |
//! |---|---|
//! | PRIMARY | run keywords: INFILE METRIC DLIML DLIMU ZLIML ZLIMU OMEGAM HP RMISO MAGCUT NNS NNSA NNSS DUPL MSKRES COVSTR COVDEG VOLUME GALAXY WALLNUM FIELDNUM DENSITY AVSEP VOID CHKE MHMO HGEL GOX GOY GOZ MMR PPUV NCPU BS |
//! | MASK | image `(360 n, 180 n)` (numpy shape: NAXIS1 = 180 n Dec cells, NAXIS2 = 360 n RA cells), 1 inside; MSKRES, SMMSK, COVSTR (sky runs only) |
//! | WALL, FIELD | X, Y, Z (Mpc/h); WALLNUM / FIELDNUM |
//! | MAXIMALS | X, Y, Z, RADIUS, VOID, EDGE, R, RA, DEC; VOID |
//! | HOLES | X, Y, Z, RADIUS, VOID; VOID, HOLE |
//!
//! Column names are upper case as in DESIVAST (VAST's
//! `capitalize_colnames=True`; astropy reads either case). VAST writes the
//! keyword MMR twice, the second time overwriting the minimum maximal radius
//! with the galaxy-map cell edge; here MMR is the minimum maximal radius and
//! the cell edge is GMEL. Reading accepts files without MASK, WALL or FIELD
//! (DESIVAST ships MAXIMALS and HOLES only).
//!
//! NCPU (the cores a run used) is read when present and written only when
//! [`VastHeader::cpus`] is set; `astrolab voids find` leaves it out, so that
//! its files do not depend on the machine (VAST's readers do not use it).
//!
//! [`read_void_catalog`] is the one reader of void catalogs: VoidFinder
//! files (this layout) and V2 files (REVOLVER, VIDE, ZOBOV: VOIDS,
//! ZONEVOID, GALZONE), with the algorithm and galactic cap identified from
//! the header or the file name ([`catalog_algorithm`], [`catalog_cap`]).

use std::path::{Path, PathBuf};

use crate::fits::{
    write_fits, Card, ColumnData, ColumnOut, FitsError, FitsFile, HduOut, ImageData,
};

/// Why a VoidFinder file cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum VastError {
    /// The FITS layer failed (names the file, HDU, column).
    #[error(transparent)]
    Fits(#[from] FitsError),
    /// A MASK HDU whose shape is not `(360 n, 180 n)`.
    #[error("{}: MASK: shape {shape:?} is not (360 n, 180 n) for MSKRES = {resolution}", .path.display())]
    MaskShape {
        path: PathBuf,
        shape: Vec<usize>,
        resolution: i64,
    },
    /// Inconsistent data handed to the writer.
    #[error("{}: {message}", .path.display())]
    Invalid { path: PathBuf, message: String },
}

/// One row of MAXIMALS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VastMaximal {
    pub center_mpc_h: [f64; 3],
    pub radius_mpc_h: f64,
    pub void: i64,
    /// 0 interior, 1 a hole crosses the mask, 2 near the mask edge.
    pub edge: i64,
    /// Distance of the centre (Mpc/h) and its direction.
    pub r_mpc_h: f64,
    pub ra_deg: f64,
    pub dec_deg: f64,
}

/// One row of HOLES.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VastHole {
    pub center_mpc_h: [f64; 3],
    pub radius_mpc_h: f64,
    pub void: i64,
}

/// The MASK image.
#[derive(Debug, Clone, PartialEq)]
pub struct VastMask {
    /// Cells per degree (MSKRES).
    pub resolution: i64,
    /// Row-major `(360 n, 180 n)`: `cells[i_ra * 180 n + j_dec]`.
    pub cells: Vec<bool>,
    /// SMMSK, when recorded.
    pub smoothed: Option<bool>,
    /// COVSTR (steradians).
    pub coverage_sr: f64,
}

/// The PRIMARY keywords. `None` leaves a keyword out (e.g. distance
/// limits of a periodic box).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VastHeader {
    pub infile: Option<String>,
    pub metric: Option<String>,
    pub dist_limits_mpc_h: Option<(f64, f64)>,
    pub z_limits: Option<(f64, f64)>,
    pub omega_m: Option<f64>,
    pub h: Option<f64>,
    pub isolated_removed: Option<bool>,
    pub mag_cut: Option<bool>,
    pub nth_neighbor: Option<i64>,
    pub nn_mean_mpc_h: Option<f64>,
    pub nn_std_mpc_h: Option<f64>,
    pub duplicates: Option<i64>,
    pub mask_resolution: Option<i64>,
    pub coverage_sr: Option<f64>,
    pub coverage_deg2: Option<f64>,
    pub volume_mpc3_h3: Option<f64>,
    pub galaxies: Option<i64>,
    pub wall: Option<i64>,
    pub field: Option<i64>,
    pub density_mpc3_h3: Option<f64>,
    pub avg_separation_mpc_h: Option<f64>,
    pub voids: Option<i64>,
    pub check_only_empty: Option<bool>,
    pub max_hole_mask_overlap: Option<f64>,
    pub hole_grid_edge_mpc_h: Option<f64>,
    pub grid_origin_mpc_h: Option<[f64; 3]>,
    pub min_maximal_radius_mpc_h: Option<f64>,
    pub galaxy_map_edge_mpc_h: Option<f64>,
    pub pts_per_unit_volume: Option<f64>,
    /// NCPU: never written by `astrolab voids find` (see the module docs).
    pub cpus: Option<i64>,
    pub batch_size: Option<i64>,
}

/// A whole VoidFinder output file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VastVoidFinder {
    pub header: VastHeader,
    pub mask: Option<VastMask>,
    pub wall_xyz: Vec<[f64; 3]>,
    pub field_xyz: Vec<[f64; 3]>,
    pub maximals: Vec<VastMaximal>,
    pub holes: Vec<VastHole>,
}

const MPC: &str = "Mpc/h";

/// (keyword, comment) of the PRIMARY keywords, as VAST writes them.
mod key {
    pub const INFILE: (&str, &str) = ("INFILE", "Input Galaxy Table");
    pub const METRIC: (&str, &str) = ("METRIC", "Distance Metric");
    pub const DLIML: (&str, &str) = ("DLIML", "Lower Distance Limit (Mpc/h)");
    pub const DLIMU: (&str, &str) = ("DLIMU", "Upper Distance Limit (Mpc/h)");
    pub const ZLIML: (&str, &str) = ("ZLIML", "Lower Redshift Limit");
    pub const ZLIMU: (&str, &str) = ("ZLIMU", "Upper Redshift Limit");
    pub const OMEGAM: (&str, &str) = ("OMEGAM", "Matter Density");
    pub const HP: (&str, &str) = ("HP", "Reduced Hubble Parameter h (((km/s)/Mpc)/100)");
    pub const RMISO: (&str, &str) = ("RMISO", "Isolated Galaxies Removed");
    pub const MAGCUT: (&str, &str) = ("MAGCUT", "Magnitude Cut Applied");
    pub const NNS: (&str, &str) = ("NNS", "Nth Neighbor Used for Wall-Field Separation");
    pub const NNSA: (&str, &str) = ("NNSA", "Average Nth Neighbor Separation (Mpc/h)");
    pub const NNSS: (&str, &str) = ("NNSS", "STD of Nth Neighbor Separation (Mpc/h)");
    pub const DUPL: (&str, &str) = ("DUPL", "Number of Duplicate Galaxies Removed");
    pub const MSKRES: (&str, &str) = ("MSKRES", "Mask Resolution");
    pub const COVSTR: (&str, &str) = ("COVSTR", "Sky Coverage (Steradians)");
    pub const COVDEG: (&str, &str) = ("COVDEG", "Sky Coverage (Degrees^2)");
    pub const VOLUME: (&str, &str) = ("VOLUME", "Survey Volume (Mpc/h)^3");
    pub const GALAXY: (&str, &str) = ("GALAXY", "Galaxy Count");
    pub const WALLNUM: (&str, &str) = ("WALLNUM", "Wall Galaxy Count");
    pub const FIELDNUM: (&str, &str) = ("FIELDNUM", "Field Galaxy Count");
    pub const DENSITY: (&str, &str) = ("DENSITY", "Galaxy Count Density (Mpc/h)^-3");
    pub const AVSEP: (&str, &str) = ("AVSEP", "Average Galaxy Separation (Mpc/h)");
    pub const VOID: (&str, &str) = ("VOID", "Void Count");
    pub const HOLE: (&str, &str) = ("HOLE", "Hole Count");
    pub const CHKE: (&str, &str) = ("CHKE", "Check Only Empty Cells");
    pub const MHMO: (&str, &str) = ("MHMO", "Max Hole Mask Overlap");
    pub const HGEL: (&str, &str) = ("HGEL", "Hole Grid Edge Length");
    pub const GOX: (&str, &str) = ("GOX", "Grid Origin X Coordinate");
    pub const GOY: (&str, &str) = ("GOY", "Grid Origin Y Coordinate");
    pub const GOZ: (&str, &str) = ("GOZ", "Grid Origin Z Coordinate");
    pub const MMR: (&str, &str) = ("MMR", "Minimum Allowed Maximal Radius");
    pub const GMEL: (&str, &str) = ("GMEL", "Edge Length of NN Grid");
    pub const PPUV: (&str, &str) = ("PPUV", "Points per Unit Volume");
    pub const NCPU: (&str, &str) = ("NCPU", "Number of CPUs");
    pub const BS: (&str, &str) = ("BS", "Batch Size");
    pub const SMMSK: (&str, &str) = ("SMMSK", "Smooth Mask");
}

fn fcard(k: (&str, &str), v: f64) -> Card {
    Card::float(k.0, v).with_comment(k.1)
}
fn icard(k: (&str, &str), v: i64) -> Card {
    Card::int(k.0, v).with_comment(k.1)
}
fn bcard(k: (&str, &str), v: bool) -> Card {
    Card::bool(k.0, v).with_comment(k.1)
}
fn scard(k: (&str, &str), v: &str) -> Card {
    Card::str(k.0, v).with_comment(k.1)
}

impl VastHeader {
    fn cards(&self) -> Vec<Card> {
        let h = self;
        let mut c = Vec::new();
        let s = |c: &mut Vec<Card>, k, v: &Option<String>| {
            if let Some(v) = v {
                c.push(scard(k, v));
            }
        };
        let b = |c: &mut Vec<Card>, k, v: Option<bool>| {
            if let Some(v) = v {
                c.push(bcard(k, v));
            }
        };
        let i = |c: &mut Vec<Card>, k, v: Option<i64>| {
            if let Some(v) = v {
                c.push(icard(k, v));
            }
        };
        let f = |c: &mut Vec<Card>, k, v: Option<f64>| {
            if let Some(v) = v {
                c.push(fcard(k, v));
            }
        };
        s(&mut c, key::INFILE, &h.infile);
        s(&mut c, key::METRIC, &h.metric);
        f(&mut c, key::DLIML, h.dist_limits_mpc_h.map(|d| d.0));
        f(&mut c, key::DLIMU, h.dist_limits_mpc_h.map(|d| d.1));
        f(&mut c, key::ZLIML, h.z_limits.map(|d| d.0));
        f(&mut c, key::ZLIMU, h.z_limits.map(|d| d.1));
        f(&mut c, key::OMEGAM, h.omega_m);
        f(&mut c, key::HP, h.h);
        b(&mut c, key::RMISO, h.isolated_removed);
        b(&mut c, key::MAGCUT, h.mag_cut);
        i(&mut c, key::NNS, h.nth_neighbor);
        f(&mut c, key::NNSA, h.nn_mean_mpc_h);
        f(&mut c, key::NNSS, h.nn_std_mpc_h);
        i(&mut c, key::DUPL, h.duplicates);
        i(&mut c, key::MSKRES, h.mask_resolution);
        f(&mut c, key::COVSTR, h.coverage_sr);
        f(&mut c, key::COVDEG, h.coverage_deg2);
        f(&mut c, key::VOLUME, h.volume_mpc3_h3);
        i(&mut c, key::GALAXY, h.galaxies);
        i(&mut c, key::WALLNUM, h.wall);
        i(&mut c, key::FIELDNUM, h.field);
        f(&mut c, key::DENSITY, h.density_mpc3_h3);
        f(&mut c, key::AVSEP, h.avg_separation_mpc_h);
        i(&mut c, key::VOID, h.voids);
        b(&mut c, key::CHKE, h.check_only_empty);
        f(&mut c, key::MHMO, h.max_hole_mask_overlap);
        f(&mut c, key::HGEL, h.hole_grid_edge_mpc_h);
        f(&mut c, key::GOX, h.grid_origin_mpc_h.map(|o| o[0]));
        f(&mut c, key::GOY, h.grid_origin_mpc_h.map(|o| o[1]));
        f(&mut c, key::GOZ, h.grid_origin_mpc_h.map(|o| o[2]));
        f(&mut c, key::MMR, h.min_maximal_radius_mpc_h);
        f(&mut c, key::GMEL, h.galaxy_map_edge_mpc_h);
        f(&mut c, key::PPUV, h.pts_per_unit_volume);
        i(&mut c, key::NCPU, h.cpus);
        i(&mut c, key::BS, h.batch_size);
        c
    }

    fn from_header(h: &crate::fits::Header) -> VastHeader {
        let f = |k: (&str, &str)| h.get_f64(k.0);
        let i = |k: (&str, &str)| h.get_i64(k.0);
        let b = |k: (&str, &str)| h.get_bool(k.0);
        let pair = |a, bb| match (f(a), f(bb)) {
            (Some(x), Some(y)) => Some((x, y)),
            _ => None,
        };
        VastHeader {
            infile: h.get_str(key::INFILE.0).map(str::to_string),
            metric: h.get_str(key::METRIC.0).map(str::to_string),
            dist_limits_mpc_h: pair(key::DLIML, key::DLIMU),
            z_limits: pair(key::ZLIML, key::ZLIMU),
            omega_m: f(key::OMEGAM),
            h: f(key::HP),
            isolated_removed: b(key::RMISO),
            mag_cut: b(key::MAGCUT),
            nth_neighbor: i(key::NNS),
            nn_mean_mpc_h: f(key::NNSA),
            nn_std_mpc_h: f(key::NNSS),
            duplicates: i(key::DUPL),
            mask_resolution: i(key::MSKRES),
            coverage_sr: f(key::COVSTR),
            coverage_deg2: f(key::COVDEG),
            volume_mpc3_h3: f(key::VOLUME),
            galaxies: i(key::GALAXY),
            wall: i(key::WALLNUM),
            field: i(key::FIELDNUM),
            density_mpc3_h3: f(key::DENSITY),
            avg_separation_mpc_h: f(key::AVSEP),
            voids: i(key::VOID),
            check_only_empty: b(key::CHKE),
            max_hole_mask_overlap: f(key::MHMO),
            hole_grid_edge_mpc_h: f(key::HGEL),
            grid_origin_mpc_h: match (f(key::GOX), f(key::GOY), f(key::GOZ)) {
                (Some(x), Some(y), Some(z)) => Some([x, y, z]),
                _ => None,
            },
            min_maximal_radius_mpc_h: f(key::MMR),
            galaxy_map_edge_mpc_h: f(key::GMEL),
            pts_per_unit_volume: f(key::PPUV),
            cpus: i(key::NCPU),
            batch_size: i(key::BS),
        }
    }
}

fn xyz_columns(p: &[[f64; 3]]) -> Vec<ColumnOut> {
    ["X", "Y", "Z"]
        .iter()
        .enumerate()
        .map(|(a, n)| {
            ColumnOut::new(*n, ColumnData::F64(p.iter().map(|q| q[a]).collect())).with_unit(MPC)
        })
        .collect()
}

/// Writes `file` to `path` atomically in VAST's layout.
pub fn write_vast_voidfinder(path: &Path, file: &VastVoidFinder) -> Result<(), VastError> {
    let mut hdus = vec![HduOut::Primary {
        header: file.header.cards(),
    }];
    if let Some(m) = &file.mask {
        let n = usize::try_from(m.resolution).unwrap_or(0);
        if n == 0 || m.cells.len() != 360 * 180 * n * n {
            return Err(VastError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "MASK: {} cells do not match MSKRES = {}",
                    m.cells.len(),
                    m.resolution
                ),
            });
        }
        let mut header = vec![icard(key::MSKRES, m.resolution)];
        if let Some(s) = m.smoothed {
            header.push(bcard(key::SMMSK, s));
        }
        header.push(fcard(key::COVSTR, m.coverage_sr));
        hdus.push(HduOut::Image {
            extname: "MASK".into(),
            header,
            shape: vec![360 * n, 180 * n],
            // VAST writes mask.astype(int): 64-bit integers.
            data: ImageData::I64(m.cells.iter().map(|&c| i64::from(c)).collect()),
        });
    }
    hdus.push(HduOut::Table {
        extname: Some("WALL".into()),
        header: vec![icard(key::WALLNUM, file.wall_xyz.len() as i64)],
        columns: xyz_columns(&file.wall_xyz),
    });
    hdus.push(HduOut::Table {
        extname: Some("FIELD".into()),
        header: vec![icard(key::FIELDNUM, file.field_xyz.len() as i64)],
        columns: xyz_columns(&file.field_xyz),
    });
    let m = &file.maximals;
    let mut maxcols = xyz_columns(&m.iter().map(|v| v.center_mpc_h).collect::<Vec<_>>());
    maxcols.extend([
        ColumnOut::new(
            "RADIUS",
            ColumnData::F64(m.iter().map(|v| v.radius_mpc_h).collect()),
        )
        .with_unit(MPC),
        ColumnOut::new("VOID", ColumnData::I64(m.iter().map(|v| v.void).collect())),
        ColumnOut::new("EDGE", ColumnData::I64(m.iter().map(|v| v.edge).collect())),
        ColumnOut::new("R", ColumnData::F64(m.iter().map(|v| v.r_mpc_h).collect())).with_unit(MPC),
        ColumnOut::new("RA", ColumnData::F64(m.iter().map(|v| v.ra_deg).collect()))
            .with_unit("deg"),
        ColumnOut::new(
            "DEC",
            ColumnData::F64(m.iter().map(|v| v.dec_deg).collect()),
        )
        .with_unit("deg"),
    ]);
    hdus.push(HduOut::Table {
        extname: Some("MAXIMALS".into()),
        header: vec![icard(key::VOID, m.len() as i64)],
        columns: maxcols,
    });
    let h = &file.holes;
    let mut holecols = xyz_columns(&h.iter().map(|v| v.center_mpc_h).collect::<Vec<_>>());
    holecols.extend([
        ColumnOut::new(
            "RADIUS",
            ColumnData::F64(h.iter().map(|v| v.radius_mpc_h).collect()),
        )
        .with_unit(MPC),
        ColumnOut::new("VOID", ColumnData::I64(h.iter().map(|v| v.void).collect())),
    ]);
    hdus.push(HduOut::Table {
        extname: Some("HOLES".into()),
        header: vec![
            icard(key::VOID, m.len() as i64),
            icard(key::HOLE, h.len() as i64),
        ],
        columns: holecols,
    });
    write_fits(path, &hdus)?;
    Ok(())
}

fn read_xyz(t: &crate::fits::BinTable<'_>) -> Result<Vec<[f64; 3]>, FitsError> {
    let x = t.read_f64("X")?;
    let y = t.read_f64("Y")?;
    let z = t.read_f64("Z")?;
    Ok(x.iter()
        .zip(&y)
        .zip(&z)
        .map(|((&x, &y), &z)| [x, y, z])
        .collect())
}

/// Reads a VoidFinder file written by VAST, DESIVAST or
/// [`write_vast_voidfinder`]. MAXIMALS and HOLES are required; MASK, WALL
/// and FIELD are read when present. Missing R/RA/DEC/EDGE columns (older
/// files) read as NaN / 0; a MAXIMALS table without VOID numbers its voids
/// by row, and HOLES may call the void FLAG (older VAST releases).
pub fn read_vast_voidfinder(path: &Path) -> Result<VastVoidFinder, VastError> {
    let fits = FitsFile::open(path)?;
    let header = VastHeader::from_header(&fits.hdu_at(0)?.header);
    let mask = read_mask(path, &fits)?;
    Ok(read_voidfinder_hdus(path, &fits, header, mask)?.0)
}

/// The MASK image, when the file has one. MSKRES is read from the MASK
/// header, else from the primary header (some DESIVAST files keep it there).
fn read_mask(path: &Path, fits: &FitsFile) -> Result<Option<VastMask>, VastError> {
    if !fits.has_hdu("MASK") {
        return Ok(None);
    }
    let hdu = fits.hdu("MASK")?;
    let resolution = hdu
        .header
        .get_i64(key::MSKRES.0)
        .or_else(|| fits.hdus()[0].header.get_i64(key::MSKRES.0))
        .ok_or_else(|| VastError::Invalid {
            path: path.to_path_buf(),
            message: "HDU MASK has no MSKRES keyword (cells per degree)".into(),
        })?;
    let (values, shape) = fits.read_image_f64("MASK")?;
    let n = usize::try_from(resolution).unwrap_or(0);
    if n == 0 || shape != [360 * n, 180 * n] {
        return Err(VastError::MaskShape {
            path: path.to_path_buf(),
            shape,
            resolution,
        });
    }
    Ok(Some(VastMask {
        resolution,
        cells: values.iter().map(|&v| v != 0.0).collect(),
        smoothed: hdu.header.get_bool(key::SMMSK.0),
        coverage_sr: hdu.header.get_f64(key::COVSTR.0).unwrap_or(f64::NAN),
    }))
}

/// The columns of a VoidFinder catalog that [`VastVoidFinder`] does not
/// hold: what DESIVAST adds to VAST's own output, and what it leaves out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VoidFinderExtras {
    /// Whether MAXIMALS has an EDGE column (when not, the EDGE of every
    /// [`VastMaximal`] reads 0 and the edge classes are still to be made).
    pub has_edge: bool,
    /// DESIVAST's effective radius R_EFF of each void (MAXIMALS row), Mpc/h.
    pub r_eff_mpc_h: Option<Vec<f64>>,
}

fn read_voidfinder_hdus(
    path: &Path,
    fits: &FitsFile,
    header: VastHeader,
    mask: Option<VastMask>,
) -> Result<(VastVoidFinder, VoidFinderExtras), VastError> {
    let wall_xyz = if fits.has_hdu("WALL") {
        read_xyz(&fits.table("WALL")?)?
    } else {
        Vec::new()
    };
    let field_xyz = if fits.has_hdu("FIELD") {
        read_xyz(&fits.table("FIELD")?)?
    } else {
        Vec::new()
    };
    let t = fits.table("MAXIMALS")?;
    let centers = read_xyz(&t)?;
    let n = centers.len();
    let radius = t.read_f64("RADIUS")?;
    let void = if t.has_column("VOID") {
        t.read_i64("VOID")?
    } else {
        (0..n as i64).collect()
    };
    let opt_f = |name: &str| -> Result<Vec<f64>, FitsError> {
        if t.has_column(name) {
            t.read_f64(name)
        } else {
            Ok(vec![f64::NAN; n])
        }
    };
    let has_edge = t.has_column("EDGE");
    let edge = if has_edge {
        t.read_i64("EDGE")?
    } else {
        vec![0; n]
    };
    let r_eff_mpc_h = if t.has_column("R_EFF") {
        Some(t.read_f64("R_EFF")?)
    } else {
        None
    };
    let (r, ra, dec) = (opt_f("R")?, opt_f("RA")?, opt_f("DEC")?);
    let maximals = (0..n)
        .map(|i| VastMaximal {
            center_mpc_h: centers[i],
            radius_mpc_h: radius[i],
            void: void[i],
            edge: edge[i],
            r_mpc_h: r[i],
            ra_deg: ra[i],
            dec_deg: dec[i],
        })
        .collect();
    let t = fits.table("HOLES")?;
    let centers = read_xyz(&t)?;
    let radius = t.read_f64("RADIUS")?;
    // VAST calls the hole's void FLAG in older releases, VOID now.
    let void = match ["VOID", "FLAG"].iter().find(|c| t.has_column(c)) {
        Some(c) => t.read_i64(c)?,
        None => {
            return Err(VastError::Invalid {
                path: path.to_path_buf(),
                message:
                    "HDU HOLES: no VOID (or FLAG) column: which void does each hole belong to?"
                        .into(),
            })
        }
    };
    let holes = centers
        .iter()
        .zip(&radius)
        .zip(&void)
        .map(|((&c, &r), &v)| VastHole {
            center_mpc_h: c,
            radius_mpc_h: r,
            void: v,
        })
        .collect();
    Ok((
        VastVoidFinder {
            header,
            mask,
            wall_xyz,
            field_xyz,
            maximals,
            holes,
        },
        VoidFinderExtras {
            has_edge,
            r_eff_mpc_h,
        },
    ))
}

/// The void-finding algorithms DESIVAST publishes.
pub const VOID_ALGORITHMS: [&str; 4] = ["VoidFinder", "REVOLVER", "VIDE", "ZOBOV"];

/// The algorithm of a void catalog: the first primary keyword among
/// ALGORITHM, ALGORTHM, METHOD and VOIDFIND naming one of
/// [`VOID_ALGORITHMS`], else the file name (DESIVAST names contain it).
pub fn catalog_algorithm(path: &Path, primary: &crate::fits::Header) -> Option<String> {
    for k in ["ALGORITHM", "ALGORTHM", "METHOD", "VOIDFIND"] {
        if let Some(v) = primary.get_str(k) {
            if let Some(a) = VOID_ALGORITHMS
                .iter()
                .find(|a| v.trim().eq_ignore_ascii_case(a))
            {
                return Some(a.to_string());
            }
        }
    }
    from_name(path, &VOID_ALGORITHMS)
}

/// The galactic cap of a void catalog, NGC or SGC, from the primary
/// keywords CAP, GALCAP or REGION, else the file name; `ALL` when neither
/// says.
pub fn catalog_cap(path: &Path, primary: &crate::fits::Header) -> String {
    for k in ["CAP", "GALCAP", "REGION"] {
        if let Some(v) = primary.get_str(k) {
            let v = v.trim().to_ascii_uppercase();
            if v == "NGC" || v == "SGC" {
                return v;
            }
        }
    }
    from_name(path, &["NGC", "SGC"]).unwrap_or_else(|| "ALL".to_string())
}

fn from_name(path: &Path, choices: &[&str]) -> Option<String> {
    let name = path.file_name()?.to_str()?.to_ascii_uppercase();
    choices
        .iter()
        .find(|a| name.contains(&a.to_ascii_uppercase()))
        .map(|a| a.to_string())
}

/// One row of a V2 VOIDS table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct V2Void {
    /// VOID (the row number when the table has no VOID column).
    pub void: i64,
    pub center_mpc_h: [f64; 3],
    pub radius_mpc_h: f64,
}

/// A V2 catalog (REVOLVER, VIDE, ZOBOV): VOIDS, ZONEVOID and GALZONE.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct V2Catalog {
    /// VOIDS (empty when the file has none).
    pub voids: Vec<V2Void>,
    /// ZONEVOID rows: (ZONE, VOID0, VOID1).
    pub zone_void: Vec<(i64, i64, i64)>,
    /// GALZONE ZONE of each galaxy.
    pub gal_zone: Vec<i64>,
    /// GALZONE TARGETID (or TARGET), when present.
    pub gal_targetid: Option<Vec<i64>>,
    /// GALZONE X, Y, Z (Mpc/h), when present.
    pub gal_xyz_mpc_h: Option<Vec<[f64; 3]>>,
    /// GALZONE EDGE, when present.
    pub gal_edge: Option<Vec<i64>>,
    /// GALZONE OUT, when present.
    pub gal_out: Option<Vec<i64>>,
}

/// What a void catalog holds.
#[derive(Debug, Clone, PartialEq)]
pub enum VoidCatalogKind {
    /// MAXIMALS + HOLES (VAST or DESIVAST VoidFinder).
    VoidFinder(VastVoidFinder, VoidFinderExtras),
    /// VOIDS + ZONEVOID + GALZONE, with the primary keywords and MASK.
    V2(VastHeader, Option<VastMask>, V2Catalog),
}

/// A DESIVAST or VAST void catalog file: the one model of these files
/// (`voids classify`, `voids find --mask` and the store's ingest read
/// them through it).
#[derive(Debug, Clone, PartialEq)]
pub struct VoidCatalogFile {
    /// The algorithm ([`catalog_algorithm`]); `None` when neither the
    /// header nor the file name says.
    pub algorithm: Option<String>,
    /// NGC, SGC or ALL ([`catalog_cap`]).
    pub cap: String,
    /// The voids.
    pub kind: VoidCatalogKind,
}

impl VoidCatalogFile {
    /// The PRIMARY keywords (OMEGAM, DLIML/DLIMU, ...).
    pub fn header(&self) -> &VastHeader {
        match &self.kind {
            VoidCatalogKind::VoidFinder(v, _) => &v.header,
            VoidCatalogKind::V2(h, _, _) => h,
        }
    }
    /// The MASK HDU, when present.
    pub fn mask(&self) -> Option<&VastMask> {
        match &self.kind {
            VoidCatalogKind::VoidFinder(v, _) => v.mask.as_ref(),
            VoidCatalogKind::V2(_, m, _) => m.as_ref(),
        }
    }
}

/// Reads a VoidFinder (MAXIMALS + HOLES) or V2 (ZONEVOID + GALZONE, VOIDS
/// when present) catalog; any other file is refused naming its HDUs.
pub fn read_void_catalog(path: &Path) -> Result<VoidCatalogFile, VastError> {
    let fits = FitsFile::open(path)?;
    let primary = &fits.hdu_at(0)?.header;
    let header = VastHeader::from_header(primary);
    let algorithm = catalog_algorithm(path, primary);
    let cap = catalog_cap(path, primary);
    let mask = read_mask(path, &fits)?;
    let kind = if fits.has_hdu("MAXIMALS") && fits.has_hdu("HOLES") {
        let (v, extras) = read_voidfinder_hdus(path, &fits, header, mask)?;
        VoidCatalogKind::VoidFinder(v, extras)
    } else if fits.has_hdu("ZONEVOID") && fits.has_hdu("GALZONE") {
        VoidCatalogKind::V2(header, mask, read_v2_hdus(&fits)?)
    } else {
        let names: Vec<String> = fits.hdus().iter().map(|h| h.name()).collect();
        return Err(VastError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "not a void catalog (HDUs {}); expected MAXIMALS + HOLES (VoidFinder) or ZONEVOID + GALZONE (V2)",
                names.join(", ")
            ),
        });
    };
    Ok(VoidCatalogFile {
        algorithm,
        cap,
        kind,
    })
}

fn read_v2_hdus(fits: &FitsFile) -> Result<V2Catalog, FitsError> {
    let zv = fits.table("ZONEVOID")?;
    let zone = zv.read_i64("ZONE")?;
    let v0 = zv.read_i64("VOID0")?;
    let v1 = zv.read_i64("VOID1")?;
    let gz = fits.table("GALZONE")?;
    let gal_zone = gz.read_i64("ZONE")?;
    let gal_targetid = match ["TARGETID", "TARGET"].iter().find(|c| gz.has_column(c)) {
        Some(c) => Some(gz.read_i64(c)?),
        None => None,
    };
    let gal_xyz_mpc_h = if ["X", "Y", "Z"].iter().all(|c| gz.has_column(c)) {
        Some(read_xyz(&gz)?)
    } else {
        None
    };
    let opt = |c: &str| -> Result<Option<Vec<i64>>, FitsError> {
        Ok(if gz.has_column(c) {
            Some(gz.read_i64(c)?)
        } else {
            None
        })
    };
    let voids = if fits.has_hdu("VOIDS") {
        let vt = fits.table("VOIDS")?;
        let centers = read_xyz(&vt)?;
        let radius = vt.read_f64("RADIUS")?;
        let ids = if vt.has_column("VOID") {
            vt.read_i64("VOID")?
        } else {
            (0..centers.len() as i64).collect()
        };
        (0..centers.len())
            .map(|i| V2Void {
                void: ids[i],
                center_mpc_h: centers[i],
                radius_mpc_h: radius[i],
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(V2Catalog {
        voids,
        zone_void: (0..zone.len()).map(|i| (zone[i], v0[i], v1[i])).collect(),
        gal_zone,
        gal_targetid,
        gal_xyz_mpc_h,
        gal_edge: opt("EDGE")?,
        gal_out: opt("OUT")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vf.fits");
        let mut cells = vec![false; 360 * 180];
        cells[150 * 180 + 120] = true;
        let file = VastVoidFinder {
            header: VastHeader {
                infile: Some("cat.fits".into()),
                metric: Some("comoving".into()),
                dist_limits_mpc_h: Some((0.0, 300.0)),
                omega_m: Some(0.26),
                h: Some(1.0),
                isolated_removed: Some(true),
                voids: Some(1),
                grid_origin_mpc_h: Some([-1.0, 2.0, 3.5]),
                ..VastHeader::default()
            },
            mask: Some(VastMask {
                resolution: 1,
                cells,
                smoothed: Some(true),
                coverage_sr: 0.5,
            }),
            wall_xyz: vec![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
            field_xyz: vec![[7.0, 8.0, 9.0]],
            maximals: vec![VastMaximal {
                center_mpc_h: [1.0, 1.0, 1.0],
                radius_mpc_h: 12.0,
                void: 0,
                edge: 2,
                r_mpc_h: 3f64.sqrt(),
                ra_deg: 45.0,
                dec_deg: 35.26,
            }],
            holes: vec![
                VastHole {
                    center_mpc_h: [1.0, 1.0, 1.0],
                    radius_mpc_h: 12.0,
                    void: 0,
                },
                VastHole {
                    center_mpc_h: [2.0, 1.0, 1.0],
                    radius_mpc_h: 8.0,
                    void: 0,
                },
            ],
        };
        write_vast_voidfinder(&path, &file).unwrap();
        let back = read_vast_voidfinder(&path).unwrap();
        assert_eq!(back, file);
        let fits = FitsFile::open(&path).unwrap();
        let names: Vec<String> = fits.hdus()[1..].iter().map(|h| h.name()).collect();
        assert_eq!(names, ["MASK", "WALL", "FIELD", "MAXIMALS", "HOLES"]);
        assert_eq!(fits.hdu("HOLES").unwrap().header.get_i64("HOLE"), Some(2));
    }
}
