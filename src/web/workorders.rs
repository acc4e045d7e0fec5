//! Work orders on the web (工单): the list and search, one order with its
//! form and timeline, the changes people make (status by the form's rules,
//! assignment to an agent or a team, due date, comments), the reminders'
//! counts and the export with the form's own columns. Scope comes from the
//! access table (agents the orders they saved or were given, team leads
//! their team's, QA read-only, admins all); phone fields are masked by the
//! one rule.

use super::auth::{ApiError, CurrentUser};
use super::body::{Path, Query};
use super::AppState;
use crate::store::{
    Assignee, Change, FieldType, FormDef, QaTarget, Role, WorkOrderQuery, WorkOrderRow, WorkOrders,
};
use crate::workorder::lifecycle::MoveRefused;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// No order `id` within the user's reach (404 `work_order_not_found`).
pub(super) fn not_found(id: i64) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "work_order_not_found",
        format!("no work order {id}"),
    )
    .with(json!({ "id": id }))
}

/// Masks the phone fields of the orders `viewer` may not see whole: the
/// one rule of numbers (QA always; an agent unless they own the customer).
pub fn mask_phone_fields(
    w: &WorkOrders<'_>,
    viewer: &crate::store::User,
    orders: &mut [WorkOrderRow],
) -> crate::store::Result<()> {
    let mut forms: std::collections::HashMap<String, Vec<String>> = Default::default();
    for o in orders {
        if !crate::access::must_mask(
            viewer,
            crate::access::owned_by_another(viewer, o.customer_owner_id),
        ) {
            continue;
        }
        if !forms.contains_key(&o.form) {
            let keys = w
                .form(&o.form)?
                .map(|f| {
                    f.fields
                        .iter()
                        .filter(|f| f.field_type == FieldType::Phone)
                        .map(|f| f.key.clone())
                        .collect()
                })
                .unwrap_or_default();
            forms.insert(o.form.clone(), keys);
        }
        let keys: Vec<&str> = forms[&o.form].iter().map(String::as_str).collect();
        crate::pop::content::mask_fields(&mut o.fields, &keys);
    }
    Ok(())
}

/// The list's query: the search, or (with `call_id`) the orders of one
/// call by the history's rule for it.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    call_id: Option<String>,
    status: Option<String>,
    open: Option<bool>,
    form: Option<String>,
    assignee: Option<String>,
    team: Option<String>,
    customer_id: Option<i64>,
    number: Option<String>,
    created_from: Option<i64>,
    created_to: Option<i64>,
    due_before: Option<i64>,
    #[serde(default)]
    overdue: bool,
    after: Option<i64>,
    limit: Option<u32>,
    /// An export's format (`xlsx`, `csv`) and its labels' language (`en`).
    format: Option<String>,
    lang: Option<String>,
}

impl ListParams {
    fn query(&self) -> WorkOrderQuery {
        WorkOrderQuery {
            status: self.status.clone(),
            open: self.open,
            form: self.form.clone(),
            assignee: self.assignee.clone(),
            team: self.team.clone(),
            customer_id: self.customer_id,
            number: self.number.clone(),
            created_from: self.created_from,
            created_to: self.created_to,
            due_before: self.due_before,
            overdue: self.overdue,
            after: self.after,
            limit: self.limit,
        }
    }
}

/// `GET /api/workorders`: a page of the search (`items`, `next`), or with
/// `call_id` the orders saved for that call (`work_orders`).
pub async fn list(
    user: CurrentUser,
    State(state): State<AppState>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let scope = user.scope().clone();
    let viewer = user.0.clone();
    if let Some(call_id) = p.call_id.clone() {
        let orders = state
            .store
            .workorders()
            .call(move |w| {
                let mut orders = w.call_work_orders(&call_id, &scope)?;
                mask_phone_fields(&w, &viewer, &mut orders)?;
                Ok(orders)
            })
            .await?;
        return Ok(Json(json!({ "work_orders": orders })));
    }
    let q = p.query();
    let page = state
        .store
        .workorders()
        .call(move |w| {
            let mut page = w.search(&q, &scope, crate::store::now_ms())?;
            mask_phone_fields(&w, &viewer, &mut page.items)?;
            Ok(page)
        })
        .await?;
    Ok(Json(json!({ "items": page.items, "next": page.next })))
}

