// One media as a grid card or a list row: thumbnail (waveform for audio), name, badges, counts.
// The name links to the media view (so does a click anywhere on the card); the checkbox selects
// (shift-click: a range); Space on the focused card toggles its selection too.
import { Badge, Checkbox, Group, Skeleton, Text } from "@mantine/core";
import { type KeyboardEvent, type MouseEvent, memo } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import type { MediaCard } from "./useMediaPages";

export const JOB_COLORS: Record<string, string> = {
  queued: "gray",
  running: "blue",
  succeeded: "green",
  partial: "yellow",
  failed: "red",
  cancelled: "gray",
};

export function duration(seconds: number | null | undefined): string {
  if (seconds == null) return "";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

interface TileProps {
  media: MediaCard | undefined;
  index: number;
  view: "grid" | "list";
  selected: boolean;
  canSelect: boolean;
  onToggle: (index: number, range: boolean) => void;
}

export const MediaTile = memo(function MediaTile({ media, index, view, selected, canSelect, onToggle }: TileProps) {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  if (!media) return <Skeleton className={`lib-tile lib-${view}`} aria-hidden height={view === "grid" ? 228 : 56} />;
  const open = (event: MouseEvent<HTMLDivElement>) => {
    const target = event.target as HTMLElement;
    if (target.closest("a, input, button, label")) return;
    navigate(`/media/${media.id}`);
  };
  const keys = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key === " " && canSelect && (event.target as HTMLElement).tagName === "A") {
      event.preventDefault();
      onToggle(index, event.shiftKey);
    }
  };
  const picture = media.kind === "audio" ? (media.waveform_url ?? media.thumbnail_url) : media.thumbnail_url;
  const created = new Date(media.created_at).toLocaleDateString(i18n.language);
  const counts = media.counts;
  return (
    <div
      className={`lib-tile lib-${view}${selected ? " lib-selected" : ""}`}
      onClick={open}
      onKeyDown={keys}
      data-testid="media-tile"
      data-media-id={media.id}
    >
      <div className="lib-thumb">
        {picture ? (
          <img src={picture} alt="" loading="lazy" decoding="async" draggable={false} />
        ) : (
          <span className="lib-thumb-empty">{t(`library.kind.${media.kind}`, { defaultValue: media.kind })}</span>
        )}
        {media.duration_s != null ? <span className="lib-duration">{duration(media.duration_s)}</span> : null}
      </div>
      <div className="lib-body">
        <Group gap={6} wrap="nowrap" align="center">
          {canSelect ? (
            <Checkbox
              size="xs"
              checked={selected}
              aria-label={t("library.select", { name: media.original_name })}
              onChange={() => undefined}
              onClick={(event) => {
                event.stopPropagation();
                onToggle(index, event.shiftKey);
              }}
            />
          ) : null}
          <Text component={Link} to={`/media/${media.id}`} size="sm" fw={500} truncate="end" className="lib-name">
            {media.original_name}
          </Text>
        </Group>
        <Group gap={4} mt={4} wrap={view === "grid" ? "wrap" : "nowrap"}>
          <Badge size="xs" variant="light" color="gray">
            {t(`library.kind.${media.kind}`, { defaultValue: media.kind })}
          </Badge>
          {media.job ? (
            <Badge size="xs" variant="light" color={JOB_COLORS[media.job.state] ?? "gray"}>
              {t(`library.state.${media.job.state}`, { defaultValue: media.job.state })}
            </Badge>
          ) : null}
          {media.flagged ? (
            <Badge size="xs" color="red" variant="filled">
              {t("library.flagged")}
            </Badge>
          ) : null}
          <Text size="xs" c="dimmed" component="span">
            {created}
          </Text>
        </Group>
        <Text size="xs" c="dimmed" mt={2} truncate="end">
          {[
            counts.faces ? t("library.counts.faces", { count: counts.faces }) : null,
            counts.persons ? t("library.counts.persons", { count: counts.persons }) : null,
            counts.speakers ? t("library.counts.speakers", { count: counts.speakers }) : null,
            counts.words ? t("library.counts.words", { count: counts.words }) : null,
          ]
            .filter(Boolean)
            .join(" · ") || "\u00a0"}
        </Text>
      </div>
    </div>
  );
});
