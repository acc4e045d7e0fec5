//! Everything a line's audio can tell, from one stream of samples: FSK
//! caller ID (Bell 202 and V.23 side by side), DTMF keys and DTMF caller
//! ID, and call-progress tones. Used by the audio box driver and by
//! `callpop cid decode`; pure, fed with samples, no I/O.

use super::cid::{CallerIdMessage, CidError, FrameScanner, Scanned, SEIZURE};
use super::dtmf::{DtmfDetector, DtmfDigit};
use super::dtmf_cid::{self, DtmfCollector, DtmfString};
use super::fsk::{FskByte, FskDemodulator, FskStandard};
use super::tones::{ToneDetector, ToneEvent, ToneKind, ToneSpec};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// How a caller ID is sent (and, in a profile, which ones a box listens for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CidStandard {
    Bell202,
    V23,
    Dtmf,
}

impl CidStandard {
    pub fn as_str(self) -> &'static str {
        match self {
            CidStandard::Bell202 => "bell202",
            CidStandard::V23 => "v23",
            CidStandard::Dtmf => "dtmf",
        }
    }

    /// The FSK modulation of an FSK standard.
    pub fn fsk(self) -> Option<FskStandard> {
        match self {
            CidStandard::Bell202 => Some(FskStandard::Bell202),
            CidStandard::V23 => Some(FskStandard::V23),
            CidStandard::Dtmf => None,
        }
    }

    /// All of them, as a box in the field listens.
    pub const ALL: [CidStandard; 3] = [CidStandard::Bell202, CidStandard::V23, CidStandard::Dtmf];
}

impl From<FskStandard> for CidStandard {
    fn from(s: FskStandard) -> Self {
        match s {
            FskStandard::Bell202 => CidStandard::Bell202,
            FskStandard::V23 => CidStandard::V23,
        }
    }
}

/// What to listen for.
#[derive(Debug, Clone)]
pub struct ListenFor {
    pub fsk: Vec<FskStandard>,
    pub dtmf: bool,
    /// The call-progress tone plan, if tones matter.
    pub tones: Option<Vec<ToneSpec>>,
    /// Channel seizure characters needed before an FSK message.
    pub min_seizure: usize,
    /// FSK weaker than this (dBm0) is not listened to.
    pub squelch_dbm0: f64,
}

impl ListenFor {
    /// Every caller-ID standard, no tones.
    pub fn caller_id() -> ListenFor {
        ListenFor::standards(&CidStandard::ALL)
    }

    /// These caller-ID standards, no tones.
    pub fn standards(standards: &[CidStandard]) -> ListenFor {
        ListenFor {
            fsk: standards.iter().filter_map(|s| s.fsk()).collect(),
            dtmf: standards.contains(&CidStandard::Dtmf),
            tones: None,
            min_seizure: MIN_SEIZURE,
            squelch_dbm0: crate::dsp::fsk::SQUELCH_DBM0,
        }
    }
}

/// Seizure characters believed from audio: a noisy seizure loses some of
/// its 30, and the checksum and the message's own structure do the rest.
pub const MIN_SEIZURE: usize = 6;

/// Something heard, and the sample it began at.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    CallerId {
        offset: u64,
        standard: CidStandard,
        message: CallerIdMessage,
    },
    /// A framed FSK message that failed its checksum or structure: logged,
    /// never a caller ID.
    Rejected {
        offset: u64,
        standard: CidStandard,
        error: CidError,
    },
    /// A DTMF key, as soon as it is accepted.
    Key {
        offset: u64,
        key: char,
    },
    /// A DTMF string that is not a caller ID.
    Keys {
        offset: u64,
        keys: String,
    },
    Tone {
        offset: u64,
        kind: ToneKind,
    },
}

impl Heard {
    pub fn offset(&self) -> u64 {
        match self {
            Heard::CallerId { offset, .. }
            | Heard::Rejected { offset, .. }
            | Heard::Key { offset, .. }
            | Heard::Keys { offset, .. }
            | Heard::Tone { offset, .. } => *offset,
        }
    }
}

/// One FSK standard's demodulator and its two UARTs' frame scanners.
struct FskPath {
    standard: FskStandard,
    demodulator: FskDemodulator,
    /// The coherent UART's reader, then the energy UART's.
    readers: [FskReader; 2],
}

