//! The daemon's settings: one TOML file, overridden by `CALLPOP_*`
//! environment variables, overridden by flags. Validated once at start so a
//! mistake is reported with its source (file and line, variable or flag) and
//! the key, instead of surfacing hours later as odd behaviour.

use crate::phone::{self, NormalizerSettings};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Prefix of the environment variables that override config keys;
/// `CALLPOP_PHONE__SUFFIX_DIGITS=6` sets `phone.suffix_digits`.
pub const ENV_PREFIX: &str = "CALLPOP_";
/// Environment variables with the prefix that are not config keys.
const ENV_RESERVED: &[&str] = &["CALLPOP_CONFIG"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Every setting of the daemon. Each field's doc is what `examples/callpop.toml` explains.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the database and other state live; default: the user's data dir.
    pub data_dir: Option<PathBuf>,
    /// SQLite database file; default: `<data_dir>/callpop.db`.
    pub db: Option<PathBuf>,
    pub log_format: LogFormat,
    /// tracing filter in `RUST_LOG` syntax; empty means `RUST_LOG` or `info`.
    pub log: String,
    pub phone: PhoneConfig,
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub calls: CallsConfig,
    /// Extra firmware profiles (one TOML a model); they replace shipped ones of the same name.
    pub profile_dir: Option<PathBuf>,
    /// The telephone boxes and modems to run.
    #[serde(rename = "device")]
    pub devices: Vec<DeviceConfig>,
    pub screen_pop: ScreenPopConfig,
    pub sms: SmsConfig,
    pub recording: RecordingConfig,
    /// Lines' audio sources, for recording.
    #[serde(rename = "audio")]
    pub audio: Vec<AudioConfig>,
    /// Which desktops each line pops on (the admin API can change them).
    #[serde(rename = "binding")]
    pub bindings: Vec<BindingConfig>,
    /// The exchange's call-progress tones, for audio boxes.
    pub call_progress: CallProgressConfig,
    pub reports: ReportsConfig,
    /// How lines dial out (outside-line prefix, area code, IP prefix,
    /// allowed and forbidden prefixes), and each line's changes to it.
    pub dial_plan: crate::dial_plan::DialPlanConfig,
    /// Lines a team dials out on besides its agents' own (GSM modems...).
    #[serde(rename = "dial_pool")]
    pub dial_pools: Vec<DialPoolConfig>,
    pub webhooks: WebhooksConfig,
    pub api: ApiConfig,
    /// The center's own CRMs, looked up beside the local store.
    #[serde(rename = "crm")]
    pub crms: Vec<CrmConfig>,
}

/// One CRM to look callers up in: `[[crm]] connector = "espocrm"` (a file
/// of `crm-connectors/`, or a path to the center's own) with its settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmConfig {
    pub connector: String,
    /// What admins and pops call it (default: the connector's name).
    #[serde(default)]
    pub name: Option<String>,
    /// The settings the connector asks for. A string `"${NAME}"` is read
    /// from the environment variable NAME (keep secrets out of the file).
    #[serde(default)]
    pub settings: std::collections::BTreeMap<String, toml::Value>,
}

/// Other systems' use of the API from their own web pages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Origins of pages that may call the API with a token and open a
    /// desktop with a ticket (`callpop.js` in a web CRM), such as
    /// `https://crm.example.com`: exact scheme, host and port. Cookies are
    /// never honoured from them; without any, only callpop's own pages
    /// and programs that are not browsers reach the API.
    pub allowed_origins: Vec<String>,
}

impl ApiConfig {
    /// Checks that every origin is `scheme://host[:port]` and nothing more.
    pub fn validate(&self) -> Result<(), String> {
        for origin in &self.allowed_origins {
            let ok = origin.split_once("://").is_some_and(|(scheme, authority)| {
                matches!(scheme, "http" | "https")
                    && !authority.is_empty()
                    && !authority.contains(['/', '?', '#', ' ', '*'])
            });
            if !ok {
                return Err(format!(
                    "{origin:?} is not an origin: give scheme, host and port only, \
                     like \"https://crm.example.com\" (no path, no wildcard)"
                ));
            }
        }
        Ok(())
    }
}

/// A team's lines for outbound calls: `[[dial_pool]] team = "sales"`,
/// `lines = ["gsm1/1"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialPoolConfig {
    pub team: String,
    pub lines: Vec<String>,
}

/// How webhook deliveries are tried (endpoints are managed in the console).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Wait before the first retry of a failed delivery; each later retry
    /// waits twice as long (at most an hour), for a day.
    pub retry_first_secs: u64,
    /// How long a receiver may take to answer before the try counts as failed.
    pub timeout_secs: u64,
    /// The console's address as people reach it (`http://192.168.1.10:8080`):
    /// 企业微信/钉钉 group messages link to it (claim a missed call, open a
    /// work order). Without it the messages carry no links.
    pub console_url: Option<String>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            retry_first_secs: 10,
            timeout_secs: 10,
            console_url: None,
        }
    }
}

