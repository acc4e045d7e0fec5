//! API tokens in the admin console (Open CTI): `GET /api/tokens` lists
//! them (never the tokens themselves) with the scopes there are, `POST`
//! makes one acting as a user within chosen scopes and shows it once,
//! `DELETE /api/tokens/{id}` revokes it. All audited.

use super::auth::{ApiError, CurrentUser};
use super::body::Path;
use super::AppState;
use crate::access::tokens::{checked_scopes, mint, TokenScope};
use crate::store::NewApiToken;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// `GET /api/tokens`.
pub async fn list(_: CurrentUser, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let tokens = state.store.users().call(|u| u.tokens()).await?;
    let scopes: Vec<&str> = TokenScope::ALL.iter().map(|s| s.as_str()).collect();
    Ok(Json(json!({ "tokens": tokens, "scopes": scopes })))
}

/// A token to make.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    /// The username it acts as.
    user: String,
    scopes: Vec<String>,
    /// When it stops working, ms; never without.
    #[serde(default)]
    expires_at: Option<i64>,
}

fn refused(code: &'static str, message: String, params: Value) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message).with(params)
}

/// `POST /api/tokens`: the token, shown this once.
pub async fn create(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    super::body::Body(body): super::body::Body<NewToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(refused(
            "token_name",
            "a token needs a name of 1 to 100 characters".into(),
            json!({ "max": 100 }),
        ));
    }
    let scopes = checked_scopes(&body.scopes)?;
    if body.expires_at.is_some_and(|t| t <= crate::store::now_ms()) {
        return Err(refused(
            "token_expiry_past",
            "the expiry is in the past".into(),
            json!({}),
        ));
    }
    let acting = super::auth::active_user(&state, &body.user)
        .await?
        .ok_or_else(|| super::auth::no_active_user(StatusCode::BAD_REQUEST, &body.user))?;
    let minted = mint();
    let (prefix, hash) = (minted.prefix.clone(), minted.hash.clone());
    let by = user.0.clone();
    let remote = remote.ip().to_string();
    let expires_at = body.expires_at;
    let id = state
        .store
        .users()
        .call(move |u| {
            u.create_token(
                &NewApiToken {
                    name: &name,
                    prefix: &prefix,
                    token_hash: &hash,
                    user_id: acting.id,
                    scopes: &scopes,
                    expires_at,
                },
                &by,
                Some(&remote),
            )
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "token": minted.token })),
    ))
}

/// `DELETE /api/tokens/{id}`.
pub async fn revoke(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let by = user.0.clone();
    let remote = remote.ip().to_string();
    let revoked = state
        .store
        .users()
        .call(move |u| u.revoke_token(id, &by, Some(&remote)))
        .await?;
    let Some(acting) = revoked else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "token_not_found",
            format!("no live token {id}"),
        )
        .with(json!({ "id": id })));
    };
    // Desktops opened with it close now, not at their next minute's check.
    state.session_ends.ended(acting);
    Ok(StatusCode::NO_CONTENT)
}
