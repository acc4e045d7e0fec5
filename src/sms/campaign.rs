//! SMS campaigns (营销短信群发): created as drafts with their recipients
//! (a customer group or an uploaded sheet), previewed with text, encoding,
//! parts and cost per recipient, started under the rules (roles, monthly
//! quotas), and run: the runner feeds pending recipients into the send queue
//! a batch at a time while the campaign is inside its window, and marks it
//! done when nothing is left. Replies that are opt-out keywords put their
//! sender on the opt-out list.

use super::cost::{Estimate, Pricer};
use super::rules::{opt_out_keyword, Filter, Window};
use super::template::Template;
use super::Outbox;
use crate::config::SmsConfig;
use crate::customers::headers::{map_headers, Column};
use crate::customers::table::Table;
use crate::event::SmsEvent;
use crate::phone::{Normalizer, NumberKind};
use crate::store::{
    CampaignRow, CampaignState, FedMessage, NewCampaign, NewRecipient, Progress, Role, StoreError,
    User,
};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// Recipients read and written per store call while a campaign is created.
const CREATE_BATCH: u32 = 2_000;
/// How often the runner looks at the live campaigns.
const TICK: Duration = Duration::from_millis(250);

/// Why a campaign action was refused; the web and CLI show the message.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The template does not parse, or names a field the recipients lack.
    #[error("template: {0}")]
    Template(#[from] super::template::TemplateError),
    /// Starting would go past the user's monthly quota.
    #[error(
        "over quota: the campaign needs {needed} parts and {left} of this month's {quota} are left"
    )]
    OverQuota { needed: i64, left: i64, quota: i64 },
    /// The filter names a field customers' SMS do not offer.
    #[error("the filter's field {field:?} is not offered to SMS; it may be one of: {known}")]
    FilterField { field: String, known: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a campaign's recipients come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Customers tagged with this group.
    Group(String),
    /// Every customer.
    AllCustomers,
    /// A CSV or XLSX sheet: one phone column, the rest merge fields.
    File(std::path::PathBuf),
}

/// A campaign to create.
#[derive(Debug, Clone)]
pub struct Draft {
    pub name: String,
    pub template: String,
    /// `None`: the configured opt-out suffix.
    pub suffix: Option<String>,
    pub source: Source,
    /// Only the customers of a group (or of all) that pass it.
    pub filter: Option<Filter>,
    pub start_at: Option<i64>,
    pub window: Option<Window>,
}

/// What creating a campaign found.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub id: i64,
    pub recipients: u64,
    pub invalid: u64,
    pub duplicate: u64,
    pub parts: i64,
    pub cost: f64,
    /// Merge fields the recipients have.
    pub fields: Vec<String>,
}

/// One recipient's preview.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewRow {
    pub number: String,
    pub text: Option<String>,
    pub estimate: Option<Estimate>,
    /// Why it will not be sent.
    pub skip: Option<String>,
}

/// Creates, checks, starts and runs campaigns.
#[derive(Clone)]
pub struct Campaigns {
    outbox: Outbox,
    normalizer: Arc<Normalizer>,
    pricer: Arc<Pricer>,
}

impl Campaigns {
    /// Campaigns sending through `outbox`, numbers read with `normalizer`.
    pub fn new(outbox: Outbox, normalizer: Arc<Normalizer>) -> Campaigns {
        let pricer = Arc::new(Pricer::new(outbox.settings(), normalizer.clone()));
        Campaigns {
            outbox,
            normalizer,
            pricer,
        }
    }

    /// The monthly quota of a user without one of their own.
    pub fn default_quota(&self) -> u64 {
        self.settings().monthly_quota
    }

    fn settings(&self) -> &SmsConfig {
        self.outbox.settings()
    }

    /// Only marketers and admins run campaigns.
    pub fn may_run(user: &User) -> Result<(), CampaignError> {
        match user.role {
            Role::Marketer | Role::Admin if !user.disabled => Ok(()),
            _ => Err(CampaignError::Forbidden(format!(
                "{} is {}: only marketers and admins may send SMS campaigns",
                user.username,
                user.role.as_str()
            ))),
        }
    }

