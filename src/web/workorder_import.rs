//! `POST /api/workorders/import`: status and assignee changes read back
//! from a spreadsheet (the export, edited): `?dry_run=true` shows each
//! row's changes and refusals without making them; without it they are
//! made, each by the same rules (and with the same timeline and audit
//! entries) as a change made on the page.

use super::auth::{ApiError, CurrentUser};
use super::body::Query;
use super::AppState;
use crate::store::{Assignee, Change, Role, StoreError, WorkOrderQuery};
use crate::workorder::import::{ask, columns, status_named, RowAsk};
use crate::workorder::lifecycle::{check_move, MoveRefused};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;

/// The most rows one file changes.
const MAX_ROWS: usize = 5_000;

/// Whether to change anything.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ImportParams {
    #[serde(default)]
    dry_run: bool,
}

/// What became (or would become) of one row.
#[derive(Debug, Clone, Serialize)]
struct RowResult {
    row: usize,
    number: String,
    /// `{"status": {"from", "to"}}`, `{"assignee": {"from", "to"}}`.
    changes: Value,
    /// Why the row was refused (a code the page words), with its parameters.
    error: Option<&'static str>,
    params: Value,
}

fn bad_file(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "import_file", message.clone())
        .with(json!({ "reason": message }))
}

/// Reads the asks of a spreadsheet's rows (after its header).
fn read_asks(path: &std::path::Path) -> Result<Vec<(usize, RowAsk)>, String> {
    let mut table = crate::customers::table::Table::open(path).map_err(|e| format!("{e:#}"))?;
    let header = match table.next() {
        Some(Ok(h)) => h.cells,
        Some(Err(e)) => return Err(format!("row {}: {}", e.row, e.message)),
        None => return Err("the file is empty".into()),
    };
    let cols = columns(&header).ok_or(
        "the first row needs a 工单号/Number column and a 状态/Status or 处理人/Assignee column",
    )?;
    let mut asks = Vec::new();
    for row in table {
        let row = row.map_err(|e| format!("row {}: {}", e.row, e.message))?;
        if let Some(a) = ask(&cols, &row.cells) {
            if asks.len() == MAX_ROWS {
                return Err(format!("at most {MAX_ROWS} rows a file"));
            }
            asks.push((row.row, a));
        }
    }
    Ok(asks)
}

