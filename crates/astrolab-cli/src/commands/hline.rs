//! `astrolab hline ...`: the 21 cm hydrogen line. Each subcommand runs its
//! pipeline from `astrolab_pipeline::hline`, which prints through the
//! terminal sink.

use anyhow::Result;
use astrolab_pipeline::params::defs::{
    CalibrateArgs, FitArgs, ProcessArgs, RotationArgs, WatchArgs,
};
use astrolab_pipeline::{hline, run_in_process, Pipeline, PipelineError};
use clap::Subcommand;

use crate::config::Config;

/// Hydrogen-line commands.
#[derive(Debug, Subcommand)]
pub enum HlineCommand {
    /// Turn SDR recordings (SigMF or rtl_sdr raw I/Q) into integrated,
    /// RFI-flagged spectra.
    Process(ProcessArgs),
    /// Position-switched calibration of a GBT SDFITS scan, as GBTIDL getps.
    Calibrate(CalibrateArgs),
    /// Baseline, Gaussian components, HI column density and HVC candidates
    /// of calibrated spectra (SALSA FITS, SDFITS-style FITS, CSV).
    Fit(FitArgs),
    /// Tangent-point rotation curve and l-v diagram from many pointings.
    RotationCurve(RotationArgs),
    /// Process each new recording in a directory as it lands (the lab's
    /// live mode); `--once` processes what is there and exits.
    Watch(WatchArgs),
}

/// Runs `p` in this process with the command's context; a failure keeps
/// its own error chain (so usage errors still exit with code 2).
fn go<P: Pipeline>(cfg: &Config, p: &P, params: &P::Params) -> Result<()> {
    let ctx = crate::progress::ctx(cfg)?;
    match run_in_process(p, &ctx, params) {
        Ok(_) => Ok(()),
        Err(PipelineError::Failed(e)) => Err(e),
        Err(e) => Err(e.into()),
    }
}

pub fn run(cfg: &Config, cmd: &HlineCommand) -> Result<()> {
    match cmd {
        HlineCommand::Process(a) => go(cfg, &hline::Process, a),
        HlineCommand::Calibrate(a) => go(cfg, &hline::Calibrate, a),
        HlineCommand::Fit(a) => go(cfg, &hline::Fit, a),
        HlineCommand::RotationCurve(a) => go(cfg, &hline::RotationCurve, a),
        HlineCommand::Watch(a) => go(cfg, &hline::Watch, a),
    }
}
