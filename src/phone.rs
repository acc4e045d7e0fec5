//! Phone number normalisation and match keys.
//!
//! Numbers reach callpop in every shape: caller-ID boxes send `013812345678`,
//! GSM modems `+8613812345678`, spreadsheets `(0755) 8601-3388 转 8001` or
//! full-width digits. Everything that stores or looks up a number goes through
//! [`Normalizer`], so that one customer is found whatever form the number
//! arrives in. Parsing and validation lean on the `phonenumber` crate
//! (libphonenumber's metadata); what it does not know (service short codes,
//! local numbers without an area code, IP-dialing prefixes, Chinese extension
//! markers, full-width forms) is handled here.

pub mod address;
pub mod geo;

use phonenumber::{country, metadata::DATABASE, PhoneNumber, Type};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::LazyLock;

/// Longest extension we accept; PBX extensions are short, anything longer is
/// more likely a second number glued on.
const MAX_EXTENSION_DIGITS: usize = 6;
/// E.164 caps numbers at 15 digits; more is garbage, not a long number.
const MAX_DIGITS: usize = 15;

/// What sort of number this is: drives display, SMS eligibility and whether a
/// suffix match may bridge it to a stored number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberKind {
    Mobile,
    FixedLine,
    /// Toll-free (China 800).
    TollFree,
    /// Shared-cost / universal access (China 400).
    SharedCost,
    /// Short service codes (10086, 12345, 95588): no E.164 form.
    Service,
    /// A fixed line given without its area code: no E.164 form.
    Local,
    /// Valid but of another type (VoIP, pager, premium rate...).
    Other,
    /// Could not be classified (only produced by lenient normalisation).
    Unknown,
}

impl NumberKind {
    /// Stable lowercase name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            NumberKind::Mobile => "mobile",
            NumberKind::FixedLine => "fixed_line",
            NumberKind::TollFree => "toll_free",
            NumberKind::SharedCost => "shared_cost",
            NumberKind::Service => "service",
            NumberKind::Local => "local",
            NumberKind::Other => "other",
            NumberKind::Unknown => "unknown",
        }
    }
}

/// Kinds that may reach us without their area code or with digits missing
/// in front, so that a suffix match on them can be right. Mobiles, service
/// and 400/800 numbers always arrive whole.
pub const MAYBE_INCOMPLETE: [NumberKind; 4] = [
    NumberKind::FixedLine,
    NumberKind::Local,
    NumberKind::Other,
    NumberKind::Unknown,
];

/// Kinds that have no E.164 form; stored numbers of these kinds are the
/// "incomplete" side of the national and suffix rules.
pub const WITHOUT_E164: [NumberKind; 3] =
    [NumberKind::Service, NumberKind::Local, NumberKind::Unknown];

impl NumberKind {
    /// See [`MAYBE_INCOMPLETE`].
    pub fn may_be_incomplete(self) -> bool {
        MAYBE_INCOMPLETE.contains(&self)
    }
}

impl FromStr for NumberKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "mobile" => NumberKind::Mobile,
            "fixed_line" => NumberKind::FixedLine,
            "toll_free" => NumberKind::TollFree,
            "shared_cost" => NumberKind::SharedCost,
            "service" => NumberKind::Service,
            "local" => NumberKind::Local,
            "other" => NumberKind::Other,
            "unknown" => NumberKind::Unknown,
            other => return Err(format!("unknown number kind {other:?}")),
        })
    }
}

/// A number in every form callpop needs: the raw text for display, E.164 for
/// exact matching and dialing, the national significant number (NSN) and its
/// reverse for national and suffix matching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Normalized {
    pub raw: String,
    /// `+8613812345678`; absent for service codes, local and unknown numbers.
    pub e164: Option<String>,
    /// National significant number: digits only, no trunk 0, no country code.
    pub national: String,
    /// Country calling code, when known (86 for a local Chinese number too).
    pub country_code: Option<u16>,
    pub extension: Option<String>,
    pub kind: NumberKind,
}

impl Normalized {
    /// The national number reversed: one index serves both the national rule
    /// (equality) and the suffix rule (prefix range) for any suffix length.
    pub fn national_rev(&self) -> String {
        self.national.chars().rev().collect()
    }

    /// The canonical text shown as "normalized": E.164 where it exists.
    pub fn canonical(&self) -> &str {
        self.e164.as_deref().unwrap_or(&self.national)
    }

    /// Why this cannot be a customer's own number, for an import warning: a
    /// national service number (12345, 95588, 10086) belongs to a hotline that
    /// calls many people, so a pop on it would name the wrong customer.
    /// `None` for a number a person or a company can have (400/800 included).
    pub fn not_own_number(&self) -> Option<String> {
        (self.kind == NumberKind::Service).then(|| {
            format!(
                "{} is a national service number (hotline or short code), not a customer's own; \
                 kept, but a call from it will pop this customer",
                self.national
            )
        })
    }
}