/// The import (see the module's note).
pub async fn import(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Query(p): Query<ImportParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let who = user.who(remote);
    let (name, ext) =
        super::uploaded_sheet(&headers, &body, "workorders.csv", &["csv", "txt", "xlsx"])
            .ok_or_else(|| bad_file("send a .xlsx or .csv file".into()))?;
    if body.is_empty() {
        return Err(bad_file("the file is empty".into()));
    }
    let file = state
        .uploads
        .join(format!("import-{}.{ext}", uuid::Uuid::now_v7().simple()));
    super::keep_upload(&state, &file, &body).await?;
    let path = file.clone();
    let asks = tokio::task::spawn_blocking(move || read_asks(&path))
        .await
        .map_err(|e| bad_file(e.to_string()))?;
    let _ = tokio::fs::remove_file(&file).await;
    let asks = asks.map_err(bad_file)?;
    // Who can be given an order: active agents, team leads and admins.
    let workers: HashMap<String, i64> = state
        .store
        .users()
        .call(|u| u.all())
        .await?
        .into_iter()
        .filter(|u| !u.disabled && matches!(u.role, Role::Agent | Role::TeamLead | Role::Admin))
        .map(|u| (u.username.clone(), u.id))
        .collect();
    let scope = user.scope().clone();
    let dry_run = p.dry_run;
    let results = state
        .store
        .workorders()
        .call(move |w| {
            w.batch(|w| {
                let actor = who.actor();
                let mut results = Vec::with_capacity(asks.len());
                for (row, a) in asks {
                    let mut result = RowResult {
                        row,
                        number: a.number.clone(),
                        changes: json!({}),
                        error: None,
                        params: json!({}),
                    };
                    let found = w
                        .search(
                            &WorkOrderQuery {
                                number: Some(a.number.clone()),
                                limit: Some(1),
                                ..Default::default()
                            },
                            &scope,
                            crate::store::now_ms(),
                        )?
                        .items
                        .pop();
                    let Some(order) = found else {
                        result.error = Some("work_order_not_found");
                        results.push(result);
                        continue;
                    };
                    let form = w.form(&order.form)?.map(|f| f.with_lifecycle());
                    let statuses = form.map(|f| f.statuses).unwrap_or_default();
                    let mut changes = serde_json::Map::new();
                    let mut target_status = None;
                    if let Some(cell) = &a.status {
                        match status_named(&statuses, cell) {
                            None => {
                                result.error = Some("status_unknown");
                                result.params = json!({ "status": cell });
                            }
                            Some(s) if s.key == order.status => {}
                            Some(s) => match check_move(&statuses, &order.status, &s.key) {
                                Ok(_) => {
                                    changes.insert(
                                        "status".into(),
                                        json!({ "from": order.status, "to": s.key }),
                                    );
                                    target_status = Some(s.key.clone());
                                }
                                Err(MoveRefused::NotAllowed { from, to }) => {
                                    result.error = Some("status_transition_invalid");
                                    result.params = json!({ "from": from, "to": to });
                                }
                                Err(MoveRefused::UnknownStatus(s)) => {
                                    result.error = Some("status_unknown");
                                    result.params = json!({ "status": s });
                                }
                            },
                        }
                    }
                    let mut target_agent = None;
                    if let (None, Some(name)) = (result.error, &a.assignee) {
                        match workers.get(name) {
                            Some(&id) if order.assignee.as_deref() != Some(name) => {
                                changes.insert(
                                    "assignee".into(),
                                    json!({ "from": order.assignee, "to": name }),
                                );
                                target_agent = Some(id);
                            }
                            Some(_) => {}
                            None => {
                                result.error = Some("assignee_unknown");
                                result.params = json!({ "agent": name });
                            }
                        }
                    }
                    if a.note.as_ref().is_some_and(|n| n.chars().count() > 4000) {
                        result.error = Some("note_length");
                        result.params = json!({ "max": 4000 });
                    }
                    if result.error.is_none() && !dry_run {
                        // The assignee first: a closed order keeps who closed it.
                        // A row the store refuses is refused alone (its savepoint).
                        let note = a.note.as_deref();
                        let made = w.batch(|w| {
                            if let Some(agent) = target_agent {
                                let to = Assignee::Agent(agent);
                                if let Change::NotFound =
                                    w.assign(order.id, &to, note, &scope, actor)?
                                {
                                    return Ok(Some("work_order_not_found"));
                                }
                            }
                            if let Some(to) = &target_status {
                                if let Change::Refused(_) | Change::NotFound =
                                    w.change_status(order.id, to, note, &scope, actor)?
                                {
                                    return Err(StoreError::Invalid(format!(
                                        "{} cannot move to {to}",
                                        order.number
                                    )));
                                }
                            }
                            Ok(None)
                        });
                        match made {
                            Ok(refused) => result.error = refused,
                            Err(StoreError::Invalid(reason)) => {
                                result.error = Some("row_refused");
                                result.params = json!({ "reason": reason });
                            }
                            Err(other) => return Err(other),
                        }
                    }
                    result.changes = Value::Object(changes);
                    results.push(result);
                }
                Ok(results)
            })
        })
        .await?;
    let changed = results
        .iter()
        .filter(|r| r.error.is_none() && r.changes.as_object().is_some_and(|c| !c.is_empty()))
        .count();
    let refused = results.iter().filter(|r| r.error.is_some()).count();
    if !dry_run {
        super::audit::record(
            &state,
            &user.0,
            "workorders.import",
            None,
            json!({ "file": name, "rows": results.len(), "changed": changed, "refused": refused }),
            Some(remote),
        )
        .await?;
    }
    Ok(Json(json!({
        "dry_run": dry_run,
        "rows": results,
        "changed": changed,
        "refused": refused,
    })))
}
