//! The customer pages in a real browser: an agent finds their customer by
//! a fragment of a number, opens the page, edits the company, writes a
//! note, reloads in the middle of the next note and finds the text still
//! there; the page in English too, without console errors.

mod common;

use common::browser::Browser;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_finds_edits_and_notes_a_customer() {
    let s = stack(64).await;
    let mut b = Browser::start().await;
    b.goto(&format!("http://{}/", s.addr)).await;
    b.wait_for("document.getElementById('login')").await;
    b.log_in("agent2").await;
    b.wait_for("location.pathname === '/workspace'").await;
    b.goto(&format!("http://{}/customers", s.addr)).await;
    b.wait_for("document.querySelector('[data-test=customers]')")
        .await;

    // 赵敏 (13900001111) by the middle of the number, as typed.
    b.fill("input[name=q]", "0000 111").await;
    b.click("[data-test=find]").await;
    b.wait_for("location.search.includes('q=')").await;
    b.wait_for(
        "document.querySelectorAll('[data-test=customers] .name').length === 1 && document.querySelector('[data-test=customers] .name').innerText === '赵敏'",
    )
    .await;
    let id = b
        .eval("document.querySelector('[data-test=customers] .name').dataset.id")
        .await;
    let id = id.as_str().unwrap().to_string();
    b.click("[data-test=customers] .name").await;
    b.wait_for("document.querySelector('[data-test=customer-form] input[name=company]')")
        .await;
    assert_eq!(
        b.eval("document.querySelector('[data-test=customer-form] input[name=phone0]').value")
            .await,
        "13900001111"
    );
    b.fill("[data-test=customer-form] input[name=company]", "远大集团")
        .await;
    b.click("[data-test=save-customer]").await;
    b.wait_for("document.querySelector('.el-message--success')")
        .await;
    let body = http(
        s.addr,
        "GET",
        &format!("/api/customers/{id}"),
        Some(&login(s.addr, "admin").await),
        None,
    )
    .await
    .2;
    assert_eq!(body["customer"]["company"], "远大集团");
    // The list shows the change without a new search.
    b.wait_for("document.querySelector('[data-test=customers]').innerText.includes('远大集团')")
        .await;

    // A note; then a second one, half typed when the page reloads.
    b.fill(
        "[data-test=customer] textarea[name=note]",
        "客户要求下周回访",
    )
    .await;
    b.click("[data-test=add-note]").await;
    b.wait_for(
        "document.querySelector('[data-test=notes]').innerText.includes('客户要求下周回访')",
    )
    .await;
    b.fill("[data-test=customer] textarea[name=note]", "已电话确认")
        .await;
    b.wait_for(&format!(
        "Object.keys(sessionStorage).some(k => k.endsWith('.{id}') && sessionStorage.getItem(k).includes('已电话确认'))"
    ))
    .await;
    b.eval("location.reload(); true").await;
    b.wait_for("document.querySelector('[data-test=customer] textarea[name=note]')?.value === '已电话确认'")
        .await;
    assert!(b
        .text("[data-test=notes]")
        .await
        .contains("客户要求下周回访"));

    // In English.
    b.click(".lang-switch").await;
    b.wait_for("document.querySelector('[data-test=find]')?.innerText === 'Find'")
        .await;
    if let Some(dir) = std::env::var_os("CALLPOP_SHOTS") {
        for (w, h) in [(1440, 900), (1280, 720)] {
            b.resize(w, h).await;
            b.screenshot(&std::path::Path::new(&dir).join(format!("customers-{w}.png")))
                .await;
        }
    }
    b.assert_no_console_errors();
}
