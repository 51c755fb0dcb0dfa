//! Writing the synthetic spectra as DESI healpix coadd and redrock files,
//! and their truth table.
//!
//! Data models followed: desidatamodel `DESI_SPECTRO_REDUX/SPECPROD/
//! healpix/SURVEY/PROGRAM/PIXGROUP/PIXNUM/coadd-SURVEY-PROGRAM-PIXNUM.rst`
//! (HDUs PRIMARY, FIBERMAP, EXP_FIBERMAP, then B/R/Z WAVELENGTH, FLUX, IVAR,
//! MASK, RESOLUTION, then SCORES) and `redrock-SURVEY-PROGRAM-PIXNUM.rst`
//! (PRIMARY, REDSHIFTS, FIBERMAP, EXP_FIBERMAP, TSNR2). FIBERMAP,
//! EXP_FIBERMAP, SCORES and TSNR2 hold a subset of their columns (same
//! names and types); EXP_FIBERMAP has one row per target (one exposure).
//! Quasars go to the `dark` program files as in DESI, although the demo's
//! redshift catalog (`zpix-main-bright.fits`) lists them with the bright
//! program; match spectra to catalog rows by TARGETID.
//! The files sit flat in the output directory (DESI nests them under
//! `healpix/main/PROGRAM/PIX//100/PIX/`).

use std::path::Path;

use astrolab_formats::{write_fits, Card, ColumnData, ColumnOut, HduOut, ImageData};
use serde::Serialize;

use crate::output::{fits_err, provenance, write_atomic, DemoFile};
use crate::sky::{SyntheticSky, HEALPIX_NSIDE};
use crate::spectra::{resolution_data, Rarity, SimSpectrum, SpectraGroup, SpectraPlan, ARMS};
use crate::targets::Spectrum;
use crate::DemoError;

pub const SPECTRA_TRUTH_JSON: &str = "spectra_truth.json";
pub const SPECTRA_TRUTH_CSV: &str = "spectra_truth.csv";

const FLUX_UNIT: &str = "10**-17 erg/(s cm2 Angstrom)";
const IVAR_UNIT: &str = "10**+34 (s2 cm4 Angstrom2) / erg2";

fn col(name: &str, data: ColumnData) -> ColumnOut {
    ColumnOut::new(name, data)
}

fn primary(sky: &SyntheticSky, g: &SpectraGroup, redrock: bool) -> Vec<Card> {
    let mut h = vec![
        Card::str("SPGRP", "healpix"),
        Card::int("SPGRPVAL", i64::from(g.healpix)),
        Card::int("HPXPIXEL", i64::from(g.healpix)),
        Card::int("HPXNSIDE", i64::from(HEALPIX_NSIDE)),
        Card::str("HPXNEST", "True"),
        Card::str("SURVEY", "main"),
        Card::str("PROGRAM", g.program),
        Card::str("SPECPROD", "iron"),
    ];
    if redrock {
        h.push(Card::str("RRVER", "0.17.9").with_comment("Redrock version"));
    }
    h.extend(provenance(sky));
    h
}

