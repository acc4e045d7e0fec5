//! Applies the numbered SQL files of `sql/` in order, each in its own
//! transaction, and refuses a database written by a newer callpop.

use super::{now_ms, Result, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The newest schema version this binary knows.
pub fn known_schema_version() -> u32 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

pub(super) fn current_version(conn: &Connection) -> Result<u32> {
    let exists: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Ok(0);
    }
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?)
}

pub(super) fn run(conn: &Connection, path: &Path) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at INTEGER NOT NULL
         )",
    )?;
    let found = current_version(conn)?;
    let known = known_schema_version();
    if found > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    // A migration that rebuilds a table (SQLite cannot change a CHECK in
    // place) drops the old one; with foreign keys on, that would clear every
    // reference to it. So they are off while migrating, and each migration
    // must leave every reference valid before it commits.
    let pending: Vec<_> = MIGRATIONS.iter().filter(|m| m.0 > found).collect();
    if pending.is_empty() {
        return Ok(());
    }
    conn.pragma_update(None, "foreign_keys", false)?;
    let result = pending.into_iter().try_for_each(|(version, name, sql)| {
        let apply = || -> rusqlite::Result<()> {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            conn.execute_batch(sql)?;
            let broken: i64 =
                conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })?;
            if broken > 0 {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                    Some(format!("it would leave {broken} broken references")),
                ));
            }
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                params![version, name, now_ms()],
            )?;
            conn.execute_batch("COMMIT")
        };
        apply().map_err(|source| {
            let _ = conn.execute_batch("ROLLBACK");
            StoreError::Migration {
                name: name.to_string(),
                source,
            }
        })?;
        tracing::info!(version, name, "applied migration");
        Ok(())
    });
    conn.pragma_update(None, "foreign_keys", true)?;
    result
}
