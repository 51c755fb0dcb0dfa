//! DESI coadds from `$ASTROLAB_SHARED_DATA/desi` through
//! `astrolab_formats::spectra`. Expected values came from astropy 8.0.2
//! (`fits.open(...)`) on the same files; merged spectra are compared to
//! `tests/fixtures/merged_reference_*.csv`, written by
//! `bench/reference_merge.py` (an independent numpy implementation).

use std::collections::HashMap;
use std::path::PathBuf;

use astrolab_formats::spectra::{
    merged_wavelength, read_desi_coadd, DesiCoadd, MERGED_DWAVE, MERGED_NPIX, MERGED_WAVE_MIN,
};
use astrolab_formats::testdata::require_shared_data;

const COADDS: [&str; 3] = [
    "coadd-sv3-dark-26065.fits",
    "coadd-special-dark-27247.fits",
    "coadd-4-80613-thru20210324.fits",
];

fn coadd(name: &str) -> Option<DesiCoadd> {
    let path = require_shared_data(name)?.join("desi").join(name);
    Some(read_desi_coadd(&path).unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn real_coadds_read_with_every_hdu_and_arm() {
    let mut expected_hdus = vec!["PRIMARY", "FIBERMAP", "EXP_FIBERMAP"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    for arm in ["B", "R", "Z"] {
        for part in ["WAVELENGTH", "FLUX", "IVAR", "MASK", "RESOLUTION"] {
            expected_hdus.push(format!("{arm}_{part}"));
        }
    }
    expected_hdus.push("SCORES".into());

    // (file, TARGETIDs, COADD_FIBERSTATUS, first TARGET_RA, first TARGET_DEC,
    //  survey, program, healpix, tileid)
    type Expect = (
        &'static str,
        Vec<i64>,
        Vec<i64>,
        f64,
        f64,
        Option<&'static str>,
        Option<&'static str>,
        Option<i64>,
        Option<i64>,
    );
    let cases: [Expect; 3] = [
        (
            COADDS[0],
            vec![
                -2713437,
                -2713415,
                39627866878511337,
                616088619186127404,
                39627866878514741,
            ],
            vec![1, 1033, 0, 520, 0],
            216.9519830524834,
            3.301117339850041,
            Some("sv3"),
            Some("dark"),
            Some(26065),
            None,
        ),
        (
            COADDS[1],
            vec![39089837499744649],
            vec![0],
            149.465404248889,
            1.7936467486355945,
            Some("special"),
            Some("dark"),
            Some(27247),
            None,
        ),
        (
            COADDS[2],
            vec![39633345008634465],
            vec![0],
            105.48977452498902,
            56.669300058331935,
            None,
            None,
            None,
            Some(80613),
        ),
    ];
    for (name, tids, status, ra, dec, survey, program, healpix, tileid) in cases {
        let Some(c) = coadd(name) else { return };
        assert_eq!(c.hdu_names(), expected_hdus.as_slice(), "{name}");
        assert_eq!(c.fibermap.targetid, tids, "{name}");
        assert_eq!(c.fibermap.coadd_fiberstatus, status, "{name}");
        assert_eq!(c.fibermap.target_ra[0], ra, "{name}");
        assert_eq!(c.fibermap.target_dec[0], dec, "{name}");
        assert_eq!(c.n_spectra(), tids.len());
        assert_eq!(c.row_of(*tids.last().unwrap()), Some(tids.len() - 1));
        assert_eq!(c.row_of(12345), None);
        assert_eq!(c.survey.as_deref(), survey, "{name}");
        assert_eq!(c.program.as_deref(), program, "{name}");
        assert_eq!((c.healpix, c.tileid), (healpix, tileid), "{name}");

        let names: Vec<&str> = c.arms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["B", "R", "Z"]);
        // (npix, first, last wavelength) as astropy reads them.
        let grids = [
            (2751, 3600.0, 5800.0000000005),
            (2326, 5760.0, 7620.000000000423),
            (2881, 7520.0, 9824.000000000524),
        ];
        for (arm, (npix, first, last)) in c.arms.iter().zip(grids) {
            assert_eq!(arm.npix, npix, "{name} {}", arm.name);
            assert_eq!(arm.wavelength.len(), npix);
            assert_eq!(arm.wavelength[0], first, "{name} {}", arm.name);
            assert_eq!(arm.wavelength[npix - 1], last, "{name} {}", arm.name);
            for v in [arm.flux.len(), arm.ivar.len(), arm.mask.len()] {
                assert_eq!(v, npix * tids.len());
            }
            assert_eq!(arm.resolution_ndiag, Some(11), "{name} {}", arm.name);
        }
    }
}

#[test]
fn pixel_values_match_astropy() {
    // FLUX[0, 100], IVAR[0, 100] of each arm, as astropy reads them.
    let cases = [
        (
            COADDS[1],
            [
                (0.35599976778030396, 3.9432239532470703),
                (0.08884159475564957, 29.402542114257812),
                (-0.3339429497718811, 17.28506088256836),
            ],
        ),
        (
            COADDS[2],
            [
                (-0.12283355742692947, 0.43255212903022766),
                (1.4764560461044312, 24.15314483642578),
                (1.1711238622665405, 3.9990406036376953),
            ],
        ),
    ];
    for (name, values) in cases {
        let Some(c) = coadd(name) else { return };
        for (arm, (flux, ivar)) in c.arms.iter().zip(values) {
            assert_eq!(arm.flux[100] as f64, flux, "{name} {}", arm.name);
            assert_eq!(arm.ivar[100] as f64, ivar, "{name} {}", arm.name);
        }
    }
}

#[test]
fn masks_are_exact_u32() {
    // sv3-dark-26065 stores MASK as BITPIX 32 with BZERO 2^31 (uint32).
    // astropy: R_MASK nonzero at (2, 195), (2, 196), (2, 197) = 1; 16 nonzero
    // R pixels, 19 Z pixels, none in B; all values 0 or 1.
    let Some(c) = coadd(COADDS[0]) else { return };
    let [b, r, z] = &c.arms[..] else {
        panic!("3 arms")
    };
    let nonzero = |m: &[u32]| m.iter().filter(|&&v| v != 0).count();
    assert_eq!(nonzero(&b.mask), 0);
    assert_eq!(nonzero(&r.mask), 16);
    assert_eq!(nonzero(&z.mask), 19);
    for p in 195..=197 {
        assert_eq!(r.mask[2 * r.npix + p], 1);
    }
    assert_eq!(r.mask[2 * r.npix + 194], 0);
    assert_eq!(z.mask[2 * z.npix + 165], 1);
    assert!(r.mask.iter().chain(&z.mask).all(|&v| v <= 1));
}

#[test]
fn merged_grid() {
    let w = merged_wavelength();
    assert_eq!(w.len(), MERGED_NPIX);
    assert_eq!(w[0], MERGED_WAVE_MIN);
    assert!((w[MERGED_NPIX - 1] - 9824.0).abs() < 1e-9);
    assert!((w[1] - w[0] - MERGED_DWAVE).abs() < 1e-12);
    // The arm overlaps are where bench/reference_merge.py says.
    assert!((w[2700] - 5760.0).abs() < 1e-9 && (w[2750] - 5800.0).abs() < 1e-9);
    assert!((w[4900] - 7520.0).abs() < 1e-9 && (w[5025] - 7620.0).abs() < 1e-9);
}

/// Parses a fixture CSV: `#` lines skipped, then a header row.
fn fixture(name: &str) -> Vec<HashMap<String, String>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty());
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

fn num(row: &HashMap<String, String>, key: &str) -> f64 {
    row[key].parse().unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// float32 agreement: relative 1e-6, or absolute 1e-30 around zero.
fn close32(actual: f64, expected: f64, what: &str) {
    let tol = 1e-6 * expected.abs().max(actual.abs());
    assert!(
        (actual - expected).abs() <= tol.max(1e-30),
        "{what}: {actual} != {expected}"
    );
}

#[test]
fn merged_spectra_match_the_numpy_reference() {
    let Some(_) = require_shared_data("merged_spectra_match_the_numpy_reference") else {
        return;
    };
    let mut merged = HashMap::new();
    for name in COADDS {
        let c = coadd(name).unwrap();
        let all = c.merged_all().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all.len(), c.n_spectra());
        for (row, m) in all.iter().enumerate() {
            assert_eq!(m, &c.merged(row).unwrap());
            assert!(m.flux.iter().chain(&m.ivar).all(|v| v.is_finite()));
            assert_eq!(
                (m.flux.len(), m.ivar.len(), m.mask.len()),
                (MERGED_NPIX, MERGED_NPIX, MERGED_NPIX)
            );
        }
        merged.insert(name.to_string(), (c.fibermap.targetid.clone(), all));
    }

    let pixels = fixture("merged_reference_pixels.csv");
    assert!(pixels.len() > 400, "{} fixture pixel rows", pixels.len());
    let mut checked_nonzero = 0;
    for r in &pixels {
        let (tids, all) = &merged[&r["file"]];
        let row: usize = r["row"].parse().unwrap();
        assert_eq!(tids[row], r["targetid"].parse::<i64>().unwrap());
        let p: usize = r["pixel"].parse().unwrap();
        let what = format!("{} row {row} pixel {p}", r["file"]);
        assert_eq!(merged_wavelength()[p], num(r, "wavelength"), "{what}");
        close32(
            all[row].flux[p] as f64,
            num(r, "flux"),
            &format!("{what} flux"),
        );
        close32(
            all[row].ivar[p] as f64,
            num(r, "ivar"),
            &format!("{what} ivar"),
        );
        assert_eq!(
            all[row].mask[p],
            r["mask"].parse::<u32>().unwrap(),
            "{what} mask"
        );
        checked_nonzero += usize::from(num(r, "ivar") > 0.0);
    }
    assert!(
        checked_nonzero > 200,
        "only {checked_nonzero} pixels with data"
    );

    let sums = fixture("merged_reference_sums.csv");
    assert_eq!(sums.len(), 7);
    for r in &sums {
        let (tids, all) = &merged[&r["file"]];
        let row: usize = r["row"].parse().unwrap();
        assert_eq!(tids[row], r["targetid"].parse::<i64>().unwrap());
        let m = &all[row];
        let what = format!("{} row {row}", r["file"]);
        let sum_ivar: f64 = m.ivar.iter().map(|&v| v as f64).sum();
        let fi = m
            .flux
            .iter()
            .zip(&m.ivar)
            .map(|(&f, &i)| f as f64 * i as f64);
        let (sum_fi, sum_abs): (f64, f64) = fi.fold((0.0, 0.0), |(s, a), v| (s + v, a + v.abs()));
        close32(sum_ivar, num(r, "sum_ivar"), &format!("{what} sum ivar"));
        close32(
            sum_abs,
            num(r, "sum_abs_flux_ivar"),
            &format!("{what} sum |flux ivar|"),
        );
        // A signed sum: tolerance relative to the sum of magnitudes.
        let tol = 1e-6 * num(r, "sum_abs_flux_ivar");
        assert!(
            (sum_fi - num(r, "sum_flux_ivar")).abs() <= tol.max(1e-30),
            "{what} sum flux ivar: {sum_fi} != {}",
            r["sum_flux_ivar"]
        );
        let masked = m.mask.iter().filter(|&&v| v != 0).count();
        assert_eq!(
            masked,
            r["n_masked"].parse::<usize>().unwrap(),
            "{what} masked"
        );
    }
}
