//! Login, logout and the session check every protected route goes through.

use super::AppState;
use crate::store::{AuditEntry, Role, User};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;

/// The cookie that carries the session token.
pub const SESSION_COOKIE: &str = "callpop_session";

/// Team leads, QA and admins: who reads statistics, watches the
/// wallboard and scores recordings.
pub const SUPERVISORS: [Role; 3] = [Role::TeamLead, Role::Qa, Role::Admin];

/// An API error: a status, a stable code and a message for people.
pub struct ApiError(pub StatusCode, pub &'static str, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(json!({ "error": { "code": self.1, "message": self.2 } })),
        )
            .into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Invalid(m) => ApiError(StatusCode::BAD_REQUEST, "invalid", m),
            other => ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store",
                other.to_string(),
            ),
        }
    }
}

/// The logged-in user of a request; a request without a live session is
/// answered 401 before any handler runs.
pub struct CurrentUser(pub User);

impl CurrentUser {
    /// Whose calls and recordings the user may see; a role that may see
    /// none (marketers) is refused.
    pub fn scope(&self) -> Result<crate::store::Scope, ApiError> {
        let scope = crate::store::Scope::of(&self.0);
        if scope == crate::store::Scope::None {
            self.require(&[Role::Agent, Role::TeamLead, Role::Qa, Role::Admin])?;
        }
        Ok(scope)
    }

    /// Refuses users whose role is not among `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.0.role) {
            Ok(())
        } else {
            Err(ApiError(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("the {} role may not do this", self.0.role.as_str()),
            ))
        }
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = session_token(&parts.headers).ok_or_else(unauthorized)?;
        let hash = crate::auth::token_hash(&token);
        match state
            .store
            .users()
            .call(move |s| s.session_user(&hash))
            .await?
        {
            Some(user) => Ok(CurrentUser(user)),
            None => Err(unauthorized()),
        }
    }
}

fn unauthorized() -> ApiError {
    ApiError(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "log in first".into(),
    )
}

/// The session token from the Cookie header.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

#[derive(Deserialize)]
pub struct Login {
    username: String,
    password: String,
}

/// Checks the password and sets the session cookie. Wrong names and wrong
/// passwords get the same answer; both are audited.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Json(body): Json<Login>,
) -> Result<Response, ApiError> {
    let name = body.username.clone();
    let found = state
        .store
        .users()
        .call(move |s| s.login_user(&name))
        .await?;
    // Verify even for unknown users, so timing does not tell names apart.
    let (user, hash) = match found {
        Some((u, Some(h))) => (Some(u), h),
        _ => (None, DUMMY_HASH.clone()),
    };
    let password = body.password.clone();
    let ok = tokio::task::spawn_blocking(move || crate::auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let remote = remote.ip().to_string();
    let username = body.username.clone();
    let user = match (user, ok) {
        (Some(u), true) => u,
        _ => {
            let r = remote.clone();
            state
                .store
                .users()
                .call(move |s| {
                    s.audit(&AuditEntry {
                        actor: &username,
                        user_id: None,
                        action: "login.failed",
                        target: None,
                        detail: json!({}),
                        remote_addr: Some(&r),
                    })
                })
                .await?;
            return Err(ApiError(
                StatusCode::UNAUTHORIZED,
                "bad_login",
                "wrong username or password".into(),
            ));
        }
    };
    let token = crate::auth::new_token();
    let hash = crate::auth::token_hash(&token);
    let hours = state.settings.session_hours;
    let expires = crate::store::now_ms() + (hours * 3600 * 1000) as i64;
    let u = user.clone();
    state
        .store
        .users()
        .call(move |s| {
            s.create_session(&hash, u.id, expires, Some(&remote))?;
            s.audit(&AuditEntry {
                actor: &u.username,
                user_id: Some(u.id),
                action: "login",
                target: None,
                detail: json!({}),
                remote_addr: Some(&remote),
            })
        })
        .await?;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        hours * 3600
    );
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "user": user })),
    )
        .into_response())
}

/// Ends the session and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = session_token(&headers) {
        let hash = crate::auth::token_hash(&token);
        state
            .store
            .users()
            .call(move |s| s.end_session(&hash))
            .await?;
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok(([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response())
}

/// Who is logged in.
pub async fn me(user: CurrentUser) -> Json<User> {
    Json(user.0)
}

/// A hash of a random password, verified against when the user does not
/// exist, so that costs as much as a real check.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    crate::auth::hash_password(&crate::auth::new_token()).unwrap_or_default()
});
