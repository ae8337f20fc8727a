// The current case (purpose binding): the open case the user works under, remembered for the
// browser session (sessionStorage) and sent as X-AIMA-Case with every API request. Face and
// voice search, "seen before?", dossiers and exports are refused without one when the
// installation requires cases (AIMA_PRIVACY__CASES_REQUIRED, the default).
import type { Middleware } from "openapi-fetch";

export const CASE_HEADER = "X-AIMA-Case";
const STORAGE_KEY = "aima.case";

export interface CaseStore {
  /** The chosen case id, or null. */
  get(): string | null;
  set(id: string | null): void;
  subscribe(listener: () => void): () => void;
}

function sessionStore(): Storage | null {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null; // storage refused (privacy settings): the choice lives in memory only
  }
}

export function createCaseStore(storage: Storage | null = sessionStore()): CaseStore {
  let current = storage?.getItem(STORAGE_KEY) || null;
  const listeners = new Set<() => void>();
  return {
    get: () => current,
    set(id) {
      const next = id?.trim() || null;
      if (next === current) return;
      current = next;
      if (next) storage?.setItem(STORAGE_KEY, next);
      else storage?.removeItem(STORAGE_KEY);
      listeners.forEach((listener) => listener());
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** openapi-fetch middleware: the current case on every request that does not name its own. */
export function caseMiddleware(currentCase: () => string | null): Middleware {
  return {
    onRequest({ request }) {
      const id = currentCase();
      if (id && !request.headers.has(CASE_HEADER)) request.headers.set(CASE_HEADER, id);
      return request;
    },
  };
}

/** A link the browser follows itself (downloads) cannot carry the header: `?case=` instead. */
export function withCase(url: string, caseId: string | null): string {
  if (!caseId) return url;
  return `${url}${url.includes("?") ? "&" : "?"}case=${encodeURIComponent(caseId)}`;
}

export type CaseProblem = "missing" | "refused" | "closed";

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; details?: unknown };
}

/**
 * Whether an API error is about the case: "missing" (400, no case given while cases are
 * required), "closed" (409 naming the case) or "refused" (403: not a member). Null otherwise.
 */
export function caseProblem(error: unknown): CaseProblem | null {
  if (typeof error !== "object" || error === null) return null;
  const inner = (error as ErrorBody).error;
  if (!inner) return null;
  const details = (typeof inner.details === "object" && inner.details !== null ? inner.details : {}) as Record<
    string,
    unknown
  >;
  const message = typeof inner.message === "string" ? inner.message : "";
  if (inner.code === "bad_request" && "purpose" in details) return "missing";
  if (inner.code === "conflict" && "case" in details) return "closed";
  if (inner.code === "forbidden" && /\bcase\b/.test(message)) return "refused";
  return null;
}
