// Tickets for the desktop socket of another system's page: asked for with
// an API token (`POST /api/desktop/tickets`), each opening `/ws` once.

/** What `POST /api/desktop/tickets` answers. */
export interface TicketGrant {
  ticket: string;
  expires_at?: number;
  user: { id: number; username: string; display_name?: string; role?: string; team?: string | null };
}

/** A ticket refused for good (the token is unknown, revoked or lacks the scope): stop, do not retry. */
export interface Refused {
  final: true;
  status: number;
  code: string;
}

/** The websocket address for `ticket` on `server` (`http…` becomes `ws…`). */
export function desktopSocketUrl(server: string, ticket: string): string {
  const url = new URL(server);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/ws`;
  url.search = `?ticket=${encodeURIComponent(ticket)}`;
  return url.toString();
}

/** Whether an answer's status means the token will never get a ticket. */
export function refusedForGood(status: number): boolean {
  return status === 401 || status === 403 || status === 404;
}

/** Asks `server` for a ticket with `token` (for `user`, with an admin's token). */
export async function requestTicket(server: string, token: string, user?: string): Promise<TicketGrant> {
  const res = await fetch(`${server.replace(/\/+$/, "")}/api/desktop/tickets`, {
    method: "POST",
    credentials: "omit",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(user ? { user } : {}),
  });
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    const code: string = body?.error?.code ?? `http_${res.status}`;
    if (refusedForGood(res.status)) throw { final: true, status: res.status, code } satisfies Refused;
    throw new Error(`callpop.js: no ticket (${res.status} ${code})`);
  }
  return (await res.json()) as TicketGrant;
}
