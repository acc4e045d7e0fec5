//! Offline number intelligence for Chinese numbers: where a number belongs
//! (归属地: province, city, area code) and its carrier, from
//! libphonenumber's geocoding and carrier data (`data/numbers/cn.tsv`,
//! Apache-2.0, see `data/numbers/NOTICE`). The file is embedded; a center
//! may point `[phone] number_data` at a newer copy without a rebuild.
//!
//! A prefix the data does not know is unknown: nothing is guessed.

use super::{Normalized, NumberKind};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// A place numbers belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    pub province: String,
    pub city: String,
    /// The city's landline area code without the trunk 0, when known.
    pub area_code: Option<String>,
    pub province_en: String,
    pub city_en: String,
}

/// What the data says of one number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumberInfo {
    pub place: Option<Arc<Place>>,
    /// `中国移动`, `中国联通`, `中国电信`...
    pub carrier: Option<String>,
    pub carrier_en: Option<String>,
}

/// The number data, parsed.
#[derive(Debug, Default)]
pub struct NumberData {
    places: Vec<Arc<Place>>,
    /// Prefix (digits, country code first) → index into `places`.
    geo: HashMap<Key, u32>,
    carriers: HashMap<Key, (String, String)>,
    longest: usize,
    /// The `# source` line, for people.
    pub source: String,
}

/// A digit prefix with its length (leading zeros matter).
type Key = (u8, u64);

fn key(digits: &str) -> Option<Key> {
    Some((digits.len() as u8, digits.parse().ok()?))
}

/// The shipped data.
pub static EMBEDDED: LazyLock<Arc<NumberData>> = LazyLock::new(|| {
    Arc::new(
        NumberData::parse(include_str!("../../data/numbers/cn.tsv"))
            .expect("the shipped number data parses (tested)"),
    )
});

