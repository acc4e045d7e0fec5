// What the server sends, as the pages use it (see PROTOCOL.md and the
// REST handlers in src/web/). Fields the server adds later are ignored.

/** A role, as the server names it. */
export type Role = "agent" | "team_lead" | "qa" | "marketer" | "admin";

/** A page of the app; the server says which ones a role may open. */
export type PageKey =
  | "workspace"
  | "customers"
  | "workorders"
  | "history"
  | "recordings"
  | "reports"
  | "wallboard"
  | "sms"
  | "admin";

/** The logged-in user (`GET /api/me`, `POST /api/login`). */
export interface Me {
  id: number;
  username: string;
  display_name: string;
  role: Role;
  team: string | null;
  pages: PageKey[];
  csrf_token?: string;
  /** Whether a line dials out for this user (click-to-dial is offered). */
  can_dial?: boolean;
}

/** An agent's state (`agent.state`). */
export interface AgentState {
  user_id: number;
  username?: string;
  display_name?: string;
  team?: string | null;
  state: "ready" | "not_ready" | "on_call" | "after_call_work" | "offline";
  reason: string | null;
  since: number;
  /** When after-call work ends by itself (ms since the epoch). */
  until?: number | null;
}

export interface Phone {
  raw: string;
  e164: string | null;
  national: string | null;
  extension: string | null;
  kind: string;
  label: string | null;
}

export interface Customer {
  id: number;
  name: string;
  company: string | null;
  owner: number | null;
  tags: string[];
  custom_fields: Record<string, unknown>;
  phones: Phone[];
}

export interface RecentCall {
  call_uid: string;
  line: string;
  outcome: string | null;
  started_at: number;
}

export interface WorkOrderSummary {
  id: number;
  /** Its number, read out to customers (`GD-20261203-0042`). */
  number: string;
  form: string;
  status: string;
  is_open: boolean;
  fields: Record<string, string>;
  created_at: number;
}

export interface FormOption {
  value: string;
  label_zh: string;
  label_en: string;
}

export interface FormField {
  key: string;
  label_zh: string;
  label_en: string;
  type: "text" | "textarea" | "enum" | "number" | "date" | "phone" | string;
  required: boolean;
  options?: FormOption[];
  prefill_from?: string | null;
}

/** One status a form's work orders move through. */
export interface StatusDef {
  key: string;
  label_zh: string;
  label_en: string;
  /** Still to be worked on (listed on the pop, counted as due). */
  open: boolean;
  /** The statuses it may move to. */
  next: string[];
}

export interface WorkOrderForm {
  key: string;
  name_zh: string;
  name_en: string;
  fields: FormField[];
  /** Spelled out by the server (the default ones when the form names none). */
  statuses?: StatusDef[];
}

/** A pop (`call.ringing`, a snapshot's pops, `customer.select`'s result). */
export interface Pop {
  call_id: string;
  line: string;
  direction: string;
  number: string | null;
  normalized: string | null;
  presentation: "available" | "private" | "unavailable" | string;
  caller_name: string | null;
  match: "none" | "one" | "many";
  customers: Customer[];
  recent_calls: RecentCall[];
  open_work_orders: WorkOrderSummary[];
  form: WorkOrderForm | null;
  prefill: Record<string, string>;
  team: string | null;
  info?: NumberInfo | null;
  /** Why the caller is on the inbound blacklist. */
  blocked?: string | null;
  acked?: boolean;
  /** What the center's own CRMs know of the caller (`call.crm`), one per connector. */
  crm?: CrmAnswer[];
}

/** One CRM connector's answer about a caller: the contact, or null when the CRM does not know the number. */
export interface CrmAnswer {
  connector: string;
  contact: {
    id: string;
    name: string | null;
    company: string | null;
    owner: string | null;
    link: string | null;
  } | null;
}

/** A field's error from `workorder.save`. */
export interface FieldError {
  field: string;
  code: string;
  message_zh: string;
  message_en: string;
}

/** Where a number belongs and its carrier (归属地), from the server's number data. */
export interface NumberInfo {
  place: { province: string; city: string; area_code: string | null; province_en: string; city_en: string } | null;
  carrier: string | null;
  carrier_en: string | null;
}

/** A dial under way (`POST /api/calls/dial`). */
export interface DialStarted {
  call_id: string;
  line: string;
  digits: string;
  extension: string | null;
}

/** An item of the call-back queue (`GET /api/followups`). */
export interface FollowUp {
  id: number;
  kind: "missed" | "scheduled";
  number_national: string;
  number: string;
  customer_id: number | null;
  customer_name: string | null;
  line: string | null;
  calls: number;
  last_call_uid: string | null;
  created_at: number;
  last_at: number;
  due_at: number;
  state: "open" | "claimed" | "called" | "closed";
  assigned_to: number | null;
  claimed_by: number | null;
  claimed_by_name: string | null;
  attempts: number;
  callback_outcome: string | null;
  called_at: number | null;
  closed_at: number | null;
  close_reason: string | null;
  closed_by_name: string | null;
  /** What a call-back scheduled by hand is about. */
  note?: string | null;
  info?: NumberInfo | null;
}

