//! The raw rows statistics are computed from (see `crate::reports::stats`):
//! a period's calls read from the one index that covers them, the agents'
//! state changes, and the work orders' save times.

use super::{AgentState, Result, Store};
use crate::reports::stats::{AgentInfo, CallFact, RawData, StateSpan};
use std::collections::HashMap;

/// (state, count) rows.
pub type StateCounts = Vec<(String, i64)>;

impl Store {
    /// Every call, state span and work order of [from, to); `now` ends the
    /// state each agent is still in.
    pub fn report_data(&self, from: i64, to: i64, now: i64) -> Result<RawData> {
        let mut data = RawData::default();
        self.each_call_fact(from, to, |c| data.calls.push(c))?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, username, team FROM users")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            data.agents.insert(
                r.get(0)?,
                AgentInfo {
                    username: r.get(1)?,
                    team: r.get(2)?,
                },
            );
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT agent_user_id, created_at FROM work_orders
             WHERE created_at >= ?1 AND created_at < ?2",
        )?;
        let mut rows = stmt.query([from, to])?;
        while let Some(r) = rows.next()? {
            data.work_orders.push((r.get(0)?, r.get(1)?));
        }
        data.states = self.state_spans(from, to, now)?;
        Ok(data)
    }

    /// SMS parts and recordings by state, for the metrics (both counted
    /// on their state indexes).
    pub fn state_counts(&self) -> Result<(StateCounts, StateCounts)> {
        let read = |sql: &str| -> Result<StateCounts> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        };
        Ok((
            read("SELECT state, count(*) FROM sms_parts GROUP BY state")?,
            read("SELECT state, count(*) FROM recordings GROUP BY state")?,
        ))
    }

    /// Calls that started in [from, to) by outcome: the wallboard's
    /// counters when the daemon starts mid-day.
    pub fn outcome_counts(&self, from: i64, to: i64) -> Result<crate::pop::wallboard::Today> {
        let mut today = crate::pop::wallboard::Today {
            day_start: from,
            ..Default::default()
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT outcome, count(*) FROM calls INDEXED BY calls_started
             WHERE started_at >= ?1 AND started_at < ?2 AND outcome IS NOT NULL GROUP BY outcome",
        )?;
        let mut rows = stmt.query([from, to])?;
        while let Some(r) = rows.next()? {
            let (outcome, n): (String, i64) = (r.get(0)?, r.get(1)?);
            today.count(&outcome, n.unsigned_abs());
        }
        Ok(today)
    }

    /// The calls that started in [from, to), in start order, from the
    /// covering index alone.
    pub fn each_call_fact(&self, from: i64, to: i64, mut f: impl FnMut(CallFact)) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT started_at, direction, outcome, line, agent_user_id, offered_to, team,
                    answered_at, ended_at, wrapup_ended_at
             FROM calls INDEXED BY calls_started
             WHERE started_at >= ?1 AND started_at < ?2",
        )?;
        let mut rows = stmt.query([from, to])?;
        while let Some(r) = rows.next()? {
            f(CallFact {
                started_at: r.get(0)?,
                inbound: r.get_ref(1)?.as_str().is_ok_and(|d| d == "inbound"),
                outcome: r.get(2)?,
                line: r.get(3)?,
                agent: r.get(4)?,
                offered_to: r.get(5)?,
                team: r.get(6)?,
                answered_at: r.get(7)?,
                ended_at: r.get(8)?,
                wrapup_ended_at: r.get(9)?,
            });
        }
        Ok(())
    }

    /// Each agent's states overlapping [from, to): the state in force at
    /// `from` (its last change before), and every change up to `to`; a
    /// state lasts until the next change, or `now`.
    fn state_spans(&self, from: i64, to: i64, now: i64) -> Result<Vec<StateSpan>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT user_id, state, at FROM (
                 SELECT s.user_id, s.state, s.at, s.id FROM agent_states s
                 WHERE s.id IN (SELECT (SELECT p.id FROM agent_states p
                                        WHERE p.user_id = u.id AND p.at < ?1
                                        ORDER BY p.at DESC, p.id DESC LIMIT 1)
                                FROM users u)
                 UNION ALL
                 SELECT user_id, state, at, id FROM agent_states WHERE at >= ?1 AND at < ?2)
             ORDER BY user_id, at, id",
        )?;
        let mut rows = stmt.query([from, to])?;
        let mut open: HashMap<i64, (AgentState, i64)> = HashMap::new();
        let mut spans = Vec::new();
        while let Some(r) = rows.next()? {
            let (user, state, at): (i64, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let next = (AgentState::parse(&state), at);
            if let Some((prev, since)) = open.insert(user, next) {
                if prev == AgentState::Offline {
                    continue;
                }
                spans.push(StateSpan {
                    user,
                    state: prev,
                    from: since,
                    to: at,
                });
            }
        }
        for (user, (state, since)) in open {
            if state != AgentState::Offline {
                spans.push(StateSpan {
                    user,
                    state,
                    from: since,
                    to: now.min(to).max(since),
                });
            }
        }
        Ok(spans)
    }
}
