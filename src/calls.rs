//! The call state machine of one line: idle → ringing (counting rings) →
//! caller known → answered → ended. Pure: it takes signals with their
//! times and returns steps (events to send, a lookup to do, a CDR to write);
//! the engine task in `engine` does the I/O.
//!
//! Outcomes: `answered` when the line went off-hook during the call;
//! `outbound` when it went off-hook with no ring; otherwise, when the rings
//! stop, `missed` if it rang at least `missed_after_rings` times (someone
//! could have answered) and `abandoned` if the caller gave up sooner.
//!
//! Times are when a signal was read, except for calls read from a port's
//! backlog (bytes that waited while the daemon was down or the port closed):
//! their caller ID's own date and time, when [`told_start`] finds it
//! plausible, is the call's start.

mod dialled;

pub use dialled::{DialPolicy, DialRequest, LineCommand, Phase};
use dialled::{Dialled, Verdict};

use crate::dsp::cid::CidDateTime;
use crate::event::{Backlog, CallEvent, CallerId, Direction, LineSignal, Outcome};
use crate::phone::MatchRule;
use chrono::{Datelike, FixedOffset, NaiveDate, TimeZone};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How calls are judged; from config, with the ring timeout from the profile.
#[derive(Debug, Clone, Copy)]
pub struct CallPolicy {
    /// Rings that make an unanswered call "missed" rather than "abandoned".
    pub missed_after_rings: u32,
    /// No ring for this long: the ringing has stopped.
    pub ring_timeout: Duration,
    /// Longest call we believe: ends calls whose end was never seen.
    pub max_call: Duration,
    /// Whether the device sees the line go off-hook. A voice modem beside
    /// the phone does not: when its rings stop, nobody knows whether the
    /// call was answered, and the CDR says so ("unknown").
    pub sees_answer: bool,
    /// Whether the device repeats the same caller ID on every ring (some
    /// boxes do). Otherwise a second caller ID while a call rings is the
    /// next caller, however soon after the first.
    pub repeats_cid: bool,
    /// Whether the device can refuse a ringing call (a GSM modem's `ATH`):
    /// a blacklisted caller is then hung up instead of popped.
    pub rejects_calls: bool,
    /// How the line's device dials out; `None`: it cannot.
    pub dial: Option<DialPolicy>,
}

impl Default for CallPolicy {
    fn default() -> Self {
        CallPolicy {
            missed_after_rings: 4,
            ring_timeout: Duration::from_secs(7),
            max_call: Duration::from_secs(4 * 3600),
            sees_answer: true,
            repeats_cid: false,
            rejects_calls: false,
            dial: None,
        }
    }
}

/// How long before its read a backlog's caller ID may say it came: a
/// restart or a replug takes seconds to minutes, and a port's buffer holds
/// a few calls. A told time farther back is more likely a wrong exchange or
/// device clock than a long gap, and the read time is kept.
pub const MAX_BACKLOG_MS: i64 = 60 * 60_000;

/// How far before the moment the daemon last heard from the device a told
/// minute may end and still be believed: the exchange's clock and ours
/// differ a little.
pub const CLOCK_SKEW_MS: i64 = 2 * 60_000;

/// A told minute, the year inferred: the `MM-DD HH:MM` of a caller ID in
/// the zone `tz`, in the year (the read's, the one before or after) that
/// puts it nearest the read, so a call told `12-31 23:59` and read on
/// 1 January is last year's. `None` for a date that exists in none of them
/// (29 February of a common year beside two more) or a local time skipped by
/// a clock change.
pub fn told_ms<Tz: TimeZone>(told: CidDateTime, read_ms: i64, tz: &Tz) -> Option<i64> {
    let read = tz.timestamp_millis_opt(read_ms).single()?;
    let year = read.year();
    (year - 1..=year + 1)
        .filter_map(|y| {
            NaiveDate::from_ymd_opt(y, told.month.into(), told.day.into())?.and_hms_opt(
                told.hour.into(),
                told.minute.into(),
                0,
            )
        })
        .filter_map(|local| tz.from_local_datetime(&local).earliest())
        .map(|t| t.timestamp_millis())
        .min_by_key(|ms| (ms - read_ms).abs())
}

/// The start of a call read from a port's backlog at `read_ms`, by the
/// date and time its caller ID told (minute resolution, local time in
/// `tz`), or `None` to keep the read time. The told minute is believed
/// when it lies in the gap the bytes waited through:
///
/// - it ended before the read (`told + 1 min <= read`): a call told in the
///   read's own minute is as good as live, and the read time is the more
///   precise; one told later than that is a clock running fast;
/// - it is at most [`MAX_BACKLOG_MS`] before the read;
/// - it did not end before the daemon last heard from the device
///   (`backlog.since_ms`), give or take [`CLOCK_SKEW_MS`]: the bytes were
///   sent after that.
///
/// The start is then the told minute, but never before `since_ms` (the
/// call came after it, even if its minute began earlier).
pub fn told_start<Tz: TimeZone>(
    told: CidDateTime,
    read_ms: i64,
    backlog: Backlog,
    tz: &Tz,
) -> Option<i64> {
    const MINUTE: i64 = 60_000;
    let at = told_ms(told, read_ms, tz)?;
    let in_gap = at + MINUTE <= read_ms
        && read_ms - at <= MAX_BACKLOG_MS
        && backlog
            .since_ms
            .is_none_or(|since| at + MINUTE + CLOCK_SKEW_MS > since);
    in_gap.then(|| at.max(backlog.since_ms.unwrap_or(at)).min(read_ms))
}

/// The call detail record (话单), written when the call ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cdr {
    pub call_uid: String,
    pub line: String,
    pub device: String,
    pub direction: Direction,
    pub outcome: Outcome,
    /// `available`, `private` or `unavailable`.
    pub presentation: &'static str,
    pub raw_number: Option<String>,
    pub number_e164: Option<String>,
    pub number_national: Option<String>,
    pub caller_name: Option<String>,
    pub customer_id: Option<i64>,
    pub match_rule: Option<MatchRule>,
    pub ring_count: u32,
    pub started_at: i64,
    pub first_ring_at: Option<i64>,
    pub cid_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub ended_at: i64,
    /// Digits dialled (outbound) or keyed during the call.
    pub dtmf: String,
    /// The agent callpop dialled for (a taken inbound call's agent is
    /// written by the hub).
    pub agent_user_id: Option<i64>,
    /// Why a dialled call failed, in the device's words.
    pub failure: Option<String>,
    /// The blacklist's reason, for a call from a blacklisted number.
    pub blocked: Option<String>,
}

/// What the store made of a caller's number, kept for the CDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identification {
    pub e164: Option<String>,
    pub national: Option<String>,
    pub customer_id: Option<i64>,
    pub rule: MatchRule,
}

impl Default for Identification {
    fn default() -> Self {
        Identification {
            e164: None,
            national: None,
            customer_id: None,
            rule: MatchRule::None,
        }
    }
}

/// What the engine must do after a signal.
#[derive(Debug, Clone)]
pub enum Step {
    Emit(CallEvent),
    /// Find who is calling, then call [`LineMachine::identified`].
    Identify {
        call_id: Arc<str>,
        caller: CallerId,
    },
    Write(Cdr),
    /// Tell the line's device to dial or hang up.
    Command {
        line: Arc<str>,
        command: LineCommand,
    },
}

/// Why a line will not dial, or hang up, for an agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    #[error("line {line} is busy with another call")]
    LineBusy { line: String },
    #[error("line {line} cannot dial out")]
    CannotDial { line: String },
    #[error("no call {call_id} on line {line}")]
    NoSuchCall { line: String, call_id: String },
    #[error("the device of line {line} is not available")]
    DeviceDown { line: String },
}

