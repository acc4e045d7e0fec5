//! Customers in and out as spreadsheets from the page.
//!
//! Import (admins; it merges rows into customers anywhere in the store) is
//! a job in two steps: the upload is checked first — every row read, mapped
//! by the same header rules as the CLI and matched against the store, but
//! nothing written — and the page shows the column mapping, the counts and
//! each row's errors; only then does the admin commit, and the same file is
//! imported beside the running daemon in short transactions. Both steps run
//! off the runtime on a connection of their own and report progress, which
//! the page polls. A restart loses the job, not the data: what was imported
//! stays, and importing the file again finds those rows unchanged.
//!
//! Export (team leads their team's customers, admins all) writes what the
//! current search finds in the layout the importer reads back.

use super::auth::{ApiError, CurrentUser};
use super::body::{Path, Query};
use super::AppState;
use crate::customers::{FileProblem, ImportMode, ImportReport, ImportRun, Progress};
use crate::store::{CustomerQuery, Store};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a finished or abandoned job (and its upload) is kept.
const JOB_KEPT: Duration = Duration::from_secs(3600);

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    /// The dry run is reading the file.
    Checking,
    /// The dry run's report is ready; waiting for the admin to commit.
    Checked,
    /// The rows are being written.
    Importing,
    /// Written; the report says what became of each row.
    Imported,
    /// The file could not be read, or the store failed.
    Failed,
}

/// How far a step has read, in the table's units; shared with the step.
#[derive(Debug, Default)]
struct Counter {
    total: AtomicU64,
    done: AtomicU64,
}

impl Progress for Counter {
    fn total(&self, units: u64) {
        self.total.store(units, Ordering::Relaxed);
    }
    fn at(&self, units: u64) {
        self.done.store(units, Ordering::Relaxed);
    }
}

/// One upload on its way in.
struct Job {
    user_id: i64,
    /// The upload's name as the admin's computer called it.
    name: String,
    /// The upload, kept until the job goes.
    file: PathBuf,
    phase: Phase,
    counter: Arc<Counter>,
    /// The dry run's report, then the import's.
    report: Option<ImportReport>,
    /// Why the job failed: a code and parameters the page words.
    error: Option<(&'static str, Value)>,
    touched: Instant,
}

/// The import jobs of this process.
#[derive(Clone, Default)]
pub struct ImportJobs(Arc<Mutex<HashMap<String, Job>>>);

impl ImportJobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets jobs untouched for [`JOB_KEPT`] that are not running, and
    /// removes their uploads.
    fn sweep(&self) {
        let mut jobs = self.lock();
        jobs.retain(|_, j| {
            let running = matches!(j.phase, Phase::Checking | Phase::Importing);
            let keep = running || j.touched.elapsed() < JOB_KEPT;
            if !keep {
                let _ = std::fs::remove_file(&j.file);
            }
            keep
        });
    }

    /// Ends a step: its report or its error.
    fn finish(&self, id: &str, done: Phase, result: anyhow::Result<ImportReport>) {
        let mut jobs = self.lock();
        let Some(job) = jobs.get_mut(id) else { return };
        job.touched = Instant::now();
        match result {
            Ok(report) => {
                job.phase = done;
                job.report = Some(report);
            }
            Err(e) => {
                tracing::warn!(job = id, error = %format!("{e:#}"), "customer import failed");
                job.phase = Phase::Failed;
                job.error = Some(match e.downcast_ref::<FileProblem>() {
                    Some(FileProblem(issue)) => (issue.code, issue.params.clone()),
                    None => ("import_failed", json!({ "detail": format!("{e:#}") })),
                });
            }
        }
    }

    /// The job as the page polls it.
    fn view(&self, id: &str, user_id: i64) -> Option<Value> {
        let jobs = self.lock();
        let job = jobs.get(id).filter(|j| j.user_id == user_id)?;
        Some(json!({
            "id": id,
            "file": job.name,
            "phase": job.phase,
            "total": job.counter.total.load(Ordering::Relaxed),
            "done": job.counter.done.load(Ordering::Relaxed),
            "report": job.report,
            "error": job.error.as_ref().map(|(code, params)| json!({ "code": code, "params": params })),
        }))
    }
}

fn job_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "import_not_found",
        format!("no import {id}: it finished over an hour ago, or the server restarted"),
    )
    .with(json!({ "id": id }))
}

/// Runs one step of job `id` off the runtime on a connection of its own.
fn start(state: &AppState, id: String, mode: ImportMode, by: crate::store::User, remote: String) {
    let (jobs, db, normalizer) = (
        state.imports.clone(),
        state.store.path().to_path_buf(),
        state.normalizer.clone(),
    );
    let Some((file, name, counter)) = jobs
        .lock()
        .get(&id)
        .map(|j| (j.file.clone(), j.name.clone(), j.counter.clone()))
    else {
        return;
    };
    tokio::task::spawn_blocking(move || {
        let result = (|| -> anyhow::Result<ImportReport> {
            let store = match mode {
                ImportMode::DryRun => Store::open_reader(&db)?,
                _ => Store::open(&db)?,
            };
            let actor = crate::store::Actor {
                user: &by,
                remote_addr: Some(&remote),
            };
            crate::customers::import_named(
                &store,
                &normalizer,
                &file,
                &name,
                ImportRun {
                    by: Some(actor),
                    progress: Some(counter.as_ref()),
                    mode,
                },
            )
        })();
        let done = match mode {
            ImportMode::DryRun => Phase::Checked,
            _ => Phase::Imported,
        };
        jobs.finish(&id, done, result);
        if done == Phase::Imported {
            if let Some(j) = jobs.lock().get(&id) {
                let _ = std::fs::remove_file(&j.file);
            }
        }
    });
}

