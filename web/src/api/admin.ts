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