/// The frame scanner over one UART's characters.
struct FskReader {
    scanner: FrameScanner,
    /// Where the seizure under way began.
    seizure_start: u64,
    last_byte: Option<u64>,
    /// Whether its rejections are reported: the energy UART is a second
    /// opinion beside the coherent one (it decodes a sender whose clock is
    /// far off sooner), and a message both fail is reported once.
    reports_rejections: bool,
}

/// The line listener.
pub struct Listener {
    rate: u32,
    sample: u64,
    fsk: Vec<FskPath>,
    sniffer: Option<Sniffer>,
    dtmf: Option<(DtmfDetector, DtmfCollector)>,
    tones: Option<ToneDetector>,
    /// FSK messages reported lately, so the other demodulator's copy of
    /// the same message is not reported twice.
    recent: Vec<(u64, CallerIdMessage)>,
    bytes: Vec<FskByte>,
    digits: Vec<DtmfDigit>,
    strings: Vec<DtmfString>,
    tone_events: Vec<ToneEvent>,
}

/// A frame with no character for this long is dropped.
const FRAME_GAP_MS: u64 = 200;

impl Listener {
    pub fn new(rate: u32, what: &ListenFor) -> Listener {
        let fsk: Vec<FskPath> = what
            .fsk
            .iter()
            .map(|&standard| FskPath {
                standard,
                demodulator: FskDemodulator::new(standard, rate)
                    .and_by_energy()
                    .with_squelch(what.squelch_dbm0),
                readers: [true, false].map(|reports_rejections| FskReader {
                    scanner: FrameScanner::new(what.min_seizure),
                    seizure_start: 0,
                    last_byte: None,
                    reports_rejections,
                }),
            })
            .collect();
        Listener {
            rate,
            sample: 0,
            sniffer: (what.fsk.len() > 1).then(|| Sniffer::new(rate)),
            fsk,
            dtmf: what
                .dtmf
                .then(|| (DtmfDetector::new(rate), DtmfCollector::new(rate))),
            tones: what.tones.clone().map(|t| ToneDetector::new(rate, t)),
            recent: Vec::new(),
            bytes: Vec::new(),
            digits: Vec::new(),
            strings: Vec::new(),
            tone_events: Vec::new(),
        }
    }

    /// The sample rate this listener was made for.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Feeds samples (full scale ±1.0); what was heard in them, in order.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<Heard>) {
        let first = out.len();
        if let Some(s) = &mut self.sniffer {
            s.push(samples);
        }
        let gap = u64::from(self.rate) * FRAME_GAP_MS / 1000;
        for path in &mut self.fsk {
            self.bytes.clear();
            path.demodulator.push(samples, &mut self.bytes);
            for b in &self.bytes {
                let reader = &mut path.readers[usize::from(!b.coherent())];
                if reader.last_byte.is_some_and(|t| b.offset > t + gap) {
                    reader.scanner.reset();
                }
                reader.last_byte = Some(b.offset);
                let was_seizure = !reader.scanner.in_frame() && b.byte == SEIZURE;
                if was_seizure && reader.scanner.seizure_len() == 0 {
                    reader.seizure_start = b.offset;
                }
                if !reader.scanner.in_frame() && reader.scanner.seizure_len() == 0 {
                    // Without a seizure the message begins here.
                    reader.seizure_start = b.offset;
                }
                match reader.scanner.push_heard(b.byte, b.marks_before, b.doubts) {
                    Some(Scanned::Message(message)) => {
                        let offset = reader.seizure_start;
                        let duplicate = self.recent.iter().any(|(t, m)| {
                            *m == message && offset.abs_diff(*t) < u64::from(self.rate)
                        });
                        if !duplicate {
                            self.recent.push((offset, message.clone()));
                            let standard = match &self.sniffer {
                                Some(s) => s.standard_since(offset, b.offset),
                                None => path.standard,
                            };
                            out.push(Heard::CallerId {
                                offset,
                                standard: standard.into(),
                                message,
                            });
                        }
                    }
                    Some(Scanned::Rejected(error)) if reader.reports_rejections => {
                        out.push(Heard::Rejected {
                            offset: reader.seizure_start,
                            standard: path.standard.into(),
                            error,
                        })
                    }
                    Some(Scanned::Rejected(_)) | None => {}
                }
            }
        }
        let now = self.sample + samples.len() as u64;
        self.recent
            .retain(|(t, _)| now.saturating_sub(*t) < 10 * u64::from(self.rate));
        if let Some((detector, collector)) = &mut self.dtmf {
            self.digits.clear();
            self.strings.clear();
            detector.push(samples, &mut self.digits);
            for d in &self.digits {
                out.push(Heard::Key {
                    offset: d.offset,
                    key: d.key,
                });
                collector.push(*d, &mut self.strings);
            }
            collector.flush_before(now, &mut self.strings);
            out.extend(self.strings.drain(..).map(string_heard));
        }
        if let Some(tones) = &mut self.tones {
            self.tone_events.clear();
            tones.push(samples, &mut self.tone_events);
            out.extend(self.tone_events.iter().map(|e| Heard::Tone {
                offset: e.offset,
                kind: e.kind,
            }));
        }
        self.sample = now;
        out[first..].sort_by_key(Heard::offset);
    }

    /// Reports what is still pending at the end of the input.
    pub fn finish(&mut self, out: &mut Vec<Heard>) {
        if let Some((_, collector)) = &mut self.dtmf {
            out.extend(collector.finish().map(string_heard));
        }
    }
}

