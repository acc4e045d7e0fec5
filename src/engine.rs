//! The call engine task: the one owner of every line's state. Device
//! drivers send it `LineEvent`s; it runs each line's `LineMachine`, asks the
//! store who is calling, writes CDRs, and broadcasts `CallEvent`s to the
//! store, recorder, screen-pop and metrics consumers.
//!
//! The lookup is on the path to every screen-pop, so the engine asks its own
//! read-only connection directly (an indexed lookup takes 10-40 us) instead
//! of queueing behind the writer thread: two thread hops cost more than the
//! query. CDR writes go to the writer thread and are not waited for. Any
//! commit by another connection empties the reader's page cache, so after
//! one (our CDRs, noticed at once; anyone else's, within
//! [`CACHE_CHECK_EVERY`]) the engine warms it again while no call waits.

use crate::calls::{
    CallPolicy, DialError, DialRequest, Identification, LineCommand, LineMachine, Step,
};
use crate::event::{CallEvent, Caller, CallerId, LineEvent, LineEventKind};
use crate::phone::{MatchOutcome, MatchPolicy, MatchRule, Normalizer};
use crate::store::{CallBlocks, LookupResult, Store, StoreHandle};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{broadcast, mpsc, oneshot};

/// The way to a device's driver for what a line must do (dial, hang up):
/// the line's name and the command.
pub type DeviceCommands = mpsc::Sender<(Arc<str>, LineCommand)>;

/// How many commands may wait for a device's driver.
pub const DEVICE_COMMANDS: usize = 16;

/// What the rest of the daemon asks of the engine.
enum Control {
    Dial {
        line: Arc<str>,
        request: DialRequest,
        reply: oneshot::Sender<Result<Arc<str>, DialError>>,
    },
    HangUp {
        call_id: String,
        reply: oneshot::Sender<Result<(), DialError>>,
    },
}

/// A cloneable way to ask the engine to dial and hang up (the dialer
/// service, the CLI's daemon side).
#[derive(Clone)]
pub struct EngineControl(mpsc::Sender<Control>);

