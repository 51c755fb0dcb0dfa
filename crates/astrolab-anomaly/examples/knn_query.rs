//! Times "spectra like this one" (exact k nearest neighbours in latent
//! space, `astrolab_anomaly::knn`) over a table of synthetic latents the
//! size of DESI DR1's quasars, for comparison with NumPy's brute force on
//! the same table (`bench/peer_knn.py`).
//!
//! ```text
//! cargo run --release -p astrolab-anomaly --example knn_query -- [n] [dim] [queries] [k] [threads] [table.f32]
//! ```
//!
//! Defaults: 1,600,000 rows of 16-D seeded standard-normal latents, 200
//! queries (each a stored row, left out of its own answer), k = 20, 2
//! threads. With a path, the table is also written there (raw
//! little-endian f32, row-major) with the query rows in `PATH.queries`, so
//! the peer answers the same queries on the same numbers. Prints one line:
//! `astrolab knn n=... dim=... k=... threads=... ms/query p50=... p95=... mean=...`.

use std::io::Write;
use std::time::Instant;

use astrolab_anomaly::knn::nearest;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| -> usize {
        args.get(i)
            .map(|a| {
                a.parse()
                    .expect("arguments: [n] [dim] [queries] [k] [threads] [table.f32]")
            })
            .unwrap_or(d)
    };
    let (n, dim, queries, k, threads) = (
        num(0, 1_600_000),
        num(1, 16),
        num(2, 200),
        num(3, 20),
        num(4, 2),
    );
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let latents: Vec<f32> = (0..n * dim)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let rows: Vec<usize> = (0..queries).map(|_| rng.gen_range(0..n)).collect();
    if let Some(path) = args.get(5) {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("table file"));
        for x in &latents {
            f.write_all(&x.to_le_bytes()).unwrap();
        }
        let q: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
        std::fs::write(format!("{path}.queries"), q.join("\n")).unwrap();
    }
    // One warm-up query (page faults, thread start-up).
    let _ = nearest(&latents, dim, &latents[..dim], k, Some(0), threads);
    let mut ms: Vec<f64> = Vec::with_capacity(queries);
    let mut checksum = 0usize;
    for &r in &rows {
        let q = &latents[r * dim..(r + 1) * dim];
        let t = Instant::now();
        let nn = nearest(&latents, dim, q, k, Some(r), threads);
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        checksum = checksum.wrapping_add(nn[0].row);
    }
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    println!(
        "astrolab knn n={n} dim={dim} k={k} threads={threads} ms/query p50={:.3} p95={:.3} mean={mean:.3} first-neighbour-sum={checksum}",
        pct(0.5),
        pct(0.95)
    );
}
