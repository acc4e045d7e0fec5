// The app's pages: where each lives and its icon. Which of them a user
// sees comes from the server (`/api/me`'s `pages`, from the access table).
import type { PageKey } from "./api/types";

export interface PageEntry {
  key: PageKey;
  path: string;
  /** Pages not moved into the app yet are plain links to their old page. */
  external: boolean;
}

export const PAGES: PageEntry[] = [
  { key: "workspace", path: "/workspace", external: false },
  { key: "history", path: "/history", external: false },
  { key: "recordings", path: "/recordings", external: false },
  { key: "reports", path: "/reports", external: true },
  { key: "wallboard", path: "/wallboard", external: true },
  { key: "sms", path: "/sms", external: true },
  { key: "admin", path: "/admin", external: false },
];

/** Goes to `path`: inside the app, or a full load for a page not moved into it yet. */
export function isExternal(path: string): boolean {
  return PAGES.some((p) => p.external && p.path === path);
}

/** The page a user lands on after login: the first they may open. */
export function homePath(pages: PageKey[]): string {
  return PAGES.find((p) => pages.includes(p.key))?.path ?? "/forbidden";
}
