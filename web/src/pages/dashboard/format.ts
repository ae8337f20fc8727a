// Numbers, sizes, durations and times for people, in the page's language.
export const JOB_STATES = ["awaiting_confirmation", "queued", "running", "succeeded", "partial", "failed", "cancelled"] as const;
export type JobStateName = (typeof JOB_STATES)[number];

export function isJobState(value: unknown): value is JobStateName {
  return typeof value === "string" && (JOB_STATES as readonly string[]).includes(value);
}

/** Badge colours (filled, white text) that keep WCAG AA contrast (4.5:1). */
export const OK_COLOR = "teal.9";
export const BAD_COLOR = "red.9";
export const INFO_COLOR = "blue.9";
export const NEUTRAL_COLOR = "gray.7";

export function stateColor(state: string): string {
  switch (state) {
    case "succeeded":
      return OK_COLOR;
    case "running":
      return INFO_COLOR;
    case "partial":
      return "grape.9";
    case "failed":
      return BAD_COLOR;
    case "cancelled":
      return NEUTRAL_COLOR;
    default:
      return "violet.9";
  }
}

export function formatBytes(bytes: number, language: string): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toLocaleString(language, { maximumFractionDigits: digits })} ${units[unit]}`;
}

/** 75 -> "1 min 15 s"; 3700 -> "1 h 2 min". */
export function formatDuration(seconds: number): string {
  if (seconds > 0 && seconds < 0.5) return "< 1 s";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return s % 60 ? `${minutes} min ${s % 60} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
}

export function formatTime(iso: string | null | undefined, language: string): string {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(language, { dateStyle: "short", timeStyle: "medium" });
}

export function percent(progress: number): number {
  return Math.round(Math.min(1, Math.max(0, progress)) * 100);
}
