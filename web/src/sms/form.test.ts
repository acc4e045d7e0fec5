import { describe, expect, it } from "vitest";
import { campaignBody, carrierKey, emptyForm } from "../api/sms";

describe("campaign body", () => {
  it("sends what was filled in, trimmed, and every customer for *", () => {
    const f = { ...emptyForm(), name: " 会员日 ", group: "*", template: "{name}您好", window: " 09:00-20:00 " };
    expect(campaignBody(f, null)).toEqual({ name: "会员日", template: "{name}您好", window: "09:00-20:00", all: true });
  });

  it("prefers an uploaded sheet over the group", () => {
    const f = { ...emptyForm(), name: "x", group: "vip", template: "t" };
    expect(campaignBody(f, "abc.csv")).toEqual({ name: "x", template: "t", upload: "abc.csv" });
    expect(campaignBody(f, null)).toEqual({ name: "x", template: "t", group: "vip" });
  });

  it("sends the start as ms of local time", () => {
    const f = { ...emptyForm(), name: "x", template: "t", group: "vip", start_at: "2026-12-05 09:30:00" };
    expect(campaignBody(f, null).start_at).toBe(new Date(2026, 11, 5, 9, 30).getTime());
  });
});

describe("carrier key", () => {
  it("turns a configured name into a key", () => {
    expect(carrierKey("China Mobile")).toBe("carriers.china_mobile");
    expect(carrierKey("China Unicom ")).toBe("carriers.china_unicom");
  });
});
