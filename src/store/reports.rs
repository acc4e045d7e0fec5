//! The raw rows statistics are computed from (see `crate::reports::stats`):
//! a period's calls read from the one index that covers them, the agents'
//! state changes, and the work orders' save times.

use super::{AgentState, Result, Store};
use rusqlite::OptionalExtension;
use std::collections::HashMap;

/// (state, count) rows.
pub type StateCounts = Vec<(String, i64)>;

/// A call as statistics see it; its text borrowed from wherever it is
/// read (a database row), so a month of calls is counted without copying.
#[derive(Debug, Clone, PartialEq)]
pub struct CallFact<'a> {
    pub started_at: i64,
    pub inbound: bool,
    /// answered, missed, abandoned, outbound, unknown (or none yet).
    pub outcome: Option<&'a str>,
    pub line: &'a str,
    pub agent: Option<i64>,
    pub offered_to: Option<i64>,
    pub team: Option<&'a str>,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub wrapup_ended_at: Option<i64>,
    /// The caller was on the inbound blacklist (rejected or popped marked).
    pub blocked: bool,
    /// The caller's 1–5 answer to the satisfaction survey.
    pub survey_score: Option<u8>,
}

/// A missed-call item of the call-back queue as statistics see it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackFact<'a> {
    /// When the first missed call of the item rang, ms.
    pub created_at: i64,
    pub line: &'a str,
    /// Who claimed or called it back.
    pub agent: Option<i64>,
    /// The first call-back dialled, ms.
    pub first_called_at: Option<i64>,
    /// The caller called again and was answered before anyone called back.
    pub answered_again: bool,
}

/// An agent in one state from `from` to `to` (ms).
#[derive(Debug, Clone, PartialEq)]
pub struct StateSpan {
    pub user: i64,
    pub state: AgentState,
    pub from: i64,
    pub to: i64,
}

/// Who an agent is, for naming rows and finding their team.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentInfo {
    pub username: String,
    pub team: Option<String>,
}

/// The raw rows statistics are made from, streamed one by one so reports
/// run in bounded memory, and the few counts the wallboard shows.
///
/// A view of a [`Store`], from [`Store::reports`]; cheap to copy.
#[derive(Clone, Copy)]
pub struct Reports<'a> {
    pub(super) store: &'a Store,
}

