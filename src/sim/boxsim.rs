//! A simulated caller-ID box or voice modem on a pseudo-terminal. It speaks
//! its profile's protocol from the profile's own `[sim]` templates (or, for
//! FSK modules, caller-ID frames and status bytes), answers the init
//! sequence, and can vanish and come back like an unplugged USB device.

use super::far_end::{self, FarSide};
use super::script::Action;
use crate::devices::profile::{Framing, LoadedProfile};
use crate::dsp::cid::{encode, Absence, CallerIdMessage, CidDateTime, MessageFormat, SEIZURE};
use chrono::{Datelike, Timelike};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bytes to write, and who wants to know when they were written.
type Outgoing = (
    Vec<u8>,
    Option<tokio::sync::oneshot::Sender<std::time::Instant>>,
);

/// A running simulated device, reachable at its link path.
pub struct BoxSim {
    profile: Arc<LoadedProfile>,
    link: PathBuf,
    out: Option<mpsc::Sender<Outgoing>>,
    tasks: Vec<JoinHandle<()>>,
    rng: rand::rngs::StdRng,
    /// Commands answered with an error reply, as firmware that lacks them would.
    refused: Vec<String>,
    /// Whether the host has sent a command since the device was plugged in.
    host: tokio::sync::watch::Sender<bool>,
    /// How the far end of a dialled call behaves, and what was dialled.
    far: Arc<FarSide>,
}

impl BoxSim {
    /// Creates the pseudo-terminal and points `link` at it.
    pub fn start(profile: Arc<LoadedProfile>, link: &Path) -> std::io::Result<BoxSim> {
        Self::start_refusing(profile, link, &[])
    }

    /// Like `start`, but the device refuses `commands` (to exercise init
    /// fallbacks and failures).
    pub fn start_refusing(
        profile: Arc<LoadedProfile>,
        link: &Path,
        commands: &[&str],
    ) -> std::io::Result<BoxSim> {
        let mut sim = BoxSim {
            profile,
            link: link.to_path_buf(),
            out: None,
            tasks: Vec::new(),
            rng: rand::rngs::StdRng::seed_from_u64(11),
            refused: commands.iter().map(|c| c.to_string()).collect(),
            host: tokio::sync::watch::channel(false).0,
            far: Arc::new(FarSide::default()),
        };
        sim.plug()?;
        Ok(sim)
    }

    /// The path a driver opens.
    pub fn link(&self) -> &Path {
        &self.link
    }

    /// The far end of the calls the box dials: set how it behaves, wait
    /// for dials and hang-ups.
    pub fn far(&self) -> &FarSide {
        &self.far
    }

    /// Pulls the box out (what it already sent reaches the wire first);
    /// [`Self::plug_in`] puts it back. A test waits for the daemon to see
    /// it gone between the two, rather than for a fixed time.
    pub async fn pull_out(&mut self) {
        self.unplug_gracefully().await;
    }

    /// Plugs the box back in: a new pseudo-terminal behind the same link.
    pub fn plug_in(&mut self) -> std::io::Result<()> {
        self.plug()
    }

