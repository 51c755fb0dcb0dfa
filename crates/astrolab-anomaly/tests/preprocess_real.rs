//! Rest-frame preprocessing of real SDSS, BOSS and DESI quasar spectra
//! from `$ASTROLAB_SHARED_DATA/qso` and `sdss/`, read with the workspace's
//! FITS readers. The pinned numbers are what the code reaches on these
//! files; `tests/reference_preprocess.py` (numpy, astropy) reimplements
//! the rebinning and the scale fit from the module docs and reproduces them.

use std::path::{Path, PathBuf};

use astrolab_anomaly::preprocess::{
    Observed, Preprocessor, RestSpectrum, Segment, REST_DLOGLAM, REST_LOGLAM0, REST_NPIX,
};
use astrolab_formats::spectra::{read_desi_coadd, read_sdss_spec, SdssSpectrum};
use astrolab_formats::testdata::require_shared_data;

fn shared(test: &str) -> Option<PathBuf> {
    require_shared_data(test)
}

fn sdss_segment(s: &SdssSpectrum) -> Segment<'_> {
    Segment {
        wavelength_a: &s.wavelength,
        flux: &s.flux,
        ivar: &s.ivar,
        mask: &s.and_mask,
    }
}

/// `actual` equals `expected` to a relative `tol`.
fn within(actual: f64, expected: f64, tol: f64, what: &str) {
    assert!(
        ((actual - expected) / expected).abs() < tol,
        "{what}: {actual} != {expected}"
    );
}

/// A mean of normalised `f32` fluxes, to a relative 1e-6.
fn close(actual: f64, expected: f64, what: &str) {
    within(actual, expected, 1e-6, what);
}

/// A fitted scale (`f64` throughout), to a relative 1e-12.
fn same_scale(actual: f64, expected: f64) {
    within(actual, expected, 1e-12, "scale");
}

/// Rest pixel of a rest wavelength.
fn pixel(rest_a: f64) -> usize {
    ((rest_a.log10() - REST_LOGLAM0) / REST_DLOGLAM).round() as usize
}

/// Inverse-variance-weighted mean of the normalised flux over a rest range.
fn mean_flux(r: &RestSpectrum, lo_a: f64, hi_a: f64) -> f64 {
    let (mut sw, mut swf) = (0.0, 0.0);
    for k in pixel(lo_a)..=pixel(hi_a) {
        let w = f64::from(r.ivar[k]);
        sw += w;
        swf += w * f64::from(r.flux[k]);
    }
    swf / sw
}

#[test]
fn sdss_quasar_at_z_0_1() {
    let Some(d) = shared("sdss_quasar_at_z_0_1") else {
        return;
    };
    let s = read_sdss_spec(&d.join("sdss/spec-0332-52367-0639.fits")).unwrap();
    let z = s.z.unwrap();
    close(z, 0.100_609_764, "SPECOBJ Z");
    let r = Preprocessor::sdss()
        .rest_frame(&[sdss_segment(&s)], z)
        .unwrap();
    // 3810 SDSS pixels of 1e-4 dex: 762 rest pixels of 5e-4 dex, less the
    // sky windows and the pixels with pixel-level mask bits (NEARBADPIXEL).
    assert_eq!(r.n_valid, 717);
    same_scale(r.scale, 106.869_188_932_593_45);
    // The flux is on the grid from 3800 / 1.1006 = 3453 A to 8328 A; the
    // pixel of rest 4000 A holds 4000 (1 + z) = 4402 A observed.
    assert_eq!(r.ivar[pixel(3400.0)], 0.0);
    assert!(r.ivar[pixel(4000.0)] > 0.0);
    assert_eq!(r.ivar[pixel(8400.0)], 0.0);
    // H-alpha (6564.6 A) stands well above the continuum at 6000-6200 A.
    let ha = mean_flux(&r, 6540.0, 6590.0);
    let cont = mean_flux(&r, 6000.0, 6200.0);
    close(ha, 0.779_320_497_852_205_4, "H-alpha mean flux");
    close(cont, 0.436_668_122_006_680_2, "continuum mean flux");
    // DESI's rule (any mask bit is bad) would drop the 45 % of this
    // spectrum that carries only the fibre-level MANYBADCOLUMNS bit.
    let any_bit = Preprocessor::default()
        .rest_frame(&[sdss_segment(&s)], z)
        .unwrap();
    assert_eq!(any_bit.n_valid, 414);
}

