//! The typed events that flow between parts: devices produce `LineEvent`s,
//! the call engine turns them into `CallEvent`s.

use crate::domain::CustomerMatch;
use crate::dsp::cid::{Absence, CidDateTime};
use crate::phone::{MatchOutcome, MatchRule};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// A caller ID as a line delivers it: a number or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallerId {
    pub number: Option<String>,
    pub absent: Option<Absence>,
    pub name: Option<String>,
    pub datetime: Option<CidDateTime>,
}

impl From<crate::dsp::cid::CallerIdMessage> for CallerId {
    fn from(m: crate::dsp::cid::CallerIdMessage) -> CallerId {
        CallerId {
            number: m.number,
            absent: m.number_absent,
            name: m.name,
            datetime: m.datetime,
        }
    }
}

impl CallerId {
    /// A number, or the `P`/`O` markers for withheld and unavailable.
    pub fn from_value(value: &str) -> CallerId {
        let value = value.trim();
        let absent = match Absence::from_marker(value) {
            Some(a) => Some(a),
            None if value.is_empty() => Some(Absence::Unavailable),
            None => None,
        };
        CallerId {
            number: absent.is_none().then(|| value.to_string()),
            absent,
            name: None,
            datetime: None,
        }
    }
}

/// What a device saw on one of its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LineSignal {
    Ring,
    OffHook,
    OnHook,
    CallerId(CallerId),
    /// A name that came after the number.
    CallerName {
        name: String,
    },
    Dtmf {
        digits: String,
    },
    /// What the device said of a call callpop asked it to dial (its
    /// profile's `[dial]` replies), with the device's own words for a
    /// failure.
    Dial {
        progress: DialProgress,
        detail: Option<String>,
    },
}

/// How a dialled call goes, as a device tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialProgress {
    /// The device took the command and is dialling (`OK` after `ATD`).
    Accepted,
    /// The far end rings.
    Alerting,
    /// The far end answered.
    Answered,
    Busy,
    NoAnswer,
    NoDialTone,
    /// Refused or lost (`+CME ERROR`, `NO CARRIER` before an answer).
    Failed,
}

/// Whether a device is reachable, for admins and for ending calls cleanly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeviceState {
    Up,
    Down { reason: String },
}

/// A signal with where and when it happened.
#[derive(Debug, Clone)]
pub struct LineEvent {
    /// The line's name, e.g. `box1/2`: device name and 1-based port.
    pub line: Arc<str>,
    pub device: Arc<str>,
    /// Wall clock, milliseconds since the epoch, for the CDR.
    pub at_ms: i64,
    /// Monotonic, for timeouts and latency.
    pub at: Instant,
    pub kind: LineEventKind,
    /// Set when the signal was read from bytes that waited in the port while
    /// nobody read it (the daemon stopped, the port closed): `at_ms` is then
    /// when it was read, not when it happened, and a caller ID's own date
    /// and time may say better (see `calls::told_start`).
    pub backlog: Option<Backlog>,
}

/// Bytes that were waiting in a port when it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// When this process last heard from the device (ms), so the bytes were
    /// sent after it; `None` when it has not (read at the daemon's start:
    /// the gap's start is unknown).
    pub since_ms: Option<i64>,
}

/// A line signal, or a change in the device behind the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEventKind {
    Signal(LineSignal),
    Device(DeviceState),
}

/// Which way a call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Answered,
    /// It rang long enough to be answered and was not.
    Missed,
    /// The caller hung up before it had rung long enough to count as missed.
    Abandoned,
    Outbound,
    /// It rang and stopped on a line whose device cannot see an answer.
    Unknown,
    /// A dialled call the far end did not answer.
    NoAnswer,
    /// A dialled call that found the far end busy.
    Busy,
    /// A dialled call that failed (no dial tone, refused, the device lost).
    Failed,
    /// A dialled call the agent ended before it was answered.
    Cancelled,
    /// A blacklisted caller's call the device hung up.
    Rejected,
}

impl Outcome {
    /// The name stored in CDRs.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Missed => "missed",
            Outcome::Abandoned => "abandoned",
            Outcome::Outbound => "outbound",
            Outcome::Unknown => "unknown",
            Outcome::NoAnswer => "no_answer",
            Outcome::Busy => "busy",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Rejected => "rejected",
        }
    }
}

/// Who is calling, as far as the store knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub raw_number: Option<String>,
    pub normalized: Option<String>,
    /// The number as people here write it (13812345678, 01065528888, not
    /// +86…): what a work order's phone field is filled with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
    pub absent: Option<Absence>,
    pub name: Option<String>,
    pub rule: MatchRule,
    pub outcome: MatchOutcome,
    pub matches: Vec<CustomerMatch>,
    /// Where the number belongs and its carrier (归属地), when known.
    pub info: Option<crate::phone::geo::NumberInfo>,
    /// The number is on the inbound blacklist.
    pub blocked: Option<Blocked>,
}

/// A blacklisted caller: why, and whether the call is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocked {
    pub reason: String,
    /// The list says refuse it, and the line's device can: it is hung up
    /// and pops nowhere. Otherwise it pops marked.
    pub rejected: bool,
}

/// What the call engine tells everyone else.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallEvent {
    Ringing {
        call_id: Arc<str>,
        line: Arc<str>,
        ring_count: u32,
    },
    /// The caller is known: the screen-pop moment.
    CallerIdentified {
        call_id: Arc<str>,
        line: Arc<str>,
        caller: Caller,
    },
    CallerName {
        call_id: Arc<str>,
        line: Arc<str>,
        name: String,
    },
    Answered {
        call_id: Arc<str>,
        line: Arc<str>,
    },
    Dtmf {
        call_id: Arc<str>,
        line: Arc<str>,
        digits: String,
    },
    Ended {
        call_id: Arc<str>,
        line: Arc<str>,
        outcome: Outcome,
        /// Why a dialled call failed, in the device's words.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Device {
        device: Arc<str>,
        state: DeviceState,
    },
    /// An outbound call began (recorded like an answered one): the line
    /// went off-hook with no call ringing, or callpop dialled for an agent.
    Dialing {
        call_id: Arc<str>,
        line: Arc<str>,
        /// The agent (user name) callpop dialled for; `None` when someone
        /// dialled on the phone.
        #[serde(skip_serializing_if = "Option::is_none")]
        agent: Option<Arc<str>>,
        /// That agent's user id.
        #[serde(skip_serializing_if = "Option::is_none")]
        agent_id: Option<i64>,
        /// The number dialled, as the agent gave it.
        #[serde(skip_serializing_if = "Option::is_none")]
        number: Option<String>,
    },
    /// A dialled call rings at the far end (or, on a device that cannot
    /// see an answer, the digits are out).
    Alerting {
        call_id: Arc<str>,
        line: Arc<str>,
    },
    /// Something failed that a person should see (a recording stopped by a
    /// vanished sound card or a full disk); calls and pops go on.
    Alarm {
        source: Arc<str>,
        message: String,
    },
}

/// What happened to an SMS, for the marketers' page, campaigns and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SmsEvent {
    /// An outgoing part changed state (its row already says so).
    Part {
        part_id: i64,
        message_id: i64,
        state: crate::domain::PartState,
        modem: Option<String>,
        reference: Option<u8>,
        error: Option<String>,
    },
    /// A message arrived and is stored (whole, or with parts missing after
    /// the reassembly timeout).
    Received {
        id: i64,
        modem: String,
        sender: String,
        text: String,
        parts: u32,
        missing: Vec<u8>,
    },
    /// A modem came up or went down.
    Modem { modem: String, state: DeviceState },
}