/// A number as it is dialled nationally, the form the inbound blacklist
/// and dial plans are written in: landlines with their trunk 0
/// (`075526781234`), mobiles and service numbers as they are, numbers
/// abroad with `00` and their country code.
pub fn dialled_form(n: &Normalized) -> String {
    match (n.country_code, n.kind) {
        (Some(cc), _) if cc != 86 => format!("00{cc}{}", n.national),
        (_, NumberKind::FixedLine | NumberKind::Other) => format!("0{}", n.national),
        _ => n.national.clone(),
    }
}

/// One number out of a cell that may hold several: its text and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellNumber {
    /// The piece of the cell this number was read from.
    pub text: String,
    pub number: Result<Normalized, NumberError>,
}

/// Characters that separate numbers in one cell and are never part of one,
/// ASCII and full-width. Commas and whitespace are judged separately: a
/// comma may start an extension, a space may sit inside a number.
const LIST_SEPARATORS: &[char] = &['/', '／', ';', '；', '、', '|', '｜', '\n', '\r'];
/// Commas between numbers, or before an extension.
const COMMAS: &[char] = &[',', '，'];
/// A part after a comma with at most this many digits is an extension
/// (`010-65528888,8001`), not a number of its own.
const MAX_COMMA_EXTENSION_DIGITS: usize = 5;

