//! SALSA (Onsala 2.3 m) real spectra against the observers' own reductions
//! (shared data hline/salsa/Analysis-N): Gaussian components and tangent-point
//! rotation curves.
//!
//! Each Analysis-N/spectrum_*.m names its spectrum and the baseline windows
//! and order the observer used (`fitBaseline([v1 v2 v3 v4 ...],'vel',order)`);
//! its `fitGaussians()` then `fitGaussians([amp v sigma ...],'dummy')` are an
//! automatic fit plus components *added* to it, so the observers' final
//! components are OUT.txt's velocities, and their strongest is recovered by
//! bench/salsa_observers_ref.py (tests/fixtures/salsa_observers.csv, which
//! also holds their whole final fit). We fit with the same windows and order,
//! let the information criterion choose the components, and compare the
//! velocity of the strongest component, defined once (the component that
//! dominates the brightest point of the fitted profile) and applied to both
//! fits; the strict reading (theirs taken as their largest amplitude) and
//! largest amplitude on both sides are printed beside it.
//! ROTVALUES.txt (R, V) are compared with our tangent points at the same R.

use std::path::{Path, PathBuf};

use astrolab_formats::salsa::SalsaSpectrum;
use astrolab_formats::testdata::require_shared_data;
use astrolab_hline::baseline::{fit_baseline, fit_baseline_auto, Order};
use astrolab_hline::gauss::{decompose, Component, GaussFit, GaussOptions};
use astrolab_hline::narrowband::{
    flag_session, NarrowbandFlags, Resolution, SpectrumAxes, UserMask,
};
use astrolab_hline::science::{tangent_point, terminal_velocity_km_s, VmaxMethod};
use astrolab_hline::velocity::{
    lsr_correction_km_s, radio_velocity_km_s, LsrDefinition, Site, UtcTime,
};

/// What one observer's .m file says.
struct Reduction {
    fits: PathBuf,
    windows: Vec<(f64, f64)>,
    order: usize,
}

fn numbers_after(text: &str, key: &str) -> Option<Vec<f64>> {
    let start = text.find(key)? + key.len();
    let end = start + text[start..].find(']')?;
    Some(
        text[start..end]
            .split_whitespace()
            .filter_map(|t| t.parse().ok())
            .collect(),
    )
}

fn parse_m(path: &Path, salsa: &Path) -> Option<Reduction> {
    let text = std::fs::read_to_string(path).ok()?;
    let q = text.find("SalsaSpectrum('")? + "SalsaSpectrum('".len();
    let rel = &text[q..q + text[q..].find('\'')?];
    let w = numbers_after(&text, "fitBaseline([")?;
    let after = &text[text.find("fitBaseline([")?..];
    let order: usize = after
        .split("'vel',")
        .nth(1)?
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    if w.len() % 2 != 0 {
        return None;
    }
    Some(Reduction {
        fits: salsa.join(rel),
        windows: w.chunks_exact(2).map(|c| (c[0], c[1])).collect(),
        order,
    })
}

struct Ours {
    resolution: Resolution,
    l_deg: f64,
    b_deg: f64,
    v: Vec<f64>,
    t_sub: Vec<f64>,
    fit: GaussFit,
}

fn velocities(s: &SalsaSpectrum) -> Vec<f64> {
    let corr = s.lsr_correction_km_s();
    (0..s.data_k.len())
        .map(|i| radio_velocity_km_s(s.freq_hz(i), s.restfreq_hz) + corr)
        .collect()
}

