//! The web app in a real browser (headless Chromium over the DevTools
//! protocol), driven as agents and supervisors use it: log in, take calls,
//! type while the phone rings, lose the connection, reload, switch the
//! language; and each role's navigation against what the server allows.

mod common;

use callpop::sim::script::Action;
use common::browser::Browser;
use common::*;
use serde_json::json;

/// The card of the `n`th call on screen (1-based), as a CSS selector.
fn card(n: usize) -> String {
    format!(".cards .pop:nth-of-type({n})")
}

/// The work orders saved from the `n`th card, once its save shows.
async fn saved_orders_of_card(
    b: &mut Browser,
    s: &Stack,
    n: usize,
) -> Vec<callpop::store::WorkOrderRow> {
    b.wait_for(&format!(
        "document.querySelector('{} [data-test=saved]')?.innerText.length > 0",
        card(n)
    ))
    .await;
    let call_id = b
        .eval(&format!(
            "document.querySelector('{}').dataset.call",
            card(n)
        ))
        .await;
    work_orders_of(s, call_id.as_str().unwrap()).await
}

/// Logs `user` in on the app's login page and waits for the page after it.
async fn open_app(b: &mut Browser, s: &Stack, user: &str, landing: &str) {
    b.goto(&format!("http://{}/", s.addr)).await;
    b.wait_for("document.getElementById('login')").await;
    b.log_in(user).await;
    b.wait_for(&format!("location.pathname === '{landing}'"))
        .await;
}

async fn wait_connected_and(b: &mut Browser, state: &str) {
    b.wait_for("document.querySelector('[data-test=conn]')?.dataset.conn === 'connected'")
        .await;
    b.wait_for(&format!(
        "document.querySelector('[data-test=state]')?.dataset.state === '{state}'"
    ))
    .await;
}

/// The pages in the navigation, in order.
async fn nav(b: &mut Browser) -> serde_json::Value {
    b.wait_for("document.querySelector('[data-test=nav] [data-page]')")
        .await;
    b.eval("[...document.querySelectorAll('[data-test=nav] [data-page]')].map(e => e.dataset.page)")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_takes_calls_and_saves_work_orders() {
    let mut s = stack(256).await;
    let mut b = Browser::start().await;
    open_app(&mut b, &s, "agent1", "/workspace").await;
    wait_connected_and(&mut b, "ready").await;
    assert_eq!(b.text("[data-test=state]").await, "就绪");
    assert_eq!(
        nav(&mut b).await,
        json!(["workspace", "customers", "workorders", "history"])
    );
    assert_eq!(
        b.eval("document.getElementById('login')").await,
        serde_json::Value::Null,
        "no login form once logged in"
    );

    // A company switchboard: two customers match, the agent picks one.
    ring(&mut s.sim, 1, "02161234567").await;
    b.wait_for("document.querySelectorAll('.pop .choose').length === 2")
        .await;
    assert_eq!(
        b.text(&format!("{} .number", card(1))).await,
        "021 6123 4567"
    );
    assert_eq!(
        b.eval(&format!(
            "document.querySelector('{} .number .phone').title",
            card(1)
        ))
        .await,
        "02161234567",
        "the raw number on hover"
    );
    let chosen = b
        .eval("const c = document.querySelectorAll('.pop .choose')[1]; c.click(); Number(c.dataset.id)")
        .await;
    b.wait_for("document.querySelector('.pop .customer')?.innerText.includes('周杰')")
        .await;
    assert_eq!(
        b.eval("document.querySelector('.pop input[name=contact]').value")
            .await,
        "周杰 (华信总机)",
        "prefilled from the chosen customer"
    );
    // Saving without a summary shows the field's error in place.
    b.click(".pop .save").await;
    b.wait_for("document.querySelector('.pop [data-field=summary] .el-form-item__error')?.innerText.includes('问题描述必填')").await;
    b.fill(".pop textarea[name=summary]", "打印机卡纸").await;
    b.click(".pop .save").await;
    let orders = saved_orders_of_card(&mut b, &s, 1).await;
    assert!(b.text(".pop [data-test=saved]").await.contains("已保存"));
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].customer_id, chosen.as_i64());
    assert_eq!(orders[0].fields["summary"], "打印机卡纸");
    assert_eq!(
        orders[0].fields["category"], "inquiry",
        "the form's default"
    );
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    b.wait_for(&format!(
        "document.querySelector('{} [data-test=status]').innerText === '已结束：放弃'",
        card(1)
    ))
    .await;

    // A team line: taking the call does not claim it was answered; it
    // ended unanswered, and the card says so.
    ring(&mut s.sim, 2, "13812345678").await;
    b.wait_for(&format!("document.querySelector('{} .take')", card(2)))
        .await;
    b.click(&format!("{} .take", card(2))).await;
    assert_eq!(
        b.text(&format!("{} [data-test=status]", card(2))).await,
        "振铃中"
    );
    s.sim.act(&Action::Hangup { port: 2 }).await.unwrap();
    b.wait_for(&format!(
        "document.querySelector('{} [data-test=status]').innerText === '已结束：放弃'",
        card(2)
    ))
    .await;
    // The call-back queue names the customer; its item is closed with a
    // reason.
    b.wait_for("document.querySelector('[data-test=followups]').innerText.includes('王伟')")
        .await;
    b.eval(
        "[...document.querySelectorAll('[data-test=followups] .item')] \
         .find((e) => e.innerText.includes('王伟')) \
         .querySelector('[data-test=close-followup]').click()",
    )
    .await;
    b.wait_for("document.querySelector('[data-test=confirm-close]')")
        .await;
    b.click("[data-test=confirm-close]").await;
    b.wait_for(
        "document.querySelector('[data-test=followups]').innerText.includes('已完成：已通过其他方式解决')",
    )
    .await;
    // Saved and dismissed cards close.
    b.click(&format!("{} .close", card(1))).await;
    b.wait_for("document.querySelectorAll('.cards .pop').length === 1")
        .await;
    b.assert_no_console_errors();
}

