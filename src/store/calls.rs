//! Call detail records (话单) and the call history as supervisors search
//! it: filters, a scope per role, and keyset paging (a page after the last
//! row seen, never an OFFSET), so page 1,000 costs what page 1 does on
//! millions of calls.

use super::{Filters, Result, Scope, Store, StoreError};
use crate::calls::Cdr;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

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
    /// The agent who took it, or whom callpop dialled it for.
    pub agent_user_id: Option<i64>,
    /// Why a dialled call failed, in the device's words.
    pub failure: Option<String>,
}

/// Calls: the CDR each line machine writes, what the hub adds after it
/// (agent, customer, routing, wrap-up), and the history searches and
/// exports.
///
/// A view of a [`Store`], from [`Store::calls`]; cheap to copy.
#[derive(Clone, Copy)]
pub struct Calls<'a> {
    pub(super) store: &'a Store,
}

/// Who a call belongs to: the agent who took it and the one it was
/// offered to (each with their team), the team of its line, and its caller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallReach {
    pub users: Vec<(i64, Option<String>)>,
    pub team: Option<String>,
    pub customer_id: Option<i64>,
    pub number_national: Option<String>,
    /// The number to call the caller back on: E.164 where known, else as
    /// the line gave it.
    pub callback_number: Option<String>,
}