/// Statistics and the wallboard.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// Service level: the share of calls answered within this many seconds.
    pub service_level_secs: u32,
    /// The call center's UTC offset ("+08:00"), which cuts intervals, days
    /// and months; default: this machine's local offset.
    pub utc_offset: Option<String>,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            service_level_secs: 20,
            utc_offset: None,
        }
    }
}

impl ReportsConfig {
    /// The offset intervals are cut in.
    pub fn offset(&self) -> Result<chrono::FixedOffset, String> {
        match &self.utc_offset {
            Some(s) => s
                .parse()
                .map_err(|_| format!("{s:?} is not an offset like +08:00")),
            None => Ok(*chrono::Local::now().offset()),
        }
    }
}

/// The call-progress tones audio boxes listen for: a built-in plan, with
/// tones given here replacing the plan's of the same kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallProgressConfig {
    /// `cn` (450 Hz), `us` or `etsi`.
    pub plan: String,
    #[serde(rename = "tone")]
    pub tones: Vec<crate::dsp::tones::ToneSpec>,
}

impl Default for CallProgressConfig {
    fn default() -> Self {
        CallProgressConfig {
            plan: "cn".into(),
            tones: Vec::new(),
        }
    }
}

impl CallProgressConfig {
    /// The plan with the configured tones in place of its own.
    pub fn tones(&self) -> anyhow::Result<Vec<crate::dsp::tones::ToneSpec>> {
        let mut plan = crate::dsp::tones::plan(&self.plan).ok_or_else(|| {
            anyhow::anyhow!(
                "call_progress.plan {:?}: known plans are {}",
                self.plan,
                crate::dsp::tones::PLANS.join(", ")
            )
        })?;
        for t in &self.tones {
            if t.frequencies.is_empty() || t.frequencies.len() > 2 {
                anyhow::bail!(
                    "call_progress.tone {:?}: give one or two frequencies",
                    t.kind
                );
            }
            if t.cadence.len() % 2 == 1 || t.cadence.contains(&0) {
                anyhow::bail!(
                    "call_progress.tone {:?}: cadence is on/off pairs of ms above 0",
                    t.kind
                );
            }
            plan.retain(|p| p.kind != t.kind);
            plan.push(t.clone());
        }
        Ok(plan)
    }
}

/// A line bound to one agent or to a team (every ready agent in it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingConfig {
    pub line: String,
    pub agent: Option<String>,
    pub team: Option<String>,
}

/// Screen-pops and agent desktops.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScreenPopConfig {
    /// The work-order form a pop offers (its key in the store).
    pub form: String,
    /// After-call work after a work order is saved, in seconds; 0 goes
    /// straight back to ready.
    pub after_call_secs: u64,
    /// The longest after-call work, in seconds, counted from the call's
    /// end, saved or not: an agent who never saves is ready again after
    /// it (0: no limit).
    pub after_call_max_secs: u64,
    /// Seconds between heartbeats; a desktop silent for three is dropped.
    pub heartbeat_secs: u64,
    /// Server messages kept per session for a reconnecting desktop.
    pub replay_log: usize,
    /// Messages queued for one desktop, beyond a replay's worth, before it
    /// counts as too slow and is disconnected (it resumes when it reconnects).
    pub send_queue: usize,
    /// How long a login lasts, in hours.
    pub session_hours: u64,
    /// A login unused this many minutes ends (0: never); an open desktop
    /// that heartbeats counts as use.
    pub session_idle_minutes: u64,
    /// Wrong passwords for one username answered at once; each further
    /// try waits 1 s, then 2 s, 4 s ... up to 30 s.
    pub login_free_failures: u32,
    /// Wrong passwords in a row that lock the username (0: never).
    pub login_lock_after: u32,
    /// How long such a lock lasts.
    pub login_lock_minutes: u64,
}

impl Default for ScreenPopConfig {
    fn default() -> Self {
        ScreenPopConfig {
            form: "service".into(),
            after_call_secs: 30,
            after_call_max_secs: 180,
            heartbeat_secs: 15,
            replay_log: 256,
            send_queue: 256,
            session_hours: 12,
            session_idle_minutes: 120,
            login_free_failures: 3,
            login_lock_after: 10,
            login_lock_minutes: 15,
        }
    }
}

/// Call recording.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingConfig {
    /// Where the WAV files go (`YYYY/MM/DD/<call>.wav` below it); default:
    /// `recordings/` beside the database.
    pub root: Option<PathBuf>,
    /// Samples a second of the files written (8000 for telephone audio).
    pub sample_rate: u32,
    /// When a call's recording begins: `answer` (or off-hook for an
    /// outbound call), or `ring` to keep the rings too.
    pub start: RecordingStart,
    /// Recordings older than this many days are removed (0 keeps them
    /// forever); those held for quality checking stay.
    pub retention_days: u32,
    /// Removed recordings are moved here (same `YYYY/MM/DD` layout)
    /// instead of deleted.
    pub archive: Option<PathBuf>,
}

