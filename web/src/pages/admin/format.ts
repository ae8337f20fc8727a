// Small formatting helpers for the admin tables.
import type { Role } from "../../api";

export const ROLES: readonly Role[] = ["admin", "analyst", "uploader", "viewer", "auditor"];

/** An ISO timestamp in the reader's locale, to the minute. */
export function formatWhen(iso: string | null | undefined): string {
  if (!iso) return "–";
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? iso : when.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

export function shortHash(hash: string | null | undefined): string {
  return hash ? `${hash.slice(0, 12)}…` : "–";
}
