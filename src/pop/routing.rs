//! Routing: which desktops a line's call pops on (the line's binding to an
//! agent, or to a team's ready agents), who claimed a group line's call,
//! and the calls open now. Plain state: the hub asks, it answers.

use super::agents::Agents;
use super::command::CommandError;
use super::content::Pop;
use crate::store::{AgentState, Binding};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// How long an ended call stays selectable (an agent wrapping it up may
/// still pick or add its customer).
pub const ENDED_KEPT: Duration = Duration::from_secs(30 * 60);
/// At most this many ended calls are kept.
const ENDED_KEPT_MAX: usize = 5_000;

/// A call that is ringing or under way, as the hub follows it.
#[derive(Debug)]
pub struct OpenCall {
    pub line: String,
    pub pop: Option<Pop>,
    /// The users it was offered to.
    pub offered: Vec<i64>,
    pub taken_by: Option<i64>,
    /// The customer an agent picked, written into the CDR when the call ends.
    pub selected: Option<i64>,
    /// Users whose desktop has acknowledged the pop.
    pub acked: HashSet<i64>,
    /// When the hub popped it: pop latency runs from here to each ack.
    pub popped_at: Option<Instant>,
    /// The agent callpop dialled it for: its pop goes to them alone.
    pub dialled_by: Option<i64>,
    /// A blacklisted caller the device refused: no pop.
    pub rejected: bool,
}

/// Bindings and open calls.
#[derive(Debug, Default)]
pub struct Routing {
    bindings: HashMap<String, Binding>,
    calls: HashMap<String, OpenCall>,
    /// Calls ended lately ([`ENDED_KEPT`]), oldest first in `ended_order`.
    ended: HashMap<String, OpenCall>,
    ended_order: VecDeque<(Instant, String)>,
}

impl Routing {
    /// Routing over the stored bindings.
    pub fn new(bindings: impl IntoIterator<Item = (String, Binding)>) -> Routing {
        Routing {
            bindings: bindings.into_iter().collect(),
            calls: HashMap::new(),
            ended: HashMap::new(),
            ended_order: VecDeque::new(),
        }
    }

    /// Binds a line (or unbinds it with `None`).
    pub fn bind(&mut self, line: String, binding: Option<Binding>) {
        match binding {
            Some(b) => self.bindings.insert(line, b),
            None => self.bindings.remove(&line),
        };
    }

    /// The lines an agent may dial on: bound to them, then bound to
    /// their team (group lines), each sorted.
    pub fn lines_of(&self, username: &str, team: Option<&str>) -> Vec<String> {
        let pick = |want: &dyn Fn(&Binding) -> bool| {
            let mut lines: Vec<String> = self
                .bindings
                .iter()
                .filter(|(_, b)| want(b))
                .map(|(l, _)| l.clone())
                .collect();
            lines.sort();
            lines
        };
        let mut lines = pick(&|b| matches!(b, Binding::Agent(a) if a == username));
        lines.extend(pick(
            &|b| matches!(b, Binding::Team(t) if Some(t.as_str()) == team),
        ));
        lines
    }

    /// A line's binding.
    pub fn binding(&self, line: &str) -> Option<&Binding> {
        self.bindings.get(line)
    }

    /// The team a group line pops to.
    pub fn team_of(&self, line: &str) -> Option<String> {
        match self.bindings.get(line) {
            Some(Binding::Team(t)) => Some(t.clone()),
            _ => None,
        }
    }

    /// Who a call on `line` pops on now: the bound agent (in any state: the
    /// line is theirs), or the ready agents of the bound team.
    pub fn recipients(&self, line: &str, agents: &Agents) -> Vec<i64> {
        match self.bindings.get(line) {
            Some(Binding::Agent(name)) => agents.by_username(name).into_iter().collect(),
            Some(Binding::Team(t)) => agents
                .all()
                .filter(|a| a.user.team.as_ref() == Some(t) && a.state == AgentState::Ready)
                .map(|a| a.user.id)
                .collect(),
            None => Vec::new(),
        }
    }

    /// The open call, opened now if new.
    pub fn open(&mut self, call_id: &str, line: &str) -> &mut OpenCall {
        self.calls
            .entry(call_id.to_string())
            .or_insert_with(|| OpenCall {
                line: line.to_string(),
                pop: None,
                offered: Vec::new(),
                taken_by: None,
                selected: None,
                acked: HashSet::new(),
                popped_at: None,
                dialled_by: None,
                rejected: false,
            })
    }

    /// An open call.
    pub fn call(&self, call_id: &str) -> Option<&OpenCall> {
        self.calls.get(call_id)
    }

