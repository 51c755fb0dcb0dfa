//! `astrolab fetch desi`: resumable, verified downloads of DESI healpix
//! files (see the astrolab-fetch crate).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use astrolab_fetch::{fetch, Event, FetchPlan, Kind, Mirror, Options, Pixels, Release};
use indicatif::{BinaryBytes, ProgressBar, ProgressStyle};

use crate::cli::{FetchCommand, FetchDesiArgs};
use crate::config::Config;
use crate::UsageError;

/// The DESI data server's public tree; the release name is appended.
const DESI_PUBLIC: &str = "https://data.desi.lbl.gov/public";

pub fn run(cfg: &Config, cmd: &FetchCommand) -> Result<()> {
    match cmd {
        FetchCommand::Desi(a) => desi(cfg, a),
    }
}

fn usage<E: std::fmt::Display>(e: E) -> anyhow::Error {
    UsageError(e.to_string()).into()
}

fn desi(cfg: &Config, a: &FetchDesiArgs) -> Result<()> {
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
        .unwrap_or_else(|| cfg.home.join("desi").join(release.name()));
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
        opts.process = Some(convert_as_you_go(cfg, a, &dest)?);
    }
    tracing::info!(mirror = %plan.mirror, dest = %dest.display(), "fetching DESI files");

    let bar = Bar::new();
    let report = fetch(&plan, &opts, &|e| bar.event(&e));
    bar.pb.finish_and_clear();
    let report = report?;

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
        println!("{doc}");
    } else {
        for f in &report.failed {
            println!("failed  {}: {}", f.path, f.reason);
        }
        println!(
            "{} downloaded ({}), {} already verified, {} failed, {} not started; destination {}",
            report.downloaded.len(),
            BinaryBytes(report.bytes_downloaded),
            report.skipped.len(),
            report.failed.len(),
            report.not_started,
            dest.display()
        );
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
    Ok(())
}

/// One bar over the files still to download (files verified earlier are
/// taken out of its length, so rate and ETA are those of real downloads),
/// with bytes and byte rate in its message.
struct Bar {
    pb: ProgressBar,
    start: Mutex<Option<Instant>>,
    bytes: AtomicU64,
    skipped: AtomicUsize,
    failed: AtomicUsize,
    last_msg: Mutex<Instant>,
}

impl Bar {
    fn new() -> Bar {
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} files {msg} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Bar {
            pb,
            start: Mutex::new(None),
            bytes: AtomicU64::new(0),
            skipped: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            last_msg: Mutex::new(Instant::now()),
        }
    }

    fn message(&self, force: bool) {
        let mut last = self.last_msg.lock().unwrap_or_else(|p| p.into_inner());
        if !force && last.elapsed() < Duration::from_millis(250) {
            return;
        }
        *last = Instant::now();
        let bytes = self.bytes.load(Ordering::Relaxed);
        let secs = self
            .start
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|t| t.elapsed().as_secs_f64())
            .unwrap_or(0.0);
        let rate = if secs > 0.0 {
            (bytes as f64 / secs) as u64
        } else {
            0
        };
        self.pb.set_message(format!(
            "{} at {}/s, {} skipped, {} failed,",
            BinaryBytes(bytes),
            BinaryBytes(rate),
            self.skipped.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed)
        ));
    }

    fn event(&self, e: &Event<'_>) {
        match e {
            Event::Planned { files } => self.pb.set_length(*files as u64),
            Event::Skipped { .. } => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                let len = self.pb.length().unwrap_or(0);
                self.pb.set_length(len.saturating_sub(1));
                self.message(true);
            }
            Event::Started { .. } => {
                self.start
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert_with(Instant::now);
            }
            Event::Bytes(n) => {
                self.bytes.fetch_add(*n, Ordering::Relaxed);
                self.message(false);
            }
            Event::Verified { .. } => {
                self.pb.inc(1);
                self.message(true);
            }
            Event::Failed { path, reason } => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.pb.inc(1);
                tracing::warn!(path, reason, "fetch failed");
                self.message(true);
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
                self.pb.println(format!(
                    "disk floor reached: {} free, next file needs {}; finishing files in flight",
                    BinaryBytes(*free_bytes),
                    BinaryBytes(*needed_bytes)
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
fn convert_as_you_go(
    cfg: &Config,
    a: &FetchDesiArgs,
    dest: &std::path::Path,
) -> Result<astrolab_fetch::ProcessFn> {
    if let Some(sel) = &a.select {
        astrolab_store::select_redrock(&Default::default(), sel)
            .map_err(|e| usage(format!("--select: {e}")))?;
    }
    let store = std::sync::Arc::new(Mutex::new(super::open_store(cfg)?));
    let args = crate::cli::SpectraBuildArgs {
        from: dest.to_path_buf(),
        select: a.select.clone(),
        survey: None,
        program: None,
        out: None,
        keep_negative_targetids: false,
    };
    let out_dir = cfg.home.join("spectra");
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
            let mut report = super::spectra::BuildReport::default();
            super::spectra::build_one(
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
