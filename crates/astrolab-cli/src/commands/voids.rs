//! `astrolab voids ...`: void finding, membership, statistics, publication.
//! Each command runs its pipeline (`astrolab_pipeline::voids`); `members`
//! reads the store.

use anyhow::Result;
use astrolab_pipeline::params::defs::{ClassifyArgs, CompareArgs, FindArgs, PublishArgs};
use astrolab_pipeline::{run_in_process, voids};
use clap::Subcommand;

use crate::config::Config;

#[path = "voids_members.rs"]
mod voids_members;

/// Void commands.
#[derive(Debug, Subcommand)]
pub enum VoidsCommand {
    /// Find voids in a galaxy catalog with VoidFinder (Hoyle & Vogeley 2002,
    /// as in VAST) and write VAST's VoidFinder FITS layout.
    Find(FindArgs),
    /// Classify galaxies against void catalogs (VoidFinder holes, V2 zones):
    /// vflag 0 wall, 1 void, 2 edge, 9 outside, the void id and R_VOID_NORM,
    /// stored per galaxy and algorithm; prints the counts.
    Classify(ClassifyArgs),
    /// Membership rows from the store, e.g. --where "vflag = 1".
    Members(voids_members::MembersArgs),
    /// Void vs wall (and vs a mass- and redshift-matched control sample):
    /// medians with bootstrap intervals, KS and Anderson-Darling tests, CDF
    /// and histogram figures, a text summary.
    Compare(CompareArgs),
    /// Write the void-galaxy catalog to publish (FITS: GALAXY_DATA,
    /// VOID_PROPERTIES) with a SHA256SUMS file. As a run (`astrolab run
    /// voids-publish`), `astrolab publish RUN --to DIR` makes the full
    /// release of it (Parquet, HATS, CDS ReadMe, Zenodo metadata).
    Publish(PublishArgs),
}

pub fn run(cfg: &Config, cmd: &VoidsCommand) -> Result<()> {
    let ctx = || crate::progress::ctx(cfg);
    match cmd {
        VoidsCommand::Find(a) => {
            run_in_process(&voids::Find, &ctx()?, a)?;
        }
        VoidsCommand::Classify(a) => {
            run_in_process(&voids::Classify, &ctx()?, a)?;
        }
        VoidsCommand::Members(a) => voids_members::run(&ctx()?, a)?,
        VoidsCommand::Compare(a) => {
            run_in_process(&voids::Compare, &ctx()?, a)?;
        }
        VoidsCommand::Publish(a) => {
            run_in_process(&voids::Publish, &ctx()?, a)?;
        }
    }
    Ok(())
}