/// Why a text is not a phone number; shown to people importing data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberError {
    Empty,
    InvalidCharacter(char),
    BadExtension(String),
    ScientificNotation(String),
    TooShort(usize),
    TooLong(usize),
    MobileLength(usize),
    Invalid(String),
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumberError::Empty => write!(f, "no digits"),
            NumberError::InvalidCharacter(c) => write!(f, "unexpected character {c:?}"),
            NumberError::BadExtension(e) => write!(f, "bad extension {e:?}"),
            NumberError::ScientificNotation(s) => write!(
                f,
                "{s:?} is in scientific notation: the spreadsheet rounded the number; format the column as text"
            ),
            NumberError::TooShort(n) => write!(f, "too short ({n} digits)"),
            NumberError::TooLong(n) => write!(f, "too long ({n} digits)"),
            NumberError::MobileLength(n) => {
                write!(f, "mobile numbers have 11 digits, this one has {n}")
            }
            NumberError::Invalid(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for NumberError {}

impl NumberError {
    /// The error as a code and parameters, for a page to word.
    pub fn code(&self) -> (&'static str, serde_json::Value) {
        use serde_json::json;
        match self {
            NumberError::Empty => ("number_empty", json!({})),
            NumberError::InvalidCharacter(c) => {
                ("number_character", json!({ "found": c.to_string() }))
            }
            NumberError::BadExtension(e) => ("number_extension", json!({ "extension": e })),
            NumberError::ScientificNotation(s) => ("number_scientific", json!({ "text": s })),
            NumberError::TooShort(n) => ("number_too_short", json!({ "digits": n })),
            NumberError::TooLong(n) => ("number_too_long", json!({ "digits": n })),
            NumberError::MobileLength(n) => ("number_mobile_length", json!({ "digits": n })),
            NumberError::Invalid(why) => ("number_invalid", json!({ "detail": why })),
        }
    }
}

/// Settings that shape normalisation; built once from the config.
#[derive(Debug, Clone)]
pub struct NormalizerSettings {
    /// ISO 3166 region assumed for numbers without a country code.
    pub region: country::Id,
    /// Area code (with or without the trunk 0) assumed for local numbers.
    pub default_area_code: Option<String>,
    /// Carrier IP-dialing prefixes (17951, 12593...) stripped when what follows is a valid number.
    pub strip_prefixes: Vec<String>,
    /// A newer copy of the number data (归属地 and carriers) than the one
    /// built in; read on first use.
    pub number_data: Option<std::path::PathBuf>,
}

impl Default for NormalizerSettings {
    fn default() -> Self {
        NormalizerSettings {
            region: country::Id::CN,
            default_area_code: None,
            strip_prefixes: default_strip_prefixes(),
            number_data: None,
        }
    }
}

/// IP long-distance access codes of the Chinese carriers, which some PBXs and
/// old caller-ID boxes leave in front of the number.
pub fn default_strip_prefixes() -> Vec<String> {
    [
        "17951", "17911", "17901", "17909", "12593", "10193", "17969",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Parses region codes such as `CN` or `hk` for the config.
pub fn parse_region(s: &str) -> Result<country::Id, String> {
    country::Id::from_str(&s.trim().to_ascii_uppercase())
        .map_err(|_| format!("{s:?} is not an ISO 3166 region code such as CN, HK or US"))
}

/// Turns raw number text into [`Normalized`] forms.
#[derive(Debug, Clone)]
pub struct Normalizer {
    settings: NormalizerSettings,
    region_code: u16,
    area_code: Option<String>,
    /// The number data, read on first use.
    number_data: std::sync::OnceLock<std::sync::Arc<geo::NumberData>>,
}

/// The number text split into its parts, before any validation.
struct Cleaned {
    plus: bool,
    digits: String,
    /// Digit groups as the text separated them, for dash-extension detection.
    groups: Vec<String>,
    extension: Option<String>,
}

impl Normalizer {
    pub fn new(settings: NormalizerSettings) -> Self {
        let region_code = DATABASE
            .by_id(settings.region.as_ref())
            .map(|m| m.country_code())
            .unwrap_or(0);
        if settings.region == country::Id::CN {
            // Allocate the prefix memo now, not on the first call's pop.
            LazyLock::force(&CN_PREFIXES);
        }
        let area_code = settings
            .default_area_code
            .as_deref()
            .map(|a| a.trim().trim_start_matches('0').to_string())
            .filter(|a| !a.is_empty());
        Normalizer {
            settings,
            region_code,
            area_code,
            number_data: std::sync::OnceLock::new(),
        }
    }

    /// Where a number belongs and its carrier (归属地), from the number
    /// data; `None` when unknown. A configured data file that cannot be
    /// read is logged once and the built-in data used (the config check
    /// reports it at start).
    pub fn number_info(&self, number: &Normalized) -> Option<geo::NumberInfo> {
        self.number_data
            .get_or_init(|| match &self.settings.number_data {
                None => geo::EMBEDDED.clone(),
                Some(path) => match geo::NumberData::load(path) {
                    Ok(d) => std::sync::Arc::new(d),
                    Err(e) => {
                        tracing::error!(error = %e, "number data unreadable; using the built-in copy");
                        geo::EMBEDDED.clone()
                    }
                },
            })
            .lookup(number)
    }

    /// The country calling code of the default region (86 for CN).
    pub fn region_code(&self) -> u16 {
        self.region_code
    }

    /// Strict normalisation, for data entering the store: anything that is
    /// not a plausible number is an error with a reason a person can act on.
    pub fn normalize(&self, raw: &str) -> Result<Normalized, NumberError> {
        let cleaned = clean(raw)?;
        let mut n = self.classify(&cleaned.digits, cleaned.plus);
        if n.is_err() && cleaned.extension.is_none() {
            // "0755-86013388-8001": a trailing dash group that makes the number
            // invalid, when the rest is valid, is an extension.
            if let Some((base, ext)) = split_dash_extension(&cleaned.groups) {
                if let Ok(mut base_n) = self.classify(&base, cleaned.plus) {
                    base_n.extension = Some(ext);
                    base_n.raw = raw.to_string();
                    return self.reads_back(raw, base_n);
                }
            }
        }
        if let Ok(n) = n.as_mut() {
            n.raw = raw.to_string();
            n.extension = cleaned.extension;
        }
        self.reads_back(raw, n?)
    }

    /// `found` if its canonical form reads back as itself. A foreign number
    /// whose parse dropped digits (a carrier code dialled inside it, zeros
    /// after the country code) has a form that is not its own: it could be
    /// neither dialled nor matched again (found by fuzzing).
    fn reads_back(&self, raw: &str, found: Normalized) -> Result<Normalized, NumberError> {
        if found.country_code == Some(86) {
            return Ok(found);
        }
        let digits = found.canonical().trim_start_matches('+').to_string();
        let plus = found.canonical().starts_with('+');
        match self.classify(&digits, plus) {
            Ok(again) if again.canonical() == found.canonical() => Ok(found),
            _ => Err(NumberError::Invalid(format!(
                "{raw} does not read as one valid number"
            ))),
        }
    }

    /// Normalises every number in a spreadsheet cell: pieces split on any
    /// list separator (`/`, `／`, `;`, `；`, `、`, `|`, new lines), commas
    /// (`,`, `，`; a short part after one is an extension) and whitespace.
    /// Whitespace splits a piece only when the piece is not one number but
    /// its words group into several (`13912345678 0571-87654321`), since
    /// people also type one number with spaces (`138 1234 5678`). Empty
    /// pieces are dropped; a piece that is no number is returned with why.
    pub fn normalize_cell(&self, cell: &str) -> Vec<CellNumber> {
        let mut pieces: Vec<String> = Vec::new();
        for piece in cell.split(LIST_SEPARATORS) {
            for (i, part) in piece.split(COMMAS).enumerate() {
                let part = part.trim();
                if part.is_empty() {
                    continue;
                }
                let digits = part
                    .chars()
                    .filter_map(fold_digit)
                    .filter(char::is_ascii_digit)
                    .count();
                match pieces.last_mut() {
                    Some(prev) if i > 0 && digits <= MAX_COMMA_EXTENSION_DIGITS => {
                        prev.push(',');
                        prev.push_str(part);
                    }
                    _ => pieces.push(part.to_string()),
                }
            }
        }
        let mut out = Vec::with_capacity(pieces.len());
        for piece in pieces {
            let number = self.normalize(&piece);
            if number.is_err() {
                if let Some(split) = self.split_on_whitespace(&piece) {
                    out.extend(split);
                    continue;
                }
            }
            out.push(CellNumber {
                text: piece,
                number,
            });
        }
        out
    }

    /// Groups the words of `piece` into valid numbers, longest first from
    /// the left; `None` unless every word lands in a number and there are
    /// at least two.
    fn split_on_whitespace(&self, piece: &str) -> Option<Vec<CellNumber>> {
        let words: Vec<&str> = piece.split_whitespace().collect();
        if words.len() < 2 {
            return None;
        }
        let mut out = Vec::new();
        let mut start = 0;
        while start < words.len() {
            let (end, number) = (start + 1..=words.len()).rev().find_map(|end| {
                let text = words[start..end].join(" ");
                // A trailing group read as an extension without a marker
                // (`0755-86013388-8001`) is, between words, the start of
                // the next number.
                let unmarked = text
                    .chars()
                    .all(|c| c.is_ascii_digit() || is_separator(c) || c == '+');
                self.normalize(&text)
                    .ok()
                    .filter(|n| n.extension.is_none() || !unmarked)
                    .map(|n| (end, n))
            })?;
            out.push(CellNumber {
                text: number.raw.clone(),
                number: Ok(number),
            });
            start = end;
        }
        (out.len() >= 2).then_some(out)
    }

    /// Lenient normalisation, for numbers that arrive from the line: a caller
    /// ID is what it is, so an unparseable one still yields its digits for
    /// national and suffix matching. `None` only when there are no digits.
    pub fn normalize_lenient(&self, raw: &str) -> Option<Normalized> {
        if let Ok(n) = self.normalize(raw) {
            return Some(n);
        }
        let digits: String = raw
            .chars()
            .filter_map(fold_digit)
            .filter(char::is_ascii_digit)
            .collect();
        if digits.is_empty() {
            return None;
        }
        let national = digits.trim_start_matches('0').to_string();
        Some(Normalized {
            raw: raw.to_string(),
            e164: None,
            national: if national.is_empty() {
                digits
            } else {
                national
            },
            country_code: None,
            extension: None,
            kind: NumberKind::Unknown,
        })
    }

    fn classify(&self, digits: &str, plus: bool) -> Result<Normalized, NumberError> {
        let n = self.classify_any(digits, plus)?;
        // A Chinese national number never starts with 0: what came out with
        // one ("000-1329-200-1329" read through the international prefix)
        // is the number without it, or no number; never a form that
        // normalises to something else the next time (found by fuzzing).
        if n.country_code == Some(86) && n.national.starts_with('0') {
            return cn_fast(n.national.trim_start_matches('0'), false)
                .ok_or_else(|| NumberError::Invalid(format!("{digits} is not a valid number")));
        }
        Ok(n)
    }

    fn classify_any(&self, digits: &str, plus: bool) -> Result<Normalized, NumberError> {
        if digits.is_empty() {
            return Err(NumberError::Empty);
        }
        if self.settings.region == country::Id::CN {
            if let Some(n) = cn_fast(digits, plus) {
                return Ok(n);
            }
            // No complete Chinese number is this short (the shortest national
            // number has 9 digits): service codes and local numbers.
            if !plus && digits.len() <= 8 {
                return self.classify_cn_rest(digits);
            }
        }
        if digits.len() > MAX_DIGITS + 2 {
            return Err(NumberError::TooLong(digits.len()));
        }
        if plus {
            return self
                .parse_valid(&format!("+{digits}"))
                .or_else(|| digits.strip_prefix("86").and_then(big_city_landline))
                .ok_or_else(|| NumberError::Invalid(format!("+{digits} is not a valid number")));
        }
        if let Some(n) = self.parse_valid(digits) {
            // Dialled nationally, an area code always follows the trunk 0, so
            // a Chinese number starting with 1 is a mobile (or a service code),
            // never Beijing's 10 without its 0.
            let cn_bare_one = self.settings.region == country::Id::CN
                && digits.starts_with('1')
                && n.kind != NumberKind::Mobile;
            if !cn_bare_one {
                return Ok(n);
            }
        }
        for prefix in &self.settings.strip_prefixes {
            if let Some(rest) = digits.strip_prefix(prefix.as_str()) {
                if rest.len() >= 7 {
                    if let Some(n) = self.parse_valid(rest) {
                        return Ok(n);
                    }
                }
            }
        }
        if self.settings.region == country::Id::CN {
            return self.classify_cn_rest(digits);
        }
        Err(NumberError::Invalid(format!(
            "not a valid number for region {:?}",
            self.settings.region
        )))
    }

    /// Chinese forms that libphonenumber's metadata rejects but that are real.
    fn classify_cn_rest(&self, digits: &str) -> Result<Normalized, NumberError> {
        let len = digits.len();
        let first = digits.as_bytes()[0];
        let service = |kind| {
            Ok(Normalized {
                raw: String::new(),
                e164: None,
                national: digits.to_string(),
                country_code: Some(self.region_code),
                extension: None,
                kind,
            })
        };
        // Emergency and carrier/government short codes: 110, 10086, 12345.
        if first == b'1' && (len == 3 || len == 5) {
            return service(NumberKind::Service);
        }
        // 95xxx / 96xxx service numbers (95588, 95105105): these ranges are
        // reserved nationwide, so no local number starts with them.
        if (digits.starts_with("95") || digits.starts_with("96")) && (5..=8).contains(&len) {
            return service(NumberKind::Service);
        }
        // Beijing (010) and the 02x cities have 8-digit subscriber numbers
        // in ranges newer than libphonenumber's metadata (010-8001xxxx).
        if let Some(n) = digits.strip_prefix('0').and_then(big_city_landline) {
            return Ok(n);
        }
        if (first == b'1' && len >= 10) || (digits.starts_with("01") && len >= 11) {
            let mobile_len = if first == b'0' { len - 1 } else { len };
            if mobile_len != 11 {
                return Err(NumberError::MobileLength(mobile_len));
            }
            return Err(NumberError::Invalid(format!(
                "{digits} is not an assigned mobile range"
            )));
        }
        // A fixed line dialled without its area code.
        if (7..=8).contains(&len) && (b'2'..=b'9').contains(&first) {
            if let Some(area) = &self.area_code {
                if let Some(n) = self.parse_valid(&format!("0{area}{digits}")) {
                    return Ok(n);
                }
            }
            return service(NumberKind::Local);
        }
        if first == b'0' {
            return Err(NumberError::Invalid(format!(
                "{digits}: unknown area code or wrong length"
            )));
        }
        if len < 7 {
            return Err(NumberError::TooShort(len));
        }
        Err(NumberError::Invalid(format!(
            "{digits} is not a valid Chinese number"
        )))
    }

    /// Parses and validates with libphonenumber's metadata. The number type is
    /// computed once: a number is valid exactly when its type is known (that
    /// is what `phonenumber::is_valid` checks, at the price of a second pass
    /// over the metadata patterns).
    fn parse_valid(&self, text: &str) -> Option<Normalized> {
        let n = phonenumber::parse(Some(self.settings.region), text).ok()?;
        let kind = kind_of(n.number_type(&DATABASE))?;
        Some(from_phonenumber(&n, kind))
    }
}

/// A number as people read it in messages callpop writes for them (a
/// group robot's text): Chinese numbers in national form (`138 1234 5678`,
/// `021 6123 4567`), others international (`+1 212-555-1234`); what does
/// not parse is shown as it came.
pub fn national_display(raw: &str) -> String {
    let Ok(n) = phonenumber::parse(Some(country::Id::CN), raw) else {
        return raw.to_string();
    };
    if !phonenumber::is_valid(&n) {
        return raw.to_string();
    }
    let mode = if n.code().value() == 86 {
        phonenumber::Mode::National
    } else {
        phonenumber::Mode::International
    };
    n.format().mode(mode).to_string()
}

/// A national number of Beijing (10) or a 2x city (Shanghai 21, Guangzhou
/// 20...; 26 is unassigned) with an 8-digit subscriber number, which never
/// starts with 0 or 1, as a fixed line.
/// These areas hand out new 8-digit ranges (010-8001xxxx) before the
/// metadata knows them, and the shape alone is unambiguous once the trunk 0
/// or +86 says an area code follows.
fn big_city_landline(national: &str) -> Option<Normalized> {
    let b = national.as_bytes();
    let area_ok =
        national.starts_with("10") || (b.first() == Some(&b'2') && b.get(1) != Some(&b'6'));
    let shape_ok =
        b.len() == 10 && b.iter().all(u8::is_ascii_digit) && (b'2'..=b'9').contains(&b[2]);
    (area_ok && shape_ok).then(|| Normalized {
        raw: String::new(),
        e164: Some(format!("+86{national}")),
        national: national.to_string(),
        country_code: Some(86),
        extension: None,
        kind: NumberKind::FixedLine,
    })
}

/// Our kind for libphonenumber's type; `None` for an invalid number.
fn kind_of(t: Type) -> Option<NumberKind> {
    Some(match t {
        Type::Unknown => return None,
        Type::Mobile => NumberKind::Mobile,
        Type::FixedLine | Type::FixedLineOrMobile => NumberKind::FixedLine,
        Type::TollFree => NumberKind::TollFree,
        Type::SharedCost | Type::Uan => NumberKind::SharedCost,
        _ => NumberKind::Other,
    })
}

/// Chinese numbers are most of what callpop sees, and libphonenumber spends
/// 5-10 us on each (its regex cache is keyed by pattern text). The type of a
/// Chinese number is a property of a short prefix of its national number:
/// the 7-digit segment of a mobile (号段, 1xx-xxxx), the first 6 digits and
/// the length of anything else. That held for every such prefix in the
/// metadata when this was written (examples/verify_cn_prefixes.rs checks it
/// again). So each prefix is asked of libphonenumber once and remembered.
struct PrefixMemo {
    /// Mobiles: 11 digits starting with 1, by the 6 digits after the 1.
    mobile: Box<[AtomicU8]>,
    /// Others: national numbers of 9 to 11 digits, by length and first 6 digits.
    other: Box<[AtomicU8]>,
}

static CN_PREFIXES: LazyLock<PrefixMemo> = LazyLock::new(|| PrefixMemo {
    mobile: (0..1_000_000).map(|_| AtomicU8::new(0)).collect(),
    other: (0..3_000_000).map(|_| AtomicU8::new(0)).collect(),
});

/// Memo cell values: 0 not asked yet, 1 not a valid number, else kind + 2.
const KINDS: [NumberKind; 6] = [
    NumberKind::Mobile,
    NumberKind::FixedLine,
    NumberKind::TollFree,
    NumberKind::SharedCost,
    NumberKind::Other,
    NumberKind::Unknown,
];

/// The kind of a Chinese national significant number, or `None` if invalid.
fn cn_kind(national: &str) -> Option<NumberKind> {
    let len = national.len();
    let cell = if len == 11 && national.starts_with('1') {
        &CN_PREFIXES.mobile[national[1..7].parse::<usize>().ok()?]
    } else if (9..=11).contains(&len) {
        &CN_PREFIXES.other[(len - 9) * 1_000_000 + national[..6].parse::<usize>().ok()?]
    } else {
        return None;
    };
    let code = match cell.load(Ordering::Relaxed) {
        0 => {
            let kind = phonenumber::parse(None, format!("+86{national}"))
                .ok()
                .and_then(|n| kind_of(n.number_type(&DATABASE)));
            let code = kind.map_or(1, |k| {
                KINDS.iter().position(|x| *x == k).unwrap_or(5) as u8 + 2
            });
            cell.store(code, Ordering::Relaxed);
            code
        }
        code => code,
    };
    (code >= 2).then(|| KINDS[(code - 2) as usize])
}

/// A Chinese number in one of its unambiguous forms (+86, 0086, trunk 0, a
/// bare mobile, 86 before a mobile), or `None` to let the general path decide.
fn cn_fast(digits: &str, plus: bool) -> Option<Normalized> {
    let national = if plus {
        digits.strip_prefix("86")?
    } else if let Some(rest) = digits.strip_prefix("0086") {
        rest
    } else if let Some(rest) = digits.strip_prefix('0') {
        rest
    } else if digits.len() == 13 && digits.starts_with("861") {
        &digits[2..]
    } else if (digits.len() == 11 && digits.starts_with('1'))
        || (digits.len() == 10 && (digits.starts_with("400") || digits.starts_with("800")))
    {
        digits
    } else {
        return None;
    };
    // A national significant number never starts with 0 ("007..." is an
    // international prefix): leave such text to the general path.
    if national.starts_with('0') {
        return None;
    }
    let kind = cn_kind(national)?;
    // A bare or 86-prefixed number is a mobile or a 400/800 number; anything
    // else without its trunk 0 is for the general path to judge.
    let bare_ok = matches!(
        kind,
        NumberKind::Mobile | NumberKind::TollFree | NumberKind::SharedCost
    );
    if !plus && !digits.starts_with('0') && !bare_ok {
        return None;
    }
    Some(Normalized {
        raw: String::new(),
        e164: Some(format!("+86{national}")),
        national: national.to_string(),
        country_code: Some(86),
        extension: None,
        kind,
    })
}

fn from_phonenumber(n: &PhoneNumber, kind: NumberKind) -> Normalized {
    let national = n.national().to_string();
    let code = n.code().value();
    Normalized {
        raw: String::new(),
        // E.164 is by definition "+", country code, national significant number.
        e164: Some(format!("+{code}{national}")),
        national,
        country_code: Some(code),
        extension: None,
        kind,
    }
}

/// Maps full-width forms (０-９, ＋) to ASCII; keeps other characters.
fn fold_digit(c: char) -> Option<char> {
    Some(match c {
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32)?,
        '＋' => '+',
        _ => c,
    })
}

/// Separators people and spreadsheets put inside numbers.
fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\u{a0}'
            | '\u{3000}'
            | '-'
            | '－'
            | '‐'
            | '–'
            | '—'
            | '.'
            | '·'
            | '('
            | ')'
            | '（'
            | '）'
            | '['
            | ']'
            | '【'
            | '】'
            | '_'
            | '"'
            | '\''
    )
}