impl EngineControl {
    /// Dials `request` on `line`; the new call's id, or why not.
    pub async fn dial(&self, line: &str, request: DialRequest) -> Result<Arc<str>, DialError> {
        let (reply, answer) = oneshot::channel();
        let gone = || DialError::DeviceDown {
            line: line.to_string(),
        };
        self.0
            .send(Control::Dial {
                line: line.into(),
                request,
                reply,
            })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Ends the call `call_id` (cancels it while it dials).
    pub async fn hang_up(&self, call_id: &str) -> Result<(), DialError> {
        let (reply, answer) = oneshot::channel();
        let gone = || DialError::NoSuchCall {
            line: String::new(),
            call_id: call_id.to_string(),
        };
        self.0
            .send(Control::HangUp {
                call_id: call_id.to_string(),
                reply,
            })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// How many call events a slow consumer may fall behind before it misses
/// some (it is told, and resynchronises; nobody else waits for it).
pub const EVENT_BUFFER: usize = 4096;

/// How often the engine looks whether others' writes emptied its read cache.
pub const CACHE_CHECK_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Everything the engine needs; built once at start.
pub struct Engine {
    store: StoreHandle,
    reader: Store,
    normalizer: Arc<Normalizer>,
    match_policy: MatchPolicy,
    default_policy: CallPolicy,
    policies: HashMap<Arc<str>, CallPolicy>,
    lines: HashMap<Arc<str>, LineMachine>,
    events: broadcast::Sender<CallEvent>,
    /// Told by the store thread each time it has written one of our CDRs.
    written_tx: mpsc::UnboundedSender<()>,
    written_rx: mpsc::UnboundedReceiver<()>,
    /// The reader's `data_version` when its cache was last warmed.
    warm_version: i64,
    /// Identified inbound calls whose `call.ringing` fact is still to be
    /// written: told after the hub has popped them (see [`Engine::run`]).
    ringing_to_tell: Vec<CallEvent>,
    /// The inbound blacklist, held here (read again when it changes).
    blocks: HeldBlocks,
    /// Each device's latest state, for consumers that subscribe after a
    /// device has already reported (metrics, the wallboard).
    device_states: DeviceStates,
    /// The lines that can dial: their device and the way to its driver.
    dialers: HashMap<Arc<str>, (Arc<str>, DeviceCommands)>,
    control_tx: mpsc::Sender<Control>,
    control_rx: mpsc::Receiver<Control>,
    /// How soon a missed caller is to be called back.
    callback_within: std::time::Duration,
}

/// Each device's latest state, shared with whoever asks.
pub type DeviceStates =
    Arc<std::sync::Mutex<std::collections::BTreeMap<Arc<str>, crate::event::DeviceState>>>;

/// A new call id: time-ordered and unique across restarts (UUID v7), as it
/// names the call's recording and CDR.
pub fn new_call_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Engine {
    /// The devices' latest states, as the engine last heard them.
    pub fn device_states(&self) -> DeviceStates {
        self.device_states.clone()
    }

    /// Builds the engine over `store`, opening its own reader on the same file.
    pub fn new(
        store: StoreHandle,
        normalizer: Arc<Normalizer>,
        match_policy: MatchPolicy,
        default_policy: CallPolicy,
    ) -> crate::store::Result<Engine> {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let reader = Store::open_reader(store.path())?;
        let (written_tx, written_rx) = mpsc::unbounded_channel();
        let (control_tx, control_rx) = mpsc::channel(256);
        Ok(Engine {
            dialers: HashMap::new(),
            callback_within: std::time::Duration::from_secs(30 * 60),
            control_tx,
            control_rx,
            written_tx,
            written_rx,
            warm_version: i64::MIN,
            ringing_to_tell: Vec::new(),
            blocks: HeldBlocks::default(),
            device_states: DeviceStates::default(),
            reader,
            store,
            normalizer,
            match_policy,
            default_policy,
            policies: HashMap::new(),
            lines: HashMap::new(),
            events,
        })
    }

    /// How soon missed callers are due to be called back (`[calls]
    /// callback_within_mins`).
    pub fn set_callback_within(&mut self, within: std::time::Duration) {
        self.callback_within = within;
    }

    /// A way to ask this engine to dial and hang up.
    pub fn control(&self) -> EngineControl {
        EngineControl(self.control_tx.clone())
    }

    /// Makes `line` (of `device`) one that dials, through `commands` to
    /// its device's driver. Its policy must say how it dials.
    pub fn add_dialer(&mut self, line: &str, device: &str, commands: DeviceCommands) {
        self.dialers.insert(line.into(), (device.into(), commands));
    }

    /// Sets a line's call policy (its ring timeout comes from its device's profile).
    pub fn set_policy(&mut self, line: &str, policy: CallPolicy) {
        self.policies.insert(line.into(), policy);
    }

    /// The store the engine writes to: the line side's other drivers (GSM
    /// modems keeping received messages) write there too.
    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    /// How the engine reads numbers (the config's region): GSM modems read
    /// delivery reports' recipients the same way.
    pub fn normalizer(&self) -> &Arc<Normalizer> {
        &self.normalizer
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
        self.keep_cache_warm();
        let mut cache_check = tokio::time::interval(CACHE_CHECK_EVERY);
        cache_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                    Some(e) => self.handle(e),
                    None => break,
                },
                _ = timer => self.tick(),
                Some(control) = self.control_rx.recv() => self.on_control(control),
                Some(()) = self.written_rx.recv() => self.keep_cache_warm(),
                _ = cache_check.tick() => self.keep_cache_warm(),
            }
            if !self.ringing_to_tell.is_empty() {
                // The hub runs on this thread: it pops the caller before
                // the store thread is woken for the webhook fact (which
                // would take the other core at the pop's moment). Nothing
                // else is written between the identification and here, so
                // the facts keep their order.
                tokio::task::yield_now().await;
                for e in std::mem::take(&mut self.ringing_to_tell) {
                    tell_ringing(&self.store, &e);
                }
            }
        }
        // Calls still open when the daemon stops end now, so no CDR is lost:
        // a tick far in the future ends every call.
        let far = Instant::now() + std::time::Duration::from_secs(365 * 24 * 3600);
        self.tick_at(far, crate::store::now_ms());
        // The engine is done only when its CDRs are in the store.
        if let Err(e) = self.store.drain().await {
            tracing::error!(error = %e, "could not finish writing CDRs");
        }
    }

