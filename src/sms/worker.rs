//! One worker per modem: while its modem is up it takes the next due part
//! (marked `sending` in the store before the modem is asked), hands it over
//! and records the answer. With several modems, each takes a part as soon
//! as it is free, so the least busy modem always gets the next one.

use super::Outbox;
use crate::devices::gsm::driver::{ModemHandle, SendOutcome};
use crate::event::{DeviceState, SmsEvent};
use crate::store::{ClaimedPart, PartState};
use std::time::Duration;
use tokio::sync::broadcast;

/// Longest wait before a part is retried.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(600);
/// How often an idle worker looks for parts whose retry time has come.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// How much one modem may send: its rate and its SIM's daily cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModemLimits {
    /// Parts a minute; 0: no limit.
    pub rate_per_minute: u32,
    /// Parts a local day; 0: no cap.
    pub daily_cap: u32,
}

/// Sends queued parts through `modem` until its driver stops.
pub async fn run(mut modem: ModemHandle, outbox: Outbox, events: broadcast::Sender<SmsEvent>) {
    let limits = outbox.limits_for(&modem.name);
    let settings = outbox.settings().clone();
    let mut woken = outbox.woken();
    let mut next_at = tokio::time::Instant::now();
    let mut today = DailyCount::default();
    loop {
        if !wait_up(
            &mut modem,
            &outbox,
            Duration::from_secs(settings.failover_after_secs),
        )
        .await
        {
            return;
        }
        if limits.daily_cap > 0 {
            match today.used(&outbox, &modem.name).await {
                Some(used) if used >= i64::from(limits.daily_cap) => {
                    tracing::info!(modem = %modem.name, cap = limits.daily_cap, "the SIM reached its daily cap; resting until midnight");
                    tokio::time::sleep(until_tomorrow()).await;
                    continue;
                }
                Some(_) => {}
                None => {
                    tokio::time::sleep(IDLE_POLL).await;
                    continue;
                }
            }
        }
        tokio::time::sleep_until(next_at).await;
        let name = modem.name.to_string();
        let part = match outbox
            .store()
            .sms()
            .call(move |s| s.claim_sms_part(&name))
            .await
        {
            Ok(Some(part)) => part,
            Ok(None) => {
                tokio::select! {
                    _ = woken.changed() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
                continue;
            }
            Err(e) => {
                tracing::error!(modem = %modem.name, error = %e, "cannot take a part from the queue");
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
        };
        if limits.rate_per_minute > 0 {
            next_at = tokio::time::Instant::now()
                + Duration::from_secs_f64(60.0 / f64::from(limits.rate_per_minute));
        }
        today.count += 1;
        let outcome = modem.send(part.pdu.clone(), part.tpdu_len).await;
        let modem_fault = matches!(
            outcome,
            SendOutcome::NotSent {
                modem_fault: true,
                ..
            }
        );
        settle(&outbox, &events, &modem.name, &part, outcome).await;
        if modem_fault && modem.state() == DeviceState::Up {
            release_pins(&modem, &outbox).await;
            rest(
                &modem,
                &events,
                Duration::from_secs(settings.modem_rest_secs),
            )
            .await;
        }
    }
}

/// Waits for the modem to be up. When it stays down past `failover`, the
/// long messages it had begun are freed for the other modems.
async fn wait_up(modem: &mut ModemHandle, outbox: &Outbox, failover: Duration) -> bool {
    if let Ok(up) = tokio::time::timeout(failover, modem.wait_up()).await {
        return up;
    }
    release_pins(modem, outbox).await;
    modem.wait_up().await
}

/// The modem is out for a while: the long messages it had begun are
/// finished by the others (their handsets get them in two pieces, which
/// beats never).
async fn release_pins(modem: &ModemHandle, outbox: &Outbox) {
    let name = modem.name.to_string();
    match outbox
        .store()
        .sms()
        .call(move |s| s.release_pins(&name))
        .await
    {
        Ok(0) => {}
        Ok(n) => {
            tracing::warn!(modem = %modem.name, messages = n, "modem out; the rest of its long messages go through other modems");
            outbox.wake();
        }
        Err(e) => {
            tracing::error!(modem = %modem.name, error = %e, "cannot free a modem's messages")
        }
    }
}

/// A modem whose SIM is at fault sits out a while; the others carry on.
async fn rest(modem: &ModemHandle, events: &broadcast::Sender<SmsEvent>, wait: Duration) {
    tracing::warn!(modem = %modem.name, secs = wait.as_secs(), "the modem's SIM failed a part; resting it, the other modems carry on");
    let _ = events.send(SmsEvent::Modem {
        modem: modem.name.to_string(),
        state: DeviceState::Down {
            reason: format!("resting for {} s after a SIM fault", wait.as_secs()),
        },
    });
    tokio::time::sleep(wait).await;
    let _ = events.send(SmsEvent::Modem {
        modem: modem.name.to_string(),
        state: modem.state(),
    });
}

/// Parts a SIM has taken on the current local day.
#[derive(Default)]
struct DailyCount {
    day: Option<chrono::NaiveDate>,
    count: i64,
}

impl DailyCount {
    /// The count today, read from the store when the day changes; `None`
    /// when the store cannot say.
    async fn used(&mut self, outbox: &Outbox, modem: &str) -> Option<i64> {
        let now = chrono::Local::now();
        if self.day != Some(now.date_naive()) {
            let midnight = now
                .date_naive()
                .and_hms_opt(0, 0, 0)?
                .and_local_timezone(chrono::Local)
                .earliest()?
                .timestamp_millis();
            let name = modem.to_string();
            match outbox
                .store()
                .sms()
                .call(move |s| s.parts_claimed_since(&name, midnight))
                .await
            {
                Ok(n) => {
                    self.day = Some(now.date_naive());
                    self.count = n;
                }
                Err(e) => {
                    tracing::error!(modem, error = %e, "cannot count today's parts");
                    return None;
                }
            }
        }
        Some(self.count)
    }
}

/// Time left until the next local midnight (and a second).
fn until_tomorrow() -> Duration {
    let now = chrono::Local::now();
    let tomorrow = now
        .date_naive()
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 1))
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest());
    tomorrow
        .and_then(|t| (t - now).to_std().ok())
        .unwrap_or(Duration::from_secs(3600))
}

