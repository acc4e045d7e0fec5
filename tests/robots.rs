//! 企业微信 and 钉钉 group robots on the whole stack, posted to real local
//! HTTP servers that check what the robots' documentation asks: the
//! 钉钉 receiver recomputes the signed mode's `sign` with Python's own
//! HMAC, base64 and URL quoting (the documentation's recipe) and answers
//! `errcode` 310000 when it does not match; the 企业微信 receiver checks
//! its key and the markdown message's JSON. An admin adds both robots in
//! the API; a missed call reaches the group of its team only, in Chinese
//! with the caller's customer, 归属地 and a link to claim it; a box
//! unplugged reaches both; a robot with a wrong secret keeps failing with
//! the robot's words in the log. Quiet hours hold messages until they end
//! and a robot's pace holds the rest of a burst.

mod common;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::Json;
use callpop::webhooks::worker::{run, WorkerSettings};
use common::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a robot server received: (robot, message) per accepted post, and
/// the answers it refused.
#[derive(Default)]
struct Group {
    messages: Mutex<Vec<(String, Value)>>,
    refused: Mutex<Vec<String>>,
}

const DING_SECRET: &str = "SEC0123456789abcdef0123456789abcdef";
const WECOM_KEY: &str = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa";

/// The `sign` 钉钉's documentation computes (its Python recipe, run here).
fn documented_sign(timestamp: &str, secret: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import hmac, hashlib, base64, urllib.parse, sys\n\
             ts, secret = sys.argv[1], sys.argv[2]\n\
             mac = hmac.new(secret.encode('utf-8'), f'{ts}\\n{secret}'.encode('utf-8'), digestmod=hashlib.sha256).digest()\n\
             print(urllib.parse.quote_plus(base64.b64encode(mac)))",
            timestamp,
            secret,
        ])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn dingtalk(
    State(g): State<Arc<Group>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Json<Value> {
    let pairs = query_pairs(&query.unwrap_or_default());
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let (Some(ts), Some(sign)) = (get("timestamp"), get("sign")) else {
        g.refused.lock().unwrap().push("unsigned".into());
        return Json(json!({"errcode": 310000, "errmsg": "sign not match"}));
    };
    let age = callpop::store::now_ms() - ts.parse::<i64>().unwrap_or(0);
    if sign != documented_sign(&ts, DING_SECRET) || age.abs() > 3_600_000 {
        g.refused.lock().unwrap().push(format!("sign {sign}"));
        return Json(
            json!({"errcode": 310000, "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"}),
        );
    }
    let msg: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let ok = msg["msgtype"] == "markdown"
        && msg["markdown"]["title"].is_string()
        && msg["markdown"]["text"].is_string();
    if !ok {
        g.refused.lock().unwrap().push(format!("body {msg}"));
        return Json(json!({"errcode": 40035, "errmsg": "缺少参数 json"}));
    }
    let token = get("access_token").unwrap_or_default();
    g.messages
        .lock()
        .unwrap()
        .push((format!("ding:{token}"), msg));
    Json(json!({"errcode": 0, "errmsg": "ok"}))
}

async fn wecom(State(g): State<Arc<Group>>, RawQuery(query): RawQuery, body: Bytes) -> Json<Value> {
    let pairs = query_pairs(&query.unwrap_or_default());
    if !pairs.iter().any(|(k, v)| k == "key" && v == WECOM_KEY) {
        g.refused.lock().unwrap().push("key".into());
        return Json(json!({"errcode": 93000, "errmsg": "invalid webhook url"}));
    }
    let msg: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let content = msg["markdown"]["content"].as_str().unwrap_or_default();
    // The documented shape, and its limit: 4096 bytes of UTF-8.
    if msg["msgtype"] != "markdown" || content.is_empty() || content.len() > 4096 {
        g.refused.lock().unwrap().push(format!("body {msg}"));
        return Json(json!({"errcode": 40008, "errmsg": "invalid message type"}));
    }
    g.messages.lock().unwrap().push(("wecom".into(), msg));
    Json(json!({"errcode": 0, "errmsg": "ok"}))
}

/// Both robots' servers on one local port.
async fn robot_servers() -> (String, Arc<Group>) {
    let g = Arc::new(Group::default());
    let app = axum::Router::new()
        .route("/robot/send", axum::routing::post(dingtalk))
        .route("/cgi-bin/webhook/send", axum::routing::post(wecom))
        .with_state(g.clone());
    (format!("http://{}", serve_local(app).await), g)
}

fn beijing() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).unwrap()
}

