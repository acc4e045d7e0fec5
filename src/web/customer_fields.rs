//! Customers' custom fields on the web: their definitions (read by every
//! page that shows a customer, written by admins) and the birthday
//! reminders of the day within the viewer's reach.

use super::auth::{ApiError, CurrentUser};
use super::body::Query;
use super::AppState;
use crate::customers::fields::{check_values, CustomFieldDef};
use crate::store::CustomerRow;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;

/// `GET /api/customer-fields`.
pub async fn list(_: CurrentUser, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let fields = state.store.directory().call(|d| d.field_defs()).await?;
    Ok(Json(json!({ "fields": fields })))
}

/// The definitions as the admin console sends them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldsBody {
    fields: Vec<CustomFieldDef>,
}

/// `PUT /api/customer-fields` (admins): replaces the definitions; audited.
pub async fn put(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    super::body::Body(body): super::body::Body<FieldsBody>,
) -> Result<Json<Value>, ApiError> {
    let who = user.who(remote);
    crate::domain::custom_fields::check_defs(&body.fields)?;
    let fields = state
        .store
        .directory()
        .call(move |d| {
            d.put_field_defs(&body.fields, who.actor())?;
            d.field_defs()
        })
        .await?;
    Ok(Json(json!({ "fields": fields })))
}

/// An edit's custom values checked against the definitions, or 400
/// `custom_field_invalid` naming every field and why.
pub async fn checked(
    state: &AppState,
    values: Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let defs = state.store.directory().call(|d| d.field_defs()).await?;
    check_values(&defs, &values).map_err(|errors| {
        let first = errors.first().map(|e| e.field.clone()).unwrap_or_default();
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "custom_field_invalid",
            format!("custom field {first:?} is not right"),
        )
        .with(json!({ "field": first, "fields": errors }))
    })
}

/// Which day's birthdays.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DayQuery {
    /// `MM-DD`; today (in the center's time zone) when absent.
    day: Option<String>,
}

/// `GET /api/customers/birthdays`: the customers within reach whose
/// birthday is today (or `day`).
pub async fn birthdays(
    user: CurrentUser,
    State(state): State<AppState>,
    Query(q): Query<DayQuery>,
) -> Result<Json<Value>, ApiError> {
    let today = chrono::Utc::now()
        .with_timezone(&state.reports.offset)
        .date_naive();
    let days =
        crate::domain::custom_fields::reminder_days(today, q.day.as_deref()).ok_or_else(|| {
            let d = q.day.clone().unwrap_or_default();
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "day_invalid",
                format!("{d:?}: give the day as MM-DD"),
            )
            .with(json!({ "day": d }))
        })?;
    let day = days[0].clone();
    let scope = user.scope().clone();
    let keys = super::directory::phone_keys(&state).await?;
    let items: Vec<CustomerRow> = state
        .store
        .directory()
        .call(move |dir| {
            let mut all = Vec::new();
            for d in &days {
                all.extend(dir.birthdays(d, &scope, 200)?);
            }
            Ok(all)
        })
        .await?
        .into_iter()
        .map(|c| super::directory::shown(&user.0, c, &keys))
        .collect();
    Ok(Json(json!({ "day": day, "items": items })))
}
