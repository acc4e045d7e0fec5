//! The AT command engine's pure core (3GPP TS 27.007 / 27.005): a session
//! that has at most one command in flight, turns the modem's bytes into
//! completed commands, the `> ` prompt and unsolicited result codes (URCs),
//! wherever they arrive, with echo on or off. The driver around it only
//! moves bytes and keeps time.

use std::collections::VecDeque;

/// An unsolicited result code: something the modem says on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urc {
    Ring,
    /// `+CLIP: "13812345678",129,...`: the caller of a ringing GSM line.
    Clip {
        number: Option<String>,
    },
    /// The call ended (`NO CARRIER`, `BUSY`, `NO ANSWER` outside a command).
    CallEnded(String),
    /// `+CMTI: "SM",3`: a message stored at this index.
    NewMessageStored {
        memory: String,
        index: u32,
    },
    /// `+CMT: ,24` then the PDU: a message delivered straight to us.
    NewMessage {
        pdu: String,
    },
    /// `+CDS: 25` then the PDU: a delivery report.
    StatusReport {
        pdu: String,
    },
    /// `+CDSI: "SR",2`: a delivery report stored at this index.
    StatusReportStored {
        memory: String,
        index: u32,
    },
    /// `+CREG: 1` (or with location): network registration changed.
    Registration {
        stat: u8,
    },
    /// Anything else the profile lists as unsolicited (`^RSSI:`, `+CPIN:`...).
    Other(String),
}

/// A command's failure, as the modem put it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtError {
    /// Plain `ERROR` (or the profile's equivalents, e.g. `COMMAND NOT SUPPORT`).
    Error(String),
    /// `+CME ERROR: n` (equipment and SIM).
    Cme(u16),
    /// `+CMS ERROR: n` (SMS service).
    Cms(u16),
    /// `NO CARRIER`, `BUSY`, `NO ANSWER`, `NO DIALTONE` ending a command.
    Call(String),
}

/// Whether trying again later may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Transient,
    Permanent,
}

impl AtError {
    /// The result line as the modem said it.
    pub fn said(&self) -> String {
        match self {
            AtError::Error(s) | AtError::Call(s) => s.clone(),
            AtError::Cme(code) => format!("+CME ERROR: {code}"),
            AtError::Cms(code) => format!("+CMS ERROR: {code}"),
        }
    }

    /// Whether the fault is the modem's or its SIM's (no SIM, PIN, barred,
    /// no service, no SMSC, modem failure) rather than the message's: the
    /// part is not to blame, and another modem may well send it.
    pub fn modem_fault(&self) -> bool {
        match self {
            AtError::Cme(code) => matches!(code, 10..=13 | 15 | 16 | 30 | 31),
            AtError::Cms(code) => matches!(
                code,
                8 | 10 | 29 | 50 | 300 | 310 | 311 | 313 | 316 | 330 | 331 | 332
            ),
            AtError::Error(_) | AtError::Call(_) => false,
        }
    }

