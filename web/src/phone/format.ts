// Phone numbers in one national format everywhere (`138 0013 8000`,
// `021 6543 2100`, `400 810 8888`); foreign numbers in international
// form; anything that is not a valid number (short codes, masked numbers,
// partial input) exactly as it came.
import { parsePhoneNumberFromString } from "libphonenumber-js/min";

/** The home country of the center's lines. */
const HOME = "CN";

/** How a number is shown: national for home numbers, `+1 212 555 1234` otherwise. */
export function formatPhone(raw: string | null | undefined): string {
  if (!raw) return "";
  const text = raw.trim();
  if (!/^[+\d\s\-().]+$/.test(text)) return text; // masked (138****5678), letters
  const parsed = parsePhoneNumberFromString(text, HOME);
  if (!parsed || !parsed.isValid()) return text;
  const main = parsed.country === HOME ? parsed.formatNational() : parsed.formatInternational();
  return parsed.ext ? `${main.replace(/\s*ext\..*$/, "")} #${parsed.ext}` : main;
}
