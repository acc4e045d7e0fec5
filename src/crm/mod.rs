//! Lookups in the center's own CRM (Open CTI): connectors are data files
//! ([`connector`]); for every identified caller each configured connector
//! is asked, beside the local store, and the pop — already on the agent's
//! screen with the local result — is amended when the answer comes
//! (`call.crm`). The lookups run on the main runtime, never on the line
//! thread: a slow, failing or mad CRM never delays or breaks a pop; its
//! failures are counted for admins (`GET /api/crm`).

pub mod cache;
pub mod connector;
pub mod journal;
pub mod lookup;
pub mod template;

use crate::config::CrmConfig;
use crate::event::CallEvent;
use crate::pop::HubHandle;
use connector::{Connector, Filled};
use lookup::Contact;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use template::Vars;
use tokio::sync::{broadcast, Semaphore};

/// Requests one connector may have waiting at once; a CRM slower than
/// the calls come is skipped for the calls beyond, not queued.
pub const MAX_IN_FLIGHT: usize = 32;

/// The most of an answer read (a CRM that sends more is failing).
const MAX_ANSWER: usize = 1 << 20;

/// A connector as configured: its file and its settings.
#[derive(Debug, Clone)]
pub struct Configured {
    /// What admins and pops call it.
    pub label: String,
    pub connector: Connector,
    /// `settings.*`, filled from the configuration and the environment.
    pub settings: Vars,
}

/// The connectors of `[[crm]]`, each checked: its file, its settings
/// (all it asks for, nothing else), `${NAME}` read from the environment.
pub fn configure(configs: &[CrmConfig]) -> Result<Vec<Configured>, String> {
    configure_with(configs, |name| std::env::var(name).ok())
}

fn configure_with(
    configs: &[CrmConfig],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Configured>, String> {
    let mut out: Vec<Configured> = Vec::new();
    for c in configs {
        let what = format!("[[crm]] connector {:?}", c.connector);
        let text = match connector::shipped()
            .iter()
            .find(|(file, _)| file.strip_suffix(".toml") == Some(c.connector.as_str()))
        {
            Some((_, text)) => text.to_string(),
            None if c.connector.ends_with(".toml") => std::fs::read_to_string(&c.connector)
                .map_err(|e| format!("{what}: cannot read it: {e}"))?,
            None => {
                let names: Vec<&str> = connector::shipped()
                    .iter()
                    .filter_map(|(f, _)| f.strip_suffix(".toml"))
                    .collect();
                return Err(format!(
                    "{what}: no such connector (shipped: {}; or give a path ending in .toml)",
                    names.join(", ")
                ));
            }
        };
        let connector = Connector::parse(&text).map_err(|e| format!("{what}: {e}"))?;
        let mut settings = Vars::new();
        for (key, value) in &c.settings {
            if !connector.settings.contains(key) {
                return Err(format!(
                    "{what}: no setting {key:?} (it takes {})",
                    connector.settings.join(", ")
                ));
            }
            let value = match value {
                toml::Value::String(s) => {
                    match s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                        Some(var) => Value::String(env(var).ok_or_else(|| {
                            format!("{what}: setting {key} reads ${{{var}}}, which is not set")
                        })?),
                        None => Value::String(s.clone()),
                    }
                }
                other => connector::json_of(other),
            };
            settings.insert(format!("settings.{key}"), value);
        }
        if let Some(missing) = connector
            .settings
            .iter()
            .find(|k| !settings.contains_key(&format!("settings.{k}")))
        {
            return Err(format!("{what}: setting {missing:?} is missing"));
        }
        let label = c.name.clone().unwrap_or_else(|| connector.name.clone());
        if out.iter().any(|o| o.label == label) {
            return Err(format!(
                "{what}: two CRMs are called {label:?}: give each a name"
            ));
        }
        out.push(Configured {
            label,
            connector,
            settings,
        });
    }
    Ok(out)
}

/// The last failure of a connector, for the console to word: `code` is
/// `timeout`, `failed` (a lookup) or `journal_failed`; `detail` is the
/// answer's or the network's own words ("HTTP 500", "not JSON").
#[derive(Debug, Clone, Serialize)]
pub struct LastError {
    /// When, ms.
    pub at: i64,
    pub code: &'static str,
    pub detail: String,
}

