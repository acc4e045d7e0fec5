//! SMS on call events (Open CTI): an apology to a caller nobody called
//! back in time, a receipt with the work order's number, a satisfaction
//! survey after a call whose 1–5 reply is kept with the call.
//!
//! Each kind is an endpoint of the webhook outbox (`sms:apology`,
//! `sms:receipt`, `sms:survey`, and `sms:survey-replies` for the answers),
//! so the events that cause them are durable and ordered, survive a
//! restart, and show in the console's delivery log. What this module
//! decides is pure: what an event is about ([`subject`]), when its message
//! may go ([`Rules::due_at`]), whether it goes and with which text
//! ([`decide`]), and what a reply scores ([`survey_score`]). The sending
//! ([`AfterCall`]) queues the message and records the decision in one
//! transaction, so a retried event never sends twice.

use super::rules::reply_core;
use super::template::{Template, TemplateError};
use crate::config::{AfterCallConfig, SmsConfig};
use crate::domain::Window;
use crate::phone::{Normalizer, NumberKind};
use crate::store::{AfterCallFacts, CallMessage, FactsQuery};
use crate::webhooks::robot::Rules as QuietHours;
use chrono::{FixedOffset, Timelike};
use serde_json::Value;
use std::sync::Arc;

/// The merge fields the texts may use.
pub const FIELDS: &[&str] = AfterCallConfig::FIELDS;

/// The outbox endpoint that takes survey replies.
pub const REPLIES_ENDPOINT: &str = "sms:survey-replies";

/// A kind of message sent on a call event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Apology,
    Receipt,
    Survey,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Apology, Kind::Receipt, Kind::Survey];

    /// As the store and the delivery log name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Apology => "apology",
            Kind::Receipt => "receipt",
            Kind::Survey => "survey",
        }
    }

    /// Its outbox endpoint.
    pub fn endpoint(self) -> String {
        format!("sms:{}", self.as_str())
    }

    /// The event that causes it.
    pub fn event(self) -> &'static str {
        match self {
            Kind::Apology => "missed_call.created",
            Kind::Receipt => "workorder.saved",
            Kind::Survey => "call.ended",
        }
    }

    /// The kind an endpoint's address is for.
    pub fn of_endpoint(url: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| url == k.endpoint())
    }
}

/// The texts of `[sms.after_call]`, parsed: `None` where a kind is off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Texts {
    pub apology: Option<Template>,
    pub receipt: Option<Template>,
    pub survey: Option<Template>,
}

impl Texts {
    /// Parses the texts; a misspelt merge field is the key's error.
    pub fn parse(c: &AfterCallConfig) -> Result<Texts, (&'static str, TemplateError)> {
        let [apology, receipt, survey] = c.templates()?;
        Ok(Texts {
            apology,
            receipt,
            survey,
        })
    }

    /// The text of `kind`, if it is on.
    pub fn of(&self, kind: Kind) -> Option<&Template> {
        match kind {
            Kind::Apology => self.apology.as_ref(),
            Kind::Receipt => self.receipt.as_ref(),
            Kind::Survey => self.survey.as_ref(),
        }
    }

    /// The outbox endpoints the texts want, with the events each takes.
    pub fn endpoints(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Kind::ALL
            .into_iter()
            .filter(|k| self.of(*k).is_some())
            .map(|k| (k.endpoint(), vec![k.event().to_string()]))
            .collect();
        if self.survey.is_some() {
            out.push((REPLIES_ENDPOINT.into(), vec!["sms.received".into()]));
        }
        out
    }
}

/// Everything that decides these messages, from `[sms]`.
#[derive(Debug, Clone)]
pub struct Rules {
    pub texts: Texts,
    pub apology_after_ms: i64,
    pub survey_min_talk_secs: i64,
    pub survey_reply_ms: i64,
    pub survey_late_ms: i64,
    pub daily_cap: u64,
    pub window: Window,
}

impl Rules {
    /// From `[sms]` (already validated: errors only on a config built by hand).
    pub fn from_config(c: &SmsConfig) -> Result<Rules, String> {
        let a = &c.after_call;
        Ok(Rules {
            texts: Texts::parse(a).map_err(|(key, e)| format!("{key}: {e}"))?,
            apology_after_ms: secs_ms(a.apology_after_secs),
            survey_min_talk_secs: a.survey_min_talk_secs.min(i64::MAX as u64) as i64,
            survey_reply_ms: secs_ms(a.survey_reply_hours.saturating_mul(3600)),
            survey_late_ms: secs_ms(a.survey_late_mins.saturating_mul(60)),
            daily_cap: u64::from(a.daily_cap),
            window: Window::parse(&c.window)?,
        })
    }

