//! Call detail records (话单).

use super::{Result, Store};
use crate::calls::Cdr;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

/// A stored CDR as reports and tests read it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRow {
    pub call_uid: String,
    pub line: String,
    pub device: String,
    pub direction: String,
    pub outcome: Option<String>,
    pub presentation: String,
    pub raw_number: Option<String>,
    pub number_e164: Option<String>,
    pub customer_id: Option<i64>,
    pub match_rule: Option<String>,
    pub ring_count: u32,
    pub started_at: i64,
    pub first_ring_at: Option<i64>,
    pub cid_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub dtmf: String,
    /// The name the network sent with the number.
    pub caller_name: Option<String>,
}

impl Store {
    /// Writes a finished call. The call id is unique: writing the same call
    /// again (a retry) updates its row instead of adding another.
    pub fn write_cdr(&self, c: &Cdr) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO calls (call_uid, line, device, direction, outcome, presentation,
                    raw_number, number_e164, number_national, caller_name, customer_id, match_rule,
                    ring_count, started_at, first_ring_at, cid_at, answered_at, ended_at, dtmf)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
                 ON CONFLICT(call_uid) DO UPDATE SET
                    outcome = excluded.outcome, presentation = excluded.presentation,
                    raw_number = excluded.raw_number, number_e164 = excluded.number_e164,
                    number_national = excluded.number_national, caller_name = excluded.caller_name,
                    customer_id = excluded.customer_id, match_rule = excluded.match_rule,
                    ring_count = excluded.ring_count, first_ring_at = excluded.first_ring_at,
                    cid_at = excluded.cid_at, answered_at = excluded.answered_at,
                    ended_at = excluded.ended_at, dtmf = excluded.dtmf",
            )?
            .execute(params![
                c.call_uid,
                c.line,
                c.device,
                match c.direction {
                    crate::event::Direction::Inbound => "inbound",
                    crate::event::Direction::Outbound => "outbound",
                },
                c.outcome.as_str(),
                c.presentation,
                c.raw_number,
                c.number_e164,
                c.number_national,
                c.caller_name,
                c.customer_id,
                c.match_rule.map(|r| r.as_str()),
                c.ring_count,
                c.started_at,
                c.first_ring_at,
                c.cid_at,
                c.answered_at,
                c.ended_at,
                c.dtmf,
            ])?;
        Ok(())
    }

    /// Calls, oldest first.
    pub fn calls(&self, limit: usize) -> Result<Vec<CallRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{CALL_SELECT} ORDER BY started_at, id LIMIT ?1"))?;
        let rows = stmt.query_map([limit as i64], call_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A customer's latest calls, newest first: the history on a pop.
    pub fn customer_calls(&self, customer_id: i64, limit: usize) -> Result<Vec<CallRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{CALL_SELECT} WHERE customer_id = ?1 ORDER BY started_at DESC, id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![customer_id, limit as i64], call_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Unanswered inbound calls on `lines` since `since_ms`, newest first:
    /// an agent's call-back list.
    pub fn missed_calls(
        &self,
        lines: &[String],
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<CallRow>> {
        let lines = serde_json::to_string(lines).unwrap_or_else(|_| "[]".into());
        let mut stmt = self.conn.prepare_cached(&format!(
            "{CALL_SELECT} WHERE started_at >= ?2 AND direction = 'inbound'
               AND outcome IN ('missed', 'abandoned', 'unknown')
               AND line IN (SELECT value FROM json_each(?1))
             ORDER BY started_at DESC, id DESC LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![lines, since_ms, limit as i64], call_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records which agent took a call (the CDR may be written before or after).
    pub fn set_call_agent(&self, call_uid: &str, agent_id: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE calls SET agent_user_id = ?2 WHERE call_uid = ?1")?
            .execute(params![call_uid, agent_id])?;
        Ok(())
    }

    /// Records the customer an agent picked for a call (from a chooser, or
    /// just added for an unknown caller).
    pub fn set_call_customer(&self, call_uid: &str, customer_id: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE calls SET customer_id = ?2 WHERE call_uid = ?1")?
            .execute(params![call_uid, customer_id])?;
        Ok(())
    }

    /// The store's id of a call, if its CDR is written.
    pub fn call_id(&self, call_uid: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM calls WHERE call_uid = ?1")?
            .query_row([call_uid], |r| r.get(0))
            .optional()?)
    }
}

const CALL_SELECT: &str =
    "SELECT call_uid, line, device, direction, outcome, presentation, raw_number,
            number_e164, customer_id, match_rule, ring_count, started_at, first_ring_at,
            cid_at, answered_at, ended_at, dtmf, caller_name
     FROM calls";

fn call_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CallRow> {
    Ok(CallRow {
        call_uid: r.get(0)?,
        line: r.get(1)?,
        device: r.get(2)?,
        direction: r.get(3)?,
        outcome: r.get(4)?,
        presentation: r.get(5)?,
        raw_number: r.get(6)?,
        number_e164: r.get(7)?,
        customer_id: r.get(8)?,
        match_rule: r.get(9)?,
        ring_count: r.get(10)?,
        started_at: r.get(11)?,
        first_ring_at: r.get(12)?,
        cid_at: r.get(13)?,
        answered_at: r.get(14)?,
        ended_at: r.get(15)?,
        dtmf: r.get(16)?,
        caller_name: r.get(17)?,
    })
}
