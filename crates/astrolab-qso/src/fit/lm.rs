//! Bounded Levenberg-Marquardt least squares: minimise `chi2 = sum r_i(p)^2`
//! over parameters `p` with box bounds, fixed parameters and linear ties.
//!
//! The method is Levenberg's and Marquardt's damped Gauss-Newton step
//! `(J^T J + lambda D^2) dp = -J^T r` as Moré (1978, "The
//! Levenberg-Marquardt algorithm: implementation and theory", Numerical
//! Analysis, LNM 630, 105) sets it out: `D` is his scale matrix, the running
//! maximum of the column norms of `J` (his eq. 6.4), which makes the
//! iteration invariant to the units of the parameters, and the stopping
//! tests `ftol`, `xtol` and `gtol` have MINPACK's meanings (Moré, Garbow &
//! Hillstrom 1980, MINPACK-1 `lmder`/`lmdif`):
//!
//! * `ftol`: the actual and the predicted relative reductions of `chi2` are
//!   both at most `ftol`;
//! * `xtol`: the scaled step is at most `xtol` times the scaled parameters,
//!   `|D dp| <= xtol |D p|`;
//! * `gtol`: the cosine of the angle between `r` and every column of `J`
//!   (of the parameters not pegged at a bound) is at most `gtol`.
//!
//! Instead of MINPACK's trust radius and its search for the Levenberg
//! parameter, `lambda` is updated from the gain ratio `rho` of actual to
//! predicted reduction as Nielsen (1999, IMM-REP-1999-05; Madsen, Nielsen &
//! Tingleff 2004, "Methods for non-linear least squares problems", eq. 3.16):
//! after a successful step `lambda *= max(1/3, 1 - (2 rho - 1)^3)`, after a
//! failed one `lambda *= nu`, `nu *= 2`. One linear solve per trial step
//! (a Cholesky factorisation of the damped normal matrix) instead of
//! MINPACK's QR with its inner iteration: the matrices here are small (a
//! few to a few tens of parameters), and the normal equations lose only
//! what a well-scaled problem can spare.
//!
//! Bounds are handled as MPFIT does them (Markwardt 2009, ASP Conf. Ser.
//! 411, 251; `mpfit.pro`, after MINPACK): a parameter sitting on a bound
//! whose gradient pushes it outwards is *pegged*, dropped from the step and
//! from the `gtol` test; the step of the others is shortened, as a whole
//! (its direction kept), until it stays inside the box, and a parameter that
//! the shortened step brings to its bound is put exactly on it. A pegged
//! parameter is released as soon as its gradient points back inside.
//!
//! Ties are MPFIT's `tied` in linear form, `p_j = a p_k + b` with `p_k`
//! free: `p_j` is not a parameter of the fit, its Jacobian column enters
//! `p_k`'s as `a dr/dp_j` (chain rule), and its error is `|a|` times
//! `p_k`'s. Bounds on a tied parameter are not enforced: put them on `p_k`.
//!
//! Residuals are the model's business: for a spectrum they are
//! `(data - model) sqrt(ivar)`, so `chi2` is the usual chi-square and the
//! covariance `(J^T J)^-1` of the free parameters at the solution is the
//! unscaled one (MPFIT's `PERROR`), right when `ivar` is right; multiply by
//! `chi2 / dof` for the errors of unweighted data, as NIST's certified
//! standard deviations are ([`LmFit::scaled_errors`]).
//!
//! Allocations are made once per fit, none per iteration.

// `!(x > 0.0)` is meant: it is also true for NaN, which must count as bad.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use thiserror::Error;

/// A least-squares problem: the residuals `r(p)` and, optionally, their
/// Jacobian.
pub trait Model {
    /// Length of the parameter vector `p` (fixed and tied ones included).
    fn n_params(&self) -> usize;
    /// Number of residuals.
    fn n_residuals(&self) -> usize;
    /// Fill `r` (length [`Model::n_residuals`]) with the residuals at `p`,
    /// for a spectrum `(data - model) sqrt(ivar)`. A non-finite residual at
    /// a trial point rejects that step; at the start it is an error.
    fn residuals(&self, p: &[f64], r: &mut [f64]);
    /// Fill `jac` column-major, `jac[k * n_residuals + i] = dr_i / dp_k`,
    /// for every parameter (fixed and tied ones too: their columns are
    /// used for ties and otherwise ignored), and return `true`; the default
    /// returns `false` and the solver uses forward differences.
    fn jacobian(&self, p: &[f64], jac: &mut [f64]) -> bool {
        let _ = (p, jac);
        false
    }
}

