//! Typed custom fields of customers (自定义字段): what each is (text,
//! number, date, choice, phone), whether it is required, shown on the pop,
//! searchable, and which date field is the birthday for reminders; and the
//! check every edit passes. Pure: the store keeps the definitions, the web
//! side and the import ask the same questions of the same rules.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The kinds of custom field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomFieldType {
    Text,
    Number,
    Date,
    Enum,
    Phone,
}

impl CustomFieldType {
    /// The name the store keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomFieldType::Text => "text",
            CustomFieldType::Number => "number",
            CustomFieldType::Date => "date",
            CustomFieldType::Enum => "enum",
            CustomFieldType::Phone => "phone",
        }
    }

    /// From the store's name (text for anything unknown).
    pub fn parse(s: &str) -> CustomFieldType {
        match s {
            "number" => CustomFieldType::Number,
            "date" => CustomFieldType::Date,
            "enum" => CustomFieldType::Enum,
            "phone" => CustomFieldType::Phone,
            _ => CustomFieldType::Text,
        }
    }
}

/// One choice of an enum field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldOption {
    pub value: String,
    pub label_zh: String,
    pub label_en: String,
}

/// One custom field's definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldDef {
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    #[serde(rename = "type")]
    pub field_type: CustomFieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<FieldOption>,
    /// Shown on the pop beside the customer's name.
    #[serde(default)]
    pub in_pop: bool,
    /// Offered as a search filter of the customer directory (its values
    /// are indexed).
    #[serde(default)]
    pub searchable: bool,
    /// Offered to SMS campaigns of customers: a merge field of the
    /// template and a filter of the recipients.
    #[serde(default = "yes")]
    pub in_sms: bool,
    /// The birthday (a date field; at most one): reminders on the day.
    #[serde(default)]
    pub birthday: bool,
}

fn yes() -> bool {
    true
}

/// The most custom fields a store keeps.
pub const MAX_FIELDS: usize = 100;