/// FIBERMAP (coadd and redrock): a subset of the DESI columns.
fn fibermap(rows: &[&Spectrum]) -> Vec<ColumnOut> {
    macro_rules! c {
        ($f:expr) => {
            rows.iter().map($f).collect()
        };
    }
    vec![
        col("TARGETID", ColumnData::I64(c!(|s| s.targetid))),
        col(
            "COADD_FIBERSTATUS",
            ColumnData::I32(c!(|s| s.coadd_fiberstatus)),
        ),
        col("TARGET_RA", ColumnData::F64(c!(|s| s.target_ra_deg))).with_unit("deg"),
        col("TARGET_DEC", ColumnData::F64(c!(|s| s.target_dec_deg))).with_unit("deg"),
        col("PMRA", ColumnData::F32(c!(|s| s.pmra_mas_yr))).with_unit("mas yr^-1"),
        col("PMDEC", ColumnData::F32(c!(|s| s.pmdec_mas_yr))).with_unit("mas yr^-1"),
        col("REF_EPOCH", ColumnData::F32(c!(|s| s.ref_epoch_yr))).with_unit("yr"),
        col(
            "OBJTYPE",
            ColumnData::Str {
                width: 3,
                values: c!(|_| "TGT".to_string()),
            },
        ),
        col("SUBPRIORITY", ColumnData::F64(c!(|s| s.subpriority))),
        col("RELEASE", ColumnData::I16(c!(|s| s.release))),
        col(
            "BRICKNAME",
            ColumnData::Str {
                width: 8,
                values: c!(|s| s.brickname.clone()),
            },
        ),
        col("BRICKID", ColumnData::I32(c!(|s| s.brickid))),
        col("BRICK_OBJID", ColumnData::I32(c!(|s| s.brick_objid))),
        col(
            "MORPHTYPE",
            ColumnData::Str {
                width: 4,
                values: c!(|s| s.morphtype.to_string()),
            },
        ),
        col("EBV", ColumnData::F32(c!(|s| s.ebv_mag))).with_unit("mag"),
        col("FLUX_G", ColumnData::F32(c!(|s| s.flux_nmgy[0]))).with_unit("nanomaggy"),
        col("FLUX_R", ColumnData::F32(c!(|s| s.flux_nmgy[1]))).with_unit("nanomaggy"),
        col("FLUX_Z", ColumnData::F32(c!(|s| s.flux_nmgy[2]))).with_unit("nanomaggy"),
        col("FIBERFLUX_G", ColumnData::F32(c!(|s| s.fiberflux_nmgy[0]))).with_unit("nanomaggy"),
        col("FIBERFLUX_R", ColumnData::F32(c!(|s| s.fiberflux_nmgy[1]))).with_unit("nanomaggy"),
        col("FIBERFLUX_Z", ColumnData::F32(c!(|s| s.fiberflux_nmgy[2]))).with_unit("nanomaggy"),
        col(
            "PHOTSYS",
            ColumnData::Str {
                width: 1,
                values: c!(|s| s.photsys.to_string()),
            },
        ),
        col("DESI_TARGET", ColumnData::I64(c!(|s| s.desi_target))),
        col("BGS_TARGET", ColumnData::I64(c!(|s| s.bgs_target))),
        col("MWS_TARGET", ColumnData::I64(c!(|s| s.mws_target))),
        col("COADD_NUMEXP", ColumnData::I16(c!(|s| s.coadd_numexp))),
        col("COADD_EXPTIME", ColumnData::F32(c!(|s| s.coadd_exptime_s))).with_unit("s"),
        col("COADD_NUMNIGHT", ColumnData::I16(c!(|s| s.coadd_numnight))),
        col("COADD_NUMTILE", ColumnData::I16(c!(|s| s.coadd_numtile))),
    ]
}

/// DESI NIGHT (YYYYMMDD) of an MJD (the night starts at local noon).
fn night_of_mjd(mjd: f64) -> i32 {
    // Civil date (Fliegel & Van Flandern 1968) of the local time (7 h west
    // of UTC) 12 h earlier: the Julian day number of that date's noon.
    let jd = (mjd - 7.0 / 24.0 - 0.5).floor() as i64 + 2_400_001;
    let l = jd + 68_569;
    let n = 4 * l / 146_097;
    let l = l - (146_097 * n + 3) / 4;
    let i = 4000 * (l + 1) / 1_461_001;
    let l = l - 1461 * i / 4 + 31;
    let j = 80 * l / 2447;
    let day = l - 2447 * j / 80;
    let l = j / 11;
    let month = j + 2 - 12 * l;
    let year = 100 * (n - 49) + i + l;
    (year * 10_000 + month * 100 + day) as i32
}

/// EXP_FIBERMAP: one exposure per target (a minimal subset).
fn exp_fibermap(rows: &[&Spectrum]) -> Vec<ColumnOut> {
    macro_rules! c {
        ($f:expr) => {
            rows.iter().map($f).collect()
        };
    }
    vec![
        col("TARGETID", ColumnData::I64(c!(|s| s.targetid))),
        col("NIGHT", ColumnData::I32(c!(|s| night_of_mjd(s.min_mjd)))),
        col(
            "EXPID",
            ColumnData::I32(c!(|s| 90_000 + ((s.min_mjd - 59_348.0) * 40.0) as i32)),
        ),
        col("MJD", ColumnData::F64(c!(|s| s.min_mjd))),
        col(
            "TILEID",
            ColumnData::I32(c!(|s| 1000 + (s.healpix.rem_euclid(9000)))),
        ),
        col(
            "EXPTIME",
            ColumnData::F64(c!(|s| f64::from(s.coadd_exptime_s))),
        ),
        col(
            "PETAL_LOC",
            ColumnData::I16(c!(|s| (s.brick_objid % 10) as i16)),
        ),
        col(
            "FIBER",
            ColumnData::I32(c!(|s| (s.brick_objid % 10) * 500 + s.brickid % 500)),
        ),
        col("FIBERSTATUS", ColumnData::I32(c!(|s| s.coadd_fiberstatus))),
    ]
}

fn median(mut v: Vec<f32>) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

