//! SMS campaigns (sql/0006_campaigns.sql): their recipients, feeding them
//! into the send queue a batch at a time, progress, and the monthly quotas
//! a start is checked against.

use super::{now_ms, Result, Store, StoreError};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use std::collections::BTreeMap;

/// Where a campaign stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CampaignState {
    /// Created and previewable, not started.
    Draft,
    /// Started, waiting for its start time.
    Scheduled,
    Running,
    /// Started, outside its sending window.
    Waiting,
    Paused,
    Cancelled,
    /// Nothing left to send (delivery reports may still come).
    Done,
}

impl CampaignState {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Draft => "draft",
            CampaignState::Scheduled => "scheduled",
            CampaignState::Running => "running",
            CampaignState::Waiting => "waiting",
            CampaignState::Paused => "paused",
            CampaignState::Cancelled => "cancelled",
            CampaignState::Done => "done",
        }
    }

    fn parse(s: &str) -> CampaignState {
        match s {
            "draft" => CampaignState::Draft,
            "scheduled" => CampaignState::Scheduled,
            "running" => CampaignState::Running,
            "waiting" => CampaignState::Waiting,
            "paused" => CampaignState::Paused,
            "cancelled" => CampaignState::Cancelled,
            _ => CampaignState::Done,
        }
    }

    /// Started and not finished: the runner looks after it.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            CampaignState::Scheduled | CampaignState::Running | CampaignState::Waiting
        )
    }
}

/// A campaign to create.
#[derive(Debug, Clone)]
pub struct NewCampaign<'a> {
    pub name: &'a str,
    pub template: &'a str,
    pub suffix: &'a str,
    /// JSON, for people: `{"tag": "vip"}`.
    pub source: serde_json::Value,
    pub start_at: Option<i64>,
    pub window: Option<(String, String)>,
    pub created_by: Option<i64>,
}

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignRow {
    pub id: i64,
    pub name: String,
    pub template: String,
    pub suffix: String,
    pub source: serde_json::Value,
    pub state: CampaignState,
    pub start_at: Option<i64>,
    pub window_from: Option<String>,
    pub window_to: Option<String>,
    pub parts: i64,
    pub cost: f64,
    pub created_by: Option<i64>,
    pub created_by_name: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// One recipient to add.
#[derive(Debug, Clone)]
pub struct NewRecipient {
    pub number: String,
    /// `None`: not an SMS-capable number; skipped as invalid.
    pub e164: Option<String>,
    pub customer_id: Option<i64>,
    pub fields: serde_json::Value,
    pub parts: u32,
    pub cost: f64,
}

/// What adding a batch of recipients did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Added {
    pub recipients: u64,
    pub invalid: u64,
    pub duplicate: u64,
    /// Parts and cost (yuan) of the recipients that will be sent to.
    pub parts: i64,
    pub cost: f64,
}

/// A recipient as written: (seq, number, E.164, merge fields, skip reason).
pub type RecipientRow = (
    i64,
    String,
    Option<String>,
    serde_json::Value,
    Option<String>,
);

/// A pending recipient the runner turns into a message.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingRecipient {
    pub seq: i64,
    pub e164: String,
    pub fields: serde_json::Value,
}

/// A recipient's encoded message, ready to queue.
#[derive(Debug, Clone)]
pub struct FedMessage {
    pub seq: i64,
    pub e164: String,
    pub text: String,
    pub encoding: &'static str,
    pub parts: Vec<(String, usize)>,
}

/// A campaign's counts, for its progress bar.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Progress {
    pub recipients: i64,
    /// Recipients not yet turned into messages.
    pub pending: i64,
    /// Skipped recipients by reason (invalid, duplicate, opted_out, ...).
    pub skipped: BTreeMap<String, i64>,
    /// Parts the campaign needs in all (estimated when created).
    pub parts: i64,
    /// Queued parts by state.
    pub states: BTreeMap<String, i64>,
}

impl Progress {
    /// Parts in a final state or in flight: what the progress bar fills.
    pub fn settled_parts(&self) -> i64 {
        ["sent", "delivered", "failed", "unknown"]
            .iter()
            .map(|s| self.states.get(*s).copied().unwrap_or(0))
            .sum()
    }
}

