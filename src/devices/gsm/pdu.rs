//! SMS PDUs (3GPP TS 23.040 §9, TS 27.005 PDU mode): SMS-SUBMIT to send,
//! SMS-DELIVER and SMS-STATUS-REPORT to receive, with the user-data header
//! of concatenated messages. Pure: hex strings in, typed messages out.

use super::gsm7;
use std::fmt;

/// How a message's text is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The GSM 7-bit default alphabet: 160 characters a message.
    Gsm7,
    /// 8-bit data (WAP pushes, ringtones): kept as bytes.
    Eight,
    /// UCS2 (UTF-16 big-endian in practice): 70 units a message; Chinese.
    Ucs2,
}

/// Why a PDU could not be read or made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PduError(pub String);

impl fmt::Display for PduError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad PDU: {}", self.0)
    }
}

impl std::error::Error for PduError {}

fn err<T>(msg: impl Into<String>) -> Result<T, PduError> {
    Err(PduError(msg.into()))
}

/// One part of a concatenated message (the UDH's IEI 0x00 or 0x08).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    pub reference: u16,
    pub total: u8,
    pub seq: u8,
}

/// A service-centre time stamp, with the sender's offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Offset from UTC in quarters of an hour.
    pub tz_quarters: i8,
}

impl Timestamp {
    /// Milliseconds since the epoch, for comparing with our own clock (a
    /// delivery report's send time with the part's); `None` when the
    /// fields are no real date (a modem's zeroed or garbled stamp).
    pub fn epoch_ms(&self) -> Option<i64> {
        let offset = chrono::FixedOffset::east_opt(i32::from(self.tz_quarters) * 15 * 60)?;
        let date = chrono::NaiveDate::from_ymd_opt(
            i32::from(self.year),
            u32::from(self.month),
            u32::from(self.day),
        )?;
        let time = date.and_hms_opt(
            u32::from(self.hour),
            u32::from(self.minute),
            u32::from(self.second),
        )?;
        let local = time.and_local_timezone(offset).single()?;
        Some(local.timestamp_millis())
    }

    /// The time stamp of `ms` since the epoch, at `tz_quarters` from UTC:
    /// what a simulated network stamps and what tests build.
    pub fn from_epoch_ms(ms: i64, tz_quarters: i8) -> Option<Timestamp> {
        use chrono::{Datelike, Timelike};
        let offset = chrono::FixedOffset::east_opt(i32::from(tz_quarters) * 15 * 60)?;
        let t = chrono::DateTime::from_timestamp_millis(ms)?.with_timezone(&offset);
        Some(Timestamp {
            year: u16::try_from(t.year()).ok()?,
            month: t.month() as u8,
            day: t.day() as u8,
            hour: t.hour() as u8,
            minute: t.minute() as u8,
            second: t.second() as u8,
            tz_quarters,
        })
    }

    /// ISO 8601 with the sender's offset (`2026-11-23T10:00:00+08:00`), as stored.
    pub fn to_rfc3339(&self) -> String {
        let offset = i32::from(self.tz_quarters) * 15;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            if offset < 0 { '-' } else { '+' },
            offset.abs() / 60,
            offset.abs() % 60
        )
    }
}

/// A received message (SMS-DELIVER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    pub smsc: Option<String>,
    pub sender: String,
    pub timestamp: Timestamp,
    pub encoding: Encoding,
    pub text: String,
    /// The raw user data for 8-bit messages.
    pub data: Vec<u8>,
    pub concat: Option<Concat>,
    pub status_report_indication: bool,
}

/// A delivery report (SMS-STATUS-REPORT) for the message whose TP-MR it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub smsc: Option<String>,
    pub reference: u8,
    pub recipient: String,
    pub sent: Timestamp,
    pub discharged: Timestamp,
    /// TP-ST: see [`StatusReport::outcome`].
    pub status: u8,
}

/// What a delivery report says about the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// The centre is still trying.
    Pending,
    /// Given up: the message will not arrive.
    Failed,
}

impl StatusReport {
    /// TP-ST classes of TS 23.040 §9.2.3.15.
    pub fn outcome(&self) -> DeliveryOutcome {
        match self.status {
            0x00..=0x1f => DeliveryOutcome::Delivered,
            0x20..=0x3f => DeliveryOutcome::Pending,
            _ => DeliveryOutcome::Failed,
        }
    }
}

/// A message to send, before it is split into parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submit<'a> {
    pub to: &'a str,
    pub text: &'a str,
    /// Ask for a delivery report.
    pub status_report: bool,
    /// Validity in minutes (relative format; rounded as the format allows).
    pub validity_minutes: Option<u32>,
    /// The service centre, or `None` for the one stored in the SIM.
    pub smsc: Option<&'a str>,
}

