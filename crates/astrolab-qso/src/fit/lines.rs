//! Emission-line complexes: a line table (TOML, documented in the default
//! table `data/lines.toml`), its translation into Gaussians whose
//! parameters are linear in the fitted ones (ties of velocity, width and
//! flux ratio; outflow wings broader than their cores), and the fit of a
//! complex on the continuum-subtracted spectrum with the S/N gate of the
//! wings.
//!
//! The model follows PyQSOFit (Guo, Shen & Wang 2018; Shen et al. 2019,
//! sect. 3.2): Gaussians in `ln(lambda)` ([`crate::fit::gauss`]), lines of
//! a kinematic group sharing velocity and width, fixed flux ratios. What
//! PyQSOFit's table cannot say and this one does: a wing component per line
//! whose width is the core's plus a non-negative excess (so the wing is
//! never narrower than the core, the failure of PyQSOFit's [O III] fit of
//! spec-0332-52367-0639), whose offset is relative to the core, and which
//! is claimed only above an S/N gate (otherwise the complex is refitted
//! without it).

// `!(x > 0.0)` is meant: it is also true for NaN, which must count as bad.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::collections::HashMap;

use serde::Deserialize;
use thiserror::Error;

use crate::bal::C_KM_S;
use crate::fit::gauss::{self, line_flux};
use crate::fit::lm::{fit, LmError, LmFit, LmOptions, Model, Param, Peg};

/// The default line table (H-beta/[O III], H-alpha, Mg II, C IV).
pub const DEFAULT_LINES_TOML: &str = include_str!("../../data/lines.toml");

/// A line table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineTable {
    /// The complexes, each fitted on its own.
    pub complex: Vec<ComplexSpec>,
}

/// One complex of the table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplexSpec {
    /// Name (e.g. `Hb`).
    pub name: String,
    /// Rest-frame range fitted (A).
    pub window: [f64; 2],
    /// Least fraction of the window covered by good pixels (default 0.5).
    #[serde(default)]
    pub min_coverage: Option<f64>,
    /// Its lines.
    pub line: Vec<LineSpec>,
}

/// Broad or narrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineKind {
    /// A broad-line-region line (black-hole masses).
    Broad,
    /// A narrow-line-region line.
    Narrow,
}

/// A flux ratio to another line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ratio {
    /// The line this one is a fraction of.
    pub to: String,
    /// `flux(this) / flux(to)`.
    pub value: f64,
}

/// One line of a complex (see `data/lines.toml` for the meaning of each
/// field).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineSpec {
    pub name: String,
    pub rest: f64,
    pub kind: LineKind,
    #[serde(default)]
    pub ngauss: Option<usize>,
    #[serde(default)]
    pub fwhm: Option<[f64; 2]>,
    #[serde(default)]
    pub voff: Option<f64>,
    #[serde(default)]
    pub kin: Option<String>,
    #[serde(default)]
    pub ratio: Option<Ratio>,
    #[serde(default)]
    pub wing: bool,
    #[serde(default)]
    pub wing_voff: Option<f64>,
    #[serde(default)]
    pub wing_fwhm: Option<f64>,
    #[serde(default)]
    pub wing_snr: Option<f64>,
}

/// A table that cannot be used.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TableError {
    #[error("line table {source_name}: {message}")]
    Toml {
        source_name: String,
        message: String,
    },
    #[error("line table {source_name}, complex {complex:?}, line {line:?}: {message}")]
    Line {
        source_name: String,
        complex: String,
        line: String,
        message: String,
    },
}

impl LineTable {
    /// The built-in table.
    pub fn default_table() -> Self {
        Self::parse(DEFAULT_LINES_TOML, "built-in lines.toml").expect("the built-in table is valid")
    }

