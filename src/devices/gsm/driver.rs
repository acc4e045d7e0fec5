//! A GSM modem at work: one task per modem owns its port, so exactly one
//! command is ever in flight. It sends the parts it is handed, reads what
//! arrives (messages, delivery reports, calls) and keeps going through
//! unplugs, stuck firmware and restarts.
//!
//! Received PDUs are written to the store before they are deleted from the
//! SIM, and go through reassembly from there, so a restart loses no part.
//! Calls on the modem (`RING`, `+CLIP`, `NO CARRIER`) become line events
//! for the call engine like any telephone box's.

use super::at::{ErrorClass, Urc};
use super::concat::{Message, Reassembler};
use super::pdu::{self, DeliveryOutcome, Incoming, StatusReport};
use super::port::{AtPort, CommandError, SendError};
use super::replies;
use crate::devices::profile::LoadedProfile;
use crate::devices::serial::{PortLocator, BACKOFF};
use crate::event::{CallerId, DeviceState, LineEvent, LineEventKind, LineSignal, SmsEvent};
use crate::phone::{Normalizer, NormalizerSettings};
use crate::store::{NewInbox, Report, SmsHandle, REPORT_WINDOW_MS};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// A configured GSM modem.
#[derive(Debug, Clone)]
pub struct GsmDevice {
    pub name: Arc<str>,
    pub port: PortLocator,
    pub profile: Arc<LoadedProfile>,
    /// Its phone line, `<name>/1`.
    pub line: Arc<str>,
    /// An admin's request to reopen the port.
    pub restart: crate::devices::restart::Restart,
}

impl GsmDevice {
    /// A modem whose line is `<name>/1`.
    pub fn new(name: &str, port: PortLocator, profile: Arc<LoadedProfile>) -> GsmDevice {
        GsmDevice {
            name: name.into(),
            port,
            profile,
            line: format!("{name}/1").into(),
            restart: Default::default(),
        }
    }
}

/// How handing a part to the modem ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Sent {
        reference: u8,
    },
    /// Certainly not sent; `transient` says whether later may work, and
    /// `modem_fault` whether the modem or its SIM is to blame (so another
    /// modem should carry the part).
    NotSent {
        reason: String,
        transient: bool,
        modem_fault: bool,
    },
    /// It may have left: never sent again automatically.
    Unknown {
        reason: String,
    },
}

struct SendRequest {
    pdu: String,
    tpdu_len: usize,
    reply: oneshot::Sender<SendOutcome>,
}

/// The way to a running modem: send a part, watch its state.
#[derive(Clone)]
pub struct ModemHandle {
    pub name: Arc<str>,
    requests: mpsc::Sender<SendRequest>,
    state: watch::Receiver<DeviceState>,
}

impl ModemHandle {
    /// Sends one part (its PDU hex and `AT+CMGS` length) and waits for the
    /// modem's answer.
    pub async fn send(&self, pdu: String, tpdu_len: usize) -> SendOutcome {
        let (reply, answer) = oneshot::channel();
        let request = SendRequest {
            pdu,
            tpdu_len,
            reply,
        };
        if self.requests.send(request).await.is_err() {
            return SendOutcome::NotSent {
                reason: "the modem driver has stopped".into(),
                transient: true,
                modem_fault: true,
            };
        }
        answer.await.unwrap_or(SendOutcome::Unknown {
            reason: "the modem driver stopped while sending".into(),
        })
    }

    /// The modem's state now.
    pub fn state(&self) -> DeviceState {
        self.state.borrow().clone()
    }

    /// Waits until the modem is up; `false` when its driver is gone.
    pub async fn wait_up(&mut self) -> bool {
        self.state.wait_for(|s| *s == DeviceState::Up).await.is_ok()
    }
}

/// A modem's task, before it runs.
pub struct ModemDriver {
    device: GsmDevice,
    requests: mpsc::Receiver<SendRequest>,
    state: watch::Sender<DeviceState>,
    lines: Option<mpsc::Sender<LineEvent>>,
    store: SmsHandle,
    sms: broadcast::Sender<SmsEvent>,
    reassembler: Reassembler<i64>,
    /// Reports that matched no part yet, tried again for a short while: a
    /// report can reach us before the worker has recorded the part's
    /// reference (the driver answers the worker, then reads the next line).
    early_reports: Vec<(Instant, StatusReport)>,
    /// Reads a report's recipient into the queue's form, to match it.
    normalizer: Arc<Normalizer>,
    /// What its line must do (dial, hang up), when its profile dials.
    commands: Option<crate::devices::serial::Commands>,
}

