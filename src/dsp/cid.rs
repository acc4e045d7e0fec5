//! Caller-ID messages (Bellcore GR-30 / ETSI EN 300 659-3): the bytes a
//! line sends between the first and second ring, whether they come decoded
//! from an FSK module or from our own demodulator.
//!
//! A message is `type, length, payload..., checksum`, where the checksum
//! makes the sum of all its bytes 0 mod 256. SDMF (type 0x04) carries
//! `MMDDHHMM` and the number; MDMF (type 0x80) carries parameters
//! `(type, length, data)`. A message whose checksum fails is never a caller ID.

use super::fsk::FskStandard;
use serde::Serialize;
use std::fmt;

pub mod risk;
use risk::{mend_one_bit, risk_of_cancelling_pair};

/// SDMF: single data message format.
pub const SDMF: u8 = 0x04;
/// MDMF: multiple data message format.
pub const MDMF: u8 = 0x80;
/// Channel seizure: alternating bits, 0x55 as bytes.
pub const SEIZURE: u8 = 0x55;

/// MDMF parameter types used in Bellcore and ETSI caller ID.
pub mod param {
    pub const DATE_TIME: u8 = 0x01;
    pub const NUMBER: u8 = 0x02;
    /// Called line / dialable directory number (ETSI 0x03).
    pub const CALLED_NUMBER: u8 = 0x03;
    pub const NUMBER_ABSENT: u8 = 0x04;
    pub const NAME: u8 = 0x07;
    pub const NAME_ABSENT: u8 = 0x08;
    /// ETSI call type (voice, ring-back, message waiting...).
    pub const CALL_TYPE: u8 = 0x11;
    /// ETSI first called line identity / redirecting number.
    pub const REDIRECTING_NUMBER: u8 = 0x1A;
}

/// Why a number or name is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Absence {
    /// 'P': the caller withheld it.
    Private,
    /// 'O': out of area / unavailable.
    Unavailable,
}

impl Absence {
    /// Reads the one-letter marker (`P` or `O`) used by both standards and
    /// by modems (`NMBR = P`).
    pub fn from_marker(text: &str) -> Option<Absence> {
        match text.trim() {
            "P" | "p" => Some(Absence::Private),
            "O" | "o" => Some(Absence::Unavailable),
            _ => None,
        }
    }

    fn marker(self) -> u8 {
        match self {
            Absence::Private => b'P',
            Absence::Unavailable => b'O',
        }
    }
}

/// Date and time as the exchange sends them (no year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CidDateTime {
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
}

impl fmt::Display for CidDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}-{:02} {:02}:{:02}",
            self.month, self.day, self.hour, self.minute
        )
    }
}

impl CidDateTime {
    /// Parses `MMDDHHMM`, checking the ranges.
    pub fn parse(digits: &[u8]) -> Option<CidDateTime> {
        if digits.len() != 8 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let two = |i: usize| (digits[i] - b'0') * 10 + (digits[i + 1] - b'0');
        let dt = CidDateTime {
            month: two(0),
            day: two(2),
            hour: two(4),
            minute: two(6),
        };
        let ok = (1..=12).contains(&dt.month)
            && (1..=31).contains(&dt.day)
            && dt.hour < 24
            && dt.minute < 60;
        ok.then_some(dt)
    }

    fn digits(self) -> [u8; 8] {
        let mut out = [0u8; 8];
        for (i, v) in [self.month, self.day, self.hour, self.minute]
            .iter()
            .enumerate()
        {
            out[i * 2] = b'0' + v / 10;
            out[i * 2 + 1] = b'0' + v % 10;
        }
        out
    }
}

/// Which message format carried the caller ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageFormat {
    Sdmf,
    Mdmf,
    /// Keypad digits (`A…C` and its variants), see [`super::dtmf_cid`].
    Dtmf,
}

impl MessageFormat {
    /// The name `callpop cid decode --json` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageFormat::Sdmf => "sdmf",
            MessageFormat::Mdmf => "mdmf",
            MessageFormat::Dtmf => "dtmf",
        }
    }
}

/// A decoded caller-ID message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallerIdMessage {
    pub format: MessageFormat,
    pub datetime: Option<CidDateTime>,
    pub number: Option<String>,
    pub number_absent: Option<Absence>,
    pub name: Option<String>,
    pub name_absent: Option<Absence>,
    /// Parameters we keep but do not interpret: (type, data).
    pub other: Vec<(u8, Vec<u8>)>,
}

impl CallerIdMessage {
    /// A message carrying just a number (the norm in China).
    pub fn number_only(number: &str) -> CallerIdMessage {
        CallerIdMessage {
            format: MessageFormat::Mdmf,
            datetime: None,
            number: Some(number.to_string()),
            number_absent: None,
            name: None,
            name_absent: None,
            other: Vec::new(),
        }
    }
}

/// Why bytes are not a caller-ID message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidError {
    Truncated {
        needed: usize,
        got: usize,
    },
    BadChecksum {
        sum: u8,
    },
    UnknownType(u8),
    BadParameter {
        kind: u8,
        reason: &'static str,
    },
    /// The message holds together, but two of its bits were close enough
    /// calls that both may be wrong and cancel out in the checksum: the
    /// chance of that, in parts per million.
    Doubtful {
        risk_ppm: u32,
    },
}

