//! The recorder: follows the call events, and for every call on a line
//! with an audio source writes one WAV file on a thread of its own, so
//! neither the async runtime nor the call engine ever waits for a sound
//! card or a disk.
//!
//! A recording that fails (no such device, the device vanished, the disk
//! is full) stops cleanly: what was written stays playable, its row says
//! why, and an alarm goes out; the call and its pop go on.

use super::resample::StreamResampler;
use super::source::{self, OpenSource, SourceSpec};
use super::wav::WavRecorder;
use crate::config::{Config, RecordingStart};
use crate::devices::serial::line_name;
use crate::event::CallEvent;
use crate::store::StoreHandle;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot};

/// How long a live device may stay silent (no samples at all, not quiet
/// audio) before it counts as gone.
const STALL: Duration = Duration::from_secs(3);

/// What one recording thread reports when it stops.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Finished {
    pub duration_ms: i64,
    pub bytes: i64,
    /// Samples the source had to drop because the writer was behind.
    pub dropped: u64,
    pub error: Option<String>,
}

/// Records one call from `spec` into `path` until `stop` is set or the
/// source or the disk fails. Runs on its own thread.
pub fn record(
    spec: &SourceSpec,
    path: &Path,
    rate: u32,
    taps: &source::Taps,
    stop: &AtomicBool,
) -> Finished {
    let source = match source::open(spec, rate, taps) {
        Ok(s) => s,
        Err(e) => {
            return Finished {
                error: Some(e.to_string()),
                ..Finished::default()
            }
        }
    };
    let mut wav = match WavRecorder::create(path, rate) {
        Ok(w) => w,
        Err(e) => {
            return Finished {
                error: Some(format!("{}: {e}", path.display())),
                ..Finished::default()
            }
        }
    };
    let error = pump(&source, &mut wav, rate, stop).err();
    let dropped = source.dropped.load(Ordering::Relaxed);
    drop(source);
    let bytes = wav.data_bytes() as i64;
    let duration_ms = wav.duration().as_millis() as i64;
    let error = match wav.finish() {
        Ok(_) => error,
        // The header could not be brought up to date (a full disk): the
        // file is repaired from its length, as after a crash.
        Err(e) => {
            let _ = super::wav::repair(path);
            error.or(Some(format!("{}: {e}", path.display())))
        }
    };
    Finished {
        duration_ms,
        bytes,
        dropped,
        error,
    }
}

/// Moves audio from the source to the file until told to stop.
fn pump(
    source: &OpenSource,
    wav: &mut WavRecorder,
    rate: u32,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut resampler = if source.rate == rate {
        None
    } else {
        Some(StreamResampler::new(source.rate, rate).map_err(|e| e.to_string())?)
    };
    let mut converted = Vec::new();
    let mut write = |block: &[i16], wav: &mut WavRecorder| -> Result<(), String> {
        let out = match resampler.as_mut() {
            None => block,
            Some(r) => {
                converted.clear();
                r.push(block, &mut converted);
                &converted[..]
            }
        };
        wav.write(out).map_err(|e| write_error(&e))
    };
    let mut last_audio = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            // What the source already delivered belongs to the call.
            while let Ok(block) = source.blocks.try_recv() {
                write(&block, wav)?;
            }
            break;
        }
        if let Some(fault) = source.fault.lock().unwrap().clone() {
            return Err(fault);
        }
        match source.blocks.recv_timeout(Duration::from_millis(50)) {
            Ok(block) => {
                last_audio = Instant::now();
                write(&block, wav)?;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if source.live && last_audio.elapsed() > STALL {
                    return Err("the audio device stopped delivering sound".into());
                }
            }
            // A file that ended: the rest of the call has no audio.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                if let Some(fault) = source.fault.lock().unwrap().clone() {
                    return Err(fault);
                }
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                break;
            }
        }
    }
    if let Some(r) = resampler.as_mut() {
        let mut tail = Vec::new();
        r.finish(&mut tail);
        wav.write(&tail).map_err(|e| write_error(&e))?;
    }
    Ok(())
}

fn write_error(e: &hound::Error) -> String {
    match e {
        hound::Error::IoError(io) if io.raw_os_error() == Some(28) => {
            format!("the disk is full: {io}")
        }
        _ => format!("cannot write the recording: {e}"),
    }
}

type Profiles = std::collections::BTreeMap<String, crate::devices::profile::LoadedProfile>;

