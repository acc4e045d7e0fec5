//! The dial plan (`[dial_plan]`, and per line): what digits a line sends
//! for a number an agent clicked, and which numbers a click may never
//! dial. Pure: it takes a number already normalised (`phone::Normalizer`)
//! and, for mobiles, the city the number belongs to (number intelligence),
//! and answers the digits or why not.
//!
//! Chinese rules, as a line behind a PBX or straight on the exchange
//! dials them:
//! - landlines of the center's own area are dialled without the area code;
//!   others with the trunk `0` and their area code, after the carrier's IP
//!   prefix when one is set (long distance is what it is for);
//! - mobiles are dialled as their 11 digits, or with a leading `0` when
//!   they belong to another city and the line needs it (some exchanges
//!   do), then also after the IP prefix;
//! - 400/800, 95xxx/96xxx, 12345, 10086 and the like are dialled as they
//!   are, never with an area code or IP prefix;
//! - emergency numbers (110, 119, 120, 122, 112, 999, 911) are never
//!   dialled by a click, whatever the configuration says;
//! - international numbers and premium-rate 1600/1609 numbers are refused
//!   unless the center allows them (the default `forbid` list);
//! - behind a PBX, the outside-line prefix goes in front of everything.

use crate::phone::{Normalized, NumberKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Numbers a click never dials: emergency services must be called by a
/// person on a handset, never by a misclick on a customer card.
pub const EMERGENCY: [&str; 7] = ["110", "119", "120", "122", "112", "999", "911"];

/// How one line dials; `[dial_plan]` holds the center's, a line may change
/// any of it in `[dial_plan.lines."<line>"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialPlan {
    /// Digits that get an outside line behind a PBX (often `9` or `0`).
    pub outside_prefix: String,
    /// The center's own area code, without the trunk 0 (`10` Beijing,
    /// `755` Shenzhen): its landlines are dialled without it. Empty: every
    /// landline is dialled with its area code.
    pub area_code: String,
    /// Mobiles of another city get a leading `0` (exchanges that need it).
    pub mobile_other_city_zero: bool,
    /// A carrier's IP long-distance prefix (`17951`, `17911`...), put in
    /// front of other cities' landlines and mobiles.
    pub ip_prefix: String,
    /// When not empty, only numbers starting with one of these (as dialled
    /// nationally: `0755...`, `139...`, `400...`, `00...`) may be dialled.
    pub allow: Vec<String>,
    /// Numbers starting with one of these are refused (same form as
    /// `allow`). International (`00`) and premium rate by default.
    pub forbid: Vec<String>,
    /// Dials one agent may start in an hour (0: no limit): a runaway
    /// script or a stuck key is stopped, not billed.
    pub max_dials_per_hour: u32,
}

impl Default for DialPlan {
    fn default() -> Self {
        DialPlan {
            outside_prefix: String::new(),
            area_code: String::new(),
            mobile_other_city_zero: false,
            ip_prefix: String::new(),
            allow: Vec::new(),
            forbid: vec!["00".into(), "1600".into(), "1609".into()],
            max_dials_per_hour: 60,
        }
    }
}

/// A line's changes to the center's plan; unset fields keep the center's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialPlanOverride {
    pub outside_prefix: Option<String>,
    pub area_code: Option<String>,
    pub mobile_other_city_zero: Option<bool>,
    pub ip_prefix: Option<String>,
    pub allow: Option<Vec<String>>,
    pub forbid: Option<Vec<String>>,
    pub max_dials_per_hour: Option<u32>,
}

/// `[dial_plan]` as configured: the center's plan and each line's changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialPlanConfig {
    #[serde(flatten)]
    pub center: DialPlan,
    pub lines: BTreeMap<String, DialPlanOverride>,
}

