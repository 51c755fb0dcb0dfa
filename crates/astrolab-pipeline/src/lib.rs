//! Every astrolab pipeline as a typed library call (issue 16): typed
//! parameters shared by the CLI, the server and a cluster, shard planning,
//! executors, typed progress events, and a provenance manifest for every
//! run that `astrolab reproduce` can re-execute and compare byte for byte.
//!
//! Modules:
//! * [`catalog`]: the pipelines a run can name and where their outputs go.
//! * [`params`]: one typed parameter struct per pipeline (clap + serde),
//!   JSON parameters parsed through the command line's own declarations.
//! * [`hash`]: streaming SHA-256 of files (the manifests' checksums).
//! * [`manifest`]: the run manifest, written beside the outputs as an
//!   RO-Crate `ro-crate-metadata.json` (Process Run Crate profile).
//! * [`reproduce`]: checks a manifest's inputs and compares outputs byte for
//!   byte, volatile fields excluded.
//!
//! A private `fits` module walks FITS HDUs just far enough to find header
//! cards (volatile `DATE`-like values) and to name where a difference lies.

pub mod catalog;
mod fits;
pub mod hash;
pub mod manifest;
pub mod params;
pub mod reproduce;
