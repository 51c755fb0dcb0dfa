//! Writing the synthetic sky as the files the lab downloads from DESI:
//! the zcatalog v1 redshift catalog, the FastSpecFit v3.0 VAC and the
//! DESIVAST void catalogs, plus the truth (`truth.json`,
//! `truth_galaxies.csv`).
//!
//! Data models followed (column names, order, types, HDU names):
//! - zpix: desidatamodel `DESI_SPECTRO_REDUX/SPECPROD/zcatalog/v1/
//!   zpix-SURVEY-PROGRAM.rst` (HDUs PRIMARY, ZCATALOG; a subset of its
//!   columns, in its order). EXP_FIBERMAP is not written (per-exposure
//!   metadata the lab does not use) and neither is COEFF (redrock template
//!   coefficients, meaningless without templates).
//! - FastSpecFit: `fastspecfit/doc/fastspec.rst` of the v3 data model,
//!   HDUs PRIMARY, METADATA, SPECPHOT, FASTSPEC in that order, same rows in
//!   each; MODELS (model spectra) is not written. Columns are a subset. Two
//!   departures, both forced: METADATA ZWARN is int16 where FastSpecFit has
//!   int8 (the FITS writer has no signed byte), and the merged file name
//!   `...-nside1-hp00.fits` is kept for a sky that real DESI would put in
//!   other NSIDE = 1 pixels (see `DemoConfig::fastspec_split_nside1`).
//! - DESIVAST: VAST `voidfinder/postprocessing.py` (MAXIMALS: X, Y, Z,
//!   RADIUS, VOID, EDGE, R, RA, DEC, R_EFF, R_EFF_UNCERT; HOLES: X, Y, Z,
//!   RADIUS, VOID) and `vsquared/zobov.py` (VOIDS with the visualisation
//!   columns TOT_AREA/EDGE_AREA as in the DR1 files, ZONEVOID, GALZONE with
//!   TARGET); primary keywords as VAST writes them (OMEGAM, HP, DLIML, ...).
//!   The TRIANGLE and GALVIZ visualisation HDUs of the REVOLVER/VIDE files
//!   are not written.
//!
//! No keyword depends on the time of the run (no DATE), so the same config
//! gives the same bytes.

use std::fs;
use std::path::{Path, PathBuf};

use astrolab_formats::{write_fits, Card, ColumnData, ColumnOut, HduOut};
use serde::Serialize;

use crate::finders::{V2Catalog, VoidFinderCatalog};
use crate::lines::LINE_NAMES;
use crate::sky::{SyntheticSky, HEALPIX_NSIDE};
use crate::targets::Spectrum;
use crate::DemoError;

/// One file written by [`crate::generate_sky`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoFile {
    pub path: PathBuf,
    /// `zcatalog`, `fastspecfit`, `desivast-voidfinder`, `desivast-v2`,
    /// `coadd`, `redrock`, `spectra-truth-json`, `spectra-truth-csv`,
    /// `truth-json` or `truth-csv`.
    pub kind: &'static str,
    /// Rows of the main table (ZCATALOG, FastSpecFit tables, MAXIMALS,
    /// VOIDS, spectra of a coadd or redrock file, rarities, planted voids,
    /// galaxies).
    pub rows: usize,
}

/// What [`crate::generate_sky`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoSummary {
    pub files: Vec<DemoFile>,
    pub n_galaxies: usize,
    pub n_planted_voids: usize,
    pub truth_path: PathBuf,
}

pub const ZCATALOG_FILE: &str = "zpix-main-bright.fits";
pub const FASTSPEC_FILE: &str = "fastspec-iron-main-bright-nside1-hp00.fits";
pub const TRUTH_JSON: &str = "truth.json";
pub const TRUTH_CSV: &str = "truth_galaxies.csv";

/// Name of a DESIVAST file for this footprint's galactic cap.
pub fn desivast_file(algorithm: &str, cap: &str) -> String {
    if algorithm == "VoidFinder" {
        format!("DESIVAST_BGS_VOLLIM_VoidFinder_{cap}.fits")
    } else {
        format!("DESIVAST_BGS_VOLLIM_V2_{algorithm}_{cap}.fits")
    }
}

/// `NGC` when the footprint centre has positive Galactic latitude.
pub(crate) fn galactic_cap(sky: &SyntheticSky) -> &'static str {
    let f = &sky.config.footprint;
    let ra = 0.5 * (f.ra_min_deg + f.ra_max_deg);
    let dec = 0.5 * (f.dec_min_deg + f.dec_max_deg);
    let (_, b) = astrolab_sky::icrs_to_galactic(ra, dec);
    if b >= 0.0 {
        "NGC"
    } else {
        "SGC"
    }
}

// Column helpers: one line per column below.
fn f64c(name: &str, v: Vec<f64>) -> ColumnOut {
    ColumnOut::new(name, ColumnData::F64(v))
}
fn f32c(name: &str, v: Vec<f32>) -> ColumnOut {
    ColumnOut::new(name, ColumnData::F32(v))
}
fn i64c(name: &str, v: Vec<i64>) -> ColumnOut {
    ColumnOut::new(name, ColumnData::I64(v))
}
fn i32c(name: &str, v: Vec<i32>) -> ColumnOut {
    ColumnOut::new(name, ColumnData::I32(v))
}
fn i16c(name: &str, v: Vec<i16>) -> ColumnOut {
    ColumnOut::new(name, ColumnData::I16(v))
}
fn boolc(name: &str, v: Vec<bool>) -> ColumnOut {
    ColumnOut::new(name, ColumnData::Bool(v))
}
fn strc(name: &str, width: usize, v: Vec<String>) -> ColumnOut {
    ColumnOut::new(name, ColumnData::Str { width, values: v })
}
fn consts(n: usize, s: &str) -> Vec<String> {
    vec![s.to_string(); n]
}

