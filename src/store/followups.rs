//! The call-back queue (最近未处理来电, 回访): one item per number that
//! needs calling back. Missed calls open items (several from one number
//! count on one), an answered call from the number closes its item, a
//! dialled call-back records its outcome (and closes the item when
//! answered); agents claim items (one wins) and close them with a reason.

use super::{Result, Store, StoreError};
use crate::calls::Cdr;
use crate::event::{Direction, Outcome};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

/// The call-back queue, a view of a [`Store`] from [`Store::followups`].
#[derive(Clone, Copy)]
pub struct FollowUps<'a> {
    pub(super) store: &'a Store,
}

/// One item of the queue, as the pages list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    pub id: i64,
    /// `missed` or `scheduled`.
    pub kind: String,
    pub number_national: String,
    /// What to dial.
    pub number: String,
    pub customer_id: Option<i64>,
    pub customer_name: Option<String>,
    pub line: Option<String>,
    /// Missed calls it stands for.
    pub calls: i64,
    pub last_call_uid: Option<String>,
    pub created_at: i64,
    pub last_at: i64,
    pub due_at: i64,
    /// `open`, `claimed`, `called` or `closed`.
    pub state: String,
    pub assigned_to: Option<i64>,
    pub claimed_by: Option<i64>,
    pub claimed_by_name: Option<String>,
    pub attempts: i64,
    pub callback_outcome: Option<String>,
    pub called_at: Option<i64>,
    pub closed_at: Option<i64>,
    /// Who closed it (none when the queue did, on a return call).
    pub closed_by_name: Option<String>,
    /// Where the number belongs (归属地), filled in by the web side.
    pub info: Option<crate::phone::geo::NumberInfo>,
    pub close_reason: Option<String>,
    /// What a call-back scheduled by hand is about.
    pub note: Option<String>,
}

/// A call-back scheduled by hand for a customer (回访): who calls, what
/// number, when, about what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerCallBack {
    pub customer_id: i64,
    pub agent: i64,
    pub number: String,
    pub national: String,
    pub due_ms: i64,
    pub note: Option<String>,
}

/// A call-back a work order's follow-up date asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduled {
    pub workorder_id: i64,
    /// Who calls back: the work order's agent.
    pub agent: i64,
    /// What to dial, and the national number it is known by.
    pub number: String,
    pub national: String,
    pub customer_id: Option<i64>,
    /// When; `None` removes a live call-back of the work order.
    pub due_ms: Option<i64>,
}

/// How a claim went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "claim", rename_all = "snake_case")]
pub enum Claim {
    /// Now the user's (or already was).
    Claimed,
    /// Another agent has it.
    Taken {
        by: Option<String>,
    },
    Closed,
    NotFound,
}

/// Reasons an agent may close an item with (the page words them); the
/// queue's own are `called_back` and `answered_again`.
pub const CLOSE_REASONS: [&str; 5] = [
    "called_back",
    "resolved",
    "wrong_number",
    "no_need",
    "unreachable",
];

const SELECT: &str = "SELECT f.id, f.kind, f.number_national, f.number, f.customer_id,
        (SELECT name FROM customers WHERE id = f.customer_id), f.line, f.calls,
        f.last_call_uid, f.created_at, f.last_at, f.due_at, f.state, f.assigned_to,
        f.claimed_by, (SELECT display_name FROM users WHERE id = f.claimed_by),
        f.attempts, f.callback_outcome, f.called_at, f.closed_at, f.close_reason,
        (SELECT display_name FROM users WHERE id = f.closed_by), f.note
   FROM followups f";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FollowUp> {
    Ok(FollowUp {
        id: r.get(0)?,
        kind: r.get(1)?,
        number_national: r.get(2)?,
        number: r.get(3)?,
        customer_id: r.get(4)?,
        customer_name: r.get(5)?,
        line: r.get(6)?,
        calls: r.get(7)?,
        last_call_uid: r.get(8)?,
        created_at: r.get(9)?,
        last_at: r.get(10)?,
        due_at: r.get(11)?,
        state: r.get(12)?,
        assigned_to: r.get(13)?,
        claimed_by: r.get(14)?,
        claimed_by_name: r.get(15)?,
        attempts: r.get(16)?,
        callback_outcome: r.get(17)?,
        called_at: r.get(18)?,
        closed_at: r.get(19)?,
        close_reason: r.get(20)?,
        closed_by_name: r.get(21)?,
        note: r.get(22)?,
        info: None,
    })
}

