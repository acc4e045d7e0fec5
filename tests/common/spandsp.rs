//! Caller IDs from a modulator that is not callpop's: spandsp's ADSI
//! transmitter through the small C helper `tests/emulators/spandsp_cid.c`
//! (which also runs spandsp's ADSI receiver, one of the established
//! decoders in `references.rs`; built here once with the system's `cc` against Debian's
//! libspandsp-dev), then white noise at a given SNR and, if asked, the
//! sender's clock off by a fraction (carrier and baud rate together, as a
//! real exchange's crystal is; both in `callpop::dsp::signal`). Shared by the test suite and
//! `examples/bench_cid.rs`.

use crate::references::{side_by_side, Read};
use callpop::dsp::cid::{CallerIdMessage, MessageFormat};
use callpop::dsp::listener::CidStandard;
pub use callpop::dsp::signal::{with_clock_offset, with_noise};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The helper, built when missing or older than its source.
pub struct Spandsp {
    bin: PathBuf,
}

impl Spandsp {
    /// Builds the helper (once per source change) under `target/tools`.
    pub fn build() -> Spandsp {
        // Tests in one binary run on several threads: one builds, the
        // others wait for it (they share the process id used below).
        static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let source = root.join("tests/emulators/spandsp_cid.c");
        let dir = root.join("target/tools");
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("spandsp_cid");
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if modified(&bin) < modified(&source) {
            // Built beside and renamed: another process (a second test
            // binary, `bench_cid`) never runs half a file.
            let part = dir.join(format!("spandsp_cid.{}", std::process::id()));
            let out = Command::new("cc")
                .args(["-O2", "-Wall", "-o"])
                .arg(&part)
                .arg(&source)
                .arg("-lspandsp")
                .output()
                .expect("cc runs (Debian: build-essential)");
            assert!(
                out.status.success(),
                "building the spandsp helper failed (Debian: libspandsp-dev):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::fs::rename(&part, &bin).unwrap();
        }
        Spandsp { bin }
    }

    /// The line audio of `message` (8 kHz, full scale ±1.0), with 300 ms
    /// of silence before and after. V.23 messages go out as MDMF (ETSI).
    pub fn render(&self, standard: CidStandard, message: &CallerIdMessage) -> Vec<f32> {
        let kind = standard_name(standard);
        let format = if message.format == MessageFormat::Sdmf {
            "sdmf"
        } else {
            "mdmf"
        };
        let when = message
            .datetime
            .map(|d| format!("{:02}{:02}{:02}{:02}", d.month, d.day, d.hour, d.minute))
            .unwrap_or_else(|| "-".into());
        let out = Command::new(&self.bin)
            .args([kind, format])
            .arg(message.number.as_deref().unwrap_or(""))
            .arg(message.name.as_deref().unwrap_or("-"))
            .arg(when)
            .output()
            .expect("the spandsp helper runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
            .chunks_exact(2)
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
            .collect()
    }

    /// What spandsp can send of `message` for `standard`: V.23 (ETSI CLIP)
    /// is MDMF only.
    pub fn sendable(standard: CidStandard, mut message: CallerIdMessage) -> CallerIdMessage {
        if standard == CidStandard::V23 && message.format == MessageFormat::Sdmf {
            message.format = MessageFormat::Mdmf;
        }
        message
    }
}

impl Spandsp {
    /// What spandsp's own ADSI receiver accepts in `samples` (8 kHz):
    /// every message whose checksum (FSK) or start and end codes (DTMF)
    /// are right, as bytes.
    pub fn receive(&self, standard: CidStandard, samples: &[f32]) -> Vec<Vec<u8>> {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = Command::new(&self.bin)
            .args(["rx", standard_name(standard)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the spandsp helper runs");
        let pcm: Vec<u8> = samples
            .iter()
            .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
            .collect();
        // The helper prints a line a message, far less than a pipe holds,
        // so writing all before reading cannot stall it. A helper that
        // stopped early breaks the pipe: its exit status tells why.
        let written = child.stdin.take().unwrap().write_all(&pcm);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success() && written.is_ok(),
            "the spandsp receiver failed ({}, {written:?})",
            out.status
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|hex| {
                (0..hex.len() / 2)
                    .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                    .collect()
            })
            .collect()
    }
}

pub fn standard_name(standard: CidStandard) -> &'static str {
    match standard {
        CidStandard::Bell202 => "bell202",
        CidStandard::V23 => "v23",
        CidStandard::Dtmf => "dtmf",
    }
}

/// spandsp's signals at `levels` (`trials` a level, the sender's clock
/// `offset` off, white noise) through callpop's listener and every
/// established decoder: see [`side_by_side`].
pub fn sweep_side_by_side(
    sp: &Spandsp,
    standard: CidStandard,
    levels: &[i32],
    trials: u32,
    seed: u64,
    offset: f64,
) -> Vec<(callpop::dsp::sweep::SweepRow, Vec<Read>)> {
    side_by_side(
        sp,
        standard,
        levels,
        trials,
        seed,
        sp.noisy(standard, offset),
    )
}

impl Spandsp {
    /// spandsp's signals as a `render` for `callpop::dsp::sweep`: what it
    /// can send of a message, the sender's clock `offset` off, under
    /// white noise at the SNR, from the noise seed.
    pub fn noisy(
        &self,
        standard: CidStandard,
        offset: f64,
    ) -> impl FnMut(CallerIdMessage, f64, u64) -> (CallerIdMessage, Vec<f32>) + '_ {
        move |m, snr, seed| {
            let sent = Spandsp::sendable(standard, m);
            let mut samples = self.render(standard, &sent);
            if offset != 0.0 {
                samples = with_clock_offset(&samples, offset);
            }
            (sent, with_noise(samples, snr, seed))
        }
    }
}