    /// Creates a draft with its recipients, estimated cost and checked
    /// template. The draft is removed again if the template uses a field
    /// the recipients do not have.
    pub async fn create(&self, user: &User, draft: Draft) -> Result<Created, CampaignError> {
        Self::may_run(user)?;
        let template = Template::parse(&draft.template)?;
        if draft.name.trim().is_empty() {
            return Err(CampaignError::Invalid("a campaign needs a name".into()));
        }
        let suffix = draft
            .suffix
            .clone()
            .unwrap_or_else(|| self.settings().opt_out_suffix.clone());
        if draft.filter.is_some() && matches!(draft.source, Source::File(_)) {
            return Err(CampaignError::Invalid(
                "a filter selects customers; a sheet is sent as it is".into(),
            ));
        }
        // Custom fields an admin keeps out of SMS are neither merge fields
        // nor filters; a filter's field must be one that is offered.
        let defs = self
            .outbox
            .store()
            .directory()
            .call(|d| d.field_defs())
            .await?;
        let withheld: BTreeSet<String> = defs
            .iter()
            .filter(|d| !d.in_sms)
            .map(|d| d.key.clone())
            .collect();
        if let Some(f) = &draft.filter {
            let mut known: Vec<&str> = vec!["name", "company"];
            known.extend(defs.iter().filter(|d| d.in_sms).map(|d| d.key.as_str()));
            if !known.contains(&f.field.as_str()) {
                return Err(CampaignError::FilterField {
                    field: f.field.clone(),
                    known: known.join(", "),
                });
            }
        }
        let filter = draft.filter.as_ref().map(|f| f.to_string());
        let source_json = match &draft.source {
            Source::Group(g) => json!({ "group": g, "filter": filter }),
            Source::AllCustomers => json!({ "all": true, "filter": filter }),
            Source::File(p) => json!({
                "file": p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
            }),
        };
        let new = NewCampaign {
            name: draft.name.trim(),
            template: &draft.template,
            suffix: &suffix,
            source: source_json,
            start_at: draft.start_at,
            window: draft.window.map(|w| {
                (
                    w.from.format("%H:%M").to_string(),
                    w.to.format("%H:%M").to_string(),
                )
            }),
            created_by: Some(user.id),
        };
        let new = (
            new.name.to_string(),
            new.template.to_string(),
            new.suffix.to_string(),
            new.source,
            new.start_at,
            new.window,
            new.created_by,
        );
        let id = self
            .outbox
            .store()
            .campaigns()
            .call(move |s| {
                s.create_campaign(&NewCampaign {
                    name: &new.0,
                    template: &new.1,
                    suffix: &new.2,
                    source: new.3,
                    start_at: new.4,
                    window: new.5,
                    created_by: new.6,
                })
            })
            .await?;
        let filled = self
            .fill(id, &draft, &template, &suffix, &withheld)
            .await
            .and_then(|(created, fields)| {
                template.check_fields(&fields)?;
                Ok(created)
            });
        match filled {
            Ok(created) => Ok(created),
            Err(e) => {
                let _ = self
                    .outbox
                    .store()
                    .campaigns()
                    .call(move |s| s.delete_draft(id))
                    .await;
                Err(e)
            }
        }
    }