    /// Parse and check a TOML table; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, TableError> {
        let table: LineTable = toml::from_str(text).map_err(|e| TableError::Toml {
            source_name: source_name.into(),
            message: e.to_string(),
        })?;
        for c in &table.complex {
            c.layout().map_err(|(line, message)| TableError::Line {
                source_name: source_name.into(),
                complex: c.name.clone(),
                line,
                message,
            })?;
        }
        Ok(table)
    }
}

/// `offset + sum coef * theta[k]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lin {
    pub offset: f64,
    pub terms: Vec<(usize, f64)>,
}

impl Lin {
    fn of(k: usize) -> Self {
        Self {
            offset: 0.0,
            terms: vec![(k, 1.0)],
        }
    }
    fn eval(&self, theta: &[f64]) -> f64 {
        self.offset + self.terms.iter().map(|&(k, c)| c * theta[k]).sum::<f64>()
    }
}

/// One Gaussian of the complex, its parameters as functions of theta.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussSpec {
    /// Index of its line in the complex.
    pub line: usize,
    /// Whether it is a wing.
    pub wing: bool,
    pub amp: Lin,
    pub mu: Lin,
    pub sig: Lin,
}

/// The fitted parameters of a complex and how the Gaussians follow.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Bounds and starts of theta (starts filled by [`start`]).
    pub params: Vec<Param>,
    /// What each theta is (for errors and records).
    pub names: Vec<String>,
    pub gaussians: Vec<GaussSpec>,
    /// Theta of the first wing's amplitude, and of the wing width excess,
    /// when the layout has wings.
    pub wing_amp: Option<usize>,
    pub wing_excess: Option<usize>,
    /// Line index of the first wing (its S/N gates the wings).
    pub wing_line: Option<usize>,
    /// S/N gate.
    pub wing_snr: f64,
}

struct Group {
    v: usize,
    s: usize,
    wing_dv: Option<usize>,
    wing_ds: Option<usize>,
}

impl ComplexSpec {
    /// The layout with wings.
    pub fn layout(&self) -> Result<Layout, (String, String)> {
        self.layout_with(true)
    }

