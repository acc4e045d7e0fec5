//! Firmware profiles: one TOML file per device model, saying how to talk to
//! it (serial settings, init sequence), how to read it (framing, a grammar
//! of patterns mapped to line events) and what it cannot do (quirks).
//! Adding a model is adding a file, never a recompile.

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// What sort of device a profile describes; decides which driver runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    VoiceModem,
    FskModule,
    TextBox,
    GsmModem,
    AudioBox,
}

/// A USB vendor:product pair, written `"1a86:7523"` in profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UsbId {
    pub vendor: u16,
    pub product: u16,
}

impl TryFrom<String> for UsbId {
    type Error = String;
    fn try_from(s: String) -> Result<UsbId, String> {
        s.parse()
    }
}

impl From<UsbId> for String {
    fn from(id: UsbId) -> String {
        id.to_string()
    }
}

impl FromStr for UsbId {
    type Err = String;
    fn from_str(s: &str) -> Result<UsbId, String> {
        let bad = || format!("{s:?} is not a USB id like \"1a86:7523\"");
        let (v, p) = s.split_once(':').ok_or_else(bad)?;
        Ok(UsbId {
            vendor: u16::from_str_radix(v, 16).map_err(|_| bad())?,
            product: u16::from_str_radix(p, 16).map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for UsbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vendor, self.product)
    }
}

/// Which USB devices a profile fits: any id, or a manufacturer/product
/// string containing one of the words (case-insensitive).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchRules {
    pub usb: Vec<UsbId>,
    pub manufacturer: Vec<String>,
    pub product: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parity {
    None,
    Odd,
    Even,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowControl {
    None,
    Hardware,
    Software,
}

/// How the port is opened.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SerialSettings {
    pub baud: u32,
    pub data_bits: u8,
    pub parity: Parity,
    pub stop_bits: u8,
    pub flow_control: FlowControl,
}

impl Default for SerialSettings {
    fn default() -> Self {
        SerialSettings {
            baud: 115_200,
            data_bits: 8,
            parity: Parity::None,
            stop_bits: 1,
            flow_control: FlowControl::None,
        }
    }
}

/// One command of the init sequence; the first of `send` and `fallbacks`
/// answered with `expect` wins. `expect` is met by a reply line that,
/// trimmed, equals it (whole-line, never a substring); the one runner for
/// every driver, and the full rule, are in [`super::init`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitStep {
    pub send: String,
    #[serde(default = "default_expect")]
    pub expect: String,
    #[serde(default = "default_init_timeout")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub fallbacks: Vec<String>,
    /// A device that does not answer this step still works.
    #[serde(default)]
    pub optional: bool,
}

fn default_expect() -> String {
    "OK".into()
}

fn default_init_timeout() -> u64 {
    2000
}

/// Status bytes of an FSK module, framed as `prefix, code, code ^ 0xFF`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusCodes {
    pub prefix: u8,
    pub ring: Option<u8>,
    pub off_hook: Option<u8>,
    pub on_hook: Option<u8>,
}

/// How the byte stream is cut into units.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Framing {
    /// Text lines ended by CR and/or LF; longer lines are cut and dropped.
    Lines {
        #[serde(default = "default_max_line")]
        max_line: usize,
    },
    /// Raw caller-ID messages after a channel seizure (FSK modules).
    CidFrames {
        #[serde(default = "default_min_seizure")]
        min_seizure: usize,
        #[serde(default = "default_frame_gap")]
        frame_gap_ms: u64,
        status: Option<StatusCodes>,
    },
}

fn default_max_line() -> usize {
    512
}

fn default_min_seizure() -> usize {
    10
}

fn default_frame_gap() -> u64 {
    200
}

impl Default for Framing {
    fn default() -> Self {
        Framing::Lines {
            max_line: default_max_line(),
        }
    }
}

/// What a grammar rule's match means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleEvent {
    Ring,
    OffHook,
    OnHook,
    CidNumber,
    CidName,
    CidDate,
    CidTime,
    CidMessage,
    Dtmf,
    /// Known lines that mean nothing to the call (command echoes, OK).
    Ignore,
}

