//! Statistics on the web: the report as JSON, with its formulas and the
//! agents' display names (the app's `/reports` page draws the table and
//! charts). A team lead's agent and team rows are their own team's.

use super::auth::{ApiError, CurrentUser};
use super::body::{Path, Query};
use super::AppState;
use crate::reports::stats::{GroupBy, Period, Settings};
use crate::reports::Report;
use crate::store::Role;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReportParams {
    /// ms since the epoch.
    from: i64,
    to: i64,
    #[serde(default = "default_period")]
    period: String,
    /// Service level threshold, seconds (default: the configured one).
    sl: Option<u32>,
}

fn default_period() -> String {
    "60m".into()
}

fn bad(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
}

async fn build(
    user: &CurrentUser,
    state: &AppState,
    group: &str,
    p: &ReportParams,
) -> Result<Report, ApiError> {
    let group = <GroupBy as clap::ValueEnum>::from_str(group, true)
        .map_err(|_| bad(format!("report {group:?}: calls, agents, teams or lines")))?;
    let period: Period = p.period.parse().map_err(bad)?;
    // Instants from 2000 to 2100: no call center has calls outside, and
    // differences of such values cannot overflow.
    const EARLIEST_MS: i64 = 946_684_800_000;
    const LATEST_MS: i64 = 4_102_444_800_000;
    let refused = |code: &'static str, message: &str, params: serde_json::Value| {
        ApiError::new(StatusCode::BAD_REQUEST, code, message.into()).with(params)
    };
    if !(EARLIEST_MS..=LATEST_MS).contains(&p.from) || !(EARLIEST_MS..=LATEST_MS).contains(&p.to) {
        return Err(refused(
            "range_outside",
            "from and to must lie between the years 2000 and 2100",
            serde_json::json!({ "first_year": 2000, "last_year": 2100 }),
        ));
    }
    if p.to <= p.from {
        return Err(refused(
            "range_backwards",
            "to must be after from",
            serde_json::json!({}),
        ));
    }
    let max_days = if period == Period::Min15 { 62 } else { 400 };
    if p.to - p.from > max_days * 86_400_000 {
        return Err(refused(
            "range_too_long",
            "the range is too long for this interval; choose a longer interval or fewer days",
            serde_json::json!({ "max_days": max_days }),
        ));
    }
    let settings = Settings {
        period,
        group,
        offset: state.reports.offset,
        service_level_secs: p
            .sl
            .unwrap_or(state.reports.service_level_secs)
            .clamp(1, 3600),
        from: p.from,
        to: p.to,
    };
    let now = crate::store::now_ms();
    let db = state.store.path().to_path_buf();
    // A month of a busy center is a few hundred thousand rows: read on a
    // connection of its own, off the store thread the call path uses.
    let mut report = tokio::task::spawn_blocking(move || {
        let reader = crate::store::Store::open_reader(&db)?;
        Report::build(&reader, &settings, now)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "report", e.to_string()))??;
    if matches!(group, GroupBy::Agents | GroupBy::Teams) {
        let users = state.store.users().call(|s| s.all()).await?;
        if group == GroupBy::Agents {
            report.names = users
                .iter()
                .filter(|u| !u.display_name.is_empty() && u.display_name != u.username)
                .map(|u| (u.username.clone(), u.display_name.clone()))
                .collect();
        }
        if user.0.role == Role::TeamLead {
            let team = user.0.team.clone().unwrap_or_default();
            let members: std::collections::HashSet<&str> = users
                .iter()
                .filter(|u| u.team.as_deref() == Some(team.as_str()))
                .map(|u| u.username.as_str())
                .collect();
            let keep = |key: &String| match group {
                GroupBy::Teams => *key == team,
                _ => members.contains(key.as_str()),
            };
            report.rows.retain(|r| keep(&r.key));
            report.totals.retain(|r| keep(&r.key));
            report.names.retain(|k, _| keep(k));
        }
    }
    Ok(report)
}

/// The report as JSON: rows per interval and key, totals, formulas.
pub async fn report(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(group): Path<String>,
    Query(p): Query<ReportParams>,
) -> Result<Json<Report>, ApiError> {
    Ok(Json(build(&user, &state, &group, &p).await?))
}
