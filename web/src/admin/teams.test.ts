import { describe, expect, it } from "vitest";
import type { AdminUser } from "../api/admin";
import { teamsOf } from "./teams";

const user = (username: string, role: AdminUser["role"], team: string | null, disabled = false): AdminUser => ({
  id: 0, username, display_name: username, role, team, disabled, permissions: [],
});

describe("teams", () => {
  it("gathers leads, agents and the lines of the team and of its members", () => {
    const users = [
      user("a1", "agent", "sales"),
      user("a2", "agent", "sales", true),
      user("l1", "team_lead", "sales"),
      user("a3", "agent", "support"),
      user("q", "qa", null),
    ];
    const bindings = [{ line: "box1/1", agent: "a1" }, { line: "box1/2", team: "sales" }, { line: "box1/3", agent: "a3" }, { line: "box1/4", agent: "q" }];
    const teams = teamsOf(users, bindings);
    expect(teams.map((t) => t.name)).toEqual(["sales", "support"]);
    expect(teams[0].agents.map((u) => u.username)).toEqual(["a1"]);
    expect(teams[0].leads.map((u) => u.username)).toEqual(["l1"]);
    expect(teams[0].lines).toEqual(["box1/1", "box1/2"]);
    expect(teams[1].lines).toEqual(["box1/3"]);
    expect(teams[0].pool).toEqual([]);
  });

  it("shows each team's outbound pool, also of a team nobody is in yet", () => {
    const teams = teamsOf([user("a1", "agent", "sales")], [], [
      { team: "sales", lines: ["gsm2/1", "gsm1/1"] },
      { team: "night", lines: ["gsm1/1"] },
    ]);
    expect(teams.map((t) => [t.name, t.pool])).toEqual([
      ["night", ["gsm1/1"]],
      ["sales", ["gsm2/1", "gsm1/1"]],
    ]);
  });
});