    /// When the message of `kind` about an event of `created_at` may go,
    /// asked at `now` (all ms): an apology after its wait, every kind
    /// inside the sending window (held until it opens).
    pub fn due_at(&self, kind: Kind, created_at: i64, now: i64, zone: FixedOffset) -> i64 {
        let wait = if kind == Kind::Apology {
            self.apology_after_ms
        } else {
            0
        };
        let at = (created_at + wait).max(now);
        // The window's closed hours are quiet hours.
        let minute = |t: chrono::NaiveTime| (t.hour() * 60 + t.minute()) as u16;
        QuietHours {
            quiet_from: Some(minute(self.window.to)),
            quiet_to: Some(minute(self.window.from)),
            per_minute: 0,
        }
        .hold_until(at, zone)
    }
}

fn secs_ms(secs: u64) -> i64 {
    secs.saturating_mul(1000).min(i64::MAX as u64) as i64
}

/// What a message is about, read from the event that caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub kind: Kind,
    /// One message per kind and key: the call's id, or the work order's.
    pub key: String,
    pub call_uid: Option<String>,
    pub work_order_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub followup_id: Option<i64>,
    /// The number the event names, if any (E.164).
    pub e164: Option<String>,
    /// The merge fields known from the event.
    pub name: Option<String>,
    pub agent: Option<String>,
    pub work_order: Option<String>,
}

/// What an event of `kind`'s type is about; `None` when it calls for no
/// message of that kind (a survey after an unanswered or short call, an
/// outbound apology).
pub fn subject(kind: Kind, data: &Value, rules: &Rules) -> Option<Subject> {
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    match kind {
        Kind::Apology => Some(Subject {
            kind,
            key: text(&data["call_uid"])?,
            call_uid: text(&data["call_uid"]),
            work_order_id: None,
            customer_id: data["customer_id"].as_i64(),
            followup_id: data["followup_id"].as_i64(),
            e164: text(&data["number"]["e164"]),
            name: text(&data["customer"]["name"]),
            agent: None,
            work_order: None,
        }),
        Kind::Receipt => {
            let order = &data["work_order"];
            let id = order["id"].as_i64()?;
            Some(Subject {
                kind,
                key: id.to_string(),
                call_uid: text(&order["call_uid"]),
                work_order_id: Some(id),
                customer_id: order["customer_id"].as_i64(),
                followup_id: None,
                e164: None,
                name: text(&order["customer_name"]),
                agent: text(&order["agent_name"]).or_else(|| text(&order["agent"])),
                work_order: text(&order["number"]),
            })
        }
        Kind::Survey => {
            let talk = data["talk_seconds"].as_i64()?;
            if data["outcome"] != "answered" || talk < rules.survey_min_talk_secs {
                return None;
            }
            Some(Subject {
                kind,
                key: text(&data["call_uid"])?,
                call_uid: text(&data["call_uid"]),
                work_order_id: None,
                customer_id: data["customer_id"].as_i64(),
                followup_id: None,
                e164: text(&data["number"]["e164"]),
                name: text(&data["caller_name"]),
                agent: text(&data["agent"]),
                work_order: None,
            })
        }
    }
}

/// Why a message was not sent, as the store keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    NoNumber,
    NotMobile,
    OptedOut,
    Blacklisted,
    /// Called back, got through, or closed by an agent before the apology
    /// was due.
    CalledBack,
    DailyCap,
    /// A survey the sending window held too long.
    TooLate,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::NoNumber => "no_number",
            Skip::NotMobile => "not_mobile",
            Skip::OptedOut => "opted_out",
            Skip::Blacklisted => "blacklisted",
            Skip::CalledBack => "called_back",
            Skip::DailyCap => "daily_cap",
            Skip::TooLate => "too_late",
        }
    }
}

/// What to do with a message whose time has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Decided before (a retried event): nothing more.
    AlreadyDone,
    Send {
        to: String,
        text: String,
    },
    Skip(Skip),
}

