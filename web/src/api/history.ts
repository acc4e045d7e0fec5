// The call history's rows as `GET /api/history` sends them.
import type { NumberInfo } from "./types";

export interface HistoryRow {
  id: number;
  call_uid: string;
  line: string;
  direction: string;
  outcome: string | null;
  presentation: string;
  number: string | null;
  caller_name: string | null;
  customer_id: number | null;
  customer: string | null;
  agent: string | null;
  team: string | null;
  started_at: number;
  answered_at: number | null;
  ended_at: number | null;
  recording_id: number | null;
  work_order_id: number | null;
  work_orders: number;
  /** The caller's 1–5 answer to the satisfaction survey SMS. */
  survey_score: number | null;
  /** Where the number belongs (归属地), when known. */
  info?: NumberInfo | null;
}

export interface HistoryPage {
  calls: HistoryRow[];
  next: string | null;
  can_export: boolean;
}

/** A saved work order (`GET /api/workorders?call_id=`). */
export type { WorkOrder as WorkOrderRow } from "./workorders";
