//! SMS campaign throughput and memory, through the real drivers, workers,
//! campaign runner and SQLite store, with simulated modems on ptys.
//!
//! cargo run --release --example bench_campaign -- capacity [PARTS]   # 8 modems at 3 s a part: % of capacity
//! cargo run --release --example bench_campaign -- overhead [PARTS]   # 8 zero-latency modems: parts/s
//! cargo run --release --example bench_campaign -- memory [RECIPIENTS] [CACHE_MB] # peak memory of a 1,000,000-recipient campaign

mod common;

use callpop::calls::CallPolicy;
use callpop::config::SmsConfig;
use callpop::devices::profile::load_all;
use callpop::devices::serial::BoxDevice;
use callpop::engine::Engine;
use callpop::phone::{MatchPolicy, Normalizer, NormalizerSettings};
use callpop::sim::modem::{ModemOptions, ModemSim};
use callpop::sms::campaign::{Draft, Source};
use callpop::sms::{Campaigns, Outbox};
use callpop::store::{CampaignState, Role, Store, StoreHandle};
use common::rss_kib;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MODEMS: usize = 8;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "capacity".into());
    let n: Option<usize> = std::env::args().nth(2).and_then(|a| a.parse().ok());
    match mode.as_str() {
        "capacity" => capacity(n.unwrap_or(320)).await,
        "overhead" => overhead(n.unwrap_or(20_000)).await,
        "memory" => memory(n.unwrap_or(1_000_000)).await,
        other => eprintln!("unknown mode {other:?}: capacity, overhead or memory"),
    }
}

