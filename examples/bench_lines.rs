//! Caller-ID latency through the whole line stack: from the last byte of a
//! caller-ID message written on a pseudo-terminal to the `CallEvent` that
//! pops the screen, through the real serial driver, parser, call engine and
//! store lookup. Target: p99 <= 200 us.
//!
//! cargo run --release --example bench_lines -- [CALLS] [--profile NAME]

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use callpop::calls::CallPolicy;
use callpop::devices::profile::load_all;
use callpop::devices::serial::{run_box, BoxDevice};
use callpop::engine::Engine;
use callpop::event::{CallEvent, DeviceState};
use callpop::phone::{MatchPolicy, Normalizer, NormalizerSettings};
use callpop::sim::script::Action;
use callpop::sim::BoxSim;
use callpop::store::{Store, StoreHandle};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut calls = 10_000usize;
    let mut profile_name = "text-box-4port".to_string();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--profile" => profile_name = args.next().unwrap_or(profile_name),
            n => calls = n.parse()?,
        }
    }
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("lines.db"))?;
    let normalizer = Arc::new(Normalizer::new(NormalizerSettings::default()));
    callpop::demo::seed_customers(&store, &normalizer, 10_000)?;
    let store = StoreHandle::spawn(store);
    let profile = Arc::new(load_all(None)?[&profile_name].clone());
    let link = dir.path().join("tty");
    let mut sim = BoxSim::start(profile.clone(), &link)?;
    let engine = Engine::new(
        store,
        normalizer,
        MatchPolicy::default(),
        CallPolicy::default(),
    );
    let mut events = engine.subscribe();
    let (tx, rx) = mpsc::channel(1024);
    let (tap_tx, mut tap_rx) = mpsc::channel::<callpop::event::LineEvent>(1024);
    // The driver's parse instant of each caller ID, to split the latency.
    let (parsed_tx, mut parsed_rx) = mpsc::unbounded_channel::<Instant>();
    tokio::spawn(engine.run(rx));
    tokio::spawn(async move {
        while let Some(e) = tap_rx.recv().await {
            if matches!(
                e.kind,
                callpop::event::LineEventKind::Signal(callpop::event::LineSignal::CallerId(_))
            ) {
                let _ = parsed_tx.send(e.at);
            }
            if tx.send(e).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(run_box(BoxDevice::new("box1", link, profile), tap_tx));
    loop {
        if let CallEvent::Device {
            state: DeviceState::Up,
            ..
        } = events.recv().await?
        {
            break;
        }
    }
    let numbers: Vec<String> = callpop::demo::SampleCustomers::new(7)
        .take(10_000)
        .map(|c| c.phones[0].replace(' ', ""))
        .collect();
    let mut times = Vec::with_capacity(calls);
    let mut to_driver = Vec::with_capacity(calls);
    for i in 0..calls {
        sim.act(&Action::Ring { port: 1 }).await?;
        let cid = Action::Cid {
            port: 1,
            number: numbers[i % numbers.len()].clone(),
            name: None,
        };
        let start = sim.act(&cid).await?.unwrap_or_else(Instant::now);
        loop {
            match tokio::time::timeout(Duration::from_secs(5), events.recv()).await?? {
                CallEvent::CallerIdentified { .. } => break,
                _ => continue,
            }
        }
        times.push(start.elapsed());
        if let Ok(parsed) = parsed_rx.try_recv() {
            to_driver.push(parsed.saturating_duration_since(start));
        }
        sim.act(&Action::Answer { port: 1 }).await?;
        sim.act(&Action::Hangup { port: 1 }).await?;
        loop {
            if let CallEvent::Ended { .. } = events.recv().await? {
                break;
            }
        }
    }
    times.sort();
    to_driver.sort();
    let p = |v: &Vec<Duration>, q: f64| {
        v[((v.len() as f64 * q) as usize).min(v.len() - 1)].as_secs_f64() * 1e6
    };
    if !to_driver.is_empty() {
        println!(
            "  of which pty write to driver parse: p50 {:.0} us, p99 {:.0} us",
            p(&to_driver, 0.5),
            p(&to_driver, 0.99)
        );
    }
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{profile_name}: {calls} calls, caller-ID byte to CallEvent: p50 {:.0} us, p99 {:.0} us, max {:.0} us",
        pct(0.5).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        times.last().unwrap().as_secs_f64() * 1e6
    );
    Ok(())
}
