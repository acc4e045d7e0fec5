//! Work orders through the web API on the whole stack: who reads and
//! changes which order (each role × own / another's / the team's), status
//! moves by the form's rules (an illegal one refused with its code),
//! assignment to an agent and escalation to another team's queue, due
//! dates and the overdue reminders, comments, the timeline, the audit's
//! before and after, the export with the form's columns, and the pop that
//! no longer lists an order once it is resolved.

mod common;

use callpop::store::Role;
use common::*;
use serde_json::{json, Map, Value};

/// Saves an order of the demo form for `customer` by `agent`, as the pop does.
async fn save(s: &Stack, agent: &'static str, customer: i64, key: &'static str) -> (i64, String) {
    let fields = json!({"category": "complaint", "contact": "王伟", "phone": "13812345678",
                        "summary": "打印机卡纸"});
    let saved = save_work_order(s, agent, customer, key, fields).await;
    (saved.id, saved.number)
}

async fn get(s: &Stack, token: &str, path: &str) -> (u16, Value) {
    let (code, _, body) = http(s.addr, "GET", path, Some(token), None).await;
    (code, body)
}

async fn post(s: &Stack, token: &str, path: &str, body: Value) -> (u16, Value) {
    let (code, _, body) = http(s.addr, "POST", path, Some(token), Some(body)).await;
    (code, body)
}

