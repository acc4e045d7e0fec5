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
    s.store
        .sms()
        .call(|s| {
            s.queue_sms(&callpop::store::NewSms {
                to: "+8613900001111",
                text: "您的工单已处理",
                encoding: "ucs2",
                parts: vec![("00".into(), 1)],
                created_by: None,
            })
        })
        .await
        .unwrap();
    let mut b = Browser::start().await;
    b.open_as(s.addr, "agent2").await;
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
    // The SMS sent to her are on her page.
    b.click("#tab-sms").await;
    b.wait_for(
        "document.querySelector('[data-test=customer-sms]')?.innerText.includes('您的工单已处理')",
    )
    .await;
    b.click("#tab-notes").await;
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
    // (The mark tells the reloaded page from the one before it.)
    b.eval("window.beforeReload = true; location.reload(); true")
        .await;
    b.wait_for("!window.beforeReload && document.querySelector('[data-test=customer] textarea[name=note]')?.value === '已电话确认'")
        .await;
    b.wait_for(
        "document.querySelector('[data-test=notes]')?.innerText.includes('客户要求下周回访')",
    )
    .await;

    // A call-back for tomorrow (the form's default: tomorrow at 10:00).
    b.click("#tab-callbacks").await;
    b.wait_for("document.querySelector('[data-test=callback-form] input[name=callback-note]')?.offsetParent")
        .await;
    b.fill(
        "[data-test=callback-form] input[name=callback-note]",
        "回访确认退款到账",
    )
    .await;
    b.click("[data-test=schedule-callback]").await;
    b.wait_for("document.querySelector('[data-test=callback-list]')?.innerText.includes('回访确认退款到账')")
        .await;
    let items = http(
        s.addr,
        "GET",
        "/api/followups",
        Some(&login(s.addr, "agent2").await),
        None,
    )
    .await
    .2;
    let item = items["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{items}"))
        .iter()
        .find(|f| f["note"] == "回访确认退款到账")
        .unwrap_or_else(|| panic!("{items}"))
        .clone();
    let due = chrono::DateTime::from_timestamp_millis(item["due_at"].as_i64().unwrap())
        .unwrap()
        .with_timezone(&chrono::Local);
    let tomorrow = chrono::Local::now().date_naive() + chrono::Duration::days(1);
    assert_eq!(due.date_naive(), tomorrow, "{item}");
    assert_eq!(item["customer_name"], "赵敏");

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

