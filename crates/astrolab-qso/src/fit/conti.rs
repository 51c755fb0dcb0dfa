//! The pseudo-continuum of a quasar spectral fit: a power law, broadened
//! UV and optical Fe II templates, a Balmer continuum and, optionally,
//! host-galaxy components, fitted to the rest-frame spectrum in line-free
//! windows, with iterative rejection of absorption.
//!
//! The model is PyQSOFit's (Guo, Shen & Wang 2018, ascl 1809.008; Shen et
//! al. 2019, ApJS 241, 34, sect. 3.1):
//!
//! * power law `F = a (lambda / 3000 A)^alpha`;
//! * Fe II: `norm * T_W(lambda (1 + d))` with `T_W` a template broadened to
//!   FWHM `W` ([`crate::fit::template`]), UV (1200-3500 A) and optical
//!   (3686-7484 A) separately;
//! * Balmer continuum below the Balmer edge 3646 A (Grandi 1982, ApJ 255,
//!   25; Dietrich et al. 2002, ApJ 581, 912): `b B_lambda(T_e) (1 -
//!   exp(-tau (lambda / 3646)^3)) / B_3000(T_e)`, so that `b` is the flux
//!   at 3000 A of the optically thick limit; `T_e = 15 000 K` and `tau =
//!   0.5` are held at PyQSOFit's starting values (over the few hundred
//!   Angstrom an optical spectrum covers they are degenerate with `b`);
//! * host galaxy: any number of user-supplied components with free
//!   coefficients (e.g. the Yip et al. 2004 eigenspectra PyQSOFit uses).
//!
//! Fitting: the pixels with `ivar > 0` inside the continuum windows
//! (PyQSOFit's default list, [`DEFAULT_WINDOWS`]), the bounded
//! Levenberg-Marquardt of [`crate::fit::lm`] with an analytic Jacobian; then
//! pixels more than 3 sigma below the model are dropped (absorption, BAL
//! troughs: PyQSOFit does one such pass below 3500 A, here up to three over
//! the whole range, stopping when none is new) and the fit repeated. A
//! component whose range holds fewer than [`MIN_COMPONENT_PIXELS`] window
//! pixels is held at zero, as PyQSOFit does.

// `!(x > 0.0)` is meant: it is also true for NaN, which must count as bad.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::sync::Arc;

use crate::fit::lm::{fit, LmError, LmFit, LmOptions, Model, Param};
use crate::fit::template::BroadenedTemplate;

/// PyQSOFit's default line-free windows (rest A), from its `qsopar.fits`.
pub const DEFAULT_WINDOWS: [(f64, f64); 20] = [
    (1150.0, 1170.0),
    (1275.0, 1290.0),
    (1350.0, 1360.0),
    (1445.0, 1465.0),
    (1690.0, 1705.0),
    (1770.0, 1810.0),
    (1970.0, 2400.0),
    (2480.0, 2675.0),
    (2925.0, 3400.0),
    (3775.0, 3832.0),
    (4000.0, 4050.0),
    (4200.0, 4230.0),
    (4435.0, 4640.0),
    (5100.0, 5535.0),
    (6005.0, 6035.0),
    (6110.0, 6250.0),
    (6800.0, 7000.0),
    (7160.0, 7180.0),
    (7500.0, 7800.0),
    (8050.0, 8150.0),
];

/// Fewest window pixels for a component (Fe II, Balmer continuum) to be
/// fitted (PyQSOFit's `n_pix_min_conti`).
pub const MIN_COMPONENT_PIXELS: usize = 100;

/// Balmer edge (A).
pub const BALMER_EDGE_A: f64 = 3646.0;

/// Electron temperature of the Balmer continuum (K).
pub const BALMER_TE_K: f64 = 15_000.0;

/// Optical depth at the Balmer edge.
pub const BALMER_TAU: f64 = 0.5;

/// Fe II FWHM bounds and start (km/s), PyQSOFit's.
pub const FE_FWHM_KMS: (f64, f64, f64) = (1200.0, 18_000.0, 3000.0);

/// Fe II shift bound (fraction of wavelength), PyQSOFit's.
pub const FE_SHIFT_MAX: f64 = 0.01;

