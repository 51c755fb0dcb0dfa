//! The run queue on both backends: claim order, fencing, reaping, and
//! concurrent workers that each claim and finish runs exactly once.

mod common;

use std::collections::HashSet;

use astrolab_store::{NewRun, RunState, Store, StoreConfig};
use common::*;

fn new_run(i: usize, max_attempts: i64) -> NewRun {
    NewRun {
        pipeline: "voids".into(),
        params: serde_json::json!({"i": i, "survey": "desi"}),
        submitted_by: if i.is_multiple_of(2) { "alice" } else { "bob" }.into(),
        max_attempts,
    }
}

#[test]
fn submit_claim_heartbeat_finish() {
    let (_d, cfgs) = backends("runs_basic");
    for cfg in cfgs {
        let mut s = Store::open(&cfg).unwrap();
        let a = s.submit_run(&new_run(0, 3), 1_000).unwrap();
        let b = s.submit_run(&new_run(1, 3), 1_001).unwrap();
        let c = s.submit_run(&new_run(2, 3), 1_002).unwrap();
        assert_eq!(
            (a.state, a.attempts, a.worker_id.clone()),
            (RunState::Queued, 0, None)
        );
        assert_eq!(a.params["i"], 0);
        assert!(a.run_id < b.run_id && b.run_id < c.run_id);
        assert!(s
            .submit_run(
                &NewRun {
                    max_attempts: 0,
                    ..new_run(9, 1)
                },
                0
            )
            .is_err());

        let st = s.queue_stats(3_000).unwrap();
        assert_eq!((st.queued, st.running), (3, 0));
        assert_eq!(st.oldest_queued_age_s, Some(2.0));

        // Oldest first.
        let r = s.claim_run("w1", 2_000, 10_000).unwrap().unwrap();
        assert_eq!(r.run_id, a.run_id);
        assert_eq!(
            (
                r.state,
                r.attempts,
                r.worker_id.as_deref(),
                r.lease_expires_ms,
                r.started_at_ms
            ),
            (RunState::Running, 1, Some("w1"), Some(12_000), Some(2_000))
        );
        assert!(s.cancel_run(b.run_id).unwrap());
        assert!(
            !s.cancel_run(a.run_id).unwrap(),
            "running runs are not cancelled here"
        );
        let r2 = s.claim_run("w2", 2_100, 10_000).unwrap().unwrap();
        assert_eq!(r2.run_id, c.run_id, "the cancelled run is skipped");
        assert!(s.claim_run("w3", 2_200, 10_000).unwrap().is_none());

        assert!(s
            .heartbeat_run(a.run_id, "w1", 1, 5_000, 10_000, Some(0.5), Some("halfway"))
            .unwrap());
        let now = s.get_run(a.run_id).unwrap().unwrap();
        assert_eq!(
            (now.lease_expires_ms, now.progress, now.message.as_deref()),
            (Some(15_000), Some(0.5), Some("halfway"))
        );
        // Progress only: the message stays.
        assert!(s
            .heartbeat_run(a.run_id, "w1", 1, 5_100, 10_000, Some(0.6), None)
            .unwrap());
        assert_eq!(
            s.get_run(a.run_id).unwrap().unwrap().message.as_deref(),
            Some("halfway")
        );
        // Wrong worker or attempt: fenced.
        assert!(!s
            .heartbeat_run(a.run_id, "w2", 1, 5_000, 10_000, None, None)
            .unwrap());
        assert!(!s
            .heartbeat_run(a.run_id, "w1", 2, 5_000, 10_000, None, None)
            .unwrap());

        s.append_run_log(a.run_id, "stdout", &["one".into(), "two".into()], 5_000)
            .unwrap();
        let many: Vec<String> = (0..250).map(|i| format!("line {i}")).collect();
        s.append_run_log(a.run_id, "stderr", &many, 5_001).unwrap();
        let logs = s.run_logs(a.run_id, 0, 1_000).unwrap();
        assert_eq!(logs.len(), 252);
        assert_eq!(
            logs.iter().map(|l| l.seq).collect::<Vec<_>>(),
            (1..=252).collect::<Vec<i64>>()
        );
        assert_eq!(
            (logs[1].line.as_str(), logs[1].stream.as_str()),
            ("two", "stdout")
        );
        assert_eq!(logs[251].line, "line 249");
        let tail = s.run_logs(a.run_id, 250, 10).unwrap();
        assert_eq!(
            tail.iter().map(|l| l.seq).collect::<Vec<_>>(),
            vec![251, 252]
        );
        assert!(s
            .append_run_log(99_999, "stdout", &["x".into()], 0)
            .is_err());

        assert!(
            !s.finish_run(a.run_id, "w1", 2, true, Some(0), None, None, 6_000)
                .unwrap(),
            "stale attempt"
        );
        assert!(s
            .finish_run(
                a.run_id,
                "w1",
                1,
                true,
                Some(0),
                Some("done"),
                Some(serde_json::json!({"voids": 42})),
                6_000
            )
            .unwrap());
        let done = s.get_run(a.run_id).unwrap().unwrap();
        assert_eq!(
            (
                done.state,
                done.exit_code,
                done.finished_at_ms,
                done.progress,
                done.lease_expires_ms
            ),
            (RunState::Succeeded, Some(0), Some(6_000), Some(1.0), None)
        );
        assert_eq!(done.result.unwrap()["voids"], 42);
        assert!(!s
            .heartbeat_run(a.run_id, "w1", 1, 6_500, 10_000, None, None)
            .unwrap());
        assert!(
            !s.finish_run(a.run_id, "w1", 1, false, Some(1), None, None, 6_600)
                .unwrap(),
            "finished twice"
        );

        assert!(s
            .finish_run(
                c.run_id,
                "w2",
                1,
                false,
                Some(2),
                Some("bad input"),
                None,
                7_000
            )
            .unwrap());
        let attempts = s.run_attempts(c.run_id).unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(
            (
                attempts[0].worker_id.as_str(),
                attempts[0].outcome.as_deref(),
                attempts[0].finished_ms
            ),
            ("w2", Some("failed"), Some(7_000))
        );

        let st = s.queue_stats(8_000).unwrap();
        assert_eq!(
            (
                st.queued,
                st.running,
                st.succeeded,
                st.failed,
                st.cancelled,
                st.oldest_queued_age_s
            ),
            (0, 0, 1, 1, 1, None)
        );
        let (all, total) = s.list_runs(None, None, 2, 0).unwrap();
        assert_eq!(total, 3);
        assert_eq!(
            all.iter().map(|r| r.run_id).collect::<Vec<_>>(),
            vec![c.run_id, b.run_id]
        );
        let (page2, _) = s.list_runs(None, None, 2, 2).unwrap();
        assert_eq!(
            page2.iter().map(|r| r.run_id).collect::<Vec<_>>(),
            vec![a.run_id]
        );
        let (alice, n) = s.list_runs(None, Some("alice"), 10, 0).unwrap();
        assert_eq!((n, alice.len()), (2, 2));
        let (failed, n) = s
            .list_runs(Some(RunState::Failed), Some("alice"), 10, 0)
            .unwrap();
        assert_eq!((n, failed[0].run_id), (1, c.run_id));
    }
}

