//! The pop hub: the task on the line thread that turns call events into
//! pops on the right desktops. It owns the state cores — [`Sessions`]
//! (numbering, replay, backpressure), [`Agents`] (states, after-call work)
//! and [`Routing`] (bindings, open calls, claims) — feeds them events and
//! commands with the time, and carries out what they answer: frames to
//! desktops (never waiting), writes queued to the store thread, agents'
//! states to the wallboard feed (which runs on the main runtime).

use super::agents::{AgentView, Agents, StateChange};
use super::command::{Action, Command, CommandError};
use super::content::Pop;
use super::forms::FormCache;
use super::protocol::VERSION;
use super::routing::Routing;
use super::session::{ConnId, Resumed, Sessions};
use super::wallboard_feed::FeedInput;
use crate::event::CallEvent;
use crate::store::{AgentState, Binding, Store, StoreHandle, User};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot};

pub use super::session::RESUME_GRACE;

/// The hub's settings, from `[screen_pop]`.
#[derive(Debug, Clone)]
pub struct HubSettings {
    pub form: String,
    pub after_call: Duration,
    pub after_call_max: Duration,
    pub heartbeat: Duration,
    pub replay_log: usize,
    pub send_queue: usize,
}

impl HubSettings {
    /// From the configuration.
    pub fn from_config(c: &crate::config::ScreenPopConfig) -> HubSettings {
        HubSettings {
            form: c.form.clone(),
            after_call: Duration::from_secs(c.after_call_secs),
            after_call_max: Duration::from_secs(c.after_call_max_secs),
            heartbeat: Duration::from_secs(c.heartbeat_secs),
            replay_log: c.replay_log,
            send_queue: c.send_queue,
        }
    }
}

/// What the web side tells the hub.
enum HubMsg {
    Connect {
        conn: ConnId,
        user: User,
        out: mpsc::Sender<Arc<str>>,
    },
    Resume {
        conn: ConnId,
        session_id: String,
        last_seq: u64,
    },
    Disconnect {
        conn: ConnId,
    },
    Ack {
        conn: ConnId,
        seq: u64,
    },
    Command {
        conn: ConnId,
        command: Command,
    },
    /// A command's outcome worked out elsewhere (a work-order save).
    Reply {
        conn: ConnId,
        id: String,
        result: Result<Value, CommandError>,
        saved_call: Option<String>,
    },
    Error {
        conn: ConnId,
        code: String,
        message: String,
        id: Option<String>,
    },
    Bind {
        line: String,
        binding: Option<Binding>,
    },
    Agents {
        reply: oneshot::Sender<Vec<Value>>,
    },
    /// A form was saved: pops show it from now on.
    FormsChanged,
    /// The lines an agent may dial on.
    LinesOf {
        username: String,
        team: Option<String>,
        reply: oneshot::Sender<Vec<String>>,
    },
    /// What a CRM connector found of an open call's caller.
    Crm {
        call_id: String,
        data: Value,
    },
    /// Who an open call belongs to (for a work order saved on it).
    CallParties {
        call_id: String,
        reply: oneshot::Sender<Option<LiveCall>>,
    },
}

/// Who an open call belongs to: the users it was offered to or taken by
/// (with their teams), its line's team, and the customers its number
/// matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveCall {
    pub users: Vec<(i64, Option<String>)>,
    pub team: Option<String>,
    pub candidates: Vec<i64>,
}

/// A cloneable way to talk to the hub and the wallboard feed.
#[derive(Clone)]
pub struct HubHandle {
    tx: mpsc::Sender<HubMsg>,
    feed: mpsc::UnboundedSender<FeedInput>,
    next_conn: Arc<std::sync::atomic::AtomicU64>,
}

impl HubHandle {
    /// Registers a desktop connection; the hub sends `hello` on `out`.
    pub async fn connect(&self, user: User, out: mpsc::Sender<Arc<str>>) -> ConnId {
        let conn = self
            .next_conn
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.send(HubMsg::Connect { conn, user, out }).await;
        conn
    }

    /// The connection asks to continue an earlier session.
    pub async fn resume(&self, conn: ConnId, session_id: String, last_seq: u64) {
        self.send(HubMsg::Resume {
            conn,
            session_id,
            last_seq,
        })
        .await;
    }

