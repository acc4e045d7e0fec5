//! The admin console in a real browser: an admin adds a user, binds a line
//! to them and changes a work-order field, all on the page; the next call
//! on that line pops on the new user's desktop with the changed form, and
//! each change is in the audit log.

mod common;

use common::browser::Browser;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_a_user_binds_a_line_and_edits_a_form_and_the_next_pop_uses_them() {
    let mut s = stack(256).await;
    let mut b = Browser::start().await;
    b.goto(&format!("http://{}/admin", s.addr)).await;
    b.wait_for("document.getElementById('login')").await;
    b.log_in("admin").await;
    b.wait_for("location.pathname === '/admin' && document.querySelectorAll('[data-test=users] tbody tr').length >= 5")
        .await;

    // A new agent.
    b.click("[data-test=add-user]").await;
    b.fill("[data-test=user-form] input[name=username]", "agent9")
        .await;
    b.fill("[data-test=user-form] input[name=display_name]", "新坐席甲")
        .await;
    b.fill(
        "[data-test=user-form] input[name=password]",
        "Lantern-Harbor-42",
    )
    .await;
    b.click("[data-test=save-user]").await;
    b.wait_for("document.querySelector('[data-test=users]').innerText.includes('新坐席甲')")
        .await;

    // Line 3 pops on them.
    b.click("#tab-lines").await;
    b.fill("[data-test=bind-form] input[name=line]", "box1/3")
        .await;
    b.pick("[data-test=bind-target]", "agent9").await;
    b.click("[data-test=bind]").await;
    b.wait_for("document.querySelector('[data-test=bindings]').innerText.includes('box1/3')")
        .await;

    // The summary field gets a new label.
    b.click("#tab-forms").await;
    b.wait_for("document.querySelector('[data-test=forms-admin] [data-field=summary]')")
        .await;
    b.fill(
        "[data-test=forms-admin] [data-field=summary] input[name=label_zh]",
        "故障描述",
    )
    .await;
    // The preview follows the editor.
    b.wait_for(
        "document.querySelector('[data-test=forms-admin] .preview').innerText.includes('故障描述')",
    )
    .await;
    b.click("[data-test=save-form]").await;
    b.wait_for("document.querySelector('.el-message--success')")
        .await;

    // The new agent logs in; a call on line 3 pops on their desktop with
    // the changed form.
    let (code, token, _) = http(
        s.addr,
        "POST",
        "/api/login",
        None,
        Some(json!({"username": "agent9", "password": "Lantern-Harbor-42"})),
    )
    .await;
    assert_eq!(code, 200);
    let token = token.unwrap();
    let mut desk = ws(s.addr, Some(&token)).await.unwrap();
    next_of(&mut desk, "hello").await;
    ring(&mut s.sim, 3, "13812345678").await;
    let pop = next_of(&mut desk, "call.ringing").await;
    let summary = pop["data"]["form"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "summary")
        .cloned()
        .unwrap();
    assert_eq!(summary["label_zh"], "故障描述");
    assert_eq!(pop["data"]["customers"][0]["name"], "王伟");

    // Every change is in the audit log, on the page.
    b.click("#tab-audit").await;
    b.wait_for("['user.add', 'line.bind', 'form.put'].every(a => document.querySelector(`[data-test=audit] [data-action='${a}']`))")
        .await;
    assert!(b.text("[data-test=audit]").await.contains("新增用户"));
    b.assert_no_console_errors();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_ends_their_sessions_and_admins_cannot_lock_themselves_out() {
    let s = stack(256).await;
    let admin = login(s.addr, "admin").await;
    let agent = login(s.addr, "agent1").await;
    let mut desk = ws(s.addr, Some(&agent)).await.unwrap();
    next_of(&mut desk, "hello").await;
    let body = json!({"display_name": "agent1", "role": "agent", "team": "sales", "disabled": true, "permissions": []});
    let (code, _, user) = http(s.addr, "PUT", "/api/users/agent1", Some(&admin), Some(body)).await;
    assert_eq!(code, 200, "{user}");
    assert_eq!(user["disabled"], true);
    // Their session is over, their desktop closed with 4003.
    assert_eq!(
        status(s.addr, "GET", "/api/me", Some(&agent), None).await,
        401
    );
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        use futures_util::StreamExt;
        loop {
            match desk.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(f)))) => {
                    return u16::from(f.code)
                }
                Some(Ok(_)) => {}
                _ => return 0,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(closed, 4003);
    let (code, _, _) = http(
        s.addr,
        "POST",
        "/api/login",
        None,
        Some(json!({"username": "agent1", "password": PASSWORD})),
    )
    .await;
    assert_eq!(code, 401, "a disabled user cannot log in");
    let me = json!({"display_name": "admin", "role": "agent", "team": null, "disabled": false, "permissions": []});
    let (code, _, err) = http(s.addr, "PUT", "/api/users/admin", Some(&admin), Some(me)).await;
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (400, Some("not_yourself"))
    );
    // A weak first password is refused with its reason.
    let weak = json!({"username": "x1", "display_name": "X", "role": "agent", "password": "x1"});
    let (code, _, err) = http(s.addr, "POST", "/api/users", Some(&admin), Some(weak)).await;
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (400, Some("password_too_short"))
    );
}