/// Markers that start an extension, longest first so `ext.` wins over `x`.
const EXTENSION_MARKERS: &[&str] = &[
    "extension",
    "分机号",
    "分机",
    "ext.",
    "ext",
    "转",
    "轉",
    "x",
    "#",
    ",",
    "，",
    ";ext=",
    "p",
    "w",
];

fn clean(raw: &str) -> Result<Cleaned, NumberError> {
    // Nearly every number is plain ASCII digits and separators: skip the
    // folding and the marker search for those.
    let plain = raw
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'+' | b'(' | b')' | b'.'));
    let lower = if plain {
        raw.trim().to_string()
    } else {
        let folded: String = raw.chars().filter_map(fold_digit).collect();
        folded.trim().to_lowercase()
    };
    if !plain && looks_scientific(&lower) {
        return Err(NumberError::ScientificNotation(raw.trim().to_string()));
    }
    let marker = if plain {
        None
    } else {
        EXTENSION_MARKERS
            .iter()
            .filter_map(|m| lower.find(m).map(|at| (at, *m)))
            .min_by_key(|(at, m)| (*at, usize::MAX - m.len()))
    };
    let (main, ext_text) = match marker {
        Some((at, marker)) => (&lower[..at], Some(&lower[at + marker.len()..])),
        None => (lower.as_str(), None),
    };
    let extension = match ext_text {
        None => None,
        Some(t) => {
            let digits: String = t.chars().filter(|c| !is_separator(*c)).collect();
            if digits.is_empty()
                || digits.len() > MAX_EXTENSION_DIGITS
                || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(NumberError::BadExtension(t.trim().to_string()));
            }
            Some(digits)
        }
    };
    let mut plus = false;
    let mut digits = String::with_capacity(main.len());
    let mut groups: Vec<String> = vec![String::new()];
    for c in main.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            groups.last_mut().expect("never empty").push(c);
        } else if c == '+' && digits.is_empty() && !plus {
            plus = true;
        } else if is_separator(c) {
            if !groups.last().expect("never empty").is_empty() {
                groups.push(String::new());
            }
        } else {
            return Err(NumberError::InvalidCharacter(c));
        }
    }
    groups.retain(|g| !g.is_empty());
    Ok(Cleaned {
        plus,
        digits,
        groups,
        extension,
    })
}

