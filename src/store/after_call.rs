//! SMS on call events: what the store knows when one falls due (the
//! number, opt-out and blacklist, the day's count, whether the missed call
//! was dealt with), the decision kept with the message it queued, and
//! survey answers kept with their call. Part of the SMS domain ([`Sms`]).

use super::{NewSms, Result, Sms};
use rusqlite::{params, OptionalExtension};

/// What to look up for one message.
#[derive(Debug, Clone)]
pub struct FactsQuery {
    /// `apology`, `receipt` or `survey`.
    pub kind: &'static str,
    /// The call's or work order's id: one message per kind and key.
    pub key: String,
    pub call_uid: Option<String>,
    pub customer_id: Option<i64>,
    /// The missed call's call-back item (an apology's).
    pub followup_id: Option<i64>,
    /// The number the event named, if any.
    pub e164: Option<String>,
    /// Where today began (ms): the daily cap counts from there.
    pub day_start: i64,
}

/// What the store knows when a message falls due.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AfterCallFacts {
    /// Decided before (sent or skipped).
    pub done: bool,
    /// The number to write to: the event's, the call's, or the customer's
    /// first mobile number.
    pub e164: Option<String>,
    pub national: Option<String>,
    pub customer_name: Option<String>,
    /// The display name of the call's agent.
    pub agent_name: Option<String>,
    pub opted_out: bool,
    pub blacklisted: bool,
    /// Messages of these kinds queued today.
    pub sent_today: u64,
    /// The missed call's item was closed: called back, got through, or
    /// dealt with by an agent.
    pub dealt_with: bool,
}

/// A decision to keep: a message queued, or skipped and why.
#[derive(Debug, Clone)]
pub struct CallMessage {
    pub kind: &'static str,
    pub subject: String,
    pub call_uid: Option<String>,
    pub work_order_id: Option<i64>,
    pub e164: String,
    pub skipped: Option<&'static str>,
    pub created_at: i64,
}

