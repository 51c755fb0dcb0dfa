//! The rarities of the anomaly benchmark (issue 17) beyond the demo's
//! defaults, and how a [`RarityMix`] allots them to quasars.
//!
//! - BAL troughs of varied strength: depth 0.15-0.95, width log-uniform in
//!   2500-15000 km/s, onset 3000-15000 km/s, so the balnicity index
//!   (Weymann et al. 1991, ApJ 373, 23) spans tens to ~10^4 km/s; 15 % are
//!   LoBALs with a Mg II trough (LoBALs are about a tenth of BAL quasars,
//!   Trump et al. 2006, ApJS 165, 1).
//! - Strong narrow absorbers, intervening (at least 5000 km/s below the
//!   quasar): Mg II 2796/2804 doublets with rest equivalent width
//!   W(2796) = 1-3 A (the "strong" systems of Nestor et al. 2005, ApJ 628,
//!   637), C IV 1548/1551 doublets with W(1548) = 0.6-2 A, both redward of
//!   the quasar's Ly-alpha emission; and damped Ly-alpha systems with
//!   log N(HI) = 20.3-21.3 (DLAs: N(HI) >= 2e20 cm^-2, Wolfe et al. 2005,
//!   ARA&A 43, 861) in the Ly-alpha forest. Metal lines have a Gaussian
//!   optical-depth profile `tau(v) = tau0 exp(-(v/b)^2)`, tau0 = 1-10 and
//!   `b` solved for the drawn W; the doublet's second line has `tau0` times
//!   `f2 lambda2 / (f1 lambda1)` (same gas). DLAs have a Voigt profile
//!   (Tepper-Garcia 2006, MNRAS 369, 2025, Eq. 24 approximation). Rest
//!   wavelengths, oscillator strengths and the Ly-alpha damping constant
//!   are those of Morton (2003, ApJS 149, 205). The absorption
//!   `1 - exp(-tau)` is convolved with the instrument's Gaussian LSF, which
//!   keeps the equivalent width.
//! - Shifted broad lines: every broad line (C IV, C III], Mg II, H-beta,
//!   H-alpha) on the grid moved by 1000-5000 km/s either way against the
//!   systemic redshift, as in candidate recoiling or binary black holes
//!   (Eracleous et al. 2012, ApJS 201, 23). Double-peaked broad lines: a
//!   blue and a red copy of each line at -+2500-5000 km/s holding 50-65 % of
//!   the flux in the blue peak (disk emitters, whose blue peak is usually
//!   the stronger; Strateva et al. 2003, AJ 126, 1720). Both re-evaluate
//!   the quasar's own model at Doppler-shifted wavelengths inside a window
//!   around each line (-12000..+12000 km/s, less on the red side of
//!   H-beta and H-alpha, so that [OIII] and [SII] stay put) with 2000 km/s
//!   cosine tapers; the continuum under the window barely changes.
//! - Reddened continua with E(B-V) = 0.05-0.3 (the dust-reddened quasars
//!   of Richards et al. 2003, AJ 126, 1131), less than the demo's default
//!   0.3-0.8, which at z ~ 3 leaves no rest-UV flux to see.
//! - Arm-junction steps: the arms redward of the B/R or R/Z dichroic
//!   multiplied by 0.7-0.9 or 1.1-1.3 (a flux-calibration error; ivar
//!   scales with it), an artefact applied to the data, not the model.
//! - Stars labelled as quasars: a Planck continuum of T_eff 3500-9500 K
//!   with the lines the MK classification uses (Gray & Corbally 2009,
//!   Stellar Spectral Classification): Balmer lines strongest near A0,
//!   Ca II H and K, the G band, Mg b, Na D and the Ca II triplet growing
//!   towards cooler stars, TiO bands below 4200 K; strengths schematic,
//!   vacuum wavelengths, a radial velocity of -150..150 km/s, at z ~ 0
//!   while the catalog says Z = 0.5-3.5. Galaxies labelled as quasars: the
//!   demo's galaxy model (4000 A break, emission lines) at z = 0.05-0.45
//!   with Dn4000 1.1-2.0, H-alpha rest EW 15-60 A (star-forming, Dn4000 <
//!   1.5) or 0.5-3 A, line ratios of star-forming galaxies or LINERs
//!   (Kauffmann et al. 2003, MNRAS 346, 1055; H-alpha/H-beta = 4, case B
//!   2.86 with moderate dust).

