//! Real DESI files from `$ASTROLAB_SHARED_DATA/desi`. Expected values came
//! from astropy 8.0.2 `fits.getdata(...)` / `fits.open(...)` on the same
//! files, run by hand and copied here.

use std::path::PathBuf;

use astrolab_formats::testdata::require_shared_data;
use astrolab_formats::{FitsError, FitsFile, HduKind};

fn desi(name: &str) -> Option<PathBuf> {
    Some(require_shared_data(name)?.join("desi").join(name))
}

fn open(name: &str) -> Option<FitsFile> {
    let path = desi(name)?;
    Some(FitsFile::open(&path).unwrap_or_else(|e| panic!("{e}")))
}

/// Asserts `actual` equals `expected` to a relative tolerance.
fn close(actual: f64, expected: f64, rel: f64) {
    assert!(
        (actual - expected).abs() <= rel * expected.abs().max(1e-300),
        "{actual} != {expected}"
    );
}

/// HDU names and kinds of a DESI coadd file.
fn coadd_layout() -> Vec<(String, HduKind)> {
    let mut v = vec![
        ("PRIMARY".to_string(), HduKind::Primary),
        ("FIBERMAP".to_string(), HduKind::BinTable),
        ("EXP_FIBERMAP".to_string(), HduKind::BinTable),
    ];
    for arm in ["B", "R", "Z"] {
        for part in ["WAVELENGTH", "FLUX", "IVAR", "MASK", "RESOLUTION"] {
            v.push((format!("{arm}_{part}"), HduKind::Image));
        }
    }
    v.push(("SCORES".to_string(), HduKind::BinTable));
    v
}

