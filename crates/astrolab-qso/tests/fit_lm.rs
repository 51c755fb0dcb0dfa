//! The bounded Levenberg-Marquardt solver and the Gaussian line model
//! (`astrolab_qso::fit`): NIST's certified nonlinear regressions, bounds
//! that hold, tied [O III] doublets whose errors match the scatter over
//! noise realisations, analytic against finite-difference Jacobians, and
//! bad input.
//!
//! Speed (by hand, `cargo test --release -p astrolab-qso --test fit_lm
//! speed_sanity -- --nocapture`, 2 shared cores of the dev box): a fit of
//! 3 free Gaussians (9 parameters) on 1000 pixels, analytic Jacobian,
//! takes 1.4-1.6 ms in release (8.5 iterations on average; load average 3
//! on the 2 cores while measured), inside issue 20's 3 ms per spectrum.

// Parameters are compared index by index against certified tables, and
// the test problems are returned as plain tuples.
#![allow(clippy::needless_range_loop, clippy::type_complexity)]

use astrolab_qso::fit::gauss::{self, GaussError, LineFit};
use astrolab_qso::fit::lm::{fit, LmError, LmOptions, Model, Param, Peg, Stop};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// `y = f(b, x)` fitted to points, unweighted (as NIST's problems).
struct Curve {
    x: Vec<f64>,
    y: Vec<f64>,
    n_params: usize,
    f: fn(&[f64], f64) -> f64,
    /// `df/db` into the slice (one entry per parameter), if analytic.
    df: Option<fn(&[f64], f64, &mut [f64])>,
}

impl Model for Curve {
    fn n_params(&self) -> usize {
        self.n_params
    }
    fn n_residuals(&self) -> usize {
        self.x.len()
    }
    fn residuals(&self, p: &[f64], r: &mut [f64]) {
        for ((ri, &x), &y) in r.iter_mut().zip(&self.x).zip(&self.y) {
            *ri = y - (self.f)(p, x);
        }
    }
    fn jacobian(&self, p: &[f64], jac: &mut [f64]) -> bool {
        let Some(df) = self.df else { return false };
        let n = self.x.len();
        let mut d = vec![0.0; self.n_params];
        for (i, &x) in self.x.iter().enumerate() {
            df(p, x, &mut d);
            for (k, dk) in d.iter().enumerate() {
                jac[k * n + i] = -dk;
            }
        }
        true
    }
}

fn rel(a: f64, b: f64) -> f64 {
    ((a - b) / b).abs()
}

// NIST StRD nonlinear regression, Misra1a (Misra 1978; lower difficulty):
// https://www.itl.nist.gov/div898/strd/nls/nls_main.shtml
// https://www.itl.nist.gov/div898/strd/nls/data/misra1a.shtml
// y = b1 (1 - exp(-b2 x)).
const MISRA1A_Y: [f64; 14] = [
    10.07, 14.73, 17.94, 23.93, 29.61, 35.18, 40.02, 44.82, 50.76, 55.05, 61.01, 66.40, 75.47,
    81.78,
];
const MISRA1A_X: [f64; 14] = [
    77.6, 114.9, 141.1, 190.8, 239.9, 289.0, 332.8, 378.4, 434.8, 477.3, 536.8, 593.1, 689.1, 760.0,
];
const MISRA1A_START1: [f64; 2] = [500.0, 1e-4];
const MISRA1A_CERTIFIED: [f64; 2] = [2.3894212918E+02, 5.5015643181E-04];
const MISRA1A_SD: [f64; 2] = [2.7070075241E+00, 7.2668688436E-06];
const MISRA1A_RSS: f64 = 1.2455138894E-01;

fn misra1a(analytic: bool) -> Curve {
    Curve {
        x: MISRA1A_X.to_vec(),
        y: MISRA1A_Y.to_vec(),
        n_params: 2,
        f: |b, x| b[0] * (1.0 - (-b[1] * x).exp()),
        df: analytic.then_some(|b: &[f64], x: f64, d: &mut [f64]| {
            let e = (-b[1] * x).exp();
            d[0] = 1.0 - e;
            d[1] = b[0] * x * e;
        }),
    }
}

