//! Recording through the real daemon: capture through cpal and ALSA on a
//! machine with no sound card (ALSA's `file` plugin feeds a known raw file
//! into a capture device backed by `null`), and a daemon killed with
//! SIGKILL mid-recording whose file is repaired at the next start.

mod common;

use callpop::devices::profile::load_all;
use callpop::sim::script::Action;
use callpop::sim::BoxSim;
use common::daemon::{callpop, serve};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A recognisable signal: a sweep from 300 to 3000 Hz with a little
/// pseudo-random texture, so no two stretches of it are alike.
fn known_audio(rate: u32, secs: f64) -> Vec<i16> {
    let n = (f64::from(rate) * secs) as usize;
    let mut seed = 7u32;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let f = 300.0 + 2700.0 * t / secs;
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = f64::from((seed >> 20) as i32 - 2048);
            (9000.0 * (2.0 * std::f64::consts::PI * f * t / 2.0).sin() + noise) as i16
        })
        .collect()
}

fn raw_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

async fn start_box(dir: &Path) -> BoxSim {
    let profile = Arc::new(load_all(None).unwrap()["text-box-4port"].clone());
    BoxSim::start(profile, &dir.join("ttyBOX")).unwrap()
}

fn write_config(dir: &Path, audio: &str) -> std::path::PathBuf {
    let config = dir.join("callpop.toml");
    std::fs::write(
        &config,
        format!(
            "db = {:?}\n[[device]]\nname = \"box1\"\npath = {:?}\nprofile = \"text-box-4port\"\n{audio}",
            dir.join("callpop.db").display().to_string(),
            dir.join("ttyBOX").display().to_string(),
        ),
    )
    .unwrap();
    config
}

async fn call(sim: &mut BoxSim, port: u8) {
    sim.act(&Action::Ring { port }).await.unwrap();
    sim.act(&Action::Cid {
        port,
        number: "13812345678".into(),
        name: None,
    })
    .await
    .unwrap();
    sim.act(&Action::Answer { port }).await.unwrap();
}

