//! The fetch loop: pixels are shared out to `jobs` worker threads; each
//! worker reads the pixel's published checksums and downloads its files
//! with resume, verification and retries.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::disk::{free_space_bytes, hash_into, parse_sha256sum, sha256_file};
use crate::layout::{Kind, Layout};
use crate::listing::{index_subdirs, numeric_children, parse_s3_list};
use crate::mirror::{join_key, Mirror};
use crate::state::{Entry, State};
use crate::{Downloaded, Event, Failed, FetchError, FetchPlan, FetchReport, Options, Pixels};

/// Largest text body read (checksum files, index pages, list pages).
const TEXT_LIMIT_BYTES: u64 = 64 * 1024 * 1024;
/// The state file is rewritten at most this often while running (and
/// always at the end); files verified but not yet recorded are re-hashed,
/// not re-fetched, by the next run.
const STATE_SAVE_INTERVAL: Duration = Duration::from_secs(2);
/// Read buffer of downloads.
const BUF_BYTES: usize = 256 * 1024;
/// Pages of one S3 listing followed at most (1000 keys each).
const MAX_LIST_PAGES: usize = 10_000;

type Progress<'p> = &'p (dyn Fn(Event<'_>) + Sync);

/// Fetches the files of `plan`. Per-file failures are listed in the report;
/// an `Err` means the run could not proceed at all (bad plan, unreadable
/// state file, failed listing, unwritable destination).
pub fn fetch(
    plan: &FetchPlan,
    opts: &Options,
    progress: Progress<'_>,
) -> Result<FetchReport, FetchError> {
    if opts.jobs == 0 {
        return Err(FetchError::Plan("--jobs must be at least 1".into()));
    }
    let mut kinds = plan.kinds.clone();
    kinds.sort();
    kinds.dedup();
    if kinds.is_empty() {
        return Err(FetchError::Plan("no file kinds requested".into()));
    }
    let layout = Layout::new(&plan.release, &plan.survey, &plan.program)?;
    fs::create_dir_all(&plan.dest).map_err(|e| FetchError::io(&plan.dest, e))?;
    let state = State::load(&plan.dest)?;
    let client = Client::new(opts);
    let pixels = match &plan.pixels {
        Pixels::List(v) => {
            let mut v = v.clone();
            v.sort_unstable();
            v.dedup();
            if v.is_empty() {
                return Err(FetchError::Plan("no pixels given".into()));
            }
            v
        }
        Pixels::All => list_pixels(&client, plan, &layout, opts)?,
    };
    progress(Event::Planned {
        files: pixels.len() * kinds.len(),
    });

    let run = Run {
        plan,
        opts,
        layout,
        kinds,
        client,
        progress,
        state: Mutex::new(Saver {
            state,
            last_save: Instant::now(),
        }),
        stop: AtomicBool::new(false),
        bytes: AtomicU64::new(0),
        out: Mutex::new(Collected::default()),
    };
    let next = AtomicUsize::new(0);
    let workers = opts.jobs.min(pixels.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if run.stop.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(&pix) = pixels.get(i) else { break };
                run.pixel(pix);
            });
        }
    });

    let taken = next.load(Ordering::SeqCst).min(pixels.len());
    let saver = run.state.into_inner().unwrap_or_else(|p| p.into_inner());
    saver.state.save(&plan.dest)?;
    let mut c = run.out.into_inner().unwrap_or_else(|p| p.into_inner());
    c.downloaded.sort_by(|a, b| a.path.cmp(&b.path));
    c.skipped.sort();
    c.failed.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(FetchReport {
        downloaded: c.downloaded,
        skipped: c.skipped,
        failed: c.failed,
        stopped_by_disk_floor: c.disk_floor,
        not_started: c.not_started + (pixels.len() - taken) * run.kinds.len(),
        bytes_downloaded: run.bytes.load(Ordering::SeqCst),
        state_file: State::path(&plan.dest),
    })
}

#[derive(Default)]
struct Collected {
    downloaded: Vec<Downloaded>,
    skipped: Vec<String>,
    failed: Vec<Failed>,
    disk_floor: bool,
    not_started: usize,
}

struct Saver {
    state: State,
    last_save: Instant,
}

struct Run<'a> {
    plan: &'a FetchPlan,
    opts: &'a Options,
    layout: Layout,
    kinds: Vec<Kind>,
    client: Client,
    progress: Progress<'a>,
    state: Mutex<Saver>,
    stop: AtomicBool,
    bytes: AtomicU64,
    out: Mutex<Collected>,
}

