//! Logins and sessions as an attacker and a careful admin meet them:
//! repeated wrong passwords are slowed down (the right one too, while
//! throttled), and a password change or reset ends every other session of
//! the user, open desktops included (close code 4003).

mod common;

use common::*;
use futures_util::StreamExt;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

async fn try_login(s: &Stack, password: &str) -> (u16, serde_json::Value) {
    let (status, _, body) = http(
        s.addr,
        "POST",
        "/api/login",
        None,
        Some(json!({"username": "agent1", "password": password})),
    )
    .await;
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_slowed_down_and_audited() {
    let s = stack(256).await;
    for _ in 0..3 {
        let (status, body) = try_login(&s, "wrong").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("bad_login"))
        );
    }
    // The fourth try comes too soon: refused before the password is looked
    // at, even the right one.
    let (status, body) = try_login(&s, PASSWORD).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "login_throttled");
    // Once the delay has passed, the right password is let in.
    let mut waited = 0;
    loop {
        let (status, body) = try_login(&s, PASSWORD).await;
        if status == 200 {
            break;
        }
        assert_eq!(body["error"]["code"], "login_throttled");
        waited += 1;
        assert!(waited < 100, "still throttled after 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failed = s
        .store
        .users()
        .call(|st| st.recent_audit(100))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "login.failed")
        .count();
    assert_eq!(failed, 3);
    let admin = login(s.addr, "admin").await;
    let (status, _, locked) = http(s.addr, "GET", "/api/logins/locked", Some(&admin), None).await;
    assert_eq!(
        (status, locked["locked"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let agent = login(s.addr, "agent2").await;
    assert_eq!(
        status_of(&s, "GET", "/api/logins/locked", &agent).await,
        403,
        "admins only"
    );
}

async fn status_of(s: &Stack, method: &str, path: &str, token: &str) -> u16 {
    status(s.addr, method, path, Some(token), None).await
}

/// The close code the desktop socket ends with (it must end within 10 s).
async fn closed_with(ws: &mut Ws) -> u16 {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map_or(0, |f| f.code.into()),
                Some(Ok(_)) => {}
                other => panic!("the socket ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("closed within 10 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_or_reset_ends_every_other_session_and_desktop() {
    let s = stack(256).await;
    let (kept, stolen) = (login(s.addr, "agent1").await, login(s.addr, "agent1").await);
    let mut stolen_desk = ws(s.addr, Some(&stolen)).await.unwrap();
    next_of(&mut stolen_desk, "hello").await;
    let mut kept_desk = ws(s.addr, Some(&kept)).await.unwrap();
    next_of(&mut kept_desk, "hello").await;
    let (status, _, body) = http(
        s.addr,
        "PUT",
        "/api/users/agent1/password",
        Some(&kept),
        Some(json!({"password": "a-new-long-passphrase", "current": PASSWORD})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(closed_with(&mut stolen_desk).await, 4003);
    assert_eq!(status_of(&s, "GET", "/api/me", &stolen).await, 401);
    assert_eq!(status_of(&s, "GET", "/api/me", &kept).await, 200);
    // An admin's reset ends the session that changed it too.
    let admin = login(s.addr, "admin").await;
    let (status, _, _) = http(
        s.addr,
        "PUT",
        "/api/users/agent1/password",
        Some(&admin),
        Some(json!({"password": "reset-by-the-admin-7"})),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(closed_with(&mut kept_desk).await, 4003);
    assert_eq!(status_of(&s, "GET", "/api/me", &kept).await, 401);
    assert_eq!(status_of(&s, "GET", "/api/me", &admin).await, 200);
    // A team lead's wallboard goes the same way.
    let lead = login(s.addr, "lead1").await;
    let mut board = wallboard(&s, &lead).await;
    let mut picture_now = serde_json::Value::Null;
    picture(&mut board, &mut picture_now, |_| true).await;
    let (status, _, _) = http(
        s.addr,
        "PUT",
        "/api/users/lead1/password",
        Some(&admin),
        Some(json!({"password": "reset-by-the-admin-8"})),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(closed_with(&mut board).await, 4003);
}

/// Status and error code of a request with the session cookie and the
/// given CSRF header (or none), as a page of another origin could send it.
async fn with_csrf(s: &Stack, token: &str, csrf: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = json!({"password": "yet-another-passphrase", "current": PASSWORD}).to_string();
    let csrf = csrf
        .map(|c| format!("X-CSRF-Token: {c}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "PUT /api/users/agent1/password HTTP/1.1\r\nHost: test\r\nConnection: close\r\nCookie: callpop_session={token}\r\n{csrf}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body: serde_json::Value = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or_default();
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_without_the_session_s_csrf_token_is_refused() {
    let s = stack(256).await;
    let (status, _, answer) = http(
        s.addr,
        "POST",
        "/api/login",
        None,
        Some(json!({"username": "agent1", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 200);
    let token = login(s.addr, "agent1").await;
    let (_, _, me) = http(s.addr, "GET", "/api/me", Some(&token), None).await;
    let csrf = me["csrf_token"]
        .as_str()
        .expect("/api/me hands the page its token");
    assert_ne!(
        answer["csrf_token"], me["csrf_token"],
        "each session has its own"
    );
    assert_eq!(with_csrf(&s, &token, None).await, (403, "csrf".into()));
    let other = answer["csrf_token"].as_str().unwrap();
    assert_eq!(
        with_csrf(&s, &token, Some(other)).await,
        (403, "csrf".into())
    );
    assert_eq!(with_csrf(&s, &token, Some(csrf)).await.0, 204);
}

/// With `login_lock_after = 3`: the third wrong password in a row locks
/// the account (even the right password is refused, and the lock is
/// audited), an admin sees and lifts it, and the user logs in again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_wrong_passwords_lock_the_account_until_an_admin_lifts_it() {
    let s = stack_with(tempfile::tempdir().unwrap(), 256, |c| {
        c.login_free_failures = 2;
        c.login_lock_after = 3;
        c.login_lock_minutes = 15;
    })
    .await;
    let admin = login(s.addr, "admin").await;
    let mut failures = 0;
    let mut tries = 0;
    // Two free failures, then the third once its 1 s wait has passed.
    while failures < 3 {
        tries += 1;
        assert!(tries < 200, "the third failure never got through");
        let (status, body) = try_login(&s, "wrong").await;
        match (status, body["error"]["code"].as_str()) {
            (401, Some("bad_login")) => failures += 1,
            (429, Some("login_throttled")) => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("unexpected {other:?} {body}"),
        }
    }
    let (status, body) = try_login(&s, PASSWORD).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("login_locked"))
    );
    let (_, _, locked) = http(s.addr, "GET", "/api/logins/locked", Some(&admin), None).await;
    assert_eq!(locked["locked"][0]["username"], "agent1", "{locked}");
    let audit = s
        .store
        .users()
        .call(|st| st.recent_audit(100))
        .await
        .unwrap();
    assert!(audit
        .iter()
        .any(|e| e.action == "login.locked" && e.target.as_deref() == Some("agent1")));
    assert_eq!(
        status_of(&s, "DELETE", "/api/logins/locked/agent1", &admin).await,
        204
    );
    let (status, body) = try_login(&s, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
}
