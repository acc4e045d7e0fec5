//! A simulated GSM modem on a pseudo-terminal, in a profile's flavour: it
//! answers the AT commands callpop uses, takes PDUs after the `> ` prompt
//! and gives each a message reference, sends delivery reports, receives
//! messages (long and Chinese ones too) into its storage with `+CMTI` or
//! straight out with `+CMT`, rings with `+CLIP`, and fails on request
//! (`+CMS ERROR`, or no answer at all), starts slowly (`+CME ERROR: 515`,
//! SIM busy) and can be unplugged and plugged back, so error handling can
//! be tested.

use crate::devices::gsm::pdu::{self, Incoming, Timestamp};
use crate::devices::profile::{IncomingMode, LoadedProfile};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How the simulated modem behaves beyond its profile.
#[derive(Debug, Clone)]
pub struct ModemOptions {
    /// Time between the PDU and `+CMGS` (a real network takes 1-5 s).
    pub send_latency: Duration,
    /// Time until a requested delivery report arrives.
    pub report_delay: Duration,
    /// Whether commands are echoed at first (real modems start with ATE1).
    pub echo: bool,
    /// After power-on (start or replug) the modem is still starting for
    /// this long: `+CME ERROR: 515` to most commands, SIM busy to `AT+CPIN?`.
    pub starting_for: Duration,
}

impl Default for ModemOptions {
    fn default() -> Self {
        ModemOptions {
            send_latency: Duration::ZERO,
            report_delay: Duration::from_millis(50),
            echo: true,
            starting_for: Duration::ZERO,
        }
    }
}

/// How the next send fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// `+CMS ERROR: n`.
    Cms(u16),
    /// Nothing at all: the caller's timeout must notice.
    NoReply,
}

/// A part the modem accepted, as the network would have sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentPart {
    pub reference: u8,
    pub to: String,
    pub text: String,
    pub encoding: pdu::Encoding,
    pub concat: Option<pdu::Concat>,
}

#[derive(Default)]
struct State {
    sent: Vec<SentPart>,
    fail_next: Option<SendFailure>,
    /// Every send fails so until cleared (a SIM out of credit, barred).
    fail_all: Option<SendFailure>,
    /// Stored messages: index -> (status 0 unread / 1 read, PDU hex).
    storage: std::collections::BTreeMap<u32, (u8, String)>,
    next_reference: u8,
    echo: bool,
    /// Until then, the modem is still starting.
    ready_at: Option<std::time::Instant>,
    /// Until then, the firmware is stuck: input is ignored, nothing said.
    stalled_until: Option<std::time::Instant>,
    /// TP-ST of the delivery reports sent from now on (0: delivered).
    report_status: u8,
}

enum Control {
    Write(String),
    Receive {
        from: String,
        text: String,
        /// The concatenation reference, and which parts (1-based) arrive.
        only: Option<(u8, Vec<usize>)>,
    },
}

/// A running simulated modem, reachable at its link path.
pub struct ModemSim {
    link: PathBuf,
    profile: Arc<LoadedProfile>,
    options: ModemOptions,
    state: Arc<Mutex<State>>,
    /// The pseudo-terminal now plugged in: its control channel and task.
    plugged: Mutex<Option<(mpsc::Sender<Control>, JoinHandle<()>)>>,
    /// The far end of the calls it dials.
    far: Arc<super::far_end::FarSide>,
}

impl ModemSim {
    /// Creates the pseudo-terminal, points `link` at it and starts answering.
    pub fn start(
        profile: Arc<LoadedProfile>,
        link: &Path,
        options: ModemOptions,
    ) -> std::io::Result<ModemSim> {
        let sim = ModemSim {
            link: link.to_path_buf(),
            profile,
            state: Arc::new(Mutex::new(State::default())),
            options,
            plugged: Mutex::new(None),
            far: Default::default(),
        };
        sim.plug_in()?;
        Ok(sim)
    }

    /// The far end of the calls the modem dials: set how it behaves, wait
    /// for dials and hang-ups.
    pub fn far(&self) -> &super::far_end::FarSide {
        &self.far
    }

