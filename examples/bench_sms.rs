//! What callpop adds per SMS part, against a simulated modem that answers
//! at once: first the bare AT exchange (`AT+CMGS`, prompt, PDU, `+CMGS`)
//! over a pseudo-terminal, then the whole queue path (part claimed and
//! marked `sending` in SQLite, handed to the modem driver, outcome
//! recorded, delivery report matched). The difference is the daemon's own
//! cost per part.
//!
//! cargo run --release --example bench_sms -- [PARTS]

mod common;

use callpop::calls::CallPolicy;
use callpop::config::SmsConfig;
use callpop::devices::gsm::port::AtPort;
use callpop::devices::profile::load_all;
use callpop::devices::serial::BoxDevice;
use callpop::engine::Engine;
use callpop::phone::{MatchPolicy, Normalizer, NormalizerSettings};
use callpop::sim::modem::{ModemOptions, ModemSim};
use callpop::sms::Outbox;
use callpop::store::{PartState, Store, StoreHandle};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let parts: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000);
    let dir = tempfile::tempdir().unwrap();
    let profile = Arc::new(load_all(None).unwrap()["simcom-sim800"].clone());
    let options = ModemOptions {
        send_latency: Duration::ZERO,
        report_delay: Duration::ZERO,
        ..ModemOptions::default()
    };
    let settings = SmsConfig::default();

    // 1. The bare AT exchange, nothing of callpop's queue around it.
    let link = dir.path().join("bare");
    let sim = ModemSim::start(profile.clone(), &link, options.clone()).unwrap();
    let mut port = AtPort::open(&link, profile.clone()).unwrap();
    port.init().await.unwrap();
    let pdu = callpop::sms::outbox::encode(&settings, "13800138000", "Your code is 123456", 0)
        .unwrap()
        .remove(0);
    let mut times = Vec::with_capacity(parts);
    let start = Instant::now();
    for _ in 0..parts {
        let t = Instant::now();
        port.send_pdu(&pdu.hex, pdu.tpdu_len).await.unwrap();
        times.push(t.elapsed());
    }
    let bare = start.elapsed();
    common::report("bare AT+CMGS exchange", &times);
    drop(port);
    drop(sim);

    // 2. The queue: store, worker, driver, reports.
    let link = dir.path().join("queued");
    let _sim = ModemSim::start(profile.clone(), &link, options).unwrap();
    let store = StoreHandle::spawn(Store::open(&dir.path().join("bench.db")).unwrap());
    let engine = Engine::new(
        store.clone(),
        Arc::new(Normalizer::new(NormalizerSettings::default())),
        MatchPolicy::default(),
        CallPolicy::default(),
    )
    .unwrap();
    let lines =
        callpop::lines::spawn(engine, vec![BoxDevice::new("m1", link, profile)], None).unwrap();
    let mut modem = lines.modems[0].clone();
    assert!(modem.wait_up().await);
    let outbox = Outbox::new(store.clone(), settings);
    let mut events = lines.sms_events.subscribe();
    // Queued before the worker starts, so only sending is timed.
    for i in 0..parts {
        outbox
            .queue(&format!("1380013{i:04}"), "Your code is 123456", None)
            .await
            .unwrap();
    }
    let start = Instant::now();
    let workers = callpop::sms::start(&outbox, &lines.modems, lines.sms_events.clone())
        .await
        .unwrap();
    let (mut sent, mut delivered) = (0, 0);
    let mut sent_at = start.elapsed();
    while delivered < parts {
        if let Ok(callpop::event::SmsEvent::Part { state, .. }) = events.recv().await {
            match state {
                PartState::Sent => {
                    sent += 1;
                    if sent == parts {
                        sent_at = start.elapsed();
                    }
                }
                PartState::Delivered => delivered += 1,
                _ => {}
            }
        }
    }
    let all = start.elapsed();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / parts as f64;
    println!(
        "bare exchange: {parts} parts in {:.2} s, {:.0} us a part, {:.0} parts/s",
        bare.as_secs_f64(),
        per(bare),
        parts as f64 / bare.as_secs_f64()
    );
    println!(
        "queued: {parts} parts sent in {:.2} s ({:.0} us a part, {:.0} parts/s), all delivery reports matched after {:.2} s",
        sent_at.as_secs_f64(),
        per(sent_at),
        parts as f64 / sent_at.as_secs_f64(),
        all.as_secs_f64()
    );
    println!(
        "callpop's own cost per part (queued minus bare): {:.0} us",
        per(sent_at) - per(bare)
    );
    for w in workers {
        w.abort();
    }
    lines.stop().await;
}
