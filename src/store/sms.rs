//! The SMS queue and inbox (sql/0005_sms.sql). Every state change of an
//! outgoing part is one statement, written before the modem is asked (for
//! `sending`) or as soon as it has answered; see the README's "SMS
//! delivery semantics" for what each state promises.

use super::{now_ms, Result, Store, StoreError};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

/// A message to queue, already split and encoded.
#[derive(Debug, Clone)]
pub struct NewSms<'a> {
    pub to: &'a str,
    pub text: &'a str,
    /// `gsm7` or `ucs2`.
    pub encoding: &'a str,
    /// Each part's PDU hex and its `AT+CMGS` length.
    pub parts: Vec<(String, usize)>,
    pub created_by: Option<i64>,
}

/// A part a modem has taken: everything it needs to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedPart {
    pub id: i64,
    pub message_id: i64,
    pub seq: u32,
    pub pdu: String,
    pub tpdu_len: usize,
    /// How many times it has been handed to a modem, this one included.
    pub attempts: u32,
}

pub use crate::domain::PartState;

/// One outgoing part as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartRow {
    pub id: i64,
    pub message_id: i64,
    pub seq: u32,
    pub state: PartState,
    pub modem: Option<String>,
    pub reference: Option<u8>,
    pub attempts: u32,
    pub error: Option<String>,
    pub report_status: Option<u8>,
    pub updated_at: i64,
}

/// A received message as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxRow {
    pub id: i64,
    pub modem: String,
    pub sender: String,
    pub text: String,
    pub parts: u32,
    /// Part numbers that never arrived; empty when whole.
    pub missing: Vec<u8>,
    pub sent_at: String,
    pub received_at: i64,
    /// For a PDU that could not be decoded: the PDU as the modem gave it...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdu: Option<String>,
    /// ...and why it could not be read. Sender and text are then empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A message sent to or received from one of a customer's numbers, as
/// the customer's page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerSms {
    /// `out` (sent by us) or `in` (received).
    pub direction: &'static str,
    pub id: i64,
    /// The customer's number, as the queue keeps it or the modem gave it.
    pub number: String,
    pub text: String,
    /// Queued (sent) or received, ms.
    pub at: i64,
    /// A sent message's state over its parts: `sending` (some not out
    /// yet), `failed` (any failed), `delivered` (all delivered), `unknown`
    /// (some never settled), else `sent`; `None` for a received one.
    pub state: Option<&'static str>,
    /// The campaign it was part of, if any.
    pub campaign: Option<String>,
}

/// A received message to store, with the stored PDUs it was joined from.
#[derive(Debug, Clone)]
pub struct NewInbox<'a> {
    pub modem: &'a str,
    pub sender: &'a str,
    /// The sender in the queue's canonical form (E.164), when it is a
    /// phone number: how a customer's page finds the message.
    pub sender_number: Option<&'a str>,
    pub text: &'a str,
    pub parts: u32,
    pub missing: &'a [u8],
    pub sent_at: &'a str,
    pub part_ids: &'a [i64],
}

/// How far the service centre's time stamp of a delivery report may be
/// from when the modem accepted the part: wide enough for a PC clock a
/// little off and a slow centre, far narrower than the time a modem takes
/// to use 256 references at its rate limit. A report outside it is kept for
/// a person rather than guessed at.
pub const REPORT_WINDOW_MS: i64 = 30 * 60 * 1000;

/// A delivery report as a modem driver read it, to be matched to a part.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    pub modem: &'a str,
    /// TP-MR: the reference the modem gave the part.
    pub reference: u8,
    /// The recipient as the report gives it.
    pub recipient: &'a str,
    /// The recipient in the queue's form (see `phone::address`); `None` when
    /// it is no number, which matches no part.
    pub recipient_key: Option<&'a str>,
    /// When the service centre took the part (TP-SCTS), ms since the epoch;
    /// `None` when the time stamp is not a real time.
    pub submitted_ms: Option<i64>,
    /// TP-SCTS and TP-DT as ISO 8601 text, for people.
    pub submitted_at: String,
    pub discharged_at: String,
    /// TP-ST.
    pub status: u8,
    /// `Some(true)` delivered, `Some(false)` given up, `None` still trying.
    pub delivered: Option<bool>,
}

/// A delivery report kept because it matched no part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmatchedReport {
    pub id: i64,
    pub modem: String,
    pub reference: u8,
    pub recipient: String,
    pub status: u8,
    pub submitted_at: String,
    pub discharged_at: String,
    pub reason: String,
    pub received_at: i64,
}

/// What a delivery report settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub part_id: i64,
    pub message_id: i64,
    pub state: PartState,
}

const PART_COLUMNS: &str = "id, message_id, seq, state, modem, reference, attempts, error,
     report_status, updated_at";

fn part_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PartRow> {
    Ok(PartRow {
        id: r.get(0)?,
        message_id: r.get(1)?,
        seq: r.get(2)?,
        state: PartState::parse(&r.get::<_, String>(3)?),
        modem: r.get(4)?,
        reference: r.get(5)?,
        attempts: r.get(6)?,
        error: r.get(7)?,
        report_status: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

/// A number nobody may message, as the admin console lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlacklistRow {
    pub e164: String,
    pub note: String,
    pub created_by: Option<String>,
    pub created_at: i64,
}

/// A number that asked to hear no more (a reply of 退订, T, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptOutRow {
    pub e164: String,
    pub keyword: Option<String>,
    pub created_at: i64,
}

/// A part whose fate nobody knows (the modem or callpop died while sending
/// it): a person settles it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnknownPart {
    pub id: i64,
    pub to_number: String,
    pub seq: i64,
    pub parts: i64,
    pub campaign_id: Option<i64>,
    pub modem: Option<String>,
    pub error: Option<String>,
    pub updated_at: i64,
}