use std::f64::consts::PI;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::config::RarityMix;
use crate::spectra::{
    galaxy_continuum, galaxy_continuum_params, galaxy_model, lsf_sigma_a, target_flam,
    AbsorberLine, GalaxyInputs, Rarity, Target, ARMS, CIII_A, CIV_A, C_KM_S, HALPHA_A, HBETA_A,
    LYA_A, MGII_A, R_BAND_A, WAVE_STEP_A,
};

/// Which of `n` quasars get which kind: exactly `round(n * fraction)` of
/// them, picked by a shuffle, the kinds allotted in proportion to the
/// weights by largest remainders (ties to the earlier kind).
pub(crate) fn allot_kinds(
    rng: &mut ChaCha8Rng,
    n: usize,
    fraction: f64,
    mix: &RarityMix,
) -> Vec<Option<&'static str>> {
    let n_rare = ((n as f64 * fraction).round() as usize).min(n);
    let weights = mix.weights();
    let total: f64 = weights.iter().map(|w| w.1).sum();
    let exact: Vec<f64> = weights
        .iter()
        .map(|w| n_rare as f64 * w.1 / total)
        .collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Stable sort: equal remainders keep the kinds' order.
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let short = n_rare - counts.iter().sum::<usize>();
    for &k in order.iter().take(short) {
        counts[k] += 1;
    }
    let kinds: Vec<&'static str> = weights
        .iter()
        .zip(&counts)
        .flat_map(|(w, &c)| std::iter::repeat_n(w.0, c))
        .collect();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(rng);
    let mut out = vec![None; n];
    for (&i, &k) in idx.iter().zip(&kinds) {
        out[i] = Some(k);
    }
    out
}

/// Draw the parameters of a rarity of `kind` for target `t`. A kind that
/// cannot be placed on this spectrum (no trough or absorber on the grid)
/// is drawn again, and after ten tries becomes a reddened continuum.
pub(crate) fn draw_kind(rng: &mut ChaCha8Rng, t: &Target, kind: &str) -> Rarity {
    for _ in 0..10 {
        if let Some(r) = try_kind(rng, t, kind) {
            return r;
        }
    }
    Rarity::Reddened {
        ebv_mag: rng.gen_range(0.3..0.8),
    }
}

fn try_kind(rng: &mut ChaCha8Rng, t: &Target, kind: &str) -> Option<Rarity> {
    let arm = ARMS[rng.gen_range(0..3)];
    Some(match kind {
        "bal" => return draw_bal_varied(rng, t.z),
        "narrow_absorber" => return draw_absorber(rng, t.z),
        "shifted_lines" => {
            let lines = broad_lines_on_grid(t.z);
            if lines.is_empty() {
                return None;
            }
            let sign = if rng.gen::<bool>() { 1.0 } else { -1.0 };
            Rarity::ShiftedLines {
                velocity_km_s: sign * rng.gen_range(1000.0..5000.0),
                lines,
            }
        }
        "double_peaked_lines" => {
            let lines = broad_lines_on_grid(t.z);
            if lines.is_empty() {
                return None;
            }
            Rarity::DoublePeakedLines {
                half_separation_km_s: rng.gen_range(2500.0..5000.0),
                blue_fraction: rng.gen_range(0.5..0.65),
                lines,
            }
        }
        // Dust-reddened quasars: E(B-V) up to ~0.3 (Richards et al. 2003,
        // AJ 126, 1131). The demo's default 0.3-0.8 leaves nothing of a
        // z ~ 3 quasar's rest-UV (7 mag at 1500 A).
        "reddened" => Rarity::Reddened {
            ebv_mag: rng.gen_range(0.05..0.3),
        },
        "sharp_break" => Rarity::SharpBreak {
            observed_wavelength_a: rng.gen_range(4500.0..8500.0),
            factor: rng.gen_range(0.2..0.5),
        },
        "arm_step" => {
            let junction = if rng.gen::<bool>() { "B/R" } else { "R/Z" };
            let sign = if rng.gen::<bool>() { 1.0 } else { -1.0 };
            Rarity::ArmStep {
                junction,
                factor: 1.0 + sign * rng.gen_range(0.1..0.3),
            }
        }
        "cosmic_spike" => Rarity::CosmicSpike {
            arm: arm.name,
            first_pixel: rng.gen_range(100..arm.n_pix - 200),
            n_pixels: rng.gen_range(1..4),
            amplitude: rng.gen_range(50.0..500.0),
        },
        "dead_column" => Rarity::DeadColumn {
            arm: arm.name,
            first_pixel: rng.gen_range(100..arm.n_pix - 200),
            n_pixels: rng.gen_range(5..40),
        },
        "dropped_arm" => Rarity::DroppedArm { arm: arm.name },
        "star_as_qso" => Rarity::StarAsQso {
            teff_k: rng.gen_range(3500.0..9500.0),
            velocity_km_s: rng.gen_range(-150.0..150.0),
        },
        "galaxy_as_qso" => {
            let dn4000: f64 = rng.gen_range(1.1..2.0);
            Rarity::GalaxyAsQso {
                z_galaxy: rng.gen_range(0.05..0.45),
                dn4000,
                vdisp_km_s: rng.gen_range(80.0..250.0),
                halpha_rest_ew_a: if dn4000 < 1.5 {
                    rng.gen_range(15.0..60.0)
                } else {
                    rng.gen_range(0.5..3.0)
                },
            }
        }
        _ => return None,
    })
}

