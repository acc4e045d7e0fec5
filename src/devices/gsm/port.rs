//! An AT conversation over a serial port: the pure [`AtSession`] plus the
//! port's bytes and the clock. Commands time out as the profile says,
//! "not yet" errors (SIM busy, still starting) are retried, and unsolicited
//! codes are kept for the caller. The modem driver and `callpop modem
//! probe` both talk through it.

use super::at::{AtError, AtEvent, AtSession, ErrorClass, Urc};
use super::replies;
use crate::devices::init::{reply_meets, InitRun, Next};
use crate::devices::profile::LoadedProfile;
use crate::devices::serial::open_port;
use serde::Serialize;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why a command did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("{command}: {}", .error.explain().2)]
    Refused { command: String, error: AtError },
    #[error("{command}: no answer within {timeout_ms} ms")]
    Timeout { command: String, timeout_ms: u64 },
    #[error("the port failed: {0}")]
    Io(String),
}

/// Why a part was not (certainly) sent. The difference decides whether the
/// queue may try again: only a part that certainly did not leave may.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Refused or failed before the modem could have sent it.
    #[error("not sent: {0}")]
    NotSent(CommandError),
    /// The PDU went to the modem and its answer was lost: the network may
    /// or may not have the message.
    #[error("outcome unknown: {0}")]
    Unknown(CommandError),
}

/// How many `AT`s [`AtPort::resync`] sends before giving up.
const RESYNC_TRIES: usize = 5;
/// How long after the resynchronising `OK` an older answer may still
/// arrive: a real modem answers in a few ms; this only delays each open.
pub const RESYNC_QUIET: Duration = Duration::from_millis(100);

/// Ctrl-Z ends a PDU after the prompt; ESC abandons it.
const CTRL_Z: u8 = 0x1a;
const ESC: u8 = 0x1b;

impl CommandError {
    /// Whether trying again later may help (a port or a timeout may recover).
    pub fn class(&self) -> ErrorClass {
        match self {
            CommandError::Refused { error, .. } => error.explain().0,
            _ => ErrorClass::Transient,
        }
    }

    /// Whether the modem (or its SIM) is at fault, not the message.
    pub fn modem_fault(&self) -> bool {
        matches!(self, CommandError::Refused { error, .. } if error.modem_fault())
    }

    /// For people and the queue: the modem's words with their meaning in
    /// English and Chinese.
    pub fn reason(&self) -> String {
        match self {
            CommandError::Refused { command, error } => {
                let (_, zh, en) = error.explain();
                let said = match error {
                    AtError::Cme(n) => format!("+CME ERROR: {n}"),
                    AtError::Cms(n) => format!("+CMS ERROR: {n}"),
                    AtError::Error(s) | AtError::Call(s) => s.clone(),
                };
                format!("{command}: {said}: {en} ({zh})")
            }
            other => other.to_string(),
        }
    }
}

/// A modem's port and its AT session.
pub struct AtPort {
    port: tokio_serial::SerialStream,
    session: AtSession,
    profile: Arc<LoadedProfile>,
    /// Unsolicited codes seen while commands ran, oldest first.
    pub urcs: VecDeque<Urc>,
    /// Events read but not yet wanted (a prompt and its answer may arrive
    /// in one read).
    events: VecDeque<AtEvent>,
}