#[test]
fn reaping_requeues_then_fails() {
    let (_d, cfgs) = backends("runs_reap");
    for cfg in cfgs {
        let mut s = Store::open(&cfg).unwrap();
        let run = s.submit_run(&new_run(0, 2), 0).unwrap();
        let other = s.submit_run(&new_run(1, 2), 0).unwrap();

        let r = s.claim_run("w1", 1_000, 5_000).unwrap().unwrap();
        assert_eq!(r.run_id, run.run_id);
        let o = s.claim_run("w9", 1_000, 60_000).unwrap().unwrap();
        assert_eq!(o.run_id, other.run_id);
        // Not yet expired.
        assert!(s.reap_expired_runs(6_000).unwrap().is_empty());
        let reaped = s.reap_expired_runs(6_001).unwrap();
        assert_eq!(reaped.len(), 1, "only the expired lease");
        let back = &reaped[0];
        assert_eq!(
            (back.run_id, back.state, back.worker_id.clone()),
            (run.run_id, RunState::Queued, None)
        );
        assert_eq!(
            back.message.as_deref(),
            Some("worker w1 stopped heartbeating (attempt 1 of 2); queued again")
        );
        assert!(
            s.reap_expired_runs(6_002).unwrap().is_empty(),
            "reaped once"
        );
        // The old worker wakes up: fenced out.
        assert!(!s
            .heartbeat_run(run.run_id, "w1", 1, 6_100, 5_000, None, None)
            .unwrap());
        assert!(!s
            .finish_run(run.run_id, "w1", 1, true, Some(0), None, None, 6_100)
            .unwrap());

        let r2 = s.claim_run("w2", 7_000, 5_000).unwrap().unwrap();
        assert_eq!((r2.run_id, r2.attempts), (run.run_id, 2));
        // Same worker id as before would not help a stale attempt either.
        assert!(!s
            .heartbeat_run(run.run_id, "w2", 1, 7_100, 5_000, None, None)
            .unwrap());
        let reaped = s.reap_expired_runs(20_000).unwrap();
        assert_eq!(reaped.len(), 1);
        assert_eq!(reaped[0].state, RunState::Failed);
        assert_eq!(reaped[0].finished_at_ms, Some(20_000));
        assert_eq!(
            reaped[0].message.as_deref(),
            Some("worker w2 stopped heartbeating (attempt 2 of 2)")
        );
        let attempts = s.run_attempts(run.run_id).unwrap();
        assert_eq!(
            attempts
                .iter()
                .map(|a| (a.attempt, a.worker_id.as_str(), a.outcome.as_deref()))
                .collect::<Vec<_>>(),
            vec![(1, "w1", Some("lost")), (2, "w2", Some("lost"))]
        );
        assert!(s.claim_run("w3", 21_000, 5_000).unwrap().is_none());
        // The other run's worker kept its lease.
        assert!(s
            .heartbeat_run(other.run_id, "w9", 1, 30_000, 60_000, None, None)
            .unwrap());
        assert_eq!(
            s.get_run(other.run_id).unwrap().unwrap().state,
            RunState::Running
        );
    }
}

