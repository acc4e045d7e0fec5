//! The REST API behind the desktop and the admin pages.

use super::auth::{ApiError, CurrentUser};
use super::body::{Path, Query};
use super::AppState;
use crate::store::{Binding, FormDef, NewCustomer, NewPhone};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// Every work-order form.
pub async fn forms(_: CurrentUser, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let forms = state.store.workorders().call(|s| s.forms()).await?;
    let forms: Vec<FormDef> = forms.into_iter().map(FormDef::with_lifecycle).collect();
    Ok(Json(json!({ "forms": forms })))
}

/// One form.
pub async fn form(
    _: CurrentUser,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<FormDef>, ApiError> {
    let k = key.clone();
    state
        .store
        .workorders()
        .call(move |s| s.form(&k))
        .await?
        .map(|f| Json(f.with_lifecycle()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no form {key:?}"),
            )
        })
}

/// Creates or replaces a form (admins).
pub async fn put_form(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(key): Path<String>,
    super::body::Body(mut form): super::body::Body<FormDef>,
) -> Result<Json<FormDef>, ApiError> {
    form.key = key;
    let f = form.clone();
    let (key, fields) = (f.key.clone(), f.fields.len());
    state
        .store
        .workorders()
        .call(move |s| s.put_form(&f))
        .await?;
    super::audit::record(
        &state,
        &user.0,
        "form.put",
        Some(key),
        json!({ "fields": fields }),
        None,
    )
    .await?;
    if let Some(hub) = &state.hub {
        hub.forms_changed().await;
    }
    Ok(Json(form))
}

/// Line bindings (supervisors).
pub async fn bindings(
    _user: CurrentUser,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let list = state.store.agents().call(|s| s.line_bindings()).await?;
    let list: Vec<Value> = list
        .into_iter()
        .map(|(line, b)| match b {
            Binding::Agent(a) => json!({ "line": line, "agent": a }),
            Binding::Team(t) => json!({ "line": line, "team": t }),
        })
        .collect();
    Ok(Json(json!({ "bindings": list })))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct LineQuery {
    line: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BindBody {
    agent: Option<String>,
    team: Option<String>,
}

/// Binds a line to an agent or a team (admins); takes effect at once; audited.
pub async fn bind(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<std::net::SocketAddr>,
    Query(q): Query<LineQuery>,
    super::body::Body(body): super::body::Body<BindBody>,
) -> Result<Json<Value>, ApiError> {
    let binding = match (body.agent, body.team) {
        (Some(a), None) => Binding::Agent(a),
        (None, Some(t)) => Binding::Team(t),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "give exactly one of agent and team".into(),
            ))
        }
    };
    let (line, b) = (q.line.clone(), binding.clone());
    state
        .store
        .agents()
        .call(move |s| s.bind_line(&line, &b))
        .await?;
    if let Some(hub) = &state.hub {
        hub.bind(q.line.clone(), Some(binding.clone())).await;
    }
    super::audit::record(
        &state,
        &user.0,
        "line.bind",
        Some(q.line.clone()),
        json!({ "binding": binding }),
        Some(remote),
    )
    .await?;
    Ok(Json(json!({ "line": q.line, "binding": binding })))
}

