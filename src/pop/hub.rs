//! The pop hub: the one owner of desktop sessions, agent states and open
//! pops. It turns call events into pops for the right desktops, keeps each
//! session's numbered messages for replay, and never waits for a desktop:
//! one that cannot keep up is cut off and resumes when it reconnects.

use super::content::Pop;
use super::protocol::{envelope, Command, VERSION};
use super::wallboard::{local_midnight, Board};
use crate::event::CallEvent;
use crate::store::{AgentState, Binding, Role, Store, StoreHandle, User};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot};

/// How long a disconnected session is kept for a resume.
pub const RESUME_GRACE: Duration = Duration::from_secs(120);
/// Command results remembered per user for retried commands.
const REMEMBERED_RESULTS: usize = 512;

/// The hub's settings, from `[screen_pop]`.
#[derive(Debug, Clone)]
pub struct HubSettings {
    pub form: String,
    pub after_call: Duration,
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
            heartbeat: Duration::from_secs(c.heartbeat_secs),
            replay_log: c.replay_log,
            send_queue: c.send_queue,
        }
    }
}

/// A connection of a desktop, as the web side knows it.
pub type ConnId = u64;

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
        result: Result<Value, Value>,
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
    /// A wallboard to keep up to date: it gets the picture now and on
    /// every change.
    Wallboard {
        user: User,
        out: mpsc::Sender<Arc<str>>,
    },
}

/// A cloneable way to talk to the hub.
#[derive(Clone)]
pub struct HubHandle {
    tx: mpsc::Sender<HubMsg>,
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

    /// Sends a command's result, or its error (an object with `code`,
    /// `message` and any details), in the session. `saved_call` marks a
    /// saved work order, which starts after-call work.
    pub async fn reply(
        &self,
        conn: ConnId,
        id: String,
        result: Result<Value, Value>,
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

    /// Every known agent's state, as `agent.state` data.
    pub async fn agents(&self) -> Vec<Value> {
        let (reply, rx) = oneshot::channel();
        self.send(HubMsg::Agents { reply }).await;
        rx.await.unwrap_or_default()
    }

    /// Subscribes a wallboard; each frame on `out` is a whole picture
    /// (`{"type":"wallboard", "data":{...}}`) as `user` may see it.
    pub async fn wallboard(&self, user: User, out: mpsc::Sender<Arc<str>>) {
        self.send(HubMsg::Wallboard { user, out }).await;
    }

    async fn send(&self, msg: HubMsg) {
        if self.tx.send(msg).await.is_err() {
            tracing::warn!("the pop hub has stopped");
        }
    }
}

struct Session {
    id: String,
    user_id: i64,
    seq: u64,
    /// Which call each recent pop was, to credit its acknowledgement.
    pop_seqs: VecDeque<(u64, String)>,
    log: VecDeque<(u64, Arc<str>)>,
    out: Option<mpsc::Sender<Arc<str>>>,
    conn: Option<ConnId>,
    detached_at: Option<Instant>,
}

struct Agent {
    user: User,
    state: AgentState,
    reason: Option<String>,
    since: i64,
    /// Ready again at this time (after-call work countdown).
    ready_at: Option<Instant>,
    /// Calls this agent saved a work order for.
    saved_calls: HashSet<String>,
    /// The call whose after-call work this agent is doing.
    wrapping_up: Option<String>,
    results: HashMap<String, Value>,
    result_order: VecDeque<String>,
}

struct OpenCall {
    line: String,
    pop: Option<Pop>,
    offered: Vec<i64>,
    taken_by: Option<i64>,
    /// The customer an agent picked, written into the CDR when the call ends.
    selected: Option<i64>,
    /// Users whose desktop has acknowledged the pop.
    acked: HashSet<i64>,
    /// When the hub popped it: pop latency runs from here to each ack.
    popped_at: Option<Instant>,
}

impl OpenCall {
    fn new(line: &str) -> OpenCall {
        OpenCall {
            line: line.to_string(),
            pop: None,
            offered: Vec::new(),
            taken_by: None,
            selected: None,
            acked: HashSet::new(),
            popped_at: None,
        }
    }
}

/// The hub itself; run it with [`Hub::run`].
pub struct Hub {
    settings: HubSettings,
    reader: Store,
    store: StoreHandle,
    bindings: HashMap<String, Binding>,
    sessions: HashMap<String, Session>,
    conns: HashMap<ConnId, String>,
    agents: HashMap<i64, Agent>,
    calls: HashMap<String, OpenCall>,
    rx: mpsc::Receiver<HubMsg>,
    board: Board,
    /// Wallboards watching, and whether the picture changed since they
    /// were last sent it.
    wallboards: Vec<(User, mpsc::Sender<Arc<str>>)>,
    board_changed: bool,
    metrics: Option<crate::metrics::Metrics>,
}

impl Hub {
    /// A hub over the store (it opens its own reader) with the stored bindings.
    pub fn new(
        store: StoreHandle,
        settings: HubSettings,
    ) -> crate::store::Result<(Hub, HubHandle)> {
        let reader = Store::open_reader(store.path())?;
        let bindings = reader.line_bindings()?.into_iter().collect();
        let now = crate::store::now_ms();
        let today = reader.outcome_counts(local_midnight(now), i64::MAX)?;
        let (tx, rx) = mpsc::channel(4096);
        Ok((
            Hub {
                settings,
                reader,
                store,
                bindings,
                sessions: HashMap::new(),
                conns: HashMap::new(),
                agents: HashMap::new(),
                calls: HashMap::new(),
                rx,
                board: Board::new(today),
                wallboards: Vec::new(),
                board_changed: false,
                metrics: None,
            },
            HubHandle {
                tx,
                next_conn: Arc::new(std::sync::atomic::AtomicU64::new(1)),
            },
        ))
    }