/// The sources the recorder records each line from: the configured ones,
/// except that an audio box's line is tapped from the box, which holds
/// its sound card open.
pub fn sources_from_config(
    config: &Config,
    profiles: &Profiles,
) -> anyhow::Result<HashMap<String, SourceSpec>> {
    let mut out = device_sources(config, profiles)?;
    for (d, _) in audio_boxes(config, profiles) {
        let line = line_name(&d.name, 1);
        if out.contains_key(&line) {
            out.insert(line.clone(), SourceSpec::Tap { line });
        }
    }
    Ok(out)
}

/// The configured devices whose profile is an audio box.
fn audio_boxes<'a>(
    config: &'a Config,
    profiles: &'a Profiles,
) -> impl Iterator<
    Item = (
        &'a crate::config::DeviceConfig,
        &'a crate::devices::profile::LoadedProfile,
    ),
> {
    config.devices.iter().filter_map(|d| {
        profiles
            .get(&d.profile)
            .filter(|p| p.profile.kind == crate::devices::profile::DeviceKind::AudioBox)
            .map(|p| (d, p))
    })
}

/// Lines' audio sources from the config; a line named without a source
/// takes its device profile's capture pattern, and so does an audio box
/// the config gives no `[[audio]]` for.
pub fn device_sources(
    config: &Config,
    profiles: &Profiles,
) -> anyhow::Result<HashMap<String, SourceSpec>> {
    let mut out = HashMap::new();
    for (d, p) in audio_boxes(config, profiles) {
        if let Some(pattern) = &p.profile.audio.capture {
            out.insert(
                line_name(&d.name, 1),
                SourceSpec::Capture {
                    pattern: pattern.clone(),
                    rate: None,
                    channel: 0,
                },
            );
        }
    }
    let mut given = std::collections::HashSet::new();
    for a in &config.audio {
        let spec = match (&a.capture, &a.file) {
            (Some(pattern), None) => SourceSpec::Capture {
                pattern: pattern.clone(),
                rate: a.rate,
                channel: a.channel,
            },
            (None, Some(file)) => SourceSpec::File {
                path: file.clone(),
                rate: a.rate.unwrap_or(config.recording.sample_rate),
                pace: a.pace,
                looped: a.looped,
            },
            _ => {
                let device = a.line.split('/').next().unwrap_or_default();
                let pattern = config
                    .devices
                    .iter()
                    .find(|d| d.name == device)
                    .and_then(|d| profiles.get(&d.profile))
                    .and_then(|p| p.profile.audio.capture.clone())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "[[audio]] line {:?}: give `capture` or `file`; its device's profile names no capture device",
                            a.line
                        )
                    })?;
                SourceSpec::Capture {
                    pattern,
                    rate: a.rate,
                    channel: a.channel,
                }
            }
        };
        if !given.insert(a.line.clone()) {
            anyhow::bail!("[[audio]] line {:?} is given twice", a.line);
        }
        out.insert(a.line.clone(), spec);
    }
    Ok(out)
}

/// The recorder task's settings.
pub struct RecorderSettings {
    pub root: PathBuf,
    pub sample_rate: u32,
    pub start: RecordingStart,
    pub sources: HashMap<String, SourceSpec>,
    /// Where audio boxes publish their lines' audio (for `Tap` sources).
    pub taps: source::Taps,
}

/// A recording under way.
struct Active {
    stop: Arc<AtomicBool>,
}