    /// An open call, to change.
    pub fn call_mut(&mut self, call_id: &str) -> Option<&mut OpenCall> {
        self.calls.get_mut(call_id)
    }

    /// Every open call.
    pub fn calls(&self) -> impl Iterator<Item = (&String, &OpenCall)> {
        self.calls.iter()
    }

    /// The call is over; what the hub knew of it (hand it back with
    /// [`Routing::keep_ended`]).
    pub fn end(&mut self, call_id: &str) -> Option<OpenCall> {
        self.calls.remove(call_id)
    }

    /// Keeps an ended call for a while, so whoever it was offered to can
    /// still pick its customer; forgets the oldest.
    pub fn keep_ended(&mut self, call_id: &str, call: OpenCall, now: Instant) {
        while let Some((at, _)) = self.ended_order.front() {
            if now.duration_since(*at) <= ENDED_KEPT && self.ended_order.len() < ENDED_KEPT_MAX {
                break;
            }
            if let Some((_, id)) = self.ended_order.pop_front() {
                self.ended.remove(&id);
            }
        }
        if self.ended.insert(call_id.to_string(), call).is_none() {
            self.ended_order.push_back((now, call_id.to_string()));
        }
    }

    /// A call offered to `user_id`, open or ended lately; true when ended.
    pub fn offered_call_or_ended(
        &mut self,
        call_id: &str,
        user_id: i64,
    ) -> Result<(&mut OpenCall, bool), CommandError> {
        let (call, ended) = match self.calls.get_mut(call_id) {
            Some(c) => (c, false),
            None => (
                self.ended
                    .get_mut(call_id)
                    .ok_or_else(|| no_call(call_id))?,
                true,
            ),
        };
        if call.offered.contains(&user_id) {
            Ok((call, ended))
        } else {
            Err(CommandError::new(
                "forbidden",
                "this call was not offered to you",
            ))
        }
    }

    /// A desktop opened: the calls ringing now that it should show (those
    /// offered to the user already, and those routed to them since).
    pub fn pending_for(&mut self, user_id: i64, agents: &Agents) -> Vec<String> {
        let Some(me) = agents.get(user_id) else {
            return Vec::new();
        };
        let mut pending = Vec::new();
        for (id, call) in self.calls.iter_mut() {
            if call.pop.is_none() || call.taken_by.is_some() {
                continue;
            }
            let routed = match self.bindings.get(&call.line) {
                Some(Binding::Agent(name)) => *name == me.user.username,
                Some(Binding::Team(team)) => {
                    me.user.team.as_ref() == Some(team) && me.state == AgentState::Ready
                }
                None => false,
            };
            if routed && !call.offered.contains(&user_id) {
                call.offered.push(user_id);
            }
            if call.offered.contains(&user_id) {
                pending.push(id.clone());
            }
        }
        pending
    }

    /// `user_id` claims a call offered to them; returns the others it was
    /// offered to (their pops close), empty if they had it already.
    pub fn claim(&mut self, call_id: &str, user_id: i64) -> Result<Vec<i64>, CommandError> {
        self.offered_call(call_id, user_id)?;
        let call = self
            .calls
            .get_mut(call_id)
            .ok_or_else(|| no_call(call_id))?;
        match call.taken_by {
            Some(t) if t != user_id => {
                Err(CommandError::new("taken", "another agent took this call"))
            }
            Some(_) => Ok(Vec::new()),
            None => {
                call.taken_by = Some(user_id);
                Ok(call
                    .offered
                    .iter()
                    .copied()
                    .filter(|u| *u != user_id)
                    .collect())
            }
        }
    }

    /// The call, if it was offered to `user_id`.
    pub fn offered_call(&self, call_id: &str, user_id: i64) -> Result<&OpenCall, CommandError> {
        let call = self.calls.get(call_id).ok_or_else(|| no_call(call_id))?;
        if call.offered.contains(&user_id) {
            Ok(call)
        } else {
            Err(CommandError::new(
                "forbidden",
                "this call was not offered to you",
            ))
        }
    }

    /// The line went off-hook: an agent line's call is its agent's unless
    /// someone claimed it. Returns who it was offered to and who took it.
    pub fn answered(&mut self, call_id: &str, agents: &Agents) -> Option<(Vec<i64>, Option<i64>)> {
        let call = self.calls.get_mut(call_id)?;
        if call.taken_by.is_none() {
            if let Some(Binding::Agent(name)) = self.bindings.get(&call.line) {
                call.taken_by = agents.by_username(name);
            }
        }
        Some((call.offered.clone(), call.taken_by))
    }

    /// A desktop acknowledged the pop of `call_id`: when it was popped, the
    /// first time this user acknowledges it.
    pub fn acked(&mut self, call_id: &str, user_id: i64) -> Option<Instant> {
        let call = self.calls.get_mut(call_id)?;
        call.acked
            .insert(user_id)
            .then_some(call.popped_at)
            .flatten()
    }
}