    /// The layout, with or without the wings.
    pub fn layout_with(&self, wings: bool) -> Result<Layout, (String, String)> {
        let mut params = Vec::new();
        let mut names = Vec::new();
        let mut gaussians = Vec::new();
        let mut groups: HashMap<&str, Group> = HashMap::new();
        let mut amp_of: HashMap<&str, (usize, Option<usize>)> = HashMap::new();
        let mut wing_amp = None;
        let mut wing_excess = None;
        let mut wing_line = None;
        let mut wing_snr = 3.0;
        let err = |l: &LineSpec, m: String| (l.name.clone(), m);
        let mut seen = std::collections::HashSet::new();
        if !(self.window[0] > 0.0 && self.window[1] > self.window[0]) {
            return Err((
                String::new(),
                format!("window {:?} is not a range", self.window),
            ));
        }
        for (li, l) in self.line.iter().enumerate() {
            if !seen.insert(l.name.as_str()) {
                return Err(err(l, "the name is used twice".into()));
            }
            if !(l.rest > 0.0) {
                return Err(err(l, format!("rest {} is not a wavelength", l.rest)));
            }
            let ln_rest = l.rest.ln();
            let bounds = |l: &LineSpec| -> Result<([f64; 2], f64), (String, String)> {
                let fwhm = l
                    .fwhm
                    .ok_or_else(|| err(l, "needs fwhm = [min, max] (km/s)".into()))?;
                let voff = l.voff.ok_or_else(|| err(l, "needs voff (km/s)".into()))?;
                if !(fwhm[0] > 0.0 && fwhm[1] > fwhm[0] && voff >= 0.0) {
                    return Err(err(l, format!("fwhm {fwhm:?} or voff {voff} is not valid")));
                }
                Ok((fwhm, voff))
            };
            match &l.kin {
                None => {
                    if l.ratio.is_some() || l.wing {
                        return Err(err(l, "ratio and wing need a kin group".into()));
                    }
                    let (fwhm, voff) = bounds(l)?;
                    let ng = l.ngauss.unwrap_or(1);
                    if ng == 0 || ng > 6 {
                        return Err(err(l, format!("ngauss {ng}: 1 to 6")));
                    }
                    for g in 0..ng {
                        let a = params.len();
                        params.push(Param::bounded(0.0, 0.0, f64::INFINITY));
                        params.push(Param::bounded(
                            ln_rest,
                            ln_rest - voff / C_KM_S,
                            ln_rest + voff / C_KM_S,
                        ));
                        params.push(Param::bounded(
                            gauss::sigma_ln(fwhm[0] * 1.5),
                            gauss::sigma_ln(fwhm[0]),
                            gauss::sigma_ln(fwhm[1]),
                        ));
                        for n in ["amp", "mu", "sig"] {
                            names.push(format!("{}[{g}].{n}", l.name));
                        }
                        gaussians.push(GaussSpec {
                            line: li,
                            wing: false,
                            amp: Lin::of(a),
                            mu: Lin::of(a + 1),
                            sig: Lin::of(a + 2),
                        });
                    }
                }
                Some(k) => {
                    if l.ngauss.unwrap_or(1) != 1 {
                        return Err(err(l, "a line of a kin group has one Gaussian".into()));
                    }
                    if !groups.contains_key(k.as_str()) {
                        let (fwhm, voff) = bounds(l)?;
                        let v = params.len();
                        params.push(Param::bounded(0.0, -voff / C_KM_S, voff / C_KM_S));
                        params.push(Param::bounded(
                            gauss::sigma_ln((fwhm[0] * fwhm[1]).sqrt().min(0.5 * fwhm[1])),
                            gauss::sigma_ln(fwhm[0]),
                            gauss::sigma_ln(fwhm[1]),
                        ));
                        names.push(format!("{k}.v"));
                        names.push(format!("{k}.sig"));
                        groups.insert(
                            k.as_str(),
                            Group {
                                v,
                                s: v + 1,
                                wing_dv: None,
                                wing_ds: None,
                            },
                        );
                    }
                    let (gv, gs) = {
                        let g = &groups[k.as_str()];
                        (g.v, g.s)
                    };
                    if l.wing && wings && groups[k.as_str()].wing_dv.is_none() {
                        let wv = l.wing_voff.ok_or_else(|| {
                            err(l, "the group's first wing needs wing_voff (km/s)".into())
                        })?;
                        let wf = l.wing_fwhm.ok_or_else(|| {
                            err(l, "the group's first wing needs wing_fwhm (km/s)".into())
                        })?;
                        let core_min = params[gs].lower;
                        let dv = params.len();
                        params.push(Param::bounded(-150.0 / C_KM_S, -wv / C_KM_S, wv / C_KM_S));
                        params.push(Param::bounded(
                            gauss::sigma_ln(300.0),
                            0.0,
                            (gauss::sigma_ln(wf) - core_min).max(1e-6),
                        ));
                        names.push(format!("{k}.wing.dv"));
                        names.push(format!("{k}.wing.dsig"));
                        let g = groups.get_mut(k.as_str()).expect("group exists");
                        g.wing_dv = Some(dv);
                        g.wing_ds = Some(dv + 1);
                        wing_excess = Some(dv + 1);
                        wing_snr = l.wing_snr.unwrap_or(3.0);
                    }
                    let g = &groups[k.as_str()];
                    // Amplitudes: own, or a ratio of another line's.
                    let (amp, wamp) = match &l.ratio {
                        None => {
                            let a = params.len();
                            params.push(Param::bounded(0.0, 0.0, f64::INFINITY));
                            names.push(format!("{}.amp", l.name));
                            let w = if l.wing && wings {
                                let w = params.len();
                                params.push(Param::bounded(0.0, 0.0, f64::INFINITY));
                                names.push(format!("{}.wing.amp", l.name));
                                if wing_amp.is_none() {
                                    wing_amp = Some(w);
                                    wing_line = Some(li);
                                }
                                Some(w)
                            } else {
                                None
                            };
                            amp_of.insert(l.name.as_str(), (a, w));
                            (Lin::of(a), w.map(Lin::of))
                        }
                        Some(r) => {
                            let to =
                                self.line
                                    .iter()
                                    .position(|o| o.name == r.to)
                                    .ok_or_else(|| {
                                        err(
                                            l,
                                            format!(
                                                "ratio.to {:?} is not a line of the complex",
                                                r.to
                                            ),
                                        )
                                    })?;
                            if self.line[to].kin.as_deref() != Some(k.as_str()) {
                                return Err(err(
                                    l,
                                    format!("ratio.to {:?} is not in kin group {k:?}", r.to),
                                ));
                            }
                            let &(a, w) = amp_of.get(r.to.as_str()).ok_or_else(|| {
                                err(l, format!("ratio.to {:?} must come before this line and have no ratio itself", r.to))
                            })?;
                            if !(r.value > 0.0) {
                                return Err(err(
                                    l,
                                    format!("ratio.value {} must be positive", r.value),
                                ));
                            }
                            // Equal widths: flux ratio R means amplitude
                            // ratio R * rest_to / rest (see gauss::line_flux).
                            let scale = r.value * self.line[to].rest / l.rest;
                            let amp = Lin {
                                offset: 0.0,
                                terms: vec![(a, scale)],
                            };
                            let wamp = match (l.wing && wings, w) {
                                (true, Some(w)) => Some(Lin {
                                    offset: 0.0,
                                    terms: vec![(w, scale)],
                                }),
                                (true, None) => {
                                    return Err(err(
                                        l,
                                        format!("has a wing but {:?} has none", r.to),
                                    ))
                                }
                                _ => None,
                            };
                            (amp, wamp)
                        }
                    };
                    let mu = Lin {
                        offset: ln_rest,
                        terms: vec![(g.v, 1.0)],
                    };
                    gaussians.push(GaussSpec {
                        line: li,
                        wing: false,
                        amp,
                        mu: mu.clone(),
                        sig: Lin::of(g.s),
                    });
                    if let Some(wamp) = wamp {
                        let (dv, ds) = (
                            g.wing_dv.expect("wing group"),
                            g.wing_ds.expect("wing group"),
                        );
                        gaussians.push(GaussSpec {
                            line: li,
                            wing: true,
                            amp: wamp,
                            mu: Lin {
                                offset: ln_rest,
                                terms: vec![(gv, 1.0), (dv, 1.0)],
                            },
                            sig: Lin {
                                offset: 0.0,
                                terms: vec![(gs, 1.0), (ds, 1.0)],
                            },
                        });
                    }
                }
            }
        }
        Ok(Layout {
            params,
            names,
            gaussians,
            wing_amp,
            wing_excess,
            wing_line,
            wing_snr,
        })
    }
}