/// Power-law slope bounds, PyQSOFit's.
pub const PL_SLOPE: (f64, f64) = (-5.0, 3.0);

/// Rejection threshold (sigma below the model) and passes.
const REJECT_SIGMA: f64 = 3.0;
const REJECT_PASSES: usize = 3;
/// Relative chi-square tolerance of the rejection passes before the last
/// fit (which uses the full one).
const REJECT_PASS_FTOL: f64 = 1e-3;

/// Parameter layout of the continuum model.
pub mod idx {
    /// Power-law flux at 3000 A.
    pub const PL_NORM: usize = 0;
    /// Power-law slope `alpha`.
    pub const PL_SLOPE: usize = 1;
    /// UV Fe II norm, FWHM (km/s), shift.
    pub const FE_UV: usize = 2;
    /// Optical Fe II norm, FWHM (km/s), shift.
    pub const FE_OP: usize = 5;
    /// Balmer continuum norm.
    pub const BC_NORM: usize = 8;
    /// First host-galaxy coefficient.
    pub const HOST: usize = 9;
}

/// Host-galaxy components on a common rest-wavelength grid.
#[derive(Debug, Clone)]
pub struct HostTemplates {
    /// Rest wavelengths (A), increasing.
    pub wave: Vec<f64>,
    /// One flux array per component, each `wave.len()` long.
    pub components: Vec<Vec<f64>>,
    /// Where they came from.
    pub source: String,
}

impl HostTemplates {
    fn value(&self, k: usize, lambda: f64) -> f64 {
        let w = &self.wave;
        if !(lambda >= w[0]) || lambda > w[w.len() - 1] {
            return 0.0;
        }
        let i = w.partition_point(|&x| x <= lambda).clamp(1, w.len() - 1) - 1;
        let t = (lambda - w[i]) / (w[i + 1] - w[i]);
        let c = &self.components[k];
        c[i] + t * (c[i + 1] - c[i])
    }
}

/// What the continuum may use.
#[derive(Debug, Clone, Default)]
pub struct ContiSetup {
    /// UV Fe II template, if any.
    pub fe_uv: Option<Arc<BroadenedTemplate>>,
    /// Optical Fe II template, if any.
    pub fe_op: Option<Arc<BroadenedTemplate>>,
    /// Fit a Balmer continuum where the spectrum reaches below 3646 A.
    pub balmer: bool,
    /// Host-galaxy components, if any.
    pub host: Option<Arc<HostTemplates>>,
    /// Windows (rest A); [`DEFAULT_WINDOWS`] when empty.
    pub windows: Vec<(f64, f64)>,
}

/// The continuum model evaluated anywhere: parameters and components.
#[derive(Debug, Clone)]
pub struct Continuum {
    /// Parameters in the layout of [`idx`].
    pub params: Vec<f64>,
    setup: ContiSetup,
}

/// One component of the continuum, for figures and records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// Power law.
    PowerLaw,
    /// UV Fe II.
    FeUv,
    /// Optical Fe II.
    FeOptical,
    /// Balmer continuum.
    Balmer,
    /// Host galaxy (all components).
    Host,
}

impl Continuum {
    /// Number of parameters for a setup.
    pub fn n_params(setup: &ContiSetup) -> usize {
        idx::HOST + setup.host.as_ref().map_or(0, |h| h.components.len())
    }

    /// The whole model at rest wavelength `lambda` (A).
    pub fn value(&self, lambda: f64) -> f64 {
        [
            Component::PowerLaw,
            Component::FeUv,
            Component::FeOptical,
            Component::Balmer,
            Component::Host,
        ]
        .iter()
        .map(|&c| self.component(c, lambda))
        .sum()
    }

