//! Teams' pools of lines for outbound calls (外拨线路池) in the admin
//! console: which dialling lines (GSM modems, spare box lines) a team's
//! agents dial through besides their own. Stored, audited, and handed to
//! the dialer at once.

use super::auth::{ApiError, CurrentUser};
use super::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// `GET /api/dial-pools`: every team's pool, and the lines that can dial.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let pools = state.store.agents().call(|a| a.dial_pools()).await?;
    let lines = state
        .dialer
        .as_ref()
        .map(|d| d.dialling_lines())
        .unwrap_or_default();
    let pools: Vec<Value> = pools
        .into_iter()
        .map(|(team, lines)| json!({ "team": team, "lines": lines }))
        .collect();
    Ok(Json(json!({ "pools": pools, "dialling_lines": lines })))
}

/// A team's new pool, lines in the order they are tried.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolBody {
    pub team: String,
    pub lines: Vec<String>,
}

/// `PUT /api/dial-pools`: sets a team's pool (no lines: removes it). Only
/// lines whose devices dial may be in a pool.
pub async fn set(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    super::body::Body(body): super::body::Body<PoolBody>,
) -> Result<Json<Value>, ApiError> {
    let team = body.team.trim().to_string();
    if team.is_empty() || team.chars().count() > 64 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "team_invalid",
            "a team name of 1 to 64 characters".into(),
        ));
    }
    let Some(dialer) = state.dialer.as_ref() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_dialer",
            "this daemon has no lines".into(),
        ));
    };
    let dialling = dialer.dialling_lines();
    let mut lines: Vec<String> = Vec::new();
    for line in body.lines.iter().map(|l| l.trim()) {
        if !dialling.iter().any(|d| d == line) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "line_cannot_dial",
                format!("line {line:?} is not a line whose device dials"),
            )
            .with(json!({ "line": line })));
        }
        if !lines.iter().any(|l| l == line) {
            lines.push(line.to_string());
        }
    }
    let (t, l) = (team.clone(), lines.clone());
    state
        .store
        .agents()
        .call(move |a| a.set_dial_pool(&t, &l))
        .await?;
    dialer.set_pool(&team, lines.clone());
    super::audit::request(
        &state,
        &user,
        "dial_pool.set",
        format!("team:{team}"),
        json!({ "lines": lines }),
        remote,
    )
    .await?;
    Ok(Json(json!({ "team": team, "lines": lines })))
}
