//! The wallboard's picture of the center (监控大屏): each line's state,
//! each device up or down, the calls ringing now and today's counters.
//! Pure: the wallboard feed (`wallboard_feed.rs`) gives it call events and
//! agents' states and asks it for each viewer scope's picture, which goes
//! out whole to a new viewer and as a [`delta`] afterwards.

use super::agents::AgentView;
use crate::event::{CallEvent, DeviceState};
use crate::store::{Binding, Role, User};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A line as the wallboard shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineView {
    /// idle, ringing or talking.
    pub state: &'static str,
    pub since: i64,
    pub call_id: Option<String>,
    pub number: Option<String>,
}

/// A device as the wallboard shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceView {
    pub up: bool,
    pub reason: Option<String>,
    pub since: i64,
}

/// Today's calls by outcome, since local midnight.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Today {
    pub day_start: i64,
    pub offered: u64,
    pub answered: u64,
    pub missed: u64,
    pub abandoned: u64,
    pub unknown: u64,
    pub outbound: u64,
}

impl Today {
    /// Counts `n` finished calls of `outcome`.
    pub fn count(&mut self, outcome: &str, n: u64) {
        let slot = match outcome {
            "outbound" => &mut self.outbound,
            "answered" => &mut self.answered,
            "missed" => &mut self.missed,
            "abandoned" => &mut self.abandoned,
            _ => &mut self.unknown,
        };
        *slot += n;
        if outcome != "outbound" {
            self.offered += n;
        }
    }
}

/// The wallboard's state.
#[derive(Debug, Clone, Default)]
pub struct Board {
    pub lines: BTreeMap<String, LineView>,
    pub devices: BTreeMap<String, DeviceView>,
    pub today: Today,
    /// Agents as the hub last reported them, by user id.
    pub agents: BTreeMap<i64, AgentView>,
    /// Who each line pops to: a viewer sees the lines of its scope.
    pub bindings: BTreeMap<String, Binding>,
    /// When today ends: the day is worked out from the time zone only
    /// when an event comes after it, not on every event on the pop path.
    day_end: i64,
    /// Calls under way that callpop dialled: shown dialling, not ringing,
    /// and counted as outbound whatever their outcome.
    dialled: std::collections::HashSet<std::sync::Arc<str>>,
}

/// The local midnight before `now_ms`.
pub fn local_midnight(now_ms: i64) -> i64 {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_millis_opt(now_ms)
        .single()
        .and_then(|t| t.date_naive().and_hms_opt(0, 0, 0))
        .and_then(|d| chrono::Local.from_local_datetime(&d).earliest())
        .map_or(now_ms, |d| d.timestamp_millis())
}

impl Board {
    /// A board whose counters start from what the store already holds for
    /// today (the outcomes of today's finished calls).
    pub fn new(today: Today) -> Board {
        Board {
            today,
            ..Board::default()
        }
    }

