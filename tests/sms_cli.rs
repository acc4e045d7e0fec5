//! `callpop sms` as an administrator uses it, against a simulated modem
//! whose every received part the test can inspect: a 300-character Chinese
//! message sent straight through a port, and the daemon with a GSM modem in
//! its config sending a queued message and keeping a received one.

use callpop::devices::gsm::pdu::Encoding;
use callpop::devices::profile::load_all;
use callpop::sim::modem::{ModemOptions, ModemSim};
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn callpop(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_callpop"));
    c.current_dir(dir)
        .env_remove("RUST_LOG")
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("xdg"))
        .kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.starts_with("CALLPOP_") {
            c.env_remove(k);
        }
    }
    c
}

async fn json(cmd: &mut Command) -> Value {
    let out = cmd.output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

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
        assert_eq!(got.to, "13812345678");
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
    let mut serve = callpop(dir.path());
    with_config(&mut serve);
    let mut serve = serve
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(serve.stdout.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = out.next_line().await.unwrap() {
            if line.contains("listening on") {
                return;
            }
        }
        panic!("serve stopped");
    })
    .await
    .unwrap();

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
