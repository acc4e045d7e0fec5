//! What a request carries, refused in the API's own words: a body that is
//! not JSON, not sent as JSON, too large, or not of the shape a route
//! takes (a missing or unknown field, a wrong type) is answered with a
//! coded error (`body_*`) the page words and an integrator can act on,
//! never a bare text line; so are a query string (`query_invalid`) and a
//! path parameter (`path_invalid`) that are not what the route reads.
//! Handlers take [`Body`], [`Query`] and [`Path`] from here, never axum's.

use super::auth::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::json;

/// A JSON request body of type `T`; use it where `axum::Json` would be.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(refused(&rejection)),
        }
    }
}

/// The coded error of a rejected body.
fn refused(rejection: &JsonRejection) -> ApiError {
    let reason = rejection.body_text();
    let (status, code, message) = match rejection {
        JsonRejection::JsonDataError(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "body_invalid",
            "the body is JSON but not what this request takes",
        ),
        JsonRejection::JsonSyntaxError(_) => (
            StatusCode::BAD_REQUEST,
            "body_not_json",
            "the body is not JSON",
        ),
        JsonRejection::MissingJsonContentType(_) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "body_not_json_type",
            "send the body as Content-Type: application/json",
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            "body_unreadable",
            "the body could not be read",
        ),
    };
    // Too large is said by the status axum chose.
    let status = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        status
    };
    ApiError::new(status, code, format!("{message}: {reason}")).with(json!({ "reason": reason }))
}

/// A query string read as `T`; use it where `axum::extract::Query` would be.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(rejection) => Err(part_refused(
                "query_invalid",
                "the query string is not what this request takes",
                rejection.body_text(),
            )),
        }
    }
}

/// The path's parameters read as `T`; use it where `axum::extract::Path`
/// would be.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(rejection) => Err(part_refused(
                "path_invalid",
                "the address names something this request cannot read",
                rejection.body_text(),
            )),
        }
    }
}

fn part_refused(code: &'static str, message: &str, reason: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        code,
        format!("{message}: {reason}"),
    )
    .with(json!({ "reason": reason }))
}
