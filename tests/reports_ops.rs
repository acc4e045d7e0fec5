//! Call history, statistics, wallboard and operations against the whole
//! stack: who sees which calls and numbers, audited exports with their own
//! permission, keyset paging, a real call flowing into the history, the
//! wallboard feed and the Prometheus metrics (checked by promtool), and the
//! statistics page and wallboard in headless Chromium.

mod common;

use callpop::calls::Cdr;
use callpop::event::{Direction, Outcome};
use callpop::sim::script::Action;
use callpop::store::Role;
use common::browser::Browser;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

struct Call {
    uid: &'static str,
    line: &'static str,
    agent: Option<&'static str>,
    team: Option<&'static str>,
    outcome: Outcome,
    number: &'static str,
    customer: Option<i64>,
    /// Minutes before now it started.
    ago_min: i64,
}

/// Writes a finished call as the engine and the hub would.
async fn write_call(s: &Stack, c: Call) {
    // Today's, even just after midnight (the wallboard counts today).
    let now = callpop::store::now_ms();
    let midnight = callpop::pop::wallboard::local_midnight(now);
    let started = (now - c.ago_min * 60_000).max(midnight + (60 - c.ago_min) * 1000);
    let answered = (c.outcome == Outcome::Answered).then_some(started + 8_000);
    let cdr = Cdr {
        call_uid: c.uid.into(),
        line: c.line.into(),
        device: "box1".into(),
        direction: Direction::Inbound,
        outcome: c.outcome,
        presentation: "available",
        raw_number: Some(c.number.into()),
        number_e164: Some(format!("+86{}", c.number)),
        number_national: Some(c.number.into()),
        caller_name: None,
        customer_id: c.customer,
        match_rule: None,
        ring_count: 2,
        started_at: started,
        first_ring_at: Some(started),
        cid_at: Some(started + 500),
        answered_at: answered,
        ended_at: answered.map_or(started + 20_000, |a| a + 60_000),
        dtmf: String::new(),
        agent_user_id: None,
        failure: None,
        blocked: None,
    };
    let (agent, team) = (c.agent, c.team);
    let agent_id = match agent {
        Some(name) => s
            .store
            .users()
            .call(move |u| u.user_by_name(name))
            .await
            .unwrap()
            .map(|u| u.id),
        None => None,
    };
    s.store
        .calls()
        .call(move |st| {
            st.write_cdr(&cdr)?;
            if let Some(id) = agent_id {
                st.set_call_agent(&cdr.call_uid, id)?;
            }
            st.set_call_routing(&cdr.call_uid, agent_id, team)
        })
        .await
        .unwrap();
}

async fn seed_history(s: &Stack) {
    add_user(s, "qa1", Role::Qa).await;
    add_user(s, "mk1", Role::Marketer).await;
    let hash = callpop::auth::hash_password(PASSWORD).unwrap();
    s.store
        .users()
        .call(move |st| {
            st.add_user(
                "agent3",
                "agent3",
                Role::Agent,
                Some("support"),
                Some(&hash),
            )
            .map(|_| ())
        })
        .await
        .unwrap();
    // Customer 1 (王伟, 13812345678) has no owner; 2 (赵敏, 13900001111)
    // is agent2's.
    for c in [
        Call {
            uid: "c1",
            line: "box1/1",
            agent: Some("agent1"),
            team: Some("sales"),
            outcome: Outcome::Answered,
            number: "13812345678",
            customer: Some(1),
            ago_min: 50,
        },
        Call {
            uid: "c2",
            line: "box1/2",
            agent: Some("agent2"),
            team: Some("sales"),
            outcome: Outcome::Answered,
            number: "13900001111",
            customer: Some(2),
            ago_min: 40,
        },
        Call {
            uid: "c3",
            line: "box1/2",
            agent: None,
            team: Some("sales"),
            outcome: Outcome::Missed,
            number: "13700002222",
            customer: None,
            ago_min: 30,
        },
        Call {
            uid: "c4",
            line: "box1/4",
            agent: Some("agent3"),
            team: Some("support"),
            outcome: Outcome::Answered,
            number: "13600003333",
            customer: None,
            ago_min: 20,
        },
        Call {
            uid: "c5",
            line: "box1/1",
            agent: Some("agent1"),
            team: Some("sales"),
            outcome: Outcome::Answered,
            number: "13900001111",
            customer: Some(2),
            ago_min: 10,
        },
    ] {
        write_call(s, c).await;
    }
}