/// The worker, quick, in Beijing time, telling 归属地 and linking to the console.
fn deliver_quickly(s: &Stack) {
    tokio::spawn(run(
        s.store.clone(),
        WorkerSettings {
            retry_base_ms: 200,
            timeout: Duration::from_secs(5),
            poll: Duration::from_millis(20),
            due_scan: Duration::from_millis(50),
            console_url: Some("http://callpop.example:8080".into()),
            zone: Some(beijing()),
            ..WorkerSettings::default()
        }
        .with_normalizer(Arc::new(
            callpop::phone::Normalizer::new(Default::default()),
        )),
    ));
}

async fn add_robot(s: &Stack, admin: &str, body: Value) -> i64 {
    let (code, _, made) = http(s.addr, "POST", "/api/webhooks", Some(admin), Some(body)).await;
    assert_eq!(code, 201, "{made}");
    assert!(
        made["secret"].is_null(),
        "a robot is given no secret: {made}"
    );
    made["id"].as_i64().unwrap()
}

/// Waits (for a condition, not a head start) until `n` messages arrived.
async fn messages(g: &Group, n: usize) -> Vec<(String, Value)> {
    let got = || g.messages.lock().unwrap().clone();
    eventually(
        &format!("{n} messages"),
        || async { Some(got()).filter(|m| m.len() >= n) },
        || format!("{:?}", got()),
    )
    .await
}