    /// The whole continuum at each of `wave` (A, increasing): the values of
    /// [`Continuum::value`], with each Fe II template evaluated in one pass
    /// over the array rather than once per pixel.
    pub fn values(&self, wave: &[f64]) -> Vec<f64> {
        let p = &self.params;
        let ln: Vec<f64> = wave.iter().map(|w| w.ln()).collect();
        let ln_pivot = 3000f64.ln();
        let (norm, slope, bc) = (p[idx::PL_NORM], p[idx::PL_SLOPE], p[idx::BC_NORM]);
        let mut out: Vec<f64> = wave
            .iter()
            .zip(&ln)
            .map(|(&l, &x)| {
                let balmer = if bc != 0.0 { bc * balmer_shape(l) } else { 0.0 };
                norm * (slope * (x - ln_pivot)).exp() + balmer
            })
            .collect();
        for (t, k) in [
            (&self.setup.fe_uv, idx::FE_UV),
            (&self.setup.fe_op, idx::FE_OP),
        ] {
            if let Some(t) = t {
                if p[k] != 0.0 {
                    t.add_to(&ln, p[k], p[k + 1], p[k + 2], &mut out);
                }
            }
        }
        if self.setup.host.is_some() {
            for (o, &l) in out.iter_mut().zip(wave) {
                *o += self.component(Component::Host, l);
            }
        }
        out
    }

    /// Power law plus Balmer continuum at `lambda`: the "continuum" of
    /// equivalent widths and luminosities (PyQSOFit's, Fe II excluded).
    pub fn smooth(&self, lambda: f64) -> f64 {
        self.component(Component::PowerLaw, lambda) + self.component(Component::Balmer, lambda)
    }

    /// One component at `lambda` (A).
    pub fn component(&self, c: Component, lambda: f64) -> f64 {
        let p = &self.params;
        match c {
            Component::PowerLaw => p[idx::PL_NORM] * (lambda / 3000.0).powf(p[idx::PL_SLOPE]),
            Component::FeUv | Component::FeOptical => {
                let (t, k) = if c == Component::FeUv {
                    (&self.setup.fe_uv, idx::FE_UV)
                } else {
                    (&self.setup.fe_op, idx::FE_OP)
                };
                match t {
                    Some(t) if p[k] != 0.0 => {
                        let mut out = [0.0];
                        t.add_to(&[lambda.ln()], p[k], p[k + 1], p[k + 2], &mut out);
                        out[0]
                    }
                    _ => 0.0,
                }
            }
            Component::Balmer => p[idx::BC_NORM] * balmer_shape(lambda),
            Component::Host => self.setup.host.as_ref().map_or(0.0, |h| {
                (0..h.components.len())
                    .map(|k| p[idx::HOST + k] * h.value(k, lambda))
                    .sum()
            }),
        }
    }

    /// Fe II flux (flux units times A) of both templates over rest
    /// `[lo, hi]` A (PyQSOFit's `Fe_flux_range`, 4435-4685 A by default).
    pub fn fe_flux(&self, lo: f64, hi: f64) -> f64 {
        let p = &self.params;
        let mut total = 0.0;
        for (t, k) in [
            (&self.setup.fe_uv, idx::FE_UV),
            (&self.setup.fe_op, idx::FE_OP),
        ] {
            if let Some(t) = t {
                total += t.integrate(p[k], p[k + 1], p[k + 2], lo, hi);
            }
        }
        total
    }
}

/// The Balmer continuum of unit norm: `B_lambda(T_e)(1 - exp(-tau (l /
/// 3646)^3)) / B_3000(T_e)` below the edge, 0 above.
pub fn balmer_shape(lambda: f64) -> f64 {
    if !(lambda > 0.0) || lambda > BALMER_EDGE_A {
        return 0.0;
    }
    // h c / k in A K.
    const HC_K: f64 = 1.438_776_877e8;
    let planck = |l: f64| 1.0 / (l.powi(5) * ((HC_K / (l * BALMER_TE_K)).exp() - 1.0));
    planck(lambda) / planck(3000.0) * (1.0 - (-BALMER_TAU * (lambda / BALMER_EDGE_A).powi(3)).exp())
}

/// The result of a continuum fit.
#[derive(Debug, Clone)]
pub struct ContiFit {
    /// The fitted model.
    pub model: Continuum,
    /// 1-sigma errors of the parameters (0 where fixed).
    pub errors: Vec<f64>,
    /// Reduced chi-square over the pixels kept.
    pub reduced_chi2: f64,
    /// Window pixels used in the last fit.
    pub n_pixels: usize,
    /// Window pixels rejected as absorption.
    pub n_rejected: usize,
    /// The pixels (indices into the spectrum) of the last fit.
    pub pixels: Vec<usize>,
    /// Which parameters were fitted.
    pub free: Vec<bool>,
}

