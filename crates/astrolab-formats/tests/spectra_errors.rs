//! Bad DESI input through `astrolab_formats::spectra`: truncated files,
//! missing arms, shapes that disagree, NaN/Inf pixels, off-grid wavelengths,
//! redrock tables that do not join. The bad files are written at test time
//! from a real coadd's arrays with the crate's FITS writer.

use std::path::{Path, PathBuf};

use astrolab_formats::spectra::{
    read_desi_coadd, read_redrock, ArmData, DesiCoadd, SpectraError, MASK_BADVALUE, MASK_NODATA,
};
use astrolab_formats::testdata::require_shared_data;
use astrolab_formats::{write_fits, Card, ColumnData, ColumnOut, HduOut, ImageData};

const REAL: &str = "coadd-special-dark-27247.fits";

fn real(test: &str) -> Option<(PathBuf, DesiCoadd)> {
    let path = require_shared_data(test)?.join("desi").join(REAL);
    let c = read_desi_coadd(&path).unwrap_or_else(|e| panic!("{e}"));
    Some((path, c))
}

/// The HDUs of a coadd holding `c`'s FIBERMAP and the given arms.
fn coadd_hdus(c: &DesiCoadd, arms: &[ArmData]) -> Vec<HduOut> {
    let fm = &c.fibermap;
    let mut hdus = vec![
        HduOut::Primary {
            header: vec![Card::int("TILEID", 1)],
        },
        HduOut::Table {
            extname: Some("FIBERMAP".into()),
            header: vec![],
            columns: vec![
                ColumnOut::new("TARGETID", ColumnData::I64(fm.targetid.clone())),
                ColumnOut::new("TARGET_RA", ColumnData::F64(fm.target_ra.clone())),
                ColumnOut::new("TARGET_DEC", ColumnData::F64(fm.target_dec.clone())),
                ColumnOut::new(
                    "COADD_FIBERSTATUS",
                    ColumnData::I64(fm.coadd_fiberstatus.clone()),
                ),
            ],
        },
    ];
    let nspec = c.n_spectra();
    for arm in arms {
        let image = |part: &str, shape: Vec<usize>, data: ImageData| HduOut::Image {
            extname: format!("{}_{part}", arm.name),
            header: vec![],
            shape,
            data,
        };
        let two_d = vec![nspec, arm.npix];
        hdus.push(image(
            "WAVELENGTH",
            vec![arm.npix],
            ImageData::F64(arm.wavelength.clone()),
        ));
        hdus.push(image(
            "FLUX",
            two_d.clone(),
            ImageData::F32(arm.flux.clone()),
        ));
        hdus.push(image(
            "IVAR",
            two_d.clone(),
            ImageData::F32(arm.ivar.clone()),
        ));
        hdus.push(image("MASK", two_d, ImageData::U32(arm.mask.clone())));
        hdus.push(image(
            "RESOLUTION",
            vec![nspec, 11, arm.npix],
            ImageData::F32(vec![0.0; nspec * 11 * arm.npix]),
        ));
    }
    hdus
}

/// The image HDU named `extname` in `hdus`.
fn image_mut<'a>(hdus: &'a mut [HduOut], name: &str) -> (&'a mut Vec<usize>, &'a mut ImageData) {
    for h in hdus {
        if let HduOut::Image {
            extname,
            shape,
            data,
            ..
        } = h
        {
            if extname == name {
                return (shape, data);
            }
        }
    }
    panic!("no {name}")
}

