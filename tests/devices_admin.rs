//! The admin console's devices and firmware profiles: the configured box
//! is listed with its state, profile and port; a restart ends the call
//! ringing on it, takes the box down and brings it back (a new call pops),
//! and is audited; profiles are listed, shown and a file checked. Only
//! admins reach any of it; the console does the same in a browser.

mod common;

use callpop::sim::script::Action;
use common::browser::Browser;
use common::*;
use serde_json::{json, Value};

/// The audit log's device restarts, newest first.
async fn restarts(s: &Stack, admin: &str) -> Vec<Value> {
    let (_, _, audit) = http(
        s.addr,
        "GET",
        "/api/audit?action=device.restart",
        Some(admin),
        None,
    )
    .await;
    audit["entries"].as_array().unwrap().clone()
}

fn device<'a>(p: &'a Value, name: &str) -> &'a Value {
    &p["devices"][name]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_restarts_a_box_its_call_ends_and_it_comes_back() {
    let mut s = stack(256).await;
    let admin = login(s.addr, "admin").await;
    let lead = login(s.addr, "lead1").await;
    let (code, _, body) = http(s.addr, "GET", "/api/devices", Some(&admin), None).await;
    assert_eq!(code, 200);
    let box1 = &body["devices"][0];
    assert_eq!(box1["name"], "box1");
    assert_eq!(box1["profile"], "text-box-4port");
    assert_eq!(box1["kind"], "text-box");
    assert_eq!(box1["port"]["kind"], "path");
    assert_eq!(box1["lines"].as_array().unwrap().len(), 4);
    assert_eq!(box1["restartable"], true);
    for (method, path) in [
        ("GET", "/api/devices"),
        ("POST", "/api/devices/box1/restart"),
    ] {
        assert_eq!(
            status(s.addr, method, path, Some(&lead), None).await,
            403,
            "{method} {path}"
        );
    }
    assert_eq!(
        status(
            s.addr,
            "POST",
            "/api/devices/nosuch/restart",
            Some(&admin),
            None
        )
        .await,
        404
    );

    let mut board = wallboard(&s, &admin).await;
    let mut p = Value::Null;
    let up = picture(&mut board, &mut p, |p| device(p, "box1")["up"] == true).await;
    let since = device(&up, "box1")["since"].as_i64().unwrap();
    ring(&mut s.sim, 1, "13812345678").await;
    picture(&mut board, &mut p, |p| p["ringing"]["box1/1"].is_object()).await;
    let (code, _, _) = http(
        s.addr,
        "POST",
        "/api/devices/box1/restart",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(code, 202);
    // The box went down and came back (the wallboard may coalesce the two
    // into one frame: its "since" moved), and the ringing call ended with it.
    picture(&mut board, &mut p, |p| {
        device(p, "box1")["up"] == true
            && device(p, "box1")["since"].as_i64() > Some(since)
            && p["ringing"].as_object().unwrap().is_empty()
    })
    .await;
    ring(&mut s.sim, 2, "13900001111").await;
    picture(&mut board, &mut p, |p| {
        p["ringing"]["box1/2"]["number"] == "13900001111"
    })
    .await;
    s.sim.act(&Action::Hangup { port: 2 }).await.unwrap();

    let audit = restarts(&s, &admin).await;
    let entry = &audit[0];
    assert_eq!(
        (entry["actor"].as_str(), entry["target"].as_str()),
        (Some("admin"), Some("device:box1"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_are_listed_shown_and_checked_for_admins_only() {
    let s = stack(256).await;
    let admin = login(s.addr, "admin").await;
    let (code, _, body) = http(s.addr, "GET", "/api/profiles", Some(&admin), None).await;
    assert_eq!(code, 200);
    let profiles = body["profiles"].as_array().unwrap();
    assert!(profiles.len() >= 10);
    let text_box = profiles
        .iter()
        .find(|p| p["name"] == "text-box-4port")
        .unwrap();
    assert_eq!(text_box["embedded"], true);
    assert_eq!(text_box["used_by"], json!(["box1"]));
    assert!(!text_box["description_zh"].as_str().unwrap().is_empty());

    let (code, _, shown) = http(
        s.addr,
        "GET",
        "/api/profiles/text-box-4port",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert!(shown["toml"]
        .as_str()
        .unwrap()
        .contains("name = \"text-box-4port\""));
    assert_eq!(
        status(s.addr, "GET", "/api/profiles/nosuch", Some(&admin), None).await,
        404
    );

    // A file as an admin would upload it: valid, then broken on one line.
    let file = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/firmware-profiles/simcom-sim800.toml"
    ))
    .unwrap();
    let check = |body: String| {
        let admin = admin.clone();
        async move {
            let (code, _, answer) = http_raw(
                s.addr,
                "POST",
                "/api/profiles/check",
                Some(&admin),
                "application/toml",
                &body,
            )
            .await;
            assert_eq!(code, 200, "{answer}");
            answer
        }
    };
    let ok = check(file.clone()).await;
    assert_eq!(
        (ok["valid"].as_bool(), ok["kind"].as_str()),
        (Some(true), Some("gsm-modem")),
        "{ok}"
    );
    let broken = file.replacen("kind = \"gsm-modem\"", "kind = \"toaster\"", 1);
    let bad = check(broken).await;
    assert_eq!(bad["valid"], false, "{bad}");
    assert!(bad["line"].as_u64().is_some(), "{bad}");
    assert!(!bad["message"].as_str().unwrap().is_empty());

    for user in ["lead1", "agent1"] {
        let token = login(s.addr, user).await;
        for path in ["/api/profiles", "/api/profiles/text-box-4port"] {
            assert_eq!(
                status(s.addr, "GET", path, Some(&token), None).await,
                403,
                "{user} {path}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lists_restarts_and_shows_in_a_browser() {
    let s = stack(256).await;
    let admin = login(s.addr, "admin").await;
    let mut b = Browser::start().await;
    b.goto(&format!("http://{}/admin?tab=devices", s.addr))
        .await;
    b.wait_for("document.getElementById('login')").await;
    b.log_in("admin").await;
    b.wait_for("document.querySelector('[data-test=devices] [data-state=up]')")
        .await;
    b.click("[data-restart=box1]").await;
    b.confirm().await;
    b.wait_for("document.querySelector('.el-message--success')")
        .await;
    let audit = restarts(&s, &admin).await;
    assert_eq!(audit.len(), 1);

    b.click("#tab-profiles").await;
    b.click("[data-profile=text-box-4port]").await;
    b.wait_for(
        "document.querySelector('[data-test=profile-text]')?.innerText.includes('text-box-4port')",
    )
    .await;
    b.assert_no_console_errors();
}