    /// Writes the recipients of `source` into draft `id`.
    async fn fill(
        &self,
        id: i64,
        draft: &Draft,
        template: &Template,
        suffix: &str,
        withheld: &BTreeSet<String>,
    ) -> Result<(Created, BTreeSet<String>), CampaignError> {
        let mut created = Created {
            id,
            recipients: 0,
            invalid: 0,
            duplicate: 0,
            parts: 0,
            cost: 0.0,
            fields: Vec::new(),
        };
        let mut fields = BTreeSet::new();
        let add = |batch: Vec<NewRecipient>, fields: &mut BTreeSet<String>| {
            for r in &batch {
                if let Value::Object(m) = &r.fields {
                    fields.extend(m.keys().cloned());
                }
            }
            batch
        };
        match &draft.source {
            Source::Group(_) | Source::AllCustomers => {
                let tag = match &draft.source {
                    Source::Group(g) => Some(g.clone()),
                    _ => None,
                };
                let mut after = 0;
                loop {
                    let t = tag.clone();
                    let customers = self
                        .outbox
                        .store()
                        .campaigns()
                        .call(move |s| s.campaign_customers(t.as_deref(), after, CREATE_BATCH))
                        .await?;
                    let Some(last) = customers.last() else { break };
                    after = last.id;
                    let batch = customers
                        .into_iter()
                        .filter_map(|c| {
                            let mut f: Map<String, Value> = c
                                .custom_fields
                                .iter()
                                .filter(|(k, _)| !withheld.contains(*k))
                                .map(|(k, v)| (k.clone(), Value::String(plain(v))))
                                .collect();
                            f.insert("name".into(), Value::String(c.name.clone()));
                            f.insert("company".into(), Value::String(c.company.clone()));
                            if let Some(filter) = &draft.filter {
                                let value = f.get(&filter.field).and_then(|v| v.as_str());
                                if !filter.accepts(value) {
                                    return None;
                                }
                            }
                            let mobile =
                                c.phones.iter().find(|p| p.2 == NumberKind::Mobile.as_str());
                            let number = mobile
                                .or(c.phones.first())
                                .map(|p| p.0.clone())
                                .unwrap_or_default();
                            let e164 = mobile.and_then(|p| p.1.clone());
                            Some(self.recipient(number, e164, Some(c.id), f, template, suffix))
                        })
                        .collect();
                    let batch = add(batch, &mut fields);
                    self.store_batch(id, batch, &mut created).await?;
                }
            }
            Source::File(path) => {
                let (tx, mut rx) = tokio::sync::mpsc::channel(2);
                let reader = self.read_sheet(path.clone(), tx);
                let writer = async {
                    while let Some(rows) = rx.recv().await {
                        let batch = rows
                            .into_iter()
                            .map(|(number, f): (String, Map<String, Value>)| {
                                let e164 = self.sms_number(&number);
                                self.recipient(number, e164, None, f, template, suffix)
                            })
                            .collect();
                        let batch = add(batch, &mut fields);
                        self.store_batch(id, batch, &mut created).await?;
                    }
                    Ok::<(), CampaignError>(())
                };
                let (read, written) = tokio::join!(reader, writer);
                written?;
                read?;
            }
        }
        if created.recipients + created.invalid + created.duplicate == 0 {
            return Err(CampaignError::Invalid(
                "the campaign has no recipients".into(),
            ));
        }
        created.fields = fields.iter().cloned().collect();
        Ok((created, fields))
    }

    async fn store_batch(
        &self,
        id: i64,
        batch: Vec<NewRecipient>,
        created: &mut Created,
    ) -> Result<(), CampaignError> {
        let added = self
            .outbox
            .store()
            .campaigns()
            .call(move |s| s.add_recipients(id, &batch))
            .await?;
        created.recipients += added.recipients;
        created.invalid += added.invalid;
        created.duplicate += added.duplicate;
        created.parts += added.parts;
        created.cost += added.cost;
        Ok(())
    }