/// Narrow-band RFI flags of every spectrum of Observe-1..6, each directory
/// one session (as `hline fit` over it would flag them).
fn session_flags(salsa: &Path) -> std::collections::HashMap<PathBuf, NarrowbandFlags> {
    let mut out = std::collections::HashMap::new();
    for set in 1..=6 {
        let dir = salsa.join(format!("Observe-{set}"));
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "fits"))
            .collect();
        files.sort();
        let specs: Vec<(PathBuf, SalsaSpectrum, Vec<f64>, Vec<f64>)> = files
            .into_iter()
            .filter_map(|p| {
                let s = SalsaSpectrum::open(&p).ok()?;
                let f = (0..s.data_k.len()).map(|i| s.freq_hz(i)).collect();
                let v = velocities(&s);
                Some((p, s, f, v))
            })
            .collect();
        let axes: Vec<SpectrumAxes> = specs
            .iter()
            .map(|(_, s, f, v)| SpectrumAxes {
                freq_hz: Some(f),
                v_km_s: v,
                t_k: &s.data_k,
                response_channels: 1.0,
            })
            .collect();
        let (flags, _) = flag_session(&axes, &UserMask::default());
        for ((p, ..), f) in specs.iter().zip(flags) {
            out.insert(p.clone(), f);
        }
    }
    out
}

fn reduce(
    s: &SalsaSpectrum,
    windows: Option<(&[(f64, f64)], usize)>,
    flags: Option<&NarrowbandFlags>,
) -> Ours {
    let v = velocities(s);
    let y = flags.map_or(s.data_k.clone(), |f| f.apply(&s.data_k));
    let base = match windows {
        Some((w, order)) => fit_baseline(&v, &y, w, Order::Fixed(order)).unwrap(),
        None => {
            fit_baseline_auto(&v, &y, Order::Auto { max: 4 }, 3.0, 3)
                .unwrap()
                .0
        }
    };
    let mut t_sub = base.subtract(&v, &y);
    // Fit only where the observer fitted the baseline (the span of the
    // windows), or without the band edges (8 channels each side: the
    // bandpass rolls off there) for automatic baselines.
    let keep = |i: usize, x: f64| match windows {
        Some((w, _)) => {
            let lo = w.iter().map(|p| p.0.min(p.1)).fold(f64::INFINITY, f64::min);
            let hi = w
                .iter()
                .map(|p| p.0.max(p.1))
                .fold(f64::NEG_INFINITY, f64::max);
            x >= lo && x <= hi
        }
        None => i >= 8 && i + 8 < v.len(),
    };
    for (i, t) in t_sub.iter_mut().enumerate() {
        if !keep(i, v[i]) {
            *t = f64::NAN;
        }
    }
    let r = Resolution::from_axis(&v, 1.0);
    let opts = GaussOptions {
        min_sigma_km_s: r.min_sigma_km_s(),
        ..GaussOptions::default()
    };
    let fit = decompose(&v, &t_sub, &opts).unwrap();
    Ours {
        resolution: r,
        l_deg: s.glon_deg,
        b_deg: s.glat_deg,
        v,
        t_sub,
        fit,
    }
}

/// The strongest component as an observer sees it: the one that dominates
/// the brightest point of the fitted profile (in a blend, the largest
/// amplitude may belong to a broad component under the peak).
/// The same rule is applied to the observers' final fit.
fn dominant(o: &Ours) -> f64 {
    dominant_of(&o.fit.components, &o.v, &o.t_sub).map_or(f64::NAN, |c| c.center_km_s)
}

/// [`dominant`] for any set of components, over the channels that were
/// fitted (finite `t`).
fn dominant_of(components: &[Component], v: &[f64], t: &[f64]) -> Option<Component> {
    let eval = |x: f64| components.iter().map(|c| c.eval(x)).sum::<f64>();
    let peak_v = v
        .iter()
        .zip(t)
        .filter(|(_, t)| t.is_finite())
        .map(|(v, _)| *v)
        .max_by(|a, b| eval(*a).total_cmp(&eval(*b)))
        .unwrap_or(f64::NAN);
    components
        .iter()
        .max_by(|a, b| a.eval(peak_v).total_cmp(&b.eval(peak_v)))
        .copied()
}

/// One row of tests/fixtures/salsa_observers.csv (bench/salsa_observers_ref.py).
struct Observed {
    /// Spectrum path relative to hline/salsa.
    file: String,
    /// The observers' final component velocities (OUT.txt), class axis.
    velocities_class: Vec<f64>,
    /// Their strongest component's centre, 1-based pixel.
    strongest_pixel: f64,
    /// The same on the class axis.
    strongest_v_class: f64,
    /// The scipy reproduction of their .m gave OUT.txt's velocities.
    reproduced: bool,
    /// Their final fit: (amplitude K, centre pixel, sigma in pixels).
    components_pixel: Vec<(f64, f64, f64)>,
}

