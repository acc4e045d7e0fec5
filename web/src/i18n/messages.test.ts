import { describe, expect, it } from "vitest";
import zhCN from "./zh-CN";
import en from "./en";
import { clock, errorText, i18n, initialLang, setLang } from "./index";
import { ApiFailure } from "../api/http";

type Tree = { [k: string]: string | Tree };

function leaves(tree: Tree, prefix = ""): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(tree)) {
    if (typeof v === "string") out.set(prefix + k, v);
    else for (const [kk, vv] of leaves(v, `${prefix}${k}.`)) out.set(kk, vv);
  }
  return out;
}

// Words that may stay Latin in the Chinese pages ("T": the opt-out reply
// keyword of Chinese SMS, as in 回T退订).
export const LATIN_ALLOWED = ["callpop", "CSV", "XLSX", "ID", "English", "SMS", "WAV", "T", "USB", "Excel", "GD", "JSON"];

describe("messages", () => {
  const zh = leaves(zhCN as Tree);
  const enl = leaves(en as Tree);

  it("have the same keys in both languages", () => {
    expect([...zh.keys()].sort()).toEqual([...enl.keys()].sort());
  });

  it("hold no English in Chinese and no Chinese in English", () => {
    for (const [key, text] of zh) {
      const latin = text
        .replace(/\{\w+\}/g, "")
        .match(/[A-Za-z]+/g)
        ?.filter((w) => !LATIN_ALLOWED.includes(w));
      expect(latin ?? [], key).toEqual([]);
    }
    for (const [key, text] of enl) {
      if (key === "shell.switch_to") continue; // the other language's own name
      expect(/[\u3400-\u9fff]/.test(text), key).toBe(false);
    }
  });
});

describe("language", () => {
  it("starts in Chinese for a Chinese browser unless chosen otherwise", () => {
    expect(initialLang(null, "zh-CN")).toBe("zh-CN");
    expect(initialLang(null, "zh-TW")).toBe("zh-CN");
    expect(initialLang(null, "en-US")).toBe("en");
    expect(initialLang("en", "zh-CN")).toBe("en");
    // what older pages stored
    expect(initialLang("zh", "en-US")).toBe("zh-CN");
  });

  it("writes durations as a clock", () => {
    expect(clock(5)).toBe("0:05");
    expect(clock(65)).toBe("1:05");
    expect(clock(3723)).toBe("1:02:03");
    expect(clock(-3)).toBe("0:00");
  });
});

describe("server errors", () => {
  it("are worded by the page from their code and parameters, in its language", () => {
    const e = new ApiFailure(400, "template_unknown_field", { field: "nmae", known: "company, name" });
    setLang("zh-CN");
    expect(errorText(e)).toBe("接收人没有字段“nmae”；可用字段：company, name");
    setLang("en");
    expect(errorText(e)).toBe("The recipients have no field “nmae”; they have: company, name");
    expect(errorText(new ApiFailure(400, "template_unclosed", { at: 7 }))).toBe("A { at character 7 is never closed");
    expect(errorText(new ApiFailure(500, "brand_new_code"))).toBe(i18n.global.t("errors.unknown", { code: "brand_new_code" }));
  });
});
