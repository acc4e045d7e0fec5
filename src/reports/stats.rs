//! Call-center statistics (坐席统计) computed from raw timestamps: the
//! calls' ring, answer, hang-up and wrap-up times, the agents' state
//! changes and the work orders' save times. Pure: the store hands the rows
//! over, this module counts. Every figure has its formula in [`FORMULAS`].
//!
//! Attribution: a call counts in the interval it **arrived** in (its
//! first ring), whole, even when its talk runs into the next interval —
//! so the offered, answered and abandoned counts of an interval always add
//! up. Time in agent states is the exception: it is time, so a state that
//! spans a boundary is split at the boundary.

use chrono::{Datelike, FixedOffset, NaiveDate, TimeZone};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// How long each row of a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    #[value(name = "15m")]
    #[serde(rename = "15m")]
    Min15,
    #[value(name = "30m")]
    #[serde(rename = "30m")]
    Min30,
    #[value(name = "60m")]
    #[serde(rename = "60m")]
    Hour,
    Day,
    Week,
    Month,
    /// The whole report range as one row per key.
    Total,
}

impl std::str::FromStr for Period {
    type Err = String;
    fn from_str(s: &str) -> Result<Period, String> {
        <Period as clap::ValueEnum>::from_str(s, true)
            .map_err(|_| format!("period {s:?}: 15m, 30m, 60m, day, week, month or total"))
    }
}

/// What the rows of a report are per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// The whole center.
    Calls,
    Agents,
    Teams,
    Lines,
}

pub use crate::store::{AgentInfo, CallFact, CallbackFact, StateSpan};

/// Everything a report is computed from, gathered (for tests and small
/// sets; the store streams into an [`Accumulator`] instead).
#[derive(Debug, Clone, Default)]
pub struct RawData<'a> {
    pub calls: Vec<CallFact<'a>>,
    pub states: Vec<StateSpan>,
    /// (agent, saved at) of each work order.
    pub work_orders: Vec<(Option<i64>, i64)>,
    pub callbacks: Vec<CallbackFact<'a>>,
    pub agents: HashMap<i64, AgentInfo>,
}

/// The report's settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub period: Period,
    pub group: GroupBy,
    /// Intervals and days are the call center's local ones.
    pub offset: FixedOffset,
    /// Service level: answered within this many seconds.
    pub service_level_secs: u32,
    /// The report range [from, to), ms.
    pub from: i64,
    pub to: i64,
}

/// Milliseconds in each agent state; offline time is not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StateTimes {
    pub ready: i64,
    pub not_ready: i64,
    pub on_call: i64,
    pub after_call_work: i64,
}

impl StateTimes {
    fn add(&mut self, state: crate::store::AgentState, ms: i64) {
        use crate::store::AgentState::*;
        match state {
            Ready => self.ready += ms,
            NotReady => self.not_ready += ms,
            OnCall => self.on_call += ms,
            AfterCallWork => self.after_call_work += ms,
            Offline => {}
        }
    }

    fn absorb(&mut self, o: &StateTimes) {
        self.ready += o.ready;
        self.not_ready += o.not_ready;
        self.on_call += o.on_call;
        self.after_call_work += o.after_call_work;
    }

    /// The time in `state` (its stored name).
    pub fn get(&self, state: &str) -> i64 {
        match state {
            "ready" => self.ready,
            "not_ready" => self.not_ready,
            "on_call" => self.on_call,
            "after_call_work" => self.after_call_work,
            _ => 0,
        }
    }

    /// Logged-in time: every state but offline.
    pub fn total(&self) -> i64 {
        self.ready + self.not_ready + self.on_call + self.after_call_work
    }
}

/// One row: one key (agent, team, line or "all") in one interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Row {
    /// Start of the interval, ms.
    pub start: i64,
    pub key: String,
    pub offered: u64,
    pub answered: u64,
    pub missed: u64,
    pub abandoned: u64,
    /// Inbound calls whose device cannot see an answer.
    pub unknown: u64,
    pub outbound: u64,
    pub answered_within_sl: u64,
    pub wait_ms: i64,
    pub talk_ms: i64,
    pub wrapup_ms: i64,
    pub outbound_ms: i64,
    pub work_orders: u64,
    /// Inbound calls the device hung up on because the caller is on the
    /// blacklist: never offered to an agent, so not in `offered`.
    pub rejected: u64,
    /// Inbound calls from blacklisted callers, rejected or popped marked.
    pub blacklisted: u64,
    /// Missed-call items (one per number) that needed a call-back: those
    /// whose caller got through on their own first are not counted.
    pub callbacks_needed: u64,
    /// Of those, the items someone dialled back.
    pub callbacks_made: u64,
    /// Σ(first call-back − first missed call) over `callbacks_made`.
    pub callback_wait_ms: i64,
    /// Calls whose caller answered the satisfaction survey, and the sum
    /// of their 1–5 scores.
    pub surveys: u64,
    pub survey_sum: u64,
    /// Milliseconds in each agent state (agents and teams only).
    pub state_ms: StateTimes,
    /// Average speed of answer, seconds.
    pub asa_s: Option<f64>,
    /// Average handle time (talk + after-call work), seconds.
    pub aht_s: Option<f64>,
    /// Average talk time, seconds.
    pub att_s: Option<f64>,
    /// Percent.
    pub service_level: Option<f64>,
    /// Percent.
    pub abandon_rate: Option<f64>,
    /// Percent of `callbacks_needed` called back.
    pub callback_rate: Option<f64>,
    /// Average time to the first call-back, seconds.
    pub time_to_callback_s: Option<f64>,
    /// Average survey score (1–5).
    pub satisfaction: Option<f64>,
}

