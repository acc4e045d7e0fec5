//! What a message costs before it is sent: its encoding and parts (as the
//! PDU codec will split it) and the carrier's price per part. The
//! recipient's carrier comes from the number data (号段, the same data as
//! 归属地, updatable without a rebuild), unless a configured carrier claims
//! the number's range itself; prices are configuration.

use crate::config::{Carrier, SmsConfig};
use crate::devices::gsm::pdu::{self, Encoding};
use crate::phone::Normalizer;
use serde::Serialize;
use std::sync::Arc;

/// The cost estimate of one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// `gsm7` or `ucs2`.
    pub encoding: &'static str,
    pub parts: usize,
    /// The configured carrier's name, or `None` when the number's carrier
    /// is unknown or has no price of its own (the default price).
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
    normalizer: Arc<Normalizer>,
}

impl Pricer {
    /// From `[sms]`; numbers are read (and their carriers found) by
    /// `normalizer`.
    pub fn new(settings: &SmsConfig, normalizer: Arc<Normalizer>) -> Pricer {
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
            normalizer,
        }
    }

    /// The configured carrier of a number (E.164 `+86...` or national):
    /// the one whose own range holds it, else the one the number data
    /// names.
    pub fn carrier(&self, number: &str) -> Option<&Carrier> {
        let normalized = self.normalizer.normalize(number).ok();
        let national = normalized.as_ref().map_or(number, |n| n.national.as_str());
        if let Some((_, i)) = self
            .prefixes
            .iter()
            .find(|(p, _)| national.starts_with(p.as_str()))
        {
            return Some(&self.carriers[*i]);
        }
        let info = self.normalizer.number_info(&normalized?)?;
        let names = [info.carrier_en?, info.carrier?];
        self.carriers.iter().find(|c| {
            names.iter().any(|n| {
                c.name.eq_ignore_ascii_case(n)
                    || c.aliases.iter().any(|a| a.eq_ignore_ascii_case(n))
            })
        })
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
    use crate::phone::NormalizerSettings;

    fn pricer(settings: &SmsConfig) -> Pricer {
        Pricer::new(
            settings,
            Arc::new(Normalizer::new(NormalizerSettings::default())),
        )
    }

    /// Carriers as libphonenumber's carrier data has them (the shipped
    /// number data), in every way numbers are written.
    #[test]
    fn carriers_come_from_the_number_data() {
        let p = pricer(&SmsConfig::default());
        let name = |n: &str| p.carrier(n).map(|c| c.name.as_str());
        assert_eq!(name("13800138000"), Some("China Mobile"));
        assert_eq!(name("+86 138 0013 8000"), Some("China Mobile"));
        assert_eq!(name("+8618612345678"), Some("China Unicom"));
        assert_eq!(name("008618612345678"), Some("China Unicom"));
        assert_eq!(name("18912345678"), Some("China Telecom"));
        assert_eq!(name("15312345678"), Some("China Telecom"));
        assert_eq!(name("15012345678"), Some("China Mobile"));
        assert_eq!(name("19212345678"), Some("China Broadnet"));
        // 170x: each carrier's resellers (虚拟运营商) by the fourth digit.
        assert_eq!(name("17001234567"), Some("China Telecom"));
        assert_eq!(name("17031234567"), Some("China Mobile"));
        assert_eq!(name("17041234567"), Some("China Unicom"));
        // Landlines, service numbers and garbage have no carrier.
        assert_eq!(name("075586013388"), None);
        assert_eq!(name("12345"), None);
        assert_eq!(name("not a number"), None);
    }

    #[test]
    fn a_configured_range_beats_the_data_and_unknown_carriers_pay_the_default() {
        let mut settings = SmsConfig::default();
        // 1349 (the old satellite range) is Telecom's here, whatever the
        // data says of 134.
        settings.carriers[2].prefixes = vec!["1349".into()];
        // A center without a contract with Broadnet: default price.
        settings.carriers.retain(|c| c.name != "China Broadnet");
        let p = pricer(&settings);
        let name = |n: &str| p.carrier(n).map(|c| c.name.as_str());
        assert_eq!(name("13491234567"), Some("China Telecom"));
        assert_eq!(name("13412345678"), Some("China Mobile"));
        let e = p.estimate("19212345678", "hi");
        assert_eq!(e.carrier, None);
        assert!((e.cost - settings.default_price).abs() < 1e-9);
    }

    #[test]
    fn parts_by_encoding_times_the_carriers_price() {
        let p = pricer(&SmsConfig::default());
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
