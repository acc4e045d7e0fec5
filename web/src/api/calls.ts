// Outbound calls and the call-back queue: dial a number (or a queue
// item), end a call, claim and close items. Failures come as ApiFailure
// codes the page words (errors.dial_*, errors.followup_*, errors.line_*).
import { api } from "./http";
import type { DialStarted, FollowUp } from "./types";

/** What to dial: a number as shown, or a queue item (its number stays on the server). */
export type DialTarget = { number: string; line?: string } | { followup_id: number; line?: string };

/** Asks the server to dial; resolves when the line's device was told. */
export function dial(target: DialTarget): Promise<DialStarted> {
  return api<DialStarted>("POST", "/api/calls/dial", target);
}

/** Ends (or cancels while it dials) a call. */
export function hangUp(callId: string): Promise<unknown> {
  return api("POST", `/api/calls/${encodeURIComponent(callId)}/hangup`);
}

/** The user's call-back queue and the server's time. */
export function followUps(): Promise<{ items: FollowUp[]; now: number }> {
  return api<{ items: FollowUp[]; now: number }>("GET", "/api/followups");
}

/** Takes an item; rejects with followup_taken (params.by) when someone was first. */
export function claimFollowUp(id: number): Promise<unknown> {
  return api("POST", `/api/followups/${id}/claim`);
}

/** Reasons an agent may close an item with (the server checks the same list). */
export const CLOSE_REASONS = ["called_back", "resolved", "wrong_number", "no_need", "unreachable"] as const;

/** Closes an item with one of {@link CLOSE_REASONS}. */
export function closeFollowUp(id: number, reason: (typeof CLOSE_REASONS)[number]): Promise<unknown> {
  return api("POST", `/api/followups/${id}/close`, { reason });
}
