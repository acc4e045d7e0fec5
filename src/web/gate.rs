//! The door every route passes: finds the route's row in the access table
//! ([`crate::access`]), lets public routes through, answers 401 without a
//! live session and 403 to a role the row does not name, and hands the
//! handler the user with the scope the table grants. A route the table
//! does not know is refused: a new route is closed until someone decides
//! who may use it.

use super::auth::{self, ApiError};
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
    mut request: Request,
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
    let user = match auth::session_user(&state, request.headers()).await {
        Ok(user) => user,
        Err(e) => return e.into_response(),
    };
    let upgrade = is_websocket_upgrade(request.headers());
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
    match access::grant(&action, &user) {
        Ok(scope) => {
            request.extensions_mut().insert(Granted { user, scope });
            next.run(request).await
        }
        Err(why) => forbidden(&action, why).into_response(),
    }
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
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("csrf="))
        .map(str::to_string)
}

/// The 403 for a refused action, with the stable code `forbidden`.
pub fn forbidden(action: &str, why: Denied) -> ApiError {
    let message = match why {
        Denied::Role => format!("your role may not use {action}"),
        Denied::NoRule => format!("{action} is not open to anyone yet"),
    };
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}
