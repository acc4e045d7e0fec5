//! Line bindings and agent states: where a call pops, and the log of each
//! agent's states that the hub restores and reports count.

use super::{now_ms, Result, Store, StoreError};
use rusqlite::params;
use serde::{Deserialize, Serialize};

/// Where a line pops: on one agent's desktops, or on every ready agent of a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Binding {
    Agent(String),
    Team(String),
}

pub use crate::domain::AgentState;

/// A user's state as last recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStateRow {
    pub user_id: i64,
    pub state: AgentState,
    pub reason: Option<String>,
    pub since: i64,
}

/// Where lines pop and what agents are doing: line bindings and the log of
/// agents' states.
///
/// A view of a [`Store`], from [`Store::agents`]; cheap to copy.
#[derive(Clone, Copy)]
pub struct Agents<'a> {
    pub(super) store: &'a Store,
}

impl Agents<'_> {
    /// Binds a line; an agent binding names an existing user.
    pub fn bind_line(&self, line: &str, binding: &Binding) -> Result<()> {
        let (agent, team) = match binding {
            Binding::Agent(name) => {
                let user = self
                    .store
                    .users()
                    .user_by_name(name)?
                    .ok_or_else(|| StoreError::Invalid(format!("no user {name:?}")))?;
                (Some(user.id), None)
            }
            Binding::Team(team) => (None, Some(team.as_str())),
        };
        self.store.conn.execute(
            "INSERT INTO line_bindings (line, agent_id, team, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(line) DO UPDATE SET agent_id = excluded.agent_id, team = excluded.team,
                                             updated_at = excluded.updated_at",
            params![line, agent, team, now_ms()],
        )?;
        Ok(())
    }

    /// Removes a line's binding; true if it had one.
    pub fn unbind_line(&self, line: &str) -> Result<bool> {
        Ok(self
            .store
            .conn
            .execute("DELETE FROM line_bindings WHERE line = ?1", [line])?
            > 0)
    }

    /// Every binding, by line.
    pub fn line_bindings(&self) -> Result<Vec<(String, Binding)>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT b.line, u.username, b.team FROM line_bindings b
             LEFT JOIN users u ON u.id = b.agent_id ORDER BY b.line",
        )?;
        let rows = stmt.query_map([], |r| {
            let line: String = r.get(0)?;
            let agent: Option<String> = r.get(1)?;
            let team: Option<String> = r.get(2)?;
            Ok((line, agent, team))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (line, agent, team) = row?;
            match (agent, team) {
                (Some(a), _) => out.push((line, Binding::Agent(a))),
                (None, Some(t)) => out.push((line, Binding::Team(t))),
                (None, None) => {}
            }
        }
        Ok(out)
    }

    /// Sets `team`'s pool of lines for outbound calls, in the order they
    /// are tried (empty: the team has none).
    pub fn set_dial_pool(&self, team: &str, lines: &[String]) -> Result<()> {
        let tx = self.store.conn.unchecked_transaction()?;
        tx.execute("DELETE FROM dial_pools WHERE team = ?1", [team])?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO dial_pools (team, line, position) VALUES (?1, ?2, ?3)",
            )?;
            for (i, line) in lines.iter().enumerate() {
                insert.execute(params![team, line, i as i64])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every team's pool of lines for outbound calls, lines in order.
    pub fn dial_pools(&self) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
        let mut stmt = self
            .store
            .conn
            .prepare_cached("SELECT team, line FROM dial_pools ORDER BY team, position")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for row in rows {
            let (team, line) = row?;
            out.entry(team).or_default().push(line);
        }
        Ok(out)
    }

    /// Records a state change at `at` (ms).
    pub fn record_agent_state(
        &self,
        user_id: i64,
        state: AgentState,
        reason: Option<&str>,
        at: i64,
    ) -> Result<()> {
        self.store
            .conn
            .prepare_cached(
                "INSERT INTO agent_states (user_id, state, reason, at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![user_id, state.as_str(), reason, at])?;
        Ok(())
    }

    /// Each user's latest state, reason and since when.
    pub fn latest_agent_states(&self) -> Result<Vec<AgentStateRow>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT a.user_id, a.state, a.reason, a.at FROM agent_states a
             WHERE a.id = (SELECT max(id) FROM agent_states b WHERE b.user_id = a.user_id)",
        )?;
        let rows = stmt.query_map([], |r| {
            let state: String = r.get(1)?;
            Ok(AgentStateRow {
                user_id: r.get(0)?,
                state: AgentState::parse(&state),
                reason: r.get(2)?,
                since: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