/// An admin makes an API token on the page: it is shown once, works for
/// another system at once, is listed by its first characters only, and
/// stops working when revoked from the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_makes_and_revokes_an_api_token_on_the_page() {
    let s = stack(64).await;
    let mut b = Browser::start().await;
    b.open_as(s.addr, "admin").await;
    b.goto(&format!("http://{}/admin", s.addr)).await;
    b.open_admin_tab("tokens").await;
    b.fill("[data-test=token-form] input[name=name]", "客户管理系统")
        .await;
    b.pick("[data-test=token-user]", "agent2").await;
    b.eval("document.querySelector('[data-test=token-scopes] .el-checkbox').click(); true")
        .await;
    b.click("[data-test=token-create]").await;
    b.wait_for("document.querySelector('[data-test=token-made] code')")
        .await;
    let token = b
        .eval("document.querySelector('[data-test=token-made] code').innerText")
        .await;
    let token = token.as_str().unwrap().trim().to_string();
    // The first scope is calls:read: the history answers, customers do not.
    let (code, _) = http_bearer(s.addr, "GET", "/api/history", &token, None).await;
    assert_eq!(code, 200);
    let (code, _) = http_bearer(s.addr, "GET", "/api/customers", &token, None).await;
    assert_eq!(code, 403);
    b.wait_for("document.querySelector('[data-test=tokens]').innerText.includes('客户管理系统')")
        .await;
    let listed = b.text("[data-test=tokens]").await;
    assert!(
        !listed.contains(&token) && listed.contains(&token[..10]),
        "{listed}"
    );
    b.click("[data-test=token-revoke]").await;
    b.confirm().await;
    b.wait_for("!document.querySelector('[data-test=token-revoke]')")
        .await;
    let (code, _) = http_bearer(s.addr, "GET", "/api/history", &token, None).await;
    assert_eq!(code, 401);

    // A change made with a token reads, in the audit log, as made with it.
    let admin = login(s.addr, "admin").await;
    let (code, _, made) = http(
        s.addr,
        "POST",
        "/api/tokens",
        Some(&admin),
        Some(json!({"name": "工单同步", "user": "agent2", "scopes": ["customers:write"]})),
    )
    .await;
    assert_eq!(code, 201, "{made}");
    let zhao = customer_id(&s, "赵敏").await;
    let (code, _) = http_bearer(
        s.addr,
        "PUT",
        &format!("/api/customers/{zhao}"),
        made["token"].as_str().unwrap(),
        Some(json!({"name": "赵敏", "company": "远大", "phones": [{"number": "13900001111"}]})),
    )
    .await;
    assert_eq!(code, 200);
    b.open_admin_tab("audit").await;
    b.wait_for("document.querySelector('[data-test=audit]').innerText.includes('（接口令牌 #')")
        .await;
    assert!(
        b.text("[data-test=audit]")
            .await
            .contains("接口令牌 #2 工单同步）"),
        "{}",
        b.text("[data-test=audit]").await
    );
    b.assert_no_console_errors();
}

/// The API reference tab reads the server's own OpenAPI document: an admin
/// finds a route by part of its path, opens it and reads who may use it,
/// its parameters and its body's fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_looks_a_route_up_in_the_api_reference() {
    let s = stack(64).await;
    let mut b = Browser::start().await;
    b.open_as(s.addr, "admin").await;
    b.goto(&format!("http://{}/admin", s.addr)).await;
    b.open_admin_tab("api").await;
    b.wait_for("document.querySelectorAll('[data-test=api-operation]').length > 100")
        .await;
    b.fill("input[data-test=api-search]", "/notes").await;
    b.wait_for("document.querySelectorAll('[data-test=api-operation]').length === 1")
        .await;
    b.click("[data-test=api-operation] .el-collapse-item__header")
        .await;
    b.wait_for("document.querySelector('[data-test=api-operation] .el-table')")
        .await;
    let text = b.text("[data-test=api-operation]").await;
    for part in [
        "POST",
        "/api/customers/{id}/notes",
        "directory_add_note",
        "customers:write",
        "call_uid",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    b.fill("input[data-test=api-search]", "no such route at all")
        .await;
    b.wait_for("!document.querySelector('[data-test=api-operation]')")
        .await;
    b.assert_no_console_errors();
}