    /// Pulls the modem out: its pseudo-terminal closes, so the driver's
    /// reads fail as with a USB modem unplugged. Messages stored on the SIM
    /// and the sent log survive.
    pub fn unplug(&self) {
        if let Some((_, task)) = self.plugged.lock().unwrap().take() {
            task.abort();
        }
    }

    /// Plugs the modem back in (a new pseudo-terminal behind the same
    /// link), freshly powered on: echo on, starting again.
    pub fn plug_in(&self) -> std::io::Result<()> {
        self.unplug();
        let (master, slave) = tokio_serial::SerialStream::pair().map_err(std::io::Error::other)?;
        let slave_path = tokio_serial::SerialPort::name(&slave)
            .ok_or_else(|| std::io::Error::other("pseudo-terminal without a name"))?;
        let _ = std::fs::remove_file(&self.link);
        std::os::unix::fs::symlink(&slave_path, &self.link)?;
        {
            let mut st = self.state.lock().unwrap();
            st.echo = self.options.echo;
            st.ready_at = Some(std::time::Instant::now() + self.options.starting_for);
        }
        let (control, rx) = mpsc::channel(64);
        let task = tokio::spawn(run(
            master,
            slave,
            self.profile.clone(),
            self.options.clone(),
            self.state.clone(),
            rx,
            self.far.clone(),
        ));
        *self.plugged.lock().unwrap() = Some((control, task));
        Ok(())
    }

    async fn control(&self, c: Control) {
        let control = self
            .plugged
            .lock()
            .unwrap()
            .as_ref()
            .map(|(c, _)| c.clone());
        if let Some(control) = control {
            let _ = control.send(c).await;
        }
    }

    /// The path a driver opens.
    pub fn link(&self) -> &Path {
        &self.link
    }

    /// The network delivers a message from `from` (split and encoded as a
    /// real network would).
    pub async fn receive(&self, from: &str, text: &str) {
        self.control(Control::Receive {
            from: from.into(),
            text: text.into(),
            only: None,
        })
        .await;
    }

    /// Only some parts of a long message arrive (the others are late or
    /// lost): `parts` are 1-based; deliver the rest later with the same
    /// `reference`.
    pub async fn receive_parts(&self, from: &str, text: &str, reference: u8, parts: &[usize]) {
        self.control(Control::Receive {
            from: from.into(),
            text: text.into(),
            only: Some((reference, parts.to_vec())),
        })
        .await;
    }

    /// A call comes in: `RING` and `+CLIP` (`None`: number withheld).
    pub async fn ring(&self, number: Option<&str>) {
        let clip = match number {
            Some(n) => format!(
                "+CLIP: \"{n}\",{},\"\",,\"\",0",
                if n.starts_with('+') { 145 } else { 129 }
            ),
            None => "+CLIP: \"\",128,\"\",,\"\",1".to_string(),
        };
        self.control(Control::Write(format!("\r\nRING\r\n\r\n{clip}\r\n")))
            .await;
    }

    /// The caller hangs up.
    pub async fn hang_up(&self) {
        self.control(Control::Write("\r\nNO CARRIER\r\n".into()))
            .await;
    }

    /// The modem says `text` as it is, unasked: a URC written by hand, a
    /// PDU no encoder here would make, or garbage.
    pub async fn say(&self, text: &str) {
        self.control(Control::Write(text.to_string())).await;
    }

    /// The next `AT+CMGS` fails this way.
    pub fn fail_next_send(&self, failure: SendFailure) {
        self.state.lock().unwrap().fail_next = Some(failure);
    }

    /// Makes every send fail with `failure` from now on (`None` heals it):
    /// a SIM out of credit or barred by its operator.
    pub fn fail_every_send(&self, failure: Option<SendFailure>) {
        self.state.lock().unwrap().fail_all = failure;
    }

    /// The firmware hangs for `d`: it ignores everything sent to it (the
    /// driver must notice and bring it back).
    pub fn stall_for(&self, d: Duration) {
        self.state.lock().unwrap().stalled_until = Some(std::time::Instant::now() + d);
    }

    /// The delivery reports of parts sent from now on carry this TP-ST
    /// (0 delivered, 0x20.. still trying, 0x40.. and 0x60.. given up).
    pub fn set_report_status(&self, status: u8) {
        self.state.lock().unwrap().report_status = status;
    }