/// One encoded part, as `AT+CMGS=<tpdu_len>` then `<hex>` sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitPdu {
    pub hex: String,
    /// Octets after the SMSC field: the length `AT+CMGS` wants.
    pub tpdu_len: usize,
    pub encoding: Encoding,
    pub concat: Option<Concat>,
}

/// Any PDU a modem hands over (`+CMT`, `+CMGR`, `+CDS`, `+CMGL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Deliver(Deliver),
    StatusReport(StatusReport),
    /// A stored outgoing message (read back from the SIM's outbox).
    Submit {
        to: String,
        text: String,
        encoding: Encoding,
        concat: Option<Concat>,
        /// TP-SRR: a delivery report is asked for.
        status_report: bool,
    },
}

/// Characters of a single message and of each part of a long one.
pub fn limits(encoding: Encoding) -> (usize, usize) {
    match encoding {
        Encoding::Gsm7 => (160, 153),
        Encoding::Eight => (140, 134),
        Encoding::Ucs2 => (70, 67),
    }
}

/// GSM 7-bit if every character is in the alphabet, else UCS2.
pub fn choose_encoding(text: &str) -> Encoding {
    if gsm7::encode(text).is_some() {
        Encoding::Gsm7
    } else {
        Encoding::Ucs2
    }
}

/// How many parts `text` needs: what costs money, and what a preview shows.
pub fn part_count(text: &str) -> usize {
    split(text).1.len()
}

/// Splits text into parts of whole characters: an extension character's two
/// septets, or a surrogate pair's two UTF-16 units, are never cut apart.
fn split(text: &str) -> (Encoding, Vec<String>) {
    let encoding = choose_encoding(text);
    let (single, multi) = limits(encoding);
    let units = |c: char| match encoding {
        Encoding::Gsm7 => gsm7::char_septets(c).map(|(_, n)| n).unwrap_or(1),
        _ => c.len_utf16(),
    };
    let total: usize = text.chars().map(units).sum();
    if total <= single {
        return (encoding, vec![text.to_string()]);
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    for c in text.chars() {
        let n = units(c);
        if used + n > multi {
            parts.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(c);
        used += n;
    }
    if !current.is_empty() {
        parts.push(current);
    }
    (encoding, parts)
}

/// Encodes a message as one or more SMS-SUBMIT PDUs; parts of a long one
/// share `reference` (8-bit concatenation header).
pub fn encode_submit(msg: &Submit<'_>, reference: u8) -> Result<Vec<SubmitPdu>, PduError> {
    let smsc = match msg.smsc {
        None => vec![0x00],
        Some(n) => {
            let (digits, toa) = address_digits(n)?;
            let mut v = vec![(1 + digits.len()) as u8, toa];
            v.extend(digits);
            v
        }
    };
    let to = destination_field(msg.to)?;
    let mut out = Vec::new();
    for (encoding, part, concat) in parts_of(msg.text, reference)? {
        let mut tpdu = Vec::with_capacity(160);
        let mut first = 0x01; // SMS-SUBMIT
        if msg.validity_minutes.is_some() {
            first |= 0x10; // VPF: relative
        }
        if msg.status_report {
            first |= 0x20;
        }
        if concat.is_some() {
            first |= 0x40;
        }
        tpdu.push(first);
        tpdu.push(0x00); // TP-MR: the modem assigns it
        tpdu.extend(&to);
        tpdu.push(0x00); // TP-PID
        tpdu.push(dcs(encoding));
        if let Some(minutes) = msg.validity_minutes {
            tpdu.push(relative_validity(minutes));
        }
        push_user_data(&mut tpdu, encoding, &part, concat);
        let mut all = smsc.clone();
        all.extend(&tpdu);
        out.push(SubmitPdu {
            hex: to_hex(&all),
            tpdu_len: tpdu.len(),
            encoding,
            concat,
        });
    }
    Ok(out)
}

/// A message as the network delivers it (SMS-DELIVER, no SMSC field), one
/// PDU a part: what a simulated modem hands over, and what tests feed in.
pub fn encode_deliver(
    from: &str,
    text: &str,
    at: Timestamp,
    reference: u8,
) -> Result<Vec<String>, PduError> {
    let oa = address_field(from)?;
    let mut out = Vec::new();
    for (encoding, part, concat) in parts_of(text, reference)? {
        let mut tpdu = vec![0x00];
        tpdu.push(if concat.is_some() { 0x44 } else { 0x04 }); // DELIVER, no more messages
        tpdu.extend(&oa);
        tpdu.push(0x00);
        tpdu.push(dcs(encoding));
        tpdu.extend(timestamp_octets(at));
        push_user_data(&mut tpdu, encoding, &part, concat);
        out.push(to_hex(&tpdu));
    }
    Ok(out)
}

/// A delivery report for the message `reference` (SMS-STATUS-REPORT, no
/// SMSC field), as a simulated network sends it.
pub fn encode_status_report(
    reference: u8,
    recipient: &str,
    sent: Timestamp,
    discharged: Timestamp,
    status: u8,
) -> Result<String, PduError> {
    let mut tpdu = vec![0x00, 0x06, reference];
    tpdu.extend(address_field(recipient)?);
    tpdu.extend(timestamp_octets(sent));
    tpdu.extend(timestamp_octets(discharged));
    tpdu.push(status);
    Ok(to_hex(&tpdu))
}

/// A text cut into parts, each with its encoding and concatenation header.
fn parts_of(
    text: &str,
    reference: u8,
) -> Result<Vec<(Encoding, String, Option<Concat>)>, PduError> {
    let (encoding, parts) = split(text);
    let total = parts.len();
    if total > 255 {
        return err(format!("{total} parts: a message may have at most 255"));
    }
    Ok(parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let concat = (total > 1).then_some(Concat {
                reference: u16::from(reference),
                total: total as u8,
                seq: (i + 1) as u8,
            });
            (encoding, part, concat)
        })
        .collect())
}

