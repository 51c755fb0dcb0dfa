//! Polynomial baselines fitted in line-free windows, with the order given or
//! chosen by the Bayesian information criterion.

// `!(x > 0.0)` is meant: it also rejects NaN, which `x <= 0.0` would let through.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::gauss::{noise_rms, solve_spd};

/// Baseline errors.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum BaselineError {
    /// Axis and spectrum lengths differ.
    #[error("axis has {axis} channels but the spectrum has {values}")]
    LengthMismatch { axis: usize, values: usize },
    /// Too few finite channels inside the windows for the order.
    #[error(
        "only {available} finite channels in the line-free windows {windows}; \
             a polynomial of order {order} needs at least {needed}"
    )]
    TooFewChannels {
        available: usize,
        needed: usize,
        order: usize,
        windows: String,
    },
}

/// How the polynomial order is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Fixed(usize),
    /// The order in `0..=max` with the lowest BIC.
    Auto {
        max: usize,
    },
}

/// A fitted baseline: a polynomial in the scaled axis (x - centre) / half-width.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub order: usize,
    pub coeffs: Vec<f64>,
    centre: f64,
    half_width: f64,
    /// Rms of the windowed channels about the polynomial.
    pub rms: f64,
    /// Channels used.
    pub n_used: usize,
}

impl Baseline {
    /// The baseline at axis value `x`.
    pub fn eval(&self, x: f64) -> f64 {
        let u = (x - self.centre) / self.half_width;
        self.coeffs.iter().rev().fold(0.0, |acc, c| acc * u + c)
    }
    /// `y - baseline(x)` for every channel.
    pub fn subtract(&self, x: &[f64], y: &[f64]) -> Vec<f64> {
        x.iter().zip(y).map(|(&a, &b)| b - self.eval(a)).collect()
    }
}

fn polyfit(u: &[f64], y: &[f64], order: usize) -> Option<(Vec<f64>, f64)> {
    let k = order + 1;
    let mut a = vec![vec![0.0; k]; k];
    let mut b = vec![0.0; k];
    let mut pw = vec![0.0; k];
    for (&x, &v) in u.iter().zip(y) {
        let mut p = 1.0;
        for slot in pw.iter_mut() {
            *slot = p;
            p *= x;
        }
        for i in 0..k {
            b[i] += pw[i] * v;
            for j in 0..k {
                a[i][j] += pw[i] * pw[j];
            }
        }
    }
    let c = solve_spd(&a, &b)?;
    let rss = u
        .iter()
        .zip(y)
        .map(|(&x, &v)| {
            let m = c.iter().rev().fold(0.0, |acc, cc| acc * x + cc);
            (v - m) * (v - m)
        })
        .sum();
    Some((c, rss))
}

/// Fits a polynomial baseline to the channels whose axis value lies in one
/// of `windows` (inclusive ranges, any order of the ends). An empty
/// `windows` uses every finite channel.
pub fn fit_baseline(
    x: &[f64],
    y: &[f64],
    windows: &[(f64, f64)],
    order: Order,
) -> Result<Baseline, BaselineError> {
    if x.len() != y.len() {
        return Err(BaselineError::LengthMismatch {
            axis: x.len(),
            values: y.len(),
        });
    }
    let inside =
        |v: f64| windows.is_empty() || windows.iter().any(|&(a, b)| v >= a.min(b) && v <= a.max(b));
    let (xs, ys): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite() && inside(**a))
        .map(|(a, b)| (*a, *b))
        .unzip();
    let (lo, hi) = x
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let centre = 0.5 * (lo + hi);
    let half_width = (0.5 * (hi - lo)).max(1e-300);
    let u: Vec<f64> = xs.iter().map(|v| (v - centre) / half_width).collect();
    let orders: Vec<usize> = match order {
        Order::Fixed(o) => vec![o],
        Order::Auto { max } => (0..=max).collect(),
    };
    let too_few = |o: usize| BaselineError::TooFewChannels {
        available: u.len(),
        needed: o + 2,
        order: o,
        windows: format!("{windows:?}"),
    };
    let n = u.len() as f64;
    let mut best: Option<(f64, usize, Vec<f64>, f64)> = None;
    for o in orders {
        if u.len() < o + 2 {
            if best.is_none() && matches!(order, Order::Fixed(_)) {
                return Err(too_few(o));
            }
            break;
        }
        let Some((c, rss)) = polyfit(&u, &ys, o) else {
            continue;
        };
        let bic = n * (rss.max(1e-300) / n).ln() + (o + 1) as f64 * n.ln();
        if best.as_ref().is_none_or(|b| bic < b.0) {
            best = Some((bic, o, c, rss));
        }
    }
    let (_, o, coeffs, rss) = best.ok_or_else(|| too_few(0))?;
    Ok(Baseline {
        order: o,
        coeffs,
        centre,
        half_width,
        rms: (rss / n).sqrt(),
        n_used: u.len(),
    })
}