    /// Every part accepted so far.
    pub fn sent(&self) -> Vec<SentPart> {
        self.state.lock().unwrap().sent.clone()
    }

    /// How many messages are stored on the SIM.
    pub fn stored(&self) -> usize {
        self.state.lock().unwrap().storage.len()
    }
}

impl Drop for ModemSim {
    fn drop(&mut self) {
        self.unplug();
    }
}

async fn run(
    master: tokio_serial::SerialStream,
    _slave: tokio_serial::SerialStream,
    profile: Arc<LoadedProfile>,
    options: ModemOptions,
    state: Arc<Mutex<State>>,
    mut control: mpsc::Receiver<Control>,
    far: Arc<super::far_end::FarSide>,
) {
    // The far end of a dialled call speaks through here.
    let (far_tx, mut far_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let dial = profile.dialer.as_ref().map(|d| {
        (
            super::far_end::command_pattern(&d.settings.command),
            super::far_end::command_pattern(&d.settings.hangup),
        )
    });
    let mut call: Option<JoinHandle<()>> = None;
    let mut rng = {
        use rand::SeedableRng;
        rand::rngs::StdRng::from_os_rng()
    };
    let (mut reader, mut writer) = tokio::io::split(master);
    let (report_tx, mut reports) = mpsc::unbounded_channel::<String>();
    let mut line = Vec::new();
    let mut pdu: Option<(usize, Vec<u8>)> = None;
    let mut buf = [0u8; 512];
    let unknown = profile
        .profile
        .quirks
        .error_replies
        .last()
        .cloned()
        .unwrap_or_else(|| "ERROR".into());
    let mut reference: u8 = 0;
    loop {
        let out = tokio::select! {
            n = reader.read(&mut buf) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let mut out = String::new();
                    let stalled = state
                        .lock()
                        .unwrap()
                        .stalled_until
                        .is_some_and(|t| std::time::Instant::now() < t);
                    for &b in buf[..n].iter().filter(|_| !stalled) {
                        if let Some((len, hex)) = pdu.as_mut() {
                            match b {
                                0x1a => {
                                    let (len, hex) = (*len, String::from_utf8_lossy(hex).to_string());
                                    pdu = None;
                                    out.push_str(&submit(&hex, len, &options, &state, &report_tx).await);
                                }
                                0x1b => {
                                    pdu = None;
                                    out.push_str("\r\nOK\r\n");
                                }
                                b'\r' | b'\n' => {}
                                _ => {
                                    hex.push(b);
                                    if state.lock().unwrap().echo {
                                        out.push(b as char);
                                    }
                                }
                            }
                            continue;
                        }
                        if b == b'\r' || b == b'\n' {
                            let cmd = String::from_utf8_lossy(&line).trim().to_string();
                            line.clear();
                            if cmd.is_empty() {
                                continue;
                            }
                            if state.lock().unwrap().echo {
                                out.push_str(&cmd);
                                out.push('\r');
                            }
                            let upper = cmd.to_ascii_uppercase();
                            if let Some(len) = upper.strip_prefix("AT+CMGS=") {
                                match len.trim().parse::<usize>() {
                                    Ok(len) => {
                                        pdu = Some((len, Vec::new()));
                                        out.push_str("\r\n> ");
                                    }
                                    Err(_) => out.push_str("\r\n+CMS ERROR: 304\r\n"),
                                }
                                continue;
                            }
                            if let Some((dial, hangup)) = &dial {
                                if let Some(c) = dial.captures(&cmd) {
                                    let number = c["number"].to_string();
                                    let script = far.dial(1, &number).script(&mut rng);
                                    let tx = far_tx.clone();
                                    let say = move |bytes: Vec<u8>| {
                                        let ok = tx.send(bytes).is_ok();
                                        async move { ok }
                                    };
                                    let play = super::far_end::play(script, profile.profile.sim.clone(), 1, number, say);
                                    if let Some(old) = call.replace(tokio::spawn(play)) {
                                        old.abort();
                                    }
                                    continue;
                                }
                                if hangup.is_match(&cmd) {
                                    if let Some(c) = call.take() {
                                        c.abort();
                                    }
                                    far.hang_up(1);
                                    let said = &profile.profile.sim.hung_up;
                                    if said.is_empty() {
                                        out.push_str("\r\nOK\r\n");
                                    }
                                    for l in said {
                                        out.push_str(&format!("\r\n{l}\r\n"));
                                    }
                                    continue;
                                }
                            }
                            out.push_str(&answer(&upper, &profile, &state, &unknown));
                        } else if line.len() < 1024 {
                            line.push(b);
                        }
                    }
                    out
                }
            },
            c = control.recv() => match c {
                None => return,
                Some(Control::Write(s)) => s,
                Some(Control::Receive { from, text, only }) => {
                    reference = reference.wrapping_add(1);
                    receive(&from, &text, reference, only, &profile, &state)
                }
            },
            Some(report) = reports.recv() => report,
            Some(said) = far_rx.recv() => String::from_utf8_lossy(&said).into_owned(),
        };
        if !out.is_empty() && writer.write_all(out.as_bytes()).await.is_err() {
            return;
        }
        let _ = writer.flush().await;
    }
}

