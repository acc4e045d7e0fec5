//! The one door to the database. Callers get plain Rust types; SQL stays in
//! this module, so another backend can replace SQLite without touching them.
//!
//! `Store` owns one rusqlite connection and its lifecycle (opening,
//! migrations, cache tuning, bulk writes, transactions, backups) and is used
//! from one thread at a time. Every query and write belongs to a domain and
//! is reached through that domain's view: `store.customers()`,
//! `store.calls()`, `store.agents()`, `store.users()`, `store.workorders()`,
//! `store.sms()`, `store.campaigns()`, `store.recordings()`,
//! `store.reports()`. Async code reaches it through [`StoreHandle`], which
//! runs the `Store` on a dedicated thread so SQLite never blocks the runtime
//! and hands out one handle per domain whose jobs see only that view.

mod after_call;
mod agents;
mod backup;
mod calls;
mod campaigns;
mod customer_fields;
mod customers;
mod directory;
mod followups;
mod groups;
mod handle;
mod merge;
mod migrate;
mod qa;
mod recordings;
mod reports;
mod sms;
mod tokens;
mod users;
mod webhooks;
mod workorder_flow;
mod workorders;

pub use after_call::{AfterCallFacts, CallMessage, FactsQuery};
pub use agents::{AgentState, AgentStateRow, Agents, Binding};
pub use backup::BackupSummary;
pub use calls::{
    CallBlock, CallBlocks, CallQuery, CallReach, CallRow, Calls, HistoryPage, HistoryRow,
    NewCallBlock,
};
pub use campaigns::{
    Added, CampaignCustomer, CampaignRow, CampaignState, Campaigns, FailedPart, Failures,
    FedMessage, NewCampaign, NewRecipient, PendingRecipient, Progress, QuotaRow, ResultRow,
};
pub use customers::{
    Customer, CustomerLoad, CustomerMatch, CustomerPhone, CustomerReach, Customers, LoadMerges,
    LookupResult, NewCustomer, NewPhone, UpsertOutcome,
};
pub use directory::{
    number_fragment, Actor, CustomerEdit, CustomerPage, CustomerQuery, CustomerRow, Directory,
    HandOver, Note, MAX_PHONES,
};
pub use followups::{Claim, CustomerCallBack, FollowUp, FollowUps, Scheduled, CLOSE_REASONS};
pub use groups::{Group, GROUP_ADD_MAX};
pub use handle::{
    AgentsHandle, CallsHandle, CampaignsHandle, CustomersHandle, DirectoryHandle, FollowUpsHandle,
    QaHandle, RecordingsHandle, ReportsHandle, SmsHandle, StoreHandle, UsersHandle,
    WorkOrdersHandle, WriteHealth, MAX_WAITING_FACTS,
};
pub use merge::{Merge, MergeRefused, MERGE_UNDO_MS};
pub use migrate::known_schema_version;
pub use qa::{
    check_form as check_qa_form, AppliesTo, Qa, QaForm, QaFormEdit, QaItem, QaScore, QaTarget,
    ScoreError,
};
pub use recordings::{RecordingListItem, RecordingQuery, RecordingRow, Recordings};
pub use reports::{AgentInfo, CallFact, CallbackFact, Reports, StateSpan};
pub use sms::{
    BlacklistRow, ClaimedPart, CustomerSms, InboxRow, NewInbox, NewSms, OptOutRow, PartRow,
    PartState, Report, Settled, Sms, UnknownPart, UnmatchedReport, REPORT_WINDOW_MS,
};
pub use tokens::{ApiToken, LiveToken, NewApiToken};
pub use users::{
    AuditEntry, AuditQuery, AuditRecord, Role, Scope, User, UserUpdate, Users, PERMISSIONS,
};
pub use webhooks::{
    Attempt, DeliveryRow, DueDelivery, EndpointSettings, WebhookEndpoint, Webhooks,
};
pub use workorder_flow::{
    Assignee, Change, TimelineEntry, WorkOrderCounts, WorkOrderPage, WorkOrderQuery,
};
pub use workorders::{
    EnumOption, FieldDef, FieldType, FormDef, SavedWorkOrder, WorkOrderRow, WorkOrders,
};

