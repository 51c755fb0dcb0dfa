//! Research aid for issue 17: which residual statistic separates the
//! benchmark's rarities best? Reads every confident quasar of a store,
//! reconstructs it with a trained model, and prints the ROC AUC (overall
//! and per rarity class) of several candidate statistics against the
//! benchmark's truth file.
//!
//! ```text
//! cargo run --release -p astrolab-pipeline --example anomaly_variants -- HOME MODEL_DIR spectra_truth.json
//! ```
//!
//! With `VARIANTS_CSV=FILE` it also writes every statistic of every
//! spectrum (by TARGETID) to FILE, for trying combinations elsewhere.

use std::collections::HashMap;

use astrolab_anomaly::calibrate::roc_auc;
use astrolab_anomaly::model::observed;
use astrolab_anomaly::preprocess::Preprocessor;
use astrolab_anomaly::CpuBackend;
use astrolab_pipeline::anomalies::read::read_rest_frame;
use astrolab_pipeline::anomalies::ModelDir;
use astrolab_store::{Store, StoreConfig};

/// One spectrum: flux, ivar, reconstruction, forest score.
type Kept = (Vec<f32>, Vec<f32>, Vec<f32>, f64);

/// The inverse of a small square matrix by Gauss-Jordan elimination with
/// partial pivoting; `None` when it is singular.
fn invert(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let p = a.len();
    let mut m: Vec<Vec<f64>> = (0..p)
        .map(|r| {
            let mut row = a[r].clone();
            row.extend((0..p).map(|c| f64::from(u8::from(r == c))));
            row
        })
        .collect();
    for c in 0..p {
        let piv = (c..p).max_by(|&i, &j| m[i][c].abs().total_cmp(&m[j][c].abs()))?;
        if m[piv][c].abs() < 1e-12 {
            return None;
        }
        m.swap(c, piv);
        let v = m[c][c];
        m[c].iter_mut().for_each(|e| *e /= v);
        for r in 0..p {
            if r != c {
                let f = m[r][c];
                let row_c = m[c].clone();
                m[r].iter_mut().zip(&row_c).for_each(|(e, rc)| *e -= f * rc);
            }
        }
    }
    Some(m.into_iter().map(|row| row[p..].to_vec()).collect())
}

/// The normal equations of weighted least squares of `d` on the columns
/// `x` (weights `w`): `(X'WX, X'Wd)`.
fn normal_equations(x: &[Vec<f64>], d: &[f64], w: &[f64]) -> (Vec<Vec<f64>>, Vec<f64>) {
    let p = x.len();
    let mut a = vec![vec![0.0f64; p]; p];
    let mut b = vec![0.0f64; p];
    for i in 0..d.len() {
        for r in 0..p {
            let xr = x[r][i] * w[i];
            for c in 0..p {
                a[r][c] += xr * x[c][i];
            }
            b[r] += xr * d[i];
        }
    }
    (a, b)
}

/// Weighted least squares of `d` on the columns `x` (weights `w`): the
/// chi-square drop the last column buys beside the others
/// (`a^2 / Var(a)`), or 0 when the system is singular.
fn last_term_delta_chi2(x: &[Vec<f64>], d: &[f64], w: &[f64]) -> f64 {
    let (a, b) = normal_equations(x, d, w);
    let Some(inv) = invert(&a) else {
        return 0.0;
    };
    let last = x.len() - 1;
    let coef: f64 = (0..x.len()).map(|c| inv[last][c] * b[c]).sum();
    let var = inv[last][last];
    if var <= 0.0 {
        return 0.0;
    }
    coef * coef / var
}

