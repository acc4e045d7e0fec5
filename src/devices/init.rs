//! A profile's `[[init]]` sequence, with one meaning for every driver: the
//! caller-ID boxes (`serial.rs`) and the GSM modems (`gsm/port.rs`) both
//! walk it with [`InitRun`] and judge replies with [`judge`], so a profile
//! field reads the same whichever device it describes.
//!
//! The meaning (documented for profile writers in
//! `firmware-profiles/README.md`):
//!
//! - `send` is written with a carriage return; the step waits up to
//!   `timeout_ms` for its reply (a GSM modem's `[gsm] command_timeout_ms`
//!   when that is longer).
//! - `expect` is met when **one line of the reply, trimmed of surrounding
//!   white space, equals it** (`OK`, `+CPIN: READY`, `$OK`): whole-line
//!   equality, never a substring, so `OK` is not met by `+CME ERROR: ... OK`
//!   text and `READY` alone does not pass for `+CPIN: READY`.
//! - A line equal to `ERROR` or one of the profile's `[quirks]
//!   error_replies` refuses the command: the next of `fallbacks` is tried at
//!   once. No reply in time also moves to the next fallback.
//! - When `send` and every fallback fail, the sequence fails, unless the
//!   step is `optional`, which is then skipped.

use super::profile::InitStep;
use std::time::Duration;

/// What one reply line means for the step waiting for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The line is `expect`: the step succeeded.
    Expected,
    /// The device refused the command: try the next fallback.
    Refused,
    /// Anything else (echo, other information, chatter): keep waiting.
    Other,
}

/// Judges one reply line for a step expecting `expect`, with the
/// profile's extra error replies.
pub fn judge(line: &str, expect: &str, error_replies: &[String]) -> Verdict {
    let line = line.trim();
    if line == expect.trim() {
        Verdict::Expected
    } else if line == "ERROR" || error_replies.iter().any(|e| e.trim() == line) {
        Verdict::Refused
    } else {
        Verdict::Other
    }
}

/// Whether a whole reply (its lines, the final result included) met
/// `expect`: the first line that decides, decides.
pub fn reply_meets(lines: &[String], expect: &str, error_replies: &[String]) -> bool {
    lines
        .iter()
        .map(|l| judge(l, expect, error_replies))
        .find(|v| *v != Verdict::Other)
        == Some(Verdict::Expected)
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next<'a> {
    /// Write `command` and wait up to `timeout` for the step's reply.
    Send {
        command: &'a str,
        step: &'a InitStep,
        timeout: Duration,
    },
    /// Every step passed (or was optional).
    Done,
    /// A required step failed with all its fallbacks: why, for people.
    Failed(String),
}

/// The walk through an init sequence: which step, which of its commands.
/// Pure: the driver writes, reads and reports back with
/// [`InitRun::answered`].
#[derive(Debug, Clone)]
pub struct InitRun<'a> {
    steps: &'a [InitStep],
    step: usize,
    /// 0 is `send`, 1.. the fallbacks.
    attempt: usize,
    failed: Option<String>,
    /// Why the last command failed, for the message when the step fails.
    last: Option<String>,
}

impl<'a> InitRun<'a> {
    /// A walk from the first step.
    pub fn new(steps: &'a [InitStep]) -> InitRun<'a> {
        InitRun {
            steps,
            step: 0,
            attempt: 0,
            failed: None,
            last: None,
        }
    }

    /// The command to send now, or the end.
    pub fn next(&self) -> Next<'a> {
        if let Some(why) = &self.failed {
            return Next::Failed(why.clone());
        }
        let Some(step) = self.steps.get(self.step) else {
            return Next::Done;
        };
        let command = if self.attempt == 0 {
            &step.send
        } else {
            &step.fallbacks[self.attempt - 1]
        };
        Next::Send {
            command,
            step,
            timeout: Duration::from_millis(step.timeout_ms),
        }
    }

