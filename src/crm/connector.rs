//! A CRM connector: a data file (`crm-connectors/*.toml`, or the center's
//! own file) saying how to look a caller up in a CRM and, optionally, how
//! to write the call into it afterwards. Like firmware profiles, a new CRM
//! is a new file, not a new build. Checked whole when loaded: every
//! template names only values that exist, so a typo fails at start, not at
//! the first call.

use super::template::{self, Escape, Vars};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Values every lookup request may use.
pub const LOOKUP_VARS: &[&str] = &[
    "number.e164",
    "number.national",
    "number.digits",
    "number.local",
    "call.id",
    "call.line",
    "call.direction",
];

/// Values a journal request may use besides [`LOOKUP_VARS`] and `contact.*`.
pub const JOURNAL_VARS: &[&str] = &[
    "call.outcome",
    "call.started_at",
    "call.started_at_utc",
    "call.ended_at",
    "call.ended_at_utc",
    "call.duration_secs",
    "call.talk_secs",
    "call.agent",
    "call.agent_name",
    "call.recording_url",
    "call.work_order",
];

/// What a lookup found, by name, for links and journals.
pub const CONTACT_VARS: &[&str] = &[
    "contact.id",
    "contact.name",
    "contact.company",
    "contact.owner",
    "contact.link",
];

/// A connector file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connector {
    /// The CRM's name, as admins read it.
    pub name: String,
    /// What it is and what the CRM needs (an API user, a key, a field).
    #[serde(default)]
    pub about: String,
    /// The settings a configuration must give (`base_url`, `api_key`):
    /// `{settings.NAME}` in templates.
    #[serde(default)]
    pub settings: Vec<String>,
    pub lookup: Lookup,
    #[serde(default)]
    pub journal: Option<Journal>,
}

/// How to ask the CRM who a number is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    #[serde(default = "get")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (its strings are templates).
    #[serde(default)]
    pub body: Option<toml::Value>,
    /// How long the CRM may take; the pop never waits for it.
    #[serde(default = "lookup_timeout")]
    pub timeout_ms: u64,
    /// How long an answer (found or not) is reused for the same number.
    #[serde(default = "cache_secs")]
    pub cache_secs: u64,
    /// Statuses that mean "no such contact" rather than a failure.
    #[serde(default = "not_found_status")]
    pub not_found_status: Vec<u16>,
    /// A JSON pointer that, present in an answer, means the CRM refused
    /// (JSON-RPC's `/error` comes with status 200).
    #[serde(default)]
    pub error: Option<String>,
    pub found: Found,
}

/// Where the contact is in the CRM's answer: JSON pointers (RFC 6901).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Found {
    /// The list of matches (the first is taken); without it the answer
    /// itself is the contact.
    #[serde(default)]
    pub records: Option<String>,
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    /// A template for the contact's page in the CRM (`{contact.id}`).
    #[serde(default)]
    pub link: Option<String>,
}

/// How to write a finished call into the CRM.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    #[serde(default = "post")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<toml::Value>,
    #[serde(default = "journal_timeout")]
    pub timeout_ms: u64,
    /// Journal only calls where this value is set (`contact.id`: only
    /// callers the CRM knows).
    #[serde(default)]
    pub when: Option<String>,
    /// Wait this long after the call's end, so the agent's work order is
    /// in the journal.
    #[serde(default)]
    pub delay_secs: u64,
    /// As in [`Lookup::error`].
    #[serde(default)]
    pub error: Option<String>,
    /// Values the CRM spells its own way (`{values.status}`): one of the
    /// call's values looked up in a table, `"*"` for any other.
    #[serde(default)]
    pub values: BTreeMap<String, ValueMap>,
}

/// `from` a call's value `to` the CRM's word for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueMap {
    pub from: String,
    pub map: BTreeMap<String, String>,
}

impl Journal {
    /// Adds `values.*` to `vars` (a value the table lacks, without `"*"`,
    /// is written as it is).
    pub fn add_values(&self, vars: &mut Vars) {
        for (name, m) in &self.values {
            let from = vars.get(&m.from).map(template::text_of).unwrap_or_default();
            let word = m
                .map
                .get(&from)
                .or_else(|| m.map.get("*"))
                .cloned()
                .unwrap_or(from);
            vars.insert(format!("values.{name}"), Value::String(word));
        }
    }
}

