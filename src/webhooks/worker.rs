//! The webhook delivery worker: a task on the main runtime. Each round it
//! asks the store for every endpoint's oldest pending delivery that is
//! due, posts them (endpoints in parallel, each endpoint one at a time, so
//! each receives its events in order), and records how each went: a 2xx
//! delivers it, anything else sets the next attempt ([`super::next_attempt`])
//! or, after a day, gives it up. A delivery whose answer was lost (the
//! process killed mid-request) is sent again with the same event id: a
//! receiver de-duplicates on `id`.
//!
//! A group robot's delivery waits for the robot's rules first: outside its
//! quiet hours and within its per-minute pace ([`super::robot`]); held, it
//! is due again when it may go, without an attempt counted.

use super::robot::{self, Kind, Pace, Rules};
use super::signature;
use crate::phone::Normalizer;
use crate::sms::after_call::{self, AfterCall};
use crate::store::{Attempt, DueDelivery, StoreHandle};
use chrono::FixedOffset;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// How the worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// The first retry's delay; each later one doubles it (up to an hour).
    pub retry_base_ms: i64,
    /// How long a receiver may take to answer.
    pub timeout: Duration,
    /// How often the outbox is looked at when nothing is due.
    pub poll: Duration,
    /// How often call-backs that fell due and work orders past their due
    /// time are looked for (`callback.due`, `workorder.overdue`).
    pub due_scan: Duration,
    /// The console's address, for links in group robots' messages.
    pub console_url: Option<String>,
    /// Where numbers belong (归属地), for group robots' messages.
    pub normalizer: Option<Arc<Normalizer>>,
    /// The zone quiet hours and messages' times are in (`None`: the
    /// machine's own).
    pub zone: Option<FixedOffset>,
    /// The CRMs whose call journals are endpoints `crm:<name>` of the outbox.
    pub crm: Option<crate::crm::Crm>,
    /// SMS on call events, endpoints `sms:<kind>` of the outbox.
    pub after_call: Option<AfterCall>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings::from_config(&crate::config::WebhooksConfig::default())
    }
}

impl WorkerSettings {
    /// The settings of `[webhooks]`.
    pub fn from_config(c: &crate::config::WebhooksConfig) -> Self {
        WorkerSettings {
            retry_base_ms: (c.retry_first_secs.max(1) * 1000) as i64,
            timeout: Duration::from_secs(c.timeout_secs.max(1)),
            poll: Duration::from_millis(500),
            due_scan: Duration::from_secs(15),
            console_url: c.console_url.clone().filter(|u| !u.trim().is_empty()),
            normalizer: None,
            zone: None,
            crm: None,
            after_call: None,
        }
    }

    /// The same, telling robots' readers where callers' numbers belong.
    pub fn with_normalizer(mut self, normalizer: Arc<Normalizer>) -> Self {
        self.normalizer = Some(normalizer);
        self
    }

    /// The same, writing calls into the CRMs of `crm` that journal them.
    pub fn with_crm(mut self, crm: crate::crm::Crm) -> Self {
        self.crm = Some(crm);
        self
    }

    /// The same, sending the SMS that call events call for.
    pub fn with_after_call(mut self, after_call: AfterCall) -> Self {
        self.after_call = Some(after_call);
        self
    }

    /// When an after-call message's delivery may go: an apology after its
    /// wait, all inside the SMS window.
    fn after_call_hold(&self, d: &DueDelivery, now: i64) -> i64 {
        match (&self.after_call, after_call::Kind::of_endpoint(&d.url)) {
            (Some(a), Some(kind)) => a.rules().due_at(kind, d.created_at, now, self.zone()),
            _ => 0,
        }
    }

    /// When a CRM journal's delivery may go: its connector's delay after
    /// the call's end (the event's time), so the work order is in it.
    fn journal_hold(&self, d: &DueDelivery) -> i64 {
        let Some(label) = d.url.strip_prefix("crm:") else {
            return 0;
        };
        let (Some(crm), Some(ended)) = (&self.crm, d.data["ended_at"].as_i64()) else {
            return 0;
        };
        crm.index_of(label)
            .map_or(0, |i| ended + crm.journal_delay_ms(i))
    }

