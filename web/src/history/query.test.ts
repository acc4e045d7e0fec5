import { describe, expect, it } from "vitest";
import { apiQuery, filtersFromQuery, filtersToQuery, span } from "./query";

describe("history filters", () => {
  it("go through the address and back unchanged", () => {
    const f = filtersFromQuery({ number: "138 1234 5678", outcome: "missed", junk: "x" });
    expect(f.number).toBe("138 1234 5678");
    expect(f.line).toBe("");
    expect(filtersToQuery(f)).toEqual({ number: "138 1234 5678", outcome: "missed" });
  });

  it("turn days into a half-open range of the local day", () => {
    const q = apiQuery(filtersFromQuery({ from: "2026-12-01", to: "2026-12-01" }), "c1");
    const from = Number(q.get("from"));
    const to = Number(q.get("to"));
    expect(new Date(from).getHours()).toBe(0);
    expect(new Date(from).getDate()).toBe(1);
    expect(new Date(to).getDate()).toBe(2);
    expect(q.get("after")).toBe("c1");
    expect(apiQuery(filtersFromQuery({ from: "not a day" })).has("from")).toBe(false);
  });

  it("write spans as minutes and seconds", () => {
    expect(span(42_400)).toBe("0:42");
    expect(span(125_000)).toBe("2:05");
    expect(span(null)).toBe("");
  });
});