fn write_coadd(dir: &Path, sky: &SyntheticSky, g: &SpectraGroup) -> Result<DemoFile, DemoError> {
    let path = dir.join(g.coadd_file());
    let rows: Vec<&Spectrum> = g
        .spectra
        .iter()
        .map(|s| &sky.zcatalog[s.zcat_row])
        .collect();
    let nspec = g.spectra.len();
    let mut hdus = vec![
        HduOut::Primary {
            header: primary(sky, g, false),
        },
        HduOut::Table {
            extname: Some("FIBERMAP".into()),
            header: vec![],
            columns: fibermap(&rows),
        },
        HduOut::Table {
            extname: Some("EXP_FIBERMAP".into()),
            header: vec![],
            columns: exp_fibermap(&rows),
        },
    ];
    for (k, arm) in ARMS.iter().enumerate() {
        let n = arm.n_pix;
        let cat = |pick: fn(&SimSpectrum, usize) -> &[f32]| -> Vec<f32> {
            g.spectra
                .iter()
                .flat_map(|s| pick(s, k).iter().copied())
                .collect()
        };
        let name = |what: &str| format!("{}_{what}", arm.name);
        hdus.extend([
            HduOut::Image {
                extname: name("WAVELENGTH"),
                header: vec![Card::str("BUNIT", "Angstrom")],
                shape: vec![n],
                data: ImageData::F64(arm.wavelength_a()),
            },
            HduOut::Image {
                extname: name("FLUX"),
                header: vec![Card::str("BUNIT", FLUX_UNIT)],
                shape: vec![nspec, n],
                data: ImageData::F32(cat(|s, k| &s.flux[k])),
            },
            HduOut::Image {
                extname: name("IVAR"),
                header: vec![Card::str("BUNIT", IVAR_UNIT)],
                shape: vec![nspec, n],
                data: ImageData::F32(cat(|s, k| &s.ivar[k])),
            },
            HduOut::Image {
                extname: name("MASK"),
                header: vec![],
                shape: vec![nspec, n],
                data: ImageData::U32(
                    (0..nspec)
                        .flat_map(|i| g.spectra[i].mask[k].iter().copied())
                        .collect(),
                ),
            },
        ]);
        if sky.config.spectra.write_resolution {
            let res1 = resolution_data(arm);
            let mut res = Vec::with_capacity(nspec * res1.len());
            for _ in 0..nspec {
                res.extend_from_slice(&res1);
            }
            hdus.push(HduOut::Image {
                extname: name("RESOLUTION"),
                header: vec![],
                shape: vec![nspec, crate::spectra::RESOLUTION_NDIAG, n],
                data: ImageData::F32(res),
            });
        }
    }
    let mut scores = vec![col(
        "TARGETID",
        ColumnData::I64(g.spectra.iter().map(|s| s.targetid).collect()),
    )];
    for (k, arm) in ARMS.iter().enumerate() {
        let mut integ = Vec::with_capacity(nspec);
        let mut med = Vec::with_capacity(nspec);
        let mut snr = Vec::with_capacity(nspec);
        for s in &g.spectra {
            let f = &s.flux[k];
            integ.push(f.iter().map(|&x| f64::from(x)).sum::<f64>() as f32 * 0.8);
            med.push(median(f.clone()));
            snr.push(median(
                f.iter()
                    .zip(&s.ivar[k])
                    .map(|(&x, &iv)| x * iv.sqrt())
                    .collect(),
            ));
        }
        scores.push(col(
            &format!("INTEG_COADD_FLUX_{}", arm.name),
            ColumnData::F32(integ),
        ));
        scores.push(col(
            &format!("MEDIAN_COADD_FLUX_{}", arm.name),
            ColumnData::F32(med),
        ));
        scores.push(col(
            &format!("MEDIAN_COADD_SNR_{}", arm.name),
            ColumnData::F32(snr),
        ));
    }
    scores.extend(tsnr2_columns(&rows).into_iter().skip(1));
    hdus.push(HduOut::Table {
        extname: Some("SCORES".into()),
        header: vec![],
        columns: scores,
    });
    write_fits(&path, &hdus).map_err(fits_err(&path))?;
    Ok(DemoFile {
        path,
        kind: "coadd",
        rows: nspec,
    })
}

fn tsnr2_columns(rows: &[&Spectrum]) -> Vec<ColumnOut> {
    vec![
        col(
            "TARGETID",
            ColumnData::I64(rows.iter().map(|s| s.targetid).collect()),
        ),
        col(
            "TSNR2_BGS",
            ColumnData::F32(rows.iter().map(|s| s.tsnr2_bgs).collect()),
        ),
        col(
            "TSNR2_LRG",
            ColumnData::F32(rows.iter().map(|s| s.tsnr2_lrg).collect()),
        ),
    ]
}

