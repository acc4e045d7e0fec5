//! Failed logins, counted per key (a username, an address): after a few
//! free failures each further attempt must wait a growing delay, and a key
//! that keeps failing is locked for a while. Pure: the caller passes the
//! time and does the I/O (answers, audit).
//!
//! A call center sits behind one office address, so addresses are only
//! slowed down (never locked: one guesser must not lock out a whole
//! floor); usernames are slowed down and then locked.

use std::collections::HashMap;

/// How failures are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures in a row answered without a delay.
    pub free_failures: u32,
    /// The first delay; each further failure doubles it.
    pub base_delay_ms: i64,
    pub max_delay_ms: i64,
    /// Failures in a row that lock the key (`None`: never locked).
    pub lock_after: Option<u32>,
    pub lock_ms: i64,
    /// A key quiet this long starts from zero again.
    pub forget_after_ms: i64,
}

impl Policy {
    /// Usernames: 3 free failures, then 1 s, 2 s, 4 s ... up to 30 s; the
    /// 10th failure in a row locks the account for 15 minutes.
    pub const USER: Policy = Policy {
        free_failures: 3,
        base_delay_ms: 1_000,
        max_delay_ms: 30_000,
        lock_after: Some(10),
        lock_ms: 15 * 60_000,
        forget_after_ms: 15 * 60_000,
    };
    /// Addresses: 20 free failures (a floor of agents mistyping), then the
    /// same growing delays, never a lock.
    pub const ADDRESS: Policy = Policy {
        free_failures: 20,
        base_delay_ms: 1_000,
        max_delay_ms: 30_000,
        lock_after: None,
        lock_ms: 0,
        forget_after_ms: 15 * 60_000,
    };

    fn delay_after(&self, failures: u32) -> i64 {
        if failures < self.free_failures {
            return 0;
        }
        let doublings = (failures - self.free_failures).min(20);
        (self.base_delay_ms << doublings).min(self.max_delay_ms)
    }
}

/// Whether an attempt may go ahead now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Too soon after the last failure: try again in this many ms.
    Wait(i64),
    /// Locked until this time (ms).
    Locked(i64),
}

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    last_ms: i64,
    locked_until: Option<i64>,
}

/// The failures of one kind of key, bounded in memory.
#[derive(Debug)]
pub struct Throttle {
    policy: Policy,
    keys: HashMap<String, Failures>,
    max_keys: usize,
}

impl Throttle {
    /// A throttle holding at most `max_keys` keys (the quietest are
    /// forgotten first when full).
    pub fn new(policy: Policy, max_keys: usize) -> Throttle {
        Throttle {
            policy,
            keys: HashMap::new(),
            max_keys: max_keys.max(1),
        }
    }

    /// Whether `key` may try now.
    pub fn check(&self, key: &str, now_ms: i64) -> Verdict {
        let Some(f) = self.keys.get(key) else {
            return Verdict::Allow;
        };
        if let Some(until) = f.locked_until {
            if now_ms < until {
                return Verdict::Locked(until);
            }
            return Verdict::Allow;
        }
        if now_ms - f.last_ms >= self.policy.forget_after_ms {
            return Verdict::Allow;
        }
        let ready_at = f.last_ms + self.policy.delay_after(f.count);
        if now_ms < ready_at {
            Verdict::Wait(ready_at - now_ms)
        } else {
            Verdict::Allow
        }
    }

    /// Counts a failure; returns the end of a lock this failure started.
    pub fn failed(&mut self, key: &str, now_ms: i64) -> Option<i64> {
        if !self.keys.contains_key(key) && self.keys.len() >= self.max_keys {
            self.forget_oldest(now_ms);
        }
        let policy = self.policy;
        let f = self.keys.entry(key.to_string()).or_default();
        let expired_lock = f.locked_until.is_some_and(|u| now_ms >= u);
        if expired_lock || now_ms - f.last_ms >= policy.forget_after_ms {
            *f = Failures::default();
        }
        f.count += 1;
        f.last_ms = now_ms;
        match policy.lock_after {
            Some(n) if f.count >= n && f.locked_until.is_none() => {
                let until = now_ms + policy.lock_ms;
                f.locked_until = Some(until);
                Some(until)
            }
            _ => None,
        }
    }