    /// The command sent last met `expect` (`Ok`), or did not (`Err` with
    /// what happened: refused, silent, other reply).
    pub fn answered(&mut self, outcome: Result<(), String>) {
        let Some(step) = self.steps.get(self.step) else {
            return;
        };
        match outcome {
            Ok(()) => self.advance(),
            Err(why) => {
                self.last = Some(why);
                if self.attempt < step.fallbacks.len() {
                    self.attempt += 1;
                } else if step.optional {
                    self.advance();
                } else {
                    let tried = std::iter::once(&step.send)
                        .chain(&step.fallbacks)
                        .map(|c| format!("{c:?}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.failed = Some(format!(
                        "init: no {:?} reply to {tried} (last: {})",
                        step.expect,
                        self.last.as_deref().unwrap_or("nothing")
                    ));
                }
            }
        }
    }

    fn advance(&mut self) {
        self.step += 1;
        self.attempt = 0;
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(send: &str, expect: &str, fallbacks: &[&str], optional: bool) -> InitStep {
        InitStep {
            send: send.into(),
            expect: expect.into(),
            timeout_ms: 100,
            fallbacks: fallbacks.iter().map(|s| s.to_string()).collect(),
            optional,
        }
    }

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn expect_is_a_whole_line_trimmed() {
        let errors = vec!["COMMAND NOT SUPPORT".to_string()];
        assert_eq!(judge(" OK \r", "OK", &errors), Verdict::Expected);
        assert_eq!(
            judge("+CPIN: READY", "+CPIN: READY", &errors),
            Verdict::Expected
        );
        // Not a substring: neither way round.
        assert_eq!(judge("+CPIN: READY", "READY", &errors), Verdict::Other);
        assert_eq!(
            judge("+CPIN: NOT READY", "+CPIN: READY", &errors),
            Verdict::Other
        );
        assert_eq!(judge("$OKAY", "$OK", &errors), Verdict::Other);
        assert_eq!(judge("ERROR", "OK", &errors), Verdict::Refused);
        assert_eq!(
            judge("COMMAND NOT SUPPORT", "OK", &errors),
            Verdict::Refused
        );
        assert_eq!(judge("AT+CPIN?", "+CPIN: READY", &errors), Verdict::Other);
    }

    #[test]
    fn a_reply_meets_expect_when_its_deciding_line_does() {
        let none: Vec<String> = Vec::new();
        assert!(reply_meets(
            &lines(&["+CPIN: READY", "OK"]),
            "+CPIN: READY",
            &none
        ));
        assert!(reply_meets(&lines(&["AT", "OK"]), "OK", &none));
        assert!(!reply_meets(
            &lines(&["+CPIN: SIM PIN", "OK"]),
            "+CPIN: READY",
            &none
        ));
        assert!(!reply_meets(&lines(&["ERROR"]), "OK", &none));
        assert!(!reply_meets(&[], "OK", &none));
    }

    #[test]
    fn fallbacks_in_order_then_optional_or_failed() {
        let steps = vec![
            step("AT+VCID=1", "OK", &["AT#CID=1", "AT%CCID=1"], false),
            step("AT^CURC=0", "OK", &[], true),
            step("AT+CPIN?", "+CPIN: READY", &[], false),
        ];
        let mut run = InitRun::new(&steps);
        let sent = |run: &InitRun| match run.next() {
            Next::Send { command, .. } => command.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(sent(&run), "AT+VCID=1");
        run.answered(Err("ERROR".into()));
        assert_eq!(sent(&run), "AT#CID=1");
        run.answered(Ok(()));
        assert_eq!(sent(&run), "AT^CURC=0");
        run.answered(Err("COMMAND NOT SUPPORT".into()));
        // Optional: skipped.
        assert_eq!(sent(&run), "AT+CPIN?");
        run.answered(Err("no reply within 100 ms".into()));
        match run.next() {
            Next::Failed(why) => {
                assert!(
                    why.contains("+CPIN: READY") && why.contains("no reply"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
        let mut ok = InitRun::new(&steps[1..2]);
        ok.answered(Ok(()));
        assert_eq!(ok.next(), Next::Done);
        assert_eq!(InitRun::new(&[]).next(), Next::Done);
    }
}
