//! The wallboard feed: a task on the main runtime, never on the line
//! thread. It follows the call events and the agents' states the hub
//! reports, and at most [`FRAME_INTERVAL`] apart works out one picture per
//! viewer scope, sending the first whole and then only what changed.
//! However many wallboards are open, a caller-ID byte's way to its pop
//! does not wait for them.

use super::agents::AgentView;
use super::wallboard::{delta, Board, Today, View};
use crate::event::CallEvent;
use crate::store::User;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// The shortest time between two frames to a wallboard: changes in
/// between are coalesced into one.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(500);

/// What the feed is told besides the call events.
#[derive(Debug)]
pub enum FeedInput {
    /// An agent's state, as the hub changed it.
    Agent(AgentView),
    /// A line's binding changed (`None`: unbound); also sent for every
    /// line when the hub starts.
    Bind {
        line: String,
        binding: Option<crate::store::Binding>,
    },
    /// A wallboard to keep up to date on `out`.
    Watch {
        user: User,
        out: mpsc::Sender<Arc<str>>,
    },
}

struct Group {
    /// The picture the group's viewers have now.
    last: Value,
    viewers: Vec<mpsc::Sender<Arc<str>>>,
}

/// The feed's state; run it with [`WallboardFeed::run`].
pub struct WallboardFeed {
    board: Board,
    groups: HashMap<View, Group>,
    dirty: bool,
}

impl WallboardFeed {
    /// A feed whose counters start at `today` and whose devices are as
    /// `devices_now` report (the events before it subscribed).
    pub fn new(today: Today, devices_now: &[CallEvent]) -> WallboardFeed {
        let mut board = Board::new(today);
        let now = crate::store::now_ms();
        for e in devices_now {
            board.on_event(e, now);
        }
        WallboardFeed {
            board,
            groups: HashMap::new(),
            dirty: false,
        }
    }

    /// Runs until the call events and the inputs both end.
    pub async fn run(
        mut self,
        mut events: broadcast::Receiver<CallEvent>,
        mut inputs: mpsc::UnboundedReceiver<FeedInput>,
    ) {
        let mut tick = tokio::time::interval(FRAME_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut events_open, mut inputs_open) = (true, true);
        while events_open || inputs_open {
            tokio::select! {
                e = events.recv(), if events_open => match e {
                    Ok(e) => self.on_event(&e, crate::store::now_ms()),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "the wallboard fell behind the call events");
                    }
                    Err(broadcast::error::RecvError::Closed) => events_open = false,
                },
                input = inputs.recv(), if inputs_open => match input {
                    Some(i) => self.on_input(i, crate::store::now_ms()),
                    None => inputs_open = false,
                },
                _ = tick.tick() => self.flush(crate::store::now_ms()),
            }
        }
    }

    /// Applies a call event.
    pub fn on_event(&mut self, e: &CallEvent, now: i64) {
        self.dirty |= self.board.on_event(e, now);
    }

    /// Applies an agent's state or adds a viewer (who gets its scope's
    /// current picture at once).
    pub fn on_input(&mut self, input: FeedInput, now: i64) {
        match input {
            FeedInput::Agent(view) => {
                self.board.agent(view);
                self.dirty = true;
            }
            FeedInput::Bind { line, binding } => {
                self.board.bind(line, binding);
                self.dirty = true;
            }
            FeedInput::Watch { user, out } => {
                let view = View::of(&user);
                let board = &self.board;
                let group = self.groups.entry(view.clone()).or_insert_with(|| Group {
                    last: board.picture(&view, now),
                    viewers: Vec::new(),
                });
                let frame = json!({ "type": "wallboard", "data": group.last }).to_string();
                if out.try_send(frame.into()).is_ok() {
                    group.viewers.push(out);
                }
            }
        }
    }

    /// Sends each scope's changes since its last frame, once per scope;
    /// a viewer that is gone or has not taken the last few is dropped (it
    /// reconnects for a whole picture).
    pub fn flush(&mut self, now: i64) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        self.groups.retain(|_, g| !g.viewers.is_empty());
        for (view, group) in self.groups.iter_mut() {
            let picture = self.board.picture(view, now);
            let Some(change) = delta(&group.last, &picture) else {
                continue;
            };
            let frame: Arc<str> = json!({ "type": "wallboard.delta", "data": change })
                .to_string()
                .into();
            group.last = picture;
            group
                .viewers
                .retain(|out| out.try_send(frame.clone()).is_ok());
        }
    }

    /// How many wallboards are watching.
    pub fn viewers(&self) -> usize {
        self.groups.values().map(|g| g.viewers.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AgentState, Role};

    fn user(id: i64, role: Role, team: &str) -> User {
        User {
            id,
            username: format!("u{id}"),
            display_name: format!("U{id}"),
            role,
            team: Some(team.into()),
            disabled: false,
        }
    }

    use crate::pop::session::queued_frames as frames;

    #[test]
    fn changes_are_coalesced_into_one_delta_per_flush() {
        let mut feed = WallboardFeed::new(Today::default(), &[]);
        let (tx, mut rx) = mpsc::channel(8);
        feed.on_input(
            FeedInput::Watch {
                user: user(1, Role::Admin, "x"),
                out: tx,
            },
            0,
        );
        let first = frames(&mut rx);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0]["type"], "wallboard");
        for state in [AgentState::Ready, AgentState::NotReady, AgentState::OnCall] {
            feed.on_input(
                FeedInput::Agent(AgentView {
                    user: user(5, Role::Agent, "sales"),
                    state,
                    reason: None,
                    since: 10,
                    until: None,
                }),
                10,
            );
        }
        assert!(frames(&mut rx).is_empty(), "nothing before the flush");
        feed.flush(20);
        let got = frames(&mut rx);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0]["type"], "wallboard.delta");
        assert_eq!(got[0]["data"]["changed"]["agents"]["5"]["state"], "on_call");
        feed.flush(30);
        assert!(frames(&mut rx).is_empty(), "nothing changed");
    }

    #[test]
    fn viewers_see_their_scope_and_slow_ones_are_dropped() {
        let mut feed = WallboardFeed::new(Today::default(), &[]);
        let (lead_tx, mut lead_rx) = mpsc::channel(8);
        let (slow_tx, _slow_rx) = mpsc::channel(1);
        feed.on_input(
            FeedInput::Watch {
                user: user(1, Role::TeamLead, "sales"),
                out: lead_tx,
            },
            0,
        );
        feed.on_input(
            FeedInput::Watch {
                user: user(2, Role::Qa, "qa"),
                out: slow_tx,
            },
            0,
        );
        assert_eq!(feed.viewers(), 2);
        for (id, team) in [(5, "sales"), (6, "support")] {
            feed.on_input(
                FeedInput::Agent(AgentView {
                    user: user(id, Role::Agent, team),
                    state: AgentState::Ready,
                    reason: None,
                    since: 1,
                    until: None,
                }),
                1,
            );
        }
        feed.flush(2);
        let lead = frames(&mut lead_rx);
        let agents = lead[1]["data"]["changed"]["agents"].as_object().unwrap();
        assert_eq!(
            agents.keys().collect::<Vec<_>>(),
            ["5"],
            "a team lead sees the team"
        );
        assert_eq!(
            feed.viewers(),
            1,
            "the QA board had not taken its first frame"
        );
    }
}
