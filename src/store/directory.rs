//! The customer directory (客户资料) behind the customer pages: finding
//! customers by any fragment of any of their numbers, a name or company
//! prefix, a group, an owner, when they were created or last called, within
//! what the viewer may reach, a page at a time (keyset: the next page starts
//! after the last row, so page 1,000 costs what page 1 does); editing them,
//! soft deleting and restoring, handing them over, and their notes
//! (跟进记录). Every change is audited with its before and after values in
//! the transaction that makes it.

use super::customers::{
    execute_insert_phone, phone_from_row, CustomerPhone, NewPhone, INSERT_PHONE,
};
use super::{now_ms, AuditEntry, Filters, Result, Scope, Store, StoreError, User};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The customer directory, a view of a [`Store`] from [`Store::directory`].
#[derive(Clone, Copy)]
pub struct Directory<'a> {
    pub(super) store: &'a Store,
}

/// A search of the directory; every field given narrows it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams, utoipa::ToSchema)]
#[serde(default)]
pub struct CustomerQuery {
    /// Three or more digits found anywhere in one of the numbers, written
    /// any way ("138 0013", "+86 138…", "021-6123").
    pub number: Option<String>,
    /// The start of the name.
    pub name: Option<String>,
    /// The start of the company.
    pub company: Option<String>,
    /// A group (客户群) the customer is in.
    pub tag: Option<String>,
    /// The owner's username.
    pub owner: Option<String>,
    /// Created in [created_from, created_to), ms.
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    /// Last called in [last_call_from, last_call_to), ms.
    pub last_call_from: Option<i64>,
    pub last_call_to: Option<i64>,
    /// A searchable custom field (its key) whose value starts with `value`.
    pub field: Option<String>,
    pub value: Option<String>,
    /// The deleted customers instead (admins restore them).
    pub deleted: bool,
    /// The cursor of the previous page's `next`.
    pub after: Option<String>,
    pub limit: Option<u32>,
}

/// One customer as the directory lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerRow {
    pub id: i64,
    pub name: String,
    pub company: String,
    /// The owner's username and display name.
    pub owner: Option<String>,
    pub owner_name: Option<String>,
    #[serde(skip)]
    pub owner_id: Option<i64>,
    pub tags: Vec<String>,
    pub phones: Vec<CustomerPhone>,
    pub custom_fields: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_call_at: Option<i64>,
    pub deleted_at: Option<i64>,
}

/// A page of a search, and the cursor of the next one.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerPage {
    pub items: Vec<CustomerRow>,
    pub next: Option<String>,
}

/// What an edit sets; the numbers, groups and custom fields are replaced
/// whole, as the form shows them.
#[derive(Debug, Clone)]
pub struct CustomerEdit {
    pub name: String,
    pub company: String,
    pub phones: Vec<NewPhone>,
    pub tags: Vec<String>,
    pub custom_fields: Map<String, Value>,
}

/// Whose customers change owner in a hand-over (交接).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandOver {
    /// These customers, whoever owns them.
    Customers(Vec<i64>),
    /// Every customer this user owns (离职交接).
    AllOf(i64),
}

/// A note on a customer (跟进记录).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub id: i64,
    pub author: Option<String>,
    pub author_name: Option<String>,
    pub call_uid: Option<String>,
    pub body: String,
    pub created_at: i64,
}

/// Who changes the directory, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub user: &'a User,
    pub remote_addr: Option<&'a str>,
}

/// The most numbers one customer keeps (their fragments are indexed by
/// position below 1024).
pub const MAX_PHONES: usize = 20;

/// The full-text query for a number fragment: its digits (a leading +86 or
/// 0086 dropped, as numbers are kept nationally; a leading trunk 0 before
/// an area code also tried without it), or `None` when fewer than 3 digits
/// remain or the text is not a number.
pub fn number_fragment(text: &str) -> Option<String> {
    let digits_in = |t: &str| t.chars().filter(char::is_ascii_digit).count();
    let trimmed = text.trim();
    // "0086" alone is digits to find, not a country code.
    let trimmed = trimmed
        .strip_prefix("+86")
        .or_else(|| trimmed.strip_prefix("0086"))
        .filter(|rest| digits_in(rest) >= 3)
        .unwrap_or(trimmed);
    let digits: String = trimmed.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() < 3 || trimmed.chars().any(|c| c.is_alphabetic()) {
        return None;
    }
    // "021-6123" is kept as 216123…; "0013" is only ever digits inside.
    match digits.strip_prefix('0') {
        Some(rest) if rest.len() >= 3 && !rest.starts_with('0') => {
            Some(format!("\"{digits}\" OR \"{rest}\""))
        }
        _ => Some(format!("\"{digits}\"")),
    }
}

