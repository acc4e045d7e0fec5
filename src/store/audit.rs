//! The audit log: who did what, when and from where.

use super::{now_ms, Result, Store};
use rusqlite::params;

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

impl Store {
    /// Appends one entry to the audit log.
    pub fn audit(&self, entry: &AuditEntry<'_>) -> Result<()> {
        self.conn
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

    /// The newest audit entries, newest first.
    pub fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, actor, action, target, detail, remote_addr FROM audit_log
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            let detail: String = r.get(4)?;
            Ok(AuditRecord {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                target: r.get(3)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                remote_addr: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