/// The moment a recording begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingStart {
    Answer,
    Ring,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        RecordingConfig {
            root: None,
            sample_rate: 8000,
            start: RecordingStart::Answer,
            retention_days: 0,
            archive: None,
        }
    }
}

/// A line's audio source, for recording: a capture device by name
/// pattern, or a file (WAV or raw 16-bit) or stdin (`file = "-"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioConfig {
    /// The line, as `<device>/<port>` (`callpop devices` lists them).
    pub line: String,
    /// Part of the capture device's name (`callpop devices audio` lists
    /// them); without `capture` or `file`, the line's profile names it.
    pub capture: Option<String>,
    pub file: Option<PathBuf>,
    /// Rate of a raw file or stdin; for a capture device, the rate to open
    /// it at (default: the recording's rate if the device offers it).
    pub rate: Option<u32>,
    /// Which channel of a multi-channel device or file is this line's.
    #[serde(default)]
    pub channel: u16,
    /// `realtime` or `fast`, for a file or stdin.
    #[serde(default)]
    pub pace: Pace,
    /// Play the file again from the start when it ends.
    #[serde(default, rename = "loop")]
    pub looped: bool,
}

/// Sending SMS through the GSM modems.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// Ask the network for a delivery report of every part.
    pub status_reports: bool,
    /// How long the service centre keeps trying, in minutes (5 to 63 weeks);
    /// 0 leaves it to the centre.
    pub validity_minutes: u32,
    /// Tries of a part that certainly did not leave (SIM busy, network
    /// congested) before it counts as failed.
    pub max_attempts: u32,
    /// Wait before the first retry, in seconds; it doubles with each
    /// further try, up to ten minutes.
    pub retry_after_secs: u64,
    /// Local hours in which campaign messages leave, `HH:MM-HH:MM`; a
    /// campaign may narrow it. Single messages are not held.
    pub window: String,
    /// Appended to every campaign message unless the campaign says otherwise.
    pub opt_out_suffix: String,
    /// A reply that is exactly one of these (case and punctuation ignored)
    /// opts its sender out of every later campaign message.
    pub opt_out_keywords: Vec<String>,
    /// Parts a marketer may start per calendar month unless an admin set
    /// their own quota. Admins have none.
    pub monthly_quota: u64,
    /// Parts a modem sends per minute at most; 0: as fast as it can. A
    /// `[[device]]` may set its own `sms_rate_per_minute`.
    pub rate_per_minute: u32,
    /// Parts a SIM sends per day at most (operators block SIMs that send
    /// too many); 0: no cap. A `[[device]]` may set its own `sms_daily_cap`.
    pub daily_cap: u32,
    /// A modem with a SIM-level fault (no credit, barred, SIM failure) rests
    /// this long before it is tried again; others carry its parts meanwhile.
    pub modem_rest_secs: u64,
    /// A long message half sent by a modem that is down this long has its
    /// remaining parts sent by another (the handset then cannot join them).
    pub failover_after_secs: u64,
    /// Parts of a running campaign kept in the send queue ahead of the
    /// modems; the rest wait as recipients, so a pause takes effect at once.
    pub campaign_queue_ahead: u32,
    /// Price per part of numbers of no carrier below, in yuan.
    pub default_price: f64,
    /// Carriers' prices, for cost estimates: a number's carrier comes from
    /// the number data (号段), or from a carrier's own `prefixes`.
    #[serde(rename = "carrier")]
    pub carriers: Vec<Carrier>,
    /// Messages callpop sends by itself after calls (`[sms.after_call]`).
    pub after_call: AfterCallConfig,
}

/// SMS on call events: each message is off while its text is empty. They
/// go through the queue like any message, to mobile numbers only, inside
/// `[sms] window` (held until it opens), never to a number that opted out
/// or is blacklisted, and at most `daily_cap` a day between them.
///
/// Merge fields: `{name}` (the customer, or the caller's name), `{number}`
/// (the caller's number), `{agent}` (who took the call), `{work_order}` (the
/// receipt's work-order number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AfterCallConfig {
    /// To a caller whose missed call nobody called back (or who did not
    /// get through) within `apology_after_secs`.
    pub apology: String,
    pub apology_after_secs: u64,
    /// To the caller when a work order is saved for their call.
    pub receipt: String,
    /// After an answered call of at least `survey_min_talk_secs`: a reply
    /// of 1 to 5 within `survey_reply_hours` is stored as the call's score.
    pub survey: String,
    pub survey_min_talk_secs: u64,
    pub survey_reply_hours: u64,
    /// A survey the window held for longer than this is not sent: asked
    /// the next morning, nobody remembers the call.
    pub survey_late_mins: u64,
    /// At most this many of these messages a day, all kinds together.
    pub daily_cap: u32,
}