fn string_heard(s: DtmfString) -> Heard {
    match dtmf_cid::read(&s) {
        Some(message) => Heard::CallerId {
            offset: s.offset,
            standard: CidStandard::Dtmf,
            message,
        },
        None => Heard::Keys {
            offset: s.offset,
            keys: s.keys,
        },
    }
}

/// Tells Bell 202 from V.23 when both demodulators read a message (each
/// reads the other's tones well enough): 10 ms Goertzel blocks null out
/// a tone 100 Hz away, so 1200 Hz and 1300 Hz, 2100 Hz and 2200 Hz are
/// told apart over the message's span.
struct Sniffer {
    block: usize,
    coeff: [f64; 4],
    s: [(f64, f64); 4],
    in_block: usize,
    /// Per block: Bell 202 tones' energy, V.23 tones' energy.
    history: std::collections::VecDeque<(f64, f64)>,
    blocks: u64,
}

/// Blocks kept: 4 s, longer than any message with its seizure.
const SNIFF_BLOCKS: usize = 400;

impl Sniffer {
    fn new(rate: u32) -> Sniffer {
        let block = (rate / 100) as usize;
        let coeff = [1200.0, 2200.0, 1300.0, 2100.0]
            .map(|f: f64| 2.0 * (2.0 * PI * f / f64::from(rate)).cos());
        Sniffer {
            block,
            coeff,
            s: [(0.0, 0.0); 4],
            in_block: 0,
            history: std::collections::VecDeque::with_capacity(SNIFF_BLOCKS),
            blocks: 0,
        }
    }

    fn push(&mut self, samples: &[f32]) {
        for &x in samples {
            let x = f64::from(x);
            for (c, s) in self.coeff.iter().zip(self.s.iter_mut()) {
                *s = (x + c * s.0 - s.1, s.0);
            }
            self.in_block += 1;
            if self.in_block == self.block {
                let e: [f64; 4] = std::array::from_fn(|i| {
                    let (s1, s2) = self.s[i];
                    s1 * s1 + s2 * s2 - self.coeff[i] * s1 * s2
                });
                if self.history.len() == SNIFF_BLOCKS {
                    self.history.pop_front();
                }
                self.history.push_back((e[0] + e[1], e[2] + e[3]));
                self.blocks += 1;
                self.s = [(0.0, 0.0); 4];
                self.in_block = 0;
            }
        }
    }

