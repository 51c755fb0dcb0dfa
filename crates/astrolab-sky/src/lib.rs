//! Sky geometry for astrolab: angles and unit vectors, ICRS <-> Galactic,
//! HEALPix indices and cone coverage, comoving distances in flat LambdaCDM,
//! and k-d trees for crossmatching and 3-D neighbour searches.
//!
//! Pure functions and types, no I/O. Every module names its reference
//! (paper, algorithm, source of constants) at the top. Units are in the
//! names: `_deg`, `_deg2`, `_mpc_h` (comoving Mpc with `h = 1`).
//!
//! | module | what |
//! |---|---|
//! | [`angles`] | unit vectors, Vincenty separations, chords, validation |
//! | [`galactic`] | ICRS <-> Galactic, matching astropy |
//! | [`healpix`] | depth-29 nested indices, cone coverage as index ranges |
//! | [`cosmology`] | flat LambdaCDM comoving distance in Mpc/h and its inverse |
//! | [`kdtree`] | static 3-D k-d tree (`KdTree3`) |
//! | [`crossmatch`] | `SkyTree` and parallel nearest-neighbour crossmatch |
//!
//! Everything is re-exported at the crate root.
//!
//! ```
//! use astrolab_sky::{angular_separation_deg, cone_ranges, crossmatch_nearest, hpx_index, SkyTree};
//!
//! // Separation across RA = 0/360: 0.2 deg.
//! let sep = angular_separation_deg(359.9, 0.0, 0.1, 0.0);
//! assert!((sep - 0.2).abs() < 1e-12);
//!
//! // A cone search through the depth-29 HEALPix index column.
//! let ranges = cone_ranges(150.0, 2.0, 0.1);
//! let h = hpx_index(150.05, 2.02);
//! assert!(ranges.iter().any(|&(lo, hi)| lo <= h && h <= hi));
//!
//! // Crossmatch within 1 arcsec.
//! let tree = SkyTree::build(&[10.0, 150.0], &[-5.0, 2.0]);
//! let matches = crossmatch_nearest(&[150.0001], &[2.0], &tree, 1.0 / 3600.0);
//! assert_eq!(matches[0].map(|(i, _)| i), Some(1));
//! ```

pub mod angles;
pub mod cosmology;
pub mod crossmatch;
mod error;
pub mod galactic;
pub mod healpix;
pub mod kdtree;
#[cfg(test)]
mod test_util;

pub use angles::{
    angle_between_vectors_deg, angle_for_chord_deg, angular_separation_deg, chord_for_angle_deg,
    normalize_ra_deg, unit_vector, validate_radec,
};
pub use cosmology::{
    radec_z_to_xyz, xyz_to_radec_r, DistanceTable, FlatLcdm, HUBBLE_DISTANCE_MPC_H,
};
pub use crossmatch::{crossmatch_nearest, try_crossmatch_nearest, SkyTree};
pub use error::SkyError;
pub use galactic::{galactic_to_icrs, icrs_to_galactic};
pub use healpix::{
    cone_coverage_depth, cone_ranges, cone_ranges_checked, healpix_n_cells,
    healpix_pixel_area_deg2, hpx_index, hpx_index_at, hpx_index_at_checked, hpx_index_checked,
    INDEX_DEPTH, INVALID_HPX_INDEX,
};
pub use kdtree::KdTree3;