/// Decides the message about `subject`, whose event was created at
/// `created_at`, at `now`, knowing `facts` from the store; `mobile` says
/// whether the number found can take an SMS.
pub fn decide(
    rules: &Rules,
    subject: &Subject,
    facts: &AfterCallFacts,
    mobile: bool,
    created_at: i64,
    now: i64,
) -> Decision {
    if facts.done {
        return Decision::AlreadyDone;
    }
    let Some(to) = facts.e164.clone() else {
        return Decision::Skip(Skip::NoNumber);
    };
    let skip = if !mobile {
        Some(Skip::NotMobile)
    } else if facts.opted_out {
        Some(Skip::OptedOut)
    } else if facts.blacklisted {
        Some(Skip::Blacklisted)
    } else if subject.kind == Kind::Apology && facts.dealt_with {
        Some(Skip::CalledBack)
    } else if subject.kind == Kind::Survey && now - created_at > rules.survey_late_ms {
        Some(Skip::TooLate)
    } else if facts.sent_today >= rules.daily_cap {
        Some(Skip::DailyCap)
    } else {
        None
    };
    if let Some(s) = skip {
        return Decision::Skip(s);
    }
    let Some(template) = rules.texts.of(subject.kind) else {
        // Switched off since the event: nothing to say.
        return Decision::AlreadyDone;
    };
    let name = subject.name.clone().or_else(|| facts.customer_name.clone());
    let number = facts.national.clone().unwrap_or_else(|| to.clone());
    let agent = facts.agent_name.clone().or_else(|| subject.agent.clone());
    let text = template.render(
        |f| match f {
            "name" => Some(name.as_deref().unwrap_or("")),
            "number" => Some(number.as_str()),
            "agent" => Some(agent.as_deref().unwrap_or("")),
            "work_order" => Some(subject.work_order.as_deref().unwrap_or("")),
            _ => None,
        },
        "",
    );
    Decision::Send { to, text }
}

/// The score a survey reply gives, if it is one: the whole reply, once
/// spaces and punctuation are trimmed, is 1 to 5 (also full-width or a
/// Chinese numeral), optionally followed by 分 or 星. A sentence with a
/// digit in it is a person writing, and stays in the inbox for people.
pub fn survey_score(reply: &str) -> Option<u8> {
    let core = reply_core(reply);
    let core = core.trim_end_matches(['分', '星']).trim();
    let mut chars = core.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return None;
    };
    match c {
        '1'..='5' => Some(c as u8 - b'0'),
        '１'..='５' => Some((c as u32 - '０' as u32) as u8),
        '一' => Some(1),
        '二' | '两' => Some(2),
        '三' => Some(3),
        '四' => Some(4),
        '五' => Some(5),
        _ => None,
    }
}

/// How a message's event went, for the outbox's delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Queued: the message's id.
    Sent(i64),
    Skipped(Skip),
    /// Nothing to do (not this kind's event, or decided before).
    Nothing,
}

/// Sends the messages: the outbox encodes and queues, the store keeps the
/// decision with the message.
#[derive(Clone)]
pub struct AfterCall {
    outbox: super::Outbox,
    rules: Arc<Rules>,
    normalizer: Arc<Normalizer>,
}

