//! Reports for supervisors: statistics per interval and key, their
//! columns for tables and sheets, and SVG charts of them. The CLI
//! (`callpop report`) and the web page print the same rows.

pub mod stats;

use serde::Serialize;
use stats::{GroupBy, Period, Row, Settings, FORMULAS};

/// A computed report: its rows, its totals per key, and how each figure
/// was computed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub group: GroupBy,
    pub period: Period,
    pub from: i64,
    pub to: i64,
    /// "+08:00": the offset intervals are cut in.
    pub utc_offset: String,
    #[serde(skip)]
    offset: chrono::FixedOffset,
    pub service_level_secs: u32,
    pub rows: Vec<Row>,
    pub totals: Vec<Row>,
    pub formulas: Vec<Formula>,
    /// What each row's key is called where it is not the key itself (an
    /// agent's display name by username): filled by whoever knows the users.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub names: std::collections::BTreeMap<String, String>,
}

/// One figure's formula, in both languages.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Formula {
    pub name: &'static str,
    pub zh: &'static str,
    pub en: String,
}

/// A report's rows: the calls are counted as `store` reads them while a
/// second reader of the same database reads the agents' state changes and
/// the work orders (a month of each is hundreds of thousands of rows); the
/// two accumulators merge at the end.
pub fn rows(
    store: &crate::store::Store,
    settings: &Settings,
    now: i64,
) -> crate::store::Result<Vec<Row>> {
    use crate::store::{Store, StoreError};
    let agents = store.reports().agent_infos()?;
    let (from, to) = (settings.from, settings.to);
    let path = store.path().to_path_buf();
    std::thread::scope(|scope| {
        let side = scope.spawn(|| -> crate::store::Result<stats::Accumulator<'_>> {
            let mut acc = stats::Accumulator::new(*settings, &agents);
            let reader = Store::open_reader(&path)?;
            reader
                .reports()
                .each_work_order(from, to, |agent, at| acc.add_work_order(agent, at))?;
            reader
                .reports()
                .each_callback(from, to, |item| acc.add_callback(&item))?;
            if acc.wants_states() {
                reader
                    .reports()
                    .each_state_span(from, to, now, |span| acc.add_state(&span))?;
            }
            Ok(acc)
        });
        let mut acc = stats::Accumulator::new(*settings, &agents);
        let read = store
            .reports()
            .each_call_fact(from, to, |c| acc.add_call(&c));
        let side = side.join().unwrap_or_else(|_| {
            Err(StoreError::Invalid(
                "the report's second reader failed".into(),
            ))
        });
        read?;
        acc.merge(side?);
        Ok(acc.finish())
    })
}

impl Report {
    /// Reads the raw rows of the range from `store` and computes the report.
    pub fn build(
        store: &crate::store::Store,
        settings: &Settings,
        now: i64,
    ) -> crate::store::Result<Report> {
        Ok(Report::from_rows(settings, rows(store, settings, now)?))
    }

    /// A report of rows already computed.
    pub fn from_rows(settings: &Settings, rows: Vec<Row>) -> Report {
        let t = settings.service_level_secs;
        Report {
            group: settings.group,
            period: settings.period,
            from: settings.from,
            to: settings.to,
            utc_offset: settings.offset.to_string(),
            offset: settings.offset,
            service_level_secs: t,
            totals: stats::totals(&rows),
            rows,
            names: Default::default(),
            formulas: FORMULAS
                .iter()
                .map(|(name, zh, en)| Formula {
                    name,
                    zh,
                    en: en.replace("T s", &format!("T = {t} s")),
                })
                .collect(),
        }
    }

    /// The column headers of the report's table (English, 中文).
    pub fn header(&self) -> Vec<String> {
        self.columns().iter().map(|c| c.0.to_string()).collect()
    }

    /// One row's cells, in [`Report::header`]'s order.
    pub fn cells(&self, row: &Row, interval: bool) -> Vec<String> {
        self.columns()
            .iter()
            .map(|(name, _)| cell(self, row, name, interval))
            .collect()
    }