impl Calls<'_> {
    /// Writes a finished call. The call id is unique: writing the same call
    /// again (a retry) updates its row instead of adding another.
    /// The call's `call.ended` webhook event is written with it, once.
    pub fn write_cdr(&self, c: &Cdr) -> Result<()> {
        self.store.in_transaction(|s| {
            s.calls().upsert_cdr(c)?;
            let data = s.calls().ended_event(c)?;
            s.webhooks().emit_once("call.ended", &c.call_uid, &data)?;
            Ok(())
        })
    }

    fn upsert_cdr(&self, c: &Cdr) -> Result<()> {
        self.store
            .conn
            .prepare_cached(
                "INSERT INTO calls (call_uid, line, device, direction, outcome, presentation,
                    raw_number, number_e164, number_national, caller_name, customer_id, match_rule,
                    ring_count, started_at, first_ring_at, cid_at, answered_at, ended_at, dtmf,
                    agent_user_id, failure, blocked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                    ?18, ?19, ?20, ?21, ?22)
                 ON CONFLICT(call_uid) DO UPDATE SET
                    outcome = excluded.outcome, presentation = excluded.presentation,
                    raw_number = excluded.raw_number, number_e164 = excluded.number_e164,
                    number_national = excluded.number_national, caller_name = excluded.caller_name,
                    customer_id = excluded.customer_id, match_rule = excluded.match_rule,
                    ring_count = excluded.ring_count, first_ring_at = excluded.first_ring_at,
                    cid_at = excluded.cid_at, answered_at = excluded.answered_at,
                    ended_at = excluded.ended_at, dtmf = excluded.dtmf,
                    agent_user_id = COALESCE(excluded.agent_user_id, calls.agent_user_id),
                    failure = excluded.failure, blocked = excluded.blocked",
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
                c.agent_user_id,
                c.failure,
                c.blocked,
            ])?;
        if let Some(customer) = c.customer_id {
            // The directory searches customers by their latest call.
            self.store
                .conn
                .prepare_cached(
                    "UPDATE customers SET last_call_at = ?2
                      WHERE id = ?1 AND (last_call_at IS NULL OR last_call_at < ?2)",
                )?
                .execute(params![customer, c.started_at])?;
        }
        Ok(())
    }

    /// What a `call.ended` webhook tells: the record as stored (with the
    /// agent the hub wrote), and where its recording is played.
    fn ended_event(&self, c: &Cdr) -> Result<serde_json::Value> {
        let (agent, recording): (Option<String>, Option<i64>) = self
            .store
            .conn
            .prepare_cached(
                "SELECT u.username,
                        (SELECT r.id FROM recordings r WHERE r.call_uid = c.call_uid
                          ORDER BY r.id DESC LIMIT 1)
                 FROM calls c LEFT JOIN users u ON u.id = c.agent_user_id
                 WHERE c.call_uid = ?1",
            )?
            .query_row([&c.call_uid], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let talk_ms = c.answered_at.map(|a| (c.ended_at - a).max(0));
        Ok(serde_json::json!({
            "call_uid": c.call_uid,
            "line": c.line,
            "direction": c.direction,
            "outcome": c.outcome.as_str(),
            "number": {
                "e164": c.number_e164,
                "national": c.number_national,
                "raw": c.raw_number,
                "presentation": c.presentation,
            },
            "caller_name": c.caller_name,
            "customer_id": c.customer_id,
            "agent": agent,
            "started_at": c.started_at,
            "answered_at": c.answered_at,
            "ended_at": c.ended_at,
            "ring_count": c.ring_count,
            "talk_seconds": talk_ms.map(|t| t / 1000),
            "failure": c.failure,
            "recording": recording.map(|id| serde_json::json!({
                "id": id,
                "audio": format!("/api/recordings/{id}/audio"),
            })),
        }))
    }

    /// Calls, oldest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<CallRow>> {
        let mut stmt = self
            .store
            .conn
            .prepare_cached(&format!("{CALL_SELECT} ORDER BY started_at, id LIMIT ?1"))?;
        let rows = stmt.query_map([limit as i64], call_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A customer's latest calls, newest first: the history on a pop.
    pub fn customer_calls(&self, customer_id: i64, limit: usize) -> Result<Vec<CallRow>> {
        let mut stmt = self.store.conn.prepare_cached(&format!(
            "{CALL_SELECT} WHERE customer_id = ?1 ORDER BY started_at DESC, id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![customer_id, limit as i64], call_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Moves with every change to the blacklist (a trigger keeps it): a
    /// holder of [`CallBlocks`] reads the list again when it differs.
    pub fn call_blocks_version(&self) -> Result<i64> {
        Ok(self
            .store
            .conn
            .prepare_cached("SELECT version FROM call_blacklist_version WHERE id = 1")?
            .query_row([], |r| r.get(0))?)
    }

    /// Every blacklist entry, by number.
    pub fn call_blocks(&self) -> Result<Vec<CallBlock>> {
        let mut stmt = self
            .store
            .conn
            .prepare_cached(&format!("{BLOCK_SELECT} ORDER BY number"))?;
        let rows = stmt.query_map([], block_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds (or changes) an entry; its id.
    pub fn put_call_block(
        &self,
        entry: &NewCallBlock,
        by: Option<i64>,
        now_ms: i64,
    ) -> Result<i64> {
        if entry.number.is_empty() || !entry.number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StoreError::Invalid(format!(
                "{:?}: digits of a number or a prefix",
                entry.number
            )));
        }
        Ok(self
            .store
            .conn
            .prepare_cached(
                "INSERT INTO call_blacklist (number, is_prefix, reason, reject, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(number) DO UPDATE SET is_prefix = excluded.is_prefix,
                    reason = excluded.reason, reject = excluded.reject
                 RETURNING id",
            )?
            .query_row(
                params![entry.number, entry.prefix, entry.reason, entry.reject, by, now_ms],
                |r| r.get(0),
            )?)
    }

    /// Removes an entry; false when there was none.
    pub fn remove_call_block(&self, id: i64) -> Result<bool> {
        Ok(self
            .store
            .conn
            .prepare_cached("DELETE FROM call_blacklist WHERE id = ?1")?
            .execute([id])?
            == 1)
    }

    /// Records which agent took a call (the CDR may be written before or after).
    pub fn set_call_agent(&self, call_uid: &str, agent_id: i64) -> Result<()> {
        self.store
            .conn
            .prepare_cached("UPDATE calls SET agent_user_id = ?2 WHERE call_uid = ?1")?
            .execute(params![call_uid, agent_id])?;
        Ok(())
    }

    /// Records the customer an agent picked for a call (from a chooser, or
    /// just added for an unknown caller).
    pub fn set_call_customer(&self, call_uid: &str, customer_id: i64) -> Result<()> {
        self.store
            .conn
            .prepare_cached("UPDATE calls SET customer_id = ?2 WHERE call_uid = ?1")?
            .execute(params![call_uid, customer_id])?;
        Ok(())
    }

    /// The agent of a call (username and display name), as known now:
    /// the hub records who took a call after its record is written.
    pub fn agent_of(&self, call_uid: &str) -> Result<Option<(String, String)>> {
        Ok(self
            .store
            .conn
            .prepare_cached(
                "SELECT u.username, u.display_name FROM calls c
                 JOIN users u ON u.id = c.agent_user_id WHERE c.call_uid = ?1",
            )?
            .query_row([call_uid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// The store's id of a call, if its CDR is written.
    pub fn call_id(&self, call_uid: &str) -> Result<Option<i64>> {
        Ok(self
            .store
            .conn
            .prepare_cached("SELECT id FROM calls WHERE call_uid = ?1")?
            .query_row([call_uid], |r| r.get(0))
            .optional()?)
    }

    /// Who a stored call belongs to, for deciding who may act on it; `None`
    /// when there is no such call.
    pub fn call_reach(&self, call_uid: &str) -> Result<Option<CallReach>> {
        Ok(self
            .store
            .conn
            .prepare_cached(
                "SELECT c.agent_user_id, au.team, c.offered_to, ou.team, c.team,
                        c.customer_id, c.number_national,
                        COALESCE(c.number_e164, c.raw_number)
                 FROM calls c
                 LEFT JOIN users au ON au.id = c.agent_user_id
                 LEFT JOIN users ou ON ou.id = c.offered_to
                 WHERE c.call_uid = ?1",
            )?
            .query_row([call_uid], |r| {
                let user = |id: Option<i64>, team: Option<String>| id.map(|id| (id, team));
                Ok(CallReach {
                    users: [user(r.get(0)?, r.get(1)?), user(r.get(2)?, r.get(3)?)]
                        .into_iter()
                        .flatten()
                        .collect(),
                    team: r.get(4)?,
                    customer_id: r.get(5)?,
                    number_national: r.get(6)?,
                    callback_number: r.get(7)?,
                })
            })
            .optional()?)
    }

    /// Records how a finished call was routed: the agent of its line or its
    /// team (written by the pop hub, after the CDR).
    pub fn set_call_routing(
        &self,
        call_uid: &str,
        offered_to: Option<i64>,
        team: Option<&str>,
    ) -> Result<()> {
        self.store
            .conn
            .prepare_cached("UPDATE calls SET offered_to = ?2, team = ?3 WHERE call_uid = ?1")?
            .execute(rusqlite::params![call_uid, offered_to, team])?;
        Ok(())
    }

    /// The agent who took the call left after-call work at `at`.
    pub fn set_call_wrapup_end(&self, call_uid: &str, at: i64) -> Result<()> {
        self.store
            .conn
            .prepare_cached(
                "UPDATE calls SET wrapup_ended_at = ?2
                 WHERE call_uid = ?1 AND wrapup_ended_at IS NULL AND ended_at <= ?2",
            )?
            .execute(rusqlite::params![call_uid, at])?;
        Ok(())
    }
}

/// An inbound blacklist entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallBlock {
    pub id: i64,
    /// Digits as dialled nationally (trunk 0 for landlines).
    pub number: String,
    /// Every number starting so, not just this one.
    pub prefix: bool,
    pub reason: String,
    /// Refused on devices that can hang up; else the pop is marked.
    pub reject: bool,
    pub created_at: i64,
}

/// The inbound blacklist in memory, for the check of every caller on the
/// way to the pop (the call engine holds one, read again when
/// [`Calls::call_blocks_version`] moves).
#[derive(Debug, Clone, Default)]
pub struct CallBlocks {
    by_number: HashMap<String, CallBlock>,
}

impl CallBlocks {
    /// The list of `entries` (each number once, as the table keeps them).
    pub fn new(entries: Vec<CallBlock>) -> CallBlocks {
        CallBlocks {
            by_number: entries.into_iter().map(|b| (b.number.clone(), b)).collect(),
        }
    }

    /// The entry that covers a caller whose number is dialled nationally
    /// as `number`: the longest entry that equals it, or that is a prefix
    /// entry it starts with.
    pub fn covering(&self, number: &str) -> Option<&CallBlock> {
        (1..=number.len())
            .rev()
            .filter(|&n| number.is_char_boundary(n))
            .filter_map(|n| self.by_number.get(&number[..n]))
            .find(|b| b.prefix || b.number.len() == number.len())
    }
}

/// A blacklist entry to add.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCallBlock {
    pub number: String,
    #[serde(default)]
    pub prefix: bool,
    pub reason: String,
    #[serde(default = "yes")]
    pub reject: bool,
}

fn yes() -> bool {
    true
}

const BLOCK_SELECT: &str =
    "SELECT id, number, is_prefix, reason, reject, created_at FROM call_blacklist";

fn block_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CallBlock> {
    Ok(CallBlock {
        id: r.get(0)?,
        number: r.get(1)?,
        prefix: r.get(2)?,
        reason: r.get(3)?,
        reject: r.get(4)?,
        created_at: r.get(5)?,
    })
}

const CALL_SELECT: &str =
    "SELECT call_uid, line, device, direction, outcome, presentation, raw_number,
            number_e164, customer_id, match_rule, ring_count, started_at, first_ring_at,
            cid_at, answered_at, ended_at, dtmf, caller_name, agent_user_id, failure
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
        agent_user_id: r.get(18)?,
        failure: r.get(19)?,
    })
}

/// A search of the call history; every field narrows it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CallQuery {
    /// Started at or after, ms since the epoch.
    pub from: Option<i64>,
    /// Started before, ms since the epoch.
    pub to: Option<i64>,
    pub line: Option<String>,
    /// The username of the agent who took the call (or was offered it).
    pub agent: Option<String>,
    pub team: Option<String>,
    /// A national number (as [`crate::phone::Normalized::national`]):
    /// found through the number index.
    pub number_national: Option<String>,
    /// Digits anywhere in the number as it arrived; reads every call of the
    /// period, so give a date range with it.
    pub number_digits: Option<String>,
    pub customer_id: Option<i64>,
    /// inbound or outbound.
    pub direction: Option<String>,
    /// answered, missed, abandoned, outbound or unknown.
    pub outcome: Option<String>,
    /// The cursor of the previous page's last row.
    pub after: Option<String>,
    /// Rows a page (default 50, at most 1,000).
    pub limit: Option<u32>,
}

/// One call as the history lists it, with what it links to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    pub id: i64,
    pub call_uid: String,
    pub line: String,
    pub direction: String,
    pub outcome: Option<String>,
    pub presentation: String,
    pub number: Option<String>,
    pub caller_name: Option<String>,
    pub customer_id: Option<i64>,
    pub customer: Option<String>,
    /// The customer's owner: agents see other owners' numbers masked.
    pub customer_owner: Option<i64>,
    pub agent_id: Option<i64>,
    pub agent: Option<String>,
    pub team: Option<String>,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub wrapup_ended_at: Option<i64>,
    pub recording_id: Option<i64>,
    pub work_order_id: Option<i64>,
    pub work_orders: i64,
    /// The caller's 1–5 answer to the satisfaction survey (SMS).
    pub survey_score: Option<u8>,
    /// Where the number belongs (归属地), filled in by the web side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<crate::phone::geo::NumberInfo>,
}

impl HistoryRow {
    /// Where the next page starts.
    pub fn cursor(&self) -> String {
        format!("{}.{}", self.started_at, self.id)
    }

    /// Seconds from the first ring to the answer.
    pub fn wait_ms(&self) -> Option<i64> {
        self.answered_at.map(|a| a - self.started_at)
    }

    /// Talk time.
    pub fn talk_ms(&self) -> Option<i64> {
        Some(self.ended_at? - self.answered_at?)
    }

    /// After-call work.
    pub fn wrapup_ms(&self) -> Option<i64> {
        Some(self.wrapup_ended_at? - self.ended_at?)
    }
}

/// One page of the history and the cursor of the next, if there is one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPage {
    pub calls: Vec<HistoryRow>,
    pub next: Option<String>,
}