/// Whether a parameter is fitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Constraint {
    /// Fitted, within its bounds.
    Free,
    /// Held at its starting value.
    Fixed,
    /// `p = scale * p[to] + offset`, with `p[to]` free.
    Tied { to: usize, scale: f64, offset: f64 },
}

/// One parameter: its starting value, bounds (either may be infinite) and
/// constraint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Param {
    /// Starting value (ignored for a tied parameter: the tie sets it).
    pub value: f64,
    /// Lower bound, `-inf` for none.
    pub lower: f64,
    /// Upper bound, `+inf` for none.
    pub upper: f64,
    /// Free, fixed or tied.
    pub constraint: Constraint,
}

impl Param {
    /// A free parameter without bounds.
    pub fn free(value: f64) -> Self {
        Self::bounded(value, f64::NEG_INFINITY, f64::INFINITY)
    }
    /// A free parameter within `[lower, upper]`.
    pub fn bounded(value: f64, lower: f64, upper: f64) -> Self {
        Self {
            value,
            lower,
            upper,
            constraint: Constraint::Free,
        }
    }
    /// A parameter held at `value`.
    pub fn fixed(value: f64) -> Self {
        Self {
            constraint: Constraint::Fixed,
            ..Self::free(value)
        }
    }
    /// `p = scale * p[to] + offset`.
    pub fn tied(to: usize, scale: f64, offset: f64) -> Self {
        Self {
            constraint: Constraint::Tied { to, scale, offset },
            ..Self::free(0.0)
        }
    }
}

/// Solver settings; the defaults are MPFIT's tolerances.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LmOptions {
    /// Most Jacobian evaluations (outer iterations).
    pub max_iter: usize,
    /// Relative reduction of `chi2` below which the fit stops (see the
    /// module docs).
    pub ftol: f64,
    /// Relative scaled step below which the fit stops.
    pub xtol: f64,
    /// Largest cosine between the residuals and a Jacobian column at which
    /// the fit stops.
    pub gtol: f64,
    /// Starting damping, relative to `D^2` (Marquardt's diagonal).
    pub initial_lambda: f64,
    /// Forward-difference step relative to `|p|` (absolute where `p = 0`);
    /// `sqrt(machine epsilon)` by default, as MINPACK.
    pub fd_rel_step: f64,
    /// Use forward differences even when the model has a Jacobian.
    pub finite_difference: bool,
    /// At the solution, leave parameters the data do not constrain (a zero
    /// or dependent Jacobian column, e.g. the centre of a line whose
    /// amplitude is 0) out of the covariance, with NaN errors, instead of
    /// failing with [`LmError::Singular`].
    pub drop_degenerate: bool,
}

impl Default for LmOptions {
    fn default() -> Self {
        Self {
            max_iter: 200,
            ftol: 1e-10,
            xtol: 1e-10,
            gtol: 1e-10,
            initial_lambda: 1e-3,
            fd_rel_step: f64::EPSILON.sqrt(),
            finite_difference: false,
            drop_degenerate: false,
        }
    }
}

/// Why the fit stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Relative reduction of `chi2` at most `ftol`.
    Ftol,
    /// Relative step at most `xtol` (also when no step reduces `chi2` any
    /// more).
    Xtol,
    /// Gradient orthogonal to the residuals within `gtol` (also: `chi2 = 0`,
    /// or every free parameter pegged).
    Gtol,
    /// `max_iter` iterations without meeting a tolerance.
    MaxIter,
}

/// Where a parameter ended relative to its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peg {
    /// Not at a bound that holds it (or not free).
    No,
    /// On its lower bound, the gradient pushing it below.
    Lower,
    /// On its upper bound, the gradient pushing it above.
    Upper,
}

