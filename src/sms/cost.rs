//! What a message costs before it is sent: its encoding and parts (as the
//! PDU codec will split it) and the carrier's price per part, found by the
//! recipient's number range (号段). Ranges and prices are configuration.

use crate::config::{Carrier, SmsConfig};
use crate::devices::gsm::pdu::{self, Encoding};
use serde::Serialize;

/// The cost estimate of one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// `gsm7` or `ucs2`.
    pub encoding: &'static str,
    pub parts: usize,
    /// The carrier's name, or `None` when no range matched (default price).
    pub carrier: Option<String>,
    /// Yuan.
    pub cost: f64,
}

/// Prices messages by the configured carriers.
#[derive(Debug, Clone)]
pub struct Pricer {
    /// (prefix of the national number, carrier index), longest prefix first.
    prefixes: Vec<(String, usize)>,
    carriers: Vec<Carrier>,
    default_price: f64,
}

impl Pricer {
    /// From `[sms]`.
    pub fn new(settings: &SmsConfig) -> Pricer {
        let mut prefixes: Vec<(String, usize)> = settings
            .carriers
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.prefixes.iter().map(move |p| (p.clone(), i)))
            .collect();
        prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        Pricer {
            prefixes,
            carriers: settings.carriers.clone(),
            default_price: settings.default_price,
        }
    }

    /// The carrier of a Chinese number (E.164 `+86...` or national).
    pub fn carrier(&self, number: &str) -> Option<&Carrier> {
        let national = number
            .strip_prefix("+86")
            .or_else(|| number.strip_prefix("0086"))
            .unwrap_or(number);
        self.prefixes
            .iter()
            .find(|(p, _)| national.starts_with(p.as_str()))
            .map(|(_, i)| &self.carriers[*i])
    }

    /// Encoding, parts and cost of `text` to `number`.
    pub fn estimate(&self, number: &str, text: &str) -> Estimate {
        let parts = pdu::part_count(text);
        let carrier = self.carrier(number);
        let price = carrier.map_or(self.default_price, |c| c.price);
        Estimate {
            encoding: match pdu::choose_encoding(text) {
                Encoding::Gsm7 => "gsm7",
                _ => "ucs2",
            },
            parts,
            carrier: carrier.map(|c| c.name.clone()),
            cost: price * parts as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carriers_by_longest_range_and_parts_by_encoding() {
        let settings = SmsConfig::default();
        let p = Pricer::new(&settings);
        let name = |n: &str| p.carrier(n).map(|c| c.name.as_str());
        assert_eq!(name("13800138000"), Some("China Mobile"));
        assert_eq!(name("+8618612345678"), Some("China Unicom"));
        assert_eq!(name("18912345678"), Some("China Telecom"));
        // 1349 is Telecom inside Mobile's 134.
        assert_eq!(name("13491234567"), Some("China Telecom"));
        assert_eq!(name("13412345678"), Some("China Mobile"));
        assert_eq!(name("12345"), None);

        let e = p.estimate("13800138000", "Your code is 123456");
        assert_eq!((e.encoding, e.parts), ("gsm7", 1));
        assert!((e.cost - 0.05).abs() < 1e-9);
        // 71 Chinese characters need two UCS2 parts of 67.
        let long: String = "好".repeat(71);
        let e = p.estimate("18612345678", &long);
        assert_eq!((e.encoding, e.parts), ("ucs2", 2));
        assert!((e.cost - 2.0 * 0.035).abs() < 1e-9, "{e:?}");
    }
}
