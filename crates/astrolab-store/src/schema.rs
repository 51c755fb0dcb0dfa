//! The catalog tables, declared once.
//!
//! Each [`TableSpec`] names a table of the store, its columns with their
//! types, and where each column comes from in the source file (HDU and FITS
//! column, or computed at load time). The ingest code reads FITS columns
//! through these specs, the loaders bind values by these types, the query
//! layer validates `--where` column names against them, and a test checks
//! that the migrations in `migrations/` create exactly these columns.

/// Storage type of a column, mapped to each backend's SQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    /// 64-bit integer (SQLite INTEGER, PostgreSQL BIGINT).
    I64,
    /// Double precision float (SQLite REAL, PostgreSQL DOUBLE PRECISION).
    F64,
    /// Text (both TEXT).
    Text,
    /// Boolean (SQLite INTEGER 0/1, PostgreSQL BOOLEAN).
    Bool,
}

/// Where a column's values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A FITS column of the format's main HDU, by name (case-insensitive).
    /// `required` columns missing from the file are an error; optional ones
    /// are loaded as NULL.
    Fits {
        column: &'static str,
        required: bool,
    },
    /// Filled by the loader (file id, HEALPix index, algorithm, ...).
    Computed,
}

/// One column of a table.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    /// Column name in the store (lower case).
    pub name: &'static str,
    /// Storage type.
    pub ty: ColType,
    /// Origin of the values.
    pub source: Source,
}

/// One table of the store.
#[derive(Debug)]
pub struct TableSpec {
    /// Table name.
    pub name: &'static str,
    /// True when the table has `ra`, `dec` and `hpx` columns and can be
    /// searched by position.
    pub sky: bool,
    /// Columns in table order.
    pub columns: &'static [ColumnSpec],
}

impl TableSpec {
    /// Looks a column up by (case-insensitive) name.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Column names in table order.
    pub fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.name).collect()
    }
}

const fn req(name: &'static str, ty: ColType, column: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        ty,
        source: Source::Fits {
            column,
            required: true,
        },
    }
}

const fn opt(name: &'static str, ty: ColType, column: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        ty,
        source: Source::Fits {
            column,
            required: false,
        },
    }
}

pub(crate) const fn computed(name: &'static str, ty: ColType) -> ColumnSpec {
    ColumnSpec {
        name,
        ty,
        source: Source::Computed,
    }
}

use ColType::{Bool, Text, F64, I64};

/// DESI zcatalog v1 (`zpix-*.fits`, `zall-pix-*.fits`), HDU ZCATALOG.
pub static ZCATALOG: TableSpec = TableSpec {
    name: "zcatalog",
    sky: true,
    columns: &[
        computed("file_id", I64),
        req("targetid", I64, "TARGETID"),
        opt("survey", Text, "SURVEY"),
        opt("program", Text, "PROGRAM"),
        opt("healpix", I64, "HEALPIX"),
        req("ra", F64, "TARGET_RA"),
        req("dec", F64, "TARGET_DEC"),
        req("z", F64, "Z"),
        opt("zerr", F64, "ZERR"),
        req("zwarn", I64, "ZWARN"),
        opt("chi2", F64, "CHI2"),
        req("spectype", Text, "SPECTYPE"),
        opt("subtype", Text, "SUBTYPE"),
        opt("deltachi2", F64, "DELTACHI2"),
        opt("coadd_fiberstatus", I64, "COADD_FIBERSTATUS"),
        opt("desi_target", I64, "DESI_TARGET"),
        opt("bgs_target", I64, "BGS_TARGET"),
        opt("mws_target", I64, "MWS_TARGET"),
        opt("scnd_target", I64, "SCND_TARGET"),
        opt("zcat_primary", Bool, "ZCAT_PRIMARY"),
        opt("zcat_nspec", I64, "ZCAT_NSPEC"),
        opt("tsnr2_bgs", F64, "TSNR2_BGS"),
        computed("hpx", I64),
    ],
};

/// Redrock output (`redrock-*.fits`): REDSHIFTS joined with FIBERMAP on
/// TARGETID (RA/Dec and fibre status come from FIBERMAP).
pub static REDSHIFTS: TableSpec = TableSpec {
    name: "redshifts",
    sky: true,
    columns: &[
        computed("file_id", I64),
        req("targetid", I64, "TARGETID"),
        computed("ra", F64),
        computed("dec", F64),
        req("z", F64, "Z"),
        opt("zerr", F64, "ZERR"),
        req("zwarn", I64, "ZWARN"),
        opt("chi2", F64, "CHI2"),
        req("spectype", Text, "SPECTYPE"),
        opt("subtype", Text, "SUBTYPE"),
        opt("deltachi2", F64, "DELTACHI2"),
        computed("coadd_fiberstatus", I64),
        computed("hpx", I64),
    ],
};

