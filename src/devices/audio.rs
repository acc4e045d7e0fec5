//! Where a line's audio comes from: a capture device (a USB recording box is
//! a sound card to the system) opened with cpal, or, for tests and
//! simulation, a WAV or raw file or stdin, paced in real time or as fast as
//! it can be read.
//!
//! Audio boxes listen to the same sources, and publish what they hear on
//! [`Taps`] so the recorder records it without opening the card twice; the
//! daemon's wiring hands one `Taps` to both.
//!
//! A source is opened on the thread that records with it, and hands over
//! 16-bit mono blocks at its own rate through a bounded channel: the
//! capture callback never waits for the disk, and what it cannot hand over
//! is counted as dropped, never silently lost.

use crate::dsp::wav_in::{read_full, WavIn};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Blocks of audio waiting for the recorder: at 20 ms a block, 10 s.
const QUEUE_BLOCKS: usize = 500;

pub use crate::config::Pace;

/// A line's audio source, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// The first capture device whose name, id or description contains
    /// `pattern` (case-insensitive).
    Capture {
        pattern: String,
        /// Open the device at this rate (else the recording's rate when the
        /// device offers it, else the nearest it offers).
        rate: Option<u32>,
        /// Which channel of a multi-channel device is this line's.
        channel: u16,
    },
    /// A WAV file, or raw signed 16-bit little-endian mono at `rate`;
    /// `-` reads stdin.
    File {
        path: PathBuf,
        rate: u32,
        pace: Pace,
        /// Start again at the end (the demo's endless line audio).
        looped: bool,
    },
    /// The live audio of a line whose device already listens to it (an
    /// audio box decoding caller ID): recording taps it rather than opening
    /// the sound card a second time, which ALSA would refuse.
    Tap { line: String },
}

impl std::fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceSpec::Capture {
                pattern, channel, ..
            } => {
                write!(f, "capture {pattern:?} channel {channel}")
            }
            SourceSpec::File { path, .. } => write!(f, "file {}", path.display()),
            SourceSpec::Tap { line } => write!(f, "line {line}"),
        }
    }
}

/// An open source: blocks at `rate` Hz until it ends or fails.
pub struct OpenSource {
    pub rate: u32,
    pub blocks: Receiver<Vec<i16>>,
    /// What the source's own thread or callback ran into.
    pub fault: Arc<Mutex<Option<String>>>,
    /// Samples the recorder did not take in time.
    pub dropped: Arc<AtomicU64>,
    /// A live device (not a file) that stops delivering has failed.
    pub live: bool,
    stop: Arc<AtomicBool>,
    _stream: Option<cpal::Stream>,
}

impl Drop for OpenSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Why a source could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("no capture device matches {pattern:?} (capture devices: {available})")]
    NoDevice { pattern: String, available: String },
    #[error("capture device {device:?}: {reason}")]
    Device { device: String, reason: String },
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}

/// Opens `spec` for a recording at `want_rate` Hz; a tap is found on `taps`.
pub fn open(spec: &SourceSpec, want_rate: u32, taps: &Taps) -> Result<OpenSource, SourceError> {
    match spec {
        SourceSpec::Capture {
            pattern,
            rate,
            channel,
        } => open_capture(pattern, rate.unwrap_or(want_rate), *channel),
        SourceSpec::File {
            path,
            rate,
            pace,
            looped,
        } => open_file(path.clone(), *rate, *pace, *looped),
        SourceSpec::Tap { line } => taps.listen(line),
    }
}

/// Where lines' live audio is published, by line name: audio boxes publish
/// on it, the recorder listens. One per daemon, made by its wiring and
/// handed to both (they run on different threads).
#[derive(Clone, Default)]
pub struct Taps(Arc<Mutex<HashMap<String, TapPoint>>>);

impl std::fmt::Debug for Taps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self.points().keys().cloned().collect();
        f.debug_tuple("Taps").field(&lines).finish()
    }
}

