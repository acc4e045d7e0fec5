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

    /// The newest audit entries as (actor, action, target, detail), newest first.
    pub fn recent_audit(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, String, Option<String>, serde_json::Value)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            let detail: String = r.get(3)?;
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
