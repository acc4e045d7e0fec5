//! One worker per modem: while its modem is up it takes the next due part
//! (marked `sending` in the store before the modem is asked), hands it over
//! and records the answer. With several modems, each takes a part as soon
//! as it is free, so the least busy modem always gets the next one.

use super::Outbox;
use crate::devices::gsm::driver::{ModemHandle, SendOutcome};
use crate::event::SmsEvent;
use crate::store::{ClaimedPart, PartState};
use std::time::Duration;
use tokio::sync::broadcast;

/// Longest wait before a part is retried.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(600);
/// How often an idle worker looks for parts whose retry time has come.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Sends queued parts through `modem` until its driver stops.
pub async fn run(mut modem: ModemHandle, outbox: Outbox, events: broadcast::Sender<SmsEvent>) {
    let mut woken = outbox.woken();
    loop {
        if !modem.wait_up().await {
            return;
        }
        let name = modem.name.to_string();
        let part = match outbox.store().call(move |s| s.claim_sms_part(&name)).await {
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
        let outcome = modem.send(part.pdu.clone(), part.tpdu_len).await;
        settle(&outbox, &events, &modem.name, &part, outcome).await;
    }
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
    let (state, reference, error) = match outcome {
        SendOutcome::Sent { reference } => (PartState::Sent, Some(reference), None),
        SendOutcome::NotSent { reason, transient }
            if transient && part.attempts < settings.max_attempts =>
        {
            (PartState::Queued, None, Some(reason))
        }
        SendOutcome::NotSent { reason, transient } => {
            let why = if transient {
                format!("{reason} (after {} tries)", part.attempts)
            } else {
                reason
            };
            (PartState::Failed, None, Some(why))
        }
        SendOutcome::Unknown { reason } => (PartState::Unknown, None, Some(reason)),
    };
    let id = part.id;
    let wait = retry_wait(settings.retry_after_secs, part.attempts);
    let reason = error.clone().unwrap_or_default();
    let stored = outbox
        .store()
        .call(move |s| match state {
            PartState::Sent => s.sms_part_sent(id, reference.unwrap_or(0)),
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
