//! Customer groups on the web (客户群): the groups with their counts
//! within reach, adding customers by hand or every customer a search
//! finds, taking them out. Audited.

use super::auth::{ApiError, CurrentUser};
use super::AppState;
use crate::store::{Actor, CustomerQuery};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// `GET /api/customer-groups`.
pub async fn list(
    user: CurrentUser,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let scope = user.scope().clone();
    let groups = state
        .store
        .directory()
        .call(move |d| d.groups(&scope))
        .await?;
    Ok(Json(json!({ "groups": groups })))
}

/// Who joins or leaves: these customers, or (joining) every customer the
/// search finds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembersBody {
    #[serde(default)]
    customers: Vec<i64>,
    #[serde(default)]
    filter: Option<CustomerQuery>,
}

/// `POST /api/customer-groups/{tag}/members`: adds customers to the group.
pub async fn add(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(tag): Path<String>,
    Json(body): Json<MembersBody>,
) -> Result<Json<Value>, ApiError> {
    let scope = user.scope().clone();
    match (body.filter, body.customers.is_empty()) {
        (Some(filter), true) => {
            let mut filter = super::directory::narrowed(&user, filter)?;
            filter.deleted = false;
            let added = state
                .store
                .directory()
                .call(move |d| {
                    let remote = remote.ip().to_string();
                    let actor = Actor {
                        user: &user.0,
                        remote_addr: Some(&remote),
                    };
                    d.add_matching_to_group(&tag, &filter, &scope, actor)
                })
                .await?;
            Ok(Json(json!({ "added": added })))
        }
        (None, false) => {
            for id in &body.customers {
                super::directory::reach(&state, &user, *id).await?;
            }
            let ids = body.customers;
            let added = state
                .store
                .directory()
                .call(move |d| {
                    let remote = remote.ip().to_string();
                    let actor = Actor {
                        user: &user.0,
                        remote_addr: Some(&remote),
                    };
                    d.add_to_group(&tag, &ids, actor)
                })
                .await?;
            Ok(Json(json!({ "added": added })))
        }
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "group_members_what",
            "give either the customers or the search whose customers all join".into(),
        )),
    }
}

/// Who leaves a group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveBody {
    customers: Vec<i64>,
}

/// `POST /api/customer-groups/{tag}/remove`: takes customers out of the group.
pub async fn remove(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(tag): Path<String>,
    Json(body): Json<LeaveBody>,
) -> Result<Json<Value>, ApiError> {
    for id in &body.customers {
        super::directory::reach(&state, &user, *id).await?;
    }
    let removed = state
        .store
        .directory()
        .call(move |d| {
            let remote = remote.ip().to_string();
            let actor = Actor {
                user: &user.0,
                remote_addr: Some(&remote),
            };
            d.remove_from_group(&tag, &body.customers, actor)
        })
        .await?;
    Ok(Json(json!({ "removed": removed })))
}
