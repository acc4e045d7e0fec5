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

/** The customer's page (360°). */
export interface CustomerDetail {
  customer: CustomerRow;
  calls: CustomerCall[];
  work_orders: WorkOrderSummary[];
  notes: Note[];
  /** The customer's call-backs (回访): live ones due first. */
  follow_ups: FollowUp[];
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