/// The reply to one command line (not `AT+CMGS`).
fn answer(cmd: &str, profile: &LoadedProfile, state: &Mutex<State>, unknown: &str) -> String {
    let ok = |body: &str| {
        if body.is_empty() {
            "\r\nOK\r\n".to_string()
        } else {
            format!("\r\n{body}\r\n\r\nOK\r\n")
        }
    };
    let mut st = state.lock().unwrap();
    let starting = st.ready_at.is_some_and(|t| std::time::Instant::now() < t);
    if starting && !matches!(cmd, "AT" | "ATZ" | "ATE0" | "ATE1" | "AT+CMEE=1") {
        let code = if cmd == "AT+CPIN?" { 14 } else { 515 };
        return format!("\r\n+CME ERROR: {code}\r\n");
    }
    match cmd {
        "AT" | "ATZ" | "AT+CMEE=1" | "AT+CMGF=0" | "AT+CLIP=1" | "ATH" | "ATA" => ok(""),
        "ATE0" => {
            st.echo = false;
            ok("")
        }
        "ATE1" => {
            st.echo = true;
            ok("")
        }
        "AT+CPIN?" => {
            if profile.profile.gsm.cpin_without_ok {
                "\r\n+CPIN: READY\r\n".into()
            } else {
                ok("+CPIN: READY")
            }
        }
        "AT+CSQ" => ok("+CSQ: 21,99"),
        // The maker as the profile's USB match knows it, else its name.
        "AT+CGMI" => ok(profile
            .profile
            .matching
            .manufacturer
            .first()
            .unwrap_or(&profile.profile.name)),
        "AT+CGMM" => ok(&profile.profile.description),
        "AT+CGMR" => ok("SIM-1.0"),
        "AT+CGSN" => ok("867567030512345"),
        "AT+CIMI" => ok("460001234567890"),
        "AT+COPS?" => ok("+COPS: 0,0,\"CHINA MOBILE\""),
        "AT+CREG?" => ok("+CREG: 0,1"),
        "AT+CSCA?" => ok("+CSCA: \"+8613800100500\",145"),
        _ if cmd.starts_with("AT+CNMI=")
            || cmd.starts_with("AT^")
            || cmd.starts_with("AT+CLCC=")
            || cmd.starts_with("AT+COLP=") =>
        {
            ok("")
        }
        _ if cmd.starts_with("AT+CMGR=") => {
            let index: u32 = cmd[8..].trim().parse().unwrap_or(0);
            match st.storage.get_mut(&index) {
                Some((status, hex)) => {
                    let len = hex.len() / 2 - 1;
                    let body = format!("+CMGR: {status},,{len}\r\n{hex}");
                    *status = 1;
                    ok(&body)
                }
                None => "\r\n+CMS ERROR: 321\r\n".into(),
            }
        }
        _ if cmd.starts_with("AT+CMGD=") => {
            let index: u32 = cmd[8..]
                .split(',')
                .next()
                .unwrap_or("")
                .trim()
                .parse()
                .unwrap_or(0);
            st.storage.remove(&index);
            ok("")
        }
        _ if cmd.starts_with("AT+CMGL") => {
            let body: Vec<String> = st
                .storage
                .iter()
                .map(|(i, (s, hex))| format!("+CMGL: {i},{s},,{}\r\n{hex}", hex.len() / 2 - 1))
                .collect();
            ok(&body.join("\r\n"))
        }
        _ => format!("\r\n{unknown}\r\n"),
    }
}