    /// The connection is gone; its session waits for a resume.
    pub async fn disconnect(&self, conn: ConnId) {
        self.send(HubMsg::Disconnect { conn }).await;
    }

    /// The desktop has shown the message `seq`.
    pub async fn ack(&self, conn: ConnId, seq: u64) {
        self.send(HubMsg::Ack { conn, seq }).await;
    }

    /// A command the hub answers itself.
    pub async fn command(&self, conn: ConnId, command: Command) {
        self.send(HubMsg::Command { conn, command }).await;
    }

    /// Sends a command's result or error in the session. `saved_call`
    /// marks a saved work order, which starts after-call work.
    pub async fn reply(
        &self,
        conn: ConnId,
        id: String,
        result: Result<Value, CommandError>,
        saved_call: Option<String>,
    ) {
        self.send(HubMsg::Reply {
            conn,
            id,
            result,
            saved_call,
        })
        .await;
    }

    /// Sends an `error` in the session.
    pub async fn error(&self, conn: ConnId, code: &str, message: String, id: Option<String>) {
        self.send(HubMsg::Error {
            conn,
            code: code.to_string(),
            message,
            id,
        })
        .await;
    }

    /// Changes a line's binding (already stored by the caller).
    pub async fn bind(&self, line: String, binding: Option<Binding>) {
        self.send(HubMsg::Bind { line, binding }).await;
    }

    /// A form was saved; the hub reads the forms again.
    pub async fn forms_changed(&self) {
        self.send(HubMsg::FormsChanged).await;
    }

    /// Amends the pop of `call_id` with what a CRM connector found
    /// (`data` carries the connector's name): kept with the pop and sent
    /// as `call.crm` to whoever got it. Nothing once the call is over.
    pub async fn crm(&self, call_id: String, data: Value) {
        self.send(HubMsg::Crm { call_id, data }).await;
    }

    /// Who the open call `call_id` belongs to; `None` once it has ended
    /// (the store knows it then).
    pub async fn call_parties(&self, call_id: String) -> Option<LiveCall> {
        let (reply, rx) = oneshot::channel();
        self.send(HubMsg::CallParties { call_id, reply }).await;
        rx.await.ok().flatten()
    }

    /// The lines the agent `username` of `team` may dial on: bound to
    /// them, then to their team.
    pub async fn lines_of(&self, username: String, team: Option<String>) -> Vec<String> {
        let (reply, rx) = oneshot::channel();
        self.send(HubMsg::LinesOf {
            username,
            team,
            reply,
        })
        .await;
        rx.await.unwrap_or_default()
    }

    /// Every known agent's state, as `agent.state` data.
    pub async fn agents(&self) -> Vec<Value> {
        let (reply, rx) = oneshot::channel();
        self.send(HubMsg::Agents { reply }).await;
        rx.await.unwrap_or_default()
    }

    /// Subscribes a wallboard: the first frame on `out` is the whole
    /// picture `user` may see (`wallboard`), later ones its changes
    /// (`wallboard.delta`), at most a few a second.
    pub async fn wallboard(&self, user: User, out: mpsc::Sender<Arc<str>>) {
        if self.feed.send(FeedInput::Watch { user, out }).is_err() {
            tracing::warn!("the wallboard feed has stopped");
        }
    }

    async fn send(&self, msg: HubMsg) {
        if self.tx.send(msg).await.is_err() {
            tracing::warn!("the pop hub has stopped");
        }
    }
}

/// The hub itself; run it with [`Hub::run`] on the line thread.
pub struct Hub {
    settings: HubSettings,
    /// Reads for pops (customers, history, forms): a connection of its own,
    /// so a pop never queues behind the store thread's writes.
    reader: Store,
    store: StoreHandle,
    sessions: Sessions,
    agents: Agents,
    routing: Routing,
    forms: FormCache,
    rx: mpsc::Receiver<HubMsg>,
    feed: mpsc::UnboundedSender<FeedInput>,
    /// Told by the store thread when it has written what the hub queued:
    /// the commit emptied the reader's page cache, which is then refilled
    /// before the next pop needs it.
    written_tx: mpsc::UnboundedSender<()>,
    written_rx: mpsc::UnboundedReceiver<()>,
    /// The reader's `data_version` when its cache was last refilled.
    warm_version: i64,
    metrics: Option<crate::metrics::Metrics>,
    /// CRM answers that came before their call's pop (a cached answer
    /// races the caller ID to the hub), applied when it pops.
    early_crm: HashMap<String, (Instant, Vec<Value>)>,
}

