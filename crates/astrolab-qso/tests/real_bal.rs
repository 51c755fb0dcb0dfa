//! Real BOSS spectra of `qso/boss/` (plates 3655 and 3657): the BAL quasar
//! `spec-3655-55240-0110.fits` at its catalog redshift, every spectrum at
//! its pipeline redshift (counted outcomes and skip reasons), and bad input
//! made from a real spectrum.

mod common;

use std::collections::BTreeMap;

use astrolab_formats::spectra::read_sdss_spec;
use astrolab_qso::bal::{measure, BalConfig, BalSkip, Spectrum};

struct Loaded {
    wave: Vec<f64>,
    flux: Vec<f64>,
    ivar: Vec<f64>,
    z: Option<f64>,
}

fn load(path: &std::path::Path) -> Loaded {
    let s = read_sdss_spec(path).unwrap();
    Loaded {
        flux: s.flux.iter().map(|&f| f64::from(f)).collect(),
        ivar: s.ivar.iter().map(|&f| f64::from(f)).collect(),
        wave: s.wavelength,
        z: s.z,
    }
}

impl Loaded {
    fn spectrum(&self) -> Spectrum<'_> {
        Spectrum {
            wavelength_a: &self.wave,
            flux: &self.flux,
            ivar: &self.ivar,
        }
    }
}

#[test]
fn boss_bal_quasar_at_catalog_redshift() {
    let Some(dir) = common::shared("boss_bal_quasar_at_catalog_redshift") else {
        return;
    };
    let basis = common::pca_basis(&dir);
    let s = load(&dir.join("qso/boss/spec-3655-55240-0110.fits"));
    // Catalog redshift (cat_for_clustering_plate3655; the pipeline has 3.388).
    let r = measure(&s.spectrum(), 2.394, &basis, &BalConfig::default());
    // baltools' DESI path gives BI_CIV 0, AI_CIV 2029 +- 28 km/s here
    // (shared/data/README.md). We give no numbers: the exact least-squares
    // PCA continuum is negative on the C IV peak. The C IV trough covers
    // the emission peak and goes on redward of 1549 A to about 1567 A
    // (+3500 km/s), outside every window baltools (and we) mask, and the
    // five components fit that by a continuum with no C IV peak at all: it
    // dips below zero at 1533-1553 A in every fit of the masking iteration
    // (10 fits, mask still changing), also when the first fit leaves both
    // search windows out, and with 3 or 4 components; 1 or 2 components
    // stay positive but lie below the absorbed flux (median flux/continuum
    // 1.1 over 1400-1560 A). baltools' Nelder-Mead, started at all-ones
    // coefficients, stops somewhere short of this minimum, where its
    // continuum happens to be positive, so it returns an AI. A negative
    // continuum gives no meaningful index, so this is a counted skip.
    assert_eq!(
        r.err(),
        Some(BalSkip::ContinuumNotPositive {
            window: "C IV",
            rest_a: 1543.7898942401387
        })
    );
}

#[test]
fn bad_input_is_a_skip_with_its_reason() {
    let Some(dir) = common::shared("bad_input_is_a_skip_with_its_reason") else {
        return;
    };
    let basis = common::pca_basis(&dir);
    // A quasar at z 2.355 that measures cleanly (no trough).
    let mut s = load(&dir.join("qso/boss/spec-3655-55240-0002.fits"));
    let z = s.z.unwrap();
    let config = BalConfig::default();
    let ok = measure(&s.spectrum(), z, &basis, &config).unwrap();
    assert_eq!(ok.row.balmask, 0);
    assert_eq!((ok.row.bi_civ, ok.row.ai_civ), (0.0, 0.0));
    assert_eq!(ok.row.pca_coeffs.len(), 5);

    for bad_z in [1.2, 5.5, f64::NAN] {
        let e = measure(&s.spectrum(), bad_z, &basis, &config).unwrap_err();
        assert_eq!(e.reason(), "redshift_out_of_range");
        assert_eq!(e.balmask(), 3);
    }
    // Cut the spectrum blueward of rest 1500 A: C IV's window (from
    // 1421.9 A) is no longer covered.
    let cut = s.wave.partition_point(|&w| w < 1500.0 * (1.0 + z));
    let short = Spectrum {
        wavelength_a: &s.wave[cut..],
        flux: &s.flux[cut..],
        ivar: &s.ivar[cut..],
    };
    let e = measure(&short, z, &basis, &config).unwrap_err();
    assert_eq!(e.reason(), "civ_not_covered");
    // All pixels of the C IV window masked (ivar 0).
    for (w, iv) in s.wave.iter().zip(s.ivar.iter_mut()) {
        let rest = w / (1.0 + z);
        if (1400.0..1560.0).contains(&rest) {
            *iv = 0.0;
        }
    }
    let e = measure(&s.spectrum(), z, &basis, &config).unwrap_err();
    assert_eq!(e, BalSkip::AllMasked { window: "C IV" });
    assert_eq!(e.balmask(), 1);
}

#[test]
fn all_boss_spectra_at_pipeline_redshift() {
    let Some(dir) = common::shared("all_boss_spectra_at_pipeline_redshift") else {
        return;
    };
    let basis = common::pca_basis(&dir);
    let mut paths: Vec<_> = std::fs::read_dir(dir.join("qso/boss"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with("spec-") && n.ends_with(".fits")
        })
        .collect();
    paths.sort();
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for p in &paths {
        let s = load(p);
        let z = s.z.unwrap_or(f64::NAN);
        match measure(&s.spectrum(), z, &basis, &BalConfig::default()) {
            Ok(r) => {
                let kind = if r.row.bi_civ > 0.0 {
                    "bi"
                } else if r.row.ai_civ > 0.0 {
                    "ai_only"
                } else {
                    "no_bal"
                };
                *outcomes.entry(kind).or_default() += 1;
                assert!(r.converged, "{}", p.display());
                assert!(r.row.snr_civ > 0.0);
            }
            Err(e) => {
                *outcomes.entry(e.reason()).or_default() += 1;
            }
        }
    }
    // 69 spectra; the pipeline puts the BAL quasar 0110 at z 3.388, where
    // its troughs fall outside the C IV window and only a 53 km/s AI is
    // left. The 12 AI-only quasars have single troughs of 8 to 1736 km/s.
    let expected: BTreeMap<&str, usize> = [
        ("ai_only", 12),
        ("no_bal", 32),
        ("redshift_out_of_range", 25),
    ]
    .into();
    assert_eq!(outcomes, expected);
}
