//! ICRS <-> Galactic (l, b), matching astropy's `Galactic` frame.
//!
//! References:
//! - Galactic system: Blaauw et al. 1960, MNRAS 121, 123 (defined in
//!   B1950 FK4); its J2000 form is given in the Hipparcos catalogue
//!   (ESA 1997, SP-1200, Vol. 1, sec. 1.5.3, eq. 1.5.11), whose matrix
//!   `A_G'` takes ICRS to Galactic directly.
//! - astropy (which this module must agree with to 1e-8 deg) does not use
//!   `A_G'` verbatim: it treats the Hipparcos numbers as FK5 J2000 and goes
//!   ICRS -> FK5 J2000 -> Galactic
//!   (`astropy/coordinates/builtin_frames/galactic_transforms.py` and
//!   `icrs_fk5_transforms.py`):
//!   - FK5 -> Galactic: `R_z(180 - l0) R_y(90 - dec_NGP) R_z(ra_NGP)` with
//!     the North Galactic Pole at FK5 (ra, dec) =
//!     (192.8594812065348, 27.12825118085622) deg and the Galactic longitude
//!     of the North Celestial Pole `l0 = 122.9319185680026` deg (`Galactic._ngp_J2000`,
//!     `Galactic._lon0_J2000`);
//!   - ICRS -> FK5 J2000: the frame bias `R_x(-eta0) R_y(xi0) R_z(da0)` with
//!     `eta0 = -19.9`, `xi0 = 9.1`, `da0 = -22.9` mas (USNO Circular 179,
//!     G. H. Kaplan 2005, eq. 3.4).
//!
//!   Rotations are of the coordinate frame (`R_z(a)` = `[[c, s, 0],
//!   [-s, c, 0], [0, 0, 1]]`), as astropy's `rotation_matrix`. The frame
//!   bias moves positions by about 2 mas (1e-8 rad) relative to `A_G'`,
//!   which the tests check too.

use crate::angles::{normalize_ra_deg, sin_cos_deg, unit_vector};
use std::sync::LazyLock;

type Mat3 = [[f64; 3]; 3];

/// North Galactic Pole, FK5 J2000 right ascension (astropy).
const NGP_RA_FK5_DEG: f64 = 192.859_481_206_534_8;
/// North Galactic Pole, FK5 J2000 declination (astropy).
const NGP_DEC_FK5_DEG: f64 = 27.128_251_180_856_22;
/// Galactic longitude of the North Celestial Pole (astropy's
/// `_lon0_J2000`).
const LON0_DEG: f64 = 122.931_918_568_002_6;
/// ICRS -> FK5 frame bias, USNO Circular 179 eq. 3.4, in milli-arcseconds.
const FRAME_BIAS_ETA0_MAS: f64 = -19.9;
const FRAME_BIAS_XI0_MAS: f64 = 9.1;
const FRAME_BIAS_DA0_MAS: f64 = -22.9;

fn mas_to_deg(mas: f64) -> f64 {
    mas / 3_600_000.0
}

/// Frame rotation about axis `axis` (0 = x, 1 = y, 2 = z) by `angle_deg`.
fn rotation(axis: usize, angle_deg: f64) -> Mat3 {
    let (s, c) = sin_cos_deg(angle_deg);
    match axis {
        0 => [[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]],
        1 => [[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]],
        _ => [[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]],
    }
}

fn matmul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut m = [[0.0; 3]; 3];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
        }
    }
    m
}

fn apply(m: &Mat3, v: [f64; 3]) -> [f64; 3] {
    [
        m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
        m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
        m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
    ]
}

fn apply_transposed(m: &Mat3, v: [f64; 3]) -> [f64; 3] {
    [
        m[0][0] * v[0] + m[1][0] * v[1] + m[2][0] * v[2],
        m[0][1] * v[0] + m[1][1] * v[1] + m[2][1] * v[2],
        m[0][2] * v[0] + m[1][2] * v[1] + m[2][2] * v[2],
    ]
}

/// The ICRS -> Galactic rotation matrix, composed as astropy does (see the
/// module docs). Galactic unit vector = `M` x ICRS unit vector.
pub fn icrs_to_galactic_matrix() -> [[f64; 3]; 3] {
    *ICRS_TO_GALACTIC
}

static ICRS_TO_GALACTIC: LazyLock<Mat3> = LazyLock::new(|| {
    let fk5_to_gal = matmul(
        &matmul(
            &rotation(2, 180.0 - LON0_DEG),
            &rotation(1, 90.0 - NGP_DEC_FK5_DEG),
        ),
        &rotation(2, NGP_RA_FK5_DEG),
    );
    let icrs_to_fk5 = matmul(
        &matmul(
            &rotation(0, -mas_to_deg(FRAME_BIAS_ETA0_MAS)),
            &rotation(1, mas_to_deg(FRAME_BIAS_XI0_MAS)),
        ),
        &rotation(2, mas_to_deg(FRAME_BIAS_DA0_MAS)),
    );
    matmul(&fk5_to_gal, &icrs_to_fk5)
});

/// Longitude in `[0, 360)` and latitude of a unit vector, in degrees.
fn lon_lat_deg(v: [f64; 3]) -> (f64, f64) {
    let rho = v[0].hypot(v[1]);
    let lon = normalize_ra_deg(v[1].atan2(v[0]).to_degrees());
    let lat = v[2].atan2(rho).to_degrees();
    (lon, lat)
}

/// ICRS (RA, Dec) to Galactic (l, b), all in degrees; `l` in `[0, 360)`.
/// Non-finite input gives NaN.
pub fn icrs_to_galactic(ra_deg: f64, dec_deg: f64) -> (f64, f64) {
    lon_lat_deg(apply(&ICRS_TO_GALACTIC, unit_vector(ra_deg, dec_deg)))
}

/// Galactic (l, b) to ICRS (RA, Dec), all in degrees; RA in `[0, 360)`.
/// Non-finite input gives NaN.
pub fn galactic_to_icrs(l_deg: f64, b_deg: f64) -> (f64, f64) {
    lon_lat_deg(apply_transposed(&ICRS_TO_GALACTIC, unit_vector(l_deg, b_deg)))
}
