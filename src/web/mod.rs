//! The HTTP server: login, the REST API, the desktop websocket and the
//! desktop page itself. Every route but login, health and the page's static
//! files needs a session; roles are checked here, on the server.

mod api;
mod auth;
mod desktop;
mod guard;
mod history;
mod recordings;
mod reports;
mod sms;
mod wallboard;
mod ws;

pub use auth::{CurrentUser, SESSION_COOKIE};

use crate::pop::HubHandle;
use crate::store::StoreHandle;
use axum::routing::{get, post, put};
use axum::{extract::State, Json, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    pub store: StoreHandle,
    /// The pop hub; without one (no lines) the websocket only heartbeats.
    pub hub: Option<HubHandle>,
    pub settings: Arc<WebSettings>,
    /// For numbers typed into the desktop (a new customer's phone).
    pub normalizer: Arc<crate::phone::Normalizer>,
    /// SMS campaigns; without them the marketers' API answers 503.
    pub campaigns: Option<crate::sms::Campaigns>,
    /// Where uploaded recipient sheets and exports are kept a while.
    pub uploads: std::path::PathBuf,
    pub recordings: RecordingFiles,
    pub reports: ReportSettings,
    pub metrics: crate::metrics::Metrics,
    /// Tells open websockets that the server is stopping.
    pub closing: Closing,
}

/// The server is stopping: websockets close with 1001 "server restarting"
/// (a client reconnects and resumes), and [`serve`] waits for them.
#[derive(Clone)]
pub struct Closing {
    tx: Arc<tokio::sync::watch::Sender<bool>>,
    open: Arc<std::sync::atomic::AtomicUsize>,
}

impl Default for Closing {
    fn default() -> Self {
        Closing {
            tx: Arc::new(tokio::sync::watch::channel(false).0),
            open: Arc::default(),
        }
    }
}

/// Held by an open websocket: [`serve`] waits for every one to be dropped.
pub struct OpenSocket(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Closing {
    /// Counts a websocket open until the guard is dropped.
    pub fn open(&self) -> OpenSocket {
        self.open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        OpenSocket(self.open.clone())
    }

    /// Resolves once the server is stopping.
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|closing| *closing).await;
    }

    fn start(&self) {
        self.tx.send_replace(true);
    }

    fn open_sockets(&self) -> usize {
        self.open.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// How statistics are cut and judged, from `[reports]`.
#[derive(Debug, Clone, Copy)]
pub struct ReportSettings {
    pub offset: chrono::FixedOffset,
    pub service_level_secs: u32,
}

impl ReportSettings {
    /// From the configuration (validated already).
    pub fn from_config(c: &crate::config::ReportsConfig) -> ReportSettings {
        ReportSettings {
            offset: c
                .offset()
                .unwrap_or_else(|_| *chrono::Local::now().offset()),
            service_level_secs: c.service_level_secs,
        }
    }
}

/// Where recordings' files are found.
#[derive(Debug, Clone, Default)]
pub struct RecordingFiles {
    pub root: std::path::PathBuf,
    /// Where retention moved old ones, if it moves them.
    pub archive: Option<std::path::PathBuf>,
}

/// What the web side needs from the configuration.
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub session_hours: u64,
    pub heartbeat_secs: u64,
    pub send_queue: usize,
    pub replay_log: usize,
    pub form: String,
}

impl WebSettings {
    /// From `[screen_pop]`.
    pub fn from_config(c: &crate::config::ScreenPopConfig) -> WebSettings {
        WebSettings {
            session_hours: c.session_hours,
            heartbeat_secs: c.heartbeat_secs,
            send_queue: c.send_queue,
            replay_log: c.replay_log,
            form: c.form.clone(),
        }
    }
}

