//! Click-to-dial (外拨): an agent's "call this number" becomes a dial on
//! the right line. The number is read (any format), the line chosen (the
//! one asked for if the agent may use it, else the agent's own bound line,
//! else the first free line of the team's pool), the dial plan applied,
//! the agent's hourly allowance checked, and the engine told to dial. The
//! engine's line machine does the rest (the call, its pop for the agent,
//! its CDR and recording).
//!
//! Runs on the web side's tasks; the engine and the hub are reached over
//! their channels.

use crate::calls::{DialError, DialRequest};
use crate::dial_plan::{DialPlanConfig, DialRefusal};
use crate::engine::EngineControl;
use crate::phone::Normalizer;
use crate::pop::HubHandle;
use crate::store::{Role, User};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Dials started per agent in the last hour: a runaway script or a stuck
/// key is stopped before it runs up a bill. Pure: the time is given.
#[derive(Debug, Default)]
pub struct DialRate {
    recent: HashMap<i64, VecDeque<i64>>,
}

const HOUR_MS: i64 = 3_600_000;

impl DialRate {
    /// Counts a dial by `user` at `now_ms` if fewer than `max` (0: no
    /// limit) were started in the hour before; false when over.
    pub fn try_take(&mut self, user: i64, now_ms: i64, max: u32) -> bool {
        let recent = self.recent.entry(user).or_default();
        while recent.front().is_some_and(|&t| t <= now_ms - HOUR_MS) {
            recent.pop_front();
        }
        if max > 0 && recent.len() >= max as usize {
            return false;
        }
        recent.push_back(now_ms);
        true
    }

    /// Gives back the dial counted at `at_ms` (it never started).
    pub fn give_back(&mut self, user: i64, at_ms: i64) {
        if let Some(recent) = self.recent.get_mut(&user) {
            if let Some(i) = recent.iter().rposition(|&t| t == at_ms) {
                recent.remove(i);
            }
        }
    }
}

/// A dial under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Started {
    pub call_id: String,
    pub line: String,
    /// What the line dials (prefixes included).
    pub digits: String,
    /// An extension the agent keys in by hand once through.
    pub extension: Option<String>,
}

/// Why a dial did not start; worded by the page from its code and params.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("{0:?} is not a phone number")]
    Number(String),
    #[error(transparent)]
    Refused(#[from] DialRefusal),
    #[error("at most {max} dials an hour")]
    RateLimited { max: u32 },
    #[error("no line here dials out for you")]
    NoLine,
    #[error("line {0} is not yours to dial on")]
    NotYourLine(String),
    #[error(transparent)]
    Line(#[from] DialError),
    #[error("every line you may dial on is busy")]
    AllBusy,
}

impl OutboundError {
    /// The code the page words.
    pub fn code(&self) -> &'static str {
        match self {
            OutboundError::Number(_) => "number_invalid",
            OutboundError::Refused(DialRefusal::Emergency { .. }) => "dial_emergency",
            OutboundError::Refused(DialRefusal::Forbidden { .. }) => "dial_forbidden",
            OutboundError::Refused(DialRefusal::NotAllowed { .. }) => "dial_not_allowed",
            OutboundError::Refused(DialRefusal::Undiallable { .. }) => "dial_undiallable",
            OutboundError::RateLimited { .. } => "dial_rate_limited",
            OutboundError::NoLine => "no_dial_line",
            OutboundError::NotYourLine(_) => "line_not_yours",
            OutboundError::Line(e) => e.code(),
            OutboundError::AllBusy => "all_lines_busy",
        }
    }

    /// What the page puts in its words.
    pub fn params(&self) -> Value {
        match self {
            OutboundError::Number(n) => json!({ "number": n }),
            OutboundError::Refused(r) => serde_json::to_value(r).unwrap_or(Value::Null),
            OutboundError::RateLimited { max } => json!({ "max": max }),
            OutboundError::NotYourLine(line) => json!({ "line": line }),
            OutboundError::Line(
                DialError::LineBusy { line }
                | DialError::CannotDial { line }
                | DialError::DeviceDown { line },
            ) => json!({ "line": line }),
            _ => json!({}),
        }
    }
}

