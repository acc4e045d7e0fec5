//! Async access to the store: one thread owns the connection and runs the
//! jobs sent to it in order, so the tokio runtime never waits on SQLite.
//!
//! Callers reach it through one handle per domain ([`StoreHandle::customers`],
//! [`StoreHandle::calls`], ...), whose jobs see only that domain's view of
//! the store; the whole [`Store`] stays inside this module.

use super::{
    Agents, Calls, Campaigns, Customers, Directory, FollowUps, Qa, Recordings, Reports, Result,
    Sms, Store, StoreError, Users, Webhooks, WorkOrders,
};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// A write that must land: run again, in order, until it does.
type Fact = Box<dyn FnMut(&Store) -> Result<()> + Send>;

enum Job {
    Once(Box<dyn FnOnce(&Store) + Send>),
    Fact(&'static str, Fact),
}

/// How long the store thread waits before trying waiting facts again.
const RETRY_EVERY: Duration = Duration::from_secs(2);
/// Facts kept waiting at most (about 250 MB of CDRs; a full disk for
/// hours at 50 calls a second): beyond it the oldest are given up, loudly.
pub const MAX_WAITING_FACTS: usize = 500_000;

/// Whether writes are landing: facts waiting for the disk, and why.
#[derive(Debug, Default)]
pub struct WriteHealth {
    waiting: AtomicUsize,
    last_error: Mutex<Option<String>>,
}

impl WriteHealth {
    /// Facts written nowhere yet (0 when all is well).
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// The error that keeps them waiting.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The store thread's queue of facts that failed to write for a reason
/// that passes (a full disk, an I/O error, a lock), tried again in order.
struct Waiting {
    facts: VecDeque<(&'static str, Fact)>,
    health: Arc<WriteHealth>,
}

impl Waiting {
    /// Writes `fact`, or keeps it (behind any already waiting, so facts
    /// land in the order they happened).
    fn write(&mut self, store: &Store, what: &'static str, mut fact: Fact) {
        if !self.facts.is_empty() {
            self.keep(what, fact);
            return;
        }
        match fact(store) {
            Ok(()) => {}
            Err(e) if passes(&e) => {
                tracing::error!(what, error = %e, "a write failed; kept and tried again until it lands");
                self.note(Some(e.to_string()));
                self.keep(what, fact);
            }
            Err(e) => tracing::error!(what, error = %e, "a write was refused by the database"),
        }
    }

    /// Writes the waiting facts in order, stopping at the first that fails again.
    fn retry(&mut self, store: &Store) {
        let before = self.facts.len();
        while let Some((what, fact)) = self.facts.front_mut() {
            match fact(store) {
                Ok(()) => {
                    self.facts.pop_front();
                }
                Err(e) if passes(&e) => {
                    tracing::debug!(what = *what, error = %e, "a waiting write failed again");
                    self.note(Some(e.to_string()));
                    break;
                }
                Err(e) => {
                    tracing::error!(what = *what, error = %e, "a waiting write was refused by the database");
                    self.facts.pop_front();
                }
            }
        }
        self.health
            .waiting
            .store(self.facts.len(), Ordering::Relaxed);
        if self.facts.is_empty() && before > 0 {
            tracing::warn!(written = before, "every waiting write has landed");
            self.note(None);
        }
    }

    fn keep(&mut self, what: &'static str, fact: Fact) {
        if self.facts.len() >= MAX_WAITING_FACTS {
            if let Some((lost, _)) = self.facts.pop_front() {
                tracing::error!(
                    what = lost,
                    "too many writes waiting for the disk: the oldest is given up"
                );
            }
        }
        self.facts.push_back((what, fact));
        self.health
            .waiting
            .store(self.facts.len(), Ordering::Relaxed);
    }

