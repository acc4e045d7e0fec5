//! The GSM side end to end over pseudo-terminals: simulated modems in every
//! profile's flavour, the real drivers on the line thread, the call engine,
//! the SMS queue in a real SQLite file and one worker per modem.
//!
//! Covered: long Chinese messages out (concatenated UCS2, one SIM per
//! message, references recorded, delivery reports matched), multi-part
//! Chinese messages in (stored before deletion, reassembled, also across a
//! restart), a `+CLIP` call reaching the engine, every error class
//! (transient retried, permanent failed, silence = unknown and the modem
//! recovered), a stuck modem, a slow starter, and unplug/replug mid-send.

use callpop::calls::CallPolicy;
use callpop::config::SmsConfig;
use callpop::devices::profile::{load_all, DeviceKind, LoadedProfile};
use callpop::devices::serial::BoxDevice;
use callpop::engine::Engine;
use callpop::event::{CallEvent, DeviceState, Outcome, SmsEvent};
use callpop::phone::{MatchPolicy, Normalizer, NormalizerSettings};
use callpop::sim::modem::{ModemOptions, ModemSim, SendFailure};
use callpop::sms::Outbox;
use callpop::store::{PartRow, PartState, Store, StoreHandle};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

const LONG_CHINESE: &str = "您好，这里是客服中心。您的工单已受理，我们的工程师将于明天上午九点到十二点之间上门服务，请保持电话畅通。如需改约请回复本短信或致电客服热线。";

fn long_chinese(chars: usize) -> String {
    LONG_CHINESE.chars().cycle().take(chars).collect()
}

fn gsm_profiles() -> Vec<LoadedProfile> {
    load_all(None)
        .unwrap()
        .into_values()
        .filter(|p| p.profile.kind == DeviceKind::GsmModem)
        .collect()
}

fn profile(name: &str) -> LoadedProfile {
    load_all(None).unwrap()[name].clone()
}

/// A profile with test-sized timeouts.
fn quick(mut p: LoadedProfile) -> LoadedProfile {
    p.profile.gsm.command_timeout_ms = 400;
    p.profile.gsm.send_timeout_ms = 800;
    p.profile.gsm.retry_after_ms = 150;
    p
}

struct Gsm {
    store: StoreHandle,
    outbox: Outbox,
    calls: broadcast::Receiver<CallEvent>,
    sms: broadcast::Receiver<SmsEvent>,
    lines: Option<callpop::lines::Lines>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Gsm {
    /// The stack over `db` with one modem per `(name, profile, link)`.
    async fn start(db: &Path, modems: &[(&str, LoadedProfile, &Path)], sms: SmsConfig) -> Gsm {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let store = StoreHandle::spawn(Store::open(db).unwrap());
        let normalizer = Arc::new(Normalizer::new(NormalizerSettings::default()));
        let engine = Engine::new(
            store.clone(),
            normalizer,
            MatchPolicy::default(),
            CallPolicy::default(),
        )
        .unwrap();
        let calls = engine.subscribe();
        let devices = modems
            .iter()
            .map(|(name, p, link)| BoxDevice::new(name, link.to_path_buf(), Arc::new(p.clone())))
            .collect();
        let lines = callpop::lines::spawn(engine, devices, None).unwrap();
        let sms_rx = lines.sms_events.subscribe();
        let outbox = Outbox::new(store.clone(), sms);
        let workers = callpop::sms::start(&outbox, &lines.modems, lines.sms_events.clone())
            .await
            .unwrap();
        Gsm {
            store,
            outbox,
            calls,
            sms: sms_rx,
            lines: Some(lines),
            workers,
        }
    }

    async fn stop(mut self) {
        for w in self.workers.drain(..) {
            w.abort();
        }
        if let Some(lines) = self.lines.take() {
            lines.stop().await;
        }
    }

    async fn parts(&self, message: i64) -> Vec<PartRow> {
        self.store
            .sms()
            .call(move |s| s.sms_parts(message))
            .await
            .unwrap()
    }

    /// Waits until every part of `message` is in a final state.
    async fn settled(&self, message: i64) -> Vec<PartRow> {
        for _ in 0..400 {
            let parts = self.parts(message).await;
            if parts.iter().all(|p| {
                matches!(
                    p.state,
                    PartState::Delivered | PartState::Failed | PartState::Unknown
                )
            }) {
                return parts;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "message {message} never settled: {:?}",
            self.parts(message).await
        )
    }

    async fn received(&mut self) -> SmsEvent {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match self.sms.recv().await.unwrap() {
                    e @ SmsEvent::Received { .. } => return e,
                    _ => continue,
                }
            }
        })
        .await
        .expect("a message arrives")
    }

    async fn call_event(&mut self, want: impl Fn(&CallEvent) -> bool) -> CallEvent {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let e = self.calls.recv().await.unwrap();
                if want(&e) {
                    return e;
                }
            }
        })
        .await
        .expect("the call event")
    }
}

