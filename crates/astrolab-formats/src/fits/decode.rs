//! Big-endian element decoding shared by images and tables (Sect. 5.2-5.3).

/// The `N` bytes at the start of `b` as an array (callers guarantee length).
#[inline(always)]
pub(crate) fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

/// Decodes consecutive big-endian elements of `N` bytes each.
pub(crate) fn be_map<const N: usize, T>(data: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    data.chunks_exact(N).map(|c| f(arr(c))).collect()
}

/// `f32` or `f64` output, so one decoding loop serves both precisions
/// without a second pass or an intermediate vector.
pub(crate) trait Real: Copy {
    const NAN: Self;
    fn of_f64(x: f64) -> Self;
    fn of_f32(x: f32) -> Self;
}

impl Real for f64 {
    const NAN: f64 = f64::NAN;
    #[inline(always)]
    fn of_f64(x: f64) -> f64 {
        x
    }
    #[inline(always)]
    fn of_f32(x: f32) -> f64 {
        x as f64
    }
}

impl Real for f32 {
    const NAN: f32 = f32::NAN;
    #[inline(always)]
    fn of_f64(x: f64) -> f32 {
        x as f32
    }
    #[inline(always)]
    fn of_f32(x: f32) -> f32 {
        x
    }
}

/// An integral `f64` (BZERO, TZERO) as an exact integer, for unsigned offsets
/// such as 2^31 and 2^63 that must be applied without rounding.
pub(crate) fn exact_int(x: f64) -> Option<i128> {
    (x.fract() == 0.0 && x.abs() <= 2f64.powi(64)).then_some(x as i128)
}
