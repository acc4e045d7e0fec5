//! Turns the bytes of a caller-ID box or voice modem into line signals,
//! following its profile. Pure: the serial driver feeds it bytes, tests feed
//! it anything. Memory is bounded whatever arrives: an over-long line is cut
//! and dropped whole, a frame never grows beyond one message.

use super::profile::{Framing, LoadedProfile, RuleEvent, StatusCodes};
use crate::dsp::cid::{CidDateTime, FrameScanner, Scanned};
use crate::event::{CallerId, LineSignal};
use std::sync::Arc;

/// Something worth a log line that is not a signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnostic {
    /// A line no grammar rule matches (garbage, or a message we do not know).
    Unrecognized(String),
    /// A line longer than the profile allows; its start, for the log.
    Overlong(String),
    /// A caller-ID frame that failed its checksum or structure.
    RejectedFrame(String),
    /// A signal for a port the device does not have.
    BadPort(String),
}

/// What one chunk of bytes produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A signal on a port (1-based).
    Signal(u8, LineSignal),
    Diagnostic(Diagnostic),
}

/// The parser of one device.
pub struct BoxParser {
    profile: Arc<LoadedProfile>,
    line: Vec<u8>,
    overlong: bool,
    scanner: Option<FrameScanner>,
    status: Option<StatusCodes>,
    status_bytes: Vec<u8>,
    /// DATE and TIME arrive before NMBR on voice modems; held per port.
    pending_date: Vec<Option<(u8, u8)>>,
    pending_time: Vec<Option<(u8, u8)>>,
    /// A number held for the name line that follows it on devices that
    /// send them apart, so the pop carries both.
    pending_cid: Option<(u8, CallerId)>,
    names_follow: bool,
}

impl BoxParser {
    pub fn new(profile: Arc<LoadedProfile>) -> BoxParser {
        let ports = profile.profile.quirks.lines as usize;
        let (scanner, status) = match &profile.profile.framing {
            Framing::CidFrames {
                min_seizure,
                status,
                ..
            } => (Some(FrameScanner::new(*min_seizure)), status.clone()),
            Framing::Lines { .. } => (None, None),
        };
        let names_follow = profile
            .grammar
            .iter()
            .any(|(_, event)| *event == RuleEvent::CidName);
        BoxParser {
            profile,
            names_follow,
            pending_cid: None,
            line: Vec::new(),
            overlong: false,
            scanner,
            status,
            status_bytes: Vec::with_capacity(3),
            pending_date: vec![None; ports],
            pending_time: vec![None; ports],
        }
    }

    /// Forgets partial input, e.g. after a reconnect or a long silence.
    pub fn reset(&mut self) {
        self.line.clear();
        self.overlong = false;
        self.status_bytes.clear();
        if let Some(s) = self.scanner.as_mut() {
            s.reset();
        }
        self.pending_date.iter_mut().for_each(|d| *d = None);
        self.pending_time.iter_mut().for_each(|t| *t = None);
    }

    /// Forgets a partial caller-ID frame or status after a silence longer
    /// than one takes, so a glitch cannot swallow the next message.
    pub fn reset_frames(&mut self) {
        self.status_bytes.clear();
        if let Some(s) = self.scanner.as_mut() {
            s.reset();
        }
    }

    /// Whether a caller ID is held for its name: the driver calls
    /// [`BoxParser::flush`] if no more bytes come within the profile's
    /// `name_wait_ms`.
    pub fn holds_caller_id(&self) -> bool {
        self.pending_cid.is_some()
    }

    /// Emits a caller ID held for a name that did not come.
    pub fn flush(&mut self, out: &mut Vec<Parsed>) {
        if let Some((port, cid)) = self.pending_cid.take() {
            out.push(Parsed::Signal(port, LineSignal::CallerId(cid)));
        }
    }