fn sms_settings() -> SmsConfig {
    SmsConfig {
        retry_after_secs: 0,
        ..SmsConfig::default()
    }
}

/// One simulated modem of `profile` (test-sized timeouts) and the stack
/// over it, as modem `m1`.
async fn one_modem(
    profile_name: &str,
    options: ModemOptions,
) -> (tempfile::TempDir, ModemSim, Gsm) {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let p = quick(profile(profile_name));
    let sim = ModemSim::start(Arc::new(p.clone()), &link, options).unwrap();
    let gsm = Gsm::start(&dir.path().join("db"), &[("m1", p, &link)], sms_settings()).await;
    (dir, sim, gsm)
}

/// Every profile's flavour at once: six modems on one engine. Each sends a
/// long Chinese message (all parts through one SIM, as one concatenated
/// UCS2 message, every part delivered), receives one in three parts, and
/// takes a call whose caller ID reaches the engine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_profile_sends_receives_and_rings() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = gsm_profiles();
    assert!(profiles.len() >= 6, "a profile for each family");
    let mut sims = Vec::new();
    let mut modems = Vec::new();
    let names: Vec<String> = (1..=profiles.len()).map(|i| format!("gsm{i}")).collect();
    let links: Vec<_> = names.iter().map(|n| dir.path().join(n)).collect();
    for (i, p) in profiles.iter().enumerate() {
        sims.push(
            ModemSim::start(Arc::new(p.clone()), &links[i], ModemOptions::default()).unwrap(),
        );
    }
    for (i, p) in profiles.iter().enumerate() {
        modems.push((names[i].as_str(), p.clone(), links[i].as_path()));
    }
    let mut gsm = Gsm::start(&dir.path().join("db"), &modems, sms_settings()).await;

    let text = long_chinese(300);
    let mut ids = Vec::new();
    for i in 0..profiles.len() {
        let to = format!("1380013800{i}");
        ids.push((gsm.outbox.queue(&to, &text, None).await.unwrap(), to));
    }
    for (id, to) in &ids {
        let parts = gsm.settled(*id).await;
        assert_eq!(parts.len(), 5, "300 Chinese characters are five UCS2 parts");
        assert!(
            parts.iter().all(|p| p.state == PartState::Delivered),
            "{parts:?}"
        );
        let modem = parts[0].modem.clone().unwrap();
        assert!(
            parts.iter().all(|p| p.modem.as_deref() == Some(&modem)),
            "one SIM"
        );
        // What the network got from that modem: five parts of one message.
        let sim = &sims[names.iter().position(|n| *n == modem).unwrap()];
        // The outbox normalised the recipient: the network sees E.164.
        let e164 = format!("+86{to}");
        let sent: Vec<_> = sim.sent().into_iter().filter(|s| s.to == e164).collect();
        assert_eq!(sent.len(), 5);
        let reference = sent[0].concat.unwrap().reference;
        for (i, s) in sent.iter().enumerate() {
            let c = s.concat.expect("a concatenation header");
            assert_eq!((c.reference, c.total, c.seq), (reference, 5, i as u8 + 1));
            assert_eq!(s.encoding, callpop::devices::gsm::pdu::Encoding::Ucs2);
        }
        assert_eq!(
            sent.iter().map(|s| s.text.as_str()).collect::<String>(),
            text
        );
        // Each part's recorded reference is the one the modem gave.
        let refs: Vec<_> = parts.iter().map(|p| p.reference.unwrap()).collect();
        assert_eq!(refs, sent.iter().map(|s| s.reference).collect::<Vec<_>>());
    }

    for (i, sim) in sims.iter().enumerate() {
        let incoming = format!("{}（来自{}）", long_chinese(150), names[i]);
        sim.receive("+8613912345678", &incoming).await;
        let SmsEvent::Received {
            modem,
            sender,
            text,
            parts,
            missing,
            ..
        } = gsm.received().await
        else {
            unreachable!()
        };
        assert_eq!((modem.as_str(), parts), (names[i].as_str(), 3));
        assert_eq!((sender.as_str(), text), ("+8613912345678", incoming));
        assert!(missing.is_empty());
        // The last part is deleted from the SIM right after it is kept.
        for _ in 0..100 {
            if sim.stored() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(sim.stored(), 0, "{}: read messages are deleted", names[i]);
    }
    let inbox = gsm.store.sms().call(|s| s.sms_inbox(100)).await.unwrap();
    assert_eq!(inbox.len(), profiles.len());

    for (i, sim) in sims.iter().enumerate() {
        let line = format!("{}/1", names[i]);
        sim.ring(Some("13912345678")).await;
        let e = gsm
            .call_event(|e| matches!(e, CallEvent::CallerIdentified { .. }))
            .await;
        let CallEvent::CallerIdentified {
            line: l, caller, ..
        } = e
        else {
            unreachable!()
        };
        assert_eq!(&*l, line.as_str());
        assert_eq!(caller.raw_number.as_deref(), Some("13912345678"));
        sim.hang_up().await;
        let e = gsm
            .call_event(|e| matches!(e, CallEvent::Ended { .. }))
            .await;
        let CallEvent::Ended {
            line: l, outcome, ..
        } = e
        else {
            unreachable!()
        };
        assert_eq!((&*l, outcome), (line.as_str(), Outcome::Abandoned));
    }
    gsm.stop().await;
}

