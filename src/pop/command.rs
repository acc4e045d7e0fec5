//! The desktop's commands, typed: parsed once at the socket (a malformed
//! one is refused there with a code), dispatched in one place by the hub,
//! answered with a result or a [`CommandError`].

use crate::store::AgentState;
use serde_json::{json, Map, Value};

/// A command and its idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub id: String,
    pub action: Action,
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `agent.state`: ready or not ready, with an optional reason.
    SetState {
        state: AgentState,
        reason: Option<String>,
    },
    /// `call.claim`: take a group line's call.
    Claim { call_id: String },
    /// `customer.select`: make one of the pop's customers the caller.
    SelectCustomer { call_id: String, customer_id: i64 },
    /// `workorder.save`: a work order (工单) from the pop's form.
    SaveWorkOrder(WorkOrderDraft),
    /// `call.dial`: an outgoing call, on a given line or the agent's own.
    Dial {
        number: String,
        line: Option<String>,
    },
    /// `call.hangup`: end (or cancel) a call.
    HangUp { call_id: String },
}

/// A work order as the desktop sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkOrderDraft {
    pub form: Option<String>,
    pub call_id: Option<String>,
    pub customer_id: Option<i64>,
    pub fields: Map<String, Value>,
}

impl Action {
    /// The command's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Action::SetState { .. } => "agent.state",
            Action::Claim { .. } => "call.claim",
            Action::SelectCustomer { .. } => "customer.select",
            Action::SaveWorkOrder(_) => "workorder.save",
            Action::Dial { .. } => "call.dial",
            Action::HangUp { .. } => "call.hangup",
        }
    }
}

/// The commands the server knows, by name.
pub const COMMANDS: [&str; 6] = [
    "workorder.save",
    "customer.select",
    "agent.state",
    "call.claim",
    "call.dial",
    "call.hangup",
];

/// Why a command was refused: a stable code for programs, a message for people.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandError {
    pub code: &'static str,
    pub message: String,
    /// Per-field problems (`invalid`).
    pub fields: Option<Value>,
    /// What the page puts in its words for the code.
    pub params: Option<Value>,
}

impl CommandError {
    /// An error with a code and a message.
    pub fn new(code: &'static str, message: impl Into<String>) -> CommandError {
        CommandError {
            code,
            message: message.into(),
            fields: None,
            params: None,
        }
    }

    /// The same, with what the page needs to word it.
    pub fn with(mut self, params: Value) -> CommandError {
        self.params = Some(params);
        self
    }

    /// The `error` data for the command `id`.
    pub fn json(&self, id: &str) -> Value {
        let mut v = json!({ "id": id, "code": self.code, "message": self.message });
        if let Some(f) = &self.fields {
            v["fields"] = f.clone();
        }
        if let Some(p) = &self.params {
            v["params"] = p.clone();
        }
        v
    }
}

/// Parses a command's `data` for the command named `kind`.
pub fn parse_action(kind: &str, data: &Value) -> Result<Action, CommandError> {
    let text = |name: &str| -> Result<String, CommandError> {
        data.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 256)
            .map(str::to_string)
            .ok_or_else(|| CommandError::new("bad_message", format!("{kind} needs data.{name}")))
    };
    match kind {
        "agent.state" => {
            let state = match data.get("state").and_then(Value::as_str) {
                Some("ready") => AgentState::Ready,
                Some("not_ready") => AgentState::NotReady,
                other => {
                    return Err(CommandError::new(
                        "bad_state",
                        format!("an agent may choose ready or not_ready, not {other:?}"),
                    ))
                }
            };
            let reason = data
                .get("reason")
                .and_then(Value::as_str)
                .map(|r| r.chars().take(100).collect());
            Ok(Action::SetState { state, reason })
        }
        "call.claim" => Ok(Action::Claim {
            call_id: text("call_id")?,
        }),
        "customer.select" => Ok(Action::SelectCustomer {
            call_id: text("call_id")?,
            customer_id: data
                .get("customer_id")
                .and_then(Value::as_i64)
                .ok_or_else(|| {
                    CommandError::new("bad_message", "customer.select needs data.customer_id")
                })?,
        }),
        "workorder.save" => {
            let fields = data
                .get("fields")
                .and_then(Value::as_object)
                .cloned()
                .ok_or_else(|| {
                    CommandError::new("bad_message", "workorder.save needs data.fields")
                })?;
            Ok(Action::SaveWorkOrder(WorkOrderDraft {
                form: data.get("form").and_then(Value::as_str).map(str::to_string),
                call_id: data
                    .get("call_id")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                customer_id: data.get("customer_id").and_then(Value::as_i64),
                fields,
            }))
        }
        "call.dial" => Ok(Action::Dial {
            number: text("number")?,
            line: data.get("line").and_then(Value::as_str).map(str::to_string),
        }),
        "call.hangup" => Ok(Action::HangUp {
            call_id: text("call_id")?,
        }),
        other => Err(CommandError::new(
            "unknown_command",
            format!("unknown command {other:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_into_their_types_or_say_what_is_missing() {
        assert_eq!(
            parse_action(
                "agent.state",
                &json!({"state": "not_ready", "reason": "开会"})
            ),
            Ok(Action::SetState {
                state: AgentState::NotReady,
                reason: Some("开会".into())
            })
        );
        assert_eq!(
            parse_action("agent.state", &json!({"state": "on_call"}))
                .unwrap_err()
                .code,
            "bad_state"
        );
        assert_eq!(
            parse_action(
                "customer.select",
                &json!({"call_id": "c", "customer_id": 7})
            ),
            Ok(Action::SelectCustomer {
                call_id: "c".into(),
                customer_id: 7
            })
        );
        let e = parse_action(
            "customer.select",
            &json!({"call_id": "c", "customer_id": "7"}),
        );
        assert_eq!(e.unwrap_err().code, "bad_message");
        assert_eq!(
            parse_action("call.claim", &json!({})).unwrap_err().message,
            "call.claim needs data.call_id"
        );
        let w = parse_action(
            "workorder.save",
            &json!({"call_id": "c", "fields": {"summary": "x"}}),
        )
        .unwrap();
        assert!(
            matches!(&w, Action::SaveWorkOrder(d) if d.call_id.as_deref() == Some("c") && d.form.is_none())
        );
        assert_eq!(w.name(), "workorder.save");
        assert_eq!(
            parse_action("workorder.save", &json!({"fields": []}))
                .unwrap_err()
                .code,
            "bad_message"
        );
        for kind in COMMANDS {
            assert_ne!(
                parse_action(kind, &Value::Null).map_err(|e| e.code),
                Err("unknown_command"),
                "{kind} is known"
            );
        }
    }

    #[test]
    fn errors_carry_the_id_and_any_fields() {
        let mut e = CommandError::new("invalid", "some fields are not right");
        e.fields = Some(json!([{"field": "summary"}]));
        let v = e.json("k1");
        assert_eq!(v["id"], "k1");
        assert_eq!(v["code"], "invalid");
        assert_eq!(v["fields"][0]["field"], "summary");
    }
}