/// Observed grid limits (A).
const GRID_MIN_A: f64 = 3600.0;
const GRID_MAX_A: f64 = 9824.0;

/// A BAL outflow of varied strength whose trough falls on the grid.
fn draw_bal_varied(rng: &mut ChaCha8Rng, z: f64) -> Option<Rarity> {
    let v_min: f64 = rng.gen_range(3000.0..15_000.0);
    let width = (rng.gen_range(2500f64.ln()..15_000f64.ln())).exp();
    let v_max = (v_min + width).min(25_000.0);
    let depth = rng.gen_range(0.15..0.95);
    let lobal = rng.gen::<f64>() < 0.15;
    crate::spectra::bal_rarity(z, v_min, v_max, depth, lobal, (GRID_MIN_A, GRID_MAX_A))
}

/// Mg II and C IV doublets and H I Ly-alpha: (name, vacuum rest A,
/// oscillator strength), Morton (2003).
const MGII_DOUBLET: [(&str, f64, f64); 2] = [
    ("MgII_2796", 2796.3543, 0.6155),
    ("MgII_2804", 2803.5315, 0.3058),
];
const CIV_DOUBLET: [(&str, f64, f64); 2] = [
    ("CIV_1548", 1548.2040, 0.1899),
    ("CIV_1551", 1550.7810, 0.094_75),
];
const HI_LYA: (&str, f64, f64) = ("HI_1216", 1215.6701, 0.4164);
/// Ly-alpha damping constant (s^-1), Morton (2003).
const HI_LYA_GAMMA_S: f64 = 6.265e8;
/// `pi e^2 / (m_e c)` (cm^2 s^-1): the integrated cross-section per unit
/// oscillator strength.
const PI_E2_MC: f64 = 0.026_540;
/// Doppler parameter of the DLAs (km/s); their width is all damping wings.
const DLA_B_KM_S: f64 = 30.0;
/// Smallest velocity between an intervening absorber and the quasar.
const INTERVENING_KM_S: f64 = 5000.0;

/// `int (1 - exp(-tau0 exp(-u^2))) du` over all u: the rest EW of a
/// Gaussian optical-depth line in units of `lambda b / c`.
fn gaussian_line_ew_units(tau0: f64) -> f64 {
    let du = 1e-3;
    (-8000..=8000)
        .map(|i| {
            let u = i as f64 * du;
            1.0 - (-tau0 * (-u * u).exp()).exp()
        })
        .sum::<f64>()
        * du
}