fn dcs(encoding: Encoding) -> u8 {
    match encoding {
        Encoding::Gsm7 => 0x00,
        Encoding::Eight => 0x04,
        Encoding::Ucs2 => 0x08,
    }
}

/// TP-UDL and TP-UD, with the concatenation header and, for 7-bit text,
/// the fill bits that put the text on a septet boundary.
fn push_user_data(tpdu: &mut Vec<u8>, encoding: Encoding, part: &str, concat: Option<Concat>) {
    let udh: Vec<u8> = match concat {
        Some(c) => vec![0x05, 0x00, 0x03, c.reference as u8, c.total, c.seq],
        None => Vec::new(),
    };
    match encoding {
        Encoding::Gsm7 => {
            let septets = gsm7::encode(part).unwrap_or_default();
            let udh_bits = udh.len() * 8;
            let fill = (7 - udh_bits % 7) % 7;
            let udh_septets = (udh_bits + fill) / 7;
            tpdu.push((udh_septets + septets.len()) as u8);
            tpdu.extend(&udh);
            tpdu.extend(gsm7::pack(&septets, fill));
        }
        Encoding::Eight | Encoding::Ucs2 => {
            let body: Vec<u8> = part.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
            tpdu.push((udh.len() + body.len()) as u8);
            tpdu.extend(&udh);
            tpdu.extend(body);
        }
    }
}

/// An address field: digit count, type, semi-octets; or, for a sender
/// name such as "95588银行" that is not a number, 7-bit text (type 0xD0).
fn address_field(number: &str) -> Result<Vec<u8>, PduError> {
    let is_number = number
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '*' | '#'));
    if !is_number {
        let septets = gsm7::encode(number)
            .filter(|s| s.len() <= 11)
            .ok_or_else(|| {
                PduError(format!("sender name {number:?} is not 1-11 GSM characters"))
            })?;
        let packed = gsm7::pack(&septets, 0);
        let mut v = vec![(septets.len() * 7).div_ceil(4) as u8, 0xd0];
        v.extend(packed);
        return Ok(v);
    }
    let (digits, toa) = address_digits(number)?;
    let count = number
        .chars()
        .filter(|c| c.is_ascii_digit() || matches!(c, '*' | '#'))
        .count();
    let mut v = vec![count as u8, toa];
    v.extend(digits);
    Ok(v)
}

/// A destination's address field. Unlike a sender, a destination is never
/// alphanumeric: only digits with an optional leading `+` (separators
/// allowed) go out, so a typo cannot become a "sender name" on the air.
fn destination_field(number: &str) -> Result<Vec<u8>, PduError> {
    let number = number.trim();
    let digits = number.strip_prefix('+').unwrap_or(number);
    if let Some(c) = digits
        .chars()
        .find(|c| !(c.is_ascii_digit() || matches!(c, ' ' | '-')))
    {
        return err(format!(
            "destination {number:?} contains {c:?}: a destination is digits with an optional leading +"
        ));
    }
    address_field(number)
}

