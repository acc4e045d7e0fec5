// The statistics page's two charts as ECharts options, from a report and
// the page's words: inbound calls per interval (stacked by outcome, with
// the service level on the right axis) and the totals per key.
import type { Report } from "../api/reports";

/** Outcome colours, the same on both charts. */
const COLOURS = { answered: "#2f855a", missed: "#dd6b20", abandoned: "#c53030", unknown: "#a0aec0", level: "#2b6cb0" };
const OUTCOMES = ["answered", "missed", "abandoned", "unknown"] as const;

/** What the charts call things, in the page's language. */
export interface ChartWords {
  outcome(o: (typeof OUTCOMES)[number]): string;
  serviceLevel: string;
  /** An interval's label from its start. */
  interval(start: number): string;
  /** A row key's label (an agent's display name). */
  key(key: string): string;
}

interface Sums {
  answered: number;
  missed: number;
  abandoned: number;
  unknown: number;
  within: number;
}

/** Every key's rows of an interval added up, by interval start. */
export function byInterval(report: Report): [number, Sums][] {
  const sums = new Map<number, Sums>();
  for (const r of report.rows) {
    const s = sums.get(r.start) ?? { answered: 0, missed: 0, abandoned: 0, unknown: 0, within: 0 };
    s.answered += r.answered;
    s.missed += r.missed;
    s.abandoned += r.abandoned;
    s.unknown += r.unknown;
    s.within += r.answered_within_sl;
    sums.set(r.start, s);
  }
  return [...sums.entries()].sort((a, b) => a[0] - b[0]);
}

const base = { animation: false, tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 40, right: 48, top: 56, bottom: 32 } };

/** Inbound calls per interval, stacked by outcome; the service level as a line. */
export function volumeOption(report: Report, w: ChartWords) {
  const intervals = byInterval(report);
  const level = intervals.map(([, s]) => {
    const judged = s.answered + s.missed + s.abandoned;
    return judged ? Math.round((1000 * s.within) / judged) / 10 : null;
  });
  return {
    ...base,
    xAxis: { type: "category", data: intervals.map(([start]) => w.interval(start)) },
    yAxis: [
      { type: "value", minInterval: 1 },
      { type: "value", min: 0, max: 100, splitLine: { show: false }, axisLabel: { formatter: "{value}%" } },
    ],
    series: [
      ...OUTCOMES.map((o) => ({
        name: w.outcome(o),
        type: "bar",
        stack: "calls",
        barMaxWidth: 48,
        itemStyle: { color: COLOURS[o] },
        data: intervals.map(([, s]) => s[o]),
      })),
      { name: w.serviceLevel, type: "line", yAxisIndex: 1, itemStyle: { color: COLOURS.level }, data: level, connectNulls: true },
    ],
  };
}

/** One group of bars per key over the whole range. */
export function totalsOption(report: Report, w: ChartWords) {
  return {
    ...base,
    xAxis: { type: "category", data: report.totals.map((r) => w.key(r.key)) },
    yAxis: { type: "value", minInterval: 1 },
    series: OUTCOMES.slice(0, 3).map((o) => ({
      name: w.outcome(o),
      type: "bar",
      barMaxWidth: 32,
      itemStyle: { color: COLOURS[o] },
      data: report.totals.map((r) => r[o]),
    })),
  };
}