/// Handles a PDU after the prompt: refuses a wrong length or a bad PDU the
/// way modems do, fails as asked, or accepts it with the next reference.
async fn submit(
    hex: &str,
    len: usize,
    options: &ModemOptions,
    state: &Mutex<State>,
    reports: &mpsc::UnboundedSender<String>,
) -> String {
    let smsc_octets = u8::from_str_radix(hex.get(..2).unwrap_or("zz"), 16)
        .map(usize::from)
        .ok();
    let tpdu_len = smsc_octets.map(|s| (hex.len() / 2).saturating_sub(s + 1));
    let parsed = pdu::decode(hex);
    let (to, text, encoding, concat, report) = match (tpdu_len, parsed) {
        (
            Some(l),
            Ok(Incoming::Submit {
                to,
                text,
                encoding,
                concat,
                status_report,
            }),
        ) if l == len => (to, text, encoding, concat, status_report),
        _ => return "\r\n+CMS ERROR: 304\r\n".into(),
    };
    let failure = {
        let mut st = state.lock().unwrap();
        st.fail_next.take().or(st.fail_all)
    };
    match failure {
        Some(SendFailure::Cms(code)) => return format!("\r\n+CMS ERROR: {code}\r\n"),
        Some(SendFailure::NoReply) => return String::new(),
        None => {}
    }
    // Even a zero sleep waits for the timer's next millisecond tick.
    if !options.send_latency.is_zero() {
        tokio::time::sleep(options.send_latency).await;
    }
    let reference = {
        let mut st = state.lock().unwrap();
        let r = st.next_reference;
        st.next_reference = r.wrapping_add(1);
        st.sent.push(SentPart {
            reference: r,
            to: to.clone(),
            text,
            encoding,
            concat,
        });
        r
    };
    if report {
        let reports = reports.clone();
        let delay = options.report_delay;
        let status = state.lock().unwrap().report_status;
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let now = now_timestamp();
            if let Ok(report) = pdu::encode_status_report(reference, &to, now, now, status) {
                let _ = reports.send(format!(
                    "\r\n+CDS: {}\r\n{report}\r\n",
                    report.len() / 2 - 1
                ));
            }
        });
    }
    format!("\r\n+CMGS: {reference}\r\n\r\nOK\r\n")
}

/// A message from the network: stored with `+CMTI`, or handed over with `+CMT`.
fn receive(
    from: &str,
    text: &str,
    reference: u8,
    only: Option<(u8, Vec<usize>)>,
    profile: &LoadedProfile,
    state: &Mutex<State>,
) -> String {
    let reference = only.as_ref().map_or(reference, |(r, _)| *r);
    let Ok(parts) = pdu::encode_deliver(from, text, now_timestamp(), reference) else {
        return String::new();
    };
    let mut out = String::new();
    let mut st = state.lock().unwrap();
    let wanted = |i: usize| only.as_ref().is_none_or(|(_, p)| p.contains(&(i + 1)));
    for (_, hex) in parts.into_iter().enumerate().filter(|(i, _)| wanted(*i)) {
        match profile.profile.gsm.incoming {
            IncomingMode::Stored => {
                let index = st.storage.keys().next_back().map_or(1, |i| i + 1);
                st.storage.insert(index, (0, hex));
                out.push_str(&format!("\r\n+CMTI: \"SM\",{index}\r\n"));
            }
            IncomingMode::Direct => {
                out.push_str(&format!("\r\n+CMT: ,{}\r\n{hex}\r\n", hex.len() / 2 - 1));
            }
        }
    }
    out
}

fn now_timestamp() -> Timestamp {
    use chrono::{Datelike, Timelike};
    let now = chrono::Local::now();
    Timestamp {
        year: now.year() as u16,
        month: now.month() as u8,
        day: now.day() as u8,
        hour: now.hour() as u8,
        minute: now.minute() as u8,
        second: now.second() as u8,
        tz_quarters: (now.offset().local_minus_utc() / 900) as i8,
    }
}
