// callpop.js: an agent's desktop inside another system's web page (a web
// CRM). The page gets the agent's pops and dials through callpop with an
// API token of the `desktop` scope, or with tickets its own server asks
// for (so the token never reaches the browser). Built into
// `dist/callpop.js` (global `CallPop`) and served by the daemon at
// `/callpop.js`; see docs/EMBED.md. The protocol is the workspace's own:
// the same Desk state machine and connection (resume, de-duplication).
import { Desk, type Card } from "../workspace/desk";
import { DeskConnection, type ConnState } from "../workspace/connection";
import { reconnectDelay } from "../api/feed";
import type { Pop } from "../api/types";
import { desktopSocketUrl, requestTicket, type TicketGrant } from "./tickets";

export type { Card, ConnState, Pop, TicketGrant };

/** How to reach callpop and prove who the page acts for. */
export interface Options {
  /** callpop's address (`https://callpop.example.com:8080`); by default where callpop.js came from. */
  server?: string;
  /** An API token with the `desktop` scope; callpop.js asks for tickets with it. */
  token?: string;
  /** With an admin's token: the call taker whose desktop to open. */
  user?: string;
  /** Instead of a token: a fresh ticket from the page's own server (what `POST /api/desktop/tickets` answered). */
  ticket?: () => Promise<TicketGrant>;
}

/** What the page can listen to. */
export interface Events {
  /** A new incoming call for the agent: show the caller. */
  pop: (pop: Pop) => void;
  /** Any change of the calls shown (a new pop, answered, ended, a name arrived). */
  update: (cards: readonly Card[]) => void;
  /** A call ended, with its outcome (`answered`, `missed`, `no_answer`, …). */
  ended: (callId: string, outcome: string | null) => void;
  /** The connection's state. */
  connection: (state: ConnState) => void;
  /** The token was revoked or the user disabled: nothing more comes. */
  signedout: () => void;
  /** Something to tell a person (an alarm, a refused message). */
  notice: (source: string, text: string) => void;
}

type Listeners = { [K in keyof Events]: Events[K][] };

/** The script's own origin, the default server. */
const scriptOrigin: string | null = (() => {
  const src = (document.currentScript as HTMLScriptElement | null)?.src;
  return src ? new URL(src).origin : null;
})();

/** One agent's desktop, live until `close`. */
export class Client {
  /** The calls on the agent's desktop, oldest first. */
  get cards(): readonly Card[] {
    return this.desk?.cards ?? [];
  }

  /** Resolves with the user once the first ticket is granted. */
  readonly ready: Promise<TicketGrant["user"]>;

  private desk: Desk | null = null;
  private connection: DeskConnection | null = null;
  private listeners: Listeners = { pop: [], update: [], ended: [], connection: [], signedout: [], notice: [] };
  private closed = false;
  private readonly server: string;

  constructor(private readonly options: Options) {
    const server = options.server ?? scriptOrigin;
    if (!server) throw new Error("callpop.js: give options.server (callpop's address)");
    if (!options.token && !options.ticket) throw new Error("callpop.js: give options.token or options.ticket");
    this.server = server.replace(/\/+$/, "");
    this.ready = this.start();
    // A page that never awaits `ready` hears of a refusal through `signedout`.
    this.ready.catch(() => undefined);
  }

  /** Listens to `event`; returns a function that stops listening. */
  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    this.listeners[event].push(listener);
    return () => {
      this.listeners[event] = this.listeners[event].filter((l) => l !== listener) as Listeners[K];
    };
  }

  /** Dials `number` for the agent (on `line`, or a line the agent may dial from); the call pops as `outbound`. */
  dial(number: string, line?: string): Promise<{ call_id: string; line: string; digits: string }> {
    return this.command("call.dial", line ? { number, line } : { number });
  }

  /** Hangs up (or cancels) a call. */
  hangup(callId: string): Promise<{ call_id: string }> {
    return this.command("call.hangup", { call_id: callId });
  }

  /** Takes a team line's call. */
  claim(callId: string): Promise<{ call_id: string; taken: boolean }> {
    return this.command("call.claim", { call_id: callId });
  }

  /** Sets the agent ready or not ready (with a reason). */
  setState(state: "ready" | "not_ready", reason?: string): Promise<{ state: string }> {
    return this.command("agent.state", reason ? { state, reason } : { state });
  }

  /** Takes a call off the list of cards (the page is done with it). */
  dismiss(callId: string): void {
    this.desk?.close(callId);
    this.emit("update", this.cards);
  }

  /** Closes the desktop for good. */
  close(): void {
    this.closed = true;
    this.connection?.stop();
  }

  private async command<T>(type: string, data: Record<string, unknown>): Promise<T> {
    await this.ready;
    if (!this.connection) throw { code: "closed" };
    return this.connection.command<T>(type, data);
  }

  private grant(): Promise<TicketGrant> {
    if (this.options.ticket) return this.options.ticket();
    return requestTicket(this.server, this.options.token as string, this.options.user);
  }

  /** The first ticket: asked again with backoff while callpop is away or busy. */
  private async firstGrant(): Promise<TicketGrant> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.grant();
      } catch (err) {
        if ((err as { final?: boolean } | null)?.final) {
          this.emit("signedout");
          throw err;
        }
        if (this.closed) throw err;
        this.emit("connection", "reconnecting");
        await new Promise((resolve) => window.setTimeout(resolve, reconnectDelay(attempt)));
      }
    }
  }

  private async start(): Promise<TicketGrant["user"]> {
    const first = await this.firstGrant();
    let unused: TicketGrant | null = first;
    const desk = new Desk(first.user.id);
    this.desk = desk;
    const url = async () => {
      const grant = unused ?? (await this.grant());
      unused = null;
      return desktopSocketUrl(this.server, grant.ticket);
    };
    this.connection = new DeskConnection(
      desk,
      {
        onState: (state) => this.emit("connection", state),
        onAlert: (callId) => {
          const card = desk.card(callId);
          if (card) this.emit("pop", card.pop);
        },
        onCallEnded: (callId) => this.emit("ended", callId, desk.card(callId)?.outcome ?? null),
        onSessionEnded: () => this.emit("signedout"),
        onNotice: (source, text) => this.emit("notice", source, text),
        onProgress: () => this.emit("update", desk.cards),
      },
      url,
    );
    if (!this.closed) this.connection.start();
    return first.user;
  }

  private emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    for (const listener of this.listeners[event]) {
      try {
        (listener as (...a: Parameters<Events[K]>) => void)(...args);
      } catch (err) {
        // The page's listener failing must not stop the desktop.
        console.error("callpop.js: a listener of", event, "failed:", err);
      }
    }
  }
}

/** Opens an agent's desktop: `CallPop.connect({ server, token })`. */
export function connect(options: Options): Client {
  return new Client(options);
}