    /// Feeds bytes, appending what they complete to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Parsed>) {
        if self.scanner.is_some() {
            for &b in bytes {
                self.push_frame_byte(b, out);
            }
            return;
        }
        let max = match self.profile.profile.framing {
            Framing::Lines { max_line } => max_line,
            Framing::CidFrames { .. } => unreachable!("frames handled above"),
        };
        for &b in bytes {
            if b == b'\r' || b == b'\n' {
                if self.overlong {
                    let start = String::from_utf8_lossy(&self.line).into_owned();
                    out.push(Parsed::Diagnostic(Diagnostic::Overlong(start)));
                } else if !self.line.is_empty() {
                    let text = self.profile.profile.quirks.encoding.decode(&self.line);
                    let text = text.trim().to_string();
                    if !text.is_empty() {
                        self.parse_line(&text, out);
                    }
                }
                self.line.clear();
                self.overlong = false;
            } else if self.line.len() < max {
                self.line.push(b);
            } else {
                self.overlong = true;
            }
        }
    }

    fn push_frame_byte(&mut self, b: u8, out: &mut Vec<Parsed>) {
        let in_frame = self.scanner.as_ref().is_some_and(FrameScanner::in_frame);
        if let (Some(codes), false) = (&self.status, in_frame) {
            // Status: prefix, code, code ^ 0xFF, only between messages (a
            // message byte may have the prefix's value).
            if self.status_bytes.is_empty() && b == codes.prefix {
                self.status_bytes.push(b);
                return;
            }
            if !self.status_bytes.is_empty() {
                self.status_bytes.push(b);
                if self.status_bytes.len() < 3 {
                    return;
                }
                let (code, check) = (self.status_bytes[1], self.status_bytes[2]);
                self.status_bytes.clear();
                if code ^ 0xFF == check {
                    let signal = if Some(code) == codes.ring {
                        Some(LineSignal::Ring)
                    } else if Some(code) == codes.off_hook {
                        Some(LineSignal::OffHook)
                    } else if Some(code) == codes.on_hook {
                        Some(LineSignal::OnHook)
                    } else {
                        None
                    };
                    if let Some(s) = signal {
                        out.push(Parsed::Signal(1, s));
                    }
                    return;
                }
                // Not a status after all: let the scanner see these bytes.
                for x in [code, check] {
                    self.scan(x, out);
                }
                return;
            }
        }
        self.scan(b, out);
    }

    fn scan(&mut self, b: u8, out: &mut Vec<Parsed>) {
        let Some(scanner) = self.scanner.as_mut() else {
            return;
        };
        match scanner.push(b) {
            Some(Scanned::Message(m)) => {
                out.push(Parsed::Signal(1, LineSignal::CallerId(CallerId::from(m))))
            }
            Some(Scanned::Rejected(e)) => {
                out.push(Parsed::Diagnostic(Diagnostic::RejectedFrame(e.to_string())))
            }
            None => {}
        }
    }

    fn parse_line(&mut self, text: &str, out: &mut Vec<Parsed>) {
        let profile = self.profile.clone();
        // What a dialling device says of its calls comes before the grammar
        // (a modem's `OK` or `BUSY` means something only here).
        if let Some((port, signal)) = profile.dialer.as_ref().and_then(|d| d.reply(text)) {
            self.flush(out);
            if port >= 1 && port <= profile.profile.quirks.lines {
                out.push(Parsed::Signal(port, signal));
            } else {
                out.push(Parsed::Diagnostic(Diagnostic::BadPort(text.to_string())));
            }
            return;
        }
        let Some((caps, event)) = profile
            .grammar
            .iter()
            .find_map(|(re, ev)| re.captures(text).map(|c| (c, *ev)))
        else {
            out.push(Parsed::Diagnostic(Diagnostic::Unrecognized(
                text.to_string(),
            )));
            return;
        };
        let port: u8 = match caps.name("line") {
            None => 1,
            Some(m) => match m.as_str().parse() {
                Ok(p) if p >= 1 && p <= profile.profile.quirks.lines => p,
                _ => {
                    out.push(Parsed::Diagnostic(Diagnostic::BadPort(text.to_string())));
                    return;
                }
            },
        };
        let idx = port as usize - 1;
        let value = caps.name("value").map(|m| m.as_str().trim().to_string());
        let value = value.unwrap_or_default();
        // A held number goes out with this name, or before anything else.
        if let Some((held_port, mut cid)) = self.pending_cid.take() {
            if event == RuleEvent::CidName && held_port == port {
                cid.name = Some(value).filter(|n| !n.is_empty());
                out.push(Parsed::Signal(port, LineSignal::CallerId(cid)));
                return;
            }
            out.push(Parsed::Signal(held_port, LineSignal::CallerId(cid)));
        }
        let signal = match event {
            RuleEvent::Ignore => return,
            RuleEvent::Ring => LineSignal::Ring,
            RuleEvent::OffHook => LineSignal::OffHook,
            RuleEvent::OnHook => LineSignal::OnHook,
            RuleEvent::Dtmf => LineSignal::Dtmf { digits: value },
            RuleEvent::CidDate => {
                self.pending_date[idx] = two_pairs(&value);
                return;
            }
            RuleEvent::CidTime => {
                self.pending_time[idx] = two_pairs(&value);
                return;
            }
            RuleEvent::CidMessage => return,
            RuleEvent::CidName => LineSignal::CallerName { name: value },
            RuleEvent::CidNumber => {
                let mut cid = CallerId::from_value(&value);
                cid.name = caps
                    .name("name")
                    .map(|m| m.as_str().trim().to_string())
                    .filter(|n| !n.is_empty());
                let date = self.pending_date[idx].take();
                let time = self.pending_time[idx].take();
                if let Some(m) = caps.name("datetime") {
                    // On the number's own line (`MMDDHHMM`); a malformed one is none.
                    cid.datetime = CidDateTime::parse(m.as_str().trim().as_bytes());
                } else if let (Some((month, day)), Some((hour, minute))) = (date, time) {
                    cid.datetime = Some(CidDateTime {
                        month,
                        day,
                        hour,
                        minute,
                    });
                }
                if self.names_follow && cid.name.is_none() {
                    self.pending_cid = Some((port, cid));
                    return;
                }
                LineSignal::CallerId(cid)
            }
        };
        out.push(Parsed::Signal(port, signal));
    }
}

