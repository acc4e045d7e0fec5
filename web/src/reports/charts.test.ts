import { describe, expect, it } from "vitest";
import type { Report, ReportRow } from "../api/reports";
import { byInterval, totalsOption, volumeOption, type ChartWords } from "./charts";

const row = (start: number, key: string, answered: number, missed: number, within: number): ReportRow => ({
  start, key, offered: answered + missed, answered, missed, abandoned: 0, unknown: 0, outbound: 0, work_orders: 0,
  answered_within_sl: within, asa_s: null, aht_s: null, att_s: null, service_level: null, abandon_rate: null, state_ms: {},
  rejected: 0, blacklisted: 0, callbacks_needed: 0, callbacks_made: 0, callback_rate: null, time_to_callback_s: null,
  surveys: 0, satisfaction: null,
});

const report: Report = {
  group: "agents", period: "60m", from: 0, to: 7_200_000, utc_offset: "+08:00", service_level_secs: 20,
  rows: [row(3_600_000, "a1", 1, 1, 1), row(0, "a1", 2, 0, 1), row(0, "a2", 1, 0, 1)],
  totals: [row(0, "a1", 3, 1, 2), row(0, "a2", 1, 0, 1)],
  formulas: [], names: { a1: "张三" },
};

const words: ChartWords = {
  outcome: (o) => `o:${o}`, serviceLevel: "sl",
  interval: (s) => `t${s / 3_600_000}`, key: (k) => report.names?.[k] ?? k,
};

describe("report charts", () => {
  it("adds every key's rows of an interval up, in time order", () => {
    expect(byInterval(report).map(([s, v]) => [s, v.answered, v.missed, v.within])).toEqual([
      [0, 3, 0, 2],
      [3_600_000, 1, 1, 1],
    ]);
  });

  it("draws the volume with the page's words and the service level per interval", () => {
    const o = volumeOption(report, words);
    expect(o.xAxis.data).toEqual(["t0", "t1"]);
    expect(o.series.map((s) => s.name)).toEqual(["o:answered", "o:missed", "o:abandoned", "o:unknown", "sl"]);
    expect(o.series[4].data).toEqual([66.7, 50]);
  });

  it("labels the totals by display name", () => {
    const o = totalsOption(report, words);
    expect(o.xAxis.data).toEqual(["张三", "a2"]);
    expect(o.series[0].data).toEqual([3, 1]);
  });
});