#[test]
fn every_desi_file_lists_its_hdus() {
    let redrock = |exp: usize, n: usize| {
        vec![
            ("PRIMARY", HduKind::Primary, None),
            ("REDSHIFTS", HduKind::BinTable, Some(n)),
            ("FIBERMAP", HduKind::BinTable, Some(n)),
            ("EXP_FIBERMAP", HduKind::BinTable, Some(exp)),
            ("TSNR2", HduKind::BinTable, Some(n)),
        ]
        .into_iter()
        .map(|(a, b, c)| (a.to_string(), b, c))
        .collect::<Vec<_>>()
    };
    // (FIBERMAP rows, EXP_FIBERMAP rows) for coadds; SCORES has FIBERMAP's rows.
    let coadd = |n: usize, exp: usize| {
        coadd_layout()
            .into_iter()
            .map(|(name, kind)| {
                let rows = match name.as_str() {
                    "FIBERMAP" | "SCORES" => Some(n),
                    "EXP_FIBERMAP" => Some(exp),
                    _ => None,
                };
                (name, kind, rows)
            })
            .collect::<Vec<_>>()
    };
    let expected = [
        ("coadd-4-80613-thru20210324.fits", coadd(1, 30)),
        ("coadd-special-dark-27247.fits", coadd(1, 20)),
        ("coadd-sv3-dark-26065.fits", coadd(5, 7)),
        ("redrock-4-80613-thru20210324.fits", redrock(30, 1)),
        ("redrock-special-dark-27247.fits", redrock(20, 1)),
        ("redrock-test.fits", redrock(6, 3)),
    ];
    let Some(dir) = require_shared_data("every_desi_file_lists_its_hdus") else {
        return;
    };
    // Every .fits in the folder must be covered above.
    let mut on_disk: Vec<String> = std::fs::read_dir(dir.join("desi"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".fits"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = expected.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);

    for (name, hdus) in expected {
        let f = FitsFile::open(&dir.join("desi").join(name)).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(String, HduKind, Option<usize>)> = f
            .hdus()
            .iter()
            .map(|h| {
                let n = if h.index == 0 {
                    "PRIMARY".to_string()
                } else {
                    h.name()
                };
                (n, h.kind, h.nrows())
            })
            .collect();
        assert_eq!(got, hdus, "{name}");
        for (i, h) in f.hdus().iter().enumerate() {
            assert_eq!(h.index, i);
        }
        // Every table's columns decode to the right number of values.
        for h in f.hdus().iter().filter(|h| h.kind == HduKind::BinTable) {
            let t = f.table_at(h.index).unwrap();
            for c in t.columns() {
                let n = match c.code {
                    'A' => t.read_str(&c.name).unwrap().len(),
                    'L' if c.repeat == 1 => t.read_bool(&c.name).unwrap().len(),
                    _ => t.read_f64_vector(&c.name).unwrap().0.len() / c.repeat.max(1),
                };
                assert_eq!(n, t.nrows(), "{name} {} {}", h.name(), c.name);
            }
        }
    }
}

#[test]
fn redrock_redshifts_match_astropy() {
    let Some(f) = open("redrock-test.fits") else {
        return;
    };
    let t = f.table("redshifts").unwrap(); // EXTNAME lookup is case-insensitive
    assert_eq!(t.nrows(), 3);
    assert_eq!(
        t.read_i64("TARGETID").unwrap(),
        [616094145466860255, 39633393167631849, 39633393167633604]
    );
    assert_eq!(
        t.read_f64("Z").unwrap(),
        [
            1.3282815521302358,
            0.1571380861486737,
            -0.0001116825862439458
        ]
    );
    assert_eq!(
        t.read_f64("ZERR").unwrap(),
        [
            9.89538066984433e-05,
            7.765652473439532e-05,
            1.7601120797170596e-05
        ]
    );
    assert_eq!(t.read_i64("ZWARN").unwrap(), [1, 0, 0]);
    assert_eq!(
        t.read_str("SPECTYPE").unwrap(),
        ["GALAXY", "GALAXY", "GALAXY"]
    );
    assert_eq!(t.read_str("SUBTYPE").unwrap(), ["", "", ""]);
    assert_eq!(
        t.read_f64("DELTACHI2").unwrap(),
        [14.115596890449524, 303.593896782957, 7465.134551771234]
    );
    assert_eq!(t.read_i64("NPIXELS").unwrap(), [7928, 7926, 7920]);

    let coeff = t.column("COEFF").unwrap();
    assert_eq!(
        (coeff.code, coeff.repeat, coeff.tdim.clone()),
        ('D', 10, Some(vec![10]))
    );
    let (values, repeat) = t.read_f64_vector("COEFF").unwrap();
    assert_eq!(repeat, 10);
    assert_eq!(values.len(), 30);
    assert_eq!(
        values[10..20],
        [
            922.4237301441566,
            655.1715065998599,
            49.998023556147956,
            -60.587130174542004,
            -4.441436016647511,
            4.745394017669495,
            -69.40874515569332,
            -2.4088126605091795,
            -0.27610065321756727,
            40.54061521407491
        ]
    );
    // A vector column is not a scalar: the error says what to call instead.
    let e = t.read_f64("COEFF").unwrap_err();
    assert!(e.to_string().contains("read_f64_vector"), "{e}");
}

#[test]
fn redrock_fibermap_matches_astropy() {
    let Some(f) = open("redrock-test.fits") else {
        return;
    };
    let t = f.table("FIBERMAP").unwrap();
    assert_eq!(t.columns().len(), 81);
    assert_eq!(
        t.read_u64("TARGETID").unwrap(),
        [616094145466860255, 39633393167631849, 39633393167633604]
    );
    assert_eq!(
        t.read_f64("TARGET_RA").unwrap(),
        [189.09940400098614, 189.3192436303275, 189.5705252532345]
    );
    assert_eq!(
        t.read_f64("TARGET_DEC").unwrap(),
        [60.52672849901842, 60.59263617228962, 60.60111193031285]
    );
    assert_eq!(t.column("TARGET_RA").unwrap().unit.as_deref(), Some("deg"));
    assert_eq!(t.read_i64("PETAL_LOC").unwrap(), [0, 0, 0]); // I
    assert_eq!(t.read_i64("FA_TYPE").unwrap(), [4, 1, 1]); // B
                                                           // A float32 (E) column read as f64: astropy's .tolist() widens it the same way.
    assert_eq!(
        t.read_f64("FLUX_G").unwrap(),
        [0.0, 9.003429412841797, 18.46780776977539]
    );
    assert_eq!(t.read_str("OBJTYPE").unwrap(), ["SKY", "TGT", "TGT"]);
    assert_eq!(
        t.read_str("BRICKNAME").unwrap(),
        ["1888p605", "1893p605", "1893p605"]
    );
    assert_eq!(t.read_str("PHOTSYS").unwrap(), ["", "N", "N"]);
}

#[test]
fn tnull_columns_of_a_real_file() {
    // This file declares TNULLs (999999, 16959, 63) on integer columns; its
    // one row holds real values, which must not be mistaken for nulls.
    let Some(f) = open("redrock-4-80613-thru20210324.fits") else {
        return;
    };
    let t = f.table("FIBERMAP").unwrap();
    assert_eq!(t.column("TARGETID").unwrap().tnull, Some(999999));
    assert_eq!(t.column("PETAL_LOC").unwrap().tnull, Some(16959));
    assert_eq!(t.column("FA_TYPE").unwrap().tnull, Some(63));
    assert_eq!(t.column("TARGET_RA").unwrap().tnull, None);
    assert_eq!(
        t.read_i64_opt("TARGETID").unwrap(),
        [Some(39633345008634465)]
    );
    assert_eq!(t.read_i64_opt("PETAL_LOC").unwrap(), [Some(4)]);
    assert_eq!(t.read_i64("FA_TYPE").unwrap(), [1]);
    assert_eq!(t.read_f64("PRIORITY").unwrap(), [2000.0]);
    assert_eq!(t.read_f64("TARGET_RA").unwrap(), [105.48977452498902]);
    let z = f.table("REDSHIFTS").unwrap();
    assert_eq!(z.read_f64("Z").unwrap(), [0.36874355163716493]);
    assert_eq!(z.read_str("SPECTYPE").unwrap(), ["GALAXY"]);
}

#[test]
fn coadd_fibermap_and_long_header_strings() {
    let Some(f) = open("coadd-sv3-dark-26065.fits") else {
        return;
    };
    let t = f.table("FIBERMAP").unwrap();
    assert_eq!(
        t.read_i64("TARGETID").unwrap(),
        [
            -2713437,
            -2713415,
            39627866878511337,
            616088619186127404,
            39627866878514741
        ]
    );
    assert_eq!(
        t.read_f64("TARGET_RA").unwrap(),
        [
            216.9519830524834,
            216.9930487189894,
            216.90419697181056,
            217.06849600835938,
            217.03928418841124
        ]
    );
    assert_eq!(
        t.read_f64("TARGET_DEC").unwrap(),
        [
            3.301117339850041,
            3.301336635321651,
            3.2972553130178555,
            3.2367123032032317,
            3.212218727956518
        ]
    );
    assert_eq!(
        t.read_i64("COADD_FIBERSTATUS").unwrap(),
        [1, 1033, 0, 520, 0]
    );
    assert_eq!(t.read_str("MORPHTYPE").unwrap(), ["", "", "DEV", "", "EXP"]);
    // DEPVER21 is continued over a CONTINUE record in this header.
    assert_eq!(
        t.hdu().header.get_str("depver21"),
        Some("/global/common/software/desi/cori/desiconda/20211217-2.0.0/code/desimodel/0.17.0")
    );
    let scores = f.table("SCORES").unwrap();
    assert_eq!(
        scores.read_f64("INTEG_COADD_FLUX_B").unwrap(),
        [0.0, 0.0, 65.86968231201172, 0.0, 300.22015380859375]
    );
}

#[test]
fn coadd_images_match_astropy() {
    let Some(f) = open("coadd-sv3-dark-26065.fits") else {
        return;
    };
    let (wave, shape) = f.read_image_f64("B_WAVELENGTH").unwrap();
    assert_eq!(shape, [2751]);
    assert_eq!(
        (wave[0], wave[1000], wave[2750]),
        (3600.0, 4400.000000000182, 5800.0000000005)
    );
    let (zw, _) = f.read_image_f64("Z_WAVELENGTH").unwrap();
    assert_eq!((zw[0], zw[2880]), (7520.0, 9824.000000000524));

    let (flux, shape) = f.read_image_f32("B_FLUX").unwrap();
    assert_eq!(shape, [5, 2751]);
    assert_eq!(flux[2 * 2751 + 1000], -0.021457387);
    assert_eq!(flux[4 * 2751 + 2750], -11.741298);
    // Sums over the whole array catch stride or offset errors anywhere.
    let sum: f64 = flux.iter().map(|&x| x as f64).sum();
    close(sum, 562.2345514718036, 1e-9);
    let (ivar, _) = f.read_image_f64("B_IVAR").unwrap();
    close(ivar.iter().sum(), 29003.67925238982, 1e-9);

    let (res, shape) = f.read_image_f32("B_RESOLUTION").unwrap();
    assert_eq!(shape, [5, 11, 2751]);
    assert_eq!(res[(2 * 11 + 5) * 2751 + 1000], 0.47402397);
    assert_eq!(res[(2 * 11) * 2751], -0.0016399242);
    let (rres, _) = f.read_image_f64("R_RESOLUTION").unwrap();
    close(rres.iter().sum(), 4643.369425604495, 1e-9);
}

#[test]
fn desi_masks_are_exact_u32() {
    // Here MASK is BITPIX 32 with BZERO 2^31: stored -2^31 means 0.
    let Some(f) = open("coadd-sv3-dark-26065.fits") else {
        return;
    };
    let b = f.hdu("B_MASK").unwrap();
    assert_eq!(b.header.get_i64("BZERO"), Some(2147483648));
    let (mask, shape) = f.read_image_u32("B_MASK").unwrap();
    assert_eq!(shape, [5, 2751]);
    assert!(mask.iter().all(|&m| m == 0));
    let (r, shape) = f.read_image_u32("R_MASK").unwrap();
    assert_eq!(shape, [5, 2326]);
    let set: Vec<usize> = (0..r.len()).filter(|&i| r[i] != 0).collect();
    let expected: Vec<usize> = [
        195, 196, 197, 996, 997, 998, 999, 1940, 1941, 1942, 1943, 2152, 2153, 2154, 2155, 2156,
    ]
    .iter()
    .map(|c| 2 * 2326 + c)
    .collect();
    assert_eq!(set, expected);
    assert!(set.iter().all(|&i| r[i] == 1));
    // The same values through f64.
    let (rf, _) = f.read_image_f64("R_MASK").unwrap();
    assert_eq!(rf.iter().sum::<f64>(), 16.0);

    // Other coadds store MASK as plain int32 (no BZERO); still readable as u32.
    let Some(g) = open("coadd-4-80613-thru20210324.fits") else {
        return;
    };
    let (m, shape) = g.read_image_u32("Z_MASK").unwrap();
    assert_eq!(shape, [1, 2881]);
    assert!(m.iter().all(|&x| x == 0));
    // Floats are not masks.
    assert!(matches!(
        g.read_image_u32("B_FLUX"),
        Err(FitsError::WrongType { .. })
    ));
}

#[test]
fn logical_columns() {
    let Some(f) = open("coadd-special-dark-27247.fits") else {
        return;
    };
    let t = f.table("EXP_FIBERMAP").unwrap();
    assert_eq!(t.nrows(), 20);
    for arm in ["IN_COADD_B", "IN_COADD_R", "IN_COADD_Z"] {
        assert_eq!(t.read_bool(arm).unwrap(), vec![Some(true); 20]);
    }
    assert_eq!(
        t.read_i64("EXPID").unwrap()[..5],
        [175511, 175512, 175640, 175641, 175780]
    );
    // Reading an image HDU as a table is refused with the HDU named.
    let e = f.table("B_FLUX").unwrap_err();
    assert!(e.to_string().contains("HDU 4 'B_FLUX'"), "{e}");
}

#[test]
fn every_shared_fits_file_opens() {
    // Not only DESI: SDSS spectra, templates, voids, SALSA and GBT files
    // must all parse (headers, data sizes, table layouts).
    let Some(dir) = require_shared_data("every_shared_fits_file_opens") else {
        return;
    };
    let mut stack = vec![dir];
    let mut count = 0;
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "fits") {
                let f = FitsFile::open(&p).unwrap_or_else(|e| panic!("{e}"));
                for h in f.hdus() {
                    if h.kind == HduKind::BinTable {
                        f.table_at(h.index).unwrap_or_else(|e| panic!("{e}"));
                    }
                }
                count += 1;
            }
        }
    }
    assert!(count >= 20, "only {count} FITS files found");
}

