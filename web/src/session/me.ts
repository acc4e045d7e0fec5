// Who is logged in, and the pages their role may open (the server's
// access table decides; the navigation shows exactly those).
import { reactive } from "vue";
import { api, ApiFailure, setCsrfToken } from "../api/http";
import type { Me, PageKey } from "../api/types";

export const session = reactive({
  me: null as Me | null,
  /** Whether `/api/me` has answered once (logged in or not). */
  checked: false,
});

/** Asks the server who we are; null when not logged in. */
export async function loadMe(): Promise<Me | null> {
  try {
    const me = await api<Me>("GET", "/api/me");
    setCsrfToken(me.csrf_token);
    session.me = me;
  } catch (e) {
    if (!(e instanceof ApiFailure) || (e.status !== 401 && e.status !== 403)) {
      session.checked = true;
      throw e;
    }
    session.me = null;
  }
  session.checked = true;
  return session.me;
}

/** Logs in; rejects with the server's code (bad_login, login_throttled, login_locked). */
export async function logIn(username: string, password: string): Promise<Me> {
  await api<{ user: Me; csrf_token: string }>("POST", "/api/login", { username, password });
  const me = await loadMe();
  if (!me) throw new ApiFailure(401, "unauthorized");
  return me;
}

/** Ends the session on the server and here. */
export async function logOut(): Promise<void> {
  await api("POST", "/api/logout").catch(() => undefined);
  session.me = null;
}

/** Whether the user may open a page. */
export function mayOpen(page: PageKey): boolean {
  return !!session.me?.pages.includes(page);
}
