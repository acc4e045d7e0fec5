//! The HTTP server. For now it serves health; the agent desktop, REST API
//! and websocket join it as their issues land.

use crate::store::StoreHandle;
use axum::{extract::State, routing::get, Json, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    pub store: StoreHandle,
}

/// All routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(state)
}

/// Liveness and a little state, for load balancers and people alike.
async fn healthz(State(state): State<AppState>) -> Json<Value> {
    let db = state
        .store
        .call(|s| Ok((s.schema_version()?, s.customer_count()?)))
        .await;
    Json(match db {
        Ok((schema, customers)) => json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "schema": schema,
            "customers": customers,
        }),
        Err(e) => json!({ "status": "degraded", "error": e.to_string() }),
    })
}

/// Binds `listen`; separate from serving so the caller can print the real
/// address (port 0 picks a free one).
pub async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
