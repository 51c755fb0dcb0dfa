//! Every astrolab pipeline as a typed library call (issue 16): typed
//! parameters shared by the CLI, the server and a cluster, shard planning,
//! executors, typed progress events, and a provenance manifest for every
//! run that `astrolab reproduce` can re-execute and compare byte for byte.
//!
//! Modules:
//! * [`pipeline`]: the `Pipeline` trait (plan shards, run one, reduce)
//!   and the in-process runner.
//! * [`context`]: what a run is given: store, threads, typed events,
//!   cancellation.
//! * [`error`]: why a run failed.
//! * [`catalog`]: the pipelines a run can name and where their outputs go.
//! * [`params`]: one typed parameter struct per pipeline (clap + serde),
//!   JSON parameters parsed through the command line's own declarations.
//! * [`hash`]: streaming SHA-256 of files (the manifests' checksums).
//! * [`manifest`]: the run manifest, written beside the outputs as an
//!   RO-Crate `ro-crate-metadata.json` (Process Run Crate profile).
//! * [`hline`]: the hydrogen-line pipelines (process, fit, calibrate,
//!   rotation curve) and the analysis of a stored recording.
//! * [`render`]: figures to files (SVG, PNG through resvg).
//! * [`reproduce`]: checks a manifest's inputs and compares outputs byte for
//!   byte, volatile fields excluded.
//!
//! A private `fits` module walks FITS HDUs just far enough to find header
//! cards (volatile `DATE`-like values) and to name where a difference lies.

pub mod catalog;
pub mod context;
pub mod error;
mod fits;
pub mod hash;
pub mod hline;
pub mod manifest;
pub mod params;
pub mod pipeline;
pub mod render;
pub mod reproduce;

pub use context::{CancelToken, Ctx, Event, EventSink, Level};
pub use error::{PipelineError, UsageError};
pub use pipeline::{run_in_process, Pipeline, SinglePipeline};