/// The calls a user's history shows: uid -> number as shown.
async fn history(s: &Stack, token: &str, query: &str) -> (u16, Vec<(String, String)>, Value) {
    let (status, _, body) = http(
        s.addr,
        "GET",
        &format!("/api/history?{query}"),
        Some(token),
        None,
    )
    .await;
    let calls = body["calls"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c["call_uid"].as_str().unwrap().to_string(),
                        c["number"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (status, calls, body)
}

fn uids(calls: &[(String, String)]) -> Vec<&str> {
    calls.iter().map(|(u, _)| u.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_scoped_and_masked_by_role_and_exports_are_permitted_and_audited() {
    let s = stack(256).await;
    seed_history(&s).await;
    let agent1 = login(s.addr, "agent1").await;
    let agent2 = login(s.addr, "agent2").await;
    let lead1 = login(s.addr, "lead1").await;
    let qa = login(s.addr, "qa1").await;
    let mk = login(s.addr, "mk1").await;
    let admin = login(s.addr, "admin").await;

    // Agents: their own calls; another agent's customer's number masked.
    let (_, calls, body) = history(&s, &agent1, "").await;
    assert_eq!(uids(&calls), ["c5", "c1"]);
    assert_eq!(calls[0].1, "139****1111", "赵敏 belongs to agent2");
    assert_eq!(calls[1].1, "13812345678");
    assert_eq!(body["can_export"], false);
    let (_, calls, _) = history(&s, &agent2, "").await;
    assert_eq!(calls, [("c2".to_string(), "13900001111".to_string())]);
    // Team leads: their team's calls, a missed call on the team's line too.
    let (_, calls, _) = history(&s, &lead1, "").await;
    assert_eq!(uids(&calls), ["c5", "c3", "c2", "c1"]);
    assert!(calls.iter().all(|(_, n)| !n.contains('*')));
    // QA: everything, masked.
    let (_, calls, _) = history(&s, &qa, "").await;
    assert_eq!(uids(&calls), ["c5", "c4", "c3", "c2", "c1"]);
    assert!(calls.iter().all(|(_, n)| n.contains("****")), "{calls:?}");
    // Marketers: nothing.
    assert_eq!(history(&s, &mk, "").await.0, 403);

    // Filters, links and keyset paging.
    let (_, calls, body) = history(&s, &admin, "number=%2B86%20139-0000-1111").await;
    assert_eq!(uids(&calls), ["c5", "c2"]);
    assert_eq!(body["calls"][0]["customer"], "赵敏");
    assert_eq!(uids(&history(&s, &admin, "outcome=missed").await.1), ["c3"]);
    assert_eq!(uids(&history(&s, &admin, "team=support").await.1), ["c4"]);
    assert_eq!(
        uids(&history(&s, &admin, "agent=agent1&customer_id=2").await.1),
        ["c5"]
    );
    assert_eq!(
        uids(
            &history(&s, &admin, "line=box1%2F2&direction=inbound")
                .await
                .1
        ),
        ["c3", "c2"]
    );
    assert_eq!(history(&s, &admin, "outcome=lost").await.0, 400);
    let mut seen = Vec::new();
    let mut after = String::new();
    for _ in 0..5 {
        let (_, calls, body) = history(&s, &admin, &format!("limit=2{after}")).await;
        seen.extend(calls.into_iter().map(|(u, _)| u));
        match body["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["c5", "c4", "c3", "c2", "c1"],
        "every call once, in order"
    );

    // Exports need the permission: admins by role, others when granted.
    let export = |token: String, query: &'static str| {
        let addr = s.addr;
        async move {
            get_bytes(
                addr,
                &format!("/api/history/export?{query}"),
                Some(&token),
                "",
            )
            .await
        }
    };
    assert_eq!(export(agent1.clone(), "format=csv").await.0, 403);
    s.store
        .users()
        .call(|st| {
            st.set_permission("agent1", "calls.export", true, "admin")
                .map(|_| ())
        })
        .await
        .unwrap();
    let (status, head, body) = export(agent1.clone(), "format=csv").await;
    assert_eq!(status, 200, "{head}");
    assert!(head
        .to_lowercase()
        .contains("content-disposition: attachment; filename=\"calls.csv\""));
    let text = String::from_utf8(body).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows[0].starts_with("c5,") && rows[0].contains("139****1111"),
        "{text}"
    );
    assert!(rows[1].starts_with("c1,") && rows[1].contains("13812345678"));
    let (status, _, body) = export(admin.clone(), "format=xlsx&outcome=answered").await;
    assert_eq!(status, 200);
    assert_eq!(&body[..2], b"PK", "an XLSX file");
    assert_eq!(export(qa.clone(), "format=csv").await.0, 403);
    let audit = s
        .store
        .users()
        .call(|st| st.recent_audit(100))
        .await
        .unwrap();
    let exports: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "calls.export")
        .collect();
    assert_eq!(exports.len(), 2, "each export audited once: {exports:?}");
    let by_agent = exports.iter().find(|a| a.actor == "agent1").unwrap();
    assert_eq!(
        (
            by_agent.detail["rows"].as_i64(),
            by_agent.detail["format"].as_str()
        ),
        (Some(2), Some("csv"))
    );
    let by_admin = exports.iter().find(|a| a.actor == "admin").unwrap();
    assert_eq!(by_admin.detail["rows"], 4);
    assert_eq!(by_admin.detail["filters"]["outcome"], "answered");
    assert!(by_admin.remote_addr.is_some());
}

/// Parses the text exposition strictly enough to catch a broken line:
/// every sample is `name{labels} value` of a family declared by `# TYPE`.
fn parse_exposition(text: &str) -> Vec<(String, String, f64)> {
    let mut families = BTreeSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            families.insert(name.to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => {
                assert!(l.ends_with('}'), "{line}");
                (n, l.trim_end_matches('}'))
            }
            None => (series, ""),
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        let family = ["_total", "_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| families.contains(*f)))
            .unwrap_or(name);
        assert!(families.contains(family), "{name} has no # TYPE");
        samples.push((name.to_string(), labels.to_string(), value));
    }
    samples
}

fn sample(samples: &[(String, String, f64)], name: &str, labels: &str) -> f64 {
    samples
        .iter()
        .find(|(n, l, _)| n == name && l == labels)
        .unwrap_or_else(|| panic!("no {name}{{{labels}}} in {samples:?}"))
        .2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_reaches_the_history_the_wallboard_and_the_metrics() {
    let mut s = stack(256).await;
    let lead = login(s.addr, "lead1").await;
    let mut board = wallboard(&s, &lead).await;
    let mut pic = Value::Null;
    let first = picture(&mut board, &mut pic, |_| true).await;
    assert_eq!(
        first["devices"]["box1"]["up"], true,
        "replayed to the late hub: {first}"
    );
    let agent = login(s.addr, "agent1").await;
    let mut desk = ws(s.addr, Some(&agent)).await.unwrap();
    next_of(&mut desk, "hello").await;
    picture(&mut board, &mut pic, |p| {
        p["agents"].as_object().is_some_and(|a| {
            a.values()
                .any(|a| a["username"] == "agent1" && a["state"] == "ready")
        })
    })
    .await;

    ring(&mut s.sim, 1, "13812345678").await;
    let pop = next_of(&mut desk, "call.ringing").await;
    send(
        &mut desk,
        json!({"type": "ack", "data": {"seq": pop["seq"]}}),
    )
    .await;
    let ringing = picture(&mut board, &mut pic, |p| {
        p["ringing"]["box1/1"]["number"].is_string()
    })
    .await;
    assert_eq!(ringing["ringing"]["box1/1"]["line"], "box1/1");
    assert_eq!(ringing["ringing"]["box1/1"]["number"], "13812345678");
    s.sim.act(&Action::Answer { port: 1 }).await.unwrap();
    picture(&mut board, &mut pic, |p| {
        p["lines"]["box1/1"]["state"] == "talking"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    let after = picture(&mut board, &mut pic, |p| p["today"]["answered"] == 1).await;
    assert_eq!(after["lines"]["box1/1"]["state"], "idle");
    assert_eq!(after["today"]["offered"], 1);
    s.store.drain().await.unwrap();

    // The history has it, with its agent and the team the line belongs to.
    let (status, calls, body) = history(&s, &lead, "").await;
    assert_eq!((status, calls.len()), (200, 1), "{body}");
    let c = &body["calls"][0];
    assert_eq!(
        (
            c["agent"].as_str(),
            c["team"].as_str(),
            c["outcome"].as_str()
        ),
        (Some("agent1"), Some("sales"), Some("answered"))
    );
    assert!(c["ended_at"].as_i64() >= c["answered_at"].as_i64());

    // The metrics count it.
    let (status, head, body) = get_bytes(s.addr, "/metrics", None, "").await;
    assert_eq!(status, 200);
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let text = String::from_utf8(body).unwrap();
    let samples = parse_exposition(&text);
    // Prometheus itself asks for OpenMetrics, and gets the same samples.
    let (_, head, body) = get_bytes(
        s.addr,
        "/metrics",
        None,
        "Accept: application/openmetrics-text; version=1.0.0\r\n",
    )
    .await;
    assert!(head.contains("application/openmetrics-text"), "{head}");
    let openmetrics = String::from_utf8(body).unwrap();
    assert!(openmetrics.ends_with("# EOF\n"));
    // (The call's recording may finish between the two scrapes.)
    let settled = |v: Vec<(String, String, f64)>| -> Vec<_> {
        v.into_iter()
            .filter(|(n, _, _)| n != "callpop_recordings")
            .collect()
    };
    assert_eq!(
        settled(parse_exposition(&openmetrics)),
        settled(samples.clone())
    );
    assert_eq!(
        sample(&samples, "callpop_device_up", "device=\"box1\""),
        1.0
    );
    assert_eq!(
        sample(&samples, "callpop_calls_total", "outcome=\"answered\""),
        1.0
    );
    assert_eq!(sample(&samples, "callpop_pops_delivered_total", ""), 1.0);
    assert_eq!(
        sample(&samples, "callpop_pop_latency_seconds_count", ""),
        1.0
    );
    assert_eq!(
        sample(
            &samples,
            "callpop_pop_latency_seconds_bucket",
            "le=\"+Inf\""
        ),
        1.0
    );
    assert_eq!(
        sample(&samples, "callpop_websocket_sessions", "kind=\"desktop\""),
        1.0
    );
    assert_eq!(
        sample(&samples, "callpop_websocket_sessions", "kind=\"wallboard\""),
        1.0
    );
    // promtool reads the same text (installed by ./run test).
    if let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics:\n{}{}\n{text}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("promtool is not installed; the exposition was checked by the parser only");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statistics_page_and_the_wallboard_in_the_browser() {
    let mut s = stack(256).await;
    seed_history(&s).await;
    // Agents are shown by display name.
    let admin = login(s.addr, "admin").await;
    let renamed = json!({"display_name": "张伟", "role": "agent", "team": "sales", "disabled": false, "permissions": []});
    let (code, _, _) = http(
        s.addr,
        "PUT",
        "/api/users/agent1",
        Some(&admin),
        Some(renamed),
    )
    .await;
    assert_eq!(code, 200);
    // From yesterday: the seeded calls are under an hour old, even just after midnight.
    let today = chrono::Local::now().date_naive();
    let from = today - chrono::Days::new(1);
    let mut b = Browser::start().await;
    let url = format!(
        "http://{}/reports?group=agents&period=day&from={from}&to={today}",
        s.addr
    );
    b.goto(&url).await;
    b.wait_for("document.getElementById('login')").await;
    b.eval("localStorage.setItem('lang', 'en'); true").await;
    b.goto(&url).await;
    b.wait_for("document.documentElement.lang === 'en' && document.getElementById('login')")
        .await;
    b.log_in("lead1").await;
    b.wait_for(
        "location.pathname === '/reports' && document.querySelector('[data-test=rows] tr.total')",
    )
    .await;
    // lead1 sees the sales agents only: agent1 answered c1 and c5, agent2 c2.
    let total = |key: &str, col: &str| {
        format!("([...document.querySelectorAll('[data-test=rows] tr.total')].find(r => r.querySelector('[data-key={key}]'))?.querySelector('[data-col={col}]')?.textContent ?? null)")
    };
    assert_eq!(b.eval(&total("agent1", "answered")).await, "2");
    assert_eq!(b.eval(&total("agent2", "answered")).await, "1");
    assert_eq!(
        b.eval(&total("agent3", "answered")).await,
        Value::Null,
        "another team's agent"
    );
    assert_eq!(
        b.eval("document.querySelector('[data-test=rows] tr.total [data-key=agent1]').textContent")
            .await,
        "张伟"
    );
    // Both charts drawn, their legends and the totals' axis in the page's words.
    b.wait_for("document.querySelectorAll('[data-test=chart-volume] svg path').length > 0 && document.querySelectorAll('[data-test=chart-totals] svg path').length > 0")
        .await;
    let chart_text = |which: &str| {
        format!("[...document.querySelectorAll('[data-test=chart-{which}] svg text')].map(t => t.textContent).join('|')")
    };
    let totals = b.eval(&chart_text("totals")).await;
    for word in ["Answered", "Missed", "张伟"] {
        assert!(
            totals.as_str().unwrap().contains(word),
            "{word} in {totals}"
        );
    }
    assert!(b
        .eval("document.querySelector('[data-test=formulas]').textContent")
        .await
        .as_str()
        .unwrap()
        .contains("ASA"));
    // The whole center per hour, chosen in the form; the address keeps it.
    b.pick("[data-test=group]", "Whole center").await;
    b.pick("[data-test=period]", "Hour").await;
    b.click("[data-test=show]").await;
    b.wait_for(&format!(
        "location.search.includes('group=calls') && {} === '5'",
        total("all", "offered")
    ))
    .await;
    // Switched to Chinese, the legends follow without a reload.
    b.click(".lang-switch").await;
    b.wait_for(&format!("{}.includes('接通')", chart_text("volume")))
        .await;

    // The wallboard, opened from the navigation: live counters and lines.
    b.click("[data-page=wallboard]").await;
    b.wait_for("Number(document.querySelector('.wallboard')?.dataset.updates) >= 1")
        .await;
    let offered = b
        .eval("Number(document.querySelector('[data-counter=offered] b').textContent)")
        .await
        .as_i64()
        .unwrap();
    ring(&mut s.sim, 2, "13700002222").await;
    b.wait_for("document.querySelector('[data-test=ringing]').innerText.includes('box1/2') && document.querySelector('[data-test=ringing]').innerText.includes('137 0000 2222')")
        .await;
    assert!(b
        .eval("document.querySelector('[data-test=lines]').innerText")
        .await
        .as_str()
        .unwrap()
        .contains("振铃"));
    s.sim.act(&Action::Hangup { port: 2 }).await.unwrap();
    b.wait_for(&format!(
        "document.querySelector('[data-counter=offered] b').textContent === '{}'",
        offered + 1
    ))
    .await;
    assert!(b
        .eval("document.querySelector('[data-test=devices]').innerText")
        .await
        .as_str()
        .unwrap()
        .contains("box1"));
    // No login form once logged in, and the language holds after a reload.
    assert_eq!(
        b.eval("document.getElementById('login')").await,
        Value::Null
    );
    b.eval("window.beforeReload = true; location.reload(); true")
        .await;
    b.wait_for("!window.beforeReload && Number(document.querySelector('.wallboard')?.dataset.updates) >= 1")
        .await;
    assert_eq!(b.eval("document.documentElement.lang").await, "zh-CN");
    assert_eq!(
        b.eval("document.querySelector('[data-page=wallboard]').innerText")
            .await,
        "监控大屏"
    );
    b.assert_no_console_errors();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_ranges_are_checked_without_overflow() {
    let s = stack(64).await;
    let lead = login(s.addr, "lead1").await;
    let day = 86_400_000i64;
    let from = 1_767_225_600_000i64; // 2026-01-01
    let get = |from: i64, to: i64| {
        let lead = lead.clone();
        async move {
            http(
                s.addr,
                "GET",
                &format!("/api/reports/calls?from={from}&to={to}&period=day"),
                Some(&lead),
                None,
            )
            .await
        }
    };
    assert_eq!(get(from, from + day).await.0, 200);
    // Each refusal comes with a code and what the page words it with.
    let outside = json!({"first_year": 2000, "last_year": 2100});
    for (from, to, code, params) in [
        (i64::MIN, i64::MAX, "range_outside", outside.clone()),
        (i64::MIN, from, "range_outside", outside.clone()),
        (from, i64::MAX, "range_outside", outside.clone()),
        (-1, from, "range_outside", outside.clone()),
        (
            from,
            from + 401 * day,
            "range_too_long",
            json!({"max_days": 400}),
        ),
        (from + day, from, "range_backwards", json!({})),
    ] {
        let (status, _, body) = get(from, to).await;
        assert_eq!(
            (
                status,
                body["error"]["code"].as_str(),
                &body["error"]["params"]
            ),
            (400, Some(code), &params),
            "{from}..{to}: {body}"
        );
    }
}
