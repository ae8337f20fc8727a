// Shapes of the search answers the OpenAPI document leaves open (search by face / voice), and
// small helpers shared by the search and admin pages.

export interface Appearance {
  observation_id: number;
  media_id: string;
  start: number | null;
  end: number | null;
  score: number;
}

export interface PersonHit {
  person_id: string;
  name: string | null;
  score: number;
  appearances: Appearance[];
}

export interface ObservationHit extends Appearance {
  person_id: string | null;
  media_name: string | null;
  crop: string | null;
}

export interface QueryHit {
  face?: { box: number[]; confidence: number };
  speaker?: { id: string; speech_s: number | null };
  persons: PersonHit[];
  observations: ObservationHit[];
}

export interface ExampleSearchResult {
  query: { sha256: string; name: string; faces?: number; speakers?: number };
  model_id: string;
  results: QueryHit[];
}

/** The media view at a moment: every hit links here. */
export function mediaLink(mediaId: string, seconds: number | null | undefined): string {
  const t = seconds == null ? 0 : Math.max(0, Math.round(seconds * 10) / 10);
  return `/media/${encodeURIComponent(mediaId)}?t=${t}`;
}

/** 75.4 -> "1:15", 3725 -> "1:02:05". */
export function clock(seconds: number | null | undefined): string {
  const total = Math.max(0, Math.floor(seconds ?? 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function percent(score: number): string {
  return `${Math.round(score * 100)} %`;
}

/** The API's own words for a refused request ({"error": {"message"}}), else the HTTP status. */
export function apiMessage(error: unknown, status?: number): string {
  if (typeof error === "object" && error !== null && "error" in error) {
    const inner = (error as { error?: { message?: unknown } }).error;
    if (inner && typeof inner.message === "string" && inner.message) return inner.message;
  }
  if (error instanceof Error) return error.message;
  return status ? `HTTP ${status}` : String(error);
}

/** "the [budget] meeting" -> alternating plain / marked parts. */
export function snippetParts(snippet: string): { text: string; marked: boolean }[] {
  return snippet
    .split(/(\[[^\]]*\])/)
    .filter((part) => part !== "")
    .map((part) =>
      part.startsWith("[") && part.endsWith("]")
        ? { text: part.slice(1, -1), marked: true }
        : { text: part, marked: false },
    );
}

/** A list of hits without bullets (ordered: rank matters). */
export const LIST = { listStyle: "none", margin: 0, padding: 0, display: "grid", gap: 8 } as const;
