//! End-to-end fetches against a local HTTP server on 127.0.0.1 with
//! injected faults.

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use astrolab_fetch::{
    fetch, Event, FetchPlan, FetchReport, Kind, Mirror, Options, Pixels, STATE_FILE,
};
use common::{desi_tree, Fault, Server};

/// The mirror's release root inside the served tree.
const ROOT: &str = "public/dr1";

struct Setup {
    _tmp: tempfile::TempDir,
    server: Server,
    dest: std::path::PathBuf,
    files: HashMap<String, Vec<u8>>,
}

fn setup(pixels: &[u32]) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    let files = desi_tree(&served.join(ROOT), "main", "dark", pixels);
    let server = Server::start(&served);
    let dest = tmp.path().join("dest");
    Setup {
        _tmp: tmp,
        server,
        dest,
        files,
    }
}

impl Setup {
    fn plan(&self, pixels: Pixels) -> FetchPlan {
        FetchPlan {
            release: "dr1".parse().unwrap(),
            survey: "main".into(),
            program: "dark".into(),
            pixels,
            kinds: vec![Kind::Coadd, Kind::Redrock],
            mirror: Mirror::parse(&format!("{}/{ROOT}", self.server.base), "").unwrap(),
            dest: self.dest.clone(),
        }
    }

    /// URL path of a release-relative file.
    fn url_path(&self, rel: &str) -> String {
        format!("/{ROOT}/{rel}")
    }

    fn assert_verified(&self, rel: &str) {
        let got = fs::read(self.dest.join(rel)).unwrap();
        assert!(got == self.files[rel], "{rel} differs from the served file");
        assert!(!part(&self.dest.join(rel)).exists());
    }
}

fn rel(kind: &str, pix: u32) -> String {
    format!(
        "spectro/redux/iron/healpix/main/dark/{}/{pix}/{kind}-main-dark-{pix}.fits",
        pix / 100
    )
}

fn part(p: &Path) -> std::path::PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(".part");
    s.into()
}

/// Fast retries, plenty of "free space", a floor of zero.
fn opts() -> Options {
    Options {
        jobs: 2,
        min_free_bytes: 0,
        retries: 3,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        ..Options::default()
    }
}

fn run(plan: &FetchPlan, opts: &Options) -> FetchReport {
    fetch(plan, opts, &|_| {}).unwrap()
}

fn state_paths(dest: &Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(dest.join(STATE_FILE)).unwrap()).unwrap();
    v["files"].as_object().unwrap().keys().cloned().collect()
}

#[test]
fn fetches_verifies_and_skips_on_rerun() {
    let s = setup(&[26065, 26066]);
    let plan = s.plan(Pixels::List(vec![26066, 26065, 26065]));
    let events = Mutex::new(Vec::new());
    let report = fetch(&plan, &opts(), &|e| {
        if let Event::Verified { path, .. } = e {
            events.lock().unwrap().push(path.to_string());
        }
    })
    .unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.downloaded.len(), 4);
    assert_eq!(events.lock().unwrap().len(), 4);
    for f in s.files.keys() {
        s.assert_verified(f);
    }
    // The published checksum file is kept beside the data.
    assert!(s
        .dest
        .join("spectro/redux/iron/healpix/main/dark/260/26065/main-dark-26065.sha256sum")
        .exists());
    assert_eq!(state_paths(&s.dest).len(), 4);

    s.server.clear_log();
    let again = run(&plan, &opts());
    assert!(again.is_complete());
    assert!(again.downloaded.is_empty());
    assert_eq!(again.skipped.len(), 4);
    assert!(s.server.requests().is_empty(), "a rerun fetched again");
}

#[test]
fn connection_cut_mid_file_resumes_with_range() {
    let s = setup(&[26065]);
    let coadd = rel("coadd", 26065);
    s.server.inject(
        &s.url_path(&coadd),
        [Fault::Cut {
            after_bytes: 100_000,
        }],
    );
    let report = run(&s.plan(Pixels::List(vec![26065])), &opts());
    assert!(report.is_complete(), "{report:?}");
    s.assert_verified(&coadd);
    let reqs = s.server.requests_for(&coadd);
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0].range_from, None);
    assert_eq!(reqs[1].range_from, Some(100_000));
    assert_eq!(
        report.bytes_downloaded,
        s.files.values().map(|f| f.len() as u64).sum::<u64>()
    );
}