impl Row {
    fn new(start: i64, key: String) -> Row {
        Row {
            start,
            key,
            ..Row::default()
        }
    }

    fn add_call(&mut self, c: &CallFact, sl_ms: i64) {
        if let Some(score) = c.survey_score {
            self.surveys += 1;
            self.survey_sum += u64::from(score);
        }
        if !c.inbound {
            self.outbound += 1;
            if let (Some(s), Some(e)) = (c.answered_at, c.ended_at) {
                self.outbound_ms += (e - s).max(0);
            }
            return;
        }
        if c.blocked {
            self.blacklisted += 1;
        }
        if c.outcome == Some("rejected") {
            self.rejected += 1;
            return;
        }
        self.offered += 1;
        match c.outcome {
            Some("answered") => {
                self.answered += 1;
                let wait = c.answered_at.map_or(0, |a| (a - c.started_at).max(0));
                self.wait_ms += wait;
                if wait <= sl_ms {
                    self.answered_within_sl += 1;
                }
                if let (Some(a), Some(e)) = (c.answered_at, c.ended_at) {
                    self.talk_ms += (e - a).max(0);
                }
                if let (Some(e), Some(w)) = (c.ended_at, c.wrapup_ended_at) {
                    self.wrapup_ms += (w - e).max(0);
                }
            }
            Some("missed") => self.missed += 1,
            Some("abandoned") => self.abandoned += 1,
            _ => self.unknown += 1,
        }
    }

    fn add_callback(&mut self, c: &CallbackFact) {
        if c.answered_again {
            return;
        }
        self.callbacks_needed += 1;
        if let Some(at) = c.first_called_at {
            self.callbacks_made += 1;
            self.callback_wait_ms += (at - c.created_at).max(0);
        }
    }

    /// Adds another row's counts and times to this one's.
    fn absorb(&mut self, r: &Row) {
        self.offered += r.offered;
        self.answered += r.answered;
        self.missed += r.missed;
        self.abandoned += r.abandoned;
        self.unknown += r.unknown;
        self.outbound += r.outbound;
        self.answered_within_sl += r.answered_within_sl;
        self.wait_ms += r.wait_ms;
        self.talk_ms += r.talk_ms;
        self.wrapup_ms += r.wrapup_ms;
        self.outbound_ms += r.outbound_ms;
        self.work_orders += r.work_orders;
        self.rejected += r.rejected;
        self.blacklisted += r.blacklisted;
        self.callbacks_needed += r.callbacks_needed;
        self.callbacks_made += r.callbacks_made;
        self.callback_wait_ms += r.callback_wait_ms;
        self.surveys += r.surveys;
        self.survey_sum += r.survey_sum;
        self.state_ms.absorb(&r.state_ms);
    }

    fn finish(&mut self) {
        let per = |sum: i64, n: u64| (n > 0).then(|| sum as f64 / n as f64 / 1000.0);
        let pct = |x: u64, n: u64| (n > 0).then(|| 100.0 * x as f64 / n as f64);
        self.asa_s = per(self.wait_ms, self.answered);
        self.att_s = per(self.talk_ms, self.answered);
        self.aht_s = per(self.talk_ms + self.wrapup_ms, self.answered);
        let judged = self.offered - self.unknown;
        self.service_level = pct(self.answered_within_sl, judged);
        self.abandon_rate = pct(self.abandoned, judged);
        self.callback_rate = pct(self.callbacks_made, self.callbacks_needed);
        self.time_to_callback_s = per(self.callback_wait_ms, self.callbacks_made);
        self.satisfaction =
            (self.surveys > 0).then(|| self.survey_sum as f64 / self.surveys as f64);
    }
}