impl DialError {
    /// The error's code, for the page's words.
    pub fn code(&self) -> &'static str {
        match self {
            DialError::LineBusy { .. } => "line_busy",
            DialError::CannotDial { .. } => "line_cannot_dial",
            DialError::NoSuchCall { .. } => "call_not_found",
            DialError::DeviceDown { .. } => "device_down",
        }
    }
}

#[derive(Debug, Clone)]
struct ActiveCall {
    id: Arc<str>,
    direction: Direction,
    started_ms: i64,
    ring_count: u32,
    first_ring_ms: Option<i64>,
    last_ring: Option<(Instant, i64)>,
    started: Instant,
    caller: Option<CallerId>,
    cid_ms: Option<i64>,
    answered_ms: Option<i64>,
    matched: Option<Identification>,
    dtmf: String,
    /// When the device last said anything of this call (ms).
    last_heard_ms: i64,
    /// Rings counted when the caller ID came: one more ring and the same
    /// caller ID again is the caller calling again.
    rings_at_cid: u32,
    /// The call began with a signal read from a port's backlog: its times
    /// so far are when old bytes were read, not when they were sent.
    from_backlog: bool,
    /// The start its caller ID told, when believed ([`told_start`]): the
    /// time of every later signal of the call read from the backlog too
    /// (they happened after it, but when is not known).
    told_ms: Option<i64>,
    /// Set when callpop dialled this call for an agent.
    dialled: Option<Dialled>,
    /// The blacklist's reason, when the caller is on it.
    blocked: Option<String>,
    /// The device was told to refuse it (a blacklisted caller).
    rejected: bool,
}

/// The call on a line as it stands, from [`LineMachine::snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSnapshot {
    pub call_uid: Arc<str>,
    pub direction: Direction,
    /// The number as the line gave it.
    pub raw_number: Option<String>,
    /// What the store made of it, once known.
    pub matched: Option<Identification>,
    pub answered_ms: Option<i64>,
}

/// One line's state; owned by the engine task, so no locks.
pub struct LineMachine {
    line: Arc<str>,
    device: Arc<str>,
    policy: CallPolicy,
    call: Option<ActiveCall>,
    new_id: Box<dyn FnMut() -> String + Send + Sync>,
    /// The zone of caller IDs' told times: the machine's own (`None`), or
    /// a fixed one (tests).
    zone: Option<FixedOffset>,
    /// Until when (ms) the device's words about a dial the agent cancelled
    /// may still be on their way: its late off-hook is not a new call.
    settling_until_ms: Option<i64>,
    /// Until when (ms) a device that confirms its hang-ups has not yet
    /// confirmed the last one: what it says of a dial meanwhile is about
    /// the dropped dial (its late `DIAL,OK`), not about a new one.
    unconfirmed_hangup_until_ms: Option<i64>,
}

/// How long after the agent cancels a dial the device's late replies to
/// it (a box's `OFFHOOK` written before it read the hang-up) are still
/// taken for that dial's.
const SETTLE_MS: i64 = 5_000;

impl LineMachine {
    /// A line, with a generator of call ids (unique and stable: they name
    /// recordings and CDRs).
    pub fn new(
        line: Arc<str>,
        device: Arc<str>,
        policy: CallPolicy,
        new_id: Box<dyn FnMut() -> String + Send + Sync>,
    ) -> LineMachine {
        LineMachine {
            line,
            device,
            policy,
            call: None,
            new_id,
            zone: None,
            settling_until_ms: None,
            unconfirmed_hangup_until_ms: None,
        }
    }

    /// Reads caller IDs' told times in this zone instead of the local one.
    pub fn set_zone(&mut self, zone: FixedOffset) {
        self.zone = Some(zone);
    }

    fn told_start(&self, told: CidDateTime, read_ms: i64, backlog: Backlog) -> Option<i64> {
        match &self.zone {
            Some(z) => told_start(told, read_ms, backlog, z),
            None => told_start(told, read_ms, backlog, &chrono::Local),
        }
    }

    /// The device the line belongs to.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Whether a call is in progress.
    pub fn busy(&self) -> bool {
        self.call.is_some()
    }

    fn start(
        &mut self,
        direction: Direction,
        at: Instant,
        at_ms: i64,
        from_backlog: bool,
    ) -> &mut ActiveCall {
        let id: Arc<str> = (self.new_id)().into();
        self.call.insert(ActiveCall {
            id,
            direction,
            started_ms: at_ms,
            ring_count: 0,
            first_ring_ms: None,
            last_ring: None,
            started: at,
            caller: None,
            cid_ms: None,
            answered_ms: None,
            matched: None,
            dtmf: String::new(),
            last_heard_ms: at_ms,
            rings_at_cid: 0,
            from_backlog,
            told_ms: None,
            dialled: None,
            blocked: None,
            rejected: false,
        })
    }

    /// Dials for an agent: the call starts now (dialling), the customer is
    /// looked up for the agent's pop, and the device is told to dial. A
    /// line with a call under way (ringing, talking, dialling) refuses.
    pub fn dial(
        &mut self,
        request: DialRequest,
        at: Instant,
        at_ms: i64,
    ) -> Result<(Arc<str>, Vec<Step>), DialError> {
        let Some(policy) = self.policy.dial else {
            return Err(DialError::CannotDial {
                line: self.line.to_string(),
            });
        };
        if self.call.is_some() {
            return Err(DialError::LineBusy {
                line: self.line.to_string(),
            });
        }
        let line = self.line.clone();
        let call = self.start(Direction::Outbound, at, at_ms, false);
        let digits = request.digits.clone();
        let number = request.number.clone();
        let agent = request.agent.clone();
        let agent_id = request.agent_id;
        call.dialled = Some(Dialled::new(request, policy, at));
        let id = call.id.clone();
        call.caller = Some(CallerId::from_value(&number));
        // The device is told first: the lookup and the pop come while it
        // dials.
        let steps = vec![
            Step::Emit(CallEvent::Dialing {
                call_id: id.clone(),
                line: line.clone(),
                agent: Some(agent),
                agent_id: Some(agent_id),
                number: Some(number.clone()),
            }),
            Step::Command {
                line,
                command: LineCommand::Dial { digits },
            },
            Step::Identify {
                call_id: id.clone(),
                caller: CallerId::from_value(&number),
            },
        ];
        Ok((id, steps))
    }

    /// The agent ends the call `call_id`: a dialled call is cancelled (or
    /// hung up once answered) and its device told to hang up; another call
    /// on a device that can hang up is hung up there, and ends when the
    /// device says so.
    pub fn hang_up(&mut self, call_id: &str, at_ms: i64) -> Result<Vec<Step>, DialError> {
        let no_call = || DialError::NoSuchCall {
            line: self.line.to_string(),
            call_id: call_id.to_string(),
        };
        let Some(call) = self.call.as_mut().filter(|c| &*c.id == call_id) else {
            return Err(no_call());
        };
        let Some(policy) = self.policy.dial else {
            return Err(DialError::CannotDial {
                line: self.line.to_string(),
            });
        };
        let command = Step::Command {
            line: self.line.clone(),
            command: LineCommand::HangUp,
        };
        let Some(dialled) = call.dialled.as_mut() else {
            return Ok(vec![command]);
        };
        dialled.ending = true;
        let end = dialled.ended(policy);
        let call = self.call.take().expect("checked above");
        self.settling_until_ms = Some(at_ms + SETTLE_MS);
        self.await_hangup_confirmation(policy, at_ms);
        let mut steps = vec![command];
        steps.extend(self.end_as(call, at_ms, Some(end)));
        Ok(steps)
    }

