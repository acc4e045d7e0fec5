// The statistics page's query: kept in the address (a reload or a shared
// link shows the same report), turned into the API's parameters.
import type { ReportGroup, ReportPeriod } from "../api/reports";
import { dayStart, isoDay } from "../dates";

export const GROUPS: ReportGroup[] = ["calls", "agents", "teams", "lines"];
export const PERIODS: ReportPeriod[] = ["15m", "30m", "60m", "day", "week", "month", "total"];

export interface ReportQuery {
  group: ReportGroup;
  period: ReportPeriod;
  /** First and last day shown, "YYYY-MM-DD", both included. */
  from: string;
  to: string;
  /** Service-level threshold in seconds; "" for the configured one. */
  sl: string;
}

const pick = <T extends string>(v: unknown, allowed: readonly T[], fallback: T): T =>
  typeof v === "string" && (allowed as readonly string[]).includes(v) ? (v as T) : fallback;
const day = (v: unknown, fallback: string) => (typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v) ? v : fallback);

/** The query in the address, with today's agents per day where it says nothing. */
export function queryFromRoute(q: Record<string, unknown>, today: Date): ReportQuery {
  const t = isoDay(today);
  const from = day(q.from, t);
  const to = day(q.to, from > t ? from : t);
  return {
    group: pick(q.group, GROUPS, "agents"),
    period: pick(q.period, PERIODS, "day"),
    from: from <= to ? from : to,
    to: from <= to ? to : from,
    sl: typeof q.sl === "string" && /^\d{1,4}$/.test(q.sl) ? q.sl : "",
  };
}

/** The query for the address bar. */
export function queryToRoute(q: ReportQuery): Record<string, string> {
  const r: Record<string, string> = { group: q.group, period: q.period, from: q.from, to: q.to };
  if (q.sl) r.sl = q.sl;
  return r;
}

/** The API's parameters: local midnights of the first day and of the day after the last. */
export function apiParams(q: ReportQuery): URLSearchParams {
  const p = new URLSearchParams({ from: String(dayStart(q.from)), to: String(dayStart(q.to, true)), period: q.period });
  if (q.sl) p.set("sl", q.sl);
  return p;
}
