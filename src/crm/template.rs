//! The templates of a CRM connector: `{number.e164}`, `{settings.base_url}`,
//! `{contact.id}` in URLs, headers and JSON bodies. Pure: values in, text
//! out. A URL's values are percent-encoded, a header's must not break the
//! line, and a JSON body is built as JSON (never by pasting text into
//! quotes), so no value a caller or a CRM sends can change a request's
//! shape.

use serde_json::Value;
use std::collections::BTreeMap;

/// The values a template may name, by dotted name (`number.e164`).
pub type Vars = BTreeMap<String, Value>;

/// How a value is written into the text around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// Percent-encoded: any value is one piece of a URL; but `settings.*`,
    /// the admin's own text (a base URL), goes in as written.
    Url,
    /// As it is (a header's value, a JSON string).
    Raw,
}

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `{` without its `}`, or an empty or malformed name.
    Malformed(String),
    /// A name no request can fill.
    Unknown(String),
    /// A value with a line break where a header's value goes.
    LineBreak(String),
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::Malformed(t) => write!(f, "malformed placeholder in {t:?}"),
            TemplateError::Unknown(n) => write!(f, "no value is called {{{n}}}"),
            TemplateError::LineBreak(n) => write!(f, "{{{n}}} holds a line break"),
        }
    }
}

/// One piece of a template.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Name(&'a str),
}

/// Splits a template into text and names (`{{` and `}}` are braces).
fn pieces(template: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let malformed = || TemplateError::Malformed(template.to_string());
    let mut out = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("{{") {
            out.push(Piece::Text("{"));
            rest = after;
        } else if let Some(after) = rest.strip_prefix("}}") {
            out.push(Piece::Text("}"));
            rest = after;
        } else if let Some(after) = rest.strip_prefix('{') {
            let end = after.find('}').ok_or_else(malformed)?;
            let name = &after[..end];
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if !valid {
                return Err(malformed());
            }
            out.push(Piece::Name(name));
            rest = &after[end + 1..];
        } else if rest.starts_with('}') {
            return Err(malformed());
        } else {
            let end = rest.find(['{', '}']).unwrap_or(rest.len());
            out.push(Piece::Text(&rest[..end]));
            rest = &rest[end..];
        }
    }
    Ok(out)
}

/// The names a template uses.
pub fn names(template: &str) -> Result<Vec<String>, TemplateError> {
    Ok(pieces(template)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Name(n) => Some(n.to_string()),
            Piece::Text(_) => None,
        })
        .collect())
}

/// A value as text: strings as they are, numbers and booleans written
/// out, nothing for null.
pub fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Fills `template` from `vars`. A name `vars` lacks is an error; a name
/// it holds as null is written as nothing.
pub fn render(template: &str, vars: &Vars, escape: Escape) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() + 16);
    for piece in pieces(template)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Name(n) => {
                let value = vars
                    .get(n)
                    .ok_or_else(|| TemplateError::Unknown(n.into()))?;
                let text = text_of(value);
                match escape {
                    Escape::Url if n.starts_with("settings.") => out.push_str(&text),
                    Escape::Url => percent_encode(&text, &mut out),
                    Escape::Raw => {
                        if text.contains(['\r', '\n']) {
                            return Err(TemplateError::LineBreak(n.into()));
                        }
                        out.push_str(&text)
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Fills every string of a JSON body. A string that is one placeholder
/// and nothing else takes the value's own type (`"{call.duration_secs}"`
/// becomes a number); other strings are filled as text.
pub fn render_json(body: &Value, vars: &Vars) -> Result<Value, TemplateError> {
    Ok(match body {
        Value::String(s) => {
            if let [Piece::Name(n)] = pieces(s)?.as_slice() {
                vars.get(*n)
                    .cloned()
                    .ok_or_else(|| TemplateError::Unknown((*n).into()))?
            } else {
                // Line breaks are fine inside a JSON string.
                let mut out = String::new();
                for piece in pieces(s)? {
                    match piece {
                        Piece::Text(t) => out.push_str(t),
                        Piece::Name(n) => out.push_str(&text_of(
                            vars.get(n)
                                .ok_or_else(|| TemplateError::Unknown(n.into()))?,
                        )),
                    }
                }
                Value::String(out)
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_json(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_json(v, vars)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}

/// The names every string of a JSON body uses.
pub fn json_names(body: &Value) -> Result<Vec<String>, TemplateError> {
    let mut out = Vec::new();
    match body {
        Value::String(s) => out.extend(names(s)?),
        Value::Array(items) => {
            for v in items {
                out.extend(json_names(v)?);
            }
        }
        Value::Object(map) => {
            for v in map.values() {
                out.extend(json_names(v)?);
            }
        }
        _ => {}
    }
    Ok(out)
}

/// RFC 3986: everything but the unreserved characters is `%XX`.
fn percent_encode(text: &str, out: &mut String) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        [
            ("number.e164", json!("+8613812345678")),
            ("settings.base_url", json!("https://crm.example.com")),
            ("call.duration_secs", json!(95)),
            ("contact.id", Value::Null),
            ("caller.name", json!("王伟 & Co\r\nX-Evil: 1")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    #[test]
    fn urls_take_each_value_as_one_piece() {
        let v = vars();
        assert_eq!(
            render(
                "{settings.base_url}/api?phone={number.e164}&n={call.duration_secs}",
                &v,
                Escape::Url
            )
            .unwrap(),
            "https://crm.example.com/api?phone=%2B8613812345678&n=95"
        );
        assert_eq!(
            render("q={caller.name}", &v, Escape::Url).unwrap(),
            "q=%E7%8E%8B%E4%BC%9F%20%26%20Co%0D%0AX-Evil%3A%201"
        );
        assert_eq!(render("id={contact.id}", &v, Escape::Url).unwrap(), "id=");
        assert_eq!(render("a{{b}}", &v, Escape::Raw).unwrap(), "a{b}");
    }

    #[test]
    fn headers_refuse_line_breaks_and_bad_templates_are_named() {
        let v = vars();
        assert_eq!(
            render("Bearer {caller.name}", &v, Escape::Raw),
            Err(TemplateError::LineBreak("caller.name".into()))
        );
        assert_eq!(
            render("{nope}", &v, Escape::Raw),
            Err(TemplateError::Unknown("nope".into()))
        );
        for bad in ["{", "{}", "a}b", "{a b}", "{a"] {
            assert!(
                matches!(names(bad), Err(TemplateError::Malformed(_))),
                "{bad}"
            );
        }
        assert_eq!(
            names("{a.b}/{c}{{x}}").unwrap(),
            ["a.b".to_string(), "c".to_string()]
        );
    }

    #[test]
    fn json_bodies_keep_types_and_shape() {
        let v = vars();
        let body = json!({
            "duration": "{call.duration_secs}",
            "name": "Call with {caller.name}",
            "parent": "{contact.id}",
            "list": ["{number.e164}", 3, true],
        });
        let out = render_json(&body, &v).unwrap();
        assert_eq!(out["duration"], 95);
        assert_eq!(out["name"], "Call with 王伟 & Co\r\nX-Evil: 1");
        assert_eq!(out["parent"], Value::Null);
        assert_eq!(out["list"], json!(["+8613812345678", 3, true]));
        let mut used = json_names(&body).unwrap();
        used.sort();
        assert_eq!(
            used,
            [
                "call.duration_secs",
                "caller.name",
                "contact.id",
                "number.e164"
            ]
        );
    }
}
