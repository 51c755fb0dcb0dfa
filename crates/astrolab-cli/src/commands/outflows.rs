//! `astrolab outflows ...`: quasar outflows (issue 19). Each command runs
//! its pipeline (`astrolab_pipeline::outflows`).

use anyhow::Result;
use astrolab_pipeline::params::defs::{CloudyGridArgs, CloudySolveArgs, OutflowsBalArgs};
use astrolab_pipeline::{outflows, run_in_process};
use clap::Subcommand;

use crate::config::Config;

/// Outflow commands.
#[derive(Debug, Subcommand)]
pub enum OutflowsCommand {
    /// BAL troughs and indices (BI, AI, each trough's VMIN/VMAX/POSMIN/FMIN,
    /// S/N) as DESI's BAL catalog measures them, on DESI's PCA continuum
    /// with iterative trough masking, plus the strongest C IV trough's
    /// apparent columns. Without files: the store's quasars (--select),
    /// rows into the store; with files (spec-*.fits, coadd-*.fits,
    /// directories): the catalog only. --output .fits or .csv.
    Bal(OutflowsBalArgs),
    /// Write the Cloudy input decks of a photoionization grid (AGN
    /// continuum, one n_H, log U x log N_H; default log U -4..-1 and log N_H
    /// 19..23 in 0.25 dex), and run each model when a Cloudy binary is
    /// given (--cloudy-exe or CLOUDY_EXE).
    CloudyGrid(CloudyGridArgs),
    /// Solve each outflow's (N_H, U) from its measured ionic columns on a
    /// directory of Cloudy runs, with 68 % ranges, and its energetics (R,
    /// Mdot, E_k, E_k / L_bol) when its speed and luminosity are given.
    CloudySolve(CloudySolveArgs),
}

/// Runs `astrolab outflows ...`.
pub fn run(cfg: &Config, cmd: &OutflowsCommand) -> Result<()> {
    let ctx = || crate::progress::ctx(cfg);
    match cmd {
        OutflowsCommand::Bal(a) => {
            run_in_process(&outflows::OutflowsBal, &ctx()?, a)?;
        }
        OutflowsCommand::CloudyGrid(a) => {
            run_in_process(&outflows::CloudyGrid, &ctx()?, a)?;
        }
        OutflowsCommand::CloudySolve(a) => {
            run_in_process(&outflows::CloudySolve, &ctx()?, a)?;
        }
    }
    Ok(())
}
