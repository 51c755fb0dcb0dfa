//! Redrock files and SDSS spec files from `$ASTROLAB_SHARED_DATA` through
//! `astrolab_formats::spectra`. Expected values came from astropy 8.0.2
//! (`fits.getdata(...)`) on the same files.

use std::path::PathBuf;

use astrolab_formats::spectra::{read_desi_coadd, read_redrock, read_sdss_spec};
use astrolab_formats::testdata::require_shared_data;

fn data(dir: &str, name: &str) -> Option<PathBuf> {
    Some(require_shared_data(name)?.join(dir).join(name))
}

fn rel(actual: f64, expected: f64, tol: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tol * expected.abs(),
        "{what}: {actual} != {expected}"
    );
}

#[test]
fn redrock_z_per_targetid_as_astropy_reads_it() {
    // (file, [(TARGETID, Z, ZERR, ZWARN, SPECTYPE, DELTACHI2, TARGET_RA, TARGET_DEC)])
    type Row = (i64, f64, f64, i64, &'static str, f64, f64, f64);
    let cases: [(&str, Vec<Row>); 3] = [
        (
            "redrock-test.fits",
            vec![
                (
                    616094145466860255,
                    1.3282815521302358,
                    9.89538066984433e-05,
                    1,
                    "GALAXY",
                    14.115596890449524,
                    189.099404,
                    60.5267285,
                ),
                (
                    39633393167631849,
                    0.1571380861486737,
                    7.765652473439532e-05,
                    0,
                    "GALAXY",
                    303.593896782957,
                    189.31924363,
                    60.59263617,
                ),
                (
                    39633393167633604,
                    -0.0001116825862439458,
                    1.7601120797170596e-05,
                    0,
                    "GALAXY",
                    7465.134551771234,
                    189.57052525,
                    60.60111193,
                ),
            ],
        ),
        (
            "redrock-special-dark-27247.fits",
            vec![(
                39089837499744649,
                0.007269671851219614,
                2.370602638841937e-05,
                0,
                "GALAXY",
                724.4759948265564,
                149.465404248889,
                1.7936467486355945,
            )],
        ),
        (
            "redrock-4-80613-thru20210324.fits",
            vec![(
                39633345008634465,
                0.36874355163716493,
                1.1796156157675983e-06,
                0,
                "GALAXY",
                150343.77423095703,
                105.48977452498902,
                56.669300058331935,
            )],
        ),
    ];
    for (name, rows) in cases {
        let Some(path) = data("desi", name) else {
            return;
        };
        let r = read_redrock(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.targetid.len(), rows.len(), "{name}");
        for (i, (tid, z, zerr, zwarn, spectype, dchi2, ra, dec)) in rows.into_iter().enumerate() {
            assert_eq!(r.targetid[i], tid, "{name}");
            // Exact: both read the same IEEE doubles.
            assert_eq!(r.z[i], z, "{name} {tid}");
            assert_eq!(r.zerr[i], zerr, "{name} {tid}");
            assert_eq!(r.zwarn[i], zwarn, "{name} {tid}");
            assert_eq!(r.spectype[i], spectype, "{name} {tid}");
            assert_eq!(r.subtype[i], "", "{name} {tid}");
            assert_eq!(r.deltachi2[i], dchi2, "{name} {tid}");
            // astropy printed these to 8 decimals (redrock-test) or in full.
            assert!(
                (r.target_ra[i] - ra).abs() < 1e-8,
                "{name} {tid} ra {}",
                r.target_ra[i]
            );
            assert!(
                (r.target_dec[i] - dec).abs() < 1e-8,
                "{name} {tid} dec {}",
                r.target_dec[i]
            );
        }
    }
}

#[test]
fn coadd_and_redrock_of_the_same_pixel_agree() {
    for (coadd, redrock) in [
        (
            "coadd-special-dark-27247.fits",
            "redrock-special-dark-27247.fits",
        ),
        (
            "coadd-4-80613-thru20210324.fits",
            "redrock-4-80613-thru20210324.fits",
        ),
    ] {
        let (Some(c), Some(r)) = (data("desi", coadd), data("desi", redrock)) else {
            return;
        };
        let c = read_desi_coadd(&c).unwrap_or_else(|e| panic!("{e}"));
        let r = read_redrock(&r).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.fibermap.targetid, r.targetid, "{coadd} vs {redrock}");
        assert_eq!(c.fibermap.target_ra, r.target_ra);
        assert_eq!(c.fibermap.target_dec, r.target_dec);
        for t in &r.targetid {
            assert!(c.row_of(*t).is_some());
        }
    }
}

