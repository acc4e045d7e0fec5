//! Reassembly of concatenated incoming messages: parts arrive in any order,
//! sometimes twice, sometimes never. A message is complete when every part
//! is in; one still missing parts after the timeout is released as it is,
//! marked incomplete, so nothing received is lost.
//!
//! Each part carries a tag of the caller's choosing (the store's row id of
//! the received PDU), handed back with the message it ends up in, so the
//! caller can tie every stored part, duplicates included, to its message.

use super::pdu::Deliver;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// A received message, whole or (after the timeout) with parts missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<T = ()> {
    pub sender: String,
    /// The first part's service-centre time stamp.
    pub timestamp: super::pdu::Timestamp,
    pub text: String,
    pub parts: u8,
    /// Part numbers that never arrived (empty when complete).
    pub missing: Vec<u8>,
    /// The tags of every part pushed for it, duplicates included.
    pub tags: Vec<T>,
}

struct Pending<T> {
    parts: BTreeMap<u8, Deliver>,
    tags: Vec<T>,
    total: u8,
    since: Instant,
}

/// Collects parts per (sender, reference, total).
pub struct Reassembler<T = ()> {
    pending: HashMap<(String, u16, u8), Pending<T>>,
    timeout: Duration,
}

impl<T> Reassembler<T> {
    /// Parts of a message still incomplete after `timeout` are given up on.
    pub fn new(timeout: Duration) -> Reassembler<T> {
        Reassembler {
            pending: HashMap::new(),
            timeout,
        }
    }

    /// Adds a received PDU; returns the message it completes, if any. A
    /// message without a concatenation header is complete at once, as is
    /// one whose header makes no sense (part 0, or beyond the total).
    pub fn push(&mut self, part: Deliver, tag: T, now: Instant) -> Option<Message<T>> {
        let Some(c) = part
            .concat
            .filter(|c| c.seq >= 1 && c.seq <= c.total && c.total > 1)
        else {
            return Some(Message {
                sender: part.sender,
                timestamp: part.timestamp,
                text: part.text,
                parts: 1,
                missing: Vec::new(),
                tags: vec![tag],
            });
        };
        let key = (part.sender.clone(), c.reference, c.total);
        let pending = self.pending.entry(key.clone()).or_insert_with(|| Pending {
            parts: BTreeMap::new(),
            tags: Vec::new(),
            total: c.total,
            since: now,
        });
        pending.parts.entry(c.seq).or_insert(part);
        pending.tags.push(tag);
        if pending.parts.len() == usize::from(pending.total) {
            let done = self.pending.remove(&key)?;
            return Some(join(key.0, done));
        }
        None
    }

    /// Releases the messages whose parts stopped coming, marked incomplete.
    pub fn expire(&mut self, now: Instant) -> Vec<Message<T>> {
        let stale: Vec<_> = self
            .pending
            .iter()
            .filter(|(_, p)| now.duration_since(p.since) >= self.timeout)
            .map(|(k, _)| k.clone())
            .collect();
        stale
            .into_iter()
            .filter_map(|k| self.pending.remove(&k).map(|p| join(k.0, p)))
            .collect()
    }

    /// How many messages wait for parts.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }
}

fn join<T>(sender: String, p: Pending<T>) -> Message<T> {
    let missing = (1..=p.total).filter(|n| !p.parts.contains_key(n)).collect();
    let timestamp = p.parts.values().next().map(|d| d.timestamp);
    Message {
        sender,
        timestamp: timestamp.unwrap_or(super::pdu::Timestamp {
            year: 2000,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            tz_quarters: 0,
        }),
        text: p.parts.into_values().map(|d| d.text).collect(),
        parts: p.total,
        missing,
        tags: p.tags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::gsm::pdu::{Concat, Encoding, Timestamp};

    fn part(sender: &str, reference: u16, total: u8, seq: u8, text: &str) -> Deliver {
        Deliver {
            smsc: None,
            sender: sender.into(),
            timestamp: Timestamp {
                year: 2026,
                month: 11,
                day: 22,
                hour: 10,
                minute: 0,
                second: seq,
                tz_quarters: 32,
            },
            encoding: Encoding::Ucs2,
            text: text.into(),
            data: Vec::new(),
            concat: Some(Concat {
                reference,
                total,
                seq,
            }),
            status_report_indication: false,
        }
    }

    #[test]
    fn parts_in_any_order_make_one_message() {
        let mut r = Reassembler::<()>::new(Duration::from_secs(60));
        let t = Instant::now();
        assert_eq!(r.push(part("+8613800000001", 9, 3, 3, "丙"), (), t), None);
        assert_eq!(r.push(part("+8613800000001", 9, 3, 1, "甲"), (), t), None);
        // Same reference from someone else is another message.
        assert_eq!(r.push(part("+8613800000002", 9, 2, 1, "x"), (), t), None);
        // A duplicate changes nothing.
        assert_eq!(r.push(part("+8613800000001", 9, 3, 1, "甲"), (), t), None);
        let m = r
            .push(part("+8613800000001", 9, 3, 2, "乙"), (), t)
            .unwrap();
        assert_eq!(m.text, "甲乙丙");
        assert_eq!((m.parts, m.missing.len()), (3, 0));
        assert_eq!(m.timestamp.second, 1, "the first part's time");
        assert_eq!(r.waiting(), 1);
    }

    #[test]
    fn a_message_missing_parts_is_released_after_the_timeout() {
        let mut r = Reassembler::<()>::new(Duration::from_secs(60));
        let t = Instant::now();
        r.push(part("10086", 0x1234, 3, 1, "您的话费"), (), t);
        r.push(part("10086", 0x1234, 3, 3, "元。"), (), t);
        assert!(r.expire(t + Duration::from_secs(59)).is_empty());
        let late = r.expire(t + Duration::from_secs(60));
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].text, "您的话费元。");
        assert_eq!(late[0].missing, [2]);
        assert_eq!(r.waiting(), 0);
    }

    #[test]
    fn single_and_nonsense_headers_pass_straight_through() {
        let mut r = Reassembler::<()>::new(Duration::from_secs(60));
        let t = Instant::now();
        let mut single = part("95588", 1, 1, 1, "验证码 1234");
        assert_eq!(r.push(single.clone(), (), t).unwrap().text, "验证码 1234");
        single.concat = None;
        assert_eq!(r.push(single, (), t).unwrap().parts, 1);
        assert_eq!(
            r.push(part("95588", 2, 2, 0, "零"), (), t).unwrap().text,
            "零"
        );
        assert_eq!(
            r.push(part("95588", 2, 2, 3, "三"), (), t).unwrap().text,
            "三"
        );
        assert_eq!(r.waiting(), 0);
    }
}