/// How long a CRM answer waits for its call's pop.
const EARLY_CRM_KEPT: Duration = Duration::from_secs(30);
/// At most this many calls' early answers are kept.
const EARLY_CRM_MAX: usize = 1_000;

impl Hub {
    /// A hub over the store (it opens its own reader) with the stored
    /// bindings; agents' states go to the wallboard feed on `feed`.
    pub fn new(
        store: StoreHandle,
        settings: HubSettings,
        feed: mpsc::UnboundedSender<FeedInput>,
    ) -> crate::store::Result<(Hub, HubHandle)> {
        let reader = Store::open_reader(store.path())?;
        let bindings = reader.agents().line_bindings()?;
        for (line, binding) in &bindings {
            let _ = feed.send(FeedInput::Bind {
                line: line.clone(),
                binding: Some(binding.clone()),
            });
        }
        let routing = Routing::new(bindings);
        let mut forms = FormCache::new(&settings.form);
        forms.reload(&reader, Instant::now())?;
        let (tx, rx) = mpsc::channel(4096);
        let (written_tx, written_rx) = mpsc::unbounded_channel();
        Ok((
            Hub {
                sessions: Sessions::new(settings.replay_log),
                agents: Agents::new(settings.after_call)
                    .with_after_call_max(settings.after_call_max),
                settings,
                reader,
                store,
                routing,
                forms,
                rx,
                written_tx,
                written_rx,
                warm_version: i64::MIN,
                feed: feed.clone(),
                metrics: None,
                early_crm: HashMap::new(),
            },
            HubHandle {
                tx,
                feed,
                next_conn: Arc::new(std::sync::atomic::AtomicU64::new(1)),
            },
        ))
    }