/// The result of [`fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct LmFit {
    /// Best parameters, all of them (fixed and tied ones included).
    pub params: Vec<f64>,
    /// 1-sigma errors from the unscaled covariance: free parameters
    /// `sqrt(C_kk)`, tied ones `|scale|` times their free parameter's, fixed
    /// and pegged ones 0.
    pub errors: Vec<f64>,
    /// `sum r_i^2` at `params`.
    pub chi2: f64,
    /// Number of residuals.
    pub n_residuals: usize,
    /// Indices of the free parameters, the order of [`LmFit::covariance`].
    pub free: Vec<usize>,
    /// `n_residuals - free.len()`.
    pub dof: usize,
    /// Outer iterations (Jacobian evaluations, the final one for the
    /// covariance not counted).
    pub iterations: usize,
    /// Residual evaluations (finite-difference ones included).
    pub n_evaluations: usize,
    /// Why it stopped.
    pub status: Stop,
    /// Per parameter: pegged at a bound at the solution, or not.
    pub pegged: Vec<Peg>,
    /// `(J^T J)^-1` of the free parameters at the solution, row-major
    /// `free.len()` square, unscaled; rows and columns of pegged parameters
    /// are 0.
    pub covariance: Vec<f64>,
}

impl LmFit {
    /// `chi2 / dof`.
    pub fn reduced_chi2(&self) -> f64 {
        self.chi2 / self.dof as f64
    }
    /// [`LmFit::errors`] times `sqrt(chi2 / dof)`: the errors when the
    /// residuals are unweighted (or their weights only relative), as NIST's
    /// certified standard deviations and MPFIT's `PCERROR`.
    pub fn scaled_errors(&self) -> Vec<f64> {
        let s = self.reduced_chi2().sqrt();
        self.errors.iter().map(|e| e * s).collect()
    }
}

/// Why a fit could not be made.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LmError {
    #[error("{got} parameters given for a model of {expected}")]
    ParamCount { got: usize, expected: usize },
    #[error("no free parameters")]
    NoFreeParameters,
    #[error("{residuals} residuals for {free} free parameters: no degrees of freedom")]
    NoDegreesOfFreedom { residuals: usize, free: usize },
    #[error("parameter {index}: starting value {value} is not finite")]
    NonFiniteStart { index: usize, value: f64 },
    #[error(
        "parameter {index}: bounds [{lower}, {upper}] are not an interval (NaN, or lower >= upper for a free parameter)"
    )]
    BadBounds {
        index: usize,
        lower: f64,
        upper: f64,
    },
    #[error("parameter {index}: starting value {value} is outside its bounds [{lower}, {upper}]")]
    StartOutsideBounds {
        index: usize,
        value: f64,
        lower: f64,
        upper: f64,
    },
    #[error(
        "parameter {index} is tied to parameter {to}, which is not a free parameter of the model"
    )]
    TieToNonFree { index: usize, to: usize },
    #[error("parameter {index}: tie scale {scale} or offset {offset} is not finite")]
    NonFiniteTie {
        index: usize,
        scale: f64,
        offset: f64,
    },
    #[error("residual {index} is not finite at the starting parameters (NaN data or ivar?)")]
    NonFiniteResidual { index: usize },
    #[error("the Jacobian column of parameter {index} is not finite")]
    NonFiniteJacobian { index: usize },
    #[error(
        "J^T J is singular at the solution: the free parameters are degenerate (parameter {index} is not constrained by the data)"
    )]
    Singular { index: usize },
}

/// One tie, `p[index] = scale * p[to] + offset`.
#[derive(Clone, Copy)]
struct Tie {
    index: usize,
    to: usize,
    scale: f64,
    offset: f64,
}

fn apply_ties(p: &mut [f64], ties: &[Tie]) {
    for t in ties {
        p[t.index] = t.scale * p[t.to] + t.offset;
    }
}

