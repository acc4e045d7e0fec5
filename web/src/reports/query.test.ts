import { describe, expect, it } from "vitest";
import { apiParams, queryFromRoute, queryToRoute } from "./query";

const today = new Date(2026, 11, 4, 15, 30);

describe("report query", () => {
  it("defaults to today's agents per day", () => {
    expect(queryFromRoute({}, today)).toEqual({ group: "agents", period: "day", from: "2026-12-04", to: "2026-12-04", sl: "" });
  });

  it("ignores what is not a group, period, day or threshold, and orders the days", () => {
    const q = queryFromRoute({ group: "x", period: "60m", from: "2026-12-03", to: "2026-11-30", sl: "abc" }, today);
    expect(q).toEqual({ group: "agents", period: "60m", from: "2026-11-30", to: "2026-12-03", sl: "" });
  });

  it("round-trips through the address", () => {
    const q = { group: "lines" as const, period: "week" as const, from: "2026-11-01", to: "2026-11-30", sl: "20" };
    expect(queryFromRoute(queryToRoute(q), today)).toEqual(q);
  });

  it("asks the API from the first local midnight to the one after the last day", () => {
    const p = apiParams({ group: "calls", period: "60m", from: "2026-12-01", to: "2026-12-02", sl: "15" });
    expect(Number(p.get("from"))).toBe(new Date(2026, 11, 1).getTime());
    expect(Number(p.get("to"))).toBe(new Date(2026, 11, 3).getTime());
    expect(p.get("period")).toBe("60m");
    expect(p.get("sl")).toBe("15");
  });
});
