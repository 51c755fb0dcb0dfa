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
//! * [`executor`]: in-process and subprocess executors; each writes the
//!   run's manifest beside its outputs.
//! * [`volatile`]: the fields of each pipeline's outputs that change from
//!   run to run.
//! * [`catalog`]: the pipelines a run can name and where their outputs go.
//! * [`params`]: one typed parameter struct per pipeline (clap + serde),
//!   JSON parameters parsed through the command line's own declarations.
//! * [`hash`]: streaming SHA-256 of files (the manifests' checksums).
//! * [`manifest`]: the run manifest, written beside the outputs as an
//!   RO-Crate `ro-crate-metadata.json` (Process Run Crate profile).
//! * [`render`]: figures to SVG or PNG files.
//! * [`voids`]: the cosmic-void pipelines (find, classify, compare,
//!   publish).
//! * [`hline`]: the hydrogen-line pipelines (process, fit, calibrate,
//!   rotation curve) and the analysis of a stored recording.
//! * [`render`]: figures to files (SVG, PNG through resvg).
//! * [`outflows`]: quasar outflows (Cloudy grids and solves, energetics).
//! * [`shard`]: a run as steps other machines execute (plan, one shard,
//!   reduce); [`ray`]: the executor that runs them as a Ray job.
//! * [`reproduce`]: checks a manifest's inputs and compares outputs byte for
//!   byte, volatile fields excluded.
//!
//! * [`demo`], [`ingest`], [`query`], [`spectra`], [`fetch`]: the data
//!   platform's pipelines (synthetic sky, catalog ingest, sky queries, the
//!   spectral store, DESI downloads), with [`output`] writing query
//!   results and [`units`] reading angles with units.
//!
//! A private `fits` module walks FITS HDUs just far enough to find header
//! cards (volatile `DATE`-like values) and to name where a difference lies.

pub mod anomalies;
pub mod catalog;
pub mod context;
pub mod demo;
pub mod error;
pub mod executor;
pub mod fetch;
mod fits;
pub mod hash;
pub mod hline;
pub mod ingest;
pub mod manifest;
pub mod outflows;
pub mod output;
pub mod params;
pub mod pipeline;
pub mod qso;
pub mod quasar_shards;
pub mod query;
pub mod quickstart;
pub mod ray;
pub mod render;
pub mod reproduce;
pub mod shard;
pub mod spectra;
pub mod units;
pub mod voids;
pub mod volatile;

pub use context::{CancelToken, Ctx, Event, EventSink, Level};
pub use error::{PipelineError, UsageError};
pub use executor::{Executor, InProcess, RunOutcome, Subprocess};
pub use pipeline::{run_in_process, Pipeline, SinglePipeline};
