//! Customer groups (客户群): a group is a tag its members carry; it is
//! made by adding customers by hand or every customer a search finds, and
//! counted within what the viewer may reach. SMS campaigns and the
//! directory's filter select by it. Changes are audited.

use super::directory::{scope_clause, Actor};
use super::{AuditEntry, CustomerQuery, Directory, Filters, Result, Scope, StoreError};
use rusqlite::params;
use serde::Serialize;
use serde_json::json;

/// A group and how many (undeleted) customers within reach are in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub tag: String,
    pub count: i64,
}

/// The most customers one "add everyone found" adds.
pub const GROUP_ADD_MAX: i64 = 200_000;

/// A group's name as kept: trimmed, 1 to 32 characters.
fn group_name(tag: &str) -> Result<String> {
    let tag = tag.trim();
    if tag.is_empty() || tag.chars().count() > 32 {
        return Err(StoreError::Invalid(
            "a group's name has 1 to 32 characters".into(),
        ));
    }
    Ok(tag.to_string())
}

impl Directory<'_> {
    /// The groups within `scope`, by name, with their counts.
    pub fn groups(&self, scope: &Scope) -> Result<Vec<Group>> {
        let mut w = Filters::new(
            "SELECT t.tag, count(*) FROM customer_tags t JOIN customers c ON c.id = t.customer_id
             WHERE c.deleted_at IS NULL"
                .into(),
        );
        if !scope_clause(&mut w, scope) {
            return Ok(Vec::new());
        }
        w.sql.push_str(" GROUP BY t.tag ORDER BY t.tag");
        let mut stmt = self.store.conn.prepare_cached(&w.sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(w.args.iter()), |r| {
            Ok(Group {
                tag: r.get(0)?,
                count: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds these customers (the caller checked they are within reach) to
    /// group `tag`; how many joined.
    pub fn add_to_group(&self, tag: &str, ids: &[i64], actor: Actor<'_>) -> Result<u64> {
        let tag = group_name(tag)?;
        self.store.in_transaction(|s| {
            let mut insert = s.conn.prepare_cached(
                "INSERT OR IGNORE INTO customer_tags (tag, customer_id)
                 SELECT ?1, id FROM customers WHERE id = ?2 AND deleted_at IS NULL",
            )?;
            let mut added = 0;
            for id in ids {
                added += insert.execute(params![tag, id])? as u64;
            }
            s.directory().audit_group(
                actor,
                "customer.group_add",
                &tag,
                json!({ "customers": ids, "added": added }),
            )?;
            Ok(added)
        })
    }

    /// Adds every customer `q` finds within `scope` (every page, up to
    /// [`GROUP_ADD_MAX`]) to group `tag`; how many joined.
    pub fn add_matching_to_group(
        &self,
        tag: &str,
        q: &CustomerQuery,
        scope: &Scope,
        actor: Actor<'_>,
    ) -> Result<u64> {
        let tag = group_name(tag)?;
        let mut q = q.clone();
        q.after = None;
        let Some((mut w, _)) = Self::query_of(&q, scope)? else {
            return Ok(0);
        };
        w.and(" LIMIT ?", GROUP_ADD_MAX);
        let sql = format!(
            "INSERT OR IGNORE INTO customer_tags (tag, customer_id)
             SELECT ?{}, id FROM ({})",
            w.args.len() + 1,
            w.sql
        );
        w.args.push(tag.clone().into());
        self.store.in_transaction(|s| {
            let added = s
                .conn
                .prepare(&sql)?
                .execute(rusqlite::params_from_iter(w.args.iter()))? as u64;
            let filter = json!({ "number": q.number, "name": q.name, "company": q.company,
                "tag": q.tag, "owner": q.owner });
            s.directory().audit_group(
                actor,
                "customer.group_add",
                &tag,
                json!({ "filter": filter, "added": added }),
            )?;
            Ok(added)
        })
    }

    /// Takes these customers out of group `tag`; how many left.
    pub fn remove_from_group(&self, tag: &str, ids: &[i64], actor: Actor<'_>) -> Result<u64> {
        let tag = group_name(tag)?;
        self.store.in_transaction(|s| {
            let mut delete = s
                .conn
                .prepare_cached("DELETE FROM customer_tags WHERE tag = ?1 AND customer_id = ?2")?;
            let mut removed = 0;
            for id in ids {
                removed += delete.execute(params![tag, id])? as u64;
            }
            s.directory().audit_group(
                actor,
                "customer.group_remove",
                &tag,
                json!({ "customers": ids, "removed": removed }),
            )?;
            Ok(removed)
        })
    }

    fn audit_group(
        &self,
        actor: Actor<'_>,
        action: &str,
        tag: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        self.store.users().audit(&AuditEntry {
            actor: &actor.user.username,
            user_id: Some(actor.user.id),
            action,
            target: Some(&format!("group:{tag}")),
            detail,
            remote_addr: actor.remote_addr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewCustomer, Role, Store};

    #[test]
    fn groups_are_made_by_hand_and_by_search_and_counted_within_reach() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("g.db")).unwrap();
        for (name, role) in [("a1", Role::Agent), ("root", Role::Admin)] {
            store
                .users()
                .add_user(name, name, role, Some("sales"), None)
                .unwrap();
        }
        let a1 = store.users().user_by_name("a1").unwrap().unwrap();
        let root = store.users().user_by_name("root").unwrap().unwrap();
        let actor = Actor {
            user: &root,
            remote_addr: None,
        };
        let add = |name: &str, owner: i64| {
            store
                .customers()
                .insert_customer(&NewCustomer {
                    name: name.into(),
                    owner_user_id: Some(owner),
                    ..NewCustomer::default()
                })
                .unwrap()
        };
        let wang = add("王伟", a1.id);
        let wang2 = add("王芳", root.id);
        add("李娜", a1.id);
        let d = store.directory();
        assert_eq!(
            d.add_to_group(" 回访名单 ", &[wang, wang], actor).unwrap(),
            1
        );
        let by_name = CustomerQuery {
            name: Some("王".into()),
            ..Default::default()
        };
        assert_eq!(
            d.add_matching_to_group("王姓客户", &by_name, &Scope::All, actor)
                .unwrap(),
            2
        );
        assert_eq!(
            d.groups(&Scope::All).unwrap(),
            [
                Group {
                    tag: "回访名单".into(),
                    count: 1
                },
                Group {
                    tag: "王姓客户".into(),
                    count: 2
                }
            ]
        );
        // An agent counts their own.
        let mine = d.groups(&Scope::Agent(a1.id)).unwrap();
        assert_eq!(mine[1].count, 1);
        assert_eq!(d.remove_from_group("王姓客户", &[wang2], actor).unwrap(), 1);
        assert_eq!(d.groups(&Scope::All).unwrap()[1].count, 1);
        assert!(d.add_to_group("  ", &[wang], actor).is_err());
        // An agent's "everyone found" adds only theirs.
        let added = d
            .add_matching_to_group("新群", &by_name, &Scope::Agent(a1.id), actor)
            .unwrap();
        assert_eq!(added, 1);
    }
}
