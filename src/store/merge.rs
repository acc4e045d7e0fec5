//! Merging duplicate customers (合并客户) and undoing a merge within 30
//! days. The duplicate's calls, work orders, notes, call-backs and SMS
//! recipients move to the kept customer; its numbers and groups are added
//! to the kept one's, its custom values fill the kept one's gaps; it is
//! soft deleted as merged. Exactly what moved is recorded, so an undo moves
//! back only that (a call taken since stays with the kept customer) and
//! gives the kept customer back its values. Both are audited.

use super::directory::Actor;
use super::{AuditEntry, Directory, Result, StoreError, MAX_PHONES};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// How long a merge can be undone.
pub const MERGE_UNDO_MS: i64 = 30 * 86_400_000;

/// A merge, as the customer page lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Merge {
    pub id: i64,
    pub kept_id: i64,
    pub merged_id: i64,
    pub merged_name: String,
    pub at: i64,
    pub by: Option<String>,
    pub undo_until: i64,
    pub undone_at: Option<i64>,
    /// How many calls, work orders, notes and call-backs moved.
    pub moved: Value,
}

/// Why a merge or an undo was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeRefused {
    #[error("a customer cannot be merged into itself")]
    Same,
    #[error("no such customer (or it is deleted)")]
    NotFound,
    #[error("no such merge")]
    NoMerge,
    #[error("this merge was undone already")]
    Undone,
    #[error("a merge can be undone for 30 days only")]
    TooLate,
    #[error("one of the two customers was merged again since; undo that first")]
    MergedSince,
}

