//! Serial device drivers. A driver owns one port, named by a stable path
//! (`/dev/serial/by-id/...` or a udev symlink, never `/dev/ttyUSBn`), runs
//! the profile's init sequence, feeds bytes to the device parser, and sends
//! line events to the call engine. When the port vanishes it says so,
//! retries with backoff and re-initialises the device when it returns; it
//! never gives up and never takes the daemon down with it.

use super::init::{judge, InitRun, Next, Verdict};
use super::phonebox::{BoxParser, Diagnostic, Parsed};
use super::profile::{FlowControl, Framing, InitStep, LoadedProfile, Parity, SerialSettings};
use crate::event::{Backlog, DeviceState, LineEvent, LineEventKind};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_serial::{SerialPortBuilderExt, SerialStream};

/// Opens a port with a profile's settings.
pub fn open_port(path: &std::path::Path, s: &SerialSettings) -> tokio_serial::Result<SerialStream> {
    let builder = tokio_serial::new(path.to_string_lossy(), s.baud)
        .data_bits(match s.data_bits {
            5 => tokio_serial::DataBits::Five,
            6 => tokio_serial::DataBits::Six,
            7 => tokio_serial::DataBits::Seven,
            _ => tokio_serial::DataBits::Eight,
        })
        .parity(match s.parity {
            Parity::None => tokio_serial::Parity::None,
            Parity::Odd => tokio_serial::Parity::Odd,
            Parity::Even => tokio_serial::Parity::Even,
        })
        .stop_bits(match s.stop_bits {
            2 => tokio_serial::StopBits::Two,
            _ => tokio_serial::StopBits::One,
        })
        .flow_control(match s.flow_control {
            FlowControl::None => tokio_serial::FlowControl::None,
            FlowControl::Hardware => tokio_serial::FlowControl::Hardware,
            FlowControl::Software => tokio_serial::FlowControl::Software,
        });
    // Opened exclusive (the default): another program holding the port
    // would steal its bytes.
    let port = builder.open_native_async()?;
    Ok(port)
}

/// How a device's port is found; both survive a replug, unlike `/dev/ttyUSBn`.
#[derive(Debug, Clone, PartialEq)]
pub enum PortLocator {
    /// A stable path: `/dev/serial/by-id/...` or a udev symlink.
    Path(PathBuf),
    /// A USB serial number, looked up among the ports at every open.
    UsbSerial(String),
    /// An audio box has no serial port: its sound card (or a file) is how
    /// it is reached.
    Audio {
        source: crate::devices::audio::SourceSpec,
        /// Where the box publishes what it hears, for the recorder.
        taps: crate::devices::audio::Taps,
        /// The exchange's call-progress tones, which tell the call's course.
        tones: Vec<crate::dsp::tones::ToneSpec>,
    },
}

impl PortLocator {
    /// The port to open now, or why there is none.
    pub fn resolve(&self) -> Result<PathBuf, String> {
        match self {
            PortLocator::Path(p) => Ok(p.clone()),
            PortLocator::UsbSerial(serial) => {
                let ports = tokio_serial::available_ports().map_err(|e| e.to_string())?;
                find_by_serial(&ports, serial)
                    .ok_or_else(|| format!("no USB serial port with serial number {serial:?}"))
            }
            PortLocator::Audio { .. } => Err("an audio box has no serial port".into()),
        }
    }
}

/// What the system says of a port's USB side (nothing for other ports).
pub fn usb_info(port_type: &tokio_serial::SerialPortType) -> crate::devices::profile::UsbInfo {
    match port_type {
        tokio_serial::SerialPortType::UsbPort(u) => crate::devices::profile::UsbInfo {
            id: Some(crate::devices::profile::UsbId {
                vendor: u.vid,
                product: u.pid,
            }),
            serial_number: u.serial_number.clone(),
            manufacturer: u.manufacturer.clone(),
            product: u.product.clone(),
        },
        _ => Default::default(),
    }
}

