//! The whole stack for end-to-end tests: a store with users, customers and
//! the demo form, a simulated four-port box on a pseudo-terminal, the real
//! driver, engine, pop hub and web server, and small HTTP and websocket
//! clients.
#![allow(dead_code)]

pub mod browser;
pub mod crms;
pub mod daemon;

use callpop::calls::CallPolicy;
use callpop::devices::profile::load_all;
use callpop::devices::serial::BoxDevice;
use callpop::engine::Engine;
use callpop::phone::{MatchPolicy, Normalizer, NormalizerSettings};
use callpop::pop::HubSettings;
use callpop::sim::script::Action;
use callpop::sim::BoxSim;
use callpop::store::{Binding, NewCustomer, NewPhone, Role, Store, StoreHandle};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub const PASSWORD: &str = "secret-pass";

pub struct Stack {
    pub addr: SocketAddr,
    pub hub: callpop::pop::HubHandle,
    pub sim: BoxSim,
    pub store: StoreHandle,
    /// Where calls' recordings go (every line records a looped test tone).
    pub recordings: std::path::PathBuf,
    /// The CRM connectors it looks callers up in (none unless given).
    pub crm: callpop::crm::Crm,
    _lines: callpop::lines::Lines,
    _dir: tempfile::TempDir,
}

pub async fn stack(send_queue: usize) -> Stack {
    stack_in(tempfile::tempdir().unwrap(), send_queue).await
}

/// The stack with its database, recordings and uploads under `dir`.
pub async fn stack_in(dir: tempfile::TempDir, send_queue: usize) -> Stack {
    stack_with(dir, send_queue, |_| {}).await
}

/// The stack with `[screen_pop]` settings changed by `tweak`.
pub async fn stack_with(
    dir: tempfile::TempDir,
    send_queue: usize,
    tweak: impl FnOnce(&mut callpop::config::ScreenPopConfig),
) -> Stack {
    stack_allowing(dir, send_queue, tweak, Vec::new()).await
}

/// The stack with `[screen_pop]` settings changed by `tweak`, and other
/// systems' pages at `allowed_origins` let in with tokens (`[api]`).
pub async fn stack_allowing(
    dir: tempfile::TempDir,
    send_queue: usize,
    tweak: impl FnOnce(&mut callpop::config::ScreenPopConfig),
    allowed_origins: Vec<String>,
) -> Stack {
    stack_full(dir, send_queue, tweak, allowed_origins, Vec::new()).await
}