fn write_redrock(dir: &Path, sky: &SyntheticSky, g: &SpectraGroup) -> Result<DemoFile, DemoError> {
    let path = dir.join(g.redrock_file());
    let rows: Vec<&Spectrum> = g
        .spectra
        .iter()
        .map(|s| &sky.zcatalog[s.zcat_row])
        .collect();
    macro_rules! c {
        ($f:expr) => {
            rows.iter().map($f).collect()
        };
    }
    let redshifts = vec![
        col("TARGETID", ColumnData::I64(c!(|s| s.targetid))),
        col("Z", ColumnData::F64(c!(|s| s.z))),
        col("ZERR", ColumnData::F64(c!(|s| s.zerr))),
        col("ZWARN", ColumnData::I64(c!(|s| s.zwarn))),
        col("CHI2", ColumnData::F64(c!(|s| s.chi2))),
        col(
            "COEFF",
            ColumnData::F64Vector {
                repeat: 10,
                values: g.spectra.iter().flat_map(|s| s.coeff).collect(),
            },
        ),
        col("NPIXELS", ColumnData::I64(c!(|s| s.npixels))),
        col(
            "SPECTYPE",
            ColumnData::Str {
                width: 6,
                values: c!(|s| s.spectype.to_string()),
            },
        ),
        col(
            "SUBTYPE",
            ColumnData::Str {
                width: 20,
                values: c!(|s| s.subtype.to_string()),
            },
        ),
        col("NCOEFF", ColumnData::I64(c!(|s| s.ncoeff))),
        col("DELTACHI2", ColumnData::F64(c!(|s| s.deltachi2))),
    ];
    let hdus = [
        HduOut::Primary {
            header: primary(sky, g, true),
        },
        HduOut::Table {
            extname: Some("REDSHIFTS".into()),
            header: vec![],
            columns: redshifts,
        },
        HduOut::Table {
            extname: Some("FIBERMAP".into()),
            header: vec![],
            columns: fibermap(&rows),
        },
        HduOut::Table {
            extname: Some("EXP_FIBERMAP".into()),
            header: vec![],
            columns: exp_fibermap(&rows),
        },
        HduOut::Table {
            extname: Some("TSNR2".into()),
            header: vec![],
            columns: tsnr2_columns(&rows),
        },
    ];
    write_fits(&path, &hdus).map_err(fits_err(&path))?;
    Ok(DemoFile {
        path,
        kind: "redrock",
        rows: rows.len(),
    })
}

/// One row of the spectra truth table.
#[derive(Debug, Clone, Serialize)]
struct TruthRow {
    targetid: i64,
    spectype: &'static str,
    z: f64,
    healpix: i32,
    /// The coadd file and row of the spectrum.
    file: String,
    row: usize,
    /// [`Rarity::class`], written when the rarities follow a
    /// [`crate::RarityMix`] (the anomaly benchmark).
    #[serde(skip_serializing_if = "Option::is_none")]
    class: Option<&'static str>,
    /// [`SimSpectrum::rarity_delta_chi2`], written with `class`.
    #[serde(skip_serializing_if = "Option::is_none")]
    delta_chi2: Option<f64>,
    #[serde(flatten)]
    rarity: Rarity,
}

/// The truth rows of one group's spectra that carry a rarity.
fn truth_rows(g: &SpectraGroup, with_class: bool) -> Vec<TruthRow> {
    let mut out = Vec::new();
    for (row, s) in g.spectra.iter().enumerate() {
        if let Some(r) = &s.rarity {
            out.push(TruthRow {
                targetid: s.targetid,
                spectype: match s.kind {
                    crate::ObjectKind::Qso => "QSO",
                    crate::ObjectKind::Star => "STAR",
                    crate::ObjectKind::Galaxy => "GALAXY",
                },
                z: s.z,
                healpix: s.healpix,
                file: g.coadd_file(),
                row,
                class: with_class.then(|| r.class()),
                delta_chi2: s.rarity_delta_chi2.filter(|_| with_class),
                rarity: r.clone(),
            });
        }
    }
    out
}

/// `key=value;...` of a rarity's parameters (for the CSV).
fn params_text(r: &Rarity) -> String {
    let v = serde_json::to_value(r).unwrap_or_default();
    let mut parts = Vec::new();
    if let Some(map) = v.as_object() {
        for (k, x) in map {
            if k == "kind" {
                continue;
            }
            parts.push(format!("{k}={x}"));
        }
    }
    parts.join(";").replace(',', " ")
}

