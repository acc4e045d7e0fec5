//! The desktop for other systems' pages (Open CTI): `callpop.js`, the
//! embeddable client, and the one-time tickets it opens the desktop
//! websocket with. A web CRM's server holds an API token with the
//! `desktop` scope and trades it for a ticket (`POST /api/desktop/tickets`),
//! or the page gives the token to `callpop.js`, which does it; the ticket
//! opens `/ws?ticket=…` once, within a minute (see `auth::tickets`).

use super::auth::{ApiError, Credential, CurrentUser};
use super::AppState;
use crate::auth::tickets::{Redeemed, Tickets, TooManyTickets};
use crate::store::Role;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// The open tickets, shared by the ticket route and the gate.
#[derive(Clone, Default)]
pub struct DesktopTickets(Arc<Mutex<Tickets<Credential>>>);

impl DesktopTickets {
    /// What `ticket` stands for, once.
    pub fn redeem(&self, ticket: &str) -> Option<Redeemed<Credential>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .redeem(ticket, crate::store::now_ms())
    }

    fn issue(
        &self,
        username: &str,
        credential: Credential,
    ) -> Result<(String, i64), TooManyTickets> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).issue(
            username,
            credential,
            crate::store::now_ms(),
        )
    }
}

/// A ticket's request: whose desktop (the caller's own without a name;
/// another user's only for an admin).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRequest {
    #[serde(default)]
    user: Option<String>,
}

/// `POST /api/desktop/tickets`: a ticket for `/ws?ticket=…`.
pub async fn ticket(
    caller: CurrentUser,
    credential: Credential,
    State(state): State<AppState>,
    super::body::Body(body): super::body::Body<TicketRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let wanted = body
        .user
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty() && *u != caller.0.username);
    let user = match wanted {
        None => caller.0.clone(),
        Some(name) => {
            if caller.0.role != Role::Admin {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "ticket_other_user",
                    "only an admin opens another user's desktop".into(),
                )
                .with(json!({ "user": name })));
            }
            super::auth::active_user(&state, &name)
                .await?
                .ok_or_else(|| super::auth::no_active_user(StatusCode::NOT_FOUND, &name))?
        }
    };
    if crate::access::grant("GET /ws", &user).is_err() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ticket_role",
            format!(
                "{}'s role takes no calls: no desktop to open",
                user.username
            ),
        )
        .with(json!({ "user": user.username, "role": user.role.as_str() })));
    }
    let (ticket, expires_at) = state
        .tickets
        .issue(&user.username, credential)
        .map_err(|_| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ticket_flood",
                "too many unused desktop tickets; use or let them expire".into(),
            )
        })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "ticket": ticket,
            "expires_at": expires_at,
            "user": {
                "id": user.id,
                "username": user.username,
                "display_name": user.display_name,
                "role": user.role.as_str(),
                "team": user.team,
            },
        })),
    ))
}

/// `GET /callpop.js`: the embeddable client, built with the web app
/// (`web/src/embed/`). Any page may load it; it is kept an hour.
pub async fn script(headers: HeaderMap) -> Response {
    let Some((bytes, gz)) = super::app::built_file("callpop.js") else {
        return (StatusCode::NOT_FOUND, "callpop.js is not built").into_response();
    };
    let common = [
        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
        (header::CACHE_CONTROL, "public, max-age=3600"),
        (header::VARY, "Accept-Encoding"),
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
    ];
    match gz.filter(|_| super::app::takes_gzip(&headers)) {
        Some(gz) => (common, [(header::CONTENT_ENCODING, "gzip")], gz).into_response(),
        None => (common, bytes).into_response(),
    }
}
