//! Work orders after they are saved (工单流转): the list and search a
//! page at a time, one order with its timeline, and the changes people
//! make — a status move by the form's rules, assignment to an agent or a
//! team (派单/升级), a due date, a comment. Each change writes its timeline
//! entry and its audit entry (before and after) in the transaction that
//! makes it.

use super::directory::Actor;
use super::workorders::{order_from, WorkOrderRow, ORDER_COLUMNS, ORDER_FROM};
use super::{now_ms, AuditEntry, Filters, Result, Role, Scope, StoreError, WorkOrders};
use crate::domain::work_order_status::{self as lifecycle, MoveRefused};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A search of the work orders; every field given narrows it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WorkOrderQuery {
    /// One status key.
    pub status: Option<String>,
    /// Only open (`true`) or only finished (`false`) orders.
    pub open: Option<bool>,
    /// The form's key (the order's type).
    pub form: Option<String>,
    /// The assignee's username.
    pub assignee: Option<String>,
    pub team: Option<String>,
    pub customer_id: Option<i64>,
    /// The order's number, whole (`GD-20261203-0042`).
    pub number: Option<String>,
    /// Created in [created_from, created_to), ms.
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    /// Due before this time, ms (open orders).
    pub due_before: Option<i64>,
    /// Only open orders past their due time.
    pub overdue: bool,
    /// The cursor of the previous page's `next`.
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

/// A page of a search, and the cursor of the next one.
#[derive(Debug, Clone, Serialize)]
pub struct WorkOrderPage {
    pub items: Vec<WorkOrderRow>,
    pub next: Option<i64>,
}

/// One entry of an order's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub id: i64,
    pub at: i64,
    pub user: Option<String>,
    pub user_name: Option<String>,
    /// `created`, `status`, `assigned`, `due` or `comment`.
    pub kind: String,
    pub detail: Value,
}

/// Where an order goes when it is assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    /// An agent (their team's queue with them).
    Agent(i64),
    /// A team's queue, nobody in particular yet (escalation, 升级).
    Team(String),
}

/// How a change to an order ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Done: the order as it is now.
    Done(Box<WorkOrderRow>),
    /// No such order within the scope.
    NotFound,
    /// The form's statuses do not allow the move.
    Refused(MoveRefused),
}

/// Open, due today and overdue orders within a scope (the workspace's
/// reminders, a team lead's view of the team).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WorkOrderCounts {
    pub open: i64,
    pub due_soon: i64,
    pub overdue: i64,
}

/// The orders `scope` reaches, as a condition on `w` (the order) whose
/// every `?` is the value beside it; `None` for all or none (see
/// [`scope_clause`]). Each is a few index walks rather than a scan:
/// - an agent: the orders they saved, those assigned to them, and those
///   waiting in their team's queue for someone to take (领取);
/// - a team: the orders in its queue or with its members, and those its
///   members saved (an escalated order stays in their lead's sight).
pub(super) fn reach(scope: &Scope) -> Option<(&'static str, rusqlite::types::Value)> {
    match scope {
        Scope::Agent(me) => Some((
            "w.id IN (SELECT id FROM work_orders WHERE agent_user_id = ?
               UNION ALL SELECT id FROM work_orders WHERE assignee_user_id = ?
               UNION ALL SELECT id FROM work_orders WHERE assignee_user_id IS NULL
                   AND team = (SELECT team FROM users WHERE id = ?))",
            (*me).into(),
        )),
        Scope::Team(team) => Some((
            "w.id IN (SELECT id FROM work_orders WHERE team = ?
               UNION ALL SELECT w2.id FROM users u JOIN work_orders w2
                   ON w2.agent_user_id = u.id WHERE u.team = ?)",
            team.clone().into(),
        )),
        Scope::All | Scope::None => None,
    }
}

/// Narrows `w` to the orders within `scope`; false when it reaches none.
fn scope_clause(w: &mut Filters, scope: &Scope) -> bool {
    match (scope, reach(scope)) {
        (Scope::All, _) => true,
        (_, Some((condition, value))) => {
            w.and(&format!(" AND {condition}"), value);
            true
        }
        _ => false,
    }
}

