import { describe, expect, it } from "vitest";
import { formatPhone } from "./format";

describe("formatPhone", () => {
  it("writes home numbers in one national format whatever was typed", () => {
    for (const typed of ["13800138000", "+8613800138000", "138-0013-8000", "0086 138 0013 8000", "(+86)13800138000"]) {
      expect(formatPhone(typed)).toBe("138 0013 8000");
    }
    expect(formatPhone("02165432100")).toBe("021 6543 2100");
    expect(formatPhone("+86 21 6543 2100")).toBe("021 6543 2100");
    expect(formatPhone("4008108888")).toBe("400 810 8888");
    expect(formatPhone("075512345678")).toBe("0755 1234 5678");
  });

  it("writes foreign numbers internationally", () => {
    expect(formatPhone("+12125551234")).toBe("+1 212 555 1234");
  });

  it("leaves what is not a number as it came", () => {
    expect(formatPhone("138****5678")).toBe("138****5678");
    expect(formatPhone("95588")).toBe("95588");
    expect(formatPhone("")).toBe("");
    expect(formatPhone(null)).toBe("");
  });
});
