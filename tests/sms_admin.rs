//! The admin console's SMS settings over the API and in a browser: quotas
//! with their use, the blacklist (numbers in any spelling land in one form),
//! opt-outs, and unknown parts settled by a person; all audited, admins only.

mod common;

use callpop::store::NewSms;
use common::browser::Browser;
use common::*;
use serde_json::{json, Value};

async fn audited(s: &Stack, admin: &str, action: &str) -> Vec<Value> {
    let (_, _, audit) = http(
        s.addr,
        "GET",
        &format!("/api/audit?action={action}"),
        Some(admin),
        None,
    )
    .await;
    audit["entries"].as_array().unwrap().clone()
}

/// A part the modem died sending: its outcome is unknown.
async fn an_unknown_part(s: &Stack, to: &'static str) -> i64 {
    s.store
        .sms()
        .call(move |st| {
            st.queue_sms(&NewSms {
                to,
                text: "您好",
                encoding: "ucs2",
                parts: vec![("0011000B818".into(), 20)],
                created_by: None,
            })?;
            let part = st.claim_sms_part("gsm1")?.expect("a part to claim");
            st.sms_part_unknown(part.id, "port closed while sending")?;
            Ok(part.id)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_blacklist_and_unknown_parts_for_admins() {
    let s = stack(256).await;
    add_user(&s, "mk1", callpop::store::Role::Marketer).await;
    let admin = login(s.addr, "admin").await;
    let mk1 = login(s.addr, "mk1").await;
    for path in ["/api/sms/quotas", "/api/sms/blacklist", "/api/sms/unknown"] {
        assert_eq!(
            status(s.addr, "GET", path, Some(&mk1), None).await,
            403,
            "{path}"
        );
    }

    // Quotas: the marketer and the admin, with nothing used yet.
    let (code, _, q) = http(s.addr, "GET", "/api/sms/quotas", Some(&admin), None).await;
    assert_eq!(code, 200);
    let names: Vec<&str> = q["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "mk1"]);
    assert_eq!(q["quotas"][1]["quota"], Value::Null);
    assert_eq!(q["quotas"][1]["used"], 0);
    let (code, _, _) = http(
        s.addr,
        "PUT",
        "/api/sms/quotas/mk1",
        Some(&admin),
        Some(json!({"monthly_parts": 500})),
    )
    .await;
    assert_eq!(code, 200);
    let (_, _, q) = http(s.addr, "GET", "/api/sms/quotas", Some(&admin), None).await;
    assert_eq!(q["quotas"][1]["quota"], 500);

    // The blacklist keeps one form of a number however it was typed.
    let (code, _, added) = http(
        s.addr,
        "POST",
        "/api/sms/blacklist",
        Some(&admin),
        Some(json!({"number": "138 1234 5678", "note": "投诉"})),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(added["e164"], "+8613812345678");
    let (code, _, again) = http(
        s.addr,
        "POST",
        "/api/sms/blacklist",
        Some(&admin),
        Some(json!({"number": "+86 138-1234-5678"})),
    )
    .await;
    assert_eq!(
        (code, again["e164"].as_str()),
        (200, Some("+8613812345678"))
    );
    let (code, _, bad) = http(
        s.addr,
        "POST",
        "/api/sms/blacklist",
        Some(&admin),
        Some(json!({"number": "hello"})),
    )
    .await;
    assert_eq!(
        (code, bad["error"]["code"].as_str()),
        (400, Some("not_a_number"))
    );
    let (_, _, list) = http(s.addr, "GET", "/api/sms/blacklist", Some(&admin), None).await;
    assert_eq!(list["blacklist"].as_array().unwrap().len(), 1);
    assert_eq!(list["blacklist"][0]["created_by"], "admin");
    let path = "/api/sms/blacklist/%2B8613812345678";
    assert_eq!(
        status(s.addr, "DELETE", path, Some(&admin), None).await,
        204
    );
    assert_eq!(
        status(s.addr, "DELETE", path, Some(&admin), None).await,
        404
    );
    assert_eq!(audited(&s, &admin, "sms.blacklist.add").await.len(), 2);
    assert_eq!(audited(&s, &admin, "sms.blacklist.remove").await.len(), 1);

    // An unknown part, settled once (a second settle is refused).
    let part = an_unknown_part(&s, "+8613900001111").await;
    let (_, _, unknown) = http(s.addr, "GET", "/api/sms/unknown", Some(&admin), None).await;
    assert_eq!(unknown["parts"][0]["id"], part);
    assert_eq!(unknown["parts"][0]["to_number"], "+8613900001111");
    let settle = format!("/api/sms/parts/{part}/settle");
    let (code, _, _) = http(
        s.addr,
        "POST",
        &settle,
        Some(&admin),
        Some(json!({"to": "sideways"})),
    )
    .await;
    assert_eq!(code, 400);
    let (code, _, _) = http(
        s.addr,
        "POST",
        &settle,
        Some(&admin),
        Some(json!({"to": "delivered", "note": "客户来电确认已收到"})),
    )
    .await;
    assert_eq!(code, 204);
    let (code, _, again) = http(
        s.addr,
        "POST",
        &settle,
        Some(&admin),
        Some(json!({"to": "failed"})),
    )
    .await;
    assert_eq!(
        (code, again["error"]["code"].as_str()),
        (409, Some("not_unknown"))
    );
    let (_, _, unknown) = http(s.addr, "GET", "/api/sms/unknown", Some(&admin), None).await;
    assert!(unknown["parts"].as_array().unwrap().is_empty());
    let settled = audited(&s, &admin, "sms.part.settle").await;
    assert_eq!(settled[0]["detail"]["to"], "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_keeps_the_sms_settings_in_a_browser() {
    let s = stack(256).await;
    add_user(&s, "mk1", callpop::store::Role::Marketer).await;
    let admin = login(s.addr, "admin").await;
    let part = an_unknown_part(&s, "+8613700001234").await;
    let mut b = Browser::start().await;
    b.goto(&format!("http://{}/admin?tab=sms", s.addr)).await;
    b.wait_for("document.getElementById('login')").await;
    b.log_in("admin").await;
    b.wait_for("document.querySelector('[data-edit-quota=mk1]')")
        .await;
    // A quota for mk1.
    b.click("[data-edit-quota=mk1]").await;
    b.fill("[data-quota=mk1] input", "3000").await;
    // A person's click on the button first takes the focus off the field.
    b.eval("document.activeElement.blur(); true").await;
    b.click("[data-save-quota=mk1]").await;
    b.wait_for("!document.querySelector('[data-save-quota=mk1]') && document.querySelector('[data-test=quotas]').innerText.includes('3000')")
        .await;
    // A number blacklisted as people type it.
    b.fill(
        "[data-test=blacklist-form] input[name=number]",
        "139-0000-1111",
    )
    .await;
    b.fill(
        "[data-test=blacklist-form] input[name=note]",
        "要求不再联系",
    )
    .await;
    b.eval("document.querySelector('[data-test=blacklist-form]').requestSubmit(); true")
        .await;
    b.wait_for(
        "document.querySelector('[data-test=blacklist]').innerText.includes('139 0000 1111')",
    )
    .await;
    // The unknown part settled as sent again.
    b.click(&format!("[data-settle='{part}:queued']")).await;
    b.wait_for("document.querySelector('.el-message-box input')")
        .await;
    b.fill(".el-message-box input", "客户说没收到").await;
    b.click(".el-message-box__btns .el-button--primary").await;
    b.wait_for("!document.querySelector('[data-test=unknown-parts] tr [data-settle]')")
        .await;
    let (_, _, q) = http(s.addr, "GET", "/api/sms/quotas", Some(&admin), None).await;
    assert_eq!(q["quotas"][1]["quota"], 3000);
    let settled = audited(&s, &admin, "sms.part.settle").await;
    assert_eq!(
        settled[0]["detail"],
        json!({"to": "queued", "note": "客户说没收到"})
    );
    // The retention tab says how long recordings are kept.
    b.click("#tab-retention").await;
    b.wait_for("document.querySelector('[data-test=retention] .el-descriptions')")
        .await;
    b.assert_no_console_errors();
}