// NIST StRD, MGH09 (Kowalik & Osborne 1978; Moré, Garbow & Hillstrom 1981;
// higher difficulty): https://www.itl.nist.gov/div898/strd/nls/data/mgh09.shtml
// y = b1 (x^2 + x b2) / (x^2 + x b3 + b4).
const MGH09_Y: [f64; 11] = [
    1.957000E-01,
    1.947000E-01,
    1.735000E-01,
    1.600000E-01,
    8.440000E-02,
    6.270000E-02,
    4.560000E-02,
    3.420000E-02,
    3.230000E-02,
    2.350000E-02,
    2.460000E-02,
];
const MGH09_X: [f64; 11] = [
    4.000000E+00,
    2.000000E+00,
    1.000000E+00,
    5.000000E-01,
    2.500000E-01,
    1.670000E-01,
    1.250000E-01,
    1.000000E-01,
    8.330000E-02,
    7.140000E-02,
    6.250000E-02,
];
const MGH09_START2: [f64; 4] = [0.25, 0.39, 0.415, 0.39];
const MGH09_CERTIFIED: [f64; 4] = [
    1.9280693458E-01,
    1.9128232873E-01,
    1.2305650693E-01,
    1.3606233068E-01,
];
const MGH09_SD: [f64; 4] = [
    1.1435312227E-02,
    1.9633220911E-01,
    8.0842031232E-02,
    9.0025542308E-02,
];
const MGH09_RSS: f64 = 3.0750560385E-04;

fn mgh09() -> Curve {
    Curve {
        x: MGH09_X.to_vec(),
        y: MGH09_Y.to_vec(),
        n_params: 4,
        f: |b, x| b[0] * (x * x + x * b[1]) / (x * x + x * b[2] + b[3]),
        df: Some(|b, x, d| {
            let num = x * x + x * b[1];
            let den = x * x + x * b[2] + b[3];
            d[0] = num / den;
            d[1] = b[0] * x / den;
            d[2] = -b[0] * num * x / (den * den);
            d[3] = -b[0] * num / (den * den);
        }),
    }
}

fn free(values: &[f64]) -> Vec<Param> {
    values.iter().map(|&v| Param::free(v)).collect()
}

#[test]
fn misra1a_from_start1_reaches_the_certified_values() {
    for analytic in [true, false] {
        let best = fit(
            &misra1a(analytic),
            &free(&MISRA1A_START1),
            &LmOptions::default(),
        )
        .unwrap();
        assert_ne!(best.status, Stop::MaxIter, "analytic {analytic}");
        for k in 0..2 {
            assert!(
                rel(best.params[k], MISRA1A_CERTIFIED[k]) < 1e-6,
                "analytic {analytic}: b{} = {} (certified {})",
                k + 1,
                best.params[k],
                MISRA1A_CERTIFIED[k]
            );
        }
        assert!(rel(best.chi2, MISRA1A_RSS) < 1e-9, "RSS {}", best.chi2);
        assert_eq!(best.dof, 12);
        // NIST's standard deviations are the covariance scaled by RSS/dof.
        let sd = best.scaled_errors();
        for k in 0..2 {
            assert!(
                rel(sd[k], MISRA1A_SD[k]) < 1e-6,
                "sd(b{}) = {} (certified {})",
                k + 1,
                sd[k],
                MISRA1A_SD[k]
            );
        }
    }
}

#[test]
fn mgh09_reaches_the_certified_values() {
    // Start 2; from start 1 (25, 39, 41.5, 39) the path runs off towards the
    // local minimum at infinity that NIST's page warns of.
    // b2 is known to only 100 % (sd 0.196 for 0.191): its last digits move
    // chi2 by less than the default ftol, so the tolerances are tightened.
    let tight = LmOptions {
        ftol: 1e-15,
        xtol: 1e-15,
        gtol: 1e-15,
        ..LmOptions::default()
    };
    let best = fit(&mgh09(), &free(&MGH09_START2), &tight).unwrap();
    for k in 0..4 {
        assert!(
            rel(best.params[k], MGH09_CERTIFIED[k]) < 1e-6,
            "b{} = {} (certified {})",
            k + 1,
            best.params[k],
            MGH09_CERTIFIED[k]
        );
    }
    assert!(rel(best.chi2, MGH09_RSS) < 1e-9, "RSS {}", best.chi2);
    let sd = best.scaled_errors();
    for k in 0..4 {
        assert!(rel(sd[k], MGH09_SD[k]) < 1e-5, "sd(b{}) = {}", k + 1, sd[k]);
    }
}

