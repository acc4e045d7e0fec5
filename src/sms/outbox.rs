//! The outbox: a message becomes its encoded parts, queued in one
//! transaction, and the modem workers are woken.

use super::worker::ModemLimits;
use crate::config::SmsConfig;
use crate::devices::gsm::pdu::{self, Encoding, Submit};
use crate::phone::address::{destination, AddressError};
use crate::phone::{Normalizer, NormalizerSettings};
use crate::store::{NewSms, StoreHandle};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// Why a message was not queued.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("{0}")]
    Invalid(String),
    /// The recipient is not somewhere an SMS can go.
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Queues messages and wakes the workers that send them.
#[derive(Clone)]
pub struct Outbox {
    store: StoreHandle,
    settings: SmsConfig,
    wake: watch::Sender<u64>,
    /// The concatenation reference of the next long message; the
    /// recipient's handset tells long messages apart by sender and it.
    next_reference: Arc<AtomicU8>,
    /// Modems with their own rate or daily cap (`[[device]]`).
    limits: Arc<HashMap<String, ModemLimits>>,
    /// Reads recipients into the one form the queue, the blacklist and the
    /// opt-out list share.
    normalizer: Arc<Normalizer>,
}

impl Outbox {
    /// An outbox on `store` that encodes with `settings`.
    pub fn new(store: StoreHandle, settings: SmsConfig) -> Outbox {
        let seed = (crate::store::now_ms() % 256) as u8;
        Outbox {
            store,
            settings,
            wake: watch::channel(0).0,
            next_reference: Arc::new(AtomicU8::new(seed)),
            limits: Arc::default(),
            normalizer: Arc::new(Normalizer::new(NormalizerSettings::default())),
        }
    }

    /// The same outbox reading numbers with `normalizer` (the config's
    /// region and area code) instead of the default (China).
    pub fn with_normalizer(mut self, normalizer: Arc<Normalizer>) -> Outbox {
        self.normalizer = normalizer;
        self
    }

    /// The recipient as the queue keeps it, or why it cannot receive SMS.
    pub fn destination(&self, to: &str) -> Result<String, SmsError> {
        Ok(destination(&self.normalizer, to)?)
    }

    /// The same outbox with per-modem limits from the devices' config.
    pub fn with_devices(mut self, devices: &[crate::config::DeviceConfig]) -> Outbox {
        self.limits = Arc::new(
            devices
                .iter()
                .map(|d| {
                    let limits = ModemLimits {
                        rate_per_minute: d
                            .sms_rate_per_minute
                            .unwrap_or(self.settings.rate_per_minute),
                        daily_cap: d.sms_daily_cap.unwrap_or(self.settings.daily_cap),
                    };
                    (d.name.clone(), limits)
                })
                .collect(),
        );
        self
    }

    /// How fast and how much `modem` may send.
    pub fn limits_for(&self, modem: &str) -> ModemLimits {
        self.limits.get(modem).copied().unwrap_or(ModemLimits {
            rate_per_minute: self.settings.rate_per_minute,
            daily_cap: self.settings.daily_cap,
        })
    }

    /// Wakes the workers: there is something new to send.
    pub fn wake(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The store the outbox writes to.
    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    /// The settings its workers follow.
    pub fn settings(&self) -> &SmsConfig {
        &self.settings
    }

    /// Told each time something is queued.
    pub fn woken(&self) -> watch::Receiver<u64> {
        self.wake.subscribe()
    }

    /// Splits and encodes `text` for `to` and queues every part; the
    /// message's id. The recipient is normalised first (see
    /// [`crate::phone::address`]); nothing is queued if it is not a phone number
    /// or any part cannot be encoded.
    pub async fn queue(
        &self,
        to: &str,
        text: &str,
        created_by: Option<i64>,
    ) -> Result<i64, SmsError> {
        let to = self.destination(to)?;
        let prepared = self.prepare(&to, text)?;
        let id = self
            .store
            .sms()
            .call(move |s| s.queue_sms(&prepared.new_sms(created_by)))
            .await?;
        self.wake();
        Ok(id)
    }

    /// `text` for `to` (already normalised) split and encoded, ready for
    /// the store to queue in whatever transaction the caller needs.
    pub fn prepare(&self, to: &str, text: &str) -> Result<Prepared, SmsError> {
        let parts = self.encode(to, text)?;
        Ok(Prepared {
            to: to.to_string(),
            text: text.to_string(),
            encoding: match parts[0].encoding {
                Encoding::Gsm7 => "gsm7",
                _ => "ucs2",
            },
            parts: parts.into_iter().map(|p| (p.hex, p.tpdu_len)).collect(),
        })
    }

    /// The PDUs `text` needs, with this outbox's report and validity
    /// settings; `to` is a destination already normalised.
    pub fn encode(&self, to: &str, text: &str) -> Result<Vec<pdu::SubmitPdu>, SmsError> {
        encode(
            &self.settings,
            to,
            text,
            self.next_reference.fetch_add(1, Ordering::Relaxed),
        )
    }
}

/// A message split and encoded, not yet queued.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub to: String,
    pub text: String,
    pub encoding: &'static str,
    pub parts: Vec<(String, usize)>,
}

impl Prepared {
    /// The store's row for it.
    pub fn new_sms(&self, created_by: Option<i64>) -> NewSms<'_> {
        NewSms {
            to: &self.to,
            text: &self.text,
            encoding: self.encoding,
            parts: self.parts.clone(),
            created_by,
        }
    }
}

/// The PDUs of one message: parts of a long one share `reference`. `to`
/// is what [`crate::phone::address::destination`] made of the recipient.
pub fn encode(
    settings: &SmsConfig,
    to: &str,
    text: &str,
    reference: u8,
) -> Result<Vec<pdu::SubmitPdu>, SmsError> {
    if text.is_empty() {
        return Err(SmsError::Invalid("the message is empty".into()));
    }
    let submit = Submit {
        to: to.trim(),
        text,
        status_report: settings.status_reports,
        validity_minutes: (settings.validity_minutes > 0).then_some(settings.validity_minutes),
        smsc: None,
    };
    pdu::encode_submit(&submit, reference).map_err(|e| SmsError::Invalid(e.to_string()))
}