use rusqlite::config::DbConfig;
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
    /// Whoever was handed the rows one by one could take no more (an
    /// export whose file cannot be written): the reading stopped.
    #[error("the rows could not be passed on: {0}")]
    Aborted(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// What every store operation returns: its value, or a [`StoreError`].
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
        store.ensure_indexes()?;
        Ok(store)
    }

    /// A second, read-only connection to the same database, for a task that
    /// must answer reads without queueing behind the writer thread (the call
    /// engine's lookups, which sit on the path to every screen-pop). WAL lets
    /// it read while the writer writes.
    pub fn open_reader(path: &Path) -> Result<Store> {
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.configure().map_err(open_err)?;
        store
            .conn
            .pragma_update(None, "query_only", true)
            .map_err(open_err)?;
        // Every commit elsewhere makes a reader drop its whole mapping
        // (munmap, with a TLB shootdown on every core) and fault each page
        // back in; reading pages with pread into the page cache is cheaper
        // for a connection that sees the writer commit after every call.
        store
            .conn
            .pragma_update(None, "mmap_size", 0)
            .map_err(open_err)?;
        Ok(store)
    }

    fn configure(&self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(Duration::from_secs(10))?;
        // Takes effect only on a new database: 8 KiB pages mean fewer B-tree
        // splits and WAL frames for millions of customers.
        self.conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        // 64 MiB page cache keeps the number indexes' upper levels hot;
        // reads beyond it go through mmap instead of a read() per page.
        self.conn
            .pragma_update(None, "cache_size", -DEFAULT_CACHE_KIB)?;
        self.conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
        // Plans must not depend on bound values: the bundled SQLite has STAT4,
        // whose value-based estimates mark every parameter as plan-relevant,
        // and rusqlite's statement cache then re-prepares the statement on
        // every use (3x slower lookups). Our queries have one right plan.
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        self.conn.set_prepared_statement_cache_capacity(64);
        Ok(())
    }

    /// Tunes the connection for a long run of writes (imports): a bounded
    /// page cache, no mmap, and a WAL that may grow before it is checkpointed; the
    /// previous settings come back afterwards. With
    /// `defer_index` the number match index is dropped and rebuilt by one
    /// sort in [`BulkWrites::finish`], far faster than millions of random
    /// inserts; lookups are then unavailable until it finishes, so the
    /// importer asks for it only when the store has no customers. A process
    /// that dies before `finish` leaves no harm: opening the store rebuilds
    /// a missing index.
    pub fn bulk_writes(&self, defer_index: bool) -> Result<BulkWrites<'_>> {
        let cache_size: i64 = self
            .conn
            .pragma_query_value(None, "cache_size", |r| r.get(0))?;
        self.conn
            .pragma_update(None, "cache_size", -(BULK_CACHE_KIB as i64))?;
        self.conn
            .pragma_update(None, "wal_autocheckpoint", BULK_CHECKPOINT_PAGES)?;
        // Pages read through the map count as resident memory; a load reads
        // every page it builds an index from.
        self.conn.pragma_update(None, "mmap_size", 0)?;
        // Each row's statements fire triggers, so SQLite keeps a statement
        // journal for them; in temporary files that is a write() per page
        // (a quarter of a load's time). In memory it holds only the pages
        // one statement changes. The sorts of `finish` go back to files.
        self.conn.pragma_update(None, "temp_store", "MEMORY")?;
        if defer_index {
            self.conn
                .execute_batch("DROP INDEX IF EXISTS customer_phones_match")?;
        }
        // Each number and tag row would look its customer up again; the
        // bulk writer inserts them right after that customer.
        self.conn.pragma_update(None, "foreign_keys", "OFF")?;
        Ok(BulkWrites {
            store: self,
            deferred_index: defer_index,
            cache_size,
            finished: false,
        })
    }

    /// Creates indexes a crash during a bulk load may have left missing.
    fn ensure_indexes(&self) -> Result<()> {
        self.conn.execute_batch(MATCH_INDEX_SQL)?;
        self.conn
            .execute_batch(customers::LOAD_DEFERRED_INDEXES_SQL)?;
        customers::restore_deferred_triggers(self)
    }

    /// Sets the page cache size: a store of millions of customers answers
    /// lookups from memory when its number index and hot rows fit.
    pub fn set_cache_mb(&self, mb: u32) -> Result<()> {
        self.conn
            .pragma_update(None, "cache_size", -(i64::from(mb) * 1024))?;
        Ok(())
    }

    /// Reads the tables lookups touch into the page cache, so the first calls
    /// after a start are as fast as later ones. The match index goes last, so
    /// it is what stays when the cache is smaller than the store.
    pub fn warm_cache(&self) -> Result<()> {
        for sql in [
            "SELECT sum(length(raw)) FROM customer_phones",
            "SELECT sum(length(name)) FROM customers",
            "SELECT count(*) FROM customer_phones INDEXED BY customer_phones_match WHERE national_rev >= ''",
        ] {
            self.conn.query_row(sql, [], |_| Ok(()))?;
        }
        Ok(())
    }

    /// Re-reads what every lookup touches first (the match index's and the
    /// customers table's upper B-tree levels). A commit by another
    /// connection empties this connection's page cache, which would make the
    /// next lookup three times slower; a reader on the call path calls this
    /// after such commits, off the path.
    pub fn refresh_read_cache(&self) -> Result<()> {
        self.conn
            .prepare_cached(
                "SELECT c.name FROM customer_phones p INDEXED BY customer_phones_match
                 JOIN customers c ON c.id = p.customer_id
                 WHERE p.national_rev >= '5' ORDER BY p.national_rev LIMIT 1",
            )?
            .query_map([], |_| Ok(()))?
            .for_each(drop);
        Ok(())
    }

    /// Re-reads the upper B-tree levels of what a pop's card reads (a
    /// customer, their latest calls and open work orders), for the hub's
    /// reader after others' commits, as [`Store::refresh_read_cache`] does
    /// for the engine's lookups.
    pub fn refresh_card_cache(&self) -> Result<()> {
        for sql in [
            "SELECT name FROM customers WHERE id = (SELECT max(id) FROM customers)",
            "SELECT id FROM calls WHERE customer_id = (SELECT max(id) FROM customers)
             ORDER BY started_at DESC LIMIT 1",
            "SELECT id FROM work_orders WHERE customer_id = (SELECT max(id) FROM customers)
             ORDER BY created_at DESC LIMIT 1",
        ] {
            self.conn
                .prepare_cached(sql)?
                .query_map([], |_| Ok(()))?
                .for_each(drop);
        }
        Ok(())
    }

    /// A number that changes whenever another connection commits: tells a
    /// reader when its cache needs [`Store::refresh_read_cache`].
    pub fn data_version(&self) -> Result<i64> {
        // Asked after every commit and several times a second: a cached
        // statement, not a pragma parsed anew each time.
        Ok(self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?)
    }

    /// The database file this store is on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs the reads in `f` on one snapshot of the database: they agree
    /// with each other, and the connection takes its read lock (and checks
    /// whether its page cache is still good) once instead of per query.
    pub fn read_snapshot<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        if !self.conn.is_autocommit() {
            return f(self);
        }
        self.conn.execute_batch("BEGIN DEFERRED")?;
        let result = f(self);
        // A read-only transaction has nothing to lose: end it either way.
        let ended = self.conn.execute_batch("COMMIT");
        let value = result?;
        ended?;
        Ok(value)
    }

    /// Runs `f` in one write transaction: all of it is stored, or none.
    pub fn in_transaction<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Store) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        // Inside another transaction (a bulk load saving many orders at
        // once), a savepoint: undone alone on failure, kept with the rest.
        let (begin, commit, rollback) = if self.conn.is_autocommit() {
            ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
        } else {
            (
                "SAVEPOINT nested",
                "RELEASE nested",
                "ROLLBACK TO nested; RELEASE nested",
            )
        };
        self.conn.execute_batch(begin).map_err(StoreError::from)?;
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch(commit).map_err(StoreError::from)?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch(rollback);
                Err(e)
            }
        }
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<u32> {
        migrate::current_version(&self.conn)
    }
}