/// Why a file's download ended without a verified file.
enum Stop {
    Failed(String),
    DiskFloor { free_bytes: u64, needed_bytes: u64 },
}

/// The outcome of one attempt that did not produce a complete file.
enum Attempt {
    /// Not worth retrying (404, local I/O error).
    Permanent(String),
    /// Transient: retry after backoff (or after `retry_after`).
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    DiskFloor {
        free_bytes: u64,
        needed_bytes: u64,
    },
}

impl Run<'_> {
    fn out(&self) -> std::sync::MutexGuard<'_, Collected> {
        self.out.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn saver(&self) -> std::sync::MutexGuard<'_, Saver> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fail(&self, path: &str, reason: String) {
        (self.progress)(Event::Failed {
            path,
            reason: &reason,
        });
        tracing::debug!(path, %reason, "fetch failed");
        self.out().failed.push(Failed {
            path: path.to_string(),
            reason,
        });
    }

    fn url(&self, rel: &str) -> String {
        self.plan.mirror.url(rel, self.opts.s3_endpoint.as_deref())
    }

    fn local(&self, rel: &str) -> PathBuf {
        self.plan.dest.join(rel)
    }

    /// Records a verified file; the state file is rewritten now and then.
    fn record(&self, rel: &str, entry: Entry) {
        let mut s = self.saver();
        s.state.files.insert(rel.to_string(), entry);
        if s.last_save.elapsed() >= STATE_SAVE_INTERVAL {
            if let Err(e) = s.state.save(&self.plan.dest) {
                tracing::warn!(error = %e, "could not write the state file (retried at the end)");
            }
            s.last_save = Instant::now();
        }
    }

    /// Already verified (in the state file and still on disk, or deleted
    /// after processing)?
    fn verified_entry(&self, rel: &str) -> Option<Entry> {
        let entry = self.saver().state.files.get(rel).cloned()?;
        if entry.deleted {
            return Some(entry);
        }
        match fs::metadata(self.local(rel)) {
            Ok(m) if m.len() == entry.size_bytes => Some(entry),
            _ => {
                self.saver().state.files.remove(rel);
                None
            }
        }
    }

    /// Runs the processing callback on a verified file, then deletes it
    /// when asked to.
    fn after_verified(&self, rel: &str, mut entry: Entry) {
        let Some(process) = &self.opts.process else {
            return;
        };
        if entry.processed {
            return;
        }
        let path = self.local(rel);
        match process(&path) {
            Ok(()) => {
                entry.processed = true;
                if self.opts.delete_after_processing {
                    match fs::remove_file(&path) {
                        Ok(()) => entry.deleted = true,
                        Err(e) => {
                            tracing::warn!(path = %path.display(), error = %e, "could not delete a processed file")
                        }
                    }
                }
                self.record(rel, entry);
            }
            Err(reason) => self.fail(rel, format!("processing failed (file kept): {reason}")),
        }
    }

    fn pixel(&self, pix: u32) {
        let mut need = Vec::new();
        for &kind in &self.kinds {
            let rel = self.layout.file_path(kind, pix);
            match self.verified_entry(&rel) {
                Some(entry) => {
                    (self.progress)(Event::Skipped { path: &rel });
                    self.out().skipped.push(rel.clone());
                    self.after_verified(&rel, entry);
                }
                None => need.push((kind, rel)),
            }
        }
        if need.is_empty() {
            return;
        }
        if self.stop.load(Ordering::SeqCst) {
            self.out().not_started += need.len();
            return;
        }
        let sum_rel = self.layout.checksum_path(pix);
        let sums: HashMap<String, String> = match self
            .client
            .get_text(&self.url(&sum_rel), self.opts)
        {
            Ok(text) => {
                let local = self.local(&sum_rel);
                if let Err(e) = write_atomic(&local, text.as_bytes()) {
                    tracing::warn!(path = %local.display(), error = %e, "could not keep the checksum file");
                }
                parse_sha256sum(&text).into_iter().collect()
            }
            Err(reason) => {
                for (_, rel) in need {
                    self.fail(&rel, format!("checksum file {sum_rel}: {reason}"));
                }
                return;
            }
        };
        for (kind, rel) in need {
            if self.stop.load(Ordering::SeqCst) {
                self.out().not_started += 1;
                continue;
            }
            let name = self.layout.file_name(kind, pix);
            let Some(sha) = sums.get(&name) else {
                self.fail(
                    &rel,
                    format!("no sha256 for {name} in {sum_rel}; not fetched"),
                );
                continue;
            };
            self.file(&rel, sha);
        }
    }

    /// Fetches one file whose published sha256 is `sha`.
    fn file(&self, rel: &str, sha: &str) {
        let dest = self.local(rel);
        // A file under its final name but not in the state (state lost, or
        // saved before the last run ended): keep it if it verifies.
        if dest.exists() {
            match sha256_file(&dest) {
                Ok((got, size)) if got == sha => {
                    let entry = Entry {
                        sha256: got,
                        size_bytes: size,
                        processed: false,
                        deleted: false,
                    };
                    self.record(rel, entry.clone());
                    (self.progress)(Event::Skipped { path: rel });
                    self.out().skipped.push(rel.to_string());
                    self.after_verified(rel, entry);
                    return;
                }
                _ => {
                    if let Err(e) = fs::remove_file(&dest) {
                        self.fail(rel, format!("cannot replace {}: {e}", dest.display()));
                        return;
                    }
                }
            }
        }
        match self.download(rel, &dest, sha) {
            Ok(size) => {
                let entry = Entry {
                    sha256: sha.to_string(),
                    size_bytes: size,
                    processed: false,
                    deleted: false,
                };
                self.record(rel, entry.clone());
                (self.progress)(Event::Verified {
                    path: rel,
                    size_bytes: size,
                });
                self.out().downloaded.push(Downloaded {
                    path: rel.to_string(),
                    size_bytes: size,
                });
                self.after_verified(rel, entry);
            }
            Err(Stop::Failed(reason)) => self.fail(rel, reason),
            Err(Stop::DiskFloor {
                free_bytes,
                needed_bytes,
            }) => {
                let first = !self.stop.swap(true, Ordering::SeqCst);
                if first {
                    (self.progress)(Event::DiskFloor {
                        free_bytes,
                        needed_bytes,
                    });
                }
                let mut out = self.out();
                out.disk_floor = true;
                out.not_started += 1;
            }
        }
    }

    /// Downloads to `NAME.part`, verifies, renames. Retries transient
    /// failures; a checksum mismatch deletes the partial file first.
    fn download(&self, rel: &str, dest: &Path, sha: &str) -> Result<u64, Stop> {
        let part = part_path(dest);
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir)
                .map_err(|e| Stop::Failed(format!("cannot create {}: {e}", dir.display())))?;
        }
        let url = self.url(rel);
        let mut last = String::new();
        for attempt in 0..=self.opts.retries {
            let retry_after = match self.attempt(rel, &url, &part) {
                Ok((got, size)) if got == sha => {
                    return fs::rename(&part, dest).map(|()| size).map_err(|e| {
                        Stop::Failed(format!("cannot rename {}: {e}", part.display()))
                    });
                }
                Ok((got, _)) => {
                    let _ = fs::remove_file(&part);
                    last = format!(
                        "checksum mismatch (got {got}, published {sha}); partial file deleted"
                    );
                    None
                }
                Err(Attempt::Permanent(reason)) => return Err(Stop::Failed(reason)),
                Err(Attempt::DiskFloor {
                    free_bytes,
                    needed_bytes,
                }) => {
                    return Err(Stop::DiskFloor {
                        free_bytes,
                        needed_bytes,
                    })
                }
                Err(Attempt::Retry {
                    reason,
                    retry_after,
                }) => {
                    last = reason;
                    retry_after
                }
            };
            if attempt == self.opts.retries {
                break;
            }
            let wait = backoff(self.opts, attempt, retry_after);
            (self.progress)(Event::Retrying {
                path: rel,
                attempt: attempt + 1,
                wait,
                reason: &last,
            });
            tracing::debug!(path = rel, attempt = attempt + 1, ?wait, reason = %last, "retrying");
            std::thread::sleep(wait);
        }
        Err(Stop::Failed(format!(
            "{last} (gave up after {} attempts)",
            self.opts.retries + 1
        )))
    }

    /// One GET (resuming `part` when it has bytes); returns the sha256 and
    /// size of the complete `part`.
    fn attempt(&self, rel: &str, url: &str, part: &Path) -> Result<(String, u64), Attempt> {
        let local = |e: std::io::Error| Attempt::Permanent(format!("{}: {e}", part.display()));
        let offset = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        let resp = self.client.get(url, offset)?;
        let status = resp.status().as_u16();
        let append = match status {
            200 => false,
            206 => {
                let range = header(&resp, "content-range").unwrap_or_default();
                if !range.starts_with(&format!("bytes {offset}-")) {
                    let _ = fs::remove_file(part);
                    return Err(Attempt::Retry {
                        reason: format!("asked for bytes {offset}- and got Content-Range '{range}'; starting over"),
                        retry_after: None,
                    });
                }
                true
            }
            416 if offset > 0 => {
                // The partial file may already be whole: let the checksum say.
                let mut h = Sha256::new();
                let n = hash_into(part, &mut h).map_err(local)?;
                return Ok((hex::encode(h.finalize()), n));
            }
            _ => return Err(classify(status, &resp, url)),
        };
        let remaining = header(&resp, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
        let needed_bytes = remaining.unwrap_or(0);
        let free_bytes = match &self.opts.free_space {
            Some(f) => f(&self.plan.dest),
            None => free_space_bytes(&self.plan.dest),
        }
        .map_err(|e| {
            Attempt::Permanent(format!("free space of {}: {e}", self.plan.dest.display()))
        })?;
        if free_bytes < self.opts.min_free_bytes.saturating_add(needed_bytes) {
            return Err(Attempt::DiskFloor {
                free_bytes,
                needed_bytes,
            });
        }
        let start = if append { offset } else { 0 };
        (self.progress)(Event::Started {
            path: rel,
            resume_from: start,
            size_bytes: remaining,
        });
        let mut hasher = Sha256::new();
        let mut file = if append {
            hash_into(part, &mut hasher).map_err(local)?;
            OpenOptions::new().append(true).open(part).map_err(local)?
        } else {
            File::create(part).map_err(local)?
        };
        let mut reader = resp.into_body().into_reader();
        let mut buf = vec![0u8; BUF_BYTES];
        let mut written = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    file.flush().map_err(local)?;
                    return Err(Attempt::Retry {
                        reason: format!("connection lost after {} bytes: {e}", start + written),
                        retry_after: None,
                    });
                }
            };
            file.write_all(&buf[..n]).map_err(local)?;
            hasher.update(&buf[..n]);
            written += n as u64;
            self.bytes.fetch_add(n as u64, Ordering::Relaxed);
            (self.progress)(Event::Bytes(n as u64));
        }
        file.sync_all().map_err(local)?;
        if let Some(r) = remaining {
            if written < r {
                return Err(Attempt::Retry {
                    reason: format!("incomplete body: {written} of {r} bytes"),
                    retry_after: None,
                });
            }
        }
        Ok((hex::encode(hasher.finalize()), start + written))
    }
}

fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Creates `path`'s directory, then writes it atomically.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    astrolab_formats::atomic::write(path, bytes)
}

fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Maps an unexpected HTTP status to a permanent or retryable failure.
fn classify(status: u16, resp: &ureq::http::Response<ureq::Body>, url: &str) -> Attempt {
    match status {
        400..=428 | 430..=499 => Attempt::Permanent(format!("HTTP {status} for {url}")),
        _ => Attempt::Retry {
            reason: format!("HTTP {status} for {url}"),
            // Seconds form only; an HTTP-date falls back to backoff.
            retry_after: matches!(status, 429 | 503)
                .then(|| header(resp, "retry-after"))
                .flatten()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
    }
}

/// `retry_after` (capped) when the server gave one, else exponential.
fn backoff(opts: &Options, attempt: u32, retry_after: Option<Duration>) -> Duration {
    match retry_after {
        Some(d) => d.min(opts.retry_after_max),
        None => opts
            .backoff_base
            .saturating_mul(1u32 << attempt.min(16))
            .min(opts.backoff_max),
    }
}

/// A small wrapper over one `ureq` agent (connection pool shared by the
/// workers).
struct Client {
    agent: ureq::Agent,
}

impl Client {
    fn new(opts: &Options) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(opts.connect_timeout))
            .timeout_per_read(Some(opts.read_timeout))
            .user_agent(concat!("astrolab-fetch/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent: ureq::Agent::new_with_config(config),
        }
    }

    fn get(&self, url: &str, offset: u64) -> Result<ureq::http::Response<ureq::Body>, Attempt> {
        let mut req = self.agent.get(url);
        if offset > 0 {
            req = req.header("Range", &format!("bytes={offset}-"));
        }
        req.call().map_err(|e| Attempt::Retry {
            reason: format!("{url}: {e}"),
            retry_after: None,
        })
    }

    /// A small text resource, with the same retry policy as files.
    fn get_text(&self, url: &str, opts: &Options) -> Result<String, String> {
        let mut last = String::new();
        for attempt in 0..=opts.retries {
            let retry_after = match self.get(url, 0) {
                Ok(resp) if resp.status().as_u16() == 200 => {
                    match resp
                        .into_body()
                        .with_config()
                        .limit(TEXT_LIMIT_BYTES)
                        .read_to_string()
                    {
                        Ok(t) => return Ok(t),
                        Err(e) => {
                            last = format!("{url}: {e}");
                            None
                        }
                    }
                }
                Ok(resp) => match classify(resp.status().as_u16(), &resp, url) {
                    Attempt::Retry {
                        reason,
                        retry_after,
                    } => {
                        last = reason;
                        retry_after
                    }
                    Attempt::Permanent(r) => return Err(r),
                    Attempt::DiskFloor { .. } => None,
                },
                Err(Attempt::Retry {
                    reason,
                    retry_after,
                }) => {
                    last = reason;
                    retry_after
                }
                Err(Attempt::Permanent(r)) => return Err(r),
                Err(Attempt::DiskFloor { .. }) => None,
            };
            if attempt < opts.retries {
                std::thread::sleep(backoff(opts, attempt, retry_after));
            }
        }
        Err(format!(
            "{last} (gave up after {} attempts)",
            opts.retries + 1
        ))
    }
}