impl PartialEq for Taps {
    fn eq(&self, other: &Taps) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

struct TapPoint {
    rate: u32,
    listeners: Vec<(SyncSender<Vec<i16>>, Arc<AtomicU64>)>,
}

impl Taps {
    fn points(&self) -> std::sync::MutexGuard<'_, HashMap<String, TapPoint>> {
        // A panic while holding it leaves plain data: keep going.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes `line`'s audio at `rate` while the returned publisher
    /// lives (a device that reopens calls this again).
    pub fn publish(&self, line: &str, rate: u32) -> Publisher {
        self.points().insert(
            line.to_string(),
            TapPoint {
                rate,
                listeners: Vec::new(),
            },
        );
        Publisher {
            line: line.into(),
            taps: self.clone(),
        }
    }
}

/// A line's live audio, published while this lives.
pub struct Publisher {
    line: String,
    taps: Taps,
}

impl Publisher {
    /// Hands a block to every listener; a listener that is not keeping up
    /// has the block counted as dropped, one that is gone is forgotten.
    pub fn publish(&self, block: &[i16]) {
        let mut taps = self.taps.points();
        let Some(point) = taps.get_mut(&self.line) else {
            return;
        };
        point
            .listeners
            .retain(|(tx, dropped)| match tx.try_send(block.to_vec()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    dropped.fetch_add(block.len() as u64, Ordering::Relaxed);
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            });
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        // Listeners see their channel close: the device is gone.
        self.taps.points().remove(&self.line);
    }
}

impl Taps {
    /// Listens to a line's published audio.
    fn listen(&self, line: &str) -> Result<OpenSource, SourceError> {
        let mut taps = self.points();
        let point = taps.get_mut(line).ok_or_else(|| SourceError::Device {
            device: line.into(),
            reason: "its audio box is not delivering audio".into(),
        })?;
        let (tx, rx) = channel_pair();
        let dropped = Arc::new(AtomicU64::new(0));
        point.listeners.push((tx, dropped.clone()));
        Ok(OpenSource {
            rate: point.rate,
            blocks: rx,
            fault: Arc::new(Mutex::new(None)),
            dropped,
            live: true,
            stop: Arc::new(AtomicBool::new(false)),
            _stream: None,
        })
    }
}

/// Capture devices' names, for `callpop devices` and error messages.
pub fn capture_devices() -> Vec<String> {
    use cpal::traits::HostTrait;
    let host = cpal::default_host();
    match host.input_devices() {
        Ok(devices) => devices.map(|d| device_label(&d)).collect(),
        Err(_) => Vec::new(),
    }
}

fn device_label(d: &cpal::Device) -> String {
    use cpal::traits::DeviceTrait;
    let id = d.id().map(|i| i.to_string()).unwrap_or_default();
    let desc = d
        .description()
        .map(|x| x.to_string())
        .unwrap_or_default()
        .replace('\n', " ");
    format!("{d} [{id}] {desc}").trim().to_string()
}

fn channel_pair() -> (SyncSender<Vec<i16>>, Receiver<Vec<i16>>) {
    std::sync::mpsc::sync_channel(QUEUE_BLOCKS)
}

fn open_capture(pattern: &str, want_rate: u32, channel: u16) -> Result<OpenSource, SourceError> {
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    let host = cpal::default_host();
    let needle = pattern.to_lowercase();
    let devices: Vec<cpal::Device> = host
        .input_devices()
        .map_err(|e| SourceError::Device {
            device: pattern.into(),
            reason: e.to_string(),
        })?
        .collect();
    let device = devices
        .iter()
        .find(|d| device_label(d).to_lowercase().contains(&needle))
        .ok_or_else(|| SourceError::NoDevice {
            pattern: pattern.into(),
            available: {
                let names: Vec<String> = devices.iter().map(|d| d.to_string()).collect();
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            },
        })?;
    let name = device.to_string();
    let fail = |reason: String| SourceError::Device {
        device: name.clone(),
        reason,
    };
    let ranges: Vec<cpal::SupportedStreamConfigRange> = device
        .supported_input_configs()
        .map_err(|e| fail(e.to_string()))?
        .collect();
    let chosen = choose_config(&ranges, want_rate, channel).ok_or_else(|| {
        fail(format!(
            "offers no 16-bit, 32-bit or float format with {} channel(s)",
            channel + 1
        ))
    })?;
    let (tx, rx) = channel_pair();
    let fault = Arc::new(Mutex::new(None));
    let dropped = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let config = cpal::StreamConfig {
        channels: chosen.channels,
        sample_rate: chosen.rate,
        buffer_size: cpal::BufferSize::Default,
    };
    let feed = Feed {
        tx,
        channels: usize::from(chosen.channels),
        channel: usize::from(channel),
        dropped: dropped.clone(),
        pacer: Pacer::new(chosen.rate),
        stop: stop.clone(),
    };
    let on_error = {
        let fault = fault.clone();
        move |e: cpal::Error| {
            fault.lock().unwrap().get_or_insert(e.to_string());
        }
    };
    let stream = match chosen.format {
        cpal::SampleFormat::I16 => build::<i16>(device, config, feed, on_error),
        cpal::SampleFormat::I32 => build::<i32>(device, config, feed, on_error),
        _ => build::<f32>(device, config, feed, on_error),
    }
    .map_err(|e| fail(e.to_string()))?;
    stream.play().map_err(|e| fail(e.to_string()))?;
    tracing::debug!(device = %name, rate = chosen.rate, channels = chosen.channels, format = ?chosen.format, "capture opened");
    Ok(OpenSource {
        rate: chosen.rate,
        blocks: rx,
        fault,
        dropped,
        live: true,
        stop,
        _stream: Some(stream),
    })
}

fn build<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut feed: Feed,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error>
where
    T: cpal::SizedSample + Send + 'static,
    i16: cpal::FromSample<T>,
{
    use cpal::traits::DeviceTrait;
    device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _| {
            let block: Vec<i16> = data
                .iter()
                .skip(feed.channel)
                .step_by(feed.channels)
                .map(|s| s.to_sample::<i16>())
                .collect();
            feed.hand_over(block);
        },
        on_error,
        None,
    )
}

