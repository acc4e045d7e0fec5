// A read-only live feed over a websocket (the wallboard, campaign
// progress): JSON frames to the page, reconnection with backoff, and the
// end of the login (close code 4003) told once.

/** What a feed tells its page. */
export interface FeedHooks {
  /** One JSON frame (frames that are not JSON are dropped). */
  onFrame(frame: { type: string; data?: unknown }): void;
  /** Connected (true) or waiting to reconnect (false). */
  onLive(live: boolean): void;
  /** The server ended this login: show the login page. */
  onSessionEnded(): void;
}

/** How long to wait before reconnect attempt number `attempt` (1, 2, …): 0.5 s doubling to 10 s. */
export function reconnectDelay(attempt: number): number {
  return Math.min(10_000, 500 * 2 ** Math.min(attempt - 1, 5));
}

/** Opens `path` (with the session's CSRF token) and keeps it open until `stop`. */
export class LiveFeed {
  private ws: WebSocket | null = null;
  private retry: number | undefined;
  private attempts = 0;
  private stopped = false;

  constructor(
    private readonly url: () => string,
    private readonly hooks: FeedHooks,
  ) {}

  /** Connects. */
  start(): void {
    this.stopped = false;
    this.open();
  }

  /** Closes for good (the page is left). */
  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.retry);
    this.ws?.close(1000);
    this.ws = null;
  }

  private open(): void {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(`${scheme}${location.host}${this.url()}`);
    this.ws = ws;
    ws.onopen = () => {
      this.attempts = 0;
      this.hooks.onLive(true);
    };
    ws.onmessage = (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data as string);
      } catch {
        return;
      }
      if (frame && typeof frame.type === "string") this.hooks.onFrame(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws || this.stopped) return;
      this.ws = null;
      this.hooks.onLive(false);
      if (ev.code === 4003) {
        this.stopped = true;
        this.hooks.onSessionEnded();
        return;
      }
      this.attempts += 1;
      this.retry = window.setTimeout(() => this.open(), reconnectDelay(this.attempts));
    };
  }
}
