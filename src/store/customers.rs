//! Customers, their numbers and tags; number lookup; the import upsert.

use super::BulkWrites;
use super::{now_ms, AuditEntry, Result, Store, StoreError, User};
use crate::phone::{
    MatchOutcome, MatchPolicy, MatchRule, Normalized, NumberKind, MAYBE_INCOMPLETE, WITHOUT_E164,
};
use rusqlite::{params, OptionalExtension, Row, Statement};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// A number to store with a customer.
#[derive(Debug, Clone)]
pub struct NewPhone {
    pub number: Normalized,
    /// Where it came from ("手机", "office"...), shown next to it.
    pub label: Option<String>,
}

/// A customer to create or merge.
#[derive(Debug, Clone, Default)]
pub struct NewCustomer {
    pub name: String,
    pub company: String,
    pub owner_user_id: Option<i64>,
    pub tags: Vec<String>,
    pub custom_fields: Map<String, Value>,
    pub phones: Vec<NewPhone>,
}

/// A stored number as shown to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerPhone {
    pub raw: String,
    pub e164: Option<String>,
    pub national: String,
    pub extension: Option<String>,
    pub kind: NumberKind,
    pub label: Option<String>,
}

/// A customer record with everything the screen-pop and exports show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub company: String,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    pub custom_fields: Map<String, Value>,
    pub phones: Vec<CustomerPhone>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub use crate::domain::CustomerMatch;

/// Who a customer belongs to, for deciding who may act on it: its owner
/// (with the owner's team), and whether a given number is one of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerReach {
    pub owner: Option<(i64, Option<String>)>,
    pub has_number: bool,
}

/// The answer to "who is calling": the rule that matched and the customers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LookupResult {
    pub rule: MatchRule,
    pub outcome: MatchOutcome,
    pub matches: Vec<CustomerMatch>,
}

/// What an import row did to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertOutcome {
    Inserted(i64),
    Updated(i64),
    Unchanged(i64),
}

impl UpsertOutcome {
    /// The customer the row went to.
    pub fn id(self) -> i64 {
        match self {
            UpsertOutcome::Inserted(id)
            | UpsertOutcome::Updated(id)
            | UpsertOutcome::Unchanged(id) => id,
        }
    }
}

/// 1 when the number's kind has no E.164 form (service, local, unknown).
static INCOMPLETE: LazyLock<String> = LazyLock::new(|| kind_in(&WITHOUT_E164));

/// An SQL expression that is 1 when `p.kind` is one of `kinds`, else 0.
/// A CASE, not `IN (...)`: SQLite builds a temporary B-tree for every run of
/// a statement with a constant IN list, and its allocation and release cost
/// more than the rest of a lookup.
fn kind_in(kinds: &[NumberKind]) -> String {
    let arms: String = kinds
        .iter()
        .map(|k| format!(" WHEN '{}' THEN 1", k.as_str()))
        .collect();
    format!("(CASE p.kind{arms} ELSE 0 END)")
}

/// The exact rule: the same complete number (E.164 is country code +
/// national number, so this is E.164 equality on the one match index).
static EXACT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT c.id, c.name, c.company, p.raw FROM customer_phones p
         JOIN customers c ON c.id = p.customer_id
         WHERE p.national_rev = ?1 AND p.country_code = ?2 AND NOT {}
           AND c.deleted_at IS NULL
         LIMIT 50",
        *INCOMPLETE
    )
});

/// The national rule: the same national number where one side is incomplete
/// (?3: whether the query has an E.164 form). Countries must agree where both
/// are known; two complete numbers that differ are different numbers.
static NATIONAL_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT c.id, c.name, c.company, p.raw FROM customer_phones p
         JOIN customers c ON c.id = p.customer_id
         WHERE p.national_rev = ?1
           AND (p.country_code IS NULL OR ?2 IS NULL OR p.country_code = ?2)
           AND ({} OR NOT ?3)
           AND c.deleted_at IS NULL
         LIMIT 50",
        *INCOMPLETE
    )
});

/// The suffix rule: a prefix range on the reversed national number, limited
/// to the kinds that may arrive incomplete.
static SUFFIX_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT c.id, c.name, c.company, p.raw FROM customer_phones p
         JOIN customers c ON c.id = p.customer_id
         WHERE p.national_rev >= ?1 AND p.national_rev < ?2
           AND (p.country_code IS NULL OR ?3 IS NULL OR p.country_code = ?3)
           AND ({} OR NOT ?4)
           AND {}
           AND c.deleted_at IS NULL
         LIMIT ?5",
        *INCOMPLETE,
        kind_in(&MAYBE_INCOMPLETE)
    )
});

pub(super) const INSERT_PHONE: &str = "INSERT INTO customer_phones
       (customer_id, position, raw, e164, national, national_rev, country_code, extension, kind, label)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// One number of a customer, by the one phone insert (single rows and
/// bulk loads alike).
pub(super) fn execute_insert_phone(
    stmt: &mut rusqlite::Statement<'_>,
    customer_id: i64,
    position: usize,
    p: &NewPhone,
) -> rusqlite::Result<usize> {
    let n = &p.number;
    stmt.execute(params![
        customer_id,
        position as i64,
        n.raw,
        n.e164,
        n.national,
        n.national_rev(),
        n.country_code,
        n.extension,
        n.kind.as_str(),
        p.label
    ])
}

/// Customers and their numbers and tags: lookups by number (the call
/// path's read), single writes and merges, bulk loads, and the reads that
/// exports and cards need.
///
/// A view of a [`Store`], from [`Store::customers`]; cheap to copy.
#[derive(Clone, Copy)]
pub struct Customers<'a> {
    pub(super) store: &'a Store,
}

