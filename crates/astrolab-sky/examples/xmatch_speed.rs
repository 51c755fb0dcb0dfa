//! Times a crossmatch of 500 k positions against 5 M at 1 arcsec, tree build
//! included, on seeded random points: the catalogue is uniform on the
//! sphere; every other query is a catalogue position moved by up to 1.5
//! radii in RA and in Dec (about a third of those land within the radius),
//! the rest are uniform too.
//!
//! ```text
//! cargo run --release -p astrolab-sky --example xmatch_speed [N_CATALOGUE] [N_QUERIES] [RADIUS_ARCSEC]
//! ```
//!
//! Set `RAYON_NUM_THREADS` to choose the number of threads.

use astrolab_sky::{crossmatch_nearest, SkyTree};
use std::time::Instant;

/// xorshift64* (S. Vigna 2016): a tiny seeded generator, so the example
/// needs no `rand` dependency.
struct XorShift(u64);

impl XorShift {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform on the sphere, degrees.
    fn sky(&mut self) -> (f64, f64) {
        let ra = self.uniform() * 360.0;
        let dec = (2.0 * self.uniform() - 1.0).asin().to_degrees();
        (ra, dec)
    }
}

fn arg(i: usize, default: f64) -> f64 {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n_catalogue = arg(1, 5e6) as usize;
    let n_queries = arg(2, 5e5) as usize;
    let radius_arcsec = arg(3, 1.0);
    let radius_deg = radius_arcsec / 3600.0;

    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let (mut b_ra, mut b_dec) = (
        Vec::with_capacity(n_catalogue),
        Vec::with_capacity(n_catalogue),
    );
    for _ in 0..n_catalogue {
        let (ra, dec) = rng.sky();
        b_ra.push(ra);
        b_dec.push(dec);
    }
    let (mut a_ra, mut a_dec) = (Vec::with_capacity(n_queries), Vec::with_capacity(n_queries));
    for i in 0..n_queries {
        let (ra, dec) = if i % 2 == 0 && n_catalogue > 0 {
            // A catalogue position moved by up to ~1.5 arcsec in RA and Dec.
            let j = (rng.uniform() * n_catalogue as f64) as usize % n_catalogue;
            let dra = (rng.uniform() - 0.5) * 3.0 * radius_deg;
            let ddec = (rng.uniform() - 0.5) * 3.0 * radius_deg;
            let dec = (b_dec[j] + ddec).clamp(-90.0, 90.0);
            let ra = (b_ra[j] + dra / dec.to_radians().cos().max(1e-6)).rem_euclid(360.0);
            (ra, dec)
        } else {
            rng.sky()
        };
        a_ra.push(ra);
        a_dec.push(dec);
    }

    let threads = rayon::current_num_threads();
    let t0 = Instant::now();
    let tree = SkyTree::build(&b_ra, &b_dec);
    let t_build = t0.elapsed();
    let t1 = Instant::now();
    let matches = crossmatch_nearest(&a_ra, &a_dec, &tree, radius_deg);
    let t_query = t1.elapsed();
    let total = t0.elapsed();

    let n_matched = matches.iter().filter(|m| m.is_some()).count();
    println!(
        "crossmatch {n_queries} against {n_catalogue} within {radius_arcsec} arcsec on {threads} threads"
    );
    println!("  build  {:8.3} s", t_build.as_secs_f64());
    println!("  query  {:8.3} s", t_query.as_secs_f64());
    println!(
        "  total  {:8.3} s   ({n_matched} matched)",
        total.as_secs_f64()
    );
}
