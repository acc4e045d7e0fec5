//! Screen-pop latency as an agent sees it: from the last byte of a caller-ID
//! message written on a pseudo-terminal to the `call.ringing` frame read by
//! the agent's websocket client, through the real daemon (`callpop serve`,
//! run as a child process) with 1 and with 1,000 connected desktop
//! sessions; and the daemon's memory per connected session. Target: p99 <=
//! 1 ms at 1,000 sessions.
//!
//! cargo build --release && cargo run --release --example bench_pop -- [CALLS] [--sessions N]

mod common;
use common::report;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use callpop::devices::profile::load_all;
use callpop::phone::{Normalizer, NormalizerSettings};
use callpop::sim::script::Action;
use callpop::sim::BoxSim;
use callpop::store::{Binding, Role, Store};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut calls = 2000usize;
    let mut sessions = 1000usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sessions" => sessions = args.next().unwrap_or_default().parse()?,
            n => calls = n.parse()?,
        }
    }
    let exe = std::env::current_exe()?;
    let daemon = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("callpop"))
        .filter(|p| p.exists())
        .ok_or_else(|| anyhow::anyhow!("build the daemon first: cargo build --release"))?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("pop.db");
    // Customers, one desktop user per session (sessions made directly in the
    // store: 1,000 argon2 logins would only time argon2), a form, a binding.
    let tokens = {
        let store = Store::open(&db)?;
        let normalizer = Normalizer::new(NormalizerSettings::default());
        callpop::demo::seed_customers(&store, &normalizer, 10_000)?;
        store.put_form(&toml::from_str(callpop::demo::DEMO_FORM)?)?;
        let mut tokens = Vec::with_capacity(sessions);
        store.in_transaction(|s| {
            for i in 0..sessions {
                let name = format!("agent{i}");
                let id = s.add_user(&name, &name, Role::Agent, Some("sales"), None)?;
                let token = callpop::auth::new_token();
                s.create_session(&callpop::auth::token_hash(&token), id, i64::MAX, None)?;
                tokens.push(token);
            }
            s.bind_line("box1/1", &Binding::Agent("agent0".into()))
        })?;
        tokens
    };
    let profile = Arc::new(load_all(None)?["text-box-4port"].clone());
    let link = dir.path().join("tty");
    let mut sim = BoxSim::start(profile, &link)?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let config = dir.path().join("callpop.toml");
    std::fs::write(
        &config,
        format!(
            "db = {db:?}\nlog = \"warn\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n\
             [[device]]\nname = \"box1\"\npath = {link:?}\nprofile = \"text-box-4port\"\n"
        ),
    )?;
    let mut child = tokio::process::Command::new(&daemon)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let url = format!("ws://127.0.0.1:{port}/ws");
    let connect = |token: String| {
        let url = url.clone();
        async move {
            let mut req = url.into_client_request()?;
            req.headers_mut()
                .insert("cookie", format!("callpop_session={token}").parse()?);
            let (ws, _) = tokio_tungstenite::connect_async(req).await?;
            anyhow::Ok(ws)
        }
    };
    // Wait for the daemon, then for the box to be up (a pop arrives).
    let mut agent = loop {
        match connect(tokens[0].clone()).await {
            Ok(ws) => break ws,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    warm_up(&mut sim, &mut agent).await?;
    let one = pops(&mut sim, &mut agent, calls).await?;
    report("1 session: caller-ID byte to pop frame", &one);

    let before = rss_kib(pid);
    let mut others = Vec::with_capacity(sessions);
    for token in tokens.iter().skip(1) {
        let mut ws = connect(token.clone()).await?;
        // Read everything, heartbeat every 10 s, like an idle desktop.
        others.push(tokio::spawn(async move {
            let mut beat = tokio::time::interval(Duration::from_secs(10));
            loop {
                tokio::select! {
                    m = ws.next() => if m.is_none() { return; },
                    _ = beat.tick() => {
                        if ws.send(Message::Text(r#"{"type":"heartbeat"}"#.into())).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);
    let many = pops(&mut sim, &mut agent, calls).await?;
    report(
        &format!("{sessions} sessions: caller-ID byte to pop frame"),
        &many,
    );
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "daemon memory: {} KiB before, {} KiB with {} more sessions = {:.1} KiB per session",
            b,
            a,
            sessions - 1,
            (a as f64 - b as f64) / (sessions - 1).max(1) as f64
        );
    }
    for o in others {
        o.abort();
    }
    child.kill().await?;
    Ok(())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Calls until one pops: the box is up and every cache is warm.
async fn warm_up(sim: &mut BoxSim, agent: &mut Ws) -> anyhow::Result<()> {
    for _ in 0..100 {
        if pops(sim, agent, 1).await.is_ok() {
            return pops(sim, agent, 50).await.map(|_| ());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("no pop came; is the daemon running?")
}

/// Plays `n` calls on line 1 and times each pop's arrival.
async fn pops(sim: &mut BoxSim, agent: &mut Ws, n: usize) -> anyhow::Result<Vec<Duration>> {
    let numbers: Vec<String> = callpop::demo::SampleCustomers::new(7)
        .take(10_000)
        .map(|c| c.phones[0].replace(' ', ""))
        .collect();
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        tokio::time::sleep(Duration::from_millis(2)).await;
        sim.act(&Action::Ring { port: 1 }).await?;
        let cid = Action::Cid {
            port: 1,
            number: numbers[i % numbers.len()].clone(),
            name: None,
        };
        let start = sim.act(&cid).await?.unwrap_or_else(Instant::now);
        wait_for(agent, "\"call.ringing\"").await?;
        times.push(start.elapsed());
        sim.act(&Action::Hangup { port: 1 }).await?;
        wait_for(agent, "\"call.ended\"").await?;
    }
    Ok(times)
}

async fn wait_for(ws: &mut Ws, kind: &str) -> anyhow::Result<()> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("the daemon closed the connection"))??;
        if let Message::Text(t) = msg {
            if t.contains(kind) {
                return Ok(());
            }
        }
    }
}

/// The resident memory of a process, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