    /// Applies a call event at `now` (ms); true if the picture changed.
    pub fn on_event(&mut self, e: &CallEvent, now: i64) -> bool {
        if now >= self.day_end || now < self.today.day_start {
            let midnight = local_midnight(now);
            if midnight != self.today.day_start {
                self.today = Today {
                    day_start: midnight,
                    ..Today::default()
                };
            }
            // 26 h on is in the next day even when a day has 23 or 25 h.
            self.day_end = local_midnight(midnight + 26 * 3_600_000);
        }
        let mut set = |line: &str, state: &'static str, call: Option<&str>| {
            let view = self.lines.entry(line.to_string()).or_insert(LineView {
                state: "idle",
                since: now,
                call_id: None,
                number: None,
            });
            if view.state != state {
                view.since = now;
            }
            view.state = state;
            view.call_id = call.map(str::to_string);
            if call.is_none() {
                view.number = None;
            }
        };
        match e {
            CallEvent::Ringing { call_id, line, .. } => set(line, "ringing", Some(call_id)),
            CallEvent::CallerIdentified {
                call_id,
                line,
                caller,
            } => {
                let state = if self.dialled.contains(call_id) {
                    "dialling"
                } else {
                    "ringing"
                };
                set(line, state, Some(call_id));
                if let Some(v) = self.lines.get_mut(&**line) {
                    v.number = caller.raw_number.clone();
                }
            }
            CallEvent::Answered { call_id, line } => set(line, "talking", Some(call_id)),
            CallEvent::Dialing {
                call_id,
                line,
                agent,
                ..
            } => {
                // Dialled for an agent: dialling until answered. Dialled by
                // hand on the phone: talking at once, as before.
                if agent.is_some() {
                    self.dialled.insert(call_id.clone());
                    set(line, "dialling", Some(call_id));
                } else {
                    set(line, "talking", Some(call_id));
                }
            }
            CallEvent::Ended {
                call_id,
                line,
                outcome,
                ..
            } => {
                set(line, "idle", None);
                let outcome = if self.dialled.remove(call_id) {
                    "outbound"
                } else {
                    outcome.as_str()
                };
                self.today.count(outcome, 1);
            }
            CallEvent::Device { device, state } => {
                let (up, reason) = match state {
                    DeviceState::Up => (true, None),
                    DeviceState::Down { reason } => (false, Some(reason.clone())),
                };
                let view = self
                    .devices
                    .entry(device.to_string())
                    .or_insert(DeviceView {
                        up,
                        reason: None,
                        since: now,
                    });
                if view.up != up {
                    view.since = now;
                }
                view.up = up;
                view.reason = reason;
            }
            CallEvent::CallerName { .. }
            | CallEvent::Dtmf { .. }
            | CallEvent::Alarm { .. }
            | CallEvent::Alerting { .. } => return false,
        }
        true
    }

    /// An agent's state changed (agents only: QA and admins take no calls).
    pub fn agent(&mut self, view: AgentView) {
        if matches!(view.user.role, Role::Agent | Role::TeamLead) {
            self.agents.insert(view.user.id, view);
        }
    }

    /// A line's binding changed (`None`: unbound).
    pub fn bind(&mut self, line: String, binding: Option<Binding>) {
        match binding {
            Some(b) => self.bindings.insert(line, b),
            None => self.bindings.remove(&line),
        };
    }

    /// The picture a viewer of `view` sees: the agents and lines of its
    /// scope (agents keyed by user id), callers' numbers masked if its
    /// role masks them, every device, and today's center-wide counts.
    pub fn picture(&self, view: &View, now: i64) -> Value {
        let agents: Map<String, Value> = self
            .agents
            .values()
            .filter(|a| view.scope.sees(&a.user))
            .map(|a| (a.user.id.to_string(), a.json()))
            .collect();
        let shown = |number: &Option<String>| {
            if view.masked {
                number.as_deref().map(crate::access::mask)
            } else {
                number.clone()
            }
        };
        let lines: BTreeMap<&String, LineView> = self
            .lines
            .iter()
            .filter(|(line, _)| self.line_seen(&view.scope, line))
            .map(|(line, v)| {
                let mut v = v.clone();
                v.number = shown(&v.number);
                (line, v)
            })
            .collect();
        // Keyed by line, so a delta carries only the calls that began or ended.
        let ringing: Map<String, Value> = lines
            .iter()
            .filter(|(_, v)| v.state == "ringing")
            .map(|(line, v)| {
                let call = json!({ "line": line, "call_id": v.call_id, "number": v.number, "since": v.since });
                (line.to_string(), call)
            })
            .collect();
        let t = &self.today;
        let judged = t.answered + t.missed + t.abandoned;
        json!({
            "now": now,
            "lines": lines,
            "devices": self.devices,
            "agents": agents,
            "ringing": ringing,
            "today": t,
            "abandon_rate": (judged > 0).then(|| 100.0 * t.abandoned as f64 / judged as f64),
        })
    }
}