/// `1122` → (11, 22).
fn two_pairs(v: &str) -> Option<(u8, u8)> {
    let b = v.as_bytes();
    (b.len() == 4 && b.iter().all(u8::is_ascii_digit)).then(|| {
        (
            (b[0] - b'0') * 10 + b[1] - b'0',
            (b[2] - b'0') * 10 + b[3] - b'0',
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::profile::load_all;
    use crate::dsp::cid::{encode, Absence, CallerIdMessage};

    fn parser(name: &str) -> BoxParser {
        let all = load_all(None).unwrap();
        BoxParser::new(Arc::new(all[name].clone()))
    }

    fn signals(p: &mut BoxParser, bytes: &[u8]) -> Vec<Parsed> {
        let mut out = Vec::new();
        p.push(bytes, &mut out);
        out
    }

    #[test]
    fn voice_modem_caller_id_with_date_and_name() {
        let mut p = parser("generic-voice-modem");
        let out = signals(
            &mut p,
            b"\r\nRING\r\n\r\nDATE = 1122\r\nTIME = 1405\r\nNMBR = 13812345678\r\nNAME = ZHANG\r\n\r\nRING\r\n",
        );
        let cid = CallerId {
            number: Some("13812345678".into()),
            absent: None,
            name: Some("ZHANG".into()),
            datetime: Some(CidDateTime {
                month: 11,
                day: 22,
                hour: 14,
                minute: 5,
            }),
        };
        // The name comes with the number, in one signal (one pop frame).
        assert_eq!(
            out,
            vec![
                Parsed::Signal(1, LineSignal::Ring),
                Parsed::Signal(1, LineSignal::CallerId(cid)),
                Parsed::Signal(1, LineSignal::Ring),
            ]
        );
    }

    #[test]
    fn a_voice_modem_number_without_a_name_goes_out_on_the_next_line_or_a_flush() {
        let mut p = parser("generic-voice-modem");
        let out = signals(&mut p, b"NMBR = 13812345678\r\n");
        assert!(out.is_empty(), "held for a name: {out:?}");
        assert!(p.holds_caller_id());
        let mut out = Vec::new();
        p.flush(&mut out);
        assert!(
            matches!(&out[..], [Parsed::Signal(1, LineSignal::CallerId(c))] if c.name.is_none())
        );
        let out = signals(&mut p, b"NMBR = 13812345678\r\nRING\r\n");
        assert!(matches!(
            &out[..],
            [
                Parsed::Signal(1, LineSignal::CallerId(_)),
                Parsed::Signal(1, LineSignal::Ring)
            ]
        ));
        assert!(!p.holds_caller_id());
    }

    #[test]
    fn a_gbk_name_from_a_voice_modem_is_decoded_by_the_profile_encoding() {
        let mut p = parser("generic-voice-modem");
        let mut bytes = b"NMBR = 13812345678\r\nNAME = ".to_vec();
        bytes.extend(encoding_rs::GBK.encode("周杰").0.iter());
        bytes.extend(b"\r\n");
        let out = signals(&mut p, &bytes);
        assert!(
            matches!(&out[..], [Parsed::Signal(1, LineSignal::CallerId(c))] if c.name.as_deref() == Some("周杰")),
            "{out:?}"
        );
    }

    #[test]
    fn voice_modem_private_and_split_reads() {
        let mut p = parser("generic-voice-modem");
        let mut out = Vec::new();
        for chunk in [
            &b"NM"[..],
            b"BR = ",
            b"P\r",
            b"\nDDN_NMBR = 0755",
            b"86013388\r\n",
        ] {
            p.push(chunk, &mut out);
        }
        p.flush(&mut out);
        assert!(
            matches!(&out[0], Parsed::Signal(1, LineSignal::CallerId(c)) if c.absent == Some(Absence::Private) && c.number.is_none())
        );
        assert!(
            matches!(&out[1], Parsed::Signal(1, LineSignal::CallerId(c)) if c.number.as_deref() == Some("075586013388"))
        );
    }

    #[test]
    fn garbage_and_overlong_lines_are_diagnostics_not_signals() {
        let mut p = parser("text-box-4port");
        let mut bytes = vec![0xFF, 0x00, 0xC3, b'\n'];
        bytes.extend(std::iter::repeat_n(b'x', 10_000));
        bytes.extend(b"\r\n$2,RING\r\n$9,RING\r\n");
        let out = signals(&mut p, &bytes);
        assert!(matches!(
            out[0],
            Parsed::Diagnostic(Diagnostic::Unrecognized(_))
        ));
        assert!(
            matches!(out[1], Parsed::Diagnostic(Diagnostic::Overlong(ref s)) if s.len() == 128)
        );
        assert_eq!(out[2], Parsed::Signal(2, LineSignal::Ring));
        assert!(matches!(out[3], Parsed::Diagnostic(Diagnostic::BadPort(_))));
        assert!(p.line.capacity() <= 1024, "the line buffer stays bounded");
    }

    #[test]
    fn a_text_box_that_prints_the_time_with_the_number_tells_it() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/firmware-profiles/text-box-4port.toml"
        ))
        .unwrap();
        let shipped = r#"pattern = '^\$(?P<line>\d),CID,(?P<value>"#;
        assert!(text.contains(shipped));
        let text = text.replace(
            shipped,
            r#"pattern = '^\$(?P<line>\d),CID,(?:(?P<datetime>\d{8}),)?(?P<value>"#,
        );
        let profile = crate::devices::profile::parse(&text, "test").unwrap();
        let mut p = BoxParser::new(Arc::new(profile));
        let out = signals(
            &mut p,
            b"$2,CID,12312359,13812345678,ZHANG\n$2,CID,13900001111\n$2,CID,13312359,13900002222\n",
        );
        let told: Vec<Option<String>> = out
            .iter()
            .map(|p| match p {
                Parsed::Signal(2, LineSignal::CallerId(c)) => c.datetime.map(|d| d.to_string()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            told,
            [Some("12-31 23:59".to_string()), None, None],
            "a 13th month is no time"
        );
    }

    #[test]
    fn text_box_every_event_on_its_port() {
        let mut p = parser("text-box-4port");
        let out = signals(
            &mut p,
            b"$3,RING\n$3,CID,13812345678,ZHANG SAN\n$3,OFFHOOK\n$3,DTMF,12#\n$3,ONHOOK\n$1,CID,P\n",
        );
        let ports: Vec<u8> = out
            .iter()
            .map(|p| match p {
                Parsed::Signal(port, _) => *port,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ports, vec![3, 3, 3, 3, 3, 1]);
        assert!(
            matches!(&out[1], Parsed::Signal(3, LineSignal::CallerId(c)) if c.name.as_deref() == Some("ZHANG SAN"))
        );
        assert_eq!(
            out[3],
            Parsed::Signal(
                3,
                LineSignal::Dtmf {
                    digits: "12#".into()
                }
            )
        );
    }

    #[test]
    fn a_message_byte_equal_to_the_status_prefix_is_not_a_status() {
        // Find a message whose checksum is the status prefix 0xA5.
        let message = (0..100_000u32)
            .map(|i| {
                let mut m = CallerIdMessage::number_only("13912345678");
                m.name = Some(format!("N{i}"));
                encode(&m)
            })
            .find(|m| m.last() == Some(&0xA5))
            .expect("some name gives checksum 0xA5");
        let mut p = parser("ht9032-fsk-module");
        let mut bytes = vec![0x55; 20];
        bytes.extend(&message);
        bytes.extend([0xA5, 0x01, 0xFE, 0xA5, 0x01, 0xFE]);
        let out = signals(&mut p, &bytes);
        assert!(
            matches!(&out[0], Parsed::Signal(1, LineSignal::CallerId(_))),
            "{out:?}"
        );
        assert_eq!(
            out[1..],
            [
                Parsed::Signal(1, LineSignal::Ring),
                Parsed::Signal(1, LineSignal::Ring)
            ]
        );
    }

    #[test]
    fn fsk_module_frames_status_and_noise() {
        let mut p = parser("ht9032-fsk-module");
        let mut bytes = vec![0xA5, 0x01, 0xFE, 0x13, 0x37];
        bytes.extend([0x55; 20]);
        bytes.extend(encode(&CallerIdMessage::number_only("13812345678")));
        bytes.extend([0xA5, 0x02, 0x00]); // broken status: ignored
        bytes.extend([0x55; 20]);
        let mut bad = encode(&CallerIdMessage::number_only("13900000000"));
        bad[5] ^= 1;
        bytes.extend(bad);
        bytes.extend([0xA5, 0x02, 0xFD]);
        let out = signals(&mut p, &bytes);
        assert_eq!(out[0], Parsed::Signal(1, LineSignal::Ring));
        assert!(
            matches!(&out[1], Parsed::Signal(1, LineSignal::CallerId(c)) if c.number.as_deref() == Some("13812345678"))
        );
        assert!(matches!(
            out[2],
            Parsed::Diagnostic(Diagnostic::RejectedFrame(_))
        ));
        assert_eq!(out[3], Parsed::Signal(1, LineSignal::OffHook));
        assert_eq!(out.len(), 4);
    }
}
