//! Call recording end to end on the whole stack: calls on the simulated box
//! are recorded from each line's audio source; the recordings API scopes
//! by role, serves range requests, audits every playback, download, score
//! and appeal; a full disk stops a recording cleanly with an alarm.

mod common;

use callpop::sim::script::Action;
use common::*;
use serde_json::json;
use std::time::Duration;

/// Rings `port`, lets the desktop take it, talks for `talk`, hangs up.
async fn answered_call(s: &mut Stack, port: u8, number: &str, talk: Duration) {
    ring(&mut s.sim, port, number).await;
    s.sim.act(&Action::Answer { port }).await.unwrap();
    tokio::time::sleep(talk).await;
    s.sim.act(&Action::Hangup { port }).await.unwrap();
}

/// Waits until `n` recordings are finished; them, oldest first.
async fn finished(s: &Stack, n: usize) -> Vec<callpop::store::RecordingRow> {
    for _ in 0..200 {
        let rows = s.store.recordings().call(|s| s.recent(100)).await.unwrap();
        if rows.len() >= n && rows.iter().all(|r| r.state != "recording") {
            let mut rows = rows;
            rows.reverse();
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("recordings did not finish");
}

async fn audit_actions(s: &Stack, actor: &'static str) -> Vec<(String, Option<String>)> {
    s.store
        .users()
        .call(|st| st.recent_audit(500))
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.actor == actor && a.action.starts_with("recording."))
        .map(|a| (a.action, a.remote_addr))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_are_scoped_by_role_and_every_playback_is_audited() {
    let mut s = stack(256).await;
    add_user(&s, "qa1", callpop::store::Role::Qa).await;
    add_user(&s, "mk1", callpop::store::Role::Marketer).await;
    let (t1, t2) = (login(s.addr, "agent1").await, login(s.addr, "agent2").await);
    let mut a1 = ws(s.addr, Some(&t1)).await.unwrap();
    let mut a2 = ws(s.addr, Some(&t2)).await.unwrap();
    next_of(&mut a1, "hello").await;
    next_of(&mut a2, "hello").await;

    // agent1's own line; then a team line that agent2 claims.
    answered_call(&mut s, 1, "13812345678", Duration::from_millis(1200)).await;
    ring(&mut s.sim, 2, "13900001111").await;
    let pop = next_of(&mut a2, "call.ringing").await;
    send(
        &mut a2,
        json!({"type": "call.claim", "id": "c1", "data": {"call_id": pop["data"]["call_id"]}}),
    )
    .await;
    next_of(&mut a2, "result").await;
    s.sim.act(&Action::Answer { port: 2 }).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    s.sim.act(&Action::Hangup { port: 2 }).await.unwrap();
    let rows = finished(&s, 2).await;
    let (r1, r2) = (rows[0].id, rows[1].id);
    assert!(rows.iter().all(|r| r.state == "done"), "{rows:?}");

    // The file holds the line's audio (a 440 Hz tone) for the call's length.
    let wav = hound::WavReader::open(s.recordings.join(&rows[0].path)).unwrap();
    assert_eq!(wav.spec().sample_rate, 8000);
    let secs = wav.duration() as f64 / 8000.0;
    assert!((0.9..3.0).contains(&secs), "{secs} s");
    assert_eq!(rows[0].duration_ms, (secs * 1000.0).round() as i64);

    let list = |token: String| async move {
        let (status, _, body) = http(s.addr, "GET", "/api/recordings", Some(&token), None).await;
        assert_eq!(status, 200, "{body}");
        body["recordings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    let lead1 = login(s.addr, "lead1").await;
    let lead2 = login(s.addr, "lead2").await;
    let qa = login(s.addr, "qa1").await;
    assert_eq!(list(t1.clone()).await, [r1]);
    assert_eq!(list(t2.clone()).await, [r2]);
    assert_eq!(list(lead1.clone()).await, [r2, r1], "sales is lead1's team");
    assert!(list(lead2.clone()).await.is_empty(), "lead2 leads support");
    assert_eq!(list(qa.clone()).await, [r2, r1]);
    let mk = login(s.addr, "mk1").await;
    assert_eq!(
        status(s.addr, "GET", "/api/recordings", Some(&mk), None).await,
        403
    );

    // The search narrows by number and customer.
    let (_, _, found) = http(
        s.addr,
        "GET",
        // A whole number: QA, who sees numbers masked, may not search by fragments.
        "/api/recordings?number=13900001111",
        Some(&qa),
        None,
    )
    .await;
    assert_eq!(found["recordings"][0]["id"], r2);
    assert_eq!(found["recordings"][0]["customer"], "赵敏");
    assert_eq!(found["recordings"][0]["agent"], "agent2");
    assert_eq!(found["recordings"].as_array().unwrap().len(), 1);

    // agent1 cannot see, play or download agent2's recording.
    let other = format!("/api/recordings/{r2}");
    assert_eq!(status(s.addr, "GET", &other, Some(&t1), None).await, 404);
    for path in [
        format!("{other}/audio"),
        format!("{other}/audio?download=true"),
    ] {
        assert_eq!(get_bytes(s.addr, &path, Some(&t1), "").await.0, 404);
    }
    // Without a session the URL is useless.
    let own = format!("/api/recordings/{r1}/audio");
    assert_eq!(get_bytes(s.addr, &own, None, "").await.0, 401);
    assert!(audit_actions(&s, "agent1").await.is_empty());

    // Playing: the whole file, then a seek (a range request).
    let (code, head, body) = get_bytes(s.addr, &own, Some(&t1), "").await;
    assert_eq!(code, 200, "{head}");
    assert!(
        head.to_lowercase().contains("content-type: audio/wav"),
        "{head}"
    );
    let whole = hound::WavReader::new(std::io::Cursor::new(body.clone())).unwrap();
    assert_eq!(whole.duration(), wav.duration());
    let (code, head, part) = get_bytes(s.addr, &own, Some(&t1), "Range: bytes=1000-1999\r\n").await;
    assert_eq!(code, 206, "{head}");
    assert_eq!(part, body[1000..2000]);
    assert!(head
        .to_lowercase()
        .contains(&format!("content-range: bytes 1000-1999/{}", body.len())));
    // One playback, from this machine; the seek is not another one.
    assert_eq!(
        audit_actions(&s, "agent1").await,
        [("recording.play".to_string(), Some("127.0.0.1".to_string()))]
    );
    // A malformed Range is ignored: the whole file, not a 416.
    let (code, head, again) = get_bytes(s.addr, &own, Some(&t1), "Range: bytes=abc\r\n").await;
    assert_eq!(code, 200, "{head}");
    assert_eq!(again, body);
    let (code, head, _) = get_bytes(
        s.addr,
        &format!("{other}/audio?download=true"),
        Some(&lead1),
        "",
    )
    .await;
    assert_eq!(code, 200);
    // Named for people: when, which line, which number.
    let disposition = head
        .lines()
        .find(|l| l.to_lowercase().starts_with("content-disposition:"))
        .unwrap_or_else(|| panic!("{head}"));
    let name = disposition
        .split("filename=\"")
        .nth(1)
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{disposition}"));
    let (stamp, rest) = name.split_once('_').unwrap();
    assert!(
        stamp.len() == 15 && stamp.as_bytes()[8] == b'-',
        "YYYYMMDD-HHMMSS in {name}"
    );
    assert!(
        rest.starts_with("box1-") && rest.ends_with(".wav"),
        "line and number in {name}"
    );
    assert_eq!(audit_actions(&s, "lead1").await[0].0, "recording.download");

    // Scoring: QA scores agent1's call; agents cannot score; bad points are refused.
    let (_, _, detail) = http(
        s.addr,
        "GET",
        &format!("/api/recordings/{r1}"),
        Some(&qa),
        None,
    )
    .await;
    assert_eq!(detail["can_score"], true);
    let form = &detail["forms"][0];
    let mut items = serde_json::Map::new();
    for item in form["items"].as_array().unwrap() {
        items.insert(item["key"].as_str().unwrap().into(), item["points"].clone());
    }
    items.insert("greeting".into(), json!(0));
    let score = json!({"form_id": form["id"], "items": items, "comment": "开场白缺失"});
    let path = format!("/api/recordings/{r1}/scores");
    assert_eq!(
        status(s.addr, "POST", &path, Some(&t1), Some(score.clone())).await,
        403
    );
    let mut too_many = score.clone();
    too_many["items"]["solution"] = json!(99);
    let (code, _, err) = http(s.addr, "POST", &path, Some(&qa), Some(too_many)).await;
    assert_eq!(code, 400);
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("solution"));
    let (code, _, scored) = http(s.addr, "POST", &path, Some(&qa), Some(score)).await;
    assert_eq!(code, 200, "{scored}");
    assert_eq!(scored["scores"][0]["total"], 90);
    assert_eq!(scored["scores"][0]["passed"], true);
    let score_id = scored["score"].as_i64().unwrap();
    assert_eq!(audit_actions(&s, "qa1").await[0].0, "recording.score");

    // The agent appeals; another agent cannot.
    let appeal = format!("/api/recordings/{r1}/scores/{score_id}/appeal");
    let note = json!({"note": "客户抢先开口，开场白已补"});
    assert_eq!(
        status(s.addr, "POST", &appeal, Some(&t2), Some(note.clone())).await,
        404
    );
    let (code, _, appealed) = http(s.addr, "POST", &appeal, Some(&t1), Some(note)).await;
    assert_eq!(code, 200, "{appealed}");
    assert_eq!(appealed["scores"][0]["appeal_by"], "agent1");
    let (_, _, listed) = http(s.addr, "GET", "/api/recordings", Some(&t1), None).await;
    assert_eq!(listed["recordings"][0]["score"], 90);

    // Holding is for checkers, and is audited.
    let hold = format!("/api/recordings/{r1}/hold");
    assert_eq!(
        status(s.addr, "PUT", &hold, Some(&t1), Some(json!({"held": true}))).await,
        403
    );
    assert_eq!(
        status(s.addr, "PUT", &hold, Some(&qa), Some(json!({"held": true}))).await,
        200
    );
    assert!(
        s.store
            .recordings()
            .call(move |st| st.recording(r1))
            .await
            .unwrap()
            .unwrap()
            .held
    );
    let qa_actions: Vec<String> = audit_actions(&s, "qa1")
        .await
        .into_iter()
        .map(|a| a.0)
        .collect();
    assert_eq!(qa_actions, ["recording.hold", "recording.score"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_recording_with_an_alarm_and_the_call_goes_on() {
    let mut s = stack(256).await;
    std::fs::create_dir_all(&s.recordings).unwrap();
    // 40 KiB: two and a half seconds of 8 kHz audio.
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=40k", "tmpfs"])
        .arg(&s.recordings)
        .status()
        .map(|st| st.success())
        .unwrap_or(false);
    if !mounted {
        assert_ne!(
            effective_uid(),
            0,
            "root could not mount a small tmpfs for the full-disk test"
        );
        eprintln!("not root: the full-disk test needs to mount a small tmpfs; skipped");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(s.recordings.clone());
    let lead = login(s.addr, "lead1").await;
    let mut desk = ws(s.addr, Some(&lead)).await.unwrap();
    next_of(&mut desk, "hello").await;

    answered_call(&mut s, 3, "13812345678", Duration::from_millis(4500)).await;
    let alarm = next_of(&mut desk, "alarm").await;
    assert_eq!(alarm["data"]["source"], "box1/3");
    assert!(
        alarm["data"]["message"]
            .as_str()
            .unwrap()
            .contains("disk is full"),
        "{alarm}"
    );
    let rows = finished(&s, 1).await;
    assert_eq!(rows[0].state, "failed");
    assert!(rows[0].error.as_deref().unwrap().contains("disk is full"));
    // What fitted is a valid file.
    let wav = hound::WavReader::open(s.recordings.join(&rows[0].path)).unwrap();
    assert!(wav.duration() > 8000, "{} samples", wav.duration());
    // The call itself was answered and ended as usual.
    let mut outcome = None;
    for _ in 0..100 {
        let calls = s.store.calls().call(|st| st.recent(5)).await.unwrap();
        outcome = calls.first().and_then(|c| c.outcome.clone());
        if outcome.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(outcome.as_deref(), Some("answered"));
}

fn effective_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        })
        .and_then(|u| u.parse().ok())
        .unwrap_or(u32::MAX)
}

/// The supervisors' page in a real browser: a quality checker logs in, finds the
/// call by the caller's number, plays it (the browser fetches the audio
/// with range requests under the session cookie) and the playback is
/// audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_finds_a_recording_and_plays_it_in_a_browser() {
    let mut s = stack(256).await;
    add_user(&s, "qa1", callpop::store::Role::Qa).await;
    let t1 = login(s.addr, "agent1").await;
    let mut a1 = ws(s.addr, Some(&t1)).await.unwrap();
    next_of(&mut a1, "hello").await;
    answered_call(&mut s, 1, "13812345678", Duration::from_millis(2200)).await;
    answered_call(&mut s, 4, "02161234567", Duration::from_millis(500)).await;
    finished(&s, 2).await;

    let mut b = common::browser::Browser::start().await;
    b.goto(&format!("http://{}/recordings", s.addr)).await;
    b.wait_for("document.getElementById('login')").await;
    b.log_in("qa1").await;
    let rows = "document.querySelectorAll('[data-test=rows] tbody tr').length";
    b.wait_for(&format!("{rows} === 2")).await;
    // The number as people type it.
    b.fill("[data-test=filters] input[name=number]", "138 1234 5678")
        .await;
    b.click("[data-test=search]").await;
    b.wait_for(&format!("{rows} === 1")).await;
    let row = b.text("[data-test=rows] tbody tr").await;
    // QA hears the call, not the caller's number.
    assert!(row.contains("王伟") && row.contains("138****5678"), "{row}");
    b.click("[data-test=rows] tbody tr td").await;
    b.wait_for("document.querySelector('[data-test=player]')")
        .await;
    let player = "document.querySelector('[data-test=player]')";
    b.eval(&format!("{player}.play().then(() => true)")).await;
    // It plays: time moves, and the length is the call's.
    b.wait_for(&format!("{player}.currentTime > 0.5")).await;
    let duration = b
        .eval(&format!("{player}.duration"))
        .await
        .as_f64()
        .unwrap();
    assert!((1.8..4.0).contains(&duration), "{duration}");
    // Seeking works (a range request past the start).
    b.eval(&format!("{player}.currentTime = 1.5; true")).await;
    b.wait_for(&format!("{player}.currentTime >= 1.5")).await;
    assert_eq!(b.eval(&format!("{player}.error === null")).await, true);
    // A reload keeps the chosen recording open.
    b.call("Page.reload", json!({})).await;
    b.wait_for("document.querySelector('[data-test=player]')")
        .await;
    b.assert_no_console_errors();
    let plays = audit_actions(&s, "qa1").await;
    assert_eq!(
        plays.first().map(|p| p.0.as_str()),
        Some("recording.play"),
        "{plays:?}"
    );
}
