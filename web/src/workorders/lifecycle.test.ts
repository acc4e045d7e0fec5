import { describe, expect, it } from "vitest";
import type { StatusDef, WorkOrderForm } from "../api/types";
import { allStatuses, fieldText, moves, statusLabel } from "./lifecycle";

const status = (key: string, zh: string, en: string, open: boolean, next: string[]): StatusDef => ({ key, label_zh: zh, label_en: en, open, next });
const form: WorkOrderForm = {
  key: "service",
  name_zh: "服务",
  name_en: "Service",
  fields: [{ key: "category", label_zh: "类别", label_en: "Category", type: "enum", required: true, options: [{ value: "complaint", label_zh: "投诉", label_en: "Complaint" }] }],
  statuses: [
    status("open", "新建", "New", true, ["in_progress", "resolved", "closed"]),
    status("in_progress", "处理中", "In progress", true, ["resolved", "closed"]),
    status("resolved", "已解决", "Resolved", false, ["closed", "in_progress"]),
    status("closed", "已关闭", "Closed", false, ["in_progress"]),
  ],
};

describe("a form's statuses", () => {
  it("word a status in the page's language, and an unknown one by its key", () => {
    expect(statusLabel(form, "in_progress", "zh-CN")).toBe("处理中");
    expect(statusLabel(form, "in_progress", "en")).toBe("In progress");
    expect(statusLabel(form, "waiting", "en")).toBe("waiting");
    expect(statusLabel(null, "open", "en")).toBe("open");
  });

  it("offer only the moves the form allows, a finished order's way back as reopening", () => {
    expect(moves(form, "open", "en").map((m) => m.key)).toEqual(["in_progress", "resolved", "closed"]);
    expect(moves(form, "open", "en").some((m) => m.reopen)).toBe(false);
    expect(moves(form, "closed", "zh-CN")).toEqual([{ key: "in_progress", label: "处理中", reopen: true }]);
    expect(moves(form, "resolved", "en").find((m) => m.key === "closed")?.reopen).toBe(false);
    // An order in a status the form dropped may go anywhere else.
    expect(moves(form, "waiting", "en")).toHaveLength(4);
  });

  it("list every form's statuses once", () => {
    expect(allStatuses([form, form]).map((s) => s.key)).toEqual(["open", "in_progress", "resolved", "closed"]);
  });

  it("word an enum field's value by its option", () => {
    expect(fieldText(form, "category", "complaint", "zh-CN")).toBe("投诉");
    expect(fieldText(form, "summary", "卡纸", "en")).toBe("卡纸");
    expect(fieldText(form, "summary", null, "en")).toBe("");
  });
});