/// How often a vanished port's path is looked for: a replugged box is
/// open again within this long of its path reappearing.
pub const PRESENCE_POLL: Duration = Duration::from_millis(20);

impl PortLocator {
    /// If the port's path is missing (unplugged), waits for it to appear
    /// (a stat every [`PRESENCE_POLL`]) and returns true; false at once if
    /// it is there (the open failed for another reason: back off).
    pub async fn wait_until_present<T>(&self, events: &mpsc::Sender<T>) -> bool {
        let PortLocator::Path(path) = self else {
            return false;
        };
        if path.exists() {
            return false;
        }
        while !path.exists() {
            if events.is_closed() {
                return false;
            }
            tokio::time::sleep(PRESENCE_POLL).await;
        }
        true
    }
}

impl std::fmt::Display for PortLocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortLocator::Path(p) => write!(f, "{}", p.display()),
            PortLocator::UsbSerial(s) => write!(f, "usb serial {s}"),
            PortLocator::Audio { source, .. } => write!(f, "audio {source}"),
        }
    }
}

/// The port of the USB device with this serial number.
pub fn find_by_serial(ports: &[tokio_serial::SerialPortInfo], serial: &str) -> Option<PathBuf> {
    ports.iter().find_map(|p| match &p.port_type {
        tokio_serial::SerialPortType::UsbPort(u) if u.serial_number.as_deref() == Some(serial) => {
            Some(PathBuf::from(&p.port_name))
        }
        _ => None,
    })
}

/// A line's name: `<device>/<port>`, port from 1 (an audio box has one).
pub fn line_name(device: &str, port: u8) -> String {
    format!("{device}/{port}")
}

/// A configured box: its name, its port, its profile and its lines' names.
#[derive(Clone)]
pub struct BoxDevice {
    pub name: Arc<str>,
    pub port: PortLocator,
    pub profile: Arc<LoadedProfile>,
    /// Line names by port (index 0 is port 1).
    pub lines: Vec<Arc<str>>,
    /// An admin's request to reopen the port.
    pub restart: crate::devices::restart::Restart,
}

impl BoxDevice {
    /// A device whose lines are named `<name>/<port>`.
    pub fn new(name: &str, path: PathBuf, profile: Arc<LoadedProfile>) -> BoxDevice {
        Self::located(name, PortLocator::Path(path), profile)
    }

    /// A device found by `port`.
    pub fn located(name: &str, port: PortLocator, profile: Arc<LoadedProfile>) -> BoxDevice {
        let lines = (1..=profile.profile.quirks.lines)
            .map(|p| Arc::<str>::from(line_name(name, p)))
            .collect();
        BoxDevice {
            name: name.into(),
            port,
            profile,
            lines,
            restart: Default::default(),
        }
    }
}

/// Backoff between reopen attempts: quick at first (a replug takes a
/// second), then at most every 5 s.
pub const BACKOFF: [u64; 6] = [100, 250, 500, 1000, 2000, 5000];

/// What waited in a port when it opened is read at once: the first silence
/// this long after the open ends the backlog (what comes later is live).
pub const BACKLOG_QUIET: Duration = Duration::from_millis(50);

/// However busy the port, bytes read this long after the device came up
/// are live.
pub const BACKLOG_MAX: Duration = Duration::from_secs(1);

