//! The call history (话单) on the web: search within the user's scope,
//! numbers masked by role, and exports, which are a permission of their
//! own (admins by role, others when granted `calls.export`) and are
//! written to the audit log with their filters and row count.

use super::auth::{ApiError, CurrentUser};
use super::body::Query;
use super::AppState;
use crate::access::mask;
use crate::store::{CallQuery, HistoryRow, Role, User};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// The history's query string: the store's filters, with the number as
/// typed.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct HistoryParams {
    from: Option<i64>,
    to: Option<i64>,
    line: Option<String>,
    agent: Option<String>,
    team: Option<String>,
    number: Option<String>,
    customer_id: Option<i64>,
    direction: Option<String>,
    outcome: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
    format: Option<String>,
}

impl HistoryParams {
    /// A whole number goes through the number index; a fragment is
    /// searched for in the numbers as they arrived.
    fn query(&self, state: &AppState) -> CallQuery {
        let typed = self
            .number
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        let national = typed
            .and_then(|n| state.normalizer.normalize_lenient(n))
            .map(|n| n.national)
            .filter(|n| n.len() >= 7);
        CallQuery {
            from: self.from,
            to: self.to,
            line: self.line.clone(),
            agent: self.agent.clone(),
            team: self.team.clone(),
            number_digits: if national.is_none() {
                typed.map(str::to_string)
            } else {
                None
            },
            number_national: national,
            customer_id: self.customer_id,
            direction: self.direction.clone(),
            outcome: self.outcome.clone(),
            after: self.after.clone(),
            limit: self.limit,
        }
    }
}

/// Whether `viewer` sees the number of this call masked (the one rule of
/// [`crate::access::must_mask`]).
pub fn must_mask(viewer: &User, row: &HistoryRow) -> bool {
    crate::access::must_mask(viewer, row.customer_owner.is_some_and(|o| o != viewer.id))
}

fn shown(viewer: &User, mut row: HistoryRow) -> HistoryRow {
    if must_mask(viewer, &row) {
        row.number = row.number.as_deref().map(mask);
    }
    row
}

/// The fewest digits a search by number needs from a user who sees
/// numbers masked: a whole number (a mobile, or a landline with its area
/// code), never a fragment that would uncover masked digits one by one.
pub(super) const MASKED_SEARCH_DIGITS: usize = 11;

/// Refuses a number filter that would let a user who sees numbers masked
/// (QA) recover the hidden digits by searching for fragments.
pub fn number_filter_allowed(viewer: &User, number: Option<&str>) -> Result<(), ApiError> {
    let digits = number.map_or(0, |n| n.chars().filter(char::is_ascii_digit).count());
    if digits == 0 || !crate::access::must_mask(viewer, false) || digits >= MASKED_SEARCH_DIGITS {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "number_incomplete",
        format!("search by a whole number ({MASKED_SEARCH_DIGITS} digits or more)"),
    ))
}

/// Whether the user may export the call history.
async fn may_export(state: &AppState, user: &User) -> Result<bool, ApiError> {
    if user.role == Role::Admin {
        return Ok(true);
    }
    let id = user.id;
    Ok(state
        .store
        .users()
        .call(move |s| s.has_permission(id, "calls.export"))
        .await?)
}

/// One page of calls, newest first, and the cursor of the next.
pub async fn list(
    user: CurrentUser,
    State(state): State<AppState>,
    Query(p): Query<HistoryParams>,
) -> Result<Json<Value>, ApiError> {
    number_filter_allowed(&user.0, p.number.as_deref())?;
    let scope = user.scope().clone();
    let q = p.query(&state);
    let page = state
        .store
        .calls()
        .call(move |s| s.search_calls(&q, &scope))
        .await?;
    let can_export = may_export(&state, &user.0).await?;
    let calls: Vec<HistoryRow> = page
        .calls
        .into_iter()
        .map(|mut r| {
            r.info = r
                .number
                .as_deref()
                .and_then(|n| state.normalizer.normalize_lenient(n))
                .and_then(|n| state.normalizer.number_info(&n));
            shown(&user.0, r)
        })
        .collect();
    Ok(Json(
        json!({ "calls": calls, "next": page.next, "can_export": can_export }),
    ))
}

/// The header of an export, in the page's two languages.
const EXPORT_HEADER: [&str; 18] = [
    "call_uid 呼叫ID",
    "started 开始",
    "line 线路",
    "direction 方向",
    "outcome 结果",
    "number 号码",
    "caller_name 来电名称",
    "customer 客户",
    "agent 坐席",
    "team 班组",
    "wait_s 等待秒",
    "talk_s 通话秒",
    "wrapup_s 话后秒",
    "answered 接听时间",
    "ended 挂机时间",
    "recording 录音",
    "work_orders 工单数",
    "survey 满意度",
];