/// Why a continuum could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ContiError {
    #[error("only {0} good pixels in the continuum windows (need at least 10)")]
    TooFewPixels(usize),
    #[error("continuum fit: {0}")]
    Fit(#[from] LmError),
}

/// Pixels and the model, for the solver.
struct ContiProblem<'a> {
    lambda: Vec<f64>,
    ln_lambda: Vec<f64>,
    ln_ratio: Vec<f64>,
    flux: Vec<f64>,
    sqrt_ivar: Vec<f64>,
    balmer: Vec<f64>,
    setup: &'a ContiSetup,
    n_params: usize,
    /// `(lambda / 3000)^slope` at the pixels for the slope of the last
    /// evaluation: the solver evaluates the model at a trial point and the
    /// Jacobian at the same point once it accepts the step.
    power_law: std::cell::RefCell<(f64, Vec<f64>)>,
}

impl ContiProblem<'_> {
    /// Runs `f` on the power law of unit norm at `slope`.
    fn with_power_law<T>(&self, slope: f64, f: impl FnOnce(&[f64]) -> T) -> T {
        let mut cache = self.power_law.borrow_mut();
        if cache.0 != slope || cache.1.len() != self.ln_ratio.len() {
            cache.0 = slope;
            cache.1.clear();
            cache
                .1
                .extend(self.ln_ratio.iter().map(|r| (slope * r).exp()));
        }
        f(&cache.1)
    }

    fn model(&self, p: &[f64], out: &mut [f64]) {
        self.with_power_law(p[idx::PL_SLOPE], |pl| {
            for (i, o) in out.iter_mut().enumerate() {
                *o = p[idx::PL_NORM] * pl[i] + p[idx::BC_NORM] * self.balmer[i];
            }
        });
        for (t, k) in [
            (&self.setup.fe_uv, idx::FE_UV),
            (&self.setup.fe_op, idx::FE_OP),
        ] {
            if let Some(t) = t {
                if p[k] != 0.0 {
                    t.add_to(&self.ln_lambda, p[k], p[k + 1], p[k + 2], out);
                }
            }
        }
        if let Some(h) = &self.setup.host {
            for k in 0..h.components.len() {
                let c = p[idx::HOST + k];
                if c != 0.0 {
                    for (o, &l) in out.iter_mut().zip(&self.lambda) {
                        *o += c * h.value(k, l);
                    }
                }
            }
        }
    }
}

impl Model for ContiProblem<'_> {
    fn n_params(&self) -> usize {
        self.n_params
    }
    fn n_residuals(&self) -> usize {
        self.flux.len()
    }
    fn residuals(&self, p: &[f64], r: &mut [f64]) {
        self.model(p, r);
        for ((ri, f), w) in r.iter_mut().zip(&self.flux).zip(&self.sqrt_ivar) {
            *ri = (f - *ri) * w;
        }
    }
    fn jacobian(&self, p: &[f64], jac: &mut [f64]) -> bool {
        let n = self.flux.len();
        // Every column is written below except those of components not
        // in the model (a template not given, the host's when absent):
        // only those are cleared.
        for (t, k) in [
            (&self.setup.fe_uv, idx::FE_UV),
            (&self.setup.fe_op, idx::FE_OP),
        ] {
            if t.is_none() {
                jac[k * n..(k + 3) * n].iter_mut().for_each(|v| *v = 0.0);
            }
        }
        if self.setup.host.is_none() {
            jac[idx::HOST * n..].iter_mut().for_each(|v| *v = 0.0);
        }
        self.with_power_law(p[idx::PL_SLOPE], |pl| {
            for i in 0..n {
                jac[idx::PL_NORM * n + i] = pl[i];
                jac[idx::PL_SLOPE * n + i] = p[idx::PL_NORM] * pl[i] * self.ln_ratio[i];
                jac[idx::BC_NORM * n + i] = self.balmer[i];
            }
        });
        for (t, k) in [
            (&self.setup.fe_uv, idx::FE_UV),
            (&self.setup.fe_op, idx::FE_OP),
        ] {
            if let Some(t) = t {
                // Norm: the template itself; width and shift: the exact
                // derivatives of the interpolated template.
                let (norm, w, d) = (p[k], p[k + 1], p[k + 2]);
                let (col, rest) = jac[k * n..(k + 3) * n].split_at_mut(n);
                let (d_w, d_d) = rest.split_at_mut(n);
                t.with_derivatives(&self.ln_lambda, norm, w, d, (col, d_w, d_d));
            }
        }
        if let Some(h) = &self.setup.host {
            for k in 0..h.components.len() {
                for (i, &l) in self.lambda.iter().enumerate() {
                    jac[(idx::HOST + k) * n + i] = h.value(k, l);
                }
            }
        }
        for col in jac.chunks_exact_mut(n) {
            for (j, w) in col.iter_mut().zip(&self.sqrt_ivar) {
                *j *= -w;
            }
        }
        true
    }
}