/// Runs a device forever (until `events` is closed). `commands` brings
/// what its lines must do (dial, hang up) when it can dial.
pub async fn run_box(
    device: BoxDevice,
    events: mpsc::Sender<LineEvent>,
    mut commands: Option<Commands>,
) {
    let mut attempt = 0usize;
    let mut reported_down = false;
    // When this process last read the device: bytes waiting at the next
    // open were sent after it (unknown at start).
    let mut heard_ms: Option<i64> = None;
    loop {
        if events.is_closed() {
            return;
        }
        let opened = device.port.resolve().and_then(|path| {
            open_port(&path, &device.profile.profile.serial).map_err(|e| e.to_string())
        });
        let port = match opened {
            Ok(p) => p,
            Err(e) => {
                if !reported_down {
                    tracing::warn!(device = %device.name, port = %device.port, error = %e, "device not available; retrying");
                    send_state(&device, &events, DeviceState::Down { reason: e }).await;
                    reported_down = true;
                }
                if device.port.wait_until_present(&events).await {
                    // Plugged back in: open it at once, no backoff.
                    attempt = 0;
                    continue;
                }
                let wait = BACKOFF[attempt.min(BACKOFF.len() - 1)];
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(wait)).await;
                continue;
            }
        };
        attempt = 0;
        let served = tokio::select! {
            served = serve(&device, port, &events, heard_ms, commands.as_mut()) => served,
            () = device.restart.requested() => Err(crate::devices::restart::RESTARTED.to_string()),
        };
        match served {
            Ok(()) => return,
            Err(reason) => {
                // It was read until it failed.
                heard_ms = Some(crate::store::now_ms());
                tracing::warn!(device = %device.name, %reason, "device lost; retrying");
                send_state(&device, &events, DeviceState::Down { reason }).await;
                reported_down = true;
            }
        }
    }
}

async fn send_state(device: &BoxDevice, events: &mpsc::Sender<LineEvent>, state: DeviceState) {
    let _ = events
        .send(LineEvent {
            line: device.lines[0].clone(),
            device: device.name.clone(),
            at_ms: crate::store::now_ms(),
            at: Instant::now(),
            kind: LineEventKind::Device(state),
            backlog: None,
        })
        .await;
}

/// Initialises the device, then reads until the port fails (the error says
/// why) or the engine is gone (`Ok`). What waited in the port when it
/// opened (sent after `heard_ms`, if this process heard the device before)
/// goes out marked as a backlog, so the engine can date its calls by what
/// their caller IDs told.
async fn serve(
    device: &BoxDevice,
    mut port: SerialStream,
    events: &mpsc::Sender<LineEvent>,
    heard_ms: Option<i64>,
    mut commands: Option<&mut Commands>,
) -> Result<(), String> {
    // Commands that waited while the port was closed are stale: their
    // calls ended when the device went down.
    if let Some(rx) = commands.as_mut() {
        while rx.try_recv().is_ok() {}
    }
    let mut parser = BoxParser::new(device.profile.clone());
    let mut buf = [0u8; 1024];
    let mut pending = Vec::new();
    let errors = &device.profile.profile.quirks.error_replies;
    let mut run = InitRun::new(&device.profile.profile.init);
    loop {
        match run.next() {
            Next::Send {
                command,
                step,
                timeout,
            } => run.answered(
                init_step(&mut port, command, step, timeout, errors, &mut pending).await?,
            ),
            Next::Done => break,
            Next::Failed(why) => return Err(why),
        }
    }
    tracing::info!(device = %device.name, profile = %device.profile.profile.name, "device ready");
    send_state(device, events, DeviceState::Up).await;
    let frame_gap = match device.profile.profile.framing {
        Framing::CidFrames { frame_gap_ms, .. } => Some(Duration::from_millis(frame_gap_ms)),
        Framing::Lines { .. } => None,
    };
    let name_wait = Duration::from_millis(device.profile.profile.quirks.name_wait_ms);
    let mut out = Vec::new();
    // Bytes that arrived during init belong to the stream (and waited in
    // the port, or came with the replies).
    parser.push(&pending, &mut out);
    let mut backlog = Some(Backlog { since_ms: heard_ms });
    let backlog_until = Instant::now() + BACKLOG_MAX;
    loop {
        if !deliver(device, &mut out, events, backlog).await {
            return Ok(());
        }
        if backlog.is_some() && Instant::now() >= backlog_until {
            backlog = None;
        }
        // A number held for its name waits a moment for it; a frame cut
        // off by a glitch is forgotten after a silence.
        let profile_wait = if parser.holds_caller_id() {
            Some(name_wait)
        } else {
            frame_gap
        };
        // The first silence after the open ends the backlog.
        let backlog_ends = backlog.is_some() && profile_wait.is_none_or(|w| w > BACKLOG_QUIET);
        let wait = if backlog_ends {
            Some(BACKLOG_QUIET)
        } else {
            profile_wait
        };
        let reading = async {
            match wait {
                Some(wait) => tokio::time::timeout(wait, port.read(&mut buf)).await.ok(),
                None => Some(port.read(&mut buf).await),
            }
        };
        let got = tokio::select! {
            read = reading => read,
            Some((line, command)) = next_command(&mut commands) => {
                send_command(device, &mut port, &line, &command).await?;
                continue;
            }
        };
        let read = match got {
            Some(r) => r,
            None if backlog_ends => {
                backlog = None;
                continue;
            }
            None => {
                parser.flush(&mut out);
                parser.reset_frames();
                continue;
            }
        };
        match read {
            Ok(n) if n > 0 => parser.push(&buf[..n], &mut out),
            lost => {
                // What was complete before the port went still counts.
                parser.flush(&mut out);
                deliver(device, &mut out, events, backlog).await;
                return Err(match lost {
                    Err(e) => e.to_string(),
                    Ok(_) => "port closed".into(),
                });
            }
        }
    }
}