impl Layout {
    /// `[A, mu, s]` of every Gaussian at `theta`.
    pub fn gauss_params(&self, theta: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(3 * self.gaussians.len());
        for g in &self.gaussians {
            out.push(g.amp.eval(theta));
            out.push(g.mu.eval(theta));
            out.push(g.sig.eval(theta));
        }
        out
    }
}

/// The residuals of a complex: `(flux - continuum - lines) sqrt(ivar)`.
pub struct ComplexProblem<'a> {
    pub layout: &'a Layout,
    pub ln_wave: Vec<f64>,
    pub data: Vec<f64>,
    pub sqrt_ivar: Vec<f64>,
    /// The Gaussians' shapes of the last model evaluation (see
    /// [`ShapeCache`]).
    pub cache: std::cell::RefCell<ShapeCache>,
}

/// Each Gaussian's `exp(-(x - mu)^2 / 2 sigma^2)` over its pixel range at
/// the parameters of the last model evaluation. The solver evaluates the
/// model at a trial point and, when it accepts the step, the Jacobian at
/// the same point: the Jacobian reuses the shapes instead of computing
/// every exponential again (the same numbers).
#[derive(Debug, Default, Clone)]
pub struct ShapeCache {
    theta: Vec<f64>,
    ranges: Vec<(usize, usize)>,
    shapes: Vec<f64>,
    /// Work arrays of the Jacobian.
    scratch: (Vec<f64>, Vec<f64>, Vec<f64>),
}

