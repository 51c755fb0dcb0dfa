//! Command-line definitions (clap). Every command has `--help`.

pub use astrolab_pipeline::fetch::FetchDesiArgs;
pub use astrolab_pipeline::params::defs::{
    ConeArgs, DemoDataArgs, IngestArgs, OutputArgs, SpectraBuildArgs,
};
pub use astrolab_pipeline::query::{SqlArgs, XmatchArgs};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// astrolab: DESI catalogs and spectra, cosmic voids, quasars and 21 cm
/// hydrogen-line astronomy, from raw files to published results.
///
/// Configuration comes from astrolab.toml, then ASTROLAB_* environment
/// variables, then flags (later wins). Exit codes: 0 ok, 1 failure,
/// 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "astrolab", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration file (default: ./astrolab.toml when it exists).
    #[arg(long, global = true, env = "ASTROLAB_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data home: the embedded database and outputs live here
    /// (default ./astrolab-data).
    #[arg(long, global = true, env = "ASTROLAB_HOME")]
    pub home: Option<PathBuf>,
    /// PostgreSQL URL (postgres://user@host/db); absent: the embedded
    /// SQLite file. Put passwords in ~/.pgpass or PGPASSWORD, not here.
    #[arg(
        long,
        global = true,
        env = "ASTROLAB_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Log format on stderr.
    #[arg(long, global = true, env = "ASTROLAB_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line (for Loki).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run everything on demo data: generate a synthetic DESI sky, ingest
    /// it into the embedded store, run example queries and every analysis,
    /// and print where the results are.
    Quickstart(crate::commands::quickstart::QuickstartArgs),
    /// Write a synthetic sky in genuine DESI formats (zpix, FastSpecFit v3,
    /// DESIVAST VoidFinder and V2, coadd and redrock spectra) with planted
    /// voids, injected spectral rarities and truth tables.
    DemoData(DemoDataArgs),
    /// Ingest catalog files or directories (format detected from the HDUs).
    Ingest(IngestArgs),
    /// Database schema: migrate, status.
    #[command(subcommand)]
    Db(DbCommand),
    /// The raw-file registry.
    #[command(subcommand)]
    Files(FilesCommand),
    /// Sky queries: cone search, crossmatch, read-only SQL.
    #[command(subcommand)]
    Query(QueryCommand),
    /// Download public data files (resumable, checksum-verified).
    #[command(subcommand)]
    Fetch(FetchCommand),
    /// The spectral store: build it from DESI coadds, get spectra by TARGETID.
    #[command(subcommand)]
    Spectra(SpectraCommand),
    /// Cosmic voids: find voids (VoidFinder), classify galaxies, compare
    /// void and wall galaxies, publish the catalog.
    #[command(subcommand)]
    Voids(crate::commands::voids::VoidsCommand),
    /// The 21 cm hydrogen line: process SDR recordings, calibrate
    /// single-dish spectra, fit components, the rotation curve.
    #[command(subcommand)]
    Hline(crate::commands::hline::HlineCommand),
    /// Anomalous quasars: train a VAE on the spectral store, score and
    /// rank every quasar, find spectra like a given one.
    #[command(subcommand)]
    Anomalies(crate::commands::anomalies::AnomaliesCommand),
    /// The web server: REST API (/api/v1), web pages, accounts, audit
    /// log, run queue and Prometheus metrics (/metrics).
    Serve(crate::commands::serve::ServeArgs),
    /// Quasar outflows: Cloudy photoionization grids, the (N_H, U) solve
    /// from measured columns, outflow energetics.
    #[command(subcommand)]
    Outflows(crate::commands::outflows::OutflowsCommand),
    /// Quasar spectral fits: continuum, Fe II, emission lines, [O III]
    /// kinematics, black-hole masses (PyQSOFit's model, constrained).
    #[command(subcommand)]
    Qso(crate::commands::qso::QsoCommand),
    /// Run a pipeline from JSON parameters (the server's run format) into
    /// an output directory, with a provenance manifest
    /// (ro-crate-metadata.json) beside the outputs.
    Run(crate::commands::run::RunArgs),
    /// A release folder for a run's table results: VAC FITS catalog with
    /// documented columns, Parquet, HATS (tables with RA/DEC), CDS ReadMe
    /// and ASCII tables, Zenodo deposit metadata, figures, the run's
    /// provenance manifest and SHA256SUMS. Refuses a run whose outputs no
    /// longer match its manifest.
    Publish(crate::commands::publish::PublishArgs),
    /// Re-execute a run from its manifest and compare every output byte
    /// for byte (volatile fields excluded); refuses when an input changed.
    Reproduce(crate::commands::reproduce::ReproduceArgs),
    /// One run as steps for a cluster's machines: plan, run one shard,
    /// reduce (what the Ray executor's driver and tasks call).
    #[command(subcommand)]
    Shard(crate::commands::shard::ShardCommand),
    /// Runs' provenance manifests.
    #[command(subcommand)]
    Runs(crate::commands::reproduce::RunsCommand),
    /// Execute queued pipeline runs (several workers may share one
    /// PostgreSQL store, on several machines).
    Worker(crate::commands::worker::WorkerArgs),
    /// Accounts of the server: add, list, disable, enable.
    #[command(subcommand)]
    User(crate::commands::serve::UserCommand),
    /// API tokens: create (shown once), revoke, list.
    #[command(subcommand)]
    Token(crate::commands::serve::TokenCommand),
    /// Verified, encrypted backups of the data home (restic; SQLite's
    /// online backup): create, verify (a real restore), restore, list,
    /// prune, status.
    #[command(subcommand)]
    Backup(crate::commands::backup::BackupCommand),
    /// Write the guide's generated reference pages (commands, API,
    /// configuration, data model) into a directory.
    #[command(hide = true)]
    DocsReference(crate::commands::docs_reference::DocsReferenceArgs),
}

