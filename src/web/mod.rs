//! The HTTP server: login, the REST API, the desktop websocket and the
//! desktop page itself. Every route but login, health and the page's static
//! files needs a session; roles are checked here, on the server.

mod admin;
mod api;
mod app;
mod audit;
mod auth;
mod body;
mod call_blacklist;
mod crm;
mod customer_fields;
mod customer_sheets;
mod desktop;
mod devices;
mod dial;
mod dial_pools;
mod directory;
mod followups;
mod gate;
mod groups;
mod guard;
mod history;
mod merges;
pub mod openapi;
mod qa;
mod recordings;
mod reports;
mod sms;
mod sms_admin;
pub mod tls;
mod tokens;
mod wallboard;
mod webhooks;
mod workorder_import;
mod workorders;
mod ws;

pub use auth::{Credential, CurrentUser, Logins, SESSION_COOKIE};

use crate::pop::HubHandle;
use crate::store::StoreHandle;
use axum::http::Method;
use axum::routing::{post, MethodFilter};
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
    /// The running devices, for the admin console (none without lines).
    pub devices: Option<crate::devices::desk::DeviceDesk>,
    /// Where the center's own firmware profiles are (beside the shipped ones).
    pub profile_dir: Option<std::path::PathBuf>,
    pub reports: ReportSettings,
    pub metrics: crate::metrics::Metrics,
    /// Tells open websockets that the server is stopping.
    pub closing: Closing,
    /// Failed logins: delays and locks.
    pub logins: auth::Logins,
    /// Tells open websockets whose user's sessions were ended elsewhere.
    pub session_ends: SessionEnds,
    /// Click-to-dial; `None` without lines.
    pub dialer: Option<crate::outbound::Dialer>,
    /// Customer imports from the page, checked and then committed.
    pub imports: customer_sheets::ImportJobs,
    /// One-time tickets opening desktops for other systems' pages.
    pub tickets: desktop::DesktopTickets,
    /// The center's own CRMs (`[[crm]]`), for the admin console.
    pub crm: Option<crate::crm::Crm>,
}

/// Users whose sessions were ended (a password changed or reset, a
/// logout): each open websocket of theirs checks its own session and
/// closes with 4003 if it is gone, so a stolen session dies everywhere.
#[derive(Clone)]
pub struct SessionEnds(Arc<tokio::sync::broadcast::Sender<i64>>);

impl Default for SessionEnds {
    fn default() -> Self {
        SessionEnds(Arc::new(tokio::sync::broadcast::channel(256).0))
    }
}

impl SessionEnds {
    /// Some sessions of `user_id` ended.
    pub fn ended(&self, user_id: i64) {
        let _ = self.0.send(user_id);
    }

    /// Resolves once `credential` no longer holds (told by [`Self::ended`]
    /// for its owner, then checked).
    pub async fn wait_gone(&self, store: &StoreHandle, credential: &auth::Credential) {
        use tokio::sync::broadcast::error::RecvError;
        let mut rx = self.0.subscribe();
        loop {
            match rx.recv().await {
                Ok(id) if id != credential.owner() => continue,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return std::future::pending().await,
            }
            // The store not answering is not a reason to cut a desktop.
            if credential.exists(store).await == Some(false) {
                return;
            }
        }
    }
}

impl SessionEnds {
    /// Resolves once the user `username` (id `user_id`) is disabled or
    /// gone, as told by [`Self::ended`]: a desktop opened for them with
    /// someone else's credential (an admin's ticket) closes then.
    pub async fn wait_disabled(&self, store: &StoreHandle, user_id: i64, username: &str) {
        use tokio::sync::broadcast::error::RecvError;
        let mut rx = self.0.subscribe();
        loop {
            match rx.recv().await {
                Ok(id) if id != user_id => continue,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return std::future::pending().await,
            }
            let name = username.to_string();
            let active = store
                .users()
                .call(move |u| u.user_by_name(&name))
                .await
                .map(|u| u.is_some_and(|u| !u.disabled))
                .unwrap_or(true);
            if !active {
                return;
            }
        }
    }
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
    /// Days a recording is kept (0: for ever), for the admin console.
    pub retention_days: u32,
}

