//! Quality checking on the web (质检): the scoring forms, edited by QA and
//! admins, and scores and appeals of work orders (recordings' are in
//! [`super::recordings`]). Reach comes from the access table.

use super::auth::{ApiError, CurrentUser};
use super::body::Path;
use super::AppState;
use crate::store::{QaFormEdit, QaTarget, Scope, ScoreError};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// `GET /api/qa-forms`: every active scoring form.
pub async fn forms(_: CurrentUser, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let forms = state.store.qa().call(|q| q.forms()).await?;
    Ok(Json(json!({ "forms": forms })))
}

/// `PUT /api/qa-forms/{name}`: creates or replaces a scoring form; audited.
pub async fn put_form(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    super::body::Body(edit): super::body::Body<QaFormEdit>,
) -> Result<Json<Value>, ApiError> {
    crate::store::check_qa_form(&name, &edit)?;
    let n = name.clone();
    let (before, form) = state
        .store
        .qa()
        .call(move |q| {
            let before = q.forms()?.into_iter().find(|f| f.name == n);
            Ok((before, q.put_form(&n, &edit)?))
        })
        .await?;
    super::audit::record(
        &state,
        &user.0,
        "qa_form.put",
        Some(format!("qa_form:{name}")),
        json!({ "before": before, "after": form }),
        Some(remote),
    )
    .await?;
    Ok(Json(json!({ "form": form })))
}

/// The order `id` when the user reaches it (404 otherwise).
async fn order(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<crate::store::WorkOrderRow, ApiError> {
    let scope = user.scope().clone();
    state
        .store
        .workorders()
        .call(move |w| w.get(id, &scope))
        .await?
        .ok_or_else(|| super::workorders::not_found(id))
}

/// A score as the page sends it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreBody {
    form_id: i64,
    items: BTreeMap<String, i64>,
    #[serde(default)]
    comment: String,
}

/// The refusal of a score, with what the page needs to word it.
pub(super) fn refused(e: ScoreError) -> ApiError {
    let (code, params) = match &e {
        ScoreError::NoForm => ("qa_form_unknown", json!({})),
        ScoreError::WrongKind => ("qa_form_wrong_kind", json!({})),
        ScoreError::UnknownItem(k) => ("qa_item_unknown", json!({ "item": k })),
        ScoreError::Missing(k) => ("qa_item_missing", json!({ "item": k })),
        ScoreError::TooMany { key, given, max } => (
            "qa_item_points",
            json!({ "item": key, "given": given, "max": max }),
        ),
    };
    ApiError::new(StatusCode::BAD_REQUEST, code, e.to_string()).with(params)
}

/// `POST /api/workorders/{id}/scores`: scores a work order; audited.
pub async fn score_work_order(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    super::body::Body(body): super::body::Body<ScoreBody>,
) -> Result<Json<Value>, ApiError> {
    let order = order(&state, &user, id).await?;
    let target = QaTarget::WorkOrder(id);
    let scorer = user.0.id;
    let (form_id, items, comment) = (body.form_id, body.items.clone(), body.comment.clone());
    let score_id = state
        .store
        .qa()
        .call(move |q| q.add_score(target, form_id, scorer, &items, &comment))
        .await?
        .map_err(refused)?;
    super::audit::record(
        &state,
        &user.0,
        "workorder.score",
        Some(format!("workorder:{}", order.number)),
        json!({ "score": score_id, "form": body.form_id, "items": body.items }),
        Some(remote),
    )
    .await?;
    let scores = state.store.qa().call(move |q| q.scores(target)).await?;
    Ok(Json(json!({ "score": score_id, "scores": scores })))
}

/// An appeal's reason.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealBody {
    note: String,
}

/// `POST /api/workorders/{id}/scores/{score}/appeal`: the order's author
/// or assignee appeals a score of it; audited.
pub async fn appeal_work_order(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path((id, score_id)): Path<(i64, i64)>,
    super::body::Body(body): super::body::Body<AppealBody>,
) -> Result<Json<Value>, ApiError> {
    let order = order(&state, &user, id).await?;
    if !may_appeal(&user, &order) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the order's author or assignee may appeal its score".into(),
        ));
    }
    let note = appeal_note(&body.note)?;
    let (target, by, stored) = (QaTarget::WorkOrder(id), user.0.id, note.clone());
    if !state
        .store
        .qa()
        .call(move |q| q.appeal(target, score_id, by, &stored))
        .await?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such score".into(),
        ));
    }
    super::audit::record(
        &state,
        &user.0,
        "workorder.appeal",
        Some(format!("workorder:{}", order.number)),
        json!({ "score": score_id, "note": note }),
        Some(remote),
    )
    .await?;
    let scores = state.store.qa().call(move |q| q.scores(target)).await?;
    Ok(Json(json!({ "scores": scores })))
}

/// An appeal's note, trimmed, or why it cannot be one.
pub(super) fn appeal_note(note: &str) -> Result<String, ApiError> {
    const MAX: usize = 2000;
    let note = note.trim();
    if note.is_empty() || note.chars().count() > MAX {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "appeal_length",
            "an appeal has 1 to 2,000 characters".into(),
        )
        .with(json!({ "max": MAX })));
    }
    Ok(note.to_string())
}

/// Whether the user may appeal the order's scores: they saved it or hold it.
pub fn may_appeal(user: &CurrentUser, order: &crate::store::WorkOrderRow) -> bool {
    order.agent_id == Some(user.0.id) || order.assignee_id == Some(user.0.id)
}

/// Whether the user scores work orders (the checkers of the access table).
pub fn may_score(user: &CurrentUser) -> bool {
    crate::access::grant("POST /api/workorders/{id}/scores", &user.0)
        .is_ok_and(|scope| scope != Scope::None)
}
