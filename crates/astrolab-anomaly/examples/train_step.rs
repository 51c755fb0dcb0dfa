//! Times one VAE training step (forward, backward, Adam update) on the CPU
//! backend, for comparison with `bench/peer_vae_step.py` (the same
//! architecture in PyTorch).
//!
//! ```text
//! cargo run --release -p astrolab-anomaly --example train_step -- [batch] [len] [steps]
//! ```
//!
//! Defaults: batch 64, len 3000, 20 timed steps after 3 warm-up steps.
//! Prints one line: `burn-ndarray batch=64 len=3000 params=... ms/step median=... mean=...`.

use std::time::Instant;

use astrolab_anomaly::model::{Batch, Vae, VaeConfig};
use astrolab_anomaly::ops::adam::train_optimizer;
use astrolab_anomaly::CpuTrainBackend;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

type B = CpuTrainBackend;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments: [batch] [len] [steps]"))
        .collect();
    let batch = args.first().copied().unwrap_or(64);
    let len = args.get(1).copied().unwrap_or(3000);
    let steps = args.get(2).copied().unwrap_or(20);
    let warmup = 3;

    // As `train` does.
    astrolab_anomaly::ops::alloc::retain_freed_memory();
    let device = Default::default();
    let cfg = VaeConfig::new(len);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut data = astrolab_anomaly::dataset::Dataset::new(len);
    for i in 0..batch {
        let flux: Vec<f32> = (0..len).map(|_| 1.0 + 0.1 * rng.gen::<f32>()).collect();
        let ivar: Vec<f32> = (0..len)
            .map(|_| if rng.gen::<f32>() < 0.1 { 0.0 } else { 100.0 })
            .collect();
        data.push(i as i64, &flux, &ivar);
    }
    let rows: Vec<usize> = (0..batch).collect();
    let b = Batch::<B>::from_rows(&data, &rows, &device);

    let mut model = Vae::<B>::new(&cfg, 0, &device).expect("valid config");
    let mut optim = train_optimizer::<B>();
    let mut times = Vec::new();
    for step in 0..warmup + steps {
        let eps: Vec<f32> = (0..batch * cfg.latent_dim)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let t0 = Instant::now();
        let eps = Tensor::from_data(TensorData::new(eps, [batch, cfg.latent_dim]), &device);
        let loss = model.loss(&b, Some(eps), 1.0);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model, grads);
        // The ndarray backend is eager: the update is done when `step` returns.
        let dt = t0.elapsed().as_secs_f64() * 1e3;
        if step >= warmup {
            times.push(dt);
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "burn-ndarray batch={batch} len={len} params={} ms/step median={median:.2} mean={mean:.2}",
        cfg.n_params()
    );
}
