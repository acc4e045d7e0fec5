//! An admin's "restart this device": the driver drops its port, reports
//! the device down (so calls on its lines end cleanly) and opens it again,
//! running the profile's init anew. Drivers race their serving against
//! [`Restart::requested`]; a request while nothing is served is a no-op
//! (the driver is already trying to open the port).

use std::sync::Arc;
use tokio::sync::Notify;

/// Why a restarted device went down, as the wallboard and logs show it.
pub const RESTARTED: &str = "restarted by an admin";

/// One device's restart signal, shared by its driver and the admin console.
#[derive(Debug, Clone, Default)]
pub struct Restart(Arc<Notify>);

impl Restart {
    /// Asks the driver, if it is serving the port now, to start over.
    pub fn request(&self) {
        self.0.notify_waiters();
    }

    /// Resolves when a restart is asked for.
    pub async fn requested(&self) {
        self.0.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_reaches_the_waiting_driver_and_is_not_kept_for_later() {
        let restart = Restart::default();
        let mut waiting = Box::pin(restart.requested());
        assert!(futures_util::poll!(&mut waiting).is_pending());
        restart.request();
        waiting.await;
        // Nobody waits now: the request is dropped, not stored.
        restart.request();
        let mut later = Box::pin(restart.requested());
        assert!(futures_util::poll!(&mut later).is_pending());
    }
}
