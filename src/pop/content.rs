//! What a pop carries, and how it is shown to each viewer: numbers of a
//! customer owned by another agent are masked for agents.

use crate::event::Caller;
use crate::store::{CallRow, Customer, FormDef, Store, User, WorkOrderRow};
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;

/// At most this many matched customers are sent in full (a chooser).
pub const MAX_CUSTOMERS: usize = 10;
/// Calls of the customer's history on a pop.
pub const HISTORY: usize = 5;

/// Everything a pop shows, before masking for a viewer.
#[derive(Debug, Clone, Serialize)]
pub struct Pop {
    pub call_id: String,
    pub line: String,
    pub direction: &'static str,
    pub number: Option<String>,
    pub normalized: Option<String>,
    /// The number as people write it, for the form's phone field.
    #[serde(skip)]
    pub written: Option<String>,
    /// `available`, `private` or `unavailable`.
    pub presentation: &'static str,
    pub caller_name: Option<String>,
    /// `none`, `one` or `many`.
    #[serde(rename = "match")]
    pub match_outcome: &'static str,
    pub rule: &'static str,
    pub customers: Vec<Customer>,
    pub recent_calls: Vec<CallRow>,
    pub open_work_orders: Vec<WorkOrderRow>,
    pub form: Option<Arc<FormDef>>,
    pub prefill: Map<String, Value>,
    /// The team the line pops to, when it is a group line.
    pub team: Option<String>,
    /// Where the number belongs and its carrier (归属地), when known.
    pub info: Option<crate::phone::geo::NumberInfo>,
    /// Why the caller is on the inbound blacklist (the card is marked).
    pub blocked: Option<String>,
    /// What the center's own CRMs know of the caller, as their answers
    /// came (after the pop: `call.crm`); one entry per connector.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub crm: Vec<Value>,
    /// Every customer the caller's number matched: those an agent may
    /// pick for the call whoever owns them (`customer.select`).
    #[serde(skip)]
    pub candidates: Vec<i64>,
}

impl Pop {
    /// Builds the pop of an identified caller from the store, with `form`
    /// (the hub keeps forms in memory: a pop reads only what depends on
    /// the caller). Every read is in one snapshot of the store.
    pub fn build(
        store: &Store,
        call_id: &str,
        line: &str,
        caller: Option<&Caller>,
        form: Option<Arc<FormDef>>,
        team: Option<String>,
    ) -> crate::store::Result<Pop> {
        store.read_snapshot(|store| Pop::build_in(store, call_id, line, caller, form, team))
    }

    fn build_in(
        store: &Store,
        call_id: &str,
        line: &str,
        caller: Option<&Caller>,
        form: Option<Arc<FormDef>>,
        team: Option<String>,
    ) -> crate::store::Result<Pop> {
        let mut customers = Vec::new();
        if let Some(c) = caller {
            for m in c.matches.iter().take(MAX_CUSTOMERS) {
                customers.extend(store.customers().customer(m.id)?);
            }
        }
        let mut pop = Pop {
            call_id: call_id.to_string(),
            line: line.to_string(),
            direction: "inbound",
            number: caller.and_then(|c| c.raw_number.clone()),
            normalized: caller.and_then(|c| c.normalized.clone()),
            written: caller.and_then(|c| c.written.clone()),
            presentation: match caller.and_then(|c| c.absent) {
                Some(crate::dsp::cid::Absence::Private) => "private",
                Some(crate::dsp::cid::Absence::Unavailable) => "unavailable",
                None => "available",
            },
            caller_name: caller.and_then(|c| c.name.clone()),
            match_outcome: match customers.len() {
                0 => "none",
                1 => "one",
                _ => "many",
            },
            rule: caller.map(|c| c.rule.as_str()).unwrap_or("none"),
            customers,
            recent_calls: Vec::new(),
            open_work_orders: Vec::new(),
            form,
            prefill: Map::new(),
            team,
            info: caller.and_then(|c| c.info.clone()),
            blocked: caller.and_then(|c| c.blocked.as_ref().map(|b| b.reason.clone())),
            crm: Vec::new(),
            candidates: caller
                .map(|c| c.matches.iter().map(|m| m.id).collect())
                .unwrap_or_default(),
        };
        if pop.customers.len() == 1 {
            let id = pop.customers[0].id;
            pop.select(store, id)?;
        } else if let Some(form) = &pop.form {
            pop.prefill = crate::workorder::prefill(form, None, pop.form_number());
        }
        Ok(pop)
    }

    /// A pop with nothing in it, for tests of routing.
    #[cfg(test)]
    pub fn empty(call_id: &str, line: &str) -> Pop {
        Pop {
            call_id: call_id.into(),
            line: line.into(),
            direction: "inbound",
            number: None,
            normalized: None,
            written: None,
            presentation: "available",
            caller_name: None,
            match_outcome: "none",
            rule: "none",
            customers: Vec::new(),
            recent_calls: Vec::new(),
            open_work_orders: Vec::new(),
            form: None,
            info: None,
            blocked: None,
            crm: Vec::new(),
            prefill: Map::new(),
            team: None,
            candidates: Vec::new(),
        }
    }

    /// The caller's number for the form: as people write it when it could
    /// be read, else as the line gave it.
    fn form_number(&self) -> Option<&str> {
        self.written.as_deref().or(self.number.as_deref())
    }

