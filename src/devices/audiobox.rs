//! The audio box: a sound card on the line and nothing else. Its audio
//! runs through the line listener (FSK and DTMF caller ID, DTMF keys,
//! call-progress tones); [`LineWatch`] turns what is heard into the line
//! signals any box would send, so such a line pops and records like the
//! others. The audio is also published for the recorder to tap.
//!
//! It sees no rings and no hook switch, so the call's course is read from
//! the sound: a caller ID starts an incoming call, sound on the line after
//! it means answered, a busy tone or a long silence means hung up; keys or
//! dial tone on an idle line mean an outgoing call.

use crate::devices::audio::{self as source, SourceSpec, Taps};
use crate::devices::profile::ListenSettings;
use crate::devices::serial::{BoxDevice, PortLocator, BACKOFF};
use crate::dsp::listener::{Heard, ListenFor, Listener};
use crate::dsp::tones::{ToneKind, ToneSpec};
use crate::event::{CallerId, DeviceState, LineEvent, LineEventKind, LineSignal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The line's state as the sound tells it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Watch {
    Idle,
    /// A caller ID came; waiting for sound (answered) or the ring timeout.
    Alerting {
        quiet_ms: f64,
        sound_ms: f64,
    },
    /// Answered, or an outgoing call; `quiet_ms` of silence so far.
    InCall {
        quiet_ms: f64,
    },
}

/// Reads the call's course from what the listener heard and how loud
/// each block was. Pure: fed blocks, gives signals.
pub struct LineWatch {
    settings: ListenSettings,
    ring_timeout_ms: f64,
    state: Watch,
}

impl LineWatch {
    pub fn new(settings: ListenSettings, ring_timeout_ms: u64) -> LineWatch {
        LineWatch {
            settings,
            ring_timeout_ms: ring_timeout_ms as f64,
            state: Watch::Idle,
        }
    }

    /// One block: `ms` long, at `level_dbfs`, with what was heard in it.
    pub fn block(&mut self, ms: f64, level_dbfs: f64, heard: &[Heard], out: &mut Vec<LineSignal>) {
        for h in heard {
            self.heard(h, out);
        }
        let sound = level_dbfs >= self.settings.voice_threshold_dbfs;
        match &mut self.state {
            Watch::Idle => {}
            Watch::Alerting { quiet_ms, sound_ms } => {
                if sound {
                    *sound_ms += ms;
                    *quiet_ms = 0.0;
                } else {
                    *quiet_ms += ms;
                    // Sound must be one stretch, give or take a breath.
                    if *quiet_ms > 2000.0 {
                        *sound_ms = 0.0;
                    }
                }
                if *sound_ms >= self.settings.answer_after_voice_ms as f64 {
                    self.state = Watch::InCall { quiet_ms: 0.0 };
                    out.push(LineSignal::OffHook);
                } else if *quiet_ms >= self.ring_timeout_ms {
                    // The engine ends the unanswered call on its ring timeout.
                    self.state = Watch::Idle;
                }
            }
            Watch::InCall { quiet_ms } => {
                *quiet_ms = if sound { 0.0 } else { *quiet_ms + ms };
                if *quiet_ms >= self.settings.hangup_after_silence_ms as f64 {
                    self.state = Watch::Idle;
                    out.push(LineSignal::OnHook);
                }
            }
        }
    }

    fn heard(&mut self, h: &Heard, out: &mut Vec<LineSignal>) {
        match (self.state, h) {
            (Watch::Idle, Heard::CallerId { message, .. }) => {
                out.push(LineSignal::CallerId(CallerId::from(message.clone())));
                self.state = Watch::Alerting {
                    quiet_ms: 0.0,
                    sound_ms: 0.0,
                };
            }
            // Keys on an idle line are someone dialling out (single keys
            // are judged once their string ends: they may be a caller ID).
            (Watch::Idle, Heard::Keys { keys, .. }) => {
                out.push(LineSignal::OffHook);
                out.push(LineSignal::Dtmf {
                    digits: keys.clone(),
                });
                self.state = Watch::InCall { quiet_ms: 0.0 };
            }
            (
                Watch::Idle,
                Heard::Tone {
                    kind: ToneKind::Dial,
                    ..
                },
            ) => {
                out.push(LineSignal::OffHook);
                self.state = Watch::InCall { quiet_ms: 0.0 };
            }
            (Watch::InCall { .. }, Heard::Key { key, .. }) => out.push(LineSignal::Dtmf {
                digits: key.to_string(),
            }),
            (Watch::InCall { .. } | Watch::Alerting { .. }, Heard::Tone { kind, .. })
                if self.settings.hangup_tones.contains(kind) =>
            {
                self.state = Watch::Idle;
                out.push(LineSignal::OnHook);
            }
            _ => {}
        }
    }
}

