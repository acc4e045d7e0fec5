//! `callpop call dial` / `call hangup` against the real daemon and a
//! simulated box: the same path, checks and words as the workspace.

mod common;

use callpop::devices::profile::load_all;
use callpop::sim::far_end::FarEnd;
use callpop::sim::script::Action;
use callpop::sim::BoxSim;
use callpop::store::{Binding, Role, Store};
use common::daemon::callpop;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Runs `callpop call ...`; success, stdout and stderr.
async fn call(dir: &Path, config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = callpop(dir)
        .arg("--config")
        .arg(config)
        .arg("call")
        .args(args)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_dials_and_hangs_up_as_a_user() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("callpop.db");
    {
        let store = Store::open(&db).unwrap();
        store
            .users()
            .add_user("agent1", "李娜", Role::Agent, Some("sales"), None)
            .unwrap();
        store
            .agents()
            .bind_line("box1/1", &Binding::Agent("agent1".into()))
            .unwrap();
    }
    let profile = Arc::new(load_all(None).unwrap()["text-box-4port"].clone());
    let mut sim = BoxSim::start(profile, &dir.path().join("ttyBOX")).unwrap();
    sim.far().set(FarEnd::Answer {
        after: Duration::from_millis(200),
        talk: None,
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("callpop.toml");
    std::fs::write(
        &config,
        format!(
            "db = {:?}\n[server]\nlisten = \"127.0.0.1:{port}\"\n\
             [[device]]\nname = \"box1\"\npath = {:?}\nprofile = \"text-box-4port\"\n",
            db.display().to_string(),
            dir.path().join("ttyBOX").display().to_string(),
        ),
    )
    .unwrap();
    let _daemon = callpop(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    sim.act(&Action::WaitHost).await.unwrap();

    // Until the box has answered its init, the line's device is not up.
    let (ok, out, err) = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let r = call(
                dir.path(),
                &config,
                &["dial", "--number", "139 1234 5678", "--as", "agent1"],
            )
            .await;
            let waiting = r.2.contains("device_down") || r.2.contains("cannot reach the daemon");
            if !waiting {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the daemon came up");
    assert!(ok, "{err}");
    assert!(
        out.starts_with("dialling 13912345678 on line box1/1: call "),
        "{out}"
    );
    let call_id = out.trim().rsplit(' ').next().unwrap().to_string();
    assert_eq!(sim.far().dialled(1).await[0], (1, "13912345678".into()));

    // The line is busy now; an emergency number is never dialled.
    let (ok, _, err) = call(
        dir.path(),
        &config,
        &["dial", "--number", "13912345679", "--as", "agent1"],
    )
    .await;
    assert!(!ok && err.contains("line_busy"), "{err}");
    let (ok, _, err) = call(
        dir.path(),
        &config,
        &["dial", "--number", "110", "--as", "agent1"],
    )
    .await;
    assert!(!ok && err.contains("dial_emergency"), "{err}");
    let (ok, _, err) = call(
        dir.path(),
        &config,
        &["dial", "--number", "1", "--as", "nobody"],
    )
    .await;
    assert!(!ok && err.contains("no active user"), "{err}");

    // Hung up from the command line: the box is told.
    let (ok, out, err) = call(
        dir.path(),
        &config,
        &["hangup", "--call", &call_id, "--as", "agent1"],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "hung up");
    assert_eq!(sim.far().hung_up(1).await, [1]);
}