/// What the web side needs from the configuration.
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub session_hours: u64,
    /// A session unused this long ends (0: never).
    pub session_idle_minutes: u64,
    /// Session cookies marked `Secure` (served over TLS).
    pub secure_cookies: bool,
    pub heartbeat_secs: u64,
    pub send_queue: usize,
    pub replay_log: usize,
    pub form: String,
    /// Other systems' pages that may use tokens and tickets (`[api]`).
    pub allowed_origins: Vec<String>,
}

impl WebSettings {
    /// From `[screen_pop]`.
    pub fn from_config(c: &crate::config::ScreenPopConfig) -> WebSettings {
        WebSettings {
            session_hours: c.session_hours,
            session_idle_minutes: c.session_idle_minutes,
            secure_cookies: false,
            heartbeat_secs: c.heartbeat_secs,
            send_queue: c.send_queue,
            replay_log: c.replay_log,
            form: c.form.clone(),
            allowed_origins: Vec::new(),
        }
    }
}

/// The routes as declared, each `METHOD path` once, without their state:
/// what the access table must cover and the API document describes.
struct Routes {
    router: Router<AppState>,
    declared: Vec<openapi::DocRoute>,
}

impl Routes {
    fn new() -> Routes {
        Routes {
            router: Router::new(),
            declared: Vec::new(),
        }
    }

