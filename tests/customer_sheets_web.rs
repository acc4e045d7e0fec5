//! Customers in and out as spreadsheets from the page, on the whole stack:
//! an admin's upload is checked first (column mapping, counts, each bad
//! row's code and parameters, nothing written), then committed beside the
//! running daemon with progress to poll, audited; a restart-safe re-import
//! finds the rows unchanged; bad files and other roles are refused; the
//! export writes what a search finds within reach, in the importer's layout.

mod common;

use callpop::store::Role;
use common::*;
use serde_json::Value;
use std::time::Duration;

/// Polls the job until it leaves `running` (a condition, not a head start).
async fn settled(s: &Stack, token: &str, id: &str, running: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let (code, _, body) = http(
                s.addr,
                "GET",
                &format!("/api/customers/imports/{id}"),
                Some(token),
                None,
            )
            .await;
            assert_eq!(code, 200, "{body}");
            if body["phase"] != running {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the import job settles")
}

async fn upload(s: &Stack, token: &str, csv: &str) -> (u16, Value) {
    let (code, _, body) = http_raw(
        s.addr,
        "POST",
        "/api/customers/import",
        Some(token),
        "text/csv",
        csv,
    )
    .await;
    (code, body)
}

async fn names_with(s: &Stack, token: &str, query: &str) -> Vec<String> {
    let (_, _, body) = http(
        s.addr,
        "GET",
        &format!("/api/customers?{query}"),
        Some(token),
        None,
    )
    .await;
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

const SHEET: &str = "\u{feff}客户资料导出 2026-12-05\n\
    客户名称,手机号码,公司,客户群,负责人,会员等级\n\
    李娜,138 0013 8000,远航物流,VIP,agent1,金卡\n\
    王伟,+86 138-1234-5678,华信科技有限公司,,agent2,银卡\n\
    ,13700000000,无名公司,,,\n\
    张强,abc,,,,\n\
    刘洋,1380013800,,,,\n\
    陈静,13600136000,,老客户,nobody,\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_checks_then_imports_a_sheet_and_exports_it_back() {
    let s = stack(64).await;
    let [admin, agent1, lead1] = login_all(&s, ["admin", "agent1", "lead1"]).await;

    // Only admins import: an import merges into customers anywhere.
    for token in [&agent1, &lead1] {
        assert_eq!(upload(&s, token, SHEET).await.0, 403);
    }
    let (code, started) = upload(&s, &admin, SHEET).await;
    assert_eq!(code, 202, "{started}");
    let id = started["id"].as_str().unwrap().to_string();
    let checked = settled(&s, &admin, &id, "checking").await;
    assert_eq!(checked["phase"], "checked", "{checked}");
    let report = &checked["report"];
    // The header below a title was found and each column understood.
    let kinds: Vec<(&str, &str)> = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["header"].as_str().unwrap(), c["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("客户名称", "name"),
            ("手机号码", "phone"),
            ("公司", "company"),
            ("客户群", "tags"),
            ("负责人", "owner"),
            ("会员等级", "custom"),
        ]
    );
    // 李娜, 陈静 new; 王伟 matches the stored one; three rows refused.
    assert_eq!(
        (
            &report["rows"],
            &report["inserted"],
            &report["updated"],
            &report["error_count"]
        ),
        (&6.into(), &2.into(), &1.into(), &3.into()),
        "{report}"
    );
    let errors: Vec<(u64, &str)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [
            (5, "no_name"),
            (6, "number_character"),
            (7, "number_mobile_length")
        ]
    );
    assert_eq!(report["errors"][2]["params"]["digits"], 10);
    let warnings: Vec<(u64, &str)> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["row"].as_u64().unwrap(), w["code"].as_str().unwrap()))
        .collect();
    assert_eq!(warnings, [(1, "above_header"), (8, "owner_unknown")]);
    assert_eq!(report["warnings"][1]["params"]["owner"], "nobody");
    // Nothing was written by the check.
    assert!(names_with(&s, &admin, "name=%E6%9D%8E").await.is_empty());

    // Another admin's job is not theirs to see or commit.
    add_user(&s, "admin2", Role::Admin).await;
    let [admin2] = login_all(&s, ["admin2"]).await;
    let job = format!("/api/customers/imports/{id}");
    assert_eq!(status(s.addr, "GET", &job, Some(&admin2), None).await, 404);
    assert_eq!(
        status(
            s.addr,
            "POST",
            &format!("{job}/commit"),
            Some(&admin2),
            None
        )
        .await,
        404
    );

    let (code, _, body) = http(s.addr, "POST", &format!("{job}/commit"), Some(&admin), None).await;
    assert_eq!(code, 202, "{body}");
    let done = settled(&s, &admin, &id, "importing").await;
    assert_eq!(done["phase"], "imported", "{done}");
    assert_eq!(done["done"], done["total"], "the progress reached the end");
    assert_eq!(
        (&done["report"]["inserted"], &done["report"]["error_count"]),
        (&2.into(), &3.into())
    );
    // A committed job cannot be committed twice.
    let (code, _, body) = http(s.addr, "POST", &format!("{job}/commit"), Some(&admin), None).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("import_not_checked"))
    );
    // 李娜 is agent1's now, in the VIP group, with her custom value.
    assert_eq!(names_with(&s, &agent1, "tag=VIP").await, ["李娜"]);
    let (_, _, found) = http(
        s.addr,
        "GET",
        "/api/customers?number=13800138000",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(found["items"][0]["custom_fields"]["会员等级"], "金卡");
    // The import is in the audit log under the admin's name.
    let (_, _, audit) = http(
        s.addr,
        "GET",
        "/api/audit?action=customers.import",
        Some(&admin),
        None,
    )
    .await;
    let entry = &audit["entries"][0];
    assert_eq!(
        (&entry["actor"], &entry["detail"]["inserted"]),
        (&"admin".into(), &2.into()),
        "{audit}"
    );

    // The same file again (as after a restart mid-import): nothing new.
    let (_, again) = upload(&s, &admin, SHEET).await;
    let again_id = again["id"].as_str().unwrap().to_string();
    let checked = settled(&s, &admin, &again_id, "checking").await;
    assert_eq!(
        (
            &checked["report"]["inserted"],
            &checked["report"]["updated"]
        ),
        (&0.into(), &3.into())
    );
    let again_job = format!("/api/customers/imports/{again_id}");
    assert_eq!(
        status(s.addr, "DELETE", &again_job, Some(&admin), None).await,
        204
    );
    assert_eq!(
        status(s.addr, "GET", &again_job, Some(&admin), None).await,
        404
    );

    // A file with no header says so; a picture is not a sheet.
    let (_, bad) = upload(&s, &admin, "a,b\n1,2\n").await;
    let failed = settled(&s, &admin, bad["id"].as_str().unwrap(), "checking").await;
    assert_eq!(
        (failed["phase"].as_str(), failed["error"]["code"].as_str()),
        (Some("failed"), Some("header_not_found"))
    );
    let (code, _, body) = http_raw(
        s.addr,
        "POST",
        "/api/customers/import",
        Some(&admin),
        "text/csv",
        "",
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("import_file"))
    );

    // Export: the lead gets the team's customers only (agent1's 李娜 and
    // agent2's 赵敏 and 王伟), in the layout the importer reads back.
    let (code, head, sheet) = get_bytes(
        s.addr,
        "/api/customers/export?format=csv&lang=zh-CN",
        Some(&lead1),
        "",
    )
    .await;
    assert_eq!(code, 200, "{head}");
    let text = String::from_utf8(sheet).unwrap();
    let mut lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert!(lines
        .remove(0)
        .starts_with("客户名称,公司,电话,客户群,负责人"));
    lines.sort();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("李娜,远航物流,138 0013 8000,VIP,agent1"),
        "{text}"
    );
    // Filtered by the search, and refused to agents.
    let (_, _, sheet) = get_bytes(
        s.addr,
        "/api/customers/export?format=csv&tag=VIP",
        Some(&admin),
        "",
    )
    .await;
    assert_eq!(String::from_utf8(sheet).unwrap().lines().count(), 2);
    let (code, _, _) = get_bytes(s.addr, "/api/customers/export", Some(&agent1), "").await;
    assert_eq!(code, 403);
}
