import { describe, expect, it } from "vitest";
import { composeFilter, insertField, parseFilter, smsFields } from "./smsFields";
import type { CustomFieldDef } from "../api/customerFields";

const def = (key: string, in_sms: boolean, extra: Partial<CustomFieldDef> = {}): CustomFieldDef => ({
  key,
  label_zh: `${key}（中）`,
  label_en: key,
  type: "text",
  required: false,
  in_pop: false,
  searchable: false,
  in_sms,
  birthday: false,
  ...extra,
});

describe("SMS fields of customer campaigns", () => {
  it("offer name, company and the custom fields marked for SMS, labelled", () => {
    const defs = [def("level", true, { type: "enum", options: [{ value: "vip", label_zh: "贵宾", label_en: "VIP" }] }), def("debt", false)];
    const zh = smsFields(defs, "zh-CN", { name: "姓名", company: "公司" });
    expect(zh.map((f) => [f.key, f.label])).toEqual([
      ["name", "姓名"],
      ["company", "公司"],
      ["level", "level（中）"],
    ]);
    expect(zh[2].options).toEqual([{ value: "vip", label: "贵宾" }]);
    expect(smsFields(defs, "en", { name: "Name", company: "Company" })[2].options[0].label).toBe("VIP");
  });

  it("compose and read back filters as the server splits them", () => {
    for (const text of ["level=vip", "level!=vip", "company~贸易"]) expect(composeFilter(parseFilter(text))).toBe(text);
    expect(parseFilter("a!=b=c")).toEqual({ field: "a", op: "!=", value: "b=c" });
    expect(parseFilter("")).toEqual({ field: "", op: "=", value: "" });
    expect(composeFilter({ field: "", op: "=", value: "x" })).toBe("");
  });

  it("put a merge field where the cursor is", () => {
    expect(insertField("您好", 0, "name")).toEqual({ text: "{name}您好", cursor: 6 });
    expect(insertField("您好", null, "name").text).toBe("您好{name}");
    expect(insertField("您好", 99, "name").text).toBe("您好{name}");
  });
});
