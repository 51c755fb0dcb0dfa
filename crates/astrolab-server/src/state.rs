//! What every handler shares.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::FromRef;

use crate::audit::AuditSink;
use crate::auth::limiter::LoginLimiter;
use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::pool::StorePool;

/// The server's shared state.
#[derive(Clone)]
pub struct AppState {
    /// Store connections.
    pub pool: StorePool,
    /// Settings.
    pub config: Arc<ServerConfig>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Audit trail.
    pub audit: AuditSink,
    /// Failed-login throttle.
    pub limiter: Arc<LoginLimiter>,
    /// When the server started.
    pub started: Instant,
    /// Set when shutdown begins: `/readyz` answers 503 so balancers drain.
    pub shutting_down: Arc<std::sync::atomic::AtomicBool>,
    /// The latent vectors of the anomaly model last asked for "spectra
    /// like this one", reloaded when its scores are rewritten.
    pub latents: Arc<std::sync::Mutex<Option<Arc<astrolab_pipeline::anomalies::LatentTable>>>>,
}

impl FromRef<AppState> for Metrics {
    fn from_ref(s: &AppState) -> Metrics {
        s.metrics.clone()
    }
}
