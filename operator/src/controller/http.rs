//! The operator's HTTP endpoints: `/healthz` (the process serves), `/readyz` (the operator has
//! started: 200 on standby replicas too, which wait for the lease) and `/metrics` (OpenMetrics).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::metrics::Metrics;

/// What the endpoints report.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// The metrics to expose.
    pub metrics: Arc<Metrics>,
    /// Set once the operator has started (Kubernetes client built, leader election running).
    pub ready: Arc<AtomicBool>,
}

impl Health {
    /// Marks the operator started.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }
}

/// The router of the three endpoints.
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health)
}

async fn readyz(State(h): State<Health>) -> impl IntoResponse {
    if h.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

async fn metrics(State(h): State<Health>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        h.metrics.encode(),
    )
}

/// Binds `addr` (port 0 picks one); returns the bound address and the server, which runs
/// until `shutdown` completes.
pub async fn serve(
    addr: SocketAddr,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, impl Future<Output = std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let server = axum::serve(listener, router(health))
        .with_graceful_shutdown(shutdown)
        .into_future();
    Ok((local, server))
}
