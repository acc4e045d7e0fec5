//! API tokens (Open CTI): what the store keeps of each — its hash, never
//! the token — who it acts as, its scopes, when it expires, was last used
//! or was revoked. Part of the users' domain ([`Users`]).

use super::users::user_from_row;
use super::{now_ms, AuditEntry, Result, StoreError, User, Users};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::json;

/// A token that holds now: the user it acts as, what it may do, and
/// which token it is (audit entries of its changes name it).
#[derive(Debug, Clone)]
pub struct LiveToken {
    pub user: User,
    pub scopes: Vec<String>,
    pub id: i64,
    pub name: String,
}

/// A token as the admin console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    /// The user it acts as.
    pub user: String,
    pub scopes: Vec<String>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A token to create; the token itself is made by the caller and only its
/// hash and prefix come here.
#[derive(Debug, Clone)]
pub struct NewApiToken<'a> {
    pub name: &'a str,
    pub prefix: &'a str,
    pub token_hash: &'a str,
    pub user_id: i64,
    pub scopes: &'a [String],
    pub expires_at: Option<i64>,
}

/// How often a token's last use is written (a busy integration would
/// otherwise write on every request).
const TOUCH_EVERY_MS: i64 = 60_000;

impl Users<'_> {
    /// Creates a token acting as `t.user_id`; audited with `by`.
    pub fn create_token(
        &self,
        t: &NewApiToken<'_>,
        by: &User,
        remote: Option<&str>,
    ) -> Result<i64> {
        if t.name.trim().is_empty() {
            return Err(StoreError::Invalid("a token needs a name".into()));
        }
        self.store.in_transaction(|s| {
            s.conn.execute(
                "INSERT INTO api_tokens (name, prefix, token_hash, user_id, scopes, created_by,
                                         created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    t.name.trim(),
                    t.prefix,
                    t.token_hash,
                    t.user_id,
                    json!(t.scopes).to_string(),
                    by.id,
                    now_ms(),
                    t.expires_at
                ],
            )?;
            let id = s.conn.last_insert_rowid();
            s.users().audit(&AuditEntry {
                actor: &by.username,
                user_id: Some(by.id),
                action: "token.create",
                target: Some(&format!("token:{id}")),
                detail: json!({ "name": t.name.trim(), "prefix": t.prefix, "user_id": t.user_id,
                                "scopes": t.scopes, "expires_at": t.expires_at }),
                remote_addr: remote,
            })?;
            Ok(id)
        })
    }

    /// Every token, newest first.
    pub fn tokens(&self) -> Result<Vec<ApiToken>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT t.id, t.name, t.prefix, u.username, t.scopes, c.username, t.created_at,
                    t.expires_at, t.last_used_at, t.revoked_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             LEFT JOIN users c ON c.id = t.created_by
             ORDER BY t.id DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            let scopes: String = r.get(4)?;
            Ok(ApiToken {
                id: r.get(0)?,
                name: r.get(1)?,
                prefix: r.get(2)?,
                user: r.get(3)?,
                scopes: serde_json::from_str(&scopes).unwrap_or_default(),
                created_by: r.get(5)?,
                created_at: r.get(6)?,
                expires_at: r.get(7)?,
                last_used_at: r.get(8)?,
                revoked_at: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The user a live token acts as, its scopes and name: `None` for an
    /// unknown, revoked or expired token, or one whose user is disabled.
    /// Marks the token used (at most once a minute; a full disk does not
    /// refuse it).
    pub fn use_token(&self, token_hash: &str, now: i64) -> Result<Option<LiveToken>> {
        let Some(live) = self.live_token(token_hash, now)? else {
            return Ok(None);
        };
        let marked = self.store.conn.execute(
            "UPDATE api_tokens SET last_used_at = ?2
             WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2 - ?3)",
            params![live.id, now, TOUCH_EVERY_MS],
        );
        if let Err(e) = marked {
            tracing::warn!(error = %e, "could not mark an API token used");
        }
        Ok(Some(live))
    }

    /// Like [`Self::use_token`], without marking the token used.
    pub fn token_user(&self, token_hash: &str, now: i64) -> Result<Option<LiveToken>> {
        self.live_token(token_hash, now)
    }

    fn live_token(&self, token_hash: &str, now: i64) -> Result<Option<LiveToken>> {
        Ok(self
            .store
            .conn
            .prepare_cached(
                "SELECT u.id, u.username, u.display_name, u.role, u.team, u.disabled,
                        t.scopes, t.id, t.name
                 FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = ?1 AND t.revoked_at IS NULL
                   AND (t.expires_at IS NULL OR t.expires_at > ?2) AND NOT u.disabled",
            )?
            .query_row(params![token_hash, now], |r| {
                let scopes: String = r.get(6)?;
                Ok(LiveToken {
                    user: user_from_row(r)?,
                    scopes: serde_json::from_str(&scopes).unwrap_or_default(),
                    id: r.get(7)?,
                    name: r.get(8)?,
                })
            })
            .optional()?)
    }

    /// Revokes token `id`; audited. The user it acted as (whose open
    /// desktops opened with it must close), or `None` when there is no
    /// such token or it was revoked already.
    pub fn revoke_token(&self, id: i64, by: &User, remote: Option<&str>) -> Result<Option<i64>> {
        self.store.in_transaction(|s| {
            let acting: Option<i64> = s
                .conn
                .query_row(
                    "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL
                     RETURNING user_id",
                    params![id, now_ms()],
                    |r| r.get(0),
                )
                .optional()?;
            if acting.is_some() {
                s.users().audit(&AuditEntry {
                    actor: &by.username,
                    user_id: Some(by.id),
                    action: "token.revoke",
                    target: Some(&format!("token:{id}")),
                    detail: json!({}),
                    remote_addr: remote,
                })?;
            }
            Ok(acting)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Role, Store};

    #[test]
    fn a_token_lives_until_revoked_expired_or_its_user_disabled() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let u = store.users();
        u.add_user("admin", "Admin", Role::Admin, None, None)
            .unwrap();
        let crm = u
            .add_user("crm", "CRM", Role::Agent, Some("sales"), None)
            .unwrap();
        let admin = u.user_by_name("admin").unwrap().unwrap();
        let scopes = vec!["customers:read".to_string()];
        let new = |hash: &'static str, expires_at| NewApiToken {
            name: "CRM",
            prefix: "cp_abcd",
            token_hash: hash,
            user_id: crm,
            scopes: &scopes,
            expires_at,
        };
        let id = u.create_token(&new("h1", None), &admin, None).unwrap();
        u.create_token(&new("h2", Some(1_000)), &admin, None)
            .unwrap();
        let live = u.use_token("h1", 5_000).unwrap().unwrap();
        assert_eq!(
            (
                live.user.username.as_str(),
                live.scopes,
                live.id,
                live.name.as_str()
            ),
            ("crm", scopes.clone(), id, "CRM")
        );
        assert!(u.use_token("h2", 5_000).unwrap().is_none(), "expired");
        assert!(u.use_token("nope", 5_000).unwrap().is_none());
        assert_eq!(u.tokens().unwrap()[1].last_used_at, Some(5_000));
        assert_eq!(u.revoke_token(id, &admin, None).unwrap(), Some(crm));
        assert_eq!(u.revoke_token(id, &admin, None).unwrap(), None, "once");
        assert!(u.use_token("h1", 6_000).unwrap().is_none(), "revoked");
        let audit = u
            .search_audit(&crate::store::AuditQuery {
                action: Some("token.".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(audit.len(), 3);
    }
}
