// The wallboard's picture as the server sends it (`wallboard`), and how a
// `wallboard.delta` changes it: replaced values first, then the changed
// entries of the keyed collections, then the keys removed from them.

/** An agent as the wallboard shows them. */
export interface BoardAgent {
  user_id: number;
  username: string;
  display_name: string | null;
  team: string | null;
  state: "ready" | "not_ready" | "on_call" | "after_call_work" | "offline";
  reason: string | null;
  /** ms since the epoch, on the server's clock. */
  since: number;
  until: number | null;
}

/** A line: idle, ringing or talking, since when, with whose call. */
export interface BoardLine {
  state: "idle" | "ringing" | "dialling" | "talking";
  since: number;
  call_id: string | null;
  number: string | null;
}

/** A device: up or down (with why), since when. */
export interface BoardDevice {
  up: boolean;
  reason: string | null;
  since: number;
}

/** A call ringing now. */
export interface BoardRinging {
  line: string;
  call_id: string | null;
  number: string | null;
  since: number;
}

/** Today's finished calls by outcome. */
export interface BoardToday {
  day_start: number;
  offered: number;
  answered: number;
  missed: number;
  abandoned: number;
  unknown: number;
  outbound: number;
}

/** The whole picture of the viewer's scope. */
export interface Picture {
  /** The server's clock when the picture was made. */
  now: number;
  lines: Record<string, BoardLine>;
  devices: Record<string, BoardDevice>;
  agents: Record<string, BoardAgent>;
  ringing: Record<string, BoardRinging>;
  today: BoardToday;
  abandon_rate: number | null;
}

/** What changed since the last frame. */
export interface Delta {
  replace?: Partial<Picture>;
  changed?: Partial<Record<KeyedKey, Record<string, unknown>>>;
  removed?: Partial<Record<KeyedKey, string[]>>;
}

type KeyedKey = "lines" | "devices" | "agents" | "ringing";

/** The picture after `delta` (a new object; `p` is left as it was). */
export function applyDelta(p: Picture, delta: Delta): Picture {
  const next = { ...p, ...(delta.replace ?? {}) } as Picture;
  const keyed = next as unknown as Record<KeyedKey, Record<string, unknown>>;
  for (const [key, entries] of Object.entries(delta.changed ?? {}) as [KeyedKey, Record<string, unknown>][]) {
    keyed[key] = { ...keyed[key], ...entries };
  }
  for (const [key, gone] of Object.entries(delta.removed ?? {}) as [KeyedKey, string[]][]) {
    const left = { ...keyed[key] };
    for (const k of gone) delete left[k];
    keyed[key] = left;
  }
  return next;
}

/** Seconds from `since` (server clock) to now, given the clock skew. */
export function secondsSince(since: number, nowMs: number, skewMs: number): number {
  return Math.max(0, Math.floor((nowMs - skewMs - since) / 1000));
}
