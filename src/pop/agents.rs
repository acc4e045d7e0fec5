//! Agents' states (就绪, 未就绪, 通话中, 话后处理, 离线) and after-call work:
//! a plain state machine over `now`. Each change comes back as a
//! [`StateChange`] for the hub to store, show and pass to the wallboard.

use super::command::CommandError;
use crate::store::{AgentState, Role, User};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// Command results remembered per user for retried commands.
const REMEMBERED_RESULTS: usize = 512;

/// An agent's state as desktops and wallboards show it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentView {
    pub user: User,
    pub state: AgentState,
    pub reason: Option<String>,
    /// Since when (ms), for the time in state.
    pub since: i64,
    /// When after-call work ends by itself (ms), for its countdown.
    pub until: Option<i64>,
}

impl AgentView {
    /// The `agent.state` data.
    pub fn json(&self) -> Value {
        json!({
            "user_id": self.user.id,
            "username": self.user.username,
            "display_name": self.user.display_name,
            "team": self.user.team,
            "state": self.state,
            "reason": self.reason,
            "since": self.since,
            "until": self.until,
        })
    }
}

/// One change of an agent's state, to be stored and sent.
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    pub view: AgentView,
    /// The call whose after-call work ended with this change (handle time
    /// includes wrap-up: its end goes on the call).
    pub wrapup_ended: Option<String>,
}

#[derive(Debug)]
struct Agent {
    view: AgentView,
    /// Ready again at this time (after-call work countdown).
    ready_at: Option<Instant>,
    /// Calls this agent saved a work order for during the call.
    saved_calls: HashSet<String>,
    /// The call whose after-call work this agent is doing.
    wrapping_up: Option<String>,
    results: HashMap<String, Value>,
    result_order: VecDeque<String>,
}

/// Every agent the hub has seen since it started.
#[derive(Debug)]
pub struct Agents {
    by_id: HashMap<i64, Agent>,
    after_call: Duration,
    /// The longest after-call work without a saved work order (`None`: no
    /// limit; the agent ends it by saving or choosing a state).
    after_call_max: Option<Duration>,
}

/// Who sees whose state: oneself; team leads their team; QA and admins all.
pub fn may_see(viewer: &User, subject: &User) -> bool {
    viewer.id == subject.id
        || matches!(viewer.role, Role::Admin | Role::Qa)
        || (viewer.role == Role::TeamLead && viewer.team.is_some() && viewer.team == subject.team)
}

impl Agents {
    /// Agents whose after-call work lasts `after_call` once a work order is saved.
    pub fn new(after_call: Duration) -> Agents {
        Agents {
            by_id: HashMap::new(),
            after_call,
            after_call_max: None,
        }
    }

    /// After-call work ends by itself `max` after the call at the latest,
    /// saved or not (zero: no limit).
    pub fn with_after_call_max(mut self, max: Duration) -> Agents {
        self.after_call_max = (!max.is_zero()).then_some(max);
        self
    }

    /// An agent's view.
    pub fn get(&self, user_id: i64) -> Option<&AgentView> {
        self.by_id.get(&user_id).map(|a| &a.view)
    }

    /// Every agent's view.
    pub fn all(&self) -> impl Iterator<Item = &AgentView> {
        self.by_id.values().map(|a| &a.view)
    }

    /// The ids of the agents logged in as `username`.
    pub fn by_username(&self, username: &str) -> Option<i64> {
        self.all()
            .find(|v| v.user.username == username)
            .map(|v| v.user.id)
    }

    /// A user opened a desktop: agents and team leads become ready when
    /// they were offline or new; returns that change, if any.
    pub fn join(&mut self, user: User, now_ms: i64) -> Option<StateChange> {
        let id = user.id;
        let agent = self.by_id.entry(id).or_insert_with(|| Agent {
            view: AgentView {
                user: user.clone(),
                state: AgentState::Offline,
                reason: None,
                since: now_ms,
                until: None,
            },
            ready_at: None,
            saved_calls: HashSet::new(),
            wrapping_up: None,
            results: HashMap::new(),
            result_order: VecDeque::new(),
        });
        agent.view.user = user;
        let takes_calls = matches!(agent.view.user.role, Role::Agent | Role::TeamLead);
        (agent.view.state == AgentState::Offline && takes_calls)
            .then(|| self.set(id, AgentState::Ready, None, now_ms))
            .flatten()
    }