/// An intervening absorber whose lines fall on the grid.
fn draw_absorber(rng: &mut ChaCha8Rng, z: f64) -> Option<Rarity> {
    let zmax = (1.0 + z) * (1.0 - INTERVENING_KM_S / C_KM_S) - 1.0;
    // Metal lines redward of the quasar's Ly-alpha emission (out of the
    // forest), inside the grid with 50 A to spare.
    let forest_end = LYA_A * (1.0 + z) * 1.01;
    let metal = |d: &[(&str, f64, f64); 2]| {
        let lo = (GRID_MIN_A + 50.0).max(forest_end) / d[0].1 - 1.0;
        let hi = ((GRID_MAX_A - 50.0) / d[1].1 - 1.0).min(zmax);
        (lo.max(0.0), hi)
    };
    // DLAs in the forest, their Ly-alpha above 3800 A so that the damping
    // wings are on the grid.
    let dla = ((3800.0 / HI_LYA.1 - 1.0).max(0.0), zmax);
    let options: Vec<(&'static str, (f64, f64))> = [
        ("MgII", metal(&MGII_DOUBLET)),
        ("CIV", metal(&CIV_DOUBLET)),
        ("DLA", dla),
    ]
    .into_iter()
    .filter(|(_, (lo, hi))| lo < hi)
    .collect();
    let &(system, (lo, hi)) = options.choose(rng)?;
    let z_abs = rng.gen_range(lo..hi);
    let line =
        |(name, rest, f): (&'static str, f64, f64), tau0: f64, rest_ew_a: f64| AbsorberLine {
            line: name,
            rest_wavelength_a: rest,
            observed_wavelength_a: rest * (1.0 + z_abs),
            oscillator_strength: f,
            tau0,
            rest_ew_a,
        };
    if system == "DLA" {
        let log_n_hi = rng.gen_range(20.3..21.3);
        let tau0 = dla_tau(10f64.powf(log_n_hi), DLA_B_KM_S, HI_LYA.1);
        let rest_ew = dla_rest_ew_a(10f64.powf(log_n_hi), DLA_B_KM_S);
        let lines = vec![line(HI_LYA, tau0, rest_ew)];
        return Some(Rarity::NarrowAbsorber {
            system,
            z_abs,
            b_km_s: DLA_B_KM_S,
            log_n_hi: Some(log_n_hi),
            total_rest_ew_a: total_rest_ew_a(z_abs, DLA_B_KM_S, Some(log_n_hi), &lines),
            lines,
        });
    }
    let (doublet, ew) = if system == "MgII" {
        (MGII_DOUBLET, rng.gen_range(1.0..3.0))
    } else {
        (CIV_DOUBLET, rng.gen_range(0.6..2.0))
    };
    let tau0 = 10f64.powf(rng.gen_range(0.0..1.0));
    let b_km_s = ew * C_KM_S / (doublet[0].1 * gaussian_line_ew_units(tau0));
    let tau0_2 = tau0 * doublet[1].2 * doublet[1].1 / (doublet[0].2 * doublet[0].1);
    let ew_2 = doublet[1].1 * b_km_s / C_KM_S * gaussian_line_ew_units(tau0_2);
    let lines = vec![line(doublet[0], tau0, ew), line(doublet[1], tau0_2, ew_2)];
    Some(Rarity::NarrowAbsorber {
        system,
        z_abs,
        b_km_s,
        log_n_hi: None,
        total_rest_ew_a: total_rest_ew_a(z_abs, b_km_s, None, &lines),
        lines,
    })
}

/// Voigt function `H(a, x)`, Tepper-Garcia (2006) approximation (good
/// to better than 1e-3 relative for a < 1e-4 as for H I Ly-alpha).
fn voigt_h(a: f64, x: f64) -> f64 {
    let x2 = x * x;
    if x2 < 1e-6 {
        // H(a, 0) = exp(a^2) erfc(a), to first order in a.
        return 1.0 - 2.0 * a / PI.sqrt();
    }
    let h0 = (-x2).exp();
    let q = 1.5 / x2;
    h0 - a / (PI.sqrt() * x2) * (h0 * h0 * (4.0 * x2 * x2 + 7.0 * x2 + 4.0 + q) - q - 1.0)
}

/// Optical depth of H I Ly-alpha at rest wavelength `rest_a` for a column
/// `n_hi` (cm^-2) and Doppler parameter `b_km_s`:
/// `N (pi e^2 / m_e c) f lambda0 / (sqrt(pi) b) H(a, x)`.
fn dla_tau(n_hi: f64, b_km_s: f64, rest_a: f64) -> f64 {
    let (l0, f) = (HI_LYA.1, HI_LYA.2);
    let b_cm_s = b_km_s * 1e5;
    let l0_cm = l0 * 1e-8;
    let a = HI_LYA_GAMMA_S * l0_cm / (4.0 * PI * b_cm_s);
    let x = (rest_a - l0) / l0 * C_KM_S / b_km_s;
    n_hi * PI_E2_MC * f * l0_cm / (PI.sqrt() * b_cm_s) * voigt_h(a, x)
}

