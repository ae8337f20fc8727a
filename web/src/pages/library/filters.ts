// The Library's filters, sort and view live in the address bar: shareable, and Back works.
import type { paths } from "../../api";

export type MediaQuery = NonNullable<paths["/api/v1/media"]["get"]["parameters"]["query"]>;
export type TriState = "any" | "yes" | "no";
export type View = "grid" | "list";

export interface Filters {
  kind: "" | "image" | "video" | "audio";
  from: string; // yyyy-mm-dd (inclusive)
  to: string; // yyyy-mm-dd (inclusive)
  flagged: TriState;
  faces: TriState;
  speech: TriState;
  state: string;
  person: string;
  q: string;
  sort: string;
}

export const SORTS = ["-created_at", "created_at", "name", "-name", "-size", "size", "-duration", "duration", "kind"] as const;
export const JOB_STATES = ["queued", "running", "succeeded", "partial", "failed", "cancelled"] as const;
export const KINDS = ["image", "video", "audio"] as const;

const TRI: readonly TriState[] = ["any", "yes", "no"];
const tri = (value: string | null): TriState => (TRI.includes(value as TriState) ? (value as TriState) : "any");

export function readFilters(params: URLSearchParams): Filters {
  const kind = params.get("kind") ?? "";
  const sort = params.get("sort") ?? "";
  return {
    kind: (KINDS as readonly string[]).includes(kind) ? (kind as Filters["kind"]) : "",
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
    flagged: tri(params.get("flagged")),
    faces: tri(params.get("faces")),
    speech: tri(params.get("speech")),
    state: (JOB_STATES as readonly string[]).includes(params.get("state") ?? "") ? (params.get("state") as string) : "",
    person: params.get("person") ?? "",
    q: params.get("q") ?? "",
    sort: (SORTS as readonly string[]).includes(sort) ? sort : "-created_at",
  };
}

export function readView(params: URLSearchParams): View {
  return params.get("view") === "list" ? "list" : "grid";
}

/** New search params with one filter changed (defaults are left out of the address). */
export function withFilter(params: URLSearchParams, key: keyof Filters | "view", value: string): URLSearchParams {
  const next = new URLSearchParams(params);
  const isDefault = value === "" || value === "any" || (key === "sort" && value === "-created_at") || (key === "view" && value === "grid");
  if (isDefault) next.delete(key);
  else next.set(key, value);
  return next;
}

const asBool = (value: TriState): boolean | undefined => (value === "any" ? undefined : value === "yes");

function nextDay(day: string): string | undefined {
  const date = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return undefined;
  date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString();
}

/** The GET /api/v1/media query for these filters (without limit/offset). */
export function toQuery(filters: Filters): MediaQuery {
  const query: MediaQuery = { sort: filters.sort };
  if (filters.kind) query.kind = filters.kind;
  if (filters.from) query.created_from = `${filters.from}T00:00:00Z`;
  if (filters.to) {
    const end = nextDay(filters.to);
    if (end) query.created_to = end;
  }
  const flagged = asBool(filters.flagged);
  const faces = asBool(filters.faces);
  const speech = asBool(filters.speech);
  if (flagged !== undefined) query.flagged = flagged;
  if (faces !== undefined) query.has_faces = faces;
  if (speech !== undefined) query.has_speech = speech;
  if (filters.state) query.job_state = filters.state as MediaQuery["job_state"];
  if (filters.person) query.person_id = filters.person;
  if (filters.q.trim()) query.q = filters.q.trim();
  return query;
}

export function activeFilterCount(filters: Filters): number {
  const { sort: _sort, q: _q, ...rest } = filters;
  return Object.values(rest).filter((value) => value !== "" && value !== "any").length;
}
