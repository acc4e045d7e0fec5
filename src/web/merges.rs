//! Merging duplicate customers on the web (合并客户): merge one into
//! another, list a customer's merges, undo one within 30 days. Team leads
//! merge their team's customers, admins anyone's; both audited.

use super::auth::{ApiError, CurrentUser};
use super::body::Path;
use super::AppState;
use crate::store::MergeRefused;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// A refusal as the page words it.
fn refused(e: MergeRefused) -> ApiError {
    let (status, code) = match e {
        MergeRefused::Same => (StatusCode::BAD_REQUEST, "merge_same"),
        MergeRefused::NotFound => (StatusCode::NOT_FOUND, "customer_not_found"),
        MergeRefused::NoMerge => (StatusCode::NOT_FOUND, "merge_not_found"),
        MergeRefused::Undone => (StatusCode::CONFLICT, "merge_undone"),
        MergeRefused::TooLate => (StatusCode::CONFLICT, "merge_too_late"),
        MergeRefused::MergedSince => (StatusCode::CONFLICT, "merge_merged_since"),
    };
    ApiError::new(status, code, e.to_string())
}

/// Which customer goes into this one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    from: i64,
}

/// `POST /api/customers/{id}/merge`: merges customer `from` into `id`.
pub async fn merge(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    super::body::Body(body): super::body::Body<MergeBody>,
) -> Result<Json<Value>, ApiError> {
    let who = user.who(remote);
    super::directory::reach(&state, &user, id).await?;
    super::directory::reach(&state, &user, body.from).await?;
    let merge = state
        .store
        .directory()
        .call(move |d| {
            let actor = who.actor();
            d.merge(id, body.from, actor, crate::store::now_ms())
        })
        .await?
        .map_err(refused)?;
    let kept = super::directory::reach(&state, &user, id).await?;
    Ok(Json(json!({
        "merge": merge,
        "customer": super::directory::shown(&user.0, kept, &super::directory::phone_keys(&state).await?),
    })))
}

/// `GET /api/customers/{id}/merges`: the merges the customer took part in.
pub async fn list(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    super::directory::reach(&state, &user, id).await?;
    let scope = user.scope().clone();
    let merges = state
        .store
        .directory()
        .call(move |d| {
            let mut merges = d.merges_of(id)?;
            // An undone merge gave the other customer back to whoever
            // owns it: its name is shown only to those who reach it.
            for m in &mut merges {
                let other = if m.kept_id == id {
                    m.merged_id
                } else {
                    m.kept_id
                };
                if m.undone_at.is_some() && d.get(other, &scope)?.is_none() {
                    m.merged_name = String::new();
                }
            }
            Ok(merges)
        })
        .await?;
    Ok(Json(json!({ "merges": merges })))
}

/// `POST /api/customers/merges/{id}/undo`: undoes a merge of a customer
/// the user reaches, within its 30 days.
pub async fn undo(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let who = user.who(remote);
    let kept = state
        .store
        .directory()
        .call(move |d| d.merge_kept(id))
        .await?
        .ok_or_else(|| refused(MergeRefused::NoMerge))?;
    super::directory::reach(&state, &user, kept).await?;
    state
        .store
        .directory()
        .call(move |d| {
            let actor = who.actor();
            d.undo_merge(id, actor, crate::store::now_ms())
        })
        .await?
        .map_err(refused)?;
    Ok(Json(json!({ "undone": id, "customer": kept })))
}
