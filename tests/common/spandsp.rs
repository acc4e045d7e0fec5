//! Caller IDs from a modulator that is not callpop's: spandsp's ADSI
//! transmitter through the small C helper `tests/emulators/spandsp_cid.c`
//! (which also runs spandsp's ADSI receiver, one of the established
//! decoders callpop is measured beside, with minimodem and multimon-ng)
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
        // so writing all before reading cannot stall it.
        child.stdin.take().unwrap().write_all(&pcm).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "the spandsp receiver failed");
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

fn standard_name(standard: CidStandard) -> &'static str {
    match standard {
        CidStandard::Bell202 => "bell202",
        CidStandard::V23 => "v23",
        CidStandard::Dtmf => "dtmf",
    }
}

/// An established decoder, run beside callpop on the very same samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// `minimodem --rx` (FSK): prints the bytes it frames, no checksum.
    Minimodem,
    /// `multimon-ng`: CLIPFSK (it reads Bell 202 and V.23 caller IDs)
    /// or DTMF.
    MultimonNg,
    /// spandsp's ADSI receiver (the helper's `rx`), which checks the
    /// message as callpop does.
    Spandsp,
}

impl Reference {
    /// Its name in a table's heading.
    pub fn name(self) -> &'static str {
        match self {
            Reference::Minimodem => "minimodem",
            Reference::MultimonNg => "multimon-ng",
            Reference::Spandsp => "spandsp",
        }
    }

    /// The decoders that read `standard`.
    pub fn for_standard(standard: CidStandard) -> &'static [Reference] {
        match standard {
            CidStandard::Dtmf => &[Reference::MultimonNg, Reference::Spandsp],
            _ => &[
                Reference::Minimodem,
                Reference::MultimonNg,
                Reference::Spandsp,
            ],
        }
    }

    /// Whether this decoder can read a message like `sent` at all:
    /// multimon-ng's CLIPFSK knows ETSI's MDMF only (an SDMF message it
    /// takes for another type), so its count is out of the MDMF trials.
    pub fn reads(self, sent: &CallerIdMessage) -> bool {
        !(self == Reference::MultimonNg && sent.format == MessageFormat::Sdmf)
    }

    /// Whether this decoder read `sent`'s number, all of it, out of
    /// `samples` (8 kHz): minimodem's framed bytes hold the number's
    /// bytes, multimon-ng prints it (`CID=…`, or as keys), spandsp
    /// accepted a message that holds it (spandsp orders MDMF parameters
    /// as it likes, so the number is what is compared).
    pub fn decodes(
        self,
        sp: &Spandsp,
        standard: CidStandard,
        sent: &CallerIdMessage,
        samples: &[f32],
    ) -> bool {
        let number = sent.number.as_deref().unwrap_or("?");
        let holds = |out: &[u8]| out.windows(number.len()).any(|w| w == number.as_bytes());
        if self == Reference::Spandsp {
            return sp.receive(standard, samples).iter().any(|m| holds(m));
        }
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("cid.wav");
        callpop::dsp::signal::write_wav(&wav, 8000, samples).unwrap();
        let out = self
            .output(standard, &wav)
            .expect("minimodem and multimon-ng are installed (./run test installs them)");
        match (self, standard) {
            (Reference::MultimonNg, CidStandard::Dtmf) => dtmf_keys(&out).contains(number),
            (Reference::MultimonNg, _) => String::from_utf8_lossy(&out)
                .lines()
                .any(|l| l.split(' ').any(|f| f.strip_prefix("CID=") == Some(number))),
            _ => holds(&out),
        }
    }

    /// What minimodem or multimon-ng prints for a WAV file; `None` when
    /// it cannot be run (spandsp reads samples, not files: `None`).
    pub fn output(self, standard: CidStandard, wav: &Path) -> Option<Vec<u8>> {
        let mut command = match (self, standard) {
            (Reference::Spandsp, _) => return None,
            (Reference::MultimonNg, CidStandard::Dtmf) => {
                let mut c = Command::new("multimon-ng");
                c.args(["-q", "-t", "wav", "-c", "-a", "DTMF"]).arg(wav);
                c
            }
            (Reference::MultimonNg, _) => {
                let mut c = Command::new("multimon-ng");
                c.args(["-q", "-t", "wav", "-c", "-a", "CLIPFSK"]).arg(wav);
                c
            }
            (Reference::Minimodem, CidStandard::V23) => {
                let mut c = Command::new("minimodem");
                c.args(["--rx", "-q", "-M", "1300", "-S", "2100", "-f"])
                    .arg(wav)
                    .arg("1200");
                c
            }
            (Reference::Minimodem, _) => {
                let mut c = Command::new("minimodem");
                c.args(["--rx", "-q", "-f"]).arg(wav).arg("1200");
                c
            }
        };
        command.output().ok().map(|o| o.stdout)
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
) -> Vec<(SweepRow, Vec<Read>)> {
    side_by_side(sp, standard, levels, trials, seed, |m, snr, seed| {
        let sent = Spandsp::sendable(standard, m);
        let mut samples = sp.render(standard, &sent);
        if offset != 0.0 {
            samples = with_clock_offset(&samples, offset);
        }
        (sent, with_noise(samples, snr, seed))
    })
}

/// The signals `render` makes (message, SNR, noise seed → the message as
/// sent and its 8 kHz samples) through callpop's listener and, on the
/// very same samples, every established decoder for the standard:
/// callpop's row at each level and how many of its trials each decoder
/// read (in [`Reference::for_standard`]'s order) of those it can.
pub fn side_by_side(
    sp: &Spandsp,
    standard: CidStandard,
    levels: &[i32],
    trials: u32,
    seed: u64,
    mut render: impl FnMut(CallerIdMessage, f64, u64) -> (CallerIdMessage, Vec<f32>),
) -> Vec<(SweepRow, Vec<Read>)> {
    const RATE: u32 = 8000;
    let references = Reference::for_standard(standard);
    // Per trial and decoder: None when it cannot read such a message.
    let mut read: Vec<Vec<Option<bool>>> = Vec::new();
    let rows = sweep_rendered(standard, RATE, levels, trials, seed, |m, snr, seed| {
        let (sent, samples) = render(m, snr, seed);
        read.push(
            references
                .iter()
                .map(|r| {
                    r.reads(&sent)
                        .then(|| r.decodes(sp, standard, &sent, &samples))
                })
                .collect(),
        );
        (sent, samples)
    });
    let counts = read.chunks(trials as usize).map(|level| {
        (0..references.len())
            .map(|i| Read {
                exact: level.iter().filter(|t| t[i] == Some(true)).count(),
                of: level.iter().filter(|t| t[i].is_some()).count(),
            })
            .collect()
    });
    rows.into_iter().zip(counts).collect()
}

/// What one established decoder read at one level: `exact` of the `of`
/// trials it can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    pub exact: usize,
    pub of: usize,
}

/// The keys in multimon-ng's output, in order.
pub fn dtmf_keys(output: &[u8]) -> String {
    String::from_utf8_lossy(output)
        .lines()
        .filter_map(|l| l.strip_prefix("DTMF: "))
        .collect()
}