    /// The agent chose ready or not ready (with a reason, cut to 100 characters).
    pub fn choose(
        &mut self,
        user_id: i64,
        state: AgentState,
        reason: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<StateChange>, CommandError> {
        if !matches!(state, AgentState::Ready | AgentState::NotReady) {
            return Err(CommandError::new(
                "bad_state",
                format!(
                    "an agent may choose ready or not_ready, not {}",
                    state.as_str()
                ),
            ));
        }
        if self
            .get(user_id)
            .is_some_and(|a| a.state == AgentState::OnCall)
        {
            return Err(CommandError::new("on_call", "finish the call first"));
        }
        let reason: Option<String> = reason.map(|r| r.chars().take(100).collect());
        Ok(self.set(user_id, state, reason.as_deref(), now_ms))
    }

    /// Sets a state; leaving after-call work ends the wrap-up of its call.
    pub fn set(
        &mut self,
        user_id: i64,
        state: AgentState,
        reason: Option<&str>,
        now_ms: i64,
    ) -> Option<StateChange> {
        let a = self.by_id.get_mut(&user_id)?;
        let mut wrapup_ended = None;
        if state != AgentState::AfterCallWork {
            a.ready_at = None;
            a.view.until = None;
            wrapup_ended = a.wrapping_up.take();
        }
        a.view.state = state;
        a.view.reason = reason.map(str::to_string);
        a.view.since = now_ms;
        Some(StateChange {
            view: a.view.clone(),
            wrapup_ended,
        })
    }

    /// A work order was saved for `call_id`: during the call, after-call
    /// work will count down when it ends; after it, the countdown starts now.
    pub fn work_order_saved(
        &mut self,
        user_id: i64,
        call_id: &str,
        call_open: bool,
        now: Instant,
        now_ms: i64,
    ) -> Option<StateChange> {
        let agent = self.by_id.get_mut(&user_id)?;
        if call_open {
            agent.saved_calls.insert(call_id.to_string());
            None
        } else if agent.view.state == AgentState::AfterCallWork {
            self.countdown(user_id, now, now_ms)
        } else {
            None
        }
    }

    /// A call ended: its taker goes into after-call work (counting down if
    /// a work order is already saved); others forget it.
    pub fn call_ended(
        &mut self,
        call_id: &str,
        offered: &[i64],
        taker: Option<i64>,
        now: Instant,
        now_ms: i64,
    ) -> Option<StateChange> {
        for u in offered.iter().filter(|u| Some(**u) != taker) {
            if let Some(a) = self.by_id.get_mut(u) {
                a.saved_calls.remove(call_id);
            }
        }
        let taker = taker?;
        let a = self.by_id.get_mut(&taker)?;
        a.wrapping_up = Some(call_id.to_string());
        a.ready_at = None;
        if a.saved_calls.remove(call_id) {
            self.countdown(taker, now, now_ms)
        } else {
            // Not saved yet: the countdown to the maximum starts now.
            let deadline = self.after_call_max.map(|max| (now + max, max));
            self.after_call_work(taker, deadline, now, now_ms)
        }
    }

    /// A work order is saved: after-call work lasts `after_call` more, or
    /// less if its maximum comes first.
    fn countdown(&mut self, user_id: i64, now: Instant, now_ms: i64) -> Option<StateChange> {
        if self.after_call.is_zero() {
            return self.set(user_id, AgentState::Ready, None, now_ms);
        }
        let mut deadline = (now + self.after_call, self.after_call);
        if let Some(earlier) = self.by_id.get(&user_id)?.ready_at {
            if earlier < deadline.0 {
                deadline = (earlier, earlier.saturating_duration_since(now));
            }
        }
        self.after_call_work(user_id, Some(deadline), now, now_ms)
    }

    /// Puts an agent in after-call work, ending by itself at `deadline`
    /// (the instant, and how long from now) if there is one.
    fn after_call_work(
        &mut self,
        user_id: i64,
        deadline: Option<(Instant, Duration)>,
        _now: Instant,
        now_ms: i64,
    ) -> Option<StateChange> {
        let a = self.by_id.get_mut(&user_id)?;
        a.ready_at = deadline.map(|(at, _)| at);
        a.view.until = deadline.map(|(_, left)| now_ms + left.as_millis() as i64);
        let since = if a.view.state == AgentState::AfterCallWork {
            a.view.since
        } else {
            now_ms
        };
        let mut change = self.set(user_id, AgentState::AfterCallWork, None, now_ms)?;
        // The time in after-call work counts from the call's end.
        let a = self.by_id.get_mut(&user_id)?;
        a.view.since = since;
        change.view.since = since;
        Some(change)
    }

    /// Agents whose after-call countdown is over become ready.
    pub fn due(&mut self, now: Instant, now_ms: i64) -> Vec<StateChange> {
        let due: Vec<i64> = self
            .by_id
            .values()
            .filter(|a| a.ready_at.is_some_and(|t| t <= now))
            .map(|a| a.view.user.id)
            .collect();
        due.into_iter()
            .filter_map(|u| self.set(u, AgentState::Ready, None, now_ms))
            .collect()
    }

    /// The answer a command with this idempotency key already got.
    pub fn remembered(&self, user_id: i64, key: &str) -> Option<&Value> {
        self.by_id.get(&user_id)?.results.get(key)
    }

    /// Keeps a command's answer for a retry with the same key.
    pub fn remember(&mut self, user_id: i64, key: &str, result: &Value) {
        let Some(a) = self.by_id.get_mut(&user_id) else {
            return;
        };
        if a.results.insert(key.to_string(), result.clone()).is_none() {
            a.result_order.push_back(key.to_string());
        }
        if a.result_order.len() > REMEMBERED_RESULTS {
            if let Some(old) = a.result_order.pop_front() {
                a.results.remove(&old);
            }
        }
    }

    /// Who may see `subject`'s state.
    pub fn viewers_of<'a>(&'a self, subject: &'a User) -> impl Iterator<Item = i64> + 'a {
        self.all()
            .filter(move |v| may_see(&v.user, subject))
            .map(|v| v.user.id)
    }

    /// Who is told of devices and alarms.
    pub fn supervisors(&self) -> Vec<i64> {
        self.all()
            .filter(|v| matches!(v.user.role, Role::Admin | Role::TeamLead | Role::Qa))
            .map(|v| v.user.id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, role: Role, team: Option<&str>) -> User {
        User {
            id,
            username: format!("u{id}"),
            display_name: format!("U{id}"),
            role,
            team: team.map(str::to_string),
            disabled: false,
        }
    }

    #[test]
    fn agents_join_ready_and_choose_their_state_unless_on_a_call() {
        let mut a = Agents::new(Duration::from_secs(30));
        let joined = a.join(user(1, Role::Agent, Some("sales")), 1_000).unwrap();
        assert_eq!(
            (joined.view.state, joined.view.since),
            (AgentState::Ready, 1_000)
        );
        assert_eq!(
            a.join(user(9, Role::Qa, None), 1_000),
            None,
            "QA takes no calls"
        );
        assert_eq!(
            a.join(user(1, Role::Agent, Some("sales")), 2_000),
            None,
            "already ready"
        );
        let long = "很".repeat(150);
        let c = a
            .choose(1, AgentState::NotReady, Some(&long), 3_000)
            .unwrap()
            .unwrap();
        assert_eq!(c.view.reason.unwrap().chars().count(), 100);
        assert_eq!(
            a.choose(1, AgentState::OnCall, None, 3_000)
                .unwrap_err()
                .code,
            "bad_state"
        );
        a.set(1, AgentState::OnCall, None, 4_000);
        assert_eq!(
            a.choose(1, AgentState::Ready, None, 5_000)
                .unwrap_err()
                .code,
            "on_call"
        );
    }

    #[test]
    fn after_call_work_counts_down_once_a_work_order_is_saved() {
        let t0 = Instant::now();
        let mut a = Agents::new(Duration::from_secs(30));
        a.join(user(1, Role::Agent, None), 0);
        a.set(1, AgentState::OnCall, None, 10);
        // Saved during the call: the countdown starts when it ends.
        assert_eq!(a.work_order_saved(1, "c1", true, t0, 20), None);
        let ended = a.call_ended("c1", &[1], Some(1), t0, 30).unwrap();
        assert_eq!(ended.view.state, AgentState::AfterCallWork);
        assert_eq!(ended.view.until, Some(30 + 30_000), "its countdown");
        assert!(a.due(t0 + Duration::from_secs(29), 40).is_empty());
        let ready = a.due(t0 + Duration::from_secs(30), 50);
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].view.state, AgentState::Ready);
        assert_eq!(
            ready[0].wrapup_ended.as_deref(),
            Some("c1"),
            "handle time ends here"
        );
    }

