//! The AT session core against the simulated GSM modem over a real
//! pseudo-terminal, in several profiles' flavours: init, a Chinese long
//! message sent part by part with references and delivery reports, errors
//! injected, incoming multi-part Chinese messages read and reassembled, a
//! call's caller ID, and URCs in the middle of commands.

use callpop::devices::gsm::at::{AtError, AtEvent, AtSession, Urc};
use callpop::devices::gsm::concat::Reassembler;
use callpop::devices::gsm::pdu::{self, Incoming, Submit};
use callpop::devices::profile::{load_all, LoadedProfile};
use callpop::sim::modem::{ModemOptions, ModemSim, SendFailure};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A test-side modem user: the pure session plus the port's bytes.
struct Line {
    port: tokio_serial::SerialStream,
    session: AtSession,
    urcs: Vec<Urc>,
}

impl Line {
    fn open(profile: &LoadedProfile, sim: &ModemSim) -> Line {
        let port =
            callpop::devices::serial::open_port(sim.link(), &profile.profile.serial).unwrap();
        Line {
            port,
            session: AtSession::new(
                profile.profile.quirks.error_replies.clone(),
                profile.profile.gsm.urc_prefixes.clone(),
            ),
            urcs: Vec::new(),
        }
    }

    /// Reads until `done` says stop; URCs are kept aside.
    async fn read_until(&mut self, mut done: impl FnMut(&AtEvent) -> bool) -> AtEvent {
        let mut buf = [0u8; 512];
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let n = self.port.read(&mut buf).await.unwrap();
                for e in self.session.feed(&buf[..n]) {
                    match e {
                        AtEvent::Urc(u) => self.urcs.push(u),
                        other if done(&other) => return other,
                        _ => {}
                    }
                }
            }
        })
        .await
        .expect("the modem answered")
    }

    async fn cmd(&mut self, command: &str) -> Result<Vec<String>, AtError> {
        self.cmd_until(command, None).await
    }

    async fn cmd_until(
        &mut self,
        command: &str,
        done: Option<&str>,
    ) -> Result<Vec<String>, AtError> {
        let bytes = self
            .session
            .start_until(command, done)
            .expect("one command at a time");
        self.port.write_all(&bytes).await.unwrap();
        match self.read_until(|e| matches!(e, AtEvent::Done { .. })).await {
            AtEvent::Done { result, .. } => result,
            other => panic!("{other:?}"),
        }
    }

    /// `AT+CMGS`, the prompt, the PDU: the message reference or the error.
    async fn send(&mut self, part: &pdu::SubmitPdu) -> Result<u8, AtError> {
        let bytes = self
            .session
            .start(&format!("AT+CMGS={}", part.tpdu_len))
            .unwrap();
        self.port.write_all(&bytes).await.unwrap();
        self.read_until(|e| matches!(e, AtEvent::Prompt)).await;
        let mut pdu = part.hex.clone().into_bytes();
        pdu.push(0x1a);
        self.port.write_all(&pdu).await.unwrap();
        match self.read_until(|e| matches!(e, AtEvent::Done { .. })).await {
            AtEvent::Done { result, .. } => result.map(|lines| {
                lines
                    .iter()
                    .find_map(|l| l.strip_prefix("+CMGS:"))
                    .and_then(|r| r.trim().parse().ok())
                    .expect("+CMGS: <mr>")
            }),
            other => panic!("{other:?}"),
        }
    }

    async fn init(&mut self, profile: &LoadedProfile) {
        for step in &profile.profile.init {
            // Firmware that answers AT+CPIN? without OK: the answer ends it.
            let done = (profile.profile.gsm.cpin_without_ok && step.send == "AT+CPIN?")
                .then_some("+CPIN:");
            let r = self.cmd_until(&step.send, done).await;
            assert!(r.is_ok() || step.optional, "{}: {r:?}", step.send);
        }
    }
}

fn profile(name: &str) -> Arc<LoadedProfile> {
    Arc::new(load_all(None).unwrap()[name].clone())
}