/// A pattern over one line. Named groups: `line` (the port on a multi-line
/// box, 1-based), `value` (number, name, digits...), `name` (a name that
/// comes with the number), `datetime` (`MMDDHHMM`, the date and time a box
/// prints with the number).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrammarRule {
    pub pattern: toml::Spanned<String>,
    pub event: RuleEvent,
}

/// What a device cannot do or does oddly, as data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quirks {
    /// No ring for this long means the ringing has stopped.
    pub ring_timeout_ms: u64,
    /// Whether the device sees the line go off-hook (an extension answering).
    pub reports_off_hook: bool,
    /// How many phone lines the device serves.
    pub lines: u8,
    /// Replies meaning "command refused" (some firmware says
    /// `COMMAND NOT SUPPORT`): the init sequence moves to the next fallback.
    pub error_replies: Vec<String>,
    /// Whether the device repeats the caller ID on every ring; otherwise a
    /// second caller ID while a call rings is the next caller.
    pub repeats_cid: bool,
    /// How the device writes caller names (Chinese exchanges send GBK).
    pub encoding: TextEncoding,
    /// A device that sends the name on its own line right after the number
    /// (`NMBR =` then `NAME =`): how long to wait for it, so the pop
    /// carries both. Only used when the grammar has a `cid_name` rule.
    pub name_wait_ms: u64,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            ring_timeout_ms: 7000,
            reports_off_hook: true,
            lines: 1,
            error_replies: vec!["ERROR".into()],
            repeats_cid: false,
            encoding: TextEncoding::Auto,
            name_wait_ms: 30,
        }
    }
}

/// The character encoding of a device's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoding {
    /// UTF-8 where the bytes are valid UTF-8, else GBK (what FSK names are).
    Auto,
    Utf8,
    Gbk,
    Ascii,
}

impl TextEncoding {
    /// Decodes device bytes; never fails (undecodable bytes become U+FFFD).
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            TextEncoding::Auto => match std::str::from_utf8(bytes) {
                Ok(s) => s.to_string(),
                Err(_) => encoding_rs::GBK.decode(bytes).0.into_owned(),
            },
            TextEncoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            TextEncoding::Gbk => encoding_rs::GBK.decode(bytes).0.into_owned(),
            TextEncoding::Ascii => bytes
                .iter()
                .map(|&b| if b.is_ascii() { b as char } else { '\u{FFFD}' })
                .collect(),
        }
    }
}

/// How a GSM modem's messages reach callpop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncomingMode {
    /// `+CMTI` then `AT+CMGR` and `AT+CMGD`: nothing is lost if callpop is
    /// down when the message arrives.
    Stored,
    /// `+CMT` with the PDU, acknowledged with `AT+CNMA` where required.
    Direct,
}

/// What the AT engine needs to know of a GSM modem model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GsmSettings {
    /// Time for an ordinary command's final answer.
    pub command_timeout_ms: u64,
    /// Time for `AT+CMGS` to answer after the PDU (the network is slow).
    pub send_timeout_ms: u64,
    /// Lines the modem sends on its own beyond the standard URCs
    /// (`^RSSI:`, `+WIND:`, `Call Ready`...): recognised and not mistaken
    /// for a command's answer.
    pub urc_prefixes: Vec<String>,
    /// `+CME`/`+CMS` codes meaning "not yet" (SIM busy, still starting):
    /// the command is repeated after `retry_after_ms`, up to `max_retries`.
    pub retry_codes: Vec<u16>,
    pub retry_after_ms: u64,
    pub max_retries: u32,
    /// `AT+CPIN?` answers `+CPIN: READY` without a final `OK`.
    pub cpin_without_ok: bool,
    /// Messages go in PDU mode; `false` falls back to text mode (no UCS2
    /// concatenation: for modems whose PDU mode is broken).
    pub pdu_mode: bool,
    pub incoming: IncomingMode,
    /// Seconds to wait for the missing parts of a long incoming message.
    pub concat_timeout_secs: u64,
}