impl DialPlanConfig {
    /// The plan `line` dials by.
    pub fn for_line(&self, line: &str) -> DialPlan {
        let mut plan = self.center.clone();
        let Some(o) = self.lines.get(line) else {
            return plan;
        };
        let o = o.clone();
        plan.outside_prefix = o.outside_prefix.unwrap_or(plan.outside_prefix);
        plan.area_code = o.area_code.unwrap_or(plan.area_code);
        plan.mobile_other_city_zero = o
            .mobile_other_city_zero
            .unwrap_or(plan.mobile_other_city_zero);
        plan.ip_prefix = o.ip_prefix.unwrap_or(plan.ip_prefix);
        plan.allow = o.allow.unwrap_or(plan.allow);
        plan.forbid = o.forbid.unwrap_or(plan.forbid);
        plan.max_dials_per_hour = o.max_dials_per_hour.unwrap_or(plan.max_dials_per_hour);
        plan
    }

    /// Checks the digits and prefixes once at start, so a typo is an error
    /// with its place, not a line that dials wrong.
    pub fn validate(&self) -> Result<(), String> {
        let mut plans = vec![("[dial_plan]".to_string(), self.center.clone())];
        for line in self.lines.keys() {
            plans.push((format!("[dial_plan.lines.{line:?}]"), self.for_line(line)));
        }
        for (place, p) in plans {
            let digits = |what: &str, v: &str| {
                if v.chars().all(|c| c.is_ascii_digit() || c == ',') {
                    Ok(())
                } else {
                    Err(format!("{place} {what} {v:?}: digits only"))
                }
            };
            digits("outside_prefix", &p.outside_prefix)?;
            digits("ip_prefix", &p.ip_prefix)?;
            digits("area_code", &p.area_code)?;
            if p.area_code.starts_with('0') {
                return Err(format!(
                    "{place} area_code {:?}: without the trunk 0 (\"10\" for Beijing)",
                    p.area_code
                ));
            }
            for v in p.allow.iter().chain(&p.forbid) {
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_digit()) {
                    return Err(format!("{place} allow/forbid {v:?}: a prefix of digits"));
                }
            }
        }
        Ok(())
    }
}

/// What the line is to send, and how the plan read the number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DialString {
    /// The digits for the device's dial command.
    pub digits: String,
    /// The number as dialled nationally (`075512345678`, `13912345678`,
    /// `95588`): what `allow` and `forbid` were checked against.
    pub national: String,
    /// An extension the agent dials by hand once through (devices cannot
    /// wait for an attendant).
    pub extension: Option<String>,
}

/// Why a number is not dialled; `code` for the page's words, the fields
/// for its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum DialRefusal {
    #[error("{number} is an emergency number: call it from a handset")]
    Emergency { number: String },
    #[error("{number} is refused by the dial plan (prefix {prefix})")]
    Forbidden { number: String, prefix: String },
    #[error("{number} is not among the prefixes this line may dial")]
    NotAllowed { number: String },
    #[error("{number} cannot be dialled: {why}")]
    Undiallable { number: String, why: String },
}

/// The area code of a Chinese landline's national number: two digits for
/// Beijing (10) and the 2x cities, three elsewhere.
pub fn landline_area(national: &str) -> Option<&str> {
    let len = match national.as_bytes().first()? {
        b'1' | b'2' => 2,
        b'3'..=b'9' => 3,
        _ => return None,
    };
    (national.len() > len + 6).then(|| &national[..len])
}