#[test]
fn partial_file_from_an_earlier_run_is_resumed() {
    let s = setup(&[26065]);
    let coadd = rel("coadd", 26065);
    let dest = s.dest.join(&coadd);
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    fs::write(part(&dest), &s.files[&coadd][..1234]).unwrap();
    let report = run(&s.plan(Pixels::List(vec![26065])), &opts());
    assert!(report.is_complete(), "{report:?}");
    s.assert_verified(&coadd);
    assert_eq!(s.server.requests_for(&coadd)[0].range_from, Some(1234));
}

#[test]
fn not_found_is_reported_and_the_others_continue() {
    let s = setup(&[26065, 26066]);
    let missing = rel("redrock", 26065);
    fs::remove_file(s.server.root.join(ROOT).join(&missing)).unwrap();
    let report = run(&s.plan(Pixels::List(vec![26065, 26066])), &opts());
    assert!(!report.is_complete());
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].path, missing);
    assert!(
        report.failed[0].reason.contains("404"),
        "{:?}",
        report.failed
    );
    assert_eq!(report.downloaded.len(), 3);
    // A 404 is not retried.
    assert_eq!(s.server.requests_for(&missing).len(), 1);
    assert!(!s.dest.join(&missing).exists());
}

#[test]
fn missing_checksum_file_fails_that_pixel_only() {
    let s = setup(&[26065, 26066]);
    fs::remove_file(
        s.server
            .root
            .join(ROOT)
            .join("spectro/redux/iron/healpix/main/dark/260/26066/main-dark-26066.sha256sum"),
    )
    .unwrap();
    let report = run(&s.plan(Pixels::List(vec![26065, 26066])), &opts());
    assert_eq!(report.downloaded.len(), 2);
    assert_eq!(report.failed.len(), 2);
    assert!(report
        .failed
        .iter()
        .all(|f| f.reason.contains("checksum file")));
    assert!(s.server.requests_for(&rel("coadd", 26066)).is_empty());
}

#[test]
fn unavailable_then_success_honours_retry_after() {
    let s = setup(&[26065]);
    let coadd = rel("coadd", 26065);
    s.server.inject(
        &s.url_path(&coadd),
        [
            Fault::Status {
                code: 503,
                retry_after_s: Some(1),
            },
            Fault::Status {
                code: 429,
                retry_after_s: None,
            },
        ],
    );
    let retries = AtomicUsize::new(0);
    let t0 = Instant::now();
    let report = fetch(&s.plan(Pixels::List(vec![26065])), &opts(), &|e| {
        if let Event::Retrying { .. } = e {
            retries.fetch_add(1, Ordering::SeqCst);
        }
    })
    .unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "Retry-After ignored"
    );
    assert_eq!(retries.load(Ordering::SeqCst), 2);
    assert_eq!(s.server.requests_for(&coadd).len(), 3);
    s.assert_verified(&coadd);
}

#[test]
fn persistent_server_error_gives_up_after_the_retry_limit() {
    let s = setup(&[26065]);
    let coadd = rel("coadd", 26065);
    s.server.inject(
        &s.url_path(&coadd),
        (0..10).map(|_| Fault::Status {
            code: 500,
            retry_after_s: None,
        }),
    );
    let o = Options {
        retries: 2,
        ..opts()
    };
    let report = run(&s.plan(Pixels::List(vec![26065])), &o);
    assert_eq!(report.failed.len(), 1);
    assert!(
        report.failed[0].reason.contains("3 attempts"),
        "{:?}",
        report.failed
    );
    assert_eq!(s.server.requests_for(&coadd).len(), 3);
    assert_eq!(report.downloaded.len(), 1);
}

#[test]
fn corrupted_file_is_deleted_and_fetched_again() {
    let s = setup(&[26065]);
    let coadd = rel("coadd", 26065);
    s.server.inject(&s.url_path(&coadd), [Fault::Corrupt]);
    let report = run(&s.plan(Pixels::List(vec![26065])), &opts());
    assert!(report.is_complete(), "{report:?}");
    s.assert_verified(&coadd);
    let reqs = s.server.requests_for(&coadd);
    assert_eq!(reqs.len(), 2);
    // The bad bytes were deleted, not resumed from.
    assert_eq!(reqs[1].range_from, None);
}