/// What a test receiver got: each body with its signature header.
type Deliveries = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// Waits (for a condition) until `n` deliveries arrived.
async fn deliveries(got: &Deliveries, n: usize) -> Vec<(String, String)> {
    eventually(
        &format!("{n} deliveries"),
        || async { Some(got.lock().unwrap().clone()).filter(|g| g.len() >= n) },
        String::new,
    )
    .await
}

/// Webhooks from the console: an admin subscribes a receiver for every
/// event, is shown its secret once, sees a customer change delivered in the
/// endpoint's log and sends it again with the log's button; the receiver
/// gets the same event, with the same id, signed with that secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_subscribes_a_webhook_and_redelivers_from_its_log() {
    let s = stack(64).await;
    let got: Deliveries = Default::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |axum::extract::State(got): axum::extract::State<Deliveries>,
                 headers: axum::http::HeaderMap,
                 body: String| async move {
                    let sig = headers
                        .get("x-callpop-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    got.lock().unwrap().push((body, sig));
                    axum::http::StatusCode::OK
                },
            ),
        )
        .with_state(got.clone());
    let url = format!("http://{}/hook", serve_local(app).await);
    tokio::spawn(callpop::webhooks::worker::run(
        s.store.clone(),
        callpop::webhooks::worker::WorkerSettings {
            poll: std::time::Duration::from_millis(20),
            ..Default::default()
        },
    ));

    let mut b = Browser::start().await;
    b.open_as(s.addr, "admin").await;
    b.goto(&format!("http://{}/admin", s.addr)).await;
    b.open_admin_tab("webhooks").await;
    b.fill("[data-test=webhook-form] input[name=url]", &url)
        .await;
    b.fill(
        "[data-test=webhook-form] input[name=description]",
        "客户管理系统",
    )
    .await;
    b.eval("document.querySelector('[data-test=webhook-events] .el-checkbox').click(); true")
        .await;
    b.click("[data-test=webhook-add]").await;
    b.wait_for("document.querySelector('[data-test=webhook-secret] code')")
        .await;
    let secret = b
        .eval("document.querySelector('[data-test=webhook-secret] code').innerText")
        .await;
    let secret = secret.as_str().unwrap().trim().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    b.wait_for("document.querySelector('[data-test=webhooks]').innerText.includes('客户管理系统')")
        .await;
    assert!(!b.text("[data-test=webhooks]").await.contains(&secret));

    // A change elsewhere is delivered.
    let admin = login(s.addr, "admin").await;
    let zhao = customer_id(&s, "赵敏").await;
    let (code, _, _) = http(
        s.addr,
        "PUT",
        &format!("/api/customers/{zhao}"),
        Some(&admin),
        Some(json!({"name": "赵敏", "company": "远大", "phones": [{"number": "13900001111"}]})),
    )
    .await;
    assert_eq!(code, 200);
    let first = deliveries(&got, 1).await;

    // The log shows it delivered; its button sends it again.
    b.click("[data-test=webhook-log]").await;
    b.wait_for("document.querySelector('[data-test=webhook-deliveries] .el-tag--success')")
        .await;
    b.click("[data-test=webhook-redeliver]").await;
    let both = deliveries(&got, 2).await;
    let ids: Vec<String> = both
        .iter()
        .map(|(body, _)| serde_json::from_str::<serde_json::Value>(body).unwrap()["id"].to_string())
        .collect();
    assert_eq!(ids[0], ids[1], "the same event, the same id");
    assert!(first[0].0.contains("customer.updated"), "{}", first[0].0);
    let now = callpop::store::now_ms() / 1000;
    for (body, sig) in &both {
        assert_eq!(
            callpop::webhooks::signature::verify(secret.as_bytes(), sig, body.as_bytes(), now, 300),
            Ok(()),
            "signed with the secret the page showed: {sig}"
        );
    }
    b.assert_no_console_errors();
}
