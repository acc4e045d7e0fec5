//! What a lookup sends and what it makes of the CRM's answer. Pure: the
//! caller in, values out; the answer's bytes in, a contact (or none, or
//! why not) out.

use super::connector::Lookup;
use super::template::{self, Escape, Vars};
use crate::event::Caller;
use serde::Serialize;
use serde_json::Value;

/// The longest text taken from a CRM's answer (a name, a company).
const MAX_TEXT: usize = 200;

/// A contact a CRM knows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    /// The CRM's id, as text.
    pub id: String,
    pub name: Option<String>,
    pub company: Option<String>,
    pub owner: Option<String>,
    /// The contact's page in the CRM.
    pub link: Option<String>,
    /// The id as the CRM wrote it (a number stays a number in journals).
    #[serde(skip)]
    pub id_value: Value,
}

impl Contact {
    /// `contact.*` for templates.
    pub fn vars(&self, vars: &mut Vars) {
        let text = |v: &Option<String>| v.clone().map(Value::String).unwrap_or(Value::Null);
        vars.insert("contact.id".into(), self.id_value.clone());
        vars.insert("contact.name".into(), text(&self.name));
        vars.insert("contact.company".into(), text(&self.company));
        vars.insert("contact.owner".into(), text(&self.owner));
        vars.insert("contact.link".into(), text(&self.link));
    }

    /// `contact.*` all empty (nobody found): a journal's `when` skips it.
    pub fn none_vars(vars: &mut Vars) {
        for name in super::connector::CONTACT_VARS {
            vars.insert((*name).into(), Value::Null);
        }
    }
}

/// The number's forms for templates, from what the line and the
/// normaliser made of the caller. `None` without a number to look up.
pub fn number_vars(caller: &Caller) -> Option<Vars> {
    let e164 = caller.normalized.clone()?;
    let national: String = caller
        .written
        .clone()
        .unwrap_or_else(|| crate::phone::national_display(&e164))
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let digits: String = caller
        .raw_number
        .as_deref()
        .unwrap_or(&national)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let area = caller
        .info
        .as_ref()
        .and_then(|i| i.place.as_ref())
        .and_then(|p| p.area_code.as_deref());
    let local = local_number(&national, area);
    Some(
        [
            ("number.e164", e164),
            ("number.national", national),
            ("number.digits", digits),
            ("number.local", local),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(v)))
        .collect(),
    )
}

/// A landline without its trunk 0 and area code (01065528888 with area
/// code 10 → 65528888); any other number as it is.
pub fn local_number(national: &str, area_code: Option<&str>) -> String {
    match area_code {
        Some(code) if national.starts_with('0') && national[1..].starts_with(code) => {
            national[1 + code.len()..].to_string()
        }
        _ => national.to_string(),
    }
}

