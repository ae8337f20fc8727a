// The insight timeline: one row per lane on one zoomable time axis, drawn on a <canvas>, with a
// playhead that follows playback. Click a span (or pick it with the arrow keys and press Enter)
// to play from there.
import { ActionIcon, Group, Text, Title, Tooltip, VisuallyHidden } from "@mantine/core";
import { type KeyboardEvent, type MouseEvent, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { TFunction } from "i18next";
import { useTranslation } from "react-i18next";
import { drawLanes, ROW, RULER, spanAt, type View } from "./drawLanes";
import { clock, type Lane } from "./model";

export interface TimelineLanesProps {
  mediaId: string;
  lanes: Lane[];
  end: number;
  time: number;
  onSeek: (t: number) => void;
}

const MAX_ZOOM = 512;

export function TimelineLanes({ mediaId, lanes, end, time, onSeek }: TimelineLanesProps) {
  const { t } = useTranslation();
  const box = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(600);
  const [zoom, setZoom] = useState(1);
  const [viewStart, setViewStart] = useState(0);
  const [selected, setSelected] = useState<{ lane: number; span: number } | null>(null);
  const length = end / zoom;
  const view: View = useMemo(() => ({ start: viewStart, end: viewStart + length }), [viewStart, length]);

  // keep the playhead in sight while zoomed in (when the time moves, not when the user pans)
  useEffect(() => {
    if (time < view.start || time > view.end) {
      setViewStart(Math.min(Math.max(0, time - length * 0.1), Math.max(0, end - length)));
    }
  }, [time]);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setWidth(Math.max(100, el.clientWidth));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const height = RULER + lanes.length * ROW;
  useLayoutEffect(() => {
    const el = canvas.current;
    const ctx = el?.getContext("2d");
    if (!el || !ctx) return;
    const dpr = window.devicePixelRatio || 1;
    el.width = Math.round(width * dpr);
    el.height = Math.round(height * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const style = getComputedStyle(el);
    drawLanes(ctx, lanes, view, width, {
      text: style.color || "#000",
      grid: "rgba(128,128,128,0.35)",
      selected,
    });
  }, [lanes, view, width, height, selected]);

  const zoomTo = (next: number) => {
    const z = Math.min(MAX_ZOOM, Math.max(1, next));
    const len = end / z;
    setZoom(z);
    setViewStart(Math.min(Math.max(0, time - len / 2), Math.max(0, end - len)));
  };

  const onClick = (e: MouseEvent<HTMLCanvasElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    const hit = spanAt(lanes, view, width, e.clientX - rect.left, e.clientY - rect.top);
    if (!hit) return;
    const span = lanes[hit.row]?.spans[hit.span];
    if (span) {
      setSelected({ lane: hit.row, span: hit.span });
      onSeek(span.start);
    } else onSeek(Math.max(0, hit.t));
  };

  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    if (lanes.length === 0) return;
    const cur = selected ?? { lane: 0, span: -1 };
    const move = (lane: number, span: number) => {
      e.preventDefault();
      const l = Math.min(lanes.length - 1, Math.max(0, lane));
      const spans = lanes[l]?.spans ?? [];
      const s = Math.min(spans.length - 1, Math.max(0, span));
      setSelected({ lane: l, span: s });
      const item = spans[s];
      if (item && (item.start < view.start || item.start > view.end)) {
        setViewStart(Math.min(Math.max(0, item.start - length * 0.1), Math.max(0, end - length)));
      }
    };
    const nearest = (lane: number) => {
      const spans = lanes[lane]?.spans ?? [];
      const i = spans.findIndex((s) => s.end >= time);
      return i < 0 ? spans.length - 1 : i;
    };
    if (e.key === "ArrowRight") move(cur.lane, cur.span + 1);
    else if (e.key === "ArrowLeft") move(cur.lane, cur.span - 1);
    else if (e.key === "ArrowDown") move(cur.lane + 1, nearest(cur.lane + 1));
    else if (e.key === "ArrowUp") move(cur.lane - 1, nearest(cur.lane - 1));
    else if ((e.key === "Enter" || e.key === " ") && selected) {
      e.preventDefault();
      onSeek(lanes[selected.lane]?.spans[selected.span]?.start ?? time);
    } else if (e.key === "+" || e.key === "=") zoomTo(zoom * 2);
    else if (e.key === "-") zoomTo(zoom / 2);
  };

  const selLane = selected ? lanes[selected.lane] : undefined;
  const sel = selected ? selLane?.spans[selected.span] : undefined;
  const announce =
    sel && selLane
    ? t("media.timeline.selected", {
        lane: laneTitle(selLane, t),
        label: sel.label,
        from: clock(sel.start),
        to: clock(sel.end),
      })
    : "";
  const playhead = ((time - view.start) / (view.end - view.start)) * 100;

  return (
    <section aria-labelledby="timeline-title">
      <Group justify="space-between" mb={4} wrap="wrap">
        <Title order={3} size="h5" id="timeline-title">
          {t("media.timeline.title")}
        </Title>
        <Group gap={4}>
          <Text size="xs" c="dimmed" mr={4}>
            {t("media.timeline.zoom", { zoom })}
          </Text>
          <Tooltip label={t("media.timeline.zoomOut")}>
            <ActionIcon variant="default" onClick={() => zoomTo(zoom / 2)} aria-label={t("media.timeline.zoomOut")} disabled={zoom <= 1}>
              −
            </ActionIcon>
          </Tooltip>
          <Tooltip label={t("media.timeline.zoomIn")}>
            <ActionIcon variant="default" onClick={() => zoomTo(zoom * 2)} aria-label={t("media.timeline.zoomIn")} disabled={zoom >= MAX_ZOOM}>
              +
            </ActionIcon>
          </Tooltip>
          <Tooltip label={t("media.timeline.fit")}>
            <ActionIcon variant="default" onClick={() => zoomTo(1)} aria-label={t("media.timeline.fit")} disabled={zoom === 1}>
              ↔
            </ActionIcon>
          </Tooltip>
        </Group>
      </Group>
      {lanes.length === 0 ? (
        <Text c="dimmed">{t("media.timeline.empty")}</Text>
      ) : (
        <div className="lanes">
          <ul className="lane-titles" style={{ paddingTop: RULER }}>
            {lanes.map((lane) => (
              <li key={lane.key} style={{ height: ROW }} title={laneTitle(lane, t)}>
                {lane.crop ? (
                  <img src={`/api/v1/media/${encodeURIComponent(mediaId)}/artifacts/${lane.crop}`} alt="" width={24} height={24} />
                ) : null}
                <span>{laneTitle(lane, t)}</span>
              </li>
            ))}
          </ul>
          <div
            ref={box}
            className="lane-canvas"
            tabIndex={0}
            role="group"
            aria-label={t("media.timeline.label")}
            aria-describedby="timeline-help"
            onKeyDown={onKey}
            data-view-start={view.start}
            data-view-end={view.end}
            data-ruler={RULER}
            data-row={ROW}
          >
            <canvas ref={canvas} style={{ width, height }} onClick={onClick} aria-hidden="true" data-testid="timeline-canvas" />
            {playhead >= 0 && playhead <= 100 ? (
              <div className="playhead" style={{ left: `${playhead}%` }} aria-hidden="true" />
            ) : null}
          </div>
        </div>
      )}
      <Text id="timeline-help" size="xs" c="dimmed" mt={4}>
        {t("media.timeline.help")}
      </Text>
      <VisuallyHidden aria-live="polite">{announce}</VisuallyHidden>
    </section>
  );
}

export function laneTitle(lane: Lane, t: TFunction): string {
  if (lane.titleKey) return t(`media.lanes.${lane.titleKey}` as const);
  return lane.kind === "speakers" ? t("media.lanes.speakerNamed", { name: lane.title }) : lane.title;
}
