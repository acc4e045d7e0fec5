//! The web app as an agent's browser meets it, through the real daemon
//! (`callpop serve`, a child process) and headless Chromium:
//!
//! - time to interactive of the workspace: a cold browser (new profile,
//!   empty cache) opens `/workspace` logged in; from the navigation's start
//!   to the first frame that shows the agent's state over a connected
//!   socket. Target: ≤ 1 s.
//! - pop paint: from the `call.ringing` frame's arrival in the page (a
//!   listener added before the app's) to the first frame painted with its
//!   card, over 100 pops. Target: p99 ≤ 50 ms.
//! - the bundle: what the browser downloads, raw and gzipped (as served).
//!
//! flock /tmp/cargo.lock cargo build --release
//! flock /tmp/cargo.lock cargo run --release --example bench_web -- [POPS] [--cold N]

mod common;

#[path = "../tests/common/browser.rs"]
#[allow(dead_code)] // the tests use the rest of the helper
mod browser;

use browser::Browser;
use callpop::devices::profile::load_all;
use callpop::phone::{Normalizer, NormalizerSettings};
use callpop::sim::script::Action;
use callpop::sim::BoxSim;
use callpop::store::{Binding, Role, Store};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// What the browser helper expects of its crate.
type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
const PASSWORD: &str = "bench-password";