impl fmt::Display for CidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CidError::Truncated { needed, got } => {
                write!(f, "message truncated: {got} of {needed} bytes")
            }
            CidError::BadChecksum { sum } => {
                write!(f, "bad checksum (bytes sum to {sum:#04x}, not 0)")
            }
            CidError::UnknownType(t) => write!(f, "unknown message type {t:#04x}"),
            CidError::BadParameter { kind, reason } => {
                write!(f, "parameter {kind:#04x}: {reason}")
            }
            CidError::Doubtful { risk_ppm } => write!(
                f,
                "bits too faint to trust (a {:.2} % chance two errors cancel out in the checksum)",
                f64::from(*risk_ppm) / 10_000.0
            ),
        }
    }
}

impl std::error::Error for CidError {}

/// Decodes one message: `type, length, payload, checksum`.
pub fn decode(bytes: &[u8]) -> Result<CallerIdMessage, CidError> {
    if bytes.len() < 3 {
        return Err(CidError::Truncated {
            needed: 3,
            got: bytes.len(),
        });
    }
    let needed = bytes[1] as usize + 3;
    if bytes.len() < needed {
        return Err(CidError::Truncated {
            needed,
            got: bytes.len(),
        });
    }
    let message = &bytes[..needed];
    let sum = message.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    if sum != 0 {
        return Err(CidError::BadChecksum { sum });
    }
    let payload = &message[2..needed - 1];
    match message[0] {
        SDMF => decode_sdmf(payload),
        MDMF => decode_mdmf(payload),
        other => Err(CidError::UnknownType(other)),
    }
}

/// The longest number either standard carries (ETSI: 20 digits).
const MAX_NUMBER: usize = 20;
/// The shortest: service numbers such as 110.
const MIN_NUMBER: usize = 3;
/// The longest name (ETSI: 50 characters).
const MAX_NAME: usize = 50;

/// Parameter types of ETSI EN 300 659-3 (Bellcore's are among them): any
/// other is line noise that happened to pass the checksum.
const KNOWN_PARAMS: &[u8] = &[
    0x01, 0x02, 0x03, 0x04, 0x07, 0x08, 0x0B, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x15, 0x16,
    0x1A, 0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8,
];

fn implausible(kind: u8, reason: &'static str) -> CidError {
    CidError::BadParameter { kind, reason }
}

/// A number as the standards send it: digits only, of a length a
/// number can have. Two compensating bit errors pass the checksum; they
/// must not pass here.
fn number(kind: u8, data: &[u8]) -> Result<String, CidError> {
    let digits = trim(data);
    if !(MIN_NUMBER..=MAX_NUMBER).contains(&digits.len()) {
        return Err(implausible(kind, "a number of an impossible length"));
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(implausible(
            kind,
            "a number with a character that is not a digit",
        ));
    }
    Ok(String::from_utf8_lossy(digits).into_owned())
}

fn trim(data: &[u8]) -> &[u8] {
    let start = data.iter().position(|b| *b != b' ').unwrap_or(data.len());
    let end = data
        .iter()
        .rposition(|b| *b != b' ')
        .map_or(start, |e| e + 1);
    &data[start..end]
}

fn date_time(kind: u8, data: &[u8]) -> Result<CidDateTime, CidError> {
    CidDateTime::parse(data).ok_or(implausible(kind, "not a valid MMDDHHMM date and time"))
}

fn reason(kind: u8, data: &[u8]) -> Result<Absence, CidError> {
    absence(data).ok_or(implausible(kind, "a reason for absence other than P or O"))
}

fn decode_sdmf(payload: &[u8]) -> Result<CallerIdMessage, CidError> {
    if payload.len() < 9 {
        return Err(implausible(SDMF, "shorter than its date, time and number"));
    }
    let datetime = date_time(SDMF, &payload[..8])?;
    let rest = &payload[8..];
    let (number, number_absent) = match rest {
        [marker] if absence(rest).is_some() => (None, absence(&[*marker])),
        _ => (Some(number(SDMF, rest)?), None),
    };
    Ok(CallerIdMessage {
        format: MessageFormat::Sdmf,
        datetime: Some(datetime),
        number,
        number_absent,
        name: None,
        name_absent: None,
        other: Vec::new(),
    })
}

