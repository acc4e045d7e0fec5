//! The marketers' side of the web server: campaigns (create with a group or
//! an uploaded sheet, preview, start, pause, resume, cancel), their results
//! as CSV/XLSX, quotas, and live progress over a websocket. Marketers and
//! admins only; a marketer controls their own campaigns.

use super::auth::{ApiError, CurrentUser};
use super::body::{Path, Query};
use super::AppState;
use crate::sms::campaign::{export_results, Draft, Source};
use crate::sms::rules::Window;
use crate::sms::{CampaignError, Campaigns};
use crate::store::CampaignState;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Largest recipient sheet accepted.
pub const MAX_UPLOAD: usize = 32 << 20;
/// All kept uploads together may take at most this much disk: a sheet
/// is deleted once a campaign is made from it (or fails to be), and one
/// nobody used within a day is deleted at the next upload.
pub const UPLOADS_QUOTA: u64 = 256 << 20;
/// An upload unused this long is forgotten.
const UPLOAD_KEPT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

impl From<CampaignError> for ApiError {
    fn from(e: CampaignError) -> Self {
        use crate::sms::template::TemplateError as T;
        let message = e.to_string();
        match e {
            CampaignError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid", m),
            CampaignError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            CampaignError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            CampaignError::Template(t) => {
                let (code, params) = match t {
                    T::Empty => ("template_empty", json!({})),
                    T::Unclosed(at) => ("template_unclosed", json!({ "at": at })),
                    T::StrayClose(at) => ("template_stray_close", json!({ "at": at })),
                    T::EmptyField(at) => ("template_empty_field", json!({ "at": at })),
                    T::UnknownField(field, known) => (
                        "template_unknown_field",
                        json!({ "field": field, "known": known }),
                    ),
                };
                ApiError::new(StatusCode::BAD_REQUEST, code, message).with(params)
            }
            CampaignError::OverQuota {
                needed,
                left,
                quota,
            } => ApiError::new(StatusCode::FORBIDDEN, "over_quota", message)
                .with(json!({ "needed": needed, "left": left, "quota": quota })),
            CampaignError::FilterField { field, known } => {
                ApiError::new(StatusCode::BAD_REQUEST, "filter_field_unknown", message)
                    .with(json!({ "field": field, "known": known }))
            }
            CampaignError::Store(e) => e.into(),
        }
    }
}

fn service(state: &AppState) -> Result<&Campaigns, ApiError> {
    state.campaigns.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_sms",
            "this server does not send SMS".into(),
        )
    })
}

/// Customer groups (tags) and their sizes.
pub async fn groups(
    _user: CurrentUser,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let groups = state.store.campaigns().call(|s| s.tag_counts()).await?;
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(name, customers)| json!({ "name": name, "customers": customers }))
        .collect();
    Ok(Json(json!({ "groups": groups })))
}

/// Every campaign with its counts.
pub async fn list(
    user: CurrentUser,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "campaigns": snapshot(&state, user.scope(), false).await? }),
    ))
}

/// A new campaign: from a group, every customer, or an uploaded sheet.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewCampaignBody {
    name: String,
    template: String,
    suffix: Option<String>,
    group: Option<String>,
    #[serde(default)]
    all: bool,
    /// `城市=杭州`, `company~贸易`, `客户等级!=VIP`.
    filter: Option<String>,
    /// The token `POST /api/sms/uploads` answered.
    upload: Option<String>,
    /// `HH:MM-HH:MM`.
    window: Option<String>,
    /// ms since the epoch.
    start_at: Option<i64>,
}