impl AfterCallConfig {
    /// The merge fields the texts may use.
    pub const FIELDS: &[&str] = &["name", "number", "agent", "work_order"];

    /// The apology, receipt and survey texts parsed (`None` where one is
    /// off), or the key of the first that is wrong and why.
    pub fn templates(
        &self,
    ) -> Result<
        [Option<crate::domain::template::Template>; 3],
        (&'static str, crate::domain::template::TemplateError),
    > {
        use crate::domain::template::Template;
        let known = Self::FIELDS.iter().map(|f| f.to_string()).collect();
        let one = |key: &'static str, text: &str| {
            if text.trim().is_empty() {
                return Ok(None);
            }
            let t = Template::parse(text).map_err(|e| (key, e))?;
            t.check_fields(&known).map_err(|e| (key, e))?;
            Ok(Some(t))
        };
        Ok([
            one("sms.after_call.apology", &self.apology)?,
            one("sms.after_call.receipt", &self.receipt)?,
            one("sms.after_call.survey", &self.survey)?,
        ])
    }
}

impl Default for AfterCallConfig {
    fn default() -> Self {
        AfterCallConfig {
            apology: String::new(),
            apology_after_secs: 600,
            receipt: String::new(),
            survey: String::new(),
            survey_min_talk_secs: 20,
            survey_reply_hours: 24,
            survey_late_mins: 120,
            daily_cap: 500,
        }
    }
}

/// A carrier's price per part, the names the number data knows it by,
/// and number ranges of its own where the data is silent or wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Carrier {
    pub name: String,
    /// Other names of the carrier in the number data ("中国移动").
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Leading digits of national numbers that are this carrier's whatever
    /// the number data says; the longest match of all carriers wins.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Yuan per part.
    pub price: f64,
}

fn carrier(name: &str, alias: &str, price: f64) -> Carrier {
    Carrier {
        name: name.into(),
        aliases: vec![alias.into()],
        prefixes: vec![],
        price,
    }
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            status_reports: true,
            validity_minutes: 24 * 60,
            max_attempts: 5,
            retry_after_secs: 30,
            window: "08:00-21:00".into(),
            opt_out_suffix: "回T退订".into(),
            opt_out_keywords: ["T", "TD", "N", "R", "退订", "取消", "STOP", "UNSUBSCRIBE"]
                .map(String::from)
                .into(),
            monthly_quota: 10_000,
            rate_per_minute: 0,
            daily_cap: 0,
            modem_rest_secs: 300,
            failover_after_secs: 120,
            campaign_queue_ahead: 500,
            default_price: 0.05,
            carriers: vec![
                carrier("China Mobile", "中国移动", 0.05),
                carrier("China Unicom", "中国联通", 0.035),
                carrier("China Telecom", "中国电信", 0.05),
                carrier("China Broadnet", "中国广电", 0.05),
            ],
            after_call: AfterCallConfig::default(),
        }
    }
}

/// One device: a name (lines are `<name>/<port>`), how to find its port,
/// and a profile. Give `path` or `usb_serial`, never `/dev/ttyUSBn`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    pub name: String,
    /// `/dev/serial/by-id/...` or a udev symlink: stays the same across replugs.
    pub path: Option<PathBuf>,
    /// The USB serial number, looked up among the ports at every (re)open.
    pub usb_serial: Option<String>,
    pub profile: String,
    /// A GSM modem's own `sms.rate_per_minute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_rate_per_minute: Option<u32>,
    /// A GSM modem's own `sms.daily_cap` (per SIM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_daily_cap: Option<u32>,
}

/// How calls are judged.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallsConfig {
    /// Rings after which an unanswered call counts as missed, not abandoned.
    pub missed_after_rings: u32,
    /// Longest call believed; ends calls whose end was never seen.
    pub max_call_secs: u64,
    /// A missed caller is due to be called back within this many minutes
    /// (overdue items are marked for agents and team leads).
    pub callback_within_mins: u64,
}

impl Default for CallsConfig {
    fn default() -> Self {
        CallsConfig {
            missed_after_rings: 4,
            max_call_secs: 4 * 3600,
            callback_within_mins: 30,
        }
    }
}

/// The database connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// SQLite page cache in MiB: lookups stay in memory when the number index
    /// and the hot customer rows fit (about 1 GiB for 10 million customers).
    pub cache_mb: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { cache_mb: 256 }
    }
}