    /// After telling a device that confirms hang-ups to hang up: its
    /// words are the dropped dial's until it reports on-hook (or
    /// [`SETTLE_MS`] passes, should the report be lost).
    fn await_hangup_confirmation(&mut self, policy: DialPolicy, at_ms: i64) {
        if policy.confirms_hangup {
            self.unconfirmed_hangup_until_ms = Some(at_ms + SETTLE_MS);
        }
    }

    /// Whether `signal`, read at `at_ms`, is the device still talking of a
    /// dial it was told to drop; its on-hook report ends that.
    fn of_dropped_dial(&mut self, signal: &LineSignal, at_ms: i64) -> bool {
        let Some(until) = self.unconfirmed_hangup_until_ms else {
            return false;
        };
        if at_ms >= until {
            self.unconfirmed_hangup_until_ms = None;
            return false;
        }
        match signal {
            LineSignal::OnHook => {
                self.unconfirmed_hangup_until_ms = None;
                self.settling_until_ms = None;
                true
            }
            LineSignal::OffHook | LineSignal::Dial { .. } => true,
            _ => false,
        }
    }

    /// The call now on the line, if any.
    pub fn call_id(&self) -> Option<&Arc<str>> {
        self.call.as_ref().map(|c| &c.id)
    }

    /// What is known now of the call on the line: what other systems are
    /// told when it is answered (a webhook's `call.answered`).
    pub fn snapshot(&self) -> Option<CallSnapshot> {
        self.call.as_ref().map(|c| CallSnapshot {
            call_uid: c.id.clone(),
            direction: c.direction,
            raw_number: c.caller.as_ref().and_then(|id| id.number.clone()),
            matched: c.matched.clone(),
            answered_ms: c.answered_ms,
        })
    }

    /// The device of this line vanished at `at_ms` (unplugged, port lost):
    /// the call under way ends with the outcome known so far — an answered
    /// call was still off-hook when the device went, so it ends then; a
    /// ringing one ends at the last thing heard of it — and the line is
    /// ready for the next call when the device returns.
    pub fn device_lost(&mut self, at_ms: i64) -> Vec<Step> {
        match self.call.take() {
            Some(call) => {
                let ended = if call.answered_ms.is_some() || call.direction == Direction::Outbound {
                    at_ms
                } else {
                    call.last_heard_ms
                };
                let end = match (&call.dialled, self.policy.dial) {
                    (Some(d), Some(p)) => Some(d.lost(p)),
                    _ => None,
                };
                self.end_as(call, ended, end)
            }
            None => Vec::new(),
        }
    }

    /// Handles a signal from the line's device, read at `at`/`at_ms`, from
    /// a port's backlog if `backlog` says so.
    pub fn on_signal(
        &mut self,
        signal: &LineSignal,
        at: Instant,
        at_ms: i64,
        backlog: Option<Backlog>,
    ) -> Vec<Step> {
        let mut steps = Vec::new();
        // A ringing call whose rings stopped ends before anything new begins.
        steps.extend(self.on_tick(at, at_ms));
        if self.of_dropped_dial(signal, at_ms) {
            return steps;
        }
        let line = self.line.clone();
        if let LineSignal::CallerId(cid) = signal {
            // A box sends caller ID once per call: another one while a call
            // rings is the next caller (the first gave up), unless the
            // device repeats it on every ring and this is the same.
            let next_caller = self.call.as_ref().is_some_and(|c| {
                let Some(known) = c.caller.as_ref() else {
                    return false;
                };
                let another = known.number != cid.number || known.absent != cid.absent;
                let rang_since = c.ring_count > c.rings_at_cid;
                c.direction == Direction::Inbound
                    && c.answered_ms.is_none()
                    && (another || (rang_since && !self.policy.repeats_cid))
            });
            if next_caller {
                let first = self.call.take().expect("checked above");
                let ended = first.last_ring.map_or(first.last_heard_ms, |(_, ms)| ms);
                steps.extend(self.end(first, ended));
            }
        }
        let read_ms = at_ms;
        let from_backlog = backlog.is_some();
        // A backlog signal of a call whose start was told happened after
        // that start, when is not known: it gets the start, not the read.
        let at_ms = match (&self.call, from_backlog) {
            (Some(c), true) => c.told_ms.unwrap_or(at_ms),
            _ => at_ms,
        };
        if let Some(call) = self.call.as_mut() {
            call.last_heard_ms = at_ms;
        }
        match signal {
            LineSignal::Ring => {
                let call = match self.call.take() {
                    Some(c) => self.call.insert(c),
                    None => self.start(Direction::Inbound, at, at_ms, from_backlog),
                };
                if call.answered_ms.is_some() || call.direction == Direction::Outbound {
                    return steps; // ringing on an answered line: ignore
                }
                call.ring_count += 1;
                call.first_ring_ms.get_or_insert(at_ms);
                call.last_ring = Some((at, at_ms));
                steps.push(Step::Emit(CallEvent::Ringing {
                    call_id: call.id.clone(),
                    line,
                    ring_count: call.ring_count,
                }));
            }
            LineSignal::CallerId(cid) => {
                let call = match self.call.take() {
                    Some(c) => self.call.insert(c),
                    None => {
                        // Caller ID before (or without) a ring detector.
                        let c = self.start(Direction::Inbound, at, at_ms, from_backlog);
                        c.last_ring = Some((at, at_ms));
                        c
                    }
                };
                if call.caller.is_none() && call.direction == Direction::Inbound {
                    let call_from_backlog = call.from_backlog;
                    let told = match (backlog, cid.datetime) {
                        (Some(b), Some(dt)) if call_from_backlog => self.told_start(dt, read_ms, b),
                        _ => None,
                    };
                    let call = self.call.as_mut().expect("taken and put back above");
                    let at_ms = match told {
                        Some(start) => {
                            // Everything read of it so far happened at the
                            // told start, as far as anyone knows.
                            let start = start.min(call.started_ms);
                            call.started_ms = start;
                            call.told_ms = Some(start);
                            if call.first_ring_ms.is_some() {
                                call.first_ring_ms = Some(start);
                            }
                            if let Some((t, _)) = call.last_ring {
                                call.last_ring = Some((t, start));
                            }
                            call.last_heard_ms = start;
                            start
                        }
                        None => at_ms,
                    };
                    call.caller = Some(cid.clone());
                    call.cid_ms = Some(at_ms);
                    call.rings_at_cid = call.ring_count;
                    steps.push(Step::Identify {
                        call_id: call.id.clone(),
                        caller: cid.clone(),
                    });
                }
            }
            LineSignal::CallerName { name } => {
                if let Some(call) = self.call.as_mut() {
                    if let Some(caller) = call.caller.as_mut() {
                        if caller.name.is_none() {
                            caller.name = Some(name.clone());
                            steps.push(Step::Emit(CallEvent::CallerName {
                                call_id: call.id.clone(),
                                line,
                                name: name.clone(),
                            }));
                        }
                    }
                }
            }
            LineSignal::OffHook => {
                // The device took the cancelled dial after all: its line
                // is still off-hook, its on-hook follows the hang-up.
                if self.call.is_none() && self.settling_until_ms.is_some_and(|t| at_ms < t) {
                    return steps;
                }
                let call = match self.call.take() {
                    Some(c) => self.call.insert(c),
                    None => {
                        let call = self.start(Direction::Outbound, at, at_ms, from_backlog);
                        steps.push(Step::Emit(CallEvent::Dialing {
                            call_id: call.id.clone(),
                            line: line.clone(),
                            agent: None,
                            agent_id: None,
                            number: None,
                        }));
                        call
                    }
                };
                if call.direction == Direction::Inbound && call.answered_ms.is_none() {
                    call.answered_ms = Some(at_ms);
                    steps.push(Step::Emit(CallEvent::Answered {
                        call_id: call.id.clone(),
                        line,
                    }));
                }
            }
            LineSignal::OnHook => {
                self.settling_until_ms = None;
                // A dialled call's line cannot hang up before the device
                // took the dial: that on-hook is the last call's, late.
                let stale = self.call.as_ref().is_some_and(|c| {
                    c.dialled
                        .as_ref()
                        .is_some_and(|d| d.phase == Phase::Dialling)
                });
                if stale {
                    return steps;
                }
                // Hung up after talking, or (on boxes that see it) the caller
                // giving up while it rang.
                if let Some(call) = self.call.take() {
                    let end = match (&call.dialled, self.policy.dial) {
                        (Some(d), Some(p)) => Some(d.ended(p)),
                        _ => None,
                    };
                    steps.extend(self.end_as(call, at_ms, end));
                }
            }
            LineSignal::Dial { progress, detail } => {
                steps.extend(self.on_dial_progress(*progress, detail.as_deref(), at_ms));
            }
            LineSignal::Dtmf { digits } => {
                if let Some(call) = self.call.as_mut() {
                    call.dtmf.push_str(digits);
                    steps.push(Step::Emit(CallEvent::Dtmf {
                        call_id: call.id.clone(),
                        line,
                        digits: digits.clone(),
                    }));
                }
            }
        }
        steps
    }