    /// The standard whose tones held more energy from `from` to `to`.
    fn standard_since(&self, from: u64, to: u64) -> FskStandard {
        let block = self.block as u64;
        let oldest = self.blocks - self.history.len() as u64;
        let (bell, v23) = self
            .history
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let at = (oldest + *i as u64) * block;
                at + block > from && at <= to
            })
            .fold((0.0, 0.0), |(b, v), (_, (eb, ev))| (b + eb, v + ev));
        if v23 > bell {
            FskStandard::V23
        } else {
            FskStandard::Bell202
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::cid::{self, CidDateTime, MessageFormat};
    use crate::dsp::fsk::FskSignal;

    fn listen(rate: u32, what: &ListenFor, samples: &[f32]) -> Vec<Heard> {
        let mut l = Listener::new(rate, what);
        let mut out = Vec::new();
        for c in samples.chunks(250) {
            l.push(c, &mut out);
        }
        l.finish(&mut out);
        out
    }

    fn mdmf() -> CallerIdMessage {
        CallerIdMessage {
            format: MessageFormat::Mdmf,
            datetime: CidDateTime::parse(b"11231430"),
            number: Some("13800138000".into()),
            number_absent: None,
            name: Some("ZHANG SAN".into()),
            name_absent: None,
            other: Vec::new(),
        }
    }

    #[test]
    fn each_fsk_standard_is_reported_once_under_its_own_name() {
        for standard in [FskStandard::Bell202, FskStandard::V23] {
            let mut signal = vec![0.0f32; 4000];
            signal.extend(FskSignal::new(standard, 8000).modulate(&cid::encode(&mdmf())));
            signal.extend(vec![0.0f32; 4000]);
            let heard = listen(8000, &ListenFor::caller_id(), &signal);
            let ids: Vec<_> = heard
                .iter()
                .filter_map(|h| match h {
                    Heard::CallerId {
                        standard: s,
                        message,
                        offset,
                    } => Some((*s, message.clone(), *offset)),
                    _ => None,
                })
                .collect();
            assert_eq!(ids.len(), 1, "{standard:?}: {heard:?}");
            assert_eq!(ids[0].0, CidStandard::from(standard));
            assert_eq!(ids[0].1, mdmf());
            // The seizure began 0.5 s in.
            assert!(ids[0].2.abs_diff(4000) < 40, "{}", ids[0].2);
        }
    }

    /// Any seizure, none at all included (call-waiting caller ID sends a
    /// mark signal only): a message after 40 ms or more of mark is read;
    /// after a mere 25 ms it is not.
    #[test]
    fn any_seizure_length_or_none_after_a_mark_signal() {
        for standard in [FskStandard::Bell202, FskStandard::V23] {
            for (seizure_bits, mark_bits, read) in [
                (0, 180, true),
                (20, 180, true),
                (50, 80, true),
                (0, 55, true),
                (0, 30, false),
            ] {
                let mut s = FskSignal::new(standard, 8000);
                s.seizure_bits = seizure_bits;
                s.mark_bits = mark_bits;
                let mut signal = vec![0.0f32; 4000];
                signal.extend(s.modulate(&cid::encode(&mdmf())));
                signal.extend(vec![0.0f32; 4000]);
                let heard = listen(8000, &ListenFor::caller_id(), &signal);
                let found = heard
                    .iter()
                    .filter(|h| matches!(h, Heard::CallerId { message, .. } if *message == mdmf()))
                    .count();
                assert_eq!(
                    found,
                    usize::from(read),
                    "{standard:?}, {seizure_bits} seizure bits, {mark_bits} marks: {heard:?}"
                );
            }
        }
    }

    #[test]
    fn a_bad_checksum_is_rejected_never_a_caller_id() {
        let mut bytes = cid::encode(&mdmf());
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        let signal = FskSignal::new(FskStandard::Bell202, 8000).modulate(&bytes);
        let heard = listen(8000, &ListenFor::caller_id(), &signal);
        assert!(
            heard.iter().any(|h| matches!(h, Heard::Rejected { .. })),
            "{heard:?}"
        );
        assert!(!heard.iter().any(|h| matches!(h, Heard::CallerId { .. })));
    }

    #[test]
    fn dtmf_caller_id_and_keys_and_tones() {
        let mut signal = crate::dsp::dtmf::generate("D13800138000C", 8000, 60, 60, 0.15);
        signal.extend(vec![0.0f32; 8000]);
        signal.extend(crate::dsp::dtmf::generate("123", 8000, 100, 900, 0.15));
        let busy = crate::dsp::tones::plan("cn").unwrap().remove(2);
        signal.extend(crate::dsp::tones::generate(&busy, 8000, 2500, 0.1));
        let what = ListenFor {
            tones: crate::dsp::tones::plan("cn"),
            ..ListenFor::caller_id()
        };
        let heard = listen(8000, &what, &signal);
        let summary: Vec<String> = heard
            .iter()
            .filter_map(|h| match h {
                Heard::CallerId {
                    message, standard, ..
                } => Some(format!(
                    "{}:{}",
                    standard.as_str(),
                    message.number.clone().unwrap_or_default()
                )),
                Heard::Keys { keys, .. } => Some(keys.clone()),
                Heard::Tone { kind, .. } => Some(kind.as_str().to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(summary, ["dtmf:13800138000", "1", "2", "3", "busy"]);
    }
}