/// Creates a draft and answers it with a preview of its first recipients.
pub async fn create(
    user: CurrentUser,
    State(state): State<AppState>,
    super::body::Body(body): super::body::Body<NewCampaignBody>,
) -> Result<Json<Value>, ApiError> {
    let campaigns = service(&state)?;
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid", m);
    // What the page words, with the value it refers to.
    let refused = |code: &'static str, value: &str, m: String| {
        ApiError::new(StatusCode::BAD_REQUEST, code, m).with(json!({ "value": value }))
    };
    let source = match (&body.group, &body.upload, body.all) {
        (Some(g), _, _) => Source::Group(g.clone()),
        (_, Some(token), _) => Source::File(upload_path(&state, token).map_err(bad)?),
        (_, _, true) => Source::AllCustomers,
        (None, None, false) if body.filter.is_some() => Source::AllCustomers,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "recipients_required",
                "choose a group, a sheet or all customers".into(),
            ))
        }
    };
    let window = body
        .window
        .as_deref()
        .filter(|w| !w.trim().is_empty())
        .map(|w| Window::parse(w).map_err(|m| refused("window_invalid", w, m)))
        .transpose()?;
    let filter = body
        .filter
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .map(|f| crate::sms::rules::Filter::parse(f).map_err(|m| refused("filter_invalid", f, m)))
        .transpose()?;
    let sheet = match &source {
        Source::File(path) => Some(path.clone()),
        _ => None,
    };
    let created = campaigns
        .create(
            &user.0,
            Draft {
                name: body.name,
                template: body.template,
                suffix: body.suffix,
                source,
                filter,
                start_at: body.start_at,
                window,
            },
        )
        .await;
    // The sheet's recipients are in the store now (or the sheet was no
    // good): it is not kept either way.
    if let Some(path) = sheet {
        let _ = tokio::fs::remove_file(path).await;
    }
    let created = created?;
    let mut preview = campaigns.preview(created.id, 20).await?;
    if crate::access::must_mask(&user.0, false) {
        for r in &mut preview {
            r.number = crate::access::mask(&r.number);
        }
    }
    Ok(Json(json!({ "campaign": created, "preview": preview })))
}

/// Stores an uploaded recipient sheet; its token for `create`.
pub async fn upload(
    _user: CurrentUser,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (_, ext) = super::uploaded_sheet(
        &headers,
        &body,
        "recipients.csv",
        &["csv", "txt", "xlsx", "xls"],
    )
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "send a .csv or .xlsx file".into(),
        )
    })?;
    if body.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "the file is empty".into(),
        ));
    }
    // One upload at a time checks the quota and writes: two cannot both
    // fit in what is left.
    static WRITING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _writing = WRITING.lock().await;
    let token = format!("{}.{ext}", uuid::Uuid::now_v7().simple());
    let dir = state.uploads.clone();
    let path = dir.join(&token);
    let kept = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || forget_old_uploads(&dir)
    })
    .await
    .unwrap_or(0);
    if kept + body.len() as u64 > UPLOADS_QUOTA {
        return Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "upload_quota",
            format!(
                "uploads waiting to be used take {} MiB of the {} MiB allowed: make campaigns from them or try tomorrow",
                kept >> 20,
                UPLOADS_QUOTA >> 20
            ),
        ));
    }
    let written = match tokio::fs::create_dir_all(&dir).await {
        Ok(()) => tokio::fs::write(&path, &body).await,
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        // A partial file is no use to anyone.
        let _ = tokio::fs::remove_file(&path).await;
        return Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "write_failed",
            format!("cannot keep the upload: {e}"),
        ));
    }
    Ok(Json(json!({ "upload": token, "bytes": body.len() })))
}

/// Deletes uploads (and leftover export files) older than a day from
/// `dir`; returns the bytes of what is left.
fn forget_old_uploads(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut kept = 0;
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > UPLOAD_KEPT);
        if old && std::fs::remove_file(entry.path()).is_ok() {
            continue;
        }
        kept += meta.len();
    }
    kept
}

fn upload_path(state: &AppState, token: &str) -> Result<std::path::PathBuf, String> {
    let ok = !token.is_empty()
        && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        && !token.starts_with('.');
    let path = state.uploads.join(token);
    if ok && path.is_file() {
        Ok(path)
    } else {
        Err(format!("no uploaded sheet {token:?}; upload it again"))
    }
}