/// The stack with everything of the others and CRM connectors (`[[crm]]`).
pub async fn stack_full(
    dir: tempfile::TempDir,
    send_queue: usize,
    tweak: impl FnOnce(&mut callpop::config::ScreenPopConfig),
    allowed_origins: Vec<String>,
    crms: Vec<callpop::crm::Configured>,
) -> Stack {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let store = Store::open(&dir.path().join("pop.db")).unwrap();
    let normalizer = Arc::new(Normalizer::new(NormalizerSettings::default()));
    let hash = callpop::auth::hash_password(PASSWORD).unwrap();
    for (name, role, team) in [
        ("agent1", Role::Agent, Some("sales")),
        ("agent2", Role::Agent, Some("sales")),
        ("lead1", Role::TeamLead, Some("sales")),
        ("lead2", Role::TeamLead, Some("support")),
        ("admin", Role::Admin, None),
    ] {
        store
            .users()
            .add_user(name, name, role, team, Some(&hash))
            .unwrap();
    }
    let agent2 = store.users().user_by_name("agent2").unwrap().unwrap().id;
    let phone = |n: &str| NewPhone {
        number: normalizer.normalize(n).unwrap(),
        label: None,
    };
    store
        .customers()
        .insert_customer(&NewCustomer {
            name: "王伟".into(),
            company: "华信科技有限公司".into(),
            phones: vec![phone("13812345678")],
            ..NewCustomer::default()
        })
        .unwrap();
    store
        .customers()
        .insert_customer(&NewCustomer {
            name: "赵敏".into(),
            owner_user_id: Some(agent2),
            phones: vec![phone("13900001111")],
            ..NewCustomer::default()
        })
        .unwrap();
    for name in ["孙丽 (华信总机)", "周杰 (华信总机)"] {
        store
            .customers()
            .insert_customer(&NewCustomer {
                name: name.into(),
                company: "华信科技有限公司".into(),
                phones: vec![phone("02161234567")],
                ..NewCustomer::default()
            })
            .unwrap();
    }
    store
        .workorders()
        .put_form(&toml::from_str(callpop::demo::DEMO_FORM).unwrap())
        .unwrap();
    store
        .agents()
        .bind_line("box1/1", &Binding::Agent("agent1".into()))
        .unwrap();
    store
        .agents()
        .bind_line("box1/2", &Binding::Team("sales".into()))
        .unwrap();
    let store = StoreHandle::spawn(store);
    let profile = Arc::new(load_all(None).unwrap()["text-box-4port"].clone());
    let link = dir.path().join("ttyBOX");
    let sim = BoxSim::start(profile.clone(), &link).unwrap();
    let mut engine = Engine::new(
        store.clone(),
        normalizer.clone(),
        MatchPolicy::default(),
        CallPolicy::default(),
    )
    .unwrap();
    let device = BoxDevice::new("box1", link, profile.clone());
    // The box's lines dial, as its profile says.
    for line in &device.lines {
        engine.set_policy(
            line,
            callpop::lines::policy_for(&callpop::config::Config::default(), &profile),
        );
    }
    let events = engine.subscribe();
    let lines = callpop::lines::spawn(engine, vec![device], None).unwrap();
    let mut settings = callpop::config::ScreenPopConfig {
        send_queue,
        heartbeat_secs: 2,
        after_call_secs: 0,
        ..Default::default()
    };
    tweak(&mut settings);
    let metrics = callpop::metrics::Metrics::new();
    let (devices_now, metric_events) = lines.subscribe_with_devices();
    devices_now.iter().for_each(|e| metrics.on_call_event(e));
    tokio::spawn(metrics.clone().run(metric_events));
    let handle = callpop::pop::start(
        &store,
        HubSettings::from_config(&settings),
        metrics.clone(),
        lines.runtime(),
        || lines.subscribe_with_devices(),
    )
    .await
    .unwrap();
    let listener = callpop::web::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let recordings = dir.path().join("recordings");
    let tone = dir.path().join("line-audio.wav");
    write_tone(&tone, 8000, 440.0, 2.0);
    let sources = (1..=4)
        .map(|port| {
            let spec = callpop::recording::source::SourceSpec::File {
                path: tone.clone(),
                rate: 8000,
                pace: callpop::config::Pace::Realtime,
                looped: true,
            };
            (format!("box1/{port}"), spec)
        })
        .collect();
    tokio::spawn(callpop::recording::recorder::run(
        callpop::recording::recorder::RecorderSettings {
            root: recordings.clone(),
            sample_rate: 8000,
            start: callpop::config::RecordingStart::Answer,
            sources,
            taps: Default::default(),
        },
        store.clone(),
        lines.events.subscribe(),
        lines.events.downgrade(),
    ));
    let crm = callpop::crm::Crm::new(crms);
    tokio::spawn(crm.clone().run(handle.clone(), lines.events.subscribe()));
    let state = callpop::web::AppState {
        devices: Some(lines.desk.clone()),
        profile_dir: None,
        logins: callpop::web::Logins::from_config(&settings),
        session_ends: Default::default(),
        imports: Default::default(),
        tickets: Default::default(),
        crm: Some(crm.clone()),
        dialer: Some(callpop::outbound::Dialer::new(
            lines.control.clone(),
            handle.clone(),
            callpop::dial_plan::DialPlanConfig::default(),
            normalizer.clone(),
            lines.dialling_lines.clone(),
            store.agents().call(|a| a.dial_pools()).await.unwrap(),
        )),
        closing: Default::default(),
        metrics,
        reports: callpop::web::ReportSettings::from_config(&Default::default()),
        recordings: callpop::web::RecordingFiles {
            root: recordings.clone(),
            archive: None,
            retention_days: 0,
        },
        store: store.clone(),
        hub: Some(handle.clone()),
        settings: Arc::new(callpop::web::WebSettings {
            allowed_origins,
            ..callpop::web::WebSettings::from_config(&settings)
        }),
        normalizer,
        campaigns: None,
        uploads: dir.path().join("uploads"),
    };
    tokio::spawn(callpop::web::serve(listener, state, std::future::pending()));
    wait_up(events).await;
    Stack {
        addr,
        hub: handle,
        sim,
        store,
        recordings,
        crm,
        _lines: lines,
        _dir: dir,
    }
}