/// Fit the continuum of a rest-frame spectrum (`wave` in A, increasing;
/// `ivar = 0` marks bad pixels). `start`, when given (a previous fit of
/// the same spectrum, as the Monte-Carlo loop passes), is the starting
/// point and its pixels are used as they are, without rejection passes.
pub fn fit_continuum(
    wave: &[f64],
    flux: &[f64],
    ivar: &[f64],
    setup: &ContiSetup,
    start: Option<&ContiFit>,
) -> Result<ContiFit, ContiError> {
    let windows: &[(f64, f64)] = if setup.windows.is_empty() {
        &DEFAULT_WINDOWS
    } else {
        &setup.windows
    };
    let mut keep: Vec<usize> = (0..wave.len())
        .filter(|&i| {
            ivar[i] > 0.0
                && flux[i].is_finite()
                && windows.iter().any(|&(lo, hi)| wave[i] > lo && wave[i] < hi)
        })
        .collect();
    if keep.len() < 10 {
        return Err(ContiError::TooFewPixels(keep.len()));
    }
    let n_window = keep.len();
    let count = |lo: f64, hi: f64, keep: &[usize]| {
        keep.iter()
            .filter(|&&i| wave[i] > lo && wave[i] < hi)
            .count()
    };
    let n_params = Continuum::n_params(setup);
    let use_uv = setup.fe_uv.is_some() && count(1200.0, 3500.0, &keep) > MIN_COMPONENT_PIXELS;
    let use_op = setup.fe_op.is_some() && count(3686.0, 7484.0, &keep) > MIN_COMPONENT_PIXELS;
    let use_bc = setup.balmer && count(0.0, BALMER_EDGE_A, &keep) > MIN_COMPONENT_PIXELS;

    let params: Vec<Param> = match start {
        Some(s) if s.model.params.len() == n_params => {
            bounded(&s.model.params, use_uv, use_op, use_bc, setup)
        }
        _ => initial_params(wave, flux, &keep, use_uv, use_op, use_bc, setup),
    };
    let options = LmOptions {
        max_iter: 100,
        ftol: 1e-6,
        xtol: 1e-6,
        gtol: 1e-8,
        drop_degenerate: true,
        ..LmOptions::default()
    };
    // The rejection passes only decide which pixels are absorbed, so they
    // stop at a looser chi-square tolerance; once the pixel set holds
    // still, one last fit from there converges to the full tolerance.
    let loose = LmOptions {
        ftol: REJECT_PASS_FTOL,
        xtol: REJECT_PASS_FTOL,
        ..options
    };
    let mut best: Option<LmFit> = None;
    let mut params = params;
    // From an earlier fit of the same spectrum (the Monte-Carlo redraws):
    // its pixels, no rejection passes. Which pixels are absorption is the
    // data's, not a redraw's: rejecting again on each redraw would cut
    // into its noise.
    let mut settled = false;
    if let Some(s) = start.filter(|s| s.model.params.len() == n_params && s.pixels.len() >= 10) {
        keep = s.pixels.clone();
        settled = true;
    }
    for pass in 0..=REJECT_PASSES + 1 {
        let last = settled || pass == REJECT_PASSES + 1;
        let problem = problem(wave, flux, ivar, &keep, setup, n_params);
        let result = fit(&problem, &params, if last { &options } else { &loose })?;
        for (p, &v) in params.iter_mut().zip(&result.params) {
            p.value = v.clamp(p.lower, p.upper);
        }
        if last {
            best = Some(result);
            break;
        }
        let mut model = vec![0.0; keep.len()];
        problem.model(&result.params, &mut model);
        let before = keep.len();
        let kept: Vec<usize> = keep
            .iter()
            .zip(&model)
            .filter(|&(&i, &m)| flux[i] >= m - REJECT_SIGMA / ivar[i].sqrt())
            .map(|(&i, _)| i)
            .collect();
        settled = kept.len() == before || kept.len() < 10 || pass == REJECT_PASSES;
        if kept.len() >= 10 {
            keep = kept;
        }
    }
    let result = best.expect("at least one pass");
    let free = params
        .iter()
        .map(|p| p.constraint == crate::fit::lm::Constraint::Free)
        .collect();
    Ok(ContiFit {
        reduced_chi2: result.reduced_chi2(),
        n_pixels: keep.len(),
        n_rejected: n_window - keep.len(),
        pixels: keep,
        errors: result.errors.clone(),
        model: Continuum {
            params: result.params,
            setup: setup.clone(),
        },
        free,
    })
}

