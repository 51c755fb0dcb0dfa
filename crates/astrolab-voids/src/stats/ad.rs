//! k-sample Anderson-Darling test (Scholz & Stephens 1987, JASA 82, 918),
//! as `scipy.stats.anderson_ksamp(samples, midrank=True)`.
//!
//! Statistic: `A2akN` of their eq. (7) (midranks, valid with ties), then
//! standardised, `T = (A2akN - (k - 1)) / sigma_N` with `sigma_N^2` from
//! their eq. (4)-(5) (finite-sample variance).
//!
//! p-value: Scholz & Stephens tabulate the critical values of `T` for the
//! significance levels 0.25, 0.10, 0.05, 0.025, 0.01, 0.005, 0.001 as
//! `b0 + b1 / sqrt(k-1) + b2 / (k-1)` (their Table 2, extended by scipy).
//! As scipy, the p-value is `exp` of the least-squares quadratic in the
//! critical value fitted to `ln(level)`, evaluated at `T`, and it is
//! **capped**: a `T` below the 0.25 critical value reports
//! [`AD_PVALUE_CEILING`] (0.25, "at least 0.25") and one above the 0.001
//! critical value reports [`AD_PVALUE_FLOOR`] (0.001, "at most 0.001").
//! `capped` in the result says which.

use super::{check_finite, sorted, StatsError};

/// The largest p-value reported (the true value is at least this).
pub const AD_PVALUE_CEILING: f64 = 0.25;
/// The smallest p-value reported (the true value is at most this).
pub const AD_PVALUE_FLOOR: f64 = 0.001;

const SIG: [f64; 7] = [0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001];
const B0: [f64; 7] = [0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085];
const B1: [f64; 7] = [-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615];
const B2: [f64; 7] = [-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154];

/// Whether a p-value hit the ends of the interpolation table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PvalueCap {
    /// Interpolated inside the table.
    None,
    /// True p-value >= 0.25.
    Ceiling,
    /// True p-value <= 0.001.
    Floor,
}

/// Result of [`anderson_ksamp`].
#[derive(Debug, Clone, PartialEq)]
pub struct AndersonKSample {
    /// Standardised statistic `T` (scipy's `statistic`).
    pub statistic: f64,
    /// Critical values of `T` at 25, 10, 5, 2.5, 1, 0.5, 0.1 %.
    pub critical_values: [f64; 7],
    /// Interpolated p-value, within [0.001, 0.25].
    pub pvalue: f64,
    /// Whether the p-value was capped.
    pub capped: PvalueCap,
}

/// The k-sample AD test on `samples` (k >= 2, each non-empty and finite,
/// at least two distinct values in all).
pub fn anderson_ksamp(samples: &[&[f64]]) -> Result<AndersonKSample, StatsError> {
    const T: &str = "Anderson-Darling test";
    let k = samples.len();
    if k < 2 {
        return Err(StatsError::Degenerate {
            test: T,
            message: format!("needs at least two samples, got {k}"),
        });
    }
    for (i, s) in samples.iter().enumerate() {
        check_finite(T, i, s)?;
    }
    let sorted_samples: Vec<Vec<f64>> = samples.iter().map(|s| sorted(s)).collect();
    let mut z: Vec<f64> = sorted_samples.iter().flatten().copied().collect();
    z.sort_by(f64::total_cmp);
    let n_total = z.len();
    let mut zstar = z.clone();
    zstar.dedup();
    if zstar.len() < 2 {
        return Err(StatsError::Degenerate {
            test: T,
            message: "needs more than one distinct value".into(),
        });
    }
    if n_total < 4 {
        return Err(StatsError::Degenerate {
            test: T,
            message: format!("needs at least 4 values in all for the variance, got {n_total}"),
        });
    }
    let nf = n_total as f64;
    // Per distinct value: l_j (multiplicity) and B_j = #(< z*_j) + l_j / 2.
    let mut lj = Vec::with_capacity(zstar.len());
    let mut bj = Vec::with_capacity(zstar.len());
    let mut pos = 0usize;
    for &v in &zstar {
        let start = pos;
        while pos < n_total && z[pos] <= v {
            pos += 1;
        }
        let l = (pos - start) as f64;
        lj.push(l);
        bj.push(start as f64 + l / 2.0);
    }
    let mut a2akn = 0.0;
    for s in &sorted_samples {
        let ni = s.len() as f64;
        let mut inner_sum = 0.0;
        let mut p = 0usize;
        for (j, &v) in zstar.iter().enumerate() {
            let start = p;
            while p < s.len() && s[p] <= v {
                p += 1;
            }
            let fij = (p - start) as f64;
            let mij = p as f64 - fij / 2.0;
            let num = nf * mij - bj[j] * ni;
            let den = bj[j] * (nf - bj[j]) - nf * lj[j] / 4.0;
            inner_sum += lj[j] / nf * num * num / den;
        }
        a2akn += inner_sum / ni;
    }
    a2akn *= (nf - 1.0) / nf;

    // Variance (Scholz & Stephens eq. 4-5).
    let hh: f64 = sorted_samples.iter().map(|s| 1.0 / s.len() as f64).sum();
    // hs_cs[i] = sum_{j = N-1 down to N-1-i} 1/j, i.e. partial sums of
    // 1/(N-1), 1/(N-2), ..., 1/2.
    let mut h_sum = 0.0;
    let mut g = 0.0;
    // scipy: hs_cs = cumsum(1 / arange(N-1, 1, -1)); h = hs_cs[-1] + 1;
    // g = sum(hs_cs / arange(2, N)).
    let mut cums = Vec::with_capacity(n_total.saturating_sub(2));
    for j in (2..n_total).rev() {
        h_sum += 1.0 / j as f64;
        cums.push(h_sum);
    }
    for (i, c) in cums.iter().enumerate() {
        g += c / (2 + i) as f64;
    }
    let h = h_sum + 1.0;
    let kf = k as f64;
    let a = (4.0 * g - 6.0) * (kf - 1.0) + (10.0 - 6.0 * g) * hh;
    let b = (2.0 * g - 4.0) * kf * kf + 8.0 * h * kf + (2.0 * g - 14.0 * h - 4.0) * hh - 8.0 * h
        + 4.0 * g
        - 6.0;
    let c = (6.0 * h + 2.0 * g - 2.0) * kf * kf
        + (4.0 * h - 4.0 * g + 6.0) * kf
        + (2.0 * h - 6.0) * hh
        + 4.0 * h;
    let d = (2.0 * h + 6.0) * kf * kf - 4.0 * h * kf;
    let sigmasq =
        (a * nf.powi(3) + b * nf * nf + c * nf + d) / ((nf - 1.0) * (nf - 2.0) * (nf - 3.0));
    let m = kf - 1.0;
    let t = (a2akn - m) / sigmasq.sqrt();

    let mut crit = [0.0; 7];
    for i in 0..7 {
        crit[i] = B0[i] + B1[i] / m.sqrt() + B2[i] / m;
    }
    let cmin = crit.iter().copied().fold(f64::INFINITY, f64::min);
    let cmax = crit.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (pvalue, capped) = if t < cmin {
        (AD_PVALUE_CEILING, PvalueCap::Ceiling)
    } else if t > cmax {
        (AD_PVALUE_FLOOR, PvalueCap::Floor)
    } else {
        let logs = SIG.map(f64::ln);
        let coef = quadratic_fit(&crit, &logs);
        (
            (coef[0] * t * t + coef[1] * t + coef[2]).exp(),
            PvalueCap::None,
        )
    };
    Ok(AndersonKSample {
        statistic: t,
        critical_values: crit,
        pvalue,
        capped,
    })
}