/// `POST /api/customers/import`: takes the file and starts checking it;
/// answers the job to poll.
pub async fn upload(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bad_file = |reason: &str| {
        ApiError::new(StatusCode::BAD_REQUEST, "import_file", reason.to_string())
            .with(json!({ "reason": reason }))
    };
    let (name, ext) =
        super::uploaded_sheet(&headers, &body, "customers.csv", &["csv", "txt", "xlsx"])
            .ok_or_else(|| bad_file("send a .xlsx or .csv file"))?;
    if body.is_empty() {
        return Err(bad_file("the file is empty"));
    }
    state.imports.sweep();
    let id = uuid::Uuid::now_v7().simple().to_string();
    let file = state.uploads.join(format!("customers-{id}.{ext}"));
    super::keep_upload(&state, &file, &body).await?;
    state.imports.lock().insert(
        id.clone(),
        Job {
            user_id: user.0.id,
            name,
            file,
            phase: Phase::Checking,
            counter: Arc::default(),
            report: None,
            error: None,
            touched: Instant::now(),
        },
    );
    start(
        &state,
        id.clone(),
        ImportMode::DryRun,
        user.0.clone(),
        remote.ip().to_string(),
    );
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": id }))))
}

/// `GET /api/customers/imports/{id}`: where the job stands.
pub async fn status(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .imports
        .view(&id, user.0.id)
        .map(Json)
        .ok_or_else(|| job_not_found(&id))
}

/// `POST /api/customers/imports/{id}/commit`: imports the checked file.
pub async fn commit(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    {
        let mut jobs = state.imports.lock();
        if jobs.values().any(|j| j.phase == Phase::Importing) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "import_running",
                "another import is being written; commit this one when it has finished".into(),
            ));
        }
        let job = jobs
            .get_mut(&id)
            .filter(|j| j.user_id == user.0.id)
            .ok_or_else(|| job_not_found(&id))?;
        if job.phase != Phase::Checked {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "import_not_checked",
                format!(
                    "import {id} is {:?}: only a checked file is imported",
                    job.phase
                ),
            )
            .with(json!({ "phase": job.phase })));
        }
        job.phase = Phase::Importing;
        job.counter = Arc::default();
        job.touched = Instant::now();
    }
    start(
        &state,
        id.clone(),
        ImportMode::Live,
        user.0.clone(),
        remote.ip().to_string(),
    );
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": id }))))
}

/// `DELETE /api/customers/imports/{id}`: drops a checked file unimported.
pub async fn discard(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut jobs = state.imports.lock();
    let job = jobs
        .get(&id)
        .filter(|j| j.user_id == user.0.id)
        .ok_or_else(|| job_not_found(&id))?;
    if matches!(job.phase, Phase::Checking | Phase::Importing) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "import_busy",
            format!("import {id} is still running"),
        ));
    }
    if let Some(job) = jobs.remove(&id) {
        let _ = std::fs::remove_file(&job.file);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The export's format and language (beside the search's filters).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportParams {
    format: Option<String>,
    lang: Option<String>,
}

/// `GET /api/customers/export`: what the search finds, within reach.
pub async fn export(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Query(p): Query<ExportParams>,
    Query(q): Query<CustomerQuery>,
) -> Result<Response, ApiError> {
    let format = super::export_format(p.format.as_deref().or(Some("xlsx")))?;
    let chinese = p.lang.as_deref() != Some("en");
    let mut q = super::directory::narrowed(&state, &user, q).await?;
    let filters = serde_json::to_value(&q).unwrap_or_default();
    q.after = None;
    q.limit = Some(200);
    let scope = user.scope().clone();
    let viewer = user.0.clone();
    let phone_keys = super::directory::phone_keys(&state).await?;
    let (response, rows) = super::export_file(&state, format, "customers", move |reader, file| {
        let keys = reader.customers().custom_field_keys()?;
        let header = crate::customers::export::header(&keys, chinese);
        crate::sheets::write_table(format, file, &header, None, |sink| {
            let d = reader.directory();
            let mut q = q;
            loop {
                let page = d.search(&q, &scope)?;
                for c in page.items {
                    let c = super::directory::shown(&viewer, c, &phone_keys);
                    sink(&crate::customers::export::cells(
                        &c.name,
                        &c.company,
                        c.phones.iter().map(|p| p.raw.as_str()),
                        &c.tags,
                        c.owner.as_deref(),
                        &c.custom_fields,
                        &keys,
                    ))?;
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
        "customers.export",
        None,
        detail,
        Some(remote),
    )
    .await?;
    Ok(response)
}