/// Chi-square drop of a low-order polynomial (Legendre 0..=order in the
/// position on the observed pixels) fitted to the fractional residual:
/// the full fit's explained chi-square, `b' A^-1 b`.
fn poly_delta_chi2(d: &[f64], r: &[f64], w: &[f64], xs: &[f64], order: usize) -> f64 {
    let (lo, hi) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let u: Vec<f64> = xs
        .iter()
        .map(|x| 2.0 * (x - lo) / (hi - lo).max(1e-9) - 1.0)
        .collect();
    let cols: Vec<Vec<f64>> = (0..=order)
        .map(|k| {
            u.iter()
                .zip(r)
                .map(|(&t, &rr)| {
                    let p = match k {
                        0 => 1.0,
                        1 => t,
                        2 => 0.5 * (3.0 * t * t - 1.0),
                        3 => 0.5 * (5.0 * t * t * t - 3.0 * t),
                        _ => (35.0 * t.powi(4) - 30.0 * t * t + 3.0) / 8.0,
                    };
                    p * rr
                })
                .collect()
        })
        .collect();
    let (a, b) = normal_equations(&cols, d, w);
    let Some(inv) = invert(&a) else {
        return 0.0;
    };
    (0..b.len())
        .map(|i| b[i] * (0..b.len()).map(|j| inv[i][j] * b[j]).sum::<f64>())
        .sum()
}

/// The largest arm-junction step in the fractional residual: per junction
/// (observed 5780 A and 7570 A), over +-`half` A around it, the chi-square
/// drop of a step beside a local offset and tilt.
fn step_delta_chi2(d: &[f64], r: &[f64], w: &[f64], obs: &[f64], half: f64) -> f64 {
    let mut best = 0.0f64;
    for lj in [5780.0, 7570.0] {
        let idx: Vec<usize> = (0..d.len())
            .filter(|&i| (obs[i] - lj).abs() < half)
            .collect();
        let below = idx.iter().filter(|&&i| obs[i] < lj).count();
        if below < 40 || idx.len() - below < 40 {
            continue;
        }
        let x = vec![
            idx.iter().map(|&i| r[i]).collect::<Vec<f64>>(),
            idx.iter().map(|&i| r[i] * (obs[i] - lj) / half).collect(),
            idx.iter()
                .map(|&i| if obs[i] > lj { r[i] } else { 0.0 })
                .collect(),
        ];
        let dd: Vec<f64> = idx.iter().map(|&i| d[i]).collect();
        let ww: Vec<f64> = idx.iter().map(|&i| w[i]).collect();
        best = best.max(last_term_delta_chi2(&x, &dd, &ww));
    }
    best
}