/// Half-width (rest A) beyond which a DLA absorbs less than 3e-4: its
/// damping wing `tau = W^2 / (4 pi dlambda^2)` with the damped-regime
/// `W = 7.32 A (N / 1e20)^(1/2)`.
fn dla_half_width_rest_a(n_hi: f64) -> f64 {
    let w = 7.32 * (n_hi / 1e20).sqrt();
    w / (4.0 * PI * 3e-4f64).sqrt()
}

/// Rest equivalent width (A) of a DLA, by integrating `1 - exp(-tau)`.
fn dla_rest_ew_a(n_hi: f64, b_km_s: f64) -> f64 {
    let half = dla_half_width_rest_a(n_hi);
    let step = 0.005;
    let n = (2.0 * half / step) as i64;
    (0..=n)
        .map(|i| {
            let l = HI_LYA.1 - half + i as f64 * step;
            1.0 - (-dla_tau(n_hi, b_km_s, l)).exp()
        })
        .sum::<f64>()
        * step
}

/// Optical depth of an absorber's lines at an observed wavelength.
fn absorber_tau(r: &AbsorberSystem<'_>, wave_a: f64) -> f64 {
    let rest = wave_a / (1.0 + r.z_abs);
    match r.log_n_hi {
        Some(log_n) => dla_tau(10f64.powf(log_n), r.b_km_s, rest),
        None => r
            .lines
            .iter()
            .map(|l| {
                let u = (rest - l.rest_wavelength_a) / l.rest_wavelength_a * C_KM_S / r.b_km_s;
                l.tau0 * (-u * u).exp()
            })
            .sum(),
    }
}

struct AbsorberSystem<'a> {
    z_abs: f64,
    b_km_s: f64,
    log_n_hi: Option<f64>,
    lines: &'a [AbsorberLine],
}

/// Step (A, observed) of the grid the absorption is computed on.
const ABSORBER_DX_A: f64 = 0.05;

/// The observed range an absorber affects, and its absorption `1 -
/// exp(-tau)` there every [`ABSORBER_DX_A`] from the range's start.
fn absorber_profile(sys: &AbsorberSystem<'_>) -> (f64, Vec<f64>) {
    let half = match sys.log_n_hi {
        Some(log_n) => dla_half_width_rest_a(10f64.powf(log_n)) * (1.0 + sys.z_abs),
        None => {
            let l = &sys.lines[0];
            // Where tau0 exp(-u^2) < 1e-5, plus the doublet's span.
            let u = (l.tau0.max(1.0) * 1e5).ln().sqrt();
            6.0 * WAVE_STEP_A + u * l.observed_wavelength_a * sys.b_km_s / C_KM_S
        }
    };
    let first = sys.lines[0].observed_wavelength_a;
    let last = sys.lines[sys.lines.len() - 1].observed_wavelength_a;
    let (lo, hi) = (first - half, last + half);
    let n = ((hi - lo) / ABSORBER_DX_A).ceil() as usize + 1;
    let absorbed = (0..n)
        .map(|j| 1.0 - (-absorber_tau(sys, lo + j as f64 * ABSORBER_DX_A)).exp())
        .collect();
    (lo, absorbed)
}

/// Rest equivalent width (A) of a whole absorption system.
fn total_rest_ew_a(z_abs: f64, b_km_s: f64, log_n_hi: Option<f64>, lines: &[AbsorberLine]) -> f64 {
    let (_, absorbed) = absorber_profile(&AbsorberSystem {
        z_abs,
        b_km_s,
        log_n_hi,
        lines,
    });
    absorbed.iter().sum::<f64>() * ABSORBER_DX_A / (1.0 + z_abs)
}

