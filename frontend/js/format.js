// Number formatting, one way everywhere.

const isNum = (v) => typeof v === "number" && Number.isFinite(v);
const DASH = "—";

export function pct(value, digits = 1) {
  return isNum(value) ? `${(value * 100).toFixed(digits)}%` : DASH;
}

export function num(value, digits = 2) {
  return isNum(value)
    ? value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : DASH;
}

export function money(value, digits = 0) {
  return isNum(value)
    ? value.toLocaleString("en-US", {
        style: "currency",
        currency: "USD",
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      })
    : DASH;
}

export function int(value) {
  return isNum(value) ? Math.round(value).toLocaleString("en-US") : DASH;
}

export function when(value) {
  if (!value) return DASH;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

export function day(value) {
  return value ? String(value).slice(0, 10) : DASH;
}
