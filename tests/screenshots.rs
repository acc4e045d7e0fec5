//! Screenshots of every page for every role, in both languages, at
//! 1440×900 and 1280×720, into `docs/screenshots/` (the README shows
//! them). Not part of the suite: `./run screenshots` takes them.

mod common;

use callpop::sim::script::Action;
use common::browser::Browser;
use common::*;
use std::path::PathBuf;

const SIZES: [(u32, u32); 2] = [(1440, 900), (1280, 720)];
const LANGS: [&str; 2] = ["zh-CN", "en"];

/// Calls of a working morning: answered with work orders, missed, and one
/// still ringing for the agent.
async fn a_morning(s: &mut Stack) {
    for (port, number, answer) in [
        (1, "13812345678", true),
        (2, "02161234567", false),
        (1, "13700001234", true),
        (2, "4008108888", false),
    ] {
        ring(&mut s.sim, port, number).await;
        if answer {
            s.sim.act(&Action::Answer { port }).await.unwrap();
        }
        s.sim.act(&Action::Hangup { port }).await.unwrap();
    }
    seed_work_orders(s).await;
    seed_integrations(s).await;
    seed_survey(s).await;
}

/// SMS on call events are on, and the first caller rated the call 5 by SMS.
async fn seed_survey(s: &Stack) {
    use callpop::store::{CallMessage, NewSms};
    let mut after_call = callpop::config::AfterCallConfig::default();
    callpop::demo::after_call_texts(&mut after_call);
    let wanted = callpop::sms::after_call::Texts::parse(&after_call)
        .unwrap()
        .endpoints();
    s.store
        .webhooks()
        .call(move |w| w.keep_internal("sms:", &wanted))
        .await
        .unwrap();
    let store = s.store.clone();
    let uid = common::eventually(
        "the first answered call written",
        || {
            let store = store.clone();
            async move {
                let calls = store.calls().call(|c| c.recent(10)).await.ok()?;
                calls
                    .into_iter()
                    .find(|c| {
                        c.number_e164.as_deref() == Some("+8613812345678")
                            && c.answered_at.is_some()
                            && c.ended_at.is_some()
                    })
                    .map(|c| c.call_uid)
            }
        },
        String::new,
    )
    .await;
    s.store
        .sms()
        .call(move |sms| {
            let survey = CallMessage {
                kind: "survey",
                subject: uid.clone(),
                call_uid: Some(uid),
                work_order_id: None,
                e164: "+8613812345678".into(),
                skipped: None,
                created_at: callpop::store::now_ms(),
            };
            let text = "请回复1-5为本次服务评分";
            let parts = vec![("00".to_string(), 1)];
            let message = NewSms {
                to: "+8613812345678",
                text,
                encoding: "ucs2",
                parts,
                created_by: None,
            };
            sms.record_call_message(&survey, Some(&message))?;
            let now = callpop::store::now_ms();
            sms.score_survey("+8613812345678", 5, None, now, 0)
        })
        .await
        .unwrap();
}

/// A CRM's webhook and the after-sales group's 企业微信 robot, quiet at night.
async fn seed_integrations(s: &Stack) {
    use callpop::store::EndpointSettings;
    let admin = s
        .store
        .users()
        .call(|u| Ok(u.user_by_name("admin")?.unwrap()))
        .await
        .unwrap();
    s.store
        .webhooks()
        .call(move |w| {
            let crm = ["call.ended".to_string(), "customer.updated".into()];
            w.add_endpoint(
                &EndpointSettings {
                    description: "CRM",
                    ..EndpointSettings::webhook("https://crm.example.com/callpop", &crm)
                },
                "whsec_demo",
                &admin,
                None,
            )?;
            let events = ["missed_call.created".to_string(), "device.down".into()];
            let teams = ["sales".to_string()];
            w.add_endpoint(
                &EndpointSettings {
                    description: "售后服务群",
                    kind: "wecom",
                    teams: &teams,
                    quiet: Some((22 * 60, 8 * 60)),
                    per_minute: 20,
                    ..EndpointSettings::webhook(
                        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=demo",
                        &events,
                    )
                },
                "",
                &admin,
                None,
            )
        })
        .await
        .unwrap();
}

