// Customers' custom fields as `/api/customer-fields` sends them
// (src/domain/custom_fields.rs).
import { api } from "./http";

export type CustomFieldType = "text" | "number" | "date" | "enum" | "phone";

/** One custom field's definition. */
export interface CustomFieldDef {
  key: string;
  label_zh: string;
  label_en: string;
  type: CustomFieldType;
  required: boolean;
  options?: { value: string; label_zh: string; label_en: string }[];
  in_pop: boolean;
  searchable: boolean;
  /** Offered to SMS campaigns: a merge field and a filter. */
  in_sms: boolean;
  /** The birthday (a date field): reminders on the day. */
  birthday: boolean;
}

export const customerFields = () => api<{ fields: CustomFieldDef[] }>("GET", "/api/customer-fields");
export const saveCustomerFields = (fields: CustomFieldDef[]) => api<{ fields: CustomFieldDef[] }>("PUT", "/api/customer-fields", { fields });
