//! Shared helpers for the integration tests.

/// xorshift64* (S. Vigna 2016): seeded and the same on every platform.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform on the sphere, degrees.
    pub fn sky(&mut self) -> (f64, f64) {
        let ra = self.uniform() * 360.0;
        let dec = (2.0 * self.uniform() - 1.0).asin().to_degrees();
        (ra, dec)
    }
}