/// All routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/ws/wallboard", get(wallboard::upgrade))
        .route("/wallboard", get(wallboard::page))
        .route("/wallboard.js", get(wallboard::script))
        .route("/api/login", post(auth::login))
        .route("/api/logout", post(auth::logout))
        .route("/api/me", get(auth::me))
        .route("/api/forms", get(api::forms))
        .route("/api/forms/{key}", get(api::form).put(api::put_form))
        .route(
            "/api/bindings",
            get(api::bindings).put(api::bind).delete(api::unbind),
        )
        .route("/api/agents", get(api::agents))
        .route("/api/customers", post(api::add_customer))
        .route("/api/calls/missed", get(api::missed_calls))
        .route("/api/workorders", get(api::call_work_orders))
        .route("/ws", get(ws::upgrade))
        .route("/", get(desktop::page))
        .route("/app.js", get(desktop::script))
        .route("/app.css", get(desktop::style))
        .route("/api/users/{name}/password", put(api::set_password))
        .route("/api/sms/groups", get(sms::groups))
        .route("/api/sms/campaigns", get(sms::list).post(sms::create))
        .route(
            "/api/sms/uploads",
            post(sms::upload).layer(axum::extract::DefaultBodyLimit::max(sms::MAX_UPLOAD)),
        )
        .route("/api/sms/campaigns/{id}", get(sms::show))
        .route("/api/sms/campaigns/{id}/preview", get(sms::preview))
        .route("/api/sms/campaigns/{id}/export", get(sms::export))
        .route("/api/sms/campaigns/{id}/failures", get(sms::failures))
        .route("/api/sms/campaigns/{id}/{action}", post(sms::action))
        .route("/api/sms/quotas/{name}", put(sms::set_quota))
        .route("/ws/sms", get(sms::ws))
        .route("/api/recordings", get(recordings::list))
        .route("/api/recordings/{id}", get(recordings::show))
        .route("/api/recordings/{id}/audio", get(recordings::audio))
        .route("/api/recordings/{id}/scores", post(recordings::score))
        .route(
            "/api/recordings/{id}/scores/{score}/appeal",
            post(recordings::appeal),
        )
        .route("/api/recordings/{id}/hold", put(recordings::hold))
        .route("/recordings", get(recordings::page))
        .route("/recordings.js", get(recordings::script))
        .route("/sms", get(sms::page))
        .route("/sms.js", get(sms::script))
        .route("/page.js", get(page_script))
        .route("/api/history", get(history::list))
        .route("/api/history/export", get(history::export))
        .route("/history", get(history::page))
        .route("/history.js", get(history::script))
        .route("/api/reports/{group}", get(reports::report))
        .route("/api/reports/{group}/chart.svg", get(reports::chart))
        .route("/reports", get(reports::page))
        .route("/reports.js", get(reports::script))
        .layer(axum::middleware::from_fn(guard::same_origin_only))
        .with_state(state)
}

/// The script the marketers' and supervisors' pages share.
async fn page_script() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/javascript; charset=utf-8",
        )],
        include_str!("pages/page.js"),
    )
}

/// Health for load balancers and monitors: anyone gets `ok` or
/// `degraded` (503); an admin's session also gets the version, schema and
/// customer count, which are nobody else's business.
async fn healthz(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> (axum::http::StatusCode, Json<Value>) {
    let admin = match auth::session_token(&headers) {
        Some(token) => {
            let hash = crate::auth::token_hash(&token);
            state
                .store
                .users()
                .call(move |s| s.session_user(&hash))
                .await
                .ok()
                .flatten()
                .is_some_and(|u| u.role == crate::store::Role::Admin)
        }
        None => false,
    };
    let db = match state.store.schema_version().await {
        Ok(schema) => state
            .store
            .customers()
            .call(|s| s.customer_count())
            .await
            .map(|customers| (schema, customers)),
        Err(e) => Err(e),
    };
    use axum::http::StatusCode;
    match db {
        Ok((schema, customers)) if admin => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "version": env!("CARGO_PKG_VERSION"),
                "schema": schema,
                "customers": customers,
            })),
        ),
        Ok(_) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::error!(error = %e, "health check: the store does not answer");
            let body = if admin {
                json!({ "status": "degraded", "reason": "store", "error": e.to_string() })
            } else {
                json!({ "status": "degraded" })
            };
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}