impl std::fmt::Debug for AfterCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfterCall")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl AfterCall {
    /// Sending through `outbox` under `rules`, reading numbers with
    /// `normalizer`.
    pub fn new(outbox: super::Outbox, rules: Rules, normalizer: Arc<Normalizer>) -> AfterCall {
        AfterCall {
            outbox,
            rules: Arc::new(rules),
            normalizer,
        }
    }

    /// The rules it follows.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Handles the event `data` of `kind` created at `created_at`, at `now`.
    pub async fn handle(
        &self,
        kind: Kind,
        data: &Value,
        created_at: i64,
        now: i64,
        day_start: i64,
    ) -> Result<Handled, String> {
        let Some(subject) = subject(kind, data, &self.rules) else {
            return Ok(Handled::Nothing);
        };
        let query = FactsQuery {
            kind: kind.as_str(),
            key: subject.key.clone(),
            call_uid: subject.call_uid.clone(),
            customer_id: subject.customer_id,
            followup_id: subject.followup_id,
            e164: subject.e164.clone(),
            day_start,
        };
        let facts = self
            .outbox
            .store()
            .sms()
            .call(move |s| s.after_call_facts(&query))
            .await
            .map_err(|e| e.to_string())?;
        let mobile = facts.e164.as_deref().is_some_and(|n| {
            self.normalizer
                .normalize(n)
                .is_ok_and(|n| n.kind == NumberKind::Mobile)
        });
        let decision = decide(&self.rules, &subject, &facts, mobile, created_at, now);
        let (sms, skipped) = match decision {
            Decision::AlreadyDone => return Ok(Handled::Nothing),
            Decision::Skip(why) => (None, Some(why)),
            Decision::Send { to, text } => {
                let prepared = self.outbox.prepare(&to, &text).map_err(|e| e.to_string())?;
                (Some(prepared), None)
            }
        };
        let record = CallMessage {
            kind: kind.as_str(),
            subject: subject.key.clone(),
            call_uid: subject.call_uid.clone(),
            work_order_id: subject.work_order_id,
            e164: facts.e164.clone().unwrap_or_default(),
            skipped: skipped.map(Skip::as_str),
            created_at: now,
        };
        let queued = self
            .outbox
            .store()
            .sms()
            .call(move |s| {
                let new = sms.as_ref().map(|p| p.new_sms(None));
                s.record_call_message(&record, new.as_ref())
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(match (queued, skipped) {
            (Some(id), _) => {
                self.outbox.wake();
                Handled::Sent(id)
            }
            (None, Some(why)) => Handled::Skipped(why),
            // Decided before: a retried event.
            (None, None) => Handled::Nothing,
        })
    }

    /// Takes an incoming SMS (`sms.received`'s data): a survey answer is
    /// stored with its call; the call's id, if it was one.
    pub async fn take_reply(&self, data: &Value, now: i64) -> Result<Option<String>, String> {
        let Some(score) = data["text"].as_str().and_then(survey_score) else {
            return Ok(None);
        };
        let from = data["from_number"]
            .as_str()
            .or_else(|| data["from"].as_str())
            .unwrap_or("");
        let Some(e164) = self.normalizer.normalize(from).ok().and_then(|n| n.e164) else {
            return Ok(None);
        };
        let reply_id = data["inbox_id"].as_i64();
        let since = now - self.rules.survey_reply_ms;
        self.outbox
            .store()
            .sms()
            .call(move |s| s.score_survey(&e164, score, reply_id, now, since))
            .await
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> Rules {
        let mut c = SmsConfig::default();
        c.after_call.apology = "{name}您好，刚才未能接听您的来电，我们会尽快回电。".into();
        c.after_call.receipt = "您的工单{work_order}已受理。".into();
        c.after_call.survey = "请回复1-5为{agent}的服务评分。".into();
        Rules::from_config(&c).unwrap()
    }

    fn facts() -> AfterCallFacts {
        AfterCallFacts {
            e164: Some("+8613912345678".into()),
            national: Some("139 1234 5678".into()),
            ..AfterCallFacts::default()
        }
    }

    fn missed() -> Value {
        json!({"followup_id": 4, "call_uid": "c1", "customer_id": 9,
               "customer": {"name": "王伟"}, "number": {"e164": "+8613912345678"}})
    }

    #[test]
    fn each_kind_reads_its_event() {
        let r = rules();
        let s = subject(Kind::Apology, &missed(), &r).unwrap();
        assert_eq!(
            (s.key.as_str(), s.followup_id, s.name.as_deref()),
            ("c1", Some(4), Some("王伟"))
        );
        let order = json!({"work_order": {"id": 42, "number": "GD-20261206-0001",
            "call_uid": "c2", "customer_id": 9, "agent_name": "李娜"}});
        let s = subject(Kind::Receipt, &order, &r).unwrap();
        assert_eq!(
            (s.key.as_str(), s.work_order.as_deref(), s.e164),
            ("42", Some("GD-20261206-0001"), None)
        );
        let ended = |outcome: &str, talk: i64| {
            json!({"call_uid": "c3", "outcome": outcome, "talk_seconds": talk,
                   "number": {"e164": "+8613912345678"}, "agent": "li"})
        };
        assert!(subject(Kind::Survey, &ended("answered", 60), &r).is_some());
        assert!(subject(Kind::Survey, &ended("answered", 19), &r).is_none());
        assert!(subject(Kind::Survey, &ended("missed", 0), &r).is_none());
        assert!(subject(Kind::Survey, &json!({"outcome": "answered"}), &r).is_none());
    }

    #[test]
    fn the_apology_waits_and_everything_waits_for_the_window() {
        let r = rules();
        let zone = FixedOffset::east_opt(8 * 3600).unwrap();
        let at = |h: u32, m: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 12, 6)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap()
                .and_local_timezone(zone)
                .unwrap()
                .timestamp_millis()
        };
        assert_eq!(
            r.due_at(Kind::Apology, at(10, 0), at(10, 0), zone),
            at(10, 10)
        );
        assert_eq!(
            r.due_at(Kind::Receipt, at(10, 0), at(10, 0), zone),
            at(10, 0)
        );
        // A missed call at 20:55: its apology would be due after the
        // window closes at 21:00, so it waits for 08:00.
        assert_eq!(
            r.due_at(Kind::Apology, at(20, 55), at(20, 55), zone),
            at(8, 0) + 86_400_000
        );
        assert_eq!(r.due_at(Kind::Survey, at(6, 0), at(6, 0), zone), at(8, 0));
    }

    #[test]
    fn decisions() {
        let r = rules();
        let s = subject(Kind::Apology, &missed(), &r).unwrap();
        let send = decide(&r, &s, &facts(), true, 0, 600_000);
        assert_eq!(
            send,
            Decision::Send {
                to: "+8613912345678".into(),
                text: "王伟您好，刚才未能接听您的来电，我们会尽快回电。".into()
            }
        );
        let with = |f: fn(&mut AfterCallFacts)| {
            let mut x = facts();
            f(&mut x);
            decide(&r, &s, &x, true, 0, 600_000)
        };
        assert_eq!(with(|f| f.done = true), Decision::AlreadyDone);
        assert_eq!(with(|f| f.e164 = None), Decision::Skip(Skip::NoNumber));
        assert_eq!(with(|f| f.opted_out = true), Decision::Skip(Skip::OptedOut));
        assert_eq!(
            with(|f| f.blacklisted = true),
            Decision::Skip(Skip::Blacklisted)
        );
        assert_eq!(
            with(|f| f.dealt_with = true),
            Decision::Skip(Skip::CalledBack)
        );
        assert_eq!(with(|f| f.sent_today = 500), Decision::Skip(Skip::DailyCap));
        assert_eq!(
            decide(&r, &s, &facts(), false, 0, 600_000),
            Decision::Skip(Skip::NotMobile)
        );
        // A survey held past its lateness is dropped; a name from the store
        // fills in for one the event lacked.
        let ended = json!({"call_uid": "c3", "outcome": "answered", "talk_seconds": 60,
                           "number": {"e164": "+8613912345678"}, "agent": "李娜"});
        let s = subject(Kind::Survey, &ended, &r).unwrap();
        assert_eq!(
            decide(&r, &s, &facts(), true, 0, r.survey_late_ms + 1),
            Decision::Skip(Skip::TooLate)
        );
        assert!(matches!(
            decide(&r, &s, &facts(), true, 0, 1000),
            Decision::Send { text, .. } if text == "请回复1-5为李娜的服务评分。"
        ));
    }

    #[test]
    fn texts_are_checked_and_name_their_endpoints() {
        let mut c = AfterCallConfig {
            survey: "评分：{grade}".into(),
            ..AfterCallConfig::default()
        };
        assert_eq!(Texts::parse(&c).unwrap_err().0, "sms.after_call.survey");
        c.survey = "请回复1-5评分".into();
        let t = Texts::parse(&c).unwrap();
        let urls: Vec<String> = t.endpoints().into_iter().map(|e| e.0).collect();
        assert_eq!(urls, ["sms:survey", REPLIES_ENDPOINT]);
        assert_eq!(Kind::of_endpoint("sms:survey"), Some(Kind::Survey));
        assert_eq!(Kind::of_endpoint(REPLIES_ENDPOINT), None);
    }

    #[test]
    fn survey_replies_as_people_write_them() {
        for (reply, score) in [
            ("5", Some(5)),
            (" 4 ", Some(4)),
            ("５", Some(5)),
            ("3分", Some(3)),
            ("五星", Some(5)),
            ("1。", Some(1)),
            ("一", Some(1)),
            ("6", None),
            ("0", None),
            ("45", None),
            ("给5分吧", None),
            ("T", None),
            ("", None),
        ] {
            assert_eq!(survey_score(reply), score, "{reply:?}");
        }
    }
}