    /// Makes `customer_id` the pop's customer: its history, open work
    /// orders and the prefilled form.
    pub fn select(&mut self, store: &Store, customer_id: i64) -> crate::store::Result<bool> {
        let Some(customer) = store.customers().customer(customer_id)? else {
            return Ok(false);
        };
        self.recent_calls = store.calls().customer_calls(customer_id, HISTORY)?;
        self.open_work_orders = store.workorders().open_work_orders(customer_id, 10)?;
        if let Some(form) = &self.form {
            self.prefill = crate::workorder::prefill(form, Some(&customer), self.form_number());
        }
        self.customers = vec![customer];
        self.match_outcome = "one";
        Ok(true)
    }

    /// The pop's JSON as `viewer` may see it.
    pub fn json_for(&self, viewer: &User) -> String {
        self.render(must_mask(viewer, &self.customers))
    }

    fn render(&self, masked: bool) -> String {
        if !masked {
            return serde_json::to_string(self).unwrap_or_else(|_| "null".into());
        }
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        mask_numbers(&mut value, self.form.as_deref());
        value.to_string()
    }

    /// A renderer that serialises the pop at most once per way it can be
    /// shown (whole, or with numbers masked): a team line's 50 desktops
    /// cost one or two serialisations, not 50.
    pub fn renderer(&self) -> Rendered<'_> {
        Rendered {
            pop: self,
            plain: None,
            masked: None,
        }
    }
}

/// One pop's JSON, made on first need for each masking (see [`Pop::renderer`]).
pub struct Rendered<'a> {
    pop: &'a Pop,
    plain: Option<String>,
    masked: Option<String>,
}

impl Rendered<'_> {
    /// The pop's JSON as `viewer` may see it.
    pub fn json_for(&mut self, viewer: &User) -> &str {
        let masked = must_mask(viewer, &self.pop.customers);
        let slot = if masked {
            &mut self.masked
        } else {
            &mut self.plain
        };
        slot.get_or_insert_with(|| self.pop.render(masked))
    }
}

/// Whether `viewer` sees this pop's numbers masked (the one rule of
/// [`crate::access::must_mask`]): an agent does when a customer of the pop
/// belongs to another agent.
pub fn must_mask(viewer: &User, customers: &[Customer]) -> bool {
    let another = customers
        .iter()
        .any(|c| c.owner.as_deref().is_some_and(|o| o != viewer.username));
    crate::access::must_mask(viewer, another)
}

pub use crate::access::mask;

fn mask_numbers(pop: &mut Value, form: Option<&FormDef>) {
    for key in ["number", "normalized"] {
        if let Some(Value::String(s)) = pop.get_mut(key) {
            *s = mask(s);
        }
    }
    if let Some(Value::Array(customers)) = pop.get_mut("customers") {
        for c in customers {
            if let Some(Value::Array(phones)) = c.get_mut("phones") {
                for p in phones {
                    for key in ["raw", "e164", "national"] {
                        if let Some(Value::String(s)) = p.get_mut(key) {
                            *s = mask(s);
                        }
                    }
                }
            }
        }
    }
    if let Some(Value::Array(calls)) = pop.get_mut("recent_calls") {
        for c in calls {
            for key in ["raw_number", "number_e164"] {
                if let Some(Value::String(s)) = c.get_mut(key) {
                    *s = mask(s);
                }
            }
        }
    }
    let phone_fields: Vec<&str> = form
        .map(|f| {
            f.fields
                .iter()
                .filter(|f| f.field_type == crate::store::FieldType::Phone)
                .map(|f| f.key.as_str())
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Object(prefill)) = pop.get_mut("prefill") {
        mask_fields(prefill, &phone_fields);
    }
    if let Some(Value::Array(orders)) = pop.get_mut("open_work_orders") {
        for o in orders {
            if let Some(Value::Object(fields)) = o.get_mut("fields") {
                mask_fields(fields, &phone_fields);
            }
        }
    }
}

/// Masks the values of the phone fields `keys` among `fields`.
pub fn mask_fields(fields: &mut serde_json::Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if let Some(Value::String(s)) = fields.get_mut(*key) {
            *s = mask(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Role;

    fn user(name: &str, role: Role) -> User {
        User {
            id: 1,
            username: name.into(),
            display_name: name.into(),
            role,
            team: None,
            disabled: false,
        }
    }

    #[test]
    fn one_rendering_serves_every_viewer_who_sees_the_pop_alike() {
        let mut pop = Pop::empty("c1", "box1/1");
        pop.number = Some("13812345678".into());
        pop.customers.push(Customer {
            id: 7,
            name: "周杰".into(),
            company: String::new(),
            owner: Some("ann".into()),
            tags: Vec::new(),
            custom_fields: Map::new(),
            phones: Vec::new(),
            created_at: 0,
            updated_at: 0,
        });
        let (owner, other, lead) = (
            user("ann", Role::Agent),
            user("bob", Role::Agent),
            user("lee", Role::TeamLead),
        );
        let mut rendered = pop.renderer();
        for viewer in [&owner, &other, &lead, &other, &owner] {
            assert_eq!(rendered.json_for(viewer), pop.json_for(viewer));
        }
        assert!(rendered.json_for(&owner).contains("13812345678"));
        assert!(rendered.json_for(&other).contains("138****5678"));
        assert!(!rendered.json_for(&other).contains("13812345678"));
        assert!(rendered.json_for(&lead).contains("13812345678"));
    }

    #[test]
    fn masks_keep_head_and_tail() {
        assert_eq!(mask("13812345678"), "138****5678");
        assert_eq!(mask("+8613812345678"), "+86****5678");
        assert_eq!(mask("65528888"), "655****8888");
        assert_eq!(mask("95588"), "9****88");
        assert_eq!(mask("110"), "***");
    }
}