/// The delivery log of endpoint `id`, newest first.
async fn log_of(s: &Stack, admin: &str, id: i64) -> Vec<Value> {
    let (code, _, log) = http(
        s.addr,
        "GET",
        &format!("/api/webhooks/{id}/deliveries"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(code, 200, "{log}");
    log["deliveries"].as_array().unwrap().clone()
}

/// The delivery log of endpoint `id` once `ready` holds of it.
async fn log_when(
    s: &Stack,
    admin: &str,
    id: i64,
    what: &str,
    ready: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    eventually(
        what,
        || async { Some(log_of(s, admin, id).await).filter(|log| ready(log)) },
        || format!("endpoint {id}"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_hear_of_their_missed_calls_and_of_devices_in_chinese() {
    use callpop::sim::script::Action;
    let mut s = stack(64).await;
    let [admin] = login_all(&s, ["admin"]).await;
    let (base, g) = robot_servers().await;
    deliver_quickly(&s);
    let ding = add_robot(
        &s,
        &admin,
        json!({
            "kind": "dingtalk",
            "url": format!("{base}/robot/send?access_token=sales"),
            "secret": DING_SECRET,
            "description": "销售群",
            "events": ["missed_call.created", "device.down"],
            "teams": ["sales"],
            "per_minute": 20,
        }),
    )
    .await;
    add_robot(
        &s,
        &admin,
        json!({
            "kind": "wecom",
            "url": format!("{base}/cgi-bin/webhook/send?key={WECOM_KEY}"),
            "events": ["missed_call.created", "device.down"],
            "teams": ["support"],
        }),
    )
    .await;
    // A 钉钉 robot whose secret is not its group's: refused, retried.
    let wrong = add_robot(
        &s,
        &admin,
        json!({
            "kind": "dingtalk",
            "url": format!("{base}/robot/send?access_token=wrong"),
            "secret": "SECnot-the-groups",
            "events": ["device.down"],
        }),
    )
    .await;

    // 王伟 of 华信科技 calls the sales line and gives up.
    ring(&mut s.sim, 1, "13812345678").await;
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    let got = messages(&g, 1).await;
    assert_eq!(got[0].0, "ding:sales", "only the sales group: {got:?}");
    let md = &got[0].1["markdown"];
    assert_eq!(md["title"], "未接来电 138 1234 5678");
    let text = md["text"].as_str().unwrap();
    for said in [
        "**138 1234 5678**（王伟 · 华信科技有限公司）",
        "归属地：",
        "线路 box1/1",
        "请在",
        "[去认领回电](http://callpop.example:8080/#/callbacks)",
    ] {
        assert!(text.contains(said), "{said:?} in {text}");
    }

    // The box is unplugged: both groups hear of it (a device has no team).
    s.sim
        .act(&Action::Unplug(Duration::from_millis(200)))
        .await
        .unwrap();
    let got = messages(&g, 3).await;
    let mut who: Vec<&str> = got[1..].iter().map(|(r, _)| r.as_str()).collect();
    who.sort();
    assert_eq!(who, ["ding:sales", "wecom"], "{got:?}");
    let wecom_text = got.iter().find(|(r, _)| r == "wecom").unwrap().1["markdown"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(wecom_text.starts_with("#### 设备断开 "), "{wecom_text}");
    assert!(wecom_text.contains("已断开"), "{wecom_text}");

    // The wrong secret: refused by the group, the robot's words kept, tried again.
    let failed = log_when(
        &s,
        &admin,
        wrong,
        "the refused message tried again",
        |log| {
            log.first()
                .is_some_and(|d| d["attempts"].as_i64().unwrap_or(0) >= 2)
        },
    )
    .await;
    assert_eq!(failed[0]["state"], "pending");
    assert!(
        failed[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("errcode 310000: sign not match")),
        "{failed:?}"
    );
    assert!(!g.refused.lock().unwrap().is_empty());
    let delivered = log_of(&s, &admin, ding).await;
    assert!(
        delivered.iter().all(|d| d["state"] == "delivered"),
        "{delivered:?}"
    );

    // What a robot may be told, and its settings, are checked.
    for (body, code) in [
        (
            json!({"kind": "wecom", "url": format!("{base}/cgi-bin/webhook/send?key=k"), "events": ["customer.created"]}),
            "webhook_event_not_for_robot",
        ),
        (
            json!({"kind": "wecom", "url": format!("{base}/cgi-bin/webhook/send?key=k"), "events": ["device.down"], "quiet_hours": {"from": "25:00", "to": "08:00"}}),
            "webhook_quiet_hours",
        ),
        (
            json!({"kind": "wecom", "url": format!("{base}/cgi-bin/webhook/send?key=k"), "events": ["device.down"], "secret": "SECx"}),
            "webhook_secret_not_settable",
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
    let (status, _, answer) = http(
        s.addr,
        "POST",
        &format!("/api/webhooks/{ding}/rotate"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("webhook_rotate_robot"))
    );
}

/// `HH:MM` of `now` plus `minutes`, in Beijing.
fn beijing_clock(minutes: i64) -> String {
    let t = chrono::Utc::now().with_timezone(&beijing()) + chrono::Duration::minutes(minutes);
    t.format("%H:%M").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_and_the_pace_hold_messages_without_losing_them() {
    let s = stack(64).await;
    let [admin] = login_all(&s, ["admin"]).await;
    let (base, g) = robot_servers().await;
    deliver_quickly(&s);
    // Quiet from an hour ago to an hour from now (Beijing time).
    let quiet = add_robot(
        &s,
        &admin,
        json!({
            "kind": "wecom",
            "url": format!("{base}/cgi-bin/webhook/send?key={WECOM_KEY}"),
            "events": ["device.down"],
            "quiet_hours": {"from": beijing_clock(-60), "to": beijing_clock(60)},
        }),
    )
    .await;
    let paced = add_robot(
        &s,
        &admin,
        json!({
            "kind": "dingtalk",
            "url": format!("{base}/robot/send?access_token=paced"),
            "secret": DING_SECRET,
            "events": ["device.down"],
            "per_minute": 2,
        }),
    )
    .await;
    let before = callpop::store::now_ms();
    for i in 0..5 {
        s.store
            .webhooks()
            .call(move |w| {
                w.emit(
                    "device.down",
                    &json!({"device": format!("gsm{i}"), "reason": "port lost", "at": before}),
                )
            })
            .await
            .unwrap();
    }
    // Two a minute: two now, three held for the minute's end.
    let got = messages(&g, 2).await;
    assert!(got.iter().all(|(r, _)| r == "ding:paced"), "{got:?}");
    let is_held =
        |d: &Value| d["state"] == "pending" && d["next_at"].as_i64() > Some(before + 50_000);
    let log = log_when(&s, &admin, paced, "the third held for the pace", |log| {
        log.iter().any(is_held)
    })
    .await;
    let held: Vec<&Value> = log.iter().filter(|d| is_held(d)).collect();
    assert_eq!(held[0]["attempts"], 0, "held is not a failed try");
    // In order: the held one is the third event.
    let log = log_of(&s, &admin, paced).await;
    let states: Vec<&str> = log
        .iter()
        .rev()
        .map(|d| d["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["delivered", "delivered", "pending", "pending", "pending"]
    );

    // The quiet robot got nothing; its messages wait for the end of the
    // quiet hours (about an hour from now), none lost.
    let waiting = log_when(
        &s,
        &admin,
        quiet,
        "the quiet robot's messages held",
        |log| {
            log.len() == 5
                && log
                    .iter()
                    .any(|d| d["next_at"].as_i64() > Some(before + 50 * 60_000))
        },
    )
    .await;
    assert!(
        waiting
            .iter()
            .all(|d| d["state"] == "pending" && d["attempts"] == 0),
        "{waiting:?}"
    );
    assert!(g.messages.lock().unwrap().iter().all(|(r, _)| r != "wecom"));
}

/// Time makes two things late, and a group hears of each in Chinese with a
/// link to it: a work order past its due time (工单超时, its number, status
/// and customer) and a call-back falling due (回访到期, whose it is and the
/// note).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_work_order_and_a_due_call_back_reach_the_group() {
    let s = stack(64).await;
    let [admin] = login_all(&s, ["admin"]).await;
    let (base, g) = robot_servers().await;
    deliver_quickly(&s);
    add_robot(
        &s,
        &admin,
        json!({
            "kind": "wecom",
            "url": format!("{base}/cgi-bin/webhook/send?key={WECOM_KEY}"),
            "events": ["workorder.overdue", "callback.due"],
        }),
    )
    .await;

    // 王伟's complaint, saved by agent1, made due an hour ago.
    let wang = customer_id(&s, "王伟").await;
    let fields = json!({"category": "complaint", "summary": "打印机卡纸"});
    let order = save_work_order(&s, "agent1", wang, "late-1", fields).await;
    let (code, _, answer) = http(
        s.addr,
        "PUT",
        &format!("/api/workorders/{}/due", order.id),
        Some(&admin),
        Some(json!({"due_at": callpop::store::now_ms() - 3_600_000})),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    let got = messages(&g, 1).await;
    let text = got[0].1["markdown"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    for said in [
        format!("#### 工单超时 {}", order.number),
        format!("**{}** 新建", order.number),
        "- 截止时间：".to_string(),
        "王伟".to_string(),
        format!(
            "[查看工单](http://callpop.example:8080/#/workorders/{})",
            order.id
        ),
    ] {
        assert!(text.contains(&said), "{said:?} in {text}");
    }

    // A call-back for 赵敏 falls due a moment from now.
    let zhao = customer_id(&s, "赵敏").await;
    let (code, _, item) = http(
        s.addr,
        "POST",
        &format!("/api/customers/{zhao}/follow-ups"),
        Some(&admin),
        Some(json!({"due_at": callpop::store::now_ms() + 300, "note": "问满意度"})),
    )
    .await;
    assert_eq!(code, 201, "{item}");
    let got = messages(&g, 2).await;
    let text = got[1].1["markdown"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    for said in [
        "#### 回访到期 139 0000 1111",
        "（赵敏",
        "- 负责人：admin",
        "- 备注：问满意度",
        "[去处理](http://callpop.example:8080/#/callbacks)",
    ] {
        assert!(text.contains(said), "{said:?} in {text}");
    }
    // Each once: later scans find neither again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(g.messages.lock().unwrap().len(), 2);
}
