// Numbers arrive as exact decimal strings; they are shown as given (trimmed), never through floats,
// except for signs and chart points.

export function amount(text, places = 8) {
  if (text === null || text === undefined || text === "") return "—";
  const s = String(text);
  const [whole, frac = ""] = s.split(".");
  const cut = frac.slice(0, places).replace(/0+$/, "");
  return cut ? `${whole}.${cut}` : whole;
}

/** A decimal string rounded half away from zero to `places` (exact: BigInt, never a float). */
export function rounded(text, places) {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(String(text).trim());
  if (!m) return String(text);
  const [, sign, whole, frac = ""] = m;
  const digits = BigInt((whole || "0") + frac.padEnd(places, "0").slice(0, places));
  const up = frac.length > places && frac[places] >= "5" ? 1n : 0n;
  const units = (digits + up).toString().padStart(places + 1, "0");
  const result = places ? `${units.slice(0, -places)}.${units.slice(-places)}` : units;
  return /^[0.]*$/.test(result) ? result : sign + result;
}

/** A result with its sign and two decimals: +12.35, -0.20, 0.00. */
export function money(text) {
  if (text === null || text === undefined || text === "") return "—";
  const s = rounded(text, 2);
  return s.startsWith("-") || /^[0.]*$/.test(s) ? s : `+${s}`;
}

export const isNegative = (text) => typeof text === "string" && text.trim().startsWith("-");
export const isZero = (text) => !text || /^-?0*(\.0*)?$/.test(String(text));

/** "up", "down" or "" for a decimal string, for colouring (with a sign, never colour alone). */
export function tone(text) {
  if (text === null || text === undefined || isZero(text)) return "";
  return isNegative(String(text)) ? "down" : "up";
}

export function time(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " +
      d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
