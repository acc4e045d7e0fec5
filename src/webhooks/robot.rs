//! Group robots of 企业微信 (WeCom) and 钉钉 (DingTalk): endpoints of the
//! webhook outbox whose receiver is a chat group, not a program. The same
//! durable, ordered, retried deliveries carry them; only the body differs:
//! the robot's own documented JSON with a short message in Chinese for the
//! people in the group, and, for a 钉钉 robot in signed mode (加签), the
//! `timestamp` and `sign` query parameters. Robots answer HTTP 200 with
//! `{"errcode": 0}`; any other `errcode` (a wrong key, a bad signature,
//! the robot's own rate limit) is a failed attempt, retried like any other.
//!
//! Which events a group hears of, from which teams, outside which quiet
//! hours and how many a minute is the endpoint's ([`Rules`]); the worker
//! holds a delivery until it may go ([`Rules::hold_until`], [`Pace`]).

use super::signature;
use chrono::{DateTime, FixedOffset, Timelike};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::VecDeque;

/// Who receives an endpoint's deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A program: the signed callpop envelope.
    Webhook,
    /// A 钉钉 group robot (`https://oapi.dingtalk.com/robot/send?access_token=…`).
    Dingtalk,
    /// A 企业微信 group robot (`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`).
    Wecom,
}

impl Kind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Dingtalk => "dingtalk",
            Kind::Wecom => "wecom",
        }
    }

    /// The kind a stored name names (an unknown one is a plain webhook).
    pub fn parse(s: &str) -> Kind {
        match s {
            "dingtalk" => Kind::Dingtalk,
            "wecom" => Kind::Wecom,
            _ => Kind::Webhook,
        }
    }

    /// Whether its receivers are people in a chat group.
    pub fn is_robot(self) -> bool {
        self != Kind::Webhook
    }
}

/// The events a group robot can be told of: what a person in the group
/// acts on. (A call ringing or a customer saved is for programs.)
pub const ROBOT_EVENTS: &[&str] = &[
    "missed_call.created",
    "callback.due",
    "workorder.overdue",
    "device.down",
    "device.up",
    "campaign.finished",
];

/// What an endpoint's deliveries wait for besides their turn.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// Quiet hours, minutes after local midnight: from (inclusive) to
    /// (exclusive); may run past midnight (22:00–08:00). Deliveries
    /// falling in them wait until they end.
    pub quiet_from: Option<u16>,
    pub quiet_to: Option<u16>,
    /// At most this many deliveries in any minute (0: no limit). 钉钉
    /// robots stop taking messages for 10 minutes past 20 a minute.
    pub per_minute: u32,
}

const DAY_MIN: i64 = 24 * 60;

impl Rules {
    /// When a delivery due at `now_ms` may go, given the quiet hours in the
    /// zone `zone`: `now_ms` itself outside them, else their end.
    pub fn hold_until(&self, now_ms: i64, zone: FixedOffset) -> i64 {
        let (Some(from), Some(to)) = (self.quiet_from, self.quiet_to) else {
            return now_ms;
        };
        let (from, to) = (i64::from(from) % DAY_MIN, i64::from(to) % DAY_MIN);
        if from == to {
            return now_ms;
        }
        let Some(local) = DateTime::from_timestamp_millis(now_ms) else {
            return now_ms;
        };
        let local = local.with_timezone(&zone);
        let minute = i64::from(local.hour() * 60 + local.minute());
        let quiet = if from < to {
            minute >= from && minute < to
        } else {
            minute >= from || minute < to
        };
        if !quiet {
            return now_ms;
        }
        let wait_min = (to - minute).rem_euclid(DAY_MIN);
        // From the start of this minute to the end of the quiet hours.
        let minute_start = now_ms - i64::from(local.second()) * 1000 - now_ms.rem_euclid(1000);
        minute_start + wait_min * 60_000
    }
}

/// An endpoint's recent sends, for its per-minute limit. Kept by the
/// worker in memory: after a restart a robot may get one minute's worth
/// more, which its own limit forgives.
#[derive(Debug, Default)]
pub struct Pace {
    sent: VecDeque<i64>,
}