    fn zone(&self) -> FixedOffset {
        self.zone.unwrap_or_else(|| *chrono::Local::now().offset())
    }

    /// `浙江 杭州 · 中国移动` for the number of an event's data, if known.
    fn place(&self, data: &serde_json::Value) -> Option<String> {
        let number = data["number"]["e164"].as_str()?;
        let n = self.normalizer.as_ref()?;
        let info = n.number_info(&n.normalize_lenient(number)?)?;
        let place = info.place.map(|p| {
            if p.city.is_empty() || p.city == p.province {
                p.province.clone()
            } else {
                format!("{} {}", p.province, p.city)
            }
        });
        let parts: Vec<String> = place.into_iter().chain(info.carrier).collect();
        (!parts.is_empty()).then(|| parts.join(" · "))
    }
}

/// The rules a delivery's endpoint set.
fn rules(d: &DueDelivery) -> Rules {
    Rules {
        quiet_from: d.quiet_from,
        quiet_to: d.quiet_to,
        per_minute: d.per_minute,
    }
}

/// The body a receiver gets: the event's id (the same on every retry),
/// type, time and data.
pub fn body(d: &DueDelivery) -> Vec<u8> {
    let at = chrono::DateTime::from_timestamp_millis(d.created_at)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    json!({ "id": d.event_id, "type": d.event_type, "created_at": at, "data": d.data })
        .to_string()
        .into_bytes()
}

/// Posts one delivery; how it went.
async fn deliver(
    client: &reqwest::Client,
    store: &StoreHandle,
    d: &DueDelivery,
    settings: &WorkerSettings,
) -> Attempt {
    if let Some(label) = d.url.strip_prefix("crm:") {
        return deliver_to_crm(store, label, d, settings).await;
    }
    if d.url.starts_with("sms:") {
        return send_after_call(d, settings).await;
    }
    let kind = Kind::parse(&d.kind);
    if kind.is_robot() {
        return deliver_to_robot(client, kind, d, settings).await;
    }
    let body = body(d);
    let now = crate::store::now_ms();
    let secrets: Vec<&[u8]> = d.secrets.iter().map(|s| s.as_bytes()).collect();
    let sent = client
        .post(&d.url)
        .timeout(settings.timeout)
        .header("content-type", "application/json")
        .header("user-agent", concat!("callpop/", env!("CARGO_PKG_VERSION")))
        .header("x-callpop-event", &d.event_type)
        .header("x-callpop-event-id", &d.event_id)
        .header(
            "x-callpop-signature",
            signature::header(&secrets, now / 1000, &body),
        )
        .body(body)
        .send()
        .await;
    let retry = || super::next_attempt(d.attempts, d.created_at, now, settings.retry_base_ms);
    match sent {
        Ok(r) if r.status().is_success() => Attempt::Delivered {
            status: r.status().as_u16(),
        },
        Ok(r) => Attempt::Failed {
            status: Some(r.status().as_u16()),
            error: format!("HTTP {}", r.status()),
            next_at: retry(),
        },
        Err(e) => Attempt::Failed {
            status: None,
            error: e.to_string(),
            next_at: retry(),
        },
    }
}

/// Writes a finished call into a CRM by its connector's journal; how it
/// went. A call the journal leaves out counts as delivered (204).
async fn deliver_to_crm(
    store: &StoreHandle,
    label: &str,
    d: &DueDelivery,
    settings: &WorkerSettings,
) -> Attempt {
    let now = crate::store::now_ms();
    let retry = || super::next_attempt(d.attempts, d.created_at, now, settings.retry_base_ms);
    let failed = |error: String| Attempt::Failed {
        status: None,
        error,
        next_at: retry(),
    };
    let Some((crm, i)) = settings
        .crm
        .as_ref()
        .and_then(|c| Some((c, c.index_of(label)?)))
    else {
        return failed(format!("no CRM {label:?} is configured"));
    };
    let call_uid = d.data["call_uid"].as_str().unwrap_or_default().to_string();
    let uid = call_uid.clone();
    let orders = store
        .workorders()
        .call(move |w| w.call_work_orders(&uid, &crate::store::Scope::All))
        .await;
    let work_orders = match orders {
        Ok(rows) => rows.into_iter().map(|w| w.number).collect(),
        Err(e) => return failed(format!("reading the call's work orders: {e}")),
    };
    // Who took the call is recorded after the event was written.
    let agent = match store.calls().call(move |c| c.agent_of(&call_uid)).await {
        Ok(agent) => agent,
        Err(e) => return failed(format!("reading the call's agent: {e}")),
    };
    let mut data = d.data.clone();
    if let Some((username, _)) = &agent {
        data["agent"] = json!(username);
    }
    let agent_name = agent.map(|(_, name)| name);
    let area_code = settings.normalizer.as_ref().and_then(|n| {
        let number = n.normalize_lenient(d.data["number"]["e164"].as_str()?)?;
        n.number_info(&number)?.place?.area_code.clone()
    });
    let extras = crate::crm::journal::Extras {
        work_orders,
        agent_name,
        console_url: settings.console_url.clone(),
        area_code,
    };
    let vars = crate::crm::journal::call_vars(&data, &extras, settings.zone());
    match crm.journal(i, &vars).await {
        Ok(Some(status)) => Attempt::Delivered { status },
        Ok(None) => Attempt::Delivered { status: 204 },
        Err(e) => failed(e),
    }
}