impl Continuum {
    /// A continuum from parameters (e.g. read back from a catalog).
    pub fn from_params(params: Vec<f64>, setup: &ContiSetup) -> Self {
        Self {
            params,
            setup: setup.clone(),
        }
    }
}

fn problem<'a>(
    wave: &[f64],
    flux: &[f64],
    ivar: &[f64],
    keep: &[usize],
    setup: &'a ContiSetup,
    n_params: usize,
) -> ContiProblem<'a> {
    let lambda: Vec<f64> = keep.iter().map(|&i| wave[i]).collect();
    ContiProblem {
        ln_lambda: lambda.iter().map(|l| l.ln()).collect(),
        ln_ratio: lambda.iter().map(|l| (l / 3000.0).ln()).collect(),
        balmer: lambda.iter().map(|&l| balmer_shape(l)).collect(),
        flux: keep.iter().map(|&i| flux[i]).collect(),
        sqrt_ivar: keep.iter().map(|&i| ivar[i].sqrt()).collect(),
        lambda,
        setup,
        n_params,
        power_law: std::cell::RefCell::new((f64::NAN, Vec::new())),
    }
}

/// Bounds of every parameter, with the components not fitted fixed at 0.
fn bounded(
    values: &[f64],
    use_uv: bool,
    use_op: bool,
    use_bc: bool,
    setup: &ContiSetup,
) -> Vec<Param> {
    let mut p = Vec::with_capacity(values.len());
    p.push(Param::bounded(values[0].max(0.0), 0.0, f64::INFINITY));
    p.push(Param::bounded(
        values[1].clamp(PL_SLOPE.0, PL_SLOPE.1),
        PL_SLOPE.0,
        PL_SLOPE.1,
    ));
    for used in [use_uv, use_op] {
        let k = p.len();
        if used {
            p.push(Param::bounded(values[k].max(0.0), 0.0, f64::INFINITY));
            p.push(Param::bounded(
                values[k + 1].clamp(FE_FWHM_KMS.0, FE_FWHM_KMS.1),
                FE_FWHM_KMS.0,
                FE_FWHM_KMS.1,
            ));
            p.push(Param::bounded(
                values[k + 2].clamp(-FE_SHIFT_MAX, FE_SHIFT_MAX),
                -FE_SHIFT_MAX,
                FE_SHIFT_MAX,
            ));
        } else {
            p.push(Param::fixed(0.0));
            p.push(Param::fixed(FE_FWHM_KMS.2));
            p.push(Param::fixed(0.0));
        }
    }
    p.push(if use_bc {
        Param::bounded(values[idx::BC_NORM].max(0.0), 0.0, f64::INFINITY)
    } else {
        Param::fixed(0.0)
    });
    if let Some(h) = &setup.host {
        for k in 0..h.components.len() {
            p.push(Param::free(values[idx::HOST + k]));
        }
    }
    p
}

