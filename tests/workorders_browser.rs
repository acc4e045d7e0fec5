//! Work orders in a real browser, as the people who handle them: a team
//! lead escalates an agent's order to the second-line team's queue with a
//! note; an agent of that team sees it, takes it and resolves it; the
//! next pop for that customer no longer lists it. Both languages, the
//! printable view, no console errors.

mod common;

use callpop::store::Role;
use common::browser::Browser;
use common::*;
use serde_json::{json, Map};

/// The list shows the order `number` (the first page of the list as it is).
fn listed(number: &str) -> String {
    format!("[...document.querySelectorAll('[data-test=work-orders] .number')].some(n => n.innerText === '{number}')")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalated_order_is_taken_resolved_and_leaves_the_pop() {
    let mut s = stack(64).await;
    let hash = callpop::auth::hash_password(PASSWORD).unwrap();
    let agent1 = s
        .store
        .users()
        .call(move |u| {
            u.add_user("s1", "李二线", Role::Agent, Some("support"), Some(&hash))?;
            Ok(u.user_by_name("agent1")?.unwrap().id)
        })
        .await
        .unwrap();
    let wang = customer_id(&s, "王伟").await;
    let mut fields = Map::new();
    fields.insert("category".into(), json!("after_sales"));
    fields.insert("contact".into(), json!("王伟"));
    fields.insert("summary".into(), json!("打印机卡纸，需要上门"));
    let saved = s
        .store
        .workorders()
        .call(move |w| w.save_work_order("service", Some(wang), None, agent1, "k1", &fields))
        .await
        .unwrap();
    let number = saved.number.clone();

    // lead1 escalates it to support's queue with a note.
    let mut b = Browser::start().await;
    b.open_as(s.addr, "lead1").await;
    b.goto(&format!("http://{}/workorders", s.addr)).await;
    b.wait_for(&listed(&number)).await;
    b.click("[data-test=work-orders] .number").await;
    b.wait_for("document.querySelector('[data-test=order-status]')?.innerText === '新建'")
        .await;
    b.click("[data-test=assign-to] label:nth-child(2)").await;
    b.pick("[data-test=assign-team]", "support").await;
    b.fill("input[name=assign-note]", "需要二线上门处理").await;
    b.click("[data-test=assign]").await;
    b.wait_for(
        "document.querySelector('[data-test=order-assignee]')?.innerText.includes('support')",
    )
    .await;
    b.wait_for(
        "document.querySelector('[data-test=timeline]')?.innerText.includes('需要二线上门处理')",
    )
    .await;
    // The printable view (补打工单) shows the order and its timeline.
    b.goto(&format!("http://{}/workorders/{}/print", s.addr, saved.id))
        .await;
    b.wait_for(&format!(
        "document.querySelector('[data-test=print-sheet]')?.innerText.includes('{number}')"
    ))
    .await;
    assert!(b
        .text("[data-test=print-sheet]")
        .await
        .contains("打印机卡纸，需要上门"));
    if let Some(dir) = std::env::var_os("CALLPOP_SHOTS") {
        b.resize(1280, 720).await;
        b.screenshot(&std::path::Path::new(&dir).join("workorder-print-1280.png"))
            .await;
    }
    b.assert_no_console_errors();
    drop(b);

    // s1, in support, finds it in the team's queue, takes it and resolves it.
    let mut b = Browser::start().await;
    b.open_as(s.addr, "s1").await;
    b.wait_for("location.pathname === '/workspace'").await;
    b.goto(&format!("http://{}/workorders", s.addr)).await;
    b.wait_for(&listed(&number)).await;
    b.wait_for("document.querySelector('[data-test=reminders]')?.innerText.includes('1')")
        .await;
    b.click("[data-test=work-orders] .number").await;
    b.wait_for("document.querySelector('[data-test=take]')")
        .await;
    b.click("[data-test=take]").await;
    b.wait_for(
        "document.querySelector('[data-test=order-assignee]')?.innerText.includes('李二线')",
    )
    .await;
    b.fill("input[name=status-note]", "已上门更换搓纸轮").await;
    b.click("[data-test=move-resolved]").await;
    b.wait_for("document.querySelector('[data-test=order-status]')?.innerText === '已解决'")
        .await;
    // The list shows the change at once; the timeline tells the story.
    b.wait_for("document.querySelector('[data-test=work-orders] .status')?.innerText === '已解决'")
        .await;
    let timeline = b.text("[data-test=timeline]").await;
    for words in ["需要二线上门处理", "新建 → 已解决", "已上门更换搓纸轮"] {
        assert!(timeline.contains(words), "{words} in {timeline}");
    }
    // Reopening is offered (重开), and the page reads in English too.
    b.wait_for(
        "document.querySelector('[data-test=move-in_progress]')?.innerText.includes('重开')",
    )
    .await;
    b.click(".lang-switch").await;
    b.wait_for("document.querySelector('[data-test=order-status]')?.innerText === 'Resolved'")
        .await;
    if let Some(dir) = std::env::var_os("CALLPOP_SHOTS") {
        for (w, h) in [(1440, 900), (1280, 720)] {
            b.resize(w, h).await;
            b.screenshot(&std::path::Path::new(&dir).join(format!("workorders-{w}.png")))
                .await;
        }
    }
    // Finished, it is out of the open list the next time it is read.
    b.eval("history.back(); true").await;
    b.wait_for("!location.search.includes('id=')").await;
    b.click("[data-test=find]").await;
    b.wait_for(&format!(
        "document.querySelector('[data-test=work-orders]') && !{}",
        listed(&number)
    ))
    .await;
    b.assert_no_console_errors();
    drop(b);

    // The next pop for 王伟 on agent1's desk lists no open order.
    let mut b = Browser::start().await;
    b.open_as(s.addr, "agent1").await;
    b.wait_for("location.pathname === '/workspace'").await;
    b.wait_for(common::browser::PAGE_READY).await;
    ring(&mut s.sim, 1, "13812345678").await;
    b.wait_for("document.querySelector('.cards .pop .customer')?.innerText.includes('王伟')")
        .await;
    let pop = b.text(".cards .pop").await;
    assert!(
        !pop.contains(&number),
        "the resolved order is still on the pop: {pop}"
    );
    b.assert_no_console_errors();
}

/// 工单质检: QA adds an item to the work-order scoring form in the app,
/// then scores an agent's work order on it (below the pass mark); the
/// agent reads the score on their order and appeals it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qa_edits_the_scoring_form_and_scores_a_work_order() {
    let s = stack(64).await;
    add_user(&s, "qa1", Role::Qa).await;
    let agent1 = user_id(&s, "agent1").await;
    let saved = s
        .store
        .workorders()
        .call(move |w| {
            let mut fields = Map::new();
            fields.insert("summary".into(), json!("发票抬头错误"));
            w.save_work_order("service", None, None, agent1, "k1", &fields)
        })
        .await
        .unwrap();

    let mut b = Browser::start().await;
    b.open_as(s.addr, "qa1").await;
    // The scoring forms, from the recordings page: one more item.
    b.goto(&format!("http://{}/recordings", s.addr)).await;
    b.click("[data-test=qa-forms-open]").await;
    b.wait_for("[...document.querySelectorAll('[data-test=qa-forms] .form-title')].some(e => e.innerText === '工单质检')")
        .await;
    b.eval("[...document.querySelectorAll('[data-test=qa-forms] tr')].find(r => r.innerText.includes('工单质检')).querySelector('.edit-form').click(); true")
        .await;
    b.wait_for("document.querySelector('[data-test=qa-form-editor]')")
        .await;
    b.click("[data-test=add-qa-item]").await;
    b.fill(
        "[data-test=qa-items] tbody tr:last-child .item-label input",
        "服务态度",
    )
    .await;
    b.click("[data-test=save-qa-form]").await;
    b.wait_for("document.querySelector('.el-message--success')")
        .await;
    let forms = http(
        s.addr,
        "GET",
        "/api/qa-forms",
        Some(&login(s.addr, "admin").await),
        None,
    )
    .await
    .2;
    let form = forms["forms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "work_order")
        .unwrap()
        .clone();
    assert_eq!(form["items"].as_array().unwrap().len(), 6, "{form}");
    assert_eq!(form["items"][5]["label"], "服务态度");

    // The order: QA scores it, two items low.
    b.goto(&format!(
        "http://{}/workorders?stage=all&id={}",
        s.addr, saved.id
    ))
    .await;
    b.wait_for("document.querySelector('[data-test=qa-form] input[name=complete]')")
        .await;
    b.fill("[data-test=qa-form] input[name=complete]", "5")
        .await;
    b.fill("[data-test=qa-form] input[name=resolved]", "5")
        .await;
    b.fill(
        "[data-test=qa-form] textarea[name=comment]",
        "记录不完整，未核实发票信息",
    )
    .await;
    b.click("[data-test=save-score]").await;
    b.wait_for("document.querySelector('[data-test=score]')?.innerText.includes('不合格')")
        .await;
    let score = b.text("[data-test=score]").await;
    assert!(score.contains("记录不完整"), "{score}");
    b.assert_no_console_errors();
    if let Some(dir) = std::env::var_os("CALLPOP_SHOTS") {
        b.resize(1440, 900).await;
        b.screenshot(&std::path::Path::new(&dir).join("workorder-qa-1440.png"))
            .await;
    }
    drop(b);

    // agent1 sees the score on their order and appeals it.
    let token = login(s.addr, "agent1").await;
    let (_, _, body) = http(
        s.addr,
        "GET",
        &format!("/api/workorders/{}", saved.id),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(body["scores"][0]["passed"], false, "{body}");
    assert_eq!(body["can_score"], false);
    assert_eq!(body["can_appeal"], true);
    let score_id = body["scores"][0]["id"].as_i64().unwrap();
    let (code, _, body) = http(
        s.addr,
        "POST",
        &format!("/api/workorders/{}/scores/{score_id}/appeal", saved.id),
        Some(&token),
        Some(json!({"note": "发票信息已在备注中核实"})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["scores"][0]["appeal_by"], "agent1");
}
