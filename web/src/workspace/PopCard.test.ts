import { describe, expect, it } from "vitest";
import { mount } from "@vue/test-utils";
import { nextTick, reactive } from "vue";
import ElementPlus from "element-plus";
import { i18n } from "../i18n";
import PopCard from "./PopCard.vue";
import type { Card } from "./desk";
import type { Pop } from "../api/types";
import type { Typing } from "./typing";
import { samplePop } from "./fixtures.test-util";

function pop(extra: Partial<Pop> = {}): Pop {
  return samplePop("c1", {
    match: "one",
    customers: [{ id: 7, name: "王伟", company: "华信", owner: null, tags: [], custom_fields: {}, phones: [{ raw: "13800138000", e164: "+8613800138000", national: "13800138000", extension: null, kind: "mobile", label: null }] }],
    form: {
      key: "service",
      name_zh: "客户服务工单",
      name_en: "Service request",
      fields: [
        { key: "contact", label_zh: "联系人", label_en: "Contact", type: "text", required: true },
        { key: "summary", label_zh: "问题描述", label_en: "Summary", type: "textarea", required: true },
      ],
    },
    prefill: { contact: "王伟" },
    ...extra,
  });
}

const noop = () => undefined;
const actions = { take: noop, hangUp: noop, close: noop, choose: noop, createCustomer: async () => undefined, save: async () => 1, typed: noop, focus: noop };

describe("PopCard", () => {
  it("keeps the field being typed in, and its text, through call events", async () => {
    const card = reactive<Card>({ callId: "c1", pop: pop(), status: "ringing", outcome: null, takenBy: null, arrivedAt: 0, savedOrderId: null, restored: false });
    const typing = reactive<Typing>({ workOrder: {}, newCustomer: {}, saveKey: "k" });
    const w = mount(PopCard, { props: { card, typing, selected: true, actions }, global: { plugins: [ElementPlus, i18n] }, attachTo: document.body });
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
    await nextTick();
    const summary = w.find("textarea[name=summary]");
    await summary.setValue("打印机卡纸");
    (summary.element as HTMLTextAreaElement).focus();
    expect(typing.workOrder.summary).toBe("打印机卡纸");

    card.status = "answered";
    card.pop = pop({ caller_name: "WANG WEI" });
    await nextTick();
    card.status = "ended";
    card.outcome = "answered";
    await nextTick();

    const after = w.find("textarea[name=summary]");
    expect(after.element).toBe(summary.element);
    expect((after.element as HTMLTextAreaElement).value).toBe("打印机卡纸");
    expect(document.activeElement).toBe(summary.element);
    // the prefill still fills what was not typed
    expect((w.find("input[name=contact]").element as HTMLInputElement).value).toBe("王伟");
    w.unmount();
  });
});