/// Answers a call on `port` once the daemon has its box open: a ring sent
/// before the driver opened the port is lost, so the call is placed again
/// until the `count`-th recording row appears. That row's start time.
async fn call_recorded(sim: &mut BoxSim, port: u8, db: &Path, count: usize) -> i64 {
    for _ in 0..10 {
        call(sim, port).await;
        for _ in 0..100 {
            if let Ok(store) = callpop::store::Store::open_reader(db) {
                let rows = store.recordings().recent(100).unwrap_or_default();
                if rows.len() >= count {
                    return rows[0].started_at;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sim.act(&Action::Hangup { port }).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("no recording started on port {port}");
}

/// Rows of the recordings index, oldest first, once none is `recording`
/// any more (or after 10 s).
async fn settled(db: &Path, n: usize) -> Vec<callpop::store::RecordingRow> {
    let mut rows = Vec::new();
    for _ in 0..200 {
        rows = callpop::store::Store::open_reader(db)
            .unwrap()
            .recordings()
            .recent(100)
            .unwrap();
        if rows.len() >= n && rows.iter().all(|r| r.state != "recording") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rows.reverse();
    rows
}

/// A folder with 20 s of known line audio for box1/1, paced in real time,
/// and a config that records it: (folder, config, database).
fn file_line_setup() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let audio = known_audio(8000, 20.0);
    std::fs::write(dir.path().join("line.raw"), raw_bytes(&audio)).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[[audio]]\nline = \"box1/1\"\nfile = {:?}\nrate = 8000\npace = \"realtime\"\n",
            dir.path().join("line.raw").display().to_string()
        ),
    );
    let db = dir.path().join("callpop.db");
    (dir, config, db)
}

/// How strongly `freq` sounds in `x` (amplitude).
fn level(x: &[i16], freq: f64, rate: f64) -> f64 {
    let (mut re, mut im) = (0.0, 0.0);
    for (i, &s) in x.iter().enumerate() {
        let w = 2.0 * std::f64::consts::PI * freq * i as f64 / rate;
        re += f64::from(s) * w.cos();
        im += f64::from(s) * w.sin();
    }
    2.0 * (re * re + im * im).sqrt() / x.len() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_through_cpal_and_alsa_records_what_the_device_delivers() {
    let dir = tempfile::tempdir().unwrap();
    // Line 1: a device opened at 8 kHz, the recording's own rate.
    let audio = known_audio(8000, 3.0);
    std::fs::write(dir.path().join("line1.raw"), raw_bytes(&audio)).unwrap();
    // Line 2: a device running at 16 kHz, carrying a 1 kHz tone: resampled.
    let tone: Vec<i16> = (0..48_000)
        .map(|i| {
            (12000.0 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 16000.0).sin()) as i16
        })
        .collect();
    std::fs::write(dir.path().join("line2.raw"), raw_bytes(&tone)).unwrap();
    let mut asoundrc = String::new();
    for n in 1..=2 {
        asoundrc += &format!(
            "pcm.callpop_line{n} {{\n  type file\n  slave.pcm \"null\"\n  file \"/dev/null\"\n  infile {:?}\n  format \"raw\"\n  hint {{ show on description \"callpop test line {n}\" }}\n}}\n",
            dir.path().join(format!("line{n}.raw")).display().to_string()
        );
    }
    // `callpop` runs with the test folder as its HOME.
    std::fs::write(dir.path().join(".asoundrc"), asoundrc).unwrap();
    let config = write_config(
        dir.path(),
        "[[audio]]\nline = \"box1/1\"\ncapture = \"callpop_line1\"\n\
         [[audio]]\nline = \"box1/2\"\ncapture = \"callpop_line2\"\nrate = 16000\n",
    );
    let mut sim = start_box(dir.path()).await;
    let mut daemon = serve(dir.path(), &config).await;
    let db = dir.path().join("callpop.db");
    call_recorded(&mut sim, 1, &db, 1).await;
    call_recorded(&mut sim, 2, &db, 2).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    sim.act(&Action::Hangup { port: 2 }).await.unwrap();
    let rows = settled(&db, 2).await;
    let _ = daemon.kill().await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    for r in &rows {
        assert_eq!(r.state, "done", "{r:?}");
    }
    let read = |row: &callpop::store::RecordingRow| -> Vec<i16> {
        let mut wav =
            hound::WavReader::open(dir.path().join("recordings").join(&row.path)).unwrap();
        assert_eq!(wav.spec().sample_rate, 8000);
        assert_eq!(wav.spec().channels, 1);
        wav.samples::<i16>().map(Result::unwrap).collect()
    };
    let by_line = |line: &str| rows.iter().find(|r| r.line == line).unwrap();
    // Line 1 holds the device's audio sample for sample.
    let got = read(by_line("box1/1"));
    assert!(got.len() >= 8000 * 2, "{} samples", got.len());
    let n = got.len().min(audio.len());
    assert_eq!(
        got[..n],
        audio[..n],
        "the recording differs from what ALSA delivered"
    );
    // Line 2: the 1 kHz tone, brought down to 8 kHz, at its level.
    let got = read(by_line("box1/2"));
    assert!(got.len() >= 8000 * 2, "{} samples", got.len());
    let middle = &got[2000..14000];
    let tone_level = level(middle, 1000.0, 8000.0);
    assert!((11000.0..13000.0).contains(&tone_level), "{tone_level}");
    assert!(level(middle, 2000.0, 8000.0) < 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_cut_by_sigkill_is_repaired_and_indexed_at_restart() {
    let (dir, config, db) = file_line_setup();
    let mut sim = start_box(dir.path()).await;
    let mut daemon = serve(dir.path(), &config).await;
    // Mid-call, 3.5 s in (between two header updates), the daemon dies.
    let started_at = call_recorded(&mut sim, 1, &db, 1).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    daemon.kill().await.unwrap(); // SIGKILL
    let killed_at = callpop::store::now_ms();
    let rows = callpop::store::Store::open_reader(&db)
        .unwrap()
        .recordings()
        .recent(1)
        .unwrap();
    assert_eq!(rows[0].state, "recording", "the kill left it unfinished");
    let file = dir.path().join("recordings").join(&rows[0].path);

    // The next start repairs and indexes it.
    let mut daemon = serve(dir.path(), &config).await;
    let rows = settled(&db, 1).await;
    let _ = daemon.kill().await;
    let row = &rows[0];
    assert_eq!(row.state, "repaired", "{row:?}");
    let mut wav = hound::WavReader::open(&file).unwrap();
    let samples: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
    assert_eq!(row.duration_ms, samples.len() as i64 / 8);
    assert_eq!(row.bytes, samples.len() as i64 * 2);
    // All but at most the last second (plus the time it takes to open the
    // source and the file once the row is written).
    let lived_ms = killed_at - started_at;
    assert!(
        row.duration_ms >= lived_ms - 1000 - 150,
        "{} ms of audio for {lived_ms} ms of recording",
        row.duration_ms
    );
    assert_eq!(
        samples[..],
        known_audio(8000, 20.0)[..samples.len()],
        "the audio is the line's"
    );
    // sox reads it too (`./run test` installs sox).
    let out = std::process::Command::new("sox")
        .arg("--i")
        .arg("-D")
        .arg(&file)
        .output()
        .expect("sox is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(
        (secs * 1000.0 - row.duration_ms as f64).abs() < 2.0,
        "{secs}"
    );
    // And the CLI lists it.
    let out = callpop(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["recordings", "list", "--json"])
        .output()
        .await
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["state"], "repaired");
}

/// `systemctl stop` sends SIGTERM: the call still open ends with its CDR
/// written, its recording is finished (not left for repair), and the
/// process exits 0.
#[tokio::test]
async fn sigterm_mid_call_finishes_the_cdr_and_the_recording() {
    let (dir, config, db) = file_line_setup();
    let mut sim = start_box(dir.path()).await;
    let mut daemon = serve(dir.path(), &config).await;
    call_recorded(&mut sim, 1, &db, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = daemon.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = tokio::time::timeout(Duration::from_secs(20), daemon.wait())
        .await
        .expect("callpop stops within 20 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    // Straight after the exit, with nothing left to settle.
    let store = callpop::store::Store::open_reader(&db).unwrap();
    let rec = &store.recordings().recent(10).unwrap()[0];
    assert_eq!(rec.state, "done", "{rec:?}");
    assert!(rec.duration_ms >= 1000, "{rec:?}");
    let calls = store.calls().recent(10).unwrap();
    let answered: Vec<_> = calls.iter().filter(|c| c.answered_at.is_some()).collect();
    assert_eq!(answered.len(), 1, "{calls:?}");
    assert!(
        answered[0].ended_at.is_some(),
        "the open call was ended: {calls:?}"
    );
    assert_eq!(answered[0].call_uid, rec.call_uid);
}
