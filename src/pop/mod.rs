//! Screen-pops: the websocket protocol, the hub that routes call events to
//! agent desktops, what a pop carries, and the wallboard feed.
//!
//! Threads: the [`Hub`] runs on the line thread beside the call engine, so
//! no thread wake-up lies between a caller-ID byte and its pop; its state
//! lives in plain cores ([`session`], [`agents`], [`routing`]) that take the
//! time as an argument. The [`wallboard_feed`] runs on the main runtime:
//! nothing a wallboard viewer does can delay a pop.

pub mod agents;
pub mod command;
pub mod content;
pub mod forms;
pub mod hub;
pub mod protocol;
pub mod routing;
pub mod session;
pub mod wallboard;
pub mod wallboard_feed;

pub use hub::{Hub, HubHandle, HubSettings, LiveCall};

use crate::event::CallEvent;
use crate::store::StoreHandle;
use tokio::sync::{broadcast, mpsc};

/// Starts the hub on `line_runtime` (the line thread's) and the wallboard
/// feed on the current runtime. `subscribe` gives each its own receiver of
/// the call events, with the devices' states replayed first.
pub async fn start(
    store: &StoreHandle,
    settings: HubSettings,
    metrics: crate::metrics::Metrics,
    line_runtime: &tokio::runtime::Handle,
    subscribe: impl Fn() -> (Vec<CallEvent>, broadcast::Receiver<CallEvent>),
) -> crate::store::Result<HubHandle> {
    let midnight = wallboard::local_midnight(crate::store::now_ms());
    let counts = store
        .reports()
        .call(move |s| s.outcome_counts(midnight, i64::MAX))
        .await?;
    let mut today = wallboard::Today {
        day_start: midnight,
        ..Default::default()
    };
    for (outcome, n) in counts {
        today.count(&outcome, n);
    }
    let (feed_tx, feed_rx) = mpsc::unbounded_channel();
    let (devices_now, events) = subscribe();
    tokio::spawn(wallboard_feed::WallboardFeed::new(today, &devices_now).run(events, feed_rx));
    let (hub, handle) = Hub::new(store.clone(), settings, feed_tx)?;
    let (_, events) = subscribe();
    line_runtime.spawn(hub.with_metrics(metrics).run(events));
    Ok(handle)
}
