//! The real `callpop` binary as an administrator runs it: a command with
//! its own home and data folders, and the daemon started and waited for.

use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// `callpop` with `dir` as its home, working and data folder.
pub fn callpop(dir: &Path) -> Command {
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

/// Runs a command that prints JSON; the JSON.
pub async fn json(cmd: &mut Command) -> Value {
    let out = cmd.output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `callpop serve` on a free port, once it listens.
pub async fn serve(dir: &Path, config: &Path) -> tokio::process::Child {
    serve_at(dir, config).await.0
}

/// `callpop serve` on a free port, once it listens, and its address.
pub async fn serve_at(dir: &Path, config: &Path) -> (tokio::process::Child, std::net::SocketAddr) {
    let mut child = callpop(dir)
        .arg("--config")
        .arg(config)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = out.next_line().await.unwrap() {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let rest = rest.split("://").nth(1).unwrap_or_default();
                let addr = rest.split('/').next().unwrap_or_default();
                return addr.parse().expect("the address it listens on");
            }
        }
        panic!("serve stopped");
    })
    .await
    .unwrap();
    (child, addr)
}

/// `callpop users add NAME --role ROLE --password-stdin` with `password`,
/// as an administrator adds the first users before starting the daemon.
pub async fn add_user(dir: &Path, config: &Path, name: &str, role: &str, password: &str) {
    use tokio::io::AsyncWriteExt as _;
    let mut add = callpop(dir)
        .arg("--config")
        .arg(config)
        .args(["users", "add", name, "--role", role, "--password-stdin"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = add.stdin.take().unwrap();
    stdin
        .write_all(format!("{password}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    assert!(add.wait().await.unwrap().success());
}
