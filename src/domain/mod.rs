//! The vocabulary every part of callpop shares, below the store: the
//! store keeps these, the line side, the hub and the web side speak them,
//! and none of them needs the store to name them. With it, the rules of
//! two kinds of data the store keeps and the pages edit: a work order's
//! statuses ([`work_order_status`]) and customers' custom fields
//! ([`custom_fields`]).

pub mod custom_fields;
pub mod template;
pub mod work_order_status;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an edit of data the pages keep (custom fields, scoring forms) is
/// refused: a code and parameters the page words, and the same in
/// English for logs and the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub params: serde_json::Value,
    pub message: String,
}

impl Refusal {
    /// A refusal from its code, parameters and English wording.
    pub fn new(
        code: &'static str,
        params: serde_json::Value,
        message: impl Into<String>,
    ) -> Refusal {
        Refusal {
            code,
            params,
            message: message.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Milliseconds since the Unix epoch: the one time format of events, rows
/// and messages.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// One matched customer with the number that matched: what a caller's
/// lookup finds and a pop shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerMatch {
    pub id: i64,
    pub name: String,
    pub company: String,
    pub phone: String,
}

/// An agent's state, as the desktop shows it and statistics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    Ready,
    NotReady,
    OnCall,
    AfterCallWork,
    Offline,
}

impl AgentState {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Ready => "ready",
            AgentState::NotReady => "not_ready",
            AgentState::OnCall => "on_call",
            AgentState::AfterCallWork => "after_call_work",
            AgentState::Offline => "offline",
        }
    }

    /// The state a stored name stands for (an unknown name is offline).
    pub fn parse(s: &str) -> AgentState {
        match s {
            "ready" => AgentState::Ready,
            "not_ready" => AgentState::NotReady,
            "on_call" => AgentState::OnCall,
            "after_call_work" => AgentState::AfterCallWork,
            _ => AgentState::Offline,
        }
    }
}

/// Where an outgoing part stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartState {
    Queued,
    Sending,
    Sent,
    Delivered,
    Failed,
    /// The process or the port died after the PDU may have gone out: not
    /// re-sent automatically; a person or a late report settles it.
    Unknown,
}

impl PartState {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            PartState::Queued => "queued",
            PartState::Sending => "sending",
            PartState::Sent => "sent",
            PartState::Delivered => "delivered",
            PartState::Failed => "failed",
            PartState::Unknown => "unknown",
        }
    }

    /// The state a stored name stands for (an unknown name is unknown).
    pub fn parse(s: &str) -> PartState {
        match s {
            "queued" => PartState::Queued,
            "sending" => PartState::Sending,
            "sent" => PartState::Sent,
            "delivered" => PartState::Delivered,
            "failed" => PartState::Failed,
            _ => PartState::Unknown,
        }
    }
}

/// Local hours in which campaign messages may leave, e.g. 08:00–21:00. A
/// window whose end is before its start runs over midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: NaiveTime,
    pub to: NaiveTime,
}

impl Window {
    /// Parses `08:00-21:00` (also with `–` or `~`).
    pub fn parse(s: &str) -> Result<Window, String> {
        let (a, b) = s
            .split_once(['-', '–', '~'])
            .ok_or_else(|| format!("{s:?} is not a window like 08:00-21:00"))?;
        Ok(Window {
            from: parse_time(a)?,
            to: parse_time(b)?,
        })
    }

    /// From separate `HH:MM` texts.
    pub fn from_parts(from: &str, to: &str) -> Result<Window, String> {
        Window::parse(&format!("{from}-{to}"))
    }

    /// Whether a message may leave at local time `t`.
    pub fn is_open(&self, t: NaiveTime) -> bool {
        if self.from == self.to {
            return true;
        }
        if self.from < self.to {
            self.from <= t && t < self.to
        } else {
            t >= self.from || t < self.to
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.from.format("%H:%M"),
            self.to.format("%H:%M")
        )
    }
}

/// `HH:MM`, as stored.
pub fn parse_time(s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map_err(|_| format!("{:?} is not a time like 08:00", s.trim()))
}
