//! Research aid for issue 17: which residual statistic separates the
//! benchmark's rarities best? Reads every confident quasar of a store,
//! reconstructs it with a trained model, and prints the ROC AUC (overall
//! and per rarity class) of several candidate statistics against the
//! benchmark's truth file.
//!
//! ```text
//! cargo run --release -p astrolab-pipeline --example anomaly_variants -- HOME MODEL_DIR spectra_truth.json
//! ```

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
    ];
    let mut stats: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut labels: Vec<Option<String>> = Vec::new();
    let device = Default::default();
    // Pass 1: every spectrum's flux, ivar and reconstruction.
    let mut kept: Vec<Kept> = Vec::new();
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
    for (f, v, r, iso) in &kept {
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
        ];
        for (k, x) in vals.iter().enumerate() {
            stats[k].push(*x);
        }
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
}
