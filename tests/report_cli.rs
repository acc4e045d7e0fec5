//! `callpop report` on a store with hand-computed answers, `callpop users
//! grant`, and `callpop backup` while another connection keeps writing.

mod common;

use callpop::calls::Cdr;
use callpop::event::{Direction, Outcome};
use callpop::store::{Role, Store};
use chrono::TimeZone;
use common::daemon::{callpop, json};
use std::path::Path;

/// 2026-03-02 09:00 in Beijing plus `secs`, ms.
fn at(secs: i64) -> i64 {
    chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .unwrap()
        .timestamp_millis()
        + secs * 1000
}

fn cdr(uid: &str, outcome: Outcome, start: i64, answered: Option<i64>, ended: i64) -> Cdr {
    Cdr {
        call_uid: uid.into(),
        line: "box1/1".into(),
        device: "box1".into(),
        direction: Direction::Inbound,
        outcome,
        presentation: "available",
        raw_number: Some("13812345678".into()),
        number_e164: Some("+8613812345678".into()),
        number_national: Some("13812345678".into()),
        caller_name: None,
        customer_id: None,
        match_rule: None,
        ring_count: 2,
        started_at: at(start),
        first_ring_at: Some(at(start)),
        cid_at: None,
        answered_at: answered.map(at),
        ended_at: at(ended),
        dtmf: String::new(),
        agent_user_id: None,
        failure: None,
        blocked: None,
    }
}

/// The fixture, in part: A answers at +10 s, talks 120 s, wraps
/// up 30 s; B answers a call of 14:50 after 30 s, talks 270 s across the
/// quarter hour, wraps up 60 s; a call on A's line is abandoned.
fn seed(db: &Path) {
    let s = Store::open(db).unwrap();
    let a = s
        .users()
        .add_user("A", "A", Role::Agent, Some("sales"), None)
        .unwrap();
    let b = s
        .users()
        .add_user("B", "B", Role::Agent, Some("sales"), None)
        .unwrap();
    for (c, agent, offered, wrap) in [
        (
            cdr("c1", Outcome::Answered, 0, Some(10), 130),
            Some(a),
            Some(a),
            Some(160),
        ),
        (
            cdr("c2", Outcome::Answered, 890, Some(920), 1190),
            Some(b),
            Some(b),
            Some(1250),
        ),
        (
            cdr("c3", Outcome::Abandoned, 300, None, 305),
            None,
            Some(a),
            None,
        ),
    ] {
        s.calls().write_cdr(&c).unwrap();
        if let Some(agent) = agent {
            s.calls().set_call_agent(&c.call_uid, agent).unwrap();
        }
        s.calls()
            .set_call_routing(&c.call_uid, offered, Some("sales"))
            .unwrap();
        if let Some(w) = wrap {
            s.calls().set_call_wrapup_end(&c.call_uid, at(w)).unwrap();
        }
    }
}

