//! A call callpop dials for an agent: dialling → alerting → answered →
//! ended, or ended early as no answer, busy, failed (with the device's
//! reason) or cancelled. Pure: the line machine feeds it what the device
//! said and the time, and it answers what that means for the call.

use crate::event::{DialProgress, Outcome};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What an agent asked a line to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialRequest {
    /// The digits the device sends (the dial plan's answer).
    pub digits: String,
    /// The number as the agent gave it, for the CDR and the pop.
    pub number: String,
    /// Who dialled: user name (routing the pop) and id (the CDR).
    pub agent: Arc<str>,
    pub agent_id: i64,
}

/// What the engine must tell a line's device to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineCommand {
    Dial { digits: String },
    HangUp,
}

/// How a line's device dials, from its profile's `[dial]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialPolicy {
    /// Whether the device sees the far end answer.
    pub sees_answer: bool,
    /// Not answered within this long: given up as no answer.
    pub no_answer: Duration,
    /// Whether the device reports on-hook after a hang-up (see
    /// `DialSettings::confirms_hangup`).
    pub confirms_hangup: bool,
}

/// Where a dialled call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The command is out; the device has not said it took it.
    Dialling,
    /// The device took it (and the far end rings, as far as it can tell).
    Alerting,
    Answered,
}

/// A dialled call's own state, beside the line's call.
#[derive(Debug, Clone)]
pub struct Dialled {
    pub request: DialRequest,
    pub phase: Phase,
    /// When it is given up unanswered; `None` once answered, or on a device
    /// that cannot see an answer once it took the command.
    pub deadline: Option<Instant>,
    /// The agent asked to end it (cancel or hang up).
    pub ending: bool,
}

/// What a device's word means for the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Nothing,
    /// Now ringing at the far end.
    Alerting,
    Answered,
    /// Over, with this outcome and reason.
    End(Outcome, Option<String>),
}

impl Dialled {
    /// A call dialled at `at` under `policy`.
    pub fn new(request: DialRequest, policy: DialPolicy, at: Instant) -> Dialled {
        Dialled {
            request,
            phase: Phase::Dialling,
            deadline: Some(at + policy.no_answer),
            ending: false,
        }
    }

    /// The device said `progress` (with `detail`, its words for a failure).
    pub fn on_progress(
        &mut self,
        progress: DialProgress,
        detail: Option<&str>,
        policy: DialPolicy,
    ) -> Verdict {
        let reason = |default: &str| Some(detail.unwrap_or(default).to_string());
        match (self.phase, progress) {
            // After an answer, any call-ending word is the far end hanging up.
            (Phase::Answered, DialProgress::Accepted | DialProgress::Alerting) => Verdict::Nothing,
            (Phase::Answered, DialProgress::Answered) => Verdict::Nothing,
            (Phase::Answered, _) => Verdict::End(Outcome::Answered, None),
            (_, DialProgress::Accepted) => {
                if self.phase == Phase::Dialling {
                    self.phase = Phase::Alerting;
                    if !policy.sees_answer {
                        // Nobody will say more: the agent talks on the
                        // handset and hangs up when done.
                        self.deadline = None;
                    }
                    return Verdict::Alerting;
                }
                Verdict::Nothing
            }
            (Phase::Dialling, DialProgress::Alerting) => {
                self.phase = Phase::Alerting;
                Verdict::Alerting
            }
            (Phase::Alerting, DialProgress::Alerting) => Verdict::Nothing,
            (_, DialProgress::Answered) => {
                self.phase = Phase::Answered;
                self.deadline = None;
                Verdict::Answered
            }
            (_, DialProgress::Busy) => Verdict::End(Outcome::Busy, None),
            (_, DialProgress::NoAnswer) => Verdict::End(Outcome::NoAnswer, None),
            (_, DialProgress::NoDialTone) => Verdict::End(Outcome::Failed, reason("no dial tone")),
            (_, DialProgress::Failed) if self.ending => Verdict::End(Outcome::Cancelled, None),
            (_, DialProgress::Failed) => Verdict::End(Outcome::Failed, reason("failed")),
        }
    }

    /// How the call ends when the line goes on-hook, or the agent ends it.
    pub fn ended(&self, policy: DialPolicy) -> (Outcome, Option<String>) {
        match self.phase {
            Phase::Answered => (Outcome::Answered, None),
            // A device blind to the answer: whether anyone spoke is unknown.
            Phase::Alerting if !policy.sees_answer => (Outcome::Unknown, None),
            _ if self.ending => (Outcome::Cancelled, None),
            _ => (
                Outcome::Failed,
                Some("the line hung up before an answer".into()),
            ),
        }
    }

