//! Work-order forms in use: what a pop prefills from the customer, and what
//! a save must satisfy, and (in [`lifecycle`]) how an order moves on.
//! Pure, so the same rules hold for every client.

pub mod import;
/// A work order's statuses and moves (kept in [`crate::domain`], below the store).
pub use crate::domain::work_order_status as lifecycle;

use crate::store::{Customer, FieldDef, FieldType, FormDef};
use serde::Serialize;
use serde_json::{Map, Value};

/// Why one field was refused, in both languages the desktop speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
}

/// The form's initial values: each field's default, then what its
/// `prefill_from` names in the customer (or the caller's number for `phone`).
pub fn prefill(
    form: &FormDef,
    customer: Option<&Customer>,
    number: Option<&str>,
) -> Map<String, Value> {
    let mut values = Map::new();
    for f in &form.fields {
        let from_customer = f.prefill_from.as_deref().and_then(|src| match src {
            "phone" => number
                .map(str::to_string)
                .or_else(|| customer.and_then(|c| c.phones.first().map(|p| p.raw.clone()))),
            "name" => customer.map(|c| c.name.clone()),
            "company" => customer
                .map(|c| c.company.clone())
                .filter(|s| !s.is_empty()),
            "owner" => customer.and_then(|c| c.owner.clone()),
            custom => customer
                .and_then(|c| c.custom_fields.get(custom))
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }),
        });
        if let Some(v) = from_customer.or_else(|| f.default.clone()) {
            values.insert(f.key.clone(), Value::String(v));
        }
    }
    values
}