/// Multiply `model` by the absorber's transmission seen through the LSF:
/// `1 - (A * G)` with `A = 1 - exp(-tau)` on a 0.05 A grid and `G` the
/// Gaussian LSF at each pixel (normalised over +-5 sigma).
fn apply_absorber(model: &mut [f64], wave: &[f64], sys: &AbsorberSystem<'_>) {
    const DX: f64 = ABSORBER_DX_A;
    let (lo, absorbed) = absorber_profile(sys);
    let n = absorbed.len();
    let hi = lo + (n - 1) as f64 * DX;
    for (m, &w) in model.iter_mut().zip(wave) {
        if w < lo || w > hi {
            continue;
        }
        let sigma = lsf_sigma_a(w);
        let j0 = (((w - 5.0 * sigma - lo) / DX).floor().max(0.0)) as usize;
        let j1 = ((((w + 5.0 * sigma - lo) / DX).ceil()) as usize).min(n - 1);
        let (mut sg, mut sga) = (0.0, 0.0);
        for (j, a) in absorbed.iter().enumerate().take(j1 + 1).skip(j0) {
            let x = lo + j as f64 * DX;
            let g = (-0.5 * ((x - w) / sigma).powi(2)).exp();
            sg += g;
            sga += g * a;
        }
        if sg > 0.0 {
            *m *= 1.0 - sga / sg;
        }
    }
}

/// Broad lines moved by the line-kinematics rarities: name, rest
/// wavelength (A), window (km/s) around it.
const BROAD_LINES: [(&str, f64, f64, f64); 5] = [
    ("CIV", CIV_A, -12_000.0, 12_000.0),
    ("CIII]", CIII_A, -12_000.0, 12_000.0),
    ("MgII", MGII_A, -12_000.0, 12_000.0),
    // [OIII] 4959 is 6000 km/s redward of H-beta, [SII] 6716 7000 km/s
    // redward of H-alpha: their windows stop short of them.
    ("Hbeta", HBETA_A, -12_000.0, 4_000.0),
    ("Halpha", HALPHA_A, -12_000.0, 5_000.0),
];
/// Cosine taper outside a line window (km/s).
const WINDOW_TAPER_KM_S: f64 = 2000.0;

/// The broad lines whose centre is on the observed grid at redshift `z`,
/// with 100 A to spare.
fn broad_lines_on_grid(z: f64) -> Vec<&'static str> {
    BROAD_LINES
        .iter()
        .filter(|l| {
            let c = l.1 * (1.0 + z);
            c > GRID_MIN_A + 100.0 && c < GRID_MAX_A - 100.0
        })
        .map(|l| l.0)
        .collect()
}

