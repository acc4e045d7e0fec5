import { afterEach, describe, expect, it, vi } from "vitest";
import { mount } from "@vue/test-utils";
import { nextTick, reactive } from "vue";
import ElementPlus from "element-plus";
import { i18n } from "../i18n";
import WorkOrderForm from "./WorkOrderForm.vue";
import type { Me, Pop } from "../api/types";
import type { Typing } from "./typing";
import { samplePop } from "./fixtures.test-util";
import { session } from "../session/me";

function pop(): Pop {
  return samplePop("c1", {
    form: {
      key: "service",
      name_zh: "客户服务工单",
      name_en: "Service request",
      fields: [{ key: "phone", label_zh: "联系电话", label_en: "Phone", type: "phone", required: false }],
    },
    prefill: {},
  });
}

function mountForm(typing: Typing) {
  return mount(WorkOrderForm, {
    props: { pop: pop(), typing, savedOrderId: null, save: async () => 1 },
    global: { plugins: [ElementPlus, i18n] },
  });
}

afterEach(() => {
  session.me = null;
  vi.unstubAllGlobals();
});

describe("WorkOrderForm", () => {
  it("dials a phone field's number as typed, for a user with a line", async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify({ call_id: "o1", line: "box1/1", digits: "01065528888" }), { status: 201 }));
    vi.stubGlobal("fetch", fetch);
    session.me = { can_dial: true } as Me;
    const typing = reactive<Typing>({ workOrder: {}, newCustomer: {}, saveKey: "k" });
    const w = mountForm(typing);
    expect(w.find("[data-test=dial-field]").exists()).toBe(false);
    await w.find("input[name=phone]").setValue("010-6552 8888");
    await nextTick();
    await w.find("[data-test=dial-field]").trigger("click");
    expect(fetch).toHaveBeenCalledTimes(1);
    const [path, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(path).toBe("/api/calls/dial");
    expect(JSON.parse(String(init.body))).toEqual({ number: "010-6552 8888" });
    // What was typed stays.
    expect(typing.workOrder.phone).toBe("010-6552 8888");
    w.unmount();
  });

  it("offers no dial button without a line, or for a masked number", async () => {
    session.me = { can_dial: false } as Me;
    const typing = reactive<Typing>({ workOrder: { phone: "13800138000" }, newCustomer: {}, saveKey: "k" });
    const w = mountForm(typing);
    await nextTick();
    expect(w.find("[data-test=dial-field]").exists()).toBe(false);
    session.me = { can_dial: true } as Me;
    typing.workOrder.phone = "138****8000";
    await nextTick();
    expect(w.find("[data-test=dial-field]").exists()).toBe(false);
    typing.workOrder.phone = "13800138000";
    await nextTick();
    expect(w.find("[data-test=dial-field]").exists()).toBe(true);
    w.unmount();
  });
});
