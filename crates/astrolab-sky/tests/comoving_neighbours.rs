//! End to end for the void finder: galaxies (RA, Dec, z) -> comoving
//! positions through the distance table -> 3-D k-d tree neighbours, checked
//! against brute force and against the redshift-space inverse.

mod common;

use astrolab_sky::{radec_z_to_xyz, xyz_to_radec_r, FlatLcdm, KdTree3};
use common::XorShift;

#[test]
fn comoving_positions_and_neighbours() {
    let cosmo = FlatLcdm::new(0.315).unwrap();
    let table = cosmo.distance_table(0.2);
    let mut rng = XorShift::new(77);
    let n = 20_000;
    let mut galaxies = Vec::with_capacity(n);
    let mut xyz = Vec::with_capacity(n);
    for _ in 0..n {
        let (ra, dec) = rng.sky();
        let z = 0.01 + rng.uniform() * 0.19;
        let r = table.comoving_distance_mpc_h(z);
        galaxies.push((ra, dec, z));
        xyz.push(radec_z_to_xyz(ra, dec, r));
    }
    // Round trip back to (RA, Dec, z).
    for (&(ra, dec, z), &p) in galaxies.iter().zip(&xyz).step_by(97) {
        let (ra2, dec2, r2) = xyz_to_radec_r(p);
        assert!(astrolab_sky::angular_separation_deg(ra, dec, ra2, dec2) < 1e-10);
        assert!((table.redshift_at_distance(r2) - z).abs() < 1e-11);
        assert!((cosmo.redshift_at_distance(r2) - z).abs() < 1e-11);
    }
    let tree = KdTree3::build(&xyz);
    for _ in 0..300 {
        let q = [
            rng.uniform() * 1200.0 - 600.0,
            rng.uniform() * 1200.0 - 600.0,
            rng.uniform() * 1200.0 - 600.0,
        ];
        let mut all: Vec<(usize, f64)> = xyz
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let d2 = (q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2) + (q[2] - p[2]).powi(2);
                (i, d2)
            })
            .collect();
        all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let want: Vec<(usize, f64)> = all.iter().take(4).map(|&(i, d2)| (i, d2.sqrt())).collect();
        let got = tree.k_nearest(q, 4);
        assert_eq!(got.len(), 4);
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.0, w.0);
            assert!((g.1 - w.1).abs() <= 1e-9 * w.1.max(1.0));
        }
        let r = 30.0;
        let n_within = all.iter().filter(|&&(_, d2)| d2.sqrt() <= r).count();
        assert_eq!(tree.within_radius(q, r).len(), n_within);
    }
}