/// A part that failed or whose outcome is unknown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedPart {
    pub number: String,
    pub part: i64,
    pub state: String,
    pub reason: String,
    pub modem: Option<String>,
    pub updated_at: i64,
}

/// A campaign's failures: counts by reason, and the latest parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failures {
    pub reasons: Vec<(String, i64)>,
    pub parts: Vec<FailedPart>,
}

/// One row of a campaign's results export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultRow {
    pub seq: i64,
    pub number: String,
    pub name: String,
    /// skipped, pending, queued, sending, sent, delivered, failed, unknown:
    /// the least advanced state of its parts.
    pub state: String,
    pub parts: i64,
    pub modem: Option<String>,
    pub reason: Option<String>,
    pub updated_at: Option<i64>,
}

const CAMPAIGN_COLUMNS: &str = "c.id, c.name, c.template, c.suffix, c.source, c.state,
     c.start_at, c.window_from, c.window_to, c.parts, c.cost, c.created_by, u.username,
     c.created_at, c.started_at, c.finished_at";

fn campaign_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CampaignRow> {
    Ok(CampaignRow {
        id: r.get(0)?,
        name: r.get(1)?,
        template: r.get(2)?,
        suffix: r.get(3)?,
        source: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
        state: CampaignState::parse(&r.get::<_, String>(5)?),
        start_at: r.get(6)?,
        window_from: r.get(7)?,
        window_to: r.get(8)?,
        parts: r.get(9)?,
        cost: r.get(10)?,
        created_by: r.get(11)?,
        created_by_name: r.get(12)?,
        created_at: r.get(13)?,
        started_at: r.get(14)?,
        finished_at: r.get(15)?,
    })
}

/// A customer as a campaign needs it: merge values and numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignCustomer {
    pub id: i64,
    pub name: String,
    pub company: String,
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    /// (raw, E.164, kind) in the customer's order.
    pub phones: Vec<(String, Option<String>, String)>,
}

/// One sender's monthly quota, as the admin console lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaRow {
    pub username: String,
    pub display_name: String,
    pub role: String,
    /// Their own quota; `None`: the configured default.
    pub quota: Option<i64>,
    /// Parts started since the month began.
    pub used: i64,
}

/// Parts user `user` started since `since` (SQL expressions): whole
/// campaigns, but of a cancelled one only what it sent.
fn quota_used_sql(user: &str, since: &str) -> String {
    format!(
        "SELECT COALESCE(SUM(CASE WHEN c.state = 'cancelled'
             THEN (SELECT count(*) FROM sms_parts p
                   WHERE p.campaign_id = c.id AND p.claimed_at IS NOT NULL)
             ELSE c.parts END), 0)
         FROM sms_campaigns c WHERE c.created_by = {user} AND c.started_at >= {since}"
    )
}

/// SMS campaigns: drafts and their recipients, feeding the send queue,
/// progress and results, and the monthly quotas a start is checked
/// against.
///
/// A view of a [`Store`], from [`Store::campaigns`]; cheap to copy.
#[derive(Clone, Copy)]
pub struct Campaigns<'a> {
    pub(super) store: &'a Store,
}