/// The domain views: every query and write of the store belongs to one of
/// them, so a caller names the domain it works in and a second backend has
/// one seam per domain to provide (see ARCHITECTURE.md).
impl Store {
    /// Customers, their numbers and tags; lookups and imports.
    pub fn customers(&self) -> Customers<'_> {
        Customers { store: self }
    }

    /// The customer directory: searches, edits, hand-overs, notes.
    pub fn directory(&self) -> Directory<'_> {
        Directory { store: self }
    }

    /// CDRs, what the hub adds to them, and the call history.
    pub fn calls(&self) -> Calls<'_> {
        Calls { store: self }
    }

    /// The call-back queue: missed callers and scheduled call-backs.
    pub fn followups(&self) -> FollowUps<'_> {
        FollowUps { store: self }
    }

    /// Line bindings and the agent state log.
    pub fn agents(&self) -> Agents<'_> {
        Agents { store: self }
    }

    /// Users, permissions, login sessions and the audit log.
    pub fn users(&self) -> Users<'_> {
        Users { store: self }
    }

    /// Work-order forms and saved work orders.
    pub fn workorders(&self) -> WorkOrders<'_> {
        WorkOrders { store: self }
    }

    /// Outgoing SMS parts, delivery reports, the inbox, opt-outs and the blacklist.
    pub fn sms(&self) -> Sms<'_> {
        Sms { store: self }
    }

    /// SMS campaigns, their recipients and quotas.
    pub fn campaigns(&self) -> Campaigns<'_> {
        Campaigns { store: self }
    }

    /// Webhook endpoints, the outbox of events and their deliveries.
    pub fn webhooks(&self) -> Webhooks<'_> {
        Webhooks { store: self }
    }

    /// Recordings and their QA scores.
    pub fn recordings(&self) -> Recordings<'_> {
        Recordings { store: self }
    }

    /// Quality checking: scoring forms, scores of recordings and work
    /// orders, appeals.
    pub fn qa(&self) -> Qa<'_> {
        Qa { store: self }
    }

    /// The row streams and counts reports and the wallboard read.
    pub fn reports(&self) -> Reports<'_> {
        Reports { store: self }
    }
}