    /// How the call ends when its device vanishes.
    pub fn lost(&self, policy: DialPolicy) -> (Outcome, Option<String>) {
        match self.ended(policy) {
            (Outcome::Failed, _) | (Outcome::Cancelled, _) if !self.ending => {
                (Outcome::Failed, Some("the device went away".into()))
            }
            other => other,
        }
    }

    /// Whether the no-answer time ran out at `now`.
    pub fn timed_out(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEES: DialPolicy = DialPolicy {
        sees_answer: true,
        no_answer: Duration::from_secs(45),
        confirms_hangup: false,
    };
    const BLIND: DialPolicy = DialPolicy {
        sees_answer: false,
        no_answer: Duration::from_secs(45),
        confirms_hangup: false,
    };

    fn call(policy: DialPolicy) -> (Dialled, Instant) {
        let t0 = Instant::now();
        let request = DialRequest {
            digits: "13912345678".into(),
            number: "139 1234 5678".into(),
            agent: "li".into(),
            agent_id: 7,
        };
        (Dialled::new(request, policy, t0), t0)
    }

    #[test]
    fn dialling_alerting_answered_then_the_far_end_hangs_up() {
        let (mut d, _) = call(SEES);
        assert_eq!(
            d.on_progress(DialProgress::Accepted, None, SEES),
            Verdict::Alerting
        );
        assert_eq!(
            d.on_progress(DialProgress::Alerting, None, SEES),
            Verdict::Nothing
        );
        assert!(d.deadline.is_some(), "still waiting for an answer");
        assert_eq!(
            d.on_progress(DialProgress::Answered, None, SEES),
            Verdict::Answered
        );
        assert_eq!(d.deadline, None);
        assert_eq!(
            d.on_progress(DialProgress::Failed, Some("NO CARRIER"), SEES),
            Verdict::End(Outcome::Answered, None)
        );
    }

    #[test]
    fn each_failure_has_its_outcome() {
        for (progress, detail, want) in [
            (DialProgress::Busy, None, Verdict::End(Outcome::Busy, None)),
            (
                DialProgress::NoAnswer,
                None,
                Verdict::End(Outcome::NoAnswer, None),
            ),
            (
                DialProgress::NoDialTone,
                None,
                Verdict::End(Outcome::Failed, Some("no dial tone".into())),
            ),
            (
                DialProgress::Failed,
                Some("+CME ERROR: 30"),
                Verdict::End(Outcome::Failed, Some("+CME ERROR: 30".into())),
            ),
        ] {
            let (mut d, _) = call(SEES);
            d.on_progress(DialProgress::Accepted, None, SEES);
            assert_eq!(d.on_progress(progress, detail, SEES), want, "{progress:?}");
        }
    }

    #[test]
    fn a_cancel_is_cancelled_not_failed() {
        let (mut d, _) = call(SEES);
        d.on_progress(DialProgress::Accepted, None, SEES);
        d.ending = true;
        assert_eq!(d.ended(SEES), (Outcome::Cancelled, None));
        // The modem's NO CARRIER after our ATH is the cancel's echo.
        assert_eq!(
            d.on_progress(DialProgress::Failed, Some("NO CARRIER"), SEES),
            Verdict::End(Outcome::Cancelled, None)
        );
    }

    #[test]
    fn the_no_answer_time_runs_from_the_dial() {
        let (d, t0) = call(SEES);
        assert!(!d.timed_out(t0 + Duration::from_secs(44)));
        assert!(d.timed_out(t0 + Duration::from_secs(45)));
    }

    #[test]
    fn a_device_blind_to_answers_waits_for_the_agent() {
        let (mut d, t0) = call(BLIND);
        assert_eq!(
            d.on_progress(DialProgress::Accepted, None, BLIND),
            Verdict::Alerting
        );
        assert!(!d.timed_out(t0 + Duration::from_secs(3600)));
        d.ending = true;
        assert_eq!(d.ended(BLIND), (Outcome::Unknown, None));
        // Refused before it dialled: failed all the same.
        let (mut d, _) = call(BLIND);
        assert_eq!(
            d.on_progress(DialProgress::NoDialTone, Some("NO DIALTONE"), BLIND),
            Verdict::End(Outcome::Failed, Some("NO DIALTONE".into()))
        );
    }

    #[test]
    fn a_vanished_device_fails_the_call_unless_it_was_answered() {
        let (mut d, _) = call(SEES);
        assert_eq!(
            d.lost(SEES),
            (Outcome::Failed, Some("the device went away".into()))
        );
        d.on_progress(DialProgress::Answered, None, SEES);
        assert_eq!(d.lost(SEES), (Outcome::Answered, None));
    }
}