impl WorkOrders<'_> {
    /// One page of the orders matching `q` within `scope`, newest first.
    pub fn search(&self, q: &WorkOrderQuery, scope: &Scope, now: i64) -> Result<WorkOrderPage> {
        let limit = q.limit.unwrap_or(50).clamp(1, 200) as usize;
        let mut w = Filters::new(format!("SELECT {ORDER_COLUMNS} {ORDER_FROM} WHERE 1 = 1"));
        if !scope_clause(&mut w, scope) {
            return Ok(WorkOrderPage {
                items: Vec::new(),
                next: None,
            });
        }
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        if let Some(s) = text(&q.status) {
            w.and(" AND w.status = ?", s);
        }
        if let Some(open) = q.open {
            w.and(" AND w.is_open = ?", open);
        }
        if let Some(f) = text(&q.form) {
            w.and(
                " AND w.form_id = (SELECT id FROM work_order_forms WHERE key = ?)",
                f,
            );
        }
        if let Some(a) = text(&q.assignee) {
            w.and(
                " AND w.assignee_user_id = (SELECT id FROM users WHERE username = ?)",
                a,
            );
        }
        if let Some(t) = text(&q.team) {
            w.and(" AND w.team = ?", t);
        }
        if let Some(c) = q.customer_id {
            w.and(" AND w.customer_id = ?", c);
        }
        if let Some(n) = text(&q.number) {
            w.and(" AND w.number = ?", n.to_ascii_uppercase());
        }
        for (op, v) in [(">=", q.created_from), ("<", q.created_to)] {
            if let Some(v) = v {
                w.and(&format!(" AND w.created_at {op} ?"), v);
            }
        }
        if let Some(d) = q.due_before {
            w.and(" AND w.is_open AND w.due_at < ?", d);
        }
        if q.overdue {
            w.and(" AND w.is_open AND w.due_at < ?", now);
        }
        if let Some(after) = q.after {
            w.and(" AND w.id < ?", after);
        }
        w.and(" ORDER BY w.id DESC LIMIT ?", (limit + 1) as i64);
        let mut stmt = self.store.conn.prepare_cached(&w.sql)?;
        let mut items = stmt
            .query_map(rusqlite::params_from_iter(w.args.iter()), |r| {
                order_from(r, now)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let next = (items.len() > limit).then(|| {
            items.truncate(limit);
            items.last().map(|o| o.id).unwrap_or_default()
        });
        Ok(WorkOrderPage { items, next })
    }

    /// One order when `scope` reaches it.
    pub fn get(&self, id: i64, scope: &Scope) -> Result<Option<WorkOrderRow>> {
        let mut w = Filters::new(format!(
            "SELECT {ORDER_COLUMNS} {ORDER_FROM} WHERE w.id = ?1"
        ));
        w.args.push(id.into());
        if !scope_clause(&mut w, scope) {
            return Ok(None);
        }
        let now = now_ms();
        Ok(self
            .store
            .conn
            .prepare_cached(&w.sql)?
            .query_row(rusqlite::params_from_iter(w.args.iter()), |r| {
                order_from(r, now)
            })
            .optional()?)
    }

    /// An order's timeline, oldest first.
    pub fn timeline(&self, id: i64) -> Result<Vec<TimelineEntry>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT e.id, e.at, u.username, u.display_name, e.kind, e.detail
             FROM work_order_events e LEFT JOIN users u ON u.id = e.user_id
             WHERE e.work_order_id = ?1 ORDER BY e.id",
        )?;
        let rows = stmt.query_map([id], |r| {
            let detail: String = r.get(5)?;
            Ok(TimelineEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                user: r.get(2)?,
                user_name: r.get(3)?,
                kind: r.get(4)?,
                detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Moves an order to status `to` when its form allows it from where it
    /// is; closing stamps `closed_at`, reopening clears it.
    pub fn change_status(
        &self,
        id: i64,
        to: &str,
        note: Option<&str>,
        scope: &Scope,
        actor: Actor<'_>,
    ) -> Result<Change> {
        let note = clean_note(note)?;
        self.change(id, scope, actor, |s, before, now| {
            let form = s
                .form_of(before.id)?
                .ok_or_else(|| StoreError::Invalid(format!("work order {id} has no form")))?;
            let lifecycle = form.lifecycle();
            let target = match lifecycle::check_move(&lifecycle, &before.status, to) {
                Ok(t) => t,
                Err(refused) => return Ok(Err(refused)),
            };
            s.store
                .conn
                .prepare_cached(
                    "UPDATE work_orders SET status = ?2, is_open = ?3,
                         closed_at = CASE WHEN ?3 THEN NULL ELSE ?4 END, updated_at = ?4
                     WHERE id = ?1",
                )?
                .execute(params![id, target.key, target.open, now])?;
            Ok(Ok((
                "status",
                json!({ "from": before.status, "to": target.key, "note": note }),
                "workorder.status",
                json!({ "status": before.status }),
                json!({ "status": target.key }),
            )))
        })
    }

    /// Gives an order to an agent or a team's queue (派单/升级), with an
    /// optional note for whoever takes it.
    pub fn assign(
        &self,
        id: i64,
        to: &Assignee,
        note: Option<&str>,
        scope: &Scope,
        actor: Actor<'_>,
    ) -> Result<Change> {
        let note = clean_note(note)?;
        let (assignee, team) = match to {
            Assignee::Agent(user) => {
                let found: Option<(Option<String>, String, bool)> = self
                    .store
                    .conn
                    .prepare_cached("SELECT team, role, disabled FROM users WHERE id = ?1")?
                    .query_row([user], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                match found {
                    Some((team, role, false))
                        if role.parse::<Role>().is_ok_and(|r| {
                            matches!(r, Role::Agent | Role::TeamLead | Role::Admin)
                        }) =>
                    {
                        (Some(*user), team)
                    }
                    _ => {
                        return Err(StoreError::Invalid(format!(
                            "user {user} cannot take work orders (no such active agent)"
                        )))
                    }
                }
            }
            Assignee::Team(team) => {
                let team = team.trim().to_string();
                let known: bool = self
                    .store
                    .conn
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM users WHERE team = ?1 AND NOT disabled)",
                    )?
                    .query_row([&team], |r| r.get(0))?;
                if !known {
                    return Err(StoreError::Invalid(format!("no team {team:?}")));
                }
                (None, Some(team))
            }
        };
        self.change(id, scope, actor, |s, before, now| {
            s.store
                .conn
                .prepare_cached(
                    "UPDATE work_orders SET assignee_user_id = ?2, team = ?3, updated_at = ?4
                     WHERE id = ?1",
                )?
                .execute(params![id, assignee, team, now])?;
            let to_name: Option<String> = match assignee {
                Some(user) => s
                    .store
                    .conn
                    .prepare_cached("SELECT username FROM users WHERE id = ?1")?
                    .query_row([user], |r| r.get(0))
                    .optional()?,
                None => None,
            };
            let was = json!({ "assignee": before.assignee, "team": before.team });
            let now_at = json!({ "assignee": to_name, "team": team });
            Ok(Ok((
                "assigned",
                json!({ "from": was, "to": now_at, "note": note }),
                "workorder.assign",
                was,
                now_at,
            )))
        })
    }

    /// Sets (or clears) when an order is due.
    pub fn set_due(
        &self,
        id: i64,
        due_at: Option<i64>,
        scope: &Scope,
        actor: Actor<'_>,
    ) -> Result<Change> {
        self.change(id, scope, actor, |s, before, now| {
            s.store
                .conn
                .prepare_cached(
                    "UPDATE work_orders SET due_at = ?2, updated_at = ?3 WHERE id = ?1",
                )?
                .execute(params![id, due_at, now])?;
            Ok(Ok((
                "due",
                json!({ "from": before.due_at, "to": due_at }),
                "workorder.due",
                json!({ "due_at": before.due_at }),
                json!({ "due_at": due_at }),
            )))
        })
    }

    /// Adds a comment to an order's timeline.
    pub fn comment(&self, id: i64, body: &str, scope: &Scope, actor: Actor<'_>) -> Result<Change> {
        let body = clean_note(Some(body))?
            .ok_or_else(|| StoreError::Invalid("a comment has 1 to 4,000 characters".into()))?;
        self.change(id, scope, actor, |s, _, now| {
            s.store
                .conn
                .prepare_cached("UPDATE work_orders SET updated_at = ?2 WHERE id = ?1")?
                .execute(params![id, now])?;
            Ok(Ok((
                "comment",
                json!({ "body": body }),
                "workorder.comment",
                Value::Null,
                json!({ "body": body }),
            )))
        })
    }

    /// Gives every open order in `from`'s hands to `to` (离职交接), each
    /// with its timeline entry, in one transaction with one audit entry;
    /// how many moved.
    pub fn hand_over_open(&self, from: i64, to: i64, actor: Actor<'_>) -> Result<u64> {
        self.store.in_transaction(|s| {
            let conn = &s.conn;
            let (to_name, to_team, role, disabled): (String, Option<String>, String, bool) = conn
                .prepare_cached("SELECT username, team, role, disabled FROM users WHERE id = ?1")?
                .query_row([to], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()?
                .ok_or_else(|| StoreError::Invalid(format!("no user {to}")))?;
            let works = role
                .parse::<Role>()
                .is_ok_and(|r| matches!(r, Role::Agent | Role::TeamLead | Role::Admin));
            if !works || disabled {
                return Err(StoreError::Invalid(format!(
                    "{to_name} cannot take work orders (not an active agent)"
                )));
            }
            let moving: Vec<(i64, String, Option<String>, Option<String>)> = conn
                .prepare_cached(
                    "SELECT w.id, w.number, u.username, w.team FROM work_orders w
                     JOIN users u ON u.id = w.assignee_user_id
                     WHERE w.assignee_user_id = ?1 AND w.is_open AND ?2 != ?1",
                )?
                .query_map(params![from, to], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let now = now_ms();
            let mut update = conn.prepare_cached(
                "UPDATE work_orders SET assignee_user_id = ?2, team = ?3, updated_at = ?4
                 WHERE id = ?1",
            )?;
            for (id, _, was, team) in &moving {
                update.execute(params![id, to, to_team, now])?;
                s.workorders().add_event(
                    *id,
                    now,
                    Some(actor.user.id),
                    "assigned",
                    &json!({
                        "from": { "assignee": was, "team": team },
                        "to": { "assignee": to_name, "team": to_team },
                        "hand_over": true,
                    }),
                )?;
            }
            if !moving.is_empty() {
                s.users().audit(&AuditEntry {
                    actor: &actor.user.username,
                    user_id: Some(actor.user.id),
                    action: "workorder.hand_over",
                    target: Some(&format!("user:{from}")),
                    detail: json!({
                        "to": to_name,
                        "count": moving.len(),
                        "work_orders": moving.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(),
                    }),
                    remote_addr: actor.remote_addr,
                })?;
            }
            Ok(moving.len() as u64)
        })
    }

    /// Runs `f` in one transaction: a batch of changes (an import) commits
    /// together, each change inside it its own savepoint.
    pub fn batch<T>(&self, f: impl FnOnce(&WorkOrders<'_>) -> Result<T>) -> Result<T> {
        self.store.in_transaction(|s| f(&s.workorders()))
    }

    /// Writes `workorder.overdue` for each open order whose due time
    /// passed within the last day and was not told yet (a new due date is
    /// told again when it passes); how many were told. Nothing is looked
    /// for while nobody listens.
    pub fn announce_overdue(&self, now: i64) -> Result<usize> {
        const DAY_MS: i64 = 24 * 3600 * 1000;
        if !self.store.webhooks().listens("workorder.overdue")? {
            return Ok(0);
        }
        self.store.in_transaction(|s| {
            let late: Vec<WorkOrderRow> = s
                .conn
                .prepare_cached(&format!(
                    "SELECT {ORDER_COLUMNS} {ORDER_FROM}
                     WHERE w.is_open AND w.due_at < ?1 AND w.due_at >= ?2
                       AND NOT EXISTS (SELECT 1 FROM webhook_events e
                                       WHERE e.fact_key = 'workorder.overdue ' || w.id || '@' || w.due_at)
                     ORDER BY w.due_at LIMIT 1000"
                ))?
                .query_map(params![now, now - DAY_MS], |r| order_from(r, now))?
                .collect::<rusqlite::Result<_>>()?;
            let mut told = 0;
            for order in &late {
                let label = s
                    .workorders()
                    .form(&order.form)?
                    .and_then(|f| {
                        f.lifecycle()
                            .iter()
                            .find(|st| st.key == order.status)
                            .map(|st| st.label_zh.clone())
                    })
                    .unwrap_or_else(|| order.status.clone());
                let data = json!({
                    "work_order_id": order.id,
                    "number": order.number,
                    "form": order.form,
                    "status": label,
                    "status_key": order.status,
                    "assignee": order.assignee_name.as_ref().or(order.assignee.as_ref()),
                    "team": order.team,
                    "due_at": order.due_at,
                    "customer_id": order.customer_id,
                    "customer": order.customer_name.as_ref().map(|n| json!({ "name": n })),
                });
                let key = format!("{}@{}", order.id, order.due_at.unwrap_or_default());
                if s.webhooks().emit_once("workorder.overdue", &key, &data)?.is_some() {
                    told += 1;
                }
            }
            Ok(told)
        })
    }

    /// Open, due within `soon_ms` of `now`, and overdue orders in `scope`.
    pub fn counts(&self, scope: &Scope, now: i64, soon_ms: i64) -> Result<WorkOrderCounts> {
        let mut w = Filters::new(
            "SELECT count(*), coalesce(sum(w.due_at >= ?1 AND w.due_at < ?2), 0),
                    coalesce(sum(w.due_at < ?1), 0)
             FROM work_orders w WHERE w.is_open"
                .into(),
        );
        w.args.push(now.into());
        w.args.push((now + soon_ms).into());
        if !scope_clause(&mut w, scope) {
            return Ok(WorkOrderCounts {
                open: 0,
                due_soon: 0,
                overdue: 0,
            });
        }
        Ok(self.store.conn.prepare_cached(&w.sql)?.query_row(
            rusqlite::params_from_iter(w.args.iter()),
            |r| {
                Ok(WorkOrderCounts {
                    open: r.get(0)?,
                    due_soon: r.get(1)?,
                    overdue: r.get(2)?,
                })
            },
        )?)
    }

    /// The form an order was saved with.
    fn form_of(&self, id: i64) -> Result<Option<super::FormDef>> {
        let key: Option<String> = self
            .store
            .conn
            .prepare_cached(
                "SELECT f.key FROM work_orders w JOIN work_order_forms f ON f.id = w.form_id
                 WHERE w.id = ?1",
            )?
            .query_row([id], |r| r.get(0))
            .optional()?;
        match key {
            Some(key) => self.form(&key),
            None => Ok(None),
        }
    }

    /// One change in one transaction: the order within `scope`, `apply`'s
    /// update, then its timeline entry and its audit entry. `apply` returns
    /// (timeline kind, timeline detail, audit action, before, after), or
    /// why the form refuses.
    fn change(
        &self,
        id: i64,
        scope: &Scope,
        actor: Actor<'_>,
        apply: impl FnOnce(
            &WorkOrders<'_>,
            &WorkOrderRow,
            i64,
        ) -> Result<std::result::Result<ChangeRecord, MoveRefused>>,
    ) -> Result<Change> {
        self.store.in_transaction(|s| {
            let orders = s.workorders();
            let Some(before) = orders.get(id, scope)? else {
                return Ok(Change::NotFound);
            };
            let now = now_ms();
            let (kind, detail, action, old, new) = match apply(&orders, &before, now)? {
                Ok(record) => record,
                Err(refused) => return Ok(Change::Refused(refused)),
            };
            orders.add_event(id, now, Some(actor.user.id), kind, &detail)?;
            s.users().audit(&AuditEntry {
                actor: &actor.user.username,
                user_id: Some(actor.user.id),
                action,
                target: Some(&format!("workorder:{}", before.number)),
                detail: json!({ "before": old, "after": new }),
                remote_addr: actor.remote_addr,
            })?;
            let after = orders.get(id, &Scope::All)?.ok_or_else(|| {
                StoreError::Invalid(format!("work order {id} vanished while being changed"))
            })?;
            s.webhooks().emit(
                "workorder.updated",
                &json!({ "work_order": after, "change": kind, "before": old, "after": new,
                         "by": actor.user.username }),
            )?;
            Ok(Change::Done(Box::new(after)))
        })
    }
}

/// What one change records: (timeline kind, timeline detail, audit action,
/// audit before, audit after).
type ChangeRecord = (&'static str, Value, &'static str, Value, Value);

/// A note or comment trimmed, `None` when empty; refused when too long.
fn clean_note(note: Option<&str>) -> Result<Option<String>> {
    let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if note.chars().count() > 4000 {
        return Err(StoreError::Invalid(
            "a note has at most 4,000 characters".into(),
        ));
    }
    Ok(Some(note.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewCustomer, Store, User};
    use serde_json::Map;

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        agent: User,
        other: User,
        lead: User,
        second_line: User,
        second_line_too: User,
        admin: User,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("w.db")).unwrap();
        let user = |name: &str, role, team| {
            store
                .users()
                .add_user(name, &format!("{name}名"), role, team, None)
                .unwrap();
            store.users().user_by_name(name).unwrap().unwrap()
        };
        let agent = user("a1", Role::Agent, Some("sales"));
        let other = user("a2", Role::Agent, Some("sales"));
        let lead = user("l1", Role::TeamLead, Some("sales"));
        let second_line = user("s1", Role::Agent, Some("support"));
        let second_line_too = user("s2", Role::Agent, Some("support"));
        let admin = user("root", Role::Admin, None);
        store
            .workorders()
            .put_form(&crate::store::workorders::plain_form("service"))
            .unwrap();
        Fixture {
            _dir: dir,
            store,
            agent,
            other,
            lead,
            second_line,
            second_line_too,
            admin,
        }
    }

    fn actor(user: &User) -> Actor<'_> {
        Actor {
            user,
            remote_addr: None,
        }
    }

    fn save(f: &Fixture, by: &User, customer: Option<i64>, key: &str) -> i64 {
        f.store
            .workorders()
            .save_work_order("service", customer, None, by.id, key, &Map::new())
            .unwrap()
            .id
    }

    fn done(change: Change) -> WorkOrderRow {
        match change {
            Change::Done(row) => *row,
            other => panic!("expected a change, got {other:?}"),
        }
    }

    #[test]
    fn saved_orders_are_numbered_by_day_and_start_assigned_to_their_author() {
        let f = fixture();
        let w = f.store.workorders();
        let first = w
            .save_work_order("service", None, None, f.agent.id, "k1", &Map::new())
            .unwrap();
        let second = w
            .save_work_order("service", None, None, f.agent.id, "k2", &Map::new())
            .unwrap();
        let again = w
            .save_work_order("service", None, None, f.agent.id, "k1", &Map::new())
            .unwrap();
        let day = chrono::Local::now().format("%Y%m%d").to_string();
        assert_eq!(first.number, format!("GD-{day}-0001"));
        assert_eq!(second.number, format!("GD-{day}-0002"));
        assert_eq!((again.id, again.created), (first.id, false));
        assert_eq!(again.number, first.number);
        let row = w.get(first.id, &Scope::All).unwrap().unwrap();
        assert_eq!(row.status, "open");
        assert!(row.is_open);
        assert_eq!(row.assignee.as_deref(), Some("a1"));
        assert_eq!(row.team.as_deref(), Some("sales"));
        let timeline = w.timeline(first.id).unwrap();
        assert_eq!(timeline.len(), 1);
        assert_eq!(timeline[0].kind, "created");
        assert_eq!(timeline[0].user.as_deref(), Some("a1"));
    }

    #[test]
    fn statuses_move_by_the_form_s_rules_and_closing_leaves_the_pop_s_list() {
        let f = fixture();
        let customer = f
            .store
            .customers()
            .insert_customer(&NewCustomer {
                name: "王伟".into(),
                ..NewCustomer::default()
            })
            .unwrap();
        let w = f.store.workorders();
        let id = save(&f, &f.agent, Some(customer), "k");
        assert_eq!(w.open_work_orders(customer, 10).unwrap().len(), 1);
        let me = Scope::Agent(f.agent.id);
        let moved = done(
            w.change_status(id, "in_progress", Some(" 已联系 "), &me, actor(&f.agent))
                .unwrap(),
        );
        assert_eq!(moved.status, "in_progress");
        assert!(moved.is_open);
        let resolved = done(
            w.change_status(id, "resolved", None, &me, actor(&f.agent))
                .unwrap(),
        );
        assert!(!resolved.is_open);
        assert!(resolved.closed_at.is_some());
        assert!(w.open_work_orders(customer, 10).unwrap().is_empty());
        // Resolved cannot go back to new; it can be reopened.
        assert_eq!(
            w.change_status(id, "open", None, &me, actor(&f.agent))
                .unwrap(),
            Change::Refused(MoveRefused::NotAllowed {
                from: "resolved".into(),
                to: "open".into()
            })
        );
        let reopened = done(
            w.change_status(id, "in_progress", None, &me, actor(&f.agent))
                .unwrap(),
        );
        assert!(reopened.is_open && reopened.closed_at.is_none());
        assert_eq!(w.open_work_orders(customer, 10).unwrap().len(), 1);
        let kinds: Vec<(String, Value)> = w
            .timeline(id)
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.detail))
            .collect();
        assert_eq!(kinds.len(), 4);
        assert_eq!(
            kinds[1],
            (
                "status".into(),
                json!({"from": "open", "to": "in_progress", "note": "已联系"})
            )
        );
        // The audit has before and after.
        let audit = f
            .store
            .users()
            .search_audit(&crate::store::AuditQuery {
                action: Some("workorder.status".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(audit.len(), 3);
        assert!(audit.iter().any(|a| a.detail
            == json!({"before": {"status": "open"}, "after": {"status": "in_progress"}})));
    }

    #[test]
    fn escalation_to_another_team_reaches_its_members_and_keeps_the_author_in_sight() {
        let f = fixture();
        let w = f.store.workorders();
        let id = save(&f, &f.agent, None, "k");
        let lead = Scope::Team("sales".into());
        let escalated = done(
            w.assign(
                id,
                &Assignee::Team("support".into()),
                Some("二线处理"),
                &lead,
                actor(&f.lead),
            )
            .unwrap(),
        );
        assert_eq!(escalated.team.as_deref(), Some("support"));
        assert_eq!(escalated.assignee, None);
        let support = Scope::Team("support".into());
        assert!(w.get(id, &support).unwrap().is_some());
        // Waiting in support's queue, every member of support sees it and
        // one takes it; then it is theirs alone.
        let s1 = Scope::Agent(f.second_line.id);
        let s2 = Scope::Agent(f.second_line_too.id);
        assert!(w.get(id, &s1).unwrap().is_some());
        assert!(w.get(id, &s2).unwrap().is_some());
        done(
            w.assign(
                id,
                &Assignee::Agent(f.second_line.id),
                None,
                &s1,
                actor(&f.second_line),
            )
            .unwrap(),
        );
        assert!(w.get(id, &s2).unwrap().is_none());
        let page = w
            .search(
                &WorkOrderQuery {
                    assignee: Some("s1".into()),
                    ..Default::default()
                },
                &s1,
                now_ms(),
            )
            .unwrap();
        assert_eq!(page.items.len(), 1);
        // The author and their lead still see it; a colleague does not.
        assert!(w.get(id, &Scope::Agent(f.agent.id)).unwrap().is_some());
        assert!(w.get(id, &lead).unwrap().is_some());
        assert!(w.get(id, &Scope::Agent(f.other.id)).unwrap().is_none());
        assert_eq!(
            w.change_status(
                id,
                "closed",
                None,
                &Scope::Agent(f.other.id),
                actor(&f.other)
            )
            .unwrap(),
            Change::NotFound
        );
        // Assigning to nobody real is refused.
        assert!(w
            .assign(
                id,
                &Assignee::Team("nope".into()),
                None,
                &Scope::All,
                actor(&f.admin)
            )
            .is_err());
        let timeline = w.timeline(id).unwrap();
        assert_eq!(timeline[1].kind, "assigned");
        assert_eq!(
            timeline[1].detail,
            json!({
                "from": {"assignee": "a1", "team": "sales"},
                "to": {"assignee": null, "team": "support"},
                "note": "二线处理"
            })
        );
    }

    #[test]
    fn an_overdue_order_is_told_once_per_due_date() {
        let f = fixture();
        let w = f.store.workorders();
        let events = ["workorder.overdue".to_string()];
        f.store
            .webhooks()
            .add_endpoint(
                &crate::store::EndpointSettings::webhook("http://crm", &events),
                "s",
                &f.admin,
                None,
            )
            .unwrap();
        let late = save(&f, &f.agent, None, "late");
        let now = now_ms();
        let all = Scope::All;
        done(
            w.set_due(late, Some(now - 60_000), &all, actor(&f.admin))
                .unwrap(),
        );
        assert_eq!(w.announce_overdue(now - 61_000).unwrap(), 0, "not yet");
        assert_eq!(w.announce_overdue(now).unwrap(), 1);
        assert_eq!(w.announce_overdue(now + 1_000).unwrap(), 0, "once");
        let told: String = f
            .store
            .conn
            .query_row(
                "SELECT data FROM webhook_events WHERE type = 'workorder.overdue'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let told: Value = serde_json::from_str(&told).unwrap();
        assert_eq!(told["work_order_id"], late);
        assert_eq!(told["status"], "新建");
        assert_eq!(told["due_at"], now - 60_000);
        // Put off, then late again: told again.
        done(
            w.set_due(late, Some(now + 60_000), &all, actor(&f.admin))
                .unwrap(),
        );
        assert_eq!(w.announce_overdue(now + 61_000).unwrap(), 1);
        // Closed orders are not late.
        done(
            w.set_due(late, Some(now + 120_000), &all, actor(&f.admin))
                .unwrap(),
        );
        done(
            w.change_status(late, "closed", None, &all, actor(&f.admin))
                .unwrap(),
        );
        assert_eq!(w.announce_overdue(now + 121_000).unwrap(), 0);
    }

    #[test]
    fn due_dates_make_orders_overdue_until_they_are_finished() {
        let f = fixture();
        let w = f.store.workorders();
        let late = save(&f, &f.agent, None, "late");
        let soon = save(&f, &f.agent, None, "soon");
        save(&f, &f.agent, None, "none");
        let now = now_ms();
        let all = Scope::All;
        done(
            w.set_due(late, Some(now - 60_000), &all, actor(&f.admin))
                .unwrap(),
        );
        done(
            w.set_due(soon, Some(now + 3_600_000), &all, actor(&f.admin))
                .unwrap(),
        );
        let counts = w
            .counts(&Scope::Agent(f.agent.id), now, 86_400_000)
            .unwrap();
        assert_eq!(
            counts,
            WorkOrderCounts {
                open: 3,
                due_soon: 1,
                overdue: 1
            }
        );
        let overdue = w
            .search(
                &WorkOrderQuery {
                    overdue: true,
                    ..Default::default()
                },
                &all,
                now,
            )
            .unwrap();
        assert_eq!(overdue.items.len(), 1);
        assert!(overdue.items[0].overdue);
        done(
            w.change_status(late, "closed", None, &all, actor(&f.admin))
                .unwrap(),
        );
        assert_eq!(w.counts(&all, now, 86_400_000).unwrap().overdue, 0);
        // Nobody listened meanwhile: nothing was looked for or told.
        assert_eq!(w.announce_overdue(now).unwrap(), 0);
        assert_eq!(
            w.counts(&Scope::Team("support".into()), now, 1)
                .unwrap()
                .open,
            0
        );
    }

    #[test]
    fn search_pages_by_keyset_and_filters_combine() {
        let f = fixture();
        let w = f.store.workorders();
        for i in 0..7 {
            let by = if i % 2 == 0 { &f.agent } else { &f.other };
            save(&f, by, None, &format!("k{i}"));
        }
        let mut seen = Vec::new();
        let mut q = WorkOrderQuery {
            limit: Some(3),
            ..Default::default()
        };
        loop {
            let page = w.search(&q, &Scope::All, now_ms()).unwrap();
            seen.extend(page.items.iter().map(|o| o.id));
            match page.next {
                Some(next) => q.after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 7);
        assert!(seen.windows(2).all(|p| p[0] > p[1]));
        let mine = w
            .search(
                &WorkOrderQuery {
                    status: Some("open".into()),
                    assignee: Some("a1".into()),
                    ..Default::default()
                },
                &Scope::Team("sales".into()),
                now_ms(),
            )
            .unwrap();
        assert_eq!(mine.items.len(), 4);
        let number = mine.items[0].number.to_lowercase();
        let by_number = w
            .search(
                &WorkOrderQuery {
                    number: Some(number),
                    ..Default::default()
                },
                &Scope::All,
                now_ms(),
            )
            .unwrap();
        assert_eq!(by_number.items.len(), 1);
        assert!(w
            .search(&WorkOrderQuery::default(), &Scope::None, now_ms())
            .unwrap()
            .items
            .is_empty());
    }

    #[test]
    fn a_leaver_s_open_orders_go_to_their_heir_and_finished_ones_stay() {
        let f = fixture();
        let w = f.store.workorders();
        let open = save(&f, &f.agent, None, "open");
        let finished = save(&f, &f.agent, None, "done");
        let all = Scope::All;
        done(
            w.change_status(finished, "closed", None, &all, actor(&f.admin))
                .unwrap(),
        );
        let moved = w
            .hand_over_open(f.agent.id, f.second_line.id, actor(&f.admin))
            .unwrap();
        assert_eq!(moved, 1);
        let row = w.get(open, &all).unwrap().unwrap();
        assert_eq!(row.assignee.as_deref(), Some("s1"));
        assert_eq!(row.team.as_deref(), Some("support"));
        assert_eq!(
            w.get(finished, &all).unwrap().unwrap().assignee.as_deref(),
            Some("a1")
        );
        let last = w.timeline(open).unwrap().pop().unwrap();
        assert_eq!(last.kind, "assigned");
        assert_eq!(last.detail["hand_over"], true);
        assert_eq!(
            w.hand_over_open(f.agent.id, f.second_line.id, actor(&f.admin))
                .unwrap(),
            0
        );
        assert_eq!(
            w.hand_over_open(f.agent.id, f.agent.id, actor(&f.admin))
                .unwrap(),
            0
        );
    }

    #[test]
    fn saves_inside_a_batch_stand_or_fall_alone() {
        let f = fixture();
        let saved = f
            .store
            .in_transaction(|s| -> Result<Vec<bool>> {
                let w = s.workorders();
                let good = w.save_work_order("service", None, None, f.agent.id, "a", &Map::new());
                let bad = w.save_work_order("nope", None, None, f.agent.id, "b", &Map::new());
                let again = w.save_work_order("service", None, None, f.agent.id, "c", &Map::new());
                Ok(vec![good.is_ok(), bad.is_ok(), again.is_ok()])
            })
            .unwrap();
        assert_eq!(saved, [true, false, true]);
        let page = f
            .store
            .workorders()
            .search(&WorkOrderQuery::default(), &Scope::All, now_ms())
            .unwrap();
        let numbers: Vec<&str> = page.items.iter().map(|o| &o.number[12..]).collect();
        assert_eq!(numbers, ["0002", "0001"], "the failed save took no number");
    }

    #[test]
    fn a_form_with_its_own_statuses_is_followed() {
        let f = fixture();
        let w = f.store.workorders();
        let mut form = w.form("service").unwrap().unwrap();
        form.statuses = crate::domain::work_order_status::default_statuses();
        form.statuses.insert(
            1,
            crate::domain::work_order_status::StatusDef {
                key: "waiting_parts".into(),
                label_zh: "待配件".into(),
                label_en: "Waiting for parts".into(),
                open: true,
                next: vec!["in_progress".into()],
            },
        );
        form.statuses[0].next.push("waiting_parts".into());
        w.put_form(&form).unwrap();
        assert_eq!(w.form("service").unwrap().unwrap().statuses.len(), 5);
        let id = save(&f, &f.agent, None, "k");
        let all = Scope::All;
        done(
            w.change_status(id, "waiting_parts", None, &all, actor(&f.admin))
                .unwrap(),
        );
        assert!(matches!(
            w.change_status(id, "closed", None, &all, actor(&f.admin))
                .unwrap(),
            Change::Refused(_)
        ));
        form.statuses[0].open = false;
        assert!(w.put_form(&form).is_err());
        // 待配件 stops being open: the order in it leaves the open lists.
        form.statuses[0].open = true;
        form.statuses[1].open = false;
        w.put_form(&form).unwrap();
        assert!(!w.get(id, &all).unwrap().unwrap().is_open);
        // Dropped from the form altogether, its orders count as open again.
        form.statuses.remove(1);
        form.statuses[0].next.retain(|n| n != "waiting_parts");
        w.put_form(&form).unwrap();
        assert!(w.get(id, &all).unwrap().unwrap().is_open);
    }
}