fn parse_cursor(s: &str) -> Result<(i64, i64)> {
    let bad = || StoreError::Invalid(format!("bad page cursor {s:?}"));
    let (t, id) = s.split_once('.').ok_or_else(bad)?;
    Ok((
        t.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}

/// A team's calls: routed to it, or taken by one of its agents. The one
/// rule for the history, recordings and work orders (`c` is the call).
pub(super) const TEAM_CALLS: &str =
    " AND (c.team = ? OR c.agent_user_id IN (SELECT id FROM users WHERE team = ?))";
/// An agent's calls: taken by them, or unanswered on a line bound to them.
pub(super) const AGENT_CALLS: &str =
    " AND (c.agent_user_id = ? OR (c.agent_user_id IS NULL AND c.offered_to = ?))";

const OUTCOMES: [&str; 10] = [
    "answered",
    "missed",
    "abandoned",
    "outbound",
    "unknown",
    "no_answer",
    "busy",
    "failed",
    "cancelled",
    "rejected",
];

impl Calls<'_> {
    /// One page of calls matching `q` within `scope`, newest first.
    pub fn search_calls(&self, q: &CallQuery, scope: &Scope) -> Result<HistoryPage> {
        let limit = q.limit.unwrap_or(50).clamp(1, 1000) as usize;
        let mut calls = Vec::with_capacity(limit + 1);
        self.each_call(q, scope, Some(limit + 1), |row| {
            calls.push(row);
            Ok(())
        })?;
        let next = if calls.len() > limit {
            calls.truncate(limit);
            calls.last().map(HistoryRow::cursor)
        } else {
            None
        };
        Ok(HistoryPage { calls, next })
    }

    /// Every call matching `q` within `scope`, newest first, handed to `f`
    /// one by one: exports stream through here without holding them all.
    pub fn each_call(
        &self,
        q: &CallQuery,
        scope: &Scope,
        limit: Option<usize>,
        mut f: impl FnMut(HistoryRow) -> Result<()>,
    ) -> Result<()> {
        let sql = String::from(
            "SELECT c.id, c.call_uid, c.line, c.direction, c.outcome, c.presentation,
                    COALESCE(c.raw_number, c.number_e164), c.caller_name, c.customer_id,
                    cu.name, cu.owner_user_id, c.agent_user_id, au.username,
                    COALESCE(c.team, au.team), c.started_at, c.answered_at, c.ended_at,
                    c.wrapup_ended_at,
                    (SELECT max(r.id) FROM recordings r WHERE r.call_uid = c.call_uid),
                    (SELECT min(w.id) FROM work_orders w WHERE w.call_uid = c.call_uid),
                    (SELECT count(*) FROM work_orders w WHERE w.call_uid = c.call_uid),
                    c.survey_score
             FROM calls c {index}
             LEFT JOIN users au ON au.id = c.agent_user_id
             LEFT JOIN customers cu ON cu.id = c.customer_id
             WHERE 1 = 1",
        );
        // Without a number or a customer to look up, the newest calls are
        // found by walking the start-time index backwards, which covers the
        // scope's columns; left to itself SQLite would gather all of an
        // agent's calls through the OR of two indexes and sort them.
        let selective = nonempty(&q.number_national).is_some() || q.customer_id.is_some();
        let index = if selective {
            ""
        } else {
            "INDEXED BY calls_started"
        };
        let mut w = Filters::new(sql.replace("{index}", index));
        match scope {
            Scope::All => {}
            Scope::Team(t) => w.and(TEAM_CALLS, t.clone()),
            Scope::Agent(id) => w.and(AGENT_CALLS, *id),
            Scope::None => return Ok(()),
        }
        if let Some(v) = q.from {
            w.and(" AND c.started_at >= ?", v);
        }
        if let Some(v) = q.to {
            w.and(" AND c.started_at < ?", v);
        }
        if let Some(v) = nonempty(&q.line) {
            w.and(" AND c.line = ?", v);
        }
        if let Some(v) = nonempty(&q.agent) {
            w.and(
                &AGENT_CALLS.replace('?', "(SELECT id FROM users WHERE username = ?)"),
                v,
            );
        }
        if let Some(v) = nonempty(&q.team) {
            w.and(TEAM_CALLS, v);
        }
        if let Some(v) = nonempty(&q.number_national) {
            w.and(" AND c.number_national = ?", v);
        }
        if let Some(v) = nonempty(&q.number_digits) {
            let digits: String = v.chars().filter(char::is_ascii_digit).collect();
            if digits.is_empty() {
                return Err(StoreError::Invalid(format!(
                    "the number {v:?} has no digits"
                )));
            }
            w.and(" AND instr(c.raw_number, ?) > 0", digits);
        }
        if let Some(v) = q.customer_id {
            w.and(" AND c.customer_id = ?", v);
        }
        if let Some(v) = nonempty(&q.direction) {
            if v != "inbound" && v != "outbound" {
                return Err(StoreError::Invalid(format!(
                    "direction {v:?}: inbound or outbound"
                )));
            }
            w.and(" AND c.direction = ?", v);
        }
        if let Some(v) = nonempty(&q.outcome) {
            if !OUTCOMES.contains(&v.as_str()) {
                return Err(StoreError::Invalid(format!(
                    "outcome {v:?}: one of {}",
                    OUTCOMES.join(", ")
                )));
            }
            w.and(" AND c.outcome = ?", v);
        }
        if let Some(cursor) = nonempty(&q.after) {
            let (t, id) = parse_cursor(&cursor)?;
            // The first term bounds the index range; the second steps past
            // the rows of the same millisecond already shown.
            w.and(" AND c.started_at <= ?", t);
            w.and(" AND (c.started_at < ?", t);
            w.and(" OR c.id < ?)", id);
        }
        w.sql.push_str(" ORDER BY c.started_at DESC, c.id DESC");
        if let Some(n) = limit {
            w.sql.push_str(&format!(" LIMIT {n}"));
        }
        let mut stmt = self.store.conn.prepare_cached(&w.sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(w.args))?;
        while let Some(r) = rows.next()? {
            f(HistoryRow {
                id: r.get(0)?,
                call_uid: r.get(1)?,
                line: r.get(2)?,
                direction: r.get(3)?,
                outcome: r.get(4)?,
                presentation: r.get(5)?,
                number: r.get(6)?,
                caller_name: r.get(7)?,
                customer_id: r.get(8)?,
                customer: r.get(9)?,
                customer_owner: r.get(10)?,
                agent_id: r.get(11)?,
                agent: r.get(12)?,
                team: r.get(13)?,
                started_at: r.get(14)?,
                answered_at: r.get(15)?,
                ended_at: r.get(16)?,
                wrapup_ended_at: r.get(17)?,
                recording_id: r.get(18)?,
                work_order_id: r.get(19)?,
                work_orders: r.get(20)?,
                survey_score: r.get(21)?,
                info: None,
            })?;
        }
        Ok(())
    }
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(number: &str, prefix: bool) -> NewCallBlock {
        NewCallBlock {
            number: number.into(),
            prefix,
            reason: format!("r{number}"),
            reject: true,
        }
    }

    #[test]
    fn the_longest_entry_that_covers_a_caller_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let c = store.calls();
        for (number, prefix) in [
            ("170", true),
            ("1701234", true),
            ("13800138000", false),
            ("138", false),
            ("0755", true),
        ] {
            c.put_call_block(&entry(number, prefix), None, 1).unwrap();
        }
        let list = CallBlocks::new(c.call_blocks().unwrap());
        let covering = |n: &str| list.covering(n).map(|b| b.number.clone());
        assert_eq!(covering("13800138000").as_deref(), Some("13800138000"));
        // A whole-number entry covers that number only, not its extensions
        // nor the numbers it starts.
        assert_eq!(covering("138001380001"), None);
        assert_eq!(covering("13812345678"), None);
        assert_eq!(covering("138").as_deref(), Some("138"));
        // Prefix entries cover every number they start; the longest wins.
        assert_eq!(covering("17012345678").as_deref(), Some("1701234"));
        assert_eq!(covering("17099999999").as_deref(), Some("170"));
        assert_eq!(covering("075586013388").as_deref(), Some("0755"));
        assert_eq!(covering("07").as_deref(), None);
        assert_eq!(covering(""), None);
    }

    #[test]
    fn every_change_to_the_blacklist_moves_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let c = store.calls();
        let mut seen = vec![c.call_blocks_version().unwrap()];
        let id = c.put_call_block(&entry("170", true), None, 1).unwrap();
        seen.push(c.call_blocks_version().unwrap());
        // The same number again changes the entry in place.
        c.put_call_block(&entry("170", false), None, 2).unwrap();
        seen.push(c.call_blocks_version().unwrap());
        assert!(c.remove_call_block(id).unwrap());
        seen.push(c.call_blocks_version().unwrap());
        assert!(seen.windows(2).all(|w| w[1] > w[0]), "{seen:?}");
        // Other writes leave it alone.
        store
            .users()
            .add_user("a", "A", crate::store::Role::Agent, None, None)
            .unwrap();
        assert_eq!(c.call_blocks_version().unwrap(), *seen.last().unwrap());
    }
}
