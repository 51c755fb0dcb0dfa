//! Two-sample Kolmogorov-Smirnov test (two-sided), computed as
//! `scipy.stats.ks_2samp(a, b, method="auto")` does.
//!
//! Statistic: `D = max_x |F_a(x) - F_b(x)|` over the pooled values (right-
//! continuous empirical CDFs, so ties are handled exactly).
//!
//! p-value, `method = Auto`: exact when `max(n_a, n_b) <= 10 000`,
//! asymptotic otherwise (scipy's rule).
//! - Exact: the fraction of lattice paths from (0, 0) to (n_a, n_b) that
//!   leave the band `|x/n_a - y/n_b| < D` (Hodges 1958, Ark. Mat. 3, 469,
//!   the "inside" method; computed as `1 - p` directly with per-column
//!   normalisation, Viehmann 2021, arXiv:2102.08037), and for `n_a = n_b`
//!   the closed alternating binomial sum (Gnedenko-Korolyuk) in Horner form.
//!   As in scipy, `D` is first rounded to the lattice `h / lcm(n_a, n_b)`.
//!   When the exact recursion fails numerically the asymptotic form is used.
//! - Asymptotic: `P(D_n >= D)` of the one-sample Kolmogorov distribution
//!   with `n = round(n_a n_b / (n_a + n_b))`, as scipy's `kstwo.sf`, after
//!   Simard & L'Ecuyer 2011 (J. Stat. Softw. 39, 11): Ruben-Gambino closed
//!   forms at the ends, `2 * smirnov(n, D)` (exact Birnbaum-Tingey sum,
//!   summed in logarithms) when `n D^2 >= 2.2` or `D >= 0.5`, the Durbin
//!   matrix (Marsaglia, Tsang & Wang 2003, J. Stat. Softw. 8, 18) where
//!   `n <= 100 000` and `n D^1.5 <= 1.4` (and for every other case with
//!   `n <= 140`), and the Pelz-Good series (Pelz & Good 1976, JRSS B 38,
//!   152) otherwise.
//!
//! Precision (checked against scipy 1.17 in `tests/stats_scipy.rs`): the
//! statistic to 1e-12 relative; exact p-values to 1e-9 relative; asymptotic
//! p-values to 1e-6 relative (scipy uses Pomeranz's recursion for
//! `n <= 140`, `0.75 < n D^2 <= 4`, where we use the Durbin matrix: both
//! are exact algorithms, they differ by rounding only).

use super::{check_finite, sorted, StatsError};

/// How the p-value is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KsMethod {
    /// Exact for `max(n) <= 10 000`, asymptotic above (scipy's `auto`).
    Auto,
    /// The exact lattice-path probability.
    Exact,
    /// The Kolmogorov distribution at the effective sample size.
    Asymptotic,
}

/// Result of [`ks_2samp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsTwoSample {
    /// `D`, the largest distance between the two empirical CDFs.
    pub statistic: f64,
    /// Two-sided p-value.
    pub pvalue: f64,
    /// The method used (never `Auto`).
    pub method: KsMethod,
}

/// scipy's `MAX_AUTO_N`.
const MAX_AUTO_N: usize = 10_000;

/// Two-sided two-sample KS test. Non-finite values are an error (drop them
/// first: a NaN has no place in an empirical CDF).
pub fn ks_2samp(a: &[f64], b: &[f64], method: KsMethod) -> Result<KsTwoSample, StatsError> {
    check_finite("KS test", 0, a)?;
    check_finite("KS test", 1, b)?;
    let (sa, sb) = (sorted(a), sorted(b));
    let (n1, n2) = (sa.len(), sb.len());
    let d = ks_statistic_sorted(&sa, &sb);
    let mut mode = match method {
        KsMethod::Auto if n1.max(n2) <= MAX_AUTO_N => KsMethod::Exact,
        KsMethod::Auto => KsMethod::Asymptotic,
        m => m,
    };
    if mode == KsMethod::Exact {
        if let Some((d_lattice, p)) = exact_pvalue(n1, n2, d) {
            return Ok(KsTwoSample {
                statistic: d_lattice,
                pvalue: p.clamp(0.0, 1.0),
                method: KsMethod::Exact,
            });
        }
        mode = KsMethod::Asymptotic;
    }
    debug_assert_eq!(mode, KsMethod::Asymptotic);
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = (m * n / (m + n)).round();
    Ok(KsTwoSample {
        statistic: d,
        pvalue: kolmogorov_sf(en as u64, d).clamp(0.0, 1.0),
        method: KsMethod::Asymptotic,
    })
}

