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
    let (got, _, reply) = http(
        s.addr,
        "PUT",
        &page,
        Some(&agent2),
        Some(json!({ "name": "赵敏", "bogus": 1 })),
    )
    .await;
    assert_eq!(
        (got, reply["error"]["code"].as_str()),
        (422, Some("body_invalid")),
        "unknown fields refused: {reply}"
    );
    assert!(
        reply["error"]["params"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("bogus")),
        "the reason names the field: {reply}"
    );
    // Not JSON, or not sent as JSON: coded too, never a bare text line.
    for (content_type, body, status, code) in [
        ("application/json", "{\"name\": ", 400, "body_not_json"),
        ("text/plain", "{\"name\": \"x\"}", 415, "body_not_json_type"),
        ("application/json", "{\"name\": 7}", 422, "body_invalid"),
    ] {
        let (got, _, reply) = http_raw(
            s.addr,
            "POST",
            "/api/customers",
            Some(&agent2),
            content_type,
            body,
        )
        .await;
        assert_eq!(
            (got, reply["error"]["code"].as_str()),
            (status, Some(code)),
            "{content_type} {body}: {reply}"
        );
    }

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

/// Typed custom fields: admins define them, every edit is checked by its
/// definition (each wrong field named), an edit that leaves them out keeps
/// them, and the field marked as the birthday drives the day's reminders
/// within each viewer's reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_fields_are_typed_and_the_birthday_reminds_on_the_day() {
    let s = stack(64).await;
    let [admin, agent1, agent2] = login_all(&s, ["admin", "agent1", "agent2"]).await;
    let fields = json!({"fields": [
        {"key": "birthday", "label_zh": "生日", "label_en": "Birthday", "type": "date", "birthday": true},
        {"key": "level", "label_zh": "等级", "label_en": "Level", "type": "enum", "in_pop": true,
         "options": [{"value": "vip", "label_zh": "贵宾", "label_en": "VIP"}]}
    ]});
    let (code, _, _) = http(
        s.addr,
        "PUT",
        "/api/customer-fields",
        Some(&agent1),
        Some(fields.clone()),
    )
    .await;
    assert_eq!(code, 403);
    let (code, _, body) = http(
        s.addr,
        "PUT",
        "/api/customer-fields",
        Some(&admin),
        Some(fields),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["fields"].as_array().map(Vec::len), Some(2));
    let (code, _, body) = http(s.addr, "GET", "/api/customer-fields", Some(&agent1), None).await;
    assert_eq!(
        (code, body["fields"][0]["key"].as_str()),
        (200, Some("birthday"))
    );

    let (_, all) = find(&s, &admin, "").await;
    let zhao = id_of(&all, "赵敏");
    let page = format!("/api/customers/{zhao}");
    let edit = |custom: Value| json!({"name": "赵敏", "phones": [{"number": "13900001111"}], "custom_fields": custom});
    let (code, _, body) = http(
        s.addr,
        "PUT",
        &page,
        Some(&agent2),
        Some(edit(json!({"birthday": "1990-13-01", "level": "gold"}))),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["code"], "custom_field_invalid");
    assert_eq!(
        body["error"]["params"]["fields"],
        json!([{"field": "birthday", "code": "date"}, {"field": "level", "code": "choice"}])
    );
    let today = chrono::Local::now();
    let born = format!("1990-{}", today.format("%m-%d"));
    let (code, _, body) = http(
        s.addr,
        "PUT",
        &page,
        Some(&agent2),
        Some(edit(json!({"birthday": born, "level": "vip"}))),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    // An edit without custom values keeps them.
    let (code, _, body) = http(
        s.addr,
        "PUT",
        &page,
        Some(&agent2),
        Some(json!({"name": "赵敏", "company": "远大", "phones": [{"number": "13900001111"}]})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["customer"]["custom_fields"]["birthday"], born.as_str());

    // Today: agent2's reminder names her, agent1's does not; another day, nobody.
    for (token, expect) in [
        (&agent2, vec!["赵敏"]),
        (&admin, vec!["赵敏"]),
        (&agent1, vec![]),
    ] {
        let (code, _, body) =
            http(s.addr, "GET", "/api/customers/birthdays", Some(token), None).await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(names(&body), expect);
    }
    let other = (today + chrono::Duration::days(2))
        .format("%m-%d")
        .to_string();
    let (_, _, body) = http(
        s.addr,
        "GET",
        &format!("/api/customers/birthdays?day={other}"),
        Some(&admin),
        None,
    )
    .await;
    assert!(names(&body).is_empty(), "{body}");
    let (code, _, body) = http(
        s.addr,
        "GET",
        "/api/customers/birthdays?day=13-40",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("day_invalid"))
    );
}