fn decode_mdmf(mut payload: &[u8]) -> Result<CallerIdMessage, CidError> {
    let mut m = CallerIdMessage {
        format: MessageFormat::Mdmf,
        datetime: None,
        number: None,
        number_absent: None,
        name: None,
        name_absent: None,
        other: Vec::new(),
    };
    let mut seen = [false; 256];
    while !payload.is_empty() {
        if payload.len() < 2 {
            return Err(implausible(payload[0], "no length byte"));
        }
        let (kind, len) = (payload[0], payload[1] as usize);
        if payload.len() < 2 + len {
            return Err(implausible(kind, "longer than the message"));
        }
        if !KNOWN_PARAMS.contains(&kind) {
            return Err(implausible(kind, "not a parameter type of the standards"));
        }
        if std::mem::replace(&mut seen[usize::from(kind)], true) {
            return Err(implausible(kind, "given twice"));
        }
        if len == 0 {
            return Err(implausible(kind, "empty"));
        }
        let data = &payload[2..2 + len];
        match kind {
            param::DATE_TIME => m.datetime = Some(date_time(kind, data)?),
            param::NUMBER => m.number = Some(number(kind, data)?),
            param::NUMBER_ABSENT => m.number_absent = Some(reason(kind, data)?),
            param::NAME => m.name = Some(name(data)?),
            param::NAME_ABSENT => m.name_absent = Some(reason(kind, data)?),
            param::CALLED_NUMBER | param::REDIRECTING_NUMBER => {
                number(kind, data)?;
                m.other.push((kind, data.to_vec()));
            }
            _ => m.other.push((kind, data.to_vec())),
        }
        payload = &payload[2 + len..];
    }
    if m.number.is_some() && m.number_absent.is_some() {
        return Err(implausible(
            param::NUMBER_ABSENT,
            "a number and a reason for its absence",
        ));
    }
    // A caller ID says who calls or why it cannot: one with neither (as
    // short as `80 00 80`) is noise that happened to sum right.
    if m.number.is_none()
        && m.number_absent.is_none()
        && m.name.is_none()
        && m.name_absent.is_none()
    {
        return Err(implausible(
            param::NUMBER,
            "neither a number, a name nor a reason for their absence",
        ));
    }
    Ok(m)
}

/// Names are ASCII in the standards; Chinese exchanges that send one use
/// GBK. A name with control characters, or bytes that are neither, is
/// noise.
fn name(data: &[u8]) -> Result<String, CidError> {
    let kind = param::NAME;
    if data.len() > MAX_NAME {
        return Err(implausible(kind, "a name longer than 50 characters"));
    }
    let text = match std::str::from_utf8(data) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(data);
            if had_errors {
                return Err(implausible(kind, "a name in no known encoding"));
            }
            text.into_owned()
        }
    };
    if text.chars().any(char::is_control) {
        return Err(implausible(kind, "a name with control characters"));
    }
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(implausible(kind, "a blank name"));
    }
    Ok(text)
}

fn absence(data: &[u8]) -> Option<Absence> {
    std::str::from_utf8(data)
        .ok()
        .and_then(Absence::from_marker)
}

fn finish(kind: u8, payload: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 3);
    out.push(kind);
    out.push(payload.len() as u8);
    out.extend(payload);
    let sum = out.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    out.push(sum.wrapping_neg());
    out
}

/// Encodes a message (for simulators and signal generators). SDMF carries
/// only date/time and number or its absence; MDMF (and a DTMF message sent
/// as FSK) everything.
pub fn encode(m: &CallerIdMessage) -> Vec<u8> {
    match m.format {
        MessageFormat::Sdmf => {
            let mut payload = m
                .datetime
                .map(|d| d.digits().to_vec())
                .unwrap_or_else(|| b"01010000".to_vec());
            match (&m.number, m.number_absent) {
                (Some(n), _) => payload.extend(n.bytes()),
                (None, Some(a)) => payload.push(a.marker()),
                (None, None) => payload.push(b'O'),
            }
            finish(SDMF, payload)
        }
        MessageFormat::Mdmf | MessageFormat::Dtmf => {
            let mut payload = Vec::new();
            let mut add = |kind: u8, data: &[u8]| {
                payload.push(kind);
                payload.push(data.len() as u8);
                payload.extend_from_slice(data);
            };
            if let Some(d) = m.datetime {
                add(param::DATE_TIME, &d.digits());
            }
            if let Some(n) = &m.number {
                add(param::NUMBER, n.as_bytes());
            }
            if let Some(a) = m.number_absent {
                add(param::NUMBER_ABSENT, &[a.marker()]);
            }
            if let Some(n) = &m.name {
                add(param::NAME, n.as_bytes());
            }
            if let Some(a) = m.name_absent {
                add(param::NAME_ABSENT, &[a.marker()]);
            }
            for (kind, data) in &m.other {
                add(*kind, data);
            }
            finish(MDMF, payload)
        }
    }
}

/// How sure a demodulator was of each of a character's data bits: two
/// wrong bits can cancel out in the checksum, and the scanner weighs how
/// likely that is before it trusts a message from line audio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BitDoubts {
    /// Each data bit's confidence (0: a guess, 1: certain).
    pub confidence: [f32; 8],
    /// Who decided them: the same confidence is a different chance of
    /// error for each.
    pub reader: BitReader,
}

/// Who decided a character's bits, which says how often a decision of a
/// given confidence is wrong (see [`risk::ErrorModel`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitReader {
    /// A box's serial line: every bit is certain.
    Serial,
    /// The coherent UART: its error rates are measured per standard
    /// (V.23's bits of middling confidence are wrong up to ten times less
    /// often than Bell 202's).
    Coherent(FskStandard),
    /// The energy UART (framed and decided on the tones' energies): the
    /// same confidence is wrong two to twenty times as often as a
    /// coherent decision's.
    ByEnergy,
}

