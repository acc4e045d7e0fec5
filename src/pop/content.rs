//! What a pop carries, and how it is shown to each viewer: numbers of a
//! customer owned by another agent are masked for agents.

use crate::event::Caller;
use crate::store::{CallRow, Customer, FormDef, Role, Store, User, WorkOrderRow};
use serde::Serialize;
use serde_json::{Map, Value};

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
    pub form: Option<FormDef>,
    pub prefill: Map<String, Value>,
    /// The team the line pops to, when it is a group line.
    pub team: Option<String>,
}

impl Pop {
    /// Builds the pop of an identified caller from the store.
    pub fn build(
        store: &Store,
        call_id: &str,
        line: &str,
        caller: Option<&Caller>,
        form_key: &str,
        team: Option<String>,
    ) -> crate::store::Result<Pop> {
        let mut customers = Vec::new();
        if let Some(c) = caller {
            for m in c.matches.iter().take(MAX_CUSTOMERS) {
                customers.extend(store.customers().customer(m.id)?);
            }
        }
        let form = match store.workorders().form(form_key)? {
            Some(f) => Some(f),
            None => store.workorders().forms()?.into_iter().next(),
        };
        let mut pop = Pop {
            call_id: call_id.to_string(),
            line: line.to_string(),
            direction: "inbound",
            number: caller.and_then(|c| c.raw_number.clone()),
            normalized: caller.and_then(|c| c.normalized.clone()),
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
        };
        if pop.customers.len() == 1 {
            let id = pop.customers[0].id;
            pop.select(store, id)?;
        } else if let Some(form) = &pop.form {
            pop.prefill = crate::workorder::prefill(form, None, pop.number.as_deref());
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
            presentation: "available",
            caller_name: None,
            match_outcome: "none",
            rule: "none",
            customers: Vec::new(),
            recent_calls: Vec::new(),
            open_work_orders: Vec::new(),
            form: None,
            prefill: Map::new(),
            team: None,
        }
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
            self.prefill = crate::workorder::prefill(form, Some(&customer), self.number.as_deref());
        }
        self.customers = vec![customer];
        self.match_outcome = "one";
        Ok(true)
    }

    /// The pop's JSON as `viewer` may see it.
    pub fn json_for(&self, viewer: &User) -> String {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if must_mask(viewer, &self.customers) {
            mask_numbers(&mut value, self.form.as_ref());
        }
        value.to_string()
    }
}

/// Agents do not see the numbers of customers another agent owns.
pub fn must_mask(viewer: &User, customers: &[Customer]) -> bool {
    viewer.role == Role::Agent
        && customers
            .iter()
            .any(|c| c.owner.as_deref().is_some_and(|o| o != viewer.username))
}

/// `13812345678` -> `138****5678`: enough to recognise, not to dial.
pub fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let n = chars.len();
    let (head, tail) = match n {
        0..=4 => return "*".repeat(n),
        5..=7 => (1, 2),
        _ => (3, 4),
    };
    let mut out: String = chars[..head].iter().collect();
    out.push_str("****");
    out.extend(&chars[n - tail..]);
    out
}

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
        for key in phone_fields {
            if let Some(Value::String(s)) = prefill.get_mut(key) {
                *s = mask(s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_head_and_tail() {
        assert_eq!(mask("13812345678"), "138****5678");
        assert_eq!(mask("+8613812345678"), "+86****5678");
        assert_eq!(mask("65528888"), "655****8888");
        assert_eq!(mask("95588"), "9****88");
        assert_eq!(mask("110"), "***");
    }
}