/// Check the parameters; return the free indices and the ties.
fn validate(params: &[Param], n_expected: usize) -> Result<(Vec<usize>, Vec<Tie>), LmError> {
    if params.len() != n_expected {
        return Err(LmError::ParamCount {
            got: params.len(),
            expected: n_expected,
        });
    }
    let mut free = Vec::new();
    let mut ties = Vec::new();
    for (index, q) in params.iter().enumerate() {
        if q.lower.is_nan() || q.upper.is_nan() || q.lower > q.upper {
            return Err(LmError::BadBounds {
                index,
                lower: q.lower,
                upper: q.upper,
            });
        }
        match q.constraint {
            Constraint::Free | Constraint::Fixed => {
                if !q.value.is_finite() {
                    return Err(LmError::NonFiniteStart {
                        index,
                        value: q.value,
                    });
                }
            }
            Constraint::Tied { .. } => {}
        }
        match q.constraint {
            Constraint::Free => {
                // An empty interior would leave nothing to fit: a parameter
                // pinned by its bounds is a fixed one and must say so.
                if !(q.lower < q.upper) {
                    return Err(LmError::BadBounds {
                        index,
                        lower: q.lower,
                        upper: q.upper,
                    });
                }
                if !(q.lower <= q.value && q.value <= q.upper) {
                    return Err(LmError::StartOutsideBounds {
                        index,
                        value: q.value,
                        lower: q.lower,
                        upper: q.upper,
                    });
                }
                free.push(index);
            }
            Constraint::Fixed => {}
            Constraint::Tied { to, scale, offset } => {
                // Ties go to free parameters only, so that one pass sets
                // every tied value and the chain rule has one level.
                if to >= params.len() || to == index || params[to].constraint != Constraint::Free {
                    return Err(LmError::TieToNonFree { index, to });
                }
                if !scale.is_finite() || !offset.is_finite() {
                    return Err(LmError::NonFiniteTie {
                        index,
                        scale,
                        offset,
                    });
                }
                ties.push(Tie {
                    index,
                    to,
                    scale,
                    offset,
                });
            }
        }
    }
    if free.is_empty() {
        return Err(LmError::NoFreeParameters);
    }
    Ok((free, ties))
}

/// Buffers reused across iterations.
struct Work {
    /// Effective Jacobian of the free parameters, column-major `n x nf`.
    jac: Vec<f64>,
    /// The model's full Jacobian, `n x np` (analytic models only).
    jfull: Vec<f64>,
    /// Trial parameters and residuals.
    p_try: Vec<f64>,
    r_try: Vec<f64>,
    /// Per free column, the rows outside which it is exactly zero
    /// ([`nonzero_rows`]), found once per Jacobian for the products.
    rows: Vec<(usize, usize)>,
    /// Where each free column starts in [`Work::columns`]: in `jfull` for
    /// an analytic Jacobian (the model's columns are used in place, tied
    /// parameters' added into their free one), in `jac` for finite
    /// differences.
    offs: Vec<usize>,
    analytic: bool,
}

impl Work {
    /// The buffer the free columns live in (see `offs`).
    fn columns(&self) -> &[f64] {
        if self.analytic {
            &self.jfull
        } else {
            &self.jac
        }
    }
}

/// Fill `w.jac` at `p` (residuals `r`); returns the residual evaluations
/// spent (0 for an analytic Jacobian).
#[allow(clippy::too_many_arguments)]
fn jacobian<M: Model + ?Sized>(
    model: &M,
    params: &[Param],
    free: &[usize],
    ties: &[Tie],
    p: &[f64],
    r: &[f64],
    opts: &LmOptions,
    w: &mut Work,
) -> Result<usize, LmError> {
    let n = r.len();
    let mut evals = 0;
    w.analytic = !opts.finite_difference && model.jacobian(p, &mut w.jfull);
    w.offs.clear();
    if w.analytic {
        for &k in free {
            // A tied parameter's column is added into its free one, in
            // place: tied parameters are never free, so no column is read
            // after it is changed.
            for t in ties.iter().filter(|t| t.to == k) {
                let (dst, src) = if t.index < k {
                    let (a, b) = w.jfull.split_at_mut(k * n);
                    (&mut b[..n], &a[t.index * n..(t.index + 1) * n])
                } else {
                    let (a, b) = w.jfull.split_at_mut(t.index * n);
                    (&mut a[k * n..(k + 1) * n], &b[..n])
                };
                for (ci, ji) in dst.iter_mut().zip(src) {
                    *ci += t.scale * ji;
                }
            }
            w.offs.push(k * n);
        }
    } else {
        w.offs.extend((0..free.len()).map(|c| c * n));
        w.p_try.copy_from_slice(p);
        for (c, &k) in free.iter().enumerate() {
            let pk = p[k];
            let mut h = opts.fd_rel_step * pk.abs();
            if h == 0.0 {
                h = opts.fd_rel_step;
            }
            // Step inwards at an upper bound (MPFIT), so the model is never
            // evaluated outside the box.
            if pk + h > params[k].upper {
                h = -h;
            }
            // The step actually taken, after rounding of `pk + h`.
            let h = (pk + h) - pk;
            w.p_try[k] = pk + h;
            apply_ties(&mut w.p_try, ties);
            model.residuals(&w.p_try, &mut w.r_try);
            evals += 1;
            for ((ci, rt), r0) in w.jac[c * n..(c + 1) * n].iter_mut().zip(&w.r_try).zip(r) {
                *ci = (rt - r0) / h;
            }
            w.p_try[k] = pk;
        }
        apply_ties(&mut w.p_try, ties);
    }
    w.rows.clear();
    for (c, &k) in free.iter().enumerate() {
        let col = &w.columns()[w.offs[c]..w.offs[c] + n];
        let rows = nonzero_rows(col);
        // NaN compares unequal to 0, so a non-finite value lies in rows.
        if col[rows.0..rows.1].iter().any(|v| !v.is_finite()) {
            return Err(LmError::NonFiniteJacobian { index: k });
        }
        w.rows.push(rows);
    }
    Ok(evals)
}