/// How numbers are normalised and matched.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhoneConfig {
    /// Region assumed for numbers without a country code.
    pub region: String,
    /// Area code given to local numbers stored without one (e.g. "010").
    pub default_area_code: Option<String>,
    /// Carrier IP-dialing prefixes stripped in front of numbers.
    pub strip_prefixes: Vec<String>,
    /// A newer copy of the number data (归属地, carriers; the format of
    /// `data/numbers/cn.tsv`) than the one built in.
    pub number_data: Option<PathBuf>,
    /// How many trailing digits the suffix rule compares.
    pub suffix_digits: usize,
    /// More customers than this sharing a suffix is noise, not a match.
    pub suffix_max_matches: usize,
}

/// The HTTP and websocket server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// HTTPS: the certificate chain (PEM); with `tls_key`, or neither.
    pub tls_cert: Option<PathBuf>,
    /// HTTPS: the certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: None,
            db: None,
            log_format: LogFormat::Text,
            log: String::new(),
            phone: PhoneConfig::default(),
            server: ServerConfig::default(),
            store: StoreConfig::default(),
            calls: CallsConfig::default(),
            profile_dir: None,
            devices: Vec::new(),
            screen_pop: ScreenPopConfig::default(),
            sms: SmsConfig::default(),
            recording: RecordingConfig::default(),
            audio: Vec::new(),
            bindings: Vec::new(),
            call_progress: CallProgressConfig::default(),
            reports: ReportsConfig::default(),
            dial_plan: Default::default(),
            dial_pools: Vec::new(),
            webhooks: WebhooksConfig::default(),
            api: ApiConfig::default(),
            crms: Vec::new(),
        }
    }
}

impl Default for PhoneConfig {
    fn default() -> Self {
        PhoneConfig {
            region: "CN".into(),
            default_area_code: None,
            strip_prefixes: phone::default_strip_prefixes(),
            number_data: None,
            suffix_digits: 8,
            suffix_max_matches: 3,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// Where a setting came from, so errors can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(p) => write!(f, "config file {}", p.display()),
            Origin::Env(v) => write!(f, "environment variable {v}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// A bad setting: where it came from, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub origin: Option<Origin>,
    pub key: Option<String>,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad configuration")?;
        if let Some(o) = &self.origin {
            write!(f, " in {o}")?;
        }
        if let Some(l) = self.line {
            write!(f, ", line {l}")?;
        }
        if let Some(k) = &self.key {
            write!(f, ", key `{k}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// One override from a flag: a dotted key and a value in TOML syntax (or a bare string).
#[derive(Debug, Clone)]
pub struct Override {
    pub key: String,
    pub value: String,
    pub origin: Origin,
}

impl Override {
    /// Parses `--set key.path=value`.
    pub fn parse_set(arg: &str) -> Result<Override, String> {
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| format!("--set takes KEY=VALUE, got {arg:?}"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("--set takes KEY=VALUE, got {arg:?}"));
        }
        Ok(Override {
            key: key.to_string(),
            value: value.to_string(),
            origin: Origin::Flag(format!("--set {key}")),
        })
    }

    /// A dedicated flag such as `--db`, stored under its config key.
    pub fn flag(flag: &str, key: &str, value: impl Into<String>) -> Override {
        Override {
            key: key.into(),
            value: value.into(),
            origin: Origin::Flag(flag.into()),
        }
    }
}

/// Loads the config: defaults, then the file, then `env`, then `overrides`
/// (in order, later wins), then validates.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: &[Override],
) -> Result<Config, ConfigError> {
    let mut tree = toml::Table::new();
    let mut origins: BTreeMap<String, Origin> = BTreeMap::new();
    let mut file_text = None;
    if let Some(path) = file {
        let origin = Origin::File(path.to_path_buf());
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: Some(origin.clone()),
            key: None,
            line: None,
            message: format!("cannot read it: {e}"),
        })?;
        tree = text.parse::<toml::Table>().map_err(|e| ConfigError {
            origin: Some(origin.clone()),
            key: None,
            line: e.span().map(|s| line_of(&text, s.start)),
            message: e.message().to_string(),
        })?;
        record_origins(&tree, "", &origin, &mut origins);
        file_text = Some(text);
    }
    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX) && !ENV_RESERVED.contains(&k.as_str()))
        .collect();
    env.sort();
    for (var, value) in env {
        let key = var[ENV_PREFIX.len()..]
            .to_ascii_lowercase()
            .replace("__", ".");
        apply(&mut tree, &mut origins, &key, &value, Origin::Env(var))?;
    }
    for o in overrides {
        apply(&mut tree, &mut origins, &o.key, &o.value, o.origin.clone())?;
    }
    let config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(tree)).map_err(|e| {
            let key = e.path().to_string();
            let origin = origin_of(&origins, &key);
            let line = match (&origin, &file_text) {
                (Some(Origin::File(_)), Some(text)) => key_line(text, &key),
                _ => None,
            };
            ConfigError {
                origin,
                key: (key != ".").then_some(key),
                line,
                message: e.into_inner().to_string(),
            }
        })?;
    config.validate().map_err(|(key, message)| ConfigError {
        origin: origin_of(&origins, key),
        line: match (origin_of(&origins, key), &file_text) {
            (Some(Origin::File(_)), Some(text)) => key_line(text, key),
            _ => None,
        },
        key: Some(key.to_string()),
        message,
    })?;
    Ok(config)
}

