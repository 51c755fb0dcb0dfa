//! The anomaly benchmark (issue 17, `DemoConfig::anomaly_benchmark`):
//! labels in the truth table, files the user path reads, and for every
//! new kind of rarity the injected feature in the written flux. Quasars
//! use the redrock templates of `$ASTROLAB_SHARED_DATA/templates`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use astrolab_demo::{
    generate_catalog, generate_sky, simulate_spectra, DemoConfig, Rarity, SimSpectrum,
    SyntheticSpectra, ARMS,
};
use astrolab_formats::spectra::{read_desi_coadd, read_redrock};
use astrolab_formats::testdata::require_shared_data;

const C_KM_S: f64 = 299_792.458;

/// The benchmark config with the shared redrock templates.
fn config(n: usize, fraction: f64, seed: u64, shared: &Path) -> DemoConfig {
    let mut c = DemoConfig::anomaly_benchmark(n, fraction, seed);
    c.spectra.templates_dir = Some(shared.join("templates"));
    c
}

fn simulate(c: &DemoConfig) -> SyntheticSpectra {
    simulate_spectra(&generate_catalog(c).expect("catalog")).expect("spectra")
}

fn all(s: &SyntheticSpectra) -> impl Iterator<Item = &SimSpectrum> {
    s.groups.iter().flat_map(|g| g.spectra.iter())
}

/// Every quasar with a rarity (40 of each kind), and the same quasars
/// without (same seed, rarity fraction 0: same base model and noise draws).
struct Pairs {
    with: SyntheticSpectra,
    plain: BTreeMap<i64, SimSpectrum>,
}

impl Pairs {
    fn new(shared: &Path) -> Self {
        let with = simulate(&config(480, 1.0, 23, shared));
        let plain = simulate(&config(480, 0.0, 23, shared));
        let plain = all(&plain).map(|x| (x.targetid, x.clone())).collect();
        Pairs { with, plain }
    }

    /// (spectrum, its twin without rarity) for a kind.
    fn of(&self, kind: &str) -> Vec<(&SimSpectrum, &SimSpectrum)> {
        all(&self.with)
            .filter(|x| x.rarity.as_ref().is_some_and(|r| r.kind() == kind))
            .map(|x| (x, &self.plain[&x.targetid]))
            .collect()
    }
}

/// How a model differs from its twin in the data: over the pixels where
/// the two models differ, the chi^2 of the flux against each, the pixels,
/// and the chi^2 the difference is expected to add (`sum ivar (m - b)^2`).
#[derive(Debug)]
struct Evidence {
    n: usize,
    chi2_model: f64,
    chi2_base: f64,
    expected: f64,
}

fn evidence(x: &SimSpectrum, base: &SimSpectrum) -> Evidence {
    let mut e = Evidence {
        n: 0,
        chi2_model: 0.0,
        chi2_base: 0.0,
        expected: 0.0,
    };
    for (k, arm) in ARMS.iter().enumerate() {
        for i in 0..arm.n_pix {
            let (m, b) = (f64::from(x.model[k][i]), f64::from(base.model[k][i]));
            let iv = f64::from(x.ivar[k][i]);
            if iv <= 0.0 || (m - b).abs() <= 1e-6 * b.abs().max(1e-3) {
                continue;
            }
            let f = f64::from(x.flux[k][i]);
            e.n += 1;
            e.chi2_model += iv * (f - m).powi(2);
            e.chi2_base += iv * (f - b).powi(2);
            e.expected += iv * (m - b).powi(2);
        }
    }
    e
}

/// Model value at an observed wavelength (A), from the first arm that
/// covers it, linearly interpolated.
fn at(model: &[Vec<f32>; 3], wave_a: f64) -> f64 {
    for (k, a) in ARMS.iter().enumerate() {
        let x = (wave_a - a.wave_min_a) / 0.8;
        if x >= 0.0 && x < (a.n_pix - 1) as f64 {
            let i = x.floor() as usize;
            let t = x - i as f64;
            return f64::from(model[k][i]) * (1.0 - t) + f64::from(model[k][i + 1]) * t;
        }
    }
    f64::NAN
}