    /// Warms the reader's cache if a commit since the last time emptied it.
    fn keep_cache_warm(&mut self) {
        let warmed = self.reader.data_version().and_then(|v| {
            if v != self.warm_version {
                self.reader.refresh_read_cache()?;
                self.warm_version = v;
            }
            Ok(())
        });
        if let Err(e) = warmed {
            tracing::warn!(error = %e, "could not warm the lookup cache");
        }
    }

    fn tick(&mut self) {
        self.tick_at(Instant::now(), crate::store::now_ms());
    }

    fn tick_at(&mut self, now: Instant, now_ms: i64) {
        let names: Vec<Arc<str>> = self.lines.keys().cloned().collect();
        for name in names {
            let steps = match self.lines.get_mut(&name) {
                Some(m) => m.on_tick(now, now_ms),
                None => continue,
            };
            self.apply(&name, steps);
        }
    }

    fn on_control(&mut self, control: Control) {
        match control {
            Control::Dial {
                line,
                request,
                reply,
            } => {
                let _ = reply.send(self.dial(&line, request));
            }
            Control::HangUp { call_id, reply } => {
                let found = self
                    .lines
                    .iter()
                    .find(|(_, m)| m.call_id().is_some_and(|c| **c == *call_id))
                    .map(|(l, _)| l.clone());
                let result = match found {
                    None => Err(DialError::NoSuchCall {
                        line: String::new(),
                        call_id,
                    }),
                    Some(line) => {
                        let m = self.lines.get_mut(&line).expect("found above");
                        m.hang_up(&call_id, crate::store::now_ms())
                            .map(|steps| self.apply(&line, steps))
                    }
                };
                let _ = reply.send(result);
            }
        }
    }

    fn dial(&mut self, line: &Arc<str>, request: DialRequest) -> Result<Arc<str>, DialError> {
        let Some((device, _)) = self.dialers.get(line).cloned() else {
            return Err(DialError::CannotDial {
                line: line.to_string(),
            });
        };
        let up = self
            .device_states
            .lock()
            .map(|s| s.get(&device) == Some(&crate::event::DeviceState::Up))
            .unwrap_or(false);
        if !up {
            return Err(DialError::DeviceDown {
                line: line.to_string(),
            });
        }
        let policy = self.policy_of(line);
        let machine = self.lines.entry(line.clone()).or_insert_with(|| {
            LineMachine::new(line.clone(), device.clone(), policy, Box::new(new_call_id))
        });
        let (call_id, steps) = machine.dial(request, Instant::now(), crate::store::now_ms())?;
        self.apply(line, steps);
        Ok(call_id)
    }

    fn policy_of(&self, line: &str) -> CallPolicy {
        self.policies
            .get(line)
            .copied()
            .unwrap_or(self.default_policy)
    }

    /// Hands a line's command to its device's driver; a driver that cannot
    /// take it fails the call at once rather than leaving it dialling.
    fn command(&mut self, line: &Arc<str>, command: LineCommand) {
        let sent = match self.dialers.get(line) {
            Some((_, tx)) => tx.try_send((line.clone(), command.clone())).is_ok(),
            None => false,
        };
        if sent || command == LineCommand::HangUp {
            if !sent {
                tracing::warn!(%line, "could not tell the device to hang up");
            }
            return;
        }
        tracing::warn!(%line, "the device's driver cannot take the dial command");
        let failed = crate::event::LineSignal::Dial {
            progress: crate::event::DialProgress::Failed,
            detail: Some("the device's driver is not taking commands".into()),
        };
        let steps = self
            .lines
            .get_mut(line)
            .map(|m| m.on_signal(&failed, Instant::now(), crate::store::now_ms(), None));
        self.apply(line, steps.unwrap_or_default());
    }

