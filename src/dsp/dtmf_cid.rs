//! DTMF caller ID: the number sent as keypad digits before or between the
//! rings, used by exchanges in parts of Europe, Asia and South America
//! instead of FSK. The variants in the field:
//!
//! - `A<number>C` and `D<number>C` (start code, number, end code `C`),
//! - `A<number>#` and `<number>#` (end code `#`, start code optional),
//! - `B<code>C` for a missing number: `B00C` unavailable, `B10C` private,
//! - `D1#` private, `D2#` / `D3#` unavailable (the Danish short codes).
//!
//! There is no checksum: a string is only a caller ID when it is framed
//! by a start and an end code, holds only digits between, as many as a
//! number of the national plan has ([`plausible_number`]), and came at an
//! even pace (a digit lost to noise leaves a gap: [`even_pace`]). A bare
//! `<number>#` is what a person keys as often as an exchange sends it, and
//! is left as keys.

use super::cid::{Absence, CallerIdMessage, MessageFormat};
use super::dtmf::DtmfDigit;

/// Keys that followed each other closely, and the sample the first began at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtmfString {
    pub keys: String,
    pub offset: u64,
    /// Where each key began (samples).
    pub offsets: Vec<u64>,
}

/// Gathers digits into strings: a string ends at an end code (`C`, `#`),
/// or when no key follows within `max_gap` samples.
#[derive(Debug, Clone)]
pub struct DtmfCollector {
    max_gap: u64,
    keys: String,
    offsets: Vec<u64>,
    offset: u64,
    last: u64,
}

/// Longest gap between the keys of one caller ID (they come every
/// 100-200 ms; a person keys slower, which splits their strings).
pub const MAX_GAP_MS: u64 = 500;

impl DtmfCollector {
    pub fn new(rate: u32) -> DtmfCollector {
        DtmfCollector {
            max_gap: u64::from(rate) * MAX_GAP_MS / 1000,
            keys: String::new(),
            offsets: Vec::new(),
            offset: 0,
            last: 0,
        }
    }

    /// Adds a key; the string it completes, and any string it ends by
    /// coming too late, oldest first.
    pub fn push(&mut self, digit: DtmfDigit, out: &mut Vec<DtmfString>) {
        self.flush_before(digit.offset, out);
        if self.keys.is_empty() {
            self.offset = digit.offset;
        }
        self.keys.push(digit.key);
        self.offsets.push(digit.offset);
        self.last = digit.offset;
        if matches!(digit.key, 'C' | '#') {
            out.extend(self.take());
        }
    }

    /// Ends the string under way if `now` (a sample) is past its gap.
    pub fn flush_before(&mut self, now: u64, out: &mut Vec<DtmfString>) {
        if !self.keys.is_empty() && now > self.last + self.max_gap {
            out.extend(self.take());
        }
    }

    /// Ends the string under way (end of input).
    pub fn finish(&mut self) -> Option<DtmfString> {
        self.take()
    }

    fn take(&mut self) -> Option<DtmfString> {
        let offsets = std::mem::take(&mut self.offsets);
        (!self.keys.is_empty()).then(|| DtmfString {
            keys: std::mem::take(&mut self.keys),
            offset: self.offset,
            offsets,
        })
    }
}

/// Reads a caller ID out of keys as they came, if they are one: framed,
/// a plausible number, at an even pace.
pub fn read(s: &DtmfString) -> Option<CallerIdMessage> {
    let m = parse(&s.keys)?;
    if m.number.as_deref().is_some_and(|n| !plausible_number(n)) || !even_pace(&s.offsets) {
        return None;
    }
    Some(m)
}

/// Whether `number` has as many digits as a number can (China's plan, the
/// first market): a mobile (`1[3-9]…`) exactly 11, a long-distance number
/// (`0` and area code) 10 to 12, an international one (`00…`) 8 to 17, a
/// service number (`1[0-2]…`: 110, 10086, 12345) 3 to 8, one of the
/// 95/96 service lines 5 to 8, a local number (`[2-8]…`) 7 or 8 and a
/// 400/800 number 10. A caller ID with digits lost to noise fails here
/// rather than popping someone else: with every other key lost the pace
/// stays even, and `6574` came out of `16754797483` at -3 dB.
pub fn plausible_number(number: &str) -> bool {
    let b = number.as_bytes();
    let n = b.len();
    match b {
        [b'0', b'0', ..] => (8..=17).contains(&n),
        [b'0', ..] => (10..=12).contains(&n),
        [b'1', b'3'..=b'9', ..] => n == 11,
        [b'1', ..] => (3..=8).contains(&n),
        [b'4' | b'8', b'0', b'0', ..] if n == 10 => true,
        [b'9', b'5' | b'6', ..] => (5..=8).contains(&n),
        _ => (7..=8).contains(&n),
    }
}

/// Whether keys came at an even pace: an exchange sends them like a
/// metronome, so a spacing more than 1.8 times the shortest is a key the
/// detector lost, and one under 0.6 times the usual is a key heard twice.
/// The shortest, not the usual, is the measure of a loss: when several
/// keys are lost in noise the usual spacing is itself a doubled one (a
/// mobile number lost five of its digits and passed a median test).
pub fn even_pace(offsets: &[u64]) -> bool {
    if offsets.len() < 4 {
        return true;
    }
    let mut gaps: Vec<u64> = offsets
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .collect();
    gaps.sort_unstable();
    let (shortest, usual, longest) = (gaps[0], gaps[gaps.len() / 2], gaps[gaps.len() - 1]);
    longest * 10 <= shortest * 18 && shortest * 10 >= usual * 6
}

