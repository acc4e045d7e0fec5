// Teams as the console shows them: made of the users' team field, with
// the lines that pop on the team or on one of its members.
import type { AdminUser, Binding, DialPool } from "../api/admin";

/** One team and who and what is in it. */
export interface Team {
  name: string;
  leads: AdminUser[];
  agents: AdminUser[];
  /** Lines that pop on the team, or on one of its members. */
  lines: string[];
  /** Lines the team dials out on besides its agents' own. */
  pool: string[];
}

/** The teams of `users` (and of pools), by name; disabled users are left out. */
export function teamsOf(users: AdminUser[], bindings: Binding[], pools: DialPool[] = []): Team[] {
  const teams = new Map<string, Team>();
  const team = (name: string) => {
    let t = teams.get(name);
    if (!t) teams.set(name, (t = { name, leads: [], agents: [], lines: [], pool: [] }));
    return t;
  };
  for (const u of users) {
    if (!u.team || u.disabled) continue;
    if (u.role === "team_lead") team(u.team).leads.push(u);
    else if (u.role === "agent") team(u.team).agents.push(u);
  }
  const teamOfUser = new Map(users.filter((u) => u.team).map((u) => [u.username, u.team as string]));
  for (const b of bindings) {
    const name = b.team ?? (b.agent ? teamOfUser.get(b.agent) : undefined);
    if (name) team(name).lines.push(b.line);
  }
  for (const p of pools) team(p.team).pool = [...p.lines];
  return [...teams.values()].sort((a, b) => a.name.localeCompare(b.name));
}
