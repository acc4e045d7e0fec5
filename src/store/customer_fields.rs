//! The definitions of customers' custom fields (自定义字段) and the
//! birthday reminders they make possible: whose birthday is on a day,
//! within what the viewer may reach, by one index lookup (the
//! `birthday_md` column, kept by triggers from the field marked as the
//! birthday).

use super::directory::{row_from, scope_clause, Actor, CustomerRow, ROW_COLUMNS};
use super::{AuditEntry, Directory, Filters, Result, Scope, StoreError};
use crate::domain::custom_fields::{check_defs, CustomFieldDef, CustomFieldType};
use rusqlite::params;
use serde_json::json;

/// The birthday's month and day of every customer, from the field `key`
/// (`NULL` without one), as the triggers keep it.
pub(super) const RECOMPUTE_BIRTHDAYS: &str = "UPDATE customers SET birthday_md = (
    SELECT CASE WHEN v GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' THEN substr(v, 6, 5) END
    FROM (SELECT json_extract(customers.custom_fields, '$.\"' || key || '\"') AS v
          FROM customer_fields WHERE birthday))";

/// Fills the searchable values of field `?1` from every customer.
pub(super) const FILL_FIELD_VALUES: &str =
    "INSERT OR IGNORE INTO customer_field_values (key, value, customer_id)
    SELECT j.key, CAST(j.value AS TEXT), c.id
    FROM customers c, json_each(c.custom_fields) j
    WHERE j.key = ?1 AND j.type IN ('text', 'integer', 'real') AND CAST(j.value AS TEXT) <> ''";

