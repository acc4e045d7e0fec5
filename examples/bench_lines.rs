//! Caller-ID latency through the whole line stack: from the last byte of a
//! caller-ID message written on a pseudo-terminal to the `CallEvent` that
//! pops the screen, through the real serial driver, parser, call engine and
//! store lookup (10,000 customers), with the daemon's threads: the simulated
//! box writes from the main runtime, as a device outside the line thread
//! would; driver, engine and the receiver (where the screen-pop hub runs)
//! are on the line thread. Target: p99 <= 200 us.
//!
//! It first measures the machine's floor: one byte through a bare pty pair
//! to a tokio task on another thread, none of callpop's code in between.
//!
//! cargo run --release --example bench_lines -- [CALLS] [--profile NAME] [--gap-ms MS]
//! (calls are MS apart, default 2; SPLIT=1 also reports the pty-to-driver share)

mod common;
use common::report;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use callpop::calls::CallPolicy;
use callpop::devices::profile::load_all;
use callpop::devices::serial::BoxDevice;
use callpop::engine::Engine;
use callpop::event::{CallEvent, DeviceState, LineEvent, LineEventKind, LineSignal};
use callpop::phone::{MatchPolicy, Normalizer, NormalizerSettings};
use callpop::sim::script::Action;
use callpop::sim::BoxSim;
use callpop::store::{Store, StoreHandle};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut calls = 10_000usize;
    let mut profile_name = "text-box-4port".to_string();
    let mut gap = Duration::from_millis(2);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--profile" => profile_name = args.next().unwrap_or(profile_name),
            "--gap-ms" => gap = Duration::from_millis(args.next().unwrap_or_default().parse()?),
            n => calls = n.parse()?,
        }
    }
    let floor = pty_floor(calls.min(5000), gap).await?;
    report("floor: pty byte to a task on another thread", &floor);
    tokio::spawn(bench(calls, profile_name, gap)).await?
}

/// The kernel's pty hand-off plus one thread wake-up: what no code of ours
/// can beat on this machine.
async fn pty_floor(samples: usize, gap: Duration) -> anyhow::Result<Vec<Duration>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut ours, theirs) = tokio_serial::SerialStream::pair()?;
    let far_path = tokio_serial::SerialPort::name(&theirs)
        .ok_or_else(|| anyhow::anyhow!("pseudo-terminal without a name"))?;
    let (stamp_tx, mut stamps) = mpsc::unbounded_channel::<Instant>();
    let reader = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // The far end is opened again on the reader's thread, as the driver opens
    // its port; `theirs` stays open so the pair lives.
    std::thread::spawn(move || {
        reader.block_on(async move {
            let settings = callpop::devices::profile::SerialSettings::default();
            let Ok(mut far) = callpop::devices::serial::open_port(far_path.as_ref(), &settings)
            else {
                return;
            };
            let mut buf = [0u8; 64];
            while let Ok(n) = far.read(&mut buf).await {
                if n == 0 || stamp_tx.send(Instant::now()).is_err() {
                    break;
                }
            }
        })
    });
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        tokio::time::sleep(gap).await;
        ours.write_all(b"x").await?;
        let written = Instant::now();
        let read = stamps
            .recv()
            .await
            .ok_or_else(|| anyhow::anyhow!("the pty reader stopped"))?;
        times.push(read.saturating_duration_since(written));
    }
    drop(theirs);
    Ok(times)
}

async fn bench(calls: usize, profile_name: String, gap: Duration) -> anyhow::Result<()> {
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
        // A voice modem reports no hang-up: its calls end when the rings
        // stop. A short ring timeout keeps such calls short here.
        CallPolicy {
            ring_timeout: Duration::from_millis(20),
            ..CallPolicy::default()
        },
    )?;
    let mut events = engine.subscribe();
    // With SPLIT=1 the tap (a copying task on the line thread, as for
    // `devices watch`) tells when the driver parsed each caller ID; it adds
    // a little, so the headline figure is measured without it.
    let (tap, mut tapped) = mpsc::channel::<LineEvent>(1 << 16);
    let split = std::env::var_os("SPLIT").is_some();
    let lines = callpop::lines::spawn(
        engine,
        vec![BoxDevice::new("box1", link, profile)],
        split.then_some(tap),
    )?;
    loop {
        if let CallEvent::Device {
            state: DeviceState::Up,
            ..
        } = events.recv().await?
        {
            break;
        }
    }
    // The receiver runs where the screen-pop hub runs, on the line thread,
    // and notes when each call event reached it.
    let (received_tx, mut received) = mpsc::unbounded_channel::<(CallEvent, Instant)>();
    let mut on_line_thread = lines.events.subscribe();
    lines.runtime().spawn(async move {
        while let Ok(e) = on_line_thread.recv().await {
            if received_tx.send((e, Instant::now())).is_err() {
                break;
            }
        }
    });
    drop(events);
    let numbers: Vec<String> = callpop::demo::SampleCustomers::new(7)
        .take(10_000)
        .map(|c| c.phones[0].replace(' ', ""))
        .collect();
    let mut times = Vec::with_capacity(calls);
    let mut to_driver = Vec::with_capacity(calls);
    for i in 0..calls {
        tokio::time::sleep(gap).await;
        sim.act(&Action::Ring { port: 1 }).await?;
        let cid = Action::Cid {
            port: 1,
            number: numbers[i % numbers.len()].clone(),
            name: None,
        };
        let start = sim.act(&cid).await?.unwrap_or_else(Instant::now);
        loop {
            let (e, at) = tokio::time::timeout(Duration::from_secs(5), received.recv())
                .await?
                .ok_or_else(|| anyhow::anyhow!("the line thread stopped"))?;
            if let CallEvent::CallerIdentified { .. } = e {
                times.push(at.saturating_duration_since(start));
                break;
            }
        }
        while let Ok(e) = tapped.try_recv() {
            if matches!(e.kind, LineEventKind::Signal(LineSignal::CallerId(_))) {
                to_driver.push(e.at.saturating_duration_since(start));
            }
        }
        sim.act(&Action::Answer { port: 1 }).await?;
        sim.act(&Action::Hangup { port: 1 }).await?;
        loop {
            let (e, _) = received
                .recv()
                .await
                .ok_or_else(|| anyhow::anyhow!("the line thread stopped"))?;
            if let CallEvent::Ended { .. } = e {
                break;
            }
        }
    }
    if !to_driver.is_empty() {
        report("  of which pty write to driver parse", &to_driver);
    }
    report(
        &format!("{profile_name}: caller-ID byte to CallEvent"),
        &times,
    );
    lines.stop().await;
    Ok(())
}
