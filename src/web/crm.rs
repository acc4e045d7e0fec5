//! The center's own CRMs in the admin console: each configured connector
//! with its lookups, answers, failures and the last error (`GET /api/crm`).

use super::auth::{ApiError, CurrentUser};
use super::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

/// `GET /api/crm`: the connectors of `[[crm]]` and what they have done
/// since start.
pub async fn status(
    _: CurrentUser,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let connectors = state.crm.as_ref().map(|c| c.status()).unwrap_or_default();
    Ok(Json(json!({ "connectors": connectors })))
}
