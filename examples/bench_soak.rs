//! Soak: the real daemon (`callpop serve`, a child process) under a call
//! center's load for minutes: simulated text caller-ID boxes on ptys (4
//! lines each), 1,000 agents' desktops on `/ws` (heartbeat, ack every pop,
//! note when each pop arrives), supervisors' wallboards on `/ws/wallboard`
//! (applying deltas as PROTOCOL.md says), and a seeded call plan: rings and
//! a caller ID, then answered (off-hook, talk, on-hook) or left ringing
//! (missed at 4+ rings, abandoned before), plus a few outbound calls.
//!
//! It runs the same plan twice, without wallboards and with them, and
//! prints both side by side: pops expected and delivered, pop latency (last
//! byte of the caller ID on the pty to the frame at the desktop), the CDRs
//! against the plan (each call exactly one CDR, right direction and
//! outcome), the daemon's RSS every 10 s, wallboard frames and bytes.
//!
//! flock /tmp/cargo.lock cargo build --release
//! flock /tmp/cargo.lock cargo run --release --example bench_soak -- \
//!     [--minutes 10] [--viewers 50] [--agents 1000] [--rate 50] [--boxes 300]
//!     [--team-size 10] [--group-agents 250] [--seed 1] [--only-viewers]
//!
//! Quick check: `--minutes 1`. Everything is on 127.0.0.1; every loop and
//! wait is bounded.

mod common;
use common::{cpu_time, pid_cpu_time, pid_status_kib, quantile_us};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use callpop::demo::SplitMix;
use callpop::devices::profile::load_all;
use callpop::phone::{Normalizer, NormalizerSettings};
use callpop::sim::script::Action;
use callpop::sim::BoxSim;
use callpop::store::{Binding, Role, Store};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

/// Seconds between two rings of a call (real Chinese cadence is 1 s on, 4 s
/// off; compressed, and below the profile's 7 s ring timeout).
const RING_PERIOD: f64 = 3.0;
/// The caller ID comes this long after the first ring (between rings).
const CID_AFTER_RING: f64 = 0.5;
/// The text box's ring timeout (profile `ring_timeout_ms`): an unanswered
/// call ends this long after its last ring.
const RING_TIMEOUT: f64 = 7.0;
/// A line is reused only this long after an unanswered call's last ring.
const AFTER_UNANSWERED: f64 = RING_TIMEOUT + 1.5;
/// Talk time range of answered and outbound calls, seconds.
const TALK: (f64, f64) = (4.0, 30.0);
/// Messages the daemon keeps per session (`screen_pop.replay_log`).
const REPLAY_LOG: usize = 256;
const PORTS: usize = 4;

#[derive(Clone)]
struct Args {
    minutes: f64,
    viewers: usize,
    agents: usize,
    rate: f64,
    boxes: usize,
    team_size: usize,
    group_agents: usize,
    seed: u64,
    only_viewers: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        minutes: 10.0,
        viewers: 50,
        agents: 1000,
        rate: 50.0,
        boxes: 300,
        team_size: 10,
        group_agents: 250,
        seed: 1,
        only_viewers: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || {
            it.next()
                .ok_or_else(|| anyhow::anyhow!("{k} needs a value"))
        };
        match k.as_str() {
            "--minutes" => a.minutes = v()?.parse()?,
            "--viewers" => a.viewers = v()?.parse()?,
            "--agents" => a.agents = v()?.parse()?,
            "--rate" => a.rate = v()?.parse()?,
            "--boxes" => a.boxes = v()?.parse()?,
            "--team-size" => a.team_size = v()?.parse()?,
            "--group-agents" => a.group_agents = v()?.parse()?,
            "--seed" => a.seed = v()?.parse()?,
            "--only-viewers" => a.only_viewers = true,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    anyhow::ensure!(a.team_size > 0 && a.boxes > 0 && a.rate > 0.0);
    a.group_agents = a.group_agents.min(a.agents);
    let direct = a.agents - a.group_agents;
    anyhow::ensure!(
        a.boxes * PORTS > direct || a.group_agents == 0,
        "{} lines are not enough for {direct} agents' own lines and group lines",
        a.boxes * PORTS
    );
    Ok(a)
}

// ---------------------------------------------------------------- the plan

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Answered,
    Missed,
    Abandoned,
    Outbound,
}

impl Kind {
    fn outcome(self) -> &'static str {
        match self {
            Kind::Answered => "answered",
            Kind::Missed => "missed",
            Kind::Abandoned => "abandoned",
            Kind::Outbound => "outbound",
        }
    }
    fn direction(self) -> &'static str {
        if self == Kind::Outbound {
            "outbound"
        } else {
            "inbound"
        }
    }
}

#[derive(Debug, Clone)]
enum Act {
    Ring,
    Cid,
    OffHook,
    Dtmf,
    OnHook,
}

#[derive(Debug, Clone)]
struct Call {
    line: usize,
    kind: Kind,
    /// The number sent (None: withheld, `$n,CID,P`); for outbound calls,
    /// the digits dialled.
    number: Option<String>,
    name: Option<String>,
    /// Seconds from the start of the plan.
    start: f64,
    acts: Vec<(f64, Act)>,
}

/// Who a line pops on.
#[derive(Debug, Clone)]
enum Route {
    Agent(usize),
    Team(usize),
}

struct Layout {
    lines: usize,
    routes: Vec<Route>,
    /// Agents (indexes) of each team of group agents.
    teams: Vec<Vec<usize>>,
    direct: usize,
}

