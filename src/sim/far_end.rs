//! The far end of a call a simulated device is asked to dial: answers
//! after a while, is busy, never answers, or the line has no dial tone —
//! as a test or the `sim` command says, or at random for the demo. What
//! the device says at each step comes from its profile's `[sim]`
//! templates (`dial_accepted`, `dial_alerting`, ...), so every profile
//! that dials is simulated in its own words.

use crate::devices::profile::SimTemplates;
use crate::event::DialProgress;
use rand::Rng;
use std::str::FromStr;
use std::time::Duration;

/// How the far end of a dialled call behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FarEnd {
    /// Rings, answers after `after`, and hangs up after `talk` (never, if
    /// `None`: the agent hangs up).
    Answer {
        after: Duration,
        talk: Option<Duration>,
    },
    /// Busy a moment after the dial.
    Busy,
    /// Rings until the dialler gives up (or says no answer itself after
    /// `after`, as some exchanges do).
    NoAnswer { after: Option<Duration> },
    /// The line is dead.
    NoDialTone,
    /// The device refuses the dial (a GSM modem's `+CME ERROR`).
    Fail,
    /// One of the above at random: mostly answered, sometimes busy or
    /// unanswered, rarely no dial tone.
    Random,
}

impl Default for FarEnd {
    fn default() -> Self {
        FarEnd::Answer {
            after: Duration::from_secs(3),
            talk: None,
        }
    }
}

/// A word the device says of the dialled call: the progress the host is
/// to read from it, or the far end hanging up after talking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FarStep {
    Progress(DialProgress),
    HungUp,
}

impl FromStr for FarEnd {
    type Err = String;

    /// `answer`, `answer:SECS`, `answer:SECS:TALK`, `busy`, `no-answer`,
    /// `no-dialtone`, `fail`, `random`.
    fn from_str(s: &str) -> Result<FarEnd, String> {
        let mut parts = s.split(':');
        let secs = |p: Option<&str>, default: f64| -> Result<f64, String> {
            match p {
                None => Ok(default),
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0 && *v < 86_400.0)
                    .ok_or_else(|| format!("{v:?} is not a number of seconds")),
            }
        };
        match parts.next().unwrap_or("") {
            "answer" => {
                let after = Duration::from_secs_f64(secs(parts.next(), 3.0)?);
                let talk = match parts.next() {
                    None => None,
                    Some(t) => Some(Duration::from_secs_f64(secs(Some(t), 0.0)?)),
                };
                Ok(FarEnd::Answer { after, talk })
            }
            "busy" => Ok(FarEnd::Busy),
            "no-answer" => Ok(FarEnd::NoAnswer { after: None }),
            "no-dialtone" => Ok(FarEnd::NoDialTone),
            "fail" => Ok(FarEnd::Fail),
            "random" => Ok(FarEnd::Random),
            other => Err(format!(
                "far end {other:?}: answer[:SECS[:TALK]], busy, no-answer, no-dialtone, fail or random"
            )),
        }
    }
}

/// The far end of a simulated device's dialled calls: how it behaves, and
/// what the host dialled and hung up, for tests to wait on.
#[derive(Debug)]
pub struct FarSide {
    far_end: std::sync::Mutex<FarEnd>,
    dialled: tokio::sync::watch::Sender<Vec<(u8, String)>>,
    hung_up: tokio::sync::watch::Sender<Vec<u8>>,
    /// When each dial command's line was read, for benchmarks.
    dial_times: std::sync::Mutex<Vec<std::time::Instant>>,
}

impl Default for FarSide {
    fn default() -> Self {
        FarSide {
            far_end: std::sync::Mutex::new(FarEnd::default()),
            dialled: tokio::sync::watch::channel(Vec::new()).0,
            hung_up: tokio::sync::watch::channel(Vec::new()).0,
            dial_times: Default::default(),
        }
    }
}

impl FarSide {
    /// How the far end of the next dialled calls behaves.
    pub fn set(&self, far_end: FarEnd) {
        if let Ok(mut f) = self.far_end.lock() {
            *f = far_end;
        }
    }

    /// The host dialled `number` on `port`: how the far end behaves.
    pub fn dial(&self, port: u8, number: &str) -> FarEnd {
        if let Ok(mut t) = self.dial_times.lock() {
            t.push(std::time::Instant::now());
        }
        self.dialled
            .send_modify(|d| d.push((port, number.to_string())));
        self.far_end.lock().map(|f| *f).unwrap_or_default()
    }

    /// When each dial command so far was read, in order.
    pub fn dial_times(&self) -> Vec<std::time::Instant> {
        self.dial_times
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }

    /// The host hung up `port`.
    pub fn hang_up(&self, port: u8) {
        self.hung_up.send_modify(|h| h.push(port));
    }

    /// Waits until the host has dialled `count` calls; all so far, as
    /// (port, digits).
    pub async fn dialled(&self, count: usize) -> Vec<(u8, String)> {
        let mut seen = self.dialled.subscribe();
        let got = seen.wait_for(|d| d.len() >= count).await;
        got.map(|d| d.clone()).unwrap_or_default()
    }

    /// Waits until the host has hung up `count` times; the ports.
    pub async fn hung_up(&self, count: usize) -> Vec<u8> {
        let mut seen = self.hung_up.subscribe();
        let got = seen.wait_for(|d| d.len() >= count).await;
        got.map(|d| d.clone()).unwrap_or_default()
    }
}

