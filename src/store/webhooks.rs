//! Webhooks (Open CTI): the endpoints, the outbox of events and each
//! event's delivery to each endpoint.
//!
//! An event is written by [`Webhooks::emit`] inside the transaction of the
//! fact it reports (a customer saved, a work order changed), with one
//! pending delivery per endpoint subscribed to its type at that moment; no
//! endpoint subscribed, no event. The delivery worker
//! ([`crate::webhooks`]) takes each endpoint's oldest pending delivery
//! ([`Webhooks::due`]), so an endpoint receives its events in order; a
//! failure sets the next attempt (or kills the delivery) and the endpoint
//! waits for it — a dead delivery no longer holds the line.

use super::{now_ms, AuditEntry, Result, Store, User};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::{json, Value};

/// The webhooks' view of a [`Store`], from [`Store::webhooks`].
#[derive(Clone, Copy)]
pub struct Webhooks<'a> {
    pub(super) store: &'a Store,
}

/// An endpoint as the console lists it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookEndpoint {
    pub id: i64,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: i64,
    /// `webhook`, or a group robot: `dingtalk`, `wecom`.
    pub kind: String,
    /// Only events of these teams (and those of no team); empty: all.
    pub teams: Vec<String>,
    /// Quiet hours, minutes after local midnight.
    pub quiet_from: Option<u16>,
    pub quiet_to: Option<u16>,
    /// At most this many deliveries a minute (0: no limit).
    pub per_minute: u32,
    /// Whether a 钉钉 robot signs (加签): it has a secret.
    pub signed: bool,
    /// Deliveries waiting (pending) and given up (dead).
    pub pending: i64,
    pub dead: i64,
}

/// The delivery an endpoint is to make next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub endpoint_id: i64,
    pub url: String,
    /// Who receives it (`webhook`, `dingtalk`, `wecom`) and the rules it
    /// waits for (quiet hours, per minute).
    pub kind: String,
    pub quiet_from: Option<u16>,
    pub quiet_to: Option<u16>,
    pub per_minute: u32,
    /// The secrets to sign with: the current one, and the previous one
    /// while a rotation is in its grace period.
    pub secrets: Vec<String>,
    /// The event's row id (for recording the outcome) and its public id.
    pub event_row: i64,
    pub event_id: String,
    pub event_type: String,
    pub created_at: i64,
    pub data: Value,
    pub attempts: i64,
}

/// One delivery as the console's log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRow {
    pub event: i64,
    pub event_id: String,
    pub event_type: String,
    pub created_at: i64,
    pub state: String,
    pub attempts: i64,
    pub next_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The endpoint answered 2xx.
    Delivered { status: u16 },
    /// Not tried: the endpoint's quiet hours or its per-minute limit hold
    /// it until `until` (not counted as an attempt).
    Held { until: i64 },
    /// It did not: try again at `next_at`, or give up (`None`).
    Failed {
        status: Option<u16>,
        error: String,
        next_at: Option<i64>,
    },
}

/// What an admin sets on an endpoint: where it is, a note, the events
/// it wants (`*`: all) and whether it gets them now; for a group robot,
/// its kind, the teams whose events it hears of, quiet hours and pace.
pub struct EndpointSettings<'a> {
    pub url: &'a str,
    pub description: &'a str,
    pub events: &'a [String],
    pub active: bool,
    pub kind: &'a str,
    pub teams: &'a [String],
    pub quiet: Option<(u16, u16)>,
    pub per_minute: u32,
    /// A 钉钉 robot's new 加签 secret (`Some("")` removes it); `None`
    /// keeps the one it has.
    pub robot_secret: Option<&'a str>,
}

impl<'a> EndpointSettings<'a> {
    /// A program's endpoint at `url` for `events`, active, without rules.
    pub fn webhook(url: &'a str, events: &'a [String]) -> Self {
        EndpointSettings {
            url,
            description: "",
            events,
            active: true,
            kind: "webhook",
            teams: &[],
            quiet: None,
            per_minute: 0,
            robot_secret: None,
        }
    }
}