/// `GET /api/workorders/summary`: open, due within a day and overdue
/// orders within the viewer's reach (the workspace's reminders; a team
/// lead's are the team's).
pub async fn summary(
    user: CurrentUser,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let scope = user.scope().clone();
    let counts = state
        .store
        .workorders()
        .call(move |w| w.counts(&scope, crate::store::now_ms(), 86_400_000))
        .await?;
    Ok(Json(json!(counts)))
}

/// `GET /api/workorders/{id}`: the order, its form (with its statuses)
/// and its timeline.
pub async fn show(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let scope = user.scope().clone();
    let viewer = user.0.clone();
    let found = state
        .store
        .workorders()
        .call(move |w| {
            let Some(order) = w.get(id, &scope)? else {
                return Ok(None);
            };
            let mut orders = [order];
            mask_phone_fields(&w, &viewer, &mut orders)?;
            let [order] = orders;
            let form = w.form(&order.form)?.map(FormDef::with_lifecycle);
            let timeline = w.timeline(id)?;
            Ok(Some((order, form, timeline)))
        })
        .await?;
    let (order, form, timeline) = found.ok_or_else(|| not_found(id))?;
    let target = QaTarget::WorkOrder(id);
    let (scores, qa_forms) = state
        .store
        .qa()
        .call(move |q| Ok((q.scores(target)?, q.forms_for(target)?)))
        .await?;
    Ok(Json(json!({
        "work_order": order,
        "form": form,
        "timeline": timeline,
        "scores": scores,
        "qa_forms": qa_forms,
        "can_score": super::qa::may_score(&user),
        "can_appeal": super::qa::may_appeal(&user, &order),
    })))
}

/// What a change answers: the order as it is now, or why not.
fn answer(id: i64, change: Change) -> Result<Json<Value>, ApiError> {
    match change {
        Change::Done(order) => Ok(Json(json!({ "work_order": order }))),
        Change::NotFound => Err(not_found(id)),
        Change::Refused(MoveRefused::UnknownStatus(status)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "status_unknown",
            format!("there is no status {status:?} for this work order"),
        )
        .with(json!({ "status": status }))),
        Change::Refused(MoveRefused::NotAllowed { from, to }) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "status_transition_invalid",
            format!("a work order cannot move from {from:?} to {to:?}"),
        )
        .with(json!({ "from": from, "to": to }))),
    }
}

/// Makes one change to order `id` on the store thread, as `user` from
/// `remote` within their scope, and answers with the order or the refusal.
async fn change(
    state: &AppState,
    user: &CurrentUser,
    remote: SocketAddr,
    id: i64,
    make: impl FnOnce(
            &WorkOrders<'_>,
            &crate::store::Scope,
            crate::store::Actor<'_>,
        ) -> crate::store::Result<Change>
        + Send
        + 'static,
) -> Result<Json<Value>, ApiError> {
    let who = user.who(remote);
    let scope = user.scope().clone();
    let change = state
        .store
        .workorders()
        .call(move |w| make(&w, &scope, who.actor()))
        .await?;
    answer(id, change)
}

/// A note on a change: at most 4,000 characters (`note_length`).
fn note_checked(note: Option<&str>) -> Result<(), ApiError> {
    if note.is_some_and(|n| n.trim().chars().count() > 4000) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "note_length",
            "a note has at most 4,000 characters".into(),
        )
        .with(json!({ "max": 4000 })));
    }
    Ok(())
}