/// How each figure is computed, printed with every report.
pub const FORMULAS: [(&str, &str, &str); 13] = [
    ("offered", "呼入量 = 该时段内开始振铃的呼入电话数（含未知结果）",
     "offered = inbound calls whose first ring fell in the interval (unknown outcomes included)"),
    ("rejected", "黑名单来电 = 来电号码在黑名单上的呼入；其中自动拒接的不计入呼入量",
     "blacklisted = inbound calls from a number on the blacklist; those the device hung up on (rejected) are not offered"),
    ("judged", "可判定呼入 = 呼入量 − 未知结果（设备无法检测接听）",
     "judged = offered − unknown (calls on devices that cannot see an answer)"),
    ("asa", "平均应答速度 ASA = Σ(接听时刻 − 首次振铃) ÷ 接通数",
     "ASA = Σ(answered_at − first ring) ÷ answered"),
    ("att", "平均通话时长 = Σ(挂机 − 接听) ÷ 接通数",
     "average talk = Σ(ended_at − answered_at) ÷ answered"),
    ("aht", "平均处理时长 AHT = Σ(通话 + 话后处理) ÷ 接通数；话后处理 = 坐席离开话后状态 − 挂机",
     "AHT = Σ(talk + after-call work) ÷ answered; after-call work = agent left wrap-up − ended_at"),
    ("service_level", "服务水平 = T 秒内接听数 ÷ 可判定呼入 × 100%",
     "service level = answered within T s ÷ judged × 100%"),
    ("abandon_rate", "放弃率 = 放弃数（未达未接铃数即挂断）÷ 可判定呼入 × 100%",
     "abandonment rate = abandoned (caller hung up before the missed-call ring count) ÷ judged × 100%"),
    ("state_time", "状态时长 = 各状态在时段内的时间，跨时段的状态按边界切分",
     "time in state = each state's time inside the interval; a state crossing a boundary is split at it"),
    ("attribution", "呼叫计入其首次振铃所在时段（通话跨时段仍整通计入该时段）",
     "a call counts whole in the interval of its first ring, even when its talk crosses into the next"),
    ("callback_rate", "回拨率 = 已回拨的未接来电条目 ÷ 需回拨条目 × 100%；同一号码多次未接为一条，来电方再次打入并接通的不需回拨；条目计入首次未接所在时段，坐席为认领或回拨者",
     "call-back rate = missed-call items called back ÷ items needing a call-back × 100%; one item per number however many calls it missed, items whose caller got through again are not needed; an item counts in the interval of its first missed call, for the agent who claimed or called it"),
    ("time_to_callback", "平均回拨时长 = Σ(首次回拨 − 首次未接) ÷ 已回拨条目",
     "time to call back = Σ(first call-back dialled − first missed call) ÷ items called back"),
    ("satisfaction", "满意度 = Σ(来电者短信回复的评分 1–5) ÷ 回复评分的通话数；计入通话首次振铃所在时段",
     "satisfaction = Σ(the caller's 1–5 reply to the survey SMS) ÷ calls rated; counted in the interval of the call's first ring"),
];

/// The start of the interval holding `t`.
pub fn interval_start(t: i64, period: Period, offset: FixedOffset, from: i64) -> i64 {
    let off = i64::from(offset.local_minus_utc()) * 1000;
    let floor = |len: i64| (t + off).div_euclid(len) * len - off;
    const MIN: i64 = 60_000;
    const DAY: i64 = 86_400_000;
    match period {
        Period::Min15 => floor(15 * MIN),
        Period::Min30 => floor(30 * MIN),
        Period::Hour => floor(60 * MIN),
        Period::Day => floor(DAY),
        Period::Week => {
            let day = (t + off).div_euclid(DAY);
            // 1970-01-01 was a Thursday; weeks start on Monday.
            let monday = day - (day + 3).rem_euclid(7);
            monday * DAY - off
        }
        Period::Month => {
            let local = offset
                .timestamp_millis_opt(t)
                .single()
                .map(|d| d.date_naive());
            let first = local.and_then(|d| NaiveDate::from_ymd_opt(d.year(), d.month(), 1));
            first
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .and_then(|d| offset.from_local_datetime(&d).single())
                .map_or(t, |d| d.timestamp_millis())
        }
        Period::Total => from,
    }
}

/// The start of the interval after the one starting at `start`.
pub fn next_interval(start: i64, period: Period, offset: FixedOffset, to: i64) -> i64 {
    const MIN: i64 = 60_000;
    match period {
        Period::Min15 => start + 15 * MIN,
        Period::Min30 => start + 30 * MIN,
        Period::Hour => start + 60 * MIN,
        Period::Day => start + 1440 * MIN,
        Period::Week => start + 7 * 1440 * MIN,
        Period::Month => {
            // Any instant 32 days on lies in the next month.
            interval_start(start + 32 * 1440 * MIN, Period::Month, offset, start)
        }
        Period::Total => to.max(start + 1),
    }
}

/// Row keys (agent, team, line names) as small numbers while counting:
/// a month of calls then costs one hash of a short key per call.
#[derive(Default)]
struct Keys {
    names: Vec<String>,
    by_name: HashMap<String, u32>,
    by_agent: HashMap<i64, Option<u32>>,
}