impl Pace {
    /// When the next delivery may go at `now_ms` under `per_minute` (0: now).
    pub fn next_slot(&mut self, per_minute: u32, now_ms: i64) -> i64 {
        while self.sent.front().is_some_and(|&t| t <= now_ms - 60_000) {
            self.sent.pop_front();
        }
        if per_minute == 0 || self.sent.len() < per_minute as usize {
            return now_ms;
        }
        self.sent[self.sent.len() - per_minute as usize] + 60_000
    }

    /// A delivery went at `at_ms`.
    pub fn sent(&mut self, at_ms: i64) {
        self.sent.push_back(at_ms);
        if self.sent.len() > 1000 {
            self.sent.pop_front();
        }
    }
}

/// What a message needs besides the event: where the console is (for
/// links), the zone its times are told in, and the caller's 归属地.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub console_url: Option<&'a str>,
    pub zone: FixedOffset,
    /// `浙江 杭州 · 中国移动`, when the number data knows it.
    pub place: Option<String>,
}

/// The message a group is sent for an event: a title and markdown text.
pub fn message(event_type: &str, data: &Value, ctx: &Context) -> (String, String) {
    let time = |key: &str| {
        data[key]
            .as_i64()
            .and_then(DateTime::from_timestamp_millis)
            .map(|t| t.with_timezone(&ctx.zone).format("%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    let text = |key: &str| data[key].as_str().unwrap_or_default().to_string();
    let number = display_number(&data["number"]);
    let customer = customer_line(&data["customer"]);
    let link = |path: &str, words: &str| {
        ctx.console_url
            .map(|base| format!("\n\n[{words}]({}/#{path})", base.trim_end_matches('/')))
            .unwrap_or_default()
    };
    let mut lines: Vec<String> = Vec::new();
    let title = match event_type {
        "missed_call.created" => {
            lines.push(format!("**{number}**{customer}"));
            if let Some(place) = &ctx.place {
                lines.push(format!("- 归属地：{place}"));
            }
            lines.push(format!(
                "- 来电时间：{} · 线路 {}",
                time("at"),
                text("line")
            ));
            if let Some(n) = data["open_work_orders"].as_i64().filter(|n| *n > 0) {
                lines.push(format!("- 未结工单：{n} 张"));
            }
            lines.push(format!("- 请在 {} 前回电", time("due_at")));
            lines.push(link("/callbacks", "去认领回电"));
            format!("未接来电 {number}")
        }
        "callback.due" => {
            lines.push(format!("**{number}**{customer}"));
            let who = data["agent"].as_str().unwrap_or("未认领");
            lines.push(format!("- 负责人：{who}"));
            lines.push(format!("- 到期时间：{}", time("due_at")));
            if let Some(n) = data["missed_calls"].as_i64().filter(|n| *n > 1) {
                lines.push(format!("- 未接次数：{n}"));
            }
            if let Some(note) = data["note"].as_str().filter(|n| !n.is_empty()) {
                lines.push(format!("- 备注：{note}"));
            }
            lines.push(link("/callbacks", "去处理"));
            format!("回访到期 {number}")
        }
        "workorder.overdue" => {
            let order = text("number");
            lines.push(format!("**{order}** {}", text("status")));
            if let Some(who) = data["assignee"].as_str().or(data["team"].as_str()) {
                lines.push(format!("- 处理人：{who}"));
            }
            lines.push(format!("- 截止时间：{}", time("due_at")));
            if !customer.is_empty() {
                lines.push(format!("- 客户{customer}"));
            }
            if let Some(id) = data["work_order_id"].as_i64() {
                lines.push(link(&format!("/workorders/{id}"), "查看工单"));
            }
            format!("工单超时 {order}")
        }
        "device.down" => {
            lines.push(format!("**{}** 已断开", text("device")));
            if let Some(why) = data["reason"].as_str().filter(|r| !r.is_empty()) {
                lines.push(format!("- 原因：{why}"));
            }
            lines.push(format!("- 时间：{}", time("at")));
            lines.push("- 断开期间该设备的来电无法弹屏和录音".to_string());
            format!("设备断开 {}", text("device"))
        }
        "device.up" => {
            lines.push(format!("**{}** 已恢复", text("device")));
            lines.push(format!("- 时间：{}", time("at")));
            format!("设备恢复 {}", text("device"))
        }
        "campaign.finished" => {
            lines.push(format!("**{}**", text("name")));
            lines.push(format!(
                "- 已发送 {} · 送达 {} · 失败 {}",
                data["sent"].as_i64().unwrap_or(0),
                data["delivered"].as_i64().unwrap_or(0),
                data["failed"].as_i64().unwrap_or(0)
            ));
            if data["state"] == "cancelled" {
                lines.push("- 已取消".to_string());
            }
            if let Some(id) = data["campaign_id"].as_i64() {
                lines.push(link(&format!("/sms/campaigns/{id}"), "查看结果"));
            }
            "短信群发完成".to_string()
        }
        other => {
            lines.push(format!("事件 {other}"));
            "callpop".to_string()
        }
    };
    let body = lines
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    (title.clone(), format!("#### {title}\n{body}"))
}

/// `138 1234 5678` from an event's `number` (`{e164, national}` or
/// `{dial, national}`), in the one national format people read.
fn display_number(number: &Value) -> String {
    let raw = number["e164"]
        .as_str()
        .or(number["dial"].as_str())
        .or(number["national"].as_str())
        .unwrap_or_default();
    crate::phone::national_display(raw)
}

/// `（周杰 · 某某公司）` from an event's `customer`, or nothing.
fn customer_line(customer: &Value) -> String {
    let parts: Vec<&str> = ["name", "company"]
        .iter()
        .filter_map(|k| customer[k].as_str())
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("（{}）", parts.join(" · "))
    }
}

/// The JSON a robot of `kind` takes for a message.
pub fn body(kind: Kind, title: &str, text: &str) -> Value {
    match kind {
        Kind::Dingtalk => {
            json!({ "msgtype": "markdown", "markdown": { "title": title, "text": text } })
        }
        _ => json!({ "msgtype": "markdown", "markdown": { "content": text } }),
    }
}

/// The address to post to: a 钉钉 robot with a secret (加签) gets
/// `timestamp` (ms) and `sign` appended.
pub fn address(kind: Kind, url: &str, secret: &str, now_ms: i64) -> String {
    if kind != Kind::Dingtalk || secret.is_empty() {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{sep}timestamp={now_ms}&sign={}",
        signature::dingtalk_sign(secret, now_ms)
    )
}

/// Whether a robot's answer body says it took the message: `Err` with
/// its words when `errcode` is not 0.
pub fn accepted(answer: &[u8]) -> Result<(), String> {
    let v: Value = serde_json::from_slice(answer).map_err(|_| {
        format!(
            "not the robot's answer: {}",
            String::from_utf8_lossy(answer)
        )
    })?;
    match v["errcode"].as_i64() {
        Some(0) => Ok(()),
        Some(code) => Err(format!(
            "errcode {code}: {}",
            v["errmsg"].as_str().unwrap_or_default()
        )),
        None => Err(format!("not the robot's answer: {v}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beijing() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    /// 2026-12-05 at `h:m` in Beijing, in ms.
    fn at(h: i64, m: i64) -> i64 {
        // 2026-12-05T00:00:00+08:00
        let midnight = 1_796_400_000_000;
        midnight + (h * 60 + m) * 60_000
    }

    #[test]
    fn quiet_hours_hold_until_they_end_also_across_midnight() {
        let night = Rules {
            quiet_from: Some(22 * 60),
            quiet_to: Some(8 * 60),
            per_minute: 0,
        };
        assert_eq!(night.hold_until(at(21, 59), beijing()), at(21, 59));
        assert_eq!(night.hold_until(at(22, 0), beijing()), at(32, 0));
        assert_eq!(night.hold_until(at(3, 30) + 12_345, beijing()), at(8, 0));
        assert_eq!(night.hold_until(at(8, 0), beijing()), at(8, 0));
        let lunch = Rules {
            quiet_from: Some(12 * 60),
            quiet_to: Some(13 * 60 + 30),
            per_minute: 0,
        };
        assert_eq!(lunch.hold_until(at(12, 10), beijing()), at(13, 30));
        assert_eq!(lunch.hold_until(at(13, 30), beijing()), at(13, 30));
        assert_eq!(Rules::default().hold_until(at(3, 0), beijing()), at(3, 0));
    }

    #[test]
    fn a_robot_gets_at_most_its_limit_in_any_minute() {
        let mut pace = Pace::default();
        for i in 0..20 {
            let t = i * 1000;
            assert_eq!(pace.next_slot(20, t), t);
            pace.sent(t);
        }
        // The 21st waits until the first of the 20 is a minute old.
        assert_eq!(pace.next_slot(20, 20_000), 60_000);
        assert_eq!(pace.next_slot(20, 60_000), 60_000);
        pace.sent(60_000);
        assert_eq!(pace.next_slot(20, 60_500), 61_000);
        assert_eq!(pace.next_slot(0, 60_500), 60_500, "no limit");
    }

    #[test]
    fn a_missed_call_reads_as_people_say_it() {
        let data = json!({
            "number": {"e164": "+8613812345678", "national": "13812345678"},
            "customer": {"name": "周杰", "company": "杭州某某公司"},
            "line": "box1/1",
            "at": at(10, 32),
            "due_at": at(11, 2),
            "open_work_orders": 2,
        });
        let ctx = Context {
            console_url: Some("http://callpop.local:8080/"),
            zone: beijing(),
            place: Some("浙江 杭州 · 中国移动".into()),
        };
        let (title, text) = message("missed_call.created", &data, &ctx);
        assert_eq!(title, "未接来电 138 1234 5678");
        assert!(
            text.contains("**138 1234 5678**（周杰 · 杭州某某公司）"),
            "{text}"
        );
        assert!(text.contains("- 归属地：浙江 杭州 · 中国移动"), "{text}");
        assert!(text.contains("12-05 10:32 · 线路 box1/1"), "{text}");
        assert!(text.contains("未结工单：2 张"), "{text}");
        assert!(text.contains("请在 12-05 11:02 前回电"), "{text}");
        assert!(
            text.ends_with("[去认领回电](http://callpop.local:8080/#/callbacks)"),
            "{text}"
        );
        // Without a console address or a known place: no link, no guess.
        let bare = Context {
            console_url: None,
            zone: beijing(),
            place: None,
        };
        let (_, text) = message("missed_call.created", &data, &bare);
        assert!(!text.contains("归属地") && !text.contains("]("), "{text}");
    }

    #[test]
    fn each_robot_gets_its_own_json() {
        let d = body(Kind::Dingtalk, "t", "x");
        assert_eq!(d["markdown"]["title"], "t");
        assert_eq!(d["markdown"]["text"], "x");
        let w = body(Kind::Wecom, "t", "x");
        assert_eq!(
            w,
            json!({"msgtype": "markdown", "markdown": {"content": "x"}})
        );
        assert_eq!(
            address(Kind::Dingtalk, "https://d/robot/send?access_token=a", "", 5),
            "https://d/robot/send?access_token=a"
        );
        let signed = address(
            Kind::Dingtalk,
            "https://d/robot/send?access_token=a",
            "SEC1",
            5,
        );
        assert!(
            signed.starts_with("https://d/robot/send?access_token=a&timestamp=5&sign="),
            "{signed}"
        );
        assert_eq!(accepted(br#"{"errcode":0,"errmsg":"ok"}"#), Ok(()));
        assert_eq!(
            accepted(br#"{"errcode":310000,"errmsg":"sign not match"}"#),
            Err("errcode 310000: sign not match".into())
        );
        assert!(accepted(b"<html>").is_err());
    }
}
