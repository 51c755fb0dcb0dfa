//! Synthetic BAL quasars (issue 19 acceptance): seeded continua from DESI's
//! PCA components, Gaussian noise, injected C IV box troughs and narrow
//! doublet absorbers. The truth for BI, AI, VMIN and VMAX is the same
//! measurement on the noise-free spectrum (the same definitions applied to
//! the injected truth); recovery is judged against it.

#[path = "bal_common/mod.rs"]
mod common;

use astrolab_qso::aod::{doublet_columns, DoubletColumns, ALIII, CIV, SIIV};
use astrolab_qso::bal::{measure, BalConfig, BalResult, Spectrum};
use astrolab_qso::continuum::Basis;
use common::{Absorber, BoxTrough, Generator, Synthetic};

fn run(basis: &Basis, s: &Synthetic, clean: bool) -> BalResult {
    let flux = if clean { &s.clean } else { &s.flux };
    // The noise-free truth still needs errors for the trough test's
    // sigma terms: tiny ones.
    let ivar = if clean {
        vec![1e12; s.wave.len()]
    } else {
        s.ivar.clone()
    };
    let spec = Spectrum {
        wavelength_a: &s.wave,
        flux,
        ivar: &ivar,
    };
    measure(&spec, s.z, basis, &BalConfig::default()).expect("a measurable synthetic quasar")
}

/// `got` equals `want` within 10 % or within `err`, whichever is larger.
fn recovered(got: f64, want: f64, err: f64) -> bool {
    (got - want).abs() <= (0.1 * want.abs()).max(err)
}

/// (spectra, BI, AI, VMIN, VMAX recovered) for seed 19. The two BI misses
/// are shallow, narrow troughs (BI 317 and 651 km/s): a noise pixel at an
/// edge moves the trough by one or two 69 km/s pixels, more than 10 % of so
/// small an index and more than its error.
const RECOVERED: (usize, usize, usize, usize, usize) = (200, 198, 200, 200, 200);

#[test]
fn bal_recovery_and_false_positives() {
    let Some(dir) = common::shared("bal_recovery_and_false_positives") else {
        return;
    };
    let basis = common::pca_basis(&dir);
    let mut gen = Generator::new(19);
    let (mut n, mut ok_bi, mut ok_ai, mut ok_vmin, mut ok_vmax) = (0, 0, 0, 0, 0);
    for _ in 0..200 {
        let z = gen.uniform(1.9, 3.5);
        let snr = gen.uniform(8.0, 30.0);
        let vmax = gen.uniform(8_000.0, 24_000.0);
        let width = gen.uniform(2_500.0, (vmax - 3_500.0).min(10_000.0));
        let residual = gen.uniform(0.1, 0.5);
        let trough = BoxTrough {
            vmin_km_s: vmax - width,
            vmax_km_s: vmax,
            residual,
        };
        let s = gen.quasar(&basis, z, snr, &[trough], &[]);
        let truth = run(&basis, &s, true);
        let got = run(&basis, &s, false);
        n += 1;
        let (t, g) = (&truth.row, &got.row);
        assert_eq!(t.nciv_2000, 1, "truth of {trough:?} at z {z}");
        ok_bi += recovered(g.bi_civ.into(), t.bi_civ.into(), g.err_bi_civ.into()) as usize;
        ok_ai += recovered(g.ai_civ.into(), t.ai_civ.into(), g.err_ai_civ.into()) as usize;
        // The deepest BI trough is the one injected.
        ok_vmin += recovered(g.vmin_civ_2000[0].into(), t.vmin_civ_2000[0].into(), 0.0) as usize;
        ok_vmax += recovered(g.vmax_civ_2000[0].into(), t.vmax_civ_2000[0].into(), 0.0) as usize;
    }
    eprintln!("recovered of {n}: BI {ok_bi}, AI {ok_ai}, VMIN {ok_vmin}, VMAX {ok_vmax}");
    assert_eq!((n, ok_bi, ok_ai, ok_vmin, ok_vmax), RECOVERED);

    let mut false_bi = 0;
    let mut false_ai = 0;
    for _ in 0..300 {
        let z = gen.uniform(1.9, 3.5);
        let snr = gen.uniform(5.0, 30.0);
        let s = gen.quasar(&basis, z, snr, &[], &[]);
        let got = run(&basis, &s, false);
        false_bi += (got.row.bi_civ > 0.0) as usize;
        false_ai += (got.row.ai_civ > 0.0) as usize;
    }
    eprintln!("non-BAL: BI > 0 in {false_bi} of 300, AI > 0 in {false_ai}");
    // Acceptance: at most 1 % of non-BAL spectra at S/N > 5 get a BI.
    assert!(false_bi * 100 <= 300);
    assert_eq!((false_bi, false_ai), (0, 0));
}

