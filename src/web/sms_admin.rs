//! The admin console's SMS settings: senders' monthly quotas with what
//! they used, the blacklist (and the opt-outs beside it), and the parts
//! whose fate is unknown, settled by a person. Every change is audited.

use super::auth::{ApiError, CurrentUser};
use super::body::Path;
use super::AppState;
use crate::store::PartState;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// How many opt-outs and unknown parts a page lists.
const LISTED: usize = 500;

/// Every sender's quota and use this month, and the default.
pub async fn quotas(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let month_start = crate::sms::campaign::month_start_ms();
    let rows = state
        .store
        .campaigns()
        .call(move |s| s.quotas(month_start))
        .await?;
    let default = state.campaigns.as_ref().map(|c| c.default_quota());
    Ok(Json(
        json!({ "default": default, "month_start": month_start, "quotas": rows }),
    ))
}

/// The blacklist and the latest opt-outs.
pub async fn blacklist(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (blacklist, opt_outs) = state
        .store
        .sms()
        .call(|s| Ok((s.blacklisted()?, s.opt_outs(LISTED)?)))
        .await?;
    Ok(Json(
        json!({ "blacklist": blacklist, "opt_outs": opt_outs }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BlacklistBody {
    number: String,
    #[serde(default)]
    note: String,
}

/// Blacklists a number, in the form the queue keeps (no other spelling of
/// it slips past).
pub async fn add_to_blacklist(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    super::body::Body(body): super::body::Body<BlacklistBody>,
) -> Result<Json<Value>, ApiError> {
    let e164 = crate::phone::address::destination(&state.normalizer, &body.number)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "not_a_number", e.to_string()))?;
    let (number, note, by) = (e164.clone(), body.note.trim().to_string(), user.0.id);
    state
        .store
        .sms()
        .call(move |s| s.blacklist(&number, &note, Some(by)))
        .await?;
    super::audit::request(
        &state,
        &user,
        "sms.blacklist.add",
        e164.clone(),
        json!({ "note": body.note.trim() }),
        remote,
    )
    .await?;
    Ok(Json(json!({ "e164": e164 })))
}

/// Takes a number off the blacklist.
pub async fn remove_from_blacklist(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(e164): Path<String>,
) -> Result<StatusCode, ApiError> {
    let number = e164.clone();
    let removed = state
        .store
        .sms()
        .call(move |s| s.unblacklist(&number))
        .await?;
    if !removed {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{e164} is not blacklisted"),
        ));
    }
    super::audit::request(
        &state,
        &user,
        "sms.blacklist.remove",
        e164.clone(),
        json!({}),
        remote,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Parts whose outcome is unknown, oldest first.
pub async fn unknown_parts(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let parts = state.store.sms().call(|s| s.unknown_parts(LISTED)).await?;
    Ok(Json(json!({ "parts": parts })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SettleBody {
    /// delivered, failed, or queued (send again, knowing it may arrive twice).
    to: String,
    #[serde(default)]
    note: String,
}

/// Settles an unknown part as a person found out.
pub async fn settle(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    super::body::Body(body): super::body::Body<SettleBody>,
) -> Result<StatusCode, ApiError> {
    let to = match body.to.as_str() {
        "delivered" => PartState::Delivered,
        "failed" => PartState::Failed,
        "queued" => PartState::Queued,
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("settle as delivered, failed or queued, not {other:?}"),
            ))
        }
    };
    let note = body.note.trim().to_string();
    let kept = note.clone();
    state
        .store
        .sms()
        .call(move |s| s.settle_unknown(id, to, &kept))
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Invalid(m) => {
                ApiError::new(StatusCode::CONFLICT, "not_unknown", m)
            }
            other => other.into(),
        })?;
    super::audit::request(
        &state,
        &user,
        "sms.part.settle",
        format!("part:{id}"),
        json!({ "to": to.as_str(), "note": note }),
        remote,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