pub(crate) fn provenance(sky: &SyntheticSky) -> Vec<Card> {
    vec![
        Card::str(
            "ORIGIN",
            concat!("astrolab-demo ", env!("CARGO_PKG_VERSION")),
        )
        .with_comment("synthetic data, not DESI observations"),
        Card::int("DEMOSEED", sky.config.seed as i64).with_comment("astrolab-demo seed"),
        Card::comment(
            "Synthetic catalog generated by astrolab-demo for testing the lab's \
             pipelines; it mimics the DESI DR1 data model but holds no observation.",
        ),
    ]
}

pub(crate) fn fits_err(path: &Path) -> impl FnOnce(astrolab_formats::FitsError) -> DemoError + '_ {
    move |source| DemoError::Fits {
        path: path.to_path_buf(),
        source: Box::new(source),
    }
}

/// ZCATALOG columns (zcatalog v1 order) for the given rows.
fn zcatalog_columns(rows: &[&Spectrum]) -> Vec<ColumnOut> {
    let n = rows.len();
    macro_rules! col {
        ($f:expr) => {
            rows.iter().map($f).collect()
        };
    }
    vec![
        i64c("TARGETID", col!(|s| s.targetid)),
        strc("SURVEY", 7, consts(n, "main")),
        strc("PROGRAM", 6, consts(n, "bright")),
        i32c("HEALPIX", col!(|s| s.healpix)),
        i32c("SPGRPVAL", col!(|s| s.healpix)),
        f64c("Z", col!(|s| s.z)),
        f64c("ZERR", col!(|s| s.zerr)),
        i64c("ZWARN", col!(|s| s.zwarn)),
        f64c("CHI2", col!(|s| s.chi2)),
        i64c("NPIXELS", col!(|s| s.npixels)),
        strc("SPECTYPE", 6, col!(|s| s.spectype.to_string())),
        strc("SUBTYPE", 20, col!(|s| s.subtype.to_string())),
        i64c("NCOEFF", col!(|s| s.ncoeff)),
        f64c("DELTACHI2", col!(|s| s.deltachi2)),
        i32c("COADD_FIBERSTATUS", col!(|s| s.coadd_fiberstatus)),
        f64c("TARGET_RA", col!(|s| s.target_ra_deg)).with_unit("deg"),
        f64c("TARGET_DEC", col!(|s| s.target_dec_deg)).with_unit("deg"),
        f32c("PMRA", col!(|s| s.pmra_mas_yr)).with_unit("mas yr^-1"),
        f32c("PMDEC", col!(|s| s.pmdec_mas_yr)).with_unit("mas yr^-1"),
        f32c("REF_EPOCH", col!(|s| s.ref_epoch_yr)).with_unit("yr"),
        strc("OBJTYPE", 3, consts(n, "TGT")),
        f64c("SUBPRIORITY", col!(|s| s.subpriority)),
        i16c("RELEASE", col!(|s| s.release)),
        strc("BRICKNAME", 8, col!(|s| s.brickname.clone())),
        i32c("BRICKID", col!(|s| s.brickid)),
        i32c("BRICK_OBJID", col!(|s| s.brick_objid)),
        strc("MORPHTYPE", 4, col!(|s| s.morphtype.to_string())),
        f32c("EBV", col!(|s| s.ebv_mag)).with_unit("mag"),
        f32c("FLUX_G", col!(|s| s.flux_nmgy[0])).with_unit("nanomaggy"),
        f32c("FLUX_R", col!(|s| s.flux_nmgy[1])).with_unit("nanomaggy"),
        f32c("FLUX_Z", col!(|s| s.flux_nmgy[2])).with_unit("nanomaggy"),
        f32c("FLUX_W1", col!(|s| s.flux_nmgy[3])).with_unit("nanomaggy"),
        f32c("FLUX_W2", col!(|s| s.flux_nmgy[4])).with_unit("nanomaggy"),
        f32c("FLUX_IVAR_G", col!(|s| s.flux_ivar[0])).with_unit("nanomaggy^-2"),
        f32c("FLUX_IVAR_R", col!(|s| s.flux_ivar[1])).with_unit("nanomaggy^-2"),
        f32c("FLUX_IVAR_Z", col!(|s| s.flux_ivar[2])).with_unit("nanomaggy^-2"),
        f32c("FLUX_IVAR_W1", col!(|s| s.flux_ivar[3])).with_unit("nanomaggy^-2"),
        f32c("FLUX_IVAR_W2", col!(|s| s.flux_ivar[4])).with_unit("nanomaggy^-2"),
        f32c("FIBERFLUX_G", col!(|s| s.fiberflux_nmgy[0])).with_unit("nanomaggy"),
        f32c("FIBERFLUX_R", col!(|s| s.fiberflux_nmgy[1])).with_unit("nanomaggy"),
        f32c("FIBERFLUX_Z", col!(|s| s.fiberflux_nmgy[2])).with_unit("nanomaggy"),
        strc("PHOTSYS", 1, col!(|s| s.photsys.to_string())),
        i64c("DESI_TARGET", col!(|s| s.desi_target)),
        i64c("BGS_TARGET", col!(|s| s.bgs_target)),
        i64c("MWS_TARGET", col!(|s| s.mws_target)),
        i64c("SCND_TARGET", col!(|s| s.scnd_target)),
        i16c("COADD_NUMEXP", col!(|s| s.coadd_numexp)),
        f32c("COADD_EXPTIME", col!(|s| s.coadd_exptime_s)).with_unit("s"),
        i16c("COADD_NUMNIGHT", col!(|s| s.coadd_numnight)),
        i16c("COADD_NUMTILE", col!(|s| s.coadd_numtile)),
        f64c("MIN_MJD", col!(|s| s.min_mjd)).with_unit("d"),
        f64c("MAX_MJD", col!(|s| s.max_mjd)).with_unit("d"),
        f64c("MEAN_MJD", col!(|s| s.mean_mjd)).with_unit("d"),
        f32c("TSNR2_BGS", col!(|s| s.tsnr2_bgs)),
        f32c("TSNR2_LRG", col!(|s| s.tsnr2_lrg)),
        i16c("MAIN_NSPEC", col!(|s| s.main_nspec)),
        boolc("MAIN_PRIMARY", col!(|s| s.main_primary)),
        i16c("ZCAT_NSPEC", col!(|s| s.zcat_nspec)),
        boolc("ZCAT_PRIMARY", col!(|s| s.zcat_primary)),
        strc("DESINAME", 22, col!(|s| s.desiname.clone())),
    ]
}

