//! Click-to-dial latency through the real daemon (`callpop serve`, a child
//! process): from the moment an agent's page sends `POST /api/calls/dial`
//! (on a kept-alive connection, as a browser does) to the moment the
//! simulated box on the pseudo-terminal has read the whole dial command
//! (`$1,DIAL,<digits>`). Each call's far end refuses at once; the next
//! click comes 20 ms after the last dial's answer, as clicks do (a person
//! does not click a thousand times a second), and a dial that still finds
//! the line busy is tried again and not counted. Target: p99 ≤ 5 ms on
//! this machine.
//!
//! flock /tmp/cargo.lock cargo build --release
//! flock /tmp/cargo.lock cargo run --release --example bench_dial -- [DIALS]

mod common;

use callpop::devices::profile::load_all;
use callpop::sim::far_end::FarEnd;
use callpop::sim::BoxSim;
use callpop::store::{Binding, Role, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Sends one request on a kept-alive connection; the status.
async fn post(
    conn: &mut tokio::net::TcpStream,
    path: &str,
    token: &str,
    body: &str,
) -> anyhow::Result<u16> {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nCookie: callpop_session={token}\r\n\
         X-CSRF-Token: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        callpop::auth::csrf_token(token),
        body.len()
    );
    conn.write_all(req.as_bytes()).await?;
    // Read the head, then the body by its length.
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut buf).await?;
        anyhow::ensure!(n > 0, "the server closed the connection");
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while raw.len() < head_end + length {
        let n = conn.read(&mut buf).await?;
        anyhow::ensure!(n > 0, "the server closed the connection");
        raw.extend_from_slice(&buf[..n]);
    }
    Ok(head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dials: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1000);
    let daemon = common::daemon_binary()?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("dial.db");
    let token = {
        let store = Store::open(&db)?;
        let id = store
            .users()
            .add_user("agent0", "王芳", Role::Agent, Some("sales"), None)?;
        store
            .agents()
            .bind_line("box1/1", &Binding::Agent("agent0".into()))?;
        let token = callpop::auth::new_token();
        store
            .users()
            .create_session(&callpop::auth::token_hash(&token), id, i64::MAX, None)?;
        token
    };
    let profile = Arc::new(load_all(None)?["text-box-4port"].clone());
    let link = dir.path().join("tty");
    let sim = BoxSim::start(profile, &link)?;
    sim.far().set(FarEnd::Fail);
    let (config, port) = common::box_daemon_config(
        dir.path(),
        &db,
        &link,
        "[dial_plan]\nmax_dials_per_hour = 0\n",
    )?;
    let _child = tokio::process::Command::new(&daemon)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut conn = loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    conn.set_nodelay(true)?;
    let body = r#"{"number":"13912345678"}"#;
    // The box must be up (its init answered) before the first dial counts.
    while post(&mut conn, "/api/calls/dial", &token, body).await? != 201 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sim.far().dialled(1).await;
    let mut latencies = Vec::with_capacity(dials);
    let mut retried = 0usize;
    while latencies.len() < dials {
        let before = sim.far().dial_times().len();
        let sent = Instant::now();
        match post(&mut conn, "/api/calls/dial", &token, body).await? {
            201 => {
                sim.far().dialled(before + 1).await;
                let read = sim.far().dial_times()[before];
                latencies.push(read.duration_since(sent).as_secs_f64() * 1000.0);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // The last call's refusal is still on its way: the line is busy.
            409 => {
                retried += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            other => anyhow::bail!("dial answered {other}"),
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    println!(
        "click → dial command on the wire, {} dials ({} found the line still busy and were tried again): \
         p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p99 ≤ 5 ms)",
        latencies.len(),
        retried,
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.9),
        quantile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
    Ok(())
}