/// Gaussians are evaluated only within this many sigma of their centre.
const CUT_SIGMA: f64 = 7.0;

impl ComplexProblem<'_> {
    fn range(&self, mu: f64, s: f64) -> (usize, usize) {
        let lo = self.ln_wave.partition_point(|&x| x < mu - CUT_SIGMA * s);
        let hi = self.ln_wave.partition_point(|&x| x <= mu + CUT_SIGMA * s);
        (lo, hi)
    }

    /// The line model at the pixels.
    pub fn model(&self, theta: &[f64], out: &mut [f64]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        let mut cache = self.cache.borrow_mut();
        self.shapes(theta, &mut cache);
        let mut at = 0;
        for (g, &(lo, hi)) in self.layout.gaussians.iter().zip(&cache.ranges) {
            let a = g.amp.eval(theta);
            for (o, e) in out[lo..hi].iter_mut().zip(&cache.shapes[at..at + hi - lo]) {
                *o += a * e;
            }
            at += hi - lo;
        }
    }

    /// Fills `cache` with the shapes at `theta` unless it holds them.
    fn shapes(&self, theta: &[f64], cache: &mut ShapeCache) {
        if cache.theta == theta && !cache.ranges.is_empty() {
            return;
        }
        cache.theta.clear();
        cache.theta.extend_from_slice(theta);
        cache.ranges.clear();
        cache.shapes.clear();
        for g in &self.layout.gaussians {
            let (mu, s) = (g.mu.eval(theta), g.sig.eval(theta));
            let (lo, hi) = self.range(mu, s);
            let k = -0.5 / (s * s);
            cache.ranges.push((lo, hi));
            cache.shapes.extend(self.ln_wave[lo..hi].iter().map(|x| {
                let d = x - mu;
                (k * d * d).exp()
            }));
        }
    }
}

impl Model for ComplexProblem<'_> {
    fn n_params(&self) -> usize {
        self.layout.params.len()
    }
    fn n_residuals(&self) -> usize {
        self.data.len()
    }
    fn residuals(&self, p: &[f64], r: &mut [f64]) {
        self.model(p, r);
        for ((ri, f), w) in r.iter_mut().zip(&self.data).zip(&self.sqrt_ivar) {
            *ri = (f - *ri) * w;
        }
    }
    fn jacobian(&self, theta: &[f64], jac: &mut [f64]) -> bool {
        let n = self.data.len();
        jac.iter_mut().for_each(|v| *v = 0.0);
        let mut cache = self.cache.borrow_mut();
        self.shapes(theta, &mut cache);
        let mut scratch = std::mem::take(&mut cache.scratch);
        let mut at = 0;
        for (g, &(lo, hi)) in self.layout.gaussians.iter().zip(&cache.ranges) {
            let (a, mu, s) = (g.amp.eval(theta), g.mu.eval(theta), g.sig.eval(theta));
            let inv_s2 = 1.0 / (s * s);
            let shapes = &cache.shapes[at..at + hi - lo];
            at += hi - lo;
            // The three derivatives over the range, then each added into
            // the columns of its parameters (whole slices: the same sums
            // in the same order as pixel by pixel, and vectorised).
            let (da, dm, ds) = (&mut scratch.0, &mut scratch.1, &mut scratch.2);
            da.clear();
            dm.clear();
            ds.clear();
            for i in lo..hi {
                let d = self.ln_wave[i] - mu;
                let e = shapes[i - lo];
                let w = -self.sqrt_ivar[i];
                da.push(e * w);
                dm.push(a * e * d * inv_s2 * w);
                ds.push(a * e * d * d * inv_s2 / s * w);
            }
            for (terms, values) in [
                (&g.amp.terms, &*da),
                (&g.mu.terms, &*dm),
                (&g.sig.terms, &*ds),
            ] {
                for &(k, c) in terms {
                    for (j, v) in jac[k * n + lo..k * n + hi].iter_mut().zip(values) {
                        *j += c * v;
                    }
                }
            }
        }
        cache.scratch = scratch;
        true
    }
}

