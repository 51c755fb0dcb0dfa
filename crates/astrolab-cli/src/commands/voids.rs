//! `astrolab voids ...`: void finding, membership, statistics, publication.

use anyhow::Result;
use clap::Subcommand;

use crate::config::Config;

// The membership, statistics and publication commands live beside this
// file (commands/voids_*.rs).
#[path = "voids_classify.rs"]
mod voids_classify;
#[path = "voids_compare.rs"]
mod voids_compare;
#[path = "voids_io.rs"]
mod voids_io;
#[path = "voids_plots.rs"]
mod voids_plots;
#[path = "voids_publish.rs"]
mod voids_publish;

/// Void commands.
#[derive(Debug, Subcommand)]
pub enum VoidsCommand {
    /// Find voids in a galaxy catalog with VoidFinder (Hoyle & Vogeley 2002,
    /// as in VAST) and write VAST's VoidFinder FITS layout.
    Find(super::voids_find::FindArgs),
    /// Classify galaxies against void catalogs (VoidFinder holes, V2 zones):
    /// vflag 0 wall, 1 void, 2 edge, 9 outside, the void id and R_VOID_NORM,
    /// stored per galaxy and algorithm; prints the counts.
    Classify(voids_classify::ClassifyArgs),
    /// Membership rows from the store, e.g. --where "vflag = 1".
    Members(voids_classify::MembersArgs),
    /// Void vs wall (and vs a mass- and redshift-matched control sample):
    /// medians with bootstrap intervals, KS and Anderson-Darling tests, CDF
    /// and histogram figures, a text summary.
    Compare(voids_compare::CompareArgs),
    /// Write the void-galaxy catalog to publish (FITS: GALAXY_DATA,
    /// VOID_PROPERTIES) with a SHA256SUMS file.
    Publish(voids_publish::PublishArgs),
}

pub fn run(cfg: &Config, cmd: &VoidsCommand) -> Result<()> {
    match cmd {
        VoidsCommand::Find(a) => super::voids_find::run(cfg, a),
        VoidsCommand::Classify(a) => voids_classify::run_classify(cfg, a),
        VoidsCommand::Members(a) => voids_classify::run_members(cfg, a),
        VoidsCommand::Compare(a) => voids_compare::run(cfg, a),
        VoidsCommand::Publish(a) => voids_publish::run(cfg, a),
    }
}