fn get() -> String {
    "GET".into()
}
fn post() -> String {
    "POST".into()
}
fn lookup_timeout() -> u64 {
    2_000
}
fn journal_timeout() -> u64 {
    10_000
}
fn cache_secs() -> u64 {
    300
}
fn not_found_status() -> Vec<u16> {
    vec![404]
}

/// One request a connector describes, ready to fill.
#[derive(Debug, Clone, Copy)]
pub struct RequestSpec<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a BTreeMap<String, String>,
    pub body: Option<&'a toml::Value>,
    pub timeout_ms: u64,
}

/// A request with every value filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Filled {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl RequestSpec<'_> {
    /// The request for `vars`.
    pub fn fill(&self, vars: &Vars) -> Result<Filled, template::TemplateError> {
        Ok(Filled {
            method: self.method.to_ascii_uppercase(),
            url: template::render(self.url, vars, Escape::Url)?,
            headers: self
                .headers
                .iter()
                .map(|(k, v)| Ok((k.clone(), template::render(v, vars, Escape::Raw)?)))
                .collect::<Result<_, template::TemplateError>>()?,
            body: self
                .body
                .map(|b| template::render_json(&json_of(b), vars))
                .transpose()?,
        })
    }

    fn check(&self, what: &str, known: &BTreeSet<String>) -> Result<(), String> {
        if !matches!(
            self.method.to_ascii_uppercase().as_str(),
            "GET" | "POST" | "PUT" | "PATCH"
        ) {
            return Err(format!(
                "{what}.method {:?}: GET, POST, PUT or PATCH",
                self.method
            ));
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            return Err(format!(
                "{what}.timeout_ms {}: between 100 and 60000",
                self.timeout_ms
            ));
        }
        let mut used = template::names(self.url).map_err(|e| format!("{what}.url: {e}"))?;
        for (k, v) in self.headers {
            used.extend(template::names(v).map_err(|e| format!("{what}.headers.{k}: {e}"))?);
        }
        if let Some(b) = self.body {
            used.extend(
                template::json_names(&json_of(b)).map_err(|e| format!("{what}.body: {e}"))?,
            );
        }
        check_names(what, &used, known)
    }
}

fn check_names(what: &str, used: &[String], known: &BTreeSet<String>) -> Result<(), String> {
    match used.iter().find(|n| !known.contains(*n)) {
        Some(n) => Err(format!(
            "{what} uses {{{n}}}, which no request has (there are {})",
            known
                .iter()
                .map(|k| format!("{{{k}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => Ok(()),
    }
}

/// A TOML value as JSON (a body is written in TOML in the file).
pub fn json_of(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl Lookup {
    /// The lookup's request.
    pub fn request(&self) -> RequestSpec<'_> {
        RequestSpec {
            method: &self.method,
            url: &self.url,
            headers: &self.headers,
            body: self.body.as_ref(),
            timeout_ms: self.timeout_ms,
        }
    }
}

impl Journal {
    /// The journal's request.
    pub fn request(&self) -> RequestSpec<'_> {
        RequestSpec {
            method: &self.method,
            url: &self.url,
            headers: &self.headers,
            body: self.body.as_ref(),
            timeout_ms: self.timeout_ms,
        }
    }
}

impl Connector {
    /// Reads a connector file's text, checked whole.
    pub fn parse(text: &str) -> Result<Connector, String> {
        let c: Connector = toml::from_str(text).map_err(|e| e.to_string())?;
        c.check()?;
        Ok(c)
    }

    /// Every template names only values its request has; pointers are
    /// pointers.
    fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name is empty".into());
        }
        let settings = self.settings.iter().map(|s| format!("settings.{s}"));
        let mut lookup: BTreeSet<String> = LOOKUP_VARS.iter().map(|s| s.to_string()).collect();
        lookup.extend(settings);
        self.lookup.request().check("lookup", &lookup)?;
        let f = &self.lookup.found;
        for (what, pointer) in [
            ("records", f.records.as_deref()),
            ("id", Some(f.id.as_str())),
            ("name", f.name.as_deref()),
            ("company", f.company.as_deref()),
            ("owner", f.owner.as_deref()),
        ] {
            if let Some(p) = pointer {
                if !(p.is_empty() || p.starts_with('/')) {
                    return Err(format!(
                        "lookup.found.{what} {p:?} is not a JSON pointer (\"/list\", \"/0/id\")"
                    ));
                }
            }
        }
        let mut with_contact = lookup.clone();
        with_contact.extend(CONTACT_VARS.iter().map(|s| s.to_string()));
        if let Some(link) = &f.link {
            let used = template::names(link).map_err(|e| format!("lookup.found.link: {e}"))?;
            check_names("lookup.found.link", &used, &with_contact)?;
        }
        for p in self
            .lookup
            .error
            .iter()
            .chain(self.journal.iter().flat_map(|j| &j.error))
        {
            if !p.starts_with('/') {
                return Err(format!("error {p:?} is not a JSON pointer (\"/error\")"));
            }
        }
        if let Some(j) = &self.journal {
            let mut known = with_contact;
            known.extend(JOURNAL_VARS.iter().map(|s| s.to_string()));
            for (name, m) in &j.values {
                check_names(
                    &format!("journal.values.{name}.from"),
                    std::slice::from_ref(&m.from),
                    &known,
                )?;
            }
            known.extend(j.values.keys().map(|k| format!("values.{k}")));
            j.request().check("journal", &known)?;
            if let Some(when) = &j.when {
                check_names("journal.when", std::slice::from_ref(when), &known)?;
            }
        }
        Ok(())
    }
}

/// The connectors shipped in `crm-connectors/`: (file name, TOML).
pub fn shipped() -> &'static [(&'static str, &'static str)] {
    SHIPPED_CONNECTORS
}