    /// What the device said of the call it dials; words for a call it
    /// did not dial (a modem's `OK` to something else) mean nothing.
    fn on_dial_progress(
        &mut self,
        progress: crate::event::DialProgress,
        detail: Option<&str>,
        at_ms: i64,
    ) -> Vec<Step> {
        let (Some(call), Some(policy)) = (self.call.as_mut(), self.policy.dial) else {
            return Vec::new();
        };
        let Some(dialled) = call.dialled.as_mut() else {
            return Vec::new();
        };
        match dialled.on_progress(progress, detail, policy) {
            Verdict::Nothing => Vec::new(),
            Verdict::Alerting => vec![Step::Emit(CallEvent::Alerting {
                call_id: call.id.clone(),
                line: self.line.clone(),
            })],
            Verdict::Answered => {
                call.answered_ms = Some(at_ms);
                vec![Step::Emit(CallEvent::Answered {
                    call_id: call.id.clone(),
                    line: self.line.clone(),
                })]
            }
            Verdict::End(outcome, reason) => {
                let call = self.call.take().expect("checked above");
                self.end_as(call, at_ms, Some((outcome, reason)))
            }
        }
    }

    /// Ends calls whose rings stopped, dialled calls nobody answered, and
    /// calls longer than any real one.
    pub fn on_tick(&mut self, now: Instant, now_ms: i64) -> Vec<Step> {
        let Some(call) = self.call.as_ref() else {
            return Vec::new();
        };
        if call.dialled.as_ref().is_some_and(|d| d.timed_out(now)) {
            let call = self.call.take().expect("checked above");
            if let Some(policy) = self.policy.dial {
                self.await_hangup_confirmation(policy, now_ms);
            }
            let mut steps = vec![Step::Command {
                line: self.line.clone(),
                command: LineCommand::HangUp,
            }];
            steps.extend(self.end_as(call, now_ms, Some((Outcome::NoAnswer, None))));
            return steps;
        }
        let ringing_over = call.answered_ms.is_none()
            && call.direction == Direction::Inbound
            && call
                .last_ring
                .is_some_and(|(t, _)| now.duration_since(t) >= self.policy.ring_timeout);
        let too_long = now.duration_since(call.started) >= self.policy.max_call;
        if !(ringing_over || too_long) {
            return Vec::new();
        }
        let call = self.call.take().expect("checked above");
        // The caller hung up at some point after the last ring; the last
        // ring is the last thing we know.
        let ended = if ringing_over {
            call.last_ring.map(|(_, ms)| ms).unwrap_or(now_ms)
        } else {
            now_ms
        };
        self.end(call, ended)
    }