/// The customers within `scope` (`c` is the customer): an agent's own
/// and those of calls they took; a team's members' and its calls'.
pub(super) fn scope_clause(w: &mut Filters, scope: &Scope) -> bool {
    match scope {
        Scope::All => true,
        Scope::Agent(me) => {
            w.and(
                " AND (c.owner_user_id = ? OR c.id IN
                       (SELECT customer_id FROM calls WHERE agent_user_id = ?))",
                *me,
            );
            true
        }
        Scope::Team(team) => {
            w.and(
                " AND (c.owner_user_id IN (SELECT id FROM users WHERE team = ?) OR c.id IN
                       (SELECT customer_id FROM calls WHERE team = ?
                        OR agent_user_id IN (SELECT id FROM users WHERE team = ?)))",
                team.clone(),
            );
            true
        }
        Scope::None => false,
    }
}

/// The smallest string after every string starting with `prefix`.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

pub(super) const ROW_COLUMNS: &str =
    "c.id, c.name, c.company, u.username, u.display_name, c.owner_user_id,
    c.custom_fields, c.created_at, c.updated_at, c.last_call_at, c.deleted_at";

pub(super) fn row_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<CustomerRow> {
    let fields: String = r.get(6)?;
    Ok(CustomerRow {
        id: r.get(0)?,
        name: r.get(1)?,
        company: r.get(2)?,
        owner: r.get(3)?,
        owner_name: r.get(4)?,
        owner_id: r.get(5)?,
        tags: Vec::new(),
        phones: Vec::new(),
        custom_fields: serde_json::from_str(&fields).unwrap_or_default(),
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        last_call_at: r.get(9)?,
        deleted_at: r.get(10)?,
    })
}

/// How a search walks its rows.
pub(super) enum Walk {
    /// Newest first, by customer id.
    ById,
    /// By name, then id (a name prefix was given).
    ByName,
}

/// Which index a search walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    /// The numbers' fragments.
    Number,
    /// A group's members.
    Tag,
    /// A searchable custom field's values.
    Field,
    /// The customers (by id, or by name with a name prefix).
    Customers,
}

