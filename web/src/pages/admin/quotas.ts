// Quotas as people read and set them: usage against each limit (0 = unlimited), when it resets,
// and the admin form's values (sizes in MB, empty = the server default) <-> PUT body.
import type { components } from "../../api";

export type Quota = components["schemas"]["QuotaOut"];
export type QuotaIn = components["schemas"]["QuotaIn"];

export const QUOTA_KEYS = [
  "uploads_per_day",
  "bytes_per_day",
  "gpu_seconds_per_month",
  "money_per_month",
  "requests_per_minute",
] as const;
export type QuotaKey = (typeof QUOTA_KEYS)[number];

/** Limits that are whole numbers (the others may have decimals). */
const WHOLE: ReadonlySet<QuotaKey> = new Set(["uploads_per_day", "bytes_per_day", "requests_per_minute"]);
/** The form asks for bytes in MB (10^6 bytes), like the size a person has in mind. */
export const MB = 1_000_000;

export interface QuotaRow {
  key: QuotaKey;
  /** What was used in the current window; null where the window is too short to show (requests). */
  used: number | null;
  limit: number;
  unlimited: boolean;
  overridden: boolean;
  /** ISO time the window resets; null for the one-minute request window. */
  resetsAt: string | null;
  /** used / limit, capped at 1; null when unlimited or not counted. */
  fraction: number | null;
}

export function quotaRows(quota: Quota): QuotaRow[] {
  const { limits, usage } = quota;
  const used: Record<QuotaKey, number | null> = {
    uploads_per_day: usage.uploads_today,
    bytes_per_day: usage.bytes_today,
    gpu_seconds_per_month: usage.gpu_seconds_month,
    money_per_month: usage.money_month,
    requests_per_minute: null,
  };
  const resets: Record<QuotaKey, string | null> = {
    uploads_per_day: usage.day_resets_at,
    bytes_per_day: usage.day_resets_at,
    gpu_seconds_per_month: usage.month_resets_at,
    money_per_month: usage.month_resets_at,
    requests_per_minute: null,
  };
  return QUOTA_KEYS.map((key) => {
    const limit = limits[key];
    const value = used[key];
    const unlimited = limit <= 0;
    return {
      key,
      used: value,
      limit,
      unlimited,
      overridden: quota.overridden.includes(key),
      resetsAt: resets[key],
      fraction: unlimited || value === null ? null : Math.min(1, value / limit),
    };
  });
}

/** 1234567 -> "1.23 MB" (decimal units, as disks and uploads are sold). */
export function formatBytes(bytes: number, language = "en"): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 ? 0 : value < 10 ? 2 : value < 100 ? 1 : 0;
  return `${value.toLocaleString(language, { maximumFractionDigits: digits })} ${units[unit]}`;
}

/** 95 -> "1.6 min", 7200 -> "2 h" (GPU time). */
export function formatSeconds(seconds: number, language = "en"): string {
  const fmt = (v: number) => v.toLocaleString(language, { maximumFractionDigits: 1 });
  if (seconds < 60) return `${fmt(seconds)} s`;
  if (seconds < 3600) return `${fmt(seconds / 60)} min`;
  return `${fmt(seconds / 3600)} h`;
}

/** The admin form: one text per quota, "" = the server default, "0" = unlimited. */
export type QuotaDraft = Record<QuotaKey, string>;

export function quotaDraft(quota: Quota): QuotaDraft {
  const draft = {} as QuotaDraft;
  for (const key of QUOTA_KEYS) {
    const value = quota.limits[key];
    draft[key] = quota.overridden.includes(key) ? String(key === "bytes_per_day" ? value / MB : value) : "";
  }
  return draft;
}

/** The quotas of a draft that are not a number the API takes (negative, or not whole). */
export function draftErrors(draft: QuotaDraft): QuotaKey[] {
  return QUOTA_KEYS.filter((key) => {
    const text = draft[key].trim().replace(",", ".");
    if (text === "") return false;
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) return true;
    return WHOLE.has(key) && key !== "bytes_per_day" && !Number.isInteger(value);
  });
}

/** The PUT body: every quota, null where the draft leaves it to the default. */
export function quotaBody(draft: QuotaDraft): QuotaIn {
  const bad = draftErrors(draft);
  if (bad.length) throw new Error(`invalid quota: ${bad.join(", ")}`);
  const body: QuotaIn = {};
  for (const key of QUOTA_KEYS) {
    const text = draft[key].trim().replace(",", ".");
    if (text === "") {
      body[key] = null;
      continue;
    }
    const value = Number(text);
    body[key] = key === "bytes_per_day" ? Math.round(value * MB) : value;
  }
  return body;
}