/// Checks `values` against the form and returns them cleaned (trimmed,
/// numbers as numbers, unknown keys dropped), or every field's error.
pub fn validate(
    form: &FormDef,
    values: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut clean = Map::new();
    let mut errors = Vec::new();
    for f in &form.fields {
        let raw = match values.get(&f.key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(_) => {
                errors.push(error(f, "type", "格式不对", "has the wrong type"));
                continue;
            }
        };
        let Some(raw) = raw else {
            if f.required {
                errors.push(error(f, "required", "必填", "is required"));
            }
            continue;
        };
        match check(f, &raw) {
            Ok(v) => {
                clean.insert(f.key.clone(), v);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(clean)
    } else {
        Err(errors)
    }
}

fn check(f: &FieldDef, raw: &str) -> Result<Value, FieldError> {
    match f.field_type {
        FieldType::Text | FieldType::Textarea => {
            let limit = if f.field_type == FieldType::Text {
                500
            } else {
                10_000
            };
            if raw.chars().count() > limit {
                return Err(error(f, "too_long", "太长", "is too long"));
            }
            Ok(Value::String(raw.to_string()))
        }
        FieldType::Number => raw
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .and_then(|n| {
                if n.fract() == 0.0 && n.abs() < 9e15 {
                    Some(Value::from(n as i64))
                } else {
                    serde_json::Number::from_f64(n).map(Value::Number)
                }
            })
            .ok_or_else(|| error(f, "number", "须为数字", "must be a number")),
        FieldType::Enum => f
            .options
            .iter()
            .any(|o| o.value == raw)
            .then(|| Value::String(raw.to_string()))
            .ok_or_else(|| error(f, "option", "不是可选项", "is not one of the choices")),
        FieldType::Date => chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
            .map_err(|_| {
                error(
                    f,
                    "date",
                    "日期格式应为 YYYY-MM-DD",
                    "must be a date, YYYY-MM-DD",
                )
            }),
        FieldType::Phone => {
            let digits = raw.chars().filter(|c| c.is_ascii_digit()).count();
            let allowed = raw
                .chars()
                .all(|c| c.is_ascii_digit() || " +-()#*,".contains(c) || c == 'x');
            if allowed && (3..=20).contains(&digits) {
                Ok(Value::String(raw.to_string()))
            } else {
                Err(error(f, "phone", "电话号码无效", "is not a phone number"))
            }
        }
    }
}

fn error(f: &FieldDef, code: &'static str, zh: &str, en: &str) -> FieldError {
    FieldError {
        field: f.key.clone(),
        code,
        message_zh: format!("{}{}", f.label_zh, zh),
        message_en: format!("{} {}", f.label_en, en),
    }
}

/// What a saved work order asks of the call-back queue: the date of its
/// follow-up field (回访日期) if the form has one and it is filled, and the
/// first phone number typed in it. `None` when the form has no such field.
pub fn follow_up_of(form: &FormDef, values: &Map<String, Value>) -> Option<FollowUpAsk> {
    let field = form.fields.iter().find(|f| f.follow_up)?;
    let date = values
        .get(&field.key)
        .and_then(Value::as_str)
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let phone = form
        .fields
        .iter()
        .filter(|f| f.field_type == FieldType::Phone)
        .find_map(|f| values.get(&f.key).and_then(Value::as_str))
        .filter(|p| !p.trim().is_empty())
        .map(str::to_string);
    Some(FollowUpAsk { date, phone })
}

/// See [`follow_up_of`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpAsk {
    /// The day to call back (`None`: the field was cleared).
    pub date: Option<chrono::NaiveDate>,
    pub phone: Option<String>,
}

/// When on `date` a scheduled call-back falls due: 09:00 local time, the
/// start of a call center's day.
pub fn follow_up_due_ms(date: chrono::NaiveDate) -> Option<i64> {
    use chrono::TimeZone;
    let at = date.and_hms_opt(9, 0, 0)?;
    chrono::Local
        .from_local_datetime(&at)
        .earliest()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EnumOption;

    fn form() -> FormDef {
        let field = |key: &str, t: FieldType, required: bool| FieldDef {
            key: key.into(),
            label_zh: format!("{key}字段"),
            label_en: key.into(),
            field_type: t,
            required,
            default: None,
            options: Vec::new(),
            prefill_from: None,
            follow_up: false,
        };
        let mut kind = field("kind", FieldType::Enum, true);
        kind.options = vec![EnumOption {
            value: "complaint".into(),
            label_zh: "投诉".into(),
            label_en: "Complaint".into(),
        }];
        kind.default = Some("complaint".into());
        let mut name = field("name", FieldType::Text, true);
        name.prefill_from = Some("name".into());
        let mut phone = field("phone", FieldType::Phone, false);
        phone.prefill_from = Some("phone".into());
        let mut level = field("level", FieldType::Text, false);
        level.prefill_from = Some("vip_level".into());
        FormDef {
            key: "service".into(),
            name_zh: "服务工单".into(),
            name_en: "Service".into(),
            fields: vec![
                kind,
                name,
                phone,
                level,
                field("amount", FieldType::Number, false),
                field("due", FieldType::Date, false),
            ],
            statuses: Vec::new(),
        }
    }

    #[test]
    fn prefill_takes_customer_fields_and_defaults() {
        let mut c = Customer {
            id: 1,
            name: "王伟".into(),
            company: String::new(),
            owner: None,
            tags: vec![],
            custom_fields: Map::new(),
            phones: vec![],
            created_at: 0,
            updated_at: 0,
        };
        c.custom_fields.insert("vip_level".into(), Value::from(3));
        let v = prefill(&form(), Some(&c), Some("13812345678"));
        assert_eq!(v["kind"], "complaint");
        assert_eq!(v["name"], "王伟");
        assert_eq!(v["phone"], "13812345678");
        assert_eq!(v["level"], "3");
        let unknown = prefill(&form(), None, Some("01065528888"));
        assert_eq!(unknown.get("name"), None);
        assert_eq!(unknown["phone"], "01065528888");
    }

    #[test]
    fn validation_reports_every_bad_field() {
        let values: Map<String, Value> = serde_json::from_str(
            r#"{"kind":"refund","name":"  ","phone":"abc","amount":"12x","due":"2026-13-01","extra":1}"#,
        )
        .unwrap();
        let errors = validate(&form(), &values).unwrap_err();
        let codes: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            codes,
            [
                ("kind", "option"),
                ("name", "required"),
                ("phone", "phone"),
                ("amount", "number"),
                ("due", "date")
            ]
        );
        assert_eq!(errors[1].message_zh, "name字段必填");
    }

    #[test]
    fn valid_values_come_back_clean() {
        let values: Map<String, Value> = serde_json::from_str(
            r#"{"kind":"complaint","name":" 王伟 ","phone":"+86 138-1234-5678","amount":"12","due":"2026-11-23","extra":1}"#,
        )
        .unwrap();
        let clean = validate(&form(), &values).unwrap();
        assert_eq!(clean["name"], "王伟");
        assert_eq!(clean["amount"], 12);
        assert_eq!(clean.get("extra"), None);
    }

    #[test]
    fn a_follow_up_date_asks_for_a_call_back() {
        let mut f = form();
        let mut date = f.fields[0].clone();
        date.key = "follow".into();
        date.field_type = FieldType::Date;
        date.follow_up = true;
        f.fields.push(date);
        let mut phone = f.fields[0].clone();
        phone.key = "tel".into();
        phone.field_type = FieldType::Phone;
        phone.follow_up = false;
        f.fields.push(phone);
        let values = |pairs: &[(&str, &str)]| -> Map<String, Value> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(*v)))
                .collect()
        };
        let ask = follow_up_of(
            &f,
            &values(&[("follow", "2026-12-10"), ("tel", "139 1234 5678")]),
        )
        .unwrap();
        assert_eq!(ask.date, chrono::NaiveDate::from_ymd_opt(2026, 12, 10));
        assert_eq!(ask.phone.as_deref(), Some("139 1234 5678"));
        assert_eq!(
            follow_up_of(&f, &values(&[])).unwrap().date,
            None,
            "cleared"
        );
        f.fields.retain(|x| !x.follow_up);
        assert_eq!(follow_up_of(&f, &values(&[("follow", "2026-12-10")])), None);
    }
}
