// The review queue's shapes (from the generated schema) and the small pure helpers the page uses.
import type { components } from "../../api";

export type ReviewItem = components["schemas"]["ReviewItemOut"];
export const REVIEW_STATES = ["unreviewed", "confirmed", "dismissed"] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];
export type ReviewFilter = ReviewState | "all";
export type Decision = "confirm" | "dismiss";

export function isReviewState(value: unknown): value is ReviewState {
  return typeof value === "string" && (REVIEW_STATES as readonly string[]).includes(value);
}

/** Unreviewed first (a person's work), then newest first within each state. */
export function reviewOrder(items: readonly ReviewItem[]): ReviewItem[] {
  const rank = (state: string) => (state === "unreviewed" ? 0 : 1);
  return [...items].sort(
    (a, b) => rank(a.state) - rank(b.state) || b.created_at.localeCompare(a.created_at) || a.id.localeCompare(b.id),
  );
}

/** A dismissal needs a reason someone can audit later; a confirmation may go without. */
export function noteMissing(decision: Decision, note: string): boolean {
  return decision === "dismiss" && note.trim() === "";
}

/** Badge colours with white text at WCAG AA contrast. */
export function reviewColor(state: string): string {
  if (state === "confirmed") return "red.9";
  if (state === "dismissed") return "gray.7";
  return "violet.9";
}