/// How long an unmatched delivery report waits for its part's reference to
/// be recorded. Short, so a stale report cannot meet a reused reference.
const EARLY_REPORT_GRACE: Duration = Duration::from_secs(5);

/// A modem's driver and the handle to reach it. The driver stores what
/// arrives in `store` (the SMS domain only) and tells `sms` about it.
pub fn modem(
    device: GsmDevice,
    store: SmsHandle,
    sms: broadcast::Sender<SmsEvent>,
) -> (ModemHandle, ModemDriver) {
    let (requests_tx, requests) = mpsc::channel(1);
    let (state_tx, state) = watch::channel(DeviceState::Down {
        reason: "starting".into(),
    });
    let timeout = Duration::from_secs(device.profile.profile.gsm.concat_timeout_secs);
    let handle = ModemHandle {
        name: device.name.clone(),
        requests: requests_tx,
        state,
    };
    let driver = ModemDriver {
        device,
        requests,
        state: state_tx,
        lines: None,
        store,
        sms,
        reassembler: Reassembler::new(timeout),
        early_reports: Vec::new(),
        normalizer: Arc::new(Normalizer::new(NormalizerSettings::default())),
        commands: None,
    };
    (handle, driver)
}

/// Why serving a port stopped.
enum Stop {
    /// The call engine is gone: the daemon is stopping.
    Done,
    /// The port failed or the modem cannot be recovered: reopen it.
    Lost(String),
}

impl ModemDriver {
    /// The same driver reading numbers with `normalizer` (the config's
    /// region) instead of the default (China).
    pub fn with_normalizer(mut self, normalizer: Arc<Normalizer>) -> ModemDriver {
        self.normalizer = normalizer;
        self
    }

    /// The same driver taking its line's commands (dial, hang up) from
    /// `commands`.
    pub fn with_commands(mut self, commands: crate::devices::serial::Commands) -> ModemDriver {
        self.commands = Some(commands);
        self
    }

    /// Runs until the call engine behind `lines`, which gets the modem's
    /// calls, stops listening (or the task is aborted).
    pub async fn run(mut self, lines: mpsc::Sender<LineEvent>) {
        self.lines = Some(lines);
        self.reload_waiting_parts().await;
        let mut attempt = 0usize;
        loop {
            if self.engine_gone() {
                return;
            }
            let opened = self.device.port.resolve().and_then(|path| {
                AtPort::open(&path, self.device.profile.clone()).map_err(|e| e.to_string())
            });
            let reason = match opened {
                Ok(mut port) => match port.init().await {
                    Err(e) => {
                        // Reports and messages the modem said during a
                        // failed init are kept, not dropped with the port.
                        self.keep_said(&mut port).await;
                        format!("initialisation failed: {}", e.reason())
                    }
                    Ok(()) => {
                        attempt = 0;
                        tracing::info!(modem = %self.device.name, "modem ready");
                        // Commands that waited while the port was closed
                        // are stale (their calls ended when the modem went
                        // down); dropped before anyone hears it is up.
                        if let Some(rx) = self.commands.as_mut() {
                            while rx.try_recv().is_ok() {}
                        }
                        self.set_state(DeviceState::Up).await;
                        let restart = self.device.restart.clone();
                        let stop = tokio::select! {
                            stop = self.serve(&mut port) => stop,
                            () = restart.requested() => Stop::Lost(crate::devices::restart::RESTARTED.into()),
                        };
                        match stop {
                            Stop::Done => return,
                            Stop::Lost(reason) => reason,
                        }
                    }
                },
                Err(e) => e,
            };
            if self.state.borrow().clone()
                != (DeviceState::Down {
                    reason: reason.clone(),
                })
            {
                tracing::warn!(modem = %self.device.name, %reason, "modem not available; retrying");
            }
            self.set_state(DeviceState::Down { reason }).await;
            let wait = BACKOFF[attempt.min(BACKOFF.len() - 1)];
            attempt += 1;
            self.refuse_requests_for(Duration::from_millis(wait)).await;
        }
    }

    /// Handles what the modem said on its own while a port that is about
    /// to be dropped was read: messages and delivery reports handed over
    /// whole are stored; those stored on the SIM stay there for the next
    /// `AT+CMGL`.
    async fn keep_said(&mut self, port: &mut AtPort) {
        for urc in std::mem::take(&mut port.urcs) {
            match urc {
                Urc::NewMessage { pdu } | Urc::StatusReport { pdu } => {
                    self.received(&pdu).await;
                }
                other => {
                    tracing::debug!(modem = %self.device.name, ?other, "said during a failed init")
                }
            }
        }
    }