/// The capture callback's side of the queue.
struct Feed {
    tx: SyncSender<Vec<i16>>,
    channels: usize,
    channel: usize,
    dropped: Arc<AtomicU64>,
    pacer: Pacer,
    stop: Arc<AtomicBool>,
}

impl Feed {
    fn hand_over(&mut self, block: Vec<i16>) {
        if self.stop.load(Ordering::Relaxed) {
            return;
        }
        self.pacer.hold(block.len());
        let n = block.len() as u64;
        match self.tx.try_send(block) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(n, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// Holds a device that delivers faster than its clock to real time (1 s
/// ahead plus 1 % drift are let through). A sound card never trips it;
/// ALSA's `null`-backed test devices and runaway clocks would otherwise
/// write hours of audio a minute.
struct Pacer {
    rate: f64,
    started: Option<Instant>,
    samples: u64,
}

impl Pacer {
    fn new(rate: u32) -> Pacer {
        Pacer {
            rate: f64::from(rate),
            started: None,
            samples: 0,
        }
    }

    fn hold(&mut self, samples: usize) {
        let started = *self.started.get_or_insert_with(Instant::now);
        self.samples += samples as u64;
        let audio = self.samples as f64 / self.rate;
        let allowed = started.elapsed().as_secs_f64() * 1.01 + 1.0;
        if audio > allowed {
            std::thread::sleep(Duration::from_secs_f64((audio - allowed) / 1.01));
        }
    }
}

/// A device configuration picked from what it offers.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Chosen {
    channels: u16,
    rate: u32,
    format: cpal::SampleFormat,
}

/// Prefers 16-bit, then float, then 32-bit; the fewest channels that
/// include `channel`; `want_rate` if offered, else the nearest offered.
fn choose_config(
    ranges: &[cpal::SupportedStreamConfigRange],
    want_rate: u32,
    channel: u16,
) -> Option<Chosen> {
    use cpal::SampleFormat::{F32, I16, I32};
    let rank = |f: cpal::SampleFormat| match f {
        I16 => Some(0),
        F32 => Some(1),
        I32 => Some(2),
        _ => None,
    };
    ranges
        .iter()
        .filter(|r| r.channels() > channel)
        .filter_map(|r| {
            let format_rank = rank(r.sample_format())?;
            let rate = want_rate.clamp(r.min_sample_rate(), r.max_sample_rate());
            Some((
                (rate.abs_diff(want_rate), format_rank, r.channels()),
                Chosen {
                    channels: r.channels(),
                    rate,
                    format: r.sample_format(),
                },
            ))
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, c)| c)
}

fn open_file(
    path: PathBuf,
    rate: u32,
    pace: Pace,
    looped: bool,
) -> Result<OpenSource, SourceError> {
    let shown = path.display().to_string();
    let fail = |reason: String| SourceError::File {
        path: shown.clone(),
        reason,
    };
    // The first read happens here, so a missing or broken file is an error
    // at open, not a silent recording.
    let reader = FileReader::open(&path, rate).map_err(fail)?;
    let rate = reader.rate;
    let (tx, rx) = channel_pair();
    let fault = Arc::new(Mutex::new(None));
    let stop = Arc::new(AtomicBool::new(false));
    let thread_fault = fault.clone();
    let thread_stop = stop.clone();
    std::thread::Builder::new()
        .name("callpop-audio-file".into())
        .spawn(move || {
            if let Err(e) = play_file(reader, &path, pace, looped, &tx, &thread_stop) {
                *thread_fault.lock().unwrap() = Some(format!("{}: {e}", path.display()));
            }
        })
        .map_err(|e| SourceError::File {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
    Ok(OpenSource {
        rate,
        blocks: rx,
        fault,
        dropped: Arc::new(AtomicU64::new(0)),
        live: false,
        stop,
        _stream: None,
    })
}

/// Reads blocks of 100 ms and hands them over at the chosen pace.
fn play_file(
    mut reader: FileReader,
    path: &std::path::Path,
    pace: Pace,
    looped: bool,
    tx: &SyncSender<Vec<i16>>,
    stop: &AtomicBool,
) -> Result<(), String> {
    // 100 ms a block: a sound card's period is shorter, but a file has no
    // deadline, and fewer wake-ups keep simulated lines cheap.
    let block = (reader.rate / 10).max(1) as usize;
    let started = Instant::now();
    let mut sent: u64 = 0;
    loop {
        let samples = reader.read(block)?;
        if samples.is_empty() {
            if !looped {
                return Ok(());
            }
            reader = FileReader::open(path, reader.rate)?;
            continue;
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        sent += samples.len() as u64;
        if tx.send(samples).is_err() {
            return Ok(());
        }
        if pace == Pace::Realtime {
            let due = started + Duration::from_secs_f64(sent as f64 / f64::from(reader.rate));
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
    }
}

/// 16-bit mono samples out of a WAV file (any channel count: the first
/// channel; 8/16/24/32-bit integer or float) or raw little-endian 16-bit.
struct FileReader {
    rate: u32,
    inner: Inner,
}

enum Inner {
    Wav(WavIn<Box<dyn Read + Send>>),
    Raw(Box<dyn Read + Send>),
}

impl FileReader {
    fn open(path: &std::path::Path, raw_rate: u32) -> Result<FileReader, String> {
        let mut input: Box<dyn Read + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin())
        } else {
            Box::new(std::io::BufReader::new(
                std::fs::File::open(path).map_err(|e| e.to_string())?,
            ))
        };
        let mut magic = [0u8; 4];
        let got = read_full(&mut input, &mut magic).map_err(|e| e.to_string())?;
        let input: Box<dyn Read + Send> =
            Box::new(std::io::Cursor::new(magic[..got].to_vec()).chain(input));
        if &magic[..got] == b"RIFF" {
            // A file another program still writes (no size in its header
            // yet) is read as it grows.
            let reader = WavIn::new(input).map_err(|e| format!("not a usable WAV file: {e}"))?;
            Ok(FileReader {
                rate: reader.rate,
                inner: Inner::Wav(reader),
            })
        } else {
            Ok(FileReader {
                rate: raw_rate,
                inner: Inner::Raw(input),
            })
        }
    }

    /// Up to `n` samples; empty at the end.
    fn read(&mut self, n: usize) -> Result<Vec<i16>, String> {
        match &mut self.inner {
            Inner::Raw(input) => {
                let mut bytes = vec![0u8; n * 2];
                let got = read_full(input, &mut bytes).map_err(|e| e.to_string())?;
                Ok(bytes[..got - got % 2]
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect())
            }
            Inner::Wav(reader) => {
                let mut floats = Vec::with_capacity(n);
                reader
                    .read_channel(0, n, &mut floats)
                    .map_err(|e| e.to_string())?;
                Ok(floats
                    .into_iter()
                    .map(|v| (v * 32768.0).clamp(-32768.0, 32767.0) as i16)
                    .collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(
        channels: u16,
        min: u32,
        max: u32,
        f: cpal::SampleFormat,
    ) -> cpal::SupportedStreamConfigRange {
        cpal::SupportedStreamConfigRange::new(
            channels,
            min,
            max,
            cpal::SupportedBufferSize::Unknown,
            f,
        )
    }

    #[test]
    fn the_recordings_rate_in_16_bit_mono_is_preferred() {
        use cpal::SampleFormat::*;
        let offered = [
            range(2, 44_100, 48_000, F32),
            range(1, 8_000, 48_000, F32),
            range(1, 8_000, 48_000, I16),
            range(2, 8_000, 48_000, U8),
        ];
        let c = choose_config(&offered, 8_000, 0).unwrap();
        assert_eq!((c.channels, c.rate, c.format), (1, 8_000, I16));
        // A USB card that only runs at 48 kHz: resampled later.
        let c = choose_config(&offered[..1], 8_000, 0).unwrap();
        assert_eq!((c.channels, c.rate, c.format), (2, 44_100, F32));
        // The second line of a two-line box needs two channels.
        let c = choose_config(&offered, 8_000, 1).unwrap();
        assert_eq!(c.channels, 2);
        assert!(choose_config(&offered[3..], 8_000, 0).is_none());
    }

    #[test]
    fn files_play_whole_raw_and_wav_and_missing_ones_fail_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let samples: Vec<i16> = (0..1000).map(|i| (i * 13 % 2000) as i16 - 1000).collect();
        let raw = dir.path().join("a.raw");
        std::fs::write(
            &raw,
            samples
                .iter()
                .flat_map(|s| s.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        let wav = dir.path().join("a.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&wav, spec).unwrap();
        for s in &samples {
            w.write_sample(*s).unwrap();
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
        for (path, rate) in [(raw, 8_000), (wav, 16_000)] {
            let spec = SourceSpec::File {
                path,
                rate: 8_000,
                pace: Pace::Fast,
                looped: false,
            };
            let src = open(&spec, 8_000, &Taps::default()).unwrap();
            assert_eq!(src.rate, rate);
            let got: Vec<i16> = src.blocks.iter().flatten().collect();
            assert_eq!(got, samples);
        }
        let missing = SourceSpec::File {
            path: dir.path().join("none.wav"),
            rate: 8_000,
            pace: Pace::Fast,
            looped: false,
        };
        assert!(open(&missing, 8_000, &Taps::default()).is_err());
    }
}