impl Sms<'_> {
    /// The facts for one message (see [`AfterCallFacts`]).
    pub fn after_call_facts(&self, q: &FactsQuery) -> Result<AfterCallFacts> {
        let conn = &self.store.conn;
        let done: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM call_messages WHERE kind = ?1 AND subject = ?2)",
            )?
            .query_row(params![q.kind, q.key], |r| r.get(0))?;
        type CallRow = (Option<String>, Option<String>, Option<String>);
        let call: Option<CallRow> = match &q.call_uid {
            Some(uid) => conn
                .prepare_cached(
                    "SELECT c.number_e164, c.number_national, u.display_name
                     FROM calls c LEFT JOIN users u ON u.id = c.agent_user_id
                     WHERE c.call_uid = ?1",
                )?
                .query_row([uid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?,
            None => None,
        };
        let customer: Option<(String, Option<String>, Option<String>)> = match q.customer_id {
            Some(id) => conn
                .prepare_cached(
                    "SELECT c.name, p.e164, p.national FROM customers c
                     LEFT JOIN customer_phones p ON p.customer_id = c.id AND p.kind = 'mobile'
                       AND p.e164 IS NOT NULL
                     WHERE c.id = ?1 AND c.deleted_at IS NULL
                     ORDER BY p.position LIMIT 1",
                )?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?,
            None => None,
        };
        let (call_e164, call_national, agent_name) = call.unwrap_or_default();
        let (customer_name, customer_e164, customer_national) = match customer {
            Some((name, e, n)) => (Some(name), e, n),
            None => (None, None, None),
        };
        let (e164, national) = match (&q.e164, call_e164, customer_e164) {
            (Some(e), _, _) => (Some(e.clone()), call_national),
            (None, Some(e), _) => (Some(e), call_national),
            (None, None, Some(e)) => (Some(e), customer_national),
            (None, None, None) => (None, None),
        };
        let flag = |sql: &str| -> Result<bool> {
            Ok(match &e164 {
                Some(e) => conn.prepare_cached(sql)?.query_row([e], |r| r.get(0))?,
                None => false,
            })
        };
        let opted_out = flag("SELECT EXISTS (SELECT 1 FROM sms_optouts WHERE e164 = ?1)")?;
        let blacklisted = flag("SELECT EXISTS (SELECT 1 FROM sms_blacklist WHERE e164 = ?1)")?;
        let sent_today: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM call_messages WHERE created_at >= ?1 AND sms_id IS NOT NULL",
            )?
            .query_row([q.day_start], |r| r.get(0))?;
        let dealt_with = match q.followup_id {
            Some(id) => conn
                .prepare_cached("SELECT state = 'closed' FROM followups WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?
                .unwrap_or(true),
            None => false,
        };
        Ok(AfterCallFacts {
            done,
            e164,
            national,
            customer_name,
            agent_name,
            opted_out,
            blacklisted,
            sent_today: sent_today.max(0) as u64,
            dealt_with,
        })
    }

    /// Keeps a decision and, with it, queues its message, in one
    /// transaction: the message's id, or `None` if nothing was queued (a
    /// skip, or the same decision kept before — a retried event).
    pub fn record_call_message(
        &self,
        m: &CallMessage,
        sms: Option<&NewSms<'_>>,
    ) -> Result<Option<i64>> {
        self.store.in_transaction(|s| {
            let added = s
                .conn
                .prepare_cached(
                    "INSERT INTO call_messages (kind, subject, call_uid, work_order_id, e164,
                        skipped, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (kind, subject) DO NOTHING",
                )?
                .execute(params![
                    m.kind,
                    m.subject,
                    m.call_uid,
                    m.work_order_id,
                    m.e164,
                    m.skipped,
                    m.created_at
                ])?;
            let (1, Some(sms)) = (added, sms) else {
                return Ok(None);
            };
            let row = s.conn.last_insert_rowid();
            let id = s.sms().queue_sms(sms)?;
            s.conn
                .prepare_cached("UPDATE call_messages SET sms_id = ?1 WHERE id = ?2")?
                .execute(params![id, row])?;
            Ok(Some(id))
        })
    }

    /// Keeps `score` (1–5), answered at `now` by `e164` in inbox message
    /// `reply_id`, with the newest call surveyed at that number since
    /// `since` that has no score yet; the call's id, if there was one.
    pub fn score_survey(
        &self,
        e164: &str,
        score: u8,
        reply_id: Option<i64>,
        now: i64,
        since: i64,
    ) -> Result<Option<String>> {
        self.store.in_transaction(|s| {
            let call: Option<String> = s
                .conn
                .prepare_cached(
                    "SELECT m.call_uid FROM call_messages m
                     JOIN calls c ON c.call_uid = m.call_uid
                     WHERE m.kind = 'survey' AND m.e164 = ?1 AND m.created_at >= ?2
                       AND m.sms_id IS NOT NULL AND c.survey_score IS NULL
                     ORDER BY m.created_at DESC, m.id DESC LIMIT 1",
                )?
                .query_row(params![e164, since], |r| r.get(0))
                .optional()?;
            if let Some(uid) = &call {
                s.conn
                    .prepare_cached(
                        "UPDATE calls SET survey_score = ?2, survey_at = ?3, survey_reply_id = ?4
                         WHERE call_uid = ?1",
                    )?
                    .execute(params![uid, score, now, reply_id])?;
            }
            Ok(call)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn message(kind: &'static str, subject: &str, skipped: Option<&'static str>) -> CallMessage {
        CallMessage {
            kind,
            subject: subject.into(),
            call_uid: Some(subject.into()),
            work_order_id: None,
            e164: "+8613912345678".into(),
            skipped,
            created_at: 1_000,
        }
    }

    fn sms() -> NewSms<'static> {
        NewSms {
            to: "+8613912345678",
            text: "您好",
            encoding: "ucs2",
            parts: vec![("00".into(), 1)],
            created_by: None,
        }
    }

    #[test]
    fn a_decision_is_kept_once_with_its_message() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let sms_store = store.sms();
        let first = sms_store
            .record_call_message(&message("apology", "c1", None), Some(&sms()))
            .unwrap();
        assert!(first.is_some());
        // The same event again (a retry after a crash): nothing more queued.
        let again = sms_store
            .record_call_message(&message("apology", "c1", None), Some(&sms()))
            .unwrap();
        assert_eq!(again, None);
        let skipped = sms_store
            .record_call_message(&message("survey", "c1", Some("opted_out")), None)
            .unwrap();
        assert_eq!(skipped, None);
        let q = FactsQuery {
            kind: "apology",
            key: "c1".into(),
            call_uid: None,
            customer_id: None,
            followup_id: None,
            e164: Some("+8613912345678".into()),
            day_start: 0,
        };
        let facts = sms_store.after_call_facts(&q).unwrap();
        assert!(facts.done);
        assert_eq!(facts.sent_today, 1, "a skip is not a message sent");
        let facts = sms_store
            .after_call_facts(&FactsQuery {
                kind: "receipt",
                day_start: 2_000,
                ..q
            })
            .unwrap();
        assert!(!facts.done);
        assert_eq!(facts.sent_today, 0);
    }
}
