// Where a number belongs, in the page's language: "广东省深圳市 · 中国移动",
// "Shenzhen, Guangdong · China Mobile". Empty when the data does not know.
import type { NumberInfo } from "../api/types";

export function placeText(info: NumberInfo | null | undefined, lang: string): string {
  if (!info) return "";
  const zh = lang.startsWith("zh");
  const p = info.place;
  let where = "";
  if (p) {
    if (zh) where = p.province === p.city ? p.city : `${p.province}${p.city}`;
    else where = p.province_en === p.city_en ? p.city_en : `${p.city_en}, ${p.province_en}`;
  }
  const carrier = zh ? info.carrier : info.carrier_en;
  return [where, carrier].filter(Boolean).join(" · ");
}