fn no_call(call_id: &str) -> CommandError {
    CommandError::new("no_call", format!("no open call {call_id:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Role, User};
    use std::time::Duration;

    fn agents() -> Agents {
        let mut a = Agents::new(Duration::ZERO);
        for (id, name, team) in [
            (1, "agent1", "sales"),
            (2, "agent2", "sales"),
            (3, "agent3", "support"),
        ] {
            a.join(
                User {
                    id,
                    username: name.into(),
                    display_name: name.into(),
                    role: Role::Agent,
                    team: Some(team.into()),
                    disabled: false,
                },
                0,
            );
        }
        a
    }

    fn routing() -> Routing {
        Routing::new([
            ("box/1".to_string(), Binding::Agent("agent1".into())),
            ("box/2".to_string(), Binding::Team("sales".into())),
        ])
    }

    #[test]
    fn an_agent_line_pops_on_its_agent_and_a_team_line_on_ready_members() {
        let mut a = agents();
        let r = routing();
        assert_eq!(r.recipients("box/1", &a), [1]);
        let mut team = r.recipients("box/2", &a);
        team.sort();
        assert_eq!(team, [1, 2]);
        a.set(2, AgentState::NotReady, None, 5);
        assert_eq!(r.recipients("box/2", &a), [1]);
        a.set(1, AgentState::NotReady, None, 5);
        assert_eq!(
            r.recipients("box/1", &a),
            [1],
            "an agent's own line pops anyway"
        );
        assert!(r.recipients("box/9", &a).is_empty());
        assert_eq!(r.team_of("box/2").as_deref(), Some("sales"));
    }

    #[test]
    fn one_agent_claims_a_group_call_and_the_others_are_told() {
        let mut r = routing();
        let call = r.open("c1", "box/2");
        call.offered = vec![1, 2];
        assert_eq!(r.claim("c1", 3).unwrap_err().code, "forbidden");
        assert_eq!(r.claim("c9", 1).unwrap_err().code, "no_call");
        assert_eq!(r.claim("c1", 2).unwrap(), [1]);
        assert_eq!(
            r.claim("c1", 2).unwrap(),
            Vec::<i64>::new(),
            "a retry is fine"
        );
        assert_eq!(r.claim("c1", 1).unwrap_err().code, "taken");
        let a = agents();
        assert_eq!(r.answered("c1", &a), Some((vec![1, 2], Some(2))));
    }

    #[test]
    fn an_ended_call_stays_selectable_by_its_agents_for_a_while() {
        let mut r = routing();
        r.open("c1", "box/1").offered = vec![1];
        let t0 = Instant::now();
        let call = r.end("c1").unwrap();
        r.keep_ended("c1", call, t0);
        assert!(r.call("c1").is_none(), "no longer open");
        assert_eq!(r.claim("c1", 1).unwrap_err().code, "no_call");
        assert!(r.offered_call_or_ended("c1", 1).unwrap().1, "ended");
        assert_eq!(
            r.offered_call_or_ended("c1", 2).unwrap_err().code,
            "forbidden"
        );
        // Forgotten once a later call ends past the keeping time.
        r.open("c2", "box/1");
        let c2 = r.end("c2").unwrap();
        r.keep_ended("c2", c2, t0 + ENDED_KEPT + Duration::from_secs(1));
        assert_eq!(
            r.offered_call_or_ended("c1", 1).unwrap_err().code,
            "no_call"
        );
    }

    #[test]
    fn a_late_desktop_gets_the_calls_routed_to_it_and_acks_count_once() {
        let a = agents();
        let mut r = routing();
        r.open("c1", "box/1");
        assert!(r.pending_for(1, &a).is_empty(), "no pop yet");
        let t0 = Instant::now();
        for (id, line) in [("c1", "box/1"), ("c2", "box/2")] {
            let call = r.open(id, line);
            call.pop = Some(Pop::empty(id, line));
            call.popped_at = Some(t0);
        }
        let mut pending = r.pending_for(1, &a);
        pending.sort();
        assert_eq!(pending, ["c1", "c2"]);
        assert_eq!(r.pending_for(3, &a), Vec::<String>::new(), "other team");
        assert_eq!(
            r.answered("c1", &a),
            Some((vec![1], Some(1))),
            "agent line: its agent"
        );
        assert_eq!(r.acked("c2", 1), Some(t0));
        assert_eq!(r.acked("c2", 1), None, "counted once");
        assert!(r.end("c2").is_some());
        assert!(r.call("c2").is_none());
    }
}
