//! The call-back queue over HTTP: `GET /api/followups` (the items of the
//! user's lines, theirs and claimed by them), `POST .../{id}/claim`,
//! `POST .../{id}/close`. Dialling an item is `POST /api/calls/dial` with
//! its `followup_id` ([`super::dial`]).

use super::auth::{ApiError, CurrentUser};
use super::body::Path;
use super::AppState;
use crate::store::{Claim, FollowUp, CLOSE_REASONS};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// How long closed items stay on the list (so an agent sees what was done).
const CLOSED_SHOWN_MS: i64 = 12 * 3600 * 1000;

/// The item `id` if `user` may act on it: on one of their call-back lines,
/// assigned to them or claimed by them (else 404: not theirs to know of).
pub(super) async fn reachable(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<FollowUp, ApiError> {
    let lines = super::api::call_back_lines(state, user).await?;
    let item = state.store.followups().call(move |f| f.get(id)).await?;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "followup_not_found",
            format!("no call-back item {id} on your list"),
        )
        .with(json!({ "id": id }))
    };
    let item = item.ok_or_else(not_found)?;
    let me = Some(user.0.id);
    let mine = item.line.as_ref().is_some_and(|l| lines.contains(l))
        || item.assigned_to == me
        || item.claimed_by == me;
    mine.then_some(item).ok_or_else(not_found)
}

/// `GET /api/followups`: live items due first, then those closed lately;
/// numbers of customers another user owns masked, as on a pop.
pub async fn list(
    user: CurrentUser,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let lines = super::api::call_back_lines(&state, &user).await?;
    let now = crate::store::now_ms();
    let uid = user.0.id;
    let items = state
        .store
        .followups()
        .call(move |f| f.list(&lines, uid, now - CLOSED_SHOWN_MS, 200))
        .await?;
    let mut shown = Vec::with_capacity(items.len());
    for mut item in items {
        item.info = state
            .normalizer
            .normalize_lenient(&item.number)
            .and_then(|n| state.normalizer.number_info(&n));
        if super::api::masked_for(&state, &user.0, item.customer_id).await? {
            item.number = crate::access::mask(&item.number);
            item.number_national = crate::access::mask(&item.number_national);
        }
        shown.push(item);
    }
    Ok(Json(json!({ "items": shown, "now": now })))
}

/// `POST /api/followups/{id}/claim`: 409 `followup_taken` (with who has
/// it) when another agent was first, 409 `followup_closed` when done.
pub async fn claim(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    reachable(&state, &user, id).await?;
    claim_for(&state, &user, id).await?;
    Ok(Json(json!({ "id": id, "claimed_by": user.0.id })))
}

/// Claims `id` for `user`, or says why not.
pub(super) async fn claim_for(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<(), ApiError> {
    let uid = user.0.id;
    let now = crate::store::now_ms();
    match state
        .store
        .followups()
        .call(move |f| f.claim(id, uid, now))
        .await?
    {
        Claim::Claimed => Ok(()),
        Claim::Taken { by } => Err(ApiError::new(
            StatusCode::CONFLICT,
            "followup_taken",
            format!(
                "{} is calling this caller back",
                by.clone().unwrap_or_default()
            ),
        )
        .with(json!({ "by": by }))),
        Claim::Closed => Err(ApiError::new(
            StatusCode::CONFLICT,
            "followup_closed",
            "this call-back is done".into(),
        )),
        Claim::NotFound => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "followup_not_found",
            format!("no call-back item {id}"),
        )),
    }
}

/// Why an item is closed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    pub reason: String,
}

/// `POST /api/followups/{id}/close`: with one of the reasons the page
/// offers; audited.
pub async fn close(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<std::net::SocketAddr>,
    Path(id): Path<i64>,
    super::body::Body(body): super::body::Body<CloseBody>,
) -> Result<StatusCode, ApiError> {
    if !CLOSE_REASONS.contains(&body.reason.as_str()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "close_reason_unknown",
            format!(
                "reason {:?}: one of {}",
                body.reason,
                CLOSE_REASONS.join(", ")
            ),
        )
        .with(json!({ "reason": body.reason, "reasons": CLOSE_REASONS })));
    }
    reachable(&state, &user, id).await?;
    let (uid, reason) = (user.0.id, body.reason.clone());
    let now = crate::store::now_ms();
    let closed = state
        .store
        .followups()
        .call(move |f| f.close(id, uid, &reason, now))
        .await?;
    if !closed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "followup_closed",
            "this call-back is done".into(),
        ));
    }
    super::audit::request(
        &state,
        &user,
        "followup.close",
        format!("followup:{id}"),
        json!({ "reason": body.reason }),
        remote,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/followups/summary` (the wallboard): live call-back items of the
/// viewer's scope and how many are overdue.
pub async fn summary(
    user: CurrentUser,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let lines = match user.scope() {
        crate::store::Scope::All => None,
        _ => Some(super::api::call_back_lines(&state, &user).await?),
    };
    let now = crate::store::now_ms();
    let (open, overdue) = state
        .store
        .followups()
        .call(move |f| f.counts(lines.as_deref(), now))
        .await?;
    Ok(Json(
        json!({ "open": open, "overdue": overdue, "now": now }),
    ))
}

/// A call-back scheduled by hand from a customer's page or a pop.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallBackBody {
    /// When, ms since the epoch.
    pub due_at: i64,
    /// One of the customer's numbers as the page shows it (masked ones
    /// too); the first one when absent.
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /api/customers/{id}/follow-ups`: puts a call-back (回访) of the
/// customer on the user's own list, due when they say.
pub async fn schedule_for_customer(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    super::body::Body(body): super::body::Body<CallBackBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let customer = super::directory::reach(&state, &user, id).await?;
    let now = crate::store::now_ms();
    // A day back covers a clock a little behind; a year ahead is plenty.
    if body.due_at < now - 86_400_000 || body.due_at > now + 366 * 86_400_000 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "due_out_of_range",
            "a call-back is due between now and a year from now".into(),
        ));
    }
    let phone = match body
        .number
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        None => customer.phones.first(),
        Some(n) => customer
            .phones
            .iter()
            .find(|p| p.raw == n || crate::access::mask(&p.raw) == n),
    };
    let normalized = phone
        .and_then(|p| {
            state
                .normalizer
                .normalize_lenient(p.e164.as_deref().unwrap_or(&p.raw))
        })
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "number_invalid",
                "the customer has no such number to call back".into(),
            )
            .with(json!({ "number": body.number }))
        })?;
    let call_back = crate::store::CustomerCallBack {
        customer_id: id,
        agent: user.0.id,
        number: normalized.canonical().to_string(),
        national: normalized.national.clone(),
        due_ms: body.due_at,
        note: body.note,
    };
    let mut item = state
        .store
        .followups()
        .call(move |f| f.schedule_for_customer(&call_back, now))
        .await?;
    // Shown as the customer's numbers are shown to this user.
    if crate::access::must_mask(
        &user.0,
        crate::access::owned_by_another(&user.0, customer.owner_id),
    ) {
        item.number = crate::access::mask(&item.number);
        item.number_national = crate::access::mask(&item.number_national);
    }
    Ok((StatusCode::CREATED, Json(json!({ "follow_up": item }))))
}
