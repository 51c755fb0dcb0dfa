use astrolab_sky::*;
use rayon::prelude::*;
use std::time::Instant;
fn main() {
    let n = 5_000_000usize;
    let nq = 500_000usize;
    let mut s: u64 = 88172645463325252;
    let mut next = || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; (s >> 11) as f64 / (1u64 << 53) as f64 };
    let ra: Vec<f64> = (0..n).map(|_| next() * 360.0).collect();
    let dec: Vec<f64> = (0..n).map(|_| (2.0 * next() - 1.0).asin().to_degrees()).collect();
    let qra: Vec<f64> = (0..nq).map(|i| if i % 2 == 0 { ra[i * 7] + 1e-4 } else { next() * 360.0 }).collect();
    let qdec: Vec<f64> = (0..nq).map(|i| if i % 2 == 0 { dec[i * 7] } else { (2.0 * next() - 1.0).asin().to_degrees() }).collect();
    let (mut a, mut b, mut c, mut d) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..5 {
        let t = Instant::now();
        let v: Vec<[f64;3]> = ra.par_iter().zip(dec.par_iter()).map(|(&r,&d)| unit_vector(r,d)).collect();
        a = a.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let tree = KdTree3::build(&v);
        b = b.min(t.elapsed().as_secs_f64());
        drop(tree);
        let t = Instant::now();
        let st = SkyTree::build(&ra, &dec);
        c = c.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let m = crossmatch_nearest(&qra, &qdec, &st, 1.0 / 3600.0);
        d = d.min(t.elapsed().as_secs_f64());
        assert!(m.len() == nq);
    }
    println!("threads {} unit {:.3} kdbuild {:.3} skybuild {:.3} query {:.3} (min of 5)", rayon::current_num_threads(), a, b, c, d);
}