/// Least-squares `y ~ c0 x^2 + c1 x + c2` (numpy.polyfit(x, y, 2)), by the
/// normal equations on centred, scaled x (well conditioned for 7 points).
fn quadratic_fit(x: &[f64; 7], y: &[f64; 7]) -> [f64; 3] {
    let mean = x.iter().sum::<f64>() / 7.0;
    let scale = x
        .iter()
        .map(|v| (v - mean).abs())
        .fold(0.0, f64::max)
        .max(1e-300);
    let u: Vec<f64> = x.iter().map(|v| (v - mean) / scale).collect();
    // Normal equations for y ~ a u^2 + b u + c.
    let mut s = [0.0f64; 5];
    let mut t = [0.0f64; 3];
    for i in 0..7 {
        let mut p = 1.0;
        for sk in s.iter_mut() {
            *sk += p;
            p *= u[i];
        }
        t[0] += y[i];
        t[1] += y[i] * u[i];
        t[2] += y[i] * u[i] * u[i];
    }
    // Matrix rows for unknowns (c, b, a).
    let mut mtx = [
        [s[0], s[1], s[2], t[0]],
        [s[1], s[2], s[3], t[1]],
        [s[2], s[3], s[4], t[2]],
    ];
    for col in 0..3 {
        let piv = (col..3)
            .max_by(|&i, &j| mtx[i][col].abs().total_cmp(&mtx[j][col].abs()))
            .unwrap_or(col);
        mtx.swap(col, piv);
        for r in 0..3 {
            if r != col {
                let f = mtx[r][col] / mtx[col][col];
                let pivot_row = mtx[col];
                for (dst, src) in mtx[r].iter_mut().zip(pivot_row).skip(col) {
                    *dst -= f * src;
                }
            }
        }
    }
    let c = mtx[0][3] / mtx[0][0];
    let b = mtx[1][3] / mtx[1][1];
    let a = mtx[2][3] / mtx[2][2];
    // Back to x: a ((x - mean)/s)^2 + b (x - mean)/s + c.
    let a_x = a / (scale * scale);
    let b_x = b / scale - 2.0 * a * mean / (scale * scale);
    let c_x = a * mean * mean / (scale * scale) - b * mean / scale + c;
    [a_x, b_x, c_x]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadratic_fit_recovers_a_parabola() {
        let x = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5];
        let y = x.map(|v| 2.0 * v * v - 3.0 * v + 0.5);
        let c = quadratic_fit(&x, &y);
        assert!(
            (c[0] - 2.0).abs() < 1e-12 && (c[1] + 3.0).abs() < 1e-12 && (c[2] - 0.5).abs() < 1e-12,
            "{c:?}"
        );
    }

    #[test]
    fn shifted_samples_are_significant_and_capped() {
        let a: Vec<f64> = (0..200).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..200).map(|i| i as f64 + 150.0).collect();
        let r = anderson_ksamp(&[&a, &b]).unwrap();
        assert_eq!(r.capped, PvalueCap::Floor);
        assert_eq!(r.pvalue, AD_PVALUE_FLOOR);
        assert!(anderson_ksamp(&[&a]).is_err());
        assert!(anderson_ksamp(&[&[1.0, 1.0], &[1.0, 1.0]]).is_err());
    }
}