/// A status move.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    to: String,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /api/workorders/{id}/status`: moves the order when its form
/// allows it (409 `status_transition_invalid` when not).
pub async fn set_status(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    super::body::Body(body): super::body::Body<StatusBody>,
) -> Result<Json<Value>, ApiError> {
    note_checked(body.note.as_deref())?;
    change(&state, &user, remote, id, move |w, scope, actor| {
        w.change_status(id, body.to.trim(), body.note.as_deref(), scope, actor)
    })
    .await
}

/// An assignment: to an agent (username) or a team's queue, not both.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /api/workorders/{id}/assign`: 派单 to an agent, or escalation to
/// a team's queue, with a note.
pub async fn assign(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    super::body::Body(body): super::body::Body<AssignBody>,
) -> Result<Json<Value>, ApiError> {
    let nonempty = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    note_checked(body.note.as_deref())?;
    let users = state.store.users().call(|u| u.all()).await?;
    let to = match (nonempty(&body.agent), nonempty(&body.team)) {
        (Some(agent), None) => {
            // Only an active agent, team lead or admin works on orders.
            let found = users.iter().find(|u| {
                u.username == agent
                    && !u.disabled
                    && matches!(u.role, Role::Agent | Role::TeamLead | Role::Admin)
            });
            match found {
                Some(u) => Assignee::Agent(u.id),
                None => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "assignee_unknown",
                        format!("no active agent {agent:?}"),
                    )
                    .with(json!({ "agent": agent })))
                }
            }
        }
        (None, Some(team)) => {
            if !users
                .iter()
                .any(|u| !u.disabled && u.team.as_deref() == Some(team.as_str()))
            {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "team_unknown",
                    format!("no team {team:?}"),
                )
                .with(json!({ "team": team })));
            }
            Assignee::Team(team)
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "assign_target",
                "name either an agent or a team".into(),
            ))
        }
    };
    change(&state, &user, remote, id, move |w, scope, actor| {
        w.assign(id, &to, body.note.as_deref(), scope, actor)
    })
    .await
}

/// `GET /api/workorders/assignees`: who an order can be given to (active
/// agents, team leads and admins, with their teams) and the teams.
pub async fn assignees(
    _: CurrentUser,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    use crate::store::Role;
    let users = state.store.users().call(|u| u.all()).await?;
    let people: Vec<Value> = users
        .iter()
        .filter(|u| !u.disabled && matches!(u.role, Role::Agent | Role::TeamLead | Role::Admin))
        .map(|u| json!({ "username": u.username, "display_name": u.display_name, "team": u.team }))
        .collect();
    let mut teams: Vec<&str> = users
        .iter()
        .filter(|u| !u.disabled)
        .filter_map(|u| u.team.as_deref())
        .collect();
    teams.sort_unstable();
    teams.dedup();
    Ok(Json(json!({ "agents": people, "teams": teams })))
}

/// A due date (ms), or `null` to clear it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DueBody {
    due_at: Option<i64>,
}

/// `PUT /api/workorders/{id}/due`.
pub async fn set_due(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    super::body::Body(body): super::body::Body<DueBody>,
) -> Result<Json<Value>, ApiError> {
    change(&state, &user, remote, id, move |w, scope, actor| {
        w.set_due(id, body.due_at, scope, actor)
    })
    .await
}

/// A comment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    body: String,
}

/// `POST /api/workorders/{id}/comments`: a comment on the timeline.
pub async fn comment(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    super::body::Body(body): super::body::Body<CommentBody>,
) -> Result<Json<Value>, ApiError> {
    if body.body.trim().is_empty() || body.body.chars().count() > 4000 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "comment_length",
            "a comment has 1 to 4,000 characters".into(),
        )
        .with(json!({ "max": 4000 })));
    }
    change(&state, &user, remote, id, move |w, scope, actor| {
        w.comment(id, &body.body, scope, actor)
    })
    .await
}

/// The columns every export has before the form's own fields.
const EXPORT_COLUMNS: [(&str, &str); 9] = [
    ("工单号", "Number"),
    ("状态", "Status"),
    ("处理人", "Assignee"),
    ("班组", "Team"),
    ("客户", "Customer"),
    ("创建人", "Created by"),
    ("创建时间", "Created"),
    ("截止时间", "Due"),
    ("关闭时间", "Closed"),
];

