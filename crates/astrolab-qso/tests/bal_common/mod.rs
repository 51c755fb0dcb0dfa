//! Shared by the integration tests and the speed example: DESI's PCA
//! components from the shared data, and seeded synthetic quasars built from
//! them (continua from random PCA coefficients around the mean quasar,
//! Gaussian noise at a chosen S/N, injected troughs and absorbers).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use astrolab_formats::fits::FitsFile;
use astrolab_formats::testdata::require_shared_data;
use astrolab_qso::aod::{Doublet, AOD_CONSTANT};
use astrolab_qso::bal::{CIV_REST_A, C_KM_S};
use astrolab_qso::continuum::Basis;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// The shared data directory, or `None` (skip) / a panic under `CI`.
pub fn shared(test: &str) -> Option<PathBuf> {
    require_shared_data(test)
}

/// `WAVE` and `PCA0..PCA4` of baltools' `PCA_Eigenvectors.fits` (one
/// binary table, 2798 rows, rest 1260.06-2399.33 A).
pub fn pca_basis(shared: &Path) -> Basis {
    let path = shared.join("templates/PCA_Eigenvectors.fits");
    let fits = FitsFile::open(&path).expect("open PCA_Eigenvectors.fits");
    let table = fits.first_table().expect("PCA table");
    let wave = table.read_f64("WAVE").expect("WAVE");
    let comps = (0..5)
        .map(|k| table.read_f64(&format!("PCA{k}")).expect("PCA column"))
        .collect();
    Basis::new(wave, comps).expect("a valid basis")
}

/// A BOSS-like observed grid: 1e-4 dex pixels from 3600 to 10,000 A.
pub fn boss_grid() -> Vec<f64> {
    let n = ((10_000f64 / 3600.0).log10() / 1e-4) as usize;
    (0..n)
        .map(|i| 3600.0 * 10f64.powf(1e-4 * i as f64))
        .collect()
}

/// A box trough in C IV: flux times `residual` between outflow velocities
/// `vmin_km_s` and `vmax_km_s` (positive) from 1549 A.
#[derive(Debug, Clone, Copy)]
pub struct BoxTrough {
    pub vmin_km_s: f64,
    pub vmax_km_s: f64,
    pub residual: f64,
}

/// A Gaussian absorber in `N(v)` of a doublet (both lines).
#[derive(Debug, Clone, Copy)]
pub struct Absorber {
    pub doublet: Doublet,
    pub log_n: f64,
    pub v0_km_s: f64,
    pub sigma_v_km_s: f64,
}

/// One synthetic quasar: the noisy spectrum and its truth.
pub struct Synthetic {
    pub z: f64,
    pub wave: Vec<f64>,
    pub flux: Vec<f64>,
    pub ivar: Vec<f64>,
    /// The absorbed spectrum without noise.
    pub clean: Vec<f64>,
    /// The continuum (no absorption, no noise).
    pub continuum: Vec<f64>,
}

/// Seeded synthetic quasars.
pub struct Generator {
    rng: ChaCha8Rng,
    grid: Vec<f64>,
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            grid: boss_grid(),
        }
    }

    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.rng.gen_range(lo..hi)
    }

    /// A continuum at `z`: `PCA0 + sum_k b_k PCA_k`, `b_k ~ N(0, 0.15)`
    /// (redrawn until positive everywhere, at least 0.3 of the mean),
    /// scaled to a mean of 10 flux units; the observed grid redward of the
    /// basis carries the last value (only the fit window matters).
    fn continuum(&mut self, basis: &Basis, z: f64) -> Vec<f64> {
        let rest: Vec<f64> = self.grid.iter().map(|w| w / (1.0 + z)).collect();
        let interp = basis.interpolate(&rest);
        let n = rest.len();
        let normal = Normal::new(0.0, 0.15).expect("valid normal");
        loop {
            let b: Vec<f64> = (0..4).map(|_| normal.sample(&mut self.rng)).collect();
            let mut cont: Vec<f64> = (0..n)
                .map(|i| interp[i] + (1..5).map(|k| b[k - 1] * interp[k * n + i]).sum::<f64>())
                .collect();
            let mean = cont.iter().sum::<f64>() / n as f64;
            if cont.iter().all(|&c| c > 0.3 * mean) {
                for c in &mut cont {
                    *c *= 10.0 / mean;
                }
                return cont;
            }
        }
    }

    /// A quasar at `z` with S/N `snr` per pixel on the continuum's median,
    /// C IV box troughs and doublet absorbers.
    pub fn quasar(
        &mut self,
        basis: &Basis,
        z: f64,
        snr: f64,
        troughs: &[BoxTrough],
        absorbers: &[Absorber],
    ) -> Synthetic {
        let continuum = self.continuum(basis, z);
        let mut sorted = continuum.clone();
        sorted.sort_by(f64::total_cmp);
        let sigma = sorted[sorted.len() / 2] / snr;
        let noise = Normal::new(0.0, sigma).expect("valid noise");
        let wave = self.grid.clone();
        let clean: Vec<f64> = wave
            .iter()
            .zip(&continuum)
            .map(|(&w, &c)| {
                let rest = w / (1.0 + z);
                let mut t = 1.0;
                let v = C_KM_S * (rest - CIV_REST_A) / CIV_REST_A;
                for tr in troughs {
                    if -v >= tr.vmin_km_s && -v <= tr.vmax_km_s {
                        t *= tr.residual;
                    }
                }
                let mut tau = 0.0;
                for a in absorbers {
                    let n_cm2 = 10f64.powf(a.log_n);
                    for line in [a.doublet.strong, a.doublet.weak] {
                        let vl = C_KM_S * (rest - line.wavelength_a) / line.wavelength_a;
                        let nv = n_cm2 / ((2.0 * std::f64::consts::PI).sqrt() * a.sigma_v_km_s)
                            * (-0.5 * ((vl - a.v0_km_s) / a.sigma_v_km_s).powi(2)).exp();
                        tau += nv * line.f * line.wavelength_a / AOD_CONSTANT;
                    }
                }
                c * t * (-tau).exp()
            })
            .collect();
        let flux = clean
            .iter()
            .map(|&f| f + noise.sample(&mut self.rng))
            .collect();
        let ivar = vec![1.0 / (sigma * sigma); wave.len()];
        Synthetic {
            z,
            wave,
            flux,
            ivar,
            clean,
            continuum,
        }
    }
}