fn write_zcatalog(dir: &Path, sky: &SyntheticSky) -> Result<DemoFile, DemoError> {
    let path = dir.join(ZCATALOG_FILE);
    let rows: Vec<&Spectrum> = sky.zcatalog.iter().collect();
    let mut primary = vec![
        Card::str("ZCATVER", "v1").with_comment("Version of zcatalog files"),
        Card::str("SPECPROD", "iron").with_comment("Spectroscopic production name"),
    ];
    primary.extend(provenance(sky));
    let mut header = vec![
        Card::str("LONGSTRN", "OGIP 1.0"),
        Card::str("RRVER", "0.17.9").with_comment("Redrock version"),
    ];
    for (i, (name, ver)) in [
        ("GALAXY", "2.6"),
        ("QSO:::HIZ", "0.1"),
        ("QSO:::LOZ", "1.0"),
        ("STAR:::F", "0.1"),
        ("STAR:::G", "0.1"),
        ("STAR:::K", "0.1"),
        ("STAR:::M", "0.1"),
    ]
    .iter()
    .enumerate()
    {
        header.push(Card::str(&format!("TEMNAM{i:02}"), name));
        header.push(Card::str(&format!("TEMVER{i:02}"), ver));
    }
    header.extend([
        Card::str("SPGRP", "healpix").with_comment("Spectral grouping method"),
        Card::int("HPXNSIDE", i64::from(HEALPIX_NSIDE)).with_comment("Healpix nside"),
        Card::bool("HPXNEST", true).with_comment("Nested healpix (not ring)"),
        Card::str("SURVEY", "main").with_comment("DESI sub-survey (e.g. sv1, sv3, main)"),
        Card::str("PROGRAM", "bright").with_comment("DESI program (e.g. dark, bright)"),
        Card::str("ZCATVER", "v1").with_comment("Version of zcatalog files"),
        Card::str("SPECPROD", "iron").with_comment("Spectroscopic production name"),
    ]);
    let hdus = [
        HduOut::Primary { header: primary },
        HduOut::Table {
            extname: Some("ZCATALOG".into()),
            header,
            columns: zcatalog_columns(&rows),
        },
    ];
    write_fits(&path, &hdus).map_err(fits_err(&path))?;
    Ok(DemoFile {
        path,
        kind: "zcatalog",
        rows: rows.len(),
    })
}

