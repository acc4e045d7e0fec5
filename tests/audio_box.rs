//! The audio box through the real daemon: a line's audio (caller ID in
//! FSK, then the conversation, then the exchange's busy tone) is all the
//! box delivers, and the call is identified, answered, recorded and ended
//! like any other line's.

mod common;

use callpop::dsp::cid::CallerIdMessage;
use callpop::dsp::listener::CidStandard;
use callpop::dsp::signal::CidSignal;
use callpop::dsp::tones;
use common::daemon::serve;
use std::time::Duration;

const RATE: u32 = 8000;

/// A conversation's stand-in: a warbling tone with texture, well above
/// line noise, unlike any call-progress tone.
fn talk(secs: f64) -> Vec<f32> {
    let n = (f64::from(RATE) * secs) as usize;
    let mut seed = 3u32;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let f = 300.0 + 200.0 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
            (0.2 * (2.0 * std::f64::consts::PI * f * t).sin()
                + f64::from((seed >> 16) as i32 - 32768) / 32768.0 * 0.02) as f32
        })
        .collect()
}

fn silence(secs: f64) -> Vec<f32> {
    vec![0.0; (f64::from(RATE) * secs) as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audio_box_line_is_identified_answered_recorded_and_hung_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut line = silence(1.0);
    let cid = CidSignal {
        snr_db: Some(25.0),
        ..CidSignal::new(CidStandard::Bell202, RATE)
    };
    line.extend(cid.render(&CallerIdMessage::number_only("13800138000")));
    line.extend(silence(2.0));
    line.extend(talk(4.0));
    let busy = tones::plan("cn").unwrap().remove(2);
    line.extend(tones::generate(&busy, RATE, 2500, 0.1));
    line.extend(silence(1.0));
    let audio = dir.path().join("line.wav");
    callpop::dsp::signal::write_wav(&audio, RATE, &line).unwrap();
    let db = dir.path().join("callpop.db");
    let config = dir.path().join("callpop.toml");
    std::fs::write(
        &config,
        format!(
            "db = {:?}\n[[device]]\nname = \"abox\"\nprofile = \"usb-audio-cid-box\"\n\
             [[audio]]\nline = \"abox/1\"\nfile = {:?}\npace = \"realtime\"\n",
            db.display().to_string(),
            audio.display().to_string(),
        ),
    )
    .unwrap();
    let mut daemon = serve(dir.path(), &config).await;
    // The file lasts about 12 s; the call must be stored by then.
    let mut calls = Vec::new();
    for _ in 0..300 {
        if let Ok(store) = callpop::store::Store::open_reader(&db) {
            calls = store.calls().recent(10).unwrap_or_default();
            if !calls.is_empty() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call.raw_number.as_deref(), Some("13800138000"), "{call:?}");
    assert_eq!(call.outcome.as_deref(), Some("answered"), "{call:?}");
    assert_eq!(call.line, "abox/1");
    // Answered 1.5 s into the talk, hung up on the second burst of busy tone.
    let talked = call.ended_at.unwrap() - call.answered_at.unwrap();
    assert!((2000..=4500).contains(&talked), "talked {talked} ms");
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = callpop::store::Store::open_reader(&db)
            .unwrap()
            .recordings()
            .recent(10)
            .unwrap();
        if rows.iter().all(|r| r.state != "recording") && !rows.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].state, "done", "{rows:?}");
    let wav = db.parent().unwrap().join("recordings").join(&rows[0].path);
    let recorded: Vec<i16> = hound::WavReader::open(&wav)
        .unwrap()
        .into_samples::<i16>()
        .map(Result::unwrap)
        .collect();
    let secs = recorded.len() as f64 / f64::from(RATE);
    assert!((2.0..=4.5).contains(&secs), "{secs} s recorded");
    // The talk is in it: loud, and not the busy tone alone.
    let loud = recorded.iter().filter(|s| s.unsigned_abs() > 3000).count();
    assert!(loud > recorded.len() / 4, "{loud} of {}", recorded.len());
    daemon.kill().await.unwrap();
}
