//! Users: the people who log in, own customers and take calls.

use super::{now_ms, Result, Store, StoreError};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// What a user may do; enforced on the server, never only in the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    TeamLead,
    Qa,
    Marketer,
    Admin,
}

impl Role {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::TeamLead => "team_lead",
            Role::Qa => "qa",
            Role::Marketer => "marketer",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Role, String> {
        Ok(match s {
            "agent" => Role::Agent,
            "team_lead" => Role::TeamLead,
            "qa" => Role::Qa,
            "marketer" => Role::Marketer,
            "admin" => Role::Admin,
            other => return Err(format!("unknown role {other:?}")),
        })
    }
}

/// A user as the rest of callpop sees it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub team: Option<String>,
    pub disabled: bool,
}

impl Store {
    /// Adds a user; the username must be new.
    pub fn add_user(
        &self,
        username: &str,
        display_name: &str,
        role: Role,
        team: Option<&str>,
        password_hash: Option<&str>,
    ) -> Result<i64> {
        if username.trim().is_empty() {
            return Err(StoreError::Invalid("a username cannot be empty".into()));
        }
        if self.user_by_name(username)?.is_some() {
            return Err(StoreError::Invalid(format!(
                "user {username:?} already exists"
            )));
        }
        let now = now_ms();
        self.conn.execute(
            "INSERT INTO users (username, display_name, role, team, password_hash, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![username, display_name, role.as_str(), team, password_hash, now],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Finds a user by login name.
    pub fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, username, display_name, role, team, disabled FROM users WHERE username = ?1",
            )?
            .query_row([username], user_from_row)
            .optional()?)
    }
}

/// A user from `id, username, display_name, role, team, disabled`.
pub(super) fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(3)?;
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        // The CHECK constraint admits only known roles; the least powerful
        // is the safe reading of anything else.
        role: role.parse().unwrap_or(Role::Agent),
        team: r.get(4)?,
        disabled: r.get(5)?,
    })
}

/// Whose calls and recordings a user may see: quality checkers and admins
/// all, team leads their team's, agents their own (a team lead without a
/// team is treated as an agent), marketers none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Team(String),
    Agent(i64),
    None,
}

impl Scope {
    /// The one rule, shared by the recordings and the call history.
    pub fn of(user: &User) -> Scope {
        match (user.role, &user.team) {
            (Role::Qa | Role::Admin, _) => Scope::All,
            (Role::TeamLead, Some(team)) => Scope::Team(team.clone()),
            (Role::TeamLead | Role::Agent, _) => Scope::Agent(user.id),
            (Role::Marketer, _) => Scope::None,
        }
    }
}