#[tokio::test]
async fn a_long_chinese_message_goes_out_part_by_part_with_reports() {
    let p = profile("simcom-sim800");
    let dir = tempfile::tempdir().unwrap();
    let sim = ModemSim::start(p.clone(), &dir.path().join("tty"), ModemOptions::default()).unwrap();
    let mut line = Line::open(&p, &sim);
    line.init(&p).await; // with echo on at first, then ATE0
    let text: String = "尊敬的客户您好，您的工单已受理，我们将尽快与您联系。"
        .chars()
        .cycle()
        .take(300)
        .collect();
    let parts = pdu::encode_submit(
        &Submit {
            to: "+8613800138000",
            text: &text,
            status_report: true,
            validity_minutes: Some(1440),
            smsc: None,
        },
        9,
    )
    .unwrap();
    assert_eq!(parts.len(), 5);
    let mut refs = Vec::new();
    for part in &parts {
        refs.push(line.send(part).await.unwrap());
    }
    assert_eq!(refs, [0, 1, 2, 3, 4]);
    let sent = sim.sent();
    assert_eq!(
        sent.iter().map(|s| s.text.as_str()).collect::<String>(),
        text
    );
    assert!(sent.iter().all(|s| s.to == "+8613800138000"));
    // Every part's delivery report comes back with its reference.
    let _ = tokio::time::timeout(Duration::from_millis(500), line.read_until(|_| false)).await;
    let mut reported: Vec<u8> = line
        .urcs
        .iter()
        .filter_map(|u| match u {
            Urc::StatusReport { pdu } => match pdu::decode(pdu).unwrap() {
                Incoming::StatusReport(r) => Some(r.reference),
                _ => None,
            },
            _ => None,
        })
        .collect();
    reported.sort();
    assert_eq!(reported, refs);
}

#[tokio::test]
async fn send_errors_and_silence_are_reported_not_swallowed() {
    let p = profile("simcom-sim800");
    let dir = tempfile::tempdir().unwrap();
    let sim = ModemSim::start(p.clone(), &dir.path().join("tty"), ModemOptions::default()).unwrap();
    let mut line = Line::open(&p, &sim);
    line.init(&p).await;
    let part = &pdu::encode_submit(
        &Submit {
            to: "13800138000",
            text: "test",
            status_report: false,
            validity_minutes: None,
            smsc: None,
        },
        0,
    )
    .unwrap()[0];
    sim.fail_next_send(SendFailure::Cms(330));
    let e = line.send(part).await.unwrap_err();
    assert_eq!(e, AtError::Cms(330));
    assert_eq!(
        e.explain().0,
        callpop::devices::gsm::at::ErrorClass::Permanent
    );
    // A wrong length is refused like a real modem refuses it.
    let mut wrong = part.clone();
    wrong.tpdu_len += 1;
    assert_eq!(line.send(&wrong).await.unwrap_err(), AtError::Cms(304));
    // No answer at all: the caller's timeout fires and the session is freed.
    sim.fail_next_send(SendFailure::NoReply);
    let bytes = line
        .session
        .start(&format!("AT+CMGS={}", part.tpdu_len))
        .unwrap();
    line.port.write_all(&bytes).await.unwrap();
    line.read_until(|e| matches!(e, AtEvent::Prompt)).await;
    line.port
        .write_all(format!("{}\x1a", part.hex).as_bytes())
        .await
        .unwrap();
    let waited = tokio::time::timeout(
        Duration::from_millis(300),
        line.read_until(|e| matches!(e, AtEvent::Done { .. })),
    )
    .await;
    assert!(waited.is_err(), "no answer came");
    assert!(line.session.abandon().is_some());
    assert_eq!(line.cmd("AT").await, Ok(vec![]));
    assert_eq!(sim.sent().len(), 0, "nothing was sent");
}