impl Default for GsmSettings {
    fn default() -> Self {
        GsmSettings {
            command_timeout_ms: 5_000,
            send_timeout_ms: 60_000,
            urc_prefixes: Vec::new(),
            retry_codes: vec![14, 314, 515],
            retry_after_ms: 2_000,
            max_retries: 10,
            cpin_without_ok: false,
            pdu_mode: true,
            incoming: IncomingMode::Stored,
            concat_timeout_secs: 300,
        }
    }
}

/// How a device dials out, when it can: its commands and what its replies
/// mean. A profile without `[dial]` is a device that only listens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialSettings {
    /// The dial command: `{number}` the digits, `{line}` the port (1-based)
    /// on a multi-line box. `ATDT{number};` on a voice modem.
    pub command: String,
    /// Hangs up a call, or cancels one still dialling (`ATH`, `AT+CHUP`).
    pub hangup: String,
    /// Whether the device sees the far end answer (a GSM modem does; a
    /// voice modem beside the phone does not: its call stays "dialled"
    /// until the agent hangs up).
    pub sees_answer: bool,
    /// Whether the hang-up command refuses a ringing incoming call (a GSM
    /// modem's `ATH`): blacklisted callers are then hung up, not popped.
    #[serde(default)]
    pub rejects_calls: bool,
    /// A dialled call not answered within this long is given up (no
    /// answer) and hung up.
    #[serde(default = "default_no_answer_ms")]
    pub no_answer_ms: u64,
    /// Whether the device confirms a hang-up with its on-hook report (a
    /// box's `$1,ONHOOK`). Until that confirmation, what it says of a dial
    /// belongs to the dial it was told to drop, not to the next one an
    /// agent may already have started.
    #[serde(default)]
    pub confirms_hangup: bool,
    /// What the device's lines mean for a call it dials, first match wins.
    /// Named groups: `line` (the port), `value` (a failure's detail).
    #[serde(default)]
    pub replies: Vec<DialReplyRule>,
}

fn default_no_answer_ms() -> u64 {
    60_000
}

/// One reply of a dialling device and what it means.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialReplyRule {
    pub pattern: toml::Spanned<String>,
    pub means: crate::event::DialProgress,
}

/// A profile's dialling, its replies compiled.
#[derive(Debug, Clone)]
pub struct Dialer {
    pub settings: DialSettings,
    replies: Vec<(Regex, crate::event::DialProgress)>,
}

impl Dialer {
    /// What a device's line means for a call it dials, and on which port:
    /// `None` for a line that is no dial reply.
    pub fn reply(&self, text: &str) -> Option<(u8, crate::event::LineSignal)> {
        let (caps, progress) = self
            .replies
            .iter()
            .find_map(|(re, p)| re.captures(text).map(|c| (c, *p)))?;
        let port = match caps.name("line") {
            Some(m) => m.as_str().parse().ok()?,
            None => 1,
        };
        let detail = match caps.name("value") {
            Some(m) => Some(m.as_str().trim().to_string()),
            None if progress == crate::event::DialProgress::Failed => Some(text.to_string()),
            None => None,
        }
        .filter(|d| !d.is_empty());
        Some((port, crate::event::LineSignal::Dial { progress, detail }))
    }

    /// The dial command for `digits` on `port`.
    pub fn dial_command(&self, port: u8, digits: &str) -> String {
        self.settings
            .command
            .replace("{number}", digits)
            .replace("{line}", &port.to_string())
    }

    /// The hang-up command for `port`.
    pub fn hangup_command(&self, port: u8) -> String {
        self.settings.hangup.replace("{line}", &port.to_string())
    }
}

