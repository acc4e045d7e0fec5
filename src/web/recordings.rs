//! The supervisors' side of recordings: search, play with seeking (HTTP
//! range requests), download, quality-checking scores, holds and the
//! agent's appeal. Quality checkers and admins see every recording, team
//! leads their team's, agents their own; every playback, download, score,
//! hold and appeal is written to the audit log with who and from where.

use super::auth::{ApiError, CurrentUser};
use super::body::{Path, Query};
use super::AppState;
use crate::store::{QaTarget, RecordingQuery, Scope};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use tower::ServiceExt;

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such recording".into(),
    )
}

/// The recording, if `user` may see it; otherwise "not found", so ids of
/// others' recordings reveal nothing.
async fn visible(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<crate::store::RecordingRow, ApiError> {
    let scope = user.scope().clone();
    let found = state
        .store
        .recordings()
        .call(move |s| {
            Ok(if s.recording_in_scope(id, &scope)? {
                s.recording(id)?
            } else {
                None
            })
        })
        .await?;
    found.ok_or_else(not_found)
}

async fn audit(
    state: &AppState,
    user: &CurrentUser,
    remote: SocketAddr,
    action: &'static str,
    recording: &crate::store::RecordingRow,
    detail: Value,
) -> Result<(), ApiError> {
    let mut detail = detail;
    detail["call"] = json!(recording.call_uid);
    let target = format!("recording:{}", recording.id);
    super::audit::record(state, &user.0, action, Some(target), detail, Some(remote)).await
}

/// Recordings matching the query, within the user's scope.
pub async fn list(
    user: CurrentUser,
    State(state): State<AppState>,
    Query(q): Query<RecordingQuery>,
) -> Result<Json<Value>, ApiError> {
    super::history::number_filter_allowed(&user.0, q.number.as_deref())?;
    let rows = search(&state, &user, q).await?;
    Ok(Json(json!({ "recordings": rows })))
}

/// Recordings matching `q` within the user's scope, numbers masked as the
/// user must see them.
async fn search(
    state: &AppState,
    user: &CurrentUser,
    q: RecordingQuery,
) -> Result<Vec<crate::store::RecordingListItem>, ApiError> {
    let scope = user.scope().clone();
    let mut rows = state
        .store
        .recordings()
        .call(move |s| s.search_recordings(&q, &scope))
        .await?;
    for r in &mut rows {
        let another = r.customer_owner.is_some_and(|o| o != user.0.id);
        if crate::access::must_mask(&user.0, another) {
            r.number = r.number.as_deref().map(crate::access::mask);
        }
    }
    Ok(rows)
}

/// Recording `id` as its list row shows it (number, customer, agent).
async fn listed(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<crate::store::RecordingListItem, ApiError> {
    let q = RecordingQuery {
        id: Some(id),
        ..RecordingQuery::default()
    };
    search(state, user, q).await?.pop().ok_or_else(not_found)
}

/// A download's file name: `YYYYMMDD-HHMMSS_line_number.wav`, in the
/// center's time zone, the number as the user may see it.
fn download_name(item: &crate::store::RecordingListItem, offset: chrono::FixedOffset) -> String {
    let started = chrono::DateTime::from_timestamp_millis(item.started_at)
        .unwrap_or_default()
        .with_timezone(&offset)
        .format("%Y%m%d-%H%M%S");
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '*' || c == '+' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    let number = item
        .number
        .as_deref()
        .map(safe)
        .unwrap_or_else(|| "unknown".into());
    format!("{started}_{}_{number}.wav", safe(&item.line))
}

/// One recording with its scores, the forms to score it on, and what the
/// user may do with it.
pub async fn show(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let rec = visible(&state, &user, id).await?;
    let target = QaTarget::Recording(id);
    let (scores, forms) = state
        .store
        .qa()
        .call(move |q| Ok((q.scores(target)?, q.forms_for(target)?)))
        .await?;
    let me = user.0.id;
    let mine = state
        .store
        .recordings()
        .call(move |s| s.recording_in_scope(id, &Scope::Agent(me)))
        .await?;
    let item = listed(&state, &user, id).await?;
    Ok(Json(json!({
        "recording": rec,
        "call": item,
        "download_name": download_name(&item, state.reports.offset),
        "scores": scores,
        "forms": forms,
        "can_score": crate::access::grant("POST /api/recordings/{id}/scores", &user.0).is_ok(),
        "can_appeal": mine,
    })))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
pub struct AudioQuery {
    #[serde(default)]
    download: bool,
}

/// The WAV file, with range requests for seeking; `?download=1` offers it
/// as a file. A playback is audited once, at its first request (no range,
/// or a range from byte 0); the seeks after it are not new playbacks.
pub async fn audio(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    Query(q): Query<AudioQuery>,
    mut request: Request,
) -> Result<Response, ApiError> {
    let rec = visible(&state, &user, id).await?;
    // A Range that is not `bytes=` ranges is ignored (RFC 9110 §14.2): the
    // whole file, not a 416, for a client that sent something odd.
    let malformed = request
        .headers()
        .get(header::RANGE)
        .is_some_and(|v| !v.to_str().is_ok_and(well_formed_range));
    if malformed {
        request.headers_mut().remove(header::RANGE);
    }
    let path = match rec.removed_how.as_deref() {
        None => state.recordings.root.join(&rec.path),
        Some("archived") => match &state.recordings.archive {
            Some(a) => a.join(&rec.path),
            None => return Err(gone("archived, and no archive folder is configured")),
        },
        Some(_) => return Err(gone("deleted by the retention policy")),
    };
    if rec.bytes == 0 && rec.state == "failed" {
        return Err(gone(rec.error.as_deref().unwrap_or("nothing was recorded")));
    }
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let first = range
        .as_deref()
        .is_none_or(|r| r.trim_start_matches("bytes=").starts_with("0-"));
    if q.download {
        audit(&state, &user, remote, "recording.download", &rec, json!({})).await?;
    } else if first {
        audit(&state, &user, remote, "recording.play", &rec, json!({})).await?;
    }
    let mut response = tower_http::services::ServeFile::new_with_mime(
        &path,
        &"audio/wav".parse().expect("a valid mime type"),
    )
    .oneshot(request)
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "io", e.to_string()))?
    .into_response();
    if response.status() == StatusCode::NOT_FOUND {
        return Err(gone("the file is missing from the recordings folder"));
    }
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if q.download {
        let item = listed(&state, &user, id).await?;
        let name = format!(
            "attachment; filename=\"{}\"",
            download_name(&item, state.reports.offset)
        );
        if let Ok(v) = HeaderValue::from_str(&name) {
            headers.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}

/// Whether `value` is a byte-range set: `bytes=` and one or more of
/// `first-last`, `first-` or `-suffix`, each number at most 18 digits.
fn well_formed_range(value: &str) -> bool {
    let number = |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
    let Some(set) = value.trim().strip_prefix("bytes=") else {
        return false;
    };
    set.split(',')
        .all(|spec| match spec.trim().split_once('-') {
            Some((first, "")) => number(first),
            Some(("", suffix)) => number(suffix),
            Some((first, last)) => {
                number(first)
                    && number(last)
                    && first.parse::<u64>().ok() <= last.parse::<u64>().ok()
            }
            None => false,
        })
}

fn gone(why: &str) -> ApiError {
    ApiError::new(StatusCode::GONE, "no_audio", why.to_string())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ScoreBody {
    form_id: i64,
    items: BTreeMap<String, i64>,
    #[serde(default)]
    comment: String,
}

/// Scores a recording on a form.
pub async fn score(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    super::body::Body(body): super::body::Body<ScoreBody>,
) -> Result<Json<Value>, ApiError> {
    let rec = visible(&state, &user, id).await?;
    let scorer = user.0.id;
    let (form_id, items, comment) = (body.form_id, body.items.clone(), body.comment.clone());
    let result = state
        .store
        .qa()
        .call(move |q| q.add_score(QaTarget::Recording(id), form_id, scorer, &items, &comment))
        .await?;
    let score_id = result.map_err(super::qa::refused)?;
    audit(
        &state,
        &user,
        remote,
        "recording.score",
        &rec,
        json!({ "score": score_id, "form": body.form_id, "items": body.items }),
    )
    .await?;
    let scores = state
        .store
        .qa()
        .call(move |q| q.scores(QaTarget::Recording(id)))
        .await?;
    Ok(Json(json!({ "score": score_id, "scores": scores })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AppealBody {
    note: String,
}

/// The agent's appeal against a score of their own recording.
pub async fn appeal(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path((id, score_id)): Path<(i64, i64)>,
    super::body::Body(body): super::body::Body<AppealBody>,
) -> Result<Json<Value>, ApiError> {
    let rec = visible(&state, &user, id).await?;
    let me = user.0.id;
    let own = state
        .store
        .recordings()
        .call(move |s| s.recording_in_scope(id, &Scope::Agent(me)))
        .await?;
    if !own {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the agent of the call may appeal its score".into(),
        ));
    }
    let note = super::qa::appeal_note(&body.note)?;
    let by = user.0.id;
    let stored = note.clone();
    if !state
        .store
        .qa()
        .call(move |q| q.appeal(QaTarget::Recording(id), score_id, by, &stored))
        .await?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such score".into(),
        ));
    }
    audit(
        &state,
        &user,
        remote,
        "recording.appeal",
        &rec,
        json!({ "score": score_id, "note": note }),
    )
    .await?;
    let scores = state
        .store
        .qa()
        .call(move |q| q.scores(QaTarget::Recording(id)))
        .await?;
    Ok(Json(json!({ "scores": scores })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct HoldBody {
    held: bool,
}

/// Keeps a recording past the retention period (or lets it go).
pub async fn hold(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    super::body::Body(body): super::body::Body<HoldBody>,
) -> Result<Json<Value>, ApiError> {
    let rec = visible(&state, &user, id).await?;
    let held = body.held;
    state
        .store
        .recordings()
        .call(move |s| s.set_recording_held(id, held))
        .await?;
    audit(
        &state,
        &user,
        remote,
        "recording.hold",
        &rec,
        json!({ "held": held }),
    )
    .await?;
    Ok(Json(json!({ "id": id, "held": held })))
}

/// How long recordings are kept and where old ones go, with how many are
/// due to go at the next run (QA holds are kept).
pub async fn retention(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let files = &state.recordings;
    let days = files.retention_days;
    let due = if days == 0 {
        0
    } else {
        let cutoff = crate::store::now_ms() - i64::from(days) * 86_400_000;
        state
            .store
            .recordings()
            .call(move |s| s.recordings_due_for_removal(cutoff))
            .await?
            .len()
    };
    Ok(Json(json!({
        "days": days,
        "archive": files.archive.as_ref().map(|p| p.display().to_string()),
        "due": due,
    })))
}

#[cfg(test)]
mod tests {
    use super::well_formed_range;

    #[test]
    fn only_byte_range_sets_are_ranges() {
        for ok in [
            "bytes=0-",
            "bytes=0-99",
            "bytes=-500",
            "bytes=0-0, 10-20",
            " bytes=5-9 ",
        ] {
            assert!(well_formed_range(ok), "{ok}");
        }
        for bad in [
            "bytes=abc",
            "bytes=",
            "items=0-9",
            "bytes=9-5",
            "bytes=-",
            "bytes=1-2-3",
            "0-9",
            "bytes=99999999999999999999-",
        ] {
            assert!(!well_formed_range(bad), "{bad}");
        }
    }
}