#[tokio::test]
async fn incoming_chinese_messages_are_read_deleted_and_reassembled() {
    for name in ["huawei-e1752", "quectel"] {
        let p = profile(name);
        let dir = tempfile::tempdir().unwrap();
        let sim =
            ModemSim::start(p.clone(), &dir.path().join("tty"), ModemOptions::default()).unwrap();
        let mut line = Line::open(&p, &sim);
        line.init(&p).await;
        let text: String = "您好，我想咨询一下贵公司的售后服务，请回电，谢谢。"
            .chars()
            .cycle()
            .take(150)
            .collect();
        sim.receive("+8613912345678", &text).await;
        let _ = tokio::time::timeout(Duration::from_millis(300), line.read_until(|_| false)).await;
        let indexes: Vec<u32> = line
            .urcs
            .iter()
            .filter_map(|u| match u {
                Urc::NewMessageStored { index, .. } => Some(*index),
                _ => None,
            })
            .collect();
        assert_eq!(indexes.len(), 3, "{name}");
        let mut parts = Reassembler::new(Duration::from_secs(60));
        let mut whole = None;
        for index in indexes.iter().rev() {
            let lines = line.cmd(&format!("AT+CMGR={index}")).await.unwrap();
            let Incoming::Deliver(d) = pdu::decode(lines.last().unwrap()).unwrap() else {
                panic!("not a delivered message")
            };
            line.cmd(&format!("AT+CMGD={index}")).await.unwrap();
            whole = whole.or(parts.push(d, *index, Instant::now()));
        }
        let m = whole.expect("complete");
        assert_eq!(
            (m.sender.as_str(), m.text.as_str()),
            ("+8613912345678", text.as_str())
        );
        assert_eq!(sim.stored(), 0, "read messages are deleted");
        // The flavour's quirks: an unknown command, and AT+CPIN? as it answers.
        let unknown = line.cmd("AT+FOO").await.unwrap_err();
        assert_eq!(
            unknown,
            AtError::Error(p.profile.quirks.error_replies.last().unwrap().clone())
        );
    }
}

#[tokio::test]
async fn a_call_and_urcs_in_the_middle_of_a_command() {
    let p = profile("simcom-sim800");
    let dir = tempfile::tempdir().unwrap();
    let sim = ModemSim::start(p.clone(), &dir.path().join("tty"), ModemOptions::default()).unwrap();
    let mut line = Line::open(&p, &sim);
    line.init(&p).await;
    sim.ring(Some("13812345678")).await;
    sim.receive("10086", "hi").await;
    let r = line.cmd("AT+CSQ").await.unwrap();
    assert_eq!(r, ["+CSQ: 21,99"]);
    sim.hang_up().await;
    let _ = tokio::time::timeout(Duration::from_millis(200), line.read_until(|_| false)).await;
    assert!(line.urcs.contains(&Urc::Ring));
    assert!(line.urcs.contains(&Urc::Clip {
        number: Some("13812345678".into())
    }));
    assert!(line
        .urcs
        .iter()
        .any(|u| matches!(u, Urc::NewMessageStored { .. })));
    assert!(line.urcs.contains(&Urc::CallEnded("NO CARRIER".into())));
}

#[tokio::test]
async fn every_gsm_profile_initialises_and_probes_through_the_port() {
    use callpop::devices::gsm::port::{probe, AtPort};
    use callpop::devices::profile::DeviceKind;
    let all = load_all(None).unwrap();
    let gsm: Vec<&String> = all
        .iter()
        .filter(|(_, p)| p.profile.kind == DeviceKind::GsmModem)
        .map(|(n, _)| n)
        .collect();
    assert!(gsm.len() >= 6);
    for name in gsm {
        let p = profile(name);
        let dir = tempfile::tempdir().unwrap();
        let sim =
            ModemSim::start(p.clone(), &dir.path().join("tty"), ModemOptions::default()).unwrap();
        let mut at = AtPort::open(sim.link(), p.clone()).unwrap();
        at.init().await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let info = probe(&mut at).await.unwrap();
        assert_eq!(info.sim.as_deref(), Some("READY"), "{name}");
        assert_eq!(info.signal_dbm, Some(-71), "{name}");
        assert_eq!(info.imsi.as_deref(), Some("460001234567890"), "{name}");
        // A refused command is an error naming it, in words.
        let e = at.command("AT+NOPE").await.unwrap_err();
        assert!(e.to_string().contains("AT+NOPE"), "{e}");
    }
}
