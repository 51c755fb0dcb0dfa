//! `astrolab voids ...`: void finding, membership, statistics, publication.

use anyhow::Result;
use clap::Subcommand;

use crate::config::Config;

/// Void commands.
#[derive(Debug, Subcommand)]
pub enum VoidsCommand {
    /// Find voids in a galaxy catalog with VoidFinder (Hoyle & Vogeley 2002,
    /// as in VAST) and write VAST's VoidFinder FITS layout.
    Find(super::voids_find::FindArgs),
}

pub fn run(cfg: &Config, cmd: &VoidsCommand) -> Result<()> {
    match cmd {
        VoidsCommand::Find(a) => super::voids_find::run(cfg, a),
    }
}