/// Every error class: a transient refusal is retried and then sent, a
/// permanent one fails with its reason in both languages, silence after the
/// PDU leaves the part unknown (never re-sent) and the modem recovered for
/// the next message; a report saying "given up" fails the part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_classes_are_handled_as_they_mean() {
    let (_dir, sim, gsm) = one_modem("simcom-sim800", ModemOptions::default()).await;

    sim.fail_next_send(SendFailure::Cms(38));
    let id = gsm
        .outbox
        .queue("13800138000", "network congested once", None)
        .await
        .unwrap();
    let parts = gsm.settled(id).await;
    assert_eq!(
        (parts[0].state, parts[0].attempts),
        (PartState::Delivered, 2)
    );

    sim.fail_next_send(SendFailure::Cms(28));
    let id = gsm
        .outbox
        .queue("13800138001", "no such subscriber", None)
        .await
        .unwrap();
    let parts = gsm.settled(id).await;
    assert_eq!((parts[0].state, parts[0].attempts), (PartState::Failed, 1));
    let why = parts[0].error.clone().unwrap();
    assert!(
        why.contains("+CMS ERROR: 28") && why.contains("用户不存在"),
        "{why}"
    );

    let before = sim.sent().len();
    sim.fail_next_send(SendFailure::NoReply);
    let id = gsm
        .outbox
        .queue("13800138002", "lost in the modem", None)
        .await
        .unwrap();
    let parts = gsm.settled(id).await;
    assert_eq!(parts[0].state, PartState::Unknown);
    assert!(
        parts[0].error.as_deref().unwrap().contains("no answer"),
        "{parts:?}"
    );
    // Recovered without a replug: the next message goes out, the unknown
    // one was not sent again.
    let id = gsm
        .outbox
        .queue("13800138003", "after recovery", None)
        .await
        .unwrap();
    assert_eq!(gsm.settled(id).await[0].state, PartState::Delivered);
    let sent = sim.sent();
    assert_eq!(sent.len(), before + 1);
    assert_eq!(sent.last().unwrap().to, "+8613800138003");

    sim.set_report_status(0x41);
    let id = gsm
        .outbox
        .queue("13800138004", "never delivered", None)
        .await
        .unwrap();
    let parts = gsm.settled(id).await;
    assert_eq!(
        (parts[0].state, parts[0].report_status),
        (PartState::Failed, Some(0x41))
    );
    gsm.stop().await;
}