/// `csv` (the default) or `xlsx` from a `format` query parameter.
fn export_format(q: Option<&str>) -> Result<crate::sheets::ExportFormat, auth::ApiError> {
    match q {
        Some("xlsx") => Ok(crate::sheets::ExportFormat::Xlsx),
        None | Some("csv") => Ok(crate::sheets::ExportFormat::Csv),
        Some(other) => Err(auth::ApiError(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid",
            format!("format {other:?}: csv or xlsx"),
        )),
    }
}

/// Runs `write` (on a reader of its own, off the runtime) into a file
/// under the uploads folder and answers with it as a download named
/// `name`; the rows written come back for the audit log. The file is
/// removed once read; a full disk is an error, not a truncated download.
async fn export_file(
    state: &AppState,
    format: crate::sheets::ExportFormat,
    name: &str,
    write: impl FnOnce(&crate::store::Store, &std::path::Path) -> anyhow::Result<u64> + Send + 'static,
) -> Result<(axum::response::Response, u64), auth::ApiError> {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let failed = |e: String| auth::ApiError(StatusCode::INTERNAL_SERVER_ERROR, "export", e);
    tokio::fs::create_dir_all(&state.uploads)
        .await
        .map_err(|e| {
            auth::ApiError(
                StatusCode::INSUFFICIENT_STORAGE,
                "write_failed",
                format!("cannot write the export: {e}"),
            )
        })?;
    let file = state.uploads.join(format!(
        "export-{}.{}",
        uuid::Uuid::now_v7().simple(),
        format.as_str()
    ));
    let db = state.store.path().to_path_buf();
    let path = file.clone();
    let written = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let reader = crate::store::Store::open_reader(&db)?;
        write(&reader, &path)
    })
    .await
    .map_err(|e| failed(e.to_string()))?;
    let rows = match written {
        Ok(rows) => rows,
        Err(e) => {
            let _ = tokio::fs::remove_file(&file).await;
            return Err(failed(format!("{e:#}")));
        }
    };
    let bytes = tokio::fs::read(&file).await;
    let _ = tokio::fs::remove_file(&file).await;
    let bytes = bytes.map_err(|e| failed(e.to_string()))?;
    let content_type = match format {
        crate::sheets::ExportFormat::Csv => "text/csv; charset=utf-8",
        crate::sheets::ExportFormat::Xlsx => {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        }
    };
    let response = (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{}\"", format.as_str()),
            ),
        ],
        bytes,
    )
        .into_response();
    Ok((response, rows))
}

/// Prometheus metrics. Like `/healthz` it needs no login (scrapers do
/// not log in): it names devices and counts, never people or numbers.
async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let counts = state.store.reports().call(|s| s.state_counts()).await;
    let (sms, recordings) = match counts {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the store's counts");
            Default::default()
        }
    };
    let text = state.metrics.render(&sms, &recordings);
    let openmetrics = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let (content_type, body) = if openmetrics {
        (
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            text,
        )
    } else {
        (
            "text/plain; version=0.0.4; charset=utf-8",
            crate::metrics::to_prometheus_text(&text),
        )
    };
    ([(axum::http::header::CONTENT_TYPE, content_type)], body).into_response()
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
    use axum::serve::ListenerExt;
    let closing = state.closing.clone();
    let signal = closing.clone();
    // Pops are small frames that must not wait for the peer's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        signal.start();
    })
    .await?;
    // Websockets are upgraded out of the HTTP server's sight: each is told
    // and closes with 1001; wait (a little) for their close frames to go.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    while closing.open_sockets() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(())
}
