//! The recordings index (sql/0007_recordings.sql): a row when recording
//! starts, completed when it stops; unfinished rows found at start-up.

use super::{now_ms, Result, Store};
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
}

const COLUMNS: &str = "id, call_uid, line, agent_user_id, path, sample_rate, started_at,
     duration_ms, bytes, state, error, held";

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
    })
}

impl Store {
    /// Indexes a recording as it starts; its id.
    pub fn recording_started(
        &self,
        call_uid: &str,
        line: &str,
        agent_user_id: Option<i64>,
        path: &str,
        sample_rate: u32,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO recordings (call_uid, line, agent_user_id, path, sample_rate, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![call_uid, line, agent_user_id, path, sample_rate, now_ms()],
        )?;
        Ok(self.conn.last_insert_rowid())
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
        self.conn.execute(
            "UPDATE recordings SET state = ?2, duration_ms = ?3, bytes = ?4, error = ?5
             WHERE id = ?1",
            params![id, state, duration_ms, bytes, error],
        )?;
        Ok(())
    }

    /// Recordings a dead process left unfinished.
    pub fn unfinished_recordings(&self) -> Result<Vec<RecordingRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM recordings WHERE state = 'recording' ORDER BY id"
        ))?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest recordings, newest first.
    pub fn recordings(&self, limit: u32) -> Result<Vec<RecordingRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM recordings ORDER BY started_at DESC, id DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
