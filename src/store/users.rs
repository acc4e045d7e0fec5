//! Users: the people who log in, own customers and take calls; their
//! roles and extra permissions, login sessions, and the audit log of who did
//! what, when and from where.

use super::{now_ms, Result, Store, StoreError};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// What a user may do; enforced on the server, never only in the page.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, utoipa::ToSchema,
)]
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

/// What an admin may change of a user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
pub struct UserUpdate {
    pub display_name: String,
    pub role: Role,
    pub team: Option<String>,
    pub disabled: bool,
}

/// Permissions a user can be granted (sql/0009_history_reports.sql).
pub const PERMISSIONS: [&str; 1] = ["calls.export"];

/// Who may do what: users, roles' extra permissions, login sessions and the
/// audit log.
///
/// A view of a [`Store`], from [`Store::users`]; cheap to copy.
#[derive(Clone, Copy)]
pub struct Users<'a> {
    pub(super) store: &'a Store,
}

impl Users<'_> {
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
        self.store.conn.execute(
            "INSERT INTO users (username, display_name, role, team, password_hash, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![username, display_name, role.as_str(), team, password_hash, now],
        )?;
        Ok(self.store.conn.last_insert_rowid())
    }

    /// Finds a user by login name.
    pub fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        Ok(self.store
            .conn
            .prepare_cached(
                "SELECT id, username, display_name, role, team, disabled FROM users WHERE username = ?1",
            )?
            .query_row([username], user_from_row)
            .optional()?)
    }

    /// The user and password hash for a login attempt; disabled users are not found.
    pub fn login_user(&self, username: &str) -> Result<Option<(User, Option<String>)>> {
        Ok(self
            .store
            .conn
            .prepare_cached(
                "SELECT id, username, display_name, role, team, disabled, password_hash
                 FROM users WHERE username = ?1 AND NOT disabled",
            )?
            .query_row([username], |r| Ok((user_from_row(r)?, r.get(6)?)))
            .optional()?)
    }

    /// Replaces a user's password hash.
    ///
    /// Every login session of that user ends with it (a stolen cookie must
    /// not survive a reset), except `keep`: the session (token hash) of a
    /// user who changes their own password. Returns how many ended.
    pub fn set_password_hash(&self, username: &str, hash: &str, keep: Option<&str>) -> Result<u64> {
        self.store.in_transaction(|s| {
            let conn = &s.conn;
            let n = conn.execute(
                "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE username = ?1",
                params![username, hash, now_ms()],
            )?;
            if n == 0 {
                return Err(StoreError::Invalid(format!("no user {username:?}")));
            }
            let ended = conn.execute(
                "DELETE FROM sessions WHERE token_hash IS NOT ?2
                   AND user_id = (SELECT id FROM users WHERE username = ?1)",
                params![username, keep],
            )?;
            Ok(ended as u64)
        })
    }

    /// Changes a user's name shown, role, team and whether they may log
    /// in; `None` when there is no such user. When the role, the team or
    /// the right to log in changes, every session of the user ends (what
    /// they may reach changed under them). Returns the user as changed and
    /// whether their sessions ended.
    pub fn update_user(&self, username: &str, change: &UserUpdate) -> Result<Option<(User, bool)>> {
        let Some(before) = self.user_by_name(username)? else {
            return Ok(None);
        };
        if change.display_name.trim().is_empty() {
            return Err(StoreError::Invalid("a display name cannot be empty".into()));
        }
        let team = change
            .team
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        self.store.in_transaction(|s| {
            s.conn.execute(
                "UPDATE users SET display_name = ?2, role = ?3, team = ?4, disabled = ?5, updated_at = ?6
                  WHERE username = ?1",
                params![
                    username,
                    change.display_name.trim(),
                    change.role.as_str(),
                    team,
                    change.disabled,
                    now_ms()
                ],
            )?;
            let reach_changed = before.role != change.role
                || before.team.as_deref() != team
                || (change.disabled && !before.disabled);
            if reach_changed {
                s.conn.execute("DELETE FROM sessions WHERE user_id = ?1", [before.id])?;
            }
            let after = s.users().user_by_name(username)?.expect("just updated");
            Ok(Some((after, reach_changed)))
        })
    }

    /// The permissions granted to a user beyond their role.
    pub fn permissions_of(&self, user_id: i64) -> Result<Vec<String>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT permission FROM user_permissions WHERE user_id = ?1 ORDER BY permission",
        )?;
        let rows = stmt.query_map([user_id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every user, by name.
    pub fn all(&self) -> Result<Vec<User>> {
        let mut stmt = self.store.conn.prepare_cached(
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
        self.store
            .conn
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
            .store
            .conn
            .prepare_cached(
                "SELECT u.id, u.username, u.display_name, u.role, u.team, u.disabled
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND NOT u.disabled",
            )?
            .query_row(params![token_hash, now_ms()], user_from_row)
            .optional()?)
    }

    /// The user of a live session that has not been idle for `idle_ms`
    /// (0: no idle limit), marking it used now (at most once a minute, so
    /// a busy session costs one write a minute).
    pub fn use_session(&self, token_hash: &str, now: i64, idle_ms: i64) -> Result<Option<User>> {
        let idle_floor = if idle_ms > 0 { now - idle_ms } else { i64::MIN };
        let user = self
            .store
            .conn
            .prepare_cached(
                "SELECT u.id, u.username, u.display_name, u.role, u.team, u.disabled
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND NOT u.disabled
                   AND COALESCE(s.last_seen_at, s.created_at) > ?3",
            )?
            .query_row(params![token_hash, now, idle_floor], user_from_row)
            .optional()?;
        if user.is_some() {
            // Marking it used must not lock a user out when the disk is full.
            let marked = self
                .store
                .conn
                .prepare_cached(
                    "UPDATE sessions SET last_seen_at = ?2
                     WHERE token_hash = ?1 AND COALESCE(last_seen_at, created_at) < ?2 - 60000",
                )
                .and_then(|mut s| s.execute(params![token_hash, now]));
            if let Err(e) = marked {
                tracing::warn!(error = %e, "could not mark a session used");
            }
        }
        Ok(user)
    }

    /// Ends a session (logout) and forgets expired ones.
    pub fn end_session(&self, token_hash: &str) -> Result<()> {
        self.store.conn.execute(
            "DELETE FROM sessions WHERE token_hash = ?1 OR expires_at <= ?2",
            params![token_hash, now_ms()],
        )?;
        Ok(())
    }

    /// Whether `user_id` holds `permission` (beyond what the role gives).
    pub fn has_permission(&self, user_id: i64, permission: &str) -> Result<bool> {
        Ok(self
            .store
            .conn
            .prepare_cached(
                "SELECT 1 FROM user_permissions WHERE user_id = ?1 AND permission = ?2",
            )?
            .exists(rusqlite::params![user_id, permission])?)
    }

    /// Grants or takes back a permission; false if the user does not exist.
    pub fn set_permission(
        &self,
        username: &str,
        permission: &str,
        granted: bool,
        by: &str,
    ) -> Result<bool> {
        let Some(user) = self.user_by_name(username)? else {
            return Ok(false);
        };
        if !PERMISSIONS.contains(&permission) {
            return Err(StoreError::Invalid(format!(
                "unknown permission {permission:?}; known: {}",
                PERMISSIONS.join(", ")
            )));
        }
        if granted {
            self.store.conn.execute(
                "INSERT OR IGNORE INTO user_permissions (user_id, permission, granted_by, granted_at)
                 VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![user.id, permission, by, super::now_ms()],
            )?;
        } else {
            self.store.conn.execute(
                "DELETE FROM user_permissions WHERE user_id = ?1 AND permission = ?2",
                rusqlite::params![user.id, permission],
            )?;
        }
        Ok(true)
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

/// One audited action; `actor` is a username or `cli` / `system`.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub actor: &'a str,
    pub user_id: Option<i64>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub detail: serde_json::Value,
    pub remote_addr: Option<&'a str>,
}

/// Which audit entries to find: by who, what (a prefix: `user.` finds
/// every user change), on what (part of the target), and when.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub limit: Option<u32>,
}

/// A stored audit entry, as read back for reports and tests.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditRecord {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: serde_json::Value,
    pub remote_addr: Option<String>,
}

