//! SMS on call events (Open CTI), through the real daemon and a simulated
//! GSM modem that is both the line and the SMS modem: missed callers get
//! an apology unless called back in time, a saved work order sends its
//! receipt, an answered call its survey, whose 1–5 reply lands on the
//! call; opted-out callers get nothing; a held apology survives kill -9.

mod common;

use callpop::devices::profile::load_all;
use callpop::sim::far_end::FarEnd;
use callpop::sim::modem::{ModemOptions, ModemSim};
use common::daemon::{add_user, serve_at};
use common::{eventually, http, login, next_any, send, ws, PASSWORD};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const APOLOGY: &str = "{name}您好，刚才未能接听您的来电，我们会尽快回电。";

/// A daemon on `dir` with the modem at `link` and these after-call texts.
fn write_config(dir: &Path, link: &Path, apology_after_secs: u64) -> std::path::PathBuf {
    let config = dir.join("callpop.toml");
    std::fs::write(
        &config,
        format!(
            "db = {db:?}
[webhooks]
retry_first_secs = 1
[sms]
window = \"00:00-00:00\"
[sms.after_call]
apology = {APOLOGY:?}
apology_after_secs = {apology_after_secs}
receipt = \"您的工单{{work_order}}已受理，感谢来电。\"
survey = \"请回复1-5为本次服务评分（5为非常满意）。\"
survey_min_talk_secs = 0
[[device]]
name = \"gsm1\"
path = {link:?}
profile = \"simcom-sim800\"
",
            db = dir.join("callpop.db").display().to_string(),
            link = link.display().to_string(),
        ),
    )
    .unwrap();
    config
}

async fn add_admin(dir: &Path, config: &Path) {
    add_user(dir, config, "admin", "admin", PASSWORD).await;
}

async fn modem_up(addr: SocketAddr, admin: &str) {
    eventually(
        "the GSM modem up",
        || async {
            let (_, _, body) = http(addr, "GET", "/api/devices", Some(admin), None).await;
            body["devices"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| d["up"] == true))
                .then_some(())
        },
        String::new,
    )
    .await;
}

/// A caller rings and gives up.
async fn missed_call(sim: &ModemSim, number: &str) {
    sim.ring(Some(number)).await;
    sim.hang_up().await;
}

/// The deliveries of the outbox endpoint `url`, once `n` of them are done.
async fn settled(addr: SocketAddr, admin: &str, url: &str, n: usize) -> Vec<Value> {
    eventually(
        &format!("{n} deliveries of {url} done"),
        || async {
            let (_, _, list) = http(addr, "GET", "/api/webhooks", Some(admin), None).await;
            let id = list["endpoints"]
                .as_array()?
                .iter()
                .find(|e| e["url"] == url)?["id"]
                .as_i64()?;
            let path = format!("/api/webhooks/{id}/deliveries");
            let (_, _, log) = http(addr, "GET", &path, Some(admin), None).await;
            let rows = log["deliveries"].as_array()?.clone();
            (rows.len() >= n && rows.iter().all(|r| r["state"] == "delivered")).then_some(rows)
        },
        String::new,
    )
    .await
}

/// The texts the modem sent to `number` (national digits), parts joined.
fn texts_to(sim: &ModemSim, number: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut open: Option<String> = None;
    for p in sim.sent().into_iter().filter(|p| p.to.ends_with(number)) {
        match p.concat {
            Some(c) if c.seq == 1 => open = Some(p.text),
            Some(c) => {
                if let Some(text) = open.as_mut() {
                    text.push_str(&p.text);
                }
                if c.seq == c.total {
                    out.extend(open.take());
                }
            }
            None => out.push(p.text),
        }
    }
    out
}