impl BitDoubts {
    /// A character read without any doubt (from a box's serial line).
    pub const NONE: BitDoubts = BitDoubts {
        confidence: [1.0; 8],
        reader: BitReader::Serial,
    };

    /// Notes that data bit `bit` was decided with `confidence`.
    pub fn note(&mut self, bit: u8, confidence: f32) {
        self.confidence[usize::from(bit)] = confidence;
    }
}

/// What the byte scanner found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanned {
    Message(CallerIdMessage),
    /// A framed message that failed: reported and logged, never popped.
    Rejected(CidError),
}

/// Finds caller-ID messages in a byte stream full of line noise: a run of at
/// least `min_seizure` 0x55 bytes, optional mark bytes (0xFF), at most one
/// odd byte (from line audio, the character framed across the end of the
/// seizure), then an SDMF or MDMF message. That odd byte may itself have a
/// message type's value (0x04, 0x80): the scanner follows both possible
/// starts and keeps the one whose checksum holds, so such a message — and
/// those after it — is never lost. Memory is bounded by the longest message.
#[derive(Debug, Clone)]
pub struct FrameScanner {
    min_seizure: usize,
    seizure: usize,
    /// The bytes since the seizure ended: marks, an odd byte, message(s).
    tail: Vec<u8>,
    /// How sure the demodulator was of each of the tail's characters' bits.
    doubts: Vec<BitDoubts>,
    in_frame: bool,
    /// Why the last candidate that completed failed, reported if none holds.
    failed: Option<CidError>,
}

/// Mark bits that may stand for a channel seizure: 40 ms at 1200 baud
/// (ETSI EN 300 659-1's shortest mark signal).
pub const MARK_ONLY_BITS: u32 = 48;

/// The longest tail worth keeping: marks, one odd byte and a whole message.
const MAX_TAIL: usize = 2 + 255 + 1 + 16;

impl FrameScanner {
    pub fn new(min_seizure: usize) -> FrameScanner {
        FrameScanner {
            min_seizure: min_seizure.max(1),
            seizure: 0,
            tail: Vec::with_capacity(MAX_TAIL),
            doubts: Vec::with_capacity(MAX_TAIL),
            in_frame: false,
            failed: None,
        }
    }

    /// Forgets a partial frame: call after a silence longer than a message
    /// takes, so a frame cut off by a glitch cannot swallow the next one.
    pub fn reset(&mut self) {
        self.seizure = 0;
        self.tail.clear();
        self.doubts.clear();
        self.in_frame = false;
        self.failed = None;
    }

    /// Whether a message may have begun after a seizure and is not complete
    /// yet: its bytes are message bytes, whatever their values.
    pub fn in_frame(&self) -> bool {
        self.in_frame
    }

    /// Seizure characters counted so far (0 when none is under way).
    pub fn seizure_len(&self) -> usize {
        self.seizure
    }

    /// Feeds one byte; returns a message (or a rejected one) when complete.
    pub fn push(&mut self, byte: u8) -> Option<Scanned> {
        self.push_heard(byte, 0, BitDoubts::NONE)
    }

    /// Feeds one byte that followed `marks` bits of steady mark (from line
    /// audio): a message type after at least [`MARK_ONLY_BITS`] of mark
    /// starts a message without any channel seizure, as call-waiting caller
    /// ID and some exchanges send it. `doubts`: how sure the demodulator
    /// was of its data bits; a message whose close calls could cancel out
    /// in the checksum is rejected as [`CidError::Doubtful`].
    pub fn push_heard(&mut self, byte: u8, marks: u32, doubts: BitDoubts) -> Option<Scanned> {
        let seized = self.seizure >= self.min_seizure
            || (marks >= MARK_ONLY_BITS && (byte == SDMF || byte == MDMF));
        if !self.in_frame {
            match byte {
                SEIZURE => self.seizure += 1,
                0xFF if self.seizure >= self.min_seizure => {}
                _ if seized => {
                    self.in_frame = true;
                    self.tail.clear();
                    self.doubts.clear();
                    self.tail.push(byte);
                    self.doubts.push(doubts);
                    return self.judge();
                }
                _ => self.seizure = 0,
            }
            return None;
        }
        if byte == SEIZURE && self.starts().next().is_none() {
            // No message began: the seizure goes on after an odd byte.
            self.tail.clear();
            self.doubts.clear();
            self.in_frame = false;
            self.seizure += 1;
            return None;
        }
        self.tail.push(byte);
        self.doubts.push(doubts);
        self.judge()
    }