#[test]
fn always_corrupted_file_fails_and_never_gets_its_final_name() {
    let s = setup(&[26065]);
    let coadd = rel("coadd", 26065);
    s.server
        .inject(&s.url_path(&coadd), (0..10).map(|_| Fault::Corrupt));
    let o = Options {
        retries: 2,
        ..opts()
    };
    let report = run(&s.plan(Pixels::List(vec![26065])), &o);
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].reason.contains("checksum mismatch"));
    assert_eq!(s.server.requests_for(&coadd).len(), 3);
    assert!(!s.dest.join(&coadd).exists());
    assert!(!part(&s.dest.join(&coadd)).exists());
    assert!(!state_paths(&s.dest).contains(&coadd));
    assert_eq!(state_paths(&s.dest), vec![rel("redrock", 26065)]);
}

#[test]
fn disk_floor_stops_cleanly_and_a_rerun_completes() {
    let s = setup(&[26065, 26066]);
    let plan = s.plan(Pixels::List(vec![26065, 26066]));
    // Free space: plenty for two checks, then 10 bytes.
    let calls = Arc::new(AtomicU64::new(0));
    let c = calls.clone();
    let tight = Options {
        jobs: 1,
        min_free_bytes: 1_000_000,
        free_space: Some(Arc::new(move |_: &Path| {
            Ok(if c.fetch_add(1, Ordering::SeqCst) < 2 {
                u64::MAX / 2
            } else {
                10
            })
        })),
        ..opts()
    };
    let floor_events = AtomicUsize::new(0);
    let report = fetch(&plan, &tight, &|e| {
        if let Event::DiskFloor { .. } = e {
            floor_events.fetch_add(1, Ordering::SeqCst);
        }
    })
    .unwrap();
    assert!(report.stopped_by_disk_floor);
    assert!(!report.is_complete());
    assert_eq!(floor_events.load(Ordering::SeqCst), 1);
    assert_eq!(report.downloaded.len(), 2);
    assert_eq!(report.not_started, 2);
    assert!(report.failed.is_empty());
    let done: Vec<String> = report.downloaded.iter().map(|d| d.path.clone()).collect();
    assert_eq!(done, vec![rel("coadd", 26065), rel("redrock", 26065)]);
    assert_eq!(state_paths(&s.dest), done);
    assert!(!s.dest.join(rel("coadd", 26066)).exists());

    s.server.clear_log();
    let roomy = Options {
        jobs: 1,
        min_free_bytes: 1_000_000,
        free_space: Some(Arc::new(|_: &Path| Ok(u64::MAX / 2))),
        ..opts()
    };
    let again = run(&plan, &roomy);
    assert!(again.is_complete(), "{again:?}");
    assert_eq!(again.skipped, done);
    assert_eq!(again.downloaded.len(), 2);
    for d in &done {
        assert!(s.server.requests_for(d).is_empty(), "{d} fetched again");
    }
    for f in s.files.keys() {
        s.assert_verified(f);
    }
}

#[test]
fn all_pixels_are_listed_from_index_pages() {
    let s = setup(&[26065, 26066, 9, 110]);
    // A file in a group directory is not a pixel.
    fs::write(
        s.server
            .root
            .join(ROOT)
            .join("spectro/redux/iron/healpix/main/dark/260/README"),
        "x",
    )
    .unwrap();
    let report = run(&s.plan(Pixels::All), &opts());
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.downloaded.len(), 8);
    for f in s.files.keys() {
        s.assert_verified(f);
    }
}

#[test]
fn s3_mirror_lists_and_downloads_through_the_endpoint_override() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    // Path-style: /BUCKET/PREFIX/spectro/...
    let files = desi_tree(
        &served.join("desiproto/dr1"),
        "main",
        "dark",
        &[26065, 26066, 9],
    );
    let server = Server::start(&served);
    let plan = FetchPlan {
        release: "dr1".parse().unwrap(),
        survey: "main".into(),
        program: "dark".into(),
        pixels: Pixels::All,
        kinds: vec![Kind::Redrock],
        mirror: Mirror::parse("s3://desiproto/dr1", "us-west-2").unwrap(),
        dest: tmp.path().join("dest"),
    };
    let o = Options {
        s3_endpoint: Some(server.base.clone()),
        ..opts()
    };
    let report = run(&plan, &o);
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.downloaded.len(), 3);
    for d in &report.downloaded {
        assert!(d.path.contains("/redrock-"));
        assert!(fs::read(plan.dest.join(&d.path)).unwrap() == files[&d.path]);
    }
    // The listing followed a continuation token.
    assert!(server.requests().iter().any(|r| r
        .query
        .as_deref()
        .is_some_and(|q| q.contains("continuation-token"))));
}