fn columns(basis: &Basis, s: &Synthetic, a: &Absorber) -> DoubletColumns {
    let r = run(basis, s, false);
    let k0 = r.first_pixel;
    let nf: Vec<f64> = (0..r.rest_wave_a.len())
        .map(|i| s.flux[k0 + i] / r.continuum.model[i])
        .collect();
    let ns: Vec<f64> = (0..r.rest_wave_a.len())
        .map(|i| 1.0 / s.ivar[k0 + i].sqrt() / r.continuum.model[i])
        .collect();
    doublet_columns(
        &a.doublet,
        &r.rest_wave_a,
        &nf,
        &ns,
        a.v0_km_s - 4.0 * a.sigma_v_km_s,
        a.v0_km_s + 4.0 * a.sigma_v_km_s,
    )
    .unwrap()
}

#[test]
fn aod_columns() {
    let Some(dir) = common::shared("aod_columns") else {
        return;
    };
    let basis = common::pca_basis(&dir);
    let mut gen = Generator::new(1991);
    // Unsaturated absorbers (peak optical depth of the strong line 0.3-0.6)
    // at S/N 50: the best column within 0.1 dex of the truth, not flagged.
    for (doublet, log_n) in [(CIV, 14.0), (SIIV, 13.5), (ALIII, 13.5)] {
        for _ in 0..5 {
            let z = gen.uniform(2.0, 3.0);
            let a = Absorber {
                doublet,
                log_n,
                v0_km_s: gen.uniform(-15_000.0, -5_000.0),
                sigma_v_km_s: 60.0,
            };
            let s = gen.quasar(&basis, z, 50.0, &[], &[a]);
            let c = columns(&basis, &s, &a);
            let best = c.best_n_cm2.log10();
            assert!(
                (best - log_n).abs() < 0.1,
                "{} {log_n}: {best}",
                doublet.ion
            );
            assert!(!c.saturated, "{} {log_n}: {c:?}", doublet.ion);
        }
    }
    // Saturated, fully covering absorbers: flagged, and the strong line's
    // apparent column falls short of the truth (a lower limit).
    for (doublet, log_n) in [(CIV, 15.6), (SIIV, 15.0)] {
        for _ in 0..5 {
            let z = gen.uniform(2.0, 3.0);
            let a = Absorber {
                doublet,
                log_n,
                v0_km_s: gen.uniform(-15_000.0, -5_000.0),
                sigma_v_km_s: 60.0,
            };
            let s = gen.quasar(&basis, z, 30.0, &[], &[a]);
            let c = columns(&basis, &s, &a);
            assert!(c.saturated, "{} {log_n}: {c:?}", doublet.ion);
            assert!(!c.partial_covering);
            assert!(c.strong.log_n < log_n - 0.3);
        }
    }
}

/// One seeded quasar, pinned: z 2.5, S/N 15, flux at 0.3 of the continuum
/// from 6000 to 12,000 km/s. Truth by hand: BI counts (1 - 0.3/0.9) = 2/3
/// over 6000 - 2000 km/s, less a pixel at each end: about 2620 km/s; AI over
/// 6000 - 450: about 3650 km/s.
#[test]
fn pinned_synthetic_quasar() {
    let Some(dir) = common::shared("pinned_synthetic_quasar") else {
        return;
    };
    let basis = common::pca_basis(&dir);
    let mut gen = Generator::new(7);
    let trough = BoxTrough {
        vmin_km_s: 6_000.0,
        vmax_km_s: 12_000.0,
        residual: 0.3,
    };
    let s = gen.quasar(&basis, 2.5, 15.0, &[trough], &[]);
    let t = run(&basis, &s, true).row;
    let g = run(&basis, &s, false);
    let r = &g.row;
    assert_eq!((t.bi_civ, t.ai_civ), (2595.6787, 3659.835));
    assert_eq!(
        (t.vmin_civ_2000[0], t.vmax_civ_2000[0]),
        (6024.962, 11983.875)
    );
    assert_eq!((r.nciv_2000, r.nciv_450, g.iterations), (1, 1, 2));
    assert_eq!((r.bi_civ, r.err_bi_civ), (2593.5222, 45.543705));
    assert_eq!((r.ai_civ, r.err_ai_civ), (3645.3623, 53.482468));
    // The trough's edges land on the same pixels as in the truth.
    assert_eq!(
        (r.vmin_civ_2000[0], r.vmax_civ_2000[0]),
        (6024.962, 11983.875)
    );
    assert_eq!(
        (r.posmin_civ_2000[0], r.fmin_civ_2000[0]),
        (11652.332, 0.11746925)
    );
    assert_eq!((r.bi_siiv, r.ai_siiv), (0.0, 0.0));
    assert_eq!(r.pca_chi2, 1.0497439);
    // SNR_FOREST is high because the synthetic continuum below the basis's
    // 1260 A holds its end value (no forest absorption, no emission lines).
    assert_eq!(
        (r.snr_civ, r.snr_redside, r.snr_forest),
        (17.085815, 17.306932, 43.556126)
    );
}