/// What a connector has done since start, for admins.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Lookups asked of the CRM.
    pub lookups: u64,
    pub found: u64,
    pub not_found: u64,
    /// Answers that were not answers (failure status, not JSON, wrong shape).
    pub errors: u64,
    /// No answer within the connector's time.
    pub timeouts: u64,
    /// Answered from the cache without asking.
    pub cached: u64,
    /// Not asked: too many requests already waiting.
    pub skipped: u64,
    /// The slowest answer, ms.
    pub slowest_ms: u64,
    /// Calls written into the CRM.
    pub journaled: u64,
    /// Calls its journal's `when` left out (a caller the CRM does not know).
    pub journal_skipped: u64,
    /// Journal requests that failed (the outbox tries them again).
    pub journal_failed: u64,
    pub last_error: Option<LastError>,
}

/// How one request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Timeout,
    Error(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout => write!(f, "no answer in time"),
            Failure::Error(e) => write!(f, "{e}"),
        }
    }
}

/// The connectors at work: cloneable, shared by the lookup task and the
/// admin console.
#[derive(Clone)]
pub struct Crm {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Crm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .inner
            .connectors
            .iter()
            .map(|c| c.label.as_str())
            .collect();
        f.debug_struct("Crm").field("connectors", &names).finish()
    }
}

struct Inner {
    connectors: Vec<Configured>,
    client: reqwest::Client,
    cache: Mutex<cache::Cache>,
    counts: Mutex<Vec<Counts>>,
    in_flight: Vec<Arc<Semaphore>>,
}