/// A fitted complex.
#[derive(Debug, Clone)]
pub struct ComplexFit {
    /// Index of the complex in the table.
    pub complex: usize,
    /// Whether the wings were kept (false also when the table has none).
    pub wings: bool,
    /// S/N of the first wing's flux in the fit with wings (NaN when the
    /// table has no wing).
    pub wing_snr: f64,
    /// The layout used.
    pub layout: Layout,
    /// The solver's result.
    pub result: LmFit,
    /// Pixels fitted.
    pub n_pixels: usize,
}

impl ComplexFit {
    /// `[A, mu, s]` per Gaussian.
    pub fn gauss_params(&self) -> Vec<f64> {
        self.layout.gauss_params(&self.result.params)
    }
}

/// Why a complex was not fitted.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ComplexError {
    #[error("complex {name}: {covered:.0} % of its window {lo}-{hi} A has good pixels (need {need:.0} %)")]
    NotCovered {
        name: String,
        covered: f64,
        need: f64,
        lo: f64,
        hi: f64,
    },
    #[error("complex {name}: {source}")]
    Fit { name: String, source: LmError },
}

/// Fit complex `index` of `table` to the continuum-subtracted spectrum
/// (`wave` rest A increasing, `line_flux = flux - continuum`, `ivar`).
/// `start` (theta of a previous fit with the same wing choice) makes the
/// Monte-Carlo refits start from the best fit and keep its wing decision.
pub fn fit_complex(
    table: &LineTable,
    index: usize,
    wave: &[f64],
    line_flux: &[f64],
    ivar: &[f64],
    start: Option<(&[f64], bool)>,
) -> Result<ComplexFit, ComplexError> {
    let spec = &table.complex[index];
    let [lo, hi] = spec.window;
    let mut ln_wave = Vec::new();
    let mut data = Vec::new();
    let mut sqrt_ivar = Vec::new();
    for i in 0..wave.len() {
        if wave[i] > lo && wave[i] < hi && ivar[i] > 0.0 && line_flux[i].is_finite() {
            ln_wave.push(wave[i].ln());
            data.push(line_flux[i]);
            sqrt_ivar.push(ivar[i].sqrt());
        }
    }
    // Coverage: good pixels' share of the window, from the local pixel
    // step (log-uniform spectra: the median step).
    let step = median_step(wave, lo, hi);
    let covered = if step > 0.0 {
        (ln_wave.len() as f64 * step / (hi / lo).ln()).min(1.0)
    } else {
        0.0
    };
    let need = spec.min_coverage.unwrap_or(0.5);
    if covered < need || ln_wave.len() < 10 {
        return Err(ComplexError::NotCovered {
            name: spec.name.clone(),
            covered: 100.0 * covered,
            need: 100.0 * need,
            lo,
            hi,
        });
    }
    let fit_err = |source| ComplexError::Fit {
        name: spec.name.clone(),
        source,
    };
    let options = LmOptions {
        max_iter: 200,
        ftol: 1e-7,
        xtol: 1e-7,
        gtol: 1e-9,
        drop_degenerate: true,
        ..LmOptions::default()
    };
    let run = |wings: bool, theta0: Option<&[f64]>| -> Result<(Layout, LmFit), ComplexError> {
        let mut layout = spec.layout_with(wings).expect("checked when parsed");
        match theta0 {
            Some(t) if t.len() == layout.params.len() => {
                for (p, &v) in layout.params.iter_mut().zip(t) {
                    p.value = v.clamp(p.lower, p.upper);
                }
            }
            _ => start_values(spec, &mut layout, &ln_wave, &data),
        }
        let problem = ComplexProblem {
            layout: &layout,
            ln_wave: ln_wave.clone(),
            data: data.clone(),
            sqrt_ivar: sqrt_ivar.clone(),
            cache: Default::default(),
        };
        let result = fit(&problem, &layout.params, &options).map_err(fit_err)?;
        Ok((layout, result))
    };
    let n_pixels = ln_wave.len();
    if let Some((theta, wings)) = start {
        let (layout, result) = run(wings, Some(theta))?;
        return Ok(ComplexFit {
            complex: index,
            wings,
            wing_snr: f64::NAN,
            layout,
            result,
            n_pixels,
        });
    }
    let (layout, result) = run(true, None)?;
    let (Some(wa), Some(we), Some(wl)) = (layout.wing_amp, layout.wing_excess, layout.wing_line)
    else {
        return Ok(ComplexFit {
            complex: index,
            wings: false,
            wing_snr: f64::NAN,
            layout,
            result,
            n_pixels,
        });
    };
    let snr = wing_flux_snr(&layout, &result, wl);
    // The wing's core: a wing without a core is just the line, broader.
    let core_amp = layout
        .gaussians
        .iter()
        .find(|g| g.line == wl && !g.wing)
        .map_or(0.0, |g| g.amp.eval(&result.params));
    let keep = snr >= layout.wing_snr
        && result.pegged[we] == Peg::No
        && result.params[we] > 0.0
        && result.params[wa] > 0.0
        && core_amp > 0.0;
    if keep {
        return Ok(ComplexFit {
            complex: index,
            wings: true,
            wing_snr: snr,
            layout,
            result,
            n_pixels,
        });
    }
    let (layout, result) = run(false, None)?;
    Ok(ComplexFit {
        complex: index,
        wings: false,
        wing_snr: snr,
        layout,
        result,
        n_pixels,
    })
}