impl Board {
    /// Whether a viewer of `scope` sees `line`: everyone's for `All`; for
    /// a team, the team's lines and its agents'; for one agent, theirs.
    fn line_seen(&self, scope: &Scope, line: &str) -> bool {
        let agent = |name: &str| self.agents.values().find(|a| a.user.username == name);
        match (scope, self.bindings.get(line)) {
            (Scope::All, _) => true,
            (Scope::Team(t), Some(Binding::Team(team))) => team == t,
            (Scope::Team(t), Some(Binding::Agent(name))) => {
                agent(name).is_some_and(|a| a.user.team.as_ref() == Some(t))
            }
            (Scope::Own(id), Some(Binding::Agent(name))) => {
                agent(name).is_some_and(|a| a.user.id == *id)
            }
            _ => false,
        }
    }
}

/// What one wallboard viewer is shown: viewers with the same view share
/// one picture, computed once per change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct View {
    pub scope: Scope,
    /// Callers' numbers masked (QA: the same rule as the history's).
    pub masked: bool,
}

impl View {
    /// The view the access table gives `viewer` on the wallboard.
    pub fn of(viewer: &User) -> View {
        View {
            scope: Scope::of(viewer),
            masked: crate::access::must_mask(viewer, true),
        }
    }
}

/// Which agents a wallboard viewer sees: viewers of one scope share one
/// picture, computed once per change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// QA and admins: everybody.
    All,
    /// A team lead: the team.
    Team(String),
    /// Anyone else: themself.
    Own(i64),
}

impl Scope {
    /// The scope of a viewer: the access table's reach on the wallboard.
    pub fn of(viewer: &User) -> Scope {
        match crate::access::grant("GET /ws/wallboard", viewer) {
            Ok(crate::store::Scope::All) => Scope::All,
            Ok(crate::store::Scope::Team(t)) => Scope::Team(t),
            _ => Scope::Own(viewer.id),
        }
    }

    /// Whether the scope includes `subject`.
    pub fn sees(&self, subject: &User) -> bool {
        match self {
            Scope::All => true,
            Scope::Team(t) => subject.team.as_ref() == Some(t),
            Scope::Own(id) => subject.id == *id,
        }
    }
}

/// What changed from picture `old` to `new`, or `None` if nothing did:
/// `replace` holds top-level values that changed, `changed` the entries of
/// keyed collections (lines, devices, agents, ringing) new or different,
/// `removed` the keys gone from them. A client applies it in that order.
pub fn delta(old: &Value, new: &Value) -> Option<Value> {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return Some(json!({ "replace": new }));
    };
    let mut replace = Map::new();
    let mut changed = Map::new();
    let mut removed = Map::new();
    for (key, value) in new {
        match (old.get(key), value) {
            (Some(a), b) if a == b => {}
            (Some(Value::Object(a)), Value::Object(b)) if KEYED.contains(&key.as_str()) => {
                let entries: Map<String, Value> = b
                    .iter()
                    .filter(|(k, v)| a.get(*k) != Some(*v))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let gone: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k)).collect();
                if !entries.is_empty() {
                    changed.insert(key.clone(), Value::Object(entries));
                }
                if !gone.is_empty() {
                    removed.insert(key.clone(), json!(gone));
                }
            }
            _ => {
                replace.insert(key.clone(), value.clone());
            }
        }
    }
    // `now` alone moving is no change worth a frame.
    let only_clock = changed.is_empty() && removed.is_empty() && replace.keys().all(|k| k == "now");
    (!only_clock).then(|| json!({ "replace": replace, "changed": changed, "removed": removed }))
}