impl Crm {
    /// The connectors, ready to ask.
    pub fn new(connectors: Vec<Configured>) -> Crm {
        let n = connectors.len();
        Crm {
            inner: Arc::new(Inner {
                // No redirects: a key in a header or body must never follow
                // an answer to another host.
                client: reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("callpop/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .expect("an HTTP client"),
                cache: Mutex::default(),
                counts: Mutex::new(vec![Counts::default(); n]),
                in_flight: (0..n)
                    .map(|_| Arc::new(Semaphore::new(MAX_IN_FLIGHT)))
                    .collect(),
                connectors,
            }),
        }
    }

    /// Whether any connector is configured.
    pub fn is_empty(&self) -> bool {
        self.inner.connectors.is_empty()
    }

    /// The connectors, in the configuration's order.
    pub fn connectors(&self) -> &[Configured] {
        &self.inner.connectors
    }

    /// Each connector with what it has done, as admins see it.
    pub fn status(&self) -> Vec<Value> {
        let counts = self.inner.counts.lock().unwrap_or_else(|e| e.into_inner());
        self.inner
            .connectors
            .iter()
            .zip(counts.iter())
            .map(|(c, n)| {
                json!({
                    "name": c.label,
                    "connector": c.connector.name,
                    "about": c.connector.about,
                    "journal": c.connector.journal.is_some(),
                    "counts": n,
                })
            })
            .collect()
    }

    /// Asks every connector about each identified caller and amends the
    /// pops through `hub`, until the call events end.
    pub async fn run(self, hub: HubHandle, mut events: broadcast::Receiver<CallEvent>) {
        if self.is_empty() {
            return;
        }
        // Calls callpop dialled: their caller ID is the far end's number.
        let mut dialled: std::collections::VecDeque<std::sync::Arc<str>> = Default::default();
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "CRM lookups fell behind the call events");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let (call_id, line, caller) = match event {
                CallEvent::Dialing { call_id, .. } => {
                    if dialled.len() >= 1_000 {
                        dialled.pop_front();
                    }
                    dialled.push_back(call_id);
                    continue;
                }
                CallEvent::CallerIdentified {
                    call_id,
                    line,
                    caller,
                } => (call_id, line, caller),
                _ => continue,
            };
            let direction = if dialled.contains(&call_id) {
                "outbound"
            } else {
                "inbound"
            };
            if caller.blocked.as_ref().is_some_and(|b| b.rejected) {
                continue;
            }
            let Some(mut vars) = lookup::number_vars(&caller) else {
                continue;
            };
            vars.insert("call.id".into(), Value::String(call_id.to_string()));
            vars.insert("call.line".into(), Value::String(line.to_string()));
            vars.insert("call.direction".into(), Value::String(direction.into()));
            for i in 0..self.inner.connectors.len() {
                self.amend(i, call_id.to_string(), vars.clone(), hub.clone());
            }
        }
    }

    /// Amends the pop of `call_id` with connector `i`'s answer: at once
    /// from the cache, else when the CRM answers (in a task of its own).
    fn amend(&self, i: usize, call_id: String, vars: Vars, hub: HubHandle) {
        let label = self.inner.connectors[i].label.clone();
        if let Some(answer) = self.cached(i, &vars) {
            self.count(i, |c| c.cached += 1);
            tokio::spawn(async move { hub.crm(call_id, amendment(&label, answer)).await });
            return;
        }
        let Ok(permit) = self.inner.in_flight[i].clone().try_acquire_owned() else {
            self.count(i, |c| c.skipped += 1);
            return;
        };
        let crm = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Ok(answer) = crm.look_up(i, &vars).await {
                hub.crm(call_id, amendment(&label, answer)).await;
            }
        });
    }

    /// Asks connector `i` who `vars`' number is (counted, and kept in the
    /// cache for the connector's time).
    pub async fn look_up(&self, i: usize, vars: &Vars) -> Result<Option<Contact>, Failure> {
        let c = &self.inner.connectors[i];
        let mut all = c.settings.clone();
        all.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        let number = template::text_of(&all["number.e164"]);
        let lookup = &c.connector.lookup;
        let started = Instant::now();
        let result = match lookup.request().fill(&all) {
            Ok(filled) => self
                .send(filled, lookup.timeout_ms)
                .await
                .and_then(|(status, body)| {
                    lookup::answer(lookup, status, &body, &all).map_err(Failure::Error)
                }),
            Err(e) => Err(Failure::Error(format!("the request cannot be made: {e}"))),
        };
        let ms = started.elapsed().as_millis() as u64;
        self.count(i, |n| {
            n.lookups += 1;
            n.slowest_ms = n.slowest_ms.max(ms);
            match &result {
                Ok(Some(_)) => n.found += 1,
                Ok(None) => n.not_found += 1,
                Err(f) => {
                    match f {
                        Failure::Timeout => n.timeouts += 1,
                        Failure::Error(_) => n.errors += 1,
                    }
                    n.last_error = Some(LastError {
                        at: crate::store::now_ms(),
                        code: match f {
                            Failure::Timeout => "timeout",
                            Failure::Error(_) => "failed",
                        },
                        detail: f.to_string(),
                    });
                }
            }
        });
        match &result {
            Ok(answer) => self
                .inner
                .cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .put(
                    i,
                    &number,
                    answer.clone(),
                    crate::store::now_ms(),
                    (lookup.cache_secs * 1000) as i64,
                ),
            Err(f) => tracing::info!(crm = %c.label, %number, error = %f, "CRM lookup failed"),
        }
        result
    }

    /// The contact of `vars`' number for connector `i`: from the cache,
    /// else asked.
    pub async fn contact(&self, i: usize, vars: &Vars) -> Result<Option<Contact>, Failure> {
        match self.cached(i, vars) {
            Some(answer) => Ok(answer),
            None => self.look_up(i, vars).await,
        }
    }

    /// Connector `i`'s kept answer for `vars`' number, if still fresh.
    fn cached(&self, i: usize, vars: &Vars) -> Option<Option<Contact>> {
        let number = template::text_of(&vars["number.e164"]);
        self.inner
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(i, &number, crate::store::now_ms())
    }

    /// The connector called `label`, if configured.
    pub fn index_of(&self, label: &str) -> Option<usize> {
        self.inner.connectors.iter().position(|c| c.label == label)
    }

    /// How long after a call's end connector `i` writes it (its journal's
    /// `delay_secs`), ms.
    pub fn journal_delay_ms(&self, i: usize) -> i64 {
        self.inner.connectors[i]
            .connector
            .journal
            .as_ref()
            .map_or(0, |j| (j.delay_secs * 1000) as i64)
    }

    /// Writes a finished call (`call` from [`journal::call_vars`]) into
    /// connector `i`'s CRM: the contact looked up first (cache or CRM),
    /// then the journal's request. `Ok(Some(status))` when written,
    /// `Ok(None)` when its `when` leaves the call out, `Err` with why not
    /// (the outbox tries again).
    pub async fn journal(&self, i: usize, call: &Vars) -> Result<Option<u16>, String> {
        let c = &self.inner.connectors[i];
        let Some(j) = &c.connector.journal else {
            return Ok(None);
        };
        let mut vars = c.settings.clone();
        vars.extend(call.iter().map(|(k, v)| (k.clone(), v.clone())));
        if vars["number.e164"].is_null() {
            Contact::none_vars(&mut vars);
        } else {
            match self.contact(i, &vars).await {
                Ok(Some(contact)) => contact.vars(&mut vars),
                Ok(None) => Contact::none_vars(&mut vars),
                Err(f) => {
                    self.count(i, |n| n.journal_failed += 1);
                    return Err(format!("looking the caller up: {f}"));
                }
            }
        }
        if let Some(when) = &j.when {
            if template::text_of(vars.get(when).unwrap_or(&Value::Null)).is_empty() {
                self.count(i, |n| n.journal_skipped += 1);
                return Ok(None);
            }
        }
        j.add_values(&mut vars);
        let result = match j.request().fill(&vars) {
            Ok(filled) => match self.send(filled, j.timeout_ms).await {
                Ok((status, body)) => journal_answer(j, status, &body).map(|()| Some(status)),
                Err(f) => Err(f.to_string()),
            },
            Err(e) => Err(format!("the request cannot be made: {e}")),
        };
        self.count(i, |n| match &result {
            Ok(_) => n.journaled += 1,
            Err(e) => {
                n.journal_failed += 1;
                n.last_error = Some(LastError {
                    at: crate::store::now_ms(),
                    code: "journal_failed",
                    detail: e.clone(),
                });
            }
        });
        result
    }

    /// Sends a filled request; its status and (at most [`MAX_ANSWER`] of)
    /// its answer.
    pub async fn send(&self, filled: Filled, timeout_ms: u64) -> Result<(u16, Vec<u8>), Failure> {
        let method = reqwest::Method::from_bytes(filled.method.as_bytes())
            .map_err(|_| Failure::Error(format!("method {}", filled.method)))?;
        let mut req = self
            .inner
            .client
            .request(method, &filled.url)
            .timeout(Duration::from_millis(timeout_ms));
        for (k, v) in &filled.headers {
            req = req.header(k, v);
        }
        if let Some(body) = &filled.body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                Failure::Timeout
            } else {
                Failure::Error(short(&e))
            }
        };
        let mut res = req.send().await.map_err(failed)?;
        let status = res.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(Failure::Error(format!(
                    "the answer is larger than {} KiB",
                    MAX_ANSWER >> 10
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    fn count(&self, i: usize, f: impl FnOnce(&mut Counts)) {
        let mut counts = self.inner.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = counts.get_mut(i) {
            f(c)
        }
    }
}

/// Whether a CRM took a journal entry: 2xx and no refusal at the
/// journal's `error` pointer.
fn journal_answer(j: &connector::Journal, status: u16, body: &[u8]) -> Result<(), String> {
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status}"));
    }
    if let Some(p) = &j.error {
        let refused = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.pointer(p).filter(|e| !e.is_null()).cloned());
        if let Some(e) = refused {
            let text: String = e.to_string().chars().take(200).collect();
            return Err(format!("the CRM refused: {text}"));
        }
    }
    Ok(())
}