/// `1.38123E+10`: what Excel writes into CSV for long numbers in a number column.
fn looks_scientific(s: &str) -> bool {
    let Some(e) = s.find('e') else { return false };
    let (mantissa, exp) = (&s[..e], &s[e + 1..]);
    !mantissa.is_empty()
        && mantissa.contains('.')
        && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.')
        && exp
            .trim_start_matches(['+', '-'])
            .chars()
            .all(|c| c.is_ascii_digit())
        && !exp.is_empty()
}

fn split_dash_extension(groups: &[String]) -> Option<(String, String)> {
    if groups.len() < 3 {
        return None;
    }
    let (last, rest) = groups.split_last()?;
    if last.len() > 5 {
        return None;
    }
    Some((rest.concat(), last.clone()))
}

/// Which lookup rule found the customer: reported with every match so an
/// agent knows how much to trust it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchRule {
    /// Same E.164 number.
    Exact,
    /// Same national significant number (one side had no E.164 form).
    National,
    /// Same last N digits, bridging a number stored or received incomplete.
    Suffix,
    None,
}

impl MatchRule {
    /// The name stored in CDRs and printed by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchRule::Exact => "exact",
            MatchRule::National => "national",
            MatchRule::Suffix => "suffix",
            MatchRule::None => "none",
        }
    }
}

