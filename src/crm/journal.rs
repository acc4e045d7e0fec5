//! The values of a finished call for a connector's journal, from the
//! `call.ended` event the outbox keeps and what the store adds at delivery
//! (the work orders saved since, the agent's name). Pure.

use super::template::Vars;
use chrono::FixedOffset;
use serde_json::Value;

/// What the event does not carry, read when the journal is written.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// The numbers of the work orders saved on the call (`GD-…`).
    pub work_orders: Vec<String>,
    /// The agent's display name.
    pub agent_name: Option<String>,
    /// The console's address, to make the recording's link whole.
    pub console_url: Option<String>,
    /// The caller's landline area code, when the number data knows it.
    pub area_code: Option<String>,
}

/// `number.*` and `call.*` of a `call.ended` event's data; times in
/// `zone` (RFC 3339) and in UTC as CRMs' APIs often want them
/// (`2026-12-03 09:15:00`).
pub fn call_vars(data: &Value, extras: &Extras, zone: FixedOffset) -> Vars {
    let text = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Value::String(s.clone()),
        _ => Value::Null,
    };
    let national_digits: String = data["number"]["national"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let (national, local_form) = if national_digits.is_empty() {
        (Value::Null, Value::Null)
    } else {
        let local = super::lookup::local_number(&national_digits, extras.area_code.as_deref());
        (Value::String(national_digits), Value::String(local))
    };
    let digits: String = data["number"]["raw"]
        .as_str()
        .or(data["number"]["national"].as_str())
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let started = data["started_at"].as_i64();
    let ended = data["ended_at"].as_i64();
    let local = |ms: Option<i64>| {
        ms.and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| {
                Value::String(
                    t.with_timezone(&zone)
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                )
            })
            .unwrap_or(Value::Null)
    };
    let utc = |ms: Option<i64>| {
        ms.and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| Value::String(t.format("%Y-%m-%d %H:%M:%S").to_string()))
            .unwrap_or(Value::Null)
    };
    let recording = data["recording"]["audio"].as_str().map(|path| {
        Value::String(match &extras.console_url {
            Some(base) => format!("{}{path}", base.trim_end_matches('/')),
            None => path.to_string(),
        })
    });
    let orders = (!extras.work_orders.is_empty()).then(|| extras.work_orders.join(", "));
    let pairs: Vec<(&str, Value)> = vec![
        ("number.e164", text(&data["number"]["e164"])),
        ("number.national", national),
        ("number.digits", Value::String(digits)),
        ("number.local", local_form),
        ("call.id", text(&data["call_uid"])),
        ("call.line", text(&data["line"])),
        ("call.direction", text(&data["direction"])),
        ("call.outcome", text(&data["outcome"])),
        ("call.started_at", local(started)),
        ("call.started_at_utc", utc(started)),
        ("call.ended_at", local(ended)),
        ("call.ended_at_utc", utc(ended)),
        (
            "call.duration_secs",
            match (started, ended) {
                (Some(s), Some(e)) => Value::from((e - s).max(0) / 1000),
                _ => Value::Null,
            },
        ),
        (
            "call.talk_secs",
            Value::from(data["talk_seconds"].as_i64().unwrap_or(0)),
        ),
        ("call.agent", text(&data["agent"])),
        (
            "call.agent_name",
            extras
                .agent_name
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        ),
        ("call.recording_url", recording.unwrap_or(Value::Null)),
        (
            "call.work_order",
            orders.map(Value::String).unwrap_or(Value::Null),
        ),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_finished_call_gives_every_journal_value() {
        let data = json!({
            "call_uid": "0193-a", "line": "box1/1", "direction": "inbound", "outcome": "answered",
            "number": {"e164": "+8613812345678", "national": "13812345678", "raw": "138 1234 5678"},
            "agent": "agent1", "started_at": 1_795_476_600_000i64, "answered_at": 1_795_476_605_000i64,
            "ended_at": 1_795_476_695_000i64, "talk_seconds": 90,
            "recording": {"id": 3, "audio": "/api/recordings/3/audio"},
        });
        let extras = Extras {
            work_orders: vec!["GD-20261203-0042".into()],
            agent_name: Some("王芳".into()),
            console_url: Some("http://10.0.0.5:8080/".into()),
            area_code: None,
        };
        let v = call_vars(&data, &extras, FixedOffset::east_opt(8 * 3600).unwrap());
        assert_eq!(v["number.e164"], "+8613812345678");
        assert_eq!(v["number.digits"], "13812345678");
        assert_eq!(v["call.duration_secs"], 95);
        assert_eq!(v["call.talk_secs"], 90);
        assert_eq!(v["call.started_at"], "2026-11-24T07:30:00+08:00");
        assert_eq!(v["call.started_at_utc"], "2026-11-23 23:30:00");
        assert_eq!(
            v["call.recording_url"],
            "http://10.0.0.5:8080/api/recordings/3/audio"
        );
        assert_eq!(v["call.work_order"], "GD-20261203-0042");
        assert_eq!(v["call.agent_name"], "王芳");
        // A missed call: no agent, no recording, no talk.
        let missed = json!({"call_uid": "b", "outcome": "missed", "number": {"e164": null, "national": "95588"}});
        let v = call_vars(
            &missed,
            &Extras::default(),
            FixedOffset::east_opt(0).unwrap(),
        );
        assert_eq!(
            (v["call.agent"].clone(), v["call.recording_url"].clone()),
            (Value::Null, Value::Null)
        );
        assert_eq!(v["call.talk_secs"], 0);
        assert_eq!(v["number.e164"], Value::Null);
        assert_eq!(v["call.work_order"], Value::Null);
        let landline = json!({"number": {"e164": "+861065528888", "national": "010 6552 8888"}});
        let extras = Extras {
            area_code: Some("10".into()),
            ..Extras::default()
        };
        let v = call_vars(&landline, &extras, FixedOffset::east_opt(0).unwrap());
        assert_eq!(
            (v["number.national"].as_str(), v["number.local"].as_str()),
            (Some("01065528888"), Some("65528888"))
        );
    }
}