/// 离职交接: an admin hands all of agent2's customers (and their open work
/// orders) to agent1 and disables agent2 in one dialog; agent1 finds the
/// customer as theirs, agent2 can no longer log in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_hands_a_leaver_s_customers_over_and_disables_them() {
    let s = stack(64).await;
    // agent2 owns 赵敏 and has an open work order for her.
    let (zhao, agent2) = (customer_id(&s, "赵敏").await, user_id(&s, "agent2").await);
    let order = s
        .store
        .workorders()
        .call(move |w| {
            let mut fields = serde_json::Map::new();
            fields.insert("summary".into(), serde_json::json!("退货"));
            w.save_work_order("service", Some(zhao), None, agent2, "k", &fields)
        })
        .await
        .unwrap();

    let mut b = Browser::start().await;
    b.open_as(s.addr, "admin").await;
    b.goto(&format!("http://{}/admin", s.addr)).await;
    b.wait_for("document.querySelectorAll('[data-test=users] tbody tr').length >= 5")
        .await;
    b.eval(
        "[...document.querySelectorAll('[data-test=users] tbody tr')].find(r => r.cells[0].innerText === 'agent2').querySelector('.hand-over').click(); true",
    )
    .await;
    b.wait_for("document.querySelector('[data-test=hand-over-form]')?.offsetParent")
        .await;
    b.pick("[data-test=hand-over-to]", "(agent1)").await;
    b.click("[data-test=hand-over]").await;
    b.wait_for("document.querySelector('.el-message--success')?.innerText.includes('agent1')")
        .await;
    let message = b.text(".el-message--success").await;
    assert!(message.contains('1'), "{message}");
    // The list shows agent2 disabled.
    b.wait_for(
        "[...document.querySelectorAll('[data-test=users] tbody tr')].find(r => r.cells[0].innerText === 'agent2')?.innerText.includes('停用')",
    )
    .await;
    b.assert_no_console_errors();

    let admin = login(s.addr, "admin").await;
    let (_, _, body) = http(
        s.addr,
        "GET",
        &format!("/api/customers/{zhao}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(body["customer"]["owner"], "agent1");
    let (_, _, body) = http(
        s.addr,
        "GET",
        &format!("/api/workorders/{}", order.id),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(body["work_order"]["assignee"], "agent1");
    let (code, _, _) = http(
        s.addr,
        "POST",
        "/api/login",
        None,
        Some(serde_json::json!({"username": "agent2", "password": PASSWORD})),
    )
    .await;
    assert_eq!(code, 401, "a disabled leaver cannot log in");
    // agent1 finds her among their own customers.
    let agent1 = login(s.addr, "agent1").await;
    let (_, _, body) = http(
        s.addr,
        "GET",
        "/api/customers?owner=agent1",
        Some(&agent1),
        None,
    )
    .await;
    assert!(body.to_string().contains("赵敏"), "{body}");
}

/// A birthday reminder on the day: the admin marks a date field as the
/// birthday; agent2 sets 赵敏's birthday to today on her page; agent2's
/// workspace names her among today's reminders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_birthday_reminder_appears_on_the_day() {
    let s = stack(64).await;
    let admin = login(s.addr, "admin").await;
    let (code, _, body) = http(
        s.addr,
        "PUT",
        "/api/customer-fields",
        Some(&admin),
        Some(serde_json::json!({"fields": [
            {"key": "birthday", "label_zh": "生日", "label_en": "Birthday", "type": "date", "birthday": true}
        ]})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let zhao = customer_id(&s, "赵敏").await;

    let mut b = Browser::start().await;
    b.open_as(s.addr, "agent2").await;
    b.wait_for("location.pathname === '/workspace'").await;
    // Her page: the birthday field is a date picker; today, in 1990.
    b.goto(&format!("http://{}/customers?id={zhao}", s.addr))
        .await;
    b.wait_for("document.querySelector('[data-test=customer-form] input[name=cf-birthday]')")
        .await;
    let born = format!("1990-{}", chrono::Local::now().format("%m-%d"));
    b.fill("[data-test=customer-form] input[name=cf-birthday]", &born)
        .await;
    b.eval("document.querySelector('[data-test=customer-form] input[name=cf-birthday]').dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true})); true")
        .await;
    b.click("[data-test=save-customer]").await;
    b.wait_for("document.querySelector('.el-message--success')")
        .await;
    let (_, _, body) = http(
        s.addr,
        "GET",
        &format!("/api/customers/{zhao}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        body["customer"]["custom_fields"]["birthday"],
        born.as_str(),
        "{body}"
    );

    b.goto(&format!("http://{}/workspace", s.addr)).await;
    b.wait_for("document.querySelector('[data-test=birthdays]')?.innerText.includes('赵敏')")
        .await;
    if let Some(dir) = std::env::var_os("CALLPOP_SHOTS") {
        b.resize(1440, 900).await;
        b.screenshot(&std::path::Path::new(&dir).join("workspace-reminders-1440.png"))
            .await;
    }
    b.assert_no_console_errors();
}

/// Soft delete and restore from the customer's page: a team lead deletes
/// a customer of their team (after confirming); it leaves the list and the
/// pop; an admin finds it among the deleted ones and restores it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_is_deleted_and_restored_from_the_page() {
    let s = stack(64).await;
    let admin = login(s.addr, "admin").await;
    let zhao = customer_id(&s, "赵敏").await;

    let mut b = Browser::start().await;
    b.open_as(s.addr, "lead1").await;
    b.goto(&format!("http://{}/customers?id={zhao}", s.addr))
        .await;
    b.wait_for("document.querySelector('[data-test=delete-customer]')")
        .await;
    b.click("[data-test=delete-customer]").await;
    b.confirm().await;
    b.wait_for(
        "document.querySelector('.el-message--success') && !location.search.includes('id=')",
    )
    .await;
    let (code, _, _) = http(
        s.addr,
        "GET",
        &format!("/api/customers/{zhao}"),
        Some(&login(s.addr, "lead1").await),
        None,
    )
    .await;
    assert_eq!(code, 404, "deleted: out of the lead's reach");
    b.assert_no_console_errors();
    drop(b);

    let mut b = Browser::start().await;
    b.open_as(s.addr, "admin").await;
    b.goto(&format!("http://{}/customers?deleted=1", s.addr))
        .await;
    b.wait_for("[...document.querySelectorAll('[data-test=customers] .name')].some(n => n.innerText === '赵敏')")
        .await;
    b.click("[data-test=customers] .name").await;
    b.wait_for("document.querySelector('[data-test=restore-customer]')")
        .await;
    b.click("[data-test=restore-customer]").await;
    b.wait_for("document.querySelector('.el-message--success')")
        .await;
    let (_, _, body) = http(
        s.addr,
        "GET",
        &format!("/api/customers/{zhao}"),
        Some(&admin),
        None,
    )
    .await;
    assert!(body["customer"]["deleted_at"].is_null(), "{body}");
    b.assert_no_console_errors();
}

/// Groups from the list (客户群): agent2 ticks 赵敏 and puts her in a new
/// group; the group shows its count and, clicked, its members; ticked
/// again, she is taken out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_makes_a_group_from_the_list_and_empties_it() {
    let s = stack(64).await;
    let mut b = Browser::start().await;
    b.open_as(s.addr, "agent2").await;
    b.goto(&format!("http://{}/customers", s.addr)).await;
    b.wait_for("[...document.querySelectorAll('[data-test=customers] .name')].some(n => n.innerText === '赵敏')")
        .await;
    b.eval("[...document.querySelectorAll('[data-test=customers] tbody tr')].find(r => r.innerText.includes('赵敏')).querySelector('.el-checkbox').click(); true")
        .await;
    b.wait_for("document.querySelector('[data-test=group-add-selected]')?.innerText.includes('1')")
        .await;
    // A new group: typed into the choice, then its offered entry picked.
    b.click("[data-test=group-target] .el-select__wrapper")
        .await;
    b.fill("[data-test=group-target] input", "回访名单").await;
    b.pick("[data-test=group-target]", "回访名单").await;
    b.click("[data-test=group-add-selected]").await;
    b.wait_for("document.querySelector('[data-test=groups] [data-tag=\"回访名单\"]')?.innerText.includes('1')")
        .await;
    b.click("[data-test=groups] [data-tag=\"回访名单\"]").await;
    // The group's own list has landed (the list before it had the same one row).
    b.wait_for("document.querySelector('[data-test=customers]').dataset.loaded?.includes('tag=') && document.querySelectorAll('[data-test=customers] .name').length === 1")
        .await;
    b.eval("document.querySelector('[data-test=customers] tbody tr .el-checkbox').click(); true")
        .await;
    b.click("[data-test=group-remove]").await;
    b.wait_for("!document.querySelector('[data-test=groups] [data-tag=\"回访名单\"]')")
        .await;
    b.assert_no_console_errors();
}

/// Puts `text` into the file input `selector` as a file called `name`, as
/// a user choosing it would.
async fn choose_file(b: &mut Browser, selector: &str, name: &str, text: &str) {
    b.eval(&format!(
        "(() => {{ const input = document.querySelector({selector:?}); const t = new DataTransfer(); \
         t.items.add(new File([{text:?}], {name:?}, {{ type: 'text/csv' }})); input.files = t.files; \
         input.dispatchEvent(new Event('change', {{ bubbles: true }})); return true; }})()"
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_checks_a_sheet_reloads_and_imports_it() {
    let s = stack(64).await;
    let mut b = Browser::start().await;
    b.open_as(s.addr, "admin").await;
    b.goto(&format!("http://{}/customers", s.addr)).await;
    b.wait_for("document.querySelector('[data-test=import-customers]')")
        .await;
    b.click("[data-test=import-customers]").await;
    let sheet = "客户名称,手机,公司,会员等级\n李娜,13800138000,远航物流,金卡\n张强,abc,,\n王伟,13812345678,,\n";
    choose_file(&mut b, "[data-test=import-file]", "客户.csv", sheet).await;
    // The check: how the columns were read, what would happen, each problem.
    b.wait_for("document.querySelector('[data-test=import-summary]')")
        .await;
    let summary = b.text("[data-test=import-summary]").await;
    assert!(
        summary.contains("新增 1")
            && summary.contains("合并到已有客户 1")
            && summary.contains("跳过 1"),
        "{summary}"
    );
    let columns = b.text("[data-test=import-columns]").await;
    assert!(columns.contains("会员等级 → 自定义字段"), "{columns}");
    let issues = b.text("[data-test=import-issues]").await;
    assert!(issues.contains("手机列的“abc”不是号码"), "{issues}");
    // A reload keeps the checked file: the dialog comes back with it.
    b.goto(&format!("http://{}/customers", s.addr)).await;
    b.wait_for(
        "document.querySelector('[data-test=import-summary]')?.innerText.includes('新增 1')",
    )
    .await;
    b.click("[data-test=import-commit]").await;
    b.wait_for(
        "document.querySelector('[data-test=import-summary]')?.innerText.includes('已导入')",
    )
    .await;
    b.wait_for("[...document.querySelectorAll('[data-test=customers] .name')].some(n => n.innerText === '李娜')")
        .await;
    b.click("[data-test=import-cancel]").await;
    // In English the same issue is worded in English.
    b.eval("localStorage.setItem('lang', 'en'); true").await;
    b.goto(&format!("http://{}/customers", s.addr)).await;
    b.wait_for("document.querySelector('[data-test=import-customers]')")
        .await;
    b.click("[data-test=import-customers]").await;
    choose_file(
        &mut b,
        "[data-test=import-file]",
        "more.csv",
        "name,phone\nMia,12\n",
    )
    .await;
    b.wait_for("document.querySelector('[data-test=import-issues]')")
        .await;
    let issues = b.text("[data-test=import-issues]").await;
    assert!(
        issues.contains("“12” in column phone is too short"),
        "{issues}"
    );
    b.assert_no_console_errors();
}