/// Gradient `J^T r` of the free parameters, their squared column norms, and
/// which are pegged (on a bound, the descent direction `-g` pointing out).
#[allow(clippy::too_many_arguments)]
fn gradient(
    jac: &[f64],
    offs: &[usize],
    rows: &[(usize, usize)],
    r: &[f64],
    free: &[usize],
    params: &[Param],
    p: &[f64],
    g: &mut [f64],
    col2: &mut [f64],
    pegged: &mut [Peg],
) {
    let n = r.len();
    for (c, &k) in free.iter().enumerate() {
        let col = &jac[offs[c]..offs[c] + n];
        let (lo, hi) = rows[c];
        g[c] = dot(&col[lo..hi], &r[lo..hi]);
        col2[c] = dot(&col[lo..hi], &col[lo..hi]);
        pegged[c] = if p[k] <= params[k].lower && g[c] > 0.0 {
            Peg::Lower
        } else if p[k] >= params[k].upper && g[c] < 0.0 {
            Peg::Upper
        } else {
            Peg::No
        };
    }
}

/// Dot product in four interleaved partial sums: the compiler vectorises
/// it (a single running sum is a chain it may not reorder), and J^T J and
/// J^T r are most of a fit's time.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut s = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..4 {
            s[k] += x[k] * y[k];
        }
    }
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    (s[0] + s[1]) + (s[2] + s[3]) + tail
}

/// The rows `lo..hi` outside which a Jacobian column is exactly zero
/// (`(0, 0)` for an all-zero column). Line models are cut a few sigma
/// from each centre and Fe II templates end, so most columns are short.
fn nonzero_rows(col: &[f64]) -> (usize, usize) {
    match col.iter().position(|&v| v != 0.0) {
        None => (0, 0),
        Some(lo) => (
            lo,
            col.len() - col.iter().rev().position(|&v| v != 0.0).unwrap_or(0),
        ),
    }
}

/// `J^T J` of the active (unpegged) free columns into `a` (`na x na`,
/// row-major); `active` lists their positions among the free parameters.
/// Each product runs over the overlap of the two columns' non-zero rows
/// only: the same sums, without the zeros.
fn normal_matrix(
    jac: &[f64],
    offs: &[usize],
    rows: &[(usize, usize)],
    n: usize,
    active: &[usize],
    a: &mut [f64],
) {
    let na = active.len();
    for (i, &ci) in active.iter().enumerate() {
        let coli = &jac[offs[ci]..offs[ci] + n];
        for (j, &cj) in active.iter().enumerate().take(i + 1) {
            let lo = rows[ci].0.max(rows[cj].0);
            let hi = rows[ci].1.min(rows[cj].1);
            let v = if lo < hi {
                dot(&coli[lo..hi], &jac[offs[cj] + lo..offs[cj] + hi])
            } else {
                0.0
            };
            a[i * na + j] = v;
            a[j * na + i] = v;
        }
    }
}