impl Keys {
    fn of(&mut self, name: &str) -> u32 {
        if let Some(k) = self.by_name.get(name) {
            return *k;
        }
        let k = self.names.len() as u32;
        self.names.push(name.to_string());
        self.by_name.insert(name.to_string(), k);
        k
    }

    /// The key an agent's figures go under: their name, their team, or
    /// "all"; none for line reports.
    fn of_agent(
        &mut self,
        id: i64,
        agents: &HashMap<i64, AgentInfo>,
        group: GroupBy,
    ) -> Option<u32> {
        if let Some(k) = self.by_agent.get(&id) {
            return *k;
        }
        let info = agents.get(&id);
        let key = match group {
            GroupBy::Calls => Some(self.of("all")),
            GroupBy::Agents => Some(match info {
                Some(a) => self.of(&a.username),
                None => self.of(&format!("#{id}")),
            }),
            GroupBy::Teams => info.and_then(|a| a.team.as_deref()).map(|t| self.of(t)),
            GroupBy::Lines => None,
        };
        self.by_agent.insert(id, key);
        key
    }
}

/// Counts calls, work orders and state spans into rows as they are read.
/// Two accumulators fed on two threads (calls on one, states on the
/// other) are [`Accumulator::merge`]d.
pub struct Accumulator<'d> {
    settings: Settings,
    agents: &'d HashMap<i64, AgentInfo>,
    keys: Keys,
    rows: HashMap<(i64, u32), Row>,
    /// The last interval looked up: (start, end); most lookups hit it.
    last: (i64, i64),
}

