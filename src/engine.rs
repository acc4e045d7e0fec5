//! The call engine task: the one owner of every line's state. Device
//! drivers send it `LineEvent`s; it runs each line's `LineMachine`, asks the
//! store who is calling, writes CDRs, and broadcasts `CallEvent`s to the
//! store, recorder, screen-pop and metrics consumers.

use crate::calls::{CallPolicy, Identification, LineMachine, Step};
use crate::event::{CallEvent, Caller, CallerId, LineEvent, LineEventKind};
use crate::phone::{MatchOutcome, MatchPolicy, MatchRule, Normalizer};
use crate::store::{LookupResult, StoreHandle};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{broadcast, mpsc};

/// How many call events a slow consumer may fall behind before it misses
/// some (it is told, and resynchronises; nobody else waits for it).
pub const EVENT_BUFFER: usize = 4096;

/// Everything the engine needs; built once at start.
pub struct Engine {
    store: StoreHandle,
    normalizer: Arc<Normalizer>,
    match_policy: MatchPolicy,
    default_policy: CallPolicy,
    policies: HashMap<Arc<str>, CallPolicy>,
    lines: HashMap<Arc<str>, LineMachine>,
    events: broadcast::Sender<CallEvent>,
}

/// A new call id: time-ordered and unique across restarts (UUID v7), as it
/// names the call's recording and CDR.
pub fn new_call_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Engine {
    pub fn new(
        store: StoreHandle,
        normalizer: Arc<Normalizer>,
        match_policy: MatchPolicy,
        default_policy: CallPolicy,
    ) -> Engine {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Engine {
            store,
            normalizer,
            match_policy,
            default_policy,
            policies: HashMap::new(),
            lines: HashMap::new(),
            events,
        }
    }

    /// Sets a line's call policy (its ring timeout comes from its device's profile).
    pub fn set_policy(&mut self, line: &str, policy: CallPolicy) {
        self.policies.insert(line.into(), policy);
    }

    /// The sender of call events, to subscribe more receivers later.
    pub fn sender(&self) -> broadcast::Sender<CallEvent> {
        self.events.clone()
    }

    /// A receiver of every call event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<CallEvent> {
        self.events.subscribe()
    }

    /// Runs until every sender of line events is gone.
    pub async fn run(mut self, mut rx: mpsc::Receiver<LineEvent>) {
        loop {
            let deadline = self.lines.values().filter_map(|m| m.next_deadline()).min();
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = rx.recv() => match event {
                    Some(e) => self.handle(e).await,
                    None => break,
                },
                _ = timer => self.tick().await,
            }
        }
        // Calls still open when the daemon stops end now, so no CDR is lost:
        // a tick far in the future ends every call.
        let far = Instant::now() + std::time::Duration::from_secs(365 * 24 * 3600);
        self.tick_at(far, crate::store::now_ms()).await;
    }

    async fn tick(&mut self) {
        self.tick_at(Instant::now(), crate::store::now_ms()).await;
    }

    async fn tick_at(&mut self, now: Instant, now_ms: i64) {
        let names: Vec<Arc<str>> = self.lines.keys().cloned().collect();
        for name in names {
            let steps = match self.lines.get_mut(&name) {
                Some(m) => m.on_tick(now, now_ms),
                None => continue,
            };
            self.apply(&name, steps).await;
        }
    }

    async fn handle(&mut self, event: LineEvent) {
        match event.kind {
            LineEventKind::Device(state) => {
                let _ = self.events.send(CallEvent::Device {
                    device: event.device.clone(),
                    state,
                });
            }
            LineEventKind::Signal(signal) => {
                let policy = self
                    .policies
                    .get(&event.line)
                    .copied()
                    .unwrap_or(self.default_policy);
                let machine = self.lines.entry(event.line.clone()).or_insert_with(|| {
                    LineMachine::new(
                        event.line.clone(),
                        event.device.clone(),
                        policy,
                        Box::new(new_call_id),
                    )
                });
                let steps = machine.on_signal(&signal, event.at, event.at_ms);
                self.apply(&event.line, steps).await;
            }
        }
    }

    async fn apply(&mut self, line: &Arc<str>, steps: Vec<Step>) {
        for step in steps {
            match step {
                Step::Emit(e) => {
                    let _ = self.events.send(e);
                }
                Step::Identify { call_id, caller } => {
                    let (who, id) = self.identify(caller).await;
                    if let Some(m) = self.lines.get_mut(line) {
                        if let Some(e) = m.identified(&call_id, who, id) {
                            let _ = self.events.send(e);
                        }
                    }
                }
                Step::Write(cdr) => {
                    let uid = cdr.call_uid.clone();
                    if let Err(e) = self.store.call(move |s| s.write_cdr(&cdr)).await {
                        tracing::error!(call = %uid, error = %e, "could not write the CDR");
                    }
                }
            }
        }
    }

    /// Normalises the number and asks the store who it belongs to.
    async fn identify(&self, cid: CallerId) -> (Caller, Identification) {
        let normalized = cid
            .number
            .as_deref()
            .and_then(|n| self.normalizer.normalize_lenient(n));
        let lookup = match normalized.clone() {
            Some(n) => {
                let policy = self.match_policy;
                self.store
                    .call(move |s| s.lookup(&n, &policy))
                    .await
                    .unwrap_or_else(|e| {
                        tracing::error!(error = %e, "customer lookup failed; popping as unknown");
                        none()
                    })
            }
            None => none(),
        };
        let id = Identification {
            e164: normalized.as_ref().and_then(|n| n.e164.clone()),
            national: normalized.as_ref().map(|n| n.national.clone()),
            customer_id: (lookup.matches.len() == 1).then(|| lookup.matches[0].id),
            rule: lookup.rule,
        };
        let caller = Caller {
            raw_number: cid.number,
            normalized: normalized.as_ref().map(|n| n.canonical().to_string()),
            absent: cid.absent,
            name: cid.name,
            rule: lookup.rule,
            outcome: lookup.outcome,
            matches: lookup.matches,
        };
        (caller, id)
    }
}

fn none() -> LookupResult {
    LookupResult {
        rule: MatchRule::None,
        outcome: MatchOutcome::None,
        matches: Vec::new(),
    }
}
