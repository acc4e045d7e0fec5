//! The recordings index (sql/0007_recordings.sql): a row when recording
//! starts, completed when it stops; unfinished rows found at start-up.

use super::{now_ms, Filters, Result, Scope, Store};
use rusqlite::params;
use serde::Serialize;

/// A recording as indexed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingRow {
    pub id: i64,
    pub call_uid: String,
    pub line: String,
    pub agent_user_id: Option<i64>,
    /// Relative to the recordings root.
    pub path: String,
    pub sample_rate: u32,
    pub started_at: i64,
    pub duration_ms: i64,
    pub bytes: i64,
    /// recording, done, repaired or failed.
    pub state: String,
    pub error: Option<String>,
    pub held: bool,
    /// When retention removed the file, and whether it was `deleted` or
    /// `archived` (then it lies at `path` under the archive folder).
    pub removed_at: Option<i64>,
    pub removed_how: Option<String>,
}

const COLUMNS: &str = "id, call_uid, line, agent_user_id, path, sample_rate, started_at,
     duration_ms, bytes, state, error, held, removed_at, removed_how";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordingRow> {
    Ok(RecordingRow {
        id: r.get(0)?,
        call_uid: r.get(1)?,
        line: r.get(2)?,
        agent_user_id: r.get(3)?,
        path: r.get(4)?,
        sample_rate: r.get(5)?,
        started_at: r.get(6)?,
        duration_ms: r.get(7)?,
        bytes: r.get(8)?,
        state: r.get(9)?,
        error: r.get(10)?,
        held: r.get(11)?,
        removed_at: r.get(12)?,
        removed_how: r.get(13)?,
    })
}

/// Call recordings and their quality checks: rows the recorder writes,
/// searches, retention holds and QA scores.
///
/// A view of a [`Store`], from [`Store::recordings`]; cheap to copy.
#[derive(Clone, Copy)]
pub struct Recordings<'a> {
    pub(super) store: &'a Store,
}

impl Recordings<'_> {
    /// Indexes a recording as it starts; its id. The agent is taken from
    /// the call when the recording finishes (who takes a call is known later).
    pub fn recording_started(
        &self,
        call_uid: &str,
        line: &str,
        path: &str,
        sample_rate: u32,
    ) -> Result<i64> {
        self.store.conn.execute(
            "INSERT INTO recordings (call_uid, line, path, sample_rate, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![call_uid, line, path, sample_rate, now_ms()],
        )?;
        Ok(self.store.conn.last_insert_rowid())
    }

    /// Completes a recording: `state` is done, repaired or failed (with
    /// `error`).
    pub fn recording_finished(
        &self,
        id: i64,
        state: &str,
        duration_ms: i64,
        bytes: i64,
        error: Option<&str>,
    ) -> Result<()> {
        self.store.conn.execute(
            "UPDATE recordings SET state = ?2, duration_ms = ?3, bytes = ?4, error = ?5,
                 agent_user_id = COALESCE(agent_user_id,
                     (SELECT c.agent_user_id FROM calls c WHERE c.call_uid = recordings.call_uid))
             WHERE id = ?1",
            params![id, state, duration_ms, bytes, error],
        )?;
        Ok(())
    }

    /// Recordings a dead process left unfinished.
    pub fn unfinished_recordings(&self) -> Result<Vec<RecordingRow>> {
        let mut stmt = self.store.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM recordings WHERE state = 'recording' ORDER BY id"
        ))?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest recordings, newest first.
    pub fn recent(&self, limit: u32) -> Result<Vec<RecordingRow>> {
        let mut stmt = self.store.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM recordings ORDER BY started_at DESC, id DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// A search of the recordings; every field narrows it.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct RecordingQuery {
    /// Started at or after, ms since the epoch.
    pub from: Option<i64>,
    /// Started before, ms since the epoch.
    pub to: Option<i64>,
    pub line: Option<String>,
    /// The agent's username.
    pub agent: Option<String>,
    /// Digits anywhere in the caller's number.
    pub number: Option<String>,
    /// Part of the customer's name.
    pub customer: Option<String>,
    /// answered, missed, abandoned, outbound or unknown.
    pub outcome: Option<String>,
    /// One recording only (the detail of a list row).
    pub id: Option<i64>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// A recording as the supervisors' page lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordingListItem {
    pub id: i64,
    pub call_uid: String,
    pub line: String,
    pub started_at: i64,
    pub duration_ms: i64,
    pub bytes: i64,
    pub state: String,
    pub error: Option<String>,
    pub held: bool,
    pub removed_how: Option<String>,
    pub agent_id: Option<i64>,
    pub agent: Option<String>,
    pub team: Option<String>,
    pub number: Option<String>,
    pub customer_id: Option<i64>,
    pub customer: Option<String>,
    pub direction: Option<String>,
    pub outcome: Option<String>,
    /// The latest score, if any, and whether it passed.
    pub score: Option<i64>,
    pub passed: Option<bool>,
    /// Who owns the caller (for masking the number), never sent.
    #[serde(skip)]
    pub customer_owner: Option<i64>,
    /// The caller's own 1–5 rating of the call (survey SMS): QA reads it
    /// beside its score.
    pub survey_score: Option<u8>,
}

