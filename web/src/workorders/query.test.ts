import { describe, expect, it } from "vitest";
import { apiParams, defaultFilter, filterFromRoute, filterToRoute } from "./query";

describe("the work-order filter", () => {
  it("survives the address both ways", () => {
    const f = { ...defaultFilter(), status: "in_progress", team: "support", stage: "all" as const, overdue: true };
    expect(filterFromRoute(filterToRoute(f, 7))).toEqual(f);
    expect(filterToRoute(f, 7)).toEqual({ status: "in_progress", team: "support", stage: "all", overdue: "1", id: "7" });
    expect(filterToRoute(defaultFilter(), null)).toEqual({});
  });

  it("asks the API for open orders unless a status or a stage says otherwise", () => {
    expect(apiParams(defaultFilter()).toString()).toBe("open=true");
    expect(apiParams({ ...defaultFilter(), stage: "done" }).toString()).toBe("open=false");
    expect(apiParams({ ...defaultFilter(), stage: "all" }).toString()).toBe("");
    expect(apiParams({ ...defaultFilter(), status: "closed" }).toString()).toBe("status=closed");
  });

  it("reads a typed number in capitals, trims, and pages after a cursor", () => {
    const p = apiParams({ ...defaultFilter(), number: " gd-20261203-0042 ", assignee: " agent1 " }, 41);
    expect(p.get("number")).toBe("GD-20261203-0042");
    expect(p.get("assignee")).toBe("agent1");
    expect(p.get("after")).toBe("41");
  });

  it("ignores what the address cannot mean", () => {
    expect(filterFromRoute({ stage: "nonsense", overdue: "yes", status: ["a", "b"] })).toEqual(defaultFilter());
  });
});