    /// Adds `handler` for `method` at `path`.
    fn at<H, T, D>(self, method: Method, path: &'static str, handler: H) -> Routes
    where
        H: axum::handler::Handler<T, AppState> + openapi::Documented<D>,
        T: 'static,
    {
        let describe = openapi::describe(&handler);
        let name = std::any::type_name::<H>();
        let filter = MethodFilter::try_from(method.clone()).expect("a routable method");
        self.with_described(
            method,
            path,
            name,
            describe,
            axum::routing::on(filter, handler),
        )
    }

    /// Adds a ready-made method router (one with layers of its own) for
    /// `handler`, which describes it.
    fn with<H: openapi::Documented<D>, D>(
        self,
        method: Method,
        path: &'static str,
        handler: H,
        route: axum::routing::MethodRouter<AppState>,
    ) -> Routes {
        let describe = openapi::describe(&handler);
        self.with_described(method, path, std::any::type_name::<H>(), describe, route)
    }

    fn with_described(
        mut self,
        method: Method,
        path: &'static str,
        handler: &'static str,
        describe: fn() -> openapi::OpDoc,
        route: axum::routing::MethodRouter<AppState>,
    ) -> Routes {
        self.declared.push(openapi::DocRoute {
            method,
            path,
            handler,
            describe,
        });
        self.router = self.router.route(path, route);
        self
    }

    fn get<H, T, D>(self, path: &'static str, handler: H) -> Routes
    where
        H: axum::handler::Handler<T, AppState> + openapi::Documented<D>,
        T: 'static,
    {
        self.at(Method::GET, path, handler)
    }

    fn post<H, T, D>(self, path: &'static str, handler: H) -> Routes
    where
        H: axum::handler::Handler<T, AppState> + openapi::Documented<D>,
        T: 'static,
    {
        self.at(Method::POST, path, handler)
    }

    fn put<H, T, D>(self, path: &'static str, handler: H) -> Routes
    where
        H: axum::handler::Handler<T, AppState> + openapi::Documented<D>,
        T: 'static,
    {
        self.at(Method::PUT, path, handler)
    }
}

fn routes() -> Routes {
    Routes::new()
        .get("/healthz", healthz)
        .get("/metrics", metrics)
        .get("/ws/wallboard", wallboard::upgrade)
        .get("/wallboard", app::index)
        .post("/api/login", auth::login)
        .post("/api/logout", auth::logout)
        .get("/api/me", auth::me)
        .get("/api/logins/locked", auth::locked_logins)
        .at(
            Method::DELETE,
            "/api/logins/locked/{name}",
            auth::unlock_login,
        )
        .get("/api/openapi.json", openapi_json)
        .get("/api/forms", api::forms)
        .get("/api/forms/{key}", api::form)
        .put("/api/forms/{key}", api::put_form)
        .get("/api/bindings", api::bindings)
        .put("/api/bindings", api::bind)
        .at(Method::DELETE, "/api/bindings", api::unbind)
        .get("/api/agents", api::agents)
        .post("/api/customers", api::add_customer)
        .get("/api/customers", directory::search)
        .get("/api/customers/birthdays", customer_fields::birthdays)
        .get("/api/customers/export", customer_sheets::export)
        .with(
            Method::POST,
            "/api/customers/import",
            customer_sheets::upload,
            post(customer_sheets::upload).layer(axum::extract::DefaultBodyLimit::max(64 << 20)),
        )
        .get("/api/customers/imports/{id}", customer_sheets::status)
        .at(
            Method::DELETE,
            "/api/customers/imports/{id}",
            customer_sheets::discard,
        )
        .post(
            "/api/customers/imports/{id}/commit",
            customer_sheets::commit,
        )
        .get("/api/customer-fields", customer_fields::list)
        .get("/api/customer-groups", groups::list)
        .post("/api/customer-groups/{tag}/members", groups::add)
        .post("/api/customer-groups/{tag}/remove", groups::remove)
        .put("/api/customer-fields", customer_fields::put)
        .post("/api/customers/hand-over", directory::hand_over)
        .get("/api/customers/{id}", directory::show)
        .put("/api/customers/{id}", directory::update)
        .at(Method::DELETE, "/api/customers/{id}", directory::delete)
        .post("/api/customers/{id}/restore", directory::restore)
        .post("/api/customers/{id}/merge", merges::merge)
        .get("/api/customers/{id}/merges", merges::list)
        .post("/api/customers/merges/{id}/undo", merges::undo)
        .post("/api/customers/{id}/notes", directory::add_note)
        .post(
            "/api/customers/{id}/follow-ups",
            followups::schedule_for_customer,
        )
        .post("/api/calls/dial", dial::dial)
        .get("/api/followups", followups::list)
        .get("/api/followups/summary", followups::summary)
        .post("/api/followups/{id}/claim", followups::claim)
        .post("/api/followups/{id}/close", followups::close)
        .post("/api/calls/{call_uid}/hangup", dial::hang_up)
        .get("/api/workorders", workorders::list)
        .get("/api/workorders/summary", workorders::summary)
        .get("/api/workorders/export", workorders::export)
        .get("/api/workorders/assignees", workorders::assignees)
        .with(
            Method::POST,
            "/api/workorders/import",
            workorder_import::import,
            post(workorder_import::import).layer(axum::extract::DefaultBodyLimit::max(8 << 20)),
        )
        .get("/api/workorders/{id}", workorders::show)
        .post("/api/workorders/{id}/status", workorders::set_status)
        .post("/api/workorders/{id}/assign", workorders::assign)
        .put("/api/workorders/{id}/due", workorders::set_due)
        .post("/api/workorders/{id}/comments", workorders::comment)
        .post("/api/workorders/{id}/scores", qa::score_work_order)
        .post(
            "/api/workorders/{id}/scores/{score}/appeal",
            qa::appeal_work_order,
        )
        .get("/api/qa-forms", qa::forms)
        .put("/api/qa-forms/{name}", qa::put_form)
        .get("/workorders", app::index)
        .get("/workorders/{id}/print", app::index)
        .get("/ws", ws::upgrade)
        .post("/api/desktop/tickets", desktop::ticket)
        .get("/callpop.js", desktop::script)
        .get("/", app::index)
        .get("/login", app::index)
        .get("/workspace", app::index)
        .get("/assets/{file}", app::asset)
        .put("/api/users/{name}/password", api::set_password)
        .get("/api/users", admin::users)
        .post("/api/users", admin::add_user)
        .put("/api/users/{name}", admin::update_user)
        .get("/api/audit", admin::audit_log)
        .get("/api/tokens", tokens::list)
        .post("/api/tokens", tokens::create)
        .at(Method::DELETE, "/api/tokens/{id}", tokens::revoke)
        .get("/api/webhooks", webhooks::list)
        .post("/api/webhooks", webhooks::create)
        .put("/api/webhooks/{id}", webhooks::update)
        .at(Method::DELETE, "/api/webhooks/{id}", webhooks::delete)
        .post("/api/webhooks/{id}/rotate", webhooks::rotate)
        .get("/api/webhooks/{id}/deliveries", webhooks::deliveries)
        .post(
            "/api/webhooks/{id}/deliveries/{event}/redeliver",
            webhooks::redeliver,
        )
        .get("/api/crm", crm::status)
        .get("/api/devices", devices::list)
        .post("/api/devices/{name}/restart", devices::restart)
        .get("/api/profiles", devices::profiles)
        .get("/api/profiles/{name}", devices::profile_text)
        .with(
            Method::POST,
            "/api/profiles/check",
            devices::check_profile,
            post(devices::check_profile)
                .layer(axum::extract::DefaultBodyLimit::max(devices::MAX_PROFILE)),
        )
        .get("/admin", app::index)
        .get("/api/sms/groups", sms::groups)
        .get("/api/sms/campaigns", sms::list)
        .post("/api/sms/campaigns", sms::create)
        .with(
            Method::POST,
            "/api/sms/uploads",
            sms::upload,
            post(sms::upload).layer(axum::extract::DefaultBodyLimit::max(sms::MAX_UPLOAD)),
        )
        .get("/api/sms/campaigns/{id}", sms::show)
        .at(Method::DELETE, "/api/sms/campaigns/{id}", sms::discard)
        .get("/api/sms/campaigns/{id}/preview", sms::preview)
        .get("/api/sms/campaigns/{id}/export", sms::export)
        .get("/api/sms/campaigns/{id}/failures", sms::failures)
        .post("/api/sms/campaigns/{id}/{action}", sms::action)
        .put("/api/sms/quotas/{name}", sms::set_quota)
        .get("/api/sms/quotas", sms_admin::quotas)
        .get("/api/dial-pools", dial_pools::list)
        .put("/api/dial-pools", dial_pools::set)
        .get("/api/call-blacklist", call_blacklist::list)
        .post("/api/call-blacklist", call_blacklist::add)
        .at(
            Method::DELETE,
            "/api/call-blacklist/{id}",
            call_blacklist::remove,
        )
        .get("/api/sms/blacklist", sms_admin::blacklist)
        .post("/api/sms/blacklist", sms_admin::add_to_blacklist)
        .at(
            Method::DELETE,
            "/api/sms/blacklist/{e164}",
            sms_admin::remove_from_blacklist,
        )
        .get("/api/sms/unknown", sms_admin::unknown_parts)
        .post("/api/sms/parts/{id}/settle", sms_admin::settle)
        .get("/ws/sms", sms::ws)
        .get("/api/recordings", recordings::list)
        .get("/api/recordings/retention", recordings::retention)
        .get("/api/recordings/{id}", recordings::show)
        .get("/api/recordings/{id}/audio", recordings::audio)
        .post("/api/recordings/{id}/scores", recordings::score)
        .post(
            "/api/recordings/{id}/scores/{score}/appeal",
            recordings::appeal,
        )
        .put("/api/recordings/{id}/hold", recordings::hold)
        .get("/recordings", app::index)
        .get("/sms", app::index)
        .get("/api/history", history::list)
        .get("/api/history/export", history::export)
        .get("/history", app::index)
        .get("/customers", app::index)
        .get("/api/reports/{group}", reports::report)
        .get("/reports", app::index)
}

/// Every route the server declares, as `METHOD path` (what the access
/// table must name; the access-matrix test compares the two).
pub fn declared_routes() -> Vec<String> {
    routes()
        .declared
        .iter()
        .map(|r| gate::action_of(&r.method, r.path))
        .collect()
}

/// The REST API's OpenAPI 3 document, made from the routes (served at
/// `/api/openapi.json`), and the routes whose path and handler disagree.
pub fn api_document() -> openapi::Document {
    openapi::document(&routes().declared)
}

/// The API document, made once.
async fn openapi_json() -> axum::response::Response {
    use axum::response::IntoResponse;
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = JSON.get_or_init(|| {
        api_document()
            .openapi
            .to_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.as_str(),
    )
        .into_response()
}

/// All routes, behind the access table's gate and the same-origin guard.
pub fn router(state: AppState) -> Router {
    let allowed = Arc::new(state.settings.allowed_origins.clone());
    let cors = guard::cors(&allowed);
    let router = routes()
        .router
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate::enforce,
        ))
        .layer(axum::middleware::from_fn_with_state(
            allowed,
            guard::same_origin_only,
        ))
        .with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
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
    let health = state.store.write_health();
    if health.waiting() > 0 {
        let body = if admin {
            json!({
                "status": "degraded",
                "reason": "writes_waiting",
                "waiting": health.waiting(),
                "error": health.last_error(),
            })
        } else {
            json!({ "status": "degraded" })
        };
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body));
    }
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
        Some(other) => Err(auth::ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid",
            format!("format {other:?}: csv or xlsx"),
        )),
    }
}