/// How far matching may reach beyond exact equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchPolicy {
    /// Trailing digits compared by the suffix rule; shorter queries never suffix-match.
    pub suffix_digits: usize,
    /// A suffix shared by more customers than this is not unique enough to pop.
    pub suffix_max_matches: usize,
}

impl Default for MatchPolicy {
    fn default() -> Self {
        MatchPolicy {
            suffix_digits: 8,
            suffix_max_matches: 3,
        }
    }
}

/// None, one or many customers: what the screen-pop shows (new-customer form,
/// the record, or a chooser).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchOutcome {
    None,
    One,
    Many,
}

impl MatchOutcome {
    /// The outcome for a number of distinct matched customers.
    pub fn of(count: usize) -> MatchOutcome {
        match count {
            0 => MatchOutcome::None,
            1 => MatchOutcome::One,
            _ => MatchOutcome::Many,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_in_one_national_format() {
        assert_eq!(national_display("+8613812345678"), "138 1234 5678");
        assert_eq!(national_display("+862161234567"), "021 6123 4567");
        assert_eq!(national_display("13812345678"), "138 1234 5678");
        assert_eq!(national_display("+12125551234"), "+1 212-555-1234");
        assert_eq!(national_display("10086"), "10086");
        assert_eq!(national_display("138****5678"), "138****5678");
    }

    fn cn() -> Normalizer {
        Normalizer::new(NormalizerSettings::default())
    }

    #[test]
    fn cleans_full_width_and_separators() {
        let n = cn()
            .normalize("＋８６　１３８－１２３４－５６７８")
            .unwrap();
        assert_eq!(n.e164.as_deref(), Some("+8613812345678"));
        assert_eq!(n.kind, NumberKind::Mobile);
    }

    #[test]
    fn rejects_letters_with_the_character() {
        assert_eq!(
            cn().normalize("138abc").unwrap_err(),
            NumberError::InvalidCharacter('a')
        );
    }

    /// The prefix memo must agree with libphonenumber itself, on numbers
    /// spread over every prefix, length and form.
    #[test]
    fn fast_path_agrees_with_libphonenumber() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for i in 0..6_000 {
            let len = 9 + (i % 3);
            let national = format!("{:0len$}", next() % 10u64.pow(len as u32));
            let national = if i % 5 == 0 {
                format!("1{}", &national[1..])
            } else {
                national
            };
            let form = match i % 3 {
                0 => format!("+86{national}"),
                1 => format!("0086{national}"),
                _ => format!("0{national}"),
            };
            let reference = phonenumber::parse(Some(country::Id::CN), &form)
                .ok()
                .and_then(|n| {
                    kind_of(n.number_type(&DATABASE)).map(|k| (n.national().to_string(), k))
                });
            let fast = cn_fast(&form.replace('+', ""), form.starts_with('+'))
                .map(|n| (n.national, n.kind));
            if fast.is_some()
                || reference
                    .as_ref()
                    .is_some_and(|r| r.0.len() == national.len())
            {
                assert_eq!(fast, reference, "{form}");
            }
        }
    }

    /// Beijing and the 02x cities have 8-digit subscriber numbers in ranges
    /// libphonenumber's metadata does not know (010-8001xxxx); with the
    /// trunk 0 or +86 they are fixed lines, not mobiles of the wrong length.
    #[test]
    fn big_city_eight_digit_subscribers_are_fixed_lines() {
        for (raw, e164) in [
            ("010-80012345", "+861080012345"),
            ("(010)8001-2345", "+861080012345"),
            ("+86 10 8001 2345", "+861080012345"),
            ("021-80012345", "+862180012345"),
        ] {
            let n = cn().normalize(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(n.kind, NumberKind::FixedLine, "{raw}");
            assert_eq!(n.e164.as_deref(), Some(e164), "{raw}");
            assert_eq!(n.not_own_number(), None, "{raw}");
        }
        // Without the trunk 0 a 10-digit number starting with 1 is still a
        // mobile missing a digit, and 026 is no area code.
        assert_eq!(
            cn().normalize("1080012345").unwrap_err(),
            NumberError::MobileLength(10)
        );
        assert!(cn().normalize("026-80012345").is_err());
        assert!(cn().normalize("010-0001234").is_err());
    }

    /// Service numbers are recognised with their kind and carry a reason why
    /// they are no customer's own; 400/800 numbers are a company's own.
    #[test]
    fn service_numbers_are_no_customers_own() {
        for raw in ["12345", "95588", "10086", "95105105", "110"] {
            let n = cn().normalize(raw).unwrap();
            assert_eq!(n.kind, NumberKind::Service, "{raw}");
            let why = n.not_own_number().unwrap_or_else(|| panic!("{raw}"));
            assert!(why.contains(raw) && why.contains("service number"), "{why}");
        }
        for (raw, kind) in [
            ("400-812-3123", NumberKind::SharedCost),
            ("8008101234", NumberKind::TollFree),
            ("13812345678", NumberKind::Mobile),
        ] {
            let n = cn().normalize(raw).unwrap();
            assert_eq!(n.kind, kind, "{raw}");
            assert_eq!(n.not_own_number(), None, "{raw}");
        }
    }

    fn nationals(cell: &str) -> Vec<Result<String, NumberError>> {
        cn().normalize_cell(cell)
            .into_iter()
            .map(|c| c.number.map(|n| n.national))
            .collect()
    }

    /// Two numbers in one cell, split on any separator people use.
    #[test]
    fn cells_split_on_every_separator() {
        for sep in [
            "/", "／", ";", "；", "、", ",", "，", " ", "\n", "\u{3000}", " / ", "|",
        ] {
            let cell = format!("13912345678{sep}0571-87654321");
            assert_eq!(
                nationals(&cell),
                vec![Ok("13912345678".into()), Ok("57187654321".into())],
                "{cell:?}"
            );
        }
        assert_eq!(
            nationals("138 1234 5678 139 8765 4321"),
            vec![Ok("13812345678".into()), Ok("13987654321".into())]
        );
    }

    /// Spaces and commas that belong to one number do not split it.
    #[test]
    fn one_number_with_spaces_or_an_extension_stays_whole() {
        for (cell, national, ext) in [
            ("138 1234 5678", "13812345678", None),
            ("0755-86013388 转 8001", "75586013388", Some("8001")),
            ("010-65528888,8001", "1065528888", Some("8001")),
            ("010-65528888，8001", "1065528888", Some("8001")),
            ("+86 10 8001 2345", "1080012345", None),
        ] {
            let got = cn().normalize_cell(cell);
            assert_eq!(got.len(), 1, "{cell:?}: {got:?}");
            let n = got[0].number.as_ref().unwrap();
            assert_eq!(
                (n.national.as_str(), n.extension.as_deref()),
                (national, ext)
            );
        }
        // A piece that is no number stays one piece, with its reason.
        let got = cn().normalize_cell("1381234567 89");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].text, "1381234567 89");
        assert!(got[0].number.is_err());
        assert!(cn().normalize_cell(" ／ ").is_empty());
    }

    #[test]
    fn national_rev_reverses() {
        let n = cn().normalize("010-65528888").unwrap();
        assert_eq!(n.national, "1065528888");
        assert_eq!(n.national_rev(), "8888255601");
    }

    /// Found by fuzzing: a number read through an international prefix came
    /// out with a trunk 0 in its national part, and normalised differently
    /// the second time. Normalising is idempotent.
    #[test]
    fn a_normalised_number_normalises_to_itself() {
        let n = Normalizer::new(NormalizerSettings::default());
        for raw in [
            "000-1329-200-1329-13134",
            "00013292001329",
            "0013800138000",
            "+82 12 138 1238 12 138 8",
            "0035-80000 354024 18841",
        ] {
            if let Ok(first) = n.normalize(raw) {
                assert!(!first.national.starts_with('0'), "{raw}: {first:?}");
                let again = n.normalize(first.canonical()).unwrap();
                assert_eq!(again.canonical(), first.canonical(), "{raw}");
            }
        }
    }
}
