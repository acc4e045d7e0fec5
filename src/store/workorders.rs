//! Work-order forms (data, editable without a recompile) and the work
//! orders (工单) agents save from a pop.

use super::{now_ms, Result, Scope, Store, StoreError};
use crate::domain::work_order_status::{self as lifecycle, StatusDef};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The kinds of field a form may have; the desktop draws each its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Textarea,
    Number,
    Enum,
    Date,
    Phone,
}

impl FieldType {
    fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Textarea => "textarea",
            FieldType::Number => "number",
            FieldType::Enum => "enum",
            FieldType::Date => "date",
            FieldType::Phone => "phone",
        }
    }

    fn parse(s: &str) -> FieldType {
        match s {
            "textarea" => FieldType::Textarea,
            "number" => FieldType::Number,
            "enum" => FieldType::Enum,
            "date" => FieldType::Date,
            "phone" => FieldType::Phone,
            _ => FieldType::Text,
        }
    }
}

/// One choice of an enum field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnumOption {
    pub value: String,
    pub label_zh: String,
    pub label_en: String,
}

/// One field of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<EnumOption>,
    /// The customer field that fills it on a pop: `name`, `company`,
    /// `phone` (the caller's number), `owner`, or a custom field's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill_from: Option<String>,
    /// A date field that is the follow-up date (回访日期): a work order
    /// saved with it schedules a call-back for its agent that day.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub follow_up: bool,
}

/// A work-order form: what the agent fills in after (or during) a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormDef {
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
    /// In TOML each is a `[[field]]` table (`fields` is accepted too).
    #[serde(alias = "field", default)]
    pub fields: Vec<FieldDef>,
    /// The statuses its orders move through (`[[status]]` in TOML); none:
    /// the default 新建 → 处理中 → 已解决 → 已关闭.
    #[serde(alias = "status", default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<StatusDef>,
}

impl FormDef {
    /// The statuses in force: the form's own, or the default.
    pub fn lifecycle(&self) -> std::borrow::Cow<'_, [StatusDef]> {
        lifecycle::statuses_of(&self.statuses)
    }

    /// The form with its statuses spelled out (the default ones when it
    /// names none), as the pages show and edit it.
    pub fn with_lifecycle(mut self) -> FormDef {
        if self.statuses.is_empty() {
            self.statuses = lifecycle::default_statuses();
        }
        self
    }
}

/// What a save did: a repeated save (same idempotency key) finds the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedWorkOrder {
    pub id: i64,
    /// Its number (`GD-20261203-0042`).
    pub number: String,
    pub created: bool,
}

/// A stored work order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkOrderRow {
    pub id: i64,
    pub number: String,
    pub form: String,
    pub customer_id: Option<i64>,
    pub customer_name: Option<String>,
    /// The customer's owner (whether a viewer sees its numbers whole).
    #[serde(skip)]
    pub customer_owner_id: Option<i64>,
    pub call_uid: Option<String>,
    /// Who saved it.
    pub agent: Option<String>,
    pub agent_name: Option<String>,
    pub status: String,
    pub is_open: bool,
    /// Who works on it: an agent, or a team's queue (`team` alone).
    pub assignee: Option<String>,
    pub assignee_name: Option<String>,
    #[serde(skip)]
    pub assignee_id: Option<i64>,
    #[serde(skip)]
    pub agent_id: Option<i64>,
    pub team: Option<String>,
    pub due_at: Option<i64>,
    /// Open and past its due time when it was read.
    pub overdue: bool,
    pub closed_at: Option<i64>,
    pub fields: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Work orders: the forms agents fill in and the orders saved from them.
///
/// A view of a [`Store`], from [`Store::workorders`]; cheap to copy.
#[derive(Clone, Copy)]
pub struct WorkOrders<'a> {
    pub(super) store: &'a Store,
}

