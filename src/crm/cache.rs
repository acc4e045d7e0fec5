//! Answers of CRM lookups kept a while, per connector and number, so a
//! caller who rings again is amended at once and a busy line does not ask
//! the CRM for every ring. Pure: the time is an argument; bounded.

use super::lookup::Contact;
use std::collections::HashMap;

/// At most this many answers are kept (the oldest go first).
pub const MAX_ENTRIES: usize = 20_000;

/// Kept answers: found (`Some`) or nobody (`None`), with when they expire.
#[derive(Debug, Default)]
pub struct Cache {
    entries: HashMap<(usize, String), (Option<Contact>, i64)>,
}

impl Cache {
    /// The kept answer of connector `connector` for `number` at `now`.
    pub fn get(&self, connector: usize, number: &str, now: i64) -> Option<Option<Contact>> {
        self.entries
            .get(&(connector, number.to_string()))
            .filter(|(_, expires)| *expires > now)
            .map(|(c, _)| c.clone())
    }

    /// Keeps an answer for `ttl_ms` (0: not at all).
    pub fn put(
        &mut self,
        connector: usize,
        number: &str,
        answer: Option<Contact>,
        now: i64,
        ttl_ms: i64,
    ) {
        if ttl_ms <= 0 {
            return;
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.retain(|_, (_, expires)| *expires > now);
            if self.entries.len() >= MAX_ENTRIES {
                // Still full of live answers: drop the tenth expiring first.
                let mut by_expiry: Vec<(i64, (usize, String))> = self
                    .entries
                    .iter()
                    .map(|(k, (_, e))| (*e, k.clone()))
                    .collect();
                by_expiry.sort_unstable();
                for (_, key) in by_expiry.into_iter().take(MAX_ENTRIES / 10) {
                    self.entries.remove(&key);
                }
            }
        }
        self.entries
            .insert((connector, number.to_string()), (answer, now + ttl_ms));
    }

    /// How many answers are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(id: &str) -> Contact {
        Contact {
            id: id.into(),
            name: None,
            company: None,
            owner: None,
            link: None,
            id_value: serde_json::json!(id),
        }
    }

    #[test]
    fn answers_are_kept_for_their_time_per_connector() {
        let mut c = Cache::default();
        c.put(0, "+8613812345678", Some(contact("7")), 1_000, 300_000);
        c.put(0, "+8613900001111", None, 1_000, 300_000);
        assert_eq!(c.get(0, "+8613812345678", 2_000), Some(Some(contact("7"))));
        assert_eq!(
            c.get(0, "+8613900001111", 2_000),
            Some(None),
            "nobody, kept too"
        );
        assert_eq!(c.get(1, "+8613812345678", 2_000), None, "another connector");
        assert_eq!(c.get(0, "+8613812345678", 301_000), None, "expired");
        c.put(0, "x", None, 0, 0);
        assert_eq!(c.get(0, "x", 0), None, "a TTL of 0 keeps nothing");
    }

    #[test]
    fn a_full_cache_of_equal_answers_drops_a_tenth_not_all() {
        let mut c = Cache::default();
        for i in 0..MAX_ENTRIES {
            c.put(0, &i.to_string(), None, 0, 1_000);
        }
        c.put(0, "new", None, 0, 1_000);
        assert_eq!(c.len(), MAX_ENTRIES - MAX_ENTRIES / 10 + 1);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let mut c = Cache::default();
        for i in 0..(MAX_ENTRIES + 500) {
            c.put(0, &i.to_string(), None, i as i64, 1_000_000);
        }
        assert!(c.len() <= MAX_ENTRIES);
        assert!(
            c.get(0, &(MAX_ENTRIES + 499).to_string(), 0).is_some(),
            "the newest kept"
        );
    }
}
