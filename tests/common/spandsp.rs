//! Caller IDs from a modulator that is not callpop's: spandsp's ADSI
//! transmitter through the small C helper `tests/emulators/spandsp_cid.c`
//! (built here once with the system's `cc` against Debian's
//! libspandsp-dev), then white noise at a given SNR and, if asked, the
//! sender's clock off by a fraction (carrier and baud rate together, as a
//! real exchange's crystal is; both in `callpop::dsp::signal`). Shared by the test suite and
//! `examples/bench_cid.rs`.

use callpop::dsp::cid::{CallerIdMessage, MessageFormat};
use callpop::dsp::listener::CidStandard;
pub use callpop::dsp::signal::{with_clock_offset, with_noise};
use callpop::dsp::sweep::{sweep_rendered, SweepRow};
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
        let kind = match standard {
            CidStandard::Bell202 => "bell202",
            CidStandard::V23 => "v23",
            CidStandard::Dtmf => "dtmf",
        };
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

/// What an established decoder makes of the same file: the message's
/// bytes (FSK, minimodem) or its keys (DTMF, multimon-ng) all there.
pub fn reference_decodes(
    standard: CidStandard,
    rate: u32,
    sent: &CallerIdMessage,
    samples: &[f32],
) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("cid.wav");
    callpop::dsp::signal::write_wav(&wav, rate, samples).unwrap();
    let out = reference_output(standard, &wav)
        .expect("minimodem and multimon-ng are installed (./run test installs them)");
    match standard {
        CidStandard::Dtmf => dtmf_keys(&out).contains(sent.number.as_deref().unwrap_or("?")),
        _ => {
            // The number's bytes all there (spandsp orders MDMF
            // parameters as it likes).
            let number = sent.number.as_deref().unwrap_or("?").as_bytes();
            out.windows(number.len()).any(|w| w == number)
        }
    }
}

/// spandsp's signals at `levels` (`trials` a level, the sender's clock
/// `offset` off, white noise) through callpop's listener and, on the very
/// same samples, the established decoder: callpop's row at each level and
/// how many of its trials that decoder read.
pub fn sweep_side_by_side(
    sp: &Spandsp,
    standard: CidStandard,
    levels: &[i32],
    trials: u32,
    seed: u64,
    offset: f64,
) -> Vec<(SweepRow, usize)> {
    const RATE: u32 = 8000;
    let mut reference = Vec::new();
    let rows = sweep_rendered(standard, RATE, levels, trials, seed, |m, snr, seed| {
        let sent = Spandsp::sendable(standard, m);
        let mut samples = sp.render(standard, &sent);
        if offset != 0.0 {
            samples = with_clock_offset(&samples, offset);
        }
        let samples = with_noise(samples, snr, seed);
        reference.push(reference_decodes(standard, RATE, &sent, &samples));
        (sent, samples)
    });
    let read = reference
        .chunks(trials as usize)
        .map(|level| level.iter().filter(|ok| **ok).count());
    rows.into_iter().zip(read).collect()
}

/// What the established decoder for `standard` prints for a WAV file:
/// minimodem's bytes (FSK) or multimon-ng's lines (DTMF); `None` when it
/// cannot be run.
pub fn reference_output(standard: CidStandard, wav: &Path) -> Option<Vec<u8>> {
    let mut command = match standard {
        CidStandard::Dtmf => {
            let mut c = Command::new("multimon-ng");
            c.args(["-q", "-t", "wav", "-a", "DTMF"]).arg(wav);
            c
        }
        CidStandard::V23 => {
            let mut c = Command::new("minimodem");
            c.args(["--rx", "-q", "-M", "1300", "-S", "2100", "-f"])
                .arg(wav)
                .arg("1200");
            c
        }
        CidStandard::Bell202 => {
            let mut c = Command::new("minimodem");
            c.args(["--rx", "-q", "-f"]).arg(wav).arg("1200");
            c
        }
    };
    command.output().ok().map(|o| o.stdout)
}

/// The keys in multimon-ng's output, in order.
pub fn dtmf_keys(output: &[u8]) -> String {
    String::from_utf8_lossy(output)
        .lines()
        .filter_map(|l| l.strip_prefix("DTMF: "))
        .collect()
}

/// The established decoder [`reference_decodes`] runs for `standard`.
pub fn reference_tool(standard: CidStandard) -> &'static str {
    if standard == CidStandard::Dtmf {
        "multimon-ng"
    } else {
        "minimodem"
    }
}