    /// Reads a sheet on a blocking thread and sends its rows in batches:
    /// the first phone column is the number, the others merge fields.
    async fn read_sheet(
        &self,
        path: std::path::PathBuf,
        tx: tokio::sync::mpsc::Sender<Vec<(String, Map<String, Value>)>>,
    ) -> Result<(), CampaignError> {
        tokio::task::spawn_blocking(move || -> Result<(), CampaignError> {
            let mut table = Table::open(&path)
                .map_err(|e| CampaignError::Invalid(format!("{}: {e:#}", path.display())))?;
            let headers = match table.next() {
                Some(Ok(row)) => row.cells,
                Some(Err(e)) => {
                    return Err(CampaignError::Invalid(format!(
                        "{}: row {}: {}",
                        path.display(),
                        e.row,
                        e.message
                    )))
                }
                None => {
                    return Err(CampaignError::Invalid(format!(
                        "{} is empty",
                        path.display()
                    )))
                }
            };
            let columns = map_headers(&headers);
            let phone = columns
                .iter()
                .position(|c| matches!(c, Column::Phone(_)))
                .ok_or_else(|| {
                    CampaignError::Invalid(format!(
                        "{}: no phone column (手机 / 电话 / mobile / phone) among {}",
                        path.display(),
                        headers.join(", ")
                    ))
                })?;
            let mut batch = Vec::new();
            for row in table {
                // An unreadable row still becomes a recipient, skipped as
                // invalid, so the results name it.
                let (number, fields) = match row {
                    Ok(row) => {
                        let mut fields = Map::new();
                        for (i, column) in columns.iter().enumerate() {
                            let key = match column {
                                Column::Name => "name".to_string(),
                                Column::Company => "company".to_string(),
                                Column::Custom(h) => h.trim().to_string(),
                                _ => continue,
                            };
                            let value = row.cells.get(i).cloned().unwrap_or_default();
                            fields.entry(key).or_insert(Value::String(value));
                        }
                        (row.cells.get(phone).cloned().unwrap_or_default(), fields)
                    }
                    Err(e) => (format!("row {}: {}", e.row, e.message), Map::new()),
                };
                batch.push((number, fields));
                if batch.len() == CREATE_BATCH as usize
                    && tx.blocking_send(std::mem::take(&mut batch)).is_err()
                {
                    return Ok(());
                }
            }
            if !batch.is_empty() {
                let _ = tx.blocking_send(batch);
            }
            Ok(())
        })
        .await
        .map_err(|e| CampaignError::Invalid(format!("reading the sheet failed: {e}")))?
    }

    /// The dialable E.164 form of a number that can receive SMS (a mobile).
    pub fn sms_number(&self, raw: &str) -> Option<String> {
        let n = self.normalizer.normalize(raw).ok()?;
        (n.kind == NumberKind::Mobile).then_some(n.e164).flatten()
    }

    fn recipient(
        &self,
        number: String,
        e164: Option<String>,
        customer_id: Option<i64>,
        fields: Map<String, Value>,
        template: &Template,
        suffix: &str,
    ) -> NewRecipient {
        let (parts, cost) = match &e164 {
            Some(e) => {
                let text = render(template, &fields, suffix);
                let est = self.pricer.estimate(e, &text);
                (est.parts as u32, est.cost)
            }
            None => (0, 0.0),
        };
        NewRecipient {
            number,
            e164,
            customer_id,
            fields: Value::Object(fields),
            parts,
            cost,
        }
    }

