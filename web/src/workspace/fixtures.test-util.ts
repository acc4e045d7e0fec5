// A pop as the server sends one, for the workspace's tests.
import type { Pop } from "../api/types";

/** An unknown caller's pop on box1/1, with `extra` over it. */
export function samplePop(callId: string, extra: Partial<Pop> = {}): Pop {
  return {
    call_id: callId,
    line: "box1/1",
    direction: "inbound",
    number: "13800138000",
    normalized: "+8613800138000",
    presentation: "available",
    caller_name: null,
    match: "none",
    customers: [],
    recent_calls: [],
    open_work_orders: [],
    form: null,
    prefill: {},
    team: null,
    ...extra,
  };
}