const LIST_FROM: &str = "FROM recordings r
     LEFT JOIN calls c ON c.call_uid = r.call_uid
     LEFT JOIN users u ON u.id = COALESCE(r.agent_user_id, c.agent_user_id)
     LEFT JOIN customers cu ON cu.id = c.customer_id";

impl Recordings<'_> {
    /// One recording by id.
    pub fn recording(&self, id: i64) -> Result<Option<RecordingRow>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .store
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM recordings WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?)
    }

    /// Recordings matching `q` within `scope`, newest first.
    pub fn search_recordings(
        &self,
        q: &RecordingQuery,
        scope: &Scope,
    ) -> Result<Vec<RecordingListItem>> {
        let mut w = Filters::new(format!(
            "SELECT r.id, r.call_uid, r.line, r.started_at, r.duration_ms, r.bytes, r.state,
                    r.error, r.held, r.removed_how, u.id, u.username, u.team,
                    COALESCE(c.raw_number, c.number_e164), c.customer_id, cu.name,
                    c.direction, c.outcome,
                    (SELECT total FROM qa_scores s WHERE s.recording_id = r.id ORDER BY s.id DESC LIMIT 1),
                    (SELECT passed FROM qa_scores s WHERE s.recording_id = r.id ORDER BY s.id DESC LIMIT 1),
                    cu.owner_user_id, c.survey_score
             {LIST_FROM} WHERE 1 = 1"
        ));
        // The history's rule: whatever call a user's history lists, its
        // recording opens.
        match scope {
            Scope::All => {}
            Scope::Team(t) => w.and(super::calls::TEAM_CALLS, t.clone()),
            Scope::Agent(id) => w.and(super::calls::AGENT_CALLS, *id),
            Scope::None => return Ok(Vec::new()),
        }
        if let Some(v) = q.from {
            w.and(" AND r.started_at >= ?", v);
        }
        if let Some(v) = q.to {
            w.and(" AND r.started_at < ?", v);
        }
        if let Some(v) = q.line.as_ref().filter(|v| !v.is_empty()) {
            w.and(" AND r.line = ?", v.clone());
        }
        if let Some(v) = q.agent.as_ref().filter(|v| !v.is_empty()) {
            w.and(" AND u.username = ?", v.clone());
        }
        if let Some(v) = q.number.as_ref().filter(|v| !v.is_empty()) {
            let digits: String = v.chars().filter(|c| c.is_ascii_digit()).collect();
            w.and(" AND (instr(c.raw_number, ?) > 0", digits.clone());
            w.and(" OR instr(c.number_e164, ?) > 0)", digits);
        }
        if let Some(v) = q.customer.as_ref().filter(|v| !v.is_empty()) {
            w.and(" AND instr(cu.name, ?) > 0", v.clone());
        }
        if let Some(v) = q.outcome.as_ref().filter(|v| !v.is_empty()) {
            w.and(" AND c.outcome = ?", v.clone());
        }
        if let Some(id) = q.id {
            w.and(" AND r.id = ?", id);
        }
        let limit = q.limit.unwrap_or(100).min(1000);
        w.sql.push_str(&format!(
            " ORDER BY r.started_at DESC, r.id DESC LIMIT {limit} OFFSET {}",
            q.offset.unwrap_or(0)
        ));
        let mut stmt = self.store.conn.prepare(&w.sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(w.args), |r| {
            Ok(RecordingListItem {
                id: r.get(0)?,
                call_uid: r.get(1)?,
                line: r.get(2)?,
                started_at: r.get(3)?,
                duration_ms: r.get(4)?,
                bytes: r.get(5)?,
                state: r.get(6)?,
                error: r.get(7)?,
                held: r.get(8)?,
                removed_how: r.get(9)?,
                agent_id: r.get(10)?,
                agent: r.get(11)?,
                team: r.get(12)?,
                number: r.get(13)?,
                customer_id: r.get(14)?,
                customer: r.get(15)?,
                direction: r.get(16)?,
                outcome: r.get(17)?,
                score: r.get(18)?,
                passed: r.get(19)?,
                customer_owner: r.get(20)?,
                survey_score: r.get(21)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether `scope` covers recording `id` (the same rule as the search).
    pub fn recording_in_scope(&self, id: i64, scope: &Scope) -> Result<bool> {
        use rusqlite::OptionalExtension;
        let mut w = super::Filters::new(format!("SELECT 1 {LIST_FROM} WHERE 1 = 1"));
        w.and(" AND r.id = ?", id);
        match scope {
            Scope::All => {}
            Scope::Team(t) => w.and(super::calls::TEAM_CALLS, t.clone()),
            Scope::Agent(a) => w.and(super::calls::AGENT_CALLS, *a),
            Scope::None => return Ok(false),
        }
        Ok(self
            .store
            .conn
            .query_row(&w.sql, rusqlite::params_from_iter(w.args), |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Keeps a recording past retention (or lets it go again).
    pub fn set_recording_held(&self, id: i64, held: bool) -> Result<bool> {
        Ok(self.store.conn.execute(
            "UPDATE recordings SET held = ?2 WHERE id = ?1",
            params![id, held],
        )? == 1)
    }

    /// Finished recordings started before `cutoff_ms`, not held and not yet
    /// removed: what retention removes.
    pub fn recordings_due_for_removal(&self, cutoff_ms: i64) -> Result<Vec<RecordingRow>> {
        let mut stmt = self.store.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM recordings INDEXED BY recordings_retention
             WHERE started_at < ?1 AND removed_at IS NULL AND held = 0 AND state != 'recording'
             ORDER BY started_at"
        ))?;
        let rows = stmt.query_map([cutoff_ms], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Notes that retention (keeping `days` days) deleted or archived a
    /// recording's file (`how`), with its audit entry, in one transaction.
    pub fn recording_removed(&self, r: &RecordingRow, how: &str, days: u32) -> Result<()> {
        self.store.in_transaction(|s| {
            s.conn.execute(
                "UPDATE recordings SET removed_at = ?2, removed_how = ?3 WHERE id = ?1",
                params![r.id, now_ms(), how],
            )?;
            s.users().audit(&super::AuditEntry {
                actor: "retention",
                user_id: None,
                action: &format!("recording.{how}"),
                target: Some(&r.path),
                detail: serde_json::json!({ "recording": r.id, "call": r.call_uid, "days": days }),
                remote_addr: None,
            })
        })
    }
}