    /// The first `limit` recipients as they will receive it.
    pub async fn preview(&self, id: i64, limit: u32) -> Result<Vec<PreviewRow>, CampaignError> {
        let c = self.get(id).await?;
        let template = Template::parse(&c.template)?;
        let rows = self
            .outbox
            .store()
            .campaigns()
            .call(move |s| s.campaign_recipients(id, limit))
            .await?;
        Ok(rows
            .into_iter()
            .map(|(_, number, e164, fields, skip)| {
                let fields = match fields {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                match (e164, skip) {
                    (Some(e), None) => {
                        let text = render(&template, &fields, &c.suffix);
                        PreviewRow {
                            estimate: Some(self.pricer.estimate(&e, &text)),
                            number,
                            text: Some(text),
                            skip: None,
                        }
                    }
                    (_, skip) => PreviewRow {
                        number,
                        text: None,
                        estimate: None,
                        skip: Some(skip.unwrap_or_else(|| "invalid".into())),
                    },
                }
            })
            .collect())
    }

    /// Removes a draft (a dry run's, or one given up).
    pub async fn delete_draft(&self, id: i64) -> Result<(), CampaignError> {
        Ok(self
            .outbox
            .store()
            .campaigns()
            .call(move |s| s.delete_draft(id))
            .await?)
    }

    /// One campaign, or a clear error.
    pub async fn get(&self, id: i64) -> Result<CampaignRow, CampaignError> {
        self.outbox
            .store()
            .campaigns()
            .call(move |s| s.campaign(id))
            .await?
            .ok_or_else(|| CampaignError::NotFound(format!("no campaign {id}")))
    }

    /// Starts a draft for `user`: the role is checked, and the campaign's
    /// parts must fit in what is left of the user's monthly quota.
    pub async fn start(&self, user: &User, id: i64) -> Result<CampaignRow, CampaignError> {
        Self::may_run(user)?;
        let (user_id, is_admin) = (user.id, user.role == Role::Admin);
        let default_quota = self.settings().monthly_quota as i64;
        let month_start = month_start_ms();
        // What the check inside the transaction found, if it refused.
        let over: Arc<std::sync::Mutex<Option<CampaignError>>> = Arc::default();
        let refused = over.clone();
        let started = self
            .outbox
            .store()
            .campaigns()
            .call(move |s| {
                s.start_campaign(id, |s, c| {
                    if is_admin {
                        return Ok(());
                    }
                    let quota = s.quota(user_id)?.unwrap_or(default_quota);
                    let used = s.quota_used(user_id, month_start)?;
                    if used + c.parts > quota {
                        let e = CampaignError::OverQuota {
                            needed: c.parts,
                            left: (quota - used).max(0),
                            quota,
                        };
                        let message = e.to_string();
                        *refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        return Err(StoreError::Invalid(message));
                    }
                    Ok(())
                })
            })
            .await;
        match started {
            Ok(c) => {
                tracing::info!(campaign = id, user = %user.username, parts = c.parts, "campaign started");
                self.outbox.wake();
                Ok(c)
            }
            Err(e) => Err(over
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .unwrap_or(match e {
                    StoreError::Invalid(m) => CampaignError::Invalid(m),
                    other => other.into(),
                })),
        }
    }

    /// Pauses a live campaign: no further part of it leaves until resumed.
    pub async fn pause(&self, user: &User, id: i64) -> Result<(), CampaignError> {
        self.change(user, id, "paused", move |s| {
            s.set_campaign_state(
                id,
                &[
                    CampaignState::Scheduled,
                    CampaignState::Running,
                    CampaignState::Waiting,
                ],
                CampaignState::Paused,
            )
        })
        .await
    }

    /// Resumes a paused campaign (its start time and window still apply).
    pub async fn resume(&self, user: &User, id: i64) -> Result<(), CampaignError> {
        self.change(user, id, "resumed", move |s| {
            s.set_campaign_state(id, &[CampaignState::Paused], CampaignState::Scheduled)
        })
        .await
    }

    /// Cancels a campaign: nothing more of it is sent.
    pub async fn cancel(&self, user: &User, id: i64) -> Result<(), CampaignError> {
        self.change(user, id, "cancelled", move |s| s.cancel_campaign(id))
            .await
    }

    async fn change(
        &self,
        user: &User,
        id: i64,
        what: &'static str,
        f: impl FnOnce(crate::store::Campaigns<'_>) -> crate::store::Result<bool> + Send + 'static,
    ) -> Result<(), CampaignError> {
        Self::may_run(user)?;
        let c = self.get(id).await?;
        if user.role != Role::Admin && c.created_by != Some(user.id) {
            return Err(CampaignError::Forbidden(format!(
                "campaign {id} belongs to {}",
                c.created_by_name.unwrap_or_else(|| "someone else".into())
            )));
        }
        if !self.outbox.store().campaigns().call(f).await? {
            return Err(CampaignError::Invalid(format!(
                "campaign {id} is {}: it cannot be {what}",
                c.state.as_str()
            )));
        }
        tracing::info!(campaign = id, user = %user.username, "campaign {what}");
        self.outbox.wake();
        Ok(())
    }

    /// A campaign's counts.
    pub async fn progress(&self, id: i64) -> Result<Progress, CampaignError> {
        Ok(self
            .outbox
            .store()
            .campaigns()
            .call(move |s| s.campaign_progress(id))
            .await?)
    }

    /// Runs the live campaigns until the task is dropped: start times,
    /// windows, feeding, completion; and the opt-out replies in `events`.
    pub async fn run(self, events: broadcast::Receiver<SmsEvent>) {
        let optouts = self.clone().watch_replies(events);
        let runner = async {
            let mut templates: HashMap<i64, Template> = HashMap::new();
            let mut woken = self.outbox.woken();
            loop {
                if let Err(e) = self.tick(&mut templates).await {
                    tracing::error!(error = %e, "campaign runner");
                }
                tokio::select! {
                    _ = tokio::time::sleep(TICK) => {}
                    _ = woken.changed() => {}
                }
            }
        };
        tokio::join!(optouts, runner);
    }

    /// One look at every live campaign.
    async fn tick(&self, templates: &mut HashMap<i64, Template>) -> Result<(), CampaignError> {
        let live = self
            .outbox
            .store()
            .campaigns()
            .call(|s| s.list(true))
            .await?;
        let now = chrono::Local::now();
        let default_window =
            Window::parse(&self.settings().window).map_err(CampaignError::Invalid)?;
        for c in live {
            let window = match (&c.window_from, &c.window_to) {
                (Some(f), Some(t)) => Window::from_parts(f, t).unwrap_or(default_window),
                _ => default_window,
            };
            let due = c.start_at.is_none_or(|t| t <= now.timestamp_millis());
            let want = if !due {
                CampaignState::Scheduled
            } else if window.is_open(now.time()) {
                CampaignState::Running
            } else {
                CampaignState::Waiting
            };
            let id = c.id;
            if want != c.state {
                let from = c.state;
                let moved = self
                    .outbox
                    .store()
                    .campaigns()
                    .call(move |s| s.set_campaign_state(id, &[from], want))
                    .await?;
                if moved {
                    tracing::info!(campaign = id, from = from.as_str(), to = want.as_str(), %window, "campaign state");
                }
                if !moved || want != CampaignState::Running {
                    continue;
                }
                self.outbox.wake();
            } else if want != CampaignState::Running {
                continue;
            }
            let template = match templates.get(&id) {
                Some(t) => t.clone(),
                None => {
                    let t = Template::parse(&c.template)?;
                    templates.insert(id, t.clone());
                    t
                }
            };
            self.feed(&c, &template).await?;
            let unfinished = self
                .outbox
                .store()
                .campaigns()
                .call(move |s| s.campaign_unfinished(id))
                .await?;
            if !unfinished {
                let done = self
                    .outbox
                    .store()
                    .campaigns()
                    .call(move |s| {
                        s.set_campaign_state(id, &[CampaignState::Running], CampaignState::Done)
                    })
                    .await?;
                if done {
                    tracing::info!(campaign = id, "campaign done");
                    templates.remove(&id);
                }
            }
        }
        Ok(())
    }

    /// Keeps a running campaign's queue topped up to a little ahead of the
    /// modems, so pausing stops it at once and memory stays flat.
    async fn feed(&self, c: &CampaignRow, template: &Template) -> Result<(), CampaignError> {
        let id = c.id;
        let ahead = self.settings().campaign_queue_ahead as i64;
        let queued = self
            .outbox
            .store()
            .campaigns()
            .call(move |s| s.campaign_queued_parts(id))
            .await?;
        if queued * 2 > ahead {
            return Ok(());
        }
        let want = (ahead - queued).max(1) as u32;
        let pending = self
            .outbox
            .store()
            .campaigns()
            .call(move |s| s.next_recipients(id, want))
            .await?;
        if pending.is_empty() {
            return Ok(());
        }
        let mut messages = Vec::with_capacity(pending.len());
        for r in pending {
            let fields = match r.fields {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            let text = render(template, &fields, &c.suffix);
            match self.outbox.encode(&r.e164, &text) {
                Ok(pdus) => messages.push(FedMessage {
                    seq: r.seq,
                    encoding: match pdus[0].encoding {
                        crate::devices::gsm::pdu::Encoding::Gsm7 => "gsm7",
                        _ => "ucs2",
                    },
                    parts: pdus.into_iter().map(|p| (p.hex, p.tpdu_len)).collect(),
                    e164: r.e164,
                    text,
                }),
                Err(e) => {
                    tracing::warn!(campaign = id, number = %r.e164, error = %e, "a recipient's message cannot be encoded; skipped");
                    let seq = r.seq;
                    self.outbox
                        .store()
                        .campaigns()
                        .call(move |s| s.skip_recipient(id, seq, "invalid"))
                        .await?;
                }
            }
        }
        self.outbox
            .store()
            .campaigns()
            .call(move |s| s.feed_campaign(id, &messages))
            .await?;
        self.outbox.wake();
        Ok(())
    }

    /// Puts the senders of opt-out replies on the opt-out list.
    async fn watch_replies(self, mut events: broadcast::Receiver<SmsEvent>) {
        loop {
            let (id, sender, text) = match events.recv().await {
                Ok(SmsEvent::Received {
                    id, sender, text, ..
                }) => (id, sender, text),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "opt-out watcher fell behind; replies missed here are still in the inbox"
                    );
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let Some(keyword) = opt_out_keyword(&text, &self.settings().opt_out_keywords) else {
                continue;
            };
            let keyword = keyword.to_string();
            let Some(e164) = self.normalizer.normalize(&sender).ok().and_then(|n| n.e164) else {
                tracing::warn!(%sender, "an opt-out reply from a number that cannot be read");
                continue;
            };
            let number = e164.clone();
            match self
                .outbox
                .store()
                .sms()
                .call(move |s| s.add_optout(&number, &keyword, Some(id)))
                .await
            {
                Ok(true) => tracing::info!(number = %e164, "opted out of SMS campaigns"),
                Ok(false) => {}
                Err(e) => tracing::error!(number = %e164, error = %e, "cannot record an opt-out"),
            }
        }
    }
}

/// The text one recipient gets.
pub fn render(template: &Template, fields: &Map<String, Value>, suffix: &str) -> String {
    template.render(
        |f| match fields.get(f) {
            Some(Value::String(s)) => Some(s.as_str()),
            _ => None,
        },
        suffix,
    )
}

/// The first moment of this local calendar month, in ms: quotas are monthly.
pub fn month_start_ms() -> i64 {
    use chrono::Datelike;
    let now = chrono::Local::now();
    now.date_naive()
        .with_day(1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
        .map(|t| t.timestamp_millis())
        .unwrap_or(0)
}

/// A merge value as text: strings as they are, numbers and the rest as JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Columns of a campaign's results export.
const RESULT_HEADER: [&str; 8] = [
    "seq",
    "number",
    "name",
    "state",
    "parts",
    "modem",
    "reason",
    "updated_at",
];

/// Writes campaign `id`'s results (one row per recipient: its outcome and
/// the reason of a skip or failure) to `path`, from the reader connection
/// `store`, so the send queue never waits for an export; numbers masked
/// when `masked` (a marketer's export). Its row count.
pub fn export_results(
    store: &crate::store::Store,
    id: i64,
    format: crate::sheets::ExportFormat,
    path: &std::path::Path,
    masked: bool,
) -> anyhow::Result<u64> {
    let header: Vec<String> = RESULT_HEADER.iter().map(|s| s.to_string()).collect();
    let total = store.campaigns().campaign_progress(id)?.recipients as u64;
    crate::sheets::write_table(format, path, &header, Some(total), |sink| {
        store.campaigns().campaign_results(id, |r| {
            let updated = r
                .updated_at
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| {
                    t.with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default();
            sink(&[
                r.seq.to_string(),
                if masked {
                    crate::access::mask(&r.number)
                } else {
                    r.number
                },
                r.name,
                r.state,
                r.parts.to_string(),
                r.modem.unwrap_or_default(),
                r.reason.unwrap_or_default(),
                updated,
            ])
            .map_err(|e| format!("{e:#}"))
        })?;
        Ok(())
    })
}
