// The desktop socket: connects, feeds the Desk, carries out its effects,
// reconnects with backoff and resumes. Commands are promises settled by
// the server's `result` or `error` (or a timeout).
import { getCsrfToken } from "../api/http";
import { reconnectDelay } from "../api/feed";
import type { CommandError, Desk, Effect } from "./desk";

/** How the connection stands, for the toolbar. */
export type ConnState = "connecting" | "connected" | "reconnecting" | "restarting";

export interface ConnectionHooks {
  /** The connection's state changed. */
  onState(state: ConnState): void;
  /** A new pop to alert the agent to. */
  onAlert(callId: string): void;
  /** A call ended (the missed-call list may change). */
  onCallEnded(callId: string): void;
  /** The server ended this login (4003): show the login. */
  onSessionEnded(): void;
  /** Something to tell a person (alarms, refused messages). */
  onNotice(source: string, text: string): void;
  /** The desk changed its session or position (for a resume after reload). */
  onProgress(): void;
}

/** How long a command may wait for its answer. */
const COMMAND_TIMEOUT_MS = 15_000;

export class DeskConnection {
  private ws: WebSocket | null = null;
  private heartbeat: number | undefined;
  private retry: number | undefined;
  private attempts = 0;
  private stopped = false;
  private pending = new Map<string, { resolve(v: unknown): void; reject(e: CommandError): void; timer: number }>();

  /**
   * `url` gives the address of each (re)connection: by default callpop's
   * own `/ws` with the session's CSRF token; `callpop.js` opens it with a
   * fresh ticket each time.
   */
  constructor(
    private readonly desk: Desk,
    private readonly hooks: ConnectionHooks,
    private readonly url: () => Promise<string> = ownDesktopUrl,
  ) {}

  /** Opens the socket (and keeps it open until `stop`). */
  start(): void {
    this.stopped = false;
    this.open();
  }

  /** Closes for good (leaving the page, logging out). */
  stop(): void {
    this.stopped = true;
    window.clearInterval(this.heartbeat);
    window.clearTimeout(this.retry);
    this.ws?.close(1000);
  }

  /** Drops the socket to test or force a resume (the page reconnects by itself). */
  drop(): void {
    this.ws?.close(4000);
  }

  /** Sends a command; `id` is its idempotency key. */
  command<T>(type: string, data: Record<string, unknown>, id: string = newKey()): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.pending.delete(id);
        reject({ id, code: "timeout" });
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      if (!this.send({ type, id, data })) {
        // Not connected: sent again with the same key once the socket is back.
        this.queued.push({ type, id, data });
      }
    });
  }

  private queued: Record<string, unknown>[] = [];

  private open(): void {
    this.hooks.onState(this.attempts ? "reconnecting" : "connecting");
    this.url().then(
      (url) => {
        if (!this.stopped) this.connect(url);
      },
      (err: unknown) => {
        // Told never to come back (a revoked token): the login has ended.
        if ((err as { final?: boolean } | null)?.final) {
          this.stopped = true;
          this.hooks.onSessionEnded();
          return;
        }
        // No address now (the server away): try again later.
        this.retryLater(false);
      },
    );
  }

  private retryLater(restarting: boolean): void {
    if (this.stopped) return;
    this.hooks.onState(restarting ? "restarting" : "reconnecting");
    this.attempts += 1;
    this.retry = window.setTimeout(() => this.open(), reconnectDelay(this.attempts));
  }

  private connect(url: string): void {
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempts = 0;
      this.hooks.onState("connected");
    };
    ws.onmessage = (ev) => {
      let message;
      try {
        message = JSON.parse(ev.data as string);
      } catch {
        return; // a frame that is not JSON is ignored, never fatal
      }
      this.apply(this.desk.receive(message, Date.now()));
      if (message.type === "resumed" || message.type === "snapshot" || (message.type === "hello" && this.queued.length)) {
        this.flushQueued();
      }
      this.hooks.onProgress();
    };
    ws.onclose = (ev) => {
      window.clearInterval(this.heartbeat);
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (ev.code === 4003) {
        this.stopped = true;
        this.hooks.onSessionEnded();
        return;
      }
      this.retryLater(ev.code === 1001);
    };
  }

  private flushQueued(): void {
    const queued = this.queued;
    this.queued = [];
    for (const m of queued) if (!this.send(m)) this.queued.push(m);
  }

  private send(message: Record<string, unknown>): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  private apply(effects: Effect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case "send":
          this.send(e.message);
          break;
        case "reconnect":
          this.ws?.close(4000);
          break;
        case "start_heartbeat":
          window.clearInterval(this.heartbeat);
          this.heartbeat = window.setInterval(() => this.send({ type: "heartbeat" }), e.secs * 1000);
          break;
        case "alert":
          this.hooks.onAlert(e.callId);
          break;
        case "call_ended":
          this.hooks.onCallEnded(e.callId);
          break;
        case "notice":
          this.hooks.onNotice(e.source, e.text);
          break;
        case "settle": {
          const p = this.pending.get(e.id);
          if (!p) break;
          this.pending.delete(e.id);
          window.clearTimeout(p.timer);
          if (e.ok) p.resolve(e.value);
          else p.reject(e.value as CommandError);
          break;
        }
      }
    }
  }
}

/** callpop's own desktop socket, opened with the session's CSRF token. */
function ownDesktopUrl(): Promise<string> {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  return Promise.resolve(`${scheme}${location.host}/ws?csrf=${encodeURIComponent(getCsrfToken())}`);
}

/** A fresh idempotency key. */
export function newKey(): string {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}