    fn plug(&mut self) -> std::io::Result<()> {
        let (master, slave) = tokio_serial::SerialStream::pair().map_err(std::io::Error::other)?;
        let slave_path = tokio_serial::SerialPort::name(&slave)
            .ok_or_else(|| std::io::Error::other("pseudo-terminal without a name"))?;
        let _ = std::fs::remove_file(&self.link);
        std::os::unix::fs::symlink(&slave_path, &self.link)?;
        let (mut reader, mut writer) = tokio::io::split(master);
        let (tx, mut rx) = mpsc::channel::<Outgoing>(256);
        self.tasks.push(tokio::spawn(async move {
            // The slave stays open here until unplugged, so the master does
            // not see a hang-up before the driver opens it.
            let _slave = slave;
            while let Some((bytes, written)) = rx.recv().await {
                if writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err() {
                    break;
                }
                if let Some(w) = written {
                    let _ = w.send(std::time::Instant::now());
                }
            }
            // Unplugged: a real device's bytes have crossed the bus before
            // the plug is out, but a pseudo-terminal drops unread input when
            // it hangs up, so give the reader a moment before closing.
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        }));
        // Answer every command of the init sequence with its expected reply.
        let replies: Vec<(Vec<String>, String)> = self
            .profile
            .profile
            .init
            .iter()
            .map(|s| {
                let mut cmds = vec![s.send.clone()];
                cmds.extend(s.fallbacks.iter().cloned());
                (cmds, s.expect.clone())
            })
            .collect();
        let refused = self.refused.clone();
        let error = self
            .profile
            .profile
            .quirks
            .error_replies
            .first()
            .cloned()
            .unwrap_or_else(|| "ERROR".into());
        let answer = tx.clone();
        self.host.send_replace(false);
        let host = self.host.clone();
        let far = self.far.clone();
        let sim_templates = self.profile.profile.sim.clone();
        let dial = self.profile.dialer.as_ref().map(|d| {
            (
                far_end::command_pattern(&d.settings.command),
                far_end::command_pattern(&d.settings.hangup),
            )
        });
        let mut calls: std::collections::HashMap<u8, JoinHandle<()>> = Default::default();
        let mut rng = rand::rngs::StdRng::from_os_rng();
        self.tasks.push(tokio::spawn(async move {
            let mut buf = [0u8; 256];
            let mut line = Vec::new();
            while let Ok(n) = reader.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                for &b in &buf[..n] {
                    if b == b'\r' || b == b'\n' {
                        let cmd = String::from_utf8_lossy(&line).trim().to_string();
                        line.clear();
                        if cmd.is_empty() {
                            continue;
                        }
                        if let Some((dial, hangup)) = &dial {
                            if let Some(c) = dial.captures(&cmd) {
                                let port = c
                                    .name("line")
                                    .and_then(|p| p.as_str().parse().ok())
                                    .unwrap_or(1);
                                let number = c["number"].to_string();
                                let script = far.dial(port, &number).script(&mut rng);
                                let out = answer.clone();
                                let say = move |bytes: Vec<u8>| {
                                    let out = out.clone();
                                    async move { out.send((bytes, None)).await.is_ok() }
                                };
                                let play =
                                    far_end::play(script, sim_templates.clone(), port, number, say);
                                if let Some(old) = calls.insert(port, tokio::spawn(play)) {
                                    old.abort();
                                }
                                continue;
                            }
                            if let Some(c) = hangup.captures(&cmd) {
                                let port = c
                                    .name("line")
                                    .and_then(|p| p.as_str().parse().ok())
                                    .unwrap_or(1);
                                if let Some(call) = calls.remove(&port) {
                                    call.abort();
                                }
                                far.hang_up(port);
                                let mut bytes = Vec::new();
                                for t in &sim_templates.hung_up {
                                    let l = t.replace("{line}", &port.to_string());
                                    bytes.extend(format!("\r\n{l}\r\n").into_bytes());
                                }
                                if !bytes.is_empty() {
                                    let _ = answer.send((bytes, None)).await;
                                }
                                continue;
                            }
                        }
                        let reply = replies
                            .iter()
                            .find(|(cmds, _)| cmds.contains(&cmd) && !refused.contains(&cmd))
                            .map(|(_, expect)| expect.clone())
                            .unwrap_or_else(|| error.clone());
                        let _ = answer
                            .send((format!("\r\n{reply}\r\n").into_bytes(), None))
                            .await;
                        host.send_replace(true);
                    } else if line.len() < 256 {
                        line.push(b);
                    }
                }
            }
        }));
        self.out = Some(tx);
        Ok(())
    }

    /// Pulls the plug: what was already sent still reaches the wire first,
    /// as with a real device, then both ends of the terminal close.
    async fn unplug_gracefully(&mut self) {
        let mut tasks = std::mem::take(&mut self.tasks);
        // The init responder holds a sender too; stop it so the channel closes.
        if let Some(responder) = tasks.pop() {
            responder.abort();
        }
        self.out = None;
        for t in tasks {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), t).await;
        }
        self.unplug();
    }

    fn unplug(&mut self) {
        self.out = None;
        for t in self.tasks.drain(..) {
            t.abort();
        }
        let _ = std::fs::remove_file(&self.link);
    }

    async fn send(&self, bytes: Vec<u8>) -> Option<std::time::Instant> {
        let out = self.out.as_ref()?;
        let (written, when) = tokio::sync::oneshot::channel();
        out.send((bytes, Some(written))).await.ok()?;
        when.await.ok()
    }

    fn lines(
        &self,
        templates: &[String],
        port: u8,
        number: &str,
        name: &str,
        digits: &str,
    ) -> Vec<u8> {
        let now = chrono::Local::now();
        let mut out = Vec::new();
        for t in templates {
            let text = t
                .replace("{line}", &port.to_string())
                .replace("{number}", number)
                .replace("{name}", name)
                .replace("{digits}", digits)
                .replace("{mmdd}", &format!("{:02}{:02}", now.month(), now.day()))
                .replace("{hhmm}", &format!("{:02}{:02}", now.hour(), now.minute()));
            out.extend(b"\r\n");
            out.extend(text.as_bytes());
            out.extend(b"\r\n");
        }
        out
    }

    /// The bytes of a caller-ID frame for FSK modules.
    fn frame(&self, message: &CallerIdMessage) -> Vec<u8> {
        let seizure = self.profile.profile.sim.seizure_bytes.unwrap_or(30);
        let mut out = vec![SEIZURE; seizure];
        out.extend(encode(message));
        out
    }

    fn status(
        &self,
        pick: impl Fn(&crate::devices::profile::StatusCodes) -> Option<u8>,
    ) -> Vec<u8> {
        match &self.profile.profile.framing {
            Framing::CidFrames {
                status: Some(codes),
                ..
            } => match pick(codes) {
                Some(code) => vec![codes.prefix, code, code ^ 0xFF],
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    fn is_fsk(&self) -> bool {
        matches!(self.profile.profile.framing, Framing::CidFrames { .. })
    }

    /// Performs one action; returns when its last byte was written to the
    /// terminal (for latency measurements), if it wrote any.
    pub async fn act(&mut self, action: &Action) -> std::io::Result<Option<std::time::Instant>> {
        let sim = self.profile.profile.sim.clone();
        let now = chrono::Local::now();
        let datetime = Some(CidDateTime {
            month: now.month() as u8,
            day: now.day() as u8,
            hour: now.hour() as u8,
            minute: now.minute() as u8,
        });
        let cid_message =
            |number: Option<&str>, absent: Option<Absence>, name: Option<&str>| CallerIdMessage {
                format: MessageFormat::Mdmf,
                datetime,
                number: number.map(str::to_string),
                number_absent: absent,
                name: name.map(str::to_string),
                name_absent: None,
                other: Vec::new(),
            };
        let bytes = match action {
            Action::WaitHost => {
                let mut seen = self.host.subscribe();
                let _ = seen.wait_for(|s| *s).await;
                return Ok(None);
            }
            Action::Wait(d) => {
                tokio::time::sleep(*d).await;
                return Ok(None);
            }
            Action::Unplug(d) => {
                self.unplug_gracefully().await;
                tokio::time::sleep(*d).await;
                return self.plug().map(|_| None);
            }
            Action::Garbage(n) => (0..*n)
                .map(|_| {
                    // Anything but line ends, so garbage cannot complete a real line.
                    let b: u8 = self.rng.random();
                    if b == b'\r' || b == b'\n' {
                        b'?'
                    } else {
                        b
                    }
                })
                .chain(std::iter::once(b'\n'))
                .collect(),
            Action::Ring { .. } if self.is_fsk() => self.status(|c| c.ring),
            Action::Ring { port } => self.lines(&sim.ring, *port, "", "", ""),
            Action::Answer { .. } if self.is_fsk() => self.status(|c| c.off_hook),
            Action::Answer { port } => self.lines(&sim.off_hook, *port, "", "", ""),
            Action::Hangup { .. } if self.is_fsk() => self.status(|c| c.on_hook),
            Action::Hangup { port } => self.lines(&sim.on_hook, *port, "", "", ""),
            Action::Dtmf { port, digits } => self.lines(&sim.dtmf, *port, "", "", digits),
            Action::Cid { number, name, .. } if self.is_fsk() => {
                self.frame(&cid_message(Some(number), None, name.as_deref()))
            }
            Action::Cid { port, number, name } => match name {
                Some(n) => self.lines(&sim.cid, *port, number, n, ""),
                None => self.lines(&sim.cid_number_only, *port, number, "", ""),
            },
            Action::Private { .. } if self.is_fsk() => {
                self.frame(&cid_message(None, Some(Absence::Private), None))
            }
            Action::Private { port } => self.lines(&sim.private, *port, "", "", ""),
            Action::Unavailable { .. } if self.is_fsk() => {
                self.frame(&cid_message(None, Some(Absence::Unavailable), None))
            }
            Action::Unavailable { port } => self.lines(&sim.unavailable, *port, "", "", ""),
            Action::BadCid { number, .. } if self.is_fsk() => {
                let mut f = self.frame(&cid_message(Some(number), None, None));
                let last = f.len() - 1;
                f[last] = f[last].wrapping_add(1);
                f
            }
            Action::BadCid { port, number } => {
                // A text device mangling a line: the number cut in half.
                let half = &number[..number.len() / 2];
                let mut out = self.lines(&sim.cid_number_only, *port, half, "", "");
                out.truncate(out.len().saturating_sub(2));
                out.extend(b"\x00\xff\r\n");
                out
            }
        };
        Ok(self.send(bytes).await)
    }

    /// Performs a whole script.
    pub async fn play(&mut self, actions: &[Action]) -> std::io::Result<()> {
        for a in actions {
            self.act(a).await?;
        }
        Ok(())
    }
}

impl Drop for BoxSim {
    fn drop(&mut self) {
        self.unplug();
    }
}