    /// The class and a message in zh-CN and en, for people and the queue.
    pub fn explain(&self) -> (ErrorClass, &'static str, &'static str) {
        use ErrorClass::*;
        match self {
            AtError::Error(_) => (Transient, "模块返回错误", "the modem answered ERROR"),
            AtError::Call(_) => (Transient, "呼叫失败", "the call failed"),
            AtError::Cme(code) => match code {
                10 => (Permanent, "未插入SIM卡", "no SIM card"),
                11 => (Permanent, "SIM卡需要PIN码", "the SIM needs its PIN"),
                12 => (Permanent, "SIM卡需要PUK码", "the SIM needs its PUK"),
                13 | 15 => (Permanent, "SIM卡故障", "SIM failure"),
                14 => (Transient, "SIM卡忙", "SIM busy"),
                16 => (Permanent, "密码错误", "wrong password"),
                3 => (Permanent, "不允许的操作", "operation not allowed"),
                4 => (Permanent, "不支持的操作", "operation not supported"),
                20 => (Transient, "存储已满", "memory full"),
                21 | 22 => (Permanent, "存储位置无效", "invalid memory index"),
                30 => (Transient, "无网络服务", "no network service"),
                31 => (Transient, "网络超时", "network timeout"),
                515 => (
                    Transient,
                    "模块正在初始化，请稍候",
                    "the modem is still starting",
                ),
                _ => (Transient, "模块错误", "equipment error"),
            },
            AtError::Cms(code) => match code {
                1 => (Permanent, "空号", "unassigned number"),
                8 | 10 => (Permanent, "呼叫受限", "barred"),
                21 => (Permanent, "短信被拒收", "short message rejected"),
                27 => (Transient, "对方不在服务区", "destination out of service"),
                28 | 30 => (Permanent, "用户不存在", "unknown subscriber"),
                29 | 50 => (
                    Permanent,
                    "业务未开通",
                    "facility rejected or not subscribed",
                ),
                38 | 41 | 42 | 47 => (
                    Transient,
                    "网络暂时故障或拥塞",
                    "network temporarily failing or congested",
                ),
                95..=99 | 111 => (Permanent, "短信格式错误", "invalid message"),
                300 => (Transient, "模块故障", "modem failure"),
                302 => (Permanent, "不允许的操作", "operation not allowed"),
                303 => (Permanent, "不支持的操作", "operation not supported"),
                304 | 305 => (Permanent, "PDU参数无效", "invalid PDU parameter"),
                310 => (Permanent, "未插入SIM卡", "no SIM card"),
                311 | 316 => (
                    Permanent,
                    "SIM卡需要PIN/PUK码",
                    "the SIM needs its PIN or PUK",
                ),
                313 => (Permanent, "SIM卡故障", "SIM failure"),
                314 => (Transient, "SIM卡忙", "SIM busy"),
                322 => (Transient, "短信存储已满", "message memory full"),
                330 => (Permanent, "短信中心号码未知", "SMSC address unknown"),
                331 => (Transient, "无网络服务", "no network service"),
                332 => (Transient, "网络超时", "network timeout"),
                _ => (Transient, "短信服务错误", "SMS service error"),
            },
        }
    }
}

/// What the session reports as bytes come in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtEvent {
    Urc(Urc),
    /// The `> ` prompt: send the PDU and Ctrl-Z now.
    Prompt,
    /// The command in flight finished: its response lines, or its error.
    Done {
        command: String,
        result: Result<Vec<String>, AtError>,
    },
}

/// Longest line kept; a modem spewing garbage without newlines cannot grow
/// the buffer beyond this.
pub const MAX_LINE: usize = 4096;

/// One modem's conversation.
pub struct AtSession {
    buf: Vec<u8>,
    /// The line being read ran past [`MAX_LINE`]: it is dropped at its end.
    overflow: bool,
    in_flight: Option<String>,
    /// A response line that ends the command in flight by itself (for
    /// firmware that answers `AT+CPIN?` without a final `OK`).
    done_prefix: Option<String>,
    lines: Vec<String>,
    /// After `+CMT:` or `+CDS:` the next line is a PDU.
    pdu_follows: Option<bool>,
    /// Extra lines that end a command as an error (profile quirks).
    error_replies: Vec<String>,
    /// Prefixes the profile declares unsolicited.
    urc_prefixes: Vec<String>,
    events: VecDeque<AtEvent>,
    /// Final results (`OK`, `ERROR`, `+CME/+CMS ERROR`) that arrived with no
    /// command in flight: answers to something sent before, a sign the
    /// channel is out of step.
    stray: usize,
}

impl AtSession {
    /// A session; `error_replies` and `urc_prefixes` come from the profile.
    pub fn new(error_replies: Vec<String>, urc_prefixes: Vec<String>) -> AtSession {
        AtSession {
            buf: Vec::new(),
            overflow: false,
            in_flight: None,
            done_prefix: None,
            lines: Vec::new(),
            pdu_follows: None,
            error_replies,
            urc_prefixes,
            events: VecDeque::new(),
            stray: 0,
        }
    }

