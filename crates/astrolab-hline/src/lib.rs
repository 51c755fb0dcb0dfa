//! The 21 cm hydrogen line: spectrometer and RFI flagging for SDR
//! recordings, single-dish calibration, LSR velocities, Gaussian components,
//! high-velocity clouds and the Milky Way rotation curve.
//!
//! Pure science: arrays in, arrays and tables out; no database, no HTTP.

pub mod analysis;
pub mod linefind;
pub mod mean;
pub mod narrowband;
pub mod pfb;
pub mod rfi;
pub mod spectrometer;
pub mod synth;

pub mod baseline;
pub mod calibrate;
pub mod gauss;
pub mod science;
pub mod velocity;