/// An uploaded sheet's name and kind: the page's `X-Filename` (percent
/// encoded), else what its first bytes say (an XLSX is a zip), else
/// `fallback`; `None` when the kind is not one of `allowed` extensions.
fn uploaded_sheet(
    headers: &axum::http::HeaderMap,
    body: &[u8],
    fallback: &str,
    allowed: &[&str],
) -> Option<(String, String)> {
    let name = headers
        .get("x-filename")
        .and_then(|v| v.to_str().ok())
        .map(|n| {
            percent_encoding::percent_decode_str(n)
                .decode_utf8_lossy()
                .to_string()
        })
        .unwrap_or_else(|| {
            let stem = fallback.rsplit_once('.').map_or(fallback, |(s, _)| s);
            if body.starts_with(b"PK\x03\x04") {
                format!("{stem}.xlsx")
            } else {
                fallback.to_string()
            }
        });
    let ext = std::path::Path::new(&name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .filter(|e| allowed.contains(&e.as_str()))?;
    Some((name, ext))
}

/// Keeps an uploaded body as `file` under the uploads folder so it can be
/// read off the runtime; a full disk is 507 `write_failed`, and nothing
/// half-written is left behind.
async fn keep_upload(
    state: &AppState,
    file: &std::path::Path,
    body: &[u8],
) -> Result<(), auth::ApiError> {
    let write_failed = |e: std::io::Error| {
        auth::ApiError::new(
            axum::http::StatusCode::INSUFFICIENT_STORAGE,
            "write_failed",
            format!("cannot keep the file to read it: {e}"),
        )
    };
    tokio::fs::create_dir_all(&state.uploads)
        .await
        .map_err(write_failed)?;
    if let Err(e) = tokio::fs::write(file, body).await {
        let _ = tokio::fs::remove_file(file).await;
        return Err(write_failed(e));
    }
    Ok(())
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
    let failed = |e: String| auth::ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "export", e);
    tokio::fs::create_dir_all(&state.uploads)
        .await
        .map_err(|e| {
            auth::ApiError::new(
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
            // A filter the store refuses is the request's fault, not ours.
            return Err(match e.downcast::<crate::store::StoreError>() {
                Ok(refused @ crate::store::StoreError::Invalid(_)) => refused.into(),
                Ok(other) => failed(other.to_string()),
                Err(e) => failed(format!("{e:#}")),
            });
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

/// Serves HTTP on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(listener, None, state, shutdown).await
}

/// Serves HTTPS on `listener` with `tls` ([`tls::acceptor`]) until
/// `shutdown` resolves.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(listener, Some(tls), state, shutdown).await
}

async fn serve_with(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use axum::serve::ListenerExt;
    let closing = state.closing.clone();
    let signal = closing.clone();
    let stopping = async move {
        shutdown.await;
        signal.start();
    };
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => {
            // Pops are small frames that must not wait for the peer's delayed ACK.
            let listener = listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "could not set TCP_NODELAY");
                }
            });
            axum::serve(listener, app)
                .with_graceful_shutdown(stopping)
                .await?
        }
        Some(acceptor) => {
            let listener = tls::TlsListener::new(listener, acceptor)?.tap_io(|_| {});
            axum::serve(listener, app)
                .with_graceful_shutdown(stopping)
                .await?
        }
    }
    // Websockets are upgraded out of the HTTP server's sight: each is told
    // and closes with 1001; wait (a little) for their close frames to go.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    while closing.open_sockets() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(())
}
