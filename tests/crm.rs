//! Lookups in the center's own CRM against a real HTTP server the test
//! runs (a small CRM that answers as told: found, nobody, late, garbage,
//! never): the pop goes out with the local result while the CRM still
//! holds the request, and is amended (`call.crm`) when it answers; a
//! repeat caller is answered from the cache; a CRM that fails or never
//! answers never touches the pop, and its failures are counted for admins.

mod common;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The test's CRM: who asked for what, the calls written into it, and a
/// gate the slow answer waits at.
#[derive(Clone, Default)]
struct Crm {
    asked: Arc<Mutex<Vec<(String, String)>>>,
    journal: Arc<Mutex<Vec<Value>>>,
    gate: Arc<Notify>,
}

/// `POST /calls`: a call written into the CRM.
async fn calls(
    State(crm): State<Crm>,
    axum::Json(call): axum::Json<Value>,
) -> axum::http::StatusCode {
    crm.journal.lock().unwrap().push(call);
    axum::http::StatusCode::CREATED
}

/// `GET /contacts?phone=…`, answering by the number.
async fn contacts(
    State(crm): State<Crm>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let phone = q.get("phone").cloned().unwrap_or_default();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    crm.asked.lock().unwrap().push((phone.clone(), auth));
    match phone.as_str() {
        // Known, but the CRM takes its time: it answers when the test says.
        "+8613812345678" => {
            crm.gate.notified().await;
            axum::Json(json!({"items": [
                {"id": 4711, "name": "王伟 (CRM)", "company": "华信科技", "owner": "李强"}
            ]}))
            .into_response()
        }
        "+8613700000002" => axum::Json(json!({"items": []})).into_response(),
        "+8613900002222" => (
            [("content-type", "text/html")],
            "<html><body>502 Bad Gateway</body></html>",
        )
            .into_response(),
        // Never answers within anyone's patience.
        _ => {
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
            axum::Json(json!({})).into_response()
        }
    }
}

async fn start_crm() -> (SocketAddr, Crm) {
    let crm = Crm::default();
    let app = axum::Router::new()
        .route("/contacts", axum::routing::get(contacts))
        .route("/calls", axum::routing::post(calls))
        .with_state(crm.clone());
    (serve_local(app).await, crm)
}