    fn note(&self, error: Option<String>) {
        *self
            .health
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = error;
    }
}

/// Whether a failed write may succeed later: the disk full or failing, the
/// file locked or unopenable. A constraint violation never will.
fn passes(e: &StoreError) -> bool {
    use rusqlite::ErrorCode::*;
    match e {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
            f.code,
            DiskFull | SystemIoFailure | DatabaseBusy | DatabaseLocked | CannotOpen | ReadOnly
        ),
        _ => false,
    }
}

/// A cloneable handle to a store running on its own thread.
#[derive(Clone)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
    path: Arc<Path>,
    health: Arc<WriteHealth>,
}

impl StoreHandle {
    /// Moves an opened store onto its own thread.
    pub fn spawn(store: Store) -> StoreHandle {
        let path: Arc<Path> = store.path().into();
        let health = Arc::new(WriteHealth::default());
        let (jobs, rx) = mpsc::channel::<Job>();
        let mut waiting = Waiting {
            facts: VecDeque::new(),
            health: health.clone(),
        };
        std::thread::Builder::new()
            .name("callpop-store".into())
            .spawn(move || {
                // Waiting facts are tried again every RETRY_EVERY, however
                // busy the thread is with other jobs.
                let mut next_retry = std::time::Instant::now();
                loop {
                    if !waiting.facts.is_empty() && std::time::Instant::now() >= next_retry {
                        waiting.retry(&store);
                        next_retry = std::time::Instant::now() + RETRY_EVERY;
                    }
                    let job = if waiting.facts.is_empty() {
                        match rx.recv() {
                            Ok(job) => job,
                            Err(_) => break,
                        }
                    } else {
                        let wait = next_retry.saturating_duration_since(std::time::Instant::now());
                        match rx.recv_timeout(wait) {
                            Ok(job) => job,
                            Err(mpsc::RecvTimeoutError::Timeout) => continue,
                            Err(mpsc::RecvTimeoutError::Disconnected) => break,
                        }
                    };
                    match job {
                        Job::Once(f) => f(&store),
                        Job::Fact(what, fact) => {
                            let was_waiting = !waiting.facts.is_empty();
                            waiting.write(&store, what, fact);
                            if !was_waiting && !waiting.facts.is_empty() {
                                next_retry = std::time::Instant::now() + RETRY_EVERY;
                            }
                        }
                    }
                }
                waiting.retry(&store);
                if !waiting.facts.is_empty() {
                    tracing::error!(
                        lost = waiting.facts.len(),
                        "stopping with writes the disk never took"
                    );
                }
            })
            .expect("spawn store thread");
        StoreHandle { jobs, path, health }
    }

    /// Whether writes are landing (for `/healthz` and the pages).
    pub fn write_health(&self) -> &WriteHealth {
        &self.health
    }

    /// The database file the store thread has open.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the write-ahead log into the database file and truncates it;
    /// true when no reader held it back (else try again).
    pub async fn checkpoint(&self) -> Result<bool> {
        self.call(|s| s.checkpoint()).await
    }

    /// Waits until every job queued so far has run.
    pub async fn drain(&self) -> Result<()> {
        self.call(|_| Ok(())).await
    }

    /// The schema version the database is at.
    pub async fn schema_version(&self) -> Result<u32> {
        self.call(|s| s.schema_version()).await
    }

    /// Reads the tables lookups touch into the writer's page cache
    /// ([`Store::warm_cache`]); jobs queued meanwhile wait for it.
    pub async fn warm_cache(&self) -> Result<()> {
        self.call(|s| s.warm_cache()).await
    }

    /// Queues `f` on the store thread without waiting for it; `f` reports
    /// its own failure. Jobs run in order, so a later [`StoreHandle::call`]
    /// or [`StoreHandle::drain`] sees their effects.
    fn submit(&self, f: impl FnOnce(&Store) + Send + 'static) {
        if self.jobs.send(Job::Once(Box::new(f))).is_err() {
            tracing::error!("a store write was dropped: the store thread has stopped");
        }
    }