/// Why a list of definitions cannot be saved.
///
/// Codes: `field_defs_too_many`, `field_key_invalid`, `field_key_reserved`,
/// `field_key_twice`, `field_label_missing`, `field_choices_missing`,
/// `field_birthday_not_date`, `field_birthday_twice`; parameters: the
/// `field` and the `max` number of fields.
pub fn check_defs(defs: &[CustomFieldDef]) -> Result<(), super::Refusal> {
    let refuse = |code, field: Option<&str>, message: String| {
        super::Refusal::new(code, json!({ "field": field, "max": MAX_FIELDS }), message)
    };
    if defs.len() > MAX_FIELDS {
        return Err(refuse(
            "field_defs_too_many",
            None,
            format!("at most {MAX_FIELDS} custom fields"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for d in defs {
        let key = Some(d.key.as_str());
        let valid_key = !d.key.is_empty()
            && d.key.chars().count() <= 32
            && d.key
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
        if !valid_key {
            return Err(refuse(
                "field_key_invalid",
                key,
                format!("field key {:?}: 1 to 32 letters, digits, _ or -", d.key),
            ));
        }
        if ["name", "company", "owner", "phones", "tags"].contains(&d.key.as_str()) {
            return Err(refuse(
                "field_key_reserved",
                key,
                format!("{:?} is a customer's own field, not a custom one", d.key),
            ));
        }
        if !seen.insert(d.key.as_str()) {
            return Err(refuse(
                "field_key_twice",
                key,
                format!("field {:?} appears twice", d.key),
            ));
        }
        if d.label_zh.trim().is_empty() || d.label_en.trim().is_empty() {
            return Err(refuse(
                "field_label_missing",
                key,
                format!("field {:?} needs a label in both languages", d.key),
            ));
        }
        if d.field_type == CustomFieldType::Enum && d.options.is_empty() {
            return Err(refuse(
                "field_choices_missing",
                key,
                format!("choice field {:?} has no choices", d.key),
            ));
        }
        if d.birthday && d.field_type != CustomFieldType::Date {
            return Err(refuse(
                "field_birthday_not_date",
                key,
                format!("field {:?} is the birthday but not a date", d.key),
            ));
        }
    }
    if defs.iter().filter(|d| d.birthday).count() > 1 {
        return Err(refuse(
            "field_birthday_twice",
            None,
            "only one field is the birthday".into(),
        ));
    }
    Ok(())
}

/// Why one value was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomFieldError {
    pub field: String,
    /// `required`, `number`, `date`, `choice` or `phone`.
    pub code: &'static str,
}

/// Checks an edit's custom values against the definitions and returns them
/// cleaned (trimmed, numbers as numbers, empty ones dropped). Keys without
/// a definition (from an older import) are kept as they are.
pub fn check_values(
    defs: &[CustomFieldDef],
    values: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<CustomFieldError>> {
    let mut clean = Map::new();
    let mut errors = Vec::new();
    for (k, v) in values {
        if !defs.iter().any(|d| &d.key == k) && !v.is_null() {
            clean.insert(k.clone(), v.clone());
        }
    }
    for d in defs {
        let text = match values.get(&d.key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            Some(other) => Some(other.to_string()),
        };
        let Some(text) = text else {
            if d.required {
                errors.push(CustomFieldError {
                    field: d.key.clone(),
                    code: "required",
                });
            }
            continue;
        };
        let fail = |code| CustomFieldError {
            field: d.key.clone(),
            code,
        };
        let value = match d.field_type {
            CustomFieldType::Text => Ok(Value::String(text)),
            CustomFieldType::Number => text
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                .map(|n| match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9e15 => Value::from(f as i64),
                    _ => n,
                })
                .ok_or_else(|| fail("number")),
            CustomFieldType::Date => chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
                .map_err(|_| fail("date")),
            CustomFieldType::Enum => {
                if d.options.iter().any(|o| o.value == text) {
                    Ok(Value::String(text))
                } else {
                    Err(fail("choice"))
                }
            }
            CustomFieldType::Phone => {
                let digits = text.chars().filter(char::is_ascii_digit).count();
                let allowed = text
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-()#*".contains(c));
                if allowed && (3..=20).contains(&digits) {
                    Ok(Value::String(text))
                } else {
                    Err(fail("phone"))
                }
            }
        };
        match value {
            Ok(v) => {
                clean.insert(d.key.clone(), v);
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

/// The month and day (`MM-DD`) of a birthday value, as the reminders'
/// index keeps it.
pub fn month_day(value: &str) -> Option<String> {
    chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .ok()
        .map(|d| d.format("%m-%d").to_string())
}

/// The birthdays to remind of on `today`, or on the day `asked` (`MM-DD`):
/// that day, and 29 February on the 28th of a year without one; `None`
/// when `asked` is not a day.
pub fn reminder_days(today: chrono::NaiveDate, asked: Option<&str>) -> Option<Vec<String>> {
    use chrono::Datelike;
    let day = match asked {
        // 2000 was a leap year: 02-29 is a day.
        Some(d) => {
            chrono::NaiveDate::parse_from_str(&format!("2000-{d}"), "%Y-%m-%d").ok()?;
            d.to_string()
        }
        None => today.format("%m-%d").to_string(),
    };
    let leap = chrono::NaiveDate::from_ymd_opt(today.year(), 2, 29).is_some();
    let mut days = vec![day];
    if days[0] == "02-28" && !leap {
        days.push("02-29".into());
    }
    Some(days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(key: &str, t: CustomFieldType) -> CustomFieldDef {
        CustomFieldDef {
            key: key.into(),
            label_zh: format!("{key}字段"),
            label_en: key.into(),
            field_type: t,
            required: false,
            options: Vec::new(),
            in_pop: false,
            searchable: false,
            birthday: false,
            in_sms: true,
        }
    }

    fn defs() -> Vec<CustomFieldDef> {
        let mut level = def("level", CustomFieldType::Enum);
        level.options = vec![FieldOption {
            value: "vip".into(),
            label_zh: "贵宾".into(),
            label_en: "VIP".into(),
        }];
        let mut birthday = def("birthday", CustomFieldType::Date);
        birthday.birthday = true;
        let mut city = def("city", CustomFieldType::Text);
        city.required = true;
        vec![
            level,
            birthday,
            city,
            def("spend", CustomFieldType::Number),
            def("fax", CustomFieldType::Phone),
        ]
    }

    fn values(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn good_values_come_back_cleaned_and_unknown_keys_are_kept() {
        let clean = check_values(
            &defs(),
            &values(json!({
                "level": "vip", "birthday": " 1990-12-05 ", "city": " 杭州 ",
                "spend": "1200", "fax": "0571-8765 4321", "legacy": "来自旧系统", "empty": null
            })),
        )
        .unwrap();
        assert_eq!(
            Value::Object(clean),
            json!({"level": "vip", "birthday": "1990-12-05", "city": "杭州", "spend": 1200,
                   "fax": "0571-8765 4321", "legacy": "来自旧系统"})
        );
        let fraction =
            check_values(&defs(), &values(json!({"city": "x", "spend": "12.5"}))).unwrap();
        assert_eq!(fraction["spend"], json!(12.5));
    }

    #[test]
    fn every_bad_value_is_named_with_its_reason() {
        let errors = check_values(
            &defs(),
            &values(json!({
                "level": "gold", "birthday": "1990-13-01", "spend": "many", "fax": "call me"
            })),
        )
        .unwrap_err();
        let got: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            got,
            [
                ("level", "choice"),
                ("birthday", "date"),
                ("city", "required"),
                ("spend", "number"),
                ("fax", "phone")
            ]
        );
    }

    #[test]
    fn definitions_are_checked() {
        assert!(check_defs(&defs()).is_ok());
        let code = |d: &[CustomFieldDef]| {
            let e = check_defs(d).unwrap_err();
            (e.code, e.params["field"].as_str().map(str::to_string))
        };
        let mut two = defs();
        two[3].birthday = true;
        assert_eq!(
            code(&two),
            ("field_birthday_not_date", Some("spend".into()))
        );
        let mut two = defs();
        two.push({
            let mut d = def("wedding", CustomFieldType::Date);
            d.birthday = true;
            d
        });
        assert_eq!(code(&two), ("field_birthday_twice", None));
        let mut dup = defs();
        dup.push(def("city", CustomFieldType::Text));
        assert_eq!(code(&dup), ("field_key_twice", Some("city".into())));
        assert_eq!(
            code(&[def("name", CustomFieldType::Text)]),
            ("field_key_reserved", Some("name".into()))
        );
        assert_eq!(
            code(&[def("", CustomFieldType::Text)]),
            ("field_key_invalid", Some("".into()))
        );
        assert!(check_defs(&[def("等级", CustomFieldType::Text)]).is_ok());
        let e = check_defs(&[def("level", CustomFieldType::Enum)]).unwrap_err();
        assert_eq!(e.code, "field_choices_missing");
        assert!(e.to_string().contains("no choices"));
        let mut unlabelled = def("city", CustomFieldType::Text);
        unlabelled.label_en = " ".into();
        assert_eq!(
            code(&[unlabelled]),
            ("field_label_missing", Some("city".into()))
        );
        let many: Vec<_> = (0..=MAX_FIELDS)
            .map(|i| def(&format!("f{i}"), CustomFieldType::Text))
            .collect();
        assert_eq!(code(&many), ("field_defs_too_many", None));
    }

    #[test]
    fn the_29th_of_february_is_remembered_on_the_28th_of_other_years() {
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            reminder_days(day(2026, 2, 28), None).unwrap(),
            ["02-28", "02-29"]
        );
        assert_eq!(reminder_days(day(2028, 2, 28), None).unwrap(), ["02-28"]);
        assert_eq!(reminder_days(day(2028, 2, 29), None).unwrap(), ["02-29"]);
        assert_eq!(reminder_days(day(2026, 12, 5), None).unwrap(), ["12-05"]);
        assert_eq!(
            reminder_days(day(2026, 12, 5), Some("02-29")).unwrap(),
            ["02-29"]
        );
        assert_eq!(
            reminder_days(day(2026, 12, 5), Some("02-28")).unwrap(),
            ["02-28", "02-29"]
        );
        assert_eq!(reminder_days(day(2026, 12, 5), Some("13-40")), None);
        assert_eq!(reminder_days(day(2026, 12, 5), Some("tomorrow")), None);
    }

    #[test]
    fn a_birthday_is_kept_by_month_and_day() {
        assert_eq!(month_day("1990-02-28").as_deref(), Some("02-28"));
        assert_eq!(month_day("1992-02-29").as_deref(), Some("02-29"));
        assert_eq!(month_day("02-28"), None);
        assert_eq!(month_day("soon"), None);
    }
}
