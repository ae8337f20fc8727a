import { describe, expect, it } from "vitest";
import { boxesAt, buildLanes, clock, faceFrames, indexAt, openSpans, resultCounts, type ResultOut, type Timeline } from "./model";

describe("media model", () => {
  it("builds one face lane per person, named speakers and the other lanes", () => {
    const timeline = {
      media: { duration_s: 30 },
      summary: {},
      tracks: {
        faces: [
          { id: "face-1", start: 5, end: 8, person_id: "p1", person_name: "Ada", crop: "c1", top_emotion: "happy" },
          { id: "face-0", start: 1, end: 3, person_id: "p1", person_name: "Ada", crop: null, top_emotion: null },
          { id: "face-2", start: 2, end: 4, person_id: null, person_name: null, crop: null, top_emotion: null },
        ],
        speakers: [{ id: "S1", person_name: "Grace", turns: [{ start: 0, end: 2, confidence: 1 }] }],
        ocr: [{ start: 2, end: 4, text: "WELCOME" }],
      },
    } as unknown as Timeline;
    const lanes = buildLanes(timeline);
    expect(lanes.map((l) => [l.kind, l.title || l.titleKey])).toEqual([
      ["faces", "Ada"],
      ["faces", "faces"],
      ["emotions", "emotions"],
      ["speakers", "Grace"],
      ["ocr", "ocr"],
    ]);
    expect(lanes[0]?.spans.map((s) => s.start)).toEqual([1, 5]);
    expect(lanes[0]?.crop).toBe("c1");
  });

  it("finds the boxes of the latest keyframe at or before a time", () => {
    const results = [
      {
        accepted: true,
        analyzer: "faces",
        data: {
          faces: [
            { t: 2, box: [0.1, 0.1, 0.2, 0.2], confidence: 0.9 },
            { t: 0, box: [0, 0, 0.1, 0.1], confidence: 0.9 },
            { t: 2, box: [0.5, 0.5, 0.2, 0.2], confidence: 0.8 },
          ],
          keyframes: [0, 2, 4],
        },
      },
    ] as unknown as ResultOut[];
    const frames = faceFrames(results);
    expect(boxesAt(frames, 1.9)).toHaveLength(1);
    expect(boxesAt(frames, 2)).toHaveLength(2);
    expect(boxesAt(frames, -1)).toHaveLength(0);
    expect(boxesAt(frames, 4.5)).toHaveLength(0); // the face left at the keyframe at 4 s
    expect(resultCounts(results[0])).toEqual({ faces: 3, keyframes: 3 });
  });

  it("looks items up by time and formats clocks", () => {
    const items = [
      { start: 0, end: 1 },
      { start: 2, end: 3 },
    ];
    expect([indexAt(items, 0.5), indexAt(items, 1.5), indexAt(items, 2), indexAt(items, 9)]).toEqual([0, -1, 1, -1]);
    expect([clock(65), clock(3723)]).toEqual(["1:05", "1:02:03"]);
  });
});

describe("open lanes (scenes analyzer)", () => {
  it("reads scenes and restraint flags the schema leaves untyped, skipping malformed items", () => {
    const timeline = {
      media: { duration_s: 10 },
      tracks: {
        scenes: [{ start: 1, end: 3, description: "a hallway" }, { start: "x", end: 2 }],
        restraints: [{ start: 2, end: 2, label: "handcuffs", text: "handcuffs (unreviewed, 0.40)" }],
      },
    } as unknown as Timeline;
    const lanes = buildLanes(timeline);
    expect(lanes.map((l) => [l.kind, l.spans.map((s) => s.label)])).toEqual([
      ["scenes", ["a hallway"]],
      ["restraints", ["handcuffs (unreviewed, 0.40)"]],
    ]);
    expect(openSpans("nope", () => "")).toEqual([]);
  });
});
