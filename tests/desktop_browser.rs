//! The agent desktop in a real browser (headless Chromium, driven over the
//! DevTools protocol): log in, get a pop from a simulated call, pick one of
//! several customers, fill and save the work order, and find it in the
//! store; then an unknown caller, added as a new customer from the pop.

mod common;

use callpop::sim::script::Action;
use common::browser::Browser;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_takes_calls_and_saves_work_orders_in_the_browser() {
    let mut s = stack(256).await;
    let mut b = Browser::start().await;
    b.call("Emulation.setLocaleOverride", json!({"locale": "zh-CN"}))
        .await;
    b.call(
        "Page.navigate",
        json!({"url": format!("http://{}/", s.addr)}),
    )
    .await;
    b.wait_for("!document.getElementById('login').hidden").await;
    // Chinese from the browser's language.
    assert_eq!(
        b.eval("document.querySelector('#login h1').textContent")
            .await,
        "坐席登录"
    );
    b.log_in("agent1").await;
    b.wait_for("document.getElementById('conn').textContent === '已连接'")
        .await;
    b.wait_for("document.getElementById('state').textContent === '就绪'")
        .await;

    // A company switchboard: two customers match, the agent picks one.
    ring(&mut s.sim, 1, "02161234567").await;
    b.wait_for("document.querySelectorAll('.pop .choose').length === 2")
        .await;
    let chosen = b
        .eval("const c = document.querySelectorAll('.pop .choose')[1]; c.click(); Number(c.dataset.id)")
        .await;
    b.wait_for("document.querySelector('.pop .customer') && document.querySelector('.pop .customer').textContent.includes('周杰')").await;
    // The form is prefilled from the chosen customer.
    assert_eq!(
        b.eval("document.querySelector('.pop form.workorder [name=contact]').value")
            .await,
        "周杰 (华信总机)"
    );
    // Saving without a summary shows the field's error; then it saves.
    b.eval("document.querySelector('.pop form.workorder').requestSubmit(); true")
        .await;
    b.wait_for("[...document.querySelectorAll('.pop .field .error')].some(e => e.textContent.includes('问题描述必填'))").await;
    b.eval(
        "const f = document.querySelector('.pop form.workorder');
         f.querySelector('[name=summary]').value = '打印机卡纸';
         f.querySelector('[name=category]').value = 'after_sales';
         f.requestSubmit(); true",
    )
    .await;
    b.wait_for(
        "document.querySelector('.pop form.workorder .notice').textContent.includes('工单已保存')",
    )
    .await;
    let call_id = b.eval("document.querySelector('.pop').id.slice(4)").await;
    let orders = work_orders_of(&s, call_id.as_str().unwrap()).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].customer_id, chosen.as_i64());
    assert_eq!(orders[0].fields["summary"], "打印机卡纸");
    assert_eq!(orders[0].fields["category"], "after_sales");
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    b.wait_for("document.querySelector('.pop .notice').textContent.includes('通话结束')")
        .await;

    // The connection drops; the page reconnects and resumes by itself.
    b.eval("desk.ws.close(); true").await;
    b.wait_for("document.getElementById('conn').textContent === '重连中…'")
        .await;
    b.wait_for("document.getElementById('conn').textContent === '已连接'")
        .await;

    // An unknown caller: the pop offers a new-customer form with the number.
    ring(&mut s.sim, 1, "13700001234").await;
    b.wait_for("document.querySelector('.pop form.new-customer')")
        .await;
    assert_eq!(
        b.eval("document.querySelector('.pop form.new-customer [name=phone]').value")
            .await,
        "13700001234"
    );
    // Typing while the call goes on: the answer redraws the pop, and a
    // fresh session after a reconnect storm sends the pop again; what was
    // typed stays, and there is still one pop.
    b.eval(
        "const i = document.querySelector('.pop form.new-customer [name=company]');
         i.value = '未保存的公司'; i.dispatchEvent(new Event('input', { bubbles: true })); true",
    )
    .await;
    b.eval("window.oldSession = desk.sessionId; desk.sessionId = null; desk.ws.close(); true")
        .await;
    b.wait_for("desk.sessionId && desk.sessionId !== window.oldSession && desk.lastSeq >= 3")
        .await;
    assert_eq!(
        b.eval("document.querySelectorAll('.pop form.new-customer').length")
            .await,
        1,
        "the repeated pop is the same pop"
    );
    s.sim.act(&Action::Answer { port: 1 }).await.unwrap();
    b.wait_for("document.querySelector('.pop .notice') && document.querySelector('.pop .notice').textContent.length > 0").await;
    assert_eq!(
        b.eval("document.querySelector('.pop form.new-customer [name=company]').value")
            .await,
        "未保存的公司"
    );
    b.eval(
        "const n = document.querySelector('.pop form.new-customer');
         n.querySelector('[name=name]').value = '新客户甲';
         n.requestSubmit(); true",
    )
    .await;
    b.wait_for("document.querySelector('.pop .customer') && document.querySelector('.pop .customer').textContent.includes('新客户甲')").await;
    b.eval(
        "const f = document.querySelector('.pop form.workorder');
         f.querySelector('[name=summary]').value = '咨询价格';
         f.requestSubmit(); true",
    )
    .await;
    b.wait_for(
        "document.querySelector('.pop form.workorder .notice').textContent.includes('工单已保存')",
    )
    .await;
    let call_id = b.eval("document.querySelector('.pop').id.slice(4)").await;
    let orders = work_orders_of(&s, call_id.as_str().unwrap()).await;
    let id = orders[0].customer_id.unwrap();
    let customer = s
        .store
        .customers()
        .call(move |st| st.customer(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(orders[0].fields["summary"], "咨询价格");
    assert_eq!(customer.name, "新客户甲");
    assert_eq!(customer.owner.as_deref(), Some("agent1"));
    assert_eq!(customer.phones[0].raw, "13700001234");
    assert_eq!(
        customer.company, "未保存的公司",
        "typed before the redraws, saved after"
    );
    // The call ends; with its work order saved the agent is ready again.
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    b.wait_for("document.getElementById('state').textContent === '就绪'")
        .await;

    // English on request.
    b.eval("document.getElementById('lang').click(); true")
        .await;
    assert_eq!(
        b.eval("document.getElementById('state').textContent").await,
        "Ready"
    );
}
