//! Prometheus metrics (`/metrics`, text format 0.0.4).
//!
//! Names are part of the deployment contract: deploy/prometheus/alerts.yml
//! and deploy/grafana/ use exactly these.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::pool::PoolUse;

/// Every metric the server exports.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by route template, method and status.
    pub http_requests: IntCounterVec,
    /// Request latency by route template.
    pub http_duration: HistogramVec,
    /// Runs by state (refreshed from the store at scrape time).
    pub runs: IntGaugeVec,
    /// Queued runs.
    pub queue_depth: IntGauge,
    /// Age of the oldest queued run, seconds (0 when none).
    pub queue_oldest_age: GaugeVec,
    /// Rows ingested by runs of this server, by table.
    pub ingest_rows: IntCounterVec,
    /// Pipeline run durations by pipeline.
    pub pipeline_duration: HistogramVec,
    /// Store connections by state.
    pub pool: IntGaugeVec,
    /// Pool capacity.
    pub pool_max: IntGauge,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    // Metric definitions are constants of this file: a failure here is a
    // programming error caught by the tests, not a runtime condition.
    r.unwrap_or_else(|e| panic!("metric definition: {e}"))
}

impl Metrics {
    /// Registers the metrics; `version` and `backend` label the build info.
    pub fn new(version: &str, backend: &str) -> Metrics {
        let registry = Registry::new();
        let http_requests = must(IntCounterVec::new(
            Opts::new(
                "astrolab_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        ));
        let http_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "astrolab_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route"],
        ));
        let runs = must(IntGaugeVec::new(
            Opts::new("astrolab_runs", "Pipeline runs by state"),
            &["state"],
        ));
        let queue_depth = must(IntGauge::new(
            "astrolab_queue_depth",
            "Runs waiting in the queue",
        ));
        let queue_oldest_age = must(GaugeVec::new(
            Opts::new(
                "astrolab_queue_oldest_age_seconds",
                "Age of the oldest queued run",
            ),
            &[],
        ));
        let ingest_rows = must(IntCounterVec::new(
            Opts::new(
                "astrolab_ingest_rows_total",
                "Catalog rows ingested by runs, by table",
            ),
            &["table"],
        ));
        let pipeline_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "astrolab_pipeline_duration_seconds",
                "Pipeline run durations",
            )
            .buckets(vec![
                0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0,
            ]),
            &["pipeline"],
        ));
        let pool = must(IntGaugeVec::new(
            Opts::new("astrolab_db_pool_connections", "Store connections by state"),
            &["state"],
        ));
        let pool_max = must(IntGauge::new(
            "astrolab_db_pool_max",
            "Store connection pool capacity",
        ));
        let build = must(IntGaugeVec::new(
            Opts::new(
                "astrolab_build_info",
                "Version and store backend of this server",
            ),
            &["version", "backend"],
        ));
        build.with_label_values(&[version, backend]).set(1);
        for c in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(runs.clone()),
            Box::new(queue_depth.clone()),
            Box::new(queue_oldest_age.clone()),
            Box::new(ingest_rows.clone()),
            Box::new(pipeline_duration.clone()),
            Box::new(pool.clone()),
            Box::new(pool_max.clone()),
            Box::new(build),
        ] {
            must(registry.register(c));
        }
        Metrics {
            registry,
            http_requests,
            http_duration,
            runs,
            queue_depth,
            queue_oldest_age,
            ingest_rows,
            pipeline_duration,
            pool,
            pool_max,
        }
    }

    /// Sets the pool gauges.
    pub fn set_pool(&self, u: PoolUse) {
        self.pool.with_label_values(&["idle"]).set(u.idle as i64);
        self.pool
            .with_label_values(&["in_use"])
            .set(u.in_use as i64);
        self.pool_max.set(u.max as i64);
    }

    /// Sets the queue gauges from the store's counts.
    pub fn set_queue(&self, stats: &astrolab_store::QueueStats) {
        for (state, n) in [
            ("queued", stats.queued),
            ("running", stats.running),
            ("succeeded", stats.succeeded),
            ("failed", stats.failed),
            ("cancelled", stats.cancelled),
        ] {
            self.runs.with_label_values(&[state]).set(n);
        }
        self.queue_depth.set(stats.queued);
        self.queue_oldest_age
            .with_label_values::<&str>(&[])
            .set(stats.oldest_queued_age_s.unwrap_or(0.0));
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "encoding metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Middleware: counts every request by its route template (never the raw
/// path, so ids and injection attempts cannot explode label cardinality).
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics
        .http_requests
        .with_label_values(&[&route, &method, &status])
        .inc();
    metrics
        .http_duration
        .with_label_values(&[&route])
        .observe(start.elapsed().as_secs_f64());
    resp
}
