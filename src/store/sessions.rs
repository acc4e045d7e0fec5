//! Login sessions, passwords, line bindings and agent states: what the web
//! side needs to know who is asking and where a call pops.

use super::{now_ms, users::user_from_row, Result, Store, StoreError, User};
use rusqlite::{params, OptionalExtension};
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

impl Store {
    /// The user and password hash for a login attempt; disabled users are not found.
    pub fn login_user(&self, username: &str) -> Result<Option<(User, Option<String>)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, username, display_name, role, team, disabled, password_hash
                 FROM users WHERE username = ?1 AND NOT disabled",
            )?
            .query_row([username], |r| Ok((user_from_row(r)?, r.get(6)?)))
            .optional()?)
    }

    /// Replaces a user's password hash.
    pub fn set_password_hash(&self, username: &str, hash: &str) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE username = ?1",
            params![username, hash, now_ms()],
        )?;
        if n == 0 {
            return Err(StoreError::Invalid(format!("no user {username:?}")));
        }
        Ok(())
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, username, display_name, role, team, disabled FROM users ORDER BY username",
        )?;
        let rows = stmt.query_map([], user_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Starts a session; the caller keeps the token, the store its hash.
    pub fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        expires_at: i64,
        remote: Option<&str>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, remote)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![token_hash, user_id, now_ms(), expires_at, remote])?;
        Ok(())
    }

    /// The user of a live session; expired sessions and disabled users give none.
    pub fn session_user(&self, token_hash: &str) -> Result<Option<User>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT u.id, u.username, u.display_name, u.role, u.team, u.disabled
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND NOT u.disabled",
            )?
            .query_row(params![token_hash, now_ms()], user_from_row)
            .optional()?)
    }

    /// Ends a session (logout) and forgets expired ones.
    pub fn end_session(&self, token_hash: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM sessions WHERE token_hash = ?1 OR expires_at <= ?2",
            params![token_hash, now_ms()],
        )?;
        Ok(())
    }

    /// Binds a line; an agent binding names an existing user.
    pub fn bind_line(&self, line: &str, binding: &Binding) -> Result<()> {
        let (agent, team) = match binding {
            Binding::Agent(name) => {
                let user = self
                    .user_by_name(name)?
                    .ok_or_else(|| StoreError::Invalid(format!("no user {name:?}")))?;
                (Some(user.id), None)
            }
            Binding::Team(team) => (None, Some(team.as_str())),
        };
        self.conn.execute(
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
            .conn
            .execute("DELETE FROM line_bindings WHERE line = ?1", [line])?
            > 0)
    }

    /// Every binding, by line.
    pub fn line_bindings(&self) -> Result<Vec<(String, Binding)>> {
        let mut stmt = self.conn.prepare_cached(
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

    /// Records a state change at `at` (ms).
    pub fn record_agent_state(
        &self,
        user_id: i64,
        state: AgentState,
        reason: Option<&str>,
        at: i64,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO agent_states (user_id, state, reason, at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![user_id, state.as_str(), reason, at])?;
        Ok(())
    }

    /// Each user's latest state, reason and since when.
    pub fn latest_agent_states(&self) -> Result<Vec<AgentStateRow>> {
        let mut stmt = self.conn.prepare_cached(
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
