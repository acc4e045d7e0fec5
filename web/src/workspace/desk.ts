// The desktop protocol's client side, as a pure state machine: it takes
// the server's messages (and the time) and returns what to do. No socket,
// no timers, no DOM: `connection.ts` does the I/O and the workspace shows
// `cards` and `agent`. See PROTOCOL.md.
import type { AgentState, CrmAnswer, FieldError, Pop } from "../api/types";

/** A server envelope. */
export interface ServerMessage {
  v?: number;
  seq?: number;
  type: string;
  data?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Where a call stands, as its card shows it: an incoming call rings; a
 * call the agent dialled is dialling, then alerting (the far end rings).
 */
export type CardStatus = "ringing" | "dialling" | "alerting" | "answered" | "ended" | "taken";

/** One call on the agent's screen. */
export interface Card {
  callId: string;
  pop: Pop;
  status: CardStatus;
  outcome: string | null;
  /** Why a dialled call failed, in the device's words. */
  reason?: string | null;
  takenBy: string | null;
  /** When the card first appeared (ms). */
  arrivedAt: number;
  /** The work order saved from this card, once saved. */
  savedOrderId: number | null;
  /** Restored from a draft after a reload: the call's later events may be gone. */
  restored: boolean;
}

/** Whether a card is of a call the agent dialled, still under way (it is hung up, not closed). */
export function isLiveOutbound(card: Card): boolean {
  return card.pop.direction === "outbound" && card.status !== "ended";
}

/** What the I/O layer does after a message. */
export type Effect =
  | { kind: "send"; message: Record<string, unknown> }
  | { kind: "reconnect" }
  | { kind: "start_heartbeat"; secs: number }
  | { kind: "alert"; callId: string }
  | { kind: "settle"; id: string; ok: boolean; value: unknown }
  | { kind: "call_ended"; callId: string }
  | { kind: "notice"; source: string; text: string };

/** A command's failure, as `error` carries it. */
export interface CommandError {
  id?: string;
  code: string;
  message?: string;
  fields?: FieldError[];
}

/** The session a page can resume after a drop or a reload. */
export interface Resumable {
  sessionId: string;
  lastSeq: number;
}

export class Desk {
  sessionId: string | null = null;
  lastSeq = 0;
  heartbeatSecs = 15;
  agent: AgentState | null = null;
  /** Cards in the order they came: a new one never moves an older one. */
  cards: Card[] = [];
  /**
   * Between a resume request and its `resumed` (or `snapshot`): messages
   * of the connection's own new session and the replay arrive mixed, so
   * none moves `lastSeq` or is acknowledged; the `resumed` sets the seq.
   */
  resuming = false;

  constructor(
    public readonly userId: number,
    resume: Resumable | null = null,
  ) {
    if (resume) {
      this.sessionId = resume.sessionId;
      this.lastSeq = resume.lastSeq;
    }
  }

  /** The card of a call, if shown. */
  card(callId: string): Card | undefined {
    return this.cards.find((c) => c.callId === callId);
  }