/// `GET /api/workorders/export?form=…&format=xlsx`: every order of one form
/// matching the filters, with the form's own columns (labels in the
/// viewer's language, `lang=en`), masked as on screen; audited.
pub async fn export(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Query(p): Query<ListParams>,
) -> Result<Response, ApiError> {
    let format = super::export_format(p.format.as_deref().or(Some("xlsx")))?;
    let form_key = p
        .form
        .clone()
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| state.settings.form.clone());
    let key = form_key.clone();
    let form = state
        .store
        .workorders()
        .call(move |w| w.form(&key))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "form_unknown",
                format!("no form {form_key:?}"),
            )
            .with(json!({ "form": form_key }))
        })?
        .with_lifecycle();
    let english = p.lang.as_deref() == Some("en");
    let mut q = p.query();
    q.form = Some(form.key.clone());
    q.after = None;
    q.limit = Some(200);
    let scope = user.scope().clone();
    let viewer = user.0.clone();
    let offset = state.reports.offset;
    let filters = json!({ "form": form.key, "status": p.status, "assignee": p.assignee,
        "team": p.team, "overdue": p.overdue, "created_from": p.created_from,
        "created_to": p.created_to });
    let (response, rows) = super::export_file(&state, format, "workorders", move |reader, file| {
        let mut header: Vec<String> = EXPORT_COLUMNS
            .iter()
            .map(|(zh, en)| if english { *en } else { *zh }.to_string())
            .collect();
        header.extend(form.fields.iter().map(|f| {
            if english {
                f.label_en.clone()
            } else {
                f.label_zh.clone()
            }
        }));
        let time = |t: Option<i64>| {
            t.and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| {
                    t.with_timezone(&offset)
                        .format("%Y-%m-%d %H:%M")
                        .to_string()
                })
                .unwrap_or_default()
        };
        crate::sheets::write_table(format, file, &header, None, |sink| {
            let w = reader.workorders();
            let mut q = q;
            loop {
                let mut page = w.search(&q, &scope, crate::store::now_ms())?;
                mask_phone_fields(&w, &viewer, &mut page.items)?;
                for o in &page.items {
                    let status = form
                        .statuses
                        .iter()
                        .find(|s| s.key == o.status)
                        .map(|s| if english { &s.label_en } else { &s.label_zh })
                        .unwrap_or(&o.status);
                    let mut row = vec![
                        o.number.clone(),
                        status.clone(),
                        o.assignee.clone().unwrap_or_default(),
                        o.team.clone().unwrap_or_default(),
                        o.customer_name.clone().unwrap_or_default(),
                        o.agent.clone().unwrap_or_default(),
                        time(Some(o.created_at)),
                        time(o.due_at),
                        time(o.closed_at),
                    ];
                    row.extend(form.fields.iter().map(|f| match o.fields.get(&f.key) {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Null) | None => String::new(),
                        Some(other) => other.to_string(),
                    }));
                    sink(&row)?;
                }
                match page.next {
                    Some(next) => q.after = Some(next),
                    None => break,
                }
            }
            Ok(())
        })
    })
    .await?;
    let detail = json!({ "rows": rows, "format": format.as_str(), "filters": filters });
    super::audit::record(
        &state,
        &user.0,
        "workorders.export",
        None,
        detail,
        Some(remote),
    )
    .await?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_move_is_a_conflict_with_its_statuses() {
        let e = answer(
            7,
            Change::Refused(MoveRefused::NotAllowed {
                from: "closed".into(),
                to: "open".into(),
            }),
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert_eq!(e.code, "status_transition_invalid");
        assert_eq!(e.params, json!({"from": "closed", "to": "open"}));
        let e = answer(7, Change::NotFound).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::NOT_FOUND, "work_order_not_found")
        );
    }
}
