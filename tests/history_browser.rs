//! The call history in the web app, as a team lead uses it: the team's
//! calls in one national number format, the work orders of a call opened
//! in place with their form's labels, filters kept in the address through
//! a reload, and the page in both languages.

mod common;

use callpop::sim::script::Action;
use common::browser::Browser;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_lead_searches_the_history_and_opens_a_call_s_work_orders() {
    let mut s = stack(256).await;
    // agent1 takes a call and saves a work order for it.
    let agent = login(s.addr, "agent1").await;
    let mut desk = ws(s.addr, Some(&agent)).await.unwrap();
    next_of(&mut desk, "hello").await;
    ring(&mut s.sim, 1, "13812345678").await;
    let pop = next_of(&mut desk, "call.ringing").await;
    s.sim.act(&Action::Answer { port: 1 }).await.unwrap();
    send(
        &mut desk,
        json!({"type": "workorder.save", "id": "wo", "data": {
            "call_id": pop["data"]["call_id"], "customer_id": pop["data"]["customers"][0]["id"],
            "fields": {"category": "complaint", "contact": "王伟", "summary": "屏幕坏了"}}}),
    )
    .await;
    next_of(&mut desk, "result").await;
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    next_of(&mut desk, "call.ended").await;
    // And one unknown caller rang the team line unanswered.
    ring(&mut s.sim, 2, "02165432100").await;
    s.sim.act(&Action::Hangup { port: 2 }).await.unwrap();
    next_of(&mut desk, "call.ended").await;

    let mut b = Browser::start().await;
    b.goto(&format!("http://{}/history", s.addr)).await;
    b.wait_for("document.getElementById('login')").await;
    b.log_in("lead1").await;
    b.wait_for("location.pathname === '/history' && document.querySelectorAll('[data-test=rows] tbody tr').length === 2")
        .await;
    let text = b.text("[data-test=rows]").await;
    for shown in [
        "138 1234 5678",
        "021 6543 2100",
        "王伟",
        "已接听",
        "放弃",
        "工单 1 张",
        "呼入",
    ] {
        assert!(text.contains(shown), "{shown:?} in {text}");
    }
    assert_eq!(
        b.eval("document.querySelector('[data-test=export-csv]')")
            .await,
        serde_json::Value::Null,
        "exports are a permission the team lead lacks"
    );
    // The call's work order opens in place, with the form's labels.
    b.click("[data-test=rows] .orders").await;
    // The values come with the order, the labels with its form: both.
    b.wait_for(
        "document.querySelector('[data-test=work-orders]')?.innerText.includes('屏幕坏了') && \
         document.querySelector('[data-test=work-orders]')?.innerText.includes('问题描述')",
    )
    .await;
    let drawer = b.text("[data-test=work-orders]").await;
    assert!(
        drawer.contains("问题描述") && drawer.contains("投诉"),
        "{drawer}"
    );

    b.eval("document.querySelector('.el-drawer__close-btn').click(); true")
        .await;

    // Every recording the history links to opens and plays for the lead.
    let links = b
        .eval("document.querySelectorAll('[data-test=rows] .recording').length")
        .await
        .as_u64()
        .unwrap();
    assert!(links >= 1, "the answered call was recorded");
    for i in 0..links {
        b.eval(&format!(
            "document.querySelectorAll('[data-test=rows] .recording')[{i}].click(); true"
        ))
        .await;
        b.wait_for("document.querySelector('[data-test=player]')?.readyState >= 1 && document.querySelector('[data-test=player]').duration > 0")
            .await;
        assert_eq!(
            b.eval("document.querySelector('[data-test=recording-error]')")
                .await,
            serde_json::Value::Null
        );
        b.eval(
            "[...document.querySelectorAll('.el-drawer__close-btn')].forEach(c => c.click()); true",
        )
        .await;
        b.wait_for("!document.querySelector('[data-test=player]')")
            .await;
    }

    // A number as people type it; the filter survives a reload.
    b.fill("[data-test=filters] input[name=number]", "021-6543-2100")
        .await;
    b.click("[data-test=search]").await;
    b.wait_for("document.querySelectorAll('[data-test=rows] tbody tr').length === 1")
        .await;
    b.call("Page.reload", json!({})).await;
    b.wait_for("document.querySelectorAll('[data-test=rows] tbody tr').length === 1 && document.querySelector('[data-test=filters] input[name=number]').value === '021-6543-2100'")
        .await;

    // English.
    b.click(".lang-switch").await;
    b.wait_for("document.querySelector('[data-test=rows]').innerText.includes('Abandoned')")
        .await;
    b.assert_no_console_errors();
}
