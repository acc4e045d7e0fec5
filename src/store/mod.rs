//! The one door to the database. Callers get plain Rust types; SQL stays in
//! this module, so another backend can replace SQLite without touching them.
//!
//! `Store` owns one rusqlite connection and is used from one thread at a
//! time; async code reaches it through [`StoreHandle`], which runs a `Store`
//! on a dedicated thread so SQLite never blocks the runtime.

mod audit;
mod customers;
mod handle;
mod migrate;
mod users;

pub use audit::AuditEntry;
pub use customers::{
    Customer, CustomerMatch, CustomerPhone, LookupResult, NewCustomer, NewPhone, UpsertOutcome,
};
pub use handle::StoreHandle;
pub use migrate::known_schema_version;
pub use users::{Role, User};

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything that can go wrong in the store, worded for the person running callpop.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "database {path} is at schema version {found}, newer than this callpop \
         (which knows up to version {known}); run a newer callpop or point --db elsewhere"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error("migration {name} failed: {source}")]
    Migration {
        name: String,
        source: rusqlite::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A connection to the callpop database, migrated to this binary's schema.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Invalid(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.configure().map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        migrate::run(&store.conn, path)?;
        Ok(store)
    }

    fn configure(&self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(Duration::from_secs(10))?;
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        // 64 MiB page cache: keeps the number indexes' upper levels hot.
        self.conn.pragma_update(None, "cache_size", -65536)?;
        self.conn.set_prepared_statement_cache_capacity(64);
        Ok(())
    }

    /// The database file this store is on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one write transaction: all of it is stored, or none.
    pub fn in_transaction<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Store) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(StoreError::from)?;
        match f(self) {
            Ok(v) => {
                self.conn
                    .execute_batch("COMMIT")
                    .map_err(StoreError::from)?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<u32> {
        migrate::current_version(&self.conn)
    }
}

/// Milliseconds since the Unix epoch, the store's one time format.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