/// How the simulator imitates the device: output lines with placeholders
/// `{line} {number} {name} {mmdd} {hhmm} {digits}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimTemplates {
    pub ring: Vec<String>,
    pub cid: Vec<String>,
    pub cid_number_only: Vec<String>,
    pub private: Vec<String>,
    pub unavailable: Vec<String>,
    pub off_hook: Vec<String>,
    pub on_hook: Vec<String>,
    pub dtmf: Vec<String>,
    /// What the device says of a call it dials (`sim` plays the far end):
    /// taken, ringing, answered, busy, no answer, no dial tone, refused,
    /// the far end hanging up; and its reply to the hang-up command.
    /// `{line}` and `{number}` are filled in.
    pub dial_accepted: Vec<String>,
    pub dial_alerting: Vec<String>,
    pub dial_answered: Vec<String>,
    pub dial_busy: Vec<String>,
    pub dial_no_answer: Vec<String>,
    pub dial_no_dialtone: Vec<String>,
    pub dial_failed: Vec<String>,
    pub dial_far_hangup: Vec<String>,
    pub hung_up: Vec<String>,
    /// Channel seizure bytes sent before a caller-ID frame.
    pub seizure_bytes: Option<usize>,
}

/// A device model's profile, as written in its file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub kind: DeviceKind,
    #[serde(default)]
    pub description: String,
    /// The description in Chinese, for the admin console's zh-CN page.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description_zh: String,
    #[serde(default, rename = "match")]
    pub matching: MatchRules,
    #[serde(default)]
    pub serial: SerialSettings,
    #[serde(default)]
    pub init: Vec<InitStep>,
    #[serde(default)]
    pub framing: Framing,
    #[serde(default)]
    pub grammar: Vec<GrammarRule>,
    #[serde(default)]
    pub quirks: Quirks,
    /// For `kind = "gsm-modem"`.
    #[serde(default)]
    pub gsm: GsmSettings,
    #[serde(default)]
    pub sim: SimTemplates,
    /// The sound card a box's recording side shows up as.
    #[serde(default)]
    pub audio: AudioSettings,
    /// For `kind = "audio-box"`: what its audio is listened for, and how
    /// the line's state is read from it.
    #[serde(default)]
    pub listen: ListenSettings,
    /// How it dials out, if it can.
    #[serde(default)]
    pub dial: Option<DialSettings>,
}

/// How an audio box (a sound card on the line, nothing else) reads the
/// line: caller ID from the audio, and the call's course from what is
/// heard, since it sees neither rings nor hook switches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenSettings {
    /// Caller-ID standards sent on the box's lines.
    pub standards: Vec<crate::dsp::listener::CidStandard>,
    /// Sound on the line for this long after a caller ID: answered.
    pub answer_after_voice_ms: u64,
    /// Silence this long in a call: hung up.
    pub hangup_after_silence_ms: u64,
    /// Tones meaning the far end hung up (Chinese exchanges play busy).
    pub hangup_tones: Vec<crate::dsp::tones::ToneKind>,
    /// A 20 ms block this loud (dBFS) is sound rather than line noise.
    pub voice_threshold_dbfs: f64,
    /// Seizure characters needed before an FSK message.
    pub min_seizure: usize,
    /// FSK weaker than this (dBm0) is line noise or crosstalk, not a
    /// caller ID (the standards' receivers ignore it below about −48).
    pub squelch_dbm0: f64,
}

impl Default for ListenSettings {
    fn default() -> Self {
        use crate::dsp::tones::ToneKind;
        ListenSettings {
            standards: crate::dsp::listener::CidStandard::ALL.to_vec(),
            answer_after_voice_ms: 1500,
            hangup_after_silence_ms: 10_000,
            hangup_tones: vec![ToneKind::Busy, ToneKind::Congestion],
            voice_threshold_dbfs: -45.0,
            min_seizure: crate::dsp::listener::MIN_SEIZURE,
            squelch_dbm0: crate::dsp::fsk::SQUELCH_DBM0,
        }
    }
}

/// How the system names a box's audio side (many USB telephone boxes are
/// a serial port and a sound card in one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioSettings {
    /// Part of the capture device's name, e.g. "USB Audio CODEC".
    pub capture: Option<String>,
}

/// What the system knows of a USB serial port, for matching profiles.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsbInfo {
    pub id: Option<UsbId>,
    pub serial_number: Option<String>,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
}