/// Loads from the process environment.
pub fn load_from_process(
    file: Option<&Path>,
    overrides: &[Override],
) -> Result<Config, ConfigError> {
    load(file, std::env::vars(), overrides)
}

impl Config {
    /// Checks what types alone cannot; returns the key and the problem.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        match (&self.server.tls_cert, &self.server.tls_key) {
            (Some(_), None) => {
                return Err((
                    "server.tls_key",
                    "tls_cert needs tls_key (the certificate's private key)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err((
                    "server.tls_cert",
                    "tls_key needs tls_cert (the certificate chain)".into(),
                ))
            }
            _ => {}
        }
        phone::parse_region(&self.phone.region).map_err(|e| ("phone.region", e))?;
        self.dial_plan.validate().map_err(|e| ("dial_plan", e))?;
        self.api
            .validate()
            .map_err(|e| ("api.allowed_origins", e))?;
        if let Some(path) = &self.phone.number_data {
            crate::phone::geo::NumberData::load(path).map_err(|e| ("phone.number_data", e))?;
        }
        if !(4..=15).contains(&self.phone.suffix_digits) {
            return Err((
                "phone.suffix_digits",
                format!("must be between 4 and 15, got {}", self.phone.suffix_digits),
            ));
        }
        if !(8..=65_536).contains(&self.store.cache_mb) {
            return Err((
                "store.cache_mb",
                format!(
                    "must be between 8 and 65536 MiB, got {}",
                    self.store.cache_mb
                ),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for d in &self.devices {
            // Neither is right for an audio box (its profile says so, and
            // starting the devices checks it); both is never right.
            if d.path.is_some() && d.usb_serial.is_some() {
                return Err((
                    "device",
                    format!("device {:?}: give path or usb_serial, not both", d.name),
                ));
            }
            if d.name.is_empty() || d.name.contains(['/', ' ']) || !names.insert(d.name.as_str()) {
                return Err((
                    "device",
                    format!(
                        "device name {:?} must be unique, non-empty, without '/' or spaces",
                        d.name
                    ),
                ));
            }
        }
        self.reports
            .offset()
            .map_err(|e| ("reports.utc_offset", e))?;
        if !(1..=3600).contains(&self.reports.service_level_secs) {
            return Err((
                "reports.service_level_secs",
                "must be between 1 and 3600".into(),
            ));
        }
        if self.calls.missed_after_rings == 0 {
            return Err(("calls.missed_after_rings", "must be at least 1".into()));
        }
        for b in &self.bindings {
            if b.agent.is_some() == b.team.is_some() {
                return Err((
                    "binding",
                    format!(
                        "binding of line {:?} needs exactly one of agent and team",
                        b.line
                    ),
                ));
            }
        }
        let pop = &self.screen_pop;
        if !(2..=300).contains(&pop.heartbeat_secs) {
            return Err((
                "screen_pop.heartbeat_secs",
                "must be between 2 and 300".into(),
            ));
        }
        if pop.replay_log == 0 || pop.send_queue < 8 {
            return Err((
                "screen_pop.replay_log",
                "replay_log must be at least 1 and send_queue at least 8".into(),
            ));
        }
        if pop.session_hours == 0 {
            return Err(("screen_pop.session_hours", "must be at least 1".into()));
        }
        if !(8000..=192_000).contains(&self.recording.sample_rate) {
            return Err((
                "recording.sample_rate",
                format!(
                    "must be between 8000 and 192000, got {}",
                    self.recording.sample_rate
                ),
            ));
        }
        for a in &self.audio {
            if a.capture.is_some() && a.file.is_some() {
                return Err((
                    "audio",
                    format!("line {:?}: give `capture` or `file`, not both", a.line),
                ));
            }
            if a.rate.is_some_and(|r| !(4000..=384_000).contains(&r)) {
                return Err(("audio", format!("line {:?}: rate out of range", a.line)));
            }
        }
        if self.sms.max_attempts == 0 {
            return Err(("sms.max_attempts", "must be at least 1".into()));
        }
        crate::domain::Window::parse(&self.sms.window).map_err(|e| ("sms.window", e))?;
        self.sms
            .after_call
            .templates()
            .map_err(|(key, e)| (key, e.to_string()))?;
        if self.sms.after_call.survey_reply_hours == 0 {
            return Err((
                "sms.after_call.survey_reply_hours",
                "must be at least 1".into(),
            ));
        }
        if self
            .sms
            .opt_out_keywords
            .iter()
            .any(|k| k.trim().is_empty())
        {
            return Err(("sms.opt_out_keywords", "a keyword is empty".into()));
        }
        for c in &self.sms.carriers {
            if c.prefixes
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err((
                    "sms.carrier",
                    format!(
                        "carrier {:?}: prefixes are leading digits such as \"138\"",
                        c.name
                    ),
                ));
            }
            if !c.price.is_finite() || c.price < 0.0 {
                return Err((
                    "sms.carrier",
                    format!("carrier {:?}: a negative price", c.name),
                ));
            }
        }
        if self.sms.campaign_queue_ahead == 0 {
            return Err(("sms.campaign_queue_ahead", "must be at least 1".into()));
        }
        if !self.sms.default_price.is_finite() || self.sms.default_price < 0.0 {
            return Err(("sms.default_price", "must not be negative".into()));
        }
        if self.sms.validity_minutes != 0 && self.sms.validity_minutes < 5 {
            return Err((
                "sms.validity_minutes",
                "must be 0 (the centre's default) or at least 5".into(),
            ));
        }
        if self.phone.suffix_max_matches == 0 {
            return Err(("phone.suffix_max_matches", "must be at least 1".into()));
        }
        if let Some(area) = &self.phone.default_area_code {
            if area.is_empty() || !area.bytes().all(|b| b.is_ascii_digit()) || area.len() > 5 {
                return Err((
                    "phone.default_area_code",
                    format!("{area:?} is not an area code such as \"010\" or \"0755\""),
                ));
            }
        }
        if let Some(p) = self
            .phone
            .strip_prefixes
            .iter()
            .find(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err((
                "phone.strip_prefixes",
                format!("{p:?} is not a digit prefix"),
            ));
        }
        if !self.log.is_empty() {
            tracing_subscriber::EnvFilter::try_new(&self.log)
                .map_err(|e| ("log", format!("not a valid log filter: {e}")))?;
        }
        Ok(())
    }

    /// The data directory: configured, or the platform's per-user data dir.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| {
            directories::ProjectDirs::from("", "", "callpop")
                .map(|d| d.data_dir().to_path_buf())
                .unwrap_or_else(|| PathBuf::from("callpop-data"))
        })
    }

    /// The recordings root: configured, or `recordings/` beside the database.
    pub fn recordings_root(&self) -> PathBuf {
        self.recording.root.clone().unwrap_or_else(|| {
            self.db_path()
                .parent()
                .map(|p| p.join("recordings"))
                .unwrap_or_else(|| PathBuf::from("recordings"))
        })
    }

    /// The database file: configured, or `callpop.db` in the data directory.
    pub fn db_path(&self) -> PathBuf {
        self.db
            .clone()
            .unwrap_or_else(|| self.data_dir().join("callpop.db"))
    }

    /// Normaliser settings; the region was validated at load time.
    pub fn normalizer_settings(&self) -> NormalizerSettings {
        NormalizerSettings {
            region: phone::parse_region(&self.phone.region).unwrap_or(phonenumber::country::Id::CN),
            default_area_code: self.phone.default_area_code.clone(),
            strip_prefixes: self.phone.strip_prefixes.clone(),
            number_data: self.phone.number_data.clone(),
        }
    }
}

