// Shapes the people pages read; the typed ones come from the generated schema, the dossier and
// "seen before" are open JSON objects in OpenAPI, so their fields are described here.
import type { TFunction } from "i18next";
import type { components } from "../../api";

export type PersonSummary = components["schemas"]["PersonSummaryOut"];
export type Person = components["schemas"]["PersonOut"];
export type Observation = components["schemas"]["ObservationOut"];
export type Link = components["schemas"]["LinkOut"];
export type Correction = components["schemas"]["CorrectionOut"];
export type CoAppearances = components["schemas"]["CoAppearancesOut"];

export interface Citation {
  media_id: string;
  media_name: string;
  start: number;
  end: number;
  analyzer: string;
  confidence: number | null;
}

export interface Fact {
  id: string;
  kind: string;
  statement: string;
  data: Record<string, unknown>;
  citations: Citation[];
}

export interface Dossier {
  person: { id: string; name: string | null };
  summary: Record<string, unknown>;
  sections: Record<string, string[]>;
  facts: Fact[];
  notes: string[];
}

export interface SeenBeforeMatch {
  observation_id: number;
  person_id: string | null;
  media_id: string;
  media_name: string | null;
  kind: string;
  start: number;
  end: number;
  crop: string | null;
  score: number;
}

export const artifactUrl = (mediaId: string, sha256: string) =>
  `/api/v1/media/${encodeURIComponent(mediaId)}/artifacts/${encodeURIComponent(sha256)}`;

export const mediaLink = (mediaId: string, t: number) =>
  `/media/${encodeURIComponent(mediaId)}?t=${Math.max(0, Math.round(t * 100) / 100)}`;

/** "Unknown person 3f9c1a" for persons without a name. */
export function personLabel(t: TFunction, id: string, name: string | null | undefined): string {
  return name?.trim() ? name : t("people.unknown", { id: id.replace(/^per_/, "").slice(-6) });
}

/** The first crop of a listing entry as an artifact URL, if it has one. */
export function firstCrop(p: PersonSummary): string | null {
  const media = p.crop_media ?? [];
  for (let i = 0; i < p.crops.length; i++) {
    const sha = p.crops[i];
    const mediaId = media[i];
    if (sha && mediaId) return artifactUrl(mediaId, sha);
  }
  return null;
}

export function seconds(value: number): string {
  if (value < 60) return `${Math.round(value * 10) / 10} s`;
  const m = Math.floor(value / 60);
  return `${m}:${String(Math.round(value - m * 60)).padStart(2, "0")} min`;
}