/// The next command for the device, or never when it takes none.
async fn next_command(
    commands: &mut Option<&mut Commands>,
) -> Option<(Arc<str>, crate::calls::LineCommand)> {
    match commands {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Writes a line's command (its profile's dial or hang-up) to the port.
async fn send_command(
    device: &BoxDevice,
    port: &mut SerialStream,
    line: &str,
    command: &crate::calls::LineCommand,
) -> Result<(), String> {
    let Some(dialer) = device.profile.dialer.as_ref() else {
        return Ok(());
    };
    let Some(index) = device.lines.iter().position(|l| &**l == line) else {
        tracing::warn!(device = %device.name, line, "a command for a line the device does not have");
        return Ok(());
    };
    let port_no = (index + 1) as u8;
    let text = match command {
        crate::calls::LineCommand::Dial { digits } => dialer.dial_command(port_no, digits),
        crate::calls::LineCommand::HangUp => dialer.hangup_command(port_no),
    };
    tracing::info!(device = %device.name, line, command = %text, "to the device");
    port.write_all(format!("{text}\r").as_bytes())
        .await
        .map_err(|e| format!("writing {text}: {e}"))
}

/// Commands for a device's lines, from the engine.
pub type Commands = mpsc::Receiver<(Arc<str>, crate::calls::LineCommand)>;

/// Sends the parsed signals; false when the engine is gone.
async fn deliver(
    device: &BoxDevice,
    out: &mut Vec<Parsed>,
    events: &mpsc::Sender<LineEvent>,
    backlog: Option<Backlog>,
) -> bool {
    for item in out.drain(..) {
        match item {
            Parsed::Signal(port, signal) => {
                let line = device.lines[port as usize - 1].clone();
                let event = LineEvent {
                    line,
                    device: device.name.clone(),
                    at_ms: crate::store::now_ms(),
                    at: Instant::now(),
                    kind: LineEventKind::Signal(signal),
                    backlog,
                };
                if events.send(event).await.is_err() {
                    return false;
                }
            }
            Parsed::Diagnostic(d) => match d {
                Diagnostic::RejectedFrame(why) => {
                    tracing::warn!(device = %device.name, %why, "caller-ID frame rejected")
                }
                other => tracing::debug!(device = %device.name, ?other, "unrecognised input"),
            },
        }
    }
    true
}

/// Sends one init command and reads until a reply line meets the step's
/// `expect` or refuses it (see [`super::init`] for the one meaning), or
/// `timeout` passes. Bytes that are not the reply are kept for the parser.
/// The outer `Err` is a dead port; the inner one why the command failed.
async fn init_step(
    port: &mut SerialStream,
    command: &str,
    step: &InitStep,
    timeout: Duration,
    errors: &[String],
    pending: &mut Vec<u8>,
) -> Result<Result<(), String>, String> {
    let mut buf = [0u8; 256];
    port.write_all(format!("{command}\r").as_bytes())
        .await
        .map_err(|e| format!("writing {command}: {e}"))?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut reply = Vec::new();
    loop {
        let n = match tokio::time::timeout_at(deadline, port.read(&mut buf)).await {
            Err(_) => {
                pending.extend(reply);
                return Ok(Err(format!(
                    "{command}: no reply within {} ms",
                    timeout.as_millis()
                )));
            }
            Ok(Ok(0)) => return Err("port closed during init".into()),
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(e.to_string()),
        };
        reply.extend_from_slice(&buf[..n]);
        // Only whole lines are judged: a line still arriving may grow.
        let text = String::from_utf8_lossy(&reply);
        let whole = text.rfind(['\r', '\n']).map_or("", |end| &text[..end]);
        for line in whole.split(['\r', '\n']) {
            match judge(line, &step.expect, errors) {
                Verdict::Expected => {
                    // What came with the reply (a ring already) is the stream's.
                    pending
                        .extend(without_reply_line(&reply, step.expect.trim()).unwrap_or_default());
                    return Ok(Ok(()));
                }
                Verdict::Refused => {
                    let refused = format!("{command}: {}", line.trim());
                    pending.extend(reply);
                    return Ok(Err(refused));
                }
                Verdict::Other => {}
            }
        }
        if reply.len() > 4096 {
            pending.append(&mut reply);
        }
    }
}

/// The bytes of `reply` without its first whole line equal to `expect`
/// (trimmed), or `None` while no such line has arrived.
fn without_reply_line(reply: &[u8], expect: &str) -> Option<Vec<u8>> {
    let mut start = 0;
    for (i, &b) in reply.iter().enumerate() {
        if b == b'\r' || b == b'\n' {
            if String::from_utf8_lossy(&reply[start..i]).trim() == expect {
                let mut rest = reply[..start].to_vec();
                rest.extend_from_slice(&reply[i..]);
                return Some(rest);
            }
            start = i + 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_serial::{SerialPortInfo, SerialPortType, UsbPortInfo};

    #[test]
    fn what_arrives_with_the_init_reply_is_kept_for_the_parser() {
        let reply = b"\r\n$2,RING\r\n$OK\r\n$1,RING\r\n$1,CI";
        let rest = without_reply_line(reply, "$OK").unwrap();
        assert_eq!(rest, b"\r\n$2,RING\r\n\r\n$1,RING\r\n$1,CI");
        assert_eq!(
            without_reply_line(b"$O", "$OK"),
            None,
            "not a whole line yet"
        );
        assert_eq!(without_reply_line(b"$OKAY\r\n", "$OK"), None);
    }

    fn usb(name: &str, serial: Option<&str>) -> SerialPortInfo {
        SerialPortInfo {
            port_name: name.into(),
            port_type: SerialPortType::UsbPort(UsbPortInfo {
                vid: 0x1a86,
                pid: 0x7523,
                serial_number: serial.map(str::to_string),
                manufacturer: None,
                product: None,
            }),
        }
    }

    #[test]
    fn finds_the_port_by_usb_serial_whatever_its_tty_name() {
        let ports = vec![
            usb("/dev/ttyUSB0", Some("A1")),
            usb("/dev/ttyUSB1", Some("B2")),
            usb("/dev/ttyUSB2", None),
        ];
        assert_eq!(
            find_by_serial(&ports, "B2"),
            Some(PathBuf::from("/dev/ttyUSB1"))
        );
        // After a replug the same box may come back as another tty.
        let replugged = vec![usb("/dev/ttyUSB3", Some("B2"))];
        assert_eq!(
            find_by_serial(&replugged, "B2"),
            Some(PathBuf::from("/dev/ttyUSB3"))
        );
        assert_eq!(find_by_serial(&ports, "C3"), None);
    }
}