/// The picture's keyed collections, sent entry by entry in a delta.
const KEYED: [&str; 4] = ["lines", "devices", "agents", "ringing"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Outcome;
    use crate::store::AgentState;
    use std::sync::Arc;

    fn view(id: i64, role: Role, team: &str, state: AgentState) -> AgentView {
        AgentView {
            user: User {
                id,
                username: format!("u{id}"),
                display_name: format!("U{id}"),
                role,
                team: Some(team.into()),
                disabled: false,
            },
            state,
            reason: None,
            since: 0,
            until: None,
        }
    }

    /// Applies a delta as the page does.
    fn apply(picture: &mut Value, d: &Value) {
        for (k, v) in d["replace"].as_object().unwrap() {
            picture[k] = v.clone();
        }
        for (k, entries) in d["changed"].as_object().unwrap() {
            for (key, v) in entries.as_object().unwrap() {
                picture[k][key] = v.clone();
            }
        }
        for (k, keys) in d["removed"].as_object().unwrap() {
            for key in keys.as_array().unwrap() {
                picture[k]
                    .as_object_mut()
                    .unwrap()
                    .remove(key.as_str().unwrap());
            }
        }
    }

    const ALL: View = View {
        scope: Scope::All,
        masked: false,
    };

    #[test]
    fn viewers_see_their_scope_s_lines_and_numbers_masked_by_role() {
        let mut b = Board::default();
        b.agent(view(1, Role::Agent, "sales", AgentState::Ready));
        b.agent(view(2, Role::Agent, "support", AgentState::Ready));
        b.bind("box/1".into(), Some(Binding::Agent("u1".into())));
        b.bind("box/2".into(), Some(Binding::Team("support".into())));
        b.bind("box/3".into(), Some(Binding::Agent("u2".into())));
        for (n, line) in [(1, "box/1"), (2, "box/2"), (3, "box/3"), (4, "box/4")] {
            b.on_event(
                &CallEvent::Ringing {
                    call_id: format!("c{n}").into(),
                    line: line.into(),
                    ring_count: 1,
                },
                1_000,
            );
            b.lines.get_mut(line).unwrap().number = Some(format!("1381234567{n}"));
        }
        let lines = |p: &Value| -> Vec<String> {
            p["lines"].as_object().unwrap().keys().cloned().collect()
        };
        let sales = view(9, Role::TeamLead, "sales", AgentState::Ready).user;
        let support = view(8, Role::TeamLead, "support", AgentState::Ready).user;
        let qa = view(7, Role::Qa, "qa", AgentState::Ready).user;
        let admin = view(6, Role::Admin, "x", AgentState::Ready).user;
        let p = b.picture(&View::of(&sales), 2_000);
        assert_eq!(lines(&p), ["box/1"]);
        assert_eq!(
            p["ringing"].as_object().unwrap().len(),
            1,
            "ringing as its lines"
        );
        assert_eq!(
            lines(&b.picture(&View::of(&support), 2_000)),
            ["box/2", "box/3"]
        );
        let q = b.picture(&View::of(&qa), 2_000);
        assert_eq!(lines(&q).len(), 4, "QA sees every line");
        assert_eq!(
            q["lines"]["box/1"]["number"], "138****5671",
            "QA sees numbers masked"
        );
        let a = b.picture(&View::of(&admin), 2_000);
        assert_eq!(a["lines"]["box/1"]["number"], "13812345671");
        assert_ne!(View::of(&qa), View::of(&admin), "one picture each");
    }

    #[test]
    fn scopes_pick_the_agents_each_viewer_sees() {
        let mut b = Board::default();
        b.agent(view(1, Role::Agent, "sales", AgentState::Ready));
        b.agent(view(2, Role::Agent, "support", AgentState::Ready));
        b.agent(view(3, Role::Qa, "qa", AgentState::Offline));
        let lead = view(4, Role::TeamLead, "sales", AgentState::Ready).user;
        assert_eq!(Scope::of(&lead), Scope::Team("sales".into()));
        let sales = b.picture(&View::of(&lead), 0);
        let ids: Vec<&String> = sales["agents"].as_object().unwrap().keys().collect();
        assert_eq!(ids, ["1"]);
        let all = b.picture(&ALL, 0);
        assert_eq!(
            all["agents"].as_object().unwrap().len(),
            2,
            "QA takes no calls"
        );
        let mut agent = lead.clone();
        agent.role = Role::Agent;
        assert_eq!(Scope::of(&agent), Scope::Own(4));
    }

    #[test]
    fn a_delta_carries_only_what_changed_and_rebuilds_the_picture() {
        let mut b = Board::default();
        for id in 1..=100 {
            b.agent(view(id, Role::Agent, "sales", AgentState::Ready));
        }
        let before = b.picture(&ALL, 1_000);
        assert_eq!(
            delta(&before, &b.picture(&ALL, 2_000)),
            None,
            "only the clock"
        );
        b.agent(view(7, Role::Agent, "sales", AgentState::OnCall));
        b.on_event(
            &CallEvent::Ringing {
                call_id: "c1".into(),
                line: "box/1".into(),
                ring_count: 1,
            },
            2_000,
        );
        let after = b.picture(&ALL, 2_000);
        let d = delta(&before, &after).unwrap();
        assert_eq!(d["changed"]["agents"].as_object().unwrap().len(), 1);
        assert_eq!(d["changed"]["lines"]["box/1"]["state"], "ringing");
        assert!(d.to_string().len() * 5 < after.to_string().len(), "{d}");
        let mut rebuilt = before.clone();
        apply(&mut rebuilt, &d);
        assert_eq!(rebuilt, after);
        // An agent leaving the scope is removed.
        b.agents.remove(&7);
        let later = b.picture(&ALL, 3_000);
        let d = delta(&after, &later).unwrap();
        assert_eq!(d["removed"]["agents"], json!(["7"]));
        apply(&mut rebuilt, &d);
        assert_eq!(rebuilt, later);
    }

    #[test]
    fn lines_follow_their_calls_and_today_counts_them() {
        let mut b = Board::new(Today {
            day_start: local_midnight(1_000),
            offered: 2,
            answered: 1,
            missed: 1,
            ..Today::default()
        });
        let (call, line): (Arc<str>, Arc<str>) = ("c1".into(), "box/1".into());
        assert!(b.on_event(
            &CallEvent::Ringing {
                call_id: call.clone(),
                line: line.clone(),
                ring_count: 1
            },
            1_000
        ));
        assert_eq!(b.lines["box/1"].state, "ringing");
        assert_eq!(b.picture(&ALL, 1_000)["ringing"]["box/1"]["line"], "box/1");
        b.on_event(
            &CallEvent::Answered {
                call_id: call.clone(),
                line: line.clone(),
            },
            3_000,
        );
        assert_eq!(
            (b.lines["box/1"].state, b.lines["box/1"].since),
            ("talking", 3_000)
        );
        b.on_event(
            &CallEvent::Ended {
                call_id: call,
                line,
                outcome: Outcome::Answered,
                reason: None,
            },
            9_000,
        );
        assert_eq!(b.lines["box/1"].state, "idle");
        assert_eq!((b.today.offered, b.today.answered), (3, 2));
        let snap = b.picture(&ALL, 9_000);
        assert_eq!(snap["ringing"].as_object().unwrap().len(), 0);
        assert!((snap["abandon_rate"].as_f64().unwrap() - 0.0).abs() < 1e-9);
        b.on_event(
            &CallEvent::Device {
                device: "box".into(),
                state: DeviceState::Down {
                    reason: "unplugged".into(),
                },
            },
            10_000,
        );
        assert!(!b.devices["box"].up);
    }

    #[test]
    fn a_dialled_call_shows_dialling_and_counts_as_outbound() {
        let mut b = Board::new(Today {
            day_start: local_midnight(1_000),
            ..Today::default()
        });
        let (call, line): (Arc<str>, Arc<str>) = ("o1".into(), "gsm1/1".into());
        b.on_event(
            &CallEvent::Dialing {
                call_id: call.clone(),
                line: line.clone(),
                agent: Some("li".into()),
                agent_id: Some(7),
                number: Some("13912345678".into()),
            },
            1_000,
        );
        assert_eq!(b.lines["gsm1/1"].state, "dialling");
        assert_eq!(
            b.picture(&ALL, 1_000)["ringing"].as_object().unwrap().len(),
            0,
            "a dialled call is no caller waiting"
        );
        b.on_event(
            &CallEvent::Answered {
                call_id: call.clone(),
                line: line.clone(),
            },
            4_000,
        );
        assert_eq!(b.lines["gsm1/1"].state, "talking");
        b.on_event(
            &CallEvent::Ended {
                call_id: call,
                line,
                outcome: Outcome::Answered,
                reason: None,
            },
            60_000,
        );
        assert_eq!(
            (b.today.offered, b.today.answered, b.today.outbound),
            (0, 0, 1)
        );
    }
}