    fn handle(&mut self, event: LineEvent) {
        match event.kind {
            LineEventKind::Device(state) => {
                let before = self
                    .device_states
                    .lock()
                    .ok()
                    .and_then(|mut states| states.insert(event.device.clone(), state.clone()));
                tell_device(
                    &self.store,
                    &event.device,
                    before.as_ref(),
                    &state,
                    event.at_ms,
                );
                if matches!(state, crate::event::DeviceState::Down { .. }) {
                    // Calls under way on its lines end at the last thing
                    // heard, and the lines are ready when it returns.
                    let lines: Vec<Arc<str>> = self
                        .lines
                        .iter()
                        .filter(|(_, m)| m.device() == &*event.device && m.busy())
                        .map(|(l, _)| l.clone())
                        .collect();
                    for line in lines {
                        let steps = self
                            .lines
                            .get_mut(&line)
                            .map(|m| m.device_lost(event.at_ms));
                        self.apply(&line, steps.unwrap_or_default());
                    }
                }
                let _ = self.events.send(CallEvent::Device {
                    device: event.device.clone(),
                    state,
                });
            }
            LineEventKind::Signal(signal) => {
                let signal = bounded(signal, &event.line);
                let policy = self.policy_of(&event.line);
                let machine = self.lines.entry(event.line.clone()).or_insert_with(|| {
                    LineMachine::new(
                        event.line.clone(),
                        event.device.clone(),
                        policy,
                        Box::new(new_call_id),
                    )
                });
                let steps = machine.on_signal(&signal, event.at, event.at_ms, event.backlog);
                self.apply(&event.line, steps);
            }
        }
    }

    fn apply(&mut self, line: &Arc<str>, steps: Vec<Step>) {
        for step in steps {
            match step {
                Step::Emit(e) => {
                    if let CallEvent::Answered { call_id, .. } = &e {
                        self.tell_answered(line, call_id);
                    }
                    let _ = self.events.send(e);
                }
                Step::Identify { call_id, caller } => {
                    let (inbound, rejects) = self
                        .lines
                        .get(line)
                        .map_or((true, false), |m| (!m.dialling(), m.rejects_calls()));
                    let (who, id) = self.identify(caller, inbound, rejects);
                    let refuse = who.blocked.clone().filter(|b| b.rejected);
                    let Some(m) = self.lines.get_mut(line) else {
                        continue;
                    };
                    if let Some(e) = m.identified(&call_id, who, id) {
                        if inbound {
                            self.ringing_to_tell.push(e.clone());
                        }
                        let _ = self.events.send(e);
                    }
                    if let Some(blocked) = refuse {
                        // A blacklisted caller on a device that can refuse:
                        // hung up, audited, popped nowhere.
                        let steps = m.reject(&call_id);
                        let target = format!("call:{call_id}");
                        let detail = serde_json::json!({ "line": line, "reason": blocked.reason });
                        self.store.users().submit(move |u| {
                            let entry = crate::store::AuditEntry {
                                actor: "system",
                                user_id: None,
                                action: "call.rejected",
                                target: Some(&target),
                                detail,
                                remote_addr: None,
                            };
                            if let Err(e) = u.audit(&entry) {
                                tracing::warn!(error = %e, "could not audit a rejected call");
                            }
                        });
                        self.apply(line, steps);
                    }
                }
                Step::Command { line, command } => self.command(&line, command),
                Step::Write(cdr) => {
                    // What the call means for the call-back queue, written
                    // after the CDR (facts land in order).
                    let queued = cdr.clone();
                    let due_in = self.callback_within.as_millis() as i64;
                    let written = self.written_tx.clone();
                    // Kept and tried again while the disk is full: a call
                    // record is never lost (`write_cdr` is an upsert).
                    self.store.calls().submit_fact("CDR", move |s| {
                        s.write_cdr(&cdr)?;
                        let _ = written.send(());
                        Ok(())
                    });
                    self.store
                        .followups()
                        .submit_fact("call-back queue", move |f| f.after_call(&queued, due_in));
                }
            }
        }
    }