    #[test]
    fn without_a_work_order_wrap_up_waits_and_a_late_save_starts_the_countdown() {
        let t0 = Instant::now();
        let mut a = Agents::new(Duration::ZERO);
        a.join(user(1, Role::Agent, None), 0);
        a.join(user(2, Role::Agent, None), 0);
        a.work_order_saved(2, "c1", true, t0, 5);
        let ended = a.call_ended("c1", &[1, 2], Some(1), t0, 10).unwrap();
        assert_eq!(
            (ended.view.user.id, ended.view.state),
            (1, AgentState::AfterCallWork)
        );
        assert!(
            a.due(t0 + Duration::from_secs(3600), 20).is_empty(),
            "no countdown yet"
        );
        // Zero after-call time: ready as soon as the order is saved.
        let saved = a.work_order_saved(1, "c1", false, t0, 30).unwrap();
        assert_eq!(saved.view.state, AgentState::Ready);
        assert_eq!(saved.wrapup_ended.as_deref(), Some("c1"));
    }

    #[test]
    fn after_call_work_ends_at_its_maximum_saved_or_not() {
        let t0 = Instant::now();
        let mut a =
            Agents::new(Duration::from_secs(30)).with_after_call_max(Duration::from_secs(120));
        a.join(user(1, Role::Agent, None), 0);
        a.set(1, AgentState::OnCall, None, 10);
        // Never saved: ready again at the maximum.
        let ended = a.call_ended("c1", &[1], Some(1), t0, 1_000).unwrap();
        assert_eq!(
            (ended.view.state, ended.view.since, ended.view.until),
            (AgentState::AfterCallWork, 1_000, Some(121_000))
        );
        assert!(a.due(t0 + Duration::from_secs(119), 2_000).is_empty());
        let ready = a.due(t0 + Duration::from_secs(120), 121_000);
        assert_eq!(ready[0].view.state, AgentState::Ready);
        assert_eq!(ready[0].view.until, None);
        assert_eq!(ready[0].wrapup_ended.as_deref(), Some("c1"));

        // Saved 10 s after the end: 30 s more, counted from the save.
        a.set(1, AgentState::OnCall, None, 200_000);
        a.call_ended("c2", &[1], Some(1), t0, 200_000);
        let saved = a
            .work_order_saved(1, "c2", false, t0 + Duration::from_secs(10), 210_000)
            .unwrap();
        assert_eq!(
            (saved.view.since, saved.view.until),
            (200_000, Some(240_000)),
            "time in state from the call's end"
        );
        // Saved 100 s after the end: the maximum comes first.
        a.set(1, AgentState::OnCall, None, 300_000);
        a.call_ended("c3", &[1], Some(1), t0, 300_000);
        let late = a
            .work_order_saved(1, "c3", false, t0 + Duration::from_secs(100), 400_000)
            .unwrap();
        assert_eq!(late.view.until, Some(420_000));
    }

    #[test]
    fn remembered_results_are_bounded_and_viewers_follow_roles() {
        let mut a = Agents::new(Duration::ZERO);
        a.join(user(1, Role::Agent, Some("sales")), 0);
        a.join(user(2, Role::TeamLead, Some("sales")), 0);
        a.join(user(3, Role::TeamLead, Some("support")), 0);
        a.join(user(4, Role::Qa, None), 0);
        for i in 0..=REMEMBERED_RESULTS {
            a.remember(1, &format!("k{i}"), &json!(i));
        }
        assert_eq!(a.remembered(1, "k0"), None, "the oldest is forgotten");
        assert_eq!(a.remembered(1, "k1"), Some(&json!(1)));
        let subject = a.get(1).unwrap().user.clone();
        let mut viewers: Vec<i64> = a.viewers_of(&subject).collect();
        viewers.sort();
        assert_eq!(viewers, [1, 2, 4]);
        let mut sup = a.supervisors();
        sup.sort();
        assert_eq!(sup, [2, 3, 4]);
    }
}