/// A `call.crm` amendment: the connector's name and the contact (null:
/// the CRM does not know the number).
fn amendment(label: &str, answer: Option<Contact>) -> Value {
    json!({ "connector": label, "contact": answer })
}

/// An HTTP client error in one line, without the URL (it may hold a key).
fn short(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else if e.is_request() {
        "the request failed"
    } else {
        "HTTP error"
    };
    match std::error::Error::source(e) {
        Some(src) => format!("{kind}: {src}"),
        None => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(connector: &str, settings: &[(&str, &str)]) -> CrmConfig {
        CrmConfig {
            connector: connector.into(),
            name: None,
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), toml::Value::String(v.to_string())))
                .collect(),
        }
    }

    #[test]
    fn connectors_are_configured_with_every_setting_and_nothing_else() {
        let env = |name: &str| (name == "ESPO_KEY").then(|| "k-123".to_string());
        let ok = configure_with(
            &[config(
                "espocrm",
                &[("base_url", "https://crm"), ("api_key", "${ESPO_KEY}")],
            )],
            env,
        )
        .unwrap();
        assert_eq!(ok[0].label, "EspoCRM");
        assert_eq!(ok[0].settings["settings.api_key"], "k-123");
        for (c, why) in [
            (
                config("espocrm", &[("base_url", "https://crm")]),
                "\"api_key\" is missing",
            ),
            (
                config("espocrm", &[("base_url", "x"), ("api_key", "${NOPE}")]),
                "${NOPE}, which is not set",
            ),
            (
                config(
                    "espocrm",
                    &[("base_url", "x"), ("api_key", "k"), ("apikey", "k")],
                ),
                "no setting \"apikey\"",
            ),
            (config("salesforce", &[]), "no such connector"),
            (config("/nowhere/my.toml", &[]), "cannot read it"),
        ] {
            let err = configure_with(&[c], env).unwrap_err();
            assert!(err.contains(why), "{err}");
        }
        let twice = configure_with(
            &[
                config("generic-rest", &[("base_url", "a"), ("token", "t")]),
                config("generic-rest", &[("base_url", "b"), ("token", "t")]),
            ],
            env,
        )
        .unwrap_err();
        assert!(twice.contains("give each a name"), "{twice}");
    }
}
