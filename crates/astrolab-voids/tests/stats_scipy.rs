//! KS and Anderson-Darling results against scipy on the same arrays.
//!
//! The reference numbers come from `bench/voids_stats_ref.py` (scipy 1.17);
//! the samples are regenerated here bit for bit from the recipe in the
//! fixture (a 64-bit LCG with +, *, / and sqrt only).

use astrolab_voids::stats::{anderson_ksamp, ks_2samp, KsMethod};
use serde_json::Value;

fn lcg_uniforms(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 32) as f64 / 4294967296.0
        })
        .collect()
}

fn sample(spec: &Value) -> Vec<f64> {
    let n = spec["n"].as_u64().unwrap() as usize;
    let seed = spec["seed"].as_u64().unwrap();
    let shift = spec["shift"].as_f64().unwrap();
    let scale = spec["scale"].as_f64().unwrap();
    let u = lcg_uniforms(seed, 2 * n);
    (0..n)
        .map(|i| match spec["kind"].as_str().unwrap() {
            "uniform" => u[i] * scale + shift,
            "tri" => (u[i] + u[n + i]) * scale + shift,
            "sqrt" => u[i].sqrt() * scale + shift,
            "ties" => (u[i] * 10.0).trunc() / 10.0 * scale + shift,
            k => panic!("unknown kind {k}"),
        })
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

#[test]
fn ks_and_ad_match_scipy() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/stats_scipy_ref.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    // The reference file's cases: 11, of which 10 two-sample KS.
    assert_eq!(cases.len(), 11);
    let mut n_ks = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let samples: Vec<Vec<f64>> = case["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(sample)
            .collect();
        if let Some(ks) = case.get("ks") {
            let r = ks_2samp(&samples[0], &samples[1], KsMethod::Auto).unwrap();
            let want_d = ks["statistic"].as_f64().unwrap();
            let want_p = ks["pvalue"].as_f64().unwrap();
            let exact = ks["method"] == "exact";
            assert_eq!(r.method == KsMethod::Exact, exact, "{name}: method");
            assert!(
                rel(r.statistic, want_d) < 1e-12,
                "{name}: D {} vs scipy {want_d}",
                r.statistic
            );
            // Documented precision: exact 1e-9 relative, asymptotic 1e-6.
            let tol = if exact { 1e-9 } else { 1e-6 };
            assert!(
                rel(r.pvalue, want_p) < tol,
                "{name}: p {} vs scipy {want_p} (rel {})",
                r.pvalue,
                rel(r.pvalue, want_p)
            );
            n_ks += 1;
        }
        let refs: Vec<&[f64]> = samples.iter().map(|s| s.as_slice()).collect();
        let ad = anderson_ksamp(&refs).unwrap();
        let want_t = case["ad"]["statistic"].as_f64().unwrap();
        let want_p = case["ad"]["pvalue"].as_f64().unwrap();
        assert!(
            rel(ad.statistic, want_t) < 1e-9,
            "{name}: AD {} vs scipy {want_t}",
            ad.statistic
        );
        assert!(
            rel(ad.pvalue, want_p) < 1e-9,
            "{name}: AD p {} vs scipy {want_p}",
            ad.pvalue
        );
        for (a, b) in ad
            .critical_values
            .iter()
            .zip(case["ad"]["critical_values"].as_array().unwrap())
        {
            assert!(
                rel(*a, b.as_f64().unwrap()) < 1e-12,
                "{name}: critical values"
            );
        }
    }
    assert_eq!(n_ks, 10);
}