impl DialPlan {
    /// The digits to dial for `number`; `home_area` is the area code (no
    /// trunk 0) of the city a mobile belongs to, when known.
    pub fn dial(
        &self,
        number: &Normalized,
        home_area: Option<&str>,
    ) -> Result<DialString, DialRefusal> {
        let nsn = number.national.as_str();
        let shown = if number.raw.is_empty() {
            nsn.to_string()
        } else {
            number.raw.clone()
        };
        if EMERGENCY.contains(&nsn) {
            return Err(DialRefusal::Emergency { number: shown });
        }
        let undiallable = |why: &str| DialRefusal::Undiallable {
            number: shown.clone(),
            why: why.to_string(),
        };
        let abroad = number.country_code.is_some_and(|cc| cc != 86);
        // (as dialled nationally, long distance?)
        let (national, long_distance) = if abroad {
            let cc = number.country_code.expect("checked above");
            (format!("00{cc}{nsn}"), true)
        } else {
            match number.kind {
                NumberKind::Mobile => {
                    let other_city = !self.area_code.is_empty()
                        && home_area.is_some_and(|a| a.trim_start_matches('0') != self.area_code);
                    let national = if other_city && self.mobile_other_city_zero {
                        format!("0{nsn}")
                    } else {
                        nsn.to_string()
                    };
                    (national, other_city)
                }
                NumberKind::FixedLine => {
                    let area = landline_area(nsn)
                        .ok_or_else(|| undiallable("not a Chinese landline number"))?;
                    if area == self.area_code {
                        (nsn[area.len()..].to_string(), false)
                    } else {
                        (format!("0{nsn}"), true)
                    }
                }
                NumberKind::Local => {
                    if self.area_code.is_empty() {
                        return Err(undiallable(
                            "a landline without its area code, and the dial plan has none",
                        ));
                    }
                    (nsn.to_string(), false)
                }
                NumberKind::TollFree | NumberKind::SharedCost | NumberKind::Service => {
                    (nsn.to_string(), false)
                }
                NumberKind::Other => (format!("0{nsn}"), false),
                // Not a number the normaliser knows: refused below, by a
                // forbidden prefix if it has one (1600/1609 information
                // lines are such numbers), else as unreadable.
                NumberKind::Unknown => (nsn.to_string(), false),
            }
        };
        // Prefixes are checked against the number as dialled and in its
        // full national form (a landline with its area code even where the
        // own area's is dropped; a mobile without a leading 0).
        let full = match number.kind {
            NumberKind::FixedLine | NumberKind::Other if !abroad => format!("0{nsn}"),
            _ if abroad => national.clone(),
            _ => nsn.to_string(),
        };
        let forms = [national.as_str(), full.as_str()];
        let starts = |p: &String| forms.iter().any(|f| f.starts_with(p.as_str()));
        if let Some(prefix) = self.forbid.iter().find(|p| starts(p)) {
            return Err(DialRefusal::Forbidden {
                number: shown,
                prefix: prefix.clone(),
            });
        }
        if number.kind == NumberKind::Unknown {
            return Err(undiallable("not a number we can read"));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(starts) {
            return Err(DialRefusal::NotAllowed { number: shown });
        }
        let ip = if long_distance && !abroad {
            self.ip_prefix.as_str()
        } else {
            ""
        };
        Ok(DialString {
            digits: format!("{}{ip}{national}", self.outside_prefix),
            national,
            extension: number.extension.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::{Normalizer, NormalizerSettings};

    fn normalizer() -> Normalizer {
        Normalizer::new(NormalizerSettings::default())
    }

    /// Beijing center, straight on the exchange.
    fn beijing() -> DialPlan {
        DialPlan {
            area_code: "10".into(),
            ..DialPlan::default()
        }
    }

    /// Shenzhen center behind a PBX (9 for an outside line), with an IP
    /// prefix and a leading 0 for other cities' mobiles.
    fn shenzhen_pbx() -> DialPlan {
        DialPlan {
            outside_prefix: "9".into(),
            area_code: "755".into(),
            mobile_other_city_zero: true,
            ip_prefix: "17951".into(),
            ..DialPlan::default()
        }
    }

    enum Want {
        Digits(&'static str),
        Emergency,
        Forbidden(&'static str),
        NotAllowed,
        Undiallable,
    }
    use Want::*;

    fn check(plan: &DialPlan, typed: &str, home: Option<&str>, want: Want) {
        let n = normalizer();
        let number = n.normalize_lenient(typed).expect("digits");
        let got = plan.dial(&number, home);
        match (want, got) {
            (Digits(d), Ok(s)) => assert_eq!(s.digits, d, "{typed} (home {home:?})"),
            (Emergency, Err(DialRefusal::Emergency { .. })) => {}
            (Forbidden(p), Err(DialRefusal::Forbidden { prefix, .. })) => {
                assert_eq!(prefix, p, "{typed}")
            }
            (NotAllowed, Err(DialRefusal::NotAllowed { .. })) => {}
            (Undiallable, Err(DialRefusal::Undiallable { .. })) => {}
            (_, got) => panic!("{typed} (home {home:?}): unexpected {got:?}"),
        }
    }

    #[test]
    fn the_table() {
        let bj = beijing();
        let sz = shenzhen_pbx();
        let none = DialPlan::default();
        let mut behind_pbx_only = beijing();
        behind_pbx_only.outside_prefix = "0".into();
        let mut mobiles_only = beijing();
        mobiles_only.allow = vec!["13".into(), "15".into(), "18".into(), "400".into()];
        let mut no_ip_landlines = shenzhen_pbx();
        no_ip_landlines.ip_prefix.clear();
        let cases: Vec<(&DialPlan, &str, Option<&str>, Want)> = vec![
            // Local landlines, every way people type them.
            (&bj, "010-62345678", None, Digits("62345678")),
            (&bj, "(010) 6234 5678", None, Digits("62345678")),
            (&bj, "+86 10 6234 5678", None, Digits("62345678")),
            (&bj, "0086-10-62345678", None, Digits("62345678")),
            (&bj, "8610 62345678", None, Digits("62345678")),
            (&bj, "010 8001 2345", None, Digits("80012345")),
            (&sz, "0755-26781234", None, Digits("926781234")),
            (&sz, "+86 755 2678 1234", None, Digits("926781234")),
            // Other cities' landlines: trunk 0 and area code, IP prefix.
            (&bj, "021-61234567", None, Digits("02161234567")),
            (&bj, "0755 2678 1234", None, Digits("075526781234")),
            (&sz, "010-62345678", None, Digits("91795101062345678")),
            (&sz, "020-83331234", None, Digits("91795102083331234")),
            (
                &no_ip_landlines,
                "021-61234567",
                None,
                Digits("902161234567"),
            ),
            (&none, "010-62345678", None, Digits("01062345678")),
            (&none, "0571-87654321", None, Digits("057187654321")),
            // Mobiles: 11 digits; other cities with 0 and IP where asked.
            (&bj, "13912345678", None, Digits("13912345678")),
            (&bj, "139 1234 5678", Some("10"), Digits("13912345678")),
            (&bj, "+86 139-1234-5678", Some("21"), Digits("13912345678")),
            (&bj, "8613912345678", Some("755"), Digits("13912345678")),
            (&sz, "13912345678", Some("755"), Digits("913912345678")),
            (&sz, "13912345678", Some("0755"), Digits("913912345678")),
            (&sz, "13912345678", Some("10"), Digits("917951013912345678")),
            (&sz, "15012345678", None, Digits("915012345678")),
            (&none, "18612345678", Some("10"), Digits("18612345678")),
            // 400/800 and national service numbers: as they are.
            (&bj, "400-820-8820", None, Digits("4008208820")),
            (&sz, "400 820 8820", None, Digits("94008208820")),
            (&bj, "800-810-8888", None, Digits("8008108888")),
            (&bj, "95588", None, Digits("95588")),
            (&sz, "95555", None, Digits("995555")),
            (&bj, "95105105", None, Digits("95105105")),
            (&bj, "12345", None, Digits("12345")),
            (&sz, "12345", None, Digits("912345")),
            (&bj, "10086", None, Digits("10086")),
            (&bj, "96777", None, Digits("96777")),
            // Local numbers typed without the area code.
            (&bj, "62345678", None, Digits("62345678")),
            (&none, "62345678", None, Undiallable),
            // Behind a PBX whose outside prefix is 0.
            (
                &behind_pbx_only,
                "13912345678",
                None,
                Digits("013912345678"),
            ),
            (
                &behind_pbx_only,
                "021-61234567",
                None,
                Digits("002161234567"),
            ),
            (&behind_pbx_only, "010-62345678", None, Digits("062345678")),
            // Emergency numbers: never, whatever the plan.
            (&bj, "110", None, Emergency),
            (&bj, "119", None, Emergency),
            (&sz, "120", None, Emergency),
            (&bj, "122", None, Emergency),
            (&mobiles_only, "110", None, Emergency),
            // International: refused by default.
            (&bj, "+1 415 555 2671", None, Forbidden("00")),
            (&bj, "0044 20 7946 0958", None, Forbidden("00")),
            (&sz, "+852 2123 4567", None, Forbidden("00")),
            // Premium rate 1600/1609.
            (&bj, "16001234", None, Forbidden("1600")),
            (&bj, "1609 8123", None, Forbidden("1609")),
            (&bj, "0123", None, Undiallable),
            // Allowed prefixes only.
            (&mobiles_only, "13912345678", None, Digits("13912345678")),
            (&mobiles_only, "400-820-8820", None, Digits("4008208820")),
            (&mobiles_only, "17712345678", None, NotAllowed),
            (&mobiles_only, "021-61234567", None, NotAllowed),
            (&mobiles_only, "95588", None, NotAllowed),
        ];
        assert!(cases.len() >= 40, "{} cases", cases.len());
        for (plan, typed, home, want) in cases {
            check(plan, typed, home, want);
        }
    }

    #[test]
    fn international_may_be_allowed() {
        let mut plan = beijing();
        plan.forbid = vec!["1600".into()];
        plan.ip_prefix = "17951".into();
        check(&plan, "+1 415 555 2671", None, Digits("0014155552671"));
    }

    #[test]
    fn a_forbidden_local_prefix_holds_without_the_area_code() {
        let mut plan = beijing();
        plan.forbid = vec!["01062".into()];
        check(&plan, "010-62345678", None, Forbidden("01062"));
        check(&plan, "010-82345678", None, Digits("82345678"));
    }

    #[test]
    fn an_extension_is_kept_for_the_agent() {
        let n = normalizer().normalize("010-62345678 ext. 8001").unwrap();
        let s = beijing().dial(&n, None).unwrap();
        assert_eq!(s.digits, "62345678");
        assert_eq!(s.extension.as_deref(), Some("8001"));
    }

    #[test]
    fn lines_change_the_centers_plan() {
        let config: DialPlanConfig = toml::from_str(
            r#"
            area_code = "10"
            ip_prefix = "17951"
            [lines."pbx/1"]
            outside_prefix = "9"
            [lines."gsm1/1"]
            ip_prefix = ""
            max_dials_per_hour = 10
            "#,
        )
        .unwrap();
        config.validate().unwrap();
        assert_eq!(config.for_line("box1/1").outside_prefix, "");
        assert_eq!(config.for_line("pbx/1").outside_prefix, "9");
        assert_eq!(config.for_line("pbx/1").ip_prefix, "17951");
        assert_eq!(config.for_line("gsm1/1").ip_prefix, "");
        assert_eq!(config.for_line("gsm1/1").max_dials_per_hour, 10);
        assert_eq!(config.for_line("gsm1/1").area_code, "10");
    }

    #[test]
    fn a_bad_plan_is_refused_with_its_place() {
        for (text, words) in [
            ("area_code = \"010\"", "without the trunk 0"),
            ("outside_prefix = \"9p\"", "digits only"),
            (
                "[lines.\"a/1\"]\nforbid = [\"16x\"]",
                "[dial_plan.lines.\"a/1\"]",
            ),
        ] {
            let c: DialPlanConfig = toml::from_str(text).unwrap();
            let e = c.validate().unwrap_err();
            assert!(e.contains(words), "{text}: {e}");
        }
    }
}