fn numbers(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {body}"))
        .iter()
        .map(|o| o["number"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_reaches_and_changes_only_its_orders() {
    let s = stack(64).await;
    add_user(&s, "qa1", Role::Qa).await;
    let wang = customer_id(&s, "王伟").await;
    let zhao = customer_id(&s, "赵敏").await;
    let (mine, mine_no) = save(&s, "agent1", wang, "k1").await;
    let (theirs, theirs_no) = save(&s, "agent2", zhao, "k2").await;
    let [admin, agent1, agent2, lead1, lead2, qa] =
        login_all(&s, ["admin", "agent1", "agent2", "lead1", "lead2", "qa1"]).await;

    // Reading: the list and one order, each role × agent1's and agent2's.
    for (who, token, sees_mine, sees_theirs) in [
        ("agent1", &agent1, true, false),
        ("agent2", &agent2, false, true),
        ("lead1 (their team)", &lead1, true, true),
        ("lead2 (another team)", &lead2, false, false),
        ("qa", &qa, true, true),
        ("admin", &admin, true, true),
    ] {
        let (code, body) = get(&s, token, "/api/workorders").await;
        assert_eq!(code, 200, "{who}: {body}");
        let listed = numbers(&body);
        assert_eq!(
            listed.contains(&mine_no),
            sees_mine,
            "{who} lists {listed:?}"
        );
        assert_eq!(
            listed.contains(&theirs_no),
            sees_theirs,
            "{who} lists {listed:?}"
        );
        for (id, sees) in [(mine, sees_mine), (theirs, sees_theirs)] {
            let (code, body) = get(&s, token, &format!("/api/workorders/{id}")).await;
            let expected = if sees { 200 } else { 404 };
            assert_eq!(code, expected, "{who} reads order {id}: {body}");
            if !sees {
                assert_eq!(body["error"]["code"], "work_order_not_found");
            }
        }
    }
    // QA reads the phone field masked, as it reads calls.
    let (_, body) = get(&s, &qa, &format!("/api/workorders/{mine}")).await;
    assert_eq!(body["work_order"]["fields"]["phone"], "138****5678");
    let (_, body) = get(&s, &agent1, &format!("/api/workorders/{mine}")).await;
    assert_eq!(body["work_order"]["fields"]["phone"], "13812345678");
    assert_eq!(body["form"]["statuses"][0]["key"], "open");
    assert_eq!(body["form"]["statuses"][0]["label_zh"], "新建");

    // Writing: a status move, each role × the two orders.
    let move_to = |id: i64, to: &str| {
        (
            format!("/api/workorders/{id}/status"),
            json!({ "to": to, "note": "处理" }),
        )
    };
    for (who, token, id, expected) in [
        ("agent1 on agent2's", &agent1, theirs, 404),
        ("lead2 on sales'", &lead2, mine, 404),
        ("qa (read-only)", &qa, mine, 403),
        ("agent1 on their own", &agent1, mine, 200),
        ("lead1 on their team's", &lead1, theirs, 200),
    ] {
        let (path, body) = move_to(id, "in_progress");
        let (code, answer) = post(&s, token, &path, body).await;
        assert_eq!(code, expected, "{who}: {answer}");
    }
    // An illegal move is refused with its code and both statuses.
    let (path, body) = move_to(mine, "open");
    let (code, answer) = post(&s, &agent1, &path, body).await;
    assert_eq!(code, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "status_transition_invalid");
    assert_eq!(
        answer["error"]["params"],
        json!({"from": "in_progress", "to": "open"})
    );
    let (path, body) = move_to(mine, "archived");
    let (code, answer) = post(&s, &admin, &path, body).await;
    assert_eq!(
        (code, &answer["error"]["code"]),
        (400, &json!("status_unknown"))
    );
    let (code, answer) = post(&s, &admin, &path, json!({"to": "closed", "extra": 1})).await;
    assert_eq!(
        (code, &answer["error"]["code"]),
        (422, &json!("body_invalid")),
        "{answer}"
    );

    // Comments and due dates: the same reach.
    let comments = format!("/api/workorders/{theirs}/comments");
    let (code, _) = post(&s, &agent1, &comments, json!({"body": "看看"})).await;
    assert_eq!(code, 404);
    let (code, answer) = post(&s, &agent2, &comments, json!({"body": "  "})).await;
    assert_eq!(
        (code, &answer["error"]["code"]),
        (400, &json!("comment_length"))
    );
    let (code, _) = post(&s, &agent2, &comments, json!({"body": "已电话联系客户"})).await;
    assert_eq!(code, 200);
    let due = format!("/api/workorders/{theirs}/due");
    let past = callpop::store::now_ms() - 3_600_000;
    let (code, _, _) = http(
        s.addr,
        "PUT",
        &due,
        Some(&qa),
        Some(json!({"due_at": past})),
    )
    .await;
    assert_eq!(code, 403);
    let (code, _, body) = http(
        s.addr,
        "PUT",
        &due,
        Some(&agent2),
        Some(json!({"due_at": past})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["work_order"]["overdue"], true);
    // The reminders: agent2's and their lead's count it, agent1's do not.
    for (token, overdue) in [(&agent2, 1), (&lead1, 1), (&agent1, 0), (&lead2, 0)] {
        let (_, counts) = get(&s, token, "/api/workorders/summary").await;
        assert_eq!(counts["overdue"], overdue, "{counts}");
    }
    let (_, body) = get(&s, &admin, "/api/workorders?overdue=true").await;
    assert_eq!(numbers(&body), [theirs_no.as_str()]);

    // The timeline and the audit.
    let (_, body) = get(&s, &lead1, &format!("/api/workorders/{theirs}")).await;
    let kinds: Vec<&str> = body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "status", "comment", "due"]);
    assert_eq!(body["timeline"][1]["user"], "lead1");
    assert_eq!(
        body["timeline"][1]["detail"],
        json!({"from": "open", "to": "in_progress", "note": "处理"})
    );
    let (_, audit) = get(&s, &admin, "/api/audit?action=workorder.status").await;
    let entries = audit["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("{audit}"));
    let entry = entries
        .iter()
        .find(|e| e["target"] == format!("workorder:{theirs_no}"))
        .unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(
        entry["detail"],
        json!({"before": {"status": "open"}, "after": {"status": "in_progress"}})
    );
    assert_eq!(entry["actor"], "lead1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalated_order_reaches_the_other_team_and_leaves_the_pop_when_resolved() {
    let mut s = stack(64).await;
    let hash = callpop::auth::hash_password(PASSWORD).unwrap();
    s.store
        .users()
        .call(move |u| {
            u.add_user("s1", "二线小李", Role::Agent, Some("support"), Some(&hash))
                .map(|_| ())
        })
        .await
        .unwrap();
    let wang = customer_id(&s, "王伟").await;
    let (id, number) = save(&s, "agent1", wang, "k1").await;
    let [lead1, lead2, s1, agent1, agent2] =
        login_all(&s, ["lead1", "lead2", "s1", "agent1", "agent2"]).await;
    let assign = format!("/api/workorders/{id}/assign");

    // Refusals first: both targets, neither, nobody real.
    for (body, code) in [
        (json!({"agent": "s1", "team": "support"}), "assign_target"),
        (json!({"note": "?"}), "assign_target"),
        (json!({"agent": "nobody"}), "assignee_unknown"),
        (json!({"team": "nowhere"}), "team_unknown"),
    ] {
        let (status, answer) = post(&s, &lead1, &assign, body.clone()).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    // lead1 escalates to support's queue with a note.
    let (code, body) = post(
        &s,
        &lead1,
        &assign,
        json!({"team": "support", "note": "需要二线处理"}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["work_order"]["team"], "support");
    assert!(body["work_order"]["assignee"].is_null());
    // lead2 and every support agent see it in the team's queue; s1 takes it.
    let (_, queue) = get(&s, &lead2, "/api/workorders?team=support&open=true").await;
    assert_eq!(numbers(&queue), [number.as_str()]);
    let (_, queue) = get(&s, &s1, "/api/workorders?open=true").await;
    assert_eq!(numbers(&queue), [number.as_str()]);
    let (code, body) = post(&s, &s1, &assign, json!({"agent": "s1"})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["work_order"]["assignee"], "s1");
    assert_eq!(body["work_order"]["assignee_name"], "二线小李");
    let (_, mine) = get(&s, &s1, "/api/workorders?assignee=s1&open=true").await;
    assert_eq!(numbers(&mine), [number.as_str()]);
    // The author still follows it; a colleague of theirs does not.
    assert_eq!(
        get(&s, &agent1, &format!("/api/workorders/{id}")).await.0,
        200
    );
    assert_eq!(
        get(&s, &agent2, &format!("/api/workorders/{id}")).await.0,
        404
    );

    // Before: the pop for 王伟 lists the open order.
    let mut desk = ws(s.addr, Some(&agent1)).await.unwrap();
    next_of(&mut desk, "hello").await;
    ring(&mut s.sim, 1, "13812345678").await;
    let pop = next_of(&mut desk, "call.ringing").await;
    let listed: Vec<&str> = pop["data"]["open_work_orders"]
        .as_array()
        .unwrap_or_else(|| panic!("{pop}"))
        .iter()
        .map(|o| o["number"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [number.as_str()]);
    s.sim
        .act(&callpop::sim::script::Action::Hangup { port: 1 })
        .await
        .unwrap();
    next_of(&mut desk, "call.ended").await;

    // s1 resolves it.
    let (code, body) = post(
        &s,
        &s1,
        &format!("/api/workorders/{id}/status"),
        json!({"to": "resolved", "note": "已更换配件"}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["work_order"]["is_open"], false);

    // After: the next pop for 王伟 lists none.
    ring(&mut s.sim, 1, "13812345678").await;
    let pop = next_of(&mut desk, "call.ringing").await;
    assert_eq!(pop["data"]["open_work_orders"], json!([]), "{pop}");

    let (_, body) = get(&s, &lead1, &format!("/api/workorders/{id}")).await;
    let kinds: Vec<&str> = body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "assigned", "assigned", "status"]);
    assert_eq!(
        body["timeline"][1]["detail"],
        json!({"from": {"assignee": "agent1", "team": "sales"},
               "to": {"assignee": null, "team": "support"}, "note": "需要二线处理"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_has_the_form_s_own_columns_in_the_viewer_s_language() {
    let s = stack(64).await;
    let wang = customer_id(&s, "王伟").await;
    let (_, first) = save(&s, "agent1", wang, "k1").await;
    let (_, second) = save(&s, "agent2", wang, "k2").await;
    let [admin, agent1] = login_all(&s, ["admin", "agent1"]).await;
    let read = |bytes: Vec<u8>| -> Vec<Vec<String>> {
        use calamine::Reader;
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range_at(0).unwrap().unwrap();
        sheet
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    };
    let (code, _, bytes) = get_bytes(
        s.addr,
        "/api/workorders/export?form=service&format=xlsx",
        Some(&admin),
        "",
    )
    .await;
    assert_eq!(code, 200);
    let rows = read(bytes);
    assert_eq!(&rows[0][..3], ["工单号", "状态", "处理人"]);
    assert!(rows[0].contains(&"类别".to_string()), "{:?}", rows[0]);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1][0], second);
    assert_eq!(rows[1][1], "新建");
    assert!(rows[1].contains(&"打印机卡纸".to_string()));
    // An agent exports only theirs, in English when asked.
    let (_, _, bytes) = get_bytes(
        s.addr,
        "/api/workorders/export?form=service&format=xlsx&lang=en",
        Some(&agent1),
        "",
    )
    .await;
    let rows = read(bytes);
    assert_eq!(&rows[0][..2], ["Number", "Status"]);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[1][0].as_str(), rows[1][1].as_str()),
        (first.as_str(), "New")
    );
    let (_, audit) = get(&s, &admin, "/api/audit?action=workorders.export").await;
    assert_eq!(
        audit["entries"].as_array().map(Vec::len),
        Some(2),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scores_of_work_orders_follow_the_form_and_the_reach() {
    let s = stack(64).await;
    add_user(&s, "qa1", Role::Qa).await;
    let wang = customer_id(&s, "王伟").await;
    let (id, _) = save(&s, "agent1", wang, "k1").await;
    let [qa, lead2, agent1, agent2] = login_all(&s, ["qa1", "lead2", "agent1", "agent2"]).await;
    let (_, forms) = get(&s, &qa, "/api/qa-forms").await;
    let find = |name: &str| {
        forms["forms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    };
    let (order_form, call_form) = (find("work_order"), find("standard"));
    let full: Map<String, Value> = order_form["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["key"].as_str().unwrap().to_string(), i["points"].clone()))
        .collect();
    let path = format!("/api/workorders/{id}/scores");
    let body = |form: &Value, items: &Map<String, Value>| json!({"form_id": form["id"], "items": items, "comment": ""});
    // The recordings' form does not score work orders; an item over its points is named.
    let (code, answer) = post(&s, &qa, &path, body(&call_form, &full)).await;
    assert_eq!(
        (code, answer["error"]["code"].as_str()),
        (400, Some("qa_form_wrong_kind"))
    );
    let mut over = full.clone();
    over.insert("timely".into(), json!(99));
    let (code, answer) = post(&s, &qa, &path, body(&order_form, &over)).await;
    assert_eq!(
        (code, answer["error"]["code"].as_str()),
        (400, Some("qa_item_points"))
    );
    assert_eq!(
        answer["error"]["params"],
        json!({"item": "timely", "given": 99, "max": 20})
    );
    // Agents do not score; a team lead of another team does not reach it.
    assert_eq!(
        post(&s, &agent1, &path, body(&order_form, &full)).await.0,
        403
    );
    assert_eq!(
        post(&s, &lead2, &path, body(&order_form, &full)).await.0,
        404
    );
    let (code, answer) = post(&s, &qa, &path, body(&order_form, &full)).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["scores"][0]["total"], 100);
    let score = answer["scores"][0]["id"].as_i64().unwrap();
    // Only the order's author or assignee appeals.
    let appeal = format!("/api/workorders/{id}/scores/{score}/appeal");
    assert_eq!(
        post(&s, &agent2, &appeal, json!({"note": "?"})).await.0,
        404
    );
    let (code, answer) = post(&s, &agent1, &appeal, json!({"note": " "})).await;
    assert_eq!(
        (code, answer["error"]["code"].as_str()),
        (400, Some("appeal_length"))
    );
    assert_eq!(
        post(&s, &agent1, &appeal, json!({"note": "已核实"}))
            .await
            .0,
        200
    );
    // Only QA and admins edit the forms.
    let edit = json!({"title": "投诉", "items": [{"key": "a", "label": "致歉", "points": 10}],
                      "pass_mark": 5, "applies_to": "both"});
    assert_eq!(
        http(
            s.addr,
            "PUT",
            "/api/qa-forms/complaints",
            Some(&lead2),
            Some(edit.clone())
        )
        .await
        .0,
        403
    );
    let (code, _, answer) = http(
        s.addr,
        "PUT",
        "/api/qa-forms/complaints",
        Some(&qa),
        Some(edit),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    let bad = json!({"title": "投诉", "items": [{"key": "a", "label": "致歉", "points": 10}],
                     "pass_mark": 50, "applies_to": "both"});
    let (code, _, answer) = http(
        s.addr,
        "PUT",
        "/api/qa-forms/complaints",
        Some(&qa),
        Some(bad),
    )
    .await;
    assert_eq!(
        (
            code,
            answer["error"]["code"].as_str(),
            &answer["error"]["params"]["max"]
        ),
        (400, Some("qa_pass_mark_range"), &json!(10))
    );
    // The audit keeps the form before and after each edit.
    let again = json!({"title": "投诉", "items": [{"key": "a", "label": "致歉", "points": 10}],
                       "pass_mark": 6, "applies_to": "both"});
    let (code, _, _) = http(
        s.addr,
        "PUT",
        "/api/qa-forms/complaints",
        Some(&qa),
        Some(again),
    )
    .await;
    assert_eq!(code, 200);
    let (_, _, audit) = http(
        s.addr,
        "GET",
        "/api/audit?action=qa_form.put",
        Some(&login(s.addr, "admin").await),
        None,
    )
    .await;
    let entry = &audit["entries"][0]["detail"];
    assert_eq!(
        (&entry["before"]["pass_mark"], &entry["after"]["pass_mark"]),
        (&json!(5), &json!(6)),
        "{entry}"
    );
}

/// Changes read back from a spreadsheet (批量派单/结单): a dry run shows
/// each row's changes and refusals; the real run makes the changes by the
/// same rules, with timeline and audit entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_assignee_changes_come_back_from_a_spreadsheet() {
    let s = stack(64).await;
    let wang = customer_id(&s, "王伟").await;
    let (first, first_no) = save(&s, "agent1", wang, "k1").await;
    let (second, second_no) = save(&s, "agent1", wang, "k2").await;
    let (third, third_no) = save(&s, "agent1", wang, "k3").await;
    let [lead1, lead2, agent1] = login_all(&s, ["lead1", "lead2", "agent1"]).await;
    // The third is closed already: back to 新建 is not a move it may make.
    let (code, _) = post(
        &s,
        &lead1,
        &format!("/api/workorders/{third}/status"),
        json!({"to": "closed"}),
    )
    .await;
    assert_eq!(code, 200);
    let csv = format!(
        "\u{feff}工单号,状态,处理人,备注\n\
         {first_no},已解决,agent2,电话确认已修复\n\
         {second_no},,agent2,\n\
         {third_no},新建,,\n\
         GD-19990101-0001,已关闭,,\n\
         {first_no},完成了,,\n\
         {second_no},,nobody,\n"
    );
    let import = |dry: bool| {
        format!(
            "/api/workorders/import{}",
            if dry { "?dry_run=true" } else { "" }
        )
    };
    // Agents do not import; another team's lead reaches none of them.
    let (code, _, _) = http_raw(
        s.addr,
        "POST",
        &import(true),
        Some(&agent1),
        "text/csv",
        &csv,
    )
    .await;
    assert_eq!(code, 403);
    let (_, _, body) = http_raw(
        s.addr,
        "POST",
        &import(true),
        Some(&lead2),
        "text/csv",
        &csv,
    )
    .await;
    assert_eq!(body["refused"], 6, "{body}");

    let (code, _, dry) = http_raw(
        s.addr,
        "POST",
        &import(true),
        Some(&lead1),
        "text/csv",
        &csv,
    )
    .await;
    assert_eq!(code, 200, "{dry}");
    let rows = dry["rows"].as_array().unwrap();
    let summary: Vec<(u64, Option<&str>)> = rows
        .iter()
        .map(|r| (r["row"].as_u64().unwrap(), r["error"].as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (2, None),
            (3, None),
            (4, Some("status_transition_invalid")),
            (5, Some("work_order_not_found")),
            (6, Some("status_unknown")),
            (7, Some("assignee_unknown")),
        ]
    );
    assert_eq!(
        rows[0]["changes"],
        json!({"status": {"from": "open", "to": "resolved"}, "assignee": {"from": "agent1", "to": "agent2"}})
    );
    assert_eq!(rows[3]["number"], "GD-19990101-0001");
    assert_eq!(dry["changed"], 2);
    // Nothing changed yet.
    let (_, order) = get(&s, &lead1, &format!("/api/workorders/{first}")).await;
    assert_eq!(order["work_order"]["status"], "open");

    let (code, _, done) = http_raw(
        s.addr,
        "POST",
        &import(false),
        Some(&lead1),
        "text/csv",
        &csv,
    )
    .await;
    assert_eq!((code, done["changed"].as_u64()), (200, Some(2)), "{done}");
    let (_, order) = get(&s, &lead1, &format!("/api/workorders/{first}")).await;
    assert_eq!(order["work_order"]["status"], "resolved");
    assert_eq!(order["work_order"]["assignee"], "agent2");
    let kinds: Vec<&str> = order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "assigned", "status"]);
    assert_eq!(order["timeline"][2]["detail"]["note"], "电话确认已修复");
    let (_, order) = get(&s, &lead1, &format!("/api/workorders/{second}")).await;
    assert_eq!(order["work_order"]["assignee"], "agent2");
    // A broken file is named as such.
    let (code, _, body) = http_raw(
        s.addr,
        "POST",
        &import(true),
        Some(&lead1),
        "text/csv",
        "客户,电话\n王伟,138\n",
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("import_file")),
        "{body}"
    );
}
