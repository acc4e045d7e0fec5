// The customer search as the page holds it and as the address and the API
// take it: one box that is a number fragment when it is digits (spaces,
// dashes, a leading + allowed) and the start of a name otherwise, plus the
// company, group and owner filters, and a searchable custom field's value.

/** The search form. */
export interface CustomerSearch {
  text: string;
  company: string;
  tag: string;
  owner: string;
  /** A searchable custom field (its key) and the start of its value. */
  field: string;
  value: string;
  /** The deleted customers instead (admins restore them). */
  deleted: boolean;
}

export const emptySearch = (): CustomerSearch => ({ text: "", company: "", tag: "", owner: "", field: "", value: "", deleted: false });

/** Whether the box holds a number (fragment) rather than a name. */
export function isNumberText(text: string): boolean {
  const t = text.trim();
  return t.length > 0 && /^\+?[\d\s\-()]+$/.test(t);
}

/** The API's parameters of a search (and of the page after `after`). */
export function apiParams(s: CustomerSearch, after: string | null = null): URLSearchParams {
  const p = new URLSearchParams();
  const text = s.text.trim();
  if (text) p.set(isNumberText(text) ? "number" : "name", text);
  if (s.company.trim()) p.set("company", s.company.trim());
  if (s.tag.trim()) p.set("tag", s.tag.trim());
  if (s.owner.trim()) p.set("owner", s.owner.trim());
  if (s.field && s.value.trim()) {
    p.set("field", s.field);
    p.set("value", s.value.trim());
  }
  if (s.deleted) p.set("deleted", "true");
  if (after) p.set("after", after);
  return p;
}

/** The search from the address (so a reload keeps it). */
export function searchFromRoute(q: Record<string, unknown>): CustomerSearch {
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  return { text: str(q.q), company: str(q.company), tag: str(q.tag), owner: str(q.owner), field: str(q.field), value: str(q.value), deleted: q.deleted === "1" };
}

/** The address's query of a search and the open customer. */
export function searchToRoute(s: CustomerSearch, open: number | null): Record<string, string> {
  const q: Record<string, string> = {};
  if (s.text.trim()) q.q = s.text.trim();
  if (s.company.trim()) q.company = s.company.trim();
  if (s.tag.trim()) q.tag = s.tag.trim();
  if (s.owner.trim()) q.owner = s.owner.trim();
  if (s.field && s.value.trim()) {
    q.field = s.field;
    q.value = s.value.trim();
  }
  if (s.deleted) q.deleted = "1";
  if (open !== null) q.id = String(open);
  return q;
}