/// Watches the page from before the app starts: when each pop's frame
/// arrives and when its card is first painted, and when the workspace is
/// first usable.
const PROBE: &str = r#"
window.__pops = {}; window.__painted = {}; if (location.search.includes('muted')) localStorage.setItem('callpop.muted', '1');
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...a) {
    super(...a);
    this.addEventListener('message', (e) => {
      if (typeof e.data === 'string' && e.data.includes('"call.ringing"')) {
        try { const m = JSON.parse(e.data); window.__pops[m.data.call_id] ??= performance.now(); } catch (_) {}
      }
    });
  }
};
const seen = new Set();
const look = () => {
  for (const el of document.querySelectorAll('.pop[data-call]')) {
    const id = el.dataset.call;
    if (!seen.has(id)) { seen.add(id); (window.__inserted ??= {})[id] = performance.now(); requestAnimationFrame(() => { window.__painted[id] = performance.now(); }); }
  }
  if (window.__tti === undefined && document.querySelector('[data-test=conn][data-conn=connected]') &&
      document.querySelector('[data-test=state][data-state=ready]')) {
    requestAnimationFrame(() => { window.__tti ??= performance.now(); });
  }
};
// Right after each change of the page (a microtask, before any frame).
new MutationObserver(look).observe(document, { childList: true, subtree: true, attributes: true });
"#;

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut pops, mut cold) = (100usize, 10usize);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cold" => cold = args.next().unwrap_or_default().parse()?,
            n => pops = n.parse()?,
        }
    }
    let daemon = common::daemon_binary()?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("pop.db");
    let token = {
        let store = Store::open(&db)?;
        let normalizer = Normalizer::new(NormalizerSettings::default());
        callpop::demo::seed_customers(&store, &normalizer, 10_000)?;
        store
            .workorders()
            .put_form(&toml::from_str(callpop::demo::DEMO_FORM)?)?;
        let hash = callpop::auth::hash_password(PASSWORD)?;
        let id =
            store
                .users()
                .add_user("agent0", "王芳", Role::Agent, Some("sales"), Some(&hash))?;
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
    let mut sim = BoxSim::start(profile.clone(), &link)?;
    let (config, port) = common::box_daemon_config(
        dir.path(),
        &db,
        &link,
        "[screen_pop]\nafter_call_secs = 0\n",
    )?;
    let _child = tokio::process::Command::new(&daemon)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Time to interactive, each in a cold browser.
    let mut tti = Vec::new();
    for _ in 0..cold {
        let mut b = Browser::start().await;
        b.call("Page.enable", json!({})).await;
        b.call("Network.enable", json!({})).await;
        b.call(
            "Network.setCookie",
            json!({"name": "callpop_session", "value": token, "url": base}),
        )
        .await;
        b.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": PROBE}),
        )
        .await;
        b.goto(&format!("{base}/workspace")).await;
        b.wait_for("window.__tti !== undefined").await;
        tti.push(b.eval("window.__tti").await.as_f64().unwrap());
    }

    // Pop paint, in one warm page.
    let mut b = Browser::start().await;
    b.call("Page.enable", json!({})).await;
    b.call("Network.enable", json!({})).await;
    b.call(
        "Network.setCookie",
        json!({"name": "callpop_session", "value": token, "url": base}),
    )
    .await;
    b.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": PROBE}),
    )
    .await;
    b.goto(&format!(
        "{base}/workspace{}",
        if std::env::var("MUTED").is_ok() {
            "?muted"
        } else {
            ""
        }
    ))
    .await;
    b.wait_for("window.__tti !== undefined").await;
    let idle = b
        .eval("(async () => { const out = []; for (let i = 0; i < 20; i++) { const t = performance.now(); await new Promise(r => requestAnimationFrame(r)); out.push(performance.now() - t); } out.sort((a, b) => a - b); return out[10]; })()")
        .await;
    println!("an idle frame comes after {idle} ms (p50)");
    let mut paint = Vec::new();
    let mut inserted = Vec::new();
    for i in 0..pops {
        let number = format!("1380000{:04}", i % 10_000);
        sim.act(&Action::Ring { port: 1 }).await?;
        sim.act(&Action::Cid {
            port: 1,
            number: number.clone(),
            name: None,
        })
        .await?;
        b.wait_for("Object.keys(window.__painted).length > 0 && Object.keys(window.__painted).every(k => window.__pops[k] !== undefined)")
            .await;
        let ms = b
            .eval("const [id] = Object.keys(window.__painted); const ms = [window.__painted[id] - window.__pops[id], window.__inserted[id] - window.__pops[id]]; delete window.__painted[id]; ms")
            .await;
        inserted.push(ms[1].as_f64().unwrap());
        paint.push(ms[0].as_f64().unwrap());
        sim.act(&Action::Hangup { port: 1 }).await?;
        // The agent closes the card (nothing typed: no question asked).
        b.wait_for("document.querySelector('.pop [data-test=status]')?.innerText.includes(':') || document.querySelector('.pop [data-test=status]')?.innerText.includes('：')")
            .await;
        b.click(".pop .close").await;
        b.wait_for("!document.querySelector('.pop')").await;
    }
    b.assert_no_console_errors();

    tti.sort_by(f64::total_cmp);
    inserted.sort_by(f64::total_cmp);
    println!(
        "  of which frame → card in the DOM: p50 {:.1} ms, p99 {:.1} ms",
        quantile(&inserted, 0.5),
        quantile(&inserted, 0.99)
    );
    paint.sort_by(f64::total_cmp);
    println!(
        "workspace time to interactive, cold ({} browsers): p50 {:.0} ms, max {:.0} ms (target ≤ 1000 ms)",
        tti.len(),
        quantile(&tti, 0.5),
        tti.last().copied().unwrap_or_default()
    );
    println!(
        "pop frame → card painted ({} pops): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 ≤ 50 ms)",
        paint.len(),
        quantile(&paint, 0.5),
        quantile(&paint, 0.9),
        quantile(&paint, 0.99),
        paint.last().copied().unwrap_or_default()
    );
    // The bundle as the browser downloads it for the workspace.
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/dist/assets");
    let (mut raw, mut gz) = (0usize, 0usize);
    for e in std::fs::read_dir(dist)? {
        let bytes = std::fs::read(e?.path())?;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut enc, &bytes)?;
        raw += bytes.len();
        gz += enc.finish()?.len();
    }
    println!(
        "bundle (all assets): {:.0} KiB raw, {:.0} KiB gzipped as served",
        raw as f64 / 1024.0,
        gz as f64 / 1024.0
    );
    Ok(())
}