fn apply(
    tree: &mut toml::Table,
    origins: &mut BTreeMap<String, Origin>,
    key: &str,
    value: &str,
    origin: Origin,
) -> Result<(), ConfigError> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ConfigError {
            origin: Some(origin),
            key: Some(key.into()),
            line: None,
            message: "not a valid key".into(),
        });
    }
    let mut table = &mut *tree;
    for (i, part) in parts[..parts.len() - 1].iter().enumerate() {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            _ => {
                return Err(ConfigError {
                    origin: Some(origin),
                    key: Some(parts[..=i].join(".")),
                    line: None,
                    message: "is a value, not a section".into(),
                })
            }
        };
    }
    table.insert(parts[parts.len() - 1].to_string(), parse_value(value));
    origins.insert(key.to_string(), origin);
    Ok(())
}

/// A value in TOML syntax (`8`, `true`, `["a"]`), else the text as a string.
fn parse_value(text: &str) -> toml::Value {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

fn record_origins(
    table: &toml::Table,
    prefix: &str,
    origin: &Origin,
    out: &mut BTreeMap<String, Origin>,
) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if let toml::Value::Table(t) = v {
            record_origins(t, &key, origin, out);
        }
        out.insert(key, origin.clone());
    }
}

/// The origin of `key`, or of the closest enclosing key that has one.
fn origin_of(origins: &BTreeMap<String, Origin>, key: &str) -> Option<Origin> {
    let mut k = key;
    loop {
        if let Some(o) = origins.get(k) {
            return Some(o.clone());
        }
        match k.rfind(['.', '[']) {
            Some(i) => k = &k[..i],
            None => return None,
        }
    }
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].matches('\n').count() + 1
}

