//! `fetch desi`: resumable, verified downloads of DESI healpix files (the
//! astrolab-fetch crate), optionally converting each pixel into the
//! spectral store as soon as its files verified.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use astrolab_fetch::{fetch, Event, FetchPlan, Kind, Mirror, Options, Pixels, ProcessFn, Release};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::context::Ctx;
use crate::error::{PipelineError, UsageError};
use crate::params::defs::SpectraBuildArgs;
use crate::pipeline::SinglePipeline;
use crate::spectra::{build_one, BuildReport};

/// The DESI data server's public tree; the release name is appended.
const DESI_PUBLIC: &str = "https://data.desi.lbl.gov/public";

#[derive(Debug, Args, Serialize, Deserialize)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["healpix", "all"])))]
/// Arguments of `fetch desi`.
pub struct FetchDesiArgs {
    /// Data release (dr1 -> iron, edr -> fuji).
    #[arg(long, default_value = "dr1")]
    pub release: String,
    /// Survey (main, sv1, sv3, ...).
    #[arg(long, default_value = "main")]
    pub survey: String,
    /// Program (dark, bright, backup, ...).
    #[arg(long, default_value = "dark")]
    pub program: String,
    /// HEALPix pixels (nside 64 nested), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub healpix: Vec<u32>,
    /// Every pixel the mirror lists for the survey and program.
    #[arg(long)]
    pub all: bool,
    /// Release root: https://... or s3://BUCKET/PREFIX
    /// (default: https://data.desi.lbl.gov/public/RELEASE).
    #[arg(long)]
    pub mirror: Option<String>,
    /// Region of an s3:// mirror.
    #[arg(long, default_value = "us-west-2")]
    pub s3_region: String,
    /// Path-style endpoint of an S3-compatible store, instead of AWS.
    #[arg(long)]
    pub s3_endpoint: Option<String>,
    /// Destination directory (default: HOME/desi/RELEASE); files keep
    /// their release-relative paths.
    #[arg(long)]
    pub dest: Option<PathBuf>,
    /// Parallel downloads.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Stop (cleanly, before a file) when free space under --dest would
    /// drop below this many GB (10^9 bytes).
    #[arg(long, default_value_t = 50.0)]
    pub min_free_gb: f64,
    /// Retries per file after the first attempt (exponential backoff,
    /// Retry-After honoured).
    #[arg(long, default_value_t = 5)]
    pub retries: u32,
    /// File kinds, comma-separated: coadd, redrock.
    #[arg(long, value_delimiter = ',', default_value = "coadd,redrock")]
    pub kinds: Vec<String>,
    /// Convert as you go: once a pixel's coadd and redrock files verified,
    /// build its spectra file into the store (as `spectra build`).
    #[arg(long)]
    pub convert: bool,
    /// With --convert: delete the coadd and redrock files once converted
    /// (the lab's 4.28 TB -> 103 GB workflow; the state file keeps them as
    /// done, so a rerun does not fetch them again).
    #[arg(long, requires = "convert")]
    pub delete_raw: bool,
    /// With --convert: which spectra to keep (the --where language over
    /// redrock columns), e.g. "spectype = 'QSO' AND zwarn = 0".
    #[arg(long, requires = "convert")]
    pub select: Option<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `fetch desi` as a pipeline (one shard: the downloads run on their own
/// `--jobs` threads).
#[derive(Debug, Default, Clone, Copy)]
pub struct FetchDesi;

impl SinglePipeline for FetchDesi {
    type Params = FetchDesiArgs;
    type Output = FetchOutput;
    fn run(&self, ctx: &Ctx, a: &FetchDesiArgs) -> Result<FetchOutput, PipelineError> {
        Ok(desi(ctx, a)?)
    }
}

/// What a fetch did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchOutput {
    /// Files downloaded and verified in this run (release-relative path,
    /// bytes).
    pub downloaded: Vec<(String, u64)>,
    /// Files verified in an earlier run.
    pub skipped: usize,
    /// Files that failed, with why.
    pub failed: Vec<(String, String)>,
    /// Bytes received.
    pub bytes_downloaded: u64,
    /// Where the files are.
    pub dest: PathBuf,
    /// The state file that records verified files.
    pub state_file: PathBuf,
}

fn usage<E: std::fmt::Display>(e: E) -> anyhow::Error {
    UsageError(e.to_string()).into()
}

/// Fetches what `a` asks for, converting as it goes with `--convert`;
/// fails (after reporting) when files failed or the disk floor stopped it.
pub fn desi(ctx: &Ctx, a: &FetchDesiArgs) -> Result<FetchOutput> {
    let release: Release = a.release.parse().map_err(usage)?;
    let kinds = a
        .kinds
        .iter()
        .map(|k| k.trim().parse::<Kind>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(usage)?;
    if !(a.min_free_gb >= 0.0 && a.min_free_gb.is_finite()) {
        return Err(usage("--min-free-gb must be a number >= 0"));
    }
    if a.jobs == 0 {
        return Err(usage("--jobs must be at least 1"));
    }
    let mirror_text = a
        .mirror
        .clone()
        .unwrap_or_else(|| format!("{DESI_PUBLIC}/{}", release.name()));
    let mirror = Mirror::parse(&mirror_text, &a.s3_region).map_err(usage)?;
    let dest = a
        .dest
        .clone()
        .unwrap_or_else(|| ctx.home().join("desi").join(release.name()));
    let plan = FetchPlan {
        release,
        survey: a.survey.clone(),
        program: a.program.clone(),
        pixels: if a.all {
            Pixels::All
        } else {
            Pixels::List(a.healpix.clone())
        },
        kinds,
        mirror,
        dest: dest.clone(),
    };
    let mut opts = Options {
        jobs: a.jobs,
        min_free_bytes: (a.min_free_gb * 1e9) as u64,
        retries: a.retries,
        s3_endpoint: a.s3_endpoint.clone(),
        ..Options::default()
    };
    if a.convert {
        opts.process = Some(convert_as_you_go(ctx, a, &dest)?);
    }
    tracing::info!(mirror = %plan.mirror, dest = %dest.display(), "fetching DESI files");

    let progress = Progress::new(ctx);
    let report = fetch(&plan, &opts, &|e| progress.event(&e))?;

    if a.json {
        let doc = serde_json::json!({
            "downloaded": report.downloaded.iter().map(|d| serde_json::json!({"path": d.path, "size_bytes": d.size_bytes})).collect::<Vec<_>>(),
            "skipped": report.skipped,
            "failed": report.failed.iter().map(|f| serde_json::json!({"path": f.path, "reason": f.reason})).collect::<Vec<_>>(),
            "stopped_by_disk_floor": report.stopped_by_disk_floor,
            "not_started": report.not_started,
            "bytes_downloaded": report.bytes_downloaded,
            "state_file": report.state_file,
        });
        ctx.info(doc.to_string());
    } else {
        for f in &report.failed {
            ctx.info(format!("failed  {}: {}", f.path, f.reason));
        }
        ctx.info(format!(
            "{} downloaded ({}), {} already verified, {} failed, {} not started; destination {}",
            report.downloaded.len(),
            binary_bytes(report.bytes_downloaded),
            report.skipped.len(),
            report.failed.len(),
            report.not_started,
            dest.display()
        ));
    }
    if report.stopped_by_disk_floor {
        bail!(
            "stopped before the next file: free space under {} would fall below {} GB \
             ({} files not started). Free some space or lower --min-free-gb, then run the \
             same command again: verified files (recorded in {}) are skipped and partial \
             .part files resume",
            dest.display(),
            a.min_free_gb,
            report.not_started,
            report.state_file.display()
        );
    }
    if !report.failed.is_empty() {
        bail!(
            "{} of the requested files failed (listed above); run the same command again \
             to retry them (verified files are skipped)",
            report.failed.len()
        );
    }
    Ok(FetchOutput {
        downloaded: report
            .downloaded
            .iter()
            .map(|d| (d.path.clone(), d.size_bytes))
            .collect(),
        skipped: report.skipped.len(),
        failed: report
            .failed
            .iter()
            .map(|f| (f.path.clone(), f.reason.clone()))
            .collect(),
        bytes_downloaded: report.bytes_downloaded,
        dest,
        state_file: report.state_file,
    })
}

/// A byte count in binary units, as `indicatif::BinaryBytes` writes it
/// (`15 B`, `1.46 KiB`, `1.40 GiB`), so the summary line reads as before.
pub fn binary_bytes(n: u64) -> String {
    const PREFIXES: [&str; 8] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"];
    let mut x = n as f64;
    let mut p = 0;
    while x >= 1024.0 && p < PREFIXES.len() {
        x /= 1024.0;
        p += 1;
    }
    if p == 0 {
        format!("{x:.0} B")
    } else {
        format!("{x:.2} {}B", PREFIXES[p - 1])
    }
}

/// The fetch's events as the run's progress: files verified of those still
/// to download (files verified earlier are taken out of the total), and
/// bytes received (at most four events a second).
struct Progress<'a> {
    ctx: &'a Ctx,
    planned: AtomicUsize,
    skipped: AtomicUsize,
    done: AtomicUsize,
    bytes: AtomicU64,
    last_bytes: Mutex<Instant>,
}

impl<'a> Progress<'a> {
    fn new(ctx: &'a Ctx) -> Progress<'a> {
        Progress {
            ctx,
            planned: AtomicUsize::new(0),
            skipped: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
            last_bytes: Mutex::new(Instant::now()),
        }
    }

    fn files(&self) {
        let total = self
            .planned
            .load(Ordering::Relaxed)
            .saturating_sub(self.skipped.load(Ordering::Relaxed));
        self.ctx.progress(
            "files",
            self.done.load(Ordering::Relaxed) as u64,
            total as u64,
        );
    }

    fn event(&self, e: &Event<'_>) {
        match e {
            Event::Planned { files } => {
                self.planned.store(*files, Ordering::Relaxed);
                self.files();
            }
            Event::Skipped { .. } => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                self.files();
            }
            Event::Started { .. } => {}
            Event::Bytes(n) => {
                let total = self.bytes.fetch_add(*n, Ordering::Relaxed) + n;
                let mut last = self.last_bytes.lock().unwrap_or_else(|p| p.into_inner());
                if last.elapsed() >= Duration::from_millis(250) {
                    *last = Instant::now();
                    self.ctx.progress("bytes", total, 0);
                }
            }
            Event::Verified { .. } => {
                self.done.fetch_add(1, Ordering::Relaxed);
                self.files();
            }
            Event::Failed { path, reason } => {
                self.done.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path, reason, "fetch failed");
                self.files();
            }
            Event::Retrying {
                path,
                attempt,
                wait,
                reason,
            } => {
                tracing::info!(path, attempt, ?wait, reason, "retrying");
            }
            Event::DiskFloor {
                free_bytes,
                needed_bytes,
            } => {
                self.ctx.warn(format!(
                    "disk floor reached: {} free, next file needs {}; finishing files in flight",
                    binary_bytes(*free_bytes),
                    binary_bytes(*needed_bytes)
                ));
            }
        }
    }
}

