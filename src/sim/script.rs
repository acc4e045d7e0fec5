//! The simulator's script language: one action a line.
//!
//! ```text
//! wait host          # until the host has opened the device (its init)
//! # a normal answered call on port 1
//! ring
//! wait 1s
//! cid 13812345678 name=ZHANG
//! ring
//! answer
//! wait 30s
//! hangup
//! ring @2            # port 2 of a multi-line box
//! private | unavailable
//! dtmf 123#
//! garbage 40         # 40 random bytes
//! badcid 13900000000 # a caller ID the device mangles (bad checksum)
//! unplug 2s          # the device vanishes for 2 s
//! ```

use std::time::Duration;

/// One thing the simulated device does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Wait(Duration),
    /// Waits until the host has opened the device and sent it a command
    /// (its init sequence): what follows is not lost to a late reader.
    WaitHost,
    Ring {
        port: u8,
    },
    Cid {
        port: u8,
        number: String,
        name: Option<String>,
    },
    Private {
        port: u8,
    },
    Unavailable {
        port: u8,
    },
    Answer {
        port: u8,
    },
    Hangup {
        port: u8,
    },
    Dtmf {
        port: u8,
        digits: String,
    },
    Garbage(usize),
    BadCid {
        port: u8,
        number: String,
    },
    Unplug(Duration),
}

/// A script line that is not an action: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ScriptError {}

/// Parses `500ms`, `2s`, `1.5s`, `1m`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = text
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| text.split_at(i))?;
    let value: f64 = number.parse().ok()?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return None,
    };
    (secs >= 0.0 && secs.is_finite()).then(|| Duration::from_secs_f64(secs))
}

/// Parses a whole script.
pub fn parse(text: &str) -> Result<Vec<Action>, ScriptError> {
    let mut actions = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        // `dtmf 12#` keeps its '#': only a '#' after whitespace starts a comment.
        let line = if raw.trim_start().starts_with("dtmf") {
            raw.split(" #").next().unwrap_or("").trim()
        } else {
            line
        };
        if line.is_empty() {
            continue;
        }
        let err = |message: String| ScriptError {
            line: i + 1,
            message,
        };
        let mut words: Vec<&str> = line.split_whitespace().collect();
        let mut port = 1u8;
        if let Some(last) = words.last() {
            if let Some(p) = last.strip_prefix('@') {
                port = p
                    .parse()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| err(format!("bad port {last:?}")))?;
                words.pop();
            }
        }
        let arg = |n: usize| {
            words
                .get(n)
                .copied()
                .ok_or_else(|| err(format!("{} needs an argument", words[0])))
        };
        let action = match words[0] {
            "wait" if words.get(1) == Some(&"host") => Action::WaitHost,
            "wait" => {
                Action::Wait(parse_duration(arg(1)?).ok_or_else(|| err("bad duration".into()))?)
            }
            "unplug" => {
                Action::Unplug(parse_duration(arg(1)?).ok_or_else(|| err("bad duration".into()))?)
            }
            "ring" => Action::Ring { port },
            "answer" => Action::Answer { port },
            "hangup" => Action::Hangup { port },
            "private" => Action::Private { port },
            "unavailable" => Action::Unavailable { port },
            "dtmf" => Action::Dtmf {
                port,
                digits: arg(1)?.to_string(),
            },
            "garbage" => Action::Garbage(
                arg(1)?
                    .parse()
                    .map_err(|_| err("garbage takes a byte count".into()))?,
            ),
            "cid" => Action::Cid {
                port,
                number: arg(1)?.to_string(),
                name: words
                    .get(2)
                    .and_then(|w| w.strip_prefix("name="))
                    .map(|n| n.replace('_', " ")),
            },
            "badcid" => Action::BadCid {
                port,
                number: arg(1)?.to_string(),
            },
            other => return Err(err(format!("unknown action {other:?}"))),
        };
        actions.push(action);
    }
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_action() {
        let script = "# comment\nring\nwait 1.5s\ncid 13812345678 name=ZHANG_SAN @2\nanswer\ndtmf 12# \ngarbage 10\nbadcid 139\nunplug 500ms\nhangup @3\nprivate\n";
        let a = parse(script).unwrap();
        assert_eq!(a[0], Action::Ring { port: 1 });
        assert_eq!(a[1], Action::Wait(Duration::from_millis(1500)));
        assert_eq!(parse("wait host\n").unwrap(), [Action::WaitHost]);
        assert_eq!(
            a[2],
            Action::Cid {
                port: 2,
                number: "13812345678".into(),
                name: Some("ZHANG SAN".into())
            }
        );
        assert_eq!(
            a[4],
            Action::Dtmf {
                port: 1,
                digits: "12#".into()
            }
        );
        assert_eq!(a[7], Action::Unplug(Duration::from_millis(500)));
        assert_eq!(a[8], Action::Hangup { port: 3 });
        assert_eq!(a.len(), 10);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("ring\nwait soon\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(parse("dance\n").unwrap_err().message.contains("dance"));
    }
}