/// The contact in a CRM's answer to `lookup`: `Ok(None)` when the CRM
/// says nobody has the number, `Err` with a reason for an answer that is
/// not an answer (a failure status, not JSON, not the shape the connector
/// says). `vars` fill the contact's link.
pub fn answer(
    lookup: &Lookup,
    status: u16,
    body: &[u8],
    vars: &Vars,
) -> Result<Option<Contact>, String> {
    if lookup.not_found_status.contains(&status) {
        return Ok(None);
    }
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status}"));
    }
    let json: Value =
        serde_json::from_slice(body).map_err(|_| "the answer is not JSON".to_string())?;
    if let Some(p) = &lookup.error {
        if let Some(e) = json.pointer(p).filter(|e| !e.is_null()) {
            return Err(format!("the CRM refused: {}", clip(&e.to_string())));
        }
    }
    let found = &lookup.found;
    let record = match &found.records {
        None => &json,
        Some(p) => match json.pointer(p) {
            Some(Value::Array(list)) => match list.first() {
                Some(first) => first,
                None => return Ok(None),
            },
            Some(_) => return Err(format!("{p} in the answer is not a list")),
            None => return Err(format!("the answer has no {p}")),
        },
    };
    let id_value = record
        .pointer(&found.id)
        .filter(|v| v.is_string() || v.is_number())
        .cloned()
        .ok_or_else(|| format!("the contact has no id at {}", found.id))?;
    if template::text_of(&id_value).chars().count() > MAX_TEXT {
        return Err("the contact's id is too long to be one".into());
    }
    let field = |p: &Option<String>| -> Option<String> {
        match record.pointer(p.as_deref()?)? {
            Value::String(s) if !s.trim().is_empty() => Some(clip(s.trim())),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let mut contact = Contact {
        id: template::text_of(&id_value),
        name: field(&found.name),
        company: field(&found.company),
        owner: field(&found.owner),
        link: None,
        id_value,
    };
    if let Some(link) = &found.link {
        let mut with = vars.clone();
        contact.vars(&mut with);
        contact.link = template::render(link, &with, Escape::Url).ok();
    }
    Ok(Some(contact))
}

fn clip(s: &str) -> String {
    if s.chars().count() <= MAX_TEXT {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(MAX_TEXT).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::connector::Connector;
    use serde_json::json;

    fn connector() -> Connector {
        Connector::parse(
            r#"
            name = "Test"
            settings = ["base_url"]
            [lookup]
            url = "{settings.base_url}/find?n={number.e164}"
            error = "/error"
            [lookup.found]
            records = "/items"
            id = "/id"
            name = "/name"
            company = "/org/name"
            owner = "/owner/1"
            link = "{settings.base_url}/c/{contact.id}"
        "#,
        )
        .unwrap()
    }

    fn vars() -> Vars {
        [("settings.base_url".to_string(), json!("http://crm"))]
            .into_iter()
            .collect()
    }

    #[test]
    fn a_contact_is_read_where_the_connector_says() {
        let c = connector();
        let body = json!({"items": [
            {"id": 42, "name": " 王伟 ", "org": {"name": "华信科技"}, "owner": [7, "李强"]},
            {"id": 43, "name": "another"}
        ]});
        let got = answer(&c.lookup, 200, body.to_string().as_bytes(), &vars())
            .unwrap()
            .unwrap();
        assert_eq!(got.id, "42");
        assert_eq!(got.id_value, json!(42));
        assert_eq!(got.name.as_deref(), Some("王伟"));
        assert_eq!(got.company.as_deref(), Some("华信科技"));
        assert_eq!(got.owner.as_deref(), Some("李强"));
        assert_eq!(got.link.as_deref(), Some("http://crm/c/42"));
        // Odoo writes `false` for an empty relation: no owner, no failure.
        let body = json!({"items": [{"id": "a b", "owner": false, "name": null}]});
        let got = answer(&c.lookup, 200, body.to_string().as_bytes(), &vars())
            .unwrap()
            .unwrap();
        assert_eq!((got.name, got.owner), (None, None));
        assert_eq!(got.link.as_deref(), Some("http://crm/c/a%20b"));
    }

    #[test]
    fn nobody_and_nonsense_are_told_apart() {
        let c = connector();
        let l = &c.lookup;
        let v = vars();
        assert_eq!(answer(l, 200, br#"{"items": []}"#, &v), Ok(None));
        assert_eq!(answer(l, 404, b"<html>", &v), Ok(None));
        for (status, body, why) in [
            (500, &b"{}"[..], "HTTP 500"),
            (200, b"<html>oops</html>", "not JSON"),
            (200, br#"{"items": {"id": 1}}"#, "not a list"),
            (200, br#"{"results": []}"#, "has no /items"),
            (200, br#"{"items": [{"name": "x"}]}"#, "no id"),
            (200, br#"{"items": [{"id": {"x": 1}}]}"#, "no id"),
            (
                200,
                br#"{"error": {"message": "Access Denied"}}"#,
                "refused",
            ),
        ] {
            let err = answer(l, status, body, &v).unwrap_err();
            assert!(
                err.contains(why),
                "{err} for {}",
                String::from_utf8_lossy(body)
            );
        }
        let long = "名".repeat(500);
        let body = json!({"items": [{"id": 1, "name": long}]}).to_string();
        let got = answer(l, 200, body.as_bytes(), &v).unwrap().unwrap();
        assert_eq!(got.name.unwrap().chars().count(), MAX_TEXT + 1);
    }

    #[test]
    fn the_number_comes_in_every_form() {
        let caller = |raw: &str, e164: &str, written: &str, area: Option<&str>| Caller {
            raw_number: Some(raw.into()),
            normalized: Some(e164.into()),
            written: Some(written.into()),
            info: area.map(|a| crate::phone::geo::NumberInfo {
                place: Some(std::sync::Arc::new(crate::phone::geo::Place {
                    province: "北京".into(),
                    city: "北京".into(),
                    area_code: Some(a.into()),
                    province_en: "Beijing".into(),
                    city_en: "Beijing".into(),
                })),
                carrier: None,
                carrier_en: None,
            }),
            absent: None,
            name: None,
            rule: crate::phone::MatchRule::Exact,
            outcome: crate::phone::MatchOutcome::None,
            matches: Vec::new(),
            blocked: None,
        };
        let v = number_vars(&caller(
            "010-6552 8888",
            "+861065528888",
            "01065528888",
            Some("10"),
        ))
        .unwrap();
        assert_eq!(v["number.e164"], "+861065528888");
        assert_eq!(v["number.national"], "01065528888");
        assert_eq!(v["number.digits"], "01065528888");
        assert_eq!(v["number.local"], "65528888");
        let v = number_vars(&caller(
            "13812345678",
            "+8613812345678",
            "13812345678",
            Some("10"),
        ))
        .unwrap();
        assert_eq!(v["number.local"], "13812345678");
        let withheld = Caller {
            normalized: None,
            ..caller("", "", "", None)
        };
        assert!(number_vars(&withheld).is_none(), "no number, no lookup");
    }
}
