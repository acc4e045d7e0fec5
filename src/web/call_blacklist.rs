//! The inbound blacklist (来电黑名单) in the admin console: numbers and
//! prefixes with a reason; a blacklisted caller is hung up on devices that
//! can refuse a call (GSM modems) and popped marked elsewhere. Changes are
//! audited; the engine reads the list on every caller ID.

use super::auth::{ApiError, CurrentUser};
use super::body::Path;
use super::AppState;
use crate::store::NewCallBlock;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// `GET /api/call-blacklist`
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let entries = state.store.calls().call(|c| c.call_blocks()).await?;
    Ok(Json(json!({ "entries": entries })))
}

/// `POST /api/call-blacklist`: a whole number in any spelling (kept as it
/// is dialled nationally, so every spelling of it is caught) or a prefix
/// of digits; a reason is required.
pub async fn add(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    super::body::Body(mut body): super::body::Body<NewCallBlock>,
) -> Result<Json<Value>, ApiError> {
    body.reason = body.reason.trim().to_string();
    if body.reason.is_empty() || body.reason.chars().count() > 200 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "reason_required",
            "give a reason of at most 200 characters".into(),
        ));
    }
    let typed = body.number.trim().to_string();
    body.number = if body.prefix {
        typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect()
    } else {
        state
            .normalizer
            .normalize(&typed)
            .map(|n| crate::phone::dialled_form(&n))
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "number_invalid",
                    format!("{typed:?} is not a phone number"),
                )
                .with(json!({ "number": typed }))
            })?
    };
    if body.number.is_empty() || !body.number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "prefix_invalid",
            format!("{typed:?}: a prefix is digits only"),
        )
        .with(json!({ "number": typed })));
    }
    let entry = body.clone();
    let by = user.0.id;
    let id = state
        .store
        .calls()
        .call(move |c| c.put_call_block(&entry, Some(by), crate::store::now_ms()))
        .await?;
    super::audit::request(
        &state,
        &user,
        "call_blacklist.add",
        format!("call_blacklist:{id}"),
        json!({ "number": body.number, "prefix": body.prefix, "reason": body.reason, "reject": body.reject }),
        remote,
    )
    .await?;
    Ok(Json(json!({ "id": id, "number": body.number })))
}

/// `DELETE /api/call-blacklist/{id}`
pub async fn remove(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let removed = state
        .store
        .calls()
        .call(move |c| c.remove_call_block(id))
        .await?;
    if !removed {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no blacklist entry {id}"),
        ));
    }
    super::audit::request(
        &state,
        &user,
        "call_blacklist.remove",
        format!("call_blacklist:{id}"),
        json!({}),
        remote,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