pub async fn wait_up(mut events: tokio::sync::broadcast::Receiver<callpop::event::CallEvent>) {
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if let Ok(callpop::event::CallEvent::Device {
                state: callpop::event::DeviceState::Up,
                ..
            }) = events.recv().await
            {
                return;
            }
        }
    })
    .await
    .expect("the simulated box came up");
}

/// Serves `app` on a free local port for as long as the test runs (a
/// receiver, a CRM, another system's page); its address.
pub async fn serve_local(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Disables the user `name` as an admin does in the console (their
/// sessions end; so do desktops opened for them).
pub async fn disable_user(
    addr: SocketAddr,
    admin: &str,
    name: &str,
    role: &str,
    team: Option<&str>,
) {
    let (code, _, body) = http(
        addr,
        "PUT",
        &format!("/api/users/{name}"),
        Some(admin),
        Some(json!({"display_name": name, "role": role, "team": team, "disabled": true})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
}

/// A minimal HTTP/1.1 client: status, session token set (if any), JSON body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    http_raw(addr, method, path, token, "application/json", &body).await
}

/// The same with a body of any type (a file as a page uploads it).
pub async fn http_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &str,
) -> (u16, Option<String>, Value) {
    // A page sends its session's CSRF token on every change.
    let cookie = token
        .map(|t| {
            let csrf = if method == "GET" {
                String::new()
            } else {
                format!("X-CSRF-Token: {}\r\n", callpop::auth::csrf_token(t))
            };
            format!("Cookie: callpop_session={t}\r\n{csrf}")
        })
        .unwrap_or_default();
    request(addr, method, path, &cookie, content_type, body).await
}

/// A request as another system makes it: an API token, no cookie.
#[allow(dead_code)]
pub async fn http_bearer(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = format!("Authorization: Bearer {token}\r\n");
    let (code, _, body) = request(addr, method, path, &auth, "application/json", &body).await;
    (code, body)
}

/// One HTTP/1.1 request with extra header lines (each ending in CRLF).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    content_type: &str,
    body: &str,
) -> (u16, Option<String>, Value) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{headers}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let token = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: callpop_session="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .filter(|t| !t.is_empty());
    (
        status,
        token,
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// Just the status of a request.
pub async fn status(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> u16 {
    http(addr, method, path, token, body).await.0
}

/// Adds a user (password [`PASSWORD`]) to the stack's store.
pub async fn add_user(s: &Stack, name: &'static str, role: Role) {
    let hash = callpop::auth::hash_password(PASSWORD).unwrap();
    s.store
        .users()
        .call(move |st| st.add_user(name, name, role, None, Some(&hash)).map(|_| ()))
        .await
        .unwrap();
}

/// Work order `key` (its idempotency key) of `customer` on the demo's
/// service form with `fields` (a JSON object), saved by user `agent` as a
/// desktop's save writes it.
#[allow(dead_code)]
pub async fn save_work_order(
    s: &Stack,
    agent: &'static str,
    customer: i64,
    key: &'static str,
    fields: Value,
) -> callpop::store::SavedWorkOrder {
    let agent = user_id(s, agent).await;
    let fields = fields.as_object().cloned().expect("fields as an object");
    s.store
        .workorders()
        .call(move |w| w.save_work_order("service", Some(customer), None, agent, key, &fields))
        .await
        .unwrap()
}

/// The id of the stack's user `name`.
#[allow(dead_code)]
pub async fn user_id(s: &Stack, name: &'static str) -> i64 {
    s.store
        .users()
        .call(move |u| u.user_by_name(name))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no user {name}"))
        .id
}

/// The id of the first customer (of all) whose name starts with `name`.
#[allow(dead_code)]
pub async fn customer_id(s: &Stack, name: &'static str) -> i64 {
    s.store
        .directory()
        .call(move |d| {
            d.search(
                &callpop::store::CustomerQuery {
                    name: Some(name.into()),
                    ..Default::default()
                },
                &callpop::store::Scope::All,
            )
        })
        .await
        .unwrap()
        .items
        .first()
        .unwrap_or_else(|| panic!("no customer {name}"))
        .id
}

/// The work orders saved for call `call_uid`, as the store has them.
pub async fn work_orders_of(s: &Stack, call_uid: &str) -> Vec<callpop::store::WorkOrderRow> {
    let uid = call_uid.to_string();
    s.store
        .workorders()
        .call(move |st| st.call_work_orders(&uid, &callpop::store::Scope::All))
        .await
        .unwrap()
}

/// Logs each user in; their session tokens, in order.
pub async fn login_all<const N: usize>(s: &Stack, users: [&str; N]) -> [String; N] {
    let mut out = Vec::with_capacity(N);
    for u in users {
        out.push(login(s.addr, u).await);
    }
    out.try_into().unwrap()
}

pub async fn login(addr: SocketAddr, user: &str) -> String {
    let (status, token, _) = http(
        addr,
        "POST",
        "/api/login",
        None,
        Some(json!({"username": user, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 200);
    token.expect("a session cookie")
}

pub async fn ws(
    addr: SocketAddr,
    token: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = ws_url(&format!("ws://{addr}/ws"), token)
        .into_client_request()
        .unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("cookie", format!("callpop_session={t}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.map(|(s, _)| s)
}

/// A websocket URL with the session's CSRF token, as the pages open it.
pub fn ws_url(url: &str, token: Option<&str>) -> String {
    match token {
        Some(t) => format!("{url}?csrf={}", callpop::auth::csrf_token(t)),
        None => url.to_string(),
    }
}

/// The next server message of `kind` (others are skipped), within 10 s.
pub async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == kind {
                        return v;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("connection ended waiting for {kind}: {other:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} within 10 s"))
}

/// The next server message, whatever it is (heartbeats skipped), within 10 s.
pub async fn next_any(ws: &mut Ws) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] != "heartbeat" {
                        return v;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("connection ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a message within 10 s")
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

pub async fn ring(sim: &mut BoxSim, port: u8, number: &str) {
    sim.act(&Action::Ring { port }).await.unwrap();
    sim.act(&Action::Cid {
        port,
        number: number.into(),
        name: None,
    })
    .await
    .unwrap();
}

/// A 16-bit mono WAV of a sine at `freq` Hz, half of full scale.
pub fn write_tone(path: &std::path::Path, rate: u32, freq: f64, secs: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(f64::from(rate) * secs) as usize {
        let t = i as f64 / f64::from(rate);
        w.write_sample((16000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

/// A GET whose body is bytes (audio, sheets): status, raw head, body.
pub async fn get_bytes(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    extra_headers: &str,
) -> (u16, String, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let cookie = token
        .map(|t| format!("Cookie: callpop_session={t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{cookie}{extra_headers}\r\n"
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, raw[split + 4..].to_vec())
}

/// A supervisor's wallboard socket.
pub async fn wallboard(s: &Stack, token: &str) -> Ws {
    let mut req = ws_url(&format!("ws://{}/ws/wallboard", s.addr), Some(token))
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "cookie",
        format!("callpop_session={token}").parse().unwrap(),
    );
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// The next wallboard picture for which `pred` holds: whole pictures
/// replace it, deltas change it as the page applies them.
pub async fn picture(ws: &mut Ws, current: &mut Value, pred: impl Fn(&Value) -> bool) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    match v["type"].as_str() {
                        Some("wallboard") => *current = v["data"].clone(),
                        Some("wallboard.delta") => apply_delta(current, &v["data"]),
                        other => panic!("unexpected wallboard frame {other:?}"),
                    }
                    if pred(current) {
                        return current.clone();
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("the wallboard closed: {other:?}"),
            }
        }
    })
    .await
    .expect("the picture within 10 s")
}

pub fn apply_delta(p: &mut Value, d: &Value) {
    for (k, v) in d["replace"].as_object().unwrap() {
        p[k] = v.clone();
    }
    for (k, entries) in d["changed"].as_object().unwrap() {
        for (key, v) in entries.as_object().unwrap() {
            p[k][key] = v.clone();
        }
    }
    for (k, keys) in d["removed"].as_object().unwrap() {
        for key in keys.as_array().unwrap() {
            p[k].as_object_mut().unwrap().remove(key.as_str().unwrap());
        }
    }
}

/// Asks `probe` every 20 ms until it has an answer: a wait for a
/// condition, never for a head start. After 30 s the test fails, saying
/// what it waited for and what `last` shows.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F, last: impl Fn() -> String) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited 30 s for {what}: {}",
            last()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