/// Sends (or skips, and says why) the SMS a call event calls for, or
/// scores a survey reply; how it went. Nothing to send counts as
/// delivered (204).
async fn send_after_call(d: &DueDelivery, settings: &WorkerSettings) -> Attempt {
    let now = crate::store::now_ms();
    let Some(a) = &settings.after_call else {
        return Attempt::Failed {
            status: None,
            error: "SMS on call events are not set up in this process".into(),
            next_at: super::next_attempt(d.attempts, d.created_at, now, settings.retry_base_ms),
        };
    };
    let handled = if d.url == after_call::REPLIES_ENDPOINT {
        a.take_reply(&d.data, now).await.map(|call| match call {
            Some(uid) => format!("scored call {uid}"),
            None => String::new(),
        })
    } else if let Some(kind) = after_call::Kind::of_endpoint(&d.url) {
        use crate::reports::stats::{interval_start, Period};
        let day_start = interval_start(now, Period::Day, settings.zone(), now);
        a.handle(kind, &d.data, d.created_at, now, day_start)
            .await
            .map(|h| match h {
                after_call::Handled::Sent(id) => format!("queued SMS {id}"),
                after_call::Handled::Skipped(why) => format!("skipped: {}", why.as_str()),
                after_call::Handled::Nothing => String::new(),
            })
    } else {
        Ok(String::new())
    };
    match handled {
        Ok(said) => {
            if !said.is_empty() {
                tracing::info!(endpoint = %d.url, event = %d.event_id, "{said}");
            }
            Attempt::Delivered {
                status: if said.is_empty() { 204 } else { 200 },
            }
        }
        Err(error) => Attempt::Failed {
            status: None,
            error,
            next_at: super::next_attempt(d.attempts, d.created_at, now, settings.retry_base_ms),
        },
    }
}

/// Posts a group robot its message; how it went: HTTP 2xx with
/// `errcode` 0 delivers it.
async fn deliver_to_robot(
    client: &reqwest::Client,
    kind: Kind,
    d: &DueDelivery,
    settings: &WorkerSettings,
) -> Attempt {
    let now = crate::store::now_ms();
    let ctx = robot::Context {
        console_url: settings.console_url.as_deref(),
        zone: settings.zone(),
        place: settings.place(&d.data),
    };
    let (title, text) = robot::message(&d.event_type, &d.data, &ctx);
    let secret = d.secrets.first().map(String::as_str).unwrap_or_default();
    let sent = client
        .post(robot::address(kind, &d.url, secret, now))
        .timeout(settings.timeout)
        .header("content-type", "application/json; charset=utf-8")
        .body(robot::body(kind, &title, &text).to_string())
        .send()
        .await;
    let retry = || super::next_attempt(d.attempts, d.created_at, now, settings.retry_base_ms);
    let failed = |status: Option<u16>, error: String| Attempt::Failed {
        status,
        error,
        next_at: retry(),
    };
    match sent {
        Ok(r) if r.status().is_success() => {
            let status = r.status().as_u16();
            match r.bytes().await {
                Ok(answer) => match robot::accepted(&answer) {
                    Ok(()) => Attempt::Delivered { status },
                    Err(why) => failed(Some(status), why),
                },
                Err(e) => failed(Some(status), e.to_string()),
            }
        }
        Ok(r) => failed(Some(r.status().as_u16()), format!("HTTP {}", r.status())),
        Err(e) => failed(None, e.to_string()),
    }
}

