//! The wallboard's picture of the center (监控大屏): each line's state,
//! each device up or down, the calls ringing now and today's counters.
//! Pure: the pop hub feeds it call events and adds its agents when it
//! sends the picture to supervisors.

use crate::event::{CallEvent, DeviceState};
use serde::Serialize;
use serde_json::{json, Value};
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
    /// When today ends: the day is worked out from the time zone only
    /// when an event comes after it, not on every event on the pop path.
    day_end: i64,
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
                set(line, "ringing", Some(call_id));
                if let Some(v) = self.lines.get_mut(&**line) {
                    v.number = caller.raw_number.clone();
                }
            }
            CallEvent::Answered { call_id, line } | CallEvent::Dialing { call_id, line } => {
                set(line, "talking", Some(call_id))
            }
            CallEvent::Ended { line, outcome, .. } => {
                set(line, "idle", None);
                self.today.count(outcome.as_str(), 1);
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
            CallEvent::CallerName { .. } | CallEvent::Dtmf { .. } | CallEvent::Alarm { .. } => {
                return false
            }
        }
        true
    }

    /// The picture with `agents` (as `agent.state` data), for one viewer.
    pub fn snapshot(&self, agents: Vec<Value>, now: i64) -> Value {
        let ringing: Vec<Value> = self
            .lines
            .iter()
            .filter(|(_, v)| v.state == "ringing")
            .map(|(line, v)| json!({ "line": line, "call_id": v.call_id, "number": v.number, "since": v.since }))
            .collect();
        let t = &self.today;
        let judged = t.answered + t.missed + t.abandoned;
        json!({
            "now": now,
            "lines": self.lines,
            "devices": self.devices,
            "agents": agents,
            "ringing": ringing,
            "today": t,
            "abandon_rate": (judged > 0).then(|| 100.0 * t.abandoned as f64 / judged as f64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Outcome;
    use std::sync::Arc;

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
        assert_eq!(b.snapshot(vec![], 1_000)["ringing"][0]["line"], "box/1");
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
            },
            9_000,
        );
        assert_eq!(b.lines["box/1"].state, "idle");
        assert_eq!((b.today.offered, b.today.answered), (3, 2));
        let snap = b.snapshot(vec![], 9_000);
        assert_eq!(snap["ringing"].as_array().unwrap().len(), 0);
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
}