    /// Where a message may start in the tail: a type byte after marks and
    /// at most one odd byte.
    fn starts(&self) -> impl Iterator<Item = usize> + '_ {
        let mut odd = 0;
        self.tail
            .iter()
            .enumerate()
            .take_while(move |(_, b)| {
                let ok = odd <= 1;
                if **b != 0xFF {
                    odd += 1;
                }
                ok
            })
            .filter(|(_, b)| **b == SDMF || **b == MDMF)
            .map(|(i, _)| i)
    }

    /// Decodes a candidate that just completed; reports the outcome once
    /// no candidate can complete any more.
    fn judge(&mut self) -> Option<Scanned> {
        let len = self.tail.len();
        let mut waiting = false;
        let starts: Vec<usize> = self.starts().collect();
        for start in starts {
            let Some(&size) = self.tail.get(start + 1) else {
                waiting = true;
                continue;
            };
            let end = start + size as usize + 3;
            if len < end {
                waiting = true;
            } else if len == end {
                match judge_heard(&self.tail[start..end], &self.doubts[start..end]) {
                    Ok(m) => {
                        self.reset();
                        return Some(Scanned::Message(m));
                    }
                    Err(e) => self.failed = Some(e),
                }
            }
        }
        // A message can still begin while the tail is marks and one odd byte.
        let may_begin = self.tail.iter().filter(|b| **b != 0xFF).count() <= 1;
        if (waiting || may_begin) && len <= MAX_TAIL {
            return None;
        }
        let failed = self.failed.take();
        self.reset();
        failed.map(Scanned::Rejected)
    }
}

/// The highest chance of two cancelling errors a message from line audio
/// may carry: 0.1 %. With it no wrong caller ID was accepted in 20,000
/// Bell 202 trials at 4 and 5 dB; at 0.3 % three were (and counting weak
/// characters, as before, let two through at 5 dB in 2,000). Public so
/// that `examples/cid_headroom.rs` judges a mending by the same limit.
pub const MOST_RISK: f64 = 1e-3;

