//! The real daemon against devices it did not write: an independent
//! emulator (tests/emulators/phone_devices.py, sharing no code with
//! src/sim/) of a voice modem and an HT9032 FSK module on pseudo-terminals.
//! Two callers in a row on one line, GBK names, frames behind an odd byte
//! of a message type's value, an unplug mid-call and a replug, and calls
//! that ring while the daemon restarts.

mod common;

use callpop::store::{Role, Store};
use common::daemon::serve_at;
use common::{get_bytes, login, next_of, ws, Ws, PASSWORD};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The emulator, driven line by line.
struct Emulator {
    _child: Child,
    stdin: ChildStdin,
    out: Lines<BufReader<ChildStdout>>,
}

impl Emulator {
    async fn start(kind: &str, link: &Path) -> Emulator {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/emulators/phone_devices.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(kind)
            .arg(link)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs the emulator");
        let stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(out.next_line().await.unwrap().as_deref(), Some("ready"));
        Emulator {
            _child: child,
            stdin,
            out,
        }
    }

    /// Sends a command and waits until the emulator has written its bytes.
    async fn say(&mut self, command: &str) {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .unwrap();
        let answer = self.out.next_line().await.unwrap();
        assert_eq!(answer.as_deref(), Some("ok"), "emulator: {command}");
    }
}

struct Site {
    dir: tempfile::TempDir,
    config: PathBuf,
    db: PathBuf,
    link: PathBuf,
}

/// A database with agent1 (bound to the device's line), and a config with
/// the device at the emulator's link.
fn site(profile: &str) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("callpop.db");
    let link = dir.path().join("ttyDEV");
    let store = Store::open(&db).unwrap();
    let hash = callpop::auth::hash_password(PASSWORD).unwrap();
    store
        .users()
        .add_user("agent1", "王芳", Role::Agent, Some("sales"), Some(&hash))
        .unwrap();
    drop(store);
    let config = dir.path().join("callpop.toml");
    std::fs::write(
        &config,
        format!(
            "db = {db:?}\n[[device]]\nname = \"dev1\"\npath = {link:?}\nprofile = \"{profile}\"\n\
             [[binding]]\nline = \"dev1/1\"\nagent = \"agent1\"\n",
            db = db.display().to_string(),
            link = link.display().to_string(),
        ),
    )
    .unwrap();
    Site {
        dir,
        config,
        db,
        link,
    }
}

/// Waits until `/metrics` says the device is up (or down).
async fn device_up(addr: SocketAddr, up: bool) {
    let want = format!("callpop_device_up{{device=\"dev1\"}} {}", u8::from(up));
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let (_, _, body) = get_bytes(addr, "/metrics", None, "").await;
            if String::from_utf8_lossy(&body).contains(&want) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{want} within 20 s"));
}

async fn desk(addr: SocketAddr) -> Ws {
    let token = login(addr, "agent1").await;
    let mut d = ws(addr, Some(&token)).await.unwrap();
    next_of(&mut d, "hello").await;
    d
}

