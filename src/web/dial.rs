//! Click-to-dial over HTTP (`POST /api/calls/dial`, `POST
//! /api/calls/{call_uid}/hangup`) and the desktop's `call.dial` /
//! `call.hangup` commands: both go through [`crate::outbound::Dialer`].
//!
//! A number may be given, or the call it is to call back (`call_uid`): the
//! missed-call list masks numbers of customers others own, so a call-back
//! is asked by the call and the number read here, in the caller's scope.

use super::auth::{ApiError, CurrentUser};
use super::body::Path;
use super::AppState;
use crate::outbound::{OutboundError, Started};
use crate::pop::command::CommandError;
use crate::store::User;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// What to dial: a number, or the caller of a call to call back.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DialBody {
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub call_uid: Option<String>,
    #[serde(default)]
    pub line: Option<String>,
    /// The call-back item this dial is for: claimed for the user, and its
    /// outcome recorded when the call ends.
    #[serde(default)]
    pub followup_id: Option<i64>,
}

/// Why a dial was not started, before or in the dialer.
pub enum Refusal {
    Outbound(OutboundError),
    Api(ApiError),
}

impl From<OutboundError> for Refusal {
    fn from(e: OutboundError) -> Self {
        Refusal::Outbound(e)
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Api(e)
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(e: crate::store::StoreError) -> Self {
        Refusal::Api(e.into())
    }
}

impl Refusal {
    fn status(e: &OutboundError) -> StatusCode {
        match e {
            OutboundError::Number(_) | OutboundError::Refused(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            OutboundError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            OutboundError::NotYourLine(_) => StatusCode::FORBIDDEN,
            OutboundError::NoLine => StatusCode::CONFLICT,
            OutboundError::Line(crate::calls::DialError::NoSuchCall { .. }) => {
                StatusCode::NOT_FOUND
            }
            OutboundError::Line(crate::calls::DialError::DeviceDown { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            OutboundError::Line(_) | OutboundError::AllBusy => StatusCode::CONFLICT,
        }
    }

    fn api(self) -> ApiError {
        match self {
            Refusal::Api(e) => e,
            Refusal::Outbound(e) => {
                ApiError::new(Self::status(&e), e.code(), e.to_string()).with(e.params())
            }
        }
    }

    fn command(self) -> CommandError {
        match self {
            Refusal::Api(e) => CommandError::new(e.code, e.message).with(e.params),
            Refusal::Outbound(e) => CommandError::new(e.code(), e.to_string()).with(e.params()),
        }
    }
}

/// The number to dial: the one given, or a call's caller when the user
/// may see that call.
async fn number_of(
    state: &AppState,
    user: &CurrentUser,
    body: &DialBody,
) -> Result<String, Refusal> {
    if let Some(n) = body
        .number
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        if n.chars().count() > 64 {
            return Err(OutboundError::Number(n.chars().take(64).collect()).into());
        }
        return Ok(n.to_string());
    }
    let Some(uid) = body.call_uid.clone() else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "number_required",
            "give the number to dial, or the call to call back".into(),
        )
        .into());
    };
    let reach = {
        let uid = uid.clone();
        state
            .store
            .calls()
            .call(move |s| s.call_reach(&uid))
            .await?
    };
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "call_not_found",
            format!("no call {uid}"),
        )
        .with(json!({ "call_id": uid }))
    };
    let Some(reach) = reach else {
        return Err(not_found().into());
    };
    if !crate::access::covers_call(&user.1, &reach.users, reach.team.as_deref()) {
        return Err(not_found().into());
    }
    reach
        .callback_number
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| OutboundError::Number(String::new()).into())
}

/// Starts a dial for `user`.
pub async fn start(
    state: &AppState,
    user: &CurrentUser,
    body: DialBody,
) -> Result<Started, Refusal> {
    let Some(dialer) = state.dialer.as_ref() else {
        return Err(OutboundError::NoLine.into());
    };
    let number = match body.followup_id {
        Some(id) => {
            // Its number, never a masked one the page was shown.
            let item = super::followups::reachable(state, user, id).await?;
            super::followups::claim_for(state, user, id).await?;
            // As people write it here (13812345678, 01062345678): the
            // card, the work order's phone field and the CDR show it so.
            state
                .normalizer
                .normalize_lenient(&item.number)
                .map_or(item.number, |n| crate::phone::dialled_form(&n))
        }
        None => number_of(state, user, &body).await?,
    };
    let started = dialer.dial(&user.0, &number, body.line.as_deref()).await?;
    if let Some(id) = body.followup_id {
        let call = started.call_id.clone();
        state
            .store
            .followups()
            .call(move |f| f.link_callback(id, &call))
            .await?;
    }
    super::audit::record(
        state,
        &user.0,
        "call.dial",
        Some(format!("call:{}", started.call_id)),
        json!({ "line": started.line }),
        None,
    )
    .await?;
    Ok(started)
}

/// `POST /api/calls/dial`
pub async fn dial(
    user: CurrentUser,
    State(state): State<AppState>,
    super::body::Body(body): super::body::Body<DialBody>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    start(&state, &user, body)
        .await
        .map(|s| (StatusCode::CREATED, Json(s)))
        .map_err(Refusal::api)
}

/// Ends the open call `call_id` for `user`, when it is theirs (dialled
/// for them, or offered to them) or in their scope.
async fn end(state: &AppState, user: &CurrentUser, call_id: &str) -> Result<(), Refusal> {
    let (Some(dialer), Some(hub)) = (state.dialer.as_ref(), state.hub.as_ref()) else {
        return Err(OutboundError::NoLine.into());
    };
    let not_found = || {
        OutboundError::Line(crate::calls::DialError::NoSuchCall {
            line: String::new(),
            call_id: call_id.to_string(),
        })
    };
    // Their own dial, even before the hub has heard of it.
    if dialer.dialled_for(call_id) == Some(user.0.id) {
        dialer.hang_up(call_id).await?;
        return Ok(());
    }
    let live = hub
        .call_parties(call_id.to_string())
        .await
        .ok_or_else(not_found)?;
    if !crate::access::covers_call(&user.1, &live.users, live.team.as_deref()) {
        return Err(not_found().into());
    }
    dialer.hang_up(call_id).await?;
    Ok(())
}

/// `POST /api/calls/{call_uid}/hangup`
pub async fn hang_up(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(call_uid): Path<String>,
) -> Result<StatusCode, ApiError> {
    end(&state, &user, &call_uid)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .map_err(Refusal::api)
}

/// The desktop's `call.dial`.
pub async fn command_dial(
    state: &AppState,
    user: &User,
    scope: crate::store::Scope,
    number: String,
    line: Option<String>,
) -> Result<Value, CommandError> {
    let user = CurrentUser(user.clone(), scope, None);
    let body = DialBody {
        number: Some(number),
        call_uid: None,
        line,
        followup_id: None,
    };
    start(state, &user, body)
        .await
        .map(|s| json!(s))
        .map_err(Refusal::command)
}

/// The desktop's `call.hangup`.
pub async fn command_hang_up(
    state: &AppState,
    user: &User,
    scope: crate::store::Scope,
    call_id: &str,
) -> Result<Value, CommandError> {
    let user = CurrentUser(user.clone(), scope, None);
    end(state, &user, call_id)
        .await
        .map(|()| json!({ "call_id": call_id }))
        .map_err(Refusal::command)
}
