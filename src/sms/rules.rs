//! The rules a campaign obeys that need no store: the sending window (its
//! type lives in `domain`, where the settings validate it too) and what
//! counts as an opt-out reply. Pure, so the tests can set the clock.

pub use crate::domain::{parse_time, Window};
use std::fmt;

/// The keyword a reply opts out with, if it is one: the whole reply, once
/// spaces and punctuation are trimmed, equals a keyword (case ignored). A
/// reply that merely contains "T" or "退订" in a sentence is a person
/// writing, not an opt-out, and is left to people.
pub fn opt_out_keyword<'k>(reply: &str, keywords: &'k [String]) -> Option<&'k str> {
    let core = reply_core(reply);
    if core.is_empty() {
        return None;
    }
    keywords
        .iter()
        .find(|k| k.trim().to_lowercase() == core.to_lowercase())
        .map(|k| k.as_str())
}

/// A reply without the spaces and punctuation (ASCII or Chinese) around
/// it: what is left is what the person answered.
pub fn reply_core(reply: &str) -> &str {
    reply.trim_matches(|c: char| {
        c.is_whitespace() || c.is_ascii_punctuation() || "。，！？、；：“”‘’（）【】…～".contains(c)
    })
}

/// Which customers of a group a campaign takes: `城市=杭州`, `company~贸易`
/// (contains), `客户等级!=VIP`, on name, company or any custom field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub field: String,
    pub op: FilterOp,
    pub value: String,
}

/// How a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Equals,
    NotEquals,
    Contains,
}

impl Filter {
    /// Parses `field=value`, `field!=value` or `field~value`.
    pub fn parse(s: &str) -> Result<Filter, String> {
        let (field, op, value) = if let Some((f, v)) = s.split_once("!=") {
            (f, FilterOp::NotEquals, v)
        } else if let Some((f, v)) = s.split_once('=') {
            (f, FilterOp::Equals, v)
        } else if let Some((f, v)) = s.split_once('~') {
            (f, FilterOp::Contains, v)
        } else {
            return Err(format!(
                "{s:?} is not a filter like 城市=杭州, company~贸易 or 客户等级!=VIP"
            ));
        };
        let field = field.trim();
        if field.is_empty() {
            return Err(format!("{s:?} names no field"));
        }
        Ok(Filter {
            field: field.to_string(),
            op,
            value: value.trim().to_string(),
        })
    }

    /// Whether a customer whose `field` is `value` (absent: empty) passes.
    pub fn accepts(&self, value: Option<&str>) -> bool {
        let v = value.unwrap_or("").trim();
        match self.op {
            FilterOp::Equals => v == self.value,
            FilterOp::NotEquals => v != self.value,
            FilterOp::Contains => v.contains(self.value.as_str()),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            FilterOp::Equals => "=",
            FilterOp::NotEquals => "!=",
            FilterOp::Contains => "~",
        };
        write!(f, "{}{op}{}", self.field, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn t(s: &str) -> NaiveTime {
        parse_time(s).unwrap()
    }

    #[test]
    fn windows_by_day_and_over_midnight() {
        let day = Window::parse("08:00-21:00").unwrap();
        assert!(!day.is_open(t("07:59")));
        assert!(day.is_open(t("08:00")));
        assert!(day.is_open(t("20:59")));
        assert!(!day.is_open(t("21:00")));
        assert_eq!(day.to_string(), "08:00-21:00");
        let night = Window::parse("22:00~06:00").unwrap();
        assert!(night.is_open(t("23:30")) && night.is_open(t("05:00")));
        assert!(!night.is_open(t("12:00")));
        assert!(Window::parse("00:00-00:00").unwrap().is_open(t("03:00")));
        assert!(Window::parse("8am-9pm").is_err());
        assert!(Window::parse("08:00").is_err());
    }

    #[test]
    fn filters_compare_a_field() {
        let f = Filter::parse("城市 = 杭州").unwrap();
        assert!(f.accepts(Some("杭州")) && !f.accepts(Some("上海")) && !f.accepts(None));
        let f = Filter::parse("company~贸易").unwrap();
        assert!(f.accepts(Some("星辰贸易有限公司")) && !f.accepts(Some("机械")));
        let f = Filter::parse("客户等级!=VIP").unwrap();
        assert!(f.accepts(None) && !f.accepts(Some("VIP")));
        assert_eq!(f.to_string(), "客户等级!=VIP");
        assert!(Filter::parse("杭州").is_err() && Filter::parse("=x").is_err());
    }

    #[test]
    fn opt_out_replies_are_whole_keywords() {
        let k: Vec<String> = ["T", "TD", "退订", "STOP"].map(String::from).into();
        assert_eq!(opt_out_keyword("退订", &k), Some("退订"));
        assert_eq!(opt_out_keyword(" t ", &k), Some("T"));
        assert_eq!(opt_out_keyword("td。", &k), Some("TD"));
        assert_eq!(opt_out_keyword("Stop!", &k), Some("STOP"));
        assert_eq!(opt_out_keyword("请问怎么退订", &k), None);
        assert_eq!(opt_out_keyword("Thanks", &k), None);
        assert_eq!(opt_out_keyword("  ", &k), None);
    }
}