/// The shipped generic REST connector, with its own name and timeout, as
/// a center's own file (the path form of `[[crm]] connector`).
fn connector(
    dir: &std::path::Path,
    name: &str,
    timeout_ms: u64,
    crm: SocketAddr,
) -> callpop::crm::Configured {
    let shipped = callpop::crm::connector::shipped()
        .iter()
        .find(|(f, _)| *f == "generic-rest.toml")
        .unwrap()
        .1;
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        shipped
            .replace("timeout_ms = 2000", &format!("timeout_ms = {timeout_ms}"))
            // Only callers the CRM knows are written into it.
            .replace("delay_secs = 120", "delay_secs = 0\nwhen = \"contact.id\""),
    )
    .unwrap();
    let config = callpop::config::CrmConfig {
        connector: path.display().to_string(),
        name: Some(name.into()),
        settings: [
            ("base_url", toml::Value::String(format!("http://{crm}"))),
            ("token", toml::Value::String("t0k".into())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    };
    callpop::crm::configure(&[config]).unwrap().remove(0)
}

/// Desktops that send no heartbeats are kept however slow the machine
/// (the test's desk only listens).
fn patient(c: &mut callpop::config::ScreenPopConfig) {
    c.heartbeat_secs = 60;
}

async fn counts(s: &Stack, admin: &str, name: &str) -> Value {
    let (code, _, body) = http(s.addr, "GET", "/api/crm", Some(admin), None).await;
    assert_eq!(code, 200, "{body}");
    body["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no connector {name} in {body}"))["counts"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pop_goes_out_at_once_and_the_crm_amends_it_later() {
    let (crm_addr, crm) = start_crm().await;
    let dir = tempfile::tempdir().unwrap();
    let slow = connector(dir.path(), "CRM", 30_000, crm_addr);
    let mut s = stack_full(
        tempfile::tempdir().unwrap(),
        64,
        patient,
        vec![],
        vec![slow],
    )
    .await;
    let [admin, agent1] = login_all(&s, ["admin", "agent1"]).await;
    let mut desk = ws(s.addr, Some(&agent1)).await.unwrap();
    next_of(&mut desk, "hello").await;

    ring(&mut s.sim, 1, "13812345678").await;
    // The pop, with the local customer, while the CRM still holds its answer.
    let pop = next_of(&mut desk, "call.ringing").await;
    assert_eq!(pop["data"]["customers"][0]["name"], "王伟");
    assert!(pop["data"].get("crm").is_none(), "nothing from the CRM yet");
    let call_id = pop["data"]["call_id"].as_str().unwrap().to_string();
    eventually(
        "the CRM is asked",
        || async { (!crm.asked.lock().unwrap().is_empty()).then_some(()) },
        || format!("{:?}", crm.asked.lock().unwrap()),
    )
    .await;
    assert_eq!(
        crm.asked.lock().unwrap()[0],
        ("+8613812345678".to_string(), "Bearer t0k".to_string()),
        "the number in E.164 and the token from the settings"
    );
    crm.gate.notify_one();
    let amended = next_of(&mut desk, "call.crm").await;
    assert_eq!(amended["data"]["call_id"], call_id.as_str());
    let contact = &amended["data"]["crm"]["contact"];
    assert_eq!(amended["data"]["crm"]["connector"], "CRM");
    assert_eq!(contact["id"], "4711");
    assert_eq!(contact["name"], "王伟 (CRM)");
    assert_eq!(contact["company"], "华信科技");
    assert_eq!(contact["owner"], "李强");
    assert_eq!(
        contact["link"].as_str().unwrap(),
        format!("http://{crm_addr}/contacts/4711")
    );
    s.sim
        .act(&callpop::sim::script::Action::Hangup { port: 1 })
        .await
        .unwrap();
    next_of(&mut desk, "call.ended").await;

    // The caller again: answered from the cache, the CRM not asked again.
    ring(&mut s.sim, 1, "13812345678").await;
    let pop = next_of(&mut desk, "call.ringing").await;
    let amended = next_of(&mut desk, "call.crm").await;
    assert_eq!(amended["data"]["call_id"], pop["data"]["call_id"]);
    assert_eq!(amended["data"]["crm"]["contact"]["id"], "4711");
    assert_eq!(crm.asked.lock().unwrap().len(), 1);
    // A desktop that resumes from scratch finds the CRM's answer in the pop.
    let mut fresh = ws(s.addr, Some(&agent1)).await.unwrap();
    next_of(&mut fresh, "hello").await;
    send(
        &mut fresh,
        json!({"type": "resume", "data": {"session_id": "gone", "last_seq": 0}}),
    )
    .await;
    let snapshot = next_of(&mut fresh, "snapshot").await;
    let pops = snapshot["data"]["pops"].as_array().unwrap();
    let this = pops
        .iter()
        .find(|p| p["call_id"] == pop["data"]["call_id"])
        .unwrap();
    assert_eq!(this["crm"][0]["contact"]["name"], "王伟 (CRM)");
    s.sim
        .act(&callpop::sim::script::Action::Hangup { port: 1 })
        .await
        .unwrap();

    // Nobody with this number: the pop is amended with that.
    ring(&mut s.sim, 1, "13700000002").await;
    next_of(&mut desk, "call.ringing").await;
    let amended = next_of(&mut desk, "call.crm").await;
    assert_eq!(amended["data"]["crm"]["contact"], Value::Null);

    let n = counts(&s, &admin, "CRM").await;
    assert_eq!(
        (n["lookups"].as_u64(), n["found"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (n["not_found"].as_u64(), n["cached"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(n["errors"], 0);
    // Only admins read it.
    assert_eq!(
        status(s.addr, "GET", "/api/crm", Some(&agent1), None).await,
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crm_that_fails_or_never_answers_leaves_the_pop_alone_and_is_counted() {
    let (crm_addr, _crm) = start_crm().await;
    let dir = tempfile::tempdir().unwrap();
    let mute = connector(dir.path(), "mute", 300, crm_addr);
    let mut s = stack_full(
        tempfile::tempdir().unwrap(),
        64,
        patient,
        vec![],
        vec![mute],
    )
    .await;
    let [admin, agent1] = login_all(&s, ["admin", "agent1"]).await;
    let mut desk = ws(s.addr, Some(&agent1)).await.unwrap();
    next_of(&mut desk, "hello").await;

    // Garbage: an HTML error page.
    ring(&mut s.sim, 1, "13900002222").await;
    let pop = next_of(&mut desk, "call.ringing").await;
    assert_eq!(pop["data"]["number"], "13900002222");
    let n = eventually(
        "the garbage is counted",
        || async {
            let n = counts(&s, &admin, "mute").await;
            (n["errors"] == 1).then_some(n)
        },
        || "no error counted".into(),
    )
    .await;
    assert!(
        n["last_error"]["detail"]
            .as_str()
            .unwrap()
            .contains("not JSON")
            && n["last_error"]["code"] == "failed",
        "{n}"
    );
    s.sim
        .act(&callpop::sim::script::Action::Hangup { port: 1 })
        .await
        .unwrap();
    next_of(&mut desk, "call.ended").await;

    // Silence: counted as a timeout once the connector's time has passed.
    ring(&mut s.sim, 1, "13600000001").await;
    next_of(&mut desk, "call.ringing").await;
    let n = eventually(
        "the timeout is counted",
        || async {
            let n = counts(&s, &admin, "mute").await;
            (n["timeouts"] == 1).then_some(n)
        },
        || "no timeout counted".into(),
    )
    .await;
    assert_eq!(n["lookups"], 2);
    assert!(n["slowest_ms"].as_u64().unwrap() >= 300, "{n}");

    // Neither failure reached the desktop: the next thing it hears is the
    // answer to its own command.
    send(
        &mut desk,
        json!({"type": "agent.state", "id": "s1", "data": {"state": "not_ready"}}),
    )
    .await;
    loop {
        let m = next_any(&mut desk).await;
        assert_ne!(m["type"], "call.crm", "{m}");
        assert_ne!(m["type"], "error", "{m}");
        if m["type"] == "result" {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workspace_shows_what_the_crm_found_under_the_pop() {
    let (crm_addr, crm) = start_crm().await;
    let dir = tempfile::tempdir().unwrap();
    let slow = connector(dir.path(), "EspoCRM", 30_000, crm_addr);
    let mut s = stack_full(tempfile::tempdir().unwrap(), 64, |_| {}, vec![], vec![slow]).await;
    let mut b = common::browser::Browser::start().await;
    b.open_as(s.addr, "agent1").await;
    b.wait_for("document.querySelector('[data-test=conn]')?.dataset.conn === 'connected'")
        .await;
    ring(&mut s.sim, 1, "13812345678").await;
    b.wait_for("document.querySelector('.pop.ringing') !== null")
        .await;
    assert_eq!(
        b.eval("document.querySelector('[data-test=crm]') === null")
            .await,
        true
    );
    eventually(
        "the CRM is asked",
        || async { (!crm.asked.lock().unwrap().is_empty()).then_some(()) },
        || "not asked".into(),
    )
    .await;
    crm.gate.notify_one();
    b.wait_for("document.querySelector('[data-test=crm]')?.textContent.includes('王伟 (CRM)')")
        .await;
    let link = b
        .eval("document.querySelector('[data-test=crm-link]').getAttribute('href')")
        .await;
    assert_eq!(
        link.as_str().unwrap(),
        format!("http://{crm_addr}/contacts/4711")
    );
    let text = b.text("[data-test=crm]").await;
    assert!(
        text.contains("EspoCRM") && text.contains("华信科技") && text.contains("李强"),
        "{text}"
    );
    let shot = std::env::temp_dir().join("callpop-crm-pop.png");
    b.screenshot(&shot).await;
    b.assert_no_console_errors();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_calls_of_known_callers_are_written_into_the_crm() {
    let (crm_addr, crm) = start_crm().await;
    crm.gate.notify_one(); // the known caller is answered at once
    let dir = tempfile::tempdir().unwrap();
    let journal = connector(dir.path(), "Journal", 5_000, crm_addr);
    let mut s = stack_full(
        tempfile::tempdir().unwrap(),
        64,
        patient,
        vec![],
        vec![journal],
    )
    .await;
    s.store
        .webhooks()
        .call(|w| w.keep_crm_journals(&["Journal".to_string()]))
        .await
        .unwrap();
    tokio::spawn(callpop::webhooks::worker::run(
        s.store.clone(),
        callpop::webhooks::worker::WorkerSettings {
            poll: std::time::Duration::from_millis(20),
            console_url: Some("http://callpop.example:8080".into()),
            ..Default::default()
        }
        .with_crm(s.crm.clone()),
    ));
    let [admin, agent1] = login_all(&s, ["admin", "agent1"]).await;
    let mut desk = ws(s.addr, Some(&agent1)).await.unwrap();
    next_of(&mut desk, "hello").await;

    // A known caller, answered, with a work order saved during the call.
    ring(&mut s.sim, 1, "13812345678").await;
    let pop = next_of(&mut desk, "call.ringing").await;
    let call_id = pop["data"]["call_id"].as_str().unwrap().to_string();
    next_of(&mut desk, "call.crm").await;
    s.sim
        .act(&callpop::sim::script::Action::Answer { port: 1 })
        .await
        .unwrap();
    next_of(&mut desk, "call.answered").await;
    send(
        &mut desk,
        json!({"type": "workorder.save", "id": "w1", "data": {
            "call_id": call_id, "customer_id": pop["data"]["customers"][0]["id"],
            "fields": {"category": "inquiry", "contact": "王伟", "summary": "问价格"}}}),
    )
    .await;
    let saved = next_of(&mut desk, "result").await;
    let number = saved["data"]["result"]["number"]
        .as_str()
        .unwrap()
        .to_string();
    s.sim
        .act(&callpop::sim::script::Action::Hangup { port: 1 })
        .await
        .unwrap();
    next_of(&mut desk, "call.ended").await;
    // An unknown caller: left out by the journal's `when`.
    ring(&mut s.sim, 1, "13700000002").await;
    next_of(&mut desk, "call.ringing").await;
    s.sim
        .act(&callpop::sim::script::Action::Hangup { port: 1 })
        .await
        .unwrap();
    next_of(&mut desk, "call.ended").await;

    let n = eventually(
        "both calls are journaled or left out",
        || async {
            let n = counts(&s, &admin, "Journal").await;
            (n["journaled"] == 1 && n["journal_skipped"] == 1).then_some(n)
        },
        || format!("{:?}", crm.journal.lock().unwrap()),
    )
    .await;
    assert_eq!(n["journal_failed"], 0);
    let written = crm.journal.lock().unwrap().clone();
    assert_eq!(written.len(), 1, "{written:?}");
    let call = &written[0];
    assert_eq!(call["call_id"], call_id.as_str());
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["number"], "+8613812345678");
    assert_eq!(call["outcome"], "answered");
    assert_eq!(call["agent"], "agent1");
    assert_eq!(call["work_order"], number.as_str());
    assert_eq!(call["contact_id"], 4711, "the CRM's own id, as it wrote it");
    assert!(
        call["duration_secs"].is_number() && call["talk_secs"].is_number(),
        "{call}"
    );
    assert!(
        call["recording_url"]
            .as_str()
            .unwrap()
            .starts_with("http://callpop.example:8080/api/recordings/"),
        "{call}"
    );
    // The journal is an endpoint of the outbox: its deliveries are logged.
    let (_, _, hooks) = http(s.addr, "GET", "/api/webhooks", Some(&admin), None).await;
    assert!(hooks.to_string().contains("crm:Journal"), "{hooks}");
}

fn vars_for(e164: &str) -> callpop::crm::template::Vars {
    [
        ("number.e164", e164),
        ("number.national", &e164[3..]),
        ("number.digits", &e164[3..]),
        ("number.local", &e164[3..]),
        ("call.id", "0193-x"),
        ("call.line", "box1/1"),
        ("call.direction", "inbound"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), json!(v)))
    .collect()
}

#[tokio::test]
async fn the_shipped_espocrm_and_odoo_connectors_speak_their_apis() {
    let addr = common::crms::start().await;
    let config = |connector: &str, settings: Vec<(&str, toml::Value)>| callpop::config::CrmConfig {
        connector: connector.into(),
        name: None,
        settings: settings
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    };
    let base = toml::Value::String(format!("http://{addr}"));
    let text = |s: &str| toml::Value::String(s.into());
    let odoo = |key: &str| {
        config(
            "odoo",
            vec![
                ("base_url", base.clone()),
                ("database", text("crm")),
                ("user_id", toml::Value::Integer(2)),
                ("api_key", text(key)),
            ],
        )
    };
    let mut configs = vec![
        config(
            "espocrm",
            vec![("base_url", base.clone()), ("api_key", text("espo-key"))],
        ),
        odoo("odoo-key"),
        odoo("wrong"),
    ];
    let twice = callpop::crm::configure(&configs).unwrap_err();
    assert!(twice.contains("give each a name"), "{twice}");
    configs[2].name = Some("Odoo with a wrong key".into());
    let crm = callpop::crm::Crm::new(callpop::crm::configure(&configs).unwrap());

    let espo = crm
        .look_up(0, &vars_for("+8613812345678"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(espo.id, "5f1a2b3c4d");
    assert_eq!(espo.name.as_deref(), Some("王伟"));
    assert_eq!(espo.company.as_deref(), Some("华信科技有限公司"));
    assert_eq!(espo.owner.as_deref(), Some("李强"));
    assert_eq!(
        espo.link.as_deref(),
        Some(format!("http://{addr}/#Contact/view/5f1a2b3c4d").as_str())
    );
    assert_eq!(crm.look_up(0, &vars_for("+8613700000002")).await, Ok(None));

    let odoo = crm
        .look_up(1, &vars_for("+8613812345678"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((odoo.id.as_str(), odoo.id_value.clone()), ("42", json!(42)));
    assert_eq!(odoo.company.as_deref(), Some("华信科技有限公司"));
    assert_eq!(odoo.owner.as_deref(), Some("李强"));
    assert_eq!(
        odoo.link.as_deref(),
        Some(format!("http://{addr}/web#id=42&model=res.partner&view_type=form").as_str())
    );
    assert_eq!(crm.look_up(1, &vars_for("+8613700000002")).await, Ok(None));
    let refused = crm
        .look_up(2, &vars_for("+8613812345678"))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("Access Denied"), "{refused}");
    let status = crm.status();
    assert_eq!(status[2]["counts"]["errors"], 1);
}