impl Users<'_> {
    /// Appends one entry to the audit log.
    pub fn audit(&self, entry: &AuditEntry<'_>) -> Result<()> {
        self.store
            .conn
            .prepare_cached(
                "INSERT INTO audit_log (at, user_id, actor, action, target, detail, remote_addr)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                now_ms(),
                entry.user_id,
                entry.actor,
                entry.action,
                entry.target,
                entry.detail.to_string(),
                entry.remote_addr
            ])?;
        Ok(())
    }

    /// Audit entries matching `q`, newest first.
    pub fn search_audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT at, actor, action, target, detail, remote_addr FROM audit_log
              WHERE (?1 IS NULL OR actor = ?1)
                AND (?2 IS NULL OR action LIKE ?2 || '%')
                AND (?3 IS NULL OR instr(target, ?3) > 0)
                AND (?4 IS NULL OR at >= ?4)
                AND (?5 IS NULL OR at < ?5)
              ORDER BY id DESC LIMIT ?6",
        )?;
        let blank = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let rows = stmt.query_map(
            params![
                blank(&q.actor),
                blank(&q.action),
                blank(&q.target),
                q.from,
                q.to,
                q.limit.unwrap_or(200).min(5_000) as i64
            ],
            audit_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest audit entries, newest first.
    pub fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRecord>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT at, actor, action, target, detail, remote_addr FROM audit_log
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], audit_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// One audit row (`at, actor, action, target, detail, remote_addr`); a detail
/// that is not JSON reads as null rather than failing the whole listing.
fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    let detail: String = r.get(4)?;
    Ok(AuditRecord {
        at: r.get(0)?,
        actor: r.get(1)?,
        action: r.get(2)?,
        target: r.get(3)?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
        remote_addr: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session ends after its idle limit unless it was used meanwhile;
    /// using it is written at most once a minute.
    #[test]
    fn idle_sessions_end_and_used_ones_live_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("idle.db")).unwrap();
        let users = store.users();
        let id = users.add_user("a1", "A1", Role::Agent, None, None).unwrap();
        let t0 = now_ms();
        let day = 24 * 3_600_000;
        users.create_session("h", id, t0 + day, None).unwrap();
        let idle = 30 * 60_000;
        let alive = |now| users.use_session("h", now, idle).unwrap().is_some();
        assert!(alive(t0 + 10 * 60_000), "used after 10 minutes");
        assert!(alive(t0 + 35 * 60_000), "30 minutes after the last use");
        assert!(!alive(t0 + 66 * 60_000), "idle 31 minutes: ended");
        assert!(
            users
                .use_session("h", t0 + 66 * 60_000, 0)
                .unwrap()
                .is_some(),
            "no limit"
        );
        assert!(!alive(t0 + day + 1), "expired");
    }
}