/// A store with a marketer and a recipient sheet of `n` mobiles.
fn prepare(dir: &Path, n: usize) -> std::path::PathBuf {
    let store = Store::open(&dir.join("bench.db")).unwrap();
    store
        .users()
        .add_user("m1", "m1", Role::Admin, None, None)
        .unwrap();
    let sheet = dir.join("recipients.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&sheet).unwrap());
    writeln!(f, "姓名,手机").unwrap();
    for i in 0..n {
        // Mobile segments 130-139 and 150-159 with distinct subscriber numbers.
        let segment = [130, 131, 132, 135, 136, 137, 138, 139, 150, 186][i % 10];
        writeln!(f, "客户{i},{segment}{:08}", i / 10).unwrap();
    }
    f.flush().unwrap();
    sheet
}

struct Running {
    campaigns: Campaigns,
    _sims: Vec<ModemSim>,
    lines: callpop::lines::Lines,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn run_stack(dir: &Path, latency: Duration) -> Running {
    let profile = load_all(None).unwrap()["simcom-sim800"].clone();
    let options = ModemOptions {
        send_latency: latency,
        report_delay: Duration::ZERO,
        ..ModemOptions::default()
    };
    let mut sims = Vec::new();
    let mut devices = Vec::new();
    for i in 0..MODEMS {
        let link = dir.join(format!("gsm{i}"));
        sims.push(ModemSim::start(Arc::new(profile.clone()), &link, options.clone()).unwrap());
        devices.push(BoxDevice::new(
            &format!("gsm{i}"),
            link,
            Arc::new(profile.clone()),
        ));
    }
    let store = Store::open(&dir.join("bench.db")).unwrap();
    // The SQLite page cache is most of the memory: `store.cache_mb`.
    if let Some(mb) = std::env::args().nth(3).and_then(|a| a.parse().ok()) {
        store.set_cache_mb(mb).unwrap();
    }
    let store = StoreHandle::spawn(store);
    let normalizer = Arc::new(Normalizer::new(NormalizerSettings::default()));
    let engine = Engine::new(
        store.clone(),
        normalizer.clone(),
        MatchPolicy::default(),
        CallPolicy::default(),
    )
    .unwrap();
    let lines = callpop::lines::spawn(engine, devices, None).unwrap();
    for m in &lines.modems {
        assert!(m.clone().wait_up().await);
    }
    let settings = SmsConfig {
        window: "00:00-00:00".into(),
        ..SmsConfig::default()
    };
    let outbox = Outbox::new(store, settings);
    let mut tasks = callpop::sms::start(&outbox, &lines.modems, lines.sms_events.clone())
        .await
        .unwrap();
    let campaigns = Campaigns::new(outbox, normalizer);
    tasks.push(tokio::spawn(
        campaigns.clone().run(lines.sms_events.subscribe()),
    ));
    Running {
        campaigns,
        _sims: sims,
        lines,
        tasks,
    }
}

async fn create(campaigns: &Campaigns, dir: &Path, sheet: &Path) -> (i64, i64) {
    let user = Store::open(&dir.join("bench.db"))
        .unwrap()
        .users()
        .user_by_name("m1")
        .unwrap()
        .unwrap();
    let created = campaigns
        .create(
            &user,
            Draft {
                name: "bench".into(),
                template: "{name}您好，本周会员日全场八折".into(),
                suffix: None,
                source: Source::File(sheet.to_path_buf()),
                filter: None,
                start_at: None,
                window: None,
            },
        )
        .await
        .unwrap();
    campaigns.start(&user, created.id).await.unwrap();
    (created.id, created.parts)
}

/// Waits until every part of the campaign has left (sent or settled);
/// the time from start.
async fn until_sent(campaigns: &Campaigns, id: i64, parts: i64, start: Instant) -> Duration {
    loop {
        let p = campaigns.progress(id).await.unwrap();
        if p.settled_parts() >= parts {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn capacity(parts: usize) {
    let dir = tempfile::tempdir().unwrap();
    let sheet = prepare(dir.path(), parts);
    let stack = run_stack(dir.path(), Duration::from_secs(3)).await;
    let start = Instant::now();
    let (id, total) = create(&stack.campaigns, dir.path(), &sheet).await;
    let took = until_sent(&stack.campaigns, id, total, start).await;
    // Eight modems at 3 s a part can do no better than this.
    let ideal = (total as f64 / MODEMS as f64).ceil() * 3.0;
    println!(
        "{MODEMS} modems at 3 s a part: {total} parts in {:.1} s; ideal {:.1} s; throughput {:.1}% of capacity",
        took.as_secs_f64(),
        ideal,
        100.0 * ideal / took.as_secs_f64()
    );
    finish(stack).await;
}

async fn overhead(parts: usize) {
    let dir = tempfile::tempdir().unwrap();
    let sheet = prepare(dir.path(), parts);
    let stack = run_stack(dir.path(), Duration::ZERO).await;
    let t = Instant::now();
    let (id, total) = create(&stack.campaigns, dir.path(), &sheet).await;
    let created = t.elapsed();
    let start = Instant::now();
    let took = until_sent(&stack.campaigns, id, total, start).await;
    println!(
        "campaign of {total} recipients created (sheet read, rendered, priced, stored) in {:.2} s ({:.0} recipients/s)",
        created.as_secs_f64(),
        total as f64 / created.as_secs_f64()
    );
    println!(
        "{MODEMS} zero-latency modems: {total} parts sent in {:.2} s: {:.0} parts/s",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );
    finish(stack).await;
}

async fn memory(recipients: usize) {
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let sheet = prepare(dir.path(), recipients);
    println!(
        "sheet of {recipients} recipients written in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let base = rss_kib("VmRSS");
    let stack = run_stack(dir.path(), Duration::ZERO).await;
    let t = Instant::now();
    let (id, total) = create(&stack.campaigns, dir.path(), &sheet).await;
    println!(
        "created in {:.1} s ({total} parts); peak memory so far {} MiB, now {} MiB heap + {} MiB mapped database file (before: {} MiB)",
        t.elapsed().as_secs_f64(),
        rss_kib("VmHWM") / 1024,
        rss_kib("RssAnon") / 1024,
        rss_kib("RssFile") / 1024,
        base / 1024
    );
    // Sending for a while: the runner keeps only a batch queued.
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(20)).await;
    let p = stack.campaigns.progress(id).await.unwrap();
    println!(
        "after {:.0} s of sending: {} parts out ({:.0} parts/s), {} recipients pending; resident {} MiB ({} MiB heap, {} MiB mapped database file), peak {} MiB",
        start.elapsed().as_secs_f64(),
        p.settled_parts(),
        p.settled_parts() as f64 / start.elapsed().as_secs_f64(),
        p.pending,
        rss_kib("VmRSS") / 1024,
        rss_kib("RssAnon") / 1024,
        rss_kib("RssFile") / 1024,
        rss_kib("VmHWM") / 1024
    );
    let state = stack.campaigns.get(id).await.unwrap().state;
    assert_eq!(state, CampaignState::Running);
    finish(stack).await;
}

async fn finish(stack: Running) {
    for t in stack.tasks {
        t.abort();
    }
    stack.lines.stop().await;
}
