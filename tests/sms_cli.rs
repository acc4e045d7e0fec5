//! `callpop sms` as an administrator uses it, against a simulated modem
//! whose every received part the test can inspect: a 300-character Chinese
//! message sent straight through a port, and the daemon with a GSM modem in
//! its config sending a queued message and keeping a received one.

mod common;

use callpop::devices::gsm::pdu::Encoding;
use callpop::devices::profile::load_all;
use callpop::sim::modem::{ModemOptions, ModemSim};
use common::daemon::{callpop, json, serve};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Command;

fn chinese(n: usize) -> String {
    "尊敬的客户您好，您购买的空调将于本周六上午安装，安装师傅会提前一小时与您电话联系。如有疑问请回复本短信。"
        .chars()
        .cycle()
        .take(n)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_send_delivers_300_chinese_characters_as_concatenated_ucs2_parts() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let profile = Arc::new(load_all(None).unwrap()["huawei-e1752"].clone());
    let sim = ModemSim::start(profile, &link, ModemOptions::default()).unwrap();
    let text = chinese(300);
    let report = json(
        callpop(dir.path())
            .args(["sms", "send", "--profile", "huawei-e1752", "--to"])
            .args(["13812345678", "--json", "--text", &text, "--port"])
            .arg(&link),
    )
    .await;
    assert_eq!(report["encoding"], "ucs2");
    assert_eq!(report["characters"], 300);
    let parts = report["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 5);
    let sent = sim.sent();
    assert_eq!(sent.len(), 5);
    let reference = sent[0].concat.unwrap().reference;
    for (i, (part, got)) in parts.iter().zip(&sent).enumerate() {
        assert_eq!(part["state"], "sent");
        assert_eq!(
            part["reference"], got.reference,
            "each part's TP-MR is reported"
        );
        assert_eq!(got.encoding, Encoding::Ucs2);
        let c = got.concat.unwrap();
        assert_eq!((c.reference, c.total, c.seq), (reference, 5, i as u8 + 1));
        // Normalised once at the entry: the modem sends the E.164 form.
        assert_eq!(got.to, "+8613812345678");
    }
    assert_eq!(
        sent.iter().map(|s| s.text.as_str()).collect::<String>(),
        text
    );

    // A refused send says which part and why, and exits non-zero.
    sim.fail_next_send(callpop::sim::modem::SendFailure::Cms(331));
    let out = callpop(dir.path())
        .args(["sms", "send", "--profile", "huawei-e1752", "--to"])
        .args(["13812345678", "--text", "hi", "--port"])
        .arg(&link)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("part 1/1") && stdout.contains("+CMS ERROR: 331"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_sends_queued_messages_and_keeps_received_ones() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let profile = Arc::new(load_all(None).unwrap()["simcom-sim800"].clone());
    let sim = ModemSim::start(profile, &link, ModemOptions::default()).unwrap();
    let config = dir.path().join("callpop.toml");
    std::fs::write(
        &config,
        format!(
            "db = {:?}\n[[device]]\nname = \"sms1\"\npath = {:?}\nprofile = \"simcom-sim800\"\n",
            dir.path().join("callpop.db").display().to_string(),
            link.display().to_string()
        ),
    )
    .unwrap();
    let with_config = |c: &mut Command| {
        c.arg("--config").arg(&config);
    };
    let mut serve = serve(dir.path(), &config).await;

    let mut send = callpop(dir.path());
    with_config(&mut send);
    let queued = json(send.args([
        "sms",
        "send",
        "--to",
        "13800138000",
        "--text",
        &chinese(100),
        "--json",
    ]))
    .await;
    assert_eq!(
        (queued["parts"].as_u64(), queued["encoding"].as_str()),
        (Some(2), Some("ucs2"))
    );
    let id = queued["id"].as_i64().unwrap().to_string();
    let mut states = Vec::new();
    for _ in 0..200 {
        let mut status = callpop(dir.path());
        with_config(&mut status);
        let parts = json(status.args(["sms", "status", &id, "--json"])).await;
        states = parts
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["state"].as_str().unwrap().to_string())
            .collect();
        if states.iter().all(|s| s == "delivered") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(states, ["delivered", "delivered"]);
    assert_eq!(sim.sent().len(), 2);

    let reply = format!("{}退订", chinese(80));
    sim.receive("+8613912345678", &reply).await;
    let mut inbox = Value::Null;
    for _ in 0..200 {
        let mut list = callpop(dir.path());
        with_config(&mut list);
        inbox = json(list.args(["sms", "inbox", "--json"])).await;
        if !inbox.as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let m = &inbox[0];
    assert_eq!(
        (m["sender"].as_str(), m["text"].as_str()),
        (Some("+8613912345678"), Some(reply.as_str()))
    );
    assert_eq!(
        (m["modem"].as_str(), m["parts"].as_u64()),
        (Some("sms1"), Some(2))
    );
    let _ = serve.kill().await;
}

/// Parts of campaign `id` by state, straight from the database.
fn part_states(db: &Path, id: i64) -> std::collections::BTreeMap<String, i64> {
    callpop::store::Store::open_reader(db)
        .unwrap()
        .campaigns()
        .campaign_progress(id)
        .unwrap()
        .states
        .into_iter()
        .collect()
}

/// `callpop sms blast` starts a campaign the daemon sends through two
/// modems; the daemon is killed with SIGKILL halfway and started again.
/// Parts queued at the kill are sent after the restart; a part that was
/// with a modem at the kill is `unknown` and never sent again; nothing is
/// lost and nothing goes out twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_survives_sigkill_without_loss_or_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("callpop.db");
    {
        let store = callpop::store::Store::open(&db).unwrap();
        let n = callpop::phone::Normalizer::new(Default::default());
        for i in 0..60 {
            store
                .customers()
                .insert_customer(&callpop::store::NewCustomer {
                    name: format!("客户{i}"),
                    tags: vec!["vip".into()],
                    phones: vec![callpop::store::NewPhone {
                        number: n.normalize(&format!("1390000{i:04}")).unwrap(),
                        label: None,
                    }],
                    ..Default::default()
                })
                .unwrap();
        }
        store
            .users()
            .add_user("m1", "m1", callpop::store::Role::Marketer, None, None)
            .unwrap();
    }
    let profile = Arc::new(load_all(None).unwrap()["simcom-sim800"].clone());
    let options = ModemOptions {
        send_latency: Duration::from_millis(120),
        report_delay: Duration::from_millis(20),
        ..ModemOptions::default()
    };
    let mut sims = Vec::new();
    let mut devices = String::new();
    for i in 1..=2 {
        let link = dir.path().join(format!("gsm{i}"));
        sims.push(ModemSim::start(profile.clone(), &link, options.clone()).unwrap());
        devices += &format!(
            "[[device]]\nname = \"gsm{i}\"\npath = {:?}\nprofile = \"simcom-sim800\"\n",
            link.display().to_string()
        );
    }
    let config = dir.path().join("callpop.toml");
    std::fs::write(
        &config,
        format!(
            "db = {:?}\n{devices}[sms]\nwindow = \"00:00-00:00\"\nretry_after_secs = 0\ncampaign_queue_ahead = 10\n",
            db.display().to_string()
        ),
    )
    .unwrap();
    let template = dir.path().join("offer.txt");
    std::fs::write(&template, "{name}您好，本周会员日全场八折").unwrap();

    let mut daemon = serve(dir.path(), &config).await;
    let blast = json(
        callpop(dir.path())
            .arg("--config")
            .arg(&config)
            .args(["sms", "blast", "--as", "m1", "--group", "vip", "--json"])
            .arg("--template")
            .arg(&template),
    )
    .await;
    let id = blast["campaign"]["id"].as_i64().unwrap();
    assert_eq!(blast["campaign"]["parts"], 60);
    let sent = || sims.iter().map(|s| s.sent().len()).sum::<usize>();
    for _ in 0..400 {
        if sent() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    daemon.kill().await.unwrap(); // SIGKILL
    let at_kill = part_states(&db, id);
    let sending_at_kill = at_kill.get("sending").copied().unwrap_or(0);
    // A report the modem handed over while nobody was listening is gone, as
    // with a real modem's direct `+CDS`: those parts may stay `sent`.
    let sent_at_kill = at_kill.get("sent").copied().unwrap_or(0);
    assert!(sent() < 60, "killed too late: {at_kill:?}");

    let mut daemon = serve(dir.path(), &config).await;
    let mut states = Default::default();
    for _ in 0..600 {
        states = part_states(&db, id);
        let open: i64 = ["queued", "sending"]
            .iter()
            .map(|s| states.get(*s).copied().unwrap_or(0))
            .sum::<i64>()
            + (states.get("sent").copied().unwrap_or(0) - sent_at_kill).max(0);
        let state = callpop::store::Store::open_reader(&db)
            .unwrap()
            .campaigns()
            .campaign(id)
            .unwrap()
            .unwrap()
            .state;
        if open == 0 && state == callpop::store::CampaignState::Done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = daemon.kill().await;
    let unknown = states.get("unknown").copied().unwrap_or(0);
    let delivered = states.get("delivered").copied().unwrap_or(0);
    assert_eq!(
        unknown, sending_at_kill,
        "{states:?} (at kill: {at_kill:?})"
    );
    let sent = states.get("sent").copied().unwrap_or(0);
    assert!(sent <= sent_at_kill, "{states:?} (at kill: {at_kill:?})");
    assert_eq!(delivered + unknown + sent, 60, "{states:?}");
    // None twice, and every recipient reached except the unknown ones,
    // which may or may not have gone out before the kill.
    let mut seen = std::collections::HashSet::new();
    for p in sims.iter().flat_map(|s| s.sent()) {
        assert!(seen.insert(p.to.clone()), "{} got it twice", p.to);
    }
    assert!(seen.len() as i64 >= delivered && seen.len() as i64 <= 60);
}

/// A config with only a database, for commands that need no daemon.
fn db_only(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let db = dir.join("callpop.db");
    let config = dir.join("callpop.toml");
    std::fs::write(&config, format!("db = {:?}\n", db.display().to_string())).unwrap();
    (db, config)
}

/// `sms send --to` takes a phone number only: letters (which the PDU
/// encoder used to send as an alphanumeric address), `0` and MMI codes are
/// refused with the rule they break, and nothing is queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_send_refuses_what_is_not_a_phone_number() {
    let dir = tempfile::tempdir().unwrap();
    let (db, config) = db_only(dir.path());
    for (to, says) in [
        ("abc", "only in a sender's name"),
        ("0", "1 digit(s)"),
        ("*#06#", "handset code"),
        ("138_0013_8000", "contains '_'"),
    ] {
        let out = callpop(dir.path())
            .arg("--config")
            .arg(&config)
            .args(["sms", "send", "--to", to, "--text", "hi"])
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{to:?} was accepted");
        assert!(stderr.contains(says), "{to:?}: {stderr}");
        assert!(!stderr.contains("sender name"), "{to:?}: {stderr}");
    }
    if db.exists() {
        let store = callpop::store::Store::open(&db).unwrap();
        assert_eq!(
            store.sms().claim_sms_part("m1").unwrap(),
            None,
            "nothing queued"
        );
    }
}

/// A blacklisted `+8613800138000` is not reached by writing it another way:
/// every entry normalises the number before it is queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blacklisted_number_is_refused_however_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (db, config) = db_only(dir.path());
    let cli = || {
        let mut c = callpop(dir.path());
        c.arg("--config").arg(&config);
        c
    };
    let out = cli()
        .args(["sms", "campaigns", "blacklist", "+86 138 0013 8000"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let forms = [
        "13800138000",
        "+86 138 0013 8000",
        "8613800138000",
        "013800138000",
    ];
    let mut ids = Vec::new();
    for to in forms {
        let queued = json(cli().args(["sms", "send", "--to", to, "--text", "hi", "--json"])).await;
        ids.push(queued["id"].as_i64().unwrap());
    }
    let store = callpop::store::Store::open(&db).unwrap();
    assert_eq!(
        store.sms().claim_sms_part("m1").unwrap(),
        None,
        "none may leave"
    );
    for (id, to) in ids.into_iter().zip(forms) {
        let parts = store.sms().sms_parts(id).unwrap();
        assert_eq!(parts[0].state, callpop::store::PartState::Failed, "{to}");
        assert_eq!(
            parts[0].error.as_deref(),
            Some("the number is blacklisted"),
            "{to}"
        );
    }
}

/// `sms blast --json` tells the state the campaign was started in, not the
/// draft it was before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blast_json_tells_the_started_state() {
    let dir = tempfile::tempdir().unwrap();
    let (db, config) = db_only(dir.path());
    {
        let store = callpop::store::Store::open(&db).unwrap();
        let n = callpop::phone::Normalizer::new(Default::default());
        store
            .customers()
            .insert_customer(&callpop::store::NewCustomer {
                name: "客户".into(),
                tags: vec!["vip".into()],
                phones: vec![callpop::store::NewPhone {
                    number: n.normalize("13900000001").unwrap(),
                    label: None,
                }],
                ..Default::default()
            })
            .unwrap();
        store
            .users()
            .add_user("m1", "m1", callpop::store::Role::Marketer, None, None)
            .unwrap();
    }
    let template = dir.path().join("offer.txt");
    std::fs::write(&template, "{name}您好").unwrap();
    let blast = json(
        callpop(dir.path())
            .arg("--config")
            .arg(&config)
            .args(["sms", "blast", "--as", "m1", "--group", "vip", "--json"])
            .arg("--template")
            .arg(&template),
    )
    .await;
    let id = blast["campaign"]["id"].as_i64().unwrap();
    let stored = callpop::store::Store::open_reader(&db)
        .unwrap()
        .campaigns()
        .campaign(id)
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(blast["state"], "scheduled", "{blast}");
    assert_eq!(blast["state"], stored.as_str());
}