/// The line of a dotted key in a TOML file: finds its section header, then the key.
fn key_line(text: &str, key: &str) -> Option<usize> {
    let (section, leaf) = match key.rsplit_once('.') {
        Some((s, l)) => (s, l),
        None => ("", key),
    };
    let leaf = leaf.split('[').next().unwrap_or(leaf);
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('[').and_then(|h| h.split(']').next()) {
            current = h.trim().to_string();
            continue;
        }
        if current == section {
            if let Some((k, _)) = t.split_once('=') {
                if k.trim().trim_matches('"') == leaf {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}

/// How fast an audio file (or stdin) standing in for a sound card is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Pace {
    /// As a sound card would deliver it.
    #[default]
    Realtime,
    /// As fast as the recorder takes it (tests, batch work).
    Fast,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn defaults_are_valid() {
        let c = load(None, vec![], &[]).unwrap();
        assert_eq!(c.phone.suffix_digits, 8);
        assert_eq!(c.server.listen.port(), 8080);
    }

    #[test]
    fn allowed_origins_are_origins_only() {
        let f = file(
            "[api]\nallowed_origins = [\"https://crm.example.com\", \"http://10.0.0.5:8000\"]\n",
        );
        let c = load(Some(f.path()), vec![], &[]).unwrap();
        assert_eq!(c.api.allowed_origins.len(), 2);
        for bad in [
            "*",
            "https://crm.example.com/",
            "crm.example.com",
            "ftp://x",
            "https://*.example.com",
        ] {
            let f = file(&format!("[api]\nallowed_origins = [{bad:?}]\n"));
            let err = load(Some(f.path()), vec![], &[]).unwrap_err().to_string();
            assert!(err.contains("api.allowed_origins"), "{bad}: {err}");
        }
    }

    #[test]
    fn precedence_file_env_flag() {
        let f = file("[phone]\nsuffix_digits = 6\nregion = \"HK\"\n");
        let env = vec![("CALLPOP_PHONE__SUFFIX_DIGITS".to_string(), "7".to_string())];
        let c = load(Some(f.path()), env.clone(), &[]).unwrap();
        assert_eq!(c.phone.suffix_digits, 7);
        assert_eq!(c.phone.region, "HK");
        let o = Override::parse_set("phone.suffix_digits=9").unwrap();
        let c = load(Some(f.path()), env, &[o]).unwrap();
        assert_eq!(c.phone.suffix_digits, 9);
    }

    #[test]
    fn bad_type_names_file_line_and_key() {
        let f = file("log_format = \"text\"\n[phone]\nsuffix_digits = \"eight\"\n");
        let e = load(Some(f.path()), vec![], &[]).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("phone.suffix_digits"));
        assert_eq!(e.line, Some(3));
        assert_eq!(e.origin, Some(Origin::File(f.path().to_path_buf())));
        let text = e.to_string();
        assert!(
            text.contains("line 3") && text.contains("phone.suffix_digits"),
            "{text}"
        );
    }

    #[test]
    fn unknown_key_is_refused() {
        let f = file("[phone]\nsufix_digits = 8\n");
        let e = load(Some(f.path()), vec![], &[]).unwrap_err();
        assert!(e.message.contains("sufix_digits"), "{e}");
    }

    #[test]
    fn validation_names_env_var() {
        let env = vec![("CALLPOP_PHONE__REGION".to_string(), "XX".to_string())];
        let e = load(None, env, &[]).unwrap_err();
        assert_eq!(e.origin, Some(Origin::Env("CALLPOP_PHONE__REGION".into())));
        assert_eq!(e.key.as_deref(), Some("phone.region"));
    }

    #[test]
    fn syntax_error_has_line() {
        let f = file("[phone]\nregion = CN\n");
        let e = load(Some(f.path()), vec![], &[]).unwrap_err();
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn a_device_has_at_most_one_way_to_find_its_port() {
        let both = file(
            "[[device]]\nname = \"b\"\npath = \"/dev/x\"\nusb_serial = \"A1\"\nprofile = \"p\"\n",
        );
        let e = load(Some(both.path()), vec![], &[]).unwrap_err();
        assert!(
            e.message.contains("give path or usb_serial, not both"),
            "{e}"
        );
        let serial = file("[[device]]\nname = \"b\"\nusb_serial = \"A1\"\nprofile = \"p\"\n");
        let c = load(Some(serial.path()), vec![], &[]).unwrap();
        assert_eq!(c.devices[0].usb_serial.as_deref(), Some("A1"));
    }

    #[test]
    fn reserved_env_is_not_a_key() {
        let env = vec![("CALLPOP_CONFIG".to_string(), "/x.toml".to_string())];
        load(None, env, &[]).unwrap();
    }
}