/// `max |F_a - F_b|` over the pooled values, both inputs sorted.
fn ks_statistic_sorted(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut d: f64 = 0.0;
    while i < a.len() || j < b.len() {
        // The next distinct value; both CDFs jump past all its copies.
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        let diff = i as f64 / n1 - j as f64 / n2;
        d = d.max(diff.abs());
    }
    d.min(1.0)
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Exact two-sided p-value, or None when the recursion is unusable.
fn exact_pvalue(n1: usize, n2: usize, d: f64) -> Option<(f64, f64)> {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) as f64 * n2 as f64;
    let h = (d * lcm).round();
    let d = h / lcm;
    if h == 0.0 {
        return Some((d, 1.0));
    }
    let h = h as u64;
    let p = if n1 == n2 {
        prob_outside_square(n1 as u64, h)
    } else {
        outer_prob_inside(n1 as u64, n2 as u64, g as u64, h)
    };
    (p.is_finite() && (0.0..=1.0).contains(&p)).then_some((d, p))
}

/// `P(D_{n,n} >= h/n) = 2 sum_k (-1)^(k+1) C(2n, n - k h) / C(2n, n)`,
/// evaluated as nested products (no cancellation between huge terms).
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let mut p = 0.0;
    let mut k = (n / h) as i64;
    while k >= 0 {
        let ku = k as u64;
        let mut p1 = 1.0;
        for j in 0..h {
            let num = n as f64 - (ku * h + j) as f64;
            let den = (n + ku * h + j + 1) as f64;
            p1 = num * p1 / den;
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// Proportion of lattice paths from (0,0) to (m,n) that touch the band
/// edge `|n x / g - m y / g| >= h`, by the column recursion of the inside
/// method written for `1 - p` (Viehmann 2021, eq. 3): each column holds the
/// probability that a path through that point has already left the band.
fn outer_prob_inside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let mg = m / g;
    let ng = n / g;
    let (m, n, mg, ng, h) = (m as i64, n as i64, mg as i64, ng as i64, h as i64);
    let ceil_div = |a: i64, b: i64| (a + b - 1).div_euclid(b);
    let mut minj: i64 = 0;
    let mut maxj: i64 = ceil_div(h, mg).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a.max(1)];
    for v in a.iter_mut().take(maxj as usize) {
        *v = 0.0;
    }
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        minj = ((ng * i - h).div_euclid(mg) + 1).max(0).min(n);
        maxj = ceil_div(ng * i + h, mg).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            let prev = a[(jj + minj - lastminj) as usize];
            val = (prev * i as f64 + val * j as f64) / (i + j) as f64;
            a[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            for v in a
                .iter_mut()
                .skip(curlen as usize)
                .take((lastlen - curlen) as usize)
            {
                *v = 1.0;
            }
        }
    }
    a[(maxj - minj - 1) as usize]
}

/// `ln(n! / n^n)`: exact sum of logs for small n, Stirling's series above.
fn ln_nfact_over_npow(n: u64) -> f64 {
    if n <= 200 {
        let nf = n as f64;
        return (1..=n).map(|i| (i as f64 / nf).ln()).sum();
    }
    // ln n! - n ln n = ln(2 pi n)/2 - n + 1/(12n) - 1/(360 n^3) + 1/(1260 n^5)
    let x = n as f64;
    0.5 * (2.0 * std::f64::consts::PI * x).ln() - x + 1.0 / (12.0 * x) - 1.0 / (360.0 * x.powi(3))
        + 1.0 / (1260.0 * x.powi(5))
}

