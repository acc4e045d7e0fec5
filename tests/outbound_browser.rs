//! Calling back in a real browser: an agent clicks 回拨 on a missed call
//! in the queue, the simulated box dials and the far end answers, the
//! customer's card pops for that agent, the work order is saved against the
//! outbound call, the agent hangs up and the queue item is closed as called
//! back. And 一键拨号 beside a number shown on a card.

mod common;

use callpop::sim::far_end::FarEnd;
use callpop::sim::script::Action;
use common::browser::Browser;
use common::*;
use std::time::Duration;

async fn open_workspace(b: &mut Browser, s: &Stack, user: &str) {
    b.goto(&format!("http://{}/", s.addr)).await;
    b.wait_for("document.getElementById('login')").await;
    b.log_in(user).await;
    b.wait_for("location.pathname === '/workspace'").await;
    b.wait_for("document.querySelector('[data-test=conn]')?.dataset.conn === 'connected'")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_calls_a_missed_caller_back_and_saves_the_work_order() {
    let mut s = stack(256).await;
    let mut b = Browser::start().await;
    open_workspace(&mut b, &s, "agent1").await;

    // 王伟 calls agent1's line; nobody answers.
    ring(&mut s.sim, 1, "13812345678").await;
    for _ in 0..3 {
        s.sim.act(&Action::Ring { port: 1 }).await.unwrap();
    }
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    b.wait_for("document.querySelector('[data-test=followups] [data-test=call-back]')")
        .await;
    // The missed call's card is dismissed; the queue remains.
    b.wait_for("document.querySelector('.pop [data-test=status]')?.innerText === '已结束：未接'")
        .await;
    b.click(".pop .close").await;
    b.wait_for("document.querySelectorAll('.cards .pop').length === 0")
        .await;

    // 回拨: the box dials the caller, the far end rings and answers.
    s.sim.far().set(FarEnd::Answer {
        after: Duration::from_millis(400),
        talk: None,
    });
    b.click("[data-test=followups] [data-test=call-back]").await;
    let dialled = s.sim.far().dialled(1).await;
    assert_eq!(
        dialled[0],
        (1, "13812345678".to_string()),
        "box1/1, agent1's line"
    );
    // The customer's card pops for the agent, marked outbound.
    b.wait_for("document.querySelector('.pop')?.innerText.includes('外拨')")
        .await;
    b.wait_for("document.querySelector('.pop .customer')?.innerText.includes('王伟')")
        .await;
    assert!(b.text(".pop [data-test=place]").await.contains("中国移动"));
    b.wait_for("document.querySelector('.pop input[name=phone]')")
        .await;
    assert_eq!(
        b.eval("document.querySelector('.pop input[name=phone]').value")
            .await,
        "13812345678",
        "the number as people write it, not +86…"
    );
    b.wait_for("document.querySelector('.pop [data-test=status]')?.innerText === '已接通'")
        .await;
    assert_eq!(b.text(".pop [data-test=hang-up]").await, "挂断");
    if let Some(dir) = std::env::var_os("CALLPOP_SHOTS") {
        for (w, h) in [(1440, 900), (1280, 720)] {
            b.resize(w, h).await;
            b.screenshot(&std::path::Path::new(&dir).join(format!("outbound-{w}.png")))
                .await;
        }
    }
    // The work order is saved against the outbound call.
    b.fill(".pop textarea[name=summary]", "回访：打印机已修好")
        .await;
    b.click(".pop .save").await;
    b.wait_for("document.querySelector('.pop [data-test=saved]')?.innerText.length > 0")
        .await;
    let call_id = b.eval("document.querySelector('.pop').dataset.call").await;
    let call_id = call_id.as_str().unwrap().to_string();
    let orders = work_orders_of(&s, &call_id).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].fields["summary"], "回访：打印机已修好");
    // The agent hangs up; the card says it was answered; the item is done.
    b.click(".pop [data-test=hang-up]").await;
    s.sim.far().hung_up(1).await;
    b.wait_for("document.querySelector('.pop [data-test=status]')?.innerText === '已结束：已接听'")
        .await;
    b.wait_for(
        "document.querySelector('[data-test=followups]').innerText.includes('已完成：已回拨')",
    )
    .await;
    let calls = s.store.calls().call(|c| c.recent(10)).await.unwrap();
    let out = calls.iter().find(|c| c.call_uid == call_id).unwrap();
    assert_eq!(
        (out.direction.as_str(), out.outcome.as_deref()),
        ("outbound", Some("answered"))
    );
    assert!(out.agent_user_id.is_some());
    // Recorded like an inbound call (the line's audio, from the dial on).
    let recorded = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let rows = s.store.recordings().call(|r| r.recent(10)).await.unwrap();
            if let Some(r) = rows.into_iter().find(|r| r.call_uid == call_id) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the outbound call was recorded");
    assert_eq!(recorded.line, "box1/1");

    // 一键拨号 from the card's number, now the call is over: busy this time.
    s.sim.far().set(FarEnd::Busy);
    b.click(".pop .number [data-test=dial]").await;
    s.sim.far().dialled(2).await;
    b.wait_for("document.querySelectorAll('.cards .pop').length === 2")
        .await;
    b.wait_for(
        "document.querySelector('.cards .pop:nth-of-type(2) [data-test=status]')?.innerText === '已结束：占线'",
    )
    .await;
    // And from the work order's phone field, as typed there.
    b.click(".cards .pop:nth-of-type(1) [data-test=dial-field]")
        .await;
    let dialled = s.sim.far().dialled(3).await;
    assert!(dialled[2].1.ends_with("13812345678"), "{dialled:?}");
    b.wait_for("document.querySelectorAll('.cards .pop').length === 3")
        .await;
    b.assert_no_console_errors();
}
