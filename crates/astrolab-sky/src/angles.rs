//! Angles on the celestial sphere: unit vectors, separations, chords and
//! validation of (RA, Dec) pairs.
//!
//! References:
//! - Angular separation: the special case of Vincenty's formula for a sphere
//!   (T. Vincenty 1975, Survey Review 23, 88), written as
//!   `atan2(|a x b|, a . b)`; this is also what astropy's
//!   `angular_separation` evaluates. It is well conditioned at every
//!   separation, unlike the haversine (poor near 180 deg) or the cosine rule
//!   (poor near 0 deg).
//! - Trigonometry in degrees: reduction of the argument to `[-45, 45]` deg
//!   with an exact remainder before converting to radians, as in
//!   GeographicLib's `sincosd` (C. F. F. Karney 2013, J. Geodesy 87, 43).
//!   This makes `sin(180 deg)`, `cos(90 deg)` and friends exactly zero, so
//!   poles, antipodes and the RA = 0/360 wrap come out exact.
//! - Chord length: `c = 2 sin(theta / 2)` for two unit vectors separated by
//!   the angle `theta`.

use crate::SkyError;

/// `sin` and `cos` of an angle in degrees, exact at multiples of 90 deg.
///
/// The remainder `x - 90 q` is exact in floating point (Sterbenz lemma: the
/// two operands are within a factor of two of each other), so the only
/// rounding comes from `sin`/`cos` of an angle in `[-45, 45]` deg.
/// Non-finite input gives NaN.
pub(crate) fn sin_cos_deg(x_deg: f64) -> (f64, f64) {
    let q = (x_deg / 90.0).round();
    let r_deg = x_deg - 90.0 * q;
    let (s, c) = r_deg.to_radians().sin_cos();
    // `q as i64` saturates for huge values and gives 0 for NaN; in both
    // cases `s` and `c` are already NaN or meaningless, never a panic.
    match (q as i64).rem_euclid(4) {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

/// Unit vector (x, y, z) pointing at (RA, Dec): `x = cos(dec) cos(ra)`,
/// `y = cos(dec) sin(ra)`, `z = sin(dec)`.
///
/// Exact at the poles and at multiples of 90 deg in RA. Non-finite input
/// gives NaN components.
pub fn unit_vector(ra_deg: f64, dec_deg: f64) -> [f64; 3] {
    let (sin_ra, cos_ra) = sin_cos_deg(ra_deg);
    let (sin_dec, cos_dec) = sin_cos_deg(dec_deg);
    [cos_dec * cos_ra, cos_dec * sin_ra, sin_dec]
}

/// Angular separation in degrees between two positions, in `[0, 180]`.
///
/// Vincenty's formula (see the module docs): exact 0 for identical points,
/// exact 180 for antipodes given in whole or half degrees of RA, correct at
/// the poles and across RA = 0/360. RA may be given in any range. Non-finite
/// input gives NaN.
pub fn angular_separation_deg(ra1_deg: f64, dec1_deg: f64, ra2_deg: f64, dec2_deg: f64) -> f64 {
    let (sin_dra, cos_dra) = sin_cos_deg(ra2_deg - ra1_deg);
    let (sin_d1, cos_d1) = sin_cos_deg(dec1_deg);
    let (sin_d2, cos_d2) = sin_cos_deg(dec2_deg);
    let num1 = cos_d2 * sin_dra;
    let num2 = cos_d1 * sin_d2 - sin_d1 * cos_d2 * cos_dra;
    let den = sin_d1 * sin_d2 + cos_d1 * cos_d2 * cos_dra;
    num1.hypot(num2).atan2(den).to_degrees()
}

/// Angle in degrees between two vectors of any non-zero length,
/// `atan2(|a x b|, a . b)`, in `[0, 180]`.
pub fn angle_between_vectors_deg(a: [f64; 3], b: [f64; 3]) -> f64 {
    let cross = [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ];
    let cross_norm = (cross[0] * cross[0] + cross[1] * cross[1] + cross[2] * cross[2]).sqrt();
    let dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    cross_norm.atan2(dot).to_degrees()
}

/// Straight-line (chord) distance between two unit vectors separated by
/// `angle_deg`: `2 sin(angle / 2)`.
///
/// The angle is clamped to `[0, 180]` deg, so the result is monotonic and in
/// `[0, 2]`; NaN stays NaN.
pub fn chord_for_angle_deg(angle_deg: f64) -> f64 {
    let half_deg = angle_deg.clamp(0.0, 180.0) * 0.5;
    2.0 * sin_cos_deg(half_deg).0
}

/// Inverse of [`chord_for_angle_deg`]: the angle in degrees subtended by a
/// chord of the unit sphere, `2 asin(chord / 2)`.
///
/// The chord is clamped to `[0, 2]`; NaN stays NaN.
pub fn angle_for_chord_deg(chord: f64) -> f64 {
    (2.0 * (chord.clamp(0.0, 2.0) * 0.5).asin()).to_degrees()
}

/// Checks that (RA, Dec) is a position this project stores: both finite,
/// `dec_deg` in `[-90, 90]` and `ra_deg` in `[0, 360]`.
///
/// RA outside `[0, 360]` is rejected rather than silently wrapped, because
/// it usually means a unit or column mistake; callers who expect negative
/// RA can wrap it with [`normalize_ra_deg`] first.
pub fn validate_radec(ra_deg: f64, dec_deg: f64) -> Result<(), SkyError> {
    check_position(ra_deg, dec_deg)?;
    if !(0.0..=360.0).contains(&ra_deg) {
        return Err(SkyError::RaOutOfRange { ra_deg });
    }
    Ok(())
}

/// Finite coordinates and `|dec| <= 90`; any RA is accepted (HEALPix
/// wraps it).
pub(crate) fn check_position(ra_deg: f64, dec_deg: f64) -> Result<(), SkyError> {
    if !ra_deg.is_finite() {
        return Err(SkyError::NonFinite {
            name: "ra_deg",
            value: ra_deg,
        });
    }
    if !dec_deg.is_finite() {
        return Err(SkyError::NonFinite {
            name: "dec_deg",
            value: dec_deg,
        });
    }
    if !(-90.0..=90.0).contains(&dec_deg) {
        return Err(SkyError::DecOutOfRange { dec_deg });
    }
    Ok(())
}

/// Wraps a right ascension into `[0, 360)` degrees. NaN and infinities give
/// NaN.
pub fn normalize_ra_deg(ra_deg: f64) -> f64 {
    let r = ra_deg % 360.0;
    let r = if r < 0.0 { r + 360.0 } else { r };
    // -1e-17 + 360 rounds to 360; -0.0 becomes +0.0.
    if r >= 360.0 || r == 0.0 {
        0.0
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_cos_deg_is_exact_at_quadrants() {
        for (x, s, c) in [
            (0.0_f64, 0.0_f64, 1.0_f64),
            (90.0, 1.0, 0.0),
            (180.0, 0.0, -1.0),
            (270.0, -1.0, 0.0),
            (360.0, 0.0, 1.0),
            (-90.0, -1.0, 0.0),
            (-180.0, 0.0, -1.0),
            (720.0, 0.0, 1.0),
        ] {
            let (gs, gc) = sin_cos_deg(x);
            // Compare as values: -0.0 == 0.0.
            assert_eq!(gs, s, "sin({x})");
            assert_eq!(gc, c, "cos({x})");
        }
        let (s, c) = sin_cos_deg(30.0);
        assert!((s - 0.5).abs() < 1e-16);
        assert!((c - 3f64.sqrt() / 2.0).abs() < 2.5e-16);
        let (s, c) = sin_cos_deg(f64::NAN);
        assert!(s.is_nan() && c.is_nan());
        let (s, c) = sin_cos_deg(f64::INFINITY);
        assert!(s.is_nan() && c.is_nan());
    }

    #[test]
    fn unit_vector_components() {
        assert_eq!(unit_vector(0.0, 90.0), [0.0, 0.0, 1.0]);
        assert_eq!(unit_vector(123.0, -90.0)[2], -1.0);
        assert_eq!(unit_vector(123.0, -90.0)[0].abs(), 0.0);
        assert_eq!(unit_vector(90.0, 0.0), [0.0, 1.0, 0.0]);
        assert_eq!(unit_vector(360.0, 0.0), [1.0, 0.0, 0.0]);
        let v = unit_vector(37.5, -12.25);
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        assert!((n - 1.0).abs() < 1e-15);
    }

    // Expected values computed with astropy 8.0.2 (run in this repository's
    // environment):
    //   from astropy.coordinates import angular_separation
    //   import astropy.units as u
    //   angular_separation(ra1*u.deg, dec1*u.deg, ra2*u.deg, dec2*u.deg).to_value(u.deg)
    // printed with repr().
    #[test]
    fn separation_matches_astropy() {
        let cases: [(f64, f64, f64, f64, f64); 12] = [
            // identical points
            (10.0, 20.0, 10.0, 20.0, 0.0),
            // pole to pole
            (0.0, 90.0, 0.0, -90.0, 180.0),
            // both at the north pole with different RA (astropy: 6.2e-15)
            (0.0, 90.0, 123.0, 90.0, 6.166404206126785e-15),
            // across RA = 0/360
            (359.9, 0.0, 0.1, 0.0, 0.2000000000000525),
            (359.0, 45.0, 1.0, 45.0, 1.414177660952108),
            // antipodes
            (10.0, 20.0, 190.0, -20.0, 180.0),
            (0.0, 0.0, 180.0, 0.0, 180.0),
            // 1 arcsec pairs
            (150.0, 2.0, 150.0, 2.0 + 1.0 / 3600.0, 0.0002777777777778768),
            (
                150.0,
                2.0,
                150.0 + 1.0 / 3600.0,
                2.0,
                0.00027760856305113896,
            ),
            // across the pole, 2 x 1.08 arcsec
            (45.0, 89.9997, 225.0, 89.9997, 0.0005999999999876416),
            // generic
            (83.633, 22.0145, 201.365, -43.0191, 124.83021051474014),
            (266.405, -28.936, 192.859, 27.128, 90.00013588852373),
        ];
        for (ra1, dec1, ra2, dec2, want) in cases {
            let got = angular_separation_deg(ra1, dec1, ra2, dec2);
            assert!(
                // astropy works in radians, so its own rounding is ~1e-14 deg.
                (got - want).abs() <= 1e-13 + 1e-13 * want,
                "sep({ra1},{dec1},{ra2},{dec2}) = {got:e}, astropy {want:e}"
            );
            let back = angular_separation_deg(ra2, dec2, ra1, dec1);
            assert_eq!(got, back, "symmetry");
        }
        // Exact where the brief asks for exactness.
        assert_eq!(angular_separation_deg(10.0, 20.0, 10.0, 20.0), 0.0);
        assert_eq!(angular_separation_deg(10.0, 20.0, 190.0, -20.0), 180.0);
        assert_eq!(angular_separation_deg(0.0, 90.0, 0.0, -90.0), 180.0);
        assert_eq!(angular_separation_deg(0.0, 90.0, 250.0, 90.0), 0.0);
        assert_eq!(angular_separation_deg(0.0, 5.0, 360.0, 5.0), 0.0);
        assert!(angular_separation_deg(f64::NAN, 0.0, 0.0, 0.0).is_nan());
    }

    #[test]
    fn vector_angle_agrees_with_radec_separation() {
        let a = unit_vector(359.0, 45.0);
        let b = unit_vector(1.0, 45.0);
        let want = angular_separation_deg(359.0, 45.0, 1.0, 45.0);
        assert!((angle_between_vectors_deg(a, b) - want).abs() < 1e-13);
    }

    #[test]
    fn chord_and_angle_are_inverse() {
        assert_eq!(chord_for_angle_deg(0.0), 0.0);
        assert_eq!(chord_for_angle_deg(180.0), 2.0);
        assert!((chord_for_angle_deg(60.0) - 1.0).abs() < 1e-15);
        assert_eq!(chord_for_angle_deg(-5.0), 0.0);
        assert_eq!(chord_for_angle_deg(400.0), 2.0);
        assert_eq!(angle_for_chord_deg(2.0), 180.0);
        assert_eq!(angle_for_chord_deg(3.0), 180.0);
        assert!(angle_for_chord_deg(f64::NAN).is_nan());
        for a in [1.0 / 3600.0, 0.01, 1.0, 10.0, 90.0, 179.0] {
            let back = angle_for_chord_deg(chord_for_angle_deg(a));
            assert!((back - a).abs() <= 1e-13 * a, "{a} -> {back}");
        }
    }

    #[test]
    fn validation_messages_name_the_value() {
        assert!(validate_radec(0.0, -90.0).is_ok());
        assert!(validate_radec(360.0, 90.0).is_ok());
        let e = validate_radec(10.0, 91.5).unwrap_err();
        assert_eq!(e, SkyError::DecOutOfRange { dec_deg: 91.5 });
        assert!(e.to_string().contains("91.5"));
        let e = validate_radec(-1.0, 0.0).unwrap_err();
        assert!(e.to_string().contains("-1") && e.to_string().contains("normalize_ra_deg"));
        assert!(validate_radec(f64::NAN, 0.0).is_err());
        let e = validate_radec(1.0, f64::INFINITY).unwrap_err();
        assert!(e.to_string().contains("dec_deg = inf"));
    }

    #[test]
    fn normalize_ra_wraps_into_range() {
        assert_eq!(normalize_ra_deg(0.0), 0.0);
        assert_eq!(normalize_ra_deg(360.0), 0.0);
        assert_eq!(normalize_ra_deg(-0.0), 0.0);
        assert_eq!(normalize_ra_deg(-10.0), 350.0);
        assert_eq!(normalize_ra_deg(725.0), 5.0);
        assert_eq!(normalize_ra_deg(-1e-17), 0.0);
        assert!(normalize_ra_deg(-1e-17).is_sign_positive());
        assert!(normalize_ra_deg(f64::NAN).is_nan());
        assert!(normalize_ra_deg(f64::INFINITY).is_nan());
    }
}