/// `P(D_n >= x)` for the one-sample two-sided Kolmogorov statistic
/// (scipy's `kstwo.sf(x, n)`), by Simard & L'Ecuyer's choice of method.
pub fn kolmogorov_sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        // Ruben-Gambino: P(D_n < x) = n!/n^n (2t - 1)^n.
        let cdf = (ln_nfact_over_npow(n) + nf * (2.0 * t - 1.0).ln()).exp();
        return 1.0 - cdf;
    }
    if t >= nf - 1.0 {
        return 2.0 * (1.0 - x).powf(nf);
    }
    if x >= 0.5 {
        return 2.0 * smirnov_sf(n, x);
    }
    let nxx = t * x;
    if n <= 140 {
        if nxx <= 4.0 {
            return 1.0 - durbin_cdf(n, x);
        }
        return 2.0 * smirnov_sf(n, x);
    }
    if nxx >= 370.0 {
        return 0.0;
    }
    if nxx >= 2.2 {
        return 2.0 * smirnov_sf(n, x);
    }
    if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        1.0 - durbin_cdf(n, x)
    } else {
        1.0 - pelz_good_cdf(n, x)
    }
}

/// One-sided `P(D+_n >= e)`, Birnbaum & Tingey 1951 (Ann. Math. Stat. 22,
/// 592): `e sum_{j=0}^{floor(n(1-e))} C(n,j) (1-e-j/n)^(n-j) (e+j/n)^(j-1)`.
/// Every term is positive, so summing them in logarithms is stable for any n.
pub fn smirnov_sf(n: u64, e: f64) -> f64 {
    if e <= 0.0 {
        return 1.0;
    }
    if e >= 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let jmax = (nf * (1.0 - e)).floor() as u64;
    let mut ln_binom = 0.0f64;
    let mut terms: Vec<f64> = Vec::with_capacity(jmax as usize + 1);
    for j in 0..=jmax {
        if j > 0 {
            ln_binom += ((n - j + 1) as f64).ln() - (j as f64).ln();
        }
        let jf = j as f64;
        let a = 1.0 - e - jf / nf;
        if a <= 0.0 {
            continue;
        }
        let b = e + jf / nf;
        terms.push(ln_binom + (nf - jf) * a.ln() + (jf - 1.0) * b.ln());
    }
    let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !top.is_finite() {
        return 0.0;
    }
    let s: f64 = terms.iter().map(|t| (t - top).exp()).sum();
    (e.ln() + top + s.ln()).exp()
}

/// `P(D_n < d)` by Durbin's matrix (Marsaglia, Tsang & Wang 2003): with
/// `d = (k - h)/n`, the (k, k) element of `H^n` times `n!/n^n`, where H is
/// the m x m matrix (m = 2k - 1) of their eq. (2); powers are rescaled by
/// powers of two to stay in range.
fn durbin_cdf(n: u64, d: f64) -> f64 {
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    // w[j] = 1/j!, v[j] = (1 - h^(j+1)) / (j+1)!.
    let mut w = vec![0.0; m];
    let mut v = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] = (1.0 - h.powi(j as i32)) * fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;
    let mut hm = vec![0.0; m * m];
    for i in 1..m {
        for r in (i - 1)..m {
            hm[r * m + i] = w[r - (i - 1)];
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
    }
    for c in 0..m {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }
    let matmul = |a: &[f64], b: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; m * m];
        for i in 0..m {
            for l in 0..m {
                let x = a[i * m + l];
                if x == 0.0 {
                    continue;
                }
                for j in 0..m {
                    out[i * m + j] += x * b[l * m + j];
                }
            }
        }
        out
    };
    let mut pw = vec![0.0; m * m];
    for i in 0..m {
        pw[i * m + i] = 1.0;
    }
    const E: i32 = 128;
    let big = 2f64.powi(E);
    let (mut expnt, mut hexp): (i64, i64) = (0, 0);
    let mut nn = n;
    while nn > 0 {
        if nn % 2 == 1 {
            pw = matmul(&pw, &hm);
            expnt += hexp;
        }
        hm = matmul(&hm, &hm);
        hexp *= 2;
        if hm[(k - 1) * m + (k - 1)].abs() > big {
            for x in hm.iter_mut() {
                *x /= big;
            }
            hexp += E as i64;
        }
        nn /= 2;
    }
    let mut p = pw[(k - 1) * m + (k - 1)];
    let nf = n as f64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < 1.0 / big {
            p *= big;
            expnt -= E as i64;
        }
    }
    let p = if expnt != 0 {
        p * 2f64.powf(expnt as f64)
    } else {
        p
    };
    p.clamp(0.0, 1.0)
}

