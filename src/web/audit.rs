//! One way for every handler to write the audit log: who (the logged-in
//! user), what, on which object, with what detail, from where.

use super::auth::ApiError;
use super::AppState;
use crate::store::{AuditEntry, User};
use serde_json::Value;
use std::net::SocketAddr;

/// Appends an audit entry for an action `actor` took through the web.
pub async fn record(
    state: &AppState,
    actor: &User,
    action: impl Into<String>,
    target: Option<String>,
    detail: Value,
    remote: Option<SocketAddr>,
) -> Result<(), ApiError> {
    let (actor, action) = (actor.clone(), action.into());
    let remote = remote.map(|r| r.ip().to_string());
    state
        .store
        .users()
        .call(move |s| {
            s.audit(&AuditEntry {
                actor: &actor.username,
                user_id: Some(actor.id),
                action: &action,
                target: target.as_deref(),
                detail,
                remote_addr: remote.as_deref(),
            })
        })
        .await?;
    Ok(())
}

/// The same for a web request: the logged-in user acted from `remote` on
/// `target` (written `kind:id`, as the console words it).
pub async fn request(
    state: &AppState,
    user: &super::auth::CurrentUser,
    action: &str,
    target: String,
    detail: Value,
    remote: SocketAddr,
) -> Result<(), ApiError> {
    record(state, &user.0, action, Some(target), detail, Some(remote)).await
}