impl Customers<'_> {
    /// Creates a customer that `actor` typed in, with its audit entry, in
    /// one transaction; the new customer's id.
    pub fn add_customer(&self, c: &NewCustomer, actor: &User) -> Result<i64> {
        self.store.in_transaction(|s| {
            let id = s.customers().insert_customer(c)?;
            s.users().audit(&AuditEntry {
                actor: &actor.username,
                user_id: Some(actor.id),
                action: "customer.add",
                target: Some(&id.to_string()),
                detail: serde_json::json!({}),
                remote_addr: None,
            })?;
            let row = s.directory().get(id, &super::Scope::All)?;
            s.webhooks().emit(
                "customer.created",
                &serde_json::json!({ "customer": row, "by": actor.username }),
            )?;
            Ok(id)
        })
    }

    /// Creates a customer with its numbers and tags.
    pub fn insert_customer(&self, c: &NewCustomer) -> Result<i64> {
        if c.name.trim().is_empty() {
            return Err(StoreError::Invalid("a customer needs a name".into()));
        }
        let now = now_ms();
        self.store.conn
            .prepare_cached(
                "INSERT INTO customers (name, company, owner_user_id, custom_fields, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?
            .execute(params![
                c.name,
                c.company,
                c.owner_user_id,
                serde_json::to_string(&c.custom_fields).unwrap_or_else(|_| "{}".into()),
                now
            ])?;
        let id = self.store.conn.last_insert_rowid();
        for (position, phone) in c.phones.iter().enumerate() {
            self.insert_phone(id, position, phone)?;
        }
        for tag in &c.tags {
            self.add_tag(id, tag)?;
        }
        Ok(id)
    }

    fn insert_phone(&self, customer_id: i64, position: usize, p: &NewPhone) -> Result<()> {
        let mut stmt = self.store.conn.prepare_cached(INSERT_PHONE)?;
        execute_insert_phone(&mut stmt, customer_id, position, p)?;
        Ok(())
    }

    /// Adds a tag; returns whether it was new.
    fn add_tag(&self, customer_id: i64, tag: &str) -> Result<bool> {
        Ok(self
            .store
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO customer_tags (tag, customer_id) VALUES (?1, ?2)",
            )?
            .execute(params![tag, customer_id])?
            > 0)
    }

    /// Creates the customer, or merges into the one with the same name that
    /// already has one of these numbers: re-importing a file never duplicates.
    pub fn upsert_customer(&self, c: &NewCustomer) -> Result<UpsertOutcome> {
        match self.find_by_name_and_phone(c)? {
            Some(existing) => self.merge_customer(existing, c),
            None => self.insert_customer(c).map(UpsertOutcome::Inserted),
        }
    }

    /// Whether customer `id` has this name and number. Reads only that
    /// customer's rows, so it works while the match index is being rebuilt.
    pub fn customer_has(&self, id: i64, name: &str, number: &Normalized) -> Result<bool> {
        Ok(self.store
            .conn
            .prepare_cached(
                "SELECT 1 FROM customer_phones p JOIN customers c ON c.id = p.customer_id
                 WHERE p.customer_id = ?1 AND c.name = ?2 AND p.national_rev = ?3 AND p.country_code IS ?4",
            )?
            .query_row(
                params![id, name, number.national_rev(), number.country_code],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Merges `c` into customer `existing`: new numbers and tags are added,
    /// company, owner and custom fields taken from `c` where it has them.
    pub fn merge_customer(&self, existing: i64, c: &NewCustomer) -> Result<UpsertOutcome> {
        let mut changed = false;
        let (company, owner, fields): (String, Option<i64>, String) = self
            .store
            .conn
            .prepare_cached(
                "SELECT company, owner_user_id, custom_fields FROM customers WHERE id = ?1",
            )?
            .query_row([existing], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        let mut merged: Map<String, Value> = serde_json::from_str(&fields).unwrap_or_default();
        for (k, v) in &c.custom_fields {
            if merged.get(k) != Some(v) {
                merged.insert(k.clone(), v.clone());
                changed = true;
            }
        }
        let new_company = if c.company.is_empty() || c.company == company {
            company
        } else {
            changed = true;
            c.company.clone()
        };
        let new_owner = match c.owner_user_id {
            Some(o) if Some(o) != owner => {
                changed = true;
                Some(o)
            }
            _ => owner,
        };
        let known: BTreeSet<(String, Option<String>)> = self
            .store
            .conn
            .prepare_cached(
                "SELECT national_rev, extension FROM customer_phones WHERE customer_id = ?1",
            )?
            .query_map([existing], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut position = known.len();
        for p in &c.phones {
            if !known.contains(&(p.number.national_rev(), p.number.extension.clone())) {
                self.insert_phone(existing, position, p)?;
                position += 1;
                changed = true;
            }
        }
        for tag in &c.tags {
            changed |= self.add_tag(existing, tag)?;
        }
        if !changed {
            return Ok(UpsertOutcome::Unchanged(existing));
        }
        self.store.conn
            .prepare_cached(
                "UPDATE customers SET company = ?2, owner_user_id = ?3, custom_fields = ?4, updated_at = ?5
                 WHERE id = ?1",
            )?
            .execute(params![
                existing,
                new_company,
                new_owner,
                Value::Object(merged).to_string(),
                now_ms()
            ])?;
        Ok(UpsertOutcome::Updated(existing))
    }

    fn find_by_name_and_phone(&self, c: &NewCustomer) -> Result<Option<i64>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT p.customer_id FROM customer_phones p JOIN customers c ON c.id = p.customer_id
             WHERE p.national_rev = ?1 AND p.country_code IS ?2 AND c.name = ?3
               AND c.deleted_at IS NULL
             ORDER BY p.customer_id LIMIT 1",
        )?;
        for p in &c.phones {
            let found = stmt
                .query_row(
                    params![p.number.national_rev(), p.number.country_code, c.name],
                    |r| r.get(0),
                )
                .optional()?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Finds the customers a number belongs to: exact E.164 first, then the
    /// national number, then the last N digits, each only where it is safe.
    pub fn lookup(&self, number: &Normalized, policy: &MatchPolicy) -> Result<LookupResult> {
        let rev = number.national_rev();
        if number.e164.is_some() {
            let matches = self.matches(&EXACT_SQL, params![rev, number.country_code])?;
            if !matches.is_empty() {
                return Ok(result(MatchRule::Exact, matches));
            }
        }
        let matches = self.matches(
            &NATIONAL_SQL,
            params![rev, number.country_code, number.e164.is_some()],
        )?;
        if !matches.is_empty() {
            return Ok(result(MatchRule::National, matches));
        }
        // A shared tail is evidence only between numbers that may arrive
        // incomplete (see phone::MAYBE_INCOMPLETE).
        if number.national.len() >= policy.suffix_digits && number.kind.may_be_incomplete() {
            let low = &rev[..policy.suffix_digits];
            let high = next_prefix(low);
            let matches = self.matches(
                &SUFFIX_SQL,
                params![
                    low,
                    high,
                    number.country_code,
                    number.e164.is_some(),
                    (policy.suffix_max_matches * 4 + 1) as i64
                ],
            )?;
            if !matches.is_empty() && matches.len() <= policy.suffix_max_matches {
                return Ok(result(MatchRule::Suffix, matches));
            }
        }
        Ok(result(MatchRule::None, Vec::new()))
    }

    /// Runs a match query; one entry per customer in id order, the first
    /// matching number kept. The queries return rows in index order and this
    /// sorts the few of them: an ORDER BY would make SQLite build and free a
    /// temporary B-tree on every lookup.
    fn matches(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<CustomerMatch>> {
        let mut stmt = self.store.conn.prepare_cached(sql)?;
        let mut out: Vec<CustomerMatch> = stmt
            .query_map(params, |r| {
                Ok(CustomerMatch {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    company: r.get(2)?,
                    phone: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        out.sort_by_key(|m| m.id);
        out.dedup_by_key(|m| m.id);
        Ok(out)
    }

    /// Who customer `id` belongs to (its owner and the owner's team), and
    /// whether one of its numbers is `national`; `None` when there is no
    /// such customer.
    pub fn customer_reach(&self, id: i64, national: Option<&str>) -> Result<Option<CustomerReach>> {
        Ok(self
            .store
            .conn
            .prepare_cached(
                "SELECT c.owner_user_id, u.team,
                        EXISTS (SELECT 1 FROM customer_phones p
                                WHERE p.customer_id = c.id AND p.national = ?2)
                 FROM customers c LEFT JOIN users u ON u.id = c.owner_user_id
                 WHERE c.id = ?1",
            )?
            .query_row(rusqlite::params![id, national], |r| {
                let owner: Option<i64> = r.get(0)?;
                Ok(CustomerReach {
                    owner: owner.map(|o| (o, r.get(1).ok().flatten())),
                    has_number: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// One customer with numbers and tags.
    pub fn customer(&self, id: i64) -> Result<Option<Customer>> {
        let Some(mut c) = self
            .store
            .conn
            .prepare_cached(&format!("{CUSTOMER_SELECT} WHERE c.id = ?1"))?
            .query_row([id], customer_from_row)
            .optional()?
        else {
            return Ok(None);
        };
        c.phones = self
            .store
            .conn
            .prepare_cached(&format!(
                "{PHONE_SELECT} WHERE customer_id = ?1 ORDER BY position"
            ))?
            .query_map([id], |r| phone_from_row(r).map(|(_, p)| p))?
            .collect::<rusqlite::Result<_>>()?;
        c.tags = self
            .store
            .conn
            .prepare_cached("SELECT tag FROM customer_tags WHERE customer_id = ?1 ORDER BY tag")?
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Some(c))
    }

    /// How many customers there are.
    pub fn customer_count(&self) -> Result<u64> {
        let n: i64 = self
            .store
            .conn
            .query_row("SELECT COUNT(*) FROM customers", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Every custom-field key in use, sorted: the extra export columns.
    pub fn custom_field_keys(&self) -> Result<Vec<String>> {
        Ok(self.store
            .conn
            .prepare(
                "SELECT DISTINCT j.key FROM customers, json_each(customers.custom_fields) AS j ORDER BY 1",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Streams every customer in id order, without holding them all in memory.
    pub fn for_each_customer(&self, mut f: impl FnMut(Customer) -> Result<()>) -> Result<()> {
        let mut cust_stmt = self.store.conn.prepare(&format!(
            "{CUSTOMER_SELECT} WHERE c.deleted_at IS NULL ORDER BY c.id"
        ))?;
        let mut phone_stmt = self
            .store
            .conn
            .prepare(&format!("{PHONE_SELECT} ORDER BY customer_id, position"))?;
        let mut tag_stmt = self
            .store
            .conn
            .prepare("SELECT customer_id, tag FROM customer_tags ORDER BY customer_id, tag")?;
        let mut customers = cust_stmt.query([])?;
        let mut phones = phone_stmt.query([])?;
        let mut tags = tag_stmt.query([])?;
        let mut next_phone = phones.next()?.map(phone_from_row).transpose()?;
        let mut next_tag: Option<(i64, String)> = tags
            .next()?
            .map(|r| Ok::<_, rusqlite::Error>((r.get(0)?, r.get(1)?)))
            .transpose()?;
        while let Some(row) = customers.next()? {
            let mut c = customer_from_row(row)?;
            while let Some((cid, p)) = next_phone.take() {
                if cid > c.id {
                    next_phone = Some((cid, p));
                    break;
                }
                if cid == c.id {
                    c.phones.push(p);
                }
                next_phone = phones.next()?.map(phone_from_row).transpose()?;
            }
            while let Some((cid, t)) = next_tag.take() {
                if cid > c.id {
                    next_tag = Some((cid, t));
                    break;
                }
                if cid == c.id {
                    c.tags.push(t);
                }
                next_tag = tags
                    .next()?
                    .map(|r| Ok::<_, rusqlite::Error>((r.get(0)?, r.get(1)?)))
                    .transpose()?;
            }
            f(c)?;
        }
        Ok(())
    }
}

/// Rows a bulk load writes per transaction: few large commits write each
/// page once; a crash loses at most this many rows of the load.
const LOAD_COMMIT_ROWS: u64 = 100_000;
/// Rows a load beside the running daemon writes in one transaction.
const LIVE_COMMIT_ROWS: u64 = 500;

/// Insert triggers an append load sets aside (sql/0033_deferred_triggers.sql):
/// the number-fragment index's, and the customers' birthday and searchable
/// field values'. Each makes every row's INSERT keep a statement journal (a
/// copy of each page the row touches) and run its own statements; without
/// them the load's writer is busy a third less (1M rows: 8.7-9.0 s, not
/// 13.7 s), and their work is done for every row at once at the end
/// ([`restore_deferred_triggers`]).
const LOAD_DEFERRED_TRIGGERS: [(&str, FillForTrigger); 3] = [
    ("customer_phones_grams_insert", fill_number_grams),
    ("customers_birthday_insert", fill_birthdays),
    ("customer_field_values_insert", fill_field_values),
];

/// What a set-aside trigger keeps, filled for every row at once.
type FillForTrigger = fn(&rusqlite::Connection) -> rusqlite::Result<()>;

/// Records the deferred triggers' SQL as the migrations created it and
/// drops them, in one transaction.
fn defer_triggers(store: &Store) -> Result<()> {
    store.in_transaction(|s| {
        for (name, _) in LOAD_DEFERRED_TRIGGERS {
            s.conn.execute(
                "INSERT OR REPLACE INTO deferred_triggers (name, sql)
                 SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
                [name],
            )?;
            s.conn
                .execute_batch(&format!("DROP TRIGGER IF EXISTS {name}"))?;
        }
        Ok(())
    })
}

/// Does what each set-aside trigger would have done, for every row at
/// once (the fills are idempotent: a trigger recorded but present, as a
/// later migration might leave it, is filled too), and creates the
/// missing ones again from their recorded SQL, one transaction each.
pub(super) fn restore_deferred_triggers(store: &Store) -> Result<()> {
    let deferred: Vec<(String, String)> = store
        .conn
        .prepare("SELECT name, sql FROM deferred_triggers ORDER BY name")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, create) in deferred {
        store.in_transaction(|s| {
            // A trigger this version does not defer is created as recorded.
            if let Some((_, fill)) = LOAD_DEFERRED_TRIGGERS.iter().find(|(n, _)| *n == name) {
                fill(&s.conn)?;
            }
            let present: bool = s.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?1)",
                [&name],
                |r| r.get(0),
            )?;
            if !present {
                s.conn.execute_batch(&create)?;
            }
            s.conn
                .execute("DELETE FROM deferred_triggers WHERE name = ?1", [&name])?;
            Ok::<_, StoreError>(())
        })?;
    }
    Ok(())
}

fn fill_number_grams(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "INSERT INTO customer_number_grams (customer_number_grams) VALUES ('delete-all');
         INSERT INTO customer_number_grams (rowid, national)
             SELECT customer_id * 1024 + position, national FROM customer_phones;",
    )
}

fn fill_birthdays(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let marked: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM customer_fields WHERE birthday)",
        [],
        |r| r.get(0),
    )?;
    if marked {
        conn.execute(super::customer_fields::RECOMPUTE_BIRTHDAYS, [])?;
    }
    Ok(())
}

fn fill_field_values(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let keys: Vec<String> = conn
        .prepare("SELECT key FROM customer_fields WHERE searchable")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for key in keys {
        conn.execute(super::customer_fields::FILL_FIELD_VALUES, [key])?;
    }
    Ok(())
}

/// Customer indexes besides the match index, dropped while a load fills an
/// empty store and built after it by one sort each (as in 0001_init.sql;
/// `Store::open` recreates them if a crash left them missing).
pub(super) const LOAD_DEFERRED_INDEXES_SQL: &str =
    "CREATE INDEX IF NOT EXISTS customers_owner ON customers(owner_user_id);
     CREATE INDEX IF NOT EXISTS customer_tags_customer ON customer_tags(customer_id);";

/// What merging a load's duplicates did: rows counted as new while loading
/// that turned out to be an earlier row's customer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadMerges {
    pub updated: u64,
    pub unchanged: u64,
}

/// A long run of customer writes (an import), in large transactions with
/// the statements prepared once. Into an empty store it appends without
/// indexes and without looking for duplicates, then builds the indexes by
/// sorting and merges same-name-same-number customers in [`finish`]: memory
/// stays bounded whatever the row count. Into a store that has customers,
/// each row is an upsert through the match index, so lookups keep working.
///
/// [`finish`]: CustomerLoad::finish
pub struct CustomerLoad<'a> {
    store: &'a Store,
    bulk: Option<BulkWrites<'a>>,
    /// Loading into an empty store: duplicates are merged at the end.
    append: bool,
    /// Rows written in one transaction.
    commit_rows: u64,
    insert_customer: Statement<'a>,
    insert_phone: Statement<'a>,
    insert_tag: Statement<'a>,
    in_transaction: bool,
    rows_in_transaction: u64,
    /// Reused buffer for the custom fields' JSON.
    json: Vec<u8>,
}

impl<'a> Customers<'a> {
    /// Starts a bulk load of customers; see [`CustomerLoad`].
    pub fn load_customers(&self) -> Result<CustomerLoad<'a>> {
        let append = self.customer_count()? == 0;
        self.start_load(append, LOAD_COMMIT_ROWS)
    }

    /// Starts a load beside a running daemon (an import from the page):
    /// row by row into the live indexes, committing every few hundred rows
    /// so that the pops' and calls' writes wait a moment, never a minute.
    pub fn load_customers_live(&self) -> Result<CustomerLoad<'a>> {
        self.start_load(false, LIVE_COMMIT_ROWS)
    }

    /// The customer an import row would be merged into (same name and one
    /// of its numbers), if any: what a dry run reports.
    pub fn import_match(&self, c: &NewCustomer) -> Result<Option<i64>> {
        self.find_by_name_and_phone(c)
    }

    fn start_load(&self, append: bool, commit_rows: u64) -> Result<CustomerLoad<'a>> {
        let bulk = match commit_rows >= LOAD_COMMIT_ROWS {
            true => Some(self.store.bulk_writes(append)?),
            false => None,
        };
        // Prepared before anything is dropped: a load that cannot start
        // leaves the store as it was.
        let load = CustomerLoad {
            store: self.store,
            bulk,
            append,
            commit_rows,
            insert_customer: self.store.conn.prepare(
                "INSERT INTO customers (name, company, owner_user_id, custom_fields, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?,
            insert_phone: self.store.conn.prepare(INSERT_PHONE)?,
            insert_tag: self.store.conn.prepare(
                "INSERT OR IGNORE INTO customer_tags (tag, customer_id) VALUES (?1, ?2)",
            )?,
            in_transaction: false,
            rows_in_transaction: 0,
            json: Vec::new(),
        };
        if append {
            self.store.conn.execute_batch(
                "DROP INDEX IF EXISTS customers_owner; DROP INDEX IF EXISTS customer_tags_customer;",
            )?;
            defer_triggers(self.store)?;
        }
        Ok(load)
    }
}

impl CustomerLoad<'_> {
    /// Stores one customer. While appending into an empty store every row
    /// is `Inserted` here; [`CustomerLoad::finish`] reports the merges.
    pub fn add(&mut self, c: &NewCustomer) -> Result<UpsertOutcome> {
        if !self.in_transaction {
            self.store.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.in_transaction = true;
        }
        let outcome = if self.append {
            UpsertOutcome::Inserted(self.append_customer(c)?)
        } else {
            self.store.customers().upsert_customer(c)?
        };
        self.rows_in_transaction += 1;
        if self.rows_in_transaction >= self.commit_rows {
            self.commit()?;
        }
        Ok(outcome)
    }

    fn append_customer(&mut self, c: &NewCustomer) -> Result<i64> {
        if c.name.trim().is_empty() {
            return Err(StoreError::Invalid("a customer needs a name".into()));
        }
        self.json.clear();
        serde_json::to_writer(&mut self.json, &c.custom_fields)
            .map_err(|e| StoreError::Invalid(format!("custom fields: {e}")))?;
        let json = std::str::from_utf8(&self.json)
            .map_err(|e| StoreError::Invalid(format!("custom fields: {e}")))?;
        self.insert_customer.execute(params![
            c.name,
            c.company,
            c.owner_user_id,
            json,
            now_ms()
        ])?;
        let id = self.store.conn.last_insert_rowid();
        for (position, p) in c.phones.iter().enumerate() {
            execute_insert_phone(&mut self.insert_phone, id, position, p)?;
        }
        for tag in &c.tags {
            self.insert_tag.execute(params![tag, id])?;
        }
        Ok(id)
    }

    fn commit(&mut self) -> Result<()> {
        if self.in_transaction {
            self.in_transaction = false;
            self.rows_in_transaction = 0;
            self.store.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    /// Commits, builds the deferred indexes, merges the duplicates an
    /// append load let in (each later customer into the earliest one with
    /// its name and one of its numbers, as a row-by-row upsert would have)
    /// and restores the store's normal settings.
    pub fn finish(mut self) -> Result<LoadMerges> {
        let started = std::time::Instant::now();
        self.commit()?;
        if let Some(bulk) = &self.bulk {
            bulk.rows_done()?;
        }
        let store = self.store;
        let mut merges = LoadMerges::default();
        let lap = |what: &str| {
            tracing::debug!(
                step = what,
                at_s = started.elapsed().as_secs_f64(),
                "customer load finishing"
            )
        };
        lap("committed");
        if self.append {
            store.ensure_indexes()?;
            lap("match index built");
            store.conn.execute_batch(LOAD_DEFERRED_INDEXES_SQL)?;
            lap("other indexes built");
            merges = store.in_transaction(|s| s.customers().merge_load_duplicates())?;
            lap("duplicates merged");
        }
        if let Some(bulk) = self.bulk.take() {
            bulk.finish()?;
        }
        lap("checkpointed");
        Ok(merges)
    }
}

impl Drop for CustomerLoad<'_> {
    /// A load abandoned by an error keeps what it committed; the open
    /// transaction is rolled back, then `BulkWrites` restores the store.
    fn drop(&mut self) {
        if self.in_transaction {
            let _ = self.store.conn.execute_batch("ROLLBACK");
        }
        if self.append {
            if let Err(e) = self
                .store
                .conn
                .execute_batch(LOAD_DEFERRED_INDEXES_SQL)
                .map_err(StoreError::from)
                .and_then(|()| restore_deferred_triggers(self.store))
            {
                tracing::error!(error = %e, "could not rebuild the customer indexes after a failed load");
            }
        }
    }
}

impl Customers<'_> {
    /// Merges customers that a load appended twice. SQLite finds the
    /// numbers held more than once by one covering scan of the match index
    /// (grouped in index order, no row leaves SQLite unless its number is
    /// repeated); only those numbers' holders are read, with their names.
    /// For every such number held by several customers of the same name,
    /// each later one is merged into the earliest, in id (= file) order, so
    /// later rows win as an upsert would have let them; the merged-away
    /// customers are deleted at the end by three set-based statements.
    fn merge_load_duplicates(&self) -> Result<LoadMerges> {
        // (later customer, position of its number, earlier customer)
        let mut links: Vec<(i64, i64, i64)> = Vec::new();
        {
            let mut repeated = self.store.conn.prepare(
                "SELECT national_rev, country_code
                 FROM customer_phones INDEXED BY customer_phones_match
                 GROUP BY national_rev, country_code HAVING count(*) > 1",
            )?;
            let mut holders = self.store.conn.prepare(
                "SELECT c.name, p.customer_id, p.position
                 FROM customer_phones p INDEXED BY customer_phones_match
                 JOIN customers c ON c.id = p.customer_id
                 WHERE p.national_rev = ?1 AND p.country_code IS ?2",
            )?;
            let mut keys = repeated.query([])?;
            let mut named: Vec<(String, i64, i64)> = Vec::new();
            while let Some(key) = keys.next()? {
                let rev = rusqlite::types::ToSqlOutput::Borrowed(key.get_ref(0)?);
                let cc = rusqlite::types::ToSqlOutput::Borrowed(key.get_ref(1)?);
                named.clear();
                let mut rows = holders.query(params![rev, cc])?;
                while let Some(r) = rows.next()? {
                    named.push((r.get(0)?, r.get(1)?, r.get(2)?));
                }
                named.sort();
                for w in 0..named.len() {
                    let first = named
                        .iter()
                        .find(|n| n.0 == named[w].0)
                        .map(|n| n.1)
                        .unwrap_or(named[w].1);
                    if first < named[w].1 {
                        links.push((named[w].1, named[w].2, first));
                    }
                }
            }
        }
        links.sort();
        let mut merges = LoadMerges::default();
        let mut root: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
        let mut last = None;
        for (later, _, earlier) in links {
            // A customer's first number (by position) with an earlier
            // namesake decides where it goes, as in `upsert_customer`.
            if last == Some(later) {
                continue;
            }
            last = Some(later);
            let mut target = earlier;
            while let Some(&r) = root.get(&target) {
                target = r;
            }
            let Some(row) = self.customer_as_new(later)? else {
                continue;
            };
            match self.merge_customer(target, &row)? {
                UpsertOutcome::Unchanged(_) => merges.unchanged += 1,
                _ => merges.updated += 1,
            }
            root.insert(later, target);
        }
        if !root.is_empty() {
            // A merged-away customer is never a target (its root is), so
            // deleting them all at the end is deleting each after its merge.
            self.store.conn.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS load_merged (id INTEGER PRIMARY KEY);
                 DELETE FROM temp.load_merged;",
            )?;
            {
                let mut add = self
                    .store
                    .conn
                    .prepare("INSERT INTO temp.load_merged (id) VALUES (?1)")?;
                for id in root.keys() {
                    add.execute([id])?;
                }
            }
            self.store.conn.execute_batch(
                "DELETE FROM customer_phones WHERE customer_id IN (SELECT id FROM temp.load_merged);
                 DELETE FROM customer_tags WHERE customer_id IN (SELECT id FROM temp.load_merged);
                 DELETE FROM customers WHERE id IN (SELECT id FROM temp.load_merged);
                 DROP TABLE temp.load_merged;",
            )?;
        }
        Ok(merges)
    }

    /// A stored customer as the row that created it, for merging it into another.
    fn customer_as_new(&self, id: i64) -> Result<Option<NewCustomer>> {
        let Some((name, company, owner_user_id, fields)) = self
            .store
            .conn
            .prepare_cached(
                "SELECT name, company, owner_user_id, custom_fields FROM customers WHERE id = ?1",
            )?
            .query_row([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()?
        else {
            return Ok(None);
        };
        let phones = self
            .store
            .conn
            .prepare_cached(
                "SELECT raw, e164, national, country_code, extension, kind, label
                 FROM customer_phones WHERE customer_id = ?1 ORDER BY position",
            )?
            .query_map([id], |r| {
                let kind: String = r.get(5)?;
                Ok(NewPhone {
                    number: Normalized {
                        raw: r.get(0)?,
                        e164: r.get(1)?,
                        national: r.get(2)?,
                        country_code: r.get(3)?,
                        extension: r.get(4)?,
                        kind: kind.parse().unwrap_or(NumberKind::Unknown),
                    },
                    label: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let tags = self
            .store
            .conn
            .prepare_cached("SELECT tag FROM customer_tags WHERE customer_id = ?1 ORDER BY tag")?
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Some(NewCustomer {
            name,
            company,
            owner_user_id,
            tags,
            custom_fields: serde_json::from_str(&fields).unwrap_or_default(),
            phones,
        }))
    }
}

const CUSTOMER_SELECT: &str =
    "SELECT c.id, c.name, c.company, u.username, c.custom_fields, c.created_at, c.updated_at
     FROM customers c LEFT JOIN users u ON u.id = c.owner_user_id";

pub(super) const PHONE_SELECT: &str =
    "SELECT customer_id, raw, e164, national, extension, kind, label FROM customer_phones";

fn customer_from_row(r: &Row<'_>) -> rusqlite::Result<Customer> {
    let fields: String = r.get(4)?;
    Ok(Customer {
        id: r.get(0)?,
        name: r.get(1)?,
        company: r.get(2)?,
        owner: r.get(3)?,
        tags: Vec::new(),
        custom_fields: serde_json::from_str(&fields).unwrap_or_default(),
        phones: Vec::new(),
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

pub(super) fn phone_from_row(r: &Row<'_>) -> rusqlite::Result<(i64, CustomerPhone)> {
    let kind: String = r.get(5)?;
    Ok((
        r.get(0)?,
        CustomerPhone {
            raw: r.get(1)?,
            e164: r.get(2)?,
            national: r.get(3)?,
            extension: r.get(4)?,
            kind: kind.parse().unwrap_or(NumberKind::Unknown),
            label: r.get(6)?,
        },
    ))
}

fn result(rule: MatchRule, matches: Vec<CustomerMatch>) -> LookupResult {
    LookupResult {
        rule,
        outcome: MatchOutcome::of(matches.len()),
        matches,
    }
}

/// The smallest string greater than every string starting with `prefix`
/// (digits only, so bumping the last byte never overflows past ASCII).
fn next_prefix(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last += 1;
    }
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every match query must be an index search, never a table scan.
    #[test]
    fn match_queries_use_the_match_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("plan.db")).unwrap();
        for sql in [
            EXACT_SQL.as_str(),
            NATIONAL_SQL.as_str(),
            SUFFIX_SQL.as_str(),
        ] {
            let plan = explain(&store, "EXPLAIN QUERY PLAN", sql, 3);
            assert!(
                plan.iter()
                    .any(|p| p.contains("INDEX customer_phones_match")),
                "{sql}: {plan:?}"
            );
            assert!(
                !plan.iter().any(|p| p.starts_with("SCAN")),
                "{sql}: {plan:?}"
            );
            // No temporary B-tree (for a sort or an IN list): creating and
            // freeing one costs more than the lookup itself.
            let ops = explain(&store, "EXPLAIN", sql, 1);
            assert!(
                !ops.iter()
                    .any(|op| op == "OpenEphemeral" || op == "SorterOpen"),
                "{sql}: {ops:?}"
            );
        }
    }

    fn pragma(store: &Store, name: &str) -> i64 {
        store
            .conn
            .pragma_query_value(None, name, |r| r.get(0))
            .unwrap()
    }

    /// A load's memory does not grow with the store: SQLite's page cache is
    /// bounded, no pages are mapped (mapped pages count as resident), and
    /// duplicates are found after the load, not in a map of every number.
    /// The normal settings and every index come back when it finishes.
    #[test]
    fn a_load_runs_in_bounded_memory_and_restores_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("load.db")).unwrap();
        let normal_cache = pragma(&store, "cache_size");
        let indexes = |s: &Store| -> Vec<String> {
            s.conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'customer%' ORDER BY 1")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let before = indexes(&store);
        let triggers_before = triggers(&store);
        let mut load = store.customers().load_customers().unwrap();
        let cache_kib = -pragma(&store, "cache_size");
        assert!((1..=64 * 1024).contains(&cache_kib), "{cache_kib} KiB");
        assert_eq!(pragma(&store, "mmap_size"), 0);
        let n = crate::phone::Normalizer::new(Default::default());
        for i in 0..3 {
            let c = NewCustomer {
                name: "王伟".into(),
                phones: vec![NewPhone {
                    number: n.normalize(&format!("1380000000{}", i.min(1))).unwrap(),
                    label: None,
                }],
                ..NewCustomer::default()
            };
            assert_eq!(load.add(&c).unwrap(), UpsertOutcome::Inserted(i + 1));
        }
        let merges = load.finish().unwrap();
        assert_eq!(
            merges,
            LoadMerges {
                updated: 0,
                unchanged: 1
            }
        );
        assert_eq!(store.customers().customer_count().unwrap(), 2);
        assert_eq!(pragma(&store, "cache_size"), normal_cache);
        assert!(pragma(&store, "mmap_size") > 0);
        assert_eq!(indexes(&store), before);
        assert_eq!(triggers(&store), triggers_before);
    }

    /// Every trigger on the customers' tables, its SQL with the whitespace
    /// folded: a load that drops one must bring back the migrations' own.
    fn triggers(store: &Store) -> Vec<(String, String)> {
        store
            .conn
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'
                 AND tbl_name IN ('customers', 'customer_phones') ORDER BY 1",
            )
            .unwrap()
            .query_map([], |r| {
                let sql: String = r.get(1)?;
                Ok((
                    r.get(0)?,
                    sql.split_whitespace().collect::<Vec<_>>().join(" "),
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// An append load writes customers without their insert triggers and
    /// fills what the triggers keep (the birthday's month and day, the
    /// searchable fields' values) at the end: the store ends as a load row
    /// by row leaves it, and a customer added afterwards is kept by the
    /// triggers again.
    #[test]
    fn an_append_load_fills_birthdays_and_searchable_values_as_row_by_row() {
        let stored = |append: bool| {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&dir.path().join("fields.db")).unwrap();
            store
                .conn
                .execute_batch(
                    "INSERT INTO customer_fields (key, position, label_zh, label_en, field_type, searchable, birthday)
                     VALUES ('birthday', 1, '生日', 'Birthday', 'date', 0, 1),
                            ('vip', 2, '等级', 'Level', 'text', 1, 0);",
                )
                .unwrap();
            let customer = |name: &str, fields: Value| NewCustomer {
                name: name.into(),
                custom_fields: fields.as_object().unwrap().clone(),
                ..NewCustomer::default()
            };
            let mut load = match append {
                true => store.customers().load_customers().unwrap(),
                false => store.customers().load_customers_live().unwrap(),
            };
            load.add(&customer(
                "王伟",
                serde_json::json!({"birthday": "1990-05-17", "vip": "gold"}),
            ))
            .unwrap();
            load.add(&customer(
                "李娜",
                serde_json::json!({"vip": 3, "birthday": "May 17"}),
            ))
            .unwrap();
            load.finish().unwrap();
            store
                .customers()
                .upsert_customer(&customer(
                    "张敏",
                    serde_json::json!({"birthday": "1985-12-08", "vip": "silver"}),
                ))
                .unwrap();
            let birthdays: Vec<(String, Option<String>)> = store
                .conn
                .prepare("SELECT name, birthday_md FROM customers ORDER BY id")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let values: Vec<(String, String, i64)> = store
                .conn
                .prepare("SELECT key, value, customer_id FROM customer_field_values ORDER BY 3, 1")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            (birthdays, values, triggers(&store))
        };
        let appended = stored(true);
        assert_eq!(appended, stored(false));
        let (birthdays, values, _) = appended;
        let s = |t: &str| t.to_string();
        assert_eq!(
            birthdays,
            [
                (s("王伟"), Some(s("05-17"))),
                (s("李娜"), None),
                (s("张敏"), Some(s("12-08")))
            ]
        );
        assert_eq!(
            values,
            [
                (s("vip"), s("gold"), 1),
                (s("vip"), s("3"), 2),
                (s("vip"), s("silver"), 3)
            ]
        );
    }

    /// Every customer as (name, company, numbers in order, tags, fields),
    /// sorted: what a load and a row-by-row upsert must agree on (ids of
    /// merged-away customers leave gaps in a load).
    type Shape = (
        String,
        String,
        Vec<(String, Option<String>)>,
        Vec<String>,
        String,
    );

    fn shapes(store: &Store) -> Vec<Shape> {
        let mut out = Vec::new();
        store
            .customers()
            .for_each_customer(|c| {
                out.push((
                    c.name,
                    c.company,
                    c.phones
                        .into_iter()
                        .map(|p| (p.national, p.label))
                        .collect(),
                    c.tags,
                    Value::Object(c.custom_fields).to_string(),
                ));
                Ok(())
            })
            .unwrap();
        out.sort();
        out
    }

    /// The set-based merge after a load gives what a row-by-row upsert of
    /// the same rows gives: duplicates far apart and in several commits,
    /// namesakes and other people sharing a number, and the counts of
    /// updated and unchanged rows. (Chains through a number an earlier
    /// merge brought are in tests/customer_import.rs; tangled ones, where
    /// several same-name customers share numbers crosswise, can differ
    /// from an upsert, as they did before the merge was set-based.)
    #[test]
    fn a_loads_merge_matches_a_row_by_row_upsert() {
        let n = crate::phone::Normalizer::new(Default::default());
        let phone = |text: &str, label: &str| NewPhone {
            number: n.normalize(text).unwrap(),
            label: Some(label.into()),
        };
        let mut rows = Vec::new();
        for i in 0..(LOAD_COMMIT_ROWS as usize + 2_500) {
            let mut c = NewCustomer {
                // Another person on the same number now and then.
                name: match i % 13 {
                    0 => format!("别人{i}"),
                    _ => format!("客户{}", i % 1_000),
                },
                company: if i % 3 == 0 {
                    format!("公司{i}")
                } else {
                    String::new()
                },
                phones: vec![phone(&format!("139{:08}", i % 5_000), "手机")],
                ..NewCustomer::default()
            };
            if i % 5 == 0 {
                c.phones
                    .push(phone(&format!("0571-8{:07}", i % 5_000), "办公"));
            }
            if i % 4 == 0 {
                c.tags.push(format!("组{}", i % 3));
            }
            if i % 6 == 0 {
                c.custom_fields
                    .insert("城市".into(), Value::String(format!("城{}", i % 11)));
            }
            rows.push(c);
        }
        let dir = tempfile::tempdir().unwrap();
        let loaded = Store::open(&dir.path().join("load.db")).unwrap();
        let mut load = loaded.customers().load_customers().unwrap();
        for c in &rows {
            load.add(c).unwrap();
        }
        let merges = load.finish().unwrap();
        let upserted = Store::open(&dir.path().join("upsert.db")).unwrap();
        let mut expected = LoadMerges::default();
        upserted
            .in_transaction(|s| {
                for c in &rows {
                    match s.customers().upsert_customer(c)? {
                        UpsertOutcome::Inserted(_) => {}
                        UpsertOutcome::Updated(_) => expected.updated += 1,
                        UpsertOutcome::Unchanged(_) => expected.unchanged += 1,
                    }
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert!(
            expected.updated > 0 && expected.unchanged > 0,
            "{expected:?}"
        );
        assert_eq!(merges, expected);
        assert_eq!(
            loaded.customers().customer_count().unwrap(),
            upserted.customers().customer_count().unwrap()
        );
        let (a, b) = (shapes(&loaded), shapes(&upserted));
        if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
            panic!(
                "the stored customers differ:\nload   {:?}\nupsert {:?}",
                a[i], b[i]
            );
        }
    }

    /// One column of `how` (EXPLAIN or EXPLAIN QUERY PLAN) over `sql`.
    fn explain(store: &Store, how: &str, sql: &str, column: usize) -> Vec<String> {
        let mut stmt = store.conn.prepare(&format!("{how} {sql}")).unwrap();
        let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
        stmt.query_map(rusqlite::params_from_iter(nulls), |r| {
            r.get::<_, String>(column)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }
}
