import { fireEvent, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { drawLanes, ROW, RULER } from "./drawLanes";
import { buildLanes, type Lane, type Timeline } from "./model";
import { TimelineLanes } from "./TimelineLanes";
import { fakeContext, renderWithProviders } from "./testUtils";

/** `n` events spread over an hour across eight lanes (faces of 4 persons, OCR, speech, nsfw). */
export function syntheticTimeline(n: number): Timeline {
  const per = Math.floor(n / 8);
  const at = (i: number) => (i * 3600) / per;
  const faces = Array.from({ length: per * 4 }, (_, i) => ({
    id: `face-${i}`,
    start: at(i >> 2),
    end: at(i >> 2) + 2,
    seen_until: at(i >> 2) + 2,
    confidence: 0.9,
    detections: 1,
    crop: null,
    emotions: {},
    top_emotion: i % 2 ? "happy" : null,
    person_id: `per_${i % 4}`,
    person_name: `Person ${i % 4}`,
    person_named: true,
  }));
  return {
    media: { id: "med_x", duration_s: 3600, kind: "video" },
    summary: {},
    tracks: {
      faces,
      ocr: Array.from({ length: per }, (_, i) => ({
        start: at(i),
        end: at(i) + 1,
        text: `line ${i}`,
        language: null,
        confidence: 0.9,
        box: null,
        seen_until: at(i) + 1,
      })),
      speech: Array.from({ length: per }, (_, i) => ({ start: at(i), end: at(i) + 1.5, confidence: 0.8 })),
      nsfw: Array.from({ length: n - per * 7 }, (_, i) => ({ start: at(i), end: at(i) + 0.5, score: 0.9, labels: [] })),
    },
  } as unknown as Timeline;
}

describe("TimelineLanes", () => {
  let fake: ReturnType<typeof fakeContext>;
  beforeEach(() => {
    fake = fakeContext();
    vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(
      () => fake.ctx as unknown as CanvasRenderingContext2D,
    );
    vi.spyOn(HTMLElement.prototype, "clientWidth", "get").mockReturnValue(600); // jsdom lays nothing out
  });
  afterEach(() => vi.restoreAllMocks());

  it("renders 10,000 events (time printed, not asserted)", () => {
    const timeline = syntheticTimeline(10_000);
    const t0 = performance.now();
    const lanes = buildLanes(timeline);
    const t1 = performance.now();
    renderWithProviders(<TimelineLanes mediaId="med_x" lanes={lanes} end={3600} time={0} onSeek={() => undefined} />);
    const t2 = performance.now();
    const { unmount } = renderWithProviders(
      <TimelineLanes mediaId="med_x" lanes={lanes} end={3600} time={0} onSeek={() => undefined} />,
    );
    const t3 = performance.now();
    unmount();
    const events = lanes.reduce((sum, lane) => sum + lane.spans.length, 0);
    console.log(
      `[bench] timeline of ${events} events in ${lanes.length} lanes: buildLanes ${(t1 - t0).toFixed(1)} ms, ` +
        `render+draw ${(t2 - t1).toFixed(1)} ms (first, cold jsdom) / ${(t3 - t2).toFixed(1)} ms (again), ` +
        `${fake.calls.fillRect} rectangles drawn`,
    );
    expect(events).toBeGreaterThanOrEqual(10_000);
    expect(screen.getByText("Person 0")).toBeInTheDocument();
    expect(screen.getByText("On-screen text")).toBeInTheDocument();
    expect(fake.calls.fillRect).toBeGreaterThan(0);
  });

  it("clicking a span seeks to its start; the keyboard picks and plays spans", () => {
    const lanes: Lane[] = [
      { key: "faces:a", kind: "faces", title: "Ada", spans: [{ start: 10, end: 20, label: "Ada" }, { start: 50, end: 60, label: "Ada" }] },
      { key: "ocr", kind: "ocr", title: "", titleKey: "ocr", spans: [{ start: 30, end: 40, label: "HELLO" }] },
    ];
    const onSeek = vi.fn();
    renderWithProviders(<TimelineLanes mediaId="m" lanes={lanes} end={100} time={0} onSeek={onSeek} />);
    const canvas = screen.getByTestId("timeline-canvas");
    vi.spyOn(canvas, "getBoundingClientRect").mockReturnValue({ left: 0, top: 0, width: 600, height: 100 } as DOMRect);
    // the lanes are 600 px wide: 100 s -> 6 px per second
    fireEvent.click(canvas, { clientX: 35 * 6, clientY: RULER + ROW + ROW / 2 });
    expect(onSeek).toHaveBeenLastCalledWith(30);
    fireEvent.click(canvas, { clientX: 15 * 6, clientY: RULER + ROW / 2 });
    expect(onSeek).toHaveBeenLastCalledWith(10);

    const group = screen.getByRole("group", { name: "Timeline lanes" });
    fireEvent.keyDown(group, { key: "ArrowRight" });
    fireEvent.keyDown(group, { key: "Enter" });
    expect(onSeek).toHaveBeenLastCalledWith(50);
    expect(screen.getByText("Ada: Ada, 0:50 to 1:00")).toBeInTheDocument();
    fireEvent.keyDown(group, { key: "ArrowDown" });
    fireEvent.keyDown(group, { key: " " });
    expect(onSeek).toHaveBeenLastCalledWith(30);
  });

  it("draws only what is in the visible window", () => {
    const lanes = buildLanes(syntheticTimeline(10_000));
    const t0 = performance.now();
    const all = drawLanes(fake.ctx, lanes, { start: 0, end: 3600 }, 1000, { text: "#000", grid: "#ccc" });
    console.log(`[bench] drawLanes over ${lanes.reduce((n, l) => n + l.spans.length, 0)} events: ${(performance.now() - t0).toFixed(1)} ms`);
    const zoomed = drawLanes(fake.ctx, lanes, { start: 0, end: 60 }, 1000, { text: "#000", grid: "#ccc" });
    expect(all).toBeLessThanOrEqual(lanes.length * 1000); // at most one rectangle per pixel column
    expect(zoomed).toBeLessThan(all);
  });
});
