// Work orders as `/api/workorders` sends them (src/web/workorders.rs).
import { api } from "./http";
import type { QaForm, QaScore } from "./recordings";
import type { WorkOrderForm } from "./types";

/** One work order as the list and its page show it. */
export interface WorkOrder {
  id: number;
  number: string;
  form: string;
  customer_id: number | null;
  customer_name: string | null;
  call_uid: string | null;
  /** Who saved it. */
  agent: string | null;
  agent_name: string | null;
  status: string;
  is_open: boolean;
  assignee: string | null;
  assignee_name: string | null;
  team: string | null;
  due_at: number | null;
  overdue: boolean;
  closed_at: number | null;
  fields: Record<string, unknown>;
  created_at: number;
  updated_at: number;
}

/** A page of the list and the cursor of the next. */
export interface WorkOrderPage {
  items: WorkOrder[];
  next: number | null;
}

/** One entry of an order's timeline. */
export interface TimelineEntry {
  id: number;
  at: number;
  user: string | null;
  user_name: string | null;
  kind: "created" | "status" | "assigned" | "due" | "comment" | string;
  detail: Record<string, unknown>;
}

/** One order's page. */
export interface WorkOrderDetail {
  work_order: WorkOrder;
  form: WorkOrderForm | null;
  timeline: TimelineEntry[];
  /** Quality checking: its scores, the forms that score work orders, and what the viewer may do. */
  scores: QaScore[];
  qa_forms: QaForm[];
  can_score: boolean;
  can_appeal: boolean;
}

/** Open, due within a day and overdue orders within the viewer's reach. */
export interface WorkOrderCounts {
  open: number;
  due_soon: number;
  overdue: number;
}

/** Who an order can be given to. */
export interface Assignees {
  agents: { username: string; display_name: string; team: string | null }[];
  teams: string[];
}

const path = (id: number, rest = "") => `/api/workorders/${id}${rest}`;
type Changed = { work_order: WorkOrder };

export const searchWorkOrders = (params: URLSearchParams) => api<WorkOrderPage>("GET", `/api/workorders?${params}`);
export const workOrder = (id: number) => api<WorkOrderDetail>("GET", path(id));
export const workOrderCounts = () => api<WorkOrderCounts>("GET", "/api/workorders/summary");
export const assignees = () => api<Assignees>("GET", "/api/workorders/assignees");
export const moveWorkOrder = (id: number, to: string, note: string) => api<Changed>("POST", path(id, "/status"), { to, note });
export const assignWorkOrder = (id: number, to: { agent?: string; team?: string }, note: string) =>
  api<Changed>("POST", path(id, "/assign"), { ...to, note });
export const setWorkOrderDue = (id: number, dueAt: number | null) => api<Changed>("PUT", path(id, "/due"), { due_at: dueAt });
export const commentWorkOrder = (id: number, body: string) => api<Changed>("POST", path(id, "/comments"), { body });
/** The export's address (a download): the list's filters, one form's columns. */
export const exportHref = (params: URLSearchParams, locale: string) => {
  const p = new URLSearchParams(params);
  p.delete("after");
  p.set("format", "xlsx");
  if (locale !== "zh-CN") p.set("lang", "en");
  return `/api/workorders/export?${p}`;
};
export const scoreWorkOrder = (id: number, formId: number, items: Record<string, number>, comment: string) =>
  api<{ score: number }>("POST", path(id, "/scores"), { form_id: formId, items, comment });
export const appealWorkOrderScore = (id: number, scoreId: number, note: string) => api<unknown>("POST", path(id, `/scores/${scoreId}/appeal`), { note });