impl MatchRules {
    /// How well a port fits: 2 for its USB id, 1 for a manufacturer or
    /// product word, 0 for nothing.
    pub fn score(&self, usb: &UsbInfo) -> u8 {
        if usb.id.is_some_and(|id| self.usb.contains(&id)) {
            return 2;
        }
        let has = |field: &Option<String>, words: &[String]| {
            field.as_deref().is_some_and(|f| {
                let f = f.to_lowercase();
                words.iter().any(|w| f.contains(&w.to_lowercase()))
            })
        };
        u8::from(has(&usb.manufacturer, &self.manufacturer) || has(&usb.product, &self.product))
    }
}

/// The profiles that fit a port, best first (several chips share ids, so
/// this is a suggestion for the admin, not a decision).
pub fn candidates<'a>(
    profiles: &'a BTreeMap<String, LoadedProfile>,
    usb: &UsbInfo,
) -> Vec<&'a str> {
    let mut scored: Vec<(u8, &str)> = profiles
        .values()
        .map(|p| (p.profile.matching.score(usb), p.profile.name.as_str()))
        .filter(|(s, _)| *s > 0)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().map(|(_, n)| n).collect()
}

/// A profile problem, with the line of the file it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub source: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.source, self.message),
            None => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

impl std::error::Error for ProfileError {}

/// A profile ready to run: its grammar compiled.
#[derive(Debug, Clone)]
pub struct LoadedProfile {
    pub profile: Profile,
    pub grammar: Vec<(Regex, RuleEvent)>,
    /// Its dialling, when it can dial.
    pub dialer: Option<Dialer>,
    /// Where it came from: `embedded` or a file path.
    pub origin: String,
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].matches('\n').count() + 1
}

/// Parses and validates a profile; `source` names it in errors.
pub fn parse(text: &str, source: &str) -> Result<LoadedProfile, ProfileError> {
    let err = |line: Option<usize>, message: String| ProfileError {
        source: source.to_string(),
        line,
        message,
    };
    let profile: Profile = toml::from_str(text).map_err(|e| {
        err(
            e.span().map(|s| line_of(text, s.start)),
            e.message().to_string(),
        )
    })?;
    if profile.name.trim().is_empty() || profile.name.contains(char::is_whitespace) {
        return Err(err(
            key_line(text, "name"),
            format!(
                "name {:?} must be one word, like \"text-box-4port\"",
                profile.name
            ),
        ));
    }
    let s = &profile.serial;
    if !(5..=8).contains(&s.data_bits) || !(1..=2).contains(&s.stop_bits) || s.baud == 0 {
        return Err(err(
            key_line(text, "baud"),
            "serial settings out of range (data_bits 5-8, stop_bits 1-2, baud > 0)".into(),
        ));
    }
    if profile.quirks.lines == 0 {
        return Err(err(
            key_line(text, "lines"),
            "quirks.lines must be at least 1".into(),
        ));
    }
    let mut grammar = Vec::new();
    for rule in &profile.grammar {
        let line = Some(line_of(text, rule.pattern.span().start));
        let regex = Regex::new(rule.pattern.get_ref())
            .map_err(|e| err(line, format!("bad pattern: {e}")))?;
        let names: Vec<&str> = regex.capture_names().flatten().collect();
        if let Some(unknown) = names
            .iter()
            .find(|n| !matches!(**n, "line" | "value" | "name" | "datetime"))
        {
            return Err(err(
                line,
                format!("unknown group (?P<{unknown}>): use line, value, name or datetime"),
            ));
        }
        let needs_value = matches!(
            rule.event,
            RuleEvent::CidNumber
                | RuleEvent::CidName
                | RuleEvent::CidDate
                | RuleEvent::CidTime
                | RuleEvent::CidMessage
                | RuleEvent::Dtmf
        );
        if needs_value && !names.contains(&"value") {
            return Err(err(
                line,
                format!("event {:?} needs a (?P<value>...) group", rule.event),
            ));
        }
        grammar.push((regex, rule.event));
    }
    let lines_needed = matches!(profile.kind, DeviceKind::VoiceModem | DeviceKind::TextBox);
    if lines_needed && !matches!(profile.framing, Framing::Lines { .. }) {
        return Err(err(
            key_line(text, "mode"),
            "this kind reads text lines: framing mode must be \"lines\"".into(),
        ));
    }
    if lines_needed && grammar.is_empty() {
        return Err(err(
            None,
            "a line-reading device needs [[grammar]] rules".into(),
        ));
    }
    if profile.kind == DeviceKind::GsmModem {
        let g = &profile.gsm;
        if g.command_timeout_ms == 0 || g.send_timeout_ms < g.command_timeout_ms {
            return Err(err(
                key_line(text, "send_timeout_ms").or(key_line(text, "command_timeout_ms")),
                "gsm timeouts: command_timeout_ms must be above 0 and send_timeout_ms at least as long".into(),
            ));
        }
        if !profile
            .init
            .iter()
            .any(|s| s.send.to_ascii_uppercase().starts_with("AT+CMGF"))
        {
            return Err(err(
                None,
                "a GSM modem's [[init]] must choose the message format (AT+CMGF=0 for PDU mode)"
                    .into(),
            ));
        }
    }
    let dialer = match &profile.dial {
        None => None,
        Some(d) => {
            let place = key_line(text, "command");
            if !d.command.contains("{number}") {
                return Err(err(
                    place,
                    "[dial] command needs {number} where the digits go".into(),
                ));
            }
            if d.hangup.trim().is_empty() {
                return Err(err(place, "[dial] needs a hangup command".into()));
            }
            if profile.kind == DeviceKind::AudioBox || profile.kind == DeviceKind::FskModule {
                return Err(err(
                    place,
                    "this kind of device only listens: it has no [dial]".into(),
                ));
            }
            let mut replies = Vec::new();
            for rule in &d.replies {
                let line = Some(line_of(text, rule.pattern.span().start));
                let regex = Regex::new(rule.pattern.get_ref())
                    .map_err(|e| err(line, format!("bad pattern: {e}")))?;
                if let Some(unknown) = regex
                    .capture_names()
                    .flatten()
                    .find(|n| !matches!(*n, "line" | "value"))
                {
                    return Err(err(
                        line,
                        format!("unknown group (?P<{unknown}>): use line or value"),
                    ));
                }
                replies.push((regex, rule.means));
            }
            if replies.is_empty() {
                return Err(err(
                    place,
                    "[dial] needs [[dial.replies]]: how else would the call's course be known?"
                        .into(),
                ));
            }
            Some(Dialer {
                settings: d.clone(),
                replies,
            })
        }
    };
    Ok(LoadedProfile {
        profile,
        grammar,
        dialer,
        origin: source.to_string(),
    })
}