/// The FastSpecFit HDUs for galaxy rows `idx` (rows of [`crate::Galaxies`]).
fn fastspec_hdus(sky: &SyntheticSky, idx: &[usize]) -> Vec<HduOut> {
    let g = &sky.galaxies;
    let n = idx.len();
    let spec = |i: usize| &sky.zcatalog[g.zcat_row[i]];
    macro_rules! col {
        ($f:expr) => {
            idx.iter().map(|&i| $f(i)).collect()
        };
    }
    let key = || {
        vec![
            i64c("TARGETID", col!(|i: usize| g.targetid[i])),
            strc("SURVEY", 4, consts(n, "main")),
            strc("PROGRAM", 6, consts(n, "bright")),
            i32c("HEALPIX", col!(|i: usize| g.healpix[i])),
        ]
    };
    let mut metadata = key();
    metadata.extend([
        f64c("RA", col!(|i: usize| g.ra_deg[i])).with_unit("deg"),
        f64c("DEC", col!(|i: usize| g.dec_deg[i])).with_unit("deg"),
        i64c(
            "COADD_FIBERSTATUS",
            col!(|i: usize| i64::from(spec(i).coadd_fiberstatus)),
        ),
        i64c("DESI_TARGET", col!(|i: usize| spec(i).desi_target)),
        i64c("BGS_TARGET", col!(|i: usize| spec(i).bgs_target)),
        i64c("MWS_TARGET", col!(|i: usize| spec(i).mws_target)),
        i64c("SCND_TARGET", col!(|i: usize| spec(i).scnd_target)),
        f64c("Z", col!(|i: usize| g.z[i])),
        // int8 in FastSpecFit; int16 here (no signed byte in the writer).
        i16c(
            "ZWARN",
            col!(|i: usize| spec(i).zwarn.clamp(0, i64::from(i16::MAX)) as i16),
        ),
        f64c("DELTACHI2", col!(|i: usize| spec(i).deltachi2)),
        strc("SPECTYPE", 6, col!(|i: usize| spec(i).spectype.to_string())),
        strc("SUBTYPE", 20, col!(|i: usize| spec(i).subtype.to_string())),
        f64c("Z_RR", col!(|i: usize| spec(i).z)),
        i16c(
            "ZWARN_RR",
            col!(|i: usize| spec(i).zwarn.clamp(0, i64::from(i16::MAX)) as i16),
        ),
        f32c("TSNR2_BGS", col!(|i: usize| spec(i).tsnr2_bgs)),
        f32c("TSNR2_LRG", col!(|i: usize| spec(i).tsnr2_lrg)),
        strc("PHOTSYS", 1, col!(|i: usize| spec(i).photsys.to_string())),
        i64c("LS_ID", col!(|i: usize| spec(i).ls_id)),
        f32c("FIBERFLUX_G", col!(|i: usize| spec(i).fiberflux_nmgy[0])).with_unit("nmgy"),
        f32c("FIBERFLUX_R", col!(|i: usize| spec(i).fiberflux_nmgy[1])).with_unit("nmgy"),
        f32c("FIBERFLUX_Z", col!(|i: usize| spec(i).fiberflux_nmgy[2])).with_unit("nmgy"),
        f32c("FLUX_G", col!(|i: usize| spec(i).flux_nmgy[0])).with_unit("nmgy"),
        f32c("FLUX_R", col!(|i: usize| spec(i).flux_nmgy[1])).with_unit("nmgy"),
        f32c("FLUX_Z", col!(|i: usize| spec(i).flux_nmgy[2])).with_unit("nmgy"),
        f32c("FLUX_W1", col!(|i: usize| spec(i).flux_nmgy[3])).with_unit("nmgy"),
        f32c("FLUX_W2", col!(|i: usize| spec(i).flux_nmgy[4])).with_unit("nmgy"),
        f32c("FLUX_IVAR_G", col!(|i: usize| spec(i).flux_ivar[0])).with_unit("1 / nmgy2"),
        f32c("FLUX_IVAR_R", col!(|i: usize| spec(i).flux_ivar[1])).with_unit("1 / nmgy2"),
        f32c("FLUX_IVAR_Z", col!(|i: usize| spec(i).flux_ivar[2])).with_unit("1 / nmgy2"),
        f32c("FLUX_IVAR_W1", col!(|i: usize| spec(i).flux_ivar[3])).with_unit("1 / nmgy2"),
        f32c("FLUX_IVAR_W2", col!(|i: usize| spec(i).flux_ivar[4])).with_unit("1 / nmgy2"),
        f32c("EBV", col!(|i: usize| spec(i).ebv_mag)).with_unit("mag"),
    ]);

    let f32v = |v: &[f64]| -> Vec<f32> { idx.iter().map(|&i| v[i] as f32).collect() };
    let mut specphot = key();
    specphot.extend([
        i64c("SEED", col!(|i: usize| g.fit_seed[i])),
        f32c("RCHI2", f32v(&g.rchi2)),
        f32c("VDISP", f32v(&g.vdisp_km_s)).with_unit("km / s"),
        f32c("VDISP_IVAR", f32v(&g.vdisp_ivar)).with_unit("s2 / km2"),
        f32c("AGE", f32v(&g.age_gyr)).with_unit("Gyr"),
        f32c("AGE_IVAR", f32v(&g.age_ivar)).with_unit("1 / Gyr2"),
        f32c("ZZSUN", f32v(&g.zzsun)),
        f32c("ZZSUN_IVAR", f32v(&g.zzsun_ivar)),
        f32c("LOGMSTAR", f32v(&g.logmstar)).with_unit("Msun"),
        f32c("LOGMSTAR_IVAR", f32v(&g.logmstar_ivar)).with_unit("1 / Msun2"),
        f32c("SFR", f32v(&g.sfr_msun_yr)).with_unit("Msun / yr"),
        f32c("SFR_IVAR", f32v(&g.sfr_ivar)).with_unit("yr2 / Msun2"),
        f32c("DN4000", f32v(&g.dn4000)),
        f32c("DN4000_OBS", f32v(&g.dn4000)),
        f32c("DN4000_IVAR", f32v(&g.dn4000_ivar)),
        f32c("DN4000_MODEL", f32v(&g.dn4000)),
        f32c("ABSMAG01_SDSS_R", f32v(&g.absmag_r)).with_unit("mag"),
        f32c("ABSMAG01_IVAR_SDSS_R", col!(|_| 100.0f32)).with_unit("1 / mag2"),
    ]);

    let mut fastspec = key();
    fastspec.extend([
        f32c("SNR_B", col!(|i: usize| g.snr_brz[i][0] as f32)),
        f32c("SNR_R", col!(|i: usize| g.snr_brz[i][1] as f32)),
        f32c("SNR_Z", col!(|i: usize| g.snr_brz[i][2] as f32)),
        f32c(
            "APERCORR",
            col!(|i: usize| (1.0 / g.aperture_fraction[i]) as f32),
        ),
    ]);
    for (k, line) in LINE_NAMES.iter().enumerate() {
        fastspec.push(
            f32c(
                &format!("{line}_FLUX"),
                col!(|i: usize| g.line_flux[i][k] as f32),
            )
            .with_unit("1e-17 erg / (cm2 s)"),
        );
        fastspec.push(
            f32c(
                &format!("{line}_FLUX_IVAR"),
                col!(|i: usize| g.line_flux_ivar[i][k] as f32),
            )
            .with_unit("1e+34 cm4 s2 / erg2"),
        );
    }

    let mut primary = vec![
        Card::str("SPECPROD", "iron").with_comment("Spectroscopic production name."),
        Card::str("COADDTYP", "healpix").with_comment("Type of spectral coadd"),
        Card::bool("INPUTZ", false).with_comment("Input redshifts provided."),
        Card::bool("INPUTS", false).with_comment("Input seeds provided."),
        Card::bool("CONSAGE", false).with_comment("SPS ages constrained by redshift."),
        Card::bool("USEQNET", true).with_comment("QuasarNet redshifts used where applicable."),
        Card::int("NMONTE", 50).with_comment("Number of Monte Carlo realizations."),
        Card::int("SEED", 1).with_comment("Random seed used for Monte Carlo realizations."),
        Card::bool("NOSCORR", false).with_comment("No smooth continuum correction derived."),
        Card::bool("NOPHOTO", false).with_comment("No fitting to photometry carried out."),
        Card::bool("BRDLFIT", true).with_comment("Broad Balmer emission-line modeling attempted."),
        Card::float("UFLOOR", 0.01).with_comment("Spectroscopic fractional uncertainty floor."),
        Card::float("SNRBBALM", 2.5).with_comment("Minimum broad Balmer signal-to-noise ratio."),
    ];
    primary.extend(provenance(sky));
    vec![
        HduOut::Primary { header: primary },
        HduOut::Table {
            extname: Some("METADATA".into()),
            header: vec![],
            columns: metadata,
        },
        HduOut::Table {
            extname: Some("SPECPHOT".into()),
            header: vec![],
            columns: specphot,
        },
        HduOut::Table {
            extname: Some("FASTSPEC".into()),
            header: vec![],
            columns: fastspec,
        },
    ]
}