/// Weight (0-1) of each pixel in the windows of `lines` at redshift `z`.
fn line_windows(wave: &[f64], z: f64, lines: &[&'static str]) -> Vec<f64> {
    let windows: Vec<&(&str, f64, f64, f64)> = BROAD_LINES
        .iter()
        .filter(|l| lines.contains(&l.0))
        .collect();
    wave.iter()
        .map(|&w| {
            windows
                .iter()
                .map(|&&(_, rest, lo, hi)| {
                    let v = C_KM_S * (w / (rest * (1.0 + z)) - 1.0);
                    let d = if v < lo {
                        lo - v
                    } else if v > hi {
                        v - hi
                    } else {
                        0.0
                    };
                    if d >= WINDOW_TAPER_KM_S {
                        0.0
                    } else {
                        0.5 * (1.0 + (PI * d / WINDOW_TAPER_KM_S).cos())
                    }
                })
                .fold(0.0, f64::max)
        })
        .collect()
}

/// Relativistic Doppler factor of a velocity (positive: receding).
fn doppler(v_km_s: f64) -> f64 {
    let b = v_km_s / C_KM_S;
    ((1.0 + b) / (1.0 - b)).sqrt()
}

/// Vacuum rest wavelengths (A) of the stellar lines of [`star_shape`].
const BALMER_A: [f64; 6] = [6564.61, 4862.68, 4341.68, 4102.89, 3971.19, 3890.15];
const CA_K_A: f64 = 3934.78;
const CA_H_A: f64 = 3969.59;
const G_BAND_A: f64 = 4305.6;
const METAL_LINES_A: [f64; 6] = [5176.7, 5891.58, 5897.56, 8500.36, 8544.44, 8664.52];
/// TiO band heads (vacuum A); each band recovers linearly over 150 A.
const TIO_HEADS_A: [f64; 4] = [6160.6, 7055.9, 7591.9, 8434.9];
/// `h c / k` in A K.
const HC_OVER_K_A_K: f64 = 1.438_777e8;

/// A Gaussian absorption line of equivalent width `ew_a` with a depth of
/// at most `max_depth` (wider instead) at `center_a`.
fn absorb(shape: &mut [f64], wave: &[f64], center_a: f64, ew_a: f64, max_depth: f64) {
    if ew_a <= 0.0 {
        return;
    }
    let sqrt_2pi = (2.0 * PI).sqrt();
    let sigma = (ew_a / (max_depth * sqrt_2pi)).max(1.0);
    let depth = ew_a / (sigma * sqrt_2pi);
    for (s, &w) in shape.iter_mut().zip(wave) {
        let d = (w - center_a) / sigma;
        if d.abs() < 6.0 {
            *s *= 1.0 - depth * (-0.5 * d * d).exp();
        }
    }
}

/// Schematic stellar spectrum (arbitrary units) at observed `wave`.
fn star_shape(wave: &[f64], teff_k: f64, velocity_km_s: f64) -> Vec<f64> {
    let dop = 1.0 + velocity_km_s / C_KM_S;
    let mut s: Vec<f64> = wave
        .iter()
        .map(|&w| {
            let l = w / dop;
            l.powi(-5) / ((HC_OVER_K_A_K / (l * teff_k)).exp() - 1.0) * 1e20
        })
        .collect();
    let clamp01 = |x: f64| x.clamp(0.0, 1.0);
    let balmer = 12.0 * (-((teff_k - 9500.0) / 3000.0).powi(2)).exp();
    for &l in &BALMER_A {
        absorb(&mut s, wave, l * dop, balmer, 0.6);
    }
    let ca = 2.0 + 14.0 * clamp01((9500.0 - teff_k) / 4000.0);
    absorb(&mut s, wave, CA_K_A * dop, ca, 0.85);
    absorb(&mut s, wave, CA_H_A * dop, 0.8 * ca, 0.85);
    let cool = clamp01((7500.0 - teff_k) / 3500.0);
    absorb(&mut s, wave, G_BAND_A * dop, 5.0 * cool, 0.5);
    for &l in &METAL_LINES_A {
        absorb(&mut s, wave, l * dop, 0.5 + 4.0 * cool, 0.6);
    }
    let tio = 0.6 * clamp01((4200.0 - teff_k) / 700.0);
    if tio > 0.0 {
        for &head in &TIO_HEADS_A {
            for (x, &w) in s.iter_mut().zip(wave) {
                let d = w / dop - head;
                if (0.0..150.0).contains(&d) {
                    *x *= 1.0 - tio * (1.0 - d / 150.0);
                }
            }
        }
    }
    s
}

/// Galaxy inputs of a [`Rarity::GalaxyAsQso`] with flux density
/// `target_flam` in the r band.
fn galaxy_inputs(
    z_g: f64,
    dn4000: f64,
    vdisp_km_s: f64,
    halpha_rest_ew_a: f64,
    target_flam: f64,
) -> GalaxyInputs {
    let (beta, step) = galaxy_continuum_params(dn4000);
    let norm = target_flam / galaxy_continuum(R_BAND_A / (1.0 + z_g), beta, step);
    let cont_ha = norm * galaxy_continuum(HALPHA_A, beta, step);
    let ha = halpha_rest_ew_a * (1.0 + z_g) * cont_ha;
    let star_forming = dn4000 < 1.5;
    let hb = ha / 4.0;
    let (oiii, nii, sii) = if star_forming {
        (0.5 * hb, 0.4 * ha, 0.15 * ha)
    } else {
        (hb, 1.2 * ha, 0.4 * ha)
    };
    let oii = 0.7 * ha;
    GalaxyInputs {
        dn4000,
        vdisp_km_s,
        // crate::LINE_NAMES order; doublet ratios as in lines.rs.
        line_flux: [
            oii / 2.3,
            oii * 1.3 / 2.3,
            hb,
            oiii / 2.98,
            oiii,
            nii / 3.05,
            ha,
            nii,
            sii,
            sii / 1.4,
        ],
    }
}

/// Apply the rarities of this module that change the model (the others
/// are handled by `spectra::apply_to_model` or act on the data).
/// `base_at(factor)` is the target's base model at `wave * factor`.
pub(crate) fn apply_to_model(
    model: &mut [f64],
    wave: &[f64],
    t: &Target,
    r: &Rarity,
    base_at: &dyn Fn(f64) -> Vec<f64>,
) {
    let z = t.z.max(0.0);
    match r {
        Rarity::NarrowAbsorber {
            z_abs,
            b_km_s,
            log_n_hi,
            lines,
            ..
        } => apply_absorber(
            model,
            wave,
            &AbsorberSystem {
                z_abs: *z_abs,
                b_km_s: *b_km_s,
                log_n_hi: *log_n_hi,
                lines,
            },
        ),
        Rarity::ShiftedLines {
            velocity_km_s,
            lines,
        } => {
            let shifted = base_at(1.0 / doppler(*velocity_km_s));
            let w = line_windows(wave, z, lines);
            for i in 0..model.len() {
                model[i] = (1.0 - w[i]) * model[i] + w[i] * shifted[i];
            }
        }
        Rarity::DoublePeakedLines {
            half_separation_km_s,
            blue_fraction,
            lines,
        } => {
            let d = doppler(*half_separation_km_s);
            let (blue, red) = (base_at(d), base_at(1.0 / d));
            let w = line_windows(wave, z, lines);
            for i in 0..model.len() {
                let split = blue_fraction * blue[i] + (1.0 - blue_fraction) * red[i];
                model[i] = (1.0 - w[i]) * model[i] + w[i] * split;
            }
        }
        Rarity::StarAsQso {
            teff_k,
            velocity_km_s,
        } => {
            let shape = star_shape(wave, *teff_k, *velocity_km_s);
            let at_r = star_shape(&[R_BAND_A], *teff_k, *velocity_km_s)[0];
            let norm = target_flam(t) / at_r;
            for (m, s) in model.iter_mut().zip(shape) {
                *m = s * norm;
            }
        }
        Rarity::GalaxyAsQso {
            z_galaxy,
            dn4000,
            vdisp_km_s,
            halpha_rest_ew_a,
        } => {
            let flam = target_flam(t);
            let g = galaxy_inputs(*z_galaxy, *dn4000, *vdisp_km_s, *halpha_rest_ew_a, flam);
            let (m, _) = galaxy_model(wave, *z_galaxy, &g, flam);
            model.copy_from_slice(&m);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn kinds_are_allotted_exactly_by_weight() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mix = RarityMix::default();
        let out = allot_kinds(&mut rng, 1000, 0.12, &mix);
        assert_eq!(out.iter().filter(|k| k.is_some()).count(), 120);
        let count = |k: &str| out.iter().filter(|x| **x == Some(k)).count();
        // A sixth of 120 per class, split in halves within a class.
        assert_eq!(count("bal"), 20);
        assert_eq!(count("narrow_absorber"), 20);
        for k in [
            "shifted_lines",
            "double_peaked_lines",
            "reddened",
            "sharp_break",
            "arm_step",
            "cosmic_spike",
            "star_as_qso",
            "galaxy_as_qso",
        ] {
            assert_eq!(count(k), 10, "{k}");
        }
        assert_eq!(count("dead_column") + count("dropped_arm"), 0);
        // Largest remainders: 7 over 12 kinds, a sixth of them BAL.
        let out = allot_kinds(&mut rng, 100, 0.07, &mix);
        assert_eq!(out.iter().filter(|k| k.is_some()).count(), 7);
    }

    #[test]
    fn gaussian_line_ew_is_linear_for_thin_lines() {
        // tau0 << 1: int tau0 exp(-u^2) du = tau0 sqrt(pi).
        let w = gaussian_line_ew_units(1e-4);
        assert!((w / (1e-4 * PI.sqrt()) - 1.0).abs() < 1e-4, "{w}");
        assert!(gaussian_line_ew_units(10.0) > gaussian_line_ew_units(1.0));
    }

    #[test]
    fn dla_equivalent_width_is_the_damped_value() {
        // Damped regime: W = 7.32 A (N / 1e20)^(1/2) (2 sqrt(pi C) in
        // frequency, C = N (pi e^2 / m_e c) f Gamma / (4 pi^2)).
        for log_n in [20.3, 21.0] {
            let n = 10f64.powf(log_n);
            let w = dla_rest_ew_a(n, DLA_B_KM_S);
            let want = 7.32 * (n / 1e20).sqrt();
            assert!((w / want - 1.0).abs() < 0.02, "{log_n}: {w} vs {want}");
        }
        // The core is black.
        assert!(dla_tau(2e20, DLA_B_KM_S, 1215.67) > 1e5);
        // Voigt wings: H -> a / (sqrt(pi) x^2).
        let (a, x) = (2e-4, 30.0);
        let h = voigt_h(a, x);
        assert!((h / (a / (PI.sqrt() * x * x)) - 1.0).abs() < 0.01, "{h}");
    }
}
