//! Webhook endpoints in the admin console (and for tokens with the
//! `webhooks:admin` scope): list with their waiting and dead deliveries,
//! add (the signing secret shown once), change, rotate the secret (the old
//! one still signs for a day), delete, the delivery log and redelivery.
//! 企业微信 and 钉钉 group robots are endpoints of a robot `kind`, with the
//! events people act on, the teams they hear of, quiet hours and a pace.

use super::auth::{ApiError, CurrentUser};
use super::body::Path;
use super::AppState;
use crate::store::EndpointSettings;
use crate::webhooks::robot::{Kind, ROBOT_EVENTS};
use crate::webhooks::{unknown_type, EVENT_TYPES};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// How long a rotated-out secret still signs.
const ROTATION_GRACE_MS: i64 = 24 * 3600 * 1000;

/// An endpoint as the console sends it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    url: String,
    #[serde(default)]
    description: String,
    events: Vec<String>,
    #[serde(default = "yes")]
    active: bool,
    /// `webhook` (a program), `dingtalk` or `wecom` (a group robot).
    #[serde(default = "webhook")]
    kind: Kind,
    /// Only events of these teams (and events of no team); empty: all.
    #[serde(default)]
    teams: Vec<String>,
    /// `{"from": "22:00", "to": "08:00"}`: deliveries wait until it ends.
    #[serde(default)]
    quiet_hours: Option<QuietHours>,
    /// At most this many deliveries a minute (0: no limit).
    #[serde(default)]
    per_minute: u32,
    /// A 钉钉 robot's 加签 secret (`SEC…`); on a change, absent keeps it
    /// and "" removes it.
    #[serde(default)]
    secret: Option<String>,
}

/// Quiet hours as people write them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    from: String,
    to: String,
}

fn webhook() -> Kind {
    Kind::Webhook
}

/// `08:30` → 510 (minutes after midnight).
fn minute_of_day(text: &str) -> Result<u16, ApiError> {
    let parsed = text
        .trim()
        .split_once(':')
        .and_then(|(h, m)| Some((h.parse::<u16>().ok()?, m.parse::<u16>().ok()?)))
        .filter(|(h, m)| *h < 24 && *m < 60);
    parsed.map(|(h, m)| h * 60 + m).ok_or_else(|| {
        bad(
            "webhook_quiet_hours",
            format!("{text:?} is not a time of day (HH:MM)"),
            json!({ "value": text }),
        )
    })
}

fn yes() -> bool {
    true
}

fn bad(code: &'static str, message: String, params: Value) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message).with(params)
}

/// The endpoint's address and events, checked.
fn checked(body: &EndpointBody) -> Result<(), ApiError> {
    let url = body.url.trim();
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        bad(
            "webhook_url",
            format!("{url:?} is not a URL: {e}"),
            json!({ "url": url, "http": "http://", "https": "https://" }),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(bad(
            "webhook_url",
            format!("{url:?}: give an http:// or https:// address"),
            json!({ "url": url, "http": "http://", "https": "https://" }),
        ));
    }
    if body.events.is_empty() {
        return Err(bad(
            "webhook_events_missing",
            "subscribe the endpoint to at least one event type (or *)".into(),
            json!({}),
        ));
    }
    if let Some(t) = unknown_type(&body.events) {
        return Err(bad(
            "webhook_event_unknown",
            format!("no event type {t:?}"),
            json!({ "event": t, "known": EVENT_TYPES.join(", ") }),
        ));
    }
    if body.kind.is_robot() {
        if let Some(t) = body
            .events
            .iter()
            .find(|t| !ROBOT_EVENTS.contains(&t.as_str()))
        {
            return Err(bad(
                "webhook_event_not_for_robot",
                format!("a group robot is told only of {}", ROBOT_EVENTS.join(", ")),
                json!({ "event": t }),
            ));
        }
    }
    if body.kind != Kind::Dingtalk && body.secret.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(bad(
            "webhook_secret_not_settable",
            "only a 钉钉 robot takes a secret; a webhook's is made for it".into(),
            json!({}),
        ));
    }
    quiet(body)?;
    Ok(())
}

/// The body's quiet hours in minutes, checked.
fn quiet(body: &EndpointBody) -> Result<Option<(u16, u16)>, ApiError> {
    body.quiet_hours
        .as_ref()
        .map(|q| Ok((minute_of_day(&q.from)?, minute_of_day(&q.to)?)))
        .transpose()
}

fn not_found(id: i64) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "webhook_not_found",
        format!("no webhook endpoint {id}"),
    )
    .with(json!({ "id": id }))
}