/// FastSpecFit v3.0: METADATA, SPECPHOT and FASTSPEC joined on TARGETID.
/// Sources name the HDU-less FITS column; the ingest code knows which HDU
/// each comes from (see `ingest::fastspec`).
pub static FASTSPEC: TableSpec = TableSpec {
    name: "fastspec",
    sky: true,
    columns: &[
        computed("file_id", I64),
        req("targetid", I64, "TARGETID"),
        opt("survey", Text, "SURVEY"),
        opt("program", Text, "PROGRAM"),
        opt("healpix", I64, "HEALPIX"),
        req("ra", F64, "RA"),
        req("dec", F64, "DEC"),
        req("z", F64, "Z"),
        opt("zwarn", I64, "ZWARN"),
        opt("deltachi2", F64, "DELTACHI2"),
        opt("spectype", Text, "SPECTYPE"),
        req("logmstar", F64, "LOGMSTAR"),
        opt("logmstar_ivar", F64, "LOGMSTAR_IVAR"),
        req("sfr", F64, "SFR"),
        opt("sfr_ivar", F64, "SFR_IVAR"),
        opt("age", F64, "AGE"),
        opt("zzsun", F64, "ZZSUN"),
        opt("dn4000", F64, "DN4000"),
        opt("dn4000_ivar", F64, "DN4000_IVAR"),
        opt("oiii_5007_flux", F64, "OIII_5007_FLUX"),
        opt("oiii_5007_flux_ivar", F64, "OIII_5007_FLUX_IVAR"),
        opt("halpha_flux", F64, "HALPHA_FLUX"),
        opt("hbeta_flux", F64, "HBETA_FLUX"),
        opt("nii_6584_flux", F64, "NII_6584_FLUX"),
        computed("hpx", I64),
    ],
};

/// A plain galaxy table (RA, Dec, redshift), such as the VAST/VoidFinder
/// input `vollim_dr7_cbp_102709.fits` or any FITS/CSV list of positions.
pub static GALAXIES: TableSpec = TableSpec {
    name: "galaxies",
    sky: true,
    columns: &[
        computed("file_id", I64),
        computed("row_index", I64),
        computed("targetid", I64),
        computed("ra", F64),
        computed("dec", F64),
        computed("z", F64),
        computed("weight", F64),
        computed("hpx", I64),
    ],
};

/// VoidFinder maximal spheres (DESIVAST/VAST HDU MAXIMALS).
pub static VOIDFINDER_MAXIMALS: TableSpec = TableSpec {
    name: "voidfinder_maximals",
    sky: true,
    columns: &[
        computed("file_id", I64),
        computed("algorithm", Text),
        computed("cap", Text),
        req("void_id", I64, "VOID"),
        req("x", F64, "X"),
        req("y", F64, "Y"),
        req("z", F64, "Z"),
        req("radius_mpc_h", F64, "RADIUS"),
        opt("r_mpc_h", F64, "R"),
        computed("ra", F64),
        computed("dec", F64),
        opt("edge", I64, "EDGE"),
        computed("hpx", I64),
    ],
};

/// VoidFinder holes (DESIVAST/VAST HDU HOLES).
pub static VOIDFINDER_HOLES: TableSpec = TableSpec {
    name: "voidfinder_holes",
    sky: true,
    columns: &[
        computed("file_id", I64),
        computed("algorithm", Text),
        computed("cap", Text),
        req("void_id", I64, "VOID"),
        req("x", F64, "X"),
        req("y", F64, "Y"),
        req("z", F64, "Z"),
        req("radius_mpc_h", F64, "RADIUS"),
        computed("ra", F64),
        computed("dec", F64),
        computed("hpx", I64),
    ],
};

/// V2 (REVOLVER, VIDE, ZOBOV) voids, HDU VOIDS.
pub static V2_VOIDS: TableSpec = TableSpec {
    name: "v2_voids",
    sky: true,
    columns: &[
        computed("file_id", I64),
        computed("algorithm", Text),
        computed("cap", Text),
        computed("void_id", I64),
        req("x", F64, "X"),
        req("y", F64, "Y"),
        req("z", F64, "Z"),
        opt("redshift", F64, "REDSHIFT"),
        computed("ra", F64),
        computed("dec", F64),
        req("radius_mpc_h", F64, "RADIUS"),
        computed("hpx", I64),
    ],
};

/// V2 zone-to-void map, HDU ZONEVOID.
pub static V2_ZONEVOID: TableSpec = TableSpec {
    name: "v2_zonevoid",
    sky: false,
    columns: &[
        computed("file_id", I64),
        computed("algorithm", Text),
        computed("cap", Text),
        req("zone", I64, "ZONE"),
        req("void0", I64, "VOID0"),
        req("void1", I64, "VOID1"),
    ],
};

/// V2 galaxy-to-zone map, HDU GALZONE.
pub static V2_GALZONE: TableSpec = TableSpec {
    name: "v2_galzone",
    sky: false,
    columns: &[
        computed("file_id", I64),
        computed("algorithm", Text),
        computed("cap", Text),
        computed("gal", I64),
        opt("targetid", I64, "TARGETID"),
        req("zone", I64, "ZONE"),
        opt("depth", I64, "DEPTH"),
        opt("edge", I64, "EDGE"),
        opt("out_flag", I64, "OUT"),
    ],
};

/// Every catalog table, in load order.
pub static TABLES: &[&TableSpec] = &[
    &ZCATALOG,
    &REDSHIFTS,
    &FASTSPEC,
    &GALAXIES,
    &VOIDFINDER_MAXIMALS,
    &VOIDFINDER_HOLES,
    &V2_VOIDS,
    &V2_ZONEVOID,
    &V2_GALZONE,
];

/// Looks a catalog table up by name.
pub fn table(name: &str) -> Option<&'static TableSpec> {
    TABLES
        .iter()
        .copied()
        .find(|t| t.name.eq_ignore_ascii_case(name))
}