fn write(dir: &Path, name: &str, hdus: &[HduOut]) -> PathBuf {
    let path = dir.join(name);
    write_fits(&path, hdus).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn read_err(path: &Path) -> String {
    match read_desi_coadd(path) {
        Ok(_) => panic!("{} read without error", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_truncated_coadd_names_the_cut_hdu() {
    let Some((path, _)) = real("a_truncated_coadd_names_the_cut_hdu") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Offsets from astropy's `fileinfo`: half the file falls in R_RESOLUTION
    // (data at 313920..417600), 100000 in B_IVAR's data, 9000 in FIBERMAP's
    // header (5760..28800).
    let cuts = [
        (bytes.len() / 2, "HDU 12 'R_RESOLUTION'"),
        (100_000, "HDU 5 'B_IVAR'"),
        (9000, "HDU 1"),
    ];
    for (cut, hdu) in cuts {
        let cut_path = dir.path().join(format!("cut-{cut}.fits"));
        std::fs::write(&cut_path, &bytes[..cut]).unwrap();
        let err = read_err(&cut_path);
        assert!(err.contains("truncated"), "{err}");
        assert!(err.contains(hdu), "{err}");
        assert!(err.contains(&format!("cut-{cut}.fits")), "{err}");
    }
}

#[test]
fn a_missing_arm_reads_the_others_and_merges_as_no_data() {
    let Some((_, c)) = real("a_missing_arm_reads_the_others_and_merges_as_no_data") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (b, z) = (c.arm("B").unwrap(), c.arm("Z").unwrap());
    let path = write(
        dir.path(),
        "no-r.fits",
        &coadd_hdus(&c, &[b.clone(), z.clone()]),
    );
    let only_bz = read_desi_coadd(&path).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = only_bz.arms.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["B", "Z"]);
    assert_eq!(only_bz.arms[0], *b);
    assert_eq!(only_bz.arms[1], *z);
    assert!(!only_bz.hdu_names().iter().any(|n| n.starts_with("R_")));
    assert!(!only_bz
        .hdu_names()
        .iter()
        .any(|n| n == "EXP_FIBERMAP" || n == "SCORES"));
    assert_eq!(only_bz.tileid, Some(1));
    assert_eq!(only_bz.healpix, None);

    let full = c.merged(0).unwrap();
    let m = only_bz.merged(0).unwrap();
    for k in 0..m.flux.len() {
        match k {
            // R alone covered 5800.8..=7519.2 A: now no data.
            2751..=4899 => {
                assert_eq!(
                    (m.flux[k], m.ivar[k], m.mask[k]),
                    (0.0, 0.0, MASK_NODATA),
                    "{k}"
                )
            }
            // The overlaps now hold B (or Z) alone, exactly.
            2700..=2750 => {
                assert_eq!((m.flux[k], m.ivar[k]), (b.flux[k], b.ivar[k]), "{k}");
                assert_eq!(m.mask[k], 0, "{k}");
            }
            4900..=5025 => {
                assert_eq!(
                    (m.flux[k], m.ivar[k]),
                    (z.flux[k - 4900], z.ivar[k - 4900]),
                    "{k}"
                )
            }
            // Elsewhere nothing changed.
            _ => assert_eq!(
                (m.flux[k], m.ivar[k], m.mask[k]),
                (full.flux[k], full.ivar[k], full.mask[k]),
                "{k}"
            ),
        }
    }
    // The real file has R data there, so the test above is not vacuous.
    assert!(full.ivar[2751..4900].iter().all(|&v| v > 0.0));
    assert!(b.ivar[2700..2751].iter().all(|&v| v > 0.0));
}

#[test]
fn shapes_that_disagree_are_errors_naming_the_hdu() {
    let Some((_, c)) = real("shapes_that_disagree_are_errors_naming_the_hdu") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    // B_FLUX one pixel short of B_WAVELENGTH.
    let mut hdus = coadd_hdus(&c, &c.arms);
    let (shape, data) = image_mut(&mut hdus, "B_FLUX");
    *shape = vec![1, 2750];
    *data = ImageData::F32(c.arms[0].flux[..2750].to_vec());
    let err = read_err(&write(dir.path(), "short-flux.fits", &hdus));
    assert!(err.contains("'B_FLUX'"), "{err}");
    assert!(
        err.contains("[1, 2750]") && err.contains("B_WAVELENGTH 2751 pixels"),
        "{err}"
    );

    // R_IVAR with two rows where FIBERMAP has one.
    let mut hdus = coadd_hdus(&c, &c.arms);
    let (shape, data) = image_mut(&mut hdus, "R_IVAR");
    *shape = vec![2, 2326];
    *data = ImageData::F32([c.arms[1].ivar.clone(), c.arms[1].ivar.clone()].concat());
    let err = read_err(&write(dir.path(), "two-rows.fits", &hdus));
    assert!(
        err.contains("'R_IVAR'") && err.contains("FIBERMAP has 1 rows"),
        "{err}"
    );

    // A 2-d wavelength.
    let mut hdus = coadd_hdus(&c, &c.arms);
    let (shape, _) = image_mut(&mut hdus, "Z_WAVELENGTH");
    *shape = vec![1, 2881];
    let err = read_err(&write(dir.path(), "wave-2d.fits", &hdus));
    assert!(
        err.contains("'Z_WAVELENGTH'") && err.contains("not 1-d"),
        "{err}"
    );

    // RESOLUTION with the wrong npix.
    let mut hdus = coadd_hdus(&c, &c.arms);
    let (shape, data) = image_mut(&mut hdus, "B_RESOLUTION");
    *shape = vec![1, 11, 2750];
    *data = ImageData::F32(vec![0.0; 11 * 2750]);
    let err = read_err(&write(dir.path(), "res.fits", &hdus));
    assert!(
        err.contains("'B_RESOLUTION'") && err.contains("[1, 11, 2750]"),
        "{err}"
    );

    // A missing B_MASK.
    let mut hdus = coadd_hdus(&c, &c.arms);
    hdus.retain(|h| !matches!(h, HduOut::Image { extname, .. } if extname == "B_MASK"));
    let err = read_err(&write(dir.path(), "no-mask.fits", &hdus));
    assert!(err.contains("no HDU named 'B_MASK'"), "{err}");

    // No arm at all.
    let err = read_err(&write(dir.path(), "no-arms.fits", &coadd_hdus(&c, &[])));
    assert!(err.contains("no arm found"), "{err}");
}

#[test]
fn nan_and_inf_pixels_are_masked_with_zero_ivar() {
    let Some((_, c)) = real("nan_and_inf_pixels_are_masked_with_zero_ivar") else {
        return;
    };
    let mut arms = c.arms.clone();
    arms[0].flux[100] = f32::NAN; // B only
    arms[0].ivar[200] = f32::INFINITY; // B only
    arms[0].flux[2720] = f32::INFINITY; // B/R overlap (merged 2720, R pixel 20)
    arms[2].flux[2800] = f32::NEG_INFINITY; // Z only (merged 7700)
    arms[2].ivar[2801] = f32::NAN; // Z only (merged 7701)
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "nan.fits", &coadd_hdus(&c, &arms));
    let bad = read_desi_coadd(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        bad.arms[0].flux[100].is_nan(),
        "the reader keeps the stored value"
    );

    let m = bad.merged(0).unwrap();
    assert!(m.flux.iter().chain(&m.ivar).all(|v| v.is_finite()));
    for k in [100, 200, 7700, 7701] {
        assert_eq!(
            (m.flux[k], m.ivar[k], m.mask[k]),
            (0.0, 0.0, MASK_BADVALUE),
            "{k}"
        );
    }
    let r = &c.arms[1];
    assert_eq!(
        (m.flux[2720], m.ivar[2720], m.mask[2720]),
        (r.flux[20], r.ivar[20], 0)
    );
    // The real values were good there.
    let full = c.merged(0).unwrap();
    for k in [100, 200, 2720, 7700, 7701] {
        assert!(full.ivar[k] > 0.0 && full.mask[k] == 0, "{k}");
    }
    assert_ne!(full.ivar[2720], m.ivar[2720]);
    // Nothing else moved.
    let moved = (0..m.flux.len())
        .filter(|&k| {
            (m.flux[k], m.ivar[k], m.mask[k]) != (full.flux[k], full.ivar[k], full.mask[k])
        })
        .count();
    assert_eq!(moved, 5);
}

#[test]
fn off_grid_wavelengths_refuse_to_merge() {
    let Some((_, c)) = real("off_grid_wavelengths_refuse_to_merge") else {
        return;
    };
    let mut arms = c.arms.clone();
    arms[1].wavelength[7] += 0.01;
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "off.fits", &coadd_hdus(&c, &arms));
    let off = read_desi_coadd(&path).unwrap_or_else(|e| panic!("{e}"));
    for result in [off.merged(0).map(|_| ()), off.merged_all().map(|_| ())] {
        let err = result.unwrap_err();
        assert!(
            matches!(err, SpectraError::OffLattice { pixel: 7, .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("arm R: pixel 7") && msg.contains("off.fits"),
            "{msg}"
        );
    }
    let err = off.merged(1).map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("row 1"), "{err}");
}

#[test]
fn a_redrock_target_missing_from_fibermap_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let i64s = |v: &[i64]| ColumnData::I64(v.to_vec());
    let hdus = [
        HduOut::Table {
            extname: Some("REDSHIFTS".into()),
            header: vec![],
            columns: vec![
                ColumnOut::new("TARGETID", i64s(&[10, 11])),
                ColumnOut::new("Z", ColumnData::F64(vec![0.1, 0.2])),
                ColumnOut::new("ZERR", ColumnData::F64(vec![1e-4, 1e-4])),
                ColumnOut::new("ZWARN", i64s(&[0, 4])),
                ColumnOut::new(
                    "SPECTYPE",
                    ColumnData::Str {
                        width: 6,
                        values: vec!["GALAXY".into(), "QSO".into()],
                    },
                ),
                ColumnOut::new(
                    "SUBTYPE",
                    ColumnData::Str {
                        width: 20,
                        values: vec!["".into(), "".into()],
                    },
                ),
                ColumnOut::new("DELTACHI2", ColumnData::F64(vec![50.0, 3.0])),
            ],
        },
        HduOut::Table {
            extname: Some("FIBERMAP".into()),
            header: vec![],
            columns: vec![
                ColumnOut::new("TARGETID", i64s(&[11, 12])),
                ColumnOut::new("TARGET_RA", ColumnData::F64(vec![1.0, 2.0])),
                ColumnOut::new("TARGET_DEC", ColumnData::F64(vec![-1.0, -2.0])),
            ],
        },
    ];
    let path = write(dir.path(), "redrock-bad.fits", &hdus);
    let err = read_redrock(&path).unwrap_err().to_string();
    assert!(
        err.contains("'REDSHIFTS'") && err.contains("row 0") && err.contains("TARGETID 10"),
        "{err}"
    );
    // Joined by TARGETID, not by row: the fixed file gives row 1 FIBERMAP row 0.
    let mut fixed = hdus.clone();
    if let HduOut::Table { columns, .. } = &mut fixed[1] {
        columns[0] = ColumnOut::new("TARGETID", i64s(&[11, 10]));
    }
    let path = write(dir.path(), "redrock-ok.fits", &fixed);
    let r = read_redrock(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.target_ra, [2.0, 1.0]);
    assert_eq!(r.target_dec, [-2.0, -1.0]);
    assert_eq!(r.spectype, ["GALAXY", "QSO"]);
    assert_eq!(r.zwarn, [0, 4]);
}
