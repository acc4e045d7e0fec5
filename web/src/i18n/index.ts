// One language for every page, kept under one key ("lang": "zh-CN" or
// "en"), switchable without a reload. Chinese when the browser is.
import { createI18n } from "vue-i18n";
import zhCN from "./zh-CN";
import en from "./en";
import { ApiFailure } from "../api/http";

export type Lang = "zh-CN" | "en";
export const LANG_KEY = "lang";

/** The language to start in: the saved choice, else the browser's. */
export function initialLang(saved: string | null, browser: string): Lang {
  const pick = saved || browser || "";
  return pick.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLang(localStorage.getItem(LANG_KEY), navigator.language),
  fallbackLocale: "en",
  messages: { "zh-CN": zhCN, en },
  datetimeFormats: {
    "zh-CN": {
      short: { hour: "2-digit", minute: "2-digit" },
      long: { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" },
      day: { year: "numeric", month: "2-digit", day: "2-digit" },
      month: { year: "numeric", month: "long" },
    },
    en: {
      short: { hour: "2-digit", minute: "2-digit" },
      long: { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" },
      day: { year: "numeric", month: "short", day: "numeric" },
      month: { year: "numeric", month: "long" },
    },
  },
});

/** Switches every page's language and remembers it. */
export function setLang(lang: Lang): void {
  i18n.global.locale.value = lang;
  localStorage.setItem(LANG_KEY, lang);
  document.documentElement.lang = lang;
}

/** A server error, worded in the page's language from its code and parameters. */
export function errorText(e: unknown): string {
  const t = i18n.global.t;
  const te = i18n.global.te;
  if (e instanceof ApiFailure || (e && typeof e === "object" && "code" in e)) {
    const { code, params } = e as { code: string; params?: Record<string, unknown> };
    const key = `errors.${code}`;
    return te(key) ? t(key, params ?? {}) : t("errors.unknown", { code });
  }
  return t("errors.unknown", { code: "client" });
}

/** "1:05", "12:30", "1:02:03": a duration in seconds as a clock. */
export function clock(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}