    /// Starts the wallboard from events that happened before the hub
    /// subscribed (the devices' current states).
    pub fn seed(mut self, events: &[CallEvent]) -> Hub {
        let now = crate::store::now_ms();
        for e in events {
            self.board.on_event(e, now);
        }
        self
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
                _ = tick.tick() => self.on_tick(),
                _ = heartbeat.tick() => self.send_heartbeats(),
            }
            if self.board_changed {
                self.send_wallboards();
            }
        }
    }

    fn on_message(&mut self, msg: HubMsg) {
        match msg {
            HubMsg::Connect { conn, user, out } => self.connect(conn, user, out),
            HubMsg::Resume {
                conn,
                session_id,
                last_seq,
            } => self.resume(conn, &session_id, last_seq),
            HubMsg::Disconnect { conn } => {
                if let Some(sid) = self.conns.remove(&conn) {
                    if let Some(s) = self.sessions.get_mut(&sid) {
                        if s.conn == Some(conn) {
                            s.out = None;
                            s.conn = None;
                            s.detached_at = Some(Instant::now());
                        }
                    }
                }
            }
            HubMsg::Ack { conn, seq } => {
                let Some(s) = self.session_of(conn) else {
                    return;
                };
                let user = s.user_id;
                let call = s
                    .pop_seqs
                    .iter()
                    .find(|(n, _)| *n == seq)
                    .map(|(_, c)| c.clone());
                if let Some(open) = call.and_then(|c| self.calls.get_mut(&c)) {
                    if open.acked.insert(user) {
                        if let (Some(m), Some(at)) = (&self.metrics, open.popped_at) {
                            m.pop_delivered(at.elapsed().as_secs_f64());
                        }
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
                let Some(user_id) = self.session_of(conn).map(|s| s.user_id) else {
                    return;
                };
                if let Some(call) = saved_call {
                    self.work_order_saved(user_id, call);
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
                self.send_conn(conn, "error", &data.to_string());
            }
            HubMsg::Bind { line, binding } => match binding {
                Some(b) => {
                    self.bindings.insert(line, b);
                }
                None => {
                    self.bindings.remove(&line);
                }
            },
            HubMsg::Agents { reply } => {
                let all = self.agents.values().map(agent_json).collect();
                let _ = reply.send(all);
            }
            HubMsg::Wallboard { user, out } => {
                let frame = self.wallboard_frame(&user);
                if out.try_send(frame).is_ok() {
                    self.wallboards.push((user, out));
                }
            }
        }
    }

    fn session_of(&self, conn: ConnId) -> Option<&Session> {
        self.conns.get(&conn).and_then(|sid| self.sessions.get(sid))
    }

    fn connect(&mut self, conn: ConnId, user: User, out: mpsc::Sender<Arc<str>>) {
        let id = uuid::Uuid::now_v7().to_string();
        let user_id = user.id;
        self.sessions.insert(
            id.clone(),
            Session {
                id: id.clone(),
                user_id,
                seq: 0,
                pop_seqs: VecDeque::new(),
                log: VecDeque::new(),
                out: Some(out),
                conn: Some(conn),
                detached_at: None,
            },
        );
        self.conns.insert(conn, id.clone());
        let hello = json!({
            "version": VERSION,
            "session_id": id,
            "heartbeat_secs": self.settings.heartbeat.as_secs(),
            "user": { "id": user.id, "username": user.username, "display_name": user.display_name,
                      "role": user.role, "team": user.team },
        });
        self.send_session(&id, "hello", &hello.to_string());
        let fresh = !self.agents.contains_key(&user_id);
        let agent = self.agents.entry(user_id).or_insert_with(|| Agent {
            user,
            state: AgentState::Offline,
            reason: None,
            since: crate::store::now_ms(),
            ready_at: None,
            saved_calls: HashSet::new(),
            wrapping_up: None,
            results: HashMap::new(),
            result_order: VecDeque::new(),
        });
        if fresh || agent.state == AgentState::Offline {
            if agent.user.role == Role::Agent || agent.user.role == Role::TeamLead {
                self.set_state(user_id, AgentState::Ready, None);
            }
        } else {
            let me = agent_json(agent);
            self.send_session(&id, "agent.state", &me.to_string());
        }
        // Calls ringing now reach a desktop that opens late: those already
        // offered to this user, and those of lines routed to them since.
        let Some(me) = self.agents.get(&user_id).map(|a| (a.user.clone(), a.state)) else {
            return;
        };
        let mut pending = Vec::new();
        for call in self.calls.values_mut() {
            let Some(pop) = call.pop.as_ref() else {
                continue;
            };
            if call.taken_by.is_some() {
                continue;
            }
            let routed = match self.bindings.get(&call.line) {
                Some(Binding::Agent(name)) => *name == me.0.username,
                Some(Binding::Team(team)) => {
                    me.0.team.as_ref() == Some(team) && me.1 == AgentState::Ready
                }
                None => false,
            };
            if routed && !call.offered.contains(&user_id) {
                call.offered.push(user_id);
            }
            if call.offered.contains(&user_id) {
                pending.push((pop.call_id.clone(), pop.json_for(&me.0)));
            }
        }
        for (call_id, data) in pending {
            self.send_pop_to(&id, &call_id, &data);
        }
    }

    fn resume(&mut self, conn: ConnId, old: &str, last_seq: u64) {
        let Some(new_id) = self.conns.get(&conn).cloned() else {
            return;
        };
        let user_id = self.sessions.get(&new_id).map(|s| s.user_id);
        let resumable = self
            .sessions
            .get(old)
            .is_some_and(|s| Some(s.user_id) == user_id && s.id != new_id);
        if !resumable {
            self.send_snapshot(&new_id, "unknown session");
            return;
        }
        // The connection moves to the old session; the new one is dropped.
        let Some(new) = self.sessions.remove(&new_id) else {
            return;
        };
        self.conns.insert(conn, old.to_string());
        let Some(s) = self.sessions.get_mut(old) else {
            return;
        };
        s.out = new.out;
        s.conn = Some(conn);
        s.detached_at = None;
        let complete = last_seq <= s.seq
            && s.log
                .front()
                .is_none_or(|(first, _)| *first <= last_seq + 1);
        if !complete {
            self.send_snapshot(old, "too much missed");
            return;
        }
        let missed: Vec<Arc<str>> = s
            .log
            .iter()
            .filter(|(seq, _)| *seq > last_seq)
            .map(|(_, f)| f.clone())
            .collect();
        let count = missed.len();
        for frame in missed {
            if !Self::push(s, frame) {
                return;
            }
        }
        let data = json!({ "session_id": old, "replayed": count });
        self.send_session(old, "resumed", &data.to_string());
    }

    /// Everything a desktop needs to start over: its state, its open pops
    /// and (for supervisors) the agents it may see.
    fn send_snapshot(&mut self, sid: &str, why: &str) {
        let Some(user_id) = self.sessions.get(sid).map(|s| s.user_id) else {
            return;
        };
        let Some(me) = self.agents.get(&user_id) else {
            return;
        };
        let pops: Vec<Value> = self
            .calls
            .values()
            .filter(|c| c.offered.contains(&user_id) && c.taken_by.is_none_or(|t| t == user_id))
            .filter_map(|c| {
                let mut pop: Value =
                    serde_json::from_str(&c.pop.as_ref()?.json_for(&me.user)).ok()?;
                pop["acked"] = json!(c.acked.contains(&user_id));
                Some(pop)
            })
            .collect();
        let agents: Vec<Value> = self
            .agents
            .values()
            .filter(|a| may_see(&me.user, &a.user))
            .map(agent_json)
            .collect();
        let data = json!({
            "session_id": sid,
            "reason": why,
            "agent": agent_json(me),
            "pops": pops,
            "agents": agents,
        });
        self.send_session(sid, "snapshot", &data.to_string());
    }

    fn command(&mut self, conn: ConnId, command: Command) {
        let Some(user_id) = self.session_of(conn).map(|s| s.user_id) else {
            return;
        };
        if let Some(result) = self
            .agents
            .get(&user_id)
            .and_then(|a| a.results.get(&command.id))
            .cloned()
        {
            // A retried command gets the first answer again.
            let data = json!({ "id": command.id, "command": command.kind, "result": result });
            self.send_conn(conn, "result", &data.to_string());
            return;
        }
        let result = match command.kind.as_str() {
            "agent.state" => self.command_state(user_id, &command.data),
            "call.claim" => self.command_claim(user_id, &command.data),
            "customer.select" => self.command_select(user_id, &command.data),
            "call.dial" => Err((
                "unsupported".to_string(),
                "no line here can dial out yet".to_string(),
            )),
            other => Err((
                "unknown_command".to_string(),
                format!("the hub does not handle {other}"),
            )),
        };
        let result = result.map_err(|(code, message)| json!({ "code": code, "message": message }));
        self.finish_command(conn, user_id, &command.id, result);
    }

    fn finish_command(
        &mut self,
        conn: ConnId,
        user_id: i64,
        id: &str,
        result: Result<Value, Value>,
    ) {
        match result {
            Ok(result) => {
                if let Some(a) = self.agents.get_mut(&user_id) {
                    a.results.insert(id.to_string(), result.clone());
                    a.result_order.push_back(id.to_string());
                    if a.result_order.len() > REMEMBERED_RESULTS {
                        if let Some(old) = a.result_order.pop_front() {
                            a.results.remove(&old);
                        }
                    }
                }
                let data = json!({ "id": id, "result": result });
                self.send_conn(conn, "result", &data.to_string());
            }
            Err(mut error) => {
                error["id"] = json!(id);
                self.send_conn(conn, "error", &error.to_string());
            }
        }
    }

    fn command_state(&mut self, user_id: i64, data: &Value) -> Result<Value, (String, String)> {
        let state = data.get("state").and_then(Value::as_str).unwrap_or("");
        let reason = data
            .get("reason")
            .and_then(Value::as_str)
            .map(|r| r.chars().take(100).collect::<String>());
        let state = match state {
            "ready" => AgentState::Ready,
            "not_ready" => AgentState::NotReady,
            other => {
                return Err((
                    "bad_state".into(),
                    format!("an agent may choose ready or not_ready, not {other:?}"),
                ))
            }
        };
        if self
            .agents
            .get(&user_id)
            .is_some_and(|a| a.state == AgentState::OnCall)
        {
            return Err(("on_call".into(), "finish the call first".into()));
        }
        self.set_state(user_id, state, reason.as_deref());
        Ok(json!({ "state": state }))
    }

    fn command_claim(&mut self, user_id: i64, data: &Value) -> Result<Value, (String, String)> {
        let call_id = data.get("call_id").and_then(Value::as_str).unwrap_or("");
        let Some(call) = self.calls.get_mut(call_id) else {
            return Err(("no_call".into(), format!("no ringing call {call_id:?}")));
        };
        if !call.offered.contains(&user_id) {
            return Err((
                "forbidden".into(),
                "this call was not offered to you".into(),
            ));
        }
        match call.taken_by {
            Some(t) if t != user_id => {
                return Err(("taken".into(), "another agent took this call".into()))
            }
            Some(_) => return Ok(json!({ "call_id": call_id, "taken": true })),
            None => call.taken_by = Some(user_id),
        }
        let others: Vec<i64> = call
            .offered
            .iter()
            .copied()
            .filter(|u| *u != user_id)
            .collect();
        let by = self
            .agents
            .get(&user_id)
            .map(|a| a.user.display_name.clone())
            .unwrap_or_default();
        let closed = json!({ "call_id": call_id, "reason": "taken", "by": by }).to_string();
        for other in others {
            self.send_user(other, "call.closed", &closed);
        }
        self.set_state(user_id, AgentState::OnCall, None);
        Ok(json!({ "call_id": call_id, "taken": true }))
    }

    fn command_select(&mut self, user_id: i64, data: &Value) -> Result<Value, (String, String)> {
        let call_id = data.get("call_id").and_then(Value::as_str).unwrap_or("");
        let Some(customer_id) = data.get("customer_id").and_then(Value::as_i64) else {
            return Err((
                "bad_message".into(),
                "customer.select needs data.customer_id".into(),
            ));
        };
        let Some(call) = self.calls.get(call_id) else {
            return Err(("no_call".into(), format!("no open call {call_id:?}")));
        };
        if !call.offered.contains(&user_id) {
            return Err((
                "forbidden".into(),
                "this call was not offered to you".into(),
            ));
        }
        let Some(mut pop) = call.pop.clone() else {
            return Err(("no_call".into(), "the call has no pop yet".into()));
        };
        match pop.select(&self.reader, customer_id) {
            Ok(true) => {}
            Ok(false) => return Err(("not_found".into(), format!("no customer {customer_id}"))),
            Err(e) => return Err(("store".into(), e.to_string())),
        }
        let Some(viewer) = self.agents.get(&user_id).map(|a| a.user.clone()) else {
            return Err(("forbidden".into(), "not logged in".into()));
        };
        if let Some(call) = self.calls.get_mut(call_id) {
            call.selected = Some(customer_id);
        }
        let value: Value = serde_json::from_str(&pop.json_for(&viewer)).unwrap_or(Value::Null);
        Ok(json!({ "pop": value }))
    }

    fn work_order_saved(&mut self, user_id: i64, call_id: String) {
        let call_open = self.calls.contains_key(&call_id);
        let Some(agent) = self.agents.get_mut(&user_id) else {
            return;
        };
        if call_open {
            // Saved during the call: after-call work starts when it ends.
            agent.saved_calls.insert(call_id);
        } else if agent.state == AgentState::AfterCallWork {
            self.start_after_call_countdown(user_id);
        }
    }

    fn start_after_call_countdown(&mut self, user_id: i64) {
        if self.settings.after_call.is_zero() {
            self.set_state(user_id, AgentState::Ready, None);
        } else if let Some(a) = self.agents.get_mut(&user_id) {
            a.ready_at = Some(Instant::now() + self.settings.after_call);
            let secs = self.settings.after_call.as_secs();
            self.set_state(
                user_id,
                AgentState::AfterCallWork,
                Some(&format!("{secs}s")),
            );
        }
    }

    fn on_call_event(&mut self, e: CallEvent) {
        if self.board.on_event(&e, crate::store::now_ms()) {
            self.board_changed = true;
        }
        match e {
            CallEvent::Ringing {
                call_id,
                line,
                ring_count,
            } => {
                let open = self
                    .calls
                    .entry(call_id.to_string())
                    .or_insert_with(|| OpenCall::new(&line));
                // A line without caller ID still pops, as an unknown caller,
                // once a second ring shows none is coming.
                if open.pop.is_none() && ring_count >= 2 {
                    self.pop(&call_id, &line, None);
                }
            }
            CallEvent::CallerIdentified {
                call_id,
                line,
                caller,
            } => self.pop(&call_id, &line, Some(&caller)),
            CallEvent::CallerName { call_id, name, .. } => {
                let Some(call) = self.calls.get_mut(&*call_id) else {
                    return;
                };
                if let Some(pop) = call.pop.as_mut() {
                    pop.caller_name = Some(name.clone());
                }
                let data = json!({ "call_id": call_id, "name": name }).to_string();
                for u in call.offered.clone() {
                    self.send_user(u, "call.caller_name", &data);
                }
            }
            CallEvent::Answered { call_id, line } => {
                let Some(call) = self.calls.get_mut(&*call_id) else {
                    return;
                };
                if call.taken_by.is_none() {
                    if let Some(Binding::Agent(name)) = self.bindings.get(&*line) {
                        call.taken_by = self
                            .agents
                            .values()
                            .find(|a| &a.user.username == name)
                            .map(|a| a.user.id);
                    }
                }
                let taker = call.taken_by;
                let data = json!({ "call_id": call_id, "line": line }).to_string();
                for u in call.offered.clone() {
                    self.send_user(u, "call.answered", &data);
                }
                if let Some(t) = taker {
                    self.set_state(t, AgentState::OnCall, None);
                }
            }
            CallEvent::Dtmf {
                call_id, digits, ..
            } => {
                if let Some(call) = self.calls.get(&*call_id) {
                    let data = json!({ "call_id": call_id, "digits": digits }).to_string();
                    for u in call.offered.clone() {
                        self.send_user(u, "call.dtmf", &data);
                    }
                }
            }
            CallEvent::Ended {
                call_id, outcome, ..
            } => {
                let Some(call) = self.calls.remove(&*call_id) else {
                    return;
                };
                let data = json!({ "call_id": call_id, "outcome": outcome }).to_string();
                for u in &call.offered {
                    self.send_user(*u, "call.ended", &data);
                    if Some(*u) != call.taken_by {
                        if let Some(a) = self.agents.get_mut(u) {
                            a.saved_calls.remove(&*call_id);
                        }
                    }
                }
                self.record_routing(&call_id, &call.line);
                if let Some(customer) = call.selected {
                    let uid = call_id.to_string();
                    // Queued after the engine's CDR write, so it finds the row.
                    self.store.submit(move |s| {
                        if let Err(e) = s.set_call_customer(&uid, customer) {
                            tracing::error!(call = %uid, error = %e, "could not record the call's customer");
                        }
                    });
                }
                if let Some(agent) = call.taken_by {
                    let uid = call_id.to_string();
                    // Queued after the engine's CDR write, so it finds the row.
                    self.store.submit(move |s| {
                        if let Err(e) = s.set_call_agent(&uid, agent) {
                            tracing::error!(call = %uid, error = %e, "could not record the call's agent");
                        }
                    });
                    let saved = self.agents.get_mut(&agent).is_some_and(|a| {
                        a.wrapping_up = Some(call_id.to_string());
                        a.saved_calls.remove(&*call_id)
                    });
                    if saved {
                        self.start_after_call_countdown(agent);
                    } else {
                        self.set_state(agent, AgentState::AfterCallWork, None);
                    }
                }
            }
            CallEvent::Dialing { .. } => {}
            CallEvent::Alarm { source, message } => {
                let data = json!({ "source": source, "message": message }).to_string();
                for u in self.supervisors() {
                    self.send_user(u, "alarm", &data);
                }
            }
            CallEvent::Device { device, state } => {
                let data = json!({ "device": device, "state": state }).to_string();
                for u in self.supervisors() {
                    self.send_user(u, "device.state", &data);
                }
            }
        }
    }

    /// Writes who a finished call was offered to, as its line is bound:
    /// reports credit unanswered calls to that agent or team.
    fn record_routing(&self, call_id: &str, line: &str) {
        let (offered_to, team) = match self.bindings.get(line) {
            Some(Binding::Agent(name)) => match self.reader.user_by_name(name) {
                Ok(Some(u)) => (Some(u.id), u.team),
                _ => (None, None),
            },
            Some(Binding::Team(t)) => (None, Some(t.clone())),
            None => return,
        };
        let uid = call_id.to_string();
        // Queued after the engine's CDR write, so it finds the row.
        self.store.submit(move |s| {
            if let Err(e) = s.set_call_routing(&uid, offered_to, team.as_deref()) {
                tracing::error!(call = %uid, error = %e, "could not record the call's routing");
            }
        });
    }

    /// Who is told of devices and alarms.
    fn supervisors(&self) -> Vec<i64> {
        self.agents
            .values()
            .filter(|a| matches!(a.user.role, Role::Admin | Role::TeamLead | Role::Qa))
            .map(|a| a.user.id)
            .collect()
    }

    /// Builds the pop and offers it to the line's desktops.
    fn pop(&mut self, call_id: &str, line: &str, caller: Option<&crate::event::Caller>) {
        let started = Instant::now();
        let binding = self.bindings.get(line).cloned();
        let team = match &binding {
            Some(Binding::Team(t)) => Some(t.clone()),
            _ => None,
        };
        let recipients: Vec<i64> = match &binding {
            Some(Binding::Agent(name)) => self
                .agents
                .values()
                .filter(|a| &a.user.username == name)
                .map(|a| a.user.id)
                .collect(),
            Some(Binding::Team(t)) => self
                .agents
                .values()
                .filter(|a| a.user.team.as_ref() == Some(t) && a.state == AgentState::Ready)
                .map(|a| a.user.id)
                .collect(),
            None => Vec::new(),
        };
        let pop = match Pop::build(
            &self.reader,
            call_id,
            line,
            caller,
            &self.settings.form,
            team,
        ) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(call = call_id, error = %e, "could not build the pop");
                return;
            }
        };
        for u in &recipients {
            if let Some(user) = self.agents.get(u).map(|a| a.user.clone()) {
                self.send_pop(*u, call_id, &pop.json_for(&user));
            }
        }
        if recipients.is_empty() {
            tracing::debug!(call = call_id, line, "no desktop for this line");
        }
        let open = self
            .calls
            .entry(call_id.to_string())
            .or_insert_with(|| OpenCall::new(line));
        open.pop = Some(pop);
        open.offered = recipients;
        open.popped_at.get_or_insert(started);
        tracing::debug!(call = call_id, line = %open.line, "popped");
    }

    /// The wallboard's picture as `viewer` may see it.
    fn wallboard_frame(&self, viewer: &User) -> Arc<str> {
        let mut agents: Vec<&Agent> = self
            .agents
            .values()
            .filter(|a| {
                may_see(viewer, &a.user) && a.user.role != Role::Qa && a.user.role != Role::Admin
            })
            .collect();
        agents.sort_by(|a, b| a.user.username.cmp(&b.user.username));
        let agents = agents.into_iter().map(agent_json).collect();
        let data = self.board.snapshot(agents, crate::store::now_ms());
        json!({ "type": "wallboard", "data": data })
            .to_string()
            .into()
    }

    /// Sends the changed picture to every wallboard; one that is gone or
    /// has not taken the last few is dropped (it reconnects for a fresh one).
    fn send_wallboards(&mut self) {
        self.board_changed = false;
        let boards = std::mem::take(&mut self.wallboards);
        for (user, out) in boards {
            if out.try_send(self.wallboard_frame(&user)).is_ok() {
                self.wallboards.push((user, out));
            }
        }
    }

    fn set_state(&mut self, user_id: i64, state: AgentState, reason: Option<&str>) {
        let Some(a) = self.agents.get_mut(&user_id) else {
            return;
        };
        let now = crate::store::now_ms();
        if state != AgentState::AfterCallWork {
            a.ready_at = None;
            if let Some(call) = a.wrapping_up.take() {
                // Handle time includes the wrap-up: its end goes on the call.
                self.store.submit(move |s| {
                    if let Err(e) = s.set_call_wrapup_end(&call, now) {
                        tracing::error!(call, error = %e, "could not record the end of after-call work");
                    }
                });
            }
        }
        a.state = state;
        a.reason = reason.map(str::to_string);
        a.since = now;
        self.board_changed = true;
        let reason = a.reason.clone();
        self.store.submit(move |s| {
            if let Err(e) = s.record_agent_state(user_id, state, reason.as_deref(), now) {
                tracing::error!(error = %e, "could not record an agent state");
            }
        });
        let data = agent_json(a).to_string();
        let subject = a.user.clone();
        let viewers: Vec<i64> = self
            .agents
            .values()
            .filter(|v| may_see(&v.user, &subject))
            .map(|v| v.user.id)
            .collect();
        for v in viewers {
            self.send_user(v, "agent.state", &data);
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        let due: Vec<i64> = self
            .agents
            .values()
            .filter(|a| a.ready_at.is_some_and(|t| t <= now))
            .map(|a| a.user.id)
            .collect();
        for u in due {
            self.set_state(u, AgentState::Ready, None);
        }
        let expired: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.detached_at.is_some_and(|t| now - t > RESUME_GRACE))
            .map(|s| s.id.clone())
            .collect();
        for sid in expired {
            if let Some(s) = self.sessions.remove(&sid) {
                let still_here = self.sessions.values().any(|o| o.user_id == s.user_id);
                if !still_here {
                    self.set_state(s.user_id, AgentState::Offline, None);
                }
            }
        }
    }

    /// Heartbeats carry the session's latest seq, so a desktop can tell it
    /// missed something; they are not numbered or kept themselves.
    fn send_heartbeats(&mut self) {
        let ids: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.out.is_some())
            .map(|s| s.id.clone())
            .collect();
        for id in ids {
            if let Some(s) = self.sessions.get_mut(&id) {
                let frame: Arc<str> = envelope(s.seq, "heartbeat", "{}").into();
                Self::push(s, frame);
            }
        }
    }

    fn sessions_of(&self, user_id: i64) -> Vec<String> {
        self.sessions
            .values()
            .filter(|s| s.user_id == user_id)
            .map(|s| s.id.clone())
            .collect()
    }

    /// Sends a pop to every session of `user_id`, noting its seq per session.
    fn send_pop(&mut self, user_id: i64, call_id: &str, data: &str) {
        for id in self.sessions_of(user_id) {
            self.send_pop_to(&id, call_id, data);
        }
    }

    fn send_pop_to(&mut self, sid: &str, call_id: &str, data: &str) {
        self.send_session(sid, "call.ringing", data);
        let limit = self.settings.replay_log;
        if let Some(s) = self.sessions.get_mut(sid) {
            s.pop_seqs.push_back((s.seq, call_id.to_string()));
            while s.pop_seqs.len() > limit {
                s.pop_seqs.pop_front();
            }
        }
    }

    fn send_user(&mut self, user_id: i64, kind: &str, data: &str) {
        for id in self.sessions_of(user_id) {
            self.send_session(&id, kind, data);
        }
    }

    fn send_conn(&mut self, conn: ConnId, kind: &str, data: &str) {
        if let Some(sid) = self.conns.get(&conn).cloned() {
            self.send_session(&sid, kind, data);
        }
    }

    /// Numbers, keeps and sends one message; a desktop too slow to take it
    /// is cut off (it resumes from the log when it comes back).
    fn send_session(&mut self, sid: &str, kind: &str, data: &str) {
        let limit = self.settings.replay_log;
        let Some(s) = self.sessions.get_mut(sid) else {
            return;
        };
        s.seq += 1;
        let frame: Arc<str> = envelope(s.seq, kind, data).into();
        s.log.push_back((s.seq, frame.clone()));
        while s.log.len() > limit {
            s.log.pop_front();
        }
        Self::push(s, frame);
    }

    fn push(s: &mut Session, frame: Arc<str>) -> bool {
        let Some(out) = &s.out else {
            return false;
        };
        match out.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(session = %s.id, "desktop too slow: disconnected, it may resume");
                s.out = None;
                s.detached_at = Some(Instant::now());
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                s.out = None;
                s.detached_at = Some(Instant::now());
                false
            }
        }
    }
}

/// Who sees whose state: oneself; team leads their team; QA and admins all.
fn may_see(viewer: &User, subject: &User) -> bool {
    viewer.id == subject.id
        || matches!(viewer.role, Role::Admin | Role::Qa)
        || (viewer.role == Role::TeamLead && viewer.team.is_some() && viewer.team == subject.team)
}

fn agent_json(a: &Agent) -> Value {
    json!({
        "user_id": a.user.id,
        "username": a.user.username,
        "display_name": a.user.display_name,
        "team": a.user.team,
        "state": a.state,
        "reason": a.reason,
        "since": a.since,
    })
}
