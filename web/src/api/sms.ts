// The marketers' API as `/api/sms/*` and `/ws/sms` send it.

export type CampaignState = "draft" | "scheduled" | "running" | "waiting" | "paused" | "cancelled" | "done";

export interface SmsGroup {
  name: string;
  customers: number;
}

export interface Campaign {
  id: number;
  name: string;
  template: string;
  suffix: string;
  state: CampaignState;
  start_at: number | null;
  window_from: string | null;
  window_to: string | null;
  parts: number;
  cost: number;
  created_by_name: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export interface CampaignProgress {
  recipients: number;
  pending: number;
  /** Skipped recipients by reason (invalid, duplicate, opted_out, ...). */
  skipped: Record<string, number>;
  parts: number;
  /** Queued parts by state. */
  states: Record<string, number>;
}

/** One campaign in the live list. */
export interface CampaignItem {
  campaign: Campaign;
  progress: CampaignProgress;
  settled: number;
  rate_per_minute?: number | null;
  eta_secs?: number | null;
}

/** What a new draft holds. */
export interface CreatedDraft {
  id: number;
  recipients: number;
  invalid: number;
  duplicate: number;
  parts: number;
  cost: number;
  fields: string[];
}

export interface PreviewRow {
  number: string;
  text: string | null;
  estimate: { encoding: "gsm7" | "ucs2"; parts: number; carrier: string | null; cost: number } | null;
  skip: string | null;
}

export interface CampaignFailures {
  reasons: [string, number][];
  parts: { number: string; part: number; state: string; reason: string; modem: string | null; updated_at: number }[];
}

/** The new-campaign form, as typed (kept until the campaign starts). */
export interface CampaignFormValues {
  name: string;
  /** A group name, "*" for every customer, or "" (then a sheet). */
  group: string;
  filter: string;
  template: string;
  suffix: string;
  window: string;
  /** "YYYY-MM-DD HH:mm:ss" or "". */
  start_at: string;
}

export const emptyForm = (): CampaignFormValues => ({ name: "", group: "", filter: "", template: "", suffix: "", window: "", start_at: "" });

/** The request body for `POST /api/sms/campaigns` (the sheet's upload token, if any). */
export function campaignBody(f: CampaignFormValues, upload: string | null): Record<string, unknown> {
  const body: Record<string, unknown> = { name: f.name.trim(), template: f.template };
  if (f.suffix.trim()) body.suffix = f.suffix.trim();
  if (f.window.trim()) body.window = f.window.trim();
  if (f.filter.trim()) body.filter = f.filter.trim();
  if (f.start_at) body.start_at = new Date(f.start_at.replace(" ", "T")).getTime();
  if (upload) body.upload = upload;
  else if (f.group === "*") body.all = true;
  else if (f.group) body.group = f.group;
  return body;
}

/** The i18n key of a carrier's configured name ("China Mobile" → carriers.china_mobile). */
export function carrierKey(name: string): string {
  return `carriers.${name.trim().toLowerCase().replace(/[^a-z0-9]+/g, "_")}`;
}
