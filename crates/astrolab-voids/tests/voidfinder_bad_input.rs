//! VoidFinder on bad input: clear errors, or documented behaviour.

use astrolab_voids::finder::{find_voids, FinderError, VoidFinderConfig};
use astrolab_voids::geometry::{radec_z_to_comoving_xyz, GeometryError};
use astrolab_voids::mask::{Footprint, MaskError, RaDecGrid, SurveyMask};

fn box_mask() -> SurveyMask {
    SurveyMask::Box {
        lo: [0.0; 3],
        hi: [60.0; 3],
    }
}

/// A jittered lattice of 4 Mpc/h with a 12 Mpc/h cavity at the centre.
fn lattice() -> Vec<[f64; 3]> {
    let mut g = Vec::new();
    for i in 0..16 {
        for j in 0..16 {
            for k in 0..16 {
                let p = [
                    i as f64 * 4.0 + 0.011 * j as f64,
                    j as f64 * 4.0 + 0.017 * k as f64,
                    k as f64 * 4.0 + 0.013 * i as f64,
                ];
                let d2: f64 = p.iter().map(|x| (x - 30.0) * (x - 30.0)).sum();
                if d2 > 144.0 {
                    g.push(p);
                }
            }
        }
    }
    g
}

#[test]
fn voidfinder_empty_catalog_is_an_error() {
    let e = find_voids(&[], &box_mask(), &VoidFinderConfig::default());
    assert!(matches!(e, Err(FinderError::Empty)), "{e:?}");
    let e = RaDecGrid::from_galaxies(&[], &[], 1, true);
    assert!(matches!(e, Err(MaskError::Empty)), "{e:?}");
}

#[test]
fn voidfinder_nan_redshift_names_the_row() {
    let ra = [150.0, 151.0, 152.0];
    let dec = [10.0, 11.0, 12.0];
    let z = [0.05, f64::NAN, 0.07];
    match radec_z_to_comoving_xyz(&ra, &dec, &z, 0.26) {
        Err(e @ GeometryError::BadValue { row: 1, .. }) => {
            assert!(e.to_string().contains("row 1"), "{e}");
            assert!(e.to_string().contains("redshift"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // A NaN position reaching the finder is refused with its row too.
    let mut g = lattice();
    g[5][2] = f64::NAN;
    match find_voids(&g, &box_mask(), &VoidFinderConfig::default()) {
        Err(FinderError::NonFinite { row: 5, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn voidfinder_too_few_galaxies() {
    let g = [[1.0, 1.0, 1.0], [2.0, 1.0, 1.0], [1.0, 2.0, 1.0]];
    let cfg = VoidFinderConfig {
        remove_isolated: false,
        ..VoidFinderConfig::default()
    };
    assert!(matches!(
        find_voids(&g, &box_mask(), &cfg),
        Err(FinderError::TooFewWall(3))
    ));
    let bad = VoidFinderConfig {
        hole_grid_edge_mpc_h: 0.0,
        ..VoidFinderConfig::default()
    };
    assert!(matches!(
        find_voids(&g, &box_mask(), &bad),
        Err(FinderError::Parameter {
            name: "hole_grid_edge_mpc_h",
            ..
        })
    ));
}

#[test]
fn voidfinder_galaxies_outside_the_mask_bound_holes_but_hold_no_hole_centre() {
    // Documented behaviour (as VAST): galaxies outside the footprint are
    // kept as hole boundaries; hole centres and 90 % of each hole's volume
    // stay inside the mask.
    let cfg = VoidFinderConfig {
        remove_isolated: false,
        ..VoidFinderConfig::default()
    };
    let inner = SurveyMask::Box {
        lo: [10.0; 3],
        hi: [50.0; 3],
    };
    let g = lattice();
    let outside = g.iter().filter(|p| !inner.contains(**p)).count();
    assert_eq!(outside, 3096);
    let out = find_voids(&g, &inner, &cfg).unwrap();
    assert_eq!(out.wall_xyz.len(), g.len());
    assert!(!out.holes.is_empty());
    for h in &out.holes {
        assert!(inner.contains(h.center_mpc_h), "{:?}", h.center_mpc_h);
    }
    // The cavity is found: a 12 Mpc/h hole around (30, 30, 30).
    assert!(out.maximals.iter().any(|m| {
        let d: f64 = m.center_mpc_h.iter().map(|x| (x - 30.0) * (x - 30.0)).sum();
        d.sqrt() < 2.0 && m.radius_mpc_h > 11.0
    }));
    // A sky mask that excludes every galaxy direction: no hole survives.
    let grid = RaDecGrid::from_galaxies(&[300.0], &[-60.0], 1, false).unwrap();
    let sky = SurveyMask::sky(Footprint::RaDec(grid), 1.0, 100.0).unwrap();
    let out = find_voids(&g, &sky, &cfg).unwrap();
    assert!(out.holes.is_empty() && out.maximals.is_empty());
}