/// The wavelength (A) of the highest pixel of `model` within `lo..hi` A
/// (first arm covering each pixel).
fn peak(model: &[Vec<f32>; 3], lo: f64, hi: f64) -> f64 {
    let mut best = (f32::MIN, f64::NAN);
    for (k, a) in ARMS.iter().enumerate() {
        let start = if k == 0 {
            0.0
        } else {
            ARMS[k - 1].wave_min_a + 0.8 * (ARMS[k - 1].n_pix - 1) as f64
        };
        for (i, w) in a.wavelength_a().into_iter().enumerate() {
            if w <= start || w < lo || w > hi {
                continue;
            }
            if model[k][i] > best.0 {
                best = (model[k][i], w);
            }
        }
    }
    best.1
}

fn shared(test: &str) -> Option<PathBuf> {
    require_shared_data(test)
}

/// Over the pixels where the rarity changes the model, the written flux
/// follows the model with the rarity (chi^2 per pixel about 1) and departs
/// from the plain quasar by about the expected chi^2; the truth's
/// `delta_chi2` is that expectation.
fn assert_in_the_flux(x: &SimSpectrum, base: &SimSpectrum) -> Evidence {
    let e = evidence(x, base);
    let n = e.n as f64;
    assert!(e.n > 0, "{}: the rarity changes nothing", x.targetid);
    assert!(
        (e.chi2_model / n - 1.0).abs() < 5.0 * (2.0 / n).sqrt() + 0.02,
        "{}: chi2 per pixel {} over {n} pixels",
        x.targetid,
        e.chi2_model / n
    );
    // chi2_base - chi2_model has mean `expected` and standard deviation
    // 2 sqrt(expected).
    let d = e.chi2_base - e.chi2_model;
    assert!(
        (d - e.expected).abs() < 5.0 * 2.0 * e.expected.sqrt() + 1.0,
        "{}: delta chi2 {d}, expected {}",
        x.targetid,
        e.expected
    );
    let truth = x.rarity_delta_chi2.unwrap();
    assert!(
        (truth / e.expected - 1.0).abs() < 1e-3,
        "{}: truth delta_chi2 {truth}, measured {}",
        x.targetid,
        e.expected
    );
    e
}

/// Equivalent width (A, observed) of `1 - model / base` over the first
/// arm covering each pixel.
fn absorbed_ew_a(x: &[Vec<f32>; 3], base: &[Vec<f32>; 3]) -> f64 {
    let mut w = 0.0;
    for (k, a) in ARMS.iter().enumerate() {
        let start = if k == 0 {
            f64::MIN
        } else {
            ARMS[k - 1].wave_min_a + 0.8 * (ARMS[k - 1].n_pix - 1) as f64
        };
        for (i, wave) in a.wavelength_a().into_iter().enumerate() {
            if wave > start && base[k][i] > 0.0 {
                w += (1.0 - f64::from(x[k][i]) / f64::from(base[k][i])) * 0.8;
            }
        }
    }
    w
}

