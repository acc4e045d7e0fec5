// The history's filters as they live in the page's address (so a reload,
// a shared link or the back button keeps them) and as the API takes them.

/** The filters a user sets on the call history. */
export interface HistoryFilters {
  from: string; // YYYY-MM-DD, the first day
  to: string; // YYYY-MM-DD, the last day (inclusive)
  line: string;
  agent: string;
  team: string;
  number: string;
  customer_id: string;
  direction: string;
  outcome: string;
}

export const FILTER_KEYS: (keyof HistoryFilters)[] = ["from", "to", "line", "agent", "team", "number", "customer_id", "direction", "outcome"];

/** Filters read from a route's query (unknown keys ignored). */
export function filtersFromQuery(query: Record<string, unknown>): HistoryFilters {
  const f = Object.fromEntries(FILTER_KEYS.map((k) => [k, typeof query[k] === "string" ? (query[k] as string) : ""]));
  return f as unknown as HistoryFilters;
}

/** The filters that are set, for the page's address. */
export function filtersToQuery(f: HistoryFilters): Record<string, string> {
  return Object.fromEntries(FILTER_KEYS.filter((k) => f[k].trim() !== "").map((k) => [k, f[k].trim()]));
}

/** Midnight of a `YYYY-MM-DD` day in the browser's time zone, in ms. */
function dayStart(day: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime();
}

/** The API's query string for these filters (days become a half-open range of ms). */
export function apiQuery(f: HistoryFilters, after?: string | null): URLSearchParams {
  const q = new URLSearchParams();
  const from = dayStart(f.from);
  const toDay = dayStart(f.to);
  if (from !== null) q.set("from", String(from));
  if (toDay !== null) {
    const end = new Date(toDay);
    end.setDate(end.getDate() + 1);
    q.set("to", String(end.getTime()));
  }
  for (const k of ["line", "agent", "team", "number", "customer_id", "direction", "outcome"] as const) {
    if (f[k].trim()) q.set(k, f[k].trim());
  }
  if (after) q.set("after", after);
  return q;
}

/** "0:42" for a span of ms; "" when unknown. */
export function span(ms: number | null): string {
  if (ms === null || ms < 0) return "";
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