const OIII_5007: f64 = 5008.240;
const OIII_4959: f64 = 4960.295;
/// The 5007/4959 flux ratio, here tied as an amplitude ratio as PyQSOFit
/// does (the line fluxes then differ by a further 5008/4960).
const OIII_RATIO: f64 = 2.98;

/// `n` SDSS-like pixels (1e-4 dex) from 4850 A.
fn grid(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 4850f64.ln() + 1e-4 * std::f64::consts::LN_10 * i as f64)
        .collect()
}

fn noisy(ln_wave: &[f64], truth: &[f64], sigma: f64, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let mut flux = vec![0.0; ln_wave.len()];
    gauss::evaluate(ln_wave, truth, &mut flux);
    let noise = Normal::new(0.0, sigma).unwrap();
    flux.iter_mut().for_each(|f| *f += noise.sample(rng));
    flux
}

/// One line at `rest` with velocity bounds +-1000 km/s and FWHM 100..3000.
fn line_params(rest: f64, amp: f64, v: f64, fwhm: f64) -> [Param; 3] {
    [
        Param::bounded(amp, 0.0, 1e3),
        Param::bounded(
            gauss::ln_centre(rest, v),
            gauss::ln_centre(rest, -1000.0),
            gauss::ln_centre(rest, 1000.0),
        ),
        Param::bounded(
            gauss::sigma_ln(fwhm),
            gauss::sigma_ln(100.0),
            gauss::sigma_ln(3000.0),
        ),
    ]
}

#[test]
fn velocity_and_width_conversions_invert() {
    let mu = gauss::ln_centre(OIII_5007, -321.0);
    assert!((gauss::velocity_kms(OIII_5007, mu) + 321.0).abs() < 1e-9);
    assert!((gauss::fwhm_kms(gauss::sigma_ln(1234.0)) - 1234.0).abs() < 1e-9);
    // sigma = FWHM / 2.3548 / c.
    assert!(rel(gauss::sigma_ln(2.354_820_045 * 299_792.458), 1.0) < 1e-9);
    // The integrated flux of a line against a numerical sum over a fine
    // linear grid.
    let (amp, mu, s) = (3.0, OIII_5007.ln(), gauss::sigma_ln(2000.0));
    let dl = 0.01;
    let sum: f64 = (0..400_000)
        .map(|i| {
            let l = 4900.0 + dl * i as f64;
            amp * (-(l.ln() - mu).powi(2) / (2.0 * s * s)).exp() * dl
        })
        .sum();
    assert!(rel(gauss::line_flux(amp, mu, s), sum) < 1e-9);
}

