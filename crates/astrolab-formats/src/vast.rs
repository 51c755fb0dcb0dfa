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
/// files) read as NaN / 0.
pub fn read_vast_voidfinder(path: &Path) -> Result<VastVoidFinder, VastError> {
    let fits = FitsFile::open(path)?;
    let header = VastHeader::from_header(&fits.hdu_at(0)?.header);
    let mask = if fits.has_hdu("MASK") {
        let hdu = fits.hdu("MASK")?;
        let resolution = hdu.header.get_i64(key::MSKRES.0).unwrap_or(1);
        let (values, shape) = fits.read_image_f64("MASK")?;
        let n = usize::try_from(resolution).unwrap_or(0);
        if shape != [360 * n, 180 * n] {
            return Err(VastError::MaskShape {
                path: path.to_path_buf(),
                shape,
                resolution,
            });
        }
        Some(VastMask {
            resolution,
            cells: values.iter().map(|&v| v != 0.0).collect(),
            smoothed: hdu.header.get_bool(key::SMMSK.0),
            coverage_sr: hdu.header.get_f64(key::COVSTR.0).unwrap_or(f64::NAN),
        })
    } else {
        None
    };
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
    let void = t.read_i64("VOID")?;
    let opt_f = |name: &str| -> Result<Vec<f64>, FitsError> {
        if t.has_column(name) {
            t.read_f64(name)
        } else {
            Ok(vec![f64::NAN; n])
        }
    };
    let edge = if t.has_column("EDGE") {
        t.read_i64("EDGE")?
    } else {
        vec![0; n]
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
    let void = t.read_i64("VOID")?;
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
    Ok(VastVoidFinder {
        header,
        mask,
        wall_xyz,
        field_xyz,
        maximals,
        holes,
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
