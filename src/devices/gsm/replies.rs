//! The modem's answers read as data: pure functions over the response
//! lines an [`super::at::AtSession`] collected, so the driver, the probe
//! and the tests read `+CMGS`, `+CREG`, `+CSQ`, `+COPS`, `+CMGL`, `+CMGR`,
//! `+CPIN` and `+CSCA` one way. The formats are those of 3GPP TS 27.007
//! (network, SIM) and TS 27.005 (SMS, PDU mode); the tests use the
//! answers those specifications and modem manuals document.

/// The parameters after `prefix` (`+CSQ:`), split at commas outside
/// quotes, each trimmed, quotes kept.
fn params<'a>(line: &'a str, prefix: &str) -> Option<Vec<&'a str>> {
    let rest = line.trim().strip_prefix(prefix)?;
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in rest.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(rest[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(rest[start..].trim());
    Some(out)
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches('"')
}

/// `+CMGS: <mr>[,<ackpdu>]` (TS 27.005 §3.5.1): the message reference
/// (TP-MR) the modem gave a part, from the lines of its answer.
pub fn cmgs_reference(lines: &[String]) -> Option<u8> {
    lines
        .iter()
        .find_map(|l| params(l, "+CMGS:")?.first()?.parse().ok())
}

/// Network registration (`<stat>` of TS 27.007 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registration {
    pub stat: u8,
}

impl Registration {
    /// Whether the SIM can send now (home or roaming).
    pub fn registered(self) -> bool {
        matches!(self.stat, 1 | 5)
    }

    /// For people.
    pub fn describe(self) -> &'static str {
        match self.stat {
            0 => "not registered",
            1 => "registered (home)",
            2 => "searching",
            3 => "registration denied",
            4 => "unknown",
            5 => "registered (roaming)",
            _ => "unknown",
        }
    }
}

/// The answer to `AT+CREG?`: `+CREG: <n>,<stat>[,<lac>,<ci>[,<AcT>]]`.
/// (The unsolicited form, `+CREG: <stat>[,<lac>,<ci>]`, is the AT
/// session's business: it has no `<n>`.)
pub fn creg(line: &str) -> Option<Registration> {
    let p = params(line, "+CREG:")?;
    if p.len() < 2 {
        return None;
    }
    Some(Registration {
        stat: p[1].parse().ok()?,
    })
}

/// Signal quality from `+CSQ: <rssi>,<ber>` (TS 27.007 §8.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    /// 0..=31, or 99 when not known.
    pub rssi: u8,
    /// 0..=7, or 99 when not known.
    pub ber: u8,
}

impl Signal {
    /// Received power in dBm: 0 is -113 dBm or less, 31 is -51 dBm or
    /// more, in 2 dB steps; `None` for 99 (not known or not detectable).
    pub fn dbm(self) -> Option<i32> {
        (self.rssi <= 31).then(|| -113 + 2 * i32::from(self.rssi))
    }
}

/// `+CSQ: <rssi>,<ber>`.
pub fn csq(line: &str) -> Option<Signal> {
    let p = params(line, "+CSQ:")?;
    Some(Signal {
        rssi: p.first()?.parse().ok()?,
        ber: p.get(1)?.parse().ok()?,
    })
}

/// The operator from `+COPS: <mode>[,<format>,<oper>[,<AcT>]]` (TS 27.007
/// §7.3): its name (or numeric code, as the format says), `None` when the
/// modem is not registered (`+COPS: 0`).
pub fn cops_operator(line: &str) -> Option<String> {
    let p = params(line, "+COPS:")?;
    let name = unquote(p.get(2)?);
    (!name.is_empty()).then(|| name.to_string())
}

/// One stored message from `AT+CMGL` in PDU mode (TS 27.005 §3.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub index: u32,
    /// 0 received unread, 1 received read, 2 stored unsent, 3 stored sent.
    pub stat: u8,
    pub pdu: String,
}

/// `+CMGL: <index>,<stat>,[<alpha>],<length>` each followed by its PDU
/// line. A header without a PDU line (the list was cut) is skipped.
pub fn cmgl(lines: &[String]) -> Vec<Listed> {
    let mut out = Vec::new();
    let mut header: Option<(u32, u8)> = None;
    for line in lines {
        if let Some(p) = params(line, "+CMGL:") {
            header = (|| Some((p.first()?.parse().ok()?, p.get(1)?.parse().ok()?)))();
        } else if let Some((index, stat)) = header.take() {
            out.push(Listed {
                index,
                stat,
                pdu: line.trim().to_string(),
            });
        }
    }
    out
}

/// The PDU of `AT+CMGR=<index>` in PDU mode: `+CMGR: <stat>,[<alpha>],<length>`
/// then the PDU line; `None` for an empty location (some modems answer OK
/// with no lines, others `+CMGR: 0,,0`).
pub fn cmgr_pdu(lines: &[String]) -> Option<String> {
    let at = lines.iter().position(|l| l.trim().starts_with("+CMGR:"))?;
    let pdu = lines.get(at + 1)?.trim();
    (!pdu.is_empty() && !pdu.starts_with('+')).then(|| pdu.to_string())
}

