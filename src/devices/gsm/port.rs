//! An AT conversation over a serial port: the pure [`AtSession`] plus the
//! port's bytes and the clock. Commands time out as the profile says,
//! "not yet" errors (SIM busy, still starting) are retried, and unsolicited
//! codes are kept for the caller. The modem driver and `callpop modem
//! probe` both talk through it.

use super::at::{AtError, AtEvent, AtSession, Urc};
use crate::devices::profile::LoadedProfile;
use crate::devices::serial::open_port;
use serde::Serialize;
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

/// A modem's port and its AT session.
pub struct AtPort {
    port: tokio_serial::SerialStream,
    session: AtSession,
    profile: Arc<LoadedProfile>,
    /// Unsolicited codes seen while commands ran, oldest first.
    pub urcs: Vec<Urc>,
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
            urcs: Vec::new(),
        })
    }

    /// Runs one command: its response lines, retrying the profile's "not
    /// yet" codes after a pause.
    pub async fn command(&mut self, command: &str) -> Result<Vec<String>, CommandError> {
        let gsm = self.profile.profile.gsm.clone();
        let mut tries = 0;
        loop {
            match self.once(command, gsm.command_timeout_ms).await {
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
        let bytes = self
            .session
            .start_until(command, done)
            .ok_or_else(|| CommandError::Io("a command is already in flight".into()))?;
        self.port
            .write_all(&bytes)
            .await
            .map_err(|e| CommandError::Io(e.to_string()))?;
        let timeout = Duration::from_millis(timeout_ms);
        let mut buf = [0u8; 512];
        let answer = tokio::time::timeout(timeout, async {
            loop {
                let n = self
                    .port
                    .read(&mut buf)
                    .await
                    .map_err(|e| CommandError::Io(e.to_string()))?;
                if n == 0 {
                    return Err(CommandError::Io("the port closed".into()));
                }
                for event in self.session.feed(&buf[..n]) {
                    match event {
                        AtEvent::Urc(u) => self.urcs.push(u),
                        AtEvent::Prompt => {}
                        AtEvent::Done { command, result } => {
                            return result.map_err(|error| CommandError::Refused { command, error })
                        }
                    }
                }
            }
        })
        .await;
        match answer {
            Ok(result) => result,
            Err(_) => {
                self.session.abandon();
                Err(CommandError::Timeout {
                    command: command.to_string(),
                    timeout_ms,
                })
            }
        }
    }

    /// Runs the profile's init sequence (fallbacks, optional steps).
    pub async fn init(&mut self) -> Result<(), CommandError> {
        let steps = self.profile.profile.init.clone();
        for step in steps {
            let mut last = None;
            for cmd in std::iter::once(&step.send).chain(&step.fallbacks) {
                match self.command(cmd).await {
                    Ok(lines)
                        if step.expect == "OK"
                            || lines.iter().any(|l| l.contains(&step.expect)) =>
                    {
                        last = None;
                        break;
                    }
                    Ok(lines) => {
                        last = Some(CommandError::Io(format!(
                            "{cmd}: expected {:?}, got {lines:?}",
                            step.expect
                        )))
                    }
                    Err(e) => last = Some(e),
                }
            }
            if let Some(e) = last.filter(|_| !step.optional) {
                return Err(e);
            }
        }
        Ok(())
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
    let sim = after(one("AT+CPIN?").await, "+CPIN:");
    let operator = one("AT+COPS?")
        .await
        .and_then(|l| l.split('"').nth(1).map(str::to_string));
    let registration = one("AT+CREG?").await.and_then(|l| {
        let stat = l
            .strip_prefix("+CREG:")?
            .split(',')
            .nth(1)?
            .trim()
            .to_string();
        Some(
            match stat.as_str() {
                "0" => "not registered",
                "1" => "registered (home)",
                "2" => "searching",
                "3" => "registration denied",
                "5" => "registered (roaming)",
                _ => "unknown",
            }
            .to_string(),
        )
    });
    let signal_dbm = one("AT+CSQ").await.and_then(|l| {
        let rssi: i32 = l
            .strip_prefix("+CSQ:")?
            .split(',')
            .next()?
            .trim()
            .parse()
            .ok()?;
        (rssi <= 31).then_some(-113 + 2 * rssi)
    });
    let smsc = one("AT+CSCA?")
        .await
        .and_then(|l| l.split('"').nth(1).map(str::to_string));
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