fn write_fastspec(dir: &Path, sky: &SyntheticSky) -> Result<Vec<DemoFile>, DemoError> {
    let g = &sky.galaxies;
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    if sky.config.fastspec_split_nside1 {
        // NSIDE = 1 nested pixel = NSIDE 64 nested pixel >> (2 * 6).
        let mut by_pixel = std::collections::BTreeMap::<i32, Vec<usize>>::new();
        for i in 0..g.len() {
            by_pixel.entry(g.healpix[i] >> 12).or_default().push(i);
        }
        for (pix, rows) in by_pixel {
            groups.push((
                format!("fastspec-iron-main-bright-nside1-hp{pix:02}.fits"),
                rows,
            ));
        }
    } else {
        groups.push((FASTSPEC_FILE.to_string(), (0..g.len()).collect()));
    }
    let mut out = Vec::new();
    for (name, rows) in groups {
        let path = dir.join(name);
        write_fits(&path, &fastspec_hdus(sky, &rows)).map_err(fits_err(&path))?;
        out.push(DemoFile {
            path,
            kind: "fastspecfit",
            rows: rows.len(),
        });
    }
    Ok(out)
}

/// Primary keywords VAST writes for a survey run (both algorithms).
fn vast_primary(sky: &SyntheticSky, v2: bool) -> Vec<Card> {
    let f = &sky.config.footprint;
    let vol = sky.footprint_volume_mpc3_h3;
    let n = sky.galaxies.len() as f64;
    let mut cards = vec![
        Card::str("INFILE", "DESIVAST_BGS_VOLLIM_synthetic.fits")
            .with_comment("Input Galaxy Table"),
        Card::float("HP", 1.0).with_comment("Reduced Hubble Parameter h (((km/s)/Mpc)/100)"),
        Card::float("OMEGAM", sky.config.omega_m).with_comment("Matter Density"),
        Card::float("ZLIML", f.z_min).with_comment("Lower Redshift Limit"),
        Card::float("ZLIMU", f.z_max).with_comment("Upper Redshift Limit"),
        Card::float("DLIML", sky.r_min_mpc_h).with_comment("Lower Distance Limit (Mpc/h)"),
        Card::float("DLIMU", sky.r_max_mpc_h).with_comment("Upper Distance Limit (Mpc/h)"),
    ];
    if v2 {
        cards.extend([
            Card::float("MINR", 0.0).with_comment(" Minimum Void Radius (Mpc/h)"),
            Card::float("ZSTEP", 5e-5).with_comment("Step Size for r-to-z Lookup Table"),
            Card::int("NSIDE", 64).with_comment("NSIDE for HEALPix Pixelization"),
            Card::float("MAGLIM", -20.0).with_comment("Magnitude Limit (dex)"),
        ]);
    } else {
        let cov = sky.footprint_solid_angle_sr;
        cards.extend([
            Card::str("METRIC", "comoving").with_comment("Distance Metric"),
            Card::float("COVSTR", cov).with_comment("Sky Coverage (Steradians)"),
            Card::float("COVDEG", cov * (180.0 / std::f64::consts::PI).powi(2))
                .with_comment("Sky Coverage (Degrees^2)"),
            Card::float("VOLUME", vol).with_comment("Survey Volume (Mpc/h)^3"),
            Card::int("GALAXY", n as i64).with_comment("Galaxy Count"),
            Card::float("DENSITY", n / vol).with_comment("Galaxy Count Density (Mpc/h)^-3"),
            Card::float("AVSEP", (vol / n).cbrt())
                .with_comment("Average Galaxy Separation (Mpc/h)"),
            Card::int("VOID", sky.void_catalogs.voidfinder.maximals.len() as i64)
                .with_comment("Void Count"),
            Card::float("MMR", 10.0).with_comment("Minimum Allowed Maximal Radius"),
        ]);
    }
    cards.extend(provenance(sky));
    cards
}