/// The morning's work orders as agent1 saved them and lead1 moved them on:
/// one new and overdue, one escalated to the second line, one resolved.
async fn seed_work_orders(s: &Stack) {
    use callpop::store::{Actor, Assignee, Scope};
    let (agent1, lead1) = s
        .store
        .users()
        .call(|u| {
            Ok((
                u.user_by_name("agent1")?.unwrap(),
                u.user_by_name("lead1")?.unwrap(),
            ))
        })
        .await
        .unwrap();
    let wang = customer_id(s, "王伟").await;
    s.store
        .workorders()
        .call(move |w| {
            let save = |key: &str, category: &str, summary: &str| {
                let mut fields = serde_json::Map::new();
                for (k, v) in [
                    ("category", category),
                    ("contact", "王伟"),
                    ("phone", "13812345678"),
                    ("summary", summary),
                ] {
                    fields.insert(k.into(), serde_json::json!(v));
                }
                w.save_work_order("service", Some(wang), None, agent1.id, key, &fields)
                    .map(|saved| saved.id)
            };
            let late = save("m1", "complaint", "打印机每打两页卡一次纸")?;
            let escalated = save("m2", "after_sales", "上门更换硒鼓")?;
            let answered = save("m3", "inquiry", "咨询发票抬头")?;
            let actor = Actor {
                user: &lead1,
                remote_addr: None,
            };
            let hour_ago = callpop::store::now_ms() - 3_600_000;
            w.set_due(late, Some(hour_ago), &Scope::All, actor)?;
            let second_line = Assignee::Team("support".into());
            w.assign(
                escalated,
                &second_line,
                Some("需要上门"),
                &Scope::All,
                actor,
            )?;
            w.change_status(answered, "resolved", Some("已电话答复"), &Scope::All, actor)?;
            Ok(())
        })
        .await
        .unwrap();
}

async fn settle(b: &mut Browser) {
    b.wait_for("document.readyState === 'complete' && document.body.innerText.trim().length > 10")
        .await;
    b.wait_for(common::browser::PAGE_READY).await;
    // No transitions half-way in a picture.
    b.eval("if (!document.getElementById('no-motion')) { const st = document.createElement('style'); st.id = 'no-motion'; st.textContent = '*, *::before, *::after { transition: none !important; animation: none !important; }'; document.head.append(st); } true")
        .await;
    // Fonts and the last frame of any transition.
    b.eval("document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))).then(() => true)")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots; run with ./run screenshots"]
async fn every_page_for_every_role() {
    // The center's EspoCRM (a stand-in speaking its API), looked up beside the store.
    let espo = callpop::crm::configure(&[callpop::config::CrmConfig {
        connector: "espocrm".into(),
        name: None,
        settings: [
            (
                "base_url",
                format!("http://{}", common::crms::start().await),
            ),
            ("api_key", "espo-key".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), toml::Value::String(v)))
        .collect(),
    }])
    .unwrap();
    let mut s = stack_full(tempfile::tempdir().unwrap(), 256, |_| {}, vec![], espo).await;
    add_user(&s, "qa1", callpop::store::Role::Qa).await;
    add_user(&s, "marketer1", callpop::store::Role::Marketer).await;
    a_morning(&mut s).await;
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    let mut b = Browser::start().await;
    for (w, h) in SIZES {
        b.resize(w, h).await;
        for lang in LANGS {
            b.goto(&format!("http://{}/login", s.addr)).await;
            b.eval(&format!(
                "localStorage.clear(); localStorage.setItem('lang', '{lang}'); true"
            ))
            .await;
            b.goto(&format!("http://{}/login", s.addr)).await;
            b.wait_for("document.getElementById('login')").await;
            settle(&mut b).await;
            b.screenshot(&out.join(format!("{w}x{h}/{lang}/login.png")))
                .await;
            for user in ["agent1", "lead1", "qa1", "marketer1", "admin"] {
                let token = login(s.addr, user).await;
                let (_, _, me) = http(s.addr, "GET", "/api/me", Some(&token), None).await;
                let role = me["role"].as_str().unwrap().to_string();
                b.goto(&format!("http://{}/login", s.addr)).await;
                b.log_in(user).await;
                b.wait_for("location.pathname !== '/login'").await;
                for page in me["pages"].as_array().unwrap() {
                    let page = page.as_str().unwrap();
                    b.goto(&format!("http://{}/{page}", s.addr)).await;
                    settle(&mut b).await;
                    if page == "workspace" && me["role"] == "agent" {
                        ring(&mut s.sim, 1, "13812345678").await;
                        b.wait_for("document.querySelectorAll('.cards .pop').length >= 1")
                            .await;
                        b.wait_for(
                            "document.querySelector('.cards .pop [data-test=crm]') !== null",
                        )
                        .await;
                        b.fill(
                            ".pop textarea[name=summary]",
                            if lang == "en" {
                                "Printer jams on every second page"
                            } else {
                                "打印机每打两页卡一次纸"
                            },
                        )
                        .await;
                        settle(&mut b).await;
                    }
                    b.screenshot(&out.join(format!("{w}x{h}/{lang}/{role}-{page}.png")))
                        .await;
                    if page == "admin" {
                        for tab in common::browser::ADMIN_TABS {
                            b.open_admin_tab(tab).await;
                            settle(&mut b).await;
                            b.screenshot(
                                &out.join(format!("{w}x{h}/{lang}/{role}-{page}-{tab}.png")),
                            )
                            .await;
                        }
                    }
                    if page == "workspace" && me["role"] == "agent" {
                        s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
                    }
                }
                // Logged out for the next user.
                b.eval("fetch('/api/logout', { method: 'POST' }).then(() => true)")
                    .await;
            }
        }
    }
}
