//! Synthetic truth: seeded Gaussian mixtures with noise, decomposed blindly
//! (number of components by BIC): every line centre within 0.5 km/s, every
//! peak within 5 %.

use astrolab_hline::gauss::{decompose, Component, GaussOptions};

/// SplitMix64: a tiny seeded generator (the test must not depend on a crate's
/// stream changing between versions).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-300), self.next());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

#[test]
fn gaussian_mixtures_are_recovered() {
    let mut rng = Rng(20_260_522);
    let v: Vec<f64> = (0..400).map(|i| -200.0 + i as f64).collect();
    let noise_k = 0.1;
    let (mut worst_dv, mut worst_da) = (0.0f64, 0.0f64);
    for case in 0..40 {
        let n = 1 + case % 3;
        let mut truth: Vec<Component> = Vec::new();
        while truth.len() < n {
            let c = Component::new(
                rng.uniform(3.0, 30.0),
                rng.uniform(-150.0, 150.0),
                rng.uniform(3.0, 20.0),
            );
            // Resolvable lines: centres apart by more than 3 (sigma1 + sigma2).
            if truth.iter().all(|t| {
                (t.center_km_s - c.center_km_s).abs() > 3.0 * (t.sigma_km_s + c.sigma_km_s)
            }) {
                truth.push(c);
            }
        }
        let t: Vec<f64> = v
            .iter()
            .map(|&x| truth.iter().map(|c| c.eval(x)).sum::<f64>() + noise_k * rng.normal())
            .collect();
        let fit = decompose(&v, &t, &GaussOptions::default()).unwrap();
        assert_eq!(
            fit.components.len(),
            n,
            "case {case}: {:?} vs {truth:?}",
            fit.components
        );
        for c in &truth {
            let m = fit
                .components
                .iter()
                .min_by(|a, b| {
                    (a.center_km_s - c.center_km_s)
                        .abs()
                        .total_cmp(&(b.center_km_s - c.center_km_s).abs())
                })
                .unwrap();
            let dv = (m.center_km_s - c.center_km_s).abs();
            let da = (m.amp_k / c.amp_k - 1.0).abs();
            assert!(
                dv < 0.5,
                "case {case}: centre {} vs {}",
                m.center_km_s,
                c.center_km_s
            );
            assert!(da < 0.05, "case {case}: peak {} vs {}", m.amp_k, c.amp_k);
            // The quoted uncertainty is realistic: within 5 sigma of the truth.
            assert!(
                dv < 5.0 * m.center_err_km_s.max(1e-3),
                "case {case}: {dv} vs err {}",
                m.center_err_km_s
            );
            worst_dv = worst_dv.max(dv);
            worst_da = worst_da.max(da);
        }
    }
    eprintln!(
        "worst centre error {worst_dv:.3} km/s, worst peak error {:.2} %",
        100.0 * worst_da
    );
}