fn write_voidfinder(dir: &Path, sky: &SyntheticSky, cap: &str) -> Result<DemoFile, DemoError> {
    let path = dir.join(desivast_file("VoidFinder", cap));
    let VoidFinderCatalog { maximals, holes } = &sky.void_catalogs.voidfinder;
    let mpc = "Mpc/h";
    let maxcols = vec![
        f64c("X", maximals.iter().map(|m| m.center_mpc_h[0]).collect()).with_unit(mpc),
        f64c("Y", maximals.iter().map(|m| m.center_mpc_h[1]).collect()).with_unit(mpc),
        f64c("Z", maximals.iter().map(|m| m.center_mpc_h[2]).collect()).with_unit(mpc),
        f64c("RADIUS", maximals.iter().map(|m| m.radius_mpc_h).collect()).with_unit(mpc),
        i64c("VOID", maximals.iter().map(|m| m.void).collect()),
        i64c("EDGE", maximals.iter().map(|m| m.edge).collect()),
        f64c("R", maximals.iter().map(|m| m.r_mpc_h).collect()).with_unit(mpc),
        f64c("RA", maximals.iter().map(|m| m.ra_deg).collect()).with_unit("deg"),
        f64c("DEC", maximals.iter().map(|m| m.dec_deg).collect()).with_unit("deg"),
        f64c("R_EFF", maximals.iter().map(|m| m.r_eff_mpc_h).collect()).with_unit(mpc),
        f64c(
            "R_EFF_UNCERT",
            maximals.iter().map(|m| m.r_eff_uncert_mpc_h).collect(),
        )
        .with_unit(mpc),
    ];
    let holecols = vec![
        f64c("X", holes.iter().map(|h| h.center_mpc_h[0]).collect()).with_unit(mpc),
        f64c("Y", holes.iter().map(|h| h.center_mpc_h[1]).collect()).with_unit(mpc),
        f64c("Z", holes.iter().map(|h| h.center_mpc_h[2]).collect()).with_unit(mpc),
        f64c("RADIUS", holes.iter().map(|h| h.radius_mpc_h).collect()).with_unit(mpc),
        i64c("VOID", holes.iter().map(|h| h.void).collect()),
    ];
    let hdus = [
        HduOut::Primary {
            header: vast_primary(sky, false),
        },
        HduOut::Table {
            extname: Some("MAXIMALS".into()),
            header: vec![Card::int("VOID", maximals.len() as i64).with_comment("Void Count")],
            columns: maxcols,
        },
        HduOut::Table {
            extname: Some("HOLES".into()),
            header: vec![
                Card::int("VOID", maximals.len() as i64).with_comment("Void Count"),
                Card::int("HOLE", holes.len() as i64).with_comment("Hole Count"),
            ],
            columns: holecols,
        },
    ];
    write_fits(&path, &hdus).map_err(fits_err(&path))?;
    Ok(DemoFile {
        path,
        kind: "desivast-voidfinder",
        rows: maximals.len(),
    })
}

