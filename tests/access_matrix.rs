//! The access matrix: every route and desktop command of the server ×
//! every role, from the same table the server enforces
//! (`callpop::access::RULES`), checked against the routes the router
//! declares; then own / team / other objects for the actions that reach
//! objects (work orders on calls, customers picked for a pop, work orders
//! read by call, the wallboard's lines and numbers).

mod common;

use callpop::access::{Access, RULES};
use callpop::pop::command::COMMANDS;
use callpop::store::Role;
use common::*;
use serde_json::{json, Value};

/// One login per role (see `common::stack` and the users added below).
const USERS: [(Role, &str); 5] = [
    (Role::Agent, "agent1"),
    (Role::TeamLead, "lead1"),
    (Role::Qa, "qa1"),
    (Role::Marketer, "marketer1"),
    (Role::Admin, "admin"),
];

#[test]
fn the_table_and_the_router_name_the_same_routes_and_commands() {
    let declared = callpop::web::declared_routes();
    for route in &declared {
        assert!(
            callpop::access::rule_for(route).is_some(),
            "{route} has no row in the access table"
        );
    }
    for rule in RULES {
        match rule.action.strip_prefix("ws ") {
            Some(command) => assert!(
                COMMANDS.contains(&command),
                "{} is not a desktop command",
                rule.action
            ),
            None => assert!(
                declared.iter().any(|r| r == rule.action),
                "{} is in the table but not a route",
                rule.action
            ),
        }
    }
    for command in COMMANDS {
        assert!(
            callpop::access::rule_for(&format!("ws {command}")).is_some(),
            "command {command} has no row in the access table"
        );
    }
}

/// `path` with each `{param}` filled so that the object does not exist
/// (the role check comes first: a refused role never learns that).
fn concrete(path: &str, me: &str) -> String {
    path.replace("{name}", me)
        .replace("{key}", "no-such-form")
        .replace("{group}", "calls")
        .replace("{action}", "start")
        .replace("{score}", "999999")
        .replace("{id}", "999999")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_the_roles_its_row_does_not_name() {
    let s = stack(256).await;
    add_user(&s, "qa1", Role::Qa).await;
    add_user(&s, "marketer1", Role::Marketer).await;
    let mut tokens = Vec::new();
    for (role, name) in USERS {
        tokens.push((role, name, login(s.addr, name).await));
    }
    let mut checked = 0;
    let expected = RULES
        .iter()
        .filter(|r| !r.action.starts_with("ws ") && matches!(r.access, Access::Roles(_)))
        .count()
        * USERS.len();
    for rule in RULES {
        let Some((method, path)) = rule.action.split_once(' ') else {
            continue;
        };
        if method == "ws" {
            continue;
        }
        let Access::Roles(grants) = rule.access else {
            // Public: nobody is refused (logout would end the session,
            // so only anonymously).
            let (status, _, body) = http(s.addr, method, &concrete(path, "x"), None, None).await;
            assert!(
                status != 401 && status != 403,
                "{} refused anonymously: {status} {body}",
                rule.action
            );
            continue;
        };
        let (status, _, body) = http(s.addr, method, &concrete(path, "x"), None, None).await;
        assert_eq!(status, 401, "{} without a session: {body}", rule.action);
        for (role, name, token) in &tokens {
            let body_in = (method != "GET" && method != "DELETE").then(|| json!({}));
            let (status, _, body) =
                http(s.addr, method, &concrete(path, name), Some(token), body_in).await;
            let refused = status == 403 && body["error"]["code"] == "forbidden";
            let granted = grants.iter().any(|(r, _)| r == role);
            assert_eq!(
                refused, !granted,
                "{} as {name}: {status} {body}",
                rule.action
            );
            checked += 1;
        }
    }
    assert_eq!(checked, expected, "every role on every route with roles");
}

/// The next `result` or `error` answering command `id`.
async fn answer(ws: &mut Ws, id: &str) -> Value {
    loop {
        let v = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            use futures_util::StreamExt;
            loop {
                if let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = ws.next().await
                {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "result" || v["type"] == "error" {
                        return v;
                    }
                }
            }
        })
        .await
        .expect("an answer within 10 s");
        if v["data"]["id"] == id {
            return v;
        }
    }
}

