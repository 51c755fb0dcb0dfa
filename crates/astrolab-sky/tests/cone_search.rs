//! End to end: a cone search the way the store runs it (depth-29 index
//! column, `cone_ranges`, then an exact separation filter) finds exactly the
//! rows `SkyTree::within` finds, everywhere on the sky.

mod common;

use astrolab_sky::{angular_separation_deg, cone_ranges, hpx_index, SkyTree};
use common::XorShift;

#[test]
fn index_ranges_plus_exact_filter_equals_tree_search() {
    let mut rng = XorShift::new(1234);
    let n = 200_000;
    let mut ra = Vec::with_capacity(n);
    let mut dec = Vec::with_capacity(n);
    for i in 0..n {
        // A uniform sky plus dense caps at both poles and a strip on RA = 0.
        let (r, d) = match i % 8 {
            0 => (rng.uniform() * 360.0, 90.0 - rng.uniform() * 2.0),
            1 => (rng.uniform() * 360.0, -90.0 + rng.uniform() * 2.0),
            2 => (
                (rng.uniform() - 0.5).rem_euclid(360.0),
                rng.uniform() * 10.0 - 5.0,
            ),
            _ => rng.sky(),
        };
        ra.push(r);
        dec.push(d);
    }
    // The "table": rows sorted by their index, as a B-tree would hold them.
    let mut rows: Vec<(i64, usize)> = ra
        .iter()
        .zip(&dec)
        .enumerate()
        .map(|(i, (&r, &d))| (hpx_index(r, d), i))
        .collect();
    rows.sort_unstable();
    let tree = SkyTree::build(&ra, &dec);

    let centres = [
        (0.0, 90.0),
        (123.0, -90.0),
        (0.0, 0.0),
        (359.99, 1.0),
        (0.2, -2.0),
        (200.0, 89.5),
    ];
    for k in 0..120 {
        let (cra, cdec) = if k < centres.len() {
            centres[k]
        } else {
            rng.sky()
        };
        let radius = if k < centres.len() {
            1.0
        } else {
            [2.0 / 3600.0, 0.05, 0.5, 1.0, 3.0][k % 5]
        };
        let mut found: Vec<usize> = Vec::new();
        for (lo, hi) in cone_ranges(cra, cdec, radius) {
            let start = rows.partition_point(|&(h, _)| h < lo);
            for &(h, i) in &rows[start..] {
                if h > hi {
                    break;
                }
                if angular_separation_deg(cra, cdec, ra[i], dec[i]) <= radius {
                    found.push(i);
                }
            }
        }
        found.sort_unstable();
        let mut want: Vec<usize> = tree
            .within(cra, cdec, radius)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        want.sort_unstable();
        // The two exact filters (Vincenty on (RA, Dec), chord on unit vectors)
        // may disagree only for rows within rounding of the edge.
        let differ: Vec<usize> = found
            .iter()
            .chain(&want)
            .copied()
            .filter(|i| found.binary_search(i).is_err() || want.binary_search(i).is_err())
            .collect();
        for i in differ {
            let sep = angular_separation_deg(cra, cdec, ra[i], dec[i]);
            assert!(
                (sep - radius).abs() < 1e-12,
                "cone ({cra}, {cdec}, {radius}): row {i} at {sep} found by one search only"
            );
        }
        if k < centres.len() {
            assert!(!want.is_empty(), "dense regions must have rows in the cone");
        }
    }
}