    /// Whether a command waits for its answer (only one may).
    pub fn busy(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Starts `command` (without the `AT` prefix's line end); the bytes to
    /// write, or `None` when another command is still in flight.
    pub fn start(&mut self, command: &str) -> Option<Vec<u8>> {
        self.start_until(command, None)
    }

    /// Like [`AtSession::start`], but a response line starting with
    /// `done_prefix` also completes the command (the profile's
    /// `cpin_without_ok`).
    pub fn start_until(&mut self, command: &str, done_prefix: Option<&str>) -> Option<Vec<u8>> {
        if self.in_flight.is_some() {
            return None;
        }
        self.in_flight = Some(command.to_string());
        self.done_prefix = done_prefix.map(str::to_string);
        self.lines.clear();
        // A partial line from before the command is not part of its reply.
        self.buf.clear();
        self.overflow = false;
        Some(format!("{command}\r").into_bytes())
    }

    /// Gives up on the command in flight (it timed out); the driver then
    /// recovers the modem (ESC, `AT`) before the next.
    pub fn abandon(&mut self) -> Option<String> {
        self.lines.clear();
        self.in_flight.take()
    }

    /// Feeds bytes from the modem; returns what they completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<AtEvent> {
        for &b in bytes {
            match b {
                b'\r' | b'\n' => {
                    if std::mem::take(&mut self.overflow) {
                        self.buf.clear();
                        continue;
                    }
                    if !self.buf.is_empty() {
                        let line = String::from_utf8_lossy(&self.buf).trim().to_string();
                        self.buf.clear();
                        if !line.is_empty() {
                            self.line(line);
                        }
                    }
                }
                _ => {
                    if self.buf.len() < MAX_LINE {
                        self.buf.push(b);
                    } else {
                        self.overflow = true;
                    }
                    // The prompt has no line end: `> ` after AT+CMGS.
                    if self.buf == b"> " && self.in_flight.is_some() {
                        self.buf.clear();
                        self.events.push_back(AtEvent::Prompt);
                    }
                }
            }
        }
        self.events.drain(..).collect()
    }

    fn line(&mut self, line: String) {
        if let Some(is_report) = self.pdu_follows.take() {
            let pdu = line;
            self.events.push_back(AtEvent::Urc(if is_report {
                Urc::StatusReport { pdu }
            } else {
                Urc::NewMessage { pdu }
            }));
            return;
        }
        // `+CMT:` and `+CDS:` announce a PDU on the next line.
        if line.starts_with("+CMT:") || (line.starts_with("+CDS:") && !self.asked("+CDS")) {
            self.pdu_follows = Some(line.starts_with("+CDS:"));
            return;
        }
        if let Some(urc) = self.urc(&line) {
            self.events.push_back(AtEvent::Urc(urc));
            return;
        }
        let Some(command) = self.in_flight.clone() else {
            // Not a URC and nothing asked: chatter after a reset, or a late
            // answer; dropped, but a final result is counted.
            if self.is_final(&line) {
                self.stray += 1;
            }
            return;
        };
        // The echo of our own command (echo on).
        if line.eq_ignore_ascii_case(&command) && self.lines.is_empty() {
            return;
        }
        let result = if line == "OK" {
            Some(Ok(std::mem::take(&mut self.lines)))
        } else if self
            .done_prefix
            .as_deref()
            .is_some_and(|p| line.starts_with(p))
        {
            self.lines.push(line.clone());
            Some(Ok(std::mem::take(&mut self.lines)))
        } else if line == "ERROR" || self.error_replies.contains(&line) {
            Some(Err(AtError::Error(line.clone())))
        } else if let Some(code) = line.strip_prefix("+CME ERROR:") {
            Some(Err(parse_code(code)
                .map(AtError::Cme)
                .unwrap_or(AtError::Error(line.clone()))))
        } else if let Some(code) = line.strip_prefix("+CMS ERROR:") {
            Some(Err(parse_code(code)
                .map(AtError::Cms)
                .unwrap_or(AtError::Error(line.clone()))))
        } else if matches!(
            line.as_str(),
            "NO CARRIER" | "BUSY" | "NO ANSWER" | "NO DIALTONE"
        ) {
            Some(Err(AtError::Call(line.clone())))
        } else {
            None
        };
        match result {
            Some(result) => {
                self.in_flight = None;
                self.lines.clear();
                self.events.push_back(AtEvent::Done { command, result });
            }
            None => self.lines.push(line),
        }
    }

    /// Recognises a URC. `NO CARRIER` and friends are URCs only when no
    /// command waits (then they end a call); `+CREG:` only in its
    /// unsolicited form (one or three parameters, no command asked for it).
    fn urc(&self, line: &str) -> Option<Urc> {
        if line == "RING" || line.starts_with("+CRING:") {
            return Some(Urc::Ring);
        }
        if let Some(rest) = line.strip_prefix("+CLIP:") {
            let number = quoted(rest).filter(|n| !n.is_empty());
            return Some(Urc::Clip { number });
        }
        if let Some(rest) = line.strip_prefix("+CMTI:") {
            let (memory, index) = memory_index(rest)?;
            return Some(Urc::NewMessageStored { memory, index });
        }
        if let Some(rest) = line.strip_prefix("+CDSI:") {
            let (memory, index) = memory_index(rest)?;
            return Some(Urc::StatusReportStored { memory, index });
        }
        if let Some(rest) = line.strip_prefix("+CREG:") {
            if !self.asked("+CREG") {
                let params: Vec<&str> = rest.split(',').map(str::trim).collect();
                if params.len() == 1 || params.len() == 3 {
                    return params[0]
                        .parse()
                        .ok()
                        .map(|stat| Urc::Registration { stat });
                }
            }
            return None;
        }
        if self.in_flight.is_none()
            && matches!(line, "NO CARRIER" | "BUSY" | "NO ANSWER" | "NO DIALTONE")
        {
            return Some(Urc::CallEnded(line.to_string()));
        }
        // A profile's URC that answers the command in flight is its answer.
        if self
            .urc_prefixes
            .iter()
            .any(|p| line.starts_with(p.as_str()) && !self.asked(p.trim_end_matches(':')))
        {
            return Some(Urc::Other(line.to_string()));
        }
        None
    }
}

impl AtSession {
    /// How many final results arrived unasked since last asked; resets the
    /// count. Non-zero after a resynchronising `AT` means an older answer
    /// was still on its way: the channel is not in step yet.
    pub fn take_stray(&mut self) -> usize {
        std::mem::take(&mut self.stray)
    }

