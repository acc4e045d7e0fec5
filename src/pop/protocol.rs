//! The desktop protocol's envelopes (see PROTOCOL.md). Server messages are
//! `{"v":1,"seq":N,"type":...,"ts":...,"data":...}`; the data of a pop is
//! serialised once and spliced into each recipient's envelope.

use super::command::{parse_action, Command, COMMANDS};
use serde::Deserialize;
use serde_json::Value;

/// The protocol version in every envelope and in `hello`.
pub const VERSION: u32 = 1;

/// One server message, ready to send.
pub fn envelope(seq: u64, kind: &str, data: &str) -> String {
    let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    format!(r#"{{"v":{VERSION},"seq":{seq},"type":"{kind}","ts":"{ts}","data":{data}}}"#)
}

/// What a desktop may send. Commands carry `id`, their idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    Heartbeat,
    Resume { session_id: String, last_seq: u64 },
    Ack { seq: u64 },
    Command(Command),
}

/// Why a client message was refused; sent back as `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    pub code: &'static str,
    pub message: String,
    /// The command's idempotency key, when the message had one.
    pub id: Option<String>,
}

impl ProtocolError {
    pub fn new(code: &'static str, message: impl Into<String>, id: Option<String>) -> Self {
        ProtocolError {
            code,
            message: message.into(),
            id,
        }
    }
}

/// Parses one text frame from a desktop.
pub fn parse(text: &str) -> Result<ClientMessage, ProtocolError> {
    #[derive(Deserialize)]
    struct Raw {
        #[serde(rename = "type")]
        kind: Option<String>,
        id: Option<String>,
        #[serde(default)]
        data: Value,
    }
    let raw: Raw = serde_json::from_str(text)
        .map_err(|e| ProtocolError::new("bad_json", format!("not a JSON object: {e}"), None))?;
    let kind = raw.kind.ok_or_else(|| {
        ProtocolError::new("bad_message", "a message needs a type", raw.id.clone())
    })?;
    let field = |name: &str| raw.data.get(name);
    match kind.as_str() {
        "heartbeat" => Ok(ClientMessage::Heartbeat),
        "resume" => {
            let session_id = field("session_id").and_then(Value::as_str);
            let last_seq = field("last_seq").and_then(Value::as_u64);
            match (session_id, last_seq) {
                (Some(s), Some(n)) => Ok(ClientMessage::Resume {
                    session_id: s.to_string(),
                    last_seq: n,
                }),
                _ => Err(ProtocolError::new(
                    "bad_message",
                    "resume needs data.session_id and data.last_seq",
                    None,
                )),
            }
        }
        "ack" => field("seq")
            .and_then(Value::as_u64)
            .map(|seq| ClientMessage::Ack { seq })
            .ok_or_else(|| ProtocolError::new("bad_message", "ack needs data.seq", None)),
        k if COMMANDS.contains(&k) => {
            let id = raw
                .id
                .filter(|id| !id.is_empty() && id.len() <= 128)
                .ok_or_else(|| {
                    ProtocolError::new(
                        "bad_message",
                        "a command needs an id (its idempotency key, at most 128 characters)",
                        None,
                    )
                })?;
            let action = parse_action(k, &raw.data)
                .map_err(|e| ProtocolError::new(e.code, e.message, Some(id.clone())))?;
            Ok(ClientMessage::Command(Command { id, action }))
        }
        other => Err(ProtocolError::new(
            "unknown_type",
            format!("unknown message type {other:?}"),
            raw.id,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_json_with_seq_and_data() {
        let e: Value = serde_json::from_str(&envelope(7, "call.ringing", r#"{"a":1}"#)).unwrap();
        assert_eq!(e["v"], 1);
        assert_eq!(e["seq"], 7);
        assert_eq!(e["type"], "call.ringing");
        assert_eq!(e["data"]["a"], 1);
        assert!(e["ts"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn client_messages_parse_or_say_why_not() {
        assert_eq!(
            parse(r#"{"type":"heartbeat"}"#),
            Ok(ClientMessage::Heartbeat)
        );
        assert_eq!(
            parse(r#"{"type":"ack","data":{"seq":3}}"#),
            Ok(ClientMessage::Ack { seq: 3 })
        );
        assert_eq!(
            parse(r#"{"type":"resume","data":{"session_id":"s","last_seq":0}}"#),
            Ok(ClientMessage::Resume {
                session_id: "s".into(),
                last_seq: 0
            })
        );
        let cmd = parse(r#"{"type":"agent.state","id":"k1","data":{"state":"ready"}}"#).unwrap();
        assert!(
            matches!(cmd, ClientMessage::Command(c) if c.id == "k1" && c.action.name() == "agent.state")
        );
        assert_eq!(parse("{").unwrap_err().code, "bad_json");
        assert_eq!(parse("[1]").unwrap_err().code, "bad_json");
        assert_eq!(parse(r#"{"data":{}}"#).unwrap_err().code, "bad_message");
        assert_eq!(
            parse(r#"{"type":"agent.state"}"#).unwrap_err().code,
            "bad_message"
        );
        let bad =
            parse(r#"{"type":"customer.select","id":"k2","data":{"call_id":"c"}}"#).unwrap_err();
        assert_eq!((bad.code, bad.id.as_deref()), ("bad_message", Some("k2")));
        let unknown = parse(r#"{"type":"teleport","id":"x"}"#).unwrap_err();
        assert_eq!(
            (unknown.code, unknown.id.as_deref()),
            ("unknown_type", Some("x"))
        );
    }
}
