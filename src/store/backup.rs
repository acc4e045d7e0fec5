//! Online backups: a consistent copy of the database while callpop runs.

use super::{Result, Store, StoreError};
use std::path::Path;

/// What a finished backup holds, checked on the copy itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub bytes: u64,
    pub schema: u32,
    pub calls: i64,
    pub customers: i64,
}

impl Store {
    /// Writes a copy of the database to `dest`. `VACUUM INTO` reads one
    /// snapshot (under WAL, writers go on meanwhile and nothing they
    /// commit later is half in the copy); the copy is written beside
    /// `dest`, checked with `integrity_check`, then renamed into place, so
    /// `dest` is either a whole, sound backup or untouched.
    pub fn backup_to(&self, dest: &Path) -> Result<BackupSummary> {
        if dest.exists() {
            return Err(StoreError::Invalid(format!(
                "{} already exists; give a new file name",
                dest.display()
            )));
        }
        let partial = dest.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        let text = partial
            .to_str()
            .ok_or_else(|| StoreError::Invalid(format!("{} is not UTF-8", partial.display())))?;
        if let Err(e) = self.conn.execute("VACUUM INTO ?1", [text]) {
            let _ = std::fs::remove_file(&partial);
            return Err(StoreError::Invalid(format!(
                "cannot write the backup {}: {e}",
                partial.display()
            )));
        }
        let summary = (|| -> Result<BackupSummary> {
            let copy = rusqlite::Connection::open(&partial)?;
            let check: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            if check != "ok" {
                return Err(StoreError::Invalid(format!(
                    "the backup is damaged: {check}"
                )));
            }
            Ok(BackupSummary {
                bytes: std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0),
                schema: super::migrate::current_version(&copy)?,
                calls: copy.query_row("SELECT count(*) FROM calls", [], |r| r.get(0))?,
                customers: copy.query_row("SELECT count(*) FROM customers", [], |r| r.get(0))?,
            })
        })();
        match summary {
            Ok(s) => {
                std::fs::rename(&partial, dest).map_err(|e| {
                    StoreError::Invalid(format!(
                        "cannot move the backup to {}: {e}",
                        dest.display()
                    ))
                })?;
                Ok(s)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }
}
