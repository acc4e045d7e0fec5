// What the agent types into one card: the work-order fields they changed
// (the rest follow the pop's prefill), the new-customer form, and the
// idempotency key of the card's work order (a retry saves it once).
import type { Pop } from "../api/types";

export interface Typing {
  workOrder: Record<string, string>;
  newCustomer: Record<string, string>;
  saveKey: string;
}

/** The values a work order is saved with: typed, else prefilled. */
export function workOrderValues(pop: Pop, typing: Typing): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of pop.form?.fields ?? []) {
    out[f.key] = typing.workOrder[f.key] ?? pop.prefill[f.key] ?? "";
  }
  return out;
}

/** Whether the agent typed anything not yet saved. */
export function hasTyping(typing: Pick<Typing, "workOrder" | "newCustomer"> | undefined): boolean {
  if (!typing) return false;
  return [...Object.values(typing.workOrder), ...Object.values(typing.newCustomer)].some((v) => v !== "");
}