/// S/N of the flux of the wing Gaussian of line `line`, the error
/// propagated from the fit's covariance (its gradient in theta, numerically).
fn wing_flux_snr(layout: &Layout, result: &LmFit, line: usize) -> f64 {
    let Some(gi) = layout
        .gaussians
        .iter()
        .position(|g| g.line == line && g.wing)
    else {
        return f64::NAN;
    };
    let g = &layout.gaussians[gi];
    let flux = |t: &[f64]| line_flux(g.amp.eval(t), g.mu.eval(t), g.sig.eval(t));
    let theta = &result.params;
    let f0 = flux(theta);
    let m = result.free.len();
    let mut grad = vec![0.0; m];
    let mut t = theta.clone();
    for (j, &k) in result.free.iter().enumerate() {
        let h = 1e-6 * theta[k].abs().max(1e-8);
        t[k] = theta[k] + h;
        let fp = flux(&t);
        t[k] = theta[k] - h;
        let fm = flux(&t);
        t[k] = theta[k];
        grad[j] = (fp - fm) / (2.0 * h);
    }
    let mut var = 0.0;
    for a in 0..m {
        for b in 0..m {
            var += grad[a] * result.covariance[a * m + b] * grad[b];
        }
    }
    if var > 0.0 {
        f0 / var.sqrt()
    } else {
        0.0
    }
}

fn median_step(wave: &[f64], lo: f64, hi: f64) -> f64 {
    let mut steps: Vec<f64> = wave
        .windows(2)
        .filter(|w| w[0] > lo && w[1] < hi)
        .map(|w| (w[1] / w[0]).ln())
        .filter(|d| *d > 0.0)
        .collect();
    if steps.is_empty() {
        return 0.0;
    }
    steps.sort_by(f64::total_cmp);
    steps[steps.len() / 2]
}