fn write_v2(
    dir: &Path,
    sky: &SyntheticSky,
    cat: &V2Catalog,
    cap: &str,
) -> Result<DemoFile, DemoError> {
    let path = dir.join(desivast_file(cat.algorithm.name(), cap));
    let v = &cat.voids;
    let mpc = "Mpc/h";
    let mut voidcols = vec![
        i64c("VOID", v.iter().map(|x| x.void).collect()),
        f64c("X", v.iter().map(|x| x.center_mpc_h[0]).collect()).with_unit(mpc),
        f64c("Y", v.iter().map(|x| x.center_mpc_h[1]).collect()).with_unit(mpc),
        f64c("Z", v.iter().map(|x| x.center_mpc_h[2]).collect()).with_unit(mpc),
        f64c("REDSHIFT", v.iter().map(|x| x.redshift).collect()),
        f64c("RA", v.iter().map(|x| x.ra_deg).collect()).with_unit("deg"),
        f64c("DEC", v.iter().map(|x| x.dec_deg).collect()).with_unit("deg"),
        f64c("RADIUS", v.iter().map(|x| x.radius_mpc_h).collect()).with_unit(mpc),
    ];
    for (a, axis) in ["1", "2", "3"].iter().enumerate() {
        for (c, comp) in ["X", "Y", "Z"].iter().enumerate() {
            voidcols.push(
                f64c(
                    &format!("{comp}{axis}"),
                    v.iter().map(|x| x.axes_mpc_h[a][c]).collect(),
                )
                .with_unit(mpc),
            );
        }
    }
    voidcols.push(
        f64c("TOT_AREA", v.iter().map(|x| x.tot_area_mpc2_h2).collect()).with_unit("(Mpc/h)^2"),
    );
    voidcols.push(
        f64c("EDGE_AREA", v.iter().map(|x| x.edge_area_mpc2_h2).collect()).with_unit("(Mpc/h)^2"),
    );
    let zv = &cat.zonevoid;
    let zonecols = vec![
        i64c("ZONE", zv.iter().map(|z| z.zone).collect()),
        i64c("VOID0", zv.iter().map(|z| z.void0).collect()),
        i64c("VOID1", zv.iter().map(|z| z.void1).collect()),
    ];
    let gz = &cat.galzone;
    let galcols = vec![
        i64c("GAL", gz.gal.clone()),
        i64c("TARGET", gz.target.clone()),
        f64c("X", gz.xyz_mpc_h.iter().map(|p| p[0]).collect()).with_unit(mpc),
        f64c("Y", gz.xyz_mpc_h.iter().map(|p| p[1]).collect()).with_unit(mpc),
        f64c("Z", gz.xyz_mpc_h.iter().map(|p| p[2]).collect()).with_unit(mpc),
        i64c("ZONE", gz.zone.clone()),
        i64c("DEPTH", gz.depth.clone()),
        i64c("EDGE", gz.edge.clone()),
        i64c("OUT", gz.out.clone()),
    ];
    let hdus = [
        HduOut::Primary {
            header: vast_primary(sky, true),
        },
        HduOut::Table {
            extname: Some("VOIDS".into()),
            header: vec![Card::int("VOID", v.len() as i64).with_comment("Void Count")],
            columns: voidcols,
        },
        HduOut::Table {
            extname: Some("ZONEVOID".into()),
            header: vec![Card::int("COUNT", zv.len() as i64).with_comment("Zone Count")],
            columns: zonecols,
        },
        HduOut::Table {
            extname: Some("GALZONE".into()),
            header: vec![Card::int("COUNT", gz.gal.len() as i64).with_comment("Galaxy Count")],
            columns: galcols,
        },
    ];
    write_fits(&path, &hdus).map_err(fits_err(&path))?;
    Ok(DemoFile {
        path,
        kind: "desivast-v2",
        rows: v.len(),
    })
}

/// Write `bytes` to `path` atomically (`astrolab_formats::atomic`).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DemoError> {
    astrolab_formats::atomic::write(path, bytes).map_err(|source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write_truth_csv(dir: &Path, sky: &SyntheticSky) -> Result<DemoFile, DemoError> {
    let path = dir.join(TRUTH_CSV);
    let g = &sky.galaxies;
    let mut s = String::with_capacity(64 * g.len() + 64);
    s.push_str("TARGETID,VOID_ID,NEAREST_VOID_ID,R_OVER_RADIUS,IN_GROUP\n");
    for i in 0..g.len() {
        s.push_str(&format!(
            "{},{},{},{},{}\n",
            g.targetid[i],
            g.void_id[i],
            g.nearest_void_id[i],
            g.r_over_void_radius[i],
            u8::from(g.in_group[i])
        ));
    }
    write_atomic(&path, s.as_bytes())?;
    Ok(DemoFile {
        path,
        kind: "truth-csv",
        rows: g.len(),
    })
}

#[derive(Serialize)]
struct TruthVoid {
    id: i64,
    ra_deg: f64,
    dec_deg: f64,
    redshift: f64,
    x_mpc_h: f64,
    y_mpc_h: f64,
    z_mpc_h: f64,
    distance_mpc_h: f64,
    radius_mpc_h: f64,
    n_galaxies_inside: usize,
    /// Row in the VoidFinder MAXIMALS table (always the same id).
    voidfinder_void: i64,
    revolver_void: Option<i64>,
    vide_void: Option<i64>,
    zobov_void: Option<i64>,
}

#[derive(Serialize)]
struct Truth<'a> {
    generator: &'static str,
    seed: u64,
    config: &'a crate::DemoConfig,
    cosmology: serde_json::Value,
    footprint: serde_json::Value,
    void_model: serde_json::Value,
    injected_effects: serde_json::Value,
    measured_effects: &'a crate::MeasuredEffects,
    galaxy_truth_file: &'static str,
    files: Vec<serde_json::Value>,
    voids: Vec<TruthVoid>,
}