fn new_secret() -> String {
    format!("whsec_{}", crate::auth::new_token())
}

/// `GET /api/webhooks`.
pub async fn list(_: CurrentUser, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let endpoints = state.store.webhooks().call(|w| w.endpoints()).await?;
    Ok(Json(json!({
        "endpoints": endpoints,
        "event_types": EVENT_TYPES,
        "robot_events": ROBOT_EVENTS,
    })))
}

/// `POST /api/webhooks`: the endpoint's id and signing secret (shown once).
pub async fn create(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    super::body::Body(body): super::body::Body<EndpointBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    checked(&body)?;
    // A program gets a secret made for it (shown once); a robot has the
    // one its group gave, or none.
    let secret = match body.kind {
        Kind::Webhook => Some(new_secret()),
        _ => None,
    };
    let (by, remote) = (user.0.clone(), remote.ip().to_string());
    let kept = secret.clone().unwrap_or_default();
    let id = state
        .store
        .webhooks()
        .call(move |w| w.add_endpoint(&settings(&body), &kept, &by, Some(&remote)))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "secret": secret })),
    ))
}

/// The endpoint a (checked) request body describes.
fn settings(body: &EndpointBody) -> EndpointSettings<'_> {
    EndpointSettings {
        url: body.url.trim(),
        description: body.description.trim(),
        events: &body.events,
        active: body.active,
        kind: body.kind.as_str(),
        teams: &body.teams,
        quiet: quiet(body).unwrap_or_default(),
        per_minute: body.per_minute,
        robot_secret: match body.kind {
            Kind::Dingtalk => body.secret.as_deref().map(str::trim),
            _ => None,
        },
    }
}

/// `PUT /api/webhooks/{id}`.
pub async fn update(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    super::body::Body(mut body): super::body::Body<EndpointBody>,
) -> Result<StatusCode, ApiError> {
    // What an endpoint is (a program, a robot) is fixed when it is made.
    let endpoints = state.store.webhooks().call(|w| w.endpoints()).await?;
    let stored = endpoints
        .iter()
        .find(|e| e.id == id)
        .ok_or_else(|| not_found(id))?;
    body.kind = Kind::parse(&stored.kind);
    checked(&body)?;
    let (by, remote) = (user.0.clone(), remote.ip().to_string());
    let changed = state
        .store
        .webhooks()
        .call(move |w| w.update_endpoint(id, &settings(&body), &by, Some(&remote)))
        .await?;
    if !changed {
        return Err(not_found(id));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/webhooks/{id}/rotate`: a new secret (shown once).
pub async fn rotate(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let endpoints = state.store.webhooks().call(|w| w.endpoints()).await?;
    let endpoint = endpoints
        .iter()
        .find(|e| e.id == id)
        .ok_or_else(|| not_found(id))?;
    if endpoint.kind != Kind::Webhook.as_str() {
        return Err(bad(
            "webhook_rotate_robot",
            "a group robot's secret is its group's: change it on the robot".into(),
            json!({}),
        ));
    }
    let secret = new_secret();
    let (by, remote, kept) = (user.0.clone(), remote.ip().to_string(), secret.clone());
    let changed = state
        .store
        .webhooks()
        .call(move |w| w.rotate_secret(id, &kept, ROTATION_GRACE_MS, &by, Some(&remote)))
        .await?;
    if !changed {
        return Err(not_found(id));
    }
    Ok(Json(
        json!({ "secret": secret, "old_secret_until_ms": ROTATION_GRACE_MS }),
    ))
}

/// `DELETE /api/webhooks/{id}`.
pub async fn delete(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let (by, remote) = (user.0.clone(), remote.ip().to_string());
    if !state
        .store
        .webhooks()
        .call(move |w| w.delete_endpoint(id, &by, Some(&remote)))
        .await?
    {
        return Err(not_found(id));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/webhooks/{id}/deliveries`: the newest 200.
pub async fn deliveries(
    _: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let rows = state
        .store
        .webhooks()
        .call(move |w| w.deliveries(id, 200))
        .await?;
    Ok(Json(json!({ "deliveries": rows })))
}

/// `POST /api/webhooks/{id}/deliveries/{event}/redeliver`.
pub async fn redeliver(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path((id, event)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    let (by, remote) = (user.0.clone(), remote.ip().to_string());
    if !state
        .store
        .webhooks()
        .call(move |w| w.redeliver(id, event, &by, Some(&remote)))
        .await?
    {
        return Err(not_found(id));
    }
    Ok(StatusCode::ACCEPTED)
}