impl Directory<'_> {
    /// The custom fields, in the order the forms show them.
    pub fn field_defs(&self) -> Result<Vec<CustomFieldDef>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT key, label_zh, label_en, field_type, required, options, in_pop, searchable,
                    birthday, in_sms
             FROM customer_fields ORDER BY position, key",
        )?;
        let rows = stmt.query_map([], |r| {
            let field_type: String = r.get(3)?;
            let options: String = r.get(5)?;
            Ok(CustomFieldDef {
                key: r.get(0)?,
                label_zh: r.get(1)?,
                label_en: r.get(2)?,
                field_type: CustomFieldType::parse(&field_type),
                required: r.get(4)?,
                options: serde_json::from_str(&options).unwrap_or_default(),
                in_pop: r.get(6)?,
                searchable: r.get(7)?,
                birthday: r.get(8)?,
                in_sms: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Replaces the definitions (the values stay as they are); when the
    /// birthday field changes, every customer's reminder day follows.
    /// Audited with the definitions before and after.
    pub fn put_field_defs(&self, defs: &[CustomFieldDef], actor: Actor<'_>) -> Result<()> {
        check_defs(defs).map_err(|e| StoreError::Invalid(e.message))?;
        self.store.in_transaction(|s| {
            let d = s.directory();
            let before = d.field_defs()?;
            s.conn.execute("DELETE FROM customer_fields", [])?;
            let mut insert = s.conn.prepare_cached(
                "INSERT INTO customer_fields (key, position, label_zh, label_en, field_type,
                     required, options, in_pop, searchable, birthday, in_sms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for (i, f) in defs.iter().enumerate() {
                insert.execute(params![
                    f.key,
                    i as i64,
                    f.label_zh.trim(),
                    f.label_en.trim(),
                    f.field_type.as_str(),
                    f.required,
                    serde_json::to_string(&f.options).unwrap_or_else(|_| "[]".into()),
                    f.in_pop,
                    f.searchable,
                    f.birthday,
                    f.in_sms,
                ])?;
            }
            let birthday =
                |list: &[CustomFieldDef]| list.iter().find(|f| f.birthday).map(|f| f.key.clone());
            if birthday(&before) != birthday(defs) {
                s.conn.execute(RECOMPUTE_BIRTHDAYS, [])?;
            }
            // A field made searchable is filled; one no longer searchable
            // (or gone) is emptied.
            let searchable = |list: &[CustomFieldDef], key: &str| {
                list.iter().any(|f| f.key == key && f.searchable)
            };
            for f in &before {
                if f.searchable && !searchable(defs, &f.key) {
                    s.conn
                        .execute("DELETE FROM customer_field_values WHERE key = ?1", [&f.key])?;
                }
            }
            for f in defs {
                if f.searchable && !searchable(&before, &f.key) {
                    s.conn.execute(FILL_FIELD_VALUES, [&f.key])?;
                }
            }
            s.users().audit(&AuditEntry {
                actor: &actor.user.username,
                user_id: Some(actor.user.id),
                action: "customer_fields.put",
                target: None,
                detail: json!({ "before": before, "after": defs }),
                remote_addr: actor.remote_addr,
            })?;
            Ok(())
        })
    }

    /// The customers within `scope` whose birthday is on `month_day`
    /// (`MM-DD`), undeleted, by name.
    pub fn birthdays(
        &self,
        month_day: &str,
        scope: &Scope,
        limit: usize,
    ) -> Result<Vec<CustomerRow>> {
        let mut w = Filters::new(format!(
            "SELECT {ROW_COLUMNS} FROM customers c LEFT JOIN users u ON u.id = c.owner_user_id
             WHERE c.birthday_md = ?1 AND c.deleted_at IS NULL"
        ));
        w.args.push(month_day.to_string().into());
        if !scope_clause(&mut w, scope) {
            return Ok(Vec::new());
        }
        w.and(" ORDER BY c.name, c.id LIMIT ?", limit as i64);
        let mut rows = self
            .store
            .conn
            .prepare_cached(&w.sql)?
            .query_map(rusqlite::params_from_iter(w.args.iter()), row_from)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for row in &mut rows {
            self.fill(row)?;
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::custom_fields::FieldOption;
    use crate::store::{NewCustomer, Role, Store, User};
    use serde_json::Value;

    fn setup() -> (tempfile::TempDir, Store, User, User) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("f.db")).unwrap();
        for (name, role) in [("a1", Role::Agent), ("root", Role::Admin)] {
            store
                .users()
                .add_user(name, name, role, Some("sales"), None)
                .unwrap();
        }
        let a1 = store.users().user_by_name("a1").unwrap().unwrap();
        let root = store.users().user_by_name("root").unwrap().unwrap();
        (dir, store, a1, root)
    }

    fn add(store: &Store, name: &str, owner: i64, fields: Value) -> i64 {
        store
            .customers()
            .insert_customer(&NewCustomer {
                name: name.into(),
                owner_user_id: Some(owner),
                custom_fields: fields.as_object().unwrap().clone(),
                ..NewCustomer::default()
            })
            .unwrap()
    }

    fn def(key: &str, t: CustomFieldType, birthday: bool) -> CustomFieldDef {
        CustomFieldDef {
            key: key.into(),
            label_zh: format!("{key}字段"),
            label_en: key.into(),
            field_type: t,
            required: false,
            options: Vec::new(),
            in_pop: true,
            searchable: false,
            birthday,
            in_sms: true,
        }
    }

    #[test]
    fn birthdays_follow_the_marked_field_and_the_scope() {
        let (_dir, store, a1, root) = setup();
        let actor = Actor {
            user: &root,
            remote_addr: None,
        };
        let d = store.directory();
        // Before any field is the birthday, nobody has one.
        let early = add(&store, "王伟", a1.id, json!({"生日": "1990-12-05"}));
        assert!(d.birthdays("12-05", &Scope::All, 10).unwrap().is_empty());
        d.put_field_defs(&[def("生日", CustomFieldType::Date, true)], actor)
            .unwrap();
        // Customers already there, and new ones, and edited ones.
        add(&store, "李娜", root.id, json!({"生日": "1985-12-05"}));
        add(&store, "张伟", a1.id, json!({"生日": "1985-12-06"}));
        add(&store, "赵敏", a1.id, json!({"生日": "soon"}));
        let names = |scope: &Scope| -> Vec<String> {
            d.birthdays("12-05", scope, 10)
                .unwrap()
                .into_iter()
                .map(|c| c.name)
                .collect()
        };
        assert_eq!(names(&Scope::All), ["李娜", "王伟"]);
        assert_eq!(names(&Scope::Agent(a1.id)), ["王伟"]);
        store
            .directory()
            .update(
                early,
                &crate::store::CustomerEdit {
                    name: "王伟".into(),
                    company: String::new(),
                    phones: Vec::new(),
                    tags: Vec::new(),
                    custom_fields: json!({"生日": "1990-12-06"}).as_object().unwrap().clone(),
                },
                actor,
            )
            .unwrap();
        assert_eq!(names(&Scope::All), ["李娜"]);
        // Another field becomes the birthday: everyone follows.
        let mut level = def("level", CustomFieldType::Enum, false);
        level.options = vec![FieldOption {
            value: "vip".into(),
            label_zh: "贵宾".into(),
            label_en: "VIP".into(),
        }];
        d.put_field_defs(&[def("生日", CustomFieldType::Date, false), level], actor)
            .unwrap();
        assert!(names(&Scope::All).is_empty());
        assert_eq!(d.field_defs().unwrap().len(), 2);
        assert!(d
            .put_field_defs(&[def("生日", CustomFieldType::Text, true)], actor)
            .is_err());
    }
}