    /// Queues the `call.answered` webhook event of the call on `line`.
    fn tell_answered(&self, line: &Arc<str>, call_id: &Arc<str>) {
        let Some(call) = self
            .lines
            .get(line)
            .and_then(|m| m.snapshot())
            .filter(|c| c.call_uid == *call_id)
        else {
            return;
        };
        let matched = call.matched.as_ref();
        let data = serde_json::json!({
            "call_uid": call.call_uid,
            "line": line,
            "direction": call.direction,
            "number": {
                "e164": matched.and_then(|m| m.e164.clone()),
                "national": matched.and_then(|m| m.national.clone()),
                "raw": call.raw_number,
            },
            "customer_id": matched.and_then(|m| m.customer_id),
            "at": call.answered_ms,
        });
        let key = call_id.to_string();
        self.store
            .webhooks()
            .submit_fact("webhook event", move |w| {
                w.emit_once("call.answered", &key, &data).map(drop)
            });
    }

    /// Normalises the number and asks the store who it belongs to and
    /// (for an incoming call) whether it is blacklisted; `rejects`: the
    /// line's device can refuse the call.
    fn identify(
        &mut self,
        cid: CallerId,
        inbound: bool,
        rejects: bool,
    ) -> (Caller, Identification) {
        let normalized = cid
            .number
            .as_deref()
            .and_then(|n| self.normalizer.normalize_lenient(n));
        // The customer and the blacklist's version in one snapshot: the
        // reader takes its lock and checks its cache once.
        let (reader, blocks, policy) = (&self.reader, &mut self.blocks, &self.match_policy);
        let lookup = reader.read_snapshot(|r| {
            if inbound {
                blocks.refresh_logged(r);
            }
            match &normalized {
                Some(n) => r.customers().lookup(n, policy),
                None => Ok(none()),
            }
        });
        let lookup = lookup.unwrap_or_else(|e| {
            tracing::error!(error = %e, "customer lookup failed; popping as unknown");
            none()
        });
        let id = Identification {
            e164: normalized.as_ref().and_then(|n| n.e164.clone()),
            national: normalized.as_ref().map(|n| n.national.clone()),
            customer_id: (lookup.matches.len() == 1).then(|| lookup.matches[0].id),
            rule: lookup.rule,
        };
        let info = normalized
            .as_ref()
            .and_then(|n| self.normalizer.number_info(n));
        let blocked = match (&normalized, inbound) {
            (Some(n), true) => self
                .blocks
                .list
                .covering(&crate::phone::dialled_form(n))
                .map(|b| crate::event::Blocked {
                    rejected: b.reject && rejects,
                    reason: b.reason.clone(),
                }),
            _ => None,
        };
        let caller = Caller {
            info,
            blocked,
            raw_number: cid.number,
            normalized: normalized.as_ref().map(|n| n.canonical().to_string()),
            written: normalized.as_ref().map(crate::phone::dialled_form),
            absent: cid.absent,
            name: cid.name,
            rule: lookup.rule,
            outcome: lookup.outcome,
            matches: lookup.matches,
        };
        (caller, id)
    }
}

/// The inbound blacklist as the engine holds it: read again only when the
/// store's data changed (`data_version`, no read at all) and the list's own
/// version moved (one small read), so a change made anywhere (the console,
/// the CLI) counts from the next call on.
#[derive(Default)]
struct HeldBlocks {
    data_version: Option<i64>,
    version: Option<i64>,
    list: CallBlocks,
}

impl HeldBlocks {
    /// Reads the list again if it changed; on an error the last list
    /// read stands (a caller still pops).
    fn refresh_logged(&mut self, reader: &Store) {
        if let Err(e) = self.refresh(reader) {
            tracing::error!(error = %e, "could not read the blacklist; the last one read stands");
        }
    }

    fn refresh(&mut self, reader: &Store) -> crate::store::Result<()> {
        let data_version = reader.data_version()?;
        if self.data_version == Some(data_version) {
            return Ok(());
        }
        let calls = reader.calls();
        let version = calls.call_blocks_version()?;
        if self.version != Some(version) {
            self.list = CallBlocks::new(calls.call_blocks()?);
            self.version = Some(version);
        }
        self.data_version = Some(data_version);
        Ok(())
    }
}