fn layout(a: &Args) -> Layout {
    let lines = a.boxes * PORTS;
    let direct = a.agents - a.group_agents;
    let nteams = a.group_agents.div_ceil(a.team_size);
    let teams: Vec<Vec<usize>> = (0..nteams)
        .map(|t| {
            (direct + t * a.team_size..(direct + (t + 1) * a.team_size).min(a.agents)).collect()
        })
        .collect();
    let routes = (0..lines)
        .map(|l| {
            if l < direct {
                Route::Agent(l)
            } else if nteams > 0 {
                Route::Team((l - direct) % nteams)
            } else {
                Route::Agent(l % a.agents.max(1))
            }
        })
        .collect();
    Layout {
        lines,
        routes,
        teams,
        direct,
    }
}

fn line_name(l: usize) -> String {
    format!("box{}/{}", l / PORTS + 1, l % PORTS + 1)
}

fn line_index(name: &str) -> Option<usize> {
    let (b, p) = name.strip_prefix("box")?.split_once('/')?;
    let (b, p): (usize, usize) = (b.parse().ok()?, p.parse().ok()?);
    (b >= 1 && (1..=PORTS).contains(&p)).then(|| (b - 1) * PORTS + p - 1)
}

fn uniform(r: &mut SplitMix, lo: f64, hi: f64) -> f64 {
    lo + (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
}

/// Poisson arrivals at `rate` for `secs`, each on a free line picked at
/// random (or, when none is free, the first line to come free: that call
/// starts late and is counted).
fn make_plan(a: &Args, lay: &Layout) -> (Vec<Call>, usize) {
    let mut r = SplitMix::new(a.seed);
    let known: Vec<String> = callpop::demo::SampleCustomers::new(7)
        .take(10_000)
        .map(|c| c.phones[0].replace(' ', ""))
        .collect();
    const NAMES: &[&str] = &["WANG WEI", "LI NA", "ZHANG MIN", "LIU YANG", "CHEN JIE"];
    let secs = a.minutes * 60.0;
    let mut free_at = vec![0.0f64; lay.lines];
    let mut calls = Vec::new();
    let mut late = 0;
    let mut t = 0.0;
    loop {
        t += -uniform(&mut r, 1e-12, 1.0).ln() / a.rate;
        if t >= secs {
            break;
        }
        let free: Vec<usize> = (0..lay.lines).filter(|&l| free_at[l] <= t).collect();
        let (line, start) = if free.is_empty() {
            late += 1;
            let l = (0..lay.lines)
                .min_by(|&x, &y| free_at[x].total_cmp(&free_at[y]))
                .unwrap_or(0);
            (l, free_at[l])
        } else {
            (free[r.below(free.len())], t)
        };
        let roll = r.below(1000);
        let kind = match roll {
            0..50 => Kind::Outbound,
            50..164 => Kind::Missed,
            164..288 => Kind::Abandoned,
            _ => Kind::Answered,
        };
        let mut acts = Vec::new();
        let talk = uniform(&mut r, TALK.0, TALK.1);
        let (number, name, end) = if kind == Kind::Outbound {
            let digits = format!("9013{}", 100_000_000 + r.below(900_000_000));
            acts.push((start, Act::OffHook));
            acts.push((start + 1.0, Act::Dtmf));
            acts.push((start + 1.0 + talk, Act::OnHook));
            (
                Some(digits),
                None,
                start + 1.0 + talk + uniform(&mut r, 0.5, 2.0),
            )
        } else {
            let number = match r.below(100) {
                0..2 => None,
                2..62 => Some(known[r.below(known.len())].clone()),
                _ => Some(format!("13{}", 100_000_000 + r.below(900_000_000))),
            };
            let name = (number.is_some() && r.below(10) < 3)
                .then(|| NAMES[r.below(NAMES.len())].to_string());
            let rings = match kind {
                Kind::Answered => 1 + r.below(3),
                Kind::Missed => 4 + r.below(3),
                _ => 1 + r.below(3),
            };
            for i in 0..rings {
                acts.push((start + RING_PERIOD * i as f64, Act::Ring));
            }
            acts.push((start + CID_AFTER_RING, Act::Cid));
            let last_ring = start + RING_PERIOD * (rings - 1) as f64;
            let end = if kind == Kind::Answered {
                let off = last_ring + 1.0;
                acts.push((off, Act::OffHook));
                acts.push((off + talk, Act::OnHook));
                off + talk + uniform(&mut r, 0.5, 2.0)
            } else {
                last_ring + AFTER_UNANSWERED
            };
            acts.sort_by(|x, y| x.0.total_cmp(&y.0));
            (number, name, end)
        };
        free_at[line] = end;
        calls.push(Call {
            line,
            kind,
            number,
            name,
            start,
            acts,
        });
    }
    (calls, late)
}

// ------------------------------------------------------------- shared state

struct Shared {
    plan: Vec<Call>,
    /// Per line: 1 + the index of the call whose caller ID was written last.
    current: Vec<AtomicU32>,
    /// When each call's caller ID left the simulated box (last byte).
    cid_at: Vec<OnceLock<Instant>>,
    /// The bytes of the last `REPLAY_LOG` numbered messages of every
    /// desktop: what the daemon's replay logs hold, seen from outside.
    replay_bytes: AtomicI64,
    desk_frames: AtomicU64,
    desk_bytes: AtomicU64,
    wall_frames: AtomicU64,
    wall_bytes: AtomicU64,
}

#[derive(Default)]
struct DeskOut {
    agent: usize,
    /// (call index, arrival) for each distinct call_id popped.
    pops: Vec<(u32, Instant)>,
    dups: u32,
    /// A pop whose line or number does not fit the call on that line.
    misrouted: u32,
    named_without_name: u32,
    closes: Vec<u16>,
    reconnects: u32,
    snapshots: u32,
    error: Option<String>,
}

#[derive(Default)]
struct ViewOut {
    frames: u64,
    bytes: u64,
    wholes: u64,
    deltas: u64,
    picture: Value,
    closes: Vec<u16>,
    error: Option<String>,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, token: &str) -> anyhow::Result<Ws> {
    let mut req =
        format!("{url}?csrf={}", callpop::auth::csrf_token(token)).into_client_request()?;
    req.headers_mut()
        .insert("cookie", format!("callpop_session={token}").parse()?);
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async_with_config(req, None, true),
    )
    .await??;
    Ok(ws)
}

