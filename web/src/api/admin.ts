// What the admin console reads and writes.
import type { Role } from "./types";

export interface AdminUser {
  id: number;
  username: string;
  display_name: string;
  role: Role;
  team: string | null;
  disabled: boolean;
  permissions: string[];
}

/** A team's lines for outbound calls, in the order they are tried. */
export interface DialPool {
  team: string;
  lines: string[];
}

export interface Binding {
  line: string;
  agent?: string;
  team?: string;
}

export interface FieldDef {
  key: string;
  label_zh: string;
  label_en: string;
  type: "text" | "textarea" | "number" | "enum" | "date" | "phone";
  required: boolean;
  default?: string;
  options?: { value: string; label_zh: string; label_en: string }[];
  prefill_from?: string;
  /** A date field that is the follow-up date: saving schedules a call-back. */
  follow_up?: boolean;
}

export interface FormDef {
  key: string;
  name_zh: string;
  name_en: string;
  fields: FieldDef[];
}

export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  target: string | null;
  detail: unknown;
  remote_addr: string | null;
}

export const ROLES: Role[] = ["agent", "team_lead", "qa", "marketer", "admin"];
export const FIELD_TYPES: FieldDef["type"][] = ["text", "textarea", "number", "enum", "date", "phone"];

/** A configured device as `GET /api/devices` lists it. */
export interface DeviceStatus {
  name: string;
  profile: string;
  kind: DeviceKind;
  port: { kind: "path" | "usb_serial"; value: string } | { kind: "audio" };
  lines: string[];
  /** null until the driver first reports. */
  up: boolean | null;
  error: string | null;
  restartable: boolean;
  usb: { id: string | null; serial_number: string | null; manufacturer: string | null; product: string | null } | null;
}

export type DeviceKind = "voice-modem" | "fsk-module" | "text-box" | "gsm-modem" | "audio-box";

/** A firmware profile as `GET /api/profiles` lists it. */
export interface ProfileSummary {
  name: string;
  kind: DeviceKind;
  description: string;
  description_zh: string;
  origin: string;
  embedded: boolean;
  usb: string[];
  used_by: string[];
}

/** What checking a profile file found. */
export type ProfileCheck =
  | { valid: true; name: string; kind: DeviceKind; init_steps: number; grammar_rules: number }
  | { valid: false; line: number | null; message: string };

/** A sender's monthly SMS quota and use. */
export interface QuotaRow {
  username: string;
  display_name: string;
  role: Role;
  /** Their own quota; null: the default. */
  quota: number | null;
  used: number;
}

export interface BlacklistRow {
  e164: string;
  note: string;
  created_by: string | null;
  created_at: number;
}

export interface OptOutRow {
  e164: string;
  keyword: string | null;
  created_at: number;
}

/** A part whose fate is unknown, to settle by hand. */
export interface UnknownPart {
  id: number;
  to_number: string;
  seq: number;
  parts: number;
  campaign_id: number | null;
  modem: string | null;
  error: string | null;
  updated_at: number;
}