/// One campaign with its counts.
pub async fn show(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let campaigns = service(&state)?;
    let c = own_campaign(&state, &user, id).await?;
    let p = campaigns.progress(id).await?;
    Ok(Json(json!({ "campaign": c, "progress": p })))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PreviewQuery {
    limit: Option<u32>,
}

/// The first recipients as they will receive it.
pub async fn preview(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<PreviewQuery>,
) -> Result<Json<Value>, ApiError> {
    own_campaign(&state, &user, id).await?;
    let mut rows = service(&state)?
        .preview(id, q.limit.unwrap_or(20).min(500))
        .await?;
    if crate::access::must_mask(&user.0, false) {
        for r in &mut rows {
            r.number = crate::access::mask(&r.number);
        }
    }
    Ok(Json(json!({ "preview": rows })))
}

/// Start, pause, resume or cancel.
pub async fn action(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path((id, action)): Path<(i64, String)>,
) -> Result<Json<Value>, ApiError> {
    let campaigns = service(&state)?;
    own_campaign(&state, &user, id).await?;
    match action.as_str() {
        "start" => campaigns.start(&user.0, id).await.map(|_| ())?,
        "pause" => campaigns.pause(&user.0, id).await?,
        "resume" => campaigns.resume(&user.0, id).await?,
        "cancel" => campaigns.cancel(&user.0, id).await?,
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no campaign action {other:?}"),
            ))
        }
    }
    super::audit::request(
        &state,
        &user,
        &format!("sms.campaign.{action}"),
        campaign_target(id),
        json!({}),
        remote,
    )
    .await?;
    let c = campaigns.get(id).await?;
    Ok(Json(json!({ "campaign": c })))
}

/// Discards a draft (a preview given up); a campaign that started stays.
pub async fn discard(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let campaign = own_campaign(&state, &user, id).await?;
    if campaign.state != CampaignState::Draft {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_draft",
            format!("campaign {id} has started; cancel it instead"),
        ));
    }
    service(&state)?.delete_draft(id).await?;
    super::audit::request(
        &state,
        &user,
        "sms.campaign.discard",
        campaign_target(id),
        json!({}),
        remote,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Campaign `id` if the user's scope covers it: a marketer reaches only
/// the campaigns they created; anyone else's is "not found", not a hint
/// that it exists.
async fn own_campaign(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<crate::store::CampaignRow, ApiError> {
    let c = service(state)?.get(id).await?;
    if crate::access::covers(user.scope(), c.created_by.map(|by| (by, None))) {
        Ok(c)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no campaign {id}"),
        ))
    }
}

/// The campaign's failed and unknown parts with their reasons.
pub async fn failures(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    own_campaign(&state, &user, id).await?;
    let mut f = state
        .store
        .campaigns()
        .call(move |s| s.campaign_failures(id, 200))
        .await?;
    if crate::access::must_mask(&user.0, false) {
        for p in &mut f.parts {
            p.number = crate::access::mask(&p.number);
        }
    }
    Ok(Json(json!(f)))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    format: Option<String>,
}

/// Every recipient's outcome as CSV or XLSX; audited.
pub async fn export(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    own_campaign(&state, &user, id).await?;
    // Marketers see recipients' numbers masked, as QA sees callers'.
    let masked = crate::access::must_mask(&user.0, false);
    let format = super::export_format(q.format.as_deref())?;
    let (response, rows) = super::export_file(
        &state,
        format,
        &format!("campaign-{id}"),
        move |reader, file| export_results(reader, id, format, file, masked),
    )
    .await?;
    super::audit::request(
        &state,
        &user,
        "sms.campaign.export",
        campaign_target(id),
        json!({ "rows": rows, "format": format.as_str() }),
        remote,
    )
    .await?;
    Ok(response)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct QuotaBody {
    monthly_parts: i64,
}

/// Sets a user's monthly quota (admins).
pub async fn set_quota(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    super::body::Body(body): super::body::Body<QuotaBody>,
) -> Result<Json<Value>, ApiError> {
    if body.monthly_parts < 0 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "a quota cannot be negative".into(),
        ));
    }
    let n = name.clone();
    let target = state
        .store
        .users()
        .call(move |s| s.user_by_name(&n))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no user {name:?}"),
            )
        })?;
    let (by, parts) = (user.0.id, body.monthly_parts);
    state
        .store
        .campaigns()
        .call(move |s| s.set_quota(target.id, parts, Some(by)))
        .await?;
    super::audit::request(
        &state,
        &user,
        "sms.quota",
        format!("user:{name}"),
        json!({ "monthly_parts": parts }),
        remote,
    )
    .await?;
    Ok(Json(json!({ "user": name, "monthly_parts": parts })))
}