fn close_code(f: &Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> u16 {
    f.as_ref().map_or(1005, |f| u16::from(f.code))
}

/// One agent's desktop: heartbeats every 10 s, acknowledges every pop,
/// resumes after a drop, notes when each pop arrives.
async fn desktop(
    agent: usize,
    url: String,
    token: String,
    sh: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    ready: tokio::sync::mpsc::Sender<()>,
) -> DeskOut {
    let mut out = DeskOut {
        agent,
        ..DeskOut::default()
    };
    let mut session: Option<String> = None;
    let mut last_seq = 0u64;
    let mut seen: HashSet<String> = HashSet::new();
    let mut ring: VecDeque<usize> = VecDeque::new();
    let mut failures = 0;
    let mut ready = Some(ready);
    'conn: loop {
        if *stop.borrow() {
            break;
        }
        let ws = match connect(&url, &token).await {
            Ok(ws) => ws,
            Err(e) => {
                failures += 1;
                if failures > 50 {
                    out.error = Some(format!("cannot connect: {e}"));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let (mut tx, mut rx) = ws.split();
        let resuming = session.is_some();
        if let Some(sid) = &session {
            out.reconnects += 1;
            let m = json!({"type":"resume","data":{"session_id":sid,"last_seq":last_seq}});
            if tx.send(Message::Text(m.to_string().into())).await.is_err() {
                continue;
            }
        }
        let jitter = Duration::from_millis((agent as u64 * 37) % 10_000);
        let mut beat = tokio::time::interval_at(
            tokio::time::Instant::now() + jitter,
            Duration::from_secs(10),
        );
        let mut fresh_hello = resuming;
        loop {
            tokio::select! {
                _ = stop.changed() => {
                    let _ = tx.send(Message::Close(None)).await;
                    break 'conn;
                }
                _ = beat.tick() => {
                    if tx.send(Message::Text(r#"{"type":"heartbeat"}"#.into())).await.is_err() {
                        continue 'conn;
                    }
                }
                m = rx.next() => match m {
                    Some(Ok(Message::Text(t))) => {
                        let at = Instant::now();
                        sh.desk_frames.fetch_add(1, Ordering::Relaxed);
                        sh.desk_bytes.fetch_add(t.len() as u64, Ordering::Relaxed);
                        let Ok(v) = serde_json::from_str::<Value>(&t) else { continue };
                        let kind = v["type"].as_str().unwrap_or("");
                        let seq = v["seq"].as_u64().unwrap_or(0);
                        if kind == "heartbeat" {
                            continue;
                        }
                        if kind == "hello" && fresh_hello {
                            // The new connection's own session, dropped by the resume.
                            fresh_hello = false;
                            continue;
                        }
                        if seq > last_seq {
                            last_seq = seq;
                            ring.push_back(t.len());
                            sh.replay_bytes.fetch_add(t.len() as i64, Ordering::Relaxed);
                            if ring.len() > REPLAY_LOG {
                                let gone = ring.pop_front().unwrap_or(0);
                                sh.replay_bytes.fetch_sub(gone as i64, Ordering::Relaxed);
                            }
                        }
                        match kind {
                            "hello" => {
                                session = v["data"]["session_id"].as_str().map(str::to_string);
                                if let Some(r) = ready.take() {
                                    let _ = r.send(()).await;
                                }
                            }
                            "call.ringing" => {
                                on_pop(&sh, &v["data"], at, &mut seen, &mut out);
                                let ack = json!({"type":"ack","data":{"seq":seq}}).to_string();
                                if tx.send(Message::Text(ack.into())).await.is_err() {
                                    continue 'conn;
                                }
                            }
                            "snapshot" => {
                                out.snapshots += 1;
                                session = v["data"]["session_id"].as_str().map(str::to_string);
                                for p in v["data"]["pops"].as_array().into_iter().flatten() {
                                    on_pop(&sh, p, at, &mut seen, &mut out);
                                }
                            }
                            _ => {}
                        }
                    }
                    Some(Ok(Message::Close(f))) => {
                        out.closes.push(close_code(&f));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue 'conn;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        out.closes.push(1006);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue 'conn;
                    }
                }
            }
        }
    }
    out
}

fn on_pop(sh: &Shared, d: &Value, at: Instant, seen: &mut HashSet<String>, out: &mut DeskOut) {
    let call_id = d["call_id"].as_str().unwrap_or("").to_string();
    if !seen.insert(call_id) {
        out.dups += 1;
        return;
    }
    let Some(line) = d["line"].as_str().and_then(line_index) else {
        out.misrouted += 1;
        return;
    };
    let Some(k) = sh
        .current
        .get(line)
        .map(|c| c.load(Ordering::Acquire))
        .and_then(|c| c.checked_sub(1))
    else {
        out.misrouted += 1;
        return;
    };
    let call = &sh.plan[k as usize];
    let number = d["number"].as_str();
    let fits = match (&call.number, number) {
        (Some(a), Some(b)) => a == b || b.contains('*'),
        (None, None) => true,
        _ => false,
    };
    if !fits {
        out.misrouted += 1;
        return;
    }
    if call.name.is_some() && d["caller_name"].as_str() != call.name.as_deref() {
        out.named_without_name += 1;
    }
    out.pops.push((k, at));
}

/// Applies a wallboard message to the picture, as PROTOCOL.md says.
fn apply_wallboard(picture: &mut Value, msg: &Value, out: &mut ViewOut) {
    match msg["type"].as_str() {
        Some("wallboard") => {
            out.wholes += 1;
            *picture = msg["data"].clone();
        }
        Some("wallboard.delta") => {
            out.deltas += 1;
            let d = &msg["data"];
            if !picture.is_object() {
                *picture = json!({});
            }
            for (k, v) in d["replace"].as_object().into_iter().flatten() {
                picture[k] = v.clone();
            }
            for (section, entries) in d["changed"].as_object().into_iter().flatten() {
                if !picture[section].is_object() {
                    picture[section] = json!({});
                }
                for (k, v) in entries.as_object().into_iter().flatten() {
                    picture[section][k] = v.clone();
                }
            }
            for (section, keys) in d["removed"].as_object().into_iter().flatten() {
                if let Some(m) = picture[section].as_object_mut() {
                    for k in keys.as_array().into_iter().flatten() {
                        if let Some(k) = k.as_str() {
                            m.remove(k);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// A wallboard viewer. With `devices_up`, it says when that many devices
/// are up (the daemon has opened every box).
async fn viewer(
    url: String,
    token: String,
    sh: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    mut devices_up: Option<(usize, tokio::sync::oneshot::Sender<()>)>,
) -> ViewOut {
    let mut out = ViewOut::default();
    let mut picture = Value::Null;
    let mut failures = 0;
    'conn: loop {
        if *stop.borrow() {
            break;
        }
        let ws = match connect(&url, &token).await {
            Ok(ws) => ws,
            Err(e) => {
                failures += 1;
                if failures > 100 {
                    out.error = Some(format!("cannot connect: {e}"));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let (mut tx, mut rx) = ws.split();
        loop {
            tokio::select! {
                _ = stop.changed() => {
                    let _ = tx.send(Message::Close(None)).await;
                    break 'conn;
                }
                m = rx.next() => match m {
                    Some(Ok(Message::Text(t))) => {
                        out.frames += 1;
                        out.bytes += t.len() as u64;
                        sh.wall_frames.fetch_add(1, Ordering::Relaxed);
                        sh.wall_bytes.fetch_add(t.len() as u64, Ordering::Relaxed);
                        if let Ok(v) = serde_json::from_str::<Value>(&t) {
                            apply_wallboard(&mut picture, &v, &mut out);
                        }
                        if let Some((n, _)) = &devices_up {
                            let up = picture["devices"]
                                .as_object()
                                .map_or(0, |d| d.values().filter(|v| v["up"] == true).count());
                            if up >= *n {
                                if let Some((_, tx)) = devices_up.take() {
                                    let _ = tx.send(());
                                }
                            }
                        }
                    }
                    Some(Ok(Message::Close(f))) => {
                        out.closes.push(close_code(&f));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue 'conn;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        out.closes.push(1006);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue 'conn;
                    }
                }
            }
        }
    }
    out.picture = picture;
    out
}

/// Plays one box's share of the plan; returns the worst lateness of an
/// action against its schedule.
async fn play_box(
    mut sim: BoxSim,
    mut timeline: Vec<(f64, u8, usize, Act)>,
    t0: tokio::time::Instant,
    sh: Arc<Shared>,
) -> anyhow::Result<Duration> {
    timeline.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut worst = Duration::ZERO;
    for (at, port, k, act) in timeline {
        let due = t0 + Duration::from_secs_f64(at);
        tokio::time::sleep_until(due).await;
        worst = worst.max(tokio::time::Instant::now().saturating_duration_since(due));
        let call = &sh.plan[k];
        let action = match act {
            Act::Ring => Action::Ring { port },
            Act::OffHook => Action::Answer { port },
            Act::OnHook => Action::Hangup { port },
            Act::Dtmf => Action::Dtmf {
                port,
                digits: call.number.clone().unwrap_or_default(),
            },
            Act::Cid => {
                sh.current[call.line].store(k as u32 + 1, Ordering::Release);
                let action = match &call.number {
                    Some(n) => Action::Cid {
                        port,
                        number: n.clone(),
                        name: call.name.clone(),
                    },
                    None => Action::Private { port },
                };
                let written = sim.act(&action).await?.unwrap_or_else(Instant::now);
                let _ = sh.cid_at[k].set(written);
                continue;
            }
        };
        sim.act(&action).await?;
    }
    // Keep the pty open until the daemon has read the last bytes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(sim);
    Ok(worst)
}

// ------------------------------------------------------------------ a run

struct RunResult {
    viewers: usize,
    calls: usize,
    expected: u64,
    delivered: u64,
    misrouted: u64,
    dups: u64,
    unnamed: u64,
    lat_all: Vec<Duration>,
    lat_direct: Vec<Duration>,
    lat_group_each: Vec<Duration>,
    lat_group_last: Vec<Duration>,
    cdr_ok: usize,
    cdr_bad: usize,
    cdr_missing: usize,
    cdr_extra: usize,
    cdr_examples: Vec<String>,
    /// (seconds, RSS, RssAnon, RssFile KiB, replay-log bytes, CPU s).
    rss: Vec<(f64, u64, u64, u64, i64, f64)>,
    desk_frames: u64,
    desk_bytes: u64,
    wall_frames: u64,
    wall_bytes: u64,
    wall_wholes: u64,
    wall_deltas: u64,
    wall_today_ok: usize,
    wall_today_example: String,
    closes: HashMap<u16, u32>,
    reconnects: u64,
    snapshots: u64,
    errors: Vec<String>,
    worst_slip: Duration,
    daemon_cpu: Duration,
    bench_cpu: Duration,
    run_secs: f64,
    warnings: Vec<String>,
    warning_count: usize,
    missed_examples: Vec<String>,
}

async fn run(a: &Args, viewers: usize, daemon: &Path) -> anyhow::Result<RunResult> {
    let lay = layout(a);
    let (plan, late) = make_plan(a, &lay);
    if late > 0 {
        println!("  note: {late} calls start late: not enough free lines at their time");
    }
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("soak.db");
    let nteams = lay.teams.len();
    // Users, sessions (made in the store: 1,000 argon2 logins would time
    // only argon2), customers, a form, bindings.
    let (agent_tokens, viewer_tokens) = {
        let store = Store::open(&db)?;
        let normalizer = Normalizer::new(NormalizerSettings::default());
        callpop::demo::seed_customers(&store, &normalizer, 10_000)?;
        store
            .workorders()
            .put_form(&toml::from_str(callpop::demo::DEMO_FORM)?)?;
        let mut agents = Vec::with_capacity(a.agents);
        let mut views = Vec::with_capacity(viewers + 1);
        store.in_transaction(|s| {
            let session = |s: &Store, id: i64| -> callpop::store::Result<String> {
                let token = callpop::auth::new_token();
                s.users()
                    .create_session(&callpop::auth::token_hash(&token), id, i64::MAX, None)?;
                Ok(token)
            };
            for i in 0..a.agents {
                let team = if i < lay.direct {
                    format!("d{}", i / 50)
                } else {
                    format!("g{}", (i - lay.direct) / a.team_size)
                };
                let name = format!("agent{i}");
                let id = s
                    .users()
                    .add_user(&name, &name, Role::Agent, Some(&team), None)?;
                agents.push(session(s, id)?);
            }
            // Viewer 0 is an admin (it also waits for the devices); then
            // QA, and team leads of group and direct teams.
            for j in 0..viewers.max(1) {
                let (role, team) = match j % 5 {
                    0 => (Role::Admin, None),
                    1 => (Role::Qa, None),
                    2 | 3 if nteams > 0 => (Role::TeamLead, Some(format!("g{}", j % nteams))),
                    _ => (
                        Role::TeamLead,
                        Some(format!("d{}", j % lay.direct.div_ceil(50).max(1))),
                    ),
                };
                let name = format!("viewer{j}");
                let id = s
                    .users()
                    .add_user(&name, &name, role, team.as_deref(), None)?;
                views.push(session(s, id)?);
            }
            for (l, route) in lay.routes.iter().enumerate() {
                let b = match route {
                    Route::Agent(i) => Binding::Agent(format!("agent{i}")),
                    Route::Team(t) => Binding::Team(format!("g{t}")),
                };
                s.agents().bind_line(&line_name(l), &b)?;
            }
            Ok::<_, callpop::store::StoreError>(())
        })?;
        (agents, views)
    };
    let profile = Arc::new(load_all(None)?["text-box-4port"].clone());
    let mut sims = Vec::with_capacity(a.boxes);
    let mut devices = String::new();
    for b in 0..a.boxes {
        let link = dir.path().join(format!("tty{}", b + 1));
        sims.push(BoxSim::start(profile.clone(), &link)?);
        devices.push_str(&format!(
            "[[device]]\nname = \"box{}\"\npath = {link:?}\nprofile = \"text-box-4port\"\n",
            b + 1
        ));
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let config = dir.path().join("callpop.toml");
    std::fs::write(
        &config,
        format!("db = {db:?}\nlog = \"warn\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n{devices}"),
    )?;
    let stderr_path = dir.path().join("daemon.log");
    let mut child = tokio::process::Command::new(daemon)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path)?)
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let sh = Arc::new(Shared {
        current: (0..lay.lines).map(|_| AtomicU32::new(0)).collect(),
        cid_at: (0..plan.len()).map(|_| OnceLock::new()).collect(),
        plan,
        replay_bytes: AtomicI64::new(0),
        desk_frames: AtomicU64::new(0),
        desk_bytes: AtomicU64::new(0),
        wall_frames: AtomicU64::new(0),
        wall_bytes: AtomicU64::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let base = format!("ws://127.0.0.1:{port}");
    // Viewer 0 watches the devices come up (a temporary one without viewers).
    let (up_tx, up_rx) = tokio::sync::oneshot::channel();
    let (setup_stop_tx, setup_stop_rx) = watch::channel(false);
    let mut views = Vec::new();
    let first = tokio::spawn(viewer(
        format!("{base}/ws/wallboard"),
        viewer_tokens[0].clone(),
        sh.clone(),
        if viewers > 0 {
            stop_rx.clone()
        } else {
            setup_stop_rx
        },
        Some((a.boxes, up_tx)),
    ));
    tokio::time::timeout(Duration::from_secs(60), up_rx)
        .await
        .map_err(|_| {
            anyhow::anyhow!("the daemon did not open all {} boxes within 60 s", a.boxes)
        })??;
    if viewers > 0 {
        views.push(first);
        for token in viewer_tokens.iter().take(viewers).skip(1) {
            views.push(tokio::spawn(viewer(
                format!("{base}/ws/wallboard"),
                token.clone(),
                sh.clone(),
                stop_rx.clone(),
                None,
            )));
        }
    } else {
        let _ = setup_stop_tx.send(true);
        let _ = first.await;
    }
    // Every desktop up (hello received) before the first call.
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(a.agents.max(1));
    let mut desks = Vec::with_capacity(a.agents);
    let gate = Arc::new(tokio::sync::Semaphore::new(32));
    for (i, token) in agent_tokens.iter().enumerate() {
        let permit = gate.clone().acquire_owned().await?;
        let (url, token, sh, stop, ready) = (
            format!("{base}/ws"),
            token.clone(),
            sh.clone(),
            stop_rx.clone(),
            ready_tx.clone(),
        );
        desks.push(tokio::spawn(async move {
            let (r2, mut r2rx) = tokio::sync::mpsc::channel(1);
            let fwd = tokio::spawn(async move {
                if r2rx.recv().await.is_some() {
                    drop(permit);
                    let _ = ready.send(()).await;
                }
            });
            let out = desktop(i, url, token, sh, stop, r2).await;
            fwd.abort();
            out
        }));
    }
    drop(ready_tx);
    let mut up = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while up < a.agents {
        match tokio::time::timeout_at(deadline, ready_rx.recv()).await {
            Ok(Some(())) => up += 1,
            _ => anyhow::bail!("only {up} of {} desktops connected", a.agents),
        }
    }
    // Let the agents' "ready" states settle on the wallboards.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // RSS every 10 s: (seconds, RSS KiB, replay-log bytes, daemon CPU s).
    let samples = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let sampler = {
        let (samples, sh) = (samples.clone(), sh.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tick.tick().await;
                let Some(rss) = pid_status_kib(pid, "VmRSS") else {
                    return;
                };
                let s = (
                    started.elapsed().as_secs_f64(),
                    rss,
                    pid_status_kib(pid, "RssAnon").unwrap_or(0),
                    pid_status_kib(pid, "RssFile").unwrap_or(0),
                    sh.replay_bytes.load(Ordering::Relaxed),
                    pid_cpu_time(pid).as_secs_f64(),
                );
                samples.lock().unwrap().push(s);
            }
        })
    };
    let cpu0 = pid_cpu_time(pid);
    let bench_cpu0 = cpu_time();

    // Play the plan.
    let mut per_box: Vec<Vec<(f64, u8, usize, Act)>> = vec![Vec::new(); a.boxes];
    for (k, c) in sh.plan.iter().enumerate() {
        for (at, act) in &c.acts {
            per_box[c.line / PORTS].push((*at, (c.line % PORTS + 1) as u8, k, act.clone()));
        }
    }
    let t0 = tokio::time::Instant::now() + Duration::from_millis(500);
    let mut players = Vec::new();
    for (sim, timeline) in sims.into_iter().zip(per_box) {
        players.push(tokio::spawn(play_box(sim, timeline, t0, sh.clone())));
    }
    let mut worst_slip = Duration::ZERO;
    let mut errors = Vec::new();
    let last = sh
        .plan
        .iter()
        .flat_map(|c| c.acts.iter().map(|a| a.0))
        .fold(0.0, f64::max);
    let play_deadline = t0 + Duration::from_secs_f64(last + 120.0);
    for p in players {
        match tokio::time::timeout_at(play_deadline, p).await {
            Ok(Ok(Ok(w))) => worst_slip = worst_slip.max(w),
            Ok(Ok(Err(e))) => errors.push(format!("box: {e}")),
            Ok(Err(e)) => errors.push(format!("box task: {e}")),
            Err(_) => errors.push("a box did not finish its plan in time".into()),
        }
    }
    // The last unanswered calls end at their ring timeout; then the last
    // frames reach the desktops.
    tokio::time::sleep(Duration::from_secs_f64(RING_TIMEOUT + 3.0)).await;
    let daemon_cpu = pid_cpu_time(pid).saturating_sub(cpu0);
    let bench_cpu = cpu_time().saturating_sub(bench_cpu0);
    let run_secs = started.elapsed().as_secs_f64();
    sampler.abort();
    let _ = stop_tx.send(true);
    let mut outs = Vec::new();
    for d in desks {
        match tokio::time::timeout(Duration::from_secs(30), d).await {
            Ok(Ok(o)) => outs.push(o),
            _ => errors.push("a desktop did not stop".into()),
        }
    }
    let mut vouts = Vec::new();
    for v in views {
        match tokio::time::timeout(Duration::from_secs(30), v).await {
            Ok(Ok(o)) => vouts.push(o),
            _ => errors.push("a wallboard did not stop".into()),
        }
    }
    // Stop the daemon as an operator would (SIGTERM): it drains the store.
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    match tokio::time::timeout(Duration::from_secs(60), child.wait()).await {
        Ok(Ok(st)) if st.success() => {}
        Ok(Ok(st)) => errors.push(format!("the daemon exited with {st}")),
        _ => {
            errors.push("the daemon did not stop within 60 s of SIGTERM".into());
            let _ = child.kill().await;
        }
    }

    // ------------------------------------------------------------ results
    let plan = &sh.plan;
    let recipients = |c: &Call| -> Vec<usize> {
        match &lay.routes[c.line] {
            Route::Agent(i) => vec![*i],
            Route::Team(t) => lay.teams[*t].clone(),
        }
    };
    let mut got: HashMap<(u32, usize), Instant> = HashMap::new();
    let (mut misrouted, mut dups, mut unnamed, mut reconnects, mut snapshots) = (0, 0, 0, 0, 0);
    let mut closes: HashMap<u16, u32> = HashMap::new();
    for o in &outs {
        misrouted += o.misrouted as u64;
        dups += o.dups as u64;
        unnamed += o.named_without_name as u64;
        reconnects += o.reconnects as u64;
        snapshots += o.snapshots as u64;
        for c in &o.closes {
            *closes.entry(*c).or_default() += 1;
        }
        if let Some(e) = &o.error {
            errors.push(format!("agent{}: {e}", o.agent));
        }
        for (k, at) in &o.pops {
            got.entry((*k, o.agent)).or_insert(*at);
        }
    }
    let (mut expected, mut delivered) = (0u64, 0u64);
    let (mut lat_all, mut lat_direct, mut lat_group_each, mut lat_group_last) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut missed_examples = Vec::new();
    for (k, c) in plan.iter().enumerate() {
        if c.kind == Kind::Outbound {
            continue;
        }
        let who = recipients(c);
        let Some(cid) = sh.cid_at[k].get() else {
            continue;
        };
        let group = matches!(lay.routes[c.line], Route::Team(_));
        let mut last = Duration::ZERO;
        let mut all = true;
        for agent in &who {
            expected += 1;
            match got.get(&(k as u32, *agent)) {
                Some(at) => {
                    delivered += 1;
                    let l = at.saturating_duration_since(*cid);
                    lat_all.push(l);
                    if group {
                        lat_group_each.push(l);
                    } else {
                        lat_direct.push(l);
                    }
                    last = last.max(l);
                }
                None => {
                    all = false;
                    if missed_examples.len() < 5 {
                        missed_examples.push(format!(
                            "call #{k} on {} ({:?}, start {:.1} s) to agent{agent}",
                            line_name(c.line),
                            c.kind,
                            c.start
                        ));
                    }
                }
            }
        }
        if group && all {
            lat_group_last.push(last);
        }
    }
    for v in [
        &mut lat_all,
        &mut lat_direct,
        &mut lat_group_each,
        &mut lat_group_last,
    ] {
        v.sort();
    }
    // CDRs against the plan, line by line in order.
    let rows = Store::open_reader(&db)?.calls().recent(10_000_000)?;
    let mut by_line: HashMap<String, Vec<callpop::store::CallRow>> = HashMap::new();
    for r in rows {
        by_line.entry(r.line.clone()).or_default().push(r);
    }
    let mut planned: HashMap<String, Vec<&Call>> = HashMap::new();
    for c in plan {
        planned.entry(line_name(c.line)).or_default().push(c);
    }
    let (mut cdr_ok, mut cdr_bad, mut cdr_missing, mut cdr_extra) = (0, 0, 0, 0);
    let mut cdr_examples = Vec::new();
    let empty = Vec::new();
    let mut lines: Vec<&String> = planned.keys().chain(by_line.keys()).collect();
    lines.sort();
    lines.dedup();
    for line in lines {
        let want = planned.get(line).unwrap_or(&empty);
        let have = by_line.get(line).map_or(&[][..], Vec::as_slice);
        if want.len() != have.len() && cdr_examples.len() < 8 {
            cdr_examples.push(format!(
                "{line}: {} calls planned, {} CDRs",
                want.len(),
                have.len()
            ));
        }
        cdr_missing += want.len().saturating_sub(have.len());
        cdr_extra += have.len().saturating_sub(want.len());
        for (c, r) in want.iter().zip(have) {
            let fits = r.direction == c.kind.direction()
                && r.outcome.as_deref() == Some(c.kind.outcome())
                && r.raw_number == c.number;
            if fits {
                cdr_ok += 1;
            } else {
                cdr_bad += 1;
                if cdr_examples.len() < 8 {
                    cdr_examples.push(format!(
                        "{line} call at {:.1} s: planned {} {} {:?}, CDR {} {:?} {:?} ({} rings)",
                        c.start,
                        c.kind.direction(),
                        c.kind.outcome(),
                        c.number,
                        r.direction,
                        r.outcome,
                        r.raw_number,
                        r.ring_count
                    ));
                }
            }
        }
    }
    // Wallboards: today's counts as the plan has them.
    let count = |k: Kind| plan.iter().filter(|c| c.kind == k).count() as u64;
    let want_today = [
        ("answered", count(Kind::Answered)),
        ("missed", count(Kind::Missed)),
        ("abandoned", count(Kind::Abandoned)),
        ("outbound", count(Kind::Outbound)),
    ];
    let mut wall_today_ok = 0;
    let mut wall_today_example = String::new();
    let (mut wall_wholes, mut wall_deltas) = (0, 0);
    for v in &vouts {
        wall_wholes += v.wholes;
        wall_deltas += v.deltas;
        for c in &v.closes {
            *closes.entry(*c).or_default() += 1;
        }
        if let Some(e) = &v.error {
            errors.push(format!("wallboard: {e}"));
        }
        let today = &v.picture["today"];
        if want_today
            .iter()
            .all(|(k, n)| today[*k].as_u64() == Some(*n))
        {
            wall_today_ok += 1;
        } else if wall_today_example.is_empty() {
            wall_today_example = format!("wallboard today {today}, plan {want_today:?}");
        }
    }
    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let warn_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    let mut warnings: Vec<String> = Vec::new();
    for l in &warn_lines {
        // Drop the timestamp; keep one of each kind.
        let key: String = l.split_whitespace().skip(1).collect::<Vec<_>>().join(" ");
        let key: String = key.chars().take(200).collect();
        let head = |s: &str| s.chars().take(60).collect::<String>();
        if !warnings.iter().any(|w| head(w) == head(&key)) && warnings.len() < 6 {
            warnings.push(key);
        }
    }
    let rss = samples.lock().unwrap().clone();
    Ok(RunResult {
        viewers,
        calls: plan.len(),
        expected,
        delivered,
        misrouted,
        dups,
        unnamed,
        lat_all,
        lat_direct,
        lat_group_each,
        lat_group_last,
        cdr_ok,
        cdr_bad,
        cdr_missing,
        cdr_extra,
        cdr_examples,
        rss,
        desk_frames: sh.desk_frames.load(Ordering::Relaxed),
        desk_bytes: sh.desk_bytes.load(Ordering::Relaxed),
        wall_frames: sh.wall_frames.load(Ordering::Relaxed),
        wall_bytes: sh.wall_bytes.load(Ordering::Relaxed),
        wall_wholes,
        wall_deltas,
        wall_today_ok,
        wall_today_example,
        closes,
        reconnects,
        snapshots,
        errors,
        worst_slip,
        daemon_cpu,
        bench_cpu,
        run_secs,
        warning_count: warn_lines.len(),
        warnings,
        missed_examples,
    })
}

fn lat(v: &[Duration]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    format!(
        "{:.0}/{:.0}/{:.0}/{:.0}",
        quantile_us(v, 0.5),
        quantile_us(v, 0.95),
        quantile_us(v, 0.99),
        quantile_us(v, 1.0)
    )
}

fn print_side_by_side(a: &Args, runs: &[RunResult]) {
    let lay = layout(a);
    println!();
    println!(
        "soak: {} agents ({} with their own line, {} in {} teams on group lines), {} boxes x {PORTS} lines, \
         {} calls/s for {} min, seed {}",
        a.agents,
        lay.direct,
        a.group_agents,
        lay.teams.len(),
        a.boxes,
        a.rate,
        a.minutes,
        a.seed
    );
    let col = |f: &dyn Fn(&RunResult) -> String| -> String {
        runs.iter()
            .map(|r| format!("{:>26}", f(r)))
            .collect::<Vec<_>>()
            .join("")
    };
    let row = |name: &str, f: &dyn Fn(&RunResult) -> String| println!("{name:<40}{}", col(f));
    row("wallboard viewers", &|r| r.viewers.to_string());
    row("calls played", &|r| r.calls.to_string());
    row("pops expected", &|r| r.expected.to_string());
    row("pops delivered (distinct call x agent)", &|r| {
        r.delivered.to_string()
    });
    row("MISSED pops", &|r| (r.expected - r.delivered).to_string());
    row("misrouted / repeated / name lost", &|r| {
        format!("{}/{}/{}", r.misrouted, r.dups, r.unnamed)
    });
    row(
        "pop us p50/p95/p99/max, every desktop",
        &|r| lat(&r.lat_all),
    );
    row("  agent lines", &|r| lat(&r.lat_direct));
    row("  group lines, each desktop", &|r| lat(&r.lat_group_each));
    row("  group lines, last of the team", &|r| {
        lat(&r.lat_group_last)
    });
    row("CDRs right / wrong", &|r| {
        format!("{}/{}", r.cdr_ok, r.cdr_bad)
    });
    row("CDRs missing / extra", &|r| {
        format!("{}/{}", r.cdr_missing, r.cdr_extra)
    });
    row("desktop frames / MB", &|r| {
        format!("{}/{:.1}", r.desk_frames, r.desk_bytes as f64 / 1e6)
    });
    row("wallboard frames / MB", &|r| {
        format!("{}/{:.1}", r.wall_frames, r.wall_bytes as f64 / 1e6)
    });
    row("  whole pictures / deltas", &|r| {
        format!("{}/{}", r.wall_wholes, r.wall_deltas)
    });
    row("  per viewer frames/s, KB/s", &|r| {
        if r.viewers == 0 {
            "-".into()
        } else {
            format!(
                "{:.1}, {:.1}",
                r.wall_frames as f64 / r.viewers as f64 / r.run_secs,
                r.wall_bytes as f64 / r.viewers as f64 / r.run_secs / 1e3
            )
        }
    });
    row("  wallboards with today = plan", &|r| {
        format!("{}/{}", r.wall_today_ok, r.viewers)
    });
    row("closes (code x n) / resumes / snapshots", &|r| {
        let mut c: Vec<String> = r.closes.iter().map(|(k, v)| format!("{k}x{v}")).collect();
        c.sort();
        format!("[{}] {}/{}", c.join(","), r.reconnects, r.snapshots)
    });
    row("daemon CPU (s) over the run", &|r| {
        format!("{:.0} of {:.0} s", r.daemon_cpu.as_secs_f64(), r.run_secs)
    });
    row("bench's own CPU (s): clients, sims", &|r| {
        format!("{:.0}", r.bench_cpu.as_secs_f64())
    });
    row(
        "RSS MiB first / last sample",
        &|r| match (r.rss.first(), r.rss.last()) {
            (Some(f), Some(l)) => {
                format!("{:.0} / {:.0}", f.1 as f64 / 1024.0, l.1 as f64 / 1024.0)
            }
            _ => "-".into(),
        },
    );
    row("worst schedule slip of the box sims", &|r| {
        format!("{:?}", r.worst_slip)
    });
    row("daemon WARN/ERROR lines", &|r| r.warning_count.to_string());
    if runs.len() == 2 {
        let (p0, p1) = (
            quantile_us(&runs[0].lat_all, 0.99),
            quantile_us(&runs[1].lat_all, 0.99),
        );
        println!(
            "pop p99 with {} viewers / without: {:.2}x (target <= 2x)",
            runs[1].viewers,
            p1 / p0.max(1.0)
        );
    }
    for r in runs {
        println!();
        println!(
            "run with {} viewers: daemon memory every 10 s (MiB): RSS = anonymous + file \
             (the database's mmap); the replay logs as the desktops count them; daemon CPU s",
            r.viewers
        );
        for (t, rss, anon, file, replay, cpu) in &r.rss {
            let mib = |k: u64| k as f64 / 1024.0;
            let replay = *replay as f64 / 1048576.0;
            println!(
                "  {t:>6.0} s  RSS {:>7.1}  anon {:>7.1}  file {:>6.1}  replay logs {replay:>6.1}  \
                 anon - replay {:>7.1}  cpu {cpu:>6.1}",
                mib(*rss),
                mib(*anon),
                mib(*file),
                mib(*anon) - replay
            );
        }
        for e in r.errors.iter().take(10) {
            println!("  error: {e}");
        }
        for e in &r.missed_examples {
            println!("  missed: {e}");
        }
        for e in &r.cdr_examples {
            println!("  cdr: {e}");
        }
        if !r.wall_today_example.is_empty() {
            println!("  wallboard: {}", r.wall_today_example);
        }
        for w in &r.warnings {
            println!("  daemon: {w}");
        }
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let daemon = common::daemon_binary()?;
    let runs: Vec<usize> = if a.only_viewers || a.viewers == 0 {
        vec![a.viewers]
    } else {
        vec![0, a.viewers]
    };
    let mut results = Vec::new();
    for v in runs {
        println!("run: {v} wallboard viewers, {} min ...", a.minutes);
        let t = Instant::now();
        let r = run(&a, v, &daemon).await?;
        println!(
            "  done in {:.0} s: {} calls, {} of {} pops, pop p99 {:.0} us",
            t.elapsed().as_secs_f64(),
            r.calls,
            r.delivered,
            r.expected,
            quantile_us(&r.lat_all, 0.99)
        );
        results.push(r);
    }
    print_side_by_side(&a, &results);
    Ok(())
}