impl<'d> Accumulator<'d> {
    /// An empty report for `settings`, naming agents from `agents`.
    pub fn new(settings: Settings, agents: &'d HashMap<i64, AgentInfo>) -> Accumulator<'d> {
        Accumulator {
            settings,
            agents,
            keys: Keys::default(),
            rows: HashMap::new(),
            last: (i64::MIN, i64::MIN),
        }
    }

    /// Whether this report counts agent states (agents and teams only).
    pub fn wants_states(&self) -> bool {
        matches!(self.settings.group, GroupBy::Agents | GroupBy::Teams)
    }

    fn start_of(&mut self, t: i64) -> i64 {
        if t >= self.last.0 && t < self.last.1 {
            return self.last.0;
        }
        let s = &self.settings;
        let start = interval_start(t, s.period, s.offset, s.from);
        self.last = (start, next_interval(start, s.period, s.offset, s.to));
        start
    }

    fn row(&mut self, start: i64, key: u32) -> &mut Row {
        self.rows
            .entry((start, key))
            .or_insert_with(|| Row::new(start, String::new()))
    }

    fn agent_key(&mut self, id: i64) -> Option<u32> {
        self.keys.of_agent(id, self.agents, self.settings.group)
    }

    /// Counts one call (outside the report's range: ignored).
    pub fn add_call(&mut self, c: &CallFact<'_>) {
        let s = self.settings;
        if c.started_at < s.from || c.started_at >= s.to {
            return;
        }
        let start = self.start_of(c.started_at);
        let key = match s.group {
            GroupBy::Calls => Some(self.keys.of("all")),
            GroupBy::Lines => Some(self.keys.of(c.line)),
            GroupBy::Agents => c.agent.or(c.offered_to).and_then(|a| self.agent_key(a)),
            GroupBy::Teams => match c.team {
                Some(t) => Some(self.keys.of(t)),
                None => c.agent.or(c.offered_to).and_then(|a| self.agent_key(a)),
            },
        };
        if let Some(key) = key {
            let sl_ms = i64::from(s.service_level_secs) * 1000;
            self.row(start, key).add_call(c, sl_ms);
        }
    }

    /// Counts a missed-call item of the call-back queue (created outside
    /// the report's range: ignored), under its line, or the agent who
    /// claimed or called it back.
    pub fn add_callback(&mut self, c: &CallbackFact<'_>) {
        let s = self.settings;
        if c.created_at < s.from || c.created_at >= s.to {
            return;
        }
        let key = match s.group {
            GroupBy::Calls => Some(self.keys.of("all")),
            GroupBy::Lines => Some(self.keys.of(c.line)),
            GroupBy::Agents | GroupBy::Teams => c.agent.and_then(|a| self.agent_key(a)),
        };
        if let Some(key) = key {
            let start = self.start_of(c.created_at);
            self.row(start, key).add_callback(c);
        }
    }

    /// Counts a work order saved by `agent` at `at`.
    pub fn add_work_order(&mut self, agent: Option<i64>, at: i64) {
        let s = self.settings;
        if at < s.from || at >= s.to {
            return;
        }
        let key = match (s.group, agent) {
            (GroupBy::Calls, _) => Some(self.keys.of("all")),
            (_, Some(a)) => self.agent_key(a),
            (_, None) => None,
        };
        if let Some(key) = key {
            let start = self.start_of(at);
            self.row(start, key).work_orders += 1;
        }
    }

    /// Adds a state span's time, split at interval boundaries.
    pub fn add_state(&mut self, span: &StateSpan) {
        if !self.wants_states() {
            return;
        }
        let Some(key) = self.agent_key(span.user) else {
            return;
        };
        let s = self.settings;
        let (from, to) = (span.from.max(s.from), span.to.min(s.to));
        let mut start = self.start_of(from);
        while start < to {
            let end = next_interval(start, s.period, s.offset, s.to);
            let overlap = to.min(end) - from.max(start);
            if overlap > 0 {
                self.row(start, key).state_ms.add(span.state, overlap);
            }
            start = end;
        }
    }

    /// Adds another accumulator's rows (of the same settings) to these.
    pub fn merge(&mut self, other: Accumulator<'_>) {
        for ((start, key), row) in other.rows {
            let key = self.keys.of(&other.keys.names[key as usize]);
            self.row(start, key).absorb(&row);
        }
    }

    /// The rows, ordered by interval, then key, with their figures.
    pub fn finish(self) -> Vec<Row> {
        let names = self.keys.names;
        let mut out: Vec<Row> = self
            .rows
            .into_iter()
            .map(|((_, key), mut r)| {
                r.key = names[key as usize].clone();
                r.finish();
                r
            })
            .collect();
        out.sort_by(|a, b| (a.start, &a.key).cmp(&(b.start, &b.key)));
        out
    }
}

/// Computes the report of gathered data: rows ordered by interval, then key.
pub fn compute(data: &RawData<'_>, s: &Settings) -> Vec<Row> {
    let mut acc = Accumulator::new(*s, &data.agents);
    data.calls.iter().for_each(|c| acc.add_call(c));
    data.work_orders
        .iter()
        .for_each(|&(agent, at)| acc.add_work_order(agent, at));
    data.callbacks.iter().for_each(|c| acc.add_callback(c));
    data.states.iter().for_each(|span| acc.add_state(span));
    acc.finish()
}

/// The same rows summed over every interval, one per key: a report's
/// totals line.
pub fn totals(rows: &[Row]) -> Vec<Row> {
    let mut by_key: BTreeMap<String, Row> = BTreeMap::new();
    for r in rows {
        let t = by_key
            .entry(r.key.clone())
            .or_insert_with(|| Row::new(r.start, r.key.clone()));
        t.start = t.start.min(r.start);
        t.absorb(r);
    }
    by_key
        .into_values()
        .map(|mut r| {
            r.finish();
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AgentState::*;

    const S: i64 = 1000;

    fn cn() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    /// 2026-03-02 09:00 in Beijing (a Monday), ms.
    fn nine() -> i64 {
        cn().with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .unwrap()
            .timestamp_millis()
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        start: i64,
        inbound: bool,
        outcome: &'static str,
        line: &'static str,
        agent: Option<i64>,
        offered_to: Option<i64>,
        team: Option<&'static str>,
        answered: Option<i64>,
        ended: Option<i64>,
        wrapup: Option<i64>,
    ) -> CallFact<'static> {
        let t = |s: i64| nine() + s * S;
        CallFact {
            started_at: t(start),
            inbound,
            outcome: Some(outcome),
            line,
            agent,
            offered_to,
            team,
            answered_at: answered.map(t),
            ended_at: ended.map(t),
            wrapup_ended_at: wrapup.map(t),
            blocked: false,
            survey_score: None,
        }
    }

    /// The fixture of the issue, times in seconds after 09:00:
    /// 1. A answers on L1 at 0+10 s, talks 120 s, wraps up 30 s;
    /// 2. B answers on L2 at 14:50 (890) after 30 s, talks 270 s across
    ///    09:15 and wraps up 60 s;
    /// 3. abandoned on L1 (A's line) at 300; 4. missed on L3 (team sales)
    ///    at 600; 5. unknown on L4 at 700; 6. A calls out at 1000 (60 s);
    /// 7. A answers on L1 at 1800 after 5 s, talks 60 s, no wrap-up yet.
    fn fixture() -> RawData<'static> {
        let (a, b) = (Some(1), Some(2));
        let t = |s: i64| nine() + s * S;
        let span = |user, state, from, to| StateSpan {
            user,
            state,
            from: t(from),
            to: t(to),
        };
        RawData {
            calls: vec![
                call(
                    0,
                    true,
                    "answered",
                    "L1",
                    a,
                    a,
                    None,
                    Some(10),
                    Some(130),
                    Some(160),
                ),
                call(
                    890,
                    true,
                    "answered",
                    "L2",
                    b,
                    b,
                    None,
                    Some(920),
                    Some(1190),
                    Some(1250),
                ),
                call(
                    300,
                    true,
                    "abandoned",
                    "L1",
                    None,
                    a,
                    None,
                    None,
                    Some(305),
                    None,
                ),
                call(
                    600,
                    true,
                    "missed",
                    "L3",
                    None,
                    None,
                    Some("sales"),
                    None,
                    Some(640),
                    None,
                ),
                call(
                    700,
                    true,
                    "unknown",
                    "L4",
                    None,
                    None,
                    None,
                    None,
                    Some(760),
                    None,
                ),
                call(
                    1000,
                    false,
                    "outbound",
                    "L1",
                    a,
                    None,
                    None,
                    Some(1005),
                    Some(1065),
                    None,
                ),
                call(
                    1800,
                    true,
                    "answered",
                    "L1",
                    a,
                    a,
                    None,
                    Some(1805),
                    Some(1865),
                    None,
                ),
                // Before the range: not counted.
                call(
                    -5,
                    true,
                    "answered",
                    "L1",
                    a,
                    a,
                    None,
                    Some(-1),
                    Some(50),
                    None,
                ),
            ],
            states: vec![
                span(1, Ready, -600, 0),
                span(1, OnCall, 0, 130),
                span(1, AfterCallWork, 130, 160),
                span(1, Ready, 160, 1000),
                span(1, OnCall, 1000, 1065),
                span(1, NotReady, 1065, 2700),
            ],
            work_orders: vec![(a, t(150)), (b, t(1200)), (a, t(1900))],
            callbacks: vec![],
            agents: HashMap::from([
                (
                    1,
                    AgentInfo {
                        username: "A".into(),
                        team: Some("sales".into()),
                    },
                ),
                (
                    2,
                    AgentInfo {
                        username: "B".into(),
                        team: Some("sales".into()),
                    },
                ),
            ]),
        }
    }

    fn settings(group: GroupBy, period: Period) -> Settings {
        Settings {
            period,
            group,
            offset: cn(),
            service_level_secs: 20,
            from: nine(),
            to: nine() + 2700 * S,
        }
    }

    fn find<'a>(rows: &'a [Row], minutes: i64, key: &str) -> &'a Row {
        rows.iter()
            .find(|r| r.start == nine() + minutes * 60 * S && r.key == key)
            .unwrap_or_else(|| panic!("no row {key} at +{minutes} min in {rows:#?}"))
    }

    #[test]
    fn whole_center_per_quarter_hour() {
        let rows = compute(&fixture(), &settings(GroupBy::Calls, Period::Min15));
        assert_eq!(rows.len(), 3);
        let q1 = find(&rows, 0, "all");
        // Calls 1-5 arrived in 09:00-09:15; call 2's talk runs past 09:15
        // but it counts whole here.
        assert_eq!(
            (q1.offered, q1.answered, q1.missed, q1.abandoned, q1.unknown),
            (5, 2, 1, 1, 1)
        );
        assert_eq!(q1.asa_s, Some(20.0)); // (10 + 30) / 2
        assert_eq!(q1.att_s, Some(195.0)); // (120 + 270) / 2
        assert_eq!(q1.aht_s, Some(240.0)); // (120 + 30 + 270 + 60) / 2
        assert_eq!(q1.service_level, Some(25.0)); // 1 within 20 s of 4 judged
        assert_eq!(q1.abandon_rate, Some(25.0)); // 1 of 4 judged
        assert_eq!(q1.work_orders, 1);
        let q2 = find(&rows, 15, "all");
        assert_eq!((q2.offered, q2.outbound, q2.outbound_ms), (0, 1, 60 * S));
        assert_eq!((q2.service_level, q2.asa_s), (None, None));
        assert_eq!(q2.work_orders, 1, "B saved at 09:20, after the boundary");
        let q3 = find(&rows, 30, "all");
        assert_eq!(
            (q3.offered, q3.answered, q3.service_level),
            (1, 1, Some(100.0))
        );
        assert_eq!(
            (q3.asa_s, q3.aht_s),
            (Some(5.0), Some(60.0)),
            "no wrap-up yet counts 0"
        );
        assert!(
            rows.iter().all(|r| r.state_ms.total() == 0),
            "states are per agent"
        );
    }

    #[test]
    fn agents_per_quarter_hour_split_state_time_at_boundaries() {
        let rows = compute(&fixture(), &settings(GroupBy::Agents, Period::Min15));
        let a = find(&rows, 0, "A");
        // A's calls: 1 (answered) and 3 (abandoned on A's line).
        assert_eq!((a.offered, a.answered, a.abandoned), (2, 1, 1));
        assert_eq!(
            (a.asa_s, a.aht_s, a.service_level, a.abandon_rate),
            (Some(10.0), Some(150.0), Some(50.0), Some(50.0))
        );
        let state = |r: &Row, s: &str| r.state_ms.get(s) / S;
        // 09:00-09:15: on call 0-130, wrap-up 130-160, ready 160-900 (the
        // ready span before 09:00 is outside the range).
        assert_eq!(
            (
                state(a, "on_call"),
                state(a, "after_call_work"),
                state(a, "ready")
            ),
            (130, 30, 740)
        );
        let a2 = find(&rows, 15, "A");
        // 09:15-09:30: the ready span 160-1000 gives its last 100 s here.
        assert_eq!(
            (
                state(a2, "ready"),
                state(a2, "on_call"),
                state(a2, "not_ready")
            ),
            (100, 65, 735)
        );
        assert_eq!(a2.outbound, 1);
        let a3 = find(&rows, 30, "A");
        assert_eq!(
            (state(a3, "not_ready"), a3.work_orders, a3.answered),
            (900, 1, 1)
        );
        let b = find(&rows, 0, "B");
        assert_eq!(
            (b.offered, b.answered, b.service_level, b.asa_s, b.aht_s),
            (1, 1, Some(0.0), Some(30.0), Some(330.0))
        );
        assert_eq!(find(&rows, 15, "B").work_orders, 1);
        // Every interval's state time adds up to the interval (A was
        // logged in all along).
        for r in rows.iter().filter(|r| r.key == "A") {
            assert_eq!(r.state_ms.total(), 900 * S);
        }
        let totals = totals(&rows);
        let ta = totals.iter().find(|r| r.key == "A").unwrap();
        assert_eq!(
            (ta.offered, ta.answered, ta.outbound, ta.work_orders),
            (3, 2, 1, 2)
        );
        assert_eq!(ta.aht_s, Some(105.0)); // (150 + 60) / 2
        assert_eq!(ta.service_level, Some(66.66666666666667)); // 2 of 3
    }

    #[test]
    fn teams_take_unanswered_calls_by_line_team_or_offered_agent() {
        let rows = compute(&fixture(), &settings(GroupBy::Teams, Period::Hour));
        assert_eq!(rows.len(), 1, "{rows:#?}");
        let s = &rows[0];
        assert_eq!(s.key, "sales");
        // 1, 2, 3 (A's line), 4 (team line), 7; not 5 (no one's).
        assert_eq!((s.offered, s.answered, s.missed, s.abandoned), (5, 3, 1, 1));
        assert_eq!(s.service_level, Some(40.0)); // 10 s and 5 s of 5
        assert_eq!(s.work_orders, 3);
        assert_eq!(s.state_ms.total(), 2700 * S, "A's 45 minutes");
    }

    #[test]
    fn lines_per_day() {
        let rows = compute(&fixture(), &settings(GroupBy::Lines, Period::Day));
        let l1 = rows.iter().find(|r| r.key == "L1").unwrap();
        assert_eq!(
            (l1.offered, l1.answered, l1.abandoned, l1.outbound),
            (3, 2, 1, 1)
        );
        assert_eq!(
            l1.start,
            cn().with_ymd_and_hms(2026, 3, 2, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        let l4 = rows.iter().find(|r| r.key == "L4").unwrap();
        assert_eq!((l4.offered, l4.unknown, l4.service_level), (1, 1, None));
        assert!(rows.iter().all(|r| r.work_orders == 0));
    }

    #[test]
    fn intervals_are_cut_in_local_time() {
        let at = |y, mo, d, h, mi| {
            cn().with_ymd_and_hms(y, mo, d, h, mi, 0)
                .unwrap()
                .timestamp_millis()
        };
        let start = |t, p| interval_start(t, p, cn(), 0);
        assert_eq!(
            start(at(2026, 3, 2, 9, 44), Period::Min30),
            at(2026, 3, 2, 9, 30)
        );
        assert_eq!(
            start(at(2026, 3, 2, 0, 10), Period::Day),
            at(2026, 3, 2, 0, 0)
        );
        // Sunday night is last week; Monday morning this week.
        assert_eq!(
            start(at(2026, 3, 1, 23, 59), Period::Week),
            at(2026, 2, 23, 0, 0)
        );
        assert_eq!(
            start(at(2026, 3, 2, 0, 1), Period::Week),
            at(2026, 3, 2, 0, 0)
        );
        // 00:10 on 1 April in Beijing is still 31 March in UTC.
        assert_eq!(
            start(at(2026, 4, 1, 0, 10), Period::Month),
            at(2026, 4, 1, 0, 0)
        );
        assert_eq!(
            start(at(2026, 3, 31, 23, 50), Period::Month),
            at(2026, 3, 1, 0, 0)
        );
        assert_eq!(
            next_interval(at(2026, 2, 1, 0, 0), Period::Month, cn(), 0),
            at(2026, 3, 1, 0, 0)
        );
        assert_eq!(
            next_interval(at(2026, 12, 1, 0, 0), Period::Month, cn(), 0),
            at(2027, 1, 1, 0, 0)
        );
    }

    #[test]
    fn a_state_spanning_months_is_split_at_midnight_local() {
        let at = |d, h| {
            cn().with_ymd_and_hms(2026, 3, d, h, 0, 0)
                .unwrap()
                .timestamp_millis()
        };
        let data = RawData {
            states: vec![StateSpan {
                user: 1,
                state: Ready,
                from: at(1, 22),
                to: at(2, 3),
            }],
            agents: HashMap::from([(
                1,
                AgentInfo {
                    username: "A".into(),
                    team: None,
                },
            )]),
            ..RawData::default()
        };
        let s = Settings {
            from: at(1, 0),
            to: at(3, 0),
            ..settings(GroupBy::Agents, Period::Day)
        };
        let rows = compute(&data, &s);
        let hours: Vec<i64> = rows.iter().map(|r| r.state_ms.ready / 3_600_000).collect();
        assert_eq!(hours, [2, 3]);
    }

    #[test]
    fn blacklisted_callers_and_the_call_back_queue_are_counted() {
        let t = |s: i64| nine() + s * S;
        let mut rejected = call(
            60,
            true,
            "rejected",
            "L1",
            None,
            None,
            None,
            None,
            Some(61),
            None,
        );
        rejected.blocked = true;
        let mut marked = call(
            120,
            true,
            "missed",
            "L1",
            None,
            None,
            None,
            None,
            Some(150),
            None,
        );
        marked.blocked = true;
        let item = |created: i64, agent, first_called: Option<i64>, answered_again| CallbackFact {
            created_at: t(created),
            line: "L1",
            agent,
            first_called_at: first_called.map(t),
            answered_again,
        };
        let data = RawData {
            calls: vec![rejected, marked],
            callbacks: vec![
                // Called back by A 10 min after the first missed call.
                item(0, Some(1), Some(600), false),
                // Claimed by A, not dialled yet.
                item(300, Some(1), None, false),
                // Nobody has it yet.
                item(400, None, None, false),
                // The caller got through on their own: not needed.
                item(500, None, None, true),
                // Called back by B after 30 min, in the next quarter hour.
                item(1000, Some(2), Some(2800), false),
                // Before the range: not counted.
                item(-60, Some(1), Some(0), false),
            ],
            ..fixture()
        };
        let rows = compute(&data, &settings(GroupBy::Calls, Period::Total));
        let all = &rows[0];
        assert_eq!(
            (all.offered, all.missed),
            (1, 1),
            "a rejected call is not offered"
        );
        assert_eq!((all.rejected, all.blacklisted), (1, 2));
        assert_eq!((all.callbacks_needed, all.callbacks_made), (4, 2));
        assert_eq!(all.callback_rate, Some(50.0));
        assert_eq!(all.time_to_callback_s, Some((600.0 + 1800.0) / 2.0));

        let agents = compute(&data, &settings(GroupBy::Agents, Period::Min15));
        let a = find(&agents, 0, "A");
        assert_eq!((a.callbacks_needed, a.callbacks_made), (2, 1));
        assert_eq!(a.callback_rate, Some(50.0));
        assert_eq!(a.time_to_callback_s, Some(600.0));
        let b = find(&agents, 15, "B");
        assert_eq!(
            (b.callbacks_needed, b.callbacks_made, b.callback_rate),
            (1, 1, Some(100.0))
        );
        let totals = totals(&agents);
        let a = totals.iter().find(|r| r.key == "A").unwrap();
        assert_eq!(a.callbacks_needed, 2, "{totals:#?}");

        let lines = compute(&data, &settings(GroupBy::Lines, Period::Total));
        assert_eq!(lines[0].callbacks_needed, 4);
        assert_eq!(lines[0].rejected, 1);
    }

    #[test]
    fn satisfaction_averages_the_calls_rated_for_whoever_took_them() {
        let mut data = fixture();
        // A's first call rated 5, B's 2, A's outbound call 4; the rest unrated.
        data.calls[0].survey_score = Some(5);
        data.calls[1].survey_score = Some(2);
        data.calls[5].survey_score = Some(4);
        let all = &compute(&data, &settings(GroupBy::Calls, Period::Total))[0];
        assert_eq!((all.surveys, all.survey_sum), (3, 11));
        assert_eq!(all.satisfaction, Some(11.0 / 3.0));
        let agents = totals(&compute(&data, &settings(GroupBy::Agents, Period::Min15)));
        let of = |k: &str| agents.iter().find(|r| r.key == k).unwrap().satisfaction;
        assert_eq!((of("A"), of("B")), (Some(4.5), Some(2.0)));
        let none = &compute(&fixture(), &settings(GroupBy::Calls, Period::Total))[0];
        assert_eq!(none.satisfaction, None, "no rating, no average");
    }
}
