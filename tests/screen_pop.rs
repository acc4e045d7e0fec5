//! The screen-pop protocol end to end: a simulated box on a pseudo-terminal,
//! the real driver, engine, pop hub and web server, real websocket clients.
//!
//! Cases: a pop is delivered to the bound agent only, with customer, form and
//! prefill, and is acknowledged; work-order save with per-field errors, then
//! saved, then retried idempotently; a client that drops and resumes misses
//! nothing; a client that stops reading is cut off while the others get every
//! pop; malformed, unknown, binary and id-less messages get `error` and the
//! session goes on; a group line pops to every ready agent and a claim
//! closes the others' pops; access without a session or with a wrong role is
//! refused (websocket, API reads and writes, wrong password); an agent sees
//! another agent's customer's number masked.

mod common;

use callpop::sim::script::Action;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop_reaches_the_bound_agent_with_form_and_work_order_saves_once() {
    let mut s = stack(256).await;
    let (t1, t2) = (login(s.addr, "agent1").await, login(s.addr, "agent2").await);
    let mut a1 = ws(s.addr, Some(&t1)).await.unwrap();
    let mut a2 = ws(s.addr, Some(&t2)).await.unwrap();
    let hello = next_of(&mut a1, "hello").await;
    assert_eq!(hello["v"], 1);
    assert_eq!(hello["seq"], 1);
    assert_eq!(hello["data"]["heartbeat_secs"], 2);
    next_of(&mut a2, "hello").await;

    ring(&mut s.sim, 1, "13812345678").await;
    let pop = next_of(&mut a1, "call.ringing").await;
    let d = &pop["data"];
    assert_eq!(d["line"], "box1/1");
    assert_eq!(d["number"], "13812345678");
    assert_eq!(d["normalized"], "+8613812345678");
    assert_eq!(d["match"], "one");
    assert_eq!(d["customers"][0]["name"], "王伟");
    assert_eq!(d["form"]["key"], "service");
    assert_eq!(d["prefill"]["contact"], "王伟");
    assert_eq!(d["prefill"]["phone"], "13812345678");
    assert_eq!(d["prefill"]["category"], "inquiry");
    send(&mut a1, json!({"type": "ack", "data": {"seq": pop["seq"]}})).await;

    let call_id = d["call_id"].as_str().unwrap().to_string();
    let customer_id = d["customers"][0]["id"].clone();
    // Missing summary and a bad date: both fields are named.
    send(
        &mut a1,
        json!({"type": "workorder.save", "id": "wo-1", "data": {
        "call_id": call_id, "customer_id": customer_id,
        "fields": {"category": "complaint", "contact": "王伟", "follow_up": "tomorrow"}}}),
    )
    .await;
    let err = next_of(&mut a1, "error").await;
    assert_eq!(err["data"]["id"], "wo-1");
    assert_eq!(err["data"]["code"], "invalid");
    let fields: Vec<&str> = err["data"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["summary", "follow_up"]);
    let good = json!({"type": "workorder.save", "id": "wo-1", "data": {
        "call_id": call_id, "customer_id": customer_id,
        "fields": {"category": "complaint", "contact": "王伟", "summary": "屏幕坏了", "follow_up": "2026-12-01"}}});
    send(&mut a1, good.clone()).await;
    let saved = next_of(&mut a1, "result").await;
    assert_eq!(saved["data"]["result"]["created"], true);
    let id = saved["data"]["result"]["work_order_id"].clone();
    send(&mut a1, good).await;
    let again = next_of(&mut a1, "result").await;
    assert_eq!(again["data"]["result"]["work_order_id"], id);
    let orders = work_orders_of(&s, &call_id).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].fields["summary"], "屏幕坏了");
    assert_eq!(orders[0].agent.as_deref(), Some("agent1"));
    // Its follow-up date (回访日期) put a call-back on agent1's list, that
    // day at nine, for the caller's number; saving again did not add one.
    let (_, _, queue) = http(s.addr, "GET", "/api/followups", Some(&t1), None).await;
    let scheduled: Vec<&Value> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "scheduled")
        .collect();
    assert_eq!(scheduled.len(), 1, "{queue}");
    assert_eq!(scheduled[0]["number"], "+8613812345678");
    assert_eq!(scheduled[0]["customer_name"], "王伟");
    let nine =
        callpop::workorder::follow_up_due_ms(chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
    assert_eq!(scheduled[0]["due_at"].as_i64(), nine);

    // The acknowledgement is kept: a desktop starting over from a snapshot
    // sees the open pop as already shown.
    let mut fresh = ws(s.addr, Some(&t1)).await.unwrap();
    next_of(&mut fresh, "hello").await;
    send(
        &mut fresh,
        json!({"type": "resume", "data": {"session_id": "gone", "last_seq": 9}}),
    )
    .await;
    let snap = next_of(&mut fresh, "snapshot").await;
    let pops = snap["data"]["pops"].as_array().unwrap();
    assert_eq!(pops.len(), 1);
    assert_eq!(pops[0]["call_id"], call_id.as_str());
    assert_eq!(pops[0]["acked"], true);

    // agent2 got no pop for agent1's line: the next thing it sees is its
    // own line's pop.
    ring(&mut s.sim, 2, "13812345678").await;
    let p2 = next_of(&mut a2, "call.ringing").await;
    assert_eq!(p2["data"]["line"], "box1/2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_that_drops_and_resumes_misses_nothing() {
    let mut s = stack(256).await;
    let t1 = login(s.addr, "agent1").await;
    let mut a1 = ws(s.addr, Some(&t1)).await.unwrap();
    let hello = next_of(&mut a1, "hello").await;
    let session = hello["data"]["session_id"].as_str().unwrap().to_string();
    let state = next_of(&mut a1, "agent.state").await;
    let last_seq = state["seq"].as_u64().unwrap();
    drop(a1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Two pops while the desktop is away.
    ring(&mut s.sim, 1, "13812345678").await;
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut again = ws(s.addr, Some(&t1)).await.unwrap();
    next_of(&mut again, "hello").await;
    send(
        &mut again,
        json!({"type": "resume", "data": {"session_id": session, "last_seq": last_seq}}),
    )
    .await;
    let missed = next_of(&mut again, "call.ringing").await;
    assert_eq!(
        missed["seq"].as_u64().unwrap(),
        last_seq + 1,
        "replayed with its own seq"
    );
    assert_eq!(missed["data"]["customers"][0]["name"], "王伟");
    let resumed = next_of(&mut again, "resumed").await;
    assert_eq!(resumed["data"]["session_id"], session.as_str());
    assert!(resumed["data"]["replayed"].as_u64().unwrap() >= 1);

    // Resuming an unknown session gets a snapshot instead.
    let mut third = ws(s.addr, Some(&t1)).await.unwrap();
    next_of(&mut third, "hello").await;
    send(
        &mut third,
        json!({"type": "resume", "data": {"session_id": "nope", "last_seq": 3}}),
    )
    .await;
    let snap = next_of(&mut third, "snapshot").await;
    assert_eq!(snap["data"]["agent"]["username"], "agent1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_get_errors_and_the_session_goes_on() {
    let s = stack(256).await;
    let t1 = login(s.addr, "agent1").await;
    let mut a1 = ws(s.addr, Some(&t1)).await.unwrap();
    next_of(&mut a1, "hello").await;
    for (frame, code) in [
        ("{", "bad_json"),
        ("[1,2]", "bad_json"),
        (r#"{"data":{}}"#, "bad_message"),
        (r#"{"type":"teleport","id":"t1"}"#, "unknown_type"),
        (
            r#"{"type":"agent.state","data":{"state":"ready"}}"#,
            "bad_message",
        ),
        (
            r#"{"type":"agent.state","id":"s1","data":{"state":"on_call"}}"#,
            "bad_state",
        ),
        (
            r#"{"type":"call.claim","id":"c1","data":{"call_id":"none"}}"#,
            "no_call",
        ),
        (
            r#"{"type":"call.dial","id":"d1","data":{"number":"110"}}"#,
            "dial_emergency",
        ),
        (
            r#"{"type":"call.hangup","id":"h1","data":{"call_id":"none"}}"#,
            "call_not_found",
        ),
    ] {
        a1.send(Message::Text(frame.into())).await.unwrap();
        let e = next_of(&mut a1, "error").await;
        assert_eq!(e["data"]["code"], code, "{frame}");
        assert!(!e["data"]["message"].as_str().unwrap().is_empty());
    }
    a1.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(
        next_of(&mut a1, "error").await["data"]["code"],
        "bad_message"
    );
    send(&mut a1, json!({"type": "agent.state", "id": "s2", "data": {"state": "not_ready", "reason": "开会"}})).await;
    let ok = next_of(&mut a1, "result").await;
    assert_eq!(ok["data"]["result"]["state"], "not_ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_line_pops_to_every_ready_agent_and_a_claim_closes_the_others() {
    let mut s = stack(256).await;
    let (t1, t2) = (login(s.addr, "agent1").await, login(s.addr, "agent2").await);
    let mut a1 = ws(s.addr, Some(&t1)).await.unwrap();
    let mut a2 = ws(s.addr, Some(&t2)).await.unwrap();
    next_of(&mut a1, "hello").await;
    next_of(&mut a2, "hello").await;
    ring(&mut s.sim, 2, "01065528888").await;
    let p1 = next_of(&mut a1, "call.ringing").await;
    let p2 = next_of(&mut a2, "call.ringing").await;
    assert_eq!(p1["data"]["match"], "none");
    assert_eq!(p1["data"]["team"], "sales");
    assert_eq!(p1["data"]["prefill"]["phone"], "01065528888");
    let call_id = p1["data"]["call_id"].clone();
    assert_eq!(p2["data"]["call_id"], call_id);
    send(
        &mut a2,
        json!({"type": "call.claim", "id": "k2", "data": {"call_id": call_id}}),
    )
    .await;
    assert_eq!(
        next_of(&mut a2, "result").await["data"]["result"]["taken"],
        true
    );
    let closed = next_of(&mut a1, "call.closed").await;
    assert_eq!(closed["data"]["call_id"], call_id);
    assert_eq!(closed["data"]["by"], "agent2");
    send(
        &mut a1,
        json!({"type": "call.claim", "id": "k1", "data": {"call_id": call_id}}),
    )
    .await;
    assert_eq!(next_of(&mut a1, "error").await["data"]["code"], "taken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_that_stops_reading_does_not_hold_up_the_others() {
    let mut s = stack(8).await;
    let t1 = login(s.addr, "agent1").await;
    let mut fast = ws(s.addr, Some(&t1)).await.unwrap();
    next_of(&mut fast, "hello").await;
    // agent2's desktop connects to the hub as the websocket task does, with
    // an 8-message queue it never reads (a socket's buffers would hide the
    // backlog from a test for a long time).
    let agent2 = s
        .store
        .users()
        .call(|st| st.user_by_name("agent2"))
        .await
        .unwrap()
        .unwrap();
    let (slow_tx, mut slow_rx) = tokio::sync::mpsc::channel(8);
    s.hub.connect(agent2.clone(), slow_tx).await;
    const CALLS: usize = 30;
    for i in 0..CALLS {
        ring(&mut s.sim, 2, "13812345678").await;
        let pop = next_of(&mut fast, "call.ringing").await;
        assert_eq!(pop["data"]["line"], "box1/2", "call {i}");
        s.sim.act(&Action::Hangup { port: 2 }).await.unwrap();
        next_of(&mut fast, "call.ended").await;
    }
    // The slow desktop was cut off: its queue holds what fit, then ends.
    let mut seen = std::collections::BTreeSet::new();
    let mut session = None;
    while let Some(frame) = slow_rx.recv().await {
        let v: Value = serde_json::from_str(&frame).unwrap();
        if v["type"] == "hello" {
            session = v["data"]["session_id"].as_str().map(str::to_string);
        }
        if v["type"] == "call.ringing" {
            seen.insert(v["seq"].as_u64().unwrap());
        }
    }
    assert!(
        seen.len() < CALLS,
        "the slow desktop got all {} pops",
        seen.len()
    );
    // Back over a websocket and resumed, it gets every pop it did not see.
    let t2 = login(s.addr, "agent2").await;
    let mut back = ws(s.addr, Some(&t2)).await.unwrap();
    next_of(&mut back, "hello").await;
    let last = seen.iter().next_back().copied().unwrap_or(1);
    send(
        &mut back,
        json!({"type": "resume", "data": {"session_id": session.unwrap(), "last_seq": last}}),
    )
    .await;
    while seen.len() < CALLS {
        let v = next_of(&mut back, "call.ringing").await;
        assert!(seen.insert(v["seq"].as_u64().unwrap()), "a pop came twice");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_desktop_is_disconnected() {
    let s = stack(256).await;
    let t1 = login(s.addr, "agent1").await;
    let mut a1 = ws(s.addr, Some(&t1)).await.unwrap();
    // Heartbeats every 2 s: three missed and the server closes with 4001.
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match a1.next().await {
                Some(Ok(Message::Text(t))) if t.contains("\"heartbeat\"") => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    assert!(
                        v["seq"].as_u64().unwrap() >= 1,
                        "a heartbeat carries the latest seq"
                    );
                }
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(
        ended.expect("a desktop that never heartbeats is closed"),
        Some(4001),
        "closed as silent, not dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_needs_a_session_and_the_right_role() {
    let mut s = stack(256).await;
    // No session, a made-up session, a wrong password.
    assert!(ws(s.addr, None).await.is_err());
    assert!(ws(s.addr, Some("forged")).await.is_err());
    assert_eq!(status(s.addr, "GET", "/api/me", None, None).await, 401);
    assert_eq!(
        status(s.addr, "GET", "/api/me", Some("forged"), None).await,
        401
    );
    let (code, token, body) = http(
        s.addr,
        "POST",
        "/api/login",
        None,
        Some(json!({"username": "agent1", "password": "wrong"})),
    )
    .await;
    assert_eq!(
        (code, token, body["error"]["code"].clone()),
        (401, None, json!("bad_login"))
    );
    // Health: ok for anyone, the details for admins only.
    let (code, _, health) = http(s.addr, "GET", "/healthz", None, None).await;
    assert_eq!((code, health), (200, json!({ "status": "ok" })));
    let admin_token = login(s.addr, "admin").await;
    let (_, _, health) = http(s.addr, "GET", "/healthz", Some(&admin_token), None).await;
    assert!(health["schema"].as_u64().is_some() && health["customers"].is_u64());
    let agent_token = login(s.addr, "agent1").await;
    let (_, _, health) = http(s.addr, "GET", "/healthz", Some(&agent_token), None).await;
    assert_eq!(health, json!({ "status": "ok" }));
    // Wrong roles.
    let agent = login(s.addr, "agent1").await;
    let form = json!({"key": "x", "name_zh": "x", "name_en": "x", "fields": []});
    assert_eq!(
        status(
            s.addr,
            "PUT",
            "/api/forms/x",
            Some(&agent),
            Some(form.clone())
        )
        .await,
        403
    );
    assert_eq!(
        status(s.addr, "GET", "/api/bindings", Some(&agent), None).await,
        403
    );
    assert_eq!(
        status(s.addr, "GET", "/api/agents", Some(&agent), None).await,
        403
    );
    assert_eq!(
        status(
            s.addr,
            "PUT",
            "/api/bindings?line=box1/3",
            Some(&agent),
            Some(json!({"agent": "agent1"}))
        )
        .await,
        403
    );
    let admin = login(s.addr, "admin").await;
    assert_eq!(
        status(s.addr, "PUT", "/api/forms/x", Some(&admin), Some(form)).await,
        200
    );
    assert_eq!(
        status(
            s.addr,
            "PUT",
            "/api/bindings?line=box1/3",
            Some(&admin),
            Some(json!({"agent": "agent1"}))
        )
        .await,
        200
    );
    // Team leads see their own team's agents only.
    let mut a1 = ws(s.addr, Some(&agent)).await.unwrap();
    next_of(&mut a1, "hello").await;
    let lead1 = login(s.addr, "lead1").await;
    let lead2 = login(s.addr, "lead2").await;
    let (_, _, seen1) = http(s.addr, "GET", "/api/agents", Some(&lead1), None).await;
    let (_, _, seen2) = http(s.addr, "GET", "/api/agents", Some(&lead2), None).await;
    assert!(seen1["agents"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["username"] == "agent1"));
    assert!(!seen2["agents"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["username"] == "agent1"));
    // The number of agent2's customer is masked on agent1's desktop.
    ring(&mut s.sim, 1, "13900001111").await;
    let pop = next_of(&mut a1, "call.ringing").await;
    assert_eq!(pop["data"]["customers"][0]["name"], "赵敏");
    assert_eq!(pop["data"]["number"], "139****1111");
    assert_eq!(
        pop["data"]["customers"][0]["phones"][0]["raw"],
        "139****1111"
    );
    // Work orders of a call: an agent sees only their own, an admin all.
    let call_id = pop["data"]["call_id"].as_str().unwrap().to_string();
    send(&mut a1, json!({"type": "workorder.save", "id": "m1", "data": {
        "call_id": call_id, "fields": {"category": "inquiry", "contact": "赵敏", "summary": "问询"}}}))
    .await;
    next_of(&mut a1, "result").await;
    let path = format!("/api/workorders?call_id={call_id}");
    let agent2 = login(s.addr, "agent2").await;
    let (_, _, mine) = http(s.addr, "GET", &path, Some(&agent), None).await;
    let (_, _, theirs) = http(s.addr, "GET", &path, Some(&agent2), None).await;
    let (_, _, all) = http(s.addr, "GET", &path, Some(&admin), None).await;
    assert_eq!(mine["work_orders"].as_array().unwrap().len(), 1);
    assert_eq!(theirs["work_orders"].as_array().unwrap().len(), 0);
    assert_eq!(all["work_orders"].as_array().unwrap().len(), 1);
    // Passwords: one's own (not too short), anyone's only for admins.
    let path = "/api/users/agent1/password";
    assert_eq!(
        status(
            s.addr,
            "PUT",
            path,
            Some(&agent),
            Some(json!({"password": "short"}))
        )
        .await,
        400
    );
    assert_eq!(
        status(
            s.addr,
            "PUT",
            "/api/users/agent2/password",
            Some(&agent),
            Some(json!({"password": "long enough"}))
        )
        .await,
        403
    );
    // A common password is refused by name; one's own needs the current one.
    let (code, _, body) = http(
        s.addr,
        "PUT",
        path,
        Some(&agent),
        Some(json!({"password": "12345678", "current": common::PASSWORD})),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("password_common"))
    );
    let (code, _, body) = http(
        s.addr,
        "PUT",
        path,
        Some(&agent),
        Some(json!({"password": "a new secret"})),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("current_password_required"))
    );
    let (code, _, body) = http(
        s.addr,
        "PUT",
        path,
        Some(&agent),
        Some(json!({"password": "a new secret", "current": "not it at all"})),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (403, Some("wrong_password"))
    );
    // A change ends agent1's other sessions (a stolen cookie) but not the
    // one making it; an admin's reset ends every session of agent2.
    let stolen = login(s.addr, "agent1").await;
    let agent2_session = login(s.addr, "agent2").await;
    assert_eq!(
        status(s.addr, "GET", "/api/me", Some(&stolen), None).await,
        200
    );
    assert_eq!(
        status(
            s.addr,
            "PUT",
            path,
            Some(&agent),
            Some(json!({"password": "a new secret", "current": common::PASSWORD}))
        )
        .await,
        204
    );
    assert_eq!(
        status(s.addr, "GET", "/api/me", Some(&stolen), None).await,
        401
    );
    assert_eq!(
        status(s.addr, "GET", "/api/me", Some(&agent), None).await,
        200
    );
    assert_eq!(
        status(
            s.addr,
            "PUT",
            "/api/users/agent2/password",
            Some(&admin),
            Some(json!({"password": "reset by admin"}))
        )
        .await,
        204
    );
    assert_eq!(
        status(s.addr, "GET", "/api/me", Some(&agent2_session), None).await,
        401
    );
    let (code, _, _) = http(
        s.addr,
        "POST",
        "/api/login",
        None,
        Some(json!({"username": "agent1", "password": "a new secret"})),
    )
    .await;
    assert_eq!(code, 200);
    // Logging out ends the session.
    assert_eq!(
        status(s.addr, "POST", "/api/logout", Some(&agent), None).await,
        204
    );
    assert_eq!(
        status(s.addr, "GET", "/api/me", Some(&agent), None).await,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_opened_while_its_line_rings_gets_the_pop() {
    let mut s = stack(256).await;
    let t1 = login(s.addr, "agent1").await;
    ring(&mut s.sim, 1, "13812345678").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut a1 = ws(s.addr, Some(&t1)).await.unwrap();
    let pop = next_of(&mut a1, "call.ringing").await;
    assert_eq!(pop["data"]["line"], "box1/1");
    assert_eq!(pop["data"]["customers"][0]["name"], "王伟");
}

/// The next `kind` message on `ws` that `pred` accepts, heartbeating on
/// it and on `also` all along so the server keeps them (10 s at most).
async fn next_matching(
    ws: &mut Ws,
    also: &mut [&mut Ws],
    kind: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no matching {kind} within 10 s"
        );
        send(ws, json!({"type": "heartbeat"})).await;
        for other in also.iter_mut() {
            send(other, json!({"type": "heartbeat"})).await;
        }
        let Ok(next) = tokio::time::timeout(Duration::from_millis(500), ws.next()).await else {
            continue;
        };
        match next {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == kind && pred(&v["data"]) {
                    return v;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("connection ended waiting for {kind}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_gone_past_the_heartbeat_allowance_is_offline_until_they_resume() {
    let mut s = stack(256).await; // heartbeats every 2 s: gone after 6 s
    let a1 = login(s.addr, "agent1").await;
    let a2 = login(s.addr, "agent2").await;
    let lead = login(s.addr, "lead1").await;
    let mut w1 = ws(s.addr, Some(&a1)).await.unwrap();
    let hello = next_of(&mut w1, "hello").await;
    let (session, agent1) = (
        hello["data"]["session_id"].as_str().unwrap().to_string(),
        hello["data"]["user"]["id"].clone(),
    );
    let mut w2 = ws(s.addr, Some(&a2)).await.unwrap();
    next_of(&mut w2, "hello").await;
    let mut lw = ws(s.addr, Some(&lead)).await.unwrap();
    next_of(&mut lw, "hello").await;

    // The browser closes (or the network goes) without a word.
    drop(w1);
    next_matching(&mut lw, &mut [&mut w2], "agent.state", |d| {
        d["user_id"] == agent1 && d["state"] == "offline"
    })
    .await;
    // A team call pops on the agent still there only.
    ring(&mut s.sim, 2, "13812345678").await;
    next_matching(&mut w2, &mut [&mut lw], "call.ringing", |_| true).await;
    s.sim.act(&Action::Hangup { port: 2 }).await.unwrap();

    // Back within the session's grace: a resume makes them ready again.
    let mut back = ws(s.addr, Some(&a1)).await.unwrap();
    next_of(&mut back, "hello").await;
    send(
        &mut back,
        json!({"type": "resume", "data": {"session_id": session, "last_seq": 1}}),
    )
    .await;
    next_matching(&mut lw, &mut [&mut back], "agent.state", |d| {
        d["user_id"] == agent1 && d["state"] == "ready"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_calls_name_the_customer_and_are_closed_once() {
    let mut s = stack(256).await;
    ring(&mut s.sim, 1, "13812345678").await;
    for _ in 0..3 {
        s.sim.act(&Action::Ring { port: 1 }).await.unwrap();
    }
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    let a1 = login(s.addr, "agent1").await;
    let items = loop {
        let (_, _, body) = http(s.addr, "GET", "/api/followups", Some(&a1), None).await;
        if body["items"].as_array().is_some_and(|c| !c.is_empty()) {
            break body["items"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(items[0]["customer_name"], "王伟");
    assert_eq!(items[0]["state"], "open");
    let id = items[0]["id"].as_i64().unwrap();
    let close = format!("/api/followups/{id}/close");
    let resolved = json!({ "reason": "resolved" });
    // Not on agent2's list (agent1's own line).
    let a2 = login(s.addr, "agent2").await;
    let (code, _, _) = http(s.addr, "POST", &close, Some(&a2), Some(resolved.clone())).await;
    assert_eq!(code, 404);
    let (code, _, _) = http(s.addr, "POST", &close, Some(&a1), Some(resolved.clone())).await;
    assert_eq!(code, 204);
    let (code, _, _) = http(s.addr, "POST", &close, Some(&a1), Some(resolved)).await;
    assert_eq!(code, 409);
    // The team lead sees who closed it, and why.
    let lead = login(s.addr, "lead1").await;
    let (_, _, body) = http(s.addr, "GET", "/api/followups", Some(&lead), None).await;
    let item = &body["items"][0];
    assert_eq!(item["closed_by_name"], "agent1");
    assert_eq!(item["close_reason"], "resolved");
}
