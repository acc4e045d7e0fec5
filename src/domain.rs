//! The vocabulary every part of callpop shares, below the store: the
//! store keeps these, the line side, the hub and the web side speak them,
//! and none of them needs the store to name them.

use serde::{Deserialize, Serialize};

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