/// `threads` workers, each with its own store (connection), claim and
/// finish `n` runs; reapers run alongside with a clock far behind the
/// leases. Every run must succeed with exactly one attempt.
fn concurrent_workers(cfg: &StoreConfig, threads: usize, n: usize) {
    let mut s = Store::open(cfg).unwrap();
    for i in 0..n {
        s.submit_run(&new_run(i, 3), i as i64).unwrap();
    }
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                let mut s = Store::open(&cfg).unwrap();
                let worker = format!("worker-{t}");
                let mut mine = Vec::new();
                let mut now = 1_000_000i64;
                while let Some(r) = s.claim_run(&worker, now, 600_000).unwrap() {
                    assert_eq!(r.worker_id.as_deref(), Some(worker.as_str()));
                    assert!(s
                        .heartbeat_run(
                            r.run_id,
                            &worker,
                            r.attempts,
                            now + 1,
                            600_000,
                            Some(0.5),
                            None
                        )
                        .unwrap());
                    s.append_run_log(r.run_id, "stdout", &[format!("run by {worker}")], now)
                        .unwrap();
                    assert!(s
                        .finish_run(
                            r.run_id,
                            &worker,
                            r.attempts,
                            true,
                            Some(0),
                            None,
                            None,
                            now + 2
                        )
                        .unwrap());
                    // Leases are far from expiry: reaping must find nothing.
                    assert!(s.reap_expired_runs(now).unwrap().is_empty());
                    mine.push(r.run_id);
                    now += 3;
                }
                mine
            })
        })
        .collect();
    let mut claimed = Vec::new();
    let mut per_thread = Vec::new();
    for h in handles {
        let mine = h.join().expect("worker thread");
        per_thread.push(mine.len());
        claimed.extend(mine);
    }
    let unique: HashSet<i64> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), n, "claims: {per_thread:?}");
    assert_eq!(unique.len(), n, "a run was claimed twice");
    let (runs, total) = s.list_runs(None, None, n as i64 + 10, 0).unwrap();
    assert_eq!(total, n as i64);
    for r in &runs {
        assert_eq!(
            (r.state, r.attempts),
            (RunState::Succeeded, 1),
            "run {}",
            r.run_id
        );
        let attempts = s.run_attempts(r.run_id).unwrap();
        assert_eq!(attempts.len(), 1, "run {}", r.run_id);
        assert_eq!(attempts[0].outcome.as_deref(), Some("succeeded"));
        assert_eq!(s.run_logs(r.run_id, 0, 10).unwrap().len(), 1);
    }
    let st = s.queue_stats(0).unwrap();
    assert_eq!((st.succeeded, st.queued, st.running), (n as i64, 0, 0));
    eprintln!("{}: runs per worker {per_thread:?}", s.backend());
}

#[test]
fn three_postgres_workers_claim_each_run_once() {
    let Some(cfg) = pg_config("runs_concurrent_pg") else {
        return;
    };
    concurrent_workers(&cfg, 3, 200);
}

#[test]
fn two_sqlite_workers_claim_each_run_once() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_workers(&StoreConfig::sqlite(dir.path().join("home")), 2, 200);
}
