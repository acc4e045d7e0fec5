//! The admin console's own routes: users (add, change role, team and
//! permissions, disable) and the audit log's search. Every change is
//! audited; a change of what a user may reach ends their sessions and
//! closes their desktops at once.

use super::auth::{ApiError, CurrentUser};
use super::body::{Path, Query};
use super::AppState;
use crate::store::{AuditQuery, Role, UserUpdate, PERMISSIONS};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// A user as the console lists them.
fn user_json(u: &crate::store::User, permissions: Vec<String>) -> Value {
    json!({
        "id": u.id, "username": u.username, "display_name": u.display_name,
        "role": u.role, "team": u.team, "disabled": u.disabled, "permissions": permissions,
    })
}

/// Every user with their permissions, and the permissions there are.
pub async fn users(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let list = state
        .store
        .users()
        .call(|s| {
            s.all()?
                .into_iter()
                .map(|u| Ok(user_json(&u, s.permissions_of(u.id)?)))
                .collect::<Result<Vec<_>, crate::store::StoreError>>()
        })
        .await?;
    Ok(Json(json!({ "users": list, "permissions": PERMISSIONS })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    username: String,
    display_name: String,
    role: Role,
    #[serde(default)]
    team: Option<String>,
    password: String,
}

/// Adds a user with a first password (the password policy applies).
pub async fn add_user(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    super::body::Body(body): super::body::Body<NewUser>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let username = body.username.trim().to_string();
    if username.is_empty() || username.len() > 64 || username.chars().any(char::is_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "username_invalid",
            "a username is 1 to 64 characters without spaces".into(),
        ));
    }
    crate::auth::check_password(&body.password, &username)
        .map_err(|w| ApiError::new(StatusCode::BAD_REQUEST, w.code(), w.to_string()))?;
    let password = body.password.clone();
    let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "hash", e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "hash", e.to_string()))?;
    let (name, display, role) = (
        username.clone(),
        body.display_name.trim().to_string(),
        body.role,
    );
    let team = body
        .team
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let t = team.clone();
    let exists = state
        .store
        .users()
        .call({
            let name = name.clone();
            move |s| s.user_by_name(&name)
        })
        .await?
        .is_some();
    if exists {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "user_exists",
            format!("user {username:?} already exists"),
        ));
    }
    let display = if display.is_empty() {
        name.clone()
    } else {
        display
    };
    let added = state
        .store
        .users()
        .call(move |s| {
            s.add_user(&name, &display, role, t.as_deref(), Some(&hash))?;
            Ok::<_, crate::store::StoreError>(s.user_by_name(&name)?.expect("just added"))
        })
        .await?;
    super::audit::record(
        &state,
        &user.0,
        "user.add",
        Some(username),
        json!({ "role": role, "team": team }),
        Some(remote),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user_json(&added, Vec::new()))))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UserChange {
    #[serde(flatten)]
    update: UserUpdate,
    #[serde(default)]
    permissions: Vec<String>,
}

/// Changes a user; ends their sessions when what they may reach changed.
pub async fn update_user(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    super::body::Body(body): super::body::Body<UserChange>,
) -> Result<Json<Value>, ApiError> {
    if name == user.0.username && (body.update.disabled || body.update.role != Role::Admin) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "not_yourself",
            "an admin cannot disable or demote themselves".into(),
        ));
    }
    if let Some(p) = body
        .permissions
        .iter()
        .find(|p| !PERMISSIONS.contains(&p.as_str()))
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("unknown permission {p:?}"),
        ));
    }
    let (who, update, wanted) = (name.clone(), body.update.clone(), body.permissions.clone());
    let by = user.0.username.clone();
    let changed = state
        .store
        .users()
        .call(move |s| {
            let Some((after, ended)) = s.update_user(&who, &update)? else {
                return Ok(None);
            };
            let held = s.permissions_of(after.id)?;
            for p in PERMISSIONS {
                let want = wanted.iter().any(|w| w == p);
                if want != held.iter().any(|h| h == p) {
                    s.set_permission(&who, p, want, &by)?;
                }
            }
            let now = s.permissions_of(after.id)?;
            Ok::<_, crate::store::StoreError>(Some((after, ended, now)))
        })
        .await?;
    let Some((after, ended, permissions)) = changed else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no user {name:?}"),
        ));
    };
    if ended {
        state.session_ends.ended(after.id);
    }
    super::audit::record(
        &state,
        &user.0,
        "user.update",
        Some(name),
        json!({ "display_name": after.display_name, "role": after.role, "team": after.team,
                "disabled": after.disabled, "permissions": permissions, "sessions_ended": ended }),
        Some(remote),
    )
    .await?;
    Ok(Json(user_json(&after, permissions)))
}

/// The audit log, searched by who, what, on what and when.
pub async fn audit_log(
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let entries = state
        .store
        .users()
        .call(move |s| s.search_audit(&q))
        .await?;
    Ok(Json(json!({ "entries": entries })))
}