impl Reports<'_> {
    /// Every user's name and team, by id.
    pub fn agent_infos(&self) -> Result<HashMap<i64, AgentInfo>> {
        let mut stmt = self
            .store
            .conn
            .prepare_cached("SELECT id, username, team FROM users")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                AgentInfo {
                    username: r.get(1)?,
                    team: r.get(2)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The agent and save time of each work order saved in [from, to).
    pub fn each_work_order(
        &self,
        from: i64,
        to: i64,
        mut f: impl FnMut(Option<i64>, i64),
    ) -> Result<()> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT agent_user_id, created_at FROM work_orders
             WHERE created_at >= ?1 AND created_at < ?2",
        )?;
        let mut rows = stmt.query([from, to])?;
        while let Some(r) = rows.next()? {
            f(r.get(0)?, r.get(1)?);
        }
        Ok(())
    }

    /// SMS parts and recordings by state, for the metrics (both counted
    /// on their state indexes).
    pub fn state_counts(&self) -> Result<(StateCounts, StateCounts)> {
        let read = |sql: &str| -> Result<StateCounts> {
            let mut stmt = self.store.conn.prepare_cached(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        };
        Ok((
            read("SELECT state, count(*) FROM sms_parts GROUP BY state")?,
            read("SELECT state, count(*) FROM recordings GROUP BY state")?,
        ))
    }

    /// Calls that started in [from, to) by outcome, as (outcome, count):
    /// the wallboard's counters when the daemon starts mid-day.
    pub fn outcome_counts(&self, from: i64, to: i64) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT CASE WHEN direction = 'outbound' THEN 'outbound' ELSE outcome END, count(*)
             FROM calls INDEXED BY calls_started
             WHERE started_at >= ?1 AND started_at < ?2 AND outcome IS NOT NULL GROUP BY 1",
        )?;
        let rows = stmt.query_map([from, to], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.unsigned_abs()))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The calls that started in [from, to), in start order, from the
    /// covering index alone.
    pub fn each_call_fact(
        &self,
        from: i64,
        to: i64,
        mut f: impl FnMut(CallFact<'_>),
    ) -> Result<()> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT started_at, direction, outcome, line, agent_user_id, offered_to, team,
                    answered_at, ended_at, wrapup_ended_at, blocked IS NOT NULL, survey_score
             FROM calls INDEXED BY calls_started
             WHERE started_at >= ?1 AND started_at < ?2",
        )?;
        let mut rows = stmt.query([from, to])?;
        while let Some(r) = rows.next()? {
            let text = |i| -> Result<Option<&str>> {
                Ok(r.get_ref(i)?
                    .as_str_or_null()
                    .map_err(rusqlite::Error::from)?)
            };
            f(CallFact {
                started_at: r.get(0)?,
                inbound: text(1)? == Some("inbound"),
                outcome: text(2)?,
                line: text(3)?.unwrap_or(""),
                agent: r.get(4)?,
                offered_to: r.get(5)?,
                team: text(6)?,
                answered_at: r.get(7)?,
                ended_at: r.get(8)?,
                wrapup_ended_at: r.get(9)?,
                blocked: r.get(10)?,
                survey_score: r.get(11)?,
            });
        }
        Ok(())
    }

    /// The call-back queue's missed-call items created in [from, to).
    pub fn each_callback(
        &self,
        from: i64,
        to: i64,
        mut f: impl FnMut(CallbackFact<'_>),
    ) -> Result<()> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT created_at, line, COALESCE(claimed_by, closed_by), first_called_at,
                    first_called_at IS NULL AND close_reason IS 'answered_again'
             FROM followups INDEXED BY followups_created
             WHERE kind = 'missed' AND created_at >= ?1 AND created_at < ?2",
        )?;
        let mut rows = stmt.query([from, to])?;
        while let Some(r) = rows.next()? {
            f(CallbackFact {
                created_at: r.get(0)?,
                line: r
                    .get_ref(1)?
                    .as_str_or_null()
                    .map_err(rusqlite::Error::from)?
                    .unwrap_or(""),
                agent: r.get(2)?,
                first_called_at: r.get(3)?,
                answered_again: r.get(4)?,
            });
        }
        Ok(())
    }

    /// Each agent's states overlapping [from, to): the state in force at
    /// `from` (its last change before), and every change up to `to`; a
    /// state lasts until the next change, or `now`. Read in time order
    /// from a covering index, so nothing is sorted.
    pub fn each_state_span(
        &self,
        from: i64,
        to: i64,
        now: i64,
        mut f: impl FnMut(StateSpan),
    ) -> Result<()> {
        let mut open: HashMap<i64, (AgentState, i64)> = HashMap::new();
        let mut before = self.store.conn.prepare_cached(
            "SELECT state, at FROM agent_states WHERE user_id = ?1 AND at < ?2
             ORDER BY at DESC, id DESC LIMIT 1",
        )?;
        let users: Vec<i64> = self
            .store
            .conn
            .prepare_cached("SELECT id FROM users")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for user in users {
            let prior: Option<(String, i64)> = before
                .query_row(rusqlite::params![user, from], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((state, at)) = prior {
                open.insert(user, (AgentState::parse(&state), at));
            }
        }
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT user_id, state, at FROM agent_states INDEXED BY agent_states_at
             WHERE at >= ?1 AND at < ?2 ORDER BY at",
        )?;
        let mut rows = stmt.query([from, to])?;
        while let Some(r) = rows.next()? {
            let (user, at): (i64, i64) = (r.get(0)?, r.get(2)?);
            let next = (AgentState::parse(r.get_ref(1)?.as_str().unwrap_or("")), at);
            if let Some((prev, since)) = open.insert(user, next) {
                if prev != AgentState::Offline {
                    f(StateSpan {
                        user,
                        state: prev,
                        from: since,
                        to: at,
                    });
                }
            }
        }
        for (user, (state, since)) in open {
            if state != AgentState::Offline {
                f(StateSpan {
                    user,
                    state,
                    from: since,
                    to: now.min(to).max(since),
                });
            }
        }
        Ok(())
    }
}