/// The line of the first `key = ...` in the text, for semantic errors.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

include!(concat!(env!("OUT_DIR"), "/profiles.rs"));

/// All profiles: the ones shipped in the binary, replaced or joined by
/// those in `user_dir`. Errors in user files are returned, not skipped.
pub fn load_all(user_dir: Option<&Path>) -> Result<BTreeMap<String, LoadedProfile>, ProfileError> {
    let mut all = BTreeMap::new();
    for (file, text) in EMBEDDED_PROFILES {
        let p = parse(text, &format!("firmware-profiles/{file} (embedded)"))?;
        all.insert(p.profile.name.clone(), p);
    }
    if let Some(dir) = user_dir {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| ProfileError {
                source: dir.display().to_string(),
                line: None,
                message: format!("cannot read profile directory: {e}"),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for path in files {
            let p = load_file(&path)?;
            all.insert(p.profile.name.clone(), p);
        }
    }
    Ok(all)
}

/// Loads one profile file.
pub fn load_file(path: &Path) -> Result<LoadedProfile, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ProfileError {
        source: path.display().to_string(),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    parse(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GSM_PROFILES: [&str; 6] = [
        "simcom-sim800",
        "huawei-e1752",
        "wavecom-q24",
        "siemens-mc35i",
        "quectel",
        "zte-mf",
    ];

    #[test]
    fn every_shipped_profile_is_valid() {
        let all = load_all(None).unwrap();
        let line_devices = ["generic-voice-modem", "ht9032-fsk-module", "text-box-4port"];
        for name in line_devices.iter().chain(&GSM_PROFILES) {
            assert!(all.contains_key(*name), "{name} shipped");
        }
    }

    #[test]
    fn gsm_profiles_carry_their_quirks_as_data() {
        let all = load_all(None).unwrap();
        for name in GSM_PROFILES {
            let p = &all[name].profile;
            assert_eq!(p.kind, DeviceKind::GsmModem, "{name}");
            assert!(
                p.init.iter().any(|s| s.send == "AT+CMGF=0"),
                "{name} uses PDU mode"
            );
            assert!(
                p.init.iter().any(|s| s.send == "AT+CLIP=1"),
                "{name} reports callers"
            );
        }
        assert!(all["huawei-e1752"]
            .profile
            .quirks
            .error_replies
            .contains(&"COMMAND NOT SUPPORT".to_string()));
        assert!(all["huawei-e1752"].profile.gsm.cpin_without_ok);
        assert!(all["simcom-sim800"].profile.gsm.retry_codes.contains(&515));
        assert!(all["siemens-mc35i"]
            .profile
            .init
            .iter()
            .any(|s| s.send == "AT^SM20=0,0"));
        let no_format = "name = \"g\"\nkind = \"gsm-modem\"\n[[init]]\nsend = \"AT\"\n";
        assert!(parse(no_format, "g.toml")
            .unwrap_err()
            .message
            .contains("AT+CMGF"));
        let bad_timeouts = "name = \"g\"\nkind = \"gsm-modem\"\n[[init]]\nsend = \"AT+CMGF=0\"\n[gsm]\ncommand_timeout_ms = 5000\nsend_timeout_ms = 100\n";
        let e = parse(bad_timeouts, "g.toml").unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
    }

    #[test]
    fn a_bad_pattern_names_its_line() {
        let text = "name = \"x\"\nkind = \"text-box\"\n\n[[grammar]]\npattern = '^RING('\nevent = \"ring\"\n";
        let e = parse(text, "x.toml").unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.to_string().starts_with("x.toml:5: bad pattern"), "{e}");
    }

    #[test]
    fn a_wrong_type_names_its_line() {
        let text = "name = \"x\"\nkind = \"text-box\"\n[serial]\nbaud = \"fast\"\n";
        let e = parse(text, "x.toml").unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
    }

    #[test]
    fn unknown_kind_and_missing_value_group_are_refused() {
        let e = parse("name = \"x\"\nkind = \"fax\"\n", "x.toml").unwrap_err();
        assert!(e.message.contains("fax"), "{e}");
        let text = "name = \"x\"\nkind = \"text-box\"\n[[grammar]]\npattern = '^CID (\\d+)$'\nevent = \"cid_number\"\n";
        let e = parse(text, "x.toml").unwrap_err();
        assert!(e.message.contains("(?P<value>"), "{e}");
        assert_eq!(e.line, Some(4));
    }

    #[test]
    fn ports_match_profiles_by_id_then_by_words() {
        let all = load_all(None).unwrap();
        let ch340 = UsbInfo {
            id: Some("1a86:7523".parse().unwrap()),
            ..UsbInfo::default()
        };
        // A CH340 bridge sits in front of FSK modules and SIM800 boards
        // alike: both are offered, for the admin to choose.
        assert_eq!(
            candidates(&all, &ch340),
            vec!["ht9032-fsk-module", "simcom-sim800"]
        );
        let huawei = UsbInfo {
            id: Some("12d1:1436".parse().unwrap()),
            ..UsbInfo::default()
        };
        assert_eq!(candidates(&all, &huawei), vec!["huawei-e1752"]);
        let usr = UsbInfo {
            manufacturer: Some("U.S. Robotics".into()),
            ..UsbInfo::default()
        };
        assert_eq!(candidates(&all, &usr), vec!["generic-voice-modem"]);
        assert!(candidates(&all, &UsbInfo::default()).is_empty());
    }

    #[test]
    fn usb_ids_parse_and_print() {
        let id: UsbId = "1A86:7523".parse().unwrap();
        assert_eq!(id.to_string(), "1a86:7523");
        assert!("1a86".parse::<UsbId>().is_err());
    }
}
