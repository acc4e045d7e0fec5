//! Customer groups on the web (客户群): the groups with their counts
//! within reach, adding customers by hand or every customer a search
//! finds, taking them out. Audited.

use super::auth::{ApiError, CurrentUser};
use super::body::Path;
use super::AppState;
use crate::store::CustomerQuery;
use axum::extract::{ConnectInfo, State};
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersBody {
    #[serde(default)]
    customers: Vec<i64>,
    #[serde(default)]
    filter: Option<CustomerQuery>,
}

/// Who joins: every customer a search finds, or these.
enum Joining {
    Found(Box<CustomerQuery>),
    These(Vec<i64>),
}

/// A group's name: 1 to 32 characters (`group_name`).
fn group_name_checked(tag: &str) -> Result<(), ApiError> {
    let n = tag.trim().chars().count();
    if n == 0 || n > 32 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "group_name",
            "a group's name has 1 to 32 characters".into(),
        )
        .with(json!({ "max": 32 })));
    }
    Ok(())
}

/// `POST /api/customer-groups/{tag}/members`: adds customers to the group.
pub async fn add(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(tag): Path<String>,
    super::body::Body(body): super::body::Body<MembersBody>,
) -> Result<Json<Value>, ApiError> {
    let who = user.who(remote);
    group_name_checked(&tag)?;
    let scope = user.scope().clone();
    let members = match (body.filter, body.customers.is_empty()) {
        (Some(filter), true) => {
            let mut filter = super::directory::narrowed(&state, &user, filter).await?;
            filter.deleted = false;
            Joining::Found(Box::new(filter))
        }
        (None, false) => {
            for id in &body.customers {
                super::directory::reach(&state, &user, *id).await?;
            }
            Joining::These(body.customers)
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "group_members_what",
                "give either the customers or the search whose customers all join".into(),
            ))
        }
    };
    let added = state
        .store
        .directory()
        .call(move |d| match members {
            Joining::Found(filter) => d.add_matching_to_group(&tag, &filter, &scope, who.actor()),
            Joining::These(ids) => d.add_to_group(&tag, &ids, who.actor()),
        })
        .await?;
    Ok(Json(json!({ "added": added })))
}

/// Who leaves a group.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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
    super::body::Body(body): super::body::Body<LeaveBody>,
) -> Result<Json<Value>, ApiError> {
    let who = user.who(remote);
    for id in &body.customers {
        super::directory::reach(&state, &user, *id).await?;
    }
    let removed = state
        .store
        .directory()
        .call(move |d| d.remove_from_group(&tag, &body.customers, who.actor()))
        .await?;
    Ok(Json(json!({ "removed": removed })))
}