include!(concat!(env!("OUT_DIR"), "/crm_connectors.rs"));

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_shipped_connector_is_valid() {
        assert!(shipped().len() >= 3, "generic REST and two real CRMs");
        for (file, text) in shipped() {
            let c = Connector::parse(text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(!c.about.is_empty(), "{file} says what it needs");
        }
    }

    #[test]
    fn a_typo_in_a_template_fails_at_load_naming_it() {
        let text = r#"
            name = "Test"
            settings = ["base_url"]
            [lookup]
            url = "{settings.base_url}/find?n={number.e146}"
            [lookup.found]
            id = "/id"
        "#;
        let err = Connector::parse(text).unwrap_err();
        assert!(err.contains("{number.e146}"), "{err}");
        let text = text.replace("e146", "e164").replace("\"/id\"", "\"id\"");
        let err = Connector::parse(&text).unwrap_err();
        assert!(err.contains("not a JSON pointer"), "{err}");
        let ok = text.replace("id = \"id\"", "id = \"/id\"");
        assert!(Connector::parse(&ok).is_ok());
        let journal = format!(
            "{ok}\n[journal]\nurl = \"{{settings.base_url}}/log\"\nwhen = \"contact.idd\"\n"
        );
        assert!(Connector::parse(&journal)
            .unwrap_err()
            .contains("contact.idd"));
        let unknown = format!("{ok}\nretries = 3\n");
        assert!(Connector::parse(&unknown).is_err(), "unknown keys refused");
    }

    #[test]
    fn a_crm_gets_its_own_words_for_the_calls_values() {
        let espo = shipped()
            .iter()
            .find(|(f, _)| *f == "espocrm.toml")
            .map(|(_, t)| Connector::parse(t).unwrap())
            .unwrap();
        let j = espo.journal.as_ref().unwrap();
        let mut vars: Vars = [
            ("call.outcome", json!("answered")),
            ("call.direction", json!("inbound")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        j.add_values(&mut vars);
        assert_eq!(vars["values.status"], "Held");
        assert_eq!(vars["values.direction"], "Inbound");
        vars.insert("call.outcome".into(), json!("missed"));
        j.add_values(&mut vars);
        assert_eq!(vars["values.status"], "Not Held", "the table's \"*\"");
    }

    #[test]
    fn a_request_is_filled_from_the_values() {
        let c = Connector::parse(
            r#"
            name = "Test"
            settings = ["base_url", "key"]
            [lookup]
            method = "post"
            url = "{settings.base_url}/find"
            headers = { Authorization = "Bearer {settings.key}" }
            body = { phone = "{number.e164}", limit = 1 }
            [lookup.found]
            id = "/id"
        "#,
        )
        .unwrap();
        let vars: Vars = [
            ("settings.base_url", json!("http://crm")),
            ("settings.key", json!("k1")),
            ("number.e164", json!("+8613812345678")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let filled = c.lookup.request().fill(&vars).unwrap();
        assert_eq!(filled.method, "POST");
        assert_eq!(filled.url, "http://crm/find");
        assert_eq!(
            filled.headers,
            [("Authorization".into(), "Bearer k1".into())]
        );
        assert_eq!(
            filled.body,
            Some(json!({"phone": "+8613812345678", "limit": 1}))
        );
    }
}