/// Stops the box's thread when the driver task is dropped (aborted).
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs an audio box until its task is dropped or the engine is gone:
/// opens its source (again after a failure, with backoff), listens, and
/// sends the line's signals and state.
pub async fn run_audio_box(device: BoxDevice, events: mpsc::Sender<LineEvent>) {
    let PortLocator::Audio {
        source: spec,
        tones,
        taps,
    } = device.port.clone()
    else {
        tracing::error!(device = %device.name, "an audio box needs an audio source");
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let _guard = StopOnDrop(stop.clone());
    let thread_stop = stop.clone();
    let worker = tokio::task::spawn_blocking(move || {
        listen(&device, &spec, &tones, &taps, &events, &thread_stop)
    });
    let _ = worker.await;
}

/// The box's blocking loop, on a thread of its own.
fn listen(
    device: &BoxDevice,
    spec: &SourceSpec,
    tones: &[ToneSpec],
    taps: &Taps,
    events: &mpsc::Sender<LineEvent>,
    stop: &AtomicBool,
) {
    let line = device.lines[0].clone();
    let settings = device.profile.profile.listen.clone();
    let send = |kind: LineEventKind| {
        events
            .blocking_send(LineEvent {
                line: line.clone(),
                device: device.name.clone(),
                at_ms: crate::store::now_ms(),
                at: Instant::now(),
                kind,
                backlog: None,
            })
            .is_ok()
    };
    let what = ListenFor {
        tones: Some(tones.to_vec()),
        min_seizure: settings.min_seizure,
        squelch_dbm0: settings.squelch_dbm0,
        ..ListenFor::standards(&settings.standards)
    };
    let mut attempt = 0usize;
    let mut reported_down = false;
    while !stop.load(Ordering::Relaxed) && !events.is_closed() {
        let source = match source::open(spec, 8000, taps) {
            Ok(s) => s,
            Err(e) => {
                if !reported_down {
                    tracing::warn!(device = %device.name, error = %e, "audio box not available; retrying");
                    send(LineEventKind::Device(DeviceState::Down {
                        reason: e.to_string(),
                    }));
                    reported_down = true;
                }
                sleep_unless(stop, BACKOFF[attempt.min(BACKOFF.len() - 1)]);
                attempt += 1;
                continue;
            }
        };
        attempt = 0;
        if !send(LineEventKind::Device(DeviceState::Up)) {
            return;
        }
        let publisher = taps.publish(&line, source.rate);
        let mut listener = Listener::new(source.rate, &what);
        let mut watch = LineWatch::new(
            settings.clone(),
            device.profile.profile.quirks.ring_timeout_ms,
        );
        let (mut heard, mut signals, mut floats) = (Vec::new(), Vec::new(), Vec::new());
        let mut last_audio = Instant::now();
        let reason = loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            match source.blocks.recv_timeout(Duration::from_millis(200)) {
                Ok(block) => {
                    last_audio = Instant::now();
                    publisher.publish(&block);
                    floats.clear();
                    floats.extend(block.iter().map(|&s| f32::from(s) / 32768.0));
                    heard.clear();
                    listener.push(&floats, &mut heard);
                    for h in &heard {
                        if let Heard::Rejected {
                            error, standard, ..
                        } = h
                        {
                            tracing::warn!(line = %line, standard = standard.as_str(), %error, "caller-ID message rejected");
                        }
                    }
                    let ms = block.len() as f64 * 1000.0 / f64::from(source.rate);
                    signals.clear();
                    watch.block(ms, level_dbfs(&floats), &heard, &mut signals);
                    for s in signals.drain(..) {
                        if !send(LineEventKind::Signal(s)) {
                            return;
                        }
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(f) = source.fault.lock().unwrap().clone() {
                        break f;
                    }
                    if source.live && last_audio.elapsed() > Duration::from_secs(3) {
                        break "the sound card stopped delivering audio".to_string();
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    match source.fault.lock().unwrap().clone() {
                        Some(f) => break f,
                        // A file that ended is done: nothing to reopen.
                        None if !source.live => {
                            drop(publisher);
                            send(LineEventKind::Device(DeviceState::Down {
                                reason: "the audio file ended".into(),
                            }));
                            while !stop.load(Ordering::Relaxed) && !events.is_closed() {
                                std::thread::sleep(Duration::from_millis(200));
                            }
                            return;
                        }
                        None => break "the sound card went away".to_string(),
                    }
                }
            }
        };
        drop(publisher);
        tracing::warn!(device = %device.name, %reason, "audio box lost; retrying");
        send(LineEventKind::Device(DeviceState::Down { reason }));
        reported_down = true;
    }
}

fn sleep_unless(stop: &AtomicBool, ms: u64) {
    let until = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A block's RMS level in dB below full scale.
fn level_dbfs(samples: &[f32]) -> f64 {
    let power =
        samples.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / samples.len().max(1) as f64;
    10.0 * (power * 2.0).max(1e-12).log10()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::cid::CallerIdMessage;
    use crate::dsp::listener::CidStandard;

    fn cid() -> Heard {
        Heard::CallerId {
            offset: 0,
            standard: CidStandard::Bell202,
            message: CallerIdMessage::number_only("13800138000"),
        }
    }

    fn run(watch: &mut LineWatch, steps: &[(f64, f64, Vec<Heard>)]) -> Vec<LineSignal> {
        let mut out = Vec::new();
        for (ms, level, heard) in steps {
            watch.block(*ms, *level, heard, &mut out);
        }
        out
    }

    #[test]
    fn caller_id_then_speech_then_busy_is_an_answered_call() {
        let mut w = LineWatch::new(ListenSettings::default(), 7000);
        let busy = Heard::Tone {
            offset: 0,
            kind: ToneKind::Busy,
        };
        let signals = run(
            &mut w,
            &[
                (100.0, -80.0, vec![cid()]),
                (1000.0, -80.0, vec![]),
                (1000.0, -20.0, vec![]),
                (600.0, -20.0, vec![]),
                (500.0, -20.0, vec![busy]),
            ],
        );
        assert!(matches!(signals[0], LineSignal::CallerId(_)));
        assert_eq!(signals[1..], [LineSignal::OffHook, LineSignal::OnHook]);
    }

    #[test]
    fn an_unanswered_caller_id_goes_back_to_idle_and_silence_hangs_up() {
        let mut w = LineWatch::new(ListenSettings::default(), 7000);
        let s = run(
            &mut w,
            &[(100.0, -80.0, vec![cid()]), (8000.0, -80.0, vec![])],
        );
        assert_eq!(s.len(), 1);
        // Idle again: the next caller ID is a new call.
        let s = run(
            &mut w,
            &[
                (100.0, -80.0, vec![cid()]),
                (2000.0, -30.0, vec![]),
                (11_000.0, -90.0, vec![]),
            ],
        );
        assert_eq!(s.len(), 3);
        assert_eq!(s[1..], [LineSignal::OffHook, LineSignal::OnHook]);
    }

    #[test]
    fn keys_on_an_idle_line_are_an_outgoing_call() {
        let mut w = LineWatch::new(ListenSettings::default(), 7000);
        let keys = Heard::Keys {
            offset: 0,
            keys: "95555".into(),
        };
        let key = Heard::Key {
            offset: 0,
            key: '1',
        };
        let s = run(
            &mut w,
            &[(100.0, -20.0, vec![keys]), (100.0, -20.0, vec![key])],
        );
        assert_eq!(
            s,
            [
                LineSignal::OffHook,
                LineSignal::Dtmf {
                    digits: "95555".into()
                },
                LineSignal::Dtmf { digits: "1".into() }
            ]
        );
    }
}
