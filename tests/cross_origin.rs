//! A page on another port of the same host (the same *site* to a browser,
//! so the `SameSite=Strict` session cookie rides along) tries what a
//! cross-site request forgery would: a form that logs the agent out, a
//! `fetch` that saves a customer, and the agent's websocket. Driven in
//! headless Chromium with the agent logged in; every attempt must fail and
//! the session must stay. The pages also forbid being framed.

mod common;

use common::browser::Browser;
use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves `html` to every request on a port of its own: the attacker's page.
async fn attacker_site(html: String) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let html = html.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_port_of_the_same_host_can_neither_write_nor_open_the_websocket() {
    let s = stack(256).await;
    let customers = || async {
        s.store
            .customers()
            .call(|c| c.customer_count())
            .await
            .unwrap()
    };
    let before = customers().await;
    let mut b = Browser::start().await;
    let own = format!("http://{}", s.addr);
    b.call("Page.navigate", json!({ "url": format!("{own}/") }))
        .await;
    b.log_in("agent1").await;
    b.wait_for("document.querySelector('[data-test=conn]')?.dataset.conn === 'connected'")
        .await;
    // Framing is refused by header.
    let headers = b
        .eval(&format!(
            "fetch('{own}/').then(r => [r.headers.get('x-frame-options'), r.headers.get('content-security-policy')])"
        ))
        .await;
    assert_eq!(headers[0], "DENY");
    assert!(headers[1]
        .as_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));

    let evil = attacker_site(format!(
        r#"<!doctype html><html><body>
<form id="f" method="post" action="{own}/api/logout"></form>
<script>
window.results = {{}};
const ws = new WebSocket("ws://{addr}/ws");
ws.onopen = () => {{ window.results.ws = "open"; }};
ws.onmessage = (m) => {{ window.results.ws = "message"; }};
ws.onclose = (e) => {{ window.results.ws = window.results.ws || "refused"; }};
fetch("{own}/api/customers", {{ method: "POST", credentials: "include", mode: "cors",
  headers: {{ "content-type": "text/plain" }}, body: JSON.stringify({{ name: "forged", phones: ["13800138000"] }}) }})
  .then(r => {{ window.results.fetch = r.status; }}, () => {{ window.results.fetch = "blocked"; }});
</script></body></html>"#,
        addr = s.addr
    ))
    .await;
    b.call("Page.navigate", json!({ "url": format!("http://{evil}/") }))
        .await;
    b.wait_for("window.results && window.results.ws && window.results.fetch")
        .await;
    assert_eq!(b.eval("window.results.ws").await, "refused");
    // The form: submitted, it lands on callpop's refusal.
    b.eval("document.getElementById('f').submit(); true").await;
    b.wait_for(&format!("location.href.startsWith('{own}/api/logout') && document.body.textContent.includes('cross_origin')")).await;
    // Nothing was saved, and the agent is still logged in.
    assert_eq!(customers().await, before);
    b.call("Page.navigate", json!({ "url": format!("{own}/") }))
        .await;
    b.wait_for("document.querySelector('[data-test=logout]')")
        .await;
    assert_eq!(
        b.eval(&format!("fetch('{own}/api/me').then(r => r.status)"))
            .await,
        200
    );
}