#[test]
fn benchmark_files_hold_the_labelled_quasars() {
    let Some(d) = shared("benchmark_files_hold_the_labelled_quasars") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let c = config(600, 0.2, 5, &d);
    let summary = generate_sky(dir.path(), &c).expect("generate");
    let sim = simulate(&c);
    let by_id: BTreeMap<i64, &SimSpectrum> = all(&sim).map(|x| (x.targetid, x)).collect();
    let coadds: Vec<&PathBuf> = summary
        .files
        .iter()
        .filter(|f| f.kind == "coadd")
        .map(|f| &f.path)
        .collect();
    // 600 quasars at 200 per deg^2 want 3 deg^2; the sky is at least a
    // 1 x 10 deg strip (RA 150-151, Dec 0-10), which touches 27 NSIDE-64
    // pixels.
    assert_eq!(coadds.len(), 27);
    let mut n = 0;
    for path in &coadds {
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("coadd-main-dark-"), "{name}");
        let coadd = read_desi_coadd(path).unwrap();
        assert!(coadd
            .hdu_names()
            .iter()
            .all(|h| !h.ends_with("_RESOLUTION")));
        let rr = read_redrock(&path.with_file_name(name.replacen("coadd", "redrock", 1))).unwrap();
        assert_eq!(rr.targetid, coadd.fibermap.targetid);
        for (row, &tid) in coadd.fibermap.targetid.iter().enumerate() {
            assert_eq!(rr.spectype[row], "QSO");
            assert_eq!(rr.zwarn[row], 0);
            assert!((0.5..3.5).contains(&rr.z[row]), "{}", rr.z[row]);
            // What the file holds is what the simulation made.
            let x = by_id[&tid];
            assert_eq!(rr.z[row], x.z);
            for (k, arm) in coadd.arms.iter().enumerate() {
                let span = row * arm.npix..(row + 1) * arm.npix;
                assert_eq!(arm.flux[span.clone()], x.flux[k][..], "{tid} {}", arm.name);
                assert_eq!(arm.ivar[span], x.ivar[k][..], "{tid} {}", arm.name);
            }
            n += 1;
        }
    }
    assert_eq!(n, 600);
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("spectra_truth.json")).unwrap())
            .unwrap();
    assert_eq!(truth["n_quasars"], 600);
    assert_eq!(truth["n_rarities"], 120);
    assert_eq!(truth["qso_model"], "redrock-templates");
    for class in [
        "bal",
        "narrow_absorber",
        "line_kinematics",
        "odd_continuum",
        "artefact",
        "not_a_quasar",
    ] {
        assert_eq!(truth["class_counts"][class], 20, "{class}");
    }
    let rows = truth["rarities"].as_array().unwrap();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut visible = 0;
    for r in rows {
        let tid = r["targetid"].as_i64().unwrap();
        let x = by_id[&tid];
        let rarity = x.rarity.as_ref().unwrap();
        assert_eq!(r["kind"], rarity.kind());
        assert_eq!(r["class"], rarity.class());
        assert_eq!(r["spectype"], "QSO");
        let dchi2 = r["delta_chi2"].as_f64().unwrap();
        assert_eq!(dchi2, x.rarity_delta_chi2.unwrap());
        if dchi2 > 25.0 {
            visible += 1;
        }
        *kinds
            .entry(r["kind"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let kinds: Vec<(&str, usize)> = kinds.iter().map(|(k, &v)| (k.as_str(), v)).collect();
    assert_eq!(
        kinds,
        [
            ("arm_step", 10),
            ("bal", 20),
            ("cosmic_spike", 10),
            ("double_peaked_lines", 10),
            ("galaxy_as_qso", 10),
            ("narrow_absorber", 20),
            ("reddened", 10),
            ("sharp_break", 10),
            ("shifted_lines", 10),
            ("star_as_qso", 10)
        ]
    );
    // Rarities at 5 sigma or more in their spectrum's noise.
    assert_eq!(visible, 107);
}

/// Same seed, same bytes; another seed, other quasars and rarities.
#[test]
fn benchmark_is_deterministic_by_seed() {
    let Some(d) = shared("benchmark_is_deterministic_by_seed") else {
        return;
    };
    let files = |seed: u64| -> BTreeMap<String, Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        generate_sky(dir.path(), &config(200, 0.1, seed, &d)).unwrap();
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    };
    let (a, b, other) = (files(3), files(3), files(4));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name} differs between two runs of seed 3"
        );
    }
    let truth = "spectra_truth.json";
    assert!(a[truth] != other[truth]);
    let common = a
        .keys()
        .filter(|k| k.starts_with("coadd-") && other.contains_key(*k));
    for name in common {
        assert!(a[name] != other[name], "{name} identical for seeds 3 and 4");
    }
}