impl AtPort {
    /// Opens `path` with the profile's serial settings.
    pub fn open(path: &Path, profile: Arc<LoadedProfile>) -> Result<AtPort, CommandError> {
        let port = open_port(path, &profile.profile.serial)
            .map_err(|e| CommandError::Io(format!("{}: {e}", path.display())))?;
        Ok(AtPort {
            port,
            session: AtSession::new(
                profile.profile.quirks.error_replies.clone(),
                profile.profile.gsm.urc_prefixes.clone(),
            ),
            profile,
            urcs: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// Runs one command: its response lines, retrying the profile's "not
    /// yet" codes after a pause.
    pub async fn command(&mut self, command: &str) -> Result<Vec<String>, CommandError> {
        let timeout_ms = self.profile.profile.gsm.command_timeout_ms;
        self.command_within(command, timeout_ms).await
    }

    /// [`AtPort::command`] waiting up to `timeout_ms` for each try.
    pub async fn command_within(
        &mut self,
        command: &str,
        timeout_ms: u64,
    ) -> Result<Vec<String>, CommandError> {
        let gsm = self.profile.profile.gsm.clone();
        let mut tries = 0;
        loop {
            match self.once(command, timeout_ms).await {
                Err(CommandError::Refused {
                    error: AtError::Cme(c) | AtError::Cms(c),
                    ..
                }) if gsm.retry_codes.contains(&c) && tries < gsm.max_retries => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(gsm.retry_after_ms)).await;
                }
                other => return other,
            }
        }
    }

    async fn once(&mut self, command: &str, timeout_ms: u64) -> Result<Vec<String>, CommandError> {
        // Firmware that answers AT+CPIN? without OK: its answer ends it.
        let done = (self.profile.profile.gsm.cpin_without_ok
            && command.eq_ignore_ascii_case("AT+CPIN?"))
        .then_some("+CPIN:");
        self.drain().await?;
        let bytes = self
            .session
            .start_until(command, done)
            .ok_or_else(|| CommandError::Io("a command is already in flight".into()))?;
        self.write(&bytes).await?;
        match self.answer(command, timeout_ms, false).await? {
            AtEvent::Done { command, result } => {
                result.map_err(|error| CommandError::Refused { command, error })
            }
            _ => Err(CommandError::Io(format!("{command}: an unexpected prompt"))),
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), CommandError> {
        self.port
            .write_all(bytes)
            .await
            .map_err(|e| CommandError::Io(e.to_string()))
    }

    /// Reads until the command in flight completes (or, with `prompt`,
    /// shows the `> ` prompt); URCs on the way are kept. On timeout the
    /// command is abandoned.
    async fn answer(
        &mut self,
        command: &str,
        timeout_ms: u64,
        prompt: bool,
    ) -> Result<AtEvent, CommandError> {
        let timeout = Duration::from_millis(timeout_ms);
        let found = tokio::time::timeout(timeout, async {
            loop {
                while let Some(event) = self.events.pop_front() {
                    match event {
                        AtEvent::Urc(u) => self.urcs.push_back(u),
                        AtEvent::Prompt if !prompt => {}
                        other => return Ok(other),
                    }
                }
                self.read_events().await?;
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            self.session.abandon();
            Err(CommandError::Timeout {
                command: command.to_string(),
                timeout_ms,
            })
        })
    }

    /// Reads what already waits in the port, without waiting for more, and
    /// feeds it to the session while no command is in flight: a late answer
    /// to an abandoned command or stale bytes from before the port opened
    /// then cannot pass for the next command's answer, and the URCs among
    /// them (a delivery report) are kept.
    async fn drain(&mut self) -> Result<(), CommandError> {
        use tokio_serial::SerialPort;
        loop {
            let waiting = self
                .port
                .bytes_to_read()
                .map_err(|e| CommandError::Io(e.to_string()))?;
            if waiting == 0 {
                return Ok(());
            }
            self.read_events().await?;
        }
    }

    /// Brings the AT channel in step when the port opens: what waits in the
    /// port is read (its URCs kept, its stray answers dropped), then `AT`
    /// is sent until it answers `OK` and no older answer follows within
    /// [`RESYNC_QUIET`]. A modem left mid-PDU by the previous process gets
    /// ESC. Without this, one stale `OK` shifts every answer by one
    /// command.
    pub async fn resync(&mut self) -> Result<(), CommandError> {
        self.drain().await?;
        self.session.take_stray();
        let timeout_ms = self.profile.profile.gsm.command_timeout_ms;
        let mut last = None;
        for _ in 0..RESYNC_TRIES {
            match self.once("AT", timeout_ms).await {
                Ok(_) => {
                    if self.quiet(RESYNC_QUIET).await? {
                        return Ok(());
                    }
                }
                Err(e @ CommandError::Io(_)) => return Err(e),
                Err(e) => {
                    self.write(&[ESC]).await?;
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            CommandError::Io(format!(
                "the modem kept answering out of step after {RESYNC_TRIES} tries of AT"
            ))
        }))
    }

    /// Listens for `d` with no command in flight; `true` when no stray
    /// answer arrived (URCs are kept).
    async fn quiet(&mut self, d: Duration) -> Result<bool, CommandError> {
        let until = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(until, self.read_events()).await {
                Err(_) => return Ok(self.session.take_stray() == 0),
                Ok(r) => r?,
            }
        }
    }

    /// One read from the port into the event queue. Cancel-safe: bytes are
    /// fed to the session as soon as the read returns.
    async fn read_events(&mut self) -> Result<(), CommandError> {
        let mut buf = [0u8; 512];
        let n = self
            .port
            .read(&mut buf)
            .await
            .map_err(|e| CommandError::Io(e.to_string()))?;
        if n == 0 {
            return Err(CommandError::Io("the port closed".into()));
        }
        self.events.extend(self.session.feed(&buf[..n]));
        Ok(())
    }

    /// The next unsolicited code, waiting for the modem when none is kept.
    /// Cancel-safe, for use in `select!` between commands.
    pub async fn next_urc(&mut self) -> Result<Urc, CommandError> {
        loop {
            while let Some(event) = self.events.pop_front() {
                if let AtEvent::Urc(u) = event {
                    self.urcs.push_back(u);
                }
            }
            if let Some(u) = self.urcs.pop_front() {
                return Ok(u);
            }
            self.read_events().await?;
        }
    }

    /// Sends one PDU with `AT+CMGS`: the message reference (TP-MR) the
    /// modem gave it, or why not, saying whether it may have left anyway.
    pub async fn send_pdu(&mut self, hex: &str, tpdu_len: usize) -> Result<u8, SendError> {
        let gsm = self.profile.profile.gsm.clone();
        let command = format!("AT+CMGS={tpdu_len}");
        self.drain().await.map_err(SendError::NotSent)?;
        let bytes = self
            .session
            .start(&command)
            .ok_or_else(|| SendError::NotSent(CommandError::Io("a command is in flight".into())))?;
        self.write(&bytes).await.map_err(SendError::NotSent)?;
        match self.answer(&command, gsm.command_timeout_ms, true).await {
            Ok(AtEvent::Prompt) => {}
            Ok(AtEvent::Done {
                command,
                result: Err(error),
            }) => return Err(SendError::NotSent(CommandError::Refused { command, error })),
            Ok(_) => {
                return Err(SendError::NotSent(CommandError::Io(format!(
                    "{command}: answered without the > prompt"
                ))))
            }
            Err(e) => {
                // A late prompt must not swallow the next command.
                let _ = self.write(&[ESC]).await;
                return Err(SendError::NotSent(e));
            }
        }
        let mut pdu = Vec::with_capacity(hex.len() + 1);
        pdu.extend_from_slice(hex.as_bytes());
        pdu.push(CTRL_Z);
        self.write(&pdu).await.map_err(SendError::Unknown)?;
        match self.answer(&command, gsm.send_timeout_ms, false).await {
            Ok(AtEvent::Done {
                result: Ok(lines), ..
            }) => replies::cmgs_reference(&lines).ok_or_else(|| {
                SendError::Unknown(CommandError::Io(format!(
                    "{command}: OK without a message reference"
                )))
            }),
            Ok(AtEvent::Done {
                command,
                result: Err(error),
            }) => Err(SendError::NotSent(CommandError::Refused { command, error })),
            Ok(_) => Err(SendError::Unknown(CommandError::Io(format!(
                "{command}: a second prompt"
            )))),
            Err(e) => Err(SendError::Unknown(e)),
        }
    }

    /// Brings a modem that stopped answering back without power-cycling
    /// it: ESC leaves a half-entered PDU, `AT` must answer again, then the
    /// init sequence restores its settings. An error means the port must
    /// be reopened.
    pub async fn recover(&mut self) -> Result<(), CommandError> {
        self.session.abandon();
        self.write(&[ESC]).await?;
        let mut last = None;
        for _ in 0..3 {
            match self
                .once("AT", self.profile.profile.gsm.command_timeout_ms)
                .await
            {
                Ok(_) => {
                    last = None;
                    break;
                }
                Err(e @ CommandError::Io(_)) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
        self.init().await
    }

    /// Resynchronises the channel, then runs the profile's init sequence
    /// with the one runner every driver uses ([`crate::devices::init`]:
    /// fallbacks, optional steps, `expect` as a whole reply line). A step
    /// waits its `timeout_ms` or the profile's command timeout, whichever is
    /// longer, with the "not yet" codes retried.
    pub async fn init(&mut self) -> Result<(), CommandError> {
        self.resync().await?;
        let profile = self.profile.clone();
        let errors = &profile.profile.quirks.error_replies;
        let mut run = InitRun::new(&profile.profile.init);
        let mut last = None;
        loop {
            let (command, step, timeout) = match run.next() {
                Next::Done => return Ok(()),
                Next::Failed(why) => {
                    return Err(last.unwrap_or(CommandError::Io(why)));
                }
                Next::Send {
                    command,
                    step,
                    timeout,
                } => (command, step, timeout),
            };
            let timeout_ms =
                (timeout.as_millis() as u64).max(profile.profile.gsm.command_timeout_ms);
            let outcome = match self.command_within(command, timeout_ms).await {
                Ok(mut lines) => {
                    // The session consumed the final OK; it is a reply line too.
                    lines.push("OK".into());
                    if reply_meets(&lines, &step.expect, errors) {
                        Ok(())
                    } else {
                        lines.pop();
                        let e = CommandError::Io(format!(
                            "{command}: expected {:?}, got {lines:?}",
                            step.expect
                        ));
                        Err(e)
                    }
                }
                Err(e @ CommandError::Io(_)) => return Err(e),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) => {
                    last = None;
                    run.answered(Ok(()));
                }
                Err(e) => {
                    run.answered(Err(e.reason()));
                    last = Some(e);
                }
            }
        }
    }
}

/// What `callpop modem probe` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModemInfo {
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub imei: Option<String>,
    pub imsi: Option<String>,
    pub sim: Option<String>,
    pub operator: Option<String>,
    /// `+CREG` status: registered home/roaming, searching, denied...
    pub registration: Option<String>,
    /// Received signal in dBm (from `+CSQ`), `None` when unknown.
    pub signal_dbm: Option<i32>,
    pub smsc: Option<String>,
}

/// Asks the modem who it is and how it is; a command it refuses leaves its
/// field empty rather than failing the probe.
pub async fn probe(port: &mut AtPort) -> Result<ModemInfo, CommandError> {
    port.command("AT").await?;
    let _ = port.command("ATE0").await;
    let _ = port.command("AT+CMEE=1").await;
    let mut one = async |cmd: &str| -> Option<String> {
        port.command(cmd)
            .await
            .ok()?
            .into_iter()
            .find(|l| !l.is_empty())
    };
    let after = |l: Option<String>, prefix: &str| {
        l.map(|l| {
            l.strip_prefix(prefix)
                .map(|r| r.trim().to_string())
                .unwrap_or(l)
        })
    };
    let manufacturer = one("AT+CGMI").await;
    let model = one("AT+CGMM").await;
    let firmware = after(one("AT+CGMR").await, "Revision:");
    let imei = one("AT+CGSN").await;
    let imsi = one("AT+CIMI").await;
    let sim = one("AT+CPIN?").await.and_then(|l| replies::cpin(&l));
    let operator = one("AT+COPS?")
        .await
        .and_then(|l| replies::cops_operator(&l));
    let registration = one("AT+CREG?")
        .await
        .and_then(|l| replies::creg(&l))
        .map(|r| r.describe().to_string());
    let signal_dbm = one("AT+CSQ")
        .await
        .and_then(|l| replies::csq(&l))
        .and_then(|s| s.dbm());
    let smsc = one("AT+CSCA?").await.and_then(|l| replies::csca(&l));
    Ok(ModemInfo {
        manufacturer,
        model,
        firmware,
        imei,
        imsi,
        sim,
        operator,
        registration,
        signal_dbm,
        smsc,
    })
}
