// The app's pages: where each lives and its icon. Which of them a user
// sees comes from the server (`/api/me`'s `pages`, from the access table).
import type { PageKey } from "./api/types";

export interface PageEntry {
  key: PageKey;
  path: string;
}

export const PAGES: PageEntry[] = [
  { key: "workspace", path: "/workspace" },
  { key: "customers", path: "/customers" },
  { key: "workorders", path: "/workorders" },
  { key: "history", path: "/history" },
  { key: "recordings", path: "/recordings" },
  { key: "reports", path: "/reports" },
  { key: "wallboard", path: "/wallboard" },
  { key: "sms", path: "/sms" },
  { key: "admin", path: "/admin" },
];

/** The page a user lands on after login: the first they may open. */
export function homePath(pages: PageKey[]): string {
  return PAGES.find((p) => pages.includes(p.key))?.path ?? "/forbidden";
}
