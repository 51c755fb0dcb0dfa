//! HEALPix indices (nested scheme) and cone coverage as index ranges.
//!
//! References:
//! - HEALPix: K. M. Gorski et al. 2005, ApJ 622, 759. Nested numbering,
//!   `N_pix = 12 * 4^depth`, equal-area pixels of `4 pi / N_pix` sr (eq. 2).
//! - Implementation: CDS's `cdshealpix` crate (F.-X. Pineau & F. Bonnarel,
//!   "HEALPix for the VO", ADASS 2017), whose `cone_coverage_approx_custom`
//!   returns every cell overlapped by a cone, possibly with a few extra
//!   neighbours, never fewer.
//!
//! Every sky row stores the nested index of its position at
//! [`INDEX_DEPTH`] = 29 (the deepest cdshealpix level, cells of about
//! 0.4 milli-arcsec). A cell at a shallower depth `d` is the contiguous block
//! of depth-29 indices `[h << 2(29 - d), (h + 1) << 2(29 - d))`, so a cone
//! search becomes a short list of index ranges that a B-tree can scan, as
//! in Q3C-free PostgreSQL or SQLite.

use crate::angles::check_position;
use crate::angles::normalize_ra_deg;
use crate::SkyError;
use cdshealpix::nested;
use std::f64::consts::FRAC_PI_2;

/// Depth of the nested HEALPix index stored with every sky row.
pub const INDEX_DEPTH: u8 = 29;

/// Returned by [`hpx_index`] for a position that has no index (non-finite
/// coordinates or `|dec_deg| > 90`). It is negative, so it lies in no range
/// returned by [`cone_ranges`].
pub const INVALID_HPX_INDEX: i64 = -1;

/// Number of cells over the whole sky at `depth`: `12 * 4^depth` (depth
/// capped at 29).
pub fn healpix_n_cells(depth: u8) -> u64 {
    12u64 << (2 * u32::from(depth.min(INDEX_DEPTH)))
}

/// Area of one HEALPix cell at `depth` in square degrees,
/// `(4 pi / (12 * 4^depth)) * (180 / pi)^2` (Gorski et al. 2005, eq. 2).
///
/// Defined for any depth (the formula does not need cdshealpix).
pub fn healpix_pixel_area_deg2(depth: u8) -> f64 {
    let full_sky_deg2 = 4.0 * std::f64::consts::PI * (180.0 / std::f64::consts::PI).powi(2);
    full_sky_deg2 / (12.0 * 4f64.powi(i32::from(depth)))
}

/// Converts a position to the (lon, lat) in radians that cdshealpix expects,
/// or `None` if it has no HEALPix cell.
fn lonlat_rad(ra_deg: f64, dec_deg: f64) -> Option<(f64, f64)> {
    if !ra_deg.is_finite() || !dec_deg.is_finite() || !(-90.0..=90.0).contains(&dec_deg) {
        return None;
    }
    let lon = normalize_ra_deg(ra_deg).to_radians();
    // Clamp so that 90 deg converted to radians never exceeds pi/2 by an
    // ulp (cdshealpix asserts on the latitude range).
    let lat = dec_deg.to_radians().clamp(-FRAC_PI_2, FRAC_PI_2);
    Some((lon, lat))
}

/// Nested HEALPix index at depth 29 of (RA, Dec).
///
/// RA may be in any range (it is wrapped). Returns [`INVALID_HPX_INDEX`]
/// for non-finite input or `|dec_deg| > 90`; use [`hpx_index_checked`] to
/// get an error instead.
pub fn hpx_index(ra_deg: f64, dec_deg: f64) -> i64 {
    match lonlat_rad(ra_deg, dec_deg) {
        // Depth-29 indices are < 12 * 4^29 < 2^63, so the cast is lossless.
        Some((lon, lat)) => nested::hash(INDEX_DEPTH, lon, lat) as i64,
        None => INVALID_HPX_INDEX,
    }
}

/// Like [`hpx_index`] but reports invalid coordinates as an error.
pub fn hpx_index_checked(ra_deg: f64, dec_deg: f64) -> Result<i64, SkyError> {
    check_position(ra_deg, dec_deg)?;
    Ok(hpx_index(ra_deg, dec_deg))
}

