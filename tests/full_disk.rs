//! A full disk loses no call: the database sits on a small tmpfs, a file
//! fills it, calls ring and end while nothing can be written (their
//! records wait, `/healthz` says degraded, a page gets a clear error
//! instead of SQLite's words), then the file goes and every call lands.
//! Needs root (it mounts a tmpfs), as CI and `./run test` run.

mod common;

use callpop::sim::script::Action;
use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap().keep();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Fills the file system of `dir` with `filler` until it is full.
fn fill(filler: &Path) {
    let mut f = std::fs::File::create(filler).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        match f.write(&block) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    // Whatever is left below a block.
    while f.write(&[0u8; 512]).is_ok_and(|n| n > 0) {}
    let _ = f.sync_all();
}

async fn calls_stored(s: &Stack) -> usize {
    s.store
        .calls()
        .call(|c| c.recent(1_000))
        .await
        .map(|rows| rows.len())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_during_a_full_disk_land_once_there_is_room() {
    if not_root() {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
        return;
    }
    let tmpfs = Tmpfs::mount("8m").expect("mount a tmpfs");
    let mut s = stack_in(tempfile::tempdir_in(&tmpfs.0).unwrap(), 256).await;
    let agent = login(s.addr, "agent1").await;
    let mut desk = ws(s.addr, Some(&agent)).await.unwrap();
    next_of(&mut desk, "hello").await;
    let before = calls_stored(&s).await;
    // An empty write-ahead log: the next write must grow a file.
    let mut truncated = false;
    for _ in 0..100 {
        if s.store.checkpoint().await.unwrap() {
            truncated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(truncated, "the WAL could not be checkpointed");
    let filler = tmpfs.0.join("filler");
    fill(&filler);

    // Three calls ring and are left to end unanswered while the disk is full.
    for (i, number) in ["13812345678", "13900001111", "02161234567"]
        .iter()
        .enumerate()
    {
        ring(&mut s.sim, 1, number).await;
        let pop = next_of(&mut desk, "call.ringing").await;
        let shown = pop["data"]["number"].as_str().unwrap_or_default();
        assert!(
            shown.ends_with(&number[number.len() - 4..]),
            "call {i} pops: {shown}"
        );
        s.sim.act(&Action::Answer { port: 1 }).await.unwrap();
        s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
        next_of(&mut desk, "call.ended").await;
    }
    // Their records wait; health says so.
    let mut degraded = false;
    for _ in 0..100 {
        let (status, _, body) = http(s.addr, "GET", "/healthz", None, None).await;
        if status == 503 {
            assert_eq!(body["status"], "degraded");
            degraded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(degraded, "/healthz must say degraded while writes wait");
    assert_eq!(calls_stored(&s).await, before, "nothing could be written");

    std::fs::remove_file(&filler).unwrap();
    let mut landed = 0;
    for _ in 0..150 {
        landed = calls_stored(&s).await;
        if landed == before + 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(landed, before + 3, "every call's record landed");
    let (status, _, body) = http(s.addr, "GET", "/healthz", None, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    drop(desk);
    drop(s);
}

fn not_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() != "0")
        .unwrap_or(true)
}
