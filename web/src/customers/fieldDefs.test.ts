import { describe, expect, it } from "vitest";
import type { CustomFieldDef } from "../api/customerFields";
import { popFields } from "./fieldDefs";

const def = (key: string, over: Partial<CustomFieldDef> = {}): CustomFieldDef => ({
  key,
  label_zh: `${key}中`,
  label_en: key,
  type: "text",
  required: false,
  in_pop: true,
  searchable: false,
  in_sms: true,
  birthday: false,
  ...over,
});

describe("a pop's custom values", () => {
  it("show the fields marked for the pop that have a value, choices by their label", () => {
    const defs = [def("level", { type: "enum", options: [{ value: "vip", label_zh: "贵宾", label_en: "VIP" }] }), def("city"), def("note", { in_pop: false }), def("empty")];
    const values = { level: "vip", city: "杭州", note: "私密", empty: " " };
    expect(popFields(defs, values, "zh-CN")).toEqual([
      { key: "level", label: "level中", text: "贵宾" },
      { key: "city", label: "city中", text: "杭州" },
    ]);
    expect(popFields(defs, values, "en")[0]).toEqual({ key: "level", label: "level", text: "VIP" });
  });
});