/// The close frame a desktop gets: code and reason.
async fn closed_with(d: &mut Ws) -> (u16, String) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match d.next().await {
                Some(Ok(Message::Close(Some(f)))) => {
                    return (u16::from(f.code), f.reason.to_string())
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => {
                    return (1006, String::new())
                }
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("closed within 20 s")
}

/// The CDRs in the database, oldest first.
fn calls(db: &Path) -> Vec<callpop::store::CallRow> {
    Store::open_reader(db).unwrap().calls().recent(100).unwrap()
}

/// Waits until `pred` holds of the CDRs.
async fn cdrs_where(
    db: &Path,
    pred: impl Fn(&[callpop::store::CallRow]) -> bool,
) -> Vec<callpop::store::CallRow> {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let rows = calls(db);
            if pred(&rows) {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the CDRs within 20 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_callers_in_a_row_on_a_voice_modem_both_pop_with_their_own_gbk_names() {
    let s = site("generic-voice-modem");
    let mut modem = Emulator::start("voice-modem", &s.link).await;
    let (_daemon, addr) = serve_at(s.dir.path(), &s.config).await;
    device_up(addr, true).await;
    let mut d = desk(addr).await;
    modem.say("ring").await;
    modem.say("cid 13812345678 周杰").await;
    let first = next_of(&mut d, "call.ringing").await;
    assert_eq!(first["data"]["number"], "13812345678");
    assert_eq!(
        first["data"]["caller_name"], "周杰",
        "the name in the pop itself: {first}"
    );
    modem.say("ring").await;
    // The first caller gave up; the next one rings within the ring timeout.
    modem.say("ring").await;
    modem.say("cid 13900001111 赵敏").await;
    let ended = next_of(&mut d, "call.ended").await;
    assert_eq!(ended["data"]["call_id"], first["data"]["call_id"]);
    let second = next_of(&mut d, "call.ringing").await;
    assert_ne!(second["data"]["call_id"], first["data"]["call_id"]);
    assert_eq!(second["data"]["number"], "13900001111");
    assert_eq!(second["data"]["caller_name"], "赵敏");
    let rows = cdrs_where(&s.db, |r| !r.is_empty()).await;
    let cdr = &rows[0];
    assert_eq!(cdr.call_uid, first["data"]["call_id"].as_str().unwrap());
    assert_eq!(
        (cdr.raw_number.as_deref(), cdr.caller_name.as_deref()),
        (Some("13812345678"), Some("周杰")),
        "the first call keeps its own caller"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsk_frames_behind_an_odd_byte_of_a_type_value_all_pop() {
    let s = site("ht9032-fsk-module");
    let mut module = Emulator::start("ht9032", &s.link).await;
    let (_daemon, addr) = serve_at(s.dir.path(), &s.config).await;
    device_up(addr, true).await;
    let mut d = desk(addr).await;
    for (odd, number) in [
        ("80", "13800000080"),
        ("04", "13800000004"),
        ("", "13800000000"),
    ] {
        module.say("ring").await;
        if odd.is_empty() {
            module.say(&format!("cid {number} 周杰")).await;
        } else {
            module.say(&format!("oddcid {odd} {number} 周杰")).await;
        }
        let pop = next_of(&mut d, "call.ringing").await;
        assert_eq!(pop["data"]["number"], number, "after odd byte {odd:?}");
        assert_eq!(pop["data"]["caller_name"], "周杰");
        module.say("onhook").await;
        next_of(&mut d, "call.ended").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplugged_mid_call_the_cdr_ends_then_and_after_a_replug_the_next_call_pops() {
    let s = site("ht9032-fsk-module");
    let mut module = Emulator::start("ht9032", &s.link).await;
    let (_daemon, addr) = serve_at(s.dir.path(), &s.config).await;
    device_up(addr, true).await;
    let mut d = desk(addr).await;
    module.say("ring").await;
    module.say("cid 13812345678 周杰").await;
    let pop = next_of(&mut d, "call.ringing").await;
    module.say("offhook").await;
    next_of(&mut d, "call.answered").await;
    let before = callpop::store::now_ms();
    module.say("unplug").await;
    let ended = next_of(&mut d, "call.ended").await;
    let after = callpop::store::now_ms();
    assert_eq!(ended["data"]["call_id"], pop["data"]["call_id"]);
    assert_eq!(ended["data"]["outcome"], "answered");
    let rows = cdrs_where(&s.db, |r| !r.is_empty()).await;
    let end = rows[0].ended_at.unwrap();
    assert!(
        (before..=after).contains(&end),
        "ended at the unplug: {before} <= {end} <= {after}"
    );
    device_up(addr, false).await;
    module.say("plug").await;
    device_up(addr, true).await;
    module.say("ring").await;
    module.say("cid 13900001111 赵敏").await;
    let next = next_of(&mut d, "call.ringing").await;
    assert_eq!(next["data"]["number"], "13900001111");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_that_ring_while_the_daemon_restarts_are_recorded() {
    let s = site("ht9032-fsk-module");
    let mut module = Emulator::start("ht9032", &s.link).await;
    let (mut daemon, addr) = serve_at(s.dir.path(), &s.config).await;
    device_up(addr, true).await;
    let mut before = desk(addr).await;
    let pid = daemon.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    // The desktop is told it is a restart (1001), not that it was too slow.
    let close = closed_with(&mut before).await;
    assert_eq!(close, (1001, "server restarting".to_string()));
    assert!(daemon.wait().await.unwrap().success());
    // While it is down: a caller who gives up, and one still ringing,
    // their caller IDs telling the minutes they came (a few minutes ago:
    // the gap as the exchange saw it).
    let minute = |ago: i64| {
        use chrono::{TimeZone, Timelike};
        let t = chrono::Local::now() - chrono::Duration::minutes(ago);
        let t = t.with_second(0).unwrap().with_nanosecond(0).unwrap();
        let t = chrono::Local
            .from_local_datetime(&t.naive_local())
            .earliest()
            .unwrap();
        (t.format("%m%d%H%M").to_string(), t.timestamp_millis())
    };
    let (first_told, first_ms) = minute(4);
    let (second_told, second_ms) = minute(3);
    module.say(&format!("clock {first_told}")).await;
    module.say("ring").await;
    module.say("cid 13812345678 周杰").await;
    module.say("onhook").await;
    module.say(&format!("clock {second_told}")).await;
    module.say("ring").await;
    module.say("cid 13900001111 赵敏").await;
    let (_daemon, addr) = serve_at(s.dir.path(), &s.config).await;
    let mut d = desk(addr).await;
    let rows = cdrs_where(&s.db, |r| !r.is_empty()).await;
    let first = &rows[0];
    assert_eq!(first.raw_number.as_deref(), Some("13812345678"));
    assert_eq!(first.outcome.as_deref(), Some("abandoned"));
    // It started when its caller ID said, not when the daemon read it.
    assert_eq!(
        (first.started_at, first.first_ring_at, first.cid_at),
        (first_ms, Some(first_ms), Some(first_ms)),
        "told {first_told}"
    );
    assert!(first.ended_at.unwrap() >= first.started_at);
    // So the call-back queue has it at that time (written just after the CDR).
    let queued = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let items = Store::open_reader(&s.db)
                .unwrap()
                .followups()
                .list(&["dev1/1".to_string()], 0, 0, 10)
                .unwrap();
            if !items.is_empty() {
                return items;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the missed call reached the call-back queue");
    assert_eq!(
        queued
            .iter()
            .map(|f| (f.last_call_uid.as_deref(), f.last_at))
            .collect::<Vec<_>>(),
        [(Some(first.call_uid.as_str()), first_ms)]
    );
    // The one still ringing pops on the desktop that opened after it (the
    // desktop may also have opened while the daemon was still reading the
    // first, already ended call: its pop and end come first then).
    let pop = loop {
        let pop = next_of(&mut d, "call.ringing").await;
        if pop["data"]["number"] != "13812345678" {
            break pop;
        }
    };
    assert_eq!(pop["data"]["number"], "13900001111");
    // It goes on live: hung up now, it started when it was told.
    let hung_up = callpop::store::now_ms();
    module.say("onhook").await;
    next_of(&mut d, "call.ended").await;
    let rows = cdrs_where(&s.db, |r| r.len() == 2).await;
    let second = rows
        .iter()
        .find(|c| c.raw_number.as_deref() == Some("13900001111"))
        .unwrap();
    assert_eq!(second.started_at, second_ms, "told {second_told}");
    assert!(
        second.ended_at.unwrap() >= hung_up,
        "its live end is when it was read: {second:?}"
    );
}