/// Nested HEALPix index of (RA, Dec) at `depth` (0 to 29).
///
/// Returns `u64::MAX` (never a valid index) for `depth > 29`, non-finite
/// input or `|dec_deg| > 90`; use [`hpx_index_at_checked`] to get an error
/// instead.
pub fn hpx_index_at(depth: u8, ra_deg: f64, dec_deg: f64) -> u64 {
    if depth > INDEX_DEPTH {
        return u64::MAX;
    }
    match lonlat_rad(ra_deg, dec_deg) {
        Some((lon, lat)) => nested::hash(depth, lon, lat),
        None => u64::MAX,
    }
}

/// Like [`hpx_index_at`] but reports an invalid depth or position as an
/// error.
pub fn hpx_index_at_checked(depth: u8, ra_deg: f64, dec_deg: f64) -> Result<u64, SkyError> {
    if depth > INDEX_DEPTH {
        return Err(SkyError::InvalidDepth { depth });
    }
    check_position(ra_deg, dec_deg)?;
    Ok(hpx_index_at(depth, ra_deg, dec_deg))
}

/// Side of a cell at `depth` in degrees, `sqrt(pixel area)`: about
/// 58.6 deg / 2^depth.
fn cell_side_deg(depth: u8) -> f64 {
    healpix_pixel_area_deg2(depth).sqrt()
}

/// Depth at which [`cone_ranges`] computes the coverage of a cone of
/// `radius_deg`: the deepest depth whose cell side (square root of the cell
/// area, about 58.6 deg / 2^depth) is still at least half the radius,
/// capped to 29.
///
/// Rationale, measured over 2000 random cones per radius (10 % of them
/// within 0.01 deg of the north pole) for radii of 1, 3 and 10 arcsec,
/// 1 arcmin, 0.05, 0.1, 0.3, 1, 3 and 10 deg, with cdshealpix testing the
/// overlap [`COVERAGE_DELTA_DEPTH`] = 2 levels deeper and keeping cells at
/// this depth:
///
/// | cell side / radius | ranges, mean | ranges, max | area / cone area, mean | max |
/// |---|---|---|---|---|
/// | >= 1    | 3-4 | 8  | 3.0-4.9 | 7.5 |
/// | >= 1/2 (chosen) | 5-7 | 12 | 1.9-2.7 | 3.5 |
/// | >= 1/4  | 9-14 | 21 | 1.5-1.9 | 2.7 |
///
/// Halving the cell side roughly doubles the number of ranges (more seeks
/// in a B-tree) while the covered area tends to the cone area; one half is
/// the point where both stay small. The test
/// `cone_ranges_counts_and_area_are_bounded` keeps these bounds honest.
pub fn cone_coverage_depth(radius_deg: f64) -> u8 {
    let mut depth = 0u8;
    while depth < INDEX_DEPTH && cell_side_deg(depth + 1) >= COVERAGE_SIDE_OVER_RADIUS * radius_deg
    {
        depth += 1;
    }
    depth
}

/// See [`cone_coverage_depth`].
const COVERAGE_SIDE_OVER_RADIUS: f64 = 0.5;
/// Extra levels below the coverage depth at which cdshealpix tests the
/// overlap of cells with the cone, trimming cells that only a coarse test
/// would keep (see [`cone_coverage_depth`]).
pub const COVERAGE_DELTA_DEPTH: u8 = 2;

/// Smallest radius passed to cdshealpix (it rejects 0): 3.6 micro-arcsec.
const MIN_CONE_RADIUS_DEG: f64 = 1e-9;