impl Directory<'_> {
    /// One page of the customers matching `q` within `scope`.
    pub fn search(&self, q: &CustomerQuery, scope: &Scope) -> Result<CustomerPage> {
        let limit = q.limit.unwrap_or(50).clamp(1, 200) as usize;
        let Some((w, walk)) = Self::query_of(q, scope)? else {
            return Ok(CustomerPage {
                items: Vec::new(),
                next: None,
            });
        };
        let mut stmt = self.store.conn.prepare_cached(&w.sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(w.args.iter()))?;
        let mut items: Vec<CustomerRow> = Vec::with_capacity(limit + 1);
        while let Some(r) = rows.next()? {
            let row = row_from(r)?;
            // Two numbers of one customer may both hold the fragment.
            if items.last().is_some_and(|last| last.id == row.id) {
                continue;
            }
            items.push(row);
            if items.len() > limit {
                break;
            }
        }
        drop(rows);
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| match walk {
                Walk::ByName => format!("{}:{}", last.id, last.name),
                Walk::ById => last.id.to_string(),
            })
        } else {
            None
        };
        for item in &mut items {
            self.fill(item)?;
        }
        Ok(CustomerPage { items, next })
    }

    /// The statement of a search and the order it walks in; `None` when
    /// the scope reaches nobody.
    pub(super) fn query_of(q: &CustomerQuery, scope: &Scope) -> Result<Option<(Filters, Walk)>> {
        let nonempty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let number = match nonempty(&q.number) {
            Some(n) => Some(number_fragment(&n).ok_or_else(|| {
                StoreError::Invalid(format!("{n:?}: give at least 3 digits of the number"))
            })?),
            None => None,
        };
        let name = nonempty(&q.name);
        let tag = nonempty(&q.tag);
        let field = nonempty(&q.field).zip(nonempty(&q.value));
        let walk = if name.is_some() && number.is_none() {
            Walk::ByName
        } else {
            Walk::ById
        };
        // What the walk is driven by: a number fragment, else a group, else
        // a custom field's value, else the customers themselves.
        let driver = match (&number, &tag, &field, &walk) {
            (Some(_), ..) => Driver::Number,
            (None, Some(_), _, Walk::ById) => Driver::Tag,
            (None, None, Some(_), Walk::ById) => Driver::Field,
            _ => Driver::Customers,
        };
        let from = "FROM customers c LEFT JOIN users u ON u.id = c.owner_user_id";
        let (sql, order) = match (driver, &walk) {
            (Driver::Number, _) => (
                format!(
                    "SELECT {ROW_COLUMNS} FROM customer_number_grams g
                     JOIN customers c ON c.id = g.rowid / 1024
                     LEFT JOIN users u ON u.id = c.owner_user_id
                     WHERE customer_number_grams MATCH ?1"
                ),
                " ORDER BY g.rowid DESC",
            ),
            (Driver::Tag, _) => (
                format!(
                    "SELECT {ROW_COLUMNS} FROM customer_tags t
                     JOIN customers c ON c.id = t.customer_id
                     LEFT JOIN users u ON u.id = c.owner_user_id
                     WHERE t.tag = ?1"
                ),
                " ORDER BY t.customer_id DESC",
            ),
            (Driver::Field, _) => (
                format!(
                    "SELECT {ROW_COLUMNS} FROM customer_field_values v
                     JOIN customers c ON c.id = v.customer_id
                     LEFT JOIN users u ON u.id = c.owner_user_id
                     WHERE v.key = ?1 AND v.value >= ?2 AND v.value < ?3"
                ),
                " ORDER BY v.customer_id DESC",
            ),
            (Driver::Customers, Walk::ByName) => (
                format!("SELECT {ROW_COLUMNS} {from} WHERE 1 = 1"),
                " ORDER BY c.name, c.id",
            ),
            (Driver::Customers, Walk::ById) => (
                format!("SELECT {ROW_COLUMNS} {from} WHERE 1 = 1"),
                " ORDER BY c.id DESC",
            ),
        };
        let mut w = Filters::new(sql);
        match driver {
            Driver::Number => w.args.extend(number.clone().map(Into::into)),
            Driver::Tag => w.args.extend(tag.clone().map(Into::into)),
            Driver::Field => {
                if let Some((key, value)) = &field {
                    w.args.push(key.clone().into());
                    w.args.push(value.clone().into());
                    w.args.push(prefix_end(value).into());
                }
            }
            Driver::Customers => {}
        }
        if !scope_clause(&mut w, scope) {
            return Ok(None);
        }
        w.sql.push_str(if q.deleted {
            " AND c.deleted_at IS NOT NULL"
        } else {
            " AND c.deleted_at IS NULL"
        });
        if let Some(n) = &name {
            w.and(" AND c.name >= ?", n.clone());
            w.and(" AND c.name < ?", prefix_end(n));
        }
        if let Some(c) = nonempty(&q.company) {
            w.and(" AND c.company >= ?", c.clone());
            w.and(" AND c.company < ?", prefix_end(&c));
        }
        if let Some(t) = &tag {
            if driver != Driver::Tag {
                w.and(
                    " AND EXISTS (SELECT 1 FROM customer_tags t2 WHERE t2.customer_id = c.id AND t2.tag = ?)",
                    t.clone(),
                );
            }
        }
        if let Some((key, value)) = &field {
            if driver != Driver::Field {
                w.and(
                    " AND EXISTS (SELECT 1 FROM customer_field_values v2 WHERE v2.customer_id = c.id AND v2.key = ?",
                    key.clone(),
                );
                w.and(" AND v2.value >= ?", value.clone());
                w.and(" AND v2.value < ?)", prefix_end(value));
            }
        }
        if let Some(o) = nonempty(&q.owner) {
            w.and(
                " AND c.owner_user_id = (SELECT id FROM users WHERE username = ?)",
                o,
            );
        }
        for (column, op, v) in [
            ("c.created_at", ">=", q.created_from),
            ("c.created_at", "<", q.created_to),
            ("c.last_call_at", ">=", q.last_call_from),
            ("c.last_call_at", "<", q.last_call_to),
        ] {
            if let Some(v) = v {
                w.and(&format!(" AND {column} {op} ?"), v);
            }
        }
        if let Some(after) = nonempty(&q.after) {
            let bad = || StoreError::Invalid(format!("cursor {after:?}"));
            match walk {
                Walk::ByName => {
                    let (id, name) = after.split_once(':').ok_or_else(bad)?;
                    let id: i64 = id.parse().map_err(|_| bad())?;
                    w.and(" AND (c.name, c.id) > (?", name.to_string());
                    w.and(", ?)", id);
                }
                Walk::ById => {
                    let id: i64 = after.parse().map_err(|_| bad())?;
                    match driver {
                        Driver::Number => w.and(" AND g.rowid < ?", id.saturating_mul(1024)),
                        Driver::Tag => w.and(" AND t.customer_id < ?", id),
                        Driver::Field => w.and(" AND v.customer_id < ?", id),
                        Driver::Customers => w.and(" AND c.id < ?", id),
                    }
                }
            }
        }
        w.sql.push_str(order);
        Ok(Some((w, walk)))
    }

    /// Reads a row's numbers and groups.
    pub(super) fn fill(&self, item: &mut CustomerRow) -> Result<()> {
        let conn = &self.store.conn;
        item.phones = conn
            .prepare_cached(&format!(
                "{} WHERE customer_id = ?1 ORDER BY position",
                super::customers::PHONE_SELECT
            ))?
            .query_map([item.id], |r| phone_from_row(r).map(|(_, p)| p))?
            .collect::<rusqlite::Result<_>>()?;
        item.tags = conn
            .prepare_cached("SELECT tag FROM customer_tags WHERE customer_id = ?1 ORDER BY tag")?
            .query_map([item.id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(())
    }

    /// One customer, deleted or not, when `scope` reaches them.
    pub fn get(&self, id: i64, scope: &Scope) -> Result<Option<CustomerRow>> {
        let mut w = Filters::new(format!(
            "SELECT {ROW_COLUMNS} FROM customers c LEFT JOIN users u ON u.id = c.owner_user_id
             WHERE c.id = ?1"
        ));
        w.args.push(id.into());
        if !scope_clause(&mut w, scope) {
            return Ok(None);
        }
        let Some(mut row) = self
            .store
            .conn
            .prepare_cached(&w.sql)?
            .query_row(rusqlite::params_from_iter(w.args.iter()), row_from)
            .optional()?
        else {
            return Ok(None);
        };
        self.fill(&mut row)?;
        Ok(Some(row))
    }

    /// What an audit entry shows of a customer.
    fn audit_view(row: &CustomerRow) -> Value {
        json!({
            "name": row.name,
            "company": row.company,
            "owner": row.owner,
            "phones": row.phones.iter().map(|p| p.raw.as_str()).collect::<Vec<_>>(),
            "tags": row.tags,
            "custom_fields": row.custom_fields,
            "deleted": row.deleted_at.is_some(),
        })
    }

    fn audit(&self, actor: Actor<'_>, action: &str, id: i64, detail: Value) -> Result<()> {
        self.store.users().audit(&AuditEntry {
            actor: &actor.user.username,
            user_id: Some(actor.user.id),
            action,
            target: Some(&format!("customer:{id}")),
            detail,
            remote_addr: actor.remote_addr,
        })
    }

    /// Sets a customer's details as edited; `None` when there is no such
    /// (undeleted) customer. The audit entry holds the changed values
    /// before and after.
    pub fn update(
        &self,
        id: i64,
        edit: &CustomerEdit,
        actor: Actor<'_>,
    ) -> Result<Option<CustomerRow>> {
        if edit.name.trim().is_empty() {
            return Err(StoreError::Invalid("a customer needs a name".into()));
        }
        if edit.phones.len() > MAX_PHONES {
            return Err(StoreError::Invalid(format!(
                "at most {MAX_PHONES} numbers a customer"
            )));
        }
        self.store.in_transaction(|s| {
            let d = s.directory();
            let Some(before) = d.get(id, &Scope::All)?.filter(|c| c.deleted_at.is_none()) else {
                return Ok(None);
            };
            let fields = serde_json::to_string(&edit.custom_fields)
                .map_err(|e| StoreError::Invalid(format!("custom fields: {e}")))?;
            s.conn
                .prepare_cached(
                    "UPDATE customers SET name = ?2, company = ?3, custom_fields = ?4, updated_at = ?5
                      WHERE id = ?1",
                )?
                .execute(params![id, edit.name.trim(), edit.company.trim(), fields, now_ms()])?;
            s.conn
                .prepare_cached("DELETE FROM customer_phones WHERE customer_id = ?1")?
                .execute([id])?;
            let mut insert = s.conn.prepare_cached(INSERT_PHONE)?;
            for (position, p) in edit.phones.iter().enumerate() {
                execute_insert_phone(&mut insert, id, position, p)?;
            }
            s.conn
                .prepare_cached("DELETE FROM customer_tags WHERE customer_id = ?1")?
                .execute([id])?;
            let mut tag = s
                .conn
                .prepare_cached("INSERT OR IGNORE INTO customer_tags (tag, customer_id) VALUES (?1, ?2)")?;
            for t in edit.tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
                tag.execute(params![t, id])?;
            }
            let after = d.get(id, &Scope::All)?.ok_or_else(|| {
                StoreError::Invalid(format!("customer {id} vanished while being edited"))
            })?;
            let (old, new) = (Self::audit_view(&before), Self::audit_view(&after));
            let changed: Vec<&String> = new
                .as_object()
                .map(|o| o.keys().filter(|k| old.get(*k) != new.get(*k)).collect())
                .unwrap_or_default();
            let pick = |v: &Value| -> Value {
                changed.iter().map(|k| ((*k).clone(), v[k.as_str()].clone())).collect::<Map<_, _>>().into()
            };
            let changes = json!({ "before": pick(&old), "after": pick(&new) });
            d.audit(actor, "customer.update", id, changes.clone())?;
            s.webhooks().emit(
                "customer.updated",
                &json!({ "customer": after, "changes": changes, "by": actor.user.username }),
            )?;
            Ok(Some(after))
        })
    }

    /// Deletes (`true`) or restores a customer; false when nothing changed
    /// (no such customer, or already so).
    pub fn set_deleted(&self, id: i64, deleted: bool, actor: Actor<'_>) -> Result<bool> {
        self.store.in_transaction(|s| {
            let changed = if deleted {
                s.conn
                    .prepare_cached(
                        "UPDATE customers SET deleted_at = ?2, deleted_by = ?3, updated_at = ?2
                          WHERE id = ?1 AND deleted_at IS NULL",
                    )?
                    .execute(params![id, now_ms(), actor.user.id])?
            } else {
                s.conn
                    .prepare_cached(
                        "UPDATE customers SET deleted_at = NULL, deleted_by = NULL, updated_at = ?2
                          WHERE id = ?1 AND deleted_at IS NOT NULL",
                    )?
                    .execute(params![id, now_ms()])?
            } > 0;
            if changed {
                let action = if deleted {
                    "customer.delete"
                } else {
                    "customer.restore"
                };
                s.directory().audit(actor, action, id, json!({}))?;
            }
            Ok(changed)
        })
    }

    /// Gives customers to user `to` (undeleted ones only); how many changed
    /// owner. One audit entry lists them with their former owners.
    pub fn hand_over(&self, what: &HandOver, to: i64, actor: Actor<'_>) -> Result<u64> {
        self.store.in_transaction(|s| {
            let conn = &s.conn;
            let to_name: String = conn
                .prepare_cached("SELECT username FROM users WHERE id = ?1")?
                .query_row([to], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::Invalid(format!("no user {to}")))?;
            let mut moved: Vec<(i64, Option<i64>)> = Vec::new();
            let mut read = |sql: &str, arg: i64| -> Result<()> {
                let mut stmt = conn.prepare_cached(sql)?;
                let rows = stmt.query_map(params![arg, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
                for row in rows {
                    moved.push(row?);
                }
                Ok(())
            };
            match what {
                HandOver::AllOf(from) => read(
                    "SELECT id, owner_user_id FROM customers
                      WHERE owner_user_id = ?1 AND deleted_at IS NULL AND ?2 != ?1",
                    *from,
                )?,
                HandOver::Customers(ids) => {
                    for id in ids {
                        read(
                            "SELECT id, owner_user_id FROM customers
                              WHERE id = ?1 AND deleted_at IS NULL AND owner_user_id IS NOT ?2",
                            *id,
                        )?;
                    }
                }
            }
            let now = now_ms();
            let mut update = conn.prepare_cached(
                "UPDATE customers SET owner_user_id = ?2, updated_at = ?3 WHERE id = ?1",
            )?;
            for (id, _) in &moved {
                update.execute(params![id, to, now])?;
            }
            if !moved.is_empty() {
                let target = match what {
                    HandOver::AllOf(from) => format!("user:{from}"),
                    HandOver::Customers(_) => format!("user:{to}"),
                };
                s.users().audit(&AuditEntry {
                    actor: &actor.user.username,
                    user_id: Some(actor.user.id),
                    action: "customer.hand_over",
                    target: Some(&target),
                    detail: json!({
                        "to": to_name,
                        "count": moved.len(),
                        "customers": moved.iter().map(|(id, from)| json!({ "id": id, "from": from })).collect::<Vec<_>>(),
                    }),
                    remote_addr: actor.remote_addr,
                })?;
            }
            Ok(moved.len() as u64)
        })
    }

    /// Adds a note to a customer (from the page, or the pop of `call_uid`).
    pub fn add_note(
        &self,
        customer_id: i64,
        body: &str,
        call_uid: Option<&str>,
        author: &User,
    ) -> Result<Note> {
        let body = body.trim();
        if body.is_empty() || body.chars().count() > 4000 {
            return Err(StoreError::Invalid(
                "a note has 1 to 4,000 characters".into(),
            ));
        }
        let now = now_ms();
        self.store
            .conn
            .prepare_cached(
                "INSERT INTO customer_notes (customer_id, author_id, call_uid, body, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![customer_id, author.id, call_uid, body, now])?;
        Ok(Note {
            id: self.store.conn.last_insert_rowid(),
            author: Some(author.username.clone()),
            author_name: Some(author.display_name.clone()),
            call_uid: call_uid.map(str::to_string),
            body: body.to_string(),
            created_at: now,
        })
    }

    /// A customer's notes, newest first.
    pub fn notes(&self, customer_id: i64, limit: usize) -> Result<Vec<Note>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT n.id, u.username, u.display_name, n.call_uid, n.body, n.created_at
             FROM customer_notes n LEFT JOIN users u ON u.id = n.author_id
             WHERE n.customer_id = ?1 ORDER BY n.created_at DESC, n.id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![customer_id, limit as i64], |r| {
            Ok(Note {
                id: r.get(0)?,
                author: r.get(1)?,
                author_name: r.get(2)?,
                call_uid: r.get(3)?,
                body: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::Cdr;
    use crate::event::{Direction, Outcome};
    use crate::phone::{MatchPolicy, Normalizer, NormalizerSettings};
    use crate::store::{NewCustomer, Role};

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        agent: User,
        other: User,
        lead: User,
        admin: User,
    }

    fn phone(n: &str) -> NewPhone {
        NewPhone {
            number: Normalizer::new(NormalizerSettings::default())
                .normalize(n)
                .unwrap(),
            label: None,
        }
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("d.db")).unwrap();
        let user = |name: &str, role, team| {
            store
                .users()
                .add_user(name, &format!("{name}名"), role, team, None)
                .unwrap();
            store.users().user_by_name(name).unwrap().unwrap()
        };
        let agent = user("a1", Role::Agent, Some("sales"));
        let other = user("a2", Role::Agent, Some("support"));
        let lead = user("l1", Role::TeamLead, Some("sales"));
        let admin = user("root", Role::Admin, None);
        let add =
            |name: &str, company: &str, owner: Option<i64>, numbers: &[&str], tags: &[&str]| {
                store
                    .customers()
                    .insert_customer(&NewCustomer {
                        name: name.into(),
                        company: company.into(),
                        owner_user_id: owner,
                        tags: tags.iter().map(|t| t.to_string()).collect(),
                        phones: numbers.iter().map(|n| phone(n)).collect(),
                        ..NewCustomer::default()
                    })
                    .unwrap()
            };
        add(
            "王伟",
            "华信科技",
            Some(agent.id),
            &["13800138000", "021-61234567"],
            &["VIP"],
        );
        add(
            "王芳",
            "华信科技",
            Some(other.id),
            &["13912345678"],
            &["VIP"],
        );
        add("李娜", "远大集团", None, &["0755-86013388"], &[]);
        add("张伟", "", Some(other.id), &["18600001111"], &["新客户"]);
        Fixture {
            _dir: dir,
            store,
            agent,
            other,
            lead,
            admin,
        }
    }

    fn names(page: &CustomerPage) -> Vec<&str> {
        page.items.iter().map(|c| c.name.as_str()).collect()
    }

    fn q() -> CustomerQuery {
        CustomerQuery::default()
    }

    /// The id of the first customer (of all) whose name starts with `name`.
    fn id_named(d: &Directory<'_>, name: &str) -> i64 {
        let query = CustomerQuery {
            name: Some(name.into()),
            ..q()
        };
        d.search(&query, &Scope::All).unwrap().items[0].id
    }

    #[test]
    fn numbers_are_found_by_any_fragment_written_any_way() {
        let f = fixture();
        let d = f.store.directory();
        let find = |number: &str| {
            let page = d
                .search(
                    &CustomerQuery {
                        number: Some(number.into()),
                        ..q()
                    },
                    &Scope::All,
                )
                .unwrap();
            names(&page)
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(find("0013"), ["王伟"], "middle digits");
        assert_eq!(find("138 0013 8000"), ["王伟"]);
        assert_eq!(find("+86 138-0013-8000"), ["王伟"]);
        assert_eq!(find("5678"), ["王芳"], "尾号");
        assert_eq!(find("021-6123"), ["王伟"], "a landline with its trunk 0");
        assert_eq!(find("6013388"), ["李娜"]);
    }

    #[test]
    fn a_fragment_needs_three_digits() {
        let f = fixture();
        let err = f
            .store
            .directory()
            .search(
                &CustomerQuery {
                    number: Some("13".into()),
                    ..q()
                },
                &Scope::All,
            )
            .unwrap_err();
        assert!(err.to_string().contains("3 digits"), "{err}");
        assert_eq!(number_fragment("王伟"), None);
        assert_eq!(number_fragment("0086"), Some("\"0086\"".into()));
        assert_eq!(number_fragment("+86 1380"), Some("\"1380\"".into()));
        assert_eq!(number_fragment("12a45"), None);
        assert_eq!(
            number_fragment("0755 8601"),
            Some("\"07558601\" OR \"7558601\"".into())
        );
    }

    #[test]
    fn names_companies_groups_and_owners_narrow_it() {
        let f = fixture();
        let d = f.store.directory();
        let some = |v: &str| Some(v.to_string());
        let cases = [
            (
                CustomerQuery {
                    name: some("王"),
                    ..q()
                },
                "王伟,王芳",
            ),
            (
                CustomerQuery {
                    company: some("华信"),
                    ..q()
                },
                "王芳,王伟",
            ),
            (
                CustomerQuery {
                    tag: some("VIP"),
                    ..q()
                },
                "王芳,王伟",
            ),
            (
                CustomerQuery {
                    tag: some("VIP"),
                    name: some("王伟"),
                    ..q()
                },
                "王伟",
            ),
            (
                CustomerQuery {
                    owner: some("a2"),
                    ..q()
                },
                "张伟,王芳",
            ),
            (
                CustomerQuery {
                    number: some("138"),
                    tag: some("VIP"),
                    ..q()
                },
                "王伟",
            ),
        ];
        for (query, expected) in cases {
            let found = names(&d.search(&query, &Scope::All).unwrap()).join(",");
            assert_eq!(found, expected, "{query:?}");
        }
    }

    #[test]
    fn pages_follow_each_other_without_gaps_or_repeats() {
        let f = fixture();
        let d = f.store.directory();
        for base in [
            q(),
            CustomerQuery {
                name: Some("王".into()),
                ..q()
            },
            CustomerQuery {
                number: Some("000".into()),
                ..q()
            },
        ] {
            let all = names(&d.search(&base, &Scope::All).unwrap()).join(",");
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let page = d
                    .search(
                        &CustomerQuery {
                            limit: Some(1),
                            after: after.clone(),
                            ..base.clone()
                        },
                        &Scope::All,
                    )
                    .unwrap();
                seen.extend(page.items.iter().map(|c| c.name.clone()));
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            assert_eq!(seen.join(","), all);
        }
    }

    #[test]
    fn an_agent_reaches_their_own_customers_and_those_they_spoke_to() {
        let f = fixture();
        let d = f.store.directory();
        let mine = Scope::of(&f.agent);
        assert_eq!(names(&d.search(&q(), &mine).unwrap()), ["王伟"]);
        // a1 takes a call from 张伟 (a2's customer).
        let zhang = id_named(&d, "张");
        f.store
            .calls()
            .write_cdr(&Cdr {
                call_uid: "c1".into(),
                line: "box1/1".into(),
                device: "box1".into(),
                direction: Direction::Inbound,
                outcome: Outcome::Answered,
                presentation: "available",
                raw_number: Some("18600001111".into()),
                number_e164: None,
                number_national: Some("18600001111".into()),
                caller_name: None,
                customer_id: Some(zhang),
                match_rule: None,
                ring_count: 1,
                started_at: 5_000,
                first_ring_at: Some(5_000),
                cid_at: None,
                answered_at: Some(6_000),
                ended_at: 9_000,
                dtmf: String::new(),
                agent_user_id: Some(f.agent.id),
                failure: None,
                blocked: None,
            })
            .unwrap();
        assert_eq!(names(&d.search(&q(), &mine).unwrap()), ["张伟", "王伟"]);
        assert!(d.get(zhang, &mine).unwrap().is_some());
        assert_eq!(
            d.get(zhang, &mine).unwrap().unwrap().last_call_at,
            Some(5_000)
        );
        // The team lead reaches the team's: a1's own and the team's calls'.
        let team = Scope::of(&f.lead);
        assert_eq!(names(&d.search(&q(), &team).unwrap()), ["张伟", "王伟"]);
        // Not a2's other customer, nor an unowned one.
        let fang = id_named(&d, "王芳");
        assert!(d.get(fang, &mine).unwrap().is_none());
        assert!(d.get(fang, &team).unwrap().is_none());
        assert!(d.search(&q(), &Scope::None).unwrap().items.is_empty());
        // Found by when they last called.
        let called = CustomerQuery {
            last_call_from: Some(1),
            ..q()
        };
        assert_eq!(names(&d.search(&called, &Scope::All).unwrap()), ["张伟"]);
    }

    #[test]
    fn an_edit_is_audited_with_what_changed() {
        let f = fixture();
        let d = f.store.directory();
        let id = id_named(&d, "王伟");
        let actor = Actor {
            user: &f.agent,
            remote_addr: Some("10.0.0.7"),
        };
        let edit = CustomerEdit {
            name: "王伟".into(),
            company: "华信科技有限公司".into(),
            phones: vec![phone("13800138000"), phone("13700000001")],
            tags: vec!["VIP".into()],
            custom_fields: Map::new(),
        };
        let after = d.update(id, &edit, actor).unwrap().unwrap();
        assert_eq!(after.company, "华信科技有限公司");
        assert_eq!(after.phones.len(), 2);
        let audit = &f.store.users().recent_audit(1).unwrap()[0];
        assert_eq!(audit.action, "customer.update");
        assert_eq!(audit.target.as_deref(), Some(&*format!("customer:{id}")));
        assert_eq!(audit.detail["before"]["company"], "华信科技");
        assert_eq!(audit.detail["after"]["company"], "华信科技有限公司");
        assert_eq!(
            audit.detail["after"]["phones"],
            json!(["13800138000", "13700000001"])
        );
        assert!(
            audit.detail["before"].get("name").is_none(),
            "unchanged values are left out"
        );
        // The new number is found and matched; the dropped one is not.
        let found = d
            .search(
                &CustomerQuery {
                    number: Some("0000001".into()),
                    ..q()
                },
                &Scope::All,
            )
            .unwrap();
        assert_eq!(names(&found), ["王伟"]);
        assert!(d
            .search(
                &CustomerQuery {
                    number: Some("61234567".into()),
                    ..q()
                },
                &Scope::All
            )
            .unwrap()
            .items
            .is_empty());
        let err = d
            .update(
                id,
                &CustomerEdit {
                    name: " ".into(),
                    ..edit
                },
                actor,
            )
            .unwrap_err();
        assert!(err.to_string().contains("name"));
    }

    #[test]
    fn a_deleted_customer_is_out_of_searches_and_matches_until_restored() {
        let f = fixture();
        let d = f.store.directory();
        let id = id_named(&d, "王伟");
        let actor = Actor {
            user: &f.admin,
            remote_addr: None,
        };
        let number = Normalizer::new(NormalizerSettings::default())
            .normalize("13800138000")
            .unwrap();
        assert!(d.set_deleted(id, true, actor).unwrap());
        assert!(!d.set_deleted(id, true, actor).unwrap(), "once");
        assert!(d
            .search(
                &CustomerQuery {
                    name: Some("王伟".into()),
                    ..q()
                },
                &Scope::All
            )
            .unwrap()
            .items
            .is_empty());
        assert!(f
            .store
            .customers()
            .lookup(&number, &MatchPolicy::default())
            .unwrap()
            .matches
            .is_empty());
        let deleted = d
            .search(
                &CustomerQuery {
                    deleted: true,
                    ..q()
                },
                &Scope::All,
            )
            .unwrap();
        assert_eq!(names(&deleted), ["王伟"]);
        assert!(d
            .get(id, &Scope::All)
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some());
        assert!(d.set_deleted(id, false, actor).unwrap());
        assert_eq!(
            f.store
                .customers()
                .lookup(&number, &MatchPolicy::default())
                .unwrap()
                .matches
                .len(),
            1
        );
        let actions: Vec<String> = f
            .store
            .users()
            .recent_audit(2)
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .collect();
        assert_eq!(actions, ["customer.restore", "customer.delete"]);
    }

    #[test]
    fn customers_are_handed_over_one_by_one_or_all_at_once() {
        let f = fixture();
        let d = f.store.directory();
        let actor = Actor {
            user: &f.admin,
            remote_addr: None,
        };
        // a2 leaves: all of theirs go to a1.
        assert_eq!(
            d.hand_over(&HandOver::AllOf(f.other.id), f.agent.id, actor)
                .unwrap(),
            2
        );
        let owners: Vec<Option<String>> = d
            .search(&q(), &Scope::All)
            .unwrap()
            .items
            .into_iter()
            .map(|c| c.owner)
            .collect();
        assert_eq!(
            owners,
            [
                Some("a1".into()),
                None,
                Some("a1".into()),
                Some("a1".into())
            ]
        );
        let audit = &f.store.users().recent_audit(1).unwrap()[0];
        assert_eq!(
            (audit.action.as_str(), audit.detail["count"].as_u64()),
            ("customer.hand_over", Some(2))
        );
        assert_eq!(audit.detail["to"], "a1");
        // One back to a2; handing someone what they own changes nothing.
        let li = id_named(&d, "李");
        assert_eq!(
            d.hand_over(&HandOver::Customers(vec![li]), f.other.id, actor)
                .unwrap(),
            1
        );
        assert_eq!(
            d.hand_over(&HandOver::Customers(vec![li]), f.other.id, actor)
                .unwrap(),
            0
        );
        assert!(d
            .hand_over(&HandOver::AllOf(f.agent.id), 999, actor)
            .is_err());
    }

    #[test]
    fn notes_keep_who_wrote_what() {
        let f = fixture();
        let d = f.store.directory();
        let id = d.search(&q(), &Scope::All).unwrap().items[0].id;
        d.add_note(id, "  客户要求下周回访 ", Some("c9"), &f.agent)
            .unwrap();
        d.add_note(id, "已回访", None, &f.lead).unwrap();
        let notes = d.notes(id, 10).unwrap();
        assert_eq!(
            notes.iter().map(|n| n.body.as_str()).collect::<Vec<_>>(),
            ["已回访", "客户要求下周回访"]
        );
        assert_eq!(notes[1].call_uid.as_deref(), Some("c9"));
        assert_eq!(notes[1].author_name.as_deref(), Some("a1名"));
        assert!(d.add_note(id, "  ", None, &f.agent).is_err());
        assert!(d.add_note(id, &"字".repeat(4001), None, &f.agent).is_err());
    }

    /// Each search walks an index in its order: nothing is sorted, and a
    /// page stops the walk.
    #[test]
    fn searches_walk_an_index() {
        let f = fixture();
        let plan = |query: CustomerQuery| {
            let (w, _) = Directory::query_of(&query, &Scope::All).unwrap().unwrap();
            let mut stmt = f
                .store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {}", w.sql))
                .unwrap();
            let rows = stmt
                .query_map(rusqlite::params_from_iter(w.args.iter()), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap();
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .unwrap()
                .join(" | ")
        };
        let by_number = plan(CustomerQuery {
            number: Some("0013".into()),
            ..q()
        });
        assert!(by_number.contains("VIRTUAL TABLE INDEX"), "{by_number}");
        let by_name = plan(CustomerQuery {
            name: Some("王".into()),
            ..q()
        });
        assert!(by_name.contains("customers_name"), "{by_name}");
        let by_tag = plan(CustomerQuery {
            tag: Some("VIP".into()),
            ..q()
        });
        assert!(by_tag.contains("SEARCH t USING PRIMARY KEY"), "{by_tag}");
        for p in [by_number, by_name, by_tag, plan(q())] {
            assert!(!p.contains("TEMP B-TREE"), "sorted: {p}");
        }
    }

    /// An import into an empty store indexes the fragments at its end; one
    /// into a store with customers as it goes.
    #[test]
    fn imported_customers_are_found_by_fragment() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("i.db")).unwrap();
        for (batch, number) in [(0, "13500001234"), (1, "13600005678")] {
            let mut load = store.customers().load_customers().unwrap();
            load.add(&NewCustomer {
                name: format!("客户{batch}"),
                phones: vec![phone(number)],
                ..NewCustomer::default()
            })
            .unwrap();
            load.finish().unwrap();
        }
        let d = store.directory();
        for (fragment, name) in [("0001234", "客户0"), ("0005678", "客户1")] {
            let page = d
                .search(
                    &CustomerQuery {
                        number: Some(fragment.into()),
                        ..q()
                    },
                    &Scope::All,
                )
                .unwrap();
            assert_eq!(names(&page), [name]);
        }
    }
}