async fn sent_to(sim: &ModemSim, number: &str, containing: &str) -> String {
    eventually(
        &format!("an SMS to {number} with {containing:?}"),
        || async {
            texts_to(sim, number)
                .into_iter()
                .find(|t| t.contains(containing))
        },
        || format!("{:?}", texts_to(sim, number)),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apologies_receipts_and_surveys_go_as_the_calls_call_for() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let profile = Arc::new(load_all(None).unwrap()["simcom-sim800"].clone());
    let sim = ModemSim::start(profile, &link, ModemOptions::default()).unwrap();
    // Long enough for the call-back below to come first however busy the
    // machine; the apology to the other caller waits this long.
    let config = write_config(dir.path(), &link, 8);
    add_admin(dir.path(), &config).await;
    let (_daemon, addr) = serve_at(dir.path(), &config).await;
    let admin = login(addr, "admin").await;
    let (code, _, c) = http(
        addr,
        "POST",
        "/api/customers",
        Some(&admin),
        Some(json!({"name": "王伟", "phones": ["13912345678"]})),
    )
    .await;
    assert_eq!(code, 200, "{c}");
    // The work-order form the demo ships, as an admin would set it up.
    let form: callpop::store::FormDef = toml::from_str(callpop::demo::DEMO_FORM).unwrap();
    let (code, _, f) = http(
        addr,
        "PUT",
        "/api/forms/service",
        Some(&admin),
        Some(serde_json::to_value(&form).unwrap()),
    )
    .await;
    assert_eq!(code, 200, "{f}");
    // The line pops on the admin's desk, whose call-back list is its own.
    let (code, _, b) = http(
        addr,
        "PUT",
        "/api/bindings?line=gsm1/1",
        Some(&admin),
        Some(json!({"agent": "admin"})),
    )
    .await;
    assert_eq!(code, 200, "{b}");
    modem_up(addr, &admin).await;

    // Two callers miss us; the second is called back (and answers) at once.
    missed_call(&sim, "13912345678").await;
    missed_call(&sim, "13912345679").await;
    let item = eventually(
        "the second caller on the call-back list",
        || async {
            let (_, _, list) = http(addr, "GET", "/api/followups", Some(&admin), None).await;
            list["items"]
                .as_array()?
                .iter()
                .find(|i| i["number_national"].to_string().contains("5679"))
                .and_then(|i| i["id"].as_i64())
        },
        || {
            let h = tokio::runtime::Handle::current();
            let body = std::thread::scope(|sc| {
                sc.spawn(|| {
                    h.block_on(http(addr, "GET", "/api/followups", Some(&admin), None))
                        .2
                })
                .join()
                .unwrap()
            });
            body.to_string()
        },
    )
    .await;
    sim.far().set(FarEnd::Answer {
        after: Duration::from_millis(100),
        talk: Some(Duration::from_millis(300)),
    });
    let (code, _, dialled) = http(
        addr,
        "POST",
        "/api/calls/dial",
        Some(&admin),
        Some(json!({"number": "13912345679", "followup_id": item})),
    )
    .await;
    assert_eq!(code, 201, "{dialled}");

    // The first caller, not called back, gets the apology with their name;
    // the second, called back, gets none, but is asked to rate the call.
    let apology = sent_to(&sim, "13912345678", "未能接听").await;
    assert_eq!(apology, "王伟您好，刚才未能接听您的来电，我们会尽快回电。");
    settled(addr, &admin, "sms:apology", 2).await;
    sent_to(&sim, "13912345679", "请回复1-5").await;
    assert!(
        !texts_to(&sim, "13912345679")
            .iter()
            .any(|t| t.contains("未能接听")),
        "no apology after a call-back: {:?}",
        texts_to(&sim, "13912345679")
    );

    // The rating comes back full-width; it lands on the call-back.
    sim.receive("+8613912345679", "５分").await;
    let call = eventually(
        "the call-back rated",
        || async {
            let (_, _, h) = http(addr, "GET", "/api/history", Some(&admin), None).await;
            h["calls"]
                .as_array()?
                .iter()
                .find(|c| c["direction"] == "outbound" && c["survey_score"] == 5)
                .cloned()
        },
        String::new,
    )
    .await;

    // The rating counts in the reports (满意度 = average of the calls rated).
    let now = callpop::store::now_ms();
    let day = 86_400_000;
    let (code, _, report) = http(
        addr,
        "GET",
        &format!(
            "/api/reports/calls?from={}&to={}&period=day",
            now - day,
            now + day
        ),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(code, 200, "{report}");
    let total = &report["totals"][0];
    assert_eq!(
        (&total["surveys"], &total["satisfaction"]),
        (&json!(1), &json!(5.0)),
        "{total}"
    );

    // A work order saved for that call sends its receipt.
    let mut desk = ws(addr, Some(&admin)).await.unwrap();
    send(
        &mut desk,
        json!({"type": "workorder.save", "id": "w1", "data": {
            "call_id": call["call_uid"],
            "fields": {"category": "inquiry", "contact": "李先生", "summary": "回访"}}}),
    )
    .await;
    let saved = loop {
        let v = next_any(&mut desk).await;
        if v["type"] == "result" || v["type"] == "error" {
            break v;
        }
    };
    let number = saved["data"]["result"]["number"]
        .as_str()
        .unwrap_or_else(|| panic!("{saved}"))
        .to_string();
    let receipt = sent_to(&sim, "13912345679", &number).await;
    assert_eq!(receipt, format!("您的工单{number}已受理，感谢来电。"));

    // A third caller opted out of our messages: their missed call gets
    // no apology.
    sim.receive("+8613912345670", "退订").await;
    eventually(
        "the opt-out",
        || async {
            let (_, _, o) = http(addr, "GET", "/api/sms/blacklist", Some(&admin), None).await;
            o["opt_outs"]
                .to_string()
                .contains("8613912345670")
                .then_some(())
        },
        String::new,
    )
    .await;
    missed_call(&sim, "13912345670").await;
    settled(addr, &admin, "sms:apology", 3).await;
    assert_eq!(texts_to(&sim, "13912345670"), Vec::<String>::new());
    let apologies = texts_to(&sim, "13912345678")
        .into_iter()
        .filter(|t| t.contains("未能接听"))
        .count();
    assert_eq!(apologies, 1, "one apology, however often it is looked at");
}

/// The daemon killed (-9) while an apology waits for its time: after the
/// restart it goes, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_apology_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let profile = Arc::new(load_all(None).unwrap()["simcom-sim800"].clone());
    let sim = ModemSim::start(profile, &link, ModemOptions::default()).unwrap();
    let config = write_config(dir.path(), &link, 3);
    add_admin(dir.path(), &config).await;
    let (mut daemon, addr) = serve_at(dir.path(), &config).await;
    let admin = login(addr, "admin").await;
    modem_up(addr, &admin).await;
    missed_call(&sim, "13912345671").await;
    // Held: the delivery log shows it waiting.
    eventually(
        "the apology waiting",
        || async {
            let (_, _, list) = http(addr, "GET", "/api/webhooks", Some(&admin), None).await;
            let id = list["endpoints"]
                .as_array()?
                .iter()
                .find(|e| e["url"] == "sms:apology")?["id"]
                .as_i64()?;
            let path = format!("/api/webhooks/{id}/deliveries");
            let (_, _, log) = http(addr, "GET", &path, Some(&admin), None).await;
            (log["deliveries"].as_array()?.len() == 1).then_some(())
        },
        String::new,
    )
    .await;
    assert!(texts_to(&sim, "13912345671").is_empty(), "not yet");
    daemon.kill().await.unwrap();
    let _ = daemon.wait().await;

    let (_daemon, addr) = serve_at(dir.path(), &config).await;
    let admin = login(addr, "admin").await;
    let text = sent_to(&sim, "13912345671", "未能接听").await;
    assert!(text.starts_with("您好"), "no customer, no name: {text}");
    settled(addr, &admin, "sms:apology", 1).await;
    assert_eq!(texts_to(&sim, "13912345671").len(), 1);
}