/// The click-to-dial service; one per daemon, cloned cheaply.
#[derive(Clone)]
pub struct Dialer {
    control: EngineControl,
    hub: HubHandle,
    plan: Arc<DialPlanConfig>,
    normalizer: Arc<Normalizer>,
    /// Lines whose devices dial.
    lines: Arc<Vec<Arc<str>>>,
    /// Each team's pool (the store's copy is read at start and written
    /// by the console, which updates this one with [`Dialer::set_pool`]).
    pools: Arc<std::sync::RwLock<BTreeMap<String, Vec<String>>>>,
    rate: Arc<Mutex<DialRate>>,
    /// The latest calls dialled and for whom: their agent may end them
    /// before the hub has heard of them (a cancel right after the click).
    recent: Arc<Mutex<std::collections::VecDeque<(String, i64)>>>,
}

/// Calls remembered in [`Dialer::dialled_for`]; far more than can be live.
const RECENT_DIALS: usize = 1024;

impl Dialer {
    /// A dialer over the engine's `control`, for the dialling `lines`.
    pub fn new(
        control: EngineControl,
        hub: HubHandle,
        plan: DialPlanConfig,
        normalizer: Arc<Normalizer>,
        lines: Vec<Arc<str>>,
        pools: BTreeMap<String, Vec<String>>,
    ) -> Dialer {
        Dialer {
            control,
            hub,
            plan: Arc::new(plan),
            normalizer,
            lines: Arc::new(lines),
            pools: Arc::new(std::sync::RwLock::new(pools)),
            rate: Default::default(),
            recent: Default::default(),
        }
    }

    /// The user a recent call was dialled for by this dialer.
    pub fn dialled_for(&self, call_id: &str) -> Option<i64> {
        let recent = self.recent.lock().ok()?;
        recent
            .iter()
            .rev()
            .find(|(c, _)| c == call_id)
            .map(|(_, user)| *user)
    }

    /// The lines whose devices dial, for choosing pools from.
    pub fn dialling_lines(&self) -> Vec<String> {
        self.lines.iter().map(|l| l.to_string()).collect()
    }

    /// Every team's pool.
    pub fn pools(&self) -> BTreeMap<String, Vec<String>> {
        self.pools.read().map(|p| p.clone()).unwrap_or_default()
    }

    /// Replaces `team`'s pool (empty: removes it), as the store now has it.
    pub fn set_pool(&self, team: &str, lines: Vec<String>) {
        if let Ok(mut pools) = self.pools.write() {
            if lines.is_empty() {
                pools.remove(team);
            } else {
                pools.insert(team.to_string(), lines);
            }
        }
    }

    /// Whether `user` has a line to dial on (the page shows 回拨 then).
    pub async fn can_dial(&self, user: &User) -> bool {
        !self.lines_for(user).await.is_empty()
    }

    /// The dialling lines `user` may use, best first: their own bound
    /// lines, then their team's pool; an admin may use any.
    async fn lines_for(&self, user: &User) -> Vec<Arc<str>> {
        if self.lines.is_empty() {
            return Vec::new();
        }
        let own = self
            .hub
            .lines_of(user.username.clone(), user.team.clone())
            .await;
        let mut out: Vec<Arc<str>> = own
            .iter()
            .filter_map(|l| self.lines.iter().find(|d| &***d == l.as_str()).cloned())
            .collect();
        let pool = user
            .team
            .as_ref()
            .and_then(|t| self.pools.read().ok()?.get(t).cloned());
        if let Some(pool) = pool {
            for l in &pool {
                if let Some(d) = self.lines.iter().find(|d| &***d == l.as_str()) {
                    if !out.contains(d) {
                        out.push(d.clone());
                    }
                }
            }
        }
        if user.role == Role::Admin {
            for d in self.lines.iter() {
                if !out.contains(d) {
                    out.push(d.clone());
                }
            }
        }
        out
    }