#[test]
fn verified_files_go_to_the_processor_and_can_be_deleted() {
    let s = setup(&[26065]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let o = Options {
        process: Some(Arc::new(move |p: &Path| {
            let bytes = fs::metadata(p).map_err(|e| e.to_string())?.len();
            seen2.lock().unwrap().push(bytes);
            Ok(())
        })),
        delete_after_processing: true,
        ..opts()
    };
    let plan = s.plan(Pixels::List(vec![26065]));
    let report = run(&plan, &o);
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(seen.lock().unwrap().len(), 2);
    for f in s.files.keys() {
        assert!(!s.dest.join(f).exists(), "{f} not deleted");
    }
    s.server.clear_log();
    let again = run(&plan, &o);
    assert_eq!(again.skipped.len(), 2);
    assert!(s.server.requests().is_empty());
    assert_eq!(seen.lock().unwrap().len(), 2, "processed twice");
}

#[test]
fn a_refused_file_is_kept_and_offered_again() {
    let s = setup(&[26065]);
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let o = Options {
        process: Some(Arc::new(move |_: &Path| {
            c.fetch_add(1, Ordering::SeqCst);
            Err("converter not ready".to_string())
        })),
        delete_after_processing: true,
        ..opts()
    };
    let plan = s.plan(Pixels::List(vec![26065]));
    let report = run(&plan, &o);
    assert_eq!(report.downloaded.len(), 2);
    assert_eq!(report.failed.len(), 2);
    assert!(report.failed[0].reason.contains("converter not ready"));
    for f in s.files.keys() {
        s.assert_verified(f);
    }
    let again = run(&plan, &o);
    assert_eq!(again.skipped.len(), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[test]
fn a_final_file_missing_from_the_state_is_rechecked_not_refetched() {
    let s = setup(&[26065]);
    let plan = s.plan(Pixels::List(vec![26065]));
    assert!(run(&plan, &opts()).is_complete());
    fs::remove_file(s.dest.join(STATE_FILE)).unwrap();
    // And one file was damaged on disk since.
    let redrock = rel("redrock", 26065);
    fs::write(s.dest.join(&redrock), b"damaged").unwrap();
    s.server.clear_log();
    let again = run(&plan, &opts());
    assert!(again.is_complete(), "{again:?}");
    assert_eq!(again.skipped, vec![rel("coadd", 26065)]);
    assert_eq!(again.downloaded.len(), 1);
    assert!(s.server.requests_for(&rel("coadd", 26065)).is_empty());
    s.assert_verified(&redrock);
}

#[test]
fn bad_plans_are_refused() {
    let s = setup(&[1]);
    let mut plan = s.plan(Pixels::List(vec![]));
    assert!(fetch(&plan, &opts(), &|_| {}).is_err());
    plan.pixels = Pixels::List(vec![1]);
    plan.kinds.clear();
    assert!(fetch(&plan, &opts(), &|_| {}).is_err());
    plan.kinds = vec![Kind::Coadd];
    plan.survey = "../x".into();
    assert!(fetch(&plan, &opts(), &|_| {}).is_err());
    let zero = Options { jobs: 0, ..opts() };
    plan.survey = "main".into();
    assert!(fetch(&plan, &zero, &|_| {}).is_err());
}

#[test]
fn a_complete_part_file_is_verified_and_renamed_without_refetching() {
    let s = setup(&[26065]);
    let coadd = rel("coadd", 26065);
    let dest = s.dest.join(&coadd);
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    // As left by a run killed between the last byte and the rename.
    fs::write(part(&dest), &s.files[&coadd]).unwrap();
    let report = run(&s.plan(Pixels::List(vec![26065])), &opts());
    assert!(report.is_complete(), "{report:?}");
    s.assert_verified(&coadd);
    let reqs = s.server.requests_for(&coadd);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].range_from, Some(s.files[&coadd].len() as u64));
}

#[test]
fn listing_a_missing_survey_is_an_error() {
    let s = setup(&[26065]);
    let mut plan = s.plan(Pixels::All);
    plan.program = "bright".into();
    let o = Options {
        retries: 0,
        ..opts()
    };
    let err = fetch(&plan, &o, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
}