/// A WHERE clause grown from optional filters, with numbered parameters:
/// the searches' one way of adding `AND ...` terms.
pub(crate) struct Filters {
    pub sql: String,
    pub args: Vec<rusqlite::types::Value>,
}

impl Filters {
    /// Starts from `sql` (a SELECT ending in a WHERE clause).
    pub fn new(sql: String) -> Filters {
        Filters {
            sql,
            args: Vec::new(),
        }
    }

    /// Appends `clause`, every `?` in it bound to `value`.
    pub fn and(&mut self, clause: &str, value: impl Into<rusqlite::types::Value>) {
        self.args.push(value.into());
        let n = format!("?{}", self.args.len());
        self.sql.push_str(&clause.replace('?', &n));
    }
}

/// Page size of new databases.
const PAGE_SIZE: u32 = 8192;
/// Page cache until `set_cache_mb` says otherwise, in KiB.
const DEFAULT_CACHE_KIB: i64 = 64 * 1024;
/// How much of the database file reads may map (SQLite's default ceiling).
const MMAP_BYTES: i64 = 0x7fff_0000;
/// Page cache during bulk writes, in KiB. Appends touch only the last
/// pages of each B-tree, and an index build's sort spills what exceeds it
/// to temporary files, so a small cache keeps a load of any size in bounded
/// memory (a 4 GB office PC imports 10M rows).
const BULK_CACHE_KIB: u32 = 64 << 10;
/// WAL pages between checkpoints during bulk writes (~200 MiB).
const BULK_CHECKPOINT_PAGES: u32 = 25_000;

/// The number match index (as in sql/0001_init.sql), for rebuilding it.
const MATCH_INDEX_SQL: &str = "CREATE INDEX IF NOT EXISTS customer_phones_match
     ON customer_phones(national_rev, country_code, kind)";

/// Bulk-write tuning in force. `finish` rebuilds a deferred index and
/// restores the normal settings; dropping without `finish` does it too,
/// logging instead of returning errors.
pub struct BulkWrites<'a> {
    store: &'a Store,
    deferred_index: bool,
    /// The page cache setting before the bulk load, restored after it.
    cache_size: i64,
    finished: bool,
}

impl Store {
    /// Moves the write-ahead log into the database file and truncates it
    /// (so the next write must grow it again); true when every page was
    /// moved, false when a reader held some back.
    pub fn checkpoint(&self) -> Result<bool> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        Ok(busy == 0)
    }
}

impl BulkWrites<'_> {
    /// Whether the match index is off: duplicates must be found another way.
    pub fn index_deferred(&self) -> bool {
        self.deferred_index
    }

    /// The rows are in: what follows (index builds, merges) sorts whole
    /// tables, whose temporary storage must go to files to keep memory
    /// bounded.
    pub fn rows_done(&self) -> Result<()> {
        self.store
            .conn
            .pragma_update(None, "temp_store", "DEFAULT")?;
        Ok(())
    }

    /// Rebuilds the match index if it was deferred, checkpoints the WAL and
    /// restores the normal cache.
    pub fn finish(mut self) -> Result<()> {
        self.finished = true;
        self.restore()
    }

    fn restore(&self) -> Result<()> {
        let conn = &self.store.conn;
        if self.deferred_index {
            conn.execute_batch(MATCH_INDEX_SQL)?;
        }
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "temp_store", "DEFAULT")?;
        conn.pragma_update(None, "wal_autocheckpoint", 1000)?;
        conn.pragma_update(None, "cache_size", self.cache_size)?;
        conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        Ok(())
    }
}

impl Drop for BulkWrites<'_> {
    fn drop(&mut self) {
        if !self.finished {
            if let Err(e) = self.restore() {
                tracing::error!(error = %e, "could not restore the store after a bulk load");
            }
        }
    }
}

pub use crate::domain::now_ms;