/// Sends a work order for `call_id` (and `customer`) and returns the
/// answer: `Ok(work order id)` or `Err(error code)`.
async fn save(ws: &mut Ws, id: &str, call_id: &str, customer: Option<i64>) -> Result<i64, String> {
    send(
        ws,
        json!({"type": "workorder.save", "id": id, "data": {
            "call_id": call_id, "customer_id": customer,
            "fields": {"category": "inquiry", "contact": "x", "summary": id}}}),
    )
    .await;
    let v = answer(ws, id).await;
    match v["type"].as_str() {
        Some("result") => Ok(v["data"]["result"]["work_order_id"].as_i64().unwrap()),
        _ => Err(v["data"]["code"].as_str().unwrap().to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_are_reached_only_within_scope() {
    let mut s = stack(256).await;
    add_user(&s, "qa1", Role::Qa).await;
    add_user(&s, "marketer1", Role::Marketer).await;
    let (agent1, agent2, lead1, lead2, admin, qa, marketer) = (
        login(s.addr, "agent1").await,
        login(s.addr, "agent2").await,
        login(s.addr, "lead1").await,
        login(s.addr, "lead2").await,
        login(s.addr, "admin").await,
        login(s.addr, "qa1").await,
        login(s.addr, "marketer1").await,
    );
    // Neither QA nor marketers open the desktop socket.
    for token in [&qa, &marketer] {
        assert!(ws(s.addr, Some(token)).await.is_err());
    }
    let mut desks = Vec::new();
    for token in [&agent1, &agent2, &lead1, &lead2, &admin] {
        let mut d = ws(s.addr, Some(token)).await.unwrap();
        next_of(&mut d, "hello").await;
        desks.push(d);
    }
    let [a1, a2, l1, l2, ad] = &mut desks[..] else {
        unreachable!()
    };
    let mut board_sales = wallboard(&s, &lead1).await;
    let mut board_qa = wallboard(&s, &qa).await;
    // 王伟 calls agent1's line; 赵敏 belongs to agent2.
    ring(&mut s.sim, 1, "13812345678").await;
    let pop = next_of(a1, "call.ringing").await;
    let call_id = pop["data"]["call_id"].as_str().unwrap().to_string();
    let wang = customer_id(&s, "王伟").await;
    let zhao = customer_id(&s, "赵敏").await;

    // The wallboard: the sales lead sees agent1's line and the number,
    // the support lead neither, QA the line with the number masked.
    let (mut p1, mut p2, mut p3) = (Value::Null, Value::Null, Value::Null);
    // The caller's number reaches the board a moment after the ring.
    let numbered = |p: &Value| p["ringing"]["box1/1"]["number"].is_string();
    let sales = picture(&mut board_sales, &mut p1, numbered).await;
    assert_eq!(sales["ringing"]["box1/1"]["number"], "13812345678");
    let checked = picture(&mut board_qa, &mut p3, numbered).await;
    assert_eq!(checked["ringing"]["box1/1"]["number"], "138****5678");
    // A wallboard opened now starts from the picture of the flush that
    // showed the sales lead the call.
    let mut board_support = wallboard(&s, &lead2).await;
    let support = picture(&mut board_support, &mut p2, |_| true).await;
    assert!(
        support["lines"].get("box1/1").is_none() && support["ringing"].get("box1/1").is_none(),
        "another team's line: {support}"
    );

    // Picking a customer: the caller's match, not another agent's customer.
    send(
        a1,
        json!({"type": "customer.select", "id": "sel-1", "data": {"call_id": call_id, "customer_id": zhao}}),
    )
    .await;
    assert_eq!(answer(a1, "sel-1").await["data"]["code"], "forbidden");
    send(
        a1,
        json!({"type": "customer.select", "id": "sel-2", "data": {"call_id": call_id, "customer_id": wang}}),
    )
    .await;
    assert_eq!(answer(a1, "sel-2").await["type"], "result");

    // Work orders on the call: its agent, their lead and admins; not a
    // teammate it was not offered to, not another team's lead.
    let own = save(a1, "own", &call_id, Some(wang)).await;
    assert!(own.is_ok(), "{own:?}");
    assert_eq!(
        save(a1, "theirs", &call_id, Some(zhao)).await,
        Err("forbidden".into()),
        "another agent's customer on one's own call"
    );
    assert_eq!(
        save(a2, "mate", &call_id, Some(wang)).await,
        Err("forbidden".into())
    );
    assert_eq!(
        save(l2, "other-team", &call_id, None).await,
        Err("forbidden".into())
    );
    assert!(save(l1, "lead", &call_id, Some(wang)).await.is_ok());
    assert!(save(ad, "admin", &call_id, Some(zhao)).await.is_ok());
    assert_eq!(
        save(a1, "nowhere", "no-such-call", None).await,
        Err("not_found".into())
    );
    assert_eq!(
        save(a1, "nobody", &call_id, Some(999_999)).await,
        Err("not_found".into())
    );

    // Read back by call: each within scope.
    let path = format!("/api/workorders?call_id={call_id}");
    let count = |token: String| {
        let path = path.clone();
        let addr = s.addr;
        async move {
            let (status, _, body) = http(addr, "GET", &path, Some(&token), None).await;
            (status, body["work_orders"].as_array().map_or(0, Vec::len))
        }
    };
    assert_eq!(count(agent1.clone()).await, (200, 1));
    assert_eq!(count(agent2.clone()).await, (200, 0));
    assert_eq!(count(lead1.clone()).await, (200, 2), "agent1's and lead1's");
    assert_eq!(count(lead2.clone()).await, (200, 0));
    assert_eq!(count(qa.clone()).await, (200, 3));
    assert_eq!(count(marketer.clone()).await.0, 403);

    // QA, who sees numbers masked, cannot uncover them digit by digit.
    for path in ["/api/history?number=1381", "/api/recordings?number=13812"] {
        let (status, _, body) = http(s.addr, "GET", path, Some(&qa), None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("number_incomplete")),
            "{path}"
        );
    }
    let (status, _, _) = http(
        s.addr,
        "GET",
        "/api/history?number=13812345678",
        Some(&qa),
        None,
    )
    .await;
    assert_eq!(status, 200, "a whole number is a fair search");

    // After the call has ended the store decides, by the same rule.
    use callpop::sim::script::Action;
    s.sim.act(&Action::Answer { port: 1 }).await.unwrap();
    next_of(a1, "call.answered").await;
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    next_of(a1, "call.ended").await;
    let mut later = Err(String::new());
    for attempt in 0..50 {
        later = save(a2, &format!("mate-after-{attempt}"), &call_id, None).await;
        if later != Err("not_found".into()) {
            break;
        }
        // The CDR is written just after the end reaches the desktop.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(later, Err("forbidden".into()));
    assert!(save(a1, "own-after", &call_id, Some(wang)).await.is_ok());
}

/// One scope rule for a call's history, recording and work orders: a
/// team-line call that nobody answered is the team's, so its team lead
/// finds it in the history and opens its recording; another team's lead
/// and another agent do neither.
#[test]
fn a_team_line_call_s_recording_opens_for_whoever_s_history_lists_it() {
    use callpop::calls::Cdr;
    use callpop::event::{Direction, Outcome};
    use callpop::store::{CallQuery, Scope, Store};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("scope.db")).unwrap();
    let users = store.users();
    let agent = users
        .add_user("a1", "A1", Role::Agent, Some("sales"), None)
        .unwrap();
    let now = callpop::store::now_ms();
    store
        .calls()
        .write_cdr(&Cdr {
            call_uid: "team-call".into(),
            line: "box1/2".into(),
            device: "box1".into(),
            direction: Direction::Inbound,
            outcome: Outcome::Missed,
            presentation: "available",
            raw_number: Some("13812345678".into()),
            number_e164: None,
            number_national: Some("13812345678".into()),
            caller_name: None,
            customer_id: None,
            match_rule: None,
            ring_count: 5,
            started_at: now - 60_000,
            first_ring_at: Some(now - 60_000),
            cid_at: None,
            answered_at: None,
            ended_at: now - 30_000,
            dtmf: String::new(),
            agent_user_id: None,
            failure: None,
            blocked: None,
        })
        .unwrap();
    store
        .calls()
        .set_call_routing("team-call", None, Some("sales"))
        .unwrap();
    let rec = store
        .recordings()
        .recording_started("team-call", "box1/2", "x.wav", 8000)
        .unwrap();
    let sales = Scope::Team("sales".into());
    let history = store
        .calls()
        .search_calls(&CallQuery::default(), &sales)
        .unwrap();
    assert_eq!(history.calls.len(), 1, "the team lead's history lists it");
    assert!(store.recordings().recording_in_scope(rec, &sales).unwrap());
    for other in [Scope::Team("support".into()), Scope::Agent(agent)] {
        assert!(store
            .calls()
            .search_calls(&CallQuery::default(), &other)
            .unwrap()
            .calls
            .is_empty());
        assert!(!store.recordings().recording_in_scope(rec, &other).unwrap());
    }
}