    fn columns(&self) -> Vec<(&'static str, &'static str)> {
        let mut cols = vec![
            ("interval", "时段"),
            (key_name(self.group), key_name_zh(self.group)),
            ("offered", "呼入"),
            ("answered", "接通"),
            ("missed", "未接"),
            ("abandoned", "放弃"),
            ("unknown", "未知"),
            ("outbound", "呼出"),
            ("asa_s", "平均应答(秒)"),
            ("att_s", "平均通话(秒)"),
            ("aht_s", "平均处理(秒)"),
            ("service_level_pct", "服务水平%"),
            ("abandon_rate_pct", "放弃率%"),
            ("rejected", "拒接"),
            ("blacklisted", "黑名单来电"),
            ("callbacks_needed", "需回拨"),
            ("callbacks_made", "已回拨"),
            ("callback_rate_pct", "回拨率%"),
            ("time_to_callback_min", "平均回拨(分钟)"),
        ];
        if self.group != GroupBy::Lines {
            cols.push(("work_orders", "工单"));
        }
        if matches!(self.group, GroupBy::Agents | GroupBy::Teams) {
            cols.extend([
                ("ready_s", "就绪(秒)"),
                ("not_ready_s", "未就绪(秒)"),
                ("on_call_s", "通话中(秒)"),
                ("after_call_work_s", "话后处理(秒)"),
            ]);
        }
        cols
    }

    /// The local time of an interval's start, as the report shows it.
    pub fn local_time(&self, ms: i64) -> String {
        let fmt = match self.period {
            Period::Day | Period::Week | Period::Total => "%Y-%m-%d",
            Period::Month => "%Y-%m",
            _ => "%Y-%m-%d %H:%M",
        };
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.with_timezone(&self.offset).format(fmt).to_string())
            .unwrap_or_default()
    }

    /// The report as an aligned text table with its totals and formulas.
    pub fn to_table(&self) -> String {
        let header = self.header();
        let mut lines: Vec<Vec<String>> = vec![header.clone()];
        lines.extend(self.rows.iter().map(|r| self.cells(r, true)));
        let totals_at = lines.len();
        lines.extend(self.totals.iter().map(|r| self.cells(r, false)));
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                lines
                    .iter()
                    .map(|l| l[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for (n, l) in lines.iter().enumerate() {
            if n == 1 || (n == totals_at && totals_at > 1) {
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                out.push_str(&rule.join("  "));
                out.push('\n');
            }
            let cells: Vec<String> = l
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    if i < 2 {
                        format!("{c:<w$}")
                    } else {
                        format!("{c:>w$}")
                    }
                })
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out.push_str(&format!(
            "\nintervals start at local time {}; service level T = {} s\n",
            self.utc_offset, self.service_level_secs
        ));
        for f in &self.formulas {
            out.push_str(&format!("  {}\n  {}\n", f.en, f.zh));
        }
        out
    }
}

fn key_name(group: GroupBy) -> &'static str {
    match group {
        GroupBy::Calls => "scope",
        GroupBy::Agents => "agent",
        GroupBy::Teams => "team",
        GroupBy::Lines => "line",
    }
}

fn key_name_zh(group: GroupBy) -> &'static str {
    match group {
        GroupBy::Calls => "范围",
        GroupBy::Agents => "坐席",
        GroupBy::Teams => "班组",
        GroupBy::Lines => "线路",
    }
}

fn cell(report: &Report, r: &Row, column: &str, interval: bool) -> String {
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
    let secs = |state: &str| (r.state_ms.get(state) / 1000).to_string();
    match column {
        "interval" if interval => report.local_time(r.start),
        "interval" => "total".into(),
        "offered" => r.offered.to_string(),
        "answered" => r.answered.to_string(),
        "missed" => r.missed.to_string(),
        "abandoned" => r.abandoned.to_string(),
        "unknown" => r.unknown.to_string(),
        "outbound" => r.outbound.to_string(),
        "asa_s" => opt(r.asa_s),
        "att_s" => opt(r.att_s),
        "aht_s" => opt(r.aht_s),
        "service_level_pct" => opt(r.service_level),
        "abandon_rate_pct" => opt(r.abandon_rate),
        "work_orders" => r.work_orders.to_string(),
        "rejected" => r.rejected.to_string(),
        "blacklisted" => r.blacklisted.to_string(),
        "callbacks_needed" => r.callbacks_needed.to_string(),
        "callbacks_made" => r.callbacks_made.to_string(),
        "callback_rate_pct" => opt(r.callback_rate),
        "time_to_callback_min" => opt(r.time_to_callback_s.map(|s| s / 60.0)),
        "ready_s" => secs("ready"),
        "not_ready_s" => secs("not_ready"),
        "on_call_s" => secs("on_call"),
        "after_call_work_s" => secs("after_call_work"),
        _ => r.key.clone(),
    }
}
