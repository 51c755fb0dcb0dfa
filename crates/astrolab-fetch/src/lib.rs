//! Resumable, verified downloads of DESI healpix files (coadds, redrock
//! fits) from the DESI data server or its public S3 bucket.
//!
//! Every file is downloaded to `NAME.part` (resumed with an HTTP `Range`
//! request after a cut), checked against the sha256 that DESI publishes in
//! the pixel's `.sha256sum` file, and only then renamed to its final name
//! and recorded in `DEST/.astrolab-fetch-state.json`, so a rerun skips it.
//! Transient failures are retried with exponential backoff (honouring
//! `Retry-After` on 429/503); the run stops cleanly, before a file, when
//! free space under the destination would fall below a floor.
//!
//! ```no_run
//! use astrolab_fetch::{fetch, FetchPlan, Kind, Mirror, Options, Pixels};
//!
//! let plan = FetchPlan {
//!     release: "dr1".parse()?,
//!     survey: "main".into(),
//!     program: "dark".into(),
//!     pixels: Pixels::List(vec![26065, 26066]),
//!     kinds: vec![Kind::Coadd, Kind::Redrock],
//!     mirror: Mirror::parse("https://data.desi.lbl.gov/public/dr1", "us-west-2")?,
//!     dest: "desi".into(),
//! };
//! let report = fetch(&plan, &Options::default(), &|_event| {})?;
//! println!("{} downloaded, {} failed", report.downloaded.len(), report.failed.len());
//! # Ok::<(), astrolab_fetch::FetchError>(())
//! ```

mod disk;
mod engine;
mod layout;
mod listing;
mod mirror;
mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use disk::free_space_bytes;
pub use engine::fetch;
pub use layout::{Kind, Release, RELEASES};
pub use mirror::{Mirror, DEFAULT_S3_REGION};
pub use state::STATE_FILE;

/// What to fetch and where to put it.
#[derive(Debug, Clone)]
pub struct FetchPlan {
    /// Data release (`dr1` -> specprod `iron`).
    pub release: Release,
    /// Survey, e.g. `main`.
    pub survey: String,
    /// Program, e.g. `dark`.
    pub program: String,
    /// Which HEALPix pixels (nside 64, nested, as DESI names them).
    pub pixels: Pixels,
    /// Which files of each pixel.
    pub kinds: Vec<Kind>,
    /// Release root to read from.
    pub mirror: Mirror,
    /// Destination directory: files keep their release-relative paths.
    pub dest: PathBuf,
}

/// Pixel selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pixels {
    /// These pixels.
    List(Vec<u32>),
    /// Every pixel directory the mirror lists for the survey and program.
    All,
}

/// Free space (bytes) under a path.
pub type FreeSpaceFn = Arc<dyn Fn(&std::path::Path) -> std::io::Result<u64> + Send + Sync>;
/// Called with each verified file (final path); `Err` leaves it in place.
pub type ProcessFn = Arc<dyn Fn(&std::path::Path) -> Result<(), String> + Send + Sync>;

/// How to fetch.
#[derive(Clone)]
pub struct Options {
    /// Parallel downloads (pixels in flight).
    pub jobs: usize,
    /// Stop before a file when free space under the destination would drop
    /// below this many bytes.
    pub min_free_bytes: u64,
    /// Retries after the first attempt, per file.
    pub retries: u32,
    /// First backoff; doubled on each retry up to `backoff_max`.
    pub backoff_base: Duration,
    /// Longest backoff.
    pub backoff_max: Duration,
    /// Longest wait honoured from a `Retry-After` header.
    pub retry_after_max: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Longest silence while reading a response.
    pub read_timeout: Duration,
    /// Path-style S3 endpoint (`http://127.0.0.1:9000`) instead of
    /// `https://BUCKET.s3.REGION.amazonaws.com`.
    pub s3_endpoint: Option<String>,
    /// Free-space probe; `None` uses statvfs ([`free_space_bytes`]).
    pub free_space: Option<FreeSpaceFn>,
    /// Called with each verified file (also for verified files of earlier
    /// runs that it has not yet accepted).
    pub process: Option<ProcessFn>,
    /// Delete a file once `process` returned Ok for it (it stays recorded
    /// as done and is not fetched again).
    pub delete_after_processing: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            jobs: 4,
            min_free_bytes: 50 * 1024 * 1024 * 1024,
            retries: 5,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(120),
            retry_after_max: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
            s3_endpoint: None,
            free_space: None,
            process: None,
            delete_after_processing: false,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("jobs", &self.jobs)
            .field("min_free_bytes", &self.min_free_bytes)
            .field("retries", &self.retries)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("delete_after_processing", &self.delete_after_processing)
            .finish_non_exhaustive()
    }
}

/// Progress, reported as it happens (from worker threads).
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// The work is known: this many files to consider.
    Planned { files: usize },
    /// A file was verified in an earlier run.
    Skipped { path: &'a str },
    /// A download starts (`size_bytes`: what remains, when the server says).
    Started {
        path: &'a str,
        resume_from: u64,
        size_bytes: Option<u64>,
    },
    /// Bytes received (any file).
    Bytes(u64),
    /// A file was verified and renamed to its final name.
    Verified { path: &'a str, size_bytes: u64 },
    /// An attempt failed; the next one follows after `wait`.
    Retrying {
        path: &'a str,
        attempt: u32,
        wait: Duration,
        reason: &'a str,
    },
    /// A file failed for good.
    Failed { path: &'a str, reason: &'a str },
    /// The disk floor was reached; no new file will start.
    DiskFloor { free_bytes: u64, needed_bytes: u64 },
}

/// A downloaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Release-relative path.
    pub path: String,
    pub size_bytes: u64,
}

/// A file that could not be fetched (or processed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// Release-relative path.
    pub path: String,
    pub reason: String,
}

/// The outcome of a run. Lists are sorted by path.
#[derive(Debug, Clone, Default)]
pub struct FetchReport {
    /// Downloaded and verified in this run.
    pub downloaded: Vec<Downloaded>,
    /// Verified in an earlier run (release-relative paths).
    pub skipped: Vec<String>,
    /// Failed after retries, or failed permanently (404), or refused by
    /// the processing callback.
    pub failed: Vec<Failed>,
    /// The run stopped early because of the free-disk floor.
    pub stopped_by_disk_floor: bool,
    /// Files not attempted because the run stopped early.
    pub not_started: usize,
    /// Bytes received in this run.
    pub bytes_downloaded: u64,
    /// The state file that records verified files.
    pub state_file: PathBuf,
}

impl FetchReport {
    /// Every requested file is verified.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && !self.stopped_by_disk_floor && self.not_started == 0
    }
}

/// Errors that stop a run as a whole (per-file failures go to the report).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The plan or options are unusable.
    #[error("{0}")]
    Plan(String),
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The state file is unreadable.
    #[error("state file {path}: {reason}")]
    State { path: PathBuf, reason: String },
    /// Listing the pixels (`--all`) failed.
    #[error("listing {url}: {reason}")]
    Listing { url: String, reason: String },
}

impl FetchError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        FetchError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