    /// Takes back one failure of `key` (an attempt counted up front that
    /// turned out right), never below zero.
    pub fn forgive_one(&mut self, key: &str) {
        if let Some(f) = self.keys.get_mut(key) {
            f.count = f.count.saturating_sub(1);
        }
    }

    /// A success (or an admin's unlock) clears the key.
    pub fn clear(&mut self, key: &str) -> bool {
        self.keys.remove(key).is_some()
    }

    /// The keys locked now, with when each lock ends.
    pub fn locked(&self, now_ms: i64) -> Vec<(String, i64)> {
        let mut out: Vec<(String, i64)> = self
            .keys
            .iter()
            .filter_map(|(k, f)| {
                f.locked_until
                    .filter(|u| *u > now_ms)
                    .map(|u| (k.clone(), u))
            })
            .collect();
        out.sort();
        out
    }

    fn forget_oldest(&mut self, now_ms: i64) {
        let policy = self.policy;
        self.keys.retain(|_, f| {
            f.locked_until.is_some_and(|u| u > now_ms)
                || now_ms - f.last_ms < policy.forget_after_ms
        });
        while self.keys.len() >= self.max_keys {
            let Some(oldest) = self
                .keys
                .iter()
                .filter(|(_, f)| f.locked_until.is_none())
                .min_by_key(|(_, f)| f.last_ms)
                .or_else(|| self.keys.iter().min_by_key(|(_, f)| f.last_ms))
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.keys.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_the_free_failures_then_the_user_is_locked() {
        let mut t = Throttle::new(Policy::USER, 100);
        let mut now = 0;
        for _ in 0..3 {
            assert_eq!(t.check("u", now), Verdict::Allow);
            assert_eq!(t.failed("u", now), None);
        }
        // 3 failures: the next attempt waits 1 s, then 2 s, 4 s ...
        assert_eq!(t.check("u", now + 500), Verdict::Wait(500));
        for (failures, delay) in [(3, 1_000), (4, 2_000), (5, 4_000), (6, 8_000)] {
            assert_eq!(Policy::USER.delay_after(failures), delay);
        }
        assert_eq!(Policy::USER.delay_after(9), 30_000, "capped");
        for n in 4..10 {
            now += 60_000;
            assert_eq!(t.check("u", now), Verdict::Allow);
            assert_eq!(t.failed("u", now), None, "failure {n}");
        }
        now += 60_000;
        let until = t.failed("u", now).expect("the 10th failure locks");
        assert_eq!(until, now + 15 * 60_000);
        assert_eq!(t.check("u", now + 60_000), Verdict::Locked(until));
        assert_eq!(t.locked(now), [("u".to_string(), until)]);
        // The lock ends; the count starts again.
        assert_eq!(t.check("u", until), Verdict::Allow);
        assert_eq!(t.failed("u", until), None);
        assert_eq!(t.check("u", until + 1), Verdict::Allow);
    }

    #[test]
    fn a_success_or_quiet_clears_and_addresses_are_never_locked() {
        let mut t = Throttle::new(Policy::USER, 100);
        for _ in 0..5 {
            t.failed("u", 0);
        }
        assert!(matches!(t.check("u", 10), Verdict::Wait(_)));
        assert!(t.clear("u"));
        assert_eq!(t.check("u", 10), Verdict::Allow);
        for _ in 0..5 {
            t.failed("u", 0);
        }
        assert_eq!(t.check("u", 15 * 60_000), Verdict::Allow, "forgotten");
        let mut a = Throttle::new(Policy::ADDRESS, 100);
        for i in 0..1_000 {
            assert_eq!(a.failed("10.0.0.1", i * 60_000 / 100), None);
        }
        assert!(matches!(a.check("10.0.0.1", 600_000), Verdict::Wait(_)));
        assert!(a.locked(0).is_empty());
    }

    #[test]
    fn memory_stays_bounded_under_many_names() {
        let mut t = Throttle::new(Policy::USER, 50);
        for i in 0..10_000 {
            t.failed(&format!("name{i}"), i);
        }
        assert!(t.keys.len() <= 50);
        assert!(t.keys.contains_key("name9999"));
    }
}
