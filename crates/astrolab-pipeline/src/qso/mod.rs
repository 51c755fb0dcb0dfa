//! Quasar spectral fitting (issue 20): the runs around
//! [`astrolab_qso::fit`].
//!
//! * [`QsoFitPipeline`] (`qso fit`): continuum, Fe II, emission lines,
//!   [O III] kinematics, black-hole masses and outflow energetics of the
//!   store's quasars or of spectrum files, into a FITS or CSV catalog.

pub mod fit;

pub use fit::{QsoFitOutput, QsoFitPipeline};

/// The built-in emission-line table (TOML).
pub use astrolab_qso::fit::lines::DEFAULT_LINES_TOML;