/// Merging duplicates (合并客户): the duplicate's call, note and numbers
/// move to the kept customer; only keepers within reach merge; the merge
/// is audited and undone within 30 days, everything going back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_merge_and_the_merge_is_undone() {
    let mut s = stack(64).await;
    let [admin, agent2, lead1, lead2] = login_all(&s, ["admin", "agent2", "lead1", "lead2"]).await;
    let (_, all) = find(&s, &admin, "").await;
    let zhao = id_of(&all, "赵敏");
    // A duplicate of 赵敏, owned by agent2 too, with another number.
    let (code, _, body) = http(
        s.addr,
        "POST",
        "/api/customers",
        Some(&agent2),
        Some(json!({"name": "赵敏（重复）", "phones": ["13900001112"]})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let dup = body["customer"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{body}"));
    // A call from 赵敏's number, and a note on her.
    ring(&mut s.sim, 1, "13900001111").await;
    s.sim
        .act(&callpop::sim::script::Action::Hangup { port: 1 })
        .await
        .unwrap();
    let page = format!("/api/customers/{zhao}");
    let mut calls = 0;
    for _ in 0..200 {
        let (_, _, body) = http(s.addr, "GET", &page, Some(&admin), None).await;
        calls = body["calls"].as_array().map_or(0, Vec::len);
        if calls == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(calls, 1, "the call's record");
    let (code, _, _) = http(
        s.addr,
        "POST",
        &format!("{page}/notes"),
        Some(&agent2),
        Some(json!({"body": "老客户，注意语气"})),
    )
    .await;
    assert_eq!(code, 201);

    let merge = format!("/api/customers/{dup}/merge");
    // Agents do not merge; a lead of another team does not reach them.
    assert_eq!(
        http(
            s.addr,
            "POST",
            &merge,
            Some(&agent2),
            Some(json!({"from": zhao}))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        http(
            s.addr,
            "POST",
            &merge,
            Some(&lead2),
            Some(json!({"from": zhao}))
        )
        .await
        .0,
        404
    );
    let (code, _, body) = http(
        s.addr,
        "POST",
        &merge,
        Some(&lead1),
        Some(json!({"from": dup})),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("merge_same"))
    );
    let (code, _, body) = http(
        s.addr,
        "POST",
        &merge,
        Some(&lead1),
        Some(json!({"from": zhao})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let merge_id = body["merge"].as_i64().unwrap();
    let numbers: Vec<&str> = body["customer"]["phones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["raw"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["13900001112", "13900001111"]);
    let (_, _, kept) = http(
        s.addr,
        "GET",
        &format!("/api/customers/{dup}"),
        Some(&lead1),
        None,
    )
    .await;
    assert_eq!(kept["calls"].as_array().map(Vec::len), Some(1));
    assert_eq!(kept["notes"][0]["body"], "老客户，注意语气");
    // The merged one is out of searches and pages, but not lost.
    assert_eq!(http(s.addr, "GET", &page, Some(&lead1), None).await.0, 404);
    let (_, found) = find(&s, &admin, "number=13900001111").await;
    assert_eq!(names(&found), ["赵敏（重复）"]);
    let (_, _, merges) = http(
        s.addr,
        "GET",
        &format!("/api/customers/{dup}/merges"),
        Some(&lead1),
        None,
    )
    .await;
    assert_eq!(merges["merges"][0]["merged_name"], "赵敏");
    assert_eq!(
        merges["merges"][0]["moved"],
        json!({"calls": 1, "work_orders": 0, "notes": 1, "followups": 1}),
        "the missed call asked for a call-back"
    );

    // Undone: everything goes back.
    let undo = format!("/api/customers/merges/{merge_id}/undo");
    assert_eq!(http(s.addr, "POST", &undo, Some(&lead2), None).await.0, 404);
    let (code, _, body) = http(s.addr, "POST", &undo, Some(&lead1), None).await;
    assert_eq!(code, 200, "{body}");
    let (code, _, back) = http(s.addr, "GET", &page, Some(&lead1), None).await;
    assert_eq!(code, 200);
    assert_eq!(back["calls"].as_array().map(Vec::len), Some(1));
    assert_eq!(back["notes"].as_array().map(Vec::len), Some(1));
    let (_, _, kept) = http(
        s.addr,
        "GET",
        &format!("/api/customers/{dup}"),
        Some(&lead1),
        None,
    )
    .await;
    assert_eq!(kept["customer"]["phones"].as_array().map(Vec::len), Some(1));
    assert_eq!(kept["calls"].as_array().map(Vec::len), Some(0));
    let (code, _, body) = http(s.addr, "POST", &undo, Some(&lead1), None).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("merge_undone"))
    );
    let (_, _, audit) = http(
        s.addr,
        "GET",
        "/api/audit?action=customer.merge",
        Some(&admin),
        None,
    )
    .await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"customer.merge") && actions.contains(&"customer.merge_undo"),
        "{actions:?}"
    );
}

/// Customer groups (客户群): made by hand and from a search, counted
/// within each viewer's reach, emptied by hand; an agent's "everyone
/// found" adds only customers they reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_made_by_hand_and_from_a_search() {
    let s = stack(64).await;
    let [admin, agent2, lead2] = login_all(&s, ["admin", "agent2", "lead2"]).await;
    let (_, all) = find(&s, &admin, "").await;
    let (zhao, wang) = (id_of(&all, "赵敏"), id_of(&all, "王伟"));
    let members = "/api/customer-groups/%E5%9B%9E%E8%AE%BF/members"; // 回访
                                                                     // agent2 reaches 赵敏, not 王伟.
    let (code, _, _) = http(
        s.addr,
        "POST",
        members,
        Some(&agent2),
        Some(json!({"customers": [wang]})),
    )
    .await;
    assert_eq!(code, 404);
    let (code, _, body) = http(
        s.addr,
        "POST",
        members,
        Some(&agent2),
        Some(json!({"customers": [zhao]})),
    )
    .await;
    assert_eq!((code, body["added"].as_i64()), (200, Some(1)), "{body}");
    // Everyone a search finds: the admin's search by company finds three.
    let company = "/api/customer-groups/%E5%8D%8E%E4%BF%A1/members"; // 华信
    let (code, _, body) = http(
        s.addr,
        "POST",
        company,
        Some(&admin),
        Some(json!({"filter": {"company": "华信"}})),
    )
    .await;
    assert_eq!((code, body["added"].as_i64()), (200, Some(3)), "{body}");
    // agent2's "everyone found" by name finds only their own.
    let (_, _, body) = http(
        s.addr,
        "POST",
        company,
        Some(&agent2),
        Some(json!({"filter": {"name": "赵"}})),
    )
    .await;
    assert_eq!(body["added"].as_i64(), Some(1), "{body}");
    let counts = |body: &Value| -> Vec<(String, i64)> {
        body["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["tag"].as_str().unwrap().to_string(),
                    g["count"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let (_, _, body) = http(s.addr, "GET", "/api/customer-groups", Some(&admin), None).await;
    assert_eq!(
        counts(&body),
        [("华信".to_string(), 4), ("回访".to_string(), 1)]
    );
    let (_, _, body) = http(s.addr, "GET", "/api/customer-groups", Some(&agent2), None).await;
    assert_eq!(
        counts(&body),
        [("华信".to_string(), 1), ("回访".to_string(), 1)]
    );
    let (_, _, body) = http(s.addr, "GET", "/api/customer-groups", Some(&lead2), None).await;
    assert!(counts(&body).is_empty(), "{body}");
    // The group filters the directory; taking one out counts one less.
    let (_, found) = find(&s, &admin, "tag=%E5%9B%9E%E8%AE%BF").await;
    assert_eq!(names(&found), ["赵敏"]);
    let (code, _, body) = http(
        s.addr,
        "POST",
        "/api/customer-groups/%E5%9B%9E%E8%AE%BF/remove",
        Some(&agent2),
        Some(json!({"customers": [zhao]})),
    )
    .await;
    assert_eq!((code, body["removed"].as_i64()), (200, Some(1)));
    let (code, _, body) = http(s.addr, "POST", members, Some(&admin), Some(json!({}))).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("group_members_what"))
    );
}

/// The customer's page lists the SMS sent to and received from their
/// numbers; a reader who may not see the number whole sees it masked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_page_lists_their_sms_both_ways() {
    let s = stack(64).await;
    add_user(&s, "qa1", Role::Qa).await;
    let [agent2, qa] = login_all(&s, ["agent2", "qa1"]).await;
    let zhao = customer_id(&s, "赵敏").await;
    s.store
        .sms()
        .call(|s| {
            s.queue_sms(&callpop::store::NewSms {
                to: "+8613900001111",
                text: "您的工单已处理",
                encoding: "ucs2",
                parts: vec![("00".into(), 1)],
                created_by: None,
            })?;
            s.queue_sms(&callpop::store::NewSms {
                to: "+8613812345678",
                text: "别人的",
                encoding: "ucs2",
                parts: vec![("00".into(), 1)],
                created_by: None,
            })?;
            s.sms_inbox_message(&callpop::store::NewInbox {
                modem: "gsm1",
                sender: "13900001111",
                sender_number: Some("+8613900001111"),
                text: "收到，谢谢",
                parts: 1,
                missing: &[],
                sent_at: "2026-12-05T10:00:00+08:00",
                part_ids: &[],
            })
        })
        .await
        .unwrap();
    let page = format!("/api/customers/{zhao}");
    let (code, _, body) = http(s.addr, "GET", &page, Some(&agent2), None).await;
    assert_eq!(code, 200, "{body}");
    let mut texts: Vec<(&str, &str)> = body["sms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["direction"].as_str().unwrap(),
                m["text"].as_str().unwrap(),
            )
        })
        .collect();
    texts.sort();
    assert_eq!(texts, [("in", "收到，谢谢"), ("out", "您的工单已处理")]);
    let (_, _, body) = http(s.addr, "GET", &page, Some(&qa), None).await;
    let numbers: Vec<&str> = body["sms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["number"].as_str().unwrap())
        .collect();
    assert!(numbers.iter().all(|n| n.contains("****")), "{numbers:?}");
}

