//! The desktop for other systems' pages (Open CTI, callpop.js): an API
//! token of the `desktop` scope buys one-time tickets, a ticket opens the
//! desktop websocket once for its user, pops arrive there as on callpop's
//! own page; other origins pass only when configured and never with a
//! cookie; revoking the token closes the desktops opened with it. Last, a
//! CRM page on another origin (docs/embed/crm.html, as shipped) shows a
//! pop and dials in headless Chromium.

mod common;

use common::browser::Browser;
use common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// An origin no page of the test serves, let into the stack.
const CRM_ORIGIN: &str = "http://crm.example:8443";

/// The stack with [`CRM_ORIGIN`] let in.
async fn crm_stack() -> Stack {
    // Its desktops only listen: no heartbeats, kept however slow the machine.
    stack_allowing(
        tempfile::tempdir().unwrap(),
        64,
        |c| c.heartbeat_secs = 60,
        vec![CRM_ORIGIN.to_string()],
    )
    .await
}

async fn make_token(s: &Stack, admin: &str, user: &str, scopes: &[&str]) -> (i64, String) {
    let (code, _, body) = http(
        s.addr,
        "POST",
        "/api/tokens",
        Some(admin),
        Some(json!({"name": format!("CRM for {user}"), "user": user, "scopes": scopes})),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    (
        body["id"].as_i64().unwrap(),
        body["token"].as_str().unwrap().to_string(),
    )
}

/// A request as a browser on `origin` sends it, with a token.
async fn from_page(
    addr: SocketAddr,
    method: reqwest::Method,
    path: &str,
    origin: Option<&str>,
    token: &str,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("http://{addr}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(origin) = origin {
        req = req
            .header("origin", origin)
            .header("sec-fetch-site", "cross-site");
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    let body = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap_or(Value::Null);
    (status, headers, body)
}

async fn ticket(addr: SocketAddr, token: &str, body: Value) -> (u16, Value) {
    let (code, _, body) = from_page(
        addr,
        reqwest::Method::POST,
        "/api/desktop/tickets",
        None,
        token,
        body,
    )
    .await;
    (code, body)
}

/// Opens the desktop with `ticket` (from `origin`, if given).
async fn open_desktop(
    addr: SocketAddr,
    ticket: &str,
    origin: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = format!("ws://{addr}/ws?ticket={ticket}")
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        req.headers_mut().insert("origin", origin.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.map(|(s, _)| s)
}

fn refused_with(result: Result<Ws, tokio_tungstenite::tungstenite::Error>) -> u16 {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => res.status().as_u16(),
        Err(e) => panic!("refused otherwise: {e}"),
        Ok(_) => panic!("opened"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_token_buys_tickets_that_open_the_desktop_once() {
    let mut s = crm_stack().await;
    let admin = login(s.addr, "admin").await;
    let (agent_token_id, agent_token) = make_token(&s, &admin, "agent1", &["desktop"]).await;
    let (_, reader) = make_token(&s, &admin, "agent1", &["customers:read"]).await;
    let (_, admin_token) = make_token(&s, &admin, "admin", &["desktop"]).await;

    // A ticket for the token's own user, opening the desktop once.
    let (code, grant) = ticket(s.addr, &agent_token, json!({})).await;
    assert_eq!(code, 201, "{grant}");
    assert_eq!(grant["user"]["username"], "agent1");
    let now = callpop::store::now_ms();
    let expires = grant["expires_at"].as_i64().unwrap();
    assert!(expires > now && expires <= now + 60_000);
    let t = grant["ticket"].as_str().unwrap().to_string();
    let mut desk = open_desktop(s.addr, &t, None).await.unwrap();
    let hello = next_of(&mut desk, "hello").await;
    assert_eq!(hello["data"]["user"]["username"], "agent1");
    assert_eq!(
        refused_with(open_desktop(s.addr, &t, None).await),
        401,
        "a ticket works once"
    );
    assert_eq!(
        refused_with(open_desktop(s.addr, "cpt_made-up", None).await),
        401
    );

    // The agent's pop arrives on it, and the desktop's commands work.
    ring(&mut s.sim, 1, "13812345678").await;
    let pop = next_of(&mut desk, "call.ringing").await;
    assert_eq!(pop["data"]["number"], "13812345678");
    assert_eq!(pop["data"]["customers"][0]["name"], "王伟");
    send(
        &mut desk,
        json!({"type": "agent.state", "id": "s1", "data": {"state": "not_ready", "reason": "开会"}}),
    )
    .await;
    let result = next_of(&mut desk, "result").await;
    assert_eq!(result["data"]["result"]["state"], "not_ready");

    // A ticket is no way around a token's scopes or a user's reach.
    let (code, body) = ticket(s.addr, &reader, json!({})).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (403, Some("token_scope"))
    );
    let (code, body) = ticket(s.addr, &agent_token, json!({"user": "agent2"})).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (403, Some("ticket_other_user"))
    );
    let (code, body) = ticket(s.addr, &agent_token, json!({"user": 7})).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (422, Some("body_invalid"))
    );
    // An admin's token opens any call taker's desktop, nobody else's.
    let (code, body) = ticket(s.addr, &admin_token, json!({"user": "nobody"})).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("user_not_found"))
    );
    add_user(&s, "mkt1", callpop::store::Role::Marketer).await;
    let (code, body) = ticket(s.addr, &admin_token, json!({"user": "mkt1"})).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (403, Some("ticket_role"))
    );
    let (code, grant2) = ticket(s.addr, &admin_token, json!({"user": "agent2"})).await;
    assert_eq!(code, 201, "{grant2}");
    let mut desk2 = open_desktop(s.addr, grant2["ticket"].as_str().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(
        next_of(&mut desk2, "hello").await["data"]["user"]["username"],
        "agent2"
    );
    // A ticket opens the desktop only.
    let (_, grant3) = ticket(s.addr, &agent_token, json!({})).await;
    let mut req = format!(
        "ws://{}/ws/wallboard?ticket={}",
        s.addr,
        grant3["ticket"].as_str().unwrap()
    )
    .into_client_request()
    .unwrap();
    req.headers_mut().remove("origin");
    let refused = tokio_tungstenite::connect_async(req).await.map(|(s, _)| s);
    assert_eq!(refused_with(refused), 403);

    // Revoking the token closes the desktop opened with it, at once.
    let (code, _, _) = http(
        s.addr,
        "DELETE",
        &format!("/api/tokens/{agent_token_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(code, 204);
    assert_eq!(closed_with(&mut desk).await, Some(4003));
    let (code, body) = ticket(s.addr, &agent_token, json!({})).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (401, Some("token_invalid"))
    );
    // agent2's desktop, opened with the admin's token, stays.
    send(&mut desk2, json!({"type": "heartbeat"})).await;
    ring(&mut s.sim, 2, "13900001111").await;
    assert_eq!(
        next_of(&mut desk2, "call.ringing").await["data"]["number"],
        "13900001111"
    );
    // …until agent2 is disabled: the admin's token still holds, but the
    // desktop is agent2's and closes.
    disable_user(s.addr, &admin, "agent2", "agent", Some("sales")).await;
    assert_eq!(closed_with(&mut desk2).await, Some(4003));
}

/// The close code a desktop ends with (within 10 s).
async fn closed_with(desk: &mut Ws) -> Option<u16> {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match desk.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                other => panic!("ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("closed within 10 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_origins_pass_when_configured_with_a_token_never_with_a_cookie() {
    let s = crm_stack().await;
    let admin = login(s.addr, "admin").await;
    let (_, token) = make_token(&s, &admin, "agent1", &["desktop"]).await;
    let post = reqwest::Method::POST;

    // The configured origin: the answer is readable by its page.
    let (code, headers, grant) = from_page(
        s.addr,
        post.clone(),
        "/api/desktop/tickets",
        Some(CRM_ORIGIN),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(code, 201, "{grant}");
    assert_eq!(headers["access-control-allow-origin"], CRM_ORIGIN);
    // Its preflight is answered for the token's header.
    let preflight = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("http://{}/api/desktop/tickets", s.addr),
        )
        .header("origin", CRM_ORIGIN)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        CRM_ORIGIN
    );
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    // Its page opens the desktop with the ticket.
    let t = grant["ticket"].as_str().unwrap();
    let mut desk = open_desktop(s.addr, t, Some(CRM_ORIGIN)).await.unwrap();
    next_of(&mut desk, "hello").await;

    // Any other origin is refused, token or not; its answers are not readable.
    let (code, headers, body) = from_page(
        s.addr,
        post.clone(),
        "/api/desktop/tickets",
        Some("http://evil.example"),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (403, Some("cross_origin"))
    );
    assert!(headers.get("access-control-allow-origin").is_none());
    let (_, grant) = ticket(s.addr, &token, json!({})).await;
    let t = grant["ticket"].as_str().unwrap();
    assert_eq!(
        refused_with(open_desktop(s.addr, t, Some("http://evil.example")).await),
        403
    );
    // The configured origin never rides on a cookie: a session's desktop
    // and a session's write from there are refused.
    let agent1 = login(s.addr, "agent1").await;
    let mut req = ws_url(&format!("ws://{}/ws", s.addr), Some(&agent1))
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "cookie",
        format!("callpop_session={agent1}").parse().unwrap(),
    );
    req.headers_mut()
        .insert("origin", CRM_ORIGIN.parse().unwrap());
    let refused = tokio_tungstenite::connect_async(req).await.map(|(s, _)| s);
    assert_eq!(refused_with(refused), 403);
    let res = reqwest::Client::new()
        .post(format!("http://{}/api/customers/1/notes", s.addr))
        .header("origin", CRM_ORIGIN)
        .header("cookie", format!("callpop_session={agent1}"))
        .header(
            "x-csrf-token",
            callpop::auth::csrf_token(&agent1).to_string(),
        )
        .header("content-type", "application/json")
        .body(json!({"text": "from elsewhere"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crm_page_elsewhere_shows_the_pop_and_dials() {
    // The CRM: docs/embed/crm.html as shipped, on its own port.
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/embed/crm.html"),
    )
    .unwrap();
    let crm = serve_local(axum::Router::new().route(
        "/crm.html",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    ))
    .await;
    let mut s = stack_allowing(
        tempfile::tempdir().unwrap(),
        64,
        |_| {},
        vec![format!("http://{crm}")],
    )
    .await;
    let admin = login(s.addr, "admin").await;
    let (_, token) = make_token(&s, &admin, "agent1", &["desktop"]).await;

    let mut b = Browser::start().await;
    b.goto(&format!("http://{crm}/crm.html")).await;
    b.wait_for("document.querySelector('#server') !== null")
        .await;
    b.fill("#server", &format!("http://{}", s.addr)).await;
    b.fill("#token", &token).await;
    b.click("#connect button").await;
    b.wait_for("document.querySelector('#connection').dataset.state === 'connected'")
        .await;
    assert_eq!(b.text("#agent").await, "agent1");
    ring(&mut s.sim, 1, "13812345678").await;
    b.wait_for("document.querySelector('.card[data-status=ringing]') !== null")
        .await;
    let card = b.text(".card").await;
    assert!(
        card.contains("13812345678") && card.contains("王伟"),
        "{card}"
    );
    assert!(b
        .eval("document.title")
        .await
        .as_str()
        .unwrap()
        .contains("13812345678"));

    // Dialling from the CRM: the agent's line dials, the call shows as dialling.
    s.sim
        .act(&callpop::sim::script::Action::Hangup { port: 1 })
        .await
        .unwrap();
    b.wait_for("document.querySelector('.card[data-status=ended]') !== null")
        .await;
    b.fill("#number", "139 1234 5678").await;
    b.click("#dial button").await;
    b.wait_for("document.querySelector('#dial-result').textContent === 'box1/1'")
        .await;
    b.wait_for(
        "[...document.querySelectorAll('.card')].some(c => \
         c.textContent.replace(/\\s/g, '').includes('13912345678') \
         && ['dialling', 'alerting', 'answered'].includes(c.dataset.status))",
    )
    .await;
    let shot = std::env::temp_dir().join("callpop-embed-crm.png");
    b.screenshot(&shot).await;
    b.assert_no_console_errors();
}