/// The hook that converts each pixel once both of its files verified: the
/// coadd and its redrock file go through `spectra build` for that one
/// coadd, then (with --delete-raw) both are deleted. The first file of a
/// pair to arrive waits for the second; a coadd fetched without redrock
/// files (`--kinds coadd`) converts alone (no redshifts).
fn convert_as_you_go(ctx: &Ctx, a: &FetchDesiArgs, dest: &std::path::Path) -> Result<ProcessFn> {
    if let Some(sel) = &a.select {
        astrolab_store::select_redrock(&Default::default(), sel)
            .map_err(|e| usage(format!("--select: {e}")))?;
    }
    let store = std::sync::Arc::new(Mutex::new(ctx.open_store()?));
    let args = SpectraBuildArgs {
        from: dest.to_path_buf(),
        select: a.select.clone(),
        survey: None,
        program: None,
        out: None,
        keep_negative_targetids: false,
    };
    let out_dir = ctx.home().join("spectra");
    let ctx = ctx.clone();
    let with_redrock = a.kinds.iter().any(|k| k.eq_ignore_ascii_case("redrock"));
    let delete = a.delete_raw;
    Ok(std::sync::Arc::new(
        move |path: &std::path::Path| -> Result<(), String> {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            let (coadd, redrock) = if let Some(rest) = name.strip_prefix("redrock-") {
                (
                    path.with_file_name(format!("coadd-{rest}")),
                    Some(path.to_path_buf()),
                )
            } else if let Some(rest) = name.strip_prefix("coadd-") {
                (
                    path.to_path_buf(),
                    Some(path.with_file_name(format!("redrock-{rest}"))),
                )
            } else {
                return Ok(());
            };
            let redrock = redrock.filter(|r| with_redrock && r.exists());
            if !coadd.exists() || (with_redrock && redrock.is_none()) {
                return Ok(()); // the other file of the pair is not here yet
            }
            let mut st = store
                .lock()
                .map_err(|_| "the store lock is poisoned".to_string())?;
            let mut report = BuildReport::default();
            build_one(
                &ctx,
                &mut st,
                &coadd,
                redrock.as_deref(),
                &args,
                &out_dir,
                &mut report,
            )
            .map_err(|e| format!("converting {}: {e:#}", coadd.display()))?;
            if delete {
                for f in std::iter::once(&coadd).chain(redrock.as_ref()) {
                    match std::fs::remove_file(f) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(format!("deleting {}: {e}", f.display()));
                        }
                        _ => {}
                    }
                }
            }
            Ok(())
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same text as `indicatif::BinaryBytes` (its documented examples).
    #[test]
    fn binary_bytes_reads_as_indicatif_writes_it() {
        assert_eq!(binary_bytes(15), "15 B");
        assert_eq!(binary_bytes(1_500), "1.46 KiB");
        assert_eq!(binary_bytes(1_500_000), "1.43 MiB");
        assert_eq!(binary_bytes(1_500_000_000), "1.40 GiB");
        assert_eq!(binary_bytes(0), "0 B");
        assert_eq!(binary_bytes(1024), "1.00 KiB");
    }
}
