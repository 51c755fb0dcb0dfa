//! Helpers shared by the unit tests: a seeded generator and random sky
//! positions.

use crate::angles::unit_vector;

/// xorshift64* (S. Vigna 2016, ACM TOMS 42, 30): tiny, seeded, and the
/// same on every platform.
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform on the sphere: `(ra_deg, dec_deg)`.
    pub(crate) fn sky(&mut self) -> (f64, f64) {
        let ra = self.uniform() * 360.0;
        let dec = (2.0 * self.uniform() - 1.0).asin().to_degrees();
        (ra, dec)
    }
}

/// The position at angular distance `sep_deg` and position angle `pa_deg`
/// (east of north) from (RA, Dec).
pub(crate) fn offset_by(ra_deg: f64, dec_deg: f64, sep_deg: f64, pa_deg: f64) -> (f64, f64) {
    let c = unit_vector(ra_deg, dec_deg);
    let (sa, ca) = ra_deg.to_radians().sin_cos();
    let (sd, cd) = dec_deg.to_radians().sin_cos();
    let east = [-sa, ca, 0.0];
    let north = [-sd * ca, -sd * sa, cd];
    let (ss, cs) = sep_deg.to_radians().sin_cos();
    let (sp, cp) = pa_deg.to_radians().sin_cos();
    let v: Vec<f64> = (0..3)
        .map(|k| cs * c[k] + ss * (cp * north[k] + sp * east[k]))
        .collect();
    let (ra, dec, _) = crate::cosmology::xyz_to_radec_r([v[0], v[1], v[2]]);
    (ra, dec)
}
