//! Recording capacity: N simultaneous calls recorded at 8 kHz from file
//! sources paced in real time, each on the recorder's own recording thread
//! (source, WAV writer with its once-a-second header update). Reports the
//! CPU share of one core, samples dropped or missing, and memory.
//!
//! cargo run --release --example bench_recording -- [LINES] [SECONDS]   # default 32 lines, 30 s

mod common;

use callpop::recording::recorder;
use callpop::recording::source::{Pace, SourceSpec};
use common::{cpu_time, rss_kib};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let lines: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    // Ten seconds of line audio, looped: a voice-band sweep.
    let audio = dir.path().join("line.raw");
    let samples: Vec<u8> = (0..80_000)
        .flat_map(|i| {
            let t = f64::from(i) / 8000.0;
            let s = (8000.0 * (2.0 * std::f64::consts::PI * (300.0 + 100.0 * t) * t).sin()) as i16;
            s.to_le_bytes()
        })
        .collect();
    std::fs::write(&audio, samples).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let rss_before = rss_kib("VmRSS");
    let threads: Vec<_> = (0..lines)
        .map(|i| {
            let spec = SourceSpec::File {
                path: audio.clone(),
                rate: 8000,
                pace: Pace::Realtime,
                looped: true,
            };
            let path = dir.path().join(format!("recordings/call-{i}.wav"));
            let stop = stop.clone();
            std::thread::spawn(move || {
                let opened = Instant::now();
                let finished = recorder::record(&spec, &path, 8000, &Default::default(), &stop);
                (finished, opened.elapsed())
            })
        })
        .collect();
    // Let every recording open, then measure a steady window.
    std::thread::sleep(Duration::from_secs(2));
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
    let rss_during = rss_kib("VmRSS");
    stop.store(true, Ordering::Relaxed);
    let mut dropped = 0;
    let mut missing_ms = 0i64;
    let mut written_ms = 0i64;
    let mut errors = 0;
    for t in threads {
        let (f, open) = t.join().unwrap();
        dropped += f.dropped;
        errors += usize::from(f.error.is_some());
        written_ms += f.duration_ms;
        // Audio the time open should have brought and the file lacks
        // (one 100 ms block is in flight at any moment).
        missing_ms += (open.as_millis() as i64 - f.duration_ms - 100).max(0);
    }
    println!(
        "{lines} recordings at 8 kHz from real-time file sources, {secs} s measured: \
         CPU {:.2} % of one core ({:.2} % per recording)",
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0 / lines as f64
    );
    println!(
        "audio written {:.1} s; dropped samples {dropped}; audio missing against time open {missing_ms} ms; errors {errors}",
        written_ms as f64 / 1000.0
    );
    println!(
        "memory: {} MiB resident while recording ({} MiB for the recordings)",
        rss_during / 1024,
        rss_during.saturating_sub(rss_before) / 1024
    );
}
