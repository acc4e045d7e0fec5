// The work-order list's filters as the page holds them and as the address
// and the API take them: a number, status, type (form), assignee, team,
// open/finished and overdue. The address keeps them, so a reload or a
// shared link shows the same list.

/** Which orders by where they are in their life. */
export type Stage = "open" | "done" | "all";

/** The filter form. */
export interface OrderFilter {
  number: string;
  status: string;
  form: string;
  assignee: string;
  team: string;
  stage: Stage;
  overdue: boolean;
}

/** The list a page opens with: the open orders. */
export const defaultFilter = (): OrderFilter => ({ number: "", status: "", form: "", assignee: "", team: "", stage: "open", overdue: false });

const TEXT_KEYS = ["number", "status", "form", "assignee", "team"] as const;

/** The filter from the address. */
export function filterFromRoute(q: Record<string, unknown>): OrderFilter {
  const f = defaultFilter();
  for (const k of TEXT_KEYS) if (typeof q[k] === "string") f[k] = q[k] as string;
  if (q.stage === "done" || q.stage === "all") f.stage = q.stage;
  f.overdue = q.overdue === "1";
  return f;
}

/** The address's query of a filter and the open order. */
export function filterToRoute(f: OrderFilter, open: number | null): Record<string, string> {
  const q: Record<string, string> = {};
  for (const k of TEXT_KEYS) if (f[k].trim()) q[k] = f[k].trim();
  if (f.stage !== "open") q.stage = f.stage;
  if (f.overdue) q.overdue = "1";
  if (open !== null) q.id = String(open);
  return q;
}

/** The API's parameters of a filter (and of the page after `after`). */
export function apiParams(f: OrderFilter, after: number | null = null): URLSearchParams {
  const p = new URLSearchParams();
  for (const k of TEXT_KEYS) if (f[k].trim()) p.set(k, k === "number" ? f[k].trim().toUpperCase() : f[k].trim());
  if (f.stage !== "all" && !f.status.trim()) p.set("open", f.stage === "open" ? "true" : "false");
  if (f.overdue) p.set("overdue", "true");
  if (after !== null) p.set("after", String(after));
  return p;
}
