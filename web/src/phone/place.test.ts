import { describe, expect, it } from "vitest";
import { placeText } from "./place";

const shenzhenMobile = {
  place: { province: "广东省", city: "深圳市", area_code: "755", province_en: "Guangdong", city_en: "Shenzhen" },
  carrier: "中国移动",
  carrier_en: "China Mobile",
};

describe("placeText", () => {
  it("names the place and carrier in the page's language", () => {
    expect(placeText(shenzhenMobile, "zh-CN")).toBe("广东省深圳市 · 中国移动");
    expect(placeText(shenzhenMobile, "en")).toBe("Shenzhen, Guangdong · China Mobile");
  });

  it("says a municipality once, and nothing for what is unknown", () => {
    const beijing = {
      place: { province: "北京市", city: "北京市", area_code: "10", province_en: "Beijing", city_en: "Beijing" },
      carrier: null,
      carrier_en: null,
    };
    expect(placeText(beijing, "zh-CN")).toBe("北京市");
    expect(placeText(beijing, "en")).toBe("Beijing");
    expect(placeText(null, "zh-CN")).toBe("");
    expect(placeText({ place: null, carrier: "中国联通", carrier_en: "China Unicom" }, "en")).toBe("China Unicom");
  });
});
