//! The store's schema life cycle on real SQLite files.

use callpop::store::{known_schema_version, Store, StoreError};

#[test]
fn fresh_database_is_migrated_and_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/callpop.db");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), known_schema_version());
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let recorded: Vec<(u32, String)> = conn
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(recorded[0], (1, "0001_init.sql".to_string()));
    for table in [
        "customers",
        "customer_phones",
        "customer_tags",
        "users",
        "calls",
        "work_order_forms",
        "work_order_form_fields",
        "work_orders",
        "audit_log",
    ] {
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "table {table}");
    }
}

#[test]
fn reopening_applies_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("callpop.db");
    drop(Store::open(&path).unwrap());
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), known_schema_version());
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n as u32, known_schema_version());
}

#[test]
fn a_database_from_a_newer_callpop_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("callpop.db");
    drop(Store::open(&path).unwrap());
    let newer = known_schema_version() + 1;
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, 'future.sql', 0)",
            [newer],
        )
        .unwrap();
    match Store::open(&path) {
        Err(e @ StoreError::TooNew { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&format!("version {newer}")), "{text}");
            assert!(text.contains("newer than this callpop"), "{text}");
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a newer database was opened"),
    }
}

#[test]
fn a_failed_transaction_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("callpop.db")).unwrap();
    let result: Result<(), StoreError> = store.in_transaction(|s| {
        s.users()
            .add_user("agent1", "", callpop::store::Role::Agent, None, None)?;
        Err(StoreError::Invalid("boom".into()))
    });
    assert!(result.is_err());
    assert!(store.users().user_by_name("agent1").unwrap().is_none());
}

#[test]
fn a_match_index_lost_in_a_crashed_bulk_load_is_rebuilt_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("callpop.db");
    let store = Store::open(&path).unwrap();
    // What a process killed between dropping and rebuilding the index leaves.
    std::mem::forget(store.bulk_writes(true).unwrap());
    drop(store);
    let count = |p: &std::path::Path| -> i64 {
        rusqlite::Connection::open(p)
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'customer_phones_match'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(count(&path), 0);
    drop(Store::open(&path).unwrap());
    assert_eq!(count(&path), 1);
}

/// A load into an empty store sets the insert triggers aside; a process
/// killed before it finished leaves them dropped and recorded, and the
/// next open does their work for every row and creates them again, as the
/// migrations wrote them.
#[test]
fn insert_triggers_set_aside_by_a_crashed_bulk_load_come_back_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("callpop.db");
    let triggers = |p: &std::path::Path| -> (Vec<String>, i64) {
        let conn = rusqlite::Connection::open(p).unwrap();
        let sql = conn
            .prepare(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger'
                 AND tbl_name IN ('customers', 'customer_phones') ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let waiting = conn
            .query_row("SELECT COUNT(*) FROM deferred_triggers", [], |r| r.get(0))
            .unwrap();
        (sql, waiting)
    };
    let store = Store::open(&path).unwrap();
    drop(store);
    let (before, waiting) = triggers(&path);
    assert_eq!((before.len(), waiting), (8, 0), "{before:?}");
    let store = Store::open(&path).unwrap();
    // What a process killed while loading leaves.
    std::mem::forget(store.customers().load_customers().unwrap());
    drop(store);
    let (during, waiting) = triggers(&path);
    assert_eq!((during.len(), waiting), (5, 3), "{during:?}");
    drop(Store::open(&path).unwrap());
    assert_eq!(triggers(&path), (before, 0));
}

/// Rebuilding the calls table (0003) keeps every call, its id, and the work
/// orders that point at it.
#[test]
fn rebuilding_a_table_keeps_rows_and_references() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                             applied_at INTEGER NOT NULL);
             PRAGMA foreign_keys = ON;",
        )
        .unwrap();
        conn.execute_batch(include_str!("../sql/0001_init.sql"))
            .unwrap();
        conn.execute_batch(include_str!("../sql/0002_calls_dtmf.sql"))
            .unwrap();
        conn.execute_batch(
            "INSERT INTO schema_migrations VALUES (1, '0001_init.sql', 0), (2, '0002_calls_dtmf.sql', 0);
             INSERT INTO calls (id, call_uid, line, device, direction, outcome, started_at, dtmf)
                 VALUES (7, 'c7', 'box1/1', 'box1', 'inbound', 'missed', 1000, '12#');
             INSERT INTO work_order_forms (id, key, name_zh, name_en, created_at, updated_at)
                 VALUES (1, 'service', '服务', 'Service', 0, 0);
             INSERT INTO work_orders (form_id, call_id, fields, created_at, updated_at)
                 VALUES (1, 7, '{}', 0, 0);",
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), known_schema_version());
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (uid, dtmf): (String, String) = conn
        .query_row("SELECT call_uid, dtmf FROM calls WHERE id = 7", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((uid.as_str(), dtmf.as_str()), ("c7", "12#"));
    let call_id: Option<i64> = conn
        .query_row("SELECT call_id FROM work_orders", [], |r| r.get(0))
        .unwrap();
    assert_eq!(call_id, Some(7));
    conn.execute(
        "INSERT INTO calls (call_uid, line, device, direction, outcome, started_at)
         VALUES ('c8', 'box1/1', 'box1', 'inbound', 'unknown', 2000)",
        [],
    )
    .unwrap();
}