fn write_truth_json(
    dir: &Path,
    sky: &SyntheticSky,
    files: &[DemoFile],
) -> Result<DemoFile, DemoError> {
    use serde_json::json;
    let path = dir.join(TRUTH_JSON);
    let mut inside = vec![0usize; sky.voids.len()];
    for &v in &sky.galaxies.void_id {
        if v >= 0 {
            inside[v as usize] += 1;
        }
    }
    let v2 = |name: &str, j: usize| {
        sky.void_catalogs
            .v2
            .iter()
            .find(|c| c.algorithm.name() == name)
            .and_then(|c| c.planted_to_void[j])
    };
    let voids = sky
        .voids
        .iter()
        .enumerate()
        .map(|(j, v)| TruthVoid {
            id: v.id,
            ra_deg: v.ra_deg,
            dec_deg: v.dec_deg,
            redshift: v.redshift,
            x_mpc_h: v.center_mpc_h[0],
            y_mpc_h: v.center_mpc_h[1],
            z_mpc_h: v.center_mpc_h[2],
            distance_mpc_h: v.distance_mpc_h,
            radius_mpc_h: v.radius_mpc_h,
            n_galaxies_inside: inside[j],
            voidfinder_void: v.id,
            revolver_void: v2("REVOLVER", j),
            vide_void: v2("VIDE", j),
            zobov_void: v2("ZOBOV", j),
        })
        .collect();
    let c = &sky.config;
    let e = &c.effects;
    let truth = Truth {
        generator: concat!("astrolab-demo ", env!("CARGO_PKG_VERSION")),
        seed: c.seed,
        config: c,
        cosmology: json!({
            "model": "flat LambdaCDM, no radiation (astrolab_sky::FlatLcdm)",
            "omega_m": c.omega_m,
            "h": 1.0,
            "distance_unit": "Mpc/h",
            "xyz_convention": "x = r cos(dec) cos(ra), y = r cos(dec) sin(ra), z = r sin(dec), \
                               r = comoving distance of Z (astrolab_sky::radec_z_to_xyz)",
        }),
        footprint: json!({
            "ra_min_deg": c.footprint.ra_min_deg,
            "ra_max_deg": c.footprint.ra_max_deg,
            "dec_min_deg": c.footprint.dec_min_deg,
            "dec_max_deg": c.footprint.dec_max_deg,
            "z_min": c.footprint.z_min,
            "z_max": c.footprint.z_max,
            "r_min_mpc_h": sky.r_min_mpc_h,
            "r_max_mpc_h": sky.r_max_mpc_h,
            "solid_angle_sr": sky.footprint_solid_angle_sr,
            "volume_mpc3_h3": sky.footprint_volume_mpc3_h3,
            "galactic_cap": galactic_cap(sky),
        }),
        void_model: json!({
            "profile": "top-hat: density = void_density_contrast x field inside R, \
                        wall_density_contrast x field for R <= r < R (1 + wall_thickness_frac), \
                        field beyond; groups are never placed inside voids",
            "membership": "a galaxy is in planted void k when its distance to the centre, \
                           computed from the catalog (TARGET_RA, TARGET_DEC, Z) with \
                           astrolab_sky, is below radius_mpc_h (R_OVER_RADIUS < 1)",
            "void_volume_fraction_target": c.void_volume_fraction,
            "void_volume_fraction_achieved": sky.void_volume_fraction_achieved,
            "n_planted_voids": sky.voids.len(),
            "radius_distribution": "p(R) proportional to R^-2 on [void_radius_min, void_radius_max]",
            "why_this_fraction": "about 20 % of the volume in voids: sizeable, like the \
                                  15-40 % void volume of DESIVAST, while random placement of \
                                  non-overlapping spheres fully inside the footprint still \
                                  succeeds; the fraction of galaxies inside planted voids is far \
                                  below the ~40 % of galaxies DESIVAST puts in voids because these \
                                  interiors are nearly empty by construction",
        }),
        injected_effects: json!({
            "applies_to": "galaxies inside a planted void (VOID_ID >= 0), before the flux limit",
            "logmstar_knee_shift_dex": e.logmstar_knee_shift_dex,
            "quenched_fraction_ratio": e.quenched_fraction_ratio,
            "sf_ssfr_offset_dex": e.sf_ssfr_offset_dex,
            "expected_signs": {
                "median_logmstar_void_minus_wall": e.logmstar_knee_shift_dex.signum(),
                "quenched_fraction_void_minus_wall": (e.quenched_fraction_ratio - 1.0).signum(),
                "dn4000_void_minus_wall": (e.quenched_fraction_ratio - 1.0).signum(),
            },
        }),
        measured_effects: &sky.measured,
        galaxy_truth_file: TRUTH_CSV,
        files: files
            .iter()
            .map(|f| {
                json!({
                    "file": f.path.file_name().map(|n| n.to_string_lossy().into_owned()),
                    "kind": f.kind,
                    "rows": f.rows,
                })
            })
            .collect(),
        voids,
    };
    let mut bytes = serde_json::to_vec_pretty(&truth).map_err(|source| DemoError::Json {
        path: path.clone(),
        source,
    })?;
    bytes.push(b'\n');
    write_atomic(&path, &bytes)?;
    Ok(DemoFile {
        path,
        kind: "truth-json",
        rows: sky.voids.len(),
    })
}

/// Write every file of `sky` into `dir` (created if missing).
pub fn write_sky(dir: &Path, sky: &SyntheticSky) -> Result<DemoSummary, DemoError> {
    fs::create_dir_all(dir).map_err(|source| DemoError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let cap = galactic_cap(sky);
    let mut files = vec![write_zcatalog(dir, sky)?];
    files.extend(write_fastspec(dir, sky)?);
    files.push(write_voidfinder(dir, sky, cap)?);
    for cat in &sky.void_catalogs.v2 {
        files.push(write_v2(dir, sky, cat, cap)?);
    }
    files.extend(crate::spectra_out::write_spectra(dir, sky)?);
    files.push(write_truth_csv(dir, sky)?);
    let truth = write_truth_json(dir, sky, &files)?;
    let truth_path = truth.path.clone();
    files.push(truth);
    Ok(DemoSummary {
        files,
        n_galaxies: sky.galaxies.len(),
        n_planted_voids: sky.voids.len(),
        truth_path,
    })
}