#[test]
fn narrow_absorbers_have_their_equivalent_width_at_their_wavelength() {
    let Some(d) = shared("narrow_absorbers") else {
        return;
    };
    let p = Pairs::new(&d);
    let mut systems: BTreeMap<&str, usize> = BTreeMap::new();
    let mut visible = 0;
    for (x, b) in p.of("narrow_absorber") {
        let Some(Rarity::NarrowAbsorber {
            system,
            z_abs,
            lines,
            log_n_hi,
            total_rest_ew_a,
            ..
        }) = &x.rarity
        else {
            unreachable!()
        };
        *systems.entry(system).or_default() += 1;
        assert!(*z_abs < x.z, "intervening");
        // The model loses exactly the lines' equivalent width (the LSF
        // conserves it), less, for a DLA, the damping wing beyond the
        // grid's blue end: int_D^inf W^2 / (4 pi x^2) dx = W^2 / (4 pi D)
        // (rest frame), D the distance to 3600 A, up to where the DLA's
        // profile was cut.
        let mut want = total_rest_ew_a * (1.0 + z_abs);
        // Doublets blend (a little) when wide: the system's EW is at most
        // the sum of its lines' (to the 1e-3 of two numerical integrals).
        let sum: f64 = lines.iter().map(|l| l.rest_ew_a).sum();
        assert!(
            *total_rest_ew_a <= sum * 1.001 && *total_rest_ew_a > 0.9 * sum,
            "{} {system}: {total_rest_ew_a} vs {sum}",
            x.targetid
        );
        if let Some(log_n) = log_n_hi {
            let w = 7.32 * 10f64.powf(0.5 * (log_n - 20.0));
            let cut = w / (4.0 * std::f64::consts::PI * 3e-4f64).sqrt();
            let edge = (lines[0].observed_wavelength_a - 3600.0) / (1.0 + z_abs);
            if edge < cut {
                want -=
                    w * w / (4.0 * std::f64::consts::PI) * (1.0 / edge - 1.0 / cut) * (1.0 + z_abs);
            }
        }
        let got = absorbed_ew_a(&x.model, &b.model);
        assert!(
            (got / want - 1.0).abs() < 0.005,
            "{system} {}: EW {got} vs {want}",
            x.targetid
        );
        // Absorbed most at the strongest line's observed wavelength.
        let l = &lines[0];
        assert!(
            (l.observed_wavelength_a / (l.rest_wavelength_a * (1.0 + z_abs)) - 1.0).abs() < 1e-12
        );
        let ratio = |w: f64| at(&x.model, w) / at(&b.model, w);
        let centre = ratio(l.observed_wavelength_a);
        for off in [-2.4, -1.6, 1.6, 2.4] {
            assert!(
                centre <= ratio(l.observed_wavelength_a + off) + 1e-9,
                "{}",
                x.targetid
            );
        }
        if log_n_hi.is_some() {
            assert!(centre < 0.01, "DLA core {centre}");
        }
        if assert_in_the_flux(x, b).expected > 25.0 {
            visible += 1;
        }
    }
    let systems: Vec<(&str, usize)> = systems.into_iter().collect();
    assert_eq!(systems, [("CIV", 19), ("DLA", 15), ("MgII", 46)]);
    // 47 of 80 at 5 sigma or more: the faintest quasars (r up to 22) hide
    // the weaker doublets, as in DESI; the truth's delta_chi2 says which.
    assert_eq!(visible, 47);
}

/// The velocity (km/s, 25 km/s steps) that best maps the plain model
/// onto the shifted one around a line: the minimum over `v` of
/// `sum (x(l) - b(l / D(v)))^2` for `l` where the rarity's window is flat
/// (within 6000 km/s of the shifted line, inside `lo..hi` km/s of it).
fn fitted_shift_km_s(x: &SimSpectrum, b: &SimSpectrum, line: &str, v_true: f64) -> Option<f64> {
    let (rest, lo, hi) = window_of(line);
    let c = rest * (1.0 + x.z);
    let (v0, v1) = ((v_true - 6000.0).max(lo), (v_true + 6000.0).min(hi));
    let (w0, w1) = (c * (1.0 + v0 / C_KM_S), c * (1.0 + v1 / C_KM_S));
    if w0 < 3700.0 || w1 > 9700.0 {
        return None;
    }
    let mut best = (f64::MAX, f64::NAN);
    for step in -240..=240 {
        let v = 25.0 * f64::from(step);
        let dop = ((1.0 + v / C_KM_S) / (1.0 - v / C_KM_S)).sqrt();
        let mut ss = 0.0;
        let mut w = w0;
        while w <= w1 {
            ss += (at(&x.model, w) - at(&b.model, w / dop)).powi(2);
            w += 0.8;
        }
        if ss < best.0 {
            best = (ss, v);
        }
    }
    Some(best.1)
}

#[test]
fn shifted_broad_lines_move_by_their_velocity() {
    let Some(d) = shared("shifted_broad_lines") else {
        return;
    };
    let p = Pairs::new(&d);
    let (mut checked, mut visible) = (0, 0);
    for (x, b) in p.of("shifted_lines") {
        let Some(Rarity::ShiftedLines {
            velocity_km_s,
            lines,
        }) = &x.rarity
        else {
            unreachable!()
        };
        assert!((1000.0..5000.0).contains(&velocity_km_s.abs()));
        for line in lines {
            let Some(v) = fitted_shift_km_s(x, b, line, *velocity_km_s) else {
                continue;
            };
            assert!(
                (v - velocity_km_s).abs() <= 12.5,
                "{} {line}: shift {v} km/s, injected {velocity_km_s}",
                x.targetid
            );
            checked += 1;
        }
        if assert_in_the_flux(x, b).expected > 25.0 {
            visible += 1;
        }
    }
    // 91 lines of 40 quasars, every one within 12.5 km/s (half a step).
    assert_eq!((checked, visible), (91, 39));
}

