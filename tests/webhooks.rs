//! Webhooks on the whole stack, delivered to a real HTTP receiver started
//! here that checks every signature and records what arrives: an admin
//! subscribes an endpoint; customer and work-order changes made through
//! the API arrive signed, each once, in order; while the receiver is down
//! they wait and are retried with the same event ids, then all arrive in
//! order; the delivery log, redelivery and secret rotation; bad requests'
//! codes; a `webhooks:admin` token manages endpoints.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use callpop::webhooks::signature;
use callpop::webhooks::worker::{run, WorkerSettings};
use common::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receiver saw: each accepted event, and every refusal.
#[derive(Default)]
struct Received {
    events: Mutex<Vec<Value>>,
    signatures: Mutex<Vec<String>>,
    down: AtomicBool,
    refused: Mutex<u32>,
    secret: Mutex<Vec<String>>,
}

async fn receive(State(r): State<Arc<Received>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if r.down.load(Ordering::SeqCst) {
        *r.refused.lock().unwrap() += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let sig = headers
        .get("x-callpop-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let now = callpop::store::now_ms() / 1000;
    let secrets = r.secret.lock().unwrap().clone();
    if !secrets
        .iter()
        .any(|s| signature::verify(s.as_bytes(), &sig, &body, now, 300).is_ok())
    {
        return StatusCode::UNAUTHORIZED;
    }
    r.signatures.lock().unwrap().push(sig);
    r.events
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    StatusCode::NO_CONTENT
}

async fn receiver() -> (String, Arc<Received>) {
    let r = Arc::new(Received::default());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(r.clone());
    (format!("http://{}/hook", serve_local(app).await), r)
}

/// Subscribes the receiver `r` at `url` to `events`; it learns the secret.
async fn subscribe(
    addr: std::net::SocketAddr,
    admin: &str,
    url: &str,
    r: &Received,
    events: &[&str],
) {
    let (code, _, made) = http(
        addr,
        "POST",
        "/api/webhooks",
        Some(admin),
        Some(json!({"url": url, "events": events})),
    )
    .await;
    assert_eq!(code, 201, "{made}");
    r.secret
        .lock()
        .unwrap()
        .push(made["secret"].as_str().unwrap().to_string());
}

/// The delivery worker on the stack's store, retrying within 50 ms.
fn deliver_quickly(s: &Stack) {
    tokio::spawn(run(
        s.store.clone(),
        WorkerSettings {
            retry_base_ms: 50,
            timeout: Duration::from_secs(5),
            poll: Duration::from_millis(20),
            due_scan: Duration::from_millis(50),
            ..WorkerSettings::default()
        },
    ));
}

/// Waits (for a condition, not a head start) until `n` events arrived.
async fn arrived(r: &Received, n: usize) -> Vec<Value> {
    let got = || r.events.lock().unwrap().clone();
    eventually(
        &format!("{n} events"),
        || async { Some(got()).filter(|g| g.len() >= n) },
        || format!("{:?}", got()),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_arrive_signed_in_order_through_an_outage() {
    let s = stack(64).await;
    let [admin, agent2] = login_all(&s, ["admin", "agent2"]).await;
    let (url, r) = receiver().await;
    deliver_quickly(&s);

    // Refusals first.
    for (body, code) in [
        (json!({"url": "ftp://x/y", "events": ["*"]}), "webhook_url"),
        (json!({"url": "not a url", "events": ["*"]}), "webhook_url"),
        (json!({"url": url, "events": []}), "webhook_events_missing"),
        (
            json!({"url": url, "events": ["customer.updatd"]}),
            "webhook_event_unknown",
        ),
    ] {
        let (status, _, answer) =
            http(s.addr, "POST", "/api/webhooks", Some(&admin), Some(body)).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{answer}"
        );
    }
    assert_eq!(
        status(
            s.addr,
            "POST",
            "/api/webhooks",
            Some(&agent2),
            Some(json!({"url": url, "events": ["*"]}))
        )
        .await,
        403
    );
    let (code, _, made) = http(
        s.addr,
        "POST",
        "/api/webhooks",
        Some(&admin),
        Some(json!({"url": url, "description": "CRM", "events": ["customer.updated", "workorder.updated"]})),
    )
    .await;
    assert_eq!(code, 201, "{made}");
    let id = made["id"].as_i64().unwrap();
    let secret = made["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    r.secret.lock().unwrap().push(secret.clone());
    let (_, _, listed) = http(s.addr, "GET", "/api/webhooks", Some(&admin), None).await;
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown once"
    );

    // An edit through the API arrives, signed, with the customer.
    let zhao = customer_id(&s, "赵敏").await;
    let edit = |company: &str| json!({"name": "赵敏", "company": company, "phones": [{"number": "13900001111"}]});
    let page = format!("/api/customers/{zhao}");
    let (code, _, _) = http(s.addr, "PUT", &page, Some(&agent2), Some(edit("远大"))).await;
    assert_eq!(code, 200);
    let got = arrived(&r, 1).await;
    assert_eq!(got[0]["type"], "customer.updated");
    assert_eq!(got[0]["data"]["customer"]["company"], "远大");
    assert_eq!(got[0]["data"]["by"], "agent2");
    assert!(got[0]["id"].as_str().unwrap().len() >= 32);

    // Down: three more changes wait and are retried; up: all, in order.
    r.down.store(true, Ordering::SeqCst);
    for company in ["一", "二", "三"] {
        http(s.addr, "PUT", &page, Some(&agent2), Some(edit(company))).await;
    }
    tokio::time::timeout(Duration::from_secs(30), async {
        while *r.refused.lock().unwrap() < 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("retried while down");
    r.down.store(false, Ordering::SeqCst);
    let got = arrived(&r, 4).await;
    let companies: Vec<&str> = got[1..]
        .iter()
        .map(|e| e["data"]["customer"]["company"].as_str().unwrap())
        .collect();
    assert_eq!(companies, ["一", "二", "三"]);
    let ids: std::collections::HashSet<&str> =
        got.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "each event once");

    // The log: all delivered, the first retried one with several attempts.
    let (_, _, log) = http(
        s.addr,
        "GET",
        &format!("/api/webhooks/{id}/deliveries"),
        Some(&admin),
        None,
    )
    .await;
    let rows = log["deliveries"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|d| d["state"] == "delivered"), "{log}");
    assert!(rows[2]["attempts"].as_i64().unwrap() > 1, "{log}");

    // Redelivery: the same event, the same id.
    let event = rows[0]["event"].as_i64().unwrap();
    let (code, _, _) = http(
        s.addr,
        "POST",
        &format!("/api/webhooks/{id}/deliveries/{event}/redeliver"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(code, 202);
    let got = arrived(&r, 5).await;
    assert_eq!(got[4]["id"], got[3]["id"]);

    // Rotation: during the grace period both secrets sign.
    let (code, _, rotated) = http(
        s.addr,
        "POST",
        &format!("/api/webhooks/{id}/rotate"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(code, 200);
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    http(s.addr, "PUT", &page, Some(&agent2), Some(edit("四"))).await;
    arrived(&r, 6).await;
    let sig = r.signatures.lock().unwrap().last().unwrap().clone();
    assert_eq!(sig.matches("v1=").count(), 2, "{sig}");
    // (Each header was checked against the raw body on arrival.)
    r.secret.lock().unwrap().clear();
    r.secret.lock().unwrap().push(new_secret);
    http(s.addr, "PUT", &page, Some(&agent2), Some(edit("五"))).await;
    arrived(&r, 7).await;

    // Unsubscribed types never leave; a token with webhooks:admin manages.
    let (_, _, token) = http(
        s.addr,
        "POST",
        "/api/tokens",
        Some(&admin),
        Some(json!({"name": "ops", "user": "admin", "scopes": ["webhooks:admin"]})),
    )
    .await;
    let (code, listed) = http_bearer(
        s.addr,
        "GET",
        "/api/webhooks",
        token["token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(listed["endpoints"][0]["pending"], 0);
    assert_eq!(
        status(
            s.addr,
            "DELETE",
            &format!("/api/webhooks/{id}"),
            Some(&admin),
            None
        )
        .await,
        204
    );
}

/// A call's life reaches a subscribed system: the ringing call with its
/// caller, the answer, the end with the recording's link; a missed call
/// also as an item to call back. Each event once, a call's in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calls_life_arrives_with_its_recording() {
    use callpop::sim::script::Action;
    let mut s = stack(64).await;
    let [admin] = login_all(&s, ["admin"]).await;
    let (url, r) = receiver().await;
    deliver_quickly(&s);
    let events = [
        "call.ringing",
        "call.answered",
        "call.ended",
        "missed_call.created",
    ];
    subscribe(s.addr, &admin, &url, &r, &events).await;

    ring(&mut s.sim, 1, "13812345678").await;
    s.sim.act(&Action::Answer { port: 1 }).await.unwrap();
    // A conversation: the recorder is under way before it ends.
    tokio::time::timeout(Duration::from_secs(30), async {
        while s
            .store
            .recordings()
            .call(|r| r.recent(1))
            .await
            .unwrap()
            .is_empty()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the answered call is recorded");
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    ring(&mut s.sim, 2, "02161234567").await;
    s.sim.act(&Action::Hangup { port: 2 }).await.unwrap();

    let got = arrived(&r, 6).await;
    let of = |national: &str| -> Vec<Value> {
        let uid = got
            .iter()
            .find(|e| {
                e["type"] == "call.ringing" && e["data"]["caller"].to_string().contains(national)
            })
            .unwrap_or_else(|| panic!("the ringing of {national}: {got:#?}"))["data"]["call_uid"]
            .clone();
        got.iter()
            .filter(|e| e["data"]["call_uid"] == uid)
            .cloned()
            .collect()
    };
    let answered = of("13812345678");
    let types: Vec<&str> = answered
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["call.ringing", "call.answered", "call.ended"],
        "{answered:#?}"
    );
    let ended = &answered[2]["data"];
    assert_eq!(ended["outcome"], "answered");
    assert_eq!(ended["direction"], "inbound");
    assert_eq!(ended["number"]["e164"], "+8613812345678");
    let recording = ended["recording"]["audio"]
        .as_str()
        .unwrap_or_else(|| panic!("{ended}"));
    assert!(recording.starts_with("/api/recordings/"), "{recording}");

    let missed = of("61234567");
    let types: Vec<&str> = missed.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["call.ringing", "call.ended", "missed_call.created"],
        "{missed:#?}"
    );
    assert_eq!(missed[1]["data"]["outcome"], "abandoned");
    assert!(
        missed[2]["data"]["followup_id"].as_i64().is_some(),
        "{missed:#?}"
    );

    // Nothing else arrives (each fact once), and every event was new.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = r.events.lock().unwrap().clone();
    assert_eq!(all.len(), 6, "{all:#?}");
    let ids: std::collections::HashSet<&str> =
        all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 6);
}

/// The real daemon killed (-9) with a thousand events waiting and some
/// in flight; restarted on the same database: every event arrives, a
/// repeat only ever with the id it had, and in the order of the facts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_waiting_events_survive_kill_9() {
    use common::daemon::{add_user, serve_at};
    const N: usize = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("callpop.toml");
    std::fs::write(
        &config,
        format!(
            "db = {:?}\n[webhooks]\nretry_first_secs = 1\n",
            dir.path().join("hooks.db")
        ),
    )
    .unwrap();
    add_user(dir.path(), &config, "admin", "admin", PASSWORD).await;

    let (url, r) = receiver().await;
    r.down.store(true, Ordering::SeqCst);
    let (mut daemon, addr) = serve_at(dir.path(), &config).await;
    let admin = login(addr, "admin").await;
    subscribe(addr, &admin, &url, &r, &["customer.created"]).await;
    let mut created = Vec::with_capacity(N);
    for i in 0..N {
        let body = json!({"name": format!("客户{i}"), "phones": [format!("139{i:08}")]});
        let (code, _, c) = http(addr, "POST", "/api/customers", Some(&admin), Some(body)).await;
        assert_eq!(code, 200, "{c}");
        created.push(c["customer"]["id"].as_i64().unwrap());
    }
    // The receiver comes back; the daemon dies while delivering.
    r.down.store(false, Ordering::SeqCst);
    arrived(&r, 50).await;
    daemon.kill().await.unwrap();
    let before = r.events.lock().unwrap().len();
    assert!(
        before < N,
        "all {before} delivered before the kill: nothing proved"
    );

    let (_daemon, _) = serve_at(dir.path(), &config).await;
    let got = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let got = r.events.lock().unwrap().clone();
            let ids: std::collections::HashSet<i64> = got
                .iter()
                .map(|e| e["data"]["customer"]["id"].as_i64().unwrap())
                .collect();
            if ids.len() >= N {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{} of {N} arrived", r.events.lock().unwrap().len()));

    // One event id per customer, each customer's first arrival in order.
    let mut id_of = std::collections::HashMap::new();
    let mut order = Vec::new();
    for e in &got {
        let customer = e["data"]["customer"]["id"].as_i64().unwrap();
        let event = e["id"].as_str().unwrap().to_string();
        match id_of.insert(customer, event.clone()) {
            None => order.push(customer),
            Some(earlier) => assert_eq!(
                earlier, event,
                "customer {customer} sent again under a new id"
            ),
        }
    }
    assert_eq!(order, created);
    assert!(
        got.len() - N <= 1,
        "{} repeats: only the one in flight may be",
        got.len() - N
    );
}

/// Facts without a request behind them: a call-back falls due (time makes
/// it so), a box is unplugged and comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_back_falling_due_and_a_box_unplugged_are_told() {
    use callpop::sim::script::Action;
    let mut s = stack(64).await;
    let [admin] = login_all(&s, ["admin"]).await;
    let (url, r) = receiver().await;
    deliver_quickly(&s);
    subscribe(
        s.addr,
        &admin,
        &url,
        &r,
        &["callback.due", "device.down", "device.up"],
    )
    .await;
    let (code, _, made) = http(
        s.addr,
        "POST",
        "/api/customers",
        Some(&admin),
        Some(json!({"name": "周杰", "company": "", "phones": ["13912345678"]})),
    )
    .await;
    assert_eq!(code, 200, "{made}");
    let customer = made["customer"]["id"].as_i64().unwrap();
    let due_at = callpop::store::now_ms() + 300;
    let (code, _, item) = http(
        s.addr,
        "POST",
        &format!("/api/customers/{customer}/follow-ups"),
        Some(&admin),
        Some(json!({"due_at": due_at, "note": "问满意度"})),
    )
    .await;
    assert_eq!(code, 201, "{item}");
    let got = arrived(&r, 1).await;
    assert_eq!(got[0]["type"], "callback.due", "{got:#?}");
    let due = &got[0]["data"];
    assert_eq!(due["due_at"], due_at);
    assert_eq!(due["customer_id"], customer);
    assert_eq!(due["note"], "问满意度");
    assert_eq!(due["number"]["national"], "13912345678");
    assert_eq!(due["agent"], "admin");

    s.sim
        .act(&Action::Unplug(Duration::from_millis(300)))
        .await
        .unwrap();
    let got = arrived(&r, 3).await;
    let types: Vec<&str> = got[1..]
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["device.down", "device.up"], "{got:#?}");
    assert_eq!(got[1]["data"]["device"], got[2]["data"]["device"]);
    assert!(got[1]["data"]["reason"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    // Each once: the scan that found the call-back due does not find it again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.events.lock().unwrap().len(), 3);
}

/// A work order's life reaches a subscribed system: its save with the
/// fields, then each change (a status move, a comment) with who made it
/// and what it was before, in order, each once; a change the flow refuses
/// tells nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_work_orders_save_and_changes_arrive_in_order() {
    let s = stack(64).await;
    let [admin, agent1] = login_all(&s, ["admin", "agent1"]).await;
    let (url, r) = receiver().await;
    deliver_quickly(&s);
    subscribe(
        s.addr,
        &admin,
        &url,
        &r,
        &["workorder.saved", "workorder.updated"],
    )
    .await;
    let wang = customer_id(&s, "王伟").await;
    let fields = json!({"category": "complaint", "summary": "打印机卡纸"});
    let order = save_work_order(&s, "agent1", wang, "wo-1", fields).await;
    let base = format!("/api/workorders/{}", order.id);
    let (code, _, answer) = http(
        s.addr,
        "POST",
        &format!("{base}/status"),
        Some(&agent1),
        Some(json!({"to": "in_progress", "note": "处理中"})),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    // Refused by the flow (back to 新建): no event.
    let (code, _, _) = http(
        s.addr,
        "POST",
        &format!("{base}/status"),
        Some(&agent1),
        Some(json!({"to": "open"})),
    )
    .await;
    assert_eq!(code, 409);
    let (code, _, answer) = http(
        s.addr,
        "POST",
        &format!("{base}/comments"),
        Some(&agent1),
        Some(json!({"body": "已电话联系客户"})),
    )
    .await;
    assert_eq!(code, 200, "{answer}");

    let got = arrived(&r, 3).await;
    let types: Vec<&str> = got.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["workorder.saved", "workorder.updated", "workorder.updated"],
        "{got:#?}"
    );
    let saved = &got[0]["data"]["work_order"];
    assert_eq!(saved["number"], order.number.as_str());
    assert_eq!(saved["customer_id"], wang);
    assert_eq!(saved["fields"]["summary"], "打印机卡纸");
    let moved = &got[1]["data"];
    assert_eq!(moved["change"], "status", "{moved}");
    assert_eq!(moved["by"], "agent1");
    assert_eq!(moved["work_order"]["status"], "in_progress", "{moved}");
    assert_eq!(got[2]["data"]["change"], "comment", "{:#}", got[2]);
    let ids: std::collections::HashSet<&str> =
        got.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "each event once");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.events.lock().unwrap().len(), 3, "nothing more");
}
