// The customer directory as `/api/customers` sends it (src/web/directory.rs).
import { api } from "./http";
import type { FollowUp, Phone, WorkOrderSummary } from "./types";

/** One customer as the directory lists it. */
export interface CustomerRow {
  id: number;
  name: string;
  company: string;
  owner: string | null;
  owner_name: string | null;
  tags: string[];
  phones: Phone[];
  custom_fields: Record<string, unknown>;
  created_at: number;
  updated_at: number;
  last_call_at: number | null;
  deleted_at: number | null;
}

/** A page of a search and the cursor of the next. */
export interface CustomerPage {
  items: CustomerRow[];
  next: string | null;
}

/** A note on a customer (跟进记录). */
export interface Note {
  id: number;
  author: string | null;
  author_name: string | null;
  call_uid: string | null;
  body: string;
  created_at: number;
}

/** A call on the customer's page. */
export interface CustomerCall {
  call_uid: string;
  direction: string;
  outcome: string | null;
  number: string | null;
  agent: string | null;
  started_at: number;
  recording_id: number | null;
}

/** A message sent to or received from one of the customer's numbers. */
export interface CustomerSms {
  direction: "in" | "out";
  id: number;
  number: string;
  text: string;
  at: number;
  /** A sent one's state over its parts; null for a received one. */
  state: "sending" | "sent" | "delivered" | "failed" | "unknown" | null;
  campaign: string | null;
}

/** The customer's page (360°). */
export interface CustomerDetail {
  customer: CustomerRow;
  calls: CustomerCall[];
  work_orders: WorkOrderSummary[];
  notes: Note[];
  /** The customer's call-backs (回访): live ones due first. */
  follow_ups: FollowUp[];
  /** SMS both ways, newest first. */
  sms: CustomerSms[];
}

/** What the edit form saves. */
export interface CustomerEdit {
  name: string;
  company: string;
  phones: { number: string; label?: string | null }[];
  tags: string[];
  /** The custom values, as typed (the server checks them by their definitions). */
  custom_fields: Record<string, unknown>;
}

export const searchCustomers = (params: URLSearchParams) => api<CustomerPage>("GET", `/api/customers?${params}`);
export const customerDetail = (id: number) => api<CustomerDetail>("GET", `/api/customers/${id}`);
export const saveCustomer = (id: number, edit: CustomerEdit) => api<{ customer: CustomerRow }>("PUT", `/api/customers/${id}`, edit);
export const addNote = (id: number, body: string) => api<{ note: Note }>("POST", `/api/customers/${id}/notes`, { body });
export const scheduleCallBack = (id: number, dueAt: number, number: string | null, note: string) =>
  api<{ follow_up: FollowUp }>("POST", `/api/customers/${id}/follow-ups`, { due_at: dueAt, number, note });

/** A merge the customer took part in (合并客户). */
export interface Merge {
  id: number;
  kept_id: number;
  merged_id: number;
  merged_name: string;
  at: number;
  by: string | null;
  undo_until: number;
  undone_at: number | null;
  moved: { calls: number; work_orders: number; notes: number; followups: number };
}

export const mergeCustomer = (id: number, from: number) => api<{ merge: number; customer: CustomerRow }>("POST", `/api/customers/${id}/merge`, { from });
export const customerMerges = (id: number) => api<{ merges: Merge[] }>("GET", `/api/customers/${id}/merges`);
export const undoMerge = (mergeId: number) => api<{ undone: number; customer: number }>("POST", `/api/customers/merges/${mergeId}/undo`);

/** A customer group (客户群) and how many customers within reach are in it. */
export interface Group {
  tag: string;
  count: number;
}

export const customerGroups = () => api<{ groups: Group[] }>("GET", "/api/customer-groups");
export const addToGroup = (tag: string, body: { customers: number[] } | { filter: Record<string, string> }) =>
  api<{ added: number }>("POST", `/api/customer-groups/${encodeURIComponent(tag)}/members`, body);
export const removeFromGroup = (tag: string, customers: number[]) =>
  api<{ removed: number }>("POST", `/api/customer-groups/${encodeURIComponent(tag)}/remove`, { customers });
export const deleteCustomer = (id: number) => api<unknown>("DELETE", `/api/customers/${id}`);
export const restoreCustomer = (id: number) => api<unknown>("POST", `/api/customers/${id}/restore`);

/** One problem with one row of an uploaded sheet: a code the page words. */
export interface RowIssue {
  row: number;
  code: string;
  params: Record<string, unknown>;
}

/** What a check or an import did with a sheet (src/customers/report.rs). */
export interface ImportReport {
  file: string;
  encoding: string;
  columns: { header: string; kind: string }[];
  rows: number;
  /** New customers (in a check: would be). */
  inserted: number;
  /** Rows merged into stored customers (in a check: would be). */
  updated: number;
  unchanged: number;
  error_count: number;
  warning_count: number;
  errors: RowIssue[];
  warnings: RowIssue[];
}

/** An import job as `GET /api/customers/imports/{id}` reports it. */
export interface ImportJob {
  id: string;
  file: string;
  phase: "checking" | "checked" | "importing" | "imported" | "failed";
  total: number;
  done: number;
  report: ImportReport | null;
  error: { code: string; params: Record<string, unknown> } | null;
}

/** Uploads a sheet; the server checks it (nothing is written yet). */
export const startImport = (file: File) =>
  api<{ id: string }>("POST", "/api/customers/import", file, { "X-Filename": encodeURIComponent(file.name) });
export const importJob = (id: string) => api<ImportJob>("GET", `/api/customers/imports/${encodeURIComponent(id)}`);
export const commitImport = (id: string) => api<{ id: string }>("POST", `/api/customers/imports/${encodeURIComponent(id)}/commit`);
export const discardImport = (id: string) => api<void>("DELETE", `/api/customers/imports/${encodeURIComponent(id)}`);

/** The export of what the search finds, in the reader's language. */
export const customerExportHref = (params: URLSearchParams, locale: string) => {
  const p = new URLSearchParams(params);
  p.delete("after");
  p.delete("limit");
  p.set("format", "xlsx");
  if (locale !== "zh-CN") p.set("lang", "en");
  return `/api/customers/export?${p}`;
};