/// Removes a line's binding (admins); audited.
pub async fn unbind(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<std::net::SocketAddr>,
    Query(q): Query<LineQuery>,
) -> Result<StatusCode, ApiError> {
    let line = q.line.clone();
    if !state
        .store
        .agents()
        .call(move |s| s.unbind_line(&line))
        .await?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("line {:?} is not bound", q.line),
        ));
    }
    if let Some(hub) = &state.hub {
        hub.bind(q.line.clone(), None).await;
    }
    super::audit::record(
        &state,
        &user.0,
        "line.unbind",
        Some(q.line),
        json!({}),
        Some(remote),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Agents' states: team leads see their team, QA and admins everyone.
pub async fn agents(
    user: CurrentUser,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let all = match &state.hub {
        Some(hub) => hub.agents().await,
        None => Vec::new(),
    };
    let visible: Vec<Value> = all
        .into_iter()
        .filter(|a| match user.scope() {
            crate::store::Scope::All => true,
            crate::store::Scope::Team(t) => a["team"].as_str() == Some(t.as_str()),
            _ => a["username"].as_str() == Some(user.0.username.as_str()),
        })
        .collect();
    Ok(Json(json!({ "agents": visible })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewCustomerBody {
    name: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    phones: Vec<String>,
}

/// Adds a customer (the new-customer form of an unknown caller's pop); the
/// agent who adds it owns it.
pub async fn add_customer(
    user: CurrentUser,
    State(state): State<AppState>,
    super::body::Body(body): super::body::Body<NewCustomerBody>,
) -> Result<Json<Value>, ApiError> {
    let normalizer = state.normalizer.clone();
    let mut phones = Vec::new();
    for p in &body.phones {
        let number = normalizer.normalize(p).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("phone {p:?}: {e}"),
            )
        })?;
        phones.push(NewPhone {
            number,
            label: None,
        });
    }
    let customer = NewCustomer {
        name: body.name.trim().to_string(),
        company: body.company.trim().to_string(),
        owner_user_id: Some(user.0.id),
        phones,
        ..NewCustomer::default()
    };
    let actor = user.0.clone();
    let id = state
        .store
        .customers()
        .call(move |s| s.add_customer(&customer, &actor))
        .await?;
    let c = state
        .store
        .customers()
        .call(move |s| s.customer(id))
        .await?;
    Ok(Json(json!({ "customer": c })))
}

/// The lines whose missed calls a user's call-back list holds: one's own
/// and one's team's lines for an agent, the team's and its agents' for a
/// team lead, all for admins.
pub(super) async fn call_back_lines(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Vec<String>, ApiError> {
    let u = user.0.clone();
    let scope = user.scope().clone();
    let bindings = state.store.agents().call(|s| s.line_bindings()).await?;
    let teams: std::collections::HashMap<String, Option<String>> = state
        .store
        .users()
        .call(|s| s.all())
        .await?
        .into_iter()
        .map(|u| (u.username, u.team))
        .collect();
    Ok(bindings
        .into_iter()
        .filter(|(_, b)| match (&scope, b) {
            (crate::store::Scope::All, _) => true,
            (crate::store::Scope::Team(t), Binding::Team(bt)) => bt == t,
            (crate::store::Scope::Team(t), Binding::Agent(a)) => {
                teams.get(a).is_some_and(|team| team.as_ref() == Some(t))
            }
            (_, Binding::Agent(a)) => *a == u.username,
            (_, Binding::Team(t)) => u.team.as_ref() == Some(t),
        })
        .map(|(l, _)| l)
        .collect())
}

/// Whether `viewer` sees the numbers of `customer` masked: a customer
/// another user owns, for a role that must not see them (as on a pop).
pub(super) async fn masked_for(
    state: &AppState,
    viewer: &crate::store::User,
    customer: Option<i64>,
) -> Result<bool, ApiError> {
    let owner = match customer {
        Some(id) => state
            .store
            .customers()
            .call(move |s| s.customer_reach(id, None))
            .await?
            .and_then(|r| r.owner)
            .map(|(o, _)| o),
        None => None,
    };
    Ok(crate::access::must_mask(
        viewer,
        owner.is_some_and(|o| o != viewer.id),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordBody {
    password: String,
    /// The password now: asked of anyone changing their own.
    #[serde(default)]
    current: Option<String>,
}

/// Sets a password: one's own (with the current one), or anyone's for
/// admins. Every other session of that user ends: the one changing their
/// own keeps only the session they are using.
pub async fn set_password(
    user: CurrentUser,
    State(state): State<AppState>,
    axum::extract::ConnectInfo(remote): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    Path(name): Path<String>,
    super::body::Body(body): super::body::Body<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    let own = user.0.username == name;
    if !own && !user.reaches_all() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only an admin sets another user's password".into(),
        ));
    }
    crate::auth::check_password(&body.password, &name)
        .map_err(|w| ApiError::new(StatusCode::BAD_REQUEST, w.code(), w.to_string()))?;
    if own {
        let current = body.current.clone().ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "current_password_required",
                "give the current password to change it".into(),
            )
        })?;
        // Guessing the current password here is throttled like a login.
        let address = remote.ip().to_string();
        let (verdict, _) = state
            .logins
            .attempt(&name, &address, crate::store::now_ms());
        if verdict != crate::auth::throttle::Verdict::Allow {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "login_throttled",
                "too many wrong passwords: try again later".into(),
            ));
        }
        let who = name.clone();
        let stored = state
            .store
            .users()
            .call(move |s| s.login_user(&who))
            .await?
            .and_then(|(_, hash)| hash);
        let matches = tokio::task::spawn_blocking(move || {
            stored.is_some_and(|h| crate::auth::verify_password(&current, &h))
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "hash", e.to_string()))?;
        if !matches {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_password",
                "the current password is not right".into(),
            ));
        }
        state.logins.succeeded(&name, &address);
    }
    let keep = own
        .then(|| super::auth::session_token(&headers).map(|t| crate::auth::token_hash(&t)))
        .flatten();
    let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&body.password))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "hash", e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "hash", e.to_string()))?;
    let (actor, target) = (user.0.clone(), name.clone());
    let target_id = state
        .store
        .users()
        .call(move |s| {
            let ended = s.set_password_hash(&target, &hash, keep.as_deref())?;
            let id = s.user_by_name(&target)?.map(|u| u.id);
            s.audit(&crate::store::AuditEntry {
                actor: &actor.username,
                user_id: Some(actor.id),
                action: "user.password",
                target: Some(&target),
                detail: json!({ "sessions_ended": ended }),
                remote_addr: None,
            })?;
            Ok(id)
        })
        .await?;
    if let Some(id) = target_id {
        state.session_ends.ended(id);
    }
    Ok(StatusCode::NO_CONTENT)
}