/// In-place Cholesky factorisation `a = L L^T` of an `m x m` row-major
/// symmetric matrix (`L` in the lower triangle); `Err(j)` when pivot `j`
/// (before its square root) is not above `min_pivot`. Not the crate's `continuum::cholesky_solve`: that one
/// allocates its solution on every call and cannot reuse the factor, and
/// here the factor is solved against in the inner loop and inverted for the
/// covariance.
fn cholesky_factor(a: &mut [f64], m: usize, min_pivot: f64) -> Result<(), usize> {
    for j in 0..m {
        let mut d = a[j * m + j];
        for k in 0..j {
            d -= a[j * m + k] * a[j * m + k];
        }
        if !(d > min_pivot) || !d.is_finite() {
            return Err(j);
        }
        let d = d.sqrt();
        a[j * m + j] = d;
        for i in j + 1..m {
            let mut s = a[i * m + j];
            for k in 0..j {
                s -= a[i * m + k] * a[j * m + k];
            }
            a[i * m + j] = s / d;
        }
    }
    Ok(())
}

/// Solve `L L^T x = b` in place, `L` from [`cholesky_factor`].
fn cholesky_solve_in_place(l: &[f64], m: usize, b: &mut [f64]) {
    for i in 0..m {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * m + k] * b[k];
        }
        b[i] = s / l[i * m + i];
    }
    for i in (0..m).rev() {
        let mut s = b[i];
        for k in i + 1..m {
            s -= l[k * m + i] * b[k];
        }
        b[i] = s / l[i * m + i];
    }
}