/// Rest wavelength (A) of a broad line named in the truth table, and the
/// window (km/s) the line-kinematics rarities act in (astrolab-demo's
/// `rarities.rs`).
fn window_of(line: &str) -> (f64, f64, f64) {
    match line {
        "CIV" => (1549.06, -12_000.0, 12_000.0),
        "CIII]" => (1908.73, -12_000.0, 12_000.0),
        "MgII" => (2798.75, -12_000.0, 12_000.0),
        "Hbeta" => (4862.68, -12_000.0, 4_000.0),
        "Halpha" => (6564.61, -12_000.0, 5_000.0),
        _ => panic!("{line}"),
    }
}

fn rest_of(line: &str) -> f64 {
    window_of(line).0
}

#[test]
fn double_peaked_lines_dip_between_their_peaks() {
    let Some(d) = shared("double_peaked_lines") else {
        return;
    };
    let p = Pairs::new(&d);
    let (mut checked, mut dipped, mut visible) = (0, 0, 0);
    for (x, b) in p.of("double_peaked_lines") {
        let Some(Rarity::DoublePeakedLines {
            half_separation_km_s,
            blue_fraction,
            lines,
        }) = &x.rarity
        else {
            unreachable!()
        };
        let dop =
            ((1.0 + half_separation_km_s / C_KM_S) / (1.0 - half_separation_km_s / C_KM_S)).sqrt();
        for line in lines {
            let c = rest_of(line) * (1.0 + x.z);
            let half = 3000.0 / C_KM_S * c;
            let p0 = peak(&b.model, c - half, c + half);
            if p0.is_nan() || (p0 - c).abs() > half - 1.0 {
                continue;
            }
            // Inside the window the model is exactly the blend of the
            // plain model at the two Doppler-shifted wavelengths.
            let want = blue_fraction * at(&b.model, p0 * dop)
                + (1.0 - blue_fraction) * at(&b.model, p0 / dop);
            let got = at(&x.model, p0);
            assert!(
                (got / want - 1.0).abs() < 0.01,
                "{} {line}: {got} vs {want}",
                x.targetid
            );
            let (blue, red) = (at(&x.model, p0 / dop), at(&x.model, p0 * dop));
            if got < blue && got < red {
                dipped += 1;
            }
            checked += 1;
        }
        if assert_in_the_flux(x, b).expected > 25.0 {
            visible += 1;
        }
    }
    // 90 lines of 40 quasars; 77 with the centre below both peaks (the
    // others are broader than the separation: flat-topped).
    assert_eq!((checked, dipped, visible), (90, 77, 37));
}

#[test]
fn arm_steps_change_the_flux_across_the_junction() {
    let Some(d) = shared("arm_steps") else {
        return;
    };
    let p = Pairs::new(&d);
    let mut n = 0;
    for (x, b) in p.of("arm_step") {
        let Some(Rarity::ArmStep { junction, factor }) = &x.rarity else {
            unreachable!()
        };
        assert!((0.1..0.3).contains(&(factor - 1.0).abs()));
        // The model is untouched; the data of the red arms are scaled.
        assert!(x.model == b.model);
        let (blue, red) = if *junction == "B/R" { (0, 1) } else { (1, 2) };
        for (k, arm) in ARMS.iter().enumerate() {
            let f = if k >= red { *factor } else { 1.0 };
            for i in 0..arm.n_pix {
                assert_eq!(x.flux[k][i], b.flux[k][i] * f as f32);
            }
        }
        // In the dichroic overlap both arms see the same sky: the ratio of
        // their summed fluxes is the step, within the noise.
        let lo = ARMS[red].wave_min_a;
        let hi = ARMS[blue].wave_min_a + 0.8 * (ARMS[blue].n_pix - 1) as f64;
        let sum = |k: usize| -> (f64, f64) {
            let (mut s, mut v) = (0.0, 0.0);
            for (i, w) in ARMS[k].wavelength_a().into_iter().enumerate() {
                if w >= lo - 0.01 && w <= hi + 0.01 && x.ivar[k][i] > 0.0 {
                    s += f64::from(x.flux[k][i]);
                    v += 1.0 / f64::from(x.ivar[k][i]);
                }
            }
            (s, v)
        };
        let ((sb, vb), (sr, vr)) = (sum(blue), sum(red));
        let ratio = sr / sb;
        let sigma = ratio * (vr / (sr * sr) + vb / (sb * sb)).sqrt();
        assert!(
            (ratio - factor).abs() < 5.0 * sigma,
            "{} {junction}: ratio {ratio} +- {sigma}, step {factor}",
            x.targetid
        );
        n += 1;
    }
    assert_eq!(n, 40);
}