/// `+CPIN: <code>` (TS 27.007 §8.3): `READY`, `SIM PIN`, `SIM PUK`...
pub fn cpin(line: &str) -> Option<String> {
    let p = params(line, "+CPIN:")?;
    Some(unquote(p.first()?).to_string())
}

/// `+CSCA: <sca>,<tosca>` (TS 27.005 §3.3.1): the service centre number.
pub fn csca(line: &str) -> Option<String> {
    let p = params(line, "+CSCA:")?;
    let sca = unquote(p.first()?);
    (!sca.is_empty()).then(|| sca.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn the_message_reference_of_a_send() {
        assert_eq!(cmgs_reference(&lines(&["+CMGS: 42"])), Some(42));
        // With the optional <ackpdu> (phase 2+), and 255 the largest.
        assert_eq!(cmgs_reference(&lines(&["+CMGS: 255,\"0100\""])), Some(255));
        assert_eq!(cmgs_reference(&lines(&["+CMGS: 256"])), None);
        assert_eq!(cmgs_reference(&lines(&[])), None);
    }

    #[test]
    fn registration_as_asked() {
        // `AT+CREG?` with <n>=0, 2 (location) and the 3G/4G AcT.
        assert_eq!(creg("+CREG: 0,1"), Some(Registration { stat: 1 }));
        assert_eq!(
            creg("+CREG: 2,5,\"1A2B\",\"0C3D\""),
            Some(Registration { stat: 5 })
        );
        assert_eq!(
            creg("+CREG: 2,1,\"5A4C\",\"0B2F0A1\",7"),
            Some(Registration { stat: 1 })
        );
        assert!(creg("+CREG: 0,1").unwrap().registered());
        assert!(!creg("+CREG: 0,2").unwrap().registered());
        assert_eq!(
            creg("+CREG: 0,3").unwrap().describe(),
            "registration denied"
        );
        // The unsolicited form has no <n>: not an answer.
        assert_eq!(creg("+CREG: 1"), None);
        assert_eq!(creg("+CSQ: 1,2"), None);
    }

    #[test]
    fn signal_quality_in_dbm() {
        assert_eq!(csq("+CSQ: 20,99"), Some(Signal { rssi: 20, ber: 99 }));
        assert_eq!(csq("+CSQ: 20,99").unwrap().dbm(), Some(-73));
        assert_eq!(csq("+CSQ: 0,0").unwrap().dbm(), Some(-113));
        assert_eq!(csq("+CSQ: 31,0").unwrap().dbm(), Some(-51));
        assert_eq!(csq("+CSQ: 99,99").unwrap().dbm(), None);
        assert_eq!(csq("+CSQ:"), None);
    }

    #[test]
    fn the_operator_in_every_format() {
        assert_eq!(
            cops_operator("+COPS: 0,0,\"CHINA MOBILE\",7").as_deref(),
            Some("CHINA MOBILE")
        );
        assert_eq!(
            cops_operator("+COPS: 0,2,\"46001\"").as_deref(),
            Some("46001")
        );
        // A name with a comma stays whole.
        assert_eq!(
            cops_operator("+COPS: 1,0,\"A, B Telecom\",2").as_deref(),
            Some("A, B Telecom")
        );
        // Not registered: only the mode.
        assert_eq!(cops_operator("+COPS: 0"), None);
    }

    #[test]
    fn stored_messages_listed_in_pdu_mode() {
        let listed = cmgl(&lines(&[
            "+CMGL: 1,0,,24",
            "0791683108200805F0040D91683118214365F70008622122010300230442604F60",
            "+CMGL: 3,1,\"Alice\",25",
            "00062A0D91683108108300F0621122010300236211220103102300",
            "+CMGL: 7,0,,24",
        ]));
        assert_eq!(
            listed,
            vec![
                Listed {
                    index: 1,
                    stat: 0,
                    pdu: "0791683108200805F0040D91683118214365F70008622122010300230442604F60"
                        .into()
                },
                Listed {
                    index: 3,
                    stat: 1,
                    pdu: "00062A0D91683108108300F0621122010300236211220103102300".into()
                },
            ]
        );
        assert!(cmgl(&[]).is_empty());
    }

    #[test]
    fn one_stored_message_read_in_pdu_mode() {
        assert_eq!(
            cmgr_pdu(&lines(&["+CMGR: 0,,24", "0791AB"])).as_deref(),
            Some("0791AB")
        );
        assert_eq!(cmgr_pdu(&lines(&["+CMGR: 0,,0"])), None);
        assert_eq!(cmgr_pdu(&[]), None);
    }

    #[test]
    fn sim_state_and_service_centre() {
        assert_eq!(cpin("+CPIN: READY").as_deref(), Some("READY"));
        assert_eq!(cpin("+CPIN: SIM PIN").as_deref(), Some("SIM PIN"));
        assert_eq!(
            csca("+CSCA: \"+8613800200500\",145").as_deref(),
            Some("+8613800200500")
        );
        assert_eq!(csca("+CSCA: \"\",129"), None);
    }
}