    /// Counts delivered pops and their latency into `metrics`.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Hub {
        self.metrics = Some(metrics);
        self
    }

    /// Runs until the call events end and every handle is dropped.
    pub async fn run(mut self, mut events: broadcast::Receiver<CallEvent>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut heartbeat = tokio::time::interval(self.settings.heartbeat);
        let mut events_open = true;
        loop {
            tokio::select! {
                e = events.recv(), if events_open => match e {
                    Ok(e) => self.on_call_event(e),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "the pop hub fell behind the call events");
                    }
                    Err(broadcast::error::RecvError::Closed) => events_open = false,
                },
                msg = self.rx.recv() => match msg {
                    Some(m) => self.on_message(m),
                    None => break,
                },
                Some(()) = self.written_rx.recv() => self.keep_cache_warm(),
                _ = tick.tick() => self.on_tick(),
                _ = heartbeat.tick() => self.sessions.heartbeats(Instant::now()),
            }
        }
    }

    fn on_message(&mut self, msg: HubMsg) {
        let now = Instant::now();
        match msg {
            HubMsg::Connect { conn, user, out } => self.connect(conn, user, out),
            HubMsg::Resume {
                conn,
                session_id,
                last_seq,
            } => {
                let resumed = self.sessions.resume(conn, &session_id, last_seq, now);
                // Back after counting as offline: ready again, as on a new desktop.
                let back = match &resumed {
                    Resumed::Replayed { session_id, .. } | Resumed::Snapshot { session_id, .. } => {
                        self.sessions.user_of(session_id)
                    }
                    Resumed::Nothing => None,
                };
                if let Some(user) = back
                    .and_then(|u| self.agents.get(u))
                    .map(|a| a.user.clone())
                {
                    let change = self.agents.join(user, crate::store::now_ms());
                    self.apply(change);
                }
                match resumed {
                    Resumed::Replayed { session_id, count } => {
                        let data = json!({ "session_id": session_id, "replayed": count });
                        self.sessions
                            .send(&session_id, "resumed", &data.to_string(), now);
                    }
                    Resumed::Snapshot { session_id, reason } => {
                        self.send_snapshot(&session_id, reason)
                    }
                    Resumed::Nothing => {}
                }
            }
            HubMsg::Disconnect { conn } => self.sessions.detach(conn, now),
            HubMsg::Ack { conn, seq } => {
                if let Some((user, call)) = self.sessions.acked_call(conn, seq) {
                    if let (Some(m), Some(at)) = (&self.metrics, self.routing.acked(&call, user)) {
                        m.pop_delivered(at.elapsed().as_secs_f64());
                    }
                    tracing::debug!(seq, user, "pop acknowledged");
                }
            }
            HubMsg::Command { conn, command } => self.command(conn, command),
            HubMsg::Reply {
                conn,
                id,
                result,
                saved_call,
            } => {
                let Some(user_id) = self.sessions.of_conn(conn).map(|s| s.user_id) else {
                    return;
                };
                if let Some(call) = saved_call {
                    let open = self.routing.call(&call).is_some();
                    let change = self.agents.work_order_saved(
                        user_id,
                        &call,
                        open,
                        now,
                        crate::store::now_ms(),
                    );
                    self.apply(change);
                }
                self.finish_command(conn, user_id, &id, result);
            }
            HubMsg::Error {
                conn,
                code,
                message,
                id,
            } => {
                let data = json!({ "id": id, "code": code, "message": message });
                self.sessions
                    .send_conn(conn, "error", &data.to_string(), now);
            }
            HubMsg::Bind { line, binding } => {
                let _ = self.feed.send(FeedInput::Bind {
                    line: line.clone(),
                    binding: binding.clone(),
                });
                self.routing.bind(line, binding)
            }
            HubMsg::Agents { reply } => {
                let _ = reply.send(self.agents.all().map(AgentView::json).collect());
            }
            HubMsg::FormsChanged => self.reload_forms(now),
            HubMsg::Crm { call_id, data } => self.amend_with_crm(&call_id, data, now),
            HubMsg::CallParties { call_id, reply } => {
                let _ = reply.send(self.call_parties(&call_id));
            }
            HubMsg::LinesOf {
                username,
                team,
                reply,
            } => {
                let _ = reply.send(self.routing.lines_of(&username, team.as_deref()));
            }
        }
    }

    fn amend_with_crm(&mut self, call_id: &str, data: Value, now: Instant) {
        let popped = self.routing.call(call_id).is_some_and(|c| c.pop.is_some());
        if !popped {
            // Not popped yet (or over): kept a while for its pop.
            if self.early_crm.len() < EARLY_CRM_MAX || self.early_crm.contains_key(call_id) {
                self.early_crm
                    .entry(call_id.to_string())
                    .or_insert_with(|| (now, Vec::new()))
                    .1
                    .push(data);
            }
            return;
        }
        let Some(call) = self.routing.call_mut(call_id) else {
            return;
        };
        let Some(pop) = call.pop.as_mut() else {
            return;
        };
        // One entry per connector: a later answer replaces an earlier one.
        pop.crm.retain(|c| c["connector"] != data["connector"]);
        pop.crm.push(data.clone());
        let frame = json!({ "call_id": call_id, "crm": data }).to_string();
        for u in call.offered.clone() {
            self.sessions.send_user(u, "call.crm", &frame, now);
        }
    }

    fn connect(&mut self, conn: ConnId, user: User, out: mpsc::Sender<Arc<str>>) {
        let now = Instant::now();
        let id = uuid::Uuid::now_v7().to_string();
        let user_id = user.id;
        self.sessions.open(id.clone(), conn, user_id, out);
        let hello = json!({
            "version": VERSION,
            "session_id": id,
            "heartbeat_secs": self.settings.heartbeat.as_secs(),
            "user": { "id": user.id, "username": user.username, "display_name": user.display_name,
                      "role": user.role, "team": user.team },
        });
        self.sessions.send(&id, "hello", &hello.to_string(), now);
        match self.agents.join(user, crate::store::now_ms()) {
            Some(change) => self.apply(Some(change)),
            None => {
                if let Some(me) = self.agents.get(user_id) {
                    let data = me.json().to_string();
                    self.sessions.send(&id, "agent.state", &data, now);
                }
            }
        }
        // Calls ringing now reach a desktop that opens late.
        let Some(viewer) = self.agents.get(user_id).map(|a| a.user.clone()) else {
            return;
        };
        for call_id in self.routing.pending_for(user_id, &self.agents) {
            if let Some(pop) = self.routing.call(&call_id).and_then(|c| c.pop.as_ref()) {
                let data = pop.json_for(&viewer);
                self.sessions.send_pop(&id, &call_id, &data, now);
            }
        }
    }

    /// Everything a desktop needs to start over: its state, its open pops
    /// and (for supervisors) the agents it may see.
    fn send_snapshot(&mut self, sid: &str, why: &str) {
        let Some(user_id) = self.sessions.user_of(sid) else {
            return;
        };
        let Some(me) = self.agents.get(user_id) else {
            return;
        };
        let pops: Vec<Value> = self
            .routing
            .calls()
            .filter(|(_, c)| {
                c.offered.contains(&user_id) && c.taken_by.is_none_or(|t| t == user_id)
            })
            .filter_map(|(_, c)| {
                let mut pop: Value =
                    serde_json::from_str(&c.pop.as_ref()?.json_for(&me.user)).ok()?;
                pop["acked"] = json!(c.acked.contains(&user_id));
                Some(pop)
            })
            .collect();
        let agents: Vec<Value> = self
            .agents
            .all()
            .filter(|a| super::agents::may_see(&me.user, &a.user))
            .map(AgentView::json)
            .collect();
        let data = json!({
            "session_id": sid,
            "reason": why,
            "agent": me.json(),
            "pops": pops,
            "agents": agents,
        });
        self.sessions
            .send(sid, "snapshot", &data.to_string(), Instant::now());
    }

    fn call_parties(&self, call_id: &str) -> Option<LiveCall> {
        let call = self.routing.call(call_id)?;
        let mut ids = call.offered.clone();
        ids.extend(call.taken_by);
        ids.sort_unstable();
        ids.dedup();
        let users = ids
            .into_iter()
            .map(|id| (id, self.agents.get(id).and_then(|a| a.user.team.clone())))
            .collect();
        let pop = call.pop.as_ref();
        Some(LiveCall {
            users,
            team: pop.and_then(|p| p.team.clone()),
            candidates: pop.map(|p| p.candidates.clone()).unwrap_or_default(),
        })
    }

    /// The one place commands are carried out.
    fn command(&mut self, conn: ConnId, command: Command) {
        let Some(user_id) = self.sessions.of_conn(conn).map(|s| s.user_id) else {
            return;
        };
        if let Some(result) = self.agents.remembered(user_id, &command.id).cloned() {
            // A retried command gets the first answer again.
            let data =
                json!({ "id": command.id, "command": command.action.name(), "result": result });
            self.sessions
                .send_conn(conn, "result", &data.to_string(), Instant::now());
            return;
        }
        let now_ms = crate::store::now_ms();
        let result = match command.action {
            Action::SetState { state, reason } => self
                .agents
                .choose(user_id, state, reason.as_deref(), now_ms)
                .map(|change| {
                    self.apply(change);
                    json!({ "state": state })
                }),
            Action::Claim { call_id } => self.claim(user_id, &call_id),
            Action::SelectCustomer {
                call_id,
                customer_id,
            } => self.select(user_id, &call_id, customer_id),
            Action::Dial { .. } | Action::HangUp { .. } => Err(CommandError::new(
                "unknown_command",
                "calls are dialled by the web side",
            )),
            Action::SaveWorkOrder(_) => Err(CommandError::new(
                "unknown_command",
                "work orders are saved by the web side",
            )),
        };
        self.finish_command(conn, user_id, &command.id, result);
    }

    fn finish_command(
        &mut self,
        conn: ConnId,
        user_id: i64,
        id: &str,
        result: Result<Value, CommandError>,
    ) {
        let now = Instant::now();
        match result {
            Ok(result) => {
                self.agents.remember(user_id, id, &result);
                let data = json!({ "id": id, "result": result });
                self.sessions
                    .send_conn(conn, "result", &data.to_string(), now);
            }
            Err(error) => {
                self.sessions
                    .send_conn(conn, "error", &error.json(id).to_string(), now);
            }
        }
    }

    fn claim(&mut self, user_id: i64, call_id: &str) -> Result<Value, CommandError> {
        let others = self.routing.claim(call_id, user_id)?;
        if !others.is_empty() {
            let by = self
                .agents
                .get(user_id)
                .map(|a| a.user.display_name.clone())
                .unwrap_or_default();
            let closed = json!({ "call_id": call_id, "reason": "taken", "by": by }).to_string();
            for other in others {
                self.sessions
                    .send_user(other, "call.closed", &closed, Instant::now());
            }
            let change = self
                .agents
                .set(user_id, AgentState::OnCall, None, crate::store::now_ms());
            self.apply(change);
        }
        Ok(json!({ "call_id": call_id, "taken": true }))
    }

    fn select(
        &mut self,
        user_id: i64,
        call_id: &str,
        customer_id: i64,
    ) -> Result<Value, CommandError> {
        let (call, _) = self.routing.offered_call_or_ended(call_id, user_id)?;
        let Some(mut pop) = call.pop.clone() else {
            return Err(CommandError::new("no_call", "the call has no pop yet"));
        };
        let Some(viewer) = self.agents.get(user_id).map(|a| a.user.clone()) else {
            return Err(CommandError::new("forbidden", "not logged in"));
        };
        // The caller's matches, or a customer the user's scope owns.
        if !pop.candidates.contains(&customer_id) {
            let scope = crate::access::grant("ws customer.select", &viewer)
                .map_err(|_| CommandError::new("forbidden", "your role may not pick customers"))?;
            let owner = match self.reader.customers().customer_reach(customer_id, None) {
                Ok(Some(reach)) => reach.owner,
                Ok(None) => {
                    return Err(CommandError::new(
                        "not_found",
                        format!("no customer {customer_id}"),
                    ))
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not read a customer's owner");
                    return Err(CommandError::new("store", "the customer could not be read"));
                }
            };
            let owner = owner.as_ref().map(|(id, team)| (*id, team.as_deref()));
            if !crate::access::covers(&scope, owner) {
                return Err(CommandError::new(
                    "forbidden",
                    "this customer is neither the caller's nor yours",
                ));
            }
        }
        match pop.select(&self.reader, customer_id) {
            Ok(true) => {}
            Ok(false) => {
                return Err(CommandError::new(
                    "not_found",
                    format!("no customer {customer_id}"),
                ))
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read a customer for a pop");
                return Err(CommandError::new("store", "the customer could not be read"));
            }
        }
        if let Ok((call, ended)) = self.routing.offered_call_or_ended(call_id, user_id) {
            call.selected = Some(customer_id);
            if ended {
                // Its end is recorded already: the customer goes on the CDR now.
                let uid = call_id.to_string();
                self.store.calls().submit_fact("call customer", move |s| {
                    s.set_call_customer(&uid, customer_id)
                });
            }
        }
        let value: Value = serde_json::from_str(&pop.json_for(&viewer)).unwrap_or(Value::Null);
        Ok(json!({ "pop": value }))
    }

    /// Stores an agent's state change, shows it to whoever may see it and
    /// passes it to the wallboard feed.
    fn apply(&mut self, change: Option<StateChange>) {
        let Some(StateChange { view, wrapup_ended }) = change else {
            return;
        };
        let now_ms = view.since;
        if let Some(call) = wrapup_ended {
            // Handle time includes the wrap-up: its end goes on the call.
            self.store
                .calls()
                .submit_fact("wrap-up end", move |s| s.set_call_wrapup_end(&call, now_ms));
        }
        let (user_id, state, reason) = (view.user.id, view.state, view.reason.clone());
        self.store.agents().submit_fact("agent state", move |s| {
            s.record_agent_state(user_id, state, reason.as_deref(), now_ms)
        });
        let data = view.json().to_string();
        let viewers: Vec<i64> = self.agents.viewers_of(&view.user).collect();
        let now = Instant::now();
        for v in viewers {
            self.sessions.send_user(v, "agent.state", &data, now);
        }
        let _ = self.feed.send(FeedInput::Agent(view));
    }

    fn on_call_event(&mut self, e: CallEvent) {
        let now = Instant::now();
        match e {
            CallEvent::Ringing {
                call_id,
                line,
                ring_count,
            } => {
                let open = self.routing.open(&call_id, &line);
                // A line without caller ID still pops, as an unknown caller,
                // once a second ring shows none is coming (a refused
                // blacklisted caller never does).
                if open.pop.is_none() && !open.rejected && ring_count >= 2 {
                    self.pop(&call_id, &line, None);
                }
            }
            CallEvent::CallerIdentified {
                call_id,
                line,
                caller,
            } => {
                if caller.blocked.as_ref().is_some_and(|b| b.rejected) {
                    // Hung up by the device: it pops nowhere.
                    self.routing.open(&call_id, &line).rejected = true;
                    return;
                }
                self.pop(&call_id, &line, Some(&caller))
            }
            CallEvent::CallerName { call_id, name, .. } => {
                let Some(call) = self.routing.call_mut(&call_id) else {
                    return;
                };
                let Some(pop) = call.pop.as_mut() else {
                    return;
                };
                if pop.caller_name.as_deref() == Some(&*name) {
                    return; // it came with the pop
                }
                pop.caller_name = Some(name.to_string());
                let data = json!({ "call_id": call_id, "name": name }).to_string();
                for u in call.offered.clone() {
                    self.sessions.send_user(u, "call.caller_name", &data, now);
                }
            }
            CallEvent::Answered { call_id, line } => {
                let Some((offered, taker)) = self.routing.answered(&call_id, &self.agents) else {
                    return;
                };
                let data = json!({ "call_id": call_id, "line": line }).to_string();
                for u in offered {
                    self.sessions.send_user(u, "call.answered", &data, now);
                }
                if let Some(t) = taker {
                    let change =
                        self.agents
                            .set(t, AgentState::OnCall, None, crate::store::now_ms());
                    self.apply(change);
                }
            }
            CallEvent::Dtmf {
                call_id, digits, ..
            } => {
                if let Some(call) = self.routing.call(&call_id) {
                    let data = json!({ "call_id": call_id, "digits": digits }).to_string();
                    for u in call.offered.clone() {
                        self.sessions.send_user(u, "call.dtmf", &data, now);
                    }
                }
            }
            CallEvent::Ended {
                call_id, outcome, ..
            } => {
                let Some(call) = self.routing.end(&call_id) else {
                    return;
                };
                let data = json!({ "call_id": call_id, "outcome": outcome }).to_string();
                for u in &call.offered {
                    self.sessions.send_user(*u, "call.ended", &data, now);
                }
                self.record_call_end(&call_id, &call);
                let change = self.agents.call_ended(
                    &call_id,
                    &call.offered,
                    call.taken_by,
                    now,
                    crate::store::now_ms(),
                );
                self.apply(change);
                self.routing.keep_ended(&call_id, call, now);
            }
            CallEvent::Dialing {
                call_id,
                line,
                agent_id: Some(agent),
                ..
            } => {
                // Dialled for an agent: the call and its pop are theirs.
                let user = Some(agent);
                let open = self.routing.open(&call_id, &line);
                open.dialled_by = user;
                open.taken_by = user;
            }
            CallEvent::Dialing { .. } => {}
            CallEvent::Alerting { call_id, line } => {
                if let Some(call) = self.routing.call(&call_id) {
                    let data = json!({ "call_id": call_id, "line": line }).to_string();
                    for u in call.offered.clone() {
                        self.sessions.send_user(u, "call.alerting", &data, now);
                    }
                }
            }
            CallEvent::Alarm { source, message } => {
                let data = json!({ "source": source, "message": message }).to_string();
                for u in self.agents.supervisors() {
                    self.sessions.send_user(u, "alarm", &data, now);
                }
            }
            CallEvent::Device { device, state } => {
                let data = json!({ "device": device, "state": state }).to_string();
                for u in self.agents.supervisors() {
                    self.sessions.send_user(u, "device.state", &data, now);
                }
            }
        }
    }

    /// Writes what the hub knows of a finished call into its CDR: who it
    /// was offered to as its line is bound (reports credit unanswered calls
    /// to that agent or team), the customer picked, the agent who took it.
    /// Queued after the engine's CDR write, so each finds the row.
    fn record_call_end(&self, call_id: &str, call: &super::routing::OpenCall) {
        let (offered_to, team) = match self.routing.binding(&call.line) {
            Some(Binding::Agent(name)) => match self.reader.users().user_by_name(name) {
                Ok(Some(u)) => (Some(u.id), u.team),
                _ => (None, None),
            },
            Some(Binding::Team(t)) => (None, Some(t.clone())),
            None => (None, None),
        };
        let routed = offered_to.is_some() || team.is_some();
        let (customer, agent) = (call.selected, call.taken_by);
        let uid = call_id.to_string();
        let written = self.written_tx.clone();
        // After the CDR, in order with it, and kept while the disk is full.
        self.store.calls().submit_fact("call routing", move |s| {
            if routed {
                s.set_call_routing(&uid, offered_to, team.as_deref())?;
            }
            if let Some(c) = customer {
                s.set_call_customer(&uid, c)?;
            }
            if let Some(a) = agent {
                s.set_call_agent(&uid, a)?;
            }
            let _ = written.send(());
            Ok(())
        });
    }

    /// Builds the pop and offers it to the line's desktops.
    fn pop(&mut self, call_id: &str, line: &str, caller: Option<&crate::event::Caller>) {
        let started = Instant::now();
        let dialled_by = self.routing.call(call_id).and_then(|c| c.dialled_by);
        let recipients = match dialled_by {
            Some(agent) => vec![agent],
            None => self.routing.recipients(line, &self.agents),
        };
        let team = self.routing.team_of(line);
        let pop = match Pop::build(&self.reader, call_id, line, caller, self.forms.form(), team) {
            Ok(mut p) => {
                if dialled_by.is_some() {
                    p.direction = "outbound";
                }
                p
            }
            Err(e) => {
                tracing::error!(call = call_id, error = %e, "could not build the pop");
                return;
            }
        };
        let mut rendered = pop.renderer();
        for u in &recipients {
            let Some(agent) = self.agents.get(*u) else {
                continue;
            };
            let data = rendered.json_for(&agent.user);
            for sid in self.sessions.of_user(*u).to_vec() {
                self.sessions.send_pop(&sid, call_id, data, started);
            }
        }
        if recipients.is_empty() {
            tracing::debug!(call = call_id, line, "no desktop for this line");
        }
        let open = self.routing.open(call_id, line);
        open.pop = Some(pop);
        open.offered = recipients;
        open.popped_at.get_or_insert(started);
        tracing::debug!(call = call_id, line, "popped");
        if let Some((_, early)) = self.early_crm.remove(call_id) {
            for data in early {
                self.amend_with_crm(call_id, data, started);
            }
        }
    }

    /// Refills the reader's cache if a commit since the last time emptied it.
    fn keep_cache_warm(&mut self) {
        let warmed = self.reader.data_version().and_then(|v| {
            if v != self.warm_version {
                self.reader.refresh_card_cache()?;
                self.warm_version = v;
            }
            Ok(())
        });
        if let Err(e) = warmed {
            tracing::warn!(error = %e, "could not warm the pop cache");
        }
    }

    fn reload_forms(&mut self, now: Instant) {
        if let Err(e) = self.forms.reload(&self.reader, now) {
            tracing::warn!(error = %e, "could not read the work-order forms; pops keep the last ones read");
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        self.early_crm
            .retain(|_, (at, _)| now.duration_since(*at) < EARLY_CRM_KEPT);
        if self.forms.due(now) {
            self.reload_forms(now);
        }
        // Commits by others (the web side, the CLI) empty the cache too.
        self.keep_cache_warm();
        let now_ms = crate::store::now_ms();
        for change in self.agents.due(now, now_ms) {
            self.apply(Some(change));
        }
        // Gone longer than the heartbeat allowance (three beats): offline
        // on the wallboard and for team pops, though the session still
        // waits for a resume.
        let allowance = self.settings.heartbeat * 3;
        // Agents on a call stay on it: the phone does not need the browser.
        for user in self.sessions.absent_users(now, allowance) {
            if self
                .agents
                .get(user)
                .is_some_and(|a| !matches!(a.state, AgentState::Offline | AgentState::OnCall))
            {
                let change = self.agents.set(user, AgentState::Offline, None, now_ms);
                self.apply(change);
            }
        }
        for user in self.sessions.expire(now) {
            if self
                .agents
                .get(user)
                .is_some_and(|a| a.state != AgentState::Offline)
            {
                let change = self.agents.set(user, AgentState::Offline, None, now_ms);
                self.apply(change);
            }
        }
    }
}