    /// Queues a write that must land: if the disk is full (or failing) it
    /// is kept and tried again, in order with the other such writes, until
    /// it does. `f` may run more than once, so it must be repeatable.
    fn submit_fact(
        &self,
        what: &'static str,
        f: impl FnMut(&Store) -> Result<()> + Send + 'static,
    ) {
        if self.jobs.send(Job::Fact(what, Box::new(f))).is_err() {
            tracing::error!(
                what,
                "a store write was dropped: the store thread has stopped"
            );
        }
    }

    /// Runs `f` on the store thread and returns its result.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Once(Box::new(move |store| {
                let _ = tx.send(f(store));
            })))
            .map_err(|_| StoreError::Invalid("the store thread has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Invalid("the store thread has stopped".into()))?
    }
}

/// Declares one domain's async handle and its [`StoreHandle`] accessor: the
/// handle's jobs run on the store thread like every other job, in order,
/// but see only the domain's view.
macro_rules! domain_handle {
    ($(#[$doc:meta])* $handle:ident, $view:ident, $accessor:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $handle {
            store: StoreHandle,
        }

        impl $handle {
            /// Runs `f` on the store thread with this domain's view and
            /// returns its result.
            pub async fn call<T: Send + 'static>(
                &self,
                f: impl FnOnce($view<'_>) -> Result<T> + Send + 'static,
            ) -> Result<T> {
                self.store.call(move |s| f(s.$accessor())).await
            }

            /// Queues `f` on the store thread without waiting for it: for
            /// writes whose caller must not be held up (CDRs on the call
            /// path); `f` reports its own failure. Jobs of every domain run
            /// in the order they were queued.
            pub fn submit(&self, f: impl FnOnce($view<'_>) + Send + 'static) {
                self.store.submit(move |s| f(s.$accessor()))
            }

            /// Queues a write that must land (a CDR, an agent's state):
            /// kept and tried again, in order, while the disk is full.
            /// `f` must be repeatable (an upsert, an update to a value).
            pub fn submit_fact(
                &self,
                what: &'static str,
                mut f: impl FnMut($view<'_>) -> Result<()> + Send + 'static,
            ) {
                self.store.submit_fact(what, move |s| f(s.$accessor()))
            }
        }

        impl StoreHandle {
            $(#[$doc])*
            pub fn $accessor(&self) -> $handle {
                $handle {
                    store: self.clone(),
                }
            }
        }
    };
}

domain_handle!(
    /// Customers on the store thread: cards, lookups outside the call path, additions.
    CustomersHandle,
    Customers,
    customers
);
domain_handle!(
    /// The customer directory on the store thread: searches, edits, notes.
    DirectoryHandle,
    Directory,
    directory
);
domain_handle!(
    /// Calls on the store thread: CDRs, what the hub adds to them, history.
    CallsHandle,
    Calls,
    calls
);
domain_handle!(
    /// Quality checking on the store thread: forms, scores, appeals.
    QaHandle,
    Qa,
    qa
);
domain_handle!(
    /// The call-back queue on the store thread.
    FollowUpsHandle,
    FollowUps,
    followups
);
domain_handle!(
    /// Line bindings and agent states on the store thread.
    AgentsHandle,
    Agents,
    agents
);
domain_handle!(
    /// Users, permissions, login sessions and the audit log on the store thread.
    UsersHandle,
    Users,
    users
);
domain_handle!(
    /// Work-order forms and work orders on the store thread.
    WorkOrdersHandle,
    WorkOrders,
    workorders
);
domain_handle!(
    /// The SMS queue, reports, inbox and opt-outs on the store thread.
    SmsHandle,
    Sms,
    sms
);
domain_handle!(
    /// SMS campaigns on the store thread.
    CampaignsHandle,
    Campaigns,
    campaigns
);
domain_handle!(
    /// Webhook endpoints, events and deliveries on the store thread.
    WebhooksHandle,
    Webhooks,
    webhooks
);
domain_handle!(
    /// Recordings on the store thread.
    RecordingsHandle,
    Recordings,
    recordings
);
domain_handle!(
    /// Report rows and counts on the store thread.
    ReportsHandle,
    Reports,
    reports
);