impl Webhooks<'_> {
    /// Writes an event of `event_type` with `data` for every active endpoint
    /// subscribed to it; call it inside the transaction of the fact. The
    /// event's public id, or `None` when nobody listens. An event of a
    /// team (`data.team`) goes only to endpoints that take that team's.
    pub fn emit(&self, event_type: &str, data: &Value) -> Result<Option<String>> {
        self.emit_keyed(event_type, None, data)
    }

    /// Like [`Webhooks::emit`], for a fact that may be written more than
    /// once (a call record kept and retried while the disk is full, a call
    /// seen again after a restart): `key` names the fact, and a second
    /// event with the same type and key is not written (`None`).
    pub fn emit_once(&self, event_type: &str, key: &str, data: &Value) -> Result<Option<String>> {
        self.emit_keyed(event_type, Some(key), data)
    }

    /// Whether an active endpoint wants `event_type` (else it is not
    /// written, and facts that are costly to look for need not be).
    pub fn listens(&self, event_type: &str) -> Result<bool> {
        Ok(self
            .store
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM webhook_endpoints e
                                WHERE e.active AND EXISTS (
                                    SELECT 1 FROM json_each(e.events) WHERE value IN (?1, '*')))",
            )?
            .query_row([event_type], |r| r.get(0))?)
    }

    fn emit_keyed(
        &self,
        event_type: &str,
        key: Option<&str>,
        data: &Value,
    ) -> Result<Option<String>> {
        let conn = &self.store.conn;
        if !self.listens(event_type)? {
            return Ok(None);
        }
        let event_id = uuid::Uuid::now_v7().to_string();
        let now = now_ms();
        let key = key.map(|k| format!("{event_type} {k}"));
        let written = conn
            .prepare_cached(
                "INSERT INTO webhook_events (event_id, type, created_at, data, fact_key)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (fact_key) DO NOTHING",
            )?
            .execute(params![event_id, event_type, now, data.to_string(), key])?;
        if written == 0 {
            return Ok(None);
        }
        let row = conn.last_insert_rowid();
        conn.prepare_cached(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, next_at, updated_at)
             SELECT e.id, ?1, ?2, ?2 FROM webhook_endpoints e
             WHERE e.active AND EXISTS (
                 SELECT 1 FROM json_each(e.events) WHERE value IN (?3, '*'))
               AND (e.teams = '[]' OR ?4 IS NULL
                    OR EXISTS (SELECT 1 FROM json_each(e.teams) WHERE value = ?4))",
        )?
        .execute(params![row, now, event_type, data["team"].as_str()])?;
        Ok(Some(event_id))
    }

    /// Keeps an outbox endpoint `crm:<label>` for the call journal of each
    /// CRM in `labels` (see [`Self::keep_internal`]). The journals thus get
    /// the outbox's order, retries and delivery log.
    pub fn keep_crm_journals(&self, labels: &[String]) -> Result<()> {
        let wanted: Vec<(String, Vec<String>)> = labels
            .iter()
            .map(|l| (format!("crm:{l}"), vec!["call.ended".to_string()]))
            .collect();
        self.keep_internal("crm:", &wanted)
    }

    /// Keeps the endpoints of one of callpop's own consumers of the outbox
    /// (addresses starting with `prefix`: `crm:`, `sms:`) as the
    /// configuration wants them: each of `wanted` active with its events
    /// (added when missing), the others with the prefix switched off. An
    /// endpoint added now hears of events from now on.
    pub fn keep_internal(&self, prefix: &str, wanted: &[(String, Vec<String>)]) -> Result<()> {
        self.store.in_transaction(|s| {
            for (url, events) in wanted {
                let events = json!(events).to_string();
                s.conn.execute(
                    "INSERT INTO webhook_endpoints (url, description, secret, events, active, created_at)
                     SELECT ?1, '', '', ?2, 1, ?3
                     WHERE NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE url = ?1)",
                    params![url, events, now_ms()],
                )?;
                s.conn.execute(
                    "UPDATE webhook_endpoints SET active = 1, events = ?2 WHERE url = ?1",
                    params![url, events],
                )?;
            }
            let kept: Vec<&String> = wanted.iter().map(|(url, _)| url).collect();
            s.conn.execute(
                "UPDATE webhook_endpoints SET active = 0
                 WHERE substr(url, 1, length(?2)) = ?2
                   AND url NOT IN (SELECT value FROM json_each(?1))",
                params![json!(kept).to_string(), prefix],
            )?;
            Ok(())
        })
    }

    /// Adds an endpoint; audited. Its id.
    pub fn add_endpoint(
        &self,
        e: &EndpointSettings,
        secret: &str,
        by: &User,
        remote: Option<&str>,
    ) -> Result<i64> {
        self.store.in_transaction(|s| {
            s.conn.execute(
                "INSERT INTO webhook_endpoints (url, description, secret, events, active, created_by,
                     created_at, kind, teams, quiet_from, quiet_to, per_minute)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    e.url,
                    e.description,
                    e.robot_secret.unwrap_or(secret),
                    json!(e.events).to_string(),
                    e.active,
                    by.id,
                    now_ms(),
                    e.kind,
                    json!(e.teams).to_string(),
                    e.quiet.map(|q| q.0),
                    e.quiet.map(|q| q.1),
                    e.per_minute
                ],
            )?;
            let id = s.conn.last_insert_rowid();
            audit(s, by, remote, "webhook.add", id, json!({ "url": e.url, "kind": e.kind, "events": e.events }))?;
            Ok(id)
        })
    }

    /// Changes an endpoint's address, events, rules and whether it is
    /// active (never its kind); audited with before and after. False when there is none.
    pub fn update_endpoint(
        &self,
        id: i64,
        e: &EndpointSettings,
        by: &User,
        remote: Option<&str>,
    ) -> Result<bool> {
        self.store.in_transaction(|s| {
            let w = s.webhooks();
            let Some(before) = w.endpoint(id)? else {
                return Ok(false);
            };
            s.conn.execute(
                "UPDATE webhook_endpoints SET url = ?2, description = ?3, events = ?4, active = ?5,
                     teams = ?7, quiet_from = ?8, quiet_to = ?9, per_minute = ?10,
                     secret = CASE WHEN kind = ?6 THEN coalesce(?11, secret) ELSE secret END
                 WHERE id = ?1",
                params![
                    id,
                    e.url,
                    e.description,
                    json!(e.events).to_string(),
                    e.active,
                    e.kind,
                    json!(e.teams).to_string(),
                    e.quiet.map(|q| q.0),
                    e.quiet.map(|q| q.1),
                    e.per_minute,
                    e.robot_secret
                ],
            )?;
            let after = w.endpoint(id)?;
            audit(
                s,
                by,
                remote,
                "webhook.update",
                id,
                json!({ "before": before, "after": after }),
            )?;
            Ok(true)
        })
    }

    /// Gives endpoint `id` a new secret; the old one still signs for
    /// `grace_ms`. False when there is none.
    pub fn rotate_secret(
        &self,
        id: i64,
        secret: &str,
        grace_ms: i64,
        by: &User,
        remote: Option<&str>,
    ) -> Result<bool> {
        self.store.in_transaction(|s| {
            let changed = s.conn.execute(
                "UPDATE webhook_endpoints SET old_secret = secret, old_secret_until = ?3, secret = ?2
                 WHERE id = ?1",
                params![id, secret, now_ms() + grace_ms],
            )?;
            if changed == 1 {
                audit(s, by, remote, "webhook.rotate", id, json!({ "grace_ms": grace_ms }))?;
            }
            Ok(changed == 1)
        })
    }

    /// Deletes endpoint `id` and its deliveries; audited.
    pub fn delete_endpoint(&self, id: i64, by: &User, remote: Option<&str>) -> Result<bool> {
        self.store.in_transaction(|s| {
            let changed = s
                .conn
                .execute("DELETE FROM webhook_endpoints WHERE id = ?1", [id])?;
            if changed == 1 {
                s.conn.execute(
                    "DELETE FROM webhook_deliveries WHERE endpoint_id = ?1",
                    [id],
                )?;
                audit(s, by, remote, "webhook.delete", id, json!({}))?;
            }
            Ok(changed == 1)
        })
    }

    fn endpoint(&self, id: i64) -> Result<Option<WebhookEndpoint>> {
        Ok(self.endpoints()?.into_iter().find(|e| e.id == id))
    }

    /// Every endpoint with its waiting and dead deliveries.
    pub fn endpoints(&self) -> Result<Vec<WebhookEndpoint>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT e.id, e.url, e.description, e.events, e.active, e.created_at,
                    (SELECT count(*) FROM webhook_deliveries d
                      WHERE d.endpoint_id = e.id AND d.state = 'pending'),
                    (SELECT count(*) FROM webhook_deliveries d
                      WHERE d.endpoint_id = e.id AND d.state = 'dead'),
                    e.kind, e.teams, e.quiet_from, e.quiet_to, e.per_minute, e.secret <> ''
             FROM webhook_endpoints e ORDER BY e.id",
        )?;
        let rows = stmt.query_map([], |r| {
            let events: String = r.get(3)?;
            let teams: String = r.get(9)?;
            Ok(WebhookEndpoint {
                kind: r.get(8)?,
                teams: serde_json::from_str(&teams).unwrap_or_default(),
                quiet_from: r.get(10)?,
                quiet_to: r.get(11)?,
                per_minute: r.get(12)?,
                signed: r.get(13)?,
                id: r.get(0)?,
                url: r.get(1)?,
                description: r.get(2)?,
                events: serde_json::from_str(&events).unwrap_or_default(),
                active: r.get(4)?,
                created_at: r.get(5)?,
                pending: r.get(6)?,
                dead: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Each active endpoint's oldest pending delivery, when it is due by
    /// `now`: what the worker sends next (one per endpoint keeps the order).
    pub fn due(&self, now: i64) -> Result<Vec<DueDelivery>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT e.id, e.url, e.secret, e.old_secret, e.old_secret_until,
                    v.id, v.event_id, v.type, v.created_at, v.data, d.attempts, d.next_at,
                    e.kind, e.quiet_from, e.quiet_to, e.per_minute
             FROM webhook_endpoints e
             -- Endpoints drive (CROSS JOIN keeps them outside): each one's
             -- head is one step down the pending index, whatever the backlog.
             CROSS JOIN webhook_deliveries d ON d.endpoint_id = e.id
                  AND d.event_id = (SELECT x.event_id FROM webhook_deliveries x
                                    INDEXED BY webhook_deliveries_pending
                                    WHERE x.endpoint_id = e.id AND x.state = 'pending'
                                    ORDER BY x.event_id LIMIT 1)
             JOIN webhook_events v ON v.id = d.event_id
             WHERE e.active AND d.next_at <= ?1
             ORDER BY e.id",
        )?;
        let rows = stmt.query_map([now], |r| {
            let old: Option<String> = r.get(3)?;
            let old_until: Option<i64> = r.get(4)?;
            let mut secrets = vec![r.get::<_, String>(2)?];
            if let (Some(old), Some(until)) = (old, old_until) {
                if until > now {
                    secrets.push(old);
                }
            }
            let data: String = r.get(9)?;
            Ok(DueDelivery {
                endpoint_id: r.get(0)?,
                url: r.get(1)?,
                kind: r.get(12)?,
                quiet_from: r.get(13)?,
                quiet_to: r.get(14)?,
                per_minute: r.get(15)?,
                secrets,
                event_row: r.get(5)?,
                event_id: r.get(6)?,
                event_type: r.get(7)?,
                created_at: r.get(8)?,
                data: serde_json::from_str(&data).unwrap_or(Value::Null),
                attempts: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The earliest time a pending delivery of an active endpoint is due
    /// (for the worker to sleep until), if any.
    pub fn next_due(&self) -> Result<Option<i64>> {
        Ok(self
            .store
            .conn
            .prepare_cached(
                "SELECT min(d.next_at) FROM webhook_deliveries d
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id
                 WHERE d.state = 'pending' AND e.active",
            )?
            .query_row([], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// Records how an attempt to deliver event `event_row` to `endpoint`
    /// went.
    pub fn record(&self, endpoint: i64, event_row: i64, attempt: &Attempt, now: i64) -> Result<()> {
        let (state, status, error, next_at) = match attempt {
            Attempt::Held { until } => {
                self.store.conn.execute(
                    "UPDATE webhook_deliveries SET next_at = ?3, updated_at = ?4
                     WHERE endpoint_id = ?1 AND event_id = ?2 AND state = 'pending'",
                    params![endpoint, event_row, until, now],
                )?;
                return Ok(());
            }
            Attempt::Delivered { status } => ("delivered", Some(*status), None, now),
            Attempt::Failed {
                status,
                error,
                next_at,
            } => (
                if next_at.is_some() { "pending" } else { "dead" },
                *status,
                Some(error.as_str()),
                next_at.unwrap_or(now),
            ),
        };
        self.store.conn.execute(
            "UPDATE webhook_deliveries SET state = ?3, attempts = attempts + 1, last_status = ?4,
                    last_error = ?5, next_at = ?6, updated_at = ?7
             WHERE endpoint_id = ?1 AND event_id = ?2 AND state = 'pending'",
            params![endpoint, event_row, state, status, error, next_at, now],
        )?;
        Ok(())
    }

    /// The newest `limit` deliveries of `endpoint`.
    pub fn deliveries(&self, endpoint: i64, limit: u32) -> Result<Vec<DeliveryRow>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT v.id, v.event_id, v.type, v.created_at, d.state, d.attempts, d.next_at,
                    d.last_status, d.last_error, d.updated_at
             FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id
             WHERE d.endpoint_id = ?1 ORDER BY d.event_id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![endpoint, limit], |r| {
            Ok(DeliveryRow {
                event: r.get(0)?,
                event_id: r.get(1)?,
                event_type: r.get(2)?,
                created_at: r.get(3)?,
                state: r.get(4)?,
                attempts: r.get(5)?,
                next_at: r.get(6)?,
                last_status: r.get(7)?,
                last_error: r.get(8)?,
                updated_at: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Sends event `event_row` to `endpoint` again (delivered or dead: the
    /// same event id); audited. False when there is no such delivery.
    pub fn redeliver(
        &self,
        endpoint: i64,
        event_row: i64,
        by: &User,
        remote: Option<&str>,
    ) -> Result<bool> {
        self.store.in_transaction(|s| {
            let now = now_ms();
            let changed = s.conn.execute(
                "UPDATE webhook_deliveries SET state = 'pending', next_at = ?3, updated_at = ?3
                 WHERE endpoint_id = ?1 AND event_id = ?2",
                params![endpoint, event_row, now],
            )?;
            if changed == 1 {
                audit(
                    s,
                    by,
                    remote,
                    "webhook.redeliver",
                    endpoint,
                    json!({ "event": event_row }),
                )?;
            }
            Ok(changed == 1)
        })
    }
}

fn audit(
    s: &Store,
    by: &User,
    remote: Option<&str>,
    action: &str,
    endpoint: i64,
    detail: Value,
) -> Result<()> {
    s.users().audit(&AuditEntry {
        actor: &by.username,
        user_id: Some(by.id),
        action,
        target: Some(&format!("webhook:{endpoint}")),
        detail,
        remote_addr: remote,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Role;

    fn settings<'a>(url: &'a str, events: &'a [String]) -> EndpointSettings<'a> {
        EndpointSettings::webhook(url, events)
    }

    /// A fresh store (in the directory returned with it) and its admin.
    fn store_with_admin() -> (tempfile::TempDir, Store, crate::store::User) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        store
            .users()
            .add_user("admin", "Admin", Role::Admin, None, None)
            .unwrap();
        let admin = store.users().user_by_name("admin").unwrap().unwrap();
        (dir, store, admin)
    }

    #[test]
    fn events_wait_in_order_per_endpoint_and_settle() {
        let (_dir, store, admin) = store_with_admin();
        let w = store.webhooks();
        // Nobody listens: nothing is written.
        assert_eq!(w.emit("customer.updated", &json!({})).unwrap(), None);
        let all = w
            .add_endpoint(&settings("http://a", &["*".into()]), "s1", &admin, None)
            .unwrap();
        let calls = w
            .add_endpoint(
                &settings("http://b", &["call.ended".into()]),
                "s2",
                &admin,
                None,
            )
            .unwrap();
        let first = w
            .emit("customer.updated", &json!({"id": 1}))
            .unwrap()
            .unwrap();
        let second = w
            .emit("call.ended", &json!({"call": "x"}))
            .unwrap()
            .unwrap();
        assert_ne!(first, second);
        let now = now_ms() + 1;
        let due = w.due(now).unwrap();
        let heads: Vec<(i64, &str)> = due
            .iter()
            .map(|d| (d.endpoint_id, d.event_type.as_str()))
            .collect();
        assert_eq!(heads, [(all, "customer.updated"), (calls, "call.ended")]);
        // A failure holds the endpoint's line until it is due again.
        let failed = Attempt::Failed {
            status: Some(500),
            error: "500".into(),
            next_at: Some(now + 10_000),
        };
        w.record(all, due[0].event_row, &failed, now).unwrap();
        assert_eq!(w.due(now).unwrap().len(), 1, "only the other endpoint");
        assert!(
            w.next_due().unwrap().is_some_and(|t| t <= now),
            "the other is due"
        );
        let later = w.due(now + 10_000).unwrap();
        assert_eq!(later[0].event_id, first, "the same event, the same id");
        assert_eq!(later[0].attempts, 1);
        w.record(
            all,
            later[0].event_row,
            &Attempt::Delivered { status: 200 },
            now,
        )
        .unwrap();
        assert_eq!(w.due(now + 10_000).unwrap()[0].event_id, second);
        // Given up: dead, and the line moves on; redelivery brings it back.
        let gone = Attempt::Failed {
            status: None,
            error: "refused".into(),
            next_at: None,
        };
        w.record(calls, later[1].event_row, &gone, now).unwrap();
        let ends = w.endpoints().unwrap();
        assert_eq!((ends[1].pending, ends[1].dead), (0, 1));
        assert!(w
            .redeliver(calls, later[1].event_row, &admin, None)
            .unwrap());
        assert_eq!(w.endpoints().unwrap()[1].pending, 1);
        // Rotation: both secrets sign during the grace period.
        assert!(w.rotate_secret(all, "s1b", 60_000, &admin, None).unwrap());
        w.emit("customer.updated", &json!({})).unwrap();
        let d = w.due(now_ms() + 1).unwrap();
        assert_eq!(d[0].secrets, ["s1b", "s1"]);
        assert_eq!(w.deliveries(all, 10).unwrap().len(), 3);
        // A fact written again (a retried call record) is one event.
        let once = w
            .emit_once("call.ended", "c1", &json!({"call": "c1"}))
            .unwrap();
        assert!(once.is_some());
        assert_eq!(
            w.emit_once("call.ended", "c1", &json!({"call": "c1"}))
                .unwrap(),
            None
        );
        assert!(w
            .emit_once("call.answered", "c1", &json!({}))
            .unwrap()
            .is_some());
    }

    #[test]
    fn a_fact_undone_tells_nothing() {
        let (_dir, store, admin) = store_with_admin();
        let w = store.webhooks();
        w.add_endpoint(&settings("http://a", &["*".into()]), "s", &admin, None)
            .unwrap();
        // The event is written inside the fact's transaction; the fact then
        // fails (a full disk, a constraint): neither the event nor its
        // deliveries remain.
        let undone: Result<()> = store.in_transaction(|s| {
            s.webhooks()
                .emit("customer.created", &json!({"id": 7}))?
                .expect("an endpoint listens");
            Err(crate::store::StoreError::Invalid("the fact failed".into()))
        });
        assert!(undone.is_err());
        assert!(w.due(i64::MAX).unwrap().is_empty());
        let events: i64 = store
            .conn
            .query_row("SELECT count(*) FROM webhook_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(events, 0);
        // Kept, it is told.
        store
            .in_transaction(|s| s.webhooks().emit("customer.created", &json!({"id": 8})))
            .unwrap();
        assert_eq!(w.due(i64::MAX).unwrap().len(), 1);
    }
}