/// A complete candidate message from line audio, with how sure the
/// demodulator was of each bit: the message, or why not. A message whose
/// checksum fails by one bit's worth is mended when the
/// error model makes one bit far the likeliest culprit: the chance that
/// the mending is wrong counts against the same limit.
fn judge_heard(bytes: &[u8], doubts: &[BitDoubts]) -> Result<CallerIdMessage, CidError> {
    let (m, risk) = match decode(bytes) {
        Ok(m) => (m, risk_of_cancelling_pair(bytes, doubts)),
        Err(e @ CidError::BadChecksum { .. }) => {
            let mended = mend_one_bit(bytes, doubts, |b| decode(b).is_ok())
                .filter(|m| m.risk <= MOST_RISK)
                .ok_or(e)?;
            // The mended bit's own doubt is the mending's risk.
            let mut doubts = doubts.to_vec();
            doubts[mended.byte].note(mended.bit, 1.0);
            (
                decode(&mended.bytes)?,
                mended.risk + risk_of_cancelling_pair(&mended.bytes, &doubts),
            )
        }
        Err(e) => return Err(e),
    };
    if risk > MOST_RISK {
        return Err(CidError::Doubtful {
            risk_ppm: (risk.min(1.0) * 1e6) as u32,
        });
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SDMF example reproduced from Bellcore TR-NWT-000030 in modem and
    /// chip application notes: 30 September 12:24, number 609-555-1212,
    /// checksum 0x51 (all 21 bytes sum to 0 mod 256).
    const SDMF_EXAMPLE: [u8; 21] = [
        0x04, 0x12, 0x30, 0x39, 0x33, 0x30, 0x31, 0x32, 0x32, 0x34, 0x36, 0x30, 0x39, 0x35, 0x35,
        0x35, 0x31, 0x32, 0x31, 0x32, 0x51,
    ];

    #[test]
    fn decodes_the_sdmf_example() {
        let m = decode(&SDMF_EXAMPLE).unwrap();
        assert_eq!(m.format, MessageFormat::Sdmf);
        assert_eq!(m.number.as_deref(), Some("6095551212"));
        assert_eq!(
            m.datetime,
            Some(CidDateTime {
                month: 9,
                day: 30,
                hour: 12,
                minute: 24
            })
        );
        assert_eq!(encode(&m), SDMF_EXAMPLE);
    }

    #[test]
    fn decodes_mdmf_with_every_parameter() {
        // 80 len | 01 08 "11221405" | 02 0B "13812345678" | 07 04 "ZHAO" | checksum
        let mut bytes = vec![0x80, 0x1F, 0x01, 0x08];
        bytes.extend(b"11221405");
        bytes.extend([0x02, 0x0B]);
        bytes.extend(b"13812345678");
        bytes.extend([0x07, 0x04]);
        bytes.extend(b"ZHAO");
        bytes.extend([0x11, 0x01, 0x01]);
        bytes[1] = (bytes.len() - 2) as u8;
        let sum = bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        bytes.push(sum.wrapping_neg());
        let m = decode(&bytes).unwrap();
        assert_eq!(m.number.as_deref(), Some("13812345678"));
        assert_eq!(m.name.as_deref(), Some("ZHAO"));
        assert_eq!(m.datetime.unwrap().to_string(), "11-22 14:05");
        assert_eq!(m.other, vec![(0x11, vec![0x01])]);
        assert_eq!(encode(&m), bytes);
    }

    #[test]
    fn a_date_time_out_of_range_rejects_the_message() {
        assert_eq!(
            CidDateTime::parse(b"02290001").map(|d| d.to_string()),
            Some("02-29 00:01".to_string()),
            "the year is not known here: 29 February may be right"
        );
        for bad in [
            &b"13011200"[..],
            b"00011200",
            b"01321200",
            b"01012400",
            b"01011260",
            b"0101120",
            b"0101120a",
        ] {
            assert_eq!(CidDateTime::parse(bad), None, "{bad:?}");
        }
        // MDMF: 01 08 "01012400" | 02 0B number.
        let mut bytes = vec![0x80, 0, 0x01, 0x08];
        bytes.extend(b"01012400");
        bytes.extend([0x02, 0x0B]);
        bytes.extend(b"13812345678");
        bytes[1] = (bytes.len() - 2) as u8;
        let sum = bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        bytes.push(sum.wrapping_neg());
        // Bit errors the checksum missed may sit in the number as well:
        // the whole message goes.
        assert!(matches!(
            decode(&bytes),
            Err(CidError::BadParameter { kind: 0x01, .. })
        ));
    }

    /// `kind, len, data` parameters as one MDMF message.
    fn mdmf_of(params: &[(u8, &[u8])]) -> Vec<u8> {
        let mut payload = Vec::new();
        for (kind, data) in params {
            payload.push(*kind);
            payload.push(data.len() as u8);
            payload.extend_from_slice(data);
        }
        finish(MDMF, payload)
    }

    #[test]
    fn what_passes_the_checksum_but_cannot_be_a_caller_id_is_rejected() {
        let date: (u8, &[u8]) = (param::DATE_TIME, b"12061030");
        let ok = decode(&mdmf_of(&[date, (param::NUMBER, b"13812345678")])).unwrap();
        assert_eq!(ok.number.as_deref(), Some("13812345678"));
        let (gbk, _, _) = encoding_rs::GBK.encode("周杰");
        for (params, why) in [
            (
                vec![date, (param::NUMBER, &b"138p01s8000"[..])],
                "not a digit",
            ),
            (vec![date, (param::NUMBER, b"13<00138000")], "not a digit"),
            (
                vec![],
                "neither a number, a name nor a reason for their absence",
            ),
            (
                vec![date],
                "neither a number, a name nor a reason for their absence",
            ),
            (vec![date, (param::NUMBER, b"12")], "impossible length"),
            (
                vec![date, (param::NUMBER, b"123456789012345678901")],
                "impossible length",
            ),
            (
                vec![date, (param::NUMBER, b"110"), (param::NUMBER, b"110")],
                "twice",
            ),
            (
                vec![date, (0x55, b"x"), (param::NUMBER, b"110")],
                "not a parameter type",
            ),
            (vec![date, (param::NUMBER, b"")], "empty"),
            (
                vec![date, (param::NUMBER_ABSENT, b"X")],
                "other than P or O",
            ),
            (
                vec![(param::NUMBER, b"110"), (param::NUMBER_ABSENT, b"P")],
                "absence",
            ),
            (
                vec![(param::NUMBER, b"110"), (param::NAME, b"ZHA\x01SAN")],
                "control",
            ),
            (
                vec![(param::NUMBER, b"110"), (param::NAME, &[0xFF, 0xFF, 0x81])],
                "no known encoding",
            ),
            (
                vec![(param::NUMBER, b"110"), (param::NAME, &[b'A'; 51])],
                "longer than 50",
            ),
            (
                vec![(param::DATE_TIME, b"1206103"), (param::NUMBER, b"110")],
                "MMDDHHMM",
            ),
        ] {
            match decode(&mdmf_of(&params)) {
                Err(CidError::BadParameter { reason, .. }) => {
                    assert!(reason.contains(why), "{params:?}: {reason}")
                }
                other => panic!("{params:?} must be rejected ({why}), got {other:?}"),
            }
        }
        // A GBK name and a service number pass; * and # are no digits.
        let m = decode(&mdmf_of(&[(param::NUMBER, b"10086"), (param::NAME, &gbk)])).unwrap();
        assert_eq!(
            (m.number.as_deref(), m.name.as_deref()),
            (Some("10086"), Some("周杰"))
        );
        assert!(decode(&mdmf_of(&[(param::NUMBER, b"*31#10086")])).is_err());
        // SDMF: the same rules.
        let sdmf = |rest: &[u8]| {
            let mut payload = b"12061030".to_vec();
            payload.extend_from_slice(rest);
            decode(&finish(SDMF, payload))
        };
        assert!(sdmf(b"13812345678").is_ok());
        assert_eq!(sdmf(b"P").unwrap().number_absent, Some(Absence::Private));
        assert!(sdmf(b"1381234567\x7f").is_err());
        assert!(sdmf(b"").is_err());
    }

    /// Two compensating byte errors (one byte up by k, another down by k)
    /// pass the checksum; every such pair that leaves a character that
    /// cannot be in a number is caught.
    #[test]
    fn compensating_errors_in_a_number_are_caught_whenever_they_leave_a_non_digit() {
        let good = mdmf_of(&[(param::NUMBER, b"13812345678")]);
        let (mut caught, mut passed_wrong) = (0, 0);
        for i in 4..15 {
            for j in 4..15 {
                for k in 1..=255u8 {
                    if i == j {
                        continue;
                    }
                    let mut bad = good.clone();
                    bad[i] = bad[i].wrapping_add(k);
                    bad[j] = bad[j].wrapping_sub(k);
                    match decode(&bad) {
                        Err(_) => caught += 1,
                        Ok(m) => {
                            let n = m.number.unwrap();
                            assert!(n.bytes().all(|b| b.is_ascii_digit()), "{n}");
                            passed_wrong += 1;
                        }
                    }
                }
            }
        }
        // Only digit-for-digit swaps remain, which need the demodulator's
        // own confidence to catch.
        assert!(
            caught > 20 * passed_wrong,
            "{caught} caught, {passed_wrong} passed"
        );
    }

    #[test]
    fn private_and_unavailable() {
        let mut m = CallerIdMessage::number_only("x");
        m.number = None;
        m.number_absent = Some(Absence::Private);
        m.name_absent = Some(Absence::Unavailable);
        let back = decode(&encode(&m)).unwrap();
        assert_eq!(back.number, None);
        assert_eq!(back.number_absent, Some(Absence::Private));
        assert_eq!(back.name_absent, Some(Absence::Unavailable));
        m.format = MessageFormat::Sdmf;
        let back = decode(&encode(&m)).unwrap();
        assert_eq!(back.number_absent, Some(Absence::Private));
    }

    #[test]
    fn a_bad_checksum_is_never_a_caller_id() {
        let mut bytes = SDMF_EXAMPLE;
        bytes[15] ^= 0x01; // one digit changed on the line
        assert!(matches!(decode(&bytes), Err(CidError::BadChecksum { .. })));
    }

    #[test]
    fn chinese_name_in_gbk() {
        let mut m = CallerIdMessage::number_only("13812345678");
        let (gbk, _, _) = encoding_rs::GBK.encode("张三");
        m.other.push((param::NAME, gbk.to_vec()));
        assert_eq!(decode(&encode(&m)).unwrap().name.as_deref(), Some("张三"));
    }

    #[test]
    fn scanner_finds_messages_in_noise_and_rejects_bad_ones() {
        let mut stream = vec![0x13, 0x55, 0x00, 0xA7];
        stream.extend([SEIZURE; 30]);
        stream.extend([0xFF; 5]);
        stream.extend(SDMF_EXAMPLE);
        stream.extend([0x42, 0x55, 0x55]);
        stream.extend([SEIZURE; 30]);
        let mut bad = SDMF_EXAMPLE;
        bad[10] ^= 0x04;
        stream.extend(bad);
        stream.extend([0x04, 0x02, 0x00]); // a type byte without seizure: noise
        let mut scanner = FrameScanner::new(10);
        let found: Vec<Scanned> = stream.iter().filter_map(|b| scanner.push(*b)).collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            matches!(&found[0], Scanned::Message(m) if m.number.as_deref() == Some("6095551212"))
        );
        assert!(matches!(
            found[1],
            Scanned::Rejected(CidError::BadChecksum { .. })
        ));
    }

    /// An MDMF message with a number and a name.
    fn mdmf(number: &str, name: &str) -> Vec<u8> {
        let m = CallerIdMessage {
            format: MessageFormat::Mdmf,
            datetime: None,
            number: Some(number.into()),
            number_absent: None,
            name: Some(name.into()),
            name_absent: None,
            other: Vec::new(),
        };
        encode(&m)
    }

    #[test]
    fn an_odd_byte_after_the_seizure_with_a_type_value_loses_nothing() {
        // Every value of the odd byte, before SDMF and MDMF messages, with
        // the next call's message right behind.
        for odd in 0..=255u8 {
            for first in [SDMF_EXAMPLE.to_vec(), mdmf("13812345678", "ZHOU")] {
                let mut stream = vec![SEIZURE; 20];
                stream.push(odd);
                stream.extend(&first);
                stream.extend([SEIZURE; 20]);
                stream.extend([0xFF, 0xFF]);
                stream.extend(mdmf("13900001111", "LI"));
                let mut scanner = FrameScanner::new(10);
                let found: Vec<Scanned> = stream.iter().filter_map(|b| scanner.push(*b)).collect();
                let numbers: Vec<Option<String>> = found
                    .iter()
                    .map(|f| match f {
                        Scanned::Message(m) => m.number.clone(),
                        Scanned::Rejected(e) => panic!("odd byte {odd:#04x}: rejected {e:?}"),
                    })
                    .collect();
                let want = if first[0] == SDMF {
                    "6095551212"
                } else {
                    "13812345678"
                };
                assert_eq!(
                    numbers,
                    [Some(want.to_string()), Some("13900001111".to_string())],
                    "odd byte {odd:#04x}"
                );
            }
        }
    }

    /// Feeds a seizure and `message` as heard from line audio, each byte
    /// with the doubts `doubt` gives it; what the scanner makes of it.
    fn heard(message: &[u8], doubt: impl Fn(usize) -> BitDoubts) -> Option<Scanned> {
        let mut scanner = FrameScanner::new(10);
        let seizure = [SEIZURE; 30].into_iter().map(|b| (b, BitDoubts::NONE));
        let message = message.iter().enumerate().map(|(i, &b)| (b, doubt(i)));
        seizure
            .chain(message)
            .filter_map(|(b, d)| scanner.push_heard(b, 0, d))
            .last()
    }

    /// Data bit `bit` of a character was a close call (confidence 0.02)
    /// of the coherent UART.
    fn close(bit: u8) -> BitDoubts {
        let mut d = BitDoubts {
            reader: BitReader::Coherent(FskStandard::Bell202),
            ..BitDoubts::NONE
        };
        d.note(bit, 0.02);
        d
    }

    #[test]
    fn close_calls_that_could_cancel_out_in_the_checksum_make_a_message_doubtful() {
        let sent = mdmf("13800138000", "ZHANG");
        let expected = Some(Scanned::Message(decode(&sent).unwrap()));
        let doubtful =
            |s: &Option<Scanned>| matches!(s, Some(Scanned::Rejected(CidError::Doubtful { .. })));
        // Bytes 4 ('1', 0x31) and 5 ('3', 0x33): bit 1 is 0 in one and 1
        // in the other, so both read wrong would leave the sum as it is.
        let pair = |a: u8, b: u8| {
            move |i: usize| match i {
                4 => close(a),
                5 => close(b),
                _ => BitDoubts::NONE,
            }
        };
        assert!(doubtful(&heard(&sent, pair(1, 1))));
        // Bit 0 is 1 in both: wrong together they move the sum by 2.
        assert_eq!(heard(&sent, pair(0, 0)), expected);
        // Different bits cannot cancel out.
        assert_eq!(heard(&sent, pair(2, 3)), expected);
        // Bit 7 twice always could (±128 ± 128).
        assert!(doubtful(&heard(&sent, pair(7, 7))));
        // Many middling calls add up: every bit of every character at 0.3.
        let middling = |_| BitDoubts {
            confidence: [0.3; 8],
            reader: BitReader::Coherent(FskStandard::Bell202),
        };
        assert!(doubtful(&heard(&sent, middling)));
        // The same message read surely, as from a box, is the message.
        assert_eq!(heard(&sent, |_| BitDoubts::NONE), expected);
    }

    #[test]
    fn one_wrong_bit_is_mended_only_when_the_model_makes_it_far_the_likeliest() {
        let sent = mdmf("13800138000", "ZHANG");
        let expected = Some(Scanned::Message(decode(&sent).unwrap()));
        // The number's first digit '1' (byte 4) read as '3': bit 1 turned,
        // a plausible digit either way, the checksum off by 2.
        let mut read = sent.clone();
        read[4] ^= 1 << 1;
        let sure = BitDoubts {
            confidence: [0.95; 8],
            reader: BitReader::Coherent(FskStandard::Bell202),
        };
        let close_at = |bytes: &'static [(usize, u8)]| {
            move |i: usize| {
                let mut d = sure;
                for &(at, bit) in bytes {
                    if at == i {
                        d.note(bit, 0.02);
                    }
                }
                d
            }
        };
        // The wrong bit a close call, every other bit sure: mended.
        assert_eq!(heard(&read, close_at(&[(4, 1)])), expected);
        // Read as surely as the rest: any '3' or letter with bit 1 set
        // could be the wrong one.
        assert!(matches!(
            heard(&read, close_at(&[])),
            Some(Scanned::Rejected(CidError::BadChecksum { .. }))
        ));
        // Another '3' (byte 5) as close a call: either could be.
        assert!(matches!(
            heard(&read, close_at(&[(4, 1), (5, 1)])),
            Some(Scanned::Rejected(CidError::BadChecksum { .. }))
        ));
        // Two wrong bits are not one: '1' read as '3' and '3' as '1' keep
        // the sum, a cancelling pair the risk rule refuses as before.
        let mut twice = read.clone();
        twice[5] ^= 1 << 1;
        assert!(matches!(
            heard(&twice, close_at(&[(4, 1), (5, 1)])),
            Some(Scanned::Rejected(CidError::Doubtful { .. }))
        ));
        // The length byte says where the message ends: never mended.
        let mut length = sent.clone();
        length[1] ^= 1;
        let doubts: Vec<BitDoubts> = (0..length.len())
            .map(|i| if i == 1 { close(0) } else { sure })
            .collect();
        let mended = mend_one_bit(&length, &doubts, |b| decode(b).is_ok());
        assert!(mended.as_ref().is_none_or(|m| m.byte != 1), "{mended:?}");
    }

    #[test]
    fn a_type_byte_no_exchange_sends_is_no_partner_in_a_cancelling_pair() {
        let sent = mdmf("13800138000", "ZHANG");
        let expected = Some(Scanned::Message(decode(&sent).unwrap()));
        let with_type_bit = |bit: u8| {
            move |i: usize| match i {
                0 => close(bit),
                5 => close(bit),
                _ => BitDoubts::NONE,
            }
        };
        // 0x80 with bit 7 turned is 0x00, which no exchange sends: the
        // type is as read, whatever byte 5 ('3', bit 7 clear) may be.
        assert_eq!(heard(&sent, with_type_bit(7)), expected);
        // With bit 1 turned it is 0x82, message waiting: a real type, so
        // with byte 5's bit 1 (set) the pair could cancel out.
        assert!(matches!(
            heard(&sent, with_type_bit(1)),
            Some(Scanned::Rejected(CidError::Doubtful { .. }))
        ));
    }
}