/// A modem whose firmware hangs is brought back (ESC, AT, init; a reopen
/// if that is not enough) and the part it did not take goes out after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_modem_is_recovered_and_the_part_sent() {
    let (_dir, sim, gsm) = one_modem("quectel", ModemOptions::default()).await;
    let id = gsm
        .outbox
        .queue("13800138000", "before", None)
        .await
        .unwrap();
    assert_eq!(gsm.settled(id).await[0].state, PartState::Delivered);

    sim.stall_for(Duration::from_millis(1500));
    let id = gsm
        .outbox
        .queue("13800138001", "while it hangs", None)
        .await
        .unwrap();
    let parts = gsm.settled(id).await;
    assert_eq!(parts[0].state, PartState::Delivered, "{parts:?}");
    assert!(parts[0].attempts >= 2, "the first try found it hung");
    assert_eq!(sim.sent().len(), 2);
    gsm.stop().await;
}

/// A delivery report that arrives at once (even before the worker has
/// recorded the part's reference) is still matched to its part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_delivery_reports_are_matched() {
    let options = ModemOptions {
        send_latency: Duration::ZERO,
        report_delay: Duration::ZERO,
        ..ModemOptions::default()
    };
    let (_dir, _sim, gsm) = one_modem("simcom-sim800", options).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let to = format!("1380013{i:04}");
        ids.push(gsm.outbox.queue(&to, "instant", None).await.unwrap());
    }
    for id in ids {
        let parts = gsm.settled(id).await;
        assert_eq!(parts[0].state, PartState::Delivered, "{parts:?}");
    }
    gsm.stop().await;
}

/// A modem still starting (`+CME ERROR: 515`, SIM busy) is waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modem_still_starting_is_waited_for() {
    let options = ModemOptions {
        starting_for: Duration::from_millis(700),
        ..ModemOptions::default()
    };
    let (_dir, sim, gsm) = one_modem("huawei-e1752", options).await;
    let id = gsm.outbox.queue("13800138000", "你好", None).await.unwrap();
    assert_eq!(gsm.settled(id).await[0].state, PartState::Delivered);
    assert_eq!(sim.sent().len(), 1);
    gsm.stop().await;
}