/// Campaigns with their counts: all, or only live and recently finished.
async fn snapshot(
    state: &AppState,
    scope: &crate::store::Scope,
    recent_only: bool,
) -> Result<Vec<Value>, ApiError> {
    let scope = scope.clone();
    // On a reader connection of its own: counting a big campaign must not
    // hold up the writer the modems and calls wait for.
    let db = state.store.path().to_path_buf();
    let rows = tokio::task::spawn_blocking(move || {
        let s = crate::store::Store::open_reader(&db)?;
        let day_ago = crate::store::now_ms() - 86_400_000;
        let mut out = Vec::new();
        for c in s.campaigns().list(false)? {
            if !crate::access::covers(&scope, c.created_by.map(|id| (id, None))) {
                continue;
            }
            let recent = c.state.is_live()
                || c.state == CampaignState::Paused
                || c.finished_at.is_some_and(|t| t > day_ago)
                || c.created_at > day_ago;
            if recent_only && !recent {
                continue;
            }
            let p = s.campaigns().campaign_progress(c.id)?;
            out.push((c, p));
        }
        Ok::<_, crate::store::StoreError>(out)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "progress", e.to_string()))??;
    Ok(rows
        .into_iter()
        .map(|(c, p)| json!({ "campaign": c, "progress": p, "settled": p.settled_parts() }))
        .collect())
}

/// Live progress: every second, the recent campaigns with their counts,
/// rate (parts a minute) and estimated time left.
pub async fn ws(
    user: CurrentUser,
    credential: super::auth::Credential,
    State(state): State<AppState>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    Ok(upgrade
        .max_message_size(64 << 10)
        .on_upgrade(move |socket| progress_feed(socket, state, user.1, credential)))
}

async fn progress_feed(
    mut socket: WebSocket,
    state: AppState,
    scope: crate::store::Scope,
    credential: super::auth::Credential,
) {
    let _open = state.closing.open();
    let mut ticks = 0u64;
    let _counted = state.metrics.ws_session("sms");
    // Per campaign: when and at how many settled parts we last looked, and
    // the rate then (smoothed).
    let mut last: HashMap<i64, (Instant, i64, f64)> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                // The page only listens; anything it says is ignored.
                Some(Ok(_)) => continue,
            },
            _ = state.closing.wait() => {
                let _ = socket.send(close_frame(super::ws::CLOSE_RESTARTING, "server restarting")).await;
                return;
            }
        }
        ticks += 1;
        // An ended, expired or idle session stops the feed within a minute.
        if ticks % 60 == 0 && credential.still_holds(&state).await == Some(false) {
            let _ = socket
                .send(close_frame(
                    super::ws::CLOSE_SESSION_ENDED,
                    "session ended; log in again",
                ))
                .await;
            return;
        }
        let Ok(mut list) = snapshot(&state, &scope, true).await else {
            continue;
        };
        let now = Instant::now();
        for item in &mut list {
            let id = item["campaign"]["id"].as_i64().unwrap_or(0);
            let settled = item["settled"].as_i64().unwrap_or(0);
            let total = item["progress"]["parts"].as_i64().unwrap_or(0);
            let rate = match last.get(&id) {
                Some((at, before, rate)) => {
                    let secs = now.duration_since(*at).as_secs_f64().max(0.001);
                    let now_rate = (settled - before).max(0) as f64 * 60.0 / secs;
                    0.7 * rate + 0.3 * now_rate
                }
                None => 0.0,
            };
            last.insert(id, (now, settled, rate));
            item["rate_per_minute"] = json!((rate * 10.0).round() / 10.0);
            let left = (total - settled).max(0) as f64;
            item["eta_secs"] = if rate > 0.1 && left > 0.0 {
                json!((left / rate * 60.0).round())
            } else {
                Value::Null
            };
        }
        let frame = json!({ "type": "campaigns", "campaigns": list }).to_string();
        if socket.send(Message::Text(frame.into())).await.is_err() {
            return;
        }
    }
}

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(axum::extract::ws::CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// How the audit log names a campaign.
fn campaign_target(id: i64) -> String {
    format!("campaign:{id}")
}