/// Follows call events and records calls; returns when the events end
/// (the daemon stopping), after every recording under way is finished.
pub async fn run(
    settings: RecorderSettings,
    store: StoreHandle,
    mut events: broadcast::Receiver<CallEvent>,
    alarms: broadcast::WeakSender<CallEvent>,
) {
    let sources: HashMap<String, Arc<SourceSpec>> = settings
        .sources
        .into_iter()
        .map(|(k, v)| (k, Arc::new(v)))
        .collect();
    let mut active: HashMap<Arc<str>, Active> = HashMap::new();
    let mut finishing = tokio::task::JoinSet::new();
    loop {
        let event = match events.recv().await {
            Ok(e) => e,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::error!(missed = n, "the recorder fell behind the call events");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        let begin = match &event {
            CallEvent::Answered { call_id, line } | CallEvent::Dialing { call_id, line, .. } => {
                Some((call_id, line))
            }
            CallEvent::Ringing { call_id, line, .. } if settings.start == RecordingStart::Ring => {
                Some((call_id, line))
            }
            CallEvent::Ended { call_id, .. } => {
                if let Some(a) = active.remove(call_id) {
                    a.stop.store(true, Ordering::Relaxed);
                }
                None
            }
            _ => None,
        };
        let Some((call_id, line)) = begin else {
            continue;
        };
        if active.contains_key(call_id) {
            continue;
        }
        let Some(spec) = sources.get(&**line).cloned() else {
            continue;
        };
        let relative = super::relative_path(call_id, chrono::Local::now());
        let row = {
            let (uid, line, rel) = (call_id.to_string(), line.to_string(), relative.clone());
            let rate = settings.sample_rate;
            store
                .recordings()
                .call(move |s| s.recording_started(&uid, &line, &rel, rate))
                .await
        };
        let id = match row {
            Ok(id) => id,
            Err(e) => {
                raise(&alarms, line, format!("cannot index a recording: {e}"));
                continue;
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        active.insert(call_id.clone(), Active { stop: stop.clone() });
        let (done_tx, done_rx) = oneshot::channel();
        let path = settings.root.join(&relative);
        let rate = settings.sample_rate;
        let taps = settings.taps.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("callpop-rec-{id}"))
            .spawn(move || {
                let _ = done_tx.send(record(&spec, &path, rate, &taps, &stop));
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a recording thread");
        }
        let (store, alarms, line, call) =
            (store.clone(), alarms.clone(), line.clone(), call_id.clone());
        finishing.spawn(async move {
            let finished = done_rx.await.unwrap_or_else(|_| Finished {
                error: Some("the recording thread died".into()),
                ..Finished::default()
            });
            settle(id, &call, &line, finished, &store, &alarms).await;
        });
        // Reap what is done so the set does not grow over a long day.
        while finishing.try_join_next().is_some() {}
    }
    for a in active.values() {
        a.stop.store(true, Ordering::Relaxed);
    }
    while finishing.join_next().await.is_some() {}
}

/// Completes a recording's row, and raises the alarm if it failed.
async fn settle(
    id: i64,
    call: &str,
    line: &Arc<str>,
    f: Finished,
    store: &StoreHandle,
    alarms: &broadcast::WeakSender<CallEvent>,
) {
    let state = if f.error.is_some() { "failed" } else { "done" };
    if f.dropped > 0 {
        tracing::warn!(
            recording = id,
            dropped = f.dropped,
            "samples were dropped: the disk or the machine could not keep up"
        );
    }
    let error = f.error.clone();
    // Kept and written when the disk has room again (a full disk is the
    // usual reason a recording fails): the row never stays `recording`.
    let (duration_ms, bytes) = (f.duration_ms, f.bytes);
    store.recordings().submit_fact("recording end", move |s| {
        s.recording_finished(id, state, duration_ms, bytes, error.as_deref())
    });
    match f.error {
        Some(e) => raise(
            alarms,
            line,
            format!("recording of call {call} stopped: {e}"),
        ),
        None => tracing::info!(
            recording = id,
            call,
            duration_ms = f.duration_ms,
            "recording finished"
        ),
    }
}

fn raise(alarms: &broadcast::WeakSender<CallEvent>, line: &Arc<str>, message: String) {
    tracing::error!(line = %line, "{message}");
    if let Some(tx) = alarms.upgrade() {
        let _ = tx.send(CallEvent::Alarm {
            source: line.clone(),
            message,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_sound_card_fails_the_recording_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let spec = SourceSpec::Capture {
            pattern: "no-such-card-anywhere".into(),
            rate: None,
            channel: 0,
        };
        let f = record(
            &spec,
            &path,
            8000,
            &source::Taps::default(),
            &AtomicBool::new(false),
        );
        let error = f.error.unwrap();
        assert!(error.contains("no capture device matches"), "{error}");
        assert_eq!((f.duration_ms, f.bytes), (0, 0));
        assert!(!path.exists(), "no empty file is left behind");
    }

    #[test]
    fn a_fast_file_is_recorded_whole_and_resampled() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&input, spec).unwrap();
        for i in 0..32_000 {
            w.write_sample(((i % 40) * 500 - 10_000) as i16).unwrap();
        }
        w.finalize().unwrap();
        let source = SourceSpec::File {
            path: input,
            rate: 8000,
            pace: source::Pace::Fast,
            looped: false,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let out = dir.path().join("2026/01/01/call.wav");
        let t = {
            let (out, stop) = (out.clone(), stop.clone());
            std::thread::spawn(move || record(&source, &out, 8000, &source::Taps::default(), &stop))
        };
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        let f = t.join().unwrap();
        assert_eq!(f.error, None);
        // Two seconds at 16 kHz are two seconds at 8 kHz.
        assert_eq!(f.duration_ms, 2000);
        assert_eq!(hound::WavReader::open(&out).unwrap().duration(), 16_000);
    }
}