/// Every pixel directory of the survey and program on the mirror.
fn list_pixels(
    client: &Client,
    plan: &FetchPlan,
    layout: &Layout,
    opts: &Options,
) -> Result<Vec<u32>, FetchError> {
    let top = layout.healpix_dir();
    let children = |dir: &str| -> Result<Vec<u32>, FetchError> {
        match &plan.mirror {
            Mirror::Https(_) => {
                let url = plan.mirror.url(&format!("{dir}/"), None);
                let html = client
                    .get_text(&url, opts)
                    .map_err(|reason| FetchError::Listing { url, reason })?;
                Ok(index_subdirs(&html))
            }
            Mirror::S3 {
                bucket,
                prefix,
                region,
            } => {
                let key_prefix = format!("{}/", join_key(prefix, dir));
                let mut token: Option<String> = None;
                let mut prefixes = Vec::new();
                for _ in 0..MAX_LIST_PAGES {
                    let url = Mirror::s3_list_url(
                        bucket,
                        region,
                        opts.s3_endpoint.as_deref(),
                        &key_prefix,
                        token.as_deref(),
                    );
                    let xml = client
                        .get_text(&url, opts)
                        .map_err(|reason| FetchError::Listing { url, reason })?;
                    let page = parse_s3_list(&xml);
                    prefixes.extend(page.common_prefixes);
                    token = page.next_token;
                    if token.is_none() {
                        break;
                    }
                }
                Ok(numeric_children(&prefixes))
            }
        }
    };
    let groups = children(&top)?;
    let next = AtomicUsize::new(0);
    let found: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    let error: Mutex<Option<FetchError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.min(groups.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(g) = groups.get(i) else { break };
                match children(&format!("{top}/{g}")) {
                    Ok(p) => found.lock().unwrap_or_else(|p| p.into_inner()).extend(p),
                    Err(e) => {
                        error
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut pixels = found.into_inner().unwrap_or_else(|p| p.into_inner());
    pixels.sort_unstable();
    pixels.dedup();
    if pixels.is_empty() {
        return Err(FetchError::Listing {
            url: plan
                .mirror
                .url(&format!("{top}/"), opts.s3_endpoint.as_deref()),
            reason: "no pixel directories found (check --survey, --program and --mirror)".into(),
        });
    }
    Ok(pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let opts = Options {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(350),
            retry_after_max: Duration::from_secs(5),
            ..Options::default()
        };
        assert_eq!(backoff(&opts, 0, None), Duration::from_millis(100));
        assert_eq!(backoff(&opts, 1, None), Duration::from_millis(200));
        assert_eq!(backoff(&opts, 2, None), Duration::from_millis(350));
        assert_eq!(backoff(&opts, 40, None), Duration::from_millis(350));
        assert_eq!(
            backoff(&opts, 0, Some(Duration::from_secs(60))),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn part_name_appends_suffix() {
        assert_eq!(
            part_path(Path::new("/d/coadd-main-dark-1.fits")),
            PathBuf::from("/d/coadd-main-dark-1.fits.part")
        );
    }
}