/// What is in the first card's summary and company fields.
async fn typed(b: &mut Browser, summary: &str) -> (serde_json::Value, serde_json::Value) {
    // The form paints a frame after its card (after a reload, too).
    b.wait_for(&format!("document.querySelector('{summary}')"))
        .await;
    let s = b
        .eval(&format!("document.querySelector('{summary}').value"))
        .await;
    let c = b
        .eval(&format!(
            "document.querySelector('{} input[name=company]').value",
            card(1)
        ))
        .await;
    (s, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_agent_types_survives_every_call_event_more_pops_a_drop_and_a_reload() {
    let mut s = stack(256).await;
    let admin = login(s.addr, "admin").await;
    for line in ["box1/3", "box1/4"] {
        let (code, _, _) = http(
            s.addr,
            "PUT",
            &format!("/api/bindings?line={line}"),
            Some(&admin),
            Some(json!({"agent": "agent1"})),
        )
        .await;
        assert_eq!(code, 200);
    }
    let mut b = Browser::start().await;
    open_app(&mut b, &s, "agent1", "/workspace").await;
    wait_connected_and(&mut b, "ready").await;

    // An unknown caller; the agent types while the phone still rings.
    ring(&mut s.sim, 1, "13700001234").await;
    b.wait_for(&format!(
        "document.querySelector('{} form.new-customer')",
        card(1)
    ))
    .await;
    b.fill(&format!("{} input[name=company]", card(1)), "未保存的公司")
        .await;
    b.fill(&format!("{} input[name=contact]", card(1)), "李先生")
        .await;
    let summary = format!("{} textarea[name=summary]", card(1));
    b.fill(&summary, "客户说打印机卡纸，").await;
    let place = format!(
        "(() => {{ const r = document.querySelector('{}').getBoundingClientRect(); return [Math.round(r.top), Math.round(r.left)]; }})()",
        card(1)
    );
    let before = b.eval(&place).await;

    // Two more pops while typing: three cards; the first does not move
    // and keeps the cursor.
    ring(&mut s.sim, 3, "13812345678").await;
    ring(&mut s.sim, 4, "13900001111").await;
    b.wait_for("document.querySelectorAll('.cards .pop').length === 3")
        .await;
    assert_eq!(
        b.eval(&place).await,
        before,
        "the card being typed in stays put"
    );
    assert_eq!(
        b.eval(&format!(
            "document.activeElement === document.querySelector('{summary}')"
        ))
        .await,
        true,
        "the cursor stays in the field"
    );
    // Typing goes on where it was.
    b.call("Input.insertText", json!({"text": "需要上门"}))
        .await;

    let expected = (json!("客户说打印机卡纸，需要上门"), json!("未保存的公司"));
    assert_eq!(typed(&mut b, &summary).await, expected);

    // Answered.
    s.sim.act(&Action::Answer { port: 1 }).await.unwrap();
    b.wait_for(&format!(
        "document.querySelector('{} [data-test=status]').innerText === '已接通'",
        card(1)
    ))
    .await;
    assert_eq!(typed(&mut b, &summary).await, expected, "after the answer");

    // The connection drops and comes back (a resume).
    b.eval("window.callpopDesk.connection.drop(); true").await;
    b.wait_for("document.querySelector('[data-test=conn]').dataset.conn !== 'connected'")
        .await;
    wait_connected_and(&mut b, "on_call").await;
    assert_eq!(typed(&mut b, &summary).await, expected, "after a drop");
    assert_eq!(
        b.eval("document.querySelectorAll('.cards .pop').length")
            .await,
        3
    );

    // Hung up.
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    b.wait_for(&format!(
        "document.querySelector('{} [data-test=status]').innerText === '已结束：已接听'",
        card(1)
    ))
    .await;
    assert_eq!(typed(&mut b, &summary).await, expected, "after the hang-up");

    // A reload mid-form: the cards come back with what was typed.
    b.call("Page.reload", json!({})).await;
    b.wait_for("document.querySelectorAll('.cards .pop').length === 3")
        .await;
    assert_eq!(typed(&mut b, &summary).await, expected, "after a reload");
    assert!(b.text(&card(1)).await.contains("已从上次未保存的草稿恢复"));

    // Now it is saved: the customer first, then the work order.
    b.fill(&format!("{} input[name=name]", card(1)), "新客户甲")
        .await;
    b.click(&format!("{} .create", card(1))).await;
    b.wait_for(&format!(
        "document.querySelector('{} .customer')?.innerText.includes('新客户甲')",
        card(1)
    ))
    .await;
    assert_eq!(
        b.eval(&format!("document.querySelector('{summary}').value"))
            .await,
        expected.0,
        "the work order's typing survives the customer's creation"
    );
    b.click(&format!("{} .save", card(1))).await;
    let orders = saved_orders_of_card(&mut b, &s, 1).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].fields["summary"], "客户说打印机卡纸，需要上门");
    assert_eq!(orders[0].fields["company"], "未保存的公司");
    let id = orders[0].customer_id.unwrap();
    let customer = s
        .store
        .customers()
        .call(move |st| st.customer(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (customer.name.as_str(), customer.company.as_str()),
        ("新客户甲", "未保存的公司")
    );
    b.assert_no_console_errors();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pop_alerts_a_hidden_tab_and_the_language_holds_on_every_page() {
    let mut s = stack(256).await;
    let mut b = Browser::start().await;
    open_app(&mut b, &s, "agent1", "/workspace").await;
    wait_connected_and(&mut b, "ready").await;

    // The tab is hidden (another window in front); notifications allowed.
    b.eval(
        "window.shown = [];
         Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
         window.Notification = class { static permission = 'granted'; constructor(title, o) { window.shown.push([title, o.body]); } close() {} };
         true",
    )
    .await;
    ring(&mut s.sim, 1, "13812345678").await;
    b.wait_for("window.shown.length === 1").await;
    assert_eq!(
        b.eval("window.shown[0]").await,
        json!(["来电：138 1234 5678", "线路 box1/1 · 王伟"])
    );
    b.wait_for("document.title.includes('【来电】138 1234 5678')")
        .await;
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();

    // English, switched on the workspace, holds on the other pages and
    // after a reload.
    b.click(".lang-switch").await;
    b.wait_for("document.querySelector('[data-test=state]').innerText === 'Ready'")
        .await;
    assert_eq!(b.text("[data-page=history]").await, "Call history");
    b.goto(&format!("http://{}/history", s.addr)).await;
    b.wait_for("document.documentElement.lang === 'en'").await;
    b.goto(&format!("http://{}/workspace", s.addr)).await;
    b.wait_for("document.querySelector('[data-test=state]')?.innerText === 'Ready'")
        .await;
    b.click(".lang-switch").await;
    b.wait_for("document.querySelector('[data-test=state]').innerText === '就绪'")
        .await;
    b.assert_no_console_errors();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_sees_exactly_the_pages_it_may_open_and_the_server_refuses_the_rest() {
    let s = stack(256).await;
    add_user(&s, "qa1", callpop::store::Role::Qa).await;
    add_user(&s, "mk1", callpop::store::Role::Marketer).await;
    for (user, pages) in [
        (
            "agent1",
            json!(["workspace", "customers", "workorders", "history"]),
        ),
        (
            "lead1",
            json!([
                "workspace",
                "customers",
                "workorders",
                "history",
                "recordings",
                "reports",
                "wallboard"
            ]),
        ),
        (
            "qa1",
            json!(["customers", "workorders", "history", "recordings"]),
        ),
        ("mk1", json!(["sms"])),
        (
            "admin",
            json!([
                "workspace",
                "customers",
                "workorders",
                "history",
                "recordings",
                "reports",
                "wallboard",
                "sms",
                "admin"
            ]),
        ),
    ] {
        let token = login(s.addr, user).await;
        let (_, _, me) = http(s.addr, "GET", "/api/me", Some(&token), None).await;
        assert_eq!(me["pages"], pages, "{user}");
        let workspace = status(s.addr, "GET", "/workspace", Some(&token), None).await;
        let may = pages.as_array().unwrap().contains(&json!("workspace"));
        assert_eq!(workspace, if may { 200 } else { 403 }, "{user} /workspace");
    }
    let mut b = Browser::start().await;
    open_app(&mut b, &s, "mk1", "/sms").await;
    b.goto(&format!("http://{}/workspace", s.addr)).await;
    b.wait_for("document.querySelector('[data-test=forbidden]')")
        .await;
    assert_eq!(nav(&mut b).await, json!(["sms"]));
    assert_eq!(
        b.eval("document.getElementById('login')").await,
        serde_json::Value::Null
    );
    b.assert_no_console_errors();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_who_never_saves_is_ready_again_after_the_maximum() {
    let mut s = stack_with(tempfile::tempdir().unwrap(), 256, |c| {
        c.after_call_secs = 30;
        c.after_call_max_secs = 4;
    })
    .await;
    let mut b = Browser::start().await;
    open_app(&mut b, &s, "agent1", "/workspace").await;
    wait_connected_and(&mut b, "ready").await;
    ring(&mut s.sim, 1, "13812345678").await;
    s.sim.act(&Action::Answer { port: 1 }).await.unwrap();
    wait_connected_and(&mut b, "on_call").await;
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    wait_connected_and(&mut b, "after_call_work").await;
    // Its countdown is shown.
    b.wait_for("/^剩余 0:0[0-4]$/.test(document.querySelector('[data-test=timing]').innerText)")
        .await;
    // Never saved: ready again at the maximum.
    wait_connected_and(&mut b, "ready").await;
    b.assert_no_console_errors();
}