impl NumberData {
    /// Parses the file's text; an error names the line.
    pub fn parse(text: &str) -> Result<NumberData, String> {
        let mut data = NumberData::default();
        let mut ids: HashMap<u32, u32> = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let at = i + 1;
            if let Some(source) = line.strip_prefix("# source: ") {
                data.source = source.to_string();
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            let digits = |s: &str| -> Result<Key, String> {
                if s.is_empty() || s.len() > 15 || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("line {at}: {s:?} is not a prefix of digits"));
                }
                key(s).ok_or_else(|| format!("line {at}: {s:?} is not a prefix of digits"))
            };
            match (f[0], f.len()) {
                ("P", 7) => {
                    let id: u32 = f[1]
                        .parse()
                        .map_err(|_| format!("line {at}: place id {:?}", f[1]))?;
                    ids.insert(id, data.places.len() as u32);
                    data.places.push(Arc::new(Place {
                        province: f[2].to_string(),
                        city: f[3].to_string(),
                        area_code: Some(f[4].to_string()).filter(|a| !a.is_empty()),
                        province_en: f[5].to_string(),
                        city_en: f[6].to_string(),
                    }));
                }
                ("G", 3) => {
                    let k = digits(f[1])?;
                    let id: u32 = f[2]
                        .parse()
                        .map_err(|_| format!("line {at}: place id {:?}", f[2]))?;
                    let index = *ids
                        .get(&id)
                        .ok_or_else(|| format!("line {at}: no place {id} above"))?;
                    data.longest = data.longest.max(f[1].len());
                    data.geo.insert(k, index);
                }
                ("C", 4) => {
                    let k = digits(f[1])?;
                    data.longest = data.longest.max(f[1].len());
                    data.carriers
                        .insert(k, (f[2].to_string(), f[3].to_string()));
                }
                _ => {
                    return Err(format!(
                        "line {at}: expected P (7 fields), G (3) or C (4), tab-separated"
                    ))
                }
            }
        }
        if data.geo.is_empty() {
            return Err("no G lines: is this a callpop number data file?".into());
        }
        Ok(data)
    }

    /// Reads and parses a file (`[phone] number_data`).
    pub fn load(path: &std::path::Path) -> Result<NumberData, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        NumberData::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// How many places and prefixes it holds.
    pub fn size(&self) -> (usize, usize, usize) {
        (self.places.len(), self.geo.len(), self.carriers.len())
    }

    /// The longest prefix of `digits` found in `map`.
    fn longest<'a, T>(&self, map: &'a HashMap<Key, T>, digits: &str) -> Option<&'a T> {
        (1..=digits.len().min(self.longest))
            .rev()
            .find_map(|n| key(&digits[..n]).and_then(|k| map.get(&k)))
    }

    /// Where a Chinese mobile or landline number belongs and its carrier;
    /// `None` for other numbers (service codes, 400/800, abroad, local
    /// numbers without their area code).
    pub fn lookup(&self, number: &Normalized) -> Option<NumberInfo> {
        if number.country_code.is_some_and(|cc| cc != 86) {
            return None;
        }
        if !matches!(number.kind, NumberKind::Mobile | NumberKind::FixedLine) {
            return None;
        }
        let digits = format!("86{}", number.national);
        let place = self
            .longest(&self.geo, &digits)
            .map(|&i| self.places[i as usize].clone());
        let carrier = match number.kind {
            NumberKind::Mobile => self.longest(&self.carriers, &digits),
            _ => None,
        };
        if place.is_none() && carrier.is_none() {
            return None;
        }
        Some(NumberInfo {
            place,
            carrier: carrier.map(|c| c.0.clone()),
            carrier_en: carrier.map(|c| c.1.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::{Normalizer, NormalizerSettings};

    fn info(number: &str) -> Option<NumberInfo> {
        let n = Normalizer::new(NormalizerSettings::default())
            .normalize(number)
            .unwrap();
        EMBEDDED.lookup(&n)
    }

    /// (number, province, city, area code, carrier).
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
    );

    /// Checked against the data set's own entries (libphonenumber's).
    #[test]
    fn places_and_carriers_of_the_table() {
        let cases: [Case; 12] = [
            (
                "13000001234",
                "山东省",
                "济南市",
                Some("531"),
                Some("中国联通"),
            ),
            (
                "13000011234",
                "江苏省",
                "常州市",
                Some("519"),
                Some("中国联通"),
            ),
            (
                "18999981234",
                "新疆",
                "乌鲁木齐市",
                Some("991"),
                Some("中国电信"),
            ),
            ("010-62345678", "北京市", "北京市", Some("10"), None),
            ("021 6123 4567", "上海市", "上海市", Some("21"), None),
            ("020-83331234", "广东省", "广州市", Some("20"), None),
            ("0755-26781234", "广东省", "深圳市", Some("755"), None),
            ("023-63851234", "重庆市", "重庆市", Some("23"), None),
            ("0571-87654321", "浙江省", "杭州市", Some("571"), None),
            ("0991-4567890", "新疆", "乌鲁木齐市", Some("991"), None),
            ("0471-6951234", "内蒙古", "呼和浩特市", Some("471"), None),
            ("0771-5301234", "广西", "南宁市、崇左市", Some("771"), None),
        ];
        for (number, province, city, area, carrier) in cases {
            let got = info(number).unwrap_or_else(|| panic!("{number}: unknown"));
            let place = got.place.unwrap_or_else(|| panic!("{number}: no place"));
            assert_eq!(
                (
                    place.province.as_str(),
                    place.city.as_str(),
                    place.area_code.as_deref(),
                    got.carrier.as_deref()
                ),
                (province, city, area, carrier),
                "{number}"
            );
        }
    }

    #[test]
    fn carriers_follow_the_mobile_ranges() {
        for (number, carrier) in [
            ("13912345678", "中国移动"),
            ("13812345678", "中国移动"),
            ("18612345678", "中国联通"),
            ("15612345678", "中国联通"),
            ("18912345678", "中国电信"),
            ("13312345678", "中国电信"),
        ] {
            assert_eq!(
                info(number).and_then(|i| i.carrier).as_deref(),
                Some(carrier),
                "{number}"
            );
        }
    }

    #[test]
    fn what_the_data_does_not_know_is_unknown() {
        let n = Normalizer::new(NormalizerSettings::default());
        for number in [
            "95588",
            "4008208820",
            "12345",
            "+1 415 555 2671",
            "62345678",
        ] {
            let parsed = n.normalize(number).unwrap();
            assert_eq!(EMBEDDED.lookup(&parsed), None, "{number}");
        }
        // A data file without the prefix: unknown, not the nearest city.
        let small =
            NumberData::parse("P\t0\t北京市\t北京市\t10\tBeijing\tBeijing\nG\t8610\t0\n").unwrap();
        let shanghai = n.normalize("021-61234567").unwrap();
        assert_eq!(small.lookup(&shanghai), None);
        let beijing = n.normalize("010-62345678").unwrap();
        assert_eq!(
            small.lookup(&beijing).unwrap().place.unwrap().city,
            "北京市"
        );
    }

    #[test]
    fn a_broken_file_is_refused_with_its_line() {
        for (text, words) in [
            ("P\t0\t北京市\n", "line 1"),
            ("P\t0\ta\tb\t10\tc\td\nG\t86x\t0\n", "line 2"),
            ("G\t8610\t3\n", "no place 3"),
            ("# nothing\n", "no G lines"),
        ] {
            let e = NumberData::parse(text).unwrap_err();
            assert!(e.contains(words), "{text:?}: {e}");
        }
        let (places, prefixes, carriers) = EMBEDDED.size();
        assert!(places > 300 && prefixes > 100_000 && carriers > 50);
        assert!(EMBEDDED.source.contains("libphonenumber"));
    }
}
