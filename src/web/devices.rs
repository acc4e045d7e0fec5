//! The admin console's devices and firmware profiles: the configured
//! devices with their live state, port, USB identity and last error, a
//! restart (audited); the profiles (shipped and the center's own), one
//! profile's text, and a check of a profile file before it is installed.

use super::auth::{ApiError, CurrentUser};
use super::body::Path;
use super::AppState;
use crate::devices::desk::RestartError;
use crate::devices::profile::{self, LoadedProfile};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The largest profile file a check reads.
pub const MAX_PROFILE: usize = 256 << 10;

fn failed(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "io", e.to_string())
}

/// Every configured device with its state now.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let Some(desk) = state.devices.clone() else {
        return Ok(Json(json!({ "devices": [] })));
    };
    let devices = tokio::task::spawn_blocking(move || desk.status())
        .await
        .map_err(failed)?;
    Ok(Json(json!({ "devices": devices })))
}

/// Reopens a device's port and runs its init again (calls on its lines end).
pub async fn restart(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let desk = state.devices.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no device {name:?}"),
        )
    })?;
    desk.restart(&name).map_err(|e| match e {
        RestartError::Unknown(_) => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
        }
        RestartError::NotRestartable(_) => {
            ApiError::new(StatusCode::CONFLICT, "not_restartable", e.to_string())
        }
    })?;
    super::audit::record(
        &state,
        &user.0,
        "device.restart",
        Some(format!("device:{name}")),
        json!({}),
        Some(remote),
    )
    .await?;
    Ok(StatusCode::ACCEPTED)
}

async fn load_profiles(state: &AppState) -> Result<BTreeMap<String, LoadedProfile>, ApiError> {
    let dir = state.profile_dir.clone();
    tokio::task::spawn_blocking(move || profile::load_all(dir.as_deref()))
        .await
        .map_err(failed)?
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "profiles", e.to_string()))
}

/// Every profile: name, kind, description, where it comes from, the USB
/// ids it matches and the devices using it.
pub async fn profiles(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let all = load_profiles(&state).await?;
    let used: Vec<(String, String)> = match &state.devices {
        Some(desk) => desk
            .entries()
            .iter()
            .map(|e| (e.profile.clone(), e.name.to_string()))
            .collect(),
        None => Vec::new(),
    };
    let list: Vec<Value> = all
        .values()
        .map(|p| {
            let name = &p.profile.name;
            json!({
                "name": name,
                "kind": p.profile.kind,
                "description": p.profile.description,
                "description_zh": p.profile.description_zh,
                "origin": p.origin,
                "embedded": p.origin.ends_with("(embedded)"),
                "usb": p.profile.matching.usb,
                "used_by": used.iter().filter(|(profile, _)| profile == name).map(|(_, d)| d).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "profiles": list })))
}

/// One profile as TOML, as `callpop profiles show` prints it.
pub async fn profile_text(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let all = load_profiles(&state).await?;
    let p = all.get(&name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no profile {name:?}"),
        )
    })?;
    let text = toml::to_string_pretty(&p.profile).map_err(failed)?;
    Ok(Json(
        json!({ "name": name, "origin": p.origin, "toml": text }),
    ))
}

/// Checks a profile file (its TOML as the body) as the daemon would load
/// it: valid, with its name, kind and counts; or where and why not.
pub async fn check_profile(body: Bytes) -> Result<Json<Value>, ApiError> {
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "not_utf8",
            "a profile is a UTF-8 TOML file".into(),
        )
    })?;
    Ok(Json(match profile::parse(text, "upload") {
        Ok(p) => json!({
            "valid": true,
            "name": p.profile.name,
            "kind": p.profile.kind,
            "init_steps": p.profile.init.len(),
            "grammar_rules": p.grammar.len(),
        }),
        Err(e) => json!({ "valid": false, "line": e.line, "message": e.message }),
    }))
}