/// Unplugged while a part is with the network: that part is unknown (not
/// re-sent, not lost), the driver reconnects when it is back, and the rest
/// of the message goes out through the same SIM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplugged_mid_send_the_part_is_unknown_and_the_rest_follows() {
    let options = ModemOptions {
        send_latency: Duration::from_millis(600),
        ..ModemOptions::default()
    };
    let (_dir, sim, mut gsm) = one_modem("zte-mf", options).await;
    let id = gsm
        .outbox
        .queue("13800138000", &long_chinese(200), None)
        .await
        .unwrap();
    // Part 1 goes out; part 2 is with the network when the modem vanishes.
    for i in 0.. {
        let parts = gsm.parts(id).await;
        if parts[0].state != PartState::Queued && parts[1].state == PartState::Sending {
            break;
        }
        assert!(i < 1000, "part 2 never went to the modem: {parts:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    sim.unplug();
    let down = async {
        loop {
            if let SmsEvent::Modem {
                state: DeviceState::Down { .. },
                ..
            } = gsm.sms.recv().await.unwrap()
            {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), down)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    sim.plug_in().unwrap();
    let mut parts = gsm.parts(id).await;
    for _ in 0..400 {
        if parts[2].state == PartState::Delivered {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        parts = gsm.parts(id).await;
    }
    // Part 1's report may have been lost with the unplug (then it stays
    // `sent`, with its reference); part 2 is unknown; part 3 went out
    // after the replug through the same SIM.
    assert!(
        matches!(parts[0].state, PartState::Sent | PartState::Delivered),
        "{parts:?}"
    );
    assert_eq!(
        (parts[1].state, parts[2].state),
        (PartState::Unknown, PartState::Delivered),
        "{parts:?}"
    );
    assert!(parts[1].error.is_some());
    let sent: Vec<u8> = sim.sent().iter().map(|s| s.concat.unwrap().seq).collect();
    assert_eq!(sent, [1, 3], "part 2 was not sent again");
    gsm.stop().await;
}

/// Parts of a long incoming message survive a restart: one part arrives,
/// callpop stops, the rest arrives after it starts again, and the message
/// is whole. Parts left `sending` by the dead process become unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_parts_and_interrupted_sends_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let db = dir.path().join("db");
    let p = profile("simcom-sim800");
    let sim = ModemSim::start(Arc::new(p.clone()), &link, ModemOptions::default()).unwrap();
    let text = long_chinese(120); // two UCS2 parts of up to 67

    let gsm = Gsm::start(&db, &[("m1", p.clone(), &link)], sms_settings()).await;
    sim.receive_parts("+8613912345678", &text, 77, &[2]).await;
    for _ in 0..200 {
        if sim.stored() == 0
            && !gsm
                .store
                .sms()
                .call(|s| s.sms_waiting_parts("m1"))
                .await
                .unwrap()
                .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sim.stored(), 0, "kept, then deleted from the SIM");
    gsm.stop().await;
    // A part the dead process was sending.
    {
        let store = Store::open(&db).unwrap();
        store
            .sms()
            .queue_sms(&callpop::store::NewSms {
                to: "13800138000",
                text: "x",
                encoding: "gsm7",
                parts: vec![("0001000B813108318300F0000001F8".into(), 14)],
                created_by: None,
            })
            .unwrap();
        store.sms().claim_sms_part("m1").unwrap().unwrap();
    }

    let mut gsm = Gsm::start(&db, &[("m1", p, &link)], sms_settings()).await;
    let parts = gsm.parts(1).await;
    assert_eq!(parts[0].state, PartState::Unknown);
    sim.receive_parts("+8613912345678", &text, 77, &[1]).await;
    let SmsEvent::Received {
        text: got, parts, ..
    } = gsm.received().await
    else {
        unreachable!()
    };
    assert_eq!((got, parts), (text, 2));
    assert!(
        sim.sent().is_empty(),
        "the interrupted part was not re-sent"
    );
    gsm.stop().await;
}

/// An unknown part waits for a person: settled as failed it stays failed;
/// put back to the queue it is sent again; a part that is not unknown
/// cannot be settled by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_parts_are_settled_by_a_person() {
    let (_dir, sim, gsm) = one_modem("simcom-sim800", ModemOptions::default()).await;
    let mut unknown = Vec::new();
    for to in ["13800138010", "13800138011"] {
        sim.fail_next_send(SendFailure::NoReply);
        let id = gsm.outbox.queue(to, "lost", None).await.unwrap();
        let parts = gsm.settled(id).await;
        assert_eq!(parts[0].state, PartState::Unknown);
        unknown.push((id, parts[0].id));
    }
    let sent_before = sim.sent().len();
    let ((_, failed), (resend_msg, resend)) = (unknown[0], unknown[1]);
    gsm.store
        .sms()
        .call(move |s| {
            s.settle_unknown(failed, PartState::Failed, "the customer never got it")?;
            s.settle_unknown(resend, PartState::Queued, "send again")
        })
        .await
        .unwrap();
    let parts = gsm.settled(resend_msg).await;
    assert_eq!(parts[0].state, PartState::Delivered);
    assert_eq!(sim.sent().len(), sent_before + 1);
    let again = gsm
        .store
        .sms()
        .call(move |s| s.settle_unknown(resend, PartState::Failed, "too late"))
        .await;
    assert!(again.is_err(), "a delivered part cannot be settled");
    gsm.stop().await;
}

/// A delivery report that matches no part (no part of this modem has its
/// reference for its recipient) is kept for a person, not applied to
/// another part nor only logged; an undecodable PDU is listed in the inbox
/// with the raw PDU and the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_for_no_part_is_kept_and_an_undecodable_pdu_is_listed() {
    let (_dir, sim, mut gsm) = one_modem("simcom-sim800", ModemOptions::default()).await;
    // A part to +8613800138001 is sent and delivered: reference 1 is used.
    let id = gsm
        .outbox
        .queue("13800138001", "hello", None)
        .await
        .unwrap();
    let part = gsm.settled(id).await.remove(0);
    assert_eq!(part.state, PartState::Delivered);
    let reference = part.reference.unwrap();
    // A second report for that reference, but another recipient's.
    let now =
        callpop::devices::gsm::pdu::Timestamp::from_epoch_ms(callpop::store::now_ms(), 32).unwrap();
    let report = callpop::devices::gsm::pdu::encode_status_report(
        reference,
        "+8613911112222",
        now,
        now,
        0x41,
    )
    .unwrap();
    sim.say(&format!(
        "\r\n+CDS: {}\r\n{report}\r\n",
        report.len() / 2 - 1
    ))
    .await;
    sim.say("\r\n+CMT: ,12\r\n0004FF\r\n").await;
    match gsm.received().await {
        SmsEvent::Received { sender, text, .. } => {
            assert_eq!((sender, text), ("".into(), "".into()))
        }
        other => panic!("{other:?}"),
    }
    let inbox = gsm.store.sms().call(|s| s.sms_inbox(10)).await.unwrap();
    assert_eq!(inbox[0].pdu.as_deref(), Some("0004FF"));
    assert!(
        inbox[0].error.as_deref().unwrap().contains("sender"),
        "{inbox:?}"
    );
    let mut kept = Vec::new();
    for _ in 0..300 {
        kept = gsm
            .store
            .sms()
            .call(|s| s.sms_unmatched_reports(10))
            .await
            .unwrap();
        if !kept.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(kept.len(), 1, "the report is kept for a person");
    assert_eq!(
        (
            kept[0].reference,
            kept[0].recipient.as_str(),
            kept[0].status
        ),
        (reference, "+8613911112222", 0x41)
    );
    assert!(kept[0].reason.contains("no part"), "{}", kept[0].reason);
    // The delivered part was not touched by the stray failure report.
    let after = gsm.parts(id).await.remove(0);
    assert_eq!(
        (after.state, after.report_status),
        (PartState::Delivered, Some(0))
    );
    gsm.stop().await;
}

/// A modem whose SIM is missing fails init, but the delivery report it
/// routed (`+CDS`) while init ran is kept and settles its part. Before, the
/// report was dropped with the port and the part stayed `sent` forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_said_during_a_failed_init_settles_its_part() {
    use callpop::devices::gsm::pdu::{encode_status_report, Timestamp};
    use callpop::sim::transcript::{Transcript, TranscriptDevice};
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let db = dir.path().join("db");
    // A part to +8613800138000 the modem sent with reference 7.
    let id = {
        let store = Store::open(&db).unwrap();
        let id = store
            .sms()
            .queue_sms(&callpop::store::NewSms {
                to: "+8613800138000",
                text: "x",
                encoding: "gsm7",
                parts: vec![("0001000B813108318300F0000001F8".into(), 14)],
                created_by: None,
            })
            .unwrap();
        let part = store.sms().claim_sms_part("m1").unwrap().unwrap();
        store.sms().sms_part_sent(part.id, 7).unwrap();
        id
    };
    let now = Timestamp::from_epoch_ms(callpop::store::now_ms(), 32).unwrap();
    let report = encode_status_report(7, "+8613800138000", now, now, 0).unwrap();
    let ok = |c: &str| (c.to_string(), "OK".to_string());
    let _device = TranscriptDevice::start(
        &link,
        Transcript {
            replies: vec![
                ok("AT"),
                ok("ATE0"),
                ok("AT+CMEE=1"),
                (
                    "AT+CPIN?".into(),
                    format!(
                        "+CDS: {}\r\n{report}\r\n\r\n+CME ERROR: 10",
                        report.len() / 2 - 1
                    ),
                ),
            ],
            otherwise: "ERROR".into(),
            echo: false,
            ..Transcript::default()
        },
    )
    .await
    .unwrap();
    let gsm = Gsm::start(
        &db,
        &[("m1", quick(profile("simcom-sim800")), &link)],
        sms_settings(),
    )
    .await;
    let mut parts = Vec::new();
    for _ in 0..200 {
        parts = gsm.parts(id).await;
        if parts[0].state != PartState::Sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(parts[0].state, PartState::Delivered, "{parts:?}");
    gsm.stop().await;
}