#[derive(Debug, Subcommand)]
pub enum SpectraCommand {
    /// Convert DESI coadds (with their redrock files) into columnar spectra
    /// files, one Parquet file per (survey, program, HEALPix pixel), and
    /// index every TARGETID. Rerunning skips files already built from the
    /// same coadd bytes, so a killed build resumes where it stopped.
    Build(SpectraBuildArgs),
    /// Spectra by TARGETID from the store: table, CSV, JSON or FITS, and an
    /// SVG or PNG plot.
    Get(SpectraGetArgs),
    /// Index the lab's existing per-tile Parquet files (columns target_id,
    /// ra, dec, z, wavelength[], flux[], ivar[], mask_array[]) so `spectra
    /// get` and pipelines read them in place, without conversion.
    IndexLab {
        /// Directory searched recursively for *.parquet.
        dir: PathBuf,
    },
    /// Write hot copies: an uncompressed twin (`NAME.parquet.hot`, about 3x
    /// the Parquet bytes) of every spectra file of the store, which `spectra
    /// get` and pipelines' batch reads use while it matches its Parquet file.
    /// Already fresh copies are kept; delete them any time to get the space
    /// back.
    Hot,
    /// List the spectra files of the store.
    Files {
        #[command(flatten)]
        out: OutputArgs,
    },
}

#[derive(Debug, Args)]
pub struct SpectraGetArgs {
    /// TARGETIDs.
    #[arg(required = true)]
    pub target_ids: Vec<i64>,
    /// Plot the (first) spectrum to this file: .svg or .png.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Plot against rest-frame wavelength.
    #[arg(long)]
    pub rest_frame: bool,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum FetchCommand {
    /// DESI healpix coadd and redrock files from the DESI data server or
    /// its public S3 bucket. Files are verified against the published
    /// sha256 before they get their final name; rerun the same command to
    /// resume (verified files are skipped, partial files continue).
    Desi(FetchDesiArgs),
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations (also done automatically on first use).
    Migrate,
    /// Show the backend, each migration's state and table row counts.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// List registered raw files.
    List {
        #[command(flatten)]
        out: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// Rows within a radius of a position, nearest first.
    Cone(ConeArgs),
    /// Nearest match within a radius between two tables or files.
    Xmatch(XmatchArgs),
    /// One read-only SQL statement.
    Sql(SqlArgs),
}
