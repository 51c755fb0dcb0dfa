//! A seeded toy set for the tests: smooth "quasar-like" spectra (a sloped
//! continuum and three Gaussian emission lines of varying strength and
//! width, Gaussian noise of sigma 0.05) with a stretch of missing pixels at
//! either end, plus labelled anomalies of four kinds.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::dataset::Dataset;

/// Noise sigma of every pixel.
pub const SIGMA: f32 = 0.05;

/// Line centres as fractions of the grid.
const LINES: [f32; 3] = [0.2, 0.5, 0.8];

/// The kinds of toy anomaly, cycled through by [`toy_set`].
pub const KINDS: [&str; 4] = ["trough", "extra_line", "red", "no_lines"];

/// `n_normal` normal spectra then `n_anom` anomalies of `len` pixels; the
/// labels are `None` for a normal spectrum and the anomaly kind otherwise.
pub fn toy_set(
    n_normal: usize,
    n_anom: usize,
    len: usize,
    seed: u64,
) -> (Dataset, Vec<Option<&'static str>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise = Normal::new(0.0f32, SIGMA).expect("valid sigma");
    let mut d = Dataset::new(len);
    let mut labels = Vec::new();
    for i in 0..n_normal + n_anom {
        let kind = (i >= n_normal).then(|| KINDS[(i - n_normal) % KINDS.len()]);
        let slope = rng.gen_range(-0.3f32..0.3);
        let amps: Vec<f32> = LINES.iter().map(|_| rng.gen_range(0.5f32..1.5)).collect();
        let width = rng.gen_range(0.02f32..0.04);
        let lo = rng.gen_range(0..len / 10);
        let hi = len - rng.gen_range(0..len / 10);
        let mut flux = vec![0f32; len];
        let mut ivar = vec![0f32; len];
        for j in lo..hi {
            let x = j as f32 / len as f32;
            let mut f = 1.0 + slope * (x - 0.5);
            for (c, a) in LINES.iter().zip(&amps) {
                let a = if kind == Some("no_lines") { 0.0 } else { *a };
                f += a * (-0.5 * ((x - c) / width).powi(2)).exp();
            }
            match kind {
                Some("trough") if (0.40..0.48).contains(&x) => f -= 0.6,
                Some("extra_line") => f += 1.2 * (-0.5 * ((x - 0.65) / 0.015).powi(2)).exp(),
                Some("red") => f += 2.0 * (x - 0.5),
                _ => {}
            }
            flux[j] = f + noise.sample(&mut rng);
            ivar[j] = 1.0 / (SIGMA * SIGMA);
        }
        d.push(i as i64, &flux, &ivar);
        labels.push(kind);
    }
    (d, labels)
}