/// A time stamp as 7 swapped BCD octets, the zone in quarters with its sign.
fn timestamp_octets(t: Timestamp) -> [u8; 7] {
    let bcd = |v: u8| ((v % 10) << 4) | (v / 10 % 10);
    let q = t.tz_quarters.unsigned_abs();
    let tz = ((q % 10) << 4) | (q / 10 % 10) | if t.tz_quarters < 0 { 0x08 } else { 0 };
    [
        bcd((t.year % 100) as u8),
        bcd(t.month),
        bcd(t.day),
        bcd(t.hour),
        bcd(t.minute),
        bcd(t.second),
        tz,
    ]
}

/// TP-VP relative format (§9.2.3.12.1), rounded up to what it can say.
fn relative_validity(minutes: u32) -> u8 {
    match minutes {
        0..=720 => (minutes.div_ceil(5).max(1) - 1) as u8,
        721..=1440 => (143 + (minutes - 720).div_ceil(30)) as u8,
        1441..=43200 => (166 + minutes.div_ceil(1440)).min(196) as u8,
        _ => (192 + minutes.div_ceil(10080)).min(255) as u8,
    }
}

/// A phone number as semi-octets and its type of address (0x91
/// international with `+`, 0x81 otherwise).
fn address_digits(number: &str) -> Result<(Vec<u8>, u8), PduError> {
    let toa = if number.trim_start().starts_with('+') {
        0x91
    } else {
        0x81
    };
    let digits: Vec<u8> = number
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-'))
        .map(|c| match c {
            '0'..='9' => Ok(c as u8 - b'0'),
            '*' => Ok(0x0a),
            '#' => Ok(0x0b),
            other => err(format!("{other:?} in number {number:?}")),
        })
        .collect::<Result<_, _>>()?;
    if digits.is_empty() || digits.len() > 20 {
        return err(format!("number {number:?} must have 1 to 20 digits"));
    }
    let packed = digits
        .chunks(2)
        .map(|pair| pair[0] | (pair.get(1).copied().unwrap_or(0x0f) << 4))
        .collect();
    Ok((packed, toa))
}

/// Octets as upper-case hex, as modems print them.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn from_hex(hex: &str) -> Result<Vec<u8>, PduError> {
    let hex = hex.trim();
    if hex.len() % 2 != 0 {
        return err("an odd number of hex digits");
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16)
                .or_else(|_| err(format!("not hex at position {i}")))
        })
        .collect()
}

/// Reads octets in order, with errors that say what was missing.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self, what: &str) -> Result<u8, PduError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| PduError(format!("ends before the {what}")))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], PduError> {
        let end = self.pos + n;
        let s = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| PduError(format!("ends inside the {what}")))?;
        self.pos = end;
        Ok(s)
    }

    fn rest(&mut self) -> &'a [u8] {
        let s = &self.bytes[self.pos.min(self.bytes.len())..];
        self.pos = self.bytes.len();
        s
    }

    /// An address field: digit count, type of address, semi-octets (or
    /// GSM 7-bit text for alphanumeric senders, type 0x50).
    fn address(&mut self, what: &str) -> Result<String, PduError> {
        let len = self.u8(what)? as usize;
        let toa = self.u8(what)?;
        let octets = self.take(len.div_ceil(2), what)?;
        if toa & 0x70 == 0x50 {
            let septets = gsm7::unpack(octets, len * 4 / 7, 0);
            return Ok(gsm7::decode(&septets));
        }
        Ok(semi_octets(toa, octets))
    }

    fn smsc(&mut self) -> Result<Option<String>, PduError> {
        let len = self.u8("SMSC length")? as usize;
        if len == 0 {
            return Ok(None);
        }
        let toa = self.u8("SMSC")?;
        let octets = self.take(len - 1, "SMSC")?;
        Ok(Some(semi_octets(toa, octets)))
    }

    fn timestamp(&mut self, what: &str) -> Result<Timestamp, PduError> {
        let o = self.take(7, what)?;
        let bcd = |b: u8| (b & 0x0f) * 10 + (b >> 4);
        let tz = o[6];
        let quarters = ((tz & 0x07) * 10 + (tz >> 4)) as i8;
        Ok(Timestamp {
            year: 2000 + u16::from(bcd(o[0])),
            month: bcd(o[1]),
            day: bcd(o[2]),
            hour: bcd(o[3]),
            minute: bcd(o[4]),
            second: bcd(o[5]),
            tz_quarters: if tz & 0x08 != 0 { -quarters } else { quarters },
        })
    }
}

