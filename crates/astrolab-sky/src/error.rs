//! The one error type of this crate.
//!
//! Every variant names the offending value and, where there is one, the way
//! to fix it, so that a caller can pass the message straight to a user.

/// Errors raised by validating sky positions, cosmological parameters and
/// the arguments of the spatial functions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SkyError {
    /// A coordinate was NaN or infinite.
    #[error("{name} = {value} is not a finite number; check the input column for NaN or Inf")]
    NonFinite {
        /// Which argument, for example `ra_deg`.
        name: &'static str,
        /// The value received.
        value: f64,
    },
    /// A declination outside `[-90, 90]` degrees.
    #[error(
        "dec_deg = {dec_deg} is outside [-90, 90] degrees; is the column in radians or \
         are RA and Dec swapped?"
    )]
    DecOutOfRange {
        /// The value received.
        dec_deg: f64,
    },
    /// A right ascension outside `[0, 360]` degrees.
    #[error(
        "ra_deg = {ra_deg} is outside [0, 360] degrees; wrap it with \
         astrolab_sky::normalize_ra_deg first if negative values are intended"
    )]
    RaOutOfRange {
        /// The value received.
        ra_deg: f64,
    },
    /// A search radius that is negative or not finite.
    #[error("radius_deg = {radius_deg} must be finite and >= 0 degrees")]
    InvalidRadius {
        /// The value received.
        radius_deg: f64,
    },
    /// A HEALPix depth beyond the deepest level cdshealpix supports.
    #[error("HEALPix depth {depth} is larger than the maximum depth 29")]
    InvalidDepth {
        /// The value received.
        depth: u8,
    },
    /// A matter density that a flat LambdaCDM model cannot use.
    #[error("omega_m = {omega_m} must be finite and within [0, 1] for a flat LambdaCDM model")]
    InvalidOmegaM {
        /// The value received.
        omega_m: f64,
    },
    /// Two columns that must have the same length do not.
    #[error("{what}: {left_name} has {left_len} values but {right_name} has {right_len}")]
    LengthMismatch {
        /// What was being built, for example `SkyTree::try_build`.
        what: &'static str,
        /// Name of the first column.
        left_name: &'static str,
        /// Its length.
        left_len: usize,
        /// Name of the second column.
        right_name: &'static str,
        /// Its length.
        right_len: usize,
    },
}
