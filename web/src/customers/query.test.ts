import { describe, expect, it } from "vitest";
import { apiParams, emptySearch, isNumberText, searchFromRoute, searchToRoute } from "./query";

describe("customer search", () => {
  it("reads digits as a number fragment and words as a name", () => {
    for (const t of ["0013", "138 0013", "+86 138-0013", "(021) 6123"]) expect(isNumberText(t)).toBe(true);
    for (const t of ["王", "Wang Wei", "", "  ", "138a"]) expect(isNumberText(t)).toBe(false);
    expect(apiParams({ ...emptySearch(), text: " 138 0013 " }).toString()).toBe("number=138+0013");
    expect(apiParams({ ...emptySearch(), text: "王", tag: "VIP" }, "12:王伟").toString()).toBe(
      "name=%E7%8E%8B&tag=VIP&after=12%3A%E7%8E%8B%E4%BC%9F",
    );
  });

  it("keeps the search and the open customer in the address", () => {
    const s = { ...emptySearch(), text: "王", company: "华信", owner: "agent1" };
    const q = searchToRoute(s, 7);
    expect(q).toEqual({ q: "王", company: "华信", owner: "agent1", id: "7" });
    expect(searchFromRoute(q)).toEqual(s);
    // The deleted ones (admins) survive the address too, and ask the API.
    const gone = { ...emptySearch(), deleted: true };
    expect(searchToRoute(gone, null)).toEqual({ deleted: "1" });
    expect(searchFromRoute(searchToRoute(gone, null))).toEqual(gone);
    expect(apiParams(gone).toString()).toBe("deleted=true");
    expect(searchFromRoute({ q: ["x"] })).toEqual(emptySearch());
    // A custom field's value: only with the field chosen.
    const byField = { ...emptySearch(), field: "contract", value: " HT-2026 " };
    expect(apiParams(byField).toString()).toBe("field=contract&value=HT-2026");
    expect(searchToRoute(byField, null)).toEqual({ field: "contract", value: "HT-2026" });
    expect(apiParams({ ...emptySearch(), value: "HT" }).toString()).toBe("");
  });
});