    /// While the modem is down, a part handed over anyway is refused at once
    /// (certainly not sent) instead of waiting for the port.
    async fn refuse_requests_for(&mut self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return,
                Some(request) = self.requests.recv() => {
                    let _ = request.reply.send(SendOutcome::NotSent {
                        reason: "the modem is down".into(),
                        transient: true,
                        modem_fault: true,
                    });
                }
            }
        }
    }

    async fn set_state(&mut self, state: DeviceState) {
        if *self.state.borrow() == state {
            return;
        }
        self.state.send_replace(state.clone());
        let _ = self.sms.send(SmsEvent::Modem {
            modem: self.device.name.to_string(),
            state: state.clone(),
        });
        self.line_event(LineEventKind::Device(state)).await;
    }

    fn engine_gone(&self) -> bool {
        self.lines.as_ref().is_none_or(|l| l.is_closed())
    }

    async fn line_event(&self, kind: LineEventKind) {
        let Some(lines) = &self.lines else { return };
        let _ = lines
            .send(LineEvent {
                line: self.device.line.clone(),
                device: self.device.name.clone(),
                at_ms: crate::store::now_ms(),
                at: Instant::now(),
                kind,
                backlog: None,
            })
            .await;
    }

    /// Serves an initialised port until it fails or the daemon stops.
    async fn serve(&mut self, port: &mut AtPort) -> Stop {
        if let Err(e) = self.read_stored(port).await {
            return Stop::Lost(e.reason());
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let step = tokio::select! {
                Some(request) = self.requests.recv() => self.send(port, request).await,
                Some((_, command)) = next_command(&mut self.commands) => self.line_command(port, command).await,
                urc = port.next_urc() => match urc {
                    Ok(urc) => self.on_urc(port, urc).await,
                    Err(e) => Err(e),
                },
                _ = tick.tick() => {
                    if self.engine_gone() {
                        return Stop::Done;
                    }
                    self.expire().await;
                    self.retry_early_reports().await;
                    Ok(())
                }
            };
            if let Err(e) = step {
                if let Some(stop) = self.after_failure(port, e).await {
                    return stop;
                }
            }
        }
    }

    /// A command failed: a dead port is reopened, a silent modem recovered.
    async fn after_failure(&mut self, port: &mut AtPort, e: CommandError) -> Option<Stop> {
        match e {
            CommandError::Io(reason) => Some(Stop::Lost(reason)),
            CommandError::Timeout { .. } => {
                tracing::warn!(modem = %self.device.name, error = %e, "modem stopped answering; recovering");
                match port.recover().await {
                    Ok(()) => {
                        tracing::info!(modem = %self.device.name, "modem recovered");
                        None
                    }
                    Err(e) => Some(Stop::Lost(format!("recovery failed: {}", e.reason()))),
                }
            }
            CommandError::Refused { .. } => {
                tracing::warn!(modem = %self.device.name, error = %e.reason(), "command refused");
                None
            }
        }
    }

    /// Hands one part to the modem and answers the requester. A timeout or
    /// a dead port is also returned, for recovery.
    async fn send(&mut self, port: &mut AtPort, request: SendRequest) -> Result<(), CommandError> {
        // The worker records a part's outcome before it asks for the next,
        // so reports for the earlier parts can be matched now.
        self.retry_early_reports().await;
        let (outcome, failure) = match port.send_pdu(&request.pdu, request.tpdu_len).await {
            Ok(reference) => (SendOutcome::Sent { reference }, None),
            Err(SendError::NotSent(e)) => (
                SendOutcome::NotSent {
                    reason: e.reason(),
                    transient: e.class() == ErrorClass::Transient,
                    modem_fault: e.modem_fault(),
                },
                Some(e),
            ),
            Err(SendError::Unknown(e)) => (SendOutcome::Unknown { reason: e.reason() }, Some(e)),
        };
        let _ = request.reply.send(outcome);
        match failure {
            Some(e @ (CommandError::Io(_) | CommandError::Timeout { .. })) => Err(e),
            _ => Ok(()),
        }
    }

    /// Dials or hangs up; what the modem answers goes to the engine as
    /// the profile's `[dial]` replies say.
    async fn line_command(
        &mut self,
        port: &mut AtPort,
        command: crate::calls::LineCommand,
    ) -> Result<(), CommandError> {
        let Some(dialer) = self.device.profile.dialer.clone() else {
            return Ok(());
        };
        let text = match &command {
            crate::calls::LineCommand::Dial { digits } => dialer.dial_command(1, digits),
            crate::calls::LineCommand::HangUp => dialer.hangup_command(1),
        };
        tracing::info!(modem = %self.device.name, command = %text, "to the modem");
        let answer = port.command(&text).await;
        if command == crate::calls::LineCommand::HangUp {
            return match answer {
                Err(e @ (CommandError::Io(_) | CommandError::Timeout { .. })) => Err(e),
                _ => Ok(()),
            };
        }
        let (said, failure) = match answer {
            Ok(_) => ("OK".to_string(), None),
            Err(CommandError::Refused { error, .. }) => (error.said(), None),
            // The port is gone: the modem going down ends the call.
            Err(e @ CommandError::Io(_)) => return Err(e),
            Err(e) => (
                "the modem did not answer the dial command".to_string(),
                Some(e),
            ),
        };
        let signal = match dialer.reply(&said) {
            Some((_, signal)) => signal,
            None => LineSignal::Dial {
                progress: crate::event::DialProgress::Failed,
                detail: Some(said),
            },
        };
        self.line_event(self::signal(signal)).await;
        failure.map_or(Ok(()), Err)
    }

    /// A line the modem said on its own that its profile's `[dial]`
    /// replies give a meaning.
    async fn dial_reply(&self, line: &str) {
        let reply = self
            .device
            .profile
            .dialer
            .as_ref()
            .and_then(|d| d.reply(line));
        if let Some((_, signal)) = reply {
            self.line_event(self::signal(signal)).await;
        }
    }

    async fn on_urc(&mut self, port: &mut AtPort, urc: Urc) -> Result<(), CommandError> {
        match urc {
            Urc::Ring => self.line_event(signal(LineSignal::Ring)).await,
            Urc::Clip { number } => {
                let cid = CallerId::from_value(number.as_deref().unwrap_or(""));
                self.line_event(signal(LineSignal::CallerId(cid))).await
            }
            Urc::CallEnded(said) => {
                // A dialled call's end says how (busy, no answer); any
                // call is over.
                self.dial_reply(&said).await;
                self.line_event(signal(LineSignal::OnHook)).await
            }
            // Delivered straight to us: nothing on the SIM to delete.
            Urc::NewMessage { pdu } | Urc::StatusReport { pdu } => {
                self.received(&pdu).await;
            }
            Urc::NewMessageStored { index, .. } | Urc::StatusReportStored { index, .. } => {
                self.read_one(port, index).await?;
            }
            Urc::Registration { stat } => {
                tracing::info!(modem = %self.device.name, stat, "network registration changed")
            }
            Urc::Other(line) => {
                tracing::debug!(modem = %self.device.name, %line, "modem says");
                self.dial_reply(&line).await;
            }
        }
        Ok(())
    }

    /// Reads the stored message at `index`, keeps it, then deletes it. A
    /// message that could not be kept stays on the SIM.
    async fn read_one(&mut self, port: &mut AtPort, index: u32) -> Result<(), CommandError> {
        let lines = match port.command(&format!("AT+CMGR={index}")).await {
            Ok(lines) => lines,
            Err(e @ CommandError::Refused { .. }) => {
                tracing::warn!(modem = %self.device.name, index, error = %e.reason(), "cannot read a stored message");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let Some(pdu) = replies::cmgr_pdu(&lines) else {
            tracing::warn!(modem = %self.device.name, index, "an empty stored message; deleting it");
            return port.command(&format!("AT+CMGD={index}")).await.map(drop);
        };
        if self.received(&pdu).await {
            port.command(&format!("AT+CMGD={index}")).await?;
        }
        Ok(())
    }

    /// Messages that arrived while callpop was away (or that it could not
    /// keep before): `AT+CMGL=4` lists every stored PDU.
    async fn read_stored(&mut self, port: &mut AtPort) -> Result<(), CommandError> {
        let lines = match port.command("AT+CMGL=4").await {
            Ok(lines) => lines,
            Err(e @ CommandError::Refused { .. }) => {
                tracing::warn!(modem = %self.device.name, error = %e.reason(), "cannot list stored messages");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let stored = replies::cmgl(&lines);
        for replies::Listed { index, pdu, .. } in stored {
            if self.received(&pdu).await {
                port.command(&format!("AT+CMGD={index}")).await?;
            }
        }
        Ok(())
    }

    /// Keeps and handles one received PDU; `true` once it is safely stored
    /// (so it may be deleted from the SIM).
    async fn received(&mut self, pdu_hex: &str) -> bool {
        match pdu::decode(pdu_hex) {
            Ok(Incoming::Deliver(d)) => {
                let (modem, hex) = (self.device.name.to_string(), pdu_hex.to_string());
                let id = match self
                    .store
                    .call(move |s| s.sms_inbox_part(&modem, &hex))
                    .await
                {
                    Ok(id) => id,
                    Err(e) => {
                        tracing::error!(modem = %self.device.name, error = %e, "cannot store a received message; it stays on the SIM");
                        return false;
                    }
                };
                if let Some(message) = self.reassembler.push(d, id, Instant::now()) {
                    self.save(message).await;
                }
                true
            }
            Ok(Incoming::StatusReport(report)) => {
                if !self.report(&report).await {
                    self.early_reports.push((Instant::now(), report));
                }
                true
            }
            Ok(Incoming::Submit { .. }) => true,
            Err(e) => {
                // Listed in the inbox with the raw PDU and the reason, so a
                // person sees it; reassembly skips it.
                tracing::warn!(modem = %self.device.name, error = %e, pdu = pdu_hex, "an undecodable PDU arrived; listed in the inbox");
                let (modem, hex, why) = (
                    self.device.name.to_string(),
                    pdu_hex.to_string(),
                    e.to_string(),
                );
                match self
                    .store
                    .call(move |s| s.sms_inbox_undecodable(&modem, &hex, &why))
                    .await
                {
                    Ok(id) => {
                        let _ = self.sms.send(SmsEvent::Received {
                            id,
                            modem: self.device.name.to_string(),
                            sender: String::new(),
                            text: String::new(),
                            parts: 1,
                            missing: Vec::new(),
                        });
                        true
                    }
                    Err(e) => {
                        tracing::error!(modem = %self.device.name, error = %e, "cannot store an undecodable PDU; it stays on the SIM");
                        false
                    }
                }
            }
        }
    }

    /// Stores a whole (or given-up) message and tells who listens.
    async fn save(&mut self, m: Message<i64>) {
        let modem = self.device.name.to_string();
        let sent_at = m.timestamp.to_rfc3339();
        // How the queue would write the sender: how a customer's page finds it.
        let sender_number = crate::phone::address::destination(&self.normalizer, &m.sender).ok();
        let saved = {
            let (modem, m, sent_at) = (modem.clone(), m.clone(), sent_at.clone());
            self.store
                .call(move |s| {
                    s.sms_inbox_message(&NewInbox {
                        modem: &modem,
                        sender: &m.sender,
                        sender_number: sender_number.as_deref(),
                        text: &m.text,
                        parts: u32::from(m.parts),
                        missing: &m.missing,
                        sent_at: &sent_at,
                        part_ids: &m.tags,
                    })
                })
                .await
        };
        match saved {
            Ok(id) => {
                tracing::info!(modem = %modem, id, sender = %m.sender, parts = m.parts, "message received");
                let _ = self.sms.send(SmsEvent::Received {
                    id,
                    modem,
                    sender: m.sender,
                    text: m.text,
                    parts: u32::from(m.parts),
                    missing: m.missing,
                });
            }
            // Its parts stay unjoined in the store and are joined again
            // after a restart.
            Err(e) => {
                tracing::error!(modem = %modem, error = %e, "cannot store a received message")
            }
        }
    }

    /// Tries the reports that matched nothing again; gives up on those past
    /// their grace.
    async fn retry_early_reports(&mut self) {
        for (at, report) in std::mem::take(&mut self.early_reports) {
            if self.report(&report).await {
                continue;
            }
            if at.elapsed() < EARLY_REPORT_GRACE {
                self.early_reports.push((at, report));
            } else {
                self.keep_unmatched(&report).await;
            }
        }
    }

    /// Matches a delivery report to the part it is about: this modem's,
    /// with its reference, to its recipient, sent around its time;
    /// `false` when no part matches (yet).
    async fn report(&mut self, report: &StatusReport) -> bool {
        let delivered = match report.outcome() {
            DeliveryOutcome::Delivered => Some(true),
            DeliveryOutcome::Failed => Some(false),
            DeliveryOutcome::Pending => None,
        };
        let modem = self.device.name.to_string();
        let reference = report.reference;
        let settled = {
            let (modem, report) = (modem.clone(), report.clone());
            let key = self.recipient_key(&report.recipient);
            self.store
                .call(move |s| {
                    s.sms_report(&store_report(&modem, &report, key.as_deref(), delivered))
                })
                .await
        };
        match settled {
            Ok(Some(settled)) => {
                let _ = self.sms.send(SmsEvent::Part {
                    part_id: settled.part_id,
                    message_id: settled.message_id,
                    state: settled.state,
                    modem: Some(modem),
                    reference: Some(reference),
                    error: None,
                });
                true
            }
            Ok(None) => false,
            // Trying again would not help; the report is in the log.
            Err(e) => {
                tracing::error!(modem = %modem, error = %e, ?report, "cannot record a delivery report");
                true
            }
        }
    }

    /// The recipient in the queue's form, `None` when it is no number.
    fn recipient_key(&self, recipient: &str) -> Option<String> {
        crate::phone::address::destination(&self.normalizer, recipient).ok()
    }

    /// Keeps a report that matched no part for a person, never applying it
    /// to another part.
    async fn keep_unmatched(&mut self, report: &StatusReport) {
        let modem = self.device.name.to_string();
        let key = self.recipient_key(&report.recipient);
        let reason = unmatched_reason(report, key.is_some());
        tracing::warn!(modem = %modem, reference = report.reference, recipient = %report.recipient, %reason, "a delivery report for no part we know; kept for a person");
        let report = report.clone();
        let kept = self
            .store
            .call(move |s| {
                s.sms_unmatched_report(
                    &store_report(&modem, &report, key.as_deref(), None),
                    &reason,
                )
            })
            .await;
        if let Err(e) = kept {
            tracing::error!(modem = %self.device.name, error = %e, "cannot keep an unmatched delivery report");
        }
    }

    /// Gives up on long messages whose parts stopped coming.
    async fn expire(&mut self) {
        for message in self.reassembler.expire(Instant::now()) {
            self.save(message).await;
        }
    }

    /// Parts received before a restart and not yet joined go back into
    /// reassembly, with the time they have already waited.
    async fn reload_waiting_parts(&mut self) {
        let modem = self.device.name.to_string();
        let waiting = match self.store.call(move |s| s.sms_waiting_parts(&modem)).await {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(modem = %self.device.name, error = %e, "cannot reload received parts");
                return;
            }
        };
        let now_ms = crate::store::now_ms();
        for (id, hex, received_at) in waiting {
            let Ok(Incoming::Deliver(d)) = pdu::decode(&hex) else {
                continue;
            };
            let waited = Duration::from_millis((now_ms - received_at).max(0) as u64);
            let since = Instant::now()
                .checked_sub(waited)
                .unwrap_or_else(Instant::now);
            if let Some(message) = self.reassembler.push(d, id, since) {
                self.save(message).await;
            }
        }
        self.expire().await;
    }
}

/// A decoded report in the store's terms.
fn store_report<'a>(
    modem: &'a str,
    r: &'a StatusReport,
    key: Option<&'a str>,
    delivered: Option<bool>,
) -> Report<'a> {
    Report {
        modem,
        reference: r.reference,
        recipient: &r.recipient,
        recipient_key: key,
        submitted_ms: r.sent.epoch_ms(),
        submitted_at: r.sent.to_rfc3339(),
        discharged_at: r.discharged.to_rfc3339(),
        status: r.status,
        delivered,
    }
}

/// Why a report matched no part, for the person who looks at it.
fn unmatched_reason(r: &StatusReport, is_number: bool) -> String {
    if !is_number {
        return format!("the recipient {:?} is not a phone number", r.recipient);
    }
    if r.sent.epoch_ms().is_none() {
        return "its send time stamp is not a real time".into();
    }
    format!(
        "no part this modem sent with reference {} to {} within {} minutes of {}",
        r.reference,
        r.recipient,
        REPORT_WINDOW_MS / 60_000,
        r.sent.to_rfc3339()
    )
}

fn signal(s: LineSignal) -> LineEventKind {
    LineEventKind::Signal(s)
}

/// The next command for the modem's line, or never when it takes none.
async fn next_command(
    commands: &mut Option<crate::devices::serial::Commands>,
) -> Option<(Arc<str>, crate::calls::LineCommand)> {
    match commands {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
