//! Cosmic voids as pipelines: find voids (VoidFinder), classify galaxies
//! against void catalogs, compare void and wall galaxies, publish the
//! void-galaxy catalog. The science is `astrolab_voids`; the file models
//! are `astrolab_formats::{vast, galaxy_table}`; these modules read the
//! inputs, call the science, write the outputs and report.
//!
//! * [`find`]: `voids find` ([`Find`]).
//! * [`classify`]: `voids classify` ([`Classify`]).
//! * [`compare`]: `voids compare` ([`Compare`]), figures from [`plots`].
//! * [`publish`]: `voids publish` ([`Publish`]).
//! * [`catalog`], [`galaxies`], [`sample`]: void catalogs, galaxy lists and
//!   the compare sample, read for the pipelines.

pub mod catalog;
pub mod classify;
pub mod compare;
pub mod find;
pub mod galaxies;
pub mod plots;
pub mod publish;
pub mod sample;

pub use classify::{Classify, ClassifyOutput};
pub use compare::{Compare, CompareOutput};
pub use find::{Find, FindOutput};
pub use publish::{Publish, PublishOutput};