fn cells(row: &HistoryRow, offset: chrono::FixedOffset) -> Vec<String> {
    let time = |ms: Option<i64>| {
        ms.and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| {
                t.with_timezone(&offset)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let secs = |ms: Option<i64>| ms.map(|v| (v / 1000).to_string()).unwrap_or_default();
    vec![
        row.call_uid.clone(),
        time(Some(row.started_at)),
        row.line.clone(),
        row.direction.clone(),
        row.outcome.clone().unwrap_or_default(),
        row.number.clone().unwrap_or_default(),
        row.caller_name.clone().unwrap_or_default(),
        row.customer.clone().unwrap_or_default(),
        row.agent.clone().unwrap_or_default(),
        row.team.clone().unwrap_or_default(),
        secs(row.wait_ms()),
        secs(row.talk_ms()),
        secs(row.wrapup_ms()),
        time(row.answered_at),
        time(row.ended_at),
        row.recording_id.map(|r| r.to_string()).unwrap_or_default(),
        row.work_orders.to_string(),
        row.survey_score.map(|s| s.to_string()).unwrap_or_default(),
    ]
}

/// Every call matching the filters (not only one page) as CSV or XLSX,
/// masked as on screen; audited with the filters and the row count.
pub async fn export(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Query(p): Query<HistoryParams>,
) -> Result<Response, ApiError> {
    number_filter_allowed(&user.0, p.number.as_deref())?;
    let scope = user.scope().clone();
    if !may_export(&state, &user.0).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_required",
            "exporting the call history needs the calls.export permission".into(),
        ));
    }
    let format = super::export_format(p.format.as_deref())?;
    let mut q = p.query(&state);
    q.after = None;
    let viewer = user.0.clone();
    let offset = state.reports.offset;
    let filters = json!({
        "from": p.from, "to": p.to, "line": p.line, "agent": p.agent, "team": p.team,
        "number": p.number, "customer_id": p.customer_id, "direction": p.direction,
        "outcome": p.outcome,
    });
    let (response, rows) = super::export_file(&state, format, "calls", move |reader, file| {
        let header: Vec<String> = EXPORT_HEADER.iter().map(|h| h.to_string()).collect();
        crate::sheets::write_table(format, file, &header, None, |sink| {
            // A write that fails (a full disk) stops the reading at once.
            reader.calls().each_call(&q, &scope, None, |row| {
                sink(&cells(&shown(&viewer, row), offset))
                    .map_err(|e| crate::store::StoreError::Aborted(format!("{e:#}")))
            })?;
            Ok(())
        })
    })
    .await?;
    let detail = json!({ "rows": rows, "format": format.as_str(), "filters": filters });
    super::audit::record(&state, &user.0, "calls.export", None, detail, Some(remote)).await?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, role: Role) -> User {
        User {
            id,
            username: format!("u{id}"),
            display_name: String::new(),
            role,
            team: Some("sales".into()),
            disabled: false,
        }
    }

    fn row(owner: Option<i64>) -> HistoryRow {
        HistoryRow {
            id: 1,
            call_uid: "c".into(),
            line: "b/1".into(),
            direction: "inbound".into(),
            outcome: Some("answered".into()),
            presentation: "available".into(),
            number: Some("13812345678".into()),
            caller_name: None,
            customer_id: owner.map(|_| 9),
            customer: None,
            customer_owner: owner,
            agent_id: Some(1),
            agent: None,
            team: None,
            started_at: 0,
            answered_at: None,
            ended_at: None,
            wrapup_ended_at: None,
            recording_id: None,
            work_order_id: None,
            work_orders: 0,
            survey_score: None,
            info: None,
        }
    }

    #[test]
    fn numbers_are_masked_by_role() {
        let n = |viewer: &User, owner| shown(viewer, row(owner)).number.unwrap();
        assert_eq!(n(&user(1, Role::Agent), None), "13812345678");
        assert_eq!(n(&user(1, Role::Agent), Some(1)), "13812345678");
        assert_eq!(n(&user(1, Role::Agent), Some(2)), "138****5678");
        assert_eq!(n(&user(5, Role::Qa), None), "138****5678");
        assert_eq!(n(&user(6, Role::TeamLead), Some(2)), "13812345678");
        assert_eq!(n(&user(7, Role::Admin), Some(2)), "13812345678");
    }
}
