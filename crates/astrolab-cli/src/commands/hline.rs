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
}

pub fn run(cfg: &Config, cmd: &HlineCommand) -> Result<()> {
    match cmd {
        HlineCommand::Process(a) => super::hline_process::run(cfg, a),
    }
}