/// Sorted, merged, inclusive ranges `[lo, hi]` of depth-29 nested indices
/// that together cover the whole cone of `radius_deg` around (RA, Dec).
///
/// The coverage is a superset: rows found through these ranges must still
/// be filtered by their exact separation. The coverage is computed at
/// [`cone_coverage_depth`]`(radius_deg)` with overlaps tested
/// [`COVERAGE_DELTA_DEPTH`] levels deeper, which keeps the list short (at
/// most about 12 ranges for radii from 1 arcsec to 10 deg) and the covered
/// area within about 3.5 times the cone area. Correct across RA = 0/360 and at the poles (cdshealpix works on
/// the sphere, not in (RA, Dec)).
///
/// A radius of 180 deg or more gives the whole sky; a radius of 0 gives the
/// cell holding the centre. Returns an empty list for non-finite input, a
/// negative radius or `|dec_deg| > 90`; use [`cone_ranges_checked`] to get
/// an error instead.
pub fn cone_ranges(ra_deg: f64, dec_deg: f64, radius_deg: f64) -> Vec<(i64, i64)> {
    let Some((lon, lat)) = lonlat_rad(ra_deg, dec_deg) else {
        return Vec::new();
    };
    if radius_deg.is_nan() || radius_deg < 0.0 {
        return Vec::new();
    }
    if radius_deg >= 180.0 {
        return vec![(0, healpix_n_cells(INDEX_DEPTH) as i64 - 1)];
    }
    // cdshealpix asserts a strictly positive radius; a floor far below the
    // depth-29 cell size (0.39 mas) changes nothing else.
    let radius_deg = radius_deg.max(MIN_CONE_RADIUS_DEG);
    let depth = cone_coverage_depth(radius_deg);
    let delta_depth = COVERAGE_DELTA_DEPTH.min(INDEX_DEPTH - depth);
    let bmoc =
        nested::cone_coverage_approx_custom(depth, delta_depth, lon, lat, radius_deg.to_radians());
    let shift = 2 * u32::from(INDEX_DEPTH - depth);
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    // `to_ranges` gives half-open ranges at `depth`, sorted, with adjacent
    // cells already merged.
    for r in bmoc.to_ranges().iter() {
        let lo = (r.start << shift) as i64;
        let hi = ((r.end << shift) - 1) as i64;
        match ranges.last_mut() {
            Some(last) if last.1 + 1 >= lo => last.1 = last.1.max(hi),
            _ => ranges.push((lo, hi)),
        }
    }
    ranges
}

