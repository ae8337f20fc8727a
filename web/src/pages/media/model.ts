// Pure functions of the media view: timeline -> lanes, boxes at a time, transcript lookup.
import type { components } from "../../api";

export type Timeline = components["schemas"]["Timeline"];
export type TranscriptItem = components["schemas"]["TranscriptLaneItem"];
export type FaceItem = components["schemas"]["FaceLaneItem"];
export type ResultOut = components["schemas"]["ResultOut"];

export type LaneKind =
  | "faces"
  | "emotions"
  | "bodies"
  | "objects"
  | "speakers"
  | "speech"
  | "ocr"
  | "nsfw"
  | "scenes"
  | "restraints";

export interface Span {
  start: number;
  end: number;
  /** Drawn inside the span when it fits and read out for keyboard users. */
  label: string;
}

export interface Lane {
  key: string;
  kind: LaneKind;
  /** Translated by the caller when `titleKey` is set; else shown as is (a person's name). */
  title: string;
  titleKey?: LaneKind;
  /** Face crop (artifact sha256) shown next to the lane title. */
  crop?: string | null;
  spans: Span[];
}

export const LANE_COLORS: Record<LaneKind, string> = {
  faces: "#1c7ed6",
  emotions: "#e8590c",
  bodies: "#5f3dc4",
  objects: "#2b8a3e",
  speakers: "#0b7285",
  speech: "#495057",
  ocr: "#a61e4d",
  nsfw: "#c92a2a",
  scenes: "#364fc7",
  restraints: "#862e9c",
};

const byStart = (a: Span, b: Span) => a.start - b.start;

/** Every lane the timeline has data for, on one time axis; spans sorted by start. */
export function buildLanes(timeline: Timeline): Lane[] {
  const tracks = timeline.tracks;
  const lanes: Lane[] = [];
  // faces: one lane per person (unassigned tracks share one lane)
  const people = new Map<string, Lane>();
  for (const face of tracks.faces ?? []) {
    const key = face.person_id ?? "";
    let lane = people.get(key);
    if (!lane) {
      lane = {
        key: `faces:${key || "unassigned"}`,
        kind: "faces",
        title: face.person_name ?? "",
        titleKey: face.person_name ? undefined : "faces",
        crop: face.crop,
        spans: [],
      };
      people.set(key, lane);
    }
    if (!lane.crop && face.crop) lane.crop = face.crop;
    lane.spans.push({ start: face.start, end: face.end, label: face.person_name ?? face.id });
  }
  lanes.push(...people.values());
  const emotions = (tracks.faces ?? [])
    .filter((f) => f.top_emotion)
    .map((f) => ({ start: f.start, end: f.end, label: f.top_emotion ?? "" }));
  const add = (kind: LaneKind, spans: Span[], title?: string, key: string = kind) => {
    if (spans.length > 0) lanes.push({ key, kind, title: title ?? "", titleKey: title ? undefined : kind, spans });
  };
  add("emotions", emotions);
  add("bodies", (tracks.bodies ?? []).map((b) => ({ start: b.start, end: b.end, label: b.id })));
  add("objects", (tracks.objects ?? []).map((o) => ({ start: o.start, end: o.end, label: o.label })));
  for (const speaker of tracks.speakers ?? []) {
    add(
      "speakers",
      speaker.turns.map((t) => ({ start: t.start, end: t.end, label: speaker.person_name ?? speaker.id })),
      speaker.person_name ?? speaker.id,
      `speakers:${speaker.id}`,
    );
  }
  add("speech", (tracks.speech ?? []).map((s) => ({ start: s.start, end: s.end, label: "" })));
  add("ocr", (tracks.ocr ?? []).map((o) => ({ start: o.start, end: o.end, label: o.text })));
  add(
    "nsfw",
    (tracks.nsfw ?? []).map((n) => ({ start: n.start, end: n.end, label: (n.labels ?? []).join(", ") })),
  );
  // lanes the typed schema leaves open (the scenes analyzer's): read defensively
  add("scenes", openSpans(tracks["scenes"], (item) => text(item["description"])));
  add("restraints", openSpans(tracks["restraints"], (item) => text(item["text"]) || text(item["label"])));
  for (const lane of lanes) lane.spans.sort(byStart);
  return lanes;
}

const text = (value: unknown): string => (typeof value === "string" ? value : "");

/** Spans of a lane the OpenAPI document types only as "unknown": items with numeric start/end. */
export function openSpans(value: unknown, label: (item: Record<string, unknown>) => string): Span[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((raw: unknown) => {
    if (typeof raw !== "object" || raw === null) return [];
    const item = raw as Record<string, unknown>;
    const { start, end } = item;
    if (typeof start !== "number" || typeof end !== "number") return [];
    return [{ start, end: Math.max(start, end), label: label(item) }];
  });
}

/** The end of the time axis: the media's duration, else the last thing on any lane. */
export function timelineEnd(timeline: Timeline, lanes: Lane[]): number {
  const duration = Number(timeline.media.duration_s ?? 0);
  if (duration > 0) return duration;
  let end = 0;
  for (const lane of lanes) for (const s of lane.spans) end = Math.max(end, s.end);
  return Math.max(end, 1);
}

export interface Box {
  box: number[];
  confidence: number;
}

/** Face detections of the latest analysed keyframe at or before `t` (boxes as frame fractions). */
export function boxesAt(frames: { t: number; boxes: Box[] }[], t: number): Box[] {
  let lo = 0;
  let hi = frames.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (frames[mid]!.t <= t + 1e-3) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return frames[found]?.boxes ?? [];
}

/** The faces result's detections per analysed keyframe, sorted; keyframes without a face are
 * kept (empty) so no box lingers over the frames after a face left. */
export function faceFrames(results: ResultOut[] | undefined): { t: number; boxes: Box[] }[] {
  const faces = results?.find((r) => r.accepted && r.analyzer === "faces");
  const data = faces?.data as
    | { faces?: { t: number; box: number[]; confidence: number }[]; keyframes?: number[] }
    | undefined;
  const detections = data?.faces;
  const byT = new Map<number, Box[]>((data?.keyframes ?? []).map((t) => [t, []]));
  for (const d of detections ?? []) {
    const list = byT.get(d.t) ?? [];
    list.push({ box: d.box, confidence: d.confidence });
    byT.set(d.t, list);
  }
  return [...byT.entries()].sort((a, b) => a[0] - b[0]).map(([t, boxes]) => ({ t, boxes }));
}

/** Index of the item whose [start, end) holds t; items sorted by start. -1 when none. */
export function indexAt(items: readonly { start: number; end: number }[], t: number): number {
  let lo = 0;
  let hi = items.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid]!.start <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 && t < items[found]!.end ? found : -1;
}

/** "1:05" or "1:02:03". */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** Counts of what a result holds (array lengths of its data), to compare two versions. */
export function resultCounts(result: ResultOut | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (!result) return out;
  for (const [key, value] of Object.entries(result.data as Record<string, unknown>)) {
    if (Array.isArray(value)) out[key] = value.length;
  }
  return out;
}