/// Delivers until the process stops. Each endpoint's delivery runs on
/// its own task, so one slow or unreachable receiver (up to `timeout` per
/// attempt) never holds up the others; an endpoint with a delivery in
/// flight is not asked for its next one, which keeps its order.
pub async fn run(store: StoreHandle, settings: WorkerSettings) {
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: no HTTP client; nothing will be delivered");
            return;
        }
    };
    let mut in_flight: HashSet<i64> = HashSet::new();
    let mut paces: HashMap<i64, Pace> = HashMap::new();
    let mut sending: JoinSet<i64> = JoinSet::new();
    let mut next_scan = tokio::time::Instant::now();
    loop {
        let now = crate::store::now_ms();
        if tokio::time::Instant::now() >= next_scan {
            next_scan += settings.due_scan;
            match store.followups().call(move |f| f.announce_due(now)).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(count = n, "webhooks: call-backs fell due"),
                Err(e) => tracing::warn!(error = %e, "webhooks: cannot look for due call-backs"),
            }
            match store
                .workorders()
                .call(move |w| w.announce_overdue(now))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::debug!(count = n, "webhooks: work orders became overdue"),
                Err(e) => {
                    tracing::warn!(error = %e, "webhooks: cannot look for overdue work orders")
                }
            }
        }
        match store.webhooks().call(move |w| w.due(now)).await {
            Ok(due) => {
                for d in due {
                    if in_flight.contains(&d.endpoint_id) {
                        continue;
                    }
                    let pace = paces.entry(d.endpoint_id).or_default();
                    let until = rules(&d)
                        .hold_until(now, settings.zone())
                        .max(pace.next_slot(d.per_minute, now))
                        .max(settings.journal_hold(&d))
                        .max(settings.after_call_hold(&d, now));
                    if until > now {
                        let (endpoint, row) = (d.endpoint_id, d.event_row);
                        let held = Attempt::Held { until };
                        if let Err(e) = store
                            .webhooks()
                            .call(move |w| w.record(endpoint, row, &held, now))
                            .await
                        {
                            tracing::warn!(error = %e, "webhooks: cannot hold a delivery");
                        }
                        continue;
                    }
                    pace.sent(now);
                    if in_flight.insert(d.endpoint_id) {
                        sending.spawn(deliver_and_record(
                            client.clone(),
                            store.clone(),
                            d,
                            settings.clone(),
                        ));
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "webhooks: cannot read the outbox"),
        }
        // Until a delivery settles (its endpoint may have the next one
        // waiting) or the next look at the outbox.
        tokio::select! {
            Some(done) = sending.join_next() => {
                match done {
                    Ok(endpoint) => { in_flight.remove(&endpoint); }
                    Err(e) => {
                        // A panicked delivery: its endpoint is asked again.
                        tracing::error!(error = %e, "webhooks: a delivery task failed");
                        in_flight.clear();
                        sending.abort_all();
                    }
                }
            }
            _ = tokio::time::sleep(settings.poll) => {}
        }
    }
}

/// Sends one delivery and records how it went; the endpoint's id.
async fn deliver_and_record(
    client: reqwest::Client,
    store: StoreHandle,
    d: DueDelivery,
    settings: WorkerSettings,
) -> i64 {
    let attempt = deliver(&client, &store, &d, &settings).await;
    if let Attempt::Failed { error, next_at, .. } = &attempt {
        tracing::info!(endpoint = d.endpoint_id, event = %d.event_id, error, given_up = next_at.is_none(), "webhook delivery failed");
    }
    let (endpoint, row, at) = (d.endpoint_id, d.event_row, crate::store::now_ms());
    if let Err(e) = store
        .webhooks()
        .call(move |w| w.record(endpoint, row, &attempt, at))
        .await
    {
        // Not recorded: it is sent again (same id) next round.
        tracing::warn!(error = %e, "webhooks: cannot record a delivery");
    }
    endpoint
}