/// A day in milliseconds: how far back a call-back's due time is still told.
const DAY_MS: i64 = 24 * 3600 * 1000;

impl FollowUps<'_> {
    /// Writes `callback.due` for each open or claimed item whose time to
    /// call back came within the last day and was not told yet (an item
    /// moved to a later time is told again then); how many were told.
    /// Nothing is looked for while nobody listens.
    pub fn announce_due(&self, now: i64) -> Result<usize> {
        if !self.store.webhooks().listens("callback.due")? {
            return Ok(0);
        }
        self.store.in_transaction(|s| {
            let due: Vec<(i64, serde_json::Value)> = s
                .conn
                .prepare_cached(
                    "SELECT f.id, f.kind, f.number, f.number_national, f.customer_id, f.line,
                            f.calls, f.due_at, f.state, f.note, u.username, w.number,
                            coalesce(u.team, b.team, bu.team), c.name, c.company
                     FROM followups f
                     LEFT JOIN line_bindings b ON b.line = f.line
                     LEFT JOIN users bu ON bu.id = b.agent_id
                     LEFT JOIN customers c ON c.id = f.customer_id
                     LEFT JOIN users u ON u.id = coalesce(f.claimed_by, f.assigned_to)
                     LEFT JOIN work_orders w ON w.id = f.workorder_id
                     WHERE f.state IN ('open', 'claimed') AND f.due_at <= ?1 AND f.due_at > ?2
                       AND NOT EXISTS (SELECT 1 FROM webhook_events e
                                       WHERE e.fact_key = 'callback.due ' || f.id || '@' || f.due_at)
                     ORDER BY f.due_at LIMIT 1000",
                )?
                .query_map(params![now, now - DAY_MS], |r| {
                    Ok((
                        r.get::<_, i64>(7)?,
                        serde_json::json!({
                            "followup_id": r.get::<_, i64>(0)?,
                            "kind": r.get::<_, String>(1)?,
                            "number": { "dial": r.get::<_, String>(2)?, "national": r.get::<_, String>(3)? },
                            "customer_id": r.get::<_, Option<i64>>(4)?,
                            "line": r.get::<_, Option<String>>(5)?,
                            "missed_calls": r.get::<_, i64>(6)?,
                            "due_at": r.get::<_, i64>(7)?,
                            "state": r.get::<_, String>(8)?,
                            "note": r.get::<_, Option<String>>(9)?,
                            "agent": r.get::<_, Option<String>>(10)?,
                            "work_order": r.get::<_, Option<String>>(11)?,
                            "team": r.get::<_, Option<String>>(12)?,
                            "customer": match r.get::<_, Option<String>>(13)? {
                                Some(name) => serde_json::json!({
                                    "name": name,
                                    "company": r.get::<_, Option<String>>(14)?,
                                }),
                                None => serde_json::Value::Null,
                            },
                        }),
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut told = 0;
            for (due_at, data) in &due {
                let key = format!("{}@{due_at}", data["followup_id"]);
                if s.webhooks().emit_once("callback.due", &key, data)?.is_some() {
                    told += 1;
                }
            }
            Ok(told)
        })
    }

    /// The team whose desktops `line` pops on: its team, or its agent's.
    fn line_team(&self, line: &str) -> Result<Option<String>> {
        Ok(self
            .store
            .conn
            .prepare_cached(
                "SELECT coalesce(b.team, u.team) FROM line_bindings b
                 LEFT JOIN users u ON u.id = b.agent_id WHERE b.line = ?1",
            )?
            .query_row([line], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// A customer's name and company, and how many of their work orders
    /// are open, for the people a missed call is told to.
    fn customer_brief(&self, customer: Option<i64>) -> Result<(serde_json::Value, i64)> {
        let Some(id) = customer else {
            return Ok((serde_json::Value::Null, 0));
        };
        Ok(self
            .store
            .conn
            .prepare_cached(
                "SELECT c.name, c.company,
                        (SELECT count(*) FROM work_orders w WHERE w.customer_id = c.id AND w.is_open)
                 FROM customers c WHERE c.id = ?1",
            )?
            .query_row([id], |r| {
                Ok((
                    serde_json::json!({
                        "id": id,
                        "name": r.get::<_, Option<String>>(0)?,
                        "company": r.get::<_, Option<String>>(1)?,
                    }),
                    r.get(2)?,
                ))
            })
            .optional()?
            .unwrap_or((serde_json::Value::Null, 0)))
    }

    /// What a finished call means for the queue; repeatable (a CDR write
    /// retried after a full disk changes nothing twice). `due_in_ms`: how
    /// soon a missed caller is to be called back.
    /// A new missed-call item's `missed_call.created` webhook event is
    /// written with it, in one transaction.
    pub fn after_call(&self, cdr: &Cdr, due_in_ms: i64) -> Result<()> {
        if self.store.conn.is_autocommit() {
            return self
                .store
                .in_transaction(|s| s.followups().after_call(cdr, due_in_ms));
        }
        let conn = &self.store.conn;
        let Some(national) = cdr.number_national.as_deref().filter(|n| !n.is_empty()) else {
            return Ok(());
        };
        if cdr.blocked.is_some() {
            return Ok(()); // a blacklisted caller is not called back
        }
        match (cdr.direction, cdr.outcome) {
            (Direction::Inbound, Outcome::Missed | Outcome::Abandoned) => {
                let number = cdr
                    .number_e164
                    .clone()
                    .or_else(|| cdr.raw_number.clone())
                    .unwrap_or_else(|| national.to_string());
                let created = conn
                    .prepare_cached(
                        "INSERT INTO followups (kind, number_national, number, customer_id, line,
                        calls, first_call_uid, last_call_uid, created_at, last_at, due_at)
                     VALUES ('missed', ?1, ?2, ?3, ?4, 1, ?5, ?5, ?6, ?6, ?7)
                     ON CONFLICT(number_national) WHERE state != 'closed' AND kind = 'missed'
                     DO UPDATE SET calls = calls + 1, last_call_uid = excluded.last_call_uid,
                        last_at = excluded.last_at,
                        customer_id = COALESCE(excluded.customer_id, followups.customer_id),
                        state = CASE WHEN followups.state = 'called' THEN 'open'
                                     ELSE followups.state END
                     WHERE followups.last_call_uid IS NOT excluded.last_call_uid
                       AND followups.first_call_uid IS NOT excluded.last_call_uid
                     RETURNING id, calls",
                    )?
                    .query_row(
                        params![
                            national,
                            number,
                            cdr.customer_id,
                            cdr.line,
                            cdr.call_uid,
                            cdr.started_at,
                            cdr.started_at + due_in_ms,
                        ],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                    )
                    .optional()?;
                if let Some((id, 1)) = created {
                    // A new item on the call-back list (a repeat caller's
                    // later calls add to it and tell nobody again).
                    let (customer, open_orders) = self.customer_brief(cdr.customer_id)?;
                    let data = serde_json::json!({
                        "followup_id": id,
                        "call_uid": cdr.call_uid,
                        "line": cdr.line,
                        "team": self.line_team(&cdr.line)?,
                        "number": { "e164": cdr.number_e164, "national": national },
                        "customer_id": cdr.customer_id,
                        "customer": customer,
                        "open_work_orders": open_orders,
                        "outcome": cdr.outcome.as_str(),
                        "at": cdr.started_at,
                        "due_at": cdr.started_at + due_in_ms,
                    });
                    self.store
                        .webhooks()
                        .emit_once("missed_call.created", &cdr.call_uid, &data)?;
                }
            }
            (Direction::Inbound, Outcome::Answered) => {
                conn.prepare_cached(
                    "UPDATE followups SET state = 'closed', closed_at = ?2,
                        close_reason = 'answered_again'
                      WHERE kind = 'missed' AND state != 'closed' AND number_national = ?1
                        AND last_at < ?3",
                )?
                .execute(params![national, cdr.ended_at, cdr.started_at])?;
            }
            (Direction::Outbound, outcome) if cdr.agent_user_id.is_some() => {
                let answered = outcome == Outcome::Answered;
                // The item this call was dialled from (linked, or claimed by
                // the dialling agent for this number: the link may come
                // after a call that failed at once), or, answered, any live
                // missed-call item of the number.
                conn.prepare_cached(
                    "UPDATE followups SET attempts = attempts + 1,
                        callback_call_uid = ?1, callback_outcome = ?2, called_at = ?3,
                        first_called_at = COALESCE(first_called_at, ?3),
                        claimed_by = COALESCE(claimed_by, ?5),
                        state = CASE WHEN ?4 THEN 'closed' ELSE 'called' END,
                        closed_at = CASE WHEN ?4 THEN ?3 END,
                        closed_by = CASE WHEN ?4 THEN ?5 END,
                        close_reason = CASE WHEN ?4 THEN 'called_back' END
                      WHERE state != 'closed'
                        AND called_at IS NOT ?3
                        AND (callback_call_uid = ?1
                             OR (claimed_by = ?5 AND number_national = ?6)
                             OR (?4 AND kind = 'missed' AND number_national = ?6))",
                )?
                .execute(params![
                    cdr.call_uid,
                    outcome.as_str(),
                    cdr.ended_at,
                    answered,
                    cdr.agent_user_id,
                    national,
                ])?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The call-back a work order's follow-up date asks for: `agent` calls
    /// `number` back at `due_ms` (one item per work order: saving it again
    /// moves the date; `None` removes a live one).
    pub fn schedule(&self, s: &Scheduled, now_ms: i64) -> Result<()> {
        let conn = &self.store.conn;
        let Some(due) = s.due_ms else {
            conn.prepare_cached(
                "DELETE FROM followups WHERE workorder_id = ?1 AND state != 'closed'",
            )?
            .execute([s.workorder_id])?;
            return Ok(());
        };
        conn.prepare_cached(
            "INSERT INTO followups (kind, number_national, number, customer_id, calls,
                created_at, last_at, due_at, assigned_to, workorder_id, claimed_by, claimed_at,
                state)
             VALUES ('scheduled', ?1, ?2, ?3, 0, ?4, ?4, ?5, ?6, ?7, ?6, ?4, 'claimed')
             ON CONFLICT(workorder_id) WHERE workorder_id IS NOT NULL
             DO UPDATE SET due_at = excluded.due_at, number = excluded.number,
                number_national = excluded.number_national,
                customer_id = COALESCE(excluded.customer_id, followups.customer_id)",
        )?
        .execute(params![
            s.national,
            s.number,
            s.customer_id,
            now_ms,
            due,
            s.agent,
            s.workorder_id
        ])?;
        Ok(())
    }

    /// Schedules a call-back of a customer by hand, on the agent's own
    /// list (claimed by them, as a work order's is); the new item.
    pub fn schedule_for_customer(&self, c: &CustomerCallBack, now_ms: i64) -> Result<FollowUp> {
        let note = c.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > 500) {
            return Err(StoreError::Invalid(
                "a call-back's note has at most 500 characters".into(),
            ));
        }
        self.store
            .conn
            .prepare_cached(
                "INSERT INTO followups (kind, number_national, number, customer_id, calls,
                    created_at, last_at, due_at, assigned_to, claimed_by, claimed_at, state, note)
                 VALUES ('scheduled', ?1, ?2, ?3, 0, ?4, ?4, ?5, ?6, ?6, ?4, 'claimed', ?7)",
            )?
            .execute(params![
                c.national,
                c.number,
                c.customer_id,
                now_ms,
                c.due_ms,
                c.agent,
                note
            ])?;
        let id = self.store.conn.last_insert_rowid();
        self.get(id)?
            .ok_or_else(|| StoreError::Invalid(format!("call-back {id} vanished")))
    }

    /// A customer's call-backs: the live ones due first, then the latest
    /// closed.
    pub fn of_customer(&self, customer_id: i64, limit: usize) -> Result<Vec<FollowUp>> {
        let mut stmt = self.store.conn.prepare_cached(&format!(
            "{SELECT} WHERE f.customer_id = ?1
              ORDER BY f.state = 'closed', CASE WHEN f.state = 'closed' THEN -f.closed_at
                                                 ELSE f.due_at END, f.id
              LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![customer_id, limit as i64], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Items on `lines`, or assigned to or claimed by `user_id`: the live
    /// ones, due first, and those closed since `closed_since`.
    pub fn list(
        &self,
        lines: &[String],
        user_id: i64,
        closed_since: i64,
        limit: usize,
    ) -> Result<Vec<FollowUp>> {
        let lines = serde_json::to_string(lines).unwrap_or_else(|_| "[]".into());
        let mut stmt = self.store.conn.prepare_cached(&format!(
            "{SELECT}
              WHERE (f.line IN (SELECT value FROM json_each(?1))
                     OR f.assigned_to = ?2 OR f.claimed_by = ?2)
                AND (f.state != 'closed' OR f.closed_at >= ?3)
              ORDER BY f.state = 'closed', f.due_at, f.id
              LIMIT ?4"
        ))?;
        let rows = stmt.query_map(
            params![lines, user_id, closed_since, limit as i64],
            from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One item.
    pub fn get(&self, id: i64) -> Result<Option<FollowUp>> {
        Ok(self
            .store
            .conn
            .prepare_cached(&format!("{SELECT} WHERE f.id = ?1"))?
            .query_row([id], from_row)
            .optional()?)
    }

    /// `user_id` takes the item: of two agents claiming at once, the first
    /// write wins (a conditional UPDATE), the other is told who has it.
    pub fn claim(&self, id: i64, user_id: i64, now_ms: i64) -> Result<Claim> {
        let changed = self
            .store
            .conn
            .prepare_cached(
                "UPDATE followups SET state = CASE WHEN state = 'open' THEN 'claimed' ELSE state END,
                        claimed_by = ?2, claimed_at = COALESCE(claimed_at, ?3)
                  WHERE id = ?1 AND state != 'closed'
                    AND (claimed_by IS NULL OR claimed_by = ?2)",
            )?
            .execute(params![id, user_id, now_ms])?;
        if changed == 1 {
            return Ok(Claim::Claimed);
        }
        Ok(match self.get(id)? {
            None => Claim::NotFound,
            Some(f) if f.state == "closed" => Claim::Closed,
            Some(f) => Claim::Taken {
                by: f.claimed_by_name,
            },
        })
    }

    /// The call `call_uid` was dialled to call the item back: its outcome
    /// is recorded when the call ends ([`FollowUps::after_call`]).
    pub fn link_callback(&self, id: i64, call_uid: &str) -> Result<bool> {
        let changed = self
            .store
            .conn
            .prepare_cached(
                "UPDATE followups SET callback_call_uid = ?2 WHERE id = ?1 AND state != 'closed'",
            )?
            .execute(params![id, call_uid])?;
        Ok(changed == 1)
    }

    /// Closes the item with `reason` (one of [`CLOSE_REASONS`]); false when
    /// it is already closed or gone.
    pub fn close(&self, id: i64, user_id: i64, reason: &str, now_ms: i64) -> Result<bool> {
        let changed = self
            .store
            .conn
            .prepare_cached(
                "UPDATE followups SET state = 'closed', closed_at = ?3, closed_by = ?2,
                        close_reason = ?4
                  WHERE id = ?1 AND state != 'closed'",
            )?
            .execute(params![id, user_id, now_ms, reason])?;
        Ok(changed == 1)
    }

    /// Live items on `lines` (all lines when `None`) and how many of them
    /// are overdue at `now_ms`: for the wallboard.
    pub fn counts(&self, lines: Option<&[String]>, now_ms: i64) -> Result<(i64, i64)> {
        let lines = lines.map(|l| serde_json::to_string(l).unwrap_or_else(|_| "[]".into()));
        Ok(self
            .store
            .conn
            .prepare_cached(
                "SELECT COUNT(*), COALESCE(SUM(due_at < ?2), 0) FROM followups
              WHERE state != 'closed'
                AND (?1 IS NULL OR line IN (SELECT value FROM json_each(?1)))",
            )?
            .query_row(params![lines, now_ms], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::Cdr;
    use crate::event::{Direction, Outcome};

    const MIN: i64 = 60_000;

    fn cdr(uid: &str, direction: Direction, outcome: Outcome, at: i64) -> Cdr {
        Cdr {
            call_uid: uid.into(),
            line: "box1/1".into(),
            device: "box1".into(),
            direction,
            outcome,
            presentation: "available",
            raw_number: Some("13812345678".into()),
            number_e164: Some("+8613812345678".into()),
            number_national: Some("13812345678".into()),
            caller_name: None,
            customer_id: None,
            match_rule: None,
            ring_count: 4,
            started_at: at,
            first_ring_at: Some(at),
            cid_at: None,
            answered_at: None,
            ended_at: at + 20_000,
            dtmf: String::new(),
            agent_user_id: None,
            failure: None,
            blocked: None,
        }
    }

    fn store() -> (tempfile::TempDir, Store, i64, i64) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("f.db")).unwrap();
        let a = store
            .users()
            .add_user("a", "阿", crate::store::Role::Agent, None, None)
            .unwrap();
        let b = store
            .users()
            .add_user("b", "贝", crate::store::Role::Agent, None, None)
            .unwrap();
        (dir, store, a, b)
    }

    fn missed(s: &Store, uid: &str, at: i64) {
        let c = cdr(uid, Direction::Inbound, Outcome::Missed, at);
        s.calls().write_cdr(&c).unwrap();
        s.followups().after_call(&c, 30 * MIN).unwrap();
    }

    fn lines() -> Vec<String> {
        vec!["box1/1".into()]
    }

    #[test]
    fn missed_calls_from_one_number_are_one_item_and_a_retry_counts_once() {
        let (_d, s, a, _) = store();
        missed(&s, "c1", 0);
        missed(&s, "c2", 5 * MIN);
        missed(&s, "c2", 5 * MIN); // the same CDR written again
        let items = s.followups().list(&lines(), a, 0, 10).unwrap();
        assert_eq!(items.len(), 1);
        let f = &items[0];
        assert_eq!((f.calls, f.state.as_str()), (2, "open"));
        assert_eq!(f.due_at, 30 * MIN, "due from the first missed call");
        assert_eq!(f.number, "+8613812345678");
        assert_eq!(s.followups().counts(None, 31 * MIN).unwrap(), (1, 1));
        assert_eq!(s.followups().counts(None, 29 * MIN).unwrap(), (1, 0));
    }

    #[test]
    fn a_call_back_is_told_once_when_it_falls_due() {
        let (_d, s, a, _) = store();
        let told = |s: &Store| -> Vec<serde_json::Value> {
            s.conn
                .prepare("SELECT data FROM webhook_events WHERE type = 'callback.due' ORDER BY id")
                .unwrap()
                .query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
                .collect()
        };
        missed(&s, "c1", 0);
        // Nobody listens: nothing is looked for, nothing written.
        assert_eq!(s.followups().announce_due(31 * MIN).unwrap(), 0);
        let admin = s.users().user_by_name("a").unwrap().unwrap();
        s.webhooks()
            .add_endpoint(
                &crate::store::EndpointSettings::webhook(
                    "http://crm",
                    &["callback.due".to_string()],
                ),
                "s",
                &admin,
                None,
            )
            .unwrap();
        assert_eq!(s.followups().announce_due(29 * MIN).unwrap(), 0, "not yet");
        assert_eq!(s.followups().announce_due(31 * MIN).unwrap(), 1);
        assert_eq!(s.followups().announce_due(32 * MIN).unwrap(), 0, "once");
        let first = &told(&s)[0];
        assert_eq!(first["due_at"], 30 * MIN);
        assert_eq!(first["kind"], "missed");
        assert_eq!(first["number"]["national"], "13812345678");
        assert_eq!(first["missed_calls"], 1);
        // Claimed and put off to later: told again when that comes.
        let item = s.followups().list(&lines(), a, 0, 10).unwrap()[0].id;
        s.conn
            .execute(
                "UPDATE followups SET due_at = ?1, state = 'claimed', claimed_by = ?2 WHERE id = ?3",
                params![90 * MIN, a, item],
            )
            .unwrap();
        assert_eq!(s.followups().announce_due(60 * MIN).unwrap(), 0);
        assert_eq!(s.followups().announce_due(91 * MIN).unwrap(), 1);
        let again = &told(&s)[1];
        assert_eq!(
            (again["state"].as_str(), again["agent"].as_str()),
            (Some("claimed"), Some("a"))
        );
        // A day late is too late to be news.
        missed(&s, "c9", 100 * MIN);
        let day = 24 * 60 * MIN;
        s.conn
            .execute("UPDATE followups SET state = 'open', due_at = 0", [])
            .unwrap();
        assert_eq!(s.followups().announce_due(day + MIN).unwrap(), 0);
    }

    #[test]
    fn missed_claimed_called_back_closed() {
        let (_d, s, a, b) = store();
        missed(&s, "c1", 0);
        let id = s.followups().list(&lines(), a, 0, 10).unwrap()[0].id;
        assert_eq!(s.followups().claim(id, a, MIN).unwrap(), Claim::Claimed);
        // Two agents at once: the second is told who has it.
        assert_eq!(
            s.followups().claim(id, b, MIN).unwrap(),
            Claim::Taken {
                by: Some("阿".into())
            }
        );
        assert_eq!(s.followups().claim(id, a, 2 * MIN).unwrap(), Claim::Claimed);
        // A call-back nobody answers: called, still live.
        assert!(s.followups().link_callback(id, "out1").unwrap());
        let mut out = cdr("out1", Direction::Outbound, Outcome::NoAnswer, 3 * MIN);
        out.agent_user_id = Some(a);
        s.followups().after_call(&out, 30 * MIN).unwrap();
        s.followups().after_call(&out, 30 * MIN).unwrap();
        let f = s.followups().get(id).unwrap().unwrap();
        assert_eq!(
            (f.state.as_str(), f.attempts, f.callback_outcome.as_deref()),
            ("called", 1, Some("no_answer"))
        );
        // The second call-back is answered: closed.
        s.followups().link_callback(id, "out2").unwrap();
        let mut out = cdr("out2", Direction::Outbound, Outcome::Answered, 10 * MIN);
        out.agent_user_id = Some(a);
        s.followups().after_call(&out, 30 * MIN).unwrap();
        let f = s.followups().get(id).unwrap().unwrap();
        assert_eq!(
            (f.state.as_str(), f.attempts, f.close_reason.as_deref()),
            ("closed", 2, Some("called_back"))
        );
        assert_eq!(s.followups().claim(id, b, MIN).unwrap(), Claim::Closed);
        // Reports see the first call-back, not the last, and who made it.
        let mut seen = vec![];
        s.reports()
            .each_callback(0, 10 * MIN, |c| {
                seen.push((c.created_at, c.agent, c.first_called_at, c.answered_again))
            })
            .unwrap();
        assert_eq!(seen, [(0, Some(a), Some(3 * MIN + 20_000), false)]);
        // A new missed call from the number opens a new item.
        missed(&s, "c3", 20 * MIN);
        let live: Vec<_> = s
            .followups()
            .list(&lines(), a, 0, 10)
            .unwrap()
            .into_iter()
            .filter(|f| f.state != "closed")
            .collect();
        assert_eq!(live.len(), 1);
        assert_ne!(live[0].id, id);
    }

    #[test]
    fn the_caller_answered_later_closes_the_item_by_itself() {
        let (_d, s, a, _) = store();
        missed(&s, "c1", 0);
        let mut answered = cdr("c2", Direction::Inbound, Outcome::Answered, 10 * MIN);
        answered.answered_at = Some(10 * MIN + 5_000);
        s.followups().after_call(&answered, 30 * MIN).unwrap();
        let f = &s.followups().list(&lines(), a, 0, 10).unwrap()[0];
        assert_eq!(
            (f.state.as_str(), f.close_reason.as_deref()),
            ("closed", Some("answered_again"))
        );
        // Reports do not count it as needing a call-back.
        let mut seen = vec![];
        s.reports()
            .each_callback(0, MIN, |c| seen.push(c.answered_again))
            .unwrap();
        assert_eq!(seen, [true]);
        // Closed items drop out of the list once older than asked for.
        assert!(s
            .followups()
            .list(&lines(), a, 11 * MIN, 10)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn an_agent_closes_with_a_reason_once() {
        let (_d, s, a, _) = store();
        missed(&s, "c1", 0);
        let id = s.followups().list(&lines(), a, 0, 10).unwrap()[0].id;
        assert!(s.followups().close(id, a, "wrong_number", MIN).unwrap());
        assert!(!s.followups().close(id, a, "resolved", MIN).unwrap());
        assert_eq!(
            s.followups()
                .get(id)
                .unwrap()
                .unwrap()
                .close_reason
                .as_deref(),
            Some("wrong_number")
        );
    }
}