#[test]
fn boss_bal_quasar_shows_its_civ_trough() {
    let Some(d) = shared("boss_bal_quasar_shows_its_civ_trough") else {
        return;
    };
    let s = read_sdss_spec(&d.join("qso/boss/spec-3655-55240-0110.fits")).unwrap();
    // The pipeline's Z (3.388) is wrong; the quasar catalog
    // (cat_for_clustering_plate3655.fits.gz, THING_ID 430357124) has:
    let z = 2.393_542_062_409_986;
    let r = Preprocessor::sdss()
        .rest_frame(&[sdss_segment(&s)], z)
        .unwrap();
    assert_eq!(r.n_valid, 922);
    same_scale(r.scale, 1.923_586_194_669_782_3);
    // The troughs sit just blueward of C IV 1549 A and Si IV 1397 A
    // (outflows of 0-3000 km/s at the catalog redshift), at a fifth of
    // the 1600-1700 A continuum.
    let civ = mean_flux(&r, 1530.0, 1555.0);
    let siiv = mean_flux(&r, 1395.0, 1415.0);
    let cont = mean_flux(&r, 1600.0, 1700.0);
    close(civ, 0.562_468_886_268_687_4, "C IV trough");
    close(siiv, 0.593_314_356_304_825_2, "Si IV trough");
    close(cont, 2.507_946_309_360_431_5, "1600-1700 A");
}

#[test]
fn desi_quasar_from_three_arms() {
    let Some(d) = shared("desi_quasar_from_three_arms") else {
        return;
    };
    let c = read_desi_coadd(&d.join("qso/desi/coadd-1-80693-thru20210204.fits")).unwrap();
    let tid = 39_633_559_467_591_522;
    // QSO_cat_fuji_dark_tile.fits.gz, the same TARGETID.
    let z = 2.225_017_246_861_506_5;
    let row = c.row_of(tid).unwrap();
    let segments: Vec<Segment<'_>> = ["B", "R", "Z"]
        .iter()
        .map(|name| {
            let a = c.arm(name).unwrap();
            let span = row * a.npix..(row + 1) * a.npix;
            Segment {
                wavelength_a: &a.wavelength,
                flux: &a.flux[span.clone()],
                ivar: &a.ivar[span.clone()],
                mask: &a.mask[span],
            }
        })
        .collect();
    let p = Preprocessor::default();
    let r = p.rest_frame(&segments, z).unwrap();
    // 3600-9824 A at z = 2.225: rest 1116-3046 A, 872 pixels. A rest
    // pixel spans 4.1-11.3 A observed, so most sky windows (6-10 A) take
    // only part of one; two pixels are lost whole. The coadd masks none.
    assert_eq!(r.n_valid, 870);
    same_scale(r.scale, 1.296_937_732_402_288_6);
    assert_eq!(r.ivar[pixel(1100.0)], 0.0);
    assert!(r.ivar[pixel(1130.0)] > 0.0);
    assert_eq!(r.ivar[pixel(3060.0)], 0.0);
    // C IV and Mg II emission above the continuum between them.
    close(mean_flux(&r, 1535.0, 1565.0), 4.373_616_402_394_717, "C IV");
    close(
        mean_flux(&r, 2780.0, 2820.0),
        1.704_501_042_490_215_8,
        "Mg II",
    );
    close(
        mean_flux(&r, 2150.0, 2250.0),
        1.471_614_573_233_940_5,
        "2150-2250 A",
    );
    // The batch path gives the same row.
    let b = p.dataset([Observed {
        id: tid,
        z,
        segments: segments.clone(),
    }]);
    assert_eq!(b.dataset.ids, vec![tid]);
    assert_eq!(b.dataset.row(0), (&r.flux[..], &r.ivar[..]));
    assert_eq!(b.scales, vec![r.scale]);
}

/// The 119 SDSS/BOSS spectra of `qso/sdss-lowz` with their pipeline
/// redshifts: the two below z 0.1 and the three with wrong redshifts
/// (5.5-6.6) are skipped as out of range, the rest kept.
#[test]
fn sdss_lowz_batch_counts_its_skips() {
    let Some(d) = shared("sdss_lowz_batch_counts_its_skips") else {
        return;
    };
    let dir = d.join("qso/sdss-lowz/spectra");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "fits"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 119);
    let spectra: Vec<SdssSpectrum> = paths.iter().map(|p| read_sdss_spec(p).unwrap()).collect();
    let id = |p: &Path| -> i64 {
        // spec-PLATE-MJD-FIBER.fits -> PLATE * 1e9 + MJD * 1e4 + FIBER.
        let stem = p.file_stem().unwrap().to_str().unwrap();
        let v: Vec<i64> = stem[5..].split('-').map(|x| x.parse().unwrap()).collect();
        v[0] * 1_000_000_000 + v[1] * 10_000 + v[2]
    };
    let batch = Preprocessor::sdss().dataset(paths.iter().zip(&spectra).map(|(p, s)| Observed {
        id: id(p),
        z: s.z.unwrap(),
        segments: vec![sdss_segment(s)],
    }));
    assert_eq!(batch.dataset.n(), 114);
    assert_eq!(batch.dataset.len, REST_NPIX);
    let counts: Vec<(&str, usize)> = batch.skip_counts().into_iter().collect();
    assert_eq!(counts, [("redshift_out_of_range", 5)]);
    let valid: usize = batch.dataset.ivar.iter().filter(|&&x| x > 0.0).count();
    assert_eq!(valid, 91_013);
    assert!(batch.scales.iter().all(|&s| s > 0.0));
}