fn write_truth(
    dir: &Path,
    sky: &SyntheticSky,
    qso_model: &'static str,
    n_spec: usize,
    rows: &[TruthRow],
) -> Result<[DemoFile; 2], DemoError> {
    use serde_json::json;
    let jpath = dir.join(SPECTRA_TRUTH_JSON);
    let mut doc = json!({
        "generator": concat!("astrolab-demo ", env!("CARGO_PKG_VERSION")),
        "seed": sky.config.seed,
        "spectra_config": &sky.config.spectra,
        "qso_model": qso_model,
        "n_spectra": n_spec,
        "n_rarities": rows.len(),
        "flux_unit": FLUX_UNIT,
        "wavelength": "vacuum, Angstrom; B 3600-5800, R 5760-7620, Z 7520-9824 in 0.8 A steps",
        "notes": "rarities of kind dead_column, cosmic_spike and dropped_arm are artefacts \
                  left unflagged in MASK; the others change the astrophysical model. \
                  BAL troughs: flat bottom of depth `depth` between v_min and v_max \
                  (observed_min_a..observed_max_a), 500 km/s cosine tapers outside.",
        "rarities": rows,
    });
    if sky.config.spectra.rarity_mix.is_some() {
        // The benchmark's labels: every spectrum not listed is a normal
        // quasar; per class, how many are.
        let mut counts = std::collections::BTreeMap::new();
        for r in rows {
            *counts.entry(r.rarity.class()).or_insert(0usize) += 1;
        }
        doc["n_quasars"] = json!(n_spec);
        doc["delta_chi2"] = json!(
            "per rarity: sum over pixels of ivar (E - E0)^2, E the expected flux with the \
             rarity and E0 without, ivar as written: how visible it is in this spectrum's \
             noise (25 is about 5 sigma; 0 where the pixels have ivar 0)"
        );
        doc["class_counts"] = json!(counts);
        doc["classes"] = json!({
            "bal": "broad absorption troughs (kind bal)",
            "narrow_absorber": "intervening Mg II / C IV doublets and DLAs (narrow_absorber)",
            "line_kinematics": "shifted or double-peaked broad lines (shifted_lines, double_peaked_lines)",
            "odd_continuum": "reddened or broken continua (reddened, sharp_break)",
            "artefact": "instrument artefacts (arm_step, cosmic_spike, dead_column, dropped_arm)",
            "not_a_quasar": "stars and galaxies written with SPECTYPE QSO (star_as_qso, galaxy_as_qso)",
        });
    }
    let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|source| DemoError::Json {
        path: jpath.clone(),
        source,
    })?;
    bytes.push(b'\n');
    write_atomic(&jpath, &bytes)?;
    let cpath = dir.join(SPECTRA_TRUTH_CSV);
    let mut s = String::from("TARGETID,KIND,SPECTYPE,Z,HEALPIX,FILE,ROW,PARAMS\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            r.targetid,
            r.rarity.kind(),
            r.spectype,
            r.z,
            r.healpix,
            r.file,
            r.row,
            params_text(&r.rarity)
        ));
    }
    write_atomic(&cpath, s.as_bytes())?;
    Ok([
        DemoFile {
            path: jpath,
            kind: "spectra-truth-json",
            rows: rows.len(),
        },
        DemoFile {
            path: cpath,
            kind: "spectra-truth-csv",
            rows: rows.len(),
        },
    ])
}

/// Simulate and write the coadd and redrock files one group at a time (a
/// large set never sits in memory whole), then the truth table.
pub(crate) fn write_spectra(dir: &Path, sky: &SyntheticSky) -> Result<Vec<DemoFile>, DemoError> {
    let plan = SpectraPlan::new(sky)?;
    let with_class = sky.config.spectra.rarity_mix.is_some();
    let mut files = Vec::with_capacity(2 * plan.n_groups() + 2);
    let (mut rows, mut n_spec) = (Vec::new(), 0);
    for i in 0..plan.n_groups() {
        let g = plan.group(i);
        files.push(write_coadd(dir, sky, &g)?);
        files.push(write_redrock(dir, sky, &g)?);
        rows.extend(truth_rows(&g, with_class));
        n_spec += g.spectra.len();
    }
    files.extend(write_truth(dir, sky, plan.qso_model(), n_spec, &rows)?);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::night_of_mjd;

    #[test]
    fn night_of_known_mjd() {
        // MJD 59348.2 = 2021-05-14 04:48 UTC: the night of 2021-05-13.
        assert_eq!(night_of_mjd(59_348.2), 20_210_513);
    }
}
