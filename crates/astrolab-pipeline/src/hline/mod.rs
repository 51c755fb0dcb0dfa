//! The hydrogen-line pipelines (the 21 cm line, `astrolab hline ...`):
//!
//! * [`process`]: SDR recordings through the spectrometer into RFI-flagged
//!   integrated spectra, the store and a SigMF archive (`hline process`,
//!   one shard per recording; `hline watch`).
//! * [`sdr_cal`]: calibration of a recording against reference recordings
//!   (frequency switching, Y-factor), as `hline process` does it.
//! * [`calibrate`]: GBTIDL `getps` on a GBT SDFITS file (`hline calibrate`).
//! * [`fit`]: baseline, Gaussian components, column density and HVC flags
//!   of calibrated spectra (`hline fit`), with [`load`] (spectrum files),
//!   [`table`] (the result table) and [`plots`] (figures).
//! * [`recording`]: the same analysis of a recording in the store, shared
//!   by `hline fit --recording` and the server's hydrogen-line page.
//! * [`rotation`]: tangent-point rotation curve and l-v diagram
//!   (`hline rotation-curve`).
//! * [`waterfall`]: the waterfall figure of a recording's spectra.
//!
//! The science (spectrometer, line search, calibration, the analysis of a
//! spectrum) is in `astrolab_hline`; these modules read, call it, write
//! and report.

pub mod calibrate;
pub mod fit;
pub mod load;
pub mod plots;
pub mod process;
pub mod recording;
pub mod rotation;
pub mod sdr_cal;
pub mod table;
pub mod waterfall;

pub use calibrate::Calibrate;
pub use fit::Fit;
pub use process::{Process, Watch};
pub use rotation::RotationCurve;
pub use waterfall::Waterfall;
