//! Webhooks (Open CTI): the events callpop tells other systems about, how
//! they are signed ([`signature`]), when a failed delivery is tried again
//! ([`next_attempt`]), the worker that delivers them ([`worker`]), and
//! what 企业微信/钉钉 group robots are sent instead ([`robot`]).
//! The outbox itself — endpoints, events, deliveries — is the store's
//! (`store::Webhooks`); events are written there in the transaction of
//! the fact they report.

pub mod robot;
pub mod signature;
pub mod worker;

/// The event types an endpoint may subscribe to (`*` takes them all).
pub const EVENT_TYPES: &[&str] = &[
    "call.ringing",
    "call.answered",
    "call.ended",
    "missed_call.created",
    "callback.due",
    "customer.created",
    "customer.updated",
    "workorder.saved",
    "workorder.updated",
    "workorder.overdue",
    "sms.received",
    "sms.delivered",
    "sms.failed",
    "device.down",
    "device.up",
    "campaign.finished",
];

/// How long a delivery is tried before it is given up (dead).
pub const GIVE_UP_AFTER_MS: i64 = 24 * 3600 * 1000;
/// The longest wait between two attempts.
pub const MAX_DELAY_MS: i64 = 3600 * 1000;

/// When to try again after the `attempts`-th failure of an event created
/// at `created_at` (ms): `base_ms` doubled per attempt, at most an hour;
/// `None` once the event is older than [`GIVE_UP_AFTER_MS`] by then.
pub fn next_attempt(attempts: i64, created_at: i64, now: i64, base_ms: i64) -> Option<i64> {
    let shift = attempts.clamp(0, 30) as u32;
    let delay = base_ms
        .max(1)
        .saturating_mul(1i64 << shift)
        .min(MAX_DELAY_MS);
    let at = now + delay;
    (at - created_at <= GIVE_UP_AFTER_MS).then_some(at)
}

/// Whether `types` (an endpoint's subscription) names only known types.
pub fn unknown_type(types: &[String]) -> Option<&str> {
    types
        .iter()
        .map(String::as_str)
        .find(|t| *t != "*" && !EVENT_TYPES.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour_and_stop_after_a_day() {
        let base = 10_000;
        assert_eq!(next_attempt(0, 0, 0, base), Some(10_000));
        assert_eq!(next_attempt(1, 0, 0, base), Some(20_000));
        assert_eq!(next_attempt(3, 0, 1_000, base), Some(81_000));
        assert_eq!(next_attempt(40, 0, 0, base), Some(MAX_DELAY_MS));
        let late = GIVE_UP_AFTER_MS - 5_000;
        assert_eq!(next_attempt(0, 0, late, base), None);
        assert_eq!(
            next_attempt(0, 0, late - 5_000, base),
            Some(GIVE_UP_AFTER_MS)
        );
    }

    #[test]
    fn subscriptions_name_known_types() {
        let named = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(unknown_type(&named(&["*", "customer.updated"])), None);
        assert_eq!(
            unknown_type(&named(&["customer.updatd"])),
            Some("customer.updatd")
        );
    }
}