/// Runs a command that must succeed; its standard output.
async fn succeeds(cmd: &mut tokio::process::Command) -> String {
    let out = cmd.output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn report(dir: &Path, args: &[&str]) -> tokio::process::Command {
    let mut c = callpop(dir);
    c.arg("--db")
        .arg(dir.join("callpop.db"))
        .args(["--set", "reports.utc_offset=+08:00", "report"])
        .args(args);
    c
}

#[tokio::test]
async fn reports_print_hand_computed_figures_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    seed(&dir.path().join("callpop.db"));
    let range = ["--from", "2026-03-02", "--to", "2026-03-02"];
    let v = json(
        report(
            dir.path(),
            &[
                "agents",
                "--period",
                "15m",
                "--format",
                "json",
                "--sl-secs",
                "20",
            ],
        )
        .args(range),
    )
    .await;
    let row = |key: &str| {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key && r["start"] == at(0))
            .unwrap_or_else(|| panic!("no {key} row in {v}"))
            .clone()
    };
    let a = row("A");
    assert_eq!(
        (
            a["offered"].as_u64(),
            a["answered"].as_u64(),
            a["abandoned"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(
        (a["asa_s"].as_f64(), a["aht_s"].as_f64()),
        (Some(10.0), Some(150.0))
    );
    assert_eq!(
        (a["service_level"].as_f64(), a["abandon_rate"].as_f64()),
        (Some(50.0), Some(50.0))
    );
    let b = row("B");
    assert_eq!(
        (
            b["asa_s"].as_f64(),
            b["aht_s"].as_f64(),
            b["service_level"].as_f64()
        ),
        (Some(30.0), Some(330.0), Some(0.0))
    );
    assert_eq!(v["utc_offset"], "+08:00");
    assert!(v["formulas"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "aht"));

    // The table: one line for the whole center that day, then its formulas.
    let table = succeeds(report(dir.path(), &["calls", "--period", "day"]).args(range)).await;
    let line = table
        .lines()
        .find(|l| l.starts_with("2026-03-02"))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = line.split_whitespace().collect();
    // interval scope offered answered missed abandoned unknown outbound ASA ATT AHT SL abandon%
    assert_eq!(
        &cells[..13],
        [
            "2026-03-02",
            "all",
            "3",
            "2",
            "0",
            "1",
            "0",
            "0",
            "20.0",
            "195.0",
            "240.0",
            "33.3",
            "33.3"
        ],
        "{table}"
    );
    assert!(
        table.contains("service level = answered within T = 20 s"),
        "{table}"
    );
    assert!(table.contains("平均处理时长 AHT"), "{table}");

    // CSV and XLSX files.
    let csv = dir.path().join("lines.csv");
    succeeds(
        report(dir.path(), &["lines", "--format", "csv", "-o"])
            .arg(&csv)
            .args(range),
    )
    .await;
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("\u{feff}interval,line,offered"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("total,box1/1,3,2,")),
        "{text}"
    );
    let xlsx = dir.path().join("teams.xlsx");
    succeeds(
        report(dir.path(), &["teams", "--format", "xlsx", "-o"])
            .arg(&xlsx)
            .args(range),
    )
    .await;
    assert_eq!(&std::fs::read(&xlsx).unwrap()[..2], b"PK");

    // Bad input is refused with the reason.
    let out = report(dir.path(), &["calls", "--from", "2 March"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a date"));
    let out = report(
        dir.path(),
        &["calls", "--from", "2026-03-05", "--to", "2026-03-01"],
    )
    .output()
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--to must be after --from"));
}

#[tokio::test]
async fn permissions_are_granted_by_name_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("callpop.db");
    seed(&db);
    let run = |args: &'static [&'static str]| {
        let mut c = callpop(dir.path());
        c.arg("--db").arg(&db).args(args);
        c
    };
    succeeds(&mut run(&["users", "grant", "A", "calls.export"])).await;
    let out = run(&["users", "grant", "A", "calls.delete"])
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown permission \"calls.delete\""));
    let out = run(&["users", "grant", "nobody", "calls.export"])
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user \"nobody\""));
    let s = Store::open(&db).unwrap();
    let a = s.users().user_by_name("A").unwrap().unwrap().id;
    assert!(s.users().has_permission(a, "calls.export").unwrap());
    assert!(s
        .users()
        .recent_audit(10)
        .unwrap()
        .iter()
        .any(|e| e.action == "user.grant" && e.target.as_deref() == Some("A:calls.export")));
    succeeds(&mut run(&["users", "revoke", "A", "calls.export"])).await;
    assert!(!s.users().has_permission(a, "calls.export").unwrap());
}

#[tokio::test]
async fn a_backup_is_a_whole_database_while_another_connection_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("callpop.db");
    seed(&db);
    let writer_db = db.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopping = stop.clone();
    let writer = std::thread::spawn(move || {
        let s = Store::open(&writer_db).unwrap();
        let mut n = 0;
        while !stopping.load(std::sync::atomic::Ordering::Relaxed) && n < 20_000 {
            s.calls()
                .write_cdr(&cdr(
                    &format!("w{n}"),
                    Outcome::Missed,
                    2000 + n,
                    None,
                    2010 + n,
                ))
                .unwrap();
            n += 1;
        }
        n
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    let backup = dir.path().join("backup.db");
    let out = callpop(dir.path())
        .arg("--db")
        .arg(&db)
        .arg("backup")
        .arg("-o")
        .arg(&backup)
        .output()
        .await
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("integrity ok"), "{text}");
    let copy = rusqlite::Connection::open(&backup).unwrap();
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let calls: i64 = copy
        .query_row("SELECT count(*) FROM calls", [], |r| r.get(0))
        .unwrap();
    assert!((3..=3 + written).contains(&calls), "{calls} of {written}");
    assert!(text.contains(&format!("{calls} calls")), "{text}");
    // The copy is a callpop store of the same schema.
    drop(copy);
    let reopened = Store::open(&backup).unwrap();
    assert_eq!(
        reopened.schema_version().unwrap(),
        callpop::store::known_schema_version()
    );
    // An existing file is never overwritten.
    let out = callpop(dir.path())
        .arg("--db")
        .arg(&db)
        .arg("backup")
        .arg("-o")
        .arg(&backup)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

/// The systemd unit under examples/deploy is one systemd accepts (checked
/// where systemd-analyze exists), pointed at the binary just built.
#[test]
fn the_systemd_unit_is_valid() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/deploy/callpop.service"
    ))
    .unwrap();
    assert!(
        unit.contains("KillSignal=SIGTERM")
            && unit.contains("ExecStart=/usr/local/bin/callpop serve")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("callpop.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/callpop", env!("CARGO_BIN_EXE_callpop")),
    )
    .unwrap();
    match std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
    {
        Ok(out) => {
            let said = String::from_utf8_lossy(&out.stderr).to_string()
                + &String::from_utf8_lossy(&out.stdout);
            let problems: Vec<&str> = said
                .lines()
                .filter(|l| l.contains("callpop.service"))
                .collect();
            assert!(problems.is_empty(), "{said}");
        }
        Err(_) => eprintln!("systemd-analyze is not installed; the unit was not verified"),
    }
}
