// What the agent typed into a card, kept in local storage on every
// keystroke until the work order is saved or the card dismissed: a call
// event, a reconnect, a new pop or a reload never loses it.
import type { Card } from "./desk";

/** A card's typing: the work-order fields and the new-customer form. */
export interface Draft {
  card: Card;
  workOrder: Record<string, string>;
  newCustomer: Record<string, string>;
  /** The work order's idempotency key: saving after a reload stores it once. */
  saveKey: string;
  updatedAt: number;
}

/** Drafts older than this are dropped when the workspace starts. */
export const DRAFT_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

/** The drafts of one user, in a Storage (localStorage in the page). */
export class Drafts {
  constructor(
    private readonly storage: Storage,
    private readonly userId: number,
  ) {}

  private prefix(): string {
    return `callpop.draft.${this.userId}.`;
  }

  /** Keeps (or replaces) the draft of a call. */
  put(draft: Draft): void {
    try {
      this.storage.setItem(this.prefix() + draft.card.callId, JSON.stringify(draft));
    } catch {
      // A full storage keeps the previous draft; the card still holds the text.
    }
  }

  /** The draft of a call, if one is kept. */
  get(callId: string): Draft | null {
    const text = this.storage.getItem(this.prefix() + callId);
    if (!text) return null;
    try {
      return JSON.parse(text) as Draft;
    } catch {
      return null;
    }
  }

  /** Forgets a call's draft (saved, or dismissed by the agent). */
  drop(callId: string): void {
    this.storage.removeItem(this.prefix() + callId);
  }

  /** Every kept draft, oldest first; drops those past `DRAFT_MAX_AGE_MS`. */
  all(now: number): Draft[] {
    const out: Draft[] = [];
    const stale: string[] = [];
    for (let i = 0; i < this.storage.length; i++) {
      const key = this.storage.key(i);
      if (!key || !key.startsWith(this.prefix())) continue;
      const draft = this.get(key.slice(this.prefix().length));
      if (!draft || now - draft.updatedAt > DRAFT_MAX_AGE_MS) stale.push(key);
      else out.push(draft);
    }
    stale.forEach((k) => this.storage.removeItem(k));
    return out.sort((a, b) => a.card.arrivedAt - b.card.arrivedAt);
  }
}
