// The transcript following playback: the current segment and word are highlighted and scrolled
// into view inside the panel; every word is a button that plays from its start. Speakers show
// as their person's name (the API resolves S1/S2 to persons).
import { ScrollArea, Text } from "@mantine/core";
import { Fragment, memo, useEffect, useMemo, useRef } from "react";
import { useTranslation } from "react-i18next";
import { clock, indexAt, type TranscriptItem } from "./model";

export interface TranscriptPanelProps {
  segments: TranscriptItem[];
  time: number;
  onSeek: (t: number) => void;
}

export function TranscriptPanel({ segments, time, onSeek }: TranscriptPanelProps) {
  const { t } = useTranslation();
  const viewport = useRef<HTMLDivElement>(null);
  const sorted = useMemo(() => [...segments].sort((a, b) => a.start - b.start), [segments]);
  const current = indexAt(sorted, time);
  const words = sorted[current]?.words ?? [];
  const word = current >= 0 ? indexAt(words, time) : -1;

  useEffect(() => {
    const root = viewport.current;
    const el = root?.querySelector<HTMLElement>(`[data-segment="${current}"]`);
    if (!root || !el) return;
    const top = el.offsetTop - root.offsetTop;
    if (top < root.scrollTop || top + el.offsetHeight > root.scrollTop + root.clientHeight) {
      root.scrollTo({ top: Math.max(0, top - root.clientHeight / 3), behavior: "smooth" });
    }
  }, [current]);

  if (sorted.length === 0) return <Text c="dimmed">{t("media.transcript.empty")}</Text>;
  return (
    <ScrollArea.Autosize mah={360} viewportRef={viewport} type="auto">
      <ol className="transcript" aria-label={t("media.transcript.title")}>
        {sorted.map((seg, i) => (
          <Segment key={`${seg.start}-${i}`} seg={seg} index={i} current={i === current} word={i === current ? word : -1} onSeek={onSeek} />
        ))}
      </ol>
    </ScrollArea.Autosize>
  );
}

const Segment = memo(function Segment({
  seg,
  index,
  current,
  word,
  onSeek,
}: {
  seg: TranscriptItem;
  index: number;
  current: boolean;
  word: number;
  onSeek: (t: number) => void;
}) {
  const { t } = useTranslation();
  const who = seg.person_name ?? seg.speaker ?? t("media.transcript.unknownSpeaker");
  return (
    <li data-segment={index} className={current ? "segment current" : "segment"} aria-current={current ? "true" : undefined}>
      <button type="button" className="segment-time" onClick={() => onSeek(seg.start)} aria-label={t("media.transcript.playFrom", { time: clock(seg.start) })}>
        {clock(seg.start)}
      </button>{" "}
      <strong className="segment-speaker">{who}</strong>{" "}
      {seg.words.length > 0
        ? seg.words.map((w, j) => (
            <Fragment key={`${w.start}-${j}`}>
              <button
                type="button"
                className={j === word ? "word current" : "word"}
                data-start={w.start}
                onClick={() => onSeek(w.start)}
              >
                {w.word.trim()}
              </button>{" "}
            </Fragment>
          ))
        : seg.text}
    </li>
  );
});