impl Campaigns<'_> {
    /// The next `limit` customers after id `after`, all or those tagged
    /// `tag`, in id order: a campaign reads its group a chunk at a time.
    pub fn campaign_customers(
        &self,
        tag: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<CampaignCustomer>> {
        let sql = match tag {
            Some(_) => {
                "SELECT c.id, c.name, c.company, c.custom_fields FROM customer_tags t
                 JOIN customers c ON c.id = t.customer_id
                 WHERE t.tag = ?3 AND t.customer_id > ?1 ORDER BY t.customer_id LIMIT ?2"
            }
            None => {
                "SELECT c.id, c.name, c.company, c.custom_fields FROM customers c
                 WHERE c.id > ?1 AND ?3 IS NULL ORDER BY c.id LIMIT ?2"
            }
        };
        let mut stmt = self.store.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![after, limit, tag], |r| {
            Ok(CampaignCustomer {
                id: r.get(0)?,
                name: r.get(1)?,
                company: r.get(2)?,
                custom_fields: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
                phones: Vec::new(),
            })
        })?;
        let mut out: Vec<CampaignCustomer> = rows.collect::<rusqlite::Result<_>>()?;
        let mut phones = self.store.conn.prepare_cached(
            "SELECT raw, e164, kind FROM customer_phones WHERE customer_id = ?1 ORDER BY position",
        )?;
        for c in &mut out {
            c.phones = phones
                .query_map([c.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
        }
        Ok(out)
    }

    /// Tags (groups) and how many customers each has, for choosing one.
    pub fn tag_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .store
            .conn
            .prepare_cached("SELECT tag, count(*) FROM customer_tags GROUP BY tag ORDER BY tag")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Deletes a draft that could not be completed (a bad template).
    pub fn delete_draft(&self, id: i64) -> Result<()> {
        self.store.conn.execute(
            "DELETE FROM sms_campaigns WHERE id = ?1 AND state = 'draft'",
            [id],
        )?;
        Ok(())
    }

    /// A pending recipient that cannot be sent after all (its message does
    /// not encode).
    pub fn skip_recipient(&self, campaign: i64, seq: i64, reason: &str) -> Result<()> {
        self.store.conn.execute(
            "UPDATE sms_campaign_recipients SET state = 'skipped', skip_reason = ?3
             WHERE campaign_id = ?1 AND seq = ?2 AND state = 'pending'",
            params![campaign, seq, reason],
        )?;
        Ok(())
    }

    /// Creates a draft campaign; its id.
    pub fn create_campaign(&self, c: &NewCampaign<'_>) -> Result<i64> {
        let (from, to) = match &c.window {
            Some((f, t)) => (Some(f.as_str()), Some(t.as_str())),
            None => (None, None),
        };
        self.store.conn.execute(
            "INSERT INTO sms_campaigns (name, template, suffix, source, start_at, window_from,
                 window_to, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                c.name,
                c.template,
                c.suffix,
                c.source.to_string(),
                c.start_at,
                from,
                to,
                c.created_by,
                now_ms()
            ],
        )?;
        Ok(self.store.conn.last_insert_rowid())
    }

    /// Adds recipients to a draft, in one transaction: numbers that are not
    /// SMS-capable and repeats of a number already in the campaign are kept
    /// as skipped, so the results show them.
    pub fn add_recipients(&self, campaign: i64, rows: &[NewRecipient]) -> Result<Added> {
        self.store.in_transaction(|s| {
            let state: Option<String> = s
                .conn
                .query_row(
                    "SELECT state FROM sms_campaigns WHERE id = ?1",
                    [campaign],
                    |r| r.get(0),
                )
                .optional()?;
            match state.as_deref() {
                Some("draft") => {}
                Some(other) => {
                    return Err(StoreError::Invalid(format!(
                        "campaign {campaign} is {other}; recipients are added to drafts only"
                    )))
                }
                None => return Err(StoreError::Invalid(format!("no campaign {campaign}"))),
            }
            let mut seq: i64 = s.conn.query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM sms_campaign_recipients WHERE campaign_id = ?1",
                [campaign],
                |r| r.get(0),
            )?;
            let mut seen = s.conn.prepare_cached(
                "SELECT 1 FROM sms_campaign_recipients INDEXED BY sms_campaign_recipients_number
                 WHERE campaign_id = ?1 AND e164 = ?2 AND skip_reason IS NOT 'duplicate'",
            )?;
            let mut insert = s.conn.prepare_cached(
                "INSERT INTO sms_campaign_recipients
                     (campaign_id, seq, number, e164, customer_id, fields, parts, state, skip_reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let mut added = Added::default();
            for r in rows {
                seq += 1;
                let skip = match &r.e164 {
                    None => Some("invalid"),
                    Some(e) if seen.exists(params![campaign, e])? => Some("duplicate"),
                    Some(_) => None,
                };
                match skip {
                    Some("invalid") => added.invalid += 1,
                    Some(_) => added.duplicate += 1,
                    None => {
                        added.recipients += 1;
                        added.parts += i64::from(r.parts);
                        added.cost += r.cost;
                    }
                }
                insert.execute(params![
                    campaign,
                    seq,
                    r.number,
                    r.e164,
                    r.customer_id,
                    r.fields.to_string(),
                    r.parts,
                    if skip.is_some() { "skipped" } else { "pending" },
                    skip,
                ])?;
            }
            s.conn.execute(
                "UPDATE sms_campaigns SET parts = parts + ?2, cost = cost + ?3 WHERE id = ?1",
                params![campaign, added.parts, added.cost],
            )?;
            Ok(added)
        })
    }

    /// One campaign.
    pub fn campaign(&self, id: i64) -> Result<Option<CampaignRow>> {
        Ok(self
            .store
            .conn
            .prepare_cached(&format!(
                "SELECT {CAMPAIGN_COLUMNS} FROM sms_campaigns c
                 LEFT JOIN users u ON u.id = c.created_by WHERE c.id = ?1"
            ))?
            .query_row([id], campaign_from_row)
            .optional()?)
    }

    /// Campaigns, newest first; only live ones with `live_only`.
    pub fn list(&self, live_only: bool) -> Result<Vec<CampaignRow>> {
        let filter = if live_only {
            "WHERE c.state IN ('scheduled', 'running', 'waiting')"
        } else {
            ""
        };
        let mut stmt = self.store.conn.prepare_cached(&format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM sms_campaigns c
             LEFT JOIN users u ON u.id = c.created_by {filter} ORDER BY c.id DESC"
        ))?;
        let rows = stmt.query_map([], campaign_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The first `limit` recipients (skipped ones included), for a preview.
    pub fn campaign_recipients(&self, campaign: i64, limit: u32) -> Result<Vec<RecipientRow>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT seq, number, e164, fields, skip_reason FROM sms_campaign_recipients
             WHERE campaign_id = ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![campaign, limit], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
                r.get(4)?,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Parts `user` has started this calendar month (from `month_start`,
    /// ms): whole campaigns, but of a cancelled one only what it sent.
    pub fn quota_used(&self, user: i64, month_start: i64) -> Result<i64> {
        Ok(self.store.conn.query_row(
            &quota_used_sql("?1", "?2"),
            params![user, month_start],
            |r| r.get(0),
        )?)
    }

    /// Everyone who may start campaigns (marketers, admins) with their own
    /// quota, if set, and what they used since `month_start` (ms).
    pub fn quotas(&self, month_start: i64) -> Result<Vec<QuotaRow>> {
        let mut stmt = self.store.conn.prepare_cached(&format!(
            "SELECT u.username, u.display_name, u.role, q.monthly_parts, ({}) AS used
             FROM users u LEFT JOIN sms_quotas q ON q.user_id = u.id
             WHERE u.role IN ('marketer', 'admin') ORDER BY u.username",
            quota_used_sql("u.id", "?1")
        ))?;
        let rows = stmt.query_map([month_start], |r| {
            Ok(QuotaRow {
                username: r.get(0)?,
                display_name: r.get(1)?,
                role: r.get(2)?,
                quota: r.get(3)?,
                used: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A user's own monthly quota, if an admin set one.
    pub fn quota(&self, user: i64) -> Result<Option<i64>> {
        Ok(self
            .store
            .conn
            .query_row(
                "SELECT monthly_parts FROM sms_quotas WHERE user_id = ?1",
                [user],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Sets a user's monthly quota.
    pub fn set_quota(&self, user: i64, parts: i64, set_by: Option<i64>) -> Result<()> {
        self.store.conn.execute(
            "INSERT INTO sms_quotas (user_id, monthly_parts, set_by, set_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (user_id) DO UPDATE SET monthly_parts = ?2, set_by = ?3, set_at = ?4",
            params![user, parts, set_by, now_ms()],
        )?;
        Ok(())
    }

    /// Starts a draft: it becomes scheduled and the runner takes it from
    /// there; the campaign as started. `allowed` is checked inside the transaction, so two starts at
    /// once cannot both squeeze under a quota.
    pub fn start_campaign(
        &self,
        id: i64,
        allowed: impl FnOnce(Campaigns<'_>, &CampaignRow) -> Result<()>,
    ) -> Result<CampaignRow> {
        self.store.in_transaction(|s| {
            let c = self
                .campaign(id)?
                .ok_or_else(|| StoreError::Invalid(format!("no campaign {id}")))?;
            if c.state != CampaignState::Draft {
                return Err(StoreError::Invalid(format!(
                    "campaign {id} is {}, not a draft",
                    c.state.as_str()
                )));
            }
            allowed(*self, &c)?;
            s.conn.execute(
                "UPDATE sms_campaigns SET state = 'scheduled', started_at = ?2 WHERE id = ?1",
                params![id, now_ms()],
            )?;
            // The row as started, so callers report its new state.
            self.campaign(id)?
                .ok_or_else(|| StoreError::Invalid(format!("no campaign {id}")))
        })
    }

    /// Moves a campaign between live states (the runner), or pauses and
    /// resumes it (people). `from` guards against racing another change.
    pub fn set_campaign_state(
        &self,
        id: i64,
        from: &[CampaignState],
        to: CampaignState,
    ) -> Result<bool> {
        let ends = matches!(to, CampaignState::Done | CampaignState::Cancelled);
        if ends && self.store.conn.is_autocommit() {
            // The end and its `campaign.finished` event land together.
            return self
                .store
                .in_transaction(|s| s.campaigns().set_campaign_state(id, from, to));
        }
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let list = from
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(",");
        let n = self.store.conn.execute(
            &format!(
                "UPDATE sms_campaigns SET state = ?2,
                     finished_at = CASE WHEN ?2 IN ('done', 'cancelled') THEN ?3 ELSE NULL END
                 WHERE id = ?1 AND state IN ({list})"
            ),
            params![id, to.as_str(), now_ms()],
        )?;
        if n == 1 && ends && self.store.webhooks().listens("campaign.finished")? {
            self.tell_finished(id, to)?;
        }
        Ok(n == 1)
    }

    /// Writes `campaign.finished` for campaign `id`, ended as `state`.
    fn tell_finished(&self, id: i64, state: CampaignState) -> Result<()> {
        let name: String = self.store.conn.query_row(
            "SELECT name FROM sms_campaigns WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        let p = self.campaign_progress(id)?;
        let parts = |k: &str| p.states.get(k).copied().unwrap_or(0);
        let data = serde_json::json!({
            "campaign_id": id,
            "name": name,
            "state": state.as_str(),
            "recipients": p.recipients,
            "skipped": p.skipped.values().sum::<i64>(),
            "sent": parts("sent") + parts("delivered") + parts("unknown"),
            "delivered": parts("delivered"),
            "failed": parts("failed"),
        });
        self.store
            .webhooks()
            .emit_once("campaign.finished", &id.to_string(), &data)?;
        Ok(())
    }

    /// Cancels a campaign: what is not sent yet never will be. Parts already
    /// with a modem finish as they will.
    pub fn cancel_campaign(&self, id: i64) -> Result<bool> {
        self.store.in_transaction(|s| {
            let live = [
                CampaignState::Draft,
                CampaignState::Scheduled,
                CampaignState::Running,
                CampaignState::Waiting,
                CampaignState::Paused,
            ];
            if !self.set_campaign_state(id, &live, CampaignState::Cancelled)? {
                return Ok(false);
            }
            let now = now_ms();
            s.conn.execute(
                "UPDATE sms_parts SET state = 'failed', error = 'campaign cancelled', updated_at = ?2
                 WHERE campaign_id = ?1 AND state = 'queued'",
                params![id, now],
            )?;
            s.conn.execute(
                "UPDATE sms_campaign_recipients SET state = 'skipped', skip_reason = 'cancelled'
                 WHERE campaign_id = ?1 AND state = 'pending'",
                [id],
            )?;
            Ok(true)
        })
    }

    /// Parts of `campaign` waiting in the queue: the runner keeps this
    /// a little above what the modems take meanwhile.
    pub fn campaign_queued_parts(&self, campaign: i64) -> Result<i64> {
        Ok(self.store.conn.query_row(
            "SELECT count(*) FROM sms_parts WHERE campaign_id = ?1 AND state = 'queued'",
            [campaign],
            |r| r.get(0),
        )?)
    }

    /// Whether anything of `campaign` is still to be sent or in a modem.
    pub fn campaign_unfinished(&self, campaign: i64) -> Result<bool> {
        Ok(self.store.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sms_campaign_recipients
                              INDEXED BY sms_campaign_recipients_pending
                            WHERE campaign_id = ?1 AND state = 'pending')
                 OR EXISTS (SELECT 1 FROM sms_parts
                            WHERE campaign_id = ?1 AND state IN ('queued', 'sending'))",
            [campaign],
            |r| r.get(0),
        )?)
    }

    /// The next `limit` pending recipients; opted-out and blacklisted
    /// numbers among them are skipped here and not returned.
    pub fn next_recipients(&self, campaign: i64, limit: u32) -> Result<Vec<PendingRecipient>> {
        self.store.in_transaction(|s| {
            let mut out = Vec::new();
            let mut stmt = s.conn.prepare_cached(
                "SELECT r.seq, r.e164, r.fields,
                        EXISTS (SELECT 1 FROM sms_optouts o WHERE o.e164 = r.e164),
                        EXISTS (SELECT 1 FROM sms_blacklist b WHERE b.e164 = r.e164)
                 FROM sms_campaign_recipients r INDEXED BY sms_campaign_recipients_pending
                 WHERE r.campaign_id = ?1 AND r.state = 'pending'
                 ORDER BY r.seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![campaign, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            })?;
            let mut skip = s.conn.prepare_cached(
                "UPDATE sms_campaign_recipients SET state = 'skipped', skip_reason = ?3
                 WHERE campaign_id = ?1 AND seq = ?2",
            )?;
            for row in rows {
                let (seq, e164, fields, opted_out, blacklisted) = row?;
                if opted_out || blacklisted {
                    let why = if blacklisted {
                        "blacklisted"
                    } else {
                        "opted_out"
                    };
                    skip.execute(params![campaign, seq, why])?;
                    continue;
                }
                out.push(PendingRecipient {
                    seq,
                    e164,
                    fields: serde_json::from_str(&fields).unwrap_or_default(),
                });
            }
            Ok(out)
        })
    }

    /// Queues the messages of a batch of recipients and marks them queued,
    /// in one transaction: a crash leaves each recipient either pending or
    /// with its whole message queued.
    pub fn feed_campaign(&self, campaign: i64, messages: &[FedMessage]) -> Result<()> {
        self.store.in_transaction(|s| {
            let now = now_ms();
            let mut message = s.conn.prepare_cached(
                "INSERT INTO sms_messages (to_number, text, encoding, parts, campaign_id, created_by,
                     created_at)
                 SELECT ?1, ?2, ?3, ?4, id, created_by, ?5 FROM sms_campaigns WHERE id = ?6",
            )?;
            let mut part = s.conn.prepare_cached(
                "INSERT INTO sms_parts (message_id, seq, pdu, tpdu_len, campaign_id, queued_at,
                     updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            )?;
            let mut recipient = s.conn.prepare_cached(
                "UPDATE sms_campaign_recipients SET state = 'queued', message_id = ?3
                 WHERE campaign_id = ?1 AND seq = ?2 AND state = 'pending'",
            )?;
            for m in messages {
                message.execute(params![
                    m.e164,
                    m.text,
                    m.encoding,
                    m.parts.len() as i64,
                    now,
                    campaign
                ])?;
                let id = s.conn.last_insert_rowid();
                for (i, (pdu, len)) in m.parts.iter().enumerate() {
                    part.execute(params![id, i as i64 + 1, pdu, *len as i64, campaign, now])?;
                }
                if recipient.execute(params![campaign, m.seq, id])? != 1 {
                    return Err(StoreError::Invalid(format!(
                        "recipient {} of campaign {campaign} is not pending",
                        m.seq
                    )));
                }
            }
            Ok(())
        })
    }

    /// A campaign's counts.
    pub fn campaign_progress(&self, campaign: i64) -> Result<Progress> {
        let mut p = Progress {
            parts: self.store.conn.query_row(
                "SELECT parts FROM sms_campaigns WHERE id = ?1",
                [campaign],
                |r| r.get(0),
            )?,
            ..Progress::default()
        };
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT state, skip_reason, count(*) FROM sms_campaign_recipients
             WHERE campaign_id = ?1 GROUP BY state, skip_reason",
        )?;
        let rows = stmt.query_map([campaign], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (state, reason, n) = row?;
            p.recipients += n;
            match state.as_str() {
                "pending" => p.pending += n,
                "skipped" => {
                    *p.skipped
                        .entry(reason.unwrap_or_else(|| "other".into()))
                        .or_default() += n
                }
                _ => {}
            }
        }
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT state, count(*) FROM sms_parts WHERE campaign_id = ?1 GROUP BY state",
        )?;
        let rows = stmt.query_map([campaign], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (state, n) = row?;
            p.states.insert(state, n);
        }
        Ok(p)
    }

    /// Every recipient's outcome, in order, for the results export; `f` is
    /// called per row so a million rows never sit in memory.
    pub fn campaign_results(
        &self,
        campaign: i64,
        mut f: impl FnMut(ResultRow) -> std::result::Result<(), String>,
    ) -> Result<u64> {
        let mut stmt = self.store.conn.prepare(
            "SELECT r.seq, r.number, COALESCE(json_extract(r.fields, '$.name'), ''), r.state,
                    r.skip_reason, r.parts,
                    (SELECT CASE
                        WHEN SUM(p.state = 'failed') > 0 THEN 'failed'
                        WHEN SUM(p.state = 'unknown') > 0 THEN 'unknown'
                        WHEN SUM(p.state = 'queued') > 0 THEN 'queued'
                        WHEN SUM(p.state = 'sending') > 0 THEN 'sending'
                        WHEN SUM(p.state = 'sent') > 0 THEN 'sent'
                        ELSE 'delivered' END
                     FROM sms_parts p WHERE p.message_id = r.message_id),
                    m.modem,
                    (SELECT group_concat(DISTINCT p.error) FROM sms_parts p
                     WHERE p.message_id = r.message_id AND p.state IN ('failed', 'unknown')),
                    (SELECT MAX(p.updated_at) FROM sms_parts p WHERE p.message_id = r.message_id)
             FROM sms_campaign_recipients r
             LEFT JOIN sms_messages m ON m.id = r.message_id
             WHERE r.campaign_id = ?1 ORDER BY r.seq",
        )?;
        let mut rows = stmt.query([campaign])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let state: String = r.get(3)?;
            let skip: Option<String> = r.get(4)?;
            let part_state: Option<String> = r.get(6)?;
            let row = ResultRow {
                seq: r.get(0)?,
                number: r.get(1)?,
                name: r.get(2)?,
                state: match state.as_str() {
                    "queued" => part_state.unwrap_or_else(|| "queued".into()),
                    other => other.to_string(),
                },
                parts: r.get(5)?,
                modem: r.get(7)?,
                reason: skip.or(r.get(8)?),
                updated_at: r.get(9)?,
            };
            f(row).map_err(StoreError::Invalid)?;
            n += 1;
        }
        Ok(n)
    }

    /// A campaign's failed and unknown parts, newest first, with their
    /// reasons; and how many parts each reason failed.
    pub fn campaign_failures(&self, campaign: i64, limit: u32) -> Result<Failures> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT m.to_number, p.seq, p.state, COALESCE(p.error, ''), p.modem, p.updated_at
             FROM sms_parts p INDEXED BY sms_parts_campaign
             JOIN sms_messages m ON m.id = p.message_id
             WHERE p.campaign_id = ?1 AND p.state IN ('failed', 'unknown')
             ORDER BY p.updated_at DESC LIMIT ?2",
        )?;
        let parts = stmt
            .query_map(params![campaign, limit], |r| {
                Ok(FailedPart {
                    number: r.get(0)?,
                    part: r.get(1)?,
                    state: r.get(2)?,
                    reason: r.get(3)?,
                    modem: r.get(4)?,
                    updated_at: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT COALESCE(error, ''), count(*) FROM sms_parts INDEXED BY sms_parts_campaign
             WHERE campaign_id = ?1 AND state IN ('failed', 'unknown')
             GROUP BY error ORDER BY count(*) DESC",
        )?;
        let reasons = stmt
            .query_map([campaign], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Failures { reasons, parts })
    }
}