/// Pelz-Good approximation of `P(D_n <= x)`: the Li-Chien/Korolyuk series
/// `K0 + K1/sqrt(n) + K2/n + K3/n^1.5` in `z = x sqrt(n)`, each term
/// rewritten with Jacobi theta identities for fast convergence at small z.
fn pelz_good_cdf(n: u64, x: f64) -> f64 {
    use std::f64::consts::PI;
    let pi2 = PI * PI;
    let pi4 = pi2 * pi2;
    let pi6 = pi4 * pi2;
    let sqrt2pi = (2.0 * PI).sqrt();
    let z = (n as f64).sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -pi2 / 8.0 / z2;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut kk = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil().max(1.0) as i64;
    for k in (1..=maxk).rev() {
        let mo = (2 * k - 1) as f64;
        let (m2, m4, m6) = (mo * mo, mo.powi(4), mo.powi(6));
        let qp = q.powf(8.0 * k as f64);
        let c = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for i in 0..4 {
            kk[i] = kk[i] * qp + c[i];
        }
    }
    let div = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for i in 0..4 {
        kk[i] *= q * sqrt2pi / div[i];
    }
    let q2 = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut e2, mut e3) = (0.0, 0.0);
    for k in (1..=maxk).rev() {
        let kf = k as f64;
        let qp = q2.powf(kf * kf);
        e2 += kf * kf * qp;
        let kp = PI * kf;
        e3 += (sqrt3z + kp) * (sqrt3z - kp) * kf * kf * qp;
    }
    kk[2] += e2 * pi2 * sqrt2pi / (-36.0 * z3);
    kk[3] += e3 * pi2 * sqrt2pi / (216.0 * z6);
    let nf = n as f64;
    kk[0] + kk[1] / nf.sqrt() + kk[2] / nf + kk[3] / nf.powf(1.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_give_zero_and_one() {
        let a = [1.0, 2.0, 3.0];
        let r = ks_2samp(&a, &a, KsMethod::Auto).unwrap();
        assert_eq!(r.statistic, 0.0);
        assert_eq!(r.pvalue, 1.0);
    }

    #[test]
    fn disjoint_samples_equal_sizes_exact() {
        // D = 1, n = m = 3: p = 2 / C(6, 3) = 0.1.
        let r = ks_2samp(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], KsMethod::Exact).unwrap();
        assert_eq!(r.statistic, 1.0);
        assert!((r.pvalue - 0.1).abs() < 1e-15, "{}", r.pvalue);
        // Unequal sizes through the band recursion: 2 / C(5, 2) = 0.2.
        let r = ks_2samp(&[1.0, 2.0], &[4.0, 5.0, 6.0], KsMethod::Exact).unwrap();
        assert!((r.pvalue - 0.2).abs() < 1e-15, "{}", r.pvalue);
    }

    #[test]
    fn nan_is_refused() {
        assert!(matches!(
            ks_2samp(&[1.0, f64::NAN], &[1.0], KsMethod::Auto),
            Err(StatsError::NonFinite { position: 1, .. })
        ));
        assert!(ks_2samp(&[], &[1.0], KsMethod::Auto).is_err());
    }

    #[test]
    fn kolmogorov_methods_agree_where_they_overlap() {
        // Durbin (exact) and Pelz-Good (asymptotic) at n = 2000.
        for x in [0.02, 0.025, 0.03] {
            let a = 1.0 - durbin_cdf(2000, x);
            let b = 1.0 - pelz_good_cdf(2000, x);
            assert!((a - b).abs() < 1e-6, "x={x}: {a} vs {b}");
        }
    }
}
