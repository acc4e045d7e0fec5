//! Async access to the store: one thread owns the connection and runs the
//! jobs sent to it in order, so the tokio runtime never waits on SQLite.
//!
//! Callers reach it through one handle per domain ([`StoreHandle::customers`],
//! [`StoreHandle::calls`], ...), whose jobs see only that domain's view of
//! the store; the whole [`Store`] stays inside this module.

use super::{
    Agents, Calls, Campaigns, Customers, Recordings, Reports, Result, Sms, Store, StoreError,
    Users, WorkOrders,
};
use std::path::Path;
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce(&Store) + Send>;

/// A cloneable handle to a store running on its own thread.
#[derive(Clone)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
    path: Arc<Path>,
}

impl StoreHandle {
    /// Moves an opened store onto its own thread.
    pub fn spawn(store: Store) -> StoreHandle {
        let path: Arc<Path> = store.path().into();
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("callpop-store".into())
            .spawn(move || {
                for job in rx {
                    job(&store);
                }
            })
            .expect("spawn store thread");
        StoreHandle { jobs, path }
    }

    /// The database file the store thread has open.
    pub fn path(&self) -> &Path {
        &self.path
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
        if self.jobs.send(Box::new(f)).is_err() {
            tracing::error!("a store write was dropped: the store thread has stopped");
        }
    }

    /// Runs `f` on the store thread and returns its result.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |store| {
                let _ = tx.send(f(store));
            }))
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
    /// Calls on the store thread: CDRs, what the hub adds to them, history.
    CallsHandle,
    Calls,
    calls
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
    /// Recordings and QA scores on the store thread.
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