#[test]
fn tied_oiii_doublet_recovers_the_truth_within_its_errors() {
    let ln_wave = grid(300);
    let (amp, v, fwhm) = (10.0, 150.0, 500.0);
    let truth = [
        amp,
        gauss::ln_centre(OIII_5007, v),
        gauss::sigma_ln(fwhm),
        amp / OIII_RATIO,
        gauss::ln_centre(OIII_4959, v),
        gauss::sigma_ln(fwhm),
    ];
    let sigma = 1.0;
    let ivar = vec![1.0 / (sigma * sigma); ln_wave.len()];
    let mut start = line_params(OIII_5007, 5.0, 0.0, 800.0).to_vec();
    start.push(Param::tied(0, 1.0 / OIII_RATIO, 0.0));
    start.push(Param::tied(1, 1.0, (OIII_4959 / OIII_5007).ln()));
    start.push(Param::tied(2, 1.0, 0.0));

    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let runs = 200;
    let mut est = vec![[0.0; 3]; runs];
    let mut err = vec![[0.0; 3]; runs];
    let (mut beyond_3, mut within_1, mut chi2_dof) = (0, 0, 0.0);
    for run in 0..runs {
        let flux = noisy(&ln_wave, &truth, sigma, &mut rng);
        let model = LineFit::new(&ln_wave, &flux, &ivar, 2).unwrap();
        let best = fit(&model, &start, &LmOptions::default()).unwrap();
        assert_eq!(best.free, vec![0, 1, 2]);
        assert_eq!(best.dof, 297);
        // The ties hold exactly, errors included.
        assert_eq!(best.params[3], (1.0 / OIII_RATIO) * best.params[0]);
        assert_eq!(best.params[5], best.params[2]);
        assert!(rel(best.errors[3], best.errors[0] / OIII_RATIO) < 1e-15);
        assert!(
            (gauss::velocity_kms(OIII_4959, best.params[4])
                - gauss::velocity_kms(OIII_5007, best.params[1]))
            .abs()
                < 1e-9
        );
        for k in 0..3 {
            let z = (best.params[k] - truth[k]) / best.errors[k];
            if run == 0 {
                assert!(z.abs() < 3.0, "parameter {k}: {z} sigma off");
            }
            beyond_3 += usize::from(z.abs() > 3.0);
            within_1 += usize::from(z.abs() < 1.0);
            est[run][k] = best.params[k];
            err[run][k] = best.errors[k];
        }
        chi2_dof += best.reduced_chi2() / runs as f64;
    }
    // Gaussian statistics: 0.27 % beyond 3 sigma (1.6 of 600 expected),
    // 68.3 % within 1 sigma (+-1.9 % over 600).
    assert!(beyond_3 <= 6, "{beyond_3} of 600 beyond 3 sigma");
    let f1 = within_1 as f64 / (3 * runs) as f64;
    assert!((0.62..0.75).contains(&f1), "{f1} within 1 sigma");
    assert!((chi2_dof - 1.0).abs() < 0.02, "mean chi2/dof {chi2_dof}");
    // Reported errors against the scatter of the estimates: the brief asks
    // for a factor 2; with 200 realisations the ratio is known to ~5 %.
    for k in 0..3 {
        let mean = est.iter().map(|e| e[k]).sum::<f64>() / runs as f64;
        let sd =
            (est.iter().map(|e| (e[k] - mean).powi(2)).sum::<f64>() / (runs - 1) as f64).sqrt();
        let mean_err = err.iter().map(|e| e[k]).sum::<f64>() / runs as f64;
        let ratio = sd / mean_err;
        assert!(
            (0.85..1.15).contains(&ratio),
            "parameter {k}: scatter {sd} vs reported {mean_err}"
        );
        // And no bias beyond what 200 runs can show.
        assert!((mean - truth[k]).abs() < 3.0 * sd / (runs as f64).sqrt());
    }
}