/// Minimise `sum r_i(p)^2` from `params` (see the module docs).
///
/// Errors: bad parameter set-up (counts, bounds, ties, non-finite starts),
/// no free parameters or degrees of freedom, a non-finite residual at the
/// start or Jacobian, and a singular `J^T J` at the solution (so that the
/// errors are never NaN).
pub fn fit<M: Model + ?Sized>(
    model: &M,
    params: &[Param],
    opts: &LmOptions,
) -> Result<LmFit, LmError> {
    let (free, ties) = validate(params, model.n_params())?;
    let np = params.len();
    let nf = free.len();
    let n = model.n_residuals();
    if n <= nf {
        return Err(LmError::NoDegreesOfFreedom {
            residuals: n,
            free: nf,
        });
    }

    let mut p: Vec<f64> = params.iter().map(|q| q.value).collect();
    apply_ties(&mut p, &ties);
    let mut r = vec![0.0; n];
    model.residuals(&p, &mut r);
    if let Some(index) = r.iter().position(|v| !v.is_finite()) {
        return Err(LmError::NonFiniteResidual { index });
    }
    let mut chi2 = dot(&r, &r);
    let mut n_eval = 1;

    let mut w = Work {
        jac: vec![0.0; n * nf],
        jfull: if opts.finite_difference {
            Vec::new()
        } else {
            vec![0.0; n * np]
        },
        p_try: p.clone(),
        r_try: vec![0.0; n],
        rows: Vec::with_capacity(nf),
        offs: Vec::with_capacity(nf),
        analytic: false,
    };
    let mut g = vec![0.0; nf];
    let mut col2 = vec![0.0; nf];
    let mut peg = vec![Peg::No; nf];
    // Moré's scale D^2: the running maximum of the squared column norms.
    let mut d2 = vec![0.0_f64; nf];
    let mut active = Vec::with_capacity(nf);
    let mut a = vec![0.0; nf * nf];
    let mut m = vec![0.0; nf * nf];
    let mut dx = vec![0.0; nf];

    let mut lambda = opts.initial_lambda;
    let mut nu = 2.0;
    let mut iterations = 0;
    let mut jac_current = false;
    let status = 'outer: loop {
        if iterations >= opts.max_iter {
            break Stop::MaxIter;
        }
        if chi2 == 0.0 {
            break Stop::Gtol;
        }
        iterations += 1;
        n_eval += jacobian(model, params, &free, &ties, &p, &r, opts, &mut w)?;
        jac_current = true;
        gradient(
            w.columns(),
            &w.offs,
            &w.rows,
            &r,
            &free,
            params,
            &p,
            &mut g,
            &mut col2,
            &mut peg,
        );
        active.clear();
        active.extend((0..nf).filter(|&c| peg[c] == Peg::No));
        if active.is_empty() {
            break Stop::Gtol;
        }
        let fnorm = chi2.sqrt();
        let gmax = active
            .iter()
            .filter(|&&c| col2[c] > 0.0)
            .map(|&c| g[c].abs() / (col2[c].sqrt() * fnorm))
            .fold(0.0, f64::max);
        if gmax <= opts.gtol {
            break Stop::Gtol;
        }
        for c in 0..nf {
            d2[c] = d2[c].max(col2[c]);
        }
        let mut na = active.len();
        normal_matrix(w.columns(), &w.offs, &w.rows, n, &active, &mut a[..na * na]);
        let xnorm = free
            .iter()
            .zip(&d2)
            .map(|(&k, d)| d * p[k] * p[k])
            .sum::<f64>()
            .sqrt();

        loop {
            // The damped system; a parameter without any effect (zero
            // column) is damped with D = 1 so the step stays defined.
            let mm = &mut m[..na * na];
            mm.copy_from_slice(&a[..na * na]);
            for (i, &c) in active.iter().enumerate() {
                let dd = if d2[c] > 0.0 { d2[c] } else { 1.0 };
                mm[i * na + i] += lambda * dd;
            }
            if cholesky_factor(mm, na, 0.0).is_err() {
                lambda *= nu;
                nu *= 2.0;
                if !(lambda < 1e300) {
                    break 'outer Stop::Xtol;
                }
                continue;
            }
            let step = &mut dx[..na];
            for (s, &c) in step.iter_mut().zip(&active) {
                *s = -g[c];
            }
            cholesky_solve_in_place(mm, na, step);

            // A parameter on a bound that the step would push out is held
            // there for this iteration (MPFIT clamps such a step component
            // to zero; here the others are solved again without it, so the
            // step stays the damped Gauss-Newton one of the rest). The
            // gradient test alone does not catch it: through the
            // correlations the step can point out while the gradient
            // points in.
            let mut dropped = false;
            for (i, &c) in active.iter().enumerate() {
                let k = free[c];
                if step[i] < 0.0 && p[k] <= params[k].lower {
                    peg[c] = Peg::Lower;
                    dropped = true;
                } else if step[i] > 0.0 && p[k] >= params[k].upper {
                    peg[c] = Peg::Upper;
                    dropped = true;
                }
            }
            if dropped {
                active.retain(|&c| peg[c] == Peg::No);
                if active.is_empty() {
                    break 'outer Stop::Gtol;
                }
                na = active.len();
                normal_matrix(w.columns(), &w.offs, &w.rows, n, &active, &mut a[..na * na]);
                continue;
            }

            // Shorten the step as a whole to stay in the box (MPFIT).
            let mut alpha: f64 = 1.0;
            let mut stopper = None;
            for (i, &c) in active.iter().enumerate() {
                let k = free[c];
                let (lo, hi) = (params[k].lower, params[k].upper);
                let frac = if step[i] < 0.0 {
                    (lo - p[k]) / step[i]
                } else if step[i] > 0.0 {
                    (hi - p[k]) / step[i]
                } else {
                    f64::INFINITY
                };
                if frac < alpha {
                    alpha = frac.max(0.0);
                    stopper = Some(i);
                }
            }
            w.p_try.copy_from_slice(&p);
            let mut snorm2 = 0.0;
            for (i, &c) in active.iter().enumerate() {
                let k = free[c];
                let s = alpha * step[i];
                snorm2 += d2[c] * s * s;
                w.p_try[k] = (p[k] + s).clamp(params[k].lower, params[k].upper);
            }
            if let Some(i) = stopper {
                let k = free[active[i]];
                w.p_try[k] = if step[i] < 0.0 {
                    params[k].lower
                } else {
                    params[k].upper
                };
            }
            apply_ties(&mut w.p_try, &ties);
            model.residuals(&w.p_try, &mut w.r_try);
            n_eval += 1;
            let chi2_try = if w.r_try.iter().all(|v| v.is_finite()) {
                dot(&w.r_try, &w.r_try)
            } else {
                f64::NAN
            };

            // Predicted reduction of the linear model along alpha * step:
            // -(2 alpha g.dx + alpha^2 dx^T A dx).
            let mut g_dx = 0.0;
            let mut dx_a_dx = 0.0;
            for (i, &c) in active.iter().enumerate() {
                g_dx += g[c] * step[i];
                dx_a_dx += step[i] * dot(&a[i * na..(i + 1) * na], step);
            }
            let pred = -(2.0 * alpha * g_dx + alpha * alpha * dx_a_dx);
            let actual = chi2 - chi2_try;
            let rel_pred = pred / chi2;
            let rel_actual = actual / chi2;
            let small_step = snorm2.sqrt() <= opts.xtol * xnorm;

            if actual > 0.0 {
                let rho = actual / pred;
                std::mem::swap(&mut p, &mut w.p_try);
                std::mem::swap(&mut r, &mut w.r_try);
                chi2 = chi2_try;
                jac_current = false;
                lambda *= (1.0 - (2.0 * rho - 1.0).powi(3)).max(1.0 / 3.0);
                nu = 2.0;
                if rel_actual.abs() <= opts.ftol && rel_pred <= opts.ftol && rho <= 2.0 {
                    break 'outer Stop::Ftol;
                }
                if small_step {
                    break 'outer Stop::Xtol;
                }
                continue 'outer;
            }
            // Rejected (worse, or not finite): nothing left to gain when
            // even the prediction is below ftol or the step below xtol.
            if rel_pred <= opts.ftol && rel_actual.abs() <= opts.ftol {
                break 'outer Stop::Ftol;
            }
            if small_step {
                break 'outer Stop::Xtol;
            }
            lambda *= nu;
            nu *= 2.0;
            if !(lambda < 1e300) {
                break 'outer Stop::Xtol;
            }
        }
    };

    // The covariance at the solution.
    if !jac_current {
        n_eval += jacobian(model, params, &free, &ties, &p, &r, opts, &mut w)?;
    }
    gradient(
        w.columns(),
        &w.offs,
        &w.rows,
        &r,
        &free,
        params,
        &p,
        &mut g,
        &mut col2,
        &mut peg,
    );
    active.clear();
    active.extend((0..nf).filter(|&c| peg[c] == Peg::No));
    let mut covariance = vec![0.0; nf * nf];
    let mut errors = vec![0.0; np];
    let mut dropped: Vec<usize> = Vec::new();
    loop {
        let na = active.len();
        if na == 0 {
            break;
        }
        normal_matrix(w.columns(), &w.offs, &w.rows, n, &active, &mut a[..na * na]);
        // Factor the correlation form A_ij / sqrt(A_ii A_jj), so that the
        // singularity test does not depend on the parameters' units: a
        // pivot below 1e-14 means a condition number past ~1e14.
        let s: Vec<f64> = active.iter().map(|&c| col2[c].sqrt()).collect();
        if let Some(i) = s.iter().position(|&v| !(v > 0.0)) {
            if opts.drop_degenerate {
                dropped.push(free[active[i]]);
                active.remove(i);
                continue;
            }
            return Err(LmError::Singular {
                index: free[active[i]],
            });
        }
        let corr = &mut m[..na * na];
        for i in 0..na {
            for j in 0..na {
                corr[i * na + j] = a[i * na + j] / (s[i] * s[j]);
            }
        }
        if let Err(j) = cholesky_factor(corr, na, 1e-14) {
            if opts.drop_degenerate {
                dropped.push(free[active[j]]);
                active.remove(j);
                continue;
            }
            return Err(LmError::Singular {
                index: free[active[j]],
            });
        }
        let mut e = vec![0.0; na];
        for j in 0..na {
            e.iter_mut().for_each(|v| *v = 0.0);
            e[j] = 1.0;
            cholesky_solve_in_place(corr, na, &mut e);
            for i in 0..na {
                covariance[active[i] * nf + active[j]] = e[i] / (s[i] * s[j]);
            }
        }
        for &c in &active {
            errors[free[c]] = covariance[c * nf + c].sqrt();
        }
        break;
    }
    for &k in &dropped {
        errors[k] = f64::NAN;
    }
    for t in &ties {
        errors[t.index] = t.scale.abs() * errors[t.to];
    }
    let mut pegged = vec![Peg::No; np];
    for (c, &k) in free.iter().enumerate() {
        pegged[k] = peg[c];
    }
    Ok(LmFit {
        params: p,
        errors,
        chi2,
        n_residuals: n,
        free,
        dof: n - nf,
        iterations,
        n_evaluations: n_eval,
        status,
        pegged,
        covariance,
    })
}