/// A start from the data: a power law through the medians of the two
/// ends of the window pixels, Fe II at a tenth of it, no Balmer continuum.
fn initial_params(
    wave: &[f64],
    flux: &[f64],
    keep: &[usize],
    use_uv: bool,
    use_op: bool,
    use_bc: bool,
    setup: &ContiSetup,
) -> Vec<Param> {
    let half = keep.len() / 2;
    let med = |ix: &[usize]| {
        let mut w: Vec<f64> = ix.iter().map(|&i| wave[i]).collect();
        let mut f: Vec<f64> = ix.iter().map(|&i| flux[i]).collect();
        w.sort_by(f64::total_cmp);
        f.sort_by(f64::total_cmp);
        (w[w.len() / 2], f[f.len() / 2])
    };
    let (w1, f1) = med(&keep[..half.max(1)]);
    let (w2, f2) = med(&keep[half..]);
    let (f1, f2) = (
        f1.max(1e-3 * f2.abs().max(1e-30)),
        f2.max(1e-3 * f1.abs().max(1e-30)),
    );
    let slope = if w2 > w1 && f1 > 0.0 && f2 > 0.0 {
        ((f2 / f1).ln() / (w2 / w1).ln()).clamp(PL_SLOPE.0 + 0.1, PL_SLOPE.1 - 0.1)
    } else {
        -1.5
    };
    let norm = (f2 * (3000.0 / w2).powf(slope)).max(0.0);
    let mut values = vec![0.0; Continuum::n_params(setup)];
    values[idx::PL_NORM] = norm;
    values[idx::PL_SLOPE] = slope;
    for (t, k) in [(&setup.fe_uv, idx::FE_UV), (&setup.fe_op, idx::FE_OP)] {
        values[k + 1] = FE_FWHM_KMS.2;
        if let Some(t) = t {
            // A tenth of the continuum at the template's middle, in units
            // of the template's mean there.
            let (lo, hi) = t.range();
            let mid = 0.5 * (lo + hi);
            let mean = t.integrate(1.0, FE_FWHM_KMS.2, 0.0, mid - 100.0, mid + 100.0) / 200.0;
            if mean > 0.0 {
                values[k] = 0.1 * norm * (mid / 3000.0).powf(slope) / mean;
            }
        }
    }
    bounded(&values, use_uv, use_op, use_bc, setup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_over_an_array_equal_the_pointwise_model() {
        // A template of a few broad bumps over 3000-6000 A, PL + Balmer +
        // optical Fe II, compared over a grid crossing the Balmer edge and
        // the template's ends.
        let lw: Vec<f64> = (0..3011).map(|i| 3.477 + 1e-4 * i as f64).collect();
        let f: Vec<f64> = lw.iter().map(|l| 1.0 + (l * 700.0).sin()).collect();
        let t = Arc::new(BroadenedTemplate::from_log10_grid(&lw, &f, "t".into()).unwrap());
        let setup = ContiSetup {
            fe_op: Some(t),
            balmer: true,
            ..ContiSetup::default()
        };
        let mut params = vec![0.0; Continuum::n_params(&setup)];
        params[idx::PL_NORM] = 3.5;
        params[idx::PL_SLOPE] = -1.4;
        params[idx::BC_NORM] = 0.8;
        params[idx::FE_OP] = 0.25;
        params[idx::FE_OP + 1] = 2700.0;
        params[idx::FE_OP + 2] = 4e-4;
        let c = Continuum { params, setup };
        let wave: Vec<f64> = (0..4000).map(|i| 2500.0 + 1.1 * i as f64).collect();
        let all = c.values(&wave);
        for (w, v) in wave.iter().zip(&all) {
            let one = c.value(*w);
            assert!(
                (v - one).abs() <= 1e-12 * one.abs().max(1e-300),
                "{w}: {v} {one}"
            );
        }
        assert!(all.iter().any(|&v| v > 0.0));
    }
}
