// A work order's statuses as its form defines them (the server spells the
// default ones out): their labels in the page's language and the moves an
// order may make from where it is. The server checks the same rules.
import type { StatusDef, WorkOrderForm } from "../api/types";

/** A move the page offers; `reopen` when it takes a finished order back to work (重开). */
export interface Move {
  key: string;
  label: string;
  reopen: boolean;
}

const zh = (locale: string) => locale === "zh-CN";

/** The status `key` of `form`. */
export function statusOf(form: WorkOrderForm | null | undefined, key: string): StatusDef | undefined {
  return form?.statuses?.find((s) => s.key === key);
}

/** A status's label; its key when the form no longer has it. */
export function statusLabel(form: WorkOrderForm | null | undefined, key: string, locale: string): string {
  const s = statusOf(form, key);
  if (!s) return key;
  return zh(locale) ? s.label_zh : s.label_en;
}

/** The moves an order in status `from` may make. */
export function moves(form: WorkOrderForm | null | undefined, from: string, locale: string): Move[] {
  const all = form?.statuses ?? [];
  const current = all.find((s) => s.key === from);
  const targets = current ? all.filter((s) => current.next.includes(s.key)) : all.filter((s) => s.key !== from);
  const finished = current ? !current.open : false;
  return targets.map((s) => ({ key: s.key, label: zh(locale) ? s.label_zh : s.label_en, reopen: finished && s.open }));
}

/** Every status of every form, once each by key (the list's filter). */
export function allStatuses(forms: WorkOrderForm[]): StatusDef[] {
  const seen = new Map<string, StatusDef>();
  for (const f of forms) for (const s of f.statuses ?? []) if (!seen.has(s.key)) seen.set(s.key, s);
  return [...seen.values()];
}

/** A form's name in the page's language. */
export function formName(form: WorkOrderForm | null | undefined, key: string, locale: string): string {
  if (!form) return key;
  return zh(locale) ? form.name_zh : form.name_en;
}

/** A field's value as the form words it (an enum's label). */
export function fieldText(form: WorkOrderForm | null | undefined, key: string, value: unknown, locale: string): string {
  const option = form?.fields.find((f) => f.key === key)?.options?.find((o) => o.value === value);
  if (option) return zh(locale) ? option.label_zh : option.label_en;
  return value == null ? "" : String(value);
}
