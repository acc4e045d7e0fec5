//! The established decoders callpop's caller IDs from line audio are
//! measured beside, on the very same samples: minimodem, multimon-ng and
//! spandsp's ADSI receiver (through the helper in `spandsp.rs`), and the
//! side-by-side sweep that counts what each read. Shared by the test
//! suite and `examples/bench_cid.rs`.

use crate::spandsp::Spandsp;
use callpop::dsp::cid::{CallerIdMessage, MessageFormat};
use callpop::dsp::listener::CidStandard;
use callpop::dsp::sweep::{sweep_rendered, SweepRow};
use std::path::Path;
use std::process::Command;

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
        let mut command = match self {
            Reference::Spandsp => return None,
            Reference::MultimonNg => {
                let demodulator = match standard {
                    CidStandard::Dtmf => "DTMF",
                    _ => "CLIPFSK",
                };
                let mut c = Command::new("multimon-ng");
                c.args(["-q", "-t", "wav", "-c", "-a", demodulator])
                    .arg(wav);
                c
            }
            Reference::Minimodem => {
                let mut c = Command::new("minimodem");
                c.args(["--rx", "-q"]);
                if standard == CidStandard::V23 {
                    c.args(["-M", "1300", "-S", "2100"]);
                }
                c.arg("-f").arg(wav).arg("1200");
                c
            }
        };
        command.output().ok().map(|o| o.stdout)
    }
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
    /// Trials whose number it read.
    pub exact: usize,
    /// Trials it can read at all (see [`Reference::reads`]).
    pub of: usize,
}

/// The keys in multimon-ng's output, in order.
pub fn dtmf_keys(output: &[u8]) -> String {
    String::from_utf8_lossy(output)
        .lines()
        .filter_map(|l| l.strip_prefix("DTMF: "))
        .collect()
}
