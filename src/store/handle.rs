//! Async access to the store: one thread owns the connection and runs the
//! jobs sent to it in order, so the tokio runtime never waits on SQLite.

use super::{Result, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce(&Store) + Send>;

/// A cloneable handle to a store running on its own thread.
#[derive(Clone)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
    path: PathBuf,
}

impl StoreHandle {
    /// Moves an opened store onto its own thread.
    pub fn spawn(store: Store) -> StoreHandle {
        let path = store.path().to_path_buf();
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

    /// Queues `f` on the store thread without waiting for it: for writes
    /// whose caller must not be held up (CDRs on the call path); `f` reports
    /// its own failure. Jobs run in order, so a later [`StoreHandle::call`]
    /// or [`StoreHandle::drain`] sees their effects.
    pub fn submit(&self, f: impl FnOnce(&Store) + Send + 'static) {
        if self.jobs.send(Box::new(f)).is_err() {
            tracing::error!("a store write was dropped: the store thread has stopped");
        }
    }

    /// Waits until every job queued so far has run.
    pub async fn drain(&self) -> Result<()> {
        self.call(|_| Ok(())).await
    }

    /// Runs `f` on the store thread and returns its result.
    pub async fn call<T: Send + 'static>(
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