impl WorkOrders<'_> {
    /// Creates or replaces a form and its fields (by form key). Keys must be
    /// unique and enum fields need options.
    pub fn put_form(&self, form: &FormDef) -> Result<()> {
        check_form(form).map_err(StoreError::Invalid)?;
        let statuses = (!form.statuses.is_empty())
            .then(|| serde_json::to_string(&form.statuses).unwrap_or_else(|_| "[]".into()));
        self.store.in_transaction(|s| {
            let now = now_ms();
            let before = s.workorders().form(&form.key)?.map(|f| f.with_lifecycle().statuses);
            s.conn.execute(
                "INSERT INTO work_order_forms (key, name_zh, name_en, statuses, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT(key) DO UPDATE SET name_zh = excluded.name_zh,
                     name_en = excluded.name_en, statuses = excluded.statuses, active = 1,
                     updated_at = excluded.updated_at",
                params![form.key, form.name_zh, form.name_en, statuses, now],
            )?;
            let id: i64 = s.conn.query_row(
                "SELECT id FROM work_order_forms WHERE key = ?1",
                [&form.key],
                |r| r.get(0),
            )?;
            s.conn.execute(
                "DELETE FROM work_order_form_fields WHERE form_id = ?1",
                [id],
            )?;
            let mut insert = s.conn.prepare_cached(
                "INSERT INTO work_order_form_fields (form_id, key, position, label_zh, label_en,
                     field_type, required, default_value, options, prefill_from, follow_up)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for (i, f) in form.fields.iter().enumerate() {
                insert.execute(params![
                    id,
                    f.key,
                    i as i64,
                    f.label_zh,
                    f.label_en,
                    f.field_type.as_str(),
                    f.required,
                    f.default,
                    serde_json::to_string(&f.options).unwrap_or_else(|_| "[]".into()),
                    f.prefill_from,
                    f.follow_up,
                ])?;
            }
            // The orders follow their form's statuses: open or not as the
            // status now says (a status the form no longer has counts as open).
            let after = form.lifecycle();
            if before.as_deref() != Some(&after[..]) {
                let form_id: i64 = s.conn.query_row(
                    "SELECT id FROM work_order_forms WHERE key = ?1",
                    [&form.key],
                    |r| r.get(0),
                )?;
                let keys = serde_json::to_string(
                    &after.iter().map(|st| st.key.as_str()).collect::<Vec<_>>(),
                )
                .unwrap_or_else(|_| "[]".into());
                s.conn.execute(
                    "UPDATE work_orders SET is_open = 1 WHERE form_id = ?1 AND NOT is_open
                       AND status NOT IN (SELECT value FROM json_each(?2))",
                    params![form_id, keys],
                )?;
                let mut set = s.conn.prepare_cached(
                    "UPDATE work_orders SET is_open = ?3
                     WHERE form_id = ?1 AND status = ?2 AND is_open != ?3",
                )?;
                for st in after.iter() {
                    set.execute(params![form_id, st.key, st.open])?;
                }
            }
            Ok(())
        })
    }

    /// A form by key.
    pub fn form(&self, key: &str) -> Result<Option<FormDef>> {
        let Some((id, name_zh, name_en, statuses)) = self
            .store
            .conn
            .prepare_cached(
                "SELECT id, name_zh, name_en, statuses FROM work_order_forms WHERE key = ?1 AND active",
            )?
            .query_row([key], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .optional()?
        else {
            return Ok(None);
        };
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT key, label_zh, label_en, field_type, required, default_value, options, prefill_from,
                    follow_up
             FROM work_order_form_fields WHERE form_id = ?1 ORDER BY position",
        )?;
        let fields = stmt
            .query_map([id], |r| {
                let options: String = r.get(6)?;
                let field_type: String = r.get(3)?;
                Ok(FieldDef {
                    key: r.get(0)?,
                    label_zh: r.get(1)?,
                    label_en: r.get(2)?,
                    field_type: FieldType::parse(&field_type),
                    required: r.get(4)?,
                    default: r.get(5)?,
                    options: serde_json::from_str(&options).unwrap_or_default(),
                    prefill_from: r.get(7)?,
                    follow_up: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Some(FormDef {
            key: key.to_string(),
            name_zh,
            name_en,
            fields,
            statuses: statuses
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default(),
        }))
    }

    /// Every active form, by key.
    pub fn forms(&self) -> Result<Vec<FormDef>> {
        let keys: Vec<String> = self
            .store
            .conn
            .prepare_cached("SELECT key FROM work_order_forms WHERE active ORDER BY key")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut forms = Vec::with_capacity(keys.len());
        for key in keys {
            forms.extend(self.form(&key)?);
        }
        Ok(forms)
    }

    /// Saves a validated work order: numbered, in its form's first status,
    /// assigned to its author (and their team), with a `created` entry on
    /// its timeline. The idempotency key makes a retried save find the
    /// first one instead of adding another.
    pub fn save_work_order(
        &self,
        form_key: &str,
        customer_id: Option<i64>,
        call_uid: Option<&str>,
        agent_id: i64,
        idempotency_key: &str,
        fields: &Map<String, Value>,
    ) -> Result<SavedWorkOrder> {
        self.store.in_transaction(|s| {
            let conn = &s.conn;
            if let Some((id, number)) = conn
                .prepare_cached("SELECT id, number FROM work_orders WHERE idempotency_key = ?1")?
                .query_row([idempotency_key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
            {
                return Ok(SavedWorkOrder {
                    id,
                    number,
                    created: false,
                });
            }
            let form = s
                .workorders()
                .form(form_key)?
                .ok_or_else(|| StoreError::Invalid(format!("no form {form_key:?}")))?;
            let form_id: i64 = conn
                .prepare_cached("SELECT id FROM work_order_forms WHERE key = ?1")?
                .query_row([form_key], |r| r.get(0))?;
            let lifecycle = form.lifecycle();
            let first = lifecycle::initial(&lifecycle);
            let now = now_ms();
            let number = s.workorders().next_number(now)?;
            conn.prepare_cached(
                "INSERT INTO work_orders (number, form_id, customer_id, call_uid, agent_user_id,
                     idempotency_key, status, is_open, assignee_user_id, team, fields,
                     created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?5,
                     (SELECT team FROM users WHERE id = ?5), ?9, ?10, ?10)",
            )?
            .execute(params![
                number,
                form_id,
                customer_id,
                call_uid,
                agent_id,
                idempotency_key,
                first.key,
                first.open,
                Value::Object(fields.clone()).to_string(),
                now
            ])?;
            let id = conn.last_insert_rowid();
            s.workorders().add_event(
                id,
                now,
                Some(agent_id),
                "created",
                &serde_json::json!({ "status": first.key }),
            )?;
            let saved = s.workorders().get(id, &super::Scope::All)?;
            s.webhooks().emit(
                "workorder.saved",
                &serde_json::json!({ "work_order": saved }),
            )?;
            Ok(SavedWorkOrder {
                id,
                number,
                created: true,
            })
        })
    }

    /// The next number of the local day of `now_ms` (inside a transaction).
    fn next_number(&self, now_ms: i64) -> Result<String> {
        use chrono::TimeZone;
        let day = chrono::Local
            .timestamp_millis_opt(now_ms)
            .earliest()
            .map(|t| t.date_naive())
            .unwrap_or_default();
        let sequence: u32 = self
            .store
            .conn
            .prepare_cached(
                "INSERT INTO work_order_days (day, last) VALUES (?1, 1)
                 ON CONFLICT(day) DO UPDATE SET last = last + 1 RETURNING last",
            )?
            .query_row([lifecycle::day_key(day)], |r| r.get(0))?;
        Ok(lifecycle::number(day, sequence))
    }

    /// Adds an entry to an order's timeline.
    pub(super) fn add_event(
        &self,
        work_order_id: i64,
        at: i64,
        user_id: Option<i64>,
        kind: &str,
        detail: &Value,
    ) -> Result<()> {
        self.store
            .conn
            .prepare_cached(
                "INSERT INTO work_order_events (work_order_id, at, user_id, kind, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                work_order_id,
                at,
                user_id,
                kind,
                detail.to_string()
            ])?;
        Ok(())
    }

    /// A customer's open work orders, newest first (the pop lists them).
    pub fn open_work_orders(&self, customer_id: i64, limit: usize) -> Result<Vec<WorkOrderRow>> {
        self.work_orders_where(
            "w.customer_id = ?1 AND w.is_open",
            params![customer_id, limit as i64],
        )
    }

    /// Every work order of a customer, newest first (the customer page).
    pub fn customer_work_orders(
        &self,
        customer_id: i64,
        limit: usize,
    ) -> Result<Vec<WorkOrderRow>> {
        self.work_orders_where("w.customer_id = ?1", params![customer_id, limit as i64])
    }

    /// The work orders saved for a call, within `scope`: by the history's
    /// rule for the call, or by the order's own reach.
    pub fn call_work_orders(&self, call_uid: &str, scope: &Scope) -> Result<Vec<WorkOrderRow>> {
        let (own, call_rule, who) = match (super::workorder_flow::reach(scope), scope) {
            (_, Scope::All) => {
                return self.work_orders_where("w.call_uid = ?1", params![call_uid, 100])
            }
            (Some((own, who)), Scope::Team(_)) => (own, super::calls::TEAM_CALLS, who),
            (Some((own, who)), Scope::Agent(_)) => (own, super::calls::AGENT_CALLS, who),
            _ => return Ok(Vec::new()),
        };
        self.work_orders_where(
            &format!(
                "w.call_uid = ?1 AND ({} OR EXISTS (SELECT 1 FROM calls c
                 WHERE c.call_uid = w.call_uid {}))",
                own.replace('?', "?3"),
                call_rule.replace('?', "?3")
            ),
            params![call_uid, 100, who],
        )
    }

    pub(super) fn work_orders_where(
        &self,
        condition: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<WorkOrderRow>> {
        let mut stmt = self.store.conn.prepare_cached(&format!(
            "SELECT {ORDER_COLUMNS} {ORDER_FROM}
             WHERE {condition} ORDER BY w.id DESC LIMIT ?2"
        ))?;
        let now = now_ms();
        let rows = stmt.query_map(params, |r| order_from(r, now))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// What a work-order row reads, and from where.
pub(super) const ORDER_COLUMNS: &str = "w.id, w.number, f.key, w.customer_id, c.name,
    w.call_uid, au.username, au.display_name, w.status, w.is_open, asg.username,
    asg.display_name, w.assignee_user_id, w.agent_user_id, w.team, w.due_at, w.closed_at,
    w.fields, w.created_at, w.updated_at, c.owner_user_id";
pub(super) const ORDER_FROM: &str = "FROM work_orders w
    JOIN work_order_forms f ON f.id = w.form_id
    LEFT JOIN customers c ON c.id = w.customer_id
    LEFT JOIN users au ON au.id = w.agent_user_id
    LEFT JOIN users asg ON asg.id = w.assignee_user_id";

/// A row of [`ORDER_COLUMNS`], read at `now` (for overdue).
pub(super) fn order_from(r: &rusqlite::Row<'_>, now: i64) -> rusqlite::Result<WorkOrderRow> {
    let fields: String = r.get(17)?;
    let is_open: bool = r.get(9)?;
    let due_at: Option<i64> = r.get(15)?;
    Ok(WorkOrderRow {
        id: r.get(0)?,
        number: r.get(1)?,
        form: r.get(2)?,
        customer_id: r.get(3)?,
        customer_name: r.get(4)?,
        call_uid: r.get(5)?,
        agent: r.get(6)?,
        agent_name: r.get(7)?,
        status: r.get(8)?,
        is_open,
        assignee: r.get(10)?,
        assignee_name: r.get(11)?,
        assignee_id: r.get(12)?,
        agent_id: r.get(13)?,
        team: r.get(14)?,
        due_at,
        overdue: lifecycle::overdue(is_open, due_at, now),
        closed_at: r.get(16)?,
        fields: serde_json::from_str(&fields).unwrap_or_default(),
        created_at: r.get(18)?,
        updated_at: r.get(19)?,
        customer_owner_id: r.get(20)?,
    })
}

/// A form with no fields and the default statuses, for the store's tests.
#[cfg(test)]
pub(crate) fn plain_form(key: &str) -> FormDef {
    FormDef {
        key: key.into(),
        name_zh: format!("{key}工单"),
        name_en: key.into(),
        fields: Vec::new(),
        statuses: Vec::new(),
    }
}

/// A form that makes sense: named, unique field keys, options where needed.
fn check_form(form: &FormDef) -> std::result::Result<(), String> {
    if form.key.trim().is_empty() {
        return Err("a form needs a key".into());
    }
    let mut seen = std::collections::HashSet::new();
    for f in &form.fields {
        if f.key.trim().is_empty() {
            return Err(format!("form {:?}: a field has no key", form.key));
        }
        if !seen.insert(f.key.as_str()) {
            return Err(format!(
                "form {:?}: field {:?} appears twice",
                form.key, f.key
            ));
        }
        if f.field_type == FieldType::Enum && f.options.is_empty() {
            return Err(format!(
                "form {:?}: enum field {:?} has no options",
                form.key, f.key
            ));
        }
        if f.follow_up && f.field_type != FieldType::Date {
            return Err(format!(
                "form {:?}: field {:?} is the follow-up date but not a date",
                form.key, f.key
            ));
        }
    }
    lifecycle::check_statuses(&form.statuses).map_err(|e| format!("form {:?}: {e}", form.key))?;
    if form.fields.iter().filter(|f| f.follow_up).count() > 1 {
        return Err(format!(
            "form {:?}: only one field is the follow-up date",
            form.key
        ));
    }
    Ok(())
}