    /// Dials `number` for `user`, on `line` if given.
    pub async fn dial(
        &self,
        user: &User,
        number: &str,
        line: Option<&str>,
    ) -> Result<Started, OutboundError> {
        let normalized = self
            .normalizer
            .normalize_lenient(number)
            .ok_or_else(|| OutboundError::Number(number.to_string()))?;
        let mine = self.lines_for(user).await;
        let candidates: Vec<Arc<str>> = match line {
            Some(l) => match mine.iter().find(|m| &***m == l) {
                Some(m) => vec![m.clone()],
                None if self.lines.iter().any(|d| &**d == l) => {
                    return Err(OutboundError::NotYourLine(l.to_string()))
                }
                None => {
                    return Err(OutboundError::Line(DialError::CannotDial {
                        line: l.to_string(),
                    }))
                }
            },
            None if mine.is_empty() => return Err(OutboundError::NoLine),
            None => mine,
        };
        // A mobile of another city may need a leading 0 or an IP prefix:
        // its home area comes from the number data.
        let info = self.normalizer.number_info(&normalized);
        let home_area = info
            .as_ref()
            .and_then(|i| i.place.as_ref())
            .and_then(|p| p.area_code.clone());
        let home_area = home_area.as_deref();
        // The plan of the first line decides whether the number may be
        // dialled at all (and the allowance); each line its own digits.
        let first_plan = self.plan.for_line(&candidates[0]);
        first_plan.dial(&normalized, home_area)?;
        let now_ms = crate::store::now_ms();
        let allowed = self
            .rate
            .lock()
            .map(|mut r| r.try_take(user.id, now_ms, first_plan.max_dials_per_hour))
            .unwrap_or(true);
        if !allowed {
            return Err(OutboundError::RateLimited {
                max: first_plan.max_dials_per_hour,
            });
        }
        for line in &candidates {
            let dial = self.plan.for_line(line).dial(&normalized, home_area)?;
            let request = DialRequest {
                digits: dial.digits.clone(),
                number: number.trim().to_string(),
                agent: user.username.as_str().into(),
                agent_id: user.id,
            };
            match self.control.dial(line, request).await {
                Ok(call_id) => {
                    if let Ok(mut recent) = self.recent.lock() {
                        if recent.len() == RECENT_DIALS {
                            recent.pop_front();
                        }
                        recent.push_back((call_id.to_string(), user.id));
                    }
                    return Ok(Started {
                        call_id: call_id.to_string(),
                        line: line.to_string(),
                        digits: dial.digits,
                        extension: dial.extension,
                    });
                }
                // A busy or absent line: the next one of the pool may do.
                Err(DialError::LineBusy { .. } | DialError::DeviceDown { .. })
                    if candidates.len() > 1 => {}
                Err(e) => {
                    self.give_back(user.id, now_ms);
                    return Err(e.into());
                }
            }
        }
        self.give_back(user.id, now_ms);
        Err(OutboundError::AllBusy)
    }

    fn give_back(&self, user: i64, at_ms: i64) {
        if let Ok(mut r) = self.rate.lock() {
            r.give_back(user, at_ms);
        }
    }

    /// Ends (or cancels) the call `call_id`.
    pub async fn hang_up(&self, call_id: &str) -> Result<(), OutboundError> {
        Ok(self.control.hang_up(call_id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_holds_at_most_the_allowance() {
        let mut rate = DialRate::default();
        let t0 = 1_000_000_000;
        for i in 0..3 {
            assert!(rate.try_take(1, t0 + i, 3), "dial {i}");
        }
        assert!(!rate.try_take(1, t0 + 10, 3), "a fourth within the hour");
        assert!(rate.try_take(2, t0 + 10, 3), "another agent's own hour");
        // An hour after the first, one place is free again.
        assert!(rate.try_take(1, t0 + HOUR_MS, 3));
        assert!(!rate.try_take(1, t0 + HOUR_MS, 3));
        // A dial that never started is given back.
        rate.give_back(1, t0 + HOUR_MS);
        assert!(rate.try_take(1, t0 + HOUR_MS, 3));
        // 0: no limit.
        for i in 0..1000 {
            assert!(rate.try_take(3, t0 + i, 0));
        }
    }
}