/// Text messages: the outgoing parts and their states, delivery reports,
/// the inbox, opt-outs, the blacklist and what each modem has sent.
///
/// A view of a [`Store`], from [`Store::sms`]; cheap to copy.
#[derive(Clone, Copy)]
pub struct Sms<'a> {
    pub(super) store: &'a Store,
}

/// A message's state from its parts' (SQL over `sms_messages m`): still
/// `sending` while a part waits, `failed` once one failed, `delivered`
/// when all were, `unknown` when one may or may not have left, else `sent`.
const MESSAGE_STATE: &str = "(SELECT CASE
        WHEN sum(x.state IN ('queued', 'sending')) > 0 THEN 'sending'
        WHEN sum(x.state = 'failed') > 0 THEN 'failed'
        WHEN sum(x.state = 'delivered') = count(*) THEN 'delivered'
        WHEN sum(x.state = 'unknown') > 0 THEN 'unknown'
        ELSE 'sent' END
     FROM sms_parts x WHERE x.message_id = m.id)";

impl Sms<'_> {
    /// Queues a message and its parts in one transaction; its id.
    pub fn queue_sms(&self, sms: &NewSms<'_>) -> Result<i64> {
        if sms.parts.is_empty() {
            return Err(StoreError::Invalid(
                "a message needs at least one part".into(),
            ));
        }
        self.store.in_transaction(|s| {
            let now = now_ms();
            s.conn.execute(
                "INSERT INTO sms_messages (to_number, text, encoding, parts, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![sms.to, sms.text, sms.encoding, sms.parts.len() as i64, sms.created_by, now],
            )?;
            let id = s.conn.last_insert_rowid();
            let mut insert = s.conn.prepare_cached(
                "INSERT INTO sms_parts (message_id, seq, pdu, tpdu_len, queued_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?;
            for (i, (pdu, len)) in sms.parts.iter().enumerate() {
                insert.execute(params![id, i as i64 + 1, pdu, *len as i64, now])?;
            }
            Ok(id)
        })
    }

    /// Hands the next due part to `modem` and marks it `sending`, before the
    /// modem is asked. A message started on one modem stays on it (the
    /// recipient's handset joins parts only from one sender); its remaining
    /// parts come first. Campaign parts are taken only while their campaign
    /// runs. A part for a blacklisted number, or a campaign part for a
    /// number that opted out since it was queued, is failed here instead.
    pub fn claim_sms_part(&self, modem: &str) -> Result<Option<ClaimedPart>> {
        self.store.in_transaction(|s| {
            let now = now_ms();
            loop {
                let next = s
                    .conn
                    .prepare_cached(
                        "SELECT p.id, p.message_id, p.seq, p.pdu, p.tpdu_len, p.attempts,
                            EXISTS (SELECT 1 FROM sms_blacklist b WHERE b.e164 = m.to_number),
                            p.campaign_id IS NOT NULL AND EXISTS
                                (SELECT 1 FROM sms_optouts o WHERE o.e164 = m.to_number)
                         FROM sms_parts p JOIN sms_messages m ON m.id = p.message_id
                         WHERE p.state = 'queued' AND p.not_before <= ?1
                           AND (m.modem IS NULL OR m.modem = ?2)
                           AND (p.campaign_id IS NULL OR EXISTS (SELECT 1 FROM sms_campaigns c
                                WHERE c.id = p.campaign_id AND c.state = 'running'))
                         ORDER BY m.modem IS NULL, p.id
                         LIMIT 1",
                    )?
                    .query_row(params![now, modem], |r| {
                        Ok((
                            ClaimedPart {
                                id: r.get(0)?,
                                message_id: r.get(1)?,
                                seq: r.get(2)?,
                                pdu: r.get(3)?,
                                tpdu_len: r.get::<_, i64>(4)? as usize,
                                attempts: r.get::<_, u32>(5)? + 1,
                            },
                            r.get::<_, bool>(6)?,
                            r.get::<_, bool>(7)?,
                        ))
                    })
                    .optional()?;
                let Some((part, blacklisted, opted_out)) = next else {
                    return Ok(None);
                };
                if blacklisted || opted_out {
                    let why = if blacklisted {
                        "the number is blacklisted"
                    } else {
                        "the recipient opted out"
                    };
                    s.conn.execute(
                        "UPDATE sms_parts SET state = 'failed', error = ?2, updated_at = ?3
                         WHERE message_id = ?1 AND state = 'queued'",
                        params![part.message_id, why, now],
                    )?;
                    s.sms().tell_if_settled(Some(part.message_id), None)?;
                    continue;
                }
                s.conn.execute(
                    "UPDATE sms_parts SET state = 'sending', modem = ?2, attempts = attempts + 1,
                         claimed_at = ?3, updated_at = ?3 WHERE id = ?1",
                    params![part.id, modem, now],
                )?;
                s.conn.execute(
                    "UPDATE sms_messages SET modem = ?2 WHERE id = ?1 AND modem IS NULL",
                    params![part.message_id, modem],
                )?;
                return Ok(Some(part));
            }
        })
    }

    /// The modem could not take the part through no fault of the part (its
    /// SIM failed, it went down): back to the queue as if never tried, and
    /// free for any modem unless others of its message went out on this one.
    pub fn sms_part_release(&self, part_id: i64, reason: &str) -> Result<()> {
        self.store.in_transaction(|s| {
            let n = s.conn.execute(
                "UPDATE sms_parts SET state = 'queued', error = ?2, attempts = attempts - 1,
                     modem = NULL, claimed_at = NULL, updated_at = ?3
                 WHERE id = ?1 AND state = 'sending'",
                params![part_id, reason, now_ms()],
            )?;
            expect_one(n, part_id)?;
            s.conn.execute(
                "UPDATE sms_messages SET modem = NULL
                 WHERE id = (SELECT message_id FROM sms_parts WHERE id = ?1)
                   AND NOT EXISTS (SELECT 1 FROM sms_parts p
                                   WHERE p.message_id = sms_messages.id AND p.state != 'queued')",
                [part_id],
            )?;
            Ok(())
        })
    }

    /// Frees the unsent parts of long messages begun on `modem` for the
    /// other modems (it has been down too long); their count.
    pub fn release_pins(&self, modem: &str) -> Result<usize> {
        Ok(self.store.conn.execute(
            "UPDATE sms_messages SET modem = NULL
             WHERE modem = ?1
               AND EXISTS (SELECT 1 FROM sms_parts p
                           WHERE p.message_id = sms_messages.id AND p.state = 'queued')",
            [modem],
        )?)
    }

    /// The modem accepted the part and gave it `reference` (TP-MR).
    pub fn sms_part_sent(&self, part_id: i64, reference: u8) -> Result<()> {
        self.set_part(
            part_id,
            "state = 'sent', reference = ?2, error = NULL, sent_at = ?3",
            reference,
        )
    }

    /// The part will not be sent: `reason` says why, for the marketer.
    pub fn sms_part_failed(&self, part_id: i64, reason: &str) -> Result<()> {
        self.store.in_transaction(|s| {
            s.sms()
                .set_part(part_id, "state = 'failed', error = ?2", reason)?;
            s.sms().tell_if_settled(None, Some(part_id))
        })
    }

    /// The part may or may not have left; it is not sent again by itself.
    pub fn sms_part_unknown(&self, part_id: i64, reason: &str) -> Result<()> {
        self.set_part(part_id, "state = 'unknown', error = ?2", reason)
    }

    /// The part certainly did not leave and may be tried again from
    /// `not_before` (ms) on.
    pub fn sms_part_retry(&self, part_id: i64, reason: &str, not_before: i64) -> Result<()> {
        let n = self.store.conn.execute(
            "UPDATE sms_parts SET state = 'queued', error = ?2, not_before = ?3, updated_at = ?4
             WHERE id = ?1 AND state = 'sending'",
            params![part_id, reason, not_before, now_ms()],
        )?;
        expect_one(n, part_id)
    }

    fn set_part(&self, part_id: i64, set: &str, value: impl rusqlite::ToSql) -> Result<()> {
        let n = self.store.conn.execute(
            &format!(
                "UPDATE sms_parts SET {set}, updated_at = ?3 WHERE id = ?1 AND state = 'sending'"
            ),
            params![part_id, value, now_ms()],
        )?;
        expect_one(n, part_id)
    }

    /// A person settles a part whose outcome was unknown: `Delivered` or
    /// `Failed` as they found out (the recipient said so, the operator's
    /// records), or `Queued` to send it again knowing it may arrive twice.
    pub fn settle_unknown(&self, part_id: i64, to: PartState, note: &str) -> Result<()> {
        let set = match to {
            PartState::Delivered => "state = 'delivered'",
            PartState::Failed => "state = 'failed'",
            PartState::Queued => {
                "state = 'queued', not_before = 0, modem = NULL, claimed_at = NULL"
            }
            other => {
                return Err(StoreError::Invalid(format!(
                    "an unknown part is settled as delivered, failed or queued, not {}",
                    other.as_str()
                )))
            }
        };
        self.store.in_transaction(|s| {
            let n = s.conn.execute(
                &format!(
                    "UPDATE sms_parts SET {set}, error = ?2, updated_at = ?3
                     WHERE id = ?1 AND state = 'unknown'"
                ),
                params![part_id, note, now_ms()],
            )?;
            if n == 0 {
                return Err(StoreError::Invalid(format!(
                    "part {part_id} is not unknown; only unknown parts are settled by hand"
                )));
            }
            s.sms().tell_if_settled(None, Some(part_id))
        })
    }

    /// Writes `sms.delivered` or `sms.failed` (once) when the message of
    /// `message` or of part `part` has just come to its end.
    fn tell_if_settled(&self, message: Option<i64>, part: Option<i64>) -> Result<()> {
        let hooks = self.store.webhooks();
        if !hooks.listens("sms.delivered")? && !hooks.listens("sms.failed")? {
            return Ok(());
        }
        let settled: Option<(i64, String, serde_json::Value)> = self
            .store
            .conn
            .prepare_cached(&format!(
                "SELECT m.id, m.to_number, m.text, m.parts, m.campaign_id, m.created_at,
                        {MESSAGE_STATE},
                        (SELECT x.error FROM sms_parts x
                         WHERE x.message_id = m.id AND x.state = 'failed' LIMIT 1)
                 FROM sms_messages m
                 WHERE m.id = coalesce(?1, (SELECT message_id FROM sms_parts WHERE id = ?2))"
            ))?
            .query_row(params![message, part], |r| {
                let id: i64 = r.get(0)?;
                let data = serde_json::json!({
                    "message_id": id,
                    "to": r.get::<_, String>(1)?,
                    "text": r.get::<_, String>(2)?,
                    "parts": r.get::<_, i64>(3)?,
                    "campaign_id": r.get::<_, Option<i64>>(4)?,
                    "created_at": r.get::<_, i64>(5)?,
                    "error": r.get::<_, Option<String>>(7)?,
                });
                Ok((id, r.get(6)?, data))
            })
            .optional()?;
        let Some((id, state, data)) = settled else {
            return Ok(());
        };
        let event = match state.as_str() {
            "delivered" => "sms.delivered",
            "failed" => "sms.failed",
            _ => return Ok(()),
        };
        self.store
            .webhooks()
            .emit_once(event, &id.to_string(), &data)?;
        Ok(())
    }

    /// At start-up, before any modem works: parts left `sending` by a
    /// process that died become `unknown`. Their count.
    pub fn sms_interrupted(&self) -> Result<usize> {
        Ok(self.store.conn.execute(
            "UPDATE sms_parts SET state = 'unknown', updated_at = ?1,
                 error = 'callpop stopped while this part was being sent'
             WHERE state = 'sending'",
            params![now_ms()],
        )?)
    }

    /// Settles the part a delivery report is about: the part `modem` sent
    /// with the report's reference, to the report's recipient, closest in
    /// time to when the service centre took it and no further than
    /// [`REPORT_WINDOW_MS`] from it. References repeat every 256 parts, so
    /// neither the reference nor the latest use of it is enough: a late
    /// report must never settle another recipient's part. `None` when no
    /// part matches (the caller keeps the report for a person). A report
    /// saying "still trying" only records its status.
    pub fn sms_report(&self, r: &Report<'_>) -> Result<Option<Settled>> {
        let (Some(recipient), Some(submitted)) = (r.recipient_key, r.submitted_ms) else {
            return Ok(None);
        };
        let part: Option<(i64, i64)> = self
            .store
            .conn
            .prepare_cached(
                "SELECT p.id, p.message_id
                 FROM sms_parts p JOIN sms_messages m ON m.id = p.message_id
                 WHERE p.modem = ?1 AND p.reference = ?2 AND p.state = 'sent'
                   AND m.to_number = ?3
                   AND ABS(COALESCE(p.sent_at, p.updated_at) - ?4) <= ?5
                 ORDER BY ABS(COALESCE(p.sent_at, p.updated_at) - ?4), p.id DESC
                 LIMIT 1",
            )?
            .query_row(
                params![r.modem, r.reference, recipient, submitted, REPORT_WINDOW_MS],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((part_id, message_id)) = part else {
            return Ok(None);
        };
        let state = match r.delivered {
            Some(true) => PartState::Delivered,
            Some(false) => PartState::Failed,
            None => PartState::Sent,
        };
        let error = (state == PartState::Failed).then(|| {
            format!(
                "the network gave up delivering it (status 0x{:02x})",
                r.status
            )
        });
        self.store.in_transaction(|s| {
            s.conn.execute(
                "UPDATE sms_parts SET state = ?2, report_status = ?3, error = COALESCE(?4, error),
                     updated_at = ?5 WHERE id = ?1",
                params![part_id, state.as_str(), r.status, error, now_ms()],
            )?;
            s.sms().tell_if_settled(Some(message_id), None)
        })?;
        Ok(Some(Settled {
            part_id,
            message_id,
            state,
        }))
    }

    /// Keeps a delivery report that matched no part, with why, for a
    /// person to look at (`callpop sms reports`); its id.
    pub fn sms_unmatched_report(&self, r: &Report<'_>, reason: &str) -> Result<i64> {
        self.store.conn.execute(
            "INSERT INTO sms_unmatched_reports (modem, reference, recipient, recipient_key,
                 status, submitted_at, discharged_at, reason, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                r.modem,
                r.reference,
                r.recipient,
                r.recipient_key,
                r.status,
                r.submitted_at,
                r.discharged_at,
                reason,
                now_ms()
            ],
        )?;
        Ok(self.store.conn.last_insert_rowid())
    }

    /// The latest delivery reports that matched no part, newest first.
    pub fn sms_unmatched_reports(&self, limit: u32) -> Result<Vec<UnmatchedReport>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT id, modem, reference, recipient, status, submitted_at, discharged_at,
                    reason, received_at
             FROM sms_unmatched_reports ORDER BY received_at DESC, id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok(UnmatchedReport {
                id: r.get(0)?,
                modem: r.get(1)?,
                reference: r.get(2)?,
                recipient: r.get(3)?,
                status: r.get(4)?,
                submitted_at: r.get(5)?,
                discharged_at: r.get(6)?,
                reason: r.get(7)?,
                received_at: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A message's parts in order.
    pub fn sms_parts(&self, message_id: i64) -> Result<Vec<PartRow>> {
        let mut stmt = self.store.conn.prepare_cached(&format!(
            "SELECT {PART_COLUMNS} FROM sms_parts WHERE message_id = ?1 ORDER BY seq"
        ))?;
        let rows = stmt.query_map([message_id], part_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many parts are in each state.
    pub fn sms_part_counts(&self) -> Result<Vec<(PartState, u64)>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT state, COUNT(*) FROM sms_parts GROUP BY state ORDER BY state",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                PartState::parse(&r.get::<_, String>(0)?),
                r.get::<_, i64>(1)? as u64,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Keeps a received PDU before it is deleted from the SIM; its row id.
    pub fn sms_inbox_part(&self, modem: &str, pdu: &str) -> Result<i64> {
        self.store.conn.execute(
            "INSERT INTO sms_inbox_parts (modem, pdu, received_at) VALUES (?1, ?2, ?3)",
            params![modem, pdu, now_ms()],
        )?;
        Ok(self.store.conn.last_insert_rowid())
    }

    /// Received PDUs of `modem` not yet joined into a message (after a
    /// restart they go back into reassembly): id, PDU, received at.
    pub fn sms_waiting_parts(&self, modem: &str) -> Result<Vec<(i64, String, i64)>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT id, pdu, received_at FROM sms_inbox_parts
             WHERE modem = ?1 AND message_id IS NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([modem], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores a received message and ties its PDUs to it; its id.
    /// Its `sms.received` webhook event is written with it.
    pub fn sms_inbox_message(&self, m: &NewInbox<'_>) -> Result<i64> {
        self.store.in_transaction(|s| {
            let missing = (!m.missing.is_empty()).then(|| {
                m.missing
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            });
            s.conn.execute(
                "INSERT INTO sms_inbox (modem, sender, text, parts, missing, sent_at, received_at,
                                        sender_number)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    m.modem,
                    m.sender,
                    m.text,
                    m.parts,
                    missing,
                    m.sent_at,
                    now_ms(),
                    m.sender_number
                ],
            )?;
            let id = s.conn.last_insert_rowid();
            let mut link = s
                .conn
                .prepare_cached("UPDATE sms_inbox_parts SET message_id = ?1 WHERE id = ?2")?;
            for part in m.part_ids {
                link.execute(params![id, part])?;
            }
            let data = serde_json::json!({
                "inbox_id": id,
                "modem": m.modem,
                "from": m.sender,
                "from_number": m.sender_number,
                "text": m.text,
                "parts": m.parts,
                "missing_parts": m.missing,
                "sent_at": m.sent_at,
            });
            s.webhooks().emit("sms.received", &data)?;
            Ok(id)
        })
    }

    /// The newest `limit` messages sent to or received from customer
    /// `customer_id`'s numbers, newest first.
    pub fn customer_messages(&self, customer_id: i64, limit: u32) -> Result<Vec<CustomerSms>> {
        let mut stmt = self.store.conn.prepare_cached(&format!(
            "SELECT 'out', m.id, m.to_number, m.text, m.created_at, c.name, {MESSAGE_STATE}
             FROM customer_phones p
             JOIN sms_messages m ON m.to_number = coalesce(p.e164, p.national)
             LEFT JOIN sms_campaigns c ON c.id = m.campaign_id
             WHERE p.customer_id = ?1
             UNION ALL
             SELECT 'in', i.id, i.sender, i.text, i.received_at, NULL, NULL
             FROM customer_phones p
             JOIN sms_inbox i ON i.sender_number = coalesce(p.e164, p.national)
             WHERE p.customer_id = ?1
             ORDER BY 5 DESC, 2 DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![customer_id, limit], |r| {
            let direction: String = r.get(0)?;
            let state: Option<String> = r.get(6)?;
            Ok(CustomerSms {
                direction: if direction == "out" { "out" } else { "in" },
                id: r.get(1)?,
                number: r.get(2)?,
                text: r.get(3)?,
                at: r.get(4)?,
                campaign: r.get(5)?,
                state: state.map(|s| match s.as_str() {
                    "sending" => "sending",
                    "failed" => "failed",
                    "delivered" => "delivered",
                    "unknown" => "unknown",
                    _ => "sent",
                }),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Lists a received PDU that cannot be decoded in the inbox, with the
    /// raw PDU and why, so a person sees it (not only a log line); the
    /// inbox row's id. The PDU is also kept as a received part, tied to
    /// that row, so it is never joined into another message.
    pub fn sms_inbox_undecodable(&self, modem: &str, pdu: &str, reason: &str) -> Result<i64> {
        self.store.in_transaction(|s| {
            let now = now_ms();
            s.conn.execute(
                "INSERT INTO sms_inbox (modem, sender, text, parts, sent_at, received_at, pdu, error)
                 VALUES (?1, '', '', 1, '', ?2, ?3, ?4)",
                params![modem, now, pdu, reason],
            )?;
            let id = s.conn.last_insert_rowid();
            s.conn.execute(
                "INSERT INTO sms_inbox_parts (modem, pdu, received_at, message_id)
                 VALUES (?1, ?2, ?3, ?4)",
                params![modem, pdu, now, id],
            )?;
            Ok(id)
        })
    }

    /// The latest received messages, newest first.
    pub fn sms_inbox(&self, limit: u32) -> Result<Vec<InboxRow>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT id, modem, sender, text, parts, missing, sent_at, received_at, pdu, error
             FROM sms_inbox ORDER BY received_at DESC, id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            let missing: Option<String> = r.get(5)?;
            Ok(InboxRow {
                id: r.get(0)?,
                modem: r.get(1)?,
                sender: r.get(2)?,
                text: r.get(3)?,
                parts: r.get(4)?,
                missing: missing
                    .iter()
                    .flat_map(|m| m.split(','))
                    .filter_map(|n| n.parse().ok())
                    .collect(),
                sent_at: r.get(6)?,
                received_at: r.get(7)?,
                pdu: r.get(8)?,
                error: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds `e164` to the opt-out list; `true` if it was not on it.
    pub fn add_optout(&self, e164: &str, keyword: &str, inbox_id: Option<i64>) -> Result<bool> {
        let n = self.store.conn.execute(
            "INSERT OR IGNORE INTO sms_optouts (e164, keyword, inbox_id, created_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![e164, keyword, inbox_id, now_ms()],
        )?;
        Ok(n == 1)
    }

    /// Whether `e164` opted out.
    pub fn is_opted_out(&self, e164: &str) -> Result<bool> {
        Ok(self.store.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sms_optouts WHERE e164 = ?1)",
            [e164],
            |r| r.get(0),
        )?)
    }

    /// Adds `e164` to the blacklist.
    pub fn blacklist(&self, e164: &str, note: &str, by: Option<i64>) -> Result<()> {
        self.store.conn.execute(
            "INSERT INTO sms_blacklist (e164, note, created_by, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (e164) DO UPDATE SET note = ?2",
            params![e164, note, by, now_ms()],
        )?;
        Ok(())
    }

    /// The blacklist, newest first.
    pub fn blacklisted(&self) -> Result<Vec<BlacklistRow>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT b.e164, b.note, u.username, b.created_at FROM sms_blacklist b
             LEFT JOIN users u ON u.id = b.created_by ORDER BY b.created_at DESC, b.e164",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(BlacklistRow {
                e164: r.get(0)?,
                note: r.get(1)?,
                created_by: r.get(2)?,
                created_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Takes `e164` off the blacklist; `false` if it was not on it.
    pub fn unblacklist(&self, e164: &str) -> Result<bool> {
        let n = self
            .store
            .conn
            .execute("DELETE FROM sms_blacklist WHERE e164 = ?1", [e164])?;
        Ok(n == 1)
    }

    /// The latest opt-outs, newest first.
    pub fn opt_outs(&self, limit: usize) -> Result<Vec<OptOutRow>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT e164, keyword, created_at FROM sms_optouts ORDER BY created_at DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(OptOutRow {
                e164: r.get(0)?,
                keyword: r.get(1)?,
                created_at: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Parts whose outcome is unknown, oldest first (they wait longest).
    pub fn unknown_parts(&self, limit: usize) -> Result<Vec<UnknownPart>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT p.id, m.to_number, p.seq, m.parts, p.campaign_id, p.modem, p.error, p.updated_at
             FROM sms_parts p JOIN sms_messages m ON m.id = p.message_id
             WHERE p.state = 'unknown' ORDER BY p.updated_at, p.id LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(UnknownPart {
                id: r.get(0)?,
                to_number: r.get(1)?,
                seq: r.get(2)?,
                parts: r.get(3)?,
                campaign_id: r.get(4)?,
                modem: r.get(5)?,
                error: r.get(6)?,
                updated_at: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Parts `modem` has taken since `since` (ms): its SIM's count today.
    pub fn parts_claimed_since(&self, modem: &str, since: i64) -> Result<i64> {
        Ok(self.store.conn.query_row(
            "SELECT count(*) FROM sms_parts WHERE modem = ?1 AND claimed_at >= ?2",
            params![modem, since],
            |r| r.get(0),
        )?)
    }
}

fn expect_one(changed: usize, part_id: i64) -> Result<()> {
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "SMS part {part_id} is not being sent; its state was not changed"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        (dir, store)
    }

    fn queue(s: &Store, to: &str, parts: usize) -> i64 {
        s.sms()
            .queue_sms(&NewSms {
                to,
                text: "x",
                encoding: "gsm7",
                parts: (0..parts).map(|i| (format!("00{i:02}"), 2)).collect(),
                created_by: None,
            })
            .unwrap()
    }

    #[test]
    fn a_message_started_on_a_modem_stays_there() {
        let (_d, s) = store();
        let a = queue(&s, "13800000001", 2);
        let b = queue(&s, "13800000002", 1);
        let first = s.sms().claim_sms_part("m1").unwrap().unwrap();
        assert_eq!((first.message_id, first.seq, first.attempts), (a, 1, 1));
        // m2 cannot take a's second part; it takes b.
        let other = s.sms().claim_sms_part("m2").unwrap().unwrap();
        assert_eq!(other.message_id, b);
        assert_eq!(s.sms().claim_sms_part("m2").unwrap(), None);
        let second = s.sms().claim_sms_part("m1").unwrap().unwrap();
        assert_eq!((second.message_id, second.seq), (a, 2));
    }

    #[test]
    fn states_move_only_from_sending() {
        let (_d, s) = store();
        let id = queue(&s, "13800000001", 1);
        let p = s.sms().claim_sms_part("m1").unwrap().unwrap();
        s.sms().sms_part_sent(p.id, 7).unwrap();
        // A second answer for the same part is refused, not applied.
        assert!(s.sms().sms_part_failed(p.id, "late").is_err());
        let parts = s.sms().sms_parts(id).unwrap();
        assert_eq!(
            (parts[0].state, parts[0].reference),
            (PartState::Sent, Some(7))
        );
    }

    #[test]
    fn a_retry_waits_its_backoff_and_is_claimed_again() {
        let (_d, s) = store();
        queue(&s, "13800000001", 1);
        let p = s.sms().claim_sms_part("m1").unwrap().unwrap();
        s.sms()
            .sms_part_retry(p.id, "SIM busy", now_ms() + 60_000)
            .unwrap();
        assert_eq!(
            s.sms().claim_sms_part("m1").unwrap(),
            None,
            "not before its time"
        );
        s.sms().sms_part_retry(p.id, "x", 0).unwrap_err();
        s.conn
            .execute("UPDATE sms_parts SET not_before = 0", [])
            .unwrap();
        let again = s.sms().claim_sms_part("m1").unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (p.id, 2));
    }

    /// A report for `reference` to `to`, taken by the centre at `at` ms.
    fn report<'a>(to: &'a str, reference: u8, at: i64, delivered: Option<bool>) -> Report<'a> {
        Report {
            modem: "m1",
            reference,
            recipient: to,
            recipient_key: Some(to),
            submitted_ms: Some(at),
            submitted_at: "2026-11-23T10:00:00+08:00".into(),
            discharged_at: "2026-11-23T10:00:05+08:00".into(),
            status: if delivered == Some(false) { 0x41 } else { 0 },
            delivered,
        }
    }

    #[test]
    fn interrupted_sends_become_unknown_and_a_report_settles_its_own_part() {
        let (_d, s) = store();
        let a = queue(&s, "+8613800000001", 1);
        let b = queue(&s, "+8613800000002", 1);
        let c = queue(&s, "+8613800000003", 1);
        let pa = s.sms().claim_sms_part("m1").unwrap().unwrap();
        s.sms().sms_part_sent(pa.id, 5).unwrap();
        let pb = s.sms().claim_sms_part("m1").unwrap().unwrap();
        s.sms().sms_part_sent(pb.id, 5).unwrap();
        s.sms().claim_sms_part("m1").unwrap().unwrap();
        assert_eq!(s.sms().sms_interrupted().unwrap(), 1);
        assert_eq!(s.sms().sms_parts(c).unwrap()[0].state, PartState::Unknown);
        // Reference 5 was reused: the recipient says which part it is.
        let now = now_ms();
        let settled = s
            .sms()
            .sms_report(&report("+8613800000001", 5, now, Some(false)))
            .unwrap()
            .unwrap();
        assert_eq!(settled.message_id, a);
        assert_eq!(s.sms().sms_parts(b).unwrap()[0].state, PartState::Sent);
        assert!(s.sms().sms_parts(a).unwrap()[0]
            .error
            .as_deref()
            .unwrap()
            .contains("0x41"));
        let settled = s
            .sms()
            .sms_report(&report("+8613800000002", 5, now, Some(true)))
            .unwrap()
            .unwrap();
        assert_eq!(settled.message_id, b);
        let other_modem = Report {
            modem: "m2",
            ..report("+8613800000002", 5, now, Some(true))
        };
        assert_eq!(s.sms().sms_report(&other_modem).unwrap(), None);
    }

    /// The defect measured in a 2,000-part run: once the 8-bit reference
    /// wrapped, late reports settled the latest part with their reference,
    /// another recipient's. Matched by recipient and time, each report
    /// settles its own part, and one that matches none settles nothing.
    #[test]
    fn after_the_reference_wraps_a_late_report_settles_only_its_recipients_part() {
        let (_d, s) = store();
        let to = |i: usize| format!("+86139{i:08}");
        let mut messages = Vec::new();
        for i in 0..2000 {
            messages.push(queue(&s, &to(i), 1));
        }
        for (i, message) in messages.iter().enumerate() {
            let p = s.sms().claim_sms_part("m1").unwrap().unwrap();
            assert_eq!(p.message_id, *message);
            s.sms().sms_part_sent(p.id, (i % 256) as u8).unwrap();
        }
        let now = now_ms();
        // Reports for the first round arrive late, after reference 0..255
        // were used seven more times by other recipients.
        for (i, message) in messages.iter().enumerate().take(256) {
            let settled = s
                .sms()
                .sms_report(&report(&to(i), i as u8, now, Some(true)))
                .unwrap()
                .unwrap();
            assert_eq!(settled.message_id, *message, "report for recipient {i}");
        }
        let delivered = (0..2000)
            .filter(|&i| s.sms().sms_parts(messages[i]).unwrap()[0].state == PartState::Delivered)
            .count();
        assert_eq!(delivered, 256, "no other recipient's part was settled");
        // A report whose recipient sent nothing with that reference, or
        // that is far outside the window, matches nothing.
        assert_eq!(
            s.sms()
                .sms_report(&report(&to(1), 2, now, Some(true)))
                .unwrap(),
            None
        );
        assert_eq!(
            s.sms()
                .sms_report(&report(
                    &to(300),
                    44,
                    now - 2 * REPORT_WINDOW_MS,
                    Some(true)
                ))
                .unwrap(),
            None
        );
        let no_number = Report {
            recipient_key: None,
            ..report("Google", 44, now, Some(true))
        };
        assert_eq!(s.sms().sms_report(&no_number).unwrap(), None);
        // A report that matched nothing is kept for a person.
        let id = s
            .sms()
            .sms_unmatched_report(&no_number, "no part for this recipient")
            .unwrap();
        let kept = s.sms().sms_unmatched_reports(10).unwrap();
        assert_eq!((kept[0].id, kept[0].reference), (id, 44));
        assert_eq!(kept[0].recipient, "Google");
        assert_eq!(kept[0].reason, "no part for this recipient");
    }

    /// Subscribes an endpoint to every event; what it has been sent so far.
    fn listen(s: &Store) -> impl Fn() -> Vec<(String, serde_json::Value)> + '_ {
        s.users()
            .add_user("admin", "Admin", crate::store::Role::Admin, None, None)
            .unwrap();
        let admin = s.users().user_by_name("admin").unwrap().unwrap();
        let events = [
            "sms.delivered".to_string(),
            "sms.failed".into(),
            "sms.received".into(),
        ];
        s.webhooks()
            .add_endpoint(
                &crate::store::EndpointSettings::webhook("http://crm", &events),
                "s",
                &admin,
                None,
            )
            .unwrap();
        move || {
            s.conn
                .prepare("SELECT type, data FROM webhook_events ORDER BY id")
                .unwrap()
                .query_map([], |r| {
                    let data: String = r.get(1)?;
                    Ok((r.get(0)?, serde_json::from_str(&data).unwrap()))
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        }
    }

    #[test]
    fn a_message_is_told_once_when_its_last_part_settles() {
        let (_d, s) = store();
        let sent = listen(&s);
        let now = now_ms();
        // Two parts: the first report settles nothing yet.
        let two = queue(&s, "+8613800000001", 2);
        for reference in [1, 2] {
            let p = s.sms().claim_sms_part("m1").unwrap().unwrap();
            s.sms().sms_part_sent(p.id, reference).unwrap();
        }
        s.sms()
            .sms_report(&report("+8613800000001", 1, now, Some(true)))
            .unwrap();
        assert!(sent().is_empty(), "one part of two is not the message");
        s.sms()
            .sms_report(&report("+8613800000001", 2, now, Some(true)))
            .unwrap();
        // A repeated report of a settled part tells nothing twice.
        s.sms()
            .sms_report(&report("+8613800000001", 2, now, Some(true)))
            .unwrap();
        let told = sent();
        assert_eq!(told.len(), 1, "{told:?}");
        assert_eq!(told[0].0, "sms.delivered");
        assert_eq!(told[0].1["message_id"], two);
        assert_eq!(told[0].1["to"], "+8613800000001");
        assert_eq!(told[0].1["parts"], 2);
        // A part given up fails its message, with the modem's words.
        let one = queue(&s, "+8613800000002", 1);
        let p = s.sms().claim_sms_part("m1").unwrap().unwrap();
        s.sms().sms_part_failed(p.id, "+CMS ERROR: 38").unwrap();
        let told = sent();
        assert_eq!(told.len(), 2);
        assert_eq!(told[1].0, "sms.failed");
        assert_eq!(told[1].1["message_id"], one);
        assert_eq!(told[1].1["error"], "+CMS ERROR: 38");
    }

    #[test]
    fn nothing_is_told_while_nobody_listens() {
        let (_d, s) = store();
        queue(&s, "+8613800000001", 1);
        let p = s.sms().claim_sms_part("m1").unwrap().unwrap();
        s.sms().sms_part_failed(p.id, "x").unwrap();
        let written: i64 = s
            .conn
            .query_row("SELECT count(*) FROM webhook_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(written, 0);
    }

    #[test]
    fn received_parts_wait_until_joined() {
        let (_d, s) = store();
        let sent = listen(&s);
        let p1 = s.sms().sms_inbox_part("m1", "AA").unwrap();
        let p2 = s.sms().sms_inbox_part("m1", "BB").unwrap();
        s.sms().sms_inbox_part("m2", "CC").unwrap();
        assert_eq!(s.sms().sms_waiting_parts("m1").unwrap().len(), 2);
        let id = s
            .sms()
            .sms_inbox_message(&NewInbox {
                modem: "m1",
                sender: "+8613912345678",
                sender_number: Some("+8613912345678"),
                text: "退订",
                parts: 3,
                missing: &[2],
                sent_at: "2026-11-23T10:00:00+08:00",
                part_ids: &[p1, p2],
            })
            .unwrap();
        assert!(s.sms().sms_waiting_parts("m1").unwrap().is_empty());
        let inbox = s.sms().sms_inbox(10).unwrap();
        assert_eq!((inbox[0].id, inbox[0].missing.clone()), (id, vec![2]));
        let told = sent();
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].0, "sms.received");
        assert_eq!(told[0].1["inbox_id"], id);
        assert_eq!(told[0].1["text"], "退订");
        assert_eq!(told[0].1["missing_parts"], serde_json::json!([2]));
    }

    #[test]
    fn a_customers_page_finds_the_messages_of_each_of_their_numbers() {
        use crate::phone::{Normalizer, NormalizerSettings};
        let (_d, s) = store();
        let normalizer = Normalizer::new(NormalizerSettings::default());
        let phone = |n: &str| crate::store::NewPhone {
            number: normalizer.normalize(n).unwrap(),
            label: None,
        };
        let zhao = s
            .customers()
            .insert_customer(&crate::store::NewCustomer {
                name: "赵敏".into(),
                phones: vec![phone("139 0000 1111"), phone("021-6123 4567")],
                ..Default::default()
            })
            .unwrap();
        // Queued as the outbox writes recipients: E.164.
        let first = queue(&s, "+8613900001111", 2);
        queue(&s, "+8613800000002", 1);
        let landline = queue(&s, "+862161234567", 1);
        let p = s.sms().claim_sms_part("m1").unwrap().unwrap();
        s.sms().sms_part_sent(p.id, 1).unwrap();
        let p = s.sms().claim_sms_part("m1").unwrap().unwrap();
        s.sms().sms_part_failed(p.id, "+CMS ERROR: 38").unwrap();
        let reply = s
            .sms()
            .sms_inbox_message(&NewInbox {
                modem: "m1",
                sender: "13900001111",
                sender_number: Some("+8613900001111"),
                text: "收到，谢谢",
                parts: 1,
                missing: &[],
                sent_at: "2026-12-05T10:00:00+08:00",
                part_ids: &[],
            })
            .unwrap();
        // Queued and received a minute apart, in this order.
        for (table, id, at) in [
            ("sms_messages SET created_at", first, 60_000),
            ("sms_messages SET created_at", landline, 120_000),
            ("sms_inbox SET received_at", reply, 180_000),
        ] {
            s.conn
                .execute(
                    &format!("UPDATE {table} = ?1 WHERE id = ?2"),
                    params![at, id],
                )
                .unwrap();
        }
        let found = s.sms().customer_messages(zhao, 50).unwrap();
        let seen: Vec<(&str, i64, Option<&str>)> =
            found.iter().map(|m| (m.direction, m.id, m.state)).collect();
        // Newest first: the reply, the landline's (not sent yet), the first.
        assert_eq!(
            seen,
            [
                ("in", reply, None),
                ("out", landline, Some("sending")),
                ("out", first, Some("failed")),
            ]
        );
        assert_eq!(found[0].number, "13900001111");
        assert_eq!(s.sms().customer_messages(zhao, 1).unwrap().len(), 1);
    }
}
