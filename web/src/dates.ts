// Days as the pages' date pickers give them ("YYYY-MM-DD", the user's
// local calendar) and the instants the API takes (ms since the epoch).

/** "YYYY-MM-DD" of a local date. */
export function isoDay(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** Local midnight starting day `iso` (or, with `after`, the day after it), in ms. */
export function dayStart(iso: string, after = false): number {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(y, m - 1, d + (after ? 1 : 0)).getTime();
}