/// Plays `script` for a call dialled on `port` to `number`: each step's
/// lines, at its time, through `say`. Returns when done or when `say`
/// fails (the device was unplugged).
pub async fn play<F, Fut>(
    script: Vec<(Duration, FarStep)>,
    sim: SimTemplates,
    port: u8,
    number: String,
    mut say: F,
) where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = tokio::time::Instant::now();
    for (at, step) in script {
        tokio::time::sleep_until(t0 + at).await;
        let mut bytes = Vec::new();
        for l in lines(&sim, step, port, &number) {
            bytes.extend(format!("\r\n{l}\r\n").into_bytes());
        }
        if !bytes.is_empty() && !say(bytes).await {
            return;
        }
    }
}

/// How long after the dial the far end rings.
const ALERT_AFTER: Duration = Duration::from_millis(300);

impl FarEnd {
    /// What the device says, and when after the dial command; the first
    /// step (at once) is its reply to the command.
    pub fn script(self, rng: &mut impl Rng) -> Vec<(Duration, FarStep)> {
        let far = match self {
            FarEnd::Random => match rng.random_range(0..100) {
                0..70 => FarEnd::Answer {
                    after: Duration::from_millis(rng.random_range(1500..8000)),
                    talk: Some(Duration::from_secs(rng.random_range(15..90))),
                },
                70..82 => FarEnd::Busy,
                82..96 => FarEnd::NoAnswer {
                    after: Some(Duration::from_secs(30)),
                },
                _ => FarEnd::NoDialTone,
            },
            other => other,
        };
        let alerting = [
            (Duration::ZERO, FarStep::Progress(DialProgress::Accepted)),
            (ALERT_AFTER, FarStep::Progress(DialProgress::Alerting)),
        ];
        match far {
            FarEnd::Answer { after, talk } => {
                let mut s = alerting.to_vec();
                let answered = after.max(ALERT_AFTER);
                s.push((answered, FarStep::Progress(DialProgress::Answered)));
                if let Some(t) = talk {
                    s.push((answered + t, FarStep::HungUp));
                }
                s
            }
            FarEnd::Busy => vec![
                (Duration::ZERO, FarStep::Progress(DialProgress::Accepted)),
                (
                    Duration::from_millis(800),
                    FarStep::Progress(DialProgress::Busy),
                ),
            ],
            FarEnd::NoAnswer { after } => {
                let mut s = alerting.to_vec();
                if let Some(a) = after {
                    s.push((a, FarStep::Progress(DialProgress::NoAnswer)));
                }
                s
            }
            FarEnd::NoDialTone => {
                vec![(Duration::ZERO, FarStep::Progress(DialProgress::NoDialTone))]
            }
            FarEnd::Fail => vec![(Duration::ZERO, FarStep::Progress(DialProgress::Failed))],
            FarEnd::Random => unreachable!("chosen above"),
        }
    }
}

/// The lines a device says for `step`, from its templates (`{line}`,
/// `{number}` filled in). A step the device does not say is no lines.
pub fn lines(sim: &SimTemplates, step: FarStep, port: u8, number: &str) -> Vec<String> {
    let templates = match step {
        FarStep::Progress(DialProgress::Accepted) => &sim.dial_accepted,
        FarStep::Progress(DialProgress::Alerting) => &sim.dial_alerting,
        FarStep::Progress(DialProgress::Answered) => &sim.dial_answered,
        FarStep::Progress(DialProgress::Busy) => &sim.dial_busy,
        FarStep::Progress(DialProgress::NoAnswer) => &sim.dial_no_answer,
        FarStep::Progress(DialProgress::NoDialTone) => &sim.dial_no_dialtone,
        FarStep::Progress(DialProgress::Failed) => &sim.dial_failed,
        FarStep::HungUp => &sim.dial_far_hangup,
    };
    templates
        .iter()
        .map(|t| {
            t.replace("{line}", &port.to_string())
                .replace("{number}", number)
        })
        .collect()
}

/// A profile's dial (or hang-up) command template as a pattern over what
/// the host writes: `{number}` and `{line}` become groups.
pub fn command_pattern(template: &str) -> regex::Regex {
    let mut pattern = String::from("^");
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        pattern.push_str(&regex::escape(&rest[..start]));
        let after = &rest[start..];
        if let Some(r) = after.strip_prefix("{number}") {
            pattern.push_str("(?P<number>[0-9*#+,]+)");
            rest = r;
        } else if let Some(r) = after.strip_prefix("{line}") {
            pattern.push_str("(?P<line>[0-9]+)");
            rest = r;
        } else {
            pattern.push_str(&regex::escape("{"));
            rest = &after[1..];
        }
    }
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    regex::RegexBuilder::new(&pattern)
        .case_insensitive(true)
        .build()
        .expect("escaped text and known groups")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn far_ends_read_from_the_command_line() {
        assert_eq!(
            "answer:2:10".parse(),
            Ok(FarEnd::Answer {
                after: Duration::from_secs(2),
                talk: Some(Duration::from_secs(10))
            })
        );
        assert_eq!("busy".parse(), Ok(FarEnd::Busy));
        assert!("answer:soon".parse::<FarEnd>().is_err());
        assert!("hello".parse::<FarEnd>().is_err());
    }

    #[test]
    fn every_script_starts_with_the_reply_to_the_command() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..200 {
            let s = FarEnd::Random.script(&mut rng);
            assert_eq!(s[0].0, Duration::ZERO);
            assert!(s.windows(2).all(|w| w[0].0 <= w[1].0), "{s:?}");
        }
    }

    #[test]
    fn command_templates_match_what_the_host_writes() {
        let p = command_pattern("${line},DIAL,{number}");
        let c = p.captures("$2,DIAL,013912345678").unwrap();
        assert_eq!((&c["line"], &c["number"]), ("2", "013912345678"));
        assert!(p.captures("$2,DIAL,").is_none());
        let p = command_pattern("ATDT{number};");
        assert_eq!(&p.captures("atdt95588;").unwrap()["number"], "95588");
        assert!(p.captures("ATDT95588").is_none());
    }
}