#[test]
fn a_bound_holds_and_the_parameter_is_pegged() {
    let ln_wave = grid(300);
    let truth = [
        10.0,
        gauss::ln_centre(OIII_5007, 150.0),
        gauss::sigma_ln(500.0),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let flux = noisy(&ln_wave, &truth, 0.5, &mut rng);
    let ivar = vec![4.0; ln_wave.len()];
    let model = LineFit::new(&ln_wave, &flux, &ivar, 1).unwrap();

    // Amplitude at most 6 (the truth is 10): it ends on the bound, pegged,
    // with no error, and the others are the optimum with it held at 6.
    let mut start = line_params(OIII_5007, 3.0, 0.0, 800.0);
    start[0].upper = 6.0;
    let best = fit(&model, &start, &LmOptions::default()).unwrap();
    assert_eq!(best.params[0], 6.0);
    assert_eq!(best.pegged, vec![Peg::Upper, Peg::No, Peg::No]);
    assert_eq!(best.errors[0], 0.0);
    assert!(best.errors[1] > 0.0 && best.errors[2] > 0.0);
    assert_eq!(best.covariance[0], 0.0);
    let mut held = start;
    held[0] = Param::fixed(6.0);
    let reference = fit(&model, &held, &LmOptions::default()).unwrap();
    for k in 1..3 {
        assert!(rel(best.params[k], reference.params[k]) < 1e-8);
        assert!(rel(best.errors[k], reference.errors[k]) < 1e-6);
    }
    // Same minimum as the fit with the amplitude held at its bound.
    assert!(rel(best.chi2, reference.chi2) < 1e-10);

    // A lower bound: FWHM at least 800 km/s for a 500 km/s line.
    let mut start = line_params(OIII_5007, 3.0, 0.0, 1500.0);
    start[2].lower = gauss::sigma_ln(800.0);
    let best = fit(&model, &start, &LmOptions::default()).unwrap();
    assert_eq!(best.params[2], gauss::sigma_ln(800.0));
    assert_eq!(best.pegged[2], Peg::Lower);
    assert_eq!(best.pegged[0], Peg::No);
    assert!(rel(gauss::fwhm_kms(best.params[2]), 800.0) < 1e-12);

    // A bound that does not bind changes nothing.
    let mut start = line_params(OIII_5007, 3.0, 0.0, 800.0);
    start[0].upper = 20.0;
    let loose = fit(&model, &start, &LmOptions::default()).unwrap();
    assert_eq!(loose.pegged, vec![Peg::No; 3]);
    assert!((loose.params[0] - 10.0).abs() < 3.0 * loose.errors[0]);
}

/// Broad H beta and the [O III] doublet, free: 9 parameters on 1000 pixels.
fn three_lines(seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<Param>, [f64; 9]) {
    let ln_wave = grid(1000);
    let hb = 4862.68;
    let truth = [
        3.0,
        gauss::ln_centre(hb, -300.0),
        gauss::sigma_ln(4000.0),
        10.0,
        gauss::ln_centre(OIII_5007, 100.0),
        gauss::sigma_ln(500.0),
        10.0 / OIII_RATIO,
        gauss::ln_centre(OIII_4959, 100.0),
        gauss::sigma_ln(500.0),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let flux = noisy(&ln_wave, &truth, 0.5, &mut rng);
    let ivar = vec![4.0; ln_wave.len()];
    let mut start = Vec::new();
    let mut broad = line_params(hb, 1.0, 0.0, 3000.0);
    broad[2].upper = gauss::sigma_ln(10_000.0);
    start.extend(broad);
    start.extend(line_params(OIII_5007, 5.0, 0.0, 800.0));
    start.extend(line_params(OIII_4959, 2.0, 0.0, 800.0));
    (ln_wave, flux, ivar, start, truth)
}

#[test]
fn analytic_and_finite_difference_jacobians_agree() {
    let (ln_wave, flux, ivar, start, truth) = three_lines(11);
    let model = LineFit::new(&ln_wave, &flux, &ivar, 3).unwrap();
    let analytic = fit(&model, &start, &LmOptions::default()).unwrap();
    let fd_opts = LmOptions {
        finite_difference: true,
        ..LmOptions::default()
    };
    let numeric = fit(&model, &start, &fd_opts).unwrap();
    for k in 0..9 {
        assert!(
            rel(numeric.params[k], analytic.params[k]) < 1e-8,
            "parameter {k}: {} vs {}",
            numeric.params[k],
            analytic.params[k]
        );
        // The errors come from J itself, which forward differences give to
        // about sqrt(eps) x (curvature x |p|): 1.2e-5 seen, on the amplitude.
        assert!(rel(numeric.errors[k], analytic.errors[k]) < 1e-4);
        assert!((analytic.params[k] - truth[k]).abs() < 4.0 * analytic.errors[k]);
    }
    assert!(rel(numeric.chi2, analytic.chi2) < 1e-12);
    // The finite differences spend 9 residual evaluations per iteration.
    assert!(numeric.n_evaluations >= 9 * numeric.iterations);
}

#[test]
fn speed_sanity() {
    // Not timed: prints the time per fit (see the module docs).
    let runs = 50;
    let data: Vec<_> = (0..runs).map(|s| three_lines(100 + s)).collect();
    let t = std::time::Instant::now();
    let mut iterations = 0;
    for (ln_wave, flux, ivar, start, _) in &data {
        let model = LineFit::new(ln_wave, flux, ivar, 3).unwrap();
        let best = fit(&model, start, &LmOptions::default()).unwrap();
        iterations += best.iterations;
    }
    let per_fit = t.elapsed().as_secs_f64() / runs as f64;
    println!(
        "3 Gaussians, 1000 pixels: {:.3} ms per fit, {:.1} iterations",
        per_fit * 1e3,
        iterations as f64 / runs as f64
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let opts = LmOptions::default();
    // NaN data.
    let mut nan = misra1a(true);
    nan.y[5] = f64::NAN;
    assert_eq!(
        fit(&nan, &free(&MISRA1A_START1), &opts).unwrap_err(),
        LmError::NonFiniteResidual { index: 5 }
    );
    let ln_wave = grid(20);
    let mut flux = vec![1.0; 20];
    flux[3] = f64::NAN;
    assert!(matches!(
        LineFit::new(&ln_wave, &flux, &[1.0; 20], 1).unwrap_err(),
        GaussError::NonFinite { index: 3, .. }
    ));
    // Masked, it is fine, and the dof count drops the pixel.
    let mut ivar = [1.0; 20];
    ivar[3] = 0.0;
    assert_eq!(
        LineFit::new(&ln_wave, &flux, &ivar, 1)
            .unwrap()
            .ln_wave()
            .len(),
        19
    );
    ivar[4] = -1.0;
    assert!(matches!(
        LineFit::new(&ln_wave, &flux, &ivar, 1).unwrap_err(),
        GaussError::BadIvar { index: 4, .. }
    ));

    // Zero degrees of freedom: 2 points, 2 free parameters.
    let mut two = misra1a(true);
    two.x.truncate(2);
    two.y.truncate(2);
    assert_eq!(
        fit(&two, &free(&MISRA1A_START1), &opts).unwrap_err(),
        LmError::NoDegreesOfFreedom {
            residuals: 2,
            free: 2
        }
    );
    // Lower > upper, and an empty interval for a free parameter.
    let model = misra1a(true);
    let mut p = free(&MISRA1A_START1);
    p[1] = Param::bounded(1e-4, 1.0, 0.0);
    assert!(matches!(
        fit(&model, &p, &opts).unwrap_err(),
        LmError::BadBounds { index: 1, .. }
    ));
    p[1] = Param::bounded(1e-4, 1e-4, 1e-4);
    assert!(matches!(
        fit(&model, &p, &opts).unwrap_err(),
        LmError::BadBounds { index: 1, .. }
    ));
    p[1] = Param::bounded(1e-4, 1e-3, 1.0);
    assert!(matches!(
        fit(&model, &p, &opts).unwrap_err(),
        LmError::StartOutsideBounds { index: 1, .. }
    ));
    // Ties to a fixed parameter, to a tied one, to itself, out of range.
    let lines = LineFit::new(&ln_wave, &[1.0; 20], &[1.0; 20], 2).unwrap();
    let base: Vec<Param> = [1.0, 8.5, 1e-3, 0.5, 8.49, 1e-3]
        .iter()
        .map(|&v| Param::free(v))
        .collect();
    let mut p = base.clone();
    p[0] = Param::fixed(1.0);
    p[3] = Param::tied(0, 0.5, 0.0);
    assert_eq!(
        fit(&lines, &p, &opts).unwrap_err(),
        LmError::TieToNonFree { index: 3, to: 0 }
    );
    let mut p = base.clone();
    p[3] = Param::tied(0, 0.5, 0.0);
    p[5] = Param::tied(3, 1.0, 0.0);
    assert_eq!(
        fit(&lines, &p, &opts).unwrap_err(),
        LmError::TieToNonFree { index: 5, to: 3 }
    );
    let mut p = base.clone();
    p[3] = Param::tied(3, 1.0, 0.0);
    assert_eq!(
        fit(&lines, &p, &opts).unwrap_err(),
        LmError::TieToNonFree { index: 3, to: 3 }
    );
    let mut p = base.clone();
    p[3] = Param::tied(9, 1.0, 0.0);
    assert_eq!(
        fit(&lines, &p, &opts).unwrap_err(),
        LmError::TieToNonFree { index: 3, to: 9 }
    );
    // Wrong parameter count, nothing free, a NaN start.
    assert_eq!(
        fit(&lines, &base[..5], &opts).unwrap_err(),
        LmError::ParamCount {
            got: 5,
            expected: 6
        }
    );
    let all_fixed: Vec<Param> = base.iter().map(|q| Param::fixed(q.value)).collect();
    assert_eq!(
        fit(&lines, &all_fixed, &opts).unwrap_err(),
        LmError::NoFreeParameters
    );
    let mut p = base.clone();
    p[2] = Param::free(f64::NAN);
    assert!(matches!(
        fit(&lines, &p, &opts).unwrap_err(),
        LmError::NonFiniteStart { index: 2, .. }
    ));

    // Degenerate parameters: y = a b x cannot separate a from b, and the
    // covariance is an error rather than NaN errors.
    let degenerate = Curve {
        x: MISRA1A_X.to_vec(),
        y: MISRA1A_Y.to_vec(),
        n_params: 2,
        f: |b, x| b[0] * b[1] * x,
        df: Some(|b, x, d| {
            d[0] = b[1] * x;
            d[1] = b[0] * x;
        }),
    };
    assert!(matches!(
        fit(&degenerate, &free(&[1.0, 0.1]), &opts).unwrap_err(),
        LmError::Singular { .. }
    ));
}