    /// When the next tick can change something, for the engine's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        let call = self.call.as_ref()?;
        let max = call.started + self.policy.max_call;
        if let Some(d) = call.dialled.as_ref().and_then(|d| d.deadline) {
            return Some(d.min(max));
        }
        match (call.answered_ms, call.direction, call.last_ring) {
            (None, Direction::Inbound, Some((t, _))) => {
                Some((t + self.policy.ring_timeout).min(max))
            }
            _ => Some(max),
        }
    }

    /// Records who the store says is calling; returns the pop event, or
    /// `None` if that call is already over.
    pub fn identified(
        &mut self,
        call_id: &str,
        caller: crate::event::Caller,
        id: Identification,
    ) -> Option<CallEvent> {
        let call = self.call.as_mut().filter(|c| &*c.id == call_id)?;
        call.matched = Some(id);
        call.blocked = caller.blocked.as_ref().map(|b| b.reason.clone());
        Some(CallEvent::CallerIdentified {
            call_id: call.id.clone(),
            line: self.line.clone(),
            caller,
        })
    }

    /// Refuses the ringing call `call_id` of a blacklisted caller: the
    /// device is told to hang up, and the call ends `rejected` when it
    /// says it did (or its rings stop). Nothing on a device that cannot.
    pub fn reject(&mut self, call_id: &str) -> Vec<Step> {
        let can = self.policy.rejects_calls && self.policy.dial.is_some();
        let Some(call) = self.call.as_mut().filter(|c| &*c.id == call_id && can) else {
            return Vec::new();
        };
        if call.answered_ms.is_some() || call.direction != Direction::Inbound {
            return Vec::new();
        }
        call.rejected = true;
        vec![Step::Command {
            line: self.line.clone(),
            command: LineCommand::HangUp,
        }]
    }

    /// Whether the call on the line is one callpop dialled.
    pub fn dialling(&self) -> bool {
        self.call.as_ref().is_some_and(|c| c.dialled.is_some())
    }

    /// Whether this line's device can refuse a ringing call.
    pub fn rejects_calls(&self) -> bool {
        self.policy.rejects_calls && self.policy.dial.is_some()
    }

    fn end(&mut self, call: ActiveCall, ended_ms: i64) -> Vec<Step> {
        self.end_as(call, ended_ms, None)
    }

    /// Ends `call` at `ended_ms`, with the outcome and reason given (a
    /// dialled call's) or else judged from what happened.
    fn end_as(
        &mut self,
        call: ActiveCall,
        ended_ms: i64,
        given: Option<(Outcome, Option<String>)>,
    ) -> Vec<Step> {
        let (given_outcome, failure) = given.unzip();
        let failure = failure.flatten();
        let outcome = match (call.direction, call.answered_ms) {
            _ if given_outcome.is_some() => given_outcome.expect("checked"),
            (Direction::Inbound, None) if call.rejected => Outcome::Rejected,
            (Direction::Outbound, _) => Outcome::Outbound,
            (_, Some(_)) => Outcome::Answered,
            _ if !self.policy.sees_answer => Outcome::Unknown,
            _ if call.ring_count >= self.policy.missed_after_rings => Outcome::Missed,
            _ => Outcome::Abandoned,
        };
        let caller = call.caller.as_ref();
        let presentation = match caller.and_then(|c| c.absent) {
            Some(crate::dsp::cid::Absence::Private) => "private",
            Some(crate::dsp::cid::Absence::Unavailable) => "unavailable",
            None => "available",
        };
        let id = call.matched.clone().unwrap_or_default();
        let raw_number = match (&call.dialled, call.direction) {
            (Some(d), _) => Some(d.request.number.clone()),
            (None, Direction::Outbound) => Some(call.dtmf.clone()).filter(|d| !d.is_empty()),
            (None, Direction::Inbound) => caller.and_then(|c| c.number.clone()),
        };
        let cdr = Cdr {
            call_uid: call.id.to_string(),
            line: self.line.to_string(),
            device: self.device.to_string(),
            direction: call.direction,
            outcome,
            presentation,
            raw_number,
            number_e164: id.e164,
            number_national: id.national,
            caller_name: caller.and_then(|c| c.name.clone()),
            customer_id: id.customer_id,
            match_rule: call.matched.as_ref().map(|m| m.rule),
            ring_count: call.ring_count,
            started_at: call.started_ms,
            first_ring_at: call.first_ring_ms,
            cid_at: call.cid_ms,
            answered_at: call.answered_ms,
            ended_at: ended_ms.max(call.started_ms),
            dtmf: call.dtmf,
            agent_user_id: call.dialled.as_ref().map(|d| d.request.agent_id),
            failure: failure.clone(),
            blocked: call.blocked.clone(),
        };
        vec![
            Step::Emit(CallEvent::Ended {
                call_id: call.id.clone(),
                line: self.line.clone(),
                outcome,
                reason: failure,
            }),
            Step::Write(cdr),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CallEvent, Caller};
    use crate::phone::MatchOutcome;

    /// A line and a clock: `at(s)` is `s` seconds after the start.
    struct Bench {
        machine: LineMachine,
        t0: Instant,
        cdrs: Vec<Cdr>,
        events: Vec<CallEvent>,
        commands: Vec<LineCommand>,
    }

    impl Bench {
        fn new() -> Bench {
            Bench::with(CallPolicy::default())
        }

        fn with(policy: CallPolicy) -> Bench {
            let mut n = 0;
            Bench {
                machine: LineMachine::new(
                    "box1/1".into(),
                    "box1".into(),
                    policy,
                    Box::new(move || {
                        n += 1;
                        format!("call-{n}")
                    }),
                ),
                t0: Instant::now(),
                cdrs: Vec::new(),
                events: Vec::new(),
                commands: Vec::new(),
            }
        }

        fn take(&mut self, steps: Vec<Step>) {
            for step in steps {
                match step {
                    Step::Emit(e) => self.events.push(e),
                    Step::Write(c) => self.cdrs.push(c),
                    Step::Command { command, .. } => self.commands.push(command),
                    Step::Identify { call_id, caller } => {
                        let found = caller.number.is_some();
                        let event = self.machine.identified(
                            &call_id,
                            Caller {
                                raw_number: caller.number.clone(),
                                normalized: caller.number.as_ref().map(|n| format!("+86{n}")),
                                written: caller.number.clone(),
                                absent: caller.absent,
                                name: caller.name.clone(),
                                rule: if found {
                                    MatchRule::Exact
                                } else {
                                    MatchRule::None
                                },
                                outcome: MatchOutcome::None,
                                matches: Vec::new(),
                                info: None,
                                blocked: None,
                            },
                            Identification {
                                e164: caller.number.as_ref().map(|n| format!("+86{n}")),
                                national: caller.number.clone(),
                                customer_id: found.then_some(42),
                                rule: if found {
                                    MatchRule::Exact
                                } else {
                                    MatchRule::None
                                },
                            },
                        );
                        self.events.extend(event);
                    }
                }
            }
        }

        fn signal(&mut self, secs: f64, s: LineSignal) {
            let at = self.t0 + Duration::from_secs_f64(secs);
            let steps = self.machine.on_signal(&s, at, (secs * 1000.0) as i64, None);
            self.take(steps);
        }

        fn tick(&mut self, secs: f64) {
            let at = self.t0 + Duration::from_secs_f64(secs);
            let steps = self.machine.on_tick(at, (secs * 1000.0) as i64);
            self.take(steps);
        }
    }

    fn cid(number: &str) -> LineSignal {
        LineSignal::CallerId(CallerId::from_value(number))
    }

    fn china() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    /// Epoch ms of a local time in China.
    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        china()
            .with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
            .timestamp_millis()
    }

    fn told(month: u8, day: u8, hour: u8, minute: u8) -> CidDateTime {
        CidDateTime {
            month,
            day,
            hour,
            minute,
        }
    }

    const UNKNOWN: Backlog = Backlog { since_ms: None };

    #[test]
    fn the_told_year_is_the_one_nearest_the_read() {
        // (told, read, the told minute, why)
        let cases = [
            (
                told(12, 31, 23, 59),
                local(2027, 1, 1, 0, 0, 30),
                Some(local(2026, 12, 31, 23, 59, 0)),
                "read just after New Year: last year's",
            ),
            (
                told(1, 1, 0, 0),
                local(2026, 12, 31, 23, 59, 50),
                Some(local(2027, 1, 1, 0, 0, 0)),
                "a clock a little ahead across New Year: next year's",
            ),
            (
                told(8, 1, 12, 0),
                local(2026, 12, 3, 14, 0, 0),
                Some(local(2026, 8, 1, 12, 0, 0)),
                "nearer last August than next",
            ),
            (
                told(6, 1, 12, 0),
                local(2026, 12, 3, 14, 0, 0),
                Some(local(2027, 6, 1, 12, 0, 0)),
                "nearer next June than last",
            ),
            (
                told(2, 29, 8, 0),
                local(2028, 3, 1, 9, 0, 0),
                Some(local(2028, 2, 29, 8, 0, 0)),
                "a leap day in a leap year",
            ),
            (
                told(2, 29, 8, 0),
                local(2027, 12, 31, 9, 0, 0),
                Some(local(2028, 2, 29, 8, 0, 0)),
                "the only year of the three with the day (told_start refuses it)",
            ),
            (
                told(2, 29, 8, 0),
                local(2030, 6, 1, 9, 0, 0),
                None,
                "no 29 February in 2029, 2030 or 2031",
            ),
        ];
        for (t, read, want, why) in cases {
            assert_eq!(told_ms(t, read, &china()), want, "{t}: {why}");
        }
    }

    #[test]
    fn a_told_start_is_believed_only_inside_the_gap() {
        let read = local(2026, 12, 3, 14, 7, 30);
        let tz = china();
        // Two minutes before the read, nothing else known: the start.
        assert_eq!(
            told_start(told(12, 3, 14, 5), read, UNKNOWN, &tz),
            Some(local(2026, 12, 3, 14, 5, 0))
        );
        // The read's own minute, or ahead of it: the read time is better.
        for minute in [7, 8, 30] {
            assert_eq!(
                told_start(told(12, 3, 14, minute), read, UNKNOWN, &tz),
                None,
                "14:{minute:02}"
            );
        }
        // The minute before the read's is over: believed.
        assert_eq!(
            told_start(told(12, 3, 14, 6), read, UNKNOWN, &tz),
            Some(local(2026, 12, 3, 14, 6, 0))
        );
        // A wrong clock: hours off, or another day.
        assert_eq!(told_start(told(12, 3, 9, 5), read, UNKNOWN, &tz), None);
        assert_eq!(told_start(told(1, 1, 0, 0), read, UNKNOWN, &tz), None);
        assert_eq!(
            told_start(told(12, 3, 13, 8), read, UNKNOWN, &tz),
            Some(local(2026, 12, 3, 13, 8, 0)),
            "within the hour before: still the gap"
        );
        assert_eq!(told_start(told(12, 3, 13, 7), read, UNKNOWN, &tz), None);
        // The daemon heard the device at 14:06:20: a call told 14:03 is
        // a clock running slow (beyond the skew), one told 14:05 is within
        // it, one told 14:06 came after 14:06:20.
        let since = Backlog {
            since_ms: Some(local(2026, 12, 3, 14, 6, 20)),
        };
        assert_eq!(told_start(told(12, 3, 14, 3), read, since, &tz), None);
        assert_eq!(
            told_start(told(12, 3, 14, 5), read, since, &tz),
            Some(local(2026, 12, 3, 14, 6, 20)),
            "never before the device was last heard"
        );
        assert_eq!(
            told_start(told(12, 3, 14, 6), read, since, &tz),
            Some(local(2026, 12, 3, 14, 6, 20))
        );
        // Across New Year.
        let read = local(2027, 1, 1, 0, 1, 10);
        assert_eq!(
            told_start(told(12, 31, 23, 58), read, UNKNOWN, &tz),
            Some(local(2026, 12, 31, 23, 58, 0))
        );
    }

    fn told_cid(number: &str, t: CidDateTime) -> LineSignal {
        let mut c = CallerId::from_value(number);
        c.datetime = Some(t);
        LineSignal::CallerId(c)
    }

    /// A line in China whose clock reads `base_ms` at `t0`.
    struct Dated {
        bench: Bench,
        base_ms: i64,
    }

    impl Dated {
        fn new(base_ms: i64) -> Dated {
            let mut bench = Bench::new();
            bench.machine.set_zone(china());
            Dated { bench, base_ms }
        }

        fn signal(&mut self, secs: f64, s: LineSignal, backlog: Option<Backlog>) {
            let at = self.bench.t0 + Duration::from_secs_f64(secs);
            let ms = self.base_ms + (secs * 1000.0) as i64;
            let steps = self.bench.machine.on_signal(&s, at, ms, backlog);
            self.bench.take(steps);
        }

        fn tick(&mut self, secs: f64) {
            let at = self.bench.t0 + Duration::from_secs_f64(secs);
            let steps = self
                .bench
                .machine
                .on_tick(at, self.base_ms + (secs * 1000.0) as i64);
            self.bench.take(steps);
        }
    }

    #[test]
    fn calls_from_the_backlog_start_when_they_were_told_and_stay_consistent() {
        // The daemon comes back at 14:07:30 and reads what waited: a caller
        // who gave up (told 14:05), then one still ringing (told 14:06).
        let base = local(2026, 12, 3, 14, 7, 30);
        let mut d = Dated::new(base);
        let b = Some(UNKNOWN);
        d.signal(0.0, LineSignal::Ring, b);
        d.signal(0.001, told_cid("13812345678", told(12, 3, 14, 5)), b);
        d.signal(0.002, LineSignal::OnHook, b);
        d.signal(0.003, LineSignal::Ring, b);
        d.signal(0.004, told_cid("13900001111", told(12, 3, 14, 6)), b);
        // The second rings on, live.
        d.signal(4.0, LineSignal::Ring, None);
        d.tick(20.0);
        let [first, second] = &d.bench.cdrs[..] else {
            panic!("{:?}", d.bench.cdrs)
        };
        let at_5 = local(2026, 12, 3, 14, 5, 0);
        assert_eq!(
            (
                first.started_at,
                first.first_ring_at,
                first.cid_at,
                first.ended_at
            ),
            (at_5, Some(at_5), Some(at_5), at_5),
            "everything read of it from the backlog happened at its told start, as far as is known"
        );
        assert_eq!(first.outcome, Outcome::Abandoned);
        let at_6 = local(2026, 12, 3, 14, 6, 0);
        assert_eq!(
            (second.started_at, second.first_ring_at, second.cid_at),
            (at_6, Some(at_6), Some(at_6))
        );
        assert_eq!(second.ring_count, 2);
        assert_eq!(second.ended_at, base + 4000, "its live ring was read then");
        for c in [first, second] {
            assert!(c.ended_at >= c.started_at);
        }
    }

    #[test]
    fn a_live_call_or_a_wrong_clock_keeps_the_read_time() {
        let base = local(2026, 12, 3, 14, 7, 30);
        // Live: a told time minutes off is the exchange's clock, not a gap.
        let mut d = Dated::new(base);
        d.signal(0.0, LineSignal::Ring, None);
        d.signal(0.5, told_cid("13812345678", told(12, 3, 14, 2)), None);
        d.tick(20.0);
        assert_eq!(
            (d.bench.cdrs[0].started_at, d.bench.cdrs[0].cid_at),
            (base, Some(base + 500))
        );
        // From the backlog, but told yesterday: a wrong clock.
        let mut d = Dated::new(base);
        d.signal(0.0, LineSignal::Ring, Some(UNKNOWN));
        d.signal(
            0.001,
            told_cid("13812345678", told(12, 2, 14, 5)),
            Some(UNKNOWN),
        );
        d.signal(0.002, LineSignal::OnHook, Some(UNKNOWN));
        assert_eq!(
            (d.bench.cdrs[0].started_at, d.bench.cdrs[0].ended_at),
            (base, base + 2)
        );
        // A call that began live and whose caller ID is somehow stale keeps
        // its own start.
        let mut d = Dated::new(base);
        d.signal(0.0, LineSignal::Ring, None);
        d.signal(
            0.5,
            told_cid("13812345678", told(12, 3, 14, 5)),
            Some(UNKNOWN),
        );
        d.tick(20.0);
        assert_eq!(d.bench.cdrs[0].started_at, base);
    }

    #[test]
    fn answered_call_with_number_only_pops_at_once() {
        let mut b = Bench::new();
        b.signal(0.0, LineSignal::Ring);
        b.signal(1.5, cid("13812345678"));
        // The pop comes with the caller ID, before any second ring or name.
        assert!(matches!(
            b.events.last(),
            Some(CallEvent::CallerIdentified { .. })
        ));
        b.signal(4.0, LineSignal::Ring);
        b.signal(5.0, LineSignal::OffHook);
        b.signal(65.0, LineSignal::OnHook);
        let cdr = &b.cdrs[0];
        assert_eq!(cdr.outcome, Outcome::Answered);
        assert_eq!(cdr.ring_count, 2);
        assert_eq!(
            (cdr.first_ring_at, cdr.cid_at, cdr.answered_at, cdr.ended_at),
            (Some(0), Some(1500), Some(5000), 65000)
        );
        assert_eq!(cdr.raw_number.as_deref(), Some("13812345678"));
        assert_eq!(cdr.customer_id, Some(42));
        assert_eq!(cdr.match_rule, Some(MatchRule::Exact));
        assert!(!b.machine.busy());
    }

    fn named(number: &str, name: &str) -> LineSignal {
        let mut c = CallerId::from_value(number);
        c.name = Some(name.into());
        LineSignal::CallerId(c)
    }

    fn popped(b: &Bench) -> Vec<(String, Option<String>)> {
        b.events
            .iter()
            .filter_map(|e| match e {
                CallEvent::CallerIdentified {
                    call_id, caller, ..
                } => Some((call_id.to_string(), caller.name.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_second_caller_within_the_ring_timeout_is_a_new_call() {
        let mut b = Bench::new();
        b.signal(0.0, LineSignal::Ring);
        b.signal(0.5, named("13812345678", "ZHANG"));
        b.signal(4.0, LineSignal::Ring);
        // The first caller gives up; 3 s later the next one rings.
        b.signal(7.0, LineSignal::Ring);
        b.signal(7.5, named("13900001111", "LI"));
        b.signal(
            8.0,
            LineSignal::CallerName {
                name: "LI SI".into(),
            },
        );
        b.signal(11.0, LineSignal::OffHook);
        b.signal(20.0, LineSignal::OnHook);
        assert_eq!(
            popped(&b),
            [
                ("call-1".to_string(), Some("ZHANG".to_string())),
                ("call-2".to_string(), Some("LI".to_string()))
            ]
        );
        let first = &b.cdrs[0];
        assert_eq!(
            (first.raw_number.as_deref(), first.caller_name.as_deref()),
            (Some("13812345678"), Some("ZHANG")),
            "the first call keeps its own caller"
        );
        assert_eq!(first.outcome, Outcome::Abandoned);
        assert_eq!(first.ended_at, 7_000, "at its last ring");
        let second = &b.cdrs[1];
        assert_eq!(second.raw_number.as_deref(), Some("13900001111"));
        assert_eq!(second.outcome, Outcome::Answered);
        assert_eq!(second.started_at, 7_500);
    }

    #[test]
    fn a_device_that_repeats_caller_id_on_each_ring_keeps_one_call() {
        let mut b = Bench::with(CallPolicy {
            repeats_cid: true,
            ..CallPolicy::default()
        });
        for i in 0..3 {
            b.signal(i as f64 * 5.0, LineSignal::Ring);
            b.signal(i as f64 * 5.0 + 0.5, cid("13812345678"));
        }
        b.signal(12.0, cid("13900001111"));
        b.tick(30.0);
        assert_eq!(
            b.cdrs.len(),
            2,
            "the same number is the same call; another is not"
        );
        assert_eq!(b.cdrs[0].ring_count, 3);
        // Without the quirk, the same caller after another ring is calling again.
        let mut b = Bench::new();
        b.signal(0.0, LineSignal::Ring);
        b.signal(0.5, cid("13812345678"));
        b.signal(0.6, cid("13812345678"));
        b.signal(5.0, LineSignal::Ring);
        b.signal(5.5, cid("13812345678"));
        assert_eq!(
            popped(&b).len(),
            2,
            "a duplicate line is no call, a new ring is"
        );
    }

    #[test]
    fn a_device_lost_mid_call_ends_it_then_and_a_ringing_one_at_the_last_thing_heard() {
        let mut b = Bench::new();
        b.signal(0.0, LineSignal::Ring);
        b.signal(0.5, cid("13812345678"));
        b.signal(3.0, LineSignal::OffHook);
        b.signal(40.0, LineSignal::Dtmf { digits: "1".into() });
        let steps = b.machine.device_lost(55_000);
        b.take(steps);
        let cdr = &b.cdrs[0];
        assert_eq!(
            (cdr.outcome, cdr.ended_at),
            (Outcome::Answered, 55_000),
            "still talking when unplugged"
        );
        assert!(!b.machine.busy(), "ready for the next call");
        b.signal(100.0, LineSignal::Ring);
        b.signal(100.5, cid("13900001111"));
        assert_eq!(popped(&b).len(), 2);
        // Unplugged while ringing: judged by its rings, ended at the caller ID.
        let steps = b.machine.device_lost(130_000);
        b.take(steps);
        assert_eq!(
            (b.cdrs[1].outcome, b.cdrs[1].ended_at),
            (Outcome::Abandoned, 100_500)
        );
    }

    #[test]
    fn unanswered_calls_are_missed_or_abandoned_by_ring_count() {
        let mut b = Bench::new();
        for i in 0..5 {
            b.signal(i as f64 * 5.0, LineSignal::Ring);
        }
        b.tick(26.0); // within the ring timeout: still ringing
        assert!(b.cdrs.is_empty());
        b.tick(27.5);
        assert_eq!(b.cdrs[0].outcome, Outcome::Missed);
        assert_eq!(b.cdrs[0].ended_at, 20_000);
        b.signal(100.0, LineSignal::Ring);
        b.signal(101.0, cid("P"));
        b.tick(110.0);
        let cdr = &b.cdrs[1];
        assert_eq!(cdr.outcome, Outcome::Abandoned);
        assert_eq!(cdr.presentation, "private");
        assert_eq!(cdr.raw_number, None);
        assert_ne!(b.cdrs[0].call_uid, cdr.call_uid);
    }

    #[test]
    fn a_device_blind_to_answers_records_unknown_not_missed() {
        let mut b = Bench::with(CallPolicy {
            sees_answer: false,
            ..CallPolicy::default()
        });
        for i in 0..5 {
            b.signal(i as f64 * 5.0, LineSignal::Ring);
        }
        b.tick(30.0);
        assert_eq!(b.cdrs[0].outcome, Outcome::Unknown);
        assert_eq!(b.cdrs[0].ring_count, 5);
    }

    #[test]
    fn a_new_ring_after_the_timeout_is_a_new_call() {
        let mut b = Bench::new();
        b.signal(0.0, LineSignal::Ring);
        b.signal(30.0, LineSignal::Ring);
        assert_eq!(
            b.cdrs.len(),
            1,
            "the first call ended when its rings stopped"
        );
        assert!(b.machine.busy());
    }

    #[test]
    fn outbound_call_records_dialled_digits() {
        let mut b = Bench::new();
        b.signal(0.0, LineSignal::OffHook);
        b.signal(
            1.0,
            LineSignal::Dtmf {
                digits: "0755".into(),
            },
        );
        b.signal(
            2.0,
            LineSignal::Dtmf {
                digits: "86013388".into(),
            },
        );
        b.signal(60.0, LineSignal::OnHook);
        let cdr = &b.cdrs[0];
        assert_eq!(
            (cdr.direction, cdr.outcome),
            (Direction::Outbound, Outcome::Outbound)
        );
        assert_eq!(cdr.raw_number.as_deref(), Some("075586013388"));
    }

    #[test]
    fn caller_id_without_ring_starts_a_call_and_a_late_name_updates_it() {
        let mut b = Bench::new();
        b.signal(0.0, cid("13812345678"));
        b.signal(
            0.2,
            LineSignal::CallerName {
                name: "ZHANG".into(),
            },
        );
        b.signal(3.0, cid("13812345678")); // a repeat must not re-pop
        let pops = b
            .events
            .iter()
            .filter(|e| matches!(e, CallEvent::CallerIdentified { .. }))
            .count();
        assert_eq!(pops, 1);
        assert!(matches!(
            b.events.last(),
            Some(CallEvent::CallerName { .. })
        ));
        b.tick(20.0);
        assert_eq!(b.cdrs[0].caller_name.as_deref(), Some("ZHANG"));
        assert_eq!(b.cdrs[0].raw_number.as_deref(), Some("13812345678"));
        assert_eq!(b.cdrs[0].outcome, Outcome::Abandoned);
    }

    #[test]
    fn unavailable_number_and_deadlines() {
        let mut b = Bench::new();
        assert_eq!(b.machine.next_deadline(), None);
        b.signal(0.0, LineSignal::Ring);
        assert_eq!(
            b.machine.next_deadline(),
            Some(b.t0 + CallPolicy::default().ring_timeout)
        );
        b.signal(1.0, cid("O"));
        b.signal(2.0, LineSignal::OffHook);
        b.signal(3.0, LineSignal::OnHook);
        assert_eq!(b.cdrs[0].presentation, "unavailable");
        assert_eq!(
            b.events
                .iter()
                .filter(|e| matches!(e, CallEvent::Ended { .. }))
                .count(),
            1
        );
    }

    fn dialling() -> Bench {
        dialling_with(false)
    }

    fn dialling_with(confirms_hangup: bool) -> Bench {
        Bench::with(CallPolicy {
            dial: Some(DialPolicy {
                sees_answer: true,
                no_answer: Duration::from_secs(30),
                confirms_hangup,
            }),
            ..CallPolicy::default()
        })
    }

    fn request() -> DialRequest {
        DialRequest {
            digits: "913912345678".into(),
            number: "139 1234 5678".into(),
            agent: "li".into(),
            agent_id: 7,
        }
    }

    impl Bench {
        fn dial(&mut self, secs: f64) -> Result<Arc<str>, DialError> {
            let at = self.t0 + Duration::from_secs_f64(secs);
            let (id, steps) = self.machine.dial(request(), at, (secs * 1000.0) as i64)?;
            self.take(steps);
            Ok(id)
        }

        fn progress(&mut self, secs: f64, progress: crate::event::DialProgress) {
            self.signal(
                secs,
                LineSignal::Dial {
                    progress,
                    detail: None,
                },
            );
        }
    }

    #[test]
    fn a_dialled_call_is_the_agents_from_dial_to_cdr() {
        use crate::event::DialProgress;
        let mut b = dialling();
        let id = b.dial(0.0).unwrap();
        assert_eq!(
            b.commands,
            [LineCommand::Dial {
                digits: "913912345678".into()
            }]
        );
        assert!(matches!(
            &b.events[0],
            CallEvent::Dialing { agent: Some(a), number: Some(n), .. } if &**a == "li" && n == "139 1234 5678"
        ));
        // The number is looked up for the agent's pop.
        assert!(
            matches!(&b.events[1], CallEvent::CallerIdentified { call_id, .. } if *call_id == id)
        );
        b.progress(0.2, DialProgress::Accepted);
        // The box reports its own off-hook: still the same call.
        b.signal(0.3, LineSignal::OffHook);
        b.progress(1.0, DialProgress::Alerting);
        b.progress(4.0, DialProgress::Answered);
        assert!(matches!(b.events.last(), Some(CallEvent::Answered { .. })));
        let steps = b.machine.hang_up(&id, 64_000).unwrap();
        b.take(steps);
        assert_eq!(b.commands.last(), Some(&LineCommand::HangUp));
        let cdr = &b.cdrs[0];
        assert_eq!(cdr.direction, Direction::Outbound);
        assert_eq!(cdr.outcome, Outcome::Answered);
        assert_eq!(cdr.answered_at, Some(4_000));
        assert_eq!(cdr.ended_at, 64_000);
        assert_eq!(cdr.agent_user_id, Some(7));
        assert_eq!(cdr.raw_number.as_deref(), Some("139 1234 5678"));
        assert_eq!(cdr.customer_id, Some(42));
        assert!(!b.machine.busy());
    }

    #[test]
    fn a_dial_cancelled_before_the_box_took_it_leaves_no_phantom_call() {
        use crate::event::DialProgress;
        let mut b = dialling();
        let id = b.dial(0.0).unwrap();
        let steps = b.machine.hang_up(&id, 100).unwrap();
        b.take(steps);
        assert_eq!(b.cdrs.len(), 1);
        // The box had not yet read the hang-up: its replies to the dial
        // come late, then its on-hook.
        b.progress(0.2, DialProgress::Accepted);
        b.signal(0.2, LineSignal::OffHook);
        assert!(!b.machine.busy(), "a late off-hook is the cancelled dial's");
        b.signal(0.3, LineSignal::OnHook);
        assert_eq!(b.cdrs.len(), 1);
        // After the on-hook, lifting the handset is a call again.
        b.signal(1.0, LineSignal::OffHook);
        assert!(b.machine.busy());
        // And long after a cancel too, even if the on-hook never came.
        let mut b = dialling();
        let id = b.dial(0.0).unwrap();
        let steps = b.machine.hang_up(&id, 100).unwrap();
        b.take(steps);
        b.signal(6.0, LineSignal::OffHook);
        assert!(b.machine.busy());
    }

    #[test]
    fn a_redial_at_once_is_not_told_the_dropped_dials_late_words() {
        use crate::event::DialProgress;
        // A box that confirms hang-ups: the agent cancels and dials again
        // before the box has answered the first dial.
        let mut b = dialling_with(true);
        let first = b.dial(0.0).unwrap();
        let steps = b.machine.hang_up(&first, 100).unwrap();
        b.take(steps);
        let second = b.dial(0.11).unwrap();
        // On the wire: the first dial's DIAL,OK and OFFHOOK, the on-hook
        // confirming its hang-up, then the second dial's words.
        b.progress(0.2, DialProgress::Accepted);
        b.signal(0.2, LineSignal::OffHook);
        b.signal(0.25, LineSignal::OnHook);
        assert!(b.machine.busy(), "the second dial goes on");
        assert!(!b
            .events
            .iter()
            .any(|e| matches!(e, CallEvent::Alerting { call_id, .. } if *call_id == second)));
        b.progress(0.3, DialProgress::Accepted);
        b.progress(0.5, DialProgress::Answered);
        b.signal(9.0, LineSignal::OnHook);
        assert_eq!(b.cdrs.len(), 2);
        assert_eq!(b.cdrs[1].outcome, Outcome::Answered);
        // The same after a dial given up unanswered.
        let mut b = dialling_with(true);
        b.dial(0.0).unwrap();
        b.tick(31.0);
        assert_eq!(b.cdrs[0].outcome, Outcome::NoAnswer);
        b.dial(31.01).unwrap();
        b.progress(31.02, DialProgress::Alerting);
        b.signal(31.05, LineSignal::OnHook);
        assert!(b.machine.busy());
        b.progress(31.1, DialProgress::Busy);
        assert_eq!(b.cdrs[1].outcome, Outcome::Busy);
        // A confirmation that never comes deafens the line for no longer
        // than the settling time.
        let mut b = dialling_with(true);
        let first = b.dial(0.0).unwrap();
        let steps = b.machine.hang_up(&first, 100).unwrap();
        b.take(steps);
        b.dial(6.0).unwrap();
        b.progress(6.1, DialProgress::Busy);
        assert_eq!(b.cdrs[1].outcome, Outcome::Busy);
    }

    #[test]
    fn a_busy_line_refuses_a_second_dial_and_a_ringing_one_too() {
        let mut b = dialling();
        b.dial(0.0).unwrap();
        assert!(matches!(b.dial(0.5), Err(DialError::LineBusy { .. })));
        let mut b = dialling();
        b.signal(0.0, LineSignal::Ring);
        assert!(matches!(b.dial(0.5), Err(DialError::LineBusy { .. })));
        let mut b = Bench::new();
        assert!(matches!(b.dial(0.0), Err(DialError::CannotDial { .. })));
    }

    #[test]
    fn nobody_answering_is_given_up_and_hung_up() {
        let mut b = dialling();
        b.dial(0.0).unwrap();
        b.progress(0.2, crate::event::DialProgress::Alerting);
        assert_eq!(
            b.machine.next_deadline(),
            Some(b.t0 + Duration::from_secs(30))
        );
        b.tick(29.9);
        assert!(b.cdrs.is_empty());
        b.tick(30.0);
        assert_eq!(b.cdrs[0].outcome, Outcome::NoAnswer);
        assert_eq!(b.commands.last(), Some(&LineCommand::HangUp));
    }

    #[test]
    fn a_failed_dial_keeps_the_devices_reason() {
        let mut b = dialling();
        b.dial(0.0).unwrap();
        b.signal(
            0.1,
            LineSignal::Dial {
                progress: crate::event::DialProgress::Failed,
                detail: Some("30".into()),
            },
        );
        assert_eq!(b.cdrs[0].outcome, Outcome::Failed);
        assert_eq!(b.cdrs[0].failure.as_deref(), Some("30"));
        assert!(matches!(
            b.events.last(),
            Some(CallEvent::Ended { reason: Some(r), .. }) if r == "30"
        ));
        // The line is free again.
        b.dial(1.0).unwrap();
    }

    #[test]
    fn a_vanished_device_fails_the_dial_and_frees_the_line() {
        let mut b = dialling();
        b.dial(0.0).unwrap();
        let steps = b.machine.device_lost(2_000);
        b.take(steps);
        assert_eq!(b.cdrs[0].outcome, Outcome::Failed);
        assert_eq!(b.cdrs[0].failure.as_deref(), Some("the device went away"));
        assert!(!b.machine.busy());
    }

    #[test]
    fn words_for_no_dialled_call_change_nothing() {
        let mut b = dialling();
        b.signal(0.0, LineSignal::Ring);
        b.progress(0.1, crate::event::DialProgress::Busy);
        b.progress(0.2, crate::event::DialProgress::Accepted);
        assert!(b.cdrs.is_empty());
        assert!(b.machine.busy(), "the inbound call still rings");
    }
}