  /** Handles one server message at time `now` (ms). */
  receive(m: ServerMessage, now: number): Effect[] {
    if (m.type === "heartbeat") {
      // A heartbeat carries the latest seq: a higher one means a gap.
      return !this.resuming && (m.seq ?? 0) > this.lastSeq ? [{ kind: "reconnect" }] : [];
    }
    if (m.type === "hello") {
      this.heartbeatSecs = m.data?.heartbeat_secs ?? this.heartbeatSecs;
      const effects: Effect[] = [{ kind: "start_heartbeat", secs: this.heartbeatSecs }];
      if (this.sessionId) {
        this.resuming = true;
        effects.push({ kind: "send", message: { type: "resume", data: { session_id: this.sessionId, last_seq: this.lastSeq } } });
      } else {
        this.sessionId = m.data?.session_id ?? null;
        this.lastSeq = m.seq ?? 0;
      }
      return effects;
    }
    const seq = m.seq ?? 0;
    const ending = m.type === "snapshot" || m.type === "resumed";
    if (!this.resuming && !ending && seq && seq <= this.lastSeq) return [];
    if (!this.resuming && seq) this.lastSeq = Math.max(this.lastSeq, seq);
    const d = m.data ?? {};
    switch (m.type) {
      case "resumed":
        this.resuming = false;
        this.sessionId = d.session_id ?? this.sessionId;
        if (seq) this.lastSeq = seq;
        return [];
      case "snapshot": {
        this.resuming = false;
        this.sessionId = d.session_id ?? this.sessionId;
        if (seq) this.lastSeq = seq;
        if (d.agent) this.agent = d.agent;
        const effects: Effect[] = [];
        for (const pop of (d.pops ?? []) as Pop[]) {
          const fresh = this.showPop(pop, now);
          if (fresh && !pop.acked) effects.push({ kind: "alert", callId: pop.call_id });
        }
        return effects;
      }
      case "agent.state":
        if (d.user_id === this.userId) this.agent = d;
        return [];
      case "call.ringing": {
        const fresh = this.showPop(d as Pop, now);
        const effects: Effect[] = this.resuming ? [] : [{ kind: "send", message: { type: "ack", data: { seq } } }];
        // A call the agent dialled pops without ringing at them.
        if (fresh && d.direction !== "outbound") effects.push({ kind: "alert", callId: d.call_id });
        return effects;
      }
      case "call.alerting":
        this.update(d.call_id, (c) => {
          if (c.status === "dialling") c.status = "alerting";
        });
        return [];
      case "call.crm": {
        const answer = d.crm as CrmAnswer;
        this.update(d.call_id, (c) => {
          const others = (c.pop.crm ?? []).filter((a) => a.connector !== answer.connector);
          c.pop = { ...c.pop, crm: [...others, answer] };
        });
        return [];
      }
      case "call.caller_name":
        this.update(d.call_id, (c) => (c.pop = { ...c.pop, caller_name: d.name }));
        return [];
      case "call.answered":
        this.update(d.call_id, (c) => {
          if (c.status === "ringing" || c.status === "dialling" || c.status === "alerting") c.status = "answered";
        });
        return [];
      case "call.closed":
        this.update(d.call_id, (c) => {
          c.status = "taken";
          c.takenBy = d.by ?? null;
        });
        return [];
      case "call.ended":
        this.update(d.call_id, (c) => {
          if (c.status !== "taken") c.status = "ended";
          c.outcome = d.outcome ?? "unknown";
          c.reason = d.reason ?? null;
        });
        return [{ kind: "call_ended", callId: d.call_id }];
      case "result":
        return [{ kind: "settle", id: d.id, ok: true, value: d.result }];
      case "error":
        return d.id
          ? [{ kind: "settle", id: d.id, ok: false, value: d as CommandError }]
          : [{ kind: "notice", source: "server", text: d.code ?? "unknown" }];
      case "alarm":
        return [{ kind: "notice", source: d.source ?? "", text: d.message ?? "" }];
      default:
        return []; // types this client does not know are ignored
    }
  }

  /**
   * Shows a pop: a new card at the end, or, for a call already shown (a
   * replay, a snapshot, `customer.select`), an update of its card that
   * keeps its place and status. Returns whether the card is new.
   */
  showPop(pop: Pop, now: number): boolean {
    const existing = this.card(pop.call_id);
    if (existing) {
      existing.pop = pop;
      existing.restored = false;
      return false;
    }
    this.cards.push({
      callId: pop.call_id,
      pop,
      status: pop.direction === "outbound" ? "dialling" : "ringing",
      outcome: null,
      takenBy: null,
      arrivedAt: now,
      savedOrderId: null,
      restored: false,
    });
    return true;
  }

  /**
   * Puts back a card kept in local storage (after a reload), unless shown
   * already; `unsavedTyping` marks it as restored from a draft.
   */
  restore(card: Card, unsavedTyping = false): void {
    if (!this.card(card.callId)) this.cards.push({ ...card, restored: unsavedTyping });
  }

  /** Marks a card's work order saved. */
  saved(callId: string, orderId: number): void {
    this.update(callId, (c) => (c.savedOrderId = orderId));
  }

  /** Whether the card is of a call the agent dialled, still under way. */
  isLiveOutbound(callId: string): boolean {
    const c = this.card(callId);
    return !!c && isLiveOutbound(c);
  }

  /** Takes a card off the screen. */
  close(callId: string): void {
    this.cards = this.cards.filter((c) => c.callId !== callId);
  }

  /** What a page needs to resume this session after a reload. */
  resumable(): Resumable | null {
    return this.sessionId ? { sessionId: this.sessionId, lastSeq: this.lastSeq } : null;
  }

  /** Forgets the session (it ended, or the server cannot resume it). */
  forgetSession(): void {
    this.sessionId = null;
    this.lastSeq = 0;
  }

  private update(callId: string, f: (c: Card) => void): void {
    const card = this.card(callId);
    if (card) f(card);
  }
}
