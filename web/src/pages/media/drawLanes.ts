// Draws every lane's spans on one canvas (a ruler on top, one row per lane). Only spans in the
// visible window are drawn and spans thinner than a pixel that land on the same pixel are
// drawn once, so 10,000 events cost a few milliseconds.
import { clock, LANE_COLORS, type Lane } from "./model";

export const RULER = 22;
export const ROW = 30;

export interface View {
  start: number;
  end: number;
}

export type Ctx = Pick<
  CanvasRenderingContext2D,
  | "clearRect"
  | "fillRect"
  | "fillText"
  | "save"
  | "restore"
  | "beginPath"
  | "rect"
  | "clip"
  | "setTransform"
  | "measureText"
> & { fillStyle: unknown; font: string; textBaseline: CanvasTextBaseline; globalAlpha: number };

const STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

export function tickStep(span: number, width: number): number {
  const wanted = (span * 80) / Math.max(width, 1); // a tick every ~80 px
  return STEPS.find((s) => s >= wanted) ?? 7200;
}

/** Draws and returns how many span rectangles it drew. */
export function drawLanes(
  ctx: Ctx,
  lanes: Lane[],
  view: View,
  width: number,
  options: { text: string; grid: string; selected?: { lane: number; span: number } | null },
): number {
  const height = RULER + lanes.length * ROW;
  ctx.clearRect(0, 0, width, height);
  const span = Math.max(view.end - view.start, 1e-6);
  const px = width / span;
  const x = (t: number) => (t - view.start) * px;
  // ruler
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  const step = tickStep(span, width);
  for (let t = Math.ceil(view.start / step) * step; t <= view.end; t += step) {
    ctx.fillStyle = options.grid;
    ctx.fillRect(Math.round(x(t)), RULER - 6, 1, height);
    ctx.fillStyle = options.text;
    ctx.fillText(clock(t) + (step < 1 ? `.${Math.round((t % 1) * 10)}` : ""), Math.round(x(t)) + 3, 8);
  }
  let drawn = 0;
  lanes.forEach((lane, row) => {
    const top = RULER + row * ROW + 4;
    const h = ROW - 8;
    ctx.fillStyle = options.grid;
    ctx.fillRect(0, RULER + (row + 1) * ROW - 1, width, 1);
    ctx.fillStyle = LANE_COLORS[lane.kind];
    let lastPixel = -1;
    for (let i = 0; i < lane.spans.length; i++) {
      const s = lane.spans[i]!;
      if (s.start > view.end) break;
      if (s.end < view.start) continue;
      const x0 = Math.max(0, x(s.start));
      const x1 = Math.min(width, x(s.end));
      const w = Math.max(1, x1 - x0);
      if (w <= 1 && Math.floor(x0) === lastPixel) continue;
      lastPixel = Math.floor(x0);
      ctx.fillRect(x0, top, w, h);
      drawn++;
      if (w > 36 && s.label) {
        ctx.save();
        ctx.beginPath();
        ctx.rect(x0, top, w, h);
        ctx.clip();
        ctx.fillStyle = "#ffffff";
        ctx.fillText(s.label, x0 + 4, top + h / 2);
        ctx.restore();
        ctx.fillStyle = LANE_COLORS[lane.kind];
      }
    }
  });
  const sel = options.selected;
  const s = sel ? lanes[sel.lane]?.spans[sel.span] : undefined;
  if (sel && s) {
    ctx.fillStyle = options.text;
    const top = RULER + sel.lane * ROW + 1;
    const x0 = Math.max(0, x(s.start));
    const w = Math.max(3, Math.min(width, x(s.end)) - x0);
    ctx.fillRect(x0, top, w, 2);
    ctx.fillRect(x0, top + ROW - 4, w, 2);
  }
  return drawn;
}

/** The span under a point of the canvas (CSS pixels), else null. */
export function spanAt(lanes: Lane[], view: View, width: number, px: number, py: number) {
  const row = Math.floor((py - RULER) / ROW);
  if (row < 0 || row >= lanes.length) return null;
  const t = view.start + (px / width) * (view.end - view.start);
  const tolerance = (3 / width) * (view.end - view.start); // 3 px either side
  const spans = lanes[row]?.spans ?? [];
  let best = -1;
  for (let i = 0; i < spans.length && spans[i]!.start <= t + tolerance; i++) {
    if (spans[i]!.end >= t - tolerance) best = i;
  }
  return { row, t, span: best };
}