#[test]
fn sdss_spectra_as_astropy_reads_them() {
    // (file, npix, first and last 10**loglam, flux[0], ivar[0], first nonzero
    //  and_mask pixel and value, nonzero count, Z, plate, mjd, fiber, ra, dec)
    type Case = (
        &'static str,
        usize,
        f64,
        f64,
        f64,
        f64,
        usize,
        u32,
        usize,
        f64,
        i64,
        i64,
        i64,
        f64,
        f64,
    );
    let cases: [Case; 3] = [
        (
            "spec-0332-52367-0639.fits",
            3810,
            3829.129730881063,
            9204.49543455949,
            31.216665267944336,
            0.05398295074701309,
            1633,
            8388608,
            1737,
            0.10060976445674896,
            332,
            52367,
            639,
            184.03066,
            -2.2382793,
        ),
        (
            "spec-0266-51602-0013.fits",
            3838,
            3803.6448257531915,
            9202.378439492784,
            8.090792655944824,
            0.056195396929979324,
            518,
            65536,
            1761,
            0.12131637334823608,
            266,
            51602,
            13,
            146.9341,
            -0.67040397,
        ),
        (
            "spec-0266-51602-0107.fits",
            3849,
            3789.6572255123974,
            9191.785627112642,
            20.34526252746582,
            0.0323062539100647,
            1678,
            8388608,
            73,
            0.12314858287572861,
            266,
            51602,
            107,
            146.49052,
            -0.36931044,
        ),
    ];
    for (name, n, w0, w1, f0, i0, mpix, mval, mcount, z, plate, mjd, fiber, ra, dec) in cases {
        let Some(path) = data("sdss", name) else {
            return;
        };
        let s = read_sdss_spec(&path).unwrap_or_else(|e| panic!("{e}"));
        for len in [
            s.wavelength.len(),
            s.flux.len(),
            s.ivar.len(),
            s.and_mask.len(),
        ] {
            assert_eq!(len, n, "{name}");
        }
        // numpy's and libm's pow may differ in the last bit.
        rel(s.wavelength[0], w0, 1e-14, name);
        rel(s.wavelength[n - 1], w1, 1e-14, name);
        assert!(s.wavelength.windows(2).all(|p| p[1] > p[0]), "{name}");
        assert_eq!(s.flux[0] as f64, f0, "{name}");
        assert_eq!(s.ivar[0] as f64, i0, "{name}");
        assert_eq!(
            s.and_mask.iter().position(|&m| m != 0),
            Some(mpix),
            "{name}"
        );
        assert_eq!(s.and_mask[mpix], mval, "{name}");
        assert_eq!(
            s.and_mask.iter().filter(|&&m| m != 0).count(),
            mcount,
            "{name}"
        );
        assert_eq!(s.z, Some(z), "{name}");
        assert_eq!(
            (s.plate, s.mjd, s.fiberid),
            (Some(plate), Some(mjd), Some(fiber)),
            "{name}"
        );
        rel(s.ra.unwrap(), ra, 1e-7, name);
        rel(s.dec.unwrap(), dec, 1e-7, name);
    }
}

#[test]
fn sdss_redshifts_are_the_quasar_and_galaxies_expected() {
    let Some(q) = data("sdss", "spec-0332-52367-0639.fits") else {
        return;
    };
    let s = read_sdss_spec(&q).unwrap();
    let z = s.z.unwrap();
    assert!((z - 0.1006).abs() < 1e-4, "{z}");
    assert_eq!((s.class.as_deref(), s.zwarning), (Some("QSO"), Some(0)));
    for g in ["spec-0266-51602-0013.fits", "spec-0266-51602-0107.fits"] {
        let s = read_sdss_spec(&data("sdss", g).unwrap()).unwrap();
        let z = s.z.unwrap();
        assert!((0.12..0.125).contains(&z), "{g}: {z}");
        assert_eq!(s.class.as_deref(), Some("GALAXY"), "{g}");
    }
    // A quasar the pipeline flagged (SMALL_DELTA_CHI2, bit 2), per astropy.
    let s = read_sdss_spec(&data("qso/boss", "spec-3655-55240-0330.fits").unwrap()).unwrap();
    assert_eq!((s.class.as_deref(), s.zwarning), (Some("QSO"), Some(4)));
}
