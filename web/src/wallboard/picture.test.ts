import { describe, expect, it } from "vitest";
import { applyDelta, secondsSince, type Picture } from "./picture";

const base = (): Picture => ({
  now: 1000,
  lines: { "box1/1": { state: "idle", since: 0, call_id: null, number: null } },
  devices: { box1: { up: true, reason: null, since: 0 } },
  agents: {
    "7": { user_id: 7, username: "a", display_name: "甲", team: "t", state: "ready", reason: null, since: 0, until: null },
  },
  ringing: {},
  today: { day_start: 0, offered: 1, answered: 1, missed: 0, abandoned: 0, unknown: 0, outbound: 0 },
  abandon_rate: 0,
});

describe("applyDelta", () => {
  it("replaces, changes and removes in that order, leaving the old picture alone", () => {
    const old = base();
    const next = applyDelta(old, {
      replace: { now: 2000, abandon_rate: null },
      changed: {
        lines: { "box1/1": { state: "ringing", since: 1900, call_id: "c1", number: "138" } },
        ringing: { "box1/1": { line: "box1/1", call_id: "c1", number: "138", since: 1900 } },
      },
      removed: { agents: ["7"] },
    });
    expect(next.now).toBe(2000);
    expect(next.abandon_rate).toBeNull();
    expect(next.lines["box1/1"].state).toBe("ringing");
    expect(Object.keys(next.ringing)).toEqual(["box1/1"]);
    expect(next.agents).toEqual({});
    expect(old.lines["box1/1"].state).toBe("idle");
    expect(Object.keys(old.agents)).toEqual(["7"]);
  });

  it("takes a delta that replaces the whole picture", () => {
    const whole = { ...base(), now: 5 };
    expect(applyDelta(base(), { replace: whole })).toEqual(whole);
  });
});

describe("secondsSince", () => {
  it("corrects for the clock skew and never goes negative", () => {
    expect(secondsSince(10_000, 75_000, 5_000)).toBe(60);
    expect(secondsSince(10_000, 9_000, 0)).toBe(0);
  });
});