    fn is_final(&self, line: &str) -> bool {
        matches!(line, "OK" | "ERROR")
            || line.starts_with("+CME ERROR:")
            || line.starts_with("+CMS ERROR:")
            || self.error_replies.iter().any(|e| e == line)
    }

    /// Whether the command in flight is `AT<prefix>...` (its answer, not a URC).
    fn asked(&self, prefix: &str) -> bool {
        self.in_flight
            .as_deref()
            .is_some_and(|c| c.to_ascii_uppercase().starts_with(&format!("AT{prefix}")))
    }
}

fn parse_code(s: &str) -> Option<u16> {
    s.trim().parse().ok()
}

/// The first double-quoted field of a response.
fn quoted(s: &str) -> Option<String> {
    let start = s.find('"')? + 1;
    let end = s[start..].find('"')? + start;
    Some(s[start..end].to_string())
}

fn memory_index(s: &str) -> Option<(String, u32)> {
    let (memory, index) = s.split_once(',')?;
    Some((
        memory.trim().trim_matches('"').to_string(),
        index.trim().parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> AtSession {
        AtSession::new(
            vec!["COMMAND NOT SUPPORT".into()],
            vec!["^RSSI:".into(), "+CPIN:".into()],
        )
    }

    fn done(events: &[AtEvent]) -> Option<&Result<Vec<String>, AtError>> {
        events.iter().find_map(|e| match e {
            AtEvent::Done { result, .. } => Some(result),
            _ => None,
        })
    }

    #[test]
    fn a_reply_with_echo_on_or_off() {
        for echo in [true, false] {
            let mut s = session();
            assert_eq!(s.start("AT+CSQ").unwrap(), b"AT+CSQ\r");
            assert!(s.busy());
            let reply = if echo {
                "AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
            } else {
                "\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
            };
            let events = s.feed(reply.as_bytes());
            assert_eq!(done(&events), Some(&Ok(vec!["+CSQ: 20,99".to_string()])));
            assert!(!s.busy());
        }
    }

    #[test]
    fn only_one_command_at_a_time() {
        let mut s = session();
        s.start("AT").unwrap();
        assert_eq!(s.start("AT+CSQ"), None);
        s.feed(b"OK\r\n");
        assert!(s.start("AT+CSQ").is_some());
    }

    #[test]
    fn a_urc_in_the_middle_of_a_reply_is_not_part_of_it() {
        let mut s = session();
        s.start("AT+COPS?").unwrap();
        // Split across reads, with a ring and a caller ID inside the reply.
        let mut events = s.feed(b"\r\n+COPS: 0,0,\"CHINA MOBILE\"\r\n\r\nRI");
        events.extend(s.feed(b"NG\r\n\r\n+CLIP: \"13812345678\",129,\"\",,\"\",0\r\n\r\nOK\r\n"));
        assert_eq!(events[0], AtEvent::Urc(Urc::Ring));
        assert_eq!(
            events[1],
            AtEvent::Urc(Urc::Clip {
                number: Some("13812345678".into())
            })
        );
        assert_eq!(
            done(&events),
            Some(&Ok(vec!["+COPS: 0,0,\"CHINA MOBILE\"".to_string()]))
        );
    }

    #[test]
    fn the_send_prompt_and_the_message_reference() {
        let mut s = session();
        s.start("AT+CMGS=19").unwrap();
        assert_eq!(s.feed(b"\r\n> "), [AtEvent::Prompt]);
        let events = s.feed(b"\r\n+CMGS: 42\r\n\r\nOK\r\n");
        assert_eq!(done(&events), Some(&Ok(vec!["+CMGS: 42".to_string()])));
    }

    #[test]
    fn errors_of_every_kind() {
        for (reply, want) in [
            ("ERROR", AtError::Error("ERROR".into())),
            (
                "COMMAND NOT SUPPORT",
                AtError::Error("COMMAND NOT SUPPORT".into()),
            ),
            ("+CME ERROR: 515", AtError::Cme(515)),
            ("+CMS ERROR: 330", AtError::Cms(330)),
            ("NO CARRIER", AtError::Call("NO CARRIER".into())),
        ] {
            let mut s = session();
            s.start("AT+CMGS=19").unwrap();
            let events = s.feed(format!("\r\n{reply}\r\n").as_bytes());
            assert_eq!(done(&events), Some(&Err(want.clone())), "{reply}");
        }
        assert_eq!(AtError::Cme(515).explain().0, ErrorClass::Transient);
        assert!(AtError::Cms(313).modem_fault() && AtError::Cme(10).modem_fault());
        assert!(!AtError::Cms(1).modem_fault() && !AtError::Cms(42).modem_fault());
        assert_eq!(AtError::Cms(330).explain().0, ErrorClass::Permanent);
        assert_eq!(AtError::Cms(42).explain().0, ErrorClass::Transient);
        assert_eq!(AtError::Cms(1).explain().1, "空号");
        assert_eq!(AtError::Cme(14).explain().2, "SIM busy");
    }

    #[test]
    fn incoming_messages_and_reports() {
        let mut s = session();
        let events = s.feed(
            b"\r\n+CMTI: \"SM\",3\r\n+CMT: ,24\r\n0791683108200805F0040D91683118214365F70008622122010300230442604F60\r\n\
              +CDS: 25\r\n00062A0D91683108108300F0621122010300236211220103102300\r\n+CDSI: \"SR\",2\r\n",
        );
        assert_eq!(
            events[0],
            AtEvent::Urc(Urc::NewMessageStored {
                memory: "SM".into(),
                index: 3
            })
        );
        assert!(
            matches!(&events[1], AtEvent::Urc(Urc::NewMessage { pdu }) if pdu.starts_with("0791"))
        );
        assert!(
            matches!(&events[2], AtEvent::Urc(Urc::StatusReport { pdu }) if pdu.starts_with("0006"))
        );
        assert_eq!(
            events[3],
            AtEvent::Urc(Urc::StatusReportStored {
                memory: "SR".into(),
                index: 2
            })
        );
    }

    #[test]
    fn a_message_arriving_during_a_command_is_not_part_of_its_reply() {
        let mut s = session();
        s.start("AT+CSQ").unwrap();
        let events = s.feed(b"\r\n+CMT: ,24\r\n0791683108200805F0040D91683118214365F70008622122010300230442604F60\r\n+CSQ: 20,99\r\nOK\r\n");
        assert!(matches!(&events[0], AtEvent::Urc(Urc::NewMessage { .. })));
        assert_eq!(done(&events), Some(&Ok(vec!["+CSQ: 20,99".to_string()])));
    }

    #[test]
    fn registration_and_call_end_are_unsolicited_only_when_unasked() {
        let mut s = session();
        assert_eq!(
            s.feed(b"+CREG: 5\r\n"),
            [AtEvent::Urc(Urc::Registration { stat: 5 })]
        );
        assert_eq!(
            s.feed(b"+CREG: 1,\"1A2B\",\"0C3D\"\r\n"),
            [AtEvent::Urc(Urc::Registration { stat: 1 })]
        );
        assert_eq!(
            s.feed(b"NO CARRIER\r\n"),
            [AtEvent::Urc(Urc::CallEnded("NO CARRIER".into()))]
        );
        s.start("AT+CREG?").unwrap();
        let events = s.feed(b"+CREG: 0,1\r\nOK\r\n");
        assert_eq!(done(&events), Some(&Ok(vec!["+CREG: 0,1".to_string()])));
        // Profile-declared URCs; chatter nobody asked for is dropped.
        assert_eq!(
            s.feed(b"^RSSI: 17\r\n"),
            [AtEvent::Urc(Urc::Other("^RSSI: 17".into()))]
        );
        assert!(s.feed(b"garbage \xff\xfe line\r\n").is_empty());
    }

    #[test]
    fn garbage_without_line_ends_stays_bounded() {
        let mut s = session();
        s.feed(&vec![b'x'; MAX_LINE * 4]);
        assert!(s.buf.len() <= MAX_LINE);
        // An over-long line is dropped whole, even in a reply.
        s.start("AT+CSQ").unwrap();
        s.feed(&vec![b'y'; MAX_LINE + 10]);
        let events = s.feed(b"\r\n+CSQ: 9,99\r\nOK\r\n");
        assert_eq!(done(&events), Some(&Ok(vec!["+CSQ: 9,99".to_string()])));
        s.feed(&[b'x'; 10]);
        s.start("AT").unwrap();
        let events = s.feed(b"\r\nOK\r\n");
        assert_eq!(done(&events), Some(&Ok(vec![])));
    }

    #[test]
    fn a_pin_answer_without_ok_ends_the_command_when_the_profile_says_so() {
        let mut s = session();
        s.start_until("AT+CPIN?", Some("+CPIN:")).unwrap();
        // "+CPIN:" is also a declared URC, but here it is the answer.
        let events = s.feed(b"\r\n+CPIN: READY\r\n");
        assert_eq!(done(&events), Some(&Ok(vec!["+CPIN: READY".to_string()])));
        // Unasked, it is a URC (the SIM became ready by itself).
        assert_eq!(
            s.feed(b"+CPIN: READY\r\n"),
            [AtEvent::Urc(Urc::Other("+CPIN: READY".into()))]
        );
    }

    #[test]
    fn answers_nobody_waits_for_are_counted_not_taken() {
        let mut s = session();
        // Stale bytes at start-up: an old OK, an ERROR, a report, garbage.
        let events = s.feed(
            b"OK\r\n\r\nERROR\r\n+CDS: 25\r\n00062A0D91683108108300F0621122010300236211220103102300\r\n\xff\xfeAT\r\n",
        );
        assert!(matches!(
            &events[..],
            [AtEvent::Urc(Urc::StatusReport { .. })]
        ));
        assert_eq!(s.take_stray(), 2);
        assert_eq!(s.take_stray(), 0);
        // An answer to the command in flight is not stray.
        s.start("AT").unwrap();
        s.feed(b"\r\nOK\r\n");
        assert_eq!(s.take_stray(), 0);
    }

    #[test]
    fn an_abandoned_command_frees_the_session() {
        let mut s = session();
        s.start("AT+CMGS=19").unwrap();
        assert_eq!(s.abandon().as_deref(), Some("AT+CMGS=19"));
        assert!(!s.busy());
        // A late OK for the abandoned command completes nothing.
        assert!(s.feed(b"OK\r\n").is_empty());
    }
}
