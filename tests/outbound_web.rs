//! Click-to-dial and the call-back queue through the web API, on the whole
//! stack (store, simulated box, driver, engine, hub, server): missed →
//! claimed → called back → closed; two agents claiming one item; a return
//! call closing its item; refusals with codes the page words.

mod common;

use callpop::sim::far_end::FarEnd;
use callpop::sim::script::Action;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

/// A missed call on `port` from `number`: four rings, the caller gives up.
async fn missed_call(s: &mut Stack, port: u8, number: &str) {
    s.sim.act(&Action::Ring { port }).await.unwrap();
    s.sim
        .act(&Action::Cid {
            port,
            number: number.into(),
            name: None,
        })
        .await
        .unwrap();
    for _ in 0..3 {
        s.sim.act(&Action::Ring { port }).await.unwrap();
    }
    s.sim.act(&Action::Hangup { port }).await.unwrap();
}

/// Waits until the user's queue satisfies `pred`; the queue then.
async fn queue_until(s: &Stack, token: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let (code, _, body) = http(s.addr, "GET", "/api/followups", Some(token), None).await;
            assert_eq!(code, 200, "{body}");
            let items = body["items"].as_array().cloned().unwrap_or_default();
            if pred(&items) {
                return items;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the queue came to the expected state")
}

fn live(items: &[Value], number: &str) -> Option<Value> {
    items
        .iter()
        .find(|i| i["number_national"] == number && i["state"] != "closed")
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_claimed_called_back_closed() {
    let mut s = stack(64).await;
    let a1 = login(s.addr, "agent1").await;
    let a2 = login(s.addr, "agent2").await;
    // Both agents are in sales; box1/2 is the sales group line.
    missed_call(&mut s, 2, "13812345678").await;
    let items = queue_until(&s, &a1, |i| live(i, "13812345678").is_some()).await;
    let item = live(&items, "13812345678").unwrap();
    assert_eq!(item["state"], "open");
    assert_eq!(item["calls"], 1);
    assert_eq!(item["customer_name"], "王伟");
    // Where the number belongs (归属地) and its carrier, from the number data.
    assert_eq!(item["info"]["carrier"], "中国移动");
    assert!(item["info"]["place"]["province"].is_string(), "{item}");
    let id = item["id"].as_i64().unwrap();
    // The wallboard counts it for the team's lead; agents have no summary.
    let lead = login(s.addr, "lead1").await;
    let (code, _, summary) = http(s.addr, "GET", "/api/followups/summary", Some(&lead), None).await;
    assert_eq!(
        (code, &summary["open"], &summary["overdue"]),
        (200, &json!(1), &json!(0))
    );
    let (code, _, _) = http(s.addr, "GET", "/api/followups/summary", Some(&a1), None).await;
    assert_eq!(code, 403);
    // A second missed call from the number counts on the same item.
    missed_call(&mut s, 2, "13812345678").await;
    queue_until(&s, &a2, |i| {
        live(i, "13812345678").is_some_and(|x| x["calls"] == 2 && x["id"] == id)
    })
    .await;

    // Two agents claim at once: one wins, the other is told who.
    let claim = format!("/api/followups/{id}/claim");
    let (first, second) = tokio::join!(
        http(s.addr, "POST", &claim, Some(&a1), None),
        http(s.addr, "POST", &claim, Some(&a2), None)
    );
    let codes = [first.0, second.0];
    assert!(codes.contains(&200) && codes.contains(&409), "{codes:?}");
    let (winner, loser, loser_body) = if first.0 == 200 {
        (&a1, &a2, second.2)
    } else {
        (&a2, &a1, first.2)
    };
    assert_eq!(loser_body["error"]["code"], "followup_taken");
    assert!(loser_body["error"]["params"]["by"].is_string());
    // The loser cannot dial it either.
    let (code, _, body) = http(
        s.addr,
        "POST",
        "/api/calls/dial",
        Some(loser),
        Some(json!({ "followup_id": id })),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("followup_taken"))
    );

    // The winner calls back; the first attempt is busy: still theirs.
    s.sim.far().set(FarEnd::Busy);
    let (code, _, started) = http(
        s.addr,
        "POST",
        "/api/calls/dial",
        Some(winner),
        Some(json!({ "followup_id": id })),
    )
    .await;
    assert_eq!(code, 201, "{started}");
    let dialled = s.sim.far().dialled(1).await;
    assert_eq!(dialled[0].1, "13812345678");
    queue_until(&s, winner, |i| {
        i.iter()
            .any(|x| x["id"] == id && x["state"] == "called" && x["callback_outcome"] == "busy")
    })
    .await;
    // The second is answered and ends: the item is closed as called back.
    s.sim.far().set(FarEnd::Answer {
        after: Duration::from_millis(100),
        talk: Some(Duration::from_millis(300)),
    });
    let (code, _, body) = http(
        s.addr,
        "POST",
        "/api/calls/dial",
        Some(winner),
        Some(json!({ "followup_id": id })),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let items = queue_until(&s, winner, |i| {
        i.iter().any(|x| x["id"] == id && x["state"] == "closed")
    })
    .await;
    let done = items.iter().find(|x| x["id"] == id).unwrap();
    assert_eq!(done["close_reason"], "called_back");
    assert_eq!(done["attempts"], 2);
    // The CDR of the call-back: outbound, answered, the agent's.
    let calls = s.store.calls().call(|c| c.recent(100)).await.unwrap();
    let back: Vec<_> = calls.iter().filter(|c| c.direction == "outbound").collect();
    assert_eq!(back.len(), 2);
    assert_eq!(back[1].outcome.as_deref(), Some("answered"));
    assert!(back[1].agent_user_id.is_some());
    assert_eq!(back[1].raw_number.as_deref(), Some("13812345678"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_call_closes_the_item_and_refusals_have_codes() {
    let mut s = stack(64).await;
    let a1 = login(s.addr, "agent1").await;
    let lead2 = login(s.addr, "lead2").await;
    missed_call(&mut s, 1, "13600000001").await;
    queue_until(&s, &a1, |i| live(i, "13600000001").is_some()).await;
    // The caller calls again and is answered.
    ring(&mut s.sim, 1, "13600000001").await;
    s.sim.act(&Action::Answer { port: 1 }).await.unwrap();
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    let items = queue_until(&s, &a1, |i| {
        i.iter()
            .any(|x| x["number_national"] == "13600000001" && x["state"] == "closed")
    })
    .await;
    assert!(items.iter().any(|x| x["close_reason"] == "answered_again"));

    // Who may dial: the page offers 回拨 by /api/me.
    let (_, _, me) = http(s.addr, "GET", "/api/me", Some(&a1), None).await;
    assert_eq!(me["can_dial"], true);
    let (_, _, me) = http(s.addr, "GET", "/api/me", Some(&lead2), None).await;
    assert_eq!(me["can_dial"], false, "support has no line");
    let dial = |token: &str, body: Value| {
        let token = token.to_string();
        let addr = s.addr;
        async move { http(addr, "POST", "/api/calls/dial", Some(&token), Some(body)).await }
    };
    for (number, code, error) in [
        ("110", 422, "dial_emergency"),
        ("+1 415 555 2671", 422, "dial_forbidden"),
        ("16001234", 422, "dial_forbidden"),
        ("", 400, "number_required"),
    ] {
        let (got, _, body) = dial(&a1, json!({ "number": number })).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (code, Some(error)),
            "{number}: {body}"
        );
    }
    let (got, _, body) = dial(&lead2, json!({ "number": "13912345678" })).await;
    assert_eq!(
        (got, body["error"]["code"].as_str()),
        (409, Some("no_dial_line"))
    );
    let (got, _, body) = dial(&a1, json!({ "number": "13912345678", "line": "box1/3" })).await;
    assert_eq!(
        (got, body["error"]["code"].as_str()),
        (403, Some("line_not_yours")),
        "{body}"
    );

    // A line busy with a dial refuses a second; the agent cancels.
    s.sim.far().set(FarEnd::NoAnswer { after: None });
    let (got, _, started) = dial(&a1, json!({ "number": "139 1234 5678", "line": "box1/1" })).await;
    assert_eq!(got, 201, "{started}");
    let (got, _, body) = dial(&a1, json!({ "number": "13912345679", "line": "box1/1" })).await;
    assert_eq!(
        (
            got,
            body["error"]["code"].as_str(),
            body["error"]["params"]["line"].as_str()
        ),
        (409, Some("line_busy"), Some("box1/1"))
    );
    let call = started["call_id"].as_str().unwrap();
    // Someone else's call is not theirs to end.
    let hang = format!("/api/calls/{call}/hangup");
    assert_eq!(status(s.addr, "POST", &hang, Some(&lead2), None).await, 404);
    assert_eq!(status(s.addr, "POST", &hang, Some(&a1), None).await, 204);
    s.sim.far().hung_up(1).await;
    // A bad close reason is refused with the reasons offered.
    missed_call(&mut s, 1, "13700000001").await;
    let items = queue_until(&s, &a1, |i| live(i, "13700000001").is_some()).await;
    let id = live(&items, "13700000001").unwrap()["id"].as_i64().unwrap();
    let close = format!("/api/followups/{id}/close");
    let (got, _, body) = http(
        s.addr,
        "POST",
        &close,
        Some(&a1),
        Some(json!({ "reason": "bored" })),
    )
    .await;
    assert_eq!(
        (got, body["error"]["code"].as_str()),
        (400, Some("close_reason_unknown"))
    );
    let (got, _, _) = http(
        s.addr,
        "POST",
        &close,
        Some(&a1),
        Some(json!({ "reason": "wrong_number" })),
    )
    .await;
    assert_eq!(got, 204);
    let (got, _, _) = http(
        s.addr,
        "POST",
        &close,
        Some(&a1),
        Some(json!({ "reason": "resolved" })),
    )
    .await;
    assert_eq!(got, 409);
    // An item on a line that is not theirs is not theirs to see.
    assert_eq!(
        status(
            s.addr,
            "POST",
            &format!("/api/followups/{id}/claim"),
            Some(&lead2),
            None
        )
        .await,
        404
    );
}

/// An admin gives the support team a pool of lines in the console: its
/// lead, who has no line of their own, can dial through it at once, and
/// only through lines that dial; nobody else may change pools.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_a_teams_dial_pool() {
    let s = stack(64).await;
    let admin = login(s.addr, "admin").await;
    let lead2 = login(s.addr, "lead2").await;
    let a1 = login(s.addr, "agent1").await;
    let (_, _, me) = http(s.addr, "GET", "/api/me", Some(&lead2), None).await;
    assert_eq!(me["can_dial"], false);
    let (code, _, listed) = http(s.addr, "GET", "/api/dial-pools", Some(&admin), None).await;
    assert_eq!(code, 200);
    assert_eq!(listed["pools"], json!([]));
    assert_eq!(
        listed["dialling_lines"],
        json!(["box1/1", "box1/2", "box1/3", "box1/4"])
    );
    let put = |token: &str, body: Value| {
        let token = token.to_string();
        let addr = s.addr;
        async move { http(addr, "PUT", "/api/dial-pools", Some(&token), Some(body)).await }
    };
    let (code, _, body) = put(&admin, json!({ "team": "support", "lines": ["box9/1"] })).await;
    assert_eq!(
        (
            code,
            body["error"]["code"].as_str(),
            body["error"]["params"]["line"].as_str()
        ),
        (400, Some("line_cannot_dial"), Some("box9/1"))
    );
    let (code, _, body) = put(&admin, json!({ "team": " ", "lines": [] })).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("team_invalid"))
    );
    let (code, _, _) = put(&a1, json!({ "team": "sales", "lines": ["box1/4"] })).await;
    assert_eq!(code, 403);
    let (code, _, body) = put(
        &admin,
        json!({ "team": "support", "lines": ["box1/4", "box1/3", "box1/4"] }),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["lines"], json!(["box1/4", "box1/3"]));
    let (_, _, me) = http(s.addr, "GET", "/api/me", Some(&lead2), None).await;
    assert_eq!(me["can_dial"], true);
    s.sim.far().set(FarEnd::NoAnswer { after: None });
    let (code, _, started) = http(
        s.addr,
        "POST",
        "/api/calls/dial",
        Some(&lead2),
        Some(json!({ "number": "13912345678" })),
    )
    .await;
    assert_eq!(
        (code, started["line"].as_str()),
        (201, Some("box1/4")),
        "{started}"
    );
    let hang = format!("/api/calls/{}/hangup", started["call_id"].as_str().unwrap());
    assert_eq!(status(s.addr, "POST", &hang, Some(&lead2), None).await, 204);
    // Stored, listed and audited.
    let (_, _, listed) = http(s.addr, "GET", "/api/dial-pools", Some(&admin), None).await;
    assert_eq!(
        listed["pools"],
        json!([{ "team": "support", "lines": ["box1/4", "box1/3"] }])
    );
    let audit = s.store.users().call(|u| u.recent_audit(20)).await.unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "dial_pool.set" && a.target.as_deref() == Some("team:support")));
    // Emptied: the lead has no line again.
    let (code, _, _) = put(&admin, json!({ "team": "support", "lines": [] })).await;
    assert_eq!(code, 200);
    let (_, _, me) = http(s.addr, "GET", "/api/me", Some(&lead2), None).await;
    assert_eq!(me["can_dial"], false);
    let (_, _, listed) = http(s.addr, "GET", "/api/dial-pools", Some(&admin), None).await;
    assert_eq!(listed["pools"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blacklisted_caller_on_a_caller_id_box_pops_marked() {
    let mut s = stack(64).await;
    let admin = login(s.addr, "admin").await;
    let a1 = login(s.addr, "agent1").await;
    // Admins keep the list: a whole number in any spelling, or a prefix.
    let add = |body: Value| {
        let (addr, admin) = (s.addr, admin.clone());
        async move {
            http(
                addr,
                "POST",
                "/api/call-blacklist",
                Some(&admin),
                Some(body),
            )
            .await
        }
    };
    let (code, _, body) = add(json!({ "number": "+86 139-0000-9999", "reason": "恶意骚扰" })).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["number"], "13900009999");
    for (bad, error) in [
        (
            json!({ "number": "13900009999", "reason": " " }),
            "reason_required",
        ),
        (json!({ "number": "abc", "reason": "x" }), "number_invalid"),
        (
            json!({ "number": "17x", "prefix": true, "reason": "x" }),
            "prefix_invalid",
        ),
    ] {
        let (code, _, body) = add(bad).await;
        assert_eq!((code, body["error"]["code"].as_str()), (400, Some(error)));
    }
    let (code, _, _) = http(s.addr, "GET", "/api/call-blacklist", Some(&a1), None).await;
    assert_eq!(code, 403, "agents do not keep the list");

    // The box cannot refuse a call: it pops, marked, and is not queued.
    let mut desk = ws(s.addr, Some(&a1)).await.unwrap();
    next_of(&mut desk, "hello").await;
    ring(&mut s.sim, 1, "13900009999").await;
    let pop = next_of(&mut desk, "call.ringing").await;
    assert_eq!(pop["data"]["blocked"], "恶意骚扰");
    for _ in 0..3 {
        s.sim.act(&Action::Ring { port: 1 }).await.unwrap();
    }
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    next_of(&mut desk, "call.ended").await;
    // Another missed call after it is queued; the blacklisted one never is.
    missed_call(&mut s, 1, "13600000002").await;
    let items = queue_until(&s, &a1, |i| live(i, "13600000002").is_some()).await;
    assert!(live(&items, "13900009999").is_none(), "{items:?}");
    // Removed, it pops plain again.
    let (_, _, list) = http(s.addr, "GET", "/api/call-blacklist", Some(&admin), None).await;
    let id = list["entries"][0]["id"].as_i64().unwrap();
    let gone = format!("/api/call-blacklist/{id}");
    assert_eq!(
        status(s.addr, "DELETE", &gone, Some(&admin), None).await,
        204
    );
    assert_eq!(
        status(s.addr, "DELETE", &gone, Some(&admin), None).await,
        404
    );
}
