// What a customer campaign may merge and filter on: the customer's name
// and company, and the custom fields an admin offers to SMS; and the
// filter as the API takes it (`field=value`, `field!=value`, `field~part`).
import type { CustomFieldDef } from "../api/customerFields";

/** A field a template may merge or a filter may test. */
export interface SmsField {
  key: string;
  label: string;
  /** A choice field's choices (the filter offers them). */
  options: { value: string; label: string }[];
}

/** The fields of customer campaigns, labelled in the page's language. */
export function smsFields(defs: CustomFieldDef[], locale: string, own: { name: string; company: string }): SmsField[] {
  const zh = locale === "zh-CN";
  return [
    { key: "name", label: own.name, options: [] },
    { key: "company", label: own.company, options: [] },
    ...defs
      .filter((d) => d.in_sms)
      .map((d) => ({
        key: d.key,
        label: zh ? d.label_zh : d.label_en,
        options: (d.options ?? []).map((o) => ({ value: o.value, label: zh ? o.label_zh : o.label_en })),
      })),
  ];
}

export type FilterOp = "=" | "!=" | "~";

/** A filter's parts. */
export interface FilterParts {
  field: string;
  op: FilterOp;
  value: string;
}

/** The filter as the API takes it; "" without a field. */
export function composeFilter(f: FilterParts): string {
  return f.field ? `${f.field}${f.op}${f.value.trim()}` : "";
}

/** A kept filter's parts (the same split as the server's). */
export function parseFilter(text: string): FilterParts {
  const t = text.trim();
  for (const op of ["!=", "=", "~"] as FilterOp[]) {
    const at = t.indexOf(op);
    if (at > 0) return { field: t.slice(0, at).trim(), op, value: t.slice(at + op.length).trim() };
  }
  return { field: "", op: "=", value: "" };
}

/** `template` with `{key}` put in at `at` (the cursor), and where the cursor goes. */
export function insertField(template: string, at: number | null, key: string): { text: string; cursor: number } {
  const pos = at === null || at < 0 || at > template.length ? template.length : at;
  const piece = `{${key}}`;
  return { text: template.slice(0, pos) + piece + template.slice(pos), cursor: pos + piece.length };
}