/// A number from swapped semi-octets (F pads an odd count), with `+` when
/// the type of address says international.
fn semi_octets(toa: u8, octets: &[u8]) -> String {
    let mut s = String::with_capacity(octets.len() * 2 + 1);
    if toa & 0x70 == 0x10 {
        s.push('+');
    }
    for o in octets {
        for nibble in [o & 0x0f, o >> 4] {
            match nibble {
                0..=9 => s.push((b'0' + nibble) as char),
                0x0a => s.push('*'),
                0x0b => s.push('#'),
                0x0c..=0x0e => s.push((b'a' + nibble - 0x0a) as char),
                _ => {}
            }
        }
    }
    s
}

/// What the data coding scheme (§4 of TS 23.038) says of the alphabet.
fn alphabet(dcs: u8) -> Encoding {
    match dcs >> 4 {
        0x0..=0x3 => match (dcs >> 2) & 0x03 {
            0x01 => Encoding::Eight,
            0x02 => Encoding::Ucs2,
            _ => Encoding::Gsm7,
        },
        0xc | 0xd => Encoding::Gsm7,
        0xe => Encoding::Ucs2,
        0xf if dcs & 0x04 != 0 => Encoding::Eight,
        _ => Encoding::Gsm7,
    }
}

/// The user data: (text, raw data, concatenation) from UDL and UD.
fn user_data(
    r: &mut Reader<'_>,
    dcs: u8,
    has_udh: bool,
) -> Result<(Encoding, String, Vec<u8>, Option<Concat>), PduError> {
    let encoding = alphabet(dcs);
    let udl = r.u8("user data length")? as usize;
    let ud = r.rest();
    let octets_needed = match encoding {
        Encoding::Gsm7 => (udl * 7).div_ceil(8),
        _ => udl,
    };
    if ud.len() < octets_needed {
        return err(format!(
            "user data length says {octets_needed} octets, {} present",
            ud.len()
        ));
    }
    let (mut concat, mut udh_len) = (None, 0);
    if has_udh {
        let l = *ud
            .first()
            .ok_or_else(|| PduError("no user-data header".into()))? as usize;
        let header = ud
            .get(1..1 + l)
            .ok_or_else(|| PduError("user-data header longer than the data".into()))?;
        concat = parse_udh(header);
        udh_len = 1 + l;
    }
    match encoding {
        Encoding::Gsm7 => {
            let header_bits = udh_len * 8;
            let fill = (7 - header_bits % 7) % 7;
            let skip = (header_bits + fill) / 7;
            let count = udl.saturating_sub(skip);
            let septets = gsm7::unpack(&ud[udh_len..], count, fill);
            Ok((encoding, gsm7::decode(&septets), Vec::new(), concat))
        }
        Encoding::Ucs2 => {
            let body = &ud[udh_len.min(udl)..udl];
            let units: Vec<u16> = body
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            Ok((
                encoding,
                String::from_utf16_lossy(&units),
                Vec::new(),
                concat,
            ))
        }
        Encoding::Eight => {
            let body = ud[udh_len.min(udl)..udl].to_vec();
            Ok((encoding, String::new(), body, concat))
        }
    }
}

/// The concatenation element of a user-data header, if it has one.
fn parse_udh(mut h: &[u8]) -> Option<Concat> {
    while h.len() >= 2 {
        let (iei, len) = (h[0], h[1] as usize);
        let data = h.get(2..2 + len)?;
        match (iei, len) {
            (0x00, 3) => {
                return Some(Concat {
                    reference: u16::from(data[0]),
                    total: data[1],
                    seq: data[2],
                })
            }
            (0x08, 4) => {
                return Some(Concat {
                    reference: u16::from_be_bytes([data[0], data[1]]),
                    total: data[2],
                    seq: data[3],
                })
            }
            _ => h = &h[2 + len..],
        }
    }
    None
}