/// Largest standardised chi-square excess over windows of `w` pixels.
fn scan(z2: &[f64], seen: &[bool], w: usize) -> f64 {
    let n = z2.len();
    let (mut s, mut c) = (vec![0.0; n + 1], vec![0usize; n + 1]);
    for j in 0..n {
        s[j + 1] = s[j] + if seen[j] { z2[j] } else { 0.0 };
        c[j + 1] = c[j] + usize::from(seen[j]);
    }
    let mut best = f64::NEG_INFINITY;
    for a in 0..n.saturating_sub(w) {
        let m = c[a + w] - c[a];
        if m * 2 < w || m == 0 {
            continue;
        }
        let e = (s[a + w] - s[a] - m as f64) / (2.0 * m as f64).sqrt();
        best = best.max(e);
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (home, model, truth) = (&args[0], &args[1], &args[2]);
    let truth: serde_json::Value = serde_json::from_slice(&std::fs::read(truth).unwrap()).unwrap();
    let class: HashMap<i64, String> = truth["rarities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["targetid"].as_i64().unwrap(),
                r["class"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut store = Store::open(&StoreConfig::sqlite(std::path::Path::new(home))).unwrap();
    let ids = store
        .select_target_ids("spectype = 'QSO' AND zwarn = 0", &[])
        .unwrap();
    let (card, forest, vae) = ModelDir(model.into()).load().unwrap();
    let mut pre = Preprocessor::default();
    pre.z_min = card.z_range[0];
    pre.z_max = card.z_range[1];
    let names = [
        "chi2",
        "chi2_floor05",
        "chi2_pix",
        "chi2_pix_x2",
        "scan5_pix",
        "scan20_pix",
        "scan80_pix",
        "scanmax_pix",
        "iso",
        "chi2_floor10",
        "scan5_f10",
        "scan20_f10",
        "scan80_f10",
        "chi2_floor07",
        "scan5_f07",
        "scan20_f07",
        "scan80_f07",
        "scanmax_f07",
        "chi2_rob",
        "scan5_rob",
        "scan20_rob",
        "chi2_rob_f03",
        "scan5_rob_f03",
        "scan20_rob_f03",
        "poly3_rob",
        "step600_rob",
        "step1200_rob",
        "knn10",
        "mahal",
        "poly4_rob",
    ];
    let mut stats: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut labels: Vec<Option<String>> = Vec::new();
    let device = Default::default();
    // Pass 1: every spectrum's flux, ivar and reconstruction.
    let mut kept: Vec<Kept> = Vec::new();
    let mut latents: Vec<Vec<f32>> = Vec::new();
    let mut redshifts: Vec<f64> = Vec::new();
    let mut targets: Vec<i64> = Vec::new();
    let len = astrolab_anomaly::preprocess::REST_NPIX;
    for shard in ids.chunks(2000) {
        let s = read_rest_frame(&mut store, shard, &pre).unwrap();
        let rows: Vec<usize> = (0..s.dataset.n()).collect();
        for chunk in rows.chunks(256) {
            let (mu, rec) = astrolab_anomaly::score::encode_decode::<CpuBackend>(
                &vae, &s.dataset, chunk, &device,
            );
            let iso = forest.score_all(&mu).unwrap();
            for (b, &row) in chunk.iter().enumerate() {
                let (f, v) = s.dataset.row(row);
                kept.push((
                    f.to_vec(),
                    v.to_vec(),
                    rec[b * len..(b + 1) * len].to_vec(),
                    iso[b],
                ));
                labels.push(class.get(&s.dataset.ids[row]).cloned());
                let dim = mu.len() / chunk.len();
                latents.push(mu[b * dim..(b + 1) * dim].to_vec());
                redshifts.push(s.z[row]);
                targets.push(s.dataset.ids[row]);
            }
        }
    }
    // Per-pixel fractional model error: the median over spectra of the
    // residual variance beyond the noise, relative to the model squared.
    let mut eps2 = vec![0.0f64; len];
    for j in 0..len {
        let mut x: Vec<f64> = kept
            .iter()
            .filter(|(f, v, _, _)| {
                observed(f[j], v[j]) && f64::from(f[j]).powi(2) * f64::from(v[j]) > 25.0
            })
            .map(|(f, v, r, _)| {
                let d = f64::from(f[j]) - f64::from(r[j]);
                let rr = f64::from(r[j]).abs().max(1e-3);
                (d * d - 1.0 / f64::from(v[j])) / (rr * rr)
            })
            .collect();
        if x.len() < 20 {
            eps2[j] = 0.05 * 0.05;
            continue;
        }
        x.sort_by(f64::total_cmp);
        eps2[j] = x[x.len() / 2].max(0.0);
    }
    // Robust per-pixel model error: the eps^2 at which the median over
    // spectra of d^2 / (1/ivar + eps^2 r^2) is the median of chi-square
    // with one degree of freedom (0.4549), by bisection; 0 where the noise
    // alone already explains the residuals.
    let mut rob2 = vec![0.0f64; len];
    for j in 0..len {
        let xs: Vec<(f64, f64, f64)> = kept
            .iter()
            .filter(|(f, v, _, _)| observed(f[j], v[j]))
            .map(|(f, v, r, _)| {
                let d = f64::from(f[j]) - f64::from(r[j]);
                (d * d, 1.0 / f64::from(v[j]), f64::from(r[j]).powi(2))
            })
            .collect();
        if xs.len() < 20 {
            rob2[j] = 0.07 * 0.07;
            continue;
        }
        let med = |e2: f64| -> f64 {
            let mut y: Vec<f64> = xs.iter().map(|(d2, n, r2)| d2 / (n + e2 * r2)).collect();
            let k = y.len() / 2;
            *y.select_nth_unstable_by(k, f64::total_cmp).1
        };
        if med(0.0) <= 0.4549 {
            continue;
        }
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..40 {
            let mid = 0.5 * (lo + hi);
            if med(mid) > 0.4549 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        rob2[j] = 0.5 * (lo + hi);
    }
    {
        let mut y: Vec<f64> = rob2.iter().map(|x| x.sqrt()).collect();
        y.sort_by(f64::total_cmp);
        eprintln!(
            "robust per-pixel model error: p10 {:.4} median {:.4} p90 {:.4} max {:.4}",
            y[y.len() / 10],
            y[y.len() / 2],
            y[y.len() * 9 / 10],
            y[y.len() - 1]
        );
    }
    let e: Vec<f64> = eps2.iter().map(|x| x.sqrt()).collect();
    eprintln!(
        "per-pixel fractional model error: min {:.4} median {:.4} max {:.4}",
        e.iter().cloned().fold(f64::INFINITY, f64::min),
        {
            let mut y = e.clone();
            y.sort_by(f64::total_cmp);
            y[y.len() / 2]
        },
        e.iter().cloned().fold(0.0, f64::max)
    );
    // Latent-space density: distance to the 10th nearest other spectrum,
    // and the Mahalanobis distance under the set's covariance.
    let dim = latents[0].len();
    let knn10: Vec<f64> = {
        let n = latents.len();
        (0..n)
            .map(|i| {
                let mut d: Vec<f32> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| {
                        latents[i]
                            .iter()
                            .zip(&latents[j])
                            .map(|(a, b)| (a - b) * (a - b))
                            .sum::<f32>()
                    })
                    .collect();
                let k = 9.min(d.len() - 1);
                f64::from(*d.select_nth_unstable_by(k, f32::total_cmp).1).sqrt()
            })
            .collect()
    };
    let mahal: Vec<f64> = {
        let n = latents.len() as f64;
        let mean: Vec<f64> = (0..dim)
            .map(|k| latents.iter().map(|l| f64::from(l[k])).sum::<f64>() / n)
            .collect();
        let mut cov = vec![vec![0.0f64; dim]; dim];
        for l in &latents {
            for a in 0..dim {
                for b in 0..dim {
                    cov[a][b] += (f64::from(l[a]) - mean[a]) * (f64::from(l[b]) - mean[b]) / n;
                }
            }
        }
        let m = invert(&cov).expect("a latent covariance of full rank");
        latents
            .iter()
            .map(|l| {
                let x: Vec<f64> = (0..dim).map(|k| f64::from(l[k]) - mean[k]).collect();
                (0..dim)
                    .map(|a| (0..dim).map(|b| x[a] * m[a][b] * x[b]).sum::<f64>())
                    .sum()
            })
            .collect()
    };
    let rest_a = astrolab_anomaly::preprocess::rest_wavelength_a();
    for (i_spec, (f, v, r, iso)) in kept.iter().enumerate() {
        let seen: Vec<bool> = (0..len).map(|j| observed(f[j], v[j])).collect();
        let n_obs = seen.iter().filter(|x| **x).count() as f64;
        let zr = |floor: f64| -> Vec<f64> {
            (0..len)
                .map(|j| {
                    if !seen[j] {
                        return 0.0;
                    }
                    let iv = f64::from(v[j]);
                    let m2 = rob2[j].max(floor * floor) * f64::from(r[j]).powi(2);
                    iv / (1.0 + iv * m2) * (f64::from(f[j]) - f64::from(r[j])).powi(2)
                })
                .collect()
        };
        let (zr0, zr3) = (zr(0.0), zr(0.03));
        let z2 = |scale: f64, floor: Option<f64>| -> Vec<f64> {
            (0..len)
                .map(|j| {
                    if !seen[j] {
                        return 0.0;
                    }
                    let iv = f64::from(v[j]);
                    let m2 = match floor {
                        Some(eps) => (eps * f64::from(r[j])).powi(2),
                        None => scale * eps2[j] * f64::from(r[j]).powi(2),
                    };
                    let ie = iv / (1.0 + iv * m2);
                    ie * (f64::from(f[j]) - f64::from(r[j])).powi(2)
                })
                .collect()
        };
        let z0 = z2(0.0, Some(0.0));
        let zp = z2(1.0, None);
        let sum = |z: &[f64]| z.iter().sum::<f64>() / n_obs;
        let s5 = scan(&zp, &seen, 5);
        let s20 = scan(&zp, &seen, 20);
        let s80 = scan(&zp, &seen, 80);
        // Fractional-residual fits on the observed pixels, robust weights.
        let obs_j: Vec<usize> = (0..len).filter(|&j| seen[j]).collect();
        let dd: Vec<f64> = obs_j
            .iter()
            .map(|&j| f64::from(f[j]) - f64::from(r[j]))
            .collect();
        let rr: Vec<f64> = obs_j.iter().map(|&j| f64::from(r[j])).collect();
        let ww: Vec<f64> = obs_j
            .iter()
            .map(|&j| {
                let iv = f64::from(v[j]);
                iv / (1.0 + iv * rob2[j] * f64::from(r[j]).powi(2))
            })
            .collect();
        let xs: Vec<f64> = obs_j.iter().map(|&j| j as f64).collect();
        let obs_a: Vec<f64> = obs_j
            .iter()
            .map(|&j| rest_a[j] * (1.0 + redshifts[i_spec]))
            .collect();
        let vals = [
            sum(&z0),
            sum(&z2(0.0, Some(0.05))),
            sum(&zp),
            sum(&z2(2.0, None)),
            s5,
            s20,
            s80,
            s5.max(s20).max(s80),
            *iso,
            sum(&z2(0.0, Some(0.10))),
            scan(&z2(0.0, Some(0.10)), &seen, 5),
            scan(&z2(0.0, Some(0.10)), &seen, 20),
            scan(&z2(0.0, Some(0.10)), &seen, 80),
            sum(&z2(0.0, Some(0.07))),
            scan(&z2(0.0, Some(0.07)), &seen, 5),
            scan(&z2(0.0, Some(0.07)), &seen, 20),
            scan(&z2(0.0, Some(0.07)), &seen, 80),
            scan(&z2(0.0, Some(0.07)), &seen, 5)
                .max(scan(&z2(0.0, Some(0.07)), &seen, 20))
                .max(scan(&z2(0.0, Some(0.07)), &seen, 80)),
            sum(&zr0),
            scan(&zr0, &seen, 5),
            scan(&zr0, &seen, 20),
            sum(&zr3),
            scan(&zr3, &seen, 5),
            scan(&zr3, &seen, 20),
            poly_delta_chi2(&dd, &rr, &ww, &xs, 3),
            step_delta_chi2(&dd, &rr, &ww, &obs_a, 600.0),
            step_delta_chi2(&dd, &rr, &ww, &obs_a, 1200.0),
            knn10[i_spec],
            mahal[i_spec],
            poly_delta_chi2(&dd, &rr, &ww, &xs, 4),
        ];
        for (k, x) in vals.iter().enumerate() {
            stats[k].push(*x);
        }
    }
    // Every statistic per spectrum, for exploring combinations elsewhere.
    if let Ok(path) = std::env::var("VARIANTS_CSV") {
        let mut out = String::from("targetid");
        for n in &names {
            out += &format!(",{n}");
        }
        out.push('\n');
        for (i, t) in targets.iter().enumerate() {
            out += &t.to_string();
            for st in &stats {
                out += &format!(",{}", st[i]);
            }
            out.push('\n');
        }
        std::fs::write(path, out).unwrap();
    }
    let mut classes: Vec<String> = class.values().cloned().collect();
    classes.sort();
    classes.dedup();
    print!("{:>14} {:>7}", "statistic", "all");
    for c in &classes {
        print!(" {:>16}", c);
    }
    println!();
    let report = |name: &str, x: &[f64]| {
        let pos: Vec<bool> = labels.iter().map(|l| l.is_some()).collect();
        print!("{name:>14} {:>7.4}", roc_auc(x, &pos).unwrap_or(f64::NAN));
        for c in &classes {
            let (xs, ps): (Vec<f64>, Vec<bool>) = labels
                .iter()
                .zip(x)
                .filter(|(l, _)| l.is_none() || l.as_deref() == Some(c.as_str()))
                .map(|(l, v)| (*v, l.is_some()))
                .unzip();
            print!(" {:>16.4}", roc_auc(&xs, &ps).unwrap_or(f64::NAN));
        }
        println!();
    };
    for (k, n) in names.iter().enumerate() {
        report(n, &stats[k]);
    }
    // Rank-max combinations (ranks within this set).
    let rank = |x: &[f64]| -> Vec<f64> {
        let mut idx: Vec<usize> = (0..x.len()).collect();
        idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
        let mut r = vec![0.0; x.len()];
        for (i, &j) in idx.iter().enumerate() {
            r[j] = i as f64 / x.len() as f64;
        }
        r
    };
    let ranks: Vec<Vec<f64>> = stats.iter().map(|x| rank(x)).collect();
    let combo = |ks: &[usize]| -> Vec<f64> {
        (0..labels.len())
            .map(|i| ks.iter().map(|&k| ranks[k][i]).fold(0.0, f64::max))
            .collect()
    };
    report("max(c07,s5f07)", &combo(&[13, 14]));
    report("max(c07,s20f07)", &combo(&[13, 15]));
    report("max(c07,smaxf07)", &combo(&[13, 17]));
    report("max(c07,s20f07,iso)", &combo(&[13, 15, 8]));
    report("max(c07,smaxf07,iso)", &combo(&[13, 17, 8]));
    report("max(c07,sp5)", &combo(&[13, 4]));
    report("max(c05,c10,sp5,iso)", &combo(&[1, 9, 4, 8]));
    report("max(c07,s5rob)", &combo(&[13, 19]));
    report("max(c07,s20rob)", &combo(&[13, 20]));
    report("max(crob,s5rob)", &combo(&[18, 19]));
    report("max(crob,s20rob)", &combo(&[18, 20]));
    report("max(c07,s5r03)", &combo(&[13, 22]));
    report("max(c07,s20r03)", &combo(&[13, 23]));
    report("max(cr03,s5r03)", &combo(&[21, 22]));
    report("max(cr03,s20r03)", &combo(&[21, 23]));
    report("max(c07,s5r03,s20r03)", &combo(&[13, 22, 23]));
    // Fisher's combination (sum of -ln p, p = the upper-tail fraction
    // within this set): moderate evidence in several channels adds up.
    let fisher = |ks: &[usize]| -> Vec<f64> {
        let n = labels.len() as f64;
        (0..labels.len())
            .map(|i| {
                ks.iter()
                    .map(|&k| -(1.0 - ranks[k][i] + 1.0 / n).ln())
                    .sum::<f64>()
            })
            .collect()
    };
    report("F(c07,s5rob)", &fisher(&[13, 19]));
    report("F(c07,s5rob,iso)", &fisher(&[13, 19, 8]));
    report("F(c07,s5rob,c0)", &fisher(&[13, 19, 0]));
    report("F(c07,s5rob,c0,iso)", &fisher(&[13, 19, 0, 8]));
    report("F(c07,s5rob,s20rob,c0,iso)", &fisher(&[13, 19, 20, 0, 8]));
    report("F(crob,s5rob,c0,iso)", &fisher(&[18, 19, 0, 8]));
    // The broad-residual and latent-density channels (24..=29).
    report("max(c07,s5rob,step6)", &combo(&[13, 19, 25]));
    report("max(c07,s5rob,step12)", &combo(&[13, 19, 26]));
    report("F(c07,s5rob,step6)", &fisher(&[13, 19, 25]));
    report("F(c07,s5rob,step6,iso)", &fisher(&[13, 19, 25, 8]));
    report("F(c07,s5rob,step6,knn)", &fisher(&[13, 19, 25, 27]));
    report("F(c07,s5rob,knn)", &fisher(&[13, 19, 27]));
    report("F(c07,s5rob,mahal)", &fisher(&[13, 19, 28]));
    report("F(c07,s5rob,poly3)", &fisher(&[13, 19, 24]));
    report(
        "F(c07,s5rob,step6,poly3,iso)",
        &fisher(&[13, 19, 25, 24, 8]),
    );
    report(
        "F(c07,s5rob,step6,poly3,knn)",
        &fisher(&[13, 19, 25, 24, 27]),
    );
    report("F(s5rob,step6,poly3,knn)", &fisher(&[19, 25, 24, 27]));
    report("F(c07,s5rob,step6,knn,iso)", &fisher(&[13, 19, 25, 27, 8]));
}
