//! Server-rendered SVG charts of a report: no script and no chart library
//! in the browser, and the same picture in any page or e-mail.

use super::stats::Row;
use super::Report;
use std::collections::BTreeMap;
use std::fmt::Write;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 48.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 40.0;

/// Colours of the outcomes, the same on every chart.
const ANSWERED: &str = "#2f855a";
const MISSED: &str = "#dd6b20";
const ABANDONED: &str = "#c53030";
const UNKNOWN: &str = "#a0aec0";
const LEVEL: &str = "#2b6cb0";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A step of 1, 2 or 5 × 10ⁿ giving at most five gridlines up to `max`.
fn nice_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// Inbound calls per interval as stacked bars (answered, missed,
/// abandoned, unknown) with the service level as a line on the right axis.
pub fn volume_chart(report: &Report, title: &str) -> String {
    // Every key's rows of an interval add up to the interval.
    let mut by_start: BTreeMap<i64, Row> = BTreeMap::new();
    for r in &report.rows {
        let t = by_start.entry(r.start).or_default();
        t.answered += r.answered;
        t.missed += r.missed;
        t.abandoned += r.abandoned;
        t.unknown += r.unknown;
        t.answered_within_sl += r.answered_within_sl;
    }
    let bars: Vec<(i64, &Row)> = by_start.iter().map(|(k, v)| (*k, v)).collect();
    let max = bars
        .iter()
        .map(|(_, r)| r.answered + r.missed + r.abandoned + r.unknown)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let step = nice_step(max);
    let top = (max / step).ceil() * step;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let y = |v: f64| TOP + plot_h - v / top * plot_h;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart" data-bars="{}" font-family="sans-serif" font-size="11"><title>{}</title>"#,
        bars.len(),
        esc(title)
    );
    let _ = write!(
        s,
        r#"<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{}</text>"#,
        esc(title)
    );
    let mut v = 0.0;
    while v <= top + 0.5 {
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e2e8f0"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{v}</text>"##,
            x2 = WIDTH - RIGHT,
            yy = y(v),
            tx = LEFT - 4.0,
            ty = y(v) + 4.0
        );
        v += step;
    }
    for pct in [0, 50, 100] {
        let yy = TOP + plot_h - f64::from(pct) / 100.0 * plot_h;
        let _ = write!(
            s,
            r#"<text x="{}" y="{:.1}" fill="{LEVEL}">{pct}%</text>"#,
            WIDTH - RIGHT + 4.0,
            yy + 4.0
        );
    }
    let n = bars.len().max(1) as f64;
    let slot = plot_w / n;
    let bar_w = (slot * 0.7).max(1.0);
    let label_every = ((n / 12.0).ceil() as usize).max(1);
    let mut level_points = Vec::new();
    for (i, (start, r)) in bars.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let mut base = 0.0;
        for (count, colour, name) in [
            (r.answered, ANSWERED, "answered"),
            (r.missed, MISSED, "missed"),
            (r.abandoned, ABANDONED, "abandoned"),
            (r.unknown, UNKNOWN, "unknown"),
        ] {
            if count == 0 {
                continue;
            }
            let h = count as f64 / top * plot_h;
            let _ = write!(
                s,
                r#"<rect class="bar {name}" x="{x:.1}" y="{:.1}" width="{bar_w:.1}" height="{h:.1}" fill="{colour}"><title>{} {name}: {count}</title></rect>"#,
                y(base + count as f64),
                esc(&report.local_time(*start)),
            );
            base += count as f64;
        }
        let judged = r.answered + r.missed + r.abandoned;
        if judged > 0 {
            let level = r.answered_within_sl as f64 / judged as f64;
            level_points.push(format!(
                "{:.1},{:.1}",
                x + bar_w / 2.0,
                TOP + plot_h - level * plot_h
            ));
        }
        if i % label_every == 0 {
            let label = report.local_time(*start);
            let short = label.rsplit(' ').next().unwrap_or(&label);
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x + bar_w / 2.0,
                HEIGHT - BOTTOM + 14.0,
                esc(short)
            );
        }
    }
    if level_points.len() > 1 {
        let _ = write!(
            s,
            r#"<polyline class="service-level" fill="none" stroke="{LEVEL}" stroke-width="2" points="{}"/>"#,
            level_points.join(" ")
        );
    }
    legend(
        &mut s,
        &[
            (ANSWERED, "接通 answered"),
            (MISSED, "未接 missed"),
            (ABANDONED, "放弃 abandoned"),
            (UNKNOWN, "未知 unknown"),
            (LEVEL, "服务水平 service level"),
        ],
    );
    s.push_str("</svg>");
    s
}

/// One horizontal bar per key (agent, team or line) of the report's
/// totals: answered calls, labelled with AHT and service level.
pub fn totals_chart(report: &Report, title: &str) -> String {
    let rows = &report.totals;
    let row_h = 22.0;
    let height = TOP + 12.0 + row_h * rows.len().max(1) as f64 + 12.0;
    let label_w = 120.0;
    let plot_w = WIDTH - LEFT - label_w - 160.0;
    let max = rows
        .iter()
        .map(|r| r.answered + r.outbound)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" class="chart" data-bars="{}" font-family="sans-serif" font-size="11"><title>{}</title>"#,
        rows.len(),
        esc(title)
    );
    let _ = write!(
        s,
        r#"<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{}</text>"#,
        esc(title)
    );
    for (i, r) in rows.iter().enumerate() {
        let top = TOP + 8.0 + row_h * i as f64;
        let x0 = LEFT + label_w;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            x0 - 6.0,
            top + 14.0,
            esc(&r.key)
        );
        let wa = r.answered as f64 / max * plot_w;
        let wo = r.outbound as f64 / max * plot_w;
        let _ = write!(
            s,
            r#"<rect class="bar answered" x="{x0:.1}" y="{top:.1}" width="{wa:.1}" height="16" fill="{ANSWERED}"><title>{0}: {1} answered</title></rect><rect class="bar outbound" x="{2:.1}" y="{top:.1}" width="{wo:.1}" height="16" fill="{LEVEL}" opacity="0.6"><title>{0}: {3} outbound</title></rect>"#,
            esc(&r.key),
            r.answered,
            x0 + wa,
            r.outbound
        );
        let fmt =
            |v: Option<f64>, unit: &str| v.map(|v| format!("{v:.0}{unit}")).unwrap_or("–".into());
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{} · AHT {} · SL {}</text>"#,
            x0 + wa + wo + 6.0,
            top + 12.0,
            r.answered + r.outbound,
            fmt(r.aht_s, "s"),
            fmt(r.service_level, "%")
        );
    }
    s.push_str("</svg>");
    s
}

fn legend(s: &mut String, items: &[(&str, &str)]) {
    let mut x = LEFT;
    let y = HEIGHT - 10.0;
    for (colour, label) in items {
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/><text x="{:.1}" y="{y:.1}">{}</text>"#,
            y - 9.0,
            x + 14.0,
            esc(label)
        );
        x += 30.0 + label.chars().count() as f64 * 6.5;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(3.0), 1.0);
        assert_eq!(nice_step(40.0), 10.0);
        assert_eq!(nice_step(70.0), 20.0);
        assert_eq!(nice_step(230.0), 50.0);
    }
}
