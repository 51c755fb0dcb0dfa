//! `astrolab serve`: the lab's REST API (`/api/v1`, OpenAPI at
//! `/api/v1/openapi.json`), server-rendered web pages, accounts and roles
//! (passwords, OpenID Connect, API tokens), the audit log, the run queue
//! and Prometheus metrics, over either store backend.
//!
//! Public without credentials: `/healthz`, `/readyz`, `/login` (and the
//! OIDC routes), `/static/*`, the OpenAPI document, and `/metrics` when
//! `server.metrics_public` (default). Everything else needs a session or
//! a token, or `server.public_read = true` for viewer-level reading.

pub mod api;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod metrics;
pub mod pages;
pub mod pipelines;
pub mod pool;
pub mod state;
pub mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;

pub use config::{OidcConfig, ServerConfig, ServerFileConfig};
pub use error::{ApiError, ApiResult};
pub use state::AppState;

/// Version reported by `/healthz` and the metrics.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Builds the shared state: opens the store pool (migrating on first use).
pub fn build_state(
    config: ServerConfig,
    store: astrolab_store::StoreConfig,
) -> astrolab_store::Result<AppState> {
    let backend = if store.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let pool = pool::StorePool::open(store, config.pool_size)?;
    Ok(AppState {
        metrics: metrics::Metrics::new(VERSION, backend),
        audit: audit::AuditSink::new(config.audit_path.clone()),
        limiter: Arc::new(auth::limiter::LoginLimiter::default()),
        started: Instant::now(),
        shutting_down: Arc::new(AtomicBool::new(false)),
        latents: Arc::default(),
        config: Arc::new(config),
        pool,
    })
}

/// The whole application: API, pages, health, metrics, with body limits
/// and request metrics on every route.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .merge(api::router())
        .merge(pages::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see /api/v1/openapi.json")
}

/// Headers every response carries: no sniffing, no framing by other
/// sites, a strict content policy (our pages load only our own files).
async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        "x-content-type-options",
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", header::HeaderValue::from_static("DENY"));
    h.insert(
        "referrer-policy",
        header::HeaderValue::from_static("same-origin"),
    );
    h.entry("content-security-policy").or_insert(header::HeaderValue::from_static(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    ));
    resp
}

/// axum's own rejections (a query string that does not parse, a body
/// over the limit, a bad path parameter) are plain text; API clients get
/// them in the one error body like every other error.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let resp = next.run(req).await;
    let status = resp.status();
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(api && plain && (status.is_client_error() || status.is_server_error())) {
        return resp;
    }
    let text = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let field = if text.contains("query string") {
        Some("query")
    } else if text.contains("path") {
        Some("path")
    } else if text.contains("JSON") || text.contains("body") || text.contains("length limit") {
        Some("body")
    } else {
        None
    };
    let body = json!({ "error": { "code": code, "message": text, "field": field } });
    (status, axum::Json(body)).into_response()
}

async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    axum::Json(
        json!({ "status": "ok", "version": VERSION, "uptime_s": s.started.elapsed().as_secs_f64() }),
    )
}

/// Ready when the database answers and no required migration is pending.
async fn readyz(State(s): State<AppState>) -> Response {
    if s.shutting_down.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "shutting down"})),
        )
            .into_response();
    }
    let check = s
        .pool
        .run(|store| {
            // q3c's migration may wait forever (no extension, or no right
            // to create it): the HEALPix index serves, so it does not count.
            let pending: Vec<i64> = astrolab_store::migrate::status(store)?
                .into_iter()
                .filter(|m| m.state == "pending" && !m.optional)
                .map(|m| m.version)
                .collect();
            Ok(pending)
        })
        .await;
    match check {
        Ok(p) if p.is_empty() => axum::Json(json!({ "status": "ready" })).into_response(),
        Ok(p) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "migrations pending", "pending": p })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "database unavailable", "error": e.message })),
        )
            .into_response(),
    }
}

async fn metrics_text(State(s): State<AppState>, who: auth::MaybeAuthed) -> Response {
    if !s.config.metrics_public && !who.0.as_ref().is_some_and(|p| p.is_admin()) {
        return ApiError::unauthorized(
            "metrics need an admin token (server.metrics_public = false)",
        )
        .into_response();
    }
    s.metrics.set_pool(s.pool.usage());
    let now = clock::now_ms();
    if let Ok(stats) = s.pool.run(move |store| Ok(store.queue_stats(now)?)).await {
        s.metrics.set_queue(&stats);
    }
    let mut body = s.metrics.render();
    // The data home's backups and their verification (`astrolab backup`):
    // what the alert rules on stale backups and failed verifies watch.
    match astrolab_backup::status::read(&s.pool.config().home) {
        Ok(b) => body.push_str(&astrolab_backup::status::metrics(&b)),
        Err(e) => tracing::warn!(error = %e, "reading the backup status"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Serves until SIGINT/SIGTERM, then stops accepting, finishes in-flight
/// requests and returns. `ready` is called once the socket listens.
pub async fn serve(
    state: AppState,
    ready: impl FnOnce(std::net::SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(state.config.bind).await?;
    let addr = listener.local_addr()?;
    let shutting = state.shutting_down.clone();
    let worker = if state.config.in_process_worker {
        Some(worker::spawn_in_process(state.clone()))
    } else {
        None
    };
    ready(addr);
    let app = app(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        shutting.store(true, Ordering::Relaxed);
    })
    .await?;
    if let Some(w) = worker {
        w.stop().await;
    }
    Ok(())
}

/// SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