/// Reads a caller ID out of a DTMF string, if it is framed as one.
pub fn parse(keys: &str) -> Option<CallerIdMessage> {
    let body = keys.strip_suffix(['C', '#'])?;
    let end = keys.chars().last()?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    let message = |number: Option<&str>, absent: Option<Absence>| CallerIdMessage {
        format: MessageFormat::Dtmf,
        datetime: None,
        number: number.map(str::to_string),
        number_absent: absent,
        name: None,
        name_absent: None,
        other: Vec::new(),
    };
    match body.split_at_checked(1) {
        Some(("B", code)) if end == 'C' => match code {
            "00" => Some(message(None, Some(Absence::Unavailable))),
            "10" => Some(message(None, Some(Absence::Private))),
            _ => None,
        },
        Some(("D", "1")) if end == '#' => Some(message(None, Some(Absence::Private))),
        Some(("D", "2" | "3")) if end == '#' => Some(message(None, Some(Absence::Unavailable))),
        Some(("A" | "D", number)) if digits(number) => Some(message(Some(number), None)),
        _ => None,
    }
}

/// The keys that send `m` in the `A…C` variant (or `B…C` without a number).
pub fn encode(m: &CallerIdMessage) -> String {
    match (&m.number, m.number_absent) {
        (Some(n), _) => format!("A{n}C"),
        (None, Some(Absence::Private)) => "B10C".into(),
        (None, _) => "B00C".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_reads() {
        for keys in ["A13800138000C", "D13800138000C", "A13800138000#"] {
            let m = parse(keys).unwrap_or_else(|| panic!("{keys}"));
            assert_eq!(m.number.as_deref(), Some("13800138000"), "{keys}");
            assert_eq!(m.format, MessageFormat::Dtmf);
        }
        let absent = |k| parse(k).and_then(|m| m.number_absent);
        assert_eq!(absent("B00C"), Some(Absence::Unavailable));
        assert_eq!(absent("B10C"), Some(Absence::Private));
        assert_eq!(absent("D1#"), Some(Absence::Private));
        assert_eq!(absent("D3#"), Some(Absence::Unavailable));
    }

    #[test]
    fn unframed_or_odd_strings_are_not_caller_ids() {
        for keys in [
            "A1380013",
            "1234",
            "A12*34C",
            "AC",
            "B99C",
            "#",
            "C",
            "A1B2C",
            "12A34#",
            // No start code: as likely a person keying.
            "13800138000#",
        ] {
            assert_eq!(parse(keys), None, "{keys}");
        }
    }

    #[test]
    fn collector_splits_on_end_codes_and_gaps() {
        let rate = 8000;
        let mut c = DtmfCollector::new(rate);
        let mut out = Vec::new();
        let key = |key, ms: u64| DtmfDigit {
            key,
            offset: ms * 8,
        };
        for (i, k) in "A123C".chars().enumerate() {
            c.push(key(k, 1000 + i as u64 * 140), &mut out);
        }
        // A person's keys a second apart are strings of their own.
        c.push(key('5', 5000), &mut out);
        c.push(key('6', 6000), &mut out);
        out.extend(c.finish());
        let keys: Vec<_> = out
            .iter()
            .map(|s| (s.keys.as_str(), s.offset / 8))
            .collect();
        assert_eq!(keys, [("A123C", 1000), ("5", 5000), ("6", 6000)]);
    }

    #[test]
    fn numbers_with_digits_lost_or_keys_out_of_pace_are_not_caller_ids() {
        let timed = |keys: &str, gaps: &[u64]| {
            let mut offsets = vec![8000u64];
            for i in 1..keys.len() {
                offsets.push(offsets[i - 1] + gaps.get(i - 1).copied().unwrap_or(800));
            }
            read(&DtmfString {
                keys: keys.into(),
                offset: 8000,
                offsets,
            })
        };
        assert!(timed("A13800138000C", &[]).is_some());
        assert!(
            timed("A1380013800C", &[]).is_none(),
            "a mobile of 10 digits"
        );
        assert!(timed("A87654321C", &[]).is_some(), "a local number");
        assert!(
            timed("A80800C", &[]).is_none(),
            "no local number has 5 digits"
        );
        assert!(
            timed("A0100C", &[]).is_none(),
            "a trunk prefix and 3 digits"
        );
        assert!(timed("A02161234567C", &[]).is_some());
        assert!(timed("A12C", &[]).is_none());
        // The same keys with one spacing doubled: a key was lost there.
        assert!(timed("A95588C", &[800, 800, 1600, 800, 800]).is_none());
        assert!(timed("A95588C", &[800, 900, 1000, 800, 700]).is_some());
        // Five keys of 17728346835 lost (the spacings in keys: 1, 3, 1, 1,
        // 2, 2, 2): the usual spacing is a doubled one, the shortest not.
        assert!(timed("A128363C", &[800, 2400, 800, 800, 1600, 1600, 1600]).is_none());
        // A key heard twice: a spacing far under the usual.
        assert!(timed("A808800C", &[800, 800, 300, 500, 800, 800]).is_none());
        for (n, ok) in [
            ("110", true),
            ("10086", true),
            ("95588", true),
            ("13912345678", true),
            ("1391234567", false),
            ("0085298765432", true),
            ("057187654321", true),
            ("05718765", false),
            ("87654321", true),
            ("4008123123", true),
            ("12306", true),
            // Numbers no one has: keys lost from longer ones.
            ("80800", false),
            ("6574", false),
            ("7565", false),
            ("400812312", false),
        ] {
            assert_eq!(plausible_number(n), ok, "{n}");
        }
    }

    #[test]
    fn encode_round_trips() {
        let m = CallerIdMessage::number_only("02012345678");
        assert_eq!(
            parse(&encode(&m)).unwrap().number.as_deref(),
            Some("02012345678")
        );
    }
}
