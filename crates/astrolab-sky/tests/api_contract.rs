//! The signatures other crates were promised (see the crate brief); this
//! file fails to compile if one of them changes.

// Spelling out the full signatures is the point of this file.
#![allow(clippy::type_complexity)]

use astrolab_sky::*;

#[test]
fn public_signatures_are_stable() {
    let _: fn(f64, f64) -> [f64; 3] = unit_vector;
    let _: fn(f64, f64, f64, f64) -> f64 = angular_separation_deg;
    let _: fn(f64) -> f64 = chord_for_angle_deg;
    let _: fn(f64) -> f64 = angle_for_chord_deg;
    let _: fn(f64, f64) -> Result<(), SkyError> = validate_radec;
    let _: fn(f64) -> f64 = normalize_ra_deg;

    let _: u8 = INDEX_DEPTH;
    assert_eq!(INDEX_DEPTH, 29);
    let _: fn(f64, f64) -> i64 = hpx_index;
    let _: fn(u8, f64, f64) -> u64 = hpx_index_at;
    let _: fn(f64, f64, f64) -> Vec<(i64, i64)> = cone_ranges;
    let _: fn(u8) -> f64 = healpix_pixel_area_deg2;

    let _: fn(f64) -> Result<FlatLcdm, SkyError> = FlatLcdm::new;
    let _: fn(&FlatLcdm, f64) -> f64 = FlatLcdm::comoving_distance_mpc_h;
    let _: fn(&FlatLcdm, f64) -> f64 = FlatLcdm::redshift_at_distance;
    let _: fn(&FlatLcdm, f64) -> DistanceTable = FlatLcdm::distance_table;
    let c = FlatLcdm { omega_m: 0.3 };
    assert_eq!(c.omega_m, 0.3);
    let _: fn(f64, f64, f64) -> [f64; 3] = radec_z_to_xyz;
    let _: fn([f64; 3]) -> (f64, f64, f64) = xyz_to_radec_r;

    let _: fn(f64, f64) -> (f64, f64) = icrs_to_galactic;
    let _: fn(f64, f64) -> (f64, f64) = galactic_to_icrs;

    let _: fn(&[f64], &[f64]) -> SkyTree = SkyTree::build;
    let _: fn(&SkyTree) -> usize = SkyTree::len;
    let _: fn(&SkyTree, f64, f64, f64) -> Option<(usize, f64)> = SkyTree::nearest_within;
    let _: fn(&SkyTree, f64, f64, f64) -> Vec<(usize, f64)> = SkyTree::within;
    let _: fn(&[f64], &[f64], &SkyTree, f64) -> Vec<Option<(usize, f64)>> = crossmatch_nearest;

    let _: fn(&[[f64; 3]]) -> KdTree3 = KdTree3::build;
    let _: fn(&KdTree3, [f64; 3]) -> Option<(usize, f64)> = KdTree3::nearest;
    let _: fn(&KdTree3, [f64; 3], usize) -> Vec<(usize, f64)> = KdTree3::k_nearest;
    let _: fn(&KdTree3, [f64; 3], f64) -> Vec<(usize, f64)> = KdTree3::within_radius;

    // SkyError is a std error with a message naming the value.
    let e: Box<dyn std::error::Error + Send + Sync> =
        Box::new(SkyError::DecOutOfRange { dec_deg: 91.0 });
    assert!(e.to_string().contains("91"));
}
