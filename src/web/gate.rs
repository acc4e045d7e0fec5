//! The door every route passes: finds the route's row in the access table
//! ([`crate::access`]), lets public routes through, answers 401 without a
//! live session and 403 to a role the row does not name, and hands the
//! handler the user with the scope the table grants. A route the table
//! does not know is refused: a new route is closed until someone decides
//! who may use it.

use super::auth::{self, ApiError, Credential};
use super::AppState;
use crate::access::{self, Access, Denied};
use crate::store::{Scope, User};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The user of a request and what the table lets them reach; put in the
/// request's extensions by [`enforce`] and read by [`auth::CurrentUser`].
#[derive(Debug, Clone)]
pub struct Granted {
    pub user: User,
    pub scope: Scope,
    /// The API token the request came with, if any.
    pub token: Option<auth::TokenLabel>,
}

/// The action a request is, as the access table names it: `GET /path`
/// with the route's declared path (`HEAD` counts as `GET`).
pub fn action_of(method: &Method, route: &str) -> String {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    format!("{method} {route}")
}

/// The middleware (installed with `route_layer`, so the matched route is known).
pub async fn enforce(
    State(state): State<AppState>,
    route: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let Some(route) = route else {
        return next.run(request).await;
    };
    let action = action_of(request.method(), route.as_str());
    let Some(rule) = access::rule_for(&action) else {
        tracing::error!(action, "a route without a row in the access table: refused");
        return forbidden(&action, Denied::NoRule).into_response();
    };
    if rule.access == Access::Public {
        return next.run(request).await;
    }
    // Another system's request: a token, no cookie, so no CSRF to check.
    if let Some(token) = auth::bearer_token(request.headers()) {
        let live = match auth::token_user(&state, &token, &action).await {
            Ok(live) => live,
            Err(e) => return e.into_response(),
        };
        let credential = Credential::Token {
            hash: crate::auth::token_hash(&token),
            owner: live.user.id,
        };
        let label = auth::TokenLabel {
            id: live.id,
            name: live.name,
        };
        return pass(request, next, &action, live.user, credential, Some(label)).await;
    }
    let upgrade = is_websocket_upgrade(request.headers());
    // Another system's page opening a desktop: a one-time ticket, no cookie.
    if upgrade {
        if let Some(ticket) = query_param(request.uri().query(), "ticket") {
            return match ticket_user(&state, &action, &ticket).await {
                Ok((user, credential)) => {
                    pass(request, next, &action, user, credential, None).await
                }
                Err(e) => e.into_response(),
            };
        }
    }
    let user = match auth::session_user(&state, request.headers()).await {
        Ok(user) => user,
        Err(e) => return e.into_response(),
    };
    let sent = if upgrade {
        // A browser cannot add headers to a websocket: the page puts the
        // token in the query (`/ws?csrf=...`). Without it a page of another
        // port of this host, which can plant its own session cookie, could
        // open the socket as someone else.
        csrf_in_query(request.uri().query())
    } else {
        request
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if (upgrade || changes_state(request.method())) && !csrf_matches(request.headers(), sent) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "the request lacks this session's X-CSRF-Token: reload the page".into(),
        )
        .into_response();
    }
    let credential = Credential::Session {
        hash: auth::session_hash(request.headers()),
        owner: user.id,
    };
    pass(request, next, &action, user, credential, None).await
}

/// Runs the handler for `user` if the table grants them `action`, with
/// what they may reach and how they proved who they are.
async fn pass(
    mut request: Request,
    next: Next,
    action: &str,
    user: User,
    credential: Credential,
    token: Option<auth::TokenLabel>,
) -> Response {
    match access::grant(action, &user) {
        Ok(scope) => {
            request
                .extensions_mut()
                .insert(Granted { user, scope, token });
            request.extensions_mut().insert(credential);
            next.run(request).await
        }
        Err(why) => forbidden(action, why).into_response(),
    }
}

/// The user a desktop ticket opens the socket for, and the credential the
/// ticket was asked with (which must still hold): 401 `ticket_invalid`
/// for an unknown, used or expired ticket, or one whose token or session
/// has ended since; a ticket opens only the desktop (`GET /ws`).
async fn ticket_user(
    state: &AppState,
    action: &str,
    ticket: &str,
) -> Result<(User, Credential), ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "ticket_invalid",
            "this desktop ticket is unknown, used or expired: ask for a new one".into(),
        )
    };
    if action != "GET /ws" {
        return Err(forbidden(action, Denied::Role));
    }
    let redeemed = state.tickets.redeem(ticket).ok_or_else(invalid)?;
    if redeemed.credential.still_holds(state).await != Some(true) {
        return Err(invalid());
    }
    let user = auth::active_user(state, &redeemed.username)
        .await?
        .ok_or_else(invalid)?;
    Ok((user, redeemed.credential))
}

/// Whether a request of `method` may change something (and so must carry
/// the session's CSRF token).
fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether `sent` is the CSRF token of the session the cookie names.
fn csrf_matches(headers: &axum::http::HeaderMap, sent: Option<String>) -> bool {
    let Some(session) = auth::session_token(headers) else {
        return false;
    };
    sent.is_some_and(|sent| sent == crate::auth::csrf_token(&session))
}

fn is_websocket_upgrade(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The `csrf` parameter of a query string (the token is URL-safe base64).
fn csrf_in_query(query: Option<&str>) -> Option<String> {
    query_param(query, "csrf")
}

/// Parameter `name` of a query string, as sent (our tokens and tickets
/// are URL-safe base64 and need no decoding).
pub(super) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// The 403 for a refused action, with the stable code `forbidden`.
pub fn forbidden(action: &str, why: Denied) -> ApiError {
    let message = match why {
        Denied::Role => format!("your role may not use {action}"),
        Denied::NoRule => format!("{action} is not open to anyone yet"),
    };
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}
