//! The customer directory through the web API on the whole stack: who
//! finds, reads and changes which customer (each role × own / another's /
//! the team's), masking, audited edits with before and after, notes,
//! hand-over, soft delete and restore, and the refusals' codes.

mod common;

use callpop::store::Role;
use common::*;
use serde_json::{json, Value};

async fn find(s: &Stack, token: &str, query: &str) -> (u16, Value) {
    let (code, _, body) = http(
        s.addr,
        "GET",
        &format!("/api/customers?{query}"),
        Some(token),
        None,
    )
    .await;
    (code, body)
}

fn names(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn id_of(body: &Value, name: &str) -> i64 {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {body}"))["id"]
        .as_i64()
        .unwrap()
}

fn q(s: &str) -> String {
    s.replace(' ', "%20")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_reaches_its_own_customers() {
    let s = stack(64).await;
    add_user(&s, "qa1", Role::Qa).await;
    let [admin, agent1, agent2, lead1, lead2, qa] =
        login_all(&s, ["admin", "agent1", "agent2", "lead1", "lead2", "qa1"]).await;

    let (code, all) = find(&s, &admin, "").await;
    assert_eq!(code, 200, "{all}");
    assert_eq!(names(&all).len(), 4);
    let zhao = id_of(&all, "赵敏");
    let wang = id_of(&all, "王伟");
    // agent2 owns 赵敏; lead1 leads agent2's team (sales); the others none.
    for (token, expect) in [
        (&agent2, vec!["赵敏"]),
        (&lead1, vec!["赵敏"]),
        (&agent1, vec![]),
        (&lead2, vec![]),
    ] {
        let (code, body) = find(&s, token, "").await;
        assert_eq!(
            (code, names(&body)),
            (200, expect.iter().map(|n| n.to_string()).collect())
        );
    }
    // QA reads everyone, numbers masked, and may not search by fragments.
    let (_, body) = find(&s, &qa, "name=%E8%B5%B5").await;
    assert_eq!(body["items"][0]["phones"][0]["raw"], "139****1111");
    let (code, body) = find(&s, &qa, "number=0000").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("number_incomplete"))
    );
    let (_, body) = find(&s, &agent2, "number=0000").await;
    assert_eq!(
        body["items"][0]["phones"][0]["raw"], "13900001111",
        "their own, whole"
    );
    let (code, body) = find(&s, &admin, "number=13").await;
    assert_eq!(
        (
            code,
            body["error"]["code"].as_str(),
            body["error"]["params"]["number"].as_str()
        ),
        (400, Some("number_fragment_short"), Some("13"))
    );
    // By fragment, written any way; by company prefix.
    let (_, body) = find(&s, &admin, &q("number=021-6123")).await;
    assert_eq!(names(&body).len(), 2, "{body}");
    let (_, body) = find(&s, &admin, "company=%E5%8D%8E%E4%BF%A1&limit=2").await;
    assert_eq!(names(&body).len(), 2);
    let (_, more) = find(
        &s,
        &admin,
        &format!(
            "company=%E5%8D%8E%E4%BF%A1&limit=2&after={}",
            body["next"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(names(&more).len(), 1);
    assert!(more["next"].is_null());

    // The page: agent2 reads 赵敏's; agent1 and lead2 are told there is none.
    let page = format!("/api/customers/{zhao}");
    let (code, _, body) = http(s.addr, "GET", &page, Some(&agent2), None).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["customer"]["name"], "赵敏");
    assert!(body["calls"].is_array() && body["work_orders"].is_array() && body["notes"].is_array());
    for token in [&agent1, &lead2] {
        let (code, _, body) = http(s.addr, "GET", &page, Some(token), None).await;
        assert_eq!(
            (code, body["error"]["code"].as_str()),
            (404, Some("customer_not_found"))
        );
    }

    // Edits: the owner saves, audited with before and after; QA may not.
    let edit = json!({
        "name": "赵敏", "company": "远大集团",
        "phones": [{ "number": "139 0000 1111" }, { "number": "010-6552 8888", "label": "办公室" }],
        "tags": ["VIP"],
    });
    let (code, _, body) = http(s.addr, "PUT", &page, Some(&agent2), Some(edit.clone())).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["customer"]["company"], "远大集团");
    assert_eq!(body["customer"]["phones"][1]["label"], "办公室");
    let audit = s.store.users().call(|u| u.recent_audit(1)).await.unwrap();
    assert_eq!(audit[0].action, "customer.update");
    assert_eq!(audit[0].detail["before"]["company"], "");
    assert_eq!(audit[0].detail["after"]["company"], "远大集团");
    assert_eq!(
        status(s.addr, "PUT", &page, Some(&qa), Some(edit.clone())).await,
        403
    );
    assert_eq!(
        status(s.addr, "PUT", &page, Some(&agent1), Some(edit.clone())).await,
        404
    );
    for (body, code) in [
        (json!({ "name": " " }), "name_required"),
        (
            json!({ "name": "赵敏", "phones": [{ "number": "abc" }] }),
            "number_invalid",
        ),
        (
            json!({ "name": "赵敏", "phones": [{ "number": "139****0000" }] }),
            "number_masked",
        ),
    ] {
        let (got, _, reply) = http(s.addr, "PUT", &page, Some(&agent2), Some(body)).await;
        assert_eq!(
            (got, reply["error"]["code"].as_str()),
            (400, Some(code)),
            "{reply}"
        );
    }
    let (got, _, _) = http(
        s.addr,
        "PUT",
        &page,
        Some(&agent2),
        Some(json!({ "name": "赵敏", "bogus": 1 })),
    )
    .await;
    assert!(got == 400 || got == 422, "unknown fields refused: {got}");

    // Notes.
    let notes = format!("{page}/notes");
    let (code, _, body) = http(
        s.addr,
        "POST",
        &notes,
        Some(&agent2),
        Some(json!({ "body": "客户要求下周回访" })),
    )
    .await;
    assert_eq!(
        (code, body["note"]["author"].as_str()),
        (201, Some("agent2"))
    );
    let (code, _, body) = http(
        s.addr,
        "POST",
        &notes,
        Some(&agent2),
        Some(json!({ "body": "  " })),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("note_length"))
    );
    assert_eq!(
        status(
            s.addr,
            "POST",
            &notes,
            Some(&qa),
            Some(json!({ "body": "x" }))
        )
        .await,
        403
    );
    let (_, _, body) = http(s.addr, "GET", &page, Some(&lead1), None).await;
    assert_eq!(body["notes"][0]["body"], "客户要求下周回访");

    // agent2 leaves: lead1 hands all of theirs to agent1, not to support.
    let hand = "/api/customers/hand-over";
    assert_eq!(
        status(
            s.addr,
            "POST",
            hand,
            Some(&agent1),
            Some(json!({ "to": "agent1", "from": "agent2" }))
        )
        .await,
        403
    );
    let (code, _, body) = http(
        s.addr,
        "POST",
        hand,
        Some(&lead1),
        Some(json!({ "to": "lead2", "from": "agent2" })),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (403, Some("user_not_in_team"))
    );
    let (code, _, body) = http(
        s.addr,
        "POST",
        hand,
        Some(&lead1),
        Some(json!({ "to": "agent1" })),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("hand_over_what"))
    );
    let (code, _, body) = http(
        s.addr,
        "POST",
        hand,
        Some(&lead1),
        Some(json!({ "to": "agent1", "from": "agent2" })),
    )
    .await;
    assert_eq!((code, body["moved"].as_u64()), (200, Some(1)), "{body}");
    let (_, body) = find(&s, &agent1, "").await;
    assert_eq!(names(&body), ["赵敏"]);
    // An admin hands one customer over by id.
    let (code, _, body) = http(
        s.addr,
        "POST",
        hand,
        Some(&admin),
        Some(json!({ "to": "agent2", "customers": [wang] })),
    )
    .await;
    assert_eq!((code, body["moved"].as_u64()), (200, Some(1)));

    // Soft delete by the team lead, restore by an admin only.
    assert_eq!(
        status(s.addr, "DELETE", &page, Some(&agent1), None).await,
        403
    );
    assert_eq!(
        status(s.addr, "DELETE", &page, Some(&lead1), None).await,
        204
    );
    let (_, body) = find(&s, &admin, "").await;
    assert!(!names(&body).contains(&"赵敏".to_string()));
    let (_, body) = find(&s, &admin, "deleted=true").await;
    assert_eq!(names(&body), ["赵敏"]);
    let (_, body) = find(&s, &lead1, "deleted=true").await;
    assert!(
        !names(&body).contains(&"赵敏".to_string()),
        "only admins list the deleted"
    );
    let (code, _, _) = http(s.addr, "GET", &page, Some(&lead1), None).await;
    assert_eq!(code, 404);
    let restore = format!("{page}/restore");
    assert_eq!(
        status(s.addr, "POST", &restore, Some(&lead1), None).await,
        403
    );
    assert_eq!(
        status(s.addr, "POST", &restore, Some(&admin), None).await,
        204
    );
    assert_eq!(
        status(s.addr, "POST", &restore, Some(&admin), None).await,
        404
    );
    let (_, body) = find(&s, &agent1, "").await;
    assert_eq!(names(&body), ["赵敏"]);
    let actions: Vec<String> = s
        .store
        .users()
        .call(|u| u.recent_audit(10))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    for a in ["customer.restore", "customer.delete", "customer.hand_over"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

/// An agent who spoke to another agent's customer sees the numbers masked
/// and can still save the card: the masked numbers keep their values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_masked_number_survives_an_edit() {
    let s = stack(64).await;
    let admin = login(s.addr, "admin").await;
    let agent1 = login(s.addr, "agent1").await;
    let (_, all) = find(&s, &admin, "").await;
    let zhao = id_of(&all, "赵敏");
    // agent1 took a call from 赵敏 (agent2's customer).
    let agent1_id = s
        .store
        .users()
        .call(|u| u.user_by_name("agent1"))
        .await
        .unwrap()
        .unwrap()
        .id;
    s.store
        .calls()
        .call(move |c| {
            c.write_cdr(&callpop::calls::Cdr {
                call_uid: "c-zhao".into(),
                line: "box1/1".into(),
                device: "box1".into(),
                direction: callpop::event::Direction::Inbound,
                outcome: callpop::event::Outcome::Answered,
                presentation: "available",
                raw_number: Some("13900001111".into()),
                number_e164: Some("+8613900001111".into()),
                number_national: Some("13900001111".into()),
                caller_name: None,
                customer_id: Some(zhao),
                match_rule: None,
                ring_count: 1,
                started_at: 1_000,
                first_ring_at: Some(1_000),
                cid_at: None,
                answered_at: Some(2_000),
                ended_at: 9_000,
                dtmf: String::new(),
                agent_user_id: Some(agent1_id),
                failure: None,
                blocked: None,
            })
        })
        .await
        .unwrap();
    let page = format!("/api/customers/{zhao}");
    let (code, _, body) = http(s.addr, "GET", &page, Some(&agent1), None).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["customer"]["phones"][0]["raw"], "139****1111");
    assert_eq!(body["calls"][0]["number"], "139****1111");
    let (code, _, body) = http(
        s.addr,
        "PUT",
        &page,
        Some(&agent1),
        Some(
            json!({ "name": "赵敏", "company": "新公司", "phones": [{ "number": "139****1111" }] }),
        ),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let (_, _, body) = http(s.addr, "GET", &page, Some(&admin), None).await;
    assert_eq!(body["customer"]["phones"][0]["raw"], "13900001111");
    assert_eq!(body["customer"]["company"], "新公司");
}