/// Like [`cone_ranges`] but reports invalid input as an error.
pub fn cone_ranges_checked(
    ra_deg: f64,
    dec_deg: f64,
    radius_deg: f64,
) -> Result<Vec<(i64, i64)>, SkyError> {
    check_position(ra_deg, dec_deg)?;
    if !radius_deg.is_finite() || radius_deg < 0.0 {
        return Err(SkyError::InvalidRadius { radius_deg });
    }
    Ok(cone_ranges(ra_deg, dec_deg, radius_deg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::angles::angular_separation_deg;
    use crate::test_util::{offset_by, XorShift};

    fn in_ranges(ranges: &[(i64, i64)], h: i64) -> bool {
        // Ranges are sorted and disjoint: binary search.
        let i = ranges.partition_point(|&(_, hi)| hi < h);
        i < ranges.len() && ranges[i].0 <= h
    }

    fn check_well_formed(ranges: &[(i64, i64)]) {
        for &(lo, hi) in ranges {
            assert!(0 <= lo && lo <= hi && hi < healpix_n_cells(INDEX_DEPTH) as i64);
        }
        for w in ranges.windows(2) {
            // Sorted, disjoint and merged (a gap of at least one index).
            assert!(w[0].1 + 1 < w[1].0, "{:?} then {:?}", w[0], w[1]);
        }
    }

    #[test]
    fn pixel_area_and_counts() {
        let full_sky_deg2 = 41_252.961_249_419_27;
        assert!((healpix_pixel_area_deg2(0) * 12.0 - full_sky_deg2).abs() < 1e-9);
        // Depth 29: about 3.9e-13 deg^2, i.e. cells ~0.39 mas on a side.
        let a29 = healpix_pixel_area_deg2(29);
        assert!((a29 * 12.0 * 4f64.powi(29) - full_sky_deg2).abs() < 1e-6);
        assert_eq!(healpix_n_cells(0), 12);
        assert_eq!(healpix_n_cells(29), 12 << 58);
        assert!(healpix_n_cells(29) < i64::MAX as u64);
    }

    #[test]
    fn known_base_cells() {
        // Nested base cells (Gorski et al. 2005, fig. 4): 0-3 north, 4-7
        // equatorial (centred on RA 0, 90, 180, 270), 8-11 south.
        assert_eq!(hpx_index_at(0, 45.0, 41.8), 0);
        assert_eq!(hpx_index_at(0, 135.0, 41.8), 1);
        assert_eq!(hpx_index_at(0, 0.0, 0.0), 4);
        assert_eq!(hpx_index_at(0, 90.0, 0.0), 5);
        assert_eq!(hpx_index_at(0, 180.0, 0.0), 6);
        assert_eq!(hpx_index_at(0, 270.0, 0.0), 7);
        assert_eq!(hpx_index_at(0, 45.0, -41.8), 8);
        assert_eq!(hpx_index_at(0, 315.0, -41.8), 11);
        // cdshealpix's own example: the last cell of base cell 0 at depth 12.
        let nside = 1u64 << 12;
        assert_eq!(hpx_index_at(12, 12.5, 89.99999), nside * nside - 1);
        // The poles have valid indices in the polar base cells.
        assert!(hpx_index_at(0, 0.0, 90.0) < 4);
        assert!((8..12).contains(&hpx_index_at(0, 0.0, -90.0)));
    }

    #[test]
    fn shallow_index_is_a_prefix_of_the_deep_one() {
        let mut rng = XorShift::new(3);
        for _ in 0..2000 {
            let (ra, dec) = rng.sky();
            let h29 = hpx_index(ra, dec);
            assert!(h29 >= 0);
            for depth in [0u8, 5, 11, 20, 28] {
                let h = hpx_index_at(depth, ra, dec);
                assert_eq!(h, (h29 as u64) >> (2 * (29 - depth)), "depth {depth}");
            }
        }
        // RA wrap: 360 is 0, -10 is 350.
        assert_eq!(hpx_index(360.0, 12.0), hpx_index(0.0, 12.0));
        assert_eq!(hpx_index(-10.0, 12.0), hpx_index(350.0, 12.0));
    }

    #[test]
    fn invalid_positions_have_no_index() {
        assert_eq!(hpx_index(f64::NAN, 0.0), INVALID_HPX_INDEX);
        assert_eq!(hpx_index(0.0, f64::INFINITY), INVALID_HPX_INDEX);
        assert_eq!(hpx_index(0.0, 90.5), INVALID_HPX_INDEX);
        assert_eq!(hpx_index_at(30, 0.0, 0.0), u64::MAX);
        assert_eq!(hpx_index_at(3, 0.0, -91.0), u64::MAX);
        assert_eq!(
            hpx_index_checked(0.0, 95.0),
            Err(SkyError::DecOutOfRange { dec_deg: 95.0 })
        );
        assert_eq!(
            hpx_index_at_checked(31, 0.0, 0.0),
            Err(SkyError::InvalidDepth { depth: 31 })
        );
        assert!(hpx_index_checked(f64::NAN, 0.0).is_err());
        assert_eq!(hpx_index_checked(10.0, 20.0), Ok(hpx_index(10.0, 20.0)));
        assert!(cone_ranges(f64::NAN, 0.0, 1.0).is_empty());
        assert!(cone_ranges(0.0, 0.0, -1.0).is_empty());
        assert!(cone_ranges(0.0, 0.0, f64::NAN).is_empty());
        assert!(cone_ranges(0.0, 100.0, 1.0).is_empty());
        assert_eq!(
            cone_ranges_checked(0.0, 0.0, -1.0),
            Err(SkyError::InvalidRadius { radius_deg: -1.0 })
        );
        assert!(cone_ranges_checked(0.0, 0.0, f64::INFINITY).is_err());
    }

    #[test]
    fn degenerate_cones() {
        let all = cone_ranges(10.0, 10.0, 180.0);
        assert_eq!(all, vec![(0, healpix_n_cells(29) as i64 - 1)]);
        assert_eq!(cone_ranges(10.0, 10.0, 1e6), all);
        // Radius 0 still covers the centre.
        for (ra, dec) in [(10.0, 10.0), (0.0, 90.0), (359.999_999, -90.0), (0.0, 0.0)] {
            let r = cone_ranges(ra, dec, 0.0);
            check_well_formed(&r);
            assert!(in_ranges(&r, hpx_index(ra, dec)), "({ra}, {dec})");
        }
        // Large cones, including a hemisphere and more.
        for radius in [1e-300, 1e-12, 1e-9, 1e-7, 45.0, 90.0, 120.0, 179.9] {
            let r = cone_ranges(33.0, -60.0, radius);
            check_well_formed(&r);
            assert!(!r.is_empty());
        }
    }

    /// Random cones, including at both poles and on RA = 0: every random
    /// point inside the cone (and on its edge) has its index in a range.
    #[test]
    fn cone_ranges_cover_random_points() {
        let mut rng = XorShift::new(2024);
        let radii = [
            1.0 / 3600.0,
            2.5 / 3600.0,
            10.0 / 3600.0,
            1.0 / 60.0,
            0.1,
            0.7,
            1.0,
            3.0,
            10.0,
            30.0,
        ];
        for cone in 0..400 {
            let (ra, dec) = match cone % 8 {
                0 => (rng.uniform() * 360.0, 90.0),
                1 => (rng.uniform() * 360.0, -90.0),
                2 => (0.0, rng.uniform() * 180.0 - 90.0),
                3 => (360.0 - 1e-9, rng.uniform() * 180.0 - 90.0),
                4 => (rng.uniform() * 360.0, 90.0 - rng.uniform() * 1e-3),
                _ => rng.sky(),
            };
            let radius = radii[cone % radii.len()];
            let ranges = cone_ranges(ra, dec, radius);
            check_well_formed(&ranges);
            assert!(ranges.len() <= 30, "{} ranges", ranges.len());
            assert_eq!(
                cone_ranges_checked(ra, dec, radius).as_deref(),
                Ok(&ranges[..])
            );
            for k in 0..300 {
                // Uniform in area inside the cap, plus points on the edge.
                let sep = if k < 30 {
                    radius * (1.0 - 1e-9)
                } else {
                    let u = rng.uniform();
                    let cos_r = radius.to_radians().cos();
                    (1.0 - u * (1.0 - cos_r)).acos().to_degrees()
                };
                let (pra, pdec) = offset_by(ra, dec, sep, rng.uniform() * 360.0);
                let got = angular_separation_deg(ra, dec, pra, pdec);
                assert!(got <= radius * (1.0 + 1e-6), "offset_by: {got} > {radius}");
                let h = hpx_index(pra, pdec);
                assert!(
                    in_ranges(&ranges, h),
                    "cone ({ra}, {dec}, r={radius}) misses ({pra}, {pdec}) h={h}"
                );
            }
        }
    }

    /// The bounds quoted in the docs of `cone_coverage_depth`: few ranges,
    /// covered area a few times the cone area.
    #[test]
    fn cone_ranges_counts_and_area_are_bounded() {
        let mut rng = XorShift::new(11);
        for radius in [
            1.0_f64 / 3600.0,
            10.0 / 3600.0,
            1.0 / 60.0,
            0.1,
            1.0,
            3.0,
            10.0,
        ] {
            let cone_deg2 = 2.0
                * std::f64::consts::PI
                * (1.0 - radius.to_radians().cos())
                * (180.0 / std::f64::consts::PI).powi(2);
            let (mut max_n, mut max_ratio) = (0usize, 0.0f64);
            for t in 0..300 {
                let (ra, dec) = if t % 10 == 0 {
                    (rng.uniform() * 360.0, 90.0 - rng.uniform() * 0.01)
                } else {
                    rng.sky()
                };
                let ranges = cone_ranges(ra, dec, radius);
                let cells: i64 = ranges.iter().map(|(lo, hi)| hi - lo + 1).sum();
                let ratio = cells as f64 * healpix_pixel_area_deg2(29) / cone_deg2;
                max_n = max_n.max(ranges.len());
                max_ratio = max_ratio.max(ratio);
                assert!(ratio >= 1.0 - 1e-6, "coverage smaller than the cone");
            }
            assert!(max_n <= 16, "radius {radius}: {max_n} ranges");
            assert!(max_ratio <= 4.5, "radius {radius}: area ratio {max_ratio}");
        }
    }
}
