//! Every shipped profile's `[[init]]` sequence against a transcript of what
//! its device answers (TS 27.007 / 27.005 result codes as the modems'
//! manuals document them, a voice modem lacking the first caller-ID
//! command, a text box's `$OK`), through the real drivers: the boxes'
//! `run_box` and the GSM port. And a GSM port that finds stale answers,
//! a delivery report and garbage queued before it opened still answers in
//! step and keeps the report.

use callpop::devices::gsm::at::Urc;
use callpop::devices::gsm::port::{probe, AtPort};
use callpop::devices::profile::{load_all, DeviceKind, LoadedProfile};
use callpop::devices::serial::{run_box, BoxDevice};
use callpop::event::{DeviceState, LineEventKind};
use callpop::sim::transcript::{Transcript, TranscriptDevice};
use std::sync::Arc;
use std::time::Duration;

/// What the devices answer: every command the shipped profiles send, with
/// the documented reply.
fn documented() -> Vec<(String, String)> {
    [
        ("AT", "OK"),
        ("ATZ", "OK"),
        ("ATE0", "OK"),
        ("AT+CMEE=1", "OK"),
        ("AT+CPIN?", "+CPIN: READY\r\n\r\nOK"),
        ("AT+CMGF=0", "OK"),
        ("AT+CNMI=2,1,0,2,0", "OK"),
        ("AT+CNMI=2,1,0,1,0", "OK"),
        ("AT+CNMI=2,2,0,1,0", "OK"),
        ("AT+CLIP=1", "OK"),
        ("AT^SM20=0,0", "OK"),
        ("AT^CURC=0", "COMMAND NOT SUPPORT"),
        // A Conexant-style voice modem: no AT+VCID, AT#CID instead.
        ("AT+VCID=1", "ERROR"),
        ("AT#CID=1", "OK"),
        ("$VER", "V2.1\r\n$OK"),
        // For the probe.
        ("AT+CSQ", "+CSQ: 20,99\r\n\r\nOK"),
        ("AT+COPS?", "+COPS: 0,0,\"CHINA MOBILE\",7\r\n\r\nOK"),
        ("AT+CREG?", "+CREG: 0,1\r\n\r\nOK"),
        ("AT+CSCA?", "+CSCA: \"+8613800200500\",145\r\n\r\nOK"),
        ("AT+CGMI", "SIMCOM_Ltd\r\n\r\nOK"),
    ]
    .iter()
    .map(|(c, r)| (c.to_string(), r.to_string()))
    .collect()
}

/// A profile with test-sized GSM timeouts.
fn quick(mut p: LoadedProfile) -> LoadedProfile {
    p.profile.gsm.command_timeout_ms = 500;
    p.profile.gsm.retry_after_ms = 50;
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_profile_initialises_against_its_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (name, profile) in load_all(None).unwrap() {
        if profile.profile.init.is_empty() {
            continue;
        }
        let link = dir.path().join(&name);
        let mut replies = documented();
        if profile.profile.gsm.cpin_without_ok {
            // Firmware that answers AT+CPIN? without a final OK.
            replies.retain(|(c, _)| c != "AT+CPIN?");
            replies.push(("AT+CPIN?".into(), "+CPIN: READY".into()));
        }
        let device = TranscriptDevice::start(
            &link,
            Transcript {
                replies,
                otherwise: "ERROR".into(),
                echo: true,
                ..Transcript::default()
            },
        )
        .await
        .unwrap();
        let profile = Arc::new(quick(profile));
        if profile.profile.kind == DeviceKind::GsmModem {
            let mut port = AtPort::open(&link, profile.clone()).unwrap();
            port.init()
                .await
                .unwrap_or_else(|e| panic!("{name}: {}", e.reason()));
        } else {
            let (tx, mut rx) = tokio::sync::mpsc::channel(16);
            let task = tokio::spawn(run_box(
                BoxDevice::new(&name, link.clone(), profile.clone()),
                tx,
                None,
            ));
            let up = tokio::time::timeout(Duration::from_secs(10), async {
                while let Some(e) = rx.recv().await {
                    if let LineEventKind::Device(state) = e.kind {
                        return state;
                    }
                }
                panic!("{name}: the driver stopped");
            })
            .await
            .unwrap_or_else(|_| panic!("{name}: not up in time"));
            assert_eq!(up, DeviceState::Up, "{name}");
            task.abort();
        }
        // Every step was sent, in order (fallbacks where the first failed).
        let heard = device.heard();
        let mut at = 0;
        for step in &profile.profile.init {
            let found = heard[at..]
                .iter()
                .position(|c| *c == step.send)
                .unwrap_or_else(|| panic!("{name}: {} not sent: {heard:?}", step.send));
            at += found + 1;
        }
        checked += 1;
    }
    assert!(checked >= 8, "{checked} profiles with an init sequence");
}

/// Bytes left in the port before it opened: two stale `OK`s and an
/// `ERROR` (answers to a previous process's commands), a delivery report
/// the modem routed while nobody listened, and line noise. Before, the
/// first stale `OK` answered our `AT`, every later answer was one command
/// late, and init failed; the report was dropped with the port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_bytes_at_start_up_neither_shift_the_answers_nor_lose_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let report = "00062A0D91683108108300F0621122010300236211220103102300";
    let stale =
        format!("\r\nOK\r\n\r\nOK\r\n\r\nERROR\r\n+CDS: 25\r\n{report}\r\n\u{0}garbage\r\n");
    let _device = TranscriptDevice::start(
        &link,
        Transcript {
            stale: stale.into_bytes(),
            replies: documented(),
            otherwise: "ERROR".into(),
            echo: true,
            // A real modem's few ms: its answers come after what waited.
            latency: Duration::from_millis(20),
        },
    )
    .await
    .unwrap();
    let profile = Arc::new(quick(load_all(None).unwrap()["simcom-sim800"].clone()));
    let mut port = AtPort::open(&link, profile).unwrap();
    port.init()
        .await
        .unwrap_or_else(|e| panic!("{}", e.reason()));
    // Answers are each command's own.
    let info = probe(&mut port).await.unwrap();
    assert_eq!(info.signal_dbm, Some(-73));
    assert_eq!(info.operator.as_deref(), Some("CHINA MOBILE"));
    assert_eq!(info.registration.as_deref(), Some("registered (home)"));
    assert_eq!(info.smsc.as_deref(), Some("+8613800200500"));
    assert_eq!(info.manufacturer.as_deref(), Some("SIMCOM_Ltd"));
    // The report that waited in the port is kept for the driver.
    assert!(
        port.urcs
            .iter()
            .any(|u| matches!(u, Urc::StatusReport { pdu } if pdu == report)),
        "{:?}",
        port.urcs
    );
}
