//! Sending SMS: messages are split and queued in the store (the outbox),
//! and one worker per GSM modem takes parts from the queue and hands them
//! to its modem. Receiving is the modem drivers' job
//! (`devices::gsm::driver`); both report through [`crate::event::SmsEvent`].

pub mod after_call;
pub mod campaign;
pub mod cost;
pub mod outbox;
pub mod rules;
/// Message templates live with the shared vocabulary (the settings check
/// after-call texts with them); here under their old name.
pub use crate::domain::template;
pub mod worker;

/// Where a message may go: the number rules live with the numbers
/// ([`crate::phone::address`]), so the modem drivers below can use them.
pub use crate::phone::address;

pub use campaign::{CampaignError, Campaigns};
pub use outbox::{Outbox, SmsError};

use crate::devices::gsm::driver::ModemHandle;
use crate::event::SmsEvent;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Starts a worker per modem. First, parts a previous process left
/// `sending` become `unknown`: they may have gone out and are not re-sent.
pub async fn start(
    outbox: &Outbox,
    modems: &[ModemHandle],
    events: broadcast::Sender<SmsEvent>,
) -> Result<Vec<JoinHandle<()>>, crate::store::StoreError> {
    let interrupted = outbox.store().sms().call(|s| s.sms_interrupted()).await?;
    if interrupted > 0 {
        tracing::warn!(
            parts = interrupted,
            "SMS parts were being sent when callpop stopped; marked unknown, not re-sent"
        );
    }
    Ok(modems
        .iter()
        .map(|m| tokio::spawn(worker::run(m.clone(), outbox.clone(), events.clone())))
        .collect())
}
