// Retention rules in the admin page: the form's values, their checks (the API's own limits,
// said before the click) and the request body they become.
import type { components } from "../../api";

export type Rule = components["schemas"]["RuleOut"];
export type RuleIn = components["schemas"]["RuleIn"];
export type RuleRun = components["schemas"]["RunOut"];
export type Action = RuleIn["action"];
export type Kind = NonNullable<RuleIn["media_kind"]>;

export const ACTIONS: readonly Action[] = ["delete_raw", "delete_media"];
export const KINDS: readonly Kind[] = ["image", "video", "audio"];
export const MAX_DAYS = 36500;
const LIBRARY = /^[a-z0-9_-]{1,64}$/;

/** What the form holds: text as typed, "" for "every kind". */
export interface RuleDraft {
  library: string;
  kind: Kind | "";
  action: Action;
  afterDays: string | number;
  enabled: boolean;
}

export const EMPTY_DRAFT: RuleDraft = { library: "default", kind: "", action: "delete_raw", afterDays: 30, enabled: true };

export function draftOf(rule: Rule): RuleDraft {
  return {
    library: rule.library,
    kind: isKind(rule.media_kind) ? rule.media_kind : "",
    action: isAction(rule.action) ? rule.action : "delete_raw",
    afterDays: rule.after_days,
    enabled: rule.enabled,
  };
}

export const isKind = (value: unknown): value is Kind => (KINDS as readonly unknown[]).includes(value);
export const isAction = (value: unknown): value is Action => (ACTIONS as readonly unknown[]).includes(value);

export type DraftProblem = { field: "library" | "afterDays"; problem: "library" | "days" };

/** The first thing the API would refuse in a draft, or null. */
export function draftProblem(draft: RuleDraft): DraftProblem | null {
  if (!LIBRARY.test(draft.library.trim())) return { field: "library", problem: "library" };
  const days = typeof draft.afterDays === "number" ? draft.afterDays : Number(draft.afterDays);
  if (String(draft.afterDays).trim() === "" || !Number.isInteger(days) || days < 0 || days > MAX_DAYS) {
    return { field: "afterDays", problem: "days" };
  }
  return null;
}

/** The body of POST /retention/rules (and of PATCH, which takes the same fields). */
export function ruleBody(draft: RuleDraft): RuleIn {
  const problem = draftProblem(draft);
  if (problem) throw new Error(`invalid rule draft: ${problem.field}`);
  return {
    library: draft.library.trim(),
    media_kind: draft.kind === "" ? null : draft.kind,
    action: draft.action,
    after_days: Number(draft.afterDays),
    enabled: draft.enabled,
  };
}

/** Totals of a run over every rule it applied. */
export function runTotals(runs: readonly RuleRun[]): { media: number; skipped: number; rules: number } {
  return {
    media: runs.reduce((sum, r) => sum + r.count, 0),
    skipped: runs.reduce((sum, r) => sum + r.skipped.length, 0),
    rules: runs.length,
  };
}