/// The longest caller number kept (E.164 allows 15 digits; room for
/// prefixes and extensions) and the longest caller name (ETSI names are up
/// to 50 characters).
pub const MAX_NUMBER_CHARS: usize = 32;
/// See [`MAX_NUMBER_CHARS`].
pub const MAX_NAME_CHARS: usize = 64;

/// Caps what a device says about a caller: a broken or hostile device (a
/// `+CLIP` of 3,000 digits) must not reach the store, the pops and the
/// reports whole. The cut is logged once per event.
fn bounded(signal: crate::event::LineSignal, line: &str) -> crate::event::LineSignal {
    let crate::event::LineSignal::CallerId(mut cid) = signal else {
        return signal;
    };
    for (field, value, max) in [
        ("number", &mut cid.number, MAX_NUMBER_CHARS),
        ("name", &mut cid.name, MAX_NAME_CHARS),
    ] {
        if let Some(v) = value.as_mut() {
            let chars = v.chars().count();
            if chars > max {
                tracing::warn!(
                    line,
                    field,
                    chars,
                    max,
                    "caller ID too long from the device; cut"
                );
                *v = v.chars().take(max).collect();
            }
        }
    }
    crate::event::LineSignal::CallerId(cid)
}

fn none() -> LookupResult {
    LookupResult {
        rule: MatchRule::None,
        outcome: MatchOutcome::None,
        matches: Vec::new(),
    }
}

/// Queues `device.down` or `device.up` when a device's state changed: a
/// device that was never up is reported down (it did not come up at
/// start), not up on its first report.
fn tell_device(
    store: &StoreHandle,
    device: &str,
    before: Option<&crate::event::DeviceState>,
    now: &crate::event::DeviceState,
    at_ms: i64,
) {
    use crate::event::DeviceState;
    let (event, reason) = match (before, now) {
        (Some(b), n) if b == n => return,
        (Some(DeviceState::Down { .. }), DeviceState::Down { .. }) => return,
        (None, DeviceState::Up) => return,
        (_, DeviceState::Up) => ("device.up", None),
        (_, DeviceState::Down { reason }) => ("device.down", Some(reason.clone())),
    };
    let data = serde_json::json!({ "device": device, "reason": reason, "at": at_ms });
    store
        .webhooks()
        .submit_fact("webhook event", move |w| w.emit(event, &data).map(drop));
}

/// Queues the `call.ringing` webhook event of an inbound call whose
/// caller is known (the pop's moment), with what the pop shows. Off the
/// engine's thread: the store thread writes it (only when someone listens).
fn tell_ringing(store: &StoreHandle, identified: &CallEvent) {
    let CallEvent::CallerIdentified {
        call_id,
        line,
        caller,
    } = identified
    else {
        return;
    };
    let key = call_id.to_string();
    let data = serde_json::json!({
        "call_uid": call_id,
        "line": line,
        "direction": "inbound",
        "caller": caller,
        "at": crate::store::now_ms(),
    });
    store.webhooks().submit_fact("webhook event", move |w| {
        w.emit_once("call.ringing", &key, &data).map(drop)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::LineSignal;

    #[test]
    fn a_device_cannot_hand_over_an_endless_caller_id() {
        let mut cid = CallerId::from_value(&"1".repeat(3000));
        cid.name = Some("周".repeat(500));
        let LineSignal::CallerId(cut) = bounded(LineSignal::CallerId(cid), "box1/1") else {
            panic!("still a caller ID");
        };
        assert_eq!(cut.number.unwrap().len(), MAX_NUMBER_CHARS);
        assert_eq!(cut.name.unwrap().chars().count(), MAX_NAME_CHARS);
        let normal = CallerId::from_value("13812345678");
        assert_eq!(
            bounded(LineSignal::CallerId(normal.clone()), "box1/1"),
            LineSignal::CallerId(normal)
        );
    }
}
