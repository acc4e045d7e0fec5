import { describe, expect, it } from "vitest";
import zhCN from "./zh-CN";
import en from "./en";
import { clock, initialLang } from "./index";

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
export const LATIN_ALLOWED = ["callpop", "CSV", "XLSX", "ID", "English", "SMS", "WAV", "T", "USB"];

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