/// The ids of `table`'s rows whose `customer_id` is `customer`.
fn ids_of(d: &Directory<'_>, table: &str, customer: i64) -> Result<Vec<i64>> {
    let mut stmt = d.store.conn.prepare_cached(&format!(
        "SELECT id FROM {table} WHERE customer_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([customer], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The tables whose rows follow a customer through a merge.
const MOVED: [(&str, &str); 4] = [
    ("calls", "calls"),
    ("work_orders", "work_orders"),
    ("notes", "customer_notes"),
    ("followups", "followups"),
];

impl Directory<'_> {
    /// Merges customer `gone` into `keep`; the merge's id, or why not.
    pub fn merge(
        &self,
        keep: i64,
        gone: i64,
        actor: Actor<'_>,
        now: i64,
    ) -> Result<std::result::Result<i64, MergeRefused>> {
        if keep == gone {
            return Ok(Err(MergeRefused::Same));
        }
        self.store.in_transaction(|s| {
            let d = s.directory();
            let live = |id: i64| -> Result<Option<(String, Map<String, Value>)>> {
                Ok(s.conn
                    .prepare_cached(
                        "SELECT name, custom_fields FROM customers WHERE id = ?1 AND deleted_at IS NULL",
                    )?
                    .query_row([id], |r| {
                        let fields: String = r.get(1)?;
                        Ok((r.get(0)?, serde_json::from_str(&fields).unwrap_or_default()))
                    })
                    .optional()?)
            };
            let (Some((_, kept_fields)), Some((gone_name, gone_fields))) = (live(keep)?, live(gone)?)
            else {
                return Ok(Err(MergeRefused::NotFound));
            };
            // The two customers as they were, for the audit.
            let before = json!({
                "kept": d.get(keep, &super::Scope::All)?,
                "merged": d.get(gone, &super::Scope::All)?,
            });
            let mut record = Map::new();
            record.insert("kept_before".into(), json!({ "custom_fields": kept_fields }));
            for (key, table) in MOVED {
                let ids = ids_of(&d, table, gone)?;
                s.conn.execute(
                    &format!("UPDATE {table} SET customer_id = ?1 WHERE customer_id = ?2"),
                    params![keep, gone],
                )?;
                record.insert(key.into(), json!(ids));
            }
            let recipients: Vec<(i64, i64)> = s
                .conn
                .prepare_cached(
                    "SELECT campaign_id, seq FROM sms_campaign_recipients WHERE customer_id = ?1",
                )?
                .query_map([gone], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            s.conn.execute(
                "UPDATE sms_campaign_recipients SET customer_id = ?1 WHERE customer_id = ?2",
                params![keep, gone],
            )?;
            record.insert("recipients".into(), json!(recipients));
            // Numbers the kept customer lacks, after its own, up to the most.
            let next: i64 = s.conn.query_row(
                "SELECT coalesce(max(position) + 1, 0) FROM customer_phones WHERE customer_id = ?1",
                [keep],
                |r| r.get(0),
            )?;
            let added: Vec<i64> = s
                .conn
                .prepare_cached(
                    "SELECT position FROM customer_phones
                      WHERE customer_id = ?1
                        AND national NOT IN (SELECT national FROM customer_phones WHERE customer_id = ?2)
                      ORDER BY position",
                )?
                .query_map(params![gone, keep], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let room = (MAX_PHONES as i64 - next).max(0) as usize;
            // Recorded by number, not position: an edit renumbers positions.
            let mut phones_added: Vec<String> = Vec::new();
            for (i, from) in added.iter().take(room).enumerate() {
                let to = next + i as i64;
                s.conn.execute(
                    "INSERT INTO customer_phones (customer_id, position, raw, e164, national,
                         national_rev, country_code, extension, kind, label)
                     SELECT ?1, ?2, raw, e164, national, national_rev, country_code, extension,
                            kind, label
                     FROM customer_phones WHERE customer_id = ?3 AND position = ?4",
                    params![keep, to, gone, from],
                )?;
                phones_added.push(s.conn.query_row(
                    "SELECT national FROM customer_phones WHERE customer_id = ?1 AND position = ?2",
                    params![keep, to],
                    |r| r.get(0),
                )?);
            }
            record.insert("phones_added".into(), json!(phones_added));
            let tags_added: Vec<String> = s
                .conn
                .prepare_cached(
                    "SELECT tag FROM customer_tags WHERE customer_id = ?1
                       AND tag NOT IN (SELECT tag FROM customer_tags WHERE customer_id = ?2)",
                )?
                .query_map(params![gone, keep], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for tag in &tags_added {
                s.conn.execute(
                    "INSERT INTO customer_tags (tag, customer_id) VALUES (?1, ?2)",
                    params![tag, keep],
                )?;
            }
            record.insert("tags_added".into(), json!(tags_added));
            let mut fields = kept_fields.clone();
            let mut filled = Map::new();
            for (k, v) in gone_fields {
                let empty = fields.get(&k).is_none_or(|old| {
                    old.is_null() || old.as_str().is_some_and(|s| s.trim().is_empty())
                });
                if empty {
                    filled.insert(k.clone(), v.clone());
                    fields.insert(k, v);
                }
            }
            record.insert("fields_filled".into(), Value::Object(filled));
            s.conn.execute(
                "UPDATE customers SET custom_fields = ?2, updated_at = ?3,
                     last_call_at = (SELECT max(started_at) FROM calls WHERE customer_id = ?1)
                 WHERE id = ?1",
                params![keep, Value::Object(fields).to_string(), now],
            )?;
            s.conn.execute(
                "UPDATE customers SET deleted_at = ?2, deleted_by = ?3, merged_into = ?4,
                     updated_at = ?2
                 WHERE id = ?1",
                params![gone, now, actor.user.id, keep],
            )?;
            s.conn.execute(
                "INSERT INTO customer_merges (kept_id, merged_id, at, by_user_id, undo_until, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    keep,
                    gone,
                    now,
                    actor.user.id,
                    now + MERGE_UNDO_MS,
                    Value::Object(record.clone()).to_string()
                ],
            )?;
            let id = s.conn.last_insert_rowid();
            let counts: Map<String, Value> = MOVED
                .iter()
                .map(|(k, _)| (k.to_string(), json!(record[*k].as_array().map_or(0, Vec::len))))
                .collect();
            s.users().audit(&AuditEntry {
                actor: &actor.user.username,
                user_id: Some(actor.user.id),
                action: "customer.merge",
                target: Some(&format!("customer:{keep}")),
                detail: json!({
                    "merge": id, "merged": gone, "merged_name": gone_name, "moved": counts,
                    "before": before,
                    "after": { "kept": d.get(keep, &super::Scope::All)? },
                }),
                remote_addr: actor.remote_addr,
            })?;
            Ok(Ok(id))
        })
    }

    /// Undoes merge `id` within its 30 days: what moved goes back, the kept
    /// customer's values and the merged customer come back.
    pub fn undo_merge(
        &self,
        id: i64,
        actor: Actor<'_>,
        now: i64,
    ) -> Result<std::result::Result<(), MergeRefused>> {
        self.store.in_transaction(|s| {
            let found: Option<(i64, i64, i64, Option<i64>, String)> = s
                .conn
                .prepare_cached(
                    "SELECT kept_id, merged_id, undo_until, undone_at, record
                     FROM customer_merges WHERE id = ?1",
                )?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
                .optional()?;
            let Some((keep, gone, until, undone, record)) = found else {
                return Ok(Err(MergeRefused::NoMerge));
            };
            if undone.is_some() {
                return Ok(Err(MergeRefused::Undone));
            }
            if now > until {
                return Ok(Err(MergeRefused::TooLate));
            }
            let merged_into = |id: i64| -> Result<Option<i64>> {
                Ok(s.conn.query_row(
                    "SELECT merged_into FROM customers WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )?)
            };
            // Later merges first: the kept customer must still be itself.
            if merged_into(gone)? != Some(keep) || merged_into(keep)?.is_some() {
                return Ok(Err(MergeRefused::MergedSince));
            }
            let before = json!({ "kept": s.directory().get(keep, &super::Scope::All)? });
            let record: Value = serde_json::from_str(&record)
                .map_err(|e| StoreError::Invalid(format!("merge {id}'s record: {e}")))?;
            let list = |key: &str| -> Vec<i64> {
                record[key]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default()
            };
            for (key, table) in MOVED {
                let mut back = s.conn.prepare_cached(&format!(
                    "UPDATE {table} SET customer_id = ?1 WHERE id = ?2 AND customer_id = ?3"
                ))?;
                for row in list(key) {
                    back.execute(params![gone, row, keep])?;
                }
            }
            if let Some(recipients) = record["recipients"].as_array() {
                let mut back = s.conn.prepare_cached(
                    "UPDATE sms_campaign_recipients SET customer_id = ?1
                     WHERE campaign_id = ?2 AND seq = ?3 AND customer_id = ?4",
                )?;
                for r in recipients {
                    if let (Some(c), Some(seq)) = (r[0].as_i64(), r[1].as_i64()) {
                        back.execute(params![gone, c, seq, keep])?;
                    }
                }
            }
            let mut drop_phone = s
                .conn
                .prepare_cached("DELETE FROM customer_phones WHERE customer_id = ?1 AND national = ?2")?;
            for national in record["phones_added"].as_array().into_iter().flatten() {
                if let Some(national) = national.as_str() {
                    drop_phone.execute(params![keep, national])?;
                }
            }
            if let Some(tags) = record["tags_added"].as_array() {
                for tag in tags.iter().filter_map(Value::as_str) {
                    s.conn.execute(
                        "DELETE FROM customer_tags WHERE customer_id = ?1 AND tag = ?2",
                        params![keep, tag],
                    )?;
                }
            }
            // The values the merge filled go, unless edited since; other
            // edits made since the merge stay.
            let current: String = s.conn.query_row(
                "SELECT custom_fields FROM customers WHERE id = ?1",
                [keep],
                |r| r.get(0),
            )?;
            let mut fields: Map<String, Value> = serde_json::from_str(&current).unwrap_or_default();
            if let Some(filled) = record["fields_filled"].as_object() {
                for (k, v) in filled {
                    if fields.get(k) == Some(v) {
                        fields.remove(k);
                    }
                }
            }
            let restored = Value::Object(fields).to_string();
            for (customer, fields) in [(keep, Some(restored)), (gone, None)] {
                s.conn.execute(
                    "UPDATE customers SET custom_fields = coalesce(?2, custom_fields), updated_at = ?3,
                         last_call_at = (SELECT max(started_at) FROM calls WHERE customer_id = ?1)
                     WHERE id = ?1",
                    params![customer, fields, now],
                )?;
            }
            s.conn.execute(
                "UPDATE customers SET deleted_at = NULL, deleted_by = NULL, merged_into = NULL
                 WHERE id = ?1",
                [gone],
            )?;
            s.conn.execute(
                "UPDATE customer_merges SET undone_at = ?2, undone_by = ?3 WHERE id = ?1",
                params![id, now, actor.user.id],
            )?;
            s.users().audit(&AuditEntry {
                actor: &actor.user.username,
                user_id: Some(actor.user.id),
                action: "customer.merge_undo",
                target: Some(&format!("customer:{keep}")),
                detail: json!({
                    "merge": id, "merged": gone, "before": before,
                    "after": {
                        "kept": s.directory().get(keep, &super::Scope::All)?,
                        "merged": s.directory().get(gone, &super::Scope::All)?,
                    },
                }),
                remote_addr: actor.remote_addr,
            })?;
            Ok(Ok(()))
        })
    }

    /// The merges a customer took part in (kept or merged), newest first.
    pub fn merges_of(&self, customer: i64) -> Result<Vec<Merge>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT m.id, m.kept_id, m.merged_id, c.name, m.at, u.username, m.undo_until,
                    m.undone_at, m.record
             FROM customer_merges m JOIN customers c ON c.id = m.merged_id
             LEFT JOIN users u ON u.id = m.by_user_id
             WHERE m.kept_id = ?1 OR m.merged_id = ?1 ORDER BY m.id DESC",
        )?;
        let rows = stmt.query_map([customer], |r| {
            let record: String = r.get(8)?;
            let record: Value = serde_json::from_str(&record).unwrap_or(Value::Null);
            let moved: Map<String, Value> = MOVED
                .iter()
                .map(|(k, _)| {
                    (
                        k.to_string(),
                        json!(record[*k].as_array().map_or(0, Vec::len)),
                    )
                })
                .collect();
            Ok(Merge {
                id: r.get(0)?,
                kept_id: r.get(1)?,
                merged_id: r.get(2)?,
                merged_name: r.get(3)?,
                at: r.get(4)?,
                by: r.get(5)?,
                undo_until: r.get(6)?,
                undone_at: r.get(7)?,
                moved: Value::Object(moved),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The customer a merge kept.
    pub fn merge_kept(&self, merge: i64) -> Result<Option<i64>> {
        Ok(self
            .store
            .conn
            .prepare_cached("SELECT kept_id FROM customer_merges WHERE id = ?1")?
            .query_row([merge], |r| r.get(0))
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::{Normalizer, NormalizerSettings};
    use crate::store::{NewCustomer, NewPhone, Role, Scope, Store, User};

    fn phone(n: &str) -> NewPhone {
        NewPhone {
            number: Normalizer::new(NormalizerSettings::default())
                .normalize(n)
                .unwrap(),
            label: None,
        }
    }

    fn setup() -> (tempfile::TempDir, Store, User) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("m.db")).unwrap();
        store
            .users()
            .add_user("root", "root", Role::Admin, None, None)
            .unwrap();
        let root = store.users().user_by_name("root").unwrap().unwrap();
        store
            .workorders()
            .put_form(&crate::store::workorders::plain_form("service"))
            .unwrap();
        (dir, store, root)
    }

    fn add(store: &Store, name: &str, numbers: &[&str], tags: &[&str], fields: Value) -> i64 {
        store
            .customers()
            .insert_customer(&NewCustomer {
                name: name.into(),
                phones: numbers.iter().map(|n| phone(n)).collect(),
                tags: tags.iter().map(|t| t.to_string()).collect(),
                custom_fields: fields.as_object().cloned().unwrap_or_default(),
                ..NewCustomer::default()
            })
            .unwrap()
    }

    #[test]
    fn a_merge_moves_everything_and_its_undo_moves_back_only_that() {
        let (_dir, store, root) = setup();
        let actor = Actor {
            user: &root,
            remote_addr: None,
        };
        let d = store.directory();
        let keep = add(
            &store,
            "王伟",
            &["13800138000"],
            &["VIP"],
            json!({"city": "杭州"}),
        );
        let gone = add(
            &store,
            "王伟 (重复)",
            &["13800138000", "021-61234567"],
            &["经销商"],
            json!({"city": "上海", "level": "金卡"}),
        );
        let order = store
            .workorders()
            .save_work_order("service", Some(gone), None, root.id, "k", &Map::new())
            .unwrap()
            .id;
        d.add_note(gone, "老客户", None, &root).unwrap();
        let now = 1_000_000;
        let merge = d.merge(keep, gone, actor, now).unwrap().unwrap();
        let kept = d.get(keep, &Scope::All).unwrap().unwrap();
        let numbers: Vec<&str> = kept.phones.iter().map(|p| p.national.as_str()).collect();
        assert_eq!(numbers, ["13800138000", "2161234567"]);
        assert_eq!(kept.tags, ["VIP", "经销商"]);
        assert_eq!(
            Value::Object(kept.custom_fields.clone()),
            json!({"city": "杭州", "level": "金卡"})
        );
        assert_eq!(
            store.workorders().customer_work_orders(keep, 10).unwrap()[0].id,
            order
        );
        assert_eq!(d.notes(keep, 10).unwrap().len(), 1);
        assert!(d
            .get(gone, &Scope::All)
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some());
        let listed = d.merges_of(keep).unwrap();
        assert_eq!(
            listed[0].moved,
            json!({"calls": 0, "work_orders": 1, "notes": 1, "followups": 0})
        );

        // A note written after the merge stays with the kept customer, and
        // so does an edit (which renumbers the numbers).
        d.add_note(keep, "合并后的记录", None, &root).unwrap();
        let mut fields = kept.custom_fields.clone();
        fields.insert("vip".into(), json!("是"));
        d.update(
            keep,
            &crate::store::CustomerEdit {
                name: "王伟".into(),
                company: String::new(),
                phones: vec![phone("021-61234567"), phone("13800138000")],
                tags: kept.tags.clone(),
                custom_fields: fields,
            },
            actor,
        )
        .unwrap();
        assert_eq!(
            d.merge(keep, gone, actor, now).unwrap(),
            Err(MergeRefused::NotFound),
            "a merged customer is gone"
        );
        assert_eq!(
            d.undo_merge(merge, actor, now + MERGE_UNDO_MS + 1).unwrap(),
            Err(MergeRefused::TooLate)
        );
        d.undo_merge(merge, actor, now + 1000).unwrap().unwrap();
        let kept = d.get(keep, &Scope::All).unwrap().unwrap();
        let numbers: Vec<&str> = kept.phones.iter().map(|p| p.national.as_str()).collect();
        assert_eq!(
            numbers,
            ["13800138000"],
            "its own number stays, the merged one goes"
        );
        assert_eq!(kept.tags, ["VIP"]);
        assert_eq!(
            Value::Object(kept.custom_fields),
            json!({"city": "杭州", "vip": "是"}),
            "the filled value goes, the later edit stays"
        );
        let back = d.get(gone, &Scope::All).unwrap().unwrap();
        assert!(back.deleted_at.is_none());
        assert_eq!(back.phones.len(), 2);
        assert_eq!(
            store.workorders().customer_work_orders(gone, 10).unwrap()[0].id,
            order
        );
        assert_eq!(d.notes(gone, 10).unwrap().len(), 1);
        assert_eq!(d.notes(keep, 10).unwrap()[0].body, "合并后的记录");
        assert_eq!(
            d.undo_merge(merge, actor, now + 2000).unwrap(),
            Err(MergeRefused::Undone)
        );
        assert_eq!(
            d.merge(keep, keep, actor, now).unwrap(),
            Err(MergeRefused::Same)
        );
        let audit = store
            .users()
            .search_audit(&crate::store::AuditQuery {
                action: Some("customer.merge".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(audit.len(), 2, "the merge and its undo");
        // Newest first: the undo, then the merge; each with before and after.
        let (undo, merge) = (&audit[0].detail, &audit[1].detail);
        assert_eq!(merge["before"]["merged"]["id"], gone);
        assert_eq!(
            merge["before"]["kept"]["phones"].as_array().unwrap().len(),
            1
        );
        assert_eq!(
            merge["after"]["kept"]["phones"].as_array().unwrap().len(),
            2
        );
        assert_eq!(
            undo["before"]["kept"]["phones"].as_array().unwrap().len(),
            2
        );
        assert_eq!(undo["after"]["kept"]["phones"].as_array().unwrap().len(), 1);
        assert!(undo["after"]["merged"]["deleted_at"].is_null());
    }

    #[test]
    fn a_merge_merged_again_is_undone_last_first() {
        let (_dir, store, root) = setup();
        let actor = Actor {
            user: &root,
            remote_addr: None,
        };
        let d = store.directory();
        let a = add(&store, "甲", &["13800138000"], &[], json!({}));
        let b = add(&store, "乙", &["13900139000"], &[], json!({}));
        let c = add(&store, "丙", &["13700137000"], &[], json!({}));
        let first = d.merge(b, a, actor, 10).unwrap().unwrap();
        // b itself goes into c; a (merged into b) cannot come back before b.
        let second = d.merge(c, b, actor, 20).unwrap().unwrap();
        assert_eq!(d.get(c, &Scope::All).unwrap().unwrap().phones.len(), 3);
        assert_eq!(
            d.undo_merge(first, actor, 25).unwrap(),
            Err(MergeRefused::MergedSince)
        );
        d.undo_merge(second, actor, 30).unwrap().unwrap();
        d.undo_merge(first, actor, 40).unwrap().unwrap();
        for id in [a, b, c] {
            assert_eq!(d.get(id, &Scope::All).unwrap().unwrap().phones.len(), 1);
        }
    }
}