#[test]
fn salsa_primary_image_with_bscale() {
    // SALSA spectra are BITPIX 16 primary arrays with BSCALE/BZERO. Stored
    // values (astropy `do_not_scale_image_data=True`) are -30045 and -30034;
    // astropy's own scaled result is float32 (0.00037956238, 0.005764961),
    // so the exact f64 reference is BZERO + BSCALE * stored, computed in
    // Python doubles.
    let Some(dir) = require_shared_data("salsa_primary_image_with_bscale") else {
        return;
    };
    let f = FitsFile::open(&dir.join("hline/salsa/Observe-1/spectrum_10998.fits")).unwrap();
    let (t, shape) = f.read_image_f64("PRIMARY").unwrap();
    assert_eq!(shape, [1, 1, 256]);
    assert_eq!(t[0], 0.0003795422678667393);
    assert_eq!(t[255], 0.005764274747477316);
    let (t0, _) = f.read_image_f64_at(0).unwrap();
    assert_eq!(t, t0);
    let (t32, _) = f.read_image_f32("primary").unwrap();
    assert!((t32[0] - 0.00037956238).abs() < 1e-7);
}

/// A gzip-compressed catalog (`.fits.gz`, how DESI ships its quasar
/// catalogs) opens like an uncompressed one. Expected values from astropy
/// (`fits.open(...)[1].data`) on the same file.
#[test]
fn gzip_compressed_quasar_catalog_reads_like_astropy() {
    let Some(d) = require_shared_data("gzip_compressed_quasar_catalog_reads_like_astropy") else {
        return;
    };
    let f = FitsFile::open(&d.join("qso/desi/QSO_cat_fuji_dark_healpix.fits.gz"))
        .unwrap_or_else(|e| panic!("{e}"));
    let t = f.table("QSO_CAT").unwrap();
    let tid = t.read_i64("TARGETID").unwrap();
    let z = t.read_f64("Z").unwrap();
    assert_eq!(tid.len(), 175);
    assert_eq!(tid[0], 39633493583464924);
    assert_eq!(z[0], 1.5650856616853988);
    close(z.iter().sum::<f64>(), 317.2167185302285, 1e-14);
    assert_eq!(t.read_str("SURVEY").unwrap()[..3], ["sv1", "sv1", "sv1"]);
}