/// Starting values from the data: each line's amplitude from the data near
/// its centre; broad Gaussians at FWHM 2000, 4000, 8000 ... km/s sharing
/// the flux; a kin group's velocity at the data's peak near the group's
/// first line within its `voff`; wings 150 km/s blue and 300 km/s (sigma
/// excess) wider with a fifth of the core's amplitude.
fn start_values(spec: &ComplexSpec, layout: &mut Layout, ln_wave: &[f64], data: &[f64]) {
    // Smooth over 3 pixels for the peaks: single noisy pixels mislead.
    let smooth: Vec<f64> = (0..data.len())
        .map(|i| {
            let a = i.saturating_sub(1);
            let b = (i + 2).min(data.len());
            data[a..b].iter().sum::<f64>() / (b - a) as f64
        })
        .collect();
    let peak_smooth = |ln_c: f64, half: f64| -> (f64, f64) {
        let mut best = (0.0f64, ln_c);
        for (x, &y) in ln_wave.iter().zip(&smooth) {
            if (x - ln_c).abs() <= half && y > best.0 {
                best = (y, *x);
            }
        }
        best
    };
    let mut group_v: HashMap<String, f64> = HashMap::new();
    // Kin groups: the velocity of the data's peak near the group's first
    // line (its first line with a wing when there is one).
    for l in &spec.line {
        if let Some(k) = &l.kin {
            if group_v.contains_key(k) && !l.wing {
                continue;
            }
            if l.ratio.is_some() {
                continue;
            }
            let anchor_has_wing = spec
                .line
                .iter()
                .any(|o| o.kin.as_deref() == Some(k.as_str()) && o.wing && o.ratio.is_none());
            if anchor_has_wing && !l.wing {
                continue;
            }
            let voff = spec
                .line
                .iter()
                .find(|o| o.kin.as_deref() == Some(k.as_str()))
                .and_then(|o| o.voff)
                .unwrap_or(500.0);
            let (_, x) = peak_smooth(l.rest.ln(), voff / C_KM_S);
            group_v.insert(k.clone(), x - l.rest.ln());
        }
    }
    let names = layout.names.clone();
    let gaussians = layout.gaussians.clone();
    for (k, name) in names.iter().enumerate() {
        if let Some(group) = name.strip_suffix(".v") {
            if let Some(&v) = group_v.get(group) {
                let p = &mut layout.params[k];
                p.value = v.clamp(p.lower, p.upper);
            }
        }
    }
    let mut broad_count: HashMap<usize, usize> = HashMap::new();
    for g in &gaussians {
        let l = &spec.line[g.line];
        // Only Gaussians whose amplitude is its own parameter.
        let [(ka, _)] = g.amp.terms[..] else { continue };
        if g.amp.terms[0].1 != 1.0 {
            continue;
        }
        match &l.kin {
            None => {
                let nth = broad_count.entry(g.line).or_insert(0);
                let ng = l.ngauss.unwrap_or(1);
                let fwhm = l.fwhm.expect("checked");
                let w = (2000.0 * 2f64.powi(*nth as i32)).clamp(fwhm[0] * 1.01, fwhm[1] * 0.99);
                let km = g.sig.terms[0].0;
                let p = &mut layout.params[km];
                p.value = gauss::sigma_ln(w).clamp(p.lower, p.upper);
                let (pk, x) = peak_smooth(l.rest.ln(), 1500.0 / C_KM_S);
                let mm = g.mu.terms[0].0;
                let p = &mut layout.params[mm];
                p.value = if *nth == 0 { x } else { l.rest.ln() }.clamp(p.lower, p.upper);
                layout.params[ka].value = (pk / ng as f64).max(0.0);
                *nth += 1;
            }
            Some(k) => {
                let v = group_v.get(k).copied().unwrap_or(0.0);
                let (pk, _) = peak_smooth(l.rest.ln() + v, 200.0 / C_KM_S);
                layout.params[ka].value = if g.wing { 0.2 * pk } else { 0.8 * pk }.max(0.0);
            }
        }
    }
}