#[test]
fn stars_and_galaxies_written_as_quasars_look_like_what_they_are() {
    let Some(d) = shared("stars_and_galaxies") else {
        return;
    };
    let p = Pairs::new(&d);
    let mut n_star = 0;
    for (x, b) in p.of("star_as_qso") {
        let Some(Rarity::StarAsQso {
            teff_k,
            velocity_km_s,
        }) = &x.rarity
        else {
            unreachable!()
        };
        // Its strongest line at z = 0 (plus its radial velocity): H-delta
        // in hot stars, Ca II K in cool ones, a deep dip against 40 A away.
        let rest = if *teff_k > 7000.0 { 4102.89 } else { 3934.78 };
        let c = rest * (1.0 + velocity_km_s / C_KM_S);
        let depth = at(&x.model, c) / (0.5 * (at(&x.model, c - 40.0) + at(&x.model, c + 40.0)));
        assert!(depth < 0.8, "{} T {teff_k}: depth {depth}", x.targetid);
        assert_in_the_flux(x, b);
        n_star += 1;
    }
    let mut n_gal = 0;
    for (x, b) in p.of("galaxy_as_qso") {
        let Some(Rarity::GalaxyAsQso {
            z_galaxy,
            dn4000,
            halpha_rest_ew_a,
            ..
        }) = &x.rarity
        else {
            unreachable!()
        };
        // The 4000 A break of the drawn Dn4000 at the galaxy's redshift.
        let got = astrolab_demo::dn4000_of(|rest| at(&x.model, rest * (1.0 + z_galaxy)));
        assert!(
            (got / dn4000 - 1.0).abs() < 0.02,
            "{}: Dn4000 {got} vs {dn4000}",
            x.targetid
        );
        // H-alpha emission at (1 + z_galaxy) 6564.61 A in star formers.
        if *halpha_rest_ew_a > 15.0 {
            let c = 6564.61 * (1.0 + z_galaxy);
            assert!(
                (peak(&x.model, c - 30.0, c + 30.0) - c).abs() <= 1.6,
                "{}",
                x.targetid
            );
        }
        assert_in_the_flux(x, b);
        n_gal += 1;
    }
    assert_eq!((n_star, n_gal), (40, 40));
}

#[test]
fn bal_troughs_have_varied_strengths() {
    let Some(d) = shared("bal_troughs") else {
        return;
    };
    let p = Pairs::new(&d);
    let mut bi = Vec::new();
    for (x, b) in p.of("bal") {
        let Some(Rarity::Bal {
            troughs,
            balnicity_km_s,
        }) = &x.rarity
        else {
            unreachable!()
        };
        assert!(*balnicity_km_s > 0.0);
        for t in troughs {
            assert!((0.15..0.95).contains(&t.depth));
            // The trough's core lowers the model by the depth.
            let v = 0.5 * (t.v_min_km_s + t.v_max_km_s);
            let w = astrolab_demo::outflow_wavelength_a(t.rest_wavelength_a, x.z, v);
            let r = at(&x.model, w) / at(&b.model, w);
            assert!(
                (r - (1.0 - t.depth)).abs() < 1e-3,
                "{} {}: {r}",
                x.targetid,
                t.line
            );
        }
        assert_in_the_flux(x, b);
        bi.push(*balnicity_km_s);
    }
    bi.sort_by(f64::total_cmp);
    assert_eq!(bi.len(), 80);
    // From barely BAL to strong: balnicities of 33 to 10897 km/s, median
    // 1522 km/s (SDSS BAL quasars: tens to ~2e4 km/s, Gibson et al. 2009,
    // ApJ 692, 758).
    let (lo, mid, hi) = (bi[0], bi[40], bi[79]);
    assert_eq!(format!("{lo:.0} {mid:.0} {hi:.0}"), "33 1522 10897");
}