fn read_observers() -> Vec<Observed> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/salsa_observers.csv");
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Observed {
                file: f[0].to_string(),
                velocities_class: f[2]
                    .split_whitespace()
                    .map(|v| v.parse().unwrap())
                    .collect(),
                strongest_pixel: f[3].parse().unwrap(),
                strongest_v_class: f[4].parse().unwrap(),
                reproduced: f[5] == "1",
                components_pixel: f[6]
                    .split_whitespace()
                    .map(|c| {
                        let q: Vec<f64> = c.split('/').map(|x| x.parse().unwrap()).collect();
                        (q[0], q[1], q[2])
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Our velocity at a fractional 1-based pixel (linear between channels).
fn at_pixel(v: &[f64], pixel: f64) -> f64 {
    let x = (pixel - 1.0).clamp(0.0, (v.len() - 1) as f64);
    let i = (x.floor() as usize).min(v.len() - 2);
    v[i] + (x - i as f64) * (v[i + 1] - v[i])
}

fn read_rotvalues(path: &Path) -> Vec<(f64, f64)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let v: Vec<f64> = l
                .split_whitespace()
                .filter_map(|t| t.parse().ok())
                .collect();
            (v.len() >= 2).then(|| (v[0], v[1]))
        })
        .collect()
}

#[test]
fn salsa_strongest_components_and_rotation_curves_agree_with_the_observers() {
    let Some(data) = require_shared_data("salsa_compare") else {
        return;
    };
    let salsa = data.join("hline/salsa");
    let flags = session_flags(&salsa);
    let (mut n, mut within, mut within_auto, mut within_any) = (0, 0, 0, 0);
    let (mut within_amp, mut reproduced) = (0, 0);
    let mut within_same_rule = 0;
    let mut differ_same_rule: Vec<(f64, String)> = Vec::new();
    // Misses by class: [strict miss, same rule agrees; both miss, same
    // rule within 10 km/s; both miss by more; strict agrees, same rule misses].
    let mut classes = [0usize; 4];
    let (mut self_theirs, mut self_ours, mut strict_ties) = (0, 0, 0);
    let mut class_offsets: Vec<f64> = Vec::new();
    let observers = read_observers();
    let mut lsr_dv: Vec<f64> = Vec::new();
    let mut worst: Vec<(f64, String)> = Vec::new();
    let (mut rot_n, mut rot_within, mut rot_dv) = (0, 0, Vec::new());
    // ROTVALUES points whose v_max (V - V0 sin l) lies on a channel we flag
    // as narrow-band RFI in that spectrum: the observers took the spike for
    // the terminal velocity; ours is the HI edge and differs.
    let mut rot_on_rfi: Vec<String> = Vec::new();
    for set in 1..=6 {
        let dir = salsa.join(format!("Analysis-{set}"));
        let mut ms: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "m"))
            .collect();
        ms.sort();
        let mut points = Vec::new();
        for m in &ms {
            let Some(red) = parse_m(m, &salsa) else {
                continue;
            };
            let Ok(s) = SalsaSpectrum::open(&red.fits) else {
                continue;
            };
            // SALSA's own LSR correction against ours (Onsala, DATE-OBS, the pointing).
            let (ra, dec) = astrolab_sky::galactic::galactic_to_icrs(s.glon_deg, s.glat_deg);
            let t = UtcTime::parse_iso(&s.date_obs).unwrap();
            let c =
                lsr_correction_km_s(t, Site::ONSALA, ra, dec, LsrDefinition::Kinematic).unwrap();
            lsr_dv.push((c - s.lsr_correction_km_s()).abs());
            let f = flags.get(&red.fits);
            let ours = reduce(&s, Some((&red.windows, red.order)), f);
            let auto = reduce(&s, None, f);
            // The observers' strongest component: from their final fit
            // (OUT.txt velocities, amplitudes recovered at those centres by
            // bench/salsa_observers_ref.py), as a pixel mapped onto our axis.
            let rel = red
                .fits
                .strip_prefix(&salsa)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let Some(obs) = observers.iter().find(|o| o.file == rel) else {
                continue;
            };
            let theirs = at_pixel(&ours.v, obs.strongest_pixel);
            // Their final fit on our axis, and its strongest component by
            // the same definition as ours.
            let dv = (ours.v[1] - ours.v[0]).abs();
            let their_fit: Vec<Component> = obs
                .components_pixel
                .iter()
                .map(|&(a, px, s)| Component::new(a, at_pixel(&ours.v, px), s * dv))
                .collect();
            let their_dom = dominant_of(&their_fit, &ours.v, &ours.t_sub);
            let their_dominant = their_dom.map_or(f64::NAN, |c| c.center_km_s);
            // The class's axis (rest frequency CRVAL1, reference pixel
            // CRPIX1 + 2) sits a constant 0.85 km/s above ours.
            class_offsets.push(obs.strongest_v_class - theirs);
            if obs.reproduced {
                reproduced += 1;
            }
            let ours_v = dominant(&ours);
            let ours_amp = ours.fit.strongest().map_or(f64::NAN, |c| c.center_km_s);
            if (ours_amp - theirs).abs() <= 5.0 {
                within_amp += 1;
            }
            let auto_v = dominant(&auto);
            n += 1;
            // Every component velocity the observers give for this pointing
            // (their OUT.txt row), on our axis.
            let all: Vec<f64> = obs
                .velocities_class
                .iter()
                .map(|v| v - (obs.strongest_v_class - theirs))
                .collect();
            if all.iter().any(|x| (x - ours_v).abs() <= 5.0) {
                within_any += 1;
            }
            if (ours_v - theirs).abs() > 5.0 {
                let o: Vec<String> = ours
                    .fit
                    .components
                    .iter()
                    .map(|c| format!("{:.0}@{:.1}/{:.0}", c.amp_k, c.center_km_s, c.fwhm_km_s()))
                    .collect();
                let a: Vec<String> = all.iter().map(|v| format!("{v:.1}")).collect();
                worst.push((
                    (ours_v - theirs).abs(),
                    format!(
                        "{rel}: ours {ours_v:.1} [{}] theirs {theirs:.1} [{}]",
                        o.join(" "),
                        a.join(" ")
                    ),
                ));
            }
            let same_rule = (ours_v - their_dominant).abs() <= 5.0;
            let strict = (ours_v - theirs).abs() <= 5.0;
            // Each fit against itself: is its largest amplitude the
            // component at its brightest point?
            if (their_dominant - theirs).abs() <= 5.0 {
                self_theirs += 1;
            }
            if (ours_v - ours_amp).abs() <= 5.0 {
                self_ours += 1;
            }
            // A near tie: their two largest amplitudes within 10 %.
            let mut amps: Vec<f64> = their_fit.iter().map(|c| c.amp_k).collect();
            amps.sort_by(|a, b| b.total_cmp(a));
            if !strict && amps.len() > 1 && amps[1] >= 0.9 * amps[0] {
                strict_ties += 1;
            }
            if same_rule {
                within_same_rule += 1;
            } else {
                let show = |c: Option<Component>| {
                    c.map_or("-".to_string(), |c| {
                        format!("{:.0}@{:.1}/{:.0}", c.amp_k, c.center_km_s, c.fwhm_km_s())
                    })
                };
                let ours_dom = dominant_of(&ours.fit.components, &ours.v, &ours.t_sub);
                differ_same_rule.push((
                    (ours_v - their_dominant).abs(),
                    format!(
                        "{rel}: ours {} theirs {} (K@km/s/FWHM; their largest amplitude at {theirs:.1})",
                        show(ours_dom),
                        show(their_dom)
                    ),
                ));
            }
            match (strict, same_rule) {
                (false, true) => classes[0] += 1,
                (false, false) if (ours_v - their_dominant).abs() <= 10.0 => classes[1] += 1,
                (false, false) => classes[2] += 1,
                (true, false) => classes[3] += 1,
                (true, true) => {}
            }
            let d = (ours_v - theirs).abs();
            if d <= 5.0 {
                within += 1;
            }
            if (auto_v - theirs).abs() <= 5.0 {
                within_auto += 1;
            }
            // Tangent points from the observer-windowed reduction; unresolved
            // components (at the minimum width) are no HI line (as `hline
            // rotation-curve`).
            let resolved = ours.resolution.resolved(&ours.fit.components);
            let vmax = terminal_velocity_km_s(
                &ours.v,
                &ours.t_sub,
                &resolved,
                VmaxMethod::Component { min_amp_k: 1.0 },
            );
            // Velocities of the channels flagged as narrow-band RFI.
            let rfi_v: Vec<f64> = f.map_or(Vec::new(), |f| {
                (0..f.excluded.len())
                    .filter(|&j| f.excluded[j])
                    .map(|j| ours.v[j])
                    .collect()
            });
            if let Some(p) = vmax.and_then(|v| tangent_point(ours.l_deg, ours.b_deg, v, 8.5, 220.0))
            {
                points.push((p, rel.clone(), rfi_v, dv));
            }
        }
        for (r, v) in read_rotvalues(&dir.join("ROTVALUES.txt")) {
            let Some((p, prel, rfi_v, chan)) = points
                .iter()
                .filter(|p| (p.0.r_kpc - r).abs() < 0.02)
                .min_by(|a, b| (a.0.r_kpc - r).abs().total_cmp(&(b.0.r_kpc - r).abs()))
            else {
                continue;
            };
            rot_n += 1;
            let dv = (p.v_rot_km_s - v).abs();
            rot_dv.push(dv);
            if dv <= 10.0 {
                rot_within += 1;
            } else {
                let their_vmax = v - 220.0 * p.l_deg.to_radians().sin();
                if rfi_v.iter().any(|x| (x - their_vmax).abs() <= *chan) {
                    rot_on_rfi.push(format!(
                        "{prel}: their v_max {their_vmax:.1} km/s on a flagged RFI channel, ours {:.1}",
                        p.v_max_km_s
                    ));
                }
            }
        }
    }
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    rot_dv.sort_by(f64::total_cmp);
    let frac = within as f64 / n as f64;
    eprintln!(
        "SALSA: {n} spectra; strongest component within 5 km/s of the observers': {within} ({:.1} %) \
         with their baseline windows, {within_auto} ({:.1} %) with automatic baselines",
        100.0 * frac,
        100.0 * within_auto as f64 / n as f64
    );
    let frac_same_rule = within_same_rule as f64 / n as f64;
    eprintln!(
        "the same rule (component dominating the brightest point of the fit) on both fits: {within_same_rule} ({:.1} %)",
        100.0 * frac_same_rule
    );
    differ_same_rule.sort_by(|a, b| b.0.total_cmp(&a.0));
    for d in differ_same_rule.iter().take(15) {
        eprintln!("  same rule differs by {:.1} km/s: {}", d.0, d.1);
    }
    eprintln!(
        "misses against their largest amplitude where the same rule agrees (their largest \
         amplitude is not at the brightest point of their own fit): {}; where both miss, \
         the same rule within 10 km/s (one blend shared differently): {}, by more: {}; \
         the same rule misses where their largest amplitude agrees: {}",
        classes[0], classes[1], classes[2], classes[3]
    );
    eprintln!(
        "largest amplitude = component at the brightest point of the same fit: theirs {self_theirs}, \
         ours {self_ours} of {n}; misses against their largest amplitude where their two largest \
         amplitudes are within 10 %: {strict_ties}"
    );
    let frac_any = within_any as f64 / n as f64;
    let frac_amp = within_amp as f64 / n as f64;
    eprintln!(
        "the same with our strongest taken as the largest amplitude: {within_amp} ({:.1} %)",
        100.0 * frac_amp
    );
    eprintln!(
        "our strongest within 5 km/s of one of the observers' components (OUT.txt): {within_any} ({:.1} %)",
        100.0 * frac_any
    );
    eprintln!(
        "the observers' procedure reproduced by bench/salsa_observers_ref.py (all OUT.txt velocities within 0.1 km/s): {reproduced} of {n}"
    );
    class_offsets.sort_by(f64::total_cmp);
    let (off_lo, off_hi) = (class_offsets[0], class_offsets[class_offsets.len() - 1]);
    eprintln!("SALSA class velocity axis minus ours: {off_lo:.3} to {off_hi:.3} km/s");
    eprintln!(
        "rotation curve: {rot_n} ROTVALUES points matched in R; |dV| <= 10 km/s for {rot_within}; median |dV| {:.2} km/s",
        rot_dv.get(rot_dv.len() / 2).copied().unwrap_or(f64::NAN)
    );
    for x in &rot_on_rfi {
        eprintln!(
            "  rotation point off by more than 10 km/s where the observers' v_max is RFI: {x}"
        );
    }
    for w in worst.iter().take(15) {
        eprintln!("  differs by {:.1} km/s: {}", w.0, w.1);
    }
    lsr_dv.sort_by(f64::total_cmp);
    eprintln!(
        "SALSA VELO-LSR vs our LSRK correction: median |dv| {:.3} km/s, max {:.3} km/s",
        lsr_dv[lsr_dv.len() / 2],
        lsr_dv[lsr_dv.len() - 1]
    );
    // SALSA's control software computes its correction its own way; we agree
    // within a quarter channel (2.06 km/s) everywhere.
    assert!(lsr_dv[lsr_dv.len() - 1] < 0.5);
    assert!(n >= 350, "only {n} spectra with a reduction");
    // The class's axis: CRVAL1 (1420.4 MHz) taken as the rest frequency
    // (+1.214 km/s) and reference pixel CRPIX1 + 2 (-2.061 km/s against our
    // SALSA reading, CRPIX1 + 1): 0.847 km/s, the same on every spectrum.
    assert!(
        (off_lo - 0.847).abs() < 0.01 && (off_hi - 0.847).abs() < 0.01,
        "class axis offset {off_lo}..{off_hi}"
    );
    assert!(
        frac_any >= 0.9,
        "{:.1} % within 5 km/s of an observer's component",
        100.0 * frac_any
    );
    // Pinned to the figures reached (issue 15: a regression of one spectrum
    // fails): the strongest component by one rule on both fits, 346 of 373
    // (92.8 %; the 90 %), and against their largest amplitude 326
    // (87.4 %): in most misses their largest amplitude is not the component
    // at the brightest point of their own fit (bench/notes/issue5-salsa.md).
    assert_eq!(n, 373);
    assert!(
        within_same_rule >= 346,
        "{within_same_rule} ({:.1} %) within 5 km/s of the observers' strongest (the same rule on both fits)",
        100.0 * frac_same_rule
    );
    assert!(
        within >= 326,
        "{within} ({:.1} %) within 5 km/s of the observers' largest amplitude",
        100.0 * frac
    );
    // 103 before narrow-band flagging (issue 15), 102 with it: the one
    // point lost is Observe-2/spectrum_11466 (l = 68.9), whose ROTVALUES
    // v_max (89.2 km/s) is the 1420.0094 MHz spike at channel 88, the
    // session's recurring RFI frequency; unflagged, our fit took the same
    // spike (87.9 km/s), flagged our v_max is the HI edge at 5.7 km/s. No
    // other point moved out of (or into) 10 km/s. Four more of the 30
    // misses are the observers' v_max on a channel we flag (three on the
    // same 1420.0094 MHz spike). Pinned exactly: a regression of one
    // spectrum fails.
    assert_eq!(
        (rot_n, rot_within),
        (132, 102),
        "rotation points within 10 km/s / matched"
    );
    let on_rfi: Vec<&str> = rot_on_rfi
        .iter()
        .map(|x| x.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        on_rfi,
        [
            "Observe-2/spectrum_11464.fits",
            "Observe-2/spectrum_11466.fits",
            "Observe-2/spectrum_11483.fits",
            "Observe-6/spectrum_12242.fits",
            "Observe-6/spectrum_12244.fits"
        ],
        "observers' v_max on RFI"
    );
    assert!(
        rot_n >= 100 && rot_within as f64 >= 0.7 * rot_n as f64,
        "{rot_within}/{rot_n} rotation points within 10 km/s"
    );
}