/// Decodes a PDU as a modem prints it (with the SMSC field first).
pub fn decode(hex: &str) -> Result<Incoming, PduError> {
    let bytes = from_hex(hex)?;
    let mut r = Reader {
        bytes: &bytes,
        pos: 0,
    };
    let smsc = r.smsc()?;
    let first = r.u8("first octet")?;
    let has_udh = first & 0x40 != 0;
    match first & 0x03 {
        0x00 => {
            let sender = r.address("sender")?;
            let _pid = r.u8("protocol identifier")?;
            let dcs = r.u8("data coding scheme")?;
            let timestamp = r.timestamp("time stamp")?;
            let (encoding, text, data, concat) = user_data(&mut r, dcs, has_udh)?;
            Ok(Incoming::Deliver(Deliver {
                smsc,
                sender,
                timestamp,
                encoding,
                text,
                data,
                concat,
                status_report_indication: first & 0x20 != 0,
            }))
        }
        0x02 => {
            let reference = r.u8("message reference")?;
            let recipient = r.address("recipient")?;
            let sent = r.timestamp("centre time stamp")?;
            let discharged = r.timestamp("discharge time")?;
            let status = r.u8("status")?;
            Ok(Incoming::StatusReport(StatusReport {
                smsc,
                reference,
                recipient,
                sent,
                discharged,
                status,
            }))
        }
        0x01 => {
            let _mr = r.u8("message reference")?;
            let to = r.address("recipient")?;
            let _pid = r.u8("protocol identifier")?;
            let dcs = r.u8("data coding scheme")?;
            match (first >> 3) & 0x03 {
                0x00 => {}
                0x02 => {
                    r.u8("validity period")?;
                }
                _ => {
                    r.take(7, "validity period")?;
                }
            }
            let (encoding, text, _, concat) = user_data(&mut r, dcs, has_udh)?;
            Ok(Incoming::Submit {
                to,
                text,
                encoding,
                concat,
                status_report: first & 0x20 != 0,
            })
        }
        _ => err(format!("message type {:#04x} is reserved", first & 0x03)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_stamps_print_with_their_offset() {
        let t = |tz_quarters| Timestamp {
            year: 2026,
            month: 11,
            day: 3,
            hour: 9,
            minute: 5,
            second: 7,
            tz_quarters,
        };
        assert_eq!(t(32).to_rfc3339(), "2026-11-03T09:05:07+08:00");
        assert_eq!(t(-14).to_rfc3339(), "2026-11-03T09:05:07-03:30");
    }

    fn deliver(hex: &str) -> Deliver {
        match decode(hex).unwrap() {
            Incoming::Deliver(d) => d,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_delivered_gsm7_message() {
        // Sender 27838890001 (type 0xC8: not international, so no "+"), SMSC
        // +27381000015, 2099-03-29 15:16:59 +02:00 (8 quarters),
        // "hellohello": fields checked by hand against §9.2.2.1.
        let d = deliver("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37");
        assert_eq!(d.smsc.as_deref(), Some("+27381000015"));
        assert_eq!(d.sender, "27838890001");
        assert_eq!(d.text, "hellohello");
        assert_eq!(d.encoding, Encoding::Gsm7);
        assert_eq!(
            d.timestamp,
            Timestamp {
                year: 2099,
                month: 3,
                day: 29,
                hour: 15,
                minute: 16,
                second: 59,
                tz_quarters: 8
            }
        );
        assert_eq!(d.concat, None);
    }

    #[test]
    fn a_chinese_submit_by_hand() {
        // 你好 to +8613800138000, relative validity 4 days (0xAA), no SMSC:
        // 00 | 11 00 0D 91 683108108300F0 00 08 AA 04 4F60 597D
        let pdus = encode_submit(
            &Submit {
                to: "+8613800138000",
                text: "你好",
                status_report: false,
                validity_minutes: Some(4 * 1440),
                smsc: None,
            },
            0,
        )
        .unwrap();
        assert_eq!(pdus.len(), 1);
        assert_eq!(pdus[0].hex, "0011000D91683108108300F00008AA044F60597D");
        assert_eq!(pdus[0].tpdu_len, 19);
        assert_eq!(pdus[0].encoding, Encoding::Ucs2);
    }

    #[test]
    fn a_gsm7_submit_with_report_request() {
        // "hellohello" to 46708251358 (national), status report requested:
        // first octet 0x21, DA 0B 81 6407281553F8, DCS 00, UDL 0A.
        let pdus = encode_submit(
            &Submit {
                to: "46708251358",
                text: "hellohello",
                status_report: true,
                validity_minutes: None,
                smsc: None,
            },
            0,
        )
        .unwrap();
        assert_eq!(
            pdus[0].hex,
            "0021000B816407281553F800000AE8329BFD4697D9EC37"
        );
        match decode(&pdus[0].hex).unwrap() {
            Incoming::Submit { to, text, .. } => {
                assert_eq!((to.as_str(), text.as_str()), ("46708251358", "hellohello"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn long_messages_split_into_concatenated_parts() {
        let text = "a".repeat(200);
        let pdus = encode_submit(
            &Submit {
                to: "+8613800138000",
                text: &text,
                status_report: false,
                validity_minutes: None,
                smsc: None,
            },
            0x42,
        )
        .unwrap();
        assert_eq!(pdus.len(), 2);
        // UDH 05 00 03 42 02 01 right after UDL 0xA0 (7 header septets + 153).
        assert!(pdus[0].hex.contains("A0050003420201"), "{}", pdus[0].hex);
        assert!(pdus[1].hex.contains("36050003420202"), "{}", pdus[1].hex);
        let chinese = "你".repeat(100);
        let parts = encode_submit(
            &Submit {
                to: "+8613800138000",
                text: &chinese,
                status_report: false,
                validity_minutes: None,
                smsc: None,
            },
            7,
        )
        .unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(part_count(&chinese), 2);
        assert_eq!(part_count(&"你".repeat(70)), 1);
        assert_eq!(part_count(&"a".repeat(160)), 1);
        assert_eq!(part_count(&"a".repeat(161)), 2);
        // Extension characters count twice.
        assert_eq!(part_count(&"€".repeat(80)), 1);
        assert_eq!(part_count(&"€".repeat(81)), 2);
    }

    #[test]
    fn a_surrogate_pair_is_never_split() {
        // 66 Chinese characters then an emoji (two UTF-16 units) at the
        // 67-unit boundary: the emoji moves whole into the second part.
        let text = format!("{}😀{}", "中".repeat(66), "文".repeat(10));
        let pdus = encode_submit(
            &Submit {
                to: "10086",
                text: &text,
                status_report: false,
                validity_minutes: None,
                smsc: None,
            },
            1,
        )
        .unwrap();
        let texts: Vec<String> = pdus
            .iter()
            .map(|p| match decode(&p.hex).unwrap() {
                Incoming::Submit { text, .. } => text,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(texts[0], "中".repeat(66));
        assert!(texts[1].starts_with('😀'));
        assert_eq!(texts.concat(), text);
    }

    #[test]
    fn a_status_report_by_hand() {
        // SMSC none; first octet 06 (STATUS-REPORT, SRQ); MR 0x2A; RA
        // +8613800138000; SCTS and DT 2026-11-22 10:30:00 +08:00 (32
        // quarters = 0x23 swapped); ST 00 delivered.
        let hex = "00062A0D91683108108300F0621122010300236211220103102300";
        match decode(hex).unwrap() {
            Incoming::StatusReport(s) => {
                assert_eq!(s.reference, 0x2a);
                assert_eq!(s.recipient, "+8613800138000");
                assert_eq!(s.sent.tz_quarters, 32);
                assert_eq!((s.discharged.minute, s.discharged.second), (30, 1));
                assert_eq!(s.outcome(), DeliveryOutcome::Delivered);
            }
            other => panic!("{other:?}"),
        }
        let failed = hex[..hex.len() - 2].to_string() + "41";
        match decode(&failed).unwrap() {
            Incoming::StatusReport(s) => assert_eq!(s.outcome(), DeliveryOutcome::Failed),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_alphanumeric_sender() {
        // OA of 11 semi-octets, type 0xD0: "Google" packed in 7 bits
        // (C7 F7 FB CC 2E 03, by hand), then "Hi" (C8 34).
        let d = deliver(&"0004 0BD0C7F7FBCC2E03 0000 62112201030023 02 C834".replace(' ', ""));
        assert_eq!(d.sender, "Google");
        assert_eq!(d.text, "Hi");
    }

    #[test]
    fn time_stamps_convert_to_and_from_our_clock() {
        // 2026-11-23 10:00:00 +08:00 is 02:00:00 UTC.
        let t = Timestamp {
            year: 2026,
            month: 11,
            day: 23,
            hour: 10,
            minute: 0,
            second: 0,
            tz_quarters: 32,
        };
        let ms = t.epoch_ms().unwrap();
        assert_eq!(ms, 1_795_399_200_000);
        assert_eq!(Timestamp::from_epoch_ms(ms, 32), Some(t));
        assert_eq!(Timestamp::from_epoch_ms(ms, 0).unwrap().hour, 2);
        let zeroed = Timestamp { month: 0, ..t };
        assert_eq!(zeroed.epoch_ms(), None);
    }

    #[test]
    fn a_destination_is_never_alphanumeric() {
        let submit = |to| Submit {
            to,
            text: "hi",
            status_report: false,
            validity_minutes: None,
            smsc: None,
        };
        for to in ["abc", "*#06#", "138x0013"] {
            let e = encode_submit(&submit(to), 0).unwrap_err().to_string();
            assert!(
                e.contains("destination") && !e.contains("sender name"),
                "{to}: {e}"
            );
        }
        // Digits, with or without +, still go out as numbers (TOA 91 / 81).
        let hex = &encode_submit(&submit("+8613800138000"), 0).unwrap()[0].hex;
        assert!(hex.starts_with("0001000D91"), "{hex}");
        let hex = &encode_submit(&submit("10086"), 0).unwrap()[0].hex;
        assert!(hex.starts_with("0001000581"), "{hex}");
    }

    #[test]
    fn malformed_pdus_are_refused_with_a_reason() {
        for (hex, why) in [
            ("0", "odd"),
            ("ZZ", "not hex"),
            ("", "SMSC"),
            ("0004", "sender"),
            ("00040B91", "sender"),
            (
                "07917283010010F5040BC87238880900F10000993092516195800AE8329B",
                "user data length",
            ),
            ("0003", "reserved"),
        ] {
            let e = decode(hex).unwrap_err();
            assert!(e.to_string().contains(why), "{hex}: {e}");
        }
    }

    /// Random texts of every length, in both alphabets: the parts decode
    /// back to the text, numbered 1..n under one reference.
    #[test]
    fn encode_then_decode_is_the_identity() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(23040);
        let gsm: Vec<char> = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCXYZÄÖÑÜ§¿abcxyzäöñüà€[]{}|~^\\\n"
            .chars()
            .collect();
        let wide: Vec<char> = "中文短信退订回T你好世界😀🎉ab1 ".chars().collect();
        for case in 0..600 {
            let alphabet = if case % 2 == 0 { &gsm } else { &wide };
            let len = rng.random_range(0..if case % 3 == 0 { 700 } else { 200 });
            let text: String = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            let reference: u8 = rng.random();
            let pdus = encode_submit(
                &Submit {
                    to: "+8613800138000",
                    text: &text,
                    status_report: case % 5 == 0,
                    validity_minutes: None,
                    smsc: None,
                },
                reference,
            )
            .unwrap();
            let mut back = String::new();
            for (i, p) in pdus.iter().enumerate() {
                assert!(p.tpdu_len <= 164, "a part is too long: {}", p.tpdu_len);
                if pdus.len() > 1 {
                    let c = p.concat.unwrap();
                    assert_eq!(
                        (c.reference, c.total as usize, c.seq as usize),
                        (u16::from(reference), pdus.len(), i + 1)
                    );
                }
                match decode(&p.hex).unwrap() {
                    Incoming::Submit { text, .. } => back.push_str(&text),
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(back, text, "case {case}");
            assert_eq!(pdus.len(), part_count(&text).max(1));
        }
    }

    #[test]
    fn delivers_and_reports_encode_as_they_decode() {
        let at = Timestamp {
            year: 2026,
            month: 11,
            day: 22,
            hour: 10,
            minute: 30,
            second: 1,
            tz_quarters: -20,
        };
        // 31 characters five times: 155 UTF-16 units, three parts of <= 67.
        let text = "您好，您的快递已到达驿站，请凭取件码 3-2-1088 领取。".repeat(5);
        let parts = encode_deliver("+8613912345678", &text, at, 77).unwrap();
        assert_eq!(parts.len(), 3);
        let mut back = String::new();
        for (i, hex) in parts.iter().enumerate() {
            let d = deliver(hex);
            assert_eq!(d.sender, "+8613912345678");
            assert_eq!(d.timestamp, at);
            assert_eq!(
                d.concat,
                Some(Concat {
                    reference: 77,
                    total: 3,
                    seq: (i + 1) as u8
                })
            );
            back.push_str(&d.text);
        }
        assert_eq!(back, text);
        let named = deliver(&encode_deliver("Google", "Hi", at, 0).unwrap()[0]);
        assert_eq!(
            (named.sender.as_str(), named.text.as_str()),
            ("Google", "Hi")
        );
        // The hand-made report of a_status_report_by_hand, made by the encoder.
        let t = Timestamp {
            year: 2026,
            month: 11,
            day: 22,
            hour: 10,
            minute: 30,
            second: 0,
            tz_quarters: 32,
        };
        let report =
            encode_status_report(0x2a, "+8613800138000", t, Timestamp { second: 1, ..t }, 0)
                .unwrap();
        assert_eq!(
            report,
            "00062A0D91683108108300F0621122010300236211220103102300"
        );
    }

    #[test]
    fn relative_validity_follows_the_table() {
        assert_eq!(relative_validity(5), 0);
        assert_eq!(relative_validity(720), 143);
        assert_eq!(relative_validity(1440), 167);
        assert_eq!(relative_validity(4 * 1440), 170);
        assert_eq!(relative_validity(63 * 7 * 1440), 255);
    }
}