/// Records what the modem said about `part`. If even that fails the part
/// stays `sending`, which the next start-up turns into `unknown`: it is
/// never sent twice.
async fn settle(
    outbox: &Outbox,
    events: &broadcast::Sender<SmsEvent>,
    modem: &str,
    part: &ClaimedPart,
    outcome: SendOutcome,
) {
    let settings = outbox.settings();
    let (state, reference, error, release) = match outcome {
        SendOutcome::Sent { reference } => (PartState::Sent, Some(reference), None, false),
        SendOutcome::NotSent {
            reason,
            modem_fault: true,
            ..
        } => (PartState::Queued, None, Some(reason), true),
        SendOutcome::NotSent {
            reason, transient, ..
        } if transient && part.attempts < settings.max_attempts => {
            (PartState::Queued, None, Some(reason), false)
        }
        SendOutcome::NotSent {
            reason, transient, ..
        } => {
            let why = if transient {
                format!("{reason} (after {} tries)", part.attempts)
            } else {
                reason
            };
            (PartState::Failed, None, Some(why), false)
        }
        SendOutcome::Unknown { reason } => (PartState::Unknown, None, Some(reason), false),
    };
    let id = part.id;
    let wait = retry_wait(settings.retry_after_secs, part.attempts);
    let reason = error.clone().unwrap_or_default();
    let stored = outbox
        .store()
        .sms()
        .call(move |s| match state {
            PartState::Sent => s.sms_part_sent(id, reference.unwrap_or(0)),
            PartState::Queued if release => s.sms_part_release(id, &reason),
            PartState::Queued => s.sms_part_retry(
                id,
                &reason,
                crate::store::now_ms() + wait.as_millis() as i64,
            ),
            PartState::Failed => s.sms_part_failed(id, &reason),
            _ => s.sms_part_unknown(id, &reason),
        })
        .await;
    match stored {
        Ok(()) => {
            match state {
                PartState::Sent => tracing::debug!(modem, part = id, ?reference, "part sent"),
                PartState::Queued if release => {
                    tracing::info!(modem, part = id, error = ?error, "part not taken by this modem; back in the queue for any");
                    outbox.wake();
                }
                PartState::Queued => {
                    tracing::info!(modem, part = id, error = ?error, retry_in_secs = wait.as_secs(), "part not sent; will retry")
                }
                _ => {
                    tracing::warn!(modem, part = id, state = state.as_str(), error = ?error, "part not sent")
                }
            }
            let _ = events.send(SmsEvent::Part {
                part_id: id,
                message_id: part.message_id,
                state,
                modem: Some(modem.to_string()),
                reference,
                error,
            });
        }
        Err(e) => {
            tracing::error!(modem, part = id, error = %e, "cannot record a part's outcome; it will count as unknown")
        }
    }
}

/// Backoff of a part's retries: `base` seconds, doubling, at most ten minutes.
fn retry_wait(base_secs: u64, attempts: u32) -> Duration {
    let factor = 1u64 << attempts.saturating_sub(1).min(16);
    Duration::from_secs(base_secs.saturating_mul(factor)).min(MAX_RETRY_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_up_to_ten_minutes() {
        let waits: Vec<u64> = (1..=7).map(|a| retry_wait(30, a).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 600, 600]);
        assert_eq!(retry_wait(0, 3), Duration::ZERO);
    }
}
