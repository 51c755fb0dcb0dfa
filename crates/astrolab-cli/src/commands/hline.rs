//! `astrolab hline ...`: the 21 cm hydrogen line.

use anyhow::Result;
use clap::Subcommand;

use crate::config::Config;

/// Hydrogen-line commands.
#[derive(Debug, Subcommand)]
pub enum HlineCommand {
    /// Turn SDR recordings (SigMF or rtl_sdr raw I/Q) into integrated,
    /// RFI-flagged spectra.
    Process(super::hline_process::ProcessArgs),
    /// Position-switched calibration of a GBT SDFITS scan, as GBTIDL getps.
    Calibrate(super::hline_calibrate::CalibrateArgs),
    /// Baseline, Gaussian components, HI column density and HVC candidates
    /// of calibrated spectra (SALSA FITS, SDFITS-style FITS, CSV).
    Fit(super::hline_fit::FitArgs),
    /// Tangent-point rotation curve and l-v diagram from many pointings.
    RotationCurve(super::hline_rotation::RotationArgs),
    /// Process each new recording in a directory as it lands (the lab's
    /// live mode); `--once` processes what is there and exits.
    Watch(super::hline_process::WatchArgs),
}

pub fn run(cfg: &Config, cmd: &HlineCommand) -> Result<()> {
    match cmd {
        HlineCommand::Process(a) => super::hline_process::run(cfg, a),
        HlineCommand::Calibrate(a) => super::hline_calibrate::run(cfg, a),
        HlineCommand::Fit(a) => super::hline_fit::run(cfg, a),
        HlineCommand::RotationCurve(a) => super::hline_rotation::run(cfg, a),
        HlineCommand::Watch(a) => super::hline_process::watch(cfg, a),
    }
}
