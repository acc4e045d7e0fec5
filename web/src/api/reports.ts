// A report as `GET /api/reports/{group}` sends it.

export type ReportGroup = "calls" | "agents" | "teams" | "lines";
export type ReportPeriod = "15m" | "30m" | "60m" | "day" | "week" | "month" | "total";

/** One interval of one key (an agent, team, line or the whole center). */
export interface ReportRow {
  start: number;
  key: string;
  offered: number;
  answered: number;
  missed: number;
  abandoned: number;
  unknown: number;
  outbound: number;
  work_orders: number;
  answered_within_sl: number;
  asa_s: number | null;
  aht_s: number | null;
  att_s: number | null;
  service_level: number | null;
  abandon_rate: number | null;
  /** Inbound calls the device refused: the caller is blacklisted (not offered). */
  rejected: number;
  /** Inbound calls from blacklisted callers, refused or popped marked. */
  blacklisted: number;
  /** Missed-call items needing a call-back, and those called back. */
  callbacks_needed: number;
  callbacks_made: number;
  callback_rate: number | null;
  time_to_callback_s: number | null;
  /** Calls rated by SMS survey, and their average score (1–5). */
  surveys: number;
  satisfaction: number | null;
  state_ms: Record<string, number>;
}

/** A figure's formula, in both languages. */
export interface ReportFormula {
  name: string;
  zh: string;
  en: string;
}

export interface Report {
  group: ReportGroup;
  period: ReportPeriod;
  from: number;
  to: number;
  utc_offset: string;
  service_level_secs: number;
  rows: ReportRow[];
  totals: ReportRow[];
  formulas: ReportFormula[];
  /** Display names by key (agents), where they differ from the key. */
  names?: Record<string, string>;
}
