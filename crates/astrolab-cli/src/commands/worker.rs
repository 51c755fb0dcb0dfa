//! `astrolab worker`: executes queued runs (submitted through
//! `astrolab serve`) until SIGTERM or Ctrl-C. Start any number, on any
//! machines that share the PostgreSQL database and see the same data
//! paths; see astrolab_server::worker for the guarantees.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use crate::config::Config;

/// Arguments of `astrolab worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Name of this worker in the run records (default: HOST-PID); must be
    /// unique among running workers.
    #[arg(long)]
    pub id: Option<String>,
    /// Directories run parameters may name besides the data home
    /// (comma-separated or repeated); use the server's `data_roots`.
    #[arg(long = "data-root", env = "ASTROLAB_DATA_ROOTS", value_delimiter = ',')]
    pub data_roots: Vec<PathBuf>,
    /// Seconds between polls of an empty queue.
    #[arg(long, default_value_t = 1.0)]
    pub poll_s: f64,
    /// Seconds a running pipeline may finish after SIGTERM before it is
    /// killed (its run is then retried by another worker).
    #[arg(long, default_value_t = 30.0)]
    pub grace_s: f64,
    /// Lease of a claimed run, seconds: a run whose worker stops
    /// heartbeating (every lease/6, at most 5 s) is retried after this.
    #[arg(long, default_value_t = 30.0)]
    pub lease_s: f64,
    /// Store connections this worker opens at most.
    #[arg(long, default_value_t = 2)]
    pub connections: usize,
    /// Run the queued runs as Ray jobs on this cluster's dashboard
    /// (http://HEAD:8265) instead of child processes; run directories must
    /// be on storage the cluster shares.
    #[arg(long, env = "ASTROLAB_RAY_ADDRESS")]
    pub ray_address: Option<String>,
}

fn seconds(v: f64, flag: &str) -> Result<Duration> {
    if !(0.0..1e7).contains(&v) {
        return Err(crate::UsageError(format!("{flag}: {v} is not a number of seconds")).into());
    }
    Ok(Duration::from_secs_f64(v))
}

pub fn run(cfg: &Config, a: &WorkerArgs) -> Result<()> {
    let poll = seconds(a.poll_s, "--poll-s")?;
    let grace = seconds(a.grace_s, "--grace-s")?;
    let lease = seconds(a.lease_s, "--lease-s")?;
    if lease < Duration::from_secs(1) {
        return Err(crate::UsageError("--lease-s: at least 1 second".into()).into());
    }
    let store = cfg.store();
    let pool = astrolab_server::pool::StorePool::open(store.clone(), a.connections.max(1))
        .with_context(|| format!("opening the store at {}", store.describe()))?;
    // Pipelines run with this very executable, so the worker and its
    // children are always the same version.
    let exe = std::env::current_exe().context("locating the astrolab executable")?;
    let id =
        a.id.clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(astrolab_server::worker::default_worker_id);
    let mut wc = astrolab_server::worker::WorkerConfig::new(id, &store, exe);
    // Flags add to the `[server] data_roots` of astrolab.toml, so a worker
    // and the server that validated the run agree on what may be read.
    wc.data_roots = cfg.server.data_roots.clone().unwrap_or_default();
    wc.data_roots.extend(a.data_roots.iter().cloned());
    wc.poll = poll;
    if a.ray_address.is_some() {
        wc.ray_address = a.ray_address.clone();
    }
    wc.grace = grace;
    wc.lease_ms = lease.as_millis() as i64;
    wc.heartbeat = (lease / 6).min(Duration::from_secs(5));
    // The current-thread runtime spawns every pipeline from the main
    // thread, whose exit is what PR_SET_PDEATHSIG watches.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(astrolab_server::worker::run_worker(pool, wc, rx));
        astrolab_server::shutdown_signal().await;
        tracing::info!("stop asked: finishing the current run");
        let _ = tx.send(true);
        worker.await.context("the worker loop panicked")
    })?;
    Ok(())
}