/// A baseline without given windows: fits all channels, then repeatedly
/// masks channels more than `clip` noise-rms above the fit (the line, grown
/// by `grow` channels each side) and refits, until the mask settles.
pub fn fit_baseline_auto(
    x: &[f64],
    y: &[f64],
    order: Order,
    clip: f64,
    grow: usize,
) -> Result<(Baseline, Vec<bool>), BaselineError> {
    if x.len() != y.len() {
        return Err(BaselineError::LengthMismatch {
            axis: x.len(),
            values: y.len(),
        });
    }
    let noise = noise_rms(y);
    let mut free: Vec<bool> = y.iter().map(|v| v.is_finite()).collect();
    for _ in 0..20 {
        let xs: Vec<f64> = x
            .iter()
            .zip(&free)
            .map(|(&v, &f)| if f { v } else { f64::NAN })
            .collect();
        let b = fit_baseline(&xs, y, &[], order)?;
        let r = b.subtract(x, y);
        let mut line = vec![false; y.len()];
        for (i, v) in r.iter().enumerate() {
            if v.is_finite() && *v > clip * noise {
                let lo = i.saturating_sub(grow);
                let hi = (i + grow).min(y.len() - 1);
                line[lo..=hi].iter_mut().for_each(|l| *l = true);
            }
        }
        let new: Vec<bool> = y
            .iter()
            .zip(&line)
            .map(|(v, l)| v.is_finite() && !l)
            .collect();
        let settled = new == free;
        free = new;
        if settled {
            break;
        }
    }
    let xs: Vec<f64> = x
        .iter()
        .zip(&free)
        .map(|(&v, &f)| if f { v } else { f64::NAN })
        .collect();
    let b = fit_baseline(&xs, y, &[], order)?;
    Ok((b, free))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_recover_a_quadratic_under_a_line() {
        let x: Vec<f64> = (0..200).map(|i| -100.0 + i as f64).collect();
        // Deterministic noise-like ripple, 0.01 rms: BIC needs a noise floor.
        let y: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let noise = 0.035 * (((i * 7919) % 97) as f64 / 97.0 - 0.5);
                1.0 + 0.01 * v - 2e-4 * v * v + 20.0 * (-(v / 8.0).powi(2)).exp() + noise
            })
            .collect();
        let b = fit_baseline(
            &x,
            &y,
            &[(-100.0, -40.0), (40.0, 99.0)],
            Order::Auto { max: 4 },
        )
        .unwrap();
        assert_eq!(b.order, 2);
        assert!((b.eval(0.0) - 1.0).abs() < 0.01, "{}", b.eval(0.0));
        let (a, free) = fit_baseline_auto(&x, &y, Order::Fixed(2), 3.0, 3).unwrap();
        assert!(!free[100] && free[0]);
        assert!((a.eval(0.0) - 1.0).abs() < 0.01, "{}", a.eval(0.0));
    }
}