/// A custom field marked searchable finds customers by the start of its
/// value (values set before and after it was marked); others are refused;
/// a number field is searched like a number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_found_by_a_searchable_custom_field() {
    let s = stack(64).await;
    add_user(&s, "qa1", Role::Qa).await;
    let [admin, agent2, qa] = login_all(&s, ["admin", "agent2", "qa1"]).await;
    let put_fields = |searchable: bool| {
        json!({"fields": [
            {"key": "contract", "label_zh": "合同号", "label_en": "Contract", "type": "text",
             "searchable": searchable},
            {"key": "backup", "label_zh": "备用号码", "label_en": "Backup number", "type": "phone",
             "searchable": true},
        ]})
    };
    let (code, _, body) = http(
        s.addr,
        "PUT",
        "/api/customer-fields",
        Some(&admin),
        Some(put_fields(false)),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let (_, all) = find(&s, &admin, "").await;
    let zhao = id_of(&all, "赵敏");
    let wang = id_of(&all, "王伟");
    for (id, name, company, phone, contract) in [
        (zhao, "赵敏", "", "13900001111", "HT-2026-001"),
        (
            wang,
            "王伟",
            "华信科技有限公司",
            "13812345678",
            "HT-2025-117",
        ),
    ] {
        let (code, _, body) = http(
            s.addr,
            "PUT",
            &format!("/api/customers/{id}"),
            Some(&admin),
            Some(
                json!({"name": name, "company": company, "phones": [{"number": phone}],
                        "custom_fields": {"contract": contract, "backup": "13700001234"}}),
            ),
        )
        .await;
        assert_eq!(code, 200, "{body}");
    }
    // Not searchable yet: refused with its code.
    let (code, body) = find(&s, &admin, "field=contract&value=HT-2026").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("field_not_searchable"))
    );
    // Marked searchable: the values already there are found.
    http(
        s.addr,
        "PUT",
        "/api/customer-fields",
        Some(&admin),
        Some(put_fields(true)),
    )
    .await;
    let (code, body) = find(&s, &admin, "field=contract&value=HT-2026").await;
    assert_eq!((code, names(&body)), (200, vec!["赵敏".to_string()]));
    let (_, body) = find(&s, &admin, "field=contract&value=HT-20&limit=1").await;
    assert_eq!(names(&body).len(), 1);
    let (_, more) = find(
        &s,
        &admin,
        &format!(
            "field=contract&value=HT-20&limit=1&after={}",
            body["next"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(names(&more).len(), 1);
    assert_ne!(names(&more), names(&body));
    // Combined with another filter, and after an edit.
    let (_, body) = find(&s, &admin, "field=contract&value=HT&company=%E5%8D%8E").await;
    assert_eq!(names(&body), ["王伟"]);
    http(
        s.addr,
        "PUT",
        &format!("/api/customers/{wang}"),
        Some(&admin),
        Some(
            json!({"name": "王伟", "phones": [{"number": "13812345678"}],
                    "custom_fields": {"contract": "XS-9"}}),
        ),
    )
    .await;
    let (_, body) = find(&s, &admin, "field=contract&value=HT").await;
    assert_eq!(names(&body), ["赵敏"]);
    // A number field: QA must give the whole number, an agent finds their own.
    let (code, body) = find(&s, &qa, "field=backup&value=1370000").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("number_incomplete"))
    );
    let (_, body) = find(&s, &agent2, "field=backup&value=137").await;
    assert_eq!(names(&body), ["赵敏"]);
    let (_, body) = find(&s, &admin, "field=backup&value=137").await;
    assert_eq!(
        names(&body).len(),
        1,
        "王伟's edit dropped his backup number"
    );
}