/// The work-order lifecycle (0020) numbers the orders already saved by
/// their local day, keeps their statuses and the call-backs that point at
/// them, starts each one's timeline, and numbers the next order after them.
#[test]
fn existing_work_orders_are_numbered_and_keep_their_references() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v19.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        apply_migrations_up_to(&conn, 19);
        // Two orders on one day (noon UTC, the same local day anywhere
        // within ±11 h), one closed, and a call-back pointing at the first.
        let noon = 1_764_763_200_000_i64; // 2025-12-03 12:00 UTC
        conn.execute_batch(&format!(
            "INSERT INTO users (id, username, role, team, created_at, updated_at)
                 VALUES (1, 'a1', 'agent', 'sales', 0, 0);
             INSERT INTO work_order_forms (id, key, name_zh, name_en, created_at, updated_at)
                 VALUES (1, 'service', '服务', 'Service', 0, 0);
             INSERT INTO work_orders (id, form_id, agent_user_id, status, fields, created_at, updated_at)
                 VALUES (5, 1, 1, 'open', '{{}}', {noon}, {noon}),
                        (6, 1, 1, 'closed', '{{}}', {}, {});
             INSERT INTO followups (kind, number_national, number, created_at, last_at, due_at,
                                    workorder_id)
                 VALUES ('scheduled', '13800138000', '13800138000', 0, 0, 0, 5);",
            noon + 60_000,
            noon + 120_000
        ))
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), known_schema_version());
    let orders = store
        .workorders()
        .search(
            &callpop::store::WorkOrderQuery::default(),
            &callpop::store::Scope::All,
            0,
        )
        .unwrap()
        .items;
    let day = chrono::DateTime::from_timestamp_millis(1_764_763_200_000)
        .unwrap()
        .with_timezone(&chrono::Local)
        .format("%Y%m%d")
        .to_string();
    let numbers: Vec<(&str, &str, bool, Option<&str>)> = orders
        .iter()
        .map(|o| {
            (
                o.number.as_str(),
                o.status.as_str(),
                o.is_open,
                o.assignee.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        numbers,
        [
            (
                format!("GD-{day}-0002").as_str(),
                "closed",
                false,
                Some("a1")
            ),
            (format!("GD-{day}-0001").as_str(), "open", true, Some("a1")),
        ]
    );
    assert_eq!(orders[0].closed_at, Some(1_764_763_200_000 + 120_000));
    assert_eq!(orders[1].team.as_deref(), Some("sales"));
    assert_eq!(store.workorders().timeline(5).unwrap()[0].kind, "created");
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let pointing: i64 = conn
        .query_row(
            "SELECT count(*) FROM followups WHERE workorder_id = 5",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pointing, 1);
    let last: i64 = conn
        .query_row(
            "SELECT last FROM work_order_days WHERE day = ?1",
            [&day],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(last, 2);
}

/// Typed custom fields (0023): every key already in customers' custom
/// values becomes a text field, labelled by its key, shown on the pop.
#[test]
fn custom_keys_in_use_become_text_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v22.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        apply_migrations_up_to(&conn, 22);
        conn.execute_batch(
            "INSERT INTO customers (name, custom_fields, created_at, updated_at) VALUES
                 ('王伟', '{\"等级\": \"VIP\", \"city\": \"杭州\"}', 0, 0),
                 ('李娜', '{\"city\": \"上海\"}', 0, 0);",
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let defs = store.directory().field_defs().unwrap();
    let keys: Vec<(&str, &str, bool)> = defs
        .iter()
        .map(|d| (d.key.as_str(), d.label_zh.as_str(), d.in_pop))
        .collect();
    assert_eq!(keys, [("city", "city", true), ("等级", "等级", true)]);
    assert!(defs
        .iter()
        .all(|d| d.field_type == callpop::customers::fields::CustomFieldType::Text));
}

/// Messages received before 0025 are found by their sender's canonical
/// form, whichever shape the network delivered it in.
#[test]
fn received_senders_are_given_their_canonical_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v24.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        apply_migrations_up_to(&conn, 24);
        conn.execute_batch(
            "INSERT INTO sms_inbox (modem, sender, text, parts, sent_at, received_at) VALUES
                 ('m', '+8613900001111', 'a', 1, '', 1), ('m', '8613900001111', 'b', 1, '', 2),
                 ('m', '13900001111', 'c', 1, '', 3), ('m', '013900001111', 'd', 1, '', 4),
                 ('m', '10086', 'e', 1, '', 5), ('m', '95588银行', 'f', 1, '', 6),
                 ('m', '', '', 1, '', 7);",
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let numbers: Vec<(String, Option<String>)> = conn
        .prepare("SELECT text, sender_number FROM sms_inbox ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let whole = Some("+8613900001111".to_string());
    assert_eq!(
        numbers,
        [
            ("a".into(), whole.clone()),
            ("b".into(), whole.clone()),
            ("c".into(), whole.clone()),
            ("d".into(), whole),
            ("e".into(), Some("10086".into())),
            ("f".into(), None),
            ("".into(), None),
        ]
    );
}

/// A database as the migrations up to `version` leave it.
fn apply_migrations_up_to(conn: &rusqlite::Connection, version: u32) {
    conn.execute_batch(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                         applied_at INTEGER NOT NULL);",
    )
    .unwrap();
    let mut files: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/sql"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let v: u32 = name[..4].parse().unwrap();
        if v > version {
            continue;
        }
        conn.execute_batch(&std::fs::read_to_string(&file).unwrap())
            .unwrap();
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?1, ?2, 0)",
            rusqlite::params![v, name],
        )
        .unwrap();
    }
}
